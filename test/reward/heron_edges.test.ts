/**
 * HERON's decisions at its edges, each against a hand-computed answer: a difference exactly at
 * the threshold, a term the pool never varies (std 0), equal sums everywhere, margin 0, the
 * ranking's order, a term left out of the ranking (the viewer's "off"), sums over steps rather
 * than per step, the pool's population std, and configs written for one env read with another's
 * terms.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../core/errors.js';
import { TOY_SPEC } from '../../envs/toy.js';
import type { EnvSpec } from '../../envs/types.js';
import { type HeronConfig, HeronTeacher, heronDecidedBy, loadHeronConfig, parseHeronConfig, termSumStds } from '../../reward/teachers/heron.js';
import type { Pair, Segment } from '../../reward/types.js';
import { handSegment } from '../helpers/segments.js';

// Reward terms as `prefrl envs` lists them (names and weights are all HERON reads of a spec).
const REACHER: EnvSpec = {
  ...TOY_SPEC,
  id: 'reacher',
  rewardTerms: [
    { name: 'fingertip_distance', weight: -5, doc: '' },
    { name: 'on_target', weight: 1, doc: '' },
    { name: 'control_effort', weight: -0.05, doc: '' },
  ],
};
const PUSHER: EnvSpec = {
  ...TOY_SPEC,
  id: 'pusher',
  rewardTerms: [
    { name: 'puck_to_goal', weight: -3, doc: '' },
    { name: 'hand_to_puck', weight: -1, doc: '' },
    { name: 'puck_at_goal', weight: 1, doc: '' },
    { name: 'control_effort', weight: -0.05, doc: '' },
  ],
};

/** A reacher segment whose steps' terms are `steps` (each [fingertip_distance, on_target, control_effort]). */
function seg(id: string, ...steps: [number, number, number][]): Segment {
  return { ...handSegment(id, steps.length), envId: 'reacher', nTerms: 3, terms: Float64Array.from(steps.flat()) };
}
const pair = (id: string, a: Segment, b: Segment): Pair => ({ id, a, b });

// Pool of four one-step segments:
//   fingertip_distance {0, 0, 2, 2}: mean 1, population std 1 (the sample std would be sqrt(4/3) = 1.1547)
//   on_target          {1, 3, 1, 3}: mean 2, population std 1
//   control_effort     {0, 0, 0, 0}: std 0
const POOL = [seg('p0', [0, 1, 0]), seg('p1', [0, 3, 0]), seg('p2', [2, 1, 0]), seg('p3', [2, 3, 0])];

function teacher(config: HeronConfig): HeronTeacher {
  const t = new HeronTeacher({ spec: REACHER, config: parseHeronConfig(config, REACHER, 'reacher.json') });
  t.setPool(POOL);
  return t;
}

