/**
 * `prefrl offline`: the offline preference pipeline of reward/offline.ts from the command line
 * (pairs -> teacher labels -> reward model -> relabelled dataset -> IQL -> evaluation next to
 * IQL on the true reward and BC). Every stage can be run alone (--stage) in a run folder
 * (--resume) and is skipped when its output exists unless --force.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { OFFLINE_STAGES, OFFLINE_TEACHERS, VLM_CAMERAS, type OfflineConfigInput, type OfflineResult, type OfflineStage, type OfflineSummary, runOffline } from '../../reward/offline.js';
import { OFFLINE_STORE_FILE } from '../../reward/offline_stages.js';
import { datasetEnvConfig, readDataset } from '../../agents/dataset.js';
import { IQL_DEFAULTS } from '../../agents/iql.js';
import { decimalNumber, flagName, flags, type Parsed, positiveInts } from '../../core/config.js';
import { InputError, UsageError } from '../../core/errors.js';
import { type EnvConfig, envConfigArgs, envConfigFromArgs, makeEnv } from '../../envs/registry.js';
import { checkHeronFile, decidedByText, loadHeronConfig } from '../../reward/teachers/heron.js';
import { asFlag } from '../../reward/teachers/spec_error.js';
import { normalizedScoreMeaningful } from '../../reward/metrics.js';
import { QUERY_METHODS } from '../../reward/query.js';
import { MAX_STRIP_FRAMES } from '../../reward/vlm/render.js';
import { TOKEN_FIELDS } from '../../reward/vlm/client.js';
import { isFolder, shellQuote } from '../../core/paths.js';
import { lockRunDir } from '../run_lock.js';
import { checkDatasetNotFolder, type Command, type CommandContext, flagsGiven, formatTable, onInterrupt, parseOrHelp, printJson, resumeHint, warnIgnoredFlags } from '../command.js';
import { endHumanSessionsNow } from '../../reward/teachers/human.js';
import { checkHumanFlags, checkHumanPort, HUMAN_FLAG_KEYS, humanFlagsToSave, humanResumeArgs, humanServerSettings, humanTeacherFlags } from './human_flags.js';
import { fixedLabelRewardFlags, rewardTrainingFlags } from './reward_flags.js';
import { backendFlag, jsonFlag, quietFlag, runsDirFlag, seedFlag, taskFlag } from './common_flags.js';
import { commandSummary } from '../command_index.js';
import { flagsWithLike, likeFlag, likeSource } from './like.js';

export const offlineFlags = {
  dataset: flags.string({ doc: 'HDF5 dataset (prefrl collect); required, except with --resume', optional: true }),
  teacher: flags.choice(OFFLINE_TEACHERS, { doc: 'who labels the pairs (human: people in the viewer, see --human-*; heron:<file> is short for --teacher heron --heron-config <file>); required, except with --resume', optional: true }),
  labels: flags.int({ doc: 'pairs to ask about (answers, skips included)', default: 2000, min: 1 }),
  segmentLength: flags.int({ doc: 'steps per segment (1: single transitions, as RL-VLM-F learns its reward from single frames)', default: 50, min: 1 }),
  errorRate: flags.float({ doc: 'synthetic-vlm: probability of a wrong label', default: 0.2, min: 0, max: 1 }),
  unsureRate: flags.float({ doc: 'synthetic-vlm: probability of "unsure" (a skip)', default: 0.1, min: 0, max: 1 }),
  heronConfig: flags.string({ doc: 'heron: JSON file with the reward-term ranking and margins', optional: true }),
  vlmBaseUrl: flags.string({ doc: 'vlm: base URL of an OpenAI-compatible server (e.g. http://localhost:8000/v1)', optional: true }),
  vlmModel: flags.string({ doc: 'vlm: model name', optional: true }),
  vlmKeyEnv: flags.string({ doc: 'vlm: NAME of the environment variable holding the API key (the key is never logged or saved)', default: 'OPENAI_API_KEY' }),
  vlmFrames: flags.string({ doc: `vlm: final (the final frame, RL-VLM-F) or k (a strip of k frames, at most ${MAX_STRIP_FRAMES})`, default: 'final' }),
  vlmCache: flags.string({ doc: 'vlm: answer cache folder', optional: true, defaultDoc: '<run>/vlm_cache' }),
  vlmWidth: flags.int({ doc: 'vlm: width of each rendered frame, px', optional: true, defaultDoc: '512', min: 16, max: 4096 }),
  vlmHeight: flags.int({ doc: 'vlm: height of each rendered frame, px', optional: true, defaultDoc: '384', min: 16, max: 4096 }),
  vlmCamera: flags.choice(VLM_CAMERAS, { doc: 'vlm: camera of the frames (auto: the model\'s own view)', default: 'auto' }),
  vlmHideRobot: flags.bool({ doc: 'vlm: hide the robot in the frames, so it cannot hide the objects (RL-VLM-F)', default: false }),
  vlmConcurrency: flags.int({ doc: 'vlm: requests open at once', optional: true, defaultDoc: '4', min: 1, max: 1000 }),
  vlmRpm: flags.int({ doc: 'vlm: requests per minute at most (0: no limit)', optional: true, defaultDoc: '0', min: 0 }),
  vlmTimeout: flags.float({ doc: 'vlm: seconds a request may take before it is retried', optional: true, defaultDoc: '120', min: 0.001 }),
  vlmRetries: flags.int({ doc: 'vlm: retries of a request after 429, 5xx, a timeout or a network error (exponential backoff)', optional: true, defaultDoc: '5', min: 0, max: 100 }),
  vlmAnalysisMaxTokens: flags.int({
    doc: "vlm: reply length limit of the analysis (stage 1), tokens; a model that reasons before it answers needs more. Fixed for a run (not with --resume): to raise it, start a new run with --vlm-cache <old run>/vlm_cache, which asks again only the replies cut at the old limit",
    optional: true,
    defaultDoc: '1024',
    min: 1,
    max: 1_000_000,
  }),
  vlmLabelMaxTokens: flags.int({ doc: 'vlm: reply length limit of the answer (stage 2: 0, 1 or -1), tokens; a reasoning model needs more (raised as --vlm-analysis-max-tokens is)', optional: true, defaultDoc: '16', min: 1, max: 1_000_000 }),
  vlmTokenField: flags.choice(TOKEN_FIELDS, {
    doc: "vlm: the request field the two reply length limits are sent in: max_tokens (what vLLM, Ollama, LM Studio and llama.cpp read) or max_completion_tokens (OpenAI's reasoning models, o1, o3, o4-mini, gpt-5, take only this; a server that does not know it ignores it and sets no limit)",
    default: 'max_tokens',
  }),
  vlmTemperature: flags.string({
    doc: "vlm: sampling temperature of both stages, a number >= 0, or server: none sent, the server's own default (OpenAI's reasoning models take only that; their answers are then sampled, not the most likely)",
    optional: true,
    defaultDoc: '0',
  }),
  labelBatch: flags.int({ doc: 'pairs per teacher call (stored before the next call)', default: 100, min: 1 }),
  query: flags.choice(QUERY_METHODS, {
    doc: 'how the pairs are chosen: uniform (all at random, up front) or actively, in --query-rounds rounds, each picked from fresh candidates by a reward model trained on the labels so far (disagreement: where the ensemble members disagree most)',
    default: 'uniform',
  }),
  queryRounds: flags.int({ doc: 'active --query: rounds the labels come in (the first is uniform)', optional: true, defaultDoc: '4', min: 1 }),
  oversample: flags.int({ doc: 'active --query: candidate pairs drawn per pair asked', optional: true, defaultDoc: '10', min: 1 }),
  ...humanTeacherFlags,
  ...fixedLabelRewardFlags,
  rewardSelectInputs: flags.bool({
    doc: "reward model: choose its inputs from the labels before training it (forward selection: add the observation value, or the action, that best predicts held-out labels, 3-fold cross-validated, until none improves the fit by 2%); a remedy for spurious features that needs no knowledge of the task. A switch here, as offline trains once on all its labels; prefrl train's --reward-select-inputs takes the label counts to select at. The cross-validation fits small proxy networks with settings of their own (64x64, up to 60 epochs, 15% held out for early stopping): the other --reward-* flags, --reward-val-fraction included, train only the model made on the chosen inputs.",
    default: false,
  }),
  ...rewardTrainingFlags,
  updates: flags.int({ doc: 'IQL and BC gradient updates, each agent (CORL: 1,000,000)', default: IQL_DEFAULTS.updates, min: 1 }),
  batchSize: flags.int({ doc: 'transitions per IQL/BC batch', default: IQL_DEFAULTS.batchSize, min: 1 }),
  hidden: flags.list({ doc: 'IQL/BC hidden widths', default: IQL_DEFAULTS.hidden.map(String) }),
  evalEpisodes: flags.int({ doc: 'deterministic evaluation episodes per policy', default: 10, min: 1 }),
  evalEvery: flags.int({ doc: 'updates between evaluations during training (0: only the eval stage)', default: 0, min: 0 }),
  env: flags.string({ doc: 'env to evaluate in', optional: true, defaultDoc: 'the env recorded in the dataset' }),
  task: taskFlag('with --env'),
  seed: seedFlag('pairs, teacher noise, reward model, agents, evaluation episodes'),
  stage: flags.string({ doc: `all, or stages to run, comma-separated: ${OFFLINE_STAGES.join(', ')}`, default: 'all' }),
  force: flags.bool({ doc: 're-run the selected stages even when their output exists (stored labels are kept)', default: false }),
  resume: flags.string({ doc: 'work in this run folder, with its saved config', optional: true }),
  like: likeFlag('offline', '; --stage and --force are this command line\'s; a run taught by people gives its --human-* settings, but never its access token (give --human-token again); a vlm run\'s answer cache is the new run\'s own unless the saved run named one (--vlm-cache <old run>/vlm_cache asks again only what the old run did not ask)'),
  backend: backendFlag(),
  runsDir: runsDirFlag,
  name: flags.string({ doc: 'run name', optional: true, defaultDoc: 'offline-<env>-<teacher>-s<seed>' }),
  json: jsonFlag(),
  quiet: quietFlag(),
};

const spec = {
  command: 'prefrl offline',
  summary:
    'Offline preference pipeline: sample segment pairs from a dataset, label them with a teacher (VLM, synthetic VLM, HERON, oracle), learn a reward, relabel the dataset, train IQL, and evaluate it next to IQL on the true reward and BC.',
  flags: offlineFlags,
  epilog: [
    `Stages: ${OFFLINE_STAGES.join(' -> ')}; each is skipped when its output exists in the run folder (--force re-runs it).`,
    '--resume uses the run\'s saved config; the --human-* viewer settings and how the run reaches its VLM server may be given anew (--vlm-base-url, --vlm-key-env, --vlm-concurrency, --vlm-rpm, --vlm-timeout, --vlm-retries).',
    'The run folder: summary.json (the report\'s numbers, with each stage\'s seconds and what they cover), metrics.jsonl, labels.sqlite, artifacts/ (labels.json; teacher_counts.json: the teacher\'s requests and answers summed over every attempt, a killed or failed one\'s too; the reward model; the agents).',
    'Examples:',
    '  prefrl offline --dataset data.h5 --teacher synthetic-vlm --error-rate 0.2 --labels 2000 --updates 20000',
    '  prefrl offline --dataset data.h5 --teacher vlm --vlm-base-url http://localhost:8000/v1 --vlm-model qwen2.5-vl-7b --stage pairs,label',
    '  prefrl offline --resume runs/<stamp>-offline-reacher-vlm-s0 --stage reward,relabel,iql,eval',
    '  prefrl offline --dataset data.h5 --teacher heron --heron-config heron.json',
    '  prefrl offline --like runs/<stamp>-offline-reacher-synthetic-vlm-s0 --seed 1   # the same settings, another seed',
  ].join('\n'),
};

export type OfflineFlags = Parsed<typeof offlineFlags>;

function parseStages(text: string): readonly OfflineStage[] {
  if (text.trim() === 'all') return OFFLINE_STAGES;
  const parts = text.split(',').map((s) => s.trim());
  for (const p of parts) {
    if (!(OFFLINE_STAGES as readonly string[]).includes(p)) throw new UsageError(`--stage: unknown stage ${JSON.stringify(p)} (expected all or a comma-separated list of ${OFFLINE_STAGES.join(', ')})`);
  }
  return OFFLINE_STAGES.filter((s) => parts.includes(s));
}

/** The pipeline config from flags (a new run). */
export function offlineConfigFromFlags(f: OfflineFlags): OfflineConfigInput {
  if (!f.dataset) throw new UsageError('--dataset: required (or --resume <run folder>)');
  checkDatasetNotFolder(f.dataset);
  if (!f.teacher) throw new UsageError(`--teacher: required (${OFFLINE_TEACHERS.join(', ')})`);
  let frames: 'final' | number = 'final';
  if (f.vlmFrames !== 'final') {
    frames = Number(f.vlmFrames);
    if (!Number.isInteger(frames) || frames < 1 || frames > MAX_STRIP_FRAMES) throw new UsageError(`--vlm-frames: expected final or an integer in 1..${MAX_STRIP_FRAMES}, got ${JSON.stringify(f.vlmFrames)}`);
  }
  // The --vlm-* flags given (a value other than the default), named in the error.
  const vlmGiven = (
    [
      ['--vlm-base-url', f.vlmBaseUrl !== undefined],
      ['--vlm-model', f.vlmModel !== undefined],
      ['--vlm-cache', f.vlmCache !== undefined],
      ['--vlm-frames', f.vlmFrames !== 'final'],
      ['--vlm-width', f.vlmWidth !== undefined],
      ['--vlm-height', f.vlmHeight !== undefined],
      ['--vlm-camera', f.vlmCamera !== 'auto'],
      ['--vlm-hide-robot', f.vlmHideRobot],
      ['--vlm-concurrency', f.vlmConcurrency !== undefined],
      ['--vlm-rpm', f.vlmRpm !== undefined],
      ['--vlm-timeout', f.vlmTimeout !== undefined],
      ['--vlm-retries', f.vlmRetries !== undefined],
      ['--vlm-analysis-max-tokens', f.vlmAnalysisMaxTokens !== undefined],
      ['--vlm-label-max-tokens', f.vlmLabelMaxTokens !== undefined],
      ['--vlm-token-field', f.vlmTokenField !== 'max_tokens'],
      ['--vlm-temperature', f.vlmTemperature !== undefined],
    ] as const
  )
    .filter(([, given]) => given)
    .map(([flag]) => flag);
  if (vlmGiven.length > 0 && f.teacher !== 'vlm') throw new UsageError(`--vlm-*: only for --teacher vlm (given: ${vlmGiven.join(', ')}; the teacher is ${f.teacher})`);
  // A file there failed at the label stage, after the run folder and its pairs were made, with mkdir's EEXIST.
  if (f.vlmCache !== undefined && existsSync(f.vlmCache) && !isFolder(f.vlmCache)) {
    throw new UsageError(`--vlm-cache: ${f.vlmCache} is a file; the answer cache is a folder (made when missing), e.g. ${join('<run>', 'vlm_cache')} of an earlier run`);
  }
  let temperature: number | 'server' | null = null;
  if (f.vlmTemperature !== undefined) {
    temperature = f.vlmTemperature.trim() === 'server' ? 'server' : decimalNumber(f.vlmTemperature);
    if (temperature !== 'server' && !(Number.isFinite(temperature) && temperature >= 0)) {
      throw new UsageError(`--vlm-temperature: expected a number >= 0 or server (none sent: the server's default), got ${JSON.stringify(f.vlmTemperature)}`);
    }
  }
  for (const [v, flag] of [
    [f.queryRounds, '--query-rounds'],
    [f.oversample, '--oversample'],
  ] as const) {
    if (v !== undefined && f.query === 'uniform') throw new UsageError(`${flag}: only with an active --query (${QUERY_METHODS.filter((m) => m !== 'uniform').join(', ')}); uniform draws every pair up front`);
  }
  if (f.task && !f.env) throw new UsageError('--task: needs --env <model.xml>');
  return {
    dataset: f.dataset,
    teacher: f.teacher,
    env: f.env ? envConfigFromArgs(f.env, { task: f.task }) : null,
    errorRate: f.errorRate,
    unsureRate: f.unsureRate,
    heronConfig: f.heronConfig ?? null,
    vlm: {
      baseUrl: f.vlmBaseUrl ?? null,
      model: f.vlmModel ?? null,
      keyEnv: f.vlmKeyEnv,
      frames,
      cacheDir: f.vlmCache ?? null,
      width: f.vlmWidth ?? null,
      height: f.vlmHeight ?? null,
      camera: f.vlmCamera,
      hideRobot: f.vlmHideRobot,
      concurrency: f.vlmConcurrency ?? null,
      rpm: f.vlmRpm ?? null,
      timeoutS: f.vlmTimeout ?? null,
      retries: f.vlmRetries ?? null,
      analysisMaxTokens: f.vlmAnalysisMaxTokens ?? null,
      labelMaxTokens: f.vlmLabelMaxTokens ?? null,
      temperature,
      tokenField: f.vlmTokenField,
    },
    labels: f.labels,
    labelBatch: f.labelBatch,
    query: f.query,
    queryRounds: f.queryRounds,
    queryOversample: f.oversample,
    segmentLength: f.segmentLength,
    preferenceModel: f.preferenceModel,
    rewardMembers: f.rewardMembers,
    rewardHidden: positiveInts(f.rewardHidden, '--reward-hidden'),
    rewardInput: f.rewardInput,
    rewardEpochs: f.rewardEpochs,
    rewardFlipRate: f.rewardFlipRate,
    rewardPatience: f.rewardPatience,
    rewardLr: f.rewardLr,
    rewardWeightDecay: f.rewardWeightDecay,
    rewardInputL1: f.rewardInputL1,
    rewardInputProx: f.rewardInputProx,
    rewardValFraction: f.rewardValFraction,
    rewardSelectInputs: f.rewardSelectInputs,
    rewardSelectWorkers: f.rewardSelectWorkers ?? null,
    updates: f.updates,
    batchSize: f.batchSize,
    hidden: positiveInts(f.hidden, '--hidden'),
    evalEpisodes: f.evalEpisodes,
    evalEvery: f.evalEvery,
    seed: f.seed,
    backend: f.backend,
  };
}

