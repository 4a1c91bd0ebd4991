// Ctrl-C and SIGTERM under --json: the last line of stdout is still one JSON object saying what was
// kept and how to go on, with the exit codes of the signals (130, 143) and the stderr line kept.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { makePair } from '../reward/segments.js';
import { LabelStore } from '../reward/store.js';
import { labelId } from '../reward/teachers/synthetic.js';
import { onInterrupt, resumeHint } from '../scripts/command.js';
import { captureCli, lastJson, spawnCli } from './helpers/cli.js';
import { makePairs } from './viewer/helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const dir = mkdtempSync(join(tmpdir(), 'prefrl-interrupt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Wait (up to a minute) until `ready()` or the child has exited. */
async function waitFor(child: { exitCode: number | null }, ready: () => boolean): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && child.exitCode === null && !ready()) await sleep(50);
}

/** The last line of a child's stdout, parsed. */
function lastLine(out: string): Record<string, unknown> {
  const lines = out.trimEnd().split('\n');
  return JSON.parse(lines[lines.length - 1]) as Record<string, unknown>;
}

const EXIT_CODES = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;

/**
 * `prefrl <args>` in a child, sent `signal` once `ready(stderr)` holds (and `settleMs` later);
 * expects the signal's exit code and returns the last stdout line, parsed, and stderr.
 */
async function stopOnce(args: readonly string[], ready: (stderr: string) => boolean, signal: keyof typeof EXIT_CODES, settleMs = 0): Promise<{ json: Record<string, unknown>; stderr: string; stdoutLines: number }> {
  const { child, stdout, stderr, exited } = spawnCli(args);
  await waitFor(child, () => ready(stderr()));
  if (settleMs > 0) await sleep(settleMs);
  child.kill(signal);
  expect(await exited, stderr()).toBe(EXIT_CODES[signal]);
  return { json: lastLine(stdout()), stderr: stderr(), stdoutLines: stdout().trimEnd().split('\n').length };
}

/** The stderr line and the one JSON object of a command stopped by `signal`: `fields`, then the common ones. */
function expectStopped(r: { json: Record<string, unknown>; stderr: string; stdoutLines: number }, signal: keyof typeof EXIT_CODES, line: string, fields: Record<string, unknown>): void {
  expect(r.stderr.endsWith(`${line}\n`), r.stderr).toBe(true);
  expect(r.json).toEqual({ ...fields, ok: false, interrupted: true, signal, exitCode: EXIT_CODES[signal], message: line });
  expect(r.stdoutLines).toBe(1);
}

