/**
 * `prefrl runs` for comparing runs: teacher and seed columns, the headline's numbers in --json
 * (checked against the summaries written here), an offline run's normalised score said to be not
 * meaningful where the offline report says so, and a run folder given as --runs-dir.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeFolder } from '../core/paths.js';
import { main } from '../scripts/cli.js';
import { headline, headlineNumbers, lastLoggedStep, listRuns, normalizedMeaningful, type RunEntry } from '../scripts/commands/runs.js';
import { captureCli, lastJson } from './helpers/cli.js';

function run(root: string, name: string, config: unknown, summary?: unknown): string {
  const dir = join(root, name);
  makeFolder(dir);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  if (summary !== undefined) writeFileSync(join(dir, 'summary.json'), JSON.stringify(summary));
  return dir;
}

/** An offline summary's returns (mean, std) for IQL learned, IQL true, BC and random. */
function returns(learned: [number, number], trueR: [number, number], bc: [number, number], random: [number, number]) {
  const r = ([meanReturn, stdReturn]: [number, number]) => ({ meanReturn, stdReturn, returns: [], meanSuccess: 0 });
  return { iqlLearned: r(learned), iqlTrue: r(trueR), bc: r(bc), random: r(random) };
}

// The numbers of the offline run made while checking this command (2 eval episodes each).
const NOISY = { normalizedRatio: -0.9340507149400178, ratio: 1.086438502772928, labels: 30, returns: returns([-203.455, 122.162], [-187.268, 130.553], [-23.943, 194.113], [-195.637, 46.616]) };

