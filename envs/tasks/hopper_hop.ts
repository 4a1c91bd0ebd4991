/**
 * hopper-hop: a planar one-legged robot must hop forward (+x) as fast as it can without falling.
 *
 * Model: envs/assets/hopper.xml (root slide x, slide z, hinge pitch; hinges hip, knee, ankle;
 * three motors, gears 90, 110, 60 N m; torso centre at 1.2 m when standing).
 * Observation (11): qpos without root x (5: root z offset from the standing height, root pitch,
 *   hip, knee, ankle angles), qvel (6: root x, z velocities, pitch rate, 3 joint rates).
 * Action (3): hip, knee, ankle torque commands in [-1, 1].
 * Reward terms:
 *   forward_velocity  x velocity of the torso, m/s                                 weight  1.0
 *   healthy           1 while the torso is in the healthy range below, else 0       weight  1.0
 *   control_effort    sum of squared motor commands                                weight -0.05
 * Termination: the hopper has fallen, i.e. the torso centre is below 0.7 m (or above 2.5 m) or
 *   its pitch leaves (-0.5, 0.5) rad. Otherwise episodes last 1000 steps (20 s at dt 0.02 s).
 * Initial state: standing pose, qpos + U(-0.01, 0.01), qvel + N(0, 0.01^2).
 * Success: forward velocity scaled to [0, 1] at 3 m/s, and 0 once fallen.
 */
import { defineTask } from '../mujoco/task.js';
import { bindPlanarWalker, type PlanarHealthyRange, squaredNorm } from './common.js';

/** Torso ranges outside which the hopper counts as fallen (episode terminates). */
export const HOPPER_HEALTHY: PlanarHealthyRange = { minHeight: 0.7, maxHeight: 2.5, maxPitch: 0.5 };

export const hopperHop = defineTask({
  id: 'hopper-hop',
  goal: 'Make the one-legged robot hop forward (to the right) as fast as possible without falling over.',
  rewardTerms: [
    { name: 'forward_velocity', weight: 1.0, doc: 'forward (+x) velocity of the torso, m/s' },
    { name: 'healthy', weight: 1.0, doc: '1 while the torso is high enough (> 0.7 m) and nearly upright (|pitch| < 0.5 rad), else 0' },
    { name: 'control_effort', weight: -0.05, doc: 'sum of squared motor commands (each in [-1, 1])' },
  ],
  horizon: 1000,
  frameSkip: 4,
  bind(physics) {
    const { xDof, healthy, task } = bindPlanarWalker(physics, HOPPER_HEALTHY, 3);
    return {
      ...task,
      rewardTerms(p, action, out) {
        out[0] = p.views.qvel[xDof];
        out[1] = healthy(p) ? 1 : 0;
        out[2] = squaredNorm(action);
      },
    };
  },
});
