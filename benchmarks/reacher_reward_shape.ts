/**
 * The shape of learned reacher rewards: mean predicted per-step reward of saved reward models
 * next to the true reward, binned by the fingertip-to-target distance after the step, on the
 * states of 40 random-policy episodes (seed 5). Used to see whether a learned reward keeps the
 * true reward's rise near the target (the on_target bonus inside 0.05 m).
 *
 *   npx tsx benchmarks/reacher_reward_shape.ts <reward_model folder>... > out.md
 */
import './script_errors.js';
import { initBackend } from '../core/backend.js';
import { RewardNet } from '../reward/network.js';
import { binnedSums, EDGES, shapeEpisodes } from './reacher_shape_bins.js';

const dirs = process.argv.slice(2);
if (dirs.length === 0) {
  process.stderr.write('usage: npx tsx benchmarks/reacher_reward_shape.ts <reward_model folder>...\n');
  process.exit(2);
}
await initBackend('wasm');
const trajs = await shapeEpisodes();
let count: number[] = [];
let truth: number[] = [];
const columns: number[][] = [];
for (const dir of dirs) {
  const net = RewardNet.load(dir);
  const b = binnedSums(net, trajs);
  net.dispose();
  count = b.count;
  truth = b.truth;
  columns.push(b.pred);
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
