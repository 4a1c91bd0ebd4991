/**
 * Query selection: which pairs of segments to ask a teacher about (B-Pref, Lee et al. 2021;
 * reference code rll-research/BPref reward_model.py `*_sampling`).
 *
 * Candidates are oversampled from a segment pool (`samplePairs`, by default 10x the number
 * of queries, `DEFAULT_OVERSAMPLE`), then `selectQueries` keeps k of them:
 *   uniform               k candidates at random.
 *   disagreement          top k by the std across ensemble members of P(first) (variance
 *                         gives the same ranking).
 *   entropy               top k by the binary entropy of the ensemble-mean P(first)
 *                         (B-Pref averages the members' entropies instead; the mean-P form
 *                         is the standard predictive entropy and ranks similarly).
 *   kcenter               greedy k-center (core-set) over pair features: repeatedly take the
 *                         candidate farthest from every centre so far. Centres start from
 *                         `labelled` pairs when given (as B-Pref does with its label buffer),
 *                         else from one random candidate.
 *   kcenter-disagreement  k-center over the top `topFraction` (default half, as B-Pref) of
 *   kcenter-entropy       the candidates by disagreement / entropy.
 * Predictions are `predict(pairs) -> Float32Array [members, nPairs]`, P(first) per member.
 * Methods that need them fall back to uniform when `predict` is absent (B-Pref's first
 * round), and the result says so.
 *
 * Pair features for k-center: for each of the two segments, the rows (obs_t, action_t) for
 * t = 0, stride, 2 stride, ... < H (s_H is left out: it has no action), concatenated a then
 * b: [2 ceil(H / stride) (obsDim + actDim)]. With `normalize` (default true) every feature
 * column is z-scored over the candidates and the labelled pairs together (constant columns
 * are only centred), so observation dimensions with large units do not dominate the
 * Euclidean distance. B-Pref uses raw features with stride 1, and only the observations
 * (its `sa_t[:, :, :ds]`): the actions are left out of its distances.
 */
import type { Rng } from '../core/rng.js';
import { binaryEntropy } from './preference.js';
import { makePair } from './segments.js';
import type { Pair, Segment } from './types.js';

export const DEFAULT_OVERSAMPLE = 10;

export const QUERY_METHODS = ['uniform', 'disagreement', 'entropy', 'kcenter', 'kcenter-disagreement', 'kcenter-entropy'] as const;
export type QueryMethod = (typeof QUERY_METHODS)[number];

/**
 * `count` random pairs from a pool: both segments uniform over the pool, never the same
 * segment (same index or same content id) on both sides. Pairs may repeat across draws.
 */
export function samplePairs(pool: readonly Segment[], count: number, rng: Rng): Pair[] {
  if (!(Number.isInteger(count) && count >= 0)) throw new RangeError(`samplePairs: count must be a non-negative integer, got ${count}`);
  if (count === 0) return [];
  if (new Set(pool.map((s) => s.id)).size < 2) throw new RangeError(`samplePairs: the pool needs at least 2 distinct segments, has ${pool.length}`);
  const out: Pair[] = [];
  while (out.length < count) {
    const i = rng.int(pool.length);
    const j = rng.int(pool.length);
    if (i === j || pool[i].id === pool[j].id) continue;
    out.push(makePair(pool[i], pool[j]));
  }
  return out;
}

/** Which segments a query may compare (see LoopOptions.pairScope). */
export const PAIR_SCOPES = ['any', 'episode', 'mixed'] as const;
export type PairScope = (typeof PAIR_SCOPES)[number];

/**
 * `count` candidate pairs whose two segments come from the same episode (segments with the same
 * `source`): an episode with at least 2 distinct segments is drawn uniformly, then two of its
 * segments. What stays fixed within an episode (a task's goal or target, the start state's
 * context) cannot explain the teacher's choice, so the reward model has to learn from what the
 * agent did; a reward that is right up to a constant per episode ranks an episode's behaviours
 * as the true one does. Draws are with replacement (the caller drops repeats).
 */
export function sameEpisodePairs(pool: readonly Segment[], count: number, rng: Rng): Pair[] {
  if (!(Number.isInteger(count) && count >= 0)) throw new RangeError(`sameEpisodePairs: count must be a non-negative integer, got ${count}`);
  if (count === 0) return [];
  const groups = new Map<string, Segment[]>();
  for (const s of pool) {
    const g = groups.get(s.source);
    if (!g) groups.set(s.source, [s]);
    else if (!g.some((x) => x.id === s.id)) g.push(s);
  }
  const eligible = [...groups.values()].filter((g) => g.length >= 2);
  if (eligible.length === 0) throw new RangeError(`sameEpisodePairs: no episode in the pool has 2 distinct segments (${pool.length} segments from ${groups.size} episodes)`);
  const out: Pair[] = [];
  while (out.length < count) {
    const g = eligible[rng.int(eligible.length)];
    const i = rng.int(g.length);
    const j = rng.int(g.length - 1);
    out.push(makePair(g[i], g[j >= i ? j + 1 : j]));
  }
  return out;
}

