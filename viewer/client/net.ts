/**
 * The page's side of the socket: connect, say hello, reconnect with backoff, and an outbox
 * that keeps every answer and undo until the server acknowledges it.
 *
 * The outbox lives in localStorage, so answers survive a dropped connection, a server
 * restart, a reload and a closed tab; it is re-sent in order after every (re)connect and
 * entries leave it only on `ack` / `undone` or a permanent error about them. The server
 * stores labels idempotently by id, so a re-send of an answer that was stored but whose
 * acknowledgement got lost is harmless.
 *
 * Each entry is tagged (on this device only; the tag is not sent) with the store of the server
 * the page was talking to when it was made (the welcome's `storeId`), and goes only to a server of
 * that store: an answer or undo kept after a session ended is never applied by another session's
 * server that later runs on the same address (a new run's store would answer an undo of an
 * unknown label as done, and refuse an answer to an unknown pair). Such entries stay kept for
 * their own server. Untagged entries (older pages) and servers that do not name their store go
 * everywhere, as before.
 */
import { personTeacherId } from '../../core/person.js';
import {
  answerLabel,
  type AnswerMsg,
  type ClientMessage,
  FULL_CLOSE_CODE,
  leftSideFor,
  parseFullPages,
  parseFullRetry,
  PERMANENT_ERRORS,
  parseServerMessage,
  PROTOCOL_VERSION,
  type ServerMessage,
  SHUTDOWN_CODE,
  type UndoMsg,
} from '../protocol.js';

export type OutboxEntry = AnswerMsg | UndoMsg;
/**
 * An outbox entry as kept on the device: with the store it belongs to, when it was made and the
 * session's env (none of them sent; the last two are absent from entries kept by older pages).
 */
export type KeptEntry = OutboxEntry & { readonly forStore?: string; readonly keptAt?: string; readonly envId?: string };

/** Answers kept for one earlier session's server, as a JSONL file `prefrl labels import` reads. */
export interface SavedAnswers {
  readonly forStore: string;
  /** The env of that session, when the page knew it. */
  readonly envId: string | null;
  /** When the first of them was made (ISO 8601), when known. */
  readonly firstAt: string | null;
  /** One label per line (answers taken back by a kept undo are left out). */
  readonly jsonl: string;
  readonly answers: number;
  /** Undos of answers that server had already stored: a label file cannot say "remove", so they are not in it. */
  readonly undosLeftOut: number;
}
/**
 * 'ended': the server said it was stopping (the session is over); the page still reconnects should it come back.
 * 'full': the server had every page slot taken (FULL_CLOSE_CODE); the page tries again when it said.
 * 'silent': the connection is open, but the server has said nothing for STALL_MS since the page sent
 * it something (a slow or lost network, say a phone gone out of reach of its Wi-Fi, which closes
 * nothing); back to 'open' at its next message, or a new connection after STALL_DROP_MS.
 */
export type ConnectionState = 'connecting' | 'open' | 'closed' | 'ended' | 'unauthorized' | 'full' | 'silent';

const OUTBOX_KEY = 'prefrl.outbox.v1';
/**
 * The shared record of how the server settled recent outbox entries (SettledLog): one storage key
 * per entry, this prefix and the entry's settledKey, holding [stored, ms when recorded].
 */
export const SETTLED_PREFIX = 'prefrl.settled.v2:';
/** The record as pages before SETTLED_PREFIX kept it: one key, a JSON array of [settledKey, stored]; read, and moved to SETTLED_PREFIX keys on the next write. */
export const LEGACY_SETTLED_KEY = 'prefrl.settled.v1';
/** How many settled entries the record keeps (the newest). */
const SETTLED_KEEP = 500;
/** Claims to say a refusal (SayOnce): this prefix, what is said, "|" and the claiming tab's id; with Web Locks, the lock's name is this prefix and what is said. */
export const SAID_PREFIX = 'prefrl.said.v1:';
/** How long a tab waits after its claim for the other tabs' claims to reach it, ms. */
export const SAY_WAIT_MS = 400;
/** Claims older than this are taken out (by the next claim of any tab), ms; a lock won (Web Locks) is held this long. */
const SAY_KEEP_MS = 60_000;
/** Unacknowledged entries are re-sent after this long even without a reconnect, ms. */
const RESEND_MS = 8000;
/** How often a page whose server stopped looks for it again. */
const ENDED_RETRY_MS = 4000;
/** A server silent this long after the page sent it something is said to be (state 'silent'), ms. */
export const STALL_MS = 8000;
/** ... and after this long the page gives up on that connection and opens a new one, ms. */
export const STALL_DROP_MS = 30_000;
/** How often the page looks at how long the server has been silent, ms. */
const STALL_CHECK_MS = 1000;

