/**
 * Offline datasets in the D4RL layout, stored as HDF5 (read and written with h5wasm).
 *
 * Schema (N transitions; rows are time-ordered, episodes back to back):
 *   observations       float32 [N, obsDim]  s_t
 *   actions            float32 [N, actDim]  a_t as applied (clipped to the action box)
 *   rewards            float64 [N]          r_t received after a_t (D4RL stores float32; float64
 *                                           keeps the env's rewards exact; both are read)
 *   terminals          uint8   [N]          1 when s_{t+1} is a terminal state (no bootstrapping)
 *   timeouts           uint8   [N]          1 when the episode was cut after step t (horizon,
 *                                           instability): bootstrapping is valid
 *   next_observations  float32 [N, obsDim]  s_{t+1}
 *   infos/qpos         float64 [N, nq]      simulator state at s_t ...
 *   infos/qvel         float64 [N, nv]
 *   infos/act          float64 [N, na]      (only when na > 0)
 *   infos/next_qpos    float64 [N, nq]      ... and at s_{t+1}, so every step replays and renders,
 *   infos/next_qvel    float64 [N, nv]      the last one of each episode included
 *   infos/next_act     float64 [N, na]      (only when na > 0)
 *   infos/time         float64 [N]          simulated time at s_t, s
 *   infos/next_time    float64 [N]          simulated time at s_{t+1}, s
 *   infos/step         int32   [N]          index of s_t within its episode
 *   infos/reward_terms float64 [N, nTerms]  the env's named reward terms of step t
 *   infos/success      float32 [N]          task success after step t (NaN when undefined)
 *   infos/unstable     uint8   [N]          1 on the last step of an episode cut by instability
 * Root attributes: format ("prefrl-dataset"), format_version, env_id, model_hash, env_config
 * (JSON), obs_dim, act_dim, nq, nv, na, horizon, dt, reward_term_names, reward_term_weights,
 * policy, seed, prefrl_version, extra (JSON).
 *
 * Episodes: an episode ends at row t when terminals[t] or timeouts[t] is set, or at the last row
 * (an episode the collection stopped in the middle of, with neither flag, as in D4RL).
 *
 * Reading also accepts files of other tools:
 *   - plain D4RL files (any subset of the infos, other keys ignored). Without timeouts every
 *     row counts as not cut; without next_observations they are derived as D4RL's
 *     qlearning_dataset does (s_{t+1} = observations[t+1]; the last step of each episode that
 *     did not end in a terminal state has no successor and is dropped). Both are noted in
 *     `notes`;
 *   - Minari files (groups episode_<k> with observations [T+1, D], actions, rewards,
 *     terminations, truncations), flattened into the layout above.
 * What needs the simulator state (trajectories for replay, rendering, segments with qpos)
 * raises an InputError naming the missing infos key.
 *
 * Validation errors name the file and the field: missing keys, row counts or widths that do not
 * match, wrong dtypes, NaN/Inf in observations, actions or rewards, flags other than 0/1, and a
 * dataset recorded on another env than the one requested.
 */
import { closeSync, existsSync, fstatSync, openSync, readSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type H5wasm from 'h5wasm/node';
import { InputError, UsageError } from '../core/errors.js';
import { removeStaleTemps, softwareVersions } from '../core/run.js';
import { absoluteEnvConfig, type EnvConfig, envConfigFromArgs } from '../envs/registry.js';
import { concat, type Trajectory } from '../envs/trajectory.js';
import { modelHashNote } from '../envs/types.js';
import type { TransitionBatch } from '../reward/types.js';
import { systemWriteError } from '../core/files.js';
import { makeFolder } from '../core/paths.js';

export const DATASET_FORMAT = 'prefrl-dataset';
export const DATASET_FORMAT_VERSION = 1;

/** Facts about how a dataset was made (HDF5 root attributes). All optional for foreign files. */
export interface DatasetMeta {
  readonly envId?: string;
  readonly modelHash?: string;
  /** The config that rebuilds the env (custom models included). */
  readonly envConfig?: EnvConfig;
  /** Reward terms in infos/reward_terms column order, with their ground-truth weights. */
  readonly rewardTerms?: readonly { readonly name: string; readonly weight: number }[];
  /** Steps per episode before truncation. */
  readonly horizon?: number;
  /** Seconds of simulated time per step. */
  readonly dt?: number;
  /** random | medium | medium-replay | expert | a free name. */
  readonly policy?: string;
  readonly seed?: number;
  readonly prefrlVersion?: string;
  /** Anything else worth keeping (saved as JSON). */
  readonly extra?: Record<string, unknown>;
}

/** Per-step simulator state and reward terms; every field may be absent in foreign files. */
export interface DatasetInfos {
  readonly qpos?: Float64Array;
  readonly qvel?: Float64Array;
  readonly act?: Float64Array;
  readonly nextQpos?: Float64Array;
  readonly nextQvel?: Float64Array;
  readonly nextAct?: Float64Array;
  readonly time?: Float64Array;
  readonly nextTime?: Float64Array;
  readonly step?: Int32Array;
  readonly rewardTerms?: Float64Array;
  readonly success?: Float32Array;
  readonly unstable?: Uint8Array;
  /** Widths of the state arrays (0 when absent). */
  readonly nq: number;
  readonly nv: number;
  readonly na: number;
  readonly nTerms: number;
}

export interface OfflineDataset {
  /** Number of transitions N. */
  readonly size: number;
  readonly obsDim: number;
  readonly actDim: number;
  /** [N, obsDim] */
  readonly observations: Float32Array;
  /** [N, actDim] */
  readonly actions: Float32Array;
  /** [N] */
  readonly rewards: Float64Array;
  /** [N] 0/1 */
  readonly terminals: Uint8Array;
  /** [N] 0/1 */
  readonly timeouts: Uint8Array;
  /** [N, obsDim] */
  readonly nextObservations: Float32Array;
  readonly infos: DatasetInfos;
  readonly meta: DatasetMeta;
  /** Where the data came from (a file path), for messages. */
  readonly source: string;
  /** What reading had to assume or derive (missing timeouts, derived next_observations...). */
  readonly notes: readonly string[];
}

/** What a dataset must match to be used on an env (e.g. an EnvSpec). */
export interface DatasetExpectation {
  readonly id: string;
  readonly obsDim: number;
  readonly actDim: number;
  readonly modelHash?: string;
}

type H5 = typeof H5wasm;
/** The two calls of h5wasm's module that switch the HDF5 library's error reports between printing and throwing. */
interface H5ErrorSwitch {
  activate_throwing_error_handler(): number;
  deactivate_throwing_error_handler(): number;
}
let loading: Promise<{ h: H5; errors: H5ErrorSwitch }> | null = null;
/** h5wasm, loaded on first use (compiling its WebAssembly takes seconds; commands that never touch HDF5 do not pay it). */
function h5Module(): Promise<{ h: H5; errors: H5ErrorSwitch }> {
  loading ??= import('h5wasm/node').then(async (m) => {
    const errors = (await m.default.ready) as unknown as H5ErrorSwitch;
    return { h: m.default, errors };
  });
  return loading;
}

/**
 * The HDF5 library's error stack (`HDF5-DIAG: Error detected ... #000: <file> line N in
 * H5Fopen(): unable to open file ... #005: ...: bad object header`) in one line: the outermost
 * failure and, when there is a deeper one, its root cause.
 */
export function hdf5ErrorSummary(text: string): string {
  const entries = [...text.matchAll(/#\d+: .*? in (\w+)\(\): (.+)/g)].map((m) => `${m[1]}: ${m[2].trim()}`);
  if (entries.length === 0) return text.split('\n')[0].trim();
  const first = entries[0];
  const last = entries[entries.length - 1];
  return entries.length === 1 ? first : `${first} (cause: ${last})`;
}

/**
 * Run `f` with the HDF5 library's errors thrown (as one-line summaries) instead of printed to
 * stderr as many-line stacks; other errors pass through.
 */
function withHdf5Errors<T>(errors: H5ErrorSwitch, f: () => T): T {
  errors.activate_throwing_error_handler();
  try {
    return f();
  } catch (e) {
    if (e instanceof Error && e.message.includes('HDF5-DIAG')) throw new Error(hdf5ErrorSummary(e.message));
    throw e;
  } finally {
    errors.deactivate_throwing_error_handler();
  }
}

/** The prefrl version recorded in datasets (package.json; the one run folders record in software.json). */
export function prefrlVersion(): string {
  return softwareVersions().prefrl;
}

// ---------------------------------------------------------------------------------------
// Validation (in memory; shared by reading and writing)

function checkFinite(a: ArrayLike<number>, width: number, source: string, field: string): void {
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i])) {
      const row = Math.floor(i / Math.max(1, width));
      throw new InputError(source, `row ${row}${width > 1 ? `, column ${i % width}` : ''} is ${a[i]}; values must be finite`, field);
    }
  }
}

