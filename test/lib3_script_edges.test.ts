/**
 * Rough edges a researcher's own scripts met (qa_lib3): a dataset built by hand in the script
 * given to trainOfflineAgent (a NaN reward trained to garbage without a word; observations of the
 * wrong length or with a NaN failed only after training, as a bad saved actor), misspelt rollout
 * and cutSegments options (dropped: full-length episodes, 50-step segments), Spearman's
 * correlation of values with a NaN (1), a PpoTrainer iterated past its totalSteps (lr annealed to
 * 0: no learning, no word) or after close(), trainRewardModel on a disposed network, a pair given
 * to segmentTransitions and a Set to Rng.choice (errors about undefined properties).
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as api from '../index.js';
import { expectError } from './helpers/errors.js';

let env: api.Env;
beforeAll(async () => {
  env = await api.makeEnv('toy-reach');
});
afterAll(() => env.dispose());

/** A 4-transition toy-reach dataset written out by hand, as a script builds one. */
function handDataset(): api.OfflineDataset {
  const obs = Float32Array.from({ length: 24 }, (_, i) => (i % 7) / 10);
  return {
    size: 4,
    obsDim: 6,
    actDim: 2,
    observations: obs,
    actions: Float32Array.of(0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.7, -0.8),
    rewards: Float64Array.of(-1, -0.5, -0.25, 0),
    terminals: Uint8Array.of(0, 0, 0, 0),
    timeouts: Uint8Array.of(0, 0, 0, 1),
    nextObservations: obs.map((x) => x + 0.05),
    infos: { nq: 0, nv: 0, na: 0, nTerms: 0 },
    meta: { envId: 'toy-reach' },
    source: 'in the script',
    notes: [],
  };
}

describe('trainOfflineAgent checks a dataset made in the script before training', () => {
  const train = (ds: api.OfflineDataset, rewards: ArrayLike<number> = ds.rewards, extra: Partial<api.OfflineAgentOptions> = {}) =>
    api.trainOfflineAgent({ algo: 'iql', ds, rewards, actLow: env.spec.actLow, actHigh: env.spec.actHigh, hidden: [4], updates: 2, batchSize: 2, seed: 0, ...extra });

  it('names the array, the row and the value at fault; no tensor is left behind', async () => {
    const before = api.tensorMemory().numTensors;
    const ds = handDataset();
    await expectError(() => train(ds, Float64Array.of(-1, Number.NaN, 0, 0)), RangeError, /^trainOfflineAgent: option rewards holds NaN at row 1; values must be finite numbers$/);
    // 23 values for 4 transitions of 6: 4 x 6 = 24 needed.
    await expectError(() => train({ ...ds, observations: ds.observations.subarray(0, 23) }), RangeError, /^trainOfflineAgent: option ds\.observations has 23 values; a dataset of 4 transitions \(ds\.size\) needs 4 x 6 = 24$/);
    // Flat index 13 of rows of 6 values: row 2, value 1.
    const nanObs = Float32Array.from(ds.nextObservations, (x, i) => (i === 13 ? Number.NaN : x));
    await expectError(() => train({ ...ds, nextObservations: nanObs }), RangeError, /^trainOfflineAgent: option ds\.nextObservations holds NaN at row 2, value 1; values must be finite numbers$/);
    await expectError(() => train({ ...ds, actions: Float32Array.of(0, 0, 0, 0, 0, 0, Number.POSITIVE_INFINITY, 0) }), RangeError, /holds Infinity at row 3, value 0;/);
    await expectError(() => train({ ...ds, terminals: Uint8Array.of(0, 2, 0, 0) }), RangeError, /^trainOfflineAgent: option ds\.terminals holds 2 at row 1; expected 0 or 1$/);
    // A dataset that says obsDim 5 (its arrays hold 6 per row): 4 x 5 = 20, not 24.
    await expectError(() => train({ ...ds, obsDim: 5 }), RangeError, /^trainOfflineAgent: option ds\.observations has 24 values; a dataset of 4 transitions \(ds\.size\) needs 4 x 5 = 20$/);
    await expectError(() => train({ ...ds, size: Number.NaN }), RangeError, /^trainOfflineAgent: option ds\.size must be a whole number >= 1, got NaN$/);
    await expectError(() => train({ ...ds, actions: undefined as never }), TypeError, /^trainOfflineAgent: option ds\.actions must be an array of 4 x 2 numbers, got undefined$/);
    expect(api.tensorMemory().numTensors).toBe(before);
  });

  it('an eval env of other sizes is refused before the training, not at its first evaluation', async () => {
    const reacherLike = { spec: { ...env.spec, id: 'other', obsDim: 5 } } as api.Env;
    await expectError(
      () => train(handDataset(), undefined, { evalEnv: reacherLike, evalEvery: 1, evalEpisodes: 1 }),
      RangeError,
      /^trainOfflineAgent: option evalEnv \(other\) has 5 observation and 2 action values, the dataset \(ds\.obsDim, ds\.actDim\) 6 and 2$/,
    );
  });

  it('the same hand-made dataset, valid, trains (the checks pass what is right)', async () => {
    const before = api.tensorMemory().numTensors;
    const { actor, training } = await train(handDataset());
    expect(training.final).toBeNull();
    expect(Array.from(actor.act(new Float32Array(6))).every((a) => Number.isFinite(a) && Math.abs(a) <= 1)).toBe(true);
    expect(api.tensorMemory().numTensors).toBe(before);
  });
});