describe('HERON decisions, hand-computed', () => {
  it('the pool std is the population std of the segment sums', () => {
    expect(Array.from(termSumStds(POOL))).toEqual([1, 1, 0]);
    // fingertip_distance diff 1.1 against margin 1 x std 1: decided (1.1 > 1); a sample std (1.1547) would call it a tie.
    const d = teacher({ ranking: ['fingertip_distance'], margins: [1] }).decide(pair('x', seg('a', [1.1, 0, 0]), seg('b', [0, 0, 0])));
    expect(d).toMatchObject({ probFirst: 0, level: 0, term: 'fingertip_distance', threshold: 1 });
    expect(d.diff).toBeCloseTo(1.1, 12);
  });

  it('a difference exactly at the threshold does not decide (strictly greater); the next level does', () => {
    const t = teacher({ ranking: ['fingertip_distance', 'on_target'], margins: [0.5, 0.25] });
    // fingertip 1 vs 1.5: |diff| 0.5 = 0.5 x 1 -> not decided; on_target 2 vs 1.5: 0.5 > 0.25 x 1 -> a (higher is better, weight +1)
    expect(t.decide(pair('x', seg('a', [1, 2, 0]), seg('b', [1.5, 1.5, 0])))).toEqual({ probFirst: 1, level: 1, term: 'on_target', diff: 0.5, threshold: 0.25 });
    // on_target 2 vs 1.75: 0.25 = 0.25 x 1 -> not decided either: a tie
    expect(t.decide(pair('x', seg('a', [1, 2, 0]), seg('b', [1.5, 1.75, 0]))).level).toBe(-1);
  });

  it('equal sums tie at every level, even with margin 0; the label is a 0.5 preference with decidedBy null', async () => {
    const t = teacher({ ranking: ['fingertip_distance', 'on_target', 'control_effort'], margins: [0, 0, 0] });
    const [l] = await t.label([pair('eq', seg('a', [1, 2, 0.5]), seg('b', [1, 2, 0.5]))]);
    expect(l).toMatchObject({ kind: 'preference', probFirst: 0.5, pairId: 'eq' });
    expect(JSON.parse(l.raw ?? '')).toEqual({ decidedBy: null });
  });

  it('margin 0, or a term the pool never varies (std 0), decides on any difference at all', () => {
    const t = teacher({ ranking: ['fingertip_distance', 'control_effort'], margins: [0, 5] });
    // fingertip 1 vs 1 + 2^-20 with margin 0: decided for a (lower distance)
    expect(t.decide(pair('x', seg('a', [1, 0, 0]), seg('b', [1 + 2 ** -20, 0, 0])))).toMatchObject({ probFirst: 1, level: 0, diff: -(2 ** -20), threshold: 0 });
    // control_effort: margin 5 but std 0 in the pool -> threshold 0; 0.01 vs 0 -> b (less effort)
    expect(t.decide(pair('x', seg('a', [1, 0, 0.01]), seg('b', [1, 0, 0])))).toMatchObject({ probFirst: 0, level: 1, term: 'control_effort', diff: 0.01, threshold: 0 });
  });

  it("the ranking's order decides: the same pair goes the other way with the terms swapped", () => {
    const a = seg('a', [0, 0, 3]); // close to the target, much effort
    const b = seg('b', [2, 0, 0]); // far, no effort
    const p = pair('x', a, b);
    expect(teacher({ ranking: ['fingertip_distance', 'control_effort'], margins: [0.5, 0] }).decide(p)).toMatchObject({ probFirst: 1, term: 'fingertip_distance', diff: -2 });
    expect(teacher({ ranking: ['control_effort', 'fingertip_distance'], margins: [0, 0.5] }).decide(p)).toMatchObject({ probFirst: 0, term: 'control_effort', diff: 3 });
  });

  it('a term left out of the ranking (switched off) is never looked at, however far apart', () => {
    const t = teacher({ ranking: ['on_target'], margins: [0.5] });
    // fingertip 0 vs 100 and effort 0 vs 50 differ hugely, on_target is equal: a tie
    expect(t.decide(pair('x', seg('a', [0, 1, 0]), seg('b', [100, 1, 50]))).level).toBe(-1);
  });

  it('compares sums over the segment, not steps: opposite steps with equal sums tie', () => {
    const t = teacher({ ranking: ['fingertip_distance'], margins: [0.5] });
    // a: 0 then 2 (sum 2); b: 1 then 1 (sum 2): step by step they differ by 1 > 0.5, summed not at all
    expect(t.decide(pair('x', seg('a', [0, 0, 0], [2, 0, 0]), seg('b', [1, 0, 0], [1, 0, 0]))).level).toBe(-1);
    // a: 0 then 0.2 (sum 0.2); b: 0.5 then 0.5 (sum 1): 0.8 > 0.5 -> a
    expect(t.decide(pair('x', seg('a', [0, 0, 0], [0.2, 0, 0]), seg('b', [0.5, 0, 0], [0.5, 0, 0])))).toMatchObject({ probFirst: 1, level: 0 });
  });

  it('directions flip a term: "higher" on a cost prefers the larger sum', () => {
    const t = teacher({ ranking: ['control_effort'], margins: [0], directions: { control_effort: 'higher' } });
    expect(t.decide(pair('x', seg('a', [0, 0, 1]), seg('b', [0, 0, 2]))).probFirst).toBe(0);
  });
});

