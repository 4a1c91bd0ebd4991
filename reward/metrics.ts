/**
 * Reward-model metrics: held-out preference accuracy and NLL, correlation of predicted and
 * true segment returns, and EPIC (Gleave et al. 2021, "Quantifying differences in reward
 * functions"; reference code HumanCompatibleAI/evaluating-rewards).
 *
 * Accuracy and ties. A label y = probFirst > 0.5 says "first", < 0.5 says "second"; the
 * prediction p = P(first) is correct when it is on the same side of 0.5. A prediction of
 * exactly 0.5 earns half a point. Tie labels (y = 0.5) have no side: they are left out of
 * the accuracy and counted in `ties` (the NLL does include them, as soft labels). A NaN
 * prediction on a scored label makes the accuracy NaN, as it makes the NLL NaN (it used to
 * count as correct against every "second" label, since NaN > 0.5 is false).
 *
 * Correlations (return correlation, EPIC's rho) are NaN when either side is constant. Checked
 * here by exact equality of the values: core/math's pearson tests a zero sum of squares, which
 * rounding misses when the mean of equal values is not exactly that value (three 0.1s have the
 * mean 0.10000000000000002), and it then returned about 0 (EPIC distance 0.707) instead of NaN.
 *
 * EPIC. For a reward R(s, a, s'), coverage distributions D_S (uniform over a pool of visited
 * states) and D_A (uniform over a pool of visited actions, or uniform in the action box),
 * and S, S' ~ D_S, A ~ D_A drawn independently of the transition:
 *   C(R)(s, a, s') = R(s, a, s') + gamma E[R(s', A, S')] - E[R(s, A, S')] - gamma E[R(S, A, S')].
 * The expectations are Monte Carlo means over M samples (A_j, S'_j) (and S_j for the last
 * term), the SAME samples for every state and for both rewards, so a potential-shaped reward
 * R' = R + gamma Phi(s') - Phi(s) canonicalises to C(R) plus a constant, i.e. exactly the same
 * correlation up to float error. With `samples: 'all'` (a finite action pool) the
 * expectations are exact: every (action, state) combination. Then
 *   D_EPIC(R_A, R_B) = sqrt((1 - rho) / 2),  rho = Pearson(C(R_A), C(R_B)) over the visited
 * transitions; in [0, 1], 0 for rewards equivalent up to shaping and positive scaling. NaN
 * when either canonical reward is constant (the correlation is undefined).
 *
 * Rewards are batch callbacks over state indices into the pool and actions:
 *   (sIdx: Int32Array [n], actions: Float32Array [n, actDim], nextIdx: Int32Array [n]) -> [n].
 */
import { shownArg } from '../core/errors.js';
import { pearson, spearman } from '../core/math.js';
import type { Rng } from '../core/rng.js';
import { concat, type Trajectory } from '../envs/trajectory.js';
import { type Env, type EnvState, weightedSum } from '../envs/types.js';
import { bradleyTerryNllFromProb } from './preference.js';
import type { Label, RewardModel } from './types.js';

// ---------------------------------------------------------------------------------------
// Preference accuracy and NLL

export interface AccuracyResult {
  /** Fraction correct over non-tie labels (NaN when there are none). */
  readonly accuracy: number;
  /** Number of non-tie labels scored. */
  readonly n: number;
  /** Number of tie labels (probFirst = 0.5) left out. */
  readonly ties: number;
}

/** Targets of the preference labels (skips dropped) and their indices in `labels`. */
export function preferenceTargets(labels: readonly Label[]): { targets: Float64Array; index: Int32Array } {
  const index: number[] = [];
  labels.forEach((l, i) => {
    if (l.kind === 'preference') index.push(i);
  });
  return {
    targets: Float64Array.from(index, (i) => (labels[i] as Extract<Label, { kind: 'preference' }>).probFirst),
    index: Int32Array.from(index),
  };
}