function storage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

/** An outbox entry's key: its kind and label id. */
const entryKey = (e: { type: OutboxEntry['type']; labelId: string }): string => `${e.type}:${e.labelId}`;

/** An outbox entry's key in the SettledLog: an answer's label id, an undo's "undo:<label id>". */
const settledKey = (type: OutboxEntry['type'], labelId: string): string => (type === 'answer' ? labelId : `undo:${labelId}`);

/**
 * The persistent queue of unacknowledged answers and undos, shared by the tabs of a browser.
 * Every change re-reads localStorage first. That alone does not keep two tabs from overwriting
 * each other's entries: a tab's copy of localStorage learns another tab's write a moment later
 * (another process, in Chromium), so two tabs writing within that moment (one adding an answer,
 * the other taking out an entry the server acknowledged) each wrote a list without the other's
 * change, and an answer made offline could vanish from the device. So each tab also remembers the
 * entries it added itself until it sees them settled (acknowledged or refused, by the server
 * through any tab: `isSettled`, the SettledLog) or takes them out itself, and puts back any of them
 * it finds missing. A tab closed meanwhile cannot put its entry back: the window is that moment.
 */
export class Outbox {
  private memory: KeptEntry[] = [];
  /** Entries this tab added and has not seen settled, by entryKey. */
  private readonly mine = new Map<string, KeptEntry>();

  constructor(
    private readonly key = OUTBOX_KEY,
    private readonly isSettled: (e: KeptEntry) => boolean = () => false,
  ) {
    this.memory = this.read();
  }

  private read(): KeptEntry[] {
    const entries = this.readStored();
    if (this.mine.size === 0) return entries;
    // Put back this tab's entries that another tab's write left out before they were settled.
    const have = new Set(entries.map(entryKey));
    let missing = false;
    for (const [k, e] of this.mine) {
      if (have.has(k)) continue;
      if (this.isSettled(e)) this.mine.delete(k);
      else {
        entries.push(e);
        missing = true;
      }
    }
    if (missing) this.write(entries);
    return entries;
  }

  private readStored(): KeptEntry[] {
    const st = storage();
    if (!st) return [...this.memory];
    const raw = st.getItem(this.key);
    if (!raw) return [];
    try {
      const parsed = JSON.parse(raw) as unknown;
      return Array.isArray(parsed) ? parsed.filter((e): e is KeptEntry => typeof e === 'object' && e !== null && (e.type === 'answer' || e.type === 'undo')) : [];
    } catch {
      return [];
    }
  }

  private write(entries: KeptEntry[]): void {
    this.memory = entries;
    try {
      storage()?.setItem(this.key, JSON.stringify(entries));
    } catch {
      // Storage full or disabled: the in-memory queue still re-sends after reconnects.
    }
  }

  add(e: KeptEntry): void {
    const entries = this.read();
    if (!entries.some((x) => x.type === e.type && x.labelId === e.labelId)) entries.push(e);
    this.mine.set(entryKey(e), e);
    this.write(entries);
  }

  /** Remove the entry of this kind for a label (answer or undo). */
  remove(type: OutboxEntry['type'], labelId: string): boolean {
    this.mine.delete(entryKey({ type, labelId }));
    const entries = this.read();
    const kept = entries.filter((e) => !(e.type === type && e.labelId === labelId));
    if (kept.length !== entries.length) this.write(kept);
    else this.memory = entries;
    return kept.length !== entries.length;
  }

