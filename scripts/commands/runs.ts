/**
 * `prefrl runs`: the run folders under --runs-dir (and one level of sub-folders such as a
 * benchmark's root), oldest first: the command and env that made each, whether it finished
 * (summary.json written), its headline number, and for an unfinished train or offline run the
 * command that resumes it; a train or offline run that a live process holds (its train.lock or
 * offline.lock, scripts/run_lock.ts) is listed as running, not as one to resume. An unfinished
 * offline run says which stages are done and the one its resume starts with (the label stage's
 * pairs answered, counted in its label store; the iql stage's agents trained), by the rule
 * `prefrl offline` itself skips stages by (reward/offline_stages.ts); one whose last command was
 * asked for some stages (--stage pairs,label) and ran them all is said to have stopped there as
 * asked, with the stages not run yet. A run taught by people (train or offline) has the --human-*
 * settings it saved in its resume command. Folders whose config or
 * summary cannot be read are listed as such, with the file and why, not skipped; so is a stage
 * marker or label store that cannot be read, or a metrics log with no step in it.
 */
import { closeSync, existsSync, fstatSync, openSync, readdirSync, readSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { flags } from '../../core/config.js';
import { normalizedScoreMeaningful } from '../../reward/metrics.js';
import { UsageError } from '../../core/errors.js';
import { labelStageTotal, OFFLINE_AGENTS, OFFLINE_STAGES, OFFLINE_STORE_FILE, type OfflineAgent, type OfflineStage, offlineStageState, readAskedStages, reopenedPairs, trainedAgents } from '../../reward/offline_stages.js';
import { LabelStore } from '../../reward/store.js';
import { folderAccessProblem, isFolder, shellQuote } from '../../core/paths.js';
import { configSeed, readRunJson } from '../../core/run.js';
import { type ClaimHolder, claimIsStale, readClaim } from '../bench/cells.js';
import { type Command, formatTable, parseOrHelp, printJson } from '../command.js';
import { lockFileName } from '../run_lock.js';
import { jsonFlag } from './common_flags.js';
import { savedHumanResumeArgs } from './human_flags.js';
import { commandSummary } from '../command_index.js';

export interface RunEntry {
  /** Folder, relative to the runs folder. */
  readonly run: string;
  readonly path: string;
  /** The command that made it (config.json), or null when its config cannot be read. */
  readonly command: string | null;
  readonly env: string | null;
  /**
   * running: an unfinished train or offline run whose folder a live process holds (its lock file);
   * unreadable: its config.json or summary.json cannot be read (`problem` says which, and why).
   */
  readonly state: 'finished' | 'unfinished' | 'running' | 'unreadable';
  /**
   * Who labelled (a train or offline run's teacher; "true reward" or "model" for a train run on
   * the env's reward or a saved reward model; for a reward run, the --teacher prefix it kept, as
   * "human*", or "every teacher"), or null where the command has none.
   */
  readonly teacher: string | null;
  /** The run's --seed, or null when its config has none. */
  readonly seed: number | null;
  /** The headline number of its summary, in words (e.g. "return -31.2"), or null. */
  readonly result: string | null;
  /**
   * The headline's numbers for scripts, by their summary.json key (nested ones with dots, e.g.
   * "returns.iqlTrue.meanReturn"); empty for an unfinished or unreadable run.
   */
  readonly numbers: Record<string, number>;
  /** How to go on with an unfinished run, when it can be resumed. */
  readonly resume: string | null;
  /**
   * How far an unfinished or running train run got: the step of the last line of its
   * metrics.jsonl (env steps) and its --steps; null for other runs.
   */
  readonly progress: { readonly step: number; readonly of: number | null } | null;
  /** How far an unfinished or running offline run got (see OfflineProgress); null for other runs, or when its stage marker cannot be read. */
  readonly stages: OfflineProgress | null;
  /**
   * What in the folder cannot be read, naming the file and why: config.json or summary.json (the
   * run is unreadable), an offline run's stage marker (rerunning.json) or label store, a train
   * run's metrics.jsonl with no step to tell how far it got; null when nothing is wrong.
   */
  readonly problem: string | null;
}

/**
 * How far an offline run got, as `prefrl offline --resume` judges it (reward/offline_stages.ts):
 * the stages done, the one its resume starts with, and the work inside that stage so far.
 */
export interface OfflineProgress {
  /** The stages the resume skips (their output is there), in pipeline order. */
  readonly done: readonly OfflineStage[];
  /** The first stage not done: where the resume starts; null when all six are done. */
  readonly at: OfflineStage | null;
  /** A done stage that was running again when the run stopped: it and every stage after it are made anew. */
  readonly rerunning: OfflineStage | null;
  /**
   * The label store's count, when the label stage is the one to run or the store was read for
   * it: pairs answered of the pairs the stage labels in all, and the pairs a done label stage
   * asks again (the human teacher's timed-out ones; the resume starts there then). Null when
   * not counted (another stage, or a store that cannot be read: see RunEntry.problem).
   */
  readonly pairs: { readonly answered: number; readonly of: number; readonly reopened: number } | null;
  /** The iql stage's agents trained so far, when it is the stage to run; null otherwise. */
  readonly agents: readonly OfflineAgent[] | null;
  /** The stages not done (with `at`, the first of them: a label stage to ask again counts), in pipeline order; the resume starts at `at`. */
  readonly toRun: readonly OfflineStage[];
  /**
   * The stages the last `prefrl offline` in the folder was asked for (--stage), when it ran them
   * all and every one is still done: the run stopped where it was asked to, not part way (`at`
   * is where the rest starts). Null otherwise: it was stopped or failed, was asked for them all,
   * or a stage it ran has been undone since (a human teacher's timed-out pairs to ask again).
   */
  readonly asked: readonly OfflineStage[] | null;
}

/**
 * The step of the last complete line of a metrics.jsonl (read from its last 64 KiB; a line cut
 * off by a kill is passed over), or null when there is none.
 */
export function lastLoggedStep(file: string): number | null {
  return readLastStep(file).step;
}

/**
 * lastLoggedStep, and why there is no step when the file is there but tells none: it cannot be
 * read, or no line of its last 64 KiB holds a step (null for a missing or empty file: a run that
 * logged nothing yet).
 */
function readLastStep(file: string): { step: number | null; problem: string | null } {
  if (!existsSync(file)) return { step: null, problem: null };
  let text: string;
  try {
    const fd = openSync(file, 'r');
    try {
      const size = fstatSync(fd).size;
      const n = Math.min(size, 65536);
      const buf = Buffer.alloc(n);
      readSync(fd, buf, 0, n, size - n);
      text = buf.toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    return { step: null, problem: `${basename(file)}: cannot be read (${(e as Error).message}); how far the run got is not known` };
  }
  if (text.trim() === '') return { step: null, problem: null };
  const lines = text.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      const step = (JSON.parse(lines[i]) as { step?: unknown } | null)?.step;
      if (typeof step === 'number' && Number.isFinite(step)) return { step, problem: null };
    } catch {
      // a cut-off line, or the part of a line the 64 KiB window starts in
    }
  }
  return { step: null, problem: `${basename(file)}: no line of its last 64 KiB holds a step; how far the run got is not known` };
}

