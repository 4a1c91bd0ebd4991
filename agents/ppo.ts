/**
 * Proximal Policy Optimization for continuous actions (Schulman et al. 2017), following CleanRL's
 * ppo_continuous_action.py: separate 64x64 tanh actor and critic (orthogonal init, gains sqrt 2 /
 * 0.01 / 1), state-independent log-std, GAE (lambda 0.95), clip 0.2 with value clipping,
 * 10 epochs of 32 minibatches per 2048-step rollout, Adam (eps 1e-5) at 3e-4 annealed linearly,
 * observation normalisation and reward scaling with clipping at 10, global gradient-norm
 * clipping at 0.5, entropy coefficient 0.
 *
 * Deviations, each for a reason:
 *   - the rollout is N envs x T steps (default 4 x 512 = 2048 per update) on worker threads,
 *     for throughput on two cores; CleanRL runs one env for 2048 steps;
 *   - truncated episodes (time limits) bootstrap from the value of their final observation
 *     (r += gamma V(s_final)); CleanRL treats truncation as termination;
 *   - the reward scaler restarts an env's return at truncation too (see agents/normalize.ts);
 *   - networks are plain TypeScript (agents/mlp.ts), not a tensor library.
 * Rewards come from any RewardFn: the true reward, a learned reward model or an ensemble mean;
 * the true return is tracked and logged next to the learned one whenever the env has one.
 */
import { join } from 'node:path';
import type { Clock } from '../core/clock.js';
import { systemClock } from '../core/clock.js';
import { InputError, shownArg, shownValue, UsageError, refuseUnknownKeys } from '../core/errors.js';
import { mean } from '../core/math.js';
import type { Metrics } from '../core/log.js';
import { Rng, type RngState } from '../core/rng.js';
import { writeJsonAtomic } from '../core/run.js';
import { absoluteEnvConfig, checkEnvConfigObject, type EnvConfig, makeEnv } from '../envs/registry.js';
import type { Policy } from '../envs/rollout.js';
import { type Trajectory, TrajectoryBuilder } from '../envs/trajectory.js';
import type { Env, EnvSpec } from '../envs/types.js';
import { createVecEnv, type VecEnv, type VecObs } from '../envs/vec.js';
import { Adam, clipGradNorm, Mlp } from './mlp.js';
import { ObsNormalizer, RewardScaler } from './normalize.js';
import { annealedLr, bootstrapTruncated, clippedSurrogate, gae, gaussianEntropy, gaussianLogProb, normalizeInPlace, valueLoss } from './ppo_math.js';
import { base64ToF32, f32ToBase64, readSavedJson, type RewardFn, trueReward } from './types.js';
import { makeFolder } from '../core/paths.js';

export interface PpoConfig {
  /** Total env steps to train for. */
  readonly totalSteps: number;
  /** Parallel envs N. */
  readonly numEnvs: number;
  /** Steps per env per rollout T (the batch is N x T). */
  readonly numSteps: number;
  /** Worker threads for the envs (0: step them in the main thread). */
  readonly workers: number;
  /** With workers >= 1, the main thread steps a block of envs too (createVecEnv's `inline`); speed only. */
  readonly inlineEnvs: boolean;
  /** Adam learning rate (annealed linearly to 0 when annealLr). */
  readonly lr: number;
  readonly annealLr: boolean;
  /** Discount. */
  readonly gamma: number;
  /** GAE lambda. */
  readonly gaeLambda: number;
  /** Minibatches per epoch. */
  readonly numMinibatches: number;
  /** Epochs over each rollout. */
  readonly updateEpochs: number;
  /** Normalise advantages per minibatch. */
  readonly normAdv: boolean;
  /** Surrogate clipping coefficient. */
  readonly clipCoef: number;
  /** Clip the value loss like the policy (with clipCoef). */
  readonly clipVloss: boolean;
  /** Entropy bonus coefficient. */
  readonly entCoef: number;
  /** Value loss coefficient. */
  readonly vfCoef: number;
  /** Global gradient-norm clip. */
  readonly maxGradNorm: number;
  /**
   * Stop an update's epochs early when the approximate KL of an epoch's last minibatch exceeds
   * this: the epoch is finished, no further epoch starts (CleanRL's check; null: never).
   */
  readonly targetKl: number | null;
  /** Hidden layer widths of actor and critic. */
  readonly hidden: readonly number[];
  /** Normalise observations with running statistics. */
  readonly normObs: boolean;
  /** Scale rewards by the running std of discounted returns. */
  readonly normReward: boolean;
  /** Clip normalised observations and scaled rewards to +-this. */
  readonly clipObs: number;
  readonly clipReward: number;
  /** Initial log standard deviation of the policy. */
  readonly initLogStd: number;
  readonly seed: number;
}

export const PPO_DEFAULTS: PpoConfig = {
  totalSteps: 1_000_000,
  numEnvs: 4,
  numSteps: 512,
  workers: 2,
  inlineEnvs: false,
  lr: 3e-4,
  annealLr: true,
  gamma: 0.99,
  gaeLambda: 0.95,
  numMinibatches: 32,
  updateEpochs: 10,
  normAdv: true,
  clipCoef: 0.2,
  clipVloss: true,
  entCoef: 0,
  vfCoef: 0.5,
  maxGradNorm: 0.5,
  targetKl: null,
  hidden: [64, 64],
  normObs: true,
  normReward: true,
  clipObs: 10,
  clipReward: 10,
  initLogStd: 0,
  seed: 0,
};

/** Actor, critic and log-std in one flat parameter vector, plus the observation normaliser. */
export class PpoPolicy {
  readonly theta: Float32Array;
  readonly actor: Mlp;
  readonly critic: Mlp;
  /** [actDim] view into theta. */
  readonly logStd: Float32Array;
  readonly obsNorm: ObsNormalizer;

  constructor(
    readonly obsDim: number,
    readonly actDim: number,
    readonly hidden: readonly number[],
    clipObs = 10,
    theta?: Float32Array,
  ) {
    const aSizes = [obsDim, ...hidden, actDim];
    const cSizes = [obsDim, ...hidden, 1];
    const aN = new Mlp(aSizes).numParams;
    const cN = new Mlp(cSizes).numParams;
    const total = aN + actDim + cN;
    if (theta && theta.length !== total) throw new RangeError(`PpoPolicy: expected ${total} parameters, got ${theta.length}`);
    this.theta = theta ?? new Float32Array(total);
    this.actor = new Mlp(aSizes, this.theta.subarray(0, aN));
    this.logStd = this.theta.subarray(aN, aN + actDim);
    this.critic = new Mlp(cSizes, this.theta.subarray(aN + actDim));
    this.obsNorm = new ObsNormalizer(obsDim, clipObs);
  }

