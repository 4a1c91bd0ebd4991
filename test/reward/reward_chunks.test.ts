/**
 * The reward stage and the active query rounds read the labelled pairs a chunk at a time:
 * - store.teacherPreferences gives teacherLabels' preferences (same order) as columns, without
 *   any segment or label object, and
 *   store.pairSegmentIds a pair's segment ids without its segments;
 * - training on a LabelledPairSource that reads the pairs in chunks gives the weights and result
 *   of trainRewardModel on every pair in memory, bit for bit;
 * - segmentReturnCorrelation is the number meanSegmentSums over every distinct segment gave;
 * - k-center with its labelled pairs as chunks picks what it picked with them as one array;
 * - the offline reward stage and query rounds never call teacherLabels / labelledPairs and read
 *   at most LABELLED_CHUNK pairs at once, with the model the old path (every pair in memory) made.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type OfflineDataset, writeDataset } from '../../agents/dataset.js';
import { initBackend } from '../../core/backend.js';
import { ManualClock } from '../../core/clock.js';
import { silentLogger } from '../../core/log.js';
import { pearson } from '../../core/math.js';
import { Rng } from '../../core/rng.js';
import { TOY_SPEC } from '../../envs/toy.js';
import { RewardNet } from '../../reward/network.js';
import { LABELLED_CHUNK, labelsOf, type OfflineConfigInput, type QueryRound, resolveOfflineConfig, runOffline, segmentReturnCorrelation } from '../../reward/offline.js';
import { selectQueries } from '../../reward/query.js';
import { cutSegments, makePair, segmentReturn } from '../../reward/segments.js';
import { LabelStore } from '../../reward/store.js';
import { labelledPairSource, preferenceSource, rewardTrainOptions, trainRewardModel, trainRewardModelFrom } from '../../reward/train.js';
import type { Label, Pair, Segment } from '../../reward/types.js';
import { handSegment } from '../helpers/segments.js';
import { noisyToyTrajectories, toyReachDataset } from '../helpers/toy_dataset.js';

/** `n` noisy goal-seeking toy-reach episodes (test/helpers/toy_dataset.ts), their noise drawn from Rng(`seed`). */
const toyTrajs = (n: number, seed: number) => noisyToyTrajectories({ episodes: n, noiseSeed: seed, firstSeed: 300, noise: (k) => 0.3 + (k % 3) * 0.5 });

const toyDataset = (): OfflineDataset => toyReachDataset(toyTrajs(12, 3));

/** Segments of toy episodes (distinct returns), and the pairs (s_i, s_j) i < j in order, `count` of them. */
function toyPairs(count: number): { segs: Segment[]; pairs: Pair[] } {
  const segs = cutSegments(toyTrajs(14, 5), { length: 10 });
  const pairs: Pair[] = [];
  for (let i = 0; i < segs.length && pairs.length < count; i++) for (let j = i + 1; j < segs.length && pairs.length < count; j++) pairs.push(makePair(segs[i], segs[j]));
  return { segs, pairs };
}

/** The oracle's label of p (1 when a's return is higher, or `prob`), by `teacher`. */
function oracle(p: Pair, teacher = 'oracle', prob?: number): Label {
  return { id: `${teacher}-${p.id}`, pairId: p.id, teacher, kind: 'preference', probFirst: prob ?? (segmentReturn(p.a) > segmentReturn(p.b) ? 1 : 0) };
}