/** "at step 13312 of 200000" and `end` for a train run's resume text; "" when not known. */
function progressText(p: RunEntry['progress'], end = ': '): string {
  return p === null ? '' : `at step ${p.step}${p.of === null ? '' : ` of ${p.of}`}${end}`;
}


/**
 * The summary.json keys each command's headline is made of (with what a reader needs to judge
 * it: an offline run's IQL-true and random returns), for RunEntry.numbers.
 */
const HEADLINE_KEYS: Readonly<Record<string, readonly string[]>> = {
  train: ['finalTrueReturn', 'finalSuccess', 'labelsUsed', 'envSteps'],
  iql: ['finalTrueReturn'],
  offline: ['normalizedRatio', 'ratio', 'labels', 'returns.iqlLearned.meanReturn', 'returns.iqlTrue.meanReturn', 'returns.bc.meanReturn', 'returns.random.meanReturn'],
  rollout: ['meanReturn', 'returnStd', 'meanSuccess', 'episodes'],
  reward: ['preferences', 'valAccuracy', 'returnCorrelation'],
  collect: ['transitions', 'meanReturn'],
};

/** The finite numbers of `summary` at `keys` (dotted paths); tour's rows give their episodes and steps summed. */
export function headlineNumbers(command: string | null, summary: Record<string, unknown> | readonly unknown[]): Record<string, number> {
  const out: Record<string, number> = {};
  if (Array.isArray(summary)) {
    const rows = summary.filter((r): r is Record<string, unknown> => typeof r === 'object' && r !== null && !Array.isArray(r));
    if (command !== 'tour') return out;
    out.envs = rows.length;
    for (const k of ['episodes', 'steps']) out[k] = rows.reduce((n, r) => n + (typeof r[k] === 'number' && Number.isFinite(r[k]) ? r[k] : 0), 0);
    return out;
  }
  for (const key of HEADLINE_KEYS[command ?? ''] ?? ['finalTrueReturn', 'meanReturn']) {
    let v: unknown = summary;
    for (const part of key.split('.')) v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[part] : undefined;
    if (typeof v === 'number' && Number.isFinite(v)) out[key] = v;
  }
  return out;
}

