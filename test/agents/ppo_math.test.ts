import { describe, expect, it } from 'vitest';
import { annealedLr, bootstrapTruncated, clippedSurrogate, gae, gaussianEntropy, gaussianLogProb, normalizeInPlace, valueLoss } from '../../agents/ppo_math.js';

const f32 = (x: number[]) => Float32Array.from(x);

describe('GAE', () => {
  it('matches a hand computation over 3 steps of 1 env with an episode end', () => {
    // gamma 0.9, lambda 0.8; rewards [1, 2, 3], values [0.5, 1, 1.5], done after step 1, V(s_3) = 2
    // t=2: delta = 3 + 0.9*2 - 1.5 = 3.3;                A2 = 3.3
    // t=1: done -> delta = 2 - 1 = 1;                    A1 = 1 (no look past the end)
    // t=0: delta = 1 + 0.9*1 - 0.5 = 1.4;                A0 = 1.4 + 0.72 * 1 = 2.12
    const { advantages, returns } = gae(f32([1, 2, 3]), f32([0.5, 1, 1.5]), Uint8Array.from([0, 1, 0]), f32([2]), 3, 1, 0.9, 0.8);
    expect(Array.from(advantages).map((x) => +x.toFixed(5))).toEqual([2.12, 1, 3.3]);
    expect(Array.from(returns).map((x) => +x.toFixed(5))).toEqual([2.62, 2, 4.8]);
  });

  it('keeps envs apart in the [T, N] layout', () => {
    // two envs, T = 2: env 0 rewards [1, 1], env 1 rewards [0, 10]; zero values; gamma = lambda = 1
    const { advantages } = gae(f32([1, 0, 1, 10]), f32([0, 0, 0, 0]), new Uint8Array(4), f32([0, 0]), 2, 2, 1, 1);
    expect(Array.from(advantages)).toEqual([2, 10, 1, 10]);
  });

  it('with a constant value function V = c and lambda = 1, advantages are discounted returns minus c', () => {
    // Analytic check: A_t = sum_k gamma^k r_{t+k} + gamma^{T-t} V(s_T) - V(s_t) with V = c everywhere.
    const T = 6;
    const gamma = 0.95;
    const c = 0.7;
    const r = f32([0.3, -1, 2, 0.5, 0, 1.5]);
    const { advantages } = gae(r, new Float32Array(T).fill(c), new Uint8Array(T), f32([c]), T, 1, gamma, 1);
    for (let t = 0; t < T; t++) {
      let g = 0;
      for (let k = t; k < T; k++) g += gamma ** (k - t) * r[k];
      g += gamma ** (T - t) * c;
      expect(advantages[t]).toBeCloseTo(g - c, 5);
    }
  });
});

describe('truncation vs termination', () => {
  it('a time-limit cut bootstraps from V(s_final), a termination does not (hand values through GAE)', () => {
    // 1 env, T = 2, rewards [1, 1], values [0.5, 0.5], the episode ends at step 1; V(s_final) = 2;
    // gamma 0.9, lambda 1. lastValues (the next episode's first state) must not leak in: 100.
    const run = (terminated: number) => {
      const r = f32([1, 1]);
      bootstrapTruncated(r, Uint8Array.from([0, 1]), Uint8Array.from([0, terminated]), f32([0, 2]), 0.9);
      return { r: Array.from(r), ...gae(r, f32([0.5, 0.5]), Uint8Array.from([0, 1]), f32([100]), 2, 1, 0.9, 1) };
    };
    // truncated: r_1 = 1 + 0.9 * 2 = 2.8; A_1 = 2.8 - 0.5 = 2.3;
    //            A_0 = (1 + 0.9 * 0.5 - 0.5) + 0.9 * 2.3 = 0.95 + 2.07 = 3.02
    const tr = run(0);
    expect(tr.r.map((x) => +x.toFixed(5))).toEqual([1, 2.8]);
    expect(Array.from(tr.advantages).map((x) => +x.toFixed(5))).toEqual([3.02, 2.3]);
    // terminated: r_1 stays 1; A_1 = 1 - 0.5 = 0.5; A_0 = 0.95 + 0.9 * 0.5 = 1.4
    const te = run(1);
    expect(te.r).toEqual([1, 1]);
    expect(Array.from(te.advantages).map((x) => +x.toFixed(5))).toEqual([1.4, 0.5]);
  });

  it('leaves steps that did not end an episode alone, whatever the final-value buffer holds', () => {
    const r = f32([1, 2, 3]);
    bootstrapTruncated(r, Uint8Array.from([0, 0, 1]), Uint8Array.from([0, 0, 0]), f32([5, 5, -1]), 0.5);
    // only step 2 (truncated): 3 + 0.5 * -1 = 2.5
    expect(Array.from(r)).toEqual([1, 2, 2.5]);
  });
});