/** Whether sameEpisodePairs can draw from the pool: some episode (segments with the same `source`) holds 2 distinct segments. */
export function hasSameEpisodePair(pool: readonly Segment[]): boolean {
  const first = new Map<string, string>();
  for (const s of pool) {
    const id = first.get(s.source);
    if (id === undefined) first.set(s.source, s.id);
    else if (id !== s.id) return true;
  }
  return false;
}

/**
 * The share `fraction` (in (0, 1]) of the pool with the highest predicted return, the mean of
 * the members' summed outputs (`sums`: [members, pool.length], RewardNet.segmentSums); at least
 * 2 segments, pool order kept. Pairs drawn from it compare the policy's best behaviour, where
 * the reward's finest distinctions matter to the policy (and where few uniform pairs fall).
 */
export function topSegments(pool: readonly Segment[], sums: Float32Array, fraction: number): Segment[] {
  if (!(fraction > 0 && fraction <= 1)) throw new RangeError(`topSegments: fraction must be in (0, 1], got ${fraction}`);
  const n = pool.length;
  if (n === 0) return [];
  const m = membersOf(sums, n);
  const score = new Float64Array(n);
  for (let k = 0; k < m; k++) for (let j = 0; j < n; j++) score[j] += sums[k * n + j] / m;
  const keep = Math.min(n, Math.max(2, Math.ceil(fraction * n)));
  const chosen = Array.from(topK(score, keep)).sort((a, b) => a - b);
  return chosen.map((j) => pool[j]);
}

export interface FeatureOptions {
  /** Use every stride-th step of each segment (default 1). */
  readonly stride?: number;
  /** z-score feature columns (default true). */
  readonly normalize?: boolean;
}

/** Raw pair features, row-major [pairs.length, dim] (see the header). */
export function pairFeatures(pairs: readonly Pair[], stride = 1): { data: Float64Array; dim: number } {
  if (pairs.length === 0) return { data: new Float64Array(0), dim: 0 };
  const shape = featureShape(pairs[0].a, stride);
  const data = new Float64Array(pairs.length * shape.dim);
  writePairFeatures(pairs, shape, data, 0);
  return { data, dim: shape.dim };
}

/** The feature layout of pairs shaped like `first` (a segment of the first pair). */
interface FeatureShape {
  readonly obsDim: number;
  readonly actDim: number;
  readonly length: number;
  readonly stride: number;
  /** Width of one segment's half of the row, and of the whole row. */
  readonly half: number;
  readonly dim: number;
}

function featureShape(first: Segment, stride: number): FeatureShape {
  if (!(Number.isInteger(stride) && stride >= 1)) throw new RangeError(`pairFeatures: stride must be a positive integer, got ${stride}`);
  const { obsDim, actDim, length } = first;
  const half = Math.ceil(length / stride) * (obsDim + actDim);
  return { obsDim, actDim, length, stride, half, dim: 2 * half };
}

/** Write the features of `pairs` into rows row0, row0 + 1, ... of `data` ([rows, shape.dim]). */
function writePairFeatures(pairs: readonly Pair[], shape: FeatureShape, data: Float64Array, row0: number): void {
  const { obsDim, actDim, length, stride, half, dim } = shape;
  pairs.forEach((p, i) => {
    [p.a, p.b].forEach((s, side) => {
      if (s.obsDim !== obsDim || s.actDim !== actDim || s.length !== length) {
        throw new RangeError(`pairFeatures: segment ${s.id} differs in shape from the first pair's`);
      }
      let o = (row0 + i) * dim + side * half;
      for (let t = 0; t < length; t += stride) {
        for (let d = 0; d < obsDim; d++) data[o++] = s.obs[t * obsDim + d];
        for (let d = 0; d < actDim; d++) data[o++] = s.actions[t * actDim + d];
      }
    });
  });
}

/**
 * Already-labelled pairs given a chunk at a time (k-center's centres): `count` pairs in all,
 * `chunks()` yields them in order. Only their features are kept, never every pair's segments.
 */
export interface LabelledChunks {
  readonly count: number;
  readonly chunks: () => Iterable<readonly Pair[]>;
}

/**
 * pairFeatures of the candidates followed by the labelled pairs (an array, or chunks): the same
 * rows as pairFeatures([...candidates, ...labelled]).
 */
