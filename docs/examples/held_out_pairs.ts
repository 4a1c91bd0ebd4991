/**
 * A B-Pref synthetic teacher's labels, a reward ensemble trained on them, and its accuracy on pairs
 * it never saw: segments of seeded random-policy episodes, 300 pairs to train on and 100 held out,
 * both labelled by B-Pref's "mistake" teacher (10% of its answers flipped).
 *
 *   npx tsx docs/examples/held_out_pairs.ts
 *
 * prints `mistake teacher: trained on 300 pairs (its validation split 0.76), held-out accuracy 0.77 on 100 pairs (0.81 against the true returns)`
 * with the WASM backend (test/lib_examples.test.ts runs it). RewardNet.pairProbs gives each member's
 * P(first) of each pair; their mean, against the labels' probFirst, is preferenceAccuracy's input.
 */
import { cutSegments, initBackend, type Label, makeEnv, makePair, makeTeacher, type Pair, preferenceAccuracy, randomPolicy, RewardNet, Rng, rollout, segmentReturn, trainRewardModel } from 'prefrl';

/** The ensemble's mean P(first) of each pair. */
function meanProbFirst(net: RewardNet, pairs: readonly Pair[]): Float64Array {
  const perMember = net.pairProbs(pairs); // [members, pairs], row-major
  const out = new Float64Array(pairs.length);
  for (let k = 0; k < net.config.members; k++) for (let j = 0; j < pairs.length; j++) out[j] += perMember[k * pairs.length + j] / net.config.members;
  return out;
}

/** probFirst of each label (a skip counts as 0.5, which preferenceAccuracy leaves out as a tie). */
const targets = (labels: readonly Label[]) => labels.map((l) => (l.kind === 'preference' ? l.probFirst : 0.5));

await initBackend('auto');
const env = await makeEnv('toy-reach');
const rng = new Rng(7);
const segments = cutSegments(rollout(env, randomPolicy(env.spec, rng.fork('policy')), { episodes: 40, seed: 7 }), { length: 10 });
const draw = (n: number) => Array.from({ length: n }, () => makePair(rng.choice(segments), rng.choice(segments)));
const [train, heldOut] = [draw(300), draw(100)];
const teacher = makeTeacher('mistake', { env: env.spec, rng: rng.fork('teacher') });
const [trainLabels, heldOutLabels] = [await teacher.label(train), await teacher.label(heldOut)];

const net = RewardNet.create({ obsDim: env.spec.obsDim, actDim: env.spec.actDim, hidden: [64, 64] }, rng.fork('net'));
const fit = await trainRewardModel(net, train, trainLabels, { rng: rng.fork('train'), epochs: 30 });
const pFirst = meanProbFirst(net, heldOut);
const vsTeacher = preferenceAccuracy(pFirst, targets(heldOutLabels));
// The same pairs judged by their true returns (what the teacher's unflipped answers follow).
const vsTruth = preferenceAccuracy(pFirst, heldOut.map((p) => (segmentReturn(p.a) > segmentReturn(p.b) ? 1 : segmentReturn(p.a) < segmentReturn(p.b) ? 0 : 0.5)));
console.log(
  `${teacher.id} teacher: trained on ${fit.trainPairs + fit.valPairs} pairs (its validation split ${fit.valAccuracy.toFixed(2)}), held-out accuracy ${vsTeacher.accuracy.toFixed(2)} on ${vsTeacher.n} pairs (${vsTruth.accuracy.toFixed(2)} against the true returns)`,
);
net.dispose();
env.dispose();
