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
import { basename, join, resolve } from 'node:path';
import { runCommand } from '../core/run.js';
import { EnvMismatchError, parseJsonObject, UsageError, refuseUnknownKeys } from '../core/errors.js';
import { sha256 } from '../core/hash.js';
import { Logger } from '../core/log.js';
import { Rng } from '../core/rng.js';
import { customEnvSource } from '../envs/custom.js';
import type { EnvConfig } from '../envs/registry.js';
import type { Policy } from '../envs/rollout.js';
import type { EnvSpec } from '../envs/types.js';
import { ActorSnapshot } from './actor_snapshot.js';
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
    throw new EnvMismatchError(file, `the ${what} takes ${obsDim} observations and gives ${actDim} actions; env "${spec.id}" has ${spec.obsDim} and ${spec.actDim}`, 'obsDim');
  }
}

/** The text of a file, or null when it cannot be read. */
function readOrNull(file: string): Buffer | null {
  try {
    return readFileSync(file);
  } catch {
    return null;
  }
}

/** Null when a file a policy was trained with and the env's own are the same (one path, or the same text), else why not. */
function fileDiffers(was: string, now: string): string | null {
  if (was === now) return null;
  const before = readOrNull(was);
  const after = readOrNull(now);
  if (before !== null && after !== null) return sha256(before) === sha256(after) ? null : 'its text differs';
  return before === null ? 'no longer there, so its text could not be compared' : "not compared: this env's file can no longer be read";
}

/**
 * How the bring-your-own env this spec belongs to differs from the one a policy was trained
 * with (its saved env config: model file and task module), or null when it does not or cannot
 * be told. The saved env check passes every custom env (env "custom"; the spec's id
 * `custom:<model file>` does not name the task), so a policy trained with task A loads into an
 * env that runs task B, whose observations and rewards may mean something else, and only the
 * sizes are checked. Paths are compared first; two paths whose files hold the same text (a copy,
 * a move) are the same. What is compared is the files the env was built from (customEnvSource:
 * envs made by makeEnv in this thread), so a copied spec, a worker's spec and a built-in env's
 * are not checked.
 */
export function customEnvMismatch(saved: EnvConfig, envSpec: EnvSpec, what = 'the policy', made = 'was trained with'): string | null {
  if (saved.id !== 'custom') return null;
  const now = customEnvSource(envSpec);
  if (now === undefined) return null;
  const path = (p: unknown): string | null => (typeof p === 'string' && p !== '' ? resolve(p) : null);
  const out: string[] = [];
  const model = path(saved.model);
  const modelWhy = model === null ? null : fileDiffers(model, now.model);
  if (modelWhy !== null) out.push(`model file ${model} (${modelWhy}), but this env runs ${now.model}`);
  const task = path(saved.task);
  if (task === null && now.task !== null) out.push(`the default task of its model (no task module), but this env runs task module ${now.task}`);
  else if (task !== null && now.task === null) out.push(`task module ${task}, but this env runs the default task of ${basename(now.model)} (no task module)`);
  else if (task !== null && now.task !== null) {
    const why = fileDiffers(task, now.task);
    if (why !== null) out.push(`task module ${task} (${why}), but this env runs ${now.task}`);
  }
  if (out.length === 0) return null;
  return `${what} ${made} ${out.join('; and with ')}; every bring-your-own env passes the saved env check (env "custom"), so nothing else tells them apart`;
}

/** Warn through `logger` (prefrl's stderr logger when none is given) when the env's files differ from the policy's (customEnvMismatch). */
function warnCustomEnvMismatch(saved: EnvConfig | undefined, envSpec: EnvSpec, file: string, logger: Logger | undefined): void {
  if (typeof saved !== 'object' || saved === null) return;
  const msg = customEnvMismatch(saved, envSpec);
  if (msg !== null) (logger ?? new Logger()).warn(`${file}: ${msg}: if they differ, this env's observations and rewards are not those the policy learned from (loaded anyway: files get moved and renamed)`);
}

/**
 * The regret teacher's `--expert` (a PPO checkpoint whose critic is V*): warn through `o.logger`
 * (prefrl's stderr logger when none is given), as loadPpoPolicy does for a policy, when the
 * bring-your-own env it was trained on was built from another model file or task module than
 * this env's (customEnvMismatch): its critic then values other rewards than those the teacher
 * sums. `checkpoint` is a checkpoint folder or its checkpoint.json (what train's expertCheckpoint
 * returns); one that records no env says nothing (the other checks are expertValueFunction's).
 * The warning names `o.flag` (default "--expert") and the path as the user gave it (`o.given`).
 */
