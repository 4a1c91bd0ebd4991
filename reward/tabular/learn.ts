/**
 * The tabular regret-vs-partial-return experiment (Knox et al. 2022, "Models of human
 * preference for learning reward functions", their synthetic-preference experiments): label
 * segment pairs with a regret oracle or a partial-return oracle, learn a linear reward with
 * the regret or the partial-return preference model, and score the policy optimal for the
 * learned reward by its mean scaled return under the true reward.
 *
 * Segments. A segment starts in a state drawn from the MDP's start distribution (uniform over
 * non-terminal cells), then takes `segmentLength` (default 3) uniformly random actions; if it
 * enters a terminal state it stops there (`steps` < length, `endsTerminal`), which is the same
 * as continuing in an absorbing zero-reward state. The two segments of a pair are drawn
 * independently. Pairs for the budgets of one run are nested: the first 300 of the 3,000 pairs
 * are the 300-pair data set, and both oracles label the same pairs.
 *
 * Oracles (the true reward and its exact V*, from policy iteration):
 * - regret: regret(x) = V*(s_0) - (sum_t gamma^t r_t + gamma^H V*(s_H)) (reward/preference.ts
 *   `regret`; deterministic dynamics), lower is better;
 * - partial return: R(x) = sum_t r_t (undiscounted, reward/preference.ts `partialReturn`).
 * Default deterministic (beta = Infinity: 1 / 0 for the better first / second segment, 0.5 when
 * the two statistics are within `tieTolerance`); a finite beta samples "first" with probability
 * sigmoid(beta * difference) (reward/preference.ts `regretProb` / `partialReturnProb` with
 * temperature 1 / beta), each pair from its own forked stream.
 *
 * Learners. The learned reward is linear in the same features as the true one: r_w = phi . w.
 * Both models minimise the mean Bradley-Terry NLL (reward/preference.ts `bradleyTerryNll`) of
 * their logit plus (l2 / 2) |w|^2 by full-batch Adam from the same small random init
 * (temperature 1: the scale of w plays the role of beta).
 * - partial return: logit = R_w(a) - R_w(b); convex in w.
 * - regret: logit = regret_w(b) - regret_w(a), regret_w computed with V*_w of the CURRENT
 *   learned reward. V*_w is exact: policy iteration on the learned reward (warm-started from the
 *   previous optimal policy, reward/tabular/mdp.ts `solveLinearOptimal`) every `valueEvery`
 *   steps (default 1, i.e. every step). Since V*_w(s) = max_pi psi^pi(s) . w, its gradient is
 *   the successor feature psi^{pi*_w}(s) of the optimal policy (Danskin's theorem), so
 *   grad regret_w(x) = psi(s_0) - sum_t gamma^t phi_t - gamma^H psi(s_H). Between recomputations
 *   (valueEvery > 1) V_w(s) = psi(s) . w with the last optimal policy's psi: the paper's
 *   successor-feature approximation with a one-policy library. (Knox et al. approximate V*_w by
 *   a soft maximum over the successor features of a fixed set of policies; with 100-cell MDPs
 *   the exact optimum is cheap, so we use it.)
 *
 * Score. The policy for the learned reward is greedy on Q*_w, uniform over tied actions
 * (within 1e-9 (1 + max|Q|); an all-zero reward therefore gives the random policy), and
 * scored by (J(pi) - J(random)) / (J(pi*) - J(random)) under the true reward
 * (reward/tabular/mdp.ts `scaledReturn`).
 */
import { sigmoid } from '../../core/math.js';
import type { Rng } from '../../core/rng.js';
import { bradleyTerryNll, partialReturn, partialReturnProb, regret, regretProb } from '../preference.js';
import { CELL_GOAL, CELL_SHEEP, type GridWorld } from './gridworld.js';
import {
  expectedReturn,
  greedyPolicy,
  linearReward,
  type Policy,
  policyIteration,
  scaledReturn,
  solveLinearOptimal,
  type TabularMdp,
  uniformRandomPolicy,
} from './mdp.js';

