/**
 * Helpers shared by the built-in tasks: loading their MJCF, standard observation pieces and
 * reward-term building blocks. Pure functions of the physics; no task state.
 */
import { readFileSync } from 'node:fs';
import { asset } from '../../core/paths.js';
import type { Rng } from '../../core/rng.js';
import type { Physics } from '../mujoco/physics.js';
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

/** Add uniform noise in [-scale, scale] to every qpos entry and normal noise (std `velScale`) to qvel. */
export function perturbInitialState(physics: Physics, rng: Rng, scale: number, velScale: number): void {
  const v = physics.views;
  for (let i = 0; i < v.qpos.length; i++) v.qpos[i] += rng.range(-scale, scale);
  for (let i = 0; i < v.qvel.length; i++) v.qvel[i] += velScale * rng.normal();
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
