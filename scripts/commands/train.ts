/**
 * `prefrl train`: online preference-based RL (PPO + a reward model learned from a teacher's
 * comparisons), or PPO on the env's true reward with identical settings (`--reward true`).
 * Resumable: `--resume runs/<id>` continues from the last checkpoint with every stored label.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { expertValueFunction, PPO_DEFAULTS } from '../../agents/ppo.js';
import { warnExpertEnvMismatch } from '../../agents/saved_policy.js';
import { describeBackend, initBackend } from '../../core/backend.js';
import { flagName, flags, type Parsed, positiveInts, validateConfig } from '../../core/config.js';
import { InputError, parseJsonObject, ServiceError, UsageError, withResumeAdvice } from '../../core/errors.js';
import { isFolder, shellQuote } from '../../core/paths.js';
import { Progress } from '../../core/progress.js';
import { Rng } from '../../core/rng.js';
import { createRunDir, openRunDir, type RunDir, savedPathMissing, softwareChanges } from '../../core/run.js';
import { type EnvConfig, envConfigArgs, envConfigFromArgs, looksLikeModelPath, makeEnv } from '../../envs/registry.js';
import type { EnvSpec } from '../../envs/types.js';
import { checkpointFile, LOOP_REWARD_TRAIN_DEFAULTS, type LoopOptions, type LoopSummary, loopFeedbackEvery, MIN_SELECTION_LABELS, readCheckpoint, readLoopResume, runPreferenceLoop } from '../../reward/loop.js';
import { envFit, RewardNet } from '../../reward/network.js';
import { PAIR_SCOPES, QUERY_METHODS } from '../../reward/query.js';
import { LabelStore } from '../../reward/store.js';
import { rewardTrainOptions, TRAIN_DEFAULTS } from '../../reward/train.js';
import { asFlag, makeTeacher } from '../../reward/teachers/index.js';
import { decidedByText, type HeronDecidedBy, heronDecidedBy, heronStoreRecord } from '../../reward/teachers/heron.js';
import type { ValueFunction } from '../../reward/teachers/regret.js';
import type { Teacher } from '../../reward/types.js';
import { lockRunDir } from '../run_lock.js';
import { type Command, type CommandContext, displayPath, onInterrupt, parseOrHelp, printJson, resumeHint, shellPath, warnIgnoredFlags } from '../command.js';
import { endHumanSessionsNow } from '../../reward/teachers/human.js';
import { checkHumanFlags, checkHumanPort, HUMAN_FLAG_KEYS, humanResumeArgs, humanServerSettings, humanTeacherFlags } from './human_flags.js';
import { preferenceModelFlag, rewardHiddenFlag, rewardMembersFlag, rewardTrainingFlags } from './reward_flags.js';
import { backendFlag, jsonFlag, quietFlag, runsDirFlag, seedFlag, taskFlag } from './common_flags.js';
import { commandSummary } from '../command_index.js';
import { flagsWithLike, likeFlag, withAbsolutePaths } from './like.js';

export const trainFlags = {
  env: flags.string({ doc: 'env id (see prefrl envs) or path to an MJCF .xml file', default: 'reacher' }),
  task: taskFlag(),
  reward: flags.string({
    doc: "learned (from a teacher's labels) | true (the env's reward: the baseline) | model:<dir> (a saved reward model, fixed: a run's artifacts/reward_model, or one trained offline; no teacher)",
    default: 'learned',
  }),
  rewardWeights: flags.list({
    doc: "with --reward true: PPO learns from the env's reward terms re-weighted, name=weight,... (unlisted terms keep their weights; see prefrl envs --json); evaluations still report the env's own reward. For reward-term ablations, e.g. --reward-weights on_target=0",
    default: [],
    defaultDoc: "the env's weights",
  }),
  teacher: flags.string({
    doc: 'oracle | stochastic | mistake | skip | equal | myopic | <preset>:k=v,... | regret[:k=v] (needs --expert) | heron:<config.json> | human (people in the viewer)',
    default: 'oracle',
  }),
  ...humanTeacherFlags,
  expert: flags.string({ doc: 'PPO run folder (a train run on the env\'s true reward, --reward true) or checkpoint whose critic is V* for the regret teacher', optional: true }),
  preferenceModel: preferenceModelFlag,
  labels: flags.int({ doc: 'feedback budget: total labels (queries answered, skips included)', default: 1000, min: 1 }),
  labelsPerRound: flags.int({ doc: 'labels per feedback round', default: 100, min: 1 }),
  segmentLength: flags.int({ doc: "steps per segment (at least 2, the online loop's minimum; prefrl offline and pairs take 1-step segments too)", default: 50, min: 2 }),
  query: flags.choice(QUERY_METHODS, { doc: 'query selection (the k-center methods start from the pairs labelled in earlier rounds, as B-Pref does)', default: 'disagreement' }),
  oversample: flags.int({ doc: 'candidate pairs per query', default: 10, min: 1 }),
  feedbackEvery: flags.int({ doc: 'env steps between feedback rounds', optional: true, defaultDoc: 'spread the budget over the first half of training', min: 1 }),
  warmupSteps: flags.int({ doc: 'env steps of the untrained policy before the first round', default: 8192, min: 0 }),
  poolTop: flags.float({
    doc: "candidate pairs come from this share of the pool with the highest return predicted by the current reward model (after the first round): queries compare the policy's best segments. 1: the whole pool",
    default: 1,
    min: 0.01,
    max: 1,
  }),
  poolEpisodes: flags.int({ doc: 'segments are drawn from this many recent episodes (more while they hold under 64 segments)', default: 16, min: 1 }),
  terminalSegments: flags.choice(['pad', 'drop'] as const, {
    doc: 'ends of episodes that terminated (a fall): pad keeps them (last window ends at the fall; shorter episodes padded with the absorbing state), drop cuts windows from the start only',
    default: 'pad',
  }),
  pairScope: flags.choice(PAIR_SCOPES, {
    doc: "which segments a query may compare: any two of the pool, two of the same episode (what an episode holds fixed, such as its target, then cannot explain the teacher's choice), or mixed (half of each round's queries within an episode, the rest from the whole pool)",
    default: 'any',
  }),
  segmentWindows: flags.choice(['aligned', 'random'] as const, {
    doc: "where the pool's windows start in an episode: aligned (steps 0, L, 2L, ...: every episode gives a segment from its reset state) or random (a random offset per episode and round, as clips drawn at random times)",
    default: 'aligned',
  }),
  steps: flags.int({ doc: 'total env steps', default: 300_000, min: 1 }),
  numEnvs: flags.int({ doc: 'parallel envs', default: 4, min: 1 }),
  numSteps: flags.int({ doc: 'steps per env per PPO rollout', default: 512, min: 1 }),
  workers: flags.int({ doc: 'env worker threads (0: main thread)', default: 2, min: 0 }),
  inlineEnvs: flags.bool({ doc: 'the main thread steps a block of envs too, alongside the workers (workers + 1 threads step envs; faster when the envs are cheap and the cores are few)', default: false }),
  lr: flags.float({ doc: 'PPO learning rate', default: 3e-4, min: 0 }),
  rewardEpochs: flags.int({ doc: "max reward-model epochs per round (early stopping on held-out pairs; each round continues from the last round's weights)", default: LOOP_REWARD_TRAIN_DEFAULTS.epochs, min: 1 }),
  rewardSelectInputs: flags.list({
    doc: "reward model: once this many preference labels are stored, choose its inputs from them (forward selection: add the observation value, or the action, that best predicts held-out labels, 3-fold cross-validated, until none improves the fit by 2%), then train it anew on those inputs; a remedy for spurious features that needs no knowledge of the task. Several counts, comma-separated and rising, select again at each (the model is made anew only when the choice changes). Try 300, or 100,300,600. The cross-validation fits small proxy networks with settings of their own (64x64, up to 60 epochs, 15% held out for early stopping): the other --reward-* flags, --reward-val-fraction included, train only the model made on the chosen inputs.",
    default: [],
    defaultDoc: 'off: every input',
  }),
  rewardIgnoreObs: flags.list({ doc: 'reward model: observation indices it does not see (comma-separated, from 0; each built-in layout is described at the top of envs/tasks/<env>.ts), e.g. joint velocities suspected of being spurious features', default: [], defaultDoc: 'none' }),
  rewardHidden: rewardHiddenFlag,
  rewardOutputInit: flags.float({ doc: "reward model: factor on its output layer's initial weights (1: PyTorch's default draw; 0: every member starts at r = 0 everywhere, so the reward's shape comes from the labels, not from the random initial function)", default: 1, min: 0 }),
  rewardAdditive: flags.bool({ doc: 'reward model: additive structure, one small MLP per input feature (--reward-hidden gives its widths) summed, so no unit combines two inputs; try --reward-hidden 32,32', default: false }),
  rewardMembers: rewardMembersFlag,
  rewardPatience: flags.int({ doc: `reward model: epochs without held-out improvement before a member stops (${LOOP_REWARD_TRAIN_DEFAULTS.patience} by default here, where each round continues from the last round's weights; offline and reward, which train once, default to ${TRAIN_DEFAULTS.patience})`, default: LOOP_REWARD_TRAIN_DEFAULTS.patience, min: 1 }),
  ...rewardTrainingFlags,
  queryRollouts: flags.int({ doc: 'mean-action episodes of the current policy added to the query pool before each round (their steps are reported apart)', default: 0, min: 0 }),
  rewardStandardize: flags.bool({ doc: 'PPO sees the learned reward standardised to mean 0, std 1 over the query pool, refitted each round (Christiano et al. 2017)', default: false }),
  evalEpisodes: flags.int({ doc: 'deterministic evaluation episodes', default: 5, min: 1 }),
  evalEvery: flags.int({ doc: 'env steps between evaluations and checkpoints', default: 20_000, min: 1 }),
  seed: seedFlag(),
  backend: backendFlag('the reward model'),
  runsDir: runsDirFlag,
  name: flags.string({ doc: 'run name', optional: true, defaultDoc: 'train-<env>-<teacher>-s<seed>, with -regret after <teacher> under --preference-model regret; train-<env>-true-s<seed> or train-<env>-model-s<seed> with --reward true or model:<dir>' }),
  resume: flags.string({ doc: 'continue the run in this folder from its last checkpoint, with its saved config (only --json, --quiet, --workers, --inline-envs and the --human-* flags may be given too); a finished run is reported, not changed', optional: true }),
  like: likeFlag('train', '; the access token is never saved (give --human-token again)'),
  json: jsonFlag(),
  quiet: quietFlag(),
};

const spec = {
  command: 'prefrl train',
  summary:
    'Online preference-based RL: PPO learns from a reward model trained on a teacher\'s comparisons of trajectory segments. With --reward true, PPO learns from the env\'s reward with otherwise identical settings.',
  flags: trainFlags,
  epilog: [
    'Examples:',
    '  prefrl train --env reacher --teacher oracle --labels 1000 --steps 300000',
    '  prefrl train --env reacher --reward true --steps 300000',
    '  prefrl train --env cheetah-run --teacher stochastic:beta=1,epsMistake=0.1 --labels 1000 --steps 1000000',
    '  prefrl train --resume runs/20261123-120000-train-reacher',
    '  prefrl train --like runs/20261123-120000-train-reacher --seed 1   # the same settings, another seed',
  ].join('\n'),
};

export type TrainFlags = Parsed<typeof trainFlags>;

/**
 * The PPO checkpoint (folder or checkpoint.json) that `--expert` names: a `prefrl train` run
 * folder on the env's own reward (its artifacts/checkpoint), a checkpoint folder, or a
 * checkpoint.json. Any other run folder (iql, rollout, offline, ...), a train run stopped before
 * its first checkpoint, or one whose PPO learned another reward than the env's (its critic is
 * not V* of the rewards the regret teacher sums) is refused, saying what it is and what is needed.
 */
