/**
 * `--like` of `prefrl iql` and `prefrl collect` (see train_like.test.ts for train's): a new run
 * with a run's saved settings and only the flags given changed; the flag a command requires may
 * come from the saved settings; collect never takes --out or --force from them, so a dataset
 * written where the first run was told is not written over.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../scripts/cli.js';
import { captureCli, expectUsageError, lastJson } from './helpers/cli.js';
import { useToyDataset } from './helpers/toy_dataset.js';

// 4 noisy toy-reach episodes of 50 steps.
const toy = useToyDataset('prefrl-like-', 4, { wasm: true });

async function cli(args: string[]) {
  const c = captureCli();
  const code = await main([...args, '--quiet', '--json'], c.ctx);
  return { code, out: c.out, err: c.err.join('') };
}

const config = (run: string) => JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')) as Record<string, unknown>;
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
/** The keys whose values differ between two configs. */
const changed = (a: Record<string, unknown>, b: Record<string, unknown>) => Object.keys({ ...a, ...b }).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k])).sort();

describe('prefrl iql --like', () => {
  it('with no flag changed the same run again (its --dataset from the saved settings); --seed changes only the seed', async () => {
    const runs = join(toy.dir, 'iql-runs');
    const first = await cli(['iql', '--dataset', toy.data, '--updates', '20', '--eval-every', '20', '--eval-episodes', '2', '--hidden', '8,8', '--batch-size', '32', '--backend', 'wasm', '--seed', '2', '--runs-dir', runs]);
    expect(first.code, first.err).toBe(0);
    const a = lastJson<{ runDir: string; finalTrueReturns: number[]; rewardScale: number }>(first.out);
    const again = await cli(['iql', '--like', a.runDir]);
    expect(again.code, again.err).toBe(0);
    const b = lastJson<typeof a>(again.out);
    expect(b.runDir).not.toBe(a.runDir);
    expect(b.finalTrueReturns).toEqual(a.finalTrueReturns);
    expect(b.rewardScale).toBe(a.rewardScale);
    expect(changed(config(a.runDir), config(b.runDir))).toEqual(['like']);
    const other = await cli(['iql', '--like', a.runDir, '--seed', '5']);
    expect(other.code, other.err).toBe(0);
    const c = lastJson<typeof a>(other.out);
    expect(basename(c.runDir)).toMatch(/-iql-toy-reach-true-s5(-\d+)?$/);
    // (resolved: the IQL settings the run used, the seed among them.)
    expect(changed(config(a.runDir), config(c.runDir))).toEqual(['like', 'resolved', 'seed']);
    expect(changed(config(a.runDir).resolved as Record<string, unknown>, config(c.runDir).resolved as Record<string, unknown>)).toEqual(['seed']);
  }, 120_000);

  it('--dataset is still required when neither the command line nor the saved settings give it', async () => {
    const runs = join(toy.dir, 'never');
    await expectUsageError(['iql', '--updates', '5'], runs, /^prefrl iql: missing required flag --dataset\n$/);
    const file = join(toy.dir, 'iql-flags.json');
    writeFileSync(file, JSON.stringify({ updates: 5, seed: 1 }));
    await expectUsageError(['iql', '--like', file], runs, new RegExp(`^prefrl iql: missing required flag --dataset \\(--like ${file.replace(/[.]/g, '\\.')} does not give it either\\)\n$`));
    // A relative dataset path in the saved settings is read from the current folder: the error says where it came from.
    const rel = join(toy.dir, 'iql-rel.json');
    writeFileSync(rel, JSON.stringify({ dataset: 'no-such-data.h5', updates: 5 }));
    await expectUsageError(['iql', '--like', rel], runs, new RegExp(`^prefrl iql: --dataset: "no-such-data\\.h5" not found \\(the value of --dataset in --like ${rel.replace(/[.]/g, '\\.')}'s saved settings; a relative path is read from the current folder: give --dataset to use another\\)\n$`));
    // A train run's settings are not iql's.
    const train = join(toy.dir, 'train-like.json');
    writeFileSync(train, JSON.stringify({ command: 'train', env: 'toy-reach' }));
    await expectUsageError(['iql', '--like', train], runs, /--like: .*train-like\.json is a `prefrl train` run's config, not an iql run's/);
  });
});

describe('prefrl collect --like', () => {
  it('the same dataset again in the new run folder, never over the first run\'s --out file; --policy from the saved settings', async () => {
    const runs = join(toy.dir, 'collect-runs');
    const out = join(toy.dir, 'given.h5');
    const first = await cli(['collect', '--env', 'toy-reach', '--policy', 'random', '--steps', '200', '--seed', '1', '--out', out, '--force', '--runs-dir', runs]);
    expect(first.code, first.err).toBe(0);
    const a = lastJson<{ runDir: string; dataset: string; meanReturn: number; transitions: number }>(first.out);
    expect(a.dataset).toBe(out);
    const before = sha(out);
    const again = await cli(['collect', '--like', a.runDir]);
    expect(again.code, again.err).toBe(0);
    const b = lastJson<typeof a>(again.out);
    // Written in its own run folder (the saved --out and --force are not taken), the first file untouched.
    expect(b.dataset).toBe(join(b.runDir, 'artifacts', 'dataset.h5'));
    expect(sha(out)).toBe(before);
    expect([b.meanReturn, b.transitions]).toEqual([a.meanReturn, 200]);
    expect(changed(config(a.runDir), config(b.runDir))).toEqual(['force', 'like', 'out']);
    expect(config(b.runDir)).toMatchObject({ policy: 'random', steps: 200, seed: 1, force: false });
  }, 120_000);
});
