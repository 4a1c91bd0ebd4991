/**
 * The math of PPO as pure functions with shapes in their docs (tested against hand-computed
 * numbers in test/agents/ppo_math.test.ts):
 *   - generalised advantage estimation (Schulman et al. 2016), with bootstrapping of truncated
 *     episodes;
 *   - the diagonal Gaussian policy's log-density and entropy, and their gradients;
 *   - the clipped surrogate objective and the clipped value loss (Schulman et al. 2017, as in
 *     CleanRL's ppo_continuous_action), each returning the loss and its gradient.
 */

const LOG_2PI = Math.log(2 * Math.PI);

export interface GaeResult {
  /** [T, N] advantages. */
  readonly advantages: Float32Array;
  /** [T, N] returns = advantages + values (the value targets). */
  readonly returns: Float32Array;
}

/**
 * GAE over a rollout of T steps of N envs (row-major [T, N]).
 * `dones[t, i]` = 1 when env i's episode ended at step t (terminated or truncated): the advantage
 * does not look past it. A truncated episode's lost future is folded into its last reward by the
 * caller (r += gamma * V(final obs)), so truncation bootstraps while termination does not.
 * `lastValues` [N] are V(s_T) for the observations after the last step.
 *   delta_t = r_t + gamma * V(s_{t+1}) * (1 - done_t) - V(s_t)
 *   A_t     = delta_t + gamma * lambda * (1 - done_t) * A_{t+1}
 */
export function gae(
  rewards: Float32Array,
  values: Float32Array,
  dones: Uint8Array,
  lastValues: Float32Array,
  T: number,
  N: number,
  gamma: number,
  lambda: number,
): GaeResult {
  const advantages = new Float32Array(T * N);
  const returns = new Float32Array(T * N);
  for (let i = 0; i < N; i++) {
    let last = 0;
    for (let t = T - 1; t >= 0; t--) {
      const k = t * N + i;
      const notDone = 1 - dones[k];
      const nextValue = t === T - 1 ? lastValues[i] : values[k + N];
      const delta = rewards[k] + gamma * nextValue * notDone - values[k];
      last = delta + gamma * lambda * notDone * last;
      advantages[k] = last;
      returns[k] = last + values[k];
    }
  }
  return { advantages, returns };
}

/**
 * CleanRL's linear learning-rate annealing, lr0 * (1 - (iteration - 1) / iterations), written
 * over env steps: lr0 * max(0, 1 - stepsBefore / totalSteps), where `stepsBefore` counts the env
 * steps collected before this update's rollout (warm-up steps included). The first update uses
 * lr0; with totalSteps = K rollouts of B steps the last one uses lr0 * B / totalSteps.
 */
export function annealedLr(lr0: number, stepsBefore: number, totalSteps: number): number {
  return lr0 * Math.max(0, 1 - stepsBefore / totalSteps);
}

/**
 * Fold the value of a truncated episode's final observation into its last reward, in place:
 *   r_t <- r_t + gamma * V(s_final)   where dones[t] = 1 and terminated[t] = 0,
 * so GAE, which does not look past any episode end, still bootstraps a time-limit cut
 * (Pardo et al. 2018, "Time limits in reinforcement learning") while a termination earns
 * nothing after it. `finalValues` [T, N] holds V(s_final) at those steps (read nowhere else).
 */
export function bootstrapTruncated(rewards: Float32Array, dones: Uint8Array, terminated: Uint8Array, finalValues: Float32Array, gamma: number): void {
  for (let k = 0; k < rewards.length; k++) if (dones[k] === 1 && terminated[k] !== 1) rewards[k] += gamma * finalValues[k];
}

/**
 * Log-density of actions under N(mean, exp(logStd)^2) per dimension, summed over dimensions.
 * mean, actions: [n, d]; logStd: [d]. Returns [n].
 */
export function gaussianLogProb(mean: Float32Array, logStd: Float32Array, actions: Float32Array, n: number, d: number, out: Float32Array = new Float32Array(n)): Float32Array {
  let norm = 0;
  for (let j = 0; j < d; j++) norm += logStd[j] + 0.5 * LOG_2PI;
  for (let r = 0; r < n; r++) {
    let s = 0;
    for (let j = 0; j < d; j++) {
      const z = (actions[r * d + j] - mean[r * d + j]) / Math.exp(logStd[j]);
      s += z * z;
    }
    out[r] = -0.5 * s - norm;
  }
  return out;
}

