/**
 * Finite MDPs and exact dynamic programming for the tabular preference experiments
 * (Knox et al. 2022, "Models of human preference for learning reward functions").
 *
 * Representation
 * - States 0..S-1, actions 0..A-1 (every action available in every non-terminal state).
 * - Transitions are stored compressed by (s, a): the outcomes of (s, a) are the entries
 *   saStart[s*A + a] .. saStart[s*A + a + 1] - 1 of `next` (s') and `prob` (P(s' | s, a)).
 *   One entry is one (s, a, s') triple, so a reward function is a Float64Array with one
 *   value per entry ([T], T = number of entries): r(s, a, s').
 * - Terminal states have no outgoing entries and value 0: entering one ends the episode
 *   (the reward of the entering transition is still paid).
 * - `start` is the start-state distribution [S] (zero on terminal states); J(pi) is the
 *   expected discounted return from it.
 *
 * Algorithms (all exact up to floating point or a stated tolerance)
 * - valueIteration: Bellman optimality sweeps until the largest change is below `tol`.
 * - evaluatePolicy / successorFeatures: solve (I - gamma P_pi) X = B over the non-terminal
 *   states by Gaussian elimination with partial pivoting (S is at most a few hundred here).
 *   With gamma = 1 this needs a proper policy (terminates with probability 1); otherwise the
 *   system is singular and a RangeError is thrown.
 * - policyIteration: exact V* and Q* as the fixed point of evaluate-and-improve, optionally
 *   warm-started from a previous policy (the learning loop calls it every step). With gamma = 1
 *   it starts from a policy that ends its episodes (not action 0, which may bump into a wall
 *   forever) and needs every policy on the way to end them.
 * - solveLinearOptimal: policy iteration for a reward linear in per-transition features,
 *   r = Phi w; returns the successor features psi^pi* (s) with V*(s) = psi^pi*(s) . w, which
 *   is also the gradient of V*_w(s) with respect to w wherever the optimal policy is unique
 *   (V*_w = max_pi psi^pi . w, Danskin's theorem).
 */

/** A finite MDP without its reward (rewards are passed per call: r(s, a, s') per entry). */
export interface TabularMdp {
  readonly nStates: number;
  readonly nActions: number;
  /** [S*A + 1] offsets into next/prob; entries of (s, a) are saStart[s*A+a] .. saStart[s*A+a+1]-1. */
  readonly saStart: Int32Array;
  /** [T] successor state of each entry. */
  readonly next: Int32Array;
  /** [T] probability of each entry; sums to 1 over the entries of each (s, a) of a non-terminal s. */
  readonly prob: Float64Array;
  /** [S] 1 for terminal (absorbing, value 0) states. */
  readonly terminal: Uint8Array;
  /** Discount in [0, 1]. */
  readonly gamma: number;
  /** [S] start-state distribution (sums to 1, zero on terminal states). */
  readonly start: Float64Array;
  /** True when every (s, a) has a single successor. */
  readonly deterministic: boolean;
}

/** One outcome of (s, a) when building an MDP. */
export interface Outcome {
  readonly next: number;
  readonly prob: number;
  /** r(s, a, s'); default 0. */
  readonly reward?: number;
}

export interface MdpSpec {
  readonly nStates: number;
  readonly nActions: number;
  readonly gamma: number;
  /** [S] terminal flags. */
  readonly terminal: ArrayLike<boolean | number>;
  /** [S] start-state distribution; default uniform over non-terminal states. */
  readonly start?: ArrayLike<number>;
  /** Outcomes of action a in non-terminal state s (not called for terminal states). */
  outcomes(s: number, a: number): readonly Outcome[];
}

