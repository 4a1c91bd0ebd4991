import { describe, expect, it } from 'vitest';
import { pearson } from '../../core/math.js';
import { Rng } from '../../core/rng.js';
import { randomPolicy, rollout } from '../../envs/rollout.js';
import { TOY_SPEC, ToyReachEnv } from '../../envs/toy.js';
import {
  type BatchReward,
  canonicalRewards,
  drawEpicSamples,
  envReward,
  epicDistance,
  epicPool,
  modelReward,
  preferenceAccuracy,
  preferenceNll,
  preferenceTargets,
  returnCorrelation,
} from '../../reward/metrics.js';
import type { Label, RewardModel, TransitionBatch } from '../../reward/types.js';

describe('preference accuracy and NLL', () => {
  it('accuracy leaves tie labels out and gives half a point to p = 0.5', () => {
    // i0: 0.9 vs 1 right; i1: 0.2 vs 1 wrong; i2: 0.5 vs 0 half; i3: tie label, left out; i4: 0.6 vs 0 wrong
    // (1 + 0 + 0.5 + 0) / 4 = 0.375
    const r = preferenceAccuracy([0.9, 0.2, 0.5, 0.7, 0.6], [1, 1, 0, 0.5, 0]);
    expect(r).toEqual({ accuracy: 0.375, n: 4, ties: 1 });
    // soft labels count by side: 0.8 -> first, 0.3 -> second
    expect(preferenceAccuracy([0.6, 0.4], [0.8, 0.3]).accuracy).toBe(1);
    expect(preferenceAccuracy([0.6], [0.5]).accuracy).toBeNaN();
  });

  it('mean NLL includes ties as soft labels', () => {
    // -log 0.8 = 0.223144; tie at p = 0.8: -(0.5 log 0.8 + 0.5 log 0.2) = 0.5 (0.223144 + 1.609438) = 0.916291
    // mean = (0.223144 + 0.916291) / 2 = 0.569717
    expect(preferenceNll([0.8, 0.8], [1, 0.5])).toBeCloseTo(0.569717, 6);
  });

  it('targets from labels drop skips', () => {
    const labels: Label[] = [
      { kind: 'preference', id: 'l0', pairId: 'p0', teacher: 't', probFirst: 1 },
      { kind: 'skip', id: 'l1', pairId: 'p1', teacher: 't', reason: 'both below threshold' },
      { kind: 'preference', id: 'l2', pairId: 'p2', teacher: 't', probFirst: 0.5 },
    ];
    const t = preferenceTargets(labels);
    expect(Array.from(t.targets)).toEqual([1, 0.5]);
    expect(Array.from(t.index)).toEqual([0, 2]);
  });
});

describe('return correlation', () => {
  it('Pearson and Spearman with ties', () => {
    // a = [1, 2, 2, 3] -> ranks [1, 2.5, 2.5, 4]; b = [1, 3, 2, 4] -> ranks [1, 3, 2, 4]
    // centred ranks: [-1.5, 0, 0, 1.5] and [-1.5, 0.5, -0.5, 1.5]
    // sum products 2.25 + 0 + 0 + 2.25 = 4.5; sums of squares 4.5 and 5; 4.5 / sqrt(22.5) = 0.948683
    const r = returnCorrelation([1, 2, 2, 3], [1, 3, 2, 4]);
    expect(r.spearman).toBeCloseTo(0.948683, 6);
    // Pearson on the raw values: same centred values here (means 2 and 2.5):
    // a - 2 = [-1, 0, 0, 1], b - 2.5 = [-1.5, 0.5, -0.5, 1.5]: 3 / sqrt(2 * 5) = 0.948683
    expect(r.pearson).toBeCloseTo(0.948683, 6);
    // monotone but non-linear: Spearman 1, Pearson < 1
    const m = returnCorrelation([1, 2, 3, 4], [1, 4, 9, 100]);
    expect(m.spearman).toBeCloseTo(1, 12);
    expect(m.pearson).toBeLessThan(0.9);
  });
});