function checkFlags(a: ArrayLike<number>, source: string, field: string): void {
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== 0 && a[i] !== 1) throw new InputError(source, `row ${i} is ${a[i]}; expected 0 or 1`, field);
  }
}

/**
 * The env a dataset records (its env_config attribute, else env_id) as an EnvConfig, or null when
 * it records none. An env id this prefrl does not know is an InputError naming the file and the
 * attribute: it read as a mistake in --env, a flag the command line did not give.
 */
export function datasetEnvConfig(meta: DatasetMeta, source: string): EnvConfig | null {
  if (meta.envConfig) return meta.envConfig;
  if (!meta.envId) return null;
  try {
    return envConfigFromArgs(meta.envId);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    throw new InputError(source, `records env ${JSON.stringify(meta.envId)}: ${e.message.replace(/^--env: /, '')}; pass --env to name the env it comes from`, 'attrs.env_id');
  }
}

/**
 * Check sizes, flags and finiteness of a dataset (and the env it must match). Throws an
 * InputError naming `ds.source` and the field at fault.
 */
export function validateDataset(ds: OfflineDataset, expect?: DatasetExpectation): void {
  const { size: n, obsDim, actDim, source } = ds;
  const rows = (a: ArrayLike<number> | undefined, width: number, field: string) => {
    if (a === undefined) return;
    if (a.length !== n * width) {
      const found = width > 0 && a.length % width === 0 ? `${a.length / width} rows` : `${a.length} values`;
      throw new InputError(source, `has ${found} (width ${width}), observations has ${n} rows`, field);
    }
  };
  if (!Number.isInteger(n) || n < 1) throw new InputError(source, `the dataset has ${n} transitions; at least one is needed`, 'observations');
  rows(ds.observations, obsDim, 'observations');
  rows(ds.actions, actDim, 'actions');
  rows(ds.rewards, 1, 'rewards');
  rows(ds.terminals, 1, 'terminals');
  rows(ds.timeouts, 1, 'timeouts');
  rows(ds.nextObservations, obsDim, 'next_observations');
  const inf = ds.infos;
  rows(inf.qpos, inf.nq, 'infos/qpos');
  rows(inf.qvel, inf.nv, 'infos/qvel');
  rows(inf.act, inf.na, 'infos/act');
  rows(inf.nextQpos, inf.nq, 'infos/next_qpos');
  rows(inf.nextQvel, inf.nv, 'infos/next_qvel');
  rows(inf.nextAct, inf.na, 'infos/next_act');
  rows(inf.time, 1, 'infos/time');
  rows(inf.nextTime, 1, 'infos/next_time');
  rows(inf.step, 1, 'infos/step');
  rows(inf.rewardTerms, inf.nTerms, 'infos/reward_terms');
  rows(inf.success, 1, 'infos/success');
  rows(inf.unstable, 1, 'infos/unstable');
  checkFinite(ds.observations, obsDim, source, 'observations');
  checkFinite(ds.nextObservations, obsDim, source, 'next_observations');
  checkFinite(ds.actions, actDim, source, 'actions');
  checkFinite(ds.rewards, 1, source, 'rewards');
  checkFlags(ds.terminals, source, 'terminals');
  checkFlags(ds.timeouts, source, 'timeouts');
  const m = ds.meta;
  if (m.rewardTerms && inf.rewardTerms && m.rewardTerms.length !== inf.nTerms) {
    throw new InputError(source, `lists ${m.rewardTerms.length} reward terms, infos/reward_terms has ${inf.nTerms} columns`, 'attrs.reward_term_names');
  }
  if (expect) checkEnv(ds, expect);
}

/** The dataset was recorded on the expected env (id, physics, sizes). */
export function checkEnv(ds: OfflineDataset, expect: DatasetExpectation): void {
  const m = ds.meta;
  if (m.envId !== undefined && m.envId !== expect.id) {
    throw new InputError(ds.source, `the dataset was recorded on env "${m.envId}", not "${expect.id}"`, 'attrs.env_id');
  }
  if (m.modelHash !== undefined && expect.modelHash !== undefined && m.modelHash !== expect.modelHash) {
    throw new InputError(ds.source, `the dataset's physics (model hash ${m.modelHash}) differs from env "${expect.id}" (${expect.modelHash})${modelHashNote(expect.id)}`, 'attrs.model_hash');
  }
  if (ds.obsDim !== expect.obsDim) throw new InputError(ds.source, `observations have ${ds.obsDim} columns, env "${expect.id}" has ${expect.obsDim}`, 'observations');
  if (ds.actDim !== expect.actDim) throw new InputError(ds.source, `actions have ${ds.actDim} columns, env "${expect.id}" has ${expect.actDim}`, 'actions');
}

// ---------------------------------------------------------------------------------------
// Episodes

export interface EpisodeRange {
  /** First row. */
  readonly start: number;
  /** Number of steps. */
  readonly length: number;
  /** The last step reached a terminal state. */
  readonly terminated: boolean;
  /** The episode was cut (timeouts flag) after its last step. */
  readonly truncated: boolean;
}