/**
 * The flags a saved offline run's pipeline config (config.json's `config`) stands for: what
 * offlineConfigFromFlags makes back into the same config (test/like_offline.test.ts checks the
 * round trip for every flag that sets it). Settings left at their defaults (null) give no flag; the
 * active-query settings only with an active --query (the config records their defaults with
 * uniform too).
 */
export function offlineFlagsFromConfig(cfg: Record<string, unknown>, file: string): Record<string, unknown> {
  if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) throw new InputError(file, 'expected the offline pipeline config (an object) under "config"', 'config');
  const out: Record<string, unknown> = {};
  const set = (flag: string, v: unknown) => {
    if (v !== null && v !== undefined) out[flag] = v;
  };
  const widths = (v: unknown) => (Array.isArray(v) ? v.map(String) : v);
  const env = cfg.env as { id?: unknown; model?: unknown; task?: unknown } | null | undefined;
  if (env) {
    set('env', env.id === 'custom' ? env.model : env.id);
    set('task', env.task);
  }
  for (const k of ['dataset', 'teacher', 'errorRate', 'unsureRate', 'heronConfig', 'labels', 'labelBatch', 'query', 'segmentLength', 'preferenceModel', 'rewardMembers', 'rewardInput', 'rewardEpochs', 'rewardFlipRate', 'rewardPatience', 'rewardLr', 'rewardWeightDecay', 'rewardInputL1', 'rewardInputProx', 'rewardValFraction', 'rewardSelectInputs', 'rewardSelectWorkers', 'updates', 'batchSize', 'evalEpisodes', 'evalEvery', 'seed', 'backend']) {
    set(k, cfg[k]);
  }
  set('rewardHidden', widths(cfg.rewardHidden));
  set('hidden', widths(cfg.hidden));
  if (cfg.query !== undefined && cfg.query !== 'uniform') {
    set('queryRounds', cfg.queryRounds);
    set('oversample', cfg.queryOversample);
  }
  const vlm = (cfg.vlm ?? {}) as Record<string, unknown>;
  if (cfg.teacher === 'vlm') {
    const names: Record<string, string> = { baseUrl: 'vlmBaseUrl', model: 'vlmModel', keyEnv: 'vlmKeyEnv', cacheDir: 'vlmCache', width: 'vlmWidth', height: 'vlmHeight', camera: 'vlmCamera', hideRobot: 'vlmHideRobot', concurrency: 'vlmConcurrency', rpm: 'vlmRpm', timeoutS: 'vlmTimeout', retries: 'vlmRetries', analysisMaxTokens: 'vlmAnalysisMaxTokens', labelMaxTokens: 'vlmLabelMaxTokens', tokenField: 'vlmTokenField' };
    for (const [k, flag] of Object.entries(names)) set(flag, vlm[k]);
    if (vlm.frames !== undefined) set('vlmFrames', String(vlm.frames));
    if (vlm.temperature !== undefined && vlm.temperature !== null) set('vlmTemperature', String(vlm.temperature));
  }
  return out;
}

