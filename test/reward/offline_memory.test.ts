/**
 * The offline pipeline's memory at real sizes, checked by what it reads and holds, not by RSS:
 * - segments are cut from the dataset's episodes directly (episodeWindows / DatasetSegments),
 *   the same segments sampleSegments cuts from datasetToTrajectories' copy of the whole dataset,
 *   and the pairs stage never builds that copy;
 * - the pairs stage stores its pairs a chunk at a time (it held every pair's segments at once);
 * - the label stage's agreement with the true return reads the labelled pairs a chunk at a time
 *   (store.labelledPairs() read them all at once), and so does HERON's pool (its term sums);
 * - the dataset is let go during the reward stage and read again after it (checked to be the
 *   same data), and the stages after it keep only its transitions (transitionsOnly).
 */
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import h5wasm from 'h5wasm/node';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import * as datasetModule from '../../agents/dataset.js';
import { datasetFromTrajectories, datasetToTrajectories, episodeWindows, type OfflineDataset, transitionsOnly, writeDataset } from '../../agents/dataset.js';
import { ManualClock } from '../../core/clock.js';
import { silentLogger } from '../../core/log.js';
import { Rng } from '../../core/rng.js';
import { TOY_SPEC } from '../../envs/toy.js';
import { allPairs, DatasetSegments, LABELLED_CHUNK, type OfflineConfigInput, runOffline, samplePairsFromTrajectories, teacherAgreement, teacherAgreements } from '../../reward/offline.js';
import { makePair, sampleSegments, sliceSegment } from '../../reward/segments.js';
import { LabelStore } from '../../reward/store.js';
import { HeronTeacher, termSumStds } from '../../reward/teachers/heron.js';
import type { Label } from '../../reward/types.js';
import { handSegment } from '../helpers/segments.js';
import { storeWith } from '../helpers/store.js';
import { noisyToyTrajectories, toyReachDataset } from '../helpers/toy_dataset.js';

// Calls into agents/dataset.ts from reward/offline.ts are counted (the functions themselves run).
vi.mock('../../agents/dataset.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../agents/dataset.js')>();
  return { ...real, datasetToTrajectories: vi.fn(real.datasetToTrajectories), readDataset: vi.fn(real.readDataset) };
});

/**
 * Three episodes by hand: rows 0-2 (cut by a timeout), row 3 (cut), rows 4-5 (terminal). The
 * next_* rows inside the first episode differ from the following rows on purpose: a window that
 * ends inside an episode takes its last state from the following row, one that ends with the
 * episode from next_*.
 */
function handDataset(): OfflineDataset {
  return {
    size: 6,
    obsDim: 1,
    actDim: 1,
    observations: Float32Array.of(0, 1, 2, 5, 10, 11),
    actions: Float32Array.of(100, 101, 102, 103, 104, 105),
    rewards: Float64Array.of(1, 2, 3, 4, 5, 6),
    terminals: Uint8Array.of(0, 0, 0, 0, 0, 1),
    timeouts: Uint8Array.of(0, 0, 1, 1, 0, 0),
    nextObservations: Float32Array.of(1.5, 2.5, 3, 6, 11, 12),
    infos: {
      nq: 1,
      nv: 1,
      na: 0,
      nTerms: 1,
      qpos: Float64Array.of(0.1, 0.2, 0.3, 0.4, 0.5, 0.6),
      nextQpos: Float64Array.of(0.15, 0.25, 0.35, 0.45, 0.55, 0.65),
      qvel: Float64Array.of(-1, -2, -3, -4, -5, -6),
      nextQvel: Float64Array.of(-1.5, -2.5, -3.5, -4.5, -5.5, -6.5),
      time: Float64Array.of(0, 0.1, 0.2, 0, 0, 0.1),
      nextTime: Float64Array.of(0.1, 0.2, 0.3, 0.1, 0.1, 0.2),
      step: Int32Array.of(0, 1, 2, 0, 0, 1),
      rewardTerms: Float64Array.of(10, 20, 30, 40, 50, 60),
      success: Float32Array.of(0, 0, 1, 0, 0, 1),
      unstable: Uint8Array.of(0, 0, 0, 0, 0, 1),
    },
    meta: { envId: 'hand', modelHash: 'h0', dt: 0.1 },
    source: 'hand.h5',
    notes: [],
  };
}

