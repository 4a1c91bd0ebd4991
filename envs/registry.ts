/**
 * The environment registry: built-in ids, bring-your-own MJCF models, and one `makeEnv` that
 * builds any of them from a serialisable `EnvConfig` (the same config travels to worker
 * threads and into run folders, so every env can be rebuilt exactly).
 */
import { existsSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { shownArg, UsageError, refuseUnknownKeys } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { shellQuote } from '../core/paths.js';
import { MujocoEnv } from './mujoco/env.js';
import { type MujocoTask, TASK_FILE } from './mujoco/task.js';
import { cartpoleSwingup } from './tasks/cartpole_swingup.js';
import { cheetahRun } from './tasks/cheetah_run.js';
import { builtinModel } from './tasks/common.js';
import { hopperHop } from './tasks/hopper_hop.js';
import { pusher } from './tasks/pusher.js';
import { reacher } from './tasks/reacher.js';
import { walkerWalk } from './tasks/walker_walk.js';
import { ToyReachEnv } from './toy.js';
import type { Env } from './types.js';

/** Everything needed to build an env, as plain JSON. */
export interface EnvConfig {
  /** A registry id, or "custom" for a bring-your-own MJCF model. */
  readonly id: string;
  /** Path of the MJCF file (custom models only). */
  readonly model?: string;
  /** Path of a task module (.js/.mjs/.ts) for a custom model; the default task when absent. */
  readonly task?: string;
  /** Seed of the env's own RNG (default 0). */
  readonly seed?: number;
}

export interface RegisteredEnv {
  readonly id: string;
  readonly kind: 'mujoco' | 'toy';
  /** One line for listings. */
  readonly summary: string;
  /** MJCF file under envs/assets/ (MuJoCo envs). */
  readonly modelFile?: string;
  readonly task?: MujocoTask;
}

const BUILTINS: RegisteredEnv[] = [
  { id: 'cartpole-swingup', kind: 'mujoco', summary: 'cart and hinged pole; swing the pole up and balance it', modelFile: 'cartpole.xml', task: cartpoleSwingup },
  { id: 'reacher', kind: 'mujoco', summary: 'planar two-link arm; put the fingertip on a random target', modelFile: 'reacher.xml', task: reacher },
  { id: 'cheetah-run', kind: 'mujoco', summary: 'planar four-legged runner; run forward fast', modelFile: 'cheetah.xml', task: cheetahRun },
  { id: 'hopper-hop', kind: 'mujoco', summary: 'planar one-legged hopper; hop forward without falling', modelFile: 'hopper.xml', task: hopperHop },
  { id: 'walker-walk', kind: 'mujoco', summary: 'planar biped; walk forward upright', modelFile: 'walker.xml', task: walkerWalk },
  { id: 'pusher', kind: 'mujoco', summary: 'planar three-link arm; push a puck onto a random goal', modelFile: 'pusher.xml', task: pusher },
  { id: 'toy-reach', kind: 'toy', summary: 'pure-TypeScript point mass reaching a goal (fast tests)' },
];

export function registeredEnvs(): readonly RegisteredEnv[] {
  return BUILTINS;
}

export function envIds(): string[] {
  return BUILTINS.map((e) => e.id);
}

export function registeredEnv(id: string): RegisteredEnv | undefined {
  return BUILTINS.find((e) => e.id === id);
}

const TASK_EXTENSIONS = '.js, .mjs, .cjs or .ts';

/** True when the argument names an MJCF file rather than a registry id. */
export function looksLikeModelPath(arg: string): boolean {
  return /\.(xml|mjcf)$/i.test(arg) || arg.includes('/') || arg.includes('\\');
}

/**
 * Turn an `--env` argument (an id or a path to an .xml file) and an optional `--task` path
 * into an EnvConfig, with errors that name the flag.
 */
export function envConfigFromArgs(env: string, opts: { task?: string; model?: string; seed?: number; flag?: string } = {}): EnvConfig {
  const flag = opts.flag ?? '--env';
  const model = opts.model ?? (looksLikeModelPath(env) ? env : undefined);
  if (model !== undefined) {
    if (!existsSync(model)) throw new UsageError(`${opts.model !== undefined ? '--model' : flag}: model file ${JSON.stringify(model)} not found`);
    if (opts.task !== undefined) {
      if (!existsSync(opts.task)) throw new UsageError(`--task: task module ${JSON.stringify(opts.task)} not found`);
      // (Node's own words for these name prefrl's files: "Directory import ... imported from .../envs/custom.js".)
      if (statSync(opts.task).isDirectory()) throw new UsageError(`--task: ${JSON.stringify(opts.task)} is a folder; give the task module file itself (${TASK_EXTENSIONS})`);
      if (!TASK_FILE.test(opts.task)) {
        const model = /\.(xml|mjcf)$/i.test(opts.task) ? ' (an MJCF model goes with --env or --model)' : '';
        throw new UsageError(`--task: ${JSON.stringify(opts.task)} is not a task module: give a ${TASK_EXTENSIONS} file${model}`);
      }
    }
    return { id: 'custom', model: resolve(model), ...(opts.task ? { task: resolve(opts.task) } : {}), ...(opts.seed !== undefined ? { seed: opts.seed } : {}) };
  }
  if (!registeredEnv(env)) {
    throw new UsageError(`${flag}: unknown env ${JSON.stringify(env)} (known: ${envIds().join(', ')}; or a path to an MJCF .xml file)`);
  }
  if (opts.task !== undefined) {
    throw new UsageError(`--task: only for bring-your-own models (${flag.startsWith('--') ? `${flag} path/to/model.xml` : `${flag} a path to an MJCF .xml file`})`);
  }
  return { id: env, ...(opts.seed !== undefined ? { seed: opts.seed } : {}) };
}

/**
 * The `--env` (and `--task`) arguments that name an env config, ready to paste into a shell: the
 * inverse of envConfigFromArgs.
 */
export function envConfigArgs(config: EnvConfig): string {
  if (config.id !== 'custom') return `--env ${config.id}`;
  return `--env ${config.model ? shellQuote(config.model) : '<model.xml>'}${config.task ? ` --task ${shellQuote(config.task)}` : ''}`;
}

/**
 * The env's part of a run folder's name: the env id, or for a bring-your-own model its file's name
 * (`robot.xml`), as the env's id says it (`custom:robot.xml`).
 */
export function runNameEnv(config: EnvConfig): string {
  if (config.id !== 'custom') return config.id;
  return config.model ? basename(config.model) : 'custom';
}

/**
 * The config with a bring-your-own model's and task's paths made absolute (resolved against the
 * working directory), as it should be saved: in a checkpoint, a dataset or a run's config, so
 * the run can be replayed from another folder. Built-in configs come back unchanged.
 */
export function absoluteEnvConfig(config: EnvConfig): EnvConfig {
  if (config.id !== 'custom') return config;
  return { ...config, ...(config.model ? { model: resolve(config.model) } : {}), ...(config.task ? { task: resolve(config.task) } : {}) };
}

export interface MakeEnvOptions {
  readonly logger?: Logger;
}

/**
 * Where an env config must be an object (createVecEnv, PpoTrainer.create, runPreferenceLoop:
 * what run folders save and worker threads receive), a TypeError naming `what` for anything
 * else. A string id, which makeEnv alone takes, was read as a config without an id and failed
 * as "unknown env undefined".
 */
export function checkEnvConfigObject(config: unknown, what: string, opts: { stringToo?: boolean } = {}): asserts config is EnvConfig {
  if (typeof config === 'object' && config !== null && typeof (config as { id?: unknown }).id === 'string') return;
  const want = `${opts.stringToo ? "an env id ('toy-reach'), an MJCF file's path or " : ''}an env config object { id, model?, task? }, e.g. { id: 'toy-reach' }`;
  if (typeof config === 'object' && config !== null && typeof (config as { spec?: unknown }).spec === 'object') {
    throw new TypeError(`${what} must be ${want}, not an env made by makeEnv (give the config it was made from)`);
  }
  const write =
    typeof config === 'string'
      ? ` (write ${looksLikeModelPath(config) ? `{ id: 'custom', model: ${JSON.stringify(config)} }` : `{ id: ${JSON.stringify(config)} }`}: only makeEnv and checkEnv also take a string)`
      : '';
  throw new TypeError(`${what} must be ${want}, got ${shownArg(config)}${write}`);
}

/** Build an env from a config (or a registry id). The caller owns it and must dispose() it. */
export async function makeEnv(config: EnvConfig | string, opts: MakeEnvOptions = {}): Promise<Env> {
  // A string is a registry id or, as on the command line, a path to an MJCF file.
  // An object without a string id (an Env, { name: ... }) failed as "unknown env undefined".
  if (typeof config !== 'string') checkEnvConfigObject(config, 'makeEnv: config', { stringToo: true });
  // A misspelt or misplaced option was dropped without a word: makeEnv('toy-reach', { seed: 3 }) made an env of seed 0.
  if (typeof opts === 'object' && opts !== null) {
    refuseUnknownKeys('makeEnv', opts, ['logger'], 'option', (u) => (u.includes('seed') ? `; a seed goes in the config: makeEnv({ id: ${JSON.stringify(typeof config === 'string' ? config : config.id)}, seed })` : ''));
  }
  const cfg: EnvConfig = typeof config === 'string' ? (looksLikeModelPath(config) ? envConfigFromArgs(config, { flag: 'makeEnv' }) : { id: config }) : config;
  if (cfg.id === 'custom') {
    if (!cfg.model) throw new UsageError('env config { id: "custom" }: needs model, the path of an MJCF file');
    const { makeCustomEnv } = await import('./custom.js');
    return makeCustomEnv(cfg.model, cfg.task, { seed: cfg.seed, logger: opts.logger });
  }
  const entry = registeredEnv(cfg.id);
  if (!entry) throw new UsageError(`unknown env ${JSON.stringify(cfg.id)} (known: ${envIds().join(', ')})`);
  // A model or task given with a built-in id would be ignored: the built-in env has its own.
  for (const key of ['model', 'task'] as const) {
    if (cfg[key] !== undefined) throw new UsageError(`env config { id: ${JSON.stringify(cfg.id)} }: ${key} is only for a bring-your-own model ({ id: "custom", model: "robot.xml", task: ... })`);
  }
  // Named as the custom path names it (makeCustomEnv), not as the Rng's "seed must be ..." deep inside.
  if (cfg.seed !== undefined && (typeof cfg.seed !== 'number' || !Number.isFinite(cfg.seed))) {
    const got = typeof cfg.seed === 'string' ? JSON.stringify(cfg.seed) : typeof cfg.seed === 'number' || cfg.seed === null ? String(cfg.seed) : typeof cfg.seed;
    throw new TypeError(`env config { id: ${JSON.stringify(cfg.id)} }: seed must be a finite number, got ${got}`);
  }
  if (entry.kind === 'toy') return new ToyReachEnv({ seed: cfg.seed });
  if (!entry.task || !entry.modelFile) throw new Error(`registry entry ${entry.id} is missing its task or model`);
  return MujocoEnv.create(entry.task, builtinModel(entry.modelFile), { seed: cfg.seed, logger: opts.logger });
}
