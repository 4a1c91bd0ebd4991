/**
 * A researcher reading a committed summary.md needs to know which prefrl made its cells: a finished
 * cell is never rerun when the code, a default or the MuJoCo build changes, only when its suite
 * definition does. The summary's Cells line gives the days (UTC) the cells finished. And a run
 * at a small --steps-scale may end before it asked its label budget: the summary names such rows.
 */
import { describe, expect, it } from 'vitest';
import type { CellRecord } from '../scripts/bench/cells.js';
import { aboveRandom, aggregate, finishedDates, labelsShort, ratios, summaryMarkdown } from '../scripts/bench/summary.js';
import { buildSuite } from '../scripts/bench/suites.js';
import { main } from '../scripts/cli.js';
import { captureCli, lastJson } from './helpers/cli.js';

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

function trained(teacher: string, labels: number, seed: number, labelsUsed: number): CellRecord {
  return { ...rec(seed, '2026-12-07T00:00:00.000Z'), cellId: `p-${teacher}-${labels}-${seed}`, table: 'pusher', row: { method: 'preference', teacher, labels, steps: 3000 }, metrics: { finalTrueReturn: -170, labelsUsed } };
}

describe('bench summary: rows whose label budget was not reached', () => {
  it('labelsShort lists a row whose mean labels used is below its labels (one short seed is enough), not one that reached it nor a row without labels', () => {
    const recs = [
      trained('oracle', 1000, 0, 100),
      trained('oracle', 1000, 1, 1000),
      trained('oracle', 100, 0, 100),
      { ...rec(0, '2026-12-07T00:00:00.000Z'), cellId: 'ppo', table: 'pusher', row: { method: 'ppo-true', teacher: '-', labels: 0, steps: 3000 }, metrics: { finalTrueReturn: -180, labelsUsed: 0 } },
    ];
    const short = labelsShort(aggregate(recs));
    // Seeds used 100 and 1,000 of 1,000: mean 550.
    expect(short).toEqual([{ row: { method: 'preference', teacher: 'oracle', labels: 1000, steps: 3000 }, labels: 1000, used: 550 }]);
  });

  it('the table is followed by one line naming the short rows; a summary whose rows reached their budgets has none', () => {
    const md = summaryMarkdown({ suite: smoke, records: [trained('oracle', 1000, 0, 100), trained('skip', 500, 0, 100), trained('oracle', 100, 0, 100)], command: 'c', missing: [], plots: [], failed: [] });
    expect(md).toContain(
      '**Label budget not reached** in 2 rows (oracle 1,000 labels: 100 used; skip 500 labels: 100 used): the runs\' env steps ended before their feedback rounds had asked every label, so these rows do not measure their label budget; more env steps (`--steps-scale`) reach it.',
    );
    const full = summaryMarkdown({ suite: smoke, records: [trained('oracle', 1000, 0, 1000), trained('oracle', 100, 0, 100)], command: 'c', missing: [], plots: [], failed: [] });
    expect(full).not.toContain('Label budget not reached');
  });
});

