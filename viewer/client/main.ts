/**
 * The labelling page: connects to the server, shows each pair as two synchronised clips
 * re-simulated from their stored joint states, takes answers by button or key, keeps them
 * until the server has stored them, and shows progress, the reward model's opinion
 * (when the server has one) and the HERON page.
 */
import { type AnswerMsg, base64ToFloat64, type Choice, type ModelPayload, type PairMsg, PERMANENT_ERRORS, type ServerMessage, type WelcomeMsg } from '../protocol.js';
import { agreementText } from './agreement.js';
import { downloadText } from './download.js';
import { HeronPanel } from './heron.js';
import { engineLoadingText } from './loading.js';
import { drawCurves, insightText } from './insight.js';
import { Connection, type ConnectionState, newLabelId } from './net.js';
import { type Clip, mujoco, ReplayModel } from './replay.js';
import { ComparisonView } from './view.js';

const NAME_KEY = 'prefrl.name';
const TOKEN_KEY = 'prefrl.token';
const HISTORY_KEY = 'prefrl.history.v1';
const COUNTED_KEY = 'prefrl.counted.v1';

function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`page element #${id} missing`);
  return e as T;
}

function load<T>(store: Storage, key: string, fallback: T): T {
  try {
    const raw = store.getItem(key);
    return raw === null ? fallback : (JSON.parse(raw) as T);
  } catch {
    return fallback;
  }
}

function save(store: Storage, key: string, value: unknown): void {
  try {
    store.setItem(key, JSON.stringify(value));
  } catch {
    // storage disabled or full: state is kept in memory only
  }
}

interface Current {
  readonly pair: PairMsg;
  /** performance.now() when both clips were first on screen (null while loading). */
  readyAt: number | null;
}

class App {
  private readonly view: ComparisonView;
  private readonly conn: Connection;
  private readonly heron: HeronPanel;
  private welcome: WelcomeMsg | null = null;
  private name: string | null = load<string | null>(localStorage, NAME_KEY, null);
  /** The last welcome came through a person's own link (serve --people): `name` is theirs and fixed. */
  private personal = false;
  private readonly payloads = new Map<string, ModelPayload>();
  private readonly compiled = new Map<string, ReplayModel>();
  private current: Current | null = null;
  /** The connection state last reported (the page words its waiting message by it). */
  private connState: ConnectionState = 'connecting';
  /** The server said it stopped and has not welcomed the page since (the page retries in between: "connecting", then "ended" again). */
  private endedBefore = false;
  /**
   * Why a server of personal links refused this page's token (its `unauthorized` error, which
   * comes just before the close that opens the token prompt): the prompt says it, so a person
   * opens their own link rather than type the study's shared token again. Null otherwise.
   */
  private refusedWhy: string | null = null;
  /**
   * This session's answers, newest last (for undo), with the name each was given under: an undo
   * names the answer's teacher, which is not the current name after a rename (entries saved
   * before the field have none and use the current name).
   */
  private history: { labelId: string; pairId: string; name?: string; forStore?: string }[] = load(sessionStorage, HISTORY_KEY, []);
  /** Labels of this session the server acknowledged. */
  private counted = new Set<string>(load<string[]>(sessionStorage, COUNTED_KEY, []));
  private pairQueue: Promise<void> = Promise.resolve();
  private modal: 'name' | 'token' | null = null;
  private toastTimer: number | null = null;
  private tab: 'label' | 'heron' = 'label';
  /** The label of the undo in flight (its "Undoing…" overlay goes when the server answers it). */
  private undoing: string | null = null;
  /** The pair an `undone` from the server gives back (it comes next, in place of the one on screen). */
  private undonePair: string | null = null;
  /** Set while the "discard them" button waits for its second press. */
  private discardTimer: number | null = null;
  /** How the person last pressed something, and the element the keyboard (not the mouse) moved the focus to. */
  private lastInput: 'key' | 'pointer' = 'pointer';
  private keyboardFocus: EventTarget | null = null;
  /** A View button of the HERON page had the focus: the preview's "Back to labelling" gets it when the pair shows. */
  private focusPreview = false;
  /** The physics engine is being downloaded (its progress goes to the overlay). */
  private engineLoading = false;
  /** What the page says while the server has no room for it (connection state 'full'). */
  private fullText = '';
  /** The server said the run has every answer it will use (`idle done`), and has handed out no pair since. */
  private runDone = false;
  private announceTimer: number | null = null;
  /** The store's pairs waiting for people, as the last progress said (null: none yet). */
  private waiting: number | null = null;
  /** The page shows no pair because none is open for it (idle, not done). */
  private idle = false;
  /** "Left is better: answered.", until said (announce). */
  private sentWords: string | null = null;

