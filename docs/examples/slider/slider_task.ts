/**
 * The task of docs/examples/custom_robot.ts: slide the cart's tip onto the goal marker.
 * A task module default-exports a MujocoTask; `defineTask` only adds type checking.
 */
import { defineTask, type Physics } from 'prefrl';

export default defineTask({
  id: 'slider-to-goal',
  goal: 'Slide the cart so that its tip sits on the goal marker.',
  rewardTerms: [
    { name: 'distance', weight: -1, doc: 'tip-to-goal distance along x, m' },
    { name: 'effort', weight: -0.01, doc: 'squared control' },
  ],
  horizon: 100,
  frameSkip: 4,
  bind(physics) {
    // Ids are looked up once, by name; the views are live arrays over MuJoCo's data.
    const tip = physics.id('site', 'tip');
    const goal = physics.id('site', 'goal');
    const gap = (p: Physics): number => p.views.siteXpos[3 * goal] - p.views.siteXpos[3 * tip];
    return {
      obsDim: 3,
      initialize(p, rng) {
        p.views.qpos[0] = rng.range(-1, 1);
      },
      observe(p, out) {
        out[0] = p.views.qpos[0];
        out[1] = p.views.qvel[0];
        out[2] = gap(p);
      },
      rewardTerms(p, action, out) {
        out[0] = Math.abs(gap(p));
        out[1] = action[0] * action[0];
      },
      terminated: () => false,
      success: (p) => (Math.abs(gap(p)) < 0.05 ? 1 : 0),
    };
  },
});
