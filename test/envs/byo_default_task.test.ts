/**
 * The default task on models a roboticist brings: a multi-file model (includes from subfolders,
 * meshdir/texturedir, an STL and an OBJ mesh, a PNG texture), a fixed-base pendulum with three
 * kinds of actuator, a free-floating body (qpos and qvel of different sizes) and a model without
 * actuators. Reward terms are checked against values worked out by hand.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeEnv } from '../../envs/registry.js';
import type { Env, EnvState } from '../../envs/types.js';

const fixtures = join(import.meta.dirname, '..', 'fixtures');
const robot = join(fixtures, 'byo_robot', 'robot.xml');
const pendulum = join(fixtures, 'byo_pendulum', 'pendulum.xml');
const free = join(fixtures, 'byo_free', 'free.xml');

async function withEnv<T>(model: string, f: (env: Env) => T | Promise<T>): Promise<T> {
  const env = await makeEnv({ id: 'custom', model });
  try {
    return await f(env);
  } finally {
    env.dispose();
  }
}

/** A state of `env` at t = 0 with the given qpos (qvel, act zero). */
function stateWith(env: Env, qpos: number[]): EnvState {
  const s = env.spec;
  return { qpos: Float64Array.from(qpos), qvel: new Float64Array(s.nv), act: new Float64Array(s.na), time: 0, t: 0 };
}

