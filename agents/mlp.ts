/**
 * Small multilayer perceptrons in plain TypeScript with hand-written backpropagation, for the
 * policy and value networks of PPO (64x64 tanh, CleanRL's architecture).
 *
 * Why not TensorFlow.js here: at these sizes (a few thousand parameters, minibatches of 64) the
 * per-operation dispatch of a tensor library costs more than the arithmetic; fused loops over
 * Float32Arrays are faster and exactly deterministic. The larger networks (reward models, IQL)
 * use TensorFlow.js.
 *
 * Layout: parameters live in one flat Float32Array (so Adam, gradient clipping and checkpoints
 * treat them as one vector). Layer l has weights W_l [out_l, in_l] row-major (torch's Linear
 * layout) followed by biases b_l [out_l]. Hidden layers use tanh; the output layer is linear.
 * Batches are row-major [n, features].
 *
 * Every matrix product is written as C = A B^T with both operands row-major, so the inner loop
 * is a dot product over contiguous memory (no store per multiply-add); the backward pass
 * transposes the small operands it needs into scratch buffers first.
 */
import type { Rng } from '../core/rng.js';

/**
 * C[m, p] (+)= sum_k A[m, k] * B[p, k]. A is [m, kd], B is [p, kd], C is [m, p], all row-major.
 * Two rows of A times four rows of B per pass keep eight accumulators in registers, so each
 * value loaded from B serves two outputs. Every output is still the sum over k in order,
 * accumulated in float64 from 0, whatever the blocking: the results do not depend on it.
 */
export function gemmABt(a: Float32Array, b: Float32Array, c: Float32Array, m: number, p: number, kd: number, accumulate: boolean): void {
  const m2 = m - (m % 2);
  let i = 0;
  for (; i < m2; i += 2) gemmRows2(a, b, c, i, p, kd, accumulate);
  if (i < m) gemmRow(a, b, c, i, p, kd, accumulate);
}

/**
 * gemmABt one row of A at a time (the kernel before the two-row blocking): the same results, bit
 * for bit; kept as the reference benchmarks/hot_paths.ts times gemmABt against.
 */
export function gemmABtByRow(a: Float32Array, b: Float32Array, c: Float32Array, m: number, p: number, kd: number, accumulate: boolean): void {
  for (let i = 0; i < m; i++) gemmRow(a, b, c, i, p, kd, accumulate);
}

/** Rows i and i + 1 of gemmABt. */
function gemmRows2(a: Float32Array, b: Float32Array, c: Float32Array, i: number, p: number, kd: number, accumulate: boolean): void {
  const p4 = p - (p % 4);
  const ai = i * kd;
  const ai1 = ai + kd;
  const ci = i * p;
  const ci1 = ci + p;
  let j = 0;
  for (; j < p4; j += 4) {
    const b0 = j * kd;
    const b1 = b0 + kd;
    const b2 = b1 + kd;
    const b3 = b2 + kd;
    let c00 = 0;
    let c01 = 0;
    let c02 = 0;
    let c03 = 0;
    let c10 = 0;
    let c11 = 0;
    let c12 = 0;
    let c13 = 0;
    for (let k = 0; k < kd; k++) {
      const av = a[ai + k];
      const aw = a[ai1 + k];
      const v0 = b[b0 + k];
      const v1 = b[b1 + k];
      const v2 = b[b2 + k];
      const v3 = b[b3 + k];
      c00 += av * v0;
      c01 += av * v1;
      c02 += av * v2;
      c03 += av * v3;
      c10 += aw * v0;
      c11 += aw * v1;
      c12 += aw * v2;
      c13 += aw * v3;
    }
    if (accumulate) {
      c[ci + j] += c00;
      c[ci + j + 1] += c01;
      c[ci + j + 2] += c02;
      c[ci + j + 3] += c03;
      c[ci1 + j] += c10;
      c[ci1 + j + 1] += c11;
      c[ci1 + j + 2] += c12;
      c[ci1 + j + 3] += c13;
    } else {
      c[ci + j] = c00;
      c[ci + j + 1] = c01;
      c[ci + j + 2] = c02;
      c[ci + j + 3] = c03;
      c[ci1 + j] = c10;
      c[ci1 + j + 1] = c11;
      c[ci1 + j + 2] = c12;
      c[ci1 + j + 3] = c13;
    }
  }
  for (; j < p; j++) {
    const bj = j * kd;
    let acc0 = 0;
    let acc1 = 0;
    for (let k = 0; k < kd; k++) {
      const v = b[bj + k];
      acc0 += a[ai + k] * v;
      acc1 += a[ai1 + k] * v;
    }
    if (accumulate) {
      c[ci + j] += acc0;
      c[ci1 + j] += acc1;
    } else {
      c[ci + j] = acc0;
      c[ci1 + j] = acc1;
    }
  }
}

