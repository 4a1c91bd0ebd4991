/**
 * `prefrl label` reads ids, not every stored pair's segments: LabelStore.pairIdsToLabel gives the
 * pairs a teacher has not answered in the order the command always labelled them (labelled pairs
 * by round and insertion, then the rest in pendingPairs' order), and the segments are read
 * LABEL_CHUNK pairs at a time. The labels, the B-Pref thresholds and HERON's stds are the same as
 * the earlier whole-store reading gave (kept below as the reference path).
 */
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Rng } from '../../core/rng.js';
import { makeEnv } from '../../envs/registry.js';
import type { EnvSpec } from '../../envs/types.js';
import { allPairs } from '../../reward/offline.js';
import { makePair, segmentReturn } from '../../reward/segments.js';
import { LabelStore, TIMEOUT_SKIP_TAG } from '../../reward/store.js';
import { HeronTeacher, termSumStds } from '../../reward/teachers/heron.js';
import { makeTeacher } from '../../reward/teachers/index.js';
import { SyntheticTeacher, labelId } from '../../reward/teachers/synthetic.js';
import type { Label, Pair, Segment } from '../../reward/types.js';
import { main } from '../../scripts/cli.js';
import { LABEL_CHUNK, labelContext } from '../../scripts/commands/label.js';
import { captureCli, lastJson } from '../helpers/cli.js';
import { makePairs } from '../viewer/helpers.js';

let root = '';
let spec: EnvSpec;
/** Segments of 10 steps (44) and of 5 steps (16): every two of one length make a pair. */
let big: Pair[] = [];

const pref = (teacher: string, p: Pair, probFirst: number): Label => ({ id: labelId(teacher, p.id), pairId: p.id, teacher, kind: 'preference', probFirst });

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'label-chunks-'));
  const env = await makeEnv('toy-reach');
  spec = env.spec;
  env.dispose();
  const segs = async (episodes: number, length: number, seed: number): Promise<Segment[]> =>
    (await makePairs('toy-reach', { episodes, steps: 40, length, seed })).flatMap((p) => [p.a, p.b]);
  const groups = [await segs(11, 10, 3), await segs(2, 5, 9)];
  big = groups.flatMap((g) => g.flatMap((a, i) => g.slice(i + 1).map((b) => makePair(a, b))));
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe('LabelStore.pairIdsToLabel', () => {
  it('every pair: the labelled ones (any teacher, skips and timeouts too) by round and insertion, then the others; without a teacher\'s answered pairs; undone labels are none', async () => {
    const p = (await makePairs('toy-reach', { episodes: 6, steps: 20, length: 10, seed: 7 })).slice(0, 6);
    expect(new Set(p.map((x) => x.id)).size).toBe(6);
    const s = LabelStore.open(join(root, 'order.sqlite'), { envId: 'toy-reach' });
    try {
      // Inserted round 1 first (p0..p2), then round 0 (p3..p5): round 0 comes first.
      s.putPairs(p.slice(0, 3), { round: 1 });
      s.putPairs(p.slice(3), { round: 0 });
      s.addLabels([
        pref('oracle', p[4], 1),
        pref('human:ada', p[0], 0.5), // a tie
        { id: 'heron-skip', pairId: p[2].id, teacher: 'heron', kind: 'skip', reason: 'no level decides' },
        { id: 'to', pairId: p[5].id, teacher: 'human', kind: 'skip', reason: `no answer within 3 s ${TIMEOUT_SKIP_TAG}`, timeout: true },
        pref('oracle', p[1], 0),
      ]);
      // Undone: p1 is unlabelled again.
      expect(s.deleteLabel(labelId('oracle', p[1].id), 'oracle')).toEqual({ pairId: p[1].id });
      const ids = (...i: number[]) => i.map((k) => p[k].id);
      // Labelled: p4, p5 (round 0), p0, p2 (round 1); unlabelled: p3 (round 0), p1 (round 1).
      expect(s.pairIdsToLabel()).toEqual(ids(4, 5, 0, 2, 3, 1));
      // The order the earlier whole-store read (offline.ts allPairs) gave.
      expect(allPairs(s).map((x) => x.id)).toEqual(ids(4, 5, 0, 2, 3, 1));
      expect(s.pairIdsToLabel({ unansweredBy: 'oracle' })).toEqual(ids(5, 0, 2, 3, 1));
      expect(s.pairIdsToLabel({ unansweredBy: 'human' })).toEqual(ids(4, 0, 2, 3, 1));
      expect(s.pairIdsToLabel({ unansweredBy: 'human:ada' })).toEqual(ids(4, 5, 2, 3, 1));
      expect(s.pairIdsToLabel({ unansweredBy: 'heron' })).toEqual(ids(4, 5, 0, 3, 1));
      expect(s.pairIdsToLabel({ unansweredBy: 'nobody' })).toEqual(ids(4, 5, 0, 2, 3, 1));
      expect([s.answeredPairCount('oracle'), s.answeredPairCount('human'), s.answeredPairCount('heron'), s.answeredPairCount('nobody')]).toEqual([1, 1, 1, 0]);
    } finally {
      s.close();
    }
  });
});