/** Split rows into episodes: an episode ends where terminals or timeouts is set, or at the last row. */
export function episodeRanges(ds: Pick<OfflineDataset, 'size' | 'terminals' | 'timeouts'>): EpisodeRange[] {
  const out: EpisodeRange[] = [];
  let start = 0;
  for (let t = 0; t < ds.size; t++) {
    const term = ds.terminals[t] === 1;
    const cut = ds.timeouts[t] === 1;
    if (term || cut || t === ds.size - 1) {
      out.push({ start, length: t + 1 - start, terminated: term, truncated: cut && !term });
      start = t + 1;
    }
  }
  return out;
}

/** Sum of rewards of each episode ([episodes]); `rewards` defaults to the dataset's. */
export function episodeReturns(ds: Pick<OfflineDataset, 'size' | 'terminals' | 'timeouts' | 'rewards'>, rewards: ArrayLike<number> = ds.rewards): Float64Array {
  const eps = episodeRanges(ds);
  const out = new Float64Array(eps.length);
  eps.forEach((e, k) => {
    let s = 0;
    for (let t = e.start; t < e.start + e.length; t++) s += rewards[t];
    out[k] = s;
  });
  return out;
}

export interface DatasetSummary {
  readonly transitions: number;
  readonly episodes: number;
  /** Episodes that ended with a terminal state or a timeout (not cut by the end of the data). */
  readonly completeEpisodes: number;
  readonly meanReturn: number;
  readonly minReturn: number;
  readonly maxReturn: number;
  readonly meanLength: number;
}

/** Size and episode-return statistics (over complete episodes when there are any). */
export function summarizeDataset(ds: OfflineDataset): DatasetSummary {
  const eps = episodeRanges(ds);
  const rets = episodeReturns(ds);
  const complete = eps.map((e, k) => (e.terminated || e.truncated ? k : -1)).filter((k) => k >= 0);
  const use = complete.length > 0 ? complete : eps.map((_, k) => k);
  const r = use.map((k) => rets[k]);
  // A loop, not Math.min(...r): spreading some 120,000 episodes' returns overflows the call stack.
  let minReturn = Number.POSITIVE_INFINITY;
  let maxReturn = Number.NEGATIVE_INFINITY;
  for (const x of r) {
    if (x < minReturn) minReturn = x;
    if (x > maxReturn) maxReturn = x;
  }
  return {
    transitions: ds.size,
    episodes: eps.length,
    completeEpisodes: complete.length,
    meanReturn: r.reduce((s, x) => s + x, 0) / r.length,
    minReturn,
    maxReturn,
    meanLength: use.reduce((s, k) => s + eps[k].length, 0) / use.length,
  };
}

/**
 * The dataset without its infos/ arrays (simulator state, time, reward terms, success: half of a
 * prefrl dataset's bytes), for work that reads only its transitions (relabelling, IQL and BC,
 * summaries); nq, nv, na and nTerms stay. The other arrays are the same objects, not copies.
 */
export function transitionsOnly(ds: OfflineDataset): OfflineDataset {
  const { nq, nv, na, nTerms } = ds.infos;
  return { ...ds, infos: { nq, nv, na, nTerms } };
}

/** The dataset's transitions as a batch for reward models (views, no copies). */
export function transitionBatch(ds: OfflineDataset): TransitionBatch {
  return { n: ds.size, obs: ds.observations, actions: ds.actions, nextObs: ds.nextObservations };
}

// ---------------------------------------------------------------------------------------
// Conversion to and from trajectories

/**
 * Build a dataset from trajectories of one env (e.g. rollouts or PPO's episodes), in order.
 * Flags: the last step of a terminated trajectory gets terminals = 1, of a truncated one
 * timeouts = 1. A trajectory that neither terminated nor was truncated (a rollout stopped
 * mid-episode) gets timeouts = 1 too unless it is the last one, so that the episode
 * boundary survives (D4RL readers know no other marker); the last one keeps no flag, as the
 * final, unfinished episode of a D4RL file.
 */
export function datasetFromTrajectories(trajs: readonly Trajectory[], meta: DatasetMeta = {}, source = 'trajectories'): OfflineDataset {
  const list = trajs.filter((t) => t.length > 0);
  if (list.length === 0) throw new InputError(source, 'no transitions to store (every trajectory is empty)');
  const f = list[0];
  for (const t of list) {
    if (t.envId !== f.envId || t.modelHash !== f.modelHash) throw new InputError(source, `mixed envs (${f.envId} and ${t.envId}) in one dataset`);
    if (t.obsDim !== f.obsDim || t.actDim !== f.actDim || t.nq !== f.nq || t.nv !== f.nv || t.na !== f.na || t.nTerms !== f.nTerms) {
      throw new InputError(source, 'trajectories of different sizes in one dataset');
    }
  }
  const { obsDim: D, actDim: A, nq, nv, na, nTerms } = f;
  const n = list.reduce((s, t) => s + t.length, 0);
  const f32 = (k: number) => new Float32Array(k);
  const f64 = (k: number) => new Float64Array(k);
  const head = <A2 extends Float32Array | Float64Array>(a: A2, T: number, w: number) => a.subarray(0, T * w) as A2;
  const tail = <A2 extends Float32Array | Float64Array>(a: A2, T: number, w: number) => a.subarray(w, (T + 1) * w) as A2;
  const terminals = new Uint8Array(n);
  const timeouts = new Uint8Array(n);
  const unstable = new Uint8Array(n);
  const step = new Int32Array(n);
  let o = 0;
  list.forEach((t, k) => {
    const last = o + t.length - 1;
    if (t.terminated) terminals[last] = 1;
    else if (t.truncated || k < list.length - 1) timeouts[last] = 1;
    if (t.unstable) unstable[last] = 1;
    for (let i = 0; i < t.length; i++) step[o + i] = t.t0 + i;
    o += t.length;
  });
  const ds: OfflineDataset = {
    size: n,
    obsDim: D,
    actDim: A,
    observations: concat(list.map((t) => head(t.obs, t.length, D)), f32),
    actions: concat(list.map((t) => t.actions.subarray(0, t.length * A)), f32),
    rewards: concat(list.map((t) => t.rewards.subarray(0, t.length)), f64),
    terminals,
    timeouts,
    nextObservations: concat(list.map((t) => tail(t.obs, t.length, D)), f32),
    infos: {
      nq,
      nv,
      na,
      nTerms,
      qpos: concat(list.map((t) => head(t.qpos, t.length, nq)), f64),
      qvel: concat(list.map((t) => head(t.qvel, t.length, nv)), f64),
      nextQpos: concat(list.map((t) => tail(t.qpos, t.length, nq)), f64),
      nextQvel: concat(list.map((t) => tail(t.qvel, t.length, nv)), f64),
      ...(na > 0
        ? {
            act: concat(list.map((t) => head(t.act, t.length, na)), f64),
            nextAct: concat(list.map((t) => tail(t.act, t.length, na)), f64),
          }
        : {}),
      time: concat(list.map((t) => head(t.time, t.length, 1)), f64),
      nextTime: concat(list.map((t) => tail(t.time, t.length, 1)), f64),
      step,
      rewardTerms: concat(list.map((t) => t.terms.subarray(0, t.length * nTerms)), f64),
      success: concat(list.map((t) => t.success.subarray(0, t.length)), f32),
      unstable,
    },
    meta: { envId: f.envId, modelHash: f.modelHash, ...meta },
    source,
    notes: [],
  };
  validateDataset(ds);
  return ds;
}