/** Row i of gemmABt (four outputs per pass over the row). */
function gemmRow(a: Float32Array, b: Float32Array, c: Float32Array, i: number, p: number, kd: number, accumulate: boolean): void {
  const p4 = p - (p % 4);
  const ai = i * kd;
  const ci = i * p;
  let j = 0;
  for (; j < p4; j += 4) {
    const b0 = j * kd;
    const b1 = b0 + kd;
    const b2 = b1 + kd;
    const b3 = b2 + kd;
    let c0 = 0;
    let c1 = 0;
    let c2 = 0;
    let c3 = 0;
    for (let k = 0; k < kd; k++) {
      const av = a[ai + k];
      c0 += av * b[b0 + k];
      c1 += av * b[b1 + k];
      c2 += av * b[b2 + k];
      c3 += av * b[b3 + k];
    }
    if (accumulate) {
      c[ci + j] += c0;
      c[ci + j + 1] += c1;
      c[ci + j + 2] += c2;
      c[ci + j + 3] += c3;
    } else {
      c[ci + j] = c0;
      c[ci + j + 1] = c1;
      c[ci + j + 2] = c2;
      c[ci + j + 3] = c3;
    }
  }
  for (; j < p; j++) {
    const bj = j * kd;
    let acc = 0;
    for (let k = 0; k < kd; k++) acc += a[ai + k] * b[bj + k];
    if (accumulate) c[ci + j] += acc;
    else c[ci + j] = acc;
  }
}

/** out[c, r] = x[r, c] for a row-major [rows, cols] matrix. */
export function transpose(x: Float32Array, rows: number, cols: number, out: Float32Array): Float32Array {
  for (let r = 0; r < rows; r++) {
    const xr = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = x[xr + c];
  }
  return out;
}

/** Activations kept from a forward pass for the backward pass. */
export interface MlpCache {
  readonly n: number;
  /** acts[0] = input [n, sizes[0]]; acts[l] = output of layer l (after tanh for hidden layers). */
  readonly acts: Float32Array[];
}

interface Scratch {
  acts: Float32Array[];
  /** dLoss/d(pre-activation) of each layer's output, [n, sizes[l]]. */
  grads: Float32Array[];
  /** Transposes: activations [sizes[l], n] and output gradients [sizes[l], n]. */
  actsT: Float32Array[];
  gradsT: Float32Array[];
}

export class Mlp {
  readonly sizes: readonly number[];
  readonly params: Float32Array;
  /** Offsets of W_l and b_l in `params`. */
  private readonly wOff: number[] = [];
  private readonly bOff: number[] = [];
  /** W_l^T [in_l, out_l] for the input-gradient product. */
  private readonly wT: Float32Array[];
  /** Scratch buffers reused across calls, keyed by batch size. */
  private scratch = new Map<number, Scratch>();

  constructor(sizes: readonly number[], params?: Float32Array) {
    if (sizes.length < 2 || sizes.some((s) => !Number.isInteger(s) || s < 1)) throw new RangeError(`Mlp: bad layer sizes [${sizes.join(', ')}]`);
    this.sizes = [...sizes];
    let off = 0;
    for (let l = 0; l + 1 < sizes.length; l++) {
      this.wOff.push(off);
      off += sizes[l] * sizes[l + 1];
      this.bOff.push(off);
      off += sizes[l + 1];
    }
    if (params && params.length !== off) throw new RangeError(`Mlp: expected ${off} parameters for [${sizes.join(', ')}], got ${params.length}`);
    this.params = params ?? new Float32Array(off);
    this.wT = this.sizes.slice(0, -1).map((inW, l) => new Float32Array(inW * this.sizes[l + 1]));
  }

  get numParams(): number {
    return this.params.length;
  }

  get inDim(): number {
    return this.sizes[0];
  }

  get outDim(): number {
    return this.sizes[this.sizes.length - 1];
  }

