/**
 * Hand-made segments for reward tests: a test env with 1-d observations and actions, one reward
 * term, nq = nv = 1 and no actuator state, every array zero unless the test sets it.
 */
import type { Segment } from '../../reward/types.js';

/** A segment of `length` steps (layouts as in reward/types.ts) with `fields` set over the zero defaults. */
export function handSegment(id: string, length: number, fields: Partial<Segment> = {}): Segment {
  const h = length;
  return {
    id,
    envId: 'test',
    modelHash: 'test',
    obsDim: 1,
    actDim: 1,
    nTerms: 1,
    nq: 1,
    nv: 1,
    na: 0,
    length: h,
    startStep: 0,
    obs: new Float32Array(h + 1),
    actions: new Float32Array(h),
    rewards: new Float64Array(h),
    terms: new Float64Array(h),
    qpos: new Float64Array(h + 1),
    qvel: new Float64Array(h + 1),
    act: new Float64Array(0),
    time: new Float64Array(h + 1),
    success: new Float32Array(h),
    endsTerminal: false,
    source: 'hand',
    ...fields,
  };
}