describe('onInterrupt', () => {
  afterEach(() => vi.restoreAllMocks());

  it('the outermost command speaks (one JSON object with --json); unregistering removes its listeners', () => {
    const before = [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM'), process.listenerCount('SIGHUP')];
    const exits: number[] = [];
    vi.spyOn(process, 'exit').mockImplementation(((code?: number) => void exits.push(code ?? 0)) as typeof process.exit);
    const outer = captureCli();
    const inner = captureCli();
    const stopOuter = onInterrupt(outer.ctx, () => ({ line: 'stopped; run it again', fields: { outDir: '/tmp/x', ran: ['a'] } }), { json: true });
    const stopInner = onInterrupt(inner.ctx, () => resumeHint('train', '/tmp/runs/r1'), { json: true });
    expect(process.listenerCount('SIGINT')).toBe(before[0] + 1);
    process.emit('SIGTERM');
    expect(exits).toEqual([143]);
    expect(inner.out).toEqual([]);
    expect(inner.err).toEqual([]);
    expect(outer.err.join('')).toBe('stopped; run it again\n');
    expect(outer.out.join('')).toBe('{"outDir":"/tmp/x","ran":["a"],"ok":false,"interrupted":true,"signal":"SIGTERM","exitCode":143,"message":"stopped; run it again"}\n');
    // The outer one done, the inner one speaks; without --json stdout stays empty.
    stopOuter();
    process.emit('SIGINT');
    expect(exits).toEqual([143, 130]);
    expect(inner.err.join('')).toBe('stopped; resume with: prefrl train --resume /tmp/runs/r1\n');
    expect(lastJson(inner.out)).toEqual({
      runDir: '/tmp/runs/r1',
      resume: 'prefrl train --resume /tmp/runs/r1',
      ok: false,
      interrupted: true,
      signal: 'SIGINT',
      exitCode: 130,
      message: 'stopped; resume with: prefrl train --resume /tmp/runs/r1',
    });
    stopInner();
    expect([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM'), process.listenerCount('SIGHUP')]).toEqual(before);
    const plain = captureCli();
    const stopPlain = onInterrupt(plain.ctx, () => ({ line: 'stopped' }), { json: false });
    process.emit('SIGINT');
    stopPlain();
    expect(plain.out).toEqual([]);
    expect(plain.err.join('')).toBe('stopped\n');
  });
});

describe('a signal under --json', () => {
  it('train: Ctrl-C prints the run folder and the resume command as the last JSON line, exit 130', async () => {
    const runs = join(dir, 'train');
    const args = ['train', '--env', 'toy-reach', '--reward', 'true', '--steps', '1000000', '--num-envs', '2', '--num-steps', '256', '--workers', '0', '--eval-every', '100000', '--runs-dir', runs, '--name', 'stopped', '--quiet', '--json'];
    const { child, stdout, stderr, exited } = spawnCli(args);
    let runDir = '';
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && child.exitCode === null && runDir === '') {
      await sleep(50);
      const found = existsSync(runs) ? readdirSync(runs).find((d) => d.endsWith('-stopped')) : undefined;
      if (found && existsSync(join(runs, found, 'config.json'))) runDir = join(runs, found);
    }
    // Inside PPO's loop (a moment after the run folder is made).
    await sleep(500);
    // The run holds its folder's lock (a --resume of it meanwhile is refused) ...
    expect(JSON.parse(readFileSync(join(runDir, 'train.lock'), 'utf8'))).toMatchObject({ pid: child.pid });
    child.kill('SIGINT');
    expect(await exited, stderr()).toBe(130);
    // ... and a stop leaves none behind.
    expect(existsSync(join(runDir, 'train.lock'))).toBe(false);
    expect(stderr()).toContain(`stopped; resume with: prefrl train --resume ${runDir}\n`);
    expect(lastLine(stdout())).toEqual({
      runDir,
      resume: `prefrl train --resume ${runDir}`,
      ok: false,
      interrupted: true,
      signal: 'SIGINT',
      exitCode: 130,
      message: `stopped; resume with: prefrl train --resume ${runDir}`,
    });
    expect(stdout().trimEnd().split('\n')).toHaveLength(1);
  }, 90_000);

  it('collect: SIGTERM says no dataset was written, removes the empty run folder and exits 143', async () => {
    const runs = join(dir, 'collect');
    const { child, stdout, stderr, exited } = spawnCli(['collect', '--env', 'toy-reach', '--policy', 'random', '--steps', '50000000', '--runs-dir', runs, '--json']);
    const deadline = Date.now() + 60_000;
    // The progress line: collecting has begun (and the run folder is made).
    while (Date.now() < deadline && child.exitCode === null && !/collect toy-reach random/.test(stderr())) await sleep(50);
    expect(readdirSync(runs)).toHaveLength(1);
    child.kill('SIGTERM');
    expect(await exited, stderr()).toBe(143);
    expect(stderr()).toMatch(/stopped; no dataset was written\n$/);
    expect(lastLine(stdout())).toEqual({ runDir: null, dataset: null, ok: false, interrupted: true, signal: 'SIGTERM', exitCode: 143, message: 'stopped; no dataset was written' });
    expect(readdirSync(runs)).toEqual([]);
  }, 90_000);

  it('collect: SIGHUP (the terminal closed) stops it as SIGTERM does, exit 129', async () => {
    const runs = join(dir, 'collect-hup');
    const { child, stdout, stderr, exited } = spawnCli(['collect', '--env', 'toy-reach', '--policy', 'random', '--steps', '50000000', '--runs-dir', runs, '--json']);
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && child.exitCode === null && !/collect toy-reach random/.test(stderr())) await sleep(50);
    child.kill('SIGHUP');
    expect(await exited, stderr()).toBe(129);
    expect(lastLine(stdout())).toEqual({ runDir: null, dataset: null, ok: false, interrupted: true, signal: 'SIGHUP', exitCode: 129, message: 'stopped; no dataset was written' });
    expect(readdirSync(runs)).toEqual([]);
  }, 90_000);

  it('bench envs: Ctrl-C reports the envs measured so far (none yet here) and the ones asked for, exit 130', async () => {
    const { child, stdout, stderr, exited } = spawnCli(['bench', 'envs', '--envs', 'reacher,cartpole-swingup', '--no-native', '--duration', '0.5', '--repeats', '10', '--warmup-seconds', '0', '--json']);
    const deadline = Date.now() + 60_000;
    // The first progress line: the first measurement is done, the first env is not (30 more seconds of it).
    while (Date.now() < deadline && child.exitCode === null && !stderr().includes('bench envs')) await sleep(50);
    child.kill('SIGINT');
    expect(await exited, stderr()).toBe(130);
    const line = 'stopped after 0 of 2 envs; bench envs saves nothing, run it again for the table';
    expect(stderr().endsWith(`${line}\n`)).toBe(true);
    expect(lastLine(stdout())).toEqual({ envs: [], of: ['reacher', 'cartpole-swingup'], ok: false, interrupted: true, signal: 'SIGINT', exitCode: 130, message: line });
  }, 90_000);

  it('rollout: Ctrl-C says how many episodes ran, that none was saved, removes the run folder and exits 130', async () => {
    const runs = join(dir, 'rollout');
    // The progress line, with the run folder made: episodes are running (rollout held the signal until all of them were done before).
    const r = await stopOnce(['rollout', '--env', 'toy-reach', '--episodes', '10000000', '--runs-dir', runs, '--json'], (e) => /rollout toy-reach/.test(e) && existsSync(runs) && readdirSync(runs).length === 1, 'SIGINT');
    const n = r.json.episodesRun as number;
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThan(10_000_000);
    const line = `stopped after ${n} of 10000000 episodes; no trajectories were saved (the run folder was removed); run the command again`;
    expectStopped(r, 'SIGINT', line, { runDir: null, trajectories: null, episodesRun: n });
    expect(readdirSync(runs)).toEqual([]);
  }, 90_000);

  it('reward: Ctrl-C after some epochs keeps their metrics, saves no model, names the run folder and exits 130', async () => {
    const root = join(dir, 'reward');
    const segs = (await makePairs('toy-reach', { episodes: 8, steps: 20, length: 10, seed: 4 })).flatMap((p) => [p.a, p.b]);
    const half = segs.length / 2;
    const pairs = segs.slice(0, half).map((a, i) => makePair(a, segs[half + i]));
    const storePath = join(dir, 'reward.sqlite');
    const store = LabelStore.open(storePath, { envId: 'toy-reach', modelHash: pairs[0].a.modelHash });
    try {
      store.putPairs(pairs);
      store.addLabels(pairs.map((p, i) => ({ id: labelId('synthetic:t', p.id), pairId: p.id, teacher: 'synthetic:t', kind: 'preference' as const, probFirst: i % 2 })));
    } finally {
      store.close();
    }
    const args = ['reward', '--store', storePath, '--reward-epochs', '1000000', '--reward-patience', '1000000', '--reward-members', '1', '--reward-hidden', '8', '--runs-dir', root, '--quiet', '--json'];
    const metrics = () => {
      const found = existsSync(root) ? readdirSync(root) : [];
      return found.length === 1 ? join(root, found[0], 'metrics.jsonl') : '';
    };
    // A few epochs logged: training is under way.
    const r = await stopOnce(args, () => metrics() !== '' && existsSync(metrics()) && readFileSync(metrics(), 'utf8').split('\n').length > 3, 'SIGINT');
    const runDir = join(root, readdirSync(root)[0]);
    const epochs = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').trimEnd().split('\n').length;
    const line = `stopped after ${epochs} of 1000000 epochs; no reward model was saved (${runDir} holds the metrics of the epochs so far); run the command again to train one`;
    expectStopped(r, 'SIGINT', line, { runDir, rewardModel: null, epochs });
    expect(existsSync(join(runDir, 'artifacts', 'reward_model'))).toBe(false);
  }, 90_000);

  it('bench reward: SIGTERM reports the steps timed so far, writes nothing to --out and exits 143', async () => {
    const out = join(dir, 'bench-reward');
    const args = ['bench', 'reward', '--no-torch', '--warmup', '0', '--repeats', '100000', '--relabel', '0', '--members', '1', '--hidden', '16', '--pairs', '8', '--length', '10', '--out', out, '--json'];
    // The info line before the timed steps, and a few of them.
    const r = await stopOnce(args, (e) => e.includes('reward ensemble: 1 x MLP'), 'SIGTERM', 300);
    const timed = r.json.stepMsAll as number[];
    expect(timed.length).toBeGreaterThan(0);
    const line = `stopped in the timed steps after ${timed.length} of 100000 timed steps; bench reward wrote nothing to ${out}, run it again for the timings`;
    expectStopped(r, 'SIGTERM', line, { phase: 'timed steps', stepMsAll: timed, repeats: 100000, out, written: false });
    expect(existsSync(out)).toBe(false);
  }, 90_000);

  it('bench agents: Ctrl-C reports the PPO updates timed so far, nothing written, exit 130', async () => {
    const r = await stopOnce(['bench', 'agents', '--no-torch', '--ppo-warmup', '0', '--ppo-repeats', '100000', '--json'], (e) => e.includes('prefrl PPO update'), 'SIGINT', 300);
    const ppo = r.json.ppoMsAll as number[];
    const line = `stopped after ${ppo.length} of 100000 timed PPO and 0 of 20 timed IQL updates; bench agents wrote nothing, run it again for the timings`;
    expectStopped(r, 'SIGINT', line, { ppoMsAll: ppo, iqlMsAll: [], out: null, written: false });
  }, 90_000);

  it('bench regret: SIGTERM between reward fits counts the runs done, writes nothing to --out, exit 143', async () => {
    const out = join(dir, 'bench-regret');
    // The first (MDP, seed) run is done. 10 worlds x 100 seeds (--seeds stops at 100): 1000 runs.
    const r = await stopOnce(['bench', 'regret', '--seeds', '100', '--mdps', '9', '--budgets', '30,100', '--steps', '50', '--out', out, '--json'], (e) => e.includes('seed 0 done'), 'SIGTERM');
    const runs = r.json.runs as number;
    const records = r.json.records as number;
    expect(runs).toBeGreaterThan(0);
    // 2 sources x 2 models x 2 budgets per run, and the fits of the run under way.
    expect(records).toBeGreaterThanOrEqual(runs * 8);
    const line = `stopped after ${runs} of 1000 (MDP, seed) runs; bench regret wrote nothing to ${out}, run it again for the table`;
    expectStopped(r, 'SIGTERM', line, { runs, of: 1000, records, out, written: false });
    expect(existsSync(out)).toBe(false);
  }, 90_000);

  it('tour: Ctrl-C in the first env saves nothing, removes the run folder and exits 130', async () => {
    const runs = join(dir, 'tour');
    const r = await stopOnce(['tour', '--episodes', '100000', '--runs-dir', runs, '--json'], (e) => /rollout \S+/.test(e), 'SIGINT');
    const of = r.json.of as string[];
    expect(of.length).toBeGreaterThan(1);
    const line = `stopped after 0 of ${of.length} envs; nothing was saved (the run folder was removed); run prefrl tour again for all`;
    expectStopped(r, 'SIGINT', line, { runDir: null, envs: [], of });
    expect(readdirSync(runs)).toEqual([]);
  }, 90_000);
});
