/**
 * benchmarks/offline_summary.ts and the stages' timing: a run whose stage times undercount (a
 * stage that went on from work saved before, or one whose time was lost) has a wall time that is
 * a lower bound, marked in the table and left out of its configuration's mean.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runWallSeconds, wallCell, wallNote } from '../benchmarks/offline_summary.js';

const REPO = resolve(__dirname, '..');

describe('offline_summary: wall time and stageTiming', () => {
  it('runWallSeconds sums the stages and is complete only when every stage is whole', () => {
    const whole = runWallSeconds({ stageSeconds: { pairs: 1.5, label: 10, eval: 3.25 }, stageTiming: { pairs: 'whole', label: 'whole', eval: 'whole' } });
    expect(whole).toEqual({ seconds: 14.75, complete: true, partial: {} });
    const cont = runWallSeconds({ stageSeconds: { pairs: 1.5, label: 2, eval: 3 }, stageTiming: { pairs: 'whole', label: 'last-attempt', reward: 'not-recorded', eval: 'whole' } });
    expect(cont).toEqual({ seconds: 6.5, complete: false, partial: { label: 'last-attempt', reward: 'not-recorded' } });
    // A summary written before stageTiming was recorded: taken as whole.
    expect(runWallSeconds({ stageSeconds: { pairs: 2, label: 3 } })).toEqual({ seconds: 5, complete: true, partial: {} });
  });

  it('wallCell marks a lower bound with ">="; wallNote names each such run and its stages', () => {
    expect(wallCell({ seconds: 14.75, complete: true, partial: {} })).toBe('15');
    expect(wallCell({ seconds: 6.5, complete: false, partial: { label: 'last-attempt' } })).toBe('>= 7');
    expect(wallNote([{ group: 'offline-reacher', seed: 0, wallSecondsComplete: true, wallPartialStages: {} }])).toBe('');
    expect(wallNote([{ group: 'offline-reacher', seed: 2, wallSecondsComplete: false, wallPartialStages: { label: 'last-attempt', reward: 'not-recorded' } }])).toBe(
      'wall (s) ">=": a lower bound, left out of the configuration\'s mean wall time: offline-reacher seed 2 (label last attempt only, reward not recorded)',
    );
  });

  const root = mkdtempSync(join(tmpdir(), 'small-offline-summary-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('the script leaves a continued run out of the configuration mean and marks it in the table', () => {
    const ev = (r: number) => ({ meanReturn: r, stdReturn: 0, meanSuccess: 0 });
    const summary = (seed: number, stageSeconds: Record<string, number>, stageTiming: Record<string, string>) => ({
      env: 'reacher',
      seed,
      teacherId: 'oracle',
      labels: 10,
      preferences: 8,
      ties: 0,
      skips: 2,
      teacherAgreement: 1,
      rewardValAccuracy: 0.9,
      rewardTransitionCorrelation: 0.5,
      rewardReturnCorrelation: 0.6,
      updates: 100,
      evalEpisodes: 2,
      returns: { iqlLearned: ev(10), iqlTrue: ev(20), bc: ev(5), random: ev(0) },
      ratio: 0.5,
      normalizedRatio: 0.5,
      stageSeconds,
      stageTiming,
      runDir: `runs/x-s${seed}`,
    });
    const all = { pairs: 'whole', label: 'whole', reward: 'whole', relabel: 'whole', iql: 'whole', eval: 'whole' };
    const runs = [
      summary(0, { pairs: 10, label: 20 }, all),
      summary(1, { pairs: 20, label: 30 }, all),
      // Its label stage went on from labels a killed attempt stored: 5 s is this attempt's only.
      summary(2, { pairs: 1, label: 4 }, { ...all, label: 'last-attempt' }),
    ];
    runs.forEach((s, i) => {
      const dir = join(root, `20261201-00000${i}-offline-reacher-s${i}`);
      mkdirSync(dir);
      writeFileSync(join(dir, 'summary.json'), JSON.stringify(s));
    });
    const out = join(root, 'results.json');
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'benchmarks', 'offline_summary.ts'), root, out], { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const res = JSON.parse(readFileSync(out, 'utf8')) as {
      byGroup: Record<string, { wallSeconds: { mean: number; std: number; n: number } }>;
      runs: { seed: number; wallSeconds: number; wallSecondsComplete: boolean; wallPartialStages: Record<string, string> }[];
    };
    // Seeds 0 and 1 only: (30 + 50) / 2 = 40, population std 10.
    expect(res.byGroup['offline-reacher'].wallSeconds).toEqual({ mean: 40, std: 10, n: 2 });
    expect(res.runs.map((x) => [x.seed, x.wallSeconds, x.wallSecondsComplete])).toEqual([
      [0, 30, true],
      [1, 50, true],
      [2, 5, false],
    ]);
    expect(res.runs[2].wallPartialStages).toEqual({ label: 'last-attempt' });
    expect(r.stdout).toMatch(/\| offline-reacher \| 0 \| .* \| 30 \|\n/);
    expect(r.stdout).toMatch(/\| offline-reacher \| 2 \| .* \| >= 5 \|\n/);
    expect(r.stdout).toContain('offline-reacher seed 2 (label last attempt only)');
  });

  it('the script without its arguments prints its usage and exits 2', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'benchmarks', 'offline_summary.ts')], { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('usage: npx tsx benchmarks/offline_summary.ts <runs root> <results.json> [command]\n');
  });
});
