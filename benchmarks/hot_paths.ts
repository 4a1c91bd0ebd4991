/**
 * Two hot paths against their previous forms, measured in the same run, with a check that the
 * results are the same bit for bit:
 *
 * - PPO's matrix product (agents/mlp.ts gemmABt, two rows of A per pass) against the one-row
 *   kernel it replaced (agents/mlp.ts gemmABtByRow, kept as the reference), on the shapes a PPO update multiplies
 *   (64-unit layers, 10 inputs, minibatches of 64 rows, 4 envs acting).
 * - The reward ensemble's predictions for candidate pairs (RewardNet.pairProbs, which runs each
 *   distinct segment once) against summing every pair's two segments (segmentSums over the
 *   pairs' segments, as pairProbs did before): the disagreement query of prefrl train scores
 *   labels-per-round x oversample candidates drawn from a pool of about 64 segments.
 *
 *   npx tsx benchmarks/hot_paths.ts [--repeats 3] [--candidates 1000]
 *
 * Prints each timing and the ratio reference / current (above 1: the current form is faster).
 */
import './script_errors.js';
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { initBackend } from '../core/backend.js';
import { median } from '../core/math.js';
import { Rng } from '../core/rng.js';
import { gemmABt, gemmABtByRow } from '../agents/mlp.js';
import { randomPolicy, rollout } from '../envs/rollout.js';
import { ToyReachEnv } from '../envs/toy.js';
import { RewardNet } from '../reward/network.js';
import { samplePairs } from '../reward/query.js';
import { cutSegments } from '../reward/segments.js';

const usage = 'usage: npx tsx benchmarks/hot_paths.ts [--repeats 3] [--candidates 1000]\n';
const { values } = parseArgs({ options: { repeats: { type: 'string', default: '3' }, candidates: { type: 'string', default: '1000' } }, strict: true });
const posInt = (name: string, v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`hot_paths.ts: --${name}: expected an integer >= 1, got ${JSON.stringify(v)}\n${usage}`);
    process.exit(2);
  }
  return n;
};
const repeats = posInt('repeats', values.repeats as string);
const candidates = posInt('candidates', values.candidates as string);

const sameBits = (x: Float32Array, y: Float32Array): boolean => x.length === y.length && Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(y.buffer, y.byteOffset, y.byteLength));
const seconds = (f: () => void, times: number): number => {
  const t0 = performance.now();
  for (let i = 0; i < times; i++) f();
  return (performance.now() - t0) / 1000;
};
const rng = new Rng(0);
const load0 = loadavg();

// PPO's products as [m, p, kd]: a minibatch's first and second layers, the weight gradients
// (outputs x inputs, summed over the minibatch's rows), and acting for 4 envs.
const shapes: [number, number, number][] = [
  [64, 64, 10],
  [64, 64, 64],
  [64, 10, 64],
  [4, 64, 64],
];
const gemmRatios: number[] = [];
for (let r = 0; r < repeats; r++) {
  let ref = 0;
  let cur = 0;
  for (const [m, p, kd] of shapes) {
    const a = new Float32Array(m * kd);
    const b = new Float32Array(p * kd);
    rng.fillUniform(a, -1, 1);
    rng.fillUniform(b, -1, 1);
    const c0 = new Float32Array(m * p);
    const c1 = new Float32Array(m * p);
    const times = Math.max(20, Math.round(4e7 / (m * p * kd)));
    // Alternate which goes first from repeat to repeat.
    const runs: [string, () => void][] = [
      ['ref', () => gemmABtByRow(a, b, c0, m, p, kd, false)],
      ['cur', () => gemmABt(a, b, c1, m, p, kd, false)],
    ];
    if (r % 2 === 1) runs.reverse();
    for (const [name, f] of runs) {
      const s = seconds(f, times);
      if (name === 'ref') ref += s;
      else cur += s;
    }
    if (!sameBits(c0, c1)) throw new Error(`gemmABt differs from the reference on [${m}, ${kd}] x [${p}, ${kd}]^T`);
  }
  gemmRatios.push(ref / cur);
  process.stdout.write(`repeat ${r + 1}: PPO products: reference ${ref.toFixed(3)} s, gemmABt ${cur.toFixed(3)} s, ratio ${(ref / cur).toFixed(2)}\n`);
}

// Candidate pairs from a pool of 64 segments of 50 steps (64 episodes of the toy reacher, one
// segment each; prefrl train's pool holds 16 episodes of 4 segments at its defaults).
await initBackend('wasm');
const env = new ToyReachEnv();
const trajs = rollout(env, randomPolicy(env.spec, new Rng(1)), { episodes: 64, seed: 1 });
const pool = cutSegments(trajs, { length: 50 }).slice(0, 64);
const pairs = samplePairs(pool, candidates, new Rng(2));
const net = RewardNet.create({ obsDim: env.spec.obsDim, actDim: env.spec.actDim }, new Rng(3));
const temperature = 1;
const referencePairProbs = (): Float32Array => {
  const sums = net.segmentSums(pairs.flatMap((p) => [p.a, p.b]));
  const n = pairs.length;
  const out = new Float32Array(net.members * n);
  for (let k = 0; k < net.members; k++) {
    for (let j = 0; j < n; j++) {
      const d = (sums[k * 2 * n + 2 * j] - sums[k * 2 * n + 2 * j + 1]) / temperature;
      out[k * n + j] = d >= 0 ? 1 / (1 + Math.exp(-d)) : Math.exp(d) / (1 + Math.exp(d));
    }
  }
  return out;
};
const probRatios: number[] = [];
for (let r = 0; r < repeats; r++) {
  let want: Float32Array = new Float32Array(0);
  let got: Float32Array = new Float32Array(0);
  const runs: [string, () => void][] = [
    ['ref', () => (want = referencePairProbs())],
    ['cur', () => (got = net.pairProbs(pairs))],
  ];
  if (r % 2 === 1) runs.reverse();
  const t = new Map(runs.map(([name, f]) => [name, seconds(f, 1)]));
  if (!sameBits(want, got)) throw new Error('pairProbs differs from the per-pair reference');
  const [ref, cur] = [t.get('ref') as number, t.get('cur') as number];
  probRatios.push(ref / cur);
  process.stdout.write(`repeat ${r + 1}: ${pairs.length} candidate pairs over ${new Set(pairs.flatMap((p) => [p.a, p.b])).size} segments: reference ${ref.toFixed(3)} s, pairProbs ${cur.toFixed(3)} s, ratio ${(ref / cur).toFixed(2)}\n`);
}
net.dispose();
const load1 = loadavg();
process.stdout.write(
  `median ratio reference / current: PPO products ${median(gemmRatios).toFixed(2)}, pair predictions ${median(probRatios).toFixed(2)}; results equal bit for bit ` +
    `(${availableParallelism()} CPUs, load average ${load0[0].toFixed(2)} at start, ${load1[0].toFixed(2)} at end)\n`,
);
