/**
 * What a stopped command says, and what `prefrl runs` says of the run folders stopped commands
 * leave: `labels import` stopped by Ctrl-C says whether the labels went in (one line; one JSON
 * object with --json), `labels export` finishes its file and says so (it left a temporary file); `prefrl demo` stopped in its first run says the baseline run never started
 * and the command that makes it; an unfinished collect (no --resume) is listed with the command
 * that runs it again (`--like <run>`), and a tour with its command line.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabelStore } from '../reward/store.js';
import { main } from '../scripts/cli.js';
import { demoStopped } from '../scripts/commands/demo.js';
import { removeKilledExports } from '../scripts/commands/labels.js';
import { captureCli, lastJson, spawnCli, until } from './helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'prefrl-crash2-hints-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(args: string[]): Promise<string[]> {
  const c = captureCli();
  expect(await main(args, c.ctx), c.err.join('')).toBe(0);
  return c.out;
}

function labelCount(store: string): number {
  const s = LabelStore.open(store, { create: false });
  try {
    return s.counts().labels;
  } finally {
    s.close();
  }
}

let rolloutDir = '';
beforeAll(async () => {
  rolloutDir = lastJson<{ runDir: string }>(await cli(['rollout', '--env', 'toy-reach', '--episodes', '20', '--runs-dir', join(dir, 'runs'), '--quiet', '--json'])).runDir;
}, 60_000);

describe('labels import stopped by Ctrl-C', () => {
  it('says whether the labels went in, as the store holds them: none, or all (exit 130, one JSON line)', async () => {
    const COUNT = 6000;
    const from = join(dir, 'from.sqlite');
    const to = join(dir, 'to.sqlite');
    // The same pairs (same seed) in two stores; the oracle labels one of them, exported to JSONL.
    for (const s of [from, to]) await cli(['pairs', '--trajectories', rolloutDir, '--count', String(COUNT), '--segment-length', '5', '--store', s, '--seed', '4', '--quiet']);
    await cli(['label', '--store', from, '--teacher', 'oracle', '--batch', String(COUNT), '--quiet']);
    const jsonl = join(dir, 'labels.jsonl');
    await cli(['labels', 'export', '--store', from, '--out', jsonl]);
    expect(labelCount(to)).toBe(0);
    rmSync(`${to}-wal`, { force: true });
    const { child, stdout, stderr, exited } = spawnCli(['labels', 'import', '--store', to, '--in', jsonl, '--json']);
    // Held once it has opened the store (its write-ahead log appears), signalled, let go.
    await until('the store opened', () => (existsSync(`${to}-wal`) || child.exitCode !== null ? true : null), stderr);
    child.kill('SIGSTOP');
    child.kill('SIGINT');
    child.kill('SIGCONT');
    expect(await exited, stderr()).toBe(130);
    const held = labelCount(to);
    // All or none, and the line says which.
    expect([0, COUNT]).toContain(held);
    const line = held === 0 ? `stopped; nothing was imported into ${to} (its labels are as they were); run the same command again` : `stopped after the import: ${COUNT} new labels in ${to}`;
    expect(stderr()).toBe(`${line}\n`);
    expect(stdout().trimEnd().split('\n')).toHaveLength(1);
    expect(JSON.parse(stdout())).toEqual({ store: to, in: jsonl, added: held, ok: false, interrupted: true, signal: 'SIGINT', exitCode: 130, message: line });
    // The same command again ends with every label in.
    expect(lastJson(await cli(['labels', 'import', '--store', to, '--in', jsonl, '--json']))).toMatchObject({ added: COUNT - held, labels: COUNT });
  }, 60_000);
});

describe('labels export stopped', () => {
  it('Ctrl-C while it writes: the export completes and says so (exit 130, one JSON line); no temporary file is left', async () => {
    const COUNT = 8000;
    const store = join(dir, 'export.sqlite');
    await cli(['pairs', '--trajectories', rolloutDir, '--count', String(COUNT), '--segment-length', '5', '--store', store, '--seed', '6', '--quiet']);
    await cli(['label', '--store', store, '--teacher', 'oracle', '--batch', String(COUNT), '--quiet']);
    const outDir = join(dir, 'export-out');
    mkdirSync(outDir);
    const out = join(outDir, 'labels.jsonl');
    const { child, stdout, stderr, exited } = spawnCli(['labels', 'export', '--store', store, '--out', out, '--json']);
    // Held once its temporary file appears (it is writing), signalled, let go.
    await until('the temporary file', () => (readdirSync(outDir).length > 0 || child.exitCode !== null ? true : null), stderr);
    child.kill('SIGSTOP');
    child.kill('SIGINT');
    child.kill('SIGCONT');
    expect(await exited, stderr()).toBe(130);
    // It left the temporary file (`labels.jsonl.tmp-<pid>`) and said nothing.
    expect(readdirSync(outDir)).toEqual(['labels.jsonl']);
    expect(readFileSync(out, 'utf8').trimEnd().split('\n')).toHaveLength(COUNT);
    const line = `stopped after the export: ${COUNT} labels written to ${out}`;
    expect(stderr()).toBe(`${line}\n`);
    expect(JSON.parse(stdout())).toEqual({ store, out, labels: COUNT, ok: false, interrupted: true, signal: 'SIGINT', exitCode: 130, message: line });
  }, 60_000);

  it('the temporary files of exports killed (SIGKILL) go before the next export to that file; a live writer\'s and other files stay', async () => {
    const outDir = join(dir, 'killed-out');
    mkdirSync(outDir);
    const out = join(outDir, 'l.jsonl');
    // A process id that no process has (Linux pids stay below 2^22).
    const dead = `l.jsonl.tmp-${2 ** 22 + 17}`;
    // A process that runs (not this one: the in-process export below writes l.jsonl.tmp-<its pid>).
    const live = `l.jsonl.tmp-${process.ppid}`;
    const others = ['l.jsonl.tmp-abc', 'l.jsonl.tmp-0', 'other.jsonl.tmp-4194321', 'l.jsonl'];
    for (const f of [dead, live, ...others]) writeFileSync(join(outDir, f), 'x');
    expect(removeKilledExports(out)).toEqual([join(outDir, dead)]);
    expect(readdirSync(outDir).sort()).toEqual([live, ...others].sort());
    // The command does it before it writes (here --force over the old l.jsonl).
    writeFileSync(join(outDir, dead), 'x');
    await cli(['labels', 'export', '--store', join(dir, 'export.sqlite'), '--out', out, '--force']);
    expect(readdirSync(outDir).sort()).toEqual([live, ...others].sort());
  });
});

describe('prefrl demo stopped', () => {
  it('in its first run: the resume of that run, and the baseline that never started with the command that makes it', async () => {
    const runs = join(dir, 'demo-runs');
    const args = ['--env', 'toy-reach', '--steps', '400000', '--seed', '2', '--runs-dir', runs];
    const { child, stdout, stderr, exited } = spawnCli(['demo', ...args, '--labels', '10', '--labels-per-round', '5', '--feedback-every', '1024', '--quiet', '--json']);
    // The learned-reward run is going on (its folder is locked).
    const run = await until('the first run', () => {
      if (child.exitCode !== null) return 'exited';
      const d = existsSync(runs) ? readdirSync(runs).find((x) => x.includes('train-toy-reach-oracle')) : undefined;
      return d !== undefined && existsSync(join(runs, d, 'train.lock')) ? join(runs, d) : null;
    }, stderr);
    child.kill('SIGSTOP');
    child.kill('SIGINT');
    child.kill('SIGCONT');
    expect(await exited, stderr()).toBe(130);
    const baseline = `prefrl train ${args.join(' ')} --reward true`;
    const line = `stopped; resume with: prefrl train --resume ${run}; the true-reward baseline (demo 2/2) has not started: ${baseline} (prefrl demo again starts both runs anew)`;
    expect(stderr().endsWith(`${line}\n`), stderr()).toBe(true);
    expect(lastJson([stdout()])).toEqual({ runDir: run, resume: `prefrl train --resume ${run}`, baseline, ok: false, interrupted: true, signal: 'SIGINT', exitCode: 130, message: line });
    // Only the first run's folder: the baseline never started.
    expect(readdirSync(runs)).toEqual([run.slice(runs.length + 1)]);
  }, 60_000);

  it('says what is true at each other moment (before any run, between the runs, in the baseline, --no-baseline)', () => {
    const inner = { line: 'stopped; resume with: prefrl train --resume runs/b', fields: { runDir: 'runs/b', resume: 'prefrl train --resume runs/b' } };
    const base = 'prefrl train --env reacher --steps 150000 --seed 0 --runs-dir runs --reward true';
    expect(demoStopped(null, { prefRun: null, baseline: base })).toEqual({
      line: `stopped before demo 1 started its run; run the same command again; the true-reward baseline (demo 2/2) has not started: ${base}`,
      fields: { baseline: base },
    });
    expect(demoStopped(inner, { prefRun: null, baseline: null })).toEqual(inner);
    expect(demoStopped(null, { prefRun: 'runs/a', baseline: base })).toEqual({
      line: `stopped before the baseline (demo 2/2) started its run; the learned-reward run (demo 1/2) is finished: runs/a; the baseline: ${base}`,
      fields: { learnedRunDir: 'runs/a', baseline: base },
    });
    expect(demoStopped(inner, { prefRun: 'runs/a', baseline: base })).toEqual({
      line: 'stopped; resume with: prefrl train --resume runs/b (the baseline, demo 2/2); the learned-reward run (demo 1/2) is finished: runs/a',
      fields: { ...inner.fields, learnedRunDir: 'runs/a' },
    });
  });
});

describe('prefrl runs: an unfinished run of a command without --resume', () => {
  it('collect: "run it again: prefrl collect --like <run>", and that command runs it again; tour: its command line', async () => {
    const runs = join(dir, 'list');
    const collected = lastJson<{ runDir: string }>(await cli(['collect', '--env', 'toy-reach', '--policy', 'random', '--steps', '60', '--seed', '5', '--runs-dir', runs, '--quiet', '--json'])).runDir;
    // Stopped before its end: no summary.json.
    rmSync(join(collected, 'summary.json'));
    const tour = join(runs, '20260101-000000-tour');
    mkdirSync(tour);
    writeFileSync(join(tour, 'config.json'), JSON.stringify({ command: 'tour', episodes: 3, seed: 7, runsDir: 'elsewhere', json: false, quiet: false, envs: ['reacher'] }));
    const listed = lastJson<{ runs: { path: string; state: string; resume: string | null }[] }>(await cli(['runs', '--runs-dir', runs, '--json'])).runs;
    const again = `prefrl collect --like ${collected}`;
    expect(listed.map((r) => [r.path, r.state, r.resume])).toEqual([
      [tour, 'unfinished', `run it again: prefrl tour --episodes 3 --seed 7 --runs-dir ${runs}`],
      [collected, 'unfinished', `run it again: ${again}`],
    ]);
    const text = (await cli(['runs', '--runs-dir', runs])).join('');
    expect(text).toContain(`run it again: ${again}`);
    // The command it names runs (a new run with the same settings: 60 transitions of toy-reach, seed 5).
    const rerun = lastJson<{ runDir: string; transitions: number }>(await cli([...again.split(' ').slice(1), '--runs-dir', runs, '--quiet', '--json']));
    expect(rerun.runDir).not.toBe(collected);
    expect(existsSync(join(rerun.runDir, 'summary.json'))).toBe(true);
  }, 60_000);
});

describe('a signal after the command saved its work (its final save and summary, after its last letSignalsIn)', () => {
  it('tour: exits 0 with its full summary and no "stopped" line (it exited 130 with the summary and no line)', async () => {
    const runs = join(dir, 'tour-runs');
    const { child, stdout, stderr, exited } = spawnCli(['tour', '--episodes', '1', '--runs-dir', runs, '--quiet']);
    // Held once summary.json is saved (the last thing it writes), signalled, let go.
    const run = await until('summary.json', () => {
      if (child.exitCode !== null) return 'exited';
      const d = existsSync(runs) ? readdirSync(runs)[0] : undefined;
      return d !== undefined && existsSync(join(runs, d, 'summary.json')) ? join(runs, d) : null;
    }, stderr);
    child.kill('SIGSTOP');
    child.kill('SIGINT');
    child.kill('SIGCONT');
    expect(await exited, stderr()).toBe(0);
    expect(stdout()).toContain(`run folder: ${run}\n`);
    expect(stdout().endsWith('next: prefrl envs | prefrl check-env reacher | prefrl rollout --env cheetah-run --episodes 3\n'), stdout()).toBe(true);
    expect(stderr()).not.toContain('stopped');
  }, 60_000);
});
