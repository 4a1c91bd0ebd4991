/**
 * Offline maths on hand-computed cases that test/agents/iql.test.ts and iql_update.test.ts do
 * not cover: the scheduled Adam really steps with the current learning rate, IQL's actor and
 * BC follow the cosine schedule update by update, the data preparation (population std + eps on
 * observations and next observations, H / (max - min) reward scale, terminals as the only
 * dones), the Gaussian actor's log-std clamp, and BC's reported losses; and the options of
 * trainOfflineAgent that a script may leave out.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Bc } from '../agents/bc.js';
import type { OfflineDataset } from '../agents/dataset.js';
import { ActorSnapshot, Iql, prepareOfflineData, resolveIqlConfig } from '../agents/iql.js';
import { trainOfflineAgent } from '../agents/offline_train.js';
import { initBackend } from '../core/backend.js';
import { InputError } from '../core/errors.js';
import { ScheduledAdam } from '../core/nn.js';
import { batch } from './helpers/offline_batch.js';

beforeAll(async () => {
  await initBackend('wasm');
});

const f32 = (x: number[]) => Float32Array.from(x);


describe('ScheduledAdam', () => {
  it('steps with the learning rate set just before each step (constant gradient: each step moves by exactly lr)', () => {
    // loss = x, gradient 1 every step: m_t = 1 - 0.9^t, v_t = 1 - 0.999^t, so the bias-corrected
    // mhat = vhat = 1 and the step is lr / (1 + 1e-8) = lr. lr 0.1, 0.05, 0.025:
    // x = 1 -> 0.9 -> 0.85 -> 0.825 (to float32's 1 - 0.999 = 0.00099999: about 1e-6 off).
    const start = tf.memory().numTensors;
    const x = tf.tidy(() => tf.variable(tf.scalar(1)));
    const opt = new ScheduledAdam(0.1);
    const seen: number[] = [];
    for (const lr of [0.1, 0.05, 0.025]) {
      opt.lr = lr;
      opt.minimize(() => x.sum() as tf.Scalar, false, [x]);
      seen.push(x.dataSync()[0]);
    }
    expect(seen).toEqual([0.9, 0.85, 0.825].map((v) => expect.closeTo(v, 5)));
    opt.dispose();
    x.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });
});

describe('cosine decay of the actor learning rate, update by update', () => {
  const b = batch([
    { s: 0.5, a: 0.2, r: 1, next: 0.7, done: 0 },
    { s: -0.3, a: -0.4, r: 0, next: 0.1, done: 1 },
  ]);

  it('IQL: lr_k = lr (1 + cos(pi k / K)) / 2 for updates k = 0..K-1; constant without actorCosine', () => {
    // K = 4, lr 3e-4: k = 0: 3e-4; k = 1: 1.5e-4 (1 + cos(pi/4)) = 2.56066e-4; k = 2: 1.5e-4;
    // k = 3: 1.5e-4 (1 - cos(pi/4)) = 0.43934e-4
    const iql = new Iql(1, 1, [-1], [1], { hidden: [4], updates: 4, actorLr: 3e-4, seed: 2 });
    const flat = new Iql(1, 1, [-1], [1], { hidden: [4], updates: 4, actorLr: 3e-4, actorCosine: false, seed: 2 });
    try {
      const lrs = [0, 1, 2, 3].map(() => iql.update(b, true)?.['charts/actor_lr'] as number);
      expect(lrs.map((v) => +(v * 1e4).toFixed(5))).toEqual([3, 2.56066, 1.5, 0.43934]);
      const flatLrs = [0, 1, 2, 3].map(() => flat.update(b, true)?.['charts/actor_lr']);
      expect(flatLrs).toEqual([3e-4, 3e-4, 3e-4, 3e-4]);
    } finally {
      iql.dispose();
      flat.dispose();
    }
  });

  it('BC: constant by default (CORL), cosine when asked', () => {
    const plain = new Bc(1, 1, [-1], [1], { hidden: [4], updates: 2, lr: 1e-3 });
    const cos = new Bc(1, 1, [-1], [1], { hidden: [4], updates: 2, lr: 1e-3, cosine: true });
    try {
      expect([plain.update(b, true)?.['charts/actor_lr'], plain.update(b, true)?.['charts/actor_lr']]).toEqual([1e-3, 1e-3]);
      // K = 2: k = 0: 1e-3; k = 1: 1e-3 (1 + cos(pi / 2)) / 2 = 5e-4
      const c = [cos.update(b, true)?.['charts/actor_lr'] as number, cos.update(b, true)?.['charts/actor_lr'] as number];
      expect(c[0]).toBeCloseTo(1e-3, 12);
      expect(c[1]).toBeCloseTo(5e-4, 12);
    } finally {
      plain.dispose();
      cos.dispose();
    }
  });
});

describe('BC losses (hand-set actor: mean action 0)', () => {
  it('mse: mean of |mu - a|^2; nll: mean of 0.5 z^2 + logStd + 0.5 ln 2 pi', () => {
    // all-zero weights: mu = center + half tanh(0) = 0 on the box [-1, 1]; actions [0.5, -1]
    const b = batch([
      { s: 1, a: 0.5, r: 0, next: 0, done: 0 },
      { s: -1, a: -1, r: 0, next: 0, done: 0 },
    ]);
    const zeros = [f32([0]), f32([0]), f32([0]), f32([0])];
    const mse = new Bc(1, 1, [-1], [1], { hidden: [1], updates: 1 });
    const nll = new Bc(1, 1, [-1], [1], { hidden: [1], updates: 1, loss: 'nll' });
    try {
      mse.actor.net.setWeights(zeros);
      nll.actor.net.setWeights(zeros);
      // (0.25 + 1) / 2 = 0.625
      expect(mse.update(b, true)?.['losses/actor_loss']).toBeCloseTo(0.625, 6);
      // logStd 0: (0.5 * 0.25 + 0.5 * 1) / 2 + 0.918939 = 0.3125 + 0.918939 = 1.231439
      expect(nll.update(b, true)?.['losses/actor_loss']).toBeCloseTo(1.231439, 5);
    } finally {
      mse.dispose();
      nll.dispose();
    }
  });

  it('the Gaussian log-std is clamped to [logStdMin, logStdMax] in the loss, and gets no gradient beyond it', () => {
    // logStd = 3 > logStdMax 2: the NLL of a = 1 under N(0, e^2^2) is 0.5 e^-4 + 2 + 0.918939 = 2.928097
    const b = batch([{ s: 1, a: 1, r: 0, next: 0, done: 0 }]);
    const bc = new Bc(1, 1, [-1], [1], { hidden: [1], updates: 1, loss: 'nll' });
    try {
      bc.actor.net.setWeights([f32([0]), f32([0]), f32([0]), f32([0])]);
      tf.tidy(() => bc.actor.logStd?.assign(tf.tensor1d([3])));
      expect(bc.update(b, true)?.['losses/actor_loss']).toBeCloseTo(0.5 * Math.exp(-4) + 2 + 0.5 * Math.log(2 * Math.PI), 5);
      // zero gradient through the clamp: Adam's first step is 0 / (0 + eps) = 0
      expect(bc.actor.logStd?.dataSync()[0]).toBe(3);
    } finally {
      bc.dispose();
    }
  });
});

describe('prepareOfflineData', () => {
  // Two episodes of 2 steps, obsDim 1: [0, 1] ends terminal (return 1 + 2 = 3), [2, 3] ends by a
  // timeout (return 3 + 10 = 13). Observations 0, 2, 4, 6; next observations 2, 4, 6, 8.
  const ds = {
    size: 4,
    obsDim: 1,
    actDim: 1,
    observations: f32([0, 2, 4, 6]),
    actions: f32([0, 0, 0, 0]),
    rewards: Float64Array.of(1, 2, 3, 10),
    terminals: Uint8Array.of(0, 1, 0, 0),
    timeouts: Uint8Array.of(0, 0, 0, 1),
    nextObservations: f32([2, 4, 6, 8]),
    infos: { nq: 0, nv: 0, na: 0, nTerms: 0 },
    meta: { horizon: 2 },
    source: 'hand',
    notes: [],
  } as unknown as OfflineDataset;

  it('z-scores observations and next observations with the population std + eps; rewards x H / (max - min); dones = terminals', () => {
    const d = prepareOfflineData(ds, ds.rewards, { normalizeObs: true, obsStdEps: 1e-3, rewardScaling: 'locomotion', rewardScaleSteps: null });
    // mean 3, population std sqrt((9 + 1 + 1 + 9) / 4) = sqrt(5) = 2.236068, + 1e-3 = 2.237068
    expect(d.obsMean[0]).toBe(3);
    expect(d.obsStd[0]).toBeCloseTo(2.237068, 5);
    // (x - 3) / 2.237068: -3 -> -1.341041, -1 -> -0.447014, 1 -> 0.447014, 3 -> 1.341041, 5 -> 2.235069
    expect(Array.from(d.obs, (v) => +v.toFixed(5))).toEqual([-1.34104, -0.44701, 0.44701, 1.34104]);
    expect(Array.from(d.nextObs, (v) => +v.toFixed(5))).toEqual([-0.44701, 0.44701, 1.34104, 2.23507]);
    // H = the dataset's horizon 2; returns 3 and 13: scale 2 / (13 - 3) = 0.2
    expect(d.rewardScale).toBeCloseTo(0.2, 12);
    expect(Array.from(d.rewards, (v) => +v.toFixed(6))).toEqual([0.2, 0.4, 0.6, 2]);
    // the timeout at step 3 is not a done (the Q target bootstraps there), the terminal at step 1 is
    expect(Array.from(d.dones)).toEqual([0, 1, 0, 0]);
  });

  it('rewardScaleSteps overrides H; rewardScaling none and normalizeObs false leave the data as it is', () => {
    expect(prepareOfflineData(ds, ds.rewards, { normalizeObs: true, obsStdEps: 1e-3, rewardScaling: 'locomotion', rewardScaleSteps: 1000 }).rewardScale).toBeCloseTo(100, 10);
    const raw = prepareOfflineData(ds, ds.rewards, { normalizeObs: false, obsStdEps: 1e-3, rewardScaling: 'none', rewardScaleSteps: null });
    expect(raw.rewardScale).toBe(1);
    expect(Array.from(raw.rewards)).toEqual([1, 2, 3, 10]);
    expect(Array.from(raw.obs)).toEqual([0, 2, 4, 6]);
    expect(Array.from(raw.obsStd)).toEqual([1]);
  });
});

describe('trainOfflineAgent: options a script may leave out or get wrong', () => {
  const n = 4;
  const ds = {
    size: n,
    obsDim: 1,
    actDim: 1,
    observations: f32([1, 2, 3, 4]),
    actions: f32([0.1, 0.2, -0.3, 0.4]),
    rewards: new Float64Array(n),
    terminals: new Uint8Array(n).fill(1),
    timeouts: new Uint8Array(n),
    nextObservations: new Float32Array(n),
    infos: { nq: 0, nv: 0, na: 0, nTerms: 0 },
    meta: { horizon: 1 },
    source: 'hand',
    notes: [],
  } as unknown as OfflineDataset;
  const base = { algo: 'bc' as const, ds, rewards: new Float64Array(n), actLow: [-1], actHigh: [1], hidden: [4], updates: 2, batchSize: 2, seed: 0 };
  const bad = (o: Record<string, unknown>) => trainOfflineAgent({ ...base, ...o } as unknown as Parameters<typeof trainOfflineAgent>[0]);

  it('a missing or non-finite seed, a missing or bad hidden list and a missing action box are named before training', async () => {
    // before: a missing seed trained from the seed "undefined"; the others were TypeErrors such as
    // "Cannot read properties of undefined (reading 'length')" or "o.hidden is not iterable"
    await expect(bad({ seed: undefined })).rejects.toThrow(new TypeError('trainOfflineAgent: option seed must be a finite number, got undefined'));
    await expect(bad({ seed: Number.NaN })).rejects.toThrow(new RangeError('trainOfflineAgent: option seed must be a finite number, got NaN'));
    await expect(bad({ hidden: undefined })).rejects.toThrow(new TypeError('trainOfflineAgent: option hidden (the hidden layer widths, e.g. [256, 256]) must be an array, got undefined'));
    // BC used to say "DenseStack: bad layer sizes [1,0,1]"
    await expect(bad({ hidden: [8, 0] })).rejects.toThrow(new RangeError('trainOfflineAgent: option hidden must hold whole numbers >= 1, got [8, 0]'));
    await expect(bad({ algo: 'iql', hidden: [2.5] })).rejects.toThrow(new RangeError('trainOfflineAgent: option hidden must hold whole numbers >= 1, got [2.5]'));
    await expect(bad({ actLow: undefined })).rejects.toThrow(
      new TypeError("trainOfflineAgent: option actLow (the action box's bounds, one number per action value, e.g. env.spec.actLow) is required, got undefined"),
    );
    await expect(bad({ actHigh: null })).rejects.toThrow(
      new TypeError("trainOfflineAgent: option actHigh (the action box's bounds, one number per action value, e.g. env.spec.actHigh) is required, got null"),
    );
    // the same options otherwise train (2 updates of BC)
    const ok = await bad({});
    expect(ok.actor.json.algo).toBe('bc');
  });
});

describe('resolveIqlConfig', () => {
  it('refuses a NaN or out-of-range discount, temperature, learning rate, weight clip or log-std range, naming the field', () => {
    // before: each was accepted and trained on NaN targets or weights (or, for beta < 0, imitated the worst actions most)
    expect(() => resolveIqlConfig({ discount: Number.NaN })).toThrow(new RangeError('IqlConfig.discount must be a number in [0, 1], got NaN'));
    expect(() => resolveIqlConfig({ discount: 1.01 })).toThrow(new RangeError('IqlConfig.discount must be a number in [0, 1], got 1.01'));
    expect(() => resolveIqlConfig({ beta: -3 })).toThrow(new RangeError('IqlConfig.beta must be a finite number >= 0, got -3'));
    expect(() => resolveIqlConfig({ actorLr: Number.POSITIVE_INFINITY })).toThrow(new RangeError('IqlConfig.actorLr must be a finite number >= 0, got Infinity'));
    expect(() => resolveIqlConfig({ maxWeight: 0 })).toThrow(new RangeError('IqlConfig.maxWeight must be a number > 0, got 0'));
    expect(() => resolveIqlConfig({ logStdMin: 3 })).toThrow(new RangeError('IqlConfig.logStdMin must be a finite number below logStdMax (2), got 3'));
    expect(() => resolveIqlConfig({ rewardScaleSteps: 0 })).toThrow(new RangeError('IqlConfig.rewardScaleSteps must be null or a finite number > 0, got 0'));
    expect(() => resolveIqlConfig({ actor: 'beta' as never })).toThrow(new RangeError('IqlConfig.actor must be \'gaussian\' or \'deterministic\', got "beta"'));
    // the edges of the ranges are fine: discount 0 and 1, beta 0 (plain behaviour cloning)
    expect(resolveIqlConfig({ discount: 1, beta: 0 }).beta).toBe(0);
    expect(resolveIqlConfig({ discount: 0 }).discount).toBe(0);
  });
});

/** Two one-step episodes (obs 1 and 2, actions 0.1 and 0.2) with these rewards: the smallest dataset trainOfflineAgent takes. */
function twoStepDataset(rewards: Float64Array): OfflineDataset {
  return {
    size: 2,
    obsDim: 1,
    actDim: 1,
    observations: f32([1, 2]),
    actions: f32([0.1, 0.2]),
    rewards,
    terminals: Uint8Array.of(1, 1),
    timeouts: new Uint8Array(2),
    nextObservations: new Float32Array(2),
    infos: { nq: 0, nv: 0, na: 0, nTerms: 0 },
    meta: { horizon: 1 },
    source: 'hand',
    notes: [],
  } as unknown as OfflineDataset;
}

