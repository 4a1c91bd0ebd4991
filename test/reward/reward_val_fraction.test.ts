/**
 * --reward-val-fraction: the share of the preference labels held out for the reward model's
 * early stopping (trainRewardModel's valFraction), the same flag in train, offline and reward:
 * range-checked with one line naming the flag, recorded in the run's config.json, used (the
 * held-out counts checked by hand: round(f x preferences), none under 5, at least one pair left
 * to train on), and refused with --resume like every other reward flag. Old offline configs
 * without it resume at the default they ran with.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDataset } from '../../agents/dataset.js';
import { initBackend } from '../../core/backend.js';
import { InputError } from '../../core/errors.js';
import { Rng } from '../../core/rng.js';
import { resolveOfflineConfig } from '../../reward/offline.js';
import { RewardNet } from '../../reward/network.js';
import { makePair, segmentReturn } from '../../reward/segments.js';
import { LabelStore } from '../../reward/store.js';
import { labelId } from '../../reward/teachers/synthetic.js';
import { MIN_VALIDATION_PAIRS, REWARD_VAL_FRACTION_MAX, rewardTrainOptions, TRAIN_DEFAULTS, trainRewardModel } from '../../reward/train.js';
import type { Label, Pair } from '../../reward/types.js';
import { main } from '../../scripts/cli.js';
import { captureCli, expectUsageError, lastJson } from '../helpers/cli.js';
import { noisyToyTrajectories, toyReachDataset } from '../helpers/toy_dataset.js';
import { makePairs } from '../viewer/helpers.js';

let root = '';
let store = '';
let pairs: Pair[] = [];

/** The oracle's answer: the segment with the higher true return (0.5 on a tie). */
function oracle(p: Pair): Label {
  const ra = segmentReturn(p.a);
  const rb = segmentReturn(p.b);
  return { id: labelId('oracle', p.id), pairId: p.id, teacher: 'oracle', kind: 'preference', probFirst: ra > rb ? 1 : ra < rb ? 0 : 0.5 };
}

