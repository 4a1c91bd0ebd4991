import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Iql, squaredError } from '../../agents/iql.js';
import { initBackend } from '../../core/backend.js';
import { batch } from '../helpers/offline_batch.js';

beforeAll(async () => {
  await initBackend('wasm');
});

const f32 = (x: number[]) => Float32Array.from(x);


describe('IQL update (CORL order: V, then Q with v\' taken before the V step, then the actor)', () => {
  it('reports the hand-computed losses, advantages and weights of one update', () => {
    // Networks with one ReLU unit, weights set by hand (W [in, out], then b):
    //   V(s)              = 1 * relu(1 * s)            -> relu(s)
    //   Q1(s, a), target  = 2 * relu(s + a)
    //   Q2(s, a), target  = 3 * relu(s + a)
    //   actor mean        = 0 + 1 * tanh(0)  = 0       (deterministic, box [-1, 1])
    // gamma 0.9, expectile 0.7, beta 3, weights clipped at 100.
    const iql = new Iql(1, 1, [-1], [1], { hidden: [1], actor: 'deterministic', discount: 0.9, expectile: 0.7, beta: 3, maxWeight: 100, updates: 10 });
    try {
      iql.v.setWeights([f32([1]), f32([0]), f32([1]), f32([0])]);
      iql.q1.setWeights([f32([1, 1]), f32([0]), f32([2]), f32([0])]);
      iql.q2.setWeights([f32([1, 1]), f32([0]), f32([3]), f32([0])]);
      iql.q1Target.copyFrom(iql.q1);
      iql.q2Target.copyFrom(iql.q2);
      iql.actor.net.setWeights([f32([0]), f32([0]), f32([0]), f32([0])]);
      // row 0: s = 1,   a = 0.5,  r = 1,  s' = 2, not terminal
      // row 1: s = 0.5, a = -0.4, r = -1, s' = 3, terminal (no bootstrap)
      const b = batch([
        { s: 1, a: 0.5, r: 1, next: 2, done: 0 },
        { s: 0.5, a: -0.4, r: -1, next: 3, done: 1 },
      ]);
      const m = iql.update(b, true);
      if (!m) throw new Error('no metrics');
      // min target Q = min(2, 3) * relu(s + a) = [2 * 1.5, 2 * 0.1] = [3, 0.2]; mean 1.6
      expect(m['losses/q_target_mean']).toBeCloseTo(1.6, 5);
      // u = minQ - V(s) = [3 - 1, 0.2 - 0.5] = [2, -0.3]; expectile weights [0.7, 0.3]:
      // L_V = (0.7 * 4 + 0.3 * 0.09) / 2 = (2.8 + 0.027) / 2 = 1.4135
      expect(m['losses/value_loss']).toBeCloseTo(1.4135, 5);
      expect(m['losses/advantage_mean']).toBeCloseTo(0.85, 5);
      // y = r + 0.9 (1 - done) V(s') = [1 + 0.9 * 2, -1] = [2.8, -1] (V before its step)
      // Q1 = [3, 0.2]: ((3 - 2.8)^2 + (0.2 + 1)^2) / 2 = (0.04 + 1.44) / 2 = 0.74
      // Q2 = [4.5, 0.3]: ((4.5 - 2.8)^2 + (0.3 + 1)^2) / 2 = (2.89 + 1.69) / 2 = 2.29
      // L_Q = (0.74 + 2.29) / 2 = 1.515
      expect(m['losses/q_loss']).toBeCloseTo(1.515, 5);
      // w = min(exp(3 A), 100) = [min(e^6 = 403.4, 100), e^-0.9 = 0.40657]; mean 50.20328
      expect(m['losses/weight_mean']).toBeCloseTo((100 + Math.exp(-0.9)) / 2, 4);
      // actor: mean 0, squared errors [0.25, 0.16]; L = (100 * 0.25 + 0.40657 * 0.16) / 2 = 12.53253
      expect(m['losses/actor_loss']).toBeCloseTo((25 + Math.exp(-0.9) * 0.16) / 2, 4);
    } finally {
      iql.dispose();
    }
  });

  it('the Q step moves the target networks by Polyak averaging at the target rate', () => {
    // One update at targetRate 0.5: targets end halfway between their start and the new Q weights.
    const iql = new Iql(1, 1, [-1], [1], { hidden: [2], targetRate: 0.5, updates: 10, seed: 3 });
    try {
      const before = iql.q1Target.getWeights();
      iql.update(batch([{ s: 0.2, a: 0.1, r: 1, next: 0.3, done: 0 }]), false);
      const after = iql.q1Target.getWeights();
      const q = iql.q1.getWeights();
      after.forEach((w, i) => w.forEach((x, j) => expect(x).toBeCloseTo(0.5 * before[i][j] + 0.5 * q[i][j], 6)));
      // and the Q network did move (so the check is not trivially old == new)
      expect(q.some((w, i) => w.some((x, j) => Math.abs(x - before[i][j]) > 1e-6))).toBe(true);
    } finally {
      iql.dispose();
    }
  });
});

describe('behaviour-cloning squared error', () => {
  it('sums (mu - a)^2 over action dimensions, per row', () => {
    // row 0: (0.5 - 1)^2 + (-0.5 - 0)^2 = 0.25 + 0.25 = 0.5; row 1: (0 - 0)^2 + (1 - (-1))^2 = 4
    const start = tf.memory().numTensors;
    const se = tf.tidy(() => squaredError(tf.tensor2d([[0.5, -0.5], [0, 1]]), tf.tensor2d([[1, 0], [0, -1]])));
    expect(Array.from(se.dataSync())).toEqual([0.5, 4]);
    se.dispose();
    // The two inputs were left behind once (32 bytes).
    expect(tf.memory().numTensors).toBe(start);
  });
});
