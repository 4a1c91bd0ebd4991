/**
 * Saving what a script trains and loading it back: a PPO policy, a reward model and an offline
 * (behaviour-cloning) actor, each saved to a folder, loaded and checked to act or predict exactly
 * as before it was saved.
 *
 *   npx tsx docs/examples/save_and_reload.ts
 *
 * prints `ppo: true return -26.63 before saving, -26.63 loaded by loadSavedPolicy (ppo)`, then
 * `reward model: 3 members, 500 predictions, 0 differ after RewardNet.load`, then
 * `bc: true return -59.50 before saving, -59.50 loaded by loadSavedPolicy (bc)` (test/lib_examples.test.ts runs it).
 * loadSavedPolicy reads any policy prefrl saves (a PPO folder such as this one, an offline actor's
 * actor.json or folder, a `prefrl train` run folder); PpoPolicy.load reads a PPO policy only.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  cutSegments, datasetFromTrajectories, evaluatePolicy, initBackend, loadSavedPolicy, makeEnv, makePair, makeTeacher,
  PpoTrainer, randomPolicy, RewardNet, Rng, rollout, segmentTransitions, trainOfflineAgent, trainRewardModel,
} from 'prefrl';

await initBackend('auto');
const env = await makeEnv('toy-reach');
const dir = mkdtempSync(join(tmpdir(), 'prefrl-save-'));
try {
  // PPO on the true reward, two iterations: save() writes checkpoint.json and policy.json and returns the folder.
  const trainer = await PpoTrainer.create({ env: { id: 'toy-reach' }, config: { totalSteps: 4096, numMinibatches: 8, workers: 0, seed: 0 } });
  let ppoBefore: number;
  let ppoFolder: string;
  try {
    while (trainer.globalStep < trainer.config.totalSteps) await trainer.iterate();
    ppoBefore = evaluatePolicy(env, trainer.policy.deterministic(), 5, 0).meanReturn;
    ppoFolder = trainer.save(join(dir, 'ppo'), { id: 'toy-reach' });
  } finally {
    await trainer.close();
  }
  const ppo = loadSavedPolicy(ppoFolder, env.spec);
  console.log(`ppo: true return ${ppoBefore.toFixed(2)} before saving, ${evaluatePolicy(env, ppo.policy, 5, 0).meanReturn.toFixed(2)} loaded by loadSavedPolicy (${ppo.algo})`);

  // A reward model trained on oracle labels of random segments; save(dir) and RewardNet.load(dir).
  const rng = new Rng(0);
  const episodes = rollout(env, randomPolicy(env.spec, rng.fork('policy')), { episodes: 10, seed: 0 });
  const segments = cutSegments(episodes, { length: 10 });
  const pairs = Array.from({ length: 100 }, () => makePair(rng.choice(segments), rng.choice(segments)));
  const labels = await makeTeacher('oracle', { env: env.spec, rng: rng.fork('teacher') }).label(pairs);
  const net = RewardNet.create({ obsDim: env.spec.obsDim, actDim: env.spec.actDim, hidden: [32, 32] }, rng.fork('net'));
  await trainRewardModel(net, pairs, labels, { rng: rng.fork('train'), epochs: 5 });
  // Every transition of the 10 episodes (each one 50-step segment): the predictions before and after the reload.
  const steps = cutSegments(episodes, { length: 50 });
  const before = steps.flatMap((s) => Array.from(net.predict(segmentTransitions(s))));
  net.save(join(dir, 'reward_model'));
  const loaded = RewardNet.load(join(dir, 'reward_model'));
  const after = steps.flatMap((s) => Array.from(loaded.predict(segmentTransitions(s))));
  console.log(`reward model: ${loaded.config.members} members, ${before.length} predictions, ${before.filter((r, i) => r !== after[i]).length} differ after RewardNet.load`);
  net.dispose();
  loaded.dispose();

  // Behaviour cloning of the random episodes: save(dir) returns the actor.json path.
  const ds = datasetFromTrajectories(episodes, { envId: env.spec.id, modelHash: env.spec.modelHash, policy: 'random', seed: 0 });
  const { actor } = await trainOfflineAgent({ algo: 'bc', ds, rewards: ds.rewards, actLow: env.spec.actLow, actHigh: env.spec.actHigh, hidden: [32, 32], updates: 200, batchSize: 64, seed: 0 });
  const file = actor.save(join(dir, 'bc'));
  const back = loadSavedPolicy(file, env.spec);
  const bcBefore = evaluatePolicy(env, actor.policy(), 5, 0).meanReturn;
  console.log(`bc: true return ${bcBefore.toFixed(2)} before saving, ${evaluatePolicy(env, back.policy, 5, 0).meanReturn.toFixed(2)} loaded by loadSavedPolicy (${back.algo})`);
} finally {
  env.dispose();
  rmSync(dir, { recursive: true, force: true });
}
