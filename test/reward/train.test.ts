import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../core/backend.js';
import { Rng } from '../../core/rng.js';
import { randomPolicy, rollout } from '../../envs/rollout.js';
import { ToyReachEnv } from '../../envs/toy.js';
import { returnCorrelation } from '../../reward/metrics.js';
import { RewardNet } from '../../reward/network.js';
import { noisyNll } from '../../reward/preference.js';
import { cutSegments, makePair, segmentReturn } from '../../reward/segments.js';
import {
  dropInputs,
  type EpochMetrics,
  memberLossAndGrads,
  memberStep,
  noImprovementWarning,
  type PairData,
  preferenceLoss,
  preferenceLossTensor,
  trainRewardModel,
} from '../../reward/train.js';
import type { Label, Pair, Segment } from '../../reward/types.js';

let dir = '';
beforeAll(async () => {
  await initBackend('wasm');
  dir = mkdtempSync(join(tmpdir(), 'prefrl-train-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tensorLoss(d: number[], y: number[], rho = 0): number[] {
  return tf.tidy(() => Array.from(preferenceLossTensor(tf.tensor1d(d), tf.tensor1d(y), rho).dataSync()));
}

describe('preference loss', () => {
  it('matches hand-computed Bradley-Terry values, soft labels included', () => {
    // softplus(2) - 1 * 2 = 2.126928 - 2 = 0.126928
    // softplus(-1) - 0 = log(1 + e^-1) = 0.313262
    // tie: softplus(0.5) - 0.5 * 0.5 = 0.974077 - 0.25 = 0.724077
    const l = tensorLoss([2, -1, 0.5], [1, 0, 0.5]);
    expect(l[0]).toBeCloseTo(0.126928, 5);
    expect(l[1]).toBeCloseTo(0.313262, 5);
    expect(l[2]).toBeCloseTo(0.724077, 5);
    expect(preferenceLoss([2, -1, 0.5], [1, 0, 0.5])).toBeCloseTo((0.126928 + 0.313262 + 0.724077) / 3, 5);
  });

  it('label smoothing moves the target towards 0.5', () => {
    // e = 0.1: y = 1 -> 0.95; softplus(2) - 0.95 * 2 = 0.226928
    expect(preferenceLoss([2], [1], { labelSmoothing: 0.1 })).toBeCloseTo(0.226928, 5);
    expect(tensorLoss([2], [0.95])[0]).toBeCloseTo(0.226928, 5);
  });

  it('the noise-robust loss uses P_obs = (1 - rho) P + rho (1 - P)', () => {
    // d = 2, y = 1, rho = 0.1: P_obs = 0.9 * 0.880797 + 0.1 * 0.119203 = 0.804638; -log = 0.217363
    expect(tensorLoss([2], [1], 0.1)[0]).toBeCloseTo(0.217363, 5);
    // smoothing 0.2 and rho 0.1, d = -1, y = 1 -> y_s = 0.9:
    // P = 0.268941, P_obs = 0.9 P + 0.1 (1 - P) = 0.315153; -(0.9 log 0.315153 + 0.1 log 0.684847) = 1.077083
    expect(preferenceLoss([-1], [1], { labelSmoothing: 0.2, flipRate: 0.1 })).toBeCloseTo(1.077083, 5);
    expect(tensorLoss([-1], [0.9], 0.1)[0]).toBeCloseTo(1.077083, 5);
    // A confident wrong answer costs at most -log(rho) under the noise model.
    expect(tensorLoss([-30], [1], 0.1)[0]).toBeLessThan(-Math.log(0.1) + 1e-4);
  });

  it('tensor and scalar losses agree on random values', () => {
    const rng = new Rng('loss');
    const d = Array.from({ length: 50 }, () => rng.range(-8, 8));
    const y = Array.from({ length: 50 }, () => rng.choice([0, 0.5, 1, 0.3]));
    for (const rho of [0, 0.05, 0.3]) {
      const t = tensorLoss(d, y, rho);
      d.forEach((di, i) => expect(t[i]).toBeCloseTo(noisyNll(di, y[i], rho), 4));
    }
  });

  it('a step on a linear model gives the hand-computed loss and gradient', () => {
    // r(s) = w s + b with w = 0.5, b = 0.1; pair 1: a = [1, 2], b = [0, -1] -> S(a) = 1.7, S(b) = -0.3, d = 2.
    // pair 2: both segments [0, 0] -> d = 0. Labels 1 and 0.5.
    // loss = (softplus(2) - 2 + softplus(0) - 0) / 2 = (0.126928 + 0.693147) / 2 = 0.410038
    // dL/dw = (sigmoid(2) - 1) * (3 - (-1)) / 2 = -0.119203 * 4 / 2 = -0.238406; dL/db = 0 (b cancels in d).
    const net = RewardNet.create({ obsDim: 1, actDim: 0, input: 'obs', hidden: [], members: 1, outputActivation: 'linear' }, new Rng(1));
    net.setMemberWeights(0, [Float32Array.from([0.5]), Float32Array.from([0.1])]);
    const data: PairData = { n: 2, H: 2, inDim: 1, rows: Float32Array.from([1, 2, 0, -1, 0, 0, 0, 0]), labels: Float64Array.from([1, 0.5]) };
    for (const microBatchRows of [4, 1000]) {
      const { loss, grads } = memberLossAndGrads(net, 0, data, [0, 1], { temperature: 1, labelSmoothing: 0, flipRate: 0, microBatchRows });
      expect(loss).toBeCloseTo(0.410038, 5);
      const [w, b] = net.memberVariables(0);
      expect(grads[w.name].dataSync()[0]).toBeCloseTo(-0.238406, 5);
      expect(grads[b.name].dataSync()[0]).toBeCloseTo(0, 6);
      tf.dispose(grads);
    }
    // Temperature 2: d = 1, pair 1 loss softplus(1) - 1 = 0.313262; mean with log 2 = 0.503204.
    const t2 = memberLossAndGrads(net, 0, data, [0, 1], { temperature: 2, labelSmoothing: 0, flipRate: 0, microBatchRows: 1000 });
    expect(t2.loss).toBeCloseTo(0.503204, 5);
    tf.dispose(t2.grads);
    net.dispose();
  });

  it('weight decay adds c * W to the weight gradients and leaves the biases alone', async () => {
    // The linear model above: dL/dw = -0.238406, dL/db = 0. With c = 0.2 the weight's gradient is
    // -0.238406 + 0.2 * 0.5 = -0.138406; one SGD step of rate 0.1 gives w = 0.5 + 0.0138406 = 0.5138406
    // and leaves b = 0.1 (no decay on biases). Without decay: w = 0.5 + 0.0238406.
    const data: PairData = { n: 2, H: 2, inDim: 1, rows: Float32Array.from([1, 2, 0, -1, 0, 0, 0, 0]), labels: Float64Array.from([1, 0.5]) };
    for (const [c, expected] of [
      [0.2, 0.5138406],
      [0, 0.5238406],
    ] as const) {
      const net = RewardNet.create({ obsDim: 1, actDim: 0, input: 'obs', hidden: [], members: 1, outputActivation: 'linear' }, new Rng(1));
      net.setMemberWeights(0, [Float32Array.from([0.5]), Float32Array.from([0.1])]);
      const sgd = tf.train.sgd(0.1);
      const loss = memberStep(net, 0, sgd, data, [0, 1], { temperature: 1, labelSmoothing: 0, flipRate: 0, microBatchRows: 1000, weightDecay: c });
      expect(loss).toBeCloseTo(0.410038, 5); // the reported loss is the preference loss alone
      const [w, b] = net.getMemberWeights(0);
      expect(w[0]).toBeCloseTo(expected, 6);
      expect(b[0]).toBeCloseTo(0.1, 6);
      sgd.dispose();
      net.dispose();
    }
    const net = RewardNet.create({ obsDim: 1, actDim: 0, input: 'obs', hidden: [], members: 1 }, new Rng(1));
    const pairs: Pair[] = [];
    await expect(trainRewardModel(net, pairs, [], { rng: new Rng(1), weightDecay: -1 })).rejects.toThrow(/weightDecay must be a finite number >= 0, got -1/);
    net.dispose();
  });

  it('the input group-lasso penalty adds c * W[j] / ||W[j]|| to the first layer only', () => {
    // obs 1 -> hidden [2] -> 1. First layer W1 = [[0.3, 0.4]] (one input row, norm 0.5): the penalty
    // adds c * [0.6, 0.8] to its gradient. Two SGD steps of rate 0.1 from the same weights, c = 0.5
    // and c = 0, differ in W1 by -0.1 * 0.5 * [0.6, 0.8] = [-0.03, -0.04] and nowhere else.
    const data: PairData = { n: 2, H: 2, inDim: 1, rows: Float32Array.from([1, 2, 0, -1, 0, 0, 0, 0]), labels: Float64Array.from([1, 0.5]) };
    const after = (c: number): Float32Array[] => {
      const net = RewardNet.create({ obsDim: 1, actDim: 0, input: 'obs', hidden: [2], members: 1, outputActivation: 'linear' }, new Rng(1));
      const init = net.getMemberWeights(0);
      init[0] = Float32Array.from([0.3, 0.4]);
      net.setMemberWeights(0, init);
      const sgd = tf.train.sgd(0.1);
      memberStep(net, 0, sgd, data, [0, 1], { temperature: 1, labelSmoothing: 0, flipRate: 0, microBatchRows: 1000, inputL1: c });
      const w = net.getMemberWeights(0);
      sgd.dispose();
      net.dispose();
      return w;
    };
    const [p, q] = [after(0.5), after(0)];
    expect(p[0][0] - q[0][0]).toBeCloseTo(-0.03, 6);
    expect(p[0][1] - q[0][1]).toBeCloseTo(-0.04, 6);
    for (let i = 1; i < p.length; i++) expect(Array.from(p[i])).toEqual(Array.from(q[i]));
  });

  it('the proximal group lasso shrinks each first-layer input row by the given norm after the step, to exactly 0 when shorter', () => {
    // obs 2 -> hidden [2] -> 1, learning rate 0 so the step itself changes nothing. First layer
    // rows: input 0 [0.3, 0.4] (norm 0.5), input 1 [0.03, 0.04] (norm 0.05). Shrinking by 0.1:
    // row 0 becomes [0.3, 0.4] * (1 - 0.1 / 0.5) = [0.24, 0.32]; row 1 (norm < 0.1) becomes 0;
    // every other weight is left as it was.
    const data: PairData = { n: 1, H: 1, inDim: 2, rows: Float32Array.from([1, 2, 0, -1]), labels: Float64Array.from([1]) };
    const net = RewardNet.create({ obsDim: 2, actDim: 0, input: 'obs', hidden: [2], members: 1, outputActivation: 'linear' }, new Rng(1));
    const init = net.getMemberWeights(0);
    init[0] = Float32Array.from([0.3, 0.4, 0.03, 0.04]);
    net.setMemberWeights(0, init);
    const sgd = tf.train.sgd(0);
    memberStep(net, 0, sgd, data, [0], { temperature: 1, labelSmoothing: 0, flipRate: 0, microBatchRows: 1000, proxShrink: 0.1 });
    const after = net.getMemberWeights(0);
    expect(Array.from(after[0]).map((v) => Number(v.toFixed(6)))).toEqual([0.24, 0.32, 0, 0]);
    for (let i = 1; i < after.length; i++) expect(Array.from(after[i])).toEqual(Array.from(init[i]));
    sgd.dispose();
    net.dispose();
  });

  it('inputProx switches inputs off during training, is saved with the model and is rejected when negative', async () => {
    const segs = toySegments(30, 12);
    const pairs = randomPairs(segs, 30, new Rng('prox'));
    const labels = oracleLabels(pairs);
    const net = RewardNet.create({ ...SMALL, hidden: [8] }, new Rng(3));
    // lr x c far larger than any row's norm: every input row ends at exactly 0.
    await trainRewardModel(net, pairs, labels, { rng: new Rng(1), epochs: 2, batchSize: 8, lr: 1e-2, inputProx: 1e4, valFraction: 0 });
    expect(Array.from(net.getMemberWeights(0)[0]).every((v) => v === 0)).toBe(true);
    expect(net.meta.training).toMatchObject({ inputProx: 1e4 });
    // The env of the segments is saved with the model, for iql / train --reward model: to check.
    expect(net.meta.env).toEqual({ id: 'toy-reach', modelHash: 'toy-reach-v1' });
    await expect(trainRewardModel(net, pairs, labels, { rng: new Rng(1), inputProx: -1 })).rejects.toThrow(/inputProx must be a finite number >= 0, got -1/);
    net.dispose();
  });
});

describe('input dropout', () => {
  it('zeroes the drawn features in both segments of a pair, in x and its transpose', () => {
    // P = 2 pairs, H = 2 steps, w = 3 features: rows 0-1 pair 0's a, rows 2-3 pair 1's a, rows
    // 4-5 pair 0's b, rows 6-7 pair 1's b. Draws below the rate drop: pair 0 drops feature 0,
    // pair 1 drops features 1 and 2.
    const P = 2;
    const H = 2;
    const w = 3;
    const R = 2 * P * H;
    const x = Float32Array.from({ length: R * w }, (_, i) => i + 1);
    const xT = new Float32Array(R * w);
    for (let r = 0; r < R; r++) for (let c = 0; c < w; c++) xT[c * R + r] = x[r * w + c];
    const draws = [0.1, 0.5, 0.9, 0.6, 0.2, 0.29];
    const rng = { uniform: () => draws.shift() as number } as unknown as Rng;
    dropInputs(x, xT, P, H, w, 0.3, rng);
    expect(draws).toEqual([]);
    const dropped = (r: number, c: number): boolean => (c === 0 ? [0, 1, 4, 5].includes(r) : [2, 3, 6, 7].includes(r));
    for (let r = 0; r < R; r++) {
      for (let c = 0; c < w; c++) {
        const want = dropped(r, c) ? 0 : r * w + c + 1;
        expect(x[r * w + c]).toBe(want);
        expect(xT[c * R + r]).toBe(want);
      }
    }
    expect(() => dropInputs(x, xT, P, H, w, 0.3, undefined)).toThrow(/needs a dropout RNG/);
  });

  it('is seeded, changes the fit, is saved with the model and rejects rates outside [0, 1)', async () => {
    const segs = toySegments(30, 12);
    const pairs = randomPairs(segs, 30, new Rng('drop'));
    const labels = oracleLabels(pairs);
    const run = async (inputDropout: number) => {
      const net = RewardNet.create({ ...SMALL, hidden: [8] }, new Rng(3));
      await trainRewardModel(net, pairs, labels, { rng: new Rng(1), epochs: 2, batchSize: 8, lr: 1e-2, inputDropout });
      const w = net.getMemberWeights(0);
      const meta = net.meta.training as Record<string, unknown>;
      net.dispose();
      return { w, meta };
    };
    const a = await run(0.5);
    expect(a.meta.inputDropout).toBe(0.5);
    expect((await run(0.5)).w).toEqual(a.w);
    expect((await run(0)).w).not.toEqual(a.w);
    const net = RewardNet.create({ ...SMALL, hidden: [8] }, new Rng(3));
    await expect(trainRewardModel(net, pairs, labels, { rng: new Rng(1), inputDropout: 1 })).rejects.toThrow(/inputDropout must be in \[0, 1\), got 1/);
    await expect(trainRewardModel(net, pairs, labels, { rng: new Rng(1), inputDropout: -0.1 })).rejects.toThrow(/inputDropout must be in \[0, 1\), got -0.1/);
    net.dispose();
  });
});

// ---------------------------------------------------------------------------------------
// Toy data: random-policy rollouts of toy-reach, oracle labels from true segment returns.

function toySegments(episodes: number, seed: number, length = 25): Segment[] {
  const env = new ToyReachEnv();
  const rng = new Rng(seed);
  const trajs = rollout(env, randomPolicy(env.spec, rng.fork('policy')), { episodes, seed });
  return cutSegments(trajs, { length, source: `toy-${seed}` });
}

function randomPairs(segs: readonly Segment[], count: number, rng: Rng): Pair[] {
  return Array.from({ length: count }, () => {
    const i = rng.int(segs.length);
    let j = rng.int(segs.length - 1);
    if (j >= i) j++;
    return makePair(segs[i], segs[j]);
  });
}

function oracleLabels(pairs: readonly Pair[]): Label[] {
  return pairs.map((p, i) => {
    const ra = segmentReturn(p.a);
    const rb = segmentReturn(p.b);
    return { kind: 'preference', id: `l${i}`, pairId: p.id, teacher: 'oracle', probFirst: ra > rb ? 1 : ra < rb ? 0 : 0.5 };
  });
}

function accuracy(net: RewardNet, pairs: readonly Pair[]): number {
  const p = net.pairProbs(pairs);
  const n = pairs.length;
  let correct = 0;
  for (let j = 0; j < n; j++) {
    let mean = 0;
    for (let k = 0; k < net.members; k++) mean += p[k * n + j] / net.members;
    const truth = segmentReturn(pairs[j].a) > segmentReturn(pairs[j].b);
    if (mean > 0.5 === truth) correct++;
  }
  return correct / n;
}

const SMALL = { obsDim: 6, actDim: 2, hidden: [32, 32] } as const;

describe('training on toy-reach', () => {
  it('learns a reward that ranks held-out pairs far better than chance', async () => {
    const segs = toySegments(300, 1);
    const rng = new Rng('pairs');
    const train = randomPairs(segs, 200, rng.fork('train'));
    const held = randomPairs(toySegments(200, 2), 200, rng.fork('held'));
    const net = RewardNet.create(SMALL, new Rng(3));
    const before = accuracy(net, held);
    const epochs: EpochMetrics[] = [];
    let steps = 0;
    const result = await trainRewardModel(net, train, oracleLabels(train), {
      rng: new Rng(4),
      epochs: 60,
      batchSize: 32,
      lr: 3e-3,
      patience: 8,
      onEpoch: (m) => epochs.push(m),
      onStep: () => steps++,
    });
    const after = accuracy(net, held);
    expect(result.trainPairs).toBe(180);
    expect(result.valPairs).toBe(20);
    expect(epochs.length).toBe(result.epochs.length);
    expect(steps).toBeGreaterThan(0);
    expect(epochs[epochs.length - 1].trainLoss).toBeLessThan(epochs[0].trainLoss);
    expect(result.valAccuracy).toBeGreaterThan(0.75);
    expect(after).toBeGreaterThan(0.8);
    expect(after).toBeGreaterThan(before + 0.2);
    expect(net.normalizerFitted).toBe(true);
    // Predicted returns of unseen segments track the true returns.
    const unseen = toySegments(60, 12);
    const sums = net.segmentSums(unseen);
    const n = unseen.length;
    const predicted = Array.from({ length: n }, (_, j) => (sums[j] + sums[n + j] + sums[2 * n + j]) / 3);
    expect(returnCorrelation(predicted, unseen.map(segmentReturn)).spearman).toBeGreaterThan(0.85);
    expect((net.meta.training as { trainPairs: number }).trainPairs).toBe(180);
    net.dispose();
    // Up to 60 epochs on 180 pairs: 43-48 s on a loaded 2-core machine, close to the default 60 s.
  }, 120_000);

  it('holds out no pairs when fewer than 5 would be held out: every epoch runs and the last weights stay', async () => {
    const segs = toySegments(40, 21);
    const pairs = randomPairs(segs, 44, new Rng('few'));
    // 44 labels x 0.1 = 4.4 -> 4 held out: too few, so none; 45 x 0.1 = 4.5 -> 5: held out.
    const few = RewardNet.create({ ...SMALL, hidden: [8] }, new Rng(8));
    const r = await trainRewardModel(few, pairs, oracleLabels(pairs), { rng: new Rng(9), epochs: 3, batchSize: 16, patience: 1 });
    expect([r.trainPairs, r.valPairs, r.epochs.length]).toEqual([44, 0, 3]);
    expect(r.bestEpoch).toEqual(new Array(few.members).fill(3));
    expect(Number.isNaN(r.valAccuracy)).toBe(true);
    few.dispose();
    const more = randomPairs(segs, 45, new Rng('few'));
    const enough = RewardNet.create({ ...SMALL, hidden: [8] }, new Rng(8));
    const r2 = await trainRewardModel(enough, more, oracleLabels(more), { rng: new Rng(9), epochs: 1, batchSize: 16 });
    expect([r2.trainPairs, r2.valPairs]).toEqual([40, 5]);
    enough.dispose();
  });

  it('keeps each member\'s best weights on the held-out pairs', async () => {
    const segs = toySegments(80, 5);
    const pairs = randomPairs(segs, 60, new Rng('es'));
    const net = RewardNet.create({ ...SMALL, hidden: [16] }, new Rng(6));
    const result = await trainRewardModel(net, pairs, oracleLabels(pairs), { rng: new Rng(7), epochs: 12, batchSize: 16, lr: 1e-2, patience: 2, valFraction: 0.25 });
    expect(result.valPairs).toBe(15);
    const valSet = new Set(result.valPairIds);
    const val = pairs.filter((p) => valSet.has(p.id));
    const probs = net.pairProbs(val);
    const labels = oracleLabels(val);
    for (let k = 0; k < net.members; k++) {
      let nll = 0;
      val.forEach((_, j) => {
        const p = Math.min(1 - 1e-7, Math.max(1e-7, probs[k * val.length + j]));
        const y = (labels[j] as { probFirst: number }).probFirst;
        nll -= (y * Math.log(p) + (1 - y) * Math.log(1 - p)) / val.length;
      });
      const history = result.epochs.map((e) => e.memberValNll[k]).filter((v) => !Number.isNaN(v));
      const best = Math.min(...history);
      if (result.bestEpoch[k] > 0) {
        expect(nll).toBeCloseTo(best, 3);
        expect(history[result.bestEpoch[k] - 1]).toBe(best);
      } else expect(nll).toBeLessThanOrEqual(best + 1e-6);
    }
    net.dispose();
  });

  it('warns when early stopping kept every member\'s starting weights, and not when one improved', async () => {
    const segs = toySegments(80, 5);
    const pairs = randomPairs(segs, 60, new Rng('warn'));
    // A learning rate too small to change any held-out prediction: no epoch beats the start.
    const stuck = RewardNet.create({ ...SMALL, hidden: [16] }, new Rng(6));
    const still = await trainRewardModel(stuck, pairs, oracleLabels(pairs), { rng: new Rng(7), epochs: 3, batchSize: 16, lr: 1e-30, patience: 2, valFraction: 0.25 });
    stuck.dispose();
    expect(still.bestEpoch).toEqual([0, 0, 0]);
    expect(noImprovementWarning(still)).toBe(
      'reward model: no member improved on the 15 held-out pairs, so each kept its initial weights; more labels, or a larger --reward-patience, may help',
    );
    expect(noImprovementWarning(still, 'previous')).toMatch(/each kept the weights it had before this training/);
    const net = RewardNet.create({ ...SMALL, hidden: [16] }, new Rng(6));
    const trained = await trainRewardModel(net, pairs, oracleLabels(pairs), { rng: new Rng(7), epochs: 3, batchSize: 16, lr: 1e-2, patience: 2, valFraction: 0.25 });
    net.dispose();
    expect(trained.bestEpoch.some((e) => e > 0)).toBe(true);
    expect(noImprovementWarning(trained)).toBeNull();
    // With no held-out pairs there is nothing to stop on: no warning.
    expect(noImprovementWarning({ bestEpoch: [0, 0], valPairs: 0 })).toBeNull();
    expect(noImprovementWarning({ bestEpoch: [0, 2], valPairs: 10 })).toBeNull();
  });

  it('is deterministic for a seed and leaks no tensors', async () => {
    const segs = toySegments(40, 8);
    const pairs = randomPairs(segs, 40, new Rng('det'));
    const labels = oracleLabels(pairs);
    const before = tf.memory().numTensors;
    const run = async (seed: number, bootstrap = false) => {
      const net = RewardNet.create({ ...SMALL, hidden: [16, 16] }, new Rng(9));
      await trainRewardModel(net, pairs, labels, { rng: new Rng(seed), epochs: 3, batchSize: 8, lr: 1e-2, bootstrap, microBatchRows: 100 });
      const w = [0, 1, 2].map((k) => net.getMemberWeights(k));
      net.dispose();
      return w;
    };
    const a = await run(1);
    const b = await run(1);
    const c = await run(2);
    expect(a).toEqual(b);
    expect(a[0][0]).not.toEqual(c[0][0]);
    // Members get their own data order, so they diverge from one another.
    expect(await run(1, true)).not.toEqual(a);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('ignores skips, checks label order and records the preference model', async () => {
    const segs = toySegments(30, 10);
    const pairs = randomPairs(segs, 30, new Rng('skip'));
    const labels: Label[] = oracleLabels(pairs).map((l, i) => (i % 5 === 0 ? { kind: 'skip', id: l.id, pairId: l.pairId, teacher: 'oracle', reason: 'below threshold' } : l));
    const net = RewardNet.create({ ...SMALL, hidden: [8] }, new Rng(11));
    const result = await trainRewardModel(net, pairs, labels, { rng: new Rng(1), epochs: 2, preferenceModel: 'regret' });
    expect(result.skipped).toBe(6);
    expect(result.trainPairs + result.valPairs).toBe(24);
    expect(result.preferenceModel).toBe('regret');
    expect(net.config.preferenceModel).toBe('regret');
    const path = join(dir, 'regret');
    net.save(path);
    const loaded = RewardNet.load(path);
    expect(loaded.config.preferenceModel).toBe('regret');
    loaded.dispose();
    await expect(trainRewardModel(net, pairs, labels.slice(1), { rng: new Rng(1) })).rejects.toThrow(/30 pairs but 29 labels/);
    await expect(trainRewardModel(net, pairs, [labels[1], ...labels.slice(1)], { rng: new Rng(1) })).rejects.toThrow(/label 0 .* is for pair/);
    await expect(trainRewardModel(net, pairs, labels.map((l) => ({ ...l, kind: 'skip', reason: 'x' }) as Label), { rng: new Rng(1) })).rejects.toThrow(/no preference labels/);
    net.dispose();
    const obsOnly = RewardNet.create({ ...SMALL, hidden: [8], input: 'obs' }, new Rng(1));
    await expect(trainRewardModel(obsOnly, pairs, labels, { rng: new Rng(1), preferenceModel: 'regret' })).rejects.toThrow(/regret model .* needs the action/);
    obsOnly.dispose();
  });
});

describe('additive reward model (additive: true) in training', () => {
  it('masked weights stay 0 and the output stays a sum of per-input functions', async () => {
    const segs = toySegments(30, 21);
    const pairs = randomPairs(segs, 40, new Rng('additive'));
    const labels = oracleLabels(pairs);
    const net = RewardNet.create({ ...SMALL, hidden: [4, 4], members: 1, outputActivation: 'linear', additive: true }, new Rng(5));
    const before = net.getMemberWeights(0);
    await trainRewardModel(net, pairs, labels, { rng: new Rng(1), epochs: 2, batchSize: 8, lr: 1e-2 });
    const after = net.getMemberWeights(0);
    expect(after[0]).not.toEqual(before[0]);
    const masks = RewardNet.layerMasks(net.config)!;
    let zeros = 0;
    for (const [l, m] of [[0, masks[0]!], [2, masks[1]!]] as const) {
      for (let i = 0; i < m.length; i++) {
        if (m[i] === 0) {
          expect(after[l][i] === 0).toBe(true);
          zeros++;
        }
      }
    }
    expect(zeros).toBe(8 * 32 - 8 * 4 + 32 * 32 - 8 * 16);
    // r(x with inputs 0, 1 = (u1, v1)) + r(u2, v2) - r(u1, v2) - r(u2, v1) = 0 for any other inputs.
    const w = net.inDim;
    const rows = new Float32Array(4 * w).fill(0.4);
    const set = (r: number, u: number, v: number) => {
      rows[r * w] = u;
      rows[r * w + 1] = v;
    };
    set(0, 0.3, -1.2);
    set(1, 1.5, 0.8);
    set(2, 0.3, 0.8);
    set(3, 1.5, -1.2);
    const r = net.predictRows(rows, 4, { normalized: true });
    expect(Math.abs(r[0] + r[1] - r[2] - r[3])).toBeLessThan(1e-5);
    expect(Math.abs(r[0] - r[2])).toBeGreaterThan(1e-4);
    net.dispose();
  });
});
