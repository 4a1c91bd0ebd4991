/**
 * Preference models and preference losses on plain numbers: the single documented reference
 * for the math that teachers, metrics and the tensor losses (written elsewhere) implement.
 *
 * Conventions
 * - A pair is (a, b); "first" is a. P = P(a > b) = P(first preferred).
 * - Labels are probabilities y = probFirst in [0, 1]: 1 first, 0 second, 0.5 equally good
 *   (soft labels in between are allowed).
 * - Temperature T > 0 scales the statistic difference: P = sigmoid(diff / T). The rationality
 *   beta of Christiano et al. / B-Pref / Knox et al. is beta = 1 / T (T -> 0 is argmax).
 *
 * Models
 * 1. Partial return (Christiano et al. 2017; Bradley-Terry):
 *      R(seg) = sum_{t=0}^{H-1} r_t,   P(a > b) = sigmoid((R(a) - R(b)) / T).
 * 2. Regret (Knox et al. 2022, "Models of human preference for learning reward functions"),
 *    for known optimal values V* and deterministic transitions:
 *      regret(seg) = V*(s_0) - (sum_{t=0}^{H-1} gamma^t r_t + gamma^H V*(s_H)),
 *    with V*(s_H) = 0 when s_H is terminal;  P(a > b) = sigmoid((regret(b) - regret(a)) / T).
 *    Lower regret is better. Equivalently regret(seg) = -sum_t gamma^t A*(s_t, a_t) (the
 *    discounted sum of optimal advantages, negated).
 * 3. Optimal-advantage form of the regret model for learned deep models (Knox et al.,
 *    "Learning optimal advantage from preferences and mistaking it for reward"; Hejna et al.,
 *    CPL): the network outputs a per-step score f(s_t, a_t) read as the optimal advantage
 *    A*(s_t, a_t), so its summed output over a segment is the negated regret:
 *      -regret(seg) ~= sum_t f(s_t, a_t),   P(a > b) = sigmoid((sum_t f(a_t) - sum_t f(b_t)) / T).
 *    The loss on network outputs is therefore exactly the partial-return loss (sum the
 *    per-step outputs, Bradley-Terry on the difference); only the reading of the learned
 *    function changes: it is an optimal advantage, not a reward. An agent uses it by acting
 *    greedily on it (pi(s) = argmax_a f(s, a); CPL instead learns the policy directly with
 *    f = alpha log pi), or, as the follow-up analyses do, by using it as a reward for an RL
 *    algorithm: A* is a highly shaped reward (0 for optimal actions, negative otherwise) whose
 *    maximising policies are the optimal ones, but an approximate A-hat used this way is
 *    sensitive to discounting and episode length. `advantageProb` below is
 *    `partialReturnProb` under that reading.
 *
 * Losses (on a logit d = diff / T, i.e. P = sigmoid(d)):
 * - Bradley-Terry NLL with soft labels:
 *     L(d, y) = -(y log sigmoid(d) + (1 - y) log sigmoid(-d)) = softplus(d) - y d.
 * - Label smoothing with strength e in [0, 1]: y_s = (1 - e) y + e / 2, then L(d, y_s).
 * - Noise-robust NLL for a known flip rate rho in [0, 0.5): the teacher reports the opposite
 *   of its belief with probability rho, so the observed preference probability is
 *     P_obs = (1 - rho) P + rho (1 - P),   L = -(y log P_obs + (1 - y) log(1 - P_obs)).
 *   (rho = 0 gives the plain NLL.)
 */
import { logSigmoid, sigmoid } from '../core/math.js';

/** Smallest probability used when a loss is computed from a probability instead of a logit. */
export const PROB_EPS = 1e-7;

function checkTemperature(temperature: number, where: string): void {
  if (!(temperature > 0)) throw new RangeError(`${where}: temperature must be > 0, got ${temperature}`);
}

/** Undiscounted sum of rewards (the partial return R of a segment). */
export function partialReturn(rewards: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < rewards.length; i++) s += rewards[i];
  return s;
}

/** sum_{t=0}^{H-1} gamma^t r_t. */
export function discountedReturn(rewards: ArrayLike<number>, gamma = 1): number {
  let s = 0;
  let w = 1;
  for (let i = 0; i < rewards.length; i++) {
    s += w * rewards[i];
    w *= gamma;
  }
  return s;
}

/**
 * Partial-return model: P(a > b) = sigmoid((R(a) - R(b)) / T).
 * Example: R(a) = 3, R(b) = 1, T = 1 -> sigmoid(2) = 0.8808.
 */
export function partialReturnProb(returnA: number, returnB: number, temperature = 1): number {
  checkTemperature(temperature, 'partialReturnProb');
  return sigmoid((returnA - returnB) / temperature);
}

/** Inputs of the regret statistic of one segment. */
export interface RegretInput {
  /** r_0 .. r_{H-1} of the segment. */
  readonly rewards: ArrayLike<number>;
  /** V*(s_0). */
  readonly valueStart: number;
  /** V*(s_H); ignored (taken as 0) when `endsTerminal`. */
  readonly valueEnd: number;
  /** Discount gamma in [0, 1] (default 1). */
  readonly gamma?: number;
  /** s_H is terminal, so V*(s_H) = 0. */
  readonly endsTerminal?: boolean;
}

/**
 * regret(seg) = V*(s_0) - (sum_t gamma^t r_t + gamma^H V*(s_H)), V*(s_H) = 0 if terminal.
 * Example: r = [1, 2], gamma = 0.5, V(s_0) = 4, V(s_2) = 6:
 *   4 - (1 + 0.5 * 2 + 0.25 * 6) = 4 - 3.5 = 0.5; terminal end: 4 - 2 = 2.
 */