describe('misspelt options of rollout and cutSegments are refused, naming the real ones', () => {
  it('rollout { maxstep } ran every episode to the horizon; cutSegments { len } cut 50-step segments', () => {
    const policy = api.randomPolicy(env.spec, new api.Rng(0));
    expect(() => api.rollout(env, policy, { episodes: 1, seed: 0, maxstep: 5 } as never)).toThrow(
      new RangeError('rollout: unknown option "maxstep" (the options: episodes, seed, maxSteps, onStep)'),
    );
    const trajs = api.rollout(env, policy, { episodes: 2, seed: 0, maxSteps: 30 });
    expect(trajs.map((t) => t.length)).toEqual([30, 30]);
    expect(() => api.cutSegments(trajs, { len: 10 } as never)).toThrow(new RangeError('cutSegments: unknown option "len" (the options: length, stride, source, offsets, terminal)'));
    // The right name: windows [0, 10), [10, 20), [20, 30) of each of the two episodes.
    expect(api.cutSegments(trajs, { length: 10 }).map((s) => s.startStep)).toEqual([0, 10, 20, 0, 10, 20]);
    // stride 8: starts 0, 8, 16 (24 + 10 > 30).
    expect(api.cutSegments(trajs, { length: 10, stride: 8 }).length).toBe(6);
  });
});

describe('correlations', () => {
  it('Spearman is NaN when a value is NaN (it gave 1), Pearson as before; hand values otherwise', () => {
    expect(api.returnCorrelation([1, Number.NaN, 3], [1, 2, 3])).toEqual({ pearson: Number.NaN, spearman: Number.NaN });
    // a - mean = [-1, 0, 1], b - mean = [-4/3, -1/3, 5/3]: sab = 3, saa = 2, sbb = 14/3, r = 3 / sqrt(28/3).
    const r = api.returnCorrelation([1, 2, 3], [1, 2, 4]);
    expect(r.pearson).toBeCloseTo(3 / Math.sqrt(28 / 3), 12);
    expect(r.pearson).toBeCloseTo(0.981981, 6);
    expect(r.spearman).toBe(1);
    // Ranks [1, 2, 3] against [3, 1, 2]: centred [-1, 0, 1] and [1, -1, 0], r = -1 / 2.
    expect(api.returnCorrelation([10, 20, 30], [5, -7, 0]).spearman).toBeCloseTo(-0.5, 12);
    expect(() => api.returnCorrelation([1, 2, 3], [1, 2])).toThrow(new RangeError('returnCorrelation: 3 predicted returns, 2 true ones (one of each per segment)'));
  });
});

