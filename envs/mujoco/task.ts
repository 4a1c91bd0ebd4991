/**
 * Task logic on top of a MuJoCo model: observation, reward terms, termination, initial-state
 * distribution and goal text. Built-in tasks live in envs/tasks/; a bring-your-own task module
 * (`--task file.js|.ts`) default-exports a `MujocoTask` (or a function returning one).
 *
 * `bind(physics)` runs once per compiled model, resolves names to ids, and returns the
 * per-model functions; keeping ids in the closure keeps the per-step path free of lookups.
 */
import type { Rng } from '../../core/rng.js';
import type { RewardTermSpec } from '../types.js';
import type { Physics } from './physics.js';

export interface BoundTask {
  /** Length of the observation vector. */
  readonly obsDim: number;
  /**
   * Optional observation bounds (default unbounded), obsDim numbers each, ±Infinity where
   * unbounded (a task module may give plain arrays: they are checked and copied).
   */
  readonly obsLow?: Float64Array;
  readonly obsHigh?: Float64Array;
  /**
   * Set the initial state after `mj_resetData` (randomise qpos/qvel, place targets).
   * The only place a task may draw random numbers: steps are deterministic given actions.
   */
  initialize(physics: Physics, rng: Rng): void;
  /** Write the observation of the current state into `out` ([obsDim]): every entry (a task module's unwritten entry is an error). */
  observe(physics: Physics, out: Float32Array): void;
  /** Optional hook before the physics steps (e.g. to remember a position for displacement terms). */
  beforeStep?(physics: Physics): void;
  /**
   * Write the reward terms after a step into `out` ([rewardTerms.length], every one), given the clipped
   * action. The env computes reward = sum of weight x term itself.
   */
  rewardTerms(physics: Physics, action: Float64Array, out: Float64Array): void;
  /** True when the current state is terminal (e.g. the hopper fell). */
  terminated(physics: Physics): boolean;
  /** Task success in [0, 1] at the current state (used by synthetic VLM teachers). */
  success?(physics: Physics): number;
}

export interface MujocoTask {
  /**
   * The task's name. A built-in task's is its env id ("cheetah-run"); an env made from a
   * bring-your-own model is named `custom:<model file name>` whatever its task module calls
   * itself, so there this is only checked to be a string.
   */
  readonly id: string;
  /** One sentence describing the goal (the env spec's `goal`: shown to people in the viewer, given to VLM teachers). */
  readonly goal: string;
  /**
   * The reward terms, in the order `rewardTerms()` writes them: the env's reward is the sum of
   * weight x term. Names must differ (teachers and HERON configs name terms).
   */
  readonly rewardTerms: readonly RewardTermSpec[];
  /** Episode length in env steps. */
  readonly horizon: number;
  /** Physics steps per env step. */
  readonly frameSkip: number;
  bind(physics: Physics): BoundTask;
}

/** The file names a task module may have (what Node and tsx import: JavaScript, ES module or CommonJS, and TypeScript). */
export const TASK_FILE = /\.(js|mjs|cjs|ts|mts|cts)$/i;

/** Identity helper that gives task modules type checking without importing classes. */
export function defineTask(task: MujocoTask): MujocoTask {
  return task;
}
