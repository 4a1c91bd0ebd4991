/**
 * Physics accessors: typed, cached views of one MjModel/MjData pair and name lookups, kept
 * apart from task logic (observation, reward terms, termination live in envs/tasks/).
 *
 * Views are live windows into the WASM heap. When the heap grows (another MjData allocated in
 * this thread), every old view is detached; `Physics.views` notices that with one comparison
 * and fetches them again, so tasks always read current memory.
 */
import type { MjData, MjModel, Mujoco } from './runtime.js';

export type ObjType = 'body' | 'joint' | 'geom' | 'site' | 'actuator' | 'sensor' | 'camera';

/** Live views of the arrays tasks read each step (row-major). */
export interface Views {
  /** [nq] joint positions. */
  readonly qpos: Float64Array;
  /** [nv] joint velocities. */
  readonly qvel: Float64Array;
  /** [nv] joint accelerations (after a step). */
  readonly qacc: Float64Array;
  /** [na] actuator activations. */
  readonly act: Float64Array;
  /** [nu] controls. */
  readonly ctrl: Float64Array;
  /** [nbody, 3] body frame positions in world coordinates. */
  readonly xpos: Float64Array;
  /** [nbody, 9] body frame orientations (row-major 3x3). */
  readonly xmat: Float64Array;
  /** [nbody, 3] subtree centres of mass. */
  readonly subtreeCom: Float64Array;
  /** [nsite, 3] site positions. */
  readonly siteXpos: Float64Array;
  /** [ngeom, 3] geom positions. */
  readonly geomXpos: Float64Array;
  /** [nsensordata] sensor readings. */
  readonly sensordata: Float64Array;
  /** [nv] actuator forces in joint space. */
  readonly qfrcActuator: Float64Array;
  /** [nu] actuator forces. */
  readonly actuatorForce: Float64Array;
  /** [nv] warm-start accelerations of the constraint solver. */
  readonly qaccWarmstart: Float64Array;
  /** [1] mjData.time, or null where it could not be located on the heap (see `findTimeCell`). */
  readonly time: Float64Array | null;
}

/**
 * A one-element view of mjData.time. The bindings expose `time` only as a property, and each
 * read is a call into WASM (about 1% of a reacher env step, which reads the clock once). In
 * mjData, `time` is the double just before the `energy` array, which the bindings do expose as
 * a view; the candidate cell is used only if it reads back two different values written through
 * the property, else null (callers then use the property). Nothing is written through the view.
 */
export function findTimeCell(data: MjData): Float64Array | null {
  const d = data as unknown as { time: number; energy?: unknown };
  const e = d.energy;
  if (!(e instanceof Float64Array) || e.byteOffset < 8) return null;
  const cell = new Float64Array(e.buffer, e.byteOffset - 8, 1);
  const saved = d.time;
  try {
    for (const probe of [1.25, -3.5]) {
      d.time = probe;
      if (cell[0] !== probe) return null;
    }
    return cell;
  } finally {
    d.time = saved;
  }
}

/** The mjModel count of each object type (for the names a missing one is told from). */
const OBJ_COUNTS: Record<ObjType, string> = { body: 'nbody', joint: 'njnt', geom: 'ngeom', site: 'nsite', actuator: 'nu', sensor: 'nsensor', camera: 'ncam' };

const OBJ_KEYS: Record<ObjType, string> = {
  body: 'mjOBJ_BODY',
  joint: 'mjOBJ_JOINT',
  geom: 'mjOBJ_GEOM',
  site: 'mjOBJ_SITE',
  actuator: 'mjOBJ_ACTUATOR',
  sensor: 'mjOBJ_SENSOR',
  camera: 'mjOBJ_CAMERA',
};

export class Physics {
  readonly nq: number;
  readonly nv: number;
  readonly nu: number;
  readonly na: number;
  readonly nbody: number;
  readonly timestep: number;
  private cached: Views | null = null;

  constructor(
    readonly mj: Mujoco,
    readonly model: MjModel,
    readonly data: MjData,
  ) {
    this.nq = model.nq;
    this.nv = model.nv;
    this.nu = model.nu;
    this.na = model.na;
    this.nbody = model.nbody;
    this.timestep = model.opt.timestep;
  }

  /** Current views (re-fetched if the heap grew since they were taken). */
  get views(): Views {
    const c = this.cached;
    // A detached view has length 0 (xpos always has the world body); reading .length is much
    // cheaper than materialising .buffer, and tasks call this several times per step.
    if (c !== null && c.xpos.length !== 0) return c;
    const d = this.data as unknown as Record<string, Float64Array>;
    this.cached = {
      qpos: d.qpos,
      qvel: d.qvel,
      qacc: d.qacc,
      act: d.act,
      ctrl: d.ctrl,
      xpos: d.xpos,
      xmat: d.xmat,
      subtreeCom: d.subtree_com,
      siteXpos: d.site_xpos,
      geomXpos: d.geom_xpos,
      sensordata: d.sensordata,
      qfrcActuator: d.qfrc_actuator,
      actuatorForce: d.actuator_force,
      qaccWarmstart: d.qacc_warmstart,
      time: findTimeCell(this.data),
    };
    return this.cached;
  }

  /** MuJoCo's clock (through the heap view when there is one: no call into WASM). */
  get time(): number {
    const cell = this.views.time;
    return cell !== null ? cell[0] : this.data.time;
  }
  set time(t: number) {
    this.data.time = t;
  }

