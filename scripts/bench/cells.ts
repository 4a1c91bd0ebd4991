/**
 * Cells of the oracle benchmark harness (`prefrl bench oracle`): the data types, ids, hashes,
 * sharding, and the on-disk format of results.
 *
 * A suite is a list of cells; each cell is one independent job (one training run, one tabular
 * world x seed, one random-policy reference, ...) that writes its own file
 *   <out>/<suite>/cells/<cellId>.jsonl
 * atomically (temp file + rename) when it finishes: one JSON record per line. A cell whose file
 * exists with the same config hash is done and skipped on the next run (resumable); a killed
 * cell left no file and simply runs again. A file that cannot be read as records (damaged in a
 * copy, edited by hand) is reported by damagedCellFiles, and the command refuses to go on. Shards (`--shard i/n`: every n-th cell) write
 * disjoint files, so merging machines is copying the cell files into one folder.
 *
 * Several processes on one folder (two copies of the same command on a 2-core machine, or batch
 * jobs on a shared file system) share the work without `--shard`: before running a cell a process
 * takes it by creating <cellId>.claim next to the result (exclusive create, so only one wins),
 * and removes it when the cell ends. Other processes skip a claimed cell. A claim left by a
 * process that died (same host, pid no longer alive) is taken over; a claim from another host
 * is respected until someone deletes the file.
 */
