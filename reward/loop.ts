/**
 * The online preference loop (Christiano et al. 2017; PrefPPO in B-Pref), wiring the stages
 * together; every stage is swappable:
 *
 *   warm-up rollouts -> segment pool -> candidate pairs -> query selection -> teacher
 *   -> label store -> reward-model training -> relabelled PPO rollouts -> ... until the label
 *   budget is spent, then PPO continues on the final reward model.
 *
 * With `reward: 'true'` the same loop trains PPO on the env's reward with identical settings
 * (no queries), so a comparison is one flag apart; with `reward: 'model'` PPO learns from a
 * fixed, saved reward model (no queries either). The true return is always evaluated and
 * logged next to the learned one, with the reward metrics (held-out accuracy and NLL,
 * correlation of predicted and true segment returns, EPIC distance on visited transitions).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Clock } from '../core/clock.js';
import { InputError, shownArg } from '../core/errors.js';
import { isMetricKey, type Logger, type Metrics } from '../core/log.js';
import { mean } from '../core/math.js';
import type { Progress } from '../core/progress.js';
import { Rng } from '../core/rng.js';
import { type RunDir, truncateMetrics, writeJsonAtomic } from '../core/run.js';
import { checkEnvConfigObject, type EnvConfig, makeEnv } from '../envs/registry.js';
import { rollout } from '../envs/rollout.js';
import { type Trajectory, trajectoryReturn } from '../envs/trajectory.js';
import type { Env } from '../envs/types.js';
import { checkPpoCheckpoint, type EpisodeStats, PPO_DEFAULTS, type PpoCheckpoint, type PpoConfig, PpoTrainer } from '../agents/ppo.js';
import { type RewardFn, weightedTermsReward } from '../agents/types.js';
import { envReward, epicDistance, epicPool, modelReward, returnCorrelation } from './metrics.js';
import { meanOverMembers, RewardNet, type RewardNetConfig, type RewardNetInit, unknownRewardNetFields, unknownRewardNetFieldsError } from './network.js';
import { DEFAULT_OVERSAMPLE, hasSameEpisodePair, type PairScope, QUERY_METHODS, type QueryMethod, sameEpisodePairs, samplePairs, selectQueries, topSegments } from './query.js';
import { cutSegments, randomOffsets, segmentReturn, windowCount } from './segments.js';
import { isTimeoutSkip, type LabelStore } from './store.js';
import { describeSelection, type InputSelection, type InputSelectionOptions, selectInputs, selectionRecord, selectionWorkers, unitName } from './select.js';
import { noImprovementWarning, type TrainOptions, trainRewardModel, unknownTrainOptions, unknownTrainOptionsError } from './train.js';
import { type Label, type Pair, PREFERENCE_MODELS, type PreferenceModelKind, type Segment, type Teacher } from './types.js';

export interface LoopOptions {
  /** The env PPO trains in: a registry id (`{ id: 'reacher' }`) or a bring-your-own model (`{ id: 'custom', model, task }`). */
  readonly env: EnvConfig;
  /**
   * PPO's settings over PPO_DEFAULTS (agents/ppo.ts): totalSteps is the run's env-step budget,
   * seed seeds PPO and every random draw of the loop (the same seed repeats the run). `workers`
   * (default 2) steps the envs in worker threads; 0 steps them in this thread.
   */
  readonly ppo: Partial<PpoConfig> & { totalSteps: number; seed: number };
  /** Learn from preferences, or from the env's true reward (the baseline). */
  readonly reward: 'learned' | 'true' | 'model';
  /**
   * With reward 'model': the fixed reward model PPO learns from (a saved one: trained offline or
   * by an earlier run), with its saved standardisation if any; no teacher is asked. The loop
   * copies it into the run folder and disposes it.
   */
  readonly rewardModel?: RewardNet;
  /**
   * With reward 'true': PPO learns from the env's reward terms under these weights (one per
   * term, the spec's order) instead of the env's own; evaluation still reports the env's reward.
   */
  readonly rewardWeights?: readonly number[];
  /**
   * With reward 'learned' (and only needed there): who answers the queries, e.g.
   * `makeTeacher('oracle', ...)` or an object of your own (reward/types.ts Teacher). The caller
   * closes it (`teacher.close?.()`) after the loop. `prefrl train` makes its teacher with
   * `rng: new Rng(seed).fork('teacher')` (seed: ppo.seed): a noisy teacher made so answers as
   * the command's does.
   */
  readonly teacher?: Teacher;
  /** How preferences relate to the learned reward: partial-return (Bradley-Terry on segment sums) or regret. */
  readonly preferenceModel: PreferenceModelKind;
  /** Total labels (queries answered, skips included). */
  readonly budget: number;
  /**
   * Share of the pool, by the current model's predicted segment return, that candidate pairs
   * are drawn from (1 or absent: the whole pool; the first round always uses the whole pool).
   */
  readonly poolTop?: number;
  /** Labels asked for per feedback round (the last round asks for what is left of the budget). */
  readonly labelsPerRound: number;
  /** Steps per segment: the length of the clips the teacher compares. */
  readonly segmentLength: number;
  /** How each round's pairs are chosen from the candidates (uniform, disagreement, entropy, k-center variants; reward/query.ts). */
  readonly query: QueryMethod;
  /** Candidates per query (B-Pref: 10). */
  readonly oversample?: number;
  /**
   * Env steps between feedback rounds. Left out, what `prefrl train` takes without
   * --feedback-every (loopFeedbackEvery): the budget spread over the first half of training,
   * max(numEnvs x numSteps, floor((totalSteps - warmupSteps) / (2 x ceil(budget / labelsPerRound)))).
   */
  readonly feedbackEvery?: number;
  /** Env steps collected by the untrained policy before the first round (no updates). */
  readonly warmupSteps: number;
  /**
   * What the end-of-run warnings advise when the run was too short for its labels, in place of
   * `prefrl train`'s "give more --steps[, a smaller --feedback-every or a larger
   * --labels-per-round]" (e.g. a benchmark cell's own knob). Left out: train's advice.
   */
  readonly runLongerAdvice?: string;
  /**
   * Segments from this many recent episodes form the query pool; when they hold fewer than
   * MIN_POOL_SEGMENTS segments (short episodes of a policy that falls early) the pool reaches
   * further back over the episodes kept.
   */
  readonly poolEpisodes: number;
  /** Ends of terminated episodes in the pool: dropped, or kept and padded (default 'pad'; see cutSegments). */
  readonly terminalSegments?: 'drop' | 'pad';
  /**
   * Where the pool's windows start in each episode: 'aligned' (default) at steps 0, L, 2L, ...,
   * so every episode gives one segment that begins at its reset state; 'random' at a random
   * offset in [0, L) drawn per episode and round, as clips drawn at random times are (B-Pref,
   * Christiano et al. 2017), so reset states are rarely in the pool.
   */
  readonly segmentWindows?: 'aligned' | 'random';
  /**
   * Which segments may be paired: any two of the pool (default), two of the same episode, or
   * mixed: half of each round's queries (rounded down) within an episode, the rest from the whole pool.
   */
  readonly pairScope?: PairScope;
  /**
   * Standardise the learned reward PPO sees to mean 0, std 1 over the query pool's
   * transitions, refitted after every feedback round (Christiano et al. 2017 normalise r-hat
   * to zero mean and a constant std). Default false.
   */
  readonly standardizeReward?: boolean;
  /**
   * Before every feedback round, this many whole episodes of the current policy's mean action
   * (the policy that is evaluated and deployed) join the query pool next to the stochastic
   * training rollouts. Their env steps are counted apart (`queryRolloutSteps`). Default 0.
   */
  readonly queryRollouts?: number;
  readonly rewardNet?: Partial<Omit<RewardNetConfig, 'obsDim' | 'actDim'>>;
  /** How the reward ensemble's weights are first drawn (e.g. outputScale 0: r = 0 everywhere at the start). */
  readonly rewardInit?: RewardNetInit;
  /**
   * How each round trains the reward ensemble (trainRewardModel's options). Epochs and patience
   * left out are LOOP_REWARD_TRAIN_DEFAULTS (`prefrl train`'s --reward-epochs 20 and
   * --reward-patience 3: every round continues from the last round's weights), not
   * trainRewardModel's own 50 and 5 (TRAIN_DEFAULTS, for one training on a fixed set of labels);
   * the rest are TRAIN_DEFAULTS, as in `prefrl train`.
   */
  readonly rewardTrain?: Partial<Omit<TrainOptions, 'rng' | 'onEpoch' | 'onStep'>>;
  /**
   * Choose the reward model's inputs from the labels (reward/select.ts: forward selection by
   * cross-validated preference likelihood) in the first round that ends with at least this many
   * preference labels stored; with a list, again at each later count (re-selection: a choice made
   * from few labels is checked against more). When a selection's inputs differ from the model's,
   * the model is made anew on them and trained from scratch; when they are the same, it is kept.
   * The choices are saved in its meta (the latest, and how many of the counts it has passed), so a
   * resumed run does not select again. Default: never (every input of `rewardNet` is used).
   */
  readonly selectInputsAfter?: number | readonly number[];
  /** Settings of that selection (folds, proxy networks, minGain). */
  readonly selectInputs?: Partial<Omit<InputSelectionOptions, 'input' | 'obsDim' | 'actDim' | 'ignoreObs' | 'preferenceModel' | 'rng' | 'onScore' | 'onStep'>>;
  /** Deterministic (mean-action) episodes per evaluation; their mean true return makes the summary's curve. */
  readonly evalEpisodes: number;
  /** Env steps between evaluations (and checkpoints). */
  readonly evalEvery: number;
  /**
   * The run folder (createRunDir): metrics.jsonl, the PPO checkpoint (artifacts/checkpoint, which
   * loadSavedPolicy reads) and the reward model (artifacts/reward_model) are written there.
   */
  readonly run: RunDir;
  /**
   * Where the queried pairs and their labels are kept (LabelStore.open; `prefrl train` uses
   * <run>/labels.sqlite). Needed with reward 'learned' only: a true or fixed-model reward asks
   * nothing, so its run has no store.
   */
  readonly store?: LabelStore;
  /** Where progress lines and warnings go (silentLogger: nowhere). */
  readonly logger: Logger;
  /** Wall-clock time for the summary's wallSeconds (systemClock). */
  readonly clock: Clock;
  /** Optional progress bar (the CLI's); none by default. */
  readonly progress?: Progress;
  /**
   * Called with every row the loop logs to the run's metrics.jsonl, after it is written (PPO's
   * iteration metrics, each round's reward/* and teacher rows, each evaluation's eval/* row): a
   * script's own logging, plots or early checks, without reading the file back. An exception it
   * throws stops the run as any error does.
   */
  readonly onMetrics?: (step: number, row: Metrics) => void;
  /**
   * Resume: the last PPO checkpoint (and the file it came from) and the reward model saved with
   * it; lastFeedbackStep: the env step of the last feedback round at or before the checkpoint (the
   * run's metrics say), so the next round comes feedbackEvery steps after it as it would have
   * without the interruption (absent: a round at once).
   */
  readonly resume?: {
    readonly checkpoint: PpoCheckpoint;
    readonly source: string;
    readonly net: RewardNet | null;
    readonly lastFeedbackStep?: number;
    /** The evaluations logged up to the checkpoint ([env step, mean true return]): the summary's curve goes on from them. */
    readonly curve?: readonly (readonly [number, number])[];
    /** The reward metrics of the last feedback round before the checkpoint (the summary's, when no round follows). */
    readonly lastRound?: { readonly accuracy: number; readonly correlation: number; readonly epic: number };
  };
}

