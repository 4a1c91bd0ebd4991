/**
 * What agents learn from and report. A reward source turns a batch of transitions into rewards:
 * the env's true reward, a learned reward model, or the ensemble mean of one.
 */
import type { TransitionBatch } from '../reward/types.js';

/** Rewards for n transitions ([n]); `trueRewards` are the env's rewards for the same transitions. */
export type RewardFn = (batch: TransitionBatch, trueRewards: Float64Array) => Float32Array;

/** The env's own reward. */
export const trueReward: RewardFn = (_batch, trueRewards) => Float32Array.from(trueRewards);

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