/**
 * Whether an offline run's normalised score means something: IQL on the true reward beats the
 * random policy by more than the spread of their episode returns (reward/metrics.ts
 * normalizedScoreMeaningful, the offline report's rule too). True when the summary does not hold
 * the returns to judge by.
 */
export function normalizedMeaningful(s: Record<string, unknown>): boolean {
  const r = s.returns as Record<string, { meanReturn?: unknown; stdReturn?: unknown } | undefined> | undefined;
  const t = r?.iqlTrue;
  const rnd = r?.random;
  const nums = [t?.meanReturn, t?.stdReturn, rnd?.meanReturn, rnd?.stdReturn];
  if (!nums.every((x) => typeof x === 'number')) return true;
  const [tm, ts, rm, rs] = nums as number[];
  return normalizedScoreMeaningful({ meanReturn: tm, stdReturn: ts }, { meanReturn: rm, stdReturn: rs });
}

function num(x: unknown, digits = 1): string | null {
  return typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : null;
}

/** The headline of a summary.json (an object, or an array of rows such as tour's), by the command that wrote it. */
export function headline(command: string | null, summary: Record<string, unknown> | readonly unknown[]): string | null {
  const join2 = (...parts: (string | null)[]) => parts.filter((p) => p !== null).join(', ') || null;
  if (Array.isArray(summary)) {
    // tour: one RolloutSummary per env.
    const rows = summary.filter((r): r is Record<string, unknown> => typeof r === 'object' && r !== null && !Array.isArray(r));
    if (command !== 'tour' || rows.length === 0) return rows.length > 0 ? `${rows.length} rows` : null;
    const episodes = rows.reduce((n, r) => n + (typeof r.episodes === 'number' ? r.episodes : 0), 0);
    const steps = rows.reduce((n, r) => n + (typeof r.steps === 'number' ? r.steps : 0), 0);
    return join2(`${rows.length} env${rows.length === 1 ? '' : 's'}`, episodes > 0 ? `${episodes} episode${episodes === 1 ? '' : 's'}` : null, steps > 0 ? `${steps} steps` : null);
  }
  const s = summary as Record<string, unknown>;
  switch (command) {
    case 'train':
      return join2(num(s.finalTrueReturn) && `return ${num(s.finalTrueReturn)}`, typeof s.labelsUsed === 'number' && s.labelsUsed > 0 ? `${s.labelsUsed} labels` : null);
    case 'iql':
      return num(s.finalTrueReturn) && `return ${num(s.finalTrueReturn)}`;
    case 'offline':
      // The offline report calls the score not meaningful when IQL-true does not clearly beat random: said here too.
      return join2(
        num(s.normalizedRatio, 3) && `learned/true ${num(s.normalizedRatio, 3)} (normalised${normalizedMeaningful(s) ? '' : '; not meaningful: IQL-true does not beat random by more than the spread of their returns'})`,
        typeof s.labels === 'number' ? `${s.labels} labels` : null,
      );
    case 'rollout':
      return join2(num(s.meanReturn) && `return ${num(s.meanReturn)} +- ${num(s.returnStd) ?? '?'}`, typeof s.policy === 'string' ? `policy ${s.policy}` : null);
    case 'reward':
      return join2(typeof s.preferences === 'number' ? `${s.preferences} preferences` : null, num(s.valAccuracy, 3) && `held-out accuracy ${num(s.valAccuracy, 3)}`, num(s.returnCorrelation, 3) && `return corr. ${num(s.returnCorrelation, 3)}`);
    case 'collect':
      return join2(typeof s.transitions === 'number' ? `${s.transitions} transitions` : null, num(s.meanReturn) && `mean return ${num(s.meanReturn)}`);
    default:
      return num(s.finalTrueReturn) ?? num(s.meanReturn);
  }
}