/** Where a run folder keeps its last PPO checkpoint (a `prefrl train` run's, or a script's runPreferenceLoop run's). */
export function checkpointFile(runPath: string): string {
  return join(runPath, 'artifacts', 'checkpoint', 'checkpoint.json');
}

/** A run's checkpoint.json, its shape checked (a damaged one names the file and field before anything is resumed from it). */
export function readCheckpoint(file: string): PpoCheckpoint {
  let ck: unknown;
  try {
    ck = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new InputError(file, `unreadable checkpoint (${(e as Error).message}); delete it to restart the run from its stored labels`);
  }
  checkPpoCheckpoint(ck, file);
  return ck;
}

/** What readLoopResume found in a stopped run's folder. */
export interface LoopResume {
  /** LoopOptions.resume, or undefined when the run stopped before its first checkpoint (run it again from the start: its stored labels are kept and not asked again). */
  readonly resume: NonNullable<LoopOptions['resume']> | undefined;
  /** Metrics rows logged after the checkpoint, dropped from metrics.jsonl (the resumed run logs those steps anew). */
  readonly droppedMetrics: number;
}

/**
 * Read what a stopped run needs to go on from its folder, as `prefrl train --resume` does: the last
 * PPO checkpoint (checked; a damaged one is an error naming the file), the env step of its last
 * feedback round, the evaluations logged so far and the last round's reward metrics (from
 * metrics.jsonl), and the reward model saved with the checkpoint (artifacts/reward_model; null
 * when none was saved yet, or with `loadRewardModel: false`). First it drops the metrics rows
 * logged after the checkpoint (and a line cut off by a kill), so call it before `openRunDir` opens
 * the folder's log. Then give `resume` to runPreferenceLoop with the run's own options, its
 * `openRunDir(path)` and its label store (`LabelStore.open(join(path, 'labels.sqlite'))`); the
 * loop owns the reward model from then on. The run goes on where the checkpoint left it.
 */
export function readLoopResume(runPath: string, opts: { readonly loadRewardModel?: boolean } = {}): LoopResume {
  if (typeof runPath !== 'string') throw new TypeError(`readLoopResume: runPath must be a run folder's path (a string), got ${typeof runPath}`);
  const abs = resolve(runPath);
  if (!existsSync(abs)) throw new InputError(runPath, 'no such run folder');
  const ckFile = checkpointFile(abs);
  const checkpoint = existsSync(ckFile) ? readCheckpoint(ckFile) : undefined;
  const metricsFile = join(abs, 'metrics.jsonl');
  const cut = existsSync(metricsFile) ? truncateMetrics(metricsFile, checkpoint ? checkpoint.globalStep : -1) : { dropped: 0, kept: [] };
  if (!checkpoint) return { resume: undefined, droppedMetrics: cut.dropped };
  const num = (v: unknown): number => (typeof v === 'number' ? v : Number.NaN);
  const rounds = cut.kept.filter((r) => typeof r.step === 'number' && 'teacher/labels' in r).map((r) => r.step as number);
  // The summary goes on from what was logged: the evaluations so far and the last round's reward metrics.
  const curve = cut.kept.filter((r) => typeof r.step === 'number' && typeof r['eval/true_return'] === 'number').map((r) => [r.step as number, r['eval/true_return'] as number] as const);
  const trained = cut.kept.filter((r) => 'reward/val_accuracy' in r).at(-1);
  const netDir = join(abs, 'artifacts', 'reward_model');
  const net = opts.loadRewardModel !== false && existsSync(join(netDir, 'model.json')) ? RewardNet.load(netDir) : null;
  return {
    resume: {
      checkpoint,
      source: ckFile,
      net,
      lastFeedbackStep: rounds.length > 0 ? Math.max(...rounds) : undefined,
      curve,
      ...(trained ? { lastRound: { accuracy: num(trained['reward/val_accuracy']), correlation: num(trained['reward/pearson']), epic: num(trained['reward/epic']) } } : {}),
    },
    droppedMetrics: cut.dropped,
  };
}

/**
 * The reward ensemble's training length per round when LoopOptions.rewardTrain leaves it out:
 * the defaults of `prefrl train` (--reward-epochs, --reward-patience), so a script that passes
 * no rewardTrain trains as the command does.
 */
export const LOOP_REWARD_TRAIN_DEFAULTS = { epochs: 20, patience: 3 } as const;

export interface LoopSummary {
  readonly env: string;
  readonly reward: 'learned' | 'true' | 'model';
  readonly teacher: string | null;
  readonly preferenceModel: PreferenceModelKind | null;
  /** Mean true return of the final policy over the evaluation episodes. */
  readonly finalTrueReturn: number;
  readonly finalTrueReturns: readonly number[];
  readonly finalSuccess: number;
  /**
   * Answers the reward model was trained on (skips included, timeout skips not). It can pass the
   * budget, never by pairs the loop asked beyond it: with a human teacher, people may answer pairs
   * asked before (after their timeout, or left open by a stopped run) while the last round's pairs
   * are out. Their answers are kept and trained on, and labelsOverBudget says by how many.
   */
  readonly labelsUsed: number;
  /** How many answers labelsUsed has beyond the budget (see there); present only when it has some. */
  readonly labelsOverBudget?: number;
  readonly envSteps: number;
  /** Env steps of the mean-action episodes added to the query pool (LoopOptions.queryRollouts), not in envSteps. */
  readonly queryRolloutSteps: number;
  readonly wallSeconds: number;
  /** Held-out preference accuracy of the reward model after the last round (NaN without one). */
  readonly rewardAccuracy: number;
  readonly rewardCorrelation: number;
  readonly epic: number;
  /** [env steps, mean true eval return] at each evaluation. */
  readonly curve: readonly (readonly [number, number])[];
}

