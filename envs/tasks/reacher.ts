/**
 * reacher: a two-link arm lying flat on a table must put its fingertip on a target placed at
 * random, and keep it there.
 *
 * Model: envs/assets/reacher.xml (hinges "shoulder" (unlimited) and "elbow" (+-2.7 rad) about z;
 * links 0.13 m + 0.11 m; target sphere of radius 0.05 m on slide joints "target_x",
 * "target_y" that no force acts on).
 * Observation (10): cos, sin of the shoulder angle; cos, sin of the elbow angle; target x, y (m);
 *   shoulder and elbow angular velocities (rad/s); fingertip minus target, x and y (m).
 * Action (2): shoulder and elbow torque commands in [-1, 1] (x 0.25 and 0.12 N m).
 * Reward terms:
 *   fingertip_distance  distance from fingertip to target centre in the table plane, m   weight -5.0
 *   on_target           1 when the fingertip centre is inside the target (<= 0.05 m)      weight  1.0
 *   control_effort      sum of squared torque commands                                    weight -0.05
 * No termination; episodes last 200 steps (4 s at dt 0.02 s).
 * Initial state: shoulder ~ U(-pi, pi), elbow ~ U(-2.5, 2.5) rad, joint velocities ~ N(0, 0.1^2);
 *   target at radius U(0.07, 0.22) m from the shoulder, direction U(-pi, pi), at rest (the arm
 *   reaches 0.24 m).
 * Success: 1 with the fingertip inside the target, falling linearly to 0 at 0.1 m beyond it.
 */
import { defineTask } from '../mujoco/task.js';
import { planarDistance, polar, squaredNorm, tolerance, writeCosSin } from './common.js';

/** Radius of the target sphere in reacher.xml, m. */
export const REACHER_TARGET_RADIUS = 0.05;

export const reacher = defineTask({
  id: 'reacher',
  goal: 'Move the tip of the two-link arm onto the green target and hold it there.',
  rewardTerms: [
    { name: 'fingertip_distance', weight: -5.0, doc: 'distance from the fingertip to the target centre, m' },
    { name: 'on_target', weight: 1.0, doc: '1 when the fingertip centre is inside the target sphere (radius 0.05 m), else 0' },
    { name: 'control_effort', weight: -0.05, doc: 'sum of squared torque commands (each in [-1, 1])' },
  ],
  horizon: 200,
  frameSkip: 2,
  bind(physics) {
    const armQ = [physics.jointQposAdr(physics.id('joint', 'shoulder')), physics.jointQposAdr(physics.id('joint', 'elbow'))];
    const armV = [physics.jointDofAdr(physics.id('joint', 'shoulder')), physics.jointDofAdr(physics.id('joint', 'elbow'))];
    const txQ = physics.jointQposAdr(physics.id('joint', 'target_x'));
    const tyQ = physics.jointQposAdr(physics.id('joint', 'target_y'));
    const tip = physics.id('site', 'fingertip');
    const target = physics.id('body', 'target');
    const distance = (p: typeof physics): number => planarDistance(p.views.siteXpos, tip, p.views.xpos, target);
    return {
      obsDim: 10,
      initialize(p, rng) {
        const v = p.views;
        v.qpos[armQ[0]] = rng.range(-Math.PI, Math.PI);
        v.qpos[armQ[1]] = rng.range(-2.5, 2.5);
        v.qvel[armV[0]] = 0.1 * rng.normal();
        v.qvel[armV[1]] = 0.1 * rng.normal();
        [v.qpos[txQ], v.qpos[tyQ]] = polar(rng, 0.07, 0.22, Math.PI);
      },
      observe(p, out) {
        const v = p.views;
        let o = writeCosSin(p, out, armQ, 0);
        out[o++] = v.xpos[3 * target];
        out[o++] = v.xpos[3 * target + 1];
        out[o++] = v.qvel[armV[0]];
        out[o++] = v.qvel[armV[1]];
        out[o++] = v.siteXpos[3 * tip] - v.xpos[3 * target];
        out[o++] = v.siteXpos[3 * tip + 1] - v.xpos[3 * target + 1];
      },
      rewardTerms(p, action, out) {
        const d = distance(p);
        out[0] = d;
        out[1] = d <= REACHER_TARGET_RADIUS ? 1 : 0;
        out[2] = squaredNorm(action);
      },
      terminated: () => false,
      success(p) {
        return tolerance(distance(p), 0, REACHER_TARGET_RADIUS, 0.1);
      },
    };
  },
});
