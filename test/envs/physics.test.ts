/**
 * Physics stepping helpers: Physics.syncedSteps(n) (the env's fast path, n + 1 calls into
 * WASM) must be the same computation as n x syncedStep() (2n calls), bit for bit, and leave
 * positions in sync with the new state.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../core/rng.js';
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
