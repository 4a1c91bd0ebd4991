/**
 * Which tab says a refusal several tabs of one browser heard (net.ts SayOnce), decided with Web
 * Locks where the browser has them, without a browser: the lock manager is a stand-in that grants
 * an ifAvailable request to one caller at most (as the browser does, atomically), the timers run
 * by hand. Checked: one tab says it whatever the order the tabs hear it in (the maker when it asks
 * within SAY_WAIT_MS of the others), the same refusal heard again while the lock is held is not
 * said, a browser that refuses locks falls back to the storage claims, and a page without Web
 * Locks uses the storage claims (whose limit, a claim that reaches the other tab only after its
 * wait, is shown too). The storage claims' own rules: client_net.test.ts.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SAID_PREFIX, SAY_WAIT_MS, SayOnce } from '../../viewer/client/net.js';
import { MemoryStorage } from './memory_storage.js';

/** A browser's lock manager, for exclusive ifAvailable requests (all SayOnce makes). */
class FakeLocks {
  readonly held = new Set<string>();
  readonly asked: string[] = [];
  async request(name: string, options: { ifAvailable?: boolean }, callback: (lock: { name: string; mode: 'exclusive' } | null) => unknown): Promise<unknown> {
    this.asked.push(name);
    if (!options.ifAvailable) throw new Error('FakeLocks: only ifAvailable requests are modelled');
    if (this.held.has(name)) return callback(null);
    this.held.add(name);
    try {
      return await callback({ name, mode: 'exclusive' });
    } finally {
      this.held.delete(name);
    }
  }
}

/** A browser that has Web Locks but refuses them here (as a partitioned or opaque origin does). */
const refusingLocks = {
  asked: 0,
  request(): Promise<never> {
    this.asked++;
    return Promise.reject(Object.assign(new Error('The request was denied.'), { name: 'SecurityError' }));
  },
};

const storage = new MemoryStorage();
/** Timers the code set, run by hand: [ms, fn], in the order set. */
const timers: { ms: number; fn: () => void }[] = [];
const win: { localStorage: unknown; setTimeout: (fn: () => void, ms: number) => number; navigator?: unknown } = {
  localStorage: storage,
  setTimeout: (fn, ms) => timers.push({ ms, fn }),
};
let saved: unknown;

beforeAll(() => {
  saved = (globalThis as Record<string, unknown>).window;
  (globalThis as Record<string, unknown>).window = win;
});
afterAll(() => {
  (globalThis as Record<string, unknown>).window = saved;
});
beforeEach(() => {
  storage.items.clear();
  timers.length = 0;
  delete win.navigator;
});

/** Let the pending promise callbacks run (the lock requests and their replies). */
const settle = () => new Promise<void>((r) => setImmediate(r));

/** Run the first timer set for `ms` not yet run. */
function fire(ms: number): void {
  const i = timers.findIndex((t) => t.ms === ms);
  if (i < 0) throw new Error(`no ${ms} ms timer (have ${timers.map((t) => t.ms).join(', ')})`);
  const [t] = timers.splice(i, 1);
  t.fn();
}

const asLocks = (l: unknown) => l as LockManager;
const KEEP_MS = 60_000;

