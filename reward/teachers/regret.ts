/**
 * The regret oracle (Knox et al. 2022, "Models of human preference for learning reward
 * functions"): prefers the segment with the lower regret
 *   regret(seg) = V*(s_0) - (sum_{t<H} gamma^t r_t + gamma^H V*(s_H)),  V*(s_H) = 0 if terminal
 * (formula and examples in reward/preference.ts). Rewards are the segment's true rewards.
 *
 * V* comes from the caller: tabular domains pass the exact optimal value, MuJoCo tasks a
 * trained critic (then the statistic is CPL's oracle statistic sum r + V(s_H) - V(s_0),
 * negated, up to discounting). Deterministic (beta = Infinity: lower regret wins, equal
 * regrets within `tieTolerance` give 0.5) or stochastic (finite beta: first preferred with
 * probability sigmoid(beta (regret(b) - regret(a))), drawn from `rng.fork(pair.id)`).
 * Regret assumes deterministic transitions; with stochastic dynamics it is the regret of the
 * realised segment, a noisy estimate.
 *
 * Discount. gamma defaults to 1: the undiscounted statistic of CPL's oracle, which the
 * committed regret-teacher results were made with. A trained critic's values are discounted
 * with its run's gamma (0.99 for prefrl's PPO), and V(s_t) = r_t + gamma V(s_{t+1}) along an
 * optimal path makes the undiscounted statistic of an optimal segment
 * -(1 - gamma) (V(s_1) + ... + V(s_H)) rather than 0: it leans towards segments through states
 * of higher value, a partial-return-like term besides the regret. `regret:gamma=0.99` (the
 * critic's own gamma) gives the regret of the critic's values exactly; both are hand-checked in
 * test/reward/regret_hand.test.ts.
 */
import { sigmoid } from '../../core/math.js';
import type { Rng } from '../../core/rng.js';
import { regret } from '../preference.js';
import type { Label, Pair, Segment, Teacher } from '../types.js';
import { labelHead } from './synthetic.js';

/** The simulator state of one step of a segment (what a value function may look at). */
export interface StateView {
  readonly qpos: Float64Array;
  readonly qvel: Float64Array;
  readonly act: Float64Array;
  /** Simulated time, seconds. */
  readonly time: number;
  /** Step index within the episode (time-aware values of finite-horizon tasks). */
  readonly t: number;
}

/** An (optimal) state-value function V*(s). */
export interface ValueFunction {
  /** V*(s) for one state: its observation [obsDim] and simulator state. */
  value(obs: Float32Array, state: StateView): number;
  /** Optional batch form: obs [n, obsDim] row-major and n states -> [n] values. */
  values?(obs: Float32Array, states: readonly StateView[]): ArrayLike<number>;
}

/** Observation and state of step i (0 <= i <= H) of a segment (views, not copies). */
export function segmentState(seg: Segment, i: number): { obs: Float32Array; state: StateView } {
  if (!(Number.isInteger(i) && i >= 0 && i <= seg.length)) throw new RangeError(`segmentState: step ${i} outside 0..${seg.length}`);
  return {
    obs: seg.obs.subarray(i * seg.obsDim, (i + 1) * seg.obsDim),
    state: {
      qpos: seg.qpos.subarray(i * seg.nq, (i + 1) * seg.nq),
      qvel: seg.qvel.subarray(i * seg.nv, (i + 1) * seg.nv),
      act: seg.act.subarray(i * seg.na, (i + 1) * seg.na),
      time: seg.time[i],
      t: seg.startStep + i,
    },
  };
}

/**
 * V* at the start and end state of each segment: [2 * n] as (start_0, end_0, start_1, ...).
 * Uses the batch form when the value function has one. Terminal ends are still evaluated
 * here; `regret` ignores their value.
 */
export function segmentValues(segs: readonly Segment[], vf: ValueFunction): Float64Array {
  const out = new Float64Array(2 * segs.length);
  const points = segs.flatMap((s) => [segmentState(s, 0), segmentState(s, s.length)]);
  if (vf.values && points.length > 0) {
    const obsDim = segs[0].obsDim;
    const obs = new Float32Array(points.length * obsDim);
    points.forEach((p, i) => {
      if (p.obs.length !== obsDim) throw new RangeError('segmentValues: segments with different obsDim in one batch');
      obs.set(p.obs, i * obsDim);
    });
    const v = vf.values(obs, points.map((p) => p.state));
    if (v.length !== points.length) throw new RangeError(`segmentValues: value function returned ${v.length} values for ${points.length} states`);
    for (let i = 0; i < v.length; i++) out[i] = v[i];
  } else {
    points.forEach((p, i) => (out[i] = vf.value(p.obs, p.state)));
  }
  return out;
}

