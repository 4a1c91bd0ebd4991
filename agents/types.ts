/**
 * What agents learn from and report. A reward source turns a batch of transitions into rewards:
 * the env's true reward, a learned reward model, or the ensemble mean of one.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../core/errors.js';
import type { TransitionBatch } from '../reward/types.js';

/** Rewards for n transitions ([n]); `trueRewards` are the env's rewards for the same transitions. */
export type RewardFn = (batch: TransitionBatch, trueRewards: Float64Array) => Float32Array;

/** The env's own reward. */
export const trueReward: RewardFn = (_batch, trueRewards) => Float32Array.from(trueRewards);

/**
 * The env's reward terms under other weights: reward = sum over k of weights[k] x term k (the
 * spec's term order). For reward-term ablations ("is this term needed?"); the batch must carry
 * the terms, as PPO's rollouts do.
 */
export function weightedTermsReward(weights: ArrayLike<number>): RewardFn {
  const w = Float64Array.from(weights);
  return (batch) => {
    const terms = batch.terms;
    if (!terms) throw new Error('weightedTermsReward: the transitions carry no reward terms');
    if (terms.length !== batch.n * w.length) throw new Error(`weightedTermsReward: ${terms.length} term values for ${batch.n} transitions of ${w.length} terms`);
    const out = new Float32Array(batch.n);
    for (let i = 0; i < batch.n; i++) {
      let r = 0;
      for (let k = 0; k < w.length; k++) r += w[k] * terms[i * w.length + k];
      out[i] = r;
    }
    return out;
  };
}

/** Encode a Float32Array as base64 of its little-endian bytes (exact, compact, JSON-safe). */
export function f32ToBase64(a: Float32Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
}

export function base64ToF32(s: string): Float32Array {
  const b = Buffer.from(s, 'base64');
  const out = new Float32Array(b.byteLength / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

/**
 * A saved agent file: `path` itself when it ends in .json, else the file `name` in the folder
 * `path`. Returns the file and its parsed content (not checked); a file that cannot be read or
 * parsed, or that holds no JSON object, is an InputError naming it ("cannot read the <what>: ...").
 */
export function readSavedJson<T>(path: string, name: string, what: string): { file: string; json: T } {
  const file = path.endsWith('.json') ? path : join(path, name);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new InputError(file, `cannot read the ${what}: ${(e as Error).message}`);
  }
  // Every saved agent file holds one object: null (a file emptied to "null") read a field of nothing, a TypeError with a stack.
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new InputError(file, `cannot read the ${what}: expected a JSON object, found ${Array.isArray(json) ? 'a list' : JSON.stringify(json)}`);
  }
  return { file, json: json as T };
}