describe('episodeWindows', () => {
  it('gives any window of an episode with its states, row for row what datasetToTrajectories holds there', () => {
    const ds = handDataset();
    const w = episodeWindows(ds);
    expect(w.episodes.map((e) => [e.start, e.length, e.terminated, e.truncated])).toEqual([
      [0, 3, false, true],
      [3, 1, false, true],
      [4, 2, true, false],
    ]);
    // Steps 0-1 of episode 0: the state after step 1 is row 2's (the episode goes on), not next_obs[1] = 2.5.
    const inner = w.window(0, 0, 2);
    expect([...inner.obs]).toEqual([0, 1, 2]);
    expect([...inner.qpos]).toEqual([0.1, 0.2, 0.3]);
    expect([...inner.qvel]).toEqual([-1, -2, -3]);
    expect([...inner.time]).toEqual([0, 0.1, 0.2]);
    expect([...inner.actions]).toEqual([100, 101]);
    expect([...inner.rewards]).toEqual([1, 2]);
    expect([...inner.terms]).toEqual([10, 20]);
    expect([...inner.success]).toEqual([0, 0]);
    expect([inner.length, inner.t0, inner.terminated, inner.truncated, inner.unstable]).toEqual([2, 0, false, false, false]);
    // Steps 1-2: ends with the episode, so its last state is next_*[2], and it was cut (truncated).
    const tail = w.window(0, 1, 2);
    expect([...tail.obs]).toEqual([1, 2, 3]);
    expect([...tail.qpos]).toEqual([0.2, 0.3, 0.35]);
    expect([...tail.time].map((x) => Math.round(x * 10) / 10)).toEqual([0.1, 0.2, 0.3]);
    expect([tail.t0, tail.terminated, tail.truncated]).toEqual([1, false, true]);
    // The terminal episode, whole: terminated, and unstable at its last step.
    const last = w.window(2, 0, 2);
    expect([...last.obs]).toEqual([10, 11, 12]);
    expect([last.t0, last.terminated, last.truncated, last.unstable]).toEqual([0, true, false, true]);
    // Whole episodes are datasetToTrajectories' trajectories.
    expect(datasetToTrajectories(ds)).toEqual(w.episodes.map((e, k) => w.window(k, 0, e.length)));
    expect([...datasetToTrajectories(ds)[0].obs]).toEqual([0, 1, 2, 3]);
    // Windows copy their rows: the dataset is left as it was when one is written to.
    inner.actions[0] = -7;
    inner.obs[0] = -7;
    expect(ds.actions[0]).toBe(100);
    expect(ds.observations[0]).toBe(0);
    expect(() => w.window(0, 2, 2)).toThrow(/window \[2, 4\) outside episode 0 of 3 steps/);
    expect(() => w.window(3, 0, 1)).toThrow(/no episode 3 \(the dataset has 3\)/);
  });

  it('without time arrays counts the time from dt, and without the state refuses or leaves it out as asked', () => {
    const ds = handDataset();
    const noTime = { ...ds, infos: { ...ds.infos, time: undefined, nextTime: undefined } };
    // t = (step index in the episode) x dt.
    expect([...episodeWindows(noTime).window(0, 1, 2).time].map((x) => Math.round(x * 100) / 100)).toEqual([0.1, 0.2, 0.3]);
    expect(episodeWindows(noTime).window(0, 1, 2).time).toEqual(datasetToTrajectories(noTime)[0].time.slice(1, 4));
    const noState = { ...ds, infos: { ...ds.infos, qpos: undefined, nextQpos: undefined } };
    expect(() => episodeWindows(noState)).toThrow(/hand\.h5.*no simulator state \(infos\/qpos, infos\/next_qpos missing\)/);
    const plain = episodeWindows(noState, { state: 'optional' }).window(0, 0, 2);
    expect([plain.nq, plain.nv, plain.qpos.length, plain.qvel.length]).toEqual([0, 0, 0, 0]);
  });
});