export function expertCheckpoint(given: string, envSpec: Pick<EnvSpec, 'id'>): string {
  const need = `the regret teacher needs V* from the critic of a \`prefrl train\` PPO run on env "${envSpec.id}" (e.g. prefrl train --env ${envSpec.id} --reward true)`;
  if (!existsSync(given)) throw new UsageError(`--expert: "${given}" not found; ${need}`);
  if (!isFolder(given)) {
    if (given.endsWith('.json')) return given;
    throw new UsageError(`--expert: ${given} is a file, not a PPO run folder or checkpoint.json; ${need}`);
  }
  const configFile = join(given, 'config.json');
  if (!existsSync(configFile)) {
    if (existsSync(join(given, 'checkpoint.json'))) return given;
    throw new UsageError(`--expert: ${given} is neither a prefrl run folder (no config.json) nor a PPO checkpoint folder (no checkpoint.json); ${need}`);
  }
  const config = parseJsonObject(readFileSync(configFile, 'utf8'), configFile) as { command?: unknown; algo?: unknown; reward?: unknown; rewardWeights?: unknown };
  const command = typeof config.command === 'string' ? config.command : 'unknown';
  if (command !== 'train') {
    const what = command === 'iql' ? `\`prefrl iql\` run (${config.algo === 'bc' ? 'behaviour cloning' : 'IQL'}: an offline actor, no PPO critic)` : `\`prefrl ${command}\` run, not a PPO run`;
    throw new UsageError(`--expert: ${given} is a ${what}; ${need}`);
  }
  // (A config that does not record its reward is given the benefit of the doubt.)
  const weights = Array.isArray(config.rewardWeights) ? config.rewardWeights : [];
  const otherReward = typeof config.reward === 'string' && config.reward !== 'true';
  if (otherReward || weights.length > 0) {
    const learnt = otherReward ? `--reward ${String(config.reward)}` : `--reward-weights ${weights.join(',')}`;
    throw new UsageError(`--expert: ${given} is a \`prefrl train\` run whose PPO learned another reward than the env's (${learnt}), so its critic is not V* of the rewards the regret teacher sums; ${need}`);
  }
  const ck = join(given, 'artifacts', 'checkpoint');
  if (!existsSync(join(ck, 'checkpoint.json'))) {
    throw new UsageError(`--expert: ${given} is a \`prefrl train\` run stopped before its first checkpoint (every --eval-every steps): go on with prefrl train --resume ${shellPath(given)}, or give another; ${need}`);
  }
  return ck;
}