  constructor() {
    const params = new URLSearchParams(location.search);
    const urlToken = params.get('token');
    if (urlToken) {
      sessionStorage.setItem(TOKEN_KEY, urlToken);
      // Keep the token out of the address bar, history and screenshots.
      params.delete('token');
      const rest = params.toString();
      history.replaceState(null, '', `${location.pathname}${rest ? `?${rest}` : ''}${location.hash}`);
    }
    this.view = new ComparisonView({ area: $('clips'), left: $<HTMLCanvasElement>('canvas-left'), right: $<HTMLCanvasElement>('canvas-right') });
    this.view.onReady = () => {
      if (this.current && this.current.readyAt === null) this.current.readyAt = performance.now();
    };
    this.view.onState = (s) => {
      $('play').textContent = s.playing ? '❚❚' : '▶';
      // Named by what a press does now (the glyph alone says it only to the eye).
      $('play').setAttribute('aria-label', s.playing ? 'pause the clips' : 'play the clips');
      const scrub = $<HTMLInputElement>('scrub');
      scrub.max = String(Math.max(0, s.frames - 1));
      if (document.activeElement !== scrub) scrub.value = String(s.frame);
      $('time').textContent = `step ${s.frame}/${Math.max(0, s.frames - 1)} · ${s.time.toFixed(2)} s`;
      $<HTMLSelectElement>('speed').value = String(s.speed);
      $<HTMLInputElement>('follow').checked = s.follow;
    };
    const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
    this.conn = new Connection(
      wsUrl,
      {
        onMessage: (m, fresh) => this.onMessage(m, fresh),
        onState: (s, d) => this.onConnState(s, d),
        onOutbox: (n) => this.showOutbox(n),
      },
      sessionStorage.getItem(TOKEN_KEY),
      () => this.name,
    );
    this.heron = new HeronPanel(
      {
        list: $<HTMLOListElement>('heron-terms'),
        json: $('heron-json'),
        samples: $('heron-samples'),
        agreement: $('heron-agreement'),
        error: $('heron-error'),
        saved: $('heron-saved'),
        save: $<HTMLButtonElement>('heron-save'),
        download: $<HTMLButtonElement>('heron-download'),
      },
      {
        preview: (config) => this.conn.request({ type: 'heron_preview', config }),
        save: (config) => this.conn.request({ type: 'heron_save', config }),
        view: (pairId) => {
          // The View button goes out of sight with its page: the preview's "Back to labelling" takes the focus.
          this.focusPreview = $('tab-heron').contains(document.activeElement);
          this.switchTab('label');
          this.conn.request({ type: 'view_pair', pairId });
        },
      },
    );
    this.bindUi();
    this.showOutbox(this.conn.outbox.size);
    this.updateName();
    this.conn.connect();
    (window as unknown as { prefrlDebug: unknown }).prefrlDebug = {
      current: () => (this.current ? { pairId: this.current.pair.pairId, leftIs: this.current.pair.leftIs, ready: this.current.readyAt !== null, preview: this.current.pair.preview } : null),
      outbox: () => this.conn.outbox.size,
      connected: () => this.conn.isOpen,
      drop: () => this.conn.drop(),
      sessionLabels: () => this.counted.size,
      camera: () => this.view.cameraState(),
      // The shared record of settled answers (tests: two tabs writing it at once).
      settle: (key: string, stored: boolean) => this.conn.settled.add(key, stored),
      settledKeys: () => [...this.conn.settled.read().keys()],
    };
  }

  // ------------------------------------------------------------------ UI

  private bindUi(): void {
    for (const b of document.querySelectorAll<HTMLButtonElement>('.answer')) {
      b.addEventListener('click', () => {
        b.blur();
        this.answer(b.dataset.choice as Choice);
      });
    }
    $('play').addEventListener('click', () => this.view.togglePlay());
    $('step-back').addEventListener('click', () => this.view.stepFrame(-1));
    $('step-fwd').addEventListener('click', () => this.view.stepFrame(1));
    const scrub = $<HTMLInputElement>('scrub');
    scrub.addEventListener('input', () => this.view.seek(Number(scrub.value)));
    $<HTMLSelectElement>('speed').addEventListener('change', (e) => this.view.setSpeed(Number((e.target as HTMLSelectElement).value)));
    $<HTMLInputElement>('follow').addEventListener('change', (e) => this.view.setFollow((e.target as HTMLInputElement).checked));
    $('reset-cam').addEventListener('click', () => this.view.resetCamera());
    $('undo').addEventListener('click', () => this.undo());
    $('elsewhere-save').addEventListener('click', () => this.saveElsewhere());
    $('elsewhere-discard').addEventListener('click', () => this.discardElsewhere());
    $('rename').addEventListener('click', () => this.openModal('name'));
    $('modal-cancel').addEventListener('click', () => this.closeModal());
    $('preview-back').addEventListener('click', () => this.backToLabelling());
    for (const t of document.querySelectorAll<HTMLButtonElement>('.tab')) t.addEventListener('click', () => this.switchTab(t.dataset.tab === 'heron' ? 'heron' : 'label'));
    $<HTMLFormElement>('modal-form').addEventListener('submit', (e) => {
      e.preventDefault();
      this.submitModal();
    });
    document.addEventListener('pointerdown', () => (this.lastInput = 'pointer'), true);
    document.addEventListener('keydown', () => (this.lastInput = 'key'), true);
    document.addEventListener('focusin', (e) => (this.keyboardFocus = this.lastInput === 'key' ? e.target : null));
    document.addEventListener('keydown', (e) => this.onKey(e), true);
    // Another tab of this browser changed the shared outbox (net.ts): it may have sent this tab's
    // answers and undos (each tab sends every entry it finds there) and had the replies.
    window.addEventListener('storage', (e) => {
      if (e.storageArea !== localStorage) return;
      if (e.key === NAME_KEY) this.onOtherName(e.newValue);
      else this.onOtherTab();
    });
    this.updateUndo();
  }

