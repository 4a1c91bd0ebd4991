/**
 * The offline preference pipeline (RL-VLM-F, Wang et al. 2024; "Real-World Offline
 * Reinforcement Learning from Vision Language Model Feedback", Venkataraman et al. 2024): an
 * unlabelled, sub-optimal dataset and a teacher in, a policy learned without the true reward
 * out, evaluated in the simulator next to the same learner on the true reward.
 *
 *   pairs    seeded uniform segment pairs cut from the dataset's episodes -> the run's label store
 *            (with active query selection, `query` other than uniform: the first round only)
 *   label    the teacher (a VLM, its synthetic stand-in, HERON, the oracle, or people in the
 *            viewer) labels every pair not labelled yet (batches; each batch is stored
 *            before the next is asked, so a killed run loses at most one batch, and the VLM
 *            teacher's answer cache means a re-asked batch is not paid twice). With active
 *            query selection the labels come in `queryRounds` rounds: after each round a
 *            reward-model ensemble is trained on the labels so far, `queryOversample` x the
 *            next round's size of fresh candidate pairs are drawn from the dataset, and the
 *            round's pairs are the candidates the ensemble ranks first (reward/query.ts:
 *            disagreement, entropy, k-center; Shin et al. 2023 query offline data this way).
 *            These models see all of `rewardInput`'s inputs (an input selection runs in the
 *            reward stage only); k-center needs none. The round a run is in follows from the
 *            stored pairs, so a killed run resumes.
 *   reward   a reward-model ensemble trained on the stored labels (held-out early stopping)
 *   relabel  every transition relabelled with the model's ensemble mean; Pearson correlation
 *            with the true reward per transition and per episode return
 *   iql      IQL on the relabelled data, and the two baselines with the same updates and seed:
 *            IQL on the true reward and behaviour cloning
 *   eval     deterministic episodes in the simulator for the three actors and a uniform random
 *            policy (same episode seeds); summary.json
 *
 * Run folder (core/run.ts) and what marks each stage done:
 *   config.json                       the resolved OfflineConfig (+ env config, dataset facts; the
 *                                     human teacher's --human-* settings, never its token, as `human`)
 *   labels.sqlite                     pairs, segments and labels (reward/store.ts)
 *   artifacts/pairs.json              pairs
 *   artifacts/query.json              label, with active query selection: one record per round
 *   artifacts/labels.json             label (written when no pair is left unlabelled)
 *   artifacts/teacher_counts.json     the teacher's request/answer counts over every attempt of
 *                                     the label stage (written with each batch; see TeacherCountsRecord)
 *   artifacts/reward_model/, reward.json              reward
 *   artifacts/relabelled_rewards.npy, relabel.json    relabel
 *   artifacts/agents/<iql-learned|iql-true|bc>/{actor.json,training.json}   iql
 *   summary.json                      eval
 *   rerunning.json                    a done stage running again (see RERUN_MARKER)
 *   stages_asked.json                 the stages the last command was asked for (--stage), when
 *                                     it ran them all (see ASKED_RECORD; prefrl runs reads it)
 * A stage whose output exists is skipped unless forced; a stage that runs removes the outputs of
 * the later stages that depend on it (the baselines depend only on the dataset and the agent
 * settings and are kept), and their rows in metrics.jsonl (see staleRows). A stage whose inputs
 * are missing is an error naming the stage to run.
 * A done stage run again that fails keeps its outputs from before, and so do the later stages;
 * one killed before the later outputs were removed is run again by the next resume, with every
 * stage after it.
 *
 * Ratios. `ratio` = R(IQL learned) / R(IQL true) is only meaningful when both returns are
 * positive; reacher and pusher returns are negative (costs), where that quotient reads
 * backwards. `normalizedRatio` = (R_learned - R_random) / (R_true - R_random) measures the
 * fraction of IQL-true's improvement over a uniform random policy that IQL-learned achieves
 * (D4RL's normalised score with IQL-true as the expert reference); it is the one to read for
 * "reaches x% of IQL with the true reward" on every env.
 */
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { checkEnv, datasetEnvConfig, type EpisodeWindows, episodeRanges, episodeWindows, type OfflineDataset, readDataset, summarizeDataset, transitionsOnly } from '../agents/dataset.js';
import { ActorSnapshot, evaluateActorAsync, IQL_DEFAULTS } from '../agents/iql.js';
import { type OfflineAlgo, trainOfflineAgent } from '../agents/offline_train.js';
import { evaluatePolicyAsync } from '../agents/ppo.js';
import { type BackendChoice, describeBackend, initBackend } from '../core/backend.js';
import type { Clock } from '../core/clock.js';
import { systemClock } from '../core/clock.js';
import { InputError, ServiceError, shownArg, shownValue, UsageError, refuseUnknownKeys, withResumeAdvice } from '../core/errors.js';
import type { Logger, Sink } from '../core/log.js';
import { mean, pearson, std } from '../core/math.js';
import { readNpy, writeNpy } from '../core/npy.js';
import { Progress } from '../core/progress.js';
import { Rng } from '../core/rng.js';
import { createRunDir, openRunDir, type RunDir, savedPathMissing, softwareChanges, writeFileAtomic, writeJsonAtomic } from '../core/run.js';
import { shellQuote } from '../core/paths.js';
import { absoluteEnvConfig, type EnvConfig, makeEnv } from '../envs/registry.js';
import { randomPolicy } from '../envs/rollout.js';
import type { Env, EnvSpec } from '../envs/types.js';
import { ASKED_RECORD, labelStageTotal, OFFLINE_AGENTS, OFFLINE_FILES, OFFLINE_STAGES, OFFLINE_STORE_FILE, type OfflineAgent, type OfflineStage, offlineStageDone, readRerunMarker, reopenedPairs, RERUN_MARKER } from './offline_stages.js';
import { meanOverMembers, REWARD_INPUTS, RewardNet, type RewardNetConfig } from './network.js';
import { relabelDataset } from './relabel.js';
import { DEFAULT_OVERSAMPLE, QUERY_METHODS, type QueryMethod, selectQueries } from './query.js';
import { makePair, segmentReturn, sliceSegment } from './segments.js';
import { HUMAN_TEACHER_ID, isPersonId, isTie, isTimeoutSkip, LabelStore } from './store.js';
import { allPairIds, allPairsInChunks, forEachDistinctPair, LABELLED_CHUNK, pairChunks, sampleDistinctPairs, teacherAgreement, unorderedIdKey, unorderedKey } from './store_pairs.js';
import { HumanTeacher, type HumanTeacherOptions } from './teachers/human.js';
import { makeTeacher } from './teachers/index.js';
import { decidedByText, type HeronDecidedBy, heronDecidedBy, heronStoreRecord } from './teachers/heron.js';
import { type VlmMakeOptions, vlmUsageLine } from './teachers/vlm.js';
import { baseUrlWithoutEndpoint, ENV_NAME_RULE, isEnvName, TOKEN_FIELDS, type TokenField } from './vlm/client.js';
import { MAX_STRIP_FRAMES } from './vlm/render.js';
import { describeSelection, type InputSelection, selectInputs, selectionRecord, selectionWorkers, unitName } from './select.js';
import { epochMetricsRecord, type EpochMetrics, noImprovementWarning, rewardTrainOptions, type RewardTrainSettings, type LabelledPairSource, preferenceSource, REWARD_VAL_FRACTION_MAX, TRAIN_DEFAULTS, type TrainResult, trainRewardModelFrom, trainResultSummary } from './train.js';
import type { Pair, PreferenceModelKind, RewardInput, Segment, Teacher } from './types.js';

// The stages, and what marks each one done, are in reward/offline_stages.ts (`prefrl runs` reads them too).
export { OFFLINE_AGENTS, OFFLINE_STAGES, type OfflineAgent, type OfflineStage } from './offline_stages.js';
// Pair drawing and chunked reads of a store's pairs, with teachers' agreement over them, are in
// reward/store_pairs.ts (light: the commands that only draw or count pairs load no tensors).
export { allPairs, allPairsInChunks, LABELLED_CHUNK, labelledPairsInChunks, pairChunks, sampleDistinctPairs, samplePairsFromTrajectories, teacherAgreement, teacherAgreements } from './store_pairs.js';
export const OFFLINE_TEACHERS = ['vlm', 'synthetic-vlm', 'heron', 'oracle', 'human'] as const;
export type OfflineTeacherKind = (typeof OFFLINE_TEACHERS)[number];

/** VLM teacher settings that are saved with the run (never the API key, only its variable's name). */
export interface OfflineVlmConfig {
  readonly baseUrl: string | null;
  readonly model: string | null;
  /** Name of the environment variable holding the API key. */
  readonly keyEnv: string;
  /** 'final' (RL-VLM-F) or a number k of frames tiled into a strip. */
  readonly frames: 'final' | number;
  /** Answer cache folder; null: <run>/vlm_cache. */
  readonly cacheDir: string | null;
  /** Size of each rendered frame, px; null: the teacher's default (512 x 384). */
  readonly width: number | null;
  readonly height: number | null;
  /** Camera of the frames: the model's own view (auto) or a preset. */
  readonly camera: VlmCameraName;
  /** Hide the robot so it cannot occlude the objects (RL-VLM-F's tip). */
  readonly hideRobot: boolean;
  /** Client limits; null: the client's defaults (4 requests at once, no per-minute limit, 120 s timeout, 5 retries). */
  readonly concurrency: number | null;
  readonly rpm: number | null;
  readonly timeoutS: number | null;
  readonly retries: number | null;
  /** Reply length limits of the two stages, tokens; null: the teacher's defaults (1024 for the analysis, 16 for the label). Absent in runs made before they were settable. */
  readonly analysisMaxTokens: number | null;
  readonly labelMaxTokens: number | null;
  /**
   * Sampling temperature of both stages; null: the teacher's default (0); 'server': none sent, the
   * server's own default (OpenAI's reasoning models take only that). Absent in runs made before it was settable.
   */
  readonly temperature: number | 'server' | null;
  /** The request field the reply length limits are sent in (OpenAI's reasoning models take only max_completion_tokens). Absent in runs made before it was settable. */
  readonly tokenField: TokenField;
}

export const VLM_CAMERAS = ['auto', 'side', 'front', 'top', 'iso'] as const;
export type VlmCameraName = (typeof VLM_CAMERAS)[number];

/** A config as given: dataset and teacher required, anything else (VLM settings field by field) defaulted. */
export type OfflineConfigInput = Partial<Omit<OfflineConfig, 'vlm'>> & Pick<OfflineConfig, 'dataset' | 'teacher'> & { readonly vlm?: Partial<OfflineVlmConfig> };

/**
 * Everything that fixes a pipeline run (saved as config.json; a resumed run uses it as saved);
 * the reward-model training settings (rewardEpochs ... rewardFlipRate) are RewardTrainSettings.
 */
export interface OfflineConfig extends RewardTrainSettings {
  /** HDF5 dataset (agents/dataset.ts). */
  readonly dataset: string;
  /** Env to evaluate in; null: the env recorded in the dataset. */
  readonly env: EnvConfig | null;
  readonly teacher: OfflineTeacherKind;
  /** synthetic-vlm: probability of a flipped label among answered pairs. */
  readonly errorRate: number;
  /** synthetic-vlm: probability of "unsure" (a skip). */
  readonly unsureRate: number;
  /** heron: the ranking/margins JSON file. */
  readonly heronConfig: string | null;
  readonly vlm: OfflineVlmConfig;
  /** Pairs to ask about (labels = answers, skips included). */
  readonly labels: number;
  /** Pairs handed to the teacher per call (and stored per transaction). */
  readonly labelBatch: number;
  /**
   * How the pairs are chosen (reward/query.ts): uniform (all `labels` pairs drawn at random up
   * front), or an active method (disagreement, entropy, kcenter, ...) that picks each round's
   * pairs with a reward model trained on the labels of the rounds before.
   */
  readonly query: QueryMethod;
  /** Active query selection: rounds the labels come in (the first is uniform). Ignored with uniform. */
  readonly queryRounds: number;
  /** Active query selection: candidate pairs drawn per pair asked. Ignored with uniform. */
  readonly queryOversample: number;
  readonly segmentLength: number;
  readonly preferenceModel: PreferenceModelKind;
  readonly rewardMembers: number;
  readonly rewardHidden: readonly number[];
  /**
   * What the reward model sees of a transition (reward/network.ts): obs-action (default), obs,
   * or obs-next-obs (the state reached too: a teacher that judges the frame after a segment's
   * last step judges a state the other two inputs never show the model).
   */
  readonly rewardInput: RewardInput;
  /**
   * Choose the reward model's inputs from the labels before training it (reward/select.ts:
   * forward selection by cross-validated preference likelihood); false: every input of
   * `rewardInput`.
   */
  readonly rewardSelectInputs: boolean;
  /**
   * Worker threads scoring the selection's candidate input sets at once (the result does not
   * depend on it); null: one per CPU core (reward/select.ts selectionWorkers).
   */
  readonly rewardSelectWorkers: number | null;
  /** IQL and BC gradient updates (each agent). */
  readonly updates: number;
  readonly batchSize: number;
  /** Hidden widths of the IQL and BC networks. */
  readonly hidden: readonly number[];
  /** Deterministic evaluation episodes per agent. */
  readonly evalEpisodes: number;
  /** Updates between evaluations during training (0: only the eval stage evaluates). */
  readonly evalEvery: number;
  readonly seed: number;
  readonly backend: BackendChoice;
}

