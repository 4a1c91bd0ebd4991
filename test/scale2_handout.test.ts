/**
 * LabelStore.nextPairFor walks from each teacher's floor (the first open pair it has not labelled)
 * instead of from the start of the open index: a person who answered many pairs still open to
 * others (overlap) gets the pair the walk from the start gives. Orders below are computed by hand
 * from the rule (never timed out first, newest round first, then insertion order; a pair the
 * teacher labelled, or whose answers plus other people's live leases fill it, is passed over).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { Rng } from '../core/rng.js';
import { randomPolicy, rollout } from '../envs/rollout.js';
import { TOY_SPEC, ToyReachEnv } from '../envs/toy.js';
import { cutSegments, makePair } from '../reward/segments.js';
import { LabelStore } from '../reward/store.js';
import type { Pair } from '../reward/types.js';

let dir = '';
let pool: Pair[] = [];
const LEASE = 60_000;

/** `n` distinct toy pairs, the same every call. */
function manyPairs(n: number): Pair[] {
  const env = new ToyReachEnv();
  const trajs = rollout(env, randomPolicy(TOY_SPEC, new Rng(5)), { episodes: 12, seed: 9 });
  env.dispose();
  const segs = cutSegments(trajs, { length: 5, source: 'test' });
  const out: Pair[] = [];
  const seen = new Set<string>();
  for (let k = 0; out.length < n; k++) {
    const i = k % segs.length;
    const j = (i + 1 + Math.floor(k / segs.length)) % segs.length;
    if (i === j) continue;
    const p = makePair(segs[i], segs[j]);
    if (seen.has(p.id)) continue;
    seen.add(p.id);
    out.push(p);
  }
  return out;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'prefrl-scale2-handout-'));
  pool = manyPairs(400);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Hand `teacher` its next pair and have it answer; the pair's index in `pool` (-1: none). */
function answerNext(store: LabelStore, teacher: string, now = 0): number {
  const got = store.nextPairFor(teacher, { leaseMs: LEASE, now });
  if (!got) return -1;
  store.addLabels([{ id: `${teacher}/${got.pair.id}`, pairId: got.pair.id, teacher, kind: 'preference', probFirst: 1 }]);
  return pool.findIndex((p) => p.id === got.pair.id);
}

/** The index in `pool` of the pair `teacher` is handed now, without answering (-1: none). */
function peek(store: LabelStore, teacher: string, now = 0): number {
  const got = store.nextPairFor(teacher, { leaseMs: LEASE, now });
  return got ? pool.findIndex((p) => p.id === got.pair.id) : -1;
}