/** A train or offline run's teacher (see RunEntry.teacher), from its config.json. */
function teacherOf(command: string | null, cfg: Record<string, unknown>): string | null {
  if (command === 'train') {
    if (cfg.reward === 'true') return 'true reward';
    if (typeof cfg.reward === 'string' && cfg.reward.startsWith('model:')) return 'model';
    if (typeof cfg.teacher !== 'string') return null;
    // heron:<config file>: the file's name (a bench cell's is a long path).
    return cfg.teacher.startsWith('heron:') ? `heron:${basename(cfg.teacher.slice('heron:'.length))}` : cfg.teacher;
  }
  const inner = cfg.config as Record<string, unknown> | undefined;
  if (command === 'offline' && typeof inner?.teacher === 'string') return inner.teacher;
  // reward --teacher: which teachers' labels it was trained on (an id prefix), every one's without it.
  if (command === 'reward') return typeof cfg.teacher === 'string' ? `${cfg.teacher}*` : 'every teacher';
  return null;
}

/**
 * The --human-* flags the resume of a run taught by people carries (savedHumanResumeArgs): a train
 * run saves them as flags of its config.json, an offline run under its `human` (runs made before
 * they were saved have none: their resume names none).
 */
function humanArgs(command: string | null, cfg: Record<string, unknown>, path: string): string {
  const human = command === 'train' ? cfg : command === 'offline' && typeof cfg.human === 'object' && cfg.human !== null && !Array.isArray(cfg.human) ? (cfg.human as Record<string, unknown>) : null;
  if (human === null) return '';
  // A saved --human-port 0 let the server pick a port, which the links handed out carry: the
  // run's label store records it (runs made before it did name 0).
  const served = human.humanPort === 0 ? storedServedPort(join(path, command === 'train' ? 'labels.sqlite' : OFFLINE_STORE_FILE)) : undefined;
  return savedHumanResumeArgs(human, served);
}

/** The port a run's label store records its labelling server bound (LabelStore.servedPort); undefined where it records none or cannot be read. */
function storedServedPort(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  let store: LabelStore | null = null;
  try {
    store = LabelStore.open(file, { readOnly: true, busyTimeoutMs: 1000 });
    return store.servedPort();
  } catch {
    return undefined; // the run's other columns say what is wrong with its store
  } finally {
    store?.close();
  }
}

/**
 * The live process that holds a train or offline run folder (its train.lock or offline.lock,
 * scripts/run_lock.ts), or null: none, a lock left by a process that is gone, another command.
 */
export function liveHolder(path: string, command: string | null): ClaimHolder | null {
  if (command !== 'train' && command !== 'offline') return null;
  const lock = join(path, lockFileName(command));
  return existsSync(lock) && !claimIsStale(lock) ? readClaim(lock) : null;
}

/**
 * How far the unfinished offline run in `path` got (see OfflineProgress), and what could not be
 * read for it: a stage marker that cannot be read (no stages then: the resume stops on it too), or
 * a label store that cannot be opened when the label stage's count needs it.
 */
