/**
 * Usage-error messages found in a walk through the README: each names the word or flag to blame
 * and exits 2. Also what the walk found hard to tell apart (run folder names).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../scripts/cli.js';
import { captureCli, expectUsageError } from './helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'prefrl-cli-messages-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const c = captureCli();
  const code = await main(argv, c.ctx);
  return { code, out: c.out.join(''), err: c.err.join('') };
}

describe('CLI usage-error messages', () => {
  it('an unknown command is named alone, not with the flags after it', async () => {
    const r = await run(['frobnicate', '--quiet', '--seed', '3']);
    expect(r.code).toBe(2);
    expect(r.err).toBe('prefrl: unknown command "frobnicate" (run prefrl --help for the list)\n');
    expect(r.out).toBe('');
  });

  it('a flag before the command says that flags follow the command', async () => {
    const r = await run(['--json', 'envs']);
    expect(r.code).toBe(2);
    expect(r.err).toBe('prefrl: --json before a command: flags follow the command (prefrl <command> --json) (run prefrl --help for the list)\n');
  });

  it('train --resume with a flag of the saved config lists what may be given, without --runs-dir (accepted, no effect)', async () => {
    const run = join(dir, 'train-run');
    mkdirSync(run);
    writeFileSync(join(run, 'config.json'), JSON.stringify({ command: 'train' }));
    const expected = `prefrl train: --resume: the run's saved config is used; drop --steps (a resumed run can change only --json, --quiet, --workers, --inline-envs and the --human-* flags; to change the others, start a new run like this one: prefrl train --like ${run} with --steps and its new value)`;
    const escaped = expected.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    await expectUsageError(['train', '--resume', run, '--steps', '5'], join(dir, 'no-runs'), new RegExp(`^${escaped}\n$`));
  });

  it('train --preference-model regret --reward-input obs is a usage error at the start (no run folder), not a crash at the first feedback round', async () => {
    await expectUsageError(
      ['train', '--env', 'toy-reach', '--preference-model', 'regret', '--reward-input', 'obs', '--steps', '4096', '--warmup-steps', '2048', '--labels', '20', '--labels-per-round', '20', '--workers', '0'],
      join(dir, 'regret-obs'),
      /^prefrl train: --reward-input: the regret model \(--preference-model regret\) learns an optimal advantage, which needs the action: use obs-action or obs-next-obs, not obs\n$/,
    );
  });

  it('a train run with the regret model says so in its folder name; the default model\'s name is as before', async () => {
    const names: string[] = [];
    for (const model of ['regret', 'partial-return']) {
      const runs = join(dir, `names-${model}`);
      const r = await run(['train', '--env', 'toy-reach', '--preference-model', model, '--teacher', 'oracle', '--steps', '2048', '--warmup-steps', '512', '--labels', '10', '--labels-per-round', '10', '--workers', '0', '--eval-episodes', '1', '--runs-dir', runs, '--quiet']);
      expect(r.code, r.err).toBe(0);
      names.push(...readdirSync(runs).map((n) => n.replace(/^\d{8}-\d{6}-/, '')));
    }
    expect(names).toEqual(['train-toy-reach-oracle-regret-s0', 'train-toy-reach-oracle-s0']);
  });

  it('a train run whose labels are too few to hold any out says "held-out accuracy n/a" at the end, as its round lines do (it printed NaN)', async () => {
    const r = await run(['train', '--env', 'toy-reach', '--teacher', 'oracle', '--steps', '4096', '--labels', '20', '--workers', '0', '--eval-episodes', '1', '--runs-dir', join(dir, 'few-labels'), '--quiet']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^labels used 20, /m);
    expect(r.out).toMatch(/^reward model: held-out accuracy n\/a, return correlation -?\d\.\d{3}, EPIC \d\.\d{3}$/m);
  });

  it('a true-reward train run says no "labels used" in its summary (it said "labels used 0")', async () => {
    const r = await run(['train', '--env', 'toy-reach', '--reward', 'true', '--steps', '512', '--num-envs', '2', '--num-steps', '256', '--workers', '0', '--eval-episodes', '1', '--runs-dir', join(dir, 'true-reward'), '--quiet']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^env steps 512, wall \d+ s$/m);
    expect(r.out).not.toContain('labels used');
    expect(r.out).not.toContain('reward model');
  });

  it('prefrl help <command> prints that command\'s help; help <group> lists its subcommands; help <unknown> exits 2', async () => {
    const a = await run(['help', 'labels', 'stats']);
    expect(a.code).toBe(0);
    expect(a.out).toMatch(/^Usage: prefrl labels stats \[flags\]\n/);
    const b = await run(['help', 'bench']);
    expect(b.code).toBe(0);
    expect(b.out).toMatch(/^prefrl bench: a command group; its subcommands:\n/);
    const c = await run(['help', 'frobnicate']);
    expect(c.code).toBe(2);
    expect(c.err).toBe('prefrl: unknown command "frobnicate" (run prefrl --help for the list)\n');
    const d = await run(['help']);
    expect(d.code).toBe(0);
    expect(d.out).toMatch(/^prefrl: reinforcement learning from trajectory comparisons/);
  });

  it('runs --command with a name no command writes run folders under (a misspelling) is a usage error naming --command, not an empty listing', async () => {
    const root = join(dir, 'runs-command');
    mkdirSync(join(root, '20261201-100000-train-reacher-oracle-s0'), { recursive: true });
    writeFileSync(join(root, '20261201-100000-train-reacher-oracle-s0', 'config.json'), JSON.stringify({ command: 'train', envConfig: { id: 'reacher' } }));
    const bad = await run(['runs', '--runs-dir', root, '--command', 'trian']);
    expect(bad.code).toBe(2);
    expect(bad.err).toBe('prefrl runs: --command: no command called "trian" makes run folders (those that do: tour, rollout, train, collect, iql, offline, reward; prefrl demo and bench oracle make train runs)\n');
    expect(bad.out).toBe('');
    // A real command with no runs of its own is an empty listing, as before; one with runs lists them.
    const none = await run(['runs', '--runs-dir', root, '--command', 'iql']);
    expect([none.code, none.out]).toEqual([0, `no run folders in ${root} made by iql\n`]);
    const train = await run(['runs', '--runs-dir', root, '--command', 'train']);
    expect(train.code).toBe(0);
    expect(train.out).toContain('20261201-100000-train-reacher-oracle-s0  train    reacher');
  });

  it('offline: --vlm-* flags with another teacher are refused naming each flag given', async () => {
    await expectUsageError(
      ['offline', '--dataset', join(dir, 'none.h5'), '--teacher', 'oracle', '--vlm-model', 'm', '--vlm-rpm', '3', '--vlm-hide-robot'],
      join(dir, 'vlm-flags'),
      /^prefrl offline: --vlm-\*: only for --teacher vlm \(given: --vlm-model, --vlm-hide-robot, --vlm-rpm; the teacher is oracle\)\n$/,
    );
    await expectUsageError(['offline', '--dataset', join(dir, 'none.h5'), '--teacher', 'synthetic-vlm', '--vlm-frames', '4'], join(dir, 'vlm-flags'), /^prefrl offline: --vlm-\*: only for --teacher vlm \(given: --vlm-frames; the teacher is synthetic-vlm\)\n$/);
  });

  it('demo with a bad --teacher or --env prints the one-line usage error alone (its stage line comes only once the run\'s checks pass), and makes no run folder', async () => {
    await expectUsageError(['demo', '--teacher', 'orcle'], join(dir, 'demo-teacher'), /^prefrl demo: --teacher: unknown teacher "orcle" \(expected oracle, [^\n]*\)\n$/);
    await expectUsageError(['demo', '--env', 'reachr'], join(dir, 'demo-env'), /^prefrl demo: --env: unknown env "reachr" \(known: [^\n]*\)\n$/);
  });

  it('train --resume of a run whose config.json holds a bad value (edited by hand, damaged) stops naming the file and key, before anything in the folder changes', async () => {
    for (const [key, value, message] of [
      ['steps', 'many', 'expected a number, got a string "many"'],
      ['steps', -5, 'must be >= 1, got -5'],
      ['query', 'random', 'expected one of uniform|disagreement|entropy|kcenter|kcenter-disagreement|kcenter-entropy, got "random"'],
      ['rewardHidden', '256,256', 'expected an array of strings, got "256,256"'],
    ] as const) {
      const runDir = join(dir, `bad-config-${key}-${String(value)}`);
      mkdirSync(runDir);
      const config = JSON.stringify({ command: 'train', env: 'toy-reach', envConfig: { id: 'toy-reach' }, [key]: value });
      writeFileSync(join(runDir, 'config.json'), config);
      const r = await run(['train', '--resume', runDir, '--quiet']);
      expect(r.code, r.err).toBe(1);
      expect(r.err).toBe(`prefrl train: ${join(runDir, 'config.json')} (${key}): ${message}\n`);
      expect(readdirSync(runDir)).toEqual(['config.json']);
      expect(readFileSync(join(runDir, 'config.json'), 'utf8')).toBe(config);
    }
  });

  it('offline --resume of a run whose config.json holds a bad value names the file and key (exit 1), not a flag nobody gave, and changes nothing', async () => {
    for (const [key, value, message] of [
      ['labels', 'many', 'expected a positive integer, got many'],
      ['queryOversample', 0, 'expected a positive integer, got 0'],
      ['vlm.timeoutS', -1, null],
    ] as const) {
      const runDir = join(dir, `bad-offline-config-${key}`);
      mkdirSync(runDir);
      const cfg: Record<string, unknown> = { dataset: join(dir, 'none.h5'), teacher: key.startsWith('vlm.') ? 'vlm' : 'oracle' };
      if (key.startsWith('vlm.')) cfg.vlm = { baseUrl: 'http://127.0.0.1:9/v1', model: 'm', [key.slice(4)]: value };
      else cfg[key] = value;
      const config = JSON.stringify({ command: 'offline', config: cfg });
      writeFileSync(join(runDir, 'config.json'), config);
      const r = await run(['offline', '--resume', runDir, '--quiet']);
      expect(r.code, r.err).toBe(1);
      if (message !== null) expect(r.err).toBe(`prefrl offline: ${join(runDir, 'config.json')} (${key}): ${message}\n`);
      else expect(r.err).toMatch(new RegExp(`^prefrl offline: ${join(runDir, 'config.json').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(${key.replace('.', '\\.')}\\): `));
      expect(readdirSync(runDir)).toEqual(['config.json']);
      expect(readFileSync(join(runDir, 'config.json'), 'utf8')).toBe(config);
    }
  });

  it('iql and offline --dataset naming a folder (the collect run folder, not its dataset) is a usage error naming --dataset and the file to give, not EISDIR', async () => {
    const collectRun = join(dir, '20261201-100000-collect-reacher-random');
    mkdirSync(join(collectRun, 'artifacts'), { recursive: true });
    writeFileSync(join(collectRun, 'artifacts', 'dataset.h5'), '');
    const other = join(dir, 'datasets');
    mkdirSync(other);
    const named = `--dataset: ${collectRun} is a folder (a prefrl collect run); give its dataset file, ${join(collectRun, 'artifacts', 'dataset.h5')}`;
    const plain = `--dataset: ${other} is a folder; give an HDF5 dataset file (prefrl collect writes one to <run folder>/artifacts/dataset.h5, or to --out)`;
    const exactly = (text: string) => new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\n$`);
    await expectUsageError(['iql', '--dataset', collectRun], join(dir, 'ds-runs'), exactly(`prefrl iql: ${named}`));
    await expectUsageError(['iql', '--dataset', other], join(dir, 'ds-runs'), exactly(`prefrl iql: ${plain}`));
    await expectUsageError(['offline', '--dataset', collectRun, '--teacher', 'oracle'], join(dir, 'ds-runs'), exactly(`prefrl offline: ${named}`));
    await expectUsageError(['offline', '--dataset', other, '--teacher', 'synthetic-vlm'], join(dir, 'ds-runs'), exactly(`prefrl offline: ${plain}`));
  });

  it('iql --batch-size larger than the dataset warns once, naming the flag and the dataset size; equal to it, no warning', async () => {
    const runs = join(dir, 'iql-batch');
    const c = captureCli();
    expect(await main(['collect', '--env', 'toy-reach', '--policy', 'random', '--steps', '100', '--runs-dir', runs, '--quiet', '--json'], c.ctx), c.err.join('')).toBe(0);
    const dataset = JSON.parse(c.out.join('').trim().split('\n').at(-1) as string).dataset as string;
    const iql = async (batch: string) => {
      const r = captureCli();
      expect(await main(['iql', '--dataset', dataset, '--batch-size', batch, '--updates', '1', '--eval-every', '1', '--eval-episodes', '1', '--hidden', '8,8', '--runs-dir', runs, '--quiet'], r.ctx), r.err.join('')).toBe(0);
      return r.err.join('').split('\n').filter((l) => l.includes('--batch-size'));
    };
    expect(await iql('500')).toEqual([`[prefrl] warn: --batch-size 500 is more than the 100 transitions of ${dataset}: each batch repeats transitions (drawn with replacement) and every update costs 500 rows`]);
    expect(await iql('100')).toEqual([]);
  });
});
