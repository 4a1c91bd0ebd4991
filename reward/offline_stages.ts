/**
 * The offline pipeline's stages and what marks each one done in a run folder: the one rule that
 * `prefrl offline` (reward/offline.ts, to skip a done stage) and `prefrl runs` (to say how far an
 * unfinished run got) both read. Light on purpose: files and JSON only, no tensors, no SQLite.
 *
 * What each stage leaves in the run folder (see reward/offline.ts for the whole folder):
 *   pairs    artifacts/pairs.json and labels.sqlite (its pairs live in the label store)
 *   label    artifacts/labels.json (written when no pair is left unlabelled)
 *   reward   artifacts/reward.json and artifacts/reward_model/model.json
 *   relabel  artifacts/relabel.json and artifacts/relabelled_rewards.npy
 *   iql      artifacts/agents/<iql-learned|iql-true|bc>/training.json, all three
 *   eval     summary.json
 * rerunning.json (RERUN_MARKER) names a done stage that was running again when the run stopped:
 * that stage and every one after it are made anew by the next resume, so none of them counts as
 * done. stages_asked.json (ASKED_RECORD) names the stages the last `prefrl offline` in the folder
 * was asked for (--stage), written when it ran them all: a run that stopped where it was asked to,
 * not part way.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../core/errors.js';

export const OFFLINE_STAGES = ['pairs', 'label', 'reward', 'relabel', 'iql', 'eval'] as const;
export type OfflineStage = (typeof OFFLINE_STAGES)[number];
/** The three agents the pipeline trains and evaluates. */
export const OFFLINE_AGENTS = ['iql-learned', 'iql-true', 'bc'] as const;
export type OfflineAgent = (typeof OFFLINE_AGENTS)[number];

/** The run's label store (pairs, segments, labels). */
export const OFFLINE_STORE_FILE = 'labels.sqlite';

/** The stages' outputs, relative to the run folder. */
export const OFFLINE_FILES = {
  pairs: 'artifacts/pairs.json',
  query: 'artifacts/query.json',
  labels: 'artifacts/labels.json',
  rewardModel: 'artifacts/reward_model',
  reward: 'artifacts/reward.json',
  rewards: 'artifacts/relabelled_rewards.npy',
  relabel: 'artifacts/relabel.json',
  teacherCounts: 'artifacts/teacher_counts.json',
  agent: (a: OfflineAgent) => `artifacts/agents/${a}`,
  summary: 'summary.json',
};

/**
 * Written before a stage that was done runs again (--force, or the label stage reopened for the
 * human teacher's timed-out pairs) and removed once the outputs of the stages after it are gone:
 * a run killed in between (a re-run stage's new outputs next to the later stages' old ones, which
 * the next resume would take as done) is known by it. The next resume runs that stage again and
 * makes everything after it anew. Holds { stage }.
 */
export const RERUN_MARKER = 'rerunning.json';

/**
 * Written when a `prefrl offline` asked for some of the stages (--stage pairs,label) has run them
 * all, and removed when the next one starts its stages: while it is there, the run stopped where
 * it was asked to. Holds { stages } (the stages asked for, in pipeline order).
 */
export const ASKED_RECORD = 'stages_asked.json';

const P = OFFLINE_FILES;

/** Whether `stage`'s output is in the run folder `runPath` (the rerun marker aside: see offlineStageState). */
export function offlineStageDone(runPath: string, stage: OfflineStage): boolean {
  const has = (p: string) => existsSync(join(runPath, p));
  switch (stage) {
    case 'pairs':
      // Its pairs live in the label store: a store deleted since is a pairs stage to run again (the same seeded draw).
      return has(P.pairs) && has(OFFLINE_STORE_FILE);
    case 'label':
      return has(P.labels);
    case 'reward':
      return has(P.reward) && has(join(P.rewardModel, 'model.json'));
    case 'relabel':
      return has(P.relabel) && has(P.rewards);
    case 'iql':
      return OFFLINE_AGENTS.every((a) => has(join(P.agent(a), 'training.json')));
    case 'eval':
      return has(P.summary);
  }
}

