/**
 * A robot of your own: an MJCF model (slider/slider.xml, a cart on a rail) and a task module
 * (slider/slider_task.ts), made into an env, checked against the env contract, and driven by a
 * hand-written controller and by a random policy.
 *
 *   npx tsx docs/examples/custom_robot.ts
 *
 * prints `custom:slider.xml: obs 3, actions 1, terms distance,effort, contract ok`, then
 * `controller return -12.67, success 1.00; random return -89.36` (test/api_examples.test.ts runs it).
 * The task is given as a file, not an object: env configs are plain JSON (saved in run folders,
 * sent to worker threads, which import the module again).
 */
import { join } from 'node:path';
import { checkEnv, type EnvConfig, evaluatePolicy, makeEnv, type Policy, randomPolicy, Rng } from 'prefrl';

const here = import.meta.dirname;
const config: EnvConfig = { id: 'custom', model: join(here, 'slider', 'slider.xml'), task: join(here, 'slider', 'slider_task.ts') };
const env = await makeEnv(config);
try {
  const { spec } = env;
  // Determinism under a seed, reward = weighted sum of terms, exact state round trip, ... (as `prefrl check-env`).
  const report = await checkEnv(config, { steps: 100, resets: 50 });
  const failed = Object.entries(report.checks).filter(([, c]) => !c.ok).map(([name]) => name);
  console.log(`${spec.id}: obs ${spec.obsDim}, actions ${spec.actDim}, terms ${spec.rewardTerms.map((t) => t.name).join(',')}, contract ${report.ok ? 'ok' : `failed: ${failed.join(', ')}`}`);
  // A proportional-derivative controller on the observed gap (obs[2]) and velocity (obs[1]), clipped to the control range.
  const controller: Policy = (obs) => Float32Array.of(Math.max(-1, Math.min(1, 4 * obs[2] - 1 * obs[1])));
  const pd = evaluatePolicy(env, controller, 5, 0);
  const random = evaluatePolicy(env, randomPolicy(spec, new Rng(0)), 5, 0);
  console.log(`controller return ${pd.meanReturn.toFixed(2)}, success ${pd.meanSuccess.toFixed(2)}; random return ${random.meanReturn.toFixed(2)}`);
} finally {
  env.dispose();
}