  /** CleanRL's initialisation. */
  init(rng: Rng, initLogStd = 0): void {
    const g = this.hidden.map(() => Math.SQRT2);
    this.actor.initOrthogonal(rng.fork('actor'), [...g, 0.01]);
    this.critic.initOrthogonal(rng.fork('critic'), [...g, 1]);
    this.logStd.fill(initLogStd);
  }

  /** Offsets of the three parts in theta (for gradients). */
  get slices(): { actor: [number, number]; logStd: [number, number]; critic: [number, number] } {
    const a = this.actor.numParams;
    return { actor: [0, a], logStd: [a, a + this.actDim], critic: [a + this.actDim, this.theta.length] };
  }

  /** Mean actions [n, actDim] for normalised observations (a copy). */
  mean(obsN: Float32Array, n: number): Float32Array {
    return Mlp.output(this.actor.forward(obsN, n)).slice(0, n * this.actDim);
  }

  /** Values [n] for normalised observations (a copy). */
  values(obsN: Float32Array, n: number): Float32Array {
    return Mlp.output(this.critic.forward(obsN, n)).slice(0, n);
  }

  /** A deterministic (mean-action) policy on raw observations, with frozen normalisation. */
  deterministic(): Policy {
    const buf = new Float32Array(this.obsDim);
    return (obs) => {
      this.checkObs(obs);
      this.obsNorm.apply(obs, 1, buf);
      return this.mean(buf, 1);
    };
  }

  /** A stochastic policy on raw observations (frozen normalisation), e.g. for datasets. */
  stochastic(rng: Rng): Policy {
    const buf = new Float32Array(this.obsDim);
    return (obs) => {
      this.checkObs(obs);
      this.obsNorm.apply(obs, 1, buf);
      const m = this.mean(buf, 1);
      for (let j = 0; j < this.actDim; j++) m[j] += Math.exp(this.logStd[j]) * rng.normal();
      return m;
    };
  }

  /** An observation of another size would give NaN actions (or quietly use part of it): refuse it. */
  private checkObs(obs: ArrayLike<number>): void {
    if (obs.length !== this.obsDim) throw new RangeError(`PPO policy: the observation has ${obs.length} values, the policy takes ${this.obsDim}`);
  }

  toJSON(): PolicyJson {
    return { obsDim: this.obsDim, actDim: this.actDim, hidden: [...this.hidden], clipObs: this.obsNorm.clip, theta: f32ToBase64(this.theta), obsNorm: this.obsNorm.toJSON() };
  }

  /**
   * A policy from its saved form, read from `source` (fields inside it named with `prefix`, e.g.
   * "policy." in a checkpoint). Every part is checked first: a damaged one is an InputError naming
   * the file and field. (Parameters of another count or an odd byte length were a bare RangeError
   * such as "offset is out of bounds"; observation statistics of another size a RangeError
   * without the file; a negative or non-finite variance acted with NaN.)
   */
  static fromJSON(j: PolicyJson, source = 'policy', prefix = ''): PpoPolicy {
    const bad = (field: string, what: string): never => {
      throw new InputError(source, what, prefix + field);
    };
    for (const key of ['obsDim', 'actDim', 'hidden', 'theta', 'obsNorm'] as const) {
      if (j[key] === undefined) bad(key, `missing field "${key}"`);
    }
    const whole = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 1;
    for (const key of ['obsDim', 'actDim'] as const) if (!whole(j[key])) bad(key, `expected a whole number >= 1, found ${shownValue(j[key])}`);
    if (!Array.isArray(j.hidden) || !j.hidden.every(whole)) bad('hidden', `expected a list of whole numbers >= 1, found ${shownValue(j.hidden)}`);
    const clipObs = j.clipObs ?? 10;
    if (!(typeof clipObs === 'number' && clipObs > 0)) bad('clipObs', `expected a number > 0, found ${shownValue(clipObs)}`);
    const theta = ((): Float32Array => {
      try {
        return base64ToF32(j.theta);
      } catch (e) {
        return bad('theta', `not base64 float32 values (${(e as Error).message})`);
      }
    })();
    const expected = new Mlp([j.obsDim, ...j.hidden, j.actDim]).numParams + j.actDim + new Mlp([j.obsDim, ...j.hidden, 1]).numParams;
    if (theta.length !== expected) bad('theta', `holds ${theta.length} parameters; obsDim ${j.obsDim}, actDim ${j.actDim} and hidden [${j.hidden.join(', ')}] take ${expected}`);
    const o = j.obsNorm as Partial<PolicyJson['obsNorm']> | null;
    if (typeof o !== 'object' || o === null) bad('obsNorm', `expected {mean, var, count}, found ${shownValue(o)}`);
    for (const k of ['mean', 'var'] as const) {
      const v = (o as Record<string, unknown>)[k];
      const ok = Array.isArray(v) && v.length === j.obsDim && v.every((x) => typeof x === 'number' && Number.isFinite(x) && (k === 'mean' || x >= 0));
      if (!ok) bad(`obsNorm.${k}`, `expected ${j.obsDim} finite numbers${k === 'var' ? ' >= 0' : ''} (one per observation value), found ${Array.isArray(v) && v.length !== j.obsDim ? `${v.length} values` : shownValue(v)}`);
    }
    if (!(typeof o?.count === 'number' && o.count > 0 && Number.isFinite(o.count))) bad('obsNorm.count', `expected a finite number > 0, found ${shownValue(o?.count)}`);
    const p = new PpoPolicy(j.obsDim, j.actDim, j.hidden, clipObs, theta);
    p.obsNorm.load(j.obsNorm);
    return p;
  }

  /** Load a policy saved by a PPO run (`policy.json` in a checkpoint folder or the file itself). */
  static load(path: string): PpoPolicy {
    const { file, json } = readSavedJson<PolicyJson>(path, 'policy.json', 'policy');
    return PpoPolicy.fromJSON(json, file);
  }
}

export interface PolicyJson {
  obsDim: number;
  actDim: number;
  hidden: number[];
  clipObs?: number;
  theta: string;
  obsNorm: ReturnType<ObsNormalizer['toJSON']>;
}