  /** Layer l's weights [out, in] as a view into params. */
  weights(l: number): Float32Array {
    return this.params.subarray(this.wOff[l], this.wOff[l] + this.sizes[l] * this.sizes[l + 1]);
  }

  /** Layer l's biases [out] as a view into params. */
  biases(l: number): Float32Array {
    return this.params.subarray(this.bOff[l], this.bOff[l] + this.sizes[l + 1]);
  }

  /**
   * Orthogonal initialisation (Saxe et al.), as CleanRL: each weight matrix is a random
   * orthogonal matrix scaled by its gain; biases are zero. `gains[l]` is layer l's gain
   * (CleanRL: sqrt(2) for hidden layers, 0.01 for the policy head, 1 for the value head).
   */
  initOrthogonal(rng: Rng, gains: readonly number[]): void {
    if (gains.length !== this.sizes.length - 1) throw new RangeError(`initOrthogonal: need ${this.sizes.length - 1} gains`);
    for (let l = 0; l + 1 < this.sizes.length; l++) {
      const q = orthogonal(this.sizes[l + 1], this.sizes[l], rng);
      const w = this.weights(l);
      for (let i = 0; i < q.length; i++) w[i] = gains[l] * q[i];
      this.biases(l).fill(0);
    }
  }

  private buffers(n: number): Scratch {
    let b = this.scratch.get(n);
    if (!b) {
      const mk = () => this.sizes.map((s) => new Float32Array(n * s));
      b = { acts: mk(), grads: mk(), actsT: mk(), gradsT: mk() };
      if (this.scratch.size > 8) this.scratch.clear();
      this.scratch.set(n, b);
    }
    return b;
  }

  /**
   * Forward pass of n rows. Returns the cache for `backward`; `Mlp.output(cache)` is the output
   * [n, outDim]. The arrays are scratch buffers reused by the next call with the same n: copy
   * what must survive.
   */
  forward(x: Float32Array, n: number): MlpCache {
    const s = this.sizes;
    if (x.length < n * s[0]) throw new RangeError(`Mlp.forward: input holds ${x.length} values, need ${n} x ${s[0]}`);
    const { acts } = this.buffers(n);
    acts[0].set(x.subarray(0, n * s[0]));
    const L = s.length - 1;
    for (let l = 0; l < L; l++) {
      const outW = s[l + 1];
      const z = acts[l + 1];
      gemmABt(acts[l], this.weights(l), z, n, outW, s[l], false);
      const b = this.biases(l);
      const hidden = l + 1 < L;
      for (let r = 0; r < n; r++) {
        const zr = r * outW;
        if (hidden) for (let j = 0; j < outW; j++) z[zr + j] = Math.tanh(z[zr + j] + b[j]);
        else for (let j = 0; j < outW; j++) z[zr + j] += b[j];
      }
    }
    return { n, acts };
  }

  /** Output of the last forward pass ([n, outDim], a scratch view). */
  static output(cache: MlpCache): Float32Array {
    return cache.acts[cache.acts.length - 1];
  }

  /**
   * Backward pass: given dLoss/dOutput [n, outDim] for the rows of `cache` (from the latest
   * forward pass with this n), ADD the parameter gradient into `grad` (length numParams).
   */
  backward(cache: MlpCache, dOut: Float32Array, grad: Float32Array): void {
    const s = this.sizes;
    const n = cache.n;
    const L = s.length - 1;
    const { grads, actsT, gradsT } = this.buffers(n);
    grads[L].set(dOut.subarray(0, n * s[L]));
    for (let l = L - 1; l >= 0; l--) {
      const inW = s[l];
      const outW = s[l + 1];
      const dz = grads[l + 1];
      // db_j = sum_r dz[r, j]
      const bo = this.bOff[l];
      for (let r = 0; r < n; r++) {
        const zr = r * outW;
        for (let j = 0; j < outW; j++) grad[bo + j] += dz[zr + j];
      }
      // dW[j, k] = sum_r dz[r, j] a[r, k] = (dz^T)(a^T)^T
      transpose(dz, n, outW, gradsT[l + 1]);
      transpose(cache.acts[l], n, inW, actsT[l]);
      gemmABt(gradsT[l + 1], actsT[l], grad.subarray(this.wOff[l], this.wOff[l] + outW * inW), outW, inW, n, true);
      if (l === 0) break;
      // da[r, k] = sum_j dz[r, j] W[j, k] = dz (W^T)^T, then through tanh: * (1 - a^2)
      const wT = transpose(this.weights(l), outW, inW, this.wT[l]);
      const da = grads[l];
      gemmABt(dz, wT, da, n, inW, outW, false);
      const a = cache.acts[l];
      for (let i = 0; i < n * inW; i++) da[i] *= 1 - a[i] * a[i];
    }
  }

