/**
 * Run folders: every command that does work writes `runs/<timestamp>-<name>/` with
 *   config.json    the resolved config (flags after defaults; derived values are not written back)
 *   software.json  what made the run: prefrl's version, Node's, and the MuJoCo WASM build's (a
 *                  different MuJoCo build can change trajectories), the platform and CPU count,
 *                  and the TensorFlow.js backend that ran (backends round differently), if one did
 *   metrics.jsonl  scalar metrics, one JSON object per line
 *   artifacts/     models, datasets, checkpoints, plots
 */
import { type Dirent, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { type Clock, systemClock } from './clock.js';
import { InputError, refuseUnknownKeys, UsageError } from './errors.js';
import { filterMetricsFile, MetricsLog } from './log.js';
import { writeFileAtomic } from './files.js';
import { makeFolder, packageRoot } from './paths.js';

export interface RunDir {
  /** Absolute path of the run folder. */
  readonly path: string;
  readonly metrics: MetricsLog;
  /** Absolute path of an artifact (the artifacts/ folder exists). */
  artifact(name: string): string;
  /** Write a JSON file atomically (temp file + rename) inside the run folder. */
  writeJson(name: string, value: unknown): string;
  close(): void;
}

function stamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/**
 * A run folder's JSON file (config.json, summary.json) as an object (or, with `arrays`, an array:
 * `prefrl tour`'s summary holds one row per env), or why it is not one, naming the file: it cannot
 * be read, is not JSON, or holds another JSON value.
 */
export function readRunJson(file: string, o: { arrays?: boolean } = {}): { value: Record<string, unknown> | unknown[] } | { problem: string } {
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch (e) {
    return { problem: `${basename(file)}: cannot be read (${(e as Error).message})` };
  }
  if (Array.isArray(v) && !o.arrays) return { problem: `${basename(file)}: not a JSON object (an array)` };
  return typeof v === 'object' && v !== null ? { value: v as Record<string, unknown> | unknown[] } : { problem: `${basename(file)}: not a JSON object (${v === null ? 'null' : typeof v})` };
}

/**
 * A run folder's config.json as an object, or null: no such file, unreadable, or not a JSON
 * object (callers then treat the folder as no run of theirs; readRunJson says why).
 */
export function readRunConfig(folder: string): Record<string, unknown> | null {
  const r = readRunJson(join(folder, 'config.json'));
  return 'value' in r ? (r.value as Record<string, unknown>) : null;
}

/**
 * The seed a run's config.json records: top level (train, iql, collect, ...) or, for an offline
 * run, in its pipeline config; null when none is recorded.
 */
export function configSeed(cfg: Record<string, unknown>): number | null {
  const inner = cfg.config as Record<string, unknown> | undefined;
  const seed = typeof cfg.seed === 'number' ? cfg.seed : inner?.seed;
  return typeof seed === 'number' && Number.isFinite(seed) ? seed : null;
}

/** The command that made a run folder (its config.json's "command", e.g. "train"), or null (not a run folder, or unreadable). */
export function runCommand(folder: string): string | null {
  const c = readRunConfig(folder)?.command;
  return typeof c === 'string' && /^[a-z][a-z -]*$/.test(c) ? c : null;
}

export { writeFileAtomic };

/**
 * The error for a file a resumed run's config.json (`configFile`) names and that is not there:
 * a run saved before its paths were kept absolute (2026-12-07) holds them as given, read from the
 * folder that run was started in, so a relative one says to resume from there.
 */
export function savedPathMissing(what: string, path: string, configFile: string): UsageError {
  const where = isAbsolute(path) ? '; put it back' : ` from this folder (${process.cwd()}): the run saved it relative to the folder it was started in; resume from there`;
  return new UsageError(`--resume: the run's ${what} ${JSON.stringify(path)} (${configFile}) is not there${where}`);
}

/** Write JSON atomically: a reader sees the old file or the new one, never half of one. */
export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** A temporary file of the atomic writers: `<file>.tmp-<pid>` (writeFileAtomic and the others name theirs so). */
const TEMP_NAME = /^(.+)\.tmp-(\d+)$/;

/** Whether process `pid` runs on this machine (a signal-0 probe; EPERM: it runs, as another user). */
function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Remove the temporary files that writers killed mid-write left behind (`<file>.tmp-<pid>` of a
 * process that no longer runs): the ones of `file` when given, else every one in `dir` and the
 * folders below it. A temporary file of a process that still runs (a writer at work now) is kept.
 * Returns the paths removed.
 */
export function removeStaleTemps(dir: string, file?: string): string[] {
  const removed: string[] = [];
  const walk = (d: string): void => {
    let entries: Dirent[];
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return; // not there (yet), or not readable: nothing of ours to clean
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        if (file === undefined) walk(p);
        continue;
      }
      const m = TEMP_NAME.exec(e.name);
      if (!m || (file !== undefined && m[1] !== file) || processAlive(Number(m[2]))) continue;
      rmSync(p, { force: true });
      removed.push(p);
    }
  };
  walk(dir);
  return removed;
}

