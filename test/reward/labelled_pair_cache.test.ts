/**
 * LabelStore.labelledPairs with a pair cache (the online loop's, kept across feedback rounds):
 * it returns what a direct read returns (same pairs, order, rounds and labels; segment arrays
 * bit-equal) after labels are added, undone, or written through a second handle on the file;
 * it decodes only the segments of pairs it has not cached (none of a segment a cached pair
 * holds), and holds only labelled pairs. labelledMaxRound reads the newest labelled round
 * without decoding segments.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { InputError } from '../../core/errors.js';
import { type LabelledPair, LabelStore } from '../../reward/store.js';
import type { Label, Pair, Segment } from '../../reward/types.js';
import { handSegment } from '../helpers/segments.js';

const ARRAYS = ['obs', 'actions', 'rewards', 'terms', 'qpos', 'qvel', 'act', 'time', 'success'] as const;
const SCALARS = ['id', 'envId', 'modelHash', 'obsDim', 'actDim', 'nTerms', 'nq', 'nv', 'na', 'length', 'startStep', 'endsTerminal', 'source'] as const;

function bytes(a: Float32Array | Float64Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function expectSameSegment(got: Segment, want: Segment): void {
  for (const k of SCALARS) expect(got[k], k).toBe(want[k]);
  for (const k of ARRAYS) {
    expect(got[k].constructor, k).toBe(want[k].constructor);
    expect(bytes(got[k]).equals(bytes(want[k])), `${got.id} ${k}`).toBe(true);
  }
}

/** The cached read equals the direct one: ids, rounds and labels in order, segments bit-equal. */
function expectSame(got: readonly LabelledPair[], want: readonly LabelledPair[]): void {
  expect(got.map((lp) => [lp.pair.id, lp.round])).toEqual(want.map((lp) => [lp.pair.id, lp.round]));
  for (let i = 0; i < want.length; i++) {
    expect(got[i].labels).toEqual(want[i].labels);
    expectSameSegment(got[i].pair.a, want[i].pair.a);
    expectSameSegment(got[i].pair.b, want[i].pair.b);
  }
}

/** Segment i: 4 steps, arrays filled from i, with a -0 and a float32 subnormal to catch any value rewrite. */
function seg(i: number): Segment {
  const s = handSegment(`s${i}`, 4, { startStep: 10 * i, source: `ep${i % 2}` });
  s.obs.set([i + 0.25, -0, 1e-40, i * 3.5, -i]);
  s.actions.set([i / 7, -i / 3, 0.5, i]);
  s.rewards.set([i * 0.1, 1 / 3, -i, Math.PI]);
  s.qpos.set([i, i + 1, i + 2, i + 3, 5e-324]);
  s.time.set([0, 0.01, 0.02, 0.03, 0.04]);
  return s;
}
const S = Array.from({ length: 8 }, (_, i) => seg(i));
const pair = (a: number, b: number): Pair => ({ id: `p${a}${b}`, a: S[a], b: S[b] });
const pref = (id: string, pairId: string, teacher: string, probFirst: number): Label => ({ id, pairId, teacher, kind: 'preference', probFirst });
const skip = (id: string, pairId: string, teacher: string): Label => ({ id, pairId, teacher, kind: 'skip', reason: "can't tell" });

const open: LabelStore[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
  vi.restoreAllMocks();
});

/** A store file with pairs p01, p12 (round 0), p23, p34 (round 1), p45, p05 (round 2), and a second handle on it. */
function twoHandles(): { store: LabelStore; other: LabelStore; path: string } {
  const path = join(mkdtempSync(join(tmpdir(), 'prefrl-pair-cache-')), 'labels.sqlite');
  const store = LabelStore.open(path, { envId: 'test', modelHash: 'test' });
  open.push(store);
  store.putPairs([pair(0, 1), pair(1, 2)], { round: 0 });
  store.putPairs([pair(2, 3), pair(3, 4)], { round: 1 });
  store.putPairs([pair(4, 5), pair(0, 5)], { round: 2 });
  const other = LabelStore.open(path, { create: false });
  open.push(other);
  return { store, other, path };
}

