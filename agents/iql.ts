/**
 * Implicit Q-Learning (Kostrikov, Nair & Levine, "Offline Reinforcement Learning with Implicit
 * Q-Learning", ICLR 2022), following CORL's single-file implementation
 * (tinkoff-ai/CORL, algorithms/offline/iql.py) update for update:
 *
 *   per update, on a batch of 256 transitions sampled uniformly with replacement:
 *   1. v' = V(s')                                   (before this update's V step)
 *   2. V step:  u = min(Q1_targ, Q2_targ)(s, a) - V(s);  L_V = mean(|tau - 1(u < 0)| u^2)
 *      (expectile regression, tau = 0.7); the advantage A = u is kept for step 4
 *   3. Q step:  y = r + gamma (1 - terminal) v';  L_Q = (mse(Q1(s, a), y) + mse(Q2(s, a), y)) / 2,
 *      then Polyak averaging of the target Q networks, theta_targ <- (1 - 0.005) theta_targ + 0.005 theta
 *   4. actor step: w = min(exp(beta A), 100) with beta = 3;  L_pi = mean(w * bc(s, a)) where
 *      bc = -log N(a; mu(s), sigma) summed over action dimensions (Gaussian actor) or
 *      |mu(s) - a|^2 (deterministic actor); the actor's learning rate follows a cosine decay
 *      lr_k = lr (1 + cos(pi k / K)) / 2 over the K updates (PyTorch's CosineAnnealingLR).
 *   Networks: Q1, Q2 [obs + act, 256, 256, 1], V [obs, 256, 256, 1], actor [obs, 256, 256, act],
 *   ReLU hidden layers, PyTorch's default nn.Linear initialisation; one Adam (lr 3e-4, betas
 *   0.9/0.999, eps 1e-8) per network; discount 0.99.
 *   Actor (CORL's GaussianPolicy): mu(s) = tanh(MLP(s)) mapped onto the action box (CORL
 *   multiplies by max_action; identical on the [-1, 1] boxes of every prefrl env), a
 *   state-independent log-std (initialised at 0, clamped to [-20, 2]); it acts with the mean
 *   (CORL evaluates in eval() mode, which returns the mean), clipped to the box.
 *   Observations are normalised with the dataset's mean and std (+ 1e-3), as CORL's
 *   `normalize: true`, in training and evaluation.
 *   Reward scaling (CORL's `modify_reward` for locomotion, the IQL paper's choice):
 *   r <- r x H / (max episode return - min episode return), H the max episode steps (CORL uses
 *   1000, the D4RL locomotion horizon; here the dataset's horizon, 1000 when unknown), min and
 *   max over the episodes that end with a terminal or timeout flag. `rewardScaling: 'none'`
 *   turns it off.
 *
 * Deviations, each for a reason:
 *   - CORL's per-dataset YAML configs differ from its dataclass defaults (e.g. hopper
 *     medium-replay uses the deterministic actor, target rate 0.001 and reward scaling; the
 *     halfcheetah configs use the Gaussian actor without reward scaling). The defaults here are
 *     the dataclass defaults plus the paper's locomotion reward scaling; every one is a field.
 *   - the twin Q networks have one Adam each (CORL: one over both). Adam keeps per-parameter
 *     state and the loss is a sum over the two, so the update is the same.
 *   - D4RL's qlearning_dataset drops the last step of every timed-out episode (old files had no
 *     next observation for it); datasets here store next_observations, so those steps are kept
 *     and bootstrap (only terminals stop bootstrapping, as in CORL).
 *   - tensors: TensorFlow.js with the custom-gradient dense layer of core/nn.ts (identical
 *     gradients, fast matMuls on the WASM backend).
 *
 * Rewards come from the dataset (the env's true reward) or any RewardFn, e.g. the ensemble mean
 * of a learned reward model (see scripts/commands/iql.ts). Evaluation runs deterministic
 * episodes in the simulator and reports the mean true return, and a D4RL-style normalised
 * score 100 (R - R_random) / (R_expert - R_random) when reference returns are given.
 */
import * as tf from '@tensorflow/tfjs';
import { warnWithoutBackend } from '../core/backend.js';
import type { Clock } from '../core/clock.js';
import { systemClock } from '../core/clock.js';
import { shownValue } from '../core/errors.js';
import type { Metrics } from '../core/log.js';
import { DenseStack, ScheduledAdam, transposeRows } from '../core/nn.js';
import { Rng } from '../core/rng.js';
import type { Env } from '../envs/types.js';
import { episodeRanges, type OfflineDataset, transitionBatch } from './dataset.js';
import { type EvaluationResult, evaluatePolicy, evaluatePolicyAsync } from './ppo.js';
import { f32ToBase64, type RewardFn } from './types.js';
// The saved actor (plain numbers, no tensors) is in agents/actor_snapshot.ts, which commands that
// only run a saved policy load without TensorFlow.js.
import { type ActorJson, type ActorKind, ActorSnapshot } from './actor_snapshot.js';
export { type ActorJson, type ActorKind, ActorSnapshot } from './actor_snapshot.js';