export interface ToTrajectoriesOptions {
  /**
   * 'required' (default): every trajectory carries qpos/qvel (and act) for all T+1 states, and
   * a dataset without them is an error naming the missing key. 'optional': without them the
   * trajectories get nq = nv = na = 0 (enough for reward-only uses: synthetic teachers,
   * reward-model training on observations).
   */
  readonly state?: 'required' | 'optional';
}

/**
 * The dataset's episodes as trajectories (copies), e.g. to cut preference segments from a
 * dataset. Reward terms are included when the file has them (else nTerms = 0); success is NaN
 * when unknown; t0 comes from infos/step (0 when absent). This copies every row of the dataset
 * once more: to cut a few windows, use episodeWindows, which copies only the windows' rows.
 */
export function datasetToTrajectories(ds: OfflineDataset, opts: ToTrajectoriesOptions = {}): Trajectory[] {
  const w = episodeWindows(ds, opts);
  return w.episodes.map((e, k) => w.window(k, 0, e.length));
}

/** The dataset's episodes, and any window of one as a trajectory of its own (see episodeWindows). */
export interface EpisodeWindows {
  /** The episodes (episodeRanges), indexed as datasetToTrajectories indexes its trajectories. */
  readonly episodes: readonly EpisodeRange[];
  /**
   * Steps [start, start + length) of episode k as a trajectory of `length` steps (copies of
   * those rows only): row for row what datasetToTrajectories' trajectory k holds there, so a
   * segment cut from the window at 0 equals the segment cut from that trajectory at `start`.
   * t0 is the episode's t0 + start; the window terminated (or was truncated, or is unstable)
   * only when it ends where its episode does.
   */
  window(k: number, start: number, length: number): Trajectory;
}

/**
 * Windows of the dataset's episodes without copying the dataset: datasetToTrajectories builds
 * every episode through it, and the offline pipeline cuts its segments from it directly (a
 * trajectory copy of a 1M-transition dataset is some 150 MB more). Throws like
 * datasetToTrajectories when the state is required and missing.
 */
export function episodeWindows(ds: OfflineDataset, opts: ToTrajectoriesOptions = {}): EpisodeWindows {
  const inf = ds.infos;
  const need: [unknown, string][] = [
    [inf.qpos, 'infos/qpos'],
    [inf.qvel, 'infos/qvel'],
    [inf.nextQpos, 'infos/next_qpos'],
    [inf.nextQvel, 'infos/next_qvel'],
    ...(inf.na > 0 ? ([[inf.act, 'infos/act'], [inf.nextAct, 'infos/next_act']] as [unknown, string][]) : []),
  ];
  const missing = need.filter(([a]) => a === undefined).map(([, k]) => k);
  const withState = missing.length === 0;
  if (!withState && (opts.state ?? 'required') === 'required') {
    throw new InputError(
      ds.source,
      `has no simulator state (${missing.join(', ')} missing), so its steps cannot be replayed or rendered; collect the dataset with \`prefrl collect\`, or ask for trajectories without state`,
      missing[0],
    );
  }
  const D = ds.obsDim;
  const A = ds.actDim;
  const nq = withState ? inf.nq : 0;
  const nv = withState ? inf.nv : 0;
  const na = withState ? inf.na : 0;
  const nTerms = inf.rewardTerms ? inf.nTerms : 0;
  const dt = ds.meta.dt ?? 0;
  const episodes = episodeRanges(ds);
  const window = (k: number, start: number, length: number): Trajectory => {
    const e = episodes[k];
    if (e === undefined) throw new RangeError(`episodeWindows: no episode ${k} (the dataset has ${episodes.length})`);
    if (!Number.isInteger(start) || !Number.isInteger(length) || start < 0 || length < 0 || start + length > e.length) {
      throw new RangeError(`episodeWindows: window [${start}, ${start + length}) outside episode ${k} of ${e.length} steps`);
    }
    const T = e.length;
    // Rows s .. s + L - 1 of the window's steps; its state after the last step is the next
    // step's row inside the episode, or the episode's next_* row at its end.
    const s = e.start + start;
    const L = length;
    const atEnd = start + L === T;
    const states = <A2 extends Float32Array | Float64Array>(out: A2, rows: A2 | undefined, next: A2 | undefined, w: number): A2 => {
      if (w === 0 || !rows || !next) return out;
      out.set(rows.subarray(s * w, (s + L) * w));
      out.set(atEnd ? next.subarray((s + L - 1) * w, (s + L) * w) : rows.subarray((s + L) * w, (s + L + 1) * w), L * w);
      return out;
    };
    const obs = states(new Float32Array((L + 1) * D), ds.observations, ds.nextObservations, D);
    let time: Float64Array;
    if (inf.time && inf.nextTime) time = states(new Float64Array(L + 1), inf.time, inf.nextTime, 1);
    else {
      // i: the step's index in its episode, as datasetToTrajectories counts it.
      time = new Float64Array(L + 1);
      const t0 = inf.time ? inf.time[e.start] : 0;
      for (let j = 0; j <= L; j++) {
        const i = start + j;
        time[j] = inf.time && i < T ? inf.time[e.start + i] : t0 + i * dt;
      }
    }
    return {
      envId: ds.meta.envId ?? 'unknown',
      modelHash: ds.meta.modelHash ?? 'unknown',
      obsDim: D,
      actDim: A,
      nTerms,
      nq,
      nv,
      na,
      length: L,
      obs,
      actions: ds.actions.slice(s * A, (s + L) * A),
      rewards: ds.rewards.slice(s, s + L),
      terms: inf.rewardTerms ? inf.rewardTerms.slice(s * nTerms, (s + L) * nTerms) : new Float64Array(0),
      qpos: withState ? states(new Float64Array((L + 1) * nq), inf.qpos, inf.nextQpos, nq) : new Float64Array(0),
      qvel: withState ? states(new Float64Array((L + 1) * nv), inf.qvel, inf.nextQvel, nv) : new Float64Array(0),
      act: withState ? states(new Float64Array((L + 1) * na), inf.act, inf.nextAct, na) : new Float64Array(0),
      time,
      success: inf.success ? inf.success.slice(s, s + L) : new Float32Array(L).fill(Number.NaN),
      t0: (inf.step ? inf.step[e.start] : 0) + start,
      terminated: atEnd && e.terminated,
      truncated: atEnd && e.truncated,
      unstable: atEnd && inf.unstable ? inf.unstable[e.start + T - 1] === 1 : false,
    };
  };
  return { episodes, window };
}

// ---------------------------------------------------------------------------------------
// HDF5 writing

type H5File = InstanceType<H5['File']>;
type H5Group = InstanceType<H5['Group']>;
type H5Dataset = InstanceType<H5['Dataset']>;

