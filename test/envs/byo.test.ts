import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../core/errors.js';
import { checkEnv } from '../../envs/check.js';
import { listAssets, modelFiles } from '../../envs/mujoco/runtime.js';
import { absoluteEnvConfig, makeEnv } from '../../envs/registry.js';
import { PpoTrainer } from '../../agents/ppo.js';
import { readFileSync } from 'node:fs';
import { main } from '../../scripts/cli.js';
import { captureCli, expectUsageError } from '../helpers/cli.js';

const dir = join(import.meta.dirname, '..', 'fixtures', 'byo');
const arm = join(dir, 'arm.xml');

describe('bring-your-own MJCF models', () => {
  it('loads a model with an <include>d file and an OBJ mesh, with the default task', async () => {
    const env = await makeEnv({ id: 'custom', model: arm });
    try {
      const s = env.spec;
      expect(s.id).toBe('custom:arm.xml');
      expect(s.nq).toBe(3);
      expect(s.obsDim).toBe(6); // qpos (3) + qvel (3)
      expect(s.actDim).toBe(3);
      // limited actuators keep their ctrlrange; the unlimited elbow motor gets [-1, 1]
      expect(Array.from(s.actLow)).toEqual([-1, -1, -1]);
      expect(s.rewardTerms.map((t) => [t.name, t.weight])).toEqual([
        ['forward_velocity', 1],
        ['control_effort', -0.1],
      ]);
      // timestep 0.005 -> frame skip round(0.04 / 0.005) = 8 -> dt 0.04
      expect(s.dt).toBeCloseTo(0.04, 12);
      expect(s.horizon).toBe(1000);
      expect(s.modelHash).toMatch(/^[0-9a-f]{16}$/);
      // pushing the base forward gives positive forward velocity
      env.reset(0);
      let v = 0;
      for (let i = 0; i < 5; i++) v = env.step([1, 0, 0]).rewardTerms[0];
      expect(v).toBeGreaterThan(0.05);
    } finally {
      env.dispose();
    }
  });

  it('passes the contract checks with the default task and with TypeScript and JavaScript task modules', async () => {
    for (const task of [undefined, join(dir, 'reach_task.ts'), join(dir, 'reach_task.mjs')]) {
      const report = await checkEnv({ id: 'custom', model: arm, ...(task ? { task } : {}) }, { steps: 120, resets: 200 });
      expect(Object.entries(report.checks).filter(([, c]) => !c.ok)).toEqual([]);
    }
  });

  it('uses the task module: its terms, horizon, frame skip and observation', async () => {
    const env = await makeEnv({ id: 'custom', model: arm, task: join(dir, 'reach_task.ts') });
    try {
      expect(env.spec.goal).toBe('Raise the tip of the arm as high as possible.');
      expect(env.spec.horizon).toBe(100);
      expect(env.spec.dt).toBeCloseTo(0.02, 12);
      const obs = env.reset(0);
      // base z 0.1 + box top 0.05 + upper 0.3 + lower 0.25 + tip 0.05 = 0.75 m when straight up
      expect(obs[6]).toBeCloseTo(0.75, 5);
      const r = env.step([0, 0, 0]);
      expect(r.rewardTerms[0]).toBeCloseTo(0.75, 3);
      expect(env.success?.()).toBe(1);
    } finally {
      env.dispose();
    }
  });

  it('a task module with bad fields is rejected naming the file and field', async () => {
    const err = await makeEnv({ id: 'custom', model: arm, task: join(dir, 'bad_task.mjs') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/bad_task\.mjs \(rewardTerms\[0\]\): task\.rewardTerms\[0\] needs a string name and a finite numeric weight/);
    await expect(makeEnv({ id: 'custom', model: arm, task: join(dir, 'missing.mjs') })).rejects.toThrow(/missing\.mjs: cannot load the task module/);
  });

  it('observation bounds of the wrong length, low above high or NaN, and reward terms sharing a name are refused naming the file and field; plain-array bounds become Float64Arrays', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'prefrl-task-'));
    const task = (name: string, terms: string, bounds: string) => {
      const file = join(tmp, `${name}.mjs`);
      writeFileSync(
        file,
        `export default { id: '${name}', goal: 'g', rewardTerms: ${terms}, horizon: 20, frameSkip: 1,\n` +
          `  bind(p) { return { obsDim: 3, ${bounds} initialize() {}, observe(p, o) { o.set(p.views.qpos, 0); }, rewardTerms(p, a, o) { o.fill(1); }, terminated: () => false }; } };\n`,
      );
      return file;
    };
    const one = "[{ name: 'a', weight: 1, doc: '' }]";
    try {
      const cases: [string, string, string, string][] = [
        ['short_low', one, 'obsLow: new Float64Array(2).fill(-1),', '(obsLow): task.bind() returned obsLow of length 2; it must hold obsDim = 3 numbers'],
        ['long_high', one, 'obsHigh: [1, 1, 1, 1],', '(obsHigh): task.bind() returned obsHigh of length 4; it must hold obsDim = 3 numbers'],
        ['not_array', one, "obsHigh: 'big',", '(obsHigh): task.bind() returned obsHigh a string, not an array; it must hold obsDim = 3 numbers'],
        ['nan_low', one, 'obsLow: [0, NaN, 0],', '(obsLow): task.bind() returned obsLow[1] = NaN; bounds must be numbers (-Infinity/Infinity where unbounded)'],
        ['crossed', one, 'obsLow: [0, 2, 0], obsHigh: [1, 1, 1],', '(obsLow): task.bind() returned obsLow[1] = 2 above obsHigh[1] = 1'],
        ['dup_terms', "[{ name: 'a', weight: 1, doc: '' }, { name: 'a', weight: 2, doc: '' }]", '', '(rewardTerms[1]): task.rewardTerms[1] is named "a" like rewardTerms[0]; reward term names must differ'],
      ];
      for (const [name, terms, bounds, message] of cases) {
        const file = task(name, terms, bounds);
        await expect(makeEnv({ id: 'custom', model: arm, task: file }), name).rejects.toThrow(`${file} ${message}`);
      }
      const ok = await makeEnv({ id: 'custom', model: arm, task: task('plain', one, 'obsLow: [-1, -2, -Infinity], obsHigh: [1, 2, Infinity],') });
      try {
        expect(ok.spec.obsLow).toEqual(Float64Array.from([-1, -2, -Infinity]));
        expect(ok.spec.obsHigh).toEqual(Float64Array.from([1, 2, Infinity]));
      } finally {
        ok.dispose();
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('TypeScript task modules outside an ESM package (compiled to CommonJS) load, so do factories returning a promise; a syntax error names its line', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'prefrl-task-'));
    try {
      // No package.json here: tsx compiles the module to CommonJS, which arrives as { default: module.exports }.
      const body = "{ id: 'lift', goal: 'Lift.', rewardTerms: [{ name: 'z', weight: 2, doc: 'm' }], horizon: 30, frameSkip: 2, " +
        'bind: (p: { nq: number }) => ({ obsDim: p.nq, initialize() {}, observe() {}, rewardTerms() {}, terminated: () => false }) }';
      writeFileSync(join(tmp, 'default.ts'), `const task = ${body};\nexport default task;\n`);
      writeFileSync(join(tmp, 'named.ts'), `export const task = ${body};\n`);
      writeFileSync(join(tmp, 'factory.mjs'), `export default async () => (${body.replace(/: \{ nq: number \}/, '')});\n`);
      // CommonJS JavaScript (no package.json here: .js is CommonJS): `exports.task = ...` and `module.exports = { task }`.
      writeFileSync(join(tmp, 'exports_task.js'), `exports.task = ${body.replace(/: \{ nq: number \}/, '')};\n`);
      writeFileSync(join(tmp, 'module_exports.js'), `const task = ${body.replace(/: \{ nq: number \}/, '')};\nmodule.exports = { task };\n`);
      for (const name of ['default.ts', 'named.ts', 'factory.mjs', 'exports_task.js', 'module_exports.js']) {
        const env = await makeEnv({ id: 'custom', model: arm, task: join(tmp, name) });
        try {
          expect([env.spec.goal, env.spec.horizon, env.spec.obsDim, env.spec.rewardTerms[0].weight]).toEqual(['Lift.', 30, 3, 2]);
        } finally {
          env.dispose();
        }
      }
      const broken = join(tmp, 'broken.ts');
      writeFileSync(broken, 'const x: number = ;\nexport default {};\n');
      await expect(makeEnv({ id: 'custom', model: arm, task: broken })).rejects.toThrow(`${broken}: cannot load the task module: ${broken}:1:18: ERROR: Unexpected ";"`);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("errors in a task module's own code name the file and function; non-finite observations and reward terms are refused, naming the value", async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'prefrl-task-'));
    const task = (name: string, bound: string) => {
      const file = join(tmp, `${name}.mjs`);
      writeFileSync(
        file,
        `export default { id: '${name}', goal: 'g', rewardTerms: [{ name: 'height', weight: 1, doc: 'm' }], horizon: 20, frameSkip: 1,\n` +
          `  bind(p) { return { obsDim: p.nq, initialize() {}, observe(p, o) { o.set(p.views.qpos, 0); }, rewardTerms(p, a, o) { o[0] = 1; }, terminated: () => false, ${bound} }; } };\n`,
      );
      return file;
    };
    try {
      const noSite = join(tmp, 'no_site.mjs');
      writeFileSync(noSite, "export default { id: 'x', goal: 'g', rewardTerms: [{ name: 'a', weight: 1, doc: '' }], horizon: 5, frameSkip: 1,\n  bind(p) { p.id('site', 'nose'); } };\n");
      await expect(makeEnv({ id: 'custom', model: arm, task: noSite })).rejects.toThrow(
        new InputError(noSite, 'task.bind() threw model has no site named "nose" (its sites: "tip"), at no_site.mjs:2:15', 'bind'),
      );
      // A type the model has none of (named): said so.
      const noCam = join(tmp, 'no_cam.mjs');
      writeFileSync(noCam, "export default { id: 'x', goal: 'g', rewardTerms: [{ name: 'a', weight: 1, doc: '' }], horizon: 5, frameSkip: 1,\n  bind(p) { p.id('camera', 'eye'); } };\n");
      await expect(makeEnv({ id: 'custom', model: arm, task: noCam })).rejects.toThrow(
        new InputError(noCam, 'task.bind() threw model has no camera named "eye" (it has no named camera), at no_cam.mjs:2:15', 'bind'),
      );
      const cases: [string, string, string][] = [
        ['throws', 'rewardTerms(p, a, o) { o[0] = p.views.nothing[0]; }', "(rewardTerms): task.rewardTerms() threw TypeError: Cannot read properties of undefined (reading '0'), at throws.mjs:2:"],
        ['too_long', 'observe(p, o) { o.set(p.views.qpos, 1); }', '(observe): task.observe() threw RangeError: offset is out of bounds, at too_long.mjs:2:'],
        ['nan_reward', 'rewardTerms(p, a, o) { o[0] = 0 / 0; }', '(rewardTerms): task.rewardTerms() gave height = NaN (or left it unwritten); reward terms must be finite numbers'],
        ['inf_obs', 'observe(p, o) { o.set(p.views.qpos, 0); o[1] = 1 / 0; }', '(observe): task.observe() wrote Infinity at index 1; observations must be finite numbers'],
        // An observation shorter than obsDim: the entries never written are named (they read as 0 before, silently).
        ['short_obs', 'observe(p, o) { o[0] = p.views.qpos[0]; o[3] = 1; }', '(observe): task.observe() left index 1 unwritten (or wrote NaN there); it must write all obsDim = 3 values, finite numbers'],
      ];
      for (const [name, bound, message] of cases) {
        const file = task(name, bound);
        const env = await makeEnv({ id: 'custom', model: arm, task: file });
        let err: unknown = null;
        try {
          env.reset(0);
          env.step([0, 0, 0]);
        } catch (e) {
          err = e;
        } finally {
          env.dispose();
        }
        expect(err).toBeInstanceOf(InputError);
        expect((err as Error).message.startsWith(`${file} ${message}`)).toBe(true);
        if (name === 'too_long') expect((err as Error).message).toMatch(/:2:\d+ \(the observation holds obsDim = 3 values\)$/);
      }
      // A task that declares two terms and writes one: the other is named (it read as 0 before, silently).
      const shortTerms = join(tmp, 'short_terms.mjs');
      writeFileSync(
        shortTerms,
        "export default { id: 'x', goal: 'g', rewardTerms: [{ name: 'a', weight: 1, doc: '' }, { name: 'b', weight: 2, doc: '' }], horizon: 5, frameSkip: 1,\n" +
          '  bind: (p) => ({ obsDim: 1, initialize() {}, observe(p, o) { o[0] = 1; }, rewardTerms(p, a, o) { o[0] = 1; }, terminated: () => false }) };\n',
      );
      const short = await makeEnv({ id: 'custom', model: arm, task: shortTerms });
      try {
        short.reset(0);
        expect(() => short.step([0, 0, 0])).toThrow(`${shortTerms} (rewardTerms): task.rewardTerms() gave b = NaN (or left it unwritten); reward terms must be finite numbers`);
      } finally {
        short.dispose();
      }
      const noObserve = join(tmp, 'no_observe.mjs');
      writeFileSync(noObserve, "export default { id: 'x', goal: 'g', rewardTerms: [{ name: 'a', weight: 1, doc: '' }], horizon: 5, frameSkip: 1, bind: () => ({ obsDim: 2, initialize() {}, terminated: () => false }) };\n");
      await expect(makeEnv({ id: 'custom', model: arm, task: noObserve })).rejects.toThrow(`${noObserve} (observe): task.bind() returned no observe function`);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('rollout and collect with a task module that throws: exit 1 and one line naming the file and function, no stack, no empty run folder', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'prefrl-task-'));
    try {
      const file = join(tmp, 'bad_init.mjs');
      writeFileSync(file, "export default { id: 'x', goal: 'g', rewardTerms: [{ name: 'a', weight: 1, doc: '' }], horizon: 5, frameSkip: 1,\n  bind: (p) => ({ obsDim: p.nq, initialize() { throw new Error('no home pose'); }, observe() {}, rewardTerms() {}, terminated: () => false }) };\n");
      const { ctx, err } = captureCli();
      expect(await main(['rollout', '--env', arm, '--task', file, '--episodes', '1', '--runs-dir', join(tmp, 'runs'), '--quiet'], ctx)).toBe(1);
      expect(err.join('')).toBe(`prefrl rollout: ${file} (initialize): task.initialize() threw no home pose, at bad_init.mjs:2:54\n`);
      // Nothing was produced: no empty "unfinished" run folder is left behind (collect likewise).
      expect(readdirSync(join(tmp, 'runs'))).toEqual([]);
      const c = captureCli();
      expect(await main(['collect', '--env', arm, '--task', file, '--policy', 'random', '--steps', '20', '--runs-dir', join(tmp, 'runs'), '--quiet'], c.ctx)).toBe(1);
      expect(c.err.join('')).toContain('task.initialize() threw no home pose');
      expect(readdirSync(join(tmp, 'runs'))).toEqual([]);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('files outside the model\'s folder that its XML names load too: a ../ include, an absolute include, a meshdir="../meshes" mesh', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'prefrl-byo-'));
    try {
      mkdirSync(join(tmp, 'common'));
      mkdirSync(join(tmp, 'meshes'));
      mkdirSync(join(tmp, 'robots'));
      writeFileSync(join(tmp, 'common', 'materials.xml'), '<mujoco><asset><material name="self" rgba=".7 .5 .3 1"/></asset></mujoco>');
      writeFileSync(join(tmp, 'common', 'floor.xml'), '<mujoco><worldbody><geom name="floor" type="plane" size="1 1 .1"/></worldbody></mujoco>');
      cpSync(join(dir, 'meshes', 'hand.obj'), join(tmp, 'meshes', 'hand.obj'));
      const robot = join(tmp, 'robots', 'bot.xml');
      writeFileSync(
        robot,
        `<mujoco model="bot"><compiler meshdir="../meshes"/><include file="../common/materials.xml"/><include file="${join(tmp, 'common', 'floor.xml')}"/>` +
          '<asset><mesh name="hand" file="hand.obj"/></asset>' +
          '<worldbody><body><joint type="hinge"/><geom type="mesh" mesh="hand" material="self"/></body></worldbody></mujoco>',
      );
      const env = await makeEnv({ id: 'custom', model: robot });
      try {
        expect([env.spec.nq, env.spec.actDim]).toEqual([1, 0]);
      } finally {
        env.dispose();
      }
      expect(modelFiles(robot).map((f) => f.name)).toEqual(['bot.xml', '../common/materials.xml', join(tmp, 'common', 'floor.xml'), '../meshes/hand.obj']);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('check-env on a model whose contacts use the solver warm start: the round trip fails and says why; with the warm start disabled it passes', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'prefrl-byo-'));
    try {
      const xml = (flag: string) =>
        `<mujoco>${flag}<worldbody><geom type="plane" size="5 5 .1"/><body pos="0 0 .5"><freejoint/><geom type="box" size=".1 .1 .1"/></body></worldbody></mujoco>`;
      writeFileSync(join(tmp, 'box.xml'), xml(''));
      writeFileSync(join(tmp, 'box_nows.xml'), xml('<option><flag warmstart="disable"/></option>'));
      const on = await checkEnv({ id: 'custom', model: join(tmp, 'box.xml') }, { steps: 120, resets: 5 });
      expect(on.checks.stateRoundTrip).toEqual({
        ok: false,
        detail:
          'replay diverged 1 steps after the restored state (it replays exactly when the solver warm start is restored too: recorded states do not carry it, ' +
          'so add <flag warmstart="disable"/> to the model\'s <option>, as the built-in models do)',
      });
      const off = await checkEnv({ id: 'custom', model: join(tmp, 'box_nows.xml') }, { steps: 120, resets: 5 });
      expect(off.checks.stateRoundTrip.ok).toBe(true);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('train, iql and offline on a model without actuators: a usage error naming the flag, no run folder (not a stack trace from the networks)', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'prefrl-byo-'));
    try {
      const model = join(tmp, 'pendulum.xml');
      writeFileSync(model, '<mujoco><worldbody><body pos="0 0 1"><joint type="hinge" axis="0 1 0"/><geom type="capsule" fromto="0 0 0 0 0 -.5" size=".03"/></body></worldbody></mujoco>');
      const runs = join(tmp, 'runs');
      await expectUsageError(['train', '--env', model, '--reward', 'true', '--steps', '1024'], runs, /^prefrl train: --env: custom:pendulum\.xml has no actuators, so PPO has no action to learn; add an <actuator> to the model\n$/);
      const dataset = join(tmp, 'data.h5');
      const { ctx } = captureCli();
      expect(await main(['collect', '--env', model, '--policy', 'random', '--steps', '100', '--out', dataset, '--runs-dir', join(tmp, 'collect'), '--quiet'], ctx)).toBe(0);
      await expectUsageError(['iql', '--dataset', dataset, '--updates', '10'], runs, /^prefrl iql: --dataset: custom:pendulum\.xml has no actuators, so IQL has no action to learn; add an <actuator> to the model\n$/);
      await expectUsageError(['offline', '--dataset', dataset, '--teacher', 'oracle', '--labels', '10', '--segment-length', '10'], runs, /^prefrl offline: --dataset: custom:pendulum\.xml has no actuators, so IQL and BC have no action to learn; add an <actuator> to the model\n$/);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('a model folder with a dangling link, other files and skipped folders: only asset files are mounted, the model loads', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'prefrl-byo-'));
    try {
      cpSync(dir, tmp, { recursive: true });
      symlinkSync(join(tmp, 'no-such-file.obj'), join(tmp, 'dangling.obj'));
      symlinkSync(join(tmp, 'no-such-dir'), join(tmp, 'dangling-dir'));
      writeFileSync(join(tmp, 'notes.txt'), 'not an asset');
      mkdirSync(join(tmp, 'node_modules'));
      writeFileSync(join(tmp, 'node_modules', 'skipped.xml'), '<mujoco/>');
      const files = listAssets(tmp);
      expect(files).toContain('arm.xml');
      expect(files).toContain('unstable.xml');
      expect(files.some((f) => f.startsWith('meshes/'))).toBe(true);
      expect(files.some((f) => f.startsWith('parts/'))).toBe(true);
      for (const f of files) expect(f).toMatch(/\.(xml|mjcf|obj|stl|msh|png|skn|bin|ply)$/);
      expect(files).not.toContain('dangling.obj');
      expect(files).not.toContain('notes.txt');
      expect(files.some((f) => f.startsWith('node_modules/'))).toBe(false);
      const env = await makeEnv({ id: 'custom', model: join(tmp, 'arm.xml') });
      try {
        expect(env.spec.nq).toBe(3);
      } finally {
        env.dispose();
      }
      expect(() => listAssets(join(tmp, 'missing-folder'))).toThrow(/missing-folder: cannot read the model's folder/);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('makeEnv takes a model path as the CLI does; configs are saved with absolute model and task paths (a PPO checkpoint here)', async () => {
    const rel = relative(process.cwd(), arm);
    const env = await makeEnv(rel);
    expect(env.spec.id).toBe('custom:arm.xml');
    env.dispose();
    await expect(makeEnv('no/such/robot.xml')).rejects.toThrow('makeEnv: model file "no/such/robot.xml" not found');
    await expect(makeEnv('reacher-v9')).rejects.toThrow(/unknown env "reacher-v9"/);
    const task = relative(process.cwd(), join(dir, 'reach_task.mjs'));
    expect(absoluteEnvConfig({ id: 'custom', model: rel, task, seed: 3 })).toEqual({ id: 'custom', model: arm, task: join(dir, 'reach_task.mjs'), seed: 3 });
    expect(absoluteEnvConfig({ id: 'reacher' })).toEqual({ id: 'reacher' });
    const tmp = mkdtempSync(join(tmpdir(), 'prefrl-abs-'));
    const trainer = await PpoTrainer.create({ env: { id: 'custom', model: rel, task }, config: { numEnvs: 1, numSteps: 32, workers: 0, seed: 0 } });
    try {
      trainer.save(tmp, { id: 'custom', model: rel, task });
      const ck = JSON.parse(readFileSync(join(tmp, 'checkpoint.json'), 'utf8')) as { env: unknown };
      expect(ck.env).toEqual({ id: 'custom', model: arm, task: join(dir, 'reach_task.mjs') });
    } finally {
      await trainer.close();
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('models with activation dynamics', () => {
  // A slider driven by a first-order filter actuator and an integrator actuator: act (na = 2)
  // is state that the observation (qpos, qvel) does not show, and it drives the next steps.
  const xml =
    '<mujoco><option timestep="0.005"/><worldbody><body><joint name="x" type="slide" axis="1 0 0" damping="0.5"/>' +
    '<geom type="sphere" size="0.1" mass="1"/></body></worldbody><actuator>' +
    '<general joint="x" dyntype="filter" dynprm="0.3" gainprm="4" ctrlrange="-1 1"/>' +
    '<general joint="x" dyntype="integrator" gainprm="2" ctrlrange="-1 1" actlimited="true" actrange="-1 1"/></actuator></mujoco>';

  it('getState/setState carry act mid-episode: a fresh env replays bit for bit, and the same state without act does not', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'prefrl-act-'));
    const model = join(tmp, 'filter.xml');
    writeFileSync(model, xml);
    const [a, b] = [await makeEnv({ id: 'custom', model }), await makeEnv({ id: 'custom', model })];
    try {
      expect([a.spec.na, a.spec.obsDim]).toEqual([2, 4]);
      a.reset(3);
      for (let t = 0; t < 10; t++) a.step([1, 0.5]);
      const saved = a.getState();
      // 10 steps of frame skip 8 at dt 0.005 = 0.4 s: the filter (tau 0.3 s) is part way to its control 1;
      // the integrator has summed its control 0.5 over 0.4 s.
      expect(saved.act[0]).toBeCloseTo(1 - Math.exp(-0.4 / 0.3), 2);
      expect(saved.act[1]).toBeCloseTo(0.2, 12);
      const actions = [[-1, -1], [0.2, 1], [1, -0.3], [0, 0], [-0.5, 0.5]];
      const expected = actions.map((x) => a.step(x));
      b.reset(99);
      b.setState(saved);
      expect(Array.from(b.getState().act)).toEqual(Array.from(saved.act));
      for (let i = 0; i < actions.length; i++) {
        const r = b.step(actions[i]);
        expect(Array.from(r.obs)).toEqual(Array.from(expected[i].obs));
        expect(r.reward).toBe(expected[i].reward);
      }
      b.setState({ ...saved, act: new Float64Array(2) });
      expect(Array.from(b.step(actions[0]).obs)).not.toEqual(Array.from(expected[0].obs));
      const report = await checkEnv({ id: 'custom', model }, { steps: 60, resets: 20 });
      expect(report.checks.stateRoundTrip).toMatchObject({ ok: true });
    } finally {
      a.dispose();
      b.dispose();
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('default task on free and ball joints', () => {
  it('the perturbed initial state keeps every quaternion a unit quaternion (free joint of a 3D body, ball joint)', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'prefrl-quat-'));
    const model = join(tmp, 'float.xml');
    writeFileSync(
      model,
      '<mujoco><worldbody><geom type="plane" size="5 5 0.1"/><body pos="0 0 1"><freejoint/><geom type="box" size="0.1 0.1 0.1"/>' +
        '<body pos="0.2 0 0"><joint type="ball"/><geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.03"/></body></body></worldbody></mujoco>',
    );
    const env = await makeEnv({ id: 'custom', model });
    try {
      expect([env.spec.nq, env.spec.nv, env.spec.actDim]).toEqual([11, 9, 0]);
      for (const seed of [0, 1, 2]) {
        env.reset(seed);
        const q = env.getState().qpos;
        // qpos: free joint position (3) and quaternion (4), then the ball joint's quaternion (4).
        for (const at of [3, 7]) expect(Math.hypot(q[at], q[at + 1], q[at + 2], q[at + 3])).toBeCloseTo(1, 14);
        // Still perturbed: the free joint's position moved off (0, 0, 1) by at most 0.01.
        expect(Math.abs(q[2] - 1)).toBeLessThanOrEqual(0.01);
        expect(q[0]).not.toBe(0);
      }
    } finally {
      env.dispose();
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
