/**
 * `prefrl plot` on a long run: an unfinished run's metric with 200,000 points (a train run logging
 * every 64 env steps for 12.8M steps). Before the fix the warning's last step came from
 * Math.max(...steps), and spreading that many arguments overflowed the call stack: the command
 * failed with "Maximum call stack size exceeded" instead of drawing the plot.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeFolder } from '../core/paths.js';
import { main } from '../scripts/cli.js';
import { lastStepOf } from '../scripts/commands/plot.js';
import { captureCli, lastJson } from './helpers/cli.js';

const ROWS = 200_000;

describe('prefrl plot: a metric of 200,000 points', () => {
  it('lastStepOf finds the highest step of every curve, with no spread of the points', () => {
    const points: [number, number][] = Array.from({ length: ROWS }, (_, i) => [(i + 1) * 64, i % 7]);
    // The highest step need not be the last point.
    points[1234] = [ROWS * 64 + 5, 0];
    expect(lastStepOf([{ run: 'a', metric: 'm', points }, { run: 'a', metric: 'n', points: [[3, 1]] }])).toBe(ROWS * 64 + 5);
    expect(lastStepOf([])).toBe(-Infinity);
    // The spread it replaces overflows the stack at this size (so the check above is a real one).
    expect(() => Math.max(...points.map(([s]) => s))).toThrow(RangeError);
  });

  it('plots an unfinished run of 200,000 rows and says where its line ends', async () => {
    const root = mkdtempSync(join(tmpdir(), 'scale-plot-'));
    const run = join(root, '20261207-120000-train-reacher-oracle-s0');
    makeFolder(run);
    writeFileSync(join(run, 'config.json'), JSON.stringify({ command: 'train', seed: 0, steps: ROWS * 64 }));
    // No summary.json: the run was stopped, so plot says where its line ends.
    const lines: string[] = [];
    for (let i = 0; i < ROWS; i++) lines.push(JSON.stringify({ step: (i + 1) * 64, 'charts/episodic_return': (i % 100) - 50 }));
    writeFileSync(join(run, 'metrics.jsonl'), `${lines.join('\n')}\n`);
    const out = join(root, 'p.svg');
    const k = captureCli();
    try {
      expect(await main(['plot', run, '--metric', 'charts/episodic_return', '--out', out, '--json'], k.ctx)).toBe(0);
      expect(k.err.join('')).toContain(`${run}: unfinished (no summary.json); its line ends at step ${ROWS * 64}\n`);
      // Last row: i = 199,999, (199,999 % 100) - 50 = 49.
      expect(lastJson<{ curves: unknown[] }>(k.out).curves).toEqual([{ run: '20261207-120000-train-reacher-oracle-s0', metric: 'charts/episodic_return', points: ROWS, lastStep: ROWS * 64, last: 49 }]);
      expect(readFileSync(out, 'utf8').startsWith('<svg')).toBe(true);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