  private onKey(e: KeyboardEvent): void {
    if (this.modal) {
      if (e.key === 'Escape' && this.canCancelModal()) {
        e.preventDefault();
        this.closeModal();
      } else if (e.key === 'Tab') this.trapTab(e);
      return;
    }
    const t = e.target as HTMLElement | null;
    const typing = t !== null && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT') && (t as HTMLInputElement).type !== 'range' && (t as HTMLInputElement).type !== 'checkbox';
    if (typing) {
      if (e.key === 'Escape' || (e.key === 'Enter' && t.id === 'comment')) {
        t.blur();
        e.preventDefault();
      }
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey) {
      // Only where the answers are: on the HERON page Ctrl+Z undid the last answer, unseen, when
      // the person meant to take back a change to the ranking.
      if ((e.ctrlKey || e.metaKey) && (e.key === 'z' || e.key === 'Z') && this.tab === 'label') {
        e.preventDefault();
        this.undo();
      }
      return;
    }
    // On a tab the keyboard reached, the arrows go from tab to tab (as in every tab list), not to
    // the answers: a screen reader user pressing → there stored "Right is better" for a pair.
    if (t !== null && t === this.keyboardFocus && t.getAttribute('role') === 'tab' && this.tabKey(e.key)) {
      e.preventDefault();
      return;
    }
    if (this.tab !== 'label') return;
    // A button or checkbox reached with the keyboard (Tab) is pressed by Space, as everywhere else:
    // a keyboard user on "Right is better" who presses Space means that button, not "can't tell".
    // One focused by a mouse click keeps Space as the shortcut. (:focus-visible cannot tell them
    // apart here: Chromium turns it on for the focused control at the key press itself.)
    if (e.key === ' ' && t !== null && t === this.keyboardFocus && pressable(t)) return;
    const choice: Record<string, Choice> = { ArrowLeft: 'left', ArrowRight: 'right', ArrowDown: 'equal', '=': 'equal', ' ': 'cant_tell' };
    const c = choice[e.key];
    if (c) {
      e.preventDefault();
      if (!e.repeat) this.answer(c);
      return;
    }
    const actions: Record<string, () => void> = {
      z: () => this.undo(),
      Z: () => this.undo(),
      Backspace: () => this.undo(),
      p: () => this.view.togglePlay(),
      P: () => this.view.togglePlay(),
      ',': () => this.view.stepFrame(-1),
      '.': () => this.view.stepFrame(1),
      '[': () => this.view.stepSpeed(-1),
      ']': () => this.view.stepSpeed(1),
      f: () => this.view.toggleFollow(),
      F: () => this.view.toggleFollow(),
      r: () => this.view.resetCamera(),
      R: () => this.view.resetCamera(),
      c: () => $('comment').focus(),
      C: () => $('comment').focus(),
    };
    const a = actions[e.key];
    if (a) {
      e.preventDefault();
      a();
    }
  }

  /** ←, →, Home or End on a focused tab: select and focus the tab it names; false for other keys. */
  private tabKey(key: string): boolean {
    const tabs = [...document.querySelectorAll<HTMLButtonElement>('.tab')];
    const i = tabs.findIndex((b) => b.dataset.tab === this.tab);
    const j = key === 'ArrowLeft' ? (i + tabs.length - 1) % tabs.length : key === 'ArrowRight' ? (i + 1) % tabs.length : key === 'Home' ? 0 : key === 'End' ? tabs.length - 1 : -1;
    if (j < 0) return false;
    this.switchTab(tabs[j].dataset.tab === 'heron' ? 'heron' : 'label');
    tabs[j].focus();
    return true;
  }

  /**
   * The outbox changed in another tab. Its count is shown anew, and an undo of this tab that left
   * the outbox there was answered there: while this tab was offline, its other tab sent the undo
   * and had the reply (the undone pair, or why not), and "Undoing…" here waited for good.
   */
  private onOtherTab(): void {
    this.showOutbox(this.conn.outbox.size);
    this.takeSettled();
    const u = this.undoing;
    if (u === null || this.conn.outbox.list().some((e) => e.type === 'undo' && e.labelId === u)) return;
    this.undoing = null;
    this.toast('Your undo was sent from another tab of this page, which shows what came of it.', false, 5000);
    if (this.current) this.overlay(null);
    else this.requestNext();
  }

  /**
   * This tab's answers that the server settled through another tab (the outbox is shared, and each
   * tab sends all of it): stored ones count in "This session" here too, refused ones leave the
   * undo history (the tab that had the refusal said why).
   */
  private takeSettled(): void {
    const settled = this.conn.settled.read();
    let changed = false;
    for (const h of [...this.history]) {
      const ok = settled.get(h.labelId);
      if (ok === true && !this.counted.has(h.labelId)) {
        this.counted.add(h.labelId);
        changed = true;
      } else if (ok === false) {
        this.history = this.history.filter((x) => x.labelId !== h.labelId);
        changed = true;
      }
    }
    if (!changed) return;
    save(sessionStorage, HISTORY_KEY, this.history);
    save(sessionStorage, COUNTED_KEY, [...this.counted]);
    $('p-session').textContent = String(this.counted.size);
    this.updateUndo();
  }

  /**
   * The name was changed in another tab of this browser (the name is shared, in localStorage): this
   * tab goes on under it too, as after a rename here (the server moves the lease of the pair on
   * screen), rather than storing its next answers under the old name.
   */
  private onOtherName(raw: string | null): void {
    let name: string | null = null;
    try {
      name = raw === null ? null : (JSON.parse(raw) as string);
    } catch {
      return;
    }
    if (typeof name !== 'string' || name === '' || name === this.name) return;
    // A person's own link keeps its person (another tab's name is that tab's business).
    if (this.personal) return;
    this.name = name;
    this.updateName();
    this.conn.request({ type: 'set_name', name });
    if (this.modal === 'name') this.closeModal();
    this.toast(`Your name was changed to ${name} in another tab: this tab uses it too.`, false, 4000);
    if (!this.current && !this.runDone) this.requestNext();
  }

  private switchTab(tab: 'label' | 'heron'): void {
    this.tab = tab;
    this.view.setHidden(tab !== 'label');
    $('tab-label').classList.toggle('hidden', tab !== 'label');
    $('tab-heron').classList.toggle('hidden', tab !== 'heron');
    for (const b of document.querySelectorAll<HTMLButtonElement>('.tab')) {
      const on = b.dataset.tab === tab;
      b.classList.toggle('active', on);
      b.setAttribute('aria-selected', String(on));
    }
  }