/**
 * Remove the temporary files in `dir` (not below it) of writers that no longer run, for writers
 * that name theirs otherwise than `<file>.tmp-<pid>` (a render's `.<name>.tmp-<pid>.mp4`, which
 * keeps the extension ffmpeg reads): `pidOf` gives the writer's process id from a file name, or
 * null for a file that is not such a temporary. A temporary of a process that still runs is kept.
 * Returns the paths removed.
 */
export function removeDeadWritersTemps(dir: string, pidOf: (name: string) => number | null): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return []; // not there, or not readable: nothing of ours to clean
  }
  const removed: string[] = [];
  for (const name of names) {
    const pid = pidOf(name);
    if (pid === null || processAlive(pid)) continue;
    const p = join(dir, name);
    rmSync(p, { force: true });
    removed.push(p);
  }
  return removed;
}

export function safeRunName(name: string): string {
  const s = name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '');
  return s.slice(0, 80) || 'run';
}

/** The versions a run folder records in software.json. */
export interface SoftwareVersions {
  readonly prefrl: string;
  readonly node: string;
  /** Version of the installed `@mujoco/mujoco` package (MuJoCo's own version number). */
  readonly mujoco: string;
  readonly platform: string;
  readonly arch: string;
  readonly cpus: number;
  /** The TensorFlow.js backend a run's networks ran on (gpu, node, wasm or cpu); absent when none started. */
  readonly tensorBackend?: string;
}

function packageVersion(packageJson: string): string {
  try {
    const v = (JSON.parse(readFileSync(packageJson, 'utf8')) as { version?: unknown }).version;
    return typeof v === 'string' ? v : 'unknown';
  } catch {
    return 'unknown';
  }
}

let cachedVersions: SoftwareVersions | null = null;

/** prefrl's, Node's and MuJoCo's versions, read from the installed packages (cached). */
export function softwareVersions(): SoftwareVersions {
  if (cachedVersions) return cachedVersions;
  let mujoco = 'unknown';
  try {
    // The package's exports hide its package.json; it sits next to the entry point.
    mujoco = packageVersion(join(dirname(createRequire(import.meta.url).resolve('@mujoco/mujoco')), 'package.json'));
  } catch {
    // not installed: 'unknown'
  }
  cachedVersions = {
    prefrl: packageVersion(join(packageRoot(), 'package.json')),
    node: process.version,
    mujoco,
    platform: process.platform,
    arch: process.arch,
    cpus: availableParallelism(),
  };
  return cachedVersions;
}

/**
 * What differs between the software that made a run folder (its software.json) and this
 * process, one line per difference, e.g. "MuJoCo 3.14.0 -> 3.9.0"; empty when nothing differs
 * or the folder has no (readable) software.json (folders made before it existed).
 */
export function softwareChanges(runPath: string, tensorBackend?: string): string[] {
  let saved: Partial<Record<keyof SoftwareVersions, unknown>>;
  try {
    saved = JSON.parse(readFileSync(join(runPath, 'software.json'), 'utf8')) as typeof saved;
  } catch {
    return [];
  }
  // null or a list is no readable record either (null read a field of nothing: a TypeError with a stack).
  if (typeof saved !== 'object' || saved === null || Array.isArray(saved)) return [];
  const now: SoftwareVersions = { ...softwareVersions(), tensorBackend };
  const names: [keyof SoftwareVersions, string][] = [
    ['mujoco', 'MuJoCo'],
    ['prefrl', 'prefrl'],
    ['node', 'Node'],
    ['tensorBackend', 'tensor backend'],
  ];
  return names.filter(([key]) => saved[key] !== undefined && now[key] !== undefined && saved[key] !== now[key]).map(([key, name]) => `${name} ${String(saved[key])} -> ${now[key]}`);
}

/** mkdir's refusals that say the folder given is the wrong place (not a full disk or the like). */
export const REFUSED_MKDIR: ReadonlySet<string> = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOENT', 'ENOTDIR']);

/** The options createRunDir reads. */
const CREATE_RUN_DIR_OPTIONS = ['root', 'name', 'config', 'clock', 'tensorBackend'];

/**
 * Create a new run folder under `root` and save the resolved config and the software versions
 * (with `tensorBackend`, the kind of TensorFlow.js backend the command started, when it started one).
 * An option it does not read is a RangeError naming it.
 */