export function regret(input: RegretInput): number {
  const gamma = input.gamma ?? 1;
  const h = input.rewards.length;
  const end = input.endsTerminal ? 0 : input.valueEnd;
  return input.valueStart - (discountedReturn(input.rewards, gamma) + gamma ** h * end);
}

/**
 * Regret model: P(a > b) = sigmoid((regret(b) - regret(a)) / T) (lower regret preferred).
 * Example: regret(a) = 0.5, regret(b) = 2, T = 1 -> sigmoid(1.5) = 0.8176.
 */
export function regretProb(regretA: number, regretB: number, temperature = 1): number {
  checkTemperature(temperature, 'regretProb');
  return sigmoid((regretB - regretA) / temperature);
}

/**
 * Optimal-advantage form of the regret model (see the header): the summed per-step
 * outputs of a learned A-hat over each segment are negated regrets, so
 * P(a > b) = sigmoid((sumA - sumB) / T), the same function as partial return.
 */
export function advantageProb(sumAdvantageA: number, sumAdvantageB: number, temperature = 1): number {
  return partialReturnProb(sumAdvantageA, sumAdvantageB, temperature);
}

/**
 * Bradley-Terry NLL with a soft label, from a logit d (P(first) = sigmoid(d)):
 *   L(d, y) = -(y log sigmoid(d) + (1 - y) log sigmoid(-d)).
 * Stable for any |d|. Example: d = 2, y = 1 -> -log(0.8808) = 0.1269; y = 0.5 -> 1.1269.
 */
export function bradleyTerryNll(logit: number, probFirst: number): number {
  checkLabel(probFirst, 'bradleyTerryNll');
  return -(probFirst * logSigmoid(logit) + (1 - probFirst) * logSigmoid(-logit));
}

/**
 * The same loss from a probability P(first) (clamped to [PROB_EPS, 1 - PROB_EPS] so a
 * confident wrong prediction costs about 16.1 instead of Infinity).
 */
export function bradleyTerryNllFromProb(pFirst: number, probFirst: number): number {
  checkLabel(probFirst, 'bradleyTerryNllFromProb');
  const p = Math.min(1 - PROB_EPS, Math.max(PROB_EPS, pFirst));
  return -(probFirst * Math.log(p) + (1 - probFirst) * Math.log(1 - p));
}

/** Label smoothing: (1 - e) y + e / 2. Example: y = 1, e = 0.1 -> 0.95. */
export function smoothLabel(probFirst: number, eps: number): number {
  checkLabel(probFirst, 'smoothLabel');
  if (!(eps >= 0 && eps <= 1)) throw new RangeError(`smoothLabel: eps must be in [0, 1], got ${eps}`);
  return (1 - eps) * probFirst + eps / 2;
}

/** Bradley-Terry NLL against the smoothed label (1 - e) y + e / 2. */
export function smoothedNll(logit: number, probFirst: number, eps: number): number {
  return bradleyTerryNll(logit, smoothLabel(probFirst, eps));
}

/** P_obs = (1 - rho) P + rho (1 - P): the probability of observing "first" under flip rate rho. */
export function flipNoiseProb(pFirst: number, rho: number): number {
  if (!(rho >= 0 && rho < 0.5)) throw new RangeError(`flipNoiseProb: rho must be in [0, 0.5), got ${rho}`);
  return (1 - rho) * pFirst + rho * (1 - pFirst);
}

/**
 * Noise-robust NLL for a known flip rate rho, from a logit d:
 *   P = sigmoid(d), P_obs = (1 - rho) P + rho (1 - P), L = -(y log P_obs + (1 - y) log(1 - P_obs)).
 * For rho = 0 this is bradleyTerryNll. Example: d = 2, y = 1, rho = 0.1:
 *   P_obs = 0.9 * 0.8808 + 0.1 * 0.1192 = 0.8046, L = -log(0.8046) = 0.2174.
 */
export function noisyNll(logit: number, probFirst: number, rho: number): number {
  checkLabel(probFirst, 'noisyNll');
  if (rho === 0) return bradleyTerryNll(logit, probFirst);
  // 1 - P_obs = (1 - rho) (1 - P) + rho P, computed directly (no cancellation).
  const p = sigmoid(logit);
  const q = sigmoid(-logit);
  const pObs = flipNoiseProb(p, rho);
  const qObs = (1 - rho) * q + rho * p;
  return -(probFirst * Math.log(pObs) + (1 - probFirst) * Math.log(qObs));
}

/** Mean of `loss(logits[i], labels[i])` over a batch (equal lengths, n > 0). */
export function meanLoss(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  loss: (logit: number, probFirst: number) => number = bradleyTerryNll,
): number {
  if (logits.length !== labels.length) throw new RangeError(`meanLoss: ${logits.length} logits but ${labels.length} labels`);
  if (logits.length === 0) throw new RangeError('meanLoss: empty batch');
  let s = 0;
  for (let i = 0; i < logits.length; i++) s += loss(logits[i], labels[i]);
  return s / logits.length;
}

/** Binary entropy (nats) of P(first): -p ln p - (1 - p) ln(1 - p); 0 at p in {0, 1}. */
export function binaryEntropy(p: number): number {
  const h = (x: number) => (x > 0 ? -x * Math.log(x) : 0);
  return h(p) + h(1 - p);
}

function checkLabel(y: number, where: string): void {
  if (!(y >= 0 && y <= 1)) throw new RangeError(`${where}: probFirst must be in [0, 1], got ${y}`);
}
