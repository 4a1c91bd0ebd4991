/**
 * Bring-your-own robots: any MJCF file (with `<include>`s and mesh/texture assets in its
 * folder) plus an optional task module.
 *
 * A task module (`--task my_task.js|.mjs|.ts`) exports a `MujocoTask` as its default export or
 * as `task` (or a function of no arguments returning one, or a promise of one); see
 * envs/mujoco/task.ts for the interface and envs/tasks/*.ts for examples. TypeScript modules are
 * compiled on the fly, as ES modules or CommonJS as their package says.
 *
 * Without a task module the default task applies:
 *   observation  all of qpos and qvel, then the actuator activations (act) when there are any
 *   reward terms forward_velocity (x velocity of the centre of mass of the first moving body and
 *                the bodies it carries, m/s; weight 1.0) and, when the model has actuators,
 *                control_effort (sum of squared controls; -0.1)
 *   episodes     1000 steps, no termination; frame skip chosen so dt is about 0.04 s
 *   initial      the first keyframe's qpos, qvel and act when the model has a <keyframe> (else qpos0,
 *                at rest), then qpos + U(-0.01, 0.01) (free and ball joint quaternions scaled back to unit length), qvel + N(0, 0.01^2)
 */
import { existsSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { errorMessage, InputError, shownArg } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { MujocoEnv } from './mujoco/env.js';
import { compileModel, loadMujoco } from './mujoco/runtime.js';
import type { Physics } from './mujoco/physics.js';
import { type BoundTask, defineTask, type MujocoTask, TASK_FILE } from './mujoco/task.js';
import { perturbInitialState, squaredNorm } from './tasks/common.js';
import type { EnvSpec } from './types.js';

/** The default task for a model with physics timestep `timestep` and `nu` actuators. */
export function defaultTask(modelName: string, timestep: number, nu: number): MujocoTask {
  const frameSkip = Math.max(1, Math.round(0.04 / timestep));
  const terms = [{ name: 'forward_velocity', weight: 1.0, doc: 'x velocity of the centre of mass of the first moving body and the bodies it carries, m/s' }];
  if (nu > 0) terms.push({ name: 'control_effort', weight: -0.1, doc: 'sum of squared controls' });
  return defineTask({
    id: `custom:${modelName}`,
    goal: `Move the robot forward (in the +x direction) as fast as possible${nu > 0 ? ' while using little control effort' : ''}.`,
    rewardTerms: terms,
    horizon: 1000,
    frameSkip,
    bind(physics) {
      // The first body (after the world) that has a joint is the one whose progress counts: its
      // subtree's centre of mass (itself and the bodies it carries), not its frame, whose origin
      // is its joint's anchor, fixed for a hinge on a fixed base (an arm, a pendulum): the term
      // was 0 at every step there.
      const bodyJntNum = physics.model.body_jntnum as Int32Array;
      let body = 1;
      while (body < physics.nbody && bodyJntNum[body] === 0) body++;
      if (body >= physics.nbody) body = Math.min(1, physics.nbody - 1);
      const dt = physics.timestep * frameSkip;
      let xBefore = 0;
      return {
        // Activations too where actuators have dynamics (filters, integrators, muscles): without
        // them qpos and qvel are not the whole state, and the policy cannot know what it drives.
        obsDim: physics.nq + physics.nv + physics.na,
        initialize(p, rng) {
          // A model with keyframes starts from its first (MuJoCo Menagerie's robots keep their
          // standing "home" pose there; qpos0 may have a legged robot inside the floor).
          const m = p.model;
          if (m.nkey > 0) {
            const v = p.views;
            v.qpos.set((m.key_qpos as Float64Array).subarray(0, p.nq));
            v.qvel.set((m.key_qvel as Float64Array).subarray(0, p.nv));
            if (p.na > 0) v.act.set((m.key_act as Float64Array).subarray(0, p.na));
          }
          perturbInitialState(p, rng, 0.01, 0.01);
        },
        observe(p, out) {
          const v = p.views;
          out.set(v.qpos, 0);
          out.set(v.qvel, v.qpos.length);
          if (v.act.length > 0) out.set(v.act, v.qpos.length + v.qvel.length);
        },
        beforeStep(p) {
          xBefore = p.views.subtreeCom[3 * body];
        },
        rewardTerms(p, action, out) {
          out[0] = (p.views.subtreeCom[3 * body] - xBefore) / dt;
          if (nu > 0) out[1] = squaredNorm(action);
        },
        terminated: () => false,
      };
    },
  });
}

const REQUIRED: [keyof MujocoTask, string][] = [
  ['id', 'string'],
  ['goal', 'string'],
  ['horizon', 'number'],
  ['frameSkip', 'number'],
  ['bind', 'function'],
];

/** Check that a value from a task module looks like a MujocoTask; errors name the file and field. */
export function validateTask(value: unknown, file: string): MujocoTask {
  if (typeof value !== 'object' || value === null) {
    throw new InputError(file, 'the task module must export a task object (default export or `task`), or a function returning one');
  }
  const t = value as Record<string, unknown>;
  for (const [key, type] of REQUIRED) {
    if (typeof t[key] !== type) throw new InputError(file, `task.${key} must be a ${type}, got ${t[key] === undefined ? 'nothing' : typeof t[key]}`, key);
  }
  // The goal is what people in the viewer and VLM teachers are told: an empty one tells them nothing.
  if ((t.goal as string).trim() === '') throw new InputError(file, 'task.goal is empty; write one sentence saying what the robot should do (people and VLM teachers are shown it)', 'goal');
  if (!Number.isInteger(t.horizon) || (t.horizon as number) < 1) throw new InputError(file, 'task.horizon must be a positive integer', 'horizon');
  if (!Number.isInteger(t.frameSkip) || (t.frameSkip as number) < 1) throw new InputError(file, 'task.frameSkip must be a positive integer', 'frameSkip');
  if (!Array.isArray(t.rewardTerms) || t.rewardTerms.length === 0) {
    throw new InputError(file, 'task.rewardTerms must be a non-empty array of {name, weight, doc}', 'rewardTerms');
  }
  const seen = new Map<string, number>();
  t.rewardTerms.forEach((term: unknown, i: number) => {
    const r = term as Record<string, unknown>;
    if (typeof r?.name !== 'string' || r.name.trim() === '' || typeof r.weight !== 'number' || !Number.isFinite(r.weight)) {
      const got = typeof r !== 'object' || r === null ? shownArg(r) : `name ${shownArg(r.name)}, weight ${shownArg(r.weight)}`;
      throw new InputError(file, `task.rewardTerms[${i}] needs a string name and a finite numeric weight, got ${got} (a name must not be empty)`, `rewardTerms[${i}]`);
    }
    // Terms are looked up by name (teachers' weights, rankings, reward features): two of one name would be one term.
    const first = seen.get(r.name);
    if (first !== undefined) {
      throw new InputError(file, `task.rewardTerms[${i}] is named ${JSON.stringify(r.name)} like rewardTerms[${first}]; reward term names must differ`, `rewardTerms[${i}]`);
    }
    seen.set(r.name, i);
  });
  return value as MujocoTask;
}

/**
 * Why a task module did not load, on one line: the message's first line, or for TypeScript
 * the line esbuild puts under its "Transform failed with N error(s):" header (file:line:col and
 * the error).
 */
function loadErrorMessage(e: unknown): string {
  const lines = errorMessage(e).split('\n');
  return /^Transform failed with/.test(lines[0]) && lines[1] ? lines[1] : lines[0];
}

/** Import a task module (.js/.mjs, or .ts compiled on the fly) and validate its export. */
export async function loadTaskModule(path: string): Promise<MujocoTask> {
  const abs = resolve(path);
  // Said plainly rather than as the import's "Cannot find module ... imported from <prefrl's own file>".
  if (!existsSync(abs)) throw new InputError(path, 'cannot load the task module: no such file');
  if (statSync(abs).isDirectory()) throw new InputError(path, 'cannot load the task module: this is a folder; give the task module file itself (.js, .mjs, .cjs or .ts)');
  if (!TASK_FILE.test(abs)) throw new InputError(path, 'cannot load the task module: a task module is a .js, .mjs, .cjs or .ts file');
  let mod: Record<string, unknown>;
  let value: unknown;
  try {
    if (/\.(ts|mts|cts)$/.test(abs)) {
      const { tsImport } = await import('tsx/esm/api');
      mod = (await tsImport(pathToFileURL(abs).href, import.meta.url)) as Record<string, unknown>;
    } else {
      mod = (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
    }
    value = mod.default ?? mod.task;
    // A CommonJS module (a .js file, or a .ts one compiled, outside a "type": "module" package)
    // arrives as { default: module.exports }, its exports one level down: a compiled one marks
    // them with __esModule; a hand-written one (`exports.task = ...`, `module.exports = { task }`)
    // is an exports object that is no task itself (no bind) but holds one.
    const cjs = value as Record<string, unknown> | undefined;
    if (typeof cjs === 'object' && cjs !== null && (cjs.__esModule === true || (typeof cjs.bind !== 'function' && (cjs.task !== undefined || cjs.default !== undefined)))) {
      value = cjs.default ?? cjs.task;
    }
    if (typeof value === 'function') value = await (value as () => unknown)();
  } catch (e) {
    const why = loadErrorMessage(e);
    // A task outside this package's folder cannot import 'prefrl' unless it is installed there too.
    const hint = /Cannot find (package|module) 'prefrl'/.test(why)
      ? " (the task's folder cannot see the prefrl package: install it there, or drop the import: defineTask only adds type checking, and a module that exports the task object itself works the same)"
      : /\b(module|exports|require) is not defined in ES module scope/.test(why)
        ? ' (Node reads this file as an ES module: its name ends in .mjs, or the package.json above it says "type": "module"; write `export default task`, or name the file .cjs to keep module.exports)'
        : '';
    throw new InputError(path, `cannot load the task module: ${why}${hint}`);
  }
  return guardTask(validateTask(value, path), path);
}

/** ", at <file>:<line>:<col>" for the innermost frame of the task module in an error's stack, or ''. */
function taskFrame(e: unknown, file: string): string {
  const abs = resolve(file);
  const url = pathToFileURL(abs).href;
  for (const line of (e instanceof Error ? (e.stack ?? '') : '').split('\n').slice(1)) {
    // "    at fn (file:///path/task.mjs:12:5)" or "    at file:///path/task.mjs:12:5"
    const m = /\(?(\S+?):(\d+):(\d+)\)?$/.exec(line.trim());
    const where = m?.[1].replace(/^\(/, '').split('?')[0];
    if (m && (where === url || where === abs)) return `, at ${basename(abs)}:${m[2]}:${m[3]}`;
  }
  return '';
}

/** An error thrown by the task module's own code, as an InputError naming the file and function. */
function taskError(file: string, fn: string, e: unknown, hint = ''): InputError {
  if (e instanceof InputError) return e;
  const kind = e instanceof Error && e.name !== 'Error' ? `${e.name}: ` : '';
  return new InputError(file, `task.${fn}() threw ${kind}${errorMessage(e).split('\n')[0]}${taskFrame(e, file)}${hint}`, fn);
}

/**
 * Observation bounds from a task module as a Float64Array of `obsDim` numbers (a plain array is
 * fine; ±Infinity where unbounded); anything else is an InputError naming the file and field.
 * (Bounds of the wrong length read as undefined past their end, and every comparison with
 * undefined is false: check-env found every observation "in bounds".)
 */
function checkBounds(file: string, field: 'obsLow' | 'obsHigh', value: unknown, obsDim: number): Float64Array {
  const v = value as ArrayLike<unknown> | null;
  const length = typeof v === 'object' && v !== null && typeof v.length === 'number' ? v.length : undefined;
  if (length !== obsDim) {
    const what = length === undefined ? `a ${typeof value}, not an array` : `of length ${length}`;
    throw new InputError(file, `task.bind() returned ${field} ${what}; it must hold obsDim = ${obsDim} numbers`, field);
  }
  const out = new Float64Array(obsDim);
  for (let i = 0; i < obsDim; i++) {
    const x = (v as ArrayLike<unknown>)[i];
    if (typeof x !== 'number' || Number.isNaN(x)) {
      throw new InputError(file, `task.bind() returned ${field}[${i}] = ${String(x)}; bounds must be numbers (-Infinity/Infinity where unbounded)`, field);
    }
    out[i] = x;
  }
  return out;
}

/** The largest observation a task module may declare (numbers per step; a flat vector, not an image). */
export const MAX_OBS_DIM = 1_000_000;

/**
 * For an observe() or rewardTerms() that left its `out` unwritten and returned something instead
 * (`return [x, y]`, as a function that makes its result would): say where the values must go.
 */
function returnedHint(returned: unknown): string {
  if (returned === undefined) return '';
  const what = typeof returned === 'object' && returned !== null && typeof (returned as { length?: unknown }).length === 'number' ? `an array of ${(returned as ArrayLike<unknown>).length} values` : shownArg(returned);
  return ` (it returned ${what}: write the values into its \`out\` argument, e.g. out.set(values) or out[0] = x, and return nothing)`;
}

/**
 * A task module's task with every call into its code guarded: an exception becomes an
 * InputError naming the file and the function (one line, no stack), and observations or
 * reward terms that are not finite numbers are refused, naming the value.
 */
function guardTask(task: MujocoTask, file: string): MujocoTask {
  return {
    ...task,
    bind(physics) {
      let b: BoundTask;
      try {
        b = task.bind(physics);
      } catch (e) {
        throw taskError(file, 'bind', e);
      }
      if (typeof b !== 'object' || b === null) throw new InputError(file, 'task.bind() must return an object {obsDim, initialize, observe, rewardTerms, terminated}', 'bind');
      if (!Number.isInteger(b.obsDim) || b.obsDim < 0) throw new InputError(file, `task.bind() returned obsDim ${shownArg(b.obsDim)}; it must be a non-negative integer (a number)`, 'obsDim');
      // (Beyond this the env's arrays fail to allocate: a RangeError with a stack, naming no file.)
      if (b.obsDim > MAX_OBS_DIM) throw new InputError(file, `task.bind() returned obsDim ${b.obsDim}; an observation holds at most ${MAX_OBS_DIM} values`, 'obsDim');
      for (const fn of ['initialize', 'observe', 'rewardTerms', 'terminated'] as const) {
        if (typeof b[fn] !== 'function') throw new InputError(file, `task.bind() returned no ${fn} function`, fn);
      }
      const obsLow = b.obsLow === undefined ? undefined : checkBounds(file, 'obsLow', b.obsLow, b.obsDim);
      const obsHigh = b.obsHigh === undefined ? undefined : checkBounds(file, 'obsHigh', b.obsHigh, b.obsDim);
      for (let i = 0; obsLow && obsHigh && i < b.obsDim; i++) {
        if (obsLow[i] > obsHigh[i]) throw new InputError(file, `task.bind() returned obsLow[${i}] = ${obsLow[i]} above obsHigh[${i}] = ${obsHigh[i]}`, 'obsLow');
      }
      const names = task.rewardTerms.map((t) => t.name);
      // Each of the task's functions, run so that an exception becomes one line naming the file and the function.
      const guard =
        <A extends unknown[], R>(name: string, fn: (...a: A) => R, hint?: (e: unknown) => string) =>
        (...a: A): R => {
          try {
            return fn(...a);
          } catch (e) {
            throw taskError(file, name, e, hint?.(e) ?? '');
          }
        };
      const observe = guard('observe', b.observe.bind(b), (e) => (e instanceof RangeError ? ` (the observation holds obsDim = ${b.obsDim} values)` : ''));
      const rewardTerms = guard('rewardTerms', b.rewardTerms.bind(b));
      const terminated = guard('terminated', b.terminated.bind(b));
      const { beforeStep, success } = b;
      const guardedSuccess = success ? guard('success', success.bind(b) as (p: Physics) => unknown) : undefined;
      return {
        ...b,
        ...(obsLow ? { obsLow } : {}),
        ...(obsHigh ? { obsHigh } : {}),
        initialize: guard('initialize', b.initialize.bind(b)),
        observe(p, out) {
          // NaN marks the entries the task must write: one left over is an observation shorter
          // than obsDim (writes past the end of a typed array vanish without an error).
          out.fill(Number.NaN);
          const returned = observe(p, out) as unknown;
          for (let i = 0; i < out.length; i++) {
            if (Number.isNaN(out[i])) {
              throw new InputError(file, `task.observe() left index ${i} unwritten (or wrote NaN there); it must write all obsDim = ${b.obsDim} values, finite numbers${returnedHint(returned)}`, 'observe');
            }
            if (!Number.isFinite(out[i])) throw new InputError(file, `task.observe() wrote ${out[i]} at index ${i}; observations must be finite numbers`, 'observe');
          }
        },
        ...(beforeStep ? { beforeStep: guard('beforeStep', beforeStep.bind(b)) } : {}),
        rewardTerms(p, action, out) {
          // As for observations: NaN marks the terms the task must write.
          out.fill(Number.NaN);
          const returned = rewardTerms(p, action, out) as unknown;
          for (let i = 0; i < out.length; i++) {
            if (!Number.isFinite(out[i])) {
              const unset = Number.isNaN(out[i]) ? ' (or left it unwritten)' : '';
              throw new InputError(file, `task.rewardTerms() gave ${names[i]} = ${out[i]}${unset}; reward terms must be finite numbers${Number.isNaN(out[i]) ? returnedHint(returned) : ''}`, 'rewardTerms');
            }
          }
        },
        terminated(p) {
          // A number (`qpos[2] < 0.2 ? 1 : 0`, or a height) read as true ended episodes after one
          // step; a forgotten `return` (undefined) never ended one: both without a word.
          const done = terminated(p) as unknown;
          if (typeof done !== 'boolean') {
            throw new InputError(file, `task.terminated() returned ${shownArg(done)}; it must return true (the episode ends here) or false`, 'terminated');
          }
          return done;
        },
        // (A JS task whose success() returns nothing reads as NaN: no measure.)
        ...(guardedSuccess
          ? {
              success: (p: Physics) => {
                const s = guardedSuccess(p) as unknown;
                if (s === undefined) return Number.NaN;
                if (typeof s !== 'number' || !(Number.isNaN(s) || (s >= 0 && s <= 1))) {
                  throw new InputError(file, `task.success() returned ${shownArg(s)}; it must return a number from 0 to 1 (or nothing, or NaN: no measure)`, 'success');
                }
                return s;
              },
            }
          : {}),
      };
    },
  };
}

/**
 * Build an env from an MJCF file and an optional task module (what `makeEnv({ id: 'custom',
 * model, task, seed })` does). Paths of the wrong type and a seed that is not a finite number
 * are a TypeError naming the field of the env config; a missing or bad file an InputError
 * naming the file.
 */
export async function makeCustomEnv(
  modelPath: string,
  taskPath: string | undefined,
  opts: { seed?: number; logger?: Logger } = {},
): Promise<MujocoEnv> {
  const shown = (v: unknown): string => (typeof v === 'number' ? String(v) : v === null ? 'null' : typeof v);
  if (typeof modelPath !== 'string' || modelPath === '') throw new TypeError(`env config { id: "custom" }: model must be the path of an MJCF file (a string), got ${shown(modelPath)}`);
  // (null is read as absent, as before: a config written by hand may say "task": null.)
  if (taskPath != null && typeof taskPath !== 'string') throw new TypeError(`env config { id: "custom" }: task must be the path of a task module (a string), got ${shown(taskPath)}`);
  // An empty path is no task module, not the default task (leave task out for that).
  if (taskPath === '') throw new TypeError('env config { id: "custom" }: task is an empty string; give the path of a task module, or leave task out for the default task');
  if (opts.seed !== undefined && (typeof opts.seed !== 'number' || !Number.isFinite(opts.seed))) {
    throw new TypeError(`env config { id: "custom" }: seed must be a finite number, got ${typeof opts.seed === 'string' ? JSON.stringify(opts.seed) : shown(opts.seed)}`);
  }
  const source = { kind: 'file', path: resolve(modelPath) } as const;
  let task: MujocoTask;
  if (taskPath != null) task = await loadTaskModule(taskPath);
  else {
    const mj = await loadMujoco();
    const probe = compileModel(mj, source);
    try {
      task = defaultTask(basename(modelPath), probe.model.opt.timestep, probe.model.nu);
    } finally {
      probe.dispose();
    }
  }
  const env = await MujocoEnv.create(task, source, { seed: opts.seed, logger: opts.logger, id: `custom:${basename(modelPath)}` });
  builtFrom.set(env.spec, { model: source.path, task: taskPath != null ? resolve(taskPath) : null });
  return env;
}

/** The files a bring-your-own env was built from: absolute paths, as makeCustomEnv resolved them. */
export interface CustomEnvSource {
  /** The MJCF file. */
  readonly model: string;
  /** The task module, or null for the model's default task. */
  readonly task: string | null;
}

/** makeCustomEnv's envs, by their spec object (weakly: the entry goes with the env). */
const builtFrom = new WeakMap<EnvSpec, CustomEnvSource>();

/**
 * The files the env with this spec was built from, when makeCustomEnv built it in this thread;
 * undefined for a built-in env, a copy of a spec, or a spec that came from a worker thread. The
 * spec's id (`custom:<model file>`) names neither the model's folder nor the task module, so a
 * saved policy's loader compares these paths with the ones the policy was trained with.
 */
export function customEnvSource(spec: EnvSpec): CustomEnvSource | undefined {
  return builtFrom.get(spec);
}
