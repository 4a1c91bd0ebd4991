/**
 * The HERON page scales margins by the stds of the pool the HERON teacher reads (every stored
 * pair's segments, each once), not by the capped pairs it shows (2000 labelled + 200 pending):
 * on a store above the cap those stds differed, and so did verdicts near a margin.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../core/clock.js';
import { TOY_SPEC } from '../../envs/toy.js';
import { allPairsInChunks } from '../../reward/offline.js';
import { LabelStore } from '../../reward/store.js';
import { HeronTeacher, heronDecide, parseHeronConfig, termSums, termSumStds } from '../../reward/teachers/heron.js';
import { labelId } from '../../reward/teachers/synthetic.js';
import type { Label, Pair } from '../../reward/types.js';
import { loadViewerEnv } from '../../viewer/env_info.js';
import { heronPreview, loadHeronPool, PoolTermSums } from '../../viewer/heron_preview.js';
import { ViewerServer } from '../../viewer/server.js';
import { storeWith } from '../helpers/store.js';
import { toyTermSegment } from '../helpers/toy_segment.js';
import { makePairs, stubSite, TestClient } from './helpers.js';

/** One-step toy-reach segments with chosen term sums. */
const seg = toyTermSegment;

const pref = (p: Pair, teacher: string, probFirst: number): Label => ({ id: labelId(teacher, p.id), pairId: p.id, teacher, kind: 'preference', probFirst });
const CONFIG = { ranking: ['goal_distance', 'control_effort', 'at_goal'], margins: [0.3, 0.3, 0.3] };

// Sums: s0 (0, 0, 0), s1 (2, 4, 1), s2 (4, 0, 0), s3 (6, 8, 1): each term's mean 3, 3, 0.5;
// population variances (9 + 1 + 1 + 9) / 4 = 5, (9 + 1 + 9 + 25) / 4 = 11, 0.25.
const S = [seg('s0', [0, 0, 0]), seg('s1', [2, 4, 1]), seg('s2', [4, 0, 0]), seg('s3', [6, 8, 1])];
const HAND = [
  { id: 'p1', a: S[0], b: S[1] },
  { id: 'p2', a: S[0], b: S[2] },
  { id: 'p3', a: S[3], b: S[1] },
];

describe('PoolTermSums', () => {
  it('gives the stds of every stored segment once (hand-computed), reads each segment once, and pauses between slices', async () => {
    const store = storeWith(HAND);
    try {
      const sums = new PoolTermSums();
      let pauses = 0;
      const pause = async (): Promise<void> => {
        pauses++;
      };
      const got = await sums.stds(store, { slice: 2, pause });
      expect(got?.segments).toBe(4);
      expect(Array.from(got?.stds ?? [])).toEqual([Math.sqrt(5), Math.sqrt(11), 0.5].map((x) => expect.closeTo(x, 12)));
      expect([sums.reads, pauses]).toEqual([4, 1]); // 4 segments in slices of 2: one pause between them
      // A pair stored since: only its new segment is read. s4 (3, 3, 0.5) is each term's mean, so the
      // variances become 5 x 4 / 5 = 4, 11 x 4 / 5 = 8.8, 0.25 x 4 / 5 = 0.2.
      store.putPairs([{ id: 'p4', a: seg('s4', [3, 3, 0.5]), b: S[2] }]);
      const again = await sums.stds(store, { slice: 2, pause });
      expect(again?.segments).toBe(5);
      expect(Array.from(again?.stds ?? [])).toEqual([2, Math.sqrt(8.8), Math.sqrt(0.2)].map((x) => expect.closeTo(x, 12)));
      expect([sums.reads, pauses]).toEqual([5, 1]);
    } finally {
      store.close();
    }
  });

  it('small caps: the samples and the agreement figure are capped, the stds are over every stored segment', async () => {
    const store = storeWith(HAND, { ada: 'human' });
    try {
      store.addLabels([pref(HAND[0], 'ada', 1), pref(HAND[1], 'ada', 0)]);
      const pool = await loadHeronPool(store, { maxLabelled: 1, maxPending: 1, samples: 8 });
      if (!pool) throw new Error('no pool');
      expect(pool.labelled.map((l) => l.pair.id)).toEqual(['p1']);
      // The agreement figure says it is over the first of the pairs with preferences.
      expect(pool.labelledFirstOf).toEqual({ read: 1, total: 2 });
      expect(heronPreview(CONFIG, TOY_SPEC, pool).agreement.firstOf).toEqual({ read: 1, total: 2 });
      expect(pool.samples.map((s) => s.pair.id)).toEqual(['p1', 'p3']);
      expect(pool.segments).toBe(4);
      expect(Array.from(pool.stds)).toEqual([Math.sqrt(5), Math.sqrt(11), 0.5].map((x) => expect.closeTo(x, 12)));
    } finally {
      store.close();
    }
  });

  it('a store without pairs gives no pool', async () => {
    const none = LabelStore.open(join(mkdtempSync(join(tmpdir(), 'prefrl-store-')), 'labels.sqlite'), { envId: TOY_SPEC.id, modelHash: TOY_SPEC.modelHash });
    try {
      expect(await new PoolTermSums().stds(none)).toBeNull();
      expect(await loadHeronPool(none)).toBeNull();
    } finally {
      none.close();
    }
  });
});

