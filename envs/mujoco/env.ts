/**
 * A MuJoCo environment: one compiled model, one MjData, and a task.
 *
 * Step semantics: the action is checked (length, finiteness), clipped to the bounds, written to
 * `ctrl`, and the physics is stepped `frameSkip` times with mj_step2 + mj_step1, so positions
 * the task reads after a step (xpos, site positions) belong to the new state, exactly as after
 * setState(). This is the same computation as mj_step for Euler/implicit integrators; with RK4 the
 * env steps with mj_step and then runs mj_forward on the new state. If the simulation goes unstable
 * (MuJoCo's bad-qacc auto-reset, or non-finite state), the env restores the state before the
 * failed step, truncates the episode with `info.unstable = true` and a zero reward, and logs a
 * warning; the process keeps running.
 */
import { Logger } from '../../core/log.js';
import { Rng } from '../../core/rng.js';
import { ActionError, checkStateFinite, clipAction, type Env, type EnvSpec, type EnvState, type StepResult, weightedSum } from '../types.js';
import { Physics } from './physics.js';
import { type CompiledModel, compileModel, loadMujoco, type ModelSource, type Mujoco, MUJOCO_MESSAGE_REPEATS } from './runtime.js';
import type { BoundTask, MujocoTask } from './task.js';

export interface MujocoEnvOptions {
  /** Seed of the env's own RNG (initial states when reset() is called without a seed). */
  readonly seed?: number;
  /** Override the registry id in the spec. */
  readonly id?: string;
  /** Where warnings go (default: stderr). */
  readonly logger?: Logger;
}

/** dst[i] = src[i] for every index of dst (src at least as long). */
function copyInto(dst: Float64Array, src: ArrayLike<number>): void {
  for (let i = 0; i < dst.length; i++) dst[i] = src[i];
}

/**
 * Unstable-step warnings printed in this thread by envs that write to stderr through a logger of
 * their own (no `logger` option: the envs of a training run's workers). A model that goes unstable
 * in every episode printed one line per episode (hundreds in a short run); those envs print
 * MUJOCO_MESSAGE_REPEATS, then a note. An env given a logger warns every time: its caller counts
 * (check-env's summary says how many times).
 */
let ownLoggerUnstable = 0;

export class MujocoEnv implements Env {
  readonly spec: EnvSpec;
  readonly physics: Physics;
  readonly task: MujocoTask;
  private readonly bound: BoundTask;
  private readonly compiled: CompiledModel;
  private rng: Rng;
  private t = 0;
  private done = true;
  private disposed = false;
  private readonly logger: Logger;
  /** True when the env made its own logger (no `logger` option): see ownLoggerUnstable. */
  private readonly ownLogger: boolean;
  private readonly clipped: Float64Array;
  /** Step with mj_step2 + mj_step1 so kinematics match the new state (RK4: mj_step, then mj_forward). */
  private readonly synced: boolean;
  private readonly prev: { qpos: Float64Array; qvel: Float64Array; act: Float64Array; time: number };
  /** MuJoCo's clock as last read (after reset, setState or a step), so a step reads it once. */
  private simTime = 0;

  /** Load the MuJoCo module (once per thread), compile the model and bind the task. */
  static async create(task: MujocoTask, source: ModelSource, opts: MujocoEnvOptions = {}): Promise<MujocoEnv> {
    const mj = await loadMujoco();
    return new MujocoEnv(mj, task, source, opts);
  }

