/**
 * Helpers shared by the built-in tasks: loading their MJCF, standard observation pieces and
 * reward-term building blocks. Pure functions of the physics; no task state.
 */
import { readFileSync } from 'node:fs';
import { asset } from '../../core/paths.js';
import type { Rng } from '../../core/rng.js';
import type { Physics } from '../mujoco/physics.js';
import type { BoundTask } from '../mujoco/task.js';
import type { ModelSource } from '../mujoco/runtime.js';

const xmlCache = new Map<string, string>();

/** The MJCF of a built-in model (envs/assets/<file>) as a model source. */
export function builtinModel(file: string): ModelSource {
  let xml = xmlCache.get(file);
  if (xml === undefined) {
    xml = readFileSync(asset(`envs/assets/${file}`), 'utf8');
    xmlCache.set(file, xml);
  }
  return { kind: 'xml', xml, name: `envs/assets/${file}` };
}

/** Copy qpos[from..] and all of qvel into `out` starting at `offset`; returns the next offset. */
export function writeQposQvel(physics: Physics, out: Float32Array, qposFrom: number, offset = 0): number {
  const v = physics.views;
  let o = offset;
  for (let i = qposFrom; i < v.qpos.length; i++) out[o++] = v.qpos[i];
  for (let i = 0; i < v.qvel.length; i++) out[o++] = v.qvel[i];
  return o;
}

/**
 * Add uniform noise in [-scale, scale] to every qpos entry and normal noise (std `velScale`) to
 * qvel; the quaternions of free and ball joints are then scaled back to unit length (noise on
 * each component left them off the unit sphere: an observation no later step would show).
 */
export function perturbInitialState(physics: Physics, rng: Rng, scale: number, velScale: number): void {
  const v = physics.views;
  for (let i = 0; i < v.qpos.length; i++) v.qpos[i] += rng.range(-scale, scale);
  for (let i = 0; i < v.qvel.length; i++) v.qvel[i] += velScale * rng.normal();
  normalizeQuaternions(physics);
}

/** Scale the quaternion of every free joint (qpos 3..6 of the joint) and ball joint (0..3) to unit length. */
export function normalizeQuaternions(physics: Physics): void {
  const types = physics.model.jnt_type as Int32Array;
  const q = physics.views.qpos;
  for (let j = 0; j < types.length; j++) {
    // mjtJoint: 0 free, 1 ball, 2 slide, 3 hinge.
    if (types[j] > 1) continue;
    const at = physics.jointQposAdr(j) + (types[j] === 0 ? 3 : 0);
    const n = Math.hypot(q[at], q[at + 1], q[at + 2], q[at + 3]);
    if (n > 0) for (let k = 0; k < 4; k++) q[at + k] /= n;
  }
}

/** Sum of squared action components (a control-effort term). */
export function squaredNorm(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return s;
}

/**
 * dm_control-style bounded "tolerance": 1 inside [lo, hi], falling linearly to 0 at `margin`
 * outside the bounds (0 beyond). With margin 0 it is an indicator of the interval.
 */
export function tolerance(x: number, lo: number, hi: number, margin: number): number {
  if (x >= lo && x <= hi) return 1;
  if (margin <= 0) return 0;
  const d = x < lo ? lo - x : x - hi;
  return Math.max(0, 1 - d / margin);
}

/** A point at a radius in [r0, r1) and a direction in [-a, a) rad from +x, m (the radius is drawn first). */
export function polar(rng: Rng, r0: number, r1: number, a: number): [number, number] {
  const r = rng.range(r0, r1);
  const angle = rng.range(-a, a);
  return [r * Math.cos(angle), r * Math.sin(angle)];
}

/** Distance in the x-y plane between row `i` of `a` and row `j` of `b` ([n, 3] position arrays, metres). */
export function planarDistance(a: Float64Array, i: number, b: Float64Array, j: number): number {
  const dx = a[3 * i] - b[3 * j];
  const dy = a[3 * i + 1] - b[3 * j + 1];
  return Math.sqrt(dx * dx + dy * dy);
}

/** Write cos and sin of each listed qpos entry (hinge angles) as pairs into `out` from `offset`; returns the next offset. */
export function writeCosSin(physics: Physics, out: Float32Array, qposAdrs: ArrayLike<number>, offset = 0): number {
  const q = physics.views.qpos;
  let o = offset;
  for (let k = 0; k < qposAdrs.length; k++) {
    const angle = q[qposAdrs[k]];
    out[o++] = Math.cos(angle);
    out[o++] = Math.sin(angle);
  }
  return o;
}

/** Healthy range of a planar walker's torso: centre height (m, world z) and pitch (rad, |pitch| below). */
export interface PlanarHealthyRange {
  readonly minHeight: number;
  readonly maxHeight: number;
  readonly maxPitch: number;
}

/** True while a planar robot's torso height and pitch are inside the healthy range (not fallen). */
export function planarHealthy(height: number, pitch: number, range: PlanarHealthyRange): boolean {
  return height > range.minHeight && height < range.maxHeight && Math.abs(pitch) < range.maxPitch;
}

/** What the planar walkers (hopper-hop, walker-walk) share once bound to their model. */
export interface PlanarWalker {
  /** qvel address of the root x slide: the forward velocity, m/s. */
  readonly xDof: number;
  /** qpos address of the root pitch hinge, rad. */
  readonly pitchQ: number;
  /** True while the torso is inside the healthy range (not fallen). */
  healthy(physics: Physics): boolean;
  /**
   * Everything of the bound task but its reward terms: observation qpos without root x and all
   * of qvel; initial state qpos + U(-0.01, 0.01), qvel + N(0, 0.01^2); terminated once fallen;
   * success the forward velocity scaled to [0, 1] at `successSpeed` m/s, 0 once fallen.
   */
  readonly task: Omit<BoundTask, 'rewardTerms'>;
}

/**
 * Bind a planar walker (root joints "root_x" slide and "root_pitch" hinge, a "torso" body) with
 * its healthy range and the forward speed that counts as full success, m/s.
 */
export function bindPlanarWalker(physics: Physics, range: PlanarHealthyRange, successSpeed: number): PlanarWalker {
  const xDof = physics.jointDofAdr(physics.id('joint', 'root_x'));
  const pitchQ = physics.jointQposAdr(physics.id('joint', 'root_pitch'));
  const torso = physics.id('body', 'torso');
  const healthy = (p: Physics): boolean => planarHealthy(p.views.xpos[3 * torso + 2], p.views.qpos[pitchQ], range);
  return {
    xDof,
    pitchQ,
    healthy,
    task: {
      obsDim: physics.nq - 1 + physics.nv,
      initialize(p, rng) {
        perturbInitialState(p, rng, 0.01, 0.01);
      },
      observe(p, out) {
        writeQposQvel(p, out, 1);
      },
      terminated: (p) => !healthy(p),
      success(p) {
        return healthy(p) ? Math.min(1, Math.max(0, p.views.qvel[xDof] / successSpeed)) : 0;
      },
    },
  };
}