function offlineProgress(path: string, cfg: Record<string, unknown>, running = false): { stages: OfflineProgress | null; problem: string | null } {
  let state: ReturnType<typeof offlineStageState>;
  try {
    state = offlineStageState(path);
  } catch (e) {
    return { stages: null, problem: (e as Error).message };
  }
  // A record that cannot be read tells nothing of how the last command ended: said, and the run listed as stopped.
  // (A run going on now has not stopped: the record of the command before it, until it starts its stages, tells nothing.)
  let asked: OfflineStage[] | null = null;
  let askedProblem: string | null = null;
  try {
    asked = running ? null : readAskedStages(path);
  } catch (e) {
    askedProblem = (e as Error).message;
  }
  let at = state.at;
  let pairs: OfflineProgress['pairs'] = null;
  let problem: string | null = null;
  // The label store is counted when the label stage is to run, or is done and may be reopened
  // (the human teacher's timed-out pairs are asked again by the resume, before any later stage).
  const labelDone = state.done.includes('label');
  if ((at === 'label' || (labelDone && at !== null)) && existsSync(join(path, OFFLINE_STORE_FILE))) {
    const inner = typeof cfg.config === 'object' && cfg.config !== null ? (cfg.config as Record<string, unknown>) : {};
    let store: LabelStore | null = null;
    try {
      store = LabelStore.open(join(path, OFFLINE_STORE_FILE), { readOnly: true, busyTimeoutMs: 1000 });
      const c = store.counts();
      const query = typeof inner.query === 'string' ? inner.query : undefined;
      const labels = typeof inner.labels === 'number' ? inner.labels : 0;
      const reopened = labelDone ? reopenedPairs(c) : 0;
      pairs = { answered: c.pairs - c.pending, of: labelStageTotal({ query, labels }, c.pairs), reopened };
      if (reopened > 0) at = 'label';
    } catch (e) {
      problem = (e as Error).message;
    } finally {
      store?.close();
    }
    // A label stage not to run (and none to reopen): its count is not progress to show.
    if (at !== 'label') pairs = null;
  }
  const agents = at === 'iql' ? trainedAgents(path) : null;
  const toRun = OFFLINE_STAGES.filter((s) => !state.done.includes(s) || s === at);
  // Asked for and all run, and none of them to run again since: the run stopped where it was asked to.
  if (asked !== null && !asked.every((s) => state.done.includes(s) && !toRun.includes(s))) asked = null;
  return { stages: { done: state.done, at, rerunning: state.rerunning, pairs, agents, toRun, asked }, problem: problem ?? askedProblem };
}

/**
 * "stages done: pairs; at label, 1200 of 2000 pairs answered" (see OfflineProgress), and `end`;
 * "" for a run with no stage done (it starts over at pairs: nothing to tell).
 */
function stagesText(s: OfflineProgress | null, end = ': '): string {
  if (s === null || (s.done.length === 0 && s.rerunning === null)) return '';
  if (s.asked !== null) {
    // Stopped where it was asked to: what is done, what it was asked for, and what is still to run.
    const first = s.at === 'label' && s.pairs ? ` (${s.pairs.answered} of ${s.pairs.of} pairs answered)` : s.at === 'iql' && s.agents ? ` (${s.agents.length} of ${OFFLINE_AGENTS.length} agents trained)` : '';
    const rest = s.toRun.map((t, i) => (i === 0 ? `${t}${first}` : t));
    return `stages done: ${s.done.join(', ')}; stopped there as asked (--stage ${s.asked.join(',')}); still to run: ${rest.join(', ')}${end}`;
  }
  const parts = [`stages done: ${s.done.length > 0 ? s.done.join(', ') : 'none'}`];
  if (s.at !== null) {
    let at = `at ${s.at}`;
    if (s.at === 'label' && s.pairs && s.pairs.reopened > 0) at += ` again, ${s.pairs.reopened} pairs the human teacher timed out on to ask again`;
    else if (s.at === 'label' && s.pairs) at += `, ${s.pairs.answered} of ${s.pairs.of} pairs answered`;
    if (s.at === 'iql' && s.agents) at += `, ${s.agents.length} of ${OFFLINE_AGENTS.length} agents trained${s.agents.length > 0 ? ` (${s.agents.join(', ')})` : ''}`;
    if (s.rerunning !== null) at += ` (${s.rerunning} was running again when the run stopped: it and the stages after it are made anew)`;
    parts.push(at);
  }
  return `${parts.join('; ')}${end}`;
}