/** Every option runPreferenceLoop reads (the type makes it list each key of LoopOptions, and no other). */
export const LOOP_OPTION_KEYS: Readonly<Record<keyof LoopOptions, true>> = {
  env: true, ppo: true, reward: true, rewardModel: true, rewardWeights: true, teacher: true, preferenceModel: true, budget: true, poolTop: true,
  labelsPerRound: true, segmentLength: true, query: true, oversample: true, feedbackEvery: true, warmupSteps: true, poolEpisodes: true,
  terminalSegments: true, segmentWindows: true, pairScope: true, standardizeReward: true, queryRollouts: true, rewardNet: true, rewardInit: true,
  rewardTrain: true, selectInputsAfter: true, selectInputs: true, evalEpisodes: true, evalEvery: true, run: true, store: true, logger: true,
  clock: true, progress: true, onMetrics: true, resume: true, runLongerAdvice: true,
};

/**
 * `prefrl train`'s flags (camelCase, as scripts/commands/train.ts names them) whose option here
 * has another name or place: a script that writes the flag's name gets an error saying where it
 * goes. The rest of the flags have options of their own name (labelsPerRound, query, ...) or
 * belong to the command (json, quiet). docs/library.md's table of every flag says the same
 * (test/lib_train_flags.test.ts checks the two against each other).
 */
export const TRAIN_FLAG_OPTIONS: Readonly<Record<string, string>> = {
  labels: 'budget',
  steps: 'ppo.totalSteps',
  numEnvs: 'ppo.numEnvs',
  numSteps: 'ppo.numSteps',
  workers: 'ppo.workers',
  inlineEnvs: 'ppo.inlineEnvs',
  lr: 'ppo.lr',
  seed: 'ppo.seed',
  rewardStandardize: 'standardizeReward',
  rewardInput: 'rewardNet.input',
  rewardHidden: 'rewardNet.hidden',
  rewardMembers: 'rewardNet.members',
  rewardIgnoreObs: 'rewardNet.ignoreObs',
  rewardAdditive: 'rewardNet.additive',
  rewardOutputInit: 'rewardInit.outputScale',
  rewardSelectInputs: 'selectInputsAfter',
  rewardSelectWorkers: 'selectInputs.workers',
  rewardEpochs: 'rewardTrain.epochs',
  rewardPatience: 'rewardTrain.patience',
  rewardLr: 'rewardTrain.lr',
  rewardWeightDecay: 'rewardTrain.weightDecay',
  rewardInputL1: 'rewardTrain.inputL1',
  rewardInputProx: 'rewardTrain.inputProx',
  rewardFlipRate: 'rewardTrain.flipRate',
  rewardValFraction: 'rewardTrain.valFraction',
};

/** `--reward-val-fraction` for rewardValFraction. */
function kebabFlag(key: string): string {
  return `--${key.replace(/[A-Z0-9]+/g, (m) => `-${m.toLowerCase()}`)}`;
}

/**
 * The warm-up a run of `totalSteps` env steps takes when `warmupSteps` are asked for: at most a
 * quarter of the run (a warm-up as long as the whole run would leave no steps to learn from the
 * labels). PPO then collects whole rollouts, so it ends at the first rollout end at or past this.
 */
export function loopWarmupSteps(warmupSteps: number, totalSteps: number): number {
  return Math.min(warmupSteps, Math.floor(totalSteps / 4));
}

/**
 * The env steps between feedback rounds that `prefrl train` takes without --feedback-every, and
 * runPreferenceLoop without `feedbackEvery`: the label budget spread over the first half of
 * training, max(numEnvs x numSteps, floor((totalSteps - warmupSteps) / (2 x ceil(budget /
 * labelsPerRound)))), numEnvs and numSteps as `ppo` gives them or PPO_DEFAULTS (4 and 512, the
 * command's defaults too).
 */
export function loopFeedbackEvery(o: Pick<LoopOptions, 'ppo' | 'warmupSteps' | 'budget' | 'labelsPerRound'>): number {
  const rollout = (o.ppo.numEnvs ?? PPO_DEFAULTS.numEnvs) * (o.ppo.numSteps ?? PPO_DEFAULTS.numSteps);
  const rounds = Math.max(1, Math.ceil(o.budget / o.labelsPerRound));
  return Math.max(rollout, Math.floor((o.ppo.totalSteps - o.warmupSteps) / (2 * rounds)));
}

/** The options given a value (an option written as undefined takes its default, as when left out). */
function definedOnly<T extends object>(o: T | undefined): Partial<T> {
  return Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * The options' numbers and names, checked before anything starts: the CLI's flags check theirs,
 * but a script's typo ('learnt') or NaN would otherwise run to the end without a word (a reward
 * kind not known trained on the true reward; a NaN budget asked nothing).
 */
function checkLoopOptions(o: LoopOptions): void {
  const fail = (name: string, want: string, v: unknown, E: new (m: string) => Error = RangeError): never => {
    throw new E(`runPreferenceLoop: option ${name} must be ${want}, got ${shownArg(v)}`);
  };
  const int = (name: string, v: unknown, min: number, optional = false): void => {
    if (v === undefined && optional) return;
    if (typeof v !== 'number') fail(name, `a whole number >= ${min}`, v, TypeError);
    if (!Number.isSafeInteger(v) || (v as number) < min) fail(name, `a whole number >= ${min}`, v);
  };
  if (typeof o !== 'object' || o === null) throw new TypeError(`runPreferenceLoop: options must be an object (LoopOptions), got ${shownArg(o)}`);
  // A misspelt option, or one written with its flag's name (labels for budget), would be ignored
  // without a word and the run made with the default, or fail later as a missing option.
  const unknown = Object.keys(o).filter((k) => !Object.hasOwn(LOOP_OPTION_KEYS, k));
  if (unknown.length > 0) {
    const said = unknown.map((k) => (Object.hasOwn(TRAIN_FLAG_OPTIONS, k) ? `${k} (prefrl train's ${kebabFlag(k)} is option ${TRAIN_FLAG_OPTIONS[k]} here)` : k));
    throw new TypeError(`runPreferenceLoop: unknown option${unknown.length > 1 ? 's' : ''} ${said.join(', ')}; docs/library.md maps every prefrl train flag to its option`);
  }
  if (!(['learned', 'true', 'model'] as unknown[]).includes(o.reward)) fail('reward', "'learned', 'true' or 'model'", o.reward);
  checkEnvConfigObject(o.env, 'runPreferenceLoop: option env');
  // The reward model's settings are read only at the first feedback round, after the warm-up: a misspelt one is refused now.
  if (typeof o.rewardNet === 'object' && o.rewardNet !== null) {
    const unknownNet = unknownRewardNetFields(o.rewardNet);
    if (unknownNet.length > 0) throw unknownRewardNetFieldsError(unknownNet, 'runPreferenceLoop: option rewardNet');
  }
  if (typeof o.rewardTrain === 'object' && o.rewardTrain !== null) {
    const unknownTrain = unknownTrainOptions(o.rewardTrain);
    if (unknownTrain.length > 0) throw unknownTrainOptionsError(unknownTrain, 'runPreferenceLoop: option rewardTrain');
  }
  if (typeof o.ppo !== 'object' || o.ppo === null) fail('ppo', 'an object with totalSteps and seed', o.ppo, TypeError);
  int('ppo.totalSteps', o.ppo.totalSteps, 1);
  if (typeof o.ppo.seed !== 'number' || !Number.isFinite(o.ppo.seed)) fail('ppo.seed', 'a finite number', o.ppo.seed, TypeError);
  const learned = o.reward === 'learned';
  int('budget', o.budget, learned ? 1 : 0);
  int('labelsPerRound', o.labelsPerRound, 1);
  int('segmentLength', o.segmentLength, 2);
  int('feedbackEvery', o.feedbackEvery, 1, true);
  int('warmupSteps', o.warmupSteps, 0);
  int('poolEpisodes', o.poolEpisodes, 1);
  int('evalEpisodes', o.evalEpisodes, 1);
  int('evalEvery', o.evalEvery, 1);
  int('oversample', o.oversample, 1, true);
  int('queryRollouts', o.queryRollouts, 0, true);
  if (o.onMetrics !== undefined && typeof o.onMetrics !== 'function') fail('onMetrics', 'a function (step, row) => void', o.onMetrics, TypeError);
  if (o.poolTop !== undefined && !(typeof o.poolTop === 'number' && o.poolTop > 0 && o.poolTop <= 1)) fail('poolTop', 'a number in (0, 1]', o.poolTop);
  // A run closed before the loop (run.close()) failed at its first metrics row, after PPO's set-up and warm-up.
  if (typeof o.run !== 'object' || o.run === null || typeof o.run.artifact !== 'function') fail('run', 'a RunDir (createRunDir or openRunDir)', o.run, TypeError);
  if (o.run.metrics?.closed) throw new Error(`runPreferenceLoop: option run (${o.run.path}) was closed (run.close()); close it after the loop`);
  if (learned) {
    if (typeof o.store !== 'object' || o.store === null) fail('store', "a LabelStore (LabelStore.open) for reward 'learned'", o.store, TypeError);
    if (!(PREFERENCE_MODELS as readonly unknown[]).includes(o.preferenceModel)) fail('preferenceModel', PREFERENCE_MODELS.map((m) => `'${m}'`).join(' or '), o.preferenceModel);
    if (!(QUERY_METHODS as readonly unknown[]).includes(o.query)) fail('query', `one of ${QUERY_METHODS.join(', ')}`, o.query);
  }
}

