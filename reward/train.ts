/**
 * Training a reward-network ensemble on labelled pairs of segments.
 *
 * Model (reward/preference.ts holds the scalar reference of every formula here):
 *   S(seg) = sum_{t<H} f(x_t)                    summed per-step network output over a segment
 *   d = (S(a) - S(b)) / T,  P(a > b) = sigmoid(d)
 * - partial-return (Christiano et al. 2017; B-Pref): f is a reward and S the predicted return.
 * - regret, optimal-advantage form (Knox et al. 2022/2023; Hejna et al. CPL): f is read as the
 *   optimal advantage A*(s, a), so S = -regret and P = sigmoid((regret(b) - regret(a)) / T).
 *   The loss on outputs is the same; what changes is the meaning of f (an agent acts greedily
 *   on it or uses it as a heavily shaped reward). An advantage needs the action (or, for
 *   deterministic dynamics, the next observation), so the regret model refuses input `obs`.
 *   The choice is recorded with the saved model (config.preferenceModel).
 *
 * Loss per labelled pair with target y = probFirst (1, 0, 0.5 for a tie, or any soft value):
 *   y_s = (1 - e) y + e / 2                                   label smoothing e (default 0)
 *   rho = 0:  L = softplus(d) - y_s d                         Bradley-Terry NLL
 *   rho > 0:  P_obs = (1 - rho) sigmoid(d) + rho sigmoid(-d)  known flip rate rho
 *             L = -(y_s log P_obs + (1 - y_s) log(1 - P_obs))
 * Skip labels are ignored. The batch loss is the mean over pairs. Every segment of one training
 * call must have the same length H (pairs of unequal lengths throw).
 *
 * Procedure (B-Pref's reward learning, plus held-out early stopping):
 * - A validation split (valFraction of the preference labels, drawn with rng.fork('split'))
 *   is held out; the input normaliser is fitted on the training pairs' transitions.
 * - Each ensemble member has its own Adam optimizer (one per network: sharing one across
 *   networks throws in tfjs) and its own data order (rng.fork('order').fork(k) each epoch),
 *   optionally on its own bootstrap resample of the training pairs (rng.fork('bootstrap').fork(k)).
 * - After every epoch each member is scored on the held-out pairs (NLL with the flip rate,
 *   without smoothing); a member whose held-out NLL has not improved for `patience` epochs
 *   stops, and every member ends with its best weights. Without held-out pairs (fewer than
 *   MIN_VALIDATION_PAIRS would be held out) all epochs run on every pair.
 * - Deterministic for a seed on a given backend: same seed, same data -> same weights.
 *
 * Speed: a step's pairs are pushed through each member in micro-batches of about
 * `microBatchRows` transitions (both segments of a pair in the same micro-batch) and the
 * gradients summed, which keeps every tensor in cache and every matMul on the WASM backend's
 * fast path; the result does not depend on the micro-batch size beyond float rounding.
 */
import * as tf from '@tensorflow/tfjs';
import { shownArg, unknownKeysError } from '../core/errors.js';
import type { Rng } from '../core/rng.js';
import { preferenceAccuracy } from './metrics.js';
import { noisyNll, smoothLabel } from './preference.js';
import { InputNormalizer, type ModelEnv, type RewardNet } from './network.js';
import type { Label, Pair, PreferenceModelKind, Segment } from './types.js';

export interface TrainOptions {
  /** Seeded generator: validation split, data order and bootstrap resamples. */
  readonly rng: Rng;
  /** What the summed outputs mean (default: the network's config.preferenceModel). */
  readonly preferenceModel?: PreferenceModelKind;
  /** Maximum passes over the training pairs per member (default 50). */
  readonly epochs?: number;
  /** Pairs per gradient step (default 128). */
  readonly batchSize?: number;
  /** Adam learning rate (default 3e-4, B-Pref). */
  readonly lr?: number;
  /** Temperature T of P = sigmoid((S(a) - S(b)) / T) (default 1). */
  readonly temperature?: number;
  /** Label smoothing e in [0, 1]: y -> (1 - e) y + e / 2 (default 0). */
  readonly labelSmoothing?: number;
  /** Known label flip rate rho in [0, 0.5) for the noise-robust loss (default 0). */
  readonly flipRate?: number;
  /**
   * Fraction of preference labels held out for early stopping, in [0, 1) (default 0.1; none when
   * that would be fewer than MIN_VALIDATION_PAIRS = 5 pairs; at most all but one pair, so one is
   * always left to train on).
   */
  readonly valFraction?: number;
  /** Epochs without held-out improvement before a member stops (default 5). */
  readonly patience?: number;
  /** Train each member on its own bootstrap resample of the training pairs (default false). */
  readonly bootstrap?: boolean;
  /** Fit the input normaliser on the training transitions (default: when the network has none yet). */
  readonly fitNormalizer?: boolean;
  /** Transitions per micro-batch (speed only; default 2048). */
  readonly microBatchRows?: number;
  /**
   * L2 penalty c on the weight matrices (not the biases): c / 2 * sum of squared weights is
   * added to each member's loss, so every step adds c * W to W's gradient (default 0, as in
   * B-Pref; Christiano et al. 2017 regularise their reward model with L2).
   */
  readonly weightDecay?: number;
  /**
   * Group-lasso penalty c on the first layer's input rows: c x the sum over input features of
   * the L2 norm of that feature's outgoing weights is added to each member's loss, which drives
   * whole inputs towards zero weight, so the model explains the labels with few inputs
   * (default 0).
   */
  readonly inputL1?: number;
  /**
   * Proximal group lasso c on the first layer's input rows: after every optimizer step, each
   * input feature's row of outgoing weights is shrunk towards 0 by lr x c in norm, and a row
   * shorter than that is set to exactly 0, so inputs the labels do not keep asking for are
   * switched off for good, not just made small (default 0; `inputL1` adds the same penalty as
   * a gradient, which Adam rescales and which never reaches 0).
   */
  readonly inputProx?: number;
  /**
   * Input dropout p in [0, 1): in training, each input feature of each pair is replaced by its
   * mean (0 after normalisation) with probability p, the same features for both segments of
   * the pair, so the model must rank pairs from random subsets of its inputs and cannot lean
   * on one encoding of the task alone (default 0). Prediction always sees every input.
   */
  readonly inputDropout?: number;
  /** Called after every epoch with its metrics. */
  readonly onEpoch?: (m: EpochMetrics) => void;
  /** Called after every gradient step. */
  readonly onStep?: (p: StepProgress) => void;
}

