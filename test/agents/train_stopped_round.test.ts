/**
 * `prefrl train` stopped at two late moments, resumed. Inside its last feedback round, after the teacher's labels were stored
 * and before the reward model trained on them was saved (Ctrl-C or a kill during reward
 * training): the resumed run must train the reward model on those labels, although the --labels
 * budget is spent and no round asks again. It used to go on with no reward model at all (PPO on
 * r = 0 everywhere) while its summary counted the labels as used. After its final checkpoint,
 * before its summary was written: the resumed run must not log the final evaluation twice (its
 * curve used to end with the same point twice, and metrics.jsonl with the same row twice).
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../core/backend.js';
import { main } from '../../scripts/cli.js';
import { captureCli, lastJson } from '../helpers/cli.js';

beforeAll(async () => {
  await initBackend('wasm');
});

// One round of 10 labels at the end of a 256-step warm-up; the first checkpoint comes after it.
const ARGS = [
  'train', '--env', 'toy-reach', '--steps', '1024', '--num-envs', '2', '--num-steps', '128', '--workers', '0', '--warmup-steps', '256', '--segment-length', '10',
  '--labels', '10', '--labels-per-round', '10', '--eval-every', '1024', '--eval-episodes', '2', '--reward-hidden', '16', '--reward-members', '2', '--quiet', '--json',
];
// Keys that hold wall time (they differ between any two runs).
const TIMING = /seconds|sps/;

function rows(runDir: string): Record<string, unknown>[] {
  return readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => Object.fromEntries(Object.entries(JSON.parse(l) as Record<string, unknown>).filter(([k]) => !TIMING.test(k))));
}

describe('a run stopped between storing its last round\'s labels and saving the reward model', () => {
  it('the resumed run trains the reward model on the stored labels (no new queries) and ends as the uninterrupted run did', async () => {
    const runs = mkdtempSync(join(tmpdir(), 'prefrl-stopped-round-'));
    const c = captureCli();
    expect(await main([...ARGS, '--runs-dir', runs, '--name', 'whole'], c.ctx), c.err.join('')).toBe(0);
    const whole = lastJson(c.out);
    const wholeDir = whole.runDir as string;
    expect(whole.labelsUsed).toBe(10);

    // The state a stop during that round's reward training leaves: config, software and the
    // label store with all 10 labels; no checkpoint (the first evaluation comes after the round),
    // no reward model, no metrics rows, no summary.
    const stopped = join(runs, 'stopped');
    cpSync(wholeDir, stopped, { recursive: true });
    rmSync(join(stopped, 'artifacts'), { recursive: true });
    rmSync(join(stopped, 'summary.json'));
    writeFileSync(join(stopped, 'metrics.jsonl'), '');

    const r = captureCli();
    expect(await main(['train', '--resume', stopped, '--quiet', '--json'], r.ctx), r.err.join('')).toBe(0);
    const resumed = lastJson(r.out);
    const err = r.err.join('');
    expect(err).toContain('keeping 10 stored labels');
    expect(err).toContain('round 0: the reward model was not trained on 10 of the 10 stored preference labels (the run was stopped during a feedback round): training it on them, with no new queries (the --labels budget is spent)');
    expect(err).toMatch(/round 0: 10\/10 labels \(no new queries\), held-out acc/);

    // No label was asked again, and the reward model was trained and saved with its count.
    expect(resumed.labelsUsed).toBe(10);
    const meta = JSON.parse(readFileSync(join(stopped, 'artifacts', 'reward_model', 'model.json'), 'utf8')) as { meta?: { trainedPreferences?: unknown } };
    expect(meta.meta?.trainedPreferences).toBe(10);
    // PPO learned from that model, not from r = 0.
    const ppoRows = rows(stopped).filter((m) => 'reward/learned_mean' in m);
    expect(ppoRows.length).toBe(3);
    for (const m of ppoRows) expect(m['reward/learned_mean']).not.toBe(0);

    // The catch-up round trains with the stopped round's number, so the resumed run repeats the
    // uninterrupted one: the same rows (apart from wall time, the catch-up mark and the query
    // method the stopped round had used) and the same summary.
    const strip = (m: Record<string, unknown>) => {
      const { ['reward/catch_up']: _c, ['teacher/query_method']: _q, ...rest } = m;
      return rest;
    };
    expect(rows(stopped).map(strip)).toEqual(rows(wholeDir).map(strip));
    expect(rows(stopped).filter((m) => m['reward/catch_up'] === 1)).toHaveLength(1);
    const { wallSeconds: _a, runDir: _b, ...same } = whole;
    const { wallSeconds: _c, runDir: _d, ...again } = resumed;
    expect(again).toEqual(same);
    // The resumed round trained and scored the model (10 labels hold out no pairs: no held-out accuracy).
    expect(Number.isFinite(resumed.rewardCorrelation)).toBe(true);
  }, 90_000);
});

describe('a run stopped after its final checkpoint, before its summary was written', () => {
  it('the resumed run writes the summary of the uninterrupted run, with no evaluation logged twice', async () => {
    const runs = mkdtempSync(join(tmpdir(), 'prefrl-stopped-end-'));
    const c = captureCli();
    expect(await main([...ARGS.map((a, i, all) => (all[i - 1] === '--eval-every' ? '512' : a)), '--runs-dir', runs, '--name', 'whole'], c.ctx), c.err.join('')).toBe(0);
    const whole = lastJson(c.out);
    const wholeDir = whole.runDir as string;
    expect((whole.curve as unknown[]).length).toBe(3); // 256 (after the round), 768, and the final one at 1024
    const stopped = join(runs, 'stopped');
    cpSync(wholeDir, stopped, { recursive: true });
    rmSync(join(stopped, 'summary.json'));

    const r = captureCli();
    expect(await main(['train', '--resume', stopped, '--quiet', '--json'], r.ctx), r.err.join('')).toBe(0);
    expect(r.err.join('')).toContain('at 1024 env steps with 10 stored labels');
    const resumed = lastJson(r.out);
    const { wallSeconds: _a, runDir: _b, ...same } = whole;
    const { wallSeconds: _c, runDir: _d, ...again } = resumed;
    expect(again).toEqual(same);
    expect(rows(stopped)).toEqual(rows(wholeDir));
  }, 90_000);
});
