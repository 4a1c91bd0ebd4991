/**
 * Help and listings agree with what the commands do:
 * - a command group (labels, bench) with --help lists its subcommands (exit 0); with no or an
 *   unknown subcommand it exits 2 with the list on stderr;
 * - reward's help does not list --reward-select-workers, which it does not accept;
 * - envs shows each env's goal text, and its JSON writes unbounded bounds as "Infinity" / "-Infinity";
 * - runs reads tour's summary.json (an array, one row per env) as finished, with a headline.
 * - offline says --dataset and --teacher are required except with --resume (no "(default: required" anywhere).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VLM_SPEC_KEYS } from '../reward/teachers/vlm.js';
import { COMMANDS, main } from '../scripts/cli.js';
import { formatTable } from '../scripts/command.js';
import { headline, listRuns } from '../scripts/commands/runs.js';
import { captureCli, lastJson } from './helpers/cli.js';

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const c = captureCli();
  const code = await main(args, c.ctx);
  return { code, out: c.out.join(''), err: c.err.join('') };
}

describe('command groups', () => {
  it.each([
    ['labels', ['labels export', 'labels import', 'labels stats']],
    ['bench', ['bench envs', 'bench reward', 'bench regret', 'bench agents', 'bench oracle']],
  ])('prefrl %s --help lists its subcommands with their summaries; without a subcommand it exits 2 with the list', async (group, subs) => {
    for (const help of ['--help', '-h']) {
      const h = await cli([group, help]);
      expect(h.code).toBe(0);
      expect(h.err).toBe('');
      for (const s of subs) expect(h.out).toMatch(new RegExp(`prefrl ${s} +\\S`));
    }
    const bare = await cli([group]);
    expect(bare.code).toBe(2);
    expect(bare.out).toBe('');
    expect(bare.err.split('\n')[0]).toBe(`prefrl ${group}: needs a subcommand`);
    for (const s of subs) expect(bare.err).toContain(`prefrl ${s}`);
    const unknown = await cli([group, 'frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.err.split('\n')[0]).toBe(`prefrl ${group}: unknown subcommand "frobnicate"`);
    // A subcommand's own --help still works.
    const sub = await cli([...subs[0].split(' '), '--help']);
    expect(sub.code).toBe(0);
    expect(sub.out).toContain(`prefrl ${subs[0]}`);
  });
});

describe('prefrl --version', () => {
  it("prints prefrl's version from package.json and the MuJoCo build's from the installed package, on one line; extra words are a usage error", async () => {
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8')) as { version: string; dependencies: Record<string, string> };
    for (const flag of ['--version', '-V', 'version']) {
      const v = await cli([flag]);
      expect(v.code).toBe(0);
      expect(v.err).toBe('');
      // package.json pins @mujoco/mujoco exactly, so the installed version is the pinned one.
      expect(v.out).toBe(`prefrl ${pkg.version} (MuJoCo ${pkg.dependencies['@mujoco/mujoco']} WASM, Node ${process.version}, ${process.platform}-${process.arch})\n`);
    }
    const bad = await cli(['--version', 'train']);
    expect(bad.code).toBe(2);
    expect(bad.out).toBe('');
    expect(bad.err).toBe('prefrl --version: takes no arguments, got "train"\n');
  });
});

describe('help vs flags', () => {
  it('reward --help does not list --reward-select-workers, and reward rejects it as an unknown flag', async () => {
    const h = await cli(['reward', '--help']);
    expect(h.code).toBe(0);
    expect(h.out).toContain('--reward-input');
    expect(h.out).not.toContain('--reward-select-workers');
    expect(h.out).not.toContain('--reward-select-inputs');
    const r = await cli(['reward', '--store', 'x.sqlite', '--reward-select-workers', '2']);
    expect(r.code).toBe(2);
    expect(r.err).toBe('prefrl reward: unknown flag --reward-select-workers (see --help)\n');
  });

  it('label --help names every key of --teacher vlm:k=v,... (those the spec parser accepts)', async () => {
    const h = await cli(['label', '--help']);
    expect(h.code).toBe(0);
    const section = h.out.slice(h.out.indexOf('VLM teacher'), h.out.indexOf('Examples:'));
    const named = new Set([...section.matchAll(/\b[a-z][A-Za-z]+\b/g)].map((m) => m[0]));
    for (const key of VLM_SPEC_KEYS) expect(named.has(key), key).toBe(true);
  });

  it('envs prints each env\'s goal under its row; --json writes unbounded bounds as "Infinity" / "-Infinity"', async () => {
    const t = await cli(['envs']);
    expect(t.code).toBe(0);
    const lines = t.out.trimEnd().split('\n');
    const row = lines.findIndex((l) => l.startsWith('toy-reach '));
    expect(row).toBeGreaterThan(1);
    expect(lines[row + 1]).toMatch(/^ {2}goal: \S/);
    // Header, rule, then each env's row followed by its goal line.
    const goals = lines.filter((l) => l.startsWith('  goal: ')).length;
    expect(goals).toBeGreaterThan(1);
    expect(lines.length).toBe(2 + 2 * goals);
    const j = await cli(['envs', '--json']);
    const envs = lastJson<{ envs: { id: string; goal: string; obsLow: (number | string | null)[]; obsHigh: (number | string | null)[]; actLow: (number | string)[] }[] }>([j.out]).envs;
    const cheetah = envs.find((e) => e.id === 'cheetah-run');
    expect(cheetah).toBeDefined();
    expect(t.out).toContain(`  goal: ${cheetah!.goal}`);
    expect(cheetah!.obsLow.every((x) => x === '-Infinity')).toBe(true);
    expect(cheetah!.obsHigh.every((x) => x === 'Infinity')).toBe(true);
    expect(cheetah!.actLow.every((x) => typeof x === 'number' && x === -1)).toBe(true);
    expect(JSON.stringify(envs)).not.toContain('null');
    const help = await cli(['envs', '--help']);
    expect(help.out).toContain('"-Infinity" and "Infinity"');
  });
});

describe('prefrl runs and tour', () => {
  it('a tour run (summary.json an array of per-env rows) is finished, with envs and episodes as its headline', async () => {
    const root = mkdtempSync(join(tmpdir(), 'runs-tour-'));
    try {
      const run = join(root, '20260101-000000-tour');
      mkdirSync(run);
      writeFileSync(join(run, 'config.json'), JSON.stringify({ command: 'tour', episodes: 2, seed: 0, envs: ['reacher', 'cheetah-run'] }));
      const row = (env: string, steps: number) => ({ env, policy: 'random', episodes: 2, steps, meanReturn: -3, returnStd: 1, returns: [-2, -4] });
      writeFileSync(join(run, 'summary.json'), JSON.stringify([row('reacher', 400), row('cheetah-run', 2000)]));
      const [e] = listRuns(root);
      expect(e).toMatchObject({ command: 'tour', state: 'finished', result: '2 envs, 4 episodes, 2400 steps', resume: null });
      expect(headline('tour', [])).toBeNull();
      const t = await cli(['runs', '--runs-dir', root]);
      expect(t.out).toMatch(/20260101-000000-tour +tour +- +- +0 +finished +2 envs, 4 episodes, 2400 steps/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('formatTable', () => {
  it('pads columns to their widest cell, and copes with a very long table (no spread of every row into Math.max)', () => {
    expect(formatTable(['a', 'bb'], [['xyz', '1'], ['', '22']])).toBe('a    bb\n---  --\nxyz  1\n     22');
    const rows = Array.from({ length: 300_000 }, (_, i) => [String(i), 'x']);
    const text = formatTable(['n', 'v'], rows);
    expect(text.split('\n')).toHaveLength(300_002);
    expect(text.split('\n')[1]).toBe('------  -');
  });
});

describe('flag docs', () => {
  it('offline --help says --dataset and --teacher are required except with --resume; no help shows "(default: required ...)"', async () => {
    const h = await cli(['offline', '--help']);
    expect(h.code).toBe(0);
    expect(h.out).toMatch(/\n {2}--dataset S +HDF5 dataset \(prefrl collect\); required, except with --resume\n/);
    expect(h.out).toMatch(/\n {2}--teacher vlm\|synthetic-vlm\|heron\|oracle\|human\n +who labels the pairs \(human: people in the viewer, see --human-\*; heron:<file> is short for --teacher heron --heron-config <file>\); required, except with --resume\n/);
    for (const c of COMMANDS) {
      const ch = await cli([...c.name.split(' '), '--help']);
      expect(ch.out, c.name).not.toContain('(default: required');
    }
  });
});
