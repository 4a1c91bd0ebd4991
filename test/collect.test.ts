/** `prefrl collect`: what it writes, and its --out checks (made before any work). */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readDataset } from '../agents/dataset.js';
import { PpoPolicy } from '../agents/ppo.js';
import { main } from '../scripts/cli.js';
import { captureCli, expectUsageError, lastJson } from './helpers/cli.js';

const root = mkdtempSync(join(tmpdir(), 'prefrl-collect-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const collect = async (args: string[]): Promise<{ code: number; json: Record<string, unknown> | null }> => {
  const c = captureCli();
  const code = await main(['collect', '--env', 'toy-reach', '--policy', 'random', '--steps', '60', '--runs-dir', join(root, 'runs'), '--quiet', '--json', ...args], c.ctx);
  return { code, json: code === 0 ? lastJson(c.out) : null };
};

describe('prefrl collect --out', () => {
  it('without --json, the summary ends with the commands that use the dataset (iql, offline)', async () => {
    const out = join(root, 'hint.h5');
    const c = captureCli();
    expect(await main(['collect', '--env', 'toy-reach', '--policy', 'random', '--steps', '60', '--out', out, '--runs-dir', join(root, 'runs'), '--quiet'], c.ctx), c.err.join('')).toBe(0);
    const lines = c.out.join('').trimEnd().split('\n');
    expect(lines.slice(-3, -1)).toEqual([`dataset: ${out}`, expect.stringMatching(/^run folder: .*collect-toy-reach-random$/)]);
    expect(lines[lines.length - 1]).toBe(`use it: prefrl iql --dataset ${out}   (or prefrl offline --dataset ${out} --teacher synthetic-vlm, preferences on its segments)`);
  });

  it('writes the dataset to --out, refuses to replace it without --force, replaces it with --force', async () => {
    const out = join(root, 'data.h5');
    const first = await collect(['--out', out, '--seed', '1']);
    expect(first.code).toBe(0);
    expect(first.json?.dataset).toBe(out);
    expect((await readDataset(out)).size).toBe(60);
    const before = readFileSync(out);

    await expectUsageError(['collect', '--env', 'toy-reach', '--policy', 'random', '--steps', '60', '--out', out], join(root, 'none1'), /--out .*data\.h5: already exists; pass --force to replace it/);
    expect(readFileSync(out).equals(before)).toBe(true);

    const again = await collect(['--out', out, '--seed', '2', '--force']);
    expect(again.code).toBe(0);
    expect(readFileSync(out).equals(before)).toBe(false);
    expect((await readDataset(out)).size).toBe(60);
  });

  it('an --out in a folder that does not exist, an --out that is a folder, and --force without --out are refused before a run folder exists', async () => {
    await expectUsageError(['collect', '--env', 'toy-reach', '--policy', 'random', '--out', join(root, 'missing', 'x.h5')], join(root, 'none2'), /--out .*x\.h5: .*missing is not an existing folder/);
    await expectUsageError(['collect', '--env', 'toy-reach', '--policy', 'random', '--out', root], join(root, 'none3'), /--out .*: is a folder; give a file name such as .*data\.h5/);
    await expectUsageError(['collect', '--env', 'toy-reach', '--policy', 'random', '--force'], join(root, 'none4'), /--force is only for --out/);
    expect(statSync(root).isDirectory()).toBe(true);
  });
});

describe('prefrl collect --policy medium-replay', () => {
  it('runs PPO for whole iterations and keeps only the episodes it finished', async () => {
    // PPO's defaults: 4 envs x 512 steps = 2,048 env steps an iteration, so --steps 300 is one
    // iteration; toy-reach episodes last 50 steps (no early end), so each env finishes 10 of
    // them (500 steps) and its last 12 steps, of an unfinished episode, are left out.
    const c = captureCli();
    const code = await main(['collect', '--env', 'toy-reach', '--policy', 'medium-replay', '--steps', '300', '--seed', '3', '--runs-dir', join(root, 'runs'), '--quiet', '--json'], c.ctx);
    expect(code, c.err.join('')).toBe(0);
    const json = lastJson(c.out);
    expect(json).toMatchObject({ policy: 'medium-replay', ppoSteps: 2048, transitions: 2000, episodes: 40, completeEpisodes: 40, meanLength: 50 });
    const ds = await readDataset(json.dataset as string);
    expect(ds.size).toBe(2000);
    const ends = [...ds.timeouts].map((t, i) => t || ds.terminals[i]);
    expect(ends.filter(Boolean)).toHaveLength(40);
    expect(ends[ends.length - 1]).toBe(1);
  });
});

describe('prefrl collect --checkpoint, rollout --policy', () => {
  /** A PPO checkpoint folder of toy-reach's sizes (6 observations, 2 actions) recording `env`. */
  const checkpoint = (name: string, env: string, obsDim = 6): string => {
    const dir = join(root, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'policy.json'), JSON.stringify(new PpoPolicy(obsDim, 2, [4]).toJSON()));
    writeFileSync(join(dir, 'checkpoint.json'), JSON.stringify({ env: { id: env } }));
    return dir;
  };

  it('a policy trained on another env, or of another size, is a usage error naming --checkpoint (exit 2, no run folder); one of this env collects', async () => {
    const other = checkpoint('ppo-reacher', 'reacher');
    await expectUsageError(
      ['collect', '--env', 'toy-reach', '--policy', 'expert', '--checkpoint', other, '--steps', '60'],
      join(root, 'none5'),
      new RegExp(`^prefrl collect: --checkpoint: ${join(other, 'checkpoint.json')} \\(env\\): the policy was trained on env "reacher", not "toy-reach"\n$`),
    );
    const wide = checkpoint('ppo-wide', 'toy-reach', 10);
    await expectUsageError(['collect', '--env', 'toy-reach', '--policy', 'medium', '--checkpoint', wide], join(root, 'none6'), /^prefrl collect: --checkpoint: .*policy\.json \(obsDim\): the policy takes 10 observations and gives 2 actions; env "toy-reach" has 6 and 2\n$/);
    const c = captureCli();
    const args = ['collect', '--env', 'toy-reach', '--policy', 'expert', '--checkpoint', checkpoint('ppo-own', 'toy-reach'), '--steps', '60', '--runs-dir', join(root, 'runs'), '--quiet', '--json'];
    expect(await main(args, c.ctx), c.err.join('')).toBe(0);
    expect(lastJson(c.out)).toMatchObject({ policy: 'expert', transitions: 60 });
  });

  it('rollout --policy of another env is a usage error naming --policy too (the same check)', async () => {
    const other = checkpoint('ppo-reacher-2', 'reacher');
    await expectUsageError(
      ['rollout', '--env', 'toy-reach', '--policy', other, '--episodes', '1'],
      join(root, 'none7'),
      new RegExp(`^prefrl rollout: --policy: ${join(other, 'checkpoint.json')} \\(env\\): the policy was trained on env "reacher", not "toy-reach"\n$`),
    );
  });
});

describe('prefrl collect --policy medium-replay with too few steps for an episode to end', () => {
  it('says no episode ended within --steps, how long episodes last, and to raise --steps (exit 2), instead of "no transitions to store"', async () => {
    // cheetah-run's episodes last 1,000 steps; one PPO iteration of 4 envs x 512 steps ends none.
    const root = mkdtempSync(join(tmpdir(), 'prefrl-collect-short-'));
    try {
      const c = captureCli();
      mkdirSync(join(root, 'runs'));
      expect(await main(['collect', '--env', 'cheetah-run', '--policy', 'medium-replay', '--steps', '1024', '--workers', '0', '--runs-dir', join(root, 'runs'), '--quiet'], c.ctx)).toBe(2);
      expect(c.err.join('').trimEnd().split('\n').at(-1)).toBe(
        "prefrl collect: --steps 1024: no episode ended within the 2048 env steps PPO ran over 4 envs (each about 512 steps; cheetah-run's episodes last up to 1000); the dataset keeps finished episodes only: raise --steps (or lower --num-envs)",
      );
      // Nothing of the run is of use: its folder is gone, as a usage error's.
      expect(readdirSync(join(root, 'runs'))).toEqual([]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, 60_000);
});