/** One finished episode's returns, seen during training. */
export interface EpisodeStats {
  readonly trueReturn: number;
  /** Return under the reward the agent learns from (equals trueReturn for the true reward). */
  readonly learnedReturn: number;
  readonly length: number;
  readonly success: number;
}

export interface IterationStats {
  readonly iteration: number;
  readonly globalStep: number;
  readonly metrics: Metrics;
  readonly episodes: readonly EpisodeStats[];
}

export interface PpoTrainerOptions {
  readonly env: EnvConfig;
  readonly config?: Partial<PpoConfig>;
  /** Where rewards come from (default: the env's true reward). Can be swapped between iterations. */
  readonly rewardFn?: RewardFn;
  /** Called with every finished episode's full trajectory (turns on state recording). */
  readonly onEpisode?: (traj: Trajectory) => void;
  readonly clock?: Clock;
}

interface Rollout {
  obsN: Float32Array;
  rawObs: Float32Array;
  nextRawObs: Float32Array;
  actions: Float32Array;
  clippedActions: Float32Array;
  logProbs: Float32Array;
  values: Float32Array;
  trueRewards: Float64Array;
  /** [T * N, nTerms] the env's reward terms. */
  terms: Float64Array;
  dones: Uint8Array;
  terminated: Uint8Array;
  /** V(normalised final obs) where an episode was truncated (not terminated), else 0. */
  truncValues: Float32Array;
  lastValues: Float32Array;
}

export interface PpoCheckpoint {
  format: 'prefrl-ppo-checkpoint-v1';
  config: PpoConfig;
  env: EnvConfig;
  iteration: number;
  globalStep: number;
  policy: PolicyJson;
  adam: { m: string; v: string; t: number; lr: number };
  rewardScaler: ReturnType<RewardScaler['toJSON']>;
  rng: RngState;
}

/** Runs PPO: rollouts on a vectorised env, relabelling, updates; one iteration at a time. */
/** Every option PpoTrainer.create reads (the type makes it list each key of PpoTrainerOptions, and no other). */
const PPO_TRAINER_OPTIONS: Readonly<Record<keyof PpoTrainerOptions, true>> = { env: true, config: true, rewardFn: true, onEpisode: true, clock: true };

export class PpoTrainer {
  readonly config: PpoConfig;
  readonly policy: PpoPolicy;
  readonly spec: EnvSpec;
  rewardFn: RewardFn;
  iteration = 0;
  globalStep = 0;
  private readonly vec: VecEnv;
  private readonly adam: Adam;
  private readonly scaler: RewardScaler;
  private rng: Rng;
  private obs: Float32Array;
  private state: VecObs;
  private readonly clock: Clock;
  private readonly onEpisode?: (traj: Trajectory) => void;
  private builders: TrajectoryBuilder[] = [];
  /** Running per-env episode statistics. */
  private epTrue: Float64Array;
  private epLearned: Float64Array;
  private epLen: Int32Array;
  private evalEnv: Env | null = null;
  private closed = false;

  private constructor(vec: VecEnv, first: VecObs, opts: PpoTrainerOptions, config: PpoConfig) {
    this.vec = vec;
    this.spec = vec.spec;
    this.config = config;
    this.rewardFn = opts.rewardFn ?? trueReward;
    this.clock = opts.clock ?? systemClock;
    this.onEpisode = opts.onEpisode;
    this.rng = new Rng(config.seed).fork('ppo');
    this.policy = new PpoPolicy(this.spec.obsDim, this.spec.actDim, config.hidden, config.clipObs);
    this.policy.init(new Rng(config.seed).fork('init'), config.initLogStd);
    this.adam = new Adam(this.policy.theta.length, config.lr, 0.9, 0.999, 1e-5);
    this.scaler = new RewardScaler(config.numEnvs, config.gamma, config.clipReward);
    this.state = first;
    this.obs = first.obs;
    const N = config.numEnvs;
    this.epTrue = new Float64Array(N);
    this.epLearned = new Float64Array(N);
    this.epLen = new Int32Array(N);
    if (config.normObs) this.policy.obsNorm.update(first.obs, N);
    if (this.onEpisode) this.builders = Array.from({ length: N }, (_, i) => this.newBuilder(i));
  }

  static async create(opts: PpoTrainerOptions): Promise<PpoTrainer> {
    if (typeof opts !== 'object' || opts === null) throw new TypeError(`PpoTrainer.create: options must be an object ({ env, config?, rewardFn?, ... }), got ${shownArg(opts)}`);
    // A misspelt option was dropped without a word: { rewardfn } trained on the env's true reward.
    refuseUnknownKeys('PpoTrainer.create', opts, PPO_TRAINER_OPTIONS);
    checkEnvConfigObject(opts.env, 'PpoTrainer.create: option env');
    const config = resolvePpoConfig(opts.config ?? {});
    const vec = await createVecEnv(opts.env, { numEnvs: config.numEnvs, workers: config.workers, inline: config.inlineEnvs, seed: config.seed, recordState: Boolean(opts.onEpisode) });
    try {
      const first = await vec.reset();
      return new PpoTrainer(vec, first, opts, config);
    } catch (e) {
      await vec.close();
      throw e;
    }
  }

  /** A builder for env i's episode that starts in `s` (the state after a reset). */
  private newBuilder(i: number, s: VecObs = this.state): TrajectoryBuilder {
    const b = new TrajectoryBuilder(this.spec, Math.min(this.spec.horizon, 1024));
    const { nq, nv, na, obsDim } = this.spec;
    b.start(s.obs.subarray(i * obsDim, (i + 1) * obsDim), {
      qpos: s.qpos!.subarray(i * nq, (i + 1) * nq),
      qvel: s.qvel!.subarray(i * nv, (i + 1) * nv),
      act: s.act!.subarray(i * na, (i + 1) * na),
      time: s.time![i],
      t: 0,
    });
    return b;
  }

