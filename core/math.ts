/**
 * Small numeric helpers on typed arrays (row-major). Pure functions; shapes in the docs.
 */
export type NumArray = Float32Array | Float64Array | number[];

export function sum(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return s;
}

export function mean(x: ArrayLike<number>): number {
  return x.length === 0 ? Number.NaN : sum(x) / x.length;
}

/** Median (the mean of the two middle values for an even count); NaN for no values. */
export function median(x: ArrayLike<number>): number {
  if (x.length === 0) return Number.NaN;
  const s = Array.from(x).sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Mean and standard error of the mean (sample standard deviation, n - 1, over sqrt(n)); se 0 for one value. */
export function meanSe(x: ArrayLike<number>): { mean: number; se: number } {
  const n = x.length;
  let s = 0;
  for (let i = 0; i < n; i++) s += x[i];
  const m = s / n;
  if (n < 2) return { mean: m, se: 0 };
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (x[i] - m) ** 2;
  return { mean: m, se: Math.sqrt(ss / (n - 1) / n) };
}

/** Population standard deviation (divides by n). */
export function std(x: ArrayLike<number>): number {
  if (x.length === 0) return Number.NaN;
  const m = mean(x);
  let s = 0;
  for (let i = 0; i < x.length; i++) s += (x[i] - m) ** 2;
  return Math.sqrt(s / x.length);
}

export function clip(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}

/** Numerically stable logistic function. */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** log(sigmoid(x)), stable for large |x|. */
export function logSigmoid(x: number): number {
  return x >= 0 ? -Math.log1p(Math.exp(-x)) : x - Math.log1p(Math.exp(x));
}

export function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

/** Pearson correlation of two equal-length arrays; NaN when either is constant. */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`pearson: lengths differ (${a.length} vs ${b.length})`);
  // Constant values have no correlation with anything (NaN), also when their float mean is
  // inexact (three 0.1s: centred values of 1e-17, not 0, whose "correlation" is noise).
  if (allEqual(a) || allEqual(b)) return Number.NaN;
  const ma = mean(a);
  const mb = mean(b);
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < a.length; i++) {
    const da = a[i] - ma;
    const db = b[i] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return saa === 0 || sbb === 0 ? Number.NaN : sab / Math.sqrt(saa * sbb);
}

/** Whether every value is the same number (true for fewer than two values). */
function allEqual(x: ArrayLike<number>): boolean {
  for (let i = 1; i < x.length; i++) if (x[i] !== x[0]) return false;
  return true;
}

/** Ranks starting at 1, ties get their average rank. */
export function ranks(x: ArrayLike<number>): Float64Array {
  const idx = Array.from({ length: x.length }, (_, i) => i).sort((i, j) => x[i] - x[j]);
  const r = new Float64Array(x.length);
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && x[idx[j + 1]] === x[idx[i]]) j++;
    const avg = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) r[idx[k]] = avg;
    i = j + 1;
  }
  return r;
}

/**
 * Spearman rank correlation (Pearson on average ranks); NaN when either side holds a NaN, as
 * Pearson's is (NaN has no rank: sorted among numbers it gave [1, NaN, 3] against [1, 2, 3] a
 * correlation of 1).
 */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`spearman: lengths differ (${a.length} vs ${b.length})`);
  for (const x of [a, b]) for (let i = 0; i < x.length; i++) if (Number.isNaN(x[i])) return Number.NaN;
  return pearson(ranks(a), ranks(b));
}

/** True when every value is finite. */
export function allFinite(x: ArrayLike<number>): boolean {
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) return false;
  return true;
}

/** Row `i` of a row-major [rows, cols] matrix, as a view. */
export function row<A extends Float32Array | Float64Array>(m: A, cols: number, i: number): A {
  return m.subarray(i * cols, (i + 1) * cols) as A;
}

/** Running mean and variance (Chan et al. parallel update), used for normalisation. */
export class RunningMeanStd {
  mean: Float64Array;
  var: Float64Array;
  count: number;
  constructor(readonly dim: number, epsilon = 1e-4) {
    this.mean = new Float64Array(dim);
    this.var = new Float64Array(dim).fill(1);
    this.count = epsilon;
  }
  /** Update with a batch of `n` rows of a row-major [n, dim] array. */
  update(batch: ArrayLike<number>, n = batch.length / this.dim): void {
    if (n === 0) return;
    const d = this.dim;
    const bm = new Float64Array(d);
    const bv = new Float64Array(d);
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) bm[j] += batch[i * d + j];
    for (let j = 0; j < d; j++) bm[j] /= n;
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) bv[j] += (batch[i * d + j] - bm[j]) ** 2;
    for (let j = 0; j < d; j++) bv[j] /= n;
    const tot = this.count + n;
    for (let j = 0; j < d; j++) {
      const delta = bm[j] - this.mean[j];
      const m2 = this.var[j] * this.count + bv[j] * n + (delta * delta * this.count * n) / tot;
      this.mean[j] += (delta * n) / tot;
      this.var[j] = m2 / tot;
    }
    this.count = tot;
  }
  toJSON(): { mean: number[]; var: number[]; count: number } {
    return { mean: Array.from(this.mean), var: Array.from(this.var), count: this.count };
  }
  static fromJSON(o: { mean: number[]; var: number[]; count: number }): RunningMeanStd {
    const r = new RunningMeanStd(o.mean.length);
    r.mean = Float64Array.from(o.mean);
    r.var = Float64Array.from(o.var);
    r.count = o.count;
    return r;
  }
}