export const OFFLINE_DEFAULTS: Omit<OfflineConfig, 'dataset' | 'teacher'> = {
  env: null,
  errorRate: 0.2,
  unsureRate: 0.1,
  heronConfig: null,
  vlm: { baseUrl: null, model: null, keyEnv: 'OPENAI_API_KEY', frames: 'final', cacheDir: null, width: null, height: null, camera: 'auto', hideRobot: false, concurrency: null, rpm: null, timeoutS: null, retries: null, analysisMaxTokens: null, labelMaxTokens: null, temperature: null, tokenField: 'max_tokens' },
  labels: 2000,
  labelBatch: 100,
  query: 'uniform',
  queryRounds: 4,
  queryOversample: DEFAULT_OVERSAMPLE,
  segmentLength: 50,
  preferenceModel: 'partial-return',
  rewardMembers: 3,
  rewardHidden: [256, 256],
  rewardInput: 'obs-action',
  rewardEpochs: 50,
  rewardFlipRate: 0,
  rewardPatience: TRAIN_DEFAULTS.patience,
  rewardLr: TRAIN_DEFAULTS.lr,
  rewardWeightDecay: TRAIN_DEFAULTS.weightDecay,
  rewardInputL1: TRAIN_DEFAULTS.inputL1,
  rewardInputProx: TRAIN_DEFAULTS.inputProx,
  rewardValFraction: TRAIN_DEFAULTS.valFraction,
  rewardSelectInputs: false,
  rewardSelectWorkers: null,
  updates: IQL_DEFAULTS.updates,
  batchSize: IQL_DEFAULTS.batchSize,
  hidden: IQL_DEFAULTS.hidden,
  evalEpisodes: 10,
  evalEvery: 0,
  seed: 0,
  backend: 'auto',
};

export interface OfflineRunOptions {
  /** A new run: the config (defaults filled in from OFFLINE_DEFAULTS). Ignored with `resume`. */
  readonly config?: OfflineConfigInput;
  /** Continue the run in this folder with its saved config. */
  readonly resume?: string;
  /** Stages to run, in pipeline order (default: all). */
  readonly stages?: readonly OfflineStage[];
  /** Re-run the selected stages even when their output exists (labels already stored are kept). */
  readonly force?: boolean;
  /** Where a new run folder is created (default runs). */
  readonly runsDir?: string;
  /** Run name (default offline-<env>-<teacher>-s<seed>). */
  readonly name?: string;
  /** The command this run is part of (a benchmark's), recorded in config.json as `partOf`. */
  readonly partOf?: string;
  /**
   * A resumed run's way to its VLM server, over the saved config's (not saved): the address, key
   * variable and limits do not change the answers (the cache key holds model, prompt and images).
   */
  readonly vlmConnection?: Partial<Pick<OfflineVlmConfig, 'baseUrl' | 'keyEnv' | 'concurrency' | 'rpm' | 'timeoutS' | 'retries'>>;
  /** Runtime-only VLM settings (a stub server's fetch, a renderer, the key lookup); never saved. */
  readonly vlmRuntime?: Pick<VlmMakeOptions, 'fetch' | 'renderer' | 'sleep' | 'env' | 'client'>;
  /** Runtime-only settings of the human teacher's labelling server (address, port, token, timeouts); never saved. */
  readonly human?: Omit<HumanTeacherOptions, 'id' | 'store' | 'env' | 'logger' | 'clock'>;
  /**
   * A new run taught by people: the command's --human-* flags (flag names as keys, never the
   * token), saved in config.json as `human` so that `prefrl runs` can show them in the resume
   * command and `--like` can take them (scripts/commands/human_flags.ts humanFlagsToSave).
   * Ignored with `resume` (the run's config.json is not rewritten).
   */
  readonly humanFlags?: Readonly<Record<string, unknown>>;
  /** Called with the run folder once it is made or opened (e.g. to tell a stopped run how to resume). */
  readonly onRun?: (path: string) => void;
  /**
   * What the resume commands the run prints carry after `--resume <run>` (the command's
   * --human-* flags, so people's links keep working; see humanResumeArgs); none by default.
   */
  readonly resumeArgs?: string | (() => string);
}

export interface OfflineContext {
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Progress bars: where, and whether they redraw in place; silent: none. */
  readonly progress?: { readonly sink: Sink; readonly tty: boolean; readonly silent: boolean };
}

export interface AgentEval {
  readonly meanReturn: number;
  readonly stdReturn: number;
  readonly returns: readonly number[];
  readonly meanSuccess: number;
}

export interface OfflineSummary {
  readonly env: string;
  /** The env config the agents were evaluated in (absent in summaries written before it was added). */
  readonly envConfig?: EnvConfig;
  readonly dataset: string;
  readonly datasetTransitions: number;
  readonly datasetEpisodes: number;
  readonly datasetMeanReturn: number;
  readonly teacher: string;
  readonly teacherId: string;
  readonly preferenceModel: PreferenceModelKind;
  readonly segmentLength: number;
  /** How the pairs were chosen (OfflineConfig.query), and in how many rounds (1: all up front). */
  readonly query: QueryMethod;
  readonly queryRounds: number;
  /**
   * Labels received (one per pair asked): strict preferences, ties (probFirst 0.5: a HERON tie,
   * a person's "can't choose") and skips, counted apart as labels stats counts them, so
   * labels = preferences + ties + skips. In summaries written before ties were counted apart,
   * `ties` is absent and `preferences` includes them.
   */
  readonly labels: number;
  readonly preferences: number;
  readonly ties?: number;
  readonly skips: number;
  /** Fraction of strict preferences that agree with the true partial returns of the two segments. */
  readonly teacherAgreement: number | null;
  /**
   * What the teacher counted, summed over every attempt of the label stage (a killed run's too;
   * see TeacherCountsRecord): the VLM teacher's `vlm/requests`, `vlm/cache_hits`, tokens, answers
   * ...; the synthetic VLM's answers, flips and unsures. Absent for teachers that count nothing
   * (oracle, HERON, human) and in runs labelled before it was recorded.
   */
  readonly teacherCounts?: Record<string, number>;
  /**
   * A HERON teacher's labels by the reward term that decided them (ties: no level decided; other:
   * labels without HERON's record), as `prefrl labels stats` counts them. Absent for other
   * teachers and in runs labelled before it was recorded.
   */
  readonly decidedBy?: HeronDecidedBy;
  readonly rewardValAccuracy: number;
  readonly rewardTransitionCorrelation: number;
  readonly rewardReturnCorrelation: number;
  readonly updates: number;
  readonly seed: number;
  readonly evalEpisodes: number;
  readonly returns: { readonly iqlLearned: AgentEval; readonly iqlTrue: AgentEval; readonly bc: AgentEval; readonly random: AgentEval };
  /** R(IQL learned) / R(IQL true) (see the header: only meaningful for positive returns). */
  readonly ratio: number;
  /** (R_learned - R_random) / (R_true - R_random). */
  readonly normalizedRatio: number;
  /**
   * Seconds each stage's last attempt took (the one that finished it, in this process or an
   * earlier one); stageTiming says what each covers. Summaries before the eval stage's seconds
   * were recorded here lack `eval`.
   */
  readonly stageSeconds: Record<string, number>;
  /**
   * Per stage (every stage named): 'whole' (its last attempt did all of its work),
   * 'last-attempt' (the attempt went on from work an earlier attempt saved: labels stored,
   * agents trained, by a killed attempt or by a finished one now re-run; that attempt's time is
   * not counted, so the seconds are less than the stage took in all), 'not-recorded' (done before, its time lost with a process killed just
   * after; absent from stageSeconds). Absent in summaries written before it was added.
   */
  readonly stageTiming?: Record<string, StageTiming>;
  readonly runDir: string;
}

export interface OfflineResult {
  readonly runDir: string;
  /** What happened to each selected stage. */
  readonly stages: Record<string, 'ran' | 'skipped'>;
  /** The summary once the eval stage has run (now or before); null otherwise. */
  readonly summary: OfflineSummary | null;
}

// ---------------------------------------------------------------------------------------
// Config

/**
 * Fill defaults and check ranges; throws a UsageError naming the flag. With `saved` (a resumed
 * run's config.json), a bad value that came from that file is an InputError naming the file and
 * key instead (edited by hand, damaged: not a flag anybody gave); the keys in `saved.flagKeys`
 * ("vlm.model", ...) came from this command line and are still named as flags.
 */
export function resolveOfflineConfig(c: OfflineConfigInput, saved?: { readonly file: string; readonly flagKeys: ReadonlySet<string> }): OfflineConfig {
  const given = Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)) as OfflineConfigInput;
  const r: OfflineConfig = { ...OFFLINE_DEFAULTS, ...given, vlm: { ...OFFLINE_DEFAULTS.vlm, ...(given.vlm ?? {}) } } as OfflineConfig;
  const bad = (flag: string, msg: string): never => {
    const key = configKeyOf(flag);
    if (saved && !saved.flagKeys.has(key)) throw new InputError(saved.file, msg, key);
    throw new UsageError(`--${flag}: ${msg}`);
  };
  if (!(OFFLINE_TEACHERS as readonly string[]).includes(r.teacher)) bad('teacher', `unknown teacher ${JSON.stringify(r.teacher)} (expected ${OFFLINE_TEACHERS.join(', ')})`);
  const posInt = (v: number, flag: string) => {
    if (!Number.isInteger(v) || v < 1) bad(flag, `expected a positive integer, got ${v}`);
  };
  posInt(r.labels, 'labels');
  posInt(r.labelBatch, 'label-batch');
  if (!(QUERY_METHODS as readonly string[]).includes(r.query)) bad('query', `expected one of ${QUERY_METHODS.join(', ')}, got ${JSON.stringify(r.query)}`);
  posInt(r.queryRounds, 'query-rounds');
  if (r.query !== 'uniform' && r.queryRounds > r.labels) bad('query-rounds', `${r.queryRounds} rounds cannot share ${r.labels} labels (at most one round per label)`);
  posInt(r.queryOversample, 'oversample');
  posInt(r.updates, 'updates');
  posInt(r.batchSize, 'batch-size');
  posInt(r.evalEpisodes, 'eval-episodes');
  posInt(r.rewardMembers, 'reward-members');
  posInt(r.rewardEpochs, 'reward-epochs');
  if (!(r.rewardFlipRate >= 0 && r.rewardFlipRate < 0.5)) bad('reward-flip-rate', `expected a rate in [0, 0.5), got ${r.rewardFlipRate}`);
  if (!(r.rewardValFraction >= 0 && r.rewardValFraction <= REWARD_VAL_FRACTION_MAX)) bad('reward-val-fraction', `expected a fraction from 0 to ${REWARD_VAL_FRACTION_MAX}, got ${shownValue(r.rewardValFraction)}`);
  posInt(r.rewardPatience, 'reward-patience');
  if (!(r.rewardLr > 0 && Number.isFinite(r.rewardLr))) bad('reward-lr', `expected a finite number > 0, got ${r.rewardLr}`);
  for (const [k, flag] of [
    ['rewardWeightDecay', 'reward-weight-decay'],
    ['rewardInputL1', 'reward-input-l1'],
    ['rewardInputProx', 'reward-input-prox'],
  ] as const) {
    if (!(r[k] >= 0 && Number.isFinite(r[k]))) bad(flag, `expected a finite number >= 0, got ${r[k]}`);
  }
  if (typeof r.rewardSelectInputs !== 'boolean') bad('reward-select-inputs', `expected true or false, got ${JSON.stringify(r.rewardSelectInputs)}`);
  if (r.rewardSelectWorkers !== null && !(Number.isInteger(r.rewardSelectWorkers) && r.rewardSelectWorkers >= 0)) {
    bad('reward-select-workers', `expected an integer >= 0, got ${shownValue(r.rewardSelectWorkers)}`);
  }
  if (!Number.isInteger(r.segmentLength) || r.segmentLength < 1) bad('segment-length', `expected a positive integer, got ${r.segmentLength}`);
  if (!Number.isInteger(r.evalEvery) || r.evalEvery < 0) bad('eval-every', `expected an integer >= 0, got ${r.evalEvery}`);
  for (const [k, flag] of [
    ['errorRate', 'error-rate'],
    ['unsureRate', 'unsure-rate'],
  ] as const) {
    if (!(r[k] >= 0 && r[k] <= 1)) bad(flag, `expected a probability in [0, 1], got ${r[k]}`);
  }
  if (!REWARD_INPUTS.includes(r.rewardInput)) bad('reward-input', `expected one of ${REWARD_INPUTS.join(', ')}, got ${JSON.stringify(r.rewardInput)}`);
  if (r.preferenceModel === 'regret' && r.rewardInput === 'obs') bad('reward-input', 'the regret model reads the output as an optimal advantage A(s, a), which needs the action: use obs-action or obs-next-obs');
  if (r.preferenceModel !== 'partial-return' && r.preferenceModel !== 'regret') bad('preference-model', `expected partial-return or regret, got ${JSON.stringify(r.preferenceModel)}`);
  for (const [k, flag] of [
    ['hidden', 'hidden'],
    ['rewardHidden', 'reward-hidden'],
  ] as const) {
    if (r[k].length === 0 || !r[k].every((h) => Number.isInteger(h) && h > 0)) bad(flag, `expected positive integers, got ${JSON.stringify(r[k])}`);
  }
  if (r.teacher === 'heron' && !r.heronConfig) bad('heron-config', '--teacher heron needs a ranking/margins JSON file');
  if (r.teacher !== 'heron' && r.heronConfig) bad('heron-config', 'only for --teacher heron');
  if (r.teacher === 'vlm') {
    if (!r.vlm.baseUrl) bad('vlm-base-url', '--teacher vlm needs the server\'s base URL (e.g. http://localhost:8000/v1)');
    if (!/^https?:\/\/[^/\s]+/i.test(r.vlm.baseUrl ?? '')) bad('vlm-base-url', `expected an http(s) URL such as http://localhost:8000/v1, got ${JSON.stringify(r.vlm.baseUrl)}`);
    // Not echoed: the URL holds a secret. fetch refuses such URLs, and config.json would keep it.
    if (/^https?:\/\/[^/\s]*@/i.test(r.vlm.baseUrl ?? '')) bad('vlm-base-url', 'a user name or password in the URL is not supported; put the API key in the environment variable named by --vlm-key-env');
    // The full endpoint pasted as the base URL (the client appends /chat/completions): named by the flag here, before any run folder.
    const meant = baseUrlWithoutEndpoint(r.vlm.baseUrl ?? '');
    if (meant !== null) bad('vlm-base-url', `give the API's base URL without /chat/completions (prefrl appends it), such as ${meant}`);
    if (!r.vlm.model) bad('vlm-model', '--teacher vlm needs a model name');
    if (!isEnvName(r.vlm.keyEnv)) bad('vlm-key-env', `expected ${ENV_NAME_RULE}`);
  }
  if (r.vlm.frames !== 'final' && !(Number.isInteger(r.vlm.frames) && r.vlm.frames >= 1 && r.vlm.frames <= MAX_STRIP_FRAMES)) {
    bad('vlm-frames', `expected final or a number of frames in 1..${MAX_STRIP_FRAMES}, got ${JSON.stringify(r.vlm.frames)}`);
  }
  for (const [k, flag, min, max] of [
    ['width', 'vlm-width', 16, 4096],
    ['height', 'vlm-height', 16, 4096],
    ['concurrency', 'vlm-concurrency', 1, 1000],
    ['rpm', 'vlm-rpm', 0, 1e6],
    ['retries', 'vlm-retries', 0, 100],
    ['analysisMaxTokens', 'vlm-analysis-max-tokens', 1, 1e6],
    ['labelMaxTokens', 'vlm-label-max-tokens', 1, 1e6],
  ] as const) {
    const x = r.vlm[k];
    if (x !== null && !(Number.isInteger(x) && x >= min && x <= max)) bad(flag, `expected an integer in ${min}..${max}, got ${JSON.stringify(x)}`);
  }
  if (r.vlm.timeoutS !== null && !(Number.isFinite(r.vlm.timeoutS) && r.vlm.timeoutS > 0)) bad('vlm-timeout', `expected seconds > 0, got ${JSON.stringify(r.vlm.timeoutS)}`);
  if (!(VLM_CAMERAS as readonly string[]).includes(r.vlm.camera)) bad('vlm-camera', `expected one of ${VLM_CAMERAS.join(', ')}, got ${JSON.stringify(r.vlm.camera)}`);
  const t = r.vlm.temperature;
  if (t !== null && t !== 'server' && !(typeof t === 'number' && Number.isFinite(t) && t >= 0)) bad('vlm-temperature', `expected a number >= 0 or server (none sent: the server's default), got ${JSON.stringify(t)}`);
  if (!(TOKEN_FIELDS as readonly string[]).includes(r.vlm.tokenField)) bad('vlm-token-field', `expected one of ${TOKEN_FIELDS.join(', ')}, got ${JSON.stringify(r.vlm.tokenField)}`);
  return r;
}

