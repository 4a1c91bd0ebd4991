import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bc } from '../../agents/bc.js';
import { trainOfflineAgent } from '../../agents/offline_train.js';
import type { OfflineDataset } from '../../agents/dataset.js';
import {
  ActorSnapshot,
  advantageWeights,
  BatchSampler,
  cosineLr,
  expectileLoss,
  gaussianNll,
  Iql,
  normalizedScore,
  polyakUpdate,
  prepareOfflineData,
  rewardScale,
  trainOffline,
} from '../../agents/iql.js';
import { initBackend } from '../../core/backend.js';
import { DenseStack } from '../../core/nn.js';
import { Rng } from '../../core/rng.js';

let dir = '';
beforeAll(async () => {
  await initBackend('wasm');
  dir = mkdtempSync(join(tmpdir(), 'prefrl-iql-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A one-step contextual bandit with a known optimum: s ~ U[-1, 1]^2, a in [-1, 1],
 * r = -3 (a - a*(s))^2 with a*(s) = 0.8 s_0, every step terminal. The behaviour data mixes a
 * good policy (30%: a* + N(0, 0.05^2)) with uniform random actions (70%). Behaviour cloning
 * fits the mean action, about 0.3 a*(s) (regret E[3 (0.7 a*)^2] ~ 0.3); IQL's advantage weights
 * pick out the good actions.
 */
function banditDataset(n: number, seed: number): OfflineDataset {
  const r = new Rng(seed);
  const obs = new Float32Array(n * 2);
  const act = new Float32Array(n);
  const rew = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    obs[2 * i] = r.range(-1, 1);
    obs[2 * i + 1] = r.range(-1, 1);
    const best = 0.8 * obs[2 * i];
    act[i] = Math.max(-1, Math.min(1, r.uniform() < 0.3 ? best + 0.05 * r.normal() : r.range(-1, 1)));
    rew[i] = -3 * (act[i] - best) ** 2;
  }
  return {
    size: n,
    obsDim: 2,
    actDim: 1,
    observations: obs,
    actions: act,
    rewards: rew,
    terminals: new Uint8Array(n).fill(1),
    timeouts: new Uint8Array(n),
    nextObservations: obs,
    infos: { nq: 0, nv: 0, na: 0, nTerms: 0 },
    meta: { horizon: 1 },
    source: 'bandit',
    notes: [],
  };
}

/** Mean regret (optimal reward 0 minus the reward) of an actor's mean action over a grid of states. */
function banditRegret(snap: ActorSnapshot): number {
  let s = 0;
  let k = 0;
  for (let i = 0; i <= 20; i++) {
    for (let j = 0; j <= 4; j++) {
      const o = [-1 + i / 10, -1 + j / 2];
      s += 3 * (snap.act(o)[0] - 0.8 * o[0]) ** 2;
      k++;
    }
  }
  return s / k;
}

const small = { hidden: [32, 32], actorLr: 1e-3, qLr: 1e-3, vLr: 1e-3 };

describe('IQL math (hand-computed)', () => {
  it('expectile loss and its gradient', () => {
    const start = tf.memory().numTensors;
    // u = [2, -1, 0.5, -3], tau = 0.7: weights |0.7 - 1(u < 0)| = [0.7, 0.3, 0.7, 0.3],
    // u^2 = [4, 1, 0.25, 9], products [2.8, 0.3, 0.175, 2.7], sum 5.975, mean 1.49375.
    // d/du = 2 w u / 4 = [0.7, -0.15, 0.175, -0.45].
    const u = tf.tensor1d([2, -1, 0.5, -3]);
    expect(tf.tidy(() => expectileLoss(u, 0.7).dataSync()[0])).toBeCloseTo(1.49375, 6);
    const g = tf.grad((x: tf.Tensor) => expectileLoss(x, 0.7))(u);
    expect(Array.from(g.dataSync())).toEqual([0.7, -0.15, 0.175, -0.45].map((x) => expect.closeTo(x, 6)));
    // tau = 0.5 is half the mean squared error: (4 + 1 + 0.25 + 9) / 4 / 2 = 1.78125.
    expect(tf.tidy(() => expectileLoss(u, 0.5).dataSync()[0])).toBeCloseTo(1.78125, 6);
    tf.dispose([u, g]);
    // The losses read above were left behind once (with the next two cases: 7 tensors, 52 bytes).
    expect(tf.memory().numTensors).toBe(start);
  });

  it('advantage weights exp(beta A) are clipped at 100', () => {
    const start = tf.memory().numTensors;
    const adv = tf.tensor1d([0, 1, 2, -1]);
    // beta 3: [1, e^3 = 20.0855, e^6 = 403.4 -> 100, e^-3 = 0.049787]
    const w = tf.tidy(() => advantageWeights(adv, 3, 100).dataSync());
    expect(Array.from(w)).toEqual([1, 20.085537, 100, 0.049787].map((x) => expect.closeTo(x, 4)));
    tf.dispose(adv);
    expect(tf.memory().numTensors).toBe(start);
  });

  it('Gaussian negative log-likelihood', () => {
    // mu = [0, 1], logStd = [0, ln 2], a = [1, 2]: dim 0: 0.5 * 1 + 0 + 0.9189385 = 1.4189385;
    // dim 1: z = 1/2, 0.5 * 0.25 + 0.6931472 + 0.9189385 = 1.7370857; sum 3.1560242.
    const start = tf.memory().numTensors;
    const nll = tf.tidy(() => gaussianNll(tf.tensor2d([[0, 1]]), tf.tensor1d([0, Math.log(2)]), tf.tensor2d([[1, 2]])));
    expect(nll.dataSync()[0]).toBeCloseTo(3.1560242, 5);
    nll.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });

  it('Polyak averaging of target networks', () => {
    const ones = (o: Float32Array) => o.fill(1);
    const threes = (o: Float32Array) => o.fill(3);
    const target = new DenseStack([2, 3, 1], 'relu', 'linear', ones, false);
    const source = new DenseStack([2, 3, 1], 'relu', 'linear', threes);
    polyakUpdate(target, source, 0.25); // 0.75 * 1 + 0.25 * 3 = 1.5
    expect(target.getWeights().every((w) => w.every((x) => x === 1.5))).toBe(true);
    polyakUpdate(target, source, 0.25); // 0.75 * 1.5 + 0.75 = 1.875
    expect(target.getWeights().every((w) => w.every((x) => x === 1.875))).toBe(true);
    target.dispose();
    source.dispose();
  });

  it('cosine learning-rate schedule', () => {
    // lr_k = lr0 (1 + cos(pi k / K)) / 2
    expect(cosineLr(3e-4, 0, 100)).toBeCloseTo(3e-4, 12);
    expect(cosineLr(3e-4, 25, 100)).toBeCloseTo(3e-4 * (1 + Math.SQRT1_2) / 2, 12); // 2.56066e-4
    expect(cosineLr(3e-4, 50, 100)).toBeCloseTo(1.5e-4, 12);
    expect(cosineLr(3e-4, 100, 100)).toBe(0);
    expect(cosineLr(3e-4, 150, 100)).toBe(0);
  });

  it('reward scale H / (max - min episode return) and the normalised score', () => {
    // Episodes [0..1] (terminal, return 3), [2..4] (timeout, return 12), [5] (cut: ignored).
    const ds = { size: 6, terminals: Uint8Array.from([0, 1, 0, 0, 0, 0]), timeouts: Uint8Array.from([0, 0, 0, 0, 1, 0]) } as unknown as OfflineDataset;
    expect(rewardScale(ds, [1, 2, 3, 4, 5, 100], 1000)).toEqual({ scale: 1000 / 9, minReturn: 3, maxReturn: 12 });
    expect(normalizedScore(55, { random: 10, expert: 100 })).toBe(50);
  });
});

describe('trainOfflineAgent', () => {
  it('refuses rewards or an action box whose sizes do not match the dataset, before training', async () => {
    const ds = banditDataset(40, 0);
    const common = { ds, rewards: ds.rewards, actLow: [-1], actHigh: [1], updates: 2, batchSize: 8, hidden: [4], seed: 0 };
    await expect(trainOfflineAgent({ ...common, algo: 'iql', rewards: new Float64Array(39) })).rejects.toThrow(
      new RangeError('trainOfflineAgent: 39 rewards for a dataset of 40 transitions (one reward per transition)'),
    );
    await expect(trainOfflineAgent({ ...common, algo: 'bc', actLow: [-1, -1], actHigh: [1, 1] })).rejects.toThrow(
      new RangeError("trainOfflineAgent: the action box has 2 low and 2 high bounds, the dataset's actions have 1 values"),
    );
    const ok = await trainOfflineAgent({ ...common, algo: 'bc' });
    expect([ok.actor.json.algo, ok.rewardScale, ok.actor.json.obsDim, ok.actor.json.actDim]).toEqual(['bc', 1, 2, 1]);
  });
});

describe('IQL', () => {
  it('beats behaviour cloning on a bandit with a known optimum, and gets near it', async () => {
    const ds = banditDataset(3000, 7);
    // Rewards unscaled: the locomotion scale would squeeze this one-step reward range to 1,
    // where beta = 3 separates actions less (IQL still beats BC there, by less).
    const data = prepareOfflineData(ds, ds.rewards, { normalizeObs: true, obsStdEps: 1e-3, rewardScaling: 'none', rewardScaleSteps: null });
    // Small networks, a high learning rate and few updates keep the test fast.
    const updates = 300;
    const lr = 3e-3;
    const iql = new Iql(2, 1, [-1], [1], { hidden: small.hidden, actorLr: lr, qLr: lr, vLr: lr, updates, seed: 1 });
    const bc = new Bc(2, 1, [-1], [1], { hidden: small.hidden, lr, updates, seed: 1 });
    try {
      await trainOffline({ learner: iql, data, updates, batchSize: 128, seed: 1 });
      await trainOffline({ learner: bc, data, updates, batchSize: 128, seed: 1 });
      const iqlRegret = banditRegret(iql.actor.snapshot('iql'));
      const bcRegret = banditRegret(bc.actor.snapshot('bc'));
      // Measured: IQL ~0.009, BC ~0.29 (uniform random actions: ~0.55).
      expect(bcRegret).toBeGreaterThan(0.15);
      expect(iqlRegret).toBeLessThan(0.04);
      expect(iqlRegret).toBeLessThan(0.2 * bcRegret);
    } finally {
      iql.dispose();
      bc.dispose();
    }
  });

  it('leaks no tensors: constant count while updating, back to the start after dispose', () => {
    const start = tf.memory().numTensors;
    const ds = banditDataset(500, 1);
    const data = prepareOfflineData(ds, ds.rewards, { normalizeObs: true, obsStdEps: 1e-3, rewardScaling: 'locomotion', rewardScaleSteps: null });
    const iql = new Iql(2, 1, [-1], [1], { ...small, updates: 20 });
    const bc = new Bc(2, 1, [-1], [1], { hidden: small.hidden, loss: 'nll', updates: 20 });
    const sampler = new BatchSampler(data, 64, new Rng(0));
    iql.update(sampler.next(), true); // Adam creates its moment variables on the first step
    bc.update(sampler.next(), true);
    const afterFirst = tf.memory().numTensors;
    for (let k = 0; k < 5; k++) {
      iql.update(sampler.next(), k % 2 === 0);
      bc.update(sampler.next(), k % 2 === 0);
      iql.actor.snapshot('iql');
    }
    expect(tf.memory().numTensors).toBe(afterFirst);
    iql.dispose();
    bc.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });

  it('is deterministic for a seed (weights and losses), and the seed matters', async () => {
    const ds = banditDataset(500, 2);
    const data = prepareOfflineData(ds, ds.rewards, { normalizeObs: true, obsStdEps: 1e-3, rewardScaling: 'locomotion', rewardScaleSteps: null });
    const run = async (seed: number) => {
      const iql = new Iql(2, 1, [-1], [1], { ...small, updates: 15, seed });
      try {
        const losses: unknown[] = [];
        await trainOffline({ learner: iql, data, updates: 15, batchSize: 64, seed, logEvery: 5, onMetrics: (_k, m) => losses.push(m['losses/q_loss']) });
        return { json: JSON.stringify(iql.actor.toJSON('iql')), q: iql.q1.getWeights().map((w) => Array.from(w)), losses };
      } finally {
        iql.dispose();
      }
    };
    const a = await run(3);
    const b = await run(3);
    expect(b.json).toBe(a.json);
    expect(b.q).toEqual(a.q);
    expect(b.losses).toEqual(a.losses);
    expect(a.losses.length).toBe(3);
    expect((await run(4)).json).not.toBe(a.json);
  });

  it('target Q networks start as copies of the Q networks and then trail them by Polyak averaging', () => {
    const ds = banditDataset(300, 3);
    const data = prepareOfflineData(ds, ds.rewards, { normalizeObs: true, obsStdEps: 1e-3, rewardScaling: 'none', rewardScaleSteps: null });
    const iql = new Iql(2, 1, [-1], [1], { ...small, updates: 5, targetRate: 0.005 });
    try {
      expect(iql.q1Target.getWeights()).toEqual(iql.q1.getWeights());
      expect(iql.q2Target.getWeights()).toEqual(iql.q2.getWeights());
      expect(iql.q1.getWeights()).not.toEqual(iql.q2.getWeights());
      const before = iql.q1Target.getWeights();
      iql.update(new BatchSampler(data, 32, new Rng(1)).next(), false);
      const online = iql.q1.getWeights();
      const target = iql.q1Target.getWeights();
      // theta_targ = 0.995 theta_targ_before + 0.005 theta_online_after
      target.forEach((w, l) => w.forEach((x, i) => expect(x).toBeCloseTo(0.995 * before[l][i] + 0.005 * online[l][i], 6)));
    } finally {
      iql.dispose();
    }
  });

  it('the plain-JS actor acts like the tensor actor, and saves and loads', () => {
    const iql = new Iql(3, 2, [-1, -2], [1, 0], { ...small, updates: 10, seed: 5 });
    try {
      iql.actor.obsMean = Float32Array.from([0.5, -1, 2]);
      iql.actor.obsStd = Float32Array.from([2, 0.5, 1]);
      const raw = [1.5, 0, 2.5];
      const x = tf.tensor2d([raw.map((v, j) => (v - iql.actor.obsMean[j]) / iql.actor.obsStd[j])]);
      const viaTf = tf.tidy(() => iql.actor.mean(x).dataSync());
      const snap = iql.actor.snapshot('iql', { note: 1 });
      const viaJs = snap.act(raw);
      expect(Array.from(viaJs)).toEqual(Array.from(viaTf).map((v) => expect.closeTo(v, 5)));
      // The second dimension lives in [-2, 0]: tanh output mapped onto the box.
      expect(viaJs[1]).toBeGreaterThanOrEqual(-2);
      expect(viaJs[1]).toBeLessThanOrEqual(0);
      const back = ActorSnapshot.load(snap.save(join(dir, 'actor')));
      expect(Array.from(back.act(raw))).toEqual(Array.from(viaJs));
      expect(back.json.meta).toEqual({ note: 1 });
      x.dispose();
    } finally {
      iql.dispose();
    }
  });
});