  /** Collect one rollout of T steps of N envs with the current policy. */
  private async collect(): Promise<{ ro: Rollout; episodes: EpisodeStats[] }> {
    const { numEnvs: N, numSteps: T, normObs } = this.config;
    const { obsDim: D, actDim: A } = this.spec;
    const nTerms = this.spec.rewardTerms.length;
    const pol = this.policy;
    const ro: Rollout = {
      obsN: new Float32Array(T * N * D),
      rawObs: new Float32Array(T * N * D),
      nextRawObs: new Float32Array(T * N * D),
      actions: new Float32Array(T * N * A),
      clippedActions: new Float32Array(T * N * A),
      logProbs: new Float32Array(T * N),
      values: new Float32Array(T * N),
      trueRewards: new Float64Array(T * N),
      terms: new Float64Array(T * N * nTerms),
      dones: new Uint8Array(T * N),
      terminated: new Uint8Array(T * N),
      truncValues: new Float32Array(T * N),
      lastValues: new Float32Array(N),
    };
    const episodes: EpisodeStats[] = [];
    const std = Float32Array.from(pol.logStd, (x) => Math.exp(x));
    const { actLow, actHigh } = this.spec;
    const finalN = new Float32Array(D);
    for (let t = 0; t < T; t++) {
      const obsN = ro.obsN.subarray(t * N * D, (t + 1) * N * D);
      ro.rawObs.set(this.obs, t * N * D);
      pol.obsNorm.apply(this.obs, N, obsN);
      const mean = pol.mean(obsN, N);
      const actions = ro.actions.subarray(t * N * A, (t + 1) * N * A);
      for (let k = 0; k < N * A; k++) actions[k] = mean[k] + std[k % A] * this.rng.normal();
      gaussianLogProb(mean, pol.logStd, actions, N, A, ro.logProbs.subarray(t * N, (t + 1) * N));
      ro.values.set(pol.values(obsN, N), t * N);
      const clipped = ro.clippedActions.subarray(t * N * A, (t + 1) * N * A);
      for (let k = 0; k < N * A; k++) {
        const j = k % A;
        clipped[k] = Math.min(actHigh[j], Math.max(actLow[j], actions[k]));
      }
      const res = await this.vec.step(actions);
      // res.terms is [N, nTerms] in env order, i.e. rows t * N .. t * N + N - 1 of ro.terms.
      ro.terms.set(res.terms, t * N * nTerms);
      for (let i = 0; i < N; i++) {
        const k = t * N + i;
        ro.trueRewards[k] = res.rewards[i];
        const done = res.terminated[i] === 1 || res.truncated[i] === 1;
        ro.dones[k] = done ? 1 : 0;
        ro.terminated[k] = res.terminated[i];
        const next = done ? res.finalObs : res.obs;
        ro.nextRawObs.set(next.subarray(i * D, (i + 1) * D), k * D);
        if (done && !res.terminated[i]) {
          pol.obsNorm.apply(res.finalObs.subarray(i * D, (i + 1) * D), 1, finalN);
          ro.truncValues[k] = pol.values(finalN, 1)[0];
        }
        this.epTrue[i] += res.rewards[i];
        this.epLen[i]++;
        if (this.onEpisode) this.record(i, res, clipped.subarray(i * A, (i + 1) * A), done);
        if (done) {
          episodes.push({ trueReturn: this.epTrue[i], learnedReturn: Number.NaN, length: this.epLen[i], success: res.success[i] });
          this.epTrue[i] = 0;
          this.epLen[i] = 0;
        }
      }
      this.state = res;
      this.obs = res.obs;
      if (normObs) pol.obsNorm.update(res.obs, N);
    }
    const lastN = new Float32Array(N * D);
    pol.obsNorm.apply(this.obs, N, lastN);
    ro.lastValues.set(pol.values(lastN, N));
    return { ro, episodes };
  }

  private record(i: number, res: Awaited<ReturnType<VecEnv['step']>>, action: Float32Array, done: boolean): void {
    const { nq, nv, na, obsDim: D } = this.spec;
    const nTerms = this.spec.rewardTerms.length;
    const b = this.builders[i];
    const src = done
      ? { obs: res.finalObs, qpos: res.finalQpos!, qvel: res.finalQvel!, act: res.finalAct! }
      : { obs: res.obs, qpos: res.qpos!, qvel: res.qvel!, act: res.act! };
    b.add(
      action,
      {
        obs: src.obs.subarray(i * D, (i + 1) * D),
        reward: res.rewards[i],
        rewardTerms: res.terms.subarray(i * nTerms, (i + 1) * nTerms),
        terminated: res.terminated[i] === 1,
        truncated: res.truncated[i] === 1,
        info: { success: res.success[i], unstable: res.unstable[i] === 1 },
      },
      {
        qpos: src.qpos.subarray(i * nq, (i + 1) * nq),
        qvel: src.qvel.subarray(i * nv, (i + 1) * nv),
        act: src.act.subarray(i * na, (i + 1) * na),
        // the time of a finished episode's last state is not returned after the auto-reset
        time: done ? b.lastTime + this.spec.dt : res.time![i],
      },
    );
    if (done) {
      this.onEpisode?.(b.finish());
      // The next episode starts in the state the vec env reset to during this step (res), not
      // in this.state, which still holds the state before the step.
      this.builders[i] = this.newBuilder(i, res);
    }
  }

  /**
   * Collect `steps` env steps (rounded up to whole rollouts) with the current, untrained policy
   * and no updates: fills the segment pool before the first feedback round. Observation
   * statistics are updated. Returns the episodes that finished.
   */
  /** After close() the trainer's envs are gone: an iteration failed as "vec env toy-reach: step() after close()". */
  private checkOpen(what: string): void {
    if (this.closed) throw new Error(`PpoTrainer.${what}: used after close()`);
  }

  async warmup(steps: number): Promise<EpisodeStats[]> {
    this.checkOpen('warmup');
    const B = this.config.numEnvs * this.config.numSteps;
    const out: EpisodeStats[] = [];
    for (let done = 0; done < steps; done += B) {
      const { episodes } = await this.collect();
      this.globalStep += B;
      out.push(...episodes);
    }
    return out;
  }

