/**
 * Reward networks: an ensemble of small MLPs r_k(x) -> one number per transition, in
 * TensorFlow.js, with seeded initialisation, input normalisation, save/load and a batched
 * predict for relabelling millions of transitions.
 *
 * Architecture (defaults follow B-Pref, Lee et al. 2021, with the sizes of this project):
 *   x = normalise(input)            input = obs | obs-action | obs-next-obs of one transition
 *   h_1 = act(x W_1 + b_1)          hidden layers of 256, 256 units (configurable; B-Pref
 *   ...                             uses three: hidden [256, 256, 256])
 *   r = outAct(h_L w + b)           one output per transition
 * - hidden activation: leaky ReLU with slope 0.01 (B-Pref's nn.LeakyReLU, PyTorch's default
 *   slope); relu / tanh / sigmoid / linear are available.
 * - output activation: tanh (B-Pref), so every per-step reward lies in (-1, 1) and a 50-step
 *   segment's summed reward in (-50, 50): a bounded scale keeps the Bradley-Terry logits from
 *   running away when one segment is always preferred. `linear` is available when the reward
 *   scale matters (e.g. a regret model read as an optimal advantage, which is <= 0 in theory;
 *   that sign is not enforced).
 * - members: 3 independent networks (own initialisation, own data order, own optimizer); the
 *   ensemble mean is the reward, the spread drives disagreement-based query selection.
 * - initialisation: PyTorch's nn.Linear default, W and b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
 *   drawn from `rng.fork('init').fork(member)`, so a seed fixes every weight.
 *
 * What the network sees of transition t of a segment (s_t, a_t, s_{t+1}):
 *   obs: s_t;  obs-action: [s_t, a_t];  obs-next-obs: [s_t, s_{t+1}].
 *
 * Input normalisation: x = clip((input - mean) / std, -clip, clip) with mean and std fitted
 * on the training transitions (`InputNormalizer.fit`) and saved with the model; features
 * whose std is below 1e-6 (constant in the training data) are only centred (std taken as 1).
 * Normalisation runs in plain JS while the input rows are assembled (no extra tensor op).
 *
 * Speed (see /work/shared/STACK.md): the tfjs WASM backend runs a matMul fast (XNNPACK) only
 * with no transpose flag and no batch dimension; with a flag, or a batched 3-D matMul, it
 * falls back to a naive loop 10-30x slower, and tf's own gradient of a dense layer uses the
 * flags. `dense` (core/nn.ts) is a dense layer with a custom gradient that transposes explicitly
 * (dX = dZ transpose(W), dW = transpose(X) dZ) so every matMul takes the fast path; its
 * gradients equal tf's own within float tolerance (test/reward/network.test.ts).
 *
 * Saved form (a folder, e.g. `<run>/artifacts/reward_model/`):
 *   model.json   format tag, config, normaliser, tensor manifest (name, shape, offset), meta
 *   weights.bin  every tensor as little-endian float32, in manifest order
 * Loading checks the config, every tensor name and shape against the config and the byte
 * size of weights.bin, and names the offending file in the error. A save is safe to cut short
 * at any point: the new weights go to weights.bin.next, then model.json (with the weights'
 * SHA-256) replaces the old one, then weights.bin.next replaces weights.bin; loading takes
 * weights.bin.next when it is the one model.json's SHA-256 names, and refuses weights that
 * match neither (models saved before the SHA-256 was recorded load unchecked).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { warnWithoutBackend } from '../core/backend.js';
import { InputError, shownArg, shownValue, unknownKeysError } from '../core/errors.js';
import { ACTIVATIONS, type Activation, dense, denseForward } from '../core/nn.js';
import type { Rng } from '../core/rng.js';
import { writeFileAtomic, writeJsonAtomic } from '../core/run.js';
import type { Pair, PreferenceModelKind, RewardInput, RewardModel, Segment, TransitionBatch } from './types.js';
import { makeFolder } from '../core/paths.js';

// The dense layer with a custom gradient lives in core/nn.ts (shared with the offline agents);
// re-exported here so existing imports keep working.
export { ACTIVATIONS, type Activation, dense, type DenseOptions } from '../core/nn.js';
export const REWARD_INPUTS: readonly RewardInput[] = ['obs', 'obs-action', 'obs-next-obs'];

/** Everything that fixes a reward network's shape and meaning (saved in model.json). */
export interface RewardNetConfig {
  /** What the network sees of a transition (default obs-action). */
  readonly input: RewardInput;
  /** Observation size of the env. */
  readonly obsDim: number;
  /** Action size of the env. */
  readonly actDim: number;
  /** Number of ensemble members (default 3). */
  readonly members: number;
  /** Hidden layer widths (default [256, 256]). */
  readonly hidden: readonly number[];
  /** Hidden activation (default leaky-relu). */
  readonly activation: Activation;
  /** Output activation (default tanh). */
  readonly outputActivation: Activation;
  /** Negative slope of leaky-relu (default 0.01). */
  readonly leakyAlpha: number;
  /**
   * What the summed output over a segment means: the partial return (a reward) or the
   * negated regret (the output is an optimal advantage A-hat(s, a)); set by training.
   */
  readonly preferenceModel: PreferenceModelKind;
  /**
   * Observation dimensions the network does not see (default none): their input columns are
   * set to 0 before normalisation, so they carry no information (for obs-next-obs, in both
   * halves). For diagnosing and avoiding spurious features (causal confusion).
   */
  readonly ignoreObs: readonly number[];
  /**
   * Additive structure (default false): r(x) = outAct(sum_i f_i(x_i) + b), one small MLP f_i
   * per input feature with the widths in `hidden`, so no hidden unit combines two inputs. The
   * model can only score each input on its own; a reward that depends on a feature only through
   * an interaction with others (e.g. a position encoded by angles) is out of its reach, which is
   * the point: it cannot lean on such encodings when a feature that shows the quantity directly
   * exists. Implemented as one MLP of width inputWidth x hidden[l] with block-diagonal masks.
   */
  readonly additive: boolean;
}

export type RewardNetOptions = Partial<RewardNetConfig> & Pick<RewardNetConfig, 'obsDim' | 'actDim'>;