/**
 * The --human-* flags a saved offline run taught by people recorded (config.json's `human`, by
 * flag name; never the token), for --like: {} when it recorded none (another teacher, or a run
 * made before they were saved). Checked as flags by --like (the file and key named).
 */
export function offlineHumanFlagsFromConfig(human: unknown, file: string): Record<string, unknown> {
  if (human === undefined || human === null) return {};
  if (typeof human !== 'object' || Array.isArray(human)) throw new InputError(file, 'expected the --human-* settings (an object of flags) under "human"', 'human');
  return Object.fromEntries(Object.entries(human as Record<string, unknown>).filter(([k]) => k !== 'humanToken'));
}

/** How a run reaches its VLM server: given with --resume, they replace the saved values (a server moved, a wrong port). */
const VLM_CONNECTION_FLAGS = ['vlmBaseUrl', 'vlmKeyEnv', 'vlmConcurrency', 'vlmRpm', 'vlmTimeout', 'vlmRetries'] as const;

/** Flags that change what a run computes: refused with --resume (the saved config wins). */
const CONFIG_FLAGS = Object.keys(offlineFlags).filter((k) => !['stage', 'force', 'resume', 'runsDir', 'name', 'json', 'quiet', ...HUMAN_FLAG_KEYS, ...VLM_CONNECTION_FLAGS].includes(k));