  /** Remove every entry `drop` picks; how many went. */
  removeWhere(drop: (e: KeptEntry) => boolean): number {
    for (const [k, e] of this.mine) if (drop(e)) this.mine.delete(k);
    const entries = this.read();
    const kept = entries.filter((e) => !drop(e));
    if (kept.length !== entries.length) this.write(kept);
    else this.memory = entries;
    return entries.length - kept.length;
  }

  list(): readonly KeptEntry[] {
    this.memory = this.read();
    return this.memory;
  }

  get size(): number {
    return this.list().length;
  }
}

/**
 * How the server settled recent answers of this browser, shared by its tabs in localStorage: a
 * tab sends every entry of the shared outbox, so an answer made in one tab may be acknowledged
 * (or refused) through another, and the tab that made it learns only from here (its "This
 * session" count, its undo history). Label id -> true (stored) or false (refused for good).
 *
 * Each entry is a storage key of its own (SETTLED_PREFIX), written with one setItem and never
 * read back first. The record used to be one key that each tab read, changed and wrote back; a
 * tab's copy of localStorage learns another tab's write a moment later (net.ts's Outbox), so two
 * tabs recording replies within that moment each wrote a list without the other's entry: an
 * entry lost meant an answer re-sent, or stored and never counted in the tab that made it (two
 * pages in one browser lost 31 of 300 entries written at once: e2e_settled_tabs.test.ts).
 */
export class SettledLog {
  /** When this tab last recorded an entry (ms). */
  private last = 0;

  constructor(
    private readonly prefix = SETTLED_PREFIX,
    private readonly legacyKey = LEGACY_SETTLED_KEY,
  ) {}

  /** Every recorded entry, oldest first (the legacy record's before any other). */
  read(): Map<string, boolean> {
    const st = storage();
    if (!st) return new Map();
    const out = new Map(this.legacy(st));
    for (const [key, stored] of this.entries(st)) {
      out.delete(key);
      out.set(key, stored);
    }
    return out;
  }

  /** Whether the server settled this outbox entry (through any tab). */
  settles(e: { type: OutboxEntry['type']; labelId: string }): boolean {
    const st = storage();
    if (!st) return false;
    const key = settledKey(e.type, e.labelId);
    return this.value(st.getItem(this.prefix + key)) !== null || this.legacy(st).some(([k]) => k === key);
  }

  /** Record how the server settled an outbox entry (its settledKey): stored, or refused for good. */
  add(key: string, stored: boolean): void {
    const st = storage();
    if (!st) return;
    try {
      if (st.getItem(this.legacyKey) !== null) this.moveLegacy(st);
      if (this.value(st.getItem(this.prefix + key))?.[0] === stored) return;
      // Later than this tab's last entry (several in one ms keep their order when the oldest are pruned).
      this.last = Math.max(Date.now(), this.last + 0.001);
      st.setItem(this.prefix + key, JSON.stringify([stored, this.last]));
      // The newest SETTLED_KEEP stay. Two tabs pruning at once remove the same oldest keys.
      const all = this.entries(st);
      for (const [k] of all.slice(0, Math.max(0, all.length - SETTLED_KEEP))) st.removeItem(this.prefix + k);
    } catch {
      // storage full or disabled: the tab that made the answer hears of it when it is online
    }
  }

  /** A stored value [stored, at], or null when it is not one. */
  private value(raw: string | null): [boolean, number] | null {
    if (raw === null) return null;
    try {
      const v = JSON.parse(raw) as unknown;
      return Array.isArray(v) && typeof v[0] === 'boolean' && typeof v[1] === 'number' ? [v[0], v[1]] : null;
    } catch {
      return null;
    }
  }

