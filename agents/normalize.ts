/**
 * Observation and reward normalisation as Gymnasium's NormalizeObservation / NormalizeReward
 * wrappers (used by CleanRL's PPO), as plain objects so PPO can apply them where it needs them
 * and checkpoint them.
 */
import { RunningMeanStd } from '../core/math.js';

/** z = clip((x - mean) / sqrt(var + 1e-8), -clip, clip) with running statistics. */
export class ObsNormalizer {
  rms: RunningMeanStd;
  constructor(
    readonly dim: number,
    readonly clip = 10,
  ) {
    this.rms = new RunningMeanStd(dim);
  }

  /** Update the statistics with n rows of raw observations [n, dim]. */
  update(obs: Float32Array, n: number): void {
    this.rms.update(obs, n);
  }

  /** Normalise n rows into `out` (may alias nothing else). */
  apply(obs: Float32Array, n: number, out: Float32Array = new Float32Array(n * this.dim)): Float32Array {
    const d = this.dim;
    const { mean } = this.rms;
    const inv = new Float64Array(d);
    for (let j = 0; j < d; j++) inv[j] = 1 / Math.sqrt(this.rms.var[j] + 1e-8);
    for (let r = 0; r < n; r++) {
      for (let j = 0; j < d; j++) {
        const z = (obs[r * d + j] - mean[j]) * inv[j];
        out[r * d + j] = z < -this.clip ? -this.clip : z > this.clip ? this.clip : z;
      }
    }
    return out;
  }

  toJSON(): ReturnType<RunningMeanStd['toJSON']> {
    return this.rms.toJSON();
  }

  load(o: ReturnType<RunningMeanStd['toJSON']>): void {
    if (o.mean.length !== this.dim) throw new RangeError(`ObsNormalizer: saved statistics have ${o.mean.length} dims, expected ${this.dim}`);
    this.rms = checkedStatistics(o, this.dim, 'ObsNormalizer');
  }
}

/**
 * Reward scaling by the running standard deviation of each env's discounted return:
 *   G_i <- gamma * G_i + r_i;  update var(G) with the batch of G;  r_i / sqrt(var(G) + 1e-8),
 * clipped to [-clip, clip]. G_i restarts after the last step of an episode (terminated or
 * truncated), so each G is a discounted return within one episode. Gymnasium's wrapper differs
 * in two ways: it never restarts at a truncation (returns run on across time limits), and at a
 * termination it computes G <- gamma * G * (1 - terminated) + r, i.e. it drops the return
 * before the terminal step (G_T = r_T) and then carries r_T into the next episode's first step.
 */
export class RewardScaler {
  rms = new RunningMeanStd(1);
  private returns: Float64Array;
  constructor(
    readonly numEnvs: number,
    readonly gamma = 0.99,
    readonly clip = 10,
  ) {
    this.returns = new Float64Array(numEnvs);
  }

  /**
   * Scale one step of N rewards in place (after updating the statistics with them); `dones`
   * marks envs whose episode ended with this step.
   */
  step(rewards: Float32Array, dones: Uint8Array, offset = 0): void {
    const N = this.numEnvs;
    const g = new Float64Array(N);
    for (let i = 0; i < N; i++) {
      this.returns[i] = this.returns[i] * this.gamma + rewards[offset + i];
      g[i] = this.returns[i];
    }
    this.rms.update(g, N);
    const scale = 1 / Math.sqrt(this.rms.var[0] + 1e-8);
    for (let i = 0; i < N; i++) {
      const z = rewards[offset + i] * scale;
      rewards[offset + i] = z < -this.clip ? -this.clip : z > this.clip ? this.clip : z;
      if (dones[offset + i]) this.returns[i] = 0;
    }
  }

  toJSON(): { rms: ReturnType<RunningMeanStd['toJSON']>; returns: number[] } {
    return { rms: this.rms.toJSON(), returns: Array.from(this.returns) };
  }

  load(o: { rms: ReturnType<RunningMeanStd['toJSON']>; returns: number[] }): void {
    if (typeof o !== 'object' || o === null) throw new RangeError('RewardScaler: saved state must be {rms, returns}');
    const rms = checkedStatistics(o.rms, 1, 'RewardScaler');
    if (!Array.isArray(o.returns) || !o.returns.every(Number.isFinite)) throw new RangeError('RewardScaler: saved returns must be finite numbers');
    this.rms = rms;
    if (o.returns.length === this.numEnvs) this.returns = Float64Array.from(o.returns);
  }
}

/**
 * Saved running statistics, checked: `dim` finite means, `dim` finite variances >= 0 and a finite
 * count > 0. (A negative variance scaled by sqrt(negative) = NaN: every reward or observation of
 * a resumed run became NaN.)
 */
function checkedStatistics(o: ReturnType<RunningMeanStd['toJSON']>, dim: number, who: string): RunningMeanStd {
  const list = (v: unknown, min: number): boolean => Array.isArray(v) && v.length === dim && v.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= min);
  if (!list(o?.mean, -Infinity)) throw new RangeError(`${who}: saved means must be ${dim} finite numbers`);
  if (!list(o.var, 0)) throw new RangeError(`${who}: saved variances must be ${dim} finite numbers >= 0`);
  if (!(typeof o.count === 'number' && Number.isFinite(o.count) && o.count > 0)) throw new RangeError(`${who}: the saved count must be a finite number > 0, got ${o.count}`);
  return RunningMeanStd.fromJSON(o);
}
