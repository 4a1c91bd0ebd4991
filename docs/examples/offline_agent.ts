/**
 * Offline RL from a script: random-policy episodes made into a D4RL-layout dataset, written to
 * HDF5 and read back, then behaviour cloning and IQL trained on it and scored in the env.
 *
 *   npx tsx docs/examples/offline_agent.ts
 *
 * prints `dataset: 2500 transitions, 50 episodes, mean return -52.55`, then
 * `random -46.36, bc -49.97, iql -33.51 (mean true return over 10 episodes)` with the WASM backend
 * (test/api_examples.test.ts runs it). The data are random actions, so behaviour cloning copies
 * a random policy and scores about as it does; IQL weighs the actions by their advantage under
 * the dataset's rewards and does better. A learned reward goes in `rewards` the same way:
 * `relabelDataset(ds, net).rewards`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { datasetFromTrajectories, evaluatePolicy, initBackend, makeEnv, randomPolicy, readDataset, Rng, rollout, summarizeDataset, trainOfflineAgent, writeDataset } from 'prefrl';

await initBackend('auto');
const env = await makeEnv('toy-reach');
const dir = mkdtempSync(join(tmpdir(), 'prefrl-example-'));
try {
  // 50 episodes of 50 steps; the metadata lets readDataset check the env when it is given one.
  const episodes = rollout(env, randomPolicy(env.spec, new Rng(0).fork('policy')), { episodes: 50, seed: 0 });
  const made = datasetFromTrajectories(episodes, { envId: env.spec.id, modelHash: env.spec.modelHash, policy: 'random', seed: 0 });
  const file = await writeDataset(join(dir, 'random.h5'), made);
  const ds = await readDataset(file, { env: env.spec });
  const s = summarizeDataset(ds);
  console.log(`dataset: ${s.transitions} transitions, ${s.episodes} episodes, mean return ${s.meanReturn.toFixed(2)}`);

  const scores: string[] = [`random ${evaluatePolicy(env, randomPolicy(env.spec, new Rng(1)), 10, 0).meanReturn.toFixed(2)}`];
  for (const algo of ['bc', 'iql'] as const) {
    const { actor } = await trainOfflineAgent({ algo, ds, rewards: ds.rewards, actLow: env.spec.actLow, actHigh: env.spec.actHigh, hidden: [32, 32], updates: 1000, batchSize: 256, seed: 0 });
    // The actor acts with its (clipped) mean action; evaluatePolicy scores whole episodes from seeded starts.
    scores.push(`${algo} ${evaluatePolicy(env, actor.policy(), 10, 0).meanReturn.toFixed(2)}`);
  }
  console.log(`${scores.join(', ')} (mean true return over 10 episodes)`);
} finally {
  env.dispose();
  rmSync(dir, { recursive: true, force: true });
}