/** `--kebab-case` of a flag key. */

function n(x: number, digits = 2): string {
  return Number.isFinite(x) ? x.toFixed(digits) : 'n/a';
}

/**
 * The ratio line of the report. The normalised score, (R_learned - R_random) / (R_true -
 * R_random), is the headline: it reads the same way for costs (negative returns) and rewards.
 * The plain R_learned / R_true reads backwards for negative returns, so it is shown only when
 * both are positive. When IQL-true does not beat the random policy by more than the spread of
 * their episode returns (the larger std), the denominator is about noise and the normalised
 * score is not meaningful: a note says so.
 */
export function ratioLine(s: Pick<OfflineSummary, 'returns' | 'normalizedRatio' | 'ratio'>): string {
  const { iqlLearned, iqlTrue, random } = s.returns;
  const parts = [`IQL learned vs IQL true, normalised to random: ${n(s.normalizedRatio, 3)} (the share of IQL-true's gain over the random policy that IQL-learned reaches)`];
  if (iqlLearned.meanReturn > 0 && iqlTrue.meanReturn > 0) parts.push(`plain ratio ${n(s.ratio, 3)}`);
  if (!normalizedScoreMeaningful(iqlTrue, random)) {
    const spread = Math.max(iqlTrue.stdReturn, random.stdReturn);
    parts.push(
      `not meaningful here: IQL-true (${n(iqlTrue.meanReturn)}) does not beat random (${n(random.meanReturn)}) by more than the spread of their episode returns (std ${n(spread)}); compare the returns in the table`,
    );
  }
  return parts.join('; ');
}

