/**
 * The human teacher's timeout skips are not answers (reward/store.ts header): a pair nobody
 * answered in time stays open for people (`serve`), for `pendingPairs` (a resumed offline run)
 * and in the counts, and is handed out after the pairs never asked; a person's deliberate skip
 * still answers the pair. Stores written before the rule hold the same reason text and read the
 * same way (the JSONL below is what such a store exports).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../core/clock.js';
import { Rng } from '../../core/rng.js';
import { randomPolicy, rollout } from '../../envs/rollout.js';
import { TOY_SPEC, ToyReachEnv } from '../../envs/toy.js';
import { cutSegments, makePair } from '../../reward/segments.js';
import { isTimeoutSkip, LabelStore } from '../../reward/store.js';
import type { Label, Pair } from '../../reward/types.js';

const LEASE = 60_000;
let dir = '';
let pairs: Pair[] = [];
let n = 0;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'prefrl-timeouts-'));
  const env = new ToyReachEnv();
  const trajs = rollout(env, randomPolicy(TOY_SPEC, new Rng(5)), { episodes: 4, seed: 2 });
  env.dispose();
  const segments = cutSegments(trajs, { length: 10, source: 'test' });
  for (let i = 0; i + 1 < segments.length && pairs.length < 4; i += 2) pairs.push(makePair(segments[i], segments[i + 1]));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function open(): LabelStore {
  const s = LabelStore.open(join(dir, `${n++}.sqlite`), { clock: new ManualClock() });
  s.putPairs(pairs);
  return s;
}

/** The skip the human teacher stores when nobody answered within 3 s (the text stores already hold). */
const timeout = (pairId: string): Label => ({ id: `t-${pairId}`, pairId, teacher: 'human', kind: 'skip', reason: 'no answer within 3 s (human teacher timeout)' });

describe('timeout skips are not answers', () => {
  it('isTimeoutSkip tells the timeout reason from a person\'s "can\'t tell" and from preferences', () => {
    expect(isTimeoutSkip({ kind: 'skip', reason: 'no answer within 900 s (human teacher timeout)' })).toBe(true);
    expect(isTimeoutSkip({ kind: 'skip', reason: "can't tell (viewer)" })).toBe(false);
    expect(isTimeoutSkip({ kind: 'skip', reason: 'both segments below 10% of the average return' })).toBe(false);
    expect(isTimeoutSkip({ kind: 'preference' })).toBe(false);
  });

  it('a timed-out pair stays pending and waiting for people; a person\'s skip and preference answer theirs', () => {
    const store = open();
    try {
      const [p0, p1, p2, p3] = pairs.map((p) => p.id);
      store.putTeacher({ id: 'human:ada', kind: 'human' });
      store.addLabels([
        timeout(p0),
        { id: 'a1', pairId: p1, teacher: 'human:ada', kind: 'skip', reason: "can't tell (viewer)" },
        { id: 'a2', pairId: p2, teacher: 'human:ada', kind: 'preference', probFirst: 1 },
      ]);
      // 4 pairs, 3 label rows: 2 skips, 1 of them a timeout. Open: p0 (timed out) and p3 (never asked).
      expect(store.counts()).toMatchObject({ pairs: 4, labels: 3, preferences: 1, skips: 2, timeouts: 1, pending: 2, waitingForPeople: 2, unlabelled: 2 });
      // Never-asked pairs first, then the timed-out ones (each group in round, insertion order).
      expect(store.pendingPairs().map((p) => p.id)).toEqual([p3, p0]);
      expect(store.pendingPairs({ limit: 1 }).map((p) => p.id)).toEqual([p3]);
      expect(store.nextPairFor('human:bo', { leaseMs: LEASE })?.pair.id).toBe(p3);
      expect(store.nextPairFor('human:cy', { leaseMs: LEASE })?.pair.id).toBe(p0);
      // ada answered p1 and p2 (the skip included) and bo and cy hold p3 and p0: nothing left for dee.
      expect(store.nextPairFor('human:dee', { leaseMs: LEASE })).toBeNull();
      // cy answers the timed-out pair: it is answered, the timeout stays stored beside the answer.
      store.addLabels([{ id: 'c0', pairId: p0, teacher: 'human:cy', kind: 'preference', probFirst: 0 }]);
      expect(store.counts()).toMatchObject({ labels: 4, timeouts: 1, pending: 1, waitingForPeople: 1, unlabelled: 1 });
      expect(store.pendingPairs().map((p) => p.id)).toEqual([p3]);
    } finally {
      store.close();
    }
  });

  it('people get the newest round first and timed-out pairs last, so a live run\'s current batch goes before pairs an interrupted round left open', () => {
    const s = LabelStore.open(join(dir, `${n++}.sqlite`), { clock: new ManualClock() });
    try {
      const [p0, p1, p2, p3] = pairs.map((p) => p.id);
      s.putPairs(pairs.slice(0, 2), { round: 0 }); // an interrupted round: never answered, never timed out
      s.putPairs(pairs.slice(2, 4), { round: 1 });
      s.addLabels([timeout(p3)]);
      // Not timed out: p2 (round 1), then p0, p1 (round 0); then the timed-out p3.
      const order = ['ann', 'ben', 'cat', 'dan'].map((who) => s.nextPairFor(`human:${who}`, { leaseMs: LEASE })?.pair.id);
      expect(order).toEqual([p2, p0, p1, p3]);
      // Bulk labelling keeps its order: oldest round first, timed-out pairs last.
      expect(s.pendingPairs().map((p) => p.id)).toEqual([p0, p1, p2, p3]);
    } finally {
      s.close();
    }
  });

  it('a store exported with timeout skips and imported again reads the same (the reason carries the rule)', () => {
    const a = open();
    const b = open();
    const file = join(dir, 'labels.jsonl');
    try {
      a.addLabels([timeout(pairs[0].id), timeout(pairs[1].id)]);
      expect(a.exportJsonl(file)).toBe(2);
      expect(b.importJsonl(file)).toMatchObject({ added: 2 });
      expect(b.counts()).toMatchObject({ labels: 2, skips: 2, timeouts: 2, pending: 4, waitingForPeople: 4, unlabelled: 4 });
      // Written by hand with the older reason text only: the same.
      const c = open();
      writeFileSync(file, `${JSON.stringify({ ...timeout(pairs[2].id), createdAt: '2026-12-01T00:00:00.000Z' })}\n`);
      c.importJsonl(file);
      expect(c.counts()).toMatchObject({ timeouts: 1, pending: 4 });
      c.close();
    } finally {
      a.close();
      b.close();
    }
  });
});