export function warnExpertEnvMismatch(checkpoint: string, envSpec: EnvSpec, o: { readonly flag?: string; readonly given?: string; readonly logger?: Logger } = {}): void {
  const file = checkpoint.endsWith('.json') ? checkpoint : join(checkpoint, 'checkpoint.json');
  if (!existsSync(file)) return;
  const env = (parseJsonObject(readFileSync(file, 'utf8'), file) as { env?: unknown }).env;
  if (typeof env !== 'object' || env === null) return;
  const msg = customEnvMismatch(env as EnvConfig, envSpec, 'the expert');
  if (msg === null) return;
  (o.logger ?? new Logger()).warn(
    `${o.flag ?? '--expert'} ${o.given ?? checkpoint}: ${msg}: if they differ, its critic is not V* of this env's rewards and the regret teacher's labels follow other rewards (used anyway: files get moved and renamed)`,
  );
}

/**
 * Load a PPO policy and check it was trained on this env (checkpoint.json, when present) and fits
 * it; a bring-your-own env built from another model file or task module than the policy's is a
 * warning (customEnvMismatch) through `logger`.
 */
export function loadPpoPolicy(path: string, envSpec: EnvSpec, flag = '--checkpoint', logger?: Logger): PpoPolicy {
  const where = resolvePolicyPath(path, flag);
  const policy = PpoPolicy.load(where);
  const { policy: file, checkpoint: ckFile } = ppoFiles(where);
  let env: EnvConfig | undefined;
  if (existsSync(ckFile)) {
    env = (parseJsonObject(readFileSync(ckFile, 'utf8'), ckFile) as { env?: EnvConfig }).env;
    if (env && env.id !== specId(envSpec)) throw new EnvMismatchError(ckFile, `the policy was trained on env "${env.id}", not "${envSpec.id}"`, 'env');
  }
  checkSizes(file, policy.obsDim, policy.actDim, envSpec, 'policy');
  warnCustomEnvMismatch(env, envSpec, ckFile, logger);
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

/**
 * Load an offline actor and check it fits the env (and was trained on it, when its metadata
 * says); another model file or task module than its own is a warning, as for loadPpoPolicy.
 */
export function loadActor(file: string, envSpec: EnvSpec, logger?: Logger): ActorSnapshot {
  const actor = ActorSnapshot.load(file);
  const env = actor.json.meta?.env as EnvConfig | undefined;
  if (env && typeof env.id === 'string' && env.id !== specId(envSpec)) throw new EnvMismatchError(file, `the actor was trained on env "${env.id}", not "${envSpec.id}"`, 'meta.env');
  checkSizes(file, actor.json.obsDim, actor.json.actDim, envSpec, 'actor');
  warnCustomEnvMismatch(env, envSpec, file, logger);
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

/**
 * The env a saved policy was trained on, as its files record it (a PPO run's checkpoint.json,
 * an actor's metadata), or null when they do not say. Throws like loadSavedPolicy when the path
 * holds no policy.
 */
export function savedPolicyEnv(path: string, flag = '--policy'): EnvConfig | null {
  const at = locateSavedPolicy(path, flag);
  let env: unknown;
  if (at.kind === 'actor') {
    env = (parseJsonObject(readFileSync(at.file, 'utf8'), at.file) as { meta?: { env?: unknown } }).meta?.env;
  } else {
    const ckFile = ppoFiles(at.where).checkpoint;
    if (!existsSync(ckFile)) return null;
    env = (parseJsonObject(readFileSync(ckFile, 'utf8'), ckFile) as { env?: unknown }).env;
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
  /**
   * Where a warning goes (default: a Logger on stderr): a bring-your-own env whose model file or
   * task module is not the one the policy was trained with (another path with other text) loads
   * with a warning that names both, not an error, since files get moved and renamed.
   */
  readonly logger?: Logger;
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
  // A misspelt option was dropped without a word: { stochastc: true } acted with the mean action.
  refuseUnknownKeys('loadSavedPolicy', o, ['stochastic', 'seed', 'flag', 'logger']);
  const { stochastic, seed, flag } = o as Record<string, unknown>;
  if (stochastic !== undefined && typeof stochastic !== 'boolean') throw new TypeError(`loadSavedPolicy: options.stochastic must be true or false, got ${what(stochastic)}`);
  if (seed !== undefined && !Number.isSafeInteger(seed)) throw new RangeError(`loadSavedPolicy: options.seed must be an integer, got ${what(seed)}`);
  if (flag !== undefined && typeof flag !== 'string') throw new TypeError(`loadSavedPolicy: options.flag must be a string, got ${what(flag)}`);
  const { logger } = o as Record<string, unknown>;
  if (logger !== undefined && !(typeof logger === 'object' && logger !== null && typeof (logger as { warn?: unknown }).warn === 'function')) {
    throw new TypeError(`loadSavedPolicy: options.logger must be a Logger, got ${what(logger)}`);
  }
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
    const actor = loadActor(at.file, envSpec, o.logger);
    return { algo: actor.json.algo, file: at.file, stochastic: false, policy: actor.policy() };
  }
  const ppo = loadPpoPolicy(at.where, envSpec, flag, o.logger);
  const file = ppoFiles(at.where).policy;
  const policy = stochastic ? ppo.stochastic(new Rng(o.seed ?? 0).fork('policy-noise')) : ppo.deterministic();
  return { algo: 'ppo', file, stochastic, policy };
}
