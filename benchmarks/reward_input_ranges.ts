/**
 * How far each input feature alone moves a saved reward model's output: for every input i,
 * the ensemble-mean reward on rows that hold every normalised input at 0 (its training mean)
 * but input i, which runs over 41 points from -2 to +2 standard deviations; prints max - min
 * per input. For an additive model (`prefrl train --reward-additive`) this is the range of that
 * input's own term f_i over +-2 std, read through the output activation; for a dense model it is
 * one slice through the function.
 *
 *   npx tsx benchmarks/reward_input_ranges.ts <reward model folder>...
 *
 * One markdown table row per model: the folder, then the range of inputs 0, 1, ... (the
 * observation in the env's documented order, then the action or the next observation).
 */
import './script_errors.js';
import { initBackend } from '../core/backend.js';
import { meanOverMembers, RewardNet } from '../reward/network.js';

const paths = process.argv.slice(2);
if (paths.length === 0) {
  process.stderr.write('usage: npx tsx benchmarks/reward_input_ranges.ts <reward model folder>...\n');
  process.exit(2);
}
await initBackend('wasm');
const G = 41;
for (const path of paths) {
  const net = RewardNet.load(path);
  const w = net.inDim;
  const ranges: string[] = [];
  for (let i = 0; i < w; i++) {
    const rows = new Float32Array(G * w);
    for (let g = 0; g < G; g++) rows[g * w + i] = -2 + (4 * g) / (G - 1);
    // predictRows gives [members, G]; the ensemble mean per grid point is what PPO sees.
    const r = meanOverMembers(net.predictRows(rows, G, { normalized: true }), net.members, new Float64Array(G));
    ranges.push((Math.max(...r) - Math.min(...r)).toFixed(3));
  }
  net.dispose();
  process.stdout.write(`| ${path} | ${ranges.join(' | ')} |\n`);
}