/** One sampled segment of a tabular MDP. */
export interface TabularSegment {
  /** [steps + 1] visited states s_0 .. s_steps. */
  readonly states: Int32Array;
  /** [steps] actions taken. */
  readonly actions: Int32Array;
  /** [steps] MDP entry index (s, a, s') of each step: reward[entries[t]] is r_t. */
  readonly entries: Int32Array;
  /** Steps taken (= the segment length unless it entered a terminal state earlier). */
  readonly steps: number;
  /** The last state is terminal (V = 0 there). */
  readonly endsTerminal: boolean;
}

export interface SegmentPair {
  readonly a: TabularSegment;
  readonly b: TabularSegment;
}

export type PreferenceSource = 'regret' | 'partial-return';
export type PreferenceModel = 'regret' | 'partial-return';
export const PREFERENCE_SOURCES: readonly PreferenceSource[] = ['regret', 'partial-return'];
export const PREFERENCE_MODELS: readonly PreferenceModel[] = ['regret', 'partial-return'];

/** Index i with probability p[i] over [from, to) for u ~ U[0, 1) (inverse CDF). */
export function sampleIndex(p: ArrayLike<number>, u: number, from = 0, to = p.length): number {
  let c = 0;
  let last = to - 1;
  for (let i = from; i < to; i++) {
    c += p[i];
    if (u < c) return i;
    if (p[i] > 0) last = i;
  }
  // u at or above a sum that rounding left just under 1: the last entry that can occur, never
  // one of probability 0 after it.
  return last;
}

/** The segment walked: states [steps + 1], actions and transition entries [steps]. */
function tabularSegment(mdp: TabularMdp, states: number[], actions: number[], entries: number[]): TabularSegment {
  return {
    states: Int32Array.from(states),
    actions: Int32Array.from(actions),
    entries: Int32Array.from(entries),
    steps: entries.length,
    endsTerminal: mdp.terminal[states[states.length - 1]] === 1,
  };
}

/** A segment: start from mdp.start, `length` uniformly random actions, stop at a terminal. */
export function sampleSegment(mdp: TabularMdp, length: number, rng: Rng): TabularSegment {
  if (!(Number.isInteger(length) && length >= 1)) throw new RangeError(`sampleSegment: length must be a positive integer, got ${length}`);
  const states = [sampleIndex(mdp.start, rng.uniform())];
  const actions: number[] = [];
  const entries: number[] = [];
  for (let t = 0; t < length; t++) {
    const s = states[t];
    if (mdp.terminal[s]) break;
    const a = rng.int(mdp.nActions);
    const sa = s * mdp.nActions + a;
    const e = sampleIndex(mdp.prob, rng.uniform(), mdp.saStart[sa], mdp.saStart[sa + 1]);
    actions.push(a);
    entries.push(e);
    states.push(mdp.next[e]);
  }
  return tabularSegment(mdp, states, actions, entries);
}

/**
 * The segment of a given action sequence from `start` (first outcome of each (s, a): exact
 * for deterministic MDPs); stops early at a terminal state.
 */
export function segmentFromActions(mdp: TabularMdp, start: number, actions: readonly number[]): TabularSegment {
  const states = [start];
  const taken: number[] = [];
  const entries: number[] = [];
  for (const a of actions) {
    const s = states[states.length - 1];
    if (mdp.terminal[s]) break;
    const e = mdp.saStart[s * mdp.nActions + a];
    taken.push(a);
    entries.push(e);
    states.push(mdp.next[e]);
  }
  return tabularSegment(mdp, states, taken, entries);
}

/** n pairs of independently sampled segments. */
export function samplePairs(mdp: TabularMdp, n: number, length: number, rng: Rng): SegmentPair[] {
  return Array.from({ length: n }, () => ({ a: sampleSegment(mdp, length, rng), b: sampleSegment(mdp, length, rng) }));
}

