/**
 * The library entry point (index.ts, `import ... from 'prefrl'`): every name it lists is defined,
 * the list changes only on purpose, and the README's example script runs against the built
 * package (package.json "exports" -> dist/index.js) and prints what the README says it prints.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as api from '../index.js';

const REPO = join(import.meta.dirname, '..');

describe("prefrl's library entry point", () => {
  it('lists these names, each defined (types aside)', () => {
    expect(Object.keys(api).sort()).toEqual(
      [
        'ActionError', 'ActorSnapshot', 'InputError', 'LabelStore', 'Logger', 'PpoPolicy', 'PpoTrainer', 'RewardNet', 'Rng', 'SecondLabelError', 'TrajectoryBuilder', 'UsageError',
        'checkEnv', 'createRunDir', 'createVecEnv', 'currentBackend', 'cutSegments', 'datasetFromTrajectories', 'defineTask', 'describeBackend', 'envIds', 'epicDistance',
        'episodeSeed', 'evaluatePolicy', 'expertValueFunction', 'initBackend', 'labelId', 'loadSavedPolicy', 'loadTrajectories', 'makeEnv', 'makePair', 'makeTeacher', 'openRunDir', 'partialReturnProb',
        'preferenceAccuracy', 'randomPolicy', 'readDataset', 'registeredEnv', 'registeredEnvs', 'regretProb', 'relabelDataset', 'returnCorrelation',
        'readLoopResume', 'rollout', 'runOffline', 'runPreferenceLoop', 'sampleSegments', 'saveTrajectories', 'segmentReturn', 'segmentTransitions', 'silentLogger', 'stateAt',
        'summarizeDataset', 'systemClock', 'TeacherSpecError', 'tensorMemory', 'trainOfflineAgent', 'trainRewardModel', 'trajectoryReturn', 'weightedSum', 'writeDataset',
      ].sort(),
    );
    for (const [name, value] of Object.entries(api)) expect(value, name).toBeDefined();
    expect(api.partialReturnProb(1, 0)).toBeCloseTo(1 / (1 + Math.exp(-1)), 12);
  });

  it("names the option and result types of its functions, so scripts can annotate them (tsc checks this file)", async () => {
    const entry: api.RegisteredEnv | undefined = api.registeredEnv('reacher');
    const env = await api.makeEnv('toy-reach');
    const episodes = api.rollout(env, api.randomPolicy(env.spec, new api.Rng(0)), { episodes: 2, seed: 0, maxSteps: 30 });
    env.dispose();
    const cut: api.CutOptions = { length: 10 };
    const meta: api.DatasetMeta = { envId: 'toy-reach' };
    const ds = api.datasetFromTrajectories(episodes, meta);
    const task: api.MujocoTask = api.defineTask({
      id: 'typed',
      goal: 'none',
      rewardTerms: [{ name: 'zero', weight: 1, doc: '' }],
      horizon: 10,
      frameSkip: 1,
      bind: (physics: api.Physics): api.BoundTask => ({
        obsDim: physics.nq,
        initialize: () => undefined,
        observe: (p, out) => out.set(p.views.qpos),
        rewardTerms: (_p, _a, out) => out.fill(0),
        terminated: () => false,
      }),
    });
    expect([entry?.modelFile, api.cutSegments(episodes, cut).length, ds.size, ds.meta.envId, task.id]).toEqual(['reacher.xml', 6, 60, 'toy-reach', 'typed']);
  });

  it('runPreferenceLoop can be called with the entry point alone: a run folder, a logger and a clock from it', { timeout: 60_000 }, async () => {
    const root = mkdtempSync(join(tmpdir(), 'prefrl-api-'));
    try {
      const run = api.createRunDir({ root, name: 'api', config: {} });
      const store = api.LabelStore.open(join(run.path, 'labels.sqlite'));
      const options: api.LoopOptions = {
        env: { id: 'toy-reach' },
        ppo: { totalSteps: 512, seed: 0, numEnvs: 2, numSteps: 128, workers: 0 },
        reward: 'true',
        preferenceModel: 'partial-return',
        budget: 0,
        labelsPerRound: 1,
        segmentLength: 10,
        query: 'uniform',
        feedbackEvery: 512,
        warmupSteps: 0,
        poolEpisodes: 1,
        evalEpisodes: 1,
        evalEvery: 512,
        run,
        store,
        logger: api.silentLogger,
        clock: api.systemClock,
      };
      const summary = await api.runPreferenceLoop(options);
      store.close();
      run.close();
      expect([summary.env, summary.reward, summary.envSteps, summary.labelsUsed]).toEqual(['toy-reach', 'true', 512, 0]);
      const env = await api.makeEnv('toy-reach');
      const saved = api.loadSavedPolicy(run.path, env.spec);
      env.dispose();
      expect([saved.algo, saved.file]).toEqual(['ppo', join(run.path, 'artifacts', 'checkpoint', 'policy.json')]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("a script ends once it closes its teacher: the human teacher's labelling server stops (Teacher.close)", { timeout: 60_000 }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'prefrl-api-human-'));
    const script = `
      import { cutSegments, makeEnv, makePair, makeTeacher, randomPolicy, rollout, Rng, LabelStore, silentLogger } from 'prefrl';
      const env = await makeEnv('toy-reach');
      const segs = cutSegments(rollout(env, randomPolicy(env.spec, new Rng(0)), { episodes: 1, seed: 0 }), { length: 10 });
      const store = LabelStore.open(${JSON.stringify(join(dir, 'labels.sqlite'))});
      const human = { store, env: { id: 'toy-reach' }, port: 0, timeoutS: 1, onTimeout: 'skip', logger: silentLogger };
      const teacher = makeTeacher('human', { env: env.spec, rng: new Rng(0), human });
      const labels = await teacher.label([makePair(segs[0], segs[1])]);
      await teacher.close?.();
      store.close();
      env.dispose();
      console.log(labels.map((l) => l.kind).join(','));
    `;
    try {
      // Without the close() the server keeps the process alive and spawnSync's timeout kills it.
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO, encoding: 'utf8', timeout: 40_000 });
      expect([r.status, r.signal, r.stdout.trim()], r.stderr).toEqual([0, null, 'skip']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the README's example script runs from the built package and prints the README's numbers", { timeout: 120_000 }, () => {
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Use it from a script'));
    const code = /```js\n([\s\S]*?)```/.exec(section)?.[1];
    expect(code, 'the js block of "Use it from a script"').toBeDefined();
    expect(code).toContain("from 'prefrl';");
    const claimed = /It prints `held-out accuracy ([\d.]+), return correlation ([\d.]+)`/.exec(section);
    expect(claimed, 'the line the README says the script prints').not.toBeNull();
    // Run where a user would: `import ... from 'prefrl'` resolves through package.json's exports.
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code as string], { cwd: REPO, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    // It chose a backend first: no warning about models made without one (core/backend.ts).
    expect(r.stderr).not.toContain('PrefrlWarning');
    const got = /^held-out accuracy ([\d.]+), return correlation ([\d.]+)$/m.exec(r.stdout);
    expect(got, r.stdout).not.toBeNull();
    // Exact with the WASM backend (this machine); another backend may round differently.
    expect(Math.abs(Number(got![1]) - Number(claimed![1]))).toBeLessThanOrEqual(0.05);
    expect(Math.abs(Number(got![2]) - Number(claimed![2]))).toBeLessThanOrEqual(0.05);
  });

  it('npm pack puts the compiled entry point, its types, the workers, the CLI and the MJCF assets in the package', { timeout: 60_000 }, () => {
    // (Without .npmignore npm applies .gitignore, which lists dist/: a tarball install had no dist/index.js.)
    const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const files = new Set((JSON.parse(r.stdout) as { files: { path: string }[] }[])[0].files.map((f) => f.path));
    const needed = ['dist/index.js', 'dist/index.d.ts', 'dist/envs/vec_worker.js', 'dist/reward/select_worker.js', 'dist/scripts/cli.js', 'bin/prefrl.js', 'envs/assets/reacher.xml', 'dist/viewer-web/index.html'];
    expect(needed.filter((f) => !files.has(f))).toEqual([]);
    expect([...files].filter((f) => f.startsWith('node_modules/') || f.startsWith('runs/'))).toEqual([]);
  });
});