let dir = '';
let data = '';
beforeAll(async () => {
  await initBackend('wasm');
  dir = mkdtempSync(join(tmpdir(), 'prefrl-reward-chunks-'));
  data = await writeDataset(join(dir, 'toy.h5'), toyDataset());
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

function newStore(name: string, first: Segment): LabelStore {
  return LabelStore.open(join(dir, `${name}.sqlite`), { envId: first.envId, modelHash: first.modelHash, clock: new ManualClock() });
}

describe('LabelStore reads without segments', () => {
  it('teacherPreferences gives teacherLabels\' preferences in its order as columns, by hand, and reads no segment', () => {
    const s = Array.from({ length: 4 }, (_, i) => handSegment(`s${i}`, 3, { rewards: Float64Array.of(i, 0, 0) }));
    const p = [makePair(s[0], s[1]), makePair(s[1], s[2]), makePair(s[2], s[3]), makePair(s[3], s[0]), makePair(s[0], s[2])];
    const store = newStore('prefs', s[0]);
    try {
      store.putPairs(p.slice(0, 4), { round: 0 });
      store.putPairs(p.slice(4), { round: 1 });
      store.putTeacher({ id: 'oracle', kind: 'synthetic' });
      store.putTeacher({ id: 'bob', kind: 'synthetic' });
      // Stored out of pair order on purpose: the labels come back by pair (round, then insertion), then as stored.
      store.addLabels([oracle(p[4]), oracle(p[3], 'bob', 0.25), oracle(p[0])]);
      store.addLabels([{ id: 'skip-1', pairId: p[1].id, teacher: 'oracle', kind: 'skip', reason: 'unsure' }, oracle(p[0], 'bob'), oracle(p[2], 'oracle', 0.5)]);
      const reads = vi.spyOn(LabelStore.prototype as unknown as { materialise: () => Pair[] }, 'materialise');
      // Returns 0, 1, 2, 3 for s0..s3: the oracle prefers b (0) on p0 = (s0, s1), p2 = (s2, s3) (but says 0.5 there), p4 = (s0, s2).
      expect(store.teacherPreferences()).toEqual({
        ids: [`oracle-${p[0].id}`, `bob-${p[0].id}`, `oracle-${p[2].id}`, `bob-${p[3].id}`, `oracle-${p[4].id}`],
        pairIds: [p[0].id, p[0].id, p[2].id, p[3].id, p[4].id],
        probFirst: Float64Array.of(0, 0, 0.5, 0.25, 0),
      });
      expect(store.teacherPreferences({ keep: (t) => t === 'bob' })).toEqual({ ids: [`bob-${p[0].id}`, `bob-${p[3].id}`], pairIds: [p[0].id, p[3].id], probFirst: Float64Array.of(0, 0.25) });
      expect(reads).not.toHaveBeenCalled();
      reads.mockRestore();
      for (const keep of [undefined, (t: string) => t === 'oracle']) {
        const { pairs, labels } = store.teacherLabels({ keep });
        const cols = store.teacherPreferences({ keep });
        expect(cols.ids).toEqual(labels.map((l) => l.id));
        expect(cols.pairIds).toEqual(pairs.map((q) => q.id));
        expect(Array.from(cols.probFirst)).toEqual(labels.map((l) => (l.kind === 'preference' ? l.probFirst : Number.NaN)));
      }
    } finally {
      store.close();
    }
  });

  it('pairSegmentIds gives each pair\'s segment ids (every pair by round, then insertion, or the pairs asked), an unknown pair by name', () => {
    const s = Array.from({ length: 3 }, (_, i) => handSegment(`s${i}`, 2, { rewards: Float64Array.of(i, 0) }));
    const p = [makePair(s[0], s[1]), makePair(s[2], s[0]), makePair(s[1], s[2])];
    const store = newStore('segids', s[0]);
    try {
      store.putPairs([p[2]], { round: 1 });
      store.putPairs([p[0], p[1]], { round: 0 });
      const reads = vi.spyOn(LabelStore.prototype as unknown as { materialise: () => Pair[] }, 'materialise');
      expect(store.pairSegmentIds()).toEqual([
        { id: p[0].id, segA: 's0', segB: 's1' },
        { id: p[1].id, segA: 's2', segB: 's0' },
        { id: p[2].id, segA: 's1', segB: 's2' },
      ]);
      expect(store.pairSegmentIds([p[2].id, p[0].id])).toEqual([
        { id: p[2].id, segA: 's1', segB: 's2' },
        { id: p[0].id, segA: 's0', segB: 's1' },
      ]);
      expect(reads).not.toHaveBeenCalled();
      expect(() => store.pairSegmentIds(['nope'])).toThrow(/segids\.sqlite.*no pair nope/);
    } finally {
      store.close();
    }
  });
});

describe('training on pairs read a chunk at a time', () => {
  it('gives trainRewardModel\'s weights and result bit for bit, reading at most a chunk of pairs per call', async () => {
    const { pairs } = toyPairs(40);
    // Every pair by the oracle; pairs 0-4 also by bob (a pair appears once per label); 3 skips.
    const labels: Label[] = pairs.map((p) => oracle(p));
    const withPairs: Pair[] = [...pairs];
    for (let i = 0; i < 5; i++) {
      labels.push(oracle(pairs[i], 'bob'));
      withPairs.push(pairs[i]);
    }
    for (const i of [7, 20, 33]) labels[i] = { id: `skip-${i}`, pairId: pairs[i].id, teacher: 'oracle', kind: 'skip', reason: 'unsure' };
    const byId = new Map(pairs.map((p) => [p.id, p]));
    const calls: number[] = [];
    const read = (ids: readonly string[]) => {
      calls.push(ids.length);
      return ids.map((id) => byId.get(id) as Pair);
    };
    const mk = () => RewardNet.create({ obsDim: pairs[0].a.obsDim, actDim: pairs[0].a.actDim, members: 2, hidden: [8] }, new Rng(1));
    // valFraction 0.2: enough held-out pairs (>= 5) for the split, which this test follows through the chunks.
    const opts = () => ({ rng: new Rng(9), epochs: 3, batchSize: 8, valFraction: 0.2 });
    const ref = mk();
    const chunked = mk();
    try {
      const a = await trainRewardModel(ref, withPairs, labels, opts());
      const src = labelledPairSource(labels, read, 4);
      // 45 labels - 3 skips = 42 preferences, read 4 at a time: 10 reads of 4 and one of 2.
      expect([src.pairIds.length, src.skipped]).toEqual([42, 3]);
      const b = await trainRewardModelFrom(chunked, src, opts());
      expect(calls).toEqual([4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 2]);
      expect(b).toEqual(a);
      // 42 preferences: round(0.2 x 42) = 8 held out, 34 trained on.
      expect([b.trainPairs, b.valPairs, b.skipped]).toEqual([34, 8, 3]);
      for (let k = 0; k < 2; k++) expect(chunked.getMemberWeights(k)).toEqual(ref.getMemberWeights(k));
      expect(chunked.normalizer.toJSON()).toEqual(ref.normalizer.toJSON());
      expect(chunked.meta).toEqual(ref.meta);
    } finally {
      ref.dispose();
      chunked.dispose();
    }
  });

  it('refuses a label outside [0, 1] by its id, and a read that gives another pair than asked', () => {
    const { pairs } = toyPairs(3);
    expect(() => labelledPairSource([oracle(pairs[0], 'oracle', 1.5)], () => [])).toThrow(/label oracle-\S+ has probFirst 1.5, outside \[0, 1\]/);
    const src = labelledPairSource(pairs.map((p) => oracle(p)), (ids) => ids.map(() => pairs[2]));
    expect(() => src.forEachPair(() => {})).toThrow(`train: label 0 is for pair ${pairs[0].id}, but the pairs read give ${pairs[2].id} there`);
    // The same as columns.
    const cols = { ids: ['l0', 'l1'], pairIds: [pairs[0].id, pairs[1].id], probFirst: Float64Array.of(1, -0.5) };
    expect(() => preferenceSource(cols, () => [])).toThrow('train: label l1 has probFirst -0.5, outside [0, 1]');
    expect(() => preferenceSource({ ...cols, ids: ['l0'] }, () => [])).toThrow('train: 1 label ids, 2 pair ids and 2 probFirst values (need one each per label)');
    const ok = preferenceSource({ ...cols, probFirst: Float64Array.of(1, 0.5) }, (ids) => ids.map((id) => pairs.find((p) => p.id === id) as Pair), 1);
    const seen: [string, number][] = [];
    ok.forEachPair((p, i) => seen.push([p.id, i]));
    expect([ok.pairIds, ok.labels, ok.skipped, seen]).toEqual([cols.pairIds, Float64Array.of(1, 0.5), 0, [[pairs[0].id, 0], [pairs[1].id, 1]]]);
  });
});

describe('segmentReturnCorrelation', () => {
  it('is pearson(meanSegmentSums, returns) over the distinct segments in first-met order, reading each segment once and no pair', () => {
    const { pairs } = toyPairs(1300);
    expect(pairs.length).toBe(1300);
    const store = newStore('corr', pairs[0].a);
    const net = RewardNet.create({ obsDim: pairs[0].a.obsDim, actDim: pairs[0].a.actDim, members: 3, hidden: [8] }, new Rng(2));
    try {
      store.putPairs(pairs);
      store.putTeacher({ id: 'oracle', kind: 'synthetic' });
      store.addLabels(pairs.map((p) => oracle(p)));
      // The old path: every labelled pair in memory, its segments in a Map.
      const old = store.teacherLabels();
      const segs = new Map<string, Segment>();
      for (const p of old.pairs) {
        segs.set(p.a.id, p.a);
        segs.set(p.b.id, p.b);
      }
      const list = [...segs.values()];
      const expected = pearson(net.meanSegmentSums(list), list.map(segmentReturn));
      const get = vi.spyOn(LabelStore.prototype, 'getPairs');
      const one = vi.spyOn(LabelStore.prototype, 'getSegment');
      // Pairs repeated (a pair labelled twice) change nothing.
      const ids = [...old.labels.map((l) => l.pairId), old.labels[5].pairId];
      expect(segmentReturnCorrelation(net, store, ids)).toBe(expected);
      expect(get).not.toHaveBeenCalled();
      expect(one.mock.calls.map(([id]) => id)).toEqual(list.map((g) => g.id));
      // 1,300 pairs over the 70 segments: every segment is met.
      expect(list.length).toBe(70);
    } finally {
      net.dispose();
      store.close();
    }
  });
});

describe('k-center with the labelled pairs in chunks', () => {
  it('picks what it picks with them as one array; chunks are read only by k-center methods', () => {
    const { pairs } = toyPairs(60);
    const candidates = pairs.slice(0, 40);
    const labelled = pairs.slice(40);
    const predict = (ps: readonly Pair[]) => Float32Array.from({ length: 2 * ps.length }, (_, i) => ((i * 7919) % 101) / 101);
    let reads = 0;
    const chunks = (size: number) => ({
      count: labelled.length,
      chunks: function* () {
        reads++;
        for (let i = 0; i < labelled.length; i += size) yield labelled.slice(i, i + size);
      },
    });
    for (const method of ['kcenter', 'kcenter-disagreement', 'kcenter-entropy'] as const) {
      const a = selectQueries(candidates, 6, method, { rng: new Rng(4), predict, labelled });
      const b = selectQueries(candidates, 6, method, { rng: new Rng(4), predict, labelledChunks: chunks(3) });
      expect(b.indices).toEqual(a.indices);
      expect(b.pairs.map((p) => p.id)).toEqual(a.pairs.map((p) => p.id));
    }
    expect(reads).toBe(3);
    selectQueries(candidates, 6, 'disagreement', { rng: new Rng(4), predict, labelledChunks: chunks(3) });
    selectQueries(candidates, 6, 'uniform', { rng: new Rng(4), labelledChunks: chunks(3) });
    expect(reads).toBe(3);
    expect(() => selectQueries(candidates, 6, 'kcenter', { rng: new Rng(4), labelledChunks: { ...chunks(3), count: 21 } })).toThrow(
      'selectQueries: the labelled chunks hold 20 pairs, not the 21 they announce',
    );
    expect(() => selectQueries(candidates, 6, 'kcenter', { rng: new Rng(4), labelledChunks: { ...chunks(3), count: 19 } })).toThrow(/hold more than the 19 pairs/);
    expect(() => selectQueries(candidates, 6, 'kcenter', { rng: new Rng(4), labelled, labelledChunks: chunks(3) })).toThrow(/as labelled or as labelledChunks, not both/);
  });
});

const tiny = (over: Partial<OfflineConfigInput> = {}): OfflineConfigInput => ({
  dataset: data,
  teacher: 'oracle',
  labels: 1200,
  labelBatch: 500,
  segmentLength: 10,
  rewardMembers: 2,
  rewardHidden: [8],
  rewardEpochs: 2,
  updates: 4,
  batchSize: 16,
  hidden: [8],
  evalEpisodes: 1,
  backend: 'wasm',
  ...over,
});
const ctx = () => ({ logger: silentLogger, clock: new ManualClock() });

describe('offline reward stage: the labelled pairs a chunk at a time', () => {
  it('makes the model and numbers of training on every pair in memory, never reading more than a chunk of pairs', async () => {
    const res = await runOffline({ config: tiny(), stages: ['pairs', 'label'], runsDir: join(dir, 'runs') }, ctx());
    const whole = vi.spyOn(LabelStore.prototype, 'teacherLabels');
    const labelled = vi.spyOn(LabelStore.prototype, 'labelledPairs');
    const get = vi.spyOn(LabelStore.prototype, 'getPairs');
    await runOffline({ resume: res.runDir, stages: ['reward'] }, ctx());
    expect(whole).not.toHaveBeenCalled();
    expect(labelled).not.toHaveBeenCalled();
    const sizes = get.mock.calls.map(([ids]) => ids.length);
    // Training reads the 1,200 labelled pairs in two chunks (the correlation reads segments by id).
    expect(sizes).toEqual([LABELLED_CHUNK, 200]);
    vi.restoreAllMocks();

    // The old path, by hand: every labelled pair in memory, trained as fitRewardNet trains.
    const cfg = resolveOfflineConfig(tiny());
    const store = LabelStore.open(join(res.runDir, 'labels.sqlite'));
    const rng = new Rng(cfg.seed).fork('offline-reward');
    const net = RewardNet.create(
      { input: cfg.rewardInput, ignoreObs: [], obsDim: TOY_SPEC.obsDim, actDim: TOY_SPEC.actDim, members: cfg.rewardMembers, hidden: cfg.rewardHidden, preferenceModel: cfg.preferenceModel },
      rng.fork('net'),
    );
    try {
      const { teacher } = JSON.parse(readFileSync(join(res.runDir, 'artifacts', 'labels.json'), 'utf8')) as { teacher: string };
      const { pairs, labels } = store.teacherLabels({ keep: (t) => labelsOf(teacher, t) });
      expect(pairs.length).toBe(1200);
      const tr = await trainRewardModel(net, pairs, labels, { ...rewardTrainOptions(cfg), preferenceModel: cfg.preferenceModel, rng: rng.fork('train') });
      const ref = net.save(join(dir, 'ref-model'));
      const modelDir = join(res.runDir, 'artifacts', 'reward_model');
      expect(readFileSync(join(modelDir, 'weights.bin')).equals(readFileSync(join(ref, 'weights.bin')))).toBe(true);
      const segs = new Map<string, Segment>();
      for (const p of pairs) {
        segs.set(p.a.id, p.a);
        segs.set(p.b.id, p.b);
      }
      const list = [...segs.values()];
      const reward = JSON.parse(readFileSync(join(res.runDir, 'artifacts', 'reward.json'), 'utf8')) as Record<string, unknown>;
      expect(reward).toMatchObject({ preferences: 1200, trainPairs: tr.trainPairs, valPairs: tr.valPairs, valAccuracy: tr.valAccuracy, valNll: tr.valNll });
      expect(reward.segmentReturnCorrelation).toBe(pearson(net.meanSegmentSums(list), list.map(segmentReturn)));
    } finally {
      net.dispose();
      store.close();
    }
  });
});

describe('offline active query rounds: stored pairs by their segment ids, labelled pairs in chunks', () => {
  // disagreement: 2 rounds of 1,200 (round 1 trains on 1,200 labels); kcenter: 20 rounds of 53
  // (the last of 43), its last rounds with more than LABELLED_CHUNK stored pairs as centres.
  it.each([
    ['disagreement', 2400, 2, [1, 1200, 1200]],
    ['kcenter', 1050, 20, [19, 43, 0]],
  ] as const)('--query %s never reads every stored pair at once', async (query, labels, queryRounds, last) => {
    const whole = vi.spyOn(LabelStore.prototype, 'teacherLabels');
    const labelled = vi.spyOn(LabelStore.prototype, 'labelledPairs');
    const get = vi.spyOn(LabelStore.prototype, 'getPairs');
    const res = await runOffline(
      { config: tiny({ labels, query, queryRounds, queryOversample: 2, rewardEpochs: 1 }), stages: ['pairs', 'label'], runsDir: join(dir, `runs-${query}`) },
      ctx(),
    );
    expect(whole).not.toHaveBeenCalled();
    expect(labelled).not.toHaveBeenCalled();
    expect(Math.max(...get.mock.calls.map(([ids]) => ids.length))).toBe(LABELLED_CHUNK);
    const q = JSON.parse(readFileSync(join(res.runDir, 'artifacts', 'query.json'), 'utf8')) as { rounds: QueryRound[] };
    // Round 0 is uniform (the pairs stage); every later round is recorded.
    expect(q.rounds.length).toBe(queryRounds - 1);
    const r = q.rounds[q.rounds.length - 1];
    expect([r.round, r.selected, r.trainedOn]).toEqual(last);
  });
});
