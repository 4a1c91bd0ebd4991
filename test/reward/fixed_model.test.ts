/**
 * PPO on a fixed, saved reward model (`prefrl train --reward model:<dir>`): the flag's parsing
 * and errors (exit code 2 naming the flag, before a run folder exists), and a run on a model
 * whose output is known by hand (every weight 0, output bias 0.5, so each step scores
 * tanh(0.5), then the saved standardisation (r - 0.4) x 2), which is what PPO's log must show.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { initBackend } from '../../core/backend.js';
import { systemClock } from '../../core/clock.js';
import { UsageError } from '../../core/errors.js';
import { silentLogger } from '../../core/log.js';
import { Rng } from '../../core/rng.js';
import { createRunDir } from '../../core/run.js';
import { runPreferenceLoop } from '../../reward/loop.js';
import { RewardNet } from '../../reward/network.js';
import { LabelStore } from '../../reward/store.js';
import { main } from '../../scripts/cli.js';
import { resumedRewardSource, rewardSource } from '../../scripts/commands/train.js';
import { captureCli, expectUsageError, lastJson } from '../helpers/cli.js';

let dir = '';
let modelDir = '';
/** toy-reach's size (6 observation values, 2 action values); every step scores tanh(0.5), standardised to (tanh(0.5) - 0.4) x 2. */
function knownModel(): RewardNet {
  const net = RewardNet.create({ obsDim: 6, actDim: 2, hidden: [4], members: 1 }, new Rng(1));
  const zeros = net.getMemberWeights(0).map((w) => new Float32Array(w.length));
  zeros[zeros.length - 1][0] = 0.5;
  net.setMemberWeights(0, zeros);
  net.meta = { rewardAffine: { shift: 0.4, scale: 2 } };
  return net;
}
const KNOWN_REWARD = (Math.tanh(0.5) - 0.4) * 2; // 0.12423...

/** The learned-reward means PPO logged, one per iteration. */
function learnedMeans(runDir: string): number[] {
  return readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, number>)
    .filter((m) => m['reward/learned_mean'] !== undefined)
    .map((m) => m['reward/learned_mean']);
}

