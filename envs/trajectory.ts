/**
 * Trajectories: what rollouts produce and what segments are cut from.
 *
 * One `Trajectory` is one episode (or the part of one a rollout collected), stored as flat
 * row-major typed arrays. With T steps:
 *   obs      Float32Array [(T+1), obsDim]  observations s_0..s_T (s_T is the last one)
 *   actions  Float32Array [T, actDim]      clipped actions a_0..a_{T-1}
 *   rewards  Float64Array [T]              r_t received after a_t
 *   terms    Float64Array [T, nTerms]      reward terms of each step
 *   qpos     Float64Array [(T+1), nq]      simulator state at s_0..s_T (replay, rendering)
 *   qvel     Float64Array [(T+1), nv]
 *   act      Float64Array [(T+1), na]
 *   time     Float64Array [(T+1)]          simulated time at s_0..s_T, seconds
 *   success  Float32Array [T]              task success after each step (NaN when undefined)
 * plus the step index `t0` of s_0 in its episode, and how the
 * trajectory ended: terminated (terminal state), truncated (horizon or instability) or neither
 * (the rollout stopped mid-episode).
 *
 * Collections of trajectories are saved as a folder of .npy files (concatenated rows) plus
 * index.json, readable from NumPy as well.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError, parseJson } from '../core/errors.js';
import { readNpy, writeNpy } from '../core/npy.js';
import { writeJsonAtomic } from '../core/run.js';
import type { EnvSpec, EnvState, StepResult } from './types.js';
import { makeFolder } from '../core/paths.js';

export interface TrajectoryDims {
  readonly obsDim: number;
  readonly actDim: number;
  readonly nTerms: number;
  readonly nq: number;
  readonly nv: number;
  readonly na: number;
}

/**
 * Steps of one env in the layouts of the header: a trajectory, or a segment cut from one
 * (reward/types.ts).
 */
export interface StepArrays extends TrajectoryDims {
  readonly envId: string;
  readonly modelHash: string;
  /** Number of steps T. */
  readonly length: number;
  readonly obs: Float32Array;
  readonly actions: Float32Array;
  readonly rewards: Float64Array;
  readonly terms: Float64Array;
  readonly qpos: Float64Array;
  readonly qvel: Float64Array;
  readonly act: Float64Array;
  readonly time: Float64Array;
  readonly success: Float32Array;
}

export interface Trajectory extends StepArrays {
  /** Step index of s_0 within its episode. */
  readonly t0: number;
  readonly terminated: boolean;
  readonly truncated: boolean;
  readonly unstable: boolean;
}

export function dimsOf(spec: EnvSpec): TrajectoryDims {
  return { obsDim: spec.obsDim, actDim: spec.actDim, nTerms: spec.rewardTerms.length, nq: spec.nq, nv: spec.nv, na: spec.na };
}

