/**
 * The errors docs/library.md says each export throws for bad input are the ones it throws: the
 * error class and the start of the message, one call per statement (cheap calls, toy-reach only;
 * the plain-JS tensor backend for the one RewardNet call). Where the page gives a number (partialReturnProb, regretProb,
 * preferenceAccuracy's half point for 0.5), it is checked too.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as api from '../index.js';

let env: api.Env;
let trajs: api.Trajectory[];
let dir: string;
beforeAll(async () => {
  env = await api.makeEnv('toy-reach');
  trajs = api.rollout(env, api.randomPolicy(env.spec, new api.Rng(0)), { episodes: 2, seed: 0 });
  dir = mkdtempSync(join(tmpdir(), 'prefrl-docs-errors-'));
});
afterAll(() => {
  env.dispose();
  rmSync(dir, { recursive: true, force: true });
});

type ErrorClass = abstract new (...args: never[]) => Error;

/** `f` throws (or rejects with) an instance of exactly `kind` whose message matches `message`. */
async function expectError(f: () => unknown, kind: ErrorClass, message: RegExp): Promise<void> {
  let caught: unknown = null;
  try {
    await f();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected a ${kind.name}`).toBeInstanceOf(kind);
  expect((caught as Error).constructor).toBe(kind);
  expect((caught as Error).message).toMatch(message);
}

describe('docs/library.md: seeded randomness, run folders, logging', () => {
  it('Rng: a non-finite seed, int(0), choice([]), k > n are RangeErrors', async () => {
    await expectError(() => new api.Rng(Number.NaN), RangeError, /^Rng: seed must be a finite number/);
    await expectError(() => new api.Rng(0).int(0), RangeError, /^Rng\.int: /);
    await expectError(() => new api.Rng(0).choice([]), RangeError, /^Rng\.choice: empty array/);
    await expectError(() => new api.Rng(0).sampleWithoutReplacement(2, 3), RangeError, /k=3 > n=2/);
    await expectError(() => new api.Rng(1).setState(new api.Rng(0).getState()), Error, /belongs to stream "0", not "1"/);
  });

  it('createRunDir: a name that is not a string is a TypeError, a root that is a file a UsageError; openRunDir: an InputError', async () => {
    await expectError(() => api.createRunDir({ name: 1 as never, config: {} }), TypeError, /^createRunDir: option name/);
    await expectError(() => api.createRunDir({ root: join(import.meta.dirname, '..', 'README.md'), name: 'x', config: {} }), api.UsageError, /README\.md: is a file, not a folder/);
    await expectError(() => api.openRunDir(join(dir, 'none')), api.InputError, /no such run folder/);
  });

  it('Logger: warning limits that are not whole numbers >= 0 are a RangeError', async () => {
    await expectError(() => new api.Logger(undefined, 'info', 'x', { keep: -1 }), RangeError, /^Logger: warning limit "keep"/);
  });
});

describe('docs/library.md: environments', () => {
  it('makeEnv: UsageError for an unknown id or model with a built-in id, TypeError for a NaN seed, InputError for a missing model file', async () => {
    await expectError(() => api.makeEnv('no-such-env'), api.UsageError, /^unknown env "no-such-env"/);
    await expectError(() => api.makeEnv({ id: 'custom' }), api.UsageError, /needs model/);
    await expectError(() => api.makeEnv({ id: 'reacher', model: 'x.xml' }), api.UsageError, /model is only for a bring-your-own model/);
    await expectError(() => api.makeEnv({ id: 'reacher', seed: Number.NaN }), TypeError, /seed must be a finite number, got NaN/);
    await expectError(() => api.makeEnv({ id: 'custom', model: join(dir, 'none.xml') }), api.InputError, /none\.xml: model file not found/);
  });

  it('step: an ActionError naming the env and step for a wrong length or a NaN', async () => {
    env.reset(0);
    await expectError(() => env.step([0]), api.ActionError, /^toy-reach step 0: action has length 1, expected 2/);
    await expectError(() => env.step([Number.NaN, 0]), api.ActionError, /^toy-reach step 0: action\[0\] is NaN/);
  });

  it('createVecEnv, rollout, stateAt, saveTrajectories, loadTrajectories, TrajectoryBuilder', async () => {
    await expectError(() => api.createVecEnv({ id: 'toy-reach' }, { numEnvs: 0, workers: 0, seed: 0 }), RangeError, /^createVecEnv: numEnvs/);
    await expectError(() => api.createVecEnv({ id: 'toy-reach' }, { numEnvs: 1, workers: -1, seed: 0 }), RangeError, /^createVecEnv: workers/);
    const policy = api.randomPolicy(env.spec, new api.Rng(0));
    await expectError(() => api.rollout(env, policy, undefined as never), TypeError, /^rollout: options \{ episodes, seed \} are required/);
    await expectError(() => api.rollout(env, policy, { episodes: 1.5, seed: 0 }), RangeError, /^rollout: option episodes/);
    await expectError(() => api.rollout(env, policy, { episodes: 1, seed: 0, maxSteps: 0 }), RangeError, /^rollout: option maxSteps/);
    await expectError(() => api.stateAt(trajs[0], trajs[0].length + 1), RangeError, /^stateAt: step 51 outside 0\.\.50/);
    await expectError(() => api.saveTrajectories(join(dir, 't'), []), Error, /^saveTrajectories: nothing to save/);
    await expectError(() => api.loadTrajectories(dir), api.InputError, /index\.json missing/);
    await expectError(() => new api.TrajectoryBuilder(env.spec).finish(), Error, /finish\(\) before start\(\)/);
    // randomPolicy's fresh array per call: test/random_policy.test.ts.
  });
});

describe('docs/library.md: segments, pairs, teachers, labels', () => {
  it('cutSegments, sampleSegments, makePair', async () => {
    await expectError(() => api.cutSegments({} as never), TypeError, /^cutSegments: trajs must be a list/);
    await expectError(() => api.cutSegments(trajs, { length: 0 }), RangeError, /^cutSegments: option length/);
    await expectError(() => api.cutSegments(trajs, { terminal: 'x' as never }), RangeError, /^cutSegments: option terminal/);
    await expectError(() => api.cutSegments(trajs, { offsets: [0] }), RangeError, /^cutSegments: 1 offsets for 2 trajectories/);
    await expectError(() => api.sampleSegments(trajs, 3, 500, new api.Rng(0)), RangeError, /^sampleSegments: no trajectory has 500 steps/);
    await expectError(() => api.sampleSegments(trajs, 3, 10, 7 as never), TypeError, /^sampleSegments: rng must be an Rng/);
    const [a] = api.cutSegments(trajs, { length: 10 });
    const [b] = api.cutSegments(trajs, { length: 5 });
    await expectError(() => api.makePair(a, b), Error, /^makePair: segment lengths differ \(10 vs 5\)/);
    expect(api.makePair(a, a).a).toBe(a);
  });

  it('makeTeacher: a TeacherSpecError (a UsageError) for a bad spec, a TypeError for a spec or options of the wrong kind', async () => {
    const opts = { env: env.spec, rng: new api.Rng(0) };
    await expectError(() => api.makeTeacher('oracle:foo=1', opts), api.TeacherSpecError, /^teacher spec: unknown parameter "foo"/);
    try {
      api.makeTeacher('oracle:foo=1', opts);
    } catch (e) {
      expect(e).toBeInstanceOf(api.UsageError);
      expect((e as api.TeacherSpecError).withFlag('--teacher').message).toMatch(/^--teacher: unknown parameter "foo"/);
    }
    await expectError(() => api.makeTeacher(1 as never, opts), TypeError, /^makeTeacher: spec must be a string/);
    await expectError(() => api.makeTeacher('oracle', { env: env.spec } as never), TypeError, /^makeTeacher: options\.rng/);
  });

  it('LabelStore: a file that is not a store is an InputError; addLabels refuses an unknown pair and a second label (SecondLabelError), storing nothing', async () => {
    await expectError(() => api.LabelStore.open(join(import.meta.dirname, '..', 'README.md')), api.InputError, /README\.md: not a SQLite database/);
    const store = api.LabelStore.open(join(dir, 'labels.sqlite'), { envId: env.spec.id, modelHash: env.spec.modelHash });
    try {
      const segs = api.cutSegments(trajs, { length: 10 });
      const pair = api.makePair(segs[0], segs[1]);
      const other = api.makePair(segs[1], segs[2]);
      store.putPairs([pair]);
      const label = (id: string, pairId: string, probFirst: number): api.PreferenceLabel => ({ id, pairId, teacher: 't', kind: 'preference', probFirst });
      await expectError(() => store.addLabels([label('l1', other.id, 1)]), Error, /names pair .* which is not in/);
      expect(store.addLabels([label('l1', pair.id, 1)])).toEqual({ added: 1, duplicates: 0 });
      expect(store.addLabels([label('l1', pair.id, 1)])).toEqual({ added: 0, duplicates: 1 });
      await expectError(() => store.addLabels([label('l2', pair.id, 0)]), api.SecondLabelError, /teacher t already labelled pair/);
      expect(store.counts().labels).toBe(1);
    } finally {
      store.close();
    }
  });
});

describe('docs/library.md: preference models and learned rewards', () => {
  it("the page's numbers: partialReturnProb(3, 1) 0.8808, regretProb(0.5, 2) 0.8176, a 0.5 prediction earns half a point, ties left out", () => {
    expect(api.partialReturnProb(3, 1)).toBeCloseTo(0.8808, 4);
    expect(api.regretProb(0.5, 2)).toBeCloseTo(0.8176, 4);
    // Labels first, first, tie: predictions 0.5 (half), 0.9 (right), the tie left out: 1.5 / 2.
    expect(api.preferenceAccuracy([0.5, 0.9, 0.2], [1, 1, 0.5])).toEqual({ accuracy: 0.75, n: 2, ties: 1 });
    expect(api.returnCorrelation([1, 1, 1], [1, 2, 3])).toEqual({ pearson: Number.NaN, spearman: Number.NaN });
  });

  it('RewardNet.create, preferenceAccuracy: RangeErrors naming the field', async () => {
    await api.initBackend('cpu'); // RewardNet.create warns without one
    await expectError(() => api.RewardNet.create({ obsDim: 6, actDim: 2, hidden: [0] }, new api.Rng(0)), RangeError, /^RewardNet config hidden: /);
    await expectError(() => api.preferenceAccuracy([0.5], [1, 0]), RangeError, /^preferenceAccuracy: 1 predictions, 2 targets/);
    await expectError(() => api.preferenceAccuracy([0.5], [2]), RangeError, /target 0 is 2/);
  });
});

describe('docs/library.md: agents, datasets, pipelines', () => {
  it('evaluatePolicy, trainOfflineAgent, datasetFromTrajectories, loadSavedPolicy, PpoTrainer', async () => {
    const policy = api.randomPolicy(env.spec, new api.Rng(0));
    await expectError(() => api.evaluatePolicy(env, policy, 0, 0), RangeError, /^evaluatePolicy: episodes/);
    await expectError(() => api.evaluatePolicy(env, policy, '3' as never, 0), TypeError, /^evaluatePolicy: episodes/);
    await expectError(() => api.trainOfflineAgent({} as never), TypeError, /^trainOfflineAgent: options\.ds/);
    await expectError(() => api.datasetFromTrajectories([]), api.InputError, /no transitions to store/);
    await expectError(() => api.loadSavedPolicy(dir, env.spec), api.UsageError, /^--policy: .* holds no saved policy/);
    await expectError(() => api.loadSavedPolicy(dir, env.spec, { flag: 'myPolicy' }), api.UsageError, /^myPolicy: /);
    await expectError(() => api.PpoTrainer.create({ env: { id: 'toy-reach' }, config: { numMinibatches: 7, workers: 0 } }), RangeError, /must divide into 7 minibatches/);
  });

  it('runPreferenceLoop, readLoopResume, runOffline: options checked first', async () => {
    await expectError(() => api.runPreferenceLoop({} as never), RangeError, /^runPreferenceLoop: option reward/);
    await expectError(() => api.readLoopResume(join(dir, 'none')), api.InputError, /no such run folder/);
    const config = { dataset: join(dir, 'none.h5'), teacher: 'oracle' as const, labels: -1 };
    await expectError(() => api.runOffline({ config, runsDir: join(dir, 'runs') }, { logger: api.silentLogger }), api.UsageError, /^--labels: /);
  });
});