/** The makeTeacher spec of a config (teacher settings inside it, so the teacher id records them). */
export function teacherSpec(c: OfflineConfig): string {
  switch (c.teacher) {
    case 'oracle':
      return 'oracle';
    case 'synthetic-vlm':
      return `synthetic-vlm:errorRate=${c.errorRate},unsureRate=${c.unsureRate}`;
    case 'heron':
      return `heron:${c.heronConfig}`;
    case 'vlm':
      return vlmSpec(c.vlm);
    case 'human':
      return 'human';
  }
}

/** `vlm[:k=v,...]` with the settings that differ from the teacher's defaults (reward/teachers/vlm.ts reads it). */
export function vlmSpec(v: OfflineVlmConfig): string {
  const p: string[] = [];
  if (v.frames !== 'final') p.push(`frames=${v.frames}`);
  if (v.width !== null) p.push(`width=${v.width}`);
  if (v.height !== null) p.push(`height=${v.height}`);
  if (v.camera !== 'auto') p.push(`camera=${v.camera}`);
  if (v.hideRobot) p.push('hideRobot=1');
  if (v.concurrency !== null) p.push(`concurrency=${v.concurrency}`);
  if (v.rpm !== null) p.push(`rpm=${v.rpm}`);
  if (v.timeoutS !== null) p.push(`timeoutS=${v.timeoutS}`);
  if (v.retries !== null) p.push(`retries=${v.retries}`);
  if (v.analysisMaxTokens !== null) p.push(`analysisMaxTokens=${v.analysisMaxTokens}`);
  if (v.labelMaxTokens !== null) p.push(`labelMaxTokens=${v.labelMaxTokens}`);
  if (v.temperature !== null) p.push(`temperature=${v.temperature}`);
  if (v.tokenField !== 'max_tokens') p.push(`tokenField=${v.tokenField}`);
  return p.length === 0 ? 'vlm' : `vlm:${p.join(',')}`;
}

// ---------------------------------------------------------------------------------------
// Checks of the dataset against what the teacher needs (before any work)

/** Throws InputError naming the dataset and the missing key when the teacher cannot judge its segments. */
export function checkTeacherInputs(ds: OfflineDataset, teacher: OfflineTeacherKind): void {
  const inf = ds.infos;
  if (teacher === 'vlm' || teacher === 'human') {
    // Rendering (and the viewer) replays the simulator state of every step of a segment.
    const missing = (
      [
        [inf.qpos, 'infos/qpos'],
        [inf.qvel, 'infos/qvel'],
        [inf.nextQpos, 'infos/next_qpos'],
        [inf.nextQvel, 'infos/next_qvel'],
      ] as const
    ).filter(([a]) => a === undefined);
    if (missing.length > 0) {
      throw new InputError(ds.source, `missing: the ${teacher === 'vlm' ? 'vlm teacher renders' : 'viewer shows'} segments by replaying the simulator state (${missing.map(([, k]) => k).join(', ')} missing); collect the dataset with \`prefrl collect\``, missing[0][1]);
    }
  }
  if (teacher === 'synthetic-vlm') {
    const s = inf.success;
    let finite = 0;
    if (s) for (let i = 0; i < s.length && finite === 0; i++) if (Number.isFinite(s[i])) finite++;
    if (!s || finite === 0) {
      throw new InputError(
        ds.source,
        `${s ? 'every value is NaN' : 'missing'}: the synthetic-vlm teacher judges the task-success measure at a segment's final frame, and this dataset records none (collect it with \`prefrl collect\` on an env that defines success)`,
        'infos/success',
      );
    }
  }
  if (teacher === 'heron' && !inf.rewardTerms) {
    throw new InputError(ds.source, 'missing: the heron teacher compares segments on the env\'s named reward terms', 'infos/reward_terms');
  }
}

// ---------------------------------------------------------------------------------------
// The run

interface Ctx {
  readonly run: RunDir;
  readonly cfg: OfflineConfig;
  readonly envConfig: EnvConfig;
  readonly log: Logger;
  readonly clock: Clock;
  readonly progress: (label: string, total: number, unit: string) => Progress;
  dataset(): Promise<OfflineDataset>;
  store(): LabelStore;
  envSpec: EnvSpec;
  /**
   * The stage running now: when it started (clock ms); whether it goes on from work an earlier
   * attempt saved (labels stored, agents trained: that attempt's time is not in this one's); the
   * seconds it reports itself (the eval stage, which writes them into the summary before it ends).
   */
  stage: { t0: number; continued: boolean; seconds: number | null };
  /** `prefrl offline --resume <run>` with what OfflineRunOptions.resumeArgs adds (as it is now): the command that goes on with this run. */
  resumeCommand(): string;
}

/** The run's label store (pairs, segments, labels). */
const STORE_FILE = OFFLINE_STORE_FILE;

/** The stages' outputs (reward/offline_stages.ts). */
const P = OFFLINE_FILES;

/**
 * The metrics rows a stage writes, for the stages that compute everything anew when they run
 * (a re-run, or a run after an interrupted one): once the stage has ended well its old rows are
 * dropped, so the log holds one copy and curves do not repeat; a stage that fails drops its own
 * rows instead, and the old ones stay with the outputs they describe. (pairs and label go on from
 * what is stored: their rows stay. The iql stage's rows are replaced per agent, as each one
 * trains: see stageIql.)
 */
const STAGE_ROWS: Partial<Record<OfflineStage, (row: Record<string, unknown>) => boolean>> = {
  reward: (r) => 'reward/train_loss' in r || 'stages/reward_seconds' in r,
  relabel: (r) => 'reward/transition_correlation' in r || 'stages/relabel_seconds' in r,
  iql: (r) => 'stages/iql_seconds' in r,
  eval: (r) => 'eval/normalized_ratio' in r || 'stages/eval_seconds' in r,
};

/** The prefix of an agent's metrics keys (`iql_learned/...`). */
const agentKey = (a: OfflineAgent): string => a.replace(/-/g, '_');

/**
 * The metrics rows that describe `removed` (DOWNSTREAM outputs a stage that ran again removed):
 * the reward model's epochs, the relabel's correlations, the iql-learned agent's curve with the
 * iql stage's seconds (the stage is not done without it; the baselines' rows stay with their
 * agents), the eval's returns, each with its stage's seconds. The pairs and label rows stay: the
 * label stage goes on from the labels stored, which it keeps.
 */
function staleRows(removed: readonly string[]): (row: Record<string, unknown>) => boolean {
  const of = (stage: OfflineStage) => STAGE_ROWS[stage] ?? (() => false);
  const learned = `${agentKey('iql-learned')}/`;
  const tests: ((row: Record<string, unknown>) => boolean)[] = [];
  if (removed.includes(P.reward) || removed.includes(P.rewardModel)) tests.push(of('reward'));
  if (removed.includes(P.relabel) || removed.includes(P.rewards)) tests.push(of('relabel'));
  if (removed.includes(P.agent('iql-learned'))) tests.push((r) => Object.keys(r).some((k) => k.startsWith(learned)) || of('iql')(r));
  if (removed.includes(P.summary)) tests.push(of('eval'));
  return (r) => tests.some((t) => t(r));
}

/** Outputs removed when a stage runs again (everything downstream that depends on it). */
const DOWNSTREAM: Record<OfflineStage, readonly string[]> = {
  pairs: [P.query, P.labels, P.rewardModel, P.reward, P.rewards, P.relabel, P.agent('iql-learned'), P.summary],
  label: [P.rewardModel, P.reward, P.rewards, P.relabel, P.agent('iql-learned'), P.summary],
  reward: [P.rewards, P.relabel, P.agent('iql-learned'), P.summary],
  relabel: [P.agent('iql-learned'), P.summary],
  iql: [P.summary],
  eval: [],
};

/** A JSON file of the run that holds one object (config.json, a stage's record); else an InputError naming it. */
function readJson<T>(file: string): T {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new InputError(file, `cannot read: ${(e as Error).message}`);
  }
  // null (a file emptied to "null") read a field of nothing: a TypeError with a stack.
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new InputError(file, `cannot read: expected a JSON object, found ${Array.isArray(json) ? 'a list' : JSON.stringify(json)}`);
  return json as T;
}

/**
 * readJson of a stage's record, with the fields the summary copies checked: each must be a number
 * (or null, for those that may be "not measured"); a record edited by hand or damaged is an
 * InputError naming the file and field, not a summary holding text where a number belongs.
 */
function readStageRecord<T>(file: string, stage: OfflineStage, numbers: readonly string[], nullable: readonly string[] = [], optional: readonly string[] = []): T {
  const rec = readJson<Record<string, unknown>>(file);
  for (const key of [...numbers, ...nullable, ...optional]) {
    const v = rec[key];
    if (v === undefined && optional.includes(key)) continue;
    if (v === null && nullable.includes(key)) continue;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new InputError(file, `${v === undefined ? 'missing' : `holds ${JSON.stringify(v)}`}: expected a number${nullable.includes(key) ? ' or null' : ''}; the ${stage} stage writes it: run it again with --resume <run> --stage ${stage} --force (the stages after it follow)`, key);
    }
  }
  return rec as T;
}

/** The config.json key a flag of resolveOfflineConfig's checks sets ("label-batch" -> "labelBatch", "vlm-model" -> "vlm.model"). */
function configKeyOf(flag: string): string {
  const special: Record<string, string> = { oversample: 'queryOversample', 'vlm-timeout': 'vlm.timeoutS' };
  if (special[flag]) return special[flag];
  const camel = (x: string) => x.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  return flag.startsWith('vlm-') ? `vlm.${camel(flag.slice(4))}` : camel(flag);
}

/** Create or open the run folder; returns the config the run uses. */
/** `cfg` with its file paths (dataset, HERON config, VLM cache folder, a bring-your-own env's files) made absolute, as config.json keeps them. */
function savedPaths(cfg: OfflineConfig): OfflineConfig {
  return {
    ...cfg,
    dataset: resolve(cfg.dataset),
    heronConfig: cfg.heronConfig === null ? null : resolve(cfg.heronConfig),
    env: cfg.env === null ? null : absoluteEnvConfig(cfg.env),
    vlm: { ...cfg.vlm, cacheDir: cfg.vlm.cacheDir === null ? null : resolve(cfg.vlm.cacheDir) },
  };
}

/** Every option runOffline reads (the type makes it list each key of OfflineRunOptions, and no other). */
const RUN_OFFLINE_OPTIONS: Readonly<Record<keyof OfflineRunOptions, true>> = {
  config: true, resume: true, stages: true, force: true, runsDir: true, name: true, partOf: true, vlmConnection: true, vlmRuntime: true, human: true,
  humanFlags: true, onRun: true, resumeArgs: true,
};
const OFFLINE_CONTEXT_KEYS: Readonly<Record<keyof OfflineContext, true>> = { logger: true, clock: true, progress: true };

/**
 * A script's arguments, before anything is read or made: a misspelt option or config field was
 * dropped without a word ({ runDir } made the run under ./runs, a config's { label: 30 } asked the
 * default 2000 labels), and a context without its logger failed as "reading 'info' of undefined".
 */
function checkRunOfflineArgs(o: OfflineRunOptions, context: OfflineContext): void {
  if (typeof o !== 'object' || o === null) throw new TypeError(`runOffline: options must be an object ({ config } for a new run, { resume } to go on), got ${shownArg(o)}`);
  refuseUnknownKeys('runOffline', o, RUN_OFFLINE_OPTIONS);
  if (typeof context !== 'object' || context === null) throw new TypeError(`runOffline: context must be an object { logger } (silentLogger for none), got ${shownArg(context)}`);
  refuseUnknownKeys('runOffline: context', context, OFFLINE_CONTEXT_KEYS);
  if (typeof (context.logger as Partial<Logger> | undefined)?.warn !== 'function') throw new TypeError(`runOffline: context.logger must be a Logger (silentLogger for none), got ${shownArg(context.logger)}`);
  if (!o.resume && typeof o.config === 'object' && o.config !== null) {
    refuseUnknownKeys('runOffline: config', o.config, ['dataset', 'teacher', ...Object.keys(OFFLINE_DEFAULTS)], 'field');
  }
}

