/**
 * `prefrl train` keeps the labelled pairs it has read in a cache across feedback rounds
 * (reward/loop.ts, labelledCache), so a round decodes only the segments of pairs labelled since.
 * The run must be the one it was when every round read every pair from the store: the same seeded
 * k-center run (centres and training both read the labelled pairs) with the cache taken out of
 * every store read logs the same metrics (apart from wall time), stores the same labels, ends with
 * the same summary and saves byte-identical reward model and checkpoint files, while the cached
 * run decodes each labelled pair's segments once.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
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

const RUN = [
  'train', '--env', 'toy-reach', '--steps', '2048', '--num-envs', '2', '--num-steps', '128', '--workers', '0', '--warmup-steps', '256', '--eval-every', '1024', '--eval-episodes', '1',
  '--labels', '30', '--labels-per-round', '10', '--feedback-every', '256', '--reward-members', '2', '--reward-hidden', '8', '--reward-epochs', '2', '--segment-length', '10', '--seed', '5',
  '--query', 'kcenter', '--quiet', '--json',
];
const TIMING = /seconds|sps/;

/** sha256 of every file under `dir` (relative path -> digest). */
function digests(dir: string, base = dir, out: Record<string, string> = {}): Record<string, string> {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) digests(p, base, out);
    else out[p.slice(base.length + 1)] = createHash('sha256').update(readFileSync(p)).digest('hex');
  }
  return out;
}

interface Outcome {
  summary: Record<string, unknown>;
  rows: unknown[];
  labels: unknown[];
  files: Record<string, string>;
  /** Segments the store decoded in labelledPairs calls. */
  decoded: number;
  /** labelledPairs calls, and how many of them were given a cache. */
  calls: number;
  cached: number;
  /** The labelled pairs' rounds and segment ids, in labelledPairs' order. */
  pairs: { round: number; a: string; b: string }[];
}

async function train(direct: boolean): Promise<Outcome> {
  const original = LabelStore.prototype.labelledPairs;
  let inside = false;
  let decoded = 0;
  let calls = 0;
  let cached = 0;
  vi.spyOn(LabelStore.prototype, 'labelledPairs').mockImplementation(function (this: LabelStore, opts = {}) {
    calls++;
    if (opts.cache) cached++;
    inside = true;
    try {
      // The direct run: every read decodes every labelled pair, as before the cache.
      if (direct) {
        const { cache: _cache, ...rest } = opts;
        return original.call(this, rest);
      }
      return original.call(this, opts);
    } finally {
      inside = false;
    }
  });
  const getSegment = LabelStore.prototype.getSegment;
  vi.spyOn(LabelStore.prototype, 'getSegment').mockImplementation(function (this: LabelStore, id: string) {
    if (inside) decoded++;
    return getSegment.call(this, id);
  });
  const runs = mkdtempSync(join(tmpdir(), 'prefrl-pair-cache-'));
  const c = captureCli();
  expect(await main([...RUN, '--runs-dir', runs], c.ctx), c.err.join('')).toBe(0);
  vi.restoreAllMocks();
  const { wallSeconds: _w, runDir, ...summary } = lastJson(c.out);
  const rows = readFileSync(join(runDir as string, 'metrics.jsonl'), 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => Object.fromEntries(Object.entries(JSON.parse(l) as Record<string, unknown>).filter(([k]) => !TIMING.test(k))));
  const store = LabelStore.open(join(runDir as string, 'labels.sqlite'), { create: false });
  const labels = store.labels().map((l) => ({ id: l.id, pair: l.pairId, kind: l.kind, p: l.kind === 'preference' ? l.probFirst : null }));
  const pairs = store.labelledPairs().map((lp) => ({ round: lp.round, a: lp.pair.a.id, b: lp.pair.b.id }));
  store.close();
  return { summary, rows, labels, files: digests(join(runDir as string, 'artifacts')), decoded, calls, cached, pairs };
}

describe('train: the labelled-pair cache leaves the run unchanged', () => {
  it('a seeded kcenter run is the same with the cache as with every pair read from the store each round', async () => {
    const withCache = await train(false);
    const direct = await train(true);
    expect(withCache.labels).toHaveLength(30);
    expect(direct.labels).toEqual(withCache.labels);
    expect(direct.rows).toEqual(withCache.rows);
    expect(direct.summary).toEqual(withCache.summary);
    expect(Object.keys(withCache.files)).toEqual(expect.arrayContaining([expect.stringMatching(/^reward_model/), expect.stringMatching(/^checkpoint/)]));
    expect(direct.files).toEqual(withCache.files);
    // Three rounds, each reading the labels an earlier session stored for the round (a new run
    // replays its rounds; none here), the centres (before its labels) and every label (after):
    // nine reads, all given the loop's cache.
    expect(withCache.calls).toBe(9);
    expect(withCache.cached).toBe(9);
    expect(direct.cached).toBe(9);
    // Segments decoded: a read decodes each distinct segment of the pairs it returns once; the
    // cached run decodes each distinct segment of the 30 labelled pairs once in all, the direct
    // run those of round r's centres (pairs of rounds < r) and its training read (rounds <= r),
    // every round.
    const distinct = (below: number) => new Set(withCache.pairs.filter((p) => p.round < below).flatMap((p) => [p.a, p.b])).size;
    expect(withCache.pairs.map((p) => p.round)).toEqual([...Array(10).fill(0), ...Array(10).fill(1), ...Array(10).fill(2)]);
    expect(withCache.decoded).toBe(distinct(3));
    expect(direct.decoded).toBe([0, 1, 2].reduce((n, r) => n + distinct(r) + distinct(r + 1), 0));
    expect(direct.decoded).toBeGreaterThan(2 * withCache.decoded);
  }, 120_000);
});