/**
 * What the teacher counts itself (Teacher.metrics: the VLM teachers' requests, tokens and answers,
 * a script's teacher's own counts), for each round's row of metrics.jsonl; the loop never read it,
 * so a `prefrl train --teacher vlm` run logged none of it. A key without a '/' goes under
 * `teacher/` ("flips": "teacher/flips"); the loop's own teacher/* keys come after and win.
 */
function teacherOwnMetrics(teacher: Teacher): Metrics {
  const own = teacher.metrics?.();
  if (own === undefined || own === null) return {};
  if (typeof own !== 'object') throw new TypeError(`runPreferenceLoop: teacher ${teacher.id}'s metrics() must return an object of numbers, strings or booleans by name, got ${shownArg(own)}`);
  const out: Metrics = {};
  for (const [k, v] of Object.entries(own)) {
    const key = k.includes('/') ? k : `teacher/${k}`;
    if (!isMetricKey(key)) throw new RangeError(`runPreferenceLoop: teacher ${teacher.id}'s metrics() gave the key ${JSON.stringify(k)}; keys are letters, digits and _ (a "group/" prefix optional, e.g. "teacher/flips")`);
    out[key] = v;
  }
  return out;
}

/**
 * The teacher's answer to one round, as reward/types.ts's Teacher promises it: one label per pair,
 * in the pairs' order. A teacher of a script's own that answers fewer would otherwise let the run
 * finish with fewer labels (none: PPO on a reward of 0) and no word.
 */
function checkAnswer(teacher: Teacher, asked: readonly Pair[], labels: readonly Label[]): void {
  if (!Array.isArray(labels)) throw new TypeError(`runPreferenceLoop: teacher ${teacher.id} answered with ${shownArg(labels)}, not an array of labels`);
  const bad = labels.length === asked.length ? labels.findIndex((l, i) => l?.pairId !== asked[i].id) : -1;
  if (labels.length !== asked.length || bad >= 0) {
    const what = bad >= 0 ? `label ${bad} is for pair ${shownArg(labels[bad]?.pairId)}, not ${asked[bad].id}` : `${labels.length} labels for ${asked.length} pairs`;
    throw new Error(`runPreferenceLoop: teacher ${teacher.id} must answer one label per pair, in the pairs' order (reward/types.ts Teacher.label): ${what}`);
  }
}

interface Round {
  labels: number;
  accuracy: number;
  correlation: number;
  epic: number;
}

/**
 * Run the loop to the env-step budget (`ppo.totalSteps`): PPO collects experience; every
 * `feedbackEvery` env steps (after `warmupSteps`) the teacher labels `labelsPerRound` pairs of
 * segments from recent episodes until `budget` labels are used, and the reward ensemble is
 * trained on every stored label; PPO learns from its prediction. Returns the summary; the run
 * folder holds the rest. The caller closes run and store (and the teacher) afterwards; the loop
 * disposes the reward models it made or was given. Its options are checked first (a RangeError or
 * TypeError naming the option), and so is every answer of the teacher (one label per pair, in order).
 */