/**
 * The teacher's counts over the whole run (every attempt of the label stage), nonzero ones, in
 * the teacher's order: "teacher counts (all attempts): requests 812, cache_hits 40, ...".
 */
export function teacherCountsLine(counts: Readonly<Record<string, number>>): string | null {
  const parts = Object.entries(counts)
    .filter(([, v]) => v !== 0)
    .map(([k, v]) => `${k.replace(/^vlm\//, '')} ${v}`);
  return parts.length === 0 ? null : `teacher counts (all attempts of the label stage): ${parts.join(', ')}`;
}

/**
 * Seconds per stage, each stage's last attempt: "stage seconds: pairs 0.1, label 2.3 (this
 * attempt only: it went on from work saved before), ...; not recorded: reward".
 */
export function stageSecondsLine(s: Pick<OfflineSummary, 'stageSeconds' | 'stageTiming'>): string {
  const timing = s.stageTiming ?? {};
  const parts = Object.entries(s.stageSeconds).map(([k, v]) => `${k} ${n(v, 1)}${timing[k] === 'last-attempt' ? ' (last attempt only: it went on from work saved before)' : ''}`);
  const lost = Object.entries(timing)
    .filter(([, t]) => t === 'not-recorded')
    .map(([k]) => k);
  return `stage seconds: ${parts.join(', ')}${lost.length > 0 ? `; not recorded: ${lost.join(', ')} (done by a process stopped before it logged its time)` : ''}`;
}

