/**
 * Why a learned reacher reward does not pay for holding the fingertip on the target: the
 * reward model of a preference run scored on the states of two policies (deterministic
 * rollouts, 20 episodes, seed 77), binned by fingertip-to-target distance after the step, with
 * the mean squared action and joint speed per bin, the spread of the ensemble members (mean
 * over steps of their standard deviation: what an ensemble-disagreement exploration bonus such
 * as RUNE's would pay) and the learned reward with the action set to zero (does the model
 * charge for the action the policy took?); then how many of the steps in the run's
 * labelled segments are still (joint speed under 0.5 rad/s) near the target (< 0.05 m) or away
 * from it, how many of the latter lie in the first 10 steps of their episode (the arm is reset
 * at rest), and how many segments start at a reset state.
 *
 *   npx tsx benchmarks/reacher_stillness.ts <preference run folder> <policy run folder>... > out.md
 *
 * The preference run folder gives the reward model (artifacts/reward_model) and the labels
 * (labels.sqlite); each policy run folder gives a PPO policy (artifacts/checkpoint).
 */
import './script_errors.js';
import { join } from 'node:path';
import { initBackend } from '../core/backend.js';
import { makeEnv } from '../envs/registry.js';
import { rollout } from '../envs/rollout.js';
import { RewardNet } from '../reward/network.js';
import { LabelStore } from '../reward/store.js';
import { loadPpoPolicy } from '../agents/saved_policy.js';

const [prefRun, ...policyRuns] = process.argv.slice(2);
if (!prefRun || policyRuns.length === 0) {
  process.stderr.write('usage: npx tsx benchmarks/reacher_stillness.ts <preference run folder> <policy run folder>...\n');
  process.exit(2);
}
await initBackend('wasm');
const net = RewardNet.load(join(prefRun, 'artifacts', 'reward_model'));
const env = await makeEnv({ id: 'reacher' });
/** Lower bin edges (m); obs[6..7] are the joint speeds, obs[8..9] fingertip minus target. */
const EDGES = [0, 0.025, 0.05, 0.1, 0.2];
const STILL = 0.5;
const NEAR = 0.05;
const binOf = (d: number): number => {
  let b = EDGES.length - 1;
  while (b > 0 && d < EDGES[b]) b--;
  return b;
};
const f = (x: number, k = 3): string => x.toFixed(k);
const name = (p: string): string => p.replace(/\/+$/, '').split('/').pop() as string;

const out: string[] = [];
out.push(`Reward model: ${name(prefRun)} (ensemble mean)`, '');
out.push(
  '| policy | distance (m) | steps | true reward | learned reward | learned reward, a = 0 | ensemble std | mean \\|a\\|^2 | mean joint speed (rad/s) |',
  '|---|---|---|---|---|---|---|---|---|',
);
for (const run of policyRuns) {
  const policy = loadPpoPolicy(run, env.spec);
  const trajs = rollout(env, policy.deterministic(), { episodes: 20, seed: 77 });
  const z = (): number[] => EDGES.map(() => 0);
  const [n, tr, lr, l0, sd, aa, sp] = [z(), z(), z(), z(), z(), z(), z()];
  let trueRet = 0;
  let learnedRet = 0;
  for (const t of trajs) {
    const D = t.obsDim;
    const batch = { n: t.length, obs: t.obs.subarray(0, t.length * D), actions: t.actions, nextObs: t.obs.subarray(D, (t.length + 1) * D) };
    const members = net.predictMembers(batch);
    const M = net.members;
    const r0 = net.predict({ ...batch, actions: new Float32Array(t.actions.length) });
    const r = new Float32Array(t.length);
    const s = new Float32Array(t.length);
    for (let i = 0; i < t.length; i++) {
      let m = 0;
      for (let k = 0; k < M; k++) m += members[k * t.length + i];
      m /= M;
      let v = 0;
      for (let k = 0; k < M; k++) v += (members[k * t.length + i] - m) ** 2;
      r[i] = m;
      s[i] = Math.sqrt(v / M);
    }
    for (let i = 0; i < t.length; i++) {
      const o = t.obs.subarray((i + 1) * D, (i + 2) * D);
      const b = binOf(Math.hypot(o[8], o[9]));
      n[b]++;
      tr[b] += t.rewards[i];
      lr[b] += r[i];
      l0[b] += r0[i];
      sd[b] += s[i];
      aa[b] += t.actions[2 * i] ** 2 + t.actions[2 * i + 1] ** 2;
      sp[b] += Math.hypot(o[6], o[7]);
      trueRet += t.rewards[i];
      learnedRet += r[i];
    }
  }
  EDGES.forEach((e, b) => {
    if (n[b] === 0) return;
    const range = b + 1 < EDGES.length ? `${e}-${EDGES[b + 1]}` : `>= ${e}`;
    out.push(`| ${name(run)} | ${range} | ${n[b]} | ${f(tr[b] / n[b])} | ${f(lr[b] / n[b])} | ${f(l0[b] / n[b])} | ${f(sd[b] / n[b])} | ${f(aa[b] / n[b], 2)} | ${f(sp[b] / n[b], 2)} |`);
  });
  out.push(`| ${name(run)} | episode return | 20 episodes | ${f(trueRet / trajs.length, 1)} | ${f(learnedRet / trajs.length, 2)} | | | | |`);
}
env.dispose();
net.dispose();

const store = LabelStore.open(join(prefRun, 'labels.sqlite'), { create: false, readOnly: true });
const seen = new Set<string>();
let steps = 0;
let near = 0;
let nearStill = 0;
let farStill = 0;
/** Still steps away from the target within the first EARLY steps of their episode (the arm is reset at rest). */
const EARLY = 10;
let farStillEarly = 0;
let fromReset = 0;
for (const lp of store.labelledPairs()) {
  for (const g of [lp.pair.a, lp.pair.b]) {
    if (seen.has(g.id)) continue;
    seen.add(g.id);
    if (g.startStep === 0) fromReset++;
    const D = g.obsDim;
    for (let i = 1; i <= g.length; i++) {
      const o = g.obs.subarray(i * D, (i + 1) * D);
      const still = Math.hypot(o[6], o[7]) < STILL;
      steps++;
      if (Math.hypot(o[8], o[9]) < NEAR) {
        near++;
        if (still) nearStill++;
      } else if (still) {
        farStill++;
        if (g.startStep + i <= EARLY) farStillEarly++;
      }
    }
  }
}
store.close();
out.push('', `Labelled segments: ${seen.size} distinct, ${steps} steps; near the target (< ${NEAR} m): ${near}, of them still (joint speed < ${STILL} rad/s): ${nearStill}; still away from the target: ${farStill}, of them within the first ${EARLY} steps of their episode: ${farStillEarly}; segments that start at an episode's reset state: ${fromReset}.`);
process.stdout.write(`${out.join('\n')}\n`);
