/**
 * cartpole-swingup: a pole hinged on a cart starts hanging down; push the cart to swing the pole
 * up, then keep it balanced upright with the cart near the middle of the rail.
 *
 * Model: envs/assets/cartpole.xml (slide "slider" limited to +-1.8 m, hinge "hinge" with 0 =
 * upright; one motor on the cart, gear 12 N).
 * Observation (5): cart x (m), cos(pole angle), sin(pole angle), cart x velocity (m/s),
 *   pole angular velocity (rad/s).
 * Action (1): cart force command in [-1, 1] (x 12 N).
 * Reward terms:
 *   upright          (1 + cos(pole angle)) / 2: 1 upright, 0 hanging down, in [0, 1]   weight  1.0
 *   cart_centered    1 while |cart x| <= 0.25 m, falling linearly to 0 at 1.75 m         weight  0.25
 *   pole_spin        |pole angular velocity|, rad/s                                      weight -0.02
 *   control_effort   squared force command                                               weight -0.05
 * No termination; episodes last 500 steps (10 s at dt 0.02 s).
 * Initial state: cart x ~ U(-0.2, 0.2) m, pole angle ~ pi + U(-0.2, 0.2) rad (hanging down),
 *   velocities ~ N(0, 0.05^2).
 * Success: 1 when the pole is within ~18 degrees of upright (cos >= 0.95) and |cart x| <= 0.5 m;
 *   falls linearly to 0 as cos drops to 0.45 and as |x| grows to 1.5 m (product of the two).
 */
import { defineTask } from '../mujoco/task.js';
import { squaredNorm, tolerance } from './common.js';

export const cartpoleSwingup = defineTask({
  id: 'cartpole-swingup',
  goal: 'Swing the pole up and keep it balanced upright above the cart, with the cart near the middle of the rail.',
  rewardTerms: [
    { name: 'upright', weight: 1.0, doc: '(1 + cos(pole angle)) / 2: 1 with the pole straight up, 0 hanging down' },
    { name: 'cart_centered', weight: 0.25, doc: '1 while the cart is within 0.25 m of the rail centre, falling linearly to 0 at 1.75 m' },
    { name: 'pole_spin', weight: -0.02, doc: 'absolute angular velocity of the pole, rad/s' },
    { name: 'control_effort', weight: -0.05, doc: 'squared cart force command (in [-1, 1])' },
  ],
  horizon: 500,
  frameSkip: 2,
  bind(physics) {
    const slider = physics.id('joint', 'slider');
    const hinge = physics.id('joint', 'hinge');
    const xq = physics.jointQposAdr(slider);
    const xv = physics.jointDofAdr(slider);
    const aq = physics.jointQposAdr(hinge);
    const av = physics.jointDofAdr(hinge);
    return {
      obsDim: 5,
      initialize(p, rng) {
        const v = p.views;
        v.qpos[xq] = rng.range(-0.2, 0.2);
        v.qpos[aq] = Math.PI + rng.range(-0.2, 0.2);
        v.qvel[xv] = 0.05 * rng.normal();
        v.qvel[av] = 0.05 * rng.normal();
      },
      observe(p, out) {
        const v = p.views;
        out[0] = v.qpos[xq];
        out[1] = Math.cos(v.qpos[aq]);
        out[2] = Math.sin(v.qpos[aq]);
        out[3] = v.qvel[xv];
        out[4] = v.qvel[av];
      },
      rewardTerms(p, action, out) {
        const v = p.views;
        out[0] = (1 + Math.cos(v.qpos[aq])) / 2;
        out[1] = tolerance(v.qpos[xq], -0.25, 0.25, 1.5);
        out[2] = Math.abs(v.qvel[av]);
        out[3] = squaredNorm(action);
      },
      terminated: () => false,
      success(p) {
        const v = p.views;
        return tolerance(Math.cos(v.qpos[aq]), 0.95, 1, 0.5) * tolerance(v.qpos[xq], -0.5, 0.5, 1.0);
      },
    };
  },
});
