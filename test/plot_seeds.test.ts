/**
 * `prefrl plot --seeds`: runs whose config.json differ only in their seed are one line, the mean
 * over them at each step they all logged, over a band from the lowest to the highest (numbers
 * checked by hand); steps not every run reached are left out and said; each command's seed (a
 * train run's, an iql run's, an offline run's in its pipeline config) is found.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../scripts/cli.js';
import { groupLabel, groupLabels, runSeed, seedGroups } from '../scripts/commands/plot.js';
import { captureCli, lastJson } from './helpers/cli.js';

const root = mkdtempSync(join(tmpdir(), 'plot-seeds-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function run(name: string, config: unknown, returns: [number, number][]): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  writeFileSync(join(dir, 'metrics.jsonl'), `${returns.map(([step, r]) => JSON.stringify({ step, 'eval/true_return': r })).join('\n')}\n`);
  writeFileSync(join(dir, 'summary.json'), '{}');
  return dir;
}

const learned = (seed: number, extra: Record<string, unknown> = {}) => ({ command: 'train', env: 'reacher', teacher: 'oracle', labels: 500, seed, runsDir: root, like: seed > 0 ? 'runs/x' : undefined, ...extra });

// Three seeds of one setting; at 100 and 200 hand means (1+3+2)/3 = 2, (2+4+6)/3 = 4; at 300 only
// seeds 0 and 1 logged (seed 2 stopped at 200).
const a0 = run('20261207-100000-train-reacher-oracle-s0', learned(0), [[100, 1], [200, 2], [300, 3]]);
const a1 = run('20261207-100100-train-reacher-oracle-s1', learned(1, { name: undefined }), [[100, 3], [200, 4], [300, 5]]);
const a2 = run('20261207-100200-train-reacher-oracle-s2', learned(2), [[100, 2], [200, 6]]);
// Another setting (--labels 1000), two seeds: (10 + 20) / 2 = 15 at 100.
const b0 = run('20261207-110000-train-reacher-oracle-s0', learned(0, { labels: 1000 }), [[100, 10]]);
const b1 = run('20261207-110100-train-reacher-oracle-s1', learned(1, { labels: 1000 }), [[100, 20]]);

describe('seed groups', () => {
  it('group the runs that differ only in seed (and where they were written or what they were made like), in the order given', () => {
    expect(seedGroups([a0, b0, a1, b1, a2])).toEqual([
      [a0, a1, a2],
      [b0, b1],
    ]);
    expect(groupLabel([a0, a1, a2])).toBe('train-reacher-oracle (3 seeds 0, 1, 2)');
    expect(groupLabel([b0])).toBe('train-reacher-oracle (seed 0)');
  });

  it('say when a seed ran twice (each run counts in the mean), and tell apart two groups that would read alike', () => {
    const again = run('20261207-120000-train-reacher-oracle-s0', learned(0, { like: 'x' }), [[100, 5]]);
    expect(seedGroups([a0, a1, again])).toEqual([[a0, a1, again]]);
    expect(groupLabel([a0, a1, again])).toBe('train-reacher-oracle (3 runs, seeds 0, 1, 0)');
    const c0 = run('20261207-130000-train-reacher-oracle-s0', learned(0, { labels: 7 }), [[100, 1]]);
    expect(groupLabels([[a0], [b0], [c0]])).toEqual(['train-reacher-oracle (seed 0)', 'train-reacher-oracle (seed 0) #2', 'train-reacher-oracle (seed 0) #3']);
  });

  it("find an offline run's seed in its pipeline config and an iql run's at the top level (its resolved settings hold it too: not a setting)", () => {
    const o1 = run('o1', { command: 'offline', config: { teacher: 'oracle', seed: 1 } }, [[1, 1]]);
    const o2 = run('o2', { command: 'offline', config: { teacher: 'oracle', seed: 2 } }, [[1, 1]]);
    const i1 = run('i1', { command: 'iql', seed: 4, resolved: { seed: 4, updates: 10 } }, [[1, 1]]);
    const i2 = run('i2', { command: 'iql', seed: 5, resolved: { seed: 5, updates: 10 } }, [[1, 1]]);
    expect([runSeed(o1), runSeed(i1)]).toEqual([1, 4]);
    expect(seedGroups([o1, i1, o2, i2])).toEqual([
      [o1, o2],
      [i1, i2],
    ]);
    // A folder without a config.json is a group of its own.
    const bare = join(root, 'bare');
    mkdirSync(bare);
    writeFileSync(join(bare, 'metrics.jsonl'), '{"step":1,"eval/true_return":1}\n');
    expect(seedGroups([bare, o1, o2])).toEqual([[bare], [o1, o2]]);
  });
});

describe('seed groups over runs that name other runs', () => {
  it("runs on their own seed's expert (regret cells) group when the experts differ only in seed; experts of other settings part them", () => {
    const expert = (name: string, seed: number, steps: number) => run(name, { command: 'train', env: 'reacher', reward: 'true', steps, seed }, [[1, 1]]);
    const e0 = expert('20261207-140000-expert-s0', 0, 300000);
    const e1 = expert('20261207-140100-expert-s1', 1, 300000);
    const eShort = expert('20261207-140200-expert-s2', 2, 1000);
    const regret = (name: string, seed: number, ex: string) => run(name, learned(seed, { teacher: 'regret', expert: ex }), [[100, seed]]);
    const r0 = regret('20261207-150000-train-reacher-regret-s0', 0, e0);
    // A checkpoint inside the expert's folder stands for that run too (the path within it must match).
    mkdirSync(join(e1, 'checkpoints', 'final'), { recursive: true });
    const r1 = regret('20261207-150100-train-reacher-regret-s1', 1, join(e1, 'checkpoints', 'final'));
    const r1b = regret('20261207-150200-train-reacher-regret-s1', 1, e1);
    const r2 = regret('20261207-150300-train-reacher-regret-s2', 2, eShort);
    expect(seedGroups([r0, r1b, r2, r1])).toEqual([[r0, r1b], [r2], [r1]]);
    // iql runs on per-seed collect datasets: the dataset stands for its collect run, and what each
    // run worked out from its data (derived: the reward scale) is no setting.
    const collect = (seed: number) => run(`20261207-170${seed}00-collect-reacher-random`, { command: 'collect', env: 'reacher', policy: 'random', steps: 1000, seed }, [[1, 1]]);
    const iql = (seed: number, scale: number) => {
      const c = collect(seed);
      mkdirSync(join(c, 'artifacts'), { recursive: true });
      writeFileSync(join(c, 'artifacts', 'dataset.h5'), '');
      return run(`20261207-171${seed}00-iql-reacher-true-s${seed}`, { command: 'iql', dataset: join(c, 'artifacts', 'dataset.h5'), updates: 100, seed, resolved: { seed, updates: 100 }, derived: { rewardScale: scale, rewardKind: 'true' } }, [[100, seed]]);
    };
    const i0 = iql(0, 0.9286);
    const i1 = iql(1, 0.7883);
    expect(seedGroups([i0, i1])).toEqual([[i0, i1]]);
    // A path that is no run folder (gone, or a plain file outside any run) is compared as written.
    const gone0 = regret('20261207-160000-train-reacher-regret-s0', 0, join(root, 'nothing-here-s0'));
    const gone1 = regret('20261207-160100-train-reacher-regret-s1', 1, join(root, 'nothing-here-s1'));
    expect(seedGroups([gone0, gone1])).toEqual([[gone0], [gone1]]);
  });
});

describe('prefrl plot --seeds', () => {
  it('draws the mean over each group with its lowest-to-highest band; the table and --json give the last mean and range', async () => {
    const out = join(root, 'seeds.svg');
    const c = captureCli();
    expect(await main(['plot', a0, a1, a2, b0, b1, '--seeds', '--out', out, '--json'], c.ctx), c.err.join('')).toBe(0);
    const j = lastJson<{ curves: { run: string; points: number; lastStep: number; last: number; lastMin: number; lastMax: number }[]; groups: { name: string; seeds: number[] }[] }>(c.out);
    expect(j.curves).toEqual([
      { run: 'train-reacher-oracle (3 seeds 0, 1, 2)', metric: 'eval/true_return', points: 2, lastStep: 200, last: 4, lastMin: 2, lastMax: 6 },
      { run: 'train-reacher-oracle (2 seeds 0, 1)', metric: 'eval/true_return', points: 1, lastStep: 100, last: 15, lastMin: 10, lastMax: 20 },
    ]);
    expect(j.groups.map((g) => g.seeds)).toEqual([
      [0, 1, 2],
      [0, 1],
    ]);
    // Step 300, which seed 2 never reached, is left out and said.
    expect(c.err.join('')).toContain('train-reacher-oracle (3 seeds 0, 1, 2): eval/true_return at 1 steps not every run reached (a run stopped early?) left out; the line ends at step 200');
    const svg = readFileSync(out, 'utf8');
    expect(svg).toContain('mark-area');
    expect(svg).toContain('train-reacher-oracle (3 seeds 0, 1, 2)');
    // The table without --json.
    const t = captureCli();
    expect(await main(['plot', a0, a1, a2, '--seeds', '--out', out], t.ctx), t.err.join('')).toBe(0);
    expect(t.out.join('')).toMatch(/train-reacher-oracle \(3 seeds 0, 1, 2\)\s+eval\/true_return\s+2\s+200\s+4\.00000\s+2\.00000 to 6\.00000/);
  });

  it('without --seeds every run is its own line, as before (no band)', async () => {
    const out = join(root, 'plain.svg');
    const c = captureCli();
    expect(await main(['plot', a0, a1, '--out', out, '--json'], c.ctx), c.err.join('')).toBe(0);
    const j = lastJson<{ curves: Record<string, unknown>[]; groups?: unknown }>(c.out);
    expect(j.curves.map((x) => [x.run, x.last, 'lastMin' in x])).toEqual([
      ['20261207-100000-train-reacher-oracle-s0', 3, false],
      ['20261207-100100-train-reacher-oracle-s1', 5, false],
    ]);
    expect(j.groups).toBeUndefined();
    expect(readFileSync(out, 'utf8')).not.toContain('mark-area');
  });
});