export interface StepProgress {
  readonly epoch: number;
  readonly member: number;
  /** Steps done in this epoch by this member (1-based) and the epoch's total. */
  readonly step: number;
  readonly steps: number;
  /** Mean loss of this step's batch. */
  readonly loss: number;
}

export interface EpochMetrics {
  /** 1-based epoch number. */
  readonly epoch: number;
  /** Mean training loss over the members that trained this epoch. */
  readonly trainLoss: number;
  /** Each member's mean batch loss this epoch (NaN for stopped members). */
  readonly memberTrainLoss: readonly number[];
  /** Accuracy of the ensemble-mean summed output on held-out non-tie labels (NaN without any). */
  readonly valAccuracy: number;
  /** Mean held-out NLL of the ensemble-mean logit (flip rate applied, no smoothing; NaN without held-out pairs). */
  readonly valNll: number;
  /** Each member's held-out NLL after this epoch (of its current weights). */
  readonly memberValNll: readonly number[];
  /** Members still training after this epoch. */
  readonly activeMembers: number;
}

export interface TrainResult {
  readonly epochs: readonly EpochMetrics[];
  /** Per member, the epoch whose weights were kept (0: the weights before training). */
  readonly bestEpoch: readonly number[];
  readonly trainPairs: number;
  readonly valPairs: number;
  /** Ids of the held-out pairs (in label order). */
  readonly valPairIds: readonly string[];
  /** Skip labels ignored. */
  readonly skipped: number;
  /** Held-out accuracy and NLL of the final ensemble (NaN without held-out pairs). */
  readonly valAccuracy: number;
  readonly valNll: number;
  /** Some member stopped before the last epoch. */
  readonly stoppedEarly: boolean;
  readonly preferenceModel: PreferenceModelKind;
}

/** Resolved training options (all defaults filled in). */
export type ResolvedTrainOptions = Required<Omit<TrainOptions, 'onEpoch' | 'onStep' | 'preferenceModel' | 'fitNormalizer'>> & {
  readonly preferenceModel: PreferenceModelKind;
  readonly fitNormalizer: boolean;
};

export const TRAIN_DEFAULTS = {
  epochs: 50,
  batchSize: 128,
  lr: 3e-4,
  temperature: 1,
  labelSmoothing: 0,
  flipRate: 0,
  valFraction: 0.1,
  patience: 5,
  bootstrap: false,
  microBatchRows: 2048,
  weightDecay: 0,
  inputL1: 0,
  inputProx: 0,
  inputDropout: 0,
} as const;

/** Every option trainRewardModel reads. */
const TRAIN_OPTION_KEYS: readonly string[] = ['rng', 'preferenceModel', 'fitNormalizer', 'onEpoch', 'onStep', ...Object.keys(TRAIN_DEFAULTS)];

/**
 * The options of `opts` trainRewardModel does not read (a misspelt `epoch` was dropped and 50
 * epochs run without a word): it refuses them, and runPreferenceLoop checks its `rewardTrain`
 * option with them before its run starts.
 */
export function unknownTrainOptions(opts: object): string[] {
  return Object.keys(opts).filter((k) => !TRAIN_OPTION_KEYS.includes(k));
}

/** The RangeError for those options, naming them and the options there are. */
export function unknownTrainOptionsError(unknown: readonly string[], where = 'trainRewardModel'): RangeError {
  return unknownKeysError(where, unknown, TRAIN_OPTION_KEYS, 'option');
}

/**
 * Fewer held-out pairs than this (valFraction of the preference labels, rounded): no validation
 * split, every epoch runs and the last weights are kept. On one to four pairs the held-out NLL is
 * mostly noise, and keeping the best epoch by it could keep the untrained network (a 12-label run
 * held out one pair, a tie, and kept epoch 0). At the default valFraction 0.1 that is under 45 labels.
 */
export const MIN_VALIDATION_PAIRS = 5;

// ---------------------------------------------------------------------------------------
// The loss

export interface LossOptions {
  /** Label smoothing e in [0, 1]. */
  readonly labelSmoothing?: number;
  /** Flip rate rho in [0, 0.5). */
  readonly flipRate?: number;
}

/**
 * Per-pair preference loss on logits d [n] against targets y [n] (already smoothed), -> [n].
 * rho = 0: softplus(d) - y d; rho > 0: -(y log P_obs + (1 - y) log(1 - P_obs)) with
 * P_obs = (1 - rho) sigmoid(d) + rho sigmoid(-d) and 1 - P_obs computed directly.
 */
export function preferenceLossTensor(logits: tf.Tensor1D, targets: tf.Tensor1D, flipRate = 0): tf.Tensor1D {
  checkFlipRate(flipRate);
  return tf.tidy(() => {
    if (flipRate === 0) return tf.sub(tf.softplus(logits), tf.mul(targets, logits)) as tf.Tensor1D;
    const p = tf.sigmoid(logits);
    const q = tf.sigmoid(tf.neg(logits));
    const pObs = tf.add(tf.mul(p, 1 - flipRate), tf.mul(q, flipRate));
    const qObs = tf.add(tf.mul(q, 1 - flipRate), tf.mul(p, flipRate));
    return tf.neg(tf.add(tf.mul(targets, tf.log(pObs)), tf.mul(tf.sub(1, targets), tf.log(qObs)))) as tf.Tensor1D;
  });
}

/** The same loss on plain numbers (mean over pairs), with smoothing applied to the raw labels. */
export function preferenceLoss(logits: ArrayLike<number>, probFirst: ArrayLike<number>, opts: LossOptions = {}): number {
  if (logits.length !== probFirst.length || logits.length === 0) {
    throw new RangeError(`preferenceLoss: ${logits.length} logits and ${probFirst.length} labels (need equal, > 0)`);
  }
  let s = 0;
  for (let i = 0; i < logits.length; i++) {
    s += noisyNll(logits[i], smoothLabel(probFirst[i], opts.labelSmoothing ?? 0), opts.flipRate ?? 0);
  }
  return s / logits.length;
}

