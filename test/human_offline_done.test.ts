/**
 * What the people at the viewer see when `prefrl offline --teacher human` has its answers: as
 * `prefrl train --teacher human` does once its --labels budget is spent, every page is told the
 * run has the labels it needs (`idle done`: the page's thank-you) before the server closes
 * (1001), a page still showing a pair (another person's opinion, --human-overlap 2) is told it is
 * no longer asked and its lease is given back, and no pair is handed out after. A stage that ends
 * with pairs nobody answered (timeouts) does not say "done": its pages see the session end, and a
 * resume asks those pairs again.
 */
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { LabelStore } from '../reward/store.js';
import type { ServerMessage } from '../viewer/protocol.js';
import { useToyDataset } from './helpers/toy_dataset.js';
import { captureCli } from './helpers/cli.js';
import { Person, trueChoice, waitFor, startViewerRun } from './human_helpers.js';

// 8 episodes of 50 steps: 40 segments of 10 steps.
const toy = useToyDataset('prefrl-left-human-done-', 8, { wasm: true });

const isDone = (m: ServerMessage) => m.type === 'idle' && (m as { reason?: string }).reason === 'done';

it('the last answer: every page hears the run has its labels before the server closes; a page on an overlap pair gives it back; nothing is handed out after', async () => {
  const runs = join(toy.dir, 'overlap');
  const c = captureCli();
  const { running, storeFile, url } = await startViewerRun(c, ['offline', '--dataset', toy.data, '--teacher', 'human', '--human-port', '0', '--human-overlap', '2', '--labels', '2', '--label-batch', '2', '--segment-length', '10', '--stage', 'pairs,label', '--runs-dir', runs, '--quiet', '--json'], runs);
  const store = LabelStore.open(storeFile, { create: false });
  const people: Person[] = [];
  try {
    const ada = await Person.join(url, 'ada');
    const bea = await Person.join(url, 'bea');
    people.push(ada, bea);
    const judge = (p: Parameters<typeof trueChoice>[1]) => trueChoice(store, p);
    const first = await ada.take();
    await ada.answer(first, judge(first));
    // Bea takes a pair (one of the two, each wanting a second person) and keeps looking at it.
    const held = await bea.take();
    // Ada answers the other: each pair has an answer, the stage asks nothing more.
    const second = await ada.take();
    expect(second.pairId).not.toBe(ada.served[0]);
    await ada.answer(second, judge(second));
    expect(await running, c.err.join('')).toBe(0);
    // Both pages heard "done" before the close (1001), bea while a pair was on her screen.
    for (const p of people) {
      expect(await p.client.closed(), p.name).toBe(1001);
      const i = p.client.received.findIndex(isDone);
      expect(i, `${p.name}: ${p.client.received.map((m) => m.type).join(', ')}`).toBeGreaterThanOrEqual(0);
      expect(p.client.received.slice(i + 1).some((m) => m.type === 'pair'), p.name).toBe(false);
    }
    expect(bea.served).toEqual([held.pairId]);
    expect(ada.served).toHaveLength(2);
    // Hand count: 2 pairs, 2 answers (ada's), each pair wanting a second person: 2 left open; bea's lease taken back.
    expect(store.counts()).toMatchObject({ pairs: 2, labels: 2, unlabelled: 0, waitingForPeople: 2, activeLeases: 0 });
    const err = c.err.join('');
    expect(err).toContain(
      `human teacher: the label stage has an answer to each of its 2 pairs: the viewer hands out no more pairs and tells its pages the run has the labels it needs; 2 pairs left open stay in ${storeFile} for prefrl serve (1 taken back from pages showing it)`,
    );
  } finally {
    for (const p of people) p.client.ws.terminate();
    store.close();
  }
}, 120_000);

it('a stage that ends with a pair nobody answered (timeout) does not tell the pages "done": they see the session end', async () => {
  const clock = new ManualClock();
  const runs = join(toy.dir, 'timeout');
  const c = captureCli(clock);
  const { running, storeFile, url } = await startViewerRun(c, ['offline', '--dataset', toy.data, '--teacher', 'human', '--human-port', '0', '--human-timeout', '5', '--labels', '2', '--label-batch', '2', '--segment-length', '10', '--stage', 'pairs,label', '--runs-dir', runs, '--quiet', '--json'], runs);
  const store = LabelStore.open(storeFile, { create: false, clock });
  let ada: Person | null = null;
  try {
    ada = await Person.join(url, 'ada');
    await ada.answer(await ada.take(), 'left');
    // She holds the second pair past the 5 s timeout.
    await ada.take();
    await waitFor('the answer stored', () => store.counts().labels === 1);
    clock.advance(6000);
    expect(await running, c.err.join('')).toBe(0);
    expect(await ada.client.closed()).toBe(1001);
    expect(ada.client.received.some(isDone)).toBe(false);
    expect(store.counts()).toMatchObject({ pairs: 2, timeouts: 1, unlabelled: 1 });
    expect(c.err.join('')).not.toContain('the label stage has an answer to each');
  } finally {
    ada?.client.ws.terminate();
    store.close();
  }
}, 120_000);