import { existsSync, openSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import { UsageError } from '../../core/errors.js';
import { shortHash } from '../../core/hash.js';
import type { HeronConfig } from '../../reward/teachers/heron.js';
import { fillNewFile, writeFileAtomic } from '../../core/files.js';
import { makeFolder } from '../../core/paths.js';
import { type CodeVersion, softwareProblem } from './code_version.js';

/** Display columns of a config (seed excluded): what a summary row is grouped by. */
export type Row = Readonly<Record<string, string | number>>;

interface CellBase {
  /** File-name-safe id, unique within the suite; readable (env, method, budget, seed...). */
  readonly id: string;
  readonly suite: string;
  readonly seed: number;
  /** Env id ("gridworld" for tabular cells); `--envs` filters on it. */
  readonly env: string;
  /** Estimated cost in env-step equivalents (progress bar and ETA only). */
  readonly cost: number;
  /** The summary table this cell's records go to (e.g. the env id). */
  readonly table: string;
  /** Display columns for the cell's record(s). */
  readonly row: Row;
}

/** One `prefrl train` run (online preference loop, or PPO on the true reward). */
export interface TrainCell extends CellBase {
  readonly kind: 'train';
  /** `prefrl train` flags without --seed, --runs-dir, --name, --json, --quiet and --expert. */
  readonly args: readonly string[];
  /** Id of a train cell whose run folder is V* for the regret teacher (`--expert`). */
  readonly expertFrom?: string;
  /** HERON ranking and margins; the runner writes them to a file and passes --teacher heron:<file>. */
  readonly heron?: HeronConfig;
}

/** The true return of the uniformly random policy (the 0 of normalised scores). */
export interface RandomCell extends CellBase {
  readonly kind: 'random';
  readonly env: string;
  readonly episodes: number;
}

/** One tabular world x seed of the Knox et al. replication (every source x model x budget). */
export interface TabularCell extends CellBase {
  readonly kind: 'tabular';
  /** The fixed delivery gridworld, or random MDP `index` drawn from `mdpSeed`. */
  readonly world: { readonly kind: 'delivery' } | { readonly kind: 'random'; readonly index: number; readonly mdpSeed: number };
  readonly budgets: readonly number[];
  readonly segmentLength: number;
  /** Full-batch Adam steps per fit. */
  readonly learnSteps: number;
}

/** One `prefrl collect` run: an offline dataset other cells depend on. */
export interface CollectCell extends CellBase {
  readonly kind: 'collect';
  /** `prefrl collect` flags without --seed, --runs-dir, --name, --json and --quiet. */
  readonly args: readonly string[];
}

/** One `prefrl offline` run (offline preference pipeline: labels -> reward -> relabel -> IQL; the vlm suite). */
export interface OfflineCell extends CellBase {
  readonly kind: 'offline';
  /** `prefrl offline` flags without --dataset, --seed, --runs-dir, --name, --json and --quiet. */
  readonly args: readonly string[];
  /** Id of the collect cell whose dataset this cell uses (`--dataset`). */
  readonly datasetFrom: string;
}

export type Cell = TrainCell | RandomCell | TabularCell | CollectCell | OfflineCell;

/** One line of a cell file. */
export interface CellRecord {
  readonly suite: string;
  readonly cellId: string;
  /** configHash(cell) of the cell that wrote it. */
  readonly hash: string;
  readonly kind: Cell['kind'];
  readonly seed: number;
  readonly table: string;
  readonly row: Row;
  /** Scalar results (null where not applicable / not finite). */
  readonly metrics: Readonly<Record<string, number | null>>;
  /** [env steps, mean true evaluation return] of training cells. */
  readonly curve?: readonly (readonly [number, number])[];
  /**
   * Run folder of the cell (git-ignored; absent after copying cells between machines): relative
   * to the cell file's own folder when `pathsFrom` is "cells-folder" (records written since
   * 2026-12-07), else relative to the working folder the bench ran from (older records). Read
   * it with recordPath.
   */
  readonly runDir?: string;
  /** What `runDir` and `extra.dataset` are relative to: the folder holding the cell file; absent: the bench's working folder (older records). */
  readonly pathsFrom?: 'cells-folder';
  /** Per-record details that are not aggregated (e.g. the tabular world and learned weights). */
  readonly extra?: Readonly<Record<string, unknown>>;
  /** The command that reproduces this cell alone, where there is one. */
  readonly command?: string;
  /** The `prefrl bench oracle` invocation that ran the cell. */
  readonly benchCommand: string;
  readonly wallSeconds: number;
  readonly finishedAt: string;
  /**
   * How many records the cell's file holds (written by writeCellRecords since 2026-12-07; older
   * files have none): a copy cut off at a line end is then told from a whole file.
   */
  readonly records?: number;
  /**
   * The code that made the cell: prefrl's version, its git commit, the MuJoCo WASM build and
   * Node (code_version.ts; written since 2026-12-07, older cells have none: "not recorded").
   */
  readonly software?: CodeVersion;
}

/** Lower-case, file-name-safe id part: "stochastic:epsMistake=0.1" -> "stochastic-epsmistake-0.1". */
export function idPart(s: string | number): string {
  return String(s)
    .toLowerCase()
    .replace(/[^a-z0-9.]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/** Join id parts with "_" (parts themselves never contain "_"). */
export function cellId(parts: readonly (string | number)[]): string {
  return parts.map(idPart).filter((p) => p !== '').join('_');
}

/** Hash of everything that determines a cell's result (not its cost, table or display row). */
export function configHash(cell: Cell): string {
  const { cost: _cost, table: _table, row: _row, suite: _suite, ...rest } = cell;
  return shortHash(JSON.stringify(rest));
}

export interface Shard {
  readonly index: number;
  readonly count: number;
}

/** Parse `--shard i/n` (0 <= i < n). Throws a UsageError naming --shard. */
export function parseShard(text: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!m) throw new UsageError(`--shard: expected i/n with integers 0 <= i < n (e.g. 0/4), got ${JSON.stringify(text)}`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1) throw new UsageError(`--shard: n must be >= 1, got ${JSON.stringify(text)}`);
  if (index >= count) throw new UsageError(`--shard: i must be < n (shards are 0..${count - 1}), got ${JSON.stringify(text)}`);
  return { index, count };
}

/** Every n-th cell starting at i: shards 0..n-1 split the list disjointly and completely. */
export function selectShard<T>(cells: readonly T[], shard: Shard | undefined): T[] {
  if (!shard) return [...cells];
  return cells.filter((_, k) => k % shard.count === shard.index);
}

export function cellsDir(suiteDir: string): string {
  return join(suiteDir, 'cells');
}

export function cellFile(suiteDir: string, id: string): string {
  return join(cellsDir(suiteDir), `${id}.jsonl`);
}

export function claimFile(suiteDir: string, id: string): string {
  return join(cellsDir(suiteDir), `${id}.claim`);
}

/** Who holds a cell: written as JSON into its claim file. */
export interface ClaimHolder {
  readonly host: string;
  readonly pid: number;
  readonly since: string;
}

export type Claim = { readonly ok: true; readonly release: () => void } | { readonly ok: false; readonly holder: ClaimHolder | null };

/** Whether a process with this pid is alive on this host (EPERM: alive, owned by someone else). */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The holder recorded in a claim file; null when it cannot be read (e.g. being written right now). */
export function readClaim(path: string): ClaimHolder | null {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as Partial<ClaimHolder>;
    return typeof v.host === 'string' && typeof v.pid === 'number' && typeof v.since === 'string' ? (v as ClaimHolder) : null;
  } catch {
    return null;
  }
}

/**
 * How long a claim or lock file may be empty or unreadable while its writer is still writing it,
 * ms. The writer creates the file and writes its holder line at once (one small write,
 * microseconds later), so one older than this has no writer left: it died in between (a SIGKILL,
 * a full disk). Bench cell claims and run-folder locks (scripts/run_lock.ts) share it.
 */
export const CLAIM_WRITE_GRACE_MS = 5_000;

/**
 * A claim whose process is gone: same host and the pid is not alive, or a file nobody could
 * parse for over CLAIM_WRITE_GRACE_MS (its writer died between create and write).
 */
export function claimIsStale(path: string, host = hostname(), nowMs = Date.now(), h: ClaimHolder | null = readClaim(path)): boolean {
  if (h) return h.host === host && !pidAlive(h.pid);
  try {
    return nowMs - statSync(path).mtimeMs > CLAIM_WRITE_GRACE_MS;
  } catch {
    return false;
  }
}

/**
 * Take a cell for this process: create its claim file exclusively. When another live process
 * holds it, `{ok: false, holder}`; a stale claim (see claimIsStale) is removed and taken.
 */
export function claimCell(suiteDir: string, id: string, now: Date = new Date()): Claim {
  const path = claimFile(suiteDir, id);
  makeFolder(cellsDir(suiteDir));
  const me: ClaimHolder = { host: hostname(), pid: process.pid, since: now.toISOString() };
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (attempt === 0 && claimIsStale(path)) {
        rmSync(path, { force: true });
        continue;
      }
      return { ok: false, holder: readClaim(path) };
    }
    // (A full disk: no empty claim left behind for others to wait on.)
    fillNewFile(fd, path, `${JSON.stringify(me)}\n`);
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        const h = readClaim(path);
        if (h && h.host === me.host && h.pid === me.pid) rmSync(path, { force: true });
      },
    };
  }
  return { ok: false, holder: readClaim(path) };
}

