/**
 * The environment contract checks behind `prefrl check-env` and the registry-wide tests:
 *   determinism   two fresh envs with the same seed and actions agree bit for bit
 *   rewardSum     reward == sum_k weight_k * term_k at every step (recomputed here)
 *   stateRoundTrip  a state (qpos, qvel, act, time) saved mid-episode and restored in a fresh
 *                 env replays bit for bit
 *   spaces        observations have the right size, are finite and inside their bounds;
 *                 out-of-range actions are clipped; wrong-length or NaN actions are refused
 *   transitionTerms  env.transitionTerms(before, a, after) reproduces the step's terms
 *   horizon       episodes are truncated exactly at the horizon (unless terminated first)
 *   memory        no WASM heap growth over 1,000 resets, each followed by a step (MuJoCo envs)
 */
import { refuseUnknownKeys } from '../core/errors.js';
import { Logger } from '../core/log.js';
import { Rng } from '../core/rng.js';
import { checkEnvConfigObject, type EnvConfig, makeEnv } from './registry.js';
import { ActionError, type Env, type EnvSpec, type EnvState, type StepResult } from './types.js';

export interface CheckResult {
  readonly ok: boolean;
  /** What was found (numbers, the first failure). */
  readonly detail: string;
  /** True when the check does not apply to this env (counts as ok). */
  readonly skipped?: boolean;
}

/** What the checked env is: its spec, and for a MuJoCo env the names behind its actions. */
export interface CheckedEnv {
  readonly spec: EnvSpec;
  /** Actuator names, one per action entry ('' where unnamed); absent for a non-MuJoCo env. */
  readonly actuators?: readonly string[];
  /** Action entries whose actuator has no ctrlrange in the model (the env gives them [-1, 1]). */
  readonly unlimited?: readonly number[];
  /** For a bring-your-own model: its task module's path, or null for the default task. */
  readonly task?: string | null;
}

export interface CheckReport {
  readonly ok: boolean;
  readonly env: string;
  /** The env that was checked (sizes, bounds, dt, horizon, reward terms, goal). */
  readonly about: CheckedEnv;
  readonly checks: Record<string, CheckResult>;
  /** What the env warned about during the checks, one line per kind (e.g. how many steps went unstable). */
  readonly warnings: string[];
}

export interface CheckOptions {
  /** Steps for the determinism and round-trip checks (default 300). */
  readonly steps?: number;
  /** Resets for the memory check (default 1000). */
  readonly resets?: number;
  readonly seed?: number;
  /** Called after each check (for progress). */
  readonly onCheck?: (name: string, result: CheckResult) => void;
}

function randomActions(env: Env, n: number, rng: Rng): Float64Array[] {
  const { actLow, actHigh, actDim } = env.spec;
  const out: Float64Array[] = [];
  for (let i = 0; i < n; i++) {
    const a = new Float64Array(actDim);
    for (let j = 0; j < actDim; j++) a[j] = rng.range(actLow[j], actHigh[j]);
    out.push(a);
  }
  return out;
}

/** Run actions from a fresh reset(seed), resetting (with the env's own RNG) when episodes end. */
function run(env: Env, seed: number, actions: readonly Float64Array[]): { obs: Float32Array[]; steps: StepResult[] } {
  const obs = [env.reset(seed)];
  const steps: StepResult[] = [];
  for (const a of actions) {
    const r = env.step(a);
    steps.push(r);
    obs.push(r.obs);
    if (r.terminated || r.truncated) obs.push(env.reset());
  }
  return { obs, steps };
}