/** The columns of a run folder that cannot be read (see RunEntry.problem). */
const UNREADABLE = { command: null, env: null, teacher: null, seed: null, state: 'unreadable', result: null, numbers: {}, resume: null, progress: null, stages: null } as const;

function entry(root: string, dir: string): RunEntry {
  const path = join(root, dir);
  const read = readRunJson(join(path, 'config.json'));
  if ('problem' in read) return { run: dir, path, ...UNREADABLE, problem: read.problem };
  const cfg = read.value as Record<string, unknown>;
  const command = typeof cfg.command === 'string' ? cfg.command : null;
  const ec = cfg.envConfig as { id?: unknown; model?: unknown } | undefined;
  const env = ec && typeof ec.id === 'string' ? (ec.id === 'custom' && typeof ec.model === 'string' ? basename(ec.model) : ec.id) : typeof cfg.env === 'string' ? cfg.env : null;
  const teacher = teacherOf(command, cfg);
  const seed = configSeed(cfg);
  const read2 = existsSync(join(path, 'summary.json')) ? readRunJson(join(path, 'summary.json'), { arrays: true }) : null;
  // A summary that cannot be read: the run's result is lost (an offline resume would stop on it, its eval stage being done).
  if (read2 !== null && 'problem' in read2) return { run: dir, path, ...UNREADABLE, command, env, teacher, seed, problem: read2.problem };
  const summary = read2?.value ?? null;
  const finished = summary !== null;
  const resumable = command === 'train' || command === 'offline';
  // A benchmark's cell run goes on by running the benchmark again (the cell starts over).
  const partOf = typeof cfg.partOf === 'string' ? cfg.partOf : null;
  // A train or offline run going on now (its lock's process is alive; a lock it was stopped with is stale): its --resume would be refused.
  const holder = !finished ? liveHolder(path, command) : null;
  // How far a train run got (its metrics' step counts env steps; an offline run's mixes stages:
  // its stages done say it instead).
  const last = !finished && command === 'train' ? readLastStep(join(path, 'metrics.jsonl')) : { step: null, problem: null };
  const step = last.step;
  const progress = step === null ? null : { step, of: typeof cfg.steps === 'number' ? cfg.steps : null };
  const off = !finished && command === 'offline' ? offlineProgress(path, cfg, holder !== null) : { stages: null, problem: null };
  const problem = last.problem ?? off.problem;
  const stages = off.stages;
  const sofar = `${progressText(progress, '')}${stagesText(stages, '')}`;
  if (holder) {
    const now = [sofar || null, problem, `pid ${holder.pid} on ${holder.host}, since ${holder.since}`].filter((x) => x !== null).join('; ');
    return { run: dir, path, command, env, teacher, seed, state: 'running', result: null, numbers: {}, resume: `running now (${now})`, progress, stages, problem };
  }
  return {
    run: dir,
    path,
    command,
    env,
    teacher,
    seed,
    state: finished ? 'finished' : 'unfinished',
    result: summary ? headline(command, summary) : null,
    numbers: summary ? headlineNumbers(command, summary) : {},
    resume: finished
      ? null
      : `${progressText(progress)}${stagesText(stages)}${partOf ? `${BENCH_CELL}run it again: ${partOf}` : resumable ? `prefrl ${command} --resume ${shellQuote(path)}${teacher === 'human' ? humanArgs(command, cfg, path) : ''}` : againText(command, cfg, path)}` || null,
    progress,
    stages,
    problem,
  };
}

/** The commands whose run folders cannot be resumed but can be run again with the same settings (their --like). */
const LIKE_COMMANDS = new Set(['collect', 'reward', 'iql', 'rollout']);