describe('DatasetSegments', () => {
  it('finds a drawn window\'s episode as sampleSegments does, skipping episodes too short for a window', () => {
    const segs = new DatasetSegments(handDataset(), 2, 'hand.h5');
    // Windows of 2 steps: episode 0 has 2, episode 1 (one step) none, episode 2 one: 3 in all.
    expect(segs.total).toBe(3);
    const fixed = (...rs: number[]) => ({ int: (n: number) => (expect(n).toBe(3), rs.shift() as number) }) as unknown as Rng;
    expect([0, 1, 2].map((r) => segs.draw(fixed(r)))).toEqual([
      [0, 0],
      [0, 1],
      [2, 0],
    ]);
    const s = segs.segment(2, 0);
    expect([s.source, s.startStep, s.endsTerminal, [...s.obs], [...s.rewards]]).toEqual(['hand.h5#2', 0, true, [10, 11, 12], [5, 6]]);
    expect(s).toEqual(sliceSegment(datasetToTrajectories(handDataset())[2], 0, 2, 'hand.h5#2'));
    expect(() => new DatasetSegments(handDataset(), 4, 'hand.h5').draw(new Rng(0))).toThrow(/no trajectory has 4 steps/);
  });

  it('draws the segments sampleSegments draws from the trajectories, rng draw for rng draw', () => {
    const ds = toyDataset();
    const segs = new DatasetSegments(ds, 10, 'toy.h5', { state: 'optional' });
    const a = new Rng(5);
    const b = new Rng(5);
    expect(segs.sample(300, a)).toEqual(sampleSegments(datasetToTrajectories(ds, { state: 'optional' }), 300, 10, b, 'toy.h5'));
    // Both rngs are at the same place after.
    expect(a.int(1e9)).toBe(b.int(1e9));
  });
});

describe('transitionsOnly', () => {
  it('keeps the transitions as the same arrays (no copy) and drops the infos arrays', () => {
    const ds = handDataset();
    const t = transitionsOnly(ds);
    for (const k of ['observations', 'actions', 'rewards', 'terminals', 'timeouts', 'nextObservations'] as const) {
      expect(t[k]).toBe(ds[k]);
      expect(t[k].buffer).toBe(ds[k].buffer);
    }
    expect(t.infos).toEqual({ nq: 1, nv: 1, na: 0, nTerms: 1 });
    expect([t.size, t.obsDim, t.actDim, t.meta, t.source]).toEqual([6, 1, 1, ds.meta, 'hand.h5']);
    // The original keeps its infos.
    expect(ds.infos.qpos?.length).toBe(6);
  });
});

/** Noisy goal-seeking toy-reach episodes (50 steps each; test/helpers/toy_dataset.ts), so segments differ. */
const toyDataset = (): OfflineDataset => toyReachDataset(noisyToyTrajectories({ episodes: 12, noiseSeed: 3, firstSeed: 200, noise: (k) => 0.3 + (k % 3) * 0.5 }));

let dir = '';
let data = '';
let other = '';
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'prefrl-offline-memory-'));
  const ds = toyDataset();
  data = await writeDataset(join(dir, 'toy.h5'), ds);
  // The same size, other rewards: another dataset the fingerprint tells apart.
  other = await writeDataset(join(dir, 'other.h5'), { ...ds, rewards: ds.rewards.map((r) => r + 1) });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

const tiny = (over: Partial<OfflineConfigInput> = {}): OfflineConfigInput => ({
  dataset: data,
  teacher: 'oracle',
  labels: 40,
  labelBatch: 100,
  segmentLength: 10,
  rewardMembers: 1,
  rewardHidden: [8],
  rewardEpochs: 1,
  updates: 4,
  batchSize: 16,
  hidden: [8],
  evalEpisodes: 1,
  backend: 'wasm',
  ...over,
});
const ctx = () => ({ logger: silentLogger, clock: new ManualClock() });

