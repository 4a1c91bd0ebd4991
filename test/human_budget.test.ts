/**
 * The --labels budget of a `prefrl train --teacher human` run when a person answers a pair asked
 * before (here: after its timeout) while the last round's pairs are out. The run asks no pair
 * beyond the budget (the timed-out pair is asked again in its place, as a timeout skip is not an
 * answer), the late answer is kept and trained on, and the run says it went over, and why: in the
 * round's log line, a warning at the end and the summary's labelsOverBudget.
 *
 * The run reads a ManualClock (captureCli's): the human teacher's idle timeout runs out only when
 * the test moves the clock, however slow the machine.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { Logger } from '../core/log.js';
import { createRunDir } from '../core/run.js';
import { runPreferenceLoop } from '../reward/loop.js';
import { segmentReturn } from '../reward/segments.js';
import { LabelStore, TIMEOUT_SKIP_TAG } from '../reward/store.js';
import { labelHead } from '../reward/teachers/synthetic.js';
import type { Label, Teacher } from '../reward/types.js';
import { captureCli, lastJson } from './helpers/cli.js';
import { humanTestDir, Person, roundCounts, startViewerRun, tinyTrainFlags, trueChoice, waitFor } from './human_helpers.js';

const TINY = tinyTrainFlags(3072);

const dir = humanTestDir('budget');

it('an answer to a timed-out pair given while the last round is out: kept and trained on, no pair asked beyond --labels, and the run says it is 1 over and why', async () => {
  const clock = new ManualClock();
  const runs = join(dir(), 'runs');
  const c = captureCli(clock);
  // --labels 7 in rounds of 4: round 0 at 1024 env steps asks 4, round 1 at 2048 what is left.
  const run = await startViewerRun(c, ['train', ...TINY, '--teacher', 'human', '--human-port', '0', '--human-timeout', '5', '--labels', '7', '--labels-per-round', '4', '--runs-dir', runs, '--json'], runs);
  const { running, storeFile, url, runDir } = run;
  const store = LabelStore.open(storeFile, { create: false, clock });
  try {
    const judge = (p: Parameters<typeof trueChoice>[1]) => trueChoice(store, p);
    const ada = await Person.join(url, 'ada');
    // Round 0: ada answers 3 of the 4 pairs and holds the 4th past the 5 s timeout.
    for (let i = 0; i < 3; i++) {
      const p = await ada.take();
      expect(p.round).toBe(0);
      await ada.answer(p, judge(p));
    }
    const held = await ada.take();
    expect(held.round).toBe(0);
    await waitFor("round 0's three answers", () => store.labels().filter((l) => l.teacher === 'human:ada').length === 3);
    clock.advance(6000);
    await waitFor('the held pair to time out', () => store.counts().timeouts === 1);
    await waitFor("round 0's metrics", () => existsSync(join(runDir, 'metrics.jsonl')) && roundCounts(runDir).length === 1);

    // Round 1 asks 4 pairs: 7 - 3 answers (the timeout does not spend the budget).
    await waitFor('round 1', () => run.stillRunning() ?? store.pendingPairIds({ round: 1 }).length === 4);
    // While they are out, ada answers the pair she held: the 4th answer, kept.
    const late = await ada.answer(held, judge(held));
    expect(store.getLabel(late)).toMatchObject({ pairId: held.pairId, teacher: 'human:ada', kind: 'preference' });
    // Then she answers round 1's 4 pairs; the run asks nothing more and ends.
    const served = ada.served.length;
    expect(await ada.answerAll(judge)).toBe(4);
    expect(ada.served.slice(served).every((id) => store.pairInfo(id)?.round === 1)).toBe(true);
    expect(await running, c.err.join('')).toBe(0);

    // Hand count. Pairs asked: 4 + 4 = 8, the budget of 7 and 1 in place of the timed-out one.
    // Answers: 3 + the late one + 4 = 8, one over the 7; labels: those and the timeout skip.
    expect(store.counts()).toMatchObject({ pairs: 8, labels: 9, timeouts: 1, pending: 0 });
    expect(roundCounts(runDir)).toEqual([
      [3, 1], // the timeout
      [8, 0], // 3 + 1 late + 4
    ]);
    const summary = lastJson<{ labelsUsed: number; labelsOverBudget?: number }>(c.out);
    expect(summary.labelsUsed).toBe(8);
    expect(summary.labelsOverBudget).toBe(1);
    const err = c.err.join('');
    expect(err).toContain('round 1: 8/7 labels (1 over the --labels budget: people\'s answers to pairs asked before, after their timeout or left open by a stopped run, are kept and trained on)');
    expect(err).toContain(
      `the reward model was trained on 8 answers, 1 more than the 7 of the --labels budget: no more pairs were asked than it allows (each one nobody answered in time was asked again in its place), but people also answered pairs asked before (after their timeout, or left open by a stopped run), and every answer a person gave is kept (${storeFile})`,
    );
    // Round 0's line says nothing of it: it was within the budget.
    expect(err).not.toMatch(/round 0: [^\n]*over the --labels budget/);
  } finally {
    store.close();
  }
}, 120_000);

it("an answer stored between two rounds (a person answering an older pair) counts before the next round's share is fixed: that round asks only what the budget has left", async () => {
  const root = join(dir(), 'between');
  const run = createRunDir({ root, name: 'between', config: {} });
  const store = LabelStore.open(join(run.path, 'labels.sqlite'));
  const asked: number[] = [];
  let timedOut: string | null = null;
  // Round 0 as the human teacher ends it when nobody answers its last pair: 3 answers and a timeout skip.
  const teacher: Teacher = {
    id: 'human',
    label: async (pairs) => {
      asked.push(pairs.length);
      return pairs.map((p, i): Label => {
        if (asked.length === 1 && i === pairs.length - 1) {
          timedOut = p.id;
          return { kind: 'skip', ...labelHead('human', p.id), reason: `no answer within 5 s ${TIMEOUT_SKIP_TAG}`, timeout: true } as Label;
        }
        const [a, b] = [segmentReturn(p.a), segmentReturn(p.b)];
        return { kind: 'preference', ...labelHead('human', p.id), probFirst: a > b ? 1 : a < b ? 0 : 0.5 };
      });
    },
  };
  // Right after round 0 (its log line), ada answers the pair that timed out, as she may in the viewer.
  const lines: string[] = [];
  const logger = new Logger({
    write: (line: string) => {
      lines.push(line);
      if (/round 0: 3\/7 labels/.test(line)) {
        store.putTeacher({ id: 'human:ada', kind: 'human', config: { name: 'ada', via: 'viewer' } });
        store.addLabels([{ kind: 'preference', ...labelHead('human:ada', timedOut!), probFirst: 1 }]);
      }
    },
  });
  try {
    const summary = await runPreferenceLoop({
      env: { id: 'toy-reach' },
      ppo: { totalSteps: 3072, seed: 0, numEnvs: 2, numSteps: 256, workers: 0 },
      reward: 'learned',
      teacher,
      preferenceModel: 'partial-return',
      budget: 7,
      labelsPerRound: 4,
      segmentLength: 25,
      query: 'uniform',
      feedbackEvery: 1024,
      warmupSteps: 1024,
      poolEpisodes: 4,
      evalEpisodes: 1,
      evalEvery: 1024,
      rewardNet: { hidden: [16], members: 1 },
      rewardTrain: { epochs: 2 },
      run,
      store,
      logger,
      clock: new ManualClock(),
    });
    // Round 1 asks 7 - 4 = 3 (ada's answer counted), not 7 - 3 = 4: 7 answers in all, none over.
    expect(asked).toEqual([4, 3]);
    expect(summary.labelsUsed).toBe(7);
    expect(summary.labelsOverBudget).toBeUndefined();
    expect(store.counts()).toMatchObject({ pairs: 7, labels: 8, timeouts: 1 });
    expect(roundCounts(run.path)).toEqual([
      [3, 1],
      [7, 0],
    ]);
    expect(lines.join('')).not.toContain('over the --labels budget');
  } finally {
    store.close();
    run.close();
  }
}, 120_000);

it('once the run has its --labels, its viewer hands out no more: a person on an older open pair is told the run has the labels it needs, the answer she sent is kept (not trained on), and a page opened later hears the same', async () => {
  const clock = new ManualClock();
  const runs = join(dir(), 'done-runs');
  const c = captureCli(clock);
  // --labels 3 in rounds of 2: round 0 asks 2, round 1 what is left.
  // 6,144 steps: the run goes on for 4,096 after its last round (at 2,048), while the people hear it is done.
  const run = await startViewerRun(c, ['train', ...tinyTrainFlags(6144), '--teacher', 'human', '--human-port', '0', '--human-timeout', '5', '--labels', '3', '--labels-per-round', '2', '--runs-dir', runs, '--json'], runs);
  const { running, storeFile, url } = run;
  const store = LabelStore.open(storeFile, { create: false, clock });
  const people: Person[] = [];
  try {
    const judge = (p: Parameters<typeof trueChoice>[1]) => trueChoice(store, p);
    const ada = await Person.join(url, 'ada');
    const bea = await Person.join(url, 'bea');
    people.push(ada, bea);
    // Round 0: ada answers one pair; bea takes the other and holds it past the 5 s timeout.
    await ada.answer(await ada.take(), 'left');
    const held = await bea.take();
    expect(held.round).toBe(0);
    await waitFor("round 0's answer", () => store.labels().some((l) => l.teacher === 'human:ada'));
    clock.advance(6000);
    await waitFor('the held pair to time out', () => store.counts().timeouts === 1);
    // Round 1 asks 2 (3 - 1 answer); ada answers both: 3 answers, the budget.
    await waitFor('round 1', () => run.stillRunning() ?? store.pendingPairIds({ round: 1 }).length === 2);
    for (let i = 0; i < 2; i++) {
      const p = await ada.take();
      expect(p.round).toBe(1);
      await ada.answer(p, judge(p));
    }
    // Bea, still looking at the older pair, is told; so is ada when she asks for more.
    expect(await bea.client.next('idle', 60_000)).toEqual({ type: 'idle', reason: 'done' });
    ada.client.send({ type: 'next' });
    expect(await ada.client.next('idle', 60_000)).toEqual({ type: 'idle', reason: 'done' });
    // Bea's answer, sent as she heard (in flight), is stored and acknowledged: nothing she gave is lost.
    const late = await bea.answer(held, judge(held));
    expect(store.getLabel(late)).toMatchObject({ pairId: held.pairId, teacher: 'human:bea' });
    // A page opened now hears it at once.
    const cy = await Person.join(url, 'cy');
    people.push(cy);
    expect(await cy.client.next('idle', 60_000)).toEqual({ type: 'idle', reason: 'done' });
    expect(cy.client.received.some((m) => m.type === 'pair')).toBe(false);
    expect(await running, c.err.join('')).toBe(0);
    // The run trained on its 3 answers; bea's came after it stopped asking: stored, not counted.
    const summary = lastJson<{ labelsUsed: number; labelsOverBudget?: number }>(c.out);
    expect(summary.labelsUsed).toBe(3);
    expect(summary.labelsOverBudget).toBeUndefined();
    expect(store.counts()).toMatchObject({ pairs: 4, labels: 5, timeouts: 1, waitingForPeople: 0 });
    expect(c.err.join('')).toContain('human teacher: the --labels budget is spent (3 of 3 answers): the viewer hands out no more pairs and tells its pages the run has the labels it needs; 1 pair left open stays in');
    expect(c.err.join('')).toContain('(1 taken back from pages showing it)');
    // Only one pair went to bea and none after the budget was spent.
    expect(bea.served).toEqual([held.pairId]);
    expect(ada.served).toHaveLength(3);
  } finally {
    for (const p of people) p.client.ws.terminate();
    store.close();
  }
}, 120_000);
