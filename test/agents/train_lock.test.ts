/**
 * One `prefrl train` per run folder: a --resume of a run that is still going (being made, or
 * resumed by another process) is refused before it reads or changes anything; a lock left by a
 * process that is gone is taken over. Two processes in one folder used to interleave their
 * metrics rows (steps running backwards), checkpoints and label rounds.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../core/backend.js';
import { main } from '../../scripts/cli.js';
import { lockFileName } from '../../scripts/run_lock.js';
import { captureCli, lastJson } from '../helpers/cli.js';

const TRAIN_LOCK = lockFileName('train');

beforeAll(async () => {
  await initBackend('wasm');
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const RUN = ['train', '--env', 'toy-reach', '--reward', 'true', '--num-envs', '2', '--num-steps', '128', '--workers', '0', '--eval-every', '512', '--eval-episodes', '1', '--quiet', '--json'];

/** A train run of `steps` steps in `runs`, finished; returns its folder. */
async function finishedRun(runs: string, steps: number, name: string): Promise<string> {
  const c = captureCli();
  expect(await main([...RUN, '--steps', String(steps), '--runs-dir', runs, '--name', name], c.ctx), c.err.join('')).toBe(0);
  return lastJson(c.out).runDir as string;
}

/** The folder of a run stopped at its checkpoint (its summary removed, as if killed before the end). */
function unfinished(runDir: string): string {
  rmSync(join(runDir, 'summary.json'));
  return runDir;
}

describe('the run folder lock', () => {
  it('a --resume while another live process holds the lock: exit 2 naming --resume and the holder, nothing read or changed', async () => {
    const runs = mkdtempSync(join(tmpdir(), 'prefrl-lock-'));
    const runDir = unfinished(await finishedRun(runs, 512, 'held'));
    expect(existsSync(join(runDir, TRAIN_LOCK))).toBe(false); // released at the end of the run
    const lock = JSON.stringify({ host: hostname(), pid: process.pid, since: '2026-12-01T10:00:00.000Z' });
    writeFileSync(join(runDir, TRAIN_LOCK), lock);
    const metrics = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8');
    // A cut-off last row, which a resume would drop: it must stay.
    writeFileSync(join(runDir, 'metrics.jsonl'), `${metrics}{"step":99`);
    const c = captureCli();
    expect(await main(['train', '--resume', runDir, '--quiet', '--json'], c.ctx)).toBe(2);
    expect(c.err.join('')).toBe(
      `prefrl train: --resume: ${runDir} is in use by another prefrl train (pid ${process.pid} on ${hostname()}, since 2026-12-01T10:00:00.000Z); two processes in one run folder would mix their metrics, checkpoints and labels. Wait for it to end, or stop it and resume; if no such process runs, delete ${join(runDir, TRAIN_LOCK)}\n`,
    );
    expect(readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')).toBe(`${metrics}{"step":99`);
    expect(readFileSync(join(runDir, TRAIN_LOCK), 'utf8')).toBe(lock); // the holder's lock is kept
    expect(existsSync(join(runDir, 'summary.json'))).toBe(false);
  }, 60_000);

  it('a lock left by a process that is gone is taken over; the resumed run finishes and removes it', async () => {
    const runs = mkdtempSync(join(tmpdir(), 'prefrl-lock-'));
    const runDir = unfinished(await finishedRun(runs, 512, 'stale'));
    const gone = spawnSync(process.execPath, ['-e', '']).pid as number;
    writeFileSync(join(runDir, TRAIN_LOCK), JSON.stringify({ host: hostname(), pid: gone, since: '2026-12-01T10:00:00.000Z' }));
    const c = captureCli();
    expect(await main(['train', '--resume', runDir, '--quiet', '--json'], c.ctx), c.err.join('')).toBe(0);
    expect(c.err.join('')).toContain(`--resume: ${runDir} was left locked by a run that is gone (pid ${gone}, since 2026-12-01T10:00:00.000Z); taking it over\n`);
    expect(lastJson(c.out).envSteps).toBe(512);
    expect(existsSync(join(runDir, TRAIN_LOCK))).toBe(false);
  }, 60_000);

  it('a --resume of a run still being made is refused while it runs, and the run goes on undisturbed', async () => {
    const runs = mkdtempSync(join(tmpdir(), 'prefrl-lock-'));
    const first = captureCli();
    let done = false;
    const running = main([...RUN, '--steps', '4096', '--runs-dir', runs, '--name', 'going'], first.ctx).finally(() => (done = true));
    // The run's folder and its lock appear once the run has started (PPO yields between rollouts).
    let runDir = '';
    while (!done && runDir === '') {
      await sleep(20);
      const found = existsSync(runs) ? readdirSync(runs).find((d) => d.endsWith('-going')) : undefined;
      if (found && existsSync(join(runs, found, TRAIN_LOCK))) runDir = join(runs, found);
    }
    expect(runDir, first.err.join('')).not.toBe('');
    const second = captureCli();
    const refused = await main(['train', '--resume', runDir, '--quiet', '--json'], second.ctx);
    expect(await running, first.err.join('')).toBe(0);
    expect(refused).toBe(2);
    expect(second.err.join('')).toContain(`--resume: ${runDir} is in use by another prefrl train (pid ${process.pid} on ${hostname()}`);
    // The first run's metrics never run backwards, and its lock is gone.
    const steps = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => (JSON.parse(l) as { step: number }).step);
    for (let i = 1; i < steps.length; i++) expect(steps[i]).toBeGreaterThanOrEqual(steps[i - 1]);
    expect(lastJson(first.out).envSteps).toBe(4096);
    expect(existsSync(join(runDir, TRAIN_LOCK))).toBe(false);
  }, 60_000);
});