function sameF32(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

function sameF64(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

function fail(detail: string): CheckResult {
  return { ok: false, detail };
}

function pass(detail: string): CheckResult {
  return { ok: true, detail };
}

/** Why two envs made alike start apart after reset(seed), and what to do. */
const NOT_SEEDED =
  " (the first observation after reset(seed)): the initial state must come from the seed alone; a task module draws its random numbers from initialize()'s rng argument, not Math.random()";

function checkDeterminism(a: Env, b: Env, seed: number, actions: Float64Array[]): CheckResult {
  const ra = run(a, seed, actions);
  const rb = run(b, seed, actions);
  for (let i = 0; i < ra.obs.length; i++) {
    if (!sameF32(ra.obs[i], rb.obs[i])) return fail(`observations differ at index ${i}${i === 0 ? NOT_SEEDED : ''}`);
  }
  for (let i = 0; i < ra.steps.length; i++) {
    if (!Object.is(ra.steps[i].reward, rb.steps[i].reward)) return fail(`rewards differ at step ${i}`);
  }
  // Tasks may have a fixed initial state; say so rather than fail.
  const other = a.reset(seed + 1);
  const note = sameF32(other, ra.obs[0]) ? 'the initial state does not depend on the seed' : 'different seeds give different starts';
  return pass(`${actions.length} steps identical across two envs; ${note}`);
}

function checkRewardSum(env: Env, seed: number, actions: Float64Array[]): CheckResult {
  const { steps } = run(env, seed, actions);
  const terms = env.spec.rewardTerms;
  let worst = 0;
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i];
    if (s.rewardTerms.length !== terms.length) return fail(`step ${i}: ${s.rewardTerms.length} terms, spec names ${terms.length}`);
    let sum = 0;
    for (let k = 0; k < terms.length; k++) sum += terms[k].weight * s.rewardTerms[k];
    if (!Number.isFinite(s.reward)) return fail(`step ${i}: reward ${s.reward}`);
    const err = Math.abs(sum - s.reward);
    worst = Math.max(worst, err);
    if (err > 1e-9 * Math.max(1, Math.abs(sum))) return fail(`step ${i}: reward ${s.reward} != weighted sum ${sum}`);
  }
  return pass(`${steps.length} steps, max |reward - sum(w*term)| = ${worst.toExponential(2)}`);
}

function checkRoundTrip(env: Env, fresh: Env, seed: number, actions: Float64Array[]): CheckResult {
  const k = Math.floor(actions.length / 3);
  env.reset(seed);
  let saved: EnvState | null = null;
  let savedObs: Float32Array | null = null;
  const after: StepResult[] = [];
  let steps = 0;
  let obs = env.reset(seed);
  for (let i = 0; i < actions.length; i++) {
    if (i === k) {
      saved = env.getState();
      savedObs = obs;
    }
    const r = env.step(actions[i]);
    steps++;
    if (saved) after.push(r);
    obs = r.obs;
    if (r.terminated || r.truncated) {
      if (saved) break;
      obs = env.reset();
    }
  }
  if (!saved || !savedObs) return fail('episode ended before a state could be saved');
  fresh.reset(seed + 12345);
  // Restore from (qpos, qvel, act, time, t) alone, as recorded in trajectories (no solver warm start).
  const { warmstart: _dropped, ...recorded } = saved;
  const restoredObs = fresh.setState(recorded);
  if (!sameF32(restoredObs, savedObs)) return fail('setState returned a different observation than the one at the saved step');
  const again = fresh.getState();
  if (!sameF64(again.qpos, saved.qpos) || !sameF64(again.qvel, saved.qvel) || !sameF64(again.act, saved.act) || again.time !== saved.time || again.t !== saved.t) {
    return fail('getState after setState differs from the saved state');
  }
  const diverged = replayDiverges(fresh, actions.slice(k), after);
  if (diverged > 0) {
    // The solver's warm start is the one piece of MuJoCo state a recorded state lacks: say so when it is the cause.
    fresh.setState(saved);
    const cause =
      saved.warmstart && replayDiverges(fresh, actions.slice(k), after) === 0
        ? ' (it replays exactly when the solver warm start is restored too: recorded states do not carry it, so add <flag warmstart="disable"/> to the model\'s <option>, as the built-in models do)'
        : '';
    return fail(`replay diverged ${diverged} steps after the restored state${cause}`);
  }
  return pass(`state saved at step ${k}, ${after.length} steps replayed bit for bit in a fresh env (${steps} steps run)`);
}

/** The first step (from 1) at which stepping `env` with `actions` departs from `expected`, or 0. */
function replayDiverges(env: Env, actions: Float64Array[], expected: StepResult[]): number {
  for (let i = 0; i < expected.length; i++) {
    const r = env.step(actions[i]);
    if (!sameF32(r.obs, expected[i].obs) || !Object.is(r.reward, expected[i].reward)) return i + 1;
  }
  return 0;
}

