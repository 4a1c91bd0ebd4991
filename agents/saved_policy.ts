/**
 * Policies that prefrl saved, loaded to act in an env:
 *   - PPO (`prefrl train`): a run folder (artifacts/checkpoint/), a checkpoint folder holding
 *     policy.json, or the policy.json file; deterministic (mean action) or stochastic;
 *   - offline actors (`prefrl iql`, `prefrl offline`: IQL or BC): an actor.json file, a folder
 *     holding one, or an `iql` run folder (artifacts/actor/). An `offline` run folder holds three
 *     (artifacts/agents/<agent>/), so it has to be named down to one of them.
 * Each is checked against the env it is to act in: the env it was trained on (when saved) and
 * the observation and action sizes. A path that holds no policy is a UsageError naming the flag;
 * a bad file is an InputError naming the file.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError, parseJson, UsageError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import type { EnvConfig } from '../envs/registry.js';
import type { Policy } from '../envs/rollout.js';
import type { EnvSpec } from '../envs/types.js';
import { ActorSnapshot } from './iql.js';
import { PpoPolicy } from './ppo.js';

/** The folder or file holding a PPO policy: a run folder, a checkpoint folder, or policy.json. */
export function resolvePolicyPath(path: string, flag = '--checkpoint'): string {
  const inRun = join(path, 'artifacts', 'checkpoint');
  if (existsSync(join(inRun, 'policy.json'))) return inRun;
  if ((path.endsWith('.json') && existsSync(path)) || existsSync(join(path, 'policy.json'))) return path;
  throw new UsageError(`${flag}: ${JSON.stringify(path)} holds no PPO policy (expected a run folder with artifacts/checkpoint/, a checkpoint folder with policy.json, or a policy.json file)`);
}

/** policy.json and checkpoint.json of a resolved PPO policy path (a checkpoint folder or its policy.json). */
function ppoFiles(where: string): { policy: string; checkpoint: string } {
  return where.endsWith('.json') ? { policy: where, checkpoint: join(where, '..', 'checkpoint.json') } : { policy: join(where, 'policy.json'), checkpoint: join(where, 'checkpoint.json') };
}

/** The env id a saved config names, in the form a spec's id is compared with. */
function specId(spec: EnvSpec): string {
  return spec.id.startsWith('custom') ? 'custom' : spec.id;
}

function checkSizes(file: string, obsDim: number, actDim: number, spec: EnvSpec, what: string): void {
  if (obsDim !== spec.obsDim || actDim !== spec.actDim) {
    throw new InputError(file, `the ${what} takes ${obsDim} observations and gives ${actDim} actions; env "${spec.id}" has ${spec.obsDim} and ${spec.actDim}`, 'obsDim');
  }
}

/** Load a PPO policy and check it was trained on this env (checkpoint.json, when present) and fits it. */
export function loadPpoPolicy(path: string, envSpec: EnvSpec, flag = '--checkpoint'): PpoPolicy {
  const where = resolvePolicyPath(path, flag);
  const policy = PpoPolicy.load(where);
  const { policy: file, checkpoint: ckFile } = ppoFiles(where);
  if (existsSync(ckFile)) {
    const env = (parseJson(readFileSync(ckFile, 'utf8'), ckFile) as { env?: EnvConfig }).env;
    if (env && env.id !== specId(envSpec)) throw new InputError(ckFile, `the policy was trained on env "${env.id}", not "${envSpec.id}"`, 'env');
  }
  checkSizes(file, policy.obsDim, policy.actDim, envSpec, 'policy');
  return policy;
}

/**
 * The actor.json a path names, or null when it names none. A folder of several actors (an
 * `offline` run) is a UsageError that lists them.
 */
