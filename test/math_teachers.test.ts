/**
 * B-Pref teachers and query selection on hand-computed cases that test/reward/teachers.test.ts
 * and query.test.ts do not cover: the stochastic teacher draws from the MYOPIC returns, the
 * skip and equal thresholds of a segment length other than the margin's, the column
 * z-scoring in front of k-center, and HERON's pool std when pairs share segments.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../core/rng.js';
import { kCenterGreedy, normalizeColumns, topK } from '../reward/query.js';
import { TOY_SPEC } from '../envs/toy.js';
import type { EnvSpec } from '../envs/types.js';
import { HeronTeacher, parseHeronConfig, termSumStds } from '../reward/teachers/heron.js';
import { SyntheticTeacher } from '../reward/teachers/synthetic.js';
import type { Pair, Segment } from '../reward/types.js';
import { handSegment } from './helpers/segments.js';

const seg = (id: string, rewards: number[]): Segment => handSegment(id, rewards.length, { rewards: Float64Array.from(rewards), terms: Float64Array.from(rewards) });
const pair = (id: string, a: Segment, b: Segment): Pair => ({ id, a, b });

describe('stochastic and myopic together', () => {
  it('P(first) = sigmoid(beta (Rg(a) - Rg(b))) with the discounted returns Rg, not the plain ones', () => {
    // a = [2, 0], b = [0, 2], gamma 0.5: plain returns 2 and 2 (a coin flip if they were used);
    // myopic Rg(a) = 0.5 * 2 = 1, Rg(b) = 2 -> P(first) = sigmoid(1 * (1 - 2)) = 0.268941.
    const n = 4000;
    const pairs = Array.from({ length: n }, (_, i) => pair(`p${i}`, seg(`a${i}`, [2, 0]), seg(`b${i}`, [0, 2])));
    const t = new SyntheticTeacher({ rng: new Rng(12), beta: 1, gamma: 0.5 });
    const d = t.decide(pairs[0]);
    expect([d.returnA, d.returnB, d.myopicA, d.myopicB]).toEqual([2, 2, 1, 2]);
    const first = pairs.filter((p) => t.decide(p).probFirst === 1).length / n;
    // binomial std sqrt(0.268941 * 0.731059 / 4000) = 0.0070; 4 std = 0.028 (0.5 is 33 std away)
    expect(Math.abs(first - 0.268941)).toBeLessThan(0.028);
  });
});

describe('thresholds for segments of another length than the margin\'s', () => {
  it('skip and equal scale with the segment length: margin 4 for 4 steps is 2 for 2 steps', () => {
    // epsSkip 0.25, epsEqual 0.25, margin 4 per 4-step segment -> for 2-step segments margin 2,
    // skip threshold 0.25 * 2 = 0.5, equal threshold 0.25 * 2 = 0.5 (the 4-step ones would be 1).
    const t = new SyntheticTeacher({ rng: new Rng(0), epsSkip: 0.25, epsEqual: 0.25, margin: 4, marginLength: 4 });
    expect(t.thresholds(2)).toEqual({ margin: 2, skip: 0.5, equal: 0.5 });
    // R = 0.4 and 0.1: both < 0.5 -> skip
    expect(t.decide(pair('p1', seg('a1', [0.2, 0.2]), seg('b1', [0.1, 0]))).kind).toBe('skip');
    // R = 0.6 and 0.3: one above the skip threshold; |0.6 - 0.3| = 0.3 < 0.5 -> tie
    const tie = t.decide(pair('p2', seg('a2', [0.3, 0.3]), seg('b2', [0.3, 0])));
    expect([tie.kind, tie.probFirst, tie.equal]).toEqual(['preference', 0.5, true]);
    // R = 1.2 and 0.6: |diff| 0.6 >= 0.5 -> the oracle's 1 (with the 4-step threshold 1 it would be a tie)
    expect(t.decide(pair('p3', seg('a3', [0.6, 0.6]), seg('b3', [0.3, 0.3]))).probFirst).toBe(1);
    // 4-step segments use the margin as set: skip threshold 1; R = 0.9 and 0.8 -> skip
    expect(t.decide(pair('p4', seg('a4', [0.9, 0, 0, 0]), seg('b4', [0.8, 0, 0, 0]))).kind).toBe('skip');
  });
});

describe('k-center feature scaling', () => {
  it('normalizeColumns z-scores each column with the population std and only centres a constant one', () => {
    // column 0: [0, 2, 4]: mean 2, std sqrt(8 / 3) = 1.632993 -> [-1.224745, 0, 1.224745]
    // column 1: [5, 5, 5] -> [0, 0, 0];  column 2: [1, 1, 4]: mean 2, std sqrt(6 / 3) = 1.414214 -> [-0.707107, -0.707107, 1.414214]
    const x = Float64Array.from([0, 5, 1, 2, 5, 1, 4, 5, 4]);
    normalizeColumns(x, 3);
    expect(Array.from(x, (v) => +v.toFixed(6))).toEqual([-1.224745, 0, -0.707107, 0, 0, -0.707107, 1.224745, 0, 1.414214]);
  });

  it('after scaling a column in large units no longer decides the farthest point', () => {
    // points (x, y): P0 (0, 0) labelled centre; P1 (0, 100); P2 (3, 0); P3 (0, 110).
    // Raw: squared distances to P0 are 10000, 9, 12100 -> P3. Z-scored: x [0, 0, 3, 0] has mean 0.75,
    // std 1.299038 -> P2's x = 1.732051, the others -0.577350; y [0, 100, 0, 110] has mean 52.5,
    // std sqrt(11075 / 4) = 52.618913 -> [-0.997740, 0.902717, -0.997740, 1.092763].
    // Squared distances to P0: P1 1.900457^2 = 3.611738, P2 2.309401^2 = 5.333333, P3 2.090503^2 = 4.370203 -> P2.
    const raw = Float64Array.from([0, 0, 0, 100, 3, 0, 0, 110]);
    expect(Array.from(kCenterGreedy(raw, 2, 1, { among: [1, 2, 3], centres: [0], rng: new Rng(0) }))).toEqual([3]);
    const z = raw.slice();
    normalizeColumns(z, 2);
    expect(Array.from(kCenterGreedy(z, 2, 1, { among: [1, 2, 3], centres: [0], rng: new Rng(0) }))).toEqual([2]);
  });
});

describe('topK with NaN scores', () => {
  it('ranks NaN below every number (an ensemble that output NaN must not win the query), ties to the lower index', () => {
    // before: the comparator returned NaN, and [0.3, NaN, 0.9, NaN, 0.1] gave [0, 1, 2]
    expect(Array.from(topK([0.3, Number.NaN, 0.9, Number.NaN, 0.1], 3))).toEqual([2, 0, 4]);
    expect(Array.from(topK([Number.NaN, 0.2, 0.5], 2))).toEqual([2, 1]);
    // all NaN: index order
    expect(Array.from(topK([Number.NaN, Number.NaN], 2))).toEqual([0, 1]);
    // +-Infinity are ordinary scores
    expect(Array.from(topK([Number.NEGATIVE_INFINITY, Number.NaN, Number.POSITIVE_INFINITY, 0], 4))).toEqual([2, 3, 0, 1]);
  });
});

describe('HERON pool std when pairs share segments', () => {
  // One reward term, higher is better; one-step segments. x (sum 0) is in all four pairs, against
  // y1..y4 (sum 2 each): the pool is the 5 segments {0, 2, 2, 2, 2}: mean 1.6, population variance
  // (1.6^2 + 4 x 0.4^2) / 5 = 3.2 / 5 = 0.64, std 0.8. Counted once per pair, x would be there
  // four times, {0, 2, 0, 2, 0, 2, 0, 2}: mean 1, std 1.
  const ONE: EnvSpec = { ...TOY_SPEC, id: 'one-term', rewardTerms: [{ name: 'score', weight: 1, doc: '' }] };
  const x = seg('x', [0]);
  const ys = [1, 2, 3, 4].map((k) => seg(`y${k}`, [2]));
  const pairs = ys.map((y, k) => pair(`p${k}`, x, y));
  const heron = (): HeronTeacher => new HeronTeacher({ spec: ONE, config: parseHeronConfig({ ranking: ['score'], margins: [2.2] }, ONE, 'one.json') });

  it('counts each segment once: std 0.8, not the 1 of the pairs\' segments with repeats', () => {
    expect(termSumStds(pairs.flatMap((p) => [p.a, p.b]))[0]).toBeCloseTo(0.8, 12);
    const chunked = heron();
    // x in both chunks, twice in the first: still counted once.
    chunked.setPoolChunks([[x, ys[0], x, ys[1]], [x, ys[2], x, ys[3]]]);
    expect(chunked.poolStds()?.[0]).toBeCloseTo(0.8, 12);
    // Two copies of one segment are a pool of one: the stds stay unset, given in chunks or whole to observe.
    const one = heron();
    one.setPoolChunks([[x], [x]]);
    expect(one.poolStds()).toBeUndefined();
    const ctx = { meanEpisodeReturn: 0, episodeLength: 1, segmentLength: 1 };
    one.observe({ ...ctx, pool: [x, x] });
    expect(one.poolStds()).toBeUndefined();
    one.observe({ ...ctx, pool: [x, ys[0], x, ys[1], ys[2], ys[3]] });
    expect(one.poolStds()?.[0]).toBeCloseTo(0.8, 12);
  });

  it('the labels follow: |diff| 2 > margin 2.2 x std 0.8 = 1.76 decides for y (it was 2.2 x 1 = 2.2, a tie)', async () => {
    const labels = await heron().label(pairs);
    for (const l of labels) {
      expect(l.kind === 'preference' && l.probFirst).toBe(0);
      const raw = JSON.parse(l.raw ?? '') as { decidedBy: string; diff: number; threshold: number };
      expect(raw.decidedBy).toBe('score');
      expect(raw.diff).toBe(-2);
      expect(raw.threshold).toBeCloseTo(1.76, 12);
    }
  });
});
