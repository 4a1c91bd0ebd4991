/**
 * Neural-network building blocks shared by the tensor models (reward ensembles, IQL, BC).
 *
 * Speed (see /work/shared/STACK.md): the tfjs WASM backend runs a matMul fast (XNNPACK) only
 * with no transpose flag and no batch dimension; with a flag it falls back to a naive loop
 * 10-30x slower, and tf's own gradient of a dense layer uses the flags. `dense` is a dense
 * layer with a custom gradient that transposes explicitly (dX = dZ transpose(W),
 * dW = transpose(X) dZ) so every matMul takes the fast path; its gradients equal tf's own
 * within float tolerance (test/reward/network.test.ts).
 */
import * as tf from '@tensorflow/tfjs';

export const ACTIVATIONS = ['leaky-relu', 'relu', 'tanh', 'sigmoid', 'linear'] as const;
export type Activation = (typeof ACTIVATIONS)[number];


/**
 * act(x W + b), and for leaky-relu also its slope mask act'(z). The bias rides in the matMul
 * kernel (tf.fused.matMul with a linear activation); activations are separate ops chosen for
 * the WASM backend, where relu, step and mul are SIMD loops but the LeakyRelu kernel is ~30x
 * slower than relu: leaky(z) = z * step(z, alpha) with step(z, alpha) = 1 if z > 0 else alpha,
 * a mask the backward pass reuses. tanh is only used on the one-column output layer, where
 * its slow kernel does not matter.
 */
export function denseForward(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D, act: Activation, alpha: number): { y: tf.Tensor2D; slope?: tf.Tensor2D } {
  const z = tf.fused.matMul({ a: x, b: w, bias: b }) as tf.Tensor2D;
  switch (act) {
    case 'linear':
      return { y: z };
    case 'relu':
      return { y: tf.relu(z) };
    case 'leaky-relu': {
      const slope = tf.step(z, alpha);
      return { y: tf.mul(z, slope), slope };
    }
    case 'sigmoid':
      return { y: tf.sigmoid(z) };
    case 'tanh':
      return { y: tf.tanh(z) };
  }
}

/** dL/dz from dL/dy, the layer output y = act(z) and, for leaky-relu, the slope mask. */
export function activationBackward(dy: tf.Tensor2D, y: tf.Tensor2D, slope: tf.Tensor2D | undefined, act: Activation): tf.Tensor2D {
  switch (act) {
    case 'linear':
      return dy;
    case 'relu':
      // y > 0 exactly where z > 0.
      return tf.mul(dy, tf.step(y, 0));
    case 'leaky-relu':
      return tf.mul(dy, slope as tf.Tensor2D);
    case 'tanh':
      return tf.mul(dy, tf.sub(1, tf.square(y)));
    case 'sigmoid':
      return tf.mul(dy, tf.mul(y, tf.sub(1, y)));
  }
}

export interface DenseOptions {
  /**
   * transpose(x) [in, n] when the caller already has it (e.g. network inputs assembled in JS),
   * which saves the transpose in the weight gradient.
   */
  readonly xT?: tf.Tensor2D;
  /** Compute the gradient with respect to x (default true; false for the first layer). */
  readonly inputGrad?: boolean;
}

/**
 * y = act(x W + b) for x [n, in], W [in, out], b [out] -> y [n, out], with a custom gradient
 * whose matMuls carry no transpose flags (fast in the WASM backend):
 *   dz = dy * act'(y),  dW = transpose(x) dz  [in, out],  db = sum_rows dz  [out],
 *   dx = dz transpose(W)  [n, in]  (only when inputGrad).
 * With `inputGrad: false`, x is treated as a constant and only W and b receive gradients.
 */
