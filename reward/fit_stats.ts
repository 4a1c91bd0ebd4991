/**
 * Which preference model explains a set of labelled comparisons better: partial return
 * (Christiano et al. 2017, Bradley-Terry) or regret (Knox et al. 2022, "Models of human
 * preference for learning reward functions")? Fits each model's one free parameter, a
 * temperature T > 0, by maximum likelihood and compares held-out likelihood by k-fold
 * cross-validation. This mirrors the analysis of the human delivery-gridworld data in Knox et
 * al., whose datasets ship per pair the three statistics used here.
 *
 * Data and sign convention. Row i describes a comparison of a FIRST segment a and a SECOND
 * segment b (each s_0 .. s_T):
 *   X[i] = [dR, dV_start, dV_end]  with every column "first minus second":
 *     dR       = R(a) - R(b)              partial returns (undiscounted sums of rewards)
 *     dV_start = V(s_0^a) - V(s_0^b)      state values of the start states
 *     dV_end   = V(s_T^a) - V(s_T^b)      state values of the end states (0 when terminal)
 *   Y[i] = P(first preferred) as labelled: 1 first, 0 second, 0.5 equally preferred.
 *
 * Models (sigma = logistic function, T > 0 the temperature, i.e. 1 / beta):
 *   partial return   P(a > b) = sigma(dR / T)
 *   regret           P(a > b) = sigma((dR + dV_end - dV_start) / T)
 * Derivation of the regret score, for deterministic transitions and gamma = 1:
 *   regret(a) = V(s_0^a) - (R(a) + V(s_T^a))      (value lost by following a instead of pi*)
 *   P(a > b)  = sigma((regret(b) - regret(a)) / T)
 *   regret(b) - regret(a) = V(s_0^b) - R(b) - V(s_T^b) - V(s_0^a) + R(a) + V(s_T^a)
 *                         = dR + dV_end - dV_start.
 *   constant baseline P(a > b) = mean label of the training rows (clipped to [1e-6, 1 - 1e-6]
 *   so a one-sided training fold does not give an infinite held-out NLL); no temperature.
 *
 * Likelihood. With score z_i = s_i / T and p_i = sigma(z_i), a row's negative log-likelihood is
 *   nll_i = -(y_i log p_i + (1 - y_i) log(1 - p_i)),
 * so a tie (y = 0.5) counts as half a win for each side (its minimum, log 2, is at p = 0.5);
 * it is `bradleyTerryNll` of reward/preference.ts (the shared reference for this math).
 * NLL figures are means over rows, in nats. The NLL is convex in beta = 1/T, hence unimodal in
 * u = log T; T is searched in u over [log(c 1e-4), log(c 1e4)] (c = mean |s| over rows with
 * s != 0): the NLL's slope in beta (a sum over rows, as is its second derivative) is checked at
 * both ends, and between them its root is found by safeguarded Newton steps on log beta (a
 * handful of passes over the rows). When the optimum sits at an end of the range (separable
 * data: T -> 0; scores unrelated or opposed to the labels: T -> infinity), or within 1e-6 of one
 * in u, the fit reports `atBound`.
 *
 * Accuracy. Computed over rows with a strict label (y = 0 or 1); tie-labelled rows are left
 * out (reported as `accuracyRows`). A prediction is "first" when P > 0.5, "second" when
 * P < 0.5; a prediction of exactly 0.5 (score 0, e.g. equal partial returns) earns half a
 * point, the expected score of a coin flip.
 *
 * Cross-validation. Rows are shuffled with the seeded Rng (new Rng(seed).fork('folds')) and
 * dealt into k folds (sizes differ by at most one). For each fold, T (and the constant) are
 * fitted on the other k - 1 folds and scored on the fold; held-out NLL and accuracy are pooled
 * over all rows. `nllDifference` is the mean and standard error of the per-row difference
 * (regret minus partial return) of held-out NLL; negative favours regret.
 *
 * Which model is better. `better` names the model with the lower held-out NLL only when the
 * mean difference is more than 2 standard errors from 0 (about a two-sided 95% normal test of
 * the paired per-row differences) and at least 0.00005 nats per row (so it does not print as
 * 0.0000 at the 4 decimals shown); otherwise the models are `level`. `lowerNll` is the raw
 * comparison of the two NLLs, whatever the size of the difference.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { InputError } from '../core/errors.js';
import { meanSe } from '../core/math.js';
import { parseNpy } from '../core/npy.js';
import { Rng } from '../core/rng.js';
import { bradleyTerryNll } from './preference.js';

export type StatsModel = 'partial-return' | 'regret';
export const STATS_MODELS: readonly StatsModel[] = ['partial-return', 'regret'];

/** Comparison statistics: x [n, 3] row-major (dR, dV_start, dV_end; first minus second), y [n]. */
export interface PreferenceStats {
  readonly n: number;
  readonly x: Float64Array;
  readonly y: Float64Array;
}