// ---------------------------------------------------------------------------------------
// Config

export interface IqlConfig {
  /** Gradient updates (CORL's max_timesteps; also the length of the actor's cosine schedule). */
  readonly updates: number;
  /** Transitions per batch, for every network. */
  readonly batchSize: number;
  /** Discount gamma. */
  readonly discount: number;
  /** Polyak rate of the target Q networks (CORL's tau). */
  readonly targetRate: number;
  /** Expectile of the value regression (CORL's iql_tau). */
  readonly expectile: number;
  /** Inverse temperature of the advantage weights: small -> BC, large -> maximise Q. */
  readonly beta: number;
  /** Upper clip of the advantage weights exp(beta A). */
  readonly maxWeight: number;
  /** Adam learning rates. */
  readonly actorLr: number;
  readonly qLr: number;
  readonly vLr: number;
  /** Cosine decay of the actor's learning rate to 0 over `updates`. */
  readonly actorCosine: boolean;
  /** Hidden layer widths of every network. */
  readonly hidden: readonly number[];
  /** Gaussian (mean + state-independent log-std, NLL loss) or deterministic (squared error). */
  readonly actor: ActorKind;
  /** Clamp of the Gaussian actor's log-std. */
  readonly logStdMin: number;
  readonly logStdMax: number;
  /** Normalise observations with the dataset's mean and std. */
  readonly normalizeObs: boolean;
  /** Added to the observation std (CORL's eps). */
  readonly obsStdEps: number;
  /** 'locomotion': r x H / (max - min episode return) (CORL, IQL paper); 'none': raw rewards. */
  readonly rewardScaling: 'locomotion' | 'none';
  /** H of the reward scaling; null: the dataset's horizon, 1000 when it has none. */
  readonly rewardScaleSteps: number | null;
  readonly seed: number;
}

export const IQL_DEFAULTS: IqlConfig = {
  updates: 1_000_000,
  batchSize: 256,
  discount: 0.99,
  targetRate: 0.005,
  expectile: 0.7,
  beta: 3.0,
  maxWeight: 100,
  actorLr: 3e-4,
  qLr: 3e-4,
  vLr: 3e-4,
  actorCosine: true,
  hidden: [256, 256],
  actor: 'gaussian',
  logStdMin: -20,
  logStdMax: 2,
  normalizeObs: true,
  obsStdEps: 1e-3,
  rewardScaling: 'locomotion',
  rewardScaleSteps: null,
  seed: 0,
};

export function resolveIqlConfig(partial: Partial<IqlConfig> = {}): IqlConfig {
  const c = { ...IQL_DEFAULTS, ...Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined)) } as IqlConfig;
  const posInt = (k: keyof IqlConfig) => {
    const v = c[k] as number;
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`IqlConfig.${k} must be a positive integer, got ${v}`);
  };
  posInt('updates');
  posInt('batchSize');
  if (!(c.expectile > 0 && c.expectile < 1)) throw new RangeError(`IqlConfig.expectile must be in (0, 1), got ${c.expectile}`);
  if (!(c.targetRate > 0 && c.targetRate <= 1)) throw new RangeError(`IqlConfig.targetRate must be in (0, 1], got ${c.targetRate}`);
  if (!c.hidden.every((h) => Number.isInteger(h) && h > 0)) throw new RangeError(`IqlConfig.hidden must be positive integers, got ${shownValue(c.hidden)}`);
  // A NaN discount, temperature or learning rate trained on NaN without a word; a negative beta
  // weights the worst actions most.
  const bad = (k: keyof IqlConfig, what: string): never => {
    throw new RangeError(`IqlConfig.${k} must be ${what}, got ${shownValue(c[k])}`);
  };
  if (!(typeof c.discount === 'number' && c.discount >= 0 && c.discount <= 1)) bad('discount', 'a number in [0, 1]');
  for (const k of ['beta', 'actorLr', 'qLr', 'vLr', 'obsStdEps'] as const) if (!(Number.isFinite(c[k]) && c[k] >= 0)) bad(k, 'a finite number >= 0');
  if (!(typeof c.maxWeight === 'number' && c.maxWeight > 0)) bad('maxWeight', 'a number > 0');
  if (!(Number.isFinite(c.logStdMin) && Number.isFinite(c.logStdMax) && c.logStdMin < c.logStdMax)) bad('logStdMin', `a finite number below logStdMax (${shownValue(c.logStdMax)})`);
  if (c.actor !== 'gaussian' && c.actor !== 'deterministic') bad('actor', "'gaussian' or 'deterministic'");
  if (c.rewardScaling !== 'locomotion' && c.rewardScaling !== 'none') bad('rewardScaling', "'locomotion' or 'none'");
  if (c.rewardScaleSteps !== null && !(typeof c.rewardScaleSteps === 'number' && c.rewardScaleSteps > 0 && Number.isFinite(c.rewardScaleSteps))) bad('rewardScaleSteps', 'null or a finite number > 0');
  if (!Number.isFinite(c.seed)) bad('seed', 'a finite number');
  return c;
}