function openRun(o: OfflineRunOptions): { run: RunDir | null; cfg: OfflineConfig } {
  if (o.resume) {
    const file = join(o.resume, 'config.json');
    if (!existsSync(file)) throw new UsageError(`--resume: ${o.resume} is not a run folder (no config.json)`);
    const saved = readJson<{ command?: string; config?: OfflineConfig }>(file);
    if (saved.command !== 'offline' || !saved.config) throw new UsageError(`--resume: ${o.resume} is not a prefrl offline run`);
    const conn = Object.fromEntries(Object.entries(o.vlmConnection ?? {}).filter(([, v]) => v !== undefined));
    if (Object.keys(conn).length > 0 && saved.config.teacher !== 'vlm') throw new UsageError(`--vlm-*: only for --teacher vlm (the run's teacher is ${saved.config.teacher})`);
    const cfg = resolveOfflineConfig({ ...saved.config, vlm: { ...saved.config.vlm, ...conn } }, { file, flagKeys: new Set(Object.keys(conn).map((k) => `vlm.${k}`)) });
    if (!existsSync(cfg.dataset)) throw savedPathMissing('dataset', cfg.dataset, file);
    if (cfg.heronConfig && !existsSync(cfg.heronConfig)) throw savedPathMissing('HERON config', cfg.heronConfig, file);
    return { run: openRunDir(o.resume), cfg };
  }
  if (!o.config) throw new UsageError('prefrl offline: a config (--dataset, --teacher) or --resume is needed');
  const cfg = resolveOfflineConfig(o.config);
  if (!existsSync(cfg.dataset)) throw new UsageError(`--dataset: ${JSON.stringify(cfg.dataset)} not found`);
  if (cfg.heronConfig && !existsSync(cfg.heronConfig)) throw new UsageError(`--heron-config: ${JSON.stringify(cfg.heronConfig)} not found`);
  return { run: null, cfg };
}

/** The --vlm-* flags a resumed run may be given anew (how it reaches its server); the others are fixed for a run. */
const VLM_RESUME_FLAGS: readonly string[] = ['--vlm-base-url', '--vlm-key-env', '--vlm-concurrency', '--vlm-rpm', '--vlm-timeout', '--vlm-retries'];

/** The stages that read the dataset's transitions only (agents/dataset.ts transitionsOnly). */
const LATE_STAGES: readonly OfflineStage[] = ['relabel', 'iql', 'eval'];

/**
 * Run (or resume) the pipeline; see the header. A new run takes `o.config` (only `dataset` and
 * `teacher` are required; OFFLINE_DEFAULTS fill the rest) and makes its folder under
 * `o.runsDir` (default runs/, relative to the working directory); `o.resume` names an existing
 * run folder instead. The config is checked as `prefrl offline` checks its flags: a bad value is
 * a UsageError naming the flag (`--labels: ...`). `context.logger` is required (silentLogger for
 * none). The result's summary holds the three agents' evaluations once the eval stage has run.
 */
export async function runOffline(o: OfflineRunOptions, context: OfflineContext): Promise<OfflineResult> {
  checkRunOfflineArgs(o, context);
  const clock = context.clock ?? systemClock;
  const log = context.logger;
  const stages = o.stages ?? OFFLINE_STAGES;
  for (const s of stages) if (!(OFFLINE_STAGES as readonly string[]).includes(s)) throw new UsageError(`--stage: unknown stage ${JSON.stringify(s)} (expected all or ${OFFLINE_STAGES.join(', ')})`);
  const opened = openRun(o);
  const cfg = opened.cfg;
  if (!opened.run && stages.length > 0 && stages[0] !== 'pairs') {
    throw new UsageError(`--stage: a new run starts with the pairs stage; run ${stages.join(',')} in an existing run folder with --resume <run>`);
  }
  if (!existsSync(cfg.dataset)) throw new UsageError(`--dataset: ${JSON.stringify(cfg.dataset)} not found`);

  // The dataset, its env and the teacher's needs are checked before a run folder is made. (Let
  // go, and read again when needed, around stages that do not need all of it: see the stage loop.)
  // Only the pairs and label stages read the simulator state, reward terms and the like (infos/).
  const needsInfos = stages.includes('pairs') || stages.includes('label');
  let ds: OfflineDataset | null = await readDataset(cfg.dataset, { transitionsOnly: !needsInfos });
  const size = ds.size;
  const fingerprint = datasetFingerprint(ds);
  for (const note of ds.notes) log.warn(`${cfg.dataset}: ${note}`);
  let envConfig: EnvConfig;
  if (cfg.env) envConfig = absoluteEnvConfig(cfg.env);
  else {
    const recorded = datasetEnvConfig(ds.meta, cfg.dataset);
    if (!recorded) throw new UsageError(`--env: ${cfg.dataset} does not say which env it comes from; pass --env`);
    envConfig = recorded;
  }
  const probe = await makeEnv(envConfig, { logger: log });
  const envSpec = probe.spec;
  probe.dispose();
  checkEnv(ds, envSpec);
  if (envSpec.actDim === 0) throw new UsageError(`--dataset: ${envSpec.id} has no actuators, so IQL and BC have no action to learn; add an <actuator> to the model`);
  // (What the teacher needs matters to the stages that ask it.)
  if (needsInfos) checkTeacherInputs(ds, cfg.teacher);
  // Before the run folder is made: a run that cannot cut a segment would be left unfinished.
  if (stages.includes('pairs')) checkSegmentLength(ds, cfg);
  const backend = await initBackend(cfg.backend);
  log.info(describeBackend(backend));
  if (opened.run) {
    const changed = softwareChanges(opened.run.path, backend.kind);
    if (changed.length > 0) log.warn(`--resume: ${opened.run.path} was made with other software (${changed.join(', ')}); the stages run now may not reproduce the ones run before`);
  }

  const run =
    opened.run ??
    createRunDir({
      root: o.runsDir ?? 'runs',
      name: o.name ?? `offline-${envSpec.id.replace(/^custom:/, '')}-${cfg.teacher}-s${cfg.seed}`,
      config: {
        command: 'offline',
        // Paths as absolute ones: a resume (or --like) from another folder reads the same files.
        config: savedPaths(cfg),
        envConfig,
        dataset: { transitions: ds.size, bytes: statSync(cfg.dataset).size, fingerprint },
        partOf: o.partOf,
        // The token never: a caller that slipped it in does not get it written.
        ...(o.humanFlags && cfg.teacher === 'human' ? { human: { ...o.humanFlags, humanToken: undefined } } : {}),
      },
      clock,
      tensorBackend: backend.kind,
    });
  o.onRun?.(run.path);
  // Said at once, as train says its folder: a run taught by people is served from its label store in there.
  if (!opened.run) log.info(`offline pipeline on ${envSpec.id}, teacher ${cfg.teacher}, seed ${cfg.seed} -> ${run.path}`);
  if (opened.run) {
    const saved = readJson<{ dataset?: { transitions?: number; fingerprint?: string } }>(join(run.path, 'config.json'));
    if (saved.dataset?.transitions !== undefined && saved.dataset.transitions !== ds.size) {
      throw new InputError(cfg.dataset, `has ${ds.size} transitions; the run ${run.path} was made from ${saved.dataset.transitions}`);
    }
    // Runs made before the fingerprint was recorded have none to compare.
    const now = saved.dataset?.fingerprint !== undefined ? fingerprint : undefined;
    if (now !== undefined && now !== saved.dataset?.fingerprint) {
      throw new InputError(
        cfg.dataset,
        `is not the dataset the run ${run.path} was made from (the same ${ds.size} transitions in number, other contents: fingerprint ${now}, the run's ${saved.dataset?.fingerprint}); its pairs and labels were cut from that one: put it back, or start a new run on this one`,
      );
    }
  }
  let store: LabelStore | null = null;
  const ctx: Ctx = {
    run,
    resumeCommand: () => `prefrl offline --resume ${shellQuote(run.path)}${typeof o.resumeArgs === 'function' ? o.resumeArgs() : (o.resumeArgs ?? '')}`,
    cfg,
    envConfig,
    envSpec,
    log,
    clock,
    progress: (label, total, unit) =>
      new Progress(label, total, { unit, clock, sink: context.progress?.sink, tty: context.progress?.tty ?? false, silent: context.progress?.silent ?? context.progress === undefined }),
    dataset: async () => {
      if (ds) return ds;
      // Let go before a stage that did not need it: read again, the same data as the run checked.
      const again = await readDataset(cfg.dataset, { transitionsOnly: true });
      if (again.size !== size || datasetFingerprint(again) !== fingerprint) {
        throw new InputError(cfg.dataset, `changed while this run was going on (fingerprint ${datasetFingerprint(again)}, ${again.size} transitions; the run read ${fingerprint}, ${size} transitions); put the dataset back and resume with prefrl offline --resume ${shellQuote(run.path)}`);
      }
      ds = again;
      return ds;
    },
    store: () => {
      store ??= LabelStore.open(join(run.path, STORE_FILE), { clock, envId: envSpec.id, modelHash: envSpec.modelHash, dataset: resolve(cfg.dataset) });
      return store;
    },
    stage: { t0: clock.now(), continued: false, seconds: null },
  };
  const status: Record<string, 'ran' | 'skipped'> = {};
  const markerFile = join(run.path, RERUN_MARKER);
  // (RERUN_MARKER, reward/offline_stages.ts: a marker that cannot be read, or names no stage, is an InputError naming it.)
  const interrupted = readRerunMarker(run.path);
  if (interrupted !== undefined) {
    const selected = stages.includes(interrupted);
    log.warn(
      `stage ${interrupted} was running again when this run stopped, before the outputs of the stages after it were made anew: ${selected ? `it runs again now, and the stages after it with it` : `the outputs after it may be stale; run it (--stage ${interrupted}, or all stages) to make them anew`}`,
    );
  }
  // Stages skipped in a row are said in one line (a finished run resumed said six), when the next stage runs or at the end.
  let skipped: OfflineStage[] = [];
  const saySkipped = (): void => {
    if (skipped.length === 1) log.info(`stage ${skipped[0]}: done before, skipped (--force re-runs it)`);
    else if (skipped.length > 1) log.info(`stages ${skipped.join(', ')}: done before, skipped (--force re-runs them)`);
    skipped = [];
  };
  // Whether the last command in this folder ran all it was asked for is known again when this one has.
  const askedFile = join(run.path, ASKED_RECORD);
  // Put back if this command is refused before any stage changes the folder (--stage iql before
  // relabel has run): the record still says what the folder holds.
  const askedBefore = existsSync(askedFile) ? readFileSync(askedFile) : null;
  rmSync(askedFile, { force: true });
  let anyStageRan = false;
  try {
    for (const stage of OFFLINE_STAGES) {
      if (!stages.includes(stage)) continue;
      const pending = stage === interrupted;
      const done = stageDone(ctx, stage) && !pending;
      // Pairs the human teacher timed out on are not answered: the label stage asks them again.
      const open = done && !o.force && stage === 'label' ? timedOutPairs(ctx) : 0;
      const reopen = open > 0;
      if (done && !o.force && !reopen) {
        skipped.push(stage);
        status[stage] = 'skipped';
        continue;
      }
      saySkipped();
      if (reopen) log.info(`stage label: done before, but ${open} pairs got no answer before the human teacher's timeout; asking them again`);
      // The reward stage reads only the label store, and the stages after it only the dataset's
      // transitions (not the simulator state, reward terms and the like under infos/): what they
      // do not need is let go before they run (some 260 and 180 MB at 1M transitions).
      if (stage === 'reward') ds = null;
      else if (ds && LATE_STAGES.includes(stage)) ds = transitionsOnly(ds);
      // A stage that reads the label store opens it first: a damaged store stops the stage before
      // it logs anything.
      if ((stage === 'pairs' || stage === 'label' || stage === 'reward') && existsSync(join(run.path, STORE_FILE))) ctx.store();
      const rows = STAGE_ROWS[stage];
      const t0 = clock.now();
      ctx.stage = { t0, continued: false, seconds: null };
      const runStage = () => STAGES[stage](ctx, o);
      // A stage run again over outputs of its own: marked until the later stages' outputs are gone.
      const rerun = done || pending;
      if (rerun) writeJsonAtomic(markerFile, { stage });
      let changed: boolean;
      try {
        if (rows) {
          // The rows from before stay until the stage has ended well (its outputs from before stay too when it fails).
          const r = await run.metrics.replaceRows(rows, runStage, (e) => log.warn(`stage ${stage}: could not drop the failed attempt's metrics rows: ${e.message}`));
          changed = r.result;
          if (r.dropped > 0) log.info(`stage ${stage}: replaced its ${r.dropped} metrics rows from before with the new ones`);
        } else changed = await runStage();
      } catch (e) {
        // A stage that failed keeps its outputs from before, and the later ones stay theirs
        // (unless it was re-running after a kill: the marker stays for the next resume).
        if (rerun && !pending) rmSync(markerFile, { force: true });
        // An outside service failed (a VLM server): a new run would start over with an empty
        // answer cache, so say how to go on in this one.
        if (e instanceof ServiceError) {
          // A hint to change a setting --resume keeps (the model, a token limit, the image size)
          // is followed by a new run like this one; one the resume may change (the server), by the resume.
          const named = [...new Set(e.message.match(/--vlm-[a-z-]+/g) ?? [])];
          const fixed = named.filter((flag) => !VLM_RESUME_FLAGS.includes(flag));
          const resume = `the run folder keeps the stored labels and answers: resume with ${ctx.resumeCommand()}`;
          const like = `${fixed.join(', ')} ${fixed.length === 1 ? 'is' : 'are'} fixed for a run (--resume keeps its settings): to change ${fixed.length === 1 ? 'it' : 'them'}, start a new run like this one: prefrl offline --like ${shellQuote(run.path)} ${fixed.join(' <value> ')} <value>`;
          e.message += fixed.length === 0 ? `; ${resume}` : fixed.length < named.length ? `; ${resume} (with the flags given anew); ${like}` : `; ${like}`;
        }
        // A full disk or a lost permission: the stages done and the labels stored are kept.
        // (A benchmark's cell goes on when the benchmark's command is run again.)
        throw withResumeAdvice(e, () => o.partOf ?? ctx.resumeCommand());
      }
      // After a kill mid re-run, what the stopped attempt changed is unknown: the later outputs go.
      if (changed || pending) {
        const gone = DOWNSTREAM[stage].filter((p) => existsSync(join(run.path, p)));
        for (const p of DOWNSTREAM[stage]) rmSync(join(run.path, p), { recursive: true, force: true });
        // The metrics rows of what was removed go with it (before the marker: a run killed in
        // between is run again from this stage), so no reader shows numbers of outputs that are gone.
        const stale = staleRows(DOWNSTREAM[stage]);
        let droppedRows = 0;
        try {
          droppedRows = run.metrics.rewrite((r) => !stale(r));
        } catch (e) {
          log.warn(`stage ${stage}: could not drop the metrics rows of the outputs it removed (${(e as Error).message}); they stay in metrics.jsonl until those stages run again`);
        }
        // Said when this invocation does not make them anew (a stage run alone with --force).
        const later = OFFLINE_STAGES.slice(OFFLINE_STAGES.indexOf(stage) + 1).filter((s) => !stages.includes(s));
        if ((gone.length > 0 || droppedRows > 0) && later.length > 0) {
          const what = [gone.join(', '), droppedRows > 0 ? `their ${droppedRows} metrics rows` : ''].filter((x) => x !== '').join('; ');
          log.info(`stage ${stage}: removed what later stages had made from its old output (${what}); ${later.join(', ')} make them anew: ${ctx.resumeCommand()}`);
        }
      }
      if (rerun) rmSync(markerFile, { force: true });
      // This attempt's seconds, marked when it went on from work an earlier attempt saved (see OfflineSummary.stageTiming).
      run.metrics.log(0, { [`stages/${stage}_seconds`]: ctx.stage.seconds ?? (clock.now() - t0) / 1000, ...(ctx.stage.continued ? { [`stages/${stage}_continued`]: 1 } : {}) });
      status[stage] = 'ran';
      anyStageRan = true;
    }
    saySkipped();
    // Some of the stages asked for, and all of them run: `prefrl runs` says the run stopped where it was asked to.
    if (OFFLINE_STAGES.some((s) => !stages.includes(s))) writeJsonAtomic(askedFile, { stages: OFFLINE_STAGES.filter((s) => stages.includes(s)) });
  } catch (e) {
    // A refusal (a UsageError: a stage's inputs are missing) before any stage ran changed nothing.
    if (e instanceof UsageError && !anyStageRan && askedBefore !== null && !existsSync(askedFile)) {
      try {
        writeFileAtomic(askedFile, askedBefore);
      } catch {
        // the refusal is what the user needs to read
      }
    }
    throw e;
  } finally {
    (store as LabelStore | null)?.close();
    run.close();
  }
  const summaryFile = join(run.path, P.summary);
  return { runDir: run.path, stages: status, summary: existsSync(summaryFile) ? readJson<OfflineSummary>(summaryFile) : null };
}

