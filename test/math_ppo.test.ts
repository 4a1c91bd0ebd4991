/**
 * PPO maths (agents/ppo_math.ts) on small hand-computed cases that test/agents/ppo_math.test.ts
 * does not cover: negative advantages in the clipped surrogate, value clipping in both
 * directions, GAE over two envs with a truncation and a termination at the same step
 * (lambda < 1), the Gaussian log-density over several dimensions and rows, and
 * advantage normalisation of a minibatch prefix; and where ppoUpdate checks the target KL.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Adam } from '../agents/mlp.js';
import { ObsNormalizer, RewardScaler } from '../agents/normalize.js';
import { expertValueFunction, PPO_DEFAULTS, type PpoConfig, PpoPolicy, ppoUpdate, resolvePpoConfig } from '../agents/ppo.js';
import { bootstrapTruncated, clippedSurrogate, gae, gaussianEntropy, gaussianLogProb, normalizeInPlace, valueLoss } from '../agents/ppo_math.js';
import { InputError } from '../core/errors.js';
import { Rng } from '../core/rng.js';

const f32 = (x: number[]) => Float32Array.from(x);
const rounded = (x: ArrayLike<number>, digits = 5) => Array.from(x, (v) => +v.toFixed(digits));

describe('clipped surrogate with negative advantages (clip 0.2)', () => {
  it('clips ratios below 1 - c (no gradient) but lets ratios above 1 + c pay in full', () => {
    // L_i = max(-A r, -A clip(r, 0.8, 1.2)); old log-probs 0, so r = exp(new log-prob).
    //   s0: A = -1, r = 0.5: -A r = 0.5, -A * 0.8 = 0.8 -> clipped term 0.8, gradient 0
    //   s1: A = -1, r = 1.5: -A r = 1.5, -A * 1.2 = 1.2 -> unclipped 1.5, dL/dlogp = -A r / n = 1.5 / 4 = 0.375
    //   s2: A = -2, r = 0.9 (inside): both 1.8 -> dL/dlogp = 2 * 0.9 / 4 = 0.45
    //   s3: A = 0,  r = 2: both 0 -> no gradient
    // loss = (0.8 + 1.5 + 1.8 + 0) / 4 = 1.025; outside the range: s0, s1, s3 -> clip fraction 0.75
    // KL estimator r - 1 - ln r: 0.193147, 0.094535, 0.005361, 0.306853 -> mean 0.149974
    const r = clippedSurrogate(f32([Math.log(0.5), Math.log(1.5), Math.log(0.9), Math.log(2)]), f32([0, 0, 0, 0]), f32([-1, -1, -2, 0]), 4, 0.2);
    expect(r.loss).toBeCloseTo(1.025, 6);
    expect(rounded(r.dLogProb)).toEqual([0, 0.375, 0.45, 0]);
    expect(r.clipFraction).toBe(0.75);
    expect(r.approxKl).toBeCloseTo(0.149974, 5);
  });
});

describe('clipped value loss in both directions (clip 0.2)', () => {
  it('takes the larger squared error; the gradient flows only through the unclipped branch or inside the range', () => {
    // i0: v = 2, vOld = 1, R = 0:  unclipped 4; clipped v' = 1.2, 1.44 -> unclipped wins, dL/dv = (2 - 0) / 3
    // i1: v = 0, vOld = 1, R = 1:  unclipped 1; clipped v' = 0.8, 0.04 -> unclipped wins, dL/dv = (0 - 1) / 3
    // i2: v = 0, vOld = 1, R = -1: unclipped 1; clipped v' = 0.8, 3.24 -> clipped wins, v' is constant: 0
    // loss = 0.5 * (4 + 1 + 3.24) / 3 = 1.373333
    const r = valueLoss(f32([2, 0, 0]), f32([1, 1, 1]), f32([0, 1, -1]), 3, 0.2);
    expect(r.loss).toBeCloseTo(1.373333, 6);
    expect(rounded(r.dValue)).toEqual(rounded([2 / 3, -1 / 3, 0]));
  });
});

describe('GAE over two envs: a truncation and a termination at the same step', () => {
  it('bootstraps the truncated env from V(s_final), not the terminated one, and never reads past either end', () => {
    // gamma 0.9, lambda 0.5, T = 3, N = 2 ([T, N] layout); both episodes end at t = 1.
    // env 0: r = [1, 1, 1], V = [1, 2, 3], truncated at t = 1 with V(s_final) = 4, V(s_3) = 5
    // env 1: r = [0, 2, 0], V = [0.5, 0.5, 0.5], terminated at t = 1 (final-value slot 100, unused), V(s_3) = 1
    const rewards = f32([1, 0, 1, 2, 1, 0]);
    const dones = Uint8Array.from([0, 0, 1, 1, 0, 0]);
    const terminated = Uint8Array.from([0, 0, 0, 1, 0, 0]);
    bootstrapTruncated(rewards, dones, terminated, f32([0, 0, 4, 100, 0, 0]), 0.9);
    // env 0, t = 1: r = 1 + 0.9 * 4 = 4.6; env 1 keeps r = 2
    expect(rounded(rewards)).toEqual([1, 0, 4.6, 2, 1, 0]);
    const { advantages, returns } = gae(rewards, f32([1, 0.5, 2, 0.5, 3, 0.5]), dones, f32([5, 1]), 3, 2, 0.9, 0.5);
    // env 0: t2: 1 + 0.9 * 5 - 3 = 2.5;  t1: 4.6 - 2 = 2.6 (end: no V(s_2), no A_2);
    //        t0: delta 1 + 0.9 * 2 - 1 = 1.8, A = 1.8 + 0.45 * 2.6 = 2.97
    // env 1: t2: 0 + 0.9 * 1 - 0.5 = 0.4;  t1: 2 - 0.5 = 1.5;
    //        t0: delta 0 + 0.9 * 0.5 - 0.5 = -0.05, A = -0.05 + 0.45 * 1.5 = 0.625
    expect(rounded(advantages)).toEqual([2.97, 0.625, 2.6, 1.5, 2.5, 0.4]);
    // returns = A + V
    expect(rounded(returns)).toEqual([3.97, 1.125, 4.6, 2, 5.5, 0.9]);
  });
});

describe('GAE against its definition', () => {
  it('equals sum_k (gamma lambda)^k delta_{t+k} up to and including the episode\'s last step, on random rollouts', () => {
    // The recursion A_t = delta_t + gamma lambda (1 - done_t) A_{t+1} unrolled: for each env and t,
    // add (gamma lambda)^k delta_{t+k} for k = 0, 1, ... and stop after the first step u >= t with
    // done_u = 1 (or at T - 1), where delta_u = r_u + gamma V_{u+1} (1 - done_u) - V_u, V_T = lastValues.
    const rng = new Rng(21);
    const T = 7;
    const N = 3;
    const gamma = 0.97;
    const lambda = 0.8;
    for (let trial = 0; trial < 5; trial++) {
      const r = Float32Array.from({ length: T * N }, () => rng.range(-2, 2));
      const v = Float32Array.from({ length: T * N }, () => rng.range(-1, 3));
      const dones = Uint8Array.from({ length: T * N }, () => (rng.uniform() < 0.25 ? 1 : 0));
      const last = Float32Array.from({ length: N }, () => rng.range(-1, 3));
      const { advantages } = gae(r, v, dones, last, T, N, gamma, lambda);
      for (let i = 0; i < N; i++) {
        for (let t = 0; t < T; t++) {
          let want = 0;
          for (let u = t; u < T; u++) {
            const k = u * N + i;
            const next = u === T - 1 ? last[i] : v[k + N];
            want += (gamma * lambda) ** (u - t) * (r[k] + gamma * next * (1 - dones[k]) - v[k]);
            if (dones[k]) break;
          }
          expect(advantages[t * N + i]).toBeCloseTo(want, 4);
        }
      }
    }
  });
});

describe('diagonal Gaussian with a state-independent log-std', () => {
  it('sums the log-density over dimensions with per-dimension sigmas, row by row', () => {
    // logStd = [0, ln 0.5] (sigma 1 and 0.5); norm = sum_j (logStd_j + 0.5 ln 2 pi) = -0.693147 + 1.837877 = 1.144730
    // row 0: mean [0, 1], a [1, 1.5]: z = [1, 1],  -0.5 * 2 - 1.144730 = -2.144730
    // row 1: mean [2, -1], a [2, -2]: z = [0, -2], -0.5 * 4 - 1.144730 = -3.144730
    const logStd = f32([0, Math.log(0.5)]);
    const lp = gaussianLogProb(f32([0, 1, 2, -1]), logStd, f32([1, 1.5, 2, -2]), 2, 2);
    expect(rounded(lp)).toEqual([-2.14473, -3.14473]);
    // entropy = sum_j (0.5 + 0.5 ln 2 pi + logStd_j) = 1 + 1.837877 - 0.693147 = 2.144730
    expect(gaussianEntropy(logStd)).toBeCloseTo(2.14473, 5);
  });
});

describe('advantage normalisation of a minibatch', () => {
  it('normalises only the first n values (unbiased std) and maps a single value to 0, not NaN', () => {
    // [1, 3 | 100], n = 2: mean 2, unbiased std sqrt(2) = 1.414214 -> [-0.707107, 0.707107], 100 untouched
    const x = f32([1, 3, 100]);
    normalizeInPlace(x, 2);
    expect(rounded(x)).toEqual([-0.70711, 0.70711, 100]);
    // one value: std over n - 1 = 0 samples taken as 0; (x - mean) = 0 -> 0 (torch's std() would be NaN)
    const one = f32([5]);
    normalizeInPlace(one);
    expect(one[0]).toBe(0);
  });
});

describe('target KL early stop (CleanRL: checked after each epoch, with the last minibatch\'s KL)', () => {
  it('finishes the epoch in which the KL passed the target, then stops', () => {
    // targetKl -1: the estimator r - 1 - ln r >= 0 always exceeds it. 2 epochs x 2 minibatches of
    // one sample: CleanRL runs both minibatches of epoch 0 (2 optimiser steps), then breaks.
    const pol = new PpoPolicy(1, 1, [], 10, f32([0.5, 0, 0, 1, 0]));
    const steps: number[] = [];
    const adam = { lr: 0, step: () => steps.push(1) } as unknown as Adam;
    const c: PpoConfig = { ...PPO_DEFAULTS, numEnvs: 1, numSteps: 2, numMinibatches: 2, updateEpochs: 2, targetKl: -1 };
    const lp = gaussianLogProb(f32([0.5, 0.5]), pol.logStd, f32([1, 0]), 2, 1);
    const m = ppoUpdate(pol, adam, new Rng(0), c, { obsN: f32([1, 1]), actions: f32([1, 0]), logProbs: lp, values: f32([1, 1]) }, f32([1, -1]), f32([2, 0]));
    expect(steps).toHaveLength(2);
    expect(m['losses/early_stop_epoch']).toBe(0);
    // without a target: all 2 x 2 steps
    steps.length = 0;
    ppoUpdate(pol, adam, new Rng(0), { ...c, targetKl: null }, { obsN: f32([1, 1]), actions: f32([1, 0]), logProbs: lp, values: f32([1, 1]) }, f32([1, -1]), f32([2, 0]));
    expect(steps).toHaveLength(4);
  });
});

describe('resolvePpoConfig', () => {
  it('refuses fields that would loop forever or train on NaN, naming the field; undefined keeps the default', () => {
    // numSteps 0: an empty batch, and ppoUpdate's minibatch loop (start + 0 <= 0) never ended
    expect(() => resolvePpoConfig({ numSteps: 0 })).toThrow(new RangeError('PpoConfig.numSteps must be a whole number >= 1, got 0'));
    expect(() => resolvePpoConfig({ gamma: Number.NaN })).toThrow(new RangeError('PpoConfig.gamma must be a number in [0, 1], got NaN'));
    expect(() => resolvePpoConfig({ gaeLambda: 1.5 })).toThrow(new RangeError('PpoConfig.gaeLambda must be a number in [0, 1], got 1.5'));
    expect(() => resolvePpoConfig({ lr: -3e-4 })).toThrow(new RangeError('PpoConfig.lr must be a finite number >= 0, got -0.0003'));
    expect(() => resolvePpoConfig({ clipCoef: 0 })).toThrow(new RangeError('PpoConfig.clipCoef must be a number > 0, got 0'));
    expect(() => resolvePpoConfig({ maxGradNorm: -1 })).toThrow(new RangeError('PpoConfig.maxGradNorm must be a number > 0, got -1'));
    expect(() => resolvePpoConfig({ targetKl: -0.01 })).toThrow(new RangeError('PpoConfig.targetKl must be null or a number >= 0, got -0.01'));
    expect(() => resolvePpoConfig({ hidden: [64, 0] })).toThrow(new RangeError('PpoConfig.hidden must be a list of whole numbers >= 1, got [64, 0]'));
    expect(() => resolvePpoConfig({ workers: -1 })).toThrow(new RangeError('PpoConfig.workers must be a whole number >= 0, got -1'));
    expect(() => resolvePpoConfig({ numEnvs: 0 })).toThrow(new RangeError('PpoConfig.numEnvs must be a whole number >= 1, got 0'));
    // 8 envs x 128 steps = 1,024 steps do not split into 3 minibatches.
    expect(() => resolvePpoConfig({ numEnvs: 8, numSteps: 128, numMinibatches: 3 })).toThrow(
      new RangeError('PpoConfig: the batch (numEnvs x numSteps = 1024) must divide into 3 minibatches (numMinibatches)'),
    );
    // a field given as undefined (e.g. an optional setting passed through) keeps its default; it
    // used to override it with undefined (a NaN learning rate)
    const c = resolvePpoConfig({ lr: undefined, gamma: undefined, numSteps: 64 });
    expect([c.lr, c.gamma, c.numSteps]).toEqual([3e-4, 0.99, 64]);
  });
});

describe('PpoPolicy.fromJSON of a damaged policy', () => {
  it('names the file and field: parameters of another count or byte length, observation statistics of another size or a negative variance', () => {
    const pol = new PpoPolicy(2, 1, [3]);
    pol.init(new Rng(0));
    const good = pol.toJSON();
    // [2, 3, 1] actor (9 + 4 = 13), 1 log-std, [2, 3, 1] critic (13): 27 parameters
    expect(PpoPolicy.fromJSON(good).theta).toHaveLength(27);
    const short = Buffer.from(new Float32Array(26).buffer).toString('base64');
    // before: "PpoPolicy: expected 27 parameters, got 26" without the file; an odd byte length "offset is out of bounds"
    expect(() => PpoPolicy.fromJSON({ ...good, theta: short }, 'p.json')).toThrow(new InputError('p.json', 'holds 26 parameters; obsDim 2, actDim 1 and hidden [3] take 27', 'theta'));
    expect(() => PpoPolicy.fromJSON({ ...good, theta: 'AAAAAAAA' }, 'p.json')).toThrow(/^p\.json \(theta\): not base64 float32 values \(/);
    // before: "ObsNormalizer: saved statistics have 1 dims, expected 2" without the file
    expect(() => PpoPolicy.fromJSON({ ...good, obsNorm: { ...good.obsNorm, mean: [0] } }, 'p.json')).toThrow(
      new InputError('p.json', 'expected 2 finite numbers (one per observation value), found 1 values', 'obsNorm.mean'),
    );
    // before: accepted, and the policy acted with NaN (sqrt of a negative variance)
    expect(() => PpoPolicy.fromJSON({ ...good, obsNorm: { ...good.obsNorm, var: [1, -1] } }, 'p.json')).toThrow(
      new InputError('p.json', 'expected 2 finite numbers >= 0 (one per observation value), found [1,-1]', 'obsNorm.var'),
    );
    expect(() => PpoPolicy.fromJSON({ ...good, hidden: [0] }, 'p.json')).toThrow(new InputError('p.json', 'expected a list of whole numbers >= 1, found [0]', 'hidden'));
    // inside a checkpoint the fields are named under policy.
    expect(() => PpoPolicy.fromJSON({ ...good, obsDim: 0 }, 'checkpoint.json', 'policy.')).toThrow(new InputError('checkpoint.json', 'expected a whole number >= 1, found 0', 'policy.obsDim'));
  });
});

describe('saved normalisation statistics', () => {
  it('RewardScaler and ObsNormalizer refuse a negative or non-finite variance, a bad count and returns that are not finite numbers', () => {
    // before: loaded, and a resumed run scaled every reward by 1 / sqrt(-1) = NaN
    const good = { rms: { mean: [0.5], var: [4], count: 10 }, returns: [1, 2] };
    const s = new RewardScaler(2);
    s.load(good);
    expect([s.rms.var[0], s.rms.count]).toEqual([4, 10]);
    expect(() => new RewardScaler(2).load({ ...good, rms: { ...good.rms, var: [-1] } })).toThrow(new RangeError('RewardScaler: saved variances must be 1 finite numbers >= 0'));
    expect(() => new RewardScaler(2).load({ ...good, rms: { ...good.rms, count: 0 } })).toThrow(new RangeError('RewardScaler: the saved count must be a finite number > 0, got 0'));
    expect(() => new RewardScaler(2).load({ ...good, returns: [1, Number.NaN] })).toThrow(new RangeError('RewardScaler: saved returns must be finite numbers'));
    expect(() => new ObsNormalizer(2).load({ mean: [0, 0], var: [1, Number.NaN], count: 3 })).toThrow(new RangeError('ObsNormalizer: saved variances must be 2 finite numbers >= 0'));
    expect(() => new ObsNormalizer(2).load({ mean: [0, 0], var: [1, 1], count: -3 })).toThrow(new RangeError('ObsNormalizer: the saved count must be a finite number > 0, got -3'));
  });
});

describe('expertValueFunction of a hand-written checkpoint', () => {
  it('multiplies the critic by sqrt(var(G) + 1e-8) of the run\'s reward scaler; a damaged scaler or config names the field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'prefrl-math-expert-'));
    try {
      // linear critic V(x) = 0.5 x + 1 on a 1-d observation (no hidden layers), statistics mean 0, var 1
      const pol = new PpoPolicy(1, 1, [], 10, Float32Array.from([0, 0, 0, 0.5, 1]));
      pol.obsNorm.load({ mean: [0], var: [1], count: 5 });
      const write = (o: Record<string, unknown>) => {
        const file = join(dir, 'checkpoint.json');
        writeFileSync(file, JSON.stringify({ format: 'prefrl-ppo-checkpoint-v1', config: { gamma: 0.9, normReward: true }, env: { id: 'toy-reach' }, policy: pol.toJSON(), rewardScaler: { rms: { mean: [0], var: [4], count: 9 }, returns: [0] }, ...o }));
        return file;
      };
      // x = 2: z = 2 / sqrt(1 + 1e-8) = 2 (float32); V = 0.5 * 2 + 1 = 2; scale sqrt(4 + 1e-8) = 2 -> 4
      const v = expertValueFunction(write({}));
      expect(v.gamma).toBe(0.9);
      expect(v.scale).toBeCloseTo(2, 8);
      expect(v.value(Float32Array.from([2]))).toBeCloseTo(4, 5);
      // without reward normalisation the critic is in reward units already
      expect(expertValueFunction(write({ config: { gamma: 0.9, normReward: false } })).value(Float32Array.from([2]))).toBeCloseTo(2, 5);
      // before: a negative variance gave scale NaN (every value NaN); no config a TypeError
      const bad = write({ rewardScaler: { rms: { mean: [0], var: [-4], count: 9 }, returns: [0] } });
      expect(() => expertValueFunction(bad)).toThrow(new InputError(bad, 'damaged checkpoint: RewardScaler: saved variances must be 1 finite numbers >= 0', 'rewardScaler'));
      const noConfig = write({ config: undefined });
      expect(() => expertValueFunction(noConfig)).toThrow(new InputError(noConfig, 'damaged checkpoint: expected a config with a discount gamma in [0, 1]', 'config'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