/** Regret of one segment under value function `vf` and discount `gamma`. */
export function segmentRegret(seg: Segment, vf: ValueFunction, gamma = 1): number {
  const v = segmentValues([seg], vf);
  return regret({ rewards: seg.rewards, valueStart: v[0], valueEnd: v[1], gamma, endsTerminal: seg.endsTerminal });
}

export interface RegretTeacherOptions {
  /** V* (exact for tabular domains, a trained critic otherwise). */
  readonly values: ValueFunction;
  /** Discount used in the regret (default 1, CPL's undiscounted statistic; a critic's own gamma gives its exact regret: see the header). */
  readonly gamma?: number;
  /** Rationality: Infinity (default) = deterministic; finite > 0 = Bradley-Terry sampling. */
  readonly beta?: number;
  /** Needed when beta is finite; forked per pair. */
  readonly rng?: Rng;
  /** |regret(a) - regret(b)| <= tieTolerance is a tie (0.5) when deterministic (default 0). */
  readonly tieTolerance?: number;
  /** Teacher id recorded on labels (default "regret"). */
  readonly id?: string;
}

export class RegretTeacher implements Teacher {
  readonly id: string;
  readonly gamma: number;
  readonly beta: number;
  private readonly vf: ValueFunction;
  private readonly rng: Rng | undefined;
  private readonly tieTolerance: number;

  constructor(opts: RegretTeacherOptions) {
    this.id = opts.id ?? 'regret';
    this.gamma = opts.gamma ?? 1;
    this.beta = opts.beta ?? Infinity;
    this.vf = opts.values;
    this.rng = opts.rng;
    this.tieTolerance = opts.tieTolerance ?? 0;
    if (!(this.gamma >= 0 && this.gamma <= 1)) throw new RangeError(`regret teacher: gamma must be in [0, 1], got ${this.gamma}`);
    if (!(this.beta > 0)) throw new RangeError(`regret teacher: beta must be > 0 (Infinity = deterministic), got ${this.beta}`);
    if (this.beta !== Infinity && !this.rng) throw new RangeError('regret teacher: a finite beta needs an rng');
    if (!(this.tieTolerance >= 0)) throw new RangeError(`regret teacher: tieTolerance must be >= 0, got ${this.tieTolerance}`);
  }

  /**
   * Regrets of both segments of every pair: [2 * n] as (a_0, b_0, a_1, b_1, ...). A V* that is
   * not a finite number where the regret uses it (a missing or broken critic) is an error naming
   * the segment: a NaN regret would otherwise turn into a label silently (NaN < x is false).
   */
  regrets(pairs: readonly Pair[]): Float64Array {
    const segs = pairs.flatMap((p) => [p.a, p.b]);
    const v = segmentValues(segs, this.vf);
    return Float64Array.from(segs, (s, i) => {
      const bad = !Number.isFinite(v[2 * i]) ? ['start', v[2 * i]] : !s.endsTerminal && !Number.isFinite(v[2 * i + 1]) ? ['end', v[2 * i + 1]] : null;
      if (bad) throw new RangeError(`${this.id}: V* at the ${bad[0]} of segment ${s.id} is ${bad[1]}, not a finite number (is the value function / expert critic missing or broken?)`);
      const g = regret({ rewards: s.rewards, valueStart: v[2 * i], valueEnd: v[2 * i + 1], gamma: this.gamma, endsTerminal: s.endsTerminal });
      if (!Number.isFinite(g)) throw new RangeError(`${this.id}: the regret of segment ${s.id} is ${g} (its rewards are not all finite)`);
      return g;
    });
  }

  async label(pairs: readonly Pair[]): Promise<Label[]> {
    const g = this.regrets(pairs);
    return pairs.map((pair, i) => {
      const ra = g[2 * i];
      const rb = g[2 * i + 1];
      let y: number;
      if (this.beta === Infinity) y = Math.abs(ra - rb) <= this.tieTolerance ? 0.5 : ra < rb ? 1 : 0;
      else y = (this.rng as Rng).fork(pair.id).bernoulli(sigmoid(this.beta * (rb - ra))) ? 1 : 0;
      return {
        kind: 'preference',
        ...labelHead(this.id, pair.id),
        probFirst: y,
        raw: JSON.stringify({ regretA: ra, regretB: rb }),
      };
    });
  }
}