  /** Forward pass for a single input row into `out` (for acting). */
  predictOne(x: ArrayLike<number>, out: Float32Array): Float32Array {
    const cache = this.forward(x instanceof Float32Array ? x : Float32Array.from(x), 1);
    out.set(Mlp.output(cache).subarray(0, this.outDim));
    return out;
  }

  clone(): Mlp {
    return new Mlp(this.sizes, Float32Array.from(this.params));
  }
}

/** A random (rows x cols) matrix with orthonormal rows or columns (whichever are fewer), row-major. */
export function orthogonal(rows: number, cols: number, rng: Rng): Float64Array {
  // Gram-Schmidt on the longer dimension's vectors of a Gaussian matrix.
  const tall = rows >= cols;
  const nVec = tall ? cols : rows;
  const len = tall ? rows : cols;
  const v = new Float64Array(nVec * len);
  for (let i = 0; i < v.length; i++) v[i] = rng.normal();
  for (let a = 0; a < nVec; a++) {
    const va = a * len;
    for (let b = 0; b < a; b++) {
      const vb = b * len;
      let dot = 0;
      for (let i = 0; i < len; i++) dot += v[va + i] * v[vb + i];
      for (let i = 0; i < len; i++) v[va + i] -= dot * v[vb + i];
    }
    let norm = 0;
    for (let i = 0; i < len; i++) norm += v[va + i] * v[va + i];
    norm = Math.sqrt(norm) || 1;
    for (let i = 0; i < len; i++) v[va + i] /= norm;
  }
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = tall ? v[c * len + r] : v[r * len + c];
  return out;
}

/** Global L2 norm of a gradient vector. */
export function gradNorm(g: Float32Array): number {
  let s = 0;
  for (let i = 0; i < g.length; i++) s += g[i] * g[i];
  return Math.sqrt(s);
}

/** Scale `g` so its global norm is at most `maxNorm` (as torch's clip_grad_norm_). Returns the norm before clipping. */
export function clipGradNorm(g: Float32Array, maxNorm: number): number {
  const norm = gradNorm(g);
  const coef = maxNorm / (norm + 1e-6);
  if (coef < 1) for (let i = 0; i < g.length; i++) g[i] *= coef;
  return norm;
}

/** Adam (Kingma & Ba) on a flat parameter vector, with torch's defaults and bias correction. */
export class Adam {
  private readonly m: Float32Array;
  private readonly v: Float32Array;
  t = 0;
  constructor(
    readonly size: number,
    public lr = 3e-4,
    readonly beta1 = 0.9,
    readonly beta2 = 0.999,
    readonly eps = 1e-8,
  ) {
    this.m = new Float32Array(size);
    this.v = new Float32Array(size);
  }

  /** params -= lr * mhat / (sqrt(vhat) + eps). */
  step(params: Float32Array, grad: Float32Array): void {
    this.t++;
    const b1 = this.beta1;
    const b2 = this.beta2;
    const c1 = 1 - b1 ** this.t;
    const c2 = 1 - b2 ** this.t;
    const stepSize = this.lr / c1;
    const sqrtC2 = Math.sqrt(c2);
    const m = this.m;
    const v = this.v;
    for (let i = 0; i < params.length; i++) {
      const g = grad[i];
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      params[i] -= (stepSize * m[i]) / (Math.sqrt(v[i]) / sqrtC2 + this.eps);
    }
  }

  getState(): { m: number[]; v: number[]; t: number; lr: number } {
    return { m: Array.from(this.m), v: Array.from(this.v), t: this.t, lr: this.lr };
  }

  setState(s: { m: ArrayLike<number>; v: ArrayLike<number>; t: number; lr: number }): void {
    if (s.m.length !== this.size || s.v.length !== this.size) throw new RangeError(`Adam.setState: expected ${this.size} moments`);
    this.m.set(s.m);
    this.v.set(s.v);
    this.t = s.t;
    this.lr = s.lr;
  }
}
