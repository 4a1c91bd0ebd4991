/**
 * `prefrl train --like <run folder | flags.json>`: a new run with a finished run's settings (or a
 * JSON file's), changing only the flags given with it. With nothing changed it is the same run
 * again (same seed, same numbers); the saved settings are checked as the command line's are; what
 * cannot be used is refused naming the file, key or flag, before any run folder is made.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../scripts/cli.js';
import { captureCli, expectUsageError, lastJson } from './helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'prefrl-train-like-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TINY = ['--env', 'toy-reach', '--backend', 'wasm', '--steps', '1024', '--num-envs', '2', '--num-steps', '128', '--workers', '0', '--eval-every', '512', '--eval-episodes', '2'];
const LEARNED = ['--warmup-steps', '256', '--labels', '20', '--labels-per-round', '10', '--feedback-every', '256', '--reward-hidden', '4', '--reward-epochs', '2', '--seed', '3'];

interface Summary {
  runDir: string;
  finalTrueReturn: number;
  finalTrueReturns: number[];
  labelsUsed: number;
  rewardAccuracy: number;
}

async function cli(args: string[]) {
  const c = captureCli();
  const code = await main([...args, '--quiet', '--json'], c.ctx);
  return { code, out: c.out, err: c.err.join('') };
}

const config = (run: string) => JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')) as Record<string, unknown>;

let first: Summary;

beforeAll(async () => {
  const r = await cli(['train', ...TINY, ...LEARNED, '--runs-dir', join(dir, 'runs')]);
  expect(r.code, r.err).toBe(0);
  first = lastJson<Summary>(r.out);
}, 120_000);

describe('--like a train run folder', () => {
  it('with no flag changed: a new run folder, the same settings, and the same numbers (same seed)', async () => {
    const r = await cli(['train', '--like', first.runDir]);
    expect(r.code, r.err).toBe(0);
    const again = lastJson<Summary>(r.out);
    expect(again.runDir).not.toBe(first.runDir);
    // Made beside the first (its saved --runs-dir), named as the first was (train-<env>-<teacher>-s<seed>).
    expect(join(again.runDir, '..')).toBe(join(first.runDir, '..'));
    expect(basename(again.runDir)).toMatch(/-train-toy-reach-oracle-s3(-\d+)?$/);
    expect(again.finalTrueReturns).toEqual(first.finalTrueReturns);
    expect(again.labelsUsed).toBe(20);
    expect(again.rewardAccuracy).toBe(first.rewardAccuracy);
    // Its config is the first's, plus where it came from.
    const { like, ...rest } = config(again.runDir);
    expect(like).toBe(first.runDir);
    expect(rest).toEqual(config(first.runDir));
  }, 120_000);

  it('the flags given change only themselves: another seed gives another run, every other setting kept', async () => {
    const r = await cli(['train', '--like', first.runDir, '--seed', '4', '--labels', '10']);
    expect(r.code, r.err).toBe(0);
    const other = lastJson<Summary>(r.out);
    expect(basename(other.runDir)).toMatch(/-train-toy-reach-oracle-s4(-\d+)?$/);
    expect(other.labelsUsed).toBe(10);
    const a = config(first.runDir);
    const b = config(other.runDir);
    expect([b.seed, b.labels]).toEqual([4, 10]);
    const changed = Object.keys({ ...a, ...b }).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
    expect(changed.sort()).toEqual(['labels', 'like', 'seed']);
    // The new run's saved settings (with where they came from) are a run's like any other: --resume reads them.
    const again = await cli(['train', '--resume', other.runDir]);
    expect(again.code, again.err).toBe(0);
    expect(lastJson<{ alreadyFinished: boolean; runDir: string }>(again.out)).toMatchObject({ alreadyFinished: true, runDir: other.runDir });
  }, 120_000);

  it('a setting of another prefrl version (no such flag now) is left out with a warning naming it', async () => {
    const old = join(dir, 'old-run');
    mkdirSync(old);
    writeFileSync(join(old, 'config.json'), JSON.stringify({ ...config(first.runDir), rewardTemperature: 2, steps: 512, reward: 'true' }));
    const r = await cli(['train', '--like', old, '--runs-dir', join(dir, 'old-runs')]);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain(`--like: ${join(old, 'config.json')} holds settings this prefrl has no flag for, left out: rewardTemperature`);
    expect(config(lastJson<Summary>(r.out).runDir)).toMatchObject({ steps: 512, reward: 'true', seed: 3 });
  }, 120_000);

  it("a saved --expert is left out when the flags given pick a teacher that does not read it; kept (and checked) otherwise", async () => {
    const regret = join(dir, 'regret-run');
    mkdirSync(regret);
    writeFileSync(join(regret, 'config.json'), JSON.stringify({ ...config(first.runDir), teacher: 'regret', expert: join(dir, 'no-such-expert'), steps: 512, labels: 10 }));
    // The saved teacher reads it: checked, and refused naming the flag.
    const kept = await cli(['train', '--like', regret, '--runs-dir', join(dir, 'regret-kept')]);
    expect(kept.code).toBe(2);
    expect(kept.err).toMatch(/--expert: .*no-such-expert/);
    // --teacher oracle does not read it: the run goes on without it.
    const r = await cli(['train', '--like', regret, '--teacher', 'oracle', '--runs-dir', join(dir, 'regret-runs')]);
    expect(r.code, r.err).toBe(0);
    expect(config(lastJson<Summary>(r.out).runDir)).toMatchObject({ teacher: 'oracle', labels: 10 });
    expect(config(lastJson<Summary>(r.out).runDir).expert).toBeUndefined();
  }, 120_000);
});

describe('--like of reward and rollout', () => {
  it("reward: the same model again from the first run's label store (its --store from the saved settings); --seed changes only the seed", async () => {
    const runs = join(dir, 'reward-runs');
    const a = await cli(['reward', '--store', join(first.runDir, 'labels.sqlite'), '--reward-epochs', '2', '--reward-members', '1', '--reward-hidden', '8', '--backend', 'wasm', '--seed', '2', '--runs-dir', runs]);
    expect(a.code, a.err).toBe(0);
    const r = lastJson<{ runDir: string; valNll: number; returnCorrelation: number }>(a.out);
    const b = await cli(['reward', '--like', r.runDir]);
    expect(b.code, b.err).toBe(0);
    const again = lastJson<typeof r>(b.out);
    expect(again.runDir).not.toBe(r.runDir);
    expect([again.valNll, again.returnCorrelation]).toEqual([r.valNll, r.returnCorrelation]);
    const c = await cli(['reward', '--like', r.runDir, '--seed', '3']);
    expect(c.code, c.err).toBe(0);
    const x = config(r.runDir);
    const y = config(lastJson<typeof r>(c.out).runDir);
    expect(Object.keys({ ...x, ...y }).filter((k) => JSON.stringify(x[k]) !== JSON.stringify(y[k])).sort()).toEqual(['like', 'seed']);
    // --store is still required when nothing gives it.
    await expectUsageError(['reward', '--seed', '1'], join(dir, 'never-reward'), /^prefrl reward: missing required flag --store\n$/);
  }, 120_000);

  it('rollout: the same episodes again; another --seed, other episodes', async () => {
    const runs = join(dir, 'rollout-runs');
    const a = await cli(['rollout', '--env', 'toy-reach', '--episodes', '2', '--seed', '3', '--runs-dir', runs]);
    expect(a.code, a.err).toBe(0);
    const r = lastJson<{ runDir: string; returns: number[] }>(a.out);
    const b = await cli(['rollout', '--like', r.runDir]);
    expect(b.code, b.err).toBe(0);
    expect(lastJson<typeof r>(b.out).returns).toEqual(r.returns);
    const c = await cli(['rollout', '--like', r.runDir, '--seed', '4']);
    expect(c.code, c.err).toBe(0);
    expect(lastJson<typeof r>(c.out).returns).not.toEqual(r.returns);
  }, 120_000);
});

describe('--like a JSON file of train flags', () => {
  it('runs with the file\'s flags (defaults for the rest) and the command line\'s on top', async () => {
    const file = join(dir, 'flags.json');
    writeFileSync(file, JSON.stringify({ env: 'toy-reach', reward: 'true', steps: 512, numEnvs: 2, numSteps: 128, workers: 0, evalEvery: 512, evalEpisodes: 1, seed: 7 }));
    const r = await cli(['train', '--like', file, '--seed', '8', '--runs-dir', join(dir, 'file-runs')]);
    expect(r.code, r.err).toBe(0);
    const s = lastJson<Summary>(r.out);
    expect(basename(s.runDir)).toMatch(/-train-toy-reach-true-s8(-\d+)?$/);
    // 512 steps in rollouts of 2 x 128; the defaults fill in what the file leaves out.
    expect(config(s.runDir)).toMatchObject({ steps: 512, seed: 8, like: file, labels: 1000, segmentLength: 50 });
  }, 120_000);

  it('a key that is no train flag, a value out of range, or a file that is no JSON object: refused naming the file and key (exit 1), no run made', async () => {
    const runs = join(dir, 'never');
    const refused = async (file: string, message: RegExp) => {
      const r = await cli(['train', '--like', file, '--runs-dir', runs]);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(message);
      expect(existsSync(runs)).toBe(false);
    };
    const typo = join(dir, 'typo.json');
    writeFileSync(typo, JSON.stringify({ env: 'toy-reach', lables: 100 }));
    await refused(typo, /typo\.json \(lables\): unknown key "lables" \(allowed: env, task, reward, /);
    const neg = join(dir, 'neg.json');
    writeFileSync(neg, JSON.stringify({ env: 'toy-reach', steps: -5 }));
    await refused(neg, /neg\.json \(steps\): .*-5/);
    const arr = join(dir, 'array.json');
    writeFileSync(arr, '[1, 2]');
    await refused(arr, /array\.json: expected a JSON object of train flags, got an array/);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"env": ');
    await refused(bad, /bad\.json: /);
  });

  it("another command's run folder: a usage error naming it", async () => {
    const iql = join(dir, 'iql-run');
    mkdirSync(iql);
    writeFileSync(join(iql, 'config.json'), JSON.stringify({ command: 'iql', dataset: 'd.h5' }));
    await expectUsageError(['train', '--like', iql], join(dir, 'never1'), /--like: .*iql-run is a `prefrl iql` run's config, not a train run's/);
  });

  it('nothing to read, an empty value, or --like with --resume: a usage error', async () => {
    const runs = join(dir, 'never2');
    await expectUsageError(['train', '--like', join(dir, 'missing')], runs, /--like: .*missing not found \(name a train run folder, runs\/<id>, or a JSON file of train flags\)/);
    await expectUsageError(['train', '--like', ''], runs, /--like: empty; name a train run folder/);
    // A device would be read forever (found by qa_fuzz); a pipe is read as a file.
    await expectUsageError(['train', '--like', '/dev/zero'], runs, /--like: \/dev\/zero is a device, not a file; name a train run folder, runs\/<id>, or a JSON file of train flags/);
    const empty = join(dir, 'empty-folder');
    mkdirSync(empty);
    await expectUsageError(['train', '--like', empty], runs, /--like: .*empty-folder is not a run folder \(no config.json\)/);
    await expectUsageError(['train', '--like', first.runDir, '--resume', first.runDir], runs, /--like starts a new run and --resume goes on with one: give one of them/);
  });
});