function put(g: H5Group, name: string, data: Float32Array | Float64Array | Uint8Array | Int32Array, rows: number, width: number | null): void {
  const dtype = data instanceof Float32Array ? '<f' : data instanceof Float64Array ? '<d' : data instanceof Int32Array ? '<i' : '<B';
  g.create_dataset({ name, data, shape: width === null ? [rows] : [rows, width], dtype });
}

/**
 * Write a dataset to an HDF5 file (validated first; written to a temporary file and renamed,
 * so a reader never sees half a file). Metadata goes into root attributes.
 */
export async function writeDataset(path: string, ds: OfflineDataset): Promise<string> {
  validateDataset(ds);
  const { h, errors } = await h5Module();
  const file = resolve(path);
  makeFolder(dirname(file));
  // A half-written copy a killed writer left next to it (e.g. collect --out) goes first.
  removeStaleTemps(dirname(file), basename(file));
  const tmp = `${file}.tmp-${process.pid}`;
  // HDF5's write errors thrown, not printed: a full disk had printed hundreds of lines and left a
  // damaged file under the dataset's name (the writes "failed" but nothing threw before the rename).
  errors.activate_throwing_error_handler();
  let f: H5File | null = null;
  try {
    f = new h.File(tmp, 'w');
    const n = ds.size;
    put(f, 'observations', ds.observations, n, ds.obsDim);
    put(f, 'actions', ds.actions, n, ds.actDim);
    put(f, 'rewards', ds.rewards, n, null);
    put(f, 'terminals', ds.terminals, n, null);
    put(f, 'timeouts', ds.timeouts, n, null);
    put(f, 'next_observations', ds.nextObservations, n, ds.obsDim);
    const inf = ds.infos;
    const g = f.create_group('infos');
    const opt = (name: string, a: Float32Array | Float64Array | Uint8Array | Int32Array | undefined, width: number | null) => {
      if (a !== undefined && (width === null || width > 0)) put(g, name, a, n, width);
    };
    opt('qpos', inf.qpos, inf.nq);
    opt('qvel', inf.qvel, inf.nv);
    opt('act', inf.act, inf.na);
    opt('next_qpos', inf.nextQpos, inf.nq);
    opt('next_qvel', inf.nextQvel, inf.nv);
    opt('next_act', inf.nextAct, inf.na);
    opt('time', inf.time, null);
    opt('next_time', inf.nextTime, null);
    opt('step', inf.step, null);
    opt('reward_terms', inf.rewardTerms, inf.nTerms);
    opt('success', inf.success, null);
    opt('unstable', inf.unstable, null);
    const m = ds.meta;
    const int = (name: string, v: number | undefined) => v !== undefined && f!.create_attribute(name, v, null, '<i');
    const num = (name: string, v: number | undefined) => v !== undefined && f!.create_attribute(name, v, null, '<d');
    const str = (name: string, v: string | undefined) => v !== undefined && f!.create_attribute(name, v);
    str('format', DATASET_FORMAT);
    int('format_version', DATASET_FORMAT_VERSION);
    str('env_id', m.envId);
    str('model_hash', m.modelHash);
    if (m.envConfig) str('env_config', JSON.stringify(absoluteEnvConfig(m.envConfig)));
    int('obs_dim', ds.obsDim);
    int('act_dim', ds.actDim);
    int('nq', inf.nq);
    int('nv', inf.nv);
    int('na', inf.na);
    int('horizon', m.horizon);
    num('dt', m.dt);
    if (m.rewardTerms && m.rewardTerms.length > 0) {
      f.create_attribute('reward_term_names', m.rewardTerms.map((t) => t.name));
      f.create_attribute('reward_term_weights', Float64Array.from(m.rewardTerms, (t) => t.weight), null, '<d');
    }
    str('policy', m.policy);
    int('seed', m.seed);
    str('prefrl_version', m.prefrlVersion ?? prefrlVersion());
    if (m.extra) str('extra', JSON.stringify(m.extra));
    f.close();
    f = null;
    renameSync(tmp, file);
    return file;
  } catch (e) {
    try {
      f?.close();
    } catch {
      // already failing; the original error matters
    }
    try {
      rmSync(tmp, { force: true });
    } catch {
      // nothing to remove where the folder itself is refused; the write's error says why
    }
    throw datasetWriteError(e, file, tmp);
  } finally {
    errors.deactivate_throwing_error_handler();
  }
}

/**
 * An error of writing dataset `file` (through `tmp`) as one line naming the file: HDF5's error
 * stack becomes `cannot write <file>: no space left on device (ENOSPC)` when the system refused (a
 * system error, as Node's: the CLI prints it without a stack), else its one-line summary.
 */
function datasetWriteError(e: unknown, file: string, tmp: string): unknown {
  if (!(e instanceof Error) || !e.message.includes('HDF5-DIAG')) {
    if (e instanceof Error) e.message = e.message.replaceAll(tmp, file);
    return e;
  }
  const os = /error message = '([^']+)'/.exec(e.message)?.[1];
  const refused = os === undefined ? null : systemWriteError(os, file);
  if (refused) return refused;
  return new Error(`cannot write ${file}: ${hdf5ErrorSummary(e.message).replaceAll(tmp, file)}`);
}

// ---------------------------------------------------------------------------------------
// HDF5 reading

/** HDF5 type classes (H5T_class_t) that matter here. */
const H5T_INTEGER = 0;
const H5T_FLOAT = 1;
const H5T_ENUM = 8;

interface RawArray {
  readonly data: ArrayLike<number>;
  readonly shape: readonly number[];
}

function describeType(meta: { type: number; size: number; signed: boolean }): string {
  if (meta.type === H5T_FLOAT) return `float${meta.size * 8}`;
  if (meta.type === H5T_INTEGER) return `${meta.signed ? 'int' : 'uint'}${meta.size * 8}`;
  if (meta.type === H5T_ENUM) return 'enum';
  return ['integer', 'float', 'time', 'string', 'bitfield', 'opaque', 'compound', 'reference', 'enum', 'vlen', 'array'][meta.type] ?? `type class ${meta.type}`;
}

/**
 * Read one numeric dataset: `kind` float (observations...) or flag (bool / integer / 0-1 float).
 * Without `values`, only its type and shape are checked and read (data is empty).
 */