// ---------------------------------------------------------------------------------------
// The math, as pure functions (shapes in the comments)

/**
 * Expectile (asymmetric squared) loss of residuals u [B] or [B, 1]:
 * mean(|tau - 1(u < 0)| * u^2). The weight is tau for u > 0 and 1 - tau for u < 0 (at u = 0 the
 * term is 0 either way); written with step() so the graph is differentiable in u.
 */
export function expectileLoss(u: tf.Tensor, tau: number): tf.Scalar {
  return tf.tidy(() => {
    const w = tf.add(1 - tau, tf.mul(2 * tau - 1, tf.step(u, 0)));
    return tf.mean(tf.mul(w, tf.square(u))) as tf.Scalar;
  });
}

/** Advantage weights min(exp(beta A), maxWeight) for A [B] (no gradient flows into A). */
export function advantageWeights(adv: tf.Tensor, beta: number, maxWeight: number): tf.Tensor {
  return tf.tidy(() => tf.minimum(tf.exp(tf.mul(adv, beta)), maxWeight));
}

/**
 * Negative log-likelihood of actions a [B, A] under N(mu [B, A], diag exp(logStd [A])^2),
 * summed over action dimensions: [B].
 */
export function gaussianNll(mu: tf.Tensor2D, logStd: tf.Tensor1D, a: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const z = tf.mul(tf.sub(a, mu), tf.exp(tf.neg(logStd)));
    const perDim = tf.add(tf.add(tf.mul(0.5, tf.square(z)), logStd), 0.5 * Math.log(2 * Math.PI));
    return tf.sum(perDim, 1) as tf.Tensor1D;
  });
}

/** Squared error summed over action dimensions: |mu - a|^2 [B] for mu, a [B, A]. */
export function squaredError(mu: tf.Tensor2D, a: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.sum(tf.square(tf.sub(mu, a)), 1) as tf.Tensor1D);
}

/**
 * Cosine decay lr_k = lr0 (1 + cos(pi k / K)) / 2 for update k of K (PyTorch's
 * CosineAnnealingLR with T_max = K, eta_min = 0; k is clamped to [0, K]).
 */
export function cosineLr(lr0: number, k: number, total: number): number {
  const t = Math.min(Math.max(k, 0), total);
  return (lr0 * (1 + Math.cos((Math.PI * t) / total))) / 2;
}

/** theta_targ <- (1 - rate) theta_targ + rate theta, variable by variable. */
export function polyakUpdate(target: DenseStack, source: DenseStack, rate: number): void {
  const tv = target.variables();
  const sv = source.variables();
  if (tv.length !== sv.length) throw new RangeError('polyakUpdate: networks of different shapes');
  tf.tidy(() => {
    tv.forEach((t, i) => t.assign(tf.add(tf.mul(t, 1 - rate), tf.mul(sv[i], rate))));
  });
}

// ---------------------------------------------------------------------------------------
// Data: rewards, reward scaling, observation normalisation, batches

/** Rewards for every transition of a dataset: the stored (true) ones or a reward function's. */
export function datasetRewards(ds: OfflineDataset, source: 'true' | RewardFn): Float64Array {
  if (source === 'true') return ds.rewards;
  const r = source(transitionBatch(ds), ds.rewards);
  if (r.length !== ds.size) throw new Error(`reward function returned ${r.length} rewards for ${ds.size} transitions`);
  for (let i = 0; i < r.length; i++) if (!Number.isFinite(r[i])) throw new Error(`reward function returned ${r[i]} for transition ${i}`);
  return Float64Array.from(r);
}

/**
 * CORL's locomotion reward scale H / (max - min episode return), over the episodes that end
 * with a terminal or timeout flag (all episodes when none does). 1 when all returns are equal.
 */
export function rewardScale(ds: OfflineDataset, rewards: ArrayLike<number>, steps: number): { scale: number; minReturn: number; maxReturn: number } {
  const eps = episodeRanges(ds);
  const done = eps.filter((e) => e.terminated || e.truncated);
  const use = done.length > 0 ? done : eps;
  let lo = Infinity;
  let hi = -Infinity;
  for (const e of use) {
    let s = 0;
    for (let t = e.start; t < e.start + e.length; t++) s += rewards[t];
    lo = Math.min(lo, s);
    hi = Math.max(hi, s);
  }
  return { scale: hi > lo ? steps / (hi - lo) : 1, minReturn: lo, maxReturn: hi };
}