/** How a new ensemble's weights are drawn (not part of the saved config). */
export interface RewardNetInit {
  /**
   * Factor on the output layer's initial weights and bias (default 1: PyTorch's nn.Linear
   * draw). 0 starts every member at r = 0 for every input, so whatever structure the reward
   * has comes from the labels and not from the random initial function.
   */
  readonly outputScale?: number;
}

export const DEFAULT_REWARD_NET = {
  input: 'obs-action',
  members: 3,
  hidden: [256, 256],
  activation: 'leaky-relu',
  outputActivation: 'tanh',
  leakyAlpha: 0.01,
  preferenceModel: 'partial-return',
  ignoreObs: [],
  additive: false,
} as const satisfies Omit<RewardNetConfig, 'obsDim' | 'actDim'>;

/**
 * The fields of `opts` a RewardNetConfig does not have (a misspelt `hiden` was dropped and the
 * default [256, 256] used without a word): RewardNet.create refuses them, and runPreferenceLoop
 * checks its `rewardNet` option with them before its run starts.
 */
export function unknownRewardNetFields(opts: object): string[] {
  return Object.keys(opts).filter((k) => k !== 'obsDim' && k !== 'actDim' && !Object.hasOwn(DEFAULT_REWARD_NET, k));
}

/** The RangeError for those fields, naming them and the fields there are. */
export function unknownRewardNetFieldsError(unknown: readonly string[], where = 'RewardNet config'): RangeError {
  return unknownKeysError(where, unknown, ['obsDim', 'actDim', ...Object.keys(DEFAULT_REWARD_NET)], 'field');
}

/** Width of the network input for an input kind. */
export function inputWidth(input: RewardInput, obsDim: number, actDim: number): number {
  switch (input) {
    case 'obs':
      return obsDim;
    case 'obs-action':
      return obsDim + actDim;
    case 'obs-next-obs':
      return 2 * obsDim;
  }
}

function checkConfig(c: RewardNetConfig, fail: (msg: string, field: string) => never): void {
  const posInt = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v > 0;
  if (!REWARD_INPUTS.includes(c.input)) fail(`input must be one of ${REWARD_INPUTS.join('|')}, got ${shownValue(c.input)}`, 'input');
  if (!posInt(c.obsDim)) fail(`obsDim must be a positive integer, got ${shownValue(c.obsDim)}`, 'obsDim');
  if (!(typeof c.actDim === 'number' && Number.isInteger(c.actDim) && c.actDim >= 0)) {
    fail(`actDim must be a non-negative integer, got ${shownValue(c.actDim)}`, 'actDim');
  }
  if (c.input === 'obs-action' && c.actDim === 0) fail('input obs-action needs actDim > 0', 'input');
  if (!posInt(c.members)) fail(`members must be a positive integer, got ${shownValue(c.members)}`, 'members');
  if (!Array.isArray(c.hidden) || !c.hidden.every(posInt)) fail(`hidden must be a list of positive integers, got ${shownValue(c.hidden)}`, 'hidden');
  if (!ACTIVATIONS.includes(c.activation)) fail(`activation must be one of ${ACTIVATIONS.join('|')}, got ${shownValue(c.activation)}`, 'activation');
  if (!ACTIVATIONS.includes(c.outputActivation)) {
    fail(`outputActivation must be one of ${ACTIVATIONS.join('|')}, got ${shownValue(c.outputActivation)}`, 'outputActivation');
  }
  if (!(typeof c.leakyAlpha === 'number' && c.leakyAlpha >= 0 && c.leakyAlpha < 1)) {
    fail(`leakyAlpha must be in [0, 1), got ${shownValue(c.leakyAlpha)}`, 'leakyAlpha');
  }
  if (c.preferenceModel !== 'partial-return' && c.preferenceModel !== 'regret') {
    fail(`preferenceModel must be partial-return|regret, got ${shownValue(c.preferenceModel)}`, 'preferenceModel');
  }
  if (!Array.isArray(c.ignoreObs) || !c.ignoreObs.every((j) => Number.isInteger(j) && j >= 0 && j < c.obsDim)) {
    fail(`ignoreObs must be a list of observation indices in [0, ${c.obsDim}), got ${shownValue(c.ignoreObs)}`, 'ignoreObs');
  } else if (new Set(c.ignoreObs).size !== c.ignoreObs.length) {
    fail(`ignoreObs lists an index twice: ${shownValue(c.ignoreObs)}`, 'ignoreObs');
  } else if (c.ignoreObs.length === c.obsDim && c.input !== 'obs-action') {
    fail(`ignoreObs hides every observation dimension, so input ${c.input} would see nothing`, 'ignoreObs');
  }
  if (typeof c.additive !== 'boolean') fail(`additive must be true or false, got ${shownValue(c.additive)}`, 'additive');
}

/**
 * Zero the columns of ignored observation dimensions in raw input rows [n, inputWidth]
 * (in place; returns the rows). With obs-next-obs both the obs and the next-obs column go.
 */
export function maskIgnoredObs(rows: Float32Array, c: Pick<RewardNetConfig, 'input' | 'obsDim' | 'actDim' | 'ignoreObs'>): Float32Array {
  if (c.ignoreObs.length === 0) return rows;
  const w = inputWidth(c.input, c.obsDim, c.actDim);
  const cols = c.input === 'obs-next-obs' ? [...c.ignoreObs, ...c.ignoreObs.map((j) => j + c.obsDim)] : c.ignoreObs;
  for (let i = 0; i < rows.length; i += w) for (const j of cols) rows[i + j] = 0;
  return rows;
}

// ---------------------------------------------------------------------------------------
// Input rows and normalisation

/** Per-feature affine normalisation of network inputs, fitted on training data. */
export class InputNormalizer {
  constructor(
    /** [dim] */
    readonly mean: Float32Array,
    /** [dim], every entry > 0 */
    readonly std: Float32Array,
    /** Normalised values are clipped to [-clip, clip]. */
    readonly clip = 10,
  ) {
    if (mean.length !== std.length) throw new RangeError(`InputNormalizer: mean has ${mean.length} entries, std ${std.length}`);
  }

  get dim(): number {
    return this.mean.length;
  }

