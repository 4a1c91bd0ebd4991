import { join } from 'node:path';
import { datasetFromTrajectories, writeDataset } from '../../agents/dataset.js';
import { Rng } from '../../core/rng.js';
import { rollout } from '../../envs/rollout.js';
import { TOY_SPEC, ToyReachEnv } from '../../envs/toy.js';

/**
 * `episodes` toy-reach episodes of a noisy goal-seeking policy (action = 2 (goal - x) + noise of
 * a per-episode scale, as test/reward/offline.test.ts makes them), so returns and final successes
 * vary across segments, written as <dir>/toy.h5; returns the file.
 */
export async function writeToyDataset(dir: string, episodes: number): Promise<string> {
  const env = new ToyReachEnv();
  const rng = new Rng(11);
  const trajs = Array.from({ length: episodes }, (_, k) => {
    const noise = (k % 4) * 0.6;
    return rollout(env, (obs: Float32Array) => [0, 1].map((j) => Math.max(-1, Math.min(1, 2 * obs[4 + j] + noise * rng.normal()))), { episodes: 1, seed: 100 + k })[0];
  });
  const meta = { envConfig: { id: 'toy-reach' }, horizon: TOY_SPEC.horizon, dt: TOY_SPEC.dt, rewardTerms: TOY_SPEC.rewardTerms.map((t) => ({ name: t.name, weight: t.weight })), policy: 'test' };
  return writeDataset(join(dir, 'toy.h5'), datasetFromTrajectories(trajs, meta, 'test'));
}