export function createRunDir(opts: { root?: string; name: string; config: unknown; clock?: Clock; tensorBackend?: string }): RunDir {
  if (typeof opts?.name !== 'string') throw new TypeError(`createRunDir: option name (a word for the folder name) must be a string, got ${typeof opts?.name}`);
  // A misspelt option (`dir` for root) was dropped without a word: the run went to ./runs.
  refuseUnknownKeys('createRunDir', opts, CREATE_RUN_DIR_OPTIONS, 'option', (u) => (u.includes('dir') || u.includes('runsDir') ? ' (the folder the run folders go in is root)' : ''));
  const root = resolve(opts.root ?? 'runs');
  try {
    makeFolder(root);
  } catch (e) {
    // A file where the runs folder (or a folder above it) should be: say so, not mkdir's EEXIST / ENOTDIR.
    const code = (e as { code?: unknown }).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') throw new UsageError(`runs folder ${opts.root ?? 'runs'}: ${code === 'EEXIST' ? 'is a file' : 'a path above it is a file'}, not a folder`);
    if (REFUSED_MKDIR.has(String(code))) throw new UsageError(`runs folder ${opts.root ?? 'runs'}: cannot be made (${(e as Error).message})`);
    throw e;
  }
  const base = `${stamp((opts.clock ?? systemClock).date())}-${safeRunName(opts.name)}`;
  // Each candidate name is claimed by mkdir itself, so two runs started in the same second never share one.
  let path = join(root, base);
  for (let i = 2; ; i++) {
    try {
      mkdirSync(path);
      break;
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (REFUSED_MKDIR.has(String(code))) throw new UsageError(`runs folder ${opts.root ?? 'runs'}: cannot make a run folder in it (${(e as Error).message})`);
      if (code !== 'EEXIST') throw e;
      path = join(root, `${base}-${i}`);
    }
  }
  try {
    mkdirSync(join(path, 'artifacts'));
    writeJsonAtomic(join(path, 'config.json'), opts.config);
    const software: SoftwareVersions = opts.tensorBackend === undefined ? softwareVersions() : { ...softwareVersions(), tensorBackend: opts.tensorBackend };
    writeJsonAtomic(join(path, 'software.json'), software);
    return openRunDir(path);
  } catch (e) {
    // A folder half made (a full disk while its first files were written) holds nothing a run
    // produced and cannot be resumed: remove it, so `prefrl runs` does not list it as unfinished.
    try {
      rmSync(path, { recursive: true, force: true });
    } catch {
      // The error that stopped the run is the one to report, not this one.
    }
    throw e;
  }
}

/**
 * Open an existing run folder (e.g. for --resume). A last line of metrics.jsonl cut off by a kill
 * is dropped first: the rows logged from here on would be appended to it, and the line they made
 * together would parse as neither.
 */
export function openRunDir(path: string): RunDir {
  const abs = resolve(path);
  // An existing folder only: a mistyped path made a new, empty run folder before (createRunDir makes new ones).
  if (!existsSync(abs)) throw new InputError(path, 'no such run folder (createRunDir makes a new one)');
  if (!statSync(abs).isDirectory()) throw new InputError(path, 'not a run folder (a file)');
  makeFolder(join(abs, 'artifacts'));
  // Half-written files of a run killed before (its atomic writes never renamed them into place).
  removeStaleTemps(abs);
  filterMetricsFile(join(abs, 'metrics.jsonl'), () => true);
  const metrics = new MetricsLog(join(abs, 'metrics.jsonl'));
  return {
    path: abs,
    metrics,
    artifact: (name) => join(abs, 'artifacts', name),
    writeJson: (name, value) => {
      const p = join(abs, name);
      writeJsonAtomic(p, value);
      return p;
    },
    close: () => metrics.close(),
  };
}

/** What a run folder holds before its command has produced anything. */
const NEW_RUN_FILES = new Set(['config.json', 'software.json', 'metrics.jsonl', 'artifacts']);

/**
 * Remove a run folder that holds nothing its command produced (only config.json, software.json,
 * an empty metrics.jsonl and an empty artifacts/), e.g. after a rollout that failed at its
 * first step, so `prefrl runs` does not list it as unfinished. It closes the run first (closing
 * again is harmless). Returns whether the folder was removed; a folder with anything else in it
 * is left as it is.
 */
export function removeIfEmpty(run: RunDir): boolean {
  run.close();
  if (!existsSync(run.path)) return true; // removed already (by the command, on purpose)
  const entries = readdirSync(run.path);
  if (entries.some((e) => !NEW_RUN_FILES.has(e))) return false;
  if (existsSync(join(run.path, 'metrics.jsonl')) && statSync(join(run.path, 'metrics.jsonl')).size > 0) return false;
  if (existsSync(join(run.path, 'artifacts')) && readdirSync(join(run.path, 'artifacts')).length > 0) return false;
  rmSync(run.path, { recursive: true });
  return true;
}

/**
 * Drop the rows of a metrics.jsonl logged after `maxStep` (e.g. before resuming from a
 * checkpoint taken at that step, so the resumed run's rows do not repeat and run backwards), and
 * a damaged last line (a write cut off by a kill). The file is rewritten atomically (a temp file,
 * then a rename): killed mid-way, the old file is still whole. Lines that do not parse elsewhere
 * are kept. Nothing is written when nothing is dropped. Returns how many rows were dropped and
 * the rows kept (parsed; unparsable ones left out). Call it while no MetricsLog has the file open.
 */
export function truncateMetrics(path: string, maxStep: number): { dropped: number; kept: Record<string, unknown>[] } {
  return filterMetricsFile(path, (row) => !(typeof row.step === 'number' && row.step > maxStep));
}