/** The model's score s_i (P(first) = sigma(s_i / T)) of every row: [n]. */
export function modelScores(stats: PreferenceStats, model: StatsModel): Float64Array {
  const s = new Float64Array(stats.n);
  for (let i = 0; i < stats.n; i++) {
    const dR = stats.x[3 * i];
    s[i] = model === 'partial-return' ? dR : dR + stats.x[3 * i + 2] - stats.x[3 * i + 1];
  }
  return s;
}

/** Mean NLL of labels y [n] under P = sigma(s / T), over the rows in `idx` (default all). */
export function meanNll(s: ArrayLike<number>, y: ArrayLike<number>, temperature: number, idx?: ArrayLike<number>): number {
  const n = idx ? idx.length : s.length;
  let total = 0;
  for (let k = 0; k < n; k++) {
    const i = idx ? idx[k] : k;
    total += bradleyTerryNll(s[i] / temperature, y[i]);
  }
  return total / n;
}

/** Mean NLL of labels y under a constant P(first) = p. */
export function constantNll(p: number, y: ArrayLike<number>, idx?: ArrayLike<number>): number {
  const n = idx ? idx.length : y.length;
  const lp = Math.log(p);
  const lq = Math.log1p(-p);
  let total = 0;
  for (let k = 0; k < n; k++) {
    const yi = y[idx ? idx[k] : k];
    total -= yi * lp + (1 - yi) * lq;
  }
  return total / n;
}

/**
 * Accuracy as defined in the header: over rows with y in {0, 1}; `margin` > 0 predicts first,
 * < 0 second, = 0 earns half a point. Returns the accuracy (null when no strict rows) and the
 * number of rows it was computed on.
 */
export function accuracy(margin: ArrayLike<number>, y: ArrayLike<number>, idx?: ArrayLike<number>): { accuracy: number | null; rows: number } {
  const n = idx ? idx.length : y.length;
  let points = 0;
  let rows = 0;
  for (let k = 0; k < n; k++) {
    const i = idx ? idx[k] : k;
    if (y[i] === 0.5) continue;
    rows++;
    const m = margin[i];
    if (m === 0) points += 0.5;
    else if (m > 0 === (y[i] === 1)) points += 1;
  }
  return { accuracy: rows > 0 ? points / rows : null, rows };
}

export interface TemperatureFit {
  /** Maximum-likelihood temperature T > 0. */
  readonly temperature: number;
  /** Mean NLL at that temperature on the fitted rows. */
  readonly nll: number;
  /** The optimum is at an end of the search range (T -> 0 or T -> infinity). */
  readonly atBound: boolean;
  /** Every score is 0: the likelihood does not depend on T (T reported as 1). */
  readonly degenerate: boolean;
}

/** Search range of T: this many decades either side of the mean |score|. */
const RANGE_DECADES = 4;
/** Newton iterations stop when a step moves log(beta) by less than this (T to about 1e-12 relative). */
const LOG_BETA_TOL = 1e-12;
const MAX_ITERATIONS = 200;

/**
 * First and second derivative in beta of the summed NLL of P = sigma(beta s_i) for labels y_i,
 * over rows with s_i != 0 (rows with s_i = 0 do not depend on beta), in one pass with one exp per
 * row: d/dbeta = sum s_i (sigma(z_i) - y_i), d2/dbeta2 = sum s_i^2 sigma(z_i) sigma(-z_i),
 * z_i = beta s_i. sigma(z) - y is formed without cancellation (e = exp(-|z|)), so the tiny
 * slopes of nearly separable data keep their sign.
 */
