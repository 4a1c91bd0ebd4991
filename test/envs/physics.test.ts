/**
 * Physics stepping helpers: Physics.syncedSteps(n) (the env's fast path, n + 1 calls into
 * WASM) must be the same computation as n x syncedStep() (2n calls), bit for bit, and leave
 * positions in sync with the new state.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Logger } from '../../core/log.js';
import { Rng } from '../../core/rng.js';
import { checkEnv } from '../../envs/check.js';
import { makeCustomEnv } from '../../envs/custom.js';
import type { MujocoEnv } from '../../envs/mujoco/env.js';
import { findTimeCell } from '../../envs/mujoco/physics.js';
import type { MjData } from '../../envs/mujoco/runtime.js';
import { makeEnv } from '../../envs/registry.js';

const IDS = ['reacher', 'cheetah-run', 'pusher'] as const;
const pairs = new Map<string, [MujocoEnv, MujocoEnv]>();

beforeAll(async () => {
  for (const id of IDS) pairs.set(id, [(await makeEnv(id)) as MujocoEnv, (await makeEnv(id)) as MujocoEnv]);
});

afterAll(() => {
  for (const [a, b] of pairs.values()) {
    a.dispose();
    b.dispose();
  }
});

describe('Physics.syncedSteps', () => {
  for (const id of IDS) {
    it(`${id}: syncedSteps(n) equals n x syncedStep() bit for bit (n = 1, 2, 3) and leaves xpos in sync`, () => {
      const [a, b] = pairs.get(id)!;
      const rng = new Rng(11);
      a.reset(5);
      b.reset(5);
      const nu = a.spec.actDim;
      for (let t = 0; t < 60; t++) {
        const n = 1 + (t % 3);
        const ctrl = Float64Array.from({ length: nu }, () => rng.range(-1, 1));
        a.physics.views.ctrl.set(ctrl);
        b.physics.views.ctrl.set(ctrl);
        a.physics.syncedSteps(n);
        for (let k = 0; k < n; k++) b.physics.syncedStep();
        const va = a.physics.views;
        const vb = b.physics.views;
        expect(Array.from(va.qpos)).toEqual(Array.from(vb.qpos));
        expect(Array.from(va.qvel)).toEqual(Array.from(vb.qvel));
        expect(Array.from(va.xpos)).toEqual(Array.from(vb.xpos));
        expect(a.physics.time).toBe(b.physics.time);
      }
      // In sync: recomputing the kinematics of the current qpos changes no body position.
      const before = Array.from(a.physics.views.xpos);
      a.physics.forward();
      expect(Array.from(a.physics.views.xpos)).toEqual(before);
    });
  }

  it('syncedSteps(0) does nothing', () => {
    const [a] = pairs.get('reacher')!;
    a.reset(1);
    const q = Array.from(a.physics.views.qpos);
    const t = a.physics.time;
    a.physics.syncedSteps(0);
    expect(Array.from(a.physics.views.qpos)).toEqual(q);
    expect(a.physics.time).toBe(t);
  });
});

describe('Physics.time', () => {
  it('reads mjData.time through a heap view for the pinned bindings, equal to the property after steps, setState and reset', () => {
    const [env] = pairs.get('reacher')!;
    const p = env.physics;
    expect(p.views.time).not.toBeNull();
    env.reset(3);
    expect(p.time).toBe(p.data.time);
    for (let t = 0; t < 5; t++) env.step([0.3, -0.2]);
    expect(p.data.time).toBeCloseTo(5 * 2 * 0.01, 12); // 5 env steps x frame skip 2 x 0.01 s
    expect(p.time).toBe(p.data.time);
    const s = env.getState();
    p.time = 7.25;
    expect(p.views.time![0]).toBe(7.25);
    env.setState({ ...s, time: 1.5 });
    expect(p.time).toBe(1.5);
    env.reset(4);
    expect(p.time).toBe(0);
  });

  it('falls back to the property when the layout is not the expected one (no energy view, or a cell that does not follow time)', () => {
    expect(findTimeCell({ time: 1 } as unknown as MjData)).toBeNull();
    const buf = new Float64Array(4);
    // energy exposed, but the double before it is not the clock: writes through the property do not show there
    const fake = { time: 0, energy: buf.subarray(2, 4) };
    expect(findTimeCell(fake as unknown as MjData)).toBeNull();
    expect(fake.time).toBe(0); // restored
    // a real cell before energy: found
    const real = {
      get time(): number {
        return buf[1];
      },
      set time(v: number) {
        buf[1] = v;
      },
      energy: buf.subarray(2, 4),
    };
    buf[1] = 9;
    const cell = findTimeCell(real as unknown as MjData);
    expect(cell).not.toBeNull();
    expect(cell![0]).toBe(9); // the saved value is back
  });
});

describe('RK4 models', () => {
  // A hinged arm with a motor, an RK4 integrator and a body position the default task reads
  // (forward velocity from xpos): its reward depends on the kinematics after each step.
  const xml =
    '<mujoco><option timestep="0.005" integrator="RK4"/><worldbody><body name="cart"><joint name="s" type="slide" axis="1 0 0"/>' +
    '<geom type="box" size="0.1 0.1 0.05" mass="1"/><body pos="0 0 0.05"><joint name="h" type="hinge" axis="0 1 0"/>' +
    '<geom type="capsule" fromto="0 0 0 0 0 0.4" size="0.03" mass="0.3"/></body></body></worldbody>' +
    '<actuator><motor joint="s" gear="5" ctrlrange="-1 1"/><motor joint="h" gear="2" ctrlrange="-1 1"/></actuator></mujoco>';

  it('step leaves positions in sync with the new state (as setState does) while qpos/qvel follow plain mj_step; check-env passes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prefrl-rk4-'));
    const model = join(dir, 'rk4.xml');
    writeFileSync(model, xml);
    const logger = new Logger({ write: () => {} });
    const env = await makeCustomEnv(model, undefined, { logger });
    try {
      expect(env.physics.integrator).toBe(1);
      const { mj, model: m } = env.physics;
      const raw = new mj.MjData(m);
      try {
        env.reset(4);
        const s0 = env.getState();
        (raw.qpos as Float64Array).set(s0.qpos);
        (raw.qvel as Float64Array).set(s0.qvel);
        const rng = new Rng(8);
        for (let t = 0; t < 40; t++) {
          const a = [rng.range(-1, 1), rng.range(-1, 1)];
          env.step(a);
          (raw.ctrl as Float64Array).set(a.map((x) => Math.fround(x)));
          for (let k = 0; k < env.task.frameSkip; k++) mj.mj_step(m, raw);
          const v = env.physics.views;
          // The dynamics are those of mj_step, bit for bit.
          expect(Array.from(v.qpos)).toEqual(Array.from(raw.qpos as Float64Array));
          expect(Array.from(v.qvel)).toEqual(Array.from(raw.qvel as Float64Array));
          // Positions belong to the new state: recomputing them from qpos changes nothing.
          const xpos = Array.from(v.xpos);
          env.physics.kinematics();
          expect(Array.from(env.physics.views.xpos)).toEqual(xpos);
        }
      } finally {
        raw.delete();
      }
    } finally {
      env.dispose();
    }
    const report = await checkEnv({ id: 'custom', model }, { steps: 60, resets: 20 });
    expect(report.checks.stateRoundTrip).toMatchObject({ ok: true });
    expect(report.checks.transitionTerms).toMatchObject({ ok: true });
    expect(report.ok).toBe(true);
    // (No warning about lagging positions any more.)
    expect(logger.warnings).toEqual([]);
    rmSync(dir, { recursive: true, force: true });
  });
});