/** Build an MDP and its reward vector [T] from a spec (validates probabilities and indices). */
export function buildMdp(spec: MdpSpec): { mdp: TabularMdp; reward: Float64Array } {
  const { nStates: S, nActions: A, gamma } = spec;
  if (!(Number.isInteger(S) && S > 0 && Number.isInteger(A) && A > 0)) throw new RangeError(`buildMdp: need positive integer sizes, got S=${S}, A=${A}`);
  if (!(gamma >= 0 && gamma <= 1)) throw new RangeError(`buildMdp: gamma must be in [0, 1], got ${gamma}`);
  if (spec.terminal.length !== S) throw new RangeError(`buildMdp: terminal has ${spec.terminal.length} entries, expected ${S}`);
  const terminal = Uint8Array.from({ length: S }, (_, s) => (spec.terminal[s] ? 1 : 0));
  const saStart = new Int32Array(S * A + 1);
  const next: number[] = [];
  const prob: number[] = [];
  const reward: number[] = [];
  let deterministic = true;
  for (let s = 0; s < S; s++) {
    for (let a = 0; a < A; a++) {
      saStart[s * A + a] = next.length;
      if (terminal[s]) continue;
      const outs = spec.outcomes(s, a);
      if (outs.length === 0) throw new RangeError(`buildMdp: state ${s} action ${a} has no outcomes`);
      if (outs.length > 1) deterministic = false;
      let total = 0;
      for (const o of outs) {
        if (!(Number.isInteger(o.next) && o.next >= 0 && o.next < S)) throw new RangeError(`buildMdp: state ${s} action ${a}: successor ${o.next} outside 0..${S - 1}`);
        if (!(o.prob > 0 && o.prob <= 1)) throw new RangeError(`buildMdp: state ${s} action ${a}: probability ${o.prob} not in (0, 1]`);
        total += o.prob;
        next.push(o.next);
        prob.push(o.prob);
        reward.push(o.reward ?? 0);
      }
      if (Math.abs(total - 1) > 1e-9) throw new RangeError(`buildMdp: state ${s} action ${a}: probabilities sum to ${total}`);
    }
  }
  saStart[S * A] = next.length;
  let start: Float64Array;
  if (spec.start) {
    if (spec.start.length !== S) throw new RangeError(`buildMdp: start has ${spec.start.length} entries, expected ${S}`);
    start = Float64Array.from(spec.start);
  } else {
    start = new Float64Array(S);
    for (let s = 0; s < S; s++) if (!terminal[s]) start[s] = 1;
  }
  let z = 0;
  for (let s = 0; s < S; s++) {
    if (start[s] < 0 || (terminal[s] && start[s] !== 0)) throw new RangeError(`buildMdp: start probability of state ${s} must be >= 0 and 0 on terminal states`);
    z += start[s];
  }
  if (!(z > 0)) throw new RangeError('buildMdp: the start distribution has no mass');
  for (let s = 0; s < S; s++) start[s] /= z;
  return {
    mdp: { nStates: S, nActions: A, saStart, next: Int32Array.from(next), prob: Float64Array.from(prob), terminal, gamma, start, deterministic },
    reward: Float64Array.from(reward),
  };
}

/** Number of (s, a, s') entries T of an MDP (the length of a reward vector). */
export function entryCount(mdp: TabularMdp): number {
  return mdp.saStart[mdp.nStates * mdp.nActions];
}

function checkReward(mdp: TabularMdp, reward: ArrayLike<number>, where: string): void {
  if (reward.length !== entryCount(mdp)) throw new RangeError(`${where}: reward has ${reward.length} entries, the MDP has ${entryCount(mdp)}`);
}

/**
 * r(s, a, s') = phi(s, a, s') . w for features [T, dim] row-major. Returns [T]. Any rows times w
 * alike: a segment's step features (its rewards), successor features psi [S, dim] (V = psi w).
 */
export function linearReward(features: Float64Array, dim: number, w: ArrayLike<number>): Float64Array {
  if (w.length !== dim || features.length % dim !== 0) throw new RangeError(`linearReward: ${w.length} weights for features of width ${dim} (${features.length} values)`);
  const n = features.length / dim;
  const r = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let v = 0;
    for (let k = 0; k < dim; k++) v += features[i * dim + k] * w[k];
    r[i] = v;
  }
  return r;
}