/** The agents of the iql stage trained so far (their training.json written), in OFFLINE_AGENTS' order. */
export function trainedAgents(runPath: string): OfflineAgent[] {
  return OFFLINE_AGENTS.filter((a) => existsSync(join(runPath, P.agent(a), 'training.json')));
}

/**
 * One field of a small JSON record in a run folder (the rerun marker, the --stage record): the
 * file and the field's value (undefined when the file holds no object or no such field), or null
 * when there is no such file. A file that cannot be read is an InputError naming it.
 */
function readRecordField(runPath: string, name: string, key: string): { file: string; value: unknown } | null {
  const file = join(runPath, name);
  if (!existsSync(file)) return null;
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new InputError(file, `cannot read: ${(e as Error).message}`);
  }
  return { file, value: typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>)[key] : undefined };
}

/**
 * The stage the rerun marker of `runPath` names, or undefined when there is none. A marker that
 * cannot be read, or names no stage, is an InputError naming the file.
 */
export function readRerunMarker(runPath: string): OfflineStage | undefined {
  const record = readRecordField(runPath, RERUN_MARKER, 'stage');
  if (record === null) return undefined;
  const { file, value: stage } = record;
  if (!(OFFLINE_STAGES as readonly unknown[]).includes(stage)) throw new InputError(file, `unknown stage ${JSON.stringify(stage ?? null)}`, 'stage');
  return stage as OfflineStage;
}

/**
 * The stages the ASKED_RECORD of `runPath` names (the last `prefrl offline` in it was asked for
 * them and ran them all), or null when there is none. One that cannot be read, or names no
 * stages, is an InputError naming the file.
 */
export function readAskedStages(runPath: string): OfflineStage[] | null {
  const record = readRecordField(runPath, ASKED_RECORD, 'stages');
  if (record === null) return null;
  const { file, value: stages } = record;
  if (!Array.isArray(stages) || stages.length === 0 || !stages.every((s) => (OFFLINE_STAGES as readonly unknown[]).includes(s))) {
    throw new InputError(file, `expected a list of stages (${OFFLINE_STAGES.join(', ')}), got ${JSON.stringify(stages ?? null)}`, 'stages');
  }
  return OFFLINE_STAGES.filter((s) => stages.includes(s));
}

/** How far an offline run folder got (see offlineStageState). */
export interface OfflineStageState {
  /** The stages whose output is there and that the next resume skips, in pipeline order. */
  readonly done: OfflineStage[];
  /** The first stage not done: the one the next resume (all stages) starts with; null when every stage is done. */
  readonly at: OfflineStage | null;
  /** The stage the rerun marker names (it and the stages after it are made anew), or null. */
  readonly rerunning: OfflineStage | null;
}

/**
 * Which stages of the run folder `runPath` are done, as `prefrl offline --resume` judges them:
 * offlineStageDone, less the stage the rerun marker names and every stage after it. Throws the
 * marker's InputError when it cannot be read.
 */
export function offlineStageState(runPath: string): OfflineStageState {
  const rerunning = readRerunMarker(runPath) ?? null;
  const stale = rerunning === null ? OFFLINE_STAGES.length : OFFLINE_STAGES.indexOf(rerunning);
  const done = OFFLINE_STAGES.filter((s, i) => i < stale && offlineStageDone(runPath, s));
  return { done, at: OFFLINE_STAGES.find((s) => !done.includes(s)) ?? null, rerunning };
}

/**
 * The pairs the label stage labels in all: with active query selection (`query` other than
 * uniform) the configured label count, or the pairs stored when more; otherwise the pairs stored.
 */
export function labelStageTotal(cfg: { readonly query?: string; readonly labels: number }, storedPairs: number): number {
  return cfg.query !== undefined && cfg.query !== 'uniform' ? Math.max(cfg.labels, storedPairs) : storedPairs;
}

/**
 * Pairs a done label stage asks again on resume: those still open after the human teacher's
 * timeout skips (with timeouts, every open pair, for the label stage had asked them all); 0 without.
 */
export function reopenedPairs(counts: { readonly timeouts: number; readonly pending: number }): number {
  return counts.timeouts > 0 ? counts.pending : 0;
}