export function resolveActorFile(path: string, flag: string): string | null {
  if (path.endsWith('.json')) return existsSync(path) && isActorFile(path) ? path : null;
  for (const f of [join(path, 'actor.json'), join(path, 'artifacts', 'actor', 'actor.json')]) if (existsSync(f)) return f;
  const agents = join(path, 'artifacts', 'agents');
  if (existsSync(agents)) {
    let names: string[] = [];
    try {
      names = readdirSync(agents).filter((n) => existsSync(join(agents, n, 'actor.json')));
    } catch {
      names = [];
    }
    if (names.length > 0) {
      throw new UsageError(`${flag}: ${path} holds ${names.length} actors; name one: ${names.map((n) => join(agents, n)).join(', ')}`);
    }
  }
  return null;
}

/** Whether a .json file is a saved offline actor (by its format field; unreadable files are not). */
function isActorFile(file: string): boolean {
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { format?: unknown }).format === 'prefrl-offline-actor';
  } catch {
    return false;
  }
}

/** Load an offline actor and check it fits the env (and was trained on it, when its metadata says). */
export function loadActor(file: string, envSpec: EnvSpec): ActorSnapshot {
  const actor = ActorSnapshot.load(file);
  const env = actor.json.meta?.env as EnvConfig | undefined;
  if (env && typeof env.id === 'string' && env.id !== specId(envSpec)) throw new InputError(file, `the actor was trained on env "${env.id}", not "${envSpec.id}"`, 'meta.env');
  checkSizes(file, actor.json.obsDim, actor.json.actDim, envSpec, 'actor');
  return actor;
}

/** Where a saved policy's files are: an offline actor's actor.json, or a PPO checkpoint folder / policy.json. */
type Located = { readonly kind: 'actor'; readonly file: string } | { readonly kind: 'ppo'; readonly where: string };

/** Find the saved policy a path names; a UsageError naming the flag when it names none. */
function locateSavedPolicy(path: string, flag: string): Located {
  if (!existsSync(path)) throw new UsageError(`${flag}: ${JSON.stringify(path)} not found`);
  const actorFile = resolveActorFile(path, flag);
  if (actorFile) return { kind: 'actor', file: actorFile };
  try {
    return { kind: 'ppo', where: resolvePolicyPath(path, flag) };
  } catch {
    // A run folder of another command: say which, so the user sees why (a rollout run holds episodes).
    const command = runCommand(path);
    const what = command === null ? 'holds no saved policy' : `is a \`prefrl ${command}\` run folder${command === 'train' ? ' without a checkpoint yet' : ''}, which holds no saved policy`;
    throw new UsageError(`${flag}: ${JSON.stringify(path)} ${what} (expected a PPO run folder, checkpoint folder or policy.json, or an offline actor: actor.json, a folder holding one, or an iql run folder)`);
  }
}

/** The command recorded in a run folder's config.json, or null (not a run folder, or unreadable). */
function runCommand(path: string): string | null {
  try {
    const c = (JSON.parse(readFileSync(join(path, 'config.json'), 'utf8')) as { command?: unknown }).command;
    return typeof c === 'string' && /^[a-z][a-z -]*$/.test(c) ? c : null;
  } catch {
    return null;
  }
}

/**
 * The env a saved policy was trained on, as its files record it (a PPO run's checkpoint.json,
 * an actor's metadata), or null when they do not say. Throws like loadSavedPolicy when the path
 * holds no policy.
 */
export function savedPolicyEnv(path: string, flag = '--policy'): EnvConfig | null {
  const at = locateSavedPolicy(path, flag);
  let env: unknown;
  if (at.kind === 'actor') {
    env = (parseJson(readFileSync(at.file, 'utf8'), at.file) as { meta?: { env?: unknown } }).meta?.env;
  } else {
    const ckFile = ppoFiles(at.where).checkpoint;
    if (!existsSync(ckFile)) return null;
    env = (parseJson(readFileSync(ckFile, 'utf8'), ckFile) as { env?: unknown }).env;
  }
  if (typeof env !== 'object' || env === null || typeof (env as EnvConfig).id !== 'string') return null;
  return env as EnvConfig;
}