describe('a store above the page cap (2,100 labelled + 300 pending pairs)', () => {
  let dir: string;
  let pairs: Pair[];
  let store: LabelStore;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'prefrl-heron-cap-'));
    pairs = (await makePairs('toy-reach', { episodes: 1600, steps: 40, length: 10, seed: 7 })).slice(0, 2400);
    store = storeWith(pairs, { ada: 'human' });
    // The first 2,100 pairs in the store's order get a person's preference; the last 300 stay pending.
    const ids = store.pairIdsToLabel();
    const byId = new Map(pairs.map((p) => [p.id, p]));
    store.addLabels(ids.slice(0, 2100).map((id, i) => pref(byId.get(id) as Pair, 'ada', i % 3 === 0 ? 0 : 1)));
  }, 60_000);

  afterAll(() => {
    store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the page and the teacher (the pool read a chunk at a time, as label and offline read it) use the same stds, to the bit, and decide alike', async () => {
    expect(pairs.length).toBe(2400);
    expect(store.counts().pairs).toBe(2400);
    const pool = await loadHeronPool(store);
    if (!pool) throw new Error('no pool');
    const teacher = new HeronTeacher({ spec: TOY_SPEC, config: parseHeronConfig(CONFIG, TOY_SPEC, 'heron.json') });
    teacher.setPoolChunks(allPairsInChunks(store));
    const stds = teacher.poolStds() as Float64Array;
    expect(pool.segments).toBe(4800);
    expect(Array.from(pool.stds)).toEqual(Array.from(stds));
    // What the page used before: the capped pairs' segments only (2,000 labelled + 200 pending).
    const capped = termSumStds([...pool.labelled.map((l) => l.pair), ...store.pendingPairs({ limit: 200 })].flatMap((p) => [p.a, p.b]));
    expect(pool.labelled.length).toBe(2000);
    expect(Math.max(...Array.from(stds, (s, k) => Math.abs(s - capped[k]) / s))).toBeGreaterThan(1e-3);
    // Verdicts on the labelled pairs: the page's stds give the teacher's; the capped ones did not, on some pair.
    const levels = teacher.levels;
    let differedBefore = 0;
    for (const { pair } of pool.labelled) {
      const t = teacher.decide(pair);
      const page = heronDecide(termSums(pair.a), termSums(pair.b), pool.stds, levels);
      expect([page.probFirst, page.level]).toEqual([t.probFirst, t.level]);
      const old = heronDecide(termSums(pair.a), termSums(pair.b), capped, levels);
      if (old.probFirst !== t.probFirst || old.level !== t.level) differedBefore++;
    }
    expect(differedBefore).toBeGreaterThan(0);
    const shown = heronPreview(CONFIG, TOY_SPEC, pool);
    expect([shown.poolSegments, shown.agreement.pairs]).toEqual([4800, 2000]);
    expect(shown.agreement.firstOf).toEqual({ read: 2000, total: 2100 });
    expect(shown.stds).toEqual(Array.from(stds));
  });

  it("the server's heron_result carries the teacher's stds, and pairs stored since show once the cached pool is 30 s old", async () => {
    const site = stubSite(join(dir, 'site'));
    const env = await loadViewerEnv({ id: 'toy-reach' });
    const clock = new ManualClock();
    const s = await ViewerServer.start({ store, env, port: 0, staticDir: site, pollMs: 50, clock });
    const c = await TestClient.open(s.url);
    try {
      await c.hello({ name: 'ada' });
      const teacher = new HeronTeacher({ spec: TOY_SPEC, config: parseHeronConfig(CONFIG, TOY_SPEC, 'heron.json') });
      teacher.setPoolChunks(allPairsInChunks(store));
      c.send({ type: 'heron_preview', seq: 1, config: CONFIG });
      const r = await c.next('heron_result');
      expect([r.re, r.poolSegments, r.agreement.pairs]).toEqual([1, 4800, 2000]);
      expect(r.agreement.firstOf).toEqual({ read: 2000, total: 2100 });
      expect(r.stds).toEqual(Array.from(teacher.poolStds() as Float64Array));
      // One more pair (s0's sums are 0: the stds move) shows once the cached pool is 30 s old.
      store.putPairs([{ id: 'extra', a: seg('x0', [0, 0, 0]), b: seg('x1', [50, 0, 0]) }]);
      c.send({ type: 'heron_preview', seq: 2, config: CONFIG });
      expect((await c.next('heron_result')).poolSegments).toBe(4800);
      clock.advance(30_001);
      c.send({ type: 'heron_preview', seq: 3, config: CONFIG });
      const later = await c.next('heron_result');
      expect(later.poolSegments).toBe(4802);
      teacher.setPoolChunks(allPairsInChunks(store));
      expect(later.stds).toEqual(Array.from(teacher.poolStds() as Float64Array));
    } finally {
      c.close();
      await s.close();
    }
  }, 30_000);
});