describe('SayOnce with Web Locks', () => {
  it('heard at the same moment: the tab that made the entry asks at once and says it; the other, after its wait, finds the lock taken', async () => {
    const locks = new FakeLocks();
    const a = new SayOnce('tab-a', SAY_WAIT_MS, SAID_PREFIX, asLocks(locks));
    const b = new SayOnce('tab-b', SAY_WAIT_MS, SAID_PREFIX, asLocks(locks));
    const what = 'h-tab-b-0005:conflict';
    const pa = a.claim(what, false);
    const pb = b.claim(what, true);
    expect(await pb).toBe(true);
    // B holds the lock SAY_KEEP_MS; A waits SAY_WAIT_MS before it asks.
    expect(timers.map((t) => t.ms).sort((x, y) => x - y)).toEqual([SAY_WAIT_MS, KEEP_MS]);
    expect([...locks.held]).toEqual([`${SAID_PREFIX}${what}`]);
    fire(SAY_WAIT_MS);
    expect(await pa).toBe(false);
    expect(locks.asked).toEqual([`${SAID_PREFIX}${what}`, `${SAID_PREFIX}${what}`]);
    // No storage claim is written on this path.
    expect(storage.items.size).toBe(0);
  });

  it('the maker hears it only after the other tab asked (a loaded machine): the other says it, the maker does not; said once', async () => {
    const locks = new FakeLocks();
    const a = new SayOnce('tab-a', SAY_WAIT_MS, SAID_PREFIX, asLocks(locks));
    const b = new SayOnce('tab-b', SAY_WAIT_MS, SAID_PREFIX, asLocks(locks));
    const pa = a.claim('h-tab-b-0006:conflict', false);
    fire(SAY_WAIT_MS);
    expect(await pa).toBe(true);
    expect(await b.claim('h-tab-b-0006:conflict', true)).toBe(false);
    // The maker did not wait: only A's hold is pending.
    expect(timers.map((t) => t.ms)).toEqual([KEEP_MS]);
  });

  it('neither tab made it (the maker closed): the first to ask after its wait says it', async () => {
    const locks = new FakeLocks();
    const tabs = ['tab-b', 'tab-a', 'tab-c'].map((t) => new SayOnce(t, SAY_WAIT_MS, SAID_PREFIX, asLocks(locks)));
    const said = tabs.map((t) => t.claim('h-tab-x-0007:not_found', false));
    expect(timers.map((t) => t.ms)).toEqual([SAY_WAIT_MS, SAY_WAIT_MS, SAY_WAIT_MS]);
    // The waits end in the order B, A, C.
    for (let i = 0; i < 3; i++) timers[i].fn();
    expect(await Promise.all(said)).toEqual([true, false, false]);
  });

  it('heard again while the lock is held (another re-send, any tab): not said; once the hold ends, a new hearing is said', async () => {
    const locks = new FakeLocks();
    const what = 'h-tab-a-0008:not_found';
    const a = new SayOnce('tab-a', SAY_WAIT_MS, SAID_PREFIX, asLocks(locks));
    expect(await a.claim(what, true)).toBe(true);
    expect(await a.claim(what, true)).toBe(false);
    const later = new SayOnce('tab-b', SAY_WAIT_MS, SAID_PREFIX, asLocks(locks)).claim(what, false);
    fire(SAY_WAIT_MS);
    expect(await later).toBe(false);
    // Another refusal is another lock.
    expect(await a.claim('h-tab-a-0009:not_found', true)).toBe(true);
    // SAY_KEEP_MS on, the first hold ends (the release runs once the timer fires).
    fire(KEEP_MS);
    await settle();
    expect([...locks.held]).toEqual([`${SAID_PREFIX}h-tab-a-0009:not_found`]);
    expect(await a.claim(what, true)).toBe(true);
  });

  it('a browser that refuses the lock: the storage claims decide (the claim is written, alone it says it)', async () => {
    refusingLocks.asked = 0;
    const a = new SayOnce('tab-a', SAY_WAIT_MS, SAID_PREFIX, asLocks(refusingLocks));
    const said = a.claim('h-tab-a-0010:conflict', true);
    await settle();
    expect(refusingLocks.asked).toBe(1);
    expect([...storage.items.keys()]).toEqual([`${SAID_PREFIX}h-tab-a-0010:conflict|tab-a`]);
    fire(SAY_WAIT_MS);
    expect(await said).toBe(true);
  });

  it("takes the page's navigator.locks when there is one, and the storage claims when there is none", async () => {
    const locks = new FakeLocks();
    win.navigator = { locks };
    expect(await new SayOnce('tab-a').claim('h-tab-a-0011:conflict', true)).toBe(true);
    expect(locks.asked).toEqual([`${SAID_PREFIX}h-tab-a-0011:conflict`]);
    expect(storage.items.size).toBe(0);
    win.navigator = {};
    const plain = new SayOnce('tab-a').claim('h-tab-a-0012:conflict', true);
    expect([...storage.items.keys()]).toEqual([`${SAID_PREFIX}h-tab-a-0012:conflict|tab-a`]);
    fire(SAY_WAIT_MS);
    expect(await plain).toBe(true);
    expect(locks.asked).toHaveLength(1);
  });
});

describe('SayOnce without Web Locks (plain http from another machine)', () => {
  it("the storage claims' limit: when each tab's claim reaches the other only after its wait, both say it", async () => {
    // Two tabs, each with its own copy of the storage; the other's claim never arrives in time.
    const viewA = new MemoryStorage();
    const viewB = new MemoryStorage();
    const a = new SayOnce('tab-a', SAY_WAIT_MS, SAID_PREFIX, null);
    const b = new SayOnce('tab-b', SAY_WAIT_MS, SAID_PREFIX, null);
    win.localStorage = viewA;
    const pa = a.claim('h-tab-b-0013:conflict', false);
    win.localStorage = viewB;
    const pb = b.claim('h-tab-b-0013:conflict', true);
    try {
      win.localStorage = viewA;
      timers[0].fn();
      const ra = await pa;
      win.localStorage = viewB;
      timers[1].fn();
      expect([ra, await pb]).toEqual([true, true]);
    } finally {
      win.localStorage = storage;
    }
  });
});
