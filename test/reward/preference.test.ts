import { describe, expect, it } from 'vitest';
import {
  advantageProb,
  binaryEntropy,
  bradleyTerryNll,
  bradleyTerryNllFromProb,
  discountedReturn,
  flipNoiseProb,
  meanLoss,
  noisyNll,
  partialReturn,
  partialReturnProb,
  regret,
  regretProb,
  smoothedNll,
  smoothLabel,
} from '../../reward/preference.js';

describe('partial-return model', () => {
  it('P(a > b) = sigmoid((R(a) - R(b)) / T)', () => {
    // R(a) = 1 + 2 = 3, R(b) = 0.5 + 0.5 = 1; sigmoid(2) = 1 / (1 + e^-2) = 1 / 1.135335 = 0.880797
    expect(partialReturn([1, 2])).toBe(3);
    expect(partialReturnProb(partialReturn([1, 2]), partialReturn([0.5, 0.5]))).toBeCloseTo(0.880797, 6);
    // T = 2: sigmoid(2 / 2) = sigmoid(1) = 0.731059
    expect(partialReturnProb(3, 1, 2)).toBeCloseTo(0.731059, 6);
    // symmetric: P(b > a) = 1 - P(a > b) = 0.119203
    expect(partialReturnProb(1, 3)).toBeCloseTo(0.119203, 6);
    expect(partialReturnProb(5, 5)).toBe(0.5);
  });

  it('rejects a non-positive temperature', () => {
    expect(() => partialReturnProb(1, 0, 0)).toThrow(RangeError);
  });

  it('the optimal-advantage form has the same function as partial return', () => {
    expect(advantageProb(-0.5, -2.5)).toBe(partialReturnProb(-0.5, -2.5));
  });
});

describe('regret model', () => {
  it('regret with discount and a bootstrapped end', () => {
    // sum gamma^t r_t = 1 + 0.5 * 2 = 2; gamma^H V(s_H) = 0.25 * 6 = 1.5; regret = 4 - 3.5 = 0.5
    expect(discountedReturn([1, 2], 0.5)).toBe(2);
    expect(regret({ rewards: [1, 2], valueStart: 4, valueEnd: 6, gamma: 0.5 })).toBeCloseTo(0.5, 12);
  });

  it('a terminal end has value 0', () => {
    // 4 - (1 + 0.5 * 2 + 0) = 2
    expect(regret({ rewards: [1, 2], valueStart: 4, valueEnd: 6, gamma: 0.5, endsTerminal: true })).toBeCloseTo(2, 12);
  });

  it('gamma defaults to 1', () => {
    // 10 - (1 + 1 + 3) = 5
    expect(regret({ rewards: [1, 1], valueStart: 10, valueEnd: 3 })).toBe(5);
  });

  it('equals minus the summed optimal advantages (deterministic transitions)', () => {
    // A(s_t, a_t) = r_t + gamma V(s_{t+1}) - V(s_t), V = [4, 3, 6], gamma = 0.5:
    // A_0 = 1 + 1.5 - 4 = -1.5; A_1 = 2 + 3 - 3 = 2; sum gamma^t A_t = -1.5 + 1 = -0.5 = -regret
    const a0 = 1 + 0.5 * 3 - 4;
    const a1 = 2 + 0.5 * 6 - 3;
    expect(-(a0 + 0.5 * a1)).toBeCloseTo(regret({ rewards: [1, 2], valueStart: 4, valueEnd: 6, gamma: 0.5 }), 12);
  });

  it('P(a > b) = sigmoid((regret(b) - regret(a)) / T)', () => {
    // regret(a) = 0.5, regret(b) = 2: sigmoid(1.5) = 0.817574
    expect(regretProb(0.5, 2)).toBeCloseTo(0.817574, 6);
    // T = 0.5: sigmoid(3) = 0.952574
    expect(regretProb(0.5, 2, 0.5)).toBeCloseTo(0.952574, 6);
  });

  it('disagrees with partial return when start values differ', () => {
    // a: r = [1, 1], V(s0) = 10, terminal: regret 8, return 2. b: r = [0, 0], V = 0: regret 0, return 0.
    const ra = regret({ rewards: [1, 1], valueStart: 10, valueEnd: 0, endsTerminal: true });
    const rb = regret({ rewards: [0, 0], valueStart: 0, valueEnd: 0 });
    expect(partialReturnProb(2, 0)).toBeGreaterThan(0.5);
    // sigmoid(0 - 8) = 0.000335
    expect(regretProb(ra, rb)).toBeCloseTo(0.000335, 6);
  });
});