describe('offline pipeline: pairs and label stages at scale', () => {
  it('stores the pairs samplePairsFromTrajectories draws, in order, a chunk at a time, and agreement reads the pairs in chunks', async () => {
    const toTrajs = vi.mocked(datasetModule.datasetToTrajectories);
    toTrajs.mockClear();
    const put = vi.spyOn(LabelStore.prototype, 'putPairs');
    const res = await runOffline({ config: tiny({ labels: 2500 }), stages: ['pairs'], runsDir: join(dir, 'runs') }, ctx());
    // Three transactions of at most 1,000 pairs (before: one of 2,500, every pair's segments held).
    expect(put.mock.calls.map(([pairs]) => pairs.length)).toEqual([1000, 1000, 500]);
    // No copy of the dataset as trajectories.
    expect(toTrajs).not.toHaveBeenCalled();
    const expected = samplePairsFromTrajectories(datasetToTrajectories(toyDataset(), { state: 'optional' }), 2500, 10, new Rng(0).fork('offline-pairs'), data);
    const info = JSON.parse(readFileSync(join(res.runDir, 'artifacts', 'pairs.json'), 'utf8')) as Record<string, unknown>;
    expect(info).toEqual({ pairs: 2500, added: 2500, segmentLength: 10, seed: 0, first: expected[0].id, last: expected[2499].id });
    const store = LabelStore.open(join(res.runDir, 'labels.sqlite'));
    try {
      expect(store.pendingPairIds()).toEqual(expected.map((p) => p.id));
      // Segments as stored, bit for bit (the store's typed arrays from its blobs).
      expect(store.getPairs([expected[0].id, expected[1234].id, expected[2499].id])).toEqual([expected[0], expected[1234], expected[2499]]);
    } finally {
      store.close();
    }

    // The label stage: the oracle's agreement with the true return (1: it always prefers the
    // higher return) from the labelled pairs' rewards read LABELLED_CHUNK pairs at a time (only
    // the rewards: LabelStore.pairRewards), never every pair at once.
    put.mockRestore();
    const all = vi.spyOn(LabelStore.prototype, 'labelledPairs');
    const some = vi.spyOn(LabelStore.prototype, 'getPairs');
    const rewards = vi.spyOn(LabelStore.prototype, 'pairRewards');
    await runOffline({ resume: res.runDir, stages: ['label'] }, ctx());
    expect(all).not.toHaveBeenCalled();
    expect(Math.max(...rewards.mock.calls.map(([ids]) => ids.length))).toBe(LABELLED_CHUNK);
    expect(rewards.mock.calls.reduce((n, [ids]) => n + ids.length, 0)).toBeGreaterThanOrEqual(2500);
    for (const [ids] of some.mock.calls) expect(ids.length).toBeLessThanOrEqual(LABELLED_CHUNK);
    const labels = JSON.parse(readFileSync(join(res.runDir, 'artifacts', 'labels.json'), 'utf8')) as Record<string, unknown>;
    expect(labels).toMatchObject({ labels: 2500, teacherAgreement: 1 });
  });

  it('stores the segment rows one putPairs call of all the pairs stores, also for segments a dataset repeats', async () => {
    // Every episode twice: a segment id (start state and actions) is met in two episodes, and the
    // store keeps one row per id; one call keeps the last one met (its source names that episode).
    const ds = toyDataset();
    const trajs = datasetToTrajectories(ds);
    const twice = datasetFromTrajectories([...trajs, ...trajs], ds.meta, 'test');
    const file = await writeDataset(join(dir, 'twice.h5'), twice);
    const res = await runOffline({ config: tiny({ dataset: file, labels: 2500 }), stages: ['pairs'], runsDir: join(dir, 'twice') }, ctx());
    const expected = samplePairsFromTrajectories(datasetToTrajectories(twice, { state: 'optional' }), 2500, 10, new Rng(0).fork('offline-pairs'), file);
    const oneCall = storeWith(expected);
    const store = LabelStore.open(join(res.runDir, 'labels.sqlite'));
    try {
      const ids = [...new Set(expected.flatMap((p) => [p.a.id, p.b.id]))];
      const sources = (st: LabelStore) => ids.map((id) => st.getSegment(id)?.source);
      // Some ids were met in both copies of an episode, in different chunks.
      const bySource = new Map<string, Set<string>>();
      for (const p of expected) for (const sg of [p.a, p.b]) bySource.set(sg.id, (bySource.get(sg.id) ?? new Set()).add(sg.source));
      expect([...bySource.values()].filter((v) => v.size > 1).length).toBeGreaterThan(10);
      expect(sources(store)).toEqual(sources(oneCall));
      expect(ids.map((id) => store.getSegment(id))).toEqual(ids.map((id) => oneCall.getSegment(id)));
    } finally {
      store.close();
      oneCall.close();
    }
  });

  it('too few distinct segments for the pairs asked is an error before anything is stored', async () => {
    // 50-step segments of 12 episodes of 50 steps: 12 windows, 12 x 11 = 132 ordered pairs.
    await expect(runOffline({ config: tiny({ labels: 200, segmentLength: 50 }), stages: ['pairs'], runsDir: join(dir, 'few'), name: 'few' }, ctx())).rejects.toThrow(
      /toy\.h5: holds too few distinct segments of 50 steps for 200 pairs \(got 132\)/,
    );
    // The run folder was made, but no label store: no chunk of pairs was stored.
    const runs = readdirSync(join(dir, 'few'));
    expect(runs).toHaveLength(1);
    expect(existsSync(join(dir, 'few', runs[0], 'labels.sqlite'))).toBe(false);
  });
});