function nllSlope(sv: Float64Array, yv: Float64Array, beta: number): { d1: number; d2: number } {
  let d1 = 0;
  let d2 = 0;
  for (let k = 0; k < sv.length; k++) {
    const si = sv[k];
    const yi = yv[k];
    const z = beta * si;
    const e = Math.exp(-Math.abs(z));
    const inv = 1 / (1 + e);
    // sigma(z) = inv, sigma(-z) = e inv for z >= 0 (swapped for z < 0).
    const d = z >= 0 ? (1 - yi - yi * e) * inv : ((1 - yi) * e - yi) * inv;
    d1 += si * d;
    d2 += si * si * e * inv * inv;
  }
  return { d1, d2 };
}

/**
 * Maximum-likelihood temperature of P = sigma(s / T) for labels y, over rows `idx` (default all).
 * The NLL is convex in beta = 1/T, so its slope in beta rises through the range: when the slope is
 * still falling (<= 0) at the largest beta (T = the lower end) or already rising (>= 0) at the
 * smallest (T = the upper end), the optimum is that end (`atBound`); otherwise the root of the
 * slope is found by Newton's method on v = log(beta), kept inside a bracket that bisects whenever a
 * step would leave it or not halve the step before last.
 */
export function fitTemperature(s: ArrayLike<number>, y: ArrayLike<number>, idx?: ArrayLike<number>): TemperatureFit {
  const n = idx ? idx.length : s.length;
  if (n === 0) throw new RangeError('fitTemperature: no rows');
  let absSum = 0;
  let nonzero = 0;
  for (let k = 0; k < n; k++) {
    const v = Math.abs(s[idx ? idx[k] : k]);
    if (v > 0) {
      absSum += v;
      nonzero++;
    }
  }
  if (nonzero === 0) return { temperature: 1, nll: meanNll(s, y, 1, idx), atBound: false, degenerate: true };
  const c = absSum / nonzero;
  const lo = Math.log(c) - RANGE_DECADES * Math.LN10;
  const hi = Math.log(c) + RANGE_DECADES * Math.LN10;
  // The rows that depend on T, contiguous.
  const sv = new Float64Array(nonzero);
  const yv = new Float64Array(nonzero);
  for (let k = 0, j = 0; k < n; k++) {
    const i = idx ? idx[k] : k;
    if (s[i] !== 0) {
      sv[j] = s[i];
      yv[j++] = y[i];
    }
  }
  // v = log(beta) = -u, u = log(T) in [lo, hi].
  let u: number;
  if (nllSlope(sv, yv, Math.exp(-lo)).d1 <= 0) u = lo;
  else if (nllSlope(sv, yv, Math.exp(-hi)).d1 >= 0) u = hi;
  else {
    let vNeg = -hi; // slope < 0 here
    let vPos = -lo; // slope > 0 here
    let v = -Math.log(c);
    let step = vPos - vNeg;
    let stepBefore = step;
    for (let it = 0; it < MAX_ITERATIONS; it++) {
      const beta = Math.exp(v);
      const { d1, d2 } = nllSlope(sv, yv, beta);
      if (d1 === 0) break;
      if (d1 < 0) vNeg = v;
      else vPos = v;
      const newton = v - d1 / (d2 * beta);
      const prev = stepBefore;
      stepBefore = step;
      let next: number;
      if (!(newton > vNeg && newton < vPos) || Math.abs(newton - v) > Math.abs(prev) / 2) {
        next = (vNeg + vPos) / 2;
      } else {
        next = newton;
      }
      step = next - v;
      v = next;
      if (Math.abs(step) < LOG_BETA_TOL || vPos - vNeg < LOG_BETA_TOL) break;
    }
    u = -v;
  }
  const temperature = Math.exp(u);
  const atBound = u - lo < 1e-6 || hi - u < 1e-6;
  return { temperature, nll: meanNll(s, y, temperature, idx), atBound, degenerate: false };
}

export interface ModelReport {
  /** T fitted on all rows. */
  readonly temperature: number;
  /** Mean NLL on all rows at that T (in-sample). */
  readonly trainNll: number;
  readonly atBound: boolean;
  readonly degenerate: boolean;
  /** T fitted on the training rows of each fold, in fold order. */
  readonly foldTemperatures: number[];
  /** Pooled held-out mean NLL (nats per row). */
  readonly heldOutNll: number;
  /** Pooled held-out accuracy (strict-label rows; null when none). */
  readonly heldOutAccuracy: number | null;
}

