/**
 * PPO on a fixed, saved reward model (`prefrl train --reward model:<dir>`): the flag's parsing
 * and errors (exit code 2 naming the flag, before a run folder exists), and a run on a model
 * whose output is known by hand (every weight 0, output bias 0.5, so each step scores
 * tanh(0.5), then the saved standardisation (r - 0.4) x 2), which is what PPO's log must show.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../core/backend.js';
import { systemClock } from '../../core/clock.js';
import { UsageError } from '../../core/errors.js';
import { Logger } from '../../core/log.js';
import { Rng } from '../../core/rng.js';
import { RewardNet } from '../../reward/network.js';
import { main } from '../../scripts/cli.js';
import { rewardSource } from '../../scripts/commands/train.js';
import { expectUsageError } from '../helpers/cli_usage.js';

let dir = '';
let modelDir = '';
beforeAll(async () => {
  await initBackend('wasm');
  dir = mkdtempSync(join(tmpdir(), 'prefrl-fixed-'));
  // toy-reach: 6 observation values, 2 action values.
  const net = RewardNet.create({ obsDim: 6, actDim: 2, hidden: [4], members: 1 }, new Rng(1));
  const zeros = net.getMemberWeights(0).map((w) => new Float32Array(w.length));
  zeros[zeros.length - 1][0] = 0.5;
  net.setMemberWeights(0, zeros);
  net.meta = { rewardAffine: { shift: 0.4, scale: 2 } };
  // Saved the way a train run keeps it, so the run-folder form of the flag finds it.
  modelDir = join(dir, 'run-a', 'artifacts', 'reward_model');
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
  it('trains PPO on the saved model\'s output (with its saved standardisation) and keeps a copy of the model in the run', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = { stdout: { write: (t: string) => void out.push(t) }, stderr: { write: (t: string) => void err.push(t) }, tty: false };
    const ctx = { io, logger: new Logger(io.stderr), clock: systemClock };
    const args = ['train', '--env', 'toy-reach', '--reward', `model:${join(dir, 'run-a')}`, '--steps', '1024', '--num-envs', '2', '--num-steps', '256', '--workers', '0', '--eval-every', '4096', '--eval-episodes', '1', '--runs-dir', join(dir, 'runs'), '--name', 'fixed', '--quiet', '--json'];
    expect(await main(args, ctx), err.join('')).toBe(0);
    const lines = out.join('').trimEnd().split('\n');
    const summary = JSON.parse(lines[lines.length - 1]) as { reward: string; teacher: string | null; labelsUsed: number; runDir: string };
    expect(summary.reward).toBe('model');
    expect(summary.teacher).toBeNull();
    expect(summary.labelsUsed).toBe(0);
    const expected = (Math.tanh(0.5) - 0.4) * 2; // 0.12423...
    const iters = readFileSync(join(summary.runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>).filter((m) => m['reward/learned_mean'] !== undefined);
    expect(iters.length).toBe(2);
    for (const m of iters) {
      expect(m['reward/learned_mean']).toBeCloseTo(expected, 5);
      expect(m['reward/true_mean']).toBeLessThan(0); // toy-reach's true reward charges the distance
    }
    const copy = JSON.parse(readFileSync(join(summary.runDir, 'artifacts', 'reward_model', 'model.json'), 'utf8')) as { meta: { rewardAffine: { shift: number; scale: number } } };
    expect(copy.meta.rewardAffine).toEqual({ shift: 0.4, scale: 2 });
  });

  it.each([
    [['--env', 'reacher'], /--reward: the model in .* takes 6 observation and 2 action values; reacher has 10 and 2/],
    [['--env', 'toy-reach', '--reward-weights', 'at_goal=0'], /--reward-weights: applies to --reward true only/],
  ])('rejects %j with exit code 2 before creating a run', async (extra, message) => {
    await expectUsageError(['train', ...extra, '--reward', `model:${modelDir}`], join(dir, 'bad'), message);
  });
});
