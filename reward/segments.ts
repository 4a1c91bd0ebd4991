/**
 * Cutting trajectories into fixed-length segments and pairing them.
 *
 * B-Pref and Christiano et al. compare segments of a fixed number of steps (default 50).
 * A segment keeps the window's start state and per-step simulator state so it can be replayed
 * in the viewer and judged by any teacher.
 */
import { shortHash } from '../core/hash.js';
import type { Rng } from '../core/rng.js';
import type { Trajectory } from '../envs/trajectory.js';
import type { Pair, Segment } from './types.js';

export const DEFAULT_SEGMENT_LENGTH = 50;

function bytesOf(a: Float32Array | Float64Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Content id of a segment: model hash, start qpos/qvel and the actions. */
export function segmentId(modelHash: string, qpos0: Float64Array, qvel0: Float64Array, actions: Float32Array): string {
  const parts = [new TextEncoder().encode(modelHash), bytesOf(qpos0), bytesOf(qvel0), bytesOf(actions)];
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  return `s-${shortHash(all)}`;
}

/** The window [start, start + length) of a trajectory as a segment. */
export function sliceSegment(tr: Trajectory, start: number, length: number, source = ''): Segment {
  if (!Number.isInteger(start) || !Number.isInteger(length) || length < 1 || start < 0 || start + length > tr.length) {
    throw new RangeError(`sliceSegment: window [${start}, ${start + length}) outside trajectory of ${tr.length} steps`);
  }
  const rows = <A extends Float32Array | Float64Array>(a: A, cols: number, from: number, count: number): A =>
    a.slice(from * cols, (from + count) * cols) as A;
  const qpos = rows(tr.qpos, tr.nq, start, length + 1);
  const qvel = rows(tr.qvel, tr.nv, start, length + 1);
  const actions = rows(tr.actions, tr.actDim, start, length);
  return {
    id: segmentId(tr.modelHash, qpos.subarray(0, tr.nq), qvel.subarray(0, tr.nv), actions),
    envId: tr.envId,
    modelHash: tr.modelHash,
    obsDim: tr.obsDim,
    actDim: tr.actDim,
    nTerms: tr.nTerms,
    nq: tr.nq,
    nv: tr.nv,
    na: tr.na,
    length,
    startStep: tr.t0 + start,
    obs: rows(tr.obs, tr.obsDim, start, length + 1),
    actions,
    rewards: tr.rewards.slice(start, start + length),
    terms: rows(tr.terms, tr.nTerms, start, length),
    qpos,
    qvel,
    act: rows(tr.act, tr.na, start, length + 1),
    time: tr.time.slice(start, start + length + 1),
    success: tr.success.slice(start, start + length),
    endsTerminal: tr.terminated && start + length === tr.length,
    source,
  };
}

export interface CutOptions {
  /** Steps per segment (default 50). */
  readonly length?: number;
  /**
   * Distance between the starts of consecutive segments of one trajectory (default: the
   * segment length, i.e. non-overlapping windows).
   */
  readonly stride?: number;
  /** Label of the origin, e.g. a run folder; each segment's source gets "#<trajectory index>". */
  readonly source?: string;
}

/**
 * Cut trajectories into segments. Trajectories shorter than the segment length give none
 * (e.g. a hopper that fell early); the tail that does not fill a window is dropped.
 */
export function cutSegments(trajs: readonly Trajectory[], opts: CutOptions = {}): Segment[] {
  const length = opts.length ?? DEFAULT_SEGMENT_LENGTH;
  const stride = opts.stride ?? length;
  if (!Number.isInteger(length) || length < 1) throw new RangeError(`cutSegments: length must be a positive integer, got ${length}`);
  if (!Number.isInteger(stride) || stride < 1) throw new RangeError(`cutSegments: stride must be a positive integer, got ${stride}`);
  const out: Segment[] = [];
  trajs.forEach((tr, k) => {
    for (let s = 0; s + length <= tr.length; s += stride) out.push(sliceSegment(tr, s, length, `${opts.source ?? ''}#${k}`));
  });
  return out;
}

/**
 * A random window of `length` steps from each of `count` randomly chosen trajectories
 * (with replacement across trajectories; the trajectory is drawn in proportion to how many
 * windows it holds, so every window is equally likely).
 */
export function sampleSegments(trajs: readonly Trajectory[], count: number, length: number, rng: Rng, source = ''): Segment[] {
  const windows = trajs.map((t) => Math.max(0, t.length - length + 1));
  const total = windows.reduce((a, b) => a + b, 0);
  if (total === 0) throw new RangeError(`sampleSegments: no trajectory has ${length} steps`);
  const out: Segment[] = [];
  for (let i = 0; i < count; i++) {
    let r = rng.int(total);
    let k = 0;
    while (r >= windows[k]) r -= windows[k++];
    out.push(sliceSegment(trajs[k], r, length, `${source}#${k}`));
  }
  return out;
}

export function pairId(a: Segment, b: Segment): string {
  return `p-${shortHash(`${a.id}|${b.id}`)}`;
}

export function makePair(a: Segment, b: Segment): Pair {
  if (a.envId !== b.envId || a.modelHash !== b.modelHash) {
    throw new Error(`makePair: segments come from different envs (${a.envId}/${a.modelHash} vs ${b.envId}/${b.modelHash})`);
  }
  if (a.length !== b.length) throw new Error(`makePair: segment lengths differ (${a.length} vs ${b.length})`);
  return { id: pairId(a, b), a, b };
}

/** Sum of true rewards of a segment (its partial return). */
export function segmentReturn(s: Segment): number {
  let r = 0;
  for (let i = 0; i < s.length; i++) r += s.rewards[i];
  return r;
}
