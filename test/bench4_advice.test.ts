/**
 * A `prefrl bench oracle` cell too short for its labels: the end-of-run warning names the bench's
 * own knob (--steps-scale), not train flags the bench user cannot give. Train users keep theirs
 * (test/agents/train_budget.test.ts pins it).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../core/backend.js';
import { main } from '../scripts/cli.js';
import { benchCellAdvice } from '../scripts/commands/train.js';
import { captureCli, lastJson } from './helpers/cli.js';

beforeAll(async () => {
  await initBackend('wasm');
});

const BENCH = 'prefrl bench oracle --suite smoke --steps-scale 0.03';
const ADVICE = `run the benchmark with a larger --steps-scale (this run is a cell of \`${BENCH}\`, whose suite sets its label budget)`;
const RUN = ['--env', 'toy-reach', '--num-envs', '1', '--num-steps', '256', '--workers', '0', '--warmup-steps', '256', '--labels-per-round', '20', '--segment-length', '10'];
const SMALL = ['--reward-epochs', '1', '--reward-hidden', '8', '--reward-members', '1', '--eval-every', '100000', '--eval-episodes', '1', '--quiet', '--json'];

describe('end-of-run advice inside a bench cell', () => {
  it('is the bench knob only for a run that is part of prefrl bench oracle', () => {
    expect(benchCellAdvice(BENCH)).toBe(ADVICE);
    expect(benchCellAdvice(undefined)).toBeUndefined();
    expect(benchCellAdvice('prefrl demo')).toBeUndefined();
  });

  it('a budget cut short: rounds at 256 and 1280 of 2048 steps, 40 of 100 labels, the warning names --steps-scale', async () => {
    const c = captureCli();
    const runs = mkdtempSync(join(tmpdir(), 'prefrl-bench4-advice-'));
    try {
      const code = await main(['train', ...RUN, '--steps', '2048', '--feedback-every', '1024', '--labels', '100', ...SMALL, '--runs-dir', runs], { ...c.ctx, partOf: BENCH });
      expect(code, c.err.join('')).toBe(0);
      expect(lastJson(c.out)).toMatchObject({ labelsUsed: 40, envSteps: 2048 });
      const err = c.err.join('');
      expect(err).toContain(`warn: the run ended at 2048 env steps with 40 of its 100 labels answered: rounds of 20 labels every 1024 env steps did not fit; ${ADVICE}\n`);
      expect(err).not.toContain('--feedback-every or');
    } finally {
      rmSync(runs, { recursive: true, force: true });
    }
  }, 60_000);

  it('a warm-up that takes the whole run: no labels, the warning names --steps-scale', async () => {
    const c = captureCli();
    const runs = mkdtempSync(join(tmpdir(), 'prefrl-bench4-advice-'));
    try {
      const code = await main(['train', ...RUN, '--steps', '256', '--labels', '20', ...SMALL, '--runs-dir', runs], { ...c.ctx, partOf: BENCH });
      expect(code, c.err.join('')).toBe(0);
      expect(lastJson(c.out)).toMatchObject({ labelsUsed: 0, envSteps: 256 });
      expect(c.err.join('')).toMatch(new RegExp(`warn: no labels were asked: the warm-up took all 256 env steps of the run .*; ${ADVICE.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n`));
    } finally {
      rmSync(runs, { recursive: true, force: true });
    }
  }, 60_000);
});
