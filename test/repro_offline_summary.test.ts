// benchmarks/offline_summary.ts, which benchmarks/offline.sh and iql_cheetah.sh end with: what a
// researcher rerunning them at a small budget gets (the command and budget recorded, ratios that
// mean what they say) and its refusals of a bad runs root.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = join(import.meta.dirname, '..');
const SCRIPT = join(REPO, 'benchmarks', 'offline_summary.ts');
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'prefrl-offline-summary-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function summarise(args: readonly string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', SCRIPT, ...args], { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A finished offline run folder with the summary fields the script reads. */
function run(root: string, name: string, seed: number, r: { learned: number; iqlTrue: number; bc: number; random: number }): void {
  const d = join(root, `20261207-0000${seed}0-${name}-s${seed}`);
  mkdirSync(d, { recursive: true });
  const ret = (x: number) => ({ meanReturn: x, stdReturn: 0, returns: [x], meanSuccess: 0 });
  const summary = {
    env: 'pusher',
    teacherId: 'oracle',
    seed,
    labels: 40,
    preferences: 38,
    ties: 1,
    skips: 1,
    teacherAgreement: 1,
    rewardValAccuracy: 0.9,
    rewardTransitionCorrelation: 0.5,
    rewardReturnCorrelation: 0.9,
    updates: 100,
    datasetTransitions: 4000,
    evalEpisodes: 2,
    returns: { iqlLearned: ret(r.learned), iqlTrue: ret(r.iqlTrue), bc: ret(r.bc), random: ret(r.random) },
    ratio: r.learned / r.iqlTrue,
    normalizedRatio: (r.learned - r.random) / (r.iqlTrue - r.random),
    stageSeconds: { pairs: 1, iql: 2 },
    runDir: d,
  };
  writeFileSync(join(d, 'summary.json'), JSON.stringify(summary));
}

describe('benchmarks/offline_summary.ts', () => {
  it('records the command it is given and each run\'s updates and dataset size; the per-configuration means are hand-checked', () => {
    const root = join(dir, 'runs');
    // Negative returns, as on pusher: learned -150 and -130 vs true -100 and -120, random -200.
    run(root, 'offline-pusher', 0, { learned: -150, iqlTrue: -100, bc: -160, random: -200 });
    run(root, 'offline-pusher', 1, { learned: -130, iqlTrue: -120, bc: -170, random: -200 });
    const out = join(dir, 'results.json');
    const r = summarise([root, out, 'UPDATES=100 SEEDS="0 1" bash benchmarks/offline.sh']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const res = JSON.parse(readFileSync(out, 'utf8')) as {
      command: string;
      byGroup: Record<string, { seeds: number[]; normalizedRatioOfMeans: number; ratioOfMeans: number; normalizedRatio: { mean: number } }>;
      runs: { updates: number; datasetTransitions: number }[];
    };
    expect(res.command).toBe('UPDATES=100 SEEDS="0 1" bash benchmarks/offline.sh');
    expect(res.runs.map((x) => [x.updates, x.datasetTransitions])).toEqual([[100, 4000], [100, 4000]]);
    const g = res.byGroup['offline-pusher']!;
    expect(g.seeds).toEqual([0, 1]);
    // Means: learned -140, true -110, random -200: (-140 + 200) / (-110 + 200) = 60 / 90.
    expect(g.normalizedRatioOfMeans).toBeCloseTo(60 / 90, 12);
    // Per seed: 50 / 100 and 70 / 80, mean 0.6875.
    expect(g.normalizedRatio.mean).toBeCloseTo(0.6875, 12);
    expect(g.ratioOfMeans).toBeCloseTo(140 / 110, 12);
    // The printed tables start with the command; the plain ratio (above 1 for a worse agent when
    // returns are negative) is n/a, the normalised one is shown.
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('Command: UPDATES=100 SEEDS="0 1" bash benchmarks/offline.sh');
    expect(lines).toContain('| offline-pusher | 0 | 100 | -150.0 | -100.0 | -160.0 | -200.0 | n/a | 0.500 | 38 / 1 / 1 | 1.000 | 0.500 / 0.900 | 3 |');
    expect(lines).toContain('| offline-pusher | 0, 1 | -140.0 +- 10.0 | -110.0 +- 10.0 | -165.0 +- 5.0 | -200.0 +- 0.0 | 0.688 +- 0.188 | 0.667 | n/a |');
  });

  it('shows the plain ratio where IQL-true\'s return is positive and the normalised one where it beats the random policy; without a command, records its own command line', () => {
    const root = join(dir, 'runs-positive');
    run(root, 'offline-cheetah-run-oracle500', 0, { learned: 600, iqlTrue: 800, bc: 400, random: -200 });
    // A trial too small for IQL to beat the random policy: (learned - random) / (true - random) =
    // 2.6 / -9.7 would read -0.27, and a worse agent would read higher; shown as n/a.
    run(root, 'offline-reacher', 0, { learned: -204.2, iqlTrue: -216.5, bc: -214.8, random: -206.8 });
    const out = join(dir, 'results-positive.json');
    const r = summarise([root, out]);
    expect(r.status).toBe(0);
    expect(JSON.parse(readFileSync(out, 'utf8')).command).toBe(`npx tsx benchmarks/offline_summary.ts ${root} ${out}`);
    // 600 / 800 = 0.75; (600 + 200) / (800 + 200) = 0.8.
    expect(r.stdout).toContain('| offline-cheetah-run-oracle500 | 0 | 100 | 600.0 | 800.0 | 400.0 | -200.0 | 0.750 | 0.800 |');
    expect(r.stdout).toContain('| offline-reacher | 0 | 100 | -204.2 | -216.5 | -214.8 | -206.8 | n/a | n/a |');
    expect(r.stdout).toContain('| offline-reacher | 0 | -204.2 +- 0.0 | -216.5 +- 0.0 | -214.8 +- 0.0 | -206.8 +- 0.0 | n/a | n/a | n/a |');
  });

  it('a runs root that is missing, a file, or holds no finished run: one line naming it, and no results file written', () => {
    const out = join(dir, 'never.json');
    const missing = summarise([join(dir, 'no-such-root'), out]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toBe(`offline_summary.ts: <runs root> ${join(dir, 'no-such-root')}: no such folder\n`);
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    expect(summarise([file, out]).stderr).toBe(`offline_summary.ts: <runs root> ${file}: is not a folder\n`);
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    const none = summarise([empty, out]);
    expect(none.status).toBe(1);
    expect(none.stderr).toBe(`offline_summary.ts: no finished offline run (a <stamp>-offline-... folder with summary.json) in ${empty}; ${out} not written\n`);
    expect(existsSync(out)).toBe(false);
    // A damaged summary.json: one line naming it (script_errors.ts), nothing written.
    const damaged = join(dir, 'damaged', '20260101-000000-offline-pusher-s0');
    mkdirSync(damaged, { recursive: true });
    writeFileSync(join(damaged, 'summary.json'), '{broken');
    const bad = summarise([join(dir, 'damaged'), out]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(new RegExp(`^offline_summary\\.ts: ${join(damaged, 'summary.json').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not a run summary \\(.*JSON.*\\)\n$`));
    expect(existsSync(out)).toBe(false);
    const usage = summarise([]);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/^usage: npx tsx benchmarks\/offline_summary\.ts <runs root> <results\.json> \[command\]\n$/);
  });
});

describe('benchmarks/offline_success_summary.ts (end of offline_success.sh)', () => {
  it('records the command it is given; normalises against the base run of the same seed (hand-checked), n/a where IQL-true does not beat random', () => {
    const root = join(dir, 'success-root');
    mkdirSync(root);
    const base = (iqlTrue: number) => JSON.stringify({ returns: { iqlLearned: { meanReturn: -150 }, iqlTrue: { meanReturn: iqlTrue }, random: { meanReturn: -200 } }, updates: 200 });
    const iql = (ret: number) => JSON.stringify({ finalTrueReturn: ret, finalSuccess: 0.5, rewardTransitionCorrelation: 0.7, rewardReturnCorrelation: 0.8, updates: 200, runDir: 'r' });
    // Seed 0: IQL true -100 above random -200: success (-120 + 200) / 100 = 0.80, learned 0.50.
    writeFileSync(join(root, 'offline-reacher-s0.json'), `log line\n${base(-100)}\n`);
    writeFileSync(join(root, 'iql-success-reacher-s0.json'), `${iql(-120)}\n`);
    // Seed 1: IQL true -216.5 below random -200: the ratios turn over, so n/a.
    writeFileSync(join(root, 'offline-reacher-s1.json'), `${base(-216.5)}\n`);
    writeFileSync(join(root, 'iql-success-reacher-s1.json'), `${iql(-197.3)}\n`);
    const out = join(dir, 'success.json');
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'benchmarks', 'offline_success_summary.ts'), root, out, 'UPDATES=200 bash benchmarks/offline_success.sh'], { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const res = JSON.parse(readFileSync(out, 'utf8')) as { command: string; runs: { seed: number; normalizedSuccess: number }[] };
    expect(res.command).toBe('UPDATES=200 bash benchmarks/offline_success.sh');
    expect(res.runs[0]!.normalizedSuccess).toBeCloseTo(0.8, 12);
    expect(r.stdout).toContain('| reacher | 0 | -120.0 | -100.0 | -150.0 | -200.0 | 0.80 | 0.50 | 0.70 / 0.80 |');
    expect(r.stdout).toContain('| reacher | 1 | -197.3 | -216.5 | -150.0 | -200.0 | n/a | n/a | 0.70 / 0.80 |');
  });
});