  constructor(mj: Mujoco, task: MujocoTask, source: ModelSource, opts: MujocoEnvOptions = {}) {
    this.compiled = compileModel(mj, source);
    let data: InstanceType<Mujoco['MjData']> | null = null;
    try {
      data = new mj.MjData(this.compiled.model);
      this.physics = new Physics(mj, this.compiled.model, data);
      this.bound = task.bind(this.physics);
    } catch (e) {
      data?.delete();
      this.compiled.dispose();
      throw e;
    }
    this.task = task;
    this.logger = opts.logger ?? new Logger();
    this.ownLogger = opts.logger === undefined;
    this.rng = new Rng(opts.seed ?? 0);
    const p = this.physics;
    const nu = p.nu;
    const range = p.ctrlRange();
    const actLow = new Float64Array(nu);
    const actHigh = new Float64Array(nu);
    for (let i = 0; i < nu; i++) {
      const lo = range[2 * i];
      const hi = range[2 * i + 1];
      // Unlimited actuators (range [0, 0]) get the conventional [-1, 1] action box.
      actLow[i] = lo < hi ? lo : -1;
      actHigh[i] = lo < hi ? hi : 1;
    }
    const obsDim = this.bound.obsDim;
    this.spec = {
      id: opts.id ?? task.id,
      obsDim,
      actDim: nu,
      obsLow: this.bound.obsLow ?? new Float64Array(obsDim).fill(-Infinity),
      obsHigh: this.bound.obsHigh ?? new Float64Array(obsDim).fill(Infinity),
      actLow,
      actHigh,
      rewardTerms: task.rewardTerms,
      dt: p.timestep * task.frameSkip,
      horizon: task.horizon,
      goal: task.goal,
      nq: p.nq,
      nv: p.nv,
      na: p.na,
      modelHash: this.compiled.hash,
    };
    this.clipped = new Float64Array(nu);
    this.prev = { qpos: new Float64Array(p.nq), qvel: new Float64Array(p.nv), act: new Float64Array(p.na), time: 0 };
    // RK4 evaluates the dynamics several times per step, so the split step does not apply; those
    // models step with mj_step and recompute the kinematics of the new state with mj_forward.
    this.synced = p.integrator !== 1;
  }

  /** The model source (to rebuild this env in a worker or in the viewer). */
  get source(): ModelSource {
    return this.compiled.source;
  }

  private check(): void {
    if (this.disposed) throw new Error(`${this.spec.id}: env used after dispose()`);
  }

  private observe(): Float32Array {
    const obs = new Float32Array(this.spec.obsDim);
    this.bound.observe(this.physics, obs);
    return obs;
  }

  reset(seed?: number): Float32Array {
    this.check();
    if (seed !== undefined) this.rng = new Rng(seed);
    this.physics.reset();
    this.bound.initialize(this.physics, this.rng);
    this.physics.forward();
    this.simTime = this.physics.time;
    this.t = 0;
    this.done = false;
    return this.observe();
  }

  step(action: ArrayLike<number>): StepResult {
    this.check();
    const spec = this.spec;
    if (this.done) throw new Error(`${spec.id} step ${this.t}: step() called before reset() or after the episode ended`);
    // clipAction's rule, written out: this loop is on the path `prefrl bench envs` times.
    if (action.length !== spec.actDim) {
      throw new ActionError(spec.id, this.t, `action has length ${action.length}, expected ${spec.actDim}`);
    }
    const a = this.clipped;
    for (let i = 0; i < a.length; i++) {
      const x = action[i];
      if (!Number.isFinite(x)) throw new ActionError(spec.id, this.t, `action[${i}] is ${x}; actions must be finite numbers`);
      a[i] = Math.fround(x < spec.actLow[i] ? spec.actLow[i] : x > spec.actHigh[i] ? spec.actHigh[i] : x);
    }
    const p = this.physics;
    const v = p.views;
    const prev = this.prev;
    // Element loops, not TypedArray.set: for arrays this short the call costs more than the copy
    // (about 1% of a reacher step).
    copyInto(prev.qpos, v.qpos);
    copyInto(prev.qvel, v.qvel);
    copyInto(prev.act, v.act);
    prev.time = this.simTime;
    copyInto(v.ctrl, a);
    this.bound.beforeStep?.(p);
    const frameSkip = this.task.frameSkip;
    // MuJoCo resets the data (time back to 0) when it detects a bad qpos, qvel or qacc, then
    // finishes the physics step it was in: after a reset in substep j the clock reads
    // (frameSkip - j) steps, below the mark below unless the step started at j steps (j < frameSkip),
    // as the first step of an episode does (time 0, reset in substep 0). Only there are MuJoCo's
    // warning counters read (a few calls into WASM); elsewhere one read of the clock per env step
    // decides, not one per substep: each read crosses into WASM. (The clock before the step is
    // the one read after the last step, reset or setState.)
    const clockBlind = prev.time < frameSkip * p.timestep;
    const badBefore = clockBlind ? p.badStateCount() : 0;
    if (this.synced) p.syncedSteps(frameSkip);
    else p.rk4Steps(frameSkip);
    const time = p.time;
    this.simTime = time;
    let unstable = !(time > prev.time + (frameSkip - 0.5) * p.timestep) || (clockBlind && p.badStateCount() > badBefore);
    if (!unstable) {
      const q = p.views.qpos;
      for (let i = 0; i < q.length; i++) {
        if (!Number.isFinite(q[i])) {
          unstable = true;
          break;
        }
      }
    }
    this.t++;
    if (unstable) return this.unstableStep();
    const obs = this.observe();
    // Written straight into the array the caller keeps (cheaper than filling a scratch array and slicing it).
    const rewardTerms = new Float64Array(spec.rewardTerms.length);
    this.bound.rewardTerms(p, a, rewardTerms);
    const reward = weightedSum(rewardTerms, spec.rewardTerms);
    const terminated = this.bound.terminated(p);
    const truncated = !terminated && this.t >= spec.horizon;
    this.done = terminated || truncated;
    const success = this.bound.success?.(p);
    return { obs, reward, rewardTerms, terminated, truncated, info: success === undefined ? {} : { success } };
  }