describe('the default task of bring-your-own models', () => {
  it('loads a model spread over files (includes from subfolders, meshdir/texturedir, STL, OBJ, PNG); its hash covers the texture', async () => {
    const spec = await withEnv(robot, (env) => env.spec);
    // slide + hinge: qpos 2, qvel 2; observation qpos then qvel
    expect([spec.id, spec.nq, spec.nv, spec.obsDim, spec.actDim]).toEqual(['custom:robot.xml', 2, 2, 4, 2]);
    // slide_m has ctrlrange [-1, 1]; hinge_m has none and gets the [-1, 1] box
    expect([Array.from(spec.actLow), Array.from(spec.actHigh)]).toEqual([[-1, -1], [1, 1]]);
    // timestep 0.005 -> frame skip round(0.04 / 0.005) = 8 -> dt 0.04
    expect(spec.dt).toBeCloseTo(0.04, 12);
    // A changed texture is another model (datasets are checked against the hash).
    const tmp = mkdtempSync(join(tmpdir(), 'byo-robot-'));
    try {
      cpSync(join(fixtures, 'byo_robot'), tmp, { recursive: true });
      const png = join(tmp, 'textures', 'checker.png');
      expect(await withEnv(join(tmp, 'robot.xml'), (env) => env.spec.modelHash)).toBe(spec.modelHash);
      const bytes = readFileSync(png);
      writeFileSync(png, Buffer.concat([bytes, Buffer.from([0])]));
      expect(await withEnv(join(tmp, 'robot.xml'), (env) => env.spec.modelHash)).not.toBe(spec.modelHash);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('a fixed-base pendulum: forward_velocity follows its centre of mass (its frame never moves); control_effort is the squared clipped action', async () => {
    await withEnv(pendulum, (env) => {
      const s = env.spec;
      expect(s.rewardTerms.map((t) => [t.name, t.weight])).toEqual([
        ['forward_velocity', 1],
        ['control_effort', -0.1],
      ]);
      // motor [-2, 2], position actuator without ctrlrange [-1, 1], velocity [-3, 3]
      expect([Array.from(s.actLow), Array.from(s.actHigh)]).toEqual([[-2, -1, -3], [2, 1, 3]]);
      // timestep 0.002 -> frame skip 20 -> dt 0.04
      expect(s.dt).toBeCloseTo(0.04, 12);
      // The bob (1 kg at x = 0.3 m from the hinge) swings from angle 0 to pi/2 about y: its x goes
      // from 0.3 to 0.3 cos(pi/2) = 0, so forward_velocity = (0 - 0.3) / 0.04 = -7.5 m/s.
      const t1 = env.transitionTerms(stateWith(env, [0]), [1, 0.5, -2], { ...stateWith(env, [Math.PI / 2]), t: 1 });
      expect(t1[0]).toBeCloseTo(-7.5, 9);
      // 1^2 + 0.5^2 + (-2)^2 = 5.25
      expect(t1[1]).toBeCloseTo(5.25, 12);
      // Out-of-range actions count as clipped: [5, 5, 5] -> [2, 1, 3] -> 4 + 1 + 9 = 14.
      // From pi/2 to pi: x from 0 to -0.3, again -7.5 m/s.
      const t2 = env.transitionTerms(stateWith(env, [Math.PI / 2]), [5, 5, 5], { ...stateWith(env, [Math.PI]), t: 1 });
      expect([t2[0], t2[1]].map((x) => Number(x.toFixed(9)))).toEqual([-7.5, 14]);
      // In an episode the term is not stuck at 0: the bob starts near x = 0.3 and swings under gravity.
      env.reset(0);
      let moved = 0;
      for (let i = 0; i < 10; i++) moved = Math.max(moved, Math.abs(env.step([0, 0, 0]).rewardTerms[0]));
      expect(moved).toBeGreaterThan(0.1);
    });
  });

  it('a free-floating body (qpos 11, qvel 9): observation qpos then qvel, forward_velocity of the whole body', async () => {
    await withEnv(free, (env) => {
      const s = env.spec;
      expect([s.nq, s.nv, s.obsDim, s.actDim]).toEqual([11, 9, 20, 1]);
      // root at (0, 0, 0.5), unit quaternions; the whole body moved 0.02 m along x in one step of
      // dt = 0.01 x round(0.04 / 0.01) = 0.04 s: 0.02 / 0.04 = 0.5 m/s.
      const q0 = [0, 0, 0.5, 1, 0, 0, 0, 1, 0, 0, 0];
      const q1 = [0.02, 0, 0.5, 1, 0, 0, 0, 1, 0, 0, 0];
      const before = stateWith(env, q0);
      const after = { ...stateWith(env, q1), t: 1 };
      const terms = env.transitionTerms(before, [0.1], after);
      expect(terms[0]).toBeCloseTo(0.5, 9);
      // (actions reach MuJoCo as float32: 0.1 is fround(0.1))
      expect(terms[1]).toBe(Math.fround(0.1) ** 2);
      // The observation is the state as set: qpos (11) then qvel (9).
      const obs = env.setState({ ...after, qvel: Float64Array.from({ length: 9 }, (_, i) => i / 10) });
      expect(Array.from(obs.subarray(0, 11))).toEqual(q1.map(Math.fround));
      expect(Array.from(obs.subarray(11))).toEqual(Array.from({ length: 9 }, (_, i) => Math.fround(i / 10)));
    });
  });

  it('a model with a keyframe starts each episode from its first one (qpos and qvel), perturbed by at most 0.01 in qpos', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'byo-key-'));
    try {
      const model = join(tmp, 'home.xml');
      writeFileSync(
        model,
        '<mujoco><worldbody><body><joint type="slide" axis="1 0 0"/><geom size="0.1"/>' +
          '<body><joint type="hinge" axis="0 1 0"/><geom type="capsule" fromto="0 0 0 0 0 0.3" size="0.02"/></body></body></worldbody>' +
          '<keyframe><key name="home" qpos="0.7 -1.2" qvel="0 0"/><key name="other" qpos="5 5"/></keyframe></mujoco>\n',
      );
      await withEnv(model, (env) => {
        for (const seed of [0, 1, 2]) {
          const obs = env.reset(seed);
          expect(Math.abs(obs[0] - 0.7)).toBeLessThanOrEqual(0.01 + 1e-6);
          expect(Math.abs(obs[1] + 1.2)).toBeLessThanOrEqual(0.01 + 1e-6);
          // qvel: keyframe 0 plus N(0, 0.01^2) noise: far below 0.1
          expect(Math.max(Math.abs(obs[2]), Math.abs(obs[3]))).toBeLessThan(0.1);
        }
      });
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('actuators with dynamics (a filter, an integrator): their activations follow qpos and qvel in the observation', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'byo-act-'));
    try {
      const model = join(tmp, 'act.xml');
      writeFileSync(
        model,
        '<mujoco><worldbody><body><joint name="x" type="slide" axis="1 0 0"/><geom type="box" size="0.1 0.1 0.1"/>' +
          '<body><joint name="h" type="hinge" axis="0 1 0"/><geom type="capsule" fromto="0 0 0 0 0 0.5" size="0.02"/></body></body></worldbody>' +
          '<actuator><general joint="x" dyntype="filter" dynprm="0.1" gainprm="10" ctrlrange="-1 1"/>' +
          '<general joint="h" dyntype="integrator" ctrlrange="-1 1"/><motor joint="h"/></actuator></mujoco>\n',
      );
      await withEnv(model, (env) => {
        expect([env.spec.nq, env.spec.nv, env.spec.na, env.spec.obsDim]).toEqual([2, 2, 2, 6]);
        const obs = env.setState({ qpos: Float64Array.of(0.1, 0.2), qvel: Float64Array.of(0.3, 0.4), act: Float64Array.of(0.25, -0.5), time: 0, t: 0 });
        expect(Array.from(obs)).toEqual([0.1, 0.2, 0.3, 0.4, 0.25, -0.5].map(Math.fround));
      });
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('a model without actuators: no action, no control_effort term, and a goal that does not mention effort', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'byo-passive-'));
    try {
      const model = join(tmp, 'passive.xml');
      writeFileSync(
        model,
        '<mujoco><worldbody><body name="bob" pos="0 0 1"><joint type="hinge" axis="0 1 0"/><geom type="sphere" size="0.05" pos="0.3 0 0"/></body></worldbody></mujoco>\n',
      );
      await withEnv(model, (env) => {
        const s = env.spec;
        expect([s.actDim, s.rewardTerms.map((t) => t.name), s.goal]).toEqual([0, ['forward_velocity'], 'Move the robot forward (in the +x direction) as fast as possible.']);
        // The hinge starts near angle 0 and gravity swings the bob down: x shrinks, the term is negative.
        env.reset(0);
        const r = env.step([]);
        expect(r.rewardTerms[0]).toBeLessThan(0);
        expect(r.reward).toBe(r.rewardTerms[0]);
      });
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
