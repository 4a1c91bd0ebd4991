/**
 * A teacher of your own: a noisy judge that prefers the segment ending nearer the goal, its
 * labels kept in a label store, and a reward ensemble trained from the store.
 *
 *   npx tsx docs/examples/custom_teacher.ts
 *
 * prints `labels 150 (148 preferences), held-out accuracy 0.80, return correlation 0.55` with
 * the WASM backend (test/api_examples.test.ts runs it): two pairs compare a segment with itself
 * (skipped), and the judge looks at the last step only, so the learned reward follows the
 * return (a sum over every step) only in part. A teacher is anything with an `id` and a
 * `label(pairs)` that answers each pair with a PreferenceLabel (probFirst: 1 first, 0 second, 0.5
 * equal) or a SkipLabel, in order; the same object can be given to runPreferenceLoop as its teacher.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  cutSegments, initBackend, type Label, LabelStore, labelId, makeEnv, makePair, type Pair, randomPolicy,
  returnCorrelation, RewardNet, Rng, rollout, type Segment, segmentReturn, segmentTransitions, type Teacher, trainRewardModel,
} from 'prefrl';

class NearerEndTeacher implements Teacher {
  readonly id: string;
  constructor(
    private readonly rng: Rng,
    private readonly flipRate: number,
  ) {
    this.id = `nearer-end:flip=${flipRate}`;
  }

  /** Distance to the goal after the segment's last step: toy-reach observes [x, y, vx, vy, gx - x, gy - y]. */
  private endDistance(s: Segment): number {
    const last = s.length * s.obsDim; // obs rows s_0 .. s_H, obsDim values each: s_H starts here
    return Math.hypot(s.obs[last + 4], s.obs[last + 5]);
  }

  async label(pairs: readonly Pair[]): Promise<Label[]> {
    return pairs.map((p): Label => {
      const head = { id: labelId(this.id, p.id), pairId: p.id, teacher: this.id };
      const [a, b] = [this.endDistance(p.a), this.endDistance(p.b)];
      if (a === b) return { ...head, kind: 'skip', reason: 'same distance' };
      const nearerFirst = a < b;
      // A share of the answers is flipped, as a tired person's would be (seeded: the same run repeats).
      const first = this.rng.uniform() < this.flipRate ? !nearerFirst : nearerFirst;
      return { ...head, kind: 'preference', probFirst: first ? 1 : 0 };
    });
  }
}

await initBackend('auto');
const env = await makeEnv('toy-reach');
const rng = new Rng(1);
// 20 random-policy episodes of 50 steps, cut into 10-step segments, 150 pairs drawn at random.
const segments = cutSegments(rollout(env, randomPolicy(env.spec, rng.fork('policy')), { episodes: 20, seed: 1 }), { length: 10 });
const pairs = Array.from({ length: 150 }, () => makePair(rng.choice(segments), rng.choice(segments)));
const teacher = new NearerEndTeacher(rng.fork('teacher'), 0.1);

const dir = mkdtempSync(join(tmpdir(), 'prefrl-example-'));
try {
  // The store checks that every label names a stored pair, so the pairs (and their segments) go in first.
  const store = LabelStore.open(join(dir, 'labels.sqlite'), { envId: env.spec.id, modelHash: env.spec.modelHash });
  store.putPairs(pairs);
  store.addLabels(await teacher.label(pairs));
  // Every stored label with its pair, flattened for training (skips left out).
  const { pairs: trainPairs, labels } = store.teacherLabels();
  const counts = store.counts();
  store.close();

  const net = RewardNet.create({ obsDim: env.spec.obsDim, actDim: env.spec.actDim }, rng.fork('net'));
  const fit = await trainRewardModel(net, trainPairs, labels, { rng: rng.fork('train'), epochs: 20 });
  const learned = segments.map((s) => net.predict(segmentTransitions(s)).reduce((sum, r) => sum + r, 0));
  const corr = returnCorrelation(learned, segments.map(segmentReturn)).pearson;
  console.log(`labels ${counts.labels} (${counts.preferences} preferences), held-out accuracy ${fit.valAccuracy.toFixed(2)}, return correlation ${corr.toFixed(2)}`);
  net.dispose();
} finally {
  env.dispose();
  rmSync(dir, { recursive: true, force: true });
}
