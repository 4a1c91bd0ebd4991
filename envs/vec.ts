/**
 * Vectorised environments: N copies of one env stepped together, in this thread
 * (`workers: 0`), split across worker threads (`workers >= 1`), or across the workers and this
 * thread (`inline: true`: this thread steps the first block while the workers step the rest),
 * behind one async API.
 *
 * Semantics (the same in every mode, bit for bit):
 * - env i is built by `makeEnv({...config, seed: new Rng(seed).fork('vec-env').fork(i).seed31()})`
 *   and later episodes continue that env's own RNG (reset() without a seed), so results depend
 *   only on (config, numEnvs, seed) and the actions, never on the number of workers;
 * - `step(actions)` takes [N, actDim] row-major actions and steps every env once. Where an
 *   episode ends (terminated or truncated) the env is reset at once: `obs` holds the first
 *   observation of the new episode and `finalObs` the last observation of the ended one;
 * - actions are checked (length, finiteness) before any env moves, so a bad action rejects
 *   with an ActionError naming the env id, its step and the vec index, and leaves every env
 *   where it was;
 * - every array in a result is a fresh copy owned by the caller (never reused by the vec env).
 *
 * Worker protocol (no message per step): after start-up every buffer lives in a
 * SharedArrayBuffer: actions in, obs / rewards / terms / flags / final obs / states out. The
 * control array (Int32Array, shared) has one 16-int block (a cache line, no false sharing) for
 * the vec env and one per worker:
 *   PENDING (vec block)  workers still busy with the current command;
 *   SEQ     command counter, bumped by the main thread (Atomics.add + notify);
 *   KIND    what to do (reset / step / close), written before SEQ;
 *   DONE    the last SEQ this worker finished;
 *   STATUS  0 ok, 1 the command threw (the error, as JSON, is in the worker's error area);
 *   ERRLEN  length of that JSON.
 * A worker sleeps in `Atomics.wait` on its SEQ, runs the command over all its envs, publishes
 * STATUS and DONE, decrements PENDING, and the last one to finish notifies PENDING: one wake-up
 * of the main thread per command, whatever the number of workers. Waking a sleeping thread costs
 * on the order of 100 us on virtual machines (the idle vCPU has to be woken), as much as
 * stepping a dozen cheap envs, so a worker first polls SEQ for a short while when commands have
 * been coming back to back (adaptive: see `SpinPolicy`); when the main thread takes longer
 * between steps (policy inference, PPO updates) the workers go straight to sleep and leave it
 * the cores. The main thread first blocks in `Atomics.wait` for up to SYNC_WAIT_MS (a futex
 * wake-up reaches it sooner than an asynchronous one, which goes through the event loop: on
 * the cheap envs this is most of the 2-worker speed-up), then waits with `Atomics.waitAsync`,
 * so its event loop (a web server, progress output) is held up by at most a few ms per
 * command during rollouts. A worker that dies is noticed once the wait falls back to the
 * event loop. Start-up (build envs, report the spec, receive the buffers) and start-up failures
 * use ordinary messages. A worker that dies (crash, OOM) rejects the pending command instead
 * of hanging it. Workers are `unref()`ed while idle, so a vec env that is never closed does not
 * keep the process alive.
 */
import { Worker } from 'node:worker_threads';
import { InputError, UsageError, refuseUnknownKeys } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import { workerScript } from '../core/worker.js';
import { checkEnvConfigObject, type EnvConfig, makeEnv } from './registry.js';
import { ActionError, type Env, type EnvSpec } from './types.js';

export interface VecEnvOptions {
  /** Number of envs N (>= 1). */
  readonly numEnvs: number;
  /** 0: step every env in this thread; k >= 1: split the envs over min(k, N) worker threads. */
  readonly workers: number;
  /** Base seed; env i gets `new Rng(seed).fork('vec-env').fork(i).seed31()`. */
  readonly seed: number;
  /** Also return the simulator state (qpos, qvel, act, time) after every reset and step. */
  readonly recordState?: boolean;
  /**
   * With workers >= 1: the calling thread steps a block of envs too, while the workers step
   * theirs, so workers + 1 threads step envs and the calling thread does not sleep through each
   * command (default false). On a machine with as many cores as stepping threads this saves the
   * main thread's wake-up per command, which is most of the cost of handing cheap envs to
   * threads. Results are the same bit for bit as in every other mode.
   */
  readonly inline?: boolean;
}

