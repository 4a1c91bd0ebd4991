/**
 * A trained offline actor (IQL, BC) as plain numbers: its saved JSON form and a snapshot that acts
 * with the clipped mean action in plain TypeScript. Apart from agents/iql.ts (which trains actors
 * with TensorFlow.js) so that running a saved policy (prefrl rollout, collect) does not load it.
 */
import { join } from 'node:path';
import { InputError, shownValue } from '../core/errors.js';
import { makeFolder } from '../core/paths.js';
import { writeJsonAtomic } from '../core/run.js';
import type { Policy } from '../envs/rollout.js';
import { base64ToF32, readSavedJson } from './types.js';

export type ActorKind = 'gaussian' | 'deterministic';

/** Saved form of an actor (a JSON file). */
export interface ActorJson {
  format: 'prefrl-offline-actor';
  version: 1;
  /** Which algorithm trained it (iql, bc). */
  algo: string;
  kind: ActorKind;
  obsDim: number;
  actDim: number;
  hidden: number[];
  actLow: number[];
  actHigh: number[];
  obsMean: number[];
  obsStd: number[];
  /** Layer by layer W [in, out] row-major then b, base64 float32. */
  weights: string[];
  logStd: number[] | null;
  meta?: Record<string, unknown>;
}

/** A trained actor as plain numbers: acts with the clipped mean action. */
export class ActorSnapshot {
  private constructor(
    readonly json: ActorJson,
    private readonly layers: { w: Float32Array; b: Float32Array; inDim: number; outDim: number }[],
  ) {}

  static fromJSON(j: ActorJson, source = 'actor'): ActorSnapshot {
    // null, a list or a number read a field of nothing: a TypeError and a stack, naming no file.
    if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new InputError(source, `expected a JSON object (a saved offline actor), found ${Array.isArray(j) ? 'a list' : shownValue(j)}`);
    if (j.format !== 'prefrl-offline-actor') throw new InputError(source, `format is ${JSON.stringify(j.format)}, expected "prefrl-offline-actor"`, 'format');
    if (j.version !== 1) throw new InputError(source, `version ${shownValue(j.version)} is not supported (expected 1)`, 'version');
    if (j.kind !== 'gaussian' && j.kind !== 'deterministic') throw new InputError(source, `expected "gaussian" or "deterministic", found ${shownValue(j.kind)}`, 'kind');
    for (const k of ['obsDim', 'actDim', 'hidden', 'weights', 'obsMean', 'obsStd', 'actLow', 'actHigh'] as const) {
      if (j[k] === undefined) throw new InputError(source, `missing field "${k}"`, k);
    }
    // A size that is not a whole number >= 1 gave messages that contradict themselves ("expected 6 values, found 6") or no error at all.
    for (const k of ['obsDim', 'actDim'] as const) {
      if (!(Number.isSafeInteger(j[k]) && j[k] >= 1)) throw new InputError(source, `expected a whole number >= 1, found ${shownValue(j[k])}`, k);
    }
    if (!Array.isArray(j.hidden) || !j.hidden.every((h) => Number.isSafeInteger(h) && h >= 1)) throw new InputError(source, `expected a list of whole numbers >= 1, found ${shownValue(j.hidden)}`, 'hidden');
    // Not strings, Buffer.from threw a TypeError; a string of a byte count that is not a multiple of 4 made a typed array of fractional length.
    if (!Array.isArray(j.weights) || !j.weights.every((w) => typeof w === 'string')) {
      throw new InputError(source, `expected a list of base64 strings (float32 values), found ${Array.isArray(j.weights) ? 'other values in the list' : shownValue(j.weights)}`, 'weights');
    }
    // A normalisation or box of another size gave NaN actions without a word (undefined entries).
    for (const [k, n] of [['obsMean', j.obsDim], ['obsStd', j.obsDim], ['actLow', j.actDim], ['actHigh', j.actDim]] as const) {
      const v = j[k] as unknown;
      const finite = Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isFinite(x));
      if (!Array.isArray(v) || v.length !== n || !finite) {
        const found = Array.isArray(v) ? `${v.length} value${v.length === 1 ? '' : 's'}${finite ? '' : ', not all finite numbers'}` : shownValue(v);
        throw new InputError(source, `expected ${n} finite number${n === 1 ? '' : 's'} (one per ${k.startsWith('obs') ? 'observation' : 'action'} value), found ${found}`, k);
      }
    }
    if (!j.obsStd.every((x) => x > 0)) throw new InputError(source, `expected positive numbers (a std plus eps), found ${shownValue(j.obsStd)}`, 'obsStd');
    const sizes = [j.obsDim, ...j.hidden, j.actDim];
    if (j.weights.length !== 2 * (sizes.length - 1)) throw new InputError(source, `lists ${j.weights.length} weight arrays, the sizes imply ${2 * (sizes.length - 1)}`, 'weights');
    const layers = [];
    for (let l = 0; l + 1 < sizes.length; l++) {
      const [w, b] = [2 * l, 2 * l + 1].map((i) => {
        if (Buffer.from(j.weights[i], 'base64').byteLength % 4 !== 0) throw new InputError(source, `weight array ${i} is not whole float32 values (base64 of a byte count that is not a multiple of 4)`, 'weights');
        return base64ToF32(j.weights[i]);
      });
      if (w.length !== sizes[l] * sizes[l + 1] || b.length !== sizes[l + 1]) throw new InputError(source, `layer ${l} has the wrong number of weights`, 'weights');
      layers.push({ w, b, inDim: sizes[l], outDim: sizes[l + 1] });
    }
    return new ActorSnapshot(j, layers);
  }

  /** Load a saved actor (a folder with actor.json, or the file). */
  static load(path: string): ActorSnapshot {
    const { file, json } = readSavedJson<ActorJson>(path, 'actor.json', 'actor');
    return ActorSnapshot.fromJSON(json, file);
  }

  save(dir: string): string {
    makeFolder(dir);
    const file = join(dir, 'actor.json');
    writeJsonAtomic(file, this.json);
    return file;
  }

  /** The clipped mean action for a raw observation (a new array). */
  act(obs: ArrayLike<number>): Float32Array {
    const j = this.json;
    // Another size would give NaN actions (or quietly use part of the observation).
    if (obs.length !== j.obsDim) throw new RangeError(`${j.algo} actor: the observation has ${obs.length} values, the actor takes ${j.obsDim}`);
    let h = new Float32Array(j.obsDim);
    for (let i = 0; i < j.obsDim; i++) h[i] = (obs[i] - j.obsMean[i]) / j.obsStd[i];
    this.layers.forEach((L, l) => {
      const out = new Float32Array(L.outDim);
      out.set(L.b);
      for (let i = 0; i < L.inDim; i++) {
        const x = h[i];
        if (x === 0) continue;
        const row = i * L.outDim;
        for (let k = 0; k < L.outDim; k++) out[k] += x * L.w[row + k];
      }
      const last = l === this.layers.length - 1;
      for (let k = 0; k < L.outDim; k++) out[k] = last ? Math.tanh(out[k]) : out[k] > 0 ? out[k] : 0;
      h = out;
    });
    for (let k = 0; k < j.actDim; k++) {
      const c = (j.actHigh[k] + j.actLow[k]) / 2;
      const half = (j.actHigh[k] - j.actLow[k]) / 2;
      h[k] = Math.min(j.actHigh[k], Math.max(j.actLow[k], c + half * h[k]));
    }
    return h;
  }

  /** A deterministic policy on raw observations. */
  policy(): Policy {
    return (obs) => this.act(obs);
  }
}
