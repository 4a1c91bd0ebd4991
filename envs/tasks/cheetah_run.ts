/**
 * cheetah-run: a planar four-legged runner must run forward (+x) as fast as it can.
 *
 * Model: envs/assets/cheetah.xml (root slide x, slide z, hinge pitch; 6 leg hinges; 6 motors).
 * Observation (17): qpos without root x (8: root z, root pitch, 6 joint angles), qvel (9).
 * Action (6): motor commands in [-1, 1] (back hip, knee, ankle; front hip, knee, ankle).
 * Reward terms:
 *   forward_velocity  x velocity of the torso in m/s            weight  1.0
 *   control_effort    sum of squared motor commands              weight -0.1
 * No termination; episodes last 1000 steps (50 s at dt 0.05 s).
 * Initial state: qpos + U(-0.1, 0.1), qvel + N(0, 0.1^2).
 * Success (for VLM-style judges): forward velocity scaled to [0, 1] at 8 m/s.
 */
import { defineTask } from '../mujoco/task.js';
import { perturbInitialState, squaredNorm, writeQposQvel } from './common.js';

export const cheetahRun = defineTask({
  id: 'cheetah-run',
  goal: 'Make the cheetah run forward (to the right) as fast as possible without wasting effort.',
  rewardTerms: [
    { name: 'forward_velocity', weight: 1.0, doc: 'forward (+x) velocity of the torso, m/s' },
    { name: 'control_effort', weight: -0.1, doc: 'sum of squared motor commands (each in [-1, 1])' },
  ],
  horizon: 1000,
  frameSkip: 5,
  bind(physics) {
    const xDof = physics.jointDofAdr(physics.id('joint', 'root_x'));
    return {
      obsDim: physics.nq - 1 + physics.nv,
      initialize(p, rng) {
        perturbInitialState(p, rng, 0.1, 0.1);
      },
      observe(p, out) {
        writeQposQvel(p, out, 1);
      },
      rewardTerms(p, action, out) {
        out[0] = p.views.qvel[xDof];
        out[1] = squaredNorm(action);
      },
      terminated: () => false,
      success(p) {
        return Math.min(1, Math.max(0, p.views.qvel[xDof] / 8));
      },
    };
  },
});