describe('labelledPairs with a pair cache', () => {
  it('equals a direct read through adds, skips, undos and another handle, decoding only uncached segments', () => {
    const { store, other } = twoHandles();
    const decoded = vi.spyOn(LabelStore.prototype, 'getSegment');
    const cache = new Map<string, Pair>();
    /** Cached read (counting the segments it decodes) checked against a direct read. */
    const read = (opts: { includeSkips?: boolean; round?: number } = {}): { got: LabelledPair[]; decodes: string[] } => {
      decoded.mockClear();
      const got = store.labelledPairs({ ...opts, cache });
      const decodes = decoded.mock.calls.map(([id]) => id);
      expectSame(got, store.labelledPairs(opts));
      return { got, decodes };
    };

    // Nothing labelled: nothing read, nothing cached.
    expect(read().got).toEqual([]);
    expect(cache.size).toBe(0);

    store.addLabels([pref('l1', 'p01', 'a', 0.75), skip('l2', 'p12', 'a')]);
    const r1 = read();
    expect(r1.got.map((lp) => lp.pair.id)).toEqual(['p01']);
    expect(r1.decodes).toEqual(['s0', 's1']);
    expect([...cache.keys()]).toEqual(['p01']);
    // With skips: p12 is new; its s1 is the cached p01's, so only s2 is decoded.
    const r2 = read({ includeSkips: true });
    expect(r2.got.map((lp) => lp.pair.id)).toEqual(['p01', 'p12']);
    expect(r2.decodes).toEqual(['s2']);
    expect(r2.got[1].pair.a).toBe(r1.got[0].pair.b);
    expect([...cache.keys()]).toEqual(['p01', 'p12']);

    // Round 1 labelled, and a second teacher's label on p01 through the other handle.
    store.addLabels([pref('l3', 'p23', 'a', 1), pref('l4', 'p34', 'a', 0)]);
    other.addLabels([pref('l5', 'p01', 'b', 0.5)]);
    const r3 = read();
    expect(r3.got.map((lp) => [lp.pair.id, lp.round, lp.labels.map((l) => l.id)])).toEqual([
      ['p01', 0, ['l1', 'l5']],
      ['p23', 1, ['l3']],
      ['p34', 1, ['l4']],
    ]);
    // s2 is held by the cached p12, so of the new pairs' segments only s3 and s4 are decoded (s3 once, shared).
    expect(r3.decodes).toEqual(['s3', 's4']);
    expect(r3.got[0].pair).toBe(r1.got[0].pair);
    expect(r3.got[2].pair.a).toBe(r3.got[1].pair.b);
    // A call without `round` keeps only the pairs it returns: p12 (only skipped) is dropped.
    expect([...cache.keys()].sort()).toEqual(['p01', 'p23', 'p34']);
    // Reading again decodes nothing.
    expect(read().decodes).toEqual([]);

    // The other handle undoes p23's label and labels p45: seen at once, p23 leaves the cache.
    expect(other.deleteLabel('l3', 'a')).toEqual({ pairId: 'p23' });
    other.addLabels([pref('l6', 'p45', 'b', 0.25)]);
    const r4 = read();
    expect(r4.got.map((lp) => lp.pair.id)).toEqual(['p01', 'p34', 'p45']);
    expect(r4.decodes).toEqual(['s5']);
    expect([...cache.keys()].sort()).toEqual(['p01', 'p34', 'p45']);

    // A round's read uses the cache and drops nothing from it.
    const r5 = read({ includeSkips: true, round: 0 });
    expect(r5.got.map((lp) => lp.pair.id)).toEqual(['p01', 'p12']);
    expect(r5.decodes).toEqual(['s2']);
    expect(read({ round: 1 }).decodes).toEqual([]);
    expect([...cache.keys()].sort()).toEqual(['p01', 'p12', 'p34', 'p45']);

    // Labelled again after the undo: read anew; p05 was never labelled and is never cached.
    store.addLabels([pref('l7', 'p23', 'b', 0.5)]);
    const r6 = read();
    expect(r6.got.map((lp) => lp.pair.id)).toEqual(['p01', 'p23', 'p34', 'p45']);
    expect(r6.decodes).toEqual([]);
    expect([...cache.keys()].sort()).toEqual(['p01', 'p23', 'p34', 'p45']);
    expect(cache.has('p05')).toBe(false);

    // Every label undone: the cache empties.
    for (const [id, t] of [['l1', 'a'], ['l4', 'a'], ['l5', 'b'], ['l6', 'b'], ['l7', 'b']] as const) store.deleteLabel(id, t);
    expect(read().got).toEqual([]);
    expect(cache.size).toBe(0);
  });

  it('a damaged segment of a pair it has to read is an InputError naming the file and segment', () => {
    const { store, path } = twoHandles();
    const cache = new Map<string, Pair>();
    store.addLabels([pref('l1', 'p01', 'a', 1), pref('l2', 'p45', 'a', 0)]);
    const raw = new Database(path);
    raw.prepare("UPDATE segments SET obs = x'00' WHERE id = 's5'").run();
    raw.close();
    let err: unknown;
    try {
      store.labelledPairs({ cache });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toContain(path);
    expect((err as Error).message).toContain('segment s5 obs: 1 bytes stored, the segment\'s dims need 20');
    // The direct read says the same.
    expect(() => store.labelledPairs()).toThrow("segment s5 obs: 1 bytes stored, the segment's dims need 20");
  });
});

describe('labelledMaxRound', () => {
  it('is the newest round with a label of the asked kinds, read without decoding segments', () => {
    const { store, other } = twoHandles();
    const decoded = vi.spyOn(LabelStore.prototype, 'getSegment');
    expect(store.labelledMaxRound()).toBeUndefined();
    store.addLabels([skip('l1', 'p45', 'a')]);
    expect(store.labelledMaxRound()).toBeUndefined();
    expect(store.labelledMaxRound({ includeSkips: true })).toBe(2);
    other.addLabels([pref('l2', 'p12', 'b', 1), pref('l3', 'p34', 'b', 0)]);
    expect(store.labelledMaxRound()).toBe(1);
    // A labelled pair of round -3 does not change the max; one of round 7 does.
    store.putPairs([pair(5, 6)], { round: -3 });
    store.putPairs([pair(6, 7)], { round: 7 });
    store.addLabels([pref('l4', 'p56', 'a', 1)]);
    expect(store.labelledMaxRound()).toBe(1);
    store.addLabels([pref('l5', 'p67', 'a', 1)]);
    expect(store.labelledMaxRound()).toBe(7);
    other.deleteLabel('l3', 'b');
    store.deleteLabel('l5', 'a');
    expect(store.labelledMaxRound()).toBe(0);
    expect(store.labelledMaxRound({ includeSkips: true })).toBe(2);
    // It agrees with the rounds labelledPairs returns.
    expect(Math.max(...store.labelledPairs().map((lp) => lp.round))).toBe(0);
    decoded.mockClear();
    store.labelledMaxRound();
    expect(decoded).not.toHaveBeenCalled();
  });
});