  /** `say` false: the caller says something else for screen readers (announce). */
  private overlay(text: string | null, say = true): void {
    const o = $('overlay');
    if (text === null) o.classList.add('hidden');
    else {
      if (say && (o.textContent !== text || o.classList.contains('hidden'))) this.announce(text);
      o.textContent = text;
      o.classList.remove('hidden');
    }
  }

  /**
   * Said to screen readers through #said, a live region that is always in the page (the overlay
   * comes and goes, and a region that appears with its text is not read out). Emptied first, so
   * the same words said again are read again.
   */
  private announce(text: string): void {
    const e = $('said');
    e.textContent = '';
    if (this.announceTimer !== null) window.clearTimeout(this.announceTimer);
    this.announceTimer = window.setTimeout(() => {
      this.announceTimer = null;
      // An answer just sent is said with whatever comes next (the next pair often comes at once).
      e.textContent = this.sentWords === null ? text : `${this.sentWords} ${text}`;
      this.sentWords = null;
    }, 60);
  }

  /** The device asks for less motion (prefers-reduced-motion): the clips wait for Play. */
  private lessMotion(): boolean {
    return typeof window.matchMedia === 'function' && window.matchMedia('(prefers-reduced-motion: reduce)').matches;
  }

  private toast(text: string, bad = false, ms = bad ? 5000 : 1400): void {
    const t = $('toast');
    t.textContent = text;
    t.classList.toggle('bad', bad);
    t.classList.add('show');
    if (this.toastTimer !== null) window.clearTimeout(this.toastTimer);
    this.toastTimer = window.setTimeout(() => t.classList.remove('show'), ms);
  }

  private flash(choice: Choice | null): void {
    const b = choice ? document.querySelector<HTMLButtonElement>(`.answer[data-choice="${choice}"]`) : null;
    if (!b) return;
    b.classList.add('flash');
    window.setTimeout(() => b.classList.remove('flash'), 180);
  }

  private setAnswersEnabled(on: boolean): void {
    for (const b of document.querySelectorAll<HTMLButtonElement>('.answer')) b.disabled = !on;
  }

  private updateUndo(): void {
    const b = $<HTMLButtonElement>('undo');
    const ended = this.undoEnded();
    b.disabled = this.history.length === 0 || ended;
    b.title = ended ? UNDO_ENDED : 'Undo your last answer (Z)';
  }

  /**
   * The session has ended and the last answer was stored by its server: it may already be in
   * training (a `train --teacher human` run takes its answers as the session ends), so an undo
   * could not succeed, and queued on this device it would wait for a later server. Undo comes
   * back when the server does. An answer given after the end (still on this device) can be undone:
   * the undo waits with it.
   */
  private undoEnded(): boolean {
    const last = this.history[this.history.length - 1];
    // endedBefore, not connState: the page looks for the server again every few seconds
    // ("connecting" in between), and Undo must not come back for those moments.
    return this.endedBefore && last !== undefined && this.counted.has(last.labelId);
  }

  private updateName(): void {
    $('name-label').textContent = this.name ?? '';
    $('rename').textContent = this.name ? 'change name' : 'set name';
    // Signed in by a person's own link: the name is theirs, not to be changed here.
    $('rename').classList.toggle('hidden', this.personal);
    $('name-label').title = this.personal ? 'You came in through your own link: your answers are stored under this name' : '';
  }

  private showOutbox(n: number): void {
    const e = $('p-outbox');
    const { here, elsewhere } = this.conn.split();
    const parts: string[] = [];
    if (here.length > 0) parts.push(`${unsentText(here)} waiting to be sent`);
    // Kept for the server of another labelling session (another store on this address): never sent here.
    if (elsewhere.length > 0) parts.push(`${unsentText(elsewhere)} of an earlier labelling session ${elsewhere.length === 1 ? 'is' : 'are'} kept on this device for its own server (not sent to this one)`);
    e.textContent = parts.join(' · ');
    // What this page holds: another person's entries (their own link in another tab) are theirs to show.
    e.classList.toggle('hidden', n === 0 || here.length + elsewhere.length === 0);
    // The thank-you says whether answers are still on their way: it follows the outbox.
    if (this.runDone && !this.current && this.connState === 'open') this.overlay(this.doneText());
    else if (this.idle && !this.current && this.connState === 'open' && this.waiting === 0) this.overlay(this.idleText());
    $('p-elsewhere').classList.toggle('hidden', elsewhere.length === 0);
    if (elsewhere.length === 0) this.disarmDiscard();
  }

  /** Download the answers kept for earlier sessions' servers, one label file per session. */
  private saveElsewhere(): void {
    const files = this.conn.savedElsewhere();
    const names: string[] = [];
    let undos = 0;
    for (const f of files) {
      undos += f.undosLeftOut;
      if (f.answers === 0) continue;
      const when = (f.firstAt ?? new Date().toISOString()).slice(0, 16).replace(/[-:]/g, '').replace('T', '-');
      const name = `prefrl-unsent-${f.envId ?? 'answers'}-${when}-${f.forStore.slice(0, 8)}.jsonl`;
      downloadText(name, f.jsonl, 'application/x-ndjson');
      names.push(`${f.answers} answer${f.answers === 1 ? '' : 's'} to ${name}`);
    }
    const left = undos > 0 ? ` ${undos} undo${undos === 1 ? '' : 's'} of answers that session already saved cannot go in a label file: tell whoever ran it.` : '';
    if (names.length === 0) {
      this.toast(`Nothing to save: no answers are kept for an earlier session.${left}`, undos > 0);
      return;
    }
    this.toast(`Saved ${names.join(' and ')}. Whoever ran that labelling session adds them with: prefrl labels import --store <its labels.sqlite> --in <the file>. They stay kept here until you discard them.${left}`, true, 15000);
  }