export interface ConstantReport {
  /** Mean label of all rows (clipped). */
  readonly probFirst: number;
  readonly foldProbFirst: number[];
  readonly heldOutNll: number;
  readonly heldOutAccuracy: number | null;
}

export interface FitStatsResult {
  readonly rows: number;
  /** Rows labelled 1 (first preferred), 0 (second) and 0.5 (ties). */
  readonly firstPreferred: number;
  readonly secondPreferred: number;
  readonly ties: number;
  /** Rows whose partial returns are equal (dR = 0). */
  readonly equalReturns: number;
  readonly folds: number;
  readonly seed: number;
  /** Rows accuracy is computed on (strict labels). */
  readonly accuracyRows: number;
  readonly models: Record<StatsModel, ModelReport>;
  readonly constant: ConstantReport;
  /** The preference model with the lower held-out NLL ("equal" when identical). */
  readonly lowerNll: StatsModel | 'equal';
  /** Held-out NLL of regret minus partial return per row: mean and standard error (negative favours regret). */
  readonly nllDifference: { readonly mean: number; readonly se: number };
  /** The model whose held-out NLL is lower by a distinguishable margin (see `betterModel`), or 'level'. */
  readonly better: StatsModel | 'level';
}

/** A mean difference must exceed this many standard errors for one model to be named better. */
export const BETTER_SE_MULTIPLE = 2;
/** Smallest mean difference (nats per row) named: smaller ones print as 0.0000. */
export const BETTER_MIN_NATS = 0.00005;

/**
 * The better model given per-row held-out NLL differences (regret minus partial return): mean,
 * standard error (sample std / sqrt(n); 0 for one row) and the verdict: the model with the lower
 * NLL when |mean| > BETTER_SE_MULTIPLE x se and |mean| >= BETTER_MIN_NATS, else 'level'.
 */
export function betterModel(diff: ArrayLike<number>): { mean: number; se: number; better: StatsModel | 'level' } {
  const { mean, se } = meanSe(diff);
  const distinct = Math.abs(mean) > BETTER_SE_MULTIPLE * se && Math.abs(mean) >= BETTER_MIN_NATS;
  return { mean, se, better: !distinct ? 'level' : mean < 0 ? 'regret' : 'partial-return' };
}

const P_CLIP = 1e-6;

function meanLabel(y: ArrayLike<number>, idx: ArrayLike<number>): number {
  let t = 0;
  for (let k = 0; k < idx.length; k++) t += y[idx[k]];
  return Math.min(1 - P_CLIP, Math.max(P_CLIP, t / idx.length));
}

