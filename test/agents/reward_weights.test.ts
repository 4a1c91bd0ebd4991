/**
 * PPO on the env's reward terms under other weights (`prefrl train --reward true
 * --reward-weights name=w,...`, reward-term ablations): the re-weighted reward checked against
 * sums done by hand, the flag's parsing and its errors (exit code 2 naming the flag, before a
 * run folder exists), a run with the env's own weights matching a plain true-reward run bit for
 * bit, and a zeroed term changing what PPO sees but not what the log calls the true reward.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { weightedTermsReward } from '../../agents/types.js';
import { UsageError } from '../../core/errors.js';
import { ToyReachEnv } from '../../envs/toy.js';
import { main } from '../../scripts/cli.js';
import { termWeights } from '../../scripts/commands/train.js';
import { captureCli, expectUsageError, lastJson } from '../helpers/cli.js';

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'prefrl-rw-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const none = new Float32Array(0);

describe('weightedTermsReward', () => {
  it('sums each transition\'s terms under the given weights', () => {
    // Two transitions of three terms: [0.1, 1, 0.5] and [0.2, 0, 2] under weights [-5, 0, -0.05].
    const fn = weightedTermsReward([-5, 0, -0.05]);
    const r = fn({ n: 2, obs: none, actions: none, nextObs: none, terms: Float64Array.from([0.1, 1, 0.5, 0.2, 0, 2]) }, new Float64Array(2));
    expect(r[0]).toBeCloseTo(-0.5 - 0.025, 6);
    expect(r[1]).toBeCloseTo(-1.0 - 0.1, 6);
  });

  it('refuses transitions without terms or with the wrong number of them', () => {
    const fn = weightedTermsReward([1, 2]);
    expect(() => fn({ n: 1, obs: none, actions: none, nextObs: none }, new Float64Array(1))).toThrow(/carry no reward terms/);
    expect(() => fn({ n: 2, obs: none, actions: none, nextObs: none, terms: new Float64Array(3) }, new Float64Array(2))).toThrow(/3 term values for 2 transitions of 2 terms/);
  });
});

describe('termWeights (--reward-weights)', () => {
  const spec = new ToyReachEnv().spec; // goal_distance -1, control_effort -0.05, at_goal 0.5

  it('overrides the listed terms and keeps the env\'s weights for the rest', () => {
    expect(termWeights(['at_goal=0'], spec, 'true')).toEqual([-1, -0.05, 0]);
    expect(termWeights(['goal_distance=-2.5', 'control_effort=0'], spec, 'true')).toEqual([-2.5, 0, 0.5]);
    expect(termWeights([], spec, 'true')).toBeUndefined();
  });

  it.each([
    [['at_goal'], /expected name=weight with a reward term of toy-reach \(goal_distance, control_effort, at_goal\), got "at_goal"/],
    [['speed=1'], /reward term of toy-reach .* got "speed=1"/],
    [['at_goal=x'], /at_goal: expected a finite number, got "x"/],
    [['at_goal='], /at_goal: expected a finite number, got ""/],
    [['at_goal=Infinity'], /at_goal: expected a finite number/],
    [['at_goal=1', 'at_goal=2'], /at_goal given twice/],
  ])('rejects %j naming the flag', (list, message) => {
    expect(() => termWeights(list, spec, 'true')).toThrow(UsageError);
    expect(() => termWeights(list, spec, 'true')).toThrow(message);
    expect(() => termWeights(list, spec, 'true')).toThrow(/^--reward-weights: /);
  });

  it('refuses a learned reward', () => {
    expect(() => termWeights(['at_goal=0'], spec, 'learned')).toThrow(/--reward-weights: applies to --reward true only/);
  });
});

/** A short true-reward PPO run on toy-reach with extra flags: its --json summary and metrics lines. */
async function trainTrue(extra: string[], name: string): Promise<{ summary: { finalTrueReturn: number; finalTrueReturns: number[]; runDir: string }; metrics: Record<string, number>[] }> {
  const { ctx, out, err } = captureCli();
  const args = ['train', '--env', 'toy-reach', '--reward', 'true', '--steps', '2048', '--num-envs', '2', '--num-steps', '256', '--workers', '0', '--eval-every', '4096', '--eval-episodes', '2', ...extra, '--runs-dir', dir, '--name', name, '--quiet', '--json'];
  expect(await main(args, ctx), err.join('')).toBe(0);
  const summary = lastJson<{ finalTrueReturn: number; finalTrueReturns: number[]; runDir: string }>(out);
  const metrics = readFileSync(join(summary.runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
  return { summary, metrics };
}

describe('prefrl train --reward true --reward-weights', () => {
  it('with the env\'s own weights trains the same policy as a plain true-reward run', async () => {
    const plain = await trainTrue([], 'plain');
    const same = await trainTrue(['--reward-weights', 'goal_distance=-1,control_effort=-0.05,at_goal=0.5'], 'same-weights');
    expect(same.summary.finalTrueReturns).toEqual(plain.summary.finalTrueReturns);
  });

  it('a zeroed term changes the reward PPO learns from, not the logged true reward', async () => {
    const { summary, metrics } = await trainTrue(['--reward-weights', 'goal_distance=0,control_effort=0'], 'at-goal-only');
    const config = JSON.parse(readFileSync(join(summary.runDir, 'config.json'), 'utf8')) as { rewardWeights: string[] };
    expect(config.rewardWeights).toEqual(['goal_distance=0', 'control_effort=0']);
    const iters = metrics.filter((m) => m['reward/learned_mean'] !== undefined);
    expect(iters.length).toBeGreaterThan(0);
    for (const m of iters) {
      // What PPO saw: 0.5 x at_goal, so in [0, 0.5]; the logged true reward charges the distance too.
      expect(m['reward/learned_mean']).toBeGreaterThanOrEqual(0);
      expect(m['reward/learned_mean']).toBeLessThanOrEqual(0.5);
      expect(m['reward/true_mean']).toBeLessThan(m['reward/learned_mean']);
    }
  });

  it.each([
    [['--reward-weights', 'speed=0'], /--reward-weights: expected name=weight with a reward term of toy-reach/],
    [['--reward', 'learned', '--reward-weights', 'at_goal=0'], /--reward-weights: applies to --reward true only/],
  ])('rejects %j with exit code 2 before creating a run', async (extra, message) => {
    const args = extra.includes('learned') ? ['train', '--env', 'toy-reach', ...extra] : ['train', '--env', 'toy-reach', '--reward', 'true', ...extra];
    await expectUsageError(args, join(dir, 'bad-weights'), message);
  });
});
