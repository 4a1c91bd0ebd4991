import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { type CellRecord, readCellFile, type TrainCell, recordPath, recordProblem, withCellRelativePaths } from '../scripts/bench/cells.js';
import { buildSuite, cellLabels } from '../scripts/bench/suites.js';
import { main } from '../scripts/cli.js';
import { captureCli, lastJson } from './helpers/cli.js';

const base: CellRecord = {
  suite: 'smoke',
  cellId: 'c',
  hash: 'h',
  kind: 'collect',
  seed: 0,
  table: 't',
  row: { method: 'm' },
  metrics: {},
  benchCommand: 'prefrl bench oracle --suite smoke',
  wallSeconds: 1,
  finishedAt: '2026-12-07T00:00:00.000Z',
};

describe('cell record paths', () => {
  it('new records hold paths relative to the cell file folder; old ones are read from the working folder as before', () => {
    const rec = withCellRelativePaths({ ...base, runDir: '/a/runs/smoke/x', extra: { dataset: '/a/runs/smoke/x/artifacts/dataset.h5', world: 'w' } }, '/a/out/smoke');
    // cells folder /a/out/smoke/cells: up three folders to /a.
    expect(rec.runDir).toBe('../../../runs/smoke/x');
    expect(rec.extra).toEqual({ dataset: '../../../runs/smoke/x/artifacts/dataset.h5', world: 'w' });
    expect(rec.pathsFrom).toBe('cells-folder');
    expect(recordPath(rec, rec.runDir as string, '/a/out/smoke')).toBe('/a/runs/smoke/x');
    // Wherever the suite folder is read from (a relative --out), the same folder.
    expect(withCellRelativePaths(rec, '/elsewhere')).toBe(rec);
    // Old form (records committed under benchmarks/results/): relative to the working folder.
    const old = { ...base, runDir: 'runs/bench-oracle/smoke/x' };
    expect(recordPath(old, old.runDir, '/a/out/smoke')).toBe(resolve('runs/bench-oracle/smoke/x'));
    expect(recordProblem(rec, 'c')).toBeNull();
    expect(recordProblem({ ...rec, pathsFrom: 'cwd' as 'cells-folder' }, 'c')).toBe('"pathsFrom" must be "cells-folder" (paths relative to the cell file\'s folder) or absent, got "cwd"');
  });

  // Two tiny train cells (2,048 steps each): the expert, then the regret cell from another folder.
  it('a rerun from another working folder finds the dependency run folder instead of running it again', { timeout: 240_000 }, async () => {
    const root = mkdtempSync(join(tmpdir(), 'prefrl-bench4-paths-'));
    const home = process.cwd();
    const suite = buildSuite('smoke', { stepsScale: 0.5, envs: ['toy-reach'] });
    const regretAt = suite.cells.findIndex((c) => c.row.teacher === 'regret');
    const regret = suite.cells[regretAt];
    const ppo = suite.cells.find((c) => c.id === (regret as { expertFrom?: string }).expertFrom)!;
    expect(ppo.row.method).toBe('ppo-true');
    const ppoAt = suite.cells.indexOf(ppo);
    const only = (k: number) => `${k}/${suite.cells.length}`;
    const run = async (out: string, runs: string, shard: string) => {
      const c = captureCli(new ManualClock());
      const code = await main(['bench', 'oracle', '--suite', 'smoke', '--envs', 'toy-reach', '--steps-scale', '0.5', '--shard', shard, '--out', out, '--runs-dir', runs, '--quiet', '--json'], c.ctx);
      const r = lastJson<{ ran: string[]; failed: unknown[] }>(c.out);
      expect(r.failed).toEqual([]);
      expect(code).toBe(0);
      return [...r.ran].sort();
    };
    const cells = join(root, 'results', 'smoke', 'cells');
    try {
      process.chdir(root);
      expect(await run('results', 'runs', only(ppoAt))).toEqual([ppo.id]);
      const ppoRec = (readCellFile(join(cells, `${ppo.id}.jsonl`)) as CellRecord[])[0];

      // From a sub-folder, with the same folders named relatively: the regret cell finds its expert's run folder (before, it ran the expert again).
      mkdirSync(join(root, 'sub'));
      process.chdir(join(root, 'sub'));
      expect(await run('../results', '../runs', only(regretAt))).toEqual([regret.id]);
      // Its record: the run folder from the cells folder (results/smoke/cells -> up three).
      expect(ppoRec.pathsFrom).toBe('cells-folder');
      expect(ppoRec.runDir).toMatch(new RegExp(`^\\.\\./\\.\\./\\.\\./runs/smoke/\\d{8}-\\d{6}-${ppo.id}$`));
      const regretRec = (readCellFile(join(cells, `${regret.id}.jsonl`)) as CellRecord[])[0];
      // A real bench cell asks what its cost counted (bench4_labels.test.ts): 2 rounds of 25 in 2,048 steps.
      expect(cellLabels(regret as TrainCell)).toEqual({ asked: 50, budget: 50 });
      expect(regretRec.metrics.labelsUsed).toBe(50);
      expect(regretRec.command).toContain(`--expert ${join(root, ppoRec.runDir!.slice('../../../'.length))}`);
    } finally {
      process.chdir(home);
      rmSync(root, { recursive: true, force: true });
    }
  });
});