function candidateFeatures(candidates: readonly Pair[], labelled: readonly Pair[] | LabelledChunks, stride: number): { data: Float64Array; dim: number; nLabelled: number } {
  if (Array.isArray(labelled)) return { ...pairFeatures([...candidates, ...(labelled as readonly Pair[])], stride), nLabelled: labelled.length };
  const lc = labelled as LabelledChunks;
  if (candidates.length === 0) {
    const all = [...lc.chunks()].flat();
    return { ...pairFeatures(all, stride), nLabelled: all.length };
  }
  const shape = featureShape(candidates[0].a, stride);
  const data = new Float64Array((candidates.length + lc.count) * shape.dim);
  writePairFeatures(candidates, shape, data, 0);
  let row = candidates.length;
  for (const chunk of lc.chunks()) {
    if (row + chunk.length > candidates.length + lc.count) throw new RangeError(`selectQueries: the labelled chunks hold more than the ${lc.count} pairs they announce`);
    writePairFeatures(chunk, shape, data, row);
    row += chunk.length;
  }
  if (row !== candidates.length + lc.count) throw new RangeError(`selectQueries: the labelled chunks hold ${row - candidates.length} pairs, not the ${lc.count} they announce`);
  return { data, dim: shape.dim, nLabelled: lc.count };
}

/** Mean and population std of column `col` of a row-major [rows, width] matrix. */
function columnMoments(data: ArrayLike<number>, rows: number, width: number, col: number): { mean: number; std: number } {
  let m = 0;
  for (let i = 0; i < rows; i++) m += data[i * width + col];
  m /= rows;
  let v = 0;
  for (let i = 0; i < rows; i++) v += (data[i * width + col] - m) ** 2;
  return { mean: m, std: Math.sqrt(v / rows) };
}

/** Z-score each column of a row-major [n, dim] matrix in place (constant columns: centred only). */
export function normalizeColumns(data: Float64Array, dim: number): void {
  const n = dim === 0 ? 0 : data.length / dim;
  if (n === 0) return;
  for (let d = 0; d < dim; d++) {
    const { mean: m, std: sd } = columnMoments(data, n, dim, d);
    const scale = sd > 0 ? 1 / sd : 1;
    for (let i = 0; i < n; i++) data[i * dim + d] = (data[i * dim + d] - m) * scale;
  }
}

/**
 * Greedy k-center over points [n, dim] (row-major): returns k indices among `among` (default
 * all points) such that each new pick is the point farthest (Euclidean) from all centres so
 * far. `centres` are indices of points already chosen (e.g. labelled pairs); when empty the
 * first pick is random (`rng`). Ties go to the lowest index.
 */
export function kCenterGreedy(
  points: Float64Array,
  dim: number,
  k: number,
  opts: { among?: ArrayLike<number>; centres?: ArrayLike<number>; rng: Rng },
): Int32Array {
  const n = dim === 0 ? 0 : points.length / dim;
  const among = opts.among ? Int32Array.from(opts.among) : Int32Array.from({ length: n }, (_, i) => i);
  if (k > among.length) throw new RangeError(`kCenterGreedy: k=${k} > ${among.length} candidates`);
  const minD = new Float64Array(among.length).fill(Infinity);
  const taken = new Uint8Array(among.length);
  const dist2 = (i: number, j: number): number => {
    let s = 0;
    for (let d = 0; d < dim; d++) {
      const x = points[i * dim + d] - points[j * dim + d];
      s += x * x;
    }
    return s;
  };
  const absorb = (c: number) => {
    for (let q = 0; q < among.length; q++) minD[q] = Math.min(minD[q], dist2(among[q], c));
  };
  const centres = opts.centres ?? [];
  for (let c = 0; c < centres.length; c++) absorb(centres[c]);
  const out = new Int32Array(k);
  for (let m = 0; m < k; m++) {
    let best = -1;
    if (m === 0 && centres.length === 0) best = opts.rng.int(among.length);
    else {
      for (let q = 0; q < among.length; q++) if (!taken[q] && (best < 0 || minD[q] > minD[best])) best = q;
    }
    taken[best] = 1;
    out[m] = among[best];
    absorb(among[best]);
  }
  return out;
}

export interface SelectOptions {
  readonly rng: Rng;
  /** P(first) of every ensemble member: [members, pairs.length], row-major. */
  readonly predict?: (pairs: readonly Pair[]) => Float32Array;
  /** Already-labelled pairs: initial k-center centres. */
  readonly labelled?: readonly Pair[];
  /**
   * The same as `labelled`, given a chunk at a time (not with `labelled`): read only by the
   * k-center methods, and only their features are kept, never every pair's segments.
   */
  readonly labelledChunks?: LabelledChunks;
  /** Fraction of candidates kept by score before k-center in kcenter-* methods (default 0.5). */
  readonly topFraction?: number;
  readonly features?: FeatureOptions;
}

