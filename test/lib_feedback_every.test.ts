/**
 * runPreferenceLoop's `feedbackEvery` may be left out, as `prefrl train`'s --feedback-every may:
 * the loop then spreads the label budget over the first half of training as the command does
 * (loopFeedbackEvery). It was a required option whose default a script had to work out from a
 * doc comment. Checked: the formula on hand-computed cases, the command's own derived value (its
 * run's config.json) for the same settings, and the steps at which a run without the option asks.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as api from '../index.js';
import { loopFeedbackEvery } from '../reward/loop.js';
import { main } from '../scripts/cli.js';
import { labelPlan } from '../scripts/commands/train.js';
import { captureCli, lastJson } from './helpers/cli.js';

let root = '';
beforeAll(async () => {
  await api.initBackend('wasm');
  root = mkdtempSync(join(tmpdir(), 'prefrl-lib-feedback-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('feedbackEvery left out', () => {
  it("is prefrl train's default: max(numEnvs x numSteps, floor((steps - warm-up) / (2 x rounds)))", () => {
    // prefrl train's defaults: 300,000 steps, 8,192 warm-up, 1,000 labels by 100, 4 x 512 per rollout:
    // 291,808 / 20 = 14,590.4.
    expect(loopFeedbackEvery({ ppo: { totalSteps: 300_000, seed: 0 }, warmupSteps: 8192, budget: 1000, labelsPerRound: 100 })).toBe(14_590);
    // 4,096 / (2 x 3) = 682.7, above a rollout of 2 x 256.
    expect(loopFeedbackEvery({ ppo: { totalSteps: 4096, numEnvs: 2, numSteps: 256, seed: 0 }, warmupSteps: 0, budget: 30, labelsPerRound: 10 })).toBe(682);
    // A last round of fewer labels is a round: ceil(25 / 10) = 3.
    expect(loopFeedbackEvery({ ppo: { totalSteps: 4096, numEnvs: 2, numSteps: 256, seed: 0 }, warmupSteps: 0, budget: 25, labelsPerRound: 10 })).toBe(682);
    // Never under one rollout: 1,000 / 20 = 50 < 4 x 512.
    expect(loopFeedbackEvery({ ppo: { totalSteps: 1000, seed: 0 }, warmupSteps: 0, budget: 100, labelsPerRound: 10 })).toBe(2048);
    // A true-reward run's budget of 0 gives a number, not NaN or Infinity.
    expect(loopFeedbackEvery({ ppo: { totalSteps: 1000, numEnvs: 1, numSteps: 100, seed: 0 }, warmupSteps: 0, budget: 0, labelsPerRound: 10 })).toBe(500);
  });

  it("is what the command derives for the same flags (its run's config.json)", { timeout: 60_000 }, async () => {
    const { ctx, out, err } = captureCli();
    const flags = ['--env', 'toy-reach', '--reward', 'true', '--steps', '200', '--num-envs', '1', '--num-steps', '32', '--workers', '0', '--labels', '3', '--labels-per-round', '2', '--warmup-steps', '10'];
    const code = await main(['train', ...flags, '--eval-every', '100000', '--eval-episodes', '1', '--runs-dir', root, '--quiet', '--json'], ctx);
    expect(code, err.join('')).toBe(0);
    const config = JSON.parse(readFileSync(join(lastJson<{ runDir: string }>(out).runDir, 'config.json'), 'utf8'));
    // (200 - 10) / (2 x 2) = 47.5, above a rollout of 32.
    expect(config.derived.feedbackEvery).toBe(47);
    expect(loopFeedbackEvery({ ppo: { totalSteps: 200, numEnvs: 1, numSteps: 32, seed: 0 }, warmupSteps: 10, budget: 3, labelsPerRound: 2 })).toBe(47);
  });

  it('a run without it asks at those steps; a feedbackEvery that is not a whole number >= 1 is still refused', { timeout: 60_000 }, async () => {
    const env = await api.makeEnv('toy-reach');
    const run = api.createRunDir({ root, name: 'no-feedback-every', config: {} });
    const store = api.LabelStore.open(join(run.path, 'labels.sqlite'));
    const options = {
      env: { id: 'toy-reach' },
      ppo: { totalSteps: 2048, numEnvs: 2, numSteps: 128, numMinibatches: 4, workers: 0, seed: 0 },
      reward: 'learned' as const,
      teacher: api.makeTeacher('oracle', { env: env.spec, rng: new api.Rng(0).fork('teacher') }),
      preferenceModel: 'partial-return' as const,
      budget: 20,
      labelsPerRound: 10,
      segmentLength: 10,
      query: 'uniform' as const,
      warmupSteps: 0,
      poolEpisodes: 8,
      rewardNet: { hidden: [8], members: 1 },
      rewardTrain: { epochs: 2 },
      evalEpisodes: 1,
      evalEvery: 4096,
      run,
      store,
      logger: api.silentLogger,
      clock: api.systemClock,
    };
    try {
      await expect(api.runPreferenceLoop({ ...options, feedbackEvery: 0 })).rejects.toThrow(new RangeError('runPreferenceLoop: option feedbackEvery must be a whole number >= 1, got 0'));
      // 2,048 / (2 x 2) = 512 steps between rounds. The pool is empty at step 0, so the first round
      // comes after the first rollout (256 steps), the second 512 steps later.
      const summary = await api.runPreferenceLoop(options);
      expect(summary.labelsUsed).toBe(20);
      const rounds = readFileSync(join(run.path, 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
        .filter((r) => 'reward/val_accuracy' in r)
        .map((r) => r.step);
      expect(rounds).toEqual([256, 768]);
    } finally {
      store.close();
      run.close();
      env.dispose();
    }
  });
});

describe("train's stated label plan (labelPlan)", () => {
  it('says one round where the budget fits it, and the rounds and a smaller last round otherwise', () => {
    // It had said "20 labels, 100 per round every ... steps" for --labels 20.
    expect(labelPlan(20, 100, 14_590)).toBe('20 labels in one round');
    expect(labelPlan(1, 100, 500)).toBe('1 label in one round');
    expect(labelPlan(100, 100, 500)).toBe('100 labels in one round');
    // ceil(1,000 / 100) = 10 rounds of 100.
    expect(labelPlan(1000, 100, 14_590)).toBe('1000 labels, 100 per round every 14590 steps (10 rounds)');
    // ceil(25 / 10) = 3 rounds: 10, 10, then 25 - 20 = 5.
    expect(labelPlan(25, 10, 682)).toBe('25 labels, 10 per round (the last 5) every 682 steps (3 rounds)');
  });
});
