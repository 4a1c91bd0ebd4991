/**
 * "decided by" for HERON teachers outside `prefrl labels stats`: `prefrl offline`'s label stage
 * records which reward term decided each label (labels.json, the summary and its JSON, the
 * report), and so does `prefrl train`'s end summary; counted from the record HERON keeps in each
 * label's raw.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDataset } from '../agents/dataset.js';
import { Logger } from '../core/log.js';
import { type OfflineConfigInput, runOffline } from '../reward/offline.js';
import { LabelStore } from '../reward/store.js';
import { decidedByText } from '../reward/teachers/heron.js';
import { initBackend } from '../core/backend.js';
import { main } from '../scripts/cli.js';
import { formatOfflineSummary } from '../scripts/commands/offline.js';
import { captureCli } from './helpers/cli.js';
import { noisyToyTrajectories, toyReachDataset } from './helpers/toy_dataset.js';

let dir = '';
let data = '';
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'small-heron-decided-'));
  // Noisy goal-seeking episodes of varied noise, so segments differ in every reward term.
  const ds = toyReachDataset(noisyToyTrajectories({ episodes: 12, noiseSeed: 5, firstSeed: 50, noise: (k) => (k % 4) * 0.5 }));
  data = await writeDataset(join(dir, 'toy.h5'), ds);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const tiny = (over: Partial<OfflineConfigInput>): OfflineConfigInput => ({
  dataset: data,
  teacher: 'oracle',
  labels: 30,
  labelBatch: 16,
  segmentLength: 10,
  rewardMembers: 2,
  rewardHidden: [16],
  rewardEpochs: 2,
  updates: 10,
  batchSize: 32,
  hidden: [16, 16],
  evalEpisodes: 1,
  backend: 'wasm',
  ...over,
});

describe('HERON "decided by" in prefrl offline', () => {
  it('decidedByText: terms most often first (equal counts by name), ties, then labels without a record when there are any', () => {
    expect(decidedByText({ terms: { control_effort: 1, goal_distance: 3, at_goal: 1 }, ties: 2, other: 0 })).toBe('goal_distance 3, at_goal 1, control_effort 1, ties 2');
    expect(decidedByText({ terms: {}, ties: 0, other: 4 })).toBe('ties 0, no record 4');
  });

  it('labels.json, the summary and the report say which term decided the labels, counted as the labels\' raw records say', async () => {
    const config = join(dir, 'heron.json');
    // Wide margins on the first two terms, so some pairs fall to the later levels or tie.
    writeFileSync(config, JSON.stringify({ ranking: ['goal_distance', 'control_effort', 'at_goal'], margins: [0.5, 0.5, 0.5] }));
    let log = '';
    const res = await runOffline({ config: tiny({ teacher: 'heron', heronConfig: config }), runsDir: join(dir, 'runs') }, { logger: new Logger({ write: (x) => (log += x) }, 'info') });
    // The counts by hand from the store: each HERON label's raw is {"decidedBy": term | null, ...}.
    const { teacher: teacherId, counts: want } = countByHand(join(res.runDir, 'labels.sqlite'));
    expect(Object.values(want.terms).reduce((a, b) => a + b, 0) + want.ties + want.other).toBe(30);
    expect(Object.keys(want.terms).length).toBeGreaterThan(0);
    const labels = JSON.parse(readFileSync(join(res.runDir, 'artifacts', 'labels.json'), 'utf8')) as { decidedBy: typeof want; ties: number };
    expect(labels.decidedBy).toEqual(want);
    // A tie is a label with probFirst 0.5: the ties the labels count are the ones no level decided.
    expect(labels.ties).toBe(want.ties);
    const summary = JSON.parse(readFileSync(join(res.runDir, 'summary.json'), 'utf8')) as { decidedBy: typeof want; teacherId: string };
    expect(summary.decidedBy).toEqual(want);
    expect(summary.teacherId).toBe(teacherId);
    const line = `${teacherId} decided by: ${decidedByText(want)}`;
    expect(formatOfflineSummary(res.summary!).split('\n')).toContain(line);
    expect(log).toContain(`[prefrl] label: ${line}\n`);
  }, 60_000);

  it('other teachers record no decided-by counts', async () => {
    const res = await runOffline({ config: tiny({ teacher: 'oracle' }), stages: ['pairs', 'label'], runsDir: join(dir, 'runs-oracle') }, { logger: new Logger({ write: () => undefined }, 'info') });
    const labels = JSON.parse(readFileSync(join(res.runDir, 'artifacts', 'labels.json'), 'utf8')) as Record<string, unknown>;
    expect(labels.labels).toBe(30);
    expect('decidedBy' in labels).toBe(false);
  }, 60_000);
});

/** The decided-by counts of a store's labels, by hand from each label's raw record. */
function countByHand(path: string): { teacher: string; counts: { terms: Record<string, number>; ties: number; other: number } } {
  const store = LabelStore.open(path, { create: false });
  const counts: { terms: Record<string, number>; ties: number; other: number } = { terms: {}, ties: 0, other: 0 };
  let teacher = '';
  try {
    for (const l of store.labels()) {
      teacher = l.teacher;
      const by = l.kind === 'preference' ? (JSON.parse(l.raw ?? '{}') as { decidedBy?: string | null }).decidedBy : undefined;
      if (by === null) counts.ties++;
      else if (typeof by === 'string') counts.terms[by] = (counts.terms[by] ?? 0) + 1;
      else counts.other++;
    }
  } finally {
    store.close();
  }
  return { teacher, counts };
}

