import { describe, expect, it } from 'vitest';
import { Rng } from '../../core/rng.js';
import { randomPolicy, rollout } from '../../envs/rollout.js';
import { ToyReachEnv } from '../../envs/toy.js';
import { sampleSegments } from '../../reward/segments.js';

describe('sampleSegments: every window equally likely', () => {
  it('draws a trajectory in proportion to its windows and the window uniformly within it', () => {
    const env = new ToyReachEnv();
    const [short] = rollout(env, randomPolicy(env.spec, new Rng(1)), { episodes: 1, seed: 1, maxSteps: 11 });
    const [long] = rollout(env, randomPolicy(env.spec, new Rng(2)), { episodes: 1, seed: 2, maxSteps: 30 });
    expect([short.length, long.length]).toEqual([11, 30]);
    // Windows of 10 steps: 11 - 10 + 1 = 2 in the short one, 30 - 10 + 1 = 21 in the long one, 23 in all.
    // P(short) = 2 / 23 = 0.086957; over n = 4600 draws its binomial std is
    // sqrt(0.086957 * 0.913043 / 4600) = 0.004155 (4 std: 0.0166).
    const n = 4600;
    const segs = sampleSegments([short, long], n, 10, new Rng(3), 'run');
    const fromShort = segs.filter((s) => s.source === 'run#0');
    expect(Math.abs(fromShort.length / n - 2 / 23)).toBeLessThan(4 * Math.sqrt(((2 / 23) * (21 / 23)) / n));
    // Starts are uniform over the windows: 0..1 in the short one, 0..20 in the long one (mean 10,
    // std of the mean sqrt((21^2 - 1) / 12 / m) for the m long draws).
    expect(new Set(fromShort.map((s) => s.startStep))).toEqual(new Set([0, 1]));
    const longStarts = segs.filter((s) => s.source === 'run#1').map((s) => s.startStep);
    expect(Math.min(...longStarts)).toBe(0);
    expect(Math.max(...longStarts)).toBe(20);
    const m = longStarts.length;
    const meanStart = longStarts.reduce((a, b) => a + b, 0) / m;
    expect(Math.abs(meanStart - 10)).toBeLessThan(4 * Math.sqrt((21 * 21 - 1) / 12 / m));
    // each segment is the window it names: its first reward is the trajectory's reward at startStep
    for (const s of segs.slice(0, 50)) {
      const tr = s.source === 'run#0' ? short : long;
      expect(s.rewards[0]).toBe(tr.rewards[s.startStep - tr.t0]);
    }
  });
});