/** Q(s, a) = sum_s' P(s'|s,a) (r(s,a,s') + gamma V(s')) [S*A]; rows of terminal states are 0. */
export function qFromV(mdp: TabularMdp, reward: ArrayLike<number>, v: ArrayLike<number>, out = new Float64Array(mdp.nStates * mdp.nActions)): Float64Array {
  const { nStates: S, nActions: A, saStart, next, prob, gamma } = mdp;
  for (let sa = 0; sa < S * A; sa++) {
    let q = 0;
    for (let e = saStart[sa]; e < saStart[sa + 1]; e++) q += prob[e] * (reward[e] + gamma * v[next[e]]);
    out[sa] = q;
  }
  return out;
}

export interface ValueIterationOptions {
  /** Stop when max_s |V_{k+1}(s) - V_k(s)| < tol (default 1e-10). */
  readonly tol?: number;
  /** Give up (RangeError) after this many sweeps (default 100000). */
  readonly maxIterations?: number;
  /** Initial values [S] (default 0). */
  readonly v0?: ArrayLike<number>;
}

export interface OptimalSolution {
  /** V*(s) [S] (0 on terminal states). */
  readonly v: Float64Array;
  /** Q*(s, a) [S*A] (0 on terminal states). */
  readonly q: Float64Array;
  /** Sweeps (value iteration) or improvement rounds (policy iteration). */
  readonly iterations: number;
}

/**
 * Value iteration: V_{k+1}(s) = max_a sum_s' P(s'|s,a) (r(s,a,s') + gamma V_k(s')), in place
 * (Gauss-Seidel order, which converges to the same fixed point), until the largest change of
 * a sweep is below tol. With gamma < 1 the error after stopping is at most
 * tol * gamma / (1 - gamma).
 */
export function valueIteration(mdp: TabularMdp, reward: ArrayLike<number>, opts: ValueIterationOptions = {}): OptimalSolution {
  checkReward(mdp, reward, 'valueIteration');
  const tol = opts.tol ?? 1e-10;
  const maxIterations = opts.maxIterations ?? 100_000;
  const { nStates: S, nActions: A, saStart, next, prob, terminal, gamma } = mdp;
  const v = new Float64Array(S);
  if (opts.v0) for (let s = 0; s < S; s++) v[s] = terminal[s] ? 0 : opts.v0[s];
  for (let it = 1; it <= maxIterations; it++) {
    let delta = 0;
    for (let s = 0; s < S; s++) {
      if (terminal[s]) continue;
      let best = -Infinity;
      for (let a = 0; a < A; a++) {
        let q = 0;
        for (let e = saStart[s * A + a]; e < saStart[s * A + a + 1]; e++) q += prob[e] * (reward[e] + gamma * v[next[e]]);
        if (q > best) best = q;
      }
      const d = Math.abs(best - v[s]);
      if (d > delta) delta = d;
      v[s] = best;
    }
    if (!Number.isFinite(delta)) throw new RangeError('valueIteration: values diverged');
    if (delta < tol) return { v, q: qFromV(mdp, reward, v), iterations: it };
  }
  throw new RangeError(`valueIteration: no convergence to ${tol} in ${maxIterations} sweeps (gamma = 1 with a non-terminating optimal policy?)`);
}

/** A stochastic policy: pi(a | s) as [S*A] row-major (rows of terminal states are ignored). */
export type Policy = Float64Array;

/** The uniformly random policy: pi(a | s) = 1 / A. */
export function uniformRandomPolicy(mdp: TabularMdp): Policy {
  return new Float64Array(mdp.nStates * mdp.nActions).fill(1 / mdp.nActions);
}

/** The deterministic policy taking actions[s] in state s, as a Policy. */
export function deterministicPolicy(mdp: TabularMdp, actions: ArrayLike<number>): Policy {
  const pi = new Float64Array(mdp.nStates * mdp.nActions);
  for (let s = 0; s < mdp.nStates; s++) pi[s * mdp.nActions + actions[s]] = 1;
  return pi;
}

/** Tolerance under which two action values count as tied: tieTolerance * (1 + max |Q|). */
function tieScale(q: ArrayLike<number>, tieTolerance: number): number {
  let m = 0;
  for (let i = 0; i < q.length; i++) m = Math.max(m, Math.abs(q[i]));
  return tieTolerance * (1 + m);
}

