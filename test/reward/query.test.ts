import { describe, expect, it } from 'vitest';
import { Rng } from '../../core/rng.js';
import { randomPolicy, rollout } from '../../envs/rollout.js';
import { ToyReachEnv } from '../../envs/toy.js';
import {
  disagreementScores,
  entropyScores,
  kCenterGreedy,
  pairFeatures,
  sameEpisodePairs,
  samplePairs,
  selectQueries,
  topK,
  topSegments,
} from '../../reward/query.js';
import { cutSegments } from '../../reward/segments.js';
import type { Pair, Segment } from '../../reward/types.js';
import { handSegment } from '../helpers/segments.js';

/** A 2-step segment with 1-d obs (3 values) and 1-d actions (2 values). */
function seg(id: string, obs: [number, number, number], actions: [number, number] = [0, 0]): Segment {
  return handSegment(id, 2, { obs: Float32Array.from(obs), actions: Float32Array.from(actions) });
}

/** A pair whose features are [x, 0, x, 0 | x, 0, x, 0] (obs_t, action_t for t = 0, 1, then b). */
function pointPair(id: string, x: number): Pair {
  return { id, a: seg(`${id}a`, [x, x, 99]), b: seg(`${id}b`, [x, x, -99]) };
}

function toyPool(): Segment[] {
  const env = new ToyReachEnv();
  return cutSegments(rollout(env, randomPolicy(env.spec, new Rng(4)), { episodes: 4, seed: 5 }), { length: 10 });
}

describe('sameEpisodePairs (--pair-scope episode)', () => {
  const from = (id: string, source: string): Segment => ({ ...seg(id, [0, 0, 0]), source });
  // Episode A has 3 segments (3 possible pairs), B one (no pair), C two (one pair); the last entry repeats a1's id.
  const pool = [from('a1', 'run#0'), from('a2', 'run#0'), from('b1', 'run#1'), from('a3', 'run#0'), from('c1', 'run#2'), from('c2', 'run#2'), from('a1', 'run#0')];

  it('pairs two distinct segments of one episode, never a lone segment, with episodes drawn evenly', () => {
    const pairs = sameEpisodePairs(pool, 2000, new Rng(7));
    expect(pairs.length).toBe(2000);
    const key = (p: Pair): string => [p.a.id, p.b.id].sort().join('-');
    const seen = new Map<string, number>();
    for (const p of pairs) {
      expect(p.a.source).toBe(p.b.source);
      expect(p.a.id).not.toBe(p.b.id);
      seen.set(key(p), (seen.get(key(p)) ?? 0) + 1);
    }
    expect([...seen.keys()].sort()).toEqual(['a1-a2', 'a1-a3', 'a2-a3', 'c1-c2']);
    // Episodes A and C are drawn with probability 1/2 each: C's single pair ~1000 times, A's three ~333 each.
    expect(Math.abs((seen.get('c1-c2') ?? 0) - 1000)).toBeLessThan(100);
    for (const k of ['a1-a2', 'a1-a3', 'a2-a3']) expect(Math.abs((seen.get(k) ?? 0) - 333)).toBeLessThan(70);
  });

  it('is seeded, returns nothing for count 0, and says why when no episode has two segments', () => {
    const ids = (ps: Pair[]) => ps.map((p) => `${p.a.id}/${p.b.id}`);
    expect(ids(sameEpisodePairs(pool, 20, new Rng(3)))).toEqual(ids(sameEpisodePairs(pool, 20, new Rng(3))));
    expect(sameEpisodePairs(pool, 0, new Rng(3))).toEqual([]);
    expect(() => sameEpisodePairs([from('x', 'run#0'), from('y', 'run#1')], 5, new Rng(3))).toThrow(/no episode in the pool has 2 distinct segments \(2 segments from 2 episodes\)/);
    expect(() => sameEpisodePairs(pool, -1, new Rng(3))).toThrow(/count must be a non-negative integer/);
  });
});

