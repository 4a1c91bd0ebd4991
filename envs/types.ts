/**
 * The environment contract (Gymnasium-shaped), shared by MuJoCo envs, the pure-TS toy env
 * and vectorised envs.
 *
 * - `reset(seed?)` starts an episode and returns the first observation.
 * - `step(action)` applies an action (clipped to the bounds and rounded to float32, the precision
 *   trajectories and datasets store, so recordings replay exactly; wrong length or non-finite
 *   values throw an ActionError naming the env and step) and returns the next observation, the reward,
 *   the named reward terms (reward = sum_k weight_k * term_k, exactly), and the end flags.
 * - `getState()` / `setState()` copy the full simulator state so any step can be replayed
 *   bit for bit.
 * - `dispose()` frees WASM memory; an env must not be used afterwards.
 */

/** One named factor of the reward, rankable by a person (e.g. for HERON). */
export interface RewardTermSpec {
  readonly name: string;
  /** Ground-truth weight: reward = sum of weight x term. */
  readonly weight: number;
  /** What the term measures, with units. */
  readonly doc: string;
}

export interface EnvSpec {
  /** Registry id (e.g. "cheetah-run") or "custom:<file>" for bring-your-own models. */
  readonly id: string;
  readonly obsDim: number;
  readonly actDim: number;
  /** Observation bounds ([obsDim]); -Infinity/Infinity where unbounded. */
  readonly obsLow: Float64Array;
  readonly obsHigh: Float64Array;
  /** Action bounds ([actDim]); actions are clipped to them. */
  readonly actLow: Float64Array;
  readonly actHigh: Float64Array;
  readonly rewardTerms: readonly RewardTermSpec[];
  /** Seconds of simulated time per env step (timestep x frame skip). */
  readonly dt: number;
  /** Steps per episode before truncation. */
  readonly horizon: number;
  /** One sentence describing the task in words (teacher instructions, VLM prompts). */
  readonly goal: string;
  /** Sizes of the simulator state (0 for envs without MuJoCo state arrays of that kind). */
  readonly nq: number;
  readonly nv: number;
  readonly na: number;
  /** Identifies the physics (hash of the model and its assets); pairs record it. */
  readonly modelHash: string;
}

/** Extra facts about a step. */
export interface StepInfo {
  /** The simulation went unstable (e.g. bad qacc); the episode was truncated. */
  readonly unstable?: boolean;
  /** Task success measure in [0, 1] at this state, when the task defines one. */
  readonly success?: number;
}

export interface StepResult {
  /** [obsDim] observation after the step (owned by the caller; not reused by the env). */
  readonly obs: Float32Array;
  readonly reward: number;
  /** [nTerms] reward terms, in spec.rewardTerms order. */
  readonly rewardTerms: Float64Array;
  /** The episode ended in a terminal state (no bootstrapping). */
  readonly terminated: boolean;
  /** The episode was cut (horizon reached or instability); bootstrapping is valid. */
  readonly truncated: boolean;
  readonly info: StepInfo;
}

/** Complete simulator state: enough to replay any step bit for bit. */
export interface EnvState {
  readonly qpos: Float64Array;
  readonly qvel: Float64Array;
  readonly act: Float64Array;
  /** Simulated time in seconds. */
  readonly time: number;
  /** Step index within the episode (for truncation at the horizon). */
  readonly t: number;
  /** Constraint solver warm start (optional; restores solver iterations exactly). */
  readonly warmstart?: Float64Array;
}

export interface Env {
  readonly spec: EnvSpec;
  reset(seed?: number): Float32Array;
  step(action: ArrayLike<number>): StepResult;
  getState(): EnvState;
  /** Restore a state; returns the observation at that state. */
  setState(state: EnvState): Float32Array;
  /** Task success measure in [0, 1] at the current state, when the task defines one. */
  success?(): number;
  /**
   * The reward terms the task assigns to a transition (before-state, action, after-state),
   * defined for arbitrary pairs of states (not only ones the dynamics connect). Used to
   * evaluate the true reward off-trajectory (EPIC canonicalisation). Leaves the env in an
   * unspecified state: use a scratch env, or reset/setState afterwards. The action is checked and
   * clipped as in step() (an ActionError names the env and `after.t`).
   */
  transitionTerms(before: EnvState, action: ArrayLike<number>, after: EnvState): Float64Array;
  dispose(): void;
}