describe('learning-rate annealing', () => {
  it('falls linearly from lr0 at the first update to lr0 B / total at the last (CleanRL per iteration)', () => {
    // 4 rollouts of 2048 steps, lr0 3e-4: updates start after 0, 2048, 4096, 6144 steps
    // -> 3e-4 * [1, 0.75, 0.5, 0.25] = [3e-4, 2.25e-4, 1.5e-4, 0.75e-4]
    expect([0, 2048, 4096, 6144].map((s) => annealedLr(3e-4, s, 8192))).toEqual([3e-4, 2.25e-4, 1.5e-4, 0.75e-4].map((v) => expect.closeTo(v, 15)));
    // past the budget (a resumed run given fewer steps) it stays at 0, never negative
    expect(annealedLr(3e-4, 10000, 8192)).toBe(0);
  });
});

describe('Gaussian policy', () => {
  it('log-density and entropy match hand values', () => {
    // 1-D, mean 0, logStd log 2 (sigma 2), action 1: -0.5 * 0.25 - log 2 - 0.5 log 2 pi
    const lp = gaussianLogProb(f32([0]), f32([Math.log(2)]), f32([1]), 1, 1);
    expect(lp[0]).toBeCloseTo(-0.125 - Math.log(2) - 0.5 * Math.log(2 * Math.PI), 5);
    // entropy of N(0, 2^2) = 0.5 + 0.5 log 2 pi + log 2 = 2.1121
    expect(gaussianEntropy(f32([Math.log(2)]))).toBeCloseTo(2.112086, 5);
  });
});

describe('PPO losses', () => {
  it('clipped surrogate: value, gradient only where unclipped, KL and clip fraction', () => {
    // sample 0: ratio e^0.1 = 1.10517, A = 1 -> unclipped term -1.10517 (inside the clip range)
    // sample 1: ratio e^0.5 = 1.64872, A = 2 -> clipped: max(-3.2974, -2.4) = -2.4, no gradient
    // sample 2: ratio e^-0.5 = 0.60653, A = 1 -> max(-0.60653, -0.8) = -0.60653, unclipped gradient
    const oldLp = f32([0, 0, 0]);
    const newLp = f32([0.1, 0.5, -0.5]);
    const adv = f32([1, 2, 1]);
    const r = clippedSurrogate(newLp, oldLp, adv, 3, 0.2);
    expect(r.loss).toBeCloseTo((-1.105171 - 2.4 - 0.606531) / 3, 5);
    expect(r.dLogProb[0]).toBeCloseTo(-1.105171 / 3, 5);
    expect(r.dLogProb[1]).toBe(0);
    expect(r.dLogProb[2]).toBeCloseTo(-0.606531 / 3, 5);
    expect(r.clipFraction).toBeCloseTo(2 / 3, 10);
    // KL estimator: mean(r - 1 - log r)
    expect(r.approxKl).toBeCloseTo((0.105171 - 0.1 + 0.648721 - 0.5 + -0.393469 + 0.5) / 3, 5);
  });

  it('clipped value loss picks the larger error and stops the gradient when clipped', () => {
    // v = 2, vOld = 1, R = 3, clip 0.2: unclipped (2-3)^2 = 1; clipped v' = 1.2, (1.2-3)^2 = 3.24 -> clipped wins, no gradient
    // v = 1.1, vOld = 1, R = 0: unclipped 1.21; clipped v' = 1.1 (inside), same 1.21 -> gradient (1.1 - 0) / 2
    const r = valueLoss(f32([2, 1.1]), f32([1, 1]), f32([3, 0]), 2, 0.2);
    expect(r.loss).toBeCloseTo((0.5 * (3.24 + 1.21)) / 2, 5);
    expect(r.dValue[0]).toBe(0);
    expect(r.dValue[1]).toBeCloseTo(0.55, 5);
    const plain = valueLoss(f32([2]), f32([1]), f32([3]), 1, null);
    expect(plain.loss).toBeCloseTo(0.5, 6);
    expect(plain.dValue[0]).toBeCloseTo(-1, 6);
  });

  it('normalises advantages with the unbiased std', () => {
    const x = f32([1, 2, 3]);
    normalizeInPlace(x);
    // mean 2, unbiased std 1
    expect(Array.from(x).map((v) => +v.toFixed(6))).toEqual([-1, 0, 1]);
  });
});
