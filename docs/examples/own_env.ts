/**
 * An environment written in TypeScript in the script itself (not a MuJoCo model): a cart on a line
 * that should stop at x = 0.5, implementing the `Env` contract. It goes through the same calls as
 * a built-in env: seeded random-policy episodes (`rollout`), overlapping segments, pairs labelled by
 * a noisy teacher of the script's own (Boltzmann-rational: it prefers the higher return with
 * probability sigmoid(beta x difference), drawn from its own seeded Rng), a label store, a reward
 * ensemble, and its accuracy on held-out pairs.
 *
 *   npx tsx docs/examples/own_env.ts
 *
 * prints `cart-stop: 30 episodes of 40 steps, 210 segments; noisy teacher (beta 2): 11 of 150 training labels against the true returns`
 * and `held-out accuracy 0.80 on 50 pairs (0.86 against the true returns); a controller's return -5.68; tensors left 0`
 * with the WASM backend (test/lib3_examples.test.ts runs it). Such an env works wherever an `Env`
 * is taken (rollout, evaluatePolicy, TrajectoryBuilder, teachers through its spec); `PpoTrainer`,
 * `createVecEnv`, `runPreferenceLoop` and `checkEnv` take an `EnvConfig` instead (a registry id or an
 * MJCF model), since they build their envs again in worker threads from plain JSON.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  cutSegments, type Env, type EnvSpec, type EnvState, evaluatePolicy, initBackend, type Label, LabelStore, labelId, makePair, type Pair,
  preferenceAccuracy, randomPolicy, RewardNet, Rng, rollout, type StepResult, segmentReturn, type Teacher, tensorMemory, trainRewardModel, weightedSum,
} from 'prefrl';

const SPEC: EnvSpec = {
  id: 'cart-stop', obsDim: 2, actDim: 1,
  obsLow: Float64Array.of(-1, -Infinity), obsHigh: Float64Array.of(1, Infinity),
  actLow: Float64Array.of(-1), actHigh: Float64Array.of(1),
  rewardTerms: [
    { name: 'distance', weight: -1, doc: '|x - 0.5| after the step' },
    { name: 'effort', weight: -0.1, doc: 'squared force' },
  ],
  dt: 0.1, horizon: 40, goal: 'Stop the cart at x = 0.5.', nq: 1, nv: 1, na: 0, modelHash: 'cart-stop-v1',
};

/** v <- 0.9 v + 0.2 a, x <- clip(x + 0.1 v, -1, 1); the state is (x, v) and the step count. */
class CartEnv implements Env {
  readonly spec = SPEC;
  private x = 0;
  private v = 0;
  private t = 0;
  private rng = new Rng(0);

  reset(seed?: number): Float32Array {
    if (seed !== undefined) this.rng = new Rng(seed);
    this.x = this.rng.range(-0.9, 0.9);
    this.v = 0;
    this.t = 0;
    return Float32Array.of(this.x, this.v);
  }

  step(action: ArrayLike<number>): StepResult {
    const a = clipped(action);
    this.v = 0.9 * this.v + 0.2 * a;
    this.x = Math.max(-1, Math.min(1, this.x + 0.1 * this.v));
    this.t++;
    const rewardTerms = Float64Array.of(Math.abs(this.x - 0.5), a * a);
    return { obs: Float32Array.of(this.x, this.v), reward: weightedSum(rewardTerms, SPEC.rewardTerms), rewardTerms, terminated: false, truncated: this.t >= SPEC.horizon, info: {} };
  }

  getState(): EnvState {
    return { qpos: Float64Array.of(this.x), qvel: Float64Array.of(this.v), act: new Float64Array(0), time: this.t * SPEC.dt, t: this.t };
  }

  setState(s: EnvState): Float32Array {
    [this.x, this.v, this.t] = [s.qpos[0], s.qvel[0], s.t];
    return Float32Array.of(this.x, this.v);
  }

  transitionTerms(_before: EnvState, action: ArrayLike<number>, after: EnvState): Float64Array {
    const a = clipped(action);
    return Float64Array.of(Math.abs(after.qpos[0] - 0.5), a * a);
  }

  dispose(): void {}
}

