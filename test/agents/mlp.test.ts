import { describe, expect, it } from 'vitest';
import { Adam, clipGradNorm, gemmABt, gemmABtByRow, Mlp, orthogonal } from '../../agents/mlp.js';
import { Rng } from '../../core/rng.js';

/** Loss = sum of (output * coefficient) for fixed coefficients, so dLoss/dOutput = coefficients. */
function loss(net: Mlp, x: Float32Array, n: number, coef: Float32Array): number {
  const out = Mlp.output(net.forward(x, n));
  let s = 0;
  for (let i = 0; i < n * net.outDim; i++) s += out[i] * coef[i];
  return s;
}

describe('Mlp', () => {
  it('computes a hand-checked forward pass: tanh hidden layer, linear output', () => {
    // sizes [2, 2, 1]: W0 = [[1, 0], [0.5, -1]] (out x in), b0 = [0, 0.1]; W1 = [[2, -1]], b1 = [0.5]
    const net = new Mlp([2, 2, 1], Float32Array.from([1, 0, 0.5, -1, 0, 0.1, 2, -1, 0.5]));
    const out = Mlp.output(net.forward(Float32Array.from([1, 2]), 1));
    // h = tanh([1, 0.5 - 2 + 0.1]) = tanh([1, -1.4]); y = 2 tanh(1) - tanh(-1.4) + 0.5
    expect(out[0]).toBeCloseTo(2 * Math.tanh(1) - Math.tanh(-1.4) + 0.5, 5);
  });

  it('backward matches finite differences for every parameter', () => {
    const rng = new Rng(0);
    const net = new Mlp([5, 8, 7, 3]);
    net.initOrthogonal(rng, [1.2, 1.2, 0.7]);
    for (let l = 0; l < 3; l++) rng.fillUniform(net.biases(l), -0.3, 0.3);
    const n = 6;
    const x = new Float32Array(n * 5);
    rng.fillNormal(x);
    const coef = new Float32Array(n * 3);
    rng.fillNormal(coef);
    const grad = new Float32Array(net.numParams);
    net.backward(net.forward(x, n), coef, grad);
    const h = 1e-2;
    let worst = 0;
    for (let i = 0; i < net.numParams; i++) {
      const keep = net.params[i];
      net.params[i] = keep + h;
      const up = loss(net, x, n, coef);
      net.params[i] = keep - h;
      const down = loss(net, x, n, coef);
      net.params[i] = keep;
      const fd = (up - down) / (2 * h);
      worst = Math.max(worst, Math.abs(fd - grad[i]) / Math.max(1e-2, Math.abs(fd)));
    }
    expect(worst).toBeLessThan(2e-2);
  });

  it('backward accumulates into the gradient (two calls give twice the gradient)', () => {
    const rng = new Rng(1);
    const net = new Mlp([3, 4, 2]);
    net.initOrthogonal(rng, [1, 1]);
    const x = Float32Array.from([0.1, -0.2, 0.3, 0.5, 0.4, -0.1]);
    const d = Float32Array.from([1, 0, 0, 1]);
    const g1 = new Float32Array(net.numParams);
    net.backward(net.forward(x, 2), d, g1);
    const g2 = new Float32Array(net.numParams);
    net.backward(net.forward(x, 2), d, g2);
    net.backward(net.forward(x, 2), d, g2);
    for (let i = 0; i < g1.length; i++) expect(g2[i]).toBeCloseTo(2 * g1[i], 6);
  });

  it('orthogonal init gives orthonormal rows (wide) or columns (tall)', () => {
    const rng = new Rng(2);
    for (const [rows, cols] of [
      [4, 9],
      [9, 4],
    ]) {
      const q = orthogonal(rows, cols, rng);
      const k = Math.min(rows, cols);
      for (let a = 0; a < k; a++) {
        for (let b = 0; b < k; b++) {
          let dot = 0;
          for (let i = 0; i < Math.max(rows, cols); i++) dot += rows < cols ? q[a * cols + i] * q[b * cols + i] : q[i * cols + a] * q[i * cols + b];
          expect(dot).toBeCloseTo(a === b ? 1 : 0, 10);
        }
      }
    }
  });

  it('gemmABt multiplies A by B transposed, with and without accumulation', () => {
    // A [2, 3], B [5, 3] -> C [2, 5] (covers the 4-wide block and the remainder column)
    const a = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const b = Float32Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1, 2, -1, 0]);
    const c = new Float32Array(10).fill(1);
    gemmABt(a, b, c, 2, 5, 3, false);
    expect(Array.from(c)).toEqual([1, 2, 3, 6, 0, 4, 5, 6, 15, 3]);
    gemmABt(a, b, c, 2, 5, 3, true);
    expect(Array.from(c)).toEqual([2, 4, 6, 12, 0, 8, 10, 12, 30, 6]);
  });

  it('gemmABt gives every output as the in-order float64 sum, whatever the row blocking (odd rows, remainder columns)', () => {
    // The kernel works on two rows of A at a time and one for an odd last row; each output must
    // still be sum_k A[i, k] B[j, k] accumulated from 0 in k order, as this plain loop does.
    const rng = new Rng(5);
    for (const [m, p, kd] of [[1, 3, 4], [2, 4, 1], [3, 5, 7], [5, 9, 13], [6, 8, 64]]) {
      const a = Float32Array.from({ length: m * kd }, () => rng.normal());
      const b = Float32Array.from({ length: p * kd }, () => rng.normal());
      const start = Float32Array.from({ length: m * p }, () => rng.normal());
      const want = Float32Array.from(start);
      const wantAcc = Float32Array.from(start);
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < p; j++) {
          let acc = 0;
          for (let k = 0; k < kd; k++) acc += a[i * kd + k] * b[j * kd + k];
          want[i * p + j] = acc;
          wantAcc[i * p + j] += acc;
        }
      }
      const c = Float32Array.from(start);
      gemmABt(a, b, c, m, p, kd, false);
      expect(Array.from(c), `[${m}, ${p}, ${kd}]`).toEqual(Array.from(want));
      const cAcc = Float32Array.from(start);
      gemmABt(a, b, cAcc, m, p, kd, true);
      expect(Array.from(cAcc), `[${m}, ${p}, ${kd}] accumulate`).toEqual(Array.from(wantAcc));
      // The one-row form (the benchmark's reference) gives the same.
      const byRow = Float32Array.from(start);
      gemmABtByRow(a, b, byRow, m, p, kd, false);
      expect(Array.from(byRow), `[${m}, ${p}, ${kd}] by row`).toEqual(Array.from(want));
    }
  });
});

describe('Adam and gradient clipping', () => {
  it('takes a first step of lr * g / (|g| + eps) (bias-corrected), as torch', () => {
    const p = Float32Array.from([1, -2]);
    const g = Float32Array.from([0.5, -4]);
    const opt = new Adam(2, 0.1);
    opt.step(p, g);
    // m_hat = g, v_hat = g^2 -> step = lr * g / (|g| + 1e-8) = +-0.1
    expect(p[0]).toBeCloseTo(0.9, 6);
    expect(p[1]).toBeCloseTo(-1.9, 6);
  });

  it('clips the global norm to the maximum and reports the norm before', () => {
    const g = Float32Array.from([3, 4]);
    expect(clipGradNorm(g, 0.5)).toBeCloseTo(5, 6);
    expect(Math.hypot(g[0], g[1])).toBeCloseTo(0.5, 5);
    const small = Float32Array.from([0.1, 0]);
    clipGradNorm(small, 0.5);
    expect(small[0]).toBeCloseTo(0.1, 7);
  });
});