/** Held-out accuracy of predicted P(first) against label targets (ties: see the header). */
export function preferenceAccuracy(pFirst: ArrayLike<number>, targets: ArrayLike<number>): AccuracyResult {
  if (pFirst.length !== targets.length) throw new RangeError(`preferenceAccuracy: ${pFirst.length} predictions, ${targets.length} targets`);
  let correct = 0;
  let n = 0;
  let ties = 0;
  for (let i = 0; i < targets.length; i++) {
    const y = targets[i];
    // A NaN target used to count as a "second" label, 2 as a "first" one.
    if (!(y >= 0 && y <= 1)) throw new RangeError(`preferenceAccuracy: target ${i} is ${y}; targets are label probabilities probFirst in [0, 1]`);
    if (y === 0.5) {
      ties++;
      continue;
    }
    n++;
    const p = pFirst[i];
    if (Number.isNaN(p)) correct = Number.NaN;
    else if (p === 0.5) correct += 0.5;
    else if (p > 0.5 === y > 0.5) correct += 1;
  }
  return { accuracy: n === 0 ? Number.NaN : correct / n, n, ties };
}

/** Mean Bradley-Terry NLL of P(first) against soft targets (ties included; p clamped to [1e-7, 1 - 1e-7]). */
export function preferenceNll(pFirst: ArrayLike<number>, targets: ArrayLike<number>): number {
  if (pFirst.length !== targets.length) throw new RangeError(`preferenceNll: ${pFirst.length} predictions, ${targets.length} targets`);
  if (targets.length === 0) return Number.NaN;
  let s = 0;
  for (let i = 0; i < targets.length; i++) s += bradleyTerryNllFromProb(pFirst[i], targets[i]);
  return s / targets.length;
}

/** Whether every value equals the first (an empty array counts as constant). */
function isConstant(x: ArrayLike<number>): boolean {
  for (let i = 1; i < x.length; i++) if (x[i] !== x[0]) return false;
  return true;
}

/** Pearson correlation, NaN when either side is constant (see the header). */
function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const r = pearson(a, b);
  return isConstant(a) || isConstant(b) ? Number.NaN : r;
}

/**
 * Pearson and Spearman (average ranks for ties) correlation of predicted vs true returns; both
 * NaN when either side is constant or holds a NaN (a diverged model's).
 */
export function returnCorrelation(predicted: ArrayLike<number>, truth: ArrayLike<number>): { pearson: number; spearman: number } {
  if (predicted.length !== truth.length) throw new RangeError(`returnCorrelation: ${predicted.length} predicted returns, ${truth.length} true ones (one of each per segment)`);
  const constant = isConstant(predicted) || isConstant(truth);
  const result = { pearson: pearson(predicted, truth), spearman: spearman(predicted, truth) };
  return constant ? { pearson: Number.NaN, spearman: Number.NaN } : result;
}

// ---------------------------------------------------------------------------------------
// EPIC

/** A reward over pool state indices: [n] values for n transitions. */
export type BatchReward = (sIdx: Int32Array, actions: Float32Array, nextIdx: Int32Array) => ArrayLike<number>;

/** Visited transitions (s_i, a_i, s'_i) as pool indices: s, next [n], a [n, actDim]. */
export interface EpicTransitions {
  readonly s: Int32Array;
  readonly a: Float32Array;
  readonly next: Int32Array;
}

/** D_A: uniform over a pool of actions [nA, actDim], or uniform in the box [low, high]. */
export type ActionDistribution =
  | { readonly kind: 'pool'; readonly actions: Float32Array }
  | { readonly kind: 'uniform'; readonly low: ArrayLike<number>; readonly high: ArrayLike<number> };

export interface EpicOptions {
  /** Size of the state pool (D_S is uniform over indices 0..nStates-1). */
  readonly nStates: number;
  readonly actDim: number;
  readonly actions: ActionDistribution;
  /** Discount of the shaping being removed. */
  readonly gamma: number;
  /** Monte Carlo samples M per expectation (default 256), or 'all' for exact means over a finite action pool. */
  readonly samples?: number | 'all';
  /** Reward evaluations per callback call (default 65536). */
  readonly chunk?: number;
  readonly rng: Rng;
}

/**
 * Samples for the expectations: (A_j, S'_j) for E[R(x, A, S')], plus S_j for E[R(S, A, S')].
 * `exact` marks the 'all' enumeration (then S_j is unused and the last term is the mean of
 * E[R(x, A, S')] over all pool states).
 */
export interface EpicSamples {
  readonly a: Float32Array;
  readonly next: Int32Array;
  readonly s: Int32Array;
  readonly exact: boolean;
}