/** A dataset made ready for training: normalised observations, scaled rewards, done flags. */
export interface OfflineData {
  readonly n: number;
  readonly obsDim: number;
  readonly actDim: number;
  /** [n, obsDim] normalised */
  readonly obs: Float32Array;
  /** [n, obsDim] normalised */
  readonly nextObs: Float32Array;
  /** [n, actDim] */
  readonly actions: Float32Array;
  /** [n] scaled */
  readonly rewards: Float32Array;
  /** [n] 1 where s' is terminal */
  readonly dones: Float32Array;
  /** Normalisation of raw observations: (obs - obsMean) / obsStd. */
  readonly obsMean: Float32Array;
  readonly obsStd: Float32Array;
  /** The factor applied to the rewards. */
  readonly rewardScale: number;
}

export interface PrepareOptions {
  readonly normalizeObs: boolean;
  readonly obsStdEps: number;
  readonly rewardScaling: 'locomotion' | 'none';
  /** H of the reward scaling (see IqlConfig.rewardScaleSteps). */
  readonly rewardScaleSteps: number | null;
}

export function prepareOfflineData(ds: OfflineDataset, rewards: ArrayLike<number>, o: PrepareOptions): OfflineData {
  const { size: n, obsDim: D } = ds;
  const mean = new Float32Array(D);
  const std = new Float32Array(D).fill(1);
  if (o.normalizeObs) {
    // Population mean and std in float64 (numpy's states.mean(0), states.std(0)), plus eps.
    const m = new Float64Array(D);
    const v = new Float64Array(D);
    for (let i = 0; i < n; i++) for (let j = 0; j < D; j++) m[j] += ds.observations[i * D + j];
    for (let j = 0; j < D; j++) m[j] /= n;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < D; j++) {
        const d = ds.observations[i * D + j] - m[j];
        v[j] += d * d;
      }
    }
    for (let j = 0; j < D; j++) {
      mean[j] = m[j];
      std[j] = Math.sqrt(v[j] / n) + o.obsStdEps;
    }
  }
  const norm = (src: Float32Array) => {
    const out = new Float32Array(src.length);
    for (let i = 0; i < n; i++) for (let j = 0; j < D; j++) out[i * D + j] = (src[i * D + j] - mean[j]) / std[j];
    return out;
  };
  const steps = o.rewardScaleSteps ?? ds.meta.horizon ?? 1000;
  const scale = o.rewardScaling === 'locomotion' ? rewardScale(ds, rewards, steps).scale : 1;
  const r = new Float32Array(n);
  for (let i = 0; i < n; i++) r[i] = rewards[i] * scale;
  return {
    n,
    obsDim: D,
    actDim: ds.actDim,
    obs: norm(ds.observations),
    nextObs: norm(ds.nextObservations),
    actions: ds.actions,
    rewards: r,
    dones: Float32Array.from(ds.terminals),
    obsMean: mean,
    obsStd: std,
    rewardScale: scale,
  };
}

/** One batch in the layouts the networks take (row-major; xT = transposes for first layers). */
export interface OfflineBatch {
  readonly size: number;
  /** [B, D] and [D, B] */
  readonly obs: Float32Array;
  readonly obsT: Float32Array;
  /** [B, D + A] (s, a) rows and their transpose */
  readonly sa: Float32Array;
  readonly saT: Float32Array;
  /** [B, A] */
  readonly actions: Float32Array;
  /** [B] */
  readonly rewards: Float32Array;
  /** [B, D] */
  readonly nextObs: Float32Array;
  /** [B] */
  readonly dones: Float32Array;
}

/** Draws batches uniformly with replacement (CORL's np.random.randint) into reused buffers. */
export class BatchSampler {
  private readonly b: { -readonly [K in keyof OfflineBatch]: OfflineBatch[K] };
  constructor(
    readonly data: OfflineData,
    readonly size: number,
    private readonly rng: Rng,
  ) {
    const { obsDim: D, actDim: A } = data;
    const B = size;
    this.b = {
      size: B,
      obs: new Float32Array(B * D),
      obsT: new Float32Array(B * D),
      sa: new Float32Array(B * (D + A)),
      saT: new Float32Array(B * (D + A)),
      actions: new Float32Array(B * A),
      rewards: new Float32Array(B),
      nextObs: new Float32Array(B * D),
      dones: new Float32Array(B),
    };
  }

