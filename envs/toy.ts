/**
 * toy-reach: a pure-TypeScript point mass in the square [-1, 1]^2 that must reach a goal.
 * Same interface as the MuJoCo envs, thousands of times cheaper, for fast tests of
 * preference learning and agents.
 *
 * State: qpos = [x, y, goal_x, goal_y], qvel = [vx, vy] (the goal is part of the state so a
 * saved state replays exactly). Dynamics per step (dt = 0.1 s):
 *   v <- 0.8 v + 0.5 a;  p <- clip(p + dt v, -1, 1)  (velocity zeroed on the axis that hits a wall)
 * Observation (6): [x, y, vx, vy, goal_x - x, goal_y - y].
 * Action (2): force in [-1, 1]^2.
 * Reward terms:
 *   goal_distance   Euclidean distance to the goal            weight -1.0
 *   control_effort  sum of squared action components          weight -0.05
 *   at_goal         1 when within 0.1 of the goal, else 0     weight  0.5
 * Episodes last 50 steps; no termination. Initial state: position and goal uniform in
 * [-0.9, 0.9]^2, zero velocity.
 */
import { Rng } from '../core/rng.js';
import { checkStateFinite, clipAction, type Env, type EnvSpec, type EnvState, type StepResult, weightedSum } from './types.js';

const DT = 0.1;
const HORIZON = 50;
const GOAL_RADIUS = 0.1;

export const TOY_SPEC: EnvSpec = {
  id: 'toy-reach',
  obsDim: 6,
  actDim: 2,
  obsLow: Float64Array.from([-1, -1, -Infinity, -Infinity, -2, -2]),
  obsHigh: Float64Array.from([1, 1, Infinity, Infinity, 2, 2]),
  actLow: Float64Array.from([-1, -1]),
  actHigh: Float64Array.from([1, 1]),
  rewardTerms: [
    { name: 'goal_distance', weight: -1.0, doc: 'distance from the point to the goal' },
    { name: 'control_effort', weight: -0.05, doc: 'sum of squared action components' },
    { name: 'at_goal', weight: 0.5, doc: '1 when within 0.1 of the goal, else 0' },
  ],
  dt: DT,
  horizon: HORIZON,
  goal: 'Move the point to the goal marker quickly and stay there, using little force.',
  nq: 4,
  nv: 2,
  na: 0,
  modelHash: 'toy-reach-v1',
};

/**
 * Reward terms of a transition: every toy term depends on the action (as clipAction leaves it:
 * clipped to the bounds, float32) and the state after it.
 */
function toyTerms(action: ArrayLike<number>, qposAfter: ArrayLike<number>): Float64Array {
  const a0 = action[0];
  const a1 = action[1];
  const dist = Math.hypot(qposAfter[2] - qposAfter[0], qposAfter[3] - qposAfter[1]);
  return Float64Array.from([dist, a0 * a0 + a1 * a1, dist < GOAL_RADIUS ? 1 : 0]);
}

export class ToyReachEnv implements Env {
  readonly spec = TOY_SPEC;
  private rng: Rng;
  private readonly qpos = new Float64Array(4);
  private readonly qvel = new Float64Array(2);
  private t = 0;
  private time = 0;
  private done = true;
  private disposed = false;

  constructor(opts: { seed?: number } = {}) {
    this.rng = new Rng(opts.seed ?? 0);
  }

  private observe(): Float32Array {
    const [x, y, gx, gy] = this.qpos;
    return Float32Array.from([x, y, this.qvel[0], this.qvel[1], gx - x, gy - y]);
  }

  private distance(): number {
    return Math.hypot(this.qpos[2] - this.qpos[0], this.qpos[3] - this.qpos[1]);
  }

  reset(seed?: number): Float32Array {
    if (this.disposed) throw new Error('toy-reach: env used after dispose()');
    if (seed !== undefined) this.rng = new Rng(seed);
    for (let i = 0; i < 4; i++) this.qpos[i] = this.rng.range(-0.9, 0.9);
    this.qvel.fill(0);
    this.t = 0;
    this.time = 0;
    this.done = false;
    return this.observe();
  }

  step(action: ArrayLike<number>): StepResult {
    if (this.disposed) throw new Error('toy-reach: env used after dispose()');
    if (this.done) throw new Error(`toy-reach step ${this.t}: step() called before reset() or after the episode ended`);
    const a = [0, 0];
    clipAction(this.spec, this.t, action, a);
    for (let i = 0; i < 2; i++) {
      this.qvel[i] = 0.8 * this.qvel[i] + 0.5 * a[i];
      const p = this.qpos[i] + DT * this.qvel[i];
      if (p > 1 || p < -1) {
        this.qpos[i] = p > 1 ? 1 : -1;
        this.qvel[i] = 0;
      } else this.qpos[i] = p;
    }
    this.t++;
    this.time += DT;
    const rewardTerms = toyTerms(a, this.qpos);
    const success = rewardTerms[2];
    const truncated = this.t >= HORIZON;
    this.done = truncated;
    return {
      obs: this.observe(),
      reward: weightedSum(rewardTerms, this.spec.rewardTerms),
      rewardTerms,
      terminated: false,
      truncated,
      info: { success },
    };
  }

  getState(): EnvState {
    return { qpos: Float64Array.from(this.qpos), qvel: Float64Array.from(this.qvel), act: new Float64Array(0), time: this.time, t: this.t };
  }

  setState(state: EnvState): Float32Array {
    if (state.qpos.length !== 4 || state.qvel.length !== 2) {
      throw new Error(`toy-reach: state sizes (qpos ${state.qpos.length}, qvel ${state.qvel.length}) do not match (4, 2)`);
    }
    checkStateFinite('toy-reach', state);
    this.qpos.set(state.qpos);
    this.qvel.set(state.qvel);
    this.time = state.time;
    this.t = state.t;
    this.done = state.t >= HORIZON;
    return this.observe();
  }

  transitionTerms(_before: EnvState, action: ArrayLike<number>, after: EnvState): Float64Array {
    const a = [0, 0];
    clipAction(this.spec, after.t, action, a);
    return toyTerms(a, after.qpos);
  }

  success(): number {
    return this.distance() < GOAL_RADIUS ? 1 : 0;
  }

  dispose(): void {
    this.disposed = true;
  }
}
