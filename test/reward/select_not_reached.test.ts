/**
 * `train --reward-select-inputs N` where the run stores fewer preference labels than N (its rounds
 * did not fit in --steps): the selection never runs, and the run says so at the end, as it says a
 * budget cut short, instead of leaving it out silently.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { main } from '../../scripts/cli.js';
import { captureCli, lastJson } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'prefrl-select-late-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('a selection count the run never reaches is said at the end, with the preference labels it had; the model saw every input', async () => {
  const c = captureCli();
  // One round fits (at 256 env steps; the run ends at 512), asking what the query pool holds then: fewer than 30.
  const args = ['train', '--env', 'toy-reach', '--backend', 'wasm', '--steps', '512', '--num-envs', '2', '--num-steps', '128', '--workers', '0', '--warmup-steps', '256', '--feedback-every', '256', '--labels', '40', '--labels-per-round', '20', '--reward-select-inputs', '30', '--reward-hidden', '4', '--reward-epochs', '1', '--reward-members', '1', '--eval-every', '512', '--eval-episodes', '1', '--runs-dir', dir, '--quiet', '--json'];
  expect(await main(args, c.ctx), c.err.join('')).toBe(0);
  const s = lastJson<{ runDir: string; labelsUsed: number }>(c.out);
  expect(s.labelsUsed).toBeGreaterThan(0);
  expect(s.labelsUsed).toBeLessThan(30);
  const meta = JSON.parse(readFileSync(join(s.runDir, 'artifacts', 'reward_model', 'model.json'), 'utf8')) as { meta: { trainedPreferences: number; inputSelection?: unknown } };
  expect(meta.meta.inputSelection).toBeUndefined();
  expect(c.err.join('')).toContain(
    `[prefrl] warn: the reward model's inputs were not chosen at 30 preference labels (--reward-select-inputs): the run trained it on ${meta.meta.trainedPreferences}; it saw every input\n`,
  );
  expect(meta.meta.trainedPreferences).toBeLessThan(30);
}, 120_000);
