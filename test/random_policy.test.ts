/**
 * randomPolicy hands out a fresh array per call: a caller that keeps the actions it is given
 * (a replay buffer, a log) keeps what it was given, not the last action drawn. The values are
 * the same stream as before: action k, dimension i is lo + (hi - lo) * u, u the rng's
 * (k * actDim + i)-th uniform draw.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../core/rng.js';
import { randomPolicy, rollout } from '../envs/rollout.js';
import { ToyReachEnv } from '../envs/toy.js';
import type { EnvSpec } from '../envs/types.js';

describe('randomPolicy', () => {
  it('returns a new array each call, and an earlier action keeps its values', () => {
    const env = new ToyReachEnv();
    const policy = randomPolicy(env.spec, new Rng(0));
    const obs = new Float32Array(env.spec.obsDim);
    const first = policy(obs);
    const firstValues = Array.from(first);
    const second = policy(obs);
    expect(second).not.toBe(first);
    expect(Array.from(first)).toEqual(firstValues);
    expect(Array.from(second)).not.toEqual(firstValues);
  });

  it('draws lo + (hi - lo) * u per dimension, in order, from its rng', () => {
    // A box with unequal sides, so that a swapped dimension or bound would show.
    const spec = { actDim: 3, actLow: Float64Array.from([-1, 0, 2]), actHigh: Float64Array.from([1, 4, 2.5]) } as unknown as EnvSpec;
    const policy = randomPolicy(spec, new Rng('left'));
    const u = new Rng('left');
    const kept = [policy(new Float32Array(1)), policy(new Float32Array(1))];
    for (const a of kept) {
      const u0 = u.uniform();
      const u1 = u.uniform();
      const u2 = u.uniform();
      expect(Array.from(a)).toEqual([-1 + 2 * u0, 0 + 4 * u1, 2 + 0.5 * u2]);
    }
    for (const a of kept) {
      expect(a[0]).toBeGreaterThanOrEqual(-1);
      expect(a[0]).toBeLessThan(1);
      expect(a[1]).toBeGreaterThanOrEqual(0);
      expect(a[1]).toBeLessThan(4);
      expect(a[2]).toBeGreaterThanOrEqual(2);
      expect(a[2]).toBeLessThan(2.5);
    }
  });

  it('actions a wrapping policy keeps match the ones rollout recorded', () => {
    const env = new ToyReachEnv();
    const inner = randomPolicy(env.spec, new Rng(3));
    const kept: ArrayLike<number>[] = [];
    const keeping = (obs: Float32Array) => {
      const a = inner(obs);
      kept.push(a);
      return a;
    };
    const [tr] = rollout(env, keeping, { episodes: 1, seed: 3, maxSteps: 12 });
    expect(kept.length).toBe(tr.length);
    const d = env.spec.actDim;
    // The trajectory stores actions as float32: compare at that precision.
    for (let t = 0; t < tr.length; t++) {
      expect(Array.from(tr.actions.subarray(t * d, (t + 1) * d))).toEqual(Array.from(kept[t], (x) => Math.fround(x)));
    }
    // With one shared array every kept action would be the last one.
    expect(Array.from(kept[0])).not.toEqual(Array.from(kept[kept.length - 1]));
  });
});
