/**
 * fit-stats on the .npy statistics format of the human delivery-gridworld data (Knox et al.):
 * per pair [dR, dV_start, dV_end], each first minus second, and a label in {0, 0.5, 1}. Checked
 * by hand on rows built so that the column order and the signs decide the answer.
 *
 * Four rows, each with regret score dR + dV_end - dV_start = 1 (the first segment's regret is 1
 * lower) but partial-return score dR = 0, labelled 1, 1, 1, 0:
 *   [0, -1, 0]   0 + 0 - (-1)   = 1
 *   [0, 0, 1]    0 + 1 - 0      = 1
 *   [0, 2, 3]    0 + 3 - 2      = 1
 *   [0, -0.5, 0.5]  0 + 0.5 + 0.5 = 1
 * Regret: the maximum-likelihood T solves sigmoid(1 / T) = 3/4, T = 1 / ln 3 = 0.910239...; the
 * NLL there is -(3/4 ln 3/4 + 1/4 ln 1/4) = 0.562335... nats per row. Partial return: every score
 * is 0, so P = 1/2 whatever T (degenerate, NLL ln 2). Read with dV_start and dV_end swapped the
 * regret scores would all be -1 (accuracy 1/4), and with dV_start added -1, 1, 5, 0.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError, UsageError } from '../../core/errors.js';
import { encodeNpy } from '../../core/npy.js';
import { fitStats, fitTemperature, modelScores, readPreferenceStats } from '../../reward/fit_stats.js';
import { defaultContext, type Io } from '../../scripts/command.js';
import { fitStatsCommand } from '../../scripts/commands/fit_stats.js';

const dir = mkdtempSync(join(tmpdir(), 'prefrl-fitstats-columns-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ROWS = [
  [0, -1, 0],
  [0, 0, 1],
  [0, 2, 3],
  [0, -0.5, 0.5],
];
const LABELS = [1, 1, 1, 0];

/** The four rows repeated `times` times, as .npy files (X float64 [n, 3], Y float32 [n, 1]). */
function files(name: string, times: number): { x: string; y: string } {
  const x = Float64Array.from(Array.from({ length: times }, () => ROWS.flat()).flat());
  const y = Float32Array.from(Array.from({ length: times }, () => LABELS).flat());
  const xf = join(dir, `${name}-x.npy`);
  const yf = join(dir, `${name}-y.npy`);
  writeFileSync(xf, encodeNpy(x, [4 * times, 3]));
  writeFileSync(yf, encodeNpy(y, [4 * times, 1]));
  return { x: xf, y: yf };
}

describe('fit-stats: column order and signs of [dR, dV_start, dV_end]', () => {
  it('regret scores dR + dV_end - dV_start are all 1; partial-return scores all 0', () => {
    const stats = readPreferenceStats(files('scores', 1).x, files('scores', 1).y);
    expect(Array.from(modelScores(stats, 'regret'))).toEqual([1, 1, 1, 1]);
    expect(Array.from(modelScores(stats, 'partial-return'))).toEqual([0, 0, 0, 0]);
    expect(Array.from(stats.y)).toEqual(LABELS);
  });

  it('the regret temperature is 1 / ln 3 with NLL 0.5623; partial return is degenerate at ln 2', () => {
    const { x, y } = files('fit', 5);
    const r = fitStats(readPreferenceStats(x, y), { folds: 5, seed: 1 });
    const T = 1 / Math.log(3);
    const nll = -(0.75 * Math.log(0.75) + 0.25 * Math.log(0.25));
    expect(r.models.regret.temperature).toBeCloseTo(T, 9);
    expect(r.models.regret.trainNll).toBeCloseTo(nll, 12);
    expect(r.models.regret.atBound).toBe(false);
    expect(r.models['partial-return'].degenerate).toBe(true);
    expect(r.models['partial-return'].trainNll).toBeCloseTo(Math.LN2, 14);
    // Held out, each fold's T is fitted on the other 16 rows (not always 12 firsts of 16), so only a bound by hand.
    expect(r.models.regret.heldOutNll).toBeLessThan(Math.LN2);
    expect(r.lowerNll).toBe('regret');
    // Accuracy: 15 of 20 strict labels agree with the positive regret scores; a score of 0 earns half a point.
    expect(r.models.regret.heldOutAccuracy).toBe(0.75);
    expect(r.models['partial-return'].heldOutAccuracy).toBe(0.5);
    expect([r.firstPreferred, r.secondPreferred, r.ties, r.equalReturns]).toEqual([15, 5, 0, 20]);
  });

  it('a tie label is half a win for each side: rows labelled 0.5 pull T up (all ties: T at the upper search bound)', () => {
    // Scores all 1 with labels 1, 0.5: P = sigmoid(1/T) maximises 1/2 ln P + 1/2 (1/2 ln P + 1/2 ln(1 - P)) at P = 3/4 again.
    const s = [1, 1];
    expect(fitTemperature(s, [1, 0.5]).temperature).toBeCloseTo(1 / Math.log(3), 9);
    const allTies = fitTemperature([1, 1, 1], [0.5, 0.5, 0.5]);
    expect(allTies.atBound).toBe(true);
    expect(allTies.temperature).toBeCloseTo(1e4, 6);
  });
});

describe('fit-stats: a file with no rows', () => {
  it('is an input error naming the X file (it was a usage error about --folds exceeding 0 rows)', async () => {
    const x = join(dir, 'empty-x.npy');
    const y = join(dir, 'empty-y.npy');
    writeFileSync(x, encodeNpy(new Float64Array(0), [0, 3]));
    writeFileSync(y, encodeNpy(new Float64Array(0), [0]));
    expect(() => readPreferenceStats(x, y)).toThrow(InputError);
    expect(() => readPreferenceStats(x, y)).toThrow(`${x}: no rows: X has shape (0, 3), so there is nothing to fit`);
    const io: Io = { stdout: { write: () => undefined }, stderr: { write: () => undefined }, tty: false };
    await expect(fitStatsCommand.run(['--x', x, '--y', y, '--folds', '2'], defaultContext(io))).rejects.toSatisfy(
      (e) => e instanceof InputError && !(e instanceof UsageError) && e.exitCode === 1 && (e as Error).message.includes('no rows'),
    );
  });
});