function checkFlipRate(rho: number): void {
  if (!(rho >= 0 && rho < 0.5)) throw new RangeError(`flipRate must be in [0, 0.5), got ${rho}`);
}

// ---------------------------------------------------------------------------------------
// Labelled data in network-input layout

/** Labelled pairs as normalised network inputs, ready for micro-batches. */
export interface PairData {
  /** Number of pairs. */
  readonly n: number;
  /** Segment length H (the same for every pair). */
  readonly H: number;
  /** Network input width. */
  readonly inDim: number;
  /**
   * Segment rows, normalised: [S, H, inDim]. Without `segs`, pair i's segment a then segment b
   * (S = 2n); with it, each distinct segment once.
   */
  readonly rows: Float32Array;
  /** [2n]: the segments of pair i in `rows`, a at 2i and b at 2i + 1 (absent: 2i and 2i + 1 themselves). */
  readonly segs?: Int32Array;
  /** [n] raw label probFirst. */
  readonly labels: Float64Array;
}

/** The preference (non-skip) labels matched to their pairs; throws on a mismatch. */
export function labelledPairs(pairs: readonly Pair[], labels: readonly Label[]): { pairs: Pair[]; labels: Float64Array; skipped: number } {
  if (pairs.length !== labels.length) throw new RangeError(`train: ${pairs.length} pairs but ${labels.length} labels (one label per pair, in order)`);
  const keep: Pair[] = [];
  const ys: number[] = [];
  let skipped = 0;
  pairs.forEach((p, i) => {
    const l = labels[i];
    if (l.pairId !== p.id) throw new RangeError(`train: label ${i} (${l.id}) is for pair ${l.pairId}, but pair ${i} is ${p.id}`);
    if (l.kind === 'skip') {
      skipped++;
      return;
    }
    if (!(l.probFirst >= 0 && l.probFirst <= 1)) throw new RangeError(`train: label ${l.id} has probFirst ${l.probFirst}, outside [0, 1]`);
    keep.push(p);
    ys.push(l.probFirst);
  });
  return { pairs: keep, labels: Float64Array.from(ys), skipped };
}

/** Where pair i's segment j (0: a, 1: b) starts in data.rows, in rows of H. */
function segmentAt(data: PairData, i: number, j: number): number {
  return data.segs ? data.segs[2 * i + j] : 2 * i + j;
}

/**
 * Gather pairs `idx` into a micro-batch: x [2 P H, inDim] (all a-segments, then all
 * b-segments) and its transpose xT [inDim, 2 P H], both built in JS.
 */
function gather(data: PairData, idx: ArrayLike<number>, x: Float32Array, xT: Float32Array): void {
  const P = idx.length;
  const seg = data.H * data.inDim;
  const R = 2 * P * data.H;
  const w = data.inDim;
  for (let j = 0; j < 2; j++) {
    for (let p = 0; p < P; p++) {
      const src = segmentAt(data, idx[p], j) * seg;
      const dstRow = (j * P + p) * data.H;
      x.set(data.rows.subarray(src, src + seg), dstRow * w);
    }
  }
  for (let r = 0; r < R; r++) for (let c = 0; c < w; c++) xT[c * R + r] = x[r * w + c];
}

/**
 * Input dropout on a gathered micro-batch (x [2 P H, w] and its transpose): for each pair p,
 * each feature is zeroed with probability `rate` in all 2 H rows of the pair (its a-segment's
 * rows (p H ..), its b-segment's rows ((P + p) H ..)).
 */
export function dropInputs(x: Float32Array, xT: Float32Array, P: number, H: number, w: number, rate: number, rng: Rng | undefined): void {
  if (!rng) throw new RangeError('train: inputDropout > 0 needs a dropout RNG');
  const R = 2 * P * H;
  for (let p = 0; p < P; p++) {
    for (let c = 0; c < w; c++) {
      if (rng.uniform() >= rate) continue;
      for (let t = 0; t < H; t++) {
        const a = p * H + t; // the pair's a-segment row
        const b = (P + p) * H + t; // its b-segment row
        x[a * w + c] = 0;
        x[b * w + c] = 0;
        xT[c * R + a] = 0;
        xT[c * R + b] = 0;
      }
    }
  }
}

/** Targets after smoothing, as float32 for the loss tensor. */
function smoothedTargets(data: PairData, idx: ArrayLike<number>, eps: number): Float32Array {
  const out = new Float32Array(idx.length);
  for (let i = 0; i < idx.length; i++) out[i] = smoothLabel(data.labels[idx[i]], eps);
  return out;
}

/**
 * Sum over micro-batches of member k's loss on pairs `idx`, divided by idx.length, and its
 * gradients (summed the same way). Returns the batch's mean loss; `grads` are new tensors
 * keyed by variable name (the caller disposes them).
 */
export function memberLossAndGrads(
  net: RewardNet,
  k: number,
  data: PairData,
  idx: ArrayLike<number>,
  opts: StepOptions,
): { loss: number; grads: tf.NamedTensorMap } {
  const vars = net.memberVariables(k);
  const total = idx.length;
  const per = Math.max(1, Math.floor(opts.microBatchRows / (2 * data.H)));
  const acc: tf.NamedTensorMap = {};
  let lossSum = 0;
  const maxRows = 2 * Math.min(per, total) * data.H * data.inDim;
  const xBuf = new Float32Array(maxRows);
  const xTBuf = new Float32Array(maxRows);
  for (let s = 0; s < total; s += per) {
    const mb = Array.prototype.slice.call(idx, s, Math.min(total, s + per)) as number[];
    const P = mb.length;
    const R = 2 * P * data.H;
    const xv = xBuf.subarray(0, R * data.inDim);
    const xTv = xTBuf.subarray(0, R * data.inDim);
    gather(data, mb, xv, xTv);
    if ((opts.inputDropout ?? 0) > 0) dropInputs(xv, xTv, P, data.H, data.inDim, opts.inputDropout ?? 0, opts.dropoutRng);
    const y = smoothedTargets(data, mb, opts.labelSmoothing);
    const { value, grads } = tf.tidy(() => {
      const x = tf.tensor2d(xv, [R, data.inDim]);
      const xT = tf.tensor2d(xTv, [data.inDim, R]);
      const targets = tf.tensor1d(y);
      return tf.variableGrads(() => {
        const out = net.forwardMember(k, x, xT);
        const sums = tf.sum(tf.reshape(out, [2, P, data.H]), 2);
        const [sa, sb] = tf.split(sums, 2, 0);
        const logits = tf.reshape(tf.div(tf.sub(sa, sb), opts.temperature), [P]) as tf.Tensor1D;
        return tf.div(tf.sum(preferenceLossTensor(logits, targets, opts.flipRate)), total) as tf.Scalar;
      }, vars);
    });
    lossSum += value.dataSync()[0];
    value.dispose();
    for (const [name, g] of Object.entries(grads)) {
      const prev = acc[name];
      if (prev) {
        acc[name] = tf.add(prev, g);
        prev.dispose();
        g.dispose();
      } else acc[name] = g;
    }
  }
  return { loss: lossSum, grads: acc };
}