  /** Restore the state before the failed step, warn, and truncate the episode. */
  private unstableStep(): StepResult {
    const p = this.physics;
    // (MuJoCo's warning counters are read only where the clock cannot tell: see step().)
    const n = this.ownLogger ? ++ownLoggerUnstable : 0;
    if (n <= MUJOCO_MESSAGE_REPEATS) {
      this.logger.warn(
        `${this.spec.id}: simulation unstable at step ${this.t} (t=${this.prev.time.toFixed(3)} s): MuJoCo found NaN/Inf or huge values ` +
          '(bad qpos, qvel or qacc) and reset the data; state restored to before the step, episode truncated',
      );
    } else if (n === MUJOCO_MESSAGE_REPEATS + 1) {
      this.logger.warn(
        `${this.spec.id}: the simulation went unstable again (episode truncated); further unstable steps of this thread's envs are not printed: ` +
          'a smaller <option timestep>, damping or armature, or gentler actuator gains usually cure it (prefrl check-env <model.xml> counts them)',
      );
    }
    p.reset();
    const v = p.views;
    v.qpos.set(this.prev.qpos);
    v.qvel.set(this.prev.qvel);
    v.act.set(this.prev.act);
    p.time = this.prev.time;
    p.forward();
    this.simTime = p.time;
    this.done = true;
    return {
      obs: this.observe(),
      reward: 0,
      rewardTerms: new Float64Array(this.spec.rewardTerms.length),
      terminated: false,
      truncated: true,
      info: { unstable: true },
    };
  }

  getState(): EnvState {
    this.check();
    const v = this.physics.views;
    return {
      qpos: Float64Array.from(v.qpos),
      qvel: Float64Array.from(v.qvel),
      act: Float64Array.from(v.act),
      time: this.physics.time,
      t: this.t,
      warmstart: Float64Array.from(v.qaccWarmstart),
    };
  }

  setState(state: EnvState): Float32Array {
    this.check();
    const s = this.spec;
    if (state.qpos.length !== s.nq || state.qvel.length !== s.nv || state.act.length !== s.na) {
      throw new Error(
        `${s.id}: state sizes (qpos ${state.qpos.length}, qvel ${state.qvel.length}, act ${state.act.length}) do not match the model (${s.nq}, ${s.nv}, ${s.na})`,
      );
    }
    checkStateFinite(s.id, state);
    const p = this.physics;
    p.reset();
    const v = p.views;
    v.qpos.set(state.qpos);
    v.qvel.set(state.qvel);
    v.act.set(state.act);
    p.time = state.time;
    p.forward();
    this.simTime = p.time;
    if (state.warmstart && state.warmstart.length === s.nv) p.views.qaccWarmstart.set(state.warmstart);
    this.t = state.t;
    this.done = state.t >= s.horizon;
    return this.observe();
  }

  transitionTerms(before: EnvState, action: ArrayLike<number>, after: EnvState): Float64Array {
    this.check();
    const spec = this.spec;
    const a = new Float64Array(spec.actDim);
    clipAction(spec, after.t, action, a);
    this.setState(before);
    this.bound.beforeStep?.(this.physics);
    this.setState(after);
    const out = new Float64Array(spec.rewardTerms.length);
    this.bound.rewardTerms(this.physics, a, out);
    return out;
  }

  success(): number {
    this.check();
    return this.bound.success ? this.bound.success(this.physics) : Number.NaN;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.physics.data.delete();
    this.compiled.dispose();
  }
}

