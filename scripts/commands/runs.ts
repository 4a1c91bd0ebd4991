/**
 * `prefrl runs`: the run folders under --runs-dir (and one level of sub-folders such as a
 * benchmark's root), oldest first: the command and env that made each, whether it finished
 * (summary.json written), its headline number, and for an unfinished train or offline run the
 * command that resumes it; a train or offline run that a live process holds (its train.lock or
 * offline.lock, scripts/run_lock.ts) is listed as running, not as one to resume. Folders whose config cannot be read are listed as such, not skipped.
 */
import { closeSync, existsSync, fstatSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { flags } from '../../core/config.js';
import { normalizedScoreMeaningful } from '../../reward/metrics.js';
import { UsageError } from '../../core/errors.js';
import { isFolder, shellQuote } from '../../core/paths.js';
import { type ClaimHolder, claimIsStale, readClaim } from '../bench/cells.js';
import { type Command, formatTable, parseOrHelp, printJson } from '../command.js';
import { lockFileName } from '../run_lock.js';
import { jsonFlag } from './common_flags.js';

export interface RunEntry {
  /** Folder, relative to the runs folder. */
  readonly run: string;
  readonly path: string;
  /** The command that made it (config.json), or null when its config cannot be read. */
  readonly command: string | null;
  readonly env: string | null;
  /** running: an unfinished train or offline run whose folder a live process holds (its lock file). */
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
}

/**
 * The step of the last complete line of a metrics.jsonl (read from its last 64 KiB; a line cut
 * off by a kill is passed over), or null when there is none.
 */
export function lastLoggedStep(file: string): number | null {
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
  } catch {
    return null;
  }
  const lines = text.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      const step = (JSON.parse(lines[i]) as { step?: unknown }).step;
      if (typeof step === 'number' && Number.isFinite(step)) return step;
    } catch {
      // a cut-off line, or the part of a line the 64 KiB window starts in
    }
  }
  return null;
}

/** "at step 13312 of 200000" and `end` for a train run's resume text; "" when not known. */
function progressText(p: RunEntry['progress'], end = ': '): string {
  return p === null ? '' : `at step ${p.step}${p.of === null ? '' : ` of ${p.of}`}${end}`;
}

function readJson(file: string): Record<string, unknown> | null {
  const v = readSummary(file);
  return v !== null && !Array.isArray(v) ? v : null;
}

/** A summary.json: a JSON object, or an array (`prefrl tour` writes one row per env); null when unreadable. */
function readSummary(file: string): Record<string, unknown> | unknown[] | null {
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown> | unknown[]) : null;
  } catch {
    return null;
  }
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

/** The --seed of a run's config.json (offline keeps its flags under "config"). */
function seedOf(cfg: Record<string, unknown>): number | null {
  const inner = cfg.config as Record<string, unknown> | undefined;
  const seed = typeof cfg.seed === 'number' ? cfg.seed : inner?.seed;
  return typeof seed === 'number' && Number.isFinite(seed) ? seed : null;
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

function entry(root: string, dir: string): RunEntry {
  const path = join(root, dir);
  const cfg = readJson(join(path, 'config.json'));
  if (cfg === null) return { run: dir, path, command: null, env: null, teacher: null, seed: null, state: 'unreadable', result: null, numbers: {}, resume: null, progress: null };
  const command = typeof cfg.command === 'string' ? cfg.command : null;
  const ec = cfg.envConfig as { id?: unknown; model?: unknown } | undefined;
  const env = ec && typeof ec.id === 'string' ? (ec.id === 'custom' && typeof ec.model === 'string' ? basename(ec.model) : ec.id) : typeof cfg.env === 'string' ? cfg.env : null;
  const summary = existsSync(join(path, 'summary.json')) ? readSummary(join(path, 'summary.json')) : null;
  const finished = summary !== null;
  const resumable = command === 'train' || command === 'offline';
  // A benchmark's cell run goes on by running the benchmark again (the cell starts over).
  const partOf = typeof cfg.partOf === 'string' ? cfg.partOf : null;
  // A train or offline run going on now (its lock's process is alive; a lock it was stopped with is stale): its --resume would be refused.
  const holder = !finished ? liveHolder(path, command) : null;
  const teacher = teacherOf(command, cfg);
  const seed = seedOf(cfg);
  // How far a train run got (its metrics' step counts env steps; an offline run's mixes stages).
  const step = !finished && command === 'train' ? lastLoggedStep(join(path, 'metrics.jsonl')) : null;
  const progress = step === null ? null : { step, of: typeof cfg.steps === 'number' ? cfg.steps : null };
  if (holder) return { run: dir, path, command, env, teacher, seed, state: 'running', result: null, numbers: {}, resume: `running now (${progressText(progress, '; ')}pid ${holder.pid} on ${holder.host}, since ${holder.since})`, progress };
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
    resume: finished ? null : `${progressText(progress)}${partOf ? `part of a benchmark; run it again: ${partOf}` : resumable ? `prefrl ${command} --resume ${shellQuote(path)}` : ''}` || null,
    progress,
  };
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
      if (existsSync(join(p, 'config.json'))) out.push(entry(root, r));
      else if (depth + 1 < RUN_DEPTH) walk(r, depth + 1);
    }
  };
  walk('', 0);
  // Oldest first: run folders start with their timestamp (yyyymmdd-hhmmss).
  const stamp = (e: RunEntry) => basename(e.run).match(/^\d{8}-\d{6}/)?.[0] ?? '';
  return out.sort((a, b) => stamp(a).localeCompare(stamp(b)) || a.run.localeCompare(b.run));
}

const spec = {
  command: 'prefrl runs',
  summary: 'List the run folders: the command, env, teacher and seed that made each, finished or not, its headline result, and how to resume an unfinished one.',
  flags: {
    runsDir: flags.string({ doc: 'the runs folder (searched up to three levels down, e.g. runs/bench-oracle/<suite>/<run>)', default: 'runs' }),
    last: flags.int({ doc: 'show only the newest N runs (0: all)', default: 30, min: 0 }),
    command: flags.string({ doc: 'only runs of this command: tour, rollout, train, collect, iql, offline or reward (demo and bench oracle make train runs)', optional: true }),
    json: jsonFlag({ holds: '{"runs": [...]}, every run listed, with its headline numbers by summary.json key ("numbers")' }),
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
  summary: 'List the run folders: command, env, teacher, seed, finished or not, headline result, how to resume',
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
    const rows = shown.map((r) => [r.run, r.command ?? '?', r.env ?? '-', r.teacher ?? '-', r.seed === null ? '-' : String(r.seed), r.state, r.result ?? r.resume ?? '-']);
    const more = all.length - shown.length;
    ctx.io.stdout.write(`${formatTable(['run', 'command', 'env', 'teacher', 'seed', 'state', 'result (or how to resume)'], rows)}\n${more > 0 ? `(${more} older not shown; --last 0 lists all)\n` : ''}`);
    return 0;
  },
};