function buildTeacher(f: TrainFlags, envSpec: EnvSpec, human?: { envConfig: EnvConfig; store: () => LabelStore; ctx: CommandContext }): Teacher {
  let values: ValueFunction | undefined;
  if (f.teacher.startsWith('regret')) {
    if (!f.expert) throw new UsageError('--teacher regret needs --expert <PPO run folder or checkpoint> (its critic is V*)');
    // Its critic must take this env's observations: another env's give NaN or meaningless values.
    const ck = expertCheckpoint(f.expert, envSpec);
    const vf = expertValueFunction(ck, { spec: envSpec, flag: '--expert', given: f.expert });
    // Every bring-your-own env is "custom": an expert of another model file or task module says so.
    warnExpertEnvMismatch(ck, envSpec, { given: f.expert, logger: human?.ctx.logger });
    values = { value: (obs: Float32Array) => vf.value(obs) };
  }
  // The viewer's settings serve the human teacher only (another teacher's run reads no --human-people file).
  const humanOpts =
    human && isHumanTeacher(f.teacher)
      ? {
          store: human.store,
          env: human.envConfig,
          ...humanServerSettings(f),
          // The run's budget: once it is spent the viewer hands out no more pairs and its pages say so.
          budget: f.labels,
          logger: human.ctx.logger,
          clock: human.ctx.clock,
        }
      : undefined;
  return asFlag('--teacher', () => makeTeacher(f.teacher, { env: envSpec, rng: new Rng(f.seed).fork('teacher'), values, human: humanOpts }));
}

/** --reward-ignore-obs: distinct indices into an observation of obsDim values. */
export function ignoredObsIndices(list: readonly string[], obsDim: number, envId: string): number[] {
  const out = list.map((v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isInteger(n) || n < 0) throw new UsageError(`--reward-ignore-obs: expected observation indices (integers >= 0) separated by commas, got ${JSON.stringify(list.join(','))}`);
    if (n >= obsDim) throw new UsageError(`--reward-ignore-obs: index ${n} is out of range; ${envId} observations have ${obsDim} values (indices 0-${obsDim - 1})`);
    return n;
  });
  if (new Set(out).size !== out.length) throw new UsageError(`--reward-ignore-obs: an index is listed twice in ${JSON.stringify(list.join(','))}`);
  return out;
}

/** --reward-select-inputs: rising label counts, each at least MIN_SELECTION_LABELS; undefined when off (a run saved when the flag took one count holds a number). */
export function selectionCounts(value: readonly string[] | number | undefined): number[] | undefined {
  const list = typeof value === 'number' ? [String(value)] : (value ?? []);
  if (list.length === 0) return undefined;
  const counts = positiveInts(list, '--reward-select-inputs');
  for (let k = 0; k < counts.length; k++) {
    if (counts[k] < MIN_SELECTION_LABELS) throw new UsageError(`--reward-select-inputs: each count must be at least ${MIN_SELECTION_LABELS} preference labels (10 per cross-validation fold), got ${counts[k]}`);
    if (k > 0 && counts[k] <= counts[k - 1]) throw new UsageError(`--reward-select-inputs: counts must rise, got ${counts.join(',')}`);
  }
  return counts;
}

export type RewardSource = { kind: 'learned' } | { kind: 'true' } | { kind: 'model'; dir: string };

/** --reward learned | true | model:<dir>; a model folder (or a run folder holding one) must have model.json. */
export function rewardSource(value: string): RewardSource {
  if (value === 'learned' || value === 'true') return { kind: value };
  if (!value.startsWith('model:') || value.length === 'model:'.length) {
    throw new UsageError(`--reward: expected learned, true or model:<dir>, got ${JSON.stringify(value)}`);
  }
  const given = value.slice('model:'.length);
  const inRun = join(given, 'artifacts', 'reward_model');
  const dir = existsSync(join(given, 'model.json')) ? given : existsSync(join(inRun, 'model.json')) ? inRun : null;
  if (!dir) throw new UsageError(`--reward: ${given} holds no reward model (no model.json there or in artifacts/reward_model)`);
  return { kind: 'model', dir };
}

