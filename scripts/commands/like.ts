/**
 * `--like <run folder | flags.json>` of the commands that make a run folder from their flags
 * (train, iql, collect, offline, reward, rollout): a new run with the settings another run saved
 * in its config.json (or a JSON file of the command's flags), changing only the flags given with it; with none changed,
 * the same run again (the same seed gives the same numbers).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type FlagSpec, flagName, flags, type Parsed, type ParseResult, validateConfig } from '../../core/config.js';
import { InputError, parseJson, UsageError } from '../../core/errors.js';
import { isFolder } from '../../core/paths.js';
import { looksLikeModelPath } from '../../envs/registry.js';
import type { CommandContext } from '../command.js';

/**
 * Keys a run's config.json holds beside its flags: what the command derived or resolved and
 * recorded (never read back as settings).
 */
const CONFIG_RECORDS: readonly string[] = ['command', 'envConfig', 'derived', 'resolved', 'partOf', 'humanToken'];

/** Flags of one invocation that are never taken from saved settings: output and how to go on. */
const ALWAYS_OWN: readonly string[] = ['json', 'quiet', 'resume', 'like'];

export interface LikeOptions {
  /** Flags never taken from the saved settings besides --json, --quiet, --resume and --like (e.g. an output file). */
  readonly own?: readonly string[];
  /** The flags a run's config.json (`obj`, read from `file`) stands for, where it holds more than its flags (offline: its pipeline config). */
  readonly fromRun?: (obj: Record<string, unknown>, file: string) => Record<string, unknown>;
  /** Flags the command requires: given, or in the saved settings (the parser lets them pass when --like is given). */
  readonly required?: readonly string[];
}

/** The --like flag of `prefrl <command>`; `more`: what the command adds to its doc. */
export function likeFlag(command: string, more = '') {
  return flags.string({
    doc: `start a new run with the settings of this ${command} run folder (its config.json) or of a JSON file of ${command} flags (camelCase keys, as config.json holds them), changing only the flags given with it: e.g. the same run with another --seed. Runs save the paths they were given as absolute ones (one made before 2026-12-07 may hold relative ones: they are read from the current folder)${more}`,
    optional: true,
  });
}

/**
 * The settings `--like <value>` names for `prefrl <command>`: a run folder's config.json (its
 * command must be `command`) or a JSON file of the command's flags. Checked as the command line's
 * flags are (types, ranges, choices), naming the file and key (exit 1); flags it leaves out take
 * their defaults. A key that is no flag is refused in a file written by hand; in a run folder it
 * is a flag of another prefrl version, left out with a warning (see LikeOptions for `o`).
 */
export function settingsLike<S extends FlagSpec>(value: string, spec: S, command: string, ctx: CommandContext, o: LikeOptions = {}): Parsed<S> {
  const own = o.own ?? [];
  const what = `a ${command} run folder, runs/<id>, or a JSON file of ${command} flags`;
  if (value.trim() === '') throw new UsageError(`--like: empty; name ${what}`);
  if (!existsSync(value)) throw new UsageError(`--like: ${value} not found (name ${what})`);
  const folder = isFolder(value);
  const file = folder ? join(value, 'config.json') : value;
  if (folder && !existsSync(file)) throw new UsageError(`--like: ${value} is not a run folder (no config.json)`);
  // A device (/dev/zero) would be read forever; a pipe (<(...)) ends and is read as a file.
  const st = statSync(file);
  if (st.isCharacterDevice() || st.isBlockDevice()) throw new UsageError(`--like: ${value} is a device, not a file; name ${what}`);
  const raw = parseJson(readFileSync(file, 'utf8'), file);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InputError(file, `expected a JSON object of ${command} flags, got ${Array.isArray(raw) ? 'an array' : JSON.stringify(raw)}`);
  }
  const obj = raw as Record<string, unknown>;
  if (obj.command !== undefined && obj.command !== command) {
    throw new UsageError(`--like: ${folder ? value : file} is a \`prefrl ${String(obj.command)}\` run's config, not ${/^[aeiou]/.test(command) ? 'an' : 'a'} ${command} run's`);
  }
  if (folder && obj.command === undefined) throw new UsageError(`--like: ${value} is not ${/^[aeiou]/.test(command) ? 'an' : 'a'} ${command} run (its config.json names no command)`);
  // A run's config.json (a folder, or the file itself: it names its command) or flags written by hand.
  const saved = obj.command !== undefined;
  const settings = saved && o.fromRun ? o.fromRun(obj, file) : obj;
  const skip = [...CONFIG_RECORDS, ...ALWAYS_OWN, ...own];
  const kept: Record<string, unknown> = {};
  const unknown: string[] = [];
  for (const [k, v] of Object.entries(settings)) {
    if (skip.includes(k)) continue;
    if (k in spec || !saved) kept[k] = v;
    else unknown.push(k);
  }
  if (unknown.length > 0) ctx.logger.warn(`--like: ${file} holds settings this prefrl has no flag for, left out: ${unknown.join(', ')}`);
  return validateConfig(kept, spec, file);
}