function readArray(f: H5Group, key: string, kind: 'float' | 'flag' | 'int', source: string, values = true): RawArray | undefined {
  const entity = f.get(key);
  if (entity === null) return undefined;
  if (!isDataset(entity)) throw new InputError(source, 'expected an array, found a group', key);
  const d = entity as H5Dataset;
  const meta = d.metadata as { type: number; size: number; signed: boolean; enum_type?: { type: number } };
  const shape = d.shape ?? [];
  const bad = (want: string): never => {
    throw new InputError(source, `has dtype ${describeType(meta)}; expected ${want}`, key);
  };
  if (kind === 'float' && meta.type !== H5T_FLOAT) bad('a floating-point array');
  if (kind === 'int' && meta.type !== H5T_INTEGER) bad('an integer array');
  if (kind === 'flag') {
    const isBoolEnum = meta.type === H5T_ENUM && meta.enum_type?.type === H5T_INTEGER;
    if (meta.type !== H5T_INTEGER && meta.type !== H5T_FLOAT && !isBoolEnum) bad('booleans, integers or 0/1 floats');
  }
  if (!values) return { data: [], shape };
  const value = d.value;
  if (kind === 'flag' && ArrayBuffer.isView(value) && !(value instanceof DataView)) checkFlags(value as unknown as ArrayLike<number>, source, key);
  if (!ArrayBuffer.isView(value) || value instanceof BigInt64Array || value instanceof BigUint64Array || value instanceof DataView) {
    if (value instanceof BigInt64Array || value instanceof BigUint64Array) return { data: Array.from(value, (v) => Number(v)), shape };
    return bad('a numeric array');
  }
  return { data: value as unknown as ArrayLike<number>, shape };
}

/** A Dataset (not a Group or link): it has a shape and a value. */
function isDataset(e: unknown): e is H5Dataset {
  return typeof e === 'object' && e !== null && 'metadata' in e && 'shape' in e && typeof (e as { slice?: unknown }).slice === 'function';
}

/** rows x width of an array with 1 or 2 dimensions ([N] counts as width 1 where allowed). */
function dims(a: RawArray, key: string, source: string, oneD: 'vector' | 'matrix' | 'either'): { rows: number; width: number } {
  const s = a.shape;
  if (oneD === 'vector') {
    if (s.length === 1) return { rows: s[0], width: 1 };
    if (s.length === 2 && s[1] === 1) return { rows: s[0], width: 1 };
    throw new InputError(source, `has shape (${s.join(', ')}); expected (N,)`, key);
  }
  if (s.length === 2) return { rows: s[0], width: s[1] };
  if (s.length === 1 && oneD === 'either') return { rows: s[0], width: 1 };
  throw new InputError(source, `has shape (${s.join(', ')}); expected (N, width)`, key);
}

function toF32(a: ArrayLike<number>): Float32Array {
  return a instanceof Float32Array ? a : Float32Array.from(a);
}
function toF64(a: ArrayLike<number>): Float64Array {
  return a instanceof Float64Array ? a : Float64Array.from(a);
}
/** 0/1 flags (checked when read) as bytes. */
function toU8(a: ArrayLike<number>): Uint8Array {
  return a instanceof Uint8Array ? a : Uint8Array.from(a, (x) => (x === 0 ? 0 : 1));
}

function attr(f: H5Group, name: string): unknown {
  const a = f.attrs[name];
  if (a === undefined) return undefined;
  const v = a.value;
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number>);
  return typeof v === 'bigint' ? Number(v) : v;
}

function readMeta(f: H5Group, source: string): DatasetMeta {
  const s = (k: string) => {
    const v = attr(f, k);
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw new InputError(source, `expected a string, found ${JSON.stringify(v)}`, `attrs.${k}`);
    return v;
  };
  const num = (k: string) => {
    const v = attr(f, k);
    if (v === undefined) return undefined;
    if (typeof v !== 'number') throw new InputError(source, `expected a number, found ${JSON.stringify(v)}`, `attrs.${k}`);
    return v;
  };
  const json = (k: string) => {
    const v = s(k);
    if (v === undefined) return undefined;
    try {
      return JSON.parse(v) as unknown;
    } catch (e) {
      throw new InputError(source, `not valid JSON (${(e as Error).message})`, `attrs.${k}`);
    }
  };
  let rewardTerms: { name: string; weight: number }[] | undefined;
  const names = attr(f, 'reward_term_names');
  if (names !== undefined) {
    const list = typeof names === 'string' ? [names] : names;
    const w = attr(f, 'reward_term_weights');
    const weights = typeof w === 'number' ? [w] : w;
    if (!Array.isArray(list) || !list.every((x) => typeof x === 'string')) throw new InputError(source, 'expected a list of names', 'attrs.reward_term_names');
    if (!Array.isArray(weights) || weights.length !== list.length) {
      throw new InputError(source, `expected ${list.length} weights (one per reward term name)`, 'attrs.reward_term_weights');
    }
    rewardTerms = list.map((name, k) => ({ name: name as string, weight: Number(weights[k]) }));
  }
  const meta: DatasetMeta = {
    envId: s('env_id'),
    modelHash: s('model_hash'),
    envConfig: json('env_config') as EnvConfig | undefined,
    rewardTerms,
    horizon: num('horizon'),
    dt: num('dt'),
    policy: s('policy'),
    seed: num('seed'),
    prefrlVersion: s('prefrl_version'),
    extra: json('extra') as Record<string, unknown> | undefined,
  };
  return Object.fromEntries(Object.entries(meta).filter(([, v]) => v !== undefined)) as DatasetMeta;
}

export interface ReadOptions {
  /** The env the data must come from (id, sizes and, when both know it, the physics hash). */
  readonly env?: DatasetExpectation;
  /**
   * Read the transitions only: what transitionsOnly(readDataset(path)) gives, without reading the
   * infos/ arrays' values (their types and shapes are still checked, and give nq, nv, na and
   * nTerms), for work that needs no simulator state or reward terms (relabelling, IQL, BC).
   */
  readonly transitionsOnly?: boolean;
}

/**
 * Read a dataset from an HDF5 file (prefrl, plain D4RL, or Minari layout) and validate it.
 * Errors name the file and the field.
 */
export async function readDataset(path: string, opts: ReadOptions = {}): Promise<OfflineDataset> {
  const { h, errors } = await h5Module();
  const file = resolve(path);
  if (!existsSync(file)) throw new InputError(path, 'not found');
  const sigAt = hdf5SignatureOffset(file);
  if (sigAt < 0) throw new InputError(path, 'cannot open as HDF5 (no HDF5 signature: not an .h5 file?)');
  const sizes = hdf5Sizes(file, sigAt);
  if (sizes.declaredEnd !== null && sizes.size < sizes.declaredEnd) {
    throw new InputError(path, `is truncated: ${sizes.size} bytes, its HDF5 superblock says ${sizes.declaredEnd} (an interrupted copy or write?)`);
  }
  let f: H5File;
  try {
    f = withHdf5Errors(errors, () => new h.File(file, 'r'));
  } catch (e) {
    throw new InputError(path, `cannot open as HDF5 (${e instanceof Error ? e.message : String(e)})`);
  }
  try {
    let ds: OfflineDataset;
    try {
      ds = withHdf5Errors(errors, () => {
        const keys = f.keys();
        return keys.includes('observations') || !keys.some((k) => /^episode_\d+$/.test(k)) ? readD4rl(f, path, opts.transitionsOnly ?? false) : readMinari(f, path, keys);
      });
    } catch (e) {
      if (e instanceof InputError) throw e;
      // The HDF5 library's own failure (a damaged file): name the file, keep the library's words.
      throw new InputError(path, `cannot read as HDF5 (damaged file?): ${e instanceof Error ? e.message : String(e)}`);
    }
    validateDataset(ds, opts.env);
    return ds;
  } finally {
    f.close();
  }
}