/** Growable typed array. */
class Grow<A extends Float32Array | Float64Array> {
  private buf: A;
  length = 0;
  constructor(
    private readonly make: (n: number) => A,
    capacity: number,
  ) {
    this.buf = make(Math.max(1, capacity));
  }
  push(values: ArrayLike<number>): void {
    const need = this.length + values.length;
    if (need > this.buf.length) {
      const next = this.make(Math.max(need, this.buf.length * 2));
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
    }
    this.buf.set(values, this.length);
    this.length = need;
  }
  pushOne(x: number): void {
    if (this.length >= this.buf.length) {
      const next = this.make(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = x;
  }
  last(): number {
    return this.buf[this.length - 1];
  }
  take(): A {
    return this.buf.slice(0, this.length) as A;
  }
}

/**
 * Builds one trajectory step by step: `start(obs, state)` with the first observation and its
 * simulator state, then `add(action, step, stateAfter)` per step, then `finish()`.
 */
export class TrajectoryBuilder {
  private obs: Grow<Float32Array>;
  private actions: Grow<Float32Array>;
  private rewards: Grow<Float64Array>;
  private terms: Grow<Float64Array>;
  private qpos: Grow<Float64Array>;
  private qvel: Grow<Float64Array>;
  private act: Grow<Float64Array>;
  private time: Grow<Float64Array>;
  private success: Grow<Float32Array>;
  private steps = 0;
  private t0 = 0;
  private started = false;
  private ended: { terminated: boolean; truncated: boolean; unstable: boolean } = { terminated: false, truncated: false, unstable: false };

  constructor(
    readonly spec: EnvSpec,
    capacity = 256,
  ) {
    const d = dimsOf(spec);
    this.obs = new Grow((n) => new Float32Array(n), (capacity + 1) * d.obsDim);
    this.actions = new Grow((n) => new Float32Array(n), capacity * d.actDim);
    this.rewards = new Grow((n) => new Float64Array(n), capacity);
    this.terms = new Grow((n) => new Float64Array(n), capacity * d.nTerms);
    this.qpos = new Grow((n) => new Float64Array(n), (capacity + 1) * d.nq);
    this.qvel = new Grow((n) => new Float64Array(n), (capacity + 1) * d.nv);
    this.act = new Grow((n) => new Float64Array(n), (capacity + 1) * Math.max(1, d.na));
    this.time = new Grow((n) => new Float64Array(n), capacity + 1);
    this.success = new Grow((n) => new Float32Array(n), capacity);
  }

  get length(): number {
    return this.steps;
  }

  /** Simulated time of the latest recorded state. */
  get lastTime(): number {
    return this.time.last();
  }

  start(obs: ArrayLike<number>, state: Pick<EnvState, 'qpos' | 'qvel' | 'act' | 'time' | 't'>): void {
    if (this.started) throw new Error('TrajectoryBuilder.start() called twice');
    this.started = true;
    this.obs.push(obs);
    this.qpos.push(state.qpos);
    this.qvel.push(state.qvel);
    this.act.push(state.act);
    this.time.pushOne(state.time);
    this.t0 = state.t;
  }

  /** Record one step: the action taken, the env's result, and the simulator state after it. */
  add(
    action: ArrayLike<number>,
    step: Pick<StepResult, 'obs' | 'reward' | 'rewardTerms' | 'terminated' | 'truncated' | 'info'>,
    stateAfter: Pick<EnvState, 'qpos' | 'qvel' | 'act' | 'time'>,
  ): void {
    if (!this.started) throw new Error('TrajectoryBuilder.add() before start()');
    const lo = this.spec.actLow;
    const hi = this.spec.actHigh;
    const a = new Float32Array(action.length);
    for (let i = 0; i < a.length; i++) a[i] = Math.min(hi[i], Math.max(lo[i], action[i]));
    this.actions.push(a);
    this.rewards.pushOne(step.reward);
    this.terms.push(step.rewardTerms);
    this.obs.push(step.obs);
    this.qpos.push(stateAfter.qpos);
    this.qvel.push(stateAfter.qvel);
    this.act.push(stateAfter.act);
    this.time.pushOne(stateAfter.time);
    this.success.pushOne(step.info.success ?? Number.NaN);
    this.steps++;
    this.ended = { terminated: step.terminated, truncated: step.truncated, unstable: Boolean(step.info.unstable) };
  }

  finish(): Trajectory {
    if (!this.started) throw new Error('TrajectoryBuilder.finish() before start()');
    const d = dimsOf(this.spec);
    return {
      ...d,
      envId: this.spec.id,
      modelHash: this.spec.modelHash,
      length: this.steps,
      obs: this.obs.take(),
      actions: this.actions.take(),
      rewards: this.rewards.take(),
      terms: this.terms.take(),
      qpos: this.qpos.take(),
      qvel: this.qvel.take(),
      act: this.act.take(),
      time: this.time.take(),
      success: this.success.take(),
      t0: this.t0,
      ...this.ended,
    };
  }
}

/** Sum of rewards of a trajectory. */
export function trajectoryReturn(tr: Trajectory): number {
  let s = 0;
  for (let i = 0; i < tr.length; i++) s += tr.rewards[i];
  return s;
}

/** The simulator state at step i of a trajectory (0 <= i <= T). */
export function stateAt(tr: Trajectory, i: number): EnvState {
  if (i < 0 || i > tr.length) throw new RangeError(`stateAt: step ${i} outside 0..${tr.length}`);
  return {
    qpos: tr.qpos.slice(i * tr.nq, (i + 1) * tr.nq),
    qvel: tr.qvel.slice(i * tr.nv, (i + 1) * tr.nv),
    act: tr.act.slice(i * tr.na, (i + 1) * tr.na),
    time: tr.time[i],
    t: tr.t0 + i,
  };
}

interface IndexEntry {
  start: number;
  length: number;
  t0: number;
  terminated: boolean;
  truncated: boolean;
  unstable: boolean;
}

interface IndexFile {
  format: 'prefrl-trajectories-v1';
  envId: string;
  modelHash: string;
  dims: TrajectoryDims;
  episodes: IndexEntry[];
}

/** The parts one after another in one new array made by `make(total length)` (rows of several trajectories). */
export function concat<A extends Float32Array | Float64Array | Uint8Array>(parts: readonly A[], make: (n: number) => A): A {
  const out = make(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Save trajectories (all of one env) to a folder: obs.npy etc. with the rows of every
 * trajectory concatenated, and index.json with per-trajectory offsets (in steps) and flags.
 */
export function saveTrajectories(dir: string, trajs: readonly Trajectory[]): void {
  if (trajs.length === 0) throw new Error('saveTrajectories: nothing to save');
  const first = trajs[0];
  for (const t of trajs) {
    if (t.envId !== first.envId || t.modelHash !== first.modelHash) {
      throw new Error(`saveTrajectories: mixed envs (${first.envId} and ${t.envId}) in one folder`);
    }
  }
  makeFolder(dir);
  const d: TrajectoryDims = { obsDim: first.obsDim, actDim: first.actDim, nTerms: first.nTerms, nq: first.nq, nv: first.nv, na: first.na };
  const steps = trajs.reduce((n, t) => n + t.length, 0);
  const states = steps + trajs.length;
  const f32 = (n: number) => new Float32Array(n);
  const f64 = (n: number) => new Float64Array(n);
  writeNpy(join(dir, 'obs.npy'), concat(trajs.map((t) => t.obs), f32), [states, d.obsDim]);
  writeNpy(join(dir, 'actions.npy'), concat(trajs.map((t) => t.actions), f32), [steps, d.actDim]);
  writeNpy(join(dir, 'rewards.npy'), concat(trajs.map((t) => t.rewards), f64), [steps]);
  writeNpy(join(dir, 'terms.npy'), concat(trajs.map((t) => t.terms), f64), [steps, d.nTerms]);
  writeNpy(join(dir, 'qpos.npy'), concat(trajs.map((t) => t.qpos), f64), [states, d.nq]);
  writeNpy(join(dir, 'qvel.npy'), concat(trajs.map((t) => t.qvel), f64), [states, d.nv]);
  writeNpy(join(dir, 'act.npy'), concat(trajs.map((t) => t.act), f64), [states, d.na]);
  writeNpy(join(dir, 'time.npy'), concat(trajs.map((t) => t.time), f64), [states]);
  writeNpy(join(dir, 'success.npy'), concat(trajs.map((t) => t.success), f32), [steps]);
  let start = 0;
  const episodes = trajs.map((t) => {
    const e: IndexEntry = { start, length: t.length, t0: t.t0, terminated: t.terminated, truncated: t.truncated, unstable: t.unstable };
    start += t.length;
    return e;
  });
  const index: IndexFile = { format: 'prefrl-trajectories-v1', envId: first.envId, modelHash: first.modelHash, dims: d, episodes };
  writeJsonAtomic(join(dir, 'index.json'), index);
}

const isCount = (x: unknown): x is number => Number.isInteger(x) && (x as number) >= 0;

/**
 * A parsed index.json checked field by field: dims of non-negative integers, episodes whose
 * starts follow one another (episode k starts where k - 1 ended: the arrays are cut by them).
 */
function checkIndex(value: unknown, file: string): IndexFile {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InputError(file, 'not a trajectory index (a JSON object with format, dims and episodes)');
  }
  const index = value as IndexFile;
  if (index.format !== 'prefrl-trajectories-v1') throw new InputError(file, `unknown format ${JSON.stringify(index.format)}`, 'format');
  const dims = index.dims as unknown as Record<string, unknown> | undefined;
  if (typeof dims !== 'object' || dims === null) throw new InputError(file, 'must be an object of non-negative integers obsDim, actDim, nTerms, nq, nv, na', 'dims');
  for (const key of ['obsDim', 'actDim', 'nTerms', 'nq', 'nv', 'na']) {
    if (!isCount(dims[key])) throw new InputError(file, `must be a non-negative integer, got ${JSON.stringify(dims[key])}`, `dims.${key}`);
  }
  if (!Array.isArray(index.episodes)) throw new InputError(file, 'must be an array of {start, length, t0, terminated, truncated, unstable}', 'episodes');
  let start = 0;
  index.episodes.forEach((e: unknown, k: number) => {
    const r = (typeof e === 'object' && e !== null ? e : {}) as Record<string, unknown>;
    for (const key of ['length', 't0', 'start']) {
      if (!isCount(r[key])) throw new InputError(file, `must be a non-negative integer, got ${JSON.stringify(r[key])}`, `episodes[${k}].${key}`);
    }
    if (r.start !== start) throw new InputError(file, `${r.start}, expected ${start} (the steps of the episodes before it)`, `episodes[${k}].start`);
    start += r.length as number;
  });
  return index;
}

/** Load trajectories saved by saveTrajectories; errors name the file and field (or the row of a value that is not finite; success may be NaN, its value for an env without a success measure). */
export function loadTrajectories(dir: string): Trajectory[] {
  const indexPath = join(dir, 'index.json');
  if (!existsSync(indexPath)) throw new InputError(dir, 'not a trajectory folder (index.json missing)');
  const index = checkIndex(parseJson(readFileSync(indexPath, 'utf8'), indexPath), indexPath);
  const d = index.dims;
  const steps = index.episodes.reduce((n, e) => n + e.length, 0);
  const states = steps + index.episodes.length;
  // Each array in the dtype saveTrajectories writes: obs of float64 would reach networks and
  // replays as a Float64Array where every consumer expects the float32 the env produced.
  // `nanOk`: NaN is a value of the array (success: the env has no success measure).
  const load = <A extends Float32Array | Float64Array>(name: string, rows: number, cols: number, type: new (n: number) => A, nanOk = false): A => {
    const file = join(dir, `${name}.npy`);
    const arr = readNpy(file);
    const expect = rows * cols;
    if (arr.data.length !== expect) {
      throw new InputError(file, `expected ${rows} x ${cols} values for ${index.episodes.length} trajectories, found shape (${arr.shape.join(', ')})`);
    }
    if (!(arr.data instanceof type)) {
      const want = type === (Float32Array as unknown) ? '<f4 (float32)' : '<f8 (float64)';
      throw new InputError(file, `holds ${arr.dtype} values; a trajectory folder stores ${name} as ${want}`);
    }
    // A NaN would reach reward training and the viewer only to turn into NaN losses or a blank clip.
    const data = arr.data;
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i]) && !(nanOk && Number.isNaN(data[i]))) {
        throw new InputError(file, `row ${Math.floor(i / cols)}${cols > 1 ? `, column ${i % cols}` : ''} is ${data[i]}; a trajectory folder holds finite values only`);
      }
    }
    return data;
  };
  const obs = load('obs', states, d.obsDim, Float32Array);
  const actions = load('actions', steps, d.actDim, Float32Array);
  const rewards = load('rewards', steps, 1, Float64Array);
  const terms = load('terms', steps, d.nTerms, Float64Array);
  const qpos = load('qpos', states, d.nq, Float64Array);
  const qvel = load('qvel', states, d.nv, Float64Array);
  const act = load('act', states, d.na, Float64Array);
  const time = load('time', states, 1, Float64Array);
  const success = load('success', steps, 1, Float32Array, true);
  return index.episodes.map((e, k) => {
    const s0 = e.start + k; // state rows: each earlier trajectory holds one more state than steps
    return {
      ...d,
      envId: index.envId,
      modelHash: index.modelHash,
      length: e.length,
      obs: obs.slice(s0 * d.obsDim, (s0 + e.length + 1) * d.obsDim),
      actions: actions.slice(e.start * d.actDim, (e.start + e.length) * d.actDim),
      rewards: rewards.slice(e.start, e.start + e.length),
      terms: terms.slice(e.start * d.nTerms, (e.start + e.length) * d.nTerms),
      qpos: qpos.slice(s0 * d.nq, (s0 + e.length + 1) * d.nq),
      qvel: qvel.slice(s0 * d.nv, (s0 + e.length + 1) * d.nv),
      act: act.slice(s0 * d.na, (s0 + e.length + 1) * d.na),
      time: time.slice(s0, s0 + e.length + 1),
      success: success.slice(e.start, e.start + e.length),
      t0: e.t0,
      terminated: e.terminated,
      truncated: e.truncated,
      unstable: e.unstable,
    };
  });
}
