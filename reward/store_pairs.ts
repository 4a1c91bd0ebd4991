/**
 * Pairs of a label store read a chunk at a time, teachers' agreement with the true return over
 * them, and random distinct pairs drawn from trajectories: what `prefrl pairs`, `label`, `labels
 * stats` and the offline pipeline (reward/offline.ts) share. No tensors here: the commands that
 * only draw, list or count pairs start without TensorFlow.js.
 */
import { InputError } from '../core/errors.js';
import type { Rng } from '../core/rng.js';
import type { Trajectory } from '../envs/trajectory.js';
import { makePair, SegmentSampler, segmentReturn } from './segments.js';
import type { LabelStore } from './store.js';
import type { Label, Pair, Segment } from './types.js';

/**
 * The ids of every stored pair (labelled or not): the labelled ones (a preference or a skip) in
 * labelledPairs' order, then the others in pendingPairs' order (LabelStore.pairIdsToLabel, the
 * order `prefrl label` answers them in: one definition for both).
 */
export function allPairIds(store: LabelStore): string[] {
  return store.pairIdsToLabel();
}

/**
 * `count` distinct pairs of distinct segments, uniformly from all windows of the dataset's
 * episodes. With `unordered`, (a, b) and (b, a) count as the same pair (people need not see two
 * segments twice); the offline pipeline keeps ordered pairs, which its committed runs drew.
 */
export function samplePairsFromTrajectories(trajs: readonly Trajectory[], count: number, length: number, rng: Rng, source: string, unordered = false): Pair[] {
  // One sampler: each window is cut once, however often it is drawn.
  const sampler = new SegmentSampler(trajs, length, source);
  const out = sampleDistinctPairs(() => sampler.sample(2, rng) as [Segment, Segment], count, unordered);
  if (out.length < count) throw new InputError(source, `holds too few distinct segments of ${length} steps for ${count} pairs (got ${out.length})`);
  return out;
}

/** One key for the pairs (a, b) and (b, a). */
export function unorderedKey(a: Segment, b: Segment): string {
  return unorderedIdKey(a.id, b.id);
}

/** unorderedKey of two segment ids. */
export function unorderedIdKey(a: string, b: string): string {
  return [a, b].sort().join('|');
}

/**
 * Up to `count` distinct pairs of two different segments from `draw`, giving up after 20 x count
 * + 100 draws (the caller says what too few means); `unordered`: (a, b) and (b, a) are one pair.
 */
export function sampleDistinctPairs(draw: () => [Segment, Segment], count: number, unordered = false): Pair[] {
  const out: Pair[] = [];
  forEachDistinctPair(draw, count, unordered, (p) => out.push(p));
  return out;
}

/** sampleDistinctPairs handing each pair to `take` as it is drawn (the caller keeps what it needs of it). */
export function forEachDistinctPair(draw: () => [Segment, Segment], count: number, unordered: boolean, take: (p: Pair) => void): void {
  let taken = 0;
  const seen = new Set<string>();
  const maxDraws = 20 * count + 100;
  for (let draws = 0; taken < count && draws < maxDraws; draws++) {
    const [a, b] = draw();
    if (a.id === b.id) continue;
    const p = makePair(a, b);
    const key = unordered ? unorderedKey(a, b) : p.id;
    if (seen.has(key)) continue;
    seen.add(key);
    taken++;
    take(p);
  }
}

/** Every stored pair (labelled or not) with its segments, in allPairIds' order. */
export function allPairs(store: LabelStore): Pair[] {
  return store.getPairs(allPairIds(store));
}

/** The pairs of `ids` with their segments, LABELLED_CHUNK pairs at a time, in order. */
export function* pairChunks(store: LabelStore, ids: readonly string[]): Generator<Pair[]> {
  for (let i = 0; i < ids.length; i += LABELLED_CHUNK) yield store.getPairs(ids.slice(i, i + LABELLED_CHUNK));
}

/**
 * The segments of allPairs(store) (each pair's a, then b), in the same order, LABELLED_CHUNK
 * pairs at a time: the ids first, then each chunk's segments, never every pair's at once.
 */
export function* allPairsInChunks(store: LabelStore): Generator<Segment[]> {
  for (const chunk of pairChunks(store, allPairIds(store))) yield chunk.flatMap((p) => [p.a, p.b]);
}