  /** Discard asks twice: the first press arms the button for a few seconds, the second forgets the entries. */
  private discardElsewhere(): void {
    const b = $<HTMLButtonElement>('elsewhere-discard');
    if (this.discardTimer === null) {
      b.textContent = 'discard for good? (press again)';
      b.classList.add('armed');
      this.discardTimer = window.setTimeout(() => this.disarmDiscard(), 5000);
      return;
    }
    this.disarmDiscard();
    const { elsewhere } = this.conn.split();
    const what = unsentText(elsewhere);
    const n = this.conn.discardElsewhere();
    if (n > 0) this.toast(`Discarded ${what} kept for an earlier labelling session`);
  }

  private disarmDiscard(): void {
    if (this.discardTimer !== null) window.clearTimeout(this.discardTimer);
    this.discardTimer = null;
    const b = $<HTMLButtonElement>('elsewhere-discard');
    b.textContent = 'discard them';
    b.classList.remove('armed');
  }

  private openModal(kind: 'name' | 'token', error?: string): void {
    if (kind === 'name' && this.personal) return; // a person's own link fixes the name
    this.modal = kind;
    $('modal-title').textContent = kind === 'name' ? 'Your name' : 'Access token';
    $('modal-text').textContent = kind === 'name' ? 'Your answers are stored under this name (letters, digits, spaces, . _ -).' : 'This labelling server needs the access token you were given.';
    const input = $<HTMLInputElement>('modal-input');
    input.type = kind === 'token' ? 'password' : 'text';
    input.value = kind === 'name' ? (this.name ?? '') : '';
    const err = $('modal-error');
    err.textContent = error ?? '';
    err.classList.toggle('hidden', !error);
    $('modal-cancel').classList.toggle('hidden', !this.canCancelModal());
    $('modal').classList.remove('hidden');
    this.setBehindInert(true);
    input.focus();
  }

  private submitModal(): void {
    const value = $<HTMLInputElement>('modal-input').value.trim();
    if (this.modal === 'token') {
      if (!value) return;
      sessionStorage.setItem(TOKEN_KEY, value);
      this.conn.setToken(value);
      this.closeModal();
      this.conn.connect();
      return;
    }
    if (!/^[\p{L}\p{N}][\p{L}\p{N} ._-]{0,39}$/u.test(value)) {
      this.openModal('name', 'Use 1 to 40 letters, digits, spaces, ".", "_" or "-", starting with a letter or digit.');
      return;
    }
    this.name = value;
    save(localStorage, NAME_KEY, value);
    this.updateName();
    this.closeModal();
    this.conn.request({ type: 'set_name', name: value });
    if (!this.current) this.requestNext();
  }

  /**
   * Tab and Shift+Tab stay in the open dialog, going round its controls (the page behind is inert
   * too, so neither the keyboard nor a screen reader's cursor reaches it).
   */
  private trapTab(e: KeyboardEvent): void {
    const items = [...$('modal').querySelectorAll<HTMLElement>('input, button, select, textarea, a[href], [tabindex]:not([tabindex="-1"])')].filter(
      (el) => !(el as HTMLButtonElement).disabled && el.getClientRects().length > 0,
    );
    e.preventDefault();
    if (items.length === 0) return;
    const i = items.indexOf(document.activeElement as HTMLElement);
    const next = e.shiftKey ? (i <= 0 ? items.length - 1 : i - 1) : i < 0 || i === items.length - 1 ? 0 : i + 1;
    items[next].focus();
  }

  /** The page behind the dialog: out of reach (focus, clicks, screen readers) while it is open. */
  private setBehindInert(on: boolean): void {
    for (const el of document.querySelectorAll<HTMLElement>('body > header, body > main')) el.inert = on;
  }

  /** A change of name can be called off (the name stays); the first name and a token cannot. */
  private canCancelModal(): boolean {
    return this.modal === 'name' && this.name !== null;
  }

  private closeModal(): void {
    this.modal = null;
    // Blurred now: a hidden input keeps the focus until the browser's next focus fix-up, and a key
    // pressed at once (z to undo, an arrow to answer) would be taken as typing into it.
    $<HTMLInputElement>('modal-input').blur();
    $('modal').classList.add('hidden');
    this.setBehindInert(false);
  }

  // ------------------------------------------------------------------ protocol

  private onConnState(s: ConnectionState, detail: string): void {
    const wasEnded = this.endedBefore;
    const wasSilent = this.connState === 'silent';
    if (s === 'ended') this.endedBefore = true;
    else if (s === 'open') {
      this.endedBefore = false;
      this.refusedWhy = null;
    }
    this.connState = s;
    this.updateUndo();
    const c = $('conn');
    c.className = `conn ${s}`;
    c.textContent =
      s === 'open'
        ? 'connected'
        : s === 'connecting'
          ? 'connecting…'
          : s === 'unauthorized'
            ? 'token needed'
            : s === 'ended'
              ? 'session ended'
              : s === 'full'
                ? 'server full'
                : s === 'silent'
                  ? 'no reply'
                  : 'offline';
    c.title = detail;
    if (s === 'unauthorized') {
      this.overlay('This server needs an access token.');
      const why = this.refusedWhy ? `${this.refusedWhy[0].toUpperCase()}${this.refusedWhy.slice(1)}.` : undefined;
      this.openModal('token', why ?? (sessionStorage.getItem(TOKEN_KEY) ? 'That token was not accepted.' : undefined));
    } else if (s === 'ended' && !this.current) {
      // The labelling server stopped (training finished, or someone stopped or restarts it).
      this.overlay(this.endedText());
    } else if (s === 'ended' && !wasEnded) {
      // A pair on screen can still be answered: the answer waits on this device for the server.
      // Said once, when the server goes (the pill alone is easy to miss while watching the clips).
      this.toast('The labelling session has ended. You can still answer this pair: the answer is kept on this device and sent if the server comes back.', true);
    } else if (s === 'silent') {
      // Open, but the server has said nothing since the page sent it something: a slow or lost network.
      const unsent = this.conn.split().here;
      const kept = unsent.length > 0 ? ` ${unsentText(unsent)} ${unsent.length === 1 ? 'is' : 'are'} kept on this device and sent as soon as it replies: nothing is lost.` : '';
      const text = `The labelling server has not replied for a while (a slow or lost connection?).${kept} This page keeps trying by itself.`;
      if (this.current) this.toast(text, true, 8000);
      else this.overlay(text);
    } else if (s === 'open' && wasSilent && !this.current && !this.runDone) {
      // The server answered again: what the page waits for comes next.
      this.overlay('Loading the next pair…');
    } else if (s === 'closed' && !this.current) {
      this.overlay(`Offline: ${detail}. Answers are kept on this device and sent when the connection is back.`);
    } else if (s === 'full') {
      // The server took no more pages for now: this page tries again by itself.
      this.fullText = `Too many pages are open on this labelling server right now: ${detail}. Nothing to do here: this page connects by itself as soon as there is room. Answers are kept on this device meanwhile.`;
      if (this.current) this.toast(this.fullText, true, 8000);
      else this.overlay(this.fullText);
    }
  }

