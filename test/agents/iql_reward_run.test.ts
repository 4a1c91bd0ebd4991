/**
 * `prefrl iql --reward model:<dir>` reads a reward model folder or a run folder holding one in
 * artifacts/reward_model (what `prefrl reward` prints as its hint, and what `prefrl train`
 * accepts); a folder with neither is a usage error naming --reward, before a run folder exists.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDataset } from '../../agents/dataset.js';
import { initBackend } from '../../core/backend.js';
import { Rng } from '../../core/rng.js';
import { randomPolicy, rollout } from '../../envs/rollout.js';
import { TOY_SPEC, ToyReachEnv } from '../../envs/toy.js';
import { RewardNet } from '../../reward/network.js';
import { main } from '../../scripts/cli.js';
import { captureCli, expectUsageError, lastJson } from '../helpers/cli.js';
import { toyReachDataset } from '../helpers/toy_dataset.js';

let dir = '';
let data = '';
let runDir = '';

const TINY = ['--updates', '4', '--batch-size', '16', '--hidden', '8', '--eval-every', '4', '--eval-episodes', '1', '--backend', 'wasm', '--quiet'];

beforeAll(async () => {
  await initBackend('wasm');
  dir = mkdtempSync(join(tmpdir(), 'prefrl-iql-run-'));
  const env = new ToyReachEnv();
  const trajs = rollout(env, randomPolicy(TOY_SPEC, new Rng(1)), { episodes: 3, seed: 4 });
  env.dispose();
  const ds = toyReachDataset(trajs);
  data = await writeDataset(join(dir, 'toy.h5'), ds);
  // A run folder as prefrl reward leaves it: the model in artifacts/reward_model.
  runDir = join(dir, 'runs', '20260101-000000-reward-toy-reach');
  const net = RewardNet.create({ obsDim: TOY_SPEC.obsDim, actDim: TOY_SPEC.actDim, hidden: [4], members: 1 }, new Rng(2));
  net.save(join(runDir, 'artifacts', 'reward_model'));
  net.dispose();
  mkdirSync(join(dir, 'empty-run'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('prefrl iql --reward model:<run folder>', () => {
  it('relabels with the model a run folder holds in artifacts/reward_model, as prefrl train does', async () => {
    const { ctx, out, err } = captureCli();
    const code = await main(['iql', '--dataset', data, '--reward', `model:${runDir}`, ...TINY, '--runs-dir', join(dir, 'iql'), '--json'], ctx);
    expect(code, err.join('')).toBe(0);
    const j = lastJson<{ reward: string; rewardKind: string; rewardTransitionCorrelation: number | null }>(out);
    expect(j.reward).toBe(`model:${runDir}`);
    expect(j.rewardKind).toBe('reward');
    expect(err.join('')).toContain(`reward from the model in ${join(runDir, 'artifacts', 'reward_model')}`);
  }, 60_000);

  it('a model trained on another env (its meta.env) is refused naming --reward, even with the same sizes; the same env from another model file only warns', async () => {
    const other = join(dir, 'other-env-model');
    const net = RewardNet.create({ obsDim: TOY_SPEC.obsDim, actDim: TOY_SPEC.actDim, hidden: [4], members: 1 }, new Rng(2));
    net.meta = { env: { id: 'reacher', modelHash: 'abc' } };
    net.save(other);
    await expectUsageError(['iql', '--dataset', data, '--reward', `model:${other}`], join(dir, 'bad-runs'), /\nprefrl iql: --reward: the model was trained on segments of reacher; the dataset was recorded on toy-reach\n$/);
    const edited = join(dir, 'edited-model');
    net.meta = { env: { id: 'toy-reach', modelHash: 'abc' } };
    net.save(edited);
    net.dispose();
    const { ctx, err } = captureCli();
    expect(await main(['iql', '--dataset', data, '--reward', `model:${edited}`, ...TINY, '--runs-dir', join(dir, 'iql-edited')], ctx), err.join('')).toBe(0);
    expect(err.join('')).toContain(`warn: --reward: the model was trained on segments of toy-reach from another model file (hash abc); the dataset was recorded on toy-reach with hash ${TOY_SPEC.modelHash}`);
  }, 60_000);

  it('a folder with no model.json there or in artifacts/reward_model, and an empty model:, exit 2 naming --reward', async () => {
    await expectUsageError(['iql', '--dataset', data, '--reward', `model:${join(dir, 'empty-run')}`], join(dir, 'bad-runs'), /--reward: .*empty-run holds no reward model \(no model\.json there or in artifacts\/reward_model\)/);
    await expectUsageError(['iql', '--dataset', data, '--reward', 'model:'], join(dir, 'bad-runs'), /--reward: expected true, success or model:<dir>, got "model:"/);
    // Behaviour cloning uses no reward: one given to it is refused rather than only renaming the run.
    await expectUsageError(['iql', '--dataset', data, '--algo', 'bc', '--reward', 'success'], join(dir, 'bad-runs'), /^prefrl iql: --reward success: behaviour cloning \(--algo bc\) uses no reward; drop --reward, or use --algo iql\n$/);
  });

  it('IQL settings that leave it nothing to learn (expectile 0 or 1, target rate 0) and equal reference returns exit 2 naming the flag, before any run folder', async () => {
    for (const tau of ['0', '1']) {
      await expectUsageError(['iql', '--dataset', data, '--expectile', tau], join(dir, 'bad-runs'), new RegExp(`^prefrl iql: --expectile: must be above 0 and below 1 \\(0 and 1 weigh one side of the value loss by 0\\), got ${tau}\n$`));
    }
    await expectUsageError(['iql', '--dataset', data, '--target-rate', '0'], join(dir, 'bad-runs'), /^prefrl iql: --target-rate: must be above 0 \(0 never moves the target Q networks\), got 0\n$/);
    await expectUsageError(
      ['iql', '--dataset', data, '--ref-random', '5', '--ref-expert', '5'],
      join(dir, 'bad-runs'),
      /^prefrl iql: --ref-random and --ref-expert: both are 5; the normalised score divides by their difference, so give two different returns\n$/,
    );
  });
});