export function drawEpicSamples(opts: EpicOptions): EpicSamples {
  const { nStates, actDim, rng } = opts;
  if (!(Number.isInteger(nStates) && nStates > 0)) throw new RangeError(`EPIC: nStates must be a positive integer, got ${nStates}`);
  if (!(Number.isInteger(actDim) && actDim > 0)) throw new RangeError(`EPIC: actDim must be a positive integer, got ${shownArg(actDim)}`);
  const dist = opts.actions as ActionDistribution | null | undefined;
  if (typeof dist !== 'object' || dist === null || (dist.kind !== 'pool' && dist.kind !== 'uniform')) {
    throw new TypeError(`EPIC: option actions must be { kind: 'pool', actions } or { kind: 'uniform', low, high }, got ${shownArg(dist)}`);
  }
  if (typeof rng !== 'object' || rng === null || typeof (rng as Partial<Rng>).int !== 'function') throw new TypeError(`EPIC: option rng (an Rng, e.g. new Rng(seed)) is required, got ${shownArg(rng)}`);
  if (dist.kind === 'pool' && !(dist.actions.length > 0 && dist.actions.length % actDim === 0)) throw new RangeError(`EPIC: action pool of length ${dist.actions.length} is not [nA, ${actDim}]`);
  if (dist.kind === 'uniform') {
    // An unbounded box drew NaN actions (rng.range(-Infinity, Infinity)).
    for (let d = 0; d < actDim; d++) {
      const lo = dist.low?.[d];
      const hi = dist.high?.[d];
      if (!(Number.isFinite(lo) && Number.isFinite(hi) && lo <= hi)) throw new RangeError(`EPIC: uniform actions need a finite box; dimension ${d} has bounds [${lo}, ${hi}]`);
    }
  }
  const samples = opts.samples ?? 256;
  if (samples === 'all') {
    if (dist.kind !== 'pool') throw new RangeError("EPIC: samples 'all' needs a finite action pool");
    const nA = dist.actions.length / actDim;
    const m = nA * nStates;
    const a = new Float32Array(m * actDim);
    const next = new Int32Array(m);
    for (let i = 0; i < nA; i++) {
      for (let j = 0; j < nStates; j++) {
        a.set(dist.actions.subarray(i * actDim, (i + 1) * actDim), (i * nStates + j) * actDim);
        next[i * nStates + j] = j;
      }
    }
    return { a, next, s: new Int32Array(0), exact: true };
  }
  if (!(Number.isInteger(samples) && samples > 0)) throw new RangeError(`EPIC: samples must be a positive integer or 'all', got ${samples}`);
  const a = new Float32Array(samples * actDim);
  const nA = dist.kind === 'pool' ? dist.actions.length / actDim : 0;
  for (let j = 0; j < samples; j++) {
    if (dist.kind === 'pool') {
      const i = rng.int(nA);
      a.set(dist.actions.subarray(i * actDim, (i + 1) * actDim), j * actDim);
    } else {
      for (let d = 0; d < actDim; d++) a[j * actDim + d] = rng.range(dist.low[d], dist.high[d]);
    }
  }
  const next = Int32Array.from({ length: samples }, () => rng.int(nStates));
  const s = Int32Array.from({ length: samples }, () => rng.int(nStates));
  return { a, next, s, exact: false };
}

/** Evaluate r on (s_i, a_i, next_i) in chunks of `chunk`. */
function evalChunked(r: BatchReward, s: Int32Array, a: Float32Array, next: Int32Array, actDim: number, chunk: number): Float64Array {
  const out = new Float64Array(s.length);
  for (let o = 0; o < s.length; o += chunk) {
    const e = Math.min(s.length, o + chunk);
    const v = r(s.subarray(o, e), a.subarray(o * actDim, e * actDim), next.subarray(o, e));
    if (v.length !== e - o) throw new RangeError(`EPIC: reward returned ${v.length} values for ${e - o} transitions`);
    for (let i = 0; i < v.length; i++) out[o + i] = v[i];
  }
  return out;
}