describe('EPIC', () => {
  it('hand-computed canonicalisation with exact expectations', () => {
    // Two states {0, 1}, one action, gamma = 0.5, D_S uniform, exact means ('all').
    // R_A(s, a, s') = s:  E[R_A(x, A, S')] = x, E[R_A(S, A, S')] = 0.5
    //   C_A = s + 0.5 s' - s - 0.5 * 0.5 = 0.5 s' - 0.25
    // R_B(s, a, s') = s': E[R_B(x, A, S')] = 0.5, E[R_B(S, A, S')] = 0.5
    //   C_B = s' + 0.25 - 0.5 - 0.25 = s' - 0.5
    // transitions 0->1, 1->0, 1->1: C_A = [0.25, -0.25, 0.25], C_B = [0.5, -0.5, 0.5]; rho = 1, distance 0
    const rA: BatchReward = (s) => Float64Array.from(s);
    const rB: BatchReward = (_s, _a, next) => Float64Array.from(next);
    const tr = { s: Int32Array.of(0, 1, 1), a: new Float32Array(3), next: Int32Array.of(1, 0, 1) };
    const opts = { nStates: 2, actDim: 1, gamma: 0.5, actions: { kind: 'pool' as const, actions: Float32Array.of(0) }, samples: 'all' as const, rng: new Rng(0) };
    const smp = drawEpicSamples(opts);
    expect(Array.from(canonicalRewards(rA, tr, smp, opts))).toEqual([0.25, -0.25, 0.25]);
    expect(Array.from(canonicalRewards(rB, tr, smp, opts))).toEqual([0.5, -0.5, 0.5]);
    const r = epicDistance(rA, rB, tr, opts);
    expect(r.rho).toBeCloseTo(1, 12);
    expect(r.distance).toBeCloseTo(0, 6);
    // R_C(s, a, s') = -s': C_C = -(s' - 0.5): rho = -1, distance sqrt((1 + 1) / 2) = 1
    const rC: BatchReward = (_s, _a, next) => Float64Array.from(next, (x) => -x);
    expect(epicDistance(rB, rC, tr, opts).distance).toBeCloseTo(1, 12);
  });

  const env = new ToyReachEnv();
  const trajs = rollout(env, randomPolicy(TOY_SPEC, new Rng(6)), { episodes: 8, seed: 3 });
  const pool = epicPool(trajs);
  const truth = envReward(new ToyReachEnv(), pool.states);
  const gamma = 0.9;
  const base = { nStates: pool.states.length, actDim: 2, gamma, samples: 64 };
  const poolActions = { kind: 'pool' as const, actions: pool.actions };
  const boxActions = { kind: 'uniform' as const, low: TOY_SPEC.actLow, high: TOY_SPEC.actHigh };
  /** Phi(s) = 3 x - 2 y^2 + sin(5 vx) from the pool state. */
  const phi = (i: number) => {
    const st = pool.states[i];
    return 3 * st.qpos[0] - 2 * st.qpos[1] ** 2 + Math.sin(5 * st.qvel[0]);
  };

  it('pool has every state and visited transition', () => {
    expect(pool.states).toHaveLength(8 * 51);
    expect(pool.transitions.s).toHaveLength(8 * 50);
    expect(pool.transitions.next[0]).toBe(1);
    expect(pool.transitions.s[50]).toBe(51); // second episode starts after the first's 51 states
    // the true reward on visited transitions reproduces the recorded rewards
    const r = truth(pool.transitions.s.subarray(0, 50), pool.actions.subarray(0, 100), pool.transitions.next.subarray(0, 50));
    for (let t = 0; t < 50; t++) expect(r[t]).toBeCloseTo(trajs[0].rewards[t], 12);
  });

  it('a potential-shaped, rescaled reward is at distance ~0', () => {
    const shaped: BatchReward = (s, a, next) => {
      const base = truth(s, a, next);
      return Float64Array.from(base, (r, i) => 2.5 * r + gamma * phi(next[i]) - phi(s[i]));
    };
    for (const actions of [poolActions, boxActions]) {
      const r = epicDistance(truth, shaped, pool.transitions, { ...base, actions, rng: new Rng(1) });
      expect(r.distance).toBeLessThan(1e-6);
    }
    // without canonicalisation the raw rewards are clearly different
    const raw = truth(pool.transitions.s, pool.transitions.a, pool.transitions.next);
    const rawShaped = shaped(pool.transitions.s, pool.transitions.a, pool.transitions.next);
    expect(Math.sqrt((1 - pearson(raw, rawShaped)) / 2)).toBeGreaterThan(0.1);
  });

  it('an unrelated reward is far (> 0.3)', () => {
    const unrelated: BatchReward = (s, a, next) =>
      Float64Array.from(s, (_x, i) => Math.cos(7 * pool.states[next[i]].qpos[2]) * a[2 * i + 1] + pool.states[s[i]].qvel[1]);
    const r = epicDistance(truth, unrelated, pool.transitions, { ...base, actions: poolActions, rng: new Rng(2) });
    expect(r.distance).toBeGreaterThan(0.3);
    expect(r.distance).toBeLessThanOrEqual(1);
  });

  it('is seeded', () => {
    const f: BatchReward = (s) => Float64Array.from(s, (i) => phi(i) ** 2);
    const a = epicDistance(truth, f, pool.transitions, { ...base, actions: boxActions, rng: new Rng(5) });
    const b = epicDistance(truth, f, pool.transitions, { ...base, actions: boxActions, rng: new Rng(5) });
    expect(a.distance).toBe(b.distance);
  });

  it('a learned reward callback built from a RewardModel: a model of the true reward is at ~0', () => {
    // toy obs[4], obs[5] = goal - position, so the reward is computable from (action, next obs)
    const model: RewardModel = {
      input: 'obs-action',
      members: 1,
      predict(batch: TransitionBatch): Float32Array {
        const out = new Float32Array(batch.n);
        for (let i = 0; i < batch.n; i++) {
          const d = Math.hypot(batch.nextObs[i * 6 + 4], batch.nextObs[i * 6 + 5]);
          const a0 = batch.actions[2 * i];
          const a1 = batch.actions[2 * i + 1];
          out[i] = -d - 0.05 * (a0 * a0 + a1 * a1) + 0.5 * (d < 0.1 ? 1 : 0);
        }
        return out;
      },
      predictMembers(batch) {
        return this.predict(batch);
      },
      dispose() {},
    };
    const learned = modelReward(model, pool.obs, pool.obsDim);
    const r = epicDistance(truth, learned, pool.transitions, { ...base, actions: poolActions, rng: new Rng(3) });
    // float32 observations: small but not exactly zero
    expect(r.distance).toBeLessThan(0.02);
  });
});
