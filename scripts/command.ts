/**
 * The shape of a CLI subcommand and helpers every command shares: flag parsing with --help,
 * the --json contract (exactly one JSON object as the last line of stdout), and output
 * streams that tests can capture.
 */
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { type Clock, systemClock } from '../core/clock.js';
import { readRunConfig } from '../core/run.js';
import { type CommandSpec, type FlagSpec, flagName, flags, helpText, type ParseResult, parseFlags } from '../core/config.js';
import { Logger, type Sink } from '../core/log.js';
import { EnvMismatchError, UsageError } from '../core/errors.js';
import { isFolder, shellQuote } from '../core/paths.js';
import { looksLikeModelPath } from '../envs/registry.js';
import { LabelStore } from '../reward/store.js';

export interface Io {
  readonly stdout: Sink;
  readonly stderr: Sink;
  /** Whether stderr is a terminal (progress bars redraw in place). */
  readonly tty: boolean;
  /**
   * Called with the spec a command's --help is made from, just before the help is printed (the
   * --model flag included where parseOrHelp adds it). The CLI reference generator
   * (scripts/cli_reference.ts) reads each flag's type, default and range from it; the CLI leaves it unset.
   */
  readonly onHelp?: (spec: CommandSpec<FlagSpec>) => void;
}

export const processIo: Io = {
  stdout: { write: (t) => process.stdout.write(t) },
  stderr: { write: (t) => process.stderr.write(t) },
  tty: Boolean(process.stderr.isTTY),
};

export interface CommandContext {
  readonly io: Io;
  readonly logger: Logger;
  readonly clock: Clock;
  /**
   * The command this one runs inside (e.g. a `prefrl bench oracle ...` invocation whose cells run
   * train, collect and offline in-process). Run folders record it as `partOf`, and `prefrl runs`
   * names it as the way to go on with an unfinished one.
   */
  readonly partOf?: string;
}

export function defaultContext(io: Io = processIo): CommandContext {
  return { io, logger: new Logger(io.stderr), clock: systemClock };
}

export interface Command {
  /** Words after `prefrl`, e.g. "envs" or "bench envs". */
  readonly name: string;
  readonly summary: string;
  /** Run with the remaining argv; resolves to the exit code. Throws UsageError/InputError on bad input. */
  run(argv: readonly string[], ctx: CommandContext): Promise<number>;
}

/** Whether a command takes `--model path.xml`: it has `--env` and `--task` (bring-your-own robots) and no `--model` of its own. */
function takesModel(spec: CommandSpec<FlagSpec>): boolean {
  return 'env' in spec.flags && 'task' in spec.flags && !('model' in spec.flags);
}

/** The `--model` flag added to the commands that take --env and --task (see parseOrHelp). */
const MODEL_FLAG = flags.string({ doc: 'path to an MJCF .xml file (a bring-your-own robot): the same as --env path/to/robot.xml', optional: true });

/**
 * Parse argv for a command. Returns null after printing help (the command then exits 0).
 * Commands with `--env` and `--task` also take `--model path/to/robot.xml`: parsed like their
 * other flags, then handed to the command as `--env path/to/robot.xml`. Refused, naming --model,
 * beside --env, or when the value names no model file (a built-in id goes with --env) or a file
 * that is not there.
 */
export function parseOrHelp<S extends FlagSpec>(argv: readonly string[], spec: CommandSpec<S>, io: Io): ParseResult<S> | null {
  if (!takesModel(spec)) {
    const parsed = parseFlags(argv, spec);
    if (parsed.help) {
      io.onHelp?.(spec);
      io.stdout.write(`${helpText(spec)}\n`);
      return null;
    }
    return parsed;
  }
  const withModel = { ...spec, flags: { ...spec.flags, model: MODEL_FLAG } };
  const parsed = parseFlags(argv, withModel);
  if (parsed.help) {
    io.onHelp?.(withModel);
    io.stdout.write(`${helpText(withModel)}\n`);
    return null;
  }
  const { model, ...rest } = parsed.flags as Record<string, unknown>;
  if (model === undefined) return { ...parsed, flags: rest as ParseResult<S>['flags'] };
  const fail = (msg: string): never => {
    throw new UsageError(`${spec.command}: ${msg}`);
  };
  const value = model as string;
  if (parsed.given.has('env')) fail('--model and --env both name the env; give one (--model path/to/robot.xml is the same as --env path/to/robot.xml)');
  if (!looksLikeModelPath(value)) fail(`--model: expected a path to an MJCF .xml file, got ${JSON.stringify(value)} (a built-in env goes with --env ${value})`);
  if (!existsSync(value)) fail(`--model: model file ${JSON.stringify(value)} not found`);
  // The command sees --env given, in --model's place among the flags given.
  const given = new Set([...parsed.given].map((k) => (k === 'model' ? 'env' : k)));
  return { ...parsed, flags: { ...rest, env: value } as ParseResult<S>['flags'], given };
}

