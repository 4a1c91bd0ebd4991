/**
 * Where the bench subcommands write without --out: bench oracle and bench regret into scratch
 * folders under runs/ (git-ignored), never into the committed benchmarks/results, which an
 * explicit --out still names; each says where its results went. Run from an empty temporary
 * working folder (vitest's forks pool lets a test change it), so the defaults resolve there.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../scripts/cli.js';
import { BENCH_ORACLE_SCRATCH } from '../scripts/commands/bench_oracle.js';
import { captureCli, lastJson } from './helpers/cli.js';

let cwd: string;
let home: string;
beforeEach(() => {
  cwd = process.cwd();
  process.chdir(mkdtempSync(join(tmpdir(), 'prefrl-bench-default-out-')));
  // process.cwd(), not the mkdtemp path: what resolve() starts from.
  home = process.cwd();
});
afterEach(() => {
  process.chdir(cwd);
  rmSync(home, { recursive: true, force: true });
});

/** The tabular cells of the smoke suite alone: seconds, no env. */
const GRID = ['bench', 'oracle', '--suite', 'smoke', '--envs', 'gridworld', '--quiet'];

describe('bench oracle without --out', () => {
  it('runs the cells into runs/bench-oracle/<suite>/ beside their run folders, says so, and leaves benchmarks/ alone', async () => {
    expect(BENCH_ORACLE_SCRATCH).toBe('runs/bench-oracle');
    const dry = captureCli();
    expect(await main([...GRID, '--dry-run', '--json'], dry.ctx)).toBe(0);
    const suiteDir = join(home, 'runs', 'bench-oracle', 'smoke');
    expect(lastJson<{ outDir: string }>(dry.out).outDir).toBe(suiteDir);
    // A dry run writes nothing.
    expect(readdirSync(home)).toEqual([]);

    const run = captureCli();
    expect(await main(GRID, run.ctx)).toBe(0);
    // The last stdout line names the summary it wrote, in the scratch folder.
    expect(run.out.join('').trimEnd().split('\n').pop()).toMatch(new RegExp(`^smoke: \\d+ cells run, 0 skipped \\(done\\), 0 failed; summary ${join(suiteDir, 'summary.md')}$`));
    expect(existsSync(join(suiteDir, 'summary.md'))).toBe(true);
    expect(readdirSync(join(suiteDir, 'cells')).filter((f) => f.endsWith('.jsonl')).length).toBeGreaterThan(0);
    expect(readdirSync(home)).toEqual(['runs']);
  });

  it('--summary-only with no cells in the scratch folder exits 2 and points to --out benchmarks/results for the committed results', async () => {
    const k = captureCli();
    expect(await main(['bench', 'oracle', '--suite', 'smoke', '--summary-only'], k.ctx)).toBe(2);
    expect(k.err.join('').trim()).toBe(
      `prefrl bench oracle: --summary-only: no cell results in ${join(home, 'runs', 'bench-oracle', 'smoke', 'cells')} (check --out runs/bench-oracle, or copy every machine's cells/*.jsonl there first; the committed results are read with --out benchmarks/results)`,
    );
    // A mistyped --out of one's own gets no such hint: it is not the scratch default.
    const own = captureCli();
    expect(await main(['bench', 'oracle', '--suite', 'smoke', '--summary-only', '--out', 'mine'], own.ctx)).toBe(2);
    expect(own.err.join('').trim()).toBe(`prefrl bench oracle: --summary-only: no cell results in ${join(home, 'mine', 'smoke', 'cells')} (check --out mine, or copy every machine's cells/*.jsonl there first)`);
    expect(readdirSync(home)).toEqual([]);
  });

  it('an explicit --out benchmarks/results writes there, and summary.md records the --out that reproduces it', async () => {
    const k = captureCli();
    expect(await main([...GRID, '--out', 'benchmarks/results', '--json'], k.ctx)).toBe(0);
    const suiteDir = join(home, 'benchmarks', 'results', 'smoke');
    expect(lastJson<{ outDir: string; summary: string }>(k.out)).toMatchObject({ outDir: suiteDir, summary: join(suiteDir, 'summary.md') });
    expect(readFileSync(join(suiteDir, 'summary.md'), 'utf8')).toContain('Command: `prefrl bench oracle --suite smoke --envs gridworld --quiet --out benchmarks/results --json`');
    // Nothing in the scratch folder (tabular cells make no run folder).
    expect(readdirSync(home)).toEqual(['benchmarks']);
  });
});

describe('bench regret without --out', () => {
  const TINY = ['bench', 'regret', '--seeds', '1', '--mdps', '0', '--steps', '5', '--budgets', '20'];

  it('writes into runs/bench-regret and says where (stderr line; outDir in --json); --no-write: outDir null, nothing written', async () => {
    const k = captureCli();
    expect(await main([...TINY, '--json'], k.ctx)).toBe(0);
    const dir = join(home, 'runs', 'bench-regret');
    expect(lastJson<{ outDir: string | null }>(k.out).outDir).toBe(dir);
    expect(readdirSync(dir).sort()).toEqual(['command.txt', 'results.json', 'summary.md']);
    expect(k.err.join('')).toContain(`wrote ${join(dir, 'summary.md')}, results.json and command.txt`);
    rmSync(join(home, 'runs'), { recursive: true });
    const none = captureCli();
    expect(await main([...TINY, '--no-write', '--json'], none.ctx)).toBe(0);
    expect(lastJson<{ outDir: string | null }>(none.out).outDir).toBeNull();
    expect(readdirSync(home)).toEqual([]);
  });
});