/** k-fold cross-validated comparison of the partial-return and regret models (see the header). */
export function fitStats(stats: PreferenceStats, opts: { folds?: number; seed?: number } = {}): FitStatsResult {
  const folds = opts.folds ?? 10;
  const seed = opts.seed ?? 0;
  const { n, y } = stats;
  if (!Number.isInteger(folds) || folds < 2) throw new RangeError(`fitStats: folds must be an integer >= 2, got ${folds}`);
  if (folds > n) throw new RangeError(`fitStats: ${folds} folds need at least ${folds} rows, the data has ${n}`);
  const perm = new Rng(seed).fork('folds').permutation(n);
  const test: number[][] = Array.from({ length: folds }, () => []);
  for (let k = 0; k < n; k++) test[k % folds].push(perm[k]);
  const train = test.map((_, f) => test.flatMap((rows, g) => (g === f ? [] : rows)));
  const all = Array.from({ length: n }, (_, i) => i);

  const perRow: Record<StatsModel, Float64Array> = { 'partial-return': new Float64Array(n), regret: new Float64Array(n) };
  const models = {} as Record<StatsModel, ModelReport>;
  for (const model of STATS_MODELS) {
    const s = modelScores(stats, model);
    const foldTemperatures: number[] = [];
    const held = perRow[model];
    for (let f = 0; f < folds; f++) {
      const fit = fitTemperature(s, y, train[f]);
      foldTemperatures.push(fit.temperature);
      for (const i of test[f]) held[i] = bradleyTerryNll(s[i] / fit.temperature, y[i]);
    }
    const full = fitTemperature(s, y);
    models[model] = {
      temperature: full.temperature,
      trainNll: full.nll,
      atBound: full.atBound,
      degenerate: full.degenerate,
      foldTemperatures,
      heldOutNll: held.reduce((a, b) => a + b, 0) / n,
      // T > 0 does not change the sign of a score, so held-out accuracy is that of the scores.
      heldOutAccuracy: accuracy(s, y).accuracy,
    };
  }

  const foldProbFirst: number[] = [];
  const constMargin = new Float64Array(n);
  let constTotal = 0;
  for (let f = 0; f < folds; f++) {
    const p = meanLabel(y, train[f]);
    foldProbFirst.push(p);
    constTotal += constantNll(p, y, test[f]) * test[f].length;
    for (const i of test[f]) constMargin[i] = p - 0.5;
  }
  const acc = accuracy(constMargin, y);

  const diff = new Float64Array(n);
  for (let i = 0; i < n; i++) diff[i] = perRow.regret[i] - perRow['partial-return'][i];
  const verdict = betterModel(diff);
  const pr = models['partial-return'].heldOutNll;
  const rg = models.regret.heldOutNll;

  let first = 0;
  let second = 0;
  let equalReturns = 0;
  for (let i = 0; i < n; i++) {
    if (y[i] === 1) first++;
    else if (y[i] === 0) second++;
    if (stats.x[3 * i] === 0) equalReturns++;
  }
  return {
    rows: n,
    firstPreferred: first,
    secondPreferred: second,
    ties: n - first - second,
    equalReturns,
    folds,
    seed,
    accuracyRows: acc.rows,
    models,
    constant: { probFirst: meanLabel(y, all), foldProbFirst, heldOutNll: constTotal / n, heldOutAccuracy: acc.accuracy },
    lowerNll: rg < pr ? 'regret' : pr < rg ? 'partial-return' : 'equal',
    nllDifference: { mean: verdict.mean, se: verdict.se },
    better: verdict.better,
  };
}

// ---------------------------------------------------------------- readers

/** A numeric matrix read from .npy or CSV, with a locator for error messages. */
export interface NumericTable {
  readonly format: 'npy' | 'csv';
  /** Shape as stored: [rows] or [rows, cols]. */
  readonly shape: readonly number[];
  readonly rows: number;
  readonly cols: number;
  /** Values, row-major, as float64. */
  readonly data: Float64Array;
  /** Where value (r, c) is in the file, e.g. "index [4, 2]" (npy, 0-based) or "line 6, column 3" (CSV, 1-based). */
  where(r: number, c: number): string;
}

const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
/** float32/float64 as specified, and integer dtypes (exact in float64). Booleans are refused. */
const NPY_DTYPES = new Set(['f4', 'f8', 'i1', 'i2', 'i4', 'i8', 'u1', 'u2', 'u4', 'u8']);
const NUMBER_RE = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
const SPECIAL: Record<string, number> = { nan: Number.NaN, '+nan': Number.NaN, '-nan': Number.NaN, inf: Infinity, '+inf': Infinity, '-inf': -Infinity, infinity: Infinity, '+infinity': Infinity, '-infinity': -Infinity };

function csvNumber(field: string): number | undefined {
  if (NUMBER_RE.test(field)) return Number(field);
  const sp = SPECIAL[field.toLowerCase()];
  return sp === undefined ? undefined : sp;
}

function parseNpyTable(bytes: Uint8Array, file: string): NumericTable {
  const arr = parseNpy(bytes, file);
  if (!NPY_DTYPES.has(arr.dtype.replace(/^[<>|=]/, ''))) {
    throw new InputError(file, `dtype ${arr.dtype} is not supported; expected float32 or float64 (save with arr.astype(np.float64))`);
  }
  if (arr.shape.length < 1 || arr.shape.length > 2) {
    throw new InputError(file, `expected a 1-D or 2-D array, got shape (${arr.shape.join(', ')})`);
  }
  const rows = arr.shape[0];
  const cols = arr.shape.length === 2 ? arr.shape[1] : 1;
  const two = arr.shape.length === 2;
  return {
    format: 'npy',
    shape: arr.shape,
    rows,
    cols,
    data: Float64Array.from(arr.data),
    where: (r, c) => (two ? `index [${r}, ${c}]` : `index [${r}]`),
  };
}