/** Observations after reset(), with the simulator state when recordState is on. */
export interface VecObs {
  /** [N, obsDim] */
  readonly obs: Float32Array;
  /** [N, nq], [N, nv], [N, na], [N] (recordState only). */
  readonly qpos?: Float64Array;
  readonly qvel?: Float64Array;
  readonly act?: Float64Array;
  readonly time?: Float64Array;
}

export interface VecStep extends VecObs {
  /** [N, obsDim] next obs; where an episode ended, the first obs of the new episode. */
  readonly obs: Float32Array;
  /** [N] rewards. */
  readonly rewards: Float64Array;
  /** [N, nTerms] reward terms (spec.rewardTerms order). */
  readonly terms: Float64Array;
  /** [N] 1 where the episode reached a terminal state. */
  readonly terminated: Uint8Array;
  /** [N] 1 where the episode was cut (horizon or instability). */
  readonly truncated: Uint8Array;
  /** [N] 1 where the simulation went unstable (then truncated is 1 too). */
  readonly unstable: Uint8Array;
  /** [N] task success after the step (before any reset); NaN when the task has none. */
  readonly success: Float64Array;
  /** [N, obsDim] last obs of the episodes that ended this step; rows of other envs are 0. */
  readonly finalObs: Float32Array;
  /** recordState only: state at the end of the episodes that ended ([N, nq], [N, nv], [N, na]; other rows 0). */
  readonly finalQpos?: Float64Array;
  readonly finalQvel?: Float64Array;
  readonly finalAct?: Float64Array;
}

export interface VecEnv {
  readonly spec: EnvSpec;
  readonly numEnvs: number;
  /** Worker threads in use (0: in-process). */
  readonly workers: number;
  /** Envs stepped in the calling thread alongside the workers (0 unless `inline`; numEnvs when workers is 0). */
  readonly inlineEnvs: number;
  /** Reset every env (continuing each env's RNG stream). */
  reset(): Promise<VecObs>;
  /** Step every env with [N, actDim] row-major actions; one call at a time. */
  step(actions: Float32Array | Float64Array): Promise<VecStep>;
  /** Dispose the envs and terminate the workers; idempotent. */
  close(): Promise<void>;
}

/** The seed of env i of a vec env with base seed `seed`. */
export function vecEnvSeed(seed: number, i: number): number {
  return new Rng(seed).fork('vec-env').fork(i).seed31();
}

// ---------------------------------------------------------------------------------------------
// Buffers and the env group (shared by the in-process mode and the workers)

/** Every array the vec env exchanges per step; shared memory in worker mode. */
export interface VecBuffers {
  readonly actions: Float64Array; // [N, actDim]
  readonly obs: Float32Array; // [N, obsDim]
  readonly finalObs: Float32Array; // [N, obsDim]
  readonly rewards: Float64Array; // [N]
  readonly terms: Float64Array; // [N, nTerms]
  readonly success: Float64Array; // [N]
  readonly terminated: Uint8Array; // [N]
  readonly truncated: Uint8Array; // [N]
  readonly unstable: Uint8Array; // [N]
  /** recordState only (null otherwise). */
  readonly state: {
    readonly qpos: Float64Array; // [N, nq]
    readonly qvel: Float64Array; // [N, nv]
    readonly act: Float64Array; // [N, na]
    readonly time: Float64Array; // [N]
    readonly finalQpos: Float64Array; // [N, nq]
    readonly finalQvel: Float64Array; // [N, nv]
    readonly finalAct: Float64Array; // [N, na]
  } | null;
}