  /** One PPO iteration: collect a rollout, relabel its rewards, update the networks. */
  async iterate(): Promise<IterationStats> {
    const c = this.config;
    const N = c.numEnvs;
    const T = c.numSteps;
    const B = N * T;
    this.checkOpen('iterate');
    // With the learning rate annealed to 0 at totalSteps, an iteration past it collected and
    // "updated" at lr 0 without a word: a script looping a fixed count stopped learning.
    if (c.annealLr && this.globalStep >= c.totalSteps) {
      throw new RangeError(
        `PpoTrainer.iterate: the run's totalSteps (${c.totalSteps}) are done (globalStep ${this.globalStep}): the learning rate is annealed to 0 there; give a larger config.totalSteps, loop while trainer.globalStep < trainer.config.totalSteps, or set config.annealLr false`,
      );
    }
    const t0 = this.clock.now();
    this.iteration++;
    // Linear annealing over the env-step budget (CleanRL anneals over iterations; the same
    // schedule when no warm-up steps were collected without updates).
    if (c.annealLr) this.adam.lr = annealedLr(c.lr, this.globalStep, c.totalSteps);
    const { ro, episodes } = await this.collect();
    const tCollect = this.clock.now();
    this.globalStep += B;

    // Relabel with the reward source, on raw observations and the actions the env applied.
    const learned = this.rewardFn({ n: B, obs: ro.rawObs, actions: ro.clippedActions, nextObs: ro.nextRawObs, terms: ro.terms }, ro.trueRewards);
    if (learned?.length !== B) throw new Error(`PpoTrainer.iterate: rewardFn returned ${learned?.length ?? shownArg(learned)} rewards for a batch of ${B} transitions (numEnvs x numSteps); it must return one per transition (batch.n)`);
    const rewards = Float32Array.from(learned);
    // Learned returns of finished episodes, for logging next to the true ones.
    this.attachLearnedReturns(episodes, learned, ro.dones);
    if (c.normReward) for (let t = 0; t < T; t++) this.scaler.step(rewards, ro.dones, t * N);
    bootstrapTruncated(rewards, ro.dones, ro.terminated, ro.truncValues, c.gamma);
    const { advantages, returns } = gae(rewards, ro.values, ro.dones, ro.lastValues, T, N, c.gamma, c.gaeLambda);

    const m = ppoUpdate(this.policy, this.adam, this.rng, c, ro, advantages, returns);
    const tUpdate = this.clock.now();
    const metrics: Metrics = {
      ...m,
      'charts/learning_rate': this.adam.lr,
      'charts/sps': B / Math.max(1e-9, (tUpdate - t0) / 1000),
      'charts/collect_seconds': (tCollect - t0) / 1000,
      'charts/update_seconds': (tUpdate - tCollect) / 1000,
      'charts/policy_std': Math.exp(this.policy.logStd.reduce((s, x) => s + x, 0) / this.policy.logStd.length),
      'reward/learned_mean': mean(learned),
      'reward/true_mean': mean(ro.trueRewards),
    };
    if (episodes.length > 0) {
      metrics['charts/episodic_return'] = mean(episodes.map((e) => e.trueReturn));
      metrics['charts/episodic_learned_return'] = mean(episodes.map((e) => e.learnedReturn));
      metrics['charts/episodic_length'] = mean(episodes.map((e) => e.length));
    }
    return { iteration: this.iteration, globalStep: this.globalStep, metrics, episodes };
  }

  /** Sum the learned rewards of each finished episode (episodes end in step order). */
  private attachLearnedReturns(episodes: EpisodeStats[], learned: Float32Array, dones: Uint8Array): void {
    const N = this.config.numEnvs;
    const T = this.config.numSteps;
    let e = 0;
    for (let t = 0; t < T; t++) {
      for (let i = 0; i < N; i++) {
        const k = t * N + i;
        this.epLearned[i] += learned[k];
        if (dones[k]) {
          if (e < episodes.length) (episodes[e] as { learnedReturn: number }).learnedReturn = this.epLearned[i];
          e++;
          this.epLearned[i] = 0;
        }
      }
    }
  }

  /**
   * Deterministic evaluation: `episodes` episodes with the mean action in a separate env, with
   * the observation statistics frozen. Seeds are fixed per evaluation index, so two policies are
   * compared on the same start states.
   */
  async evaluate(episodes: number, envConfig: EnvConfig): Promise<EvaluationResult> {
    // After close() it made an env that nothing disposed.
    this.checkOpen('evaluate');
    if (!this.evalEnv) this.evalEnv = await makeEnv(envConfig);
    return evaluatePolicyAsync(this.evalEnv, this.policy.deterministic(), episodes, this.config.seed);
  }

  checkpoint(): PpoCheckpoint {
    const s = this.adam.getState();
    return {
      format: 'prefrl-ppo-checkpoint-v1',
      config: this.config,
      env: { id: this.spec.id },
      iteration: this.iteration,
      globalStep: this.globalStep,
      policy: this.policy.toJSON(),
      adam: { m: f32ToBase64(Float32Array.from(s.m)), v: f32ToBase64(Float32Array.from(s.v)), t: s.t, lr: s.lr },
      rewardScaler: this.scaler.toJSON(),
      rng: this.rng.getState(),
    };
  }

  /**
   * Save the checkpoint (and the policy alone, for datasets and evaluation) into `dir` (made if
   * missing) and return `dir`, which loadSavedPolicy and PpoPolicy.load read. `envConfig`: the env
   * config object the trainer was made with (recorded in checkpoint.json).
   */
  save(dir: string, envConfig: EnvConfig): string {
    checkEnvConfigObject(envConfig, 'PpoTrainer.save: envConfig');
    makeFolder(dir);
    const ck = { ...this.checkpoint(), env: absoluteEnvConfig(envConfig) };
    writeJsonAtomic(join(dir, 'policy.json'), ck.policy);
    writeJsonAtomic(join(dir, 'checkpoint.json'), ck);
    return dir;
  }

  /**
   * Restore networks, optimiser, normalisers, RNG and counters from a checkpoint. A damaged one
   * (a field missing or of the wrong kind) is an InputError naming `source` and the field; the
   * trainer is changed only once every part has been read.
   */
  restore(ck: PpoCheckpoint, source = 'checkpoint'): void {
    checkPpoCheckpoint(ck, source);
    const p = PpoPolicy.fromJSON(ck.policy, source, 'policy.');
    if (p.theta.length !== this.policy.theta.length) throw new InputError(source, 'the saved policy does not match this env and network size', 'policy');
    const part = <T>(field: string, read: () => T): T => {
      try {
        return read();
      } catch (e) {
        throw new InputError(source, `damaged checkpoint: ${(e as Error).message}; delete it to restart the run from its stored labels`, field);
      }
    };
    // Read into throwaway objects first: a damaged part fails before anything is changed.
    part('policy.obsNorm', () => new ObsNormalizer(this.policy.obsNorm.dim).load(ck.policy.obsNorm));
    // (checkPpoCheckpoint compared their sizes with the saved policy's, and that with this one's.)
    const m = part('adam.m', () => base64ToF32(ck.adam.m));
    const v = part('adam.v', () => base64ToF32(ck.adam.v));
    const rng = part('rng', () => Rng.fromState(ck.rng));
    part('rewardScaler', () => new RewardScaler(this.config.numEnvs, this.config.gamma).load(ck.rewardScaler));
    this.policy.theta.set(p.theta);
    this.policy.obsNorm.load(ck.policy.obsNorm);
    this.adam.setState({ m, v, t: ck.adam.t, lr: ck.adam.lr });
    this.scaler.load(ck.rewardScaler);
    this.rng = rng;
    this.iteration = ck.iteration;
    this.globalStep = ck.globalStep;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.evalEnv?.dispose();
    this.evalEnv = null;
    await this.vec.close();
  }
}