/**
 * Greedy policy for Q: uniform over the actions within tieTolerance * (1 + max|Q|) of the
 * best action of each state (so a reward that cannot tell actions apart yields the random
 * policy rather than an arbitrary index-ordered one). Default tolerance 1e-9.
 */
export function greedyPolicy(mdp: TabularMdp, q: ArrayLike<number>, tieTolerance = 1e-9): Policy {
  const { nStates: S, nActions: A } = mdp;
  const tol = tieScale(q, tieTolerance);
  const pi = new Float64Array(S * A);
  for (let s = 0; s < S; s++) {
    let best = -Infinity;
    for (let a = 0; a < A; a++) best = Math.max(best, q[s * A + a]);
    let n = 0;
    for (let a = 0; a < A; a++) if (q[s * A + a] >= best - tol) n++;
    for (let a = 0; a < A; a++) if (q[s * A + a] >= best - tol) pi[s * A + a] = 1 / n;
  }
  return pi;
}

/** First maximising action of each state [S] (0 for terminal states). */
export function greedyActions(mdp: TabularMdp, q: ArrayLike<number>): Int32Array {
  const { nStates: S, nActions: A } = mdp;
  const out = new Int32Array(S);
  for (let s = 0; s < S; s++) {
    let best = 0;
    for (let a = 1; a < A; a++) if (q[s * A + a] > q[s * A + best]) best = a;
    out[s] = best;
  }
  return out;
}

/**
 * Solve A X = B in place by Gaussian elimination with partial pivoting.
 * A: [n, n] row-major (destroyed), B: [n, k] row-major (overwritten with X).
 */
export function solveLinear(a: Float64Array, n: number, b: Float64Array, k: number): Float64Array {
  if (a.length !== n * n || b.length !== n * k) throw new RangeError(`solveLinear: shapes [${a.length}] and [${b.length}] do not match n=${n}, k=${k}`);
  for (let c = 0; c < n; c++) {
    let p = c;
    let pv = Math.abs(a[c * n + c]);
    for (let r = c + 1; r < n; r++) {
      const x = Math.abs(a[r * n + c]);
      if (x > pv) {
        pv = x;
        p = r;
      }
    }
    if (!(pv > 1e-12)) throw new RangeError('solveLinear: singular system (with gamma = 1: a policy that never terminates?)');
    if (p !== c) {
      for (let j = 0; j < n; j++) {
        const t = a[c * n + j];
        a[c * n + j] = a[p * n + j];
        a[p * n + j] = t;
      }
      for (let j = 0; j < k; j++) {
        const t = b[c * k + j];
        b[c * k + j] = b[p * k + j];
        b[p * k + j] = t;
      }
    }
    const inv = 1 / a[c * n + c];
    for (let r = c + 1; r < n; r++) {
      const f = a[r * n + c] * inv;
      if (f === 0) continue;
      for (let j = c; j < n; j++) a[r * n + j] -= f * a[c * n + j];
      for (let j = 0; j < k; j++) b[r * k + j] -= f * b[c * k + j];
    }
  }
  for (let c = n - 1; c >= 0; c--) {
    const inv = 1 / a[c * n + c];
    for (let j = 0; j < k; j++) {
      let x = b[c * k + j];
      for (let m = c + 1; m < n; m++) x -= a[c * n + m] * b[m * k + j];
      b[c * k + j] = x * inv;
    }
  }
  return b;
}

/**
 * Solve X = Y_pi + gamma P_pi X over non-terminal states (X = 0 on terminal states) for a
 * per-entry quantity y [T, k] row-major: Y_pi(s) = sum_a pi(a|s) sum_s' P(s'|s,a) y(s,a,s').
 * Returns X [S, k]. k = 1 with y = r gives V^pi; y = features gives successor features.
 */