  /** The next batch (valid until the next call). */
  next(): OfflineBatch {
    const { data: d, b } = this;
    const { obsDim: D, actDim: A } = d;
    const W = D + A;
    for (let r = 0; r < this.size; r++) {
      const k = this.rng.int(d.n);
      const o = d.obs.subarray(k * D, (k + 1) * D);
      const a = d.actions.subarray(k * A, (k + 1) * A);
      b.obs.set(o, r * D);
      b.sa.set(o, r * W);
      b.sa.set(a, r * W + D);
      b.actions.set(a, r * A);
      b.nextObs.set(d.nextObs.subarray(k * D, (k + 1) * D), r * D);
      b.rewards[r] = d.rewards[k];
      b.dones[r] = d.dones[k];
    }
    transposeRows(b.obs, this.size, D, b.obsT);
    transposeRows(b.sa, this.size, W, b.saT);
    return b;
  }
}

// ---------------------------------------------------------------------------------------
// The actor (shared with BC)

export interface ActorOptions {
  readonly obsDim: number;
  readonly actDim: number;
  readonly hidden: readonly number[];
  readonly kind: ActorKind;
  /** Action box; the tanh output is mapped onto it. */
  readonly actLow: ArrayLike<number>;
  readonly actHigh: ArrayLike<number>;
  readonly logStdMin?: number;
  readonly logStdMax?: number;
}


function boxAffine(low: ArrayLike<number>, high: ArrayLike<number>): { center: Float32Array; half: Float32Array } {
  const n = low.length;
  const center = new Float32Array(n);
  const half = new Float32Array(n);
  for (let j = 0; j < n; j++) {
    if (!Number.isFinite(low[j]) || !Number.isFinite(high[j]) || !(high[j] > low[j])) {
      throw new RangeError(`actor: action dimension ${j} has bounds [${low[j]}, ${high[j]}]; a bounded box is needed (tanh output)`);
    }
    center[j] = (high[j] + low[j]) / 2;
    half[j] = (high[j] - low[j]) / 2;
  }
  return { center, half };
}

/**
 * The policy network: mu(s) = center + half * tanh(MLP(s)) on normalised observations, plus a
 * state-independent log-std for the Gaussian kind. Training uses the tensors; acting uses a
 * plain-JS snapshot (fast for one observation at a time).
 */
export class Actor {
  readonly net: DenseStack;
  readonly logStd: tf.Variable<tf.Rank.R1> | null;
  readonly kind: ActorKind;
  readonly obsDim: number;
  readonly actDim: number;
  readonly hidden: readonly number[];
  readonly actLow: Float32Array;
  readonly actHigh: Float32Array;
  readonly logStdMin: number;
  readonly logStdMax: number;
  /** Normalisation of raw observations, set from the training data. */
  obsMean: Float32Array;
  obsStd: Float32Array;
  private readonly center: tf.Tensor1D;
  private readonly half: tf.Tensor1D;

  constructor(o: ActorOptions, rng: Rng) {
    this.kind = o.kind;
    this.obsDim = o.obsDim;
    this.actDim = o.actDim;
    this.hidden = [...o.hidden];
    this.actLow = Float32Array.from(o.actLow);
    this.actHigh = Float32Array.from(o.actHigh);
    this.logStdMin = o.logStdMin ?? IQL_DEFAULTS.logStdMin;
    this.logStdMax = o.logStdMax ?? IQL_DEFAULTS.logStdMax;
    const { center, half } = boxAffine(o.actLow, o.actHigh);
    this.center = tf.keep(tf.tensor1d(center));
    this.half = tf.keep(tf.tensor1d(half));
    this.obsMean = new Float32Array(o.obsDim);
    this.obsStd = new Float32Array(o.obsDim).fill(1);
    const r = rng.fork('actor');
    this.net = new DenseStack([o.obsDim, ...o.hidden, o.actDim], 'relu', 'tanh', (out, lo, hi) => r.fillUniform(out, lo, hi));
    this.logStd = o.kind === 'gaussian' ? (tf.tidy(() => tf.variable(tf.zeros([o.actDim]), true)) as tf.Variable<tf.Rank.R1>) : null;
  }

  /** Trainable variables (network, then log-std). */
  variables(): tf.Variable[] {
    return this.logStd ? [...this.net.variables(), this.logStd] : this.net.variables();
  }

  /** Mean actions [B, A] for normalised observations x [B, D] (differentiable). */
  mean(x: tf.Tensor2D, xT?: tf.Tensor2D): tf.Tensor2D {
    return tf.add(this.center, tf.mul(this.half, this.net.apply(x, xT)));
  }

