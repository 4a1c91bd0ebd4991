/**
 * `prefrl fit-stats` given a folder (a run folder, or the folder the .npy files are in) for --x
 * or --y: a usage error naming the flag, not the reader's EISDIR with exit code 1.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../scripts/cli.js';
import { captureCli, lastJson } from './helpers/cli.js';

describe('prefrl fit-stats: a folder where a file is expected', () => {
  it('--x or --y naming a folder exits 2 naming the flag; the files beside it still fit', async () => {
    const root = mkdtempSync(join(tmpdir(), 'after-fit-stats-'));
    const x = join(root, 'x.csv');
    const y = join(root, 'y.csv');
    // Four rows: dR 2, -1, 3, -2 with the first preferred when dR > 0, a tie on the last.
    writeFileSync(x, '2,0,0\n-1,0,0\n3,0,0\n-2,0,0\n');
    writeFileSync(y, '1\n0\n1\n0.5\n');
    for (const [flag, args] of [
      ['--x', ['--x', root, '--y', y]],
      ['--y', ['--x', x, '--y', root]],
    ] as const) {
      const k = captureCli();
      // Before: exit 1, "prefrl fit-stats: <root>: cannot read file: EISDIR: illegal operation on a directory, read".
      expect(await main(['fit-stats', ...args, '--folds', '2'], k.ctx)).toBe(2);
      expect(k.err.join('')).toBe(`prefrl fit-stats: ${flag}: ${JSON.stringify(root)} is a folder; give the .npy or CSV file of ${flag === '--x' ? 'statistics' : 'labels'}\n`);
      expect(k.out.join('')).toBe('');
    }
    const ok = captureCli();
    expect(await main(['fit-stats', '--x', x, '--y', y, '--folds', '2', '--json'], ok.ctx)).toBe(0);
    const j = lastJson<{ rows: number; firstPreferred: number; secondPreferred: number; ties: number; constant: { probFirst: number } }>(ok.out);
    // (1 + 0 + 1 + 0.5) / 4 = 0.625.
    expect([j.rows, j.firstPreferred, j.secondPreferred, j.ties, j.constant.probFirst]).toEqual([4, 2, 1, 1, 0.625]);
    // The text says "1 tie" (before: "1 ties").
    const text = captureCli();
    expect(await main(['fit-stats', '--x', x, '--y', y, '--folds', '2'], text.ctx)).toBe(0);
    expect(text.out.join('').split('\n')[0]).toBe('4 comparisons: 2 first preferred, 1 second, 1 tie; 0 with equal partial returns. 2-fold cross-validation (seed 0); accuracy over 3 rows with a strict label.');
    rmSync(root, { recursive: true, force: true });
  });
});