/** A store of the big pairs in two rounds, some already answered by a person and by `teacher`. */
function bigStore(name: string, teacher: string): string {
  const path = join(root, `${name}.sqlite`);
  const s = LabelStore.open(path, { envId: 'toy-reach', modelHash: big[0].a.modelHash });
  try {
    s.putPairs(big.slice(0, 700), { round: 1 });
    s.putPairs(big.slice(700), { round: 0 });
    s.addLabels([pref('human:ada', big[5], 1), pref('human:ada', big[900], 0.5), pref(teacher, big[10], 0), pref(teacher, big[800], 1)]);
  } finally {
    s.close();
  }
  return path;
}

/** The earlier `prefrl label`: every pair with its segments at once, the whole pool observed, the batches labelled in turn. */
async function referenceLabels(path: string, teacherSpec: string, batch: number): Promise<{ labels: Label[]; teacher: ReturnType<typeof makeTeacher> }> {
  const s = LabelStore.open(path, { create: false });
  try {
    const all = allPairs(s);
    const teacher = makeTeacher(teacherSpec, { env: spec, rng: new Rng(0).fork('teacher') });
    const answered = new Set(s.labels().filter((l) => l.teacher === teacher.id).map((l) => l.pairId));
    const todo = all.filter((p) => !answered.has(p.id));
    const segs = all.flatMap((p) => [p.a, p.b]);
    const perStep = segs.reduce((r, g) => r + segmentReturn(g), 0) / segs.reduce((n, g) => n + g.length, 0);
    const lengths = new Map<number, number>();
    for (const g of segs) lengths.set(g.length, (lengths.get(g.length) ?? 0) + 1);
    const length = [...lengths.entries()].sort((x, y) => y[1] - x[1] || x[0] - y[0])[0][0];
    teacher.observe?.({ meanEpisodeReturn: perStep * spec.horizon, episodeLength: spec.horizon, segmentLength: length, pool: segs });
    const labels: Label[] = [];
    for (let i = 0; i < todo.length; i += batch) labels.push(...(await teacher.label(todo.slice(i, i + batch))));
    return { labels, teacher };
  } finally {
    s.close();
  }
}

const heronFile = (): string => {
  const file = join(root, 'heron.json');
  writeFileSync(file, JSON.stringify({ ranking: ['goal_distance', 'control_effort', 'at_goal'], margins: [0.3, 0.3, 0.3] }));
  return file;
};