export async function runPreferenceLoop(options: LoopOptions): Promise<LoopSummary> {
  checkLoopOptions(options);
  const o = { ...options, feedbackEvery: options.feedbackEvery ?? loopFeedbackEvery(options) };
  const start = o.clock.now();
  // Every metrics row goes to the run's metrics.jsonl, then to the script's onMetrics.
  const logMetrics = (step: number, row: Metrics): void => {
    o.run.metrics.log(step, row);
    o.onMetrics?.(step, row);
  };
  const learned = o.reward === 'learned';
  if (learned && !o.teacher) throw new Error('runPreferenceLoop: a teacher is needed for a learned reward');
  if (o.rewardWeights && o.reward !== 'true') throw new Error('runPreferenceLoop: rewardWeights apply to the true reward only');
  if ((o.reward === 'model') !== Boolean(o.rewardModel)) throw new Error("runPreferenceLoop: a rewardModel goes with reward 'model', and only there");
  const rng = new Rng(o.ppo.seed).fork('preference-loop');
  const episodes: Trajectory[] = [];
  // The loop owns the models it is given from here on, on every path out: a resumed run goes on
  // with the model saved in it (which may be the fixed model itself, passed as both).
  let net: RewardNet | null = o.resume?.net ?? o.rewardModel ?? null;
  // Models that have been trained before (a resumed or given one, or an earlier round's): for the
  // wording of the warning when a training round keeps a model's weights.
  const trainedBefore = new WeakSet<RewardNet>();
  if (net) trainedBefore.add(net);
  if (o.resume?.net && o.rewardModel && o.rewardModel !== o.resume.net) o.rewardModel.dispose();
  // A resumed trainer records episodes too: the query pool refills from its rollouts.
  // The longest episode seen: for the warning when none is long enough for a segment.
  let longestEpisode = 0;
  const onEpisode = (t: Trajectory): void => {
    longestEpisode = Math.max(longestEpisode, t.length);
    episodes.push(t);
  };
  const trainer = await PpoTrainer.create({ env: o.env, config: o.ppo, onEpisode: learned ? onEpisode : undefined }).catch((e: unknown) => {
    net?.dispose();
    throw e;
  });
  let scratch: Env | null = null;
  try {
    if (o.resume) trainer.restore(o.resume.checkpoint, o.resume.source);
    scratch = learned ? await makeEnv(o.env) : null;
  } catch (e) {
    net?.dispose();
    await trainer.close();
    throw e;
  }
  const curve: [number, number][] = (o.resume?.curve ?? []).map(([step, ret]) => [step, ret]);
  const recent: EpisodeStats[] = [];
  // Saved in the reward model's meta every round, so a resumed run keeps counting.
  let queryRolloutSteps = typeof o.resume?.net?.meta.queryRolloutSteps === 'number' ? (o.resume.net.meta.queryRolloutSteps as number) : 0;
  const before = o.resume?.lastRound;
  // The --labels budget counts answers: pairs nobody answered before the human teacher's timeout
  // (timeout skips, reward/store.ts) do not use it up, so a resumed run asks again.
  const answers = (): number => o.store?.answerCount() ?? 0;
  /**
   * Stored preference labels the reward model has not been trained on: all of them without a
   * model, those beyond its meta's trainedPreferences with one (a model saved without that
   * count, by an older version, is taken as trained on every stored label).
   */
  const untrainedPreferences = (): number => {
    if (!learned) return 0;
    const stored = (o.store as LabelStore).counts().preferences;
    const trained = net === null ? 0 : typeof net.meta.trainedPreferences === 'number' ? net.meta.trainedPreferences : stored;
    return Math.max(0, stored - trained);
  };
  /**
   * A round asks for at most what the budget has left when it starts (budget - answers), and a
   * pair nobody answered in time (a timeout skip) is asked again in its place; so the loop never
   * asks beyond the budget. But people's answers to pairs asked before (one answered after its
   * timeout, the open pairs of a stopped run, which the viewer still hands out) count when they
   * come, also while the last round's pairs are out: the answers can pass the budget. They are
   * never thrown away (a person gave them; they are in the store and train the model), and the
   * log and the summary say so. " (N over the budget: ...)" for the round lines, else "".
   */
  const overBudgetText = (): string => {
    const over = last.labels - o.budget;
    return over > 0 ? ` (${over} over the --labels budget: people's answers to pairs asked before, after their timeout or left open by a stopped run, are kept and trained on)` : '';
  };
  let last: Round = { labels: answers(), accuracy: before?.accuracy ?? Number.NaN, correlation: before?.correlation ?? Number.NaN, epic: before?.epic ?? Number.NaN };
  try {
    // Affine map applied to the ensemble mean (identity unless standardizeReward); saved in the
    // model's meta so a resumed run goes on with the same reward.
    let affine = readAffine(net);
    const modelFn: RewardFn = (batch) => {
      if (!net) return new Float32Array(batch.n);
      const r = net.predict(batch);
      if (affine.scale !== 1 || affine.shift !== 0) for (let i = 0; i < r.length; i++) r[i] = (r[i] - affine.shift) * affine.scale;
      return r;
    };
    if (learned || o.reward === 'model') trainer.rewardFn = modelFn;
    else if (o.rewardWeights) trainer.rewardFn = weightedTermsReward(o.rewardWeights);
    // A fixed model is copied into the run at once, so a resumed run finds the reward it trained on.
    if (o.reward === 'model' && !o.resume?.net) net!.save(o.run.artifact('reward_model'));
    const cut = { length: o.segmentLength, source: o.run.path, terminal: o.terminalSegments ?? 'pad' } as const;
    /**
     * A run with no checkpoint to resume from (a new one, or one stopped before its first
     * checkpoint and started over from env step 0 with the labels it stored) replays its rounds:
     * its envs, policy and random streams are those of the stopped session, so each round draws
     * the pairs that session stored for it again; those already answered are not asked twice and
     * their labels count for that round. The run then ends as an uninterrupted one would. (Stored
     * labels that already spend the whole budget get the catch-up round instead, at the first
     * feedback step: the model is trained on all of them there, which repeats the stopped run
     * exactly only when they were all stored in one round.)
     */
    const replay = !o.resume;
    /**
     * The labelled pairs read so far (pair id -> Pair), kept across rounds: each round reads every
     * label again (store.labelledPairs, so labels added or undone by another process are seen)
     * but decodes only the segments of pairs not read before. Stored pairs never change (a pair
     * id names fixed segments, see labelledPairs in reward/store.ts), so a cached pair is the one
     * a fresh read would give. The store keeps it to the labelled pairs (it holds what `all`
     * below held each round).
     */
    const labelledCache = new Map<string, Pair>();
    const pool = (round: number): Segment[] => {
      // The newest poolEpisodes episodes, and older ones while the pool is short of segments.
      // Random windows: one offset per episode (newest first), drawn from the round's stream.
      const offRng = rng.fork(`pool-offsets-${round}`);
      const offsets: number[] = [];
      let m = 0;
      let n = 0;
      while (m < episodes.length && (m < o.poolEpisodes || n < MIN_POOL_SEGMENTS)) {
        const ep = episodes[episodes.length - 1 - m];
        const off = o.segmentWindows === 'random' ? randomOffsets([ep], cut, offRng)[0] : 0;
        offsets.push(off);
        n += windowCount(ep, cut, off);
        m++;
      }
      return cutSegments(episodes.slice(episodes.length - m), { ...cut, offsets: offsets.reverse() });
    };

    /**
     * One feedback round; false when the pool has too few segments yet (try again later). With
     * the budget spent but stored preferences the reward model was not trained on (a run stopped
     * between storing a round's labels and saving the model it trained on them), a catch-up
     * round: no new queries, the model is trained on the stored labels.
     */
    /** Whether a round of this session has trained the reward model (for the words of a catch-up round). */
    let trainedThisSession = false;
    const feedback = async (round: number): Promise<boolean> => {
      const teacher = o.teacher as Teacher;
      const store = o.store as LabelStore;
      // Answers stored since the last round (people answering older pairs in the viewer, or through
      // a prefrl serve of the store) count before this round's share is fixed: asked for what the
      // budget had left at the last round, it would ask beyond the budget.
      last = { ...last, labels: answers() };
      // Stored labels that spend the whole budget, and a model not trained on all of them: a catch-up round.
      const catchUp = last.labels >= o.budget && untrainedPreferences() > 0;
      // The labels an earlier session stored for this round's pairs (a run started over, see
      // `replay`): they count as this round's, not as labels spent before it.
      const replayed = replay && !catchUp ? store.labelledPairs({ includeSkips: true, round, cache: labelledCache }) : [];
      const replayedAnswers = replayed.reduce((n, lp) => n + lp.labels.filter((l) => !isTimeoutSkip(l)).length, 0);
      const k = catchUp ? 0 : Math.min(o.labelsPerRound, o.budget - (last.labels - replayedAnswers));
      // It goes on with the stopped round's number (its pool windows and random streams), as that round would have trained.
      // (The newest round with a preference label, read without decoding any segment.)
      if (catchUp) round = Math.max(0, store.labelledMaxRound() ?? 0);
      if (k > 0 && (o.queryRollouts ?? 0) > 0) {
        const extra = rollout(scratch!, trainer.policy.deterministic(), { episodes: o.queryRollouts!, seed: rng.fork(`query-rollouts-${round}-${trainer.globalStep}`).seed31() });
        for (const t of extra) queryRolloutSteps += t.length;
        episodes.push(...extra);
      }
      const segs = pool(round);
      if (k <= 0 && !catchUp) return true;
      if (segs.length < 2) return false;
      // B-Pref's margin follows the true returns of recent training episodes. Before any has
      // finished (no warm-up, or a resumed run) while --query-rollouts filled the pool, the
      // episodes the pool is cut from stand in (a skip/equal teacher cannot label without one).
      const basis = recent.length ? recent.map((e) => ({ ret: e.trueReturn, len: e.length })) : episodes.map((tr) => ({ ret: trajectoryReturn(tr), len: tr.length }));
      const ret = basis.length ? mean(basis.map((e) => e.ret)) : Number.NaN;
      const len = basis.length ? mean(basis.map((e) => e.len)) : trainer.spec.horizon;
      if (!catchUp) teacher.observe?.({ meanEpisodeReturn: ret, episodeLength: len, segmentLength: o.segmentLength, pool: segs });
      // Fresh candidates only: a pair already asked (this run or before a resume) is not asked again.
      const seen = new Set<string>();
      // With poolTop < 1 (once a model exists), pairs come from the best-predicted share of the pool.
      const top = net && o.poolTop !== undefined && o.poolTop < 1 ? topSegments(segs, net.segmentSums(segs), o.poolTop) : segs;
      // The query method actually used (a model-based one falls back to uniform before a model exists).
      let used: QueryMethod = o.query;
      // k-center starts from the pairs labelled in earlier rounds as centres (B-Pref's label
      // buffer), so this round's queries spread away from what is covered already. Earlier rounds
      // only: a run started over has later rounds' labels in its store too. Read before this
      // round's labels (people may add or undo labels on earlier pairs until `all` is read), through
      // the cache: `all` below decodes only this round's new pairs.
      const centres = o.query.startsWith('kcenter')
        ? store
            .labelledPairs({ cache: labelledCache })
            .filter((lp) => lp.round < round)
            .map((lp) => lp.pair)
        : undefined;
      /** Up to n fresh queries drawn by `draw` and chosen by the query method. */
      const pick = (draw: typeof samplePairs, n: number, tag: string): Pair[] => {
        if (n <= 0) return [];
        // No episode of the pool holds two segments yet (short episodes): no same-episode pair to draw.
        if (draw === sameEpisodePairs && !hasSameEpisodePair(top)) return [];
        const candidates = draw(top, n * (o.oversample ?? DEFAULT_OVERSAMPLE), rng.fork(`candidates-${round}${tag}`)).filter((p) => {
          const info = store.pairInfo(p.id);
          // A pair stored before is not asked again, unless a run started over draws it again in the round that stored it.
          if (seen.has(p.id) || (info && !(replay && info.round === round))) return false;
          seen.add(p.id);
          return true;
        });
        if (candidates.length === 0) return [];
        const sel = selectQueries(candidates, Math.min(n, candidates.length), o.query, {
          rng: rng.fork(`select-${round}${tag}`),
          predict: net ? (p) => (net as RewardNet).pairProbs(p) : undefined,
          labelled: centres,
        });
        used = sel.used;
        return sel.pairs;
      };
      // mixed: half the round's queries (rounded down) within an episode, the rest from the whole
      // pool (all of them while no episode of the pool holds two segments).
      const within = o.pairScope === 'mixed' && hasSameEpisodePair(top) ? Math.floor(k / 2) : 0;
      const pickAll = (): Pair[] =>
        o.pairScope === 'episode'
          ? pick(sameEpisodePairs, k, '')
          : o.pairScope === 'mixed'
            ? [...pick(sameEpisodePairs, within, '-within'), ...pick(samplePairs, k - within, '-across')]
            : pick(samplePairs, k, '');
      if (catchUp) {
        o.logger.info(
          `round ${round}: the reward model was not trained on ${untrainedPreferences()} of the ${store.counts().preferences} stored preference labels (${trainedThisSession ? "people answered pairs asked before after the last round's training had read the labels" : 'the run was stopped during a feedback round'}): training it on them, with no new queries (the --labels budget is spent)`,
        );
      }
      const picked = catchUp ? [] : pickAll();
      if (!catchUp && picked.length === 0) return false;
      // Pairs of this round answered before the run started over are not asked twice.
      const answered = new Set(replayed.map((lp) => lp.pair.id));
      const asked = picked.filter((p) => !answered.has(p.id));
      if (asked.length > 0) store.putPairs(asked, { round });
      const labels = asked.length > 0 ? await teacher.label(asked) : [];
      checkAnswer(teacher, asked, labels);
      if (labels.length > 0) store.addLabels(labels);
      // Train on every label collected so far (the store is the source of truth, also on resume).
      const all = store.labelledPairs({ cache: labelledCache });
      // The answers this round trains on: those stored when `all` was read (answers that come while
      // the model trains count from the next round on, if one comes).
      const answersRead = answers();
      const pairs: Pair[] = [];
      const lab: Label[] = [];
      for (const lp of all) {
        for (const l of lp.labels) {
          pairs.push(lp.pair);
          lab.push(l);
        }
      }
      let selection: (InputSelection & { seconds: number; kept: boolean }) | null = null;
      const prefs = lab.filter((l) => l.kind !== 'skip').length;
      const skips = [...labels, ...replayed.filter((lp) => picked.some((p) => p.id === lp.pair.id)).flatMap((lp) => lp.labels)].filter((l) => l.kind === 'skip').length;
      // What every round logs about the teacher and the query pool.
      const teacherMetrics = (): Metrics => ({
        ...teacherOwnMetrics(teacher),
        'teacher/labels': last.labels,
        'teacher/round_skips': skips,
        'teacher/pool_segments': segs.length,
        ...(top !== segs ? { 'teacher/pool_top_segments': top.length } : {}),
        'teacher/query_method': used,
        ...((o.queryRollouts ?? 0) > 0 ? { 'teacher/query_rollout_steps': queryRolloutSteps } : {}),
      });
      if (prefs === 0) {
        // Only skips so far (a teacher that cannot tell the segments apart yet, or nobody
        // answering): nothing to train a reward model on. The labels count against the budget;
        // PPO goes on with the reward it has (r = 0 before any model) and the next round asks again.
        last = { ...last, labels: answersRead };
        logMetrics(trainer.globalStep, teacherMetrics());
        const more = last.labels < o.budget;
        o.logger.warn(
          `round ${round}: ${last.labels}/${o.budget} labels${overBudgetText()}, and all ${skips} of this round are skips: ${noPreferenceText(teacher.id, store.labels())}, so the reward model is not trained this round` +
            (more
              ? `; PPO goes on with ${net ? 'the current reward model' : 'an untrained reward (r = 0)'} and the next round, in ${o.feedbackEvery} env steps, asks again`
              : ''),
        );
        return true;
      }
      const passed = selectionCountsPassed(o.selectInputsAfter, prefs);
      if (passed > selectionsDone(net)) {
        const t0 = o.clock.now();
        const workers = selectionWorkers(o.selectInputs?.workers);
        o.logger.info(`choosing the reward model's inputs from ${prefs} preference labels (forward selection, cross-validated${workers > 0 ? `, ${workers} worker threads` : ''})...`);
        const sel = await selectInputs(pairs, lab, {
          ...o.selectInputs,
          workers,
          input: o.rewardNet?.input ?? 'obs-action',
          obsDim: trainer.spec.obsDim,
          actDim: trainer.spec.actDim,
          ignoreObs: o.rewardNet?.ignoreObs,
          preferenceModel: o.preferenceModel,
          rng: rng.fork(passed === 1 ? 'select-inputs' : `select-inputs-${passed}`),
          onStep: (st) => o.logger.info(`  input selection: best addition ${unitName(st.unit)}, cross-validated NLL ${st.nll.toFixed(4)}, accuracy ${fmt(st.accuracy)}${st.kept ? '' : ' (not enough gain: stop)'}`),
        });
        const seconds = (o.clock.now() - t0) / 1000;
        const record = { ...selectionRecord(sel), seconds, selection: passed };
        const history = [...((net?.meta.inputSelectionHistory as unknown[] | undefined) ?? (net?.meta.inputSelection ? [net.meta.inputSelection] : [])), record];
        // A model already made on a selection that chose these same inputs is kept; otherwise it is made anew on them.
        const kept = net !== null && net.meta.inputSelection !== undefined && sameInputs(net.config, sel);
        selection = { ...sel, seconds, kept };
        if (!kept || net === null) {
          net?.dispose();
          net = null; // so a failure below does not dispose it twice on the way out
          net = RewardNet.create(
            { ...o.rewardNet, input: sel.input, ignoreObs: sel.ignoreObs, obsDim: trainer.spec.obsDim, actDim: trainer.spec.actDim, preferenceModel: o.preferenceModel },
            rng.fork(passed === 1 ? 'reward-net-selected' : `reward-net-selected-${passed}`),
            o.rewardInit,
          );
        }
        net.meta = { ...net.meta, inputSelection: record, inputSelectionHistory: history };
        o.logger.info(
          `input selection ${passed}: the reward model ${kept ? 'keeps' : 'now sees'} ${describeSelection(sel)} (${sel.fits} candidate sets in ${seconds.toFixed(0)} s)${kept ? '' : '; it is trained anew on them'}`,
        );
        writeJsonAtomic(o.run.artifact('input_selection.json'), history.length > 1 ? { ...record, history } : record);
      }
      if (!net) net = RewardNet.create({ ...o.rewardNet, obsDim: trainer.spec.obsDim, actDim: trainer.spec.actDim, preferenceModel: o.preferenceModel }, rng.fork('reward-net'), o.rewardInit);
      const trainStart = o.clock.now();
      const fresh = !trainedBefore.has(net);
      const res = await trainRewardModel(net, pairs, lab, { ...LOOP_REWARD_TRAIN_DEFAULTS, ...definedOnly(o.rewardTrain), preferenceModel: o.preferenceModel, rng: rng.fork(`train-${round}`) });
      trainedBefore.add(net);
      trainedThisSession = true;
      const warning = noImprovementWarning(res, fresh ? 'initial' : 'previous');
      if (warning) o.logger.warn(`round ${round}: ${warning}`);
      const trainSeconds = (o.clock.now() - trainStart) / 1000;
      const truth = segs.map(segmentReturn);
      const sums = net.segmentSums(segs);
      const pred = meanOverMembers(sums, net.members, new Float64Array(segs.length));
      const corr = returnCorrelation(pred, truth);
      const ep = epicPool(episodes.slice(-2));
      const epic = epicDistance(envReward(scratch!, ep.states), modelReward(net, ep.obs, ep.obsDim), subsample(ep.transitions, 256, trainer.spec.actDim, rng.fork(`epic-${round}`)), {
        nStates: ep.states.length,
        actDim: ep.actDim,
        actions: { kind: 'pool', actions: ep.actions },
        gamma: o.ppo.gamma ?? 0.99,
        samples: 32,
        rng: rng.fork(`epic-samples-${round}`),
      });
      last = { labels: answersRead, accuracy: res.valAccuracy, correlation: corr.pearson, epic: epic.distance };
      logMetrics(trainer.globalStep, {
        ...teacherMetrics(),
        ...(catchUp ? { 'reward/catch_up': 1 } : {}),
        'reward/val_accuracy': res.valAccuracy,
        'reward/val_nll': res.valNll,
        'reward/pearson': corr.pearson,
        'reward/spearman': corr.spearman,
        'reward/epic': epic.distance,
        'reward/train_pairs': res.trainPairs,
        'reward/epochs': res.epochs.length,
        'reward/train_seconds': trainSeconds,
        ...(selection
          ? {
              'reward/selected_obs': selection.keepObs.length,
              'reward/selected_action': selection.keepAction ? 1 : 0,
              'reward/selection_nll': selection.steps.filter((st) => st.kept).at(-1)?.nll ?? selection.baselineNll,
              'reward/selection_seconds': selection.seconds,
              'reward/selection_kept_model': selection.kept ? 1 : 0,
            }
          : {}),
      });
      if (o.standardizeReward) {
        affine = standardization(net, segs);
        net.meta = { ...net.meta, rewardAffine: affine };
        logMetrics(trainer.globalStep, { 'reward/standardize_mean': affine.shift, 'reward/standardize_std': 1 / affine.scale });
      }
      if ((o.queryRollouts ?? 0) > 0) net.meta = { ...net.meta, queryRolloutSteps };
      // How many preference labels it has been trained on: a resumed run trains it on any stored after.
      net.meta = { ...net.meta, trainedPreferences: prefs };
      net.save(o.run.artifact('reward_model'));
      o.logger.info(
        `round ${round}: ${last.labels}/${o.budget} labels${overBudgetText()} (${catchUp ? 'no new queries' : `${skips} skipped, ${used}`}), held-out acc ${fmt(res.valAccuracy)}, return corr ${fmt(corr.pearson)}, EPIC ${fmt(epic.distance)}, ${res.epochs.length} epochs in ${trainSeconds.toFixed(1)} s`,
      );
      return true;
    };

    /** `checkpoint` false: log the evaluation, save no checkpoint (see the step-0 one below). */
    const evaluate = async (checkpoint = true): Promise<void> => {
      const ev = await trainer.evaluate(o.evalEpisodes, o.env);
      curve.push([trainer.globalStep, ev.meanReturn]);
      logMetrics(trainer.globalStep, { 'eval/true_return': ev.meanReturn, 'eval/success': ev.meanSuccess, 'eval/length': ev.meanLength });
      if (checkpoint) trainer.save(o.run.artifact('checkpoint'), o.env);
    };

    /** A learned reward whose whole budget went to skips can never be trained: stop with an error naming the teacher. */
    const checkPreferences = (): void => {
      if (!learned || !o.store || last.labels < o.budget) return;
      const stored = o.store.labels().filter((l) => !isTimeoutSkip(l));
      if (stored.length === 0 || stored.some((l) => l.kind !== 'skip')) return;
      throw new InputError(
        o.store.path,
        `${noPreferenceText((o.teacher as Teacher).id, stored)} in all ${stored.length} labels of the --labels budget; no reward model can be learned from them, so the run stops at ${trainer.globalStep} env steps (try another --teacher, or more --labels; from a script: another teacher, or a larger budget)`,
      );
    };
    checkPreferences();
    // Rounds go on from the stored labels, timeouts included (a round number names its pairs' draw);
    // a run started over counts them again from 0 (see `replay`).
    let round = replay || !o.store ? 0 : Math.ceil(o.store.counts().labels / o.labelsPerRound);
    /** Env steps of one PPO rollout: PPO steps (and warms up) this many at a time. */
    const rolloutSteps = trainer.config.numEnvs * trainer.config.numSteps;
    /** Env steps at the end of this session's warm-up (-1 without one), and whether a feedback round was due at all. */
    let warmupSteps = -1;
    let feedbackTried = false;
    /** Whether the untrained policy was evaluated (at step 0, before the warm-up) already. */
    let evaluatedAtStart = false;
    if (learned && trainer.globalStep === 0) {
      // The untrained policy at step 0, as a true-reward run evaluates it: curves of both kinds
      // start at the same step (the warm-up changes the policy before the first rollout ends).
      // Evaluation has its own env and seed, so the training that follows is the same. No
      // checkpoint: a run stopped before its next evaluation starts over (as it did before this
      // evaluation was made), and readLoopResume drops this row with the rest.
      if (!o.resume) {
        await evaluate(false);
        evaluatedAtStart = true;
      }
      const warmup = loopWarmupSteps(o.warmupSteps, o.ppo.totalSteps);
      if (warmup < o.warmupSteps) {
        // PPO collects whole rollouts: say what the warm-up then takes when that is more.
        const taken = Math.ceil(warmup / rolloutSteps) * rolloutSteps;
        const rounded = taken > warmup ? `; it collects whole rollouts of ${rolloutSteps} env steps, so it takes ${taken}` : '';
        o.logger.warn(`warm-up shortened from ${o.warmupSteps} to ${warmup} env steps (a quarter of the ${o.ppo.totalSteps} steps of the run)${rounded}`);
      }
      recent.push(...(await trainer.warmup(warmup)));
      warmupSteps = trainer.globalStep;
      o.progress?.update(trainer.globalStep);
    }
    // A resumed run goes on with the round schedule it had (the next round feedbackEvery steps
    // after the last one), and does not evaluate again at the checkpoint's step: the checkpoint
    // was saved right after that evaluation, which the run's metrics already hold.
    const lastFeedback = o.resume?.lastFeedbackStep;
    // With the budget spent, stored labels the model was not trained on get a catch-up round at once.
    let nextFeedback =
      learned && last.labels < o.budget
        ? o.resume && lastFeedback !== undefined
          ? lastFeedback + o.feedbackEvery
          : trainer.globalStep
        : untrainedPreferences() > 0
          ? trainer.globalStep
          : Number.POSITIVE_INFINITY;
    let nextEval = o.resume ? trainer.globalStep + o.evalEvery : evaluatedAtStart ? o.evalEvery : trainer.globalStep;
    while (trainer.globalStep < o.ppo.totalSteps) {
      // (After a resume the pool starts empty: the round waits until rollouts refill it.)
      if (trainer.globalStep >= nextFeedback) {
        feedbackTried = true;
        if (await feedback(round)) {
          round++;
          checkPreferences();
          nextFeedback = last.labels < o.budget ? trainer.globalStep + o.feedbackEvery : Number.POSITIVE_INFINITY;
        }
      }
      if (trainer.globalStep >= nextEval) {
        await evaluate();
        nextEval = trainer.globalStep + o.evalEvery;
      }
      const it = await trainer.iterate();
      // Let signals (Ctrl-C's handler), timers and I/O run between rollouts: with every env on
      // the main thread an iteration awaits only settled promises, which never yield to them.
      await new Promise<void>((resolve) => setImmediate(resolve));
      recent.push(...it.episodes);
      recent.splice(0, Math.max(0, recent.length - 20));
      trimEpisodes(episodes, 4 * o.poolEpisodes * trainer.spec.horizon);
      logMetrics(it.globalStep, it.metrics);
      o.progress?.update(
        trainer.globalStep,
        `return ${fmt(curve.length ? curve[curve.length - 1][1] : Number.NaN)}${learned ? ` | labels ${last.labels}/${o.budget}` : ''}`,
      );
    }
    const timeouts = learned && o.store ? o.store.counts().timeouts : 0;
    // (A learned reward always has a store; the messages below are for it.)
    const storePath = o.store?.path ?? 'the label store';
    if (learned && last.labels === 0 && timeouts > 0) {
      o.logger.warn(
        `nobody answered: the ${timeouts} pairs asked got no answer within the human teacher's timeout, so the reward model was never trained and PPO learned from an untrained one; the pairs stay in ${storePath} for prefrl serve`,
      );
    } else if (learned && last.labels === 0 && !feedbackTried && warmupSteps >= o.ppo.totalSteps) {
      o.logger.warn(
        `no labels were asked: the warm-up took all ${warmupSteps} env steps of the run (--steps ${o.ppo.totalSteps}; PPO collects whole rollouts of ${rolloutSteps} env steps, --num-envs x --num-steps), so no feedback round ran, the reward model was never trained and PPO learned from an untrained one; ${o.runLongerAdvice ?? 'give more --steps'}`,
      );
    } else if (learned && last.labels === 0 && longestEpisode > 0 && longestEpisode < o.segmentLength) {
      // More steps would not help: every episode ended before a segment's length (an unstable
      // model truncates them; a task's horizon may be short).
      o.logger.warn(
        `no labels were asked: every episode of ${trainer.spec.id} ended within ${longestEpisode} env step${longestEpisode === 1 ? '' : 's'} (its horizon is ${trainer.spec.horizon}; an unstable simulation ends them early too), shorter than --segment-length ${o.segmentLength}, so no segment could be cut, the reward model was never trained and PPO learned from an untrained one; ${longestEpisode >= 2 ? `give a --segment-length of at most ${longestEpisode}` : 'a segment takes 2 steps at least: check the model (does it go unstable?) and its task\'s horizon'}`,
      );
    } else if (learned && last.labels === 0) {
      const held = o.pairScope === 'episode' ? `an episode with two complete ${o.segmentLength}-step segments (--pair-scope episode)` : `two complete ${o.segmentLength}-step segments`;
      o.logger.warn(
        `no labels were asked: the run ended at ${trainer.globalStep} env steps, before the query pool held ${held}, so the reward model was never trained and PPO learned from an untrained one; ${o.runLongerAdvice ?? 'give more --steps'} (episodes of ${trainer.spec.id} last up to ${trainer.spec.horizon} steps, and PPO steps ${rolloutSteps} at a time)`,
      );
    } else if (learned && last.labels < o.budget) {
      // The summary's labelsUsed says so too, but a budget cut short changes what the run measured.
      const unanswered = timeouts > 0 ? `; ${timeouts} of the pairs asked got no answer within the human teacher's timeout (they stay in ${storePath} for prefrl serve)` : '';
      o.logger.warn(
        `the run ended at ${trainer.globalStep} env steps with ${last.labels} of its ${o.budget} labels answered${unanswered}: rounds of ${o.labelsPerRound} labels every ${o.feedbackEvery} env steps did not fit; ${o.runLongerAdvice ?? 'give more --steps, a smaller --feedback-every or a larger --labels-per-round'}`,
      );
    }
    // Input selection at label counts the run never reached did not happen: said, as a budget cut short is.
    if (learned && o.selectInputsAfter !== undefined) {
      const wanted = typeof o.selectInputsAfter === 'number' ? [o.selectInputsAfter] : [...o.selectInputsAfter];
      const done = selectionsDone(net);
      if (done < wanted.length) {
        const trained = typeof net?.meta.trainedPreferences === 'number' ? net.meta.trainedPreferences : 0;
        const missed = wanted.slice(done).map((c) => Math.max(c, MIN_SELECTION_LABELS));
        o.logger.warn(
          `the reward model's inputs were not chosen at ${missed.join(', ')} preference labels (--reward-select-inputs): the run trained it on ${trained}; ${done > 0 ? 'it kept the inputs chosen at the earlier count' : 'it saw every input'}`,
        );
      }
    }
    if (learned && last.labels > o.budget) {
      o.logger.warn(
        `the reward model was trained on ${last.labels} answers, ${last.labels - o.budget} more than the ${o.budget} of the --labels budget: no more pairs were asked than it allows (each one nobody answered in time was asked again in its place), but people also answered pairs asked before (after their timeout, or left open by a stopped run), and every answer a person gave is kept (${storePath})`,
      );
    }
    const final = await trainer.evaluate(o.evalEpisodes, o.env);
    // A run stopped after its final checkpoint (while its summary was written) has logged this
    // final evaluation already: the deterministic episodes are run again for the summary, not logged twice.
    const logged = o.resume !== undefined && trainer.globalStep === o.resume.checkpoint.globalStep && curve.at(-1)?.[0] === trainer.globalStep;
    if (!logged) {
      curve.push([trainer.globalStep, final.meanReturn]);
      logMetrics(trainer.globalStep, { 'eval/true_return': final.meanReturn, 'eval/success': final.meanSuccess });
    }
    trainer.save(o.run.artifact('checkpoint'), o.env);
    if (net) net.save(o.run.artifact('reward_model'));
    return {
      env: trainer.spec.id,
      reward: o.reward,
      teacher: learned ? (o.teacher as Teacher).id : null,
      preferenceModel: learned ? o.preferenceModel : null,
      finalTrueReturn: final.meanReturn,
      finalTrueReturns: final.returns,
      finalSuccess: final.meanSuccess,
      labelsUsed: last.labels,
      ...(learned && last.labels > o.budget ? { labelsOverBudget: last.labels - o.budget } : {}),
      envSteps: trainer.globalStep,
      queryRolloutSteps,
      wallSeconds: (o.clock.now() - start) / 1000,
      rewardAccuracy: last.accuracy,
      rewardCorrelation: last.correlation,
      epic: last.epic,
      curve,
    };
  } finally {
    scratch?.dispose();
    (net as RewardNet | null)?.dispose();
    await trainer.close();
  }
}

