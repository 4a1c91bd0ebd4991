/**
 * Reward-model metrics against hand-computed values (reward/metrics.ts): EPIC with an
 * action-dependent reward (a distance strictly between 0 and 1), the Monte Carlo form of the
 * canonicalisation with given samples, and the NaN cases of correlations and accuracy.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../core/rng.js';
import { type BatchReward, canonicalRewards, epicDistance, preferenceAccuracy, returnCorrelation } from '../reward/metrics.js';

describe('EPIC by hand', () => {
  // Two states {0, 1}, actions {0, 1} (actDim 1), gamma 0.5, exact expectations ('all'):
  // D_S and D_A uniform, so E[A] = 0.5 and E[S] = E[S'] = 0.5.
  const opts = { nStates: 2, actDim: 1, gamma: 0.5, actions: { kind: 'pool' as const, actions: Float32Array.of(0, 1) }, samples: 'all' as const, rng: new Rng(0) };
  // transitions (s, a, s') = (0, 0, 0), (0, 1, 1), (1, 1, 0), (1, 0, 1)
  const tr = { s: Int32Array.of(0, 0, 1, 1), a: Float32Array.of(0, 1, 1, 0), next: Int32Array.of(0, 1, 0, 1) };
  const rA: BatchReward = (_s, a) => Float64Array.from(a);
  const rB: BatchReward = (s, a) => Float64Array.from(s, (x, i) => x + a[i]);

  it('an action reward and action + state reward: rho = 1 / sqrt(1.25), distance 0.229753', () => {
    // R_A = a:     E[R_A(x, A, S')] = 0.5 for every x, E[R_A(S, A, S')] = 0.5
    //              C_A = a + 0.5 * 0.5 - 0.5 - 0.5 * 0.5 = a - 0.5          -> [-0.5, 0.5, 0.5, -0.5]
    // R_B = a + s: E[R_B(x, A, S')] = 0.5 + x, E[R_B(S, A, S')] = 0.5 + 0.5 = 1
    //              C_B = a + s + 0.5 (0.5 + s') - (0.5 + s) - 0.5 * 1 = a + 0.5 s' - 0.75
    //                                                                       -> [-0.75, 0.75, 0.25, -0.25]
    // Both have mean 0: sum C_A C_B = 0.375 + 0.375 + 0.125 + 0.125 = 1; sum C_A^2 = 1;
    // sum C_B^2 = 0.5625 * 2 + 0.0625 * 2 = 1.25. rho = 1 / sqrt(1.25) = 0.894427191;
    // distance = sqrt((1 - 0.894427191) / 2) = sqrt(0.0527864045) = 0.229752920.
    const r = epicDistance(rA, rB, tr, opts);
    expect(Array.from(r.canonicalA)).toEqual([-0.5, 0.5, 0.5, -0.5]);
    expect(Array.from(r.canonicalB)).toEqual([-0.75, 0.75, 0.25, -0.25]);
    expect(r.rho).toBeCloseTo(0.894427191, 9);
    expect(r.distance).toBeCloseTo(0.22975292, 8);
    // symmetric in its two rewards
    expect(epicDistance(rB, rA, tr, opts).distance).toBeCloseTo(0.22975292, 8);
  });

  it('shaping R_B with Phi(s) = s gives a + 0.5 s\': the same distance to R_A, distance 0 to R_B', () => {
    // R_C = R_B + gamma Phi(s') - Phi(s) with Phi(s) = s: a + s + 0.5 s' - s = a + 0.5 s'.
    // Its canonical form equals C_B up to a constant, so the distance to R_A is the same 0.229753.
    const rC: BatchReward = (_s, a, next) => Float64Array.from(a, (x, i) => x + 0.5 * next[i]);
    const r = epicDistance(rA, rC, tr, opts);
    expect(r.distance).toBeCloseTo(0.22975292, 8);
    // and R_B vs R_C: distance 0 (equivalent up to shaping)
    expect(epicDistance(rB, rC, tr, opts).distance).toBeCloseTo(0, 7);
  });

  it('Monte Carlo canonicalisation uses the given samples: (A_j, S\'_j) for the state means, S_j for the global mean', () => {
    // R(s, a, s') = s + 2 s' + 4 a, gamma 0.5; samples A = [0, 0.5], S' = [0, 1], S = [1, 1].
    //   E_hat[R(x, A, S')] = x + 2 * (0 + 1) / 2 + 4 * (0 + 0.5) / 2 = x + 2
    //   E_hat[R(S, A, S')] = mean(1 + 0 + 0, 1 + 2 + 2) = 3   (S = 1 twice; uniform S would give 2.5)
    // transition (0, 1, 1): R = 0 + 2 + 4 = 6;  C = 6 + 0.5 * (1 + 2) - (0 + 2) - 0.5 * 3 = 4
    // transition (1, 0, 0): R = 1;              C = 1 + 0.5 * (0 + 2) - (1 + 2) - 0.5 * 3 = -2.5
    const r: BatchReward = (s, a, next) => Float64Array.from(s, (x, i) => x + 2 * next[i] + 4 * a[i]);
    const smp = { a: Float32Array.of(0, 0.5), next: Int32Array.of(0, 1), s: Int32Array.of(1, 1), exact: false };
    const c = canonicalRewards(r, { s: Int32Array.of(0, 1), a: Float32Array.of(1, 0), next: Int32Array.of(1, 0) }, smp, { gamma: 0.5, actDim: 1, nStates: 2 });
    expect(Array.from(c)).toEqual([4, -2.5]);
  });

  it('a constant reward has no correlation: rho and distance are NaN', () => {
    const constant: BatchReward = (s) => Float64Array.from(s, () => 0.1);
    const r = epicDistance(rA, constant, tr, opts);
    expect(r.rho).toBeNaN();
    expect(r.distance).toBeNaN();
  });
});

describe('correlations and accuracy: NaN where undefined', () => {
  it('return correlation of constant predicted returns is NaN, also when their mean is inexact (three 0.1s)', () => {
    // mean(0.1, 0.1, 0.1) = 0.10000000000000002 in floating point: each centred value is
    // -1.4e-17 rather than 0, and core/math's pearson returned 0 (a correlation of "none")
    // instead of NaN ("undefined").
    const r = returnCorrelation([0.1, 0.1, 0.1], [1, 2, 3]);
    expect(r.pearson).toBeNaN();
    expect(r.spearman).toBeNaN();
    expect(returnCorrelation([1, 2, 3], [0.7, 0.7, 0.7]).pearson).toBeNaN();
    // a non-constant pair is unaffected: [1, 2, 3] vs [2, 4, 7]: centred [-1, 0, 1], [-2.333, -0.333, 2.667]
    // sum products 2.333 + 2.667 = 5, sums of squares 2 and 5.444 + 0.111 + 7.111 = 12.667:
    // 5 / sqrt(2 * 12.667) = 0.993399
    expect(returnCorrelation([1, 2, 3], [2, 4, 7]).pearson).toBeCloseTo(0.993399, 6);
  });

  it('accuracy is NaN when a scored prediction is NaN (it used to count as right against a "second" label)', () => {
    // label 0 says "second"; NaN > 0.5 is false, so the old rule counted NaN as agreeing: accuracy 1
    expect(preferenceAccuracy([Number.NaN, 0.9], [0, 1]).accuracy).toBeNaN();
    expect(preferenceAccuracy([0.2, Number.NaN], [1, 1]).accuracy).toBeNaN();
    // a NaN prediction on a tie label is not scored (ties are left out): accuracy of the rest
    expect(preferenceAccuracy([Number.NaN, 0.9], [0.5, 1])).toEqual({ accuracy: 1, n: 1, ties: 1 });
  });
});

describe('bad options and inputs are refused, naming them', () => {
  const tr = { s: Int32Array.of(0, 1), a: Float32Array.of(0, 1), next: Int32Array.of(1, 0) };
  const rA: BatchReward = (_s, a) => Float64Array.from(a);
  const opts = { nStates: 2, actDim: 1, gamma: 0.5, actions: { kind: 'pool' as const, actions: Float32Array.of(0, 1) }, samples: 4, rng: new Rng(0) };
  const epic = (o: Record<string, unknown>, t = tr) => () => epicDistance(rA, rA, t, { ...opts, ...o } as unknown as Parameters<typeof epicDistance>[3]);

  it('EPIC: gamma, chunk, rng, actions (an unbounded uniform box included), actDim and state indices outside the pool', () => {
    // before: a missing gamma gave distance NaN, gamma 2 a number, chunk 0 never returned, an index
    // outside the pool reached the reward callbacks; a missing rng or actions was a TypeError inside
    expect(epic({ gamma: undefined })).toThrow(new RangeError('EPIC: gamma must be a number in [0, 1], got undefined'));
    expect(epic({ gamma: 2 })).toThrow(new RangeError('EPIC: gamma must be a number in [0, 1], got 2'));
    expect(epic({ chunk: 0 })).toThrow(new RangeError('EPIC: chunk must be a whole number >= 1, got 0'));
    expect(epic({ rng: undefined })).toThrow(new TypeError('EPIC: option rng (an Rng, e.g. new Rng(seed)) is required, got undefined'));
    expect(epic({ actions: undefined })).toThrow(new TypeError("EPIC: option actions must be { kind: 'pool', actions } or { kind: 'uniform', low, high }, got undefined"));
    expect(epic({ actDim: 0 })).toThrow(new RangeError('EPIC: actDim must be a positive integer, got 0'));
    expect(epic({ actions: { kind: 'pool', actions: Float32Array.of(0, 1, 2) }, actDim: 2 }, { ...tr, a: Float32Array.of(0, 0, 1, 1) })).toThrow(
      new RangeError('EPIC: action pool of length 3 is not [nA, 2]'),
    );
    expect(epic({ actions: { kind: 'uniform', low: [-Infinity], high: [1] } })).toThrow(new RangeError('EPIC: uniform actions need a finite box; dimension 0 has bounds [-Infinity, 1]'));
    expect(epic({ nStates: 1 })).toThrow(new RangeError('EPIC: transition 0 has next = 1, outside the pool of 1 states (indices 0..0)'));
    // gamma 0 and 1 are allowed
    expect(epic({ gamma: 1 })().distance).toBeCloseTo(0, 7);
    expect(epic({ gamma: 0 })().distance).toBeCloseTo(0, 7);
  });

  it('preference accuracy: a target outside [0, 1] (NaN included) is refused, naming its index', () => {
    // before: a NaN target counted as a "second" label, 2 as a "first" one
    expect(() => preferenceAccuracy([0.7, 0.2], [1, Number.NaN])).toThrow(new RangeError('preferenceAccuracy: target 1 is NaN; targets are label probabilities probFirst in [0, 1]'));
    expect(() => preferenceAccuracy([0.7], [2])).toThrow(new RangeError('preferenceAccuracy: target 0 is 2; targets are label probabilities probFirst in [0, 1]'));
  });
});