  /** The identity map (mean 0, std 1), used before any fit. */
  static identity(dim: number): InputNormalizer {
    return new InputNormalizer(new Float32Array(dim), new Float32Array(dim).fill(1));
  }

  /** Fit mean and std (population) of `n` rows of a row-major [n, dim] array, in float64. */
  static fit(rows: Float32Array, dim: number, clip = 10): InputNormalizer {
    const n = rows.length / dim;
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`InputNormalizer.fit: ${rows.length} values are not [n >= 1, ${dim}] rows`);
    return InputNormalizer.fitAt(rows, dim, n, (i) => i * dim, clip);
  }

  /**
   * fit over the rows of segments held once each: `rows` [S, H, dim] holds S segments of H rows,
   * and the rows fitted are those of segs[0], segs[1], ... in turn (a segment listed twice counts
   * twice): the same normaliser as fit on the segments' rows written out in that order.
   */
  static fitSegments(rows: Float32Array, dim: number, H: number, segs: Int32Array, clip = 10): InputNormalizer {
    const S = H > 0 && dim > 0 ? rows.length / (H * dim) : 0;
    if (!Number.isInteger(S) || segs.length < 1 || H < 1) throw new RangeError(`InputNormalizer.fitSegments: ${rows.length} values are not [S, ${H}, ${dim}] segment rows, or no segments are listed`);
    for (const g of segs) if (!(g >= 0 && g < S)) throw new RangeError(`InputNormalizer.fitSegments: segment ${g} is not one of the ${S} held`);
    return InputNormalizer.fitAt(rows, dim, segs.length * H, (i) => (segs[Math.floor(i / H)] * H + (i % H)) * dim, clip);
  }

  /** Mean and std of the n rows starting at rows[at(0)], rows[at(1)], ... (dim values each), in float64. */
  private static fitAt(rows: Float32Array, dim: number, n: number, at: (i: number) => number, clip: number): InputNormalizer {
    const m = new Float64Array(dim);
    const v = new Float64Array(dim);
    for (let i = 0; i < n; i++) {
      const r = at(i);
      for (let j = 0; j < dim; j++) m[j] += rows[r + j];
    }
    for (let j = 0; j < dim; j++) m[j] /= n;
    for (let i = 0; i < n; i++) {
      const r = at(i);
      for (let j = 0; j < dim; j++) {
        const d = rows[r + j] - m[j];
        v[j] += d * d;
      }
    }
    const std = new Float32Array(dim);
    for (let j = 0; j < dim; j++) {
      const s = Math.sqrt(v[j] / n);
      std[j] = s > 1e-6 ? s : 1;
    }
    return new InputNormalizer(Float32Array.from(m), std, clip);
  }

  /** Normalise a row-major [n, dim] array in place; returns it. */
  apply(rows: Float32Array): Float32Array {
    const d = this.dim;
    const c = this.clip;
    for (let i = 0; i < rows.length; i += d) {
      for (let j = 0; j < d; j++) {
        const z = (rows[i + j] - this.mean[j]) / this.std[j];
        rows[i + j] = z > c ? c : z < -c ? -c : z;
      }
    }
    return rows;
  }

  toJSON(): { mean: number[]; std: number[]; clip: number } {
    return { mean: Array.from(this.mean), std: Array.from(this.std), clip: this.clip };
  }
}

/**
 * Raw (unnormalised) input rows of transitions start..start+count-1 of a batch:
 * [count, inputWidth]. Only the arrays the input kind uses are read.
 */
export function transitionRows(
  batch: TransitionBatch,
  input: RewardInput,
  obsDim: number,
  actDim: number,
  start = 0,
  count = batch.n - start,
  out?: Float32Array,
): Float32Array {
  const w = inputWidth(input, obsDim, actDim);
  const rows = out ?? new Float32Array(count * w);
  const { obs, actions, nextObs } = batch;
  for (let i = 0; i < count; i++) {
    const t = start + i;
    const o = i * w;
    rows.set(obs.subarray(t * obsDim, (t + 1) * obsDim), o);
    if (input === 'obs-action') rows.set(actions.subarray(t * actDim, (t + 1) * actDim), o + obsDim);
    else if (input === 'obs-next-obs') rows.set(nextObs.subarray(t * obsDim, (t + 1) * obsDim), o + obsDim);
  }
  return rows;
}

/** Check that a batch's arrays hold n rows of the sizes the input kind reads. */
export function checkBatch(batch: TransitionBatch, input: RewardInput, obsDim: number, actDim: number): void {
  const { n } = batch;
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`TransitionBatch: n must be a non-negative integer, got ${n}`);
  if (batch.obs.length !== n * obsDim) throw new RangeError(`TransitionBatch: obs has ${batch.obs.length} values, expected n * obsDim = ${n * obsDim}`);
  if (input === 'obs-action' && batch.actions.length !== n * actDim) {
    throw new RangeError(`TransitionBatch: actions has ${batch.actions.length} values, expected n * actDim = ${n * actDim}`);
  }
  if (input === 'obs-next-obs' && batch.nextObs.length !== n * obsDim) {
    throw new RangeError(`TransitionBatch: nextObs has ${batch.nextObs.length} values, expected n * obsDim = ${n * obsDim}`);
  }
}

/** The H transitions of a segment as a batch (obs s_0..s_{H-1}, actions, next obs s_1..s_H). */
export function segmentTransitions(seg: Segment): TransitionBatch {
  // A pair given for a segment failed with "Cannot read properties of undefined (reading 'subarray')".
  if (typeof seg !== 'object' || seg === null || !ArrayBuffer.isView(seg.obs) || !ArrayBuffer.isView(seg.actions)) {
    throw new TypeError(`segmentTransitions: seg must be a Segment (cutSegments or sampleSegments gives them; a pair's are pair.a and pair.b), got ${seg !== null && typeof seg === 'object' && 'a' in seg && 'b' in seg ? 'a pair' : shownArg(seg)}`);
  }
  const H = seg.length;
  const d = seg.obsDim;
  return {
    n: H,
    obs: seg.obs.subarray(0, H * d),
    actions: seg.actions.subarray(0, H * seg.actDim),
    nextObs: seg.obs.subarray(d, (H + 1) * d),
  };
}