/**
 * The flags of a command line with `--like`: the saved settings (settingsLike), with the flags
 * given on the command line over them; output flags and `own` are the command line's. Without
 * --like, the command line's flags. A flag the command requires must then be given or saved
 * (`required`: those keys, checked here since the parser lets them pass when --like is given).
 */
export function flagsWithLike<S extends FlagSpec>(
  parsed: ParseResult<S>,
  spec: S,
  command: string,
  ctx: CommandContext,
  o: LikeOptions = {},
): Parsed<S> {
  const f = parsed.flags as Record<string, unknown>;
  const like = f.like;
  let out: Record<string, unknown> = f;
  if (typeof like === 'string') {
    if (typeof f.resume === 'string') throw new UsageError('--like starts a new run and --resume goes on with one: give one of them');
    const own = o.own ?? [];
    const saved = settingsLike(like, spec, command, ctx, o) as Record<string, unknown>;
    const now = Object.fromEntries([...parsed.given].filter((k) => k !== 'like').map((k) => [k, f[k]]));
    const mine = Object.fromEntries([...ALWAYS_OWN, ...own].filter((k) => k in spec).map((k) => [k, f[k]]));
    out = { ...saved, ...now, ...mine, like };
  }
  for (const k of o.required ?? []) {
    if (out[k] === undefined) {
      throw new UsageError(`missing required flag ${flagName(k)}${typeof like === 'string' ? ` (--like ${like} does not give it either)` : ''}`);
    }
  }
  return out as Parsed<S>;
}

/**
 * What an error about flag `key` adds when its value came from --like's saved settings rather than
 * the command line: where it came from, and that a relative path is read from the current folder.
 */
export function likeSource(f: { like?: string }, given: ReadonlySet<string>, key: string): string {
  return f.like !== undefined && !given.has(key) ? ` (the value of ${flagName(key)} in --like ${f.like}'s saved settings; a relative path is read from the current folder: give ${flagName(key)} to use another)` : '';
}

/**
 * A command's flags as its run's config.json keeps them: the paths they name made absolute, so that
 * `--like` (and train's `--resume`) from another folder read the same files. Paths: --env (a model
 * file), --task, --expert, --dataset, --store, --out; --policy and --checkpoint when they name a file
 * or folder that is there (--policy random is a name); the path after --teacher heron:, --reward
 * model: and --human-people @. Other flags come back as they were.
 */
export function withAbsolutePaths<T extends object>(f: T): T {
  const out = { ...f } as Record<string, unknown>;
  const str = (k: string): string | undefined => (typeof out[k] === 'string' && out[k] !== '' ? (out[k] as string) : undefined);
  const after = (k: string, prefix: string): void => {
    const v = str(k);
    if (v !== undefined && v.startsWith(prefix) && v.length > prefix.length) out[k] = `${prefix}${resolve(v.slice(prefix.length))}`;
  };
  const env = str('env');
  if (env !== undefined && looksLikeModelPath(env)) out.env = resolve(env);
  for (const k of ['task', 'expert', 'dataset', 'store', 'out']) {
    const v = str(k);
    if (v !== undefined) out[k] = resolve(v);
  }
  for (const k of ['policy', 'checkpoint']) {
    const v = str(k);
    if (v !== undefined && existsSync(v)) out[k] = resolve(v);
  }
  after('teacher', 'heron:');
  after('reward', 'model:');
  after('humanPeople', '@');
  return out as T;
}