function solvePolicyValues(mdp: TabularMdp, policy: ArrayLike<number>, y: ArrayLike<number>, k: number): Float64Array {
  const { nStates: S, nActions: A, saStart, next, prob, terminal, gamma } = mdp;
  if (policy.length !== S * A) throw new RangeError(`policy has ${policy.length} entries, expected ${S * A}`);
  const row = new Int32Array(S).fill(-1);
  let n = 0;
  for (let s = 0; s < S; s++) if (!terminal[s]) row[s] = n++;
  const out = new Float64Array(S * k);
  if (n === 0) return out;
  const m = new Float64Array(n * n);
  const b = new Float64Array(n * k);
  for (let s = 0; s < S; s++) {
    const i = row[s];
    if (i < 0) continue;
    m[i * n + i] += 1;
    for (let a = 0; a < A; a++) {
      const pa = policy[s * A + a];
      if (pa === 0) continue;
      for (let e = saStart[s * A + a]; e < saStart[s * A + a + 1]; e++) {
        const w = pa * prob[e];
        for (let j = 0; j < k; j++) b[i * k + j] += w * y[e * k + j];
        const jn = row[next[e]];
        if (jn >= 0) m[i * n + jn] -= gamma * w;
      }
    }
  }
  solveLinear(m, n, b, k);
  for (let s = 0; s < S; s++) if (row[s] >= 0) for (let j = 0; j < k; j++) out[s * k + j] = b[row[s] * k + j];
  return out;
}

/** Exact V^pi(s) [S] for reward [T] (linear solve; gamma = 1 needs a proper policy). */
export function evaluatePolicy(mdp: TabularMdp, policy: Policy, reward: ArrayLike<number>): Float64Array {
  checkReward(mdp, reward, 'evaluatePolicy');
  return solvePolicyValues(mdp, policy, reward, 1);
}

/** Successor features psi^pi(s) = E[sum_t gamma^t phi_t | s_0 = s] [S, dim] for features [T, dim]. */
export function successorFeatures(mdp: TabularMdp, policy: Policy, features: Float64Array, dim: number): Float64Array {
  if (features.length !== entryCount(mdp) * dim) throw new RangeError(`successorFeatures: features have ${features.length} values, expected ${entryCount(mdp)} x ${dim}`);
  return solvePolicyValues(mdp, policy, features, dim);
}

/** J = sum_s start(s) V(s). */
export function startValue(mdp: TabularMdp, v: ArrayLike<number>): number {
  let j = 0;
  for (let s = 0; s < mdp.nStates; s++) j += mdp.start[s] * v[s];
  return j;
}

/** Expected discounted return J(pi) from the start distribution under reward [T]. */
export function expectedReturn(mdp: TabularMdp, policy: Policy, reward: ArrayLike<number>): number {
  return startValue(mdp, evaluatePolicy(mdp, policy, reward));
}

/**
 * Improve `actions` in place greedily w.r.t. q, switching only on a strict improvement of more
 * than tol (so policy iteration cannot cycle between tied actions). Returns the number changed.
 */
function improve(mdp: TabularMdp, q: Float64Array, actions: Int32Array, tol: number): number {
  const { nStates: S, nActions: A, terminal } = mdp;
  let changed = 0;
  for (let s = 0; s < S; s++) {
    if (terminal[s]) continue;
    let best = actions[s];
    for (let a = 0; a < A; a++) if (q[s * A + a] > q[s * A + best]) best = a;
    if (best !== actions[s] && q[s * A + best] > q[s * A + actions[s]] + tol) {
      actions[s] = best;
      changed++;
    }
  }
  return changed;
}

export interface PolicyIterationResult extends OptimalSolution {
  /** An optimal deterministic policy [S]. */
  readonly actions: Int32Array;
}

/**
 * The policy that policy iteration starts from when the caller gives none: action 0 everywhere
 * when gamma < 1. With gamma = 1 that policy may never end its episode (bumping into a wall
 * forever), whose linear system is singular although V* is finite; there the start is the
 * policy greedy on Q of the uniformly random policy, which ends its episode wherever every state
 * can reach a terminal state, and improving a policy that ends its episodes keeps it so when every
 * cycle of states costs something (the stochastic-shortest-path condition).
 */
function startActions(mdp: TabularMdp, reward: ArrayLike<number>, where: string): Int32Array {
  if (mdp.gamma < 1) return new Int32Array(mdp.nStates);
  const v = undiscounted(mdp, where, () => evaluatePolicy(mdp, uniformRandomPolicy(mdp), reward));
  return greedyActions(mdp, qFromV(mdp, reward, v));
}