/** E[R(x, A, S')] for each state x in `states` (means over the samples). */
function stateMeans(r: BatchReward, states: Int32Array, smp: EpicSamples, actDim: number, chunk: number): Float64Array {
  const m = smp.next.length;
  const out = new Float64Array(states.length);
  const per = Math.max(1, Math.floor(chunk / m));
  for (let o = 0; o < states.length; o += per) {
    const e = Math.min(states.length, o + per);
    const n = (e - o) * m;
    const s = new Int32Array(n);
    const a = new Float32Array(n * actDim);
    const next = new Int32Array(n);
    for (let q = o; q < e; q++) {
      const base = (q - o) * m;
      s.fill(states[q], base, base + m);
      a.set(smp.a, base * actDim);
      next.set(smp.next, base);
    }
    const v = evalChunked(r, s, a, next, actDim, Math.max(chunk, m));
    for (let q = o; q < e; q++) {
      let sum = 0;
      for (let j = 0; j < m; j++) sum += v[(q - o) * m + j];
      out[q] = sum / m;
    }
  }
  return out;
}

/** C(R) on the visited transitions: [n] (formula in the header). */
export function canonicalRewards(
  r: BatchReward,
  tr: EpicTransitions,
  smp: EpicSamples,
  opts: Pick<EpicOptions, 'gamma' | 'actDim' | 'nStates' | 'chunk'>,
): Float64Array {
  const { gamma, actDim, nStates } = opts;
  const chunk = opts.chunk ?? 65536;
  // A missing gamma gave NaN canonical rewards (distance NaN), a chunk of 0 never returned.
  if (typeof gamma !== 'number' || !(gamma >= 0 && gamma <= 1)) throw new RangeError(`EPIC: gamma must be a number in [0, 1], got ${shownArg(gamma)}`);
  if (!(Number.isSafeInteger(chunk) && chunk >= 1)) throw new RangeError(`EPIC: chunk must be a whole number >= 1, got ${shownArg(chunk)}`);
  const n = tr.s.length;
  if (tr.next.length !== n || tr.a.length !== n * actDim) throw new RangeError('EPIC: transitions s, a, next have inconsistent lengths');
  // A state index outside the pool reached the reward callbacks (or gave NaN with exact means).
  for (let i = 0; i < n; i++) {
    for (const [name, x] of [['s', tr.s[i]], ['next', tr.next[i]]] as const) {
      if (!(x >= 0 && x < nStates)) throw new RangeError(`EPIC: transition ${i} has ${name} = ${x}, outside the pool of ${nStates} states (indices 0..${nStates - 1})`);
    }
  }
  // Unique states needing E[R(x, A, S')]: every pool state when exact, else those visited.
  const needed = smp.exact ? Int32Array.from({ length: opts.nStates }, (_, i) => i) : Int32Array.from(new Set([...tr.s, ...tr.next])).sort();
  const means = stateMeans(r, needed, smp, actDim, chunk);
  const meanOf = new Map<number, number>();
  needed.forEach((x, i) => meanOf.set(x, means[i]));
  let global: number;
  if (smp.exact) {
    global = 0;
    for (let i = 0; i < means.length; i++) global += means[i] / means.length;
  } else {
    const v = evalChunked(r, smp.s, smp.a, smp.next, actDim, chunk);
    global = 0;
    for (let i = 0; i < v.length; i++) global += v[i] / v.length;
  }
  const direct = evalChunked(r, tr.s, tr.a, tr.next, actDim, chunk);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = direct[i] + gamma * (meanOf.get(tr.next[i]) as number) - (meanOf.get(tr.s[i]) as number) - gamma * global;
  }
  return out;
}

export interface EpicResult {
  /** sqrt((1 - rho) / 2) in [0, 1]. */
  readonly distance: number;
  /** Pearson correlation of the canonicalised rewards. */
  readonly rho: number;
  /** C(R_A), C(R_B) on the visited transitions: [n] each. */
  readonly canonicalA: Float64Array;
  readonly canonicalB: Float64Array;
}

/** EPIC distance between two rewards on the visited transitions, with shared samples. */
export function epicDistance(rA: BatchReward, rB: BatchReward, tr: EpicTransitions, opts: EpicOptions): EpicResult {
  const smp = drawEpicSamples(opts);
  const canonicalA = canonicalRewards(rA, tr, smp, opts);
  const canonicalB = canonicalRewards(rB, tr, smp, opts);
  const rho = correlation(canonicalA, canonicalB);
  const distance = Number.isNaN(rho) ? Number.NaN : Math.sqrt(Math.max(0, (1 - rho) / 2));
  return { distance, rho, canonicalA, canonicalB };
}

