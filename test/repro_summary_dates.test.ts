/**
 * A researcher reading a committed summary.md needs to know which prefrl made its cells: a finished
 * cell is never rerun when the code, a default or the MuJoCo build changes, only when its suite
 * definition does. The summary's Cells line gives the days (UTC) the cells finished.
 */
import { describe, expect, it } from 'vitest';
import type { CellRecord } from '../scripts/bench/cells.js';
import { finishedDates, summaryMarkdown } from '../scripts/bench/summary.js';
import { buildSuite } from '../scripts/bench/suites.js';

function rec(seed: number, finishedAt: string): CellRecord {
  return { suite: 'smoke', cellId: `e-${seed}`, hash: 'h', kind: 'train', seed, table: 'e', row: { method: 'preference', labels: 40, steps: 10 }, metrics: { finalTrueReturn: seed }, benchCommand: 'c', wallSeconds: 30, finishedAt };
}

const smoke = buildSuite('smoke', { stepsScale: 1 });

describe('bench summary: when the cells were made', () => {
  it('finishedDates gives the first and last UTC day of the records, one day once, nothing without records', () => {
    expect(finishedDates([])).toBe('');
    expect(finishedDates([{ finishedAt: '2026-12-03T23:59:59.000Z' }])).toBe(' on 2026-12-03 (UTC)');
    // Out of order on purpose: the range is the earliest and the latest, not the first and last given.
    expect(finishedDates([{ finishedAt: '2026-12-04T01:00:00.000Z' }, { finishedAt: '2026-11-23T19:47:15.301Z' }, { finishedAt: '2026-12-03T07:00:00.000Z' }])).toBe(
      ' between 2026-11-23 and 2026-12-04 (UTC)',
    );
  });

  it("the Cells line says when its cells finished and that they are not rerun when prefrl changes", () => {
    const md = summaryMarkdown({ suite: smoke, records: [rec(0, '2026-12-03T07:00:23.138Z'), rec(1, '2026-12-04T14:32:19.072Z')], command: 'c', missing: [], plots: [], failed: [] });
    // Two cells of 30 s each: 1 minute of cell wall time.
    expect(md).toMatch(/^Cells: 2 finished between 2026-12-03 and 2026-12-04 \(UTC\); 1\.000? min of cell wall time in all;/m);
    expect(md).toContain('A finished cell is kept as long as its suite definition is unchanged, whatever changed in prefrl since (code, defaults its command does not name, the MuJoCo build): the dates say which version made it.');
  });
});
