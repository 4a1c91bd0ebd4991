/**
 * The shape of learned reacher rewards: mean predicted per-step reward of saved reward models
 * next to the true reward, binned by the fingertip-to-target distance after the step, on the
 * states of 40 random-policy episodes (seed 5). Used to see whether a learned reward keeps the
 * true reward's rise near the target (the on_target bonus inside 0.05 m).
 *
 *   npx tsx benchmarks/reacher_reward_shape.ts <reward_model folder>... > out.md
 */
import { initBackend } from '../core/backend.js';
import { Rng } from '../core/rng.js';
import { makeEnv } from '../envs/registry.js';
import { randomPolicy, rollout } from '../envs/rollout.js';
import { RewardNet } from '../reward/network.js';

const dirs = process.argv.slice(2);
if (dirs.length === 0) {
  process.stderr.write('usage: npx tsx benchmarks/reacher_reward_shape.ts <reward_model folder>...\n');
  process.exit(2);
}
await initBackend('wasm');
const env = await makeEnv({ id: 'reacher' });
const trajs = rollout(env, randomPolicy(env.spec, new Rng(5)), { episodes: 40, seed: 5 });
env.dispose();
/** Lower bin edges (m) of the distance after the step; obs[8..9] is fingertip minus target. */
const EDGES = [0, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3];
const binOf = (d: number): number => {
  let b = EDGES.length - 1;
  while (b > 0 && d < EDGES[b]) b--;
  return b;
};

const count = new Array<number>(EDGES.length).fill(0);
const truth = new Array<number>(EDGES.length).fill(0);
const columns: number[][] = [];
for (const dir of dirs) {
  const net = RewardNet.load(dir);
  const sums = new Array<number>(EDGES.length).fill(0);
  for (const tr of trajs) {
    const n = tr.length;
    const D = tr.obsDim;
    const pred = net.predict({ n, obs: tr.obs.subarray(0, n * D), actions: tr.actions, nextObs: tr.obs.subarray(D, (n + 1) * D) });
    for (let t = 0; t < n; t++) {
      const b = binOf(Math.hypot(tr.obs[(t + 1) * D + 8], tr.obs[(t + 1) * D + 9]));
      sums[b] += pred[t];
      if (columns.length === 0) {
        count[b]++;
        truth[b] += tr.rewards[t];
      }
    }
  }
  net.dispose();
  columns.push(sums);
}

const f = (x: number): string => x.toFixed(3);
const lines = [
  `| distance (m) | steps | true reward | ${dirs.map((_, i) => `model ${i + 1}`).join(' | ')} |`,
  `|---|---|---|${dirs.map(() => '---|').join('')}`,
];
EDGES.forEach((e, b) => {
  if (count[b] === 0) return;
  const range = b + 1 < EDGES.length ? `${e}-${EDGES[b + 1]}` : `>= ${e}`;
  lines.push(`| ${range} | ${count[b]} | ${f(truth[b] / count[b])} | ${columns.map((c) => f(c[b] / count[b])).join(' | ')} |`);
});
lines.push('', ...dirs.map((d, i) => `model ${i + 1}: ${d}`));
process.stdout.write(`${lines.join('\n')}\n`);