/** A state pool and its visited transitions, from trajectories (states s_0..s_T of each). */
export interface EpicPool {
  /** Simulator states [nStates] (for the true reward). */
  readonly states: EnvState[];
  /** Observations [nStates, obsDim] (for learned rewards). */
  readonly obs: Float32Array;
  readonly obsDim: number;
  readonly actDim: number;
  /** Visited actions [nTransitions, actDim] (a D_A pool). */
  readonly actions: Float32Array;
  readonly transitions: EpicTransitions;
}

export function epicPool(trajs: readonly Trajectory[]): EpicPool {
  if (trajs.length === 0) throw new RangeError('epicPool: no trajectories');
  const { obsDim, actDim, nq, nv, na } = trajs[0];
  const states: EnvState[] = [];
  const obsParts: Float32Array[] = [];
  const s: number[] = [];
  const next: number[] = [];
  const actParts: Float32Array[] = [];
  for (const tr of trajs) {
    if (tr.obsDim !== obsDim || tr.actDim !== actDim) throw new RangeError('epicPool: trajectories of different shapes');
    const base = states.length;
    for (let i = 0; i <= tr.length; i++) {
      states.push({
        qpos: tr.qpos.slice(i * nq, (i + 1) * nq),
        qvel: tr.qvel.slice(i * nv, (i + 1) * nv),
        act: tr.act.slice(i * na, (i + 1) * na),
        time: tr.time[i],
        t: tr.t0 + i,
      });
    }
    obsParts.push(tr.obs);
    actParts.push(tr.actions);
    for (let t = 0; t < tr.length; t++) {
      s.push(base + t);
      next.push(base + t + 1);
    }
  }
  const cat = (parts: Float32Array[]) => concat(parts, (n) => new Float32Array(n));
  const actions = cat(actParts);
  return { states, obs: cat(obsParts), obsDim, actDim, actions, transitions: { s: Int32Array.from(s), a: actions, next: Int32Array.from(next) } };
}

/**
 * The env's true reward over a state pool: sum_k weight_k x transitionTerms(before, a, after)[k].
 * `env` is used as a scratch env (its state is clobbered).
 */
export function envReward(env: Env, states: readonly EnvState[]): BatchReward {
  const actDim = env.spec.actDim;
  return (sIdx, actions, nextIdx) => {
    const out = new Float64Array(sIdx.length);
    for (let i = 0; i < sIdx.length; i++) {
      const terms = env.transitionTerms(states[sIdx[i]], actions.subarray(i * actDim, (i + 1) * actDim), states[nextIdx[i]]);
      out[i] = weightedSum(terms, env.spec.rewardTerms);
    }
    return out;
  };
}

/** A learned reward over a pool of observations [nStates, obsDim]: the model's ensemble mean. */
export function modelReward(model: RewardModel, obs: Float32Array, obsDim: number): BatchReward {
  return (sIdx, actions, nextIdx) => {
    const n = sIdx.length;
    const o = new Float32Array(n * obsDim);
    const no = new Float32Array(n * obsDim);
    for (let i = 0; i < n; i++) {
      o.set(obs.subarray(sIdx[i] * obsDim, (sIdx[i] + 1) * obsDim), i * obsDim);
      no.set(obs.subarray(nextIdx[i] * obsDim, (nextIdx[i] + 1) * obsDim), i * obsDim);
    }
    return model.predict({ n, obs: o, actions, nextObs: no });
  };
}

/**
 * Whether an offline run's normalised score, (R_learned - R_random) / (R_true - R_random), means
 * something: IQL on the true reward must beat the random policy by more than the spread of their
 * episode returns (the larger std); otherwise the denominator is about noise. The offline
 * report's ratio line and `prefrl runs` both judge by this rule.
 */
export function normalizedScoreMeaningful(iqlTrue: { readonly meanReturn: number; readonly stdReturn: number }, random: { readonly meanReturn: number; readonly stdReturn: number }): boolean {
  const gap = iqlTrue.meanReturn - random.meanReturn;
  return Number.isFinite(gap) && gap > 0 && gap > Math.max(iqlTrue.stdReturn, random.stdReturn);
}