  /** Id of a named object, or throws naming the missing object. */
  id(type: ObjType, name: string): number {
    const enumVal = (this.mj.mjtObj as unknown as Record<string, { value: number }>)[OBJ_KEYS[type]].value;
    const id = this.mj.mj_name2id(this.model, enumVal, name);
    if (id < 0) throw new Error(`model has no ${type} named "${name}"${this.namesOf(type)}`);
    return id;
  }

  /** ` (its sites: "a", "b")`, or ` (it has no named site)`: what a task asking for a missing name may have meant. */
  private namesOf(type: ObjType): string {
    const count = (this.model as unknown as Record<string, number>)[OBJ_COUNTS[type]];
    if (typeof count !== 'number') return '';
    const names: string[] = [];
    for (let i = 0; i < count; i++) {
      const n = this.name(type, i);
      if (n !== '') names.push(JSON.stringify(n));
    }
    if (names.length === 0) return ` (it has no named ${type})`;
    const shown = names.length > 20 ? [...names.slice(0, 20), `... ${names.length - 20} more`] : names;
    return ` (its ${type === 'body' ? 'bodie' : type}s: ${shown.join(', ')})`;
  }

  /** Name of an object by id ('' when unnamed). */
  name(type: ObjType, id: number): string {
    const enumVal = (this.mj.mjtObj as unknown as Record<string, { value: number }>)[OBJ_KEYS[type]].value;
    return this.mj.mj_id2name(this.model, enumVal, id) ?? '';
  }

  /** Address of a joint's first qpos entry. */
  jointQposAdr(joint: number): number {
    return (this.model.jnt_qposadr as Int32Array)[joint];
  }

  /** Address of a joint's first qvel entry. */
  jointDofAdr(joint: number): number {
    return (this.model.jnt_dofadr as Int32Array)[joint];
  }

  /** Actuator control ranges as [nu, 2]; an actuator without limits has [0, 0]. */
  ctrlRange(): Float64Array {
    return Float64Array.from(this.model.actuator_ctrlrange as Float64Array);
  }

  /** Joint ranges [njnt, 2] (copy). */
  jointRange(): Float64Array {
    return Float64Array.from(this.model.jnt_range as Float64Array);
  }

  step(): void {
    this.mj.mj_step(this.model, this.data);
  }

  /**
   * One physics step that leaves position- and velocity-dependent quantities (xpos, site
   * positions, sensors) in sync with the new qpos/qvel: mj_step2 (control-dependent part and
   * integration) followed by mj_step1 (kinematics of the new state). Requires the step1 part
   * to be current beforehand (mj_forward after reset/setState, or a previous syncedStep).
   * Equivalent to mj_step for the Euler and implicit integrators; plain mj_step leaves xpos one
   * physics step behind qpos.
   */
  syncedStep(): void {
    this.mj.mj_step2(this.model, this.data);
    this.mj.mj_step1(this.model, this.data);
  }

  /**
   * `n` synced steps in n + 1 calls into WASM instead of 2n: mj_step2, then mj_step (= mj_step1
   * + mj_step2) n - 1 times, then mj_step1. The same sequence of stages as n x syncedStep().
   */
  syncedSteps(n: number): void {
    if (n <= 0) return;
    const { mj, model, data } = this;
    mj.mj_step2(model, data);
    for (let k = 1; k < n; k++) mj.mj_step(model, data);
    mj.mj_step1(model, data);
  }

  /**
   * `n` RK4 steps (mj_step), then mj_forward so that positions, velocities-dependent quantities
   * and sensors belong to the new state, as after setState() (mj_step leaves them at the state
   * before its integration: rewards read from them differed between a run and its replay).
   * mj_forward changes no state the next mj_step reads (that step starts with its own mj_forward),
   * so qpos/qvel/act evolve exactly as with n plain mj_step calls.
   */
  rk4Steps(n: number): void {
    const { mj, model, data } = this;
    for (let k = 0; k < n; k++) mj.mj_step(model, data);
    mj.mj_forward(model, data);
  }

  /**
   * How many times MuJoCo found a bad qpos, qvel or qacc (and reset the data) since the data was
   * last reset: mjData.warning's counters for mjWARN_BADQPOS, BADQVEL and BADQACC. A few calls
   * into WASM: for the one case the clock cannot tell (see MujocoEnv.step). Each element the
   * bindings hand out is a copy that must be deleted; the vector itself belongs to the MjData
   * wrapper (deleting it aborts).
   */
  badStateCount(): number {
    const kinds = this.mj.mjtWarning as unknown as Record<string, { value: number }>;
    const warnings = (this.data as unknown as { warning: { get(i: number): { number: number; delete(): void } } }).warning;
    let n = 0;
    for (const key of ['mjWARN_BADQPOS', 'mjWARN_BADQVEL', 'mjWARN_BADQACC']) {
      const stat = warnings.get(kinds[key].value);
      n += stat.number;
      stat.delete();
    }
    return n;
  }

  /** Integrator id (mjtIntegrator): 0 Euler, 1 RK4, 2 implicit, 3 implicitfast. */
  get integrator(): number {
    return this.model.opt.integrator;
  }

  forward(): void {
    this.mj.mj_forward(this.model, this.data);
  }

  kinematics(): void {
    this.mj.mj_kinematics(this.model, this.data);
  }

  reset(): void {
    this.mj.mj_resetData(this.model, this.data);
  }

  /** Height (z) of the world-frame "up" axis of a body's frame: 1 when upright, -1 upside down. */
  bodyUpZ(body: number): number {
    return this.views.xmat[body * 9 + 8];
  }
}