  private requestNext(): void {
    if (!this.name) return;
    if (this.conn.request({ type: 'next' }) === null) this.overlay(this.connState === 'ended' ? this.endedText() : this.connState === 'full' ? this.fullText : 'Waiting for the connection…');
  }

  /** What the page says once the server has said it is stopping. */
  private endedText(): string {
    const unsent = this.conn.split().here;
    // A run that said it has every label it needs stops its server next: its thank-you stays.
    if (this.runDone && unsent.length === 0) return `${this.doneText()} The labelling server has stopped.`;
    const noUndo = this.undoEnded() ? ' Saved answers can no longer be undone from this page.' : '';
    return unsent.length > 0
      ? `The labelling session has ended. ${unsentText(unsent)} ${unsent.length === 1 ? 'is' : 'are'} kept on this device and sent if the server comes back.${noUndo}`
      : `The labelling session has ended: thank you! Every answer you gave is saved.${noUndo} You can close this page (it reconnects by itself if the server comes back).`;
  }

  private onMessage(m: ServerMessage, fresh = true): void {
    switch (m.type) {
      case 'welcome': {
        this.welcome = m;
        // Answers of another session's store cannot be undone through this server.
        const store = this.conn.store;
        if (store !== null && this.history.some((h) => h.forStore !== undefined && h.forStore !== store)) {
          this.history = this.history.filter((h) => h.forStore === undefined || h.forStore === store);
          save(sessionStorage, HISTORY_KEY, this.history);
          this.updateUndo();
        }
        this.showOutbox(this.conn.outbox.size);
        $('goal').textContent = m.goal;
        document.title = `prefrl · ${m.envId}`;
        this.heron.setTerms(m.terms);
        $('p-agree').classList.toggle('hidden', m.overlap <= 1);
        this.personal = m.personal === true;
        if (m.name) {
          this.name = m.name;
          // A personal link's name is not shared with the browser's other tabs (another person's link may be open there).
          if (!this.personal) save(localStorage, NAME_KEY, m.name);
          this.updateName();
        }
        if (!this.name) {
          this.overlay('Enter your name to start.');
          this.openModal('name');
        } else if (!this.current || this.current.pair.preview) this.requestNext();
        break;
      }
      case 'model':
        this.payloads.set(m.modelId, m.model);
        break;
      case 'pair': {
        // A pair the page did not ask for, in place of the one it shows: the server moves a person's
        // other tabs on when the pair on screen is answered in one of them. Say so (the clips change
        // under the person's eyes); the pair an undo gives back is asked for, and says "Answer undone".
        const cur = this.current;
        const given = this.undonePair === m.pairId;
        if (given) this.undonePair = null;
        else if (cur && !cur.pair.preview && !m.preview && cur.pair.pairId !== m.pairId) this.toast(ANSWERED_ELSEWHERE);
        this.pairQueue = this.pairQueue.then(() => this.showPair(m)).catch((e: unknown) => {
          this.overlay(`Cannot show this pair: ${(e as Error).message}`);
        });
        break;
      }
      case 'idle':
        if (m.reason === 'need_name') {
          if (!this.runDone) this.openModal('name');
          break;
        }
        // After the pairs before it (one still being shown would otherwise come up after it, answerable).
        this.pairQueue = this.pairQueue
          .then(() => this.showIdle(m.reason === 'done'))
          .catch((e: unknown) => console.warn(`prefrl: ${(e as Error).message}`));
        break;
      case 'ack':
        if (this.history.some((h) => h.labelId === m.labelId)) {
          this.counted.add(m.labelId);
          save(sessionStorage, COUNTED_KEY, [...this.counted]);
          $('p-session').textContent = String(this.counted.size);
          this.updateUndo();
        }
        break;
      case 'undone':
        if (this.undoing === m.labelId) this.undoing = null;
        this.counted.delete(m.labelId);
        save(sessionStorage, COUNTED_KEY, [...this.counted]);
        $('p-session').textContent = String(this.counted.size);
        this.toast('Answer undone');
        this.undonePair = m.pairId;
        // With no stored label the pair is still leased to us and comes back first.
        if (m.pairId === null) this.requestNext();
        break;
      case 'progress': {
        $('p-teacher').textContent = String(m.teacher);
        $('p-total').textContent = String(m.total);
        $('p-waiting').textContent = String(m.waiting);
        const was = this.waiting;
        this.waiting = m.waiting;
        // Idle, and the study's last pairs got their answers meanwhile (or more came): say it anew.
        if (this.idle && !this.current && this.connState === 'open' && (was === 0) !== (m.waiting === 0)) this.overlay(this.idleText());
        $('p-session').textContent = String(this.counted.size);
        if (m.agreement) {
          const { text, title } = agreementText(m.agreement);
          $('p-agree-val').textContent = text;
          $('p-agree').title = title;
        }
        break;
      }
      case 'insight': {
        $('insight').classList.remove('hidden');
        $('insight').classList.toggle('disagree', m.agree === false);
        $('insight-text').textContent = insightText(m);
        $('insight-bar').style.width = `${(m.probLeft * 100).toFixed(1)}%`;
        drawCurves($<HTMLCanvasElement>('insight-curves'), m.rewardsLeft, m.rewardsRight, window.devicePixelRatio);
        break;
      }
      case 'heron_result':
        if (this.welcome) this.heron.showResult(m, this.welcome.terms);
        break;
      case 'heron_saved':
        this.heron.showSaved(m);
        break;
      case 'error':
        this.onError(m, fresh);
        break;
    }
  }

