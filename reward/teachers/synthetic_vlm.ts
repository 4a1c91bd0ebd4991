/**
 * synthetic-vlm: a simulated VLM teacher for benchmarks, with the limits of RL-VLM-F's real one
 * (Wang et al. 2024) and none of its cost. Like a VLM shown each segment's final frame, it
 * judges ONLY the final state: the env's task-success measure after the last step,
 * success[H-1] (the state s_H that the final frame shows). Returns, rewards and the path taken
 * are invisible to it.
 *
 * For each pair (a, b), with sA = a.success[H-1], sB = b.success[H-1]:
 *   1. no measure: sA or sB is NaN (the task defines no success measure; trajectories record
 *      NaN then) -> skip, reason "no task-success measure ...". Such an env cannot be judged
 *      from its final state by this teacher; every pair of it is skipped (and counted in
 *      `vlm/no_success`) rather than guessed from rewards, which would leak what a VLM cannot see.
 *   2. tie: |sA - sB| <= tieTolerance -> skip, "unsure: equal success" (a VLM sees no
 *      difference; RL-VLM-F's -1).
 *   3. unsure: with probability unsureRate -> skip, "unsure (simulated)".
 *   4. label: probFirst = 1 if sA > sB else 0; flipped with probability errorRate.
 * Both draws (unsure, flip) are made for every pair from `rng.fork(pair.id)`, so a label
 * depends only on the seed and the pair, not on batch order. Defaults: errorRate 0.2,
 * unsureRate 0.1, tieTolerance 0.
 */
import { withDefaults } from '../../core/defaults.js';
import type { Metrics } from '../../core/log.js';
import type { Rng } from '../../core/rng.js';
import type { Label, Pair, Segment, Teacher } from '../types.js';
import { labelHead } from './synthetic.js';

export interface SyntheticVlmConfig {
  /** Probability of a wrong label among answered, non-tied pairs, in [0, 1]. */
  readonly errorRate: number;
  /** Probability of answering "unsure" (a skip) for a non-tied pair, in [0, 1]. */
  readonly unsureRate: number;
  /** Final successes closer than this (inclusive) are a tie -> unsure (>= 0). */
  readonly tieTolerance: number;
}

export const DEFAULT_SYNTHETIC_VLM_CONFIG: SyntheticVlmConfig = { errorRate: 0.2, unsureRate: 0.1, tieTolerance: 0 };

export interface SyntheticVlmOptions extends Partial<SyntheticVlmConfig> {
  readonly rng: Rng;
  /** Teacher id recorded on labels (default "synthetic-vlm"). */
  readonly id?: string;
}

/** What the teacher decided for one pair (for tests and audits). */
export interface SyntheticVlmDecision {
  readonly kind: 'preference' | 'skip';
  /** NaN for skips. */
  readonly probFirst: number;
  readonly successA: number;
  readonly successB: number;
  readonly flipped: boolean;
  /** Why it was skipped ('' for preferences). */
  readonly reason: string;
  readonly cause: 'label' | 'no-success' | 'tie' | 'unsure';
}

/** Task success at the segment's final state (success after its last step; NaN when undefined). */
export function finalSuccess(seg: Segment): number {
  if (seg.length < 1 || seg.success.length < seg.length) return Number.NaN;
  return seg.success[seg.length - 1];
}

export function checkSyntheticVlmConfig(c: SyntheticVlmConfig): void {
  for (const k of ['errorRate', 'unsureRate'] as const) {
    if (!(c[k] >= 0 && c[k] <= 1)) throw new RangeError(`synthetic-vlm teacher: ${k} must be in [0, 1], got ${c[k]}`);
  }
  if (!(c.tieTolerance >= 0 && Number.isFinite(c.tieTolerance))) throw new RangeError(`synthetic-vlm teacher: tieTolerance must be finite and >= 0, got ${c.tieTolerance}`);
}

function fmt(x: number): string {
  return Number.isFinite(x) ? String(Number(x.toPrecision(4))) : String(x);
}

export class SyntheticVlmTeacher implements Teacher {
  readonly id: string;
  readonly config: SyntheticVlmConfig;
  private readonly rng: Rng;
  private readonly tally = { first: 0, second: 0, flipped: 0, unsure: 0, ties: 0, noSuccess: 0 };

  constructor(opts: SyntheticVlmOptions) {
    this.config = withDefaults(opts, DEFAULT_SYNTHETIC_VLM_CONFIG);
    checkSyntheticVlmConfig(this.config);
    this.rng = opts.rng;
    this.id = opts.id ?? 'synthetic-vlm';
  }

  decide(pair: Pair): SyntheticVlmDecision {
    const successA = finalSuccess(pair.a);
    const successB = finalSuccess(pair.b);
    const rng = this.rng.fork(pair.id);
    const unsure = rng.uniform() < this.config.unsureRate;
    const flipped = rng.uniform() < this.config.errorRate;
    const base = { successA, successB };
    if (Number.isNaN(successA) || Number.isNaN(successB)) {
      const env = Number.isNaN(successA) ? pair.a.envId : pair.b.envId;
      return { kind: 'skip', probFirst: Number.NaN, ...base, flipped: false, cause: 'no-success', reason: `no task-success measure at the final frame (env ${env} defines none); synthetic-vlm judges only the final state` };
    }
    if (Math.abs(successA - successB) <= this.config.tieTolerance) {
      return { kind: 'skip', probFirst: Number.NaN, ...base, flipped: false, cause: 'tie', reason: `unsure: equal success at the final frame (${fmt(successA)}, ${fmt(successB)})` };
    }
    if (unsure) {
      return { kind: 'skip', probFirst: Number.NaN, ...base, flipped: false, cause: 'unsure', reason: `unsure (simulated, rate ${this.config.unsureRate})` };
    }
    let y = successA > successB ? 1 : 0;
    if (flipped) y = 1 - y;
    return { kind: 'preference', probFirst: y, ...base, flipped, cause: 'label', reason: '' };
  }

  async label(pairs: readonly Pair[]): Promise<Label[]> {
    return pairs.map((pair) => {
      const d = this.decide(pair);
      const answer = d.kind === 'skip' ? '-1' : d.probFirst === 1 ? '0' : '1';
      const raw = JSON.stringify({ answer, successA: d.successA, successB: d.successB, flipped: d.flipped });
      if (d.cause === 'no-success') this.tally.noSuccess++;
      else if (d.cause === 'tie') this.tally.ties++;
      else if (d.cause === 'unsure') this.tally.unsure++;
      else {
        if (d.probFirst === 1) this.tally.first++;
        else this.tally.second++;
        if (d.flipped) this.tally.flipped++;
      }
      if (d.kind === 'skip') return { kind: 'skip', ...labelHead(this.id, pair.id), reason: d.reason, raw };
      return { kind: 'preference', ...labelHead(this.id, pair.id), probFirst: d.probFirst, raw };
    });
  }

  /** Outcome counts as run-log metrics (`vlm/...`, the same keys as the VLM teacher where they overlap). */
  metrics(): Metrics {
    const t = this.tally;
    return {
      'vlm/labels_first': t.first,
      'vlm/labels_second': t.second,
      'vlm/flipped': t.flipped,
      'vlm/unsure': t.unsure + t.ties,
      'vlm/ties': t.ties,
      'vlm/no_success': t.noSuccess,
    };
  }
}