/** Options of one gradient step. */
export interface StepOptions {
  readonly temperature: number;
  readonly labelSmoothing: number;
  readonly flipRate: number;
  readonly microBatchRows: number;
  /** L2 penalty on the weight matrices (default 0). */
  readonly weightDecay?: number;
  /** Group-lasso penalty on the first layer's input rows (default 0). */
  readonly inputL1?: number;
  /** Proximal group-lasso shrinkage per step: lr x inputProx (default 0). */
  readonly proxShrink?: number;
  /** Input dropout probability per pair and feature (default 0); needs `dropoutRng` when > 0. */
  readonly inputDropout?: number;
  readonly dropoutRng?: Rng;
}

/** The L2 norm of each row of a first-layer kernel [inputs, units] (one input feature per row): [inputs, 1]. */
function rowNorms(w: tf.Tensor): tf.Tensor {
  return tf.sqrt(tf.sum(tf.square(w), 1, true));
}

/** One Adam optimizer per member (B-Pref's betas; eps 1e-8 as in PyTorch). */
export function createOptimizers(net: RewardNet, lr: number): tf.AdamOptimizer[] {
  return Array.from({ length: net.members }, () => tf.train.adam(lr, 0.9, 0.999, 1e-8));
}

/** One gradient step of member k on pairs `idx` with its own optimizer; returns the batch's mean loss. */
export function memberStep(net: RewardNet, k: number, optimizer: tf.Optimizer, data: PairData, idx: ArrayLike<number>, opts: StepOptions): number {
  const { loss, grads } = memberLossAndGrads(net, k, data, idx, opts);
  // Penalties enter as their gradients, added to the loss's.
  const addGrad = (v: tf.Variable, penaltyGrad: () => tf.Tensor): void => {
    const g = grads[v.name];
    if (!g) return;
    grads[v.name] = tf.tidy(() => tf.add(g, penaltyGrad()));
    g.dispose();
  };
  const vars = net.memberVariables(k);
  const wd = opts.weightDecay ?? 0;
  if (wd > 0) for (const v of vars) if (v.rank === 2) addGrad(v, () => tf.mul(v, wd));
  const gl = opts.inputL1 ?? 0;
  // d/dW of c * sum_j ||W[j, :]||: c * W[j, :] / ||W[j, :]|| (a row at exactly zero gets 0).
  if (gl > 0) addGrad(vars[0], () => tf.mul(tf.divNoNan(vars[0], rowNorms(vars[0])), gl));
  try {
    optimizer.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
  } finally {
    tf.dispose(grads);
  }
  const shrink = opts.proxShrink ?? 0;
  // Proximal step of c * sum_j ||W[j, :]||: W[j, :] * max(0, 1 - shrink / ||W[j, :]||).
  if (shrink > 0) {
    const w = vars[0];
    const next = tf.tidy(() => tf.mul(w, tf.relu(tf.sub(1, tf.divNoNan(tf.scalar(shrink), rowNorms(w))))));
    w.assign(next);
    next.dispose();
  }
  return loss;
}

// ---------------------------------------------------------------------------------------
// Training

export function resolveTrainOptions(net: RewardNet, opts: TrainOptions): ResolvedTrainOptions {
  // Options are required for their rng (the split, the minibatch order): without them a script
  // got "Cannot convert undefined or null to object", and without the rng an error deep in the split.
  if (typeof opts !== 'object' || opts === null) throw new TypeError(`trainRewardModel: options must be an object with a seeded rng ({ rng: new Rng(seed) }), got ${shownArg(opts)}`);
  if (typeof (opts.rng as Partial<Rng> | undefined)?.fork !== 'function') throw new TypeError(`trainRewardModel: option rng must be a seeded Rng (new Rng(seed)), got ${shownArg(opts.rng)}`);
  const unknown = unknownTrainOptions(opts);
  if (unknown.length > 0) throw unknownTrainOptionsError(unknown);
  // A disposed network failed mid-training with "Cannot read properties of undefined (reading 'backend')".
  if (typeof (net as Partial<RewardNet> | null)?.predict !== 'function') throw new TypeError(`trainRewardModel: net must be a RewardNet (RewardNet.create or RewardNet.load), got ${shownArg(net)}`);
  if (net.isDisposed) throw new Error('trainRewardModel: the RewardNet was disposed (dispose() frees its weights); train a network before disposing it');
  const o = {
    ...TRAIN_DEFAULTS,
    ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)),
    preferenceModel: opts.preferenceModel ?? net.config.preferenceModel,
    fitNormalizer: opts.fitNormalizer ?? !net.normalizerFitted,
  } as ResolvedTrainOptions & Pick<TrainOptions, 'onEpoch' | 'onStep'>;
  const posInt = (v: number) => Number.isInteger(v) && v > 0;
  if (!posInt(o.epochs)) throw new RangeError(`train: epochs must be a positive integer, got ${o.epochs}`);
  if (!posInt(o.batchSize)) throw new RangeError(`train: batchSize must be a positive integer, got ${o.batchSize}`);
  if (!posInt(o.microBatchRows)) throw new RangeError(`train: microBatchRows must be a positive integer, got ${o.microBatchRows}`);
  if (!(Number.isInteger(o.patience) && o.patience >= 1)) throw new RangeError(`train: patience must be an integer >= 1, got ${o.patience}`);
  if (!(o.lr > 0)) throw new RangeError(`train: lr must be > 0, got ${o.lr}`);
  if (!(o.weightDecay >= 0 && Number.isFinite(o.weightDecay))) throw new RangeError(`train: weightDecay must be a finite number >= 0, got ${o.weightDecay}`);
  if (!(o.inputL1 >= 0 && Number.isFinite(o.inputL1))) throw new RangeError(`train: inputL1 must be a finite number >= 0, got ${o.inputL1}`);
  if (!(o.inputProx >= 0 && Number.isFinite(o.inputProx))) throw new RangeError(`train: inputProx must be a finite number >= 0, got ${o.inputProx}`);
  if (!(o.inputDropout >= 0 && o.inputDropout < 1)) throw new RangeError(`train: inputDropout must be in [0, 1), got ${o.inputDropout}`);
  if (!(o.temperature > 0)) throw new RangeError(`train: temperature must be > 0, got ${o.temperature}`);
  if (!(o.labelSmoothing >= 0 && o.labelSmoothing <= 1)) throw new RangeError(`train: labelSmoothing must be in [0, 1], got ${o.labelSmoothing}`);
  checkFlipRate(o.flipRate);
  if (!(o.valFraction >= 0 && o.valFraction < 1)) throw new RangeError(`train: valFraction must be in [0, 1), got ${o.valFraction}`);
  if (o.preferenceModel === 'regret' && net.input === 'obs') {
    throw new RangeError(
      'train: the regret model reads the output as an optimal advantage A(s, a), which needs the action: use input obs-action (or obs-next-obs for deterministic dynamics), not obs',
    );
  }
  return o;
}

