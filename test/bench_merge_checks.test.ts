/**
 * Cell files merged from several machines (found by the qa_bench pass): a cell file cut off at a
 * line end, or two copies joined, no longer reads as a whole cell (files written since records
 * carry their count); a cell file of another suite copied into the folder is left out and named,
 * not summarised as a table of this suite.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { type CellRecord, configHash, parseCellFile, writeCellRecords } from '../scripts/bench/cells.js';
import { buildSuite } from '../scripts/bench/suites.js';
import { main } from '../scripts/cli.js';
import { captureCli, lastJson } from './helpers/cli.js';

const root = mkdtempSync(join(tmpdir(), 'prefrl-bench-merge-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function rec(table: string, row: Record<string, string | number>, seed: number, metrics: Record<string, number | null>, extra: Partial<CellRecord> = {}): CellRecord {
  return { suite: 'smoke', cellId: `${table}-${JSON.stringify(row)}-${seed}`, hash: 'h', kind: 'train', seed, table, row, metrics, benchCommand: 'cmd', wallSeconds: 1, finishedAt: '2026-01-01T00:00:00.000Z', ...extra };
}

describe('bench cell files: record counts', () => {
  const [s0, s1] = buildSuite('smoke', { stepsScale: 1, seeds: 2, envs: ['gridworld'] }).cells;
  /** A tabular record of cell `c` with one (source, model, labels) row. */
  const tab = (c: typeof s0, model: string, labels: number, scaledReturn: number): CellRecord => ({
    ...rec(c.table, { source: 'regret', model, labels }, c.seed, { scaledReturn }),
    cellId: c.id,
    hash: configHash(c),
    kind: 'tabular',
  });

  it('writeCellRecords writes each record\'s count; a copy cut off at a line end, or two copies joined, is named as such', () => {
    const dir = join(root, 'counts');
    const file = writeCellRecords(dir, s0.id, [tab(s0, 'regret', 30, 0.5), tab(s0, 'partial-return', 30, 0.25)]);
    const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
    expect(lines.map((l) => (JSON.parse(l) as CellRecord).records)).toEqual([2, 2]);
    const whole = parseCellFile(file);
    expect('records' in whole && whole.records.map((r) => r.metrics.scaledReturn)).toEqual([0.5, 0.25]);
    writeFileSync(file, `${lines[0]}\n`);
    expect(parseCellFile(file)).toEqual({ problem: 'holds 1 record, but its records say the cell wrote 2 (a copy cut off at a line end?)' });
    writeFileSync(file, `${lines.join('\n')}\n${lines.join('\n')}\n`);
    expect(parseCellFile(file)).toEqual({ problem: 'holds 4 records, but its records say the cell wrote 2 (files joined by hand?)' });
    writeFileSync(file, `${JSON.stringify({ ...tab(s0, 'regret', 30, 0.5), records: 0 })}\n`);
    expect(parseCellFile(file)).toEqual({ problem: '"records" must be a whole number >= 1 (the records in the cell\'s file), got 0', line: 1 });
    // Files from before the count (no "records"): read as before.
    writeFileSync(file, `${JSON.stringify(tab(s0, 'regret', 30, 0.5))}\n`);
    expect('records' in parseCellFile(file)).toBe(true);
  });

  it('a cell file cut off at a line end stops --summary-only naming the file, and --dry-run lists it as damaged (it read as done before)', async () => {
    const out = join(root, 'cut');
    const suiteDir = join(out, 'smoke');
    writeCellRecords(suiteDir, s0.id, [tab(s0, 'regret', 30, 0.5)]);
    const file = writeCellRecords(suiteDir, s1.id, [tab(s1, 'regret', 30, 0.75), tab(s1, 'regret', 100, 1)]);
    writeFileSync(file, `${readFileSync(file, 'utf8').split('\n')[0]}\n`);
    const base = ['bench', 'oracle', '--suite', 'smoke', '--seeds', '2', '--envs', 'gridworld', '--out', out];
    const k = captureCli(new ManualClock());
    expect(await main([...base, '--summary-only'], k.ctx)).toBe(1);
    expect(k.err.join('').trim()).toBe(`prefrl bench oracle: ${file}: holds 1 record, but its records say the cell wrote 2 (a copy cut off at a line end?); repair it, or move it out of ${join(suiteDir, 'cells')} to run its cell again`);
    const dry = captureCli(new ManualClock());
    expect(await main([...base, '--dry-run', '--json'], dry.ctx)).toBe(0);
    expect(lastJson<{ selected: { id: string; status: string }[] }>(dry.out).selected.map((c) => [c.id, c.status])).toEqual([
      [s0.id, 'done'],
      [s1.id, 'damaged'],
    ]);
  });

  it('a cell file of another suite is left out of summary.md and named there and in a warning; a cell both suites share (same configuration) counts', async () => {
    const out = join(root, 'foreign');
    const suiteDir = join(out, 'smoke');
    writeCellRecords(suiteDir, s0.id, [tab(s0, 'regret', 30, 0.5)]);
    // Copied from the bpref folder: no cell of smoke. Before, it became a "## pusher" table.
    const bpref = { ...rec('pusher', { method: 'preference', teacher: 'oracle', labels: 1000, steps: 100_000 }, 0, { finalTrueReturn: -163.6 }), suite: 'bpref', cellId: 'pusher_oracle_partial-return_l1000_disagreement_st100000_s0' };
    writeCellRecords(suiteDir, bpref.cellId, [bpref]);
    // Written by another suite, but a cell of smoke with smoke's configuration: a result of smoke's.
    writeCellRecords(suiteDir, s1.id, [{ ...tab(s1, 'regret', 30, 0.75), suite: 'regret' }]);
    const k = captureCli(new ManualClock());
    expect(await main(['bench', 'oracle', '--suite', 'smoke', '--seeds', '2', '--envs', 'gridworld', '--out', out, '--summary-only', '--json'], k.ctx)).toBe(0);
    expect(lastJson<{ records: number }>(k.out).records).toBe(2);
    expect(k.err.join('')).toContain(`warn: 1 cell file in ${join(suiteDir, 'cells')} holds results of another suite, left out of summary.md: ${bpref.cellId} (suite bpref)`);
    const md = readFileSync(join(suiteDir, 'summary.md'), 'utf8');
    expect(md).not.toContain('## pusher');
    expect(md).toContain(`**Left out: 1 cell result of another suite** (copied from another suite's folder?): \`${bpref.cellId}\` (suite bpref)`);
    // Seeds 0 and 1 of the shared row: mean 0.625, sample std 0.1768.
    expect(md).toContain('| regret | regret | 30 | 2 | 0.625 ± 0.177 |');
  });

  it('cells of two --steps-scale values in one folder: --summary-only warns that the table mixes env-step budgets', async () => {
    const out = join(root, 'mixed');
    const suiteDir = join(out, 'smoke');
    const ppo = buildSuite('smoke', { stepsScale: 1, envs: ['toy-reach'] }).cells.find((c) => c.id === 'toy-reach_ppo-true_st4096_s0');
    const big = buildSuite('smoke', { stepsScale: 1.5, envs: ['toy-reach'] }).cells.find((c) => c.id === 'toy-reach_ppo-true_st6144_s0');
    if (!ppo || !big) throw new Error('the smoke suite has no true-reward PPO cell at 4,096 or 6,144 steps');
    for (const [c, ret] of [[ppo, -42.5], [big, -27.5]] as const) {
      writeCellRecords(suiteDir, c.id, [{ ...rec(c.table, c.row, 0, { finalTrueReturn: ret }), cellId: c.id, hash: configHash(c) }]);
    }
    const k = captureCli(new ManualClock());
    expect(await main(['bench', 'oracle', '--suite', 'smoke', '--envs', 'toy-reach', '--out', out, '--summary-only'], k.ctx)).toBe(0);
    expect(k.err.join('')).toContain(`warn: table toy-reach mixes env-step budgets 4,096, 6,144 (cells of another --steps-scale in ${join(suiteDir, 'cells')}?); summary.md keeps them in separate rows`);
    const md = readFileSync(join(suiteDir, 'summary.md'), 'utf8');
    expect(md).toContain('| ppo-true | - | - | - | - | 4096 | 1 | -42.50 |');
    expect(md).toContain('| ppo-true | - | - | - | - | 6144 | 1 | -27.50 |');
    // One budget: no warning.
    rmSync(join(suiteDir, 'cells', `${big.id}.jsonl`));
    const one = captureCli(new ManualClock());
    expect(await main(['bench', 'oracle', '--suite', 'smoke', '--envs', 'toy-reach', '--out', out, '--summary-only'], one.ctx)).toBe(0);
    expect(one.err.join('')).not.toContain('mixes');
  });

  it('--summary-only warns about a result made with another configuration (another version of the cell), which it leaves out', async () => {
    const out = join(root, 'stale');
    const suiteDir = join(out, 'smoke');
    writeCellRecords(suiteDir, s0.id, [tab(s0, 'regret', 30, 0.5)]);
    writeCellRecords(suiteDir, s1.id, [{ ...tab(s1, 'regret', 30, 0.75), hash: 'an-older-config' }]);
    const k = captureCli(new ManualClock());
    expect(await main(['bench', 'oracle', '--suite', 'smoke', '--seeds', '2', '--envs', 'gridworld', '--out', out, '--summary-only', '--json'], k.ctx)).toBe(0);
    expect(lastJson<{ records: number }>(k.out).records).toBe(1);
    expect(k.err.join('')).toContain(`warn: 1 cell result was made with another configuration of its cell, left out of summary.md (they run again without --summary-only): ${s1.id}`);
    expect(readFileSync(join(suiteDir, 'summary.md'), 'utf8')).toContain('| regret | regret | 30 | 1 | 0.500 |');
    // Without --json: what was rebuilt from what (it said "0 cells run, 2 skipped (done)").
    const text = captureCli(new ManualClock());
    expect(await main(['bench', 'oracle', '--suite', 'smoke', '--seeds', '2', '--envs', 'gridworld', '--out', out, '--summary-only'], text.ctx)).toBe(0);
    expect(text.out.join('')).toBe(`smoke: summary rebuilt from 1 cell result (1 record); summary ${join(suiteDir, 'summary.md')}\n`);
  });

  it('--summary-only on a folder holding only another suite\'s cell files exits 2 naming that suite and keeps summary.md', async () => {
    const out = join(root, 'only-foreign');
    const suiteDir = join(out, 'smoke');
    const bpref = { ...rec('pusher', { method: 'random', steps: 0 }, 0, { finalTrueReturn: -217 }), suite: 'bpref', cellId: 'pusher_random_s0' };
    writeCellRecords(suiteDir, bpref.cellId, [bpref]);
    writeFileSync(join(suiteDir, 'summary.md'), '# the good summary\n');
    const k = captureCli(new ManualClock());
    expect(await main(['bench', 'oracle', '--suite', 'smoke', '--out', out, '--summary-only'], k.ctx)).toBe(2);
    expect(k.err.join('').trim()).toBe(
      `prefrl bench oracle: --summary-only: no cell results of suite smoke (only cell files of suite bpref, which it would leave out) in ${join(suiteDir, 'cells')} (check --out ${out}, or copy every machine's cells/*.jsonl there first)`,
    );
    expect(readFileSync(join(suiteDir, 'summary.md'), 'utf8')).toBe('# the good summary\n');
  });

  it('an empty cells folder is refused by --summary-only, and a folder with a cells/ file of another kind too', async () => {
    const out = join(root, 'empty');
    mkdirSync(join(out, 'smoke', 'cells'), { recursive: true });
    writeFileSync(join(out, 'smoke', 'cells', 'notes.txt'), 'not a cell\n');
    const k = captureCli(new ManualClock());
    expect(await main(['bench', 'oracle', '--suite', 'smoke', '--out', out, '--summary-only'], k.ctx)).toBe(2);
    expect(k.err.join('')).toContain(`--summary-only: no cell results in ${join(out, 'smoke', 'cells')}`);
  });
});
