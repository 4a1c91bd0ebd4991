/**
 * What a script gets back when it passes the library's entry points something their types rule
 * out (a script in plain JS, or one cast to any): an error that names the function and the
 * argument, not a TypeError from deep inside ("Cannot read properties of undefined (reading
 * 'fork')"). And the pieces a teacher of your own needs (labelId, the label types) from the
 * entry point alone.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as api from '../index.js';

const BYO = join(import.meta.dirname, 'fixtures', 'byo');
const ARM = join(BYO, 'arm.xml');

/** The error a call throws (sync or async), or a failure when it throws none. */
async function thrown(fn: () => unknown): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('no error thrown');
}

describe('makeTeacher: arguments a script got wrong', () => {
  it('names the spec or the option that is not what it should be', async () => {
    const env = await api.makeEnv('toy-reach');
    const spec = env.spec;
    env.dispose();
    const rng = new api.Rng(0);
    const make = api.makeTeacher as (spec: unknown, opts: unknown) => api.Teacher;
    const cases: [unknown, unknown, string][] = [
      [3, { env: spec, rng }, 'makeTeacher: spec must be a string such as "oracle" or "stochastic:beta=1", got number'],
      ['oracle', undefined, 'makeTeacher: options must be an object { env, rng, ... }, got undefined'],
      ['oracle', { env: spec }, 'makeTeacher: options.rng must be an Rng (new Rng(seed)), got nothing'],
      ['oracle', { env: spec, rng: 7 }, 'makeTeacher: options.rng must be an Rng (new Rng(seed)), got number'],
      ['oracle', { rng }, "makeTeacher: options.env must be the env's spec (env.spec, an EnvSpec), got nothing"],
      // The env itself instead of its spec: no rewardTerms on it.
      ['oracle', { env: { id: 'toy-reach' }, rng }, "makeTeacher: options.env must be the env's spec (env.spec, an EnvSpec), got object"],
    ];
    for (const [s, o, message] of cases) {
      const e = await thrown(() => make(s, o));
      expect([e.constructor.name, e.message]).toEqual(['TypeError', message]);
    }
    // A bad spec string is still the user's mistake: a TeacherSpecError, as before.
    expect(await thrown(() => make('orcale', { env: spec, rng }))).toBeInstanceOf(api.TeacherSpecError);
    expect(make('oracle', { env: spec, rng }).id).toBe('oracle');
  });
});

