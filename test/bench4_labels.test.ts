/**
 * bench oracle's cost of a learned-reward cell counts the labels its run will really ask (the
 * loop's round schedule), not its whole budget: a short run (--steps-scale 0.03) asks only the
 * rounds that fit.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../core/backend.js';
import type { TrainCell } from '../scripts/bench/cells.js';
import { buildSuite, cellLabels, labelsAsked, trainSchedule } from '../scripts/bench/suites.js';
import { main } from '../scripts/cli.js';
import { captureCli, lastJson } from './helpers/cli.js';

beforeAll(async () => {
  await initBackend('wasm');
});

describe('labels a learned-reward run asks', () => {
  it('follows the loop schedule: shortened warm-up in whole rollouts, rounds every feedbackEvery steps that fit', () => {
    // regret suite at 0.03: 3,000 steps, rollouts of 4 x 512 = 2,048; warm-up min(8192, 750) takes
    // one rollout (2,048); feedbackEvery max(2048, floor((3000 - 8192) / 20)) = 2,048: one round at
    // 2,048, the next would be at 4,096 > 3,000. 100 of 1,000.
    expect(labelsAsked({ steps: 3000, numEnvs: 4, numSteps: 512, warmupSteps: 8192, labels: 1000, labelsPerRound: 100 })).toBe(100);
    // smoke: 4,096 steps, rollouts of 512, warm-up 1,024; every max(512, floor(3072 / 4)) = 768: rounds at 1,024 and 2,048.
    expect(labelsAsked({ steps: 4096, numEnvs: 2, numSteps: 256, warmupSteps: 1024, labels: 50, labelsPerRound: 25 })).toBe(50);
    // test/agents/train_budget.test.ts's real run: rounds at 256 and 1,280 of 2,048 (every 1,024): 40.
    expect(labelsAsked({ steps: 2048, numEnvs: 1, numSteps: 256, warmupSteps: 256, labels: 100, labelsPerRound: 20, feedbackEvery: 1024 })).toBe(40);
    // The last round asks what is left: 20 + 20 + 10.
    expect(labelsAsked({ steps: 100_000, numEnvs: 1, numSteps: 256, warmupSteps: 256, labels: 50, labelsPerRound: 20, feedbackEvery: 256 })).toBe(50);
    // No warm-up: the first round waits for the first rollout (256), then 512: 2 rounds before 768.
    expect(labelsAsked({ steps: 768, numEnvs: 1, numSteps: 256, warmupSteps: 0, labels: 100, labelsPerRound: 10, feedbackEvery: 256 })).toBe(20);
    // A warm-up that takes the whole run: none (1,000 steps: warm-up 250 -> one rollout of 1,024).
    expect(labelsAsked({ steps: 1000, numEnvs: 2, numSteps: 512, warmupSteps: 8192, labels: 100, labelsPerRound: 10 })).toBe(0);
    expect(() => trainSchedule(['--env', 'reacher', '--steps', '3000'])).toThrow(/without --num-envs in its args/);
  });

  it('the regret suite at --steps-scale 0.03: a 1,000-label cell costs 3,000 x 1.5 + 100 x 600 = 64,500 (it said 604,500), and the dry run says so', async () => {
    const suite = buildSuite('regret', { stepsScale: 0.03, seeds: 1 });
    const learned = suite.cells.filter((c): c is TrainCell => c.kind === 'train' && c.row.method !== 'ppo-true' && !c.id.includes('expert'));
    expect(learned.map((c) => c.row.teacher).sort()).toEqual(['oracle', 'regret']);
    for (const c of learned) {
      expect(cellLabels(c)).toEqual({ asked: 100, budget: 1000 });
      expect(c.cost).toBe(64_500);
    }
    const root = mkdtempSync(join(tmpdir(), 'prefrl-bench4-labels-'));
    try {
      const c = captureCli();
      expect(await main(['bench', 'oracle', '--suite', 'regret', '--steps-scale', '0.03', '--seeds', '1', '--out', join(root, 'out'), '--dry-run'], c.ctx)).toBe(0);
      expect(c.out.join('')).toContain("\n(a learned-reward cell counts 1.5 per env step and 600 per label its run will ask: the feedback rounds that fit its steps by the loop's schedule, 200 of the 2,000 labels of the 2 such cells still to run)\n");
      const j = captureCli();
      expect(await main(['bench', 'oracle', '--suite', 'regret', '--steps-scale', '0.03', '--seeds', '1', '--out', join(root, 'out'), '--dry-run', '--json'], j.ctx)).toBe(0);
      const cells = lastJson<{ selected: { id: string; labels?: unknown }[] }>(j.out).selected;
      expect(cells.find((x) => x.id === learned[0].id)?.labels).toEqual({ asked: 100, budget: 1000 });
      expect(cells.find((x) => x.id.includes('expert'))?.labels).toBeUndefined();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("a real run with a bench cell's schedule asks what labelsAsked says: 6 rounds of 20 of a 200 budget in 2,048 steps", async () => {
    // Warm-up min(8192, 512) = 512; every max(256, floor((2048 - 8192) / 20)) = 256: rounds at 512, 768, ..., 1,792.
    const args = ['--env', 'toy-reach', '--steps', '2048', '--num-envs', '1', '--num-steps', '256', '--workers', '0', '--reward', 'learned', '--teacher', 'oracle', '--labels', '200', '--labels-per-round', '20', '--segment-length', '10', '--query', 'uniform', '--warmup-steps', '8192'];
    expect(labelsAsked(trainSchedule(args))).toBe(120);
    const runs = mkdtempSync(join(tmpdir(), 'prefrl-bench4-labels-'));
    try {
      const c = captureCli();
      const code = await main(['train', ...args, '--reward-epochs', '1', '--reward-hidden', '8', '--reward-members', '1', '--eval-every', '100000', '--eval-episodes', '1', '--quiet', '--json', '--runs-dir', runs], c.ctx);
      expect(code, c.err.join('')).toBe(0);
      expect(lastJson(c.out)).toMatchObject({ labelsUsed: 120, envSteps: 2048 });
    } finally {
      rmSync(runs, { recursive: true, force: true });
    }
  }, 60_000);
});
