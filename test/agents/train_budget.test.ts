/**
 * `prefrl train` whose feedback schedule cannot spend its --labels budget within --steps: the run
 * finishes, and says how many labels it asked and which flags would fit the rest.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../core/backend.js';
import { main } from '../../scripts/cli.js';
import { captureCli, expectUsageError, lastJson } from '../helpers/cli.js';

beforeAll(async () => {
  await initBackend('wasm');
});

const RUN = ['--env', 'toy-reach', '--num-envs', '1', '--num-steps', '256', '--workers', '0', '--warmup-steps', '256', '--labels-per-round', '20', '--segment-length', '10'];
const SMALL = ['--reward-epochs', '1', '--reward-hidden', '8', '--reward-members', '1', '--eval-every', '100000', '--eval-episodes', '1', '--quiet', '--json'];

describe('a --labels budget the schedule cannot spend', () => {
  it('rounds at 256 and 1280 env steps fit in 2048 (the next would come at 2304): 40 of 100 labels, and a warning naming the flags', async () => {
    const c = captureCli();
    const runs = mkdtempSync(join(tmpdir(), 'prefrl-budget-'));
    const code = await main(['train', ...RUN, '--steps', '2048', '--feedback-every', '1024', '--labels', '100', ...SMALL, '--runs-dir', runs], c.ctx);
    expect(code, c.err.join('')).toBe(0);
    expect(lastJson(c.out)).toMatchObject({ labelsUsed: 40, envSteps: 2048 });
    expect(c.err.join('')).toContain(
      'warn: the run ended at 2048 env steps with 40 of its 100 labels answered: rounds of 20 labels every 1024 env steps did not fit; give more --steps, a smaller --feedback-every or a larger --labels-per-round\n',
    );
  }, 60_000);

  it('a budget that fits (40 labels in those two rounds) gives no such warning', async () => {
    const c = captureCli();
    const runs = mkdtempSync(join(tmpdir(), 'prefrl-budget-'));
    const code = await main(['train', ...RUN, '--steps', '2048', '--feedback-every', '1024', '--labels', '40', ...SMALL, '--runs-dir', runs], c.ctx);
    expect(code, c.err.join('')).toBe(0);
    expect(lastJson(c.out)).toMatchObject({ labelsUsed: 40 });
    expect(c.err.join('')).not.toContain('labels asked');
  }, 60_000);

  it('--reward-select-inputs counts above --labels (never reached) are refused before any work, naming the flag', async () => {
    const runs = join(mkdtempSync(join(tmpdir(), 'prefrl-budget-')), 'never');
    await expectUsageError(['train', ...RUN, '--steps', '2048', '--labels', '60', '--reward-select-inputs', '40,100'], runs, /^prefrl train: --reward-select-inputs: 100 preference labels is more than the --labels budget \(60\), so that selection would never run; use counts up to 60\n$/);
  });
});
