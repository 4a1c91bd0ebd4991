/**
 * The HERON page's pool: the people's labels it compares with are the store's people
 * (`isPerson`: "human:<name>" or a teacher registered with kind "human"), not machines'.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeJsonAtomic } from '../../core/run.js';
import { TOY_SPEC } from '../../envs/toy.js';
import { allPairsInChunks } from '../../reward/offline.js';
import { makePair } from '../../reward/segments.js';
import { HeronTeacher, loadHeronConfig, parseHeronConfig, sumStds, termSums, termSumStds } from '../../reward/teachers/heron.js';
import { labelId } from '../../reward/teachers/synthetic.js';
import type { Label, Pair } from '../../reward/types.js';
import { checkHeronConfig, heronPreview, loadHeronPool } from '../../viewer/heron_preview.js';
import { storeWith } from '../helpers/store.js';
import { makePairs } from './helpers.js';

const pref = (p: Pair, teacher: string, probFirst: number): Label => ({ id: labelId(teacher, p.id), pairId: p.id, teacher, kind: 'preference', probFirst });

describe('loadHeronPool', () => {
  it("keeps people's preferences (by id or registered kind) and leaves machines' out", async () => {
    const pairs = (await makePairs('toy-reach', { episodes: 4, steps: 20, length: 10, seed: 3 })).slice(0, 3);
    const store = storeWith(pairs, { ada: 'human', oracle: 'synthetic' });
    try {
      store.addLabels([pref(pairs[0], 'human:bo', 1), pref(pairs[0], 'ada', 0.5), pref(pairs[0], 'oracle', 0), pref(pairs[1], 'oracle', 1), pref(pairs[2], 'ada', 0)]);
      const pool = await loadHeronPool(store);
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
      const two = await loadHeronPool(store, { maxLabelled: 2 });
      expect(two?.labelled.map((l) => [l.pair.id, l.human])).toEqual([[pairs[0].id, [1, 0.5]]]);
      expect(two?.samples.map((s) => s.pair.id)).toEqual([pairs[0].id, pairs[1].id]);
    } finally {
      store.close();
    }
  });
});

describe('the HERON page round trip', () => {
  it('a config as heron_save writes it loads as --teacher heron:<file> unchanged, and the teacher decides the sample pairs as the preview showed', async () => {
    const pairs = (await makePairs('toy-reach', { episodes: 4, steps: 30, length: 10, seed: 5 })).slice(0, 6);
    const store = storeWith(pairs, { ada: 'human' });
    try {
      // What the page sends: terms switched on, in the person's order, margins, and a direction only where it is not "auto".
      const sent = { ranking: ['goal_distance', 'at_goal', 'control_effort'], margins: [1.5, 0, 0.25], directions: { at_goal: 'lower' as const } };
      const saved = checkHeronConfig(sent, TOY_SPEC);
      const file = join(mkdtempSync(join(tmpdir(), 'heron-rt-')), 'heron.json');
      writeJsonAtomic(file, saved); // what the server's heron_save does
      expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(sent);
      expect(loadHeronConfig(file, TOY_SPEC)).toEqual(sent);

      store.addLabels([pref(pairs[1], 'ada', 1)]);
      const pool = await loadHeronPool(store);
      if (!pool) throw new Error('no pool');
      // The page's pool is every stored pair's two segments, as `prefrl label` reads it (in another
      // order: the stds agree to rounding; pairs that share segments: the next test).
      const labelStds = termSumStds(pairs.flatMap((p) => [p.a, p.b]));
      pool.stds.forEach((s, k) => expect(s).toBeCloseTo(labelStds[k], 12));
      const shown = heronPreview(saved, TOY_SPEC, pool);
      expect(shown.decisions.map((d) => d.pairId)).toEqual([pairs[1].id, ...pairs.filter((_, i) => i !== 1).map((p) => p.id)]);
      // Every level decides some pair here (at_goal, lower better by the direction, decides the first), and one pair is a tie.
      expect(shown.decisions.map((d) => d.level)).toEqual([1, 0, 2, 0, 2, -1]);
      const teacher = new HeronTeacher({ spec: TOY_SPEC, config: loadHeronConfig(file, TOY_SPEC), id: `heron:${file}` });
      teacher.setPool(pairs.flatMap((p) => [p.a, p.b]));
      const byId = new Map(pairs.map((p) => [p.id, p]));
      const labels = await teacher.label(shown.decisions.map((d) => byId.get(d.pairId) as Pair));
      shown.decisions.forEach((d, i) => {
        const l = labels[i];
        expect(l.kind === 'preference' && l.probFirst).toBe(d.probFirst);
        const raw = JSON.parse(l.raw ?? '');
        expect(raw.decidedBy).toBe(d.term);
        if (d.term !== null) {
          expect([raw.level, raw.diff]).toEqual([d.level, d.diff]);
          expect(raw.threshold).toBeCloseTo(d.threshold as number, 12);
        }
      });
      // The agreement figure: ada's one label against the teacher's verdict on that pair.
      const onLabelled = labels[0].kind === 'preference' ? labels[0].probFirst : -1;
      expect(shown.agreement).toEqual({ pairs: 1, agreeing: onLabelled === 1 ? 1 : 0 });
    } finally {
      store.close();
    }
  });

  it('pairs that share segments: the page and the teacher (the pool read from the store a chunk at a time) count each segment once, so they decide alike', async () => {
    const base = (await makePairs('toy-reach', { episodes: 4, steps: 30, length: 10, seed: 5 })).slice(0, 4);
    // One segment in four pairs: counted once per pair, it would be 4 of the 11 segments' 14 places.
    const pairs = [...base, ...[1, 2, 3].map((k) => makePair(base[0].a, base[k].b))];
    const store = storeWith(pairs);
    try {
      const pool = await loadHeronPool(store);
      if (!pool) throw new Error('no pool');
      expect(pool.segments).toBe(8);
      const withRepeats = sumStds(pairs.flatMap((p) => [termSums(p.a), termSums(p.b)]));
      // Not a case where repeats happen to change nothing.
      expect(Math.abs(withRepeats[0] - pool.stds[0])).toBeGreaterThan(1e-3);
      const config = { ranking: ['goal_distance', 'control_effort', 'at_goal'], margins: [0.5, 0.5, 0.5] };
      const teacher = new HeronTeacher({ spec: TOY_SPEC, config: parseHeronConfig(config, TOY_SPEC, 'heron.json') });
      teacher.setPoolChunks(allPairsInChunks(store));
      const stds = teacher.poolStds() as Float64Array;
      pool.stds.forEach((s, k) => expect(stds[k]).toBeCloseTo(s, 12));
      const shown = heronPreview(config, TOY_SPEC, pool);
      expect(shown.decisions.length).toBe(7);
      const byId = new Map(pairs.map((p) => [p.id, p]));
      for (const d of shown.decisions) {
        const t = teacher.decide(byId.get(d.pairId) as Pair);
        expect([t.probFirst, t.level]).toEqual([d.probFirst, d.level]);
      }
    } finally {
      store.close();
    }
  });
});
