/**
 * `prefrl runs`: run folders found up to three levels down, oldest first, with their command,
 * env, state, headline (checked against the summaries written here) and the resume command of
 * an unfinished train or offline run; unreadable configs listed, files ignored.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../scripts/cli.js';
import { headline, listRuns, type RunEntry } from '../scripts/commands/runs.js';
import { captureCli, lastJson } from './helpers/cli.js';

function run(root: string, name: string, config: unknown, summary?: unknown): void {
  mkdirSync(join(root, name), { recursive: true });
  writeFileSync(join(root, name, 'config.json'), typeof config === 'string' ? config : JSON.stringify(config));
  if (summary !== undefined) writeFileSync(join(root, name, 'summary.json'), JSON.stringify(summary));
}

function fixture(): string {
  const root = mkdtempSync(join(tmpdir(), 'runs-list-'));
  run(root, '20261201-100000-train-reacher-oracle-s0', { command: 'train', env: 'reacher', envConfig: { id: 'reacher' } }, { finalTrueReturn: -31.25, labelsUsed: 500 });
  run(root, '20261201-090000-offline-pusher-human-s0', { command: 'offline', envConfig: { id: 'pusher' } });
  run(root, '20261201-110000-broken', '{"command": ');
  run(root, join('bench', '20261201-080000-rollout-custom'), { command: 'rollout', envConfig: { id: 'custom', model: '/robots/arm.xml' } }, { meanReturn: 12.345, returnStd: 1.5, policy: 'ppo' });
  run(root, join('bench-oracle', 'smoke', '20261201-070000-ppo-true-s0'), { command: 'train', envConfig: { id: 'toy-reach' } }, { finalTrueReturn: 3, labelsUsed: 0 });
  // an unfinished cell run of a benchmark: it goes on by running the benchmark again
  run(root, join('bench-oracle', 'smoke', '20261201-065000-oracle-s0'), { command: 'train', envConfig: { id: 'toy-reach' }, partOf: 'prefrl bench oracle --suite smoke' });
  // a run folder's insides are not searched; four levels down is too deep
  run(root, join('20261201-100000-train-reacher-oracle-s0', 'artifacts', 'x'), { command: 'train' });
  run(root, join('a', 'b', 'c', '20261201-060000-too-deep'), { command: 'train' });
  writeFileSync(join(root, 'notes.txt'), 'not a run');
  return root;
}

describe('prefrl runs', () => {
  it('lists runs oldest first, up to three levels deep (not inside run folders), with state, headline and the resume command', () => {
    const root = fixture();
    const runs = listRuns(root);
    expect(runs.map((r) => r.run)).toEqual([
      join('bench-oracle', 'smoke', '20261201-065000-oracle-s0'),
      join('bench-oracle', 'smoke', '20261201-070000-ppo-true-s0'),
      join('bench', '20261201-080000-rollout-custom'),
      '20261201-090000-offline-pusher-human-s0',
      '20261201-100000-train-reacher-oracle-s0',
      '20261201-110000-broken',
    ]);
    const [cell, , rollout, offline, train, broken] = runs;
    expect(cell).toMatchObject({ command: 'train', state: 'unfinished', resume: 'part of a benchmark; run it again: prefrl bench oracle --suite smoke' });
    expect(rollout).toMatchObject({ command: 'rollout', env: 'arm.xml', state: 'finished', result: 'return 12.3 +- 1.5, policy ppo', resume: null });
    expect(offline).toMatchObject({ command: 'offline', env: 'pusher', state: 'unfinished', result: null, resume: `prefrl offline --resume ${join(root, '20261201-090000-offline-pusher-human-s0')}` });
    expect(train).toMatchObject({ command: 'train', env: 'reacher', state: 'finished', result: 'return -31.3, 500 labels' });
    expect(broken).toMatchObject({ command: null, state: 'unreadable' });
  });

  it('an unfinished benchmark cell run whose cell a later run in its folder finished names that run, not the stale advice to run the benchmark again', () => {
    const root = mkdtempSync(join(tmpdir(), 'runs-list-'));
    const bench = 'prefrl bench oracle --suite smoke';
    const cell = (name: string, finished: boolean) =>
      run(root, join('smoke', name), { command: 'train', envConfig: { id: 'toy-reach' }, partOf: bench }, finished ? { finalTrueReturn: 3, labelsUsed: 0 } : undefined);
    cell('20261201-100000-toy-reach_ppo-true_st4096_s0', false); // stopped by Ctrl-C
    cell('20261201-100500-toy-reach_ppo-true_st4096_s0', true); // the bench run again: the cell done
    cell('20261201-100000-toy-reach_ppo-true_st4096_s1', false); // another cell, not done yet
    cell('20261201-110000-toy-reach_ppo-true_st4096_s1-2', false); // a later try of it, stopped too
    // A train run outside any benchmark keeps its resume command, whatever came later.
    run(root, '20261201-090000-train-reacher-oracle-s0', { command: 'train', envConfig: { id: 'reacher' } });
    run(root, '20261201-120000-train-reacher-oracle-s0', { command: 'train', envConfig: { id: 'reacher' } }, { finalTrueReturn: 1, labelsUsed: 10 });
    const by = new Map(listRuns(root).map((e) => [e.run, e.resume]));
    expect(by.get(join('smoke', '20261201-100000-toy-reach_ppo-true_st4096_s0'))).toBe(
      'part of a benchmark; its cell was run again and finished in 20261201-100500-toy-reach_ppo-true_st4096_s0: nothing to resume',
    );
    expect(by.get(join('smoke', '20261201-100500-toy-reach_ppo-true_st4096_s0'))).toBeNull();
    expect(by.get(join('smoke', '20261201-100000-toy-reach_ppo-true_st4096_s1'))).toBe(`part of a benchmark; run it again: ${bench}`);
    expect(by.get(join('smoke', '20261201-110000-toy-reach_ppo-true_st4096_s1-2'))).toBe(`part of a benchmark; run it again: ${bench}`);
    expect(by.get('20261201-090000-train-reacher-oracle-s0')).toBe(`prefrl train --resume ${join(root, '20261201-090000-train-reacher-oracle-s0')}`);
  });

  /** Two unfinished runs of `command`, with the lock files `locks` gives ([file, pid] per run), listed. */
  function lockedRuns(command: string, locks: [string, number][]): { root: string; runs: RunEntry[] } {
    const root = mkdtempSync(join(tmpdir(), 'runs-list-'));
    locks.forEach(([file, pid], i) => {
      const name = `20261201-1${i}0000-${command}-${'ab'[i]}`;
      run(root, name, { command, envConfig: { id: 'reacher' } });
      writeFileSync(join(root, name, file), JSON.stringify({ host: hostname(), pid, since: SINCE }));
    });
    return { root, runs: listRuns(root) };
  }
  const SINCE = '2026-12-01T10:00:00.000Z';

  it('a train run whose train.lock a live process holds is running (no resume command); a lock left by a process that is gone is not', () => {
    const gone = spawnSync(process.execPath, ['-e', '']).pid as number;
    const { root, runs: [a, b] } = lockedRuns('train', [['train.lock', process.pid], ['train.lock', gone]]);
    expect(a).toMatchObject({ state: 'running', result: null, resume: `running now (pid ${process.pid} on ${hostname()}, since ${SINCE})` });
    expect(b).toMatchObject({ state: 'unfinished', resume: `prefrl train --resume ${join(root, '20261201-110000-train-b')}` });
  });

  it('an offline run whose offline.lock a live process holds is running too; its train.lock would not count', () => {
    const { root, runs: [a, b] } = lockedRuns('offline', [['offline.lock', process.pid], ['train.lock', process.pid]]);
    expect(a).toMatchObject({ state: 'running', resume: `running now (pid ${process.pid} on ${hostname()}, since ${SINCE})` });
    expect(b).toMatchObject({ state: 'unfinished', resume: `prefrl offline --resume ${join(root, '20261201-110000-offline-b')}` });
  });

  it('quotes a resume command whose run folder path needs it (a space in the runs folder)', () => {
    const root = join(mkdtempSync(join(tmpdir(), 'runs-list-')), 'my runs');
    run(root, '20261201-100000-train-reacher-oracle-s0', { command: 'train', envConfig: { id: 'reacher' } });
    expect(listRuns(root)[0].resume).toBe(`prefrl train --resume '${join(root, '20261201-100000-train-reacher-oracle-s0')}'`);
  });

  it("an unfinished train run taught by people resumes with its saved --human-* settings (away from their defaults) and asks for the same token, never saved", () => {
    const root = mkdtempSync(join(tmpdir(), 'runs-human-'));
    const base = { command: 'train', envConfig: { id: 'reacher' }, teacher: 'human', reward: 'learned', humanPort: 8080, humanTimeout: 900, humanOnTimeout: 'skip', humanOverlap: 1 };
    run(root, '20261207-100000-train-reacher-human-s0', { ...base, humanHost: '0.0.0.0', humanPeople: 'Ada,Alan Turing', humanOverlap: 2 });
    run(root, '20261207-110000-train-reacher-human-s0', { ...base, humanHost: '127.0.0.1', humanPort: 9000 });
    run(root, '20261207-120000-train-reacher-oracle-s0', { ...base, teacher: 'oracle', humanHost: '0.0.0.0' });
    const [study, local, oracle] = listRuns(root);
    expect(study.resume).toBe(`prefrl train --resume ${join(root, study.run)} --human-host 0.0.0.0 --human-token <the same token> --human-overlap 2 --human-people 'Ada,Alan Turing'`);
    // On loopback with no people no token was needed: none is asked for.
    expect(local.resume).toBe(`prefrl train --resume ${join(root, local.run)} --human-port 9000`);
    // Another teacher's run reads no viewer settings.
    expect(oracle.resume).toBe(`prefrl train --resume ${join(root, oracle.run)}`);
  });

  it('headlines by command, from the summary fields each command writes', () => {
    expect(headline('offline', { normalizedRatio: 0.8123, labels: 2000 })).toBe('learned/true 0.812 (normalised), 2000 labels');
    expect(headline('iql', { finalTrueReturn: 5 })).toBe('return 5.0');
    expect(headline('collect', { transitions: 100000, meanReturn: -108.29 })).toBe('100000 transitions, mean return -108.3');
    expect(headline('train', { finalTrueReturn: Number.NaN, labelsUsed: 0 })).toBeNull();
    expect(headline('reward', { preferences: 144, valAccuracy: 0.9333, returnCorrelation: 0.90479 })).toBe('144 preferences, held-out accuracy 0.933, return corr. 0.905');
    expect(headline('tour', {})).toBeNull();
  });

  it('prints a table, filters by command, keeps the newest N, and --json lists them; a missing folder is no error', async () => {
    const root = fixture();
    const a = captureCli();
    expect(await main(['runs', '--runs-dir', root, '--last', '2'], a.ctx)).toBe(0);
    const text = a.out.join('');
    expect(text).toContain('20261201-110000-broken');
    expect(text).toContain('20261201-100000-train-reacher-oracle-s0  train');
    expect(text).not.toContain('offline-pusher');
    expect(text).toContain('(4 older not shown; --last 0 lists all)');
    const b = captureCli();
    expect(await main(['runs', '--runs-dir', root, '--command', 'offline', '--json'], b.ctx)).toBe(0);
    const j = lastJson<{ runs: RunEntry[]; total: number }>(b.out);
    expect(j.total).toBe(1);
    expect(j.runs[0].resume).toMatch(/^prefrl offline --resume /);
    const c = captureCli();
    expect(await main(['runs', '--runs-dir', join(root, 'none')], c.ctx)).toBe(0);
    expect(c.out.join('')).toBe(`no run folders: ${join(root, 'none')} does not exist yet\n`);
    const d = captureCli();
    expect(await main(['runs', '--runs-dir', join(root, 'notes.txt')], d.ctx)).toBe(2);
    expect(d.err.join('')).toBe(`prefrl runs: --runs-dir: ${join(root, 'notes.txt')} is not a folder\n`);
  });
});