/** Runs a policy evaluation; at gamma = 1 a singular system becomes an error that says what it means here. */
function undiscounted<T>(mdp: TabularMdp, where: string, f: () => T): T {
  if (mdp.gamma < 1) return f();
  try {
    return f();
  } catch (e) {
    if (!(e instanceof RangeError && /singular/.test(e.message))) throw e;
    throw new RangeError(
      `${where}: with gamma = 1 a policy on the way never ends its episode (a state that cannot reach a terminal state, or a cycle of states worth >= 0 under this reward), so its values are not finite; use gamma < 1`,
    );
  }
}

/**
 * Policy iteration: evaluate the current deterministic policy exactly, improve greedily, stop
 * when no state improves by more than 1e-10 (1 + max|Q|). `init` warm-starts from a previous
 * policy [S]; without it the start is action 0 everywhere (gamma < 1) or, with gamma = 1, a
 * policy that ends its episodes (startActions). With gamma = 1 every policy on the way must end
 * its episodes, else a RangeError says so.
 */
export function policyIteration(mdp: TabularMdp, reward: ArrayLike<number>, init?: ArrayLike<number>, maxIterations = 1000): PolicyIterationResult {
  checkReward(mdp, reward, 'policyIteration');
  const actions = init ? Int32Array.from(init) : startActions(mdp, reward, 'policyIteration');
  const q = new Float64Array(mdp.nStates * mdp.nActions);
  for (let it = 1; it <= maxIterations; it++) {
    const v = undiscounted(mdp, 'policyIteration', () => evaluatePolicy(mdp, deterministicPolicy(mdp, actions), reward));
    qFromV(mdp, reward, v, q);
    if (improve(mdp, q, actions, tieScale(q, 1e-10)) === 0) return { v, q, actions, iterations: it };
  }
  throw new RangeError(`policyIteration: no convergence in ${maxIterations} rounds`);
}

export interface LinearOptimalResult extends PolicyIterationResult {
  /** Successor features of the returned optimal policy [S, dim]; V*(s) = psi(s) . w. */
  readonly psi: Float64Array;
}

/**
 * Exact V*, Q* and an optimal policy for r = Phi w (features [T, dim]) by policy iteration on
 * successor features: each round solves psi^pi once and reads V^pi = psi^pi w. The returned psi
 * is the gradient of V*_w with respect to w where the optimal policy is unique.
 */
export function solveLinearOptimal(mdp: TabularMdp, features: Float64Array, dim: number, w: ArrayLike<number>, init?: ArrayLike<number>, maxIterations = 1000): LinearOptimalResult {
  const reward = linearReward(features, dim, w);
  const S = mdp.nStates;
  const actions = init ? Int32Array.from(init) : startActions(mdp, reward, 'solveLinearOptimal');
  const q = new Float64Array(S * mdp.nActions);
  for (let it = 1; it <= maxIterations; it++) {
    const psi = undiscounted(mdp, 'solveLinearOptimal', () => successorFeatures(mdp, deterministicPolicy(mdp, actions), features, dim));
    // V^pi = psi^pi w, one row of psi per state.
    const v = linearReward(psi, dim, w);
    qFromV(mdp, reward, v, q);
    if (improve(mdp, q, actions, tieScale(q, 1e-10)) === 0) return { v, q, actions, psi, iterations: it };
  }
  throw new RangeError(`solveLinearOptimal: no convergence in ${maxIterations} rounds`);
}

/**
 * Mean scaled return (Knox et al.): (J(pi) - J(random)) / (J(pi*) - J(random)); 1 for an
 * optimal policy, 0 for the uniformly random one. Throws when J(pi*) = J(random) (undefined).
 */
export function scaledReturn(j: number, jOptimal: number, jRandom: number): number {
  const gap = jOptimal - jRandom;
  if (!(gap > 1e-12 * (1 + Math.abs(jOptimal)))) throw new RangeError(`scaledReturn: J(pi*) = ${jOptimal} does not exceed J(random) = ${jRandom}`);
  return (j - jRandom) / gap;
}
