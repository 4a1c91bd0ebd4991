/**
 * The HERON page's pool: the people's labels it compares with are the store's people
 * (`isPerson`: "human:<name>" or a teacher registered with kind "human"), not machines'.
 */
import { describe, expect, it } from 'vitest';
import { labelId } from '../../reward/teachers/synthetic.js';
import type { Label, Pair } from '../../reward/types.js';
import { loadHeronPool } from '../../viewer/heron_preview.js';
import { storeWith } from '../helpers/store.js';
import { makePairs } from './helpers.js';

const pref = (p: Pair, teacher: string, probFirst: number): Label => ({ id: labelId(teacher, p.id), pairId: p.id, teacher, kind: 'preference', probFirst });

describe('loadHeronPool', () => {
  it("keeps people's preferences (by id or registered kind) and leaves machines' out", async () => {
    const pairs = (await makePairs('toy-reach', { episodes: 4, steps: 20, length: 10, seed: 3 })).slice(0, 3);
    const store = storeWith(pairs, { ada: 'human', oracle: 'synthetic' });
    try {
      store.addLabels([pref(pairs[0], 'human:bo', 1), pref(pairs[0], 'ada', 0.5), pref(pairs[0], 'oracle', 0), pref(pairs[1], 'oracle', 1), pref(pairs[2], 'ada', 0)]);
      const pool = loadHeronPool(store);
      expect(pool?.labelled.map((l) => [l.pair.id, l.human])).toEqual([
        [pairs[0].id, [1, 0.5]],
        [pairs[2].id, [0]],
      ]);
      // Samples: the pairs people labelled first, then the one only the oracle labelled (no people's labels).
      expect(pool?.samples.map((s) => [s.pair.id, s.human])).toEqual([
        [pairs[0].id, [1, 0.5]],
        [pairs[2].id, [0]],
        [pairs[1].id, []],
      ]);
      // maxLabelled: the first pairs with preferences in the store's order (pairs[0], pairs[1]);
      // pairs[2] is not read, so its person's label is not in the figure.
      const two = loadHeronPool(store, { maxLabelled: 2 });
      expect(two?.labelled.map((l) => [l.pair.id, l.human])).toEqual([[pairs[0].id, [1, 0.5]]]);
      expect(two?.samples.map((s) => s.pair.id)).toEqual([pairs[0].id, pairs[1].id]);
    } finally {
      store.close();
    }
  });
});
