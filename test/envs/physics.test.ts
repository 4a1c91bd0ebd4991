/**
 * Physics stepping helpers: Physics.syncedSteps(n) (the env's fast path, n + 1 calls into
 * WASM) must be the same computation as n x syncedStep() (2n calls), bit for bit, and leave
 * positions in sync with the new state.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../core/rng.js';
import type { MujocoEnv } from '../../envs/mujoco/env.js';
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
