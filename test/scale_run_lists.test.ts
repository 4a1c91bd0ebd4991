/**
 * plot and tensorboard over thousands of run folders (a benchmark's cells, three levels down):
 * the list of runs is made distinct, named and matched to its curves with sets and maps. Before,
 * each run searched the whole list (findIndex with path.resolve, indexOf, a filter of every
 * curve): quadratic, 80% of `prefrl tensorboard` over a folder of 4,000 runs (8.9 s, now 2.7 s).
 * The lists here are large enough that the old searches (hundreds of millions of resolves) would
 * run past vitest's per-test timeout; the assertions check the results, not the time.
 */
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Curve, curvesByRun, distinctFolders, runLabels, seedCurves } from '../scripts/commands/plot.js';

const N = 40_000;

describe('run lists of 40,000 folders', () => {
  it('distinctFolders keeps each folder once, by its first spelling, in the order given', () => {
    const paths: string[] = [];
    for (let i = 0; i < N; i++) paths.push(join('runs', `r${i}`));
    // Every 10th folder again as ./x/ and as its absolute path: left out.
    for (let i = 0; i < N; i += 10) paths.push(`./runs/r${i}/`, resolve('runs', `r${i}`));
    const got = distinctFolders(paths);
    expect(got.length).toBe(N);
    expect(got[0]).toBe(join('runs', 'r0'));
    expect(got[N - 1]).toBe(join('runs', `r${N - 1}`));
    // An absolute path given first is the spelling kept.
    expect(distinctFolders([resolve('a'), 'a', './a/', 'b', 'a'])).toEqual([resolve('a'), 'b']);
  });

  it('runLabels: folder names when they differ, the paths as given once two share one', () => {
    const distinct = Array.from({ length: N }, (_, i) => join('runs', 'bench', `2026-${i}`));
    expect(runLabels(distinct)[N - 1]).toBe(`2026-${N - 1}`);
    // The last folder shares the first one's name: every run is called by its path.
    const clash = [...distinct, join('copy', '2026-0')];
    expect(runLabels(clash)).toEqual(clash);
  });

  it('curvesByRun and seedCurves: each group gets its own runs\' curves', () => {
    const cs: Curve[] = [];
    const runs: string[] = [];
    for (let i = 0; i < N; i++) {
      runs.push(`r${i}`);
      cs.push({ run: `r${i}`, metric: 'eval/true_return', points: [[0, i], [10, i + 1]] });
      if (i % 2 === 0) cs.push({ run: `r${i}`, metric: 'loss/x', points: [[0, -i]] });
    }
    const by = curvesByRun(cs);
    expect(by.size).toBe(N);
    expect(by.get('r4')?.map((c) => c.metric)).toEqual(['eval/true_return', 'loss/x']);
    expect(by.get('r5')?.map((c) => c.metric)).toEqual(['eval/true_return']);
    // Groups of two runs (seeds): r0+r1, r2+r3, ... The mean of r2k and r2k+1 at step 10 is 2k + 1.5.
    const groups: string[][] = [];
    for (let i = 0; i < N; i += 2) groups.push([runs[i], runs[i + 1]]);
    const warned: string[] = [];
    const out = seedCurves(groups, cs, new Map(runs.map((r) => [r, r])), (m) => warned.push(m));
    // eval/true_return for every group; loss/x only in r2k, so no step all of a group's runs logged: said, no line.
    expect(out.length).toBe(N / 2);
    expect(warned.length).toBe(N / 2);
    expect(warned[0]).toContain('logged loss/x at no common step');
    const last = out[out.length - 1];
    expect(last.metric).toBe('eval/true_return');
    expect(last.points).toEqual([[0, N - 1.5], [10, N - 0.5]]);
    expect(last.band).toEqual([[N - 2, N - 1], [N - 1, N]]);
  });
});