export function dense(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D, act: Activation, alpha: number, opts: DenseOptions = {}): tf.Tensor2D {
  // Everything the backward pass reads goes through save(), which keeps it alive until then
  // (tensors captured by the closure alone may be disposed by an enclosing tidy). save() copies
  // each tensor (a clone is a full copy in the WASM backend), so only what the backward pass
  // reads is saved: y only for the activations whose derivative is written with it, x only
  // without xT, W only with the input gradient, the slope only for leaky-relu. Which are saved
  // changes no value.
  const needY = act === 'relu' || act === 'tanh' || act === 'sigmoid';
  const withDx = opts.inputGrad !== false;
  const grads = (dy: tf.Tensor2D, saved: tf.Tensor[]): tf.Tensor[] => {
    let i = 0;
    const y = needY ? (saved[i++] as tf.Tensor2D) : dy; // dy stands in where y is not read
    const xT = opts.xT ? (saved[i++] as tf.Tensor2D) : tf.transpose(saved[i++] as tf.Tensor2D);
    const ws = withDx ? (saved[i++] as tf.Tensor2D) : undefined;
    const slope = act === 'leaky-relu' ? (saved[i++] as tf.Tensor2D) : undefined;
    const dz = activationBackward(dy, y, slope, act);
    const dw = tf.matMul(xT, dz);
    const db = tf.sum(dz, 0);
    return ws ? [tf.matMul(dz, tf.transpose(ws)), dw, db] : [dw, db];
  };
  const forward = (xs: tf.Tensor2D, ws: tf.Tensor2D, bs: tf.Tensor1D, save: tf.GradSaveFunc): tf.Tensor2D => {
    const { y, slope } = denseForward(xs, ws, bs, act, alpha);
    // saved = [y (needY), xT or x, W (withDx), slope (leaky-relu)]
    save([...(needY ? [y] : []), opts.xT ?? xs, ...(withDx ? [ws] : []), ...(slope ? [slope] : [])]);
    return y;
  };
  if (opts.inputGrad === false) {
    const f = tf.customGrad<tf.Tensor2D>((...args) => {
      const [ws, bs, save] = args as [tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
      return { value: forward(x, ws, bs, save), gradFunc: (dy, saved) => grads(dy, saved) };
    });
    return f(w, b);
  }
  const f = tf.customGrad<tf.Tensor2D>((...args) => {
    const [xs, ws, bs, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
    return { value: forward(xs, ws, bs, save), gradFunc: (dy, saved) => grads(dy, saved) };
  });
  return f(x, w, b);
}

/** One dense layer's parameters. */
export interface DenseLayer {
  /** [in, out] */
  readonly w: tf.Variable<tf.Rank.R2>;
  /** [out] */
  readonly b: tf.Variable<tf.Rank.R1>;
}

/** Uniform deviates in [lo, hi) (e.g. an `Rng.fillUniform` bound to a seeded stream). */
export type UniformFill = (out: Float32Array, lo: number, hi: number) => void;

/**
 * A stack of dense layers sizes[0] -> ... -> sizes[L] as tf variables: `hidden` activation
 * between layers, `output` activation after the last. Initialised like PyTorch's nn.Linear
 * (W and b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))) from `fill`, so a seed fixes every weight.
 * The caller owns it: dispose() frees the variables.
 */
export class DenseStack {
  readonly layers: readonly DenseLayer[];
  private disposed = false;

  constructor(
    readonly sizes: readonly number[],
    readonly hidden: Activation,
    readonly output: Activation,
    fill: UniformFill,
    /** Variables take part in gradients (false for target networks). */
    trainable = true,
  ) {
    if (sizes.length < 2 || !sizes.every((s) => Number.isInteger(s) && s > 0)) throw new RangeError(`DenseStack: bad layer sizes ${JSON.stringify(sizes)}`);
    const layers: DenseLayer[] = [];
    for (let l = 0; l + 1 < sizes.length; l++) {
      const bound = 1 / Math.sqrt(sizes[l]);
      const wv = new Float32Array(sizes[l] * sizes[l + 1]);
      const bv = new Float32Array(sizes[l + 1]);
      fill(wv, -bound, bound);
      fill(bv, -bound, bound);
      const w = tf.tidy(() => tf.variable(tf.tensor2d(wv, [sizes[l], sizes[l + 1]]), trainable)) as tf.Variable<tf.Rank.R2>;
      const b = tf.tidy(() => tf.variable(tf.tensor1d(bv), trainable)) as tf.Variable<tf.Rank.R1>;
      layers.push({ w, b });
    }
    this.layers = layers;
  }

  /**
   * Differentiable forward pass of x [n, sizes[0]] -> [n, sizes[L]] through `dense`. The input
   * gets no gradient; `xT` (= transpose(x)) spares a transpose in the first weight gradient.
   */
  apply(x: tf.Tensor2D, xT?: tf.Tensor2D): tf.Tensor2D {
    let h = x;
    this.layers.forEach((p, l) => {
      const act = l === this.layers.length - 1 ? this.output : this.hidden;
      h = dense(h, p.w, p.b, act, 0, l === 0 ? { xT, inputGrad: false } : {});
    });
    return h;
  }

  /** Forward pass without gradient bookkeeping (targets, evaluation). */
  predict(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      let h = x;
      this.layers.forEach((p, l) => {
        h = denseForward(h, p.w, p.b, l === this.layers.length - 1 ? this.output : this.hidden, 0).y;
      });
      return h;
    });
  }

  /** The variables, layer by layer (W then b). */
  variables(): tf.Variable[] {
    return this.layers.flatMap((p) => [p.w, p.b]);
  }

  /** Copies of the weights, layer by layer (W [in, out] row-major, then b). */
  getWeights(): Float32Array[] {
    return this.variables().map((v) => v.dataSync().slice() as Float32Array);
  }

  setWeights(values: readonly Float32Array[]): void {
    const vars = this.variables();
    if (values.length !== vars.length) throw new RangeError(`DenseStack.setWeights: ${values.length} arrays for ${vars.length} variables`);
    vars.forEach((v, i) => {
      if (values[i].length !== v.size) throw new RangeError(`DenseStack.setWeights: array ${i} has ${values[i].length} values, variable has ${v.size}`);
      tf.tidy(() => v.assign(tf.tensor(values[i], v.shape)));
    });
  }

  /** Copy another stack's weights into this one (same sizes). */
  copyFrom(src: DenseStack): void {
    const a = this.variables();
    const b = src.variables();
    if (a.length !== b.length) throw new RangeError('DenseStack.copyFrom: different layer counts');
    a.forEach((v, i) => v.assign(b[i]));
  }

  get numParams(): number {
    return this.variables().reduce((s, v) => s + v.size, 0);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const p of this.layers) {
      p.w.dispose();
      p.b.dispose();
    }
  }
}

/**
 * tf's Adam with a learning rate that can change between steps (for schedules such as IQL's
 * cosine decay of the actor's rate). Adam's state is per variable in the order gradients are
 * given, so one optimizer must always receive the same variables in the same order: use one
 * per network.
 */
export class ScheduledAdam extends tf.AdamOptimizer {
  constructor(lr: number, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8) {
    super(lr, beta1, beta2, epsilon);
  }

  get lr(): number {
    return this.learningRate;
  }

  set lr(value: number) {
    this.learningRate = value;
  }
}

/** Row-major [rows, cols] -> its transpose [cols, rows] (plain JS; for small input batches). */
export function transposeRows(x: Float32Array, rows: number, cols: number, out: Float32Array = new Float32Array(rows * cols)): Float32Array {
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = x[i * cols + j];
  return out;
}
