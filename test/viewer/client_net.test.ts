/**
 * The page's connection (viewer/client/net.ts) without a browser: two tabs of one browser are two
 * Connections over one localStorage (a stand-in), each with a scripted socket. Checked: a refusal
 * of a shared outbox entry both tabs re-sent is "fresh" (to be said) in the tab that had it first
 * only, and of tabs that heard at the same moment one says it (SayOnce); how the server settled each
 * answer is shared between the tabs (SettledLog), without losing entries two tabs record at once
 * (each tab's copy of the storage behind the other's: TabStorage); and a full
 * server's close (FULL_CLOSE_CODE) is reported as 'full' with a retry when the server said.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { FULL_CLOSE_CODE, fullCloseReason, type ServerMessage } from '../../viewer/protocol.js';
import { type ConnectionState, LEGACY_SETTLED_KEY, SETTLED_PREFIX } from '../../viewer/client/net.js';
import { MemoryStorage } from './memory_storage.js';

/**
 * One tab's copy of a localStorage shared by several tabs (Chromium: another process's copy): its
 * own writes show at once, the other tabs' only when `deliver` hands them over.
 */
class TabStorage extends MemoryStorage {
  private readonly others: TabStorage[] = [];
  private readonly queue: [string, string | null][] = [];
  static tabs(n: number): TabStorage[] {
    const ts = Array.from({ length: n }, () => new TabStorage());
    for (const t of ts) t.others.push(...ts.filter((o) => o !== t));
    return ts;
  }
  override setItem(k: string, v: string): void {
    super.setItem(k, v);
    for (const o of this.others) o.queue.push([k, v]);
  }
  override removeItem(k: string): void {
    super.removeItem(k);
    for (const o of this.others) o.queue.push([k, null]);
  }
  /** The other tabs' writes so far reach this copy. */
  deliver(): void {
    for (const [k, v] of this.queue.splice(0)) {
      if (v === null) this.items.delete(k);
      else this.items.set(k, v);
    }
  }
}