export interface Selection {
  /** The chosen pairs, in selection order (best first for score methods). */
  readonly pairs: Pair[];
  /** Their indices into the candidates. */
  readonly indices: Int32Array;
  readonly requested: QueryMethod;
  /** The method actually applied ('uniform' after a fallback). */
  readonly used: QueryMethod;
  /** Why `used` differs from `requested`, when it does. */
  readonly fallback?: string;
  /** Each candidate's score (disagreement or entropy), when one was computed: [candidates]. */
  readonly scores?: Float64Array;
}

/** Std across members of P(first) per pair; preds [members, n]. */
export function disagreementScores(preds: Float32Array, n: number): Float64Array {
  const m = membersOf(preds, n);
  const out = new Float64Array(n);
  for (let j = 0; j < n; j++) out[j] = columnMoments(preds, m, n, j).std;
  return out;
}

/** Binary entropy (nats) of the ensemble-mean P(first) per pair; preds [members, n]. */
export function entropyScores(preds: Float32Array, n: number): Float64Array {
  const m = membersOf(preds, n);
  const out = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    let mu = 0;
    for (let i = 0; i < m; i++) mu += preds[i * n + j];
    out[j] = binaryEntropy(mu / m);
  }
  return out;
}

function membersOf(preds: Float32Array, n: number): number {
  if (n === 0 || preds.length === 0 || preds.length % n !== 0) {
    throw new RangeError(`query selection: predictions of length ${preds.length} are not [members, ${n}]`);
  }
  return preds.length / n;
}

/**
 * Indices of the `k` highest scores, highest first (ties: lower index first; NaN ranks below
 * every number, as NumPy's argsort puts it last). A NaN made the comparison inconsistent:
 * [0.3, NaN, 0.9, NaN, 0.1] gave [0, 1, 2] instead of [2, 0, 4].
 */
export function topK(scores: ArrayLike<number>, k: number): Int32Array {
  const idx = Array.from({ length: scores.length }, (_, i) => i);
  const v = (i: number) => (Number.isNaN(scores[i]) ? Number.NEGATIVE_INFINITY : scores[i]);
  idx.sort((i, j) => (v(j) > v(i) ? 1 : v(j) < v(i) ? -1 : i - j));
  return Int32Array.from(idx.slice(0, k));
}

/** Choose k of the candidates with `method` (see the header). */
export function selectQueries(candidates: readonly Pair[], k: number, method: QueryMethod, opts: SelectOptions): Selection {
  if (!QUERY_METHODS.includes(method)) throw new RangeError(`selectQueries: unknown method "${method}" (expected ${QUERY_METHODS.join(', ')})`);
  if (!(Number.isInteger(k) && k >= 0)) throw new RangeError(`selectQueries: k must be a non-negative integer, got ${k}`);
  if (k > candidates.length) throw new RangeError(`selectQueries: asked for ${k} queries from ${candidates.length} candidates`);
  if (opts.labelled && opts.labelledChunks) throw new RangeError('selectQueries: give the labelled pairs as labelled or as labelledChunks, not both');
  const done = (indices: Int32Array, used: QueryMethod, extra: { fallback?: string; scores?: Float64Array } = {}): Selection => ({
    pairs: Array.from(indices, (i) => candidates[i]),
    indices,
    requested: method,
    used,
    ...extra,
  });
  const needsScores = method !== 'uniform' && method !== 'kcenter';
  if (method === 'uniform' || (needsScores && !opts.predict)) {
    const indices = opts.rng.sampleWithoutReplacement(candidates.length, k).slice();
    return done(indices, 'uniform', method === 'uniform' ? {} : { fallback: `${method} needs ensemble predictions and none were given (first round): uniform` });
  }
  let scores: Float64Array | undefined;
  if (needsScores && opts.predict) {
    const preds = opts.predict(candidates);
    scores = method.endsWith('disagreement') ? disagreementScores(preds, candidates.length) : entropyScores(preds, candidates.length);
  }
  if (method === 'disagreement' || method === 'entropy') return done(topK(scores as Float64Array, k), method, { scores });
  // k-center family
  let among: Int32Array | undefined;
  if (scores) {
    const frac = opts.topFraction ?? 0.5;
    if (!(frac > 0 && frac <= 1)) throw new RangeError(`selectQueries: topFraction must be in (0, 1], got ${frac}`);
    among = topK(scores, Math.max(k, Math.floor(frac * candidates.length)));
  }
  const { data, dim, nLabelled } = candidateFeatures(candidates, opts.labelledChunks ?? opts.labelled ?? [], opts.features?.stride ?? 1);
  if (opts.features?.normalize ?? true) normalizeColumns(data, dim);
  const centres = Int32Array.from({ length: nLabelled }, (_, i) => candidates.length + i);
  const picked = kCenterGreedy(data, dim, k, { among: among ?? Int32Array.from(candidates, (_, i) => i), centres, rng: opts.rng });
  return done(picked, method, scores ? { scores } : {});
}