/**
 * A short fingerprint of a dataset's contents (SHA-256 of its observations, actions, rewards,
 * terminals and timeouts; 16 hex digits), recorded in a new run's config.json so that --resume
 * notices a dataset file replaced by other data of the same size.
 */
export function datasetFingerprint(ds: OfflineDataset): string {
  const h = createHash('sha256');
  for (const a of [ds.observations, ds.actions, ds.rewards, ds.terminals, ds.timeouts]) h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return h.digest('hex').slice(0, 16);
}

/** Whether a stage's output is in the run folder (the one rule, reward/offline_stages.ts, that `prefrl runs` reads too). */
function stageDone(c: Ctx, stage: OfflineStage): boolean {
  return offlineStageDone(c.run.path, stage);
}

/** Pairs still open after a timeout skip (with timeouts, every open pair: the label stage had asked them all). */
function timedOutPairs(c: Ctx): number {
  return reopenedPairs(c.store().counts());
}

function need(c: Ctx, stage: OfflineStage, before: OfflineStage): void {
  const store = join(c.run.path, STORE_FILE);
  if ((before === 'pairs' || before === 'label') && existsSync(join(c.run.path, P.pairs)) && !existsSync(store)) {
    const redo = before === 'pairs' ? `pairs,${stage}` : `pairs,label,${stage}`;
    throw new UsageError(`--stage ${stage}: the pairs stage's label store ${store} is missing; run --stage ${redo} to draw the same pairs into a new one`);
  }
  if (!stageDone(c, before)) throw new UsageError(`--stage ${stage}: the ${before} stage has not run in ${c.run.path}; run --stage ${before} (or --stage all) first`);
}

type StageFn = (c: Ctx, o: OfflineRunOptions) => Promise<boolean>;

/** Every stage returns whether its output changed (so later outputs must be redone). */
const STAGES: Record<OfflineStage, StageFn> = {
  pairs: stagePairs,
  label: stageLabel,
  reward: stageReward,
  relabel: stageRelabel,
  iql: stageIql,
  eval: stageEval,
};

/** The run's segments of the dataset (with the simulator state the vlm and human teachers need). */
function datasetSegments(c: Ctx, ds: OfflineDataset): DatasetSegments {
  return new DatasetSegments(ds, c.cfg.segmentLength, c.cfg.dataset, { state: c.cfg.teacher === 'vlm' || c.cfg.teacher === 'human' ? 'required' : 'optional' });
}

/**
 * Segments of `length` steps cut from a dataset's episodes: what sampleSegments cuts from
 * datasetToTrajectories(ds) (the same draws of the rng, the same segments, sources
 * `<source>#<episode>`), without copying the dataset into trajectories first: each segment copies
 * its own rows only (agents/dataset.ts episodeWindows).
 */
export class DatasetSegments {
  private readonly w: EpisodeWindows;
  /** Windows (segment starts) of episodes 0..k, summed: a window's episode is found by bisection. */
  private readonly upTo: Float64Array;
  /** Windows of all episodes. */
  readonly total: number;

  constructor(
    ds: OfflineDataset,
    readonly length: number,
    readonly source: string,
    opts: { state?: 'required' | 'optional' } = {},
  ) {
    this.w = episodeWindows(ds, opts);
    this.upTo = new Float64Array(this.w.episodes.length);
    let sum = 0;
    this.w.episodes.forEach((e, k) => {
      sum += Math.max(0, e.length - length + 1);
      this.upTo[k] = sum;
    });
    this.total = sum;
  }

  /** Number of episodes. */
  get episodes(): number {
    return this.w.episodes.length;
  }

  /** The segment of episode k that starts at step `start` of it. */
  segment(k: number, start: number): Segment {
    return sliceSegment(this.w.window(k, start, this.length), 0, this.length, `${this.source}#${k}`);
  }

  /**
   * One uniformly random window, drawn as sampleSegments draws one (rng.int over all windows;
   * the episode whose windows hold that number): [episode, start].
   */
  draw(rng: Rng): [number, number] {
    if (this.total === 0) throw new RangeError(`sampleSegments: no trajectory has ${this.length} steps`);
    const r = rng.int(this.total);
    // The first episode whose running total exceeds r (episodes without a window never do first).
    let lo = 0;
    let hi = this.upTo.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.upTo[mid] > r) hi = mid;
      else lo = mid + 1;
    }
    return [lo, r - (lo > 0 ? this.upTo[lo - 1] : 0)];
  }

  /** `count` random segments: sampleSegments(datasetToTrajectories(ds), count, length, rng, source). */
  sample(count: number, rng: Rng): Segment[] {
    const out: Segment[] = [];
    for (let i = 0; i < count; i++) out.push(this.segment(...this.draw(rng)));
    return out;
  }
}

/**
 * samplePairsFromTrajectories(datasetToTrajectories(ds), count, ...) handed out in chunks of
 * `chunk` pairs, in order, so that no more than one chunk's segments are held at a time (100,000
 * pairs of 20-step segments are some 600 MB as objects). The pairs are drawn first, keeping only
 * where each segment starts; too few distinct pairs is an error before any chunk is handed out.
 * Segments with one id (the same start state and actions, e.g. in a dataset that repeats
 * episodes) are handed out as cut at the last place the draws met them: what the store keeps of
 * one putPairs call of all the pairs (its map of segments keeps each id's last one), so stores
 * filled chunk by chunk and in one call hold the same rows, `source` and `startStep` included.
 * Returns the number of pairs and the first and last pair ids.
 */
export function streamDatasetPairs(
  segs: DatasetSegments,
  count: number,
  rng: Rng,
  chunk: number,
  onChunk: (pairs: Pair[]) => void,
): { pairs: number; first: string; last: string } {
  // Episode and start of both segments of each pair kept, in the order drawn.
  const at = new Float64Array(4 * count);
  let last: [number, number, number, number] = [0, 0, 0, 0];
  let ids: string[] = [];
  let n = 0;
  // Segment id -> where in `at` its last occurrence starts (episode, start).
  const lastOf = new Map<string, number>();
  forEachDistinctPair(
    () => {
      const a = segs.draw(rng);
      const b = segs.draw(rng);
      last = [a[0], a[1], b[0], b[1]];
      return [segs.segment(a[0], a[1]), segs.segment(b[0], b[1])];
    },
    count,
    false,
    (p) => {
      at.set(last, 4 * n);
      lastOf.set(p.a.id, 4 * n);
      lastOf.set(p.b.id, 4 * n + 2);
      n++;
      ids = n === 1 ? [p.id, p.id] : [ids[0], p.id];
    },
  );
  const cut = (i: number): Segment => {
    const seg = segs.segment(at[i], at[i + 1]);
    const j = lastOf.get(seg.id) ?? i;
    return j === i || (at[j] === at[i] && at[j + 1] === at[i + 1]) ? seg : segs.segment(at[j], at[j + 1]);
  };
  if (n < count) throw new InputError(segs.source, `holds too few distinct segments of ${segs.length} steps for ${count} pairs (got ${n})`);
  for (let i = 0; i < n; i += chunk) {
    const pairs: Pair[] = [];
    for (let j = i; j < Math.min(n, i + chunk); j++) pairs.push(makePair(cut(4 * j), cut(4 * j + 2)));
    onChunk(pairs);
  }
  return { pairs: n, first: ids[0], last: ids[1] };
}



/**
 * The teacher's preferences (store.teacherPreferences) as a training source whose pairs are read
 * from the store LABELLED_CHUNK at a time: the same labels and pairs as store.teacherLabels, without
 * every labelled pair's segments (or every label as an object) at once.
 */
function storeSource(store: LabelStore, prefs: ReturnType<LabelStore['teacherPreferences']>): LabelledPairSource {
  return preferenceSource(prefs, (ids) => store.getPairs(ids), LABELLED_CHUNK);
}

/**
 * pearson(net.meanSegmentSums(list), list.map(segmentReturn)) over `list`: the distinct segments
 * of the pairs of `pairIds` (each pair's a, then b, a segment where it is first met), found from
 * the pairs' segment ids and read one segment at a time (each once), keeping only the segments'
 * input rows and returns. The rows go through net.predictRows as one array, as meanSegmentSums
 * sends them, and are summed in its order, so the number is the same to the last bit.
 */
export function segmentReturnCorrelation(net: RewardNet, store: LabelStore, pairIds: readonly string[]): number {
  const order = new Set<string>();
  const distinctPairs = [...new Set(pairIds)];
  for (let i = 0; i < distinctPairs.length; i += LABELLED_CHUNK) {
    for (const p of store.pairSegmentIds(distinctPairs.slice(i, i + LABELLED_CHUNK))) {
      order.add(p.segA);
      order.add(p.segB);
    }
  }
  const S = order.size;
  const w = net.inDim;
  let H = -1;
  let rows = new Float32Array(0);
  const returns = new Array<number>(S).fill(0);
  let j = 0;
  for (const id of order) {
    const g = store.getSegment(id);
    if (!g) throw new InputError(store.path, `pair references missing segment ${id}`, 'pairs');
    if (H < 0) {
      H = g.length;
      rows = new Float32Array(S * H * w);
    }
    if (g.length !== H) throw new RangeError(`segment ${g.id} has ${g.length} steps, the first segment ${H}`);
    if (g.obsDim !== net.config.obsDim || g.actDim !== net.config.actDim) {
      throw new RangeError(`segment ${g.id} has obs/act sizes ${g.obsDim}/${g.actDim}, the reward network expects ${net.config.obsDim}/${net.config.actDim}`);
    }
    net.segmentInputRows(g, rows.subarray(j * H * w, (j + 1) * H * w));
    returns[j] = segmentReturn(g);
    j++;
  }
  const n = S * Math.max(H, 0);
  const per = net.predictRows(rows, n);
  rows = new Float32Array(0);
  // As RewardNet.segmentSums, then meanSegmentSums: each member's sum per segment (float32), the members' mean.
  const m = net.members;
  const sums = new Float32Array(m * S);
  for (let k = 0; k < m; k++) {
    for (let s = 0; s < S; s++) {
      let acc = 0;
      for (let i = 0; i < H; i++) acc += per[k * n + s * H + i];
      sums[k * S + s] = acc;
    }
  }
  return pearson(meanOverMembers(sums, m, new Float64Array(S)), returns);
}



/** Refuse a --segment-length longer than every episode of the dataset (no segment could be cut), naming the longest. */
function checkSegmentLength(ds: OfflineDataset, cfg: Pick<OfflineConfig, 'dataset' | 'segmentLength'>): void {
  const longest = episodeRanges(ds).reduce((m, e) => Math.max(m, e.length), 0);
  if (longest < cfg.segmentLength) {
    throw new UsageError(`--segment-length: no episode of ${cfg.dataset} has ${cfg.segmentLength} steps (the longest has ${longest}); use at most ${longest}`);
  }
}

