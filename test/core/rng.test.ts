import { describe, expect, it } from 'vitest';
import { Rng } from '../../core/rng.js';

describe('Rng', () => {
  it('gives the same stream for the same seed and different streams for different seeds', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const xa = Array.from({ length: 100 }, () => a.nextU32());
    const xb = Array.from({ length: 100 }, () => b.nextU32());
    const xc = Array.from({ length: 100 }, () => c.nextU32());
    expect(xa).toEqual(xb);
    expect(xa.filter((x, i) => x === xc[i]).length).toBeLessThan(3);
  });

  it('forks depend only on the seed path, not on how much the parent has drawn', () => {
    const p1 = new Rng(7);
    const p2 = new Rng(7);
    for (let i = 0; i < 1000; i++) p2.uniform();
    const f1 = p1.fork('env').fork(3);
    const f2 = p2.fork('env').fork(3);
    expect(f1.path).toBe('7/env/3');
    expect(Array.from({ length: 20 }, () => f1.uniform())).toEqual(Array.from({ length: 20 }, () => f2.uniform()));
    // sibling streams differ
    const g = p1.fork('env').fork(4);
    expect(g.uniform()).not.toBe(new Rng(7).fork('env').fork(3).uniform());
  });

  it('draws uniforms in [0, 1) with mean 1/2 and variance 1/12', () => {
    const r = new Rng(1);
    const n = 100_000;
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const u = r.uniform();
      expect(u).toBeGreaterThanOrEqual(0);
      expect(u).toBeLessThan(1);
      s += u;
      s2 += u * u;
    }
    const mean = s / n;
    // standard error of the mean: sqrt(1/12 / n) = 0.00091; allow 5 of them
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.0046);
    expect(Math.abs(s2 / n - mean * mean - 1 / 12)).toBeLessThan(0.002);
  });

  it('draws standard normals with mean 0 and variance 1', () => {
    const r = new Rng(2);
    const n = 100_000;
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const z = r.normal();
      s += z;
      s2 += z * z;
    }
    expect(Math.abs(s / n)).toBeLessThan(0.016); // 5 standard errors (1/sqrt(n) = 0.0032)
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.03);
  });

  it('int(n) covers 0..n-1 evenly and rejects bad n', () => {
    const r = new Rng(3);
    const counts = new Array(6).fill(0);
    for (let i = 0; i < 60_000; i++) counts[r.int(6)]++;
    // expected 10,000 each, binomial sd ~91; allow 5 sd
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(460);
    expect(() => r.int(0)).toThrow(/n must be an integer/);
    expect(() => r.int(2.5)).toThrow(/n must be an integer/);
  });

  it('permutation is a permutation and sampleWithoutReplacement has no repeats', () => {
    const r = new Rng(4);
    const p = Array.from(r.permutation(50)).sort((a, b) => a - b);
    expect(p).toEqual(Array.from({ length: 50 }, (_, i) => i));
    const s = Array.from(r.sampleWithoutReplacement(100, 30));
    expect(new Set(s).size).toBe(30);
    expect(() => r.sampleWithoutReplacement(3, 4)).toThrow(/k=4 > n=3/);
  });

  it('restores a saved state exactly (checkpoints), including the cached normal', () => {
    const r = new Rng('checkpoint');
    r.normal(); // leaves a spare deviate cached
    const state = r.getState();
    const next = [r.normal(), r.uniform(), r.nextU32()];
    const r2 = Rng.fromState(JSON.parse(JSON.stringify(state)));
    expect([r2.normal(), r2.uniform(), r2.nextU32()]).toEqual(next);
    expect(() => new Rng(1).setState(state)).toThrow(/belongs to stream "checkpoint"/);
  });

  it('rejects non-finite seeds', () => {
    expect(() => new Rng(Number.NaN)).toThrow(/seed must be a finite number/);
  });
});