/** Thrown for an action of the wrong length or with NaN/Infinity. */
export class ActionError extends Error {
  constructor(envId: string, step: number, message: string) {
    super(`${envId} step ${step}: ${message}`);
    this.name = 'ActionError';
  }
}

/**
 * The action a step takes: checked (length, finite entries; an ActionError names the env and step
 * `t`) and written into `out` clipped to the bounds at float32 precision (what trajectories and
 * datasets store, so recordings replay exactly). One rule for step() and transitionTerms().
 */
export function clipAction(spec: Pick<EnvSpec, 'id' | 'actDim' | 'actLow' | 'actHigh'>, t: number, action: ArrayLike<number>, out: Float64Array | number[]): void {
  if (action.length !== spec.actDim) throw new ActionError(spec.id, t, `action has length ${action.length}, expected ${spec.actDim}`);
  for (let i = 0; i < spec.actDim; i++) {
    const x = action[i];
    if (!Number.isFinite(x)) throw new ActionError(spec.id, t, `action[${i}] is ${x}; actions must be finite numbers`);
    out[i] = Math.fround(x < spec.actLow[i] ? spec.actLow[i] : x > spec.actHigh[i] ? spec.actHigh[i] : x);
  }
}

/**
 * Throws naming the env and the first non-finite entry of a state given to setState (a NaN
 * state stepped into an "unstable" truncation that restored the NaN state and observed NaN).
 */
export function checkStateFinite(envId: string, state: Pick<EnvState, 'qpos' | 'qvel' | 'act' | 'time'>): void {
  for (const key of ['qpos', 'qvel', 'act'] as const) {
    const v = state[key];
    for (let i = 0; i < v.length; i++) {
      if (!Number.isFinite(v[i])) throw new Error(`${envId}: state ${key}[${i}] is ${v[i]}; a state must hold finite numbers`);
    }
  }
  if (!Number.isFinite(state.time)) throw new Error(`${envId}: state time is ${state.time}; a state must hold finite numbers`);
}

/**
 * What a model-hash mismatch means for a bring-your-own model (`custom:` ids; '' for built-in
 * envs): its hash covers every file of the model's folder that MuJoCo may read, so an edit to any
 * of them, another robot's XML file there included, changes it.
 */
export function modelHashNote(envId: string | undefined): string {
  return envId?.startsWith('custom:')
    ? " (a model file's hash covers the files of its folder: its meshes, textures and XML files, another robot's included; an edit to any of them changes it)"
    : '';
}

/** reward = sum_k weight_k * term_k (the contract every env satisfies). */
export function weightedSum(terms: ArrayLike<number>, specs: readonly RewardTermSpec[]): number {
  let r = 0;
  for (let k = 0; k < specs.length; k++) r += specs[k].weight * terms[k];
  return r;
}

/** JSON form of a spec: typed arrays become arrays, infinities become null. */
export interface EnvSpecJson extends Omit<EnvSpec, 'obsLow' | 'obsHigh' | 'actLow' | 'actHigh' | 'rewardTerms'> {
  readonly obsLow: (number | null)[];
  readonly obsHigh: (number | null)[];
  readonly actLow: (number | null)[];
  readonly actHigh: (number | null)[];
  readonly rewardTerms: RewardTermSpec[];
}

export function specToJson(spec: EnvSpec): EnvSpecJson {
  const arr = (a: Float64Array) => Array.from(a, (x) => (Number.isFinite(x) ? x : null));
  return {
    id: spec.id,
    obsDim: spec.obsDim,
    actDim: spec.actDim,
    obsLow: arr(spec.obsLow),
    obsHigh: arr(spec.obsHigh),
    actLow: arr(spec.actLow),
    actHigh: arr(spec.actHigh),
    rewardTerms: spec.rewardTerms.map((t) => ({ ...t })),
    dt: spec.dt,
    horizon: spec.horizon,
    goal: spec.goal,
    nq: spec.nq,
    nv: spec.nv,
    na: spec.na,
    modelHash: spec.modelHash,
  };
}