/**
 * --reward on resume: a fixed model (model:<dir>) comes from the copy the run keeps in
 * artifacts/reward_model, so the run goes on with the reward it trained on even when <dir> has
 * changed or is gone; before the copy exists, from <dir> as on the first start.
 */
export function resumedRewardSource(value: string, runDir: string): RewardSource {
  const copy = join(runDir, 'artifacts', 'reward_model');
  if (value.startsWith('model:') && existsSync(join(copy, 'model.json'))) return { kind: 'model', dir: copy };
  return rewardSource(value);
}

/** --reward-weights name=w,... as one weight per reward term (the env's weights where unlisted); undefined when none are given. */
export function termWeights(list: readonly string[], spec: EnvSpec, reward: RewardSource['kind']): number[] | undefined {
  if (list.length === 0) return undefined;
  if (reward !== 'true') throw new UsageError('--reward-weights: applies to --reward true only (a learned reward has no terms to re-weight)');
  const names = spec.rewardTerms.map((t) => t.name);
  const weights = spec.rewardTerms.map((t) => t.weight);
  const seen = new Set<string>();
  for (const item of list) {
    const eq = item.indexOf('=');
    const name = eq < 0 ? item : item.slice(0, eq).trim();
    const k = names.indexOf(name);
    if (eq < 0 || k < 0) {
      throw new UsageError(`--reward-weights: expected name=weight with a reward term of ${spec.id} (${names.join(', ')}), got ${JSON.stringify(item)}`);
    }
    const text = item.slice(eq + 1).trim();
    const w = Number(text);
    if (text === '' || !Number.isFinite(w)) throw new UsageError(`--reward-weights: ${name}: expected a finite number, got ${JSON.stringify(text)}`);
    if (seen.has(name)) throw new UsageError(`--reward-weights: ${name} given twice`);
    seen.add(name);
    weights[k] = w;
  }
  return weights;
}

/** Whether a --teacher spec names the human teacher (people in the viewer). */
export function isHumanTeacher(spec: string): boolean {
  return spec.trim().split(':')[0] === 'human';
}

/** Flags only a learned reward reads: the teacher, the queries, the reward model and its training. */
const LEARNED_ONLY_FLAGS: readonly string[] = [
  'teacher', 'preferenceModel', 'labels', 'labelsPerRound', 'segmentLength', 'query', 'oversample', 'feedbackEvery', 'warmupSteps', 'poolTop', 'poolEpisodes',
  'terminalSegments', 'pairScope', 'segmentWindows', 'queryRollouts', 'rewardStandardize', 'rewardEpochs', 'rewardSelectInputs', 'rewardIgnoreObs', 'rewardHidden',
  'rewardOutputInit', 'rewardAdditive', 'rewardMembers', 'rewardPatience', ...Object.keys(rewardTrainingFlags),
];

/** Warn about given flags the run will not read (`given`: flag keys from the command line). */
function warnIgnoredTrainFlags(f: TrainFlags, given: readonly string[], ctx: CommandContext): void {
  if (f.reward !== 'learned') {
    warnIgnoredFlags(ctx, given.filter((k) => LEARNED_ONLY_FLAGS.includes(k) || HUMAN_FLAG_KEYS.includes(k)), `--reward ${f.reward} learns from no teacher's labels`);
    if (f.reward === 'true') warnIgnoredFlags(ctx, given.filter((k) => k === 'backend'), 'the tensor backend serves a reward network, and --reward true has none (PPO runs in plain TypeScript)');
  } else if (!isHumanTeacher(f.teacher)) {
    warnIgnoredFlags(ctx, given.filter((k) => HUMAN_FLAG_KEYS.includes(k)), `they set up the viewer of --teacher human; this run's teacher is ${f.teacher}`);
  }
}

/**
 * Run (or resume) a training run; returns the summary. `given`: the flag keys of the command
 * line, for the warning about those the run does not read (once every check has passed).
 */
/**
 * Run `prefrl train` with parsed flags. `onChecked`, when given, is called once every check that
 * can refuse the run has passed, before the tensor backend starts (`prefrl demo` announces its
 * stage there, so a refused flag prints its one-line error alone).
 */
/** A train run's summary: the loop's, and for a HERON teacher which reward term decided its labels (as prefrl labels stats counts them). */
export type TrainSummary = LoopSummary & { readonly decidedBy?: HeronDecidedBy };

/**
 * The end-of-run advice of a run too short for its labels when it is a `prefrl bench oracle`
 * cell (ctx.partOf): the bench takes no --steps, --feedback-every or --labels-per-round; its own
 * knob is --steps-scale. Undefined otherwise (train's own advice).
 */
export function benchCellAdvice(partOf: string | undefined): string | undefined {
  if (!partOf?.startsWith('prefrl bench oracle')) return undefined;
  return `run the benchmark with a larger --steps-scale (this run is a cell of \`${partOf}\`, whose suite sets its label budget)`;
}

/**
 * PPO splits each rollout (--num-envs x --num-steps env steps) into PPO_DEFAULTS.numMinibatches
 * equal minibatches: a size that does not divide is a UsageError naming the flags, with the
 * nearest --num-steps at or above the one given that does (it failed in the PPO trainer, after the
 * run folder was made, with a stack trace).
 */
export function checkRolloutSize(numEnvs: number, numSteps: number): void {
  const parts = PPO_DEFAULTS.numMinibatches;
  if ((numEnvs * numSteps) % parts === 0) return;
  let g = numEnvs;
  for (let b = parts; b !== 0; ) [g, b] = [b, g % b];
  const stepMultiple = parts / g;
  const fit = Math.ceil(numSteps / stepMultiple) * stepMultiple;
  throw new UsageError(
    `--num-steps: a rollout of --num-envs ${numEnvs} x --num-steps ${numSteps} = ${numEnvs * numSteps} env steps does not split into PPO's ${parts} equal minibatches; the rollout must be a multiple of ${parts} env steps: with --num-envs ${numEnvs}, use a --num-steps that is a multiple of ${stepMultiple}, e.g. ${fit}`,
  );
}

