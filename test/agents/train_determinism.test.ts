/**
 * Same seed, same run: two `prefrl train` runs of a learned reward on toy-reach with one seed
 * (env worker threads on, the default) log the same metrics rows apart from wall-time keys, store
 * the same pairs and labels, and end with the same summary; another seed gives another run.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../core/backend.js';
import { LabelStore } from '../../reward/store.js';
import { main } from '../../scripts/cli.js';
import { captureCli, lastJson } from '../helpers/cli.js';

beforeAll(async () => {
  await initBackend('wasm');
});

const ARGS = [
  'train', '--env', 'toy-reach', '--steps', '1024', '--num-envs', '2', '--num-steps', '128', '--workers', '2', '--warmup-steps', '256', '--segment-length', '10',
  '--labels', '20', '--labels-per-round', '10', '--feedback-every', '512', '--query', 'disagreement', '--eval-every', '512', '--eval-episodes', '2', '--reward-hidden', '16', '--reward-members', '2',
  '--quiet', '--json',
];
const TIMING = /seconds|sps/;

async function run(runs: string, seed: number): Promise<{ summary: Record<string, unknown>; rows: unknown[]; labels: unknown[] }> {
  const c = captureCli();
  expect(await main([...ARGS, '--seed', String(seed), '--runs-dir', runs], c.ctx), c.err.join('')).toBe(0);
  const { wallSeconds: _w, runDir, ...summary } = lastJson(c.out);
  const rows = readFileSync(join(runDir as string, 'metrics.jsonl'), 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => Object.fromEntries(Object.entries(JSON.parse(l) as Record<string, unknown>).filter(([k]) => !TIMING.test(k))));
  const store = LabelStore.open(join(runDir as string, 'labels.sqlite'), { create: false });
  const labels = store.labels().map((l) => ({ pair: l.pairId, kind: l.kind, p: l.kind === 'preference' ? l.probFirst : null }));
  store.close();
  return { summary, rows, labels };
}

describe('same seed, same run', () => {
  it('a learned-reward run repeats exactly for its seed (metrics apart from wall time, labels, summary); seed 2 differs', async () => {
    const runs = mkdtempSync(join(tmpdir(), 'prefrl-determinism-'));
    const a = await run(runs, 1);
    const b = await run(runs, 1);
    expect(a.labels).toHaveLength(20);
    expect(b.labels).toEqual(a.labels);
    expect(b.rows).toEqual(a.rows);
    expect(b.summary).toEqual(a.summary);
    const other = await run(runs, 2);
    expect(other.labels.map((l) => (l as { pair: string }).pair)).not.toEqual(a.labels.map((l) => (l as { pair: string }).pair));
    expect(other.summary.finalTrueReturn).not.toBe(a.summary.finalTrueReturn);
  }, 90_000);
});