function checkSpaces(env: Env, seed: number, actions: Float64Array[]): CheckResult {
  const spec = env.spec;
  const { obs } = run(env, seed, actions);
  for (let i = 0; i < obs.length; i++) {
    const o = obs[i];
    if (!(o instanceof Float32Array) || o.length !== spec.obsDim) return fail(`observation ${i} has length ${o.length}, spec says ${spec.obsDim}`);
    for (let j = 0; j < o.length; j++) {
      if (!Number.isFinite(o[j])) return fail(`observation ${i}[${j}] is ${o[j]}`);
      if (o[j] < spec.obsLow[j] - 1e-6 || o[j] > spec.obsHigh[j] + 1e-6) return fail(`observation ${i}[${j}] = ${o[j]} outside [${spec.obsLow[j]}, ${spec.obsHigh[j]}]`);
    }
  }
  // Out-of-range actions are clipped: stepping with 10x the bounds equals stepping with the bounds.
  const big = new Float64Array(spec.actDim);
  const clipped = new Float64Array(spec.actDim);
  for (let j = 0; j < spec.actDim; j++) {
    const hiSide = j % 2 === 0;
    big[j] = hiSide ? spec.actHigh[j] + 10 * Math.max(1, Math.abs(spec.actHigh[j])) : spec.actLow[j] - 10 * Math.max(1, Math.abs(spec.actLow[j]));
    clipped[j] = hiSide ? spec.actHigh[j] : spec.actLow[j];
  }
  // (Compared from two resets with one seed: if those differ, say so rather than blame clipping.)
  const o1 = env.reset(seed);
  const r1 = env.step(big);
  const o2 = env.reset(seed);
  if (!sameF32(o1, o2)) return fail(`two resets with seed ${seed} gave different observations${NOT_SEEDED.replace(' (the first observation after reset(seed))', '')}`);
  const r2 = env.step(clipped);
  if (!sameF32(r1.obs, r2.obs) || !Object.is(r1.reward, r2.reward)) return fail('an out-of-range action was not clipped to the bounds');
  // Bad actions are refused with an error naming the env and step.
  env.reset(seed);
  const bads = [
    ['wrong length', new Float64Array(spec.actDim + 1)],
    ['NaN', Float64Array.from({ length: spec.actDim }, (_, j) => (j === 0 ? Number.NaN : 0))],
    ['Infinity', Float64Array.from({ length: spec.actDim }, (_, j) => (j === 0 ? Number.POSITIVE_INFINITY : 0))],
  ] as const;
  // An env without actuators has no action entries that could be NaN.
  for (const [what, bad] of spec.actDim > 0 ? bads : bads.slice(0, 1)) {
    try {
      env.step(bad);
      return fail(`an action with ${what} was accepted`);
    } catch (e) {
      if (!(e instanceof ActionError) || !e.message.includes(spec.id)) return fail(`an action with ${what} gave ${String(e)} instead of an ActionError naming the env`);
    }
  }
  return pass(`${obs.length} observations of size ${spec.obsDim} finite and in bounds; clipping and bad actions ok`);
}

function checkTransitionTerms(env: Env, seed: number, actions: Float64Array[]): CheckResult {
  let before = (env.reset(seed), env.getState());
  const n = Math.min(actions.length, 50);
  const recorded: { before: EnvState; after: EnvState; terms: Float64Array }[] = [];
  let unstableAt = -1;
  for (let i = 0; i < n; i++) {
    const r = env.step(actions[i]);
    // An unstable step restores the state before it: there is no transition to reproduce.
    if (r.info.unstable) {
      unstableAt = i;
      if (recorded.length === 0) return { ok: true, skipped: true, detail: `the simulation went unstable at step ${i}: no transition to check` };
      break;
    }
    const after = env.getState();
    recorded.push({ before, after, terms: r.rewardTerms });
    if (r.terminated || r.truncated) break;
    before = after;
  }
  for (let i = 0; i < recorded.length; i++) {
    const { before: b, after: a, terms } = recorded[i];
    const t = env.transitionTerms(b, actions[i], a);
    for (let k = 0; k < terms.length; k++) {
      if (Math.abs(t[k] - terms[k]) > 1e-9 * Math.max(1, Math.abs(terms[k]))) {
        return fail(`step ${i}: transitionTerms gives ${env.spec.rewardTerms[k].name} = ${t[k]}, the step gave ${terms[k]}`);
      }
    }
  }
  return pass(`${recorded.length} transitions reproduced${unstableAt >= 0 ? ` (the simulation went unstable at step ${unstableAt})` : ''}`);
}

function checkHorizon(env: Env, seed: number, rng: Rng): CheckResult {
  const H = env.spec.horizon;
  const [a] = randomActions(env, 1, rng);
  env.reset(seed);
  const s0 = env.getState();
  const first = env.step(a);
  if (H > 1 && first.truncated && !first.info.unstable) return fail('truncated after the first step');
  // Jump to the last step of the episode: the next step must end it.
  env.setState({ ...s0, t: H - 1 });
  const last = env.step(a);
  if (!last.truncated && !last.terminated) return fail(`not truncated at step ${H} (the horizon)`);
  try {
    env.step(a);
    return fail('step() after the episode ended was accepted');
  } catch {
    return pass(`episode ends at step ${H}; stepping past the end is refused`);
  }
}