  /** `fresh` false: another tab of this browser had the same refusal of a shared outbox entry first, and said so. */
  private onError(m: Extract<ServerMessage, { type: 'error' }>, fresh = true): void {
    if (m.code === 'heron_invalid') {
      this.heron.showError(m.message);
      return;
    }
    if (m.code === 'unauthorized') {
      // The close that follows opens the token prompt; a personal-link server's reason goes in it.
      this.refusedWhy = m.message.includes('link you were given') ? m.message : null;
      return;
    }
    if (m.code === 'need_name') {
      this.openModal('name');
      return;
    }
    if (m.labelId) {
      // A permanent error leaves the outbox (net.ts); drop it from the undo history too.
      this.history = this.history.filter((h) => h.labelId !== m.labelId || m.code === 'store' || m.code === 'internal');
      save(sessionStorage, HISTORY_KEY, this.history);
      this.updateUndo();
      // A refused undo (e.g. the answer was already passed to training): the pair on screen comes back.
      if (this.undoing === m.labelId && m.code !== 'store' && m.code !== 'internal') {
        this.undoing = null;
        if (this.current) this.overlay(null);
        else this.requestNext();
      }
    }
    // Said once: both tabs of a person re-send the shared outbox after a reconnect, and both got the
    // refusal; of the tabs that took the entry out of the outbox at the same moment, one says it (net.ts SayOnce).
    if (!fresh) return;
    const text = m.code === 'store' ? `The server could not save yet (${m.message}); it will be re-sent.` : m.message;
    if (m.labelId !== undefined && PERMANENT_ERRORS.includes(m.code)) {
      void this.conn.claimRefusal({ ...m, labelId: m.labelId }).then((say) => {
        if (say) this.toast(text, true);
      });
      return;
    }
    this.toast(text, true);
  }

  private async model(modelId: string): Promise<ReplayModel> {
    const have = this.compiled.get(modelId);
    if (have) return have;
    const payload = this.payloads.get(modelId);
    if (!payload) throw new Error(`model ${modelId} was not sent`);
    this.overlay(engineLoadingText(null));
    this.engineLoading = true;
    let mj;
    try {
      mj = await mujoco((p) => {
        // Only while the loading message is still what the page shows (not an ended session's).
        if (this.engineLoading && $('overlay').textContent?.startsWith('Loading the physics engine')) this.overlay(engineLoadingText(p));
      });
    } finally {
      this.engineLoading = false;
    }
    const m = ReplayModel.compile(mj, payload);
    for (const line of m.skippedTextures) console.warn(`[prefrl viewer] ${payload.name}: ${line}`);
    this.compiled.set(modelId, m);
    return m;
  }

  /**
   * No pair for this page: none open for it now, or (`done`) the run has every answer it will use.
   * Then the pair on screen goes (its answer would be used by nothing; an answer already sent is
   * stored and acknowledged all the same) and the page says so plainly, with no "waiting".
   */
  private showIdle(done: boolean): void {
    const shown = this.current !== null && !this.current.pair.preview;
    if (done) {
      this.runDone = true;
      // Nothing to ask a name for any more.
      if (this.modal === 'name') this.closeModal();
      // A HERON preview stays on screen; "Back to labelling" then shows the thank-you.
      if (this.current?.pair.preview) return;
    } else if (shown) this.toast(ANSWERED_ELSEWHERE_LAST); // that pair was answered in another tab (see 'pair'), and none is left
    this.current = null;
    this.view.clearClips();
    this.setAnswersEnabled(false);
    if (done && shown) this.toast('The run has all the labels it needs: the pair you were looking at is no longer asked.', false, 5000);
    this.idle = !done;
    this.overlay(done ? this.doneText() : this.idleText());
  }

  /**
   * What an idle page says: when no pair in the store waits for anyone (the last progress said so),
   * the study is through for now; else the pairs left are open with others, or want someone else.
   */
  private idleText(): string {
    if (this.waiting !== 0) {
      const left = this.waiting === null ? '' : ` (${this.waiting} ${this.waiting === 1 ? 'pair waits' : 'pairs wait'} for others, or ${this.waiting === 1 ? 'is' : 'are'} open with them)`;
      return `No pairs are waiting for you right now${left}. ${LATER_PAIRS}`;
    }
    const unsent = this.conn.split().here;
    return unsent.length > 0
      ? `Every pair asked so far has the answers it needs: thank you! ${unsentText(unsent)} of yours ${unsent.length === 1 ? 'is' : 'are'} still being sent from this device (nothing is lost); keep this page open until this line says every answer is saved.`
      : `Every pair asked so far has the answers it needs: thank you! Every answer you gave is saved. ${LATER_PAIRS}`;
  }