describe('HERON "decided by" in prefrl train', () => {
  it('the end summary (text and summary.json) says which term decided the labels', async () => {
    await initBackend('wasm');
    const file = join(dir, 'heron-train.json');
    writeFileSync(file, JSON.stringify({ ranking: ['goal_distance', 'at_goal'], margins: [0.5, 0.5] }));
    const runs = join(dir, 'train-runs');
    const c = captureCli();
    const args = ['train', '--env', 'toy-reach', '--steps', '1024', '--num-envs', '1', '--num-steps', '256', '--workers', '0', '--warmup-steps', '256', '--feedback-every', '256', '--labels', '20', '--labels-per-round', '10', '--segment-length', '10'];
    const small = ['--eval-every', '100000', '--eval-episodes', '1', '--reward-epochs', '1', '--reward-hidden', '8', '--reward-members', '1', '--quiet'];
    expect(await main([...args, ...small, '--teacher', `heron:${file}`, '--runs-dir', runs], c.ctx), c.err.join('')).toBe(0);
    const run = join(runs, readdirSync(runs)[0]);
    const hand = countByHand(join(run, 'labels.sqlite'));
    expect(Object.values(hand.counts.terms).reduce((a, b) => a + b, 0) + hand.counts.ties + hand.counts.other).toBe(20);
    const summary = JSON.parse(readFileSync(join(run, 'summary.json'), 'utf8')) as { decidedBy: unknown; teacher: string };
    expect(summary.teacher).toBe(hand.teacher);
    expect(summary.decidedBy).toEqual(hand.counts);
    expect(c.out.join('').split('\n')).toContain(`${hand.teacher} decided by: ${decidedByText(hand.counts)}`);
  }, 60_000);

  it('a train run with another teacher prints no decided-by line and records none', async () => {
    const runs = join(dir, 'train-oracle');
    const c = captureCli();
    const args = ['train', '--env', 'toy-reach', '--steps', '512', '--num-envs', '1', '--num-steps', '256', '--workers', '0', '--warmup-steps', '256', '--feedback-every', '256', '--labels', '10', '--labels-per-round', '10', '--segment-length', '10'];
    const small = ['--eval-every', '100000', '--eval-episodes', '1', '--reward-epochs', '1', '--reward-hidden', '8', '--reward-members', '1', '--quiet'];
    expect(await main([...args, ...small, '--teacher', 'oracle', '--runs-dir', runs], c.ctx), c.err.join('')).toBe(0);
    const run = join(runs, readdirSync(runs)[0]);
    expect('decidedBy' in (JSON.parse(readFileSync(join(run, 'summary.json'), 'utf8')) as object)).toBe(false);
    expect(c.out.join('')).not.toContain('decided by');
  }, 60_000);
});