export async function train(f: TrainFlags, ctx: CommandContext, resumeDir?: string, given: readonly string[] = [], onChecked?: () => void): Promise<{ summary: TrainSummary; run: RunDir }> {
  // A resumed run's folder is locked first: before any check starts work, and before anything in it is read or changed.
  const unlock = resumeDir ? lockRunDir(resolve(resumeDir), ctx, '--resume', 'train') : undefined;
  try {
    return await trainLocked(f, ctx, resumeDir, given, onChecked);
  } finally {
    unlock?.();
  }
}

async function trainLocked(f: TrainFlags, ctx: CommandContext, resumeDir: string | undefined, given: readonly string[], onChecked: (() => void) | undefined): Promise<{ summary: TrainSummary; run: RunDir }> {
  // Every check that can refuse the run comes before the tensor backend starts and the run folder is made.
  const source = resumeDir ? resumedRewardSource(f.reward, resumeDir) : rewardSource(f.reward);
  const learned = source.kind === 'learned';
  // The viewer's address and token matter only when people label (the human teacher).
  if (learned && isHumanTeacher(f.teacher)) {
    checkHumanFlags(f);
    // A resumed run may find its own labelling server still running: only a new run checks the port.
    if (!resumeDir) await checkHumanPort(f);
  }
  // Only the regret teacher reads --expert: given to another, it would be ignored (a resumed run keeps what it was started with).
  if (!resumeDir && f.expert !== undefined && !(learned && f.teacher.startsWith('regret'))) {
    throw new UsageError(`--expert: only for --teacher regret (its critic is V*); this run ${learned ? `uses --teacher ${f.teacher}` : `learns from --reward ${f.reward}`}, which would ignore it`);
  }
  if (!(f.rewardLr > 0)) throw new UsageError(`--reward-lr: must be > 0, got ${f.rewardLr}`);
  checkRolloutSize(f.numEnvs, f.numSteps);
  const envConfig = envConfigFromArgs(f.env, { task: f.task });
  const probe = await makeEnv(envConfig);
  const envSpec = probe.spec;
  probe.dispose();
  if (envSpec.actDim === 0) throw new UsageError(`--env: ${envSpec.id} has no actuators, so PPO has no action to learn; add an <actuator> to the model`);
  if (learned && f.segmentLength > envSpec.horizon) {
    throw new UsageError(
      `--segment-length: ${f.segmentLength} steps is longer than any episode of ${envSpec.id} (its horizon is ${envSpec.horizon} steps), so no segment could ever be cut and the reward model would never be trained; ${envSpec.horizon >= 2 ? `use at most ${envSpec.horizon}` : 'a segment takes 2 steps at least: learning from comparisons needs a task whose episodes last 2 steps or more'}`,
    );
  }
  // Pairs within an episode need two segments in one: the horizon must hold two windows.
  if (learned && f.pairScope !== 'any' && 2 * f.segmentLength > envSpec.horizon) {
    throw new UsageError(
      `--pair-scope ${f.pairScope}: compares two segments of one episode, and an episode of ${envSpec.id} (at most ${envSpec.horizon} steps) holds only one ${f.segmentLength}-step segment (--segment-length); use --segment-length ${Math.floor(envSpec.horizon / 2)} or less, or --pair-scope any`,
    );
  }
  // Unless --feedback-every says: worked out as the loop does for a script (loopFeedbackEvery).
  const feedbackEvery = f.feedbackEvery ?? loopFeedbackEvery({ ppo: { totalSteps: f.steps, numEnvs: f.numEnvs, numSteps: f.numSteps, seed: f.seed }, warmupSteps: f.warmupSteps, budget: f.labels, labelsPerRound: f.labelsPerRound });
  const rewardWeights = termWeights(f.rewardWeights, envSpec, source.kind);
  const ignoreObs = ignoredObsIndices(f.rewardIgnoreObs, envSpec.obsDim, envSpec.id);
  const selectAt = selectionCounts(f.rewardSelectInputs);
  // A count above the budget is never reached: the selection would silently never run (a run
  // saved with one still resumes).
  const unreachable = learned && !resumeDir ? selectAt?.find((c) => c > f.labels) : undefined;
  if (unreachable !== undefined) {
    throw new UsageError(`--reward-select-inputs: ${unreachable} preference labels is more than the --labels budget (${f.labels}), so that selection would never run; use counts up to ${f.labels}`);
  }
  const rewardHidden = positiveInts(f.rewardHidden, '--reward-hidden');
  // Refused here, before the run folder and the warm-up, not at the first feedback round.
  if (learned && f.preferenceModel === 'regret' && f.rewardInput === 'obs') {
    throw new UsageError('--reward-input: the regret model (--preference-model regret) learns an optimal advantage, which needs the action: use obs-action or obs-next-obs, not obs');
  }
  if (ignoreObs.length === envSpec.obsDim && f.rewardInput !== 'obs-action') {
    throw new UsageError(`--reward-ignore-obs: hides all ${envSpec.obsDim} observation values, so --reward-input ${f.rewardInput} would see nothing`);
  }
  // The human teacher's store is the run's, opened below; it is only used once training asks
  // (so making the teacher here starts no server: a failure below leaves nothing to close).
  const teacher = learned ? buildTeacher(f, envSpec, { envConfig, store: () => store as LabelStore, ctx }) : undefined;
  onChecked?.();
  // PPO runs in plain TypeScript: only a reward network (learned or model:<dir>) needs tensors.
  const backend = source.kind === 'true' ? undefined : await initBackend(f.backend);
  ctx.logger.info(backend ? describeBackend(backend) : 'tensor backend: not started (--reward true has no reward network; PPO runs in plain TypeScript)');
  // Loaded last: every check that can refuse the run has passed.
  let model: RewardNet | undefined;
  if (source.kind === 'model') {
    model = RewardNet.load(source.dir);
    const c = model.config;
    if (c.obsDim !== envSpec.obsDim || c.actDim !== envSpec.actDim) {
      model.dispose();
      throw new UsageError(
        `--reward: the model in ${source.dir} takes ${c.obsDim} observation and ${c.actDim} action values; ${envSpec.id} has ${envSpec.obsDim} and ${envSpec.actDim}`,
      );
    }
    // Sizes alone let a model of another env with the same sizes through.
    const fit = envFit(model, envSpec.id, envSpec.modelHash, 'this run is on');
    if (fit.error) {
      model.dispose();
      throw new UsageError(`--reward: ${fit.error} (${source.dir})`);
    }
    if (fit.warning) ctx.logger.warn(`--reward: ${fit.warning} (${source.dir})`);
  }
  warnIgnoredTrainFlags(f, given, ctx);
  // Until the loop owns the models (it disposes them on every path out), a failure here must.
  let handedOver = false;
  let resume: LoopOptions['resume'];
  const disposeModels = (): void => {
    if (handedOver) return;
    if (resume?.net && resume.net !== model) resume.net.dispose();
    model?.dispose();
  };
  let run: RunDir;
  // Only a learned reward asks for labels, so only its run folder gets a label store
  // (labels.sqlite): an empty one in a --reward true or model:<dir> run read as a store to label from.
  let store: LabelStore | undefined;
  let stopHint: (() => void) | undefined;
  /** What this run's resume command carries after --resume <run> (its --human-* flags; see humanResumeArgs), once its folder is known. */
  let humanArgs = (): string => '';
  /** The command that goes on with this run after a full disk or a lost permission (a benchmark's, for its cells). */
  let resumeCommand = (): string => '';
  let unlock: (() => void) | undefined;
  // Resume: the checkpoint, read before the run folder is opened, and the metrics rows logged
  // after it dropped (the resumed run logs those steps anew; kept, they would repeat and run backwards).
  let saved: Omit<NonNullable<LoopOptions['resume']>, 'net'> | undefined;
  try {
    if (resumeDir) {
      const ckFile = checkpointFile(resolve(resumeDir));
      // A run opens its label store at its start: one that is gone was removed, with the labels
      // its checkpoint and reward model were made from. Going on would ask anew and count from 0.
      const storeFile = join(resolve(resumeDir), 'labels.sqlite');
      if (learned && !existsSync(storeFile) && (existsSync(ckFile) || existsSync(join(resolve(resumeDir), 'artifacts', 'reward_model', 'model.json')))) {
        throw new InputError(
          storeFile,
          "not found: the run's label store is gone, but its checkpoint and reward model were made from its labels (a resume would ask the teacher anew and count the --labels budget from 0); put it back, or start a new run",
        );
      }
      // A file where the checkpoint folder goes: the resume dropped the metrics rows (no checkpoint to go on from) and then failed with mkdir's EEXIST.
      if (existsSync(dirname(ckFile)) && !isFolder(dirname(ckFile))) {
        throw new InputError(dirname(ckFile), 'is a file, where the run keeps its checkpoint folder; move it away to resume (nothing in the run was changed)');
      }
      // The reward model is loaded below (a fixed model's copy may be loaded already).
      const found = readLoopResume(resumeDir, { loadRewardModel: false });
      if (found.droppedMetrics > 0) {
        ctx.logger.info(
          `--resume: dropped ${found.droppedMetrics} metrics rows logged after ${found.resume ? `the checkpoint at ${found.resume.checkpoint.globalStep} env steps` : 'the start (no checkpoint yet)'}; the resumed run logs those steps anew`,
        );
      }
      if (found.resume) {
        const { net: _none, ...rest } = found.resume;
        saved = rest;
      }
    }
    run = resumeDir
      ? openRunDir(resumeDir)
      : createRunDir({
          root: f.runsDir,
          // The regret model's runs say so in their name (the default model's names stay as they were).
          name: f.name ?? `train-${envSpec.id.replace(/^custom:/, '')}-${source.kind === 'learned' ? `${f.teacher.replace(/[^a-z0-9]+/gi, '_')}${f.preferenceModel === 'regret' ? '-regret' : ''}` : source.kind}-s${f.seed}`,
          // The viewer's access token is a secret: never written to the run folder.
          config: { command: 'train', ...withAbsolutePaths(f), humanToken: undefined, envConfig, derived: { feedbackEvery }, partOf: ctx.partOf },
          clock: ctx.clock,
          tensorBackend: backend?.kind,
        });
    // A new run's folder is locked at once (a resumed one is already): a --resume of it while it runs is refused.
    if (!resumeDir) unlock = lockRunDir(run.path, ctx, '--resume', 'train');
    // Ctrl-C: say how to go on (the last checkpoint and every stored label are kept).
    const runPath = run.path;
    // People hold links to this run's viewer: its resume command keeps the --human-* flags given.
    humanArgs = () => (learned && isHumanTeacher(f.teacher) ? humanResumeArgs(f, given, join(runPath, 'labels.sqlite')) : '');
    resumeCommand = () => ctx.partOf ?? `prefrl train --resume ${shellPath(runPath)}${humanArgs()}`;
    stopHint = onInterrupt(
      ctx,
      () => {
        // People's pages are told the session ended (the process exits without closing its server).
        endHumanSessionsNow();
        return resumeHint('train', runPath, humanArgs());
      },
      { json: f.json },
    );
    try {
      if (learned) store = LabelStore.open(join(run.path, 'labels.sqlite'), { clock: ctx.clock, envId: envSpec.id, modelHash: envSpec.modelHash });
    } catch (e) {
      // The run folder is made: a full disk here is resumed like one later on.
      throw withResumeAdvice(e, resumeCommand);
    }
  } catch (e) {
    stopHint?.();
    disposeModels();
    unlock?.();
    throw e;
  }
  if (resumeDir) {
    const changed = softwareChanges(run.path, backend?.kind);
    if (changed.length > 0) ctx.logger.warn(`--resume: ${run.path} was made with other software (${changed.join(', ')}); the resumed run may not reproduce an uninterrupted one`);
  }
  // PPO stops at the first whole rollout at or past --steps: the bar counts to that.
  const rolloutSteps = f.numEnvs * f.numSteps;
  const plannedSteps = Math.ceil(f.steps / rolloutSteps) * rolloutSteps;
  // A resumed run's steps before its checkpoint count as done but not in the rate.
  const progress = new Progress(`train ${envSpec.id}`, plannedSteps, { unit: 'steps', clock: ctx.clock, sink: ctx.io.stderr, tty: ctx.io.tty, silent: f.quiet, initial: saved?.checkpoint.globalStep ?? 0 });
  try {
    if (teacher && store) {
      // A HERON teacher reads its config file by path: its levels are kept with the labels, and a
      // resumed run refuses a file changed since (the rest of the budget would follow another
      // ranking under the same teacher id).
      const heron = heronStoreRecord(store, teacher, f.teacher.startsWith('heron:') ? f.teacher.slice('heron:'.length) : null);
      store.putTeacher({ id: teacher.id, kind: f.teacher.split(':')[0], config: { spec: f.teacher, ...heron } });
    }
    const ppo = { totalSteps: f.steps, numEnvs: f.numEnvs, numSteps: f.numSteps, workers: f.workers, inlineEnvs: f.inlineEnvs, lr: f.lr, seed: f.seed };
    if (resumeDir) {
      if (saved) {
        const netDir = run.artifact('reward_model');
        // A fixed model was loaded above from the run's copy (resumedRewardSource): not twice.
        const net = model && source.kind === 'model' && resolve(source.dir) === resolve(netDir) ? model : existsSync(join(netDir, 'model.json')) ? RewardNet.load(netDir) : null;
        resume = { ...saved, net };
        ctx.logger.info(`resuming ${run.path} at ${saved.checkpoint.globalStep} env steps${store ? ` with ${store.counts().labels} stored labels` : ''}`);
      } else ctx.logger.info(`no checkpoint in ${run.path} yet: starting over${store ? `, keeping ${store.counts().labels} stored labels` : ''}`);
    }
    if (plannedSteps !== f.steps) {
      ctx.logger.info(`PPO collects whole rollouts of ${rolloutSteps} env steps (--num-envs ${f.numEnvs} x --num-steps ${f.numSteps}): the run stops at the first rollout end at or past ${f.steps} steps, after ${plannedSteps}`);
    }
    ctx.logger.info(
      source.kind === 'true'
        ? `PPO on the true reward of ${envSpec.id} for ${f.steps} steps -> ${run.path}`
        : source.kind === 'model'
          ? `PPO on the fixed reward model ${source.dir} on ${envSpec.id} for ${f.steps} steps -> ${run.path}`
          : `PPO + ${f.preferenceModel} reward model from teacher "${f.teacher}" on ${envSpec.id}: ${labelPlan(f.labels, f.labelsPerRound, feedbackEvery)} -> ${run.path}`,
    );
    handedOver = true;
    let summary: LoopSummary;
    try {
      summary = await runPreferenceLoop({
        env: envConfig,
        ppo,
        reward: source.kind,
        rewardModel: model,
        rewardWeights,
        teacher,
        preferenceModel: f.preferenceModel,
        budget: f.labels,
        labelsPerRound: f.labelsPerRound,
        segmentLength: f.segmentLength,
        query: f.query,
        oversample: f.oversample,
        feedbackEvery,
        warmupSteps: f.warmupSteps,
        runLongerAdvice: benchCellAdvice(ctx.partOf),
        poolEpisodes: f.poolEpisodes,
        poolTop: f.poolTop,
        terminalSegments: f.terminalSegments,
        segmentWindows: f.segmentWindows,
        pairScope: f.pairScope,
        standardizeReward: f.rewardStandardize,
        queryRollouts: f.queryRollouts,
        rewardNet: { input: f.rewardInput, hidden: rewardHidden, members: f.rewardMembers, ignoreObs, additive: f.rewardAdditive },
        rewardInit: { outputScale: f.rewardOutputInit },
        selectInputsAfter: selectAt,
        selectInputs: { workers: f.rewardSelectWorkers },
        rewardTrain: rewardTrainOptions(f),
        evalEpisodes: f.evalEpisodes,
        evalEvery: f.evalEvery,
        run,
        store,
        logger: ctx.logger,
        clock: ctx.clock,
        progress,
        resume,
      });
    } catch (e) {
      // The people of --teacher human did not answer (--human-on-timeout fail): their answers are
      // stored in the run's label store, so say how to go on in this run.
      if (e instanceof ServiceError) e.message += `; resume with: prefrl train --resume ${shellPath(run.path)}${humanArgs()}`;
      throw e;
    }
    progress.finish();
    // HERON: which reward term decided each of its labels (from the record each keeps in raw).
    const decidedBy = teacher && store && f.teacher.startsWith('heron:') ? heronDecidedBy(store.labels().filter((l) => l.teacher === teacher.id)) : null;
    const full: TrainSummary = decidedBy ? { ...summary, decidedBy } : summary;
    run.writeJson('summary.json', { ...full, runDir: run.path });
    return { summary: full, run };
  } catch (e) {
    // A full disk or a lost permission mid-run: the checkpoint and labels saved so far are kept.
    // A benchmark's cell goes on when the benchmark's command is run again.
    throw withResumeAdvice(e, resumeCommand);
  } finally {
    stopHint?.();
    disposeModels();
    await teacher?.close?.();
    store?.close();
    run.close();
    unlock?.();
  }
}