/**
 * Check the shape of a PPO checkpoint read from `source` (its format, step counters, optimiser
 * state, reward scaler and random state): an InputError naming the file and the field at fault,
 * so a damaged file says so instead of failing with a TypeError somewhere later.
 */
export function checkPpoCheckpoint(ck: unknown, source: string): asserts ck is PpoCheckpoint {
  const bad = (field: string, what: string): never => {
    throw new InputError(source, `damaged checkpoint: ${what}; delete it to restart the run from its stored labels`, field);
  };
  if (typeof ck !== 'object' || ck === null || Array.isArray(ck)) throw new InputError(source, 'not a PPO checkpoint (expected a JSON object)');
  const c = ck as Record<string, unknown>;
  if (c.format !== 'prefrl-ppo-checkpoint-v1') throw new InputError(source, `unknown checkpoint format ${JSON.stringify(c.format)}`, 'format');
  for (const k of ['globalStep', 'iteration'] as const) {
    if (typeof c[k] !== 'number' || !Number.isInteger(c[k]) || (c[k] as number) < 0) bad(k, `expected an integer >= 0, found ${JSON.stringify(c[k])}`);
  }
  const obj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const policy = c.policy;
  if (!obj(policy)) return bad('policy', 'missing');
  const adam = c.adam;
  if (!obj(adam)) return bad('adam', 'missing');
  if (typeof adam.m !== 'string' || typeof adam.v !== 'string') bad('adam', 'expected base64 strings m and v');
  if (typeof adam.t !== 'number' || typeof adam.lr !== 'number' || !Number.isFinite(adam.t) || !Number.isFinite(adam.lr)) bad('adam', 'expected numbers t and lr');
  // Its parts agree with each other: the optimiser keeps two values per policy parameter.
  const count = (field: string, b64: unknown): number => {
    try {
      return base64ToF32(b64 as string).length;
    } catch (e) {
      return bad(field, `not base64 float32 values (${(e as Error).message})`);
    }
  };
  if (typeof policy.theta !== 'string') bad('policy.theta', 'expected a base64 string');
  const params = count('policy.theta', policy.theta);
  const m = count('adam.m', adam.m);
  const v = count('adam.v', adam.v);
  if (m !== params || v !== params) bad('adam', `the optimiser state has ${m} and ${v} values, the policy ${params} parameters`);
  const scaler = c.rewardScaler;
  if (!obj(scaler) || !obj(scaler.rms) || !Array.isArray(scaler.returns)) bad('rewardScaler', 'expected {rms, returns}');
  const rng = c.rng;
  if (!obj(rng) || typeof rng.path !== 'string' || !Array.isArray(rng.s) || rng.s.length !== 4) bad('rng', 'expected {path, s: [4 numbers]}');
}

/**
 * PPO_DEFAULTS with `partial` over them (a field given as undefined keeps its default), checked:
 * a RangeError naming the first bad field. (numSteps 0 made every update loop forever, a missing
 * or NaN gamma, lambda or learning rate trained on NaN.)
 */
export function resolvePpoConfig(partial: Partial<PpoConfig>): PpoConfig {
  // A misspelt field (totalstep, num_envs) was dropped without a word, and the run took the
  // default in its place (a million steps): a field PpoConfig does not have is refused.
  if (typeof partial !== 'object' || partial === null) throw new TypeError(`PpoConfig must be an object of PPO settings, got ${shownArg(partial)}`);
  refuseUnknownKeys('PpoConfig', partial, PPO_DEFAULTS, 'field');
  const c = { ...PPO_DEFAULTS, ...Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined)) } as PpoConfig;
  const bad = (k: keyof PpoConfig, what: string): never => {
    const v = c[k];
    throw new RangeError(`PpoConfig.${k} must be ${what}, got ${Array.isArray(v) ? `[${v.map(shownArg).join(', ')}]` : shownArg(v)}`);
  };
  const batch = c.numEnvs * c.numSteps;
  for (const k of ['numEnvs', 'totalSteps', 'numSteps', 'numMinibatches', 'updateEpochs'] as const) if (!(Number.isSafeInteger(c[k]) && c[k] >= 1)) bad(k, 'a whole number >= 1');
  if (!(Number.isSafeInteger(c.workers) && c.workers >= 0)) bad('workers', 'a whole number >= 0');
  for (const k of ['gamma', 'gaeLambda'] as const) if (!(typeof c[k] === 'number' && c[k] >= 0 && c[k] <= 1)) bad(k, 'a number in [0, 1]');
  for (const k of ['lr', 'vfCoef'] as const) if (!(Number.isFinite(c[k]) && c[k] >= 0)) bad(k, 'a finite number >= 0');
  for (const k of ['entCoef', 'initLogStd'] as const) if (!Number.isFinite(c[k])) bad(k, 'a finite number');
  for (const k of ['clipCoef', 'maxGradNorm', 'clipObs', 'clipReward'] as const) if (!(typeof c[k] === 'number' && c[k] > 0)) bad(k, 'a number > 0');
  if (c.targetKl !== null && !(typeof c.targetKl === 'number' && c.targetKl >= 0)) bad('targetKl', 'null or a number >= 0');
  if (!Array.isArray(c.hidden) || !c.hidden.every((h) => Number.isSafeInteger(h) && h >= 1)) bad('hidden', 'a list of whole numbers >= 1');
  if (batch % c.numMinibatches !== 0) throw new RangeError(`PpoConfig: the batch (numEnvs x numSteps = ${batch}) must divide into ${c.numMinibatches} minibatches (numMinibatches)`);
  return c;
}

