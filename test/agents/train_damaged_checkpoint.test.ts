/**
 * `prefrl train --resume` of a run whose checkpoint.json is damaged (cut off, or valid JSON with a
 * field missing or of the wrong kind): exit 1 naming the file and the field, before the run is
 * resumed from it or anything in the folder changes. A missing optimiser state used to end in a
 * TypeError with a stack trace, and `{}` in "resuming ... at undefined env steps" first.
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../core/backend.js';
import { main } from '../../scripts/cli.js';
import { captureCli, lastJson } from '../helpers/cli.js';

beforeAll(async () => {
  await initBackend('wasm');
});

type Ck = Record<string, unknown> & { adam: Record<string, unknown>; rng: Record<string, unknown>; policy: Record<string, unknown> };

describe('--resume of a run with a damaged checkpoint', () => {
  it('names the file and the field (exit 1, no stack), resumes nothing and leaves the metrics as they were', async () => {
    const runs = mkdtempSync(join(tmpdir(), 'prefrl-damaged-ck-'));
    const c = captureCli();
    const args = ['train', '--env', 'toy-reach', '--reward', 'true', '--steps', '1024', '--num-envs', '2', '--num-steps', '128', '--workers', '0', '--eval-every', '512', '--eval-episodes', '1'];
    expect(await main([...args, '--runs-dir', runs, '--quiet', '--json'], c.ctx), c.err.join('')).toBe(0);
    const runDir = lastJson(c.out).runDir as string;
    rmSync(join(runDir, 'summary.json')); // as if stopped at its last checkpoint
    const file = join(runDir, 'artifacts', 'checkpoint', 'checkpoint.json');
    const good = readFileSync(file, 'utf8');
    copyFileSync(file, join(runs, 'good.json'));
    // A row after the checkpoint (a resume would drop it): it must stay when the resume is refused.
    const metrics = `${readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')}{"step":5000,"eval/true_return":1}\n`;
    writeFileSync(join(runDir, 'metrics.jsonl'), metrics);

    const cases: [string, (ck: Ck) => unknown, string][] = [
      ['cut off', () => null, ': unreadable checkpoint ('],
      ['not an object', () => [], ': not a PPO checkpoint (expected a JSON object)'],
      ['{}', () => ({}), ' (format): unknown checkpoint format undefined'],
      ['no optimiser state', (ck) => ({ ...ck, adam: undefined }), ' (adam): damaged checkpoint: missing; delete it to restart the run from its stored labels'],
      ['a step count that is no number', (ck) => ({ ...ck, globalStep: 'x' }), ' (globalStep): damaged checkpoint: expected an integer >= 0, found "x"; delete it'],
      ['a negative iteration', (ck) => ({ ...ck, iteration: -1 }), ' (iteration): damaged checkpoint: expected an integer >= 0, found -1'],
      ['a short random state', (ck) => ({ ...ck, rng: { ...ck.rng, s: [1] } }), ' (rng): damaged checkpoint: expected {path, s: [4 numbers]}'],
      ['no reward scaler', (ck) => ({ ...ck, rewardScaler: {} }), ' (rewardScaler): damaged checkpoint: expected {rms, returns}'],
      ['an optimiser state of the wrong size', (ck) => ({ ...ck, adam: { ...ck.adam, m: 'AAAAAAAAAAA=', v: 'AAAAAAAAAAA=' } }), ' (adam): damaged checkpoint: the optimiser state has 2 and 2 values, the policy '],
      ['an optimiser state that is not float32 values (6 bytes)', (ck) => ({ ...ck, adam: { ...ck.adam, m: 'AAAAAAAA' } }), ' (adam.m): damaged checkpoint: not base64 float32 values ('],
    ];
    for (const [what, damage, message] of cases) {
      const ck = JSON.parse(good) as Ck;
      const out = damage(ck);
      writeFileSync(file, out === null ? good.slice(0, 1000) : JSON.stringify(out));
      const r = captureCli();
      const code = await main(['train', '--resume', runDir, '--quiet', '--json'], r.ctx);
      const err = r.err.join('');
      expect(code, `${what}: ${err}`).toBe(1);
      expect(err, what).toContain(`prefrl train: ${file}${message}`);
      expect(err, what).not.toMatch(/resuming|\n\s+at /);
      expect(r.out, what).toEqual([]);
      expect(readFileSync(join(runDir, 'metrics.jsonl'), 'utf8'), what).toBe(metrics);
    }
    // Restored, the run resumes.
    writeFileSync(file, good);
    const ok = captureCli();
    expect(await main(['train', '--resume', runDir, '--quiet', '--json'], ok.ctx), ok.err.join('')).toBe(0);
    expect(lastJson(ok.out).envSteps).toBe(1024);
  }, 60_000);
});

describe('--resume of a learned-reward run whose label store is gone', () => {
  it('names labels.sqlite (exit 1) and changes nothing; put back, the run resumes with its labels', async () => {
    const runs = mkdtempSync(join(tmpdir(), 'prefrl-no-store-'));
    const c = captureCli();
    const args = [
      'train', '--env', 'toy-reach', '--steps', '1024', '--num-envs', '2', '--num-steps', '128', '--workers', '0', '--warmup-steps', '256', '--segment-length', '10',
      '--labels', '10', '--labels-per-round', '10', '--eval-every', '512', '--eval-episodes', '1', '--reward-hidden', '8', '--reward-members', '1',
    ];
    expect(await main([...args, '--runs-dir', runs, '--quiet', '--json'], c.ctx), c.err.join('')).toBe(0);
    const runDir = lastJson(c.out).runDir as string;
    rmSync(join(runDir, 'summary.json'));
    const store = join(runDir, 'labels.sqlite');
    copyFileSync(store, join(runs, 'kept.sqlite'));
    rmSync(store);
    const metrics = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8');
    const r = captureCli();
    expect(await main(['train', '--resume', runDir, '--quiet', '--json'], r.ctx)).toBe(1);
    expect(r.err.join('')).toContain(
      `prefrl train: ${store}: not found: the run's label store is gone, but its checkpoint and reward model were made from its labels (a resume would ask the teacher anew and count the --labels budget from 0); put it back, or start a new run\n`,
    );
    expect(existsSync(store)).toBe(false);
    expect(readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')).toBe(metrics);
    copyFileSync(join(runs, 'kept.sqlite'), store);
    const ok = captureCli();
    expect(await main(['train', '--resume', runDir, '--quiet', '--json'], ok.ctx), ok.err.join('')).toBe(0);
    expect(ok.err.join('')).toContain('with 10 stored labels');
    expect(lastJson(ok.out).labelsUsed).toBe(10);
  }, 60_000);
});