describe('prefrl label, a chunk at a time', () => {
  it('the context the teacher observes is the whole pool\'s, bit for bit: mean return per step, most common length, HERON\'s stds', () => {
    const path = bigStore('ctx', 'oracle');
    const s = LabelStore.open(path, { create: false });
    try {
      const segs = allPairs(s).flatMap((p) => [p.a, p.b]);
      // 946 pairs of 10 steps and 120 of 5: 1892 segments of 10 steps, 240 of 5.
      expect(segs.length).toBe(2 * 1066);
      let ret = 0;
      for (const g of segs) ret += segmentReturn(g);
      // pairRewards: each pair's a and b, their lengths and rewards as getPairs reads them.
      const ids = s.pairIdsToLabel();
      const some = [ids[3], ids[1000], ids[3]];
      expect(s.pairRewards(some)).toEqual(s.getPairs(some).flatMap((p) => [p.a, p.b]).map((g) => ({ length: g.length, rewards: g.rewards })));
      expect(() => s.pairRewards(['nope'])).toThrow(/no pair nope/);
      const ctx = labelContext(s, ids, spec.horizon);
      expect(Object.is(ctx.meanEpisodeReturn, (ret / (1892 * 10 + 240 * 5)) * spec.horizon)).toBe(true);
      expect(ctx.episodeLength).toBe(spec.horizon);
      expect(ctx.segmentLength).toBe(10);
      expect(ctx.poolChunks ? [...ctx.poolChunks()].map((c) => c.length) : []).toEqual([2000, 132]);
      const heron = new HeronTeacher({ spec, config: { ranking: ['goal_distance'], margins: [1] } });
      heron.observe(ctx);
      expect([...(heron.poolStds() ?? [])]).toEqual([...termSumStds(segs)]);
    } finally {
      s.close();
    }
  });

  for (const [name, teacherSpec, batch] of [
    ['oracle', 'oracle', 100],
    // Thresholded B-Pref with mistakes: skips, ties and flips, drawn in label order.
    ['bpref', 'skip:epsSkip=0.6,epsEqual=0.3,epsMistake=0.2', 250],
    ['heron', 'HERON', 1500],
  ] as const) {
    it(`${name}: the same labels, in the same order, as every pair read at once; getPairs is never asked for more than LABEL_CHUNK pairs`, async () => {
      const spec1 = teacherSpec === 'HERON' ? `heron:${heronFile()}` : teacherSpec;
      const path = bigStore(name, spec1);
      const refPath = join(root, `${name}-ref.sqlite`);
      copyFileSync(path, refPath);
      const ref = await referenceLabels(refPath, spec1, batch);
      expect(ref.labels.length).toBe(1066 - 2);
      if (name === 'bpref') {
        const t = ref.teacher as SyntheticTeacher;
        expect(t.thresholds()).toBeDefined();
        expect(ref.labels.filter((l) => l.kind === 'skip').length).toBeGreaterThan(0);
        expect(ref.labels.filter((l) => l.kind === 'preference' && l.probFirst === 0.5).length).toBeGreaterThan(0);
      }
      if (name === 'heron') expect(new Set(ref.labels.map((l) => (l.kind === 'preference' ? l.probFirst : -1))).size).toBeGreaterThan(1);
      const sizes: number[] = [];
      const getPairs = LabelStore.prototype.getPairs;
      vi.spyOn(LabelStore.prototype, 'getPairs').mockImplementation(function (this: LabelStore, ids: readonly string[]) {
        sizes.push(ids.length);
        return getPairs.call(this, ids);
      });
      const rewardSizes: number[] = [];
      const pairRewards = LabelStore.prototype.pairRewards;
      vi.spyOn(LabelStore.prototype, 'pairRewards').mockImplementation(function (this: LabelStore, ids: readonly string[]) {
        rewardSizes.push(ids.length);
        return pairRewards.call(this, ids);
      });
      const whole = ['labels', 'labelledPairs', 'teacherLabels', 'pendingPairs'] as const;
      const wholeSpies = whole.map((m) => vi.spyOn(LabelStore.prototype, m));
      const c = captureCli();
      expect(await main(['label', '--store', path, '--teacher', spec1, '--batch', String(batch), '--quiet', '--json'], c.ctx), c.err.join('')).toBe(0);
      vi.restoreAllMocks();
      const out = lastJson(c.out);
      const t = ref.labels.filter((l) => l.kind === 'preference' && l.probFirst === 0.5).length;
      const p = ref.labels.filter((l) => l.kind === 'preference').length - t;
      expect(out).toEqual({ store: path, teacher: spec1, pairs: 1066, alreadyAnswered: 2, added: 1064, preferences: p, ties: t, skips: 1064 - p - t });
      expect(Math.max(...sizes, ...rewardSizes)).toBeLessThanOrEqual(LABEL_CHUNK);
      // The first pair (env check), the pool once (observe: HERON its segments, B-Pref only their
      // rewards), then each pair to label once.
      const total = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
      expect([total(sizes), total(rewardSizes)]).toEqual(name === 'heron' ? [1 + 1066 + 1064, 0] : [1 + 1064, 1066]);
      for (const s of wholeSpies) expect(s).not.toHaveBeenCalled();
      const s = LabelStore.open(path, { create: false });
      try {
        const stored = s.labels().filter((l) => l.teacher === spec1).slice(2);
        const fields = (l: Label) => [l.id, l.pairId, l.kind, l.kind === 'preference' ? l.probFirst : l.reason];
        expect(stored.map(fields)).toEqual(ref.labels.map(fields));
      } finally {
        s.close();
      }
      // Nothing left: the first pair (env check) is all that is read; the pool is not.
      sizes.length = 0;
      vi.spyOn(LabelStore.prototype, 'getPairs').mockImplementation(function (this: LabelStore, ids: readonly string[]) {
        sizes.push(ids.length);
        return getPairs.call(this, ids);
      });
      const again = captureCli();
      expect(await main(['label', '--store', path, '--teacher', spec1, '--quiet', '--json'], again.ctx), again.err.join('')).toBe(0);
      expect(lastJson(again.out)).toEqual({ store: path, teacher: spec1, pairs: 1066, alreadyAnswered: 1066, added: 0, preferences: 0, ties: 0, skips: 0 });
      expect(sizes).toEqual([1]);
    });
  }
});