/** evaluatePolicy's arguments, as a script may get them wrong: an error naming the argument. */
function checkEvaluateArgs(env: unknown, policy: unknown, episodes: unknown, seed: unknown): void {
  const e = env as Partial<Env> | null;
  if (typeof e !== 'object' || e === null || typeof e.reset !== 'function' || typeof e.step !== 'function') throw new TypeError(`evaluatePolicy: env must be an env (from makeEnv), got ${shownArg(env)}`);
  if (typeof policy !== 'function') throw new TypeError(`evaluatePolicy: policy must be a function from an observation to an action, got ${shownArg(policy)}`);
  if (typeof episodes !== 'number') throw new TypeError(`evaluatePolicy: episodes must be a whole number >= 1, got ${shownArg(episodes)}`);
  if (!Number.isSafeInteger(episodes) || episodes < 1) throw new RangeError(`evaluatePolicy: episodes must be a whole number >= 1, got ${shownArg(episodes)}`);
  if (typeof seed !== 'number') throw new TypeError(`evaluatePolicy: seed must be a finite number, got ${shownArg(seed)}`);
  if (!Number.isFinite(seed)) throw new RangeError(`evaluatePolicy: seed must be a finite number, got ${shownArg(seed)}`);
}

/**
 * Mean true return (the env's reward), success rate and mean length over `episodes` whole
 * episodes of `policy`. Episode e resets with `new Rng(seed).fork('eval').fork(e).seed31()`:
 * the same seed gives the same start states (not those of `rollout` with that seed, which
 * forks 'episode'), and the same returns when the policy is deterministic (PPO's mean action,
 * an offline actor); a stochastic policy draws from its own Rng. `returns` holds each episode's
 * return, in order. `episodes` must be a whole number >= 1 and `seed` a finite number (else a
 * RangeError, a TypeError for a value of the wrong type, before any episode): a NaN count gave
 * means of NaN.
 */
export function evaluatePolicy(env: Env, policy: Policy, episodes: number, seed: number): EvaluationResult {
  const steps = evaluationSteps(env, policy, episodes, seed);
  let r = steps.next();
  while (!r.done) r = steps.next();
  return r.value;
}

/** What evaluatePolicy returns. */
export interface EvaluationResult {
  readonly meanReturn: number;
  readonly returns: number[];
  readonly meanSuccess: number;
  readonly meanLength: number;
}

/** Env steps between the turns evaluatePolicyAsync gives the event loop. */
export const EVAL_YIELD_STEPS = 2048;

/**
 * evaluatePolicy, giving the event loop a turn every EVAL_YIELD_STEPS env steps (the same
 * episodes, steps and result): Ctrl-C's handler runs during a long evaluation (a task whose
 * episodes last millions of steps had held `train` past Ctrl-C and SIGTERM until it ended).
 */
export async function evaluatePolicyAsync(env: Env, policy: Policy, episodes: number, seed: number): Promise<EvaluationResult> {
  const steps = evaluationSteps(env, policy, episodes, seed);
  let r = steps.next();
  while (!r.done) {
    await new Promise<void>((res) => setImmediate(res));
    r = steps.next();
  }
  return r.value;
}

/** evaluatePolicy's episodes, pausing (yield) after every EVAL_YIELD_STEPS env steps. */
function* evaluationSteps(env: Env, policy: Policy, episodes: number, seed: number): Generator<void, EvaluationResult> {
  checkEvaluateArgs(env, policy, episodes, seed);
  const returns: number[] = [];
  let success = 0;
  let length = 0;
  const seeds = new Rng(seed).fork('eval');
  for (let e = 0; e < episodes; e++) {
    let obs = env.reset(seeds.fork(e).seed31());
    let ret = 0;
    for (;;) {
      const r = env.step(policy(obs));
      ret += r.reward;
      length++;
      obs = r.obs;
      if (r.terminated || r.truncated) {
        success += Number.isFinite(r.info.success) ? (r.info.success as number) : 0;
        break;
      }
      if (length % EVAL_YIELD_STEPS === 0) yield;
    }
    returns.push(ret);
  }
  return { meanReturn: mean(returns), returns, meanSuccess: success / episodes, meanLength: length / episodes };
}

/**
 * The critic of a trained PPO run as a state-value function in the env's reward units, e.g. V*
 * for the regret oracle in MuJoCo tasks. The critic learned values of *scaled* rewards
 * (r / sqrt(var(G))), so its outputs are multiplied back by sqrt(var(G) + 1e-8) from the run's
 * reward scaler; values are discounted with the run's gamma.
 *
 * With `expect`, the checkpoint must come from that env (its saved env id) and take its
 * observations (the critic's input size): otherwise a UsageError naming `expect.flag` (a critic
 * fed another env's observations gives NaN or meaningless values, not an error).
 */
export function expertValueFunction(
  checkpointPath: string,
  expect?: { readonly spec: Pick<EnvSpec, 'id' | 'obsDim'>; readonly flag?: string; readonly given?: string },
): { value(obs: Float32Array): number; gamma: number; scale: number } {
  const { file, json: ck } = readSavedJson<PpoCheckpoint>(checkpointPath, 'checkpoint.json', 'PPO checkpoint');
  if (ck.format !== 'prefrl-ppo-checkpoint-v1') throw new InputError(file, `not a PPO checkpoint (format ${JSON.stringify(ck.format)})`, 'format');
  const policy = PpoPolicy.fromJSON(ck.policy, file, 'policy.');
  if (expect) {
    const flag = expect.flag ?? '--expert';
    const given = expect.given ?? checkpointPath;
    const want = expect.spec.id.startsWith('custom') ? 'custom' : expect.spec.id;
    const savedEnv = typeof ck.env?.id === 'string' ? ck.env.id : null;
    if (savedEnv !== null && savedEnv !== want) {
      throw new UsageError(`${flag}: ${given} is a PPO run on env "${savedEnv}" (${policy.obsDim} observation values); this run's env is "${expect.spec.id}" (${expect.spec.obsDim}): the expert's critic must come from the same env`);
    }
    if (policy.obsDim !== expect.spec.obsDim) {
      throw new UsageError(`${flag}: the critic in ${given} takes ${policy.obsDim} observation values; env "${expect.spec.id}" has ${expect.spec.obsDim}: the expert's critic must come from the same env`);
    }
  }
  // A damaged config or reward scaler gave a TypeError, or NaN values (a negative variance).
  const config = ck.config as Partial<PpoConfig> | undefined;
  if (typeof config !== 'object' || config === null || typeof config.gamma !== 'number' || !(config.gamma >= 0 && config.gamma <= 1)) {
    throw new InputError(file, 'damaged checkpoint: expected a config with a discount gamma in [0, 1]', 'config');
  }
  let scale = 1;
  if (config.normReward) {
    try {
      const scaler = new RewardScaler(1, config.gamma);
      scaler.load(ck.rewardScaler);
      scale = Math.sqrt(scaler.rms.var[0] + 1e-8);
    } catch (e) {
      throw new InputError(file, `damaged checkpoint: ${(e as Error).message}`, 'rewardScaler');
    }
  }
  const buf = new Float32Array(policy.obsDim);
  return {
    gamma: ck.config.gamma,
    scale,
    value(obs: Float32Array): number {
      policy.obsNorm.apply(obs, 1, buf);
      return policy.values(buf, 1)[0] * scale;
    },
  };
}