describe('loadSavedPolicy: arguments a script got wrong', () => {
  it('names the argument before looking at any file', async () => {
    const env = await api.makeEnv('toy-reach');
    const spec = env.spec;
    env.dispose();
    const load = api.loadSavedPolicy as (path: unknown, spec: unknown, o?: unknown) => api.SavedPolicy;
    const cases: [unknown, unknown, unknown, string, string][] = [
      [3, spec, {}, 'TypeError', 'loadSavedPolicy: path must be a non-empty string (a run folder, checkpoint folder, policy.json or actor.json), got 3'],
      ['', spec, {}, 'TypeError', 'loadSavedPolicy: path must be a non-empty string (a run folder, checkpoint folder, policy.json or actor.json), got ""'],
      ['runs/x', undefined, {}, 'TypeError', 'loadSavedPolicy: envSpec must be the spec of the env the policy is to act in (env.spec), got nothing'],
      ['runs/x', { id: 'toy-reach' }, {}, 'TypeError', 'loadSavedPolicy: envSpec must be the spec of the env the policy is to act in (env.spec), got object'],
      ['runs/x', spec, null, 'TypeError', 'loadSavedPolicy: options must be an object { stochastic?, seed?, flag? }, got null'],
      ['runs/x', spec, { stochastic: 'yes' }, 'TypeError', 'loadSavedPolicy: options.stochastic must be true or false, got "yes"'],
      ['runs/x', spec, { stochastic: true, seed: Number.NaN }, 'RangeError', 'loadSavedPolicy: options.seed must be an integer, got NaN'],
      ['runs/x', spec, { stochastic: true, seed: 1.5 }, 'RangeError', 'loadSavedPolicy: options.seed must be an integer, got 1.5'],
      ['runs/x', spec, { flag: 1 }, 'TypeError', 'loadSavedPolicy: options.flag must be a string, got 1'],
    ];
    for (const [path, s, o, kind, message] of cases) {
      const e = await thrown(() => load(path, s, o));
      expect([e.constructor.name, e.message]).toEqual([kind, message]);
    }
    // Well-typed arguments get as far as the path, as before (a missing path is a UsageError naming the flag).
    const root = mkdtempSync(join(tmpdir(), 'prefrl-api-checks-'));
    try {
      const e = await thrown(() => load(join(root, 'nope'), spec, { flag: 'policyDir' }));
      expect([e instanceof api.UsageError, e.message]).toEqual([true, `policyDir: ${JSON.stringify(join(root, 'nope'))} not found`]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("makeEnv({ id: 'custom' }): an env config a script got wrong", () => {
  it('names the field of the env config; a missing task module is said plainly', async () => {
    const make = api.makeEnv as (c: unknown) => Promise<api.Env>;
    const cases: [unknown, string][] = [
      [{ id: 'custom', model: 3 }, 'env config { id: "custom" }: model must be the path of an MJCF file (a string), got 3'],
      [{ id: 'custom', model: ARM, task: 5 }, 'env config { id: "custom" }: task must be the path of a task module (a string), got 5'],
      // Was: the default task, without a word.
      [{ id: 'custom', model: ARM, task: '' }, 'env config { id: "custom" }: task is an empty string; give the path of a task module, or leave task out for the default task'],
      [{ id: 'custom', model: ARM, seed: Number.NaN }, 'env config { id: "custom" }: seed must be a finite number, got NaN'],
      [{ id: 'custom', model: ARM, seed: '1' }, 'env config { id: "custom" }: seed must be a finite number, got "1"'],
    ];
    for (const [config, message] of cases) {
      const e = await thrown(() => make(config));
      expect([e.constructor.name, e.message]).toEqual(['TypeError', message]);
    }
    // Was: "Cannot find module '<abs path>' imported from <prefrl's own envs/custom.js>".
    const missing = join(BYO, 'no_such_task.ts');
    const e = await thrown(() => make({ id: 'custom', model: ARM, task: missing }));
    expect([e instanceof api.InputError, e.message]).toEqual([true, `${missing}: cannot load the task module: no such file`]);
    // A good config still makes the env, its seed taken.
    const env = await make({ id: 'custom', model: ARM, task: join(BYO, 'reach_task.mjs'), seed: 3 });
    expect(env.spec.id).toBe('custom:arm.xml');
    env.dispose();
  });
});

describe('a teacher of your own, from the entry point alone', () => {
  it("labelId gives the built-in teachers' label ids; a custom teacher's labels go through a LabelStore", async () => {
    const env = await api.makeEnv('toy-reach');
    const rng = new api.Rng(0);
    const segs = api.cutSegments(api.rollout(env, api.randomPolicy(env.spec, rng.fork('p')), { episodes: 2, seed: 0 }), { length: 25 });
    // 2 episodes of 50 steps, 25-step windows: 4 segments.
    expect(segs.length).toBe(4);
    const pairs = [api.makePair(segs[0], segs[1]), api.makePair(segs[2], segs[3])];
    const oracle = await api.makeTeacher('oracle', { env: env.spec, rng }).label(pairs);
    expect(oracle.map((l) => l.id)).toEqual(pairs.map((p) => api.labelId('oracle', p.id)));

    /** Prefers the segment whose last observation is nearer the goal; skips within 1 mm. */
    class NearerEnd implements api.Teacher {
      readonly id = 'nearer-end';
      seen: api.TeacherContext | null = null;
      observe(ctx: api.TeacherContext): void {
        this.seen = ctx;
      }
      async label(ps: readonly api.Pair[]): Promise<api.Label[]> {
        return ps.map((p): api.PreferenceLabel | api.SkipLabel => {
          const end = (s: api.Segment): number => Math.hypot(s.obs[s.length * s.obsDim + 4], s.obs[s.length * s.obsDim + 5]);
          const [da, db] = [end(p.a), end(p.b)];
          const head = { id: api.labelId(this.id, p.id), pairId: p.id, teacher: this.id };
          return Math.abs(da - db) < 1e-3 ? { ...head, kind: 'skip', reason: 'too close' } : { ...head, kind: 'preference', probFirst: da < db ? 1 : 0 };
        });
      }
    }
    const teacher = new NearerEnd();
    const labels = await teacher.label(pairs);
    // The final distance is the norm of obs[4..5] of the window's last row (row 25 of each segment).
    const lastDist = (s: api.Segment): number => Math.hypot(s.obs[25 * 6 + 4], s.obs[25 * 6 + 5]);
    expect(labels.map((l) => (l.kind === 'preference' ? l.probFirst : l.kind))).toEqual(pairs.map((p) => (lastDist(p.a) < lastDist(p.b) ? 1 : 0)));
    const dir = mkdtempSync(join(tmpdir(), 'prefrl-api-teacher-'));
    try {
      const opts: api.LabelStoreOpenOptions = { envId: env.spec.id, modelHash: env.spec.modelHash };
      const store = api.LabelStore.open(join(dir, 'labels.sqlite'), opts);
      const round: api.PutPairsOptions = { round: 3 };
      const put: api.PutResult = store.putPairs(pairs, round);
      const toAdd: api.NewLabel[] = labels;
      const added: api.AddLabelsResult = store.addLabels(toAdd);
      // The same answers again (same ids, same content): duplicates, not errors.
      const again = store.addLabels(labels);
      const stored: api.StoredLabel[] = store.labels();
      const counts: api.StoreCounts = store.counts();
      const labelled: api.LabelledPair[] = store.labelledPairs();
      store.close();
      expect([put.added, added.added, again.duplicates, stored.map((l) => l.id), counts.perTeacher['nearer-end'].labels]).toEqual([2, 2, 2, labels.map((l) => l.id), 2]);
      expect(labelled.map((lp) => [lp.pair.id, lp.round, lp.labels.length])).toEqual(pairs.map((p) => [p.id, 3, 1]));
    } finally {
      rmSync(dir, { recursive: true, force: true });
      env.dispose();
    }
  });
});

describe('the types the pipelines take and give are named by the entry point (tsc checks this file)', () => {
  it('annotates a reward net, a contract check, an offline agent and a trajectory with them', { timeout: 60_000 }, async () => {
    await api.initBackend('auto');
    const env = await api.makeEnv('toy-reach');
    try {
      const init: api.RewardNetInit = { outputScale: 0 };
      const net = api.RewardNet.create({ obsDim: 6, actDim: 2, members: 2, hidden: [8] }, new api.Rng(0), init);
      const config: api.RewardNetConfig = net.config;
      // outputScale 0: every member starts at r = 0 for every input.
      const r = net.predict(api.segmentTransitions(api.cutSegments(api.rollout(env, api.randomPolicy(env.spec, new api.Rng(1)), { episodes: 1, seed: 0 }), { length: 5 })[0]));
      net.dispose();
      expect([config.members, config.hidden, config.input, Array.from(r)]).toEqual([2, [8], 'obs-action', [0, 0, 0, 0, 0]]);

      const checks: [string, api.CheckResult][] = [];
      const report: api.CheckReport = await api.checkEnv('toy-reach', { steps: 20, resets: 5, onCheck: (name, result) => checks.push([name, result]) });
      expect(report.ok).toBe(true);
      expect(checks.map(([name]) => name)).toEqual(Object.keys(report.checks));

      const eps: api.Trajectory[] = api.rollout(env, api.randomPolicy(env.spec, new api.Rng(2)), { episodes: 2, seed: 1, maxSteps: 20 });
      const dims: api.TrajectoryDims = eps[0];
      const steps: api.StepArrays = eps[1];
      expect([dims.obsDim, dims.actDim, dims.nTerms, steps.length, steps.obs.length]).toEqual([6, 2, 3, 20, 21 * 6]);

      const ds = api.datasetFromTrajectories(eps, { envId: 'toy-reach' });
      const algo: api.OfflineAlgo = 'bc';
      const trained = await api.trainOfflineAgent({ algo, ds, rewards: ds.rewards, actLow: env.spec.actLow, actHigh: env.spec.actHigh, hidden: [8], updates: 4, batchSize: 8, seed: 0, evalEnv: env, evalEpisodes: 1, evalEvery: 2 });
      const actor: api.ActorSnapshot = trained.actor;
      const training: api.TrainOfflineResult = trained.training;
      const evals: api.EvalResult[] = training.evals;
      // Evaluated after updates 2 and 4 (the last update always is), one episode each.
      expect([actor.json.algo, evals.map((e) => [e.update, e.returns.length]), training.final?.update]).toEqual(['bc', [[2, 1], [4, 1]], 4]);

      const stage: api.OfflineStage = 'relabel';
      const teacherKind: api.OfflineTeacherKind = 'synthetic-vlm';
      const scope: api.PairScope = 'episode';
      const metrics: api.Metrics = { 'teacher/labels': 3 };
      expect([stage, teacherKind, scope, metrics['teacher/labels']]).toEqual(['relabel', 'synthetic-vlm', 'episode', 3]);
    } finally {
      env.dispose();
    }
  });
});