/** The human-readable report of a summary. */
export function formatOfflineSummary(s: OfflineSummary): string {
  const r = s.returns;
  const row = (name: string, e: { meanReturn: number; stdReturn: number; meanSuccess: number }) => [name, n(e.meanReturn), n(e.stdReturn), n(e.meanSuccess, 3)];
  return [
    `${s.env}: ${s.datasetTransitions} transitions (${s.datasetEpisodes} episodes, mean return ${n(s.datasetMeanReturn)}), teacher ${s.teacherId}, ${s.preferenceModel}`,
    `labels ${s.labels} (${s.preferences} preferences, ${s.ties === undefined ? '' : `${s.ties} ties, `}${s.skips} skips), agreement with the true partial return ${s.teacherAgreement === null ? 'n/a' : n(s.teacherAgreement, 3)}` +
      (s.query && s.query !== 'uniform' ? `; pairs chosen by ${s.query} in ${s.queryRounds} rounds` : ''),
    ...(s.teacherCounts ? [teacherCountsLine(s.teacherCounts)].filter((l): l is string => l !== null) : []),
    // HERON: which reward term decided its labels (as prefrl labels stats says it).
    ...(s.decidedBy ? [`${s.teacherId} decided by: ${decidedByText(s.decidedBy)}`] : []),
    `reward model: held-out accuracy ${n(s.rewardValAccuracy, 3)}, correlation with the true reward ${n(s.rewardTransitionCorrelation, 3)} per transition, ${n(s.rewardReturnCorrelation, 3)} per episode return`,
    '',
    formatTable(['policy', `true return (${s.evalEpisodes} episodes)`, 'std', 'final success'], [
      row('IQL, learned reward', r.iqlLearned),
      row('IQL, true reward', r.iqlTrue),
      row('BC', r.bc),
      row('random', r.random),
    ]),
    '',
    `${ratioLine(s)}  (${s.updates} updates, seed ${s.seed})`,
    stageSecondsLine(s),
    `run folder: ${s.runDir}`,
    `watch the agents: prefrl rollout ${envConfigArgs(s.envConfig ?? { id: s.env.startsWith('custom') ? 'custom' : s.env })} --policy ${shellQuote(join(s.runDir, 'artifacts', 'agents', 'iql-learned'))} --episodes 5 (or iql-true, bc)`,
  ].join('\n');
}