describe('Bc config', () => {
  it('refuses an unknown loss (it trained the Gaussian NLL), a NaN learning rate and bad hidden widths', () => {
    expect(() => new Bc(1, 1, [-1], [1], { loss: 'l1' as never })).toThrow(new RangeError('BcConfig.loss must be \'mse\' or \'nll\', got "l1"'));
    expect(() => new Bc(1, 1, [-1], [1], { lr: Number.NaN })).toThrow(new RangeError('BcConfig.lr must be a finite number >= 0, got NaN'));
    expect(() => new Bc(1, 1, [-1], [1], { hidden: [4, 0] })).toThrow(new RangeError('BcConfig.hidden must be positive integers, got [4,0]'));
  });

  it('trainOfflineAgent passes bcLoss through: an unknown name is refused before training', async () => {
    const n = 2;
    const ds = twoStepDataset(new Float64Array(n));
    await expect(
      trainOfflineAgent({ algo: 'bc', ds, rewards: new Float64Array(n), actLow: [-1], actHigh: [1], hidden: [4], updates: 1, batchSize: 2, seed: 0, bcLoss: 'huber' as never }),
    ).rejects.toThrow(new RangeError('BcConfig.loss must be \'mse\' or \'nll\', got "huber"'));
  });
});

describe('ActorSnapshot.fromJSON', () => {
  it('refuses an observation normalisation or action box of another size (it acted with NaN), naming the field', () => {
    const bc = new Bc(2, 1, [-1], [1], { hidden: [3], updates: 1 });
    try {
      const good = bc.actor.toJSON('bc');
      expect(ActorSnapshot.fromJSON(good).act([0.5, -0.5])).toHaveLength(1);
      expect(() => ActorSnapshot.fromJSON({ ...good, obsMean: [0] }, 'a.json')).toThrow(new InputError('a.json', 'expected 2 finite numbers (one per observation value), found 1 value', 'obsMean'));
      expect(() => ActorSnapshot.fromJSON({ ...good, obsStd: [1, 0] }, 'a.json')).toThrow(new InputError('a.json', 'expected positive numbers (a std plus eps), found [1,0]', 'obsStd'));
      expect(() => ActorSnapshot.fromJSON({ ...good, actHigh: [1, 1] }, 'a.json')).toThrow(new InputError('a.json', 'expected 1 finite number (one per action value), found 2 values', 'actHigh'));
      expect(() => ActorSnapshot.fromJSON({ ...good, actLow: [null as unknown as number] }, 'a.json')).toThrow(
        new InputError('a.json', 'expected 1 finite number (one per action value), found 1 value, not all finite numbers', 'actLow'),
      );
    } finally {
      bc.dispose();
    }
  });
});

describe('normalised score references', () => {
  it('equal or non-finite reference returns are refused before training (every score was +-Infinity, null in JSON)', async () => {
    const ds = twoStepDataset(Float64Array.of(1, 2));
    let updates = 0;
    const opts = { algo: 'bc' as const, ds, rewards: ds.rewards, actLow: [-1], actHigh: [1], hidden: [4], updates: 2, batchSize: 2, seed: 0, onUpdate: () => updates++ };
    await expect(trainOfflineAgent({ ...opts, refReturns: { random: 5, expert: 5 } })).rejects.toThrow(
      new RangeError('trainOffline: refReturns must be two different finite returns (the normalised score divides by expert - random), got random 5 and expert 5'),
    );
    await expect(trainOfflineAgent({ ...opts, refReturns: { random: Number.NaN, expert: 5 } })).rejects.toThrow(/got random NaN and expert 5$/);
    expect(updates).toBe(0);
  });
});