/** Each member's logits (S(a) - S(b)) / T of every pair: [members, n]. */
function memberLogits(net: RewardNet, data: PairData, temperature: number): Float32Array {
  const n = data.n;
  const m = net.members;
  const H = data.H;
  // Each segment of data.rows once: every member's sum over its steps.
  const S = H > 0 ? data.rows.length / (H * data.inDim) : 0;
  const per = net.predictRows(data.rows, S * H, { normalized: true });
  const sums = new Float64Array(m * S);
  for (let k = 0; k < m; k++) {
    for (let g = 0; g < S; g++) {
      let acc = 0;
      const base = (k * S + g) * H;
      for (let t = 0; t < H; t++) acc += per[base + t];
      sums[k * S + g] = acc;
    }
  }
  const out = new Float32Array(m * n);
  for (let k = 0; k < m; k++) {
    for (let i = 0; i < n; i++) out[k * n + i] = (sums[k * S + segmentAt(data, i, 0)] - sums[k * S + segmentAt(data, i, 1)]) / temperature;
  }
  return out;
}

interface HeldOut {
  readonly memberNll: number[];
  readonly nll: number;
  readonly accuracy: number;
}

function evaluate(net: RewardNet, data: PairData, temperature: number, flipRate: number): HeldOut {
  const m = net.members;
  const n = data.n;
  if (n === 0) return { memberNll: new Array<number>(m).fill(Number.NaN), nll: Number.NaN, accuracy: Number.NaN };
  const logits = memberLogits(net, data, temperature);
  const memberNll: number[] = [];
  const mean = new Float64Array(n);
  for (let k = 0; k < m; k++) {
    let s = 0;
    for (let i = 0; i < n; i++) {
      const d = logits[k * n + i];
      s += noisyNll(d, data.labels[i], flipRate);
      mean[i] += d / m;
    }
    memberNll.push(s / n);
  }
  let nll = 0;
  const p = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    nll += noisyNll(mean[i], data.labels[i], flipRate);
    p[i] = 1 / (1 + Math.exp(-mean[i]));
  }
  return { memberNll, nll: nll / n, accuracy: preferenceAccuracy(p, data.labels).accuracy };
}

/** The numbers of a training run that its summaries record. */
export function trainResultSummary(res: TrainResult): { trainPairs: number; valPairs: number; valAccuracy: number; valNll: number; epochs: number; bestEpoch: readonly number[] } {
  return { trainPairs: res.trainPairs, valPairs: res.valPairs, valAccuracy: res.valAccuracy, valNll: res.valNll, epochs: res.epochs.length, bestEpoch: res.bestEpoch };
}

/** Reward-model training settings under the names the CLI flags and the offline config give them. */
export interface RewardTrainSettings {
  /** Reward-model training: epochs at most. */
  readonly rewardEpochs: number;
  /** Reward-model training: epochs without held-out improvement before a member stops. */
  readonly rewardPatience: number;
  /** Reward-model training: Adam learning rate. */
  readonly rewardLr: number;
  /** Reward-model training: L2 penalty on the weight matrices (weightDecay). */
  readonly rewardWeightDecay: number;
  /** Reward-model training: group lasso over the first layer's input rows (inputL1). */
  readonly rewardInputL1: number;
  /** Reward-model training: proximal group lasso over the first layer's input rows (inputProx). */
  readonly rewardInputProx: number;
  /**
   * Flip rate rho of the noise-robust preference loss (flipRate); 0: plain Bradley-Terry
   * (RL-VLM-F). A known teacher error rate (synthetic-vlm's errorRate) is the natural value.
   */
  readonly rewardFlipRate: number;
  /**
   * Reward-model training: fraction of the preference labels held out for early stopping
   * (valFraction; default 0.1, TRAIN_DEFAULTS; 0: none, every epoch runs on every pair). The
   * CLI's --reward-val-fraction takes 0 to REWARD_VAL_FRACTION_MAX.
   */
  readonly rewardValFraction: number;
}

/**
 * The largest --reward-val-fraction the commands take (the library's valFraction takes anything
 * below 1): holding out more than 90% of the labels leaves too few to train on to be meant, and a
 * percentage typed as a whole number (10 for 10%) is refused with the range instead.
 */
export const REWARD_VAL_FRACTION_MAX = 0.9;