/**
 * Fraction of strict preferences of `teacher` (an id, or a test of ids) whose winner has the
 * higher true segment return (ties in return left out). The labelled pairs' segments are read a
 * chunk at a time (labelledPairsInChunks), not all at once.
 */
export function teacherAgreement(store: LabelStore, teacher: string | ((id: string) => boolean)): number | null {
  const keep = typeof teacher === 'string' ? (t: string) => t === teacher : teacher;
  let n = 0;
  let agree = 0;
  for (const [t, c] of agreementCounts(labelledReturnsInChunks(store))) {
    if (!keep(t)) continue;
    n += c.n;
    agree += c.agree;
  }
  return n > 0 ? agree / n : null;
}

/**
 * teacherAgreement of every teacher that has strict preferences, from one pass over the labelled
 * pairs (each segment read once, whatever the number of teachers, a chunk of pairs at a time);
 * teachers without any are left out.
 */
export function teacherAgreements(store: LabelStore, labels: readonly Label[] = store.labels()): Map<string, number> {
  return new Map([...agreementCounts(labelledReturnsInChunks(store, labels))].filter(([, c]) => c.n > 0).map(([t, c]) => [t, c.agree / c.n]));
}

/** Per teacher: strict preferences on pairs of unequal true return (n), and how many pick the higher one. */
function agreementCounts(labelled: Iterable<{ readonly ra: number; readonly rb: number; readonly labels: readonly Label[] }>): Map<string, { n: number; agree: number }> {
  const out = new Map<string, { n: number; agree: number }>();
  for (const lp of labelled) {
    const { ra, rb } = lp;
    if (ra === rb) continue;
    for (const l of lp.labels) {
      if (l.kind !== 'preference' || l.probFirst === 0.5) continue;
      let c = out.get(l.teacher);
      if (!c) out.set(l.teacher, (c = { n: 0, agree: 0 }));
      c.n++;
      if (l.probFirst > 0.5 === ra > rb) c.agree++;
    }
  }
  return out;
}

/** Pairs whose segments labelledPairsInChunks reads from the store at a time. */
export const LABELLED_CHUNK = 1000;

/**
 * The pairs with preference labels and their preference labels, as store.labelledPairs() gives
 * them, but reading the pairs' segments LABELLED_CHUNK pairs at a time (the labels first, without
 * segments): every labelled pair's segments at once are some 600 MB at 100,000 pairs of 20 steps.
 */
export function* labelledPairsInChunks(store: LabelStore, labels: readonly Label[] = store.labels()): Generator<{ pair: Pair; labels: Label[] }> {
  const byPair = preferencesByPair(labels);
  for (const chunk of pairChunks(store, [...byPair.keys()])) {
    for (const pair of chunk) yield { pair, labels: byPair.get(pair.id) ?? [] };
  }
}

/**
 * labelledPairsInChunks with only the true returns of each pair's segments (a's, b's), read
 * without the segments' other arrays (LabelStore.pairRewards), LABELLED_CHUNK pairs at a time.
 */
function* labelledReturnsInChunks(store: LabelStore, labels: readonly Label[] = store.labels()): Generator<{ ra: number; rb: number; labels: Label[] }> {
  const byPair = preferencesByPair(labels);
  const ids = [...byPair.keys()];
  for (let i = 0; i < ids.length; i += LABELLED_CHUNK) {
    const chunk = ids.slice(i, i + LABELLED_CHUNK);
    const segs = store.pairRewards(chunk);
    for (let j = 0; j < chunk.length; j++) {
      yield { ra: segmentReturn(segs[2 * j]), rb: segmentReturn(segs[2 * j + 1]), labels: byPair.get(chunk[j]) ?? [] };
    }
  }
}

/** The preference labels of each labelled pair, pairs in the order their first label comes. */
function preferencesByPair(labels: readonly Label[]): Map<string, Label[]> {
  const byPair = new Map<string, Label[]>();
  for (const l of labels) {
    if (l.kind !== 'preference') continue;
    let ls = byPair.get(l.pairId);
    if (!ls) byPair.set(l.pairId, (ls = []));
    ls.push(l);
  }
  return byPair;
}
