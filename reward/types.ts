/**
 * The vocabulary of preference learning: segments, pairs, labels, teachers and reward models.
 * Every stage of the pipeline (query selection, synthetic / human / VLM teachers, the label
 * store, reward training, relabelling) speaks these types.
 */
import type { Metrics } from '../core/log.js';
import type { StepArrays } from '../envs/trajectory.js';

/**
 * A fixed-length window of H steps of one trajectory, with everything needed to replay it
 * (start state and per-step qpos/qvel), show it, and judge it (true rewards and reward terms).
 * Layouts are row-major, as in envs/trajectory.ts:
 *   obs [(H+1), obsDim], actions [H, actDim], rewards [H], terms [H, nTerms],
 *   qpos [(H+1), nq], qvel [(H+1), nv], act [(H+1), na], time [(H+1)], success [H].
 */
export interface Segment extends StepArrays {
  /** Content hash (model hash, start state, actions): the same window always gets the same id. */
  readonly id: string;
  /** Step index of s_0 within its episode. */
  readonly startStep: number;
  /** True rewards (teachers and metrics only; never an input of a reward model). */
  readonly rewards: Float64Array;
  /** s_H is a terminal state (its value is 0 for regret computations). */
  readonly endsTerminal: boolean;
  /** Where it came from (run folder / dataset and episode), for people. */
  readonly source: string;
}

/** Two segments to compare; "first" is `a`. */
export interface Pair {
  /** Stable id derived from the two segment ids (order matters). */
  readonly id: string;
  readonly a: Segment;
  readonly b: Segment;
}

interface LabelBase {
  /**
   * Unique label id (idempotent re-sends carry the same id). A teacher of your own can take
   * `labelId(teacher.id, pair.id)`, as the built-in synthetic teachers do: the same answer to the
   * same pair then has the same id, and storing it twice is a duplicate, not an error.
   */
  readonly id: string;
  /** The id of the pair this label answers (`Pair.id`). */
  readonly pairId: string;
  /**
   * Who labelled: a synthetic teacher's name, a person's name, a VLM model name. A teacher's
   * labels carry its `Teacher.id` (label stores count and filter labels by it).
   */
  readonly teacher: string;
  /** Time the teacher took to answer, when known (ms). */
  readonly responseMs?: number;
  /** Free-text comment from a person. */
  readonly comment?: string;
  /** Raw reply kept for audit (e.g. a VLM's text). */
  readonly raw?: string;
}

/** A preference: probFirst = P(first segment preferred): 1 first, 0 second, 0.5 equally good. */
export interface PreferenceLabel extends LabelBase {
  readonly kind: 'preference';
  readonly probFirst: number;
}

/** No preference given ("can't tell", below the skip threshold, VLM unsure or unparseable). */
export interface SkipLabel extends LabelBase {
  readonly kind: 'skip';
  readonly reason: string;
}

export type Label = PreferenceLabel | SkipLabel;

/** What the training loop knows before a feedback round (teachers may adapt to it). */
export interface TeacherContext {
  /** Mean true return of recent episodes (NaN when the env has no ground truth). */
  readonly meanEpisodeReturn: number;
  /** Mean length of those episodes, steps. */
  readonly episodeLength: number;
  /** Length of the segments about to be compared. */
  readonly segmentLength: number;
  /** The current segment pool the queries are drawn from. */
  readonly pool: readonly Segment[];
  /**
   * Optional: the same pool, in the same order, a chunk of segments at a time, for a teacher that
   * needs only something of each segment (HERON: its term sums) and a pool too large to hold at
   * once (every stored pair of an offline run).
   */
  readonly poolChunks?: () => Iterable<readonly Segment[]>;
}

/** Anything that answers comparisons: synthetic oracles, HERON, people in the viewer, VLMs. */
export interface Teacher {
  readonly id: string;
  /**
   * One label per pair, in the order of `pairs` (skips included): labels[i].pairId is
   * pairs[i].id. Slow teachers (a VLM) may call `onAnswered` with the number of pairs of this
   * call answered so far, for a progress bar.
   */
  label(pairs: readonly Pair[], onAnswered?: (answered: number) => void): Promise<Label[]>;
  /**
   * Optional: called before each feedback round, e.g. B-Pref's adaptive skip/equal thresholds
   * follow the recent episode return, HERON's margins follow the pool's term spreads.
   */
  observe?(ctx: TeacherContext): void;
  /**
   * Optional: release what the teacher holds once it is done: the human teacher's labelling
   * server, a VLM teacher's kept-open browser. Until then they keep the process alive; call
   * `await teacher.close?.()` when a script is done with any teacher.
   */
  close?(): Promise<void>;
  /** Optional: what the teacher counts (a VLM's requests and tokens, `vlm/*`), for the run log. */
  metrics?(): Metrics;
}

/** How preferences relate to rewards. */
export const PREFERENCE_MODELS = ['partial-return', 'regret'] as const;
export type PreferenceModelKind = (typeof PREFERENCE_MODELS)[number];

/** What a reward network sees of a transition. */
export type RewardInput = 'obs' | 'obs-action' | 'obs-next-obs';

/** A batch of n transitions (row-major). */
export interface TransitionBatch {
  readonly n: number;
  /** [n, obsDim] */
  readonly obs: Float32Array;
  /** [n, actDim] */
  readonly actions: Float32Array;
  /** [n, obsDim] */
  readonly nextObs: Float32Array;
  /** [n, nTerms] the env's reward terms of each transition, where the producer has them (PPO's rollouts do). */
  readonly terms?: Float64Array;
}

/** A learned per-step reward (an ensemble). */
export interface RewardModel {
  readonly input: RewardInput;
  /** Number of ensemble members. */
  readonly members: number;
  /** Ensemble-mean reward of each transition: [n]. */
  predict(batch: TransitionBatch): Float32Array;
  /** Every member's reward: [members, n]. */
  predictMembers(batch: TransitionBatch): Float32Array;
  dispose(): void;
}