describe('prefrl runs for comparisons', () => {
  it('an offline normalised score is flagged where IQL-true does not beat random by more than the larger std', () => {
    // gap -187.268 - (-195.637) = 8.369 < max(130.553, 46.616): the offline report's "not meaningful here".
    expect(normalizedMeaningful(NOISY)).toBe(false);
    expect(headline('offline', NOISY)).toBe('learned/true -0.934 (normalised; not meaningful: IQL-true does not beat random by more than the spread of their returns), 30 labels');
    // gap -40 - (-200) = 160 > max(30, 50): meaningful, the plain headline.
    const clear = { normalizedRatio: 0.75, labels: 100, returns: returns([-80, 20], [-40, 30], [-60, 10], [-200, 50]) };
    expect(normalizedMeaningful(clear)).toBe(true);
    expect(headline('offline', clear)).toBe('learned/true 0.750 (normalised), 100 labels');
    // A gap equal to the spread is not more than it.
    expect(normalizedMeaningful({ returns: returns([0, 0], [-150, 50], [0, 0], [-200, 10]) })).toBe(false);
    // A summary without returns keeps the plain headline.
    expect(headline('offline', { normalizedRatio: 0.8123, labels: 2000 })).toBe('learned/true 0.812 (normalised), 2000 labels');
  });

  it('headlineNumbers picks the headline keys by command, dotted paths into nested objects, finite numbers only', () => {
    expect(headlineNumbers('train', { finalTrueReturn: -201.5, finalSuccess: 0, labelsUsed: 40, envSteps: 4096, wallSeconds: 3.9, epic: 0.14 })).toEqual({ finalTrueReturn: -201.5, finalSuccess: 0, labelsUsed: 40, envSteps: 4096 });
    expect(headlineNumbers('offline', NOISY)).toEqual({
      normalizedRatio: -0.9340507149400178,
      ratio: 1.086438502772928,
      labels: 30,
      'returns.iqlLearned.meanReturn': -203.455,
      'returns.iqlTrue.meanReturn': -187.268,
      'returns.bc.meanReturn': -23.943,
      'returns.random.meanReturn': -195.637,
    });
    expect(headlineNumbers('rollout', { meanReturn: -116.06, returnStd: 105.55, meanSuccess: 0.605, episodes: 3, policy: 'ppo' })).toEqual({ meanReturn: -116.06, returnStd: 105.55, meanSuccess: 0.605, episodes: 3 });
    expect(headlineNumbers('train', { finalTrueReturn: null, labelsUsed: 0 })).toEqual({ labelsUsed: 0 });
    // tour: one row per env; 2 + 3 episodes, 400 + 1000 steps.
    expect(headlineNumbers('tour', [{ episodes: 2, steps: 400 }, { episodes: 3, steps: 1000 }])).toEqual({ envs: 2, episodes: 5, steps: 1400 });
  });

  it('lists teacher and seed for each run, and --json gives them with the headline numbers', async () => {
    const root = mkdtempSync(join(tmpdir(), 'after-runs-'));
    run(root, '20261207-103552-train-reacher-oracle-s0', { command: 'train', reward: 'learned', teacher: 'oracle', seed: 0, envConfig: { id: 'reacher' } }, { finalTrueReturn: -201.536, labelsUsed: 40, envSteps: 4096, finalSuccess: 0 });
    run(root, '20261207-103600-train-reacher-true-s0', { command: 'train', reward: 'true', teacher: 'oracle', seed: 3, envConfig: { id: 'reacher' } }, { finalTrueReturn: -105.84, labelsUsed: 0, envSteps: 4096, finalSuccess: 0 });
    run(root, '20261207-103610-killed', { command: 'train', reward: 'learned', teacher: 'heron:/tmp/bench/heron/toy-reach-0e75.json', seed: 7, envConfig: { id: 'toy-reach' } });
    run(root, '20261207-103621-offline-reacher-oracle-s0', { command: 'offline', config: { teacher: 'synthetic-vlm', seed: 2 }, envConfig: { id: 'reacher' } }, NOISY);
    run(root, '20261207-103642-tour', { command: 'tour', seed: 0, episodes: 1 }, [{ episodes: 1, steps: 200 }]);
    run(root, '20261207-103650-reward-reacher', { command: 'reward', teacher: 'human', seed: 1, envConfig: { id: 'reacher' } }, { preferences: 144, valAccuracy: 0.9333, returnCorrelation: 0.905 });
    run(root, '20261207-103651-reward-reacher', { command: 'reward', seed: 0, envConfig: { id: 'reacher' } });
    const a = captureCli();
    expect(await main(['runs', '--runs-dir', root], a.ctx)).toBe(0);
    const lines = a.out.join('').split('\n');
    expect(lines[0]).toMatch(/^run +command +env +teacher +seed +state +result \(or how to resume\)$/);
    const row = (name: string) => (lines.find((l) => l.startsWith(name)) ?? '').split(/ {2,}/);
    expect(row('20261207-103552')).toEqual(['20261207-103552-train-reacher-oracle-s0', 'train', 'reacher', 'oracle', '0', 'finished', 'return -201.5, 40 labels']);
    expect(row('20261207-103600')).toEqual(['20261207-103600-train-reacher-true-s0', 'train', 'reacher', 'true reward', '3', 'finished', 'return -105.8']);
    expect(row('20261207-103610')).toEqual(['20261207-103610-killed', 'train', 'toy-reach', 'heron:toy-reach-0e75.json', '7', 'unfinished', `prefrl train --resume ${join(root, '20261207-103610-killed')}`]);
    expect(row('20261207-103642')).toEqual(['20261207-103642-tour', 'tour', '-', '-', '0', 'finished', '1 env, 1 episode, 200 steps']); // before: "1 episodes"
    const b = captureCli();
    expect(await main(['runs', '--runs-dir', root, '--json'], b.ctx)).toBe(0);
    const j = lastJson<{ runs: RunEntry[] }>(b.out);
    const pick = (r: RunEntry) => ({ teacher: r.teacher, seed: r.seed, numbers: r.numbers });
    expect(j.runs.map(pick)).toEqual([
      { teacher: 'oracle', seed: 0, numbers: { finalTrueReturn: -201.536, finalSuccess: 0, labelsUsed: 40, envSteps: 4096 } },
      { teacher: 'true reward', seed: 3, numbers: { finalTrueReturn: -105.84, finalSuccess: 0, labelsUsed: 0, envSteps: 4096 } },
      { teacher: 'heron:toy-reach-0e75.json', seed: 7, numbers: {} },
      { teacher: 'synthetic-vlm', seed: 2, numbers: headlineNumbers('offline', NOISY) },
      { teacher: null, seed: 0, numbers: { envs: 1, episodes: 1, steps: 200 } },
      { teacher: 'human*', seed: 1, numbers: { preferences: 144, valAccuracy: 0.9333, returnCorrelation: 0.905 } },
      { teacher: 'every teacher', seed: 0, numbers: {} },
    ]);
    rmSync(root, { recursive: true, force: true });
  });

  it('an unfinished train run says how far it got: the step of the last whole line of metrics.jsonl, of its --steps', async () => {
    const root = mkdtempSync(join(tmpdir(), 'after-runs-'));
    const dir = run(root, '20261207-103646-killed', { command: 'train', steps: 200000, seed: 7, teacher: 'oracle', envConfig: { id: 'reacher' } });
    // The last line cut off by kill -9, as seen in a run killed while checking this command.
    const lines = [{ step: 1024, 'eval/true_return': -230.7 }, { step: 12288, 'losses/value_loss': 0.016 }, { step: 13312, 'eval/true_return': -232.5 }];
    writeFileSync(join(dir, 'metrics.jsonl'), `${lines.map((l) => JSON.stringify(l)).join('\n')}\n{"step":14336,"eval/true_re`);
    expect(lastLoggedStep(join(dir, 'metrics.jsonl'))).toBe(13312);
    expect(lastLoggedStep(join(dir, 'none.jsonl'))).toBeNull();
    const k = captureCli();
    expect(await main(['runs', '--runs-dir', root, '--json'], k.ctx)).toBe(0);
    const [e] = lastJson<{ runs: RunEntry[] }>(k.out).runs;
    // Before: only "prefrl train --resume <dir>", with nothing to say how far the run got.
    expect(e).toMatchObject({ state: 'unfinished', progress: { step: 13312, of: 200000 }, resume: `at step 13312 of 200000: prefrl train --resume ${dir}` });
    // Held by a live process (this one): running, with the same progress.
    writeFileSync(join(dir, 'train.lock'), JSON.stringify({ host: hostname(), pid: process.pid, since: '2026-12-07T10:36:46.000Z' }));
    expect(listRuns(root)[0]).toMatchObject({ state: 'running', resume: `running now (at step 13312 of 200000; pid ${process.pid} on ${hostname()}, since 2026-12-07T10:36:46.000Z)` });
    rmSync(root, { recursive: true, force: true });
  });

  it('a run folder given as --runs-dir is refused, naming the folder to list instead', async () => {
    const root = mkdtempSync(join(tmpdir(), 'after-runs-'));
    const dir = run(root, '20261207-103552-train-reacher-oracle-s0', { command: 'train', envConfig: { id: 'reacher' } }, { finalTrueReturn: -1 });
    const k = captureCli();
    // Before: "no run folders in <run>" and exit 0.
    expect(await main(['runs', '--runs-dir', dir], k.ctx)).toBe(2);
    expect(k.err.join('')).toBe(`prefrl runs: --runs-dir: ${dir} is a run folder (it holds config.json), not a folder of runs; list the runs beside it: prefrl runs --runs-dir ${root}\n`);
    expect(k.out.join('')).toBe('');
    rmSync(root, { recursive: true, force: true });
  });
});
