/**
 * What the qa_bench3 walk through the benchmark path found, fixed: a results folder this user may
 * not write into is refused before anything runs, making nothing (it was a bare EACCES after the run); --expert is
 * checked against the suite's regret-teacher cells at the start (a flag no cell reads, or an expert
 * of another env, surfaced only when that cell started, if at all); the plots give a config one
 * colour in all four files, each panel its own axes, and draw equal points side by side; summary.md
 * explains its columns, writes "-" (not an empty cell) for a column a row lacks, and gives a short
 * wall time in seconds; bench regret writes no "+- 0.000" over one run; prefrl plot says what to
 * give for a folder of runs or the heron/ folder beside them.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CellRecord } from '../scripts/bench/cells.js';
import { checkExpertForCells, expertEnvs } from '../scripts/bench/expert.js';
import { dodgeOffsets, sharedColours, suitePlots } from '../scripts/bench/plots.js';
import { aggregate, columnsText, summaryMarkdown, wallText } from '../scripts/bench/summary.js';
import { buildSuite } from '../scripts/bench/suites.js';
import { checkWritableFolder } from '../scripts/bench/writable.js';
import { main } from '../scripts/cli.js';
import { meanSeText } from '../scripts/commands/bench_regret.js';
import { notRunFolderHint } from '../scripts/commands/plot.js';
import { captureCli, usageMessage } from './helpers/cli.js';

const root = mkdtempSync(join(tmpdir(), 'prefrl-bench2-walk-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function rec(table: string, row: Record<string, string | number>, seed: number, metrics: Record<string, number | null>, extra: Partial<CellRecord> = {}): CellRecord {
  return { suite: 'smoke', cellId: `${table}-${JSON.stringify(row)}-${seed}`, hash: 'h', kind: 'train', seed, table, row, metrics, benchCommand: 'cmd', wallSeconds: 1, finishedAt: '2026-01-01T00:00:00.000Z', ...extra };
}

/** A `prefrl train --reward true` run folder on `env` with a checkpoint, as --expert takes it (only the files expertCheckpoint reads). */
function fakeExpert(name: string, env: string): string {
  const dir = join(root, name);
  mkdirSync(join(dir, 'artifacts', 'checkpoint'), { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ command: 'train', reward: 'true' }));
  writeFileSync(join(dir, 'artifacts', 'checkpoint', 'checkpoint.json'), JSON.stringify({ format: 'prefrl-ppo-checkpoint-v1', env: { id: env } }));
  writeFileSync(join(dir, 'metrics.jsonl'), '');
  return dir;
}