describe('nextPairFor from a teacher floor', () => {
  it('a person who answered 300 of 400 overlapped pairs gets the next pair in hand-out order, for every answer', () => {
    const path = join(dir, 'many.sqlite');
    const store = LabelStore.open(path, { clock: new ManualClock() });
    try {
      // Rounds 0..3 of 100 pairs each (pool 0-99 round 0, ..., 300-399 round 3), two people wanted.
      for (let r = 0; r < 4; r++) store.putPairs(pool.slice(100 * r, 100 * (r + 1)), { round: r, wanted: 2 });
      // Newest round first, insertion order within it: 300..399, 200..299, 100..199, 0..99.
      const expected = [3, 2, 1, 0].flatMap((r) => Array.from({ length: 100 }, (_, i) => 100 * r + i));
      const got: number[] = [];
      for (let n = 0; n < 300; n++) got.push(answerNext(store, 'human:ada'));
      expect(got).toEqual(expected.slice(0, 300));
      // Another person starts from the first pair: ada's answers fill none (wanted 2).
      expect(answerNext(store, 'human:bo')).toBe(300);
      // bo holds 301 (not answered): ada, who would get 0, still does (ada labelled 301).
      expect(peek(store, 'human:bo')).toBe(301);
      expect(answerNext(store, 'human:ada')).toBe(0);
      // ada undoes her answer on 250: it is hers again next, then 1 (the floor went back and on).
      expect(store.deleteLabel(`human:ada/${pool[250].id}`, 'human:ada')).toEqual({ pairId: pool[250].id });
      expect(answerNext(store, 'human:ada')).toBe(250);
      expect(answerNext(store, 'human:ada')).toBe(1);
      // A machine's labels fill nothing for people; the machines' audience has its own floor from the start.
      expect(answerNext(store, 'oracle')).toBe(300);
      expect(answerNext(store, 'human:ada')).toBe(2);
    } finally {
      store.close();
    }
  });

  it('a pair passed over because leases filled it comes back when they expire; pairs added, reopened or added by another connection come before the floor', () => {
    const path = join(dir, 'hand.sqlite');
    const store = LabelStore.open(path, { clock: new ManualClock() });
    let other: LabelStore | undefined;
    try {
      store.putPairs(pool.slice(0, 6), { round: 0, wanted: 2 });
      expect(answerNext(store, 'human:ada')).toBe(0);
      // bo and cy hold 1 (live leases until 60 000): ada answered 0, so 1 is full for her; she gets 2.
      store.leasePair(pool[1].id, 'human:bo', 60_000);
      store.leasePair(pool[1].id, 'human:cy', 60_000);
      expect(answerNext(store, 'human:ada', 1000)).toBe(2);
      expect(answerNext(store, 'human:ada', 2000)).toBe(3);
      // The leases ended: 1 is open to ada again, before 4.
      expect(answerNext(store, 'human:ada', 70_000)).toBe(1);
      expect(answerNext(store, 'human:ada', 70_000)).toBe(4);
      expect(answerNext(store, 'human:ada', 70_000)).toBe(5);
      expect(peek(store, 'human:ada', 70_000)).toBe(-1);
      // Pairs added to the oldest round go after the rest of it; a newer round goes first.
      store.putPairs(pool.slice(6, 8), { round: 0, wanted: 2 });
      store.putPairs(pool.slice(8, 9), { round: 1, wanted: 2 });
      expect([8, 6, 7].map(() => answerNext(store, 'human:ada', 70_000))).toEqual([8, 6, 7]);
      expect(peek(store, 'human:ada', 70_000)).toBe(-1);
      // bo and cy answer 0 and 2: closed; raising wanted to 3 opens them again, but ada labelled them.
      for (const t of ['human:bo', 'human:cy']) {
        for (const i of [0, 2]) store.addLabels([{ id: `${t}/${i}`, pairId: pool[i].id, teacher: t, kind: 'preference', probFirst: 0 }]);
      }
      store.raiseWanted(3);
      expect(peek(store, 'human:ada', 70_000)).toBe(-1);
      // Undo of ada's answer on 0 (a pair open again only because of the undo) brings it back.
      store.deleteLabel(`human:ada/${pool[0].id}`, 'human:ada');
      expect(answerNext(store, 'human:ada', 70_000)).toBe(0);
      expect(peek(store, 'human:ada', 70_000)).toBe(-1);
      // Another connection adds a pair (round 2): no trigger of this connection saw it.
      other = LabelStore.open(path, { clock: new ManualClock() });
      other.putPairs(pool.slice(9, 10), { round: 2, wanted: 2 });
      expect(answerNext(store, 'human:ada', 70_000)).toBe(9);
      // Another connection deletes one of ada's labels (an undo by her in another server process).
      other.deleteLabel(`human:ada/${pool[4].id}`, 'human:ada');
      expect(answerNext(store, 'human:ada', 70_000)).toBe(4);
      expect(peek(store, 'human:ada', 70_000)).toBe(-1);
    } finally {
      other?.close();
      store.close();
    }
  });

  it("the human teacher's timeout skip moves a pair after the pairs never timed out, before or after a floor", () => {
    const path = join(dir, 'timeout.sqlite');
    const store = LabelStore.open(path, { clock: new ManualClock() });
    try {
      store.putPairs(pool.slice(0, 5), { round: 0, wanted: 2 });
      expect(answerNext(store, 'human:ada')).toBe(0);
      expect(answerNext(store, 'human:ada')).toBe(1);
      // Nobody answered 2 in time: timed out, so it goes last (after 3 and 4).
      store.addLabels([{ id: 'to-2', pairId: pool[2].id, teacher: 'human', kind: 'skip', reason: 'no answer within 60 s (human teacher timeout)' }]);
      expect([3, 4, 2].map(() => answerNext(store, 'human:ada'))).toEqual([3, 4, 2]);
      expect(peek(store, 'human:ada')).toBe(-1);
      // Undoing the timeout moves 2 back (ada labelled it: nothing for her); bo gets 0 first.
      store.deleteLabel('to-2', 'human');
      expect(peek(store, 'human:ada')).toBe(-1);
      expect(answerNext(store, 'human:bo')).toBe(0);
    } finally {
      store.close();
    }
  });
});