/** Per-step rewards r_t = reward[entries[t]] of a segment [steps]. */
export function segmentRewards(seg: TabularSegment, reward: ArrayLike<number>): Float64Array {
  return Float64Array.from(seg.entries, (e) => reward[e]);
}

/** Regret of a segment under reward [T] and its optimal values v [S] (deterministic dynamics). */
export function segmentRegret(mdp: TabularMdp, seg: TabularSegment, reward: ArrayLike<number>, v: ArrayLike<number>): number {
  return regret({
    rewards: segmentRewards(seg, reward),
    valueStart: v[seg.states[0]],
    valueEnd: v[seg.states[seg.steps]],
    gamma: mdp.gamma,
    endsTerminal: seg.endsTerminal,
  });
}

export interface OracleOptions {
  /** Rationality: Infinity = deterministic (ties 0.5); finite > 0 = Bradley-Terry sampling. */
  readonly beta: number;
  /** |statistic(a) - statistic(b)| <= tieTolerance is a tie when deterministic. */
  readonly tieTolerance: number;
}

export const ORACLE_DEFAULTS: OracleOptions = { beta: Infinity, tieTolerance: 1e-9 };

/** The true-reward quantities every run needs: V*, J(pi*), J(random). */
export interface WorldReference {
  readonly vStar: Float64Array;
  readonly jOptimal: number;
  readonly jRandom: number;
}

export function worldReference(world: GridWorld): WorldReference {
  const { mdp, trueReward } = world;
  const opt = policyIteration(mdp, trueReward);
  return {
    vStar: opt.v,
    jOptimal: expectedReturn(mdp, greedyPolicy(mdp, opt.q), trueReward),
    jRandom: expectedReturn(mdp, uniformRandomPolicy(mdp), trueReward),
  };
}

/**
 * Oracle labels P(first preferred) [n] in {0, 0.5, 1} for pairs under the TRUE reward.
 * `rng` is needed for a finite beta; pair i draws from rng.fork(i).
 */
export function labelPairs(world: GridWorld, ref: WorldReference, pairs: readonly SegmentPair[], source: PreferenceSource, opts: OracleOptions = ORACLE_DEFAULTS, rng?: Rng): Float64Array {
  if (!(opts.beta > 0)) throw new RangeError(`labelPairs: beta must be > 0 (Infinity = deterministic), got ${opts.beta}`);
  if (opts.beta !== Infinity && !rng) throw new RangeError('labelPairs: a finite beta needs an rng');
  if (source === 'regret' && !world.mdp.deterministic) throw new RangeError('labelPairs: the regret oracle needs deterministic transitions');
  const { mdp, trueReward } = world;
  return Float64Array.from(pairs, (pair, i) => {
    // "Goodness" of each segment: higher is better (negated regret, or partial return).
    const good = (x: TabularSegment) => (source === 'regret' ? -segmentRegret(mdp, x, trueReward, ref.vStar) : partialReturn(segmentRewards(x, trueReward)));
    const ga = good(pair.a);
    const gb = good(pair.b);
    if (opts.beta === Infinity) return Math.abs(ga - gb) <= opts.tieTolerance ? 0.5 : ga > gb ? 1 : 0;
    const p = source === 'regret' ? regretProb(-ga, -gb, 1 / opts.beta) : partialReturnProb(ga, gb, 1 / opts.beta);
    return (rng as Rng).fork(i).bernoulli(p) ? 1 : 0;
  });
}

export interface LearnOptions {
  /** Full-batch Adam steps. */
  readonly steps: number;
  /** Adam learning rate. */
  readonly lr: number;
  /** L2 penalty (l2 / 2) |w|^2 added to the mean NLL (keeps w finite on separable labels). */
  readonly l2: number;
  /** Standard deviation of the random normal init of w. */
  readonly initStd: number;
  /** Regret model: recompute V*_w exactly every this many steps (1 = every step). */
  readonly valueEvery: number;
}

