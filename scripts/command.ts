/**
 * The shape of a CLI subcommand and helpers every command shares: flag parsing with --help,
 * the --json contract (exactly one JSON object as the last line of stdout), and output
 * streams that tests can capture.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { type Clock, systemClock } from '../core/clock.js';
import { type CommandSpec, type FlagSpec, helpText, type ParseResult, parseFlags } from '../core/config.js';
import { Logger, type Sink } from '../core/log.js';
import { UsageError } from '../core/errors.js';
import { isFolder, shellQuote } from '../core/paths.js';
import { LabelStore } from '../reward/store.js';

export interface Io {
  readonly stdout: Sink;
  readonly stderr: Sink;
  /** Whether stderr is a terminal (progress bars redraw in place). */
  readonly tty: boolean;
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

/**
 * Parse argv for a command. Returns null after printing help (the command then exits 0).
 */
export function parseOrHelp<S extends FlagSpec>(argv: readonly string[], spec: CommandSpec<S>, io: Io): ParseResult<S> | null {
  const parsed = parseFlags(argv, spec);
  if (parsed.help) {
    io.stdout.write(`${helpText(spec)}\n`);
    return null;
  }
  return parsed;
}

/** Print the machine-readable result: one JSON object on one line (always the last line of stdout). */
export function printJson(io: Io, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v))}\n`);
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

/**
 * Until the returned function is called, Ctrl-C (SIGINT) writes one line on stderr (`line()`,
 * e.g. how to resume) and exits with 130, as an uncaught SIGINT would, but not silently. With
 * `sigterm`, SIGTERM (a batch system's time limit) does the same and exits with 143.
 */
export function onInterrupt(ctx: CommandContext, line: () => string, opts: { sigterm?: boolean } = {}): () => void {
  const stop = (code: number) => (): void => {
    try {
      ctx.io.stderr.write(`${ctx.io.tty && code === 130 ? '\n' : ''}${line()}\n`);
    } finally {
      process.exit(code);
    }
  };
  const onInt = stop(130);
  const onTerm = stop(143);
  process.on('SIGINT', onInt);
  if (opts.sigterm) process.on('SIGTERM', onTerm);
  return () => {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  };
}

/**
 * Open the existing label store a flag names. A path that is not there, or is a folder, is a
 * usage error naming the flag (exit 2, as for a missing --dataset); a file that is not a label
 * store is an InputError naming the file (exit 1), from LabelStore.open.
 */
export function openStoreFlag(path: string, clock: Clock, flag = '--store'): LabelStore {
  if (!existsSync(path)) throw new UsageError(`${flag}: ${path} not found (a label store, e.g. runs/<id>/labels.sqlite)`);
  if (isFolder(path)) throw new UsageError(`${flag}: ${path} is a folder; give the label store file, e.g. ${join(path, 'labels.sqlite')}`);
  return LabelStore.open(path, { create: false, clock });
}