/** Pairs the pairs stage stores per transaction. */
const PAIRS_CHUNK = 1000;

async function stagePairs(c: Ctx): Promise<boolean> {
  // (runOffline checked --segment-length against the dataset before any stage ran.)
  const ds = await c.dataset();
  const segs = datasetSegments(c, ds);
  const active = c.cfg.query !== 'uniform';
  const count = active ? roundSize(c.cfg) : c.cfg.labels;
  // The pairs go to the store a chunk at a time (each chunk one transaction), not all held at once.
  const res = { added: 0 };
  const before = existsSync(join(c.run.path, STORE_FILE)) ? c.store().counts().pairs : 0;
  const drawn = streamDatasetPairs(segs, count, new Rng(c.cfg.seed).fork('offline-pairs'), PAIRS_CHUNK, (chunk) => {
    res.added += c.store().putPairs(chunk, { round: 0 }).added;
  });
  // Pairs stored by an earlier attempt that stopped before it was done: this one went on from them.
  if (before > 0 && !existsSync(join(c.run.path, P.pairs))) c.stage.continued = true;
  c.run.writeJson(P.pairs, {
    pairs: drawn.pairs,
    added: res.added,
    segmentLength: c.cfg.segmentLength,
    seed: c.cfg.seed,
    first: drawn.first,
    last: drawn.last,
    ...(active ? { query: c.cfg.query, rounds: c.cfg.queryRounds, labels: c.cfg.labels } : {}),
  });
  c.log.info(
    `pairs: ${drawn.pairs} pairs of ${c.cfg.segmentLength}-step segments from ${segs.episodes} episodes (${res.added} new in the store)` +
      (active ? `; the first of ${c.cfg.queryRounds} rounds, the others chosen by ${c.cfg.query} in the label stage` : ''),
  );
  return res.added > 0;
}

/** Pairs per round of active query selection (the last round may be smaller). */
export function roundSize(cfg: Pick<OfflineConfig, 'labels' | 'queryRounds'>): number {
  return Math.ceil(cfg.labels / cfg.queryRounds);
}

/** A reward-model ensemble of the run's settings trained on the labelled pairs of `src` (the caller disposes it). */
async function fitRewardNet(
  c: Ctx,
  src: LabelledPairSource,
  inputs: Pick<RewardNetConfig, 'input' | 'ignoreObs'>,
  rng: Rng,
  label: string,
  onEpoch?: (m: EpochMetrics) => void,
): Promise<{ net: RewardNet; res: TrainResult }> {
  const cfg = c.cfg;
  const net = RewardNet.create({ ...inputs, obsDim: c.envSpec.obsDim, actDim: c.envSpec.actDim, members: cfg.rewardMembers, hidden: cfg.rewardHidden, preferenceModel: cfg.preferenceModel }, rng.fork('net'));
  try {
    const progress = c.progress(label, cfg.rewardEpochs, 'epochs');
    const res = await trainRewardModelFrom(net, src, {
      ...rewardTrainOptions(cfg),
      preferenceModel: cfg.preferenceModel,
      rng: rng.fork('train'),
      onEpoch: (m) => {
        onEpoch?.(m);
        progress.update(m.epoch, `held-out acc ${fmt(m.valAccuracy)}`);
      },
    });
    // The bar showed each epoch's accuracy; it ends on the kept (best-epoch) weights', as the log does.
    progress.finish(`held-out acc ${fmt(res.valAccuracy)} (kept weights)`);
    const warning = noImprovementWarning(res);
    if (warning) c.log.warn(`${label}: ${warning}`);
    return { net, res };
  } catch (e) {
    net.dispose();
    throw e;
  }
}

/** One record of artifacts/query.json. */
export interface QueryRound {
  readonly round: number;
  /** Preference labels of the teacher the selection model was trained on (0: no model: none yet, or k-center, which needs none). */
  readonly trainedOn: number;
  readonly valAccuracy: number | null;
  readonly candidates: number;
  readonly selected: number;
  readonly method: QueryMethod;
  readonly fallback?: string;
  /** Mean score (disagreement or entropy) of the chosen pairs and of all candidates. */
  readonly meanScoreSelected: number | null;
  readonly meanScoreCandidates: number | null;
  readonly seconds: number;
}

/**
 * Active query selection: the next round's pairs, chosen from fresh candidates by a reward model
 * trained on the teacher's labels so far, put into the store. Returns the pairs added (0: the
 * dataset has no candidate left that is not stored already).
 */
async function selectRound(c: Ctx, teacher: string, segs: DatasetSegments): Promise<number> {
  const cfg = c.cfg;
  const store = c.store();
  const t0 = c.clock.now();
  const have = store.counts().pairs;
  const size = roundSize(cfg);
  const round = Math.ceil(have / size);
  const k = Math.min(size, cfg.labels - have);
  const rng = new Rng(cfg.seed).fork(`offline-query-${round}`);
  // The stored pairs' keys from their segment ids alone (no segments read).
  const storedKeys = new Set(store.pairSegmentIds().map((p) => unorderedIdKey(p.segA, p.segB)));
  const draw = rng.fork('candidates');
  const candidates = sampleDistinctPairs(() => segs.sample(2, draw) as [Segment, Segment], k * cfg.queryOversample, true).filter(
    (p) => !storedKeys.has(unorderedKey(p.a, p.b)),
  );
  if (candidates.length === 0) {
    c.log.warn(`query round ${round}: no segment pair of ${cfg.dataset} is left that has not been asked already; stopping at ${have} pairs`);
    return 0;
  }
  // The teacher's preferences as columns, without their pairs' segments: training reads those a chunk at a time.
  const prefs = store.teacherPreferences({ keep: (t) => labelsOf(teacher, t) });
  const preferences = prefs.pairIds.length;
  let net: RewardNet | null = null;
  let res: TrainResult | null = null;
  try {
    // k-center alone spreads the pairs by their features: it needs no model.
    if (preferences > 0 && cfg.query !== 'kcenter') {
      ({ net, res } = await fitRewardNet(c, storeSource(store, prefs), { input: cfg.rewardInput, ignoreObs: [] }, rng.fork('reward'), `query round ${round}: reward model (${preferences} preferences)`));
    }
    const model = net;
    // k-center's centres: every stored pair (allPairs' order), read a chunk at a time and only by k-center.
    const ids = allPairIds(store);
    const sel = selectQueries(candidates, Math.min(k, candidates.length), cfg.query, {
      rng: rng.fork('select'),
      predict: model ? (p) => model.pairProbs(p) : undefined,
      labelledChunks: { count: ids.length, chunks: () => pairChunks(store, ids) },
    });
    const meanOf = (idx: ArrayLike<number> | null): number | null => {
      if (!sel.scores) return null;
      let sum = 0;
      const n = idx ? idx.length : sel.scores.length;
      for (let i = 0; i < n; i++) sum += sel.scores[idx ? idx[i] : i];
      return n > 0 ? sum / n : null;
    };
    const record: QueryRound = {
      round,
      trainedOn: net ? preferences : 0,
      valAccuracy: res?.valAccuracy ?? null,
      candidates: candidates.length,
      selected: sel.pairs.length,
      method: sel.used,
      ...(sel.fallback ? { fallback: sel.fallback } : {}),
      meanScoreSelected: meanOf(sel.indices),
      meanScoreCandidates: meanOf(null),
      seconds: (c.clock.now() - t0) / 1000,
    };
    const file = join(c.run.path, P.query);
    const before = existsSync(file) ? readJson<{ rounds: QueryRound[] }>(file).rounds.filter((r) => r.round !== round) : [];
    // The round's record before its pairs: a run killed in between chooses the same pairs again
    // on --resume (the round follows from the stored pairs) and writes the record anew; the
    // other way round, the record of a round whose pairs were stored would be lost.
    c.run.writeJson(P.query, { query: cfg.query, rounds: [...before, record] });
    const added = store.putPairs(sel.pairs, { round }).added;
    c.run.metrics.log(round, {
      'query/round': round,
      'query/trained_on': record.trainedOn,
      'query/candidates': candidates.length,
      'query/selected': sel.pairs.length,
      ...(record.meanScoreSelected !== null ? { 'query/mean_score_selected': record.meanScoreSelected, 'query/mean_score_candidates': record.meanScoreCandidates ?? Number.NaN } : {}),
    });
    if (sel.fallback) c.log.warn(`query round ${round}: ${sel.fallback}`);
    c.log.info(
      `query round ${round}: ${sel.pairs.length} of ${candidates.length} candidate pairs chosen by ${sel.used}` +
        (res ? ` (reward model on ${preferences} preferences, held-out accuracy ${fmt(res.valAccuracy)})` : '') +
        (record.meanScoreSelected !== null ? `; mean score ${fmt(record.meanScoreSelected)} chosen vs ${fmt(record.meanScoreCandidates ?? Number.NaN)} over the candidates` : ''),
    );
    return added;
  } finally {
    net?.dispose();
  }
}

function buildTeacher(c: Ctx, o: OfflineRunOptions): Teacher {
  const v = c.cfg.vlm;
  const rt = o.vlmRuntime ?? {};
  return makeTeacher(teacherSpec(c.cfg), {
    env: c.envSpec,
    rng: new Rng(c.cfg.seed).fork('teacher'),
    human: { ...o.human, store: c.store(), env: c.envConfig, logger: c.log, clock: c.clock },
    vlm: {
      baseUrl: v.baseUrl ?? undefined,
      model: v.model ?? undefined,
      apiKeyEnv: v.keyEnv,
      cacheDir: v.cacheDir ?? join(c.run.path, 'vlm_cache'),
      envConfig: c.envConfig,
      keepRendererOpen: rt.renderer === undefined,
      settingNames: { baseUrl: '--vlm-base-url', model: '--vlm-model', keyEnv: '--vlm-key-env', analysisMaxTokens: '--vlm-analysis-max-tokens', labelMaxTokens: '--vlm-label-max-tokens' },
      logger: c.log,
      clock: c.clock,
      ...rt,
    },
  });
}




/** The teacher as the human teacher, when it is one (narrowed here: a narrowing in place widens `teacher` for the code after it). */
function humanTeacherOf(t: Teacher): HumanTeacher | null {
  return t instanceof HumanTeacher ? t : null;
}

