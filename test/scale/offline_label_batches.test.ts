/**
 * The offline label stage at scale: it must read each pair's segments once and count the store a
 * fixed number of times, however many batches the labels come in. It used to re-read every
 * pending pair's segments for each batch (pendingPairs with a limit that grew with the pairs
 * asked) and count the whole store three times a batch: quadratic in the number of pairs (20,000
 * oracle labels on a 1M-transition dataset took 129 s, 15 s without it). Counted through
 * LabelStore's methods, not timed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { datasetFromTrajectories, writeDataset } from '../../agents/dataset.js';
import { ManualClock } from '../../core/clock.js';
import { silentLogger } from '../../core/log.js';
import { rollout } from '../../envs/rollout.js';
import { TOY_SPEC, ToyReachEnv } from '../../envs/toy.js';
import { type OfflineConfigInput, runOffline } from '../../reward/offline.js';
import { LabelStore } from '../../reward/store.js';

let dir = '';
let data = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'prefrl-scale-label-'));
  const env = new ToyReachEnv();
  // Episodes of a policy that heads for the goal at different speeds, so returns differ.
  const trajs = Array.from({ length: 12 }, (_, k) =>
    rollout(env, (obs: Float32Array) => [0, 1].map((j) => Math.max(-1, Math.min(1, (0.2 + 0.1 * k) * obs[4 + j]))), { episodes: 1, seed: 7 + k })[0],
  );
  const ds = datasetFromTrajectories(
    trajs,
    { envConfig: { id: 'toy-reach' }, horizon: TOY_SPEC.horizon, dt: TOY_SPEC.dt, rewardTerms: TOY_SPEC.rewardTerms.map((t) => ({ name: t.name, weight: t.weight })), policy: 'scale-test' },
    'scale-test',
  );
  data = await writeDataset(join(dir, 'toy.h5'), ds);
});
afterAll(() => {
  vi.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

const config = (over: Partial<OfflineConfigInput> = {}): OfflineConfigInput => ({
  dataset: data,
  teacher: 'oracle',
  labels: 60,
  labelBatch: 10,
  segmentLength: 5,
  backend: 'wasm',
  ...over,
});

describe('offline label stage over many batches', () => {
  it('reads each pair once and counts the store a fixed number of times (60 pairs in 6 batches), and labels every pair once', async () => {
    const ctx = { logger: silentLogger, clock: new ManualClock() };
    const first = await runOffline({ config: config(), stages: ['pairs'], runsDir: join(dir, 'runs') }, ctx);
    const store = LabelStore.open(join(first.runDir, 'labels.sqlite'));
    const pairs = store.counts().pairs;
    store.close();
    expect(pairs).toBe(60);
    const originalAddLabels = LabelStore.prototype.addLabels;
    const getSegment = vi.spyOn(LabelStore.prototype, 'getSegment');
    const counts = vi.spyOn(LabelStore.prototype, 'counts');
    // Segment reads and store counts made by the time each batch's labels are stored.
    const atBatch: { reads: number; counts: number; labels: number }[] = [];
    const addLabels = vi.spyOn(LabelStore.prototype, 'addLabels');
    addLabels.mockImplementation(function (this: LabelStore, labels) {
      atBatch.push({ reads: getSegment.mock.calls.length, counts: counts.mock.calls.length, labels: labels.length });
      return originalAddLabels.call(this, labels);
    });
    try {
      const r = await runOffline({ resume: first.runDir, stages: ['label'] }, ctx);
      expect(r.stages).toEqual({ label: 'ran' });
    } finally {
      getSegment.mockRestore();
      counts.mockRestore();
      addLabels.mockRestore();
    }
    expect(atBatch.map((b) => b.labels)).toEqual([10, 10, 10, 10, 10, 10]);
    // Between two batches the stage reads the next batch's pairs: 10 pairs, 20 segments at most
    // (fewer where two share one), and does not count the store. Before, it read every pending
    // pair's segments up to 10 + the pairs asked (40, 60, 60, 40, 20 reads) and counted 3 times.
    const between = atBatch.slice(1).map((b, i) => ({ reads: b.reads - atBatch[i].reads, counts: b.counts - atBatch[i].counts }));
    for (const d of between) {
      expect(d.reads).toBeGreaterThan(0);
      expect(d.reads).toBeLessThanOrEqual(20);
    }
    expect(between.map((d) => d.counts)).toEqual([0, 0, 0, 0, 0]);
    const after = LabelStore.open(join(first.runDir, 'labels.sqlite'));
    try {
      const c = after.counts();
      expect([c.labels, c.pending, c.perTeacher.oracle?.labels]).toEqual([60, 0, 60]);
      // One label per pair: no pair asked twice.
      expect(new Set(after.labels().map((l) => l.pairId)).size).toBe(60);
    } finally {
      after.close();
    }
  });

  it('a pair answered by someone else after the list of pending pairs was read is not asked again', async () => {
    const ctx = { logger: silentLogger, clock: new ManualClock() };
    const first = await runOffline({ config: config({ labels: 12, labelBatch: 4 }), stages: ['pairs'], runsDir: join(dir, 'runs-other') }, ctx);
    const file = join(first.runDir, 'labels.sqlite');
    const original = LabelStore.prototype.pendingPairIds;
    let answeredByOther = '';
    // When the stage reads the pending list, another process answers the 5th pair (second batch).
    const spy = vi.spyOn(LabelStore.prototype, 'pendingPairIds').mockImplementation(function (this: LabelStore, opts) {
      const ids = original.call(this, opts);
      if (answeredByOther === '' && ids.length === 12) {
        answeredByOther = ids[4];
        const other = LabelStore.open(file);
        other.addLabels([{ id: 'other-1', pairId: ids[4], teacher: 'someone', kind: 'preference', probFirst: 1 }]);
        other.close();
      }
      return ids;
    });
    try {
      await runOffline({ resume: first.runDir, stages: ['label'] }, ctx);
    } finally {
      spy.mockRestore();
    }
    expect(answeredByOther).not.toBe('');
    const after = LabelStore.open(file);
    try {
      const byPair = after.labels().filter((l) => l.pairId === answeredByOther);
      expect(byPair.map((l) => l.teacher)).toEqual(['someone']);
      expect(after.counts().perTeacher.oracle?.labels).toBe(11);
      expect(after.counts().pending).toBe(0);
    } finally {
      after.close();
    }
  });
});