/** The HDF5 format signature sits at byte 0, 512, 1024, 2048... (after an optional user block); its offset, or -1. */
function hdf5SignatureOffset(file: string): number {
  const sig = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const buf = Buffer.alloc(8);
    for (let off = 0; off + 8 <= size; off = off === 0 ? 512 : off * 2) {
      readSync(fd, buf, 0, 8, off);
      if (sig.every((b, i) => buf[i] === b)) return off;
      if (off > 1 << 20) break;
    }
    return -1;
  } finally {
    closeSync(fd);
  }
}

/**
 * The file's size and the end the HDF5 superblock at `sigAt` declares (the base address, absolute, plus the end-of-file
 * address, relative to it), or null when the superblock cannot say (an unknown version, an undefined address).
 * Superblock layouts (HDF5 file format spec): versions 0 and 1 keep the size of offsets at byte
 * 13 and the base address at 24 (version 0) or 28 (version 1); versions 2 and 3 at bytes 9 and
 * 12. The end-of-file address follows the base address and one more address.
 */
export function hdf5Sizes(file: string, sigAt: number): { size: number; declaredEnd: number | null } {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(64);
    const got = readSync(fd, head, 0, 64, sigAt);
    const version = head[8];
    const offsetsAt = version <= 1 ? 13 : version <= 3 ? 9 : -1;
    const baseAt = version === 0 ? 24 : version === 1 ? 28 : 12;
    if (offsetsAt < 0) return { size, declaredEnd: null };
    const o = head[offsetsAt];
    if (o !== 2 && o !== 4 && o !== 8) return { size, declaredEnd: null };
    const eofAt = baseAt + 2 * o;
    if (eofAt + o > got) return { size, declaredEnd: null };
    const read = (at: number): number | null => {
      let v = 0n;
      for (let i = o - 1; i >= 0; i--) v = (v << 8n) | BigInt(head[at + i]);
      if (v === (1n << BigInt(8 * o)) - 1n) return null; // the undefined address
      return Number(v);
    };
    const base = read(baseAt);
    const eof = read(eofAt);
    return { size, declaredEnd: base === null || eof === null ? null : base + eof };
  } finally {
    closeSync(fd);
  }
}

function readD4rl(f: H5File, source: string, transitionsOnly = false): OfflineDataset {
  const notes: string[] = [];
  for (const key of ['observations', 'actions', 'rewards', 'terminals']) {
    if (f.get(key) === null) throw new InputError(source, `missing key "${key}" (a D4RL-layout file needs observations, actions, rewards, terminals)`, key);
  }
  const obsRaw = readArray(f, 'observations', 'float', source)!;
  const { rows: n, width: D } = dims(obsRaw, 'observations', source, 'matrix');
  const actRaw = readArray(f, 'actions', 'float', source)!;
  const a = dims(actRaw, 'actions', source, 'either');
  const rowsOf = (raw: RawArray | undefined, key: string, mode: 'vector' | 'matrix' | 'either') => {
    if (!raw) return 0;
    const d = dims(raw, key, source, mode);
    if (d.rows !== n) throw new InputError(source, `has ${d.rows} rows, observations has ${n}`, key);
    return d.width;
  };
  rowsOf(actRaw, 'actions', 'either');
  const rewRaw = readArray(f, 'rewards', 'float', source)!;
  rowsOf(rewRaw, 'rewards', 'vector');
  const termRaw = readArray(f, 'terminals', 'flag', source)!;
  rowsOf(termRaw, 'terminals', 'vector');
  const toRaw = readArray(f, 'timeouts', 'flag', source);
  rowsOf(toRaw, 'timeouts', 'vector');
  const nextRaw = readArray(f, 'next_observations', 'float', source);
  const nextW = rowsOf(nextRaw, 'next_observations', 'matrix');
  if (nextRaw && nextW !== D) throw new InputError(source, `has ${nextW} columns, observations has ${D}`, 'next_observations');

  const info = (key: string, kind: 'float' | 'flag' | 'int', mode: 'vector' | 'matrix' | 'either') => {
    const raw = f.get('infos') === null ? undefined : readArray(f, `infos/${key}`, kind, source, !transitionsOnly);
    return { raw, width: rowsOf(raw, `infos/${key}`, mode) };
  };
  const qpos = info('qpos', 'float', 'matrix');
  const qvel = info('qvel', 'float', 'matrix');
  const act = info('act', 'float', 'matrix');
  const nqpos = info('next_qpos', 'float', 'matrix');
  const nqvel = info('next_qvel', 'float', 'matrix');
  const nact = info('next_act', 'float', 'matrix');
  const time = info('time', 'float', 'vector');
  const ntime = info('next_time', 'float', 'vector');
  const step = info('step', 'int', 'vector');
  const terms = info('reward_terms', 'float', 'either');
  const success = info('success', 'float', 'vector');
  const unstable = info('unstable', 'flag', 'vector');
  const pair = (cur: { raw?: RawArray; width: number }, next: { raw?: RawArray; width: number }, a: string, b: string) => {
    if (cur.raw && next.raw && cur.width !== next.width) throw new InputError(source, `has ${next.width} columns, infos/${a} has ${cur.width}`, `infos/${b}`);
  };
  pair(qpos, nqpos, 'qpos', 'next_qpos');
  pair(qvel, nqvel, 'qvel', 'next_qvel');
  pair(act, nact, 'act', 'next_act');
  const meta = readMeta(f, source);
  const attrW = (k: string, cur: { raw?: RawArray; width: number }, key: string) => {
    const v = attr(f, k);
    if (typeof v === 'number' && cur.raw && v !== cur.width) throw new InputError(source, `has ${cur.width} columns, attribute ${k} says ${v}`, key);
  };
  attrW('nq', qpos, 'infos/qpos');
  attrW('nv', qvel, 'infos/qvel');
  attrW('na', act, 'infos/act');
  attrW('obs_dim', { raw: obsRaw, width: D }, 'observations');
  attrW('act_dim', { raw: actRaw, width: a.width }, 'actions');
  // (With transitionsOnly the infos arrays were checked by type and shape, their values not read.)
  const f64 = (x: { raw?: RawArray }) => (x.raw && !transitionsOnly ? toF64(x.raw.data) : undefined);
  const na = act.raw ? act.width : nact.raw ? nact.width : 0;
  let ds: OfflineDataset = {
    size: n,
    obsDim: D,
    actDim: a.width,
    observations: toF32(obsRaw.data),
    actions: toF32(actRaw.data),
    rewards: toF64(rewRaw.data),
    terminals: toU8(termRaw.data),
    timeouts: toRaw ? toU8(toRaw.data) : new Uint8Array(n),
    nextObservations: nextRaw ? toF32(nextRaw.data) : new Float32Array(0),
    infos: {
      nq: qpos.raw ? qpos.width : nqpos.width,
      nv: qvel.raw ? qvel.width : nqvel.width,
      na,
      nTerms: terms.width,
      qpos: f64(qpos),
      qvel: f64(qvel),
      act: na > 0 ? f64(act) : undefined,
      nextQpos: f64(nqpos),
      nextQvel: f64(nqvel),
      nextAct: na > 0 ? f64(nact) : undefined,
      time: f64(time),
      nextTime: f64(ntime),
      step: step.raw && !transitionsOnly ? Int32Array.from(step.raw.data) : undefined,
      rewardTerms: f64(terms),
      success: success.raw && !transitionsOnly ? toF32(success.raw.data) : undefined,
      unstable: unstable.raw && !transitionsOnly ? toU8(unstable.raw.data) : undefined,
    },
    meta,
    source,
    notes,
  };
  if (!toRaw) notes.push('no timeouts key: no step is marked as cut (episodes end at terminals and at the end of the data)');
  if (!nextRaw) ds = deriveNextObservations(ds);
  return ds;
}

