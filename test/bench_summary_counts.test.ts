/**
 * What a summary and its plots say about their counts (found by the qa_bench pass): a statistic
 * over fewer records than its row (a null metric) shows its own n; results outside the command's
 * suite definition, and tables at several budgets, are said; the suite plots' titles say how
 * many records each point averages.
 */
import { describe, expect, it } from 'vitest';
import type { CellRecord } from '../scripts/bench/cells.js';
import { configLabel, countText, suitePlots } from '../scripts/bench/plots.js';
import { aggregate, fmtStat, mixedBudgets, summaryMarkdown } from '../scripts/bench/summary.js';
import { buildSuite } from '../scripts/bench/suites.js';

function rec(table: string, row: Record<string, string | number>, seed: number, metrics: Record<string, number | null>, extra: Partial<CellRecord> = {}): CellRecord {
  return { suite: 'smoke', cellId: `${table}-${JSON.stringify(row)}-${seed}`, hash: 'h', kind: 'train', seed, table, row, metrics, benchCommand: 'cmd', wallSeconds: 1, finishedAt: '2026-01-01T00:00:00.000Z', ...extra };
}

const smoke = buildSuite('smoke', { stepsScale: 1 });

describe('bench summary: counts', () => {
  it('a metric with fewer values than its row has records shows its own n; a whole one does not', () => {
    expect(fmtStat({ mean: 12, std: 2, n: 2 }, false, 3)).toBe('12.00 ± 2.000 (n=2)');
    expect(fmtStat({ mean: 12, std: 2, n: 3 }, false, 3)).toBe('12.00 ± 2.000');
    expect(fmtStat({ mean: 1234.4, std: 0, n: 1 }, true, 2)).toBe('1,234 (n=1)');
    expect(fmtStat({ mean: 5, std: 0, n: 1 })).toBe('5.000');
    // Three seeds; seed 2's final return was not finite (written as null). By hand over 10 and 14:
    // mean 12, sample std sqrt((4 + 4) / 1) = 2.828; the steps/s of all three: mean 200, std 100.
    const row = { method: 'preference', labels: 40, steps: 10 };
    const recs = [rec('e', row, 0, { finalTrueReturn: 10, stepsPerSecond: 100 }), rec('e', row, 1, { finalTrueReturn: 14, stepsPerSecond: 200 }), rec('e', row, 2, { finalTrueReturn: null, stepsPerSecond: 300 })];
    const md = summaryMarkdown({ suite: smoke, records: recs, command: 'c', missing: [], plots: [], failed: [] });
    expect(md).toContain('| method | labels | steps | seeds | final true return | run steps/s |');
    expect(md).toContain('| preference | 40 | 10 | 3 | 12.00 ± 2.828 (n=2) | 200 ± 100 |');
  });

  it('"vs IQL true" and "normalised (IQL)" are means of per-seed ratios (said in the text), with their own n when a seed has none', () => {
    const row = { method: 'offline IQL', teacher: 'oracle', labels: 40, steps: 0, updates: 100 };
    // Per seed: learned 30 / IQL-true 40 = 0.75 and 10 / 50 = 0.2 -> mean 47.5%, where the ratio of
    // the means, 20 / 45, would read 44%. Normalised with random 0 and 10: 0.75 and 0 -> 37.5%, shown
    // rounded as 38%; seed 2 has no ratio (null), so n=2 of 3.
    const recs = [
      rec('r', row, 0, { finalTrueReturn: 30, iqlTrueReturn: 40, randomReturn: 0, ratioToIqlTrue: 0.75, normalisedToIqlTrue: 0.75 }),
      rec('r', row, 1, { finalTrueReturn: 10, iqlTrueReturn: 50, randomReturn: 10, ratioToIqlTrue: 0.2, normalisedToIqlTrue: 0 }),
      rec('r', row, 2, { finalTrueReturn: 20, iqlTrueReturn: 45, randomReturn: 5, ratioToIqlTrue: null, normalisedToIqlTrue: null }),
    ];
    const md = summaryMarkdown({ suite: smoke, records: recs, command: 'c', missing: [], plots: [], failed: [] });
    expect(md).toContain('| method | teacher | labels | steps | updates | seeds | final true return | IQL true reward | vs IQL true | normalised (IQL) |');
    expect(md).toContain('| offline IQL | oracle | 40 | - | 100 | 3 | 20.00 ± 10.00 | 45.00 ± 5.000 | 48% (n=2) | 38% (n=2) |');
    expect(md).toContain('seed by seed: the ratio against IQL-true (and the random policy) of the same seed, averaged over seeds');
  });

  it('the same row with its columns in another order is one row of the summary (mean over both seeds), not two that read alike', () => {
    const a = rec('e', { method: 'ppo-true', labels: 0, steps: 10 }, 0, { finalTrueReturn: 10 });
    const b = rec('e', { steps: 10, method: 'ppo-true', labels: 0 }, 1, { finalTrueReturn: 14 });
    const aggs = aggregate([a, b]);
    expect(aggs).toHaveLength(1);
    expect(aggs[0].n).toBe(2);
    expect(aggs[0].metrics.finalTrueReturn).toEqual({ mean: 12, std: Math.sqrt(8), n: 2 });
  });

  it('mixedBudgets: the trained rows of a table at several env-step budgets or update counts; random, dataset and expert rows do not count', () => {
    const a = (row: Record<string, string | number>) => aggregate([rec('e', row, 0, { finalTrueReturn: 1 })])[0];
    const refs = [a({ method: 'random', steps: 0 }), a({ method: 'dataset (random)', steps: 2000 }), a({ method: 'expert (V*)', steps: 300 })];
    expect(mixedBudgets([...refs, a({ method: 'ppo-true', steps: 100 }), a({ method: 'preference', teacher: 'x', steps: 100 })])).toEqual([]);
    expect(mixedBudgets([...refs, a({ method: 'ppo-true', steps: 100 }), a({ method: 'preference', teacher: 'x', steps: 150 })])).toEqual([{ column: 'steps', values: [100, 150] }]);
    expect(mixedBudgets([a({ method: 'offline IQL', steps: 0, updates: 5000 }), a({ method: 'offline IQL', steps: 0, updates: 100 })])).toEqual([{ column: 'updates', values: [100, 5000] }]);
    const recs = [rec('e', { method: 'ppo-true', steps: 4096 }, 0, { finalTrueReturn: 2 }), rec('e', { method: 'ppo-true', steps: 6144 }, 0, { finalTrueReturn: 3 })];
    const md = summaryMarkdown({ suite: smoke, records: recs, command: 'c', missing: [], plots: [], failed: [] });
    expect(md).toContain('**Mixed budgets:** this table\'s rows were run at 2 env-step budgets (4,096, 6,144; the `steps` column)');
  });

  it('results of cells outside the suite definition are named above the tables; the suite\'s own are not', () => {
    const inSuite = rec('toy-reach', { method: 'random', steps: 0 }, 0, { finalTrueReturn: -58 }, { cellId: 'toy-reach_random_s0' });
    const other = rec('toy-reach', { method: 'random', steps: 0 }, 7, { finalTrueReturn: -57 }, { cellId: 'toy-reach_random_s7' });
    expect(summaryMarkdown({ suite: smoke, records: [inSuite], command: 'c', missing: [], plots: [], failed: [] })).not.toContain('outside this command');
    expect(summaryMarkdown({ suite: smoke, records: [inSuite, other], command: 'c', missing: [], plots: [], failed: [] })).toContain(
      "Also in the tables: 1 cell result outside this command's suite definition (made with other `--seeds`, `--envs` or `--steps-scale`, or cells the suite no longer has): `toy-reach_random_s7`.",
    );
  });

  it('true-reward PPO at two budgets (the ppo suite at two --steps-scale values) gets two legend entries, not one line through both', async () => {
    const recs = [100, 200].map((steps) => rec('e', { method: 'ppo-true', steps }, 0, { finalTrueReturn: steps / 10 }, { curve: [[steps / 2, 1], [steps, steps / 10]] }));
    const curves = (await suitePlots(aggregate(recs))).find((p) => p.file === 'learning_curves.svg');
    const labels = [...(curves?.svg ?? '').matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
    expect(labels).toContain('PPO true reward (100 steps)');
    expect(labels).toContain('PPO true reward (200 steps)');
    expect(labels).not.toContain('PPO true reward');
  });

  it('a legend label names the unit of an IQL update count that varies (the vlm suite at two --steps-scale values)', () => {
    const row = { method: 'offline IQL', teacher: 'oracle', model: 'partial-return', labels: 1000, query: 'uniform', steps: 0, updates: 5000 };
    expect(configLabel(row, new Set(['updates']))).toBe('offline IQL / oracle / 5000 updates');
    expect(configLabel(row, new Set())).toBe('offline IQL / oracle');
  });

  it('plot titles say how many records each point averages', async () => {
    expect(countText([3, 3])).toBe('n = 3');
    expect(countText([1, 3, 2])).toBe('n = 1-3 per point');
    const row = (teacher: string) => ({ method: 'preference', teacher, labels: 40, steps: 10 });
    const recs = [
      rec('e', row('a'), 0, { finalTrueReturn: 1, rewardAccuracy: 0.5 }, { curve: [[5, 1], [10, 2]] }),
      rec('e', row('a'), 1, { finalTrueReturn: 2, rewardAccuracy: 0.7 }, { curve: [[5, 1], [10, 3]] }),
      rec('e', row('b'), 0, { finalTrueReturn: 3, rewardAccuracy: 0.9 }, { curve: [[5, 2], [10, 4]] }),
    ];
    const plots = await suitePlots(aggregate(recs));
    expect(plots.map((p) => p.title)).toEqual([
      'True evaluation return vs env steps (mean ± std over seeds, n = 1-2 per point)',
      'Final true return vs number of labels (mean ± std over seeds, n = 1-2 per point; dashed: PPO on the true reward)',
      "Reward model's held-out preference accuracy vs number of labels (mean ± std over seeds, n = 1-2 per point)",
    ]);
    // The title is drawn in the SVG, not only kept in the summary's link text.
    expect(plots[0].svg).toContain('n = 1-2 per point');
  });
});