/** The parts of a rollout an update needs ([B] or [B, dim] rows, B = numEnvs x numSteps). */
export interface UpdateBatch {
  /** Normalised observations [B, obsDim]. */
  readonly obsN: Float32Array;
  /** Sampled (unclipped) actions [B, actDim]. */
  readonly actions: Float32Array;
  /** Log-probabilities of the actions when sampled [B]. */
  readonly logProbs: Float32Array;
  /** Value predictions when sampled [B]. */
  readonly values: Float32Array;
}

/**
 * One PPO update (CleanRL's inner loop): `updateEpochs` passes over the batch in
 * `numMinibatches` shuffled minibatches; per minibatch the clipped surrogate, the (clipped) value
 * loss and the entropy bonus, hand-derived gradients through the Gaussian policy, global
 * gradient-norm clipping and one Adam step on all parameters. Returns the loss metrics.
 */
export function ppoUpdate(pol: PpoPolicy, adam: Adam, rng: Rng, c: PpoConfig, ro: UpdateBatch, advantages: Float32Array, returns: Float32Array): Metrics {
const D = pol.obsDim;
const A = pol.actDim;
const B = c.numEnvs * c.numSteps;
  const mb = Math.floor(B / c.numMinibatches);
  const grad = new Float32Array(pol.theta.length);
  const sl = pol.slices;
  const gActor = grad.subarray(sl.actor[0], sl.actor[1]);
  const gLogStd = grad.subarray(sl.logStd[0], sl.logStd[1]);
  const gCritic = grad.subarray(sl.critic[0], sl.critic[1]);
  const obsMb = new Float32Array(mb * D);
  const actMb = new Float32Array(mb * A);
  const oldLp = new Float32Array(mb);
  const advMb = new Float32Array(mb);
  const retMb = new Float32Array(mb);
  const oldV = new Float32Array(mb);
  const dMean = new Float32Array(mb * A);
  const dV = new Float32Array(mb);
  let pgSum = 0;
  let vSum = 0;
  let klSum = 0;
  let clipSum = 0;
  let gnSum = 0;
  let count = 0;
  let stoppedAt = -1;
  let lastKl = 0;
  for (let epoch = 0; epoch < c.updateEpochs; epoch++) {
    const perm = rng.permutation(B);
    for (let start = 0; start + mb <= B; start += mb) {
      for (let r = 0; r < mb; r++) {
        const k = perm[start + r];
        obsMb.set(ro.obsN.subarray(k * D, (k + 1) * D), r * D);
        actMb.set(ro.actions.subarray(k * A, (k + 1) * A), r * A);
        oldLp[r] = ro.logProbs[k];
        advMb[r] = advantages[k];
        retMb[r] = returns[k];
        oldV[r] = ro.values[k];
      }
      if (c.normAdv) normalizeInPlace(advMb, mb);
      grad.fill(0);
      // policy
      const aCache = pol.actor.forward(obsMb, mb);
      const mean = Mlp.output(aCache);
      const newLp = gaussianLogProb(mean, pol.logStd, actMb, mb, A);
      const pl = clippedSurrogate(newLp, oldLp, advMb, mb, c.clipCoef);
      for (let j = 0; j < A; j++) {
        const inv = Math.exp(-2 * pol.logStd[j]);
        let g = 0;
        for (let r = 0; r < mb; r++) {
          const diff = actMb[r * A + j] - mean[r * A + j];
          // d logp / d mean = diff / sigma^2; d logp / d logStd = diff^2 / sigma^2 - 1
          dMean[r * A + j] = pl.dLogProb[r] * diff * inv;
          g += pl.dLogProb[r] * (diff * diff * inv - 1);
        }
        // entropy bonus: loss -= entCoef * H, dH / dlogStd_j = 1
        gLogStd[j] += g - c.entCoef;
      }
      pol.actor.backward(aCache, dMean, gActor);
      // value
      const cCache = pol.critic.forward(obsMb, mb);
      const v = Mlp.output(cCache);
      const vl = valueLoss(v, oldV, retMb, mb, c.clipVloss ? c.clipCoef : null);
      for (let r = 0; r < mb; r++) dV[r] = c.vfCoef * vl.dValue[r];
      pol.critic.backward(cCache, dV, gCritic);
      gnSum += clipGradNorm(grad, c.maxGradNorm);
      adam.step(pol.theta, grad);
      pgSum += pl.loss;
      vSum += vl.loss;
      klSum += pl.approxKl;
      clipSum += pl.clipFraction;
      count++;
      lastKl = pl.approxKl;
    }
    // CleanRL checks the target after the whole epoch, with the last minibatch's KL.
    if (c.targetKl !== null && lastKl > c.targetKl) {
      stoppedAt = epoch;
      break;
    }
  }
  // explained variance of the value predictions on this rollout
  let varR = 0;
  let varE = 0;
  let mR = 0;
  let mE = 0;
  for (let k = 0; k < B; k++) {
    mR += returns[k];
    mE += returns[k] - ro.values[k];
  }
  mR /= B;
  mE /= B;
  for (let k = 0; k < B; k++) {
    varR += (returns[k] - mR) ** 2;
    varE += (returns[k] - ro.values[k] - mE) ** 2;
  }
  return {
    'losses/policy_loss': pgSum / count,
    'losses/value_loss': vSum / count,
    'losses/entropy': gaussianEntropy(pol.logStd),
    'losses/approx_kl': klSum / count,
    'losses/clipfrac': clipSum / count,
    'losses/grad_norm': gnSum / count,
    'losses/explained_variance': varR === 0 ? Number.NaN : 1 - varE / varR,
    'losses/early_stop_epoch': stoppedAt,
  };
}