describe('bench summary: a normalised score only where the reference beats the random policy', () => {
  const row = (method: string) => ({ method, teacher: method === 'preference' ? 'oracle' : '-', labels: method === 'preference' ? 100 : 0, steps: method === 'random' ? 0 : 3000 });
  const at = (method: string, ret: number): CellRecord => ({ ...rec(0, '2026-12-07T00:00:00.000Z'), cellId: `${method}-0`, table: 'reacher', row: row(method), metrics: { finalTrueReturn: ret } });

  it('PPO on the true reward below the random policy (a run too short to learn): normalised "-", not a percentage above 100 for a worse policy', () => {
    // Random -177.5, true PPO -195.9, learned -215.7: (R - random) / (PPO - random) = -38.2 / -18.4 = 208%.
    const below = aggregate([at('random', -177.5), at('ppo-true', -195.9), at('preference', -215.7)]);
    const learned = below.find((a) => a.row.method === 'preference')!;
    expect(ratios(learned, below).normalised).toBeNull();
    expect(summaryMarkdown({ suite: smoke, records: [at('random', -177.5), at('ppo-true', -195.9), at('preference', -215.7)], command: 'c', missing: [], plots: [], failed: [] })).toContain(
      '| preference | oracle | 100 | 3000 | 1 | -215.7 | - | - |',
    );
    // Above: -150 against random -200 and PPO -100 is 50%.
    const above = aggregate([at('random', -200), at('ppo-true', -100), at('preference', -150)]);
    expect(ratios(above.find((a) => a.row.method === 'preference')!, above).normalised).toBeCloseTo(0.5, 12);
  });

  it('aboveRandom: both known and the reference strictly higher', () => {
    expect(aboveRandom(-195.9, -177.5)).toBe(false);
    expect(aboveRandom(-177.5, -177.5)).toBe(false);
    expect(aboveRandom(-100, -200)).toBe(true);
    expect(aboveRandom(undefined, -200)).toBe(false);
    expect(aboveRandom(Number.NaN, -200)).toBe(false);
  });

  it('an offline row whose IQL-true mean is below the random policy shows "normalised (IQL)" as "-"', () => {
    const off = (seed: number, iqlTrue: number): CellRecord => ({
      ...rec(seed, '2026-12-07T00:00:00.000Z'),
      cellId: `off-${seed}`,
      table: 'reacher',
      row: { method: 'offline IQL', teacher: 'oracle', labels: 1000, steps: 0, updates: 200 },
      metrics: { finalTrueReturn: -215.7, iqlTrueReturn: iqlTrue, randomReturn: -177.5, ratioToIqlTrue: -215.7 / iqlTrue, normalisedToIqlTrue: (-215.7 + 177.5) / (iqlTrue + 177.5) },
    });
    const md = summaryMarkdown({ suite: smoke, records: [off(0, -195.9)], command: 'c', missing: [], plots: [], failed: [] });
    expect(md).toContain('| offline IQL | oracle | 1000 | - | 200 | 1 | -215.7 | -195.9 | - | - |');
    // IQL-true above random (-100): (-215.7 + 177.5) / (-100 + 177.5) = -49%.
    const ok = summaryMarkdown({ suite: smoke, records: [off(0, -100)], command: 'c', missing: [], plots: [], failed: [] });
    expect(ok).toContain('| offline IQL | oracle | 1000 | - | 200 | 1 | -215.7 | -100.0 | - | -49% |');
  });
});

describe('bench oracle --json says the budget it ran at', () => {
  it('--dry-run (a run\'s result object has the same field: bench_shard.test.ts): "budget" holds --seeds (or the suite default), the envs selected (or all) and --steps-scale', async () => {
    const dry = captureCli();
    expect(await main(['bench', 'oracle', '--suite', 'bpref', '--envs', 'pusher', '--seeds', '1', '--steps-scale', '0.03', '--out', '/nonexistent-qa-repro', '--dry-run', '--json'], dry.ctx)).toBe(0);
    const d = lastJson<{ budget: unknown; selected: unknown[] }>(dry.out);
    expect(d.budget).toEqual({ seeds: 1, envs: ['pusher'], stepsScale: 0.03 });
    // 1 random + 1 true-reward PPO + 6 teachers x 3 budgets x 2 queries on one env and seed.
    expect(d.selected).toHaveLength(38);
    const all = captureCli();
    expect(await main(['bench', 'oracle', '--suite', 'ppo', '--out', '/nonexistent-qa-repro', '--dry-run', '--json'], all.ctx)).toBe(0);
    expect(lastJson<{ budget: unknown }>(all.out).budget).toEqual({ seeds: 3, envs: ['cheetah-run', 'hopper-hop', 'walker-walk', 'reacher'], stepsScale: 1 });
  });
});
