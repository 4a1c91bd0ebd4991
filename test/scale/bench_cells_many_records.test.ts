/**
 * A suite whose cell files hold many records: readAllRecords gathered each file's records with
 * out.push(...records), which overflows the call stack past some 120,000 records in one file
 * ("Maximum call stack size exceeded" from the bench summary).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type CellRecord, readAllRecords, writeCellRecords } from '../../scripts/bench/cells.js';

const dir = mkdtempSync(join(tmpdir(), 'prefrl-scale-cells-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const record = (cellId: string, seed: number): CellRecord => ({
  suite: 's',
  cellId,
  hash: 'h',
  kind: 'tabular',
  seed,
  table: 't',
  row: { method: 'm' },
  metrics: { scaledReturn: seed % 10 },
  benchCommand: 'prefrl bench oracle --suite s',
  wallSeconds: 0,
  finishedAt: '2026-01-01T00:00:00.000Z',
});

describe('bench cell files with many records', () => {
  it('reads 150,000 records of one cell file and 2 of another', () => {
    writeCellRecords(dir, 'big', Array.from({ length: 150_000 }, (_, i) => record('big', i)));
    writeCellRecords(dir, 'small', [record('small', 0), record('small', 1)]);
    const all = readAllRecords(dir);
    expect(all.length).toBe(150_002);
    // Files in name order, records in file order.
    expect([all[0].cellId, all[0].seed, all[149_999].seed, all[150_000].cellId, all[150_001].seed]).toEqual(['big', 0, 149_999, 'small', 1]);
    expect(all.reduce((s, r) => s + (r.metrics.scaledReturn as number), 0)).toBe(15_000 * 45 + 1);
  });
});
