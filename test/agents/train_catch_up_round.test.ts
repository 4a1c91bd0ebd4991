/**
 * `prefrl train` started over (no checkpoint) on a store whose labels already spend the --labels
 * budget over two rounds: the catch-up round, at the first feedback step, goes on with the newest
 * stored round's number (1 here: its pool windows and random streams), read from the store
 * without decoding any segment (LabelStore.labelledMaxRound), and trains on all 20 labels.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { initBackend } from '../../core/backend.js';
import { LabelStore } from '../../reward/store.js';
import { main } from '../../scripts/cli.js';
import { captureCli, lastJson } from '../helpers/cli.js';

beforeAll(async () => {
  await initBackend('wasm');
});
afterEach(() => {
  vi.restoreAllMocks();
});

// Two rounds of 10 labels (at 256 and 512 env steps); no evaluation, so no checkpoint, before the end.
const ARGS = [
  'train', '--env', 'toy-reach', '--steps', '1024', '--num-envs', '2', '--num-steps', '128', '--workers', '0', '--warmup-steps', '256', '--feedback-every', '256', '--segment-length', '10',
  '--labels', '20', '--labels-per-round', '10', '--eval-every', '1024', '--eval-episodes', '1', '--reward-hidden', '8', '--reward-members', '2', '--reward-epochs', '2', '--seed', '4', '--quiet', '--json',
];

describe('the catch-up round of a run started over with its budget spent', () => {
  it('takes the newest stored round, 1, and trains on every stored label', async () => {
    const runs = mkdtempSync(join(tmpdir(), 'prefrl-catch-up-'));
    const c = captureCli();
    expect(await main([...ARGS, '--runs-dir', runs, '--name', 'whole'], c.ctx), c.err.join('')).toBe(0);
    const whole = lastJson(c.out);
    expect(whole.labelsUsed).toBe(20);
    const store = LabelStore.open(join(whole.runDir as string, 'labels.sqlite'), { create: false });
    expect(store.labelledPairs().map((lp) => lp.round)).toEqual([...Array(10).fill(0), ...Array(10).fill(1)]);
    store.close();

    // Stopped before its first checkpoint and reward model: only the config and the store remain.
    const stopped = join(runs, 'stopped');
    cpSync(whole.runDir as string, stopped, { recursive: true });
    rmSync(join(stopped, 'artifacts'), { recursive: true });
    rmSync(join(stopped, 'summary.json'));
    writeFileSync(join(stopped, 'metrics.jsonl'), '');

    const maxRound = vi.spyOn(LabelStore.prototype, 'labelledMaxRound');
    const r = captureCli();
    expect(await main(['train', '--resume', stopped, '--quiet', '--json'], r.ctx), r.err.join('')).toBe(0);
    const err = r.err.join('');
    expect(err).toContain('round 1: the reward model was not trained on 20 of the 20 stored preference labels');
    expect(err).not.toContain('round 0: the reward model was not trained');
    expect(maxRound).toHaveBeenCalledTimes(1);
    expect(maxRound.mock.results[0].value).toBe(1);
    expect(lastJson(r.out).labelsUsed).toBe(20);
    const meta = JSON.parse(readFileSync(join(stopped, 'artifacts', 'reward_model', 'model.json'), 'utf8')) as { meta?: { trainedPreferences?: unknown } };
    expect(meta.meta?.trainedPreferences).toBe(20);
  }, 90_000);
});
