/**
 * The hand-out and the counts of schema version 2 (per-pair counters kept by triggers, partial
 * indexes walked in hand-out order) give exactly what the version-1 queries gave: on randomly
 * built stores (seeded: people and machines, wanted 1..3, leases live and expired, timeouts,
 * skips, undo, locks, imports, a teacher's kind changing, pairs added in later rounds), every
 * `nextPairFor` hands out the pair the version-1 query picks on the same file at that moment, and
 * after every step `counts()` (pending, waiting for people, unlabelled) and `pendingPairIds()`
 * equal the version-1 queries' (kept verbatim in store_v1.ts, run on a second connection).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../core/clock.js';
import { LabelStore } from '../../reward/store.js';
import type { Pair } from '../../reward/types.js';
import { pairPool, type RandomRun, randomRun, TIMEOUT_REASON } from './store_random.js';
import { V1Reference } from './store_v1.js';

let dir = '';
let pool: Pair[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'prefrl-handout-'));
  pool = pairPool();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('hand-out and counts of schema 2 equal the version-1 queries', () => {
  it('on 6 seeded random stores of 150 steps each', () => {
    const total: RandomRun = { handOuts: 0, handedOut: 0, timeouts: 0, undos: 0, imports: 0, kindChanges: 0 };
    for (let seed = 1; seed <= 6; seed++) {
      const path = join(dir, `random-${seed}.sqlite`);
      const clock = new ManualClock();
      const store = LabelStore.open(path, { clock });
      const ref = new V1Reference(path);
      try {
        const run = randomRun(store, ref, clock, pool, seed, 150, dir);
        for (const k of Object.keys(total) as (keyof RandomRun)[]) total[k] += run[k];
      } finally {
        ref.close();
        store.close();
      }
    }
    // The runs did what they are for: pairs handed out and refused, timeouts, undos, imports, kind changes.
    expect(total.handOuts).toBeGreaterThan(200);
    expect(total.handedOut).toBeGreaterThan(50);
    expect(total.handOuts - total.handedOut).toBeGreaterThan(20);
    expect(total.timeouts).toBeGreaterThan(10);
    expect(total.undos).toBeGreaterThan(10);
    expect(total.imports).toBeGreaterThan(10);
    expect(total.kindChanges).toBeGreaterThan(10);
  });

  it('hand-computed: timed-out pairs go after pairs never asked, newest round first, and a kind change moves labels between audiences', () => {
    const path = join(dir, 'hand.sqlite');
    const store = LabelStore.open(path, { clock: new ManualClock() });
    try {
      store.putPairs(pool.slice(0, 2), { round: 0 });
      store.putPairs(pool.slice(2, 4), { round: 1 });
      // Pair 2 (round 1, first) timed out; pair 3 (round 1) answered by the oracle.
      store.addLabels([
        { id: 't', pairId: pool[2].id, teacher: 'human', kind: 'skip', reason: TIMEOUT_REASON },
        { id: 'o', pairId: pool[3].id, teacher: 'oracle', kind: 'preference', probFirst: 1 },
      ]);
      // People: round 1 first (pair 3: only a machine answered it), then round 0 in order, then the timed-out pair 2.
      const order = ['ann', 'bo', 'cy', 'dee', 'eve'].map((w) => store.nextPairFor(`human:${w}`, { leaseMs: 60_000, now: 1 })?.pair.id ?? null);
      expect(order).toEqual([pool[3].id, pool[0].id, pool[1].id, pool[2].id, null]);
      expect(store.counts(1)).toMatchObject({ pending: 3, waitingForPeople: 4, unlabelled: 3 });
      // The oracle registered as a person: its answer now fills pair 3 for people.
      store.putTeacher({ id: 'oracle', kind: 'human' });
      expect(store.counts(1)).toMatchObject({ pending: 3, waitingForPeople: 3, unlabelled: 3 });
      store.putTeacher({ id: 'oracle', kind: 'synthetic' });
      expect(store.counts(1)).toMatchObject({ waitingForPeople: 4 });
      // Undo of the timeout: pair 2 is no longer timed out; a machine gets it first (round 1, first in order).
      expect(store.deleteLabel('t', 'human')).toEqual({ pairId: pool[2].id });
      expect(store.nextPairFor('heron:h.json', { leaseMs: 60_000, now: 1 })?.pair.id).toBe(pool[2].id);
    } finally {
      store.close();
    }
  });
});