/**
 * Defaults. l2 is deliberately weak: 1e-3 visibly shrinks the weakly identified weights (the
 * step cost, seen only through segments that end early) and biased the partial-return model
 * even under noisy labels; with 1e-5 both models' policies are stable between 1,000 and 3,000
 * steps (checked with gradNorm and the scaled return).
 */
export const LEARN_DEFAULTS: LearnOptions = { steps: 1000, lr: 0.1, l2: 1e-5, initStd: 0.1, valueEvery: 1 };

/** The features of one segment, precomputed for learning. */
interface SegmentFeatures {
  readonly start: number;
  readonly end: number;
  readonly endsTerminal: boolean;
  /** [steps, dim] per-step features. */
  readonly phi: Float64Array;
  /** [dim] sum_t gamma^t phi_t. */
  readonly discounted: Float64Array;
  /** [dim] sum_t phi_t. */
  readonly total: Float64Array;
  /** gamma^steps. */
  readonly endWeight: number;
}

function segmentFeatures(world: GridWorld, seg: TabularSegment): SegmentFeatures {
  const { dim, features, mdp } = world;
  const phi = new Float64Array(seg.steps * dim);
  const discounted = new Float64Array(dim);
  const total = new Float64Array(dim);
  let g = 1;
  for (let t = 0; t < seg.steps; t++) {
    for (let k = 0; k < dim; k++) {
      const x = features[seg.entries[t] * dim + k];
      phi[t * dim + k] = x;
      discounted[k] += g * x;
      total[k] += x;
    }
    g *= mdp.gamma;
  }
  return { start: seg.states[0], end: seg.states[seg.steps], endsTerminal: seg.endsTerminal, phi, discounted, total, endWeight: g };
}

export interface LearnResult {
  /** Learned weights [dim]. */
  readonly weights: Float64Array;
  /** Mean NLL (without the L2 term) at the returned weights. */
  readonly loss: number;
  /** Fraction of strict labels (0 or 1) whose logit has the right sign at the returned weights. */
  readonly trainAccuracy: number;
  /** Euclidean norm of the gradient of the regularised loss at the returned weights (convergence check). */
  readonly gradNorm: number;
}

/**
 * The mean Bradley-Terry NLL of one preference model over labelled pairs, as a function of
 * the reward weights w, with its gradient. For the regret model the optimal policy of the
 * learned reward (and so psi, V*_w = psi w) is recomputed only by `refresh(w)`; between
 * refreshes V_w(s) = psi(s) . w with the last policy's successor features.
 */
export class PreferenceObjective {
  readonly n: number;
  private readonly fa: SegmentFeatures[];
  private readonly fb: SegmentFeatures[];
  private actions: Int32Array | undefined;
  private psi: Float64Array = new Float64Array(0);

  constructor(
    private readonly world: GridWorld,
    pairs: readonly SegmentPair[],
    private readonly labels: ArrayLike<number>,
    readonly model: PreferenceModel,
  ) {
    if (labels.length !== pairs.length) throw new RangeError(`PreferenceObjective: ${labels.length} labels for ${pairs.length} pairs`);
    if (pairs.length === 0) throw new RangeError('PreferenceObjective: no pairs');
    if (model === 'regret' && !(world.mdp.gamma < 1)) throw new RangeError('PreferenceObjective: the regret model needs gamma < 1 (V* of a learned reward may be infinite otherwise)');
    this.fa = pairs.map((p) => segmentFeatures(world, p.a));
    this.fb = pairs.map((p) => segmentFeatures(world, p.b));
    this.n = pairs.length;
  }

  /** Regret model: recompute the optimal policy of r_w exactly (warm-started) and its psi. No-op otherwise. */
  refresh(w: ArrayLike<number>): void {
    if (this.model !== 'regret') return;
    const { mdp, features, dim } = this.world;
    const sol = solveLinearOptimal(mdp, features, dim, w, this.actions);
    this.actions = sol.actions;
    this.psi = sol.psi;
  }