/** Run the command's work from parsed flags (also for callers that build flags themselves). */
export async function offlineFromFlags(f: OfflineFlags, given: ReadonlySet<string>, ctx: CommandContext): Promise<OfflineResult> {
  const stages = parseStages(f.stage);
  if (f.resume !== undefined && f.resume.trim() === '') throw new UsageError('--resume: empty; name the offline run folder to go on with (runs/<id>)');
  // The viewer's address and token matter only when people label (the human teacher; on
  // --resume, the saved run's teacher, checked when the saved config cannot be read).
  const teacher = f.resume ? savedTeacher(f.resume) : f.teacher;
  if (teacher === undefined || teacher === 'human') checkHumanFlags(f);
  // A new run with people checks the viewer's port now, not after the pairs stage.
  if (!f.resume && teacher === 'human') await checkHumanPort(f);
  if (f.resume) {
    const fixed = flagsGiven(given, CONFIG_FLAGS);
    const limits = fixed.some((k) => (TOKEN_LIMIT_FLAGS as readonly string[]).includes(k)) ? tokenLimitHint(f.resume) : '';
    if (fixed.length > 0) {
      throw new UsageError(`--resume: the run's saved config is used; drop ${fixed.map(flagName).join(', ')}${limits || ` (to change them, start a new run like this one: prefrl offline --like ${shellQuote(f.resume)} with ${fixed.map(flagName).join(', ')} and ${fixed.length === 1 ? 'its new value' : 'their new values'})`}`);
    }
  }
  const keyEnvGiven = flagsGiven(given, ['vlmKeyEnv']).length > 0;
  const vlmConnection = f.resume
    ? { baseUrl: f.vlmBaseUrl, keyEnv: keyEnvGiven ? f.vlmKeyEnv : undefined, concurrency: f.vlmConcurrency, rpm: f.vlmRpm, timeoutS: f.vlmTimeout, retries: f.vlmRetries }
    : undefined;
  // A dataset path --like took from a run's saved settings is read from this folder: say so when it is not there.
  if (!f.resume && f.dataset !== undefined && !existsSync(f.dataset) && likeSource(f, given, 'dataset')) throw new UsageError(`--dataset: ${JSON.stringify(f.dataset)} not found${likeSource(f, given, 'dataset')}`);
  const config = f.resume ? undefined : offlineConfigFromFlags(f);
  // A HERON config is read and checked against the env before a run folder is made.
  if (config?.teacher === 'heron' && config.heronConfig) await checkHeronConfig(config.heronConfig, config.dataset, config.env ?? null);
  if (teacher !== undefined && teacher !== 'human') warnIgnoredFlags(ctx, flagsGiven(given, HUMAN_FLAG_KEYS), `they set up the viewer of --teacher human; this run's teacher is ${teacher}`);
  if (teacher !== undefined && teacher !== 'synthetic-vlm') warnIgnoredFlags(ctx, flagsGiven(given, ['errorRate', 'unsureRate']), `they set the mistakes of --teacher synthetic-vlm; this run's teacher is ${teacher}`);
  // Ctrl-C: say how to go on (finished stages and stored labels are kept).
  let runPath: string | null = null;
  // The resume commands the run prints keep what this command line set of how the run reaches
  // people (the --human-* flags: their links name the address, port and people) and, when it
  // resumes, its VLM server (given anew: a server moved since; config.json keeps the old one).
  const resumeArgs = (): string =>
    (teacher === 'human' ? humanResumeArgs(f, given, runPath === null ? undefined : join(runPath, OFFLINE_STORE_FILE)) : '') +
    VLM_CONNECTION_FLAGS.filter((k) => f.resume !== undefined && given.has(k))
      .map((k) => ` ${flagName(k)} ${shellQuote(String(f[k]))}`)
      .join('');
  // A stopped run goes on with the stages it was asked for: a resume without them runs every stage
  // left (an --stage pairs,label run stopped in its label stage went on, as told, to train the
  // reward model and IQL). Only here: the pipeline's own advice names stages this run did not ask for.
  const stageArgs = given.has('stage') && f.stage.trim() !== 'all' ? ` --stage ${shellQuote(f.stage)}` : '';
  let unlock: (() => void) | undefined;
  const stopHint = onInterrupt(
    ctx,
    () => {
      // People's pages are told the session ended (the process exits without closing its server).
      endHumanSessionsNow();
      return runPath ? resumeHint('offline', runPath, `${resumeArgs()}${stageArgs}`) : { line: 'stopped before a run folder was made', fields: { runDir: null } };
    },
    { json: f.json },
  );
  // The run folder is locked before anything in it is read or changed (a resumed one at once, a
  // new one as soon as it is made): a second process in it would mix its stages, labels and metrics.
  const onRun = (p: string): void => {
    unlock ??= lockRunDir(p, ctx, '--resume', 'offline');
    runPath = p;
  };
  try {
    if (f.resume && isFolder(f.resume)) unlock = lockRunDir(resolve(f.resume), ctx, '--resume', 'offline');
    return await runOffline(
      {
        config,
        resume: f.resume,
        stages,
        force: f.force,
        runsDir: f.runsDir,
        name: f.name,
        partOf: ctx.partOf,
        human: teacher === undefined || teacher === 'human' ? humanServerSettings(f) : undefined,
        // A new run taught by people saves its --human-* settings (never the token), as train does: for prefrl runs and --like.
        humanFlags: !f.resume && teacher === 'human' ? humanFlagsToSave(f) : undefined,
        vlmConnection,
        onRun,
        resumeArgs,
      },
      { logger: ctx.logger, clock: ctx.clock, progress: { sink: ctx.io.stderr, tty: ctx.io.tty, silent: f.quiet } },
    );
  } finally {
    unlock?.();
    stopHint();
  }
}

/**
 * The VLM's reply length limits. Not taken with --resume, though raising one is what a run whose
 * replies were cut (a reasoning model thinking past the limit) needs: a limit is part of the
 * teacher (its id, so its labels are another teacher's), and a run's stages count one teacher's
 * labels (the label stage asks the pairs that teacher has not answered, labels.json, the reward
 * model and the summary read that teacher's), so a resumed run with a raised limit would either
 * ask every pair again or train on the labels of two teachers. A new run with the same flags and
 * the raised limit draws the same pairs; given the old run's answer cache (--vlm-cache), only the
 * replies cut at the old limit are asked again (reward/vlm/cache.ts: a reply that ended on its own
 * answers any limit it fits), so it pays for what the raise changes and no more.
 */