/** Those settings as trainRewardModel options. */
export function rewardTrainOptions(s: RewardTrainSettings): Pick<TrainOptions, 'epochs' | 'patience' | 'lr' | 'weightDecay' | 'inputL1' | 'inputProx' | 'flipRate' | 'valFraction'> {
  return {
    epochs: s.rewardEpochs,
    patience: s.rewardPatience,
    lr: s.rewardLr,
    weightDecay: s.rewardWeightDecay,
    inputL1: s.rewardInputL1,
    inputProx: s.rewardInputProx,
    flipRate: s.rewardFlipRate,
    valFraction: s.rewardValFraction,
  };
}

/** One epoch's numbers as a run's metrics.jsonl records them. */
export function epochMetricsRecord(m: EpochMetrics): Record<string, number> {
  return { 'reward/train_loss': m.trainLoss, 'reward/val_accuracy': m.valAccuracy, 'reward/val_nll': m.valNll, 'reward/active_members': m.activeMembers };
}

/**
 * A warning for the log when held-out early stopping kept every member's starting weights (no
 * member improved on the held-out pairs in any epoch), else null. `start`: what the members
 * started from, their initial weights or the model of the round before (a model trained on).
 */
export function noImprovementWarning(res: Pick<TrainResult, 'bestEpoch' | 'valPairs'>, start: 'initial' | 'previous' = 'initial'): string | null {
  if (res.valPairs === 0 || res.bestEpoch.length === 0 || !res.bestEpoch.every((e) => e === 0)) return null;
  const kept = start === 'initial' ? 'each kept its initial weights' : 'each kept the weights it had before this training';
  return `reward model: no member improved on the ${res.valPairs} held-out pairs, so ${kept}; more labels, or a larger --reward-patience, may help`;
}

/** The env (id and model hash) every segment of the pairs comes from; undefined when they differ or are unknown. */
export function segmentsEnv(pairs: readonly Pair[]): ModelEnv | undefined {
  if (pairs.length === 0) return undefined;
  const { envId: id, modelHash } = pairs[0].a;
  if (!id || id === 'unknown' || !modelHash || modelHash === 'unknown') return undefined;
  return pairs.every((p) => [p.a, p.b].every((s) => s.envId === id && s.modelHash === modelHash)) ? { id, modelHash } : undefined;
}

/**
 * Labelled pairs as one training call reads them: the preference labels (skips left out) with the
 * ids of their pairs, and the pairs themselves, visited in that order by `forEachPair`, which
 * may read them a chunk at a time (the training keeps only their input rows, packed).
 */
export interface LabelledPairSource {
  /** pairIds[i]: the pair that preference label i labels (a pair appears once per label). */
  readonly pairIds: readonly string[];
  /** [n] raw label probFirst, in [0, 1]. */
  readonly labels: Float64Array;
  /** Skip labels left out. */
  readonly skipped: number;
  /** Call `visit(pair, i)` for i = 0 .. n - 1 in order, pair being the pair of pairIds[i]. */
  readonly forEachPair: (visit: (pair: Pair, i: number) => void) => void;
}

/** Pairs a LabelledPairSource built by labelledPairSource reads at a time. */
export const SOURCE_CHUNK = 1000;

/**
 * The preference labels of `labels` as a LabelledPairSource whose pairs `readPairs(ids)` reads,
 * SOURCE_CHUNK ids at a time (so only one chunk of pairs' segments is held at once); a pair read
 * that is not the one asked for throws.
 */
export function labelledPairSource(labels: readonly Label[], readPairs: (ids: readonly string[]) => readonly Pair[], chunk = SOURCE_CHUNK): LabelledPairSource {
  const ids: string[] = [];
  const ys: number[] = [];
  let skipped = 0;
  for (const l of labels) {
    if (l.kind === 'skip') {
      skipped++;
      continue;
    }
    if (!(l.probFirst >= 0 && l.probFirst <= 1)) throw new RangeError(`train: label ${l.id} has probFirst ${l.probFirst}, outside [0, 1]`);
    ids.push(l.pairId);
    ys.push(l.probFirst);
  }
  return chunkedSource(ids, Float64Array.from(ys), skipped, readPairs, chunk);
}

/**
 * Preference labels given as columns (label ids, pair ids, probFirst; no skips) as a
 * LabelledPairSource whose pairs `readPairs(ids)` reads, `chunk` ids at a time: the same source
 * labelledPairSource makes of the same labels as objects.
 */
export function preferenceSource(
  cols: { readonly ids: readonly string[]; readonly pairIds: readonly string[]; readonly probFirst: Float64Array },
  readPairs: (ids: readonly string[]) => readonly Pair[],
  chunk = SOURCE_CHUNK,
): LabelledPairSource {
  const n = cols.pairIds.length;
  if (cols.ids.length !== n || cols.probFirst.length !== n) throw new RangeError(`train: ${cols.ids.length} label ids, ${n} pair ids and ${cols.probFirst.length} probFirst values (need one each per label)`);
  for (let i = 0; i < n; i++) {
    const y = cols.probFirst[i];
    if (!(y >= 0 && y <= 1)) throw new RangeError(`train: label ${cols.ids[i]} has probFirst ${y}, outside [0, 1]`);
  }
  return chunkedSource(cols.pairIds, cols.probFirst, 0, readPairs, chunk);
}

function chunkedSource(ids: readonly string[], labels: Float64Array, skipped: number, readPairs: (ids: readonly string[]) => readonly Pair[], chunk: number): LabelledPairSource {
  return {
    pairIds: ids,
    labels,
    skipped,
    forEachPair: (visit) => {
      for (let start = 0; start < ids.length; start += chunk) {
        const want = ids.slice(start, start + chunk);
        const got = readPairs(want);
        want.forEach((id, j) => {
          const p = got[j];
          if (!p || p.id !== id) throw new RangeError(`train: label ${start + j} is for pair ${id}, but the pairs read give ${p ? p.id : 'none'} there`);
          visit(p, start + j);
        });
      }
    },
  };
}

/** In-memory pairs as a LabelledPairSource (labels[i] labels pairs[i]; checked as labelledPairs does). */
export function pairsSource(pairs: readonly Pair[], labels: readonly Label[]): LabelledPairSource {
  const lp = labelledPairs(pairs, labels);
  return { pairIds: lp.pairs.map((p) => p.id), labels: lp.labels, skipped: lp.skipped, forEachPair: (visit) => lp.pairs.forEach(visit) };
}

