import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError, UsageError } from '../../core/errors.js';
import { sigmoid } from '../../core/math.js';
import { encodeNpy } from '../../core/npy.js';
import { Rng } from '../../core/rng.js';
import {
  accuracy,
  betterModel,
  fitStats,
  fitTemperature,
  meanNll,
  modelScores,
  type PreferenceStats,
  readPreferenceStats,
  type StatsModel,
} from '../../reward/fit_stats.js';
import { defaultContext, type Io } from '../../scripts/command.js';
import { fitStatsCommand } from '../../scripts/commands/fit_stats.js';

let dir: string;
let k = 0;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'prefrl-fitstats-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string | Uint8Array): string {
  const f = join(dir, `${k++}-${name}`);
  writeFileSync(f, content);
  return f;
}

/**
 * n comparisons with dR ~ N(0, 2^2), dV_start, dV_end ~ N(0, 1); labels drawn from `model` with
 * temperature T; a fraction `tieRate` of rows labelled 0.5 instead.
 */
function synthetic(n: number, model: StatsModel, T: number, seed: number, tieRate = 0): PreferenceStats {
  const rng = new Rng(seed);
  const x = new Float64Array(3 * n);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    x[3 * i] = 2 * rng.normal();
    x[3 * i + 1] = rng.normal();
    x[3 * i + 2] = rng.normal();
    const s = model === 'partial-return' ? x[3 * i] : x[3 * i] + x[3 * i + 2] - x[3 * i + 1];
    y[i] = rng.bernoulli(tieRate) ? 0.5 : rng.bernoulli(sigmoid(s / T)) ? 1 : 0;
  }
  return { n, x, y };
}