  private value(s: number, w: ArrayLike<number>): number {
    const dim = this.world.dim;
    if (this.psi.length === 0) throw new Error('PreferenceObjective: call refresh(w) before using the regret model');
    let x = 0;
    for (let k = 0; k < dim; k++) x += this.psi[s * dim + k] * w[k];
    return x;
  }

  /** Regret of a segment under r_w: reward/preference.ts `regret` with the current V_w. */
  private segmentRegret(f: SegmentFeatures, w: ArrayLike<number>): number {
    return regret({
      rewards: linearReward(f.phi, this.world.dim, w),
      valueStart: this.value(f.start, w),
      valueEnd: f.endsTerminal ? 0 : this.value(f.end, w),
      gamma: this.world.mdp.gamma,
      endsTerminal: f.endsTerminal,
    });
  }

  /** Logit of "first preferred" for pair i: R_w(a) - R_w(b) or regret_w(b) - regret_w(a). */
  logit(i: number, w: ArrayLike<number>): number {
    const { fa, fb } = this;
    const dim = this.world.dim;
    if (this.model === 'regret') return this.segmentRegret(fb[i], w) - this.segmentRegret(fa[i], w);
    return partialReturn(linearReward(fa[i].phi, dim, w)) - partialReturn(linearReward(fb[i].phi, dim, w));
  }

  /** Adds c * d(logit_i)/dw to g (psi held fixed for the regret model: Danskin's theorem). */
  private addLogitGrad(i: number, c: number, g: Float64Array): void {
    const dim = this.world.dim;
    const fa = this.fa[i];
    const fb = this.fb[i];
    if (this.model === 'partial-return') {
      for (let k = 0; k < dim; k++) g[k] += c * (fa.total[k] - fb.total[k]);
      return;
    }
    // d regret(x)/dw = psi(s_0) - sum_t gamma^t phi_t - gamma^H psi(s_H) [non-terminal end].
    const psi = this.psi;
    for (const [f, sign] of [
      [fb, 1],
      [fa, -1],
    ] as const) {
      for (let k = 0; k < dim; k++) {
        let d = psi[f.start * dim + k] - f.discounted[k];
        if (!f.endsTerminal) d -= f.endWeight * psi[f.end * dim + k];
        g[k] += c * sign * d;
      }
    }
  }

  /** Mean NLL at w and its gradient [dim] (written into `grad` when given). */
  lossAndGrad(w: ArrayLike<number>, grad = new Float64Array(this.world.dim)): { loss: number; grad: Float64Array } {
    grad.fill(0);
    let loss = 0;
    for (let i = 0; i < this.n; i++) {
      const d = this.logit(i, w);
      loss += bradleyTerryNll(d, this.labels[i]);
      this.addLogitGrad(i, (sigmoid(d) - this.labels[i]) / this.n, grad);
    }
    return { loss: loss / this.n, grad };
  }

  /** Fraction of strict labels (0 or 1) whose logit at w has the right sign. */
  accuracy(w: ArrayLike<number>): number {
    let right = 0;
    let strict = 0;
    for (let i = 0; i < this.n; i++) {
      const y = this.labels[i];
      if (y !== 0 && y !== 1) continue;
      strict++;
      const d = this.logit(i, w);
      if ((y === 1 && d > 0) || (y === 0 && d < 0)) right++;
    }
    return strict > 0 ? right / strict : Number.NaN;
  }
}

/**
 * Learn linear reward weights from labelled pairs with one preference model (see the header):
 * full-batch Adam on PreferenceObjective + (l2 / 2) |w|^2. `rng` draws the init (pass the same
 * stream to both models for a paired comparison).
 */