  /** Per-row behaviour-cloning loss [B]: Gaussian NLL or squared error to the actions a [B, A]. */
  bcLoss(x: tf.Tensor2D, xT: tf.Tensor2D, a: tf.Tensor2D): tf.Tensor1D {
    const mu = this.mean(x, xT);
    if (!this.logStd) return squaredError(mu, a);
    return gaussianNll(mu, tf.clipByValue(this.logStd, this.logStdMin, this.logStdMax), a);
  }

  /** A plain-JS copy of the current weights that acts (deterministically) without tensors. */
  snapshot(algo: string, meta?: Record<string, unknown>): ActorSnapshot {
    return ActorSnapshot.fromJSON(this.toJSON(algo, meta));
  }

  toJSON(algo: string, meta?: Record<string, unknown>): ActorJson {
    return {
      format: 'prefrl-offline-actor',
      version: 1,
      algo,
      kind: this.kind,
      obsDim: this.obsDim,
      actDim: this.actDim,
      hidden: [...this.hidden],
      actLow: Array.from(this.actLow),
      actHigh: Array.from(this.actHigh),
      obsMean: Array.from(this.obsMean),
      obsStd: Array.from(this.obsStd),
      weights: this.net.getWeights().map(f32ToBase64),
      logStd: this.logStd ? Array.from(this.logStd.dataSync()) : null,
      ...(meta ? { meta } : {}),
    };
  }

  dispose(): void {
    this.net.dispose();
    this.logStd?.dispose();
    this.center.dispose();
    this.half.dispose();
  }
}


// ---------------------------------------------------------------------------------------
// IQL

/** Anything trained from offline batches that yields an actor (IQL, BC). */
export interface OfflineLearner {
  readonly algo: string;
  readonly actor: Actor;
  /** One update on a batch; returns the losses when `withMetrics` (reading them costs a sync). */
  update(batch: OfflineBatch, withMetrics: boolean): Metrics | null;
  dispose(): void;
}

export class Iql implements OfflineLearner {
  readonly algo = 'iql';
  readonly config: IqlConfig;
  readonly actor: Actor;
  readonly q1: DenseStack;
  readonly q2: DenseStack;
  readonly q1Target: DenseStack;
  readonly q2Target: DenseStack;
  readonly v: DenseStack;
  private readonly q1Opt: ScheduledAdam;
  private readonly q2Opt: ScheduledAdam;
  private readonly vOpt: ScheduledAdam;
  private readonly actorOpt: ScheduledAdam;
  /** Updates done so far. */
  updates = 0;

  constructor(obsDim: number, actDim: number, actLow: ArrayLike<number>, actHigh: ArrayLike<number>, config: Partial<IqlConfig> = {}) {
    warnWithoutBackend('IQL');
    const c = resolveIqlConfig(config);
    this.config = c;
    const rng = new Rng(c.seed).fork('iql-init');
    const fill = (key: string) => {
      const r = rng.fork(key);
      return (out: Float32Array, lo: number, hi: number) => r.fillUniform(out, lo, hi);
    };
    const qSizes = [obsDim + actDim, ...c.hidden, 1];
    this.q1 = new DenseStack(qSizes, 'relu', 'linear', fill('q1'));
    this.q2 = new DenseStack(qSizes, 'relu', 'linear', fill('q2'));
    // Targets start as copies (CORL: deepcopy), with their own, non-trainable variables.
    const zeros = (out: Float32Array) => out.fill(0);
    this.q1Target = new DenseStack(qSizes, 'relu', 'linear', zeros, false);
    this.q2Target = new DenseStack(qSizes, 'relu', 'linear', zeros, false);
    this.q1Target.copyFrom(this.q1);
    this.q2Target.copyFrom(this.q2);
    this.v = new DenseStack([obsDim, ...c.hidden, 1], 'relu', 'linear', fill('v'));
    this.actor = new Actor({ obsDim, actDim, hidden: c.hidden, kind: c.actor, actLow, actHigh, logStdMin: c.logStdMin, logStdMax: c.logStdMax }, rng);
    this.q1Opt = new ScheduledAdam(c.qLr);
    this.q2Opt = new ScheduledAdam(c.qLr);
    this.vOpt = new ScheduledAdam(c.vLr);
    this.actorOpt = new ScheduledAdam(c.actorLr);
  }

  /** The actor's learning rate for the next update. */
  get actorLr(): number {
    return this.config.actorCosine ? cosineLr(this.config.actorLr, this.updates, this.config.updates) : this.config.actorLr;
  }

