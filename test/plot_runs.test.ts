/**
 * `prefrl plot` on runs that share a folder name (a run copied aside, bench cells of two suites):
 * each run's warnings speak of its own curve, and one folder named twice is one run.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { hostname, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeFolder } from '../core/paths.js';
import { main } from '../scripts/cli.js';
import { runLabels } from '../scripts/commands/plot.js';
import { captureCli, lastJson } from './helpers/cli.js';

/** A train run folder with the given eval/true_return points; summary.json only when `finished`. */
function trainRun(dir: string, points: [number, number][], finished: boolean, extra: Record<string, unknown>[] = []): string {
  makeFolder(dir);
  const lines = [...points.map(([step, v]) => ({ step, 'eval/true_return': v })), ...extra];
  writeFileSync(join(dir, 'metrics.jsonl'), `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ command: 'train' }));
  if (finished) writeFileSync(join(dir, 'summary.json'), '{}');
  return dir;
}

describe('prefrl plot: runs that share a folder name', () => {
  it('an unfinished run is said to end where its own line ends, not where a same-named run\'s does', async () => {
    // From inside the runs folder (cd runs; prefrl plot <run> copy/<run>): the first run is named
    // by its bare folder name, which is also the other's folder name.
    const root = mkdtempSync(join(tmpdir(), 'after-plot-'));
    const name = '20261207-103646-killed';
    trainRun(join(root, name), [[1024, -230], [13312, -232.5]], false);
    trainRun(join(root, 'copy', name), [[1024, -230], [11264, -236.2]], false);
    trainRun(join(root, 'other', 'run'), [], true, [{ step: 0, 'losses/value_loss': 0.5 }]);
    trainRun(join(root, 'run'), [[0, -3], [8, -2]], true);
    const cwd = process.cwd();
    const k = captureCli();
    const m = captureCli();
    try {
      process.chdir(root);
      expect(await main(['plot', name, join('copy', name), '--out', 'p.svg', '--json'], k.ctx)).toBe(0);
      expect(await main(['plot', 'run', join('other', 'run'), '--out', 'q.svg'], m.ctx)).toBe(0);
    } finally {
      process.chdir(cwd);
    }
    const err = k.err.join('');
    expect(err).toContain(`warn: ${name}: unfinished (no summary.json); its line ends at step 13312\n`);
    // Before the fix: "its line ends at step 13312" (the first run's curve, matched by folder name).
    expect(err).toContain(`warn: ${join('copy', name)}: unfinished (no summary.json); its line ends at step 11264\n`);
    const j = lastJson<{ curves: { run: string; lastStep: number; last: number }[] }>(k.out);
    expect(j.curves).toEqual([
      { run: name, metric: 'eval/true_return', points: 2, lastStep: 13312, last: -232.5 },
      { run: join('copy', name), metric: 'eval/true_return', points: 2, lastStep: 11264, last: -236.2 },
    ]);
    // A run without the metric is named even when the other run's line carries its folder name (before: no warning).
    expect(m.err.join('')).toBe(`[prefrl] warn: ${join('other', 'run')}: logged none of eval/true_return; no line for it\n`);
    rmSync(root, { recursive: true, force: true });
  });

  it('one folder given twice (x and ./x/) is plotted once, under its folder name', async () => {
    const root = mkdtempSync(join(tmpdir(), 'after-plot-'));
    const a = trainRun(join(root, 'run-a'), [[0, -3], [8, -2]], true);
    const again = `./${relative(process.cwd(), a)}/`;
    const k = captureCli();
    expect(await main(['plot', a, again, '--out', join(root, 'p.svg'), '--json'], k.ctx)).toBe(0);
    // Before the fix: two curves, each labelled by its spelling of the path.
    expect(lastJson<{ curves: { run: string }[] }>(k.out).curves.map((c) => c.run)).toEqual(['run-a']);
    rmSync(root, { recursive: true, force: true });
  });

  it('a run a live process holds (its train.lock) is said to be still running, not stopped; a stale lock leaves it unfinished', async () => {
    const root = mkdtempSync(join(tmpdir(), 'after-plot-'));
    const live = trainRun(join(root, 'live'), [[0, -3], [9216, -126.9]], false);
    writeFileSync(join(live, 'train.lock'), JSON.stringify({ host: hostname(), pid: process.pid, since: '2026-12-07T10:52:32.000Z' }));
    const gone = spawnSync(process.execPath, ['-e', '']).pid as number;
    const stale = trainRun(join(root, 'stale'), [[0, -3], [5120, -237.8]], false);
    writeFileSync(join(stale, 'train.lock'), JSON.stringify({ host: hostname(), pid: gone, since: '2026-12-07T10:49:45.000Z' }));
    const k = captureCli();
    expect(await main(['plot', live, stale, '--out', join(root, 'p.svg')], k.ctx)).toBe(0);
    // Before: "<live>: unfinished (no summary.json); ..." for both.
    expect(k.err.join('')).toBe(
      `[prefrl] warn: ${live}: still running (pid ${process.pid} on ${hostname()}); its line ends at step 9216\n` + `[prefrl] warn: ${stale}: unfinished (no summary.json); its line ends at step 5120\n`,
    );
    rmSync(root, { recursive: true, force: true });
  });

  it('a file given for a run (its metrics.jsonl) is named as a file, with the run folder to give', async () => {
    const root = mkdtempSync(join(tmpdir(), 'after-plot-'));
    const dir = trainRun(join(root, 'run-a'), [[0, -3], [8, -2]], true);
    const notes = join(root, 'notes.txt');
    writeFileSync(notes, 'not a run');
    const said = async (arg: string) => {
      const k = captureCli();
      expect(await main(['plot', arg, '--out', join(root, 'p.svg')], k.ctx)).toBe(2);
      return k.err.join('');
    };
    // Before: "<dir>/metrics.jsonl: not a run folder (no metrics.jsonl)".
    expect(await said(join(dir, 'metrics.jsonl'))).toBe(`prefrl plot: ${join(dir, 'metrics.jsonl')}: a file, not a run folder; give its run folder: ${dir}\n`);
    expect(await said(notes)).toBe(`prefrl plot: ${notes}: a file, not a run folder\n`);
    rmSync(root, { recursive: true, force: true });
  });

  it('runLabels: folder names, or the paths as given when two share a folder name', () => {
    expect(runLabels(['runs/a', 'runs/b/'])).toEqual(['a', 'b']);
    expect(runLabels(['runs/a/x', 'other/x', 'runs/y'])).toEqual(['runs/a/x', 'other/x', 'runs/y']);
  });
});
