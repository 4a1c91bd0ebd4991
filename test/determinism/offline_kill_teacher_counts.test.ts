/**
 * The teacher's counts (summary.teacherCounts: the synthetic VLM's answers, flips, unsures) of a
 * `prefrl offline` run SIGKILLed in the label stage and resumed are the whole run's, equal to an
 * uninterrupted run's, at the two places a kill can fall between a batch's counts and its labels
 * (test/fixtures/kill_on_write.ts kills the child halfway through its 5th write of
 * artifacts/teacher_counts.json, the one made before the 5th batch's labels are stored):
 *  - the 4th batch's labels stored after its counts were written (marked pending): the resume
 *    takes the pending totals;
 *  - the 4th batch's labels not stored (removed here by hand, as a kill between the counts and
 *    the labels leaves the store): the resume takes the totals without that batch, asks it again
 *    and counts it once.
 * The labels and the rest of the summary equal the uninterrupted run's too.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { LabelStore } from '../../reward/store.js';
import { main } from '../../scripts/cli.js';
import { useToyDataset } from '../helpers/toy_dataset.js';
import { captureCli, lastJson } from '../helpers/cli.js';

const REPO = join(import.meta.dirname, '..', '..');
const toy = useToyDataset('prefrl-offline-kill-counts-', 40);

const BATCH = 5;
const args = () => [
  'offline', '--dataset', toy.data, '--teacher', 'synthetic-vlm', '--error-rate', '0.3', '--unsure-rate', '0.2', '--labels', '60', '--label-batch', String(BATCH), '--segment-length', '10',
  '--reward-members', '2', '--reward-hidden', '8', '--reward-epochs', '3', '--updates', '40', '--batch-size', '16', '--hidden', '8', '--eval-episodes', '1', '--seed', '6',
  '--backend', 'wasm', '--quiet',
];

async function cli(argv: string[]): Promise<Record<string, unknown>> {
  const c = captureCli();
  expect(await main([...argv, '--json'], c.ctx), c.err.join('')).toBe(0);
  return lastJson(c.out);
}

/** `prefrl <argv>` in a child process that kills itself halfway through its (after+1)-th write of a file matching `pattern`. */
function killedOnWrite(argv: string[], pattern: RegExp, after: number): Promise<{ signal: NodeJS.Signals | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', join(REPO, 'test', 'fixtures', 'kill_on_write.ts'), join(REPO, 'test', 'fixtures', 'cli_entry.ts'), ...argv], {
    cwd: REPO,
    env: { ...process.env, PREFRL_KILL_ON_WRITE: pattern.source, PREFRL_KILL_ON_WRITE_AFTER: String(after) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((r) => child.on('close', (_code, signal) => r({ signal, stderr })));
}

function withStore<T>(runDir: string, fn: (s: LabelStore) => T): T {
  const store = LabelStore.open(join(runDir, 'labels.sqlite'), { create: false });
  try {
    return fn(store);
  } finally {
    store.close();
  }
}
const labels = (runDir: string) => withStore(runDir, (s) => s.labels().map((l) => [l.pairId, l.kind, l.kind === 'preference' ? l.probFirst : l.reason]));

function summary(runDir: string): Record<string, unknown> {
  const { stageSeconds: _s, stageTiming: _t, runDir: _r, ...rest } = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8')) as Record<string, unknown>;
  return rest;
}

/** A run killed as it writes the counts before its 5th batch: 4 batches stored, the counts file pending on the 4th. */
async function killedAfterFourBatches(name: string): Promise<string> {
  const runs = join(toy.dir, name);
  const k = await killedOnWrite([...args(), '--runs-dir', runs], /teacher_counts\.json/, 4);
  expect(k.signal, k.stderr).toBe('SIGKILL');
  const runDir = join(runs, readdirSync(runs)[0]);
  expect(labels(runDir)).toHaveLength(4 * BATCH);
  const saved = JSON.parse(readFileSync(join(runDir, 'artifacts', 'teacher_counts.json'), 'utf8')) as { labels: number; pending: { labels: number; pair: string; counts: Record<string, number> } };
  expect(saved.labels).toBe(3 * BATCH);
  expect(saved.pending.labels).toBe(4 * BATCH);
  // The pending totals are those of the 4 batches: one answer or unsure per pair.
  const c = saved.pending.counts;
  expect(c['vlm/labels_first'] + c['vlm/labels_second'] + c['vlm/unsure'] + c['vlm/no_success']).toBe(4 * BATCH);
  return runDir;
}

describe('prefrl offline killed between a batch\'s teacher counts and its labels', () => {
  let ref = '';
  beforeAll(async () => {
    ref = (await cli([...args(), '--runs-dir', join(toy.dir, 'ref')])).runDir as string;
  }, 60_000);

  it('the batch stored: the resume adds to the pending totals, and the run\'s counts equal an uninterrupted run\'s', async () => {
    const refCounts = summary(ref).teacherCounts as Record<string, number>;
    expect(refCounts['vlm/labels_first'] + refCounts['vlm/labels_second'] + refCounts['vlm/unsure']).toBe(60);
    expect(refCounts['vlm/labels_first'] + refCounts['vlm/labels_second']).toBe(summary(ref).preferences);
    const runDir = await killedAfterFourBatches('stored');
    const s = await cli(['offline', '--resume', runDir]);
    expect(s.stages).toMatchObject({ label: 'ran', eval: 'ran' });
    expect(summary(runDir).teacherCounts).toEqual(refCounts);
    expect(summary(runDir)).toEqual(summary(ref));
    expect(labels(runDir)).toEqual(labels(ref));
    // The counts file, once the stage is done, holds the totals and no pending batch.
    const done = JSON.parse(readFileSync(join(runDir, 'artifacts', 'teacher_counts.json'), 'utf8')) as Record<string, unknown>;
    expect(done).toEqual({ teacher: summary(ref).teacherId, labels: 60, counts: refCounts });
  }, 60_000);

  it('the batch not stored: the resume takes the totals without it, asks it again and counts it once', async () => {
    const runDir = await killedAfterFourBatches('unstored');
    // What a kill after the counts and before the labels leaves: the 4th batch's labels not in the store.
    withStore(runDir, (s) => {
      const all = s.labels();
      for (const l of all.slice(-BATCH)) expect(s.deleteLabel(l.id, l.teacher)).toBeDefined();
    });
    expect(labels(runDir)).toHaveLength(3 * BATCH);
    const s = await cli(['offline', '--resume', runDir]);
    expect(s.stages).toMatchObject({ label: 'ran', eval: 'ran' });
    expect(summary(runDir).teacherCounts).toEqual(summary(ref).teacherCounts);
    expect(summary(runDir)).toEqual(summary(ref));
    expect(labels(runDir)).toEqual(labels(ref));
    expect(existsSync(join(runDir, 'offline.lock'))).toBe(false);
  }, 60_000);
});
