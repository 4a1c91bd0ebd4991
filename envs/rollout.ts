/**
 * Single-env rollouts that record full trajectories (obs, actions, rewards, reward terms,
 * qpos/qvel per step, episode boundaries). Vectorised collection for training lives in
 * envs/vec.ts; this is the simple, exact path for demos, datasets and tests.
 */
import { shownArg, refuseUnknownKeys } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import { type Trajectory, TrajectoryBuilder } from './trajectory.js';
import type { Env, EnvSpec } from './types.js';

/** Maps an observation to an action (may keep its own state; must use its own seeded RNG). */
export type Policy = (obs: Float32Array) => ArrayLike<number>;

/**
 * Uniformly random actions in the action box: a fresh array every call, so a caller may keep
 * the actions it is handed (it used to be one array overwritten at every call, which a kept
 * action silently followed).
 */
export function randomPolicy(spec: EnvSpec, rng: Rng): Policy {
  // Checked here, not at the first action: a policy made without its seeded generator failed
  // only inside rollout, with a message about reading 'range' of undefined.
  if (typeof spec !== 'object' || spec === null || !Number.isSafeInteger(spec.actDim) || !spec.actLow || !spec.actHigh) {
    throw new TypeError(`randomPolicy: spec must be an env's spec (env.spec), got ${shownArg(spec)}`);
  }
  if (typeof (rng as Partial<Rng> | null)?.range !== 'function') {
    throw new TypeError(`randomPolicy: rng must be a seeded Rng (new Rng(seed), or rng.fork('policy')), got ${shownArg(rng)}`);
  }
  const n = spec.actDim;
  return () => {
    const a = new Float64Array(n);
    for (let i = 0; i < n; i++) a[i] = rng.range(spec.actLow[i], spec.actHigh[i]);
    return a;
  };
}

export interface RolloutOptions {
  /** Number of episodes to collect. */
  readonly episodes: number;
  /** Seed of the episode seeds: episode k resets with new Rng(seed).fork('episode').fork(k).seed31(). */
  readonly seed: number;
  /** Cap on steps per episode (default: the env's horizon). */
  readonly maxSteps?: number;
  /** Called after every step (e.g. for progress). */
  readonly onStep?: () => void;
}

/** Every option rollout reads (the type makes it list each key of RolloutOptions, and no other). */
const ROLLOUT_OPTIONS: Readonly<Record<keyof RolloutOptions, true>> = { episodes: true, seed: true, maxSteps: true, onStep: true };
const ROLLOUT_OPTION_KEYS: readonly string[] = Object.keys(ROLLOUT_OPTIONS);

/** Seed used for episode k of a rollout with seed `seed`. */
export function episodeSeed(seed: number, k: number): number {
  return new Rng(seed).fork('episode').fork(k).seed31();
}

/** Episode k of a rollout: reset with its seed, run to the end or `cap` steps, record it. */
function recordEpisode(env: Env, policy: Policy, opts: RolloutOptions, k: number): Trajectory {
  const cap = opts.maxSteps ?? env.spec.horizon;
  let obs = env.reset(episodeSeed(opts.seed, k));
  const b = new TrajectoryBuilder(env.spec, Math.min(cap, env.spec.horizon));
  b.start(obs, env.getState());
  for (let t = 0; t < cap; t++) {
    const action = policy(obs);
    const step = env.step(action);
    b.add(action, step, env.getState());
    obs = step.obs;
    opts.onStep?.();
    if (step.terminated || step.truncated) break;
  }
  return b.finish();
}

/** A script's rollout options, checked before any episode: a NaN episode count recorded nothing without a word. */
function checkRolloutOptions(env: Env, policy: Policy, opts: RolloutOptions, fn: string): void {
  if (typeof env !== 'object' || env === null || typeof env.reset !== 'function' || typeof env.step !== 'function') {
    throw new TypeError(`${fn}: env must be an environment with reset() and step() (makeEnv gives one), got ${shownArg(env)}`);
  }
  if (typeof policy !== 'function') throw new TypeError(`${fn}: policy must be a function obs => action, got ${shownArg(policy)}`);
  if (typeof opts !== 'object' || opts === null) throw new TypeError(`${fn}: options { episodes, seed } are required`);
  // A misspelt option (maxstep, onstep) was dropped without a word: every episode ran to the horizon.
  const known = fn === 'rolloutAsync' ? [...ROLLOUT_OPTION_KEYS, 'afterEpisode'] : ROLLOUT_OPTION_KEYS;
  refuseUnknownKeys(fn, opts, known);
  if (typeof opts.episodes !== 'number' || !Number.isSafeInteger(opts.episodes) || opts.episodes < 0) throw new RangeError(`${fn}: option episodes must be a whole number >= 0, got ${shownArg(opts.episodes)}`);
  if (typeof opts.seed !== 'number' || !Number.isFinite(opts.seed)) throw new RangeError(`${fn}: option seed must be a finite number, got ${shownArg(opts.seed)}`);
  if (opts.maxSteps !== undefined && (typeof opts.maxSteps !== 'number' || !Number.isSafeInteger(opts.maxSteps) || opts.maxSteps < 1)) {
    throw new RangeError(`${fn}: option maxSteps must be a whole number >= 1, got ${shownArg(opts.maxSteps)}`);
  }
}

/** Run whole episodes and record them. Deterministic for a given env, policy and seed. */
export function rollout(env: Env, policy: Policy, opts: RolloutOptions): Trajectory[] {
  checkRolloutOptions(env, policy, opts, 'rollout');
  const out: Trajectory[] = [];
  for (let k = 0; k < opts.episodes; k++) out.push(recordEpisode(env, policy, opts, k));
  return out;
}

/**
 * `rollout`, awaiting `afterEpisode` (given the episodes done) after each episode: a caller lets
 * the event loop run there (a Ctrl-C listener, progress output). The same trajectories as `rollout`.
 */
export async function rolloutAsync(env: Env, policy: Policy, opts: RolloutOptions & { readonly afterEpisode: (done: number) => Promise<void> }): Promise<Trajectory[]> {
  checkRolloutOptions(env, policy, opts, 'rolloutAsync');
  const out: Trajectory[] = [];
  for (let k = 0; k < opts.episodes; k++) {
    out.push(recordEpisode(env, policy, opts, k));
    await opts.afterEpisode(out.length);
  }
  return out;
}
