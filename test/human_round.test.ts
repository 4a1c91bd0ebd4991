/**
 * The rules of a round taught by two people at once, in a whole `prefrl train --teacher human`
 * run: a person who leaves holding a pair gives it back to the other; an answer undone within the
 * round is replaced by the corrected one; a pair nobody answers times out to a skip that does not
 * spend the budget, and a person's answer to it after the timeout is kept and counted. The run's
 * metrics, summary and `prefrl labels stats` count it all as hand-counted below.
 *
 * The run reads a ManualClock (captureCli's): the human teacher's idle timeout runs out only when
 * the test moves the clock, however slow the machine.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { LabelStore } from '../reward/store.js';
import { HumanTeacher } from '../reward/teachers/human.js';
import { main } from '../scripts/cli.js';
import { captureCli, lastJson } from './helpers/cli.js';
import { makePairs } from './viewer/helpers.js';
import { humanTestDir, Person, roundCounts, runFolder, tinyTrainFlags, trueChoice, trueProbFirst, type Choice, waitFor, startViewerRun } from './human_helpers.js';

const TINY = tinyTrainFlags();

const dir = humanTestDir('round');

const opposite = (c: Choice): Choice => (c === 'left' ? 'right' : c === 'right' ? 'left' : c);

it('two people, one leaving with a pair, an undo, a timeout and an answer after it: every label lands where the rules say and is counted so', async () => {
  const clock = new ManualClock();
  const runs = join(dir(), 'runs');
  const c = captureCli(clock);
  // Rounds of 4 at 1024, 2048 and 3072 env steps; 5 s without an answer times a round out.
  const { running, storeFile, url } = await startViewerRun(c, ['train', ...TINY, '--teacher', 'human', '--human-port', '0', '--human-timeout', '5', '--labels', '12', '--labels-per-round', '4', '--runs-dir', runs, '--quiet', '--json'], runs);
  expect(url).toMatch(/^http:/);
  // The test's own look at the store, on the run's clock (leases expire by it).
  const store = LabelStore.open(storeFile, { create: false, clock });
  const runDir = runFolder(runs)!;
  try {
    const judge = (p: Parameters<typeof trueChoice>[1]) => trueChoice(store, p);
    const ada = await Person.join(url, 'ada');
    const bob = await Person.join(url, 'bob');

    // Round 0 (4 pairs). Bob can't tell the first pair he is served, takes a second and leaves with it.
    const b1 = await bob.take();
    await bob.answer(b1, 'cant_tell');
    const b2 = await bob.take();
    expect(b2.pairId).not.toBe(b1.pairId);
    await bob.leave();
    // His pair is given back at once (not when its 5-minute lease runs out).
    await waitFor("bob's lease to be given back", () => store.counts().activeLeases === 0);
    // Ada answers her first pair wrongly, undoes it (the round is still open) and answers again.
    const a1 = await ada.take();
    const wrong = await ada.answer(a1, opposite(judge(a1)));
    const again = await ada.undo(wrong);
    expect(again.pairId).toBe(a1.pairId);
    await ada.answer(again, judge(again));
    // Then she is served the rest of the round, bob's pair among them.
    const round0 = new Set([b1.pairId, a1.pairId]);
    while (round0.size < 4) {
      const p = await ada.take();
      expect(round0.has(p.pairId), `${p.pairId} served twice`).toBe(false);
      round0.add(p.pairId);
      await ada.answer(p, judge(p));
    }
    expect(round0.has(b2.pairId)).toBe(true);
    expect(store.getLabel(wrong)).toBeUndefined();
    const undoLog = readFileSync(`${storeFile}.undo.jsonl`, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(undoLog).toMatchObject([{ labelId: wrong, pairId: a1.pairId, teacher: 'human:ada' }]);

    // Round 1 (4 pairs): ada answers three and holds the fourth past the timeout.
    const round1: string[] = [];
    for (let i = 0; i < 3; i++) {
      const p = await ada.take();
      expect(round0.has(p.pairId)).toBe(false);
      round1.push(p.pairId);
      await ada.answer(p, judge(p));
    }
    const held = await ada.take();
    round1.push(held.pairId);
    // Once the teacher has seen the three answers, 6 s pass on the run's clock with no new one.
    await waitFor("round 1's three answers", () => store.labels().filter((l) => l.teacher === 'human:ada').length === 6);
    clock.advance(6000);
    await waitFor('the held pair to time out', () => store.counts().timeouts === 1);
    expect(store.labels().filter((l) => l.timeout)).toMatchObject([{ pairId: held.pairId, teacher: 'human', kind: 'skip', reason: 'no answer within 5 s (human teacher timeout)' }]);
    // Round 1 is logged with the timeout as its one skip; then ada's late answer is taken and kept.
    await waitFor("round 1's metrics", () => existsSync(join(runDir, 'metrics.jsonl')) && roundCounts(runDir).length === 2);
    const late = await ada.answer(held, judge(held));
    expect(store.getLabel(late)).toMatchObject({ pairId: held.pairId, teacher: 'human:ada', kind: 'preference', probFirst: trueProbFirst(store, held.pairId) });

    // Round 2: the 4 pairs the budget has left (12 - 8 answers), none asked before.
    const rest = await ada.answerAll(judge);
    expect(rest).toBe(4);
    expect(await running, c.err.join('')).toBe(0);
    expect(ada.served.filter((id) => round0.has(id) || round1.includes(id))).toHaveLength(8); // a1 twice (undo), 2 more of round 0, 4 of round 1 (held once)

    // Hand count. Labels: round 0: bob's skip + 3 of ada's; round 1: 3 of ada's + the timeout
    // skip + ada's late answer; round 2: 4 of ada's. 13 labels, 1 of them a timeout: 12 answers.
    expect(roundCounts(runDir)).toEqual([
      [4, 1], // bob's "can't tell"
      [7, 1], // the timeout (ada's late answer came after the round)
      [12, 0],
    ]);
    expect(lastJson<{ labelsUsed: number }>(c.out).labelsUsed).toBe(12);
    for (const l of store.labels()) {
      if (l.teacher === 'human:ada') expect(l, l.pairId).toMatchObject({ kind: 'preference', probFirst: trueProbFirst(store, l.pairId) });
    }
    const s = captureCli();
    expect(await main(['labels', 'stats', '--store', storeFile, '--json'], s.ctx), s.err.join('')).toBe(0);
    const stats = lastJson<{ teachers: { teacher: string; labels: number; preferences: number; skips: number; agreementWithTrueReturn: number | null }[] } & Record<string, unknown>>(s.out);
    expect(stats).toMatchObject({ pairs: 12, labels: 13, preferences: 11, ties: 0, skips: 2, timeouts: 1, pending: 0, waitingForPeople: 0 });
    expect(stats.teachers.map((t) => [t.teacher, t.labels, t.preferences, t.skips])).toEqual([
      ['human:ada', 11, 11, 0],
      ['human', 1, 0, 1],
      ['human:bob', 1, 0, 1],
    ]);
    expect(stats.teachers[0].agreementWithTrueReturn).toBe(1);
  } finally {
    store.close();
  }
}, 120_000);

it('an answer given after its pair timed out is taken by training with the next batch, so it is locked against undo then, as the batch\'s own answers are', async () => {
  const store = LabelStore.open(join(dir(), 'late.sqlite'));
  const clock = new ManualClock();
  const teacher = new HumanTeacher({ store, env: { id: 'toy-reach' }, port: 0, timeoutS: 5, pollMs: 20, clock });
  try {
    const [p0, p1] = await makePairs('toy-reach', { episodes: 2, steps: 40, length: 10 });
    const first = teacher.label([p0]);
    const url = await waitFor('the viewer', () => teacher.url);
    const ada = await Person.join(url, 'ada');
    const held = await ada.take();
    expect(held.pairId).toBe(p0.id);
    clock.advance(6000); // nobody answers p0 within 5 s
    expect(await first).toMatchObject([{ pairId: p0.id, teacher: 'human', kind: 'skip', timeout: true }]);
    // Ada answers it now: kept, and an answer (the training loop reads every stored label).
    const late = await ada.answer(held, trueChoice(store, held));
    const second = teacher.label([p1]);
    const p = await ada.take();
    expect(p.pairId).toBe(p1.id);
    const own = await ada.answer(p, trueChoice(store, p));
    expect((await second).map((l) => l.id)).toEqual([own]);
    // Both answers now go to training: neither can be undone.
    for (const id of [own, late]) {
      ada.client.send({ type: 'undo', labelId: id, name: 'ada' });
      expect(await ada.client.next('error'), id).toMatchObject({ code: 'not_allowed', labelId: id, message: 'this answer was already passed to training and cannot be undone' });
      expect(store.getLabel(id), id).toBeDefined();
    }
    await ada.leave();
  } finally {
    await teacher.close();
    store.close();
  }
});
