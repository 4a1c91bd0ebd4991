/** Hand-made toy-reach segments for tests of the reward terms (HERON): one step, chosen term sums. */
import { TOY_SPEC } from '../../envs/toy.js';
import type { Segment } from '../../reward/types.js';

/**
 * A one-step toy-reach segment whose term sums are `terms` (goal_distance, control_effort,
 * at_goal), with the reward their weighted sum (weights -1, -0.05, +0.5).
 */
export function toyTermSegment(id: string, terms: [number, number, number]): Segment {
  return {
    id,
    envId: TOY_SPEC.id,
    modelHash: TOY_SPEC.modelHash,
    obsDim: 6,
    actDim: 2,
    nTerms: 3,
    nq: 4,
    nv: 2,
    na: 0,
    length: 1,
    startStep: 0,
    obs: new Float32Array(12),
    actions: new Float32Array(2),
    rewards: Float64Array.of(-terms[0] - 0.05 * terms[1] + 0.5 * terms[2]),
    terms: Float64Array.from(terms),
    qpos: new Float64Array(8),
    qvel: new Float64Array(4),
    act: new Float64Array(0),
    time: Float64Array.of(0, 0.1),
    success: new Float32Array(1),
    endsTerminal: false,
    source: 'hand',
  };
}