describe('HERON configs for reacher and pusher', () => {
  const dir = mkdtempSync(join(tmpdir(), 'heron-edges-'));
  const write = (name: string, text: string): string => {
    const f = join(dir, name);
    writeFileSync(f, text);
    return f;
  };
  const error = (f: () => unknown): InputError => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(InputError);
      return e as InputError;
    }
    throw new Error('expected an InputError');
  };

  it('the hand-written configs load against their own env', () => {
    const r = write('reacher.json', '{"ranking": ["fingertip_distance", "on_target", "control_effort"], "margins": [0.5, 0.1, 0]}');
    const p = write('pusher.json', '{"ranking": ["puck_to_goal", "hand_to_puck", "puck_at_goal"], "margins": [1, 0.5, 0.5]}');
    expect(new HeronTeacher({ spec: REACHER, config: loadHeronConfig(r, REACHER) }).levels.map((l) => [l.term, l.index, l.margin, l.sign])).toEqual([
      ['fingertip_distance', 0, 0.5, -1],
      ['on_target', 1, 0.1, 1],
      ['control_effort', 2, 0, -1],
    ]);
    expect(new HeronTeacher({ spec: PUSHER, config: loadHeronConfig(p, PUSHER) }).levels.map((l) => [l.term, l.index, l.sign])).toEqual([
      ['puck_to_goal', 0, -1],
      ['hand_to_puck', 1, -1],
      ['puck_at_goal', 2, 1],
    ]);
  });

  it("a config read with another env's terms names the file, the entry and the env's terms", () => {
    const p = write('pusher2.json', '{"ranking": ["control_effort", "puck_to_goal"], "margins": [0, 1]}');
    // control_effort exists in both envs; puck_to_goal only in pusher: the error points at ranking[1]
    const e = error(() => loadHeronConfig(p, REACHER));
    expect(e.message).toBe(`${p} (ranking[1]): unknown reward term "puck_to_goal" (reacher has: fingertip_distance, on_target, control_effort)`);
    expect(e.message).not.toMatch(/\n/);
  });

  it('a term ranked twice, an empty or mistyped ranking, a negative margin and a misspelt key are one-line errors naming file and key', () => {
    const cases: [string, string, string][] = [
      ['{"ranking": ["on_target", "fingertip_distance", "on_target"], "margins": [1, 1, 1]}', 'ranking[2]', 'term "on_target" ranked twice'],
      ['{"ranking": [], "margins": []}', 'ranking', 'expected a non-empty array of reward-term names'],
      ['{"ranking": ["on_target"], "margins": [-0.1]}', 'margins[0]', 'margins must be >= 0, got -0.1'],
      ['{"ranking": ["on_target"], "margin": [1]}', 'margin', 'unknown key "margin" (did you mean "margins"?) (allowed: ranking, margins, directions)'],
      ['{"Ranking": ["on_target"], "margins": [1]}', 'Ranking', 'unknown key "Ranking" (did you mean "ranking"?)'],
      ['{"ranking": ["on_target"], "margins": [1], "sigma": 2}', 'sigma', 'unknown key "sigma" (allowed: ranking, margins, directions)'],
      [
        '{"ranking": "fingertip_distance", "margins": [1]}',
        'ranking',
        'expected a non-empty array of reward-term names, most important first (reacher has: fingertip_distance, on_target, control_effort), got "fingertip_distance" (write ["fingertip_distance"] for one term)',
      ],
      ['{"ranking": {"on_target": 1}, "margins": [1]}', 'ranking', 'expected a non-empty array of reward-term names, most important first (reacher has: fingertip_distance, on_target, control_effort), got {"on_target":1}'],
    ];
    cases.forEach(([text, field, msg], i) => {
      const f = write(`bad${i}.json`, text);
      const e = error(() => loadHeronConfig(f, REACHER));
      expect([e.source, e.field]).toEqual([f, field]);
      expect(e.message.startsWith(`${f} (${field}): ${msg}`)).toBe(true);
      expect(e.message).not.toMatch(/\n/);
    });
  });
});

describe('heronDecidedBy', () => {
  it("counts the deciding term of a teacher's labels from their raw records", async () => {
    const t = teacher({ ranking: ['fingertip_distance', 'on_target', 'control_effort'], margins: [0.5, 0.5, 0] });
    const labels = await t.label([
      pair('p1', seg('a', [0, 0, 0]), seg('b', [1, 0, 0])), // fingertip 1 > 0.5
      pair('p2', seg('c', [0, 0, 0]), seg('d', [0, 1, 0])), // on_target 1 > 0.5
      pair('p3', seg('e', [0, 0, 1]), seg('f', [0, 0, 0])), // control_effort 1 > 0
      pair('p4', seg('g', [0, 0, 0]), seg('h', [2, 0, 0])), // fingertip again
      pair('p5', seg('i', [0, 0, 0]), seg('j', [0.2, 0.2, 0])), // within both margins, effort equal: a tie
    ]);
    const skip = { kind: 'skip' as const, id: 's', pairId: 'p6', teacher: 'heron', reason: 'x' };
    const vlm = { kind: 'preference' as const, id: 'v', pairId: 'p7', teacher: 'vlm', probFirst: 1, raw: 'Image 1 is better' };
    expect(heronDecidedBy([...labels, skip, vlm])).toEqual({ terms: { fingertip_distance: 2, on_target: 1, control_effort: 1 }, ties: 1, other: 2 });
    expect(heronDecidedBy([])).toEqual({ terms: {}, ties: 0, other: 0 });
  });
});