/**
 * A cell's claim, for listings, read once: its holder ('unknown' while the file is being written)
 * and whether it is stale (a process on this host that is gone: the cell was stopped and starts
 * over on the next run); null when the cell is unclaimed.
 */
export function claimState(suiteDir: string, id: string): { holder: ClaimHolder | 'unknown'; stale: boolean } | null {
  const path = claimFile(suiteDir, id);
  if (!existsSync(path)) return null;
  const h = readClaim(path);
  return { holder: h ?? 'unknown', stale: claimIsStale(path, hostname(), Date.now(), h) };
}

/** JSON with non-finite numbers as null (JSON has no NaN). */
export function jsonLine(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v));
}

/** Write a cell's records atomically: readers see no file or the whole file. */
export function writeCellRecords(suiteDir: string, id: string, records: readonly CellRecord[]): string {
  if (records.length === 0) throw new Error(`cell ${id}: no records to write`);
  const dir = cellsDir(suiteDir);
  makeFolder(dir);
  const path = cellFile(suiteDir, id);
  writeFileAtomic(path, records.map((r) => `${jsonLine({ ...r, records: records.length })}\n`).join(''));
  return path;
}

/**
 * A record as written: its run folder and dataset paths made relative to the cell file's folder
 * (<suiteDir>/cells), so a later bench run from another working folder, or a results folder
 * moved together with its runs, still finds them. Paths are resolved against the current working
 * folder first (what run_cell.ts recorded).
 */
