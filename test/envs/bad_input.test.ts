import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError, UsageError } from '../../core/errors.js';
import { Logger } from '../../core/log.js';
import { checkEnv } from '../../envs/check.js';
import { MujocoEnv } from '../../envs/mujoco/env.js';
import { heapBytes, loadMujoco, mujocoPrinter } from '../../envs/mujoco/runtime.js';
import { main } from '../../scripts/cli.js';
import { captureCli, lastJson } from '../helpers/cli.js';
import { envConfigArgs, envConfigFromArgs, makeEnv } from '../../envs/registry.js';
import { ActionError } from '../../envs/types.js';

const fixtures = join(import.meta.dirname, '..', 'fixtures', 'byo');

describe('bad input', () => {
  it('a malformed MJCF file fails with MuJoCo\'s own message and the file name', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mjcf-'));
    const bad = join(dir, 'broken.xml');
    writeFileSync(bad, '<mujoco><worldbody><geom type="bogus"/></worldbody></mujoco>');
    const err = await makeEnv({ id: 'custom', model: bad }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toContain(bad);
    expect((err as Error).message).toMatch(/invalid keyword: 'bogus'/);
    const unclosed = join(dir, 'unclosed.xml');
    writeFileSync(unclosed, '<mujoco><worldbody>');
    await expect(makeEnv({ id: 'custom', model: unclosed })).rejects.toThrow(/unclosed\.xml: MuJoCo could not load the model/);
  });

  it('a missing model file or unknown env id is a usage error naming the flag', () => {
    expect(() => envConfigFromArgs('/no/such/robot.xml')).toThrow(UsageError);
    expect(() => envConfigFromArgs('/no/such/robot.xml')).toThrow(/--env: model file "\/no\/such\/robot\.xml" not found/);
    expect(() => envConfigFromArgs('cheetah-walk')).toThrow(/--env: unknown env "cheetah-walk" \(known: .*cheetah-run/);
    expect(() => envConfigFromArgs('cheetah-run', { task: 'x.js' })).toThrow('--task: only for bring-your-own models (--env path/to/model.xml)');
    // check-env takes the env as its argument, not as --env: the hint says so.
    expect(() => envConfigFromArgs('cheetah-run', { task: 'x.js', flag: '<env>' })).toThrow('--task: only for bring-your-own models (<env> a path to an MJCF .xml file)');
  });

  it('makeEnv refuses a model or task given with a built-in id (it was ignored) and a custom config without a model, naming the config field', async () => {
    await expect(makeEnv({ id: 'toy-reach', task: 'my_task.ts' })).rejects.toThrow(
      new UsageError('env config { id: "toy-reach" }: task is only for a bring-your-own model ({ id: "custom", model: "robot.xml", task: ... })'),
    );
    await expect(makeEnv({ id: 'reacher', model: 'robot.xml' })).rejects.toThrow(/^env config \{ id: "reacher" \}: model is only for a bring-your-own model/);
    await expect(makeEnv({ id: 'custom' })).rejects.toThrow(new UsageError('env config { id: "custom" }: needs model, the path of an MJCF file'));
    const env = await makeEnv({ id: 'toy-reach', seed: 3 });
    expect(env.spec.id).toBe('toy-reach');
    env.dispose();
  });

  it('envConfigArgs gives back the --env and --task arguments of a config', () => {
    expect(envConfigArgs(envConfigFromArgs('pusher'))).toBe('--env pusher');
    const arm = join(fixtures, 'arm.xml');
    const task = join(fixtures, 'reach_task.ts');
    expect(envConfigArgs(envConfigFromArgs(arm))).toBe(`--env ${arm}`);
    expect(envConfigArgs(envConfigFromArgs(arm, { task }))).toBe(`--env ${arm} --task ${task}`);
    expect(envConfigFromArgs(arm, { task })).toEqual({ id: 'custom', model: arm, task });
    // paths with spaces or quotes come back quoted for a POSIX shell
    expect(envConfigArgs({ id: 'custom', model: '/robots/my arm.xml', task: "/robots/bob's task.mjs" })).toBe(`--env '/robots/my arm.xml' --task '/robots/bob'\\''s task.mjs'`);
  });

  it('actions of the wrong length or with NaN/Infinity throw an error naming the env and step', async () => {
    const env = await makeEnv('cheetah-run');
    try {
      env.reset(0);
      env.step(new Float64Array(6));
      env.step(new Float64Array(6));
      expect(() => env.step(new Float64Array(5))).toThrow(ActionError);
      expect(() => env.step(new Float64Array(5))).toThrow('cheetah-run step 2: action has length 5, expected 6');
      expect(() => env.step([0, 0, Number.NaN, 0, 0, 0])).toThrow('cheetah-run step 2: action[2] is NaN; actions must be finite numbers');
      expect(() => env.step([0, 0, 0, 0, 0, Number.NEGATIVE_INFINITY])).toThrow(/action\[5\] is -Infinity/);
      // the env is still usable after a refused action
      expect(env.step(new Float64Array(6)).obs.length).toBe(17);
    } finally {
      env.dispose();
    }
  });

  it('transitionTerms refuses NaN/Infinity actions as step() does, naming the env and step (it gave a NaN term, or clipped Infinity)', async () => {
    for (const id of ['reacher', 'toy-reach']) {
      const env = await makeEnv(id);
      try {
        env.reset(0);
        const before = env.getState();
        env.step([0.1, 0.2]);
        const after = env.getState();
        const terms = env.transitionTerms(before, [0.1, 0.2], after);
        expect(terms.every(Number.isFinite)).toBe(true);
        expect(() => env.transitionTerms(before, [Number.NaN, 0], after)).toThrow(new ActionError(id, 1, 'action[0] is NaN; actions must be finite numbers'));
        expect(() => env.transitionTerms(before, [0, Number.POSITIVE_INFINITY], after)).toThrow(new ActionError(id, 1, 'action[1] is Infinity; actions must be finite numbers'));
      } finally {
        env.dispose();
      }
    }
  });

  it('setState refuses a state with NaN or infinite values, naming the env and the entry, and leaves the env as it was', async () => {
    for (const id of ['reacher', 'toy-reach']) {
      const env = await makeEnv(id);
      try {
        env.reset(0);
        env.step([0.1, 0.2]);
        const good = env.getState();
        const bad = (key: 'qpos' | 'qvel', i: number, x: number) => ({ ...good, [key]: Float64Array.from(good[key], (v, j) => (j === i ? x : v)) });
        expect(() => env.setState(bad('qpos', 2, Number.NaN))).toThrow(`${id}: state qpos[2] is NaN; a state must hold finite numbers`);
        expect(() => env.setState(bad('qvel', 1, Number.NEGATIVE_INFINITY))).toThrow(`${id}: state qvel[1] is -Infinity; a state must hold finite numbers`);
        expect(() => env.setState({ ...good, time: Number.NaN })).toThrow(`${id}: state time is NaN; a state must hold finite numbers`);
        // Nothing was written: the env steps on from where it was.
        const s = env.getState();
        expect(Array.from(s.qpos)).toEqual(Array.from(good.qpos));
        expect(env.step([0, 0]).obs.every(Number.isFinite)).toBe(true);
      } finally {
        env.dispose();
      }
    }
  });

  it('an unstable simulation truncates the episode with unstable: true and a logged warning, without crashing', async () => {
    const lines: string[] = [];
    const logger = new Logger({ write: (t) => void lines.push(t) });
    const env = await makeEnv({ id: 'custom', model: join(fixtures, 'unstable.xml') }, { logger });
    try {
      env.reset(0);
      let r = env.step([1]);
      let steps = 1;
      while (!r.truncated && !r.terminated && steps < 50) {
        r = env.step([1]);
        steps++;
      }
      expect(r.truncated).toBe(true);
      expect(r.info.unstable).toBe(true);
      expect(r.reward).toBe(0);
      expect(Array.from(r.obs).every(Number.isFinite)).toBe(true);
      expect(logger.warnings.length).toBe(1);
      expect(lines.join('')).toMatch(/custom:unstable\.xml: simulation unstable at step \d+ .*bad qpos, qvel or qacc.*episode truncated/);
      // a new episode starts normally
      expect(env.reset(1).length).toBe(env.spec.obsDim);
    } finally {
      env.dispose();
    }
  });

  it('a simulation unstable at the first step of an episode (time 0, where the clock cannot tell) is truncated with unstable: true too', async () => {
    const logger = new Logger({ write: () => {} });
    const env = await makeEnv({ id: 'custom', model: join(fixtures, 'unstable_first_step.xml') }, { logger });
    try {
      for (const seed of [0, 1]) {
        const obs0 = env.reset(seed);
        const s0 = env.getState();
        const r = env.step([0.5]);
        // MuJoCo reset the data to qpos0 inside the step; the env says so and restores the initial state.
        expect([r.truncated, r.terminated, r.info.unstable, r.reward]).toEqual([true, false, true, 0]);
        expect(Array.from(r.obs)).toEqual(Array.from(obs0));
        expect(Array.from(env.getState().qpos)).toEqual(Array.from(s0.qpos));
        expect(s0.qpos[0]).not.toBe(0);
      }
      expect(logger.warnings).toHaveLength(2);
      expect(logger.warnings[0]).toMatch(/^custom:unstable_first_step\.xml: simulation unstable at step 1 \(t=0\.000 s\)/);
    } finally {
      env.dispose();
    }
  });

  it("check-env's memory check steps once after every reset, so a leak in an episode's first step shows", async () => {
    const report = await checkEnv({ id: 'custom', model: join(fixtures, 'unstable_first_step.xml') }, { steps: 10, resets: 2000 });
    expect(report.checks.memory).toMatchObject({ ok: true });
    expect(report.checks.memory.detail).toMatch(/before and after 2000 resets \(each with a step\)$/);
  });

  it('check-env on an unstable model: one summary line for the repeated warning, the transition check skips the unstable step, stdout holds only the JSON line', async () => {
    const { ctx, out, err } = captureCli();
    const code = await main(['check-env', join(fixtures, 'unstable.xml'), '--json', '--steps', '20', '--resets', '5'], ctx);
    const report = lastJson<{ ok: boolean; checks: Record<string, { ok: boolean; skipped?: boolean; detail: string }>; warnings: string[] }>(out);
    expect(out.join('').trim().split('\n')).toHaveLength(1);
    expect(report.checks.transitionTerms.ok).toBe(true);
    expect(report.checks.transitionTerms.detail).toMatch(/went unstable at step \d+/);
    expect(report.warnings).toHaveLength(1);
    const n = Number(/^(\d+) times: custom:unstable\.xml: simulation unstable/.exec(report.warnings[0])?.[1]);
    expect(n).toBeGreaterThan(10);
    expect(report.ok).toBe(true);
    expect(code).toBe(0);
    // prefrl's own warning appears once on stderr, not once per episode
    expect(err.join('').match(/simulation unstable/g)).toHaveLength(1);
  });

  it("MuJoCo's messages: tagged, and one that repeats (numbers aside) is printed three times, then dropped with a note", () => {
    const lines: string[] = [];
    const print = mujocoPrinter((l) => void lines.push(l));
    for (let i = 0; i < 10; i++) print(`WARNING: Nan, Inf or huge value in QACC at DOF 0. Time = ${i * 0.5}.`);
    print('WARNING: something else');
    print('');
    expect(lines).toEqual([
      '[mujoco] WARNING: Nan, Inf or huge value in QACC at DOF 0. Time = 0.\n',
      '[mujoco] WARNING: Nan, Inf or huge value in QACC at DOF 0. Time = 0.5.\n',
      '[mujoco] WARNING: Nan, Inf or huge value in QACC at DOF 0. Time = 1.\n',
      '[mujoco] (this message came 4 times; further copies are not printed)\n',
      '[mujoco] WARNING: something else\n',
    ]);
  });

  it('creates and disposes hundreds of envs with the WASM heap staying flat', async () => {
    const mj = await loadMujoco();
    for (let i = 0; i < 10; i++) (await makeEnv('cheetah-run')).dispose();
    const before = heapBytes(mj);
    for (let i = 0; i < 300; i++) {
      const env = await makeEnv(i % 2 === 0 ? 'cheetah-run' : { id: 'custom', model: join(fixtures, 'arm.xml') });
      env.reset(i);
      env.step(new Float64Array(env.spec.actDim));
      env.dispose();
    }
    expect(heapBytes(mj)).toBe(before);
  });

  it('using an env after dispose() is an error, and dispose() twice is harmless', async () => {
    const env = (await makeEnv('cheetah-run')) as MujocoEnv;
    env.dispose();
    env.dispose();
    expect(() => env.reset(0)).toThrow('cheetah-run: env used after dispose()');
  });
});