describe('bench: a results folder that cannot be written is refused before anything runs', () => {
  it('checkWritableFolder makes nothing, and names the flag and the value given where it cannot write', () => {
    const missing = join(root, 'w', 'a', 'b');
    checkWritableFolder(missing, '--out', 'w/a/b');
    // Checked by a folder made and removed in the nearest existing one (root): nothing is left.
    expect(existsSync(join(root, 'w'))).toBe(false);
    expect(readdirSync(root).filter((n) => n.startsWith('.prefrl-write-check'))).toEqual([]);
    // Under /proc nothing can be made, by root either (the tests run as root, for whom a read-only
    // folder is writable, and access(2) says yes under /proc): the flag and the value as given.
    expect(usageMessage(() => checkWritableFolder('/proc/prefrl-bench2-x/smoke', '--out', '/proc/prefrl-bench2-x'))).toBe(
      "--out /proc/prefrl-bench2-x: cannot write in /proc (no such file or directory, ENOENT); give another --out, or change the folder's permissions",
    );
    const file = join(root, 'a-file');
    writeFileSync(file, 'x');
    expect(usageMessage(() => checkWritableFolder(join(file, 'smoke'), '--runs-dir', file))).toBe(`--runs-dir ${file}: ${file} is a file, not a folder`);
  });

  it.each([
    [['bench', 'oracle', '--suite', 'smoke', '--out', '/proc/prefrl-bench2-o', '--runs-dir', 'RUNS'], "prefrl bench oracle: --out /proc/prefrl-bench2-o: cannot write in /proc (no such file or directory, ENOENT); give another --out, or change the folder's permissions"],
    [['bench', 'oracle', '--suite', 'smoke', '--out', 'OUT', '--runs-dir', '/proc/prefrl-bench2-r'], "prefrl bench oracle: --runs-dir /proc/prefrl-bench2-r: cannot write in /proc (no such file or directory, ENOENT); give another --runs-dir, or change the folder's permissions"],
    [['bench', 'regret', '--seeds', '1', '--mdps', '1', '--out', '/proc/prefrl-bench2-g'], "prefrl bench regret: --out /proc/prefrl-bench2-g: cannot write in /proc (no such file or directory, ENOENT); give another --out, or change the folder's permissions"],
    [['bench', 'reward', '--members', '1', '--hidden', '4', '--no-torch', '--out', '/proc/prefrl-bench2-w'], "prefrl bench reward: --out /proc/prefrl-bench2-w: cannot write in /proc (no such file or directory, ENOENT); give another --out, or change the folder's permissions"],
  ])('%j exits 2 with one line naming the flag, having run nothing', async (args, message) => {
    const dir = mkdtempSync(join(root, 'case-'));
    const c = captureCli();
    const code = await main(args.map((a) => (a === 'RUNS' ? join(dir, 'runs') : a === 'OUT' ? join(dir, 'out') : a)), c.ctx);
    expect(code).toBe(2);
    // Nothing else on stderr: no cell started, no regret run finished, no timing logged.
    expect(c.err.join('')).toBe(`${message}\n`);
    expect(c.out.join('')).toBe('');
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('bench oracle --expert: checked against the cells that read it, at the start', () => {
  it('names the envs of the regret-teacher cells', () => {
    expect(expertEnvs(buildSuite('smoke', { stepsScale: 1, expert: '/x' }).cells)).toEqual(['toy-reach']);
    expect(expertEnvs(buildSuite('regret', { stepsScale: 1, seeds: 1, expert: '/x' }).cells)).toEqual(['reacher']);
    // Without --expert the suite trains its own expert: no cell passes --expert.
    expect(expertEnvs(buildSuite('smoke', { stepsScale: 1 }).cells)).toEqual([]);
    expect(expertEnvs(buildSuite('bpref', { stepsScale: 1, seeds: 1, expert: '/x' }).cells)).toEqual([]);
  });

  it('refuses a suite with no cell that reads it, and an expert of another env; takes one of the cells\' env', () => {
    const reacher = fakeExpert('expert-reacher', 'reacher');
    const toy = fakeExpert('expert-toy', 'toy-reach');
    const bpref = buildSuite('bpref', { stepsScale: 1, seeds: 1, expert: reacher });
    expect(usageMessage(() => checkExpertForCells(reacher, bpref.cells, 'suite bpref'))).toBe(
      "--expert: no cell of suite bpref reads it (only the regret teacher's cells use V*: the regret and smoke suites have them); leave --expert out",
    );
    const smoke = buildSuite('smoke', { stepsScale: 1, expert: reacher });
    expect(usageMessage(() => checkExpertForCells(reacher, smoke.cells, 'suite smoke'))).toBe(
      `--expert: ${reacher} is a PPO run on env "reacher"; the regret-teacher cells of suite smoke are on "toy-reach": the expert's critic must come from the same env (e.g. prefrl train --env toy-reach --reward true)`,
    );
    expect(checkExpertForCells(toy, buildSuite('smoke', { stepsScale: 1, expert: toy }).cells, 'suite smoke')).toEqual(['toy-reach']);
  });

  it('through the CLI: exit 2 before any cell, also for --envs that leave no regret-teacher cell; a matching expert passes --dry-run', async () => {
    const reacher = fakeExpert('expert-reacher2', 'reacher');
    const out = join(root, 'expert-out');
    const cases: [string[], string][] = [
      [['--suite', 'smoke', '--expert', reacher], `--expert: ${reacher} is a PPO run on env "reacher"; the regret-teacher cells of suite smoke are on "toy-reach"`],
      [['--suite', 'regret', '--envs', 'gridworld', '--expert', reacher], '--expert: no cell of suite regret with these --envs reads it'],
      [['--suite', 'ppo', '--expert', reacher], '--expert: no cell of suite ppo reads it'],
    ];
    for (const [args, message] of cases) {
      const c = captureCli();
      expect(await main(['bench', 'oracle', ...args, '--out', out, '--runs-dir', join(root, 'expert-runs'), '--quiet'], c.ctx)).toBe(2);
      expect(c.err.join('')).toContain(message);
      expect(c.err.join('').split('\n').filter((l) => l !== '')).toHaveLength(1);
    }
    expect(existsSync(out)).toBe(false);
    expect(existsSync(join(root, 'expert-runs'))).toBe(false);
    const ok = captureCli();
    expect(await main(['bench', 'oracle', '--suite', 'regret', '--envs', 'reacher', '--seeds', '1', '--expert', reacher, '--out', out, '--dry-run'], ok.ctx)).toBe(0);
    expect(ok.out.join('')).toContain('reacher_regret_partial-return_l1000_disagreement_st100000_s0');
  });
});

describe('bench plots: one colour per config in every file, own axes per panel, equal points side by side', () => {
  it('dodgeOffsets spreads the keys of a panel evenly, at most 6 px apart and over at most 40 px', () => {
    const pts = (panel: string, keys: string[]) => keys.map((key) => ({ panel, key }));
    const o = dodgeOffsets([...pts('a', ['z', 'x', 'y', 'x']), ...pts('b', ['only']), ...pts('c', Array.from({ length: 11 }, (_, i) => `k${String(i).padStart(2, '0')}`))]);
    // Three keys in sorted order x, y, z: 6 px apart around 0.
    expect([o.get('["a","x"]'), o.get('["a","y"]'), o.get('["a","z"]')]).toEqual([-6, 0, 6]);
    expect(o.get('["b","only"]')).toBe(0);
    // Eleven keys: 40 / 10 = 4 px apart, from -20 to 20.
    expect(o.get('["c","k00"]')).toBe(-20);
    expect(o.get('["c","k05"]')).toBe(0);
    expect(o.get('["c","k10"]')).toBe(20);
  });

  it('sharedColours numbers `then` after all of `all`, moving none of their colours', () => {
    const scale = sharedColours(['b', 'a'], ['c', 'a', '0']);
    // a, b first (sorted), then 0, c (sorted): indices 0, 1, 2, 3.
    expect(scale(['a', 'b', '0', 'c'])).toEqual({ domain: ['0', 'a', 'b', 'c'], range: ['#e45756', '#4c78a8', '#f58518', '#72b7b2'] });
  });

  it("a smoke-like suite: the learning curves use the plots over labels' colours, each panel has its own x, and three equal accuracies are three points", async () => {
    const pref = (teacher: string, ret: number) => rec('toy', { method: 'preference', teacher, labels: 50, steps: 4096 }, 0, { finalTrueReturn: ret, rewardAccuracy: 1 }, { curve: [[1024, -46], [4096, ret]] });
    const recs = [
      rec('toy', { method: 'ppo-true', steps: 4096 }, 0, { finalTrueReturn: -36 }, { curve: [[0, -45], [4096, -36]] }),
      pref('heron', -58.3),
      pref('oracle', -58.6),
      pref('regret', -60),
      rec('reacher', { method: 'offline IQL', teacher: 'synthetic-vlm', labels: 40, steps: 0, updates: 100 }, 0, { finalTrueReturn: -191.4 }),
    ];
    const plots = await suitePlots(aggregate(recs));
    const svg = (file: string) => plots.find((p) => p.file === file)!.svg;
    // Sorted names of the plots over labels: PPO true reward, heron, offline IQL, oracle, regret ->
    // #4c78a8, #f58518, #e45756, #72b7b2, #54a24b. The curves (no offline IQL) keep them: oracle is
    // #72b7b2 there too (it was Vega's third colour, #e45756, the return plot's offline IQL).
    const curves = svg('learning_curves.svg');
    for (const c of ['#4c78a8', '#f58518', '#72b7b2', '#54a24b']) expect(curves).toContain(`stroke="${c}"`);
    expect(curves).not.toContain('#e45756');
    // Points of the return plot: [x, config]. Each panel has its own x: the one label count of a
    // panel sits in its middle (180 of 360 px), not at an edge of a shared 40-50 axis.
    const points = [...svg('return_vs_labels.svg').matchAll(/aria-label="labels: (\d+); mean: [^;]*; config: ([^"]*)" role="graphics-symbol" aria-roledescription="point" transform="translate\(([-\d.]+),/g)].map((m) => [Number(m[1]), m[2], Number(m[3])] as const);
    expect(points).toEqual([
      [40, 'offline IQL / synthetic-vlm', 180],
      [50, 'heron', 174],
      [50, 'oracle', 180],
      [50, 'regret', 186],
    ]);
    // All three accuracies are 1 at 50 labels: three points 6 px apart, not one on top of the others.
    const acc = [...svg('accuracy_vs_labels.svg').matchAll(/aria-roledescription="point" transform="translate\(([-\d.]+),([-\d.]+)\)"/g)].map((m) => [Number(m[1]), Number(m[2])]);
    expect(acc.map(([x]) => x)).toEqual([174, 180, 186]);
    expect(new Set(acc.map(([, y]) => y)).size).toBe(1);
  });
});

describe('bench summary.md: columns explained, "-" for a column a row lacks, wall time in seconds', () => {
  it('wallText: seconds under a minute, minutes from one', () => {
    expect(wallText(21.96)).toBe('22 s');
    expect(wallText(0.2)).toBe('0 s');
    expect(wallText(60)).toBe('1.000 min');
    expect(wallText(123.8)).toBe('2.063 min');
  });

  it('columnsText explains only the columns shown, in a fixed order', () => {
    expect(columnsText(new Set(['seeds', 'train acc', 'source', 'P(goal)']))).toBe(
      'Columns: "source": the preference model that generated the labels; "P(goal)": the probability that that policy ends an episode on the goal within 500 steps; "train acc": the learned reward\'s accuracy on its own training preferences.',
    );
    expect(columnsText(new Set(['seeds', 'final true return']))).toBe('');
  });

  it('a dataset row has "-" under updates; the Cells line gives 3 s; the Columns paragraph names the reacher columns and no tabular one', () => {
    const smoke = buildSuite('smoke', { stepsScale: 1 });
    const recs = [
      rec('reacher', { method: 'dataset (random)', steps: 2000 }, 0, { finalTrueReturn: -220.7, datasetMinReturn: -393.2, datasetMaxReturn: -96.96 }, { kind: 'collect', wallSeconds: 1.25 }),
      rec('reacher', { method: 'offline IQL', teacher: 'synthetic-vlm', labels: 40, steps: 0, updates: 100 }, 0, { finalTrueReturn: -191.4, iqlTrueReturn: -190.9, teacherAgreement: 0.7 }, { kind: 'offline', wallSeconds: 1.5 }),
    ];
    const md = summaryMarkdown({ suite: smoke, records: recs, command: 'c', missing: [], plots: [], failed: [] });
    // (Columns in the order the rows' keys come; before, the dataset row's teacher, labels and updates cells were empty.)
    expect(md).toContain('| method | steps | teacher | labels | updates | seeds | final true return | IQL true reward | teacher agreement | dataset min return | dataset max return |');
    expect(md).toContain('| dataset (random) | 2000 | - | - | - | 1 | -220.7 | - | - | -393.2 | -96.96 |');
    expect(md).toContain('| offline IQL | - | synthetic-vlm | 40 | 100 | 1 | -191.4 | -190.9 | 0.700 | - | - |');
    expect(md).toMatch(/^Cells: 2 finished on 2026-01-01 \(UTC\); 3 s of cell wall time in all;/m);
    const columns = md.split('\n').find((l) => l.startsWith('Columns: '));
    expect(columns).toContain('"teacher agreement": the fraction of the teacher\'s strict preferences that agree with the higher true segment return');
    expect(columns).toContain('"updates": IQL (and BC) gradient updates');
    expect(columns).toContain('"steps": the env-step budget of each run (PPO collects whole rollouts, so a run can take up to one rollout more)');
    expect(columns).not.toContain('mean scaled return');
    expect(columns).not.toContain('"EPIC"');
  });
});

describe('bench oracle --dry-run: the cost column says its unit and its sum', () => {
  it('smoke: 2,000 + 200 + 4,096 + 3 x 36,144 + 52 + 11,600 = 126,380 in 8 cells; --envs gridworld: 52 in 1', async () => {
    const out = join(root, 'dry');
    const all = captureCli();
    expect(await main(['bench', 'oracle', '--suite', 'smoke', '--out', out, '--dry-run'], all.ctx)).toBe(0);
    expect(all.out.join('')).toContain('\ncost: estimated work in env-step equivalents (what the progress bar and its ETA count): 126,380 in the 8 cells still to run\n');
    const one = captureCli();
    expect(await main(['bench', 'oracle', '--suite', 'smoke', '--envs', 'gridworld', '--out', out, '--dry-run'], one.ctx)).toBe(0);
    expect(one.out.join('')).toContain(': 52 in the 1 cell still to run\n');
    expect(existsSync(out)).toBe(false);
  });
});

describe('bench oracle bpref: the notes count the runs of this invocation', () => {
  it('36 per env and seed: 324 at the default 3 envs x 3 seeds, 36 under --envs pusher --seeds 1 (it said 324 there too)', () => {
    expect(buildSuite('bpref', { stepsScale: 1 }).notes[1]).toContain('100,000 env steps per run (36 learned-reward runs per env and seed: 324 here, 3 envs x 3 seeds).');
    const small = buildSuite('bpref', { stepsScale: 0.03, seeds: 1, envs: ['pusher'] });
    expect(small.notes[1]).toContain('3,000 env steps per run (36 learned-reward runs per env and seed: 36 here, 1 env x 1 seed).');
    // The same count as the cells it holds (random policy and true-reward PPO aside).
    expect(small.cells.filter((c) => c.kind === 'train' && c.row.method === 'preference')).toHaveLength(36);
  });
});

describe('bench regret: no standard error over one run', () => {
  it('meanSeText', () => {
    expect(meanSeText(0.46283, 0, 1)).toBe('0.463');
    expect(meanSeText(0.5, 0.01234, 3)).toBe('0.500 +- 0.012');
  });

  it('a one-seed run: the delivery group (1 run) shows no "+-", the all group (2 runs) does', async () => {
    const out = join(root, 'regret');
    const c = captureCli();
    expect(await main(['bench', 'regret', '--seeds', '1', '--mdps', '1', '--budgets', '20', '--steps', '20', '--out', out, '--quiet'], c.ctx)).toBe(0);
    const md = readFileSync(join(out, 'summary.md'), 'utf8');
    const section = (name: string) => md.slice(md.indexOf(`## ${name}`), md.indexOf('Claims', md.indexOf(`## ${name}`)));
    expect(section('delivery (1 run per cell)')).not.toContain('+-');
    expect(section('delivery (1 run per cell)')).toMatch(/regret {12}regret {10}\d\.\d{3} \(\d+%\)/);
    expect(section('all (2 runs per cell)')).toMatch(/\d\.\d{3} \+- \d\.\d{3} \(\d+%\)/);
    expect(md).toContain('(no standard error where a cell has one run)');
  });
});

describe('prefrl plot: a folder that is not a run folder', () => {
  it('names the run folders a folder holds, or the pattern that leaves out a folder beside them (bench oracle\'s heron/)', async () => {
    const suite = join(root, 'bench-runs', 'smoke');
    for (const name of ['20261207-192924-toy-reach_ppo-true_st4096_s0', '20261207-192928-toy-reach_oracle_s0']) {
      mkdirSync(join(suite, name), { recursive: true });
      writeFileSync(join(suite, name, 'metrics.jsonl'), '{"step":0,"eval/true_return":1}\n');
    }
    mkdirSync(join(suite, 'heron'));
    writeFileSync(join(suite, 'heron', 'toy-reach-0e75.json'), '{}');
    expect(notRunFolderHint(suite)).toBe(`; it holds 2 run folders: name them (prefrl plot ${suite}/2*)`);
    expect(notRunFolderHint(join(suite, 'heron'))).toBe(`; it sits beside 2 run folders in ${suite}: leave it out (prefrl plot ${suite}/2*)`);
    // A folder with no run folders in or beside it: nothing to add.
    const lone = mkdtempSync(join(tmpdir(), 'prefrl-bench2-lone-'));
    mkdirSync(join(lone, 'sub'));
    expect(notRunFolderHint(join(lone, 'sub'))).toBe('');
    rmSync(lone, { recursive: true, force: true });
    const c = captureCli();
    expect(await main(['plot', join(suite, '20261207-192924-toy-reach_ppo-true_st4096_s0'), join(suite, 'heron'), '--out', join(root, 'p.svg')], c.ctx)).toBe(2);
    expect(c.err.join('')).toBe(`prefrl plot: ${join(suite, 'heron')}: not a run folder (no metrics.jsonl); it sits beside 2 run folders in ${suite}: leave it out (prefrl plot ${suite}/2*)\n`);
    expect(existsSync(join(root, 'p.svg'))).toBe(false);
  });
});