beforeAll(async () => {
  await initBackend('wasm');
  dir = mkdtempSync(join(tmpdir(), 'prefrl-fixed-'));
  // Saved the way a train run keeps it, so the run-folder form of the flag finds it.
  modelDir = join(dir, 'run-a', 'artifacts', 'reward_model');
  const net = knownModel();
  net.save(modelDir);
  net.dispose();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('rewardSource (--reward)', () => {
  it('reads learned, true and model:<dir> with a model folder or a run folder holding one', () => {
    expect(rewardSource('learned')).toEqual({ kind: 'learned' });
    expect(rewardSource('true')).toEqual({ kind: 'true' });
    expect(rewardSource(`model:${modelDir}`)).toEqual({ kind: 'model', dir: modelDir });
    expect(rewardSource(`model:${join(dir, 'run-a')}`)).toEqual({ kind: 'model', dir: modelDir });
  });

  it.each([
    ['model:', /--reward: expected learned, true or model:<dir>, got "model:"/],
    ['truth', /--reward: expected learned, true or model:<dir>, got "truth"/],
    ['model:/no/such/folder', /--reward: \/no\/such\/folder holds no reward model \(no model.json there or in artifacts\/reward_model\)/],
  ])('rejects %j naming the flag', (value, message) => {
    expect(() => rewardSource(value)).toThrow(UsageError);
    expect(() => rewardSource(value)).toThrow(message);
  });
});

describe('prefrl train --reward model:<dir>', () => {
  it('refuses a model trained on another env with the same sizes (its meta.env), naming --reward and the folder, before a run folder exists', async () => {
    const other = join(dir, 'other-env');
    const net = knownModel();
    net.meta = { ...net.meta, env: { id: 'reacher', modelHash: 'abc' } };
    net.save(other);
    net.dispose();
    await expectUsageError(
      ['train', '--env', 'toy-reach', '--reward', `model:${other}`, '--steps', '512', '--num-envs', '2', '--num-steps', '256', '--workers', '0'],
      join(dir, 'refused-runs'),
      new RegExp(`\\nprefrl train: --reward: the model was trained on segments of reacher; this run is on toy-reach \\(${other.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\)\\n$`),
    );
  });

  it('trains PPO on the saved model\'s output (with its saved standardisation) and keeps a copy of the model in the run', async () => {
    const { ctx, out, err } = captureCli();
    const args = ['train', '--env', 'toy-reach', '--reward', `model:${join(dir, 'run-a')}`, '--steps', '1024', '--num-envs', '2', '--num-steps', '256', '--workers', '0', '--eval-every', '4096', '--eval-episodes', '1', '--runs-dir', join(dir, 'runs'), '--name', 'fixed', '--quiet', '--json'];
    expect(await main(args, ctx), err.join('')).toBe(0);
    const summary = lastJson<{ reward: string; teacher: string | null; labelsUsed: number; runDir: string }>(out);
    expect(summary.reward).toBe('model');
    expect(summary.teacher).toBeNull();
    expect(summary.labelsUsed).toBe(0);
    const iters = readFileSync(join(summary.runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>).filter((m) => m['reward/learned_mean'] !== undefined);
    expect(iters.length).toBe(2);
    for (const m of iters) {
      expect(m['reward/learned_mean']).toBeCloseTo(KNOWN_REWARD, 5);
      expect(m['reward/true_mean']).toBeLessThan(0); // toy-reach's true reward charges the distance
    }
    const copy = JSON.parse(readFileSync(join(summary.runDir, 'artifacts', 'reward_model', 'model.json'), 'utf8')) as { meta: { rewardAffine: { shift: number; scale: number } } };
    expect(copy.meta.rewardAffine).toEqual({ shift: 0.4, scale: 2 });
  });

  it('resumes from the run\'s copy of the model, loaded once, after the original folder is gone', async () => {
    const own = join(dir, 'gone', 'reward_model');
    const net = knownModel();
    net.save(own);
    net.dispose();
    const first = captureCli();
    const args = ['train', '--env', 'toy-reach', '--reward', `model:${own}`, '--steps', '1024', '--num-envs', '2', '--num-steps', '256', '--workers', '0', '--eval-every', '512', '--eval-episodes', '1', '--runs-dir', join(dir, 'runs'), '--name', 'fixed-resume', '--quiet', '--json'];
    expect(await main(args, first.ctx), first.err.join('')).toBe(0);
    const runDir = lastJson<{ runDir: string }>(first.out).runDir;
    expect(learnedMeans(runDir).length).toBe(2);
    // The run is cut short of a longer budget: as if it had been killed at its last checkpoint
    // (1,024 steps) of 2,048; and the folder it was started from is deleted.
    const cfgFile = join(runDir, 'config.json');
    writeFileSync(cfgFile, JSON.stringify({ ...(JSON.parse(readFileSync(cfgFile, 'utf8')) as object), steps: 2048 }));
    rmSync(join(dir, 'gone'), { recursive: true });
    expect(resumedRewardSource(`model:${own}`, runDir)).toEqual({ kind: 'model', dir: join(runDir, 'artifacts', 'reward_model') });
    const load = vi.spyOn(RewardNet, 'load');
    try {
      const again = captureCli();
      expect(await main(['train', '--resume', runDir, '--quiet', '--json'], again.ctx), again.err.join('')).toBe(0);
      expect(load).toHaveBeenCalledTimes(1);
      expect(load).toHaveBeenCalledWith(join(runDir, 'artifacts', 'reward_model'));
      const summary = lastJson<{ envSteps: number }>(again.out);
      expect(summary.envSteps).toBe(2048);
    } finally {
      load.mockRestore();
    }
    // Two more PPO iterations, on the same fixed reward.
    const means = learnedMeans(runDir);
    expect(means.length).toBe(4);
    for (const m of means) expect(m).toBeCloseTo(KNOWN_REWARD, 5);
  });

  it('disposes the model it was given when PPO cannot start', async () => {
    const net = knownModel();
    const run = createRunDir({ root: join(dir, 'runs'), name: 'no-ppo', config: {} });
    const store = LabelStore.open(join(run.path, 'labels.sqlite'));
    try {
      const loop = runPreferenceLoop({
        env: { id: 'no-such-env' },
        ppo: { totalSteps: 1024, seed: 0, numEnvs: 2, numSteps: 256, workers: 0 },
        reward: 'model',
        rewardModel: net,
        preferenceModel: 'partial-return',
        budget: 0,
        labelsPerRound: 1,
        segmentLength: 10,
        query: 'uniform',
        feedbackEvery: 1024,
        warmupSteps: 0,
        poolEpisodes: 4,
        evalEpisodes: 1,
        evalEvery: 4096,
        run,
        store,
        logger: silentLogger,
        clock: systemClock,
      });
      await expect(loop).rejects.toThrow(/no-such-env/);
      expect(net.isDisposed).toBe(true);
    } finally {
      store.close();
      run.close();
      net.dispose();
    }
  });

  it.each([
    [['--env', 'reacher'], /--reward: the model in .* takes 6 observation and 2 action values; reacher has 10 and 2/],
    [['--env', 'toy-reach', '--reward-weights', 'at_goal=0'], /--reward-weights: applies to --reward true only/],
  ])('rejects %j with exit code 2 before creating a run', async (extra, message) => {
    await expectUsageError(['train', ...extra, '--reward', `model:${modelDir}`], join(dir, 'bad'), message);
  });
});