function allocBuffers(n: number, spec: EnvSpec, recordState: boolean, shared: boolean): VecBuffers {
  const mem = (bytes: number) => (shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
  const f64 = (len: number) => new Float64Array(mem(len * 8));
  const f32 = (len: number) => new Float32Array(mem(len * 4));
  const u8 = (len: number) => new Uint8Array(mem(len));
  return {
    actions: f64(n * spec.actDim),
    obs: f32(n * spec.obsDim),
    finalObs: f32(n * spec.obsDim),
    rewards: f64(n),
    terms: f64(n * spec.rewardTerms.length),
    success: f64(n),
    terminated: u8(n),
    truncated: u8(n),
    unstable: u8(n),
    state: recordState
      ? {
          qpos: f64(n * spec.nq),
          qvel: f64(n * spec.nv),
          act: f64(n * spec.na),
          time: f64(n),
          finalQpos: f64(n * spec.nq),
          finalQvel: f64(n * spec.nv),
          finalAct: f64(n * spec.na),
        }
      : null,
  };
}

/**
 * A contiguous block of envs [start, start + envs.length) of a vec env, reading actions from
 * and writing results into the vec env's buffers. Runs in the main thread (workers: 0) or in a
 * worker; the same code in both keeps the modes bit-identical.
 */
export class EnvGroup {
  private readonly nTerms: number;
  /** Each env's row of the action buffer (views made once, not per step). */
  private readonly actionRows: Float64Array[];

  constructor(
    private readonly envs: readonly Env[],
    private readonly start: number,
    private readonly buf: VecBuffers,
  ) {
    this.nTerms = envs[0].spec.rewardTerms.length;
    const actDim = envs[0].spec.actDim;
    this.actionRows = envs.map((_, k) => buf.actions.subarray((start + k) * actDim, (start + k + 1) * actDim));
  }

  /** Add the vec index to an env's error message (the error keeps its class). */
  private annotate(e: unknown, i: number): unknown {
    if (e instanceof Error) e.message = `${e.message} (vec env ${i})`;
    return e;
  }

  private writeState(i: number, env: Env, final: boolean): void {
    const s = this.buf.state;
    if (!s) return;
    const st = env.getState();
    const { nq, nv, na } = env.spec;
    if (final) {
      s.finalQpos.set(st.qpos, i * nq);
      s.finalQvel.set(st.qvel, i * nv);
      s.finalAct.set(st.act, i * na);
    } else {
      s.qpos.set(st.qpos, i * nq);
      s.qvel.set(st.qvel, i * nv);
      s.act.set(st.act, i * na);
      s.time[i] = st.time;
    }
  }

  reset(): void {
    const b = this.buf;
    for (let k = 0; k < this.envs.length; k++) {
      const i = this.start + k;
      const env = this.envs[k];
      try {
        b.obs.set(env.reset(), i * env.spec.obsDim);
        this.writeState(i, env, false);
      } catch (e) {
        throw this.annotate(e, i);
      }
    }
  }

  step(): void {
    const b = this.buf;
    const nTerms = this.nTerms;
    for (let k = 0; k < this.envs.length; k++) {
      const i = this.start + k;
      const env = this.envs[k];
      const obsDim = env.spec.obsDim;
      try {
        const r = env.step(this.actionRows[k]);
        b.rewards[i] = r.reward;
        b.terms.set(r.rewardTerms, i * nTerms);
        b.terminated[i] = r.terminated ? 1 : 0;
        b.truncated[i] = r.truncated ? 1 : 0;
        b.unstable[i] = r.info.unstable ? 1 : 0;
        b.success[i] = r.info.success ?? Number.NaN;
        if (r.terminated || r.truncated) {
          b.finalObs.set(r.obs, i * obsDim);
          this.writeState(i, env, true);
          b.obs.set(env.reset(), i * obsDim);
        } else {
          b.finalObs.fill(0, i * obsDim, (i + 1) * obsDim);
          const s = b.state;
          if (s) {
            const { nq, nv, na } = env.spec;
            s.finalQpos.fill(0, i * nq, (i + 1) * nq);
            s.finalQvel.fill(0, i * nv, (i + 1) * nv);
            s.finalAct.fill(0, i * na, (i + 1) * na);
          }
          b.obs.set(r.obs, i * obsDim);
        }
        this.writeState(i, env, false);
      } catch (e) {
        throw this.annotate(e, i);
      }
    }
  }

  dispose(): void {
    for (const env of this.envs) env.dispose();
  }
}

// ---------------------------------------------------------------------------------------------
// Worker protocol

/** Ints per block of the control array (64 bytes: one cache line, no false sharing). */
export const CTRL_STRIDE = 16;
/** In the vec block (block 0). */
export const PENDING = 0;
/** In worker w's block (block w + 1). */
export const SEQ = 0;
export const KIND = 1;
export const DONE = 2;
export const STATUS = 3;
export const ERRLEN = 4;
/** Bytes per worker for a JSON error payload. */
export const ERR_BYTES = 8192;

/** Offset of worker w's block in the control array. */
export function ctrlBlock(w: number): number {
  return (w + 1) * CTRL_STRIDE;
}

export const CMD_RESET = 1;
export const CMD_STEP = 2;
export const CMD_CLOSE = 3;

export const STATUS_OK = 0;
export const STATUS_ERROR = 1;

/** workerData of a vec worker. */
export interface WorkerInit {
  readonly config: EnvConfig;
  /** This worker's index (its control block). */
  readonly index: number;
  /** Vec index of its first env. */
  readonly start: number;
  /** Seeds of its envs, in order. */
  readonly seeds: readonly number[];
}

/** Messages a worker posts during start-up (none afterwards). */
export type WorkerMessage = { readonly type: 'ready'; readonly spec: EnvSpec } | { readonly type: 'error'; readonly error: ErrorPayload };

/** The message that hands a ready worker its shared memory; it then serves commands. */
export interface StartMessage {
  readonly type: 'start';
  readonly ctrl: Int32Array;
  readonly err: Uint8Array;
  readonly buffers: VecBuffers;
}

/** An error as it crosses threads. */
export interface ErrorPayload {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  readonly source?: string;
  readonly field?: string;
}

export function errorPayload(e: unknown): ErrorPayload {
  if (e instanceof InputError) return { name: e.name, message: e.message, stack: e.stack, source: e.source, field: e.field };
  if (e instanceof Error) return { name: e.name, message: e.message, stack: e.stack };
  return { name: 'Error', message: String(e) };
}

/** Rebuild an error from a worker with its class (ActionError, UsageError, InputError) and message. */
export function reviveError(p: ErrorPayload): Error {
  let e: Error;
  if (p.name === 'ActionError') e = new ActionError('', 0, '');
  else if (p.name === 'UsageError') e = new UsageError('');
  else if (p.name === 'InputError') e = new InputError(p.source ?? '', '', p.field);
  else if (p.name === 'RangeError') e = new RangeError('');
  else if (p.name === 'TypeError') e = new TypeError('');
  else {
    e = new Error('');
    e.name = p.name;
  }
  e.message = p.message;
  if (p.stack) e.stack = p.stack;
  return e;
}

/** Write an error payload into a worker's error area and its length into ERRLEN. */
function writeError(ctrl: Int32Array, err: Uint8Array, index: number, e: unknown): void {
  let payload = errorPayload(e);
  let bytes = new TextEncoder().encode(JSON.stringify(payload));
  if (bytes.length > ERR_BYTES) {
    payload = { name: payload.name, message: payload.message.slice(0, ERR_BYTES / 4) };
    bytes = new TextEncoder().encode(JSON.stringify(payload));
  }
  err.set(bytes, index * ERR_BYTES);
  Atomics.store(ctrl, ctrlBlock(index) + ERRLEN, bytes.length);
}

function readError(ctrl: Int32Array, err: Uint8Array, index: number): Error {
  const len = Atomics.load(ctrl, ctrlBlock(index) + ERRLEN);
  // TextDecoder refuses views of shared memory: copy out first.
  const bytes = err.slice(index * ERR_BYTES, index * ERR_BYTES + len);
  try {
    return reviveError(JSON.parse(new TextDecoder().decode(bytes)) as ErrorPayload);
  } catch {
    return new Error(`vec env worker ${index} failed and its error could not be read`);
  }
}

/** Longest a worker polls for the next command before sleeping (ms). */
export const SPIN_MAX_MS = 0.3;
/** How long a probe polls (ms): longer, since a sleeping worker's gaps include wake-up latency. */
export const PROBE_MS = 1;
/** How long the main thread blocks on a command before it waits asynchronously (ms). */
export const SYNC_WAIT_MS = 2;

/**
 * When a worker polls for its next command instead of sleeping at once. Polling while commands
 * come back to back; after MISSES polls in a row that ran out without a command (the main
 * thread now computes between steps: policy inference, PPO updates) the worker sleeps at once
 * and only probes with one longer poll (PROBE_MS) every PROBE_EVERY commands, so it does not take a core from the
 * main thread; a probe that catches a command switches polling back on.
 */
export class SpinPolicy {
  static readonly MISSES = 4;
  static readonly PROBE_EVERY = 64;
  private polling = true;
  private misses = 0;
  private sinceProbe = 0;

  /** How long to poll before waiting for the next command (ms; 0: sleep at once). */
  pollMs(): number {
    if (this.polling) return SPIN_MAX_MS;
    if (++this.sinceProbe < SpinPolicy.PROBE_EVERY) return 0;
    this.sinceProbe = 0;
    return PROBE_MS;
  }

  /** Record whether a poll caught the command. */
  record(caught: boolean): void {
    if (caught) {
      this.polling = true;
      this.misses = 0;
    } else if (++this.misses >= SpinPolicy.MISSES) {
      this.polling = false;
    }
  }

  get isPolling(): boolean {
    return this.polling;
  }
}

/**
 * The worker's command loop (runs until CMD_CLOSE): sleep on SEQ, run the command over the
 * group, publish STATUS and DONE. Blocks the worker thread; nothing else runs there.
 */
export function serveCommands(group: EnvGroup, ctrl: Int32Array, err: Uint8Array, index: number): void {
  const b = ctrlBlock(index);
  // SEQ starts at 0; the first command may already be posted when this loop starts.
  let seen = 0;
  const policy = new SpinPolicy();
  for (;;) {
    const poll = policy.pollMs();
    if (poll > 0) {
      const until = performance.now() + poll;
      let caught = false;
      while (!(caught = Atomics.load(ctrl, b + SEQ) !== seen) && performance.now() < until) {
        // poll: commands have been coming back to back
      }
      policy.record(caught);
    }
    Atomics.wait(ctrl, b + SEQ, seen);
    const seq = Atomics.load(ctrl, b + SEQ);
    if (seq === seen) continue;
    seen = seq;
    const kind = Atomics.load(ctrl, b + KIND);
    let status = STATUS_OK;
    try {
      if (kind === CMD_STEP) group.step();
      else if (kind === CMD_RESET) group.reset();
      else if (kind === CMD_CLOSE) group.dispose();
      else throw new Error(`vec env worker ${index}: unknown command ${kind}`);
    } catch (e) {
      writeError(ctrl, err, index, e);
      status = STATUS_ERROR;
    }
    Atomics.store(ctrl, b + STATUS, status);
    Atomics.store(ctrl, b + DONE, seq);
    // The last worker to finish wakes the main thread.
    if (Atomics.sub(ctrl, PENDING, 1) === 1) Atomics.notify(ctrl, PENDING);
    if (kind === CMD_CLOSE) return;
  }
}

// ---------------------------------------------------------------------------------------------
// The vec env

type WaitAsync = (ta: Int32Array, index: number, value: number, timeout?: number) => { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
// ES2024 API (Node >= 16); the project's lib setting predates its typings.
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

/** Every option createVecEnv reads (the type makes it list each key of VecEnvOptions, and no other). */
const VEC_ENV_OPTIONS: Readonly<Record<keyof VecEnvOptions, true>> = { numEnvs: true, workers: true, seed: true, recordState: true, inline: true };

function checkOptions(opts: VecEnvOptions): void {
  if (typeof opts !== 'object' || opts === null) throw new TypeError('createVecEnv: options { numEnvs, workers, seed } are required');
  // A misspelt option was dropped without a word: { inlineEnvs: true } (PpoConfig's name) stepped no env in this thread.
  refuseUnknownKeys('createVecEnv', opts, VEC_ENV_OPTIONS, 'option', (u) => (u.includes('inlineEnvs') ? " (PpoConfig's inlineEnvs is createVecEnv's inline)" : ''));
  if (!Number.isInteger(opts.numEnvs) || opts.numEnvs < 1) throw new RangeError(`createVecEnv: numEnvs must be an integer >= 1, got ${opts.numEnvs}`);
  if (!Number.isInteger(opts.workers) || opts.workers < 0) throw new RangeError(`createVecEnv: workers must be an integer >= 0, got ${opts.workers}`);
  if (!Number.isFinite(opts.seed)) throw new RangeError(`createVecEnv: seed must be a finite number, got ${opts.seed}`);
}

/**
 * Build a vec env. Rejects with the env's own error (e.g. an InputError for a model that does
 * not compile) when an env cannot be built, in any thread.
 */
export async function createVecEnv(config: EnvConfig, opts: VecEnvOptions): Promise<VecEnv> {
  checkEnvConfigObject(config, 'createVecEnv: config');
  checkOptions(opts);
  const seeds = Array.from({ length: opts.numEnvs }, (_, i) => vecEnvSeed(opts.seed, i));
  const record = opts.recordState ?? false;
  if (opts.workers === 0) {
    const envs: Env[] = [];
    try {
      for (const s of seeds) envs.push(await makeEnv({ ...config, seed: s }));
    } catch (e) {
      for (const env of envs) env.dispose();
      throw e;
    }
    return new LocalVecEnv(envs, record);
  }
  if (opts.inline) {
    // workers + 1 blocks; the calling thread takes block 0; at most numEnvs - 1 workers, so one env
    // stays with each worker.
    const workers = Math.min(opts.workers, opts.numEnvs - 1);
    if (workers === 0) return createVecEnv(config, { ...opts, workers: 0, inline: false });
    return WorkerVecEnv.start(config, seeds, workers, record, true);
  }
  return WorkerVecEnv.start(config, seeds, Math.min(opts.workers, opts.numEnvs), record, false);
}

/** Checks and bookkeeping shared by both modes. */
abstract class BaseVecEnv implements VecEnv {
  abstract readonly spec: EnvSpec;
  abstract readonly workers: number;
  abstract readonly inlineEnvs: number;
  readonly numEnvs: number;
  protected buf!: VecBuffers;
  /** Step index within the current episode of each env (for error messages). */
  private readonly t: Int32Array;
  private started = false;
  private busy = false;
  protected closed = false;
  /** Set when a command failed half-way: the envs are no longer in step with each other. */
  protected broken: Error | null = null;
  private closing: Promise<void> | null = null;

  constructor(numEnvs: number) {
    this.numEnvs = numEnvs;
    this.t = new Int32Array(numEnvs);
  }

  protected abstract run(kind: number): Promise<void>;
  protected abstract shutdown(): Promise<void>;

  private enter(what: string): void {
    const id = this.spec.id;
    if (this.closed) throw new Error(`vec env ${id}: ${what}() after close()`);
    if (this.broken) throw new Error(`vec env ${id}: unusable after an earlier failure (${this.broken.message}); close() it`);
    if (this.busy) throw new Error(`vec env ${id}: ${what}() called while another reset()/step() is running; await it first`);
    this.busy = true;
  }

  private stateOut(): Pick<VecObs, 'qpos' | 'qvel' | 'act' | 'time'> {
    const s = this.buf.state;
    return s ? { qpos: s.qpos.slice(), qvel: s.qvel.slice(), act: s.act.slice(), time: s.time.slice() } : {};
  }

  async reset(): Promise<VecObs> {
    this.enter('reset');
    try {
      await this.run(CMD_RESET);
      this.t.fill(0);
      this.started = true;
      return { obs: this.buf.obs.slice(), ...this.stateOut() };
    } finally {
      this.busy = false;
    }
  }

  async step(actions: Float32Array | Float64Array): Promise<VecStep> {
    this.enter('step');
    try {
      const { id, actDim } = this.spec;
      const n = this.numEnvs;
      if (!this.started) throw new Error(`vec env ${id}: step() called before reset()`);
      if (actions.length !== n * actDim) {
        throw new RangeError(`vec env ${id}: actions have length ${actions.length}, expected ${n * actDim} ([numEnvs ${n}, actDim ${actDim}], row-major)`);
      }
      // Check every action before any env moves, so a bad one leaves all envs where they were.
      for (let j = 0; j < actions.length; j++) {
        const x = actions[j];
        if (!Number.isFinite(x)) {
          const i = Math.floor(j / actDim);
          throw new ActionError(id, this.t[i], `action[${j - i * actDim}] is ${x}; actions must be finite numbers (vec env ${i})`);
        }
      }
      const b = this.buf;
      b.actions.set(actions);
      await this.run(CMD_STEP);
      for (let i = 0; i < n; i++) this.t[i] = b.terminated[i] || b.truncated[i] ? 0 : this.t[i] + 1;
      const s = b.state;
      return {
        obs: b.obs.slice(),
        rewards: b.rewards.slice(),
        terms: b.terms.slice(),
        terminated: b.terminated.slice(),
        truncated: b.truncated.slice(),
        unstable: b.unstable.slice(),
        success: b.success.slice(),
        finalObs: b.finalObs.slice(),
        ...this.stateOut(),
        ...(s ? { finalQpos: s.finalQpos.slice(), finalQvel: s.finalQvel.slice(), finalAct: s.finalAct.slice() } : {}),
      };
    } finally {
      this.busy = false;
    }
  }

  close(): Promise<void> {
    if (!this.closing) {
      this.closed = true;
      this.closing = this.shutdown();
    }
    return this.closing;
  }
}

/** workers: 0 — every env in this thread. */
class LocalVecEnv extends BaseVecEnv {
  readonly spec: EnvSpec;
  readonly workers = 0;
  get inlineEnvs(): number {
    return this.numEnvs;
  }
  private readonly group: EnvGroup;

  constructor(envs: Env[], record: boolean) {
    super(envs.length);
    this.spec = envs[0].spec;
    this.buf = allocBuffers(envs.length, this.spec, record, false);
    this.group = new EnvGroup(envs, 0, this.buf);
  }

  protected async run(kind: number): Promise<void> {
    try {
      if (kind === CMD_STEP) this.group.step();
      else if (kind === CMD_RESET) this.group.reset();
    } catch (e) {
      this.broken = e instanceof Error ? e : new Error(String(e));
      throw e;
    }
  }

  protected async shutdown(): Promise<void> {
    this.group.dispose();
  }
}

/** One worker thread and what the main thread knows about it. */
interface WorkerHandle {
  readonly index: number;
  readonly worker: Worker;
  readonly start: number;
  readonly count: number;
  /** Set once the worker died unexpectedly. */
  death: Error | null;
  /** Rejects when the worker dies (never resolves). */
  readonly died: Promise<never>;
  exited: boolean;
}

/**
 * workers >= 1 — blocks of envs in worker threads, commands through shared memory; in inline
 * mode the calling thread steps the first block itself while the workers step theirs.
 */
class WorkerVecEnv extends BaseVecEnv {
  readonly workers: number;
  get inlineEnvs(): number {
    return this.localEnvs.length;
  }
  private ctrl!: Int32Array;
  private err!: Uint8Array;
  /** The command being waited for, if any (close() lets it finish first). */
  private inflight: Promise<void> | null = null;

  /** The block of envs the calling thread steps (inline mode), or null. */
  private local: EnvGroup | null = null;
  private localEnvs: readonly Env[] = [];

  private constructor(
    readonly spec: EnvSpec,
    private readonly handles: WorkerHandle[],
    numEnvs: number,
  ) {
    super(numEnvs);
    this.workers = handles.length;
    // A worker that dies mid-command never decrements PENDING: wake the waiter so it sees why.
    for (const h of handles) {
      const wake = () => {
        if (this.ctrl) Atomics.notify(this.ctrl, PENDING);
      };
      h.worker.on('exit', wake);
      h.worker.on('error', wake);
    }
  }

  static async start(config: EnvConfig, seeds: number[], workers: number, record: boolean, inline: boolean): Promise<WorkerVecEnv> {
    const n = seeds.length;
    const script = workerScript(import.meta.url, 'vec_worker');
    const handles: WorkerHandle[] = [];
    const ready: Promise<EnvSpec>[] = [];
    // Contiguous blocks, sizes differing by at most one; in inline mode block 0 is the calling thread's.
    const blocks = inline ? workers + 1 : workers;
    const blockStart = (b: number): number => Math.floor((b * n) / blocks);
    for (let w = 0; w < workers; w++) {
      const start = blockStart(inline ? w + 1 : w);
      const end = blockStart(inline ? w + 2 : w + 1);
      const init: WorkerInit = { config, index: w, start, seeds: seeds.slice(start, end) };
      const worker = new Worker(script.file, { workerData: init, eval: script.eval });
      let markDead: (e: Error) => void = () => undefined;
      const died = new Promise<never>((_, reject) => {
        markDead = reject;
      });
      died.catch(() => undefined);
      const h: WorkerHandle = { index: w, worker, start, count: end - start, death: null, died, exited: false };
      const what = `vec env worker ${w} (envs ${start}..${end - 1})`;
      const onDeath = (e: Error) => {
        if (h.death) return;
        h.death = e;
        markDead(e);
      };
      worker.on('error', (e) => onDeath(new Error(`${what} crashed: ${e instanceof Error ? e.message : String(e)}`)));
      worker.on('exit', (code) => {
        h.exited = true;
        onDeath(new Error(`${what} exited (code ${code})`));
      });
      ready.push(
        new Promise<EnvSpec>((resolve, reject) => {
          worker.once('message', (m: WorkerMessage) => (m.type === 'ready' ? resolve(m.spec) : reject(reviveError(m.error))));
          died.catch(reject);
        }),
      );
      handles.push(h);
    }
    // The calling thread's own envs are built while the workers build theirs.
    const localEnvs: Env[] = [];
    let localError: unknown = null;
    if (inline) {
      try {
        for (const seed of seeds.slice(0, blockStart(1))) localEnvs.push(await makeEnv({ ...config, seed }));
      } catch (e) {
        localError = e;
      }
    }
    const settled = await Promise.allSettled(ready);
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    const abandon = async (): Promise<void> => {
      await Promise.all(handles.map((h) => h.worker.terminate()));
      for (const env of localEnvs) env.dispose();
    };
    if (localError !== null) {
      await abandon();
      throw localError;
    }
    if (failed) {
      await abandon();
      // Prefer the env's own error (e.g. the model did not compile) over "worker exited".
      const own = settled.find((s, i): s is PromiseRejectedResult => s.status === 'rejected' && s.reason !== handles[i].death);
      throw (own ?? failed).reason;
    }
    const specs = [...localEnvs.slice(0, 1).map((e) => e.spec), ...settled.map((s) => (s as PromiseFulfilledResult<EnvSpec>).value)];
    const spec = specs[0];
    for (const s of specs) {
      if (s.modelHash !== spec.modelHash || s.obsDim !== spec.obsDim || s.actDim !== spec.actDim) {
        await abandon();
        throw new Error(`vec env ${spec.id}: workers built different envs (model ${s.modelHash} vs ${spec.modelHash})`);
      }
    }
    const vec = new WorkerVecEnv(spec, handles, n);
    vec.buf = allocBuffers(n, spec, record, true);
    if (inline) {
      vec.localEnvs = localEnvs;
      vec.local = new EnvGroup(localEnvs, 0, vec.buf);
    }
    vec.ctrl = new Int32Array(new SharedArrayBuffer((workers + 1) * CTRL_STRIDE * 4));
    vec.err = new Uint8Array(new SharedArrayBuffer(workers * ERR_BYTES));
    for (const h of handles) {
      const msg: StartMessage = { type: 'start', ctrl: vec.ctrl, err: vec.err, buffers: vec.buf };
      h.worker.postMessage(msg);
      // Idle workers must not keep the process alive; dispatch() refs them while a command is out.
      h.worker.unref();
    }
    return vec;
  }

  protected run(kind: number): Promise<void> {
    const p = this.dispatch(kind);
    this.inflight = p;
    return p;
  }

  /** Send one command to every worker and wait until all have finished it. */
  private async dispatch(kind: number): Promise<void> {
    const ctrl = this.ctrl;
    const dead = this.handles.find((h) => h.death);
    if (dead) {
      this.broken = dead.death;
      throw dead.death;
    }
    const seqs: number[] = [];
    for (const h of this.handles) h.worker.ref();
    try {
      Atomics.store(ctrl, PENDING, this.handles.length);
      for (const h of this.handles) {
        const b = ctrlBlock(h.index);
        Atomics.store(ctrl, b + KIND, kind);
        seqs.push((Atomics.add(ctrl, b + SEQ, 1) + 1) | 0);
        Atomics.notify(ctrl, b + SEQ);
      }
      // Inline mode: step this thread's block meanwhile; its error is thrown once the workers are done.
      let localError: unknown = null;
      if (this.local && kind !== CMD_CLOSE) {
        try {
          if (kind === CMD_STEP) this.local.step();
          else if (kind === CMD_RESET) this.local.reset();
        } catch (e) {
          localError = e;
        }
        // The workers started with this thread and are likely about done: poll before sleeping.
        const until = performance.now() + SPIN_MAX_MS;
        while (Atomics.load(ctrl, PENDING) !== 0 && performance.now() < until) {
          // poll
        }
      }
      try {
        for (;;) {
          const pending = Atomics.load(ctrl, PENDING);
          if (pending === 0) break;
          const dead = this.handles.find((h) => h.death);
          if (dead) throw dead.death;
          // (No Promise.race with a death promise here: each race would leave a reaction on a
          // promise that never settles, a leak over millions of steps. Deaths notify instead.)
          // A short blocking wait first: a futex wake-up reaches this thread sooner than
          // waitAsync's, which has to go through the event loop; longer commands fall back to
          // waitAsync so the event loop keeps running.
          if (Atomics.wait(ctrl, PENDING, pending, SYNC_WAIT_MS) !== 'timed-out') continue;
          const w = waitAsync(ctrl, PENDING, pending);
          if (w.async) await w.value;
        }
        // The calling thread's block holds the lowest vec indices: its error comes first.
        if (localError !== null) throw localError;
        for (const h of this.handles) {
          const b = ctrlBlock(h.index);
          if (Atomics.load(ctrl, b + DONE) !== seqs[h.index]) throw new Error(`vec env worker ${h.index}: protocol error (command ${seqs[h.index]} not done)`);
          if (Atomics.load(ctrl, b + STATUS) !== STATUS_OK) throw readError(ctrl, this.err, h.index);
        }
      } catch (e) {
        // Envs may have stepped partly: only close() is safe from here.
        this.broken = e instanceof Error ? e : new Error(String(e));
        throw e;
      }
    } finally {
      for (const h of this.handles) h.worker.unref();
    }
  }

  protected async shutdown(): Promise<void> {
    const within = <T>(p: Promise<T>, ms: number): Promise<unknown> => {
      let timer: NodeJS.Timeout | undefined;
      const t = new Promise((resolve) => {
        timer = setTimeout(resolve, ms);
      });
      return Promise.race([p.catch(() => undefined), t]).finally(() => clearTimeout(timer));
    };
    // Let a command in flight finish (its caller gets its result), then ask the workers to
    // dispose their envs and leave their loops; terminate them regardless.
    if (this.inflight) await within(this.inflight, 2000);
    if (!this.handles.some((h) => h.death) && Atomics.load(this.ctrl, PENDING) === 0) await within(this.dispatch(CMD_CLOSE), 2000);
    await Promise.all(this.handles.map((h) => (h.exited ? undefined : h.worker.terminate())));
    this.local?.dispose();
  }
}