/**
 * "the teacher <id> gave no preference, only skips (most often: "<reason>", n times)": the
 * skip reasons say why (e.g. the synthetic VLM is unsure when both segments end with the same
 * task success, which an untrained policy rarely reaches; a human teacher's pairs are skipped
 * when nobody answers in time).
 */
export function noPreferenceText(teacher: string, labels: readonly Label[]): string {
  const reasons = new Map<string, number>();
  for (const l of labels) {
    if (l.kind !== 'skip') continue;
    const key = l.reason.replace(/\(.*\)$/, '').trim();
    if (key) reasons.set(key, (reasons.get(key) ?? 0) + 1);
  }
  const top = [...reasons.entries()].sort((a, b) => b[1] - a[1])[0];
  return `the teacher ${teacher} gave no preference, only skips${top ? ` (most often: "${top[0]}", ${top[1]} times)` : ''}`;
}

/** The query pool reaches back over older episodes until it holds this many segments. */
export const MIN_POOL_SEGMENTS = 64;
/** Input selection waits for this many preference labels at least (10 per fold of 3). */
export const MIN_SELECTION_LABELS = 30;

/** How many of the selection counts `at` (one count or a list) a store of `prefs` preference labels has reached (none below MIN_SELECTION_LABELS). */
export function selectionCountsPassed(at: number | readonly number[] | undefined, prefs: number): number {
  if (at === undefined) return 0;
  const counts = typeof at === 'number' ? [at] : at;
  return counts.filter((c) => prefs >= Math.max(c, MIN_SELECTION_LABELS)).length;
}

