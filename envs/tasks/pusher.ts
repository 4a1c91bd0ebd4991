/**
 * pusher: a three-link arm moving flat above a table must push a puck onto a goal disc with the
 * finger that hangs down from its hand.
 *
 * Model: envs/assets/pusher.xml (hinges "shoulder" (unlimited), "elbow", "wrist" about z; links
 * 0.22 + 0.18 + 0.07 m above the table and a vertical finger at the end, the only part that
 * touches the puck; puck of radius 0.04 m on slides "puck_x", "puck_y" with dry friction; goal
 * disc of radius 0.05 m on slides "goal_x", "goal_y" that no force acts on).
 * Observation (21): cos, sin of the 3 joint angles (6); 3 joint angular velocities (rad/s);
 *   finger x, y; puck x, y; puck x, y velocity (m/s); goal x, y; puck minus finger x, y;
 *   goal minus puck x, y (positions in m, table frame with the shoulder axis at the origin).
 * Action (3): shoulder, elbow, wrist torque commands in [-1, 1] (x 2, 1, 0.4 N m).
 * Reward terms:
 *   puck_to_goal     distance from puck centre to goal centre, m                     weight -3.0
 *   hand_to_puck     distance from the finger axis to the puck centre, m (0.06 m
 *                    when touching)                                                   weight -1.0
 *   puck_at_goal     1 when the puck centre is inside the goal disc (<= 0.05 m)       weight  1.0
 *   control_effort   sum of squared torque commands                                   weight -0.05
 * No termination; episodes last 200 steps (10 s at dt 0.05 s).
 * Initial state: puck at radius U(0.15, 0.25) m from the shoulder axis, direction U(-0.8, 0.8)
 *   rad from +x; goal U(0.2, 0.24) m beyond the puck, in a direction within U(-0.6, 0.6) rad of
 *   straight away from the base (the arm pushes away from itself); arm
 *   folded near the base (shoulder U(-pi, pi), elbow +-U(1.8, 2.5), wrist U(-1, 1) rad),
 *   redrawn until the finger is at least 0.12 m from the puck centre; everything at rest.
 * Success: 1 with the puck centre inside the goal disc, falling linearly to 0 at 0.35 m beyond it
 *   (0.4 m from the goal centre), so it grades every puck position within 0.4 m of the goal: a
 *   start (0.2-0.24 m away) scores 0.46-0.57, a push toward the goal raises it and a push away
 *   lowers it. Until 2026-12-03 the fall was 0.15 m, which left every start and most of PPO's
 *   history at 0; the synthetic-vlm teacher (which judges only this measure at a segment's final
 *   frame, as a VLM judges a picture of where the puck is) then saw 87-89% of pairs as ties.
 */
import { defineTask } from '../mujoco/task.js';
import { planarDistance, polar, squaredNorm, tolerance, writeCosSin } from './common.js';

/** Radius of the goal disc in pusher.xml, m. */
export const PUSHER_GOAL_RADIUS = 0.05;
/** Distance beyond the goal disc over which success falls linearly from 1 to 0, m. */
export const PUSHER_SUCCESS_MARGIN = 0.35;

export const pusher = defineTask({
  id: 'pusher',
  goal: 'Use the finger on the arm to push the blue puck onto the green goal disc and leave it there.',
  rewardTerms: [
    { name: 'puck_to_goal', weight: -3.0, doc: 'distance from the puck centre to the goal centre, m' },
    { name: 'hand_to_puck', weight: -1.0, doc: 'distance from the finger axis to the puck centre in the table plane, m (0.06 m when touching)' },
    { name: 'puck_at_goal', weight: 1.0, doc: '1 when the puck centre is inside the goal disc (radius 0.05 m), else 0' },
    { name: 'control_effort', weight: -0.05, doc: 'sum of squared torque commands (each in [-1, 1])' },
  ],
  horizon: 200,
  frameSkip: 5,
  bind(physics) {
    const jq = (name: string): number => physics.jointQposAdr(physics.id('joint', name));
    const jv = (name: string): number => physics.jointDofAdr(physics.id('joint', name));
    const armQ = [jq('shoulder'), jq('elbow'), jq('wrist')];
    const armV = [jv('shoulder'), jv('elbow'), jv('wrist')];
    const puckQ = [jq('puck_x'), jq('puck_y')];
    const puckV = [jv('puck_x'), jv('puck_y')];
    const goalQ = [jq('goal_x'), jq('goal_y')];
    const tip = physics.id('site', 'fingertip');
    const puckBody = physics.id('body', 'puck');
    const goalBody = physics.id('body', 'goal');
    const puckToGoal = (p: typeof physics): number => planarDistance(p.views.xpos, puckBody, p.views.xpos, goalBody);
    return {
      obsDim: 21,
      initialize(p, rng) {
        const v = p.views;
        // Puck in front of the base; goal farther out, 0.2-0.24 m beyond the puck in a direction
        // within 0.6 rad of straight away from the base (so the arm pushes things away from
        // itself).
        const [px, py] = polar(rng, 0.15, 0.25, 0.8);
        const away = Math.atan2(py, px) + rng.range(-0.6, 0.6);
        const d = rng.range(0.2, 0.24);
        v.qpos[puckQ[0]] = px;
        v.qpos[puckQ[1]] = py;
        v.qpos[goalQ[0]] = px + d * Math.cos(away);
        v.qpos[goalQ[1]] = py + d * Math.sin(away);
        // Arm folded near the base, redrawn until the finger is clear of the puck (the draws
        // depend only on the seed).
        for (let k = 0; k < 100; k++) {
          v.qpos[armQ[0]] = rng.range(-Math.PI, Math.PI);
          v.qpos[armQ[1]] = (rng.bernoulli(0.5) ? 1 : -1) * rng.range(1.8, 2.5);
          v.qpos[armQ[2]] = rng.range(-1, 1);
          p.kinematics();
          if (planarDistance(p.views.siteXpos, tip, p.views.xpos, puckBody) >= 0.12) break;
        }
      },
      observe(p, out) {
        const v = p.views;
        let o = writeCosSin(p, out, armQ, 0);
        for (const d of armV) out[o++] = v.qvel[d];
        const tx = v.siteXpos[3 * tip];
        const ty = v.siteXpos[3 * tip + 1];
        const px = v.xpos[3 * puckBody];
        const py = v.xpos[3 * puckBody + 1];
        const gx = v.xpos[3 * goalBody];
        const gy = v.xpos[3 * goalBody + 1];
        out[o++] = tx;
        out[o++] = ty;
        out[o++] = px;
        out[o++] = py;
        out[o++] = v.qvel[puckV[0]];
        out[o++] = v.qvel[puckV[1]];
        out[o++] = gx;
        out[o++] = gy;
        out[o++] = px - tx;
        out[o++] = py - ty;
        out[o++] = gx - px;
        out[o++] = gy - py;
      },
      rewardTerms(p, action, out) {
        const d = puckToGoal(p);
        out[0] = d;
        out[1] = planarDistance(p.views.siteXpos, tip, p.views.xpos, puckBody);
        out[2] = d <= PUSHER_GOAL_RADIUS ? 1 : 0;
        out[3] = squaredNorm(action);
      },
      terminated: () => false,
      success(p) {
        return tolerance(puckToGoal(p), 0, PUSHER_GOAL_RADIUS, PUSHER_SUCCESS_MARGIN);
      },
    };
  },
});