describe('topSegments (--pool-top)', () => {
  // Five segments, two members: mean predicted returns (1+3)/2=2, (5+5)/2=5, (-1+1)/2=0, (4+8)/2=6, (2+2)/2=2.
  const pool = ['s0', 's1', 's2', 's3', 's4'].map((id) => seg(id, [0, 0, 0]));
  const sums = Float32Array.from([1, 5, -1, 4, 2, 3, 5, 1, 8, 2]);

  it('keeps the best-predicted share of the pool by the members\' mean, in pool order', () => {
    expect(topSegments(pool, sums, 0.4).map((g) => g.id)).toEqual(['s1', 's3']);
    // ceil(0.6 x 5) = 3: s3 (6), s1 (5), then the tie at 2 goes to the earlier segment, s0.
    expect(topSegments(pool, sums, 0.6).map((g) => g.id)).toEqual(['s0', 's1', 's3']);
    expect(topSegments(pool, sums, 1).map((g) => g.id)).toEqual(['s0', 's1', 's2', 's3', 's4']);
  });

  it('keeps at least two segments, so pairs can still be drawn', () => {
    expect(topSegments(pool, sums, 0.01).map((g) => g.id)).toEqual(['s1', 's3']);
  });

  it('rejects a fraction outside (0, 1] and predictions of the wrong size', () => {
    expect(() => topSegments(pool, sums, 0)).toThrow(/fraction must be in \(0, 1\], got 0/);
    expect(() => topSegments(pool, sums, 1.5)).toThrow(/fraction must be in/);
    expect(() => topSegments(pool, new Float32Array(7), 0.5)).toThrow(/predictions of length 7 are not \[members, 5\]/);
  });
});

describe('samplePairs', () => {
  it('never pairs a segment with itself and is seeded', () => {
    const pool = toyPool();
    const pairs = samplePairs(pool, 500, new Rng(1));
    expect(pairs).toHaveLength(500);
    for (const p of pairs) expect(p.a.id).not.toBe(p.b.id);
    expect(samplePairs(pool, 500, new Rng(1)).map((p) => p.id)).toEqual(pairs.map((p) => p.id));
  });

  it('refuses a pool without two distinct segments', () => {
    const s = seg('s', [0, 0, 0]);
    expect(() => samplePairs([s, s], 1, new Rng(0))).toThrow(/2 distinct/);
    expect(samplePairs([s], 0, new Rng(0))).toEqual([]);
  });
});

describe('uncertainty scores', () => {
  // 3 members x 4 pairs (row = member):
  //   pair 0: 0.5, 0.5, 0.5   std 0
  //   pair 1: 0.1, 0.9, 0.5   mean 0.5, std sqrt((0.16 + 0.16 + 0) / 3) = 0.326599
  //   pair 2: 0.4, 0.6, 0.5   std sqrt((0.01 + 0.01) / 3) = 0.081650
  //   pair 3: 0,   1,   0     mean 1/3, std sqrt((1/9 + 4/9 + 1/9) / 3) = sqrt(2/9) = 0.471405
  const preds = Float32Array.from([0.5, 0.1, 0.4, 0, 0.5, 0.9, 0.6, 1, 0.5, 0.5, 0.5, 0]);

  it('disagreement = std across members', () => {
    const s = disagreementScores(preds, 4);
    [0, 0.326599, 0.08165, 0.471405].forEach((v, i) => expect(s[i]).toBeCloseTo(v, 5));
  });

  it('entropy of the ensemble-mean P', () => {
    const s = entropyScores(preds, 4);
    // means 0.5, 0.5, 0.5, 1/3: ln 2 = 0.693147 x3; H(1/3) = (1/3) ln 3 + (2/3) ln 1.5 = 0.366204 + 0.270310 = 0.636514
    [0.693147, 0.693147, 0.693147, 0.636514].forEach((v, i) => expect(s[i]).toBeCloseTo(v, 5));
    expect(() => entropyScores(preds, 5)).toThrow(/members/);
  });

  it('topK: highest first, ties to the lower index', () => {
    expect(Array.from(topK([0.1, 0.7, 0.7, 0.3], 3))).toEqual([1, 2, 3]);
  });
});