export function learnReward(world: GridWorld, pairs: readonly SegmentPair[], labels: ArrayLike<number>, model: PreferenceModel, opts: LearnOptions, rng: Rng): LearnResult {
  if (!(Number.isInteger(opts.valueEvery) && opts.valueEvery >= 1)) throw new RangeError(`learnReward: valueEvery must be a positive integer, got ${opts.valueEvery}`);
  const objective = new PreferenceObjective(world, pairs, labels, model);
  const dim = world.dim;
  const w = new Float64Array(dim);
  for (let k = 0; k < dim; k++) w[k] = opts.initStd * rng.normal();
  const m = new Float64Array(dim);
  const v2 = new Float64Array(dim);
  const grad = new Float64Array(dim);
  const b1 = 0.9;
  const b2 = 0.999;
  for (let step = 1; step <= opts.steps; step++) {
    if ((step - 1) % opts.valueEvery === 0) objective.refresh(w);
    objective.lossAndGrad(w, grad);
    for (let k = 0; k < dim; k++) {
      const g = grad[k] + opts.l2 * w[k];
      m[k] = b1 * m[k] + (1 - b1) * g;
      v2[k] = b2 * v2[k] + (1 - b2) * g * g;
      w[k] -= (opts.lr * (m[k] / (1 - b1 ** step))) / (Math.sqrt(v2[k] / (1 - b2 ** step)) + 1e-8);
    }
  }
  objective.refresh(w);
  const { loss } = objective.lossAndGrad(w, grad);
  let g2 = 0;
  for (let k = 0; k < dim; k++) g2 += (grad[k] + opts.l2 * w[k]) ** 2;
  return { weights: w, loss, trainAccuracy: objective.accuracy(w), gradNorm: Math.sqrt(g2) };
}

export interface Evaluation {
  /** J(pi_w) under the true reward. */
  readonly jLearned: number;
  /** Mean scaled return: 1 optimal, 0 uniformly random. */
  readonly scaledReturn: number;
  /** Probability of ending on a goal (destination) cell within `horizon` steps from the start distribution. */
  readonly pGoal: number;
  /** Probability of ending on a sheep cell within `horizon` steps. */
  readonly pSheep: number;
}

/**
 * Where a policy's episodes end within `horizon` steps (diagnostic: a learned reward whose
 * optimal policy never finishes, or runs into sheep). Returns the probability mass absorbed in
 * goal and in sheep cells, propagating the start distribution step by step.
 */
export function terminalProbabilities(world: GridWorld, policy: Policy, horizon = 500): { pGoal: number; pSheep: number } {
  const { mdp, cells } = world;
  const { nStates: S, nActions: A, saStart, next, prob, terminal } = mdp;
  let d = Float64Array.from(mdp.start);
  let pGoal = 0;
  let pSheep = 0;
  for (let t = 0; t < horizon; t++) {
    const nd = new Float64Array(S);
    for (let s = 0; s < S; s++) {
      if (d[s] === 0 || terminal[s]) continue;
      for (let a = 0; a < A; a++) {
        const pa = d[s] * policy[s * A + a];
        if (pa === 0) continue;
        for (let e = saStart[s * A + a]; e < saStart[s * A + a + 1]; e++) nd[next[e]] += pa * prob[e];
      }
    }
    for (let s = 0; s < S; s++) {
      if (!terminal[s] || nd[s] === 0) continue;
      if (cells[s] === CELL_GOAL) pGoal += nd[s];
      else if (cells[s] === CELL_SHEEP) pSheep += nd[s];
      nd[s] = 0;
    }
    d = nd;
  }
  return { pGoal, pSheep };
}

/** Score weights w: the policy greedy on Q*_w (uniform over ties), evaluated under the true reward. */
export function evaluateWeights(world: GridWorld, ref: WorldReference, w: ArrayLike<number>): Evaluation {
  const { mdp } = world;
  const learned = policyIteration(mdp, linearReward(world.features, world.dim, w));
  const policy = greedyPolicy(mdp, learned.q);
  const jLearned = expectedReturn(mdp, policy, world.trueReward);
  return { jLearned, scaledReturn: scaledReturn(jLearned, ref.jOptimal, ref.jRandom), ...terminalProbabilities(world, policy) };
}

