/**
 * The hand-out stops at the first pair it may hand out, and the viewer's counts read no pair's
 * labels: on stores of 3000 pairs, count the calls of the store's person function
 * (prefrl_is_person, replaced in the store's connection by a counting copy). The version-1
 * queries called it for every label of every pair (their ORDER BY needed every pair's counts
 * first) and for every live lease of every pair; now the hand-out calls it once for the teacher
 * and once per lease of the pairs it walks past, and counts()/progressCounts() not at all.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../core/clock.js';
import { Rng } from '../../core/rng.js';
import { randomPolicy, rollout } from '../../envs/rollout.js';
import { TOY_SPEC, ToyReachEnv } from '../../envs/toy.js';
import { cutSegments, makePair } from '../../reward/segments.js';
import { isPerson, LabelStore } from '../../reward/store.js';
import type { Label, Pair } from '../../reward/types.js';

const N = 3000;
let dir = '';
let pairs: Pair[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'prefrl-handout-scale-'));
  const env = new ToyReachEnv();
  const trajs = rollout(env, randomPolicy(TOY_SPEC, new Rng(4)), { episodes: 8, seed: 9 });
  env.dispose();
  const segs = cutSegments(trajs, { length: 5, source: 'test' });
  for (let i = 0; i < segs.length && pairs.length < N; i++) {
    for (let j = i + 1; j < segs.length && pairs.length < N; j++) pairs.push(makePair(segs[i], segs[j]));
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Replace the store connection's prefrl_is_person by a copy that counts its calls. */
function countPersonCalls(store: LabelStore): { calls: number } {
  const counter = { calls: 0 };
  const db = (store as unknown as { db: Database.Database }).db;
  db.function('prefrl_is_person', { deterministic: true }, (teacher: unknown, kind: unknown) => {
    counter.calls++;
    return isPerson(String(teacher), typeof kind === 'string' ? kind : null) ? 1 : 0;
  });
  return counter;
}

const pref = (p: Pair, teacher: string): Label => ({ id: `${teacher}/${p.id}`, pairId: p.id, teacher, kind: 'preference', probFirst: 1 });

describe('the hand-out and the viewer counts do not visit every pair (3000 pairs)', () => {
  it('a person gets the one pair no person answered without its labels of the other 2999 being read; counts() and progressCounts() call nothing per pair', () => {
    expect(pairs).toHaveLength(N);
    const store = LabelStore.open(join(dir, 'people.sqlite'), { clock: new ManualClock() });
    try {
      store.putPairs(pairs);
      store.putTeacher({ id: 'oracle', kind: 'synthetic' });
      // The oracle answered every pair, ann every pair but the last.
      store.addLabels([...pairs.map((p) => pref(p, 'oracle')), ...pairs.slice(0, N - 1).map((p) => pref(p, 'human:ann'))]);
      const counter = countPersonCalls(store);
      expect(store.nextPairFor('human:bo', { leaseMs: 60_000, now: 1 })?.pair.id).toBe(pairs[N - 1].id);
      // One call: whether bo is a person (version 1: one per label of every pair, 5999 and more).
      expect(counter.calls).toBe(1);
      counter.calls = 0;
      expect(store.counts(1)).toMatchObject({ pairs: N, labels: 2 * N - 1, pending: 0, waitingForPeople: 1, unlabelled: 0 });
      expect(store.progressCounts('human:bo')).toEqual({ labels: 2 * N - 1, teacherLabels: 0, waitingForPeople: 1 });
      expect(counter.calls).toBe(0);
      // A machine finds nothing (the oracle filled every pair for machines), again without reading labels.
      expect(store.nextPairFor('heron:h.json', { leaseMs: 60_000, now: 1 })).toBeNull();
      expect(counter.calls).toBe(1);
    } finally {
      store.close();
    }
  });

  it('a machine gets the first pair: the walk stops there, past no other pair (each pair holds a live lease of a person)', () => {
    const path = join(dir, 'leases.sqlite');
    const store = LabelStore.open(path, { clock: new ManualClock() });
    try {
      store.putPairs(pairs.slice(0, N / 2), { round: 0 });
      store.putPairs(pairs.slice(N / 2), { round: 1 });
      // ann holds a live lease on every pair (one transaction through a second connection).
      const db = new Database(path);
      db.prepare("INSERT INTO leases (pair_id, teacher, expires_at) SELECT id, 'human:ann', 1000000 FROM pairs").run();
      db.close();
      const counter = countPersonCalls(store);
      // The newest round's first pair; a person's lease does not hold it for machines. Calls: whether
      // heron is a person, and ann's lease on the one pair visited (version 1: one per pair, 3000).
      expect(store.nextPairFor('heron:h.json', { leaseMs: 60_000, now: 1 })?.pair.id).toBe(pairs[N / 2].id);
      expect(counter.calls).toBe(2);
    } finally {
      store.close();
    }
  });
});
