/**
 * What a tie is: `isTie` in TS and the store's SQL counts (`counts().ties`, per teacher and in
 * all) read the same labels as ties, from the one constant TIE_PROB.
 */
import { describe, expect, it } from 'vitest';
import { isTie, TIE_PROB } from '../../reward/store.js';
import { labelId } from '../../reward/teachers/synthetic.js';
import type { Label } from '../../reward/types.js';
import { storeWith } from '../helpers/store.js';
import { makePairs } from '../viewer/helpers.js';

describe('the tie rule', () => {
  it('TS and the store agree: only a preference of exactly 0.5 is a tie (not 0.5 +- 1e-12, not a skip)', async () => {
    expect(TIE_PROB).toBe(0.5);
    const pairs = (await makePairs('toy-reach', { episodes: 6, steps: 20, length: 10, seed: 3 })).slice(0, 6);
    const store = storeWith(pairs);
    try {
      const answers: [string, number | null][] = [
        ['oracle', 0.5],
        ['oracle', 0.5 + 1e-12],
        ['oracle', 0.5 - 1e-12],
        ['oracle', 1],
        ['oracle', null],
        ['equal', 0.5],
      ];
      const labels: Label[] = answers.map(([teacher, p], i) =>
        p === null
          ? { id: labelId(teacher, pairs[i].id), pairId: pairs[i].id, teacher, kind: 'skip', reason: 'cannot tell' }
          : { id: labelId(teacher, pairs[i].id), pairId: pairs[i].id, teacher, kind: 'preference', probFirst: p },
      );
      store.addLabels(labels);
      // By hand: the oracle's first label and the equal teacher's are the ties.
      expect(labels.map(isTie)).toEqual([true, false, false, false, false, true]);
      const counts = store.counts();
      expect(counts.ties).toBe(2);
      expect(counts.perTeacher.oracle).toMatchObject({ labels: 5, preferences: 4, ties: 1, skips: 1 });
      expect(counts.perTeacher.equal).toMatchObject({ labels: 1, preferences: 1, ties: 1, skips: 0 });
      // The stored labels read back give the same ties through isTie.
      expect(store.labels().filter(isTie).length).toBe(counts.ties);
    } finally {
      store.close();
    }
  });
});