/**
 * Flags a resumed run takes from its command line: output, threads (they do not change what is
 * computed) and the viewer's runtime settings; --runs-dir is accepted and has no effect (the
 * run folder is the one given). Every other flag is the saved run's.
 */
const RESUME_FLAGS: readonly string[] = ['resume', 'json', 'quiet', 'workers', 'inlineEnvs', 'runsDir', ...HUMAN_FLAG_KEYS];

/** --resume of a finished run (it has summary.json): say so, write nothing. */
function alreadyFinished(dir: string, summaryFile: string, json: boolean, ctx: CommandContext): number {
  const summary = parseJsonObject(readFileSync(summaryFile, 'utf8'), summaryFile) as Partial<LoopSummary> & { runDir?: string };
  const runDir = resolve(dir);
  if (json) {
    printJson(ctx.io, { ...summary, runDir, alreadyFinished: true });
    return 0;
  }
  const steps = typeof summary.envSteps === 'number' ? ` at ${summary.envSteps} env steps` : '';
  const ret = typeof summary.finalTrueReturn === 'number' ? `, final true return ${summary.finalTrueReturn.toFixed(2)}` : '';
  ctx.io.stdout.write(`${displayPath(runDir)} is already finished${steps}${ret}; nothing to resume, nothing was changed. Its summary: ${displayPath(resolve(summaryFile))}\n`);
  return 0;
}

