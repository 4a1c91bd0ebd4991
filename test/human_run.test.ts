/**
 * A `prefrl train --teacher human` run taught, end to end, by scripted people at viewer pages
 * (test/human_helpers.ts): two people answer every pair they are served by the true partial
 * return of its two segments. The run must end as one taught by --teacher oracle (the same
 * judgement) does: the same pairs asked, the same labels, the same reward model and policy.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../core/rng.js';
import { makeEnv } from '../envs/registry.js';
import { randomPolicy, rollout } from '../envs/rollout.js';
import { RewardNet } from '../reward/network.js';
import { partialReturn } from '../reward/preference.js';
import { cutSegments } from '../reward/segments.js';
import { LabelStore } from '../reward/store.js';
import { main } from '../scripts/cli.js';
import { captureCli, lastJson } from './helpers/cli.js';
import { humanTestDir, Person, roundCounts, startViewerRun, trueChoice, trueProbFirst } from './human_helpers.js';

/**
 * A small toy-reach run: rounds at 1024, 2048 and 3072 env steps (warm-up 1024, one every 1024 of
 * 4096). Its reward model sees the two observation values toy-reach's reward depends on (the goal
 * offset, obs 4 and 5; it ignores position and velocity, obs 0-3) and trains to the end of its 50
 * epochs: from 24 labels, a model of all six values (or one stopped after 3 epochs without
 * held-out gain on a held-out set of a few pairs) ranked fresh segments no better than chance
 * (0.35 to 0.72 in five seeds tried), whatever taught it.
 */
const TINY = [
  '--env', 'toy-reach', '--steps', '4096', '--num-envs', '2', '--num-steps', '256', '--workers', '0', '--warmup-steps', '1024', '--feedback-every', '1024',
  '--eval-every', '1024', '--eval-episodes', '1', '--segment-length', '25', '--seed', '0',
  '--reward-hidden', '16', '--reward-members', '1', '--reward-input', 'obs', '--reward-ignore-obs', '0,1,2,3', '--reward-lr', '0.01', '--reward-epochs', '50', '--reward-patience', '50',
];

const dir = humanTestDir('run');

interface Summary {
  labelsUsed: number;
  rewardAccuracy: number;
  rewardCorrelation: number;
  finalTrueReturn: number;
  curve: [number, number][];
  runDir: string;
}

describe('a run taught by people in the viewer', () => {
  it('two people answering by the true partial return: the run ends as --teacher oracle\'s does, the labels are theirs, and the reward model ranks fresh segments as the true reward does', async () => {
    const labels = ['--labels', '24', '--labels-per-round', '8'];
    // The same run taught by the oracle (the true partial return, no noise).
    const o = captureCli();
    expect(await main(['train', ...TINY, ...labels, '--teacher', 'oracle', '--runs-dir', join(dir(), 'oracle'), '--quiet', '--json'], o.ctx), o.err.join('')).toBe(0);
    const oracle = lastJson<Summary>(o.out);

    const runs = join(dir(), 'people');
    const c = captureCli();
    const run = await startViewerRun(c, ['train', ...TINY, ...labels, '--teacher', 'human', '--human-port', '0', '--runs-dir', runs, '--quiet', '--json'], runs);
    const { running, storeFile, url } = run;
    expect(url, c.err.join('')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const store = LabelStore.open(storeFile, { create: false });
    try {
      const ada = await Person.join(url, 'Ada');
      const bob = await Person.join(url, 'bob');
      const judge = (p: Parameters<typeof trueChoice>[1]) => trueChoice(store, p);
      const [na, nb] = await Promise.all([ada.answerAll(judge), bob.answerAll(judge), running]);
      expect(run.exit(), c.err.join('')).toBe(0);
      const s = lastJson<Summary>(c.out);
      // The run's end closed both pages with "session ended" (1001), not a lost connection.
      expect([ada.client.closeCode, bob.client.closeCode]).toEqual([1001, 1001]);

      // Every pair asked was answered once, by one of the two, as the true reward says.
      expect(na + nb).toBe(24);
      expect(na).toBeGreaterThan(0);
      expect(nb).toBeGreaterThan(0);
      const stored = store.labels();
      expect(stored).toHaveLength(24);
      const by = (t: string) => stored.filter((l) => l.teacher === t).length;
      expect([by('human:Ada'), by('human:bob')]).toEqual([na, nb]);
      for (const l of stored) {
        expect(l.kind).toBe('preference');
        if (l.kind === 'preference') expect(l.probFirst, l.pairId).toBe(trueProbFirst(store, l.pairId));
      }
      expect(store.counts()).toMatchObject({ pairs: 24, labels: 24, preferences: 24, skips: 0, timeouts: 0, pending: 0 });
      // The run's teacher "human" and the two people it heard from.
      expect(store.teachers().filter((t) => t.kind === 'human').map((t) => t.id).sort()).toEqual(['human', 'human:Ada', 'human:bob']);
      // Three rounds of 8 answers, none skipped.
      expect(roundCounts(s.runDir)).toEqual([
        [8, 0],
        [16, 0],
        [24, 0],
      ]);
      expect(s.labelsUsed).toBe(24);

      // The oracle's run, pair for pair: people who judge as it does teach the same run.
      const oracleStore = LabelStore.open(join(oracle.runDir, 'labels.sqlite'), { create: false });
      try {
        const rounds = (st: LabelStore) => [0, 1, 2].map((r) => st.labelledPairs({ round: r }).map((lp) => [lp.pair.id, lp.labels.map((l) => (l.kind === 'preference' ? l.probFirst : l.kind))]));
        expect(rounds(store)).toEqual(rounds(oracleStore));
      } finally {
        oracleStore.close();
      }
      expect(roundCounts(oracle.runDir)).toEqual(roundCounts(s.runDir));
      expect({ acc: s.rewardAccuracy, corr: s.rewardCorrelation, ret: s.finalTrueReturn, curve: s.curve }).toEqual({
        acc: oracle.rewardAccuracy,
        corr: oracle.rewardCorrelation,
        ret: oracle.finalTrueReturn,
        curve: oracle.curve,
      });

      // The reward model learned from people ranks 30 fresh random-policy segments (435 pairs) as
      // the true reward does. A ranking that knows nothing agrees on half the pairs; with 30
      // segments its concordance has a standard deviation of about 0.064 (Kendall's tau: var =
      // 2(2n+5)/(9n(n-1)) = 0.0166 at n = 30, halved into a fraction), so 0.7 is three of them above
      // chance. (This run measured 0.878 here; the held-out accuracy of the run, on a few pairs, says little.)
      const net = RewardNet.load(join(s.runDir, 'artifacts', 'reward_model'));
      const env = await makeEnv('toy-reach');
      try {
        const segs = cutSegments(rollout(env, randomPolicy(env.spec, new Rng(99)), { episodes: 15, seed: 99 }), { length: 25 }).slice(0, 30);
        expect(segs).toHaveLength(30);
        const pred = net.meanSegmentSums(segs);
        const truth = segs.map((g) => partialReturn(g.rewards));
        let agree = 0;
        let n = 0;
        for (let i = 0; i < segs.length; i++) {
          for (let j = i + 1; j < segs.length; j++) {
            if (truth[i] === truth[j]) continue;
            n++;
            if (pred[i] > pred[j] === truth[i] > truth[j]) agree++;
          }
        }
        expect(n).toBeGreaterThan(400);
        expect(agree / n).toBeGreaterThan(0.7);
      } finally {
        env.dispose();
        net.dispose();
      }
    } finally {
      store.close();
    }
  }, 120_000);
});