/** A scripted socket: records what the page sends; the test plays the server. */
class FakeSocket {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  static made: FakeSocket[] = [];
  readyState = FakeSocket.CONNECTING;
  readonly sent: Record<string, unknown>[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((ev: { data: string }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.made.push(this);
  }
  send(text: string): void {
    this.sent.push(JSON.parse(text) as Record<string, unknown>);
  }
  close(code = 1000, reason = ''): void {
    this.readyState = FakeSocket.CLOSED;
    this.onclose?.({ code, reason });
  }
  open(): void {
    this.readyState = FakeSocket.OPEN;
    this.onopen?.();
  }
  serve(msg: ServerMessage): void {
    this.onmessage?.({ data: JSON.stringify(msg) });
  }
}

const storage = new MemoryStorage();
/** Timers the connection set: run by hand. */
const timers: { fn: () => void; ms: number }[] = [];
const saved: Record<string, unknown> = {};

beforeAll(() => {
  for (const k of ['window', 'WebSocket']) saved[k] = (globalThis as Record<string, unknown>)[k];
  (globalThis as Record<string, unknown>).WebSocket = FakeSocket;
  (globalThis as Record<string, unknown>).window = {
    localStorage: storage,
    setTimeout: (fn: () => void, ms: number) => timers.push({ fn, ms }),
    clearTimeout: () => undefined,
    setInterval: () => 0,
    clearInterval: () => undefined,
  };
});

afterAll(() => {
  for (const [k, v] of Object.entries(saved)) (globalThis as Record<string, unknown>)[k] = v;
});

beforeEach(() => {
  storage.items.clear();
  timers.length = 0;
  FakeSocket.made = [];
});

const welcome: ServerMessage = { type: 'welcome', v: 1, envId: 'toy-reach', goal: 'g', terms: [], dt: 0.05, name: 'alice', overlap: 1, insight: false, heronPath: '/h.json', maxCommentChars: 2000, storeId: 'store0000000000a' };

async function tab() {
  const { Connection } = await import('../../viewer/client/net.js');
  const got: { msg: ServerMessage; fresh: boolean }[] = [];
  const states: [ConnectionState, string][] = [];
  const conn = new Connection('ws://x/ws', { onMessage: (msg, fresh) => got.push({ msg, fresh }), onState: (s, d) => states.push([s, d]), onOutbox: () => undefined }, null, () => 'alice');
  return { conn, got, states };
}

const answer = (labelId: string, choice: 'left' | 'right') => ({ type: 'answer' as const, labelId, pairId: 'p1', name: 'alice', choice, responseMs: 900, leftIs: 'a' as const });

describe('two tabs, one outbox', () => {
  it('both tabs re-send both answers; the conflict of the second is fresh in the tab that heard first only; both tabs learn how each answer was settled', async () => {
    const a = await tab();
    const b = await tab();
    // Offline, each tab answers the pair both show: the shared outbox holds both answers.
    a.conn.enqueue(answer('h-tab-a-0001', 'left'), 'store0000000000a');
    b.conn.enqueue(answer('h-tab-b-0001', 'right'), 'store0000000000a');
    expect(a.conn.outbox.size).toBe(2);
    // Back online, each tab sends every entry (both reconnect before either hears back).
    a.conn.connect();
    b.conn.connect();
    const [sa, sb] = FakeSocket.made;
    for (const s of [sa, sb]) {
      s.open();
      s.serve(welcome);
      expect(s.sent.filter((m) => m.type === 'answer').map((m) => m.labelId)).toEqual(['h-tab-a-0001', 'h-tab-b-0001']);
    }
    // The server stores tab A's answer (its socket first) and refuses tab B's on both sockets.
    const conflict = (labelId: string): ServerMessage => ({ type: 'error', code: 'conflict', message: 'You had already answered this pair', labelId });
    sa.serve({ type: 'ack', labelId: 'h-tab-a-0001', pairId: 'p1', duplicate: false });
    sa.serve(conflict('h-tab-b-0001'));
    sb.serve({ type: 'ack', labelId: 'h-tab-a-0001', pairId: 'p1', duplicate: true });
    sb.serve(conflict('h-tab-b-0001'));
    expect(a.got.filter((g) => g.msg.type === 'error')).toEqual([{ msg: conflict('h-tab-b-0001'), fresh: true }]);
    expect(b.got.filter((g) => g.msg.type === 'error')).toEqual([{ msg: conflict('h-tab-b-0001'), fresh: false }]);
    expect(a.conn.outbox.size).toBe(0);
    // Either tab reads how each answer ended, whichever socket carried the reply.
    expect([...b.conn.settled.read()]).toEqual([
      ['h-tab-a-0001', true],
      ['h-tab-b-0001', false],
    ]);
    // One storage key per entry: [stored, ms when recorded].
    expect(JSON.parse(storage.getItem(`${SETTLED_PREFIX}h-tab-a-0001`)!)[0]).toBe(true);
    expect(JSON.parse(storage.getItem(`${SETTLED_PREFIX}h-tab-b-0001`)!)[0]).toBe(false);
  });

  it('a refused undo does not mark its answer refused; the shared record keeps the newest 500 and survives bad contents', async () => {
    const a = await tab();
    a.conn.connect();
    const s = FakeSocket.made[0];
    s.open();
    s.serve(welcome);
    a.conn.enqueue({ type: 'undo', labelId: 'h-tab-a-0001', name: 'alice' });
    s.serve({ type: 'error', code: 'not_allowed', message: 'this answer was already passed to training and cannot be undone', labelId: 'h-tab-a-0001' });
    expect(a.got.at(-1)?.fresh).toBe(true);
    expect([...a.conn.settled.read()]).toEqual([['undo:h-tab-a-0001', false]]);
    expect(a.conn.settled.read().get('h-tab-a-0001')).toBeUndefined();
    for (let i = 0; i < 502; i++) a.conn.settled.add(`h-label-${i}`, i % 2 === 0);
    const kept = a.conn.settled.read();
    expect(kept.size).toBe(500);
    expect([...kept.keys()][0]).toBe('h-label-2');
    expect(kept.get('h-label-501')).toBe(false);
    expect([...storage.items.keys()].filter((k) => k.startsWith(SETTLED_PREFIX))).toHaveLength(500);
    storage.items.clear();
    storage.setItem(`${SETTLED_PREFIX}h-x`, '{not json');
    storage.setItem(`${SETTLED_PREFIX}h-y`, '["yes", 1]');
    storage.setItem(`${SETTLED_PREFIX}h-z`, '[false, 2]');
    expect([...a.conn.settled.read()]).toEqual([['h-z', false]]);
    expect(a.conn.settled.settles({ type: 'answer', labelId: 'h-x' })).toBe(false);
    expect(a.conn.settled.settles({ type: 'answer', labelId: 'h-z' })).toBe(true);
  });

  it("the record of pages before one key per entry (one JSON list) is read, and moved to keys of its own, older than any new entry, on the next write", async () => {
    const a = await tab();
    storage.setItem(LEGACY_SETTLED_KEY, '[["h-old-1", true], ["undo:h-old-2", false], ["h-bad", "yes"], 7]');
    expect([...a.conn.settled.read()]).toEqual([
      ['h-old-1', true],
      ['undo:h-old-2', false],
    ]);
    expect(a.conn.settled.settles({ type: 'undo', labelId: 'h-old-2' })).toBe(true);
    a.conn.settled.add('h-new', true);
    expect(storage.getItem(LEGACY_SETTLED_KEY)).toBeNull();
    expect([...a.conn.settled.read()]).toEqual([
      ['h-old-1', true],
      ['undo:h-old-2', false],
      ['h-new', true],
    ]);
    storage.setItem(LEGACY_SETTLED_KEY, '{not json');
    expect([...a.conn.settled.read()].map(([k]) => k)).toEqual(['h-old-1', 'undo:h-old-2', 'h-new']);
  });
});

describe('two tabs recording settled entries at once', () => {
  it("each tab's copy of the storage behind the other's writes: no entry is lost (one list read, changed and written back lost them)", async () => {
    const { SettledLog } = await import('../../viewer/client/net.js');
    const [viewA, viewB] = TabStorage.tabs(2);
    const win = (globalThis as unknown as { window: { localStorage: unknown } }).window;
    const as = (view: TabStorage, f: () => void): void => {
      win.localStorage = view;
      try {
        f();
      } finally {
        win.localStorage = storage;
      }
    };
    const logA = new SettledLog();
    const logB = new SettledLog();
    // Each tab records a reply before it sees the other's: A's ack of its answer, B's refusal of its own.
    as(viewA, () => logA.add('h-tab-a-0003', true));
    as(viewB, () => logB.add('h-tab-b-0003', false));
    as(viewA, () => logA.add('undo:h-tab-a-0004', true));
    viewA.deliver();
    viewB.deliver();
    for (const [view, log] of [
      [viewA, logA],
      [viewB, logB],
    ] as const) {
      as(view, () =>
        expect(new Map(log.read())).toEqual(
          new Map([
            ['h-tab-a-0003', true],
            ['h-tab-b-0003', false],
            ['undo:h-tab-a-0004', true],
          ]),
        ),
      );
      as(view, () => expect(log.settles({ type: 'answer', labelId: 'h-tab-b-0003' })).toBe(true));
    }
  });
});

describe('a refusal two tabs heard at the same moment (SayOnce)', () => {
  it('each tab that took the entry out claims it; once the claims have reached both, one says it: the tab that made the entry, else the first tab id; a later round stays quiet', async () => {
    const { SayOnce, SAY_WAIT_MS } = await import('../../viewer/client/net.js');
    const [viewA, viewB] = TabStorage.tabs(2);
    const win = (globalThis as unknown as { window: { localStorage: unknown } }).window;
    /** Both tabs claim `what` (each with its own copy of the storage), the claims reach both, the waits end. */
    const round = async (what: string, madeA: boolean, madeB: boolean, tabs = ['tab-a', 'tab-b']): Promise<boolean[]> => {
      const a = new SayOnce(tabs[0]);
      const b = new SayOnce(tabs[1]);
      win.localStorage = viewA;
      const pa = a.claim(what, madeA);
      win.localStorage = viewB;
      const pb = b.claim(what, madeB);
      viewA.deliver();
      viewB.deliver();
      expect(timers.map((t) => t.ms)).toEqual([SAY_WAIT_MS, SAY_WAIT_MS]);
      // Each wait ends with that tab's copy in place.
      win.localStorage = viewA;
      timers[0].fn();
      const ra = await pa;
      win.localStorage = viewB;
      timers[1].fn();
      const rb = await pb;
      win.localStorage = storage;
      timers.length = 0;
      return [ra, rb];
    };
    try {
      // Tab B made the refused answer: B says it, though A's id comes first.
      expect(await round('h-tab-b-0005:conflict', false, true)).toEqual([false, true]);
      // Neither made it (a tab closed since): the first tab id.
      expect(await round('h-tab-x-0006:conflict', false, false, ['tab-b', 'tab-a'])).toEqual([false, true]);
      // Alone: it says it.
      win.localStorage = viewA;
      const alone = new SayOnce('tab-a').claim('h-tab-a-0007:not_found', true);
      timers[0].fn();
      expect(await alone).toBe(true);
      timers.length = 0;
      // The same refusal again a while later (another re-send): said already, so no tab says it.
      win.localStorage = viewB;
      viewB.deliver();
      vi.useFakeTimers({ toFake: ['Date'] });
      try {
        vi.setSystemTime(Date.now() + 5_000);
        const again = new SayOnce('tab-b').claim('h-tab-a-0007:not_found', false);
        timers[0].fn();
        expect(await again).toBe(false);
      } finally {
        vi.useRealTimers();
      }
    } finally {
      win.localStorage = storage;
      timers.length = 0;
    }
  });
});

describe('two tabs writing the outbox at once', () => {
  it("an entry another tab's write left out (its copy of the storage was behind) is put back by the tab that made it, until the server settles it", async () => {
    const a = await tab();
    const b = await tab();
    a.conn.enqueue(answer('h-tab-a-0002', 'left'), 'store0000000000a');
    b.conn.enqueue(answer('h-tab-b-0002', 'right'), 'store0000000000a');
    // Tab B, not yet aware of A's entry, writes the list it had plus its own: A's entry is gone from the storage.
    storage.setItem('prefrl.outbox.v1', JSON.stringify(JSON.parse(storage.getItem('prefrl.outbox.v1')!).filter((e: { labelId: string }) => e.labelId !== 'h-tab-a-0002')));
    expect(b.conn.outbox.list().map((e) => e.labelId)).toEqual(['h-tab-b-0002']);
    // Tab A, reading next, puts it back (and tab B then sees both again).
    expect(a.conn.outbox.list().map((e) => e.labelId)).toEqual(['h-tab-b-0002', 'h-tab-a-0002']);
    expect(b.conn.outbox.size).toBe(2);
    // Tab B's socket carries the acknowledgement of A's answer: it leaves the outbox for good.
    b.conn.connect();
    const s = FakeSocket.made[0];
    s.open();
    s.serve(welcome);
    s.serve({ type: 'ack', labelId: 'h-tab-a-0002', pairId: 'p1', duplicate: false });
    expect(a.conn.outbox.list().map((e) => e.labelId)).toEqual(['h-tab-b-0002']);
    expect(a.conn.outbox.list().map((e) => e.labelId)).toEqual(['h-tab-b-0002']);
    // An entry tab B made itself and took out (its own ack) is not put back by anyone either.
    s.serve({ type: 'ack', labelId: 'h-tab-b-0002', pairId: 'p1', duplicate: false });
    expect(a.conn.outbox.size).toBe(0);
    expect(b.conn.outbox.size).toBe(0);
  });
});

describe('a full server', () => {
  it('its close is reported as full, with its words, and the page connects again after the seconds it named (not the usual backoff)', async () => {
    const a = await tab();
    a.conn.connect();
    FakeSocket.made[0].close(FULL_CLOSE_CODE, fullCloseReason(64, 12));
    expect(a.states.at(-1)).toEqual(['full', 'the labelling server has 64 pages open, the most it takes; trying again in 12 s']);
    expect(timers.map((t) => t.ms)).toEqual([12_000]);
    timers[0].fn();
    expect(FakeSocket.made).toHaveLength(2);
    // An ordinary drop still gets the short backoff.
    FakeSocket.made[1].close(4000, 'dropped');
    expect(timers.map((t) => t.ms)).toEqual([12_000, 400]);
    expect(a.states.at(-1)?.[0]).toBe('closed');
  });
});

describe("two people's own links in two tabs of one browser (serve --people)", () => {
  it("each tab sends its own person's kept answers only and leaves the other's in the shared outbox; a tab of an ordinary link sends them all", async () => {
    const ada = await tab();
    const alan = await tab();
    // Offline, each answers in its tab: the shared outbox holds both answers.
    ada.conn.enqueue({ ...answer('h-ada-0000000001', 'left'), name: 'Ada' }, 'store0000000000a');
    alan.conn.enqueue({ ...answer('h-alan-000000001', 'right'), name: 'Alan' }, 'store0000000000a');
    expect(ada.conn.outbox.size).toBe(2);
    ada.conn.connect();
    alan.conn.connect();
    const [sa, sb] = FakeSocket.made;
    sa.open();
    sa.serve({ ...welcome, name: 'Ada', personal: true });
    sb.open();
    sb.serve({ ...welcome, name: 'Alan', personal: true });
    // The server would refuse the other person's answer on this link (and the page would drop it): not sent.
    expect(sa.sent.filter((m) => m.type === 'answer').map((m) => m.labelId)).toEqual(['h-ada-0000000001']);
    expect(sb.sent.filter((m) => m.type === 'answer').map((m) => m.labelId)).toEqual(['h-alan-000000001']);
    expect(ada.conn.split().here.map((e) => e.labelId)).toEqual(['h-ada-0000000001']);
    expect(ada.conn.split().elsewhere).toEqual([]);
    // Neither counts nor discards the other's entries as another session's.
    expect(alan.conn.discardElsewhere()).toBe(0);
    expect(alan.conn.outbox.size).toBe(2);
    // A page of an ordinary link (no personal welcome) sends every kept entry of its store, as before.
    const plain = await tab();
    plain.conn.connect();
    const sc = FakeSocket.made[2];
    sc.open();
    sc.serve(welcome);
    expect(sc.sent.filter((m) => m.type === 'answer').map((m) => m.labelId)).toEqual(['h-ada-0000000001', 'h-alan-000000001']);
  });
});