export function withCellRelativePaths(r: CellRecord, suiteDir: string): CellRecord {
  if (r.pathsFrom === 'cells-folder') return r;
  const dir = resolve(cellsDir(suiteDir));
  const rel = (p: string) => relative(dir, resolve(p)) || '.';
  const ds = r.extra?.dataset;
  return {
    ...r,
    ...(r.runDir !== undefined ? { runDir: rel(r.runDir) } : {}),
    ...(typeof ds === 'string' ? { extra: { ...r.extra, dataset: rel(ds) } } : {}),
    pathsFrom: 'cells-folder',
  };
}

/** The absolute path of a record's runDir or extra.dataset (`path`): from the cells folder for new records, the working folder for older ones. */
export function recordPath(r: CellRecord, path: string, suiteDir: string): string {
  return r.pathsFrom === 'cells-folder' ? resolve(cellsDir(suiteDir), path) : resolve(path);
}

/**
 * What is wrong with one record of the cell file `<id>.jsonl` beyond being one (parseCellFile),
 * for the summary and the status of its cell: the fields the summary reads, of the right types,
 * and the cell id of the file's name (a record copied or renamed into another cell's file would
 * mark that cell done and count under the cell it names). Null when it is fine.
 */
export function recordProblem(r: CellRecord, id: string): string | null {
  const v = r as unknown as Record<string, unknown>;
  if (r.cellId !== id) return `a record of cell ${JSON.stringify(r.cellId)} in the file of cell ${id} (renamed or hand-edited?)`;
  for (const k of ['suite', 'kind', 'table', 'benchCommand', 'finishedAt'] as const) if (typeof v[k] !== 'string') return `"${k}" must be a string, got ${JSON.stringify(v[k]) ?? 'nothing'}`;
  if (!Number.isInteger(v.seed)) return `"seed" must be an integer, got ${JSON.stringify(v.seed) ?? 'nothing'}`;
  if (typeof v.wallSeconds !== 'number') return `"wallSeconds" must be a number, got ${JSON.stringify(v.wallSeconds) ?? 'nothing'}`;
  if (v.records !== undefined && !(Number.isInteger(v.records) && (v.records as number) >= 1)) return `"records" must be a whole number >= 1 (the records in the cell's file), got ${JSON.stringify(v.records)}`;
  if (v.pathsFrom !== undefined && v.pathsFrom !== 'cells-folder') return `"pathsFrom" must be "cells-folder" (paths relative to the cell file's folder) or absent, got ${JSON.stringify(v.pathsFrom)}`;
  const software = softwareProblem(v.software);
  if (software) return software;
  const row = v.row;
  if (typeof row !== 'object' || row === null || Array.isArray(row)) return `"row" must be an object of display columns, got ${JSON.stringify(row) ?? 'nothing'}`;
  for (const [k, x] of Object.entries(row)) if (typeof x !== 'string' && typeof x !== 'number') return `"row.${k}" must be a string or a number, got ${JSON.stringify(x)}`;
  if (Array.isArray(r.metrics)) return '"metrics" must be an object of numbers';
  for (const [k, x] of Object.entries(r.metrics)) if (x !== null && typeof x !== 'number') return `"metrics.${k}" must be a number or null, got ${JSON.stringify(x)}`;
  const curve = v.curve;
  if (curve !== undefined) {
    if (!Array.isArray(curve)) return `"curve" must be a list of [env steps, return] points, got ${JSON.stringify(curve)}`;
    const bad = curve.findIndex((p) => !Array.isArray(p) || p.length !== 2 || typeof p[0] !== 'number' || (p[1] !== null && typeof p[1] !== 'number'));
    if (bad >= 0) return `"curve[${bad}]" must be an [env steps, return] pair of numbers, got ${JSON.stringify(curve[bad])}`;
  }
  return null;
}

