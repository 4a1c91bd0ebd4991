import { describe, expect, it } from 'vitest';
import { ObsNormalizer, RewardScaler } from '../../agents/normalize.js';

const f32 = (x: number[]) => Float32Array.from(x);

/**
 * Gymnasium's RunningMeanStd update from (mean, var, count) with a batch of mean bm, population
 * variance bv and size n (written out here so the expected numbers below can be followed).
 */
function chan(mean: number, v: number, count: number, bm: number, bv: number, n: number): { mean: number; var: number; count: number } {
  const tot = count + n;
  const delta = bm - mean;
  return { mean: mean + (delta * n) / tot, var: (v * count + bv * n + (delta * delta * count * n) / tot) / tot, count: tot };
}

describe('RewardScaler (Gymnasium NormalizeReward + CleanRL clip)', () => {
  it('divides by the std of each env\'s discounted return, restarts a return at an episode end, clips', () => {
    // 2 envs, gamma 0.5. Statistics start at mean 0, var 1, count 1e-4 (Gymnasium's epsilon).
    const s = new RewardScaler(2, 0.5, 10);
    // step 1: r = [1, 3], env 0's episode ends. G = [1, 3]: batch mean 2, population var 1.
    const r1 = f32([1, 3]);
    s.step(r1, Uint8Array.from([1, 0]));
    const st1 = chan(0, 1, 1e-4, 2, 1, 2); // mean 1.99990, var 1.00020
    expect(s.rms.mean[0]).toBeCloseTo(st1.mean, 10);
    expect(s.rms.var[0]).toBeCloseTo(st1.var, 10);
    expect(r1[0]).toBeCloseTo(1 / Math.sqrt(st1.var + 1e-8), 6);
    expect(r1[1]).toBeCloseTo(3 / Math.sqrt(st1.var + 1e-8), 6);
    // step 2: r = [2, 1]. env 0 restarted: G = [0 * 0.5 + 2, 3 * 0.5 + 1] = [2, 2.5] (without the
    // restart env 0 would have 1 * 0.5 + 2 = 2.5): batch mean 2.25, population var 0.0625.
    const r2 = f32([2, 1]);
    s.step(r2, Uint8Array.from([0, 0]));
    const st2 = chan(st1.mean, st1.var, st1.count, 2.25, 0.0625, 2);
    expect(s.rms.mean[0]).toBeCloseTo(st2.mean, 10);
    expect(s.rms.var[0]).toBeCloseTo(st2.var, 10);
    expect(r2[0]).toBeCloseTo(2 / Math.sqrt(st2.var + 1e-8), 6);
    expect(r2[1]).toBeCloseTo(1 / Math.sqrt(st2.var + 1e-8), 6);
    // clipping after scaling, with clip 0.25: r = [1, -3] gives G = [1, -3] (batch mean -1, var 4),
    // var = (1e-4 + 4 * 2 + 1e-4 * 2 / 2.0001) / 2.0001 = 3.9999, so r / 2.0000 = [0.50001, -1.5] -> [0.25, -0.25]
    const c = new RewardScaler(2, 0.5, 0.25);
    const rc = f32([1, -3]);
    c.step(rc, Uint8Array.from([0, 0]));
    expect(c.rms.var[0]).toBeCloseTo(chan(0, 1, 1e-4, -1, 4, 2).var, 10);
    expect(Array.from(rc)).toEqual([0.25, -0.25]);
  });

  it('scales the row at `offset` of a [T, N] buffer and leaves the other rows alone', () => {
    // offset 2 addresses row t = 1 of a [2, 2] buffer; row 0 is left alone
    const s = new RewardScaler(2, 0.9, 10);
    const buf = f32([7, 7, 1, 3]);
    s.step(buf, Uint8Array.from([0, 0, 0, 0]), 2);
    const st = chan(0, 1, 1e-4, 2, 1, 2);
    expect(Array.from(buf.subarray(0, 2))).toEqual([7, 7]);
    expect(buf[3]).toBeCloseTo(3 / Math.sqrt(st.var + 1e-8), 6);
  });
});

describe('ObsNormalizer (Gymnasium NormalizeObservation + CleanRL clip)', () => {
  it('z = clip((x - mean) / sqrt(var + 1e-8), -clip, clip)', () => {
    const n = new ObsNormalizer(2, 10);
    n.load({ mean: [1, 2], var: [4, 0], count: 5 });
    // row 0: (3 - 1) / sqrt(4 + 1e-8) = 1.0000; (2.5 - 2) / sqrt(1e-8) = 5000 -> clipped to 10
    // row 1: (-100 - 1) / 2 = -50.5 -> -10; (2 - 2) / 1e-4 = 0
    const z = n.apply(f32([3, 2.5, -100, 2]), 2);
    expect(z[0]).toBeCloseTo(2 / Math.sqrt(4 + 1e-8), 6);
    expect(Array.from(z.subarray(1))).toEqual([10, -10, 0]);
  });

  it('update folds a batch into the running statistics (Chan et al.)', () => {
    const n = new ObsNormalizer(1);
    // rows [1, 3]: batch mean 2, population var 1, from mean 0, var 1, count 1e-4
    n.update(f32([1, 3]), 2);
    const st = chan(0, 1, 1e-4, 2, 1, 2);
    expect(n.rms.mean[0]).toBeCloseTo(st.mean, 10);
    expect(n.rms.var[0]).toBeCloseTo(st.var, 10);
    expect(n.rms.count).toBeCloseTo(2.0001, 12);
    // apply with them: (2 - 1.99990) / sqrt(1.00020 + 1e-8)
    expect(n.apply(f32([2]), 1)[0]).toBeCloseTo((2 - st.mean) / Math.sqrt(st.var + 1e-8), 6);
  });

  it('refuses saved statistics of another size, naming both sizes', () => {
    expect(() => new ObsNormalizer(3).load({ mean: [0, 0], var: [1, 1], count: 1 })).toThrow(/2 dims, expected 3/);
  });
});