/** How many selections a reward model has been through (its meta; 0 for none, 1 for a run saved before re-selection existed). */
export function selectionsDone(net: RewardNet | null): number {
  const sel = net?.meta.inputSelection as { selection?: number } | undefined;
  if (!sel) return 0;
  return typeof sel.selection === 'number' ? sel.selection : 1;
}

/** Whether a model already sees exactly the inputs a selection chose. */
export function sameInputs(config: { input?: string; ignoreObs?: readonly number[] }, sel: Pick<InputSelection, 'input' | 'ignoreObs'>): boolean {
  const a = [...(config.ignoreObs ?? [])].sort((x, y) => x - y);
  const b = [...sel.ignoreObs].sort((x, y) => x - y);
  return (config.input ?? 'obs-action') === sel.input && a.length === b.length && a.every((v, k) => v === b[k]);
}

/**
 * Drop the oldest episodes once the kept ones hold more than 2 x maxSteps steps, keeping the
 * newest ones within maxSteps (an episode count would keep too little of a policy whose
 * episodes end after a few steps, and too much of one whose episodes run to the horizon).
 */
export function trimEpisodes(episodes: Trajectory[], maxSteps: number): void {
  let total = 0;
  for (const e of episodes) total += e.length;
  if (total <= 2 * maxSteps) return;
  let first = episodes.length - 1; // the newest episode is always kept
  let steps = episodes[first].length;
  while (first > 0 && steps + episodes[first - 1].length <= maxSteps) steps += episodes[--first].length;
  episodes.splice(0, first);
}