  /** The SETTLED_PREFIX entries, oldest first (ties by key). */
  private entries(st: Storage): [string, boolean][] {
    const found: [string, boolean, number][] = [];
    for (let i = 0; i < st.length; i++) {
      const k = st.key(i);
      if (k === null || !k.startsWith(this.prefix)) continue;
      const v = this.value(st.getItem(k));
      if (v) found.push([k.slice(this.prefix.length), v[0], v[1]]);
    }
    found.sort((x, y) => x[2] - y[2] || (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
    return found.map(([k, v]) => [k, v]);
  }

  private legacy(st: Storage): [string, boolean][] {
    const raw = st.getItem(this.legacyKey);
    if (!raw) return [];
    try {
      const parsed = JSON.parse(raw) as unknown;
      return Array.isArray(parsed) ? parsed.filter((e): e is [string, boolean] => Array.isArray(e) && typeof e[0] === 'string' && typeof e[1] === 'boolean') : [];
    } catch {
      return [];
    }
  }

  /** The legacy record's entries as keys of their own (older than any recorded since), then the legacy key goes. */
  private moveLegacy(st: Storage): void {
    this.legacy(st).forEach(([k, stored], i) => {
      if (this.value(st.getItem(this.prefix + k)) === null) st.setItem(this.prefix + k, JSON.stringify([stored, i]));
    });
    st.removeItem(this.legacyKey);
  }
}

/** The browser's Web Locks (Chromium; secure contexts only: https, localhost, 127.0.0.1), or null. */
function browserLocks(): LockManager | null {
  try {
    return window.navigator?.locks ?? null;
  } catch {
    return null;
  }
}

/**
 * Which tab of a browser says a refusal that several of them heard (each tab sends the whole shared
 * outbox, so the server refuses an entry on each socket that carried it). A tab that took the
 * entry out of the outbox itself (`fresh`) claimed it said once, by reading the outbox; but two
 * tabs hearing within the moment another tab's write takes to reach them both still found it
 * there and both said it (e2e_settled_tabs.test.ts).
 *
 * Where the browser has Web Locks, the tab that is granted the lock SAID_PREFIX + what says it:
 * asked with ifAvailable, the browser grants it to one tab at most, at once, whatever the tabs'
 * timing. The winner holds it SAY_KEEP_MS, so the same refusal heard again meanwhile (another
 * re-send, any tab) finds it taken and is not said again. The tab that made the entry asks at once,
 * the others after SAY_WAIT_MS: it is the one to say it whenever it heard the refusal within that
 * of the others (a tab heavily loaded, or closed, leaves it to another: still said once).
 *
 * Without Web Locks (a page over plain http from another machine) or where the browser refuses
 * them: claims in localStorage. Each such tab writes a claim (a storage key of its own, never one
 * another tab writes), waits SAY_WAIT_MS for the others' claims to reach it, and says it only when
 * its claim comes first: the tab that made the entry before any other, then by tab id. A claim
 * already there from an earlier round (SAY_KEEP_MS) means it was said. A claim that reaches
 * another tab only after its wait (a loaded machine) leaves both saying it.
 */
export class SayOnce {
  constructor(
    /** This tab's id (random per page load). */
    readonly tab: string,
    private readonly waitMs = SAY_WAIT_MS,
    private readonly prefix = SAID_PREFIX,
    /** The browser's lock manager (null: storage claims only). */
    private readonly locks: LockManager | null = browserLocks(),
  ) {}

  /** Whether this tab is the one to say `what` (e.g. a label id and the refusal's code); `made`: this tab made the entry. */
  async claim(what: string, made: boolean): Promise<boolean> {
    if (this.locks) {
      try {
        return await this.lockClaim(this.locks, what, made);
      } catch {
        // The browser refused the lock (e.g. a SecurityError where storage is partitioned): storage claims.
      }
    }
    return this.storageClaim(what, made);
  }

  /** The Web Locks decision: true when this tab was granted the lock (it then holds it SAY_KEEP_MS). */
  private async lockClaim(locks: LockManager, what: string, made: boolean): Promise<boolean> {
    if (!made) await new Promise<void>((res) => window.setTimeout(res, this.waitMs));
    return new Promise<boolean>((decide, fail) => {
      locks
        .request(`${this.prefix}${what}`, { ifAvailable: true }, (lock) => {
          decide(lock !== null);
          // Held while this promise is pending: released after SAY_KEEP_MS, or when the tab closes.
          return lock === null ? undefined : new Promise<void>((release) => window.setTimeout(release, SAY_KEEP_MS));
        })
        .catch(fail);
    });
  }

  /** The localStorage decision (see the class). */
  private async storageClaim(what: string, made: boolean): Promise<boolean> {
    const st = storage();
    if (!st) return true;
    const mine = `${this.prefix}${what}|${this.tab}`;
    try {
      const now = Date.now();
      for (const [k, at] of this.claims(st)) if (now - at[1] > SAY_KEEP_MS) st.removeItem(k);
      st.setItem(mine, JSON.stringify([made ? 0 : 1, now]));
    } catch {
      return true; // storage full or disabled: say it
    }
    await new Promise<void>((res) => window.setTimeout(res, this.waitMs));
    const rivals = this.claims(st)
      .filter(([k]) => k.slice(this.prefix.length, k.lastIndexOf('|')) === what)
      .map(([k, [rank, at]]) => ({ k, rank, at }));
    if (rivals.length === 0) return true;
    // An earlier round's claim (made before this one, by more than the wait) was said then.
    const ours = rivals.find((r) => r.k === mine);
    if (ours && rivals.some((r) => r.k !== mine && r.at < ours.at - this.waitMs)) return false;
    rivals.sort((x, y) => x.rank - y.rank || (x.k < y.k ? -1 : x.k > y.k ? 1 : 0));
    return rivals[0].k === mine;
  }

  /** Every claim: [storage key, [rank, ms]]. */
  private claims(st: Storage): [string, [number, number]][] {
    const out: [string, [number, number]][] = [];
    for (let i = 0; i < st.length; i++) {
      const k = st.key(i);
      if (k === null || !k.startsWith(this.prefix)) continue;
      try {
        const v = JSON.parse(st.getItem(k) ?? '') as unknown;
        if (Array.isArray(v) && typeof v[0] === 'number' && typeof v[1] === 'number') out.push([k, [v[0], v[1]]]);
      } catch {
        // not a claim: left alone
      }
    }
    return out;
  }
}

export interface ConnectionHandlers {
  /**
   * A server message. `fresh` is false for a refusal of an outbox entry that had already left the
   * outbox (another tab of this browser, which re-sent it too, had the same refusal and said so):
   * the page need not say it again.
   */
  onMessage(msg: ServerMessage, fresh: boolean): void;
  onState(state: ConnectionState, detail: string): void;
  /** The outbox changed size (for the "waiting to be saved" indicator). */
  onOutbox(size: number): void;
}

export class Connection {
  readonly settled = new SettledLog();
  readonly outbox = new Outbox(OUTBOX_KEY, (e) => this.settled.settles(e));
  readonly sayOnce = new SayOnce(newLabelId().slice(2, 14));
  /** Label ids of the answers and undos this page (this load of it) put in the outbox. */
  private readonly made = new Set<string>();
  private ws: WebSocket | null = null;
  private welcomed = false;
  /** The server said it was stopping (close code SHUTDOWN_CODE); cleared by the next welcome. */
  private ended = false;
  private attempt = 0;
  private retryTimer: number | null = null;
  private resendTimer: number | null = null;
  private seq = 1;
  private stopped = false;
  /** The store of the server that last welcomed this page (null: none yet, or a server that does not say). */
  private storeId: string | null = null;
  /**
   * The person whose own link the last welcome signed this page in as (`serve --people`), or null.
   * Such a page sends only that person's kept entries: another person's link may be open in another
   * tab of this browser (the outbox is shared), and the server refuses their answers here.
   */
  private person: string | null = null;
  /** The env of the server that last welcomed this page. */
  private envId: string | null = null;
  /** When each outbox entry was last sent (by labelId + type). */
  private readonly sentAt = new Map<string, number>();
  /** Since when the page has waited for a word from the server (sent something, heard nothing since), or null. */
  private awaitingSince: number | null = null;
  private stallTimer: number | null = null;
  /** The state said last was 'silent'. */
  private silent = false;

  constructor(
    private readonly url: string,
    private readonly handlers: ConnectionHandlers,
    private token: string | null,
    private name: () => string | null,
  ) {}

  setToken(token: string | null): void {
    this.token = token;
  }

  get isOpen(): boolean {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN && this.welcomed;
  }

  connect(): void {
    this.stopped = false;
    if (this.retryTimer !== null) window.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.handlers.onState('connecting', this.attempt > 0 ? `reconnecting (attempt ${this.attempt + 1})` : 'connecting');
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.url);
    } catch (e) {
      this.scheduleReconnect(String(e));
      return;
    }
    this.ws = ws;
    this.welcomed = false;
    ws.onopen = () => {
      const name = this.name();
      this.rawSend({ type: 'hello', v: PROTOCOL_VERSION, ...(this.token ? { token: this.token } : {}), ...(name ? { name } : {}) });
    };
    ws.onmessage = (ev: MessageEvent) => {
      if (this.ws !== ws) return;
      this.heard();
      if (typeof ev.data !== 'string') return;
      const parsed = parseServerMessage(ev.data);
      if (!parsed.ok) {
        console.warn(`prefrl: ignoring a bad server message (${parsed.code}: ${parsed.message})`);
        return;
      }
      this.onServer(parsed.msg);
    };
    ws.onclose = (ev: CloseEvent) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.welcomed = false;
      this.awaitingSince = null;
      this.silent = false;
      if (ev.code === 4401) {
        this.handlers.onState('unauthorized', 'this server needs an access token');
        return;
      }
      if (this.stopped) return;
      if (ev.code === FULL_CLOSE_CODE) {
        // Every page slot of the server is taken (pages of phones gone without a word hold theirs
        // until it finds them gone): try again when it said, by itself.
        const s = parseFullRetry(ev.reason);
        const pages = parseFullPages(ev.reason);
        this.handlers.onState('full', `the labelling server has ${pages === null ? 'as many pages open as it takes' : `${pages} pages open, the most it takes`}; trying again in ${s} s`);
        this.retryTimer = window.setTimeout(() => this.connect(), s * 1000);
        return;
      }
      if (ev.code === SHUTDOWN_CODE) this.ended = true;
      if (this.ended) {
        // The server said it was stopping: the session is over. One that restarts comes back, so
        // keep trying, slowly, and keep saying the session ended until it does.
        this.handlers.onState('ended', 'the labelling server stopped');
        this.retryTimer = window.setTimeout(() => this.connect(), ENDED_RETRY_MS);
        return;
      }
      // 1006: closed with no word from the server (it went, or the network did), as a person would put it.
      this.scheduleReconnect(ev.reason || (ev.code === 1006 ? 'the connection to the server was lost' : `connection closed (${ev.code})`));
    };
    ws.onerror = () => {
      // onclose follows and schedules the reconnect.
    };
  }

  /** Close for good (tests, page unload). */
  stop(): void {
    this.stopped = true;
    if (this.retryTimer !== null) window.clearTimeout(this.retryTimer);
    if (this.resendTimer !== null) window.clearInterval(this.resendTimer);
    if (this.stallTimer !== null) window.clearInterval(this.stallTimer);
    this.ws?.close(1000, 'bye');
    this.ws = null;
  }

  /** Drop the socket without a clean close (tests: simulate a network drop). */
  drop(): void {
    this.ws?.close(4000, 'dropped');
  }

  private scheduleReconnect(detail: string): void {
    const delay = Math.min(8000, 400 * 2 ** this.attempt);
    this.attempt++;
    this.handlers.onState('closed', `${detail}; retrying in ${(delay / 1000).toFixed(1)} s`);
    this.retryTimer = window.setTimeout(() => this.connect(), delay);
  }

  private rawSend(msg: ClientMessage): boolean {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(msg));
    // Every message but the hello is answered (a pair, an ack, an error...): wait for a word back.
    if (msg.type !== 'hello' && this.awaitingSince === null) this.awaitingSince = performance.now();
    return true;
  }

  /** The server said something: it is there. */
  private heard(): void {
    this.awaitingSince = null;
    if (this.silent) {
      this.silent = false;
      if (this.welcomed) this.handlers.onState('open', 'connected');
    }
  }

  /**
   * A server silent for STALL_MS since the page sent it something is said to be ('silent'); one
   * silent for STALL_DROP_MS is given up on: a new connection is opened, which re-sends what the
   * outbox keeps (the server stores each answer once, by its id).
   */
  private checkStall(): void {
    const ws = this.ws;
    if (ws === null || !this.welcomed || this.awaitingSince === null) return;
    const quiet = performance.now() - this.awaitingSince;
    if (quiet >= STALL_DROP_MS) {
      this.ws = null;
      this.welcomed = false;
      this.awaitingSince = null;
      this.silent = false;
      ws.onmessage = null;
      ws.onclose = null;
      try {
        ws.close(4000, 'no reply');
      } catch {
        // already closing
      }
      this.scheduleReconnect(`no reply from the server for ${Math.round(quiet / 1000)} s`);
    } else if (quiet >= STALL_MS && !this.silent) {
      this.silent = true;
      this.handlers.onState('silent', `no reply from the server for ${Math.round(quiet / 1000)} s`);
    }
  }

  /** Send a request (not kept when offline). Returns its seq, or null when not connected. */
  request(msg: Exclude<ClientMessage, OutboxEntry | { type: 'hello' }>): number | null {
    if (!this.isOpen) return null;
    const seq = this.seq++;
    return this.rawSend({ ...msg, seq } as ClientMessage) ? seq : null;
  }

  /** The store of the server that last welcomed this page (kept after it stops), or null. */
  get store(): string | null {
    return this.storeId;
  }

  /**
   * Queue an answer or undo durably and send it when possible. It belongs to `forStore` (default:
   * the store of the server that last welcomed the page, also after that server stopped).
   */
  enqueue(entry: OutboxEntry, forStore: string | null = this.storeId): void {
    const kept: KeptEntry = { ...entry, ...(forStore === null ? {} : { forStore }), keptAt: new Date().toISOString(), ...(this.envId === null ? {} : { envId: this.envId }) };
    this.outbox.add(kept);
    this.made.add(entry.labelId);
    this.handlers.onOutbox(this.outbox.size);
    if (this.isOpen && this.belongsHere(kept) && this.isMine(kept)) this.sendEntry(kept);
  }

  /**
   * Whether this tab is the one to say a refusal of an outbox entry it took out itself (`fresh`),
   * which another tab of this browser may have heard at the same moment (SayOnce).
   */
  claimRefusal(msg: Extract<ServerMessage, { type: 'error' }> & { labelId: string }): Promise<boolean> {
    return this.sayOnce.claim(`${msg.labelId}:${msg.code}`, this.made.has(msg.labelId));
  }

  /** Whether an entry may go to the server the page talks to now (its own store's, or either side does not say). */
  belongsHere(e: KeptEntry): boolean {
    return e.forStore === undefined || this.storeId === null || e.forStore === this.storeId;
  }

  /** Whether an entry is this page's person's (always, unless the page came in through a person's own link). */
  isMine(e: KeptEntry): boolean {
    return this.person === null || e.name === this.person;
  }

  /**
   * The kept entries of this server's session, and those kept for another session's server. A page of
   * a person's own link leaves out the entries of other people (their own tabs send them).
   */
  split(): { here: KeptEntry[]; elsewhere: KeptEntry[] } {
    const here: KeptEntry[] = [];
    const elsewhere: KeptEntry[] = [];
    for (const e of this.outbox.list()) {
      if (!this.isMine(e)) continue;
      (this.belongsHere(e) ? here : elsewhere).push(e);
    }
    return { here, elsewhere };
  }

  /**
   * The answers kept for earlier sessions' servers, one file's worth per store, as labels
   * `prefrl labels import --store <that session's store>` adds (the form the server would have
   * stored them in). Nothing leaves the outbox.
   */
  savedElsewhere(): SavedAnswers[] {
    const byStore = new Map<string, KeptEntry[]>();
    for (const e of this.split().elsewhere) {
      if (e.forStore === undefined) continue;
      const list = byStore.get(e.forStore) ?? [];
      list.push(e);
      byStore.set(e.forStore, list);
    }
    const out: SavedAnswers[] = [];
    for (const [forStore, entries] of byStore) {
      const undone = new Set(entries.filter((e) => e.type === 'undo').map((e) => e.labelId));
      const answers = entries.filter((e): e is AnswerMsg & KeptEntry => e.type === 'answer');
      const answered = new Set(answers.map((e) => e.labelId));
      const lines: string[] = [];
      for (const a of answers) {
        if (undone.has(a.labelId)) continue;
        const leftIs = a.leftIs ?? leftSideFor(a.pairId, personTeacherId(a.name));
        lines.push(JSON.stringify(answerLabel(a, leftIs, a.keptAt)));
      }
      const times = entries.map((e) => e.keptAt).filter((t): t is string => t !== undefined).sort();
      out.push({
        forStore,
        envId: entries.find((e) => e.envId !== undefined)?.envId ?? null,
        firstAt: times[0] ?? null,
        jsonl: lines.map((l) => `${l}\n`).join(''),
        answers: lines.length,
        undosLeftOut: [...undone].filter((id) => !answered.has(id)).length,
      });
    }
    return out;
  }

  /** Forget everything kept for earlier sessions' servers; how many entries went. */
  discardElsewhere(): number {
    // Settled as far as the other tabs go: one that made them must not put them back.
    for (const e of this.split().elsewhere) this.settled.add(settledKey(e.type, e.labelId), false);
    const n = this.outbox.removeWhere((e) => !this.belongsHere(e) && this.isMine(e));
    if (n > 0) this.handlers.onOutbox(this.outbox.size);
    return n;
  }

  private sendEntry(e: KeptEntry): void {
    // The tags stay on the device: the server's validator takes only the protocol's fields.
    const { forStore: _tag, keptAt: _at, envId: _env, ...wire } = e;
    if (this.rawSend(wire)) this.sentAt.set(`${e.type}:${e.labelId}`, performance.now());
  }

  private flush(): void {
    for (const e of this.outbox.list()) if (this.belongsHere(e) && this.isMine(e)) this.sendEntry(e);
  }

  private resendStale(): void {
    if (!this.isOpen) return;
    const now = performance.now();
    for (const e of this.outbox.list()) {
      if (!this.belongsHere(e) || !this.isMine(e)) continue;
      const t = this.sentAt.get(`${e.type}:${e.labelId}`);
      if (t === undefined || now - t > RESEND_MS) this.sendEntry(e);
    }
  }

  private onServer(msg: ServerMessage): void {
    let fresh = true;
    switch (msg.type) {
      case 'welcome':
        this.welcomed = true;
        this.ended = false;
        this.storeId = msg.storeId ?? null;
        this.person = msg.personal === true ? msg.name : null;
        this.envId = msg.envId;
        this.attempt = 0;
        this.handlers.onState('open', 'connected');
        this.flush();
        if (this.resendTimer === null) this.resendTimer = window.setInterval(() => this.resendStale(), RESEND_MS);
        if (this.stallTimer === null) this.stallTimer = window.setInterval(() => this.checkStall(), STALL_CHECK_MS);
        break;
      case 'ack':
        // Recorded first (another tab that made the entry must not put it back).
        this.settled.add(settledKey('answer', msg.labelId), true);
        if (this.outbox.remove('answer', msg.labelId)) this.handlers.onOutbox(this.outbox.size);
        break;
      case 'undone':
        this.settled.add(settledKey('undo', msg.labelId), true);
        if (this.outbox.remove('undo', msg.labelId)) this.handlers.onOutbox(this.outbox.size);
        break;
      case 'error':
        if (msg.labelId !== undefined && PERMANENT_ERRORS.includes(msg.code)) {
          // Recorded first (another tab that made the entry must not put it back).
          const kept = this.outbox.list().filter((e) => e.labelId === msg.labelId);
          for (const type of ['undo', 'answer'] as const) if (kept.some((e) => e.type === type)) this.settled.add(settledKey(type, msg.labelId), false);
          const a = this.outbox.remove('answer', msg.labelId);
          const u = this.outbox.remove('undo', msg.labelId);
          if (a || u) this.handlers.onOutbox(this.outbox.size);
          fresh = a || u;
        }
        break;
      default:
        break;
    }
    this.handlers.onMessage(msg, fresh);
  }
}

/** A label id: "h-" and 32 random hex digits (crypto.getRandomValues works on plain http too). */
export function newLabelId(): string {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return `h-${Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')}`;
}
