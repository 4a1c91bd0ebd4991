/** Hand-made IQL/BC batches for the update tests. */
import type { OfflineBatch } from '../../agents/iql.js';
import { transposeRows } from '../../core/nn.js';

const f32 = (x: number[]) => Float32Array.from(x);

/** A batch of (s, a, r, s', done) rows with obsDim = actDim = 1. */
export function batch(rows: { s: number; a: number; r: number; next: number; done: number }[]): OfflineBatch {
  const B = rows.length;
  const obs = f32(rows.map((x) => x.s));
  const sa = f32(rows.flatMap((x) => [x.s, x.a]));
  return {
    size: B,
    obs,
    obsT: transposeRows(obs, B, 1),
    sa,
    saT: transposeRows(sa, B, 2),
    actions: f32(rows.map((x) => x.a)),
    rewards: f32(rows.map((x) => x.r)),
    nextObs: f32(rows.map((x) => x.next)),
    dones: f32(rows.map((x) => x.done)),
  };
}