/** The action as step() applies it: one finite number, clipped to [-1, 1], at float32 precision. */
function clipped(action: ArrayLike<number>): number {
  if (action.length !== 1 || !Number.isFinite(action[0])) throw new RangeError(`cart-stop: the action must be one finite number, got [${Array.from(action).join(', ')}]`);
  return Math.fround(Math.max(-1, Math.min(1, action[0])));
}

/** Prefers the higher true return with probability sigmoid(beta x (R(a) - R(b))). */
function noisyTeacher(beta: number, rng: Rng): Teacher {
  const id = `noisy-beta-${beta}`;
  return {
    id,
    async label(pairs: readonly Pair[]): Promise<Label[]> {
      return pairs.map((p) => {
        const pFirst = 1 / (1 + Math.exp(-beta * (segmentReturn(p.a) - segmentReturn(p.b))));
        return { kind: 'preference', id: labelId(id, p.id), pairId: p.id, teacher: id, probFirst: rng.bernoulli(pFirst) ? 1 : 0 };
      });
    },
  };
}

await initBackend('auto');
const tensorsBefore = tensorMemory().numTensors;
const env = new CartEnv();
const rng = new Rng(7);
const episodes = rollout(env, randomPolicy(env.spec, rng.fork('policy')), { episodes: 30, seed: 7 });
const segments = cutSegments(episodes, { length: 10, stride: 5 });
const draw = (n: number) => Array.from({ length: n }, () => makePair(rng.choice(segments), rng.choice(segments)));
const [train, heldOut] = [draw(150), draw(50)];
const teacher = noisyTeacher(2, rng.fork('teacher'));
const dir = mkdtempSync(join(tmpdir(), 'prefrl-own-env-'));
const store = LabelStore.open(join(dir, 'labels.sqlite'), { envId: env.spec.id, modelHash: env.spec.modelHash });
const net = RewardNet.create({ obsDim: env.spec.obsDim, actDim: env.spec.actDim, hidden: [16, 16], members: 2 }, rng.fork('net'));
try {
  store.putPairs([...train, ...heldOut]);
  store.addLabels(await teacher.label(train));
  const { pairs, labels } = store.teacherLabels();
  const wrong = pairs.filter((p, i) => labels[i].kind === 'preference' && (labels[i].probFirst === 1) !== segmentReturn(p.a) >= segmentReturn(p.b)).length;
  console.log(`cart-stop: ${episodes.length} episodes of ${episodes[0].length} steps, ${segments.length} segments; noisy teacher (beta 2): ${wrong} of ${pairs.length} training labels against the true returns`);
  await trainRewardModel(net, pairs, labels, { rng: rng.fork('train'), epochs: 30 });
  const heldOutLabels = await teacher.label(heldOut);
  const probs = net.pairProbs(heldOut); // [members, pairs], row-major
  const members = net.config.members;
  const pFirst = heldOut.map((_, j) => Array.from({ length: members }, (_, k) => probs[k * heldOut.length + j]).reduce((s, p) => s + p, 0) / members);
  const vsTeacher = preferenceAccuracy(pFirst, heldOutLabels.map((l) => (l.kind === 'preference' ? l.probFirst : 0.5)));
  const vsTruth = preferenceAccuracy(pFirst, heldOut.map((p) => (segmentReturn(p.a) > segmentReturn(p.b) ? 1 : segmentReturn(p.a) < segmentReturn(p.b) ? 0 : 0.5)));
  // A hand-made PD controller, scored on the env's true reward from seeded starts.
  const pd = evaluatePolicy(env, (o) => [Math.max(-1, Math.min(1, 3 * (0.5 - o[0]) - 2 * o[1]))], 5, 0);
  net.dispose();
  console.log(
    `held-out accuracy ${vsTeacher.accuracy.toFixed(2)} on ${vsTeacher.n} pairs (${vsTruth.accuracy.toFixed(2)} against the true returns); a controller's return ${pd.meanReturn.toFixed(2)}; tensors left ${tensorMemory().numTensors - tensorsBefore}`,
  );
} finally {
  net.dispose();
  store.close();
  env.dispose();
  rmSync(dir, { recursive: true, force: true });
}
