/**
 * PPO from a script, on a reward of your own: a RewardFn gets each rollout's transitions (with
 * the env's reward terms) and returns one reward per transition. Here toy-reach's agent is paid
 * for the goal_distance term alone, then scored on the env's true reward.
 *
 *   npx tsx docs/examples/ppo_reward_fn.ts
 *
 * prints `before training: true return -44.19`, then
 * `after 20480 steps on goal_distance alone: true return -29.25` (test/api_examples.test.ts runs it).
 * PPO runs in plain TypeScript: it needs no initBackend, and its numbers do not depend on a
 * tensor backend.
 * runPreferenceLoop drives a PpoTrainer in the same way: its RewardFn calls the reward model of
 * the latest feedback round (`predict`, standardised). `trainer.rewardFn` may also be swapped
 * between iterations.
 */
import { evaluatePolicy, makeEnv, PpoTrainer, type RewardFn } from 'prefrl';

const env = await makeEnv('toy-reach');
// Terms come in env.spec.rewardTerms order, [n, nTerms] row-major.
const nTerms = env.spec.rewardTerms.length;
const distance = env.spec.rewardTerms.findIndex((t) => t.name === 'goal_distance');
const distanceOnly: RewardFn = (batch) => Float32Array.from({ length: batch.n }, (_, i) => -batch.terms![i * nTerms + distance]);

// workers: 0 steps the 4 envs in this thread (toy-reach is cheap); 10 iterations of 4 x 512 steps.
const trainer = await PpoTrainer.create({ env: { id: 'toy-reach' }, config: { totalSteps: 20_480, lr: 1e-3, workers: 0, seed: 0 }, rewardFn: distanceOnly });
try {
  console.log(`before training: true return ${evaluatePolicy(env, trainer.policy.deterministic(), 10, 0).meanReturn.toFixed(2)}`);
  while (trainer.globalStep < trainer.config.totalSteps) await trainer.iterate();
  const after = evaluatePolicy(env, trainer.policy.deterministic(), 10, 0);
  console.log(`after ${trainer.globalStep} steps on goal_distance alone: true return ${after.meanReturn.toFixed(2)}`);
} finally {
  await trainer.close();
  env.dispose();
}