describe('PpoTrainer: past its totalSteps and after close()', () => {
  const config = { totalSteps: 128, numEnvs: 2, numSteps: 64, numMinibatches: 2, updateEpochs: 1, hidden: [8], workers: 0, seed: 0 };

  it('iterate past totalSteps with the annealed learning rate is a RangeError; without annealing it goes on', async () => {
    const t = await api.PpoTrainer.create({ env: { id: 'toy-reach' }, config });
    try {
      await t.iterate();
      expect(t.globalStep).toBe(128);
      await expectError(() => t.iterate(), RangeError, /^PpoTrainer\.iterate: the run's totalSteps \(128\) are done \(globalStep 128\): the learning rate is annealed to 0 there;/);
      expect(t.globalStep).toBe(128);
    } finally {
      await t.close();
    }
    const u = await api.PpoTrainer.create({ env: { id: 'toy-reach' }, config: { ...config, annealLr: false } });
    try {
      await u.iterate();
      await u.iterate();
      expect(u.globalStep).toBe(256);
    } finally {
      await u.close();
    }
  });

  it('iterate, warmup and evaluate after close() name the trainer; a rewardFn of the wrong count names rewardFn', async () => {
    const t = await api.PpoTrainer.create({ env: { id: 'toy-reach' }, config });
    await t.close();
    await expectError(() => t.iterate(), Error, /^PpoTrainer\.iterate: used after close\(\)$/);
    await expectError(() => t.warmup(64), Error, /^PpoTrainer\.warmup: used after close\(\)$/);
    await expectError(() => t.evaluate(1, { id: 'toy-reach' }), Error, /^PpoTrainer\.evaluate: used after close\(\)$/);
    const bad = await api.PpoTrainer.create({ env: { id: 'toy-reach' }, config, rewardFn: () => new Float32Array(3) });
    try {
      await expectError(() => bad.iterate(), Error, /^PpoTrainer\.iterate: rewardFn returned 3 rewards for a batch of 128 transitions \(numEnvs x numSteps\)/);
    } finally {
      await bad.close();
    }
  });
});

describe('wrong things handed over', () => {
  const segs = () => api.cutSegments(api.rollout(env, api.randomPolicy(env.spec, new api.Rng(1)), { episodes: 1, seed: 1 }), { length: 10 });

  it('trainRewardModel on a disposed RewardNet says so (it failed reading "backend" of undefined)', async () => {
    const s = segs();
    const pairs = [api.makePair(s[0], s[1]), api.makePair(s[2], s[3])];
    const labels = await api.makeTeacher('oracle', { env: env.spec, rng: new api.Rng(0) }).label(pairs);
    const net = api.RewardNet.create({ obsDim: 6, actDim: 2, hidden: [4], members: 1 }, new api.Rng(0));
    net.dispose();
    await expectError(() => api.trainRewardModel(net, pairs, labels, { rng: new api.Rng(0), epochs: 1 }), Error, /^trainRewardModel: the RewardNet was disposed/);
    await expectError(() => api.trainRewardModel({} as never, pairs, labels, { rng: new api.Rng(0) }), TypeError, /^trainRewardModel: net must be a RewardNet/);
  });

  it('segmentTransitions of a pair, and Rng.choice of a Set, are TypeErrors saying what to give', () => {
    const s = segs();
    expect(() => api.segmentTransitions(api.makePair(s[0], s[1]) as never)).toThrow(/^segmentTransitions: seg must be a Segment .*pair\.a and pair\.b\), got a pair$/);
    expect(() => api.segmentTransitions(undefined as never)).toThrow(TypeError);
    const batch = api.segmentTransitions(s[0]);
    expect([batch.n, batch.obs.length, batch.actions.length, batch.nextObs.length]).toEqual([10, 60, 20, 60]);
    expect(() => new api.Rng(0).choice(new Set([1, 2]) as never)).toThrow(new TypeError('Rng.choice: items must be an array (Array.from a Set or a Map first), got Set'));
    expect([1, 2, 3]).toContain(new api.Rng(0).choice([1, 2, 3]));
  });
});

