/**
 * `labels stats` with many teachers: the agreement with the true return of every teacher comes
 * from one pass over the labelled pairs. It used to make one pass per teacher, each reading every
 * labelled pair's segments (100,000 labels: 3.5 s a teacher). Counted through the store's reads, not timed.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { makePair } from '../../reward/segments.js';
import { LabelStore } from '../../reward/store.js';
import type { Label } from '../../reward/types.js';
import { teacherStats } from '../../scripts/commands/labels.js';
import { handSegment } from '../helpers/segments.js';
import { storeWith } from '../helpers/store.js';

afterEach(() => vi.restoreAllMocks());

describe('labels stats over many teachers', () => {
  it('computes each teacher\'s agreement with the true return from one pass over the labelled pairs', () => {
    // Pair k: a returns k + 1 (one step), b returns 0 except pair 3, where both return 0 (a tie in truth).
    const pairs = [0, 1, 2, 3].map((k) =>
      makePair(handSegment(`a${k}`, 1, { rewards: Float64Array.of(k === 3 ? 0 : k + 1) }), handSegment(`b${k}`, 1, { rewards: Float64Array.of(0), startStep: 1 })),
    );
    const store = storeWith(pairs);
    try {
      const pref = (teacher: string, k: number, probFirst: number): Label => ({ id: `${teacher}-${k}`, pairId: pairs[k].id, teacher, kind: 'preference', probFirst });
      store.addLabels([
        // t1: first on every pair: agrees on pairs 0-2 (3/3; pair 3 is a tie in truth and left out).
        ...[0, 1, 2, 3].map((k) => pref('t1', k, 1)),
        // t2: first, second, second: 1/3.
        pref('t2', 0, 1),
        pref('t2', 1, 0),
        pref('t2', 2, 0),
        // t3: a tie (left out) and one right answer: 1/1.
        pref('t3', 0, 0.5),
        pref('t3', 1, 0.8),
        // t4: skips only: no agreement.
        { id: 't4-0', pairId: pairs[0].id, teacher: 't4', kind: 'skip', reason: 'unsure' },
      ]);
      const all = vi.spyOn(LabelStore.prototype, 'labelledPairs');
      const some = vi.spyOn(LabelStore.prototype, 'getPairs');
      const rewards = vi.spyOn(LabelStore.prototype, 'pairRewards');
      const stats = teacherStats(store);
      expect(Object.fromEntries(stats.map((s) => [s.teacher, s.agreementWithTrueReturn]))).toEqual({ t1: 1, t2: 1 / 3, t3: 1, t4: null });
      expect(stats.map((s) => [s.teacher, s.labels, s.preferences, s.ties, s.skips])).toEqual([
        ['t1', 4, 4, 0, 0],
        ['t2', 3, 3, 0, 0],
        ['t3', 2, 1, 1, 0],
        ['t4', 1, 0, 0, 1],
      ]);
      // One pass for the four teachers (before: one each, four), reading the labelled pairs'
      // rewards only (not their whole segments) a chunk at a time (the four pairs with
      // preferences fit in one), never all at once.
      expect(rewards.mock.calls.map(([ids]) => [...ids].sort())).toEqual([pairs.map((p) => p.id).sort()]);
      expect(some).not.toHaveBeenCalled();
      expect(all).not.toHaveBeenCalled();
    } finally {
      store.close();
    }
  });
});
