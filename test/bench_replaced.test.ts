/**
 * `prefrl bench oracle` rerunning a cell whose result was made with another configuration
 * (another --expert, or a suite definition changed since): the new result is written, and the
 * old file is kept under cells/replaced/ rather than overwritten. Before, the old result (hours
 * of compute for a real suite) was replaced in place.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { type CellRecord, configHash } from '../scripts/bench/cells.js';
import { buildSuite } from '../scripts/bench/suites.js';
import { main } from '../scripts/cli.js';
import { captureCli, lastJson } from './helpers/cli.js';

describe('bench oracle: a result made with another configuration', () => {
  it('is moved to cells/replaced/<cell>.<old hash>.jsonl when its cell runs again; the summary counts the new one', { timeout: 60_000 }, async () => {
    const root = mkdtempSync(join(tmpdir(), 'prefrl-bench-replaced-'));
    const out = join(root, 'results');
    const cells = join(out, 'smoke', 'cells');
    mkdirSync(cells, { recursive: true });
    const [cell] = buildSuite('smoke', { stepsScale: 1, seeds: 1, envs: ['gridworld'] }).cells;
    const file = join(cells, `${cell.id}.jsonl`);
    const old = (tag: string): string =>
      `${JSON.stringify({ suite: 'smoke', cellId: cell.id, hash: `old-config-${tag}`, kind: 'tabular', seed: 0, table: cell.table, row: { source: 'regret', model: 'regret', labels: 30 }, metrics: { scaledReturn: 0.25 }, benchCommand: 'an older prefrl', wallSeconds: 9, finishedAt: '2026-01-01T00:00:00.000Z' })}\n`;
    writeFileSync(file, old('a'));
    const args = ['bench', 'oracle', '--suite', 'smoke', '--seeds', '1', '--envs', 'gridworld', '--out', out, '--runs-dir', join(root, 'runs'), '--quiet', '--json'];
    const k = captureCli(new ManualClock());
    expect(await main(args, k.ctx)).toBe(0);
    expect(lastJson<{ ran: string[] }>(k.out).ran).toEqual([cell.id]);
    const kept = join(cells, 'replaced', `${cell.id}.old-config-a.jsonl`);
    expect(readFileSync(kept, 'utf8')).toBe(old('a'));
    expect(k.err.join('')).toContain(`cell ${cell.id}: its result was made with another configuration; running it again (the old result goes to ${join(cells, 'replaced')} when the new one is written)`);
    expect(k.err.join('')).toContain(`cell ${cell.id}: its earlier result, made with another configuration, is kept as ${kept}`);
    const fresh = readFileSync(file, 'utf8');
    const recs = fresh.trim().split('\n').map((l) => JSON.parse(l) as CellRecord);
    expect(recs.length).toBeGreaterThan(0);
    expect(new Set(recs.map((r) => r.hash))).toEqual(new Set([configHash(cell)]));
    // The summary reads cells/ only: the new records, nothing from replaced/.
    const s = captureCli(new ManualClock());
    expect(await main([...args, '--summary-only'], s.ctx)).toBe(0);
    expect(lastJson<{ records: number }>(s.out).records).toBe(recs.length);

    // Again with the same old configuration's hash: a second name, the first kept as it was.
    writeFileSync(file, old('a').replace('"wallSeconds":9', '"wallSeconds":10'));
    expect(await main(args, captureCli(new ManualClock()).ctx)).toBe(0);
    expect(readdirSync(join(cells, 'replaced')).sort()).toEqual([`${cell.id}.old-config-a.2.jsonl`, `${cell.id}.old-config-a.jsonl`]);
    expect(readFileSync(kept, 'utf8')).toBe(old('a'));
    expect(readFileSync(join(cells, 'replaced', `${cell.id}.old-config-a.2.jsonl`), 'utf8')).toContain('"wallSeconds":10');

    // A result of this configuration is skipped, not moved.
    const again = captureCli(new ManualClock());
    expect(await main(args, again.ctx)).toBe(0);
    expect(lastJson<{ ran: string[]; skipped: string[] }>(again.out).skipped).toEqual([cell.id]);
    expect(readdirSync(join(cells, 'replaced'))).toHaveLength(2);
    expect(existsSync(file)).toBe(true);
    rmSync(root, { recursive: true, force: true });
  });
});