describe('misspelt or misplaced options of makeEnv, createVecEnv, PpoTrainer.create, makeTeacher, checkEnv, Logger', () => {
  it('each is a RangeError naming the option and the ones there are (they were dropped without a word)', async () => {
    // makeEnv('toy-reach', { seed: 3 }) made the env of seed 0.
    await expectError(() => api.makeEnv('toy-reach', { seed: 3 } as never), RangeError, /^makeEnv: unknown option "seed" \(the options: logger\); a seed goes in the config: makeEnv\(\{ id: "toy-reach", seed \}\)$/);
    const seeded = await api.makeEnv({ id: 'toy-reach', seed: 3 });
    const plain = await api.makeEnv('toy-reach');
    try {
      expect(Array.from(seeded.reset())).not.toEqual(Array.from(plain.reset()));
    } finally {
      seeded.dispose();
      plain.dispose();
    }
    // { inlineEnvs } (PpoConfig's name) stepped no env in the calling thread.
    await expectError(
      () => api.createVecEnv({ id: 'toy-reach' }, { numEnvs: 2, workers: 1, seed: 0, inlineEnvs: true } as never),
      RangeError,
      /^createVecEnv: unknown option "inlineEnvs" \(the options: numEnvs, workers, seed, recordState, inline\) \(PpoConfig's inlineEnvs is createVecEnv's inline\)$/,
    );
    await expectError(() => api.createVecEnv({ id: 'toy-reach' }, undefined as never), TypeError, /^createVecEnv: options \{ numEnvs, workers, seed \} are required$/);
    // { rewardfn } trained PPO on the env's true reward.
    await expectError(
      () => api.PpoTrainer.create({ env: { id: 'toy-reach' }, config: { workers: 0 }, rewardfn: () => new Float32Array(0) } as never),
      RangeError,
      /^PpoTrainer\.create: unknown option "rewardfn" \(the options: env, config, rewardFn, onEpisode, clock\)$/,
    );
    await expectError(() => api.makeTeacher('oracle', { env: env.spec, rng: new api.Rng(0), seed: 3 } as never), RangeError, /^makeTeacher: unknown option "seed" \(the options: env, rng, values, human, vlm\); the teacher's noise is seeded by options\.rng/);
    await expectError(() => api.makeTeacher('regret', { env: env.spec, rng: new api.Rng(0), value: {} } as never), RangeError, /^makeTeacher: unknown option "value" \(the options: env, rng, values, human, vlm\)$/);
    // { step: 10 } ran the default 300 steps.
    await expectError(() => api.checkEnv('toy-reach', { step: 10, resets: 1 } as never), RangeError, /^checkEnv: unknown option "step" \(the options: steps, resets, seed, onCheck\)$/);
    // A level of another name let every line through.
    expect(() => new api.Logger(undefined, 'verbose' as never)).toThrow(new RangeError(`Logger: level must be 'debug', 'info', 'warn', 'error', got "verbose"`));
    expect(() => new api.Logger({} as never)).toThrow(new TypeError('Logger: sink must be an object with write(text) (e.g. process.stdout)'));
    const lines: string[] = [];
    const warnOnly = new api.Logger({ write: (t) => lines.push(t) }, 'warn', 'x');
    warnOnly.info('dropped');
    warnOnly.warn('kept');
    expect(lines).toEqual(['[x] warn: kept\n']);
  });
});

describe('loadSavedPolicy options', () => {
  it('{ stochastc: true } is a RangeError naming the options (it acted with the mean action)', async () => {
    await expectError(() => api.loadSavedPolicy('runs/none', env.spec, { stochastc: true } as never), RangeError, /^loadSavedPolicy: unknown option "stochastc" \(the options: stochastic, seed, flag, logger\)$/);
  });
});

describe('runOffline: misspelt options, config fields and context, before anything is read or made', () => {
  it('each is refused by name ({ runDir } made the run under ./runs; { label } asked the default 2000 labels; { log } failed reading "info")', async () => {
    const config = { dataset: 'no/such.h5', teacher: 'oracle' as const, updates: 5 };
    const ctx = { logger: api.silentLogger };
    await expectError(() => api.runOffline({ config, runDir: 'runs' } as never, ctx), RangeError, /^runOffline: unknown option "runDir" \(the options: config, resume, stages, force, runsDir, /);
    await expectError(() => api.runOffline({ config: { ...config, label: 30 } as never }, ctx), RangeError, /^runOffline: config: unknown field "label" \(the fields: dataset, teacher, env, .*labels, /);
    await expectError(() => api.runOffline({ config }, { log: api.silentLogger } as never), RangeError, /^runOffline: context: unknown option "log" \(the options: logger, clock, progress\)$/);
    await expectError(() => api.runOffline({ config }, {} as never), TypeError, /^runOffline: context\.logger must be a Logger \(silentLogger for none\), got undefined$/);
    // With the names right, the next check speaks: the dataset (as prefrl offline's flag).
    await expectError(() => api.runOffline({ config }, ctx), api.UsageError, /^--dataset: "no\/such\.h5" not found$/);
  });
});


describe('misspelt options of LabelStore.open and createRunDir', () => {
  it('are refused naming them and the options there are (they were dropped: no env check, a run folder in ./runs)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'prefrl-misspelt-'));
    try {
      const file = join(dir, 'labels.sqlite');
      expect(() => api.LabelStore.open(file, { envID: 'reacher' } as never)).toThrow(
        new RangeError('LabelStore.open: unknown option "envID" (the options: clock, create, envId, modelHash, dataset, busyTimeoutMs, readOnly)'),
      );
      // Nothing was made.
      expect(existsSync(file)).toBe(false);
      expect(() => api.createRunDir({ dir, name: 'x', config: {} } as never)).toThrow(
        new RangeError('createRunDir: unknown option "dir" (the options: root, name, config, clock, tensorBackend) (the folder the run folders go in is root)'),
      );
      expect(() => api.createRunDir({ root: dir, name: 'x', config: {}, seed: 1 } as never)).toThrow(/^createRunDir: unknown option "seed" \(the options: /);
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