/** A random subset of at most n visited transitions (EPIC on all of them would be slow). */
function subsample(tr: { s: Int32Array; a: Float32Array; next: Int32Array }, n: number, actDim: number, rng: Rng): { s: Int32Array; a: Float32Array; next: Int32Array } {
  if (tr.s.length <= n) return tr;
  const idx = rng.sampleWithoutReplacement(tr.s.length, n);
  const a = new Float32Array(n * actDim);
  idx.forEach((k, i) => a.set(tr.a.subarray(k * actDim, (k + 1) * actDim), i * actDim));
  return { s: Int32Array.from(idx, (k) => tr.s[k]), a, next: Int32Array.from(idx, (k) => tr.next[k]) };
}

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toFixed(3) : 'n/a';
}

/** r' = (r - shift) * scale, applied to the ensemble-mean reward PPO learns from. */
export interface RewardAffine {
  readonly shift: number;
  readonly scale: number;
}

const IDENTITY_AFFINE: RewardAffine = { shift: 0, scale: 1 };

/** The affine map saved in a reward model's meta (identity when none). */
export function readAffine(net: RewardNet | null): RewardAffine {
  const a = net?.meta.rewardAffine as { shift?: unknown; scale?: unknown } | undefined;
  if (!a || typeof a.shift !== 'number' || typeof a.scale !== 'number' || !Number.isFinite(a.shift) || !(a.scale > 0)) return IDENTITY_AFFINE;
  return { shift: a.shift, scale: a.scale };
}

/**
 * Mean and std of the ensemble-mean per-step reward over the segments' transitions, as the
 * map to mean 0, std 1. A (near-)constant reward keeps scale 1 (only the mean is removed).
 */
export function standardization(net: RewardNet, segs: readonly Segment[]): RewardAffine {
  const per = net.segmentSteps(segs);
  const m = net.members;
  const n = per.length / m;
  if (n === 0) return IDENTITY_AFFINE;
  let sum = 0;
  const avg = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let acc = 0;
    for (let k = 0; k < m; k++) acc += per[k * n + i];
    avg[i] = acc / m;
    sum += avg[i];
  }
  const mean = sum / n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (avg[i] - mean) ** 2;
  const std = Math.sqrt(ss / n);
  return { shift: mean, scale: std > 1e-6 ? 1 / std : 1 };
}