describe('preference-model fitting', () => {
  it('recovers the temperature the data was generated with', () => {
    for (const [model, T] of [
      ['regret', 0.7],
      ['partial-return', 2.5],
    ] as const) {
      const data = synthetic(6000, model, T, 11);
      const fit = fitTemperature(modelScores(data, model), data.y);
      expect(fit.atBound).toBe(false);
      expect(Math.abs(fit.temperature / T - 1)).toBeLessThan(0.08);
      // It is the optimum: nudging T either way raises the NLL.
      const s = modelScores(data, model);
      expect(meanNll(s, data.y, fit.temperature * 1.01)).toBeGreaterThan(fit.nll);
      expect(meanNll(s, data.y, fit.temperature / 1.01)).toBeGreaterThan(fit.nll);
    }
  });

  it('prefers the model the labels came from (held-out NLL)', () => {
    const regretData = synthetic(2000, 'regret', 1, 5, 0.1);
    const r1 = fitStats(regretData, { folds: 10, seed: 0 });
    expect(r1.lowerNll).toBe('regret');
    expect(r1.nllDifference.mean).toBeLessThan(-3 * r1.nllDifference.se);
    expect(r1.better).toBe('regret');
    expect(r1.models.regret.heldOutNll).toBeLessThan(r1.constant.heldOutNll);
    expect(r1.models.regret.foldTemperatures).toHaveLength(10);
    expect(r1.ties).toBeGreaterThan(140);
    expect(r1.rows).toBe(2000);
    expect(r1.firstPreferred + r1.secondPreferred + r1.ties).toBe(2000);

    const prData = synthetic(2000, 'partial-return', 1, 6, 0.1);
    const r2 = fitStats(prData, { folds: 10, seed: 0 });
    expect(r2.lowerNll).toBe('partial-return');
    expect(r2.nllDifference.mean).toBeGreaterThan(3 * r2.nllDifference.se);
    expect(r2.better).toBe('partial-return');
    expect(r2.models['partial-return'].heldOutAccuracy as number).toBeGreaterThan(r2.models.regret.heldOutAccuracy as number);
  });

  it('NLL and accuracy on a hand-computed case', () => {
    // scores s = [1, -1, 0, 2, 0], labels y = [1, 0, 0.5, 0, 1], T = 1:
    //   -log sigma(1) = 0.3132617, -log(1 - sigma(-1)) = 0.3132617, tie at s = 0: log 2 = 0.6931472,
    //   -log(1 - sigma(2)) = 2.1269280, -log sigma(0) = 0.6931472  -> mean 0.8279492.
    // Accuracy over the strict rows 1, 2, 4, 5: right, right, wrong, half (score 0) -> 2.5 / 4.
    const s = [1, -1, 0, 2, 0];
    const y = [1, 0, 0.5, 0, 1];
    expect(meanNll(s, y, 1)).toBeCloseTo((0.3132617 * 2 + 0.6931472 * 2 + 2.126928) / 5, 6);
    // T = 2 halves the scores: -log sigma(0.5) = 0.4740770, -log sigma(-1) = 1.3132617.
    expect(meanNll(s, y, 2)).toBeCloseTo((0.474077 * 2 + 0.6931472 * 2 + 1.3132617) / 5, 6);
    expect(accuracy(s, y)).toEqual({ accuracy: 0.625, rows: 4 });

    // The model scores follow the sign convention: X = [dR, dV_start, dV_end], first minus second.
    const stats: PreferenceStats = { n: 2, x: Float64Array.from([1, 2, 5, -1, 0, 0]), y: Float64Array.from([1, 0]) };
    expect(Array.from(modelScores(stats, 'partial-return'))).toEqual([1, -1]);
    expect(Array.from(modelScores(stats, 'regret'))).toEqual([1 + 5 - 2, -1]);

    // A tie-only dataset: every score gives NLL >= log 2; with all scores 0 the fit is degenerate.
    const deg = fitTemperature([0, 0, 0], [1, 0, 0.5]);
    expect(deg.degenerate).toBe(true);
    expect(deg.nll).toBeCloseTo(Math.LN2, 12);
    // Separable data: the likelihood keeps improving as T -> 0, reported at the bound.
    expect(fitTemperature([1, -2, 3], [1, 0, 1]).atBound).toBe(true);
  });

  it('names a better model only beyond 2 standard errors and 0.00005 nats per row (hand-computed differences)', () => {
    // [-0.3, -0.1, -0.2, -0.2]: mean -0.2; squared deviations 0.01, 0.01, 0, 0 -> sample variance 0.02 / 3,
    // s.e. sqrt(0.02 / 3 / 4) = 0.0408248; |mean| > 2 s.e. = 0.0816497 -> regret (lower NLL) is better.
    const a = betterModel([-0.3, -0.1, -0.2, -0.2]);
    expect(a.mean).toBeCloseTo(-0.2, 12);
    expect(a.se).toBeCloseTo(0.0408248, 6);
    expect(a.better).toBe('regret');
    // [0.3, -0.1, 0.1, 0.1]: mean 0.1; squared deviations 0.04, 0.04, 0, 0 -> variance 0.08 / 3,
    // s.e. sqrt(0.08 / 3 / 4) = 0.0816497: the mean is above 1 s.e. but within 2 (0.1632993) -> level.
    const b = betterModel([0.3, -0.1, 0.1, 0.1]);
    expect(b.mean).toBeCloseTo(0.1, 12);
    expect(b.se).toBeCloseTo(0.0816497, 6);
    expect(b.better).toBe('level');
    // [0.9, -0.3, then 0.3 seven times]: mean 2.7 / 9 = 0.3; squared deviations 0.36, 0.36, 0 x 7 ->
    // variance 0.72 / 8 = 0.09, s.e. sqrt(0.09 / 9) = 0.1; 0.3 > 2 s.e. -> partial return better.
    const c = betterModel([0.9, -0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]);
    expect(c.mean).toBeCloseTo(0.3, 12);
    expect(c.se).toBeCloseTo(0.1, 12);
    expect(c.better).toBe('partial-return');
    // A constant difference of 0.00001 has s.e. 0 but prints as 0.0000: level. 0.0001 prints and is named.
    expect(betterModel([1e-5, 1e-5, 1e-5])).toEqual({ mean: 1e-5, se: 0, better: 'level' });
    expect(betterModel([1e-4, 1e-4]).better).toBe('partial-return');
    // Identical models.
    expect(betterModel([0, 0, 0]).better).toBe('level');
  });

  it('the constant baseline predicts the mean training label', () => {
    const data: PreferenceStats = { n: 4, x: new Float64Array(12), y: Float64Array.from([1, 1, 1, 0]) };
    const r = fitStats(data, { folds: 2, seed: 1 });
    expect(r.constant.probFirst).toBeCloseTo(0.75, 12);
    expect(r.equalReturns).toBe(4);
    expect(r.models.regret.degenerate).toBe(true);
    expect(r.lowerNll).toBe('equal');
  });
});

