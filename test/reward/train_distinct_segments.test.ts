// Reward training holds each distinct segment's input rows once, however many labelled pairs
// it is in: the normaliser, the weights and the held-out numbers are those of training on every
// pair's rows written out, and segments are told apart by content, not by id alone.
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../core/backend.js';
import { Rng } from '../../core/rng.js';
import { randomPolicy, rollout } from '../../envs/rollout.js';
import { ToyReachEnv } from '../../envs/toy.js';
import { InputNormalizer, RewardNet } from '../../reward/network.js';
import { cutSegments, makePair, segmentReturn } from '../../reward/segments.js';
import { trainRewardModel, type TrainResult } from '../../reward/train.js';
import type { Label, Pair, Segment } from '../../reward/types.js';

beforeAll(async () => {
  await initBackend('wasm');
});

describe('InputNormalizer.fitSegments', () => {
  it('fits the listed segments\' rows in turn, a segment listed twice counted twice (hand-computed)', () => {
    // Two segments of H = 2 rows, one value each: seg 0 = [1, 3], seg 1 = [5, 7]; listed 0, 1, 0,
    // so the rows are 1, 3, 5, 7, 1, 3: mean 20 / 6 = 3.333333, population variance
    // (2 x 2.333333^2 + 2 x 0.333333^2 + 1.666667^2 + 3.666667^2) / 6 = 27.333333 / 6 = 4.555556, std 2.134375.
    const rows = Float32Array.of(1, 3, 5, 7);
    const norm = InputNormalizer.fitSegments(rows, 1, 2, Int32Array.of(0, 1, 0));
    expect(norm.mean[0]).toBeCloseTo(3.333333, 5);
    expect(norm.std[0]).toBeCloseTo(2.134375, 5);
    const written = InputNormalizer.fit(Float32Array.of(1, 3, 5, 7, 1, 3), 1);
    expect(Array.from(norm.mean)).toEqual(Array.from(written.mean));
    expect(Array.from(norm.std)).toEqual(Array.from(written.std));
  });

  it('refuses a segment index outside the rows, rows that are not whole segments, and no segments', () => {
    expect(() => InputNormalizer.fitSegments(Float32Array.of(1, 3, 5, 7), 1, 2, Int32Array.of(0, 2))).toThrow(/segment 2 is not one of the 2 held/);
    expect(() => InputNormalizer.fitSegments(Float32Array.of(1, 3, 5), 1, 2, Int32Array.of(0))).toThrow(/3 values are not \[S, 2, 1\] segment rows/);
    expect(() => InputNormalizer.fitSegments(Float32Array.of(1, 3), 1, 2, new Int32Array(0))).toThrow(/no segments are listed/);
  });
});

function toySegments(episodes: number, seed: number): Segment[] {
  const env = new ToyReachEnv();
  const trajs = rollout(env, randomPolicy(env.spec, new Rng(seed).fork('policy')), { episodes, seed });
  return cutSegments(trajs, { length: 10, source: `toy-${seed}` });
}

/** `count` pairs of segment indices drawn from `n` segments (a != b), so segments recur across pairs. */
function pairIndices(n: number, count: number, rng: Rng): [number, number][] {
  return Array.from({ length: count }, () => {
    const i = rng.int(n);
    let j = rng.int(n - 1);
    if (j >= i) j++;
    return [i, j];
  });
}

function oracle(pairs: readonly Pair[]): Label[] {
  return pairs.map((p, i) => {
    const ra = segmentReturn(p.a);
    const rb = segmentReturn(p.b);
    return { kind: 'preference', id: `l${i}`, pairId: p.id, teacher: 'oracle', probFirst: ra > rb ? 1 : ra < rb ? 0 : 0.5 };
  });
}

async function trained(pairs: readonly Pair[]): Promise<{ weights: number[][]; normMean: number[]; normStd: number[]; result: TrainResult }> {
  const net = RewardNet.create({ obsDim: 6, actDim: 2, hidden: [16], members: 2 }, new Rng(5));
  try {
    const result = await trainRewardModel(net, pairs, oracle(pairs), { rng: new Rng(6), epochs: 4, batchSize: 16, lr: 3e-3, patience: 10 });
    const weights = [0, 1].flatMap((k) => net.getMemberWeights(k).map((w) => Array.from(w)));
    return { weights, normMean: Array.from(net.normalizer.mean), normStd: Array.from(net.normalizer.std), result };
  } finally {
    net.dispose();
  }
}

describe('reward training on pairs that share segments', () => {
  const segs = toySegments(6, 11); // 6 episodes of toy-reach cut into 10-step windows
  const idx = pairIndices(segs.length, 120, new Rng('pairs'));

  it('trains the same weights as on a copy of each segment per pair (no sharing)', async () => {
    expect(segs.length).toBeLessThan(40); // 240 segment places over < 40 segments: each recurs
    const shared = idx.map(([i, j]) => makePair(segs[i], segs[j]));
    const apart = idx.map(([i, j], p) => makePair({ ...segs[i], id: `p${p}a` }, { ...segs[j], id: `p${p}b` }));
    const a = await trained(shared);
    const b = await trained(apart);
    expect(a.result.trainPairs).toBe(108);
    expect(a.result.valPairs).toBe(12);
    expect(a.normMean).toEqual(b.normMean);
    expect(a.normStd).toEqual(b.normStd);
    expect(a.weights).toEqual(b.weights);
    expect(a.result.valNll).toBe(b.result.valNll);
    expect(a.result.epochs.map((e) => e.trainLoss)).toEqual(b.result.epochs.map((e) => e.trainLoss));
  }, 60_000);

  it('keeps two segments of one id but other contents apart', async () => {
    // Every segment renamed to one of 3 ids: most share an id with a segment of other steps.
    const clashing = segs.map((g, i) => ({ ...g, id: segs[i % 3].id }));
    const named = segs.map((g, i) => ({ ...g, id: `s${i}` }));
    const pairsOf = (list: readonly Segment[]) => idx.map(([i, j]) => makePair(list[i], list[j]));
    const a = await trained(pairsOf(clashing));
    const b = await trained(pairsOf(named));
    expect(a.normMean).toEqual(b.normMean);
    expect(a.weights).toEqual(b.weights);
    expect(a.result.valNll).toBe(b.result.valNll);
  }, 60_000);
});
