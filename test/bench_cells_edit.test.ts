/**
 * `prefrl bench oracle` on cell files that parse as JSON records but were hand-edited or copied
 * under another cell's name: refused like a truncated file (exit 1, one line naming the file,
 * line and field), listed by --dry-run; before, a record without "row" or "table" crashed the
 * summary with a TypeError and a stack trace, and a record renamed into another cell's file
 * marked that cell done while its result counted under the cell it named.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type CellRecord, configHash, recordProblem } from '../scripts/bench/cells.js';
import { buildSuite } from '../scripts/bench/suites.js';
import { main } from '../scripts/cli.js';
import { captureCli, lastJson } from './helpers/cli.js';

const [s0, s1] = buildSuite('smoke', { stepsScale: 1, seeds: 2, envs: ['gridworld'] }).cells;

function record(cell: typeof s0): CellRecord {
  return {
    suite: 'smoke',
    cellId: cell.id,
    hash: configHash(cell),
    kind: 'tabular',
    seed: cell.seed,
    table: cell.table,
    row: { source: 'regret', model: 'regret', labels: 30 },
    metrics: { scaledReturn: 0.5, pGoal: null },
    curve: [[0, 1]],
    benchCommand: 'prefrl bench oracle --suite smoke',
    wallSeconds: 1.5,
    finishedAt: '2026-01-01T00:00:00.000Z',
  };
}

/** A copy of s1's record with `edit` applied (fields set; undefined deletes). */
function edited(edit: Record<string, unknown>): CellRecord {
  const r: Record<string, unknown> = { ...record(s1), ...edit };
  for (const [k, v] of Object.entries(edit)) if (v === undefined) delete r[k];
  return r as unknown as CellRecord;
}

// [edit, the problem named]
const EDITS: [Record<string, unknown>, string][] = [
  [{ row: undefined }, '"row" must be an object of display columns, got nothing'],
  [{ row: ['regret'] }, '"row" must be an object of display columns, got ["regret"]'],
  [{ row: { source: 'regret', labels: null } }, '"row.labels" must be a string or a number, got null'],
  [{ table: undefined }, '"table" must be a string, got nothing'],
  [{ seed: '1' }, '"seed" must be an integer, got "1"'],
  [{ metrics: { scaledReturn: '0.5' } }, '"metrics.scaledReturn" must be a number or null, got "0.5"'],
  [{ curve: {} }, '"curve" must be a list of [env steps, return] points, got {}'],
  [{ curve: [[0, 1], [5]] }, '"curve[1]" must be an [env steps, return] pair of numbers, got [5]'],
  [{ wallSeconds: undefined }, '"wallSeconds" must be a number, got nothing'],
  [{ cellId: s0.id }, `a record of cell "${s0.id}" in the file of cell ${s1.id} (renamed or hand-edited?)`],
];

describe('bench oracle: cell records the summary cannot use', () => {
  it('recordProblem accepts a whole record and names the field of each edit', () => {
    expect(recordProblem(record(s1), s1.id)).toBeNull();
    expect(recordProblem({ ...record(s1), curve: undefined }, s1.id)).toBeNull(); // records without a curve (tabular, random)
    for (const [edit, problem] of EDITS) expect(recordProblem(edited(edit), s1.id), JSON.stringify(edit)).toBe(problem);
  });

  it('a run and --summary-only exit 1 naming the file, line and field; --dry-run lists it; nothing is changed or written', async () => {
    const root = mkdtempSync(join(tmpdir(), 'prefrl-bench-edited-'));
    const out = join(root, 'results');
    const cells = join(out, 'smoke', 'cells');
    mkdirSync(cells, { recursive: true });
    const good = `${JSON.stringify(record(s0))}\n`;
    writeFileSync(join(cells, `${s0.id}.jsonl`), good);
    const base = ['bench', 'oracle', '--suite', 'smoke', '--seeds', '2', '--envs', 'gridworld', '--out', out, '--runs-dir', join(root, 'runs'), '--quiet'];
    for (const [edit, problem] of [EDITS[0], EDITS[3], EDITS[9]]) {
      // A blank line first: the line number counts it.
      const bad = `\n${JSON.stringify(edited(edit))}\n`;
      writeFileSync(join(cells, `${s1.id}.jsonl`), bad);
      for (const mode of [[], ['--summary-only']]) {
        const k = captureCli();
        expect(await main([...base, ...mode], k.ctx)).toBe(1);
        const text = k.err.join('').trim();
        expect(text.split('\n')).toHaveLength(1);
        expect(text).toBe(`prefrl bench oracle: ${join(cells, `${s1.id}.jsonl`)} (line 2): ${problem}; repair it, or move it out of ${cells} to run its cell again`);
      }
      const dry = captureCli();
      expect(await main([...base, '--dry-run', '--json'], dry.ctx)).toBe(0);
      const j = lastJson<{ selected: { id: string; status: string }[]; damaged: { file: string; problem: string; line: number }[] }>(dry.out);
      expect(j.selected.map((c) => [c.id, c.status])).toEqual([
        [s0.id, 'done'],
        [s1.id, 'damaged'],
      ]);
      expect(j.damaged).toEqual([{ file: join(cells, `${s1.id}.jsonl`), problem, line: 2 }]);
      expect(readFileSync(join(cells, `${s0.id}.jsonl`), 'utf8')).toBe(good);
      expect(readFileSync(join(cells, `${s1.id}.jsonl`), 'utf8')).toBe(bad);
      expect(existsSync(join(out, 'smoke', 'summary.md'))).toBe(false);
    }
    // Repaired: the summary is written from both records.
    writeFileSync(join(cells, `${s1.id}.jsonl`), `${JSON.stringify(record(s1))}\n`);
    const k = captureCli();
    expect(await main([...base, '--summary-only', '--json'], k.ctx)).toBe(0);
    expect(lastJson<{ records: number }>(k.out).records).toBe(2);
    rmSync(root, { recursive: true, force: true });
  });
});
