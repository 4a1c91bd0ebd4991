/**
 * Error kinds the CLI maps to exit codes and one-line messages.
 *
 * - UsageError: a bad flag, value or argument (exit code 2). The message names the flag.
 * - InputError: a bad file or field in user data (exit code 1). The message names the file
 *   and, where known, the field.
 * - ServiceError: an outside service the command needs failed (a VLM server that refuses or
 *   keeps failing; exit code 1). The message says what failed and what a re-run does.
 * A refusal of the machine (isEnvironmentError: a full disk, a missing permission, an I/O error,
 * from Node or from SQLite) is printed without its stack: its message says what to fix. Anything
 * else is a bug and is printed with its stack.
 */
import { isSystemError } from './files.js';

export { isSystemError };

export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export class InputError extends Error {
  readonly exitCode = 1;
  /** The file (or other source) the bad input came from. */
  readonly source: string;
  /** The field inside the source, if one is to blame. */
  readonly field: string | undefined;
  constructor(source: string, message: string, field?: string) {
    super(`${source}${field ? ` (${field})` : ''}: ${message}`);
    this.name = 'InputError';
    this.source = source;
    this.field = field;
  }
}

/**
 * An InputError saying that a saved file (a policy, an actor) is whole but fits another env than
 * the one it is to act in: trained on another env, or other observation or action sizes. The flag
 * that named it picked the wrong file, so a command turns it into a UsageError naming that flag
 * (policyForEnv); a damaged file stays an InputError.
 */
export class EnvMismatchError extends InputError {
  constructor(source: string, message: string, field?: string) {
    super(source, message, field);
    this.name = 'EnvMismatchError';
  }
}

export class ServiceError extends Error {
  readonly exitCode = 1;
  constructor(message: string) {
    super(message);
    this.name = 'ServiceError';
  }
}

/**
 * A value in an error message about data (a config field, a label's field): a number with String
 * (NaN reads NaN, where JSON.stringify writes null), a list item by item, anything else as JSON.
 */
export function shownValue(v: unknown): string {
  if (typeof v === 'number') return String(v);
  if (Array.isArray(v)) return `[${v.map(shownValue).join(',')}]`;
  return JSON.stringify(v) ?? String(v);
}

/**
 * What a script passed for an argument or option, in a type or range error: text quoted, a number,
 * boolean, null or undefined as written, anything else by its type ("object", "function").
 */
export function shownArg(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  return typeof v === 'number' || typeof v === 'boolean' || v === undefined || v === null ? String(v) : typeof v;
}

/**
 * The RangeError for keys of a script's options object that `where` does not read (a misspelt one
 * was dropped without a word and its default used): `<where>: unknown option "epoch" (the options:
 * ...)`, or `field` for a config's fields; `known` lists what there is.
 */
export function unknownKeysError(where: string, unknown: readonly string[], known: readonly string[], noun: 'option' | 'field'): RangeError {
  return new RangeError(`${where}: unknown ${noun}${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')} (the ${noun}s: ${known.join(', ')})`);
}

/**
 * Throw unknownKeysError for the own keys of `obj` that are not in `known` (a list of names, or an
 * object keyed by them), its message followed by what `hint` says of those keys (e.g. where a
 * misplaced option goes); nothing when every key is known.
 */
export function refuseUnknownKeys(
  where: string,
  obj: object,
  known: readonly string[] | object,
  noun: 'option' | 'field' = 'option',
  hint?: (unknown: readonly string[]) => string,
): void {
  const names: readonly string[] = Array.isArray(known) ? known : Object.keys(known);
  const unknown = Object.keys(obj).filter((k) => !names.includes(k));
  if (unknown.length === 0) return;
  const e = unknownKeysError(where, unknown, names, noun);
  const more = hint?.(unknown) ?? '';
  throw more === '' ? e : new RangeError(`${e.message}${more}`);
}

/**
 * SQLite's result codes (better-sqlite3 puts them in `code`) that are the machine's refusal, not
 * a fault of prefrl or of the file's content: a full disk, an I/O error, a read-only or unopenable
 * file, a missing permission.
 */
const SQLITE_ENVIRONMENT = /^SQLITE_(FULL|IOERR|READONLY|CANTOPEN|PERM)(_[A-Z_]+)?$/;

/** Whether `e` is SQLite refusing for the machine's sake (see SQLITE_ENVIRONMENT). */
export function isSqliteEnvironmentError(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return e instanceof Error && typeof code === 'string' && SQLITE_ENVIRONMENT.test(code);
}

/** A failure of the machine, not of prefrl: the user fixes it (frees space, grants a permission) and runs again. */
export function isEnvironmentError(e: unknown): boolean {
  return isSystemError(e) || isSqliteEnvironmentError(e);
}

/**
 * The machine's refusals after which a run's folder is still whole and a resume goes on: a full
 * disk or quota, a file grown past a limit, an I/O error, a permission or a read-only file system
 * (Node's codes and SQLite's). Not ENOENT and the like: something was removed, maybe the run's own
 * files.
 */
const RESUMABLE_REFUSAL = /^(ENOSPC|EDQUOT|EFBIG|EIO|EACCES|EPERM|EROFS|SQLITE_(FULL|IOERR|READONLY|PERM)(_[A-Z_]+)?)$/;

/**
 * An error that stopped a run because of the machine (RESUMABLE_REFUSAL: a full disk, a lost
 * permission, an I/O error) gets how to go on once that is fixed, since what the run saved so far
 * is kept: `<message>; what the run saved is kept: once that is fixed, resume with: <resume>`.
 * (A label store names itself in SQLite's refusals; a write names its file: withFileNamed.) Any
 * other error comes back unchanged (a bug would come back on resume). `resume` may be a function:
 * it is called only for such an error.
 */
export function withResumeAdvice(e: unknown, resume: string | (() => string)): unknown {
  const code = (e as { code?: unknown }).code;
  if (!(e instanceof Error) || !isEnvironmentError(e) || typeof code !== 'string' || !RESUMABLE_REFUSAL.test(code)) return e;
  e.message += `; what the run saved is kept: once that is fixed, resume with: ${typeof resume === 'function' ? resume() : resume}`;
  return e;
}

/** The message of any thrown value. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * JSON.parse for user files: a syntax error becomes an InputError naming the file (and field,
 * e.g. a line number) on one line (JSON.parse quotes the bad text, newlines included).
 */
export function parseJson(text: string, source: string, field?: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    // A byte order mark (some Windows editors write one) read as "Unexpected token ' '", an invisible character.
    if (text.charCodeAt(0) === 0xfeff) throw new InputError(source, 'invalid JSON: the file starts with a byte order mark (U+FEFF); save it as UTF-8 without one', field);
    throw new InputError(source, `invalid JSON: ${errorMessage(e).replace(/\s+/g, ' ')}`, field);
  }
}

/**
 * parseJson for a file that holds one JSON object (a config, a checkpoint, a summary): null, a
 * list or a bare value is an InputError naming the source ("expected a JSON object, found null"),
 * where reading a field of it was a TypeError with a stack.
 */
export function parseJsonObject(text: string, source: string, field?: string): Record<string, unknown> {
  const v = parseJson(text, source, field);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InputError(source, `expected a JSON object, found ${Array.isArray(v) ? 'a list' : JSON.stringify(v)}`, field);
  return v as Record<string, unknown>;
}