/** Raw input rows of a segment's H transitions: [H, inputWidth]. */
export function segmentRows(seg: Segment, input: RewardInput, out?: Float32Array): Float32Array {
  return transitionRows(segmentTransitions(seg), input, seg.obsDim, seg.actDim, 0, seg.length, out);
}

// ---------------------------------------------------------------------------------------
// The ensemble

/** One dense layer's parameters. */
export interface DenseParams {
  /** [in, out] */
  readonly w: tf.Variable<tf.Rank.R2>;
  /** [out] */
  readonly b: tf.Variable<tf.Rank.R1>;
}

/** Name and shape of every saved tensor, in file order. */
export interface TensorEntry {
  readonly name: string;
  readonly shape: readonly number[];
}

const FORMAT = 'prefrl-reward-net';
const FORMAT_VERSION = 1;
export const MODEL_FILE = 'model.json';
export const WEIGHTS_FILE = 'weights.bin';
/** The new weights of a save in progress: weights.bin.next (see the header). */
const NEXT_SUFFIX = '.next';

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The SHA-256 of a file, or null where it cannot be read. */
function readableHash(path: string): string | null {
  try {
    return sha256Hex(readFileSync(path));
  } catch {
    return null;
  }
}

/** Why a file of a saved model could not be read, in words: a folder in its place, no permission, or the system's message. */
function unreadableWhy(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'EISDIR' ? 'is a folder, not a file' : code === 'EACCES' ? 'this user may not read it (EACCES)' : (e as Error).message;
}

/** Extra facts saved with a model (training options and results, for people and tools). */
export type ModelMeta = Record<string, unknown>;

/** The env a reward model's training segments came from (`meta.env`; models saved before it have none). */
export interface ModelEnv {
  readonly id: string;
  readonly modelHash: string;
}

/** `meta.env` of a model, when it holds a well-formed one. */
export function modelEnv(net: Pick<RewardNet, 'meta'>): ModelEnv | undefined {
  const e = net.meta.env as Partial<ModelEnv> | undefined;
  return typeof e === 'object' && e !== null && typeof e.id === 'string' && typeof e.modelHash === 'string' ? { id: e.id, modelHash: e.modelHash } : undefined;
}

/**
 * Whether a reward model fits data or an env of `envId` / `modelHash` (`what` names them in the
 * message, e.g. "the dataset was recorded on"): `error` when the model was trained on another env,
 * `warning` when on the same env id with another model file (an edited MJCF may still fit); both
 * undefined when it fits or either side does not say.
 */
export function envFit(net: Pick<RewardNet, 'meta'>, envId: string | undefined, modelHash: string | undefined, what: string): { error?: string; warning?: string } {
  const e = modelEnv(net);
  if (!e || !envId || envId === 'unknown') return {};
  if (e.id !== envId) return { error: `the model was trained on segments of ${e.id}; ${what} ${envId}` };
  if (modelHash && modelHash !== 'unknown' && e.modelHash !== modelHash) {
    return { warning: `the model was trained on segments of ${e.id} from another model file (hash ${e.modelHash}); ${what} ${envId} with hash ${modelHash}` };
  }
  return {};
}

export interface PredictOptions {
  /** Transitions per forward pass (default 8192); results do not depend on it. */
  readonly chunkSize?: number;
}

export interface PredictRowsOptions extends PredictOptions {
  /** The rows are already normalised (skip the normaliser). */
  readonly normalized?: boolean;
}

export const DEFAULT_PREDICT_CHUNK = 8192;

/**
 * The ensemble mean of per-member outputs laid out [members, n] (n = out.length), written into
 * `out` (zero-filled, of the precision the caller sums in) and returned.
 */
export function meanOverMembers<T extends Float32Array | Float64Array>(perMember: ArrayLike<number>, members: number, out: T): T {
  const n = out.length;
  for (let k = 0; k < members; k++) for (let i = 0; i < n; i++) out[i] += perMember[k * n + i];
  for (let i = 0; i < n; i++) out[i] /= members;
  return out;
}

export class RewardNet implements RewardModel {
  private cfg: RewardNetConfig;
  /** Input width (see inputWidth). */
  readonly inDim: number;
  /** layers[k][l]: member k, layer l (hidden layers then the output layer). */
  readonly layers: readonly (readonly DenseParams[])[];
  normalizer: InputNormalizer;
  /** Whether the normaliser was fitted (or loaded) rather than the identity. */
  normalizerFitted = false;
  /** Saved alongside the weights (training options, metrics). */
  meta: ModelMeta = {};
  private disposed = false;
  /** Per layer, the additive structure's mask tensor (null: dense); null when not additive. */
  private readonly masks: (tf.Tensor2D | null)[] | null;

  private constructor(config: RewardNetConfig, layers: DenseParams[][], normalizer: InputNormalizer) {
    this.cfg = config;
    this.inDim = inputWidth(config.input, config.obsDim, config.actDim);
    this.layers = layers;
    this.normalizer = normalizer;
    const sizes = RewardNet.layerSizes(config);
    this.masks = RewardNet.layerMasks(config)?.map((m, l) => (m ? tf.keep(tf.tensor2d(m, [sizes[l], sizes[l + 1]])) : null)) ?? null;
  }

  /** Layer l's weight matrix as the forward pass uses it (masked in the additive structure). */
  private weight(p: DenseParams, l: number): tf.Tensor2D {
    const m = this.masks?.[l] ?? null;
    return m ? tf.mul(p.w, m) : p.w;
  }

