import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { loadTrajectories } from '../envs/trajectory.js';
import { COMMANDS, isSystemError, main } from '../scripts/cli.js';
import { mujocoFolder } from '../scripts/commands/bench_envs.js';
import { type CapturedCli, captureCli, expectUsageError, lastJson } from './helpers/cli.js';

const ctx = (): CapturedCli => captureCli(new ManualClock());

describe('prefrl CLI', () => {
  it('every subcommand has --help that exits 0 and lists its flags', async () => {
    for (const c of COMMANDS) {
      const { ctx: k, out } = ctx();
      expect(await main([...c.name.split(' '), '--help'], k)).toBe(0);
      expect(out.join('')).toContain(`Usage: prefrl ${c.name}`);
      expect(out.join('')).toContain('--help');
    }
  });

  it('unknown commands and flags exit 2 with a one-line message naming them', async () => {
    const a = ctx();
    expect(await main(['frobnicate'], a.ctx)).toBe(2);
    expect(a.err.join('')).toBe('prefrl: unknown command "frobnicate" (run prefrl --help for the list)\n');
    const b = ctx();
    expect(await main(['envs', '--colour'], b.ctx)).toBe(2);
    expect(b.err.join('')).toBe('prefrl envs: unknown flag --colour (see --help)\n');
    const c = ctx();
    expect(await main(['rollout', '--episodes', 'many'], c.ctx)).toBe(2);
    expect(c.err.join('')).toBe('prefrl rollout: --episodes: expected an integer, got "many"\n');
    const d = ctx();
    expect(await main(['check-env'], d.ctx)).toBe(2);
    expect(d.err.join('')).toMatch(/missing argument <env>/);
  });

  it('envs --json prints one JSON object with every env, its sizes and reward terms', async () => {
    const { ctx: k, out } = ctx();
    expect(await main(['envs', '--json'], k)).toBe(0);
    const j = lastJson(out) as { envs: { id: string; obsDim: number; rewardTerms: { name: string; weight: number }[] }[] };
    const cheetah = j.envs.find((e) => e.id === 'cheetah-run');
    expect(cheetah?.obsDim).toBe(17);
    expect(cheetah?.rewardTerms.map((t) => t.name)).toEqual(['forward_velocity', 'control_effort']);
  });

  it('bench envs --json reports every measured rate, the physics-only WASM loop included; an unknown env exits 2 naming --envs', async () => {
    const { ctx: k, out } = ctx();
    const argv = ['bench', 'envs', '--envs', 'cartpole-swingup', '--no-native', '--duration', '0.05', '--warmup-seconds', '0', '--repeats', '2', '--vec-envs', '4', '--json'];
    expect(await main(argv, k)).toBe(0);
    const j = lastJson(out) as { envs: Record<string, unknown>[]; wasm: { version: string }; native: { skipped?: string } };
    expect(j.native.skipped).toBe('disabled with --no-native');
    // The WASM build's own version string, the installed package's version (pinned in package.json).
    const pinned = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string> }).dependencies['@mujoco/mujoco'];
    expect(j.wasm.version).toBe(pinned);
    expect(out.join('')).toContain(`wasm: MuJoCo ${pinned} (@mujoco/mujoco)`);
    expect(j.envs).toHaveLength(1);
    const r = j.envs[0] as { id: string; frameSkip: number; stepsPerSec: number; physicsStepsPerSec: number; physicsRatio: number | null; ratio: number | null; workerSpeedup: number; inlineSpeedup: number; samples: Record<string, number[]> };
    expect(r.id).toBe('cartpole-swingup');
    expect(r.frameSkip).toBe(2);
    expect(r.ratio).toBeNull();
    expect(r.physicsRatio).toBeNull();
    for (const key of ['wasm', 'physics', 'workers1', 'workers2', 'inProcess', 'inline']) {
      expect(r.samples[key]).toHaveLength(2);
      for (const x of r.samples[key]) expect(x).toBeGreaterThan(0);
    }
    expect(r.physicsStepsPerSec).toBe((r.samples.physics[0] + r.samples.physics[1]) / 2);
    expect(r.workerSpeedup).toBeCloseTo((r.samples.workers2[0] / r.samples.workers1[0] + r.samples.workers2[1] / r.samples.workers1[1]) / 2, 10);
    expect(r.inlineSpeedup).toBeCloseTo((r.samples.inline[0] / r.samples.inProcess[0] + r.samples.inline[1] / r.samples.inProcess[1]) / 2, 10);
    const bad = ctx();
    expect(await main(['bench', 'envs', '--envs', 'nope'], bad.ctx)).toBe(2);
    expect(bad.err.join('')).toMatch(/--envs: unknown env "nope"/);
  });

  it('bench envs --native-mujoco: a folder without the headers or the library exits 2 naming the flag and what is missing', async () => {
    const root = mkdtempSync(join(tmpdir(), 'mj-'));
    expect(mujocoFolder(join(root, 'nope'))).toBe(`${join(root, 'nope')} is not a folder`);
    expect(mujocoFolder(root)).toBe(`${root} has no include/mujoco/mujoco.h`);
    mkdirSync(join(root, 'include', 'mujoco'), { recursive: true });
    writeFileSync(join(root, 'include', 'mujoco', 'mujoco.h'), '');
    expect(mujocoFolder(root)).toBe(`${root} has no libmujoco.so*`);
    writeFileSync(join(root, 'libmujoco.so.3.14.0'), '');
    writeFileSync(join(root, 'libmujoco.so.3.14.0.bak'), '');
    expect(mujocoFolder(root)).toEqual({ include: join(root, 'include'), lib: 'libmujoco.so.3.14.0' });
    const bad = ctx();
    expect(await main(['bench', 'envs', '--envs', 'reacher', '--native-mujoco', join(root, 'include')], bad.ctx)).toBe(2);
    expect(bad.err.join('')).toBe(`prefrl bench envs: --native-mujoco: ${join(root, 'include')} has no include/mujoco/mujoco.h\n`);
  });

  it('check-env --json reports ok and each check; a bad model file exits 1 naming the file', async () => {
    const { ctx: k, out } = ctx();
    expect(await main(['check-env', 'toy-reach', '--json', '--steps', '60'], k)).toBe(0);
    const j = lastJson(out) as { ok: boolean; checks: Record<string, { ok: boolean }> };
    expect(j.ok).toBe(true);
    expect(Object.keys(j.checks)).toContain('rewardSum');
    // Without --json: the table on stdout, each check once (no second copy on stderr).
    const t = ctx();
    expect(await main(['check-env', 'toy-reach', '--steps', '60'], t.ctx)).toBe(0);
    expect(t.out.join('')).toMatch(/toy-reach: all checks passed\n.*check\s+result\s+detail/s);
    expect(t.out.join('').match(/rewardSum/g)).toHaveLength(1);
    expect(t.err.join('')).not.toContain('rewardSum');
    const bad = ctx();
    expect(await main(['check-env', join(import.meta.dirname, 'fixtures', 'byo', 'bad_task.mjs')], bad.ctx)).toBe(1);
    expect(bad.err.join('')).toMatch(/bad_task\.mjs: MuJoCo could not load the model/);
    expect(bad.out.join('')).toBe('');
    // With --json the failed load is the report's one check, as the last line of stdout.
    const badJson = ctx();
    const file = join(import.meta.dirname, 'fixtures', 'byo', 'bad_task.mjs');
    expect(await main(['check-env', file, '--json'], badJson.ctx)).toBe(1);
    const r = lastJson(badJson.out) as { ok: boolean; env: string; checks: Record<string, { ok: boolean; detail: string }> };
    expect(r.ok).toBe(false);
    expect(r.env).toBe(file);
    expect(Object.keys(r.checks)).toEqual(['load']);
    expect(r.checks.load.ok).toBe(false);
    expect(r.checks.load.detail).toMatch(/bad_task\.mjs: MuJoCo could not load the model/);
    expect(badJson.err.join('')).toMatch(/bad_task\.mjs: MuJoCo could not load the model/);
  });

  it('rollout writes a run folder with the resolved config, JSONL metrics and trajectories', async () => {
    const root = mkdtempSync(join(tmpdir(), 'runs-'));
    const { ctx: k, out } = ctx();
    expect(await main(['rollout', '--env', 'toy-reach', '--episodes', '3', '--runs-dir', root, '--json'], k)).toBe(0);
    const j = lastJson(out) as { runDir: string; episodes: number; steps: number; trajectories: string };
    expect(j.episodes).toBe(3);
    expect(j.steps).toBe(150);
    expect(j.runDir.startsWith(root)).toBe(true);
    expect(j.runDir).toMatch(/\d{8}-\d{6}-rollout-toy-reach$/);
    const config = JSON.parse(readFileSync(join(j.runDir, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ command: 'rollout', env: 'toy-reach', episodes: 3, seed: 0, policy: 'random' });
    const metrics = readFileSync(join(j.runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(metrics.length).toBe(3);
    expect(metrics[0]).toHaveProperty('charts/episode_return');
    expect(metrics[0]).toHaveProperty('reward/term_goal_distance');
    expect(loadTrajectories(j.trajectories).length).toBe(3);
  });

  it('train never writes the viewer\'s access token to the run folder', async () => {
    const root = mkdtempSync(join(tmpdir(), 'runs-'));
    const { ctx: k, out } = ctx();
    const token = 'do-not-save-this-token';
    expect(await main(['train', '--env', 'toy-reach', '--reward', 'true', '--steps', '2048', '--human-token', token, '--runs-dir', root, '--quiet', '--json'], k)).toBe(0);
    const { runDir } = lastJson<{ runDir: string }>(out);
    const config = readFileSync(join(runDir, 'config.json'), 'utf8');
    expect(config).not.toContain(token);
    expect(JSON.parse(config)).toMatchObject({ command: 'train', env: 'toy-reach', humanPort: 8080 });
    // A viewer beyond loopback without a token is refused before any work, naming train's own flags.
    await expectUsageError(['train', '--env', 'toy-reach', '--teacher', 'human', '--human-host', '0.0.0.0'], join(root, 'none'), /^prefrl train: --human-host 0\.0\.0\.0: serving beyond this machine needs an access token \(--human-token, at least 12 characters\)/);
  });

  it('a new train or offline run with people refuses a viewer port already in use before any work, naming --human-port', async () => {
    const root = mkdtempSync(join(tmpdir(), 'runs-'));
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    const port = (taken.address() as AddressInfo).port;
    try {
      const msg = new RegExp(`^prefrl (train|offline): --human-port ${port}: already in use on 127\\.0\\.0\\.1 \\(pick another port, or 0 for any free one\\)\\n$`);
      await expectUsageError(['train', '--env', 'toy-reach', '--teacher', 'human', '--human-port', String(port)], join(root, 'train'), msg);
      // (Checked before the dataset is read: a missing file is not reached.)
      await expectUsageError(['offline', '--dataset', join(root, 'data.h5'), '--teacher', 'human', '--human-port', String(port)], join(root, 'offline'), msg);
    } finally {
      await new Promise<void>((r) => taken.close(() => r()));
    }
  });

  it('a --runs-dir under a file is a usage error naming it; a refused file-system call exits 1 with one line naming the path, no stack trace', async () => {
    const root = mkdtempSync(join(tmpdir(), 'runs-'));
    const file = join(root, 'a-file');
    writeFileSync(file, 'x');
    const bad = ctx();
    expect(await main(['rollout', '--env', 'toy-reach', '--episodes', '1', '--runs-dir', join(file, 'runs')], bad.ctx)).toBe(2);
    expect(bad.err.join('')).toBe(`prefrl rollout: runs folder ${join(file, 'runs')}: a path above it is a file, not a folder\n`);
    // A write the system refuses (a new file in /proc) after the checks pass: one line, exit 1.
    const made = ctx();
    expect(await main(['rollout', '--env', 'toy-reach', '--episodes', '1', '--runs-dir', join(root, 'runs'), '--quiet', '--json'], made.ctx)).toBe(0);
    const { runDir } = lastJson<{ runDir: string }>(made.out);
    const { ctx: k, err } = ctx();
    expect(await main(['plot', runDir, '--metric', 'charts/episode_return', '--out', '/proc/prefrl-test.svg'], k)).toBe(1);
    const text = err.join('');
    expect(text).toMatch(/^prefrl plot: ENOENT: no such file or directory, open '\/proc\/prefrl-test\.svg[^']*'\n$/);
    // Other errors keep their stack (a bug report needs it).
    expect(isSystemError(new Error('plain'))).toBe(false);
    expect(isSystemError(Object.assign(new Error('EACCES: permission denied, open'), { code: 'EACCES', syscall: 'open' }))).toBe(true);
    expect(isSystemError(Object.assign(new Error('x'), { code: 'ERR_INVALID_ARG_TYPE' }))).toBe(false);
  });

  it('every list-of-widths or counts flag refuses a bad list with exit 2 naming the flag, before any run folder is made', async () => {
    const root = mkdtempSync(join(tmpdir(), 'runs-'));
    const runs = join(root, 'runs');
    const data = join(root, 'data.h5');
    writeFileSync(data, 'not read: the flag fails first');
    const cases: [string[], string][] = [
      [['train', '--env', 'toy-reach', '--reward-hidden', '64,0', '--runs-dir', runs], '--reward-hidden'],
      [['offline', '--dataset', data, '--teacher', 'oracle', '--hidden', '64,x', '--runs-dir', runs], '--hidden'],
      [['offline', '--dataset', data, '--teacher', 'oracle', '--reward-hidden', '2.5', '--runs-dir', runs], '--reward-hidden'],
      [['iql', '--dataset', data, '--hidden', '-1', '--runs-dir', runs], '--hidden'],
      [['bench', 'reward', '--hidden', '0'], '--hidden'],
      [['bench', 'agents', '--torch-threads', '1,zero'], '--torch-threads'],
      [['bench', 'regret', '--budgets', '10,1e2'], '--budgets'],
    ];
    for (const [args, flag] of cases) {
      const { ctx: k, err } = ctx();
      expect(await main(args, k), args.join(' ')).toBe(2);
      expect(err.join(''), args.join(' ')).toMatch(new RegExp(`^prefrl [a-z -]+: ${flag}: expected positive integers separated by commas, got "`, 'm'));
    }
    expect(existsSync(runs)).toBe(false);
  });

  it('the installed bin runs the compiled CLI with the same exit codes', () => {
    const bin = join(import.meta.dirname, '..', 'bin', 'prefrl.js');
    expect(existsSync(join(import.meta.dirname, '..', 'dist', 'scripts', 'cli.js'))).toBe(true);
    const ok = spawnSync(process.execPath, [bin, 'envs', '--json'], { encoding: 'utf8' });
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout.trim().split('\n').pop() ?? '')).toHaveProperty('envs');
    const bad = spawnSync(process.execPath, [bin, 'envs', '--nope'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim()).toBe('prefrl envs: unknown flag --nope (see --help)');
  });
});
