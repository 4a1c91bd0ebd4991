/**
 * `prefrl bench oracle --shard i/n` with more shards than cells: a shard with no cells says so,
 * exits 0 (a fixed array of batch jobs on a small suite is not a mistake) and leaves summary.md
 * and the plots alone. Before, it rewrote summary.md from whatever cell files were there: an
 * empty one where the cells had been moved away.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { softwareVersions } from '../core/run.js';
import { main } from '../scripts/cli.js';
import { captureCli, lastJson } from './helpers/cli.js';

describe('bench oracle: a shard with no cells', () => {
  it('warns naming --shard and the cell count, exits 0, runs nothing and keeps summary.md', async () => {
    const root = mkdtempSync(join(tmpdir(), 'prefrl-bench-emptyshard-'));
    const out = join(root, 'results');
    const suiteDir = join(out, 'smoke');
    mkdirSync(join(suiteDir, 'cells'), { recursive: true });
    writeFileSync(join(suiteDir, 'summary.md'), '# the good summary\n');
    // --envs gridworld --seeds 1: one cell, so shard 1/2 has none.
    const base = ['bench', 'oracle', '--suite', 'smoke', '--envs', 'gridworld', '--seeds', '1', '--shard', '1/2', '--out', out, '--runs-dir', join(root, 'runs'), '--quiet'];
    const k = captureCli();
    expect(await main([...base, '--json'], k.ctx)).toBe(0);
    expect(k.err.join('')).toBe('[prefrl] warn: --shard 1/2: no cells in this shard (suite smoke with these --envs/--seeds has 1 cell, fewer than the 2 shards); nothing to run\n');
    expect(lastJson(k.out)).toEqual({ suite: 'smoke', budget: { seeds: 1, envs: ['gridworld'], stepsScale: 1 }, outDir: suiteDir, cells: 1, selected: 0, ran: [], skipped: [], busy: [], failed: [], records: 0, summary: null, plots: [], software: expect.objectContaining({ prefrl: softwareVersions().prefrl, mujoco: softwareVersions().mujoco, node: process.version }) });
    expect(readFileSync(join(suiteDir, 'summary.md'), 'utf8')).toBe('# the good summary\n');
    expect(existsSync(join(root, 'runs'))).toBe(false);
    // Text mode says the same in one line on stdout; a whole suite with more shards than cells too.
    const t = captureCli();
    expect(await main(['bench', 'oracle', '--suite', 'smoke', '--shard', '8/9', '--out', out, '--runs-dir', join(root, 'runs'), '--quiet'], t.ctx)).toBe(0);
    expect(t.out.join('')).toBe('smoke: shard 8/9 has no cells; nothing run, summary not rebuilt\n');
    expect(t.err.join('')).toContain('--shard 8/9: no cells in this shard (suite smoke has 8 cells, fewer than the 9 shards)');
    expect(readFileSync(join(suiteDir, 'summary.md'), 'utf8')).toBe('# the good summary\n');
    // Shard 0/2 of the same one-cell selection holds that cell (dry run: nothing is run).
    const d = captureCli();
    expect(await main([...base.map((a) => (a === '1/2' ? '0/2' : a)), '--dry-run', '--json'], d.ctx)).toBe(0);
    expect(lastJson<{ selected: { id: string }[] }>(d.out).selected.map((c) => c.id)).toEqual(['gridworld_delivery_b30-100_ls200_s0']);
    expect(d.err.join('')).toBe('');
    rmSync(root, { recursive: true, force: true });
  });
});