/** Print the machine-readable result: one JSON object on one line (always the last line of stdout). */
export function printJson(io: Io, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v))}\n`);
}

/** The flag keys among `keys` given on the command line (`given`: the parse result's). */
export function flagsGiven(given: ReadonlySet<string>, keys: readonly string[]): string[] {
  return keys.filter((k) => given.has(k));
}

/**
 * One warning line naming flags given that this run does not read, and why. Not refused: a
 * script may pass one set of flags to several kinds of runs (a true-reward baseline beside
 * learned-reward runs).
 */
export function warnIgnoredFlags(ctx: CommandContext, keys: readonly string[], why: string): void {
  if (keys.length === 0) return;
  // Reasons are written for several flags ("they set up ..."); one flag reads "it sets up ...".
  const text = keys.length === 1 ? why.replace(/^they set\b/, 'it sets') : why;
  ctx.logger.warn(`ignored ${keys.map(flagName).join(', ')}: ${text}`);
}

/** Left-aligned plain-text table for human output. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  // A loop, not Math.max(...column): spreading hundreds of thousands of rows overflows the stack.
  const widths = header.map((h, i) => rows.reduce((w, r) => Math.max(w, (r[i] ?? '').length), h.length));
  const line = (cells: readonly string[]) => cells.map((c, i) => (c ?? '').padEnd(widths[i])).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** A path as a user would type it: relative to the working folder when inside it. */
export function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

/** A path as an argument of a printed command: displayPath, quoted for the shell when it needs it. */
export function shellPath(path: string): string {
  return shellQuote(displayPath(path));
}

/** What a command stopped by a signal says: how to go on, and what was kept. */
export interface Stopped {
  /** The one line on stderr, e.g. `stopped; resume with: prefrl train --resume runs/<id>`. */
  readonly line: string;
  /** With --json, fields of the JSON object besides the common ones (the run folder, the command that goes on, ...). */
  readonly fields?: Readonly<Record<string, unknown>>;
}

/** The exit code of a command stopped by each signal it handles (128 + the signal's number, as a shell reports it). */
const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;
type StopSignal = keyof typeof SIGNAL_EXIT_CODES;

interface Hint {
  readonly ctx: CommandContext;
  readonly stopped: (inner: Stopped | null) => Stopped;
  readonly json: boolean;
  /** Whether `stopped` is given what the innermost command running inside this one would say (see onInterrupt). */
  readonly inner: boolean;
}

/** The hints registered now, outermost first: a command run inside another (a bench cell) leaves the stop to the outer one. */
const hints: Hint[] = [];

function stopBy(signal: StopSignal): () => void {
  return () => {
    const hint = hints[0];
    if (!hint) {
      afterCommand(signal);
      return;
    }
    const code = SIGNAL_EXIT_CODES[signal];
    const { io } = hint.ctx;
    try {
      const innermost = hints[hints.length - 1];
      const s = hint.stopped(hint.inner && innermost !== hint ? innermost.stopped(null) : null);
      io.stderr.write(`${io.tty && signal === 'SIGINT' ? '\n' : ''}${s.line}\n`);
      if (hint.json) printJson(io, { ...s.fields, ok: false, interrupted: true, signal, exitCode: code, message: s.line });
    } finally {
      process.exit(code);
    }
  };
}
const onSigint = stopBy('SIGINT');
const onSigterm = stopBy('SIGTERM');
// The terminal went away (an ssh session dropped): stopped as by SIGTERM, so held pairs and locks are given back.
const onSighup = stopBy('SIGHUP');

/**
 * What a stopped `train` or `offline` run says: its run folder and the command that goes on with it
 * (finished work is kept); `extra`: what that command carries after `--resume <run>` (humanResumeArgs).
 */
export function resumeHint(command: 'train' | 'offline', runPath: string, extra = ''): Stopped {
  const resume = `prefrl ${command} --resume ${shellPath(runPath)}${extra}`;
  return { line: `stopped; resume with: ${resume}`, fields: { runDir: runPath, resume } };
}

/**
 * Until the returned function is called, Ctrl-C (SIGINT), SIGTERM (a batch system's time
 * limit) and SIGHUP (the terminal closed) write one line on stderr (`stopped().line`, e.g. how to
 * resume) and exit with 130, 143 and 129, as the uncaught signals would, but not silently. With `json` (the command's --json), the
 * last line of stdout is still one JSON object: `{"ok":false,"interrupted":true,"signal":"SIGINT",
 * "exitCode":130,"message":<the line>, ...stopped().fields}`. Registered inside another command
 * (a bench cell run in-process), the outermost one speaks; with `opts.inner` it is given what the
 * innermost one running now would say (null when none is), to build on (`prefrl demo` adds what
 * its runs not yet started need to the resume of the train run it stopped).
 */
export function onInterrupt(ctx: CommandContext, stopped: (inner: Stopped | null) => Stopped, opts: { json: boolean; inner?: boolean }): () => void {
  const hint: Hint = { ctx, stopped, json: opts.json, inner: opts.inner ?? false };
  hints.push(hint);
  listen();
  return () => {
    const i = hints.indexOf(hint);
    if (i < 0) return;
    hints.splice(i, 1);
    // The CLI's own process keeps its listeners (see afterCommand); in-process callers (tests) get
    // the process's listeners back as they were.
    if (hints.length === 0 && ctx.io !== processIo) unlisten();
  };
}

/**
 * A signal in the CLI's process once its command's hints are gone. A signal that came during the
 * command's last synchronous work (its final save and summary, after its last letSignalsIn) or
 * while the process winds down is delivered only now: an uncaught one ended the process, its work
 * saved and its summary maybe printed, with exit 130 and no line (tour; rollout and pairs, sooner
 * done, exited 0). The command has finished when process.exitCode is set (bin/prefrl.js sets it to
 * what the command returned): it exits with that code, its output as it is. Before that (work
 * after the hint with none of its own), the signal ends it as an uncaught one does.
 */
function afterCommand(signal: StopSignal): void {
  if (process.exitCode !== undefined) process.exit(process.exitCode);
  unlisten();
  process.kill(process.pid, signal);
}

/** Whether the signal listeners are on the process. */
let listening = false;

function listen(): void {
  if (listening) return;
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  process.on('SIGHUP', onSighup);
  listening = true;
}

/** Remove the signal listeners, unless a command registered a hint again meanwhile. */
function unlisten(): void {
  if (!listening || hints.length > 0) return;
  process.off('SIGINT', onSigint);
  process.off('SIGTERM', onSigterm);
  process.off('SIGHUP', onSighup);
  listening = false;
}

/**
 * Let the event loop run (and a signal's listener with it). Work under onInterrupt that runs
 * synchronously, or awaits only settled promises, awaits this now and then: else Ctrl-C waits
 * for the work to end.
 */
export function letSignalsIn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Load the saved policy a flag names for an env. One trained on another env (or of another env's
 * sizes) is a usage error naming the flag (exit 2, as `train --expert` of another env is); a
 * damaged file stays an InputError naming the file (exit 1).
 */
export function policyForEnv<T>(flag: string, load: () => T): T {
  try {
    return load();
  } catch (e) {
    // A whole file made for another env: the flag named the wrong one. A damaged file stays an InputError (exit 1).
    if (e instanceof EnvMismatchError) throw new UsageError(`${flag}: ${e.message}`);
    throw e;
  }
}

/**
 * A --dataset that names a folder (say, the run folder `prefrl collect` printed, rather than its
 * dataset file) is a usage error naming the flag and the file to give, not the file system's
 * EISDIR from the HDF5 reader.
 */
export function checkDatasetNotFolder(path: string, flag = '--dataset'): void {
  if (!isFolder(path)) return;
  const inRun = join(path, 'artifacts', 'dataset.h5');
  throw new UsageError(
    existsSync(inRun)
      ? `${flag}: ${path} is a folder (a prefrl collect run); give its dataset file, ${inRun}`
      : `${flag}: ${path} is a folder; give an HDF5 dataset file (prefrl collect writes one to <run folder>/artifacts/dataset.h5, or to --out)`,
  );
}

/**
 * Why `folder` has no label store, when it is a `prefrl train` run that asked for no labels
 * (--reward true or model:<dir>: such runs make no labels.sqlite); null for any other folder.
 */
export function labelFreeTrainRun(folder: string): string | null {
  const config = readRunConfig(folder);
  if (config === null || config.command !== 'train' || typeof config.reward !== 'string' || config.reward === 'learned') return null;
  const from = config.reward === 'true' ? "the env's own reward" : `a fixed reward model (${config.reward.replace(/^model:/, '')})`;
  return `the prefrl train run there learned from ${from} (--reward ${config.reward}), asked nobody for labels and has no label store; labels come from runs with --reward learned (the default), prefrl pairs or prefrl offline`;
}

/**
 * Open the existing label store a flag names. A path that is not there, or is a folder, is a
 * usage error naming the flag (exit 2, as for a missing --dataset); a file that is not a label
 * store is an InputError naming the file (exit 1), from LabelStore.open. `readOnly`: for a
 * command that only reads the store (OpenOptions.readOnly: nothing written, a version-1 store
 * not upgraded, a read-only file or folder readable).
 */
export function openStoreFlag(path: string, clock: Clock, flag = '--store', opts: { readOnly?: boolean } = {}): LabelStore {
  const noLabels = labelFreeTrainRun(isFolder(path) ? path : dirname(path));
  if (noLabels !== null && (!existsSync(path) || isFolder(path))) throw new UsageError(`${flag}: ${path}: ${noLabels}`);
  if (!existsSync(path)) throw new UsageError(`${flag}: ${path} not found (a label store, e.g. runs/<id>/labels.sqlite)`);
  if (isFolder(path)) {
    const inside = join(path, 'labels.sqlite');
    throw new UsageError(`${flag}: ${path} is a folder; give the label store file, ${existsSync(inside) ? `e.g. ${inside}` : 'e.g. runs/<id>/labels.sqlite (this folder holds no labels.sqlite)'}`);
  }
  return LabelStore.open(path, { create: false, clock, readOnly: opts.readOnly === true });
}