/**
 * How to get what an unfinished run of a command without --resume would have made (one stopped
 * part way): the same settings again, as a new run, `prefrl <command> --like <run>` (its
 * config.json; --like reads it as the command line's flags); tour has no --like: its command line,
 * from the flags its config.json records and the runs folder it is in. "" for other commands.
 */
function againText(command: string | null, cfg: Record<string, unknown>, path: string): string {
  if (command === null) return '';
  if (LIKE_COMMANDS.has(command)) return `run it again: prefrl ${command} --like ${shellQuote(path)}`;
  if (command === 'tour') {
    // Its runs folder is the one it is in (config.json holds --runs-dir as it was typed, maybe relative).
    const args = (['episodes', 'seed'] as const).flatMap((k) => (typeof cfg[k] === 'number' ? [`--${k}`, String(cfg[k])] : []));
    return `run it again: prefrl tour ${[...args, '--runs-dir', shellQuote(dirname(path))].join(' ')}`;
  }
  return '';
}

/** How many folder levels below the runs folder are searched for run folders. */
export const RUN_DEPTH = 3;

/** Every run folder (a folder with config.json) in `root` and below it (see RUN_DEPTH), oldest first. */
export function listRuns(root: string): RunEntry[] {
  if (!isFolder(root)) throw new UsageError(`--runs-dir: ${root} is not a folder`);
  const out: RunEntry[] = [];
  // A run folder holds config.json; other folders are searched up to RUN_DEPTH levels down (the
  // bench's cell runs sit in runs/bench-oracle/<suite>/<run>). A run folder's own insides are not.
  const walk = (rel: string, depth: number): void => {
    let names: string[];
    try {
      names = readdirSync(join(root, rel)).sort();
    } catch {
      return;
    }
    for (const name of names) {
      const r = rel === '' ? name : join(rel, name);
      const p = join(root, r);
      if (!isFolder(p)) continue;
      // A folder this user may not open may be a run folder: listed as one that cannot be read, not left out.
      const closed = folderAccessProblem(p);
      if (closed !== null) out.push({ run: r, path: p, ...UNREADABLE, problem: `${p}: this user may not open the folder (${closed})` });
      else if (existsSync(join(p, 'config.json'))) out.push(entry(root, r));
      else if (depth + 1 < RUN_DEPTH) walk(r, depth + 1);
    }
  };
  walk('', 0);
  // Oldest first: run folders start with their timestamp (yyyymmdd-hhmmss).
  const stamp = (e: RunEntry) => basename(e.run).match(/^\d{8}-\d{6}/)?.[0] ?? '';
  return supersededCells(out.sort((a, b) => stamp(a).localeCompare(stamp(b)) || a.run.localeCompare(b.run)));
}

/** How the resume text of a benchmark cell's run starts (it goes on by running the benchmark again). */
const BENCH_CELL = 'part of a benchmark; ';

/** A run folder's name without its timestamp and same-second suffix: what its command called it (a bench cell's id). */
function runBaseName(run: string): string {
  return basename(run).replace(/^\d{8}-\d{6}-/, '').replace(/-\d+$/, '');
}

/**
 * An unfinished benchmark cell's run (stopped by Ctrl-C, say) whose cell a later run in the same
 * folder finished (the bench, run again, starts the cell over in a new folder): its advice to run
 * the benchmark again is stale, so it names that later run instead. `runs` is sorted oldest first.
 */
function supersededCells(runs: RunEntry[]): RunEntry[] {
  return runs.map((e, i) => {
    if (e.state !== 'unfinished' || !e.resume?.includes(BENCH_CELL)) return e;
    const later = runs.slice(i + 1).find((o) => o.state === 'finished' && o.command === e.command && dirname(o.run) === dirname(e.run) && runBaseName(o.run) === runBaseName(e.run));
    return later ? { ...e, resume: e.resume.replace(new RegExp(`${BENCH_CELL}.*$`), `${BENCH_CELL}its cell was run again and finished in ${basename(later.run)}: nothing to resume`) } : e;
  });
}

