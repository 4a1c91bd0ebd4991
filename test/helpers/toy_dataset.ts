/**
 * Toy-reach datasets of the offline tests: episodes of a noisy goal-seeking policy (so returns,
 * reward terms and final successes vary across segments), stored as a dataset with TOY_SPEC's
 * horizon, dt and reward terms.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { datasetFromTrajectories, type OfflineDataset, writeDataset } from '../../agents/dataset.js';
import { initBackend } from '../../core/backend.js';
import { Rng } from '../../core/rng.js';
import { rollout } from '../../envs/rollout.js';
import { TOY_SPEC, ToyReachEnv } from '../../envs/toy.js';
import type { Trajectory } from '../../envs/trajectory.js';

export interface NoisyToyOptions {
  /** How many episodes (one rollout each). */
  episodes: number;
  /** Seed of the one Rng whose normal draws make the noise of every episode, in order. */
  noiseSeed: number;
  /** Episode k is rolled out with seed `firstSeed + k`. */
  firstSeed: number;
  /** The noise scale of episode k. */
  noise: (k: number) => number;
}

/**
 * `episodes` toy-reach episodes of the policy action_j = clip(2 (goal_j - x_j) + noise(k) z, -1, 1),
 * z a normal draw (made for every step and axis, also where the scale is 0).
 */
export function noisyToyTrajectories(o: NoisyToyOptions): Trajectory[] {
  const env = new ToyReachEnv();
  const rng = new Rng(o.noiseSeed);
  return Array.from({ length: o.episodes }, (_, k) => {
    const noise = o.noise(k);
    const policy = (obs: Float32Array) => [0, 1].map((j) => Math.max(-1, Math.min(1, 2 * obs[4 + j] + noise * rng.normal())));
    return rollout(env, policy, { episodes: 1, seed: o.firstSeed + k })[0];
  });
}

/** toy-reach trajectories as a dataset (source 'test', policy 'test'). */
export function toyReachDataset(trajs: readonly Trajectory[]): OfflineDataset {
  const meta = { envConfig: { id: 'toy-reach' }, horizon: TOY_SPEC.horizon, dt: TOY_SPEC.dt, rewardTerms: TOY_SPEC.rewardTerms.map((t) => ({ name: t.name, weight: t.weight })), policy: 'test' };
  return datasetFromTrajectories(trajs, meta, 'test');
}

/**
 * `episodes` noisy toy-reach episodes (noise seed 11, episode seeds 100 + k, scale 0.6 (k mod 4):
 * test/reward/offline.test.ts's data) written as <dir>/toy.h5; returns the file.
 */
export async function writeToyDataset(dir: string, episodes: number): Promise<string> {
  return writeDataset(join(dir, 'toy.h5'), toyReachDataset(noisyToyTrajectories({ episodes, noiseSeed: 11, firstSeed: 100, noise: (k) => (k % 4) * 0.6 })));
}

/**
 * A test file's temporary folder with a toy dataset of `episodes` episodes in it (writeToyDataset),
 * made before its tests (after setting up the WASM tensor backend, with `wasm`) and removed after
 * them: `dir` and `data` (the dataset file) are read once the file's beforeAll has run.
 */
export function useToyDataset(prefix: string, episodes: number, o: { wasm?: boolean } = {}): { readonly dir: string; readonly data: string } {
  let dir = '';
  let data = '';
  beforeAll(async () => {
    if (o.wasm) await initBackend('wasm');
    dir = mkdtempSync(join(tmpdir(), prefix));
    data = await writeToyDataset(dir, episodes);
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return {
    get dir() {
      return dir;
    },
    get data() {
      return data;
    },
  };
}
