/**
 * The end of asking: once the run a labelling server works for asks no more (the human teacher's
 * --labels budget spent), the server hands out no pair, gives back the pairs its pages show and
 * tells every page `idle done`, also one that connects later; answers already on their way are
 * stored and acknowledged. Pages are scripted WebSocket clients.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../core/clock.js';
import { Logger } from '../../core/log.js';
import { HumanTeacher } from '../../reward/teachers/human.js';
import { parseServerMessage } from '../../viewer/protocol.js';
import { ViewerServer } from '../../viewer/server.js';
import { serverFixture, TestClient } from './helpers.js';

const fx = serverFixture('viewer-done');
const { newStore, start } = fx;

async function page(url: string, name?: string): Promise<TestClient> {
  const c = await TestClient.open(url);
  await c.hello(name === undefined ? {} : { name });
  return c;
}

describe('the server once the run asks no more (stopHandingOut)', () => {
  it('pages showing a pair are told done and their pairs go back to the store, open; an answer sent before it heard is stored and acknowledged; no page gets a pair again', async () => {
    const store = newStore();
    store.putPairs(fx.pairs.slice(0, 3), { round: 0 });
    const s = await start(store);
    const ada = await page(s.url, 'ada');
    const bob = await page(s.url, 'bob');
    ada.send({ type: 'next' });
    const pa = await ada.next('pair');
    bob.send({ type: 'next' });
    const pb = await bob.next('pair');
    expect(pb.pairId).not.toBe(pa.pairId);
    // Ada's answer is on its way when the run stops asking (sent first, handled first).
    ada.send({ type: 'answer', labelId: 'h-ada-late-0000001', pairId: pa.pairId, name: 'ada', choice: 'left', responseMs: 900, leftIs: pa.leftIs });
    await ada.next('ack');
    expect(s.handsOut).toBe(true);
    // Ada's pair was answered (its lease went with the answer): bob's alone is given back.
    expect(s.stopHandingOut()).toBe(1);
    expect(s.handsOut).toBe(false);
    expect(s.stopHandingOut()).toBe(0);
    expect(await ada.next('idle')).toEqual({ type: 'idle', reason: 'done' });
    expect(await bob.next('idle')).toEqual({ type: 'idle', reason: 'done' });
    // Bob's answer, given before his page heard (in flight), is stored and acknowledged too.
    bob.send({ type: 'answer', labelId: 'h-bob-late-0000001', pairId: pb.pairId, name: 'bob', choice: 'right', responseMs: 800, leftIs: pb.leftIs });
    expect(await bob.next('ack')).toMatchObject({ labelId: 'h-bob-late-0000001', pairId: pb.pairId, duplicate: false });
    expect(store.labels().map((l) => [l.teacher, l.pairId])).toEqual([
      ['human:ada', pa.pairId],
      ['human:bob', pb.pairId],
    ]);
    // Asking again gets done, not a pair; the third pair stays in the store, open, for a prefrl serve.
    bob.send({ type: 'next' });
    expect(await bob.next('idle')).toEqual({ type: 'idle', reason: 'done' });
    expect(store.counts()).toMatchObject({ pairs: 3, labels: 2, waitingForPeople: 1 });
    // Nothing is leased any more: another teacher of the store gets the open pair at once.
    const third = fx.pairs.slice(0, 3).find((p) => p.id !== pa.pairId && p.id !== pb.pairId)!;
    expect(store.nextPairFor('human:cy', { leaseMs: 60_000 })?.pair.id).toBe(third.id);
    // Idle polling hands out nothing either: no pair reached any page after done.
    await new Promise((r) => setTimeout(r, 200));
    for (const c of [ada, bob]) expect(c.received.filter((m) => m.type === 'pair')).toHaveLength(1);
  });

  it('a page that connects later is told done right after its welcome, with or without a name; an undo of an answer the run did not take is done and hands no pair back', async () => {
    const store = newStore();
    store.putPairs(fx.pairs.slice(0, 2), { round: 0 });
    const s = await start(store);
    const ada = await page(s.url, 'ada');
    ada.send({ type: 'next' });
    const pa = await ada.next('pair');
    s.stopHandingOut();
    await ada.next('idle');
    // Sent after the end (the page kept it in its outbox while offline, say): stored and acknowledged.
    ada.send({ type: 'answer', labelId: 'h-ada-after-000001', pairId: pa.pairId, name: 'ada', choice: 'equal', responseMs: 500, leftIs: pa.leftIs });
    await ada.next('ack');
    // Not locked (no run took it): it can be undone, and the pair is not handed back.
    ada.send({ type: 'undo', labelId: 'h-ada-after-000001', name: 'ada' });
    expect(await ada.next('undone')).toMatchObject({ labelId: 'h-ada-after-000001', pairId: pa.pairId });
    expect(await ada.next('idle')).toEqual({ type: 'idle', reason: 'done' });
    expect(ada.received.filter((m) => m.type === 'pair')).toHaveLength(1);
    expect(store.counts().labels).toBe(0);
    for (const name of ['cy', undefined]) {
      const c = await TestClient.open(s.url);
      c.send({ type: 'hello', v: 1, ...(name ? { name } : {}) });
      await c.next('welcome');
      expect(await c.next('idle')).toEqual({ type: 'idle', reason: 'done' });
      // Unasked, in this order: welcome, progress, idle done.
      expect(c.received.map((m) => m.type)).toEqual(['welcome', 'progress', 'idle']);
      c.close();
    }
  });

  it('resumeHandingOut (the run asks again): the pages told done get pairs pushed as idle pages do', async () => {
    const store = newStore();
    store.putPairs(fx.pairs.slice(0, 1), { round: 0 });
    const s = await start(store);
    const ada = await page(s.url, 'ada');
    s.stopHandingOut();
    await ada.next('idle');
    s.resumeHandingOut();
    expect(s.handsOut).toBe(true);
    expect((await ada.next('pair')).pairId).toBe(fx.pairs[0].id);
  });

  it('the protocol takes "done" as an idle reason and still refuses unknown ones', () => {
    expect(parseServerMessage('{"type":"idle","reason":"done"}')).toEqual({ ok: true, msg: { type: 'idle', reason: 'done' } });
    const bad = parseServerMessage('{"type":"idle","reason":"finished"}');
    expect(bad).toMatchObject({ ok: false, message: expect.stringContaining('idle.reason must be "no_pairs", "need_name" or "done"') });
  });
});

describe('the human teacher with the run\'s budget', () => {
  it('hands back the batch that spends the budget, then its server hands out no more: a page holding an older open pair is told done, and its answer in flight is kept', async () => {
    const store = newStore();
    // An older pair left open (a timed-out one, say), handed out first (same round, stored first).
    const [older, a, b] = fx.pairs.slice(0, 3);
    store.putPairs([older], { round: 0 });
    const lines: string[] = [];
    const logger = new Logger({ write: (line: string) => lines.push(line) });
    const t = new HumanTeacher({ store, env: { id: 'toy-reach' }, port: 0, staticDir: fx.site, timeoutS: 0, pollMs: 20, budget: 2, logger, clock: new ManualClock() });
    fx.closeFirst(t);
    expect(() => new HumanTeacher({ store, env: { id: 'toy-reach' }, budget: 0 })).toThrow('human teacher: budget must be an integer >= 1, got 0');
    const pending = t.label([a, b]);
    while (t.url === null) await new Promise((r) => setTimeout(r, 20));
    const bob = await page(t.url, 'bob');
    bob.send({ type: 'next' });
    expect((await bob.next('pair')).pairId).toBe(older.id);
    const ada = await page(t.url, 'ada');
    const got = [
      await ada.answerNext({ name: 'ada', labelId: 'h-ada-budget-00001', choice: 'left', responseMs: 700 }),
      await ada.answerNext({ name: 'ada', labelId: 'h-ada-budget-00002', choice: 'right', responseMs: 700 }),
    ];
    expect(got.map((p) => p.pairId).sort()).toEqual([a.id, b.id].sort());
    const labels = await pending;
    expect(labels.map((l) => l.teacher)).toEqual(['human:ada', 'human:ada']);
    // 2 answers of a budget of 2: bob, on the older pair, and ada are told done.
    expect(await bob.next('idle')).toEqual({ type: 'idle', reason: 'done' });
    ada.send({ type: 'next' });
    expect(await ada.next('idle')).toEqual({ type: 'idle', reason: 'done' });
    bob.send({ type: 'answer', labelId: 'h-bob-budget-00001', pairId: older.id, name: 'bob', choice: 'equal', responseMs: 900 });
    expect(await bob.next('ack')).toMatchObject({ pairId: older.id, duplicate: false });
    expect(store.counts()).toMatchObject({ pairs: 3, labels: 3, waitingForPeople: 0 });
    expect(lines.join('')).toContain(
      'human teacher: the --labels budget is spent (2 of 2 answers): the viewer hands out no more pairs and tells its pages the run has the labels it needs; 1 pair left open stays in',
    );
    expect(lines.join('')).toContain('(1 taken back from pages showing it)');
  });

  it('a batch that leaves the budget unspent keeps the pairs going out', async () => {
    const store = newStore();
    const [older, a] = fx.pairs.slice(0, 2);
    store.putPairs([older], { round: 0 });
    const t = new HumanTeacher({ store, env: { id: 'toy-reach' }, port: 0, staticDir: fx.site, timeoutS: 0, pollMs: 20, budget: 2, clock: new ManualClock() });
    fx.closeFirst(t);
    const pending = t.label([a]);
    while (t.url === null) await new Promise((r) => setTimeout(r, 20));
    const ada = await page(t.url, 'ada');
    // The older pair first (stored first in the same round), then the batch's.
    expect((await ada.answerNext({ name: 'ada', labelId: 'h-ada-open-000001', choice: 'left', responseMs: 700 })).pairId).toBe(older.id);
    expect((await ada.answerNext({ name: 'ada', labelId: 'h-ada-open-000002', choice: 'left', responseMs: 700 })).pairId).toBe(a.id);
    await pending;
    // 2 answers of 2: done. A budget of 3 would have left it going: see the next teacher.
    ada.send({ type: 'next' });
    expect(await ada.next('idle')).toEqual({ type: 'idle', reason: 'done' });

    const store2 = newStore();
    store2.putPairs([older], { round: 0 });
    const t2 = new HumanTeacher({ store: store2, env: { id: 'toy-reach' }, port: 0, staticDir: fx.site, timeoutS: 0, pollMs: 20, budget: 3, clock: new ManualClock() });
    fx.closeFirst(t2);
    const pending2 = t2.label([a]);
    while (t2.url === null) await new Promise((r) => setTimeout(r, 20));
    const bob = await page(t2.url, 'bob');
    expect((await bob.answerNext({ name: 'bob', labelId: 'h-bob-open-000001', choice: 'left', responseMs: 700 })).pairId).toBe(older.id);
    expect((await bob.answerNext({ name: 'bob', labelId: 'h-bob-open-000002', choice: 'left', responseMs: 700 })).pairId).toBe(a.id);
    await pending2;
    // 2 of 3: the run asks again later; meanwhile the page waits (no_pairs), it is not told done.
    bob.send({ type: 'next' });
    expect(await bob.next('idle')).toEqual({ type: 'idle', reason: 'no_pairs' });
  });
});

describe('a page that comes while the server stops', () => {
  it('is refused (503), and close() still returns: it used to wait for that page\'s socket for good', async () => {
    const store = newStore();
    const s = await ViewerServer.start({ store, env: fx.env, port: 0, staticDir: fx.site, pollMs: 50 });
    const slow = await page(s.url, 'ada');
    // Ada's page reads nothing (a phone gone quiet): close() waits its 500 ms grace for her.
    slow.ws.pause();
    let done = false;
    const closing = s.close().then(() => (done = true));
    await expect(TestClient.open(s.url)).rejects.toThrow('HTTP 503');
    await closing;
    expect(done).toBe(true);
    expect(s.connections).toBe(0);
    slow.ws.terminate();
  });
});