async function stageLabel(c: Ctx, o: OfflineRunOptions): Promise<boolean> {
  need(c, 'label', 'pairs');
  const store = c.store();
  const teacher = buildTeacher(c, o);
  let added = 0;
  // New labels are counted in the store: the human teacher's server stores people's answers
  // (and the teacher its timeout skips) before label() returns them, so addLabels adds none.
  const labelsBefore = store.counts().labels;
  // The teacher's counts of the attempts before this one (a killed or failed run), and this
  // attempt's from here on: stored beside the labels, batch by batch (TEACHER_COUNTS).
  const tracked = teacher.metrics ? readTeacherCounts(c, teacher.id, store, labelsBefore) : null;
  const totals = (): Record<string, number> | null => (tracked && teacher.metrics ? addCounts(tracked.counts, teacher.metrics()) : null);
  // The labels' count and the totals as of the last batch known to be stored.
  let confirmed = tracked ? { labels: tracked.labels, counts: tracked.counts } : null;
  // This attempt goes on from labels an earlier one stored (a killed attempt, or a finished one
  // re-run or reopened): that attempt's time is not in this one's seconds.
  if (labelsBefore > 0) c.stage.continued = true;
  // The teacher's request and token counts go to the run log however the stage ends: done, failed
  // part way (those requests were paid for), or stopped by Ctrl-C (whose handler exits the process;
  // 'exit' listeners still run, and the log is written synchronously). Each row holds the run's
  // totals so far (every attempt's), so its last row is the run's. A stage that did not end well
  // saves its totals too (requests paid, failures), for the next attempt to add to.
  let countsLogged = false;
  let countsSaved = false;
  const logTeacherCounts = (): void => {
    if (countsLogged) return;
    countsLogged = true;
    const m = totals();
    if (m && confirmed && !countsSaved) writeJsonAtomic(join(c.run.path, P.teacherCounts), { teacher: teacher.id, labels: confirmed.labels, counts: m } satisfies TeacherCountsRecord);
    const row = m ?? teacher.metrics?.();
    if (row) c.run.metrics.log(0, row);
  };
  process.on('exit', logTeacherCounts);
  try {
    // (HERON: the levels are kept with the labels; a resume after its file changed is refused.)
    store.putTeacher({ id: teacher.id, kind: c.cfg.teacher, config: { spec: teacherSpec(c.cfg), ...heronStoreRecord(store, teacher, c.cfg.heronConfig) } });
    if (teacher.observe) {
      // HERON scales its margins by the spread of reward terms over the pool: the pairs stored
      // so far. With active query selection that is the first round's uniform pairs (later
      // rounds are chosen by the ensemble, a biased sample), so the margins do not move between
      // rounds; a resumed run sees every stored pair.
      // The pool is read from the store only if the teacher looks at it, and HERON reads it a chunk
      // at a time (poolChunks; the synthetic teachers read none): every stored pair's segments at
      // once are some 600 MB at 100,000 pairs.
      const ds = await c.dataset();
      const sum = summarizeDataset(ds);
      let pool: Segment[] | null = null;
      teacher.observe({
        meanEpisodeReturn: sum.meanReturn,
        episodeLength: sum.meanLength,
        segmentLength: c.cfg.segmentLength,
        get pool(): Segment[] {
          pool ??= [...allPairsInChunks(store)].flat();
          return pool;
        },
        poolChunks: () => allPairsInChunks(store),
      });
    }
    const active = c.cfg.query !== 'uniform';
    const total = labelStageTotal(c.cfg, store.counts().pairs);
    const progress = c.progress(`label ${teacher.id}`, total, 'pairs');
    const segs = active ? datasetSegments(c, await c.dataset()) : null;
    // Pairs the teacher has returned a label for in this call: asked once per call, also when they
    // stay open (a human teacher's timeout, which is not an answer, or overlap wanting more people).
    const asked = new Set<string>();
    for (;;) {
      // The store is counted once a round; the progress line then counts the batches' pairs and
      // labels itself (counting the store, or reading every pending pair, for each batch made
      // the stage quadratic in the number of pairs).
      const start = store.counts();
      let answered = start.pairs - start.pending;
      const tally = { preferences: start.preferences - start.ties, ties: start.ties, skips: start.skips };
      progress.update(answered);
      // The pending pairs' ids in the order they are asked, read once and again when used up
      // (pairs may have become pending again meanwhile, e.g. a person's answer undone).
      let queue: string[] = [];
      let next = 0;
      const nextBatch = (): Pair[] => {
        let reread = false;
        for (;;) {
          const ids: string[] = [];
          // The list read again holds the pairs taken into this batch before it (still pending):
          // each once (a short last batch took its pairs twice, and a VLM paid for both).
          const taken = new Set<string>();
          while (ids.length < c.cfg.labelBatch) {
            if (next >= queue.length) {
              if (reread) break;
              queue = store.pendingPairIds();
              next = 0;
              reread = true;
              continue;
            }
            const id = queue[next++];
            if (!asked.has(id) && !taken.has(id)) {
              ids.push(id);
              taken.add(id);
            }
          }
          if (ids.length === 0) return [];
          // Another process (a viewer) may have answered some since the list was read.
          const open = store.stillPending(ids);
          if (open.length > 0) return store.getPairs(open);
        }
      };
      for (;;) {
        const batch = nextBatch();
        if (batch.length === 0) break;
        const before = answered;
        const labels = await teacher.label(batch, (k) => progress.update(before + k));
        for (const p of batch) asked.add(p.id);
        const now = totals();
        const last = labels.at(-1);
        // The totals with this batch go to disk before its labels, marked pending on one of them:
        // a resume after a kill in between finds whether the batch was stored (the store adds a
        // batch whole or not at all) and takes the totals with or without it.
        if (confirmed && now && last) {
          writeJsonAtomic(join(c.run.path, P.teacherCounts), {
            teacher: teacher.id,
            labels: confirmed.labels,
            counts: confirmed.counts,
            pending: { pair: last.pairId, labels: confirmed.labels + labels.length, counts: now },
          } satisfies TeacherCountsRecord);
        }
        const res = store.addLabels(labels);
        if (confirmed && now) confirmed = { labels: confirmed.labels + res.added, counts: now };
        answered += batch.length - store.stillPending(batch.map((p) => p.id)).length;
        for (const l of labels) {
          if (l.kind === 'skip') tally.skips++;
          else if (isTie(l)) tally.ties++;
          else tally.preferences++;
        }
        progress.update(answered, `${tally.preferences} preferences, ${tally.ties} ties, ${tally.skips} skips`);
      }
      if (!active || store.counts().pairs >= c.cfg.labels) break;
      // The next round of active query selection (its reward model has its own progress bar).
      if (!segs || (await selectRound(c, teacher.id, segs)) === 0) break;
    }
    progress.finish();
    const counts = store.counts();
    // People at the viewer: with an answer to every pair, the stage asks nothing more, and the
    // pages are told the run has the labels it needs (a page on a pair still open for another
    // person's opinion, with --human-overlap, is told it is no longer asked) before the server
    // closes in the finally below; prefrl train's viewer does the same once its --labels budget
    // is spent. With pairs left unanswered (timeouts) the pages see the session end: a resume
    // asks those again.
    if (counts.unlabelled === 0) humanTeacherOf(teacher)?.finishAsking(`the label stage has an answer to each of its ${counts.pairs} pairs`);
    added = counts.labels - labelsBefore;
    const teacherCounts = totals();
    if (teacherCounts) {
      writeJsonAtomic(join(c.run.path, P.teacherCounts), { teacher: teacher.id, labels: counts.labels, counts: teacherCounts } satisfies TeacherCountsRecord);
      countsSaved = true;
    }
    const agreement = teacherAgreement(store, (t) => labelsOf(teacher.id, t));
    // Strict preferences and ties apart (the store's preferences include the ties).
    const strict = counts.preferences - counts.ties;
    // HERON: which reward term decided each of its labels (from the record each keeps in raw).
    const decidedBy = c.cfg.teacher === 'heron' ? heronDecidedBy(store.labels().filter((l) => l.teacher === teacher.id)) : null;
    c.run.writeJson(P.labels, {
      teacher: teacher.id,
      labels: counts.labels,
      preferences: strict,
      ties: counts.ties,
      skips: counts.skips,
      // Of the skips, pairs nobody answered before the human teacher's timeout: asked again on --resume.
      timeouts: counts.timeouts,
      teacherAgreement: agreement,
      skipReasons: skipReasons(store),
      ...(decidedBy ? { decidedBy } : {}),
      ...(active ? { query: c.cfg.query, rounds: c.cfg.queryRounds } : {}),
    });
    c.run.metrics.log(0, { 'teacher/labels': counts.labels, 'teacher/preferences': strict, 'teacher/ties': counts.ties, 'teacher/skips': counts.skips, 'teacher/agreement_true_return': agreement });
    c.log.info(`label: ${counts.labels} labels (${strict} preferences, ${counts.ties} ties, ${counts.skips} skips; ${added} new), agreement with the true partial return ${fmt(agreement ?? Number.NaN)}`);
    if (decidedBy) c.log.info(`label: ${teacher.id} decided by: ${decidedByText(decidedBy)}`);
    // What this attempt's requests cost, as `prefrl label` says it (the summary's teacher counts sum every attempt).
    const usage = vlmUsageLine(teacher.metrics?.());
    if (usage) c.log.info(`label: ${usage}`);
    if (counts.timeouts > 0 && counts.pending > 0) {
      c.log.info(`label: ${counts.pending} pairs got no answer before the human teacher's timeout; they stay open: ${c.resumeCommand()} (or prefrl serve --store ${shellQuote(join(c.run.path, 'labels.sqlite'))}) asks them again`);
    }
  } catch (e) {
    // What this attempt's requests cost before it stopped, as `prefrl label` says it (the run's totals are in teacher_counts.json).
    const usage = vlmUsageLine(teacher.metrics?.());
    if (usage) c.log.info(`before stopping: ${usage}`);
    throw e;
  } finally {
    process.off('exit', logTeacherCounts);
    logTeacherCounts();
    await teacher.close?.();
  }
  return added > 0;
}

/**
 * artifacts/teacher_counts.json: what the teacher counted (teacher.metrics(): the VLM teacher's
 * requests, retries, cache hits, tokens and answers; the synthetic VLM's answers, flips and
 * unsure), summed over every attempt of the label stage, so a run killed and resumed reports the
 * whole run's, not only the last attempt's. Written (atomically) before each batch's labels are
 * stored, the batch's totals marked `pending` on its last label's pair; a resume takes the
 * pending totals if that label is in the store, else `counts` (the store adds a batch whole or
 * not at all). An attempt that ends otherwise (a failed request, Ctrl-C) saves everything it
 * counted, the batch it was in included. So the totals count what every attempt did, except the
 * batch a SIGKILL cut short before its labels were stored (not saved: it is asked again, and for
 * the VLM its answers received before the kill then come from the answer cache, counted as
 * cache hits and saved tokens). Answers of a batch asked again after a failure or Ctrl-C are
 * counted each time they are received (the second time from the cache). `labels`: the store's
 * labels the totals go with; a store holding fewer (replaced since) starts the counts from zero.
 */
interface TeacherCountsRecord {
  readonly teacher: string;
  readonly labels: number;
  readonly counts: Record<string, number>;
  readonly pending?: { readonly pair: string; readonly labels: number; readonly counts: Record<string, number> };
}

/** a + b key by key (keys of either; a count missing from one is 0 there). */
function addCounts(a: Readonly<Record<string, number>>, b: Readonly<Record<string, unknown>>): Record<string, number> {
  const out: Record<string, number> = { ...a };
  for (const [k, v] of Object.entries(b)) if (typeof v === 'number') out[k] = (out[k] ?? 0) + v;
  return out;
}

/** The teacher's totals of the label stage's attempts before this one (zeros when none), and the labels they go with. */
function readTeacherCounts(c: Ctx, teacherId: string, store: LabelStore, storedLabels: number): { labels: number; counts: Record<string, number> } {
  const file = join(c.run.path, P.teacherCounts);
  if (!existsSync(file)) return { labels: storedLabels, counts: {} };
  const r = readJson<Partial<TeacherCountsRecord>>(file);
  const isCounts = (x: unknown): x is Record<string, number> =>
    typeof x === 'object' && x !== null && !Array.isArray(x) && Object.values(x).every((v) => typeof v === 'number' && Number.isFinite(v) && v >= 0);
  const bad = (key: string, what: string): never => {
    throw new InputError(file, `${what}; delete the file to count this run's teacher requests and answers from zero`, key);
  };
  if (typeof r.teacher !== 'string') bad('teacher', 'expected the teacher id');
  if (!(typeof r.labels === 'number' && Number.isInteger(r.labels) && r.labels >= 0)) bad('labels', 'expected a whole number of labels');
  if (!isCounts(r.counts)) bad('counts', 'expected numbers >= 0 by name');
  const p = r.pending;
  if (p !== undefined && !(typeof p === 'object' && p !== null && typeof p.pair === 'string' && typeof p.labels === 'number' && isCounts(p.counts))) bad('pending', 'expected { pair, labels, counts }');
  if (r.teacher !== teacherId) {
    c.log.warn(`label: ${file} counts the requests and answers of teacher ${r.teacher}, not ${teacherId}; counting from zero`);
    return { labels: storedLabels, counts: {} };
  }
  const stored = p !== undefined && store.labelIdOf(p.pair, teacherId) !== null;
  const from = stored && p ? { labels: p.labels, counts: p.counts } : { labels: r.labels as number, counts: r.counts as Record<string, number> };
  if (storedLabels < from.labels) {
    c.log.warn(`label: ${file} counts the teacher's answers for ${from.labels} labels, the label store holds ${storedLabels} (made anew since?); counting from zero`);
    return { labels: storedLabels, counts: {} };
  }
  return from;
}

/**
 * Whether a stored label with teacher id `labelTeacher` is the run's teacher's: the human
 * teacher stores each person's answers under the person's id (`human:<name>`) and only its
 * timeout skips under its own id `human` (isPersonId: the id rule of the store's `isPerson`; a
 * run's store registers no other people).
 */
export function labelsOf(teacher: string, labelTeacher: string): boolean {
  return labelTeacher === teacher || (teacher === HUMAN_TEACHER_ID && isPersonId(labelTeacher));
}






