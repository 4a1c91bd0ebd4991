/**
 * The uniformly random policy's mean true return over the deterministic evaluation episodes of
 * the given seeds, exactly as `prefrl bench oracle`'s random cells compute it (same policy stream,
 * same episode seeds as PPO's evaluations), for normalising runs made outside the suite.
 *
 *   npx tsx benchmarks/random_return.ts <env> <episodes> <seed>...
 */
import { evaluatePolicy } from '../agents/ppo.js';
import { Rng } from '../core/rng.js';
import { envConfigFromArgs, makeEnv } from '../envs/registry.js';
import { randomPolicy } from '../envs/rollout.js';

const [envId, episodesArg, ...seedArgs] = process.argv.slice(2);
const episodes = Number(episodesArg);
if (!envId || !Number.isInteger(episodes) || episodes < 1 || seedArgs.length === 0 || seedArgs.some((s) => !Number.isInteger(Number(s)))) {
  process.stderr.write('usage: npx tsx benchmarks/random_return.ts <env> <episodes> <seed>...\n');
  process.exit(2);
}
const env = await makeEnv(envConfigFromArgs(envId));
try {
  for (const arg of seedArgs) {
    const seed = Number(arg);
    const ev = evaluatePolicy(env, randomPolicy(env.spec, new Rng(seed).fork('random-policy')), episodes, seed);
    process.stdout.write(`${JSON.stringify({ env: envId, seed, episodes, finalTrueReturn: ev.meanReturn, finalSuccess: ev.meanSuccess })}\n`);
  }
} finally {
  env.dispose();
}