  update(batch: OfflineBatch, withMetrics: boolean): Metrics | null {
    const c = this.config;
    const B = batch.size;
    const D = this.actor.obsDim;
    const W = D + this.actor.actDim;
    // The advantage leaves the V step's gradient scope (tf.keep) and is freed in `finally`.
    const kept: { adv?: tf.Tensor } = {};
    try {
      const out = tf.tidy((): tf.Tensor | undefined => {
        const obs = tf.tensor2d(batch.obs, [B, D]);
        const obsT = tf.tensor2d(batch.obsT, [D, B]);
        const sa = tf.tensor2d(batch.sa, [B, W]);
        const saT = tf.tensor2d(batch.saT, [W, B]);
        const act = tf.tensor2d(batch.actions, [B, this.actor.actDim]);
        const rew = tf.tensor2d(batch.rewards, [B, 1]);
        const done = tf.tensor2d(batch.dones, [B, 1]);
        const next = tf.tensor2d(batch.nextObs, [B, D]);

        // 1. v' from the V network before its update; targets from the target Q networks.
        const nextV = this.v.predict(next);
        const targetQ = tf.minimum(this.q1Target.predict(sa), this.q2Target.predict(sa));

        // 2. V: expectile regression towards min target Q; keep the advantage for the actor.
        const vStep = tf.variableGrads(() => {
          const u = tf.sub(targetQ, this.v.apply(obs, obsT));
          kept.adv = tf.keep(tf.reshape(u, [B]));
          return expectileLoss(u, c.expectile);
        }, this.v.variables());
        this.vOpt.applyGradients(this.v.variables().map((x) => ({ name: x.name, tensor: vStep.grads[x.name] })));

        // 3. Q: regression to r + gamma (1 - done) v', both networks; then the targets follow.
        const y = tf.add(rew, tf.mul(tf.sub(1, done), tf.mul(c.discount, nextV)));
        const qVars = [...this.q1.variables(), ...this.q2.variables()];
        const qStep = tf.variableGrads(() => {
          const l1 = tf.mean(tf.square(tf.sub(this.q1.apply(sa, saT), y)));
          const l2 = tf.mean(tf.square(tf.sub(this.q2.apply(sa, saT), y)));
          return tf.div(tf.add(l1, l2), 2) as tf.Scalar;
        }, qVars);
        this.q1Opt.applyGradients(this.q1.variables().map((x) => ({ name: x.name, tensor: qStep.grads[x.name] })));
        this.q2Opt.applyGradients(this.q2.variables().map((x) => ({ name: x.name, tensor: qStep.grads[x.name] })));
        polyakUpdate(this.q1Target, this.q1, c.targetRate);
        polyakUpdate(this.q2Target, this.q2, c.targetRate);

        // 4. Actor: advantage-weighted behaviour cloning, cosine-decayed learning rate.
        const adv = kept.adv as tf.Tensor;
        const w = advantageWeights(adv, c.beta, c.maxWeight);
        const aVars = this.actor.variables();
        const aStep = tf.variableGrads(() => tf.mean(tf.mul(w, this.actor.bcLoss(obs, obsT, act))) as tf.Scalar, aVars);
        this.actorOpt.lr = this.actorLr;
        this.actorOpt.applyGradients(aVars.map((x) => ({ name: x.name, tensor: aStep.grads[x.name] })));
        if (!withMetrics) return undefined;
        return tf.stack([vStep.value, qStep.value, aStep.value, tf.mean(adv), tf.mean(w), tf.mean(targetQ)]);
      });
      this.updates++;
      if (!out) return null;
      const v = out.dataSync();
      out.dispose();
      return {
        'losses/value_loss': v[0],
        'losses/q_loss': v[1],
        'losses/actor_loss': v[2],
        'losses/advantage_mean': v[3],
        'losses/weight_mean': v[4],
        'losses/q_target_mean': v[5],
        'charts/actor_lr': this.actorOpt.lr,
      };
    } finally {
      kept.adv?.dispose();
    }
  }

  dispose(): void {
    for (const n of [this.q1, this.q2, this.q1Target, this.q2Target, this.v]) n.dispose();
    this.actor.dispose();
    for (const o of [this.q1Opt, this.q2Opt, this.vOpt, this.actorOpt]) o.dispose();
  }
}

// ---------------------------------------------------------------------------------------
// Training loop and evaluation (shared by IQL and BC)

/** Reference returns for the D4RL-style normalised score. */
export interface ReferenceReturns {
  readonly random: number;
  readonly expert: number;
}

/** 100 (R - R_random) / (R_expert - R_random). */
export function normalizedScore(ret: number, ref: ReferenceReturns): number {
  return (100 * (ret - ref.random)) / (ref.expert - ref.random);
}

export interface EvalResult {
  readonly update: number;
  readonly meanReturn: number;
  readonly returns: number[];
  readonly meanSuccess: number;
  readonly score: number | null;
}