function skipReasons(store: LabelStore): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of store.labels()) {
    if (l.kind !== 'skip') continue;
    const key = l.reason.replace(/\(.*\)$/, '').trim();
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

async function stageReward(c: Ctx): Promise<boolean> {
  need(c, 'reward', 'label');
  const store = c.store();
  const { teacher } = readJson<{ teacher: string }>(join(c.run.path, P.labels));
  const keep = (t: string) => labelsOf(teacher, t);
  // The preferences alone, as columns: the pairs' segments are read a chunk at a time where they are used.
  const prefs = store.teacherPreferences({ keep });
  const preferences = prefs.pairIds.length;
  const timeouts = preferences === 0 ? store.counts().timeouts : 0;
  if (timeouts > 0 && !store.labels().some((l) => labelsOf(teacher, l.teacher) && !isTimeoutSkip(l))) {
    const file = join(c.run.path, 'labels.sqlite');
    throw new InputError(
      file,
      `nobody answered: the ${timeouts} pairs asked got no answer within the human teacher's timeout, so there is no preference to learn a reward from yet; ${c.resumeCommand()} asks them again (or people answer them in prefrl serve --store ${shellQuote(file)} first)`,
    );
  }
  if (preferences === 0) {
    const reasons = skipReasons(store);
    const top = Object.entries(reasons).sort((a, b) => b[1] - a[1])[0];
    // The synthetic VLM judges the task success at a segment's final frame alone: equal everywhere
    // (a random policy's data, where nothing succeeds) leaves it nothing to prefer.
    const equalSuccess = c.cfg.teacher === 'synthetic-vlm' && top !== undefined && top[0].startsWith('unsure: equal success');
    throw new InputError(
      join(c.run.path, 'labels.sqlite'),
      `the teacher ${teacher} gave no preference, only skips${top ? ` (most often: "${top[0]}", ${top[1]} times)` : ''}; no reward model can be learned from this dataset with this teacher` +
        (equalSuccess
          ? `: it judges only the task success at each segment's final frame, and the segments of ${c.cfg.dataset} end equally successful (a random policy's data often never succeeds); collect a dataset with some successes (prefrl collect --policy medium-replay), or use --teacher oracle`
          : ''),
    );
  }
  const cfg = c.cfg;
  const rng = new Rng(cfg.seed).fork('offline-reward');
  let inputs: Pick<RewardNetConfig, 'input' | 'ignoreObs'> = { input: cfg.rewardInput, ignoreObs: [] };
  let selection: InputSelection | null = null;
  if (cfg.rewardSelectInputs) {
    const workers = selectionWorkers(cfg.rewardSelectWorkers);
    c.log.info(
      `choosing the reward model's inputs from ${preferences} preference labels (forward selection, cross-validated${workers > 0 ? `, ${workers} worker threads` : ''})...`,
    );
    // One progress bar per step of the forward selection: step k scores every input not yet kept.
    let bar: { step: number; progress: Progress } | null = null;
    // The forward selection takes the pairs themselves (held only while it runs).
    const held = store.teacherLabels({ keep });
    selection = await selectInputs(held.pairs, held.labels, {
      input: cfg.rewardInput,
      obsDim: c.envSpec.obsDim,
      actDim: c.envSpec.actDim,
      preferenceModel: cfg.preferenceModel,
      rng: rng.fork('select-inputs'),
      workers,
      onScore: (sc) => {
        if (bar?.step !== sc.step) {
          bar?.progress.finish();
          bar = { step: sc.step, progress: c.progress(`input selection step ${sc.step}`, sc.stepSets, 'sets') };
        }
        bar.progress.update(sc.stepDone, `${sc.units.map(unitName).join(', ')}: NLL ${sc.nll.toFixed(4)}`);
      },
      onStep: (st) => {
        bar?.progress.finish();
        bar = null;
        c.log.info(`  input selection: best addition ${unitName(st.unit)}, cross-validated NLL ${st.nll.toFixed(4)}${st.kept ? '' : ' (not enough gain: stop)'}`);
      },
    });
    inputs = { input: selection.input, ignoreObs: selection.ignoreObs };
    c.log.info(`input selection: the reward model sees ${describeSelection(selection)}`);
  }
  // Ties train as soft labels, so they count among the preferences here; said apart as in prefrl reward.
  let ties = 0;
  for (const y of prefs.probFirst) if (isTie({ kind: 'preference', probFirst: y })) ties++;
  const { net, res } = await fitRewardNet(c, storeSource(store, prefs), inputs, rng, `reward model (${preferences} preferences)`, (m) => c.run.metrics.log(m.epoch, epochMetricsRecord(m)));
  try {
    net.meta = { ...net.meta, teacher, preferences, dataset: cfg.dataset, valAccuracy: res.valAccuracy, ...(selection ? { inputSelection: selectionRecord(selection) } : {}) };
    net.save(join(c.run.path, P.rewardModel));
    // How the learned segment returns rank the labelled segments against their true returns.
    const segmentCorrelation = segmentReturnCorrelation(net, store, prefs.pairIds);
    c.run.writeJson(P.reward, {
      preferences,
      ties,
      ...trainResultSummary(res),
      segmentReturnCorrelation: segmentCorrelation,
      preferenceModel: res.preferenceModel,
      ...(selection ? { inputSelection: selectionRecord(selection) } : {}),
    });
    c.log.info(`reward: ${preferences} preferences (${ties} of them ties), held-out accuracy ${fmt(res.valAccuracy)}, segment-return correlation ${fmt(segmentCorrelation)}`);
  } finally {
    net.dispose();
  }
  return true;
}

async function stageRelabel(c: Ctx): Promise<boolean> {
  need(c, 'relabel', 'reward');
  const ds = await c.dataset();
  const net = RewardNet.load(join(c.run.path, P.rewardModel));
  try {
    const rel = relabelDataset(ds, net);
    // writeNpy writes whole or not at all: a run killed while a forced re-run writes it keeps the
    // rewards from before next to their relabel.json, not half of the new ones.
    writeNpy(join(c.run.path, P.rewards), rel.rewards, [ds.size]);
    c.run.writeJson(P.relabel, {
      kind: rel.kind,
      transitions: ds.size,
      transitionCorrelation: rel.transitionCorrelation,
      returnCorrelation: rel.returnCorrelation,
      meanReward: mean(rel.rewards),
      stdReward: std(rel.rewards),
    });
    c.run.metrics.log(0, { 'reward/transition_correlation': rel.transitionCorrelation, 'reward/return_correlation': rel.returnCorrelation });
    c.log.info(`relabel: ${ds.size} transitions; correlation with the true reward ${fmt(rel.transitionCorrelation)} per transition, ${fmt(rel.returnCorrelation)} per episode return`);
    if (rel.kind === 'advantage') c.log.warn('the reward model was trained with the regret preference model: its output estimates the optimal advantage A*(s, a); IQL uses it as the reward');
  } finally {
    net.dispose();
  }
  return true;
}

function learnedRewards(c: Ctx, ds: OfflineDataset): Float64Array {
  const file = join(c.run.path, P.rewards);
  const a = readNpy(file);
  if (a.data.length !== ds.size) throw new InputError(file, `holds ${a.data.length} rewards, the dataset has ${ds.size} transitions`);
  // A NaN (a damaged file) was refused by the IQL trainer with a RangeError and a stack, naming no file.
  for (let i = 0; i < a.data.length; i++) {
    if (!Number.isFinite(a.data[i])) throw new InputError(file, `reward ${i} is ${a.data[i]} (the relabelled rewards must be finite); make them again: prefrl offline --resume ${c.run.path} --stage relabel --force`, `index [${i}]`);
  }
  return Float64Array.from(a.data);
}

async function stageIql(c: Ctx, o: OfflineRunOptions): Promise<boolean> {
  need(c, 'iql', 'relabel');
  const ds = await c.dataset();
  const cfg = c.cfg;
  const plan: { agent: OfflineAgent; algo: OfflineAlgo; rewards: () => ArrayLike<number> }[] = [
    { agent: 'iql-learned', algo: 'iql', rewards: () => learnedRewards(c, ds) },
    { agent: 'iql-true', algo: 'iql', rewards: () => ds.rewards },
    { agent: 'bc', algo: 'bc', rewards: () => ds.rewards },
  ];
  const env = cfg.evalEvery > 0 ? await makeEnv(c.envConfig, { logger: c.log }) : undefined;
  try {
    for (const p of plan) {
      const dir = join(c.run.path, P.agent(p.agent));
      if (existsSync(join(dir, 'training.json')) && !o.force) {
        c.log.info(`iql: ${p.agent} trained before, kept`);
        c.stage.continued = true;
        continue;
      }
      // An agent trains from its first update: once it has trained and been saved, the rows of an
      // earlier (or interrupted) training go; if it fails, its own rows go and the agent saved before stays.
      const prefix = `${agentKey(p.agent)}/`;
      const mine = (r: Record<string, unknown>) => Object.keys(r).some((k) => k.startsWith(prefix));
      await c.run.metrics.replaceRows(
        mine,
        async () => {
          const progress = c.progress(`${p.agent} ${c.envSpec.id}`, cfg.updates, 'updates');
          let last = Number.NaN;
          const res = await trainOfflineAgent({
            algo: p.algo,
            ds,
            rewards: p.rewards(),
            actLow: c.envSpec.actLow,
            actHigh: c.envSpec.actHigh,
            updates: cfg.updates,
            batchSize: cfg.batchSize,
            hidden: cfg.hidden,
            seed: cfg.seed,
            evalEnv: env,
            evalEvery: cfg.evalEvery || undefined,
            evalEpisodes: cfg.evalEpisodes,
            clock: c.clock,
            onMetrics: (k, m) => {
              c.run.metrics.log(k, Object.fromEntries(Object.entries(m).map(([key, v]) => [`${prefix}${key}`, v])));
              if (typeof m['eval/true_return'] === 'number') last = m['eval/true_return'];
            },
            onUpdate: (k) => progress.update(k, Number.isNaN(last) ? undefined : `return ${last.toFixed(1)}`),
            actorMeta: { agent: p.agent, dataset: cfg.dataset, updates: cfg.updates, seed: cfg.seed, env: c.envConfig },
          });
          progress.finish();
          res.actor.save(dir);
          c.run.writeJson(join(P.agent(p.agent), 'training.json'), {
            agent: p.agent,
            algo: p.algo,
            updates: cfg.updates,
            updatesPerSec: res.training.updatesPerSec,
            seconds: res.training.seconds,
            rewardScale: res.rewardScale,
            evals: res.training.evals.map((e) => [e.update, e.meanReturn]),
            resolved: res.resolved,
          });
          c.log.info(`iql: ${p.agent} ${cfg.updates} updates at ${res.training.updatesPerSec.toFixed(1)} updates/s`);
        },
        (e) => c.log.warn(`iql: could not drop the failed training's metrics rows of ${p.agent}: ${e.message}`),
      );
    }
  } finally {
    env?.dispose();
  }
  return true;
}

function agentEval(r: { returns: readonly number[]; meanSuccess: number }): AgentEval {
  return { meanReturn: mean(r.returns), stdReturn: std(r.returns), returns: [...r.returns], meanSuccess: r.meanSuccess };
}

async function stageEval(c: Ctx): Promise<boolean> {
  need(c, 'eval', 'iql');
  const cfg = c.cfg;
  const ds = await c.dataset();
  const dsSum = summarizeDataset(ds);
  const env: Env = await makeEnv(c.envConfig, { logger: c.log });
  const evals: Partial<Record<OfflineAgent | 'random', AgentEval>> = {};
  try {
    const progress = c.progress(`eval ${c.envSpec.id}`, OFFLINE_AGENTS.length + 1, 'policies');
    for (const a of OFFLINE_AGENTS) {
      evals[a] = agentEval(await evaluateActorAsync(env, ActorSnapshot.load(join(c.run.path, P.agent(a))), cfg.evalEpisodes, cfg.seed));
      progress.tick(1, `${a} ${fmt(evals[a].meanReturn)}`);
    }
    evals.random = agentEval(await evaluatePolicyAsync(env, randomPolicy(env.spec, new Rng(cfg.seed).fork('random-policy')), cfg.evalEpisodes, cfg.seed));
    // (Its own return on the bar's last line: it kept bc's before.)
    progress.tick(1, `random ${fmt(evals.random.meanReturn)}`);
    progress.finish();
  } finally {
    env.dispose();
  }
  const labels = readStageRecord<{ teacher: string; labels: number; preferences: number; ties?: number; skips: number; teacherAgreement: number | null; decidedBy?: HeronDecidedBy }>(join(c.run.path, P.labels), 'label', ['labels', 'preferences', 'skips'], ['teacherAgreement'], ['ties']);
  // The teacher's totals as the label stage left them (none for teachers that count nothing).
  const countsFile = join(c.run.path, P.teacherCounts);
  const teacherCounts = existsSync(countsFile) ? readJson<{ counts?: Record<string, number> }>(countsFile).counts : undefined;
  const reward = readStageRecord<{ valAccuracy: number }>(join(c.run.path, P.reward), 'reward', [], ['valAccuracy']);
  const relabel = readStageRecord<{ transitionCorrelation: number; returnCorrelation: number }>(join(c.run.path, P.relabel), 'relabel', [], ['transitionCorrelation', 'returnCorrelation']);
  const learned = evals['iql-learned'] as AgentEval;
  const truth = evals['iql-true'] as AgentEval;
  const rand = evals.random as AgentEval;
  const { stageSeconds, stageTiming } = stageTimes(join(c.run.path, 'metrics.jsonl'));
  // This stage's own time, up to the summary (its row is logged with the same number when it ends).
  c.stage.seconds = (c.clock.now() - c.stage.t0) / 1000;
  stageSeconds.eval = c.stage.seconds;
  stageTiming.eval = 'whole';
  const summary: OfflineSummary = {
    env: c.envSpec.id,
    envConfig: c.envConfig,
    dataset: cfg.dataset,
    datasetTransitions: ds.size,
    datasetEpisodes: dsSum.episodes,
    datasetMeanReturn: dsSum.meanReturn,
    teacher: cfg.teacher,
    teacherId: labels.teacher,
    preferenceModel: cfg.preferenceModel,
    segmentLength: cfg.segmentLength,
    query: cfg.query,
    queryRounds: cfg.query === 'uniform' ? 1 : cfg.queryRounds,
    labels: labels.labels,
    preferences: labels.preferences,
    ...(labels.ties === undefined ? {} : { ties: labels.ties }),
    skips: labels.skips,
    teacherAgreement: labels.teacherAgreement,
    ...(teacherCounts ? { teacherCounts } : {}),
    ...(labels.decidedBy ? { decidedBy: labels.decidedBy } : {}),
    rewardValAccuracy: reward.valAccuracy,
    rewardTransitionCorrelation: relabel.transitionCorrelation,
    rewardReturnCorrelation: relabel.returnCorrelation,
    updates: cfg.updates,
    seed: cfg.seed,
    evalEpisodes: cfg.evalEpisodes,
    returns: { iqlLearned: learned, iqlTrue: truth, bc: evals.bc as AgentEval, random: rand },
    ratio: learned.meanReturn / truth.meanReturn,
    normalizedRatio: (learned.meanReturn - rand.meanReturn) / (truth.meanReturn - rand.meanReturn),
    stageSeconds,
    stageTiming,
    runDir: c.run.path,
  };
  c.run.writeJson(P.summary, summary);
  c.run.metrics.log(cfg.updates, {
    'eval/iql_learned_return': learned.meanReturn,
    'eval/iql_true_return': truth.meanReturn,
    'eval/bc_return': summary.returns.bc.meanReturn,
    'eval/random_return': rand.meanReturn,
    'eval/ratio': summary.ratio,
    'eval/normalized_ratio': summary.normalizedRatio,
  });
  return true;
}

/** What a stage's seconds in the summary cover (OfflineSummary.stageTiming). */
export type StageTiming = 'whole' | 'last-attempt' | 'not-recorded';

/**
 * The seconds of each stage's last attempt from the run log (`stages/<stage>_seconds` rows; the
 * last row of a stage is its last attempt), and what they cover: the whole stage, or only the
 * attempt that finished it when that attempt went on from work an earlier one saved (its row
 * marked `stages/<stage>_continued`). A stage done before whose row is missing (its process was
 * killed after its outputs were saved, before the row) is 'not-recorded', with no seconds.
 */
export function stageTimes(metricsFile: string): { stageSeconds: Record<string, number>; stageTiming: Record<string, StageTiming> } {
  const stageSeconds: Record<string, number> = {};
  const timing: Record<string, StageTiming> = {};
  const text = existsSync(metricsFile) ? readFileSync(metricsFile, 'utf8') : '';
  for (const line of text.split('\n')) {
    if (!line.includes('stages/')) continue;
    // A line damaged by a kill (in a run folder resumed before such lines were dropped) says nothing.
    let row: Record<string, unknown>;
    try {
      row = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    for (const [k, v] of Object.entries(row)) {
      const m = /^stages\/(.+)_seconds$/.exec(k);
      if (!m || typeof v !== 'number') continue;
      stageSeconds[m[1]] = v;
      timing[m[1]] = row[`stages/${m[1]}_continued`] === 1 ? 'last-attempt' : 'whole';
    }
  }
  // Every stage of the pipeline named, in its order (the eval stage fills in its own).
  const stageTiming: Record<string, StageTiming> = {};
  for (const s of OFFLINE_STAGES) stageTiming[s] = timing[s] ?? 'not-recorded';
  return { stageSeconds, stageTiming };
}

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toFixed(3) : 'n/a';
}