const TOKEN_LIMIT_FLAGS = ['vlmAnalysisMaxTokens', 'vlmLabelMaxTokens'] as const;

/** What the refusal of a token limit with --resume adds: how to raise it (a new run reading this run's cache). */
function tokenLimitHint(runDir: string): string {
  // An unreadable config is reported by the resume itself; the default cache folder is named.
  const saved = savedConfig(runDir)?.vlm?.cacheDir;
  const cache = typeof saved === 'string' ? saved : join(runDir, 'vlm_cache');
  return ` (a token limit is part of the VLM teacher, and a run counts one teacher's labels: start a new run with the same flags, the new limit and --vlm-cache ${shellQuote(cache)}; it draws the same pairs and asks again only the replies cut at the old limit, the others come from the cache)`;
}

/** The config a saved offline run records (config.json's `config`), or undefined when it cannot be read. */
function savedConfig(runDir: string): { teacher?: unknown; vlm?: { cacheDir?: unknown } } | undefined {
  try {
    return (JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8')) as { config?: { teacher?: unknown; vlm?: { cacheDir?: unknown } } }).config;
  } catch {
    return undefined;
  }
}

/** The teacher a saved offline run uses, or undefined when its config cannot be read. */
function savedTeacher(runDir: string): string | undefined {
  const teacher = savedConfig(runDir)?.teacher;
  return typeof teacher === 'string' ? teacher : undefined;
}

/**
 * Read and check a HERON config against the env the run will use (--env, or the one the dataset
 * records), so a bad file is refused before the pairs stage runs and a run folder is made. When
 * the dataset cannot be read or names no env, the pipeline's own checks report it.
 */
async function checkHeronConfig(file: string, dataset: string, env: EnvConfig | null): Promise<void> {
  if (!existsSync(file)) throw new UsageError(`--heron-config: ${JSON.stringify(file)} not found`);
  let config = env;
  if (!config) {
    if (!existsSync(dataset)) return;
    const meta = (await readDataset(dataset)).meta;
    config = datasetEnvConfig(meta, dataset);
    if (!config) return;
  }
  const probe = await makeEnv(config);
  try {
    loadHeronConfig(file, probe.spec);
  } finally {
    probe.dispose();
  }
}

/**
 * `--teacher heron:<file>`, the form train and label take, as `--teacher heron --heron-config <file>`
 * (both forms at once are refused). `checkFile` is given the file and the spec it came in, when
 * there is one (the command checks it there, naming --teacher: the --heron-config check the
 * shorthand becomes would name a flag nobody typed).
 */
export function heronShorthand(argv: readonly string[], checkFile?: (file: string, spec: string) => void): string[] {
  const out: string[] = [];
  let file: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = a === '--teacher' ? argv[i + 1] : a.startsWith('--teacher=') ? a.slice('--teacher='.length) : undefined;
    if (value?.startsWith('heron:')) {
      file = value.slice('heron:'.length);
      if (file === '') throw new UsageError('--teacher heron:<file>: name the HERON config file (or use --teacher heron --heron-config <file>)');
      checkFile?.(file, value);
      out.push('--teacher', 'heron');
      if (a === '--teacher') i++;
      continue;
    }
    out.push(a);
  }
  if (file !== null) {
    if (out.some((a) => a === '--heron-config' || a.startsWith('--heron-config='))) throw new UsageError('--teacher heron:<file> and --heron-config: give the HERON config once');
    out.push('--heron-config', file);
  }
  return out;
}

export const offlineCommand: Command = {
  name: 'offline',
  summary: commandSummary('offline'),
  async run(argv0, ctx) {
    // The file is checked as train and label check theirs.
    const argv = heronShorthand(argv0, (file, heronSpec) => asFlag('--teacher', () => checkHeronFile(file, heronSpec)));
    const parsed = parseOrHelp(argv, spec, ctx.io);
    if (!parsed) return 0;
    const f = flagsWithLike(parsed, offlineFlags, 'offline', ctx, { own: ['stage', 'force'], fromRun: (obj, file) => ({ ...offlineFlagsFromConfig(obj.config as Record<string, unknown>, file), ...offlineHumanFlagsFromConfig(obj.human, file) }) });
    const res = await offlineFromFlags(f, parsed.given, ctx);
    if (f.json) printJson(ctx.io, { ...(res.summary ?? {}), runDir: res.runDir, stages: res.stages });
    else {
      const ran = Object.entries(res.stages)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      ctx.io.stdout.write(`${res.summary ? `${formatOfflineSummary({ ...res.summary, runDir: res.runDir })}\n` : `run folder: ${res.runDir}\n`}stages: ${ran}\n`);
    }
    return 0;
  },
};