/**
 * D4RL's qlearning_dataset convention for files without next_observations: s_{t+1} =
 * observations[t+1] within an episode (after a terminal step it is never used), and the last
 * step of each episode that did not end in a terminal state is dropped (its successor is
 * unknown).
 */
function deriveNextObservations(ds: OfflineDataset): OfflineDataset {
  const n = ds.size;
  const D = ds.obsDim;
  const keep: number[] = [];
  const next = new Float32Array(n * D);
  for (const e of episodeRanges(ds)) {
    for (let t = e.start; t < e.start + e.length; t++) {
      const last = t === e.start + e.length - 1;
      if (last && !e.terminated) continue;
      if (t + 1 < n) next.set(ds.observations.subarray((t + 1) * D, (t + 2) * D), t * D);
      keep.push(t);
    }
  }
  const dropped = n - keep.length;
  const sel = <A extends Float32Array | Float64Array | Uint8Array | Int32Array>(a: A | undefined, w: number): A | undefined => {
    if (a === undefined) return undefined;
    const out = new (a.constructor as new (k: number) => A)(keep.length * w);
    keep.forEach((t, i) => out.set(a.subarray(t * w, (t + 1) * w), i * w));
    return out;
  };
  // A dropped step that ended an episode with a timeout passes the flag to the step before it.
  const timeouts = sel(ds.timeouts, 1)!;
  keep.forEach((t, i) => {
    const droppedNext = i + 1 < keep.length ? keep[i + 1] !== t + 1 : t + 1 < n;
    if (droppedNext && ds.terminals[t] === 0) timeouts[i] = 1;
  });
  const inf = ds.infos;
  const out: OfflineDataset = {
    ...ds,
    size: keep.length,
    observations: sel(ds.observations, D)!,
    actions: sel(ds.actions, ds.actDim)!,
    rewards: sel(ds.rewards, 1)!,
    terminals: sel(ds.terminals, 1)!,
    timeouts,
    nextObservations: sel(next, D)!,
    infos: {
      ...inf,
      qpos: sel(inf.qpos, inf.nq),
      qvel: sel(inf.qvel, inf.nv),
      act: sel(inf.act, inf.na),
      nextQpos: sel(inf.nextQpos, inf.nq),
      nextQvel: sel(inf.nextQvel, inf.nv),
      nextAct: sel(inf.nextAct, inf.na),
      time: sel(inf.time, 1),
      nextTime: sel(inf.nextTime, 1),
      step: sel(inf.step, 1),
      rewardTerms: sel(inf.rewardTerms, inf.nTerms),
      success: sel(inf.success, 1),
      unstable: sel(inf.unstable, 1),
    },
    notes: [
      ...ds.notes,
      `no next_observations key: derived from observations[t+1] (D4RL's qlearning_dataset convention); ${dropped} final step(s) of non-terminal episodes dropped`,
    ],
  };
  return out;
}

/** Minari: groups episode_<k> with observations [T+1, D] and per-step arrays [T]. */
function readMinari(f: H5File, source: string, keys: string[]): OfflineDataset {
  const eps = keys.filter((k) => /^episode_\d+$/.test(k)).sort((a, b) => Number(a.slice(8)) - Number(b.slice(8)));
  const obs: Float32Array[] = [];
  const next: Float32Array[] = [];
  const actions: Float32Array[] = [];
  const rewards: Float64Array[] = [];
  const terms: Uint8Array[] = [];
  const truncs: Uint8Array[] = [];
  let D = -1;
  let A = -1;
  for (const ep of eps) {
    const get = (k: string, kind: 'float' | 'flag') => {
      if (f.get(`${ep}/${k}`) === null) throw new InputError(source, `missing key "${ep}/${k}" (Minari layout)`, `${ep}/${k}`);
      return readArray(f, `${ep}/${k}`, kind, source)!;
    };
    const o = get('observations', 'float');
    const od = dims(o, `${ep}/observations`, source, 'matrix');
    const T = od.rows - 1;
    const act = get('actions', 'float');
    const ad = dims(act, `${ep}/actions`, source, 'either');
    if (D < 0) [D, A] = [od.width, ad.width];
    if (od.width !== D) throw new InputError(source, `has ${od.width} columns, earlier episodes have ${D}`, `${ep}/observations`);
    if (ad.width !== A) throw new InputError(source, `has ${ad.width} columns, earlier episodes have ${A}`, `${ep}/actions`);
    const check = (raw: RawArray, k: string) => {
      const r = dims(raw, `${ep}/${k}`, source, k === 'actions' ? 'either' : 'vector').rows;
      if (r !== T) throw new InputError(source, `has ${r} rows, ${ep}/observations has ${T + 1} (T + 1 expected)`, `${ep}/${k}`);
    };
    check(act, 'actions');
    const r = get('rewards', 'float');
    check(r, 'rewards');
    const te = get('terminations', 'flag');
    check(te, 'terminations');
    const tr = get('truncations', 'flag');
    check(tr, 'truncations');
    const od32 = toF32(o.data);
    obs.push(od32.slice(0, T * D));
    next.push(od32.slice(D, (T + 1) * D));
    actions.push(toF32(act.data));
    rewards.push(toF64(r.data));
    const te8 = toU8(te.data);
    const tr8 = toU8(tr.data);
    // Mark the episode boundary even when the episode ended without either flag.
    if (T > 0 && te8[T - 1] === 0 && tr8[T - 1] === 0 && ep !== eps[eps.length - 1]) tr8[T - 1] = 1;
    terms.push(te8);
    truncs.push(tr8);
  }
  const observations = concat(obs, (k) => new Float32Array(k));
  return {
    size: observations.length / Math.max(1, D),
    obsDim: D,
    actDim: A,
    observations,
    actions: concat(actions, (k) => new Float32Array(k)),
    rewards: concat(rewards, (k) => new Float64Array(k)),
    terminals: concat(terms, (k) => new Uint8Array(k)),
    timeouts: concat(truncs, (k) => new Uint8Array(k)),
    nextObservations: concat(next, (k) => new Float32Array(k)),
    infos: { nq: 0, nv: 0, na: 0, nTerms: 0 },
    meta: {},
    source,
    notes: [`Minari layout: ${eps.length} episode groups flattened`],
  };
}