beforeAll(async () => {
  await initBackend('wasm');
  root = mkdtempSync(join(tmpdir(), 'prefrl-val-fraction-'));
  const segs = (await makePairs('toy-reach', { episodes: 40, steps: 50, length: 10, seed: 3 })).flatMap((p) => [p.a, p.b]);
  const half = Math.floor(segs.length / 2);
  pairs = segs.slice(0, half).map((a, i) => makePair(a, segs[half + i]));
  store = join(root, 'labels.sqlite');
  const s = LabelStore.open(store, { envId: 'toy-reach', modelHash: pairs[0].a.modelHash });
  try {
    s.putPairs(pairs);
    s.addLabels(pairs.map(oracle));
  } finally {
    s.close();
  }
}, 60_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

const TINY_TRAIN = [
  'train', '--env', 'toy-reach', '--steps', '1024', '--num-envs', '2', '--num-steps', '128', '--workers', '0', '--warmup-steps', '256', '--eval-every', '4096', '--eval-episodes', '1',
  '--labels', '20', '--labels-per-round', '10', '--feedback-every', '256', '--reward-members', '1', '--reward-hidden', '4', '--reward-epochs', '1', '--backend', 'wasm',
];

describe('--reward-val-fraction: range', () => {
  it.each([
    ['1', 'must be <= 0.9, got 1'],
    ['10', 'must be <= 0.9, got 10'],
    ['-0.1', 'must be >= 0, got -0.1'],
    ['ten', 'expected a number, got "ten"'],
  ])('%s is refused in train, offline and reward: exit 2, one line naming the flag, no run folder', async (value, words) => {
    const runs = join(root, 'refused');
    const msg = (cmd: string) => new RegExp(`^prefrl ${cmd}: --reward-val-fraction: ${words.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n$`);
    await expectUsageError([...TINY_TRAIN, '--reward-val-fraction', value], runs, msg('train'));
    await expectUsageError(['offline', '--dataset', join(root, 'none.h5'), '--teacher', 'oracle', '--reward-val-fraction', value], runs, msg('offline'));
    await expectUsageError(['reward', '--store', store, '--reward-val-fraction', value], runs, msg('reward'));
  });

  it('the library bound and the flag: [0, 1) in trainRewardModel, 0 to 0.9 on the command line; default 0.1 in all three commands', async () => {
    expect(REWARD_VAL_FRACTION_MAX).toBe(0.9);
    expect(TRAIN_DEFAULTS.valFraction).toBe(0.1);
    expect(rewardTrainOptions({ rewardEpochs: 2, rewardPatience: 3, rewardLr: 1e-3, rewardWeightDecay: 0, rewardInputL1: 0, rewardInputProx: 0, rewardFlipRate: 0, rewardValFraction: 0.4 }).valFraction).toBe(0.4);
    const net = RewardNet.create({ input: 'obs-action', ignoreObs: [], obsDim: pairs[0].a.obsDim, actDim: pairs[0].a.actDim, members: 1, hidden: [4] }, new Rng(1));
    try {
      await expect(trainRewardModel(net, pairs.slice(0, 10), pairs.slice(0, 10).map(oracle), { rng: new Rng(2), epochs: 1, valFraction: 1 })).rejects.toThrow('train: valFraction must be in [0, 1), got 1');
    } finally {
      net.dispose();
    }
  });
});

describe('trainRewardModel: held-out pairs for a fraction near 1', () => {
  it('keeps at least one pair to train on: 10 pairs at 0.95 hold out 9 (round gives 10), 5 pairs at 0.9 hold out none (4 is under 5)', async () => {
    const net = RewardNet.create({ input: 'obs-action', ignoreObs: [], obsDim: pairs[0].a.obsDim, actDim: pairs[0].a.actDim, members: 1, hidden: [4] }, new Rng(1));
    try {
      const ten = pairs.slice(0, 10);
      const r10 = await trainRewardModel(net, ten, ten.map(oracle), { rng: new Rng(2), epochs: 1, valFraction: 0.95 });
      expect([r10.trainPairs, r10.valPairs]).toEqual([1, 9]);
      const five = pairs.slice(0, 5);
      const r5 = await trainRewardModel(net, five, five.map(oracle), { rng: new Rng(2), epochs: 1, valFraction: 0.9 });
      expect([r5.trainPairs, r5.valPairs]).toEqual([5, 0]);
      expect(MIN_VALIDATION_PAIRS).toBe(5);
    } finally {
      net.dispose();
    }
  });
});

describe('--reward-val-fraction: used and recorded', () => {
  it('prefrl reward: round(f x preferences) held out, the rest trained on; config.json records it (0.1 when not given)', async () => {
    const n = pairs.length;
    expect(n).toBeGreaterThanOrEqual(20);
    for (const [given, f] of [[undefined, 0.1], ['0.5', 0.5], ['0', 0]] as const) {
      const c = captureCli();
      const args = ['reward', '--store', store, '--reward-members', '1', '--reward-hidden', '4', '--reward-epochs', '2', '--backend', 'wasm', '--runs-dir', join(root, 'reward'), '--quiet', '--json'];
      expect(await main(given === undefined ? args : [...args, '--reward-val-fraction', given], c.ctx), c.err.join('')).toBe(0);
      const j = lastJson<{ preferences: number; trainPairs: number; valPairs: number; runDir: string }>(c.out);
      expect(j.preferences).toBe(n);
      const held = Math.round(f * n) >= MIN_VALIDATION_PAIRS ? Math.round(f * n) : 0;
      expect([j.trainPairs, j.valPairs]).toEqual([n - held, held]);
      expect((JSON.parse(readFileSync(join(j.runDir, 'config.json'), 'utf8')) as { rewardValFraction: number }).rewardValFraction).toBe(f);
    }
  });

  it('prefrl train: each round holds out round(f x labels so far) (10 labels at 0.5: 5, trained on 5; at the default 0.1: 1, under 5, so none); config.json records it; --resume refuses it', async () => {
    const trainPairs = async (extra: readonly string[], name: string): Promise<{ first: number; runDir: string }> => {
      const c = captureCli();
      expect(await main([...TINY_TRAIN, ...extra, '--runs-dir', join(root, 'train'), '--name', name, '--quiet', '--json'], c.ctx), c.err.join('')).toBe(0);
      const runDir = lastJson<{ runDir: string }>(c.out).runDir;
      const rows = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
      const first = rows.find((r) => r['reward/train_pairs'] !== undefined)!['reward/train_pairs'];
      return { first, runDir };
    };
    const half = await trainPairs(['--reward-val-fraction', '0.5'], 'half');
    expect(half.first).toBe(5);
    expect((JSON.parse(readFileSync(join(half.runDir, 'config.json'), 'utf8')) as { rewardValFraction: number }).rewardValFraction).toBe(0.5);
    const plain = await trainPairs([], 'plain');
    expect(plain.first).toBe(10);
    const k = captureCli();
    expect(await main(['train', '--resume', half.runDir, '--reward-val-fraction', '0.2'], k.ctx)).toBe(2);
    expect(k.err.join('')).toMatch(/^prefrl train: --resume: the run's saved config is used; drop --reward-val-fraction \(/);
  }, 60_000);
});

describe('--reward-val-fraction in prefrl offline', () => {
  it('resolveOfflineConfig: default 0.1 (also for a saved config.json from before the flag), 0.9 taken, above it refused naming the flag, or the file and key for a saved config', () => {
    const base = { dataset: 'd.h5', teacher: 'oracle' as const };
    expect(resolveOfflineConfig(base).rewardValFraction).toBe(0.1);
    expect(resolveOfflineConfig({ ...base, rewardValFraction: 0.9 }).rewardValFraction).toBe(0.9);
    expect(() => resolveOfflineConfig({ ...base, rewardValFraction: 1 })).toThrow('--reward-val-fraction: expected a fraction from 0 to 0.9, got 1');
    const file = join(root, 'config.json');
    try {
      resolveOfflineConfig({ ...base, rewardValFraction: -1 }, { file, flagKeys: new Set() });
      expect.unreachable('a bad saved value is refused');
    } catch (e) {
      expect(e).toBeInstanceOf(InputError);
      expect((e as Error).message).toBe(`${file} (rewardValFraction): expected a fraction from 0 to 0.9, got -1`);
    }
  });

  it('a run records it in config.json and uses it (reward.json: round(0.25 x preferences) held out); --resume refuses a changed value', async () => {
    const trajs = noisyToyTrajectories({ episodes: 12, noiseSeed: 5, firstSeed: 10, noise: (k) => (k % 3) * 0.5 });
    const data = await writeDataset(
      join(root, 'toy.h5'),
      toyReachDataset(trajs),
    );
    const c = captureCli();
    const args = ['offline', '--dataset', data, '--teacher', 'oracle', '--labels', '40', '--segment-length', '10', '--reward-members', '1', '--reward-hidden', '4', '--reward-epochs', '2'];
    const run = [...args, '--reward-val-fraction', '0.25', '--stage', 'pairs,label,reward', '--backend', 'wasm', '--runs-dir', join(root, 'offline'), '--quiet', '--json'];
    expect(await main(run, c.ctx), c.err.join('')).toBe(0);
    const runDir = lastJson<{ runDir: string }>(c.out).runDir;
    const saved = JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8')) as { config: { rewardValFraction: number } };
    expect(saved.config.rewardValFraction).toBe(0.25);
    const reward = JSON.parse(readFileSync(join(runDir, 'artifacts', 'reward.json'), 'utf8')) as { preferences: number; trainPairs: number; valPairs: number };
    expect(reward.preferences).toBeGreaterThanOrEqual(20);
    const held = Math.round(0.25 * reward.preferences);
    expect([reward.trainPairs, reward.valPairs]).toEqual([reward.preferences - held, held]);
    const k = captureCli();
    expect(await main(['offline', '--resume', runDir, '--reward-val-fraction', '0.5'], k.ctx)).toBe(2);
    expect(k.err.join('')).toMatch(/^prefrl offline: --resume: the run's saved config is used; drop --reward-val-fraction/);
    expect(existsSync(join(runDir, 'artifacts', 'reward_model'))).toBe(true);
  }, 60_000);
});