  /** Resolve defaults and validate (throws RangeError naming the field). */
  static resolveConfig(opts: RewardNetOptions): RewardNetConfig {
    const given = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) as RewardNetOptions;
    const c: RewardNetConfig = {
      ...DEFAULT_REWARD_NET,
      ...given,
      hidden: [...(given.hidden ?? DEFAULT_REWARD_NET.hidden)],
      ignoreObs: [...(given.ignoreObs ?? DEFAULT_REWARD_NET.ignoreObs)].sort((a, b) => a - b),
    };
    checkConfig(c, (msg, field) => {
      throw new RangeError(`RewardNet config ${field}: ${msg}`);
    });
    return c;
  }

  /** Layer sizes [in, h_1, ..., h_L, 1] (additive: each h_l times the input width). */
  static layerSizes(c: RewardNetConfig): number[] {
    const inDim = inputWidth(c.input, c.obsDim, c.actDim);
    return [inDim, ...c.hidden.map((h) => (c.additive ? h * inDim : h)), 1];
  }

  /**
   * The additive structure's masks, one [in, out] 0/1 array per layer (null for the output
   * layer, which sums every block): layer 0 joins input i to its own block of hidden[0] units,
   * layer l > 0 joins block g of hidden[l-1] units to block g of hidden[l]. Null when not additive.
   */
  static layerMasks(c: RewardNetConfig): (Float32Array | null)[] | null {
    if (!c.additive) return null;
    const sizes = RewardNet.layerSizes(c);
    const widths = [1, ...c.hidden];
    const masks: (Float32Array | null)[] = [];
    for (let l = 0; l + 1 < sizes.length; l++) {
      if (l === sizes.length - 2) {
        masks.push(null);
        continue;
      }
      const [nIn, nOut] = [sizes[l], sizes[l + 1]];
      const m = new Float32Array(nIn * nOut);
      for (let i = 0; i < nIn; i++) {
        const g = Math.floor(i / widths[l]);
        for (let j = g * widths[l + 1]; j < (g + 1) * widths[l + 1]; j++) m[i * nOut + j] = 1;
      }
      masks.push(m);
    }
    return masks;
  }

  /** The names and shapes of the saved tensors implied by a config. */
  static tensorEntries(c: RewardNetConfig): TensorEntry[] {
    const sizes = RewardNet.layerSizes(c);
    const out: TensorEntry[] = [];
    for (let k = 0; k < c.members; k++) {
      for (let l = 0; l + 1 < sizes.length; l++) {
        out.push({ name: `member${k}/dense${l}/kernel`, shape: [sizes[l], sizes[l + 1]] });
        out.push({ name: `member${k}/dense${l}/bias`, shape: [sizes[l + 1]] });
      }
    }
    return out;
  }

  /** A freshly initialised ensemble (PyTorch nn.Linear initialisation, seeded). */
  static create(opts: RewardNetOptions, rng: Rng, init: RewardNetInit = {}): RewardNet {
    warnWithoutBackend('RewardNet.create');
    // The weights' draws come from rng: without one, the first draw failed reading 'fork' of undefined.
    if (typeof (rng as Partial<Rng> | null)?.fork !== 'function') throw new TypeError(`RewardNet.create: rng must be a seeded Rng (new Rng(seed)), got ${shownArg(rng)}`);
    if (typeof opts !== 'object' || opts === null) throw new TypeError(`RewardNet.create: options must be an object with obsDim and actDim, got ${shownArg(opts)}`);
    const unknown = unknownRewardNetFields(opts);
    if (unknown.length > 0) throw unknownRewardNetFieldsError(unknown);
    const outputScale = init.outputScale ?? 1;
    if (!(Number.isFinite(outputScale) && outputScale >= 0)) throw new RangeError(`RewardNet init outputScale must be a finite number >= 0, got ${outputScale}`);
    const c = RewardNet.resolveConfig(opts);
    const sizes = RewardNet.layerSizes(c);
    const masks = RewardNet.layerMasks(c);
    const values: Float32Array[] = [];
    for (let k = 0; k < c.members; k++) {
      const r = rng.fork('init').fork(k);
      for (let l = 0; l + 1 < sizes.length; l++) {
        // Fan-in of a unit: what it is connected to (one block in the additive structure).
        const mask = masks?.[l] ?? null;
        const fanIn = mask ? [1, ...c.hidden][l] : sizes[l];
        const bound = 1 / Math.sqrt(fanIn);
        const w = new Float32Array(sizes[l] * sizes[l + 1]);
        r.fillUniform(w, -bound, bound);
        if (mask) for (let i = 0; i < w.length; i++) w[i] *= mask[i];
        const b = new Float32Array(sizes[l + 1]);
        r.fillUniform(b, -bound, bound);
        // The output layer's draws are scaled after drawing, so every other layer is the same at any scale.
        if (l === sizes.length - 2 && outputScale !== 1) {
          for (let i = 0; i < w.length; i++) w[i] *= outputScale;
          for (let i = 0; i < b.length; i++) b[i] *= outputScale;
        }
        values.push(w, b);
      }
    }
    return RewardNet.fromValues(c, values, InputNormalizer.identity(sizes[0]));
  }

  private static fromValues(c: RewardNetConfig, values: readonly Float32Array[], norm: InputNormalizer): RewardNet {
    const sizes = RewardNet.layerSizes(c);
    const layers: DenseParams[][] = [];
    let i = 0;
    for (let k = 0; k < c.members; k++) {
      const member: DenseParams[] = [];
      for (let l = 0; l + 1 < sizes.length; l++) {
        const wv = values[i++];
        const bv = values[i++];
        // tidy frees the initial-value tensors; the variables survive it.
        const w = tf.tidy(() => tf.variable(tf.tensor2d(wv, [sizes[l], sizes[l + 1]]), true)) as tf.Variable<tf.Rank.R2>;
        const b = tf.tidy(() => tf.variable(tf.tensor1d(bv), true)) as tf.Variable<tf.Rank.R1>;
        member.push({ w, b });
      }
      layers.push(member);
    }
    return new RewardNet(c, layers, norm);
  }

  get config(): RewardNetConfig {
    return this.cfg;
  }

  get input(): RewardInput {
    return this.config.input;
  }

  get members(): number {
    return this.config.members;
  }

  /** Every trainable variable of member k, layer by layer (W then b). */
  memberVariables(k: number): tf.Variable[] {
    return this.layers[k].flatMap((p) => [p.w, p.b]);
  }

  /** A copy of member k's weights (for keeping the best weights during training). */
  getMemberWeights(k: number): Float32Array[] {
    return this.memberVariables(k).map((v) => v.dataSync().slice() as Float32Array);
  }

  /** Overwrite member k's weights with values from getMemberWeights. */
  setMemberWeights(k: number, values: readonly Float32Array[]): void {
    const vars = this.memberVariables(k);
    if (values.length !== vars.length) throw new RangeError(`setMemberWeights: ${values.length} arrays for ${vars.length} variables`);
    vars.forEach((v, i) => {
      if (values[i].length !== v.size) throw new RangeError(`setMemberWeights: array ${i} has ${values[i].length} values, variable has ${v.size}`);
      tf.tidy(() => v.assign(tf.tensor(values[i], v.shape)));
    });
  }

  /** Use a fitted normaliser from now on (its width must match the input width). */
  setNormalizer(norm: InputNormalizer): void {
    if (norm.dim !== this.inDim) throw new RangeError(`setNormalizer: normaliser has ${norm.dim} features, network input has ${this.inDim}`);
    this.normalizer = norm;
    this.normalizerFitted = true;
  }

  /**
   * Member k's per-step outputs [n, 1] for normalised inputs x [n, inDim], differentiable
   * through the custom-gradient dense layers. `xT` (= transpose(x), [inDim, n]) spares a
   * transpose in the first layer's weight gradient.
   */
  forwardMember(k: number, x: tf.Tensor2D, xT?: tf.Tensor2D): tf.Tensor2D {
    const { activation, outputActivation, leakyAlpha } = this.config;
    const layers = this.layers[k];
    let h = x;
    layers.forEach((p, l) => {
      const act = l === layers.length - 1 ? outputActivation : activation;
      h = dense(h, this.weight(p, l), p.b, act, leakyAlpha, l === 0 ? { xT, inputGrad: false } : {});
    });
    return h;
  }

  /** Inference only: every member's outputs for normalised x [n, inDim] -> [members, n]. */
  forwardAll(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      const { activation, outputActivation, leakyAlpha } = this.config;
      const n = x.shape[0];
      const outs = this.layers.map((layers) => {
        let h = x;
        layers.forEach((p, l) => {
          h = denseForward(h, this.weight(p, l), p.b, l === layers.length - 1 ? outputActivation : activation, leakyAlpha).y;
        });
        return tf.reshape(h, [1, n]);
      });
      return outs.length === 1 ? (outs[0] as tf.Tensor2D) : (tf.concat(outs, 0) as tf.Tensor2D);
    });
  }

  /** Zero the ignored observation columns of raw input rows (config.ignoreObs), in place. */
  maskRows(rows: Float32Array): Float32Array {
    return maskIgnoredObs(rows, this.config);
  }

  /**
   * Raw (unnormalised) input rows of transitions start..start+count-1 as this network sees
   * them: [count, inDim], ignored observation columns zeroed. Every input this network gets
   * is built here or in segmentInputRows.
   */
  batchRows(batch: TransitionBatch, start = 0, count = batch.n - start, out?: Float32Array): Float32Array {
    return this.maskRows(transitionRows(batch, this.input, this.config.obsDim, this.config.actDim, start, count, out));
  }

  /** Raw input rows of a segment's transitions as this network sees them: [length, inDim]. */
  segmentInputRows(seg: Segment, out?: Float32Array): Float32Array {
    return this.maskRows(segmentRows(seg, this.input, out));
  }

  /** Normalised input rows for a transition batch (a new array). */
  inputRows(batch: TransitionBatch, start = 0, count = batch.n - start): Float32Array {
    return this.normalizer.apply(this.batchRows(batch, start, count));
  }

  /** Every member's reward for every transition: [members, n], row-major. */
  predictMembers(batch: TransitionBatch, opts: PredictOptions = {}): Float32Array {
    this.checkAlive();
    checkBatch(batch, this.input, this.config.obsDim, this.config.actDim);
    return this.runChunked(batch.n, opts, (view, start, count) => this.batchRows(batch, start, count, view));
  }

  /**
   * Forward n rows in chunks: `fill` writes the raw input rows [count, inDim] of rows
   * start..start+count-1 into `view`; they are normalised here. Returns [members, n].
   * Each chunk's tensors are freed before the next (tf.tidy), so memory stays at one chunk.
   */
  private runChunked(n: number, opts: PredictRowsOptions, fill: (view: Float32Array, start: number, count: number) => void): Float32Array {
    const chunk = opts.chunkSize ?? DEFAULT_PREDICT_CHUNK;
    if (!Number.isInteger(chunk) || chunk < 1) throw new RangeError(`predict: chunkSize must be a positive integer, got ${chunk}`);
    const m = this.members;
    const out = new Float32Array(m * n);
    const rows = new Float32Array(Math.min(chunk, Math.max(n, 1)) * this.inDim);
    for (let start = 0; start < n; start += chunk) {
      const count = Math.min(chunk, n - start);
      const view = rows.subarray(0, count * this.inDim);
      fill(view, start, count);
      if (!opts.normalized) this.normalizer.apply(view);
      const vals = tf.tidy(() => this.forwardAll(tf.tensor2d(view, [count, this.inDim])).dataSync());
      for (let k = 0; k < m; k++) out.set(vals.subarray(k * count, (k + 1) * count), k * n + start);
    }
    return out;
  }

  /** Ensemble-mean reward of every transition: [n]. */
  predict(batch: TransitionBatch, opts: PredictOptions = {}): Float32Array {
    return meanOverMembers(this.predictMembers(batch, opts), this.members, new Float32Array(batch.n));
  }

  /**
   * Each member's per-step output over the transitions of the segments, in order:
   * [members, total steps] (segment 0's steps first).
   */
  segmentSteps(segments: readonly Segment[], opts: PredictOptions = {}): Float32Array {
    const n = segments.reduce((s, g) => s + g.length, 0);
    const rows = new Float32Array(n * this.inDim);
    let o = 0;
    for (const g of segments) {
      if (g.obsDim !== this.config.obsDim || g.actDim !== this.config.actDim) {
        throw new RangeError(`segment ${g.id} has obs/act sizes ${g.obsDim}/${g.actDim}, the reward network expects ${this.config.obsDim}/${this.config.actDim}`);
      }
      this.segmentInputRows(g, rows.subarray(o * this.inDim, (o + g.length) * this.inDim));
      o += g.length;
    }
    return this.predictRows(rows, n, opts);
  }

  /**
   * Each member's summed output over each segment: [members, segments.length]. Under the
   * partial-return model this is the predicted return; under the regret model, -regret.
   */
  segmentSums(segments: readonly Segment[], opts: PredictOptions = {}): Float32Array {
    const n = segments.reduce((s, g) => s + g.length, 0);
    const per = this.segmentSteps(segments, opts);
    const m = this.members;
    const out = new Float32Array(m * segments.length);
    for (let k = 0; k < m; k++) {
      let t = 0;
      segments.forEach((g, s) => {
        let acc = 0;
        for (let i = 0; i < g.length; i++) acc += per[k * n + t + i];
        out[k * segments.length + s] = acc;
        t += g.length;
      });
    }
    return out;
  }

  /** The ensemble's mean summed output over each segment (its predicted return, or -regret). */
  meanSegmentSums(segments: readonly Segment[], opts: PredictOptions = {}): Float64Array {
    return meanOverMembers(this.segmentSums(segments, opts), this.members, new Float64Array(segments.length));
  }

  /** Each member's P(first) for each pair, sigmoid((sum a - sum b) / T): [members, pairs.length]. */
  pairProbs(pairs: readonly Pair[], temperature = 1): Float32Array {
    // Candidate pairs are drawn from a small pool, so the same segment object sits in many of
    // them (1,000 candidates over a pool of 64 segments): each distinct segment is run through
    // the network once. A row's output does not depend on the other rows of its batch, so the
    // sums are the ones a pass over every pair's two segments gives.
    const slot = new Map<Segment, number>();
    const segs: Segment[] = [];
    const at = new Int32Array(2 * pairs.length);
    pairs.forEach((p, j) => {
      for (const [side, g] of [p.a, p.b].entries()) {
        let s = slot.get(g);
        if (s === undefined) {
          s = segs.length;
          slot.set(g, s);
          segs.push(g);
        }
        at[2 * j + side] = s;
      }
    });
    const sums = this.segmentSums(segs);
    const u = segs.length;
    const m = this.members;
    const n = pairs.length;
    const out = new Float32Array(m * n);
    for (let k = 0; k < m; k++) {
      for (let j = 0; j < n; j++) {
        const d = (sums[k * u + at[2 * j]] - sums[k * u + at[2 * j + 1]]) / temperature;
        out[k * n + j] = d >= 0 ? 1 / (1 + Math.exp(-d)) : Math.exp(d) / (1 + Math.exp(d));
      }
    }
    return out;
  }

  /** Members' outputs [members, n] for input rows [n, inDim] (raw unless opts.normalized). */
  predictRows(raw: Float32Array, n: number, opts: PredictRowsOptions = {}): Float32Array {
    this.checkAlive();
    if (raw.length !== n * this.inDim) throw new RangeError(`predictRows: ${raw.length} values are not [${n}, ${this.inDim}]`);
    const w = this.inDim;
    return this.runChunked(n, opts, (view, start, count) => view.set(raw.subarray(start * w, (start + count) * w)));
  }

  /** Record what the summed outputs mean (set by training; saved with the model). */
  setPreferenceModel(model: PreferenceModelKind): void {
    this.cfg = { ...this.cfg, preferenceModel: model };
  }

  /** Save to a folder (created if needed): model.json + weights.bin. Returns the folder. */
  save(dir: string): string {
    this.checkAlive();
    makeFolder(dir);
    const entries = RewardNet.tensorEntries(this.config);
    const values = this.layers.flatMap((_, k) => this.getMemberWeights(k));
    const total = values.reduce((s, v) => s + v.length, 0);
    const all = new Float32Array(total);
    const manifest: { name: string; shape: readonly number[]; offset: number }[] = [];
    let off = 0;
    values.forEach((v, i) => {
      all.set(v, off);
      manifest.push({ ...entries[i], offset: off });
      off += v.length;
    });
    const weightsPath = join(dir, WEIGHTS_FILE);
    const bytes = new Uint8Array(littleEndianBytes(all));
    // In three steps, each of which leaves a folder that loads (see the header): a save cut short
    // never pairs the new model.json with the old weights.
    const next = `${weightsPath}${NEXT_SUFFIX}`;
    writeFileAtomic(next, bytes);
    writeJsonAtomic(join(dir, MODEL_FILE), {
      format: FORMAT,
      version: FORMAT_VERSION,
      config: this.config,
      normalizer: this.normalizerFitted ? this.normalizer.toJSON() : null,
      weights: { file: WEIGHTS_FILE, dtype: 'float32', byteOrder: 'little-endian', bytes: total * 4, sha256: sha256Hex(bytes), tensors: manifest },
      meta: this.meta,
    });
    renameSync(next, weightsPath);
    return dir;
  }

  /** Load a folder written by save(); errors name the file (and field) at fault. */
  static load(dir: string): RewardNet {
    warnWithoutBackend('RewardNet.load');
    const modelPath = join(dir, MODEL_FILE);
    const weightsPath = join(dir, WEIGHTS_FILE);
    if (!existsSync(modelPath)) throw new InputError(modelPath, 'not found (expected a reward model folder with model.json and weights.bin)');
    let text: string;
    try {
      text = readFileSync(modelPath, 'utf8');
    } catch (e) {
      // A folder in its place (EISDIR) or a file this user may not read: not "not valid JSON".
      throw new InputError(modelPath, `cannot read: ${unreadableWhy(e)}`);
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw new InputError(modelPath, `not valid JSON (${(e as Error).message})`);
    }
    const fail = (msg: string, field?: string): never => {
      throw new InputError(modelPath, msg, field);
    };
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return fail('expected a JSON object');
    const d = doc as Record<string, unknown>;
    if (d.format !== FORMAT) fail(`format is ${JSON.stringify(d.format)}, expected ${JSON.stringify(FORMAT)}`, 'format');
    if (d.version !== FORMAT_VERSION) fail(`version ${JSON.stringify(d.version)} is not supported (expected ${FORMAT_VERSION})`, 'version');
    if (typeof d.config !== 'object' || d.config === null) fail('missing config object', 'config');
    const raw = d.config as Record<string, unknown>;
    const required = ['input', 'obsDim', 'actDim', 'members', 'hidden', 'activation', 'outputActivation', 'leakyAlpha', 'preferenceModel'];
    // ignoreObs came later; models saved before it see every observation dimension.
    const known = new Set([...required, 'ignoreObs', 'additive']);
    for (const key of Object.keys(raw)) if (!known.has(key)) fail(`unknown key "${key}"`, `config.${key}`);
    for (const key of required) if (!(key in raw)) fail(`missing key "${key}"`, `config.${key}`);
    const config = { ignoreObs: [], additive: false, ...raw } as unknown as RewardNetConfig;
    checkConfig(config, (msg, field) => fail(msg, `config.${field}`));

    const w = d.weights as Record<string, unknown> | undefined;
    if (typeof w !== 'object' || w === null || !Array.isArray(w.tensors)) return fail('missing weights.tensors list', 'weights');
    if (w.dtype !== 'float32' || w.byteOrder !== 'little-endian') fail(`weights must be little-endian float32, got ${JSON.stringify(w.dtype)} ${JSON.stringify(w.byteOrder)}`, 'weights');
    const expected = RewardNet.tensorEntries(config);
    const listed = w.tensors as { name?: unknown; shape?: unknown; offset?: unknown }[];
    if (listed.length !== expected.length) fail(`lists ${listed.length} tensors, the config implies ${expected.length}`, 'weights.tensors');
    let off = 0;
    expected.forEach((e, i) => {
      const t = listed[i];
      if (t.name !== e.name) fail(`tensor ${i} is ${JSON.stringify(t.name)}, expected ${JSON.stringify(e.name)}`, 'weights.tensors');
      if (!Array.isArray(t.shape) || t.shape.length !== e.shape.length || t.shape.some((s, j) => s !== e.shape[j])) {
        fail(`tensor ${e.name} has shape ${JSON.stringify(t.shape)}, the config implies [${e.shape.join(', ')}]`, 'weights.tensors');
      }
      if (t.offset !== off) fail(`tensor ${e.name} starts at ${JSON.stringify(t.offset)}, expected ${off}`, 'weights.tensors');
      off += e.shape.reduce((a, b) => a * b, 1);
    });
    if (w.bytes !== off * 4) fail(`weights.bytes is ${JSON.stringify(w.bytes)}, the tensors need ${off * 4}`, 'weights.bytes');
    const sha = w.sha256;
    if (sha !== undefined && !(typeof sha === 'string' && /^[0-9a-f]{64}$/.test(sha))) fail(`weights.sha256 must be 64 lowercase hex digits, got ${JSON.stringify(sha)}`, 'weights.sha256');

    const inDim = inputWidth(config.input, config.obsDim, config.actDim);
    let norm = InputNormalizer.identity(inDim);
    let fitted = false;
    if (d.normalizer !== null && d.normalizer !== undefined) {
      const nz = d.normalizer as { mean?: unknown; std?: unknown; clip?: unknown };
      const okArr = (a: unknown) => Array.isArray(a) && a.length === inDim && a.every((x) => typeof x === 'number' && Number.isFinite(x));
      if (!okArr(nz.mean)) fail(`normalizer.mean must be ${inDim} finite numbers`, 'normalizer.mean');
      if (!okArr(nz.std) || !(nz.std as number[]).every((x) => x > 0)) fail(`normalizer.std must be ${inDim} positive numbers`, 'normalizer.std');
      if (!(typeof nz.clip === 'number' && nz.clip > 0)) fail(`normalizer.clip must be a positive number, got ${JSON.stringify(nz.clip)}`, 'normalizer.clip');
      norm = new InputNormalizer(Float32Array.from(nz.mean as number[]), Float32Array.from(nz.std as number[]), nz.clip as number);
      fitted = true;
    }

    // A save cut short after model.json was replaced left its weights in weights.bin.next.
    const next = `${weightsPath}${NEXT_SUFFIX}`;
    const from = typeof sha === 'string' && existsSync(next) && readableHash(next) === sha && readableHash(weightsPath) !== sha ? next : weightsPath;
    if (!existsSync(from)) throw new InputError(from, 'not found');
    let bytes: Buffer;
    try {
      bytes = readFileSync(from);
    } catch (e) {
      throw new InputError(from, `cannot read: ${unreadableWhy(e)}`);
    }
    if (bytes.byteLength !== off * 4) {
      throw new InputError(from, `has ${bytes.byteLength} bytes, ${MODEL_FILE} lists ${off} float32 values (${off * 4} bytes)`);
    }
    const all = fromLittleEndian(bytes);
    for (let i = 0; i < all.length; i++) {
      if (!Number.isFinite(all[i])) throw new InputError(from, `value ${i} is ${all[i]}; weights must be finite`);
    }
    if (typeof sha === 'string' && sha256Hex(bytes) !== sha) {
      throw new InputError(from, `does not hold the weights ${MODEL_FILE} was saved with (their SHA-256 differs): the weights of another save of the model, or a damaged file`);
    }
    const values: Float32Array[] = [];
    let o = 0;
    for (const e of expected) {
      const size = e.shape.reduce((a, b) => a * b, 1);
      values.push(all.slice(o, o + size));
      o += size;
    }
    const net = RewardNet.fromValues({ ...config, hidden: [...config.hidden] }, values, norm);
    net.normalizerFitted = fitted;
    net.meta = typeof d.meta === 'object' && d.meta !== null ? (d.meta as ModelMeta) : {};
    return net;
  }

  /** Number of trainable parameters of one member. */
  get paramsPerMember(): number {
    return this.memberVariables(0).reduce((s, v) => s + v.size, 0);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const member of this.layers) for (const p of member) {
      p.w.dispose();
      p.b.dispose();
    }
    for (const m of this.masks ?? []) m?.dispose();
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  private checkAlive(): void {
    if (this.disposed) throw new Error('RewardNet: used after dispose()');
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function littleEndianBytes(a: Float32Array): ArrayBuffer {
  if (LITTLE_ENDIAN) return a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength) as ArrayBuffer;
  const out = new DataView(new ArrayBuffer(a.length * 4));
  for (let i = 0; i < a.length; i++) out.setFloat32(i * 4, a[i], true);
  return out.buffer;
}

function fromLittleEndian(bytes: Uint8Array): Float32Array {
  const copy = new Uint8Array(bytes);
  if (LITTLE_ENDIAN) return new Float32Array(copy.buffer, 0, copy.byteLength / 4);
  const view = new DataView(copy.buffer);
  const out = new Float32Array(copy.byteLength / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}