describe('selectQueries', () => {
  const candidates = Array.from({ length: 6 }, (_, i) => pointPair(`c${i}`, i));
  // members x pairs: pair 4 most uncertain (std 0.5), then pair 1 (0.25), others 0; mean P:
  // pair 4 -> 0.5 (entropy ln 2), pair 1 -> 0.5, pair 2 -> 0.55 (entropy 0.688139), others ~0.95/0.05.
  const predict = (pairs: readonly Pair[]): Float32Array => {
    expect(pairs).toHaveLength(6);
    const m0 = [0.95, 0.25, 0.55, 0.05, 0, 0.95];
    const m1 = [0.95, 0.75, 0.55, 0.05, 1, 0.95];
    return Float32Array.from([...m0, ...m1]);
  };

  it('disagreement picks the known most-uncertain pairs', () => {
    const s = selectQueries(candidates, 2, 'disagreement', { rng: new Rng(0), predict });
    expect(Array.from(s.indices)).toEqual([4, 1]);
    expect(s.pairs.map((p) => p.id)).toEqual(['c4', 'c1']);
    expect(s.used).toBe('disagreement');
    expect(s.fallback).toBeUndefined();
  });

  it('entropy picks the pairs whose mean P is nearest 0.5', () => {
    const s = selectQueries(candidates, 3, 'entropy', { rng: new Rng(0), predict });
    // pairs 1 and 4 tie at ln 2 (lower index first), then pair 2
    expect(Array.from(s.indices)).toEqual([1, 4, 2]);
  });

  it('falls back to uniform without predictions and says so', () => {
    for (const method of ['disagreement', 'entropy', 'kcenter-disagreement', 'kcenter-entropy'] as const) {
      const s = selectQueries(candidates, 3, method, { rng: new Rng(2) });
      expect(s.requested).toBe(method);
      expect(s.used).toBe('uniform');
      expect(s.fallback).toMatch(/first round/);
      expect(new Set(s.indices).size).toBe(3);
    }
  });

  it('uniform picks k distinct candidates, seeded', () => {
    const a = selectQueries(candidates, 4, 'uniform', { rng: new Rng(3) });
    expect(new Set(a.indices).size).toBe(4);
    expect(Array.from(selectQueries(candidates, 4, 'uniform', { rng: new Rng(3) }).indices)).toEqual(Array.from(a.indices));
    expect(() => selectQueries(candidates, 7, 'uniform', { rng: new Rng(3) })).toThrow(/7 queries from 6/);
  });

  it('kcenter covers spread clusters', () => {
    // three clusters of pairs around x = 0, 10, 20 (4 pairs each, jitter 0.1)
    const clustered = [0, 10, 20].flatMap((c) => [0, 0.1, 0.2, 0.3].map((j) => pointPair(`k${c}_${j}`, c + j)));
    for (const seed of [0, 1, 2, 3]) {
      const s = selectQueries(clustered, 3, 'kcenter', { rng: new Rng(seed) });
      const clusters = Array.from(s.indices, (i) => Math.floor(i / 4)).sort();
      expect(clusters).toEqual([0, 1, 2]);
    }
  });

  it('kcenter starts from labelled pairs', () => {
    const s = selectQueries(candidates, 1, 'kcenter', { rng: new Rng(0), labelled: [pointPair('l', 0)] });
    // farthest from x = 0 is x = 5
    expect(Array.from(s.indices)).toEqual([5]);
  });

  it('kcenter-disagreement only picks among the top half by disagreement', () => {
    // stds: pair 4 0.5, pair 1 0.25, others 0 -> top half (3): [4, 1, 0]; k-center of x = {4, 1, 0}
    const s = selectQueries(candidates, 2, 'kcenter-disagreement', { rng: new Rng(0), predict });
    for (const i of s.indices) expect([4, 1, 0]).toContain(i);
    expect(s.scores?.[4]).toBeCloseTo(0.5, 6);
    expect(s.used).toBe('kcenter-disagreement');
    const e = selectQueries(candidates, 3, 'kcenter-entropy', { rng: new Rng(0), predict });
    expect(Array.from(e.indices).sort()).toEqual([1, 2, 4]);
  });
});

describe('k-center pieces', () => {
  it('greedy k-center on a line picks the farthest point each time', () => {
    const points = Float64Array.from({ length: 11 }, (_, i) => i); // x = 0..10, dim 1
    // centre {0}: farthest 10; then distances min(|x|, |x - 10|): max 5 at x = 5
    expect(Array.from(kCenterGreedy(points, 1, 2, { centres: [0], rng: new Rng(0) }))).toEqual([10, 5]);
    // restricted to `among`
    expect(Array.from(kCenterGreedy(points, 1, 1, { centres: [0], among: [2, 3, 4], rng: new Rng(0) }))).toEqual([4]);
  });

  it('pair features are (obs_t, action_t) rows of a then b, with a stride', () => {
    const p: Pair = { id: 'p', a: seg('a', [1, 2, 3], [10, 20]), b: seg('b', [4, 5, 6], [40, 50]) };
    const f = pairFeatures([p]);
    expect(f.dim).toBe(8);
    expect(Array.from(f.data)).toEqual([1, 10, 2, 20, 4, 40, 5, 50]);
    expect(Array.from(pairFeatures([p], 2).data)).toEqual([1, 10, 4, 40]);
  });
});
