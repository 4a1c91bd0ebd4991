/**
 * SegmentSampler: sampleSegments' draws for callers that draw a pair at a time many times over
 * (prefrl pairs). Each window is cut once, so a store's worth of pairs holds each segment once:
 * `prefrl pairs --count 32000` over 6,040 windows held 64,000 segment copies (807 MB) with a
 * sampleSegments call per pair. Checked against sampleSegments draw for draw.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../core/rng.js';
import { randomPolicy, rollout } from '../envs/rollout.js';
import { ToyReachEnv } from '../envs/toy.js';
import { SegmentSampler, sampleSegments } from '../reward/segments.js';
import type { Segment } from '../reward/types.js';

const env = new ToyReachEnv();
// Episodes of 3 (no 10-step window), 11 (2 windows), 30 (21) and 12 (3) steps: 26 windows.
const trajs = [3, 11, 30, 12].map((steps, i) => rollout(env, randomPolicy(env.spec, new Rng(10 + i)), { episodes: 1, seed: 10 + i, maxSteps: steps })[0]);

const same = (a: Segment, b: Segment): void => {
  expect([a.id, a.startStep, a.source, a.length, a.endsTerminal]).toEqual([b.id, b.startStep, b.source, b.length, b.endsTerminal]);
  expect(a.obs).toEqual(b.obs);
  expect(a.actions).toEqual(b.actions);
  expect(a.rewards).toEqual(b.rewards);
  expect(a.qpos).toEqual(b.qpos);
};

describe('SegmentSampler', () => {
  it('gives what sampleSegments gives for the same draws, a pair at a time', () => {
    expect(trajs.map((t) => t.length)).toEqual([3, 11, 30, 12]);
    const sampler = new SegmentSampler(trajs, 10, 'run');
    expect(sampler.total).toBe(26);
    const r1 = new Rng(7);
    const r2 = new Rng(7);
    for (let i = 0; i < 300; i++) {
      const got = sampler.sample(2, r1);
      const want = sampleSegments(trajs, 2, 10, r2, 'run');
      same(got[0], want[0]);
      same(got[1], want[1]);
    }
    // The rngs stay in step: the next number drawn is the same.
    expect(r1.int(1000)).toBe(r2.int(1000));
  });

  it('cuts each window once: 40,000 draws over 26 windows hold 26 segments', () => {
    const sampler = new SegmentSampler(trajs, 10, 'run');
    const rng = new Rng(3);
    const drawn = new Set<Segment>();
    const byId = new Map<string, Segment>();
    for (let i = 0; i < 20_000; i++) {
      for (const s of sampler.sample(2, rng)) {
        drawn.add(s);
        // A window drawn again is the very object cut the first time.
        if (byId.has(`${s.source}@${s.startStep}`)) expect(byId.get(`${s.source}@${s.startStep}`)).toBe(s);
        byId.set(`${s.source}@${s.startStep}`, s);
      }
    }
    expect(drawn.size).toBe(26);
    // Every window of the episodes with room for one: 2 of run#1 (starts 0, 1), 21 of run#2, 3 of run#3.
    expect([...byId.keys()].filter((k) => k.startsWith('run#1@')).length).toBe(2);
    expect([...byId.keys()].filter((k) => k.startsWith('run#2@')).length).toBe(21);
    expect([...byId.keys()].filter((k) => k.startsWith('run#3@')).length).toBe(3);
    expect([...byId.keys()].some((k) => k.startsWith('run#0@'))).toBe(false);
  });

  it('refuses what sampleSegments refuses, naming it', () => {
    expect(() => new SegmentSampler(trajs, 0)).toThrow('SegmentSampler: length must be a whole number >= 1, got 0');
    expect(() => new SegmentSampler('x' as never, 10)).toThrow(TypeError);
    expect(() => new SegmentSampler(trajs, 10).sample(1.5, new Rng(0))).toThrow('SegmentSampler.sample: count must be a whole number >= 0, got 1.5');
    expect(() => new SegmentSampler(trajs, 31).sample(1, new Rng(0))).toThrow('sampleSegments: no trajectory has 31 steps');
    expect(() => sampleSegments(trajs, 1, 31, new Rng(0))).toThrow('sampleSegments: no trajectory has 31 steps');
  });
});

describe('prefrl pairs draws through one SegmentSampler', () => {
  it('samplePairsFromTrajectories holds each of the 26 windows once, however many pairs recur on it', async () => {
    const { samplePairsFromTrajectories } = await import('../reward/store_pairs.js');
    const pairs = samplePairsFromTrajectories(trajs, 200, 10, new Rng(3), 'run', true);
    expect(pairs.length).toBe(200);
    const objects = new Set(pairs.flatMap((p) => [p.a, p.b]));
    const ids = new Set(pairs.flatMap((p) => [p.a.id, p.b.id]));
    // 400 segment places over at most 26 windows: one object per window drawn (a cut per draw made 400).
    expect(objects.size).toBe(ids.size);
    expect(ids.size).toBeLessThanOrEqual(26);
  });
});
