/**
 * Mistakes a script writer makes with the library entry point, each refused at the call with a
 * TypeError or RangeError that names the argument and says what to pass, before anything runs:
 * a random policy or reward network without its seeded Rng (they failed later reading 'range' or
 * 'fork' of undefined), trainRewardModel without options, an env id string where an env config
 * object is needed (it failed as "unknown env undefined"), a misspelt PPO setting (ignored: the
 * run took the default of a million steps), a misspelt reward-model, reward-training or offline
 * agent option (ignored: the default used), and a runPreferenceLoop option written with its
 * `prefrl train` flag's name (ignored, or refused as a missing option).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as api from '../index.js';
import { expectError } from './helpers/errors.js';

let root = '';
let env: api.Env;
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'prefrl-lib-mistakes-'));
  env = await api.makeEnv('toy-reach');
});
afterAll(() => {
  env.dispose();
  rmSync(root, { recursive: true, force: true });
});

describe('seeded randomness is asked for where it is needed', () => {
  it('new Rng() without a seed, or fork() without a key, is a TypeError (they drew the stream of the text "undefined")', async () => {
    const R = api.Rng as unknown as new (s?: unknown) => api.Rng;
    await expectError(() => new R(), TypeError, /^Rng: seed must be a finite number or a string, got undefined$/);
    await expectError(() => new R({ seed: 1 }), TypeError, /got object$/);
    await expectError(() => new R([1]), TypeError, /got object$/);
    await expectError(() => new R(Number.NaN), RangeError, /got NaN$/);
    const fork = (key?: unknown) => (new api.Rng(0).fork as (k?: unknown) => api.Rng)(key);
    await expectError(() => fork(), TypeError, /^Rng\.fork: key must be a string or a finite number \(e\.g\. rng\.fork\('policy'\)\), got undefined$/);
    await expectError(() => fork(Number.POSITIVE_INFINITY), TypeError, /got Infinity$/);
    // A number and its text are one seed, as before; a fork's stream depends on its path only.
    expect(new api.Rng(5).uniform()).toBe(new api.Rng('5').uniform());
    expect(new api.Rng(5).fork(2).uniform()).toBe(new api.Rng('5/2').uniform());
  });

  it('randomPolicy without an Rng, or with something that is not a spec, is a TypeError at once', async () => {
    await expectError(() => (api.randomPolicy as (s: unknown, r?: unknown) => unknown)(env.spec), TypeError, /^randomPolicy: rng must be a seeded Rng \(new Rng\(seed\)/);
    await expectError(() => (api.randomPolicy as (s: unknown, r?: unknown) => unknown)(env.spec, 7), TypeError, /got 7$/);
    await expectError(() => (api.randomPolicy as (s: unknown, r?: unknown) => unknown)('toy-reach', new api.Rng(0)), TypeError, /^randomPolicy: spec must be an env's spec \(env\.spec\), got "toy-reach"/);
    // With one, the actions are the Rng's draws in the action box, one array per call.
    const policy = api.randomPolicy(env.spec, new api.Rng(3));
    const twin = new api.Rng(3);
    const a = Array.from(policy(new Float32Array(env.spec.obsDim)));
    expect(a).toEqual(Array.from({ length: env.spec.actDim }, (_, i) => twin.range(env.spec.actLow[i], env.spec.actHigh[i])));
  });

  it('RewardNet.create without an Rng, and trainRewardModel without options or an rng, are TypeErrors', async () => {
    await expectError(() => (api.RewardNet.create as (o: unknown, r?: unknown) => unknown)({ obsDim: 6, actDim: 2 }), TypeError, /^RewardNet\.create: rng must be a seeded Rng \(new Rng\(seed\)\), got undefined$/);
    const net = api.RewardNet.create({ obsDim: 6, actDim: 2, hidden: [4], members: 1 }, new api.Rng(0));
    try {
      const train = api.trainRewardModel as (n: unknown, p: unknown, l: unknown, o?: unknown) => Promise<unknown>;
      await expectError(() => train(net, [], []), TypeError, /^trainRewardModel: options must be an object with a seeded rng \(\{ rng: new Rng\(seed\) \}\), got undefined$/);
      await expectError(() => train(net, [], [], { epochs: 3 }), TypeError, /^trainRewardModel: option rng must be a seeded Rng \(new Rng\(seed\)\), got undefined$/);
      // With an rng the options are read on: no labels is the error after them.
      await expectError(() => train(net, [], [], { rng: new api.Rng(0) }), RangeError, /no preference labels/);
    } finally {
      net.dispose();
    }
  });
});

describe('an env config object where one is needed', () => {
  it('PpoTrainer.create, createVecEnv, PpoTrainer.save, makeEnv and checkEnv name the option and the object to write', async () => {
    const create = api.PpoTrainer.create as (o: unknown) => Promise<unknown>;
    await expectError(
      () => create({ env: 'toy-reach', config: { workers: 0 } }),
      TypeError,
      /^PpoTrainer\.create: option env must be an env config object \{ id, model\?, task\? \}, e\.g\. \{ id: 'toy-reach' \}, got "toy-reach" \(write \{ id: "toy-reach" \}: only makeEnv and checkEnv also take a string\)$/,
    );
    // A model file's path is a custom env.
    await expectError(() => create({ env: 'robots/arm.xml' }), TypeError, /\(write \{ id: 'custom', model: "robots\/arm\.xml" \}: only makeEnv and checkEnv also take a string\)$/);
    await expectError(() => create(undefined), TypeError, /^PpoTrainer\.create: options must be an object/);
    // An env made by makeEnv where its config is wanted, and a config object without an id.
    await expectError(() => create({ env }), TypeError, /^PpoTrainer\.create: option env must be an env config object .*, not an env made by makeEnv \(give the config it was made from\)$/);
    await expectError(() => api.checkEnv(env as never, { steps: 5, resets: 1 }), TypeError, /^checkEnv: config must be an env id \('toy-reach'\), an MJCF file's path or an env config object .*not an env made by makeEnv/);
    await expectError(() => api.makeEnv({ name: 'toy-reach' } as never), TypeError, /^makeEnv: config must be an env id \('toy-reach'\), an MJCF file's path or an env config object \{ id, model\?, task\? \}, e\.g\. \{ id: 'toy-reach' \}, got object$/);
    const vec = api.createVecEnv as (c: unknown, o: unknown) => Promise<unknown>;
    await expectError(() => vec('toy-reach', { numEnvs: 1, workers: 0, seed: 0 }), TypeError, /^createVecEnv: config must be an env config object/);

    const trainer = await api.PpoTrainer.create({ env: { id: 'toy-reach' }, config: { totalSteps: 64, numEnvs: 1, numSteps: 64, numMinibatches: 2, workers: 0, seed: 0 } });
    try {
      const save = trainer.save.bind(trainer) as (dir: string, c: unknown) => string;
      const dir = join(root, 'ppo');
      await expectError(() => save(dir, 'toy-reach'), TypeError, /^PpoTrainer\.save: envConfig must be an env config object/);
      expect(existsSync(dir)).toBe(false);
      // save returns the folder, which loadSavedPolicy reads.
      expect(trainer.save(dir, { id: 'toy-reach' })).toBe(dir);
      expect(JSON.parse(readFileSync(join(dir, 'checkpoint.json'), 'utf8')).env).toEqual({ id: 'toy-reach' });
      expect(api.loadSavedPolicy(dir, env.spec).algo).toBe('ppo');
    } finally {
      await trainer.close();
    }
  });
});

describe('misspelt settings are refused, not replaced by defaults', () => {
  it('a PpoConfig field PPO does not have is a RangeError naming it, before any env is made', async () => {
    await expectError(
      () => api.PpoTrainer.create({ env: { id: 'toy-reach' }, config: { totalstep: 2048, num_envs: 2, workers: 0 } as never }),
      RangeError,
      /^PpoConfig: unknown fields "totalstep", "num_envs" \(the fields: totalSteps, numEnvs, numSteps, workers, /,
    );
    await expectError(() => api.PpoTrainer.create({ env: { id: 'toy-reach' }, config: { seeds: 1 } as never }), RangeError, /^PpoConfig: unknown field "seeds" /);
  });

  it('RewardNet.create, trainRewardModel and trainOfflineAgent refuse a misspelt field, naming it; nothing is made or trained', async () => {
    const tensors = api.tensorMemory().numTensors;
    await expectError(
      () => api.RewardNet.create({ obsDim: 6, actDim: 2, hiden: [4] } as never, new api.Rng(0)),
      RangeError,
      /^RewardNet config: unknown field "hiden" \(the fields: obsDim, actDim, input, members, hidden, /,
    );
    expect(api.tensorMemory().numTensors).toBe(tensors);

    const episodes = api.rollout(env, api.randomPolicy(env.spec, new api.Rng(1)), { episodes: 4, seed: 1 });
    const segments = api.cutSegments(episodes, { length: 10 });
    const pairs = segments.slice(1).map((s, i) => api.makePair(segments[i], s));
    const labels = await api.makeTeacher('oracle', { env: env.spec, rng: new api.Rng(2) }).label(pairs);
    const net = api.RewardNet.create({ obsDim: 6, actDim: 2, hidden: [4], members: 1 }, new api.Rng(0));
    try {
      const before = net.predict(api.segmentTransitions(segments[0]));
      await expectError(() => api.trainRewardModel(net, pairs, labels, { rng: new api.Rng(0), epoch: 1 } as never), RangeError, /^trainRewardModel: unknown option "epoch" \(the options: rng, .*epochs/);
      expect(net.predict(api.segmentTransitions(segments[0]))).toEqual(before);
    } finally {
      net.dispose();
    }

    const ds = api.datasetFromTrajectories(episodes, { envId: env.spec.id, modelHash: env.spec.modelHash });
    const agent = { algo: 'bc' as const, ds, rewards: ds.rewards, actLow: env.spec.actLow, actHigh: env.spec.actHigh, hidden: [8], updates: 5, batchSize: 8, seed: 0 };
    await expectError(() => api.trainOfflineAgent({ ...agent, evalEvey: 2 } as never), RangeError, /^trainOfflineAgent: unknown option "evalEvey" \(the options: algo, ds, /);
    await expectError(() => api.trainOfflineAgent({ ...agent, algo: 'iql', iql: { bta: 3 } } as never), RangeError, /^trainOfflineAgent: option iql has no field "bta" \(its fields: beta, expectile, targetRate, actor, rewardScaling\)$/);
    // Without evalEnv nothing is evaluated (runOffline passes no env when it evaluates only at the end).
    expect((await api.trainOfflineAgent({ ...agent, evalEvery: 2 })).training.final).toBeNull();
    // Spelt right and with an env, the same options train and evaluate: every 2 updates, and the last one.
    const trained = await api.trainOfflineAgent({ ...agent, evalEnv: env, evalEvery: 2, evalEpisodes: 1 });
    expect(trained.training.evals.map((e) => e.update)).toEqual([2, 4, 5]);
    expect(trained.training.final?.update).toBe(5);
  });

  it("runPreferenceLoop: an option written with prefrl train's flag name says which option it is, before the run starts", async () => {
    const run = api.createRunDir({ root, name: 'flag-names', config: {} });
    const store = api.LabelStore.open(join(run.path, 'labels.sqlite'));
    try {
      const options = {
        env: { id: 'toy-reach' },
        ppo: { totalSteps: 512, numEnvs: 1, numSteps: 256, workers: 0, seed: 0 },
        reward: 'learned',
        teacher: api.makeTeacher('oracle', { env: env.spec, rng: new api.Rng(0) }),
        preferenceModel: 'partial-return',
        budget: 10,
        labelsPerRound: 10,
        segmentLength: 5,
        query: 'uniform',
        feedbackEvery: 256,
        warmupSteps: 0,
        poolEpisodes: 4,
        evalEpisodes: 1,
        evalEvery: 512,
        run,
        store,
        logger: api.silentLogger,
        clock: api.systemClock,
      };
      const loop = api.runPreferenceLoop as (o: unknown) => Promise<unknown>;
      await expectError(
        () => loop({ ...options, labels: 60, rewardEpochs: 5 }),
        TypeError,
        /^runPreferenceLoop: unknown options labels \(prefrl train's --labels is option budget here\), rewardEpochs \(prefrl train's --reward-epochs is option rewardTrain\.epochs here\); docs\/library\.md maps every prefrl train flag to its option$/,
      );
      await expectError(() => loop({ ...options, rewardInputL1: 0.1 }), TypeError, /rewardInputL1 \(prefrl train's --reward-input-l1 is option rewardTrain\.inputL1 here\)/);
      await expectError(() => loop({ ...options, evalEvey: 100 }), TypeError, /^runPreferenceLoop: unknown option evalEvey; /);
      await expectError(() => loop({ ...options, env: 'toy-reach' }), TypeError, /^runPreferenceLoop: option env must be an env config object .* got "toy-reach"/);
      // The reward model's settings, read at the first round after the warm-up, are checked at the start too.
      await expectError(() => loop({ ...options, rewardNet: { hiden: [16] } }), RangeError, /^runPreferenceLoop: option rewardNet: unknown field "hiden" /);
      await expectError(() => loop({ ...options, rewardTrain: { epoch: 3, patience: 2 } }), RangeError, /^runPreferenceLoop: option rewardTrain: unknown option "epoch" /);
      // Nothing ran: no metrics row, no label, no checkpoint.
      expect(readFileSync(join(run.path, 'metrics.jsonl'), 'utf8')).toBe('');
      expect(store.counts().labels).toBe(0);
      expect(existsSync(join(run.path, 'artifacts', 'checkpoint'))).toBe(false);
    } finally {
      store.close();
      run.close();
    }
  });
});