describe('readers', () => {
  const X = Float64Array.from([1, 0.5, -0.5, -2, 1, 1, 0, 0, 0]);
  const Y = Float64Array.from([1, 0, 0.5]);

  function readError(x: string, y: string): Error {
    try {
      readPreferenceStats(x, y);
    } catch (e) {
      expect(e).toBeInstanceOf(InputError);
      return e as Error;
    }
    throw new Error('expected an InputError');
  }

  it('reads float32 / float64 .npy and CSV (with and without a header)', () => {
    const x = file('x.npy', encodeNpy(X, [3, 3]));
    const y32 = file('y.npy', encodeNpy(Float32Array.from(Y), [3, 1]));
    const a = readPreferenceStats(x, y32);
    expect(a.n).toBe(3);
    expect(Array.from(a.x)).toEqual(Array.from(X));
    expect(Array.from(a.y)).toEqual([1, 0, 0.5]);
    const xc = file('x.csv', 'dR, dV_start, dV_end\r\n1,0.5,-0.5\r\n-2,1,1\r\n0,0,0\r\n\r\n');
    const yc = file('labels.txt', '1\n0\n.5e0\n');
    const b = readPreferenceStats(xc, yc);
    expect(Array.from(b.x)).toEqual(Array.from(X));
    expect(Array.from(b.y)).toEqual([1, 0, 0.5]);
    // Content decides: a .npy file without the extension is still read as .npy.
    const xNoExt = file('x.bin', encodeNpy(Float32Array.from(X), [3, 3]));
    expect(readPreferenceStats(xNoExt, yc).n).toBe(3);
  });

  it('rejects bad files with a message naming the file (and row / column)', () => {
    const y = file('y.npy', encodeNpy(Y, [3]));
    const x = file('x.npy', encodeNpy(X, [3, 3]));
    const big = (() => {
      const b = encodeNpy(X, [3, 3]);
      const i = Buffer.from(b).indexOf('<f8');
      b[i] = '>'.charCodeAt(0);
      return b;
    })();
    const cases: [string, string, RegExp][] = [
      [file('x4.npy', encodeNpy(new Float64Array(12), [3, 4])), y, /x4\.npy: X must be 2-D with 3 columns .* got shape \(3, 4\)/],
      [file('x1.npy', encodeNpy(new Float64Array(3), [3])), y, /x1\.npy: X must be 2-D with 3 columns .* got shape \(3,\)/],
      [file('xbig.npy', big), y, /xbig\.npy: big-endian dtype >f8 is not supported/],
      [file('xbool.npy', encodeNpy(new Uint8Array(9), [3, 3]).map((v, i, a) => (Buffer.from(a).indexOf('|u1') + 1 === i ? 'b'.charCodeAt(0) : v))), y, /xbool\.npy: dtype \|b1 is not supported; expected float32 or float64/],
      [file('xnan.npy', encodeNpy(Float64Array.from([1, 2, 3, 4, Number.NaN, 6, 7, 8, 9]), [3, 3])), y, /xnan\.npy \(index \[1, 1\]\): value is NaN/],
      [x, file('y2.npy', encodeNpy(Float64Array.from([1, 2, 0]), [3])), /y2\.npy \(index \[1\]\): label 2 is not one of 0, 0\.5, 1/],
      [x, file('ynan.csv', 'label\n1\nnan\n0\n'), /ynan\.csv \(line 3, column 1\): label is NaN/],
      [x, file('y4.npy', encodeNpy(Float64Array.from([1, 0, 1, 1]), [4])), /y4\.npy: 4 labels, but .*x\.npy has 3 rows/],
      [x, file('y2d.npy', encodeNpy(new Float64Array(6), [3, 2])), /y2d\.npy: Y must be 1-D or have one column/],
      [join(dir, 'missing.npy'), y, /missing\.npy: no such file/],
      [file('junk.npy', new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])), y, /junk\.npy: not a NumPy \.npy file/],
      [file('junk.csv', new Uint8Array([0x93, 0, 255, 254, 0, 1])), y, /junk\.csv: neither a NumPy \.npy file nor CSV text/],
      [file('xr.csv', '1,2,3\n4,5\n'), y, /xr\.csv \(line 2\): expected 3 comma-separated values .* found 2/],
      [file('xt.csv', '1,2,3\n4,abc,6\n7,8,9\n'), y, /xt\.csv \(line 2, column 2\): not a number: "abc"/],
      [file('xe.csv', '1,2,3\n4,,6\n'), y, /xe\.csv \(line 2, column 2\): empty field/],
      [file('xinf.csv', '1,2,3\n4,5,-inf\n7,8,9\n'), y, /xinf\.csv \(line 2, column 3\): value is -Infinity/],
      [file('empty.csv', 'a,b,c\n'), y, /empty\.csv: no data rows/],
    ];
    for (const [xf, yf, re] of cases) expect(readError(xf, yf).message).toMatch(re);
  });
});