export interface SavedPolicy {
  /** What trained it: ppo, iql or bc. */
  readonly algo: string;
  /** The file its weights came from. */
  readonly file: string;
  readonly stochastic: boolean;
  readonly policy: Policy;
}

export interface LoadPolicyOptions {
  /** Sample actions (PPO's Gaussian) instead of taking the mean (default false). Offline actors act with their mean only. */
  readonly stochastic?: boolean;
  /** Seed of the sampled actions (stochastic only; an integer, default 0). */
  readonly seed?: number;
  /**
   * What the path is called in messages about it (default "--policy", the flag of `prefrl
   * rollout`); a script can pass its own name for it.
   */
  readonly flag?: string;
}

/** Arguments of loadSavedPolicy that are not what its types say: a TypeError/RangeError naming the argument. */
function checkLoadArgs(path: unknown, envSpec: unknown, o: unknown): void {
  const what = (v: unknown): string => (v === null ? 'null' : v === undefined ? 'nothing' : typeof v === 'string' ? JSON.stringify(v) : typeof v === 'number' ? String(v) : typeof v);
  if (typeof path !== 'string' || path === '') throw new TypeError(`loadSavedPolicy: path must be a non-empty string (a run folder, checkpoint folder, policy.json or actor.json), got ${what(path)}`);
  const spec = envSpec as Partial<EnvSpec> | null | undefined;
  if (typeof spec !== 'object' || spec === null || typeof spec.id !== 'string' || !Number.isInteger(spec.obsDim) || !Number.isInteger(spec.actDim)) {
    throw new TypeError(`loadSavedPolicy: envSpec must be the spec of the env the policy is to act in (env.spec), got ${what(envSpec)}`);
  }
  if (typeof o !== 'object' || o === null) throw new TypeError(`loadSavedPolicy: options must be an object { stochastic?, seed?, flag? }, got ${what(o)}`);
  const { stochastic, seed, flag } = o as Record<string, unknown>;
  if (stochastic !== undefined && typeof stochastic !== 'boolean') throw new TypeError(`loadSavedPolicy: options.stochastic must be true or false, got ${what(stochastic)}`);
  if (seed !== undefined && !Number.isSafeInteger(seed)) throw new RangeError(`loadSavedPolicy: options.seed must be an integer, got ${what(seed)}`);
  if (flag !== undefined && typeof flag !== 'string') throw new TypeError(`loadSavedPolicy: options.flag must be a string, got ${what(flag)}`);
}

/**
 * Load any policy prefrl saves (PPO or an offline actor) from a path, to act in an env with this
 * spec: `policy` maps an observation to an action (a Policy for rollout and evaluatePolicy).
 * A path that holds no policy is a UsageError naming `o.flag`; a policy file that does not fit
 * the env (trained on another env, other sizes) an InputError naming the file; arguments of the
 * wrong type a TypeError naming the argument.
 */
export function loadSavedPolicy(path: string, envSpec: EnvSpec, o: LoadPolicyOptions = {}): SavedPolicy {
  checkLoadArgs(path, envSpec, o);
  const flag = o.flag ?? '--policy';
  const stochastic = o.stochastic ?? false;
  const at = locateSavedPolicy(path, flag);
  if (at.kind === 'actor') {
    if (stochastic) throw new UsageError(`${flag}: ${at.file} is an offline actor, which acts with its mean action only (drop --stochastic)`);
    const actor = loadActor(at.file, envSpec);
    return { algo: actor.json.algo, file: at.file, stochastic: false, policy: actor.policy() };
  }
  const ppo = loadPpoPolicy(at.where, envSpec, flag);
  const file = ppoFiles(at.where).policy;
  const policy = stochastic ? ppo.stochastic(new Rng(o.seed ?? 0).fork('policy-noise')) : ppo.deterministic();
  return { algo: 'ppo', file, stochastic, policy };
}