export interface ExperimentOptions {
  /** Preference-set sizes (nested prefixes of one sample of max(budgets) pairs). */
  readonly budgets: readonly number[];
  /** Actions per segment. */
  readonly segmentLength: number;
  readonly oracle: OracleOptions;
  readonly learn: LearnOptions;
  readonly sources: readonly PreferenceSource[];
  readonly models: readonly PreferenceModel[];
}

export const EXPERIMENT_DEFAULTS: ExperimentOptions = {
  budgets: [300, 1000, 3000],
  segmentLength: 3,
  oracle: ORACLE_DEFAULTS,
  learn: LEARN_DEFAULTS,
  sources: PREFERENCE_SOURCES,
  models: PREFERENCE_MODELS,
};

/** One cell of the experiment matrix for one world and seed. */
export interface RunRecord {
  readonly world: string;
  readonly seed: number;
  readonly source: PreferenceSource;
  readonly model: PreferenceModel;
  readonly budget: number;
  readonly scaledReturn: number;
  readonly jLearned: number;
  readonly jOptimal: number;
  readonly jRandom: number;
  /** Where the learned reward's policy ends episodes (terminalProbabilities). */
  readonly pGoal: number;
  readonly pSheep: number;
  /** Fraction of the pairs labelled 0.5. */
  readonly tieFraction: number;
  readonly trainLoss: number;
  readonly trainAccuracy: number;
  readonly gradNorm: number;
  readonly weights: number[];
}

/**
 * Every (source, model, budget) cell for one world and seed. Streams: pairs from
 * rng.fork('pairs'), stochastic labels from rng.fork('labels').fork(source), the learner init
 * from rng.fork('init') (the same init for every cell), with rng = new Rng(seed).fork(world.name)
 * supplied by the caller.
 */
export function runWorld(world: GridWorld, seed: number, rng: Rng, opts: ExperimentOptions = EXPERIMENT_DEFAULTS): RunRecord[] {
  return Array.from(worldRecords(world, seed, rng, opts));
}

/**
 * The records of `runWorld`, one at a time (each one reward fit and its evaluation): a caller may
 * let the event loop run between them (a Ctrl-C listener). The same records, in the same order.
 */
export function* worldRecords(world: GridWorld, seed: number, rng: Rng, opts: ExperimentOptions = EXPERIMENT_DEFAULTS): Generator<RunRecord> {
  const ref = worldReference(world);
  const maxBudget = Math.max(...opts.budgets);
  const pairs = samplePairs(world.mdp, maxBudget, opts.segmentLength, rng.fork('pairs'));
  for (const source of opts.sources) {
    const labels = labelPairs(world, ref, pairs, source, opts.oracle, rng.fork('labels').fork(source));
    for (const budget of opts.budgets) {
      const sub = pairs.slice(0, budget);
      const y = labels.subarray(0, budget);
      let ties = 0;
      for (const l of y) if (l === 0.5) ties++;
      for (const model of opts.models) {
        const fit = learnReward(world, sub, y, model, opts.learn, rng.fork('init'));
        const ev = evaluateWeights(world, ref, fit.weights);
        yield {
          world: world.name,
          seed,
          source,
          model,
          budget,
          scaledReturn: ev.scaledReturn,
          jLearned: ev.jLearned,
          jOptimal: ref.jOptimal,
          jRandom: ref.jRandom,
          pGoal: ev.pGoal,
          pSheep: ev.pSheep,
          tieFraction: ties / budget,
          trainLoss: fit.loss,
          trainAccuracy: fit.trainAccuracy,
          gradNorm: fit.gradNorm,
          weights: Array.from(fit.weights),
        };
      }
    }
  }
}