describe('teacherAgreement in chunks', () => {
  it('counts as teacherAgreements does over more pairs than a chunk, by hand on a known case', () => {
    // Pair k: a returns k mod 3 (one step), b returns 1. Teacher t prefers a on even k: it agrees
    // where (a > b and k even) or (a < b and k odd); pairs with k mod 3 = 1 are ties in truth.
    const n = LABELLED_CHUNK + 200;
    const pairs = Array.from({ length: n }, (_, k) =>
      makePair(handSegment(`a${k}`, 1, { rewards: Float64Array.of(k % 3) }), handSegment(`b${k}`, 1, { rewards: Float64Array.of(1), startStep: 1 })),
    );
    const store = storeWith(pairs);
    try {
      const labels: Label[] = pairs.map((p, k) => ({ id: `t-${k}`, pairId: p.id, teacher: 't', kind: 'preference', probFirst: k % 2 === 0 ? 1 : 0 }));
      labels.push({ id: 'u-0', pairId: pairs[0].id, teacher: 'u', kind: 'preference', probFirst: 0.5 }, { id: 'u-2', pairId: pairs[2].id, teacher: 'u', kind: 'preference', probFirst: 0.9 });
      store.addLabels(labels);
      let agree = 0;
      let counted = 0;
      for (let k = 0; k < n; k++) {
        if (k % 3 === 1) continue;
        counted++;
        if ((k % 3 === 2) === (k % 2 === 0)) agree++;
      }
      expect(teacherAgreement(store, 't')).toBe(agree / counted);
      expect(teacherAgreement(store, 't')).toBe(teacherAgreements(store).get('t'));
      // u: a tie label (left out) and one right answer on pair 2 (a returns 2 > 1).
      expect(teacherAgreement(store, 'u')).toBe(1);
      expect(teacherAgreement(store, (id) => id === 't' || id === 'u')).toBe((agree + 1) / (counted + 1));
      expect(teacherAgreement(store, 'nobody')).toBeNull();
    } finally {
      store.close();
    }
  });
});

describe('readDataset with transitionsOnly', () => {
  it('gives transitionsOnly of the whole dataset without reading the infos arrays', async () => {
    const whole = await datasetModule.readDataset(data);
    const light = await datasetModule.readDataset(data, { transitionsOnly: true });
    expect(light).toEqual(transitionsOnly(whole));
    expect(light.infos).toEqual({ nq: whole.infos.nq, nv: whole.infos.nv, na: whole.infos.na, nTerms: whole.infos.nTerms });
    expect(whole.infos.qpos?.length).toBe(whole.size * whole.infos.nq);
  });

  it('still refuses an infos array of the wrong shape, by name', async () => {
    await h5wasm.ready;
    const raw = (name: string, qposRows: number): string => {
      const file = join(dir, name);
      const f = new h5wasm.File(file, 'w');
      f.create_dataset({ name: 'observations', data: Float32Array.from({ length: 30 }, (_, i) => i), shape: [10, 3], dtype: '<f' });
      f.create_dataset({ name: 'actions', data: new Float32Array(10), shape: [10, 1], dtype: '<f' });
      f.create_dataset({ name: 'rewards', data: new Float64Array(10), shape: [10], dtype: '<d' });
      f.create_dataset({ name: 'terminals', data: new Uint8Array(10), shape: [10], dtype: '<B' });
      f.create_group('infos').create_dataset({ name: 'qpos', data: new Float64Array(qposRows * 2), shape: [qposRows, 2], dtype: '<d' });
      f.close();
      return file;
    };
    const good = raw('good-qpos.h5', 10);
    const light = await datasetModule.readDataset(good, { transitionsOnly: true });
    // (No next_observations: the last step, whose successor is unknown, is dropped, as D4RL does.)
    expect([light.infos.nq, light.infos.qpos, light.size]).toEqual([2, undefined, 9]);
    const bad = raw('bad-qpos.h5', 9);
    for (const o of [{}, { transitionsOnly: true }]) await expect(datasetModule.readDataset(bad, o)).rejects.toThrow(/bad-qpos\.h5 \(infos\/qpos\): has 9 rows, observations has 10/);
  });
});

