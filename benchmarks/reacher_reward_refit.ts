/**
 * Refit a reacher reward model from the labels a run stored, with other reward-model settings,
 * and report the shape of the result: the mean predicted per-step reward binned by the
 * fingertip-to-target distance after the step, on the states of 40 random-policy episodes
 * (seed 5; the bins of benchmarks/reacher_reward_shape.ts). Rounds are replayed as the online
 * loop trains: after round r the model continues from its weights on every label of rounds
 * <= r. Used to screen reward-model settings without running PPO; the saved model can then
 * drive PPO with `prefrl train --reward model:<out>`.
 *
 *   npx tsx benchmarks/reacher_reward_refit.ts <run folder> [--hidden 256,256] [--weight-decay 0] [--input-l1 0] [--input-prox 0] [--val-fraction 0.1]
 *       [--input obs-action] [--ignore-obs i,j] [--epochs 20] [--patience 3] [--lr 3e-4] [--members 3] [--activation leaky-relu] [--input-dropout 0] [--additive] [--output-init 1] [--seed 0] [--out dir]
 *
 * Prints one markdown table row per run of the script: the per-bin means, the rise from
 * 0.1-0.15 m to 0-0.025 m as a share of the spread over the bins, and whether the reward
 * falls with every step out in distance (monotone), and each input feature's share (%) of the
 * first layer's row norms (mean over members): which inputs the model relies on.
 */
import './script_errors.js';
import { join } from 'node:path';
import { initBackend } from '../core/backend.js';
import { Rng } from '../core/rng.js';
import { type Activation, RewardNet } from '../reward/network.js';
import { openLabelStore } from '../reward/store.js';
import { trainRewardModel } from '../reward/train.js';
import type { Label, Pair, RewardInput } from '../reward/types.js';
import { binnedSums, shapeEpisodes } from './reacher_shape_bins.js';
import { runArgs } from './stored_labels.js';

const { args, run, opt } = runArgs('usage: npx tsx benchmarks/reacher_reward_refit.ts <run folder> [--hidden 256,256] [--weight-decay c] [--input-l1 c] [--input-prox c] [--val-fraction 0.1] [--input obs-action] [--ignore-obs i,j] [--epochs 20] [--patience 3] [--lr 3e-4] [--members 3] [--activation leaky-relu] [--input-dropout 0] [--additive] [--output-init 1] [--seed 0] [--out dir]\n');
const hidden = opt('hidden', '256,256').split(',').map(Number);
const weightDecay = Number(opt('weight-decay', '0'));
const inputL1 = Number(opt('input-l1', '0'));
const inputProx = Number(opt('input-prox', '0'));
const valFraction = Number(opt('val-fraction', '0.1'));
const input = opt('input', 'obs-action') as RewardInput;
const ignoreObs = opt('ignore-obs', '').split(',').filter((s) => s !== '').map(Number);
const epochs = Number(opt('epochs', '20'));
const lr = Number(opt('lr', '3e-4'));
const members = Number(opt('members', '3'));
const activation = opt('activation', 'leaky-relu') as Activation;
const patience = Number(opt('patience', '3'));
const inputDropout = Number(opt('input-dropout', '0'));
const seed = Number(opt('seed', '0'));
const additive = args.includes('--additive');
const outputInit = Number(opt('output-init', '1'));
const out = opt('out', '');

await initBackend('wasm');
const store = openLabelStore(join(run, 'labels.sqlite'), { create: false });
const all = store.labelledPairs();
store.close();
const rounds = [...new Set(all.map((lp) => lp.round))].sort((a, b) => a - b);
const first = all[0].pair.a;
const rng = new Rng(seed);
const net = RewardNet.create({ input, obsDim: first.obsDim, actDim: first.actDim, hidden, ignoreObs, members, activation, additive }, rng.fork('reward-net'), { outputScale: outputInit });
let acc = Number.NaN;
for (const r of rounds) {
  const pairs: Pair[] = [];
  const labels: Label[] = [];
  for (const lp of all) {
    if (lp.round > r) continue;
    for (const l of lp.labels) {
      pairs.push(lp.pair);
      labels.push(l);
    }
  }
  const res = await trainRewardModel(net, pairs, labels, { epochs, patience, lr, weightDecay, inputL1, inputProx, inputDropout, valFraction, rng: rng.fork(`train-${r}`) });
  acc = res.valAccuracy;
}
if (out) net.save(out);

const trajs = await shapeEpisodes();
const { pred: sums, count } = binnedSums(net, trajs);
// Which inputs the model relies on: each input feature's share of the first layer's row norms
// (mean over members; normalised inputs, so the shares are comparable across features).
const shares = new Float64Array(net.inDim);
for (let k = 0; k < net.members; k++) {
  const w = net.getMemberWeights(k)[0];
  const H = w.length / net.inDim;
  const norms = Array.from({ length: net.inDim }, (_, j) => Math.hypot(...w.subarray(j * H, (j + 1) * H)));
  const total = norms.reduce((a, b) => a + b, 0);
  norms.forEach((x, j) => {
    shares[j] += x / total / net.members;
  });
}
net.dispose();
const means = sums.map((s, b) => s / count[b]);
const spread = Math.max(...means) - Math.min(...means);
const rise = means[0] - means[4];
let monotone = true;
for (let b = 0; b + 1 < means.length; b++) if (means[b] < means[b + 1]) monotone = false;
const label = `hidden ${hidden.join('x')} x ${members}, wd ${weightDecay}, input-l1 ${inputL1}${inputProx > 0 ? `, input-prox ${inputProx}` : ''}, ${input}${ignoreObs.length ? ` ignore ${ignoreObs.join(',')}` : ''}, epochs ${epochs}/${patience}${valFraction !== 0.1 ? `, val ${valFraction}` : ''}, lr ${lr}${activation !== 'leaky-relu' ? `, ${activation}` : ''}${inputDropout > 0 ? `, input dropout ${inputDropout}` : ''}${additive ? ', additive' : ''}${outputInit !== 1 ? `, output init x${outputInit}` : ''}, seed ${seed}`;
process.stdout.write(
  `| ${run.split('/').pop()} | ${label} | ${acc.toFixed(3)} | ${means.map((m) => m.toFixed(3)).join(' | ')} | ${((100 * rise) / spread).toFixed(0)}% | ${monotone ? 'yes' : 'no'} | ${Array.from(shares, (x) => (100 * x).toFixed(0)).join(' ')} |\n`,
);