function parseCsvTable(bytes: Uint8Array, file: string): NumericTable {
  let text: string;
  try {
    if (bytes.includes(0)) throw new Error('NUL byte');
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new InputError(file, 'neither a NumPy .npy file nor CSV text (binary content)');
  }
  const lines = text.split(/\r?\n/);
  const values: number[] = [];
  const lineOf: number[] = [];
  let cols = -1;
  let sawFirst = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    const fields = line.split(',').map((f) => f.trim());
    const nums = fields.map(csvNumber);
    if (!sawFirst) {
      sawFirst = true;
      // An optional header: a first line none of whose fields is a number. (A first line with
      // some numbers is data, so a typo there is reported, not silently dropped as a header.)
      if (nums.every((v) => v === undefined)) {
        cols = fields.length;
        continue;
      }
    }
    if (cols < 0) cols = fields.length;
    if (fields.length !== cols) {
      throw new InputError(file, `expected ${cols} comma-separated values (as on the first line), found ${fields.length}`, `line ${i + 1}`);
    }
    nums.forEach((v, c) => {
      if (v === undefined) {
        throw new InputError(file, fields[c] === '' ? 'empty field' : `not a number: ${JSON.stringify(fields[c].slice(0, 40))}`, `line ${i + 1}, column ${c + 1}`);
      }
      values.push(v);
    });
    lineOf.push(i + 1);
  }
  if (lineOf.length === 0) throw new InputError(file, 'no data rows');
  return {
    format: 'csv',
    shape: cols === 1 ? [lineOf.length] : [lineOf.length, cols],
    rows: lineOf.length,
    cols,
    data: Float64Array.from(values),
    where: (r, c) => `line ${lineOf[r]}, column ${c + 1}`,
  };
}

/**
 * Read a numeric table from a .npy file (float32/float64, little-endian, C order; integer
 * dtypes are accepted as well since they convert exactly) or a CSV file (numbers separated
 * by commas, optional header line). The format is chosen by content (the .npy magic) and
 * extension (.npy); anything else is read as CSV text.
 */
export function readTable(file: string): NumericTable {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(file, code === 'ENOENT' ? 'no such file' : `cannot read file: ${(e as Error).message}`);
  }
  const magic = NPY_MAGIC.every((b, i) => bytes[i] === b);
  if (magic || extname(file).toLowerCase() === '.npy') return parseNpyTable(bytes, file);
  return parseCsvTable(bytes, file);
}

/**
 * Read and validate comparison statistics: X [n, 3] finite, Y [n] or [n, 1] in {0, 0.5, 1}.
 * Every error is an InputError naming the file and, where it applies, the row and column.
 */
export function readPreferenceStats(xFile: string, yFile: string): PreferenceStats {
  const X = readTable(xFile);
  if (X.shape.length !== 2 || X.cols !== 3) {
    throw new InputError(
      xFile,
      `X must be 2-D with 3 columns [dR, dV_start, dV_end] (first minus second), got shape (${X.shape.join(', ')}${X.shape.length === 1 ? ',' : ''})`,
    );
  }
  if (X.rows === 0) throw new InputError(xFile, 'no rows: X has shape (0, 3), so there is nothing to fit');
  for (let r = 0; r < X.rows; r++) {
    for (let c = 0; c < 3; c++) {
      const v = X.data[3 * r + c];
      if (!Number.isFinite(v)) throw new InputError(xFile, `value is ${v} (X must be finite)`, X.where(r, c));
    }
  }
  const Y = readTable(yFile);
  if (!(Y.shape.length === 1 || (Y.shape.length === 2 && Y.cols === 1))) {
    throw new InputError(yFile, `Y must be 1-D or have one column (labels), got shape (${Y.shape.join(', ')})`);
  }
  for (let r = 0; r < Y.rows; r++) {
    const v = Y.data[r];
    if (Number.isNaN(v)) throw new InputError(yFile, 'label is NaN (labels must be 0, 0.5 or 1)', Y.where(r, 0));
    if (v !== 0 && v !== 0.5 && v !== 1) throw new InputError(yFile, `label ${v} is not one of 0, 0.5, 1`, Y.where(r, 0));
  }
  if (X.rows !== Y.rows) throw new InputError(yFile, `${Y.rows} labels, but ${xFile} has ${X.rows} rows`);
  return { n: X.rows, x: X.data, y: Y.data };
}