describe('offline pipeline: the dataset around the reward stage', () => {
  it('is read again after the reward stage, and a dataset changed meanwhile is refused by name', async () => {
    const read = vi.mocked(datasetModule.readDataset);
    const first = await runOffline({ config: tiny(), stages: ['pairs', 'label'], runsDir: join(dir, 'again'), name: 'again' }, ctx());
    read.mockClear();
    const done = await runOffline({ resume: first.runDir, stages: ['reward', 'relabel'] }, ctx());
    expect(done.stages).toEqual({ reward: 'ran', relabel: 'ran' });
    // Once to check it, once more for relabel (it was let go during the reward stage); neither
    // pairs nor label runs, so both read only the transitions.
    expect(read.mock.calls).toEqual([
      [data, { transitionsOnly: true }],
      [data, { transitionsOnly: true }],
    ]);
    // Pairs (or label) among the stages: the whole dataset, once.
    read.mockClear();
    await runOffline({ resume: first.runDir, stages: ['pairs', 'relabel'] }, ctx());
    expect(read.mock.calls).toEqual([[data, { transitionsOnly: false }]]);

    // The file is replaced by other data while the reward stage runs: relabel refuses it.
    // (The reward stage reads the teacher's preferences as columns: teacherPreferences.)
    const swap = vi.spyOn(LabelStore.prototype, 'teacherPreferences').mockImplementation(function (this: LabelStore, opts) {
      swap.mockRestore();
      const out = this.teacherPreferences(opts);
      copyFileSync(other, data);
      return out;
    });
    copyFileSync(data, join(dir, 'toy-backup.h5'));
    try {
      await expect(runOffline({ resume: first.runDir, stages: ['reward', 'relabel'], force: true }, ctx())).rejects.toThrow(/toy\.h5: changed while this run was going on \(fingerprint [0-9a-f]{16}, \d+ transitions; the run read [0-9a-f]{16}/);
    } finally {
      copyFileSync(join(dir, 'toy-backup.h5'), data);
    }
  });
});

describe('offline label stage with HERON: the pool read a chunk at a time', () => {
  it('sets the margins from every stored pair\'s segments as the whole pool would, without reading every pair at once', async () => {
    const config = join(dir, 'heron.json');
    writeFileSync(config, JSON.stringify({ ranking: ['goal_distance', 'control_effort', 'at_goal'], margins: [0.5, 0.5, 0.5] }));
    const res = await runOffline({ config: tiny({ labels: 1500, teacher: 'heron', heronConfig: config }), stages: ['pairs'], runsDir: join(dir, 'runs') }, ctx());
    const path = join(res.runDir, 'labels.sqlite');
    // What the teacher must see: the pool of allPairs (every stored pair's a, then b), at once.
    let expected: Float64Array;
    const before = LabelStore.open(path);
    try {
      expected = termSumStds(allPairs(before).flatMap((p) => [p.a, p.b]));
      expect(before.counts().pairs).toBe(1500);
    } finally {
      before.close();
    }
    const chunked = vi.spyOn(HeronTeacher.prototype, 'setPoolChunks');
    const all = vi.spyOn(LabelStore.prototype, 'labelledPairs');
    const pending = vi.spyOn(LabelStore.prototype, 'pendingPairs');
    const some = vi.spyOn(LabelStore.prototype, 'getPairs');
    await runOffline({ resume: res.runDir, stages: ['label'] }, ctx());
    expect(chunked).toHaveBeenCalledTimes(1);
    expect(all).not.toHaveBeenCalled();
    expect(pending).not.toHaveBeenCalled();
    expect(Math.max(...some.mock.calls.map(([ids]) => ids.length))).toBe(LABELLED_CHUNK);
    // Each label records the threshold it used: margin x the pool's std of the deciding term.
    const store = LabelStore.open(path);
    try {
      const decided = store.labels().map((l) => JSON.parse(l.raw ?? '{}') as { decidedBy: string | null; threshold?: number }).filter((r) => r.decidedBy !== null);
      expect(decided.length).toBeGreaterThan(100);
      const index = new Map(TOY_SPEC.rewardTerms.map((t, k) => [t.name, k]));
      for (const r of decided) expect(r.threshold).toBe(0.5 * expected[index.get(r.decidedBy as string) as number]);
    } finally {
      store.close();
    }
  });
});