export interface TrainOfflineOptions {
  readonly learner: OfflineLearner;
  readonly data: OfflineData;
  readonly updates: number;
  readonly batchSize: number;
  /** Seed of the batch sampler and of the evaluation episodes. */
  readonly seed: number;
  /** Env for deterministic evaluation episodes (none: no evaluation). */
  readonly evalEnv?: Env;
  /** Updates between evaluations (the last update is always evaluated). */
  readonly evalEvery?: number;
  readonly evalEpisodes?: number;
  readonly refReturns?: ReferenceReturns;
  /** Updates between loss logs. */
  readonly logEvery?: number;
  /** Called with metrics (losses every logEvery updates, eval/ after each evaluation). */
  readonly onMetrics?: (update: number, m: Metrics) => void;
  /** Called after every update (progress bars). */
  readonly onUpdate?: (done: number) => void;
  readonly clock?: Clock;
}

export interface TrainOfflineResult {
  readonly evals: EvalResult[];
  readonly final: EvalResult | null;
  readonly updatesPerSec: number;
  readonly seconds: number;
}

/** Deterministic evaluation of an actor: mean true return over fixed-seed episodes. */
export function evaluateActor(env: Env, actor: ActorSnapshot, episodes: number, seed: number, ref?: ReferenceReturns): Omit<EvalResult, 'update'> {
  return actorEval(evaluatePolicy(env, actor.policy(), episodes, seed), ref);
}

/** evaluateActor, giving the event loop a turn every EVAL_YIELD_STEPS env steps (evaluatePolicyAsync): Ctrl-C is heard during it. */
export async function evaluateActorAsync(env: Env, actor: ActorSnapshot, episodes: number, seed: number, ref?: ReferenceReturns): Promise<Omit<EvalResult, 'update'>> {
  return actorEval(await evaluatePolicyAsync(env, actor.policy(), episodes, seed), ref);
}

function actorEval(r: EvaluationResult, ref: ReferenceReturns | undefined): Omit<EvalResult, 'update'> {
  return { meanReturn: r.meanReturn, returns: r.returns, meanSuccess: r.meanSuccess, score: ref ? normalizedScore(r.meanReturn, ref) : null };
}

/** Run `updates` updates of a learner on uniformly sampled batches, evaluating along the way. */
/** Updates between turns given to the event loop during offline training (signals, servers, timers). */
export const YIELD_EVERY_UPDATES = 100;

/**
 * Train an offline learner. Asynchronous only so that the event loop gets a turn every
 * YIELD_EVERY_UPDATES updates (Ctrl-C's handler, a viewer server in the same process); the
 * updates and their order are the same as in one synchronous loop.
 */
export async function trainOffline(o: TrainOfflineOptions): Promise<TrainOfflineResult> {
  // Equal references gave a score of +-Infinity (null in JSON) at every evaluation, after training.
  if (o.refReturns) {
    const { random, expert } = o.refReturns;
    if (!(Number.isFinite(random) && Number.isFinite(expert) && expert !== random)) {
      throw new RangeError(`trainOffline: refReturns must be two different finite returns (the normalised score divides by expert - random), got random ${random} and expert ${expert}`);
    }
  }
  const clock = o.clock ?? systemClock;
  const { learner } = o;
  learner.actor.obsMean = o.data.obsMean;
  learner.actor.obsStd = o.data.obsStd;
  const sampler = new BatchSampler(o.data, o.batchSize, new Rng(o.seed).fork('batches'));
  const logEvery = o.logEvery ?? 1000;
  const evalEvery = o.evalEvery ?? o.updates;
  const evals: EvalResult[] = [];
  const t0 = clock.now();
  let trainMs = 0;
  const evaluate = async (k: number) => {
    if (!o.evalEnv) return;
    const e = { update: k, ...(await evaluateActorAsync(o.evalEnv, learner.actor.snapshot(learner.algo), o.evalEpisodes ?? 10, o.seed, o.refReturns)) };
    evals.push(e);
    const m: Metrics = { 'eval/true_return': e.meanReturn, 'eval/success': e.meanSuccess };
    if (e.score !== null) m['eval/normalized_score'] = e.score;
    o.onMetrics?.(k, m);
  };
  for (let k = 1; k <= o.updates; k++) {
    const s = clock.now();
    const m = learner.update(sampler.next(), k % logEvery === 0 || k === o.updates);
    trainMs += clock.now() - s;
    if (m) o.onMetrics?.(k, { ...m, 'charts/updates_per_sec': (1000 * k) / Math.max(1e-9, trainMs) });
    o.onUpdate?.(k);
    if (k % evalEvery === 0 || k === o.updates) await evaluate(k);
    if (k % YIELD_EVERY_UPDATES === 0) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  const seconds = (clock.now() - t0) / 1000;
  return { evals, final: evals.length > 0 ? evals[evals.length - 1] : null, updatesPerSec: (1000 * o.updates) / Math.max(1e-9, trainMs), seconds };
}
