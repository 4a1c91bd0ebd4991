/**
 * walker-walk: a planar two-legged robot must walk forward (+x) while staying upright.
 *
 * Model: envs/assets/walker.xml (root slide x, slide z, hinge pitch; per leg hinges hip, knee,
 * ankle; six motors, gears 110, 90, 45 N m; torso centre at 1.2 m when standing).
 * Observation (17): qpos without root x (8: root z offset from the standing height, root pitch,
 *   right hip, knee, ankle, left hip, knee, ankle angles), qvel (9).
 * Action (6): right hip, knee, ankle, left hip, knee, ankle torque commands in [-1, 1].
 * Reward terms:
 *   forward_velocity  x velocity of the torso, m/s, capped at 2 m/s                 weight  1.0
 *   healthy           1 while the torso is in the healthy range below, else 0       weight  1.0
 *   upright           cos(torso pitch): 1 upright, 0 lying flat                     weight  0.5
 *   control_effort    sum of squared motor commands                                weight -0.05
 * Termination: the walker has fallen, i.e. the torso centre is below 0.75 m (or above 2.5 m)
 *   or its pitch leaves (-1, 1) rad. Otherwise episodes last 1000 steps (20 s at dt 0.02 s).
 * Initial state: standing pose, qpos + U(-0.01, 0.01), qvel + N(0, 0.01^2).
 * Success: forward velocity scaled to [0, 1] at 1.5 m/s (a brisk walk), and 0 once fallen.
 */
import { defineTask } from '../mujoco/task.js';
import { bindPlanarWalker, type PlanarHealthyRange, squaredNorm } from './common.js';

/** Torso ranges outside which the walker counts as fallen (episode terminates). */
export const WALKER_HEALTHY: PlanarHealthyRange = { minHeight: 0.75, maxHeight: 2.5, maxPitch: 1.0 };

/** Forward velocity above which walking earns no more reward, m/s (this task asks for a walk, not a run). */
export const WALKER_VELOCITY_CAP = 2;

export const walkerWalk = defineTask({
  id: 'walker-walk',
  goal: 'Make the two-legged robot walk forward (to the right) steadily while keeping its torso upright.',
  rewardTerms: [
    { name: 'forward_velocity', weight: 1.0, doc: 'forward (+x) velocity of the torso, m/s, capped at 2 m/s (a walk, not a run)' },
    { name: 'healthy', weight: 1.0, doc: '1 while the torso is high enough (> 0.75 m) and not tipped over (|pitch| < 1 rad), else 0' },
    { name: 'upright', weight: 0.5, doc: 'cosine of the torso pitch: 1 upright, 0 horizontal' },
    { name: 'control_effort', weight: -0.05, doc: 'sum of squared motor commands (each in [-1, 1])' },
  ],
  horizon: 1000,
  frameSkip: 4,
  bind(physics) {
    const { xDof, pitchQ, healthy, task } = bindPlanarWalker(physics, WALKER_HEALTHY, 1.5);
    return {
      ...task,
      rewardTerms(p, action, out) {
        out[0] = Math.min(WALKER_VELOCITY_CAP, p.views.qvel[xDof]);
        out[1] = healthy(p) ? 1 : 0;
        out[2] = Math.cos(p.views.qpos[pitchQ]);
        out[3] = squaredNorm(action);
      },
    };
  },
});