async function checkMemory(env: Env, resets: number): Promise<CheckResult> {
  const { MujocoEnv } = await import('./mujoco/env.js');
  if (!(env instanceof MujocoEnv)) return { ok: true, skipped: true, detail: 'not a MuJoCo env (no WASM heap)' };
  const { heapBytes } = await import('./mujoco/runtime.js');
  const mj = env.physics.mj;
  // Each reset is followed by one step (the first step of an episode has work of its own: see
  // MujocoEnv.step), so a leak per episode shows as well as one per reset.
  const zero = new Float64Array(env.spec.actDim);
  const episode = (i: number) => {
    env.reset(i);
    env.step(zero);
  };
  for (let i = 0; i < 20; i++) episode(i);
  const before = heapBytes(mj);
  for (let i = 0; i < resets; i++) episode(i);
  const after = heapBytes(mj);
  if (after > before) return fail(`WASM heap grew from ${before} to ${after} bytes over ${resets} resets (each with a step)`);
  return pass(`heap ${(after / 2 ** 20).toFixed(1)} MiB before and after ${resets} resets (each with a step)`);
}

/** What `env` is, for the report (actuator names and unlimited actuators of a MuJoCo env). */
async function describe(env: Env): Promise<CheckedEnv> {
  const { MujocoEnv } = await import('./mujoco/env.js');
  const { customEnvSource } = await import('./custom.js');
  const source = customEnvSource(env.spec);
  const task = source ? { task: source.task } : {};
  if (!(env instanceof MujocoEnv)) return { spec: env.spec, ...task };
  const p = env.physics;
  const range = p.ctrlRange();
  const actuators: string[] = [];
  const unlimited: number[] = [];
  for (let i = 0; i < p.nu; i++) {
    actuators.push(p.name('actuator', i));
    if (!(range[2 * i] < range[2 * i + 1])) unlimited.push(i);
  }
  return { spec: env.spec, actuators, unlimited, ...task };
}

/** Run every contract check on an env config. Never throws for a failing check. */
/** Every option checkEnv reads (the type makes it list each key of CheckOptions, and no other). */
const CHECK_OPTIONS: Readonly<Record<keyof CheckOptions, true>> = { steps: true, resets: true, seed: true, onCheck: true };

export async function checkEnv(config: EnvConfig | string, opts: CheckOptions = {}): Promise<CheckReport> {
  if (typeof config !== 'string') checkEnvConfigObject(config, 'checkEnv: config', { stringToo: true });
  // A misspelt option was dropped without a word: { step: 10 } ran the default 300 steps.
  if (typeof opts === 'object' && opts !== null) refuseUnknownKeys('checkEnv', opts, CHECK_OPTIONS);
  const seed = opts.seed ?? 0;
  const stepsN = opts.steps ?? 300;
  const envs: Env[] = [];
  const checks: Record<string, CheckResult> = {};
  const record = (name: string, result: CheckResult) => {
    checks[name] = result;
    opts.onCheck?.(name, result);
  };
  // The env's warnings are collected, not printed as they come: an unstable model warns on every episode.
  const logger = new Logger({ write: () => undefined }, 'warn');
  try {
    const a = await makeEnv(config, { logger });
    envs.push(a);
    const b = await makeEnv(config, { logger });
    envs.push(b);
    const rng = new Rng(seed).fork('check-env');
    const actions = randomActions(a, stepsN, rng);
    // A broken task module throws the same error in every check: the first check that threw it
    // says it, the later ones name that check (one table row to read, not seven alike).
    const thrownBy = new Map<string, string>();
    const threw = (name: string, e: unknown): CheckResult => {
      const msg = e instanceof Error ? e.message : String(e);
      const first = thrownBy.get(msg);
      if (first === undefined) thrownBy.set(msg, name);
      return fail(first === undefined ? `threw: ${msg}` : `threw the same error as ${first}`);
    };
    const guard = (name: string, f: () => CheckResult) => {
      try {
        record(name, f());
      } catch (e) {
        record(name, threw(name, e));
      }
    };
    guard('determinism', () => checkDeterminism(a, b, seed, actions));
    guard('rewardSum', () => checkRewardSum(a, seed, actions));
    guard('stateRoundTrip', () => checkRoundTrip(a, b, seed, actions));
    guard('spaces', () => checkSpaces(a, seed, actions));
    guard('transitionTerms', () => checkTransitionTerms(a, seed, actions));
    guard('horizon', () => checkHorizon(a, seed, rng));
    try {
      record('memory', await checkMemory(a, opts.resets ?? 1000));
    } catch (e) {
      record('memory', threw('memory', e));
    }
    return { ok: Object.values(checks).every((c) => c.ok), env: a.spec.id, about: await describe(a), checks, warnings: logger.warningSummary() };
  } finally {
    for (const e of envs) e.dispose();
  }
}
