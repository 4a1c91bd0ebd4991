/**
 * fitTemperature finds the exact maximum-likelihood T (safeguarded Newton on log beta), checked
 * against closed forms worked out by hand, and keeps the bound handling of the header: an
 * optimum past an end of [c 1e-4, c 1e4] (c = mean |s| over rows with s != 0) is that end, atBound.
 */
import { describe, expect, it } from 'vitest';
import { sigmoid } from '../../core/math.js';
import { Rng } from '../../core/rng.js';
import { fitStats, fitTemperature, meanNll } from '../../reward/fit_stats.js';

const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

describe('fitTemperature: exact optimum', () => {
  it('matches closed forms: sigma(1/T) = 3/4 and sigma(2/T) = 7/8, with ties and zero scores', () => {
    // s = 1 everywhere, 3 of 4 labels first: the NLL's slope in beta, sum (sigma(beta) - y), is 0
    // at sigma(beta) = 3/4, beta = ln 3. NLL = -(3 ln(3/4) + ln(1/4)) / 4.
    const a = fitTemperature([1, 1, 1, 1], [1, 1, 1, 0]);
    expect(a.atBound).toBe(false);
    expect(rel(a.temperature, 1 / Math.log(3))).toBeLessThan(1e-12);
    expect(rel(a.nll, -(3 * Math.log(0.75) + Math.log(0.25)) / 4)).toBeLessThan(1e-14);
    // s = [2, 2, -2, -2, 0], y = [1, 1, 0.5, 0, 0.5], p = sigma(2 beta): slope
    // 2(p - 1) 2 - 2((1 - p) - 1/2) - 2((1 - p) - 0) = 8p - 7, zero at p = 7/8: T = 2 / ln 7.
    // NLL = [-2 ln(7/8) - (ln(1/8) + ln(7/8)) / 2 - ln(7/8) + ln 2] / 5 (the s = 0 row costs ln 2).
    const b = fitTemperature([2, 2, -2, -2, 0], [1, 1, 0.5, 0, 0.5]);
    expect(b.atBound).toBe(false);
    expect(rel(b.temperature, 2 / Math.log(7))).toBeLessThan(1e-12);
    expect(rel(b.nll, (-3.5 * Math.log(7 / 8) - 0.5 * Math.log(1 / 8) + Math.LN2) / 5)).toBeLessThan(1e-14);
    // The same rows picked by idx from a longer array (the other rows are ignored).
    const c = fitTemperature([9, 2, 2, -7, -2, -2, 0], [0, 1, 1, 1, 0.5, 0, 0.5], [1, 2, 4, 5, 6]);
    expect(c.temperature).toBe(b.temperature);
    expect(c.nll).toBe(b.nll);
  });

  it('the slope of the NLL in log T is 0 at the fitted T on 3000 noisy rows with ties', () => {
    const rng = new Rng(5);
    const n = 3000;
    const s = new Float64Array(n);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      s[i] = 3 * rng.normal();
      y[i] = rng.bernoulli(0.1) ? 0.5 : rng.bernoulli(sigmoid(s[i] / 1.7)) ? 1 : 0;
    }
    const fit = fitTemperature(s, y);
    expect(fit.atBound).toBe(false);
    // d NLL / d log T = -mean (sigma(s/T) - y) s/T; each term is O(1), so 1e-13 is rounding.
    let slope = 0;
    for (let i = 0; i < n; i++) slope -= (sigmoid(s[i] / fit.temperature) - y[i]) * (s[i] / fit.temperature);
    expect(Math.abs(slope / n)).toBeLessThan(1e-13);
    expect(fit.nll).toBe(meanNll(s, y, fit.temperature));
    expect(meanNll(s, y, fit.temperature * (1 + 1e-4))).toBeGreaterThan(fit.nll);
    expect(meanNll(s, y, fit.temperature * (1 - 1e-4))).toBeGreaterThan(fit.nll);
  });
});

describe('fitTemperature: bounds (atBound as documented)', () => {
  it('separable data end at T = c 1e-4, labels against the scores at T = c 1e4', () => {
    // c = (1 + 2 + 3) / 3 = 2.
    const sep = fitTemperature([1, -2, 3, 0], [1, 0, 1, 0.5]);
    expect(sep).toMatchObject({ atBound: true, degenerate: false });
    expect(rel(sep.temperature, 2e-4)).toBeLessThan(1e-12);
    // At T = 2e-4 each scored row costs log(1 + e^(-s/T)) = 0 in floating point; the s = 0 row ln 2.
    expect(sep.nll).toBe(Math.LN2 / 4);
    const opp = fitTemperature([1, -2, 3], [0, 1, 0]);
    expect(opp).toMatchObject({ atBound: true, degenerate: false });
    expect(rel(opp.temperature, 2e4)).toBeLessThan(1e-12);
    expect(opp.nll).toBe(meanNll([1, -2, 3], [0, 1, 0], opp.temperature));
    // Only ties: the best T is infinite (P = 1/2 everywhere), the upper end.
    const ties = fitTemperature([1, -1, 4], [0.5, 0.5, 0.5]);
    expect(ties.atBound).toBe(true);
    expect(rel(ties.temperature, 2e4)).toBeLessThan(1e-12);
    // An interior optimum close to an end is not at the bound: sigma(beta) = 3/4 with c = 1e-3 puts
    // T at 1/(1000 ln 3) = c 0.91, well inside.
    const inside = fitTemperature([1e-3, 1e-3, 1e-3, 1e-3], [1, 1, 1, 0]);
    expect(inside.atBound).toBe(false);
    expect(rel(inside.temperature, 1e-3 / Math.log(3))).toBeLessThan(1e-12);
  });

  it('fitStats reports a separable model at the bound and the other one inside', () => {
    // dR predicts every label; the regret score dR + dV_end - dV_start does not always.
    const x: number[] = [];
    const y: number[] = [];
    const rng = new Rng(9);
    for (let i = 0; i < 200; i++) {
      const dR = rng.normal() + (i % 2 === 0 ? 0.1 : -0.1);
      x.push(dR, rng.normal(), rng.normal());
      y.push(dR > 0 ? 1 : 0);
    }
    const r = fitStats({ n: 200, x: Float64Array.from(x), y: Float64Array.from(y) }, { folds: 5, seed: 1 });
    expect(r.models['partial-return'].atBound).toBe(true);
    expect(r.models.regret.atBound).toBe(false);
    expect(r.models.regret.degenerate).toBe(false);
  });
});