const spec = {
  command: 'prefrl runs',
  summary: 'List the run folders: the command, env, teacher and seed that made each, finished or not, its headline result, and how to resume an unfinished one.',
  flags: {
    runsDir: flags.string({ doc: 'the runs folder (searched up to three levels down, e.g. runs/bench-oracle/<suite>/<run>)', default: 'runs' }),
    last: flags.int({ doc: 'show only the newest N runs (0: all)', default: 30, min: 0 }),
    command: flags.string({ doc: 'only runs of this command: tour, rollout, train, collect, iql, offline or reward (demo and bench oracle make train runs)', optional: true }),
    json: jsonFlag({ holds: '{"runs": [...]}, every run listed, with its headline numbers by summary.json key ("numbers"), how far an unfinished train or offline run got ("progress", "stages": for an offline run the stages done, the one its resume starts at, those still to run, and those its last --stage asked for when it ran them all) and what in its folder cannot be read ("problem")' }),
  },
  epilog: ['Examples:', '  prefrl runs', '  prefrl runs --command offline --last 0', '  prefrl runs --runs-dir runs/bench-offline'].join('\n'),
};

/**
 * The commands that make run folders (the `command` of their config.json); `prefrl demo` and
 * `prefrl bench oracle` make train runs. A --command outside it is a misspelling, not a filter
 * that happens to match nothing.
 */
export const RUN_COMMANDS: readonly string[] = ['tour', 'rollout', 'train', 'collect', 'iql', 'offline', 'reward'];

export const runsCommand: Command = {
  name: 'runs',
  summary: commandSummary('runs'),
  async run(argv, ctx) {
    const parsed = parseOrHelp(argv, spec, ctx.io);
    if (!parsed) return 0;
    const f = parsed.flags;
    if (f.command !== undefined && !RUN_COMMANDS.includes(f.command)) {
      throw new UsageError(`--command: no command called ${JSON.stringify(f.command)} makes run folders (those that do: ${RUN_COMMANDS.join(', ')}; prefrl demo and bench oracle make train runs)`);
    }
    // A run folder given as the runs folder (its insides are never searched): say where its runs folder is.
    if (isFolder(f.runsDir) && existsSync(join(f.runsDir, 'config.json'))) {
      const parent = dirname(resolve(f.runsDir));
      throw new UsageError(`--runs-dir: ${f.runsDir} is a run folder (it holds config.json), not a folder of runs; list the runs beside it: prefrl runs --runs-dir ${shellQuote(parent)}`);
    }
    if (!existsSync(f.runsDir)) {
      // Nothing has run yet: not an error.
      if (f.json) printJson(ctx.io, { runsDir: f.runsDir, runs: [], total: 0 });
      else ctx.io.stdout.write(`no run folders: ${f.runsDir} does not exist yet\n`);
      return 0;
    }
    const all = listRuns(f.runsDir).filter((r) => f.command === undefined || r.command === f.command);
    const shown = f.last > 0 ? all.slice(-f.last) : all;
    if (f.json) {
      printJson(ctx.io, { runsDir: f.runsDir, runs: shown, total: all.length });
      return 0;
    }
    if (all.length === 0) {
      ctx.io.stdout.write(`no run folders in ${f.runsDir}${f.command ? ` made by ${f.command}` : ''}\n`);
      return 0;
    }
    // What cannot be read comes first: for an unreadable run it is all there is to say.
    const said = (r: RunEntry) => r.result ?? ([r.problem, r.resume].filter((x) => x !== null).join('; ') || '-');
    const rows = shown.map((r) => [r.run, r.command ?? '?', r.env ?? '-', r.teacher ?? '-', r.seed === null ? '-' : String(r.seed), r.state, said(r)]);
    const more = all.length - shown.length;
    ctx.io.stdout.write(`${formatTable(['run', 'command', 'env', 'teacher', 'seed', 'state', 'result (or how to resume)'], rows)}\n${more > 0 ? `(${more} older not shown; --last 0 lists all)\n` : ''}`);
    return 0;
  },
};