/**
 * The distinct segments of some pairs, each segment's raw input rows held once however many
 * pairs (labels) it is in: a segment whose id is known is cut again only to check that it is
 * the same (a segment of another content under a known id is kept apart).
 */
class DistinctSegmentRows {
  private rows: Float32Array;
  private count = 0;
  private readonly byId = new Map<string, number>();
  private readonly scratch: Float32Array;
  /** [2 pairs]: each pair's a and b segment. */
  readonly segs: Int32Array;

  constructor(
    private readonly net: RewardNet,
    pairs: number,
    private readonly segLen: number,
  ) {
    this.segs = new Int32Array(2 * pairs);
    this.scratch = new Float32Array(segLen);
    // Room for 64 segments (or every one), grown by doubling.
    this.rows = new Float32Array(Math.min(64, 2 * pairs) * segLen);
  }

  /** Record segment `g` as pair `slot`'s segment j (0: a, 1: b). */
  add(slot: number, j: number, g: Segment): void {
    const known = this.byId.get(g.id);
    if (known !== undefined) {
      this.net.segmentInputRows(g, this.scratch);
      const at = known * this.segLen;
      let same = true;
      for (let c = 0; c < this.segLen && same; c++) same = this.scratch[c] === this.rows[at + c];
      this.segs[2 * slot + j] = same ? known : this.append(this.scratch);
      return;
    }
    const g0 = this.append();
    this.net.segmentInputRows(g, this.rows.subarray(g0 * this.segLen, (g0 + 1) * this.segLen));
    this.byId.set(g.id, g0);
    this.segs[2 * slot + j] = g0;
  }

  /** Room for one more segment (holding `from` when given); returns its index. */
  private append(from?: Float32Array): number {
    if ((this.count + 1) * this.segLen > this.rows.length) {
      const grown = new Float32Array(Math.max(1, 2 * this.count) * this.segLen);
      grown.set(this.rows.subarray(0, this.count * this.segLen));
      this.rows = grown;
    }
    if (from) this.rows.set(from, this.count * this.segLen);
    return this.count++;
  }

  /** The rows of the distinct segments: [S, H, inDim], S the distinct segments. */
  done(): Float32Array {
    return this.rows.length === this.count * this.segLen ? this.rows : this.rows.slice(0, this.count * this.segLen);
  }
}

/**
 * The raw input rows of the source's pairs, each distinct segment once, for the training pairs
 * (trainIdx[j] at slot j) and the held-out ones (valIdx[j] at slot j) apart, with the checks on
 * segment lengths and sizes; and the env of the segments as segmentsEnv gives it.
 */
function packSplitRows(
  net: RewardNet,
  src: LabelledPairSource,
  trainIdx: readonly number[],
  valIdx: readonly number[],
): { H: number; train: DistinctSegmentRows | undefined; val: DistinctSegmentRows | undefined; env: ModelEnv | undefined } {
  const n = src.pairIds.length;
  const slot = new Int32Array(n);
  trainIdx.forEach((i, j) => (slot[i] = j));
  valIdx.forEach((i, j) => (slot[i] = trainIdx.length + j));
  const w = net.inDim;
  let H = 0;
  let train: DistinctSegmentRows | undefined;
  let val: DistinctSegmentRows | undefined;
  let envId: string | undefined;
  let modelHash: string | undefined;
  let sameEnv = true;
  src.forEachPair((p, i) => {
    if (i === 0) {
      H = p.a.length;
      train = new DistinctSegmentRows(net, trainIdx.length, H * w);
      val = new DistinctSegmentRows(net, valIdx.length, H * w);
      ({ envId, modelHash } = p.a);
    }
    const s = slot[i];
    for (const [j, g] of [p.a, p.b].entries()) {
      if (g.length !== H) throw new RangeError(`train: all segments must have the same length; pair ${p.id} has ${g.length} steps, the first pair ${H}`);
      if (g.obsDim !== net.config.obsDim || g.actDim !== net.config.actDim) {
        throw new RangeError(`train: segment ${g.id} has obs/act sizes ${g.obsDim}/${g.actDim}, the network expects ${net.config.obsDim}/${net.config.actDim}`);
      }
      if (s < trainIdx.length) (train as DistinctSegmentRows).add(s, j, g);
      else (val as DistinctSegmentRows).add(s - trainIdx.length, j, g);
      if (g.envId !== envId || g.modelHash !== modelHash) sameEnv = false;
    }
  });
  const known = !!envId && envId !== 'unknown' && !!modelHash && modelHash !== 'unknown';
  return { H, train, val, env: known && sameEnv ? { id: envId as string, modelHash: modelHash as string } : undefined };
}

/**
 * Train `net` in place on labelled pairs (labels[i] labels pairs[i]; skips ignored) and
 * record the preference model in its config. See the header for the procedure.
 */
export async function trainRewardModel(net: RewardNet, pairs: readonly Pair[], labels: readonly Label[], options: TrainOptions): Promise<TrainResult> {
  const o = resolveTrainOptions(net, options);
  return trainOnSource(net, pairsSource(pairs, labels), o, options);
}

/**
 * trainRewardModel on a LabelledPairSource: the same training, the same weights; only the
 * pairs' packed input rows are held (the training and held-out rows, one array each), never
 * every pair's segments, when the source reads them a chunk at a time.
 */
export async function trainRewardModelFrom(net: RewardNet, src: LabelledPairSource, options: TrainOptions): Promise<TrainResult> {
  const o = resolveTrainOptions(net, options);
  return trainOnSource(net, src, o, options);
}

