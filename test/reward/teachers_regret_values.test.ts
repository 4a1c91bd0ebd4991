/**
 * The regret oracle with a value function that gives no usable number (a missing or broken
 * critic): an error naming the segment, never a label. Before, NaN regrets compared false both
 * ways and every such pair was labelled "second preferred" (probFirst 0).
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../core/rng.js';
import { RegretTeacher, type ValueFunction } from '../../reward/teachers/regret.js';
import type { Pair, Segment } from '../../reward/types.js';
import { handSegment } from '../helpers/segments.js';

/** States 0..h in qpos[0]; rewards as given. */
function seg(id: string, rewards: number[], opts: { first?: number; endsTerminal?: boolean } = {}): Segment {
  const h = rewards.length;
  const states = Array.from({ length: h + 1 }, (_, i) => (opts.first ?? 0) + i);
  return handSegment(id, h, { obs: Float32Array.from(states), qpos: Float64Array.from(states), rewards: Float64Array.from(rewards), terms: Float64Array.from(rewards), endsTerminal: opts.endsTerminal ?? false });
}

/** V(s) from a table keyed by qpos[0]; a state not in it reads as undefined (NaN once stored). */
function table(v: Record<number, number>): ValueFunction {
  return { value: (_obs, state) => v[state.qpos[0]] };
}

describe('regret teacher: V* that is not a finite number', () => {
  const a = seg('a', [1, 2]); // states 0, 1, 2
  const b = seg('b', [0, 0], { first: 3 }); // states 3, 4, 5
  const pair: Pair = { id: 'p', a, b };

  it('a finite V* still labels by hand: regret(a) = 4 - (3 + 6) = -5 < regret(b) = 1 - 1 = 0 -> 1', async () => {
    const [l] = await new RegretTeacher({ values: table({ 0: 4, 2: 6, 3: 1, 5: 1 }) }).label([pair]);
    expect(l.kind === 'preference' && l.probFirst).toBe(1);
    expect(JSON.parse(l.raw ?? '{}')).toEqual({ regretA: -5, regretB: 0 });
  });

  it('a missing start value is an error naming the segment, deterministic or stochastic', async () => {
    const vf = table({ 2: 6, 3: 1, 5: 1 }); // no V(0): the start of a
    await expect(new RegretTeacher({ values: vf }).label([pair])).rejects.toThrow('regret: V* at the start of segment a is NaN, not a finite number');
    await expect(new RegretTeacher({ values: vf, beta: 1, rng: new Rng(0) }).label([pair])).rejects.toThrow(/segment a is NaN/);
  });

  it('a NaN or infinite end value of a non-terminal segment is an error; a terminal end does not use it', async () => {
    const vf = table({ 0: 4, 2: Number.NaN, 3: 1, 5: Infinity });
    await expect(new RegretTeacher({ values: vf, id: 'regret:gamma=1' }).label([pair])).rejects.toThrow('regret:gamma=1: V* at the end of segment a is NaN');
    const aT = seg('aT', [1, 2], { endsTerminal: true });
    const bT = seg('bT', [0, 0], { first: 3, endsTerminal: true });
    // regret(aT) = 4 - 3 = 1, regret(bT) = 1 - 0 = 1: a tie, the end values never read.
    const [l] = await new RegretTeacher({ values: vf }).label([{ id: 'q', a: aT, b: bT }]);
    expect(l.kind === 'preference' && l.probFirst).toBe(0.5);
  });

  it('a batch value function returning NaN is refused the same way', async () => {
    const vf: ValueFunction = { value: () => 0, values: (_obs, states) => states.map((s) => (s.qpos[0] === 3 ? Number.NaN : 0)) };
    await expect(new RegretTeacher({ values: vf }).label([pair])).rejects.toThrow('V* at the start of segment b is NaN');
  });

  it('non-finite rewards are named too', async () => {
    const bad = seg('bad', [1, Number.NaN]);
    await expect(new RegretTeacher({ values: table({ 0: 0, 2: 0, 3: 0, 5: 0 }) }).label([{ id: 'r', a: bad, b }])).rejects.toThrow('the regret of segment bad is NaN (its rewards are not all finite)');
  });
});
