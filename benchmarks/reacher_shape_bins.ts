/**
 * Shared by the reacher reward-shape scripts: the states of 40 random-policy episodes (seed 5)
 * and a reward binned by the fingertip-to-target distance after each step (obs[8..9] is
 * fingertip minus target).
 */
import { Rng } from '../core/rng.js';
import { makeEnv } from '../envs/registry.js';
import { randomPolicy, rollout } from '../envs/rollout.js';
import type { Trajectory } from '../envs/trajectory.js';
import type { RewardNet } from '../reward/network.js';

/** Lower bin edges (m) of the distance after the step. */
export const EDGES = [0, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3];

/** The bin of a distance. */
export function binOf(d: number): number {
  let b = EDGES.length - 1;
  while (b > 0 && d < EDGES[b]) b--;
  return b;
}

/** 40 random-policy reacher episodes (seed 5). */
export async function shapeEpisodes(): Promise<Trajectory[]> {
  const env = await makeEnv({ id: 'reacher' });
  try {
    return rollout(env, randomPolicy(env.spec, new Rng(5)), { episodes: 40, seed: 5 });
  } finally {
    env.dispose();
  }
}

/**
 * Per-bin sums of a network's predicted reward (and of the true reward), with the step counts:
 * divide a sum by its count for the bin's mean.
 */
export function binnedSums(net: RewardNet, trajs: readonly Trajectory[]): { pred: number[]; truth: number[]; count: number[] } {
  const pred = new Array<number>(EDGES.length).fill(0);
  const truth = new Array<number>(EDGES.length).fill(0);
  const count = new Array<number>(EDGES.length).fill(0);
  for (const tr of trajs) {
    const n = tr.length;
    const D = tr.obsDim;
    const p = net.predict({ n, obs: tr.obs.subarray(0, n * D), actions: tr.actions, nextObs: tr.obs.subarray(D, (n + 1) * D) });
    for (let t = 0; t < n; t++) {
      const b = binOf(Math.hypot(tr.obs[(t + 1) * D + 8], tr.obs[(t + 1) * D + 9]));
      pred[b] += p[t];
      truth[b] += tr.rewards[t];
      count[b]++;
    }
  }
  return { pred, truth, count };
}