async function trainOnSource(net: RewardNet, src: LabelledPairSource, o: ResolvedTrainOptions, options: TrainOptions): Promise<TrainResult> {
  const { onEpoch, onStep } = options;
  const n = src.pairIds.length;
  if (n === 0) throw new RangeError('train: no preference labels (every label is a skip, or there are none)');

  // Validation split: at most n - 1 pairs held out (a fraction near 1 on few labels would
  // otherwise round up to every pair, leaving none to train on).
  const wantVal = Math.min(Math.round(o.valFraction * n), n - 1);
  const nVal = wantVal >= MIN_VALIDATION_PAIRS ? wantVal : 0;
  const perm = o.rng.fork('split').permutation(n);
  const valIdx = Array.from(perm.subarray(0, nVal)).sort((a, b) => a - b);
  const trainIdx = Array.from(perm.subarray(nVal)).sort((a, b) => a - b);

  // Inputs: fit the normaliser on the training transitions, then normalise everything (in place).
  const packed = packSplitRows(net, src, trainIdx, valIdx);
  const trainRows = packed.train?.done() ?? new Float32Array(0);
  const trainSegs = packed.train?.segs ?? new Int32Array(0);
  if (o.fitNormalizer) net.setNormalizer(InputNormalizer.fitSegments(trainRows, net.inDim, packed.H, trainSegs));
  const train: PairData = { n: trainIdx.length, H: packed.H, inDim: net.inDim, rows: net.normalizer.apply(trainRows), segs: trainSegs, labels: Float64Array.from(trainIdx, (i) => src.labels[i]) };
  const val: PairData = {
    n: nVal,
    H: packed.H,
    inDim: net.inDim,
    rows: net.normalizer.apply(packed.val?.done() ?? new Float32Array(0)),
    segs: packed.val?.segs ?? new Int32Array(0),
    labels: Float64Array.from(valIdx, (i) => src.labels[i]),
  };
  net.setPreferenceModel(o.preferenceModel);

  const m = net.members;
  const optimizers = createOptimizers(net, o.lr);
  const memberData = Array.from({ length: m }, (_, k) => {
    if (!o.bootstrap) return Int32Array.from({ length: train.n }, (_, i) => i);
    const r = o.rng.fork('bootstrap').fork(k);
    return Int32Array.from({ length: train.n }, () => r.int(train.n));
  });
  const orderRng = Array.from({ length: m }, (_, k) => o.rng.fork('order').fork(k));
  const dropoutRng = Array.from({ length: m }, (_, k) => o.rng.fork('input-dropout').fork(k));

  const initial = evaluate(net, val, o.temperature, o.flipRate);
  const bestNll = initial.memberNll.slice();
  const bestEpoch = new Array<number>(m).fill(0);
  const bestWeights = nVal > 0 ? Array.from({ length: m }, (_, k) => net.getMemberWeights(k)) : [];
  const sinceBest = new Array<number>(m).fill(0);
  const active = new Array<boolean>(m).fill(true);
  const epochs: EpochMetrics[] = [];
  let stoppedEarly = false;
  const stepOpts: StepOptions = { temperature: o.temperature, labelSmoothing: o.labelSmoothing, flipRate: o.flipRate, microBatchRows: o.microBatchRows, weightDecay: o.weightDecay, inputL1: o.inputL1, proxShrink: o.lr * o.inputProx, inputDropout: o.inputDropout };

  try {
    for (let epoch = 1; epoch <= o.epochs && active.some(Boolean); epoch++) {
      const memberTrainLoss = new Array<number>(m).fill(Number.NaN);
      for (let k = 0; k < m; k++) {
        if (!active[k]) continue;
        const order = orderRng[k].shuffle(memberData[k].slice());
        const memberOpts = o.inputDropout > 0 ? { ...stepOpts, dropoutRng: dropoutRng[k] } : stepOpts;
        const steps = Math.ceil(order.length / o.batchSize);
        let lossSum = 0;
        for (let s = 0; s < steps; s++) {
          const idx = order.subarray(s * o.batchSize, Math.min(order.length, (s + 1) * o.batchSize));
          const loss = memberStep(net, k, optimizers[k], train, idx, memberOpts);
          lossSum += loss;
          onStep?.({ epoch, member: k, step: s + 1, steps, loss });
        }
        memberTrainLoss[k] = lossSum / steps;
      }
      const trained = active.slice();
      const held = evaluate(net, val, o.temperature, o.flipRate);
      if (nVal > 0) {
        for (let k = 0; k < m; k++) {
          if (!trained[k]) continue;
          if (held.memberNll[k] < bestNll[k]) {
            bestNll[k] = held.memberNll[k];
            bestEpoch[k] = epoch;
            bestWeights[k] = net.getMemberWeights(k);
            sinceBest[k] = 0;
          } else if (++sinceBest[k] >= o.patience) {
            active[k] = false;
            stoppedEarly = true;
          }
        }
      } else for (let k = 0; k < m; k++) bestEpoch[k] = epoch;
      const losses = memberTrainLoss.filter((v) => !Number.isNaN(v));
      const metrics: EpochMetrics = {
        epoch,
        trainLoss: losses.reduce((a, b) => a + b, 0) / losses.length,
        memberTrainLoss,
        valAccuracy: held.accuracy,
        valNll: held.nll,
        memberValNll: held.memberNll,
        activeMembers: active.filter(Boolean).length,
      };
      epochs.push(metrics);
      onEpoch?.(metrics);
      // Let timers and I/O (progress output, servers) run between epochs.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  } finally {
    for (const opt of optimizers) opt.dispose();
  }
  if (nVal > 0) for (let k = 0; k < m; k++) net.setMemberWeights(k, bestWeights[k]);
  const final = evaluate(net, val, o.temperature, o.flipRate);
  // Saved with the model: the temperature is part of the preference model's meaning, and the
  // env of the segments tells later users (iql, train --reward model:) which env it rewards.
  const env = packed.env;
  net.meta = {
    ...net.meta,
    ...(env ? { env } : {}),
    training: {
      preferenceModel: o.preferenceModel,
      temperature: o.temperature,
      labelSmoothing: o.labelSmoothing,
      flipRate: o.flipRate,
      lr: o.lr,
      weightDecay: o.weightDecay,
      inputL1: o.inputL1,
      inputProx: o.inputProx,
      inputDropout: o.inputDropout,
      patience: o.patience,
      batchSize: o.batchSize,
      bootstrap: o.bootstrap,
      epochs: epochs.length,
      bestEpoch,
      trainPairs: train.n,
      valPairs: nVal,
      valAccuracy: final.accuracy,
      valNll: final.nll,
    },
  };
  return {
    epochs,
    bestEpoch,
    trainPairs: train.n,
    valPairs: nVal,
    valPairIds: valIdx.map((i) => src.pairIds[i]),
    skipped: src.skipped,
    valAccuracy: final.accuracy,
    valNll: final.nll,
    stoppedEarly,
    preferenceModel: o.preferenceModel,
  };
}