/** Entropy of the diagonal Gaussian (the same for every state): sum_j (0.5 + 0.5 log 2 pi + logStd_j). */
export function gaussianEntropy(logStd: Float32Array): number {
  let h = 0;
  for (let j = 0; j < logStd.length; j++) h += 0.5 + 0.5 * LOG_2PI + logStd[j];
  return h;
}

export interface PolicyLoss {
  /** Clipped surrogate loss (to minimise), mean over the batch. */
  readonly loss: number;
  /** d loss / d logProb_new, [n]. */
  readonly dLogProb: Float32Array;
  /** Mean of (ratio - 1) - log ratio, the KL estimator CleanRL logs. */
  readonly approxKl: number;
  /** Fraction of samples whose ratio was outside [1 - clip, 1 + clip]. */
  readonly clipFraction: number;
}

/**
 * PPO's clipped surrogate: L = mean_i max(-A_i r_i, -A_i clip(r_i, 1-c, 1+c)),
 * r_i = exp(logp_new_i - logp_old_i). The gradient flows through r only where the unclipped
 * term is the larger one (or r is inside the clip range): dL/dlogp_i = -A_i r_i / n there, 0 else.
 */
export function clippedSurrogate(newLogProb: Float32Array, oldLogProb: Float32Array, adv: Float32Array, n: number, clip: number): PolicyLoss {
  const dLogProb = new Float32Array(n);
  let loss = 0;
  let kl = 0;
  let clipped = 0;
  for (let i = 0; i < n; i++) {
    const logRatio = newLogProb[i] - oldLogProb[i];
    const r = Math.exp(logRatio);
    const a = adv[i];
    const rc = r < 1 - clip ? 1 - clip : r > 1 + clip ? 1 + clip : r;
    const unclippedTerm = -a * r;
    const clippedTerm = -a * rc;
    const inside = r >= 1 - clip && r <= 1 + clip;
    if (unclippedTerm >= clippedTerm) {
      loss += unclippedTerm;
      dLogProb[i] = (-a * r) / n;
    } else {
      loss += clippedTerm;
      dLogProb[i] = inside ? (-a * r) / n : 0;
    }
    kl += r - 1 - logRatio;
    if (!inside) clipped++;
  }
  return { loss: loss / n, dLogProb, approxKl: kl / n, clipFraction: clipped / n };
}

export interface ValueLoss {
  readonly loss: number;
  /** d loss / d value_new, [n]. */
  readonly dValue: Float32Array;
}

/**
 * Value loss 0.5 * mean(max((v - R)^2, (v_old + clip(v - v_old, -c, c) - R)^2)) when `clip` is
 * set (CleanRL's clip_vloss), or 0.5 * mean((v - R)^2) when it is null.
 */
export function valueLoss(v: Float32Array, vOld: Float32Array, returns: Float32Array, n: number, clip: number | null): ValueLoss {
  const dValue = new Float32Array(n);
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const err = v[i] - returns[i];
    const lu = err * err;
    if (clip === null) {
      loss += lu;
      dValue[i] = err / n;
      continue;
    }
    const dv = v[i] - vOld[i];
    const dvc = dv < -clip ? -clip : dv > clip ? clip : dv;
    const errC = vOld[i] + dvc - returns[i];
    const lc = errC * errC;
    if (lu >= lc) {
      loss += lu;
      dValue[i] = err / n;
    } else {
      loss += lc;
      dValue[i] = dv > -clip && dv < clip ? errC / n : 0;
    }
  }
  return { loss: (0.5 * loss) / n, dValue };
}

/** Normalise advantages in place to zero mean and unit std (std + 1e-8), as CleanRL per minibatch. */
export function normalizeInPlace(x: Float32Array, n = x.length): void {
  let m = 0;
  for (let i = 0; i < n; i++) m += x[i];
  m /= n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (x[i] - m) ** 2;
  // torch's std() is the unbiased estimator
  const sd = Math.sqrt(v / Math.max(1, n - 1));
  for (let i = 0; i < n; i++) x[i] = (x[i] - m) / (sd + 1e-8);
}