  /** What the page says once the run has all the answers it will use. */
  private doneText(): string {
    const unsent = this.conn.split().here;
    return unsent.length > 0
      ? `This run has all the labels it needs: thank you! ${unsentText(unsent)} of yours ${unsent.length === 1 ? 'is' : 'are'} still being sent from this device (nothing is lost); keep this page open until this line says every answer is saved.`
      : 'This run has all the labels it needs: thank you! Every answer you gave is saved. You can close this page.';
  }

  private async showPair(p: PairMsg): Promise<void> {
    const model = await this.model(p.modelId);
    const clip = (s: PairMsg['left']): Clip => ({ id: s.id, length: s.length, nq: s.nq, qpos: base64ToFloat64(s.qpos) });
    this.view.setModel(model);
    $('goal').textContent = p.goal;
    this.current = { pair: p, readyAt: null };
    this.idle = false;
    if (!p.preview) this.runDone = false;
    this.view.setClips(clip(p.left), clip(p.right), p.dt);
    // Less motion asked for: the pair waits at its first step until Play (said on the page).
    const still = this.lessMotion();
    this.view.setPlaying(!still);
    $('motion-note').classList.toggle('hidden', !still);
    this.setAnswersEnabled(!p.preview);
    $('preview-banner').classList.toggle('hidden', !p.preview);
    if (p.preview) $('preview-text').textContent = `Preview of pair ${p.pairId}: A (the pair's first clip) is on the left. Answers are off.`;
    if (p.preview && this.focusPreview) $('preview-back').focus();
    this.focusPreview = false;
    this.overlay(null);
    this.announce(p.preview ? $('preview-text').textContent ?? '' : `A new pair is on screen${still ? ', stopped at its first step: press P to play it' : ''}.`);
  }

  private backToLabelling(): void {
    // The button goes out of sight: the clips keep the focus (the keys answer from there).
    if (document.activeElement === $('preview-back')) $('clips').focus();
    $('preview-banner').classList.add('hidden');
    this.current = null;
    this.view.clearClips();
    this.requestNext();
  }

  private answer(choice: Choice): void {
    const cur = this.current;
    if (!cur || cur.pair.preview || cur.readyAt === null || !this.name) return;
    const comment = $<HTMLInputElement>('comment').value.trim();
    const msg: AnswerMsg = {
      type: 'answer',
      labelId: newLabelId(),
      pairId: cur.pair.pairId,
      name: this.name,
      choice,
      responseMs: Math.max(0, Math.round(performance.now() - cur.readyAt)),
      leftIs: cur.pair.leftIs,
      ...(comment ? { comment: comment.slice(0, this.welcome?.maxCommentChars ?? 2000) } : {}),
    };
    this.flash(choice);
    this.conn.enqueue(msg);
    this.history.push({ labelId: msg.labelId, pairId: msg.pairId, name: msg.name, ...(this.conn.store !== null ? { forStore: this.conn.store } : {}) });
    if (this.history.length > 200) this.history.splice(0, this.history.length - 200);
    save(sessionStorage, HISTORY_KEY, this.history);
    this.updateUndo();
    $<HTMLInputElement>('comment').value = '';
    this.current = null;
    this.view.clearClips();
    this.setAnswersEnabled(false);
    this.overlay('Loading the next pair…', false);
    // An earlier answer not yet said (answered within moments of its pair) is said with this one.
    this.sentWords = `${this.sentWords === null ? '' : `${this.sentWords} `}${CHOICE_WORDS[choice]}: answered.`;
    this.announce('Loading the next pair…');
    this.requestNext();
  }

  private undo(): void {
    if (this.undoEnded()) {
      this.toast(UNDO_ENDED, true);
      return;
    }
    const last = this.history.pop();
    const name = last?.name ?? this.name;
    if (!last || !name) {
      if (last) this.history.push(last);
      return;
    }
    save(sessionStorage, HISTORY_KEY, this.history);
    this.updateUndo();
    // The undo goes where its answer went: to a server of the answer's store only.
    this.conn.enqueue({ type: 'undo', labelId: last.labelId, name }, last.forStore ?? this.conn.store);
    this.undoing = last.labelId;
    this.overlay('Undoing…');
  }
}

/** An idle page's last words (a `train --teacher human` run asks pairs round after round; `prefrl pairs` adds some to a served store). */
const LATER_PAIRS = 'Pairs asked later appear here by themselves.';
/** An answer in the words of its button. */
const CHOICE_WORDS: Record<Choice, string> = { left: 'Left is better', right: 'Right is better', equal: 'About equal', cant_tell: "Can't tell" };
const ANSWERED_ELSEWHERE = 'You answered that pair in another tab or window: here is your next one.';
const ANSWERED_ELSEWHERE_LAST = 'You answered that pair in another tab or window.';
const UNDO_ENDED = 'The labelling session has ended: your saved answers may already be used for training, so they cannot be undone now. Undo comes back if the server does.';

/** A control that Space presses when it has the keyboard's focus. */
function pressable(t: HTMLElement): boolean {
  return t.tagName === 'BUTTON' || (t.tagName === 'INPUT' && (t as HTMLInputElement).type === 'checkbox');
}

/** What the outbox holds, in words: "1 answer", "2 answers and 1 undo", "1 undo". */
function unsentText(entries: readonly { type: 'answer' | 'undo' }[]): string {
  const count = (type: 'answer' | 'undo') => entries.filter((e) => e.type === type).length;
  const words = (n: number, one: string) => (n === 0 ? null : `${n} ${one}${n === 1 ? '' : 's'}`);
  const parts = [words(count('answer'), 'answer'), words(count('undo'), 'undo')].filter((x): x is string => x !== null);
  return parts.length === 0 ? 'nothing' : parts.join(' and ');
}

function start(): void {
  try {
    new App();
  } catch (e) {
    document.body.textContent = `The viewer could not start: ${(e as Error).message}`;
  }
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