describe('losses', () => {
  it('Bradley-Terry NLL with hard and soft labels', () => {
    // -log sigmoid(2) = log(1.135335) = 0.126928
    expect(bradleyTerryNll(2, 1)).toBeCloseTo(0.126928, 6);
    // -log sigmoid(-2) = 2.126928
    expect(bradleyTerryNll(2, 0)).toBeCloseTo(2.126928, 6);
    // tie: 0.5 * 0.126928 + 0.5 * 2.126928 = 1.126928
    expect(bradleyTerryNll(2, 0.5)).toBeCloseTo(1.126928, 6);
    // softplus(d) - y d: softplus(2) = 2.126928, minus 0.7 * 2 = 0.726928
    expect(bradleyTerryNll(2, 0.7)).toBeCloseTo(0.726928, 6);
    // stable far out: -log sigmoid(-800) = 800
    expect(bradleyTerryNll(-800, 1)).toBeCloseTo(800, 9);
    expect(bradleyTerryNll(800, 1)).toBe(0);
  });

  it('the probability form matches the logit form and clamps', () => {
    expect(bradleyTerryNllFromProb(0.880797, 1)).toBeCloseTo(0.126928, 5);
    // p = 0 clamped to 1e-7: -log(1e-7) = 16.118
    expect(bradleyTerryNllFromProb(0, 1)).toBeCloseTo(16.118, 3);
  });

  it('label smoothing: (1 - e) y + e / 2', () => {
    // 0.9 * 1 + 0.05 = 0.95; 0.9 * 0 + 0.05 = 0.05; ties stay 0.5
    expect(smoothLabel(1, 0.1)).toBeCloseTo(0.95, 12);
    expect(smoothLabel(0, 0.1)).toBeCloseTo(0.05, 12);
    expect(smoothLabel(0.5, 0.1)).toBeCloseTo(0.5, 12);
    // NLL(d = 2, y = 0.95) = softplus(2) - 0.95 * 2 = 2.126928 - 1.9 = 0.226928
    expect(smoothedNll(2, 1, 0.1)).toBeCloseTo(0.226928, 6);
    expect(() => smoothLabel(1, 1.5)).toThrow(RangeError);
  });

  it('noise-robust NLL: P_obs = (1 - rho) P + rho (1 - P)', () => {
    // P = 0.880797; P_obs = 0.9 * 0.880797 + 0.1 * 0.119203 = 0.7927173 + 0.0119203 = 0.8046376;
    // -log(0.8046377) = 0.217363 (with the exact P = sigmoid(2) = 0.8807971)
    expect(flipNoiseProb(0.880797, 0.1)).toBeCloseTo(0.8046376, 7);
    expect(noisyNll(2, 1, 0.1)).toBeCloseTo(0.217363, 6);
    // y = 0: -log(1 - 0.8046377) = -log(0.1953623) = 1.632899
    expect(noisyNll(2, 0, 0.1)).toBeCloseTo(1.632899, 5);
    // rho = 0 is the plain loss; a confident wrong logit costs at most -log(rho)
    expect(noisyNll(2, 1, 0)).toBe(bradleyTerryNll(2, 1));
    // d = -50, y = 1, rho = 0.1: P_obs ~= 0.1, loss ~= -log(0.1) = 2.302585
    expect(noisyNll(-50, 1, 0.1)).toBeCloseTo(2.302585, 6);
    expect(() => noisyNll(0, 1, 0.5)).toThrow(RangeError);
  });

  it('mean loss over a batch', () => {
    // (0.126928 + 2.126928) / 2 = 1.126928
    expect(meanLoss([2, -2], [1, 1])).toBeCloseTo(1.126928, 6);
    expect(() => meanLoss([1], [1, 0])).toThrow(RangeError);
  });

  it('labels outside [0, 1] are rejected', () => {
    expect(() => bradleyTerryNll(0, 1.5)).toThrow(RangeError);
    expect(() => bradleyTerryNll(0, -1)).toThrow(RangeError);
  });

  it('binary entropy', () => {
    // ln 2 = 0.693147; p = 0.9: -(0.9 ln 0.9 + 0.1 ln 0.1) = 0.094824 + 0.230259 = 0.325083
    expect(binaryEntropy(0.5)).toBeCloseTo(0.693147, 6);
    expect(binaryEntropy(0.9)).toBeCloseTo(0.325083, 6);
    expect(binaryEntropy(1)).toBe(0);
  });
});
