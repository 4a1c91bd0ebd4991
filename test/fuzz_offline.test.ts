/**
 * `prefrl offline --resume` on a run folder whose files were damaged after its stages ran: a
 * config.json of null, relabelled rewards holding a NaN. Each is one line naming the file (exit 1)
 * and the run folder is left as it was (see the fuzzing report).
 */
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { datasetFromTrajectories, writeDataset } from '../agents/dataset.js';
import { readNpy, writeNpy } from '../core/npy.js';
import { main } from '../scripts/cli.js';
import { captureCli, lastJson } from './helpers/cli.js';
import { noisyToyTrajectories, useToyDataset } from './helpers/toy_dataset.js';

const toy = useToyDataset('prefrl-fuzz-offline-', 4, { wasm: true });

/** An offline run as small as it gets: 10 oracle labels, one-epoch one-member reward model, 5 IQL updates. */
const TINY = ['--teacher', 'oracle', '--labels', '10', '--segment-length', '10', '--updates', '5', '--eval-episodes', '1', '--hidden', '8,8', '--reward-hidden', '8', '--reward-epochs', '1', '--reward-members', '1', '--backend', 'wasm'];

async function cli(args: readonly string[]): Promise<{ code: number; out: string[]; err: string }> {
  const c = captureCli();
  const code = await main([...args, '--quiet'], c.ctx);
  return { code, out: c.out, err: c.err.join('') };
}

/** Every file under `dir` with its bytes, to see that a refused command changed nothing. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const name of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!name.isFile()) continue;
    const file = join(name.parentPath, name.name);
    out.set(file, readFileSync(file).toString('base64'));
  }
  return out;
}

describe('offline --resume with damaged files', () => {
  it('config.json of null, and a NaN among the relabelled rewards: one line naming the file, exit 1, the folder unchanged', async () => {
    const runs = join(toy.dir, 'runs');
    const first = await cli(['offline', '--dataset', toy.data, ...TINY, '--stage', 'pairs,label,reward,relabel', '--runs-dir', runs, '--json']);
    expect(first.code, first.err).toBe(0);
    const run = lastJson<{ runDir: string }>(first.out).runDir;

    // config.json emptied to null: it read saved.command of null (a TypeError with a stack).
    const nullConfig = join(toy.dir, 'null-config');
    cpSync(run, nullConfig, { recursive: true });
    writeFileSync(join(nullConfig, 'config.json'), 'null');
    const before1 = snapshot(nullConfig);
    const r1 = await cli(['offline', '--resume', nullConfig, '--stage', 'iql']);
    expect(r1.code, r1.err).toBe(1);
    expect(r1.err).toBe(`prefrl offline: ${join(nullConfig, 'config.json')}: cannot read: expected a JSON object, found null\n`);
    expect(snapshot(nullConfig)).toEqual(before1);

    // A NaN among the relabelled rewards: the IQL trainer refused it with a RangeError and a stack, naming no file.
    const nanRewards = join(toy.dir, 'nan-rewards');
    cpSync(run, nanRewards, { recursive: true });
    const file = join(nanRewards, 'artifacts', 'relabelled_rewards.npy');
    const rewards = readNpy(file);
    const data = Float64Array.from(rewards.data);
    expect(data.length).toBeGreaterThan(7);
    data[7] = Number.NaN;
    writeNpy(file, data, rewards.shape);
    const before2 = snapshot(nanRewards);
    const r2 = await cli(['offline', '--resume', nanRewards, '--stage', 'iql']);
    expect(r2.code, r2.err).toBe(1);
    // After the backend's info line, this one line ends stderr.
    expect(r2.err).toMatch(
      new RegExp(`^(\\[prefrl\\] [^\\n]*\\n)*prefrl offline: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(index \\[7\\]\\): reward 7 is NaN \\(the relabelled rewards must be finite\\); make them again: prefrl offline --resume .*nan-rewards --stage relabel --force\n$`),
    );
    // stages_asked.json records the stages the last command asked for (this one asked for iql): bookkeeping, not a result.
    before2.delete(join(nanRewards, 'stages_asked.json'));
    expect(snapshot(nanRewards)).toEqual(before2);
    expect(existsSync(join(nanRewards, 'artifacts', 'agents'))).toBe(false);
  });
});

describe('offline eval over stage records edited or damaged', () => {
  it('a number the summary copies that is text (or missing) is one line naming the file, the field and the stage that writes it (exit 1)', async () => {
    const runs = join(toy.dir, 'records-runs');
    const first = await cli(['offline', '--dataset', toy.data, ...TINY, '--stage', 'pairs,label,reward,relabel,iql', '--runs-dir', runs, '--json']);
    expect(first.code, first.err).toBe(0);
    const run = lastJson<{ runDir: string }>(first.out).runDir;
    const cases: [string, string, (r: Record<string, unknown>) => void, string][] = [
      ['reward-text', 'reward.json', (r) => (r.valAccuracy = '0.9'), 'valAccuracy): holds "0.9": expected a number or null; the reward stage writes it'],
      ['labels-missing', 'labels.json', (r) => delete r.preferences, 'preferences): missing: expected a number; the label stage writes it'],
      ['relabel-text', 'relabel.json', (r) => (r.returnCorrelation = 'high'), 'returnCorrelation): holds "high": expected a number or null; the relabel stage writes it'],
    ];
    for (const [name, file, damage, said] of cases) {
      const copy = join(toy.dir, name);
      cpSync(run, copy, { recursive: true });
      const path = join(copy, 'artifacts', file);
      const rec = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
      damage(rec);
      writeFileSync(path, JSON.stringify(rec));
      const r = await cli(['offline', '--resume', copy, '--stage', 'eval']);
      expect(r.code, r.err).toBe(1);
      expect(r.err).toContain(`prefrl offline: ${path} (${said}: run it again with --resume <run> --stage`);
      expect(existsSync(join(copy, 'summary.json'))).toBe(false);
    }
  });
});

describe('a dataset that records an env this prefrl does not know (attrs.env_id)', () => {
  it('iql and offline name the file and attribute (exit 1), not --env, a flag not given (exit 2); no run folder', async () => {
    const trajs = noisyToyTrajectories({ episodes: 2, noiseSeed: 1, firstSeed: 0, noise: () => 0.1 });
    const file = await writeDataset(join(toy.dir, 'unknown-env.h5'), datasetFromTrajectories(trajs, { envId: 'no-such-env' }, 'test'));
    const runs = join(toy.dir, 'unknown-env-runs');
    const line = `${file} (attrs.env_id): records env "no-such-env": unknown env "no-such-env" (known: cartpole-swingup, reacher, cheetah-run, hopper-hop, walker-walk, pusher, toy-reach; or a path to an MJCF .xml file); pass --env to name the env it comes from`;
    for (const args of [
      ['iql', '--dataset', file],
      ['offline', '--dataset', file, '--teacher', 'oracle', '--labels', '4'],
    ]) {
      const r = await cli([...args, '--runs-dir', runs]);
      expect(r.code, r.err).toBe(1);
      expect(r.err).toBe(`prefrl ${args[0]}: ${line}\n`);
    }
    expect(existsSync(runs)).toBe(false);
  });
});