export const trainCommand: Command = {
  name: 'train',
  summary: commandSummary('train'),
  async run(argv, ctx) {
    const parsed = parseOrHelp(argv, spec, ctx.io);
    if (!parsed) return 0;
    let resumeDir: string | undefined;
    const given = [...parsed.given];
    // An empty --resume (say, "$RUN" with RUN unset in a script) must not start a new default run.
    if (parsed.flags.resume !== undefined && parsed.flags.resume.trim() === '') throw new UsageError('--resume: empty; name the train run folder to go on with (runs/<id>)');
    let f = flagsWithLike(parsed, trainFlags, 'train', ctx);
    // A saved --expert serves the regret teacher only: another teacher given with --like does not read it.
    if (f.like !== undefined && f.expert !== undefined && !given.includes('expert') && !(f.reward === 'learned' && f.teacher.startsWith('regret'))) f = { ...f, expert: undefined };
    if (f.resume) {
      const cfgFile = join(f.resume, 'config.json');
      if (!existsSync(cfgFile)) throw new UsageError(`--resume: ${f.resume} is not a run folder (no config.json)`);
      const saved = parseJsonObject(readFileSync(cfgFile, 'utf8'), cfgFile) as TrainFlags & { command?: string };
      if (saved.command !== 'train') throw new UsageError(`--resume: ${f.resume} is not a train run`);
      // The saved flags are checked as the command line's are (types, ranges, choices): a config
      // edited by hand or damaged stops here naming the file and key, not as a run of NaN steps.
      // Flags added after the run was made take their defaults.
      const savedFlags = validateConfig(Object.fromEntries(Object.entries(saved).filter(([k]) => k in trainFlags)), trainFlags, cfgFile);
      // The run goes on with its saved config: a flag that would change it is refused, not ignored.
      const fixed = given.filter((k) => !RESUME_FLAGS.includes(k));
      if (fixed.length > 0) {
        throw new UsageError(
          `--resume: the run's saved config is used; drop ${fixed.map(flagName).join(', ')} (a resumed run can change only ${RESUME_FLAGS.filter((k) => !HUMAN_FLAG_KEYS.includes(k) && k !== 'resume' && k !== 'runsDir').map(flagName).join(', ')} and the --human-* flags; to change the others, start a new run like this one: prefrl train --like ${shellPath(f.resume)} with ${fixed.map(flagName).join(', ')} and ${fixed.length === 1 ? 'its new value' : 'their new values'})`,
        );
      }
      // Finished: its summary is written and its last checkpoint reached the run's --steps.
      const finished = join(f.resume, 'summary.json');
      const ckFile = checkpointFile(f.resume);
      if (existsSync(finished) && existsSync(ckFile) && readCheckpoint(ckFile).globalStep >= savedFlags.steps) return alreadyFinished(f.resume, finished, f.json, ctx);
      // The viewer's settings (port, address, token, timeouts), output and threads are this command line's, not the saved run's.
      const now = Object.fromEntries(given.filter((k) => k !== 'resume').map((k) => [k, f[k as keyof TrainFlags]]));
      const human = Object.fromEntries(HUMAN_FLAG_KEYS.map((k) => [k, f[k as keyof TrainFlags]]));
      const { json, quiet } = f;
      f = { ...savedFlags, ...human, ...now, json, quiet, resume: f.resume };
      resumeDir = f.resume;
      // A run saved before its paths were kept absolute (2026-12-07) holds them as given: read from
      // the folder that run was started in, not from this one.
      for (const [what, path] of [
        ['model file', looksLikeModelPath(f.env) ? f.env : undefined],
        ['task module', f.task],
        ['expert', f.expert],
      ] as const) {
        if (path !== undefined && !isAbsolute(path) && !existsSync(path)) throw savedPathMissing(what, path, cfgFile);
      }
    }
    const { summary, run } = await train(f, ctx, resumeDir, given);
    if (f.json) printJson(ctx.io, { ...summary, runDir: run.path });
    else {
      ctx.io.stdout.write(
        [
          `final true return ${summary.finalTrueReturn.toFixed(2)} (mean of ${summary.finalTrueReturns.length} deterministic episodes)`,
          `${summary.reward === 'learned' ? `labels used ${summary.labelsUsed}, ` : ''}env steps ${summary.envSteps}, wall ${summary.wallSeconds.toFixed(0)} s`,
          summary.reward === 'learned' && summary.labelsUsed === 0 ? 'reward model: never trained (no labels were asked, or nobody answered; see the warning above)' : '',
          summary.reward === 'learned' && summary.labelsUsed > 0 ? `reward model: held-out accuracy ${orNa(summary.rewardAccuracy)}, return correlation ${orNa(summary.rewardCorrelation)}, EPIC ${orNa(summary.epic)}` : '',
          summary.decidedBy ? `${summary.teacher} decided by: ${decidedByText(summary.decidedBy)}` : '',
          `run folder: ${run.path}`,
          `watch the agent: prefrl rollout ${envConfigArgs(envConfigFromArgs(f.env, { task: f.task }))} --policy ${shellQuote(run.path)} --episodes 5`,
          '',
        ]
          .filter((l) => l !== '')
          .join('\n') + '\n',
      );
    }
    return 0;
  },
};

/** A metric to 3 decimals, or n/a when it could not be measured (no held-out pairs: accuracy NaN), as the round lines say. */
function orNa(x: number): string {
  return Number.isFinite(x) ? x.toFixed(3) : 'n/a';
}

/**
 * The label plan train states at its start: "1000 labels, 100 per round every 4096 steps (10
 * rounds)", or "20 labels in one round" where the budget fits one round (it had said "20 labels,
 * 100 per round").
 */
export function labelPlan(labels: number, perRound: number, feedbackEvery: number): string {
  const rounds = Math.ceil(labels / perRound);
  if (rounds <= 1) return `${labels} label${labels === 1 ? '' : 's'} in one round`;
  const last = labels - (rounds - 1) * perRound;
  return `${labels} labels, ${perRound} per round${last === perRound ? '' : ` (the last ${last})`} every ${feedbackEvery} steps (${rounds} rounds)`;
}
