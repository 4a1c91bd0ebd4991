/**
 * What `prefrl offline` tells a user on a random policy's dataset (toy-reach, where no episode
 * succeeds): the synthetic VLM, which judges only the final frame's task success, skips every
 * pair, and the error says why and what to do instead; the oracle learns from it, and the eval
 * bar's last line shows the random policy's return (it showed BC's).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../scripts/cli.js';
import { captureCli, lastJson } from '../helpers/cli.js';

const root = mkdtempSync(join(tmpdir(), 'prefrl-offline-messages-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dataset = '';

beforeAll(async () => {
  const c = captureCli();
  expect(await main(['collect', '--env', 'toy-reach', '--policy', 'random', '--steps', '600', '--seed', '0', '--runs-dir', join(root, 'data'), '--quiet', '--json'], c.ctx), c.err.join('')).toBe(0);
  dataset = lastJson(c.out).dataset as string;
});

const TINY = ['--labels', '30', '--label-batch', '8', '--segment-length', '10', '--reward-members', '2', '--reward-hidden', '8', '--reward-epochs', '2', '--updates', '20', '--batch-size', '16', '--hidden', '8',
  '--eval-episodes', '1', '--backend', 'wasm'];

describe('prefrl offline on a random policy\'s dataset', () => {
  it('synthetic-vlm: every pair skipped as equally successful; the error says the teacher sees only final success and what to do', async () => {
    const c = captureCli();
    expect(await main(['offline', '--dataset', dataset, '--teacher', 'synthetic-vlm', ...TINY, '--runs-dir', join(root, 'runs'), '--quiet'], c.ctx)).toBe(1);
    const err = c.err.join('');
    expect(err).toContain('[prefrl] label: 30 labels (0 preferences, 0 ties, 30 skips; 30 new)');
    expect(err).toMatch(
      new RegExp(
        `prefrl offline: .*labels\\.sqlite: the teacher synthetic-vlm:errorRate=0\\.2,unsureRate=0\\.1 gave no preference, only skips \\(most often: "unsure: equal success at the final frame", 30 times\\); no reward model can be learned from this dataset with this teacher: it judges only the task success at each segment's final frame, and the segments of ${dataset.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} end equally successful \\(a random policy's data often never succeeds\\); collect a dataset with some successes \\(prefrl collect --policy medium-replay\\), or use --teacher oracle\\n$`,
      ),
    );
  }, 60_000);

  it('oracle: the run ends, and the eval bar ends on the random policy\'s return', async () => {
    const c = captureCli();
    expect(await main(['offline', '--dataset', dataset, '--teacher', 'oracle', ...TINY, '--runs-dir', join(root, 'runs'), '--json'], c.ctx), c.err.join('')).toBe(0);
    const random = (lastJson(c.out).returns as { random: { meanReturn: number } }).random.meanReturn;
    expect(c.err.join('')).toMatch(new RegExp(`eval toy-reach 100% 4/4 policies .*\\| random ${random.toFixed(3).replace('.', '\\.')}\\n`));
    // Resumed when finished: the six skipped stages in one line (it printed one line each).
    const again = captureCli();
    expect(await main(['offline', '--resume', lastJson(c.out).runDir as string, '--json'], again.ctx), again.err.join('')).toBe(0);
    const said = again.err.join('').split('\n').filter((l) => l.includes('done before'));
    expect(said).toEqual(['[prefrl] stages pairs, label, reward, relabel, iql, eval: done before, skipped (--force re-runs them)']);
  }, 60_000);

  it('--help says what the run folder holds, the teacher\'s counts over every attempt among it', async () => {
    const c = captureCli();
    expect(await main(['offline', '--help'], c.ctx)).toBe(0);
    expect(c.out.join('')).toContain("teacher_counts.json: the teacher's requests and answers summed over every attempt, a killed or failed one's too");
    expect(c.out.join('')).toContain("summary.json (the report's numbers, with each stage's seconds and what they cover)");
  });
});