describe('prefrl fit-stats', () => {
  async function run(argv: string[]): Promise<{ code: number; out: string }> {
    let out = '';
    const io: Io = { stdout: { write: (t) => void (out += t) }, stderr: { write: () => undefined }, tty: false };
    const code = await fitStatsCommand.run(argv, defaultContext(io));
    return { code, out };
  }

  function dataFiles(): { x: string; y: string } {
    const d = synthetic(400, 'regret', 1, 9, 0.05);
    return { x: file('cx.npy', encodeNpy(d.x, [d.n, 3])), y: file('cy.npy', encodeNpy(d.y, [d.n])) };
  }

  it('prints one JSON object as the only stdout line with --json', async () => {
    const { x, y } = dataFiles();
    const { code, out } = await run(['--x', x, '--y', y, '--folds', '5', '--seed', '3', '--json']);
    expect(code).toBe(0);
    const lines = out.trim().split('\n');
    expect(lines).toHaveLength(1);
    const j = JSON.parse(lines[0]);
    expect(j).toMatchObject({ x, y, rows: 400, folds: 5, seed: 3 });
    expect(j.models.regret.foldTemperatures).toHaveLength(5);
    expect(j.models['partial-return'].heldOutNll).toBeGreaterThan(0);
    expect(['regret', 'partial-return', 'equal']).toContain(j.lowerNll);
    expect(typeof j.constant.heldOutNll).toBe('number');
    // Same seed, same folds, same numbers.
    expect(JSON.parse((await run(['--x', x, '--y', y, '--folds', '5', '--seed', '3', '--json'])).out)).toEqual(j);
  });

  it('prints a table without --json', async () => {
    const { x, y } = dataFiles();
    const { code, out } = await run(['--x', x, '--y', y]);
    expect(code).toBe(0);
    expect(out).toMatch(/partial-return/);
    expect(out).toMatch(/regret/);
    expect(out).toMatch(/constant/);
    expect(out).toMatch(/Better model \(lower held-out NLL by more than 2 s\.e\.\): regret \(regret minus partial return: -0\.\d{4} \+- 0\.\d{4} nats per row/);
  });

  it('says the models are level when the regret score differs from the partial return by 1e-6 (a difference that prints as 0.0000)', async () => {
    // dV_end ~ 1e-6 x N(0, 1), dV_start = 0: the two models' scores (and NLLs) differ in the 7th
    // decimal, so one of them has the lower NLL by rounding noise alone.
    const rng = new Rng(4);
    const n = 40;
    const x = new Float64Array(3 * n);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      x[3 * i] = 2 * rng.normal();
      x[3 * i + 2] = 1e-6 * rng.normal();
      y[i] = rng.bernoulli(sigmoid(x[3 * i])) ? 1 : 0;
    }
    const xf = file('tinyx.npy', encodeNpy(x, [n, 3]));
    const yf = file('tinyy.npy', encodeNpy(y, [n]));
    const j = JSON.parse((await run(['--x', xf, '--y', yf, '--folds', '5', '--json'])).out);
    expect(j.lowerNll).not.toBe('equal');
    expect(Math.abs(j.nllDifference.mean)).toBeLessThan(0.00005);
    expect(j.better).toBe('level');
    const { code, out } = await run(['--x', xf, '--y', yf, '--folds', '5']);
    expect(code).toBe(0);
    expect(out).toMatch(/Held-out NLL: the models are level, no better model \(regret minus partial return: -?0\.0000 \+- 0\.0000 nats per row/);
    expect(out).not.toMatch(/Better model/);
  });

  it('exits 2 on an unknown flag, too many folds or a missing --x / --y file, 1 on bad input', async () => {
    const { x, y } = dataFiles();
    await expect(run(['--x', x, '--y', y, '--bogus'])).rejects.toSatisfy((e) => e instanceof UsageError && e.exitCode === 2 && /--bogus/.test(e.message));
    await expect(run(['--x', x, '--y', y, '--folds', '1000'])).rejects.toSatisfy((e) => e instanceof UsageError && /--folds 1000 exceeds the number of rows \(400\)/.test(e.message));
    await expect(run(['--x', x])).rejects.toSatisfy((e) => e instanceof UsageError && /--y/.test(e.message));
    // A file that is not there names its flag (exit 2), as other commands' input files do.
    await expect(run(['--x', x, '--y', join(dir, 'nope.npy')])).rejects.toSatisfy(
      (e) => e instanceof UsageError && e.exitCode === 2 && /^prefrl fit-stats: --y: ".*nope\.npy" not found$/.test(e.message),
    );
    await expect(run(['--x', join(dir, 'nope.csv'), '--y', y])).rejects.toSatisfy(
      (e) => e instanceof UsageError && e.exitCode === 2 && /^prefrl fit-stats: --x: ".*nope\.csv" not found$/.test(e.message),
    );
    // A file that is there but not data is bad input (exit 1), naming the file on one line.
    const junk = join(dir, 'junk-cli.npy');
    writeFileSync(junk, 'not numbers at all\n');
    await expect(run(['--x', junk, '--y', y])).rejects.toSatisfy(
      (e) => e instanceof InputError && e.exitCode === 1 && !e.message.includes('\n') && /junk-cli\.npy/.test(e.message),
    );
  });
});