/** What is wrong with an existing cell file, or its records: `{ problem, line }` (line 1-based, where one is to blame). */
export function parseCellFile(path: string): { records: CellRecord[] } | { problem: string; line?: number } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    return { problem: `cannot read: ${(e as Error).message}` };
  }
  const lines = text.split('\n');
  const records: CellRecord[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() === '') continue;
    let r: Partial<CellRecord> | null;
    try {
      r = JSON.parse(lines[i]) as Partial<CellRecord> | null;
    } catch {
      return { problem: 'not JSON (a truncated or damaged copy?)', line: i + 1 };
    }
    if (r === null || typeof r !== 'object' || typeof r.cellId !== 'string' || typeof r.hash !== 'string' || typeof r.metrics !== 'object' || r.metrics === null) {
      return { problem: 'not a cell record (cellId, hash and metrics expected)', line: i + 1 };
    }
    const problem = recordProblem(r as CellRecord, basename(path, '.jsonl'));
    if (problem) return { problem, line: i + 1 };
    records.push(r as CellRecord);
  }
  if (records.length === 0) return { problem: 'empty (no records)' };
  // Files written since records carry their count: one cut off at a line end parses but is short,
  // and two copies joined by hand (cat a b > a) would count the cell's seed twice.
  const said = records.find((r) => r.records !== undefined)?.records;
  if (said !== undefined && records.length !== said) {
    const why = records.length < said ? 'a copy cut off at a line end?' : 'files joined by hand?';
    return { problem: `holds ${records.length} record${records.length === 1 ? '' : 's'}, but its records say the cell wrote ${said} (${why})` };
  }
  return { records };
}

/** Parse one cell file; null when it is missing or damaged (see damagedCellFiles). */
export function readCellFile(path: string): CellRecord[] | null {
  if (!existsSync(path)) return null;
  const p = parseCellFile(path);
  return 'records' in p ? p.records : null;
}

/** The cell files (*.jsonl) of a suite folder that cannot be read as cell results, with what is wrong. */
export function damagedCellFiles(suiteDir: string): { file: string; problem: string; line?: number }[] {
  const dir = cellsDir(suiteDir);
  if (!existsSync(dir)) return [];
  const out: { file: string; problem: string; line?: number }[] = [];
  for (const f of readdirSync(dir).sort()) {
    if (!f.endsWith('.jsonl')) continue;
    const p = parseCellFile(join(dir, f));
    if (!('records' in p)) out.push({ file: join(dir, f), ...p });
  }
  return out;
}

export type CellStatus = 'done' | 'pending' | 'stale';

/** done: finished with this config; stale: finished with another config (runs again); pending: no result. */
export function cellStatus(suiteDir: string, cell: Cell): CellStatus {
  const recs = readCellFile(cellFile(suiteDir, cell.id));
  if (!recs) return 'pending';
  const h = configHash(cell);
  return recs.every((r) => r.hash === h) ? 'done' : 'stale';
}

/** Every record of every cell file in the suite folder (whatever shards or machines wrote them). */
export function readAllRecords(suiteDir: string): CellRecord[] {
  const dir = cellsDir(suiteDir);
  if (!existsSync(dir)) return [];
  const out: CellRecord[] = [];
  for (const f of readdirSync(dir).sort()) {
    if (!f.endsWith('.jsonl')) continue;
    const recs = readCellFile(join(dir, f));
    // One at a time: push(...recs) overflows the call stack past some 120,000 records in a file.
    if (recs) for (const r of recs) out.push(r);
  }
  return out;
}

/** Mean and sample standard deviation (n - 1; 0 for one value) of the finite values. */
export function meanStd(values: readonly (number | null | undefined)[]): { mean: number; std: number; n: number } {
  const x = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  const n = x.length;
  if (n === 0) return { mean: Number.NaN, std: Number.NaN, n: 0 };
  const mean = x.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { mean, std: 0, n };
  const v = x.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1);
  return { mean, std: Math.sqrt(v), n };
}

/** Reference rows (random policy, datasets, true-reward PPO, experts) as opposed to compared configs. */
export function isReference(row: Row): boolean {
  const m = String(row.method ?? '');
  return m === 'random' || m === 'ppo-true' || m.startsWith('dataset') || m.startsWith('expert');
}

/**
 * Stable key of a display row: its columns sorted by name, so that the same row written with its
 * columns in another order (a record edited by hand, or made by another version) is one row of
 * the summary, not two rows that read alike.
 */
export function rowKey(table: string, row: Row): string {
  return JSON.stringify([table, Object.entries(row).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))]);
}
