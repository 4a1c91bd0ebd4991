/**
 * Which code made a bench cell: prefrl's package version, the git commit of prefrl's checkout
 * (short hash, "-dirty" when tracked files differ from it), the MuJoCo WASM build
 * (`@mujoco/mujoco`'s package version, which is MuJoCo's own version: mj_versionString() of
 * 3.9.0 reads "3.9.0") and Node's version. Written into every new cell record (cells.ts
 * `software`), so that a result made before a change (the MuJoCo pin moved 3.14.0 -> 3.9.0 in
 * December 2026, and trained PPO results moved with it) can be told from one made after.
 *
 * The commit is absent, not wrong, where prefrl is no git checkout of its own: an npm install
 * (node_modules/prefrl inside another project's repository would otherwise report that
 * project's commit), or git not installed. "-dirty" looks at tracked files only, and not at the
 * folders the bench writes its results into (benchmarks/results/ and --out): the cell files a run
 * writes are results, not code, and would make every cell after the first read as dirty.
 */
import { spawnSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { isAbsolute, relative, resolve } from 'node:path';
import { packageRoot } from '../../core/paths.js';
import { softwareVersions } from '../../core/run.js';

export interface CodeVersion {
  /** prefrl's package version (package.json). */
  readonly prefrl: string;
  /** Short git commit of prefrl's checkout, with "-dirty" when tracked code differs from it; absent outside a git checkout. */
  readonly commit?: string;
  /** The MuJoCo WASM build (`@mujoco/mujoco`'s version; 'unknown' when it cannot be read). */
  readonly mujoco: string;
  /** process.version, e.g. "v20.20.2". */
  readonly node: string;
  /** The machine the cell ran on, as machineText gives it ("2 cores (AMD EPYC 9R14)"); absent in records made before it was kept. */
  readonly machine?: string;
}

/** This machine in a few words: "2 cores (AMD EPYC 9R14)". */
export function machineText(): string {
  return `${availableParallelism()} cores (${cpus()[0]?.model.trim() || 'unknown CPU'})`;
}

/** `git -C root ...`'s stdout, or null when git is missing or the command fails. */
function git(root: string, args: readonly string[]): string | null {
  // GIT_OPTIONAL_LOCKS=0: `git status` does not rewrite the index, so copies of the bench running
  // at once (or a user's git command) never meet a lock file of ours.
  const r = spawnSync('git', ['-C', root, ...args], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, GIT_OPTIONAL_LOCKS: '0' } });
  return r.error || r.status !== 0 ? null : r.stdout;
}

function samePath(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

/**
 * The commit of the git checkout at `root` (prefrl's package root by default): its short hash,
 * plus "-dirty" when a tracked file outside `resultFolders` differs from it; undefined when
 * `root` is not the top of a git checkout, has no commit yet, or git cannot be run.
 */
export function gitCommit(root: string = packageRoot(), resultFolders: readonly string[] = []): string | undefined {
  const top = git(root, ['rev-parse', '--show-toplevel']);
  if (top === null || !samePath(top.trim(), root)) return undefined;
  const head = git(root, ['rev-parse', '--short', 'HEAD'])?.trim();
  if (!head) return undefined;
  const excludes = resultFolders
    .map((p) => relative(root, resolve(p)))
    .filter((p) => p !== '' && !p.startsWith('..') && !isAbsolute(p))
    .map((p) => `:(exclude,literal)${p}`);
  const status = git(root, ['status', '--porcelain', '--untracked-files=no', '--', '.', ...excludes]);
  // Status unknown (it failed where rev-parse worked): the commit alone, not a guess at clean.
  if (status === null) return `${head}-unknown-state`;
  return status.trim() === '' ? head : `${head}-dirty`;
}

/** This process's code version; `resultFolders` (besides benchmarks/results/) do not count as changes. */
export function codeVersion(resultFolders: readonly string[] = []): CodeVersion {
  const v = softwareVersions();
  const root = packageRoot();
  const commit = gitCommit(root, [resolve(root, 'benchmarks', 'results'), ...resultFolders]);
  return { prefrl: v.prefrl, ...(commit === undefined ? {} : { commit }), mujoco: v.mujoco, node: v.node, machine: machineText() };
}

/** One line of a code version: "prefrl 0.1.0 (commit 5093039), MuJoCo 3.9.0, node v20.20.2". */
export function codeVersionText(v: CodeVersion): string {
  // ("or git could not read it": git refuses a checkout another user owns, safe.directory, as for a shared one.)
  return `prefrl ${v.prefrl} (${v.commit === undefined ? 'no git commit: not a git checkout, or git could not read it' : `commit ${v.commit}`}), MuJoCo ${v.mujoco}, node ${v.node}${v.machine === undefined ? '' : `, on ${v.machine}`}`;
}

/**
 * What an unreadable `software` field of a record is, or null when it is fine (absent, or an
 * object of string fields prefrl, mujoco, node and an optional commit).
 */
export function softwareProblem(v: unknown): string | null {
  if (v === undefined) return null;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return `"software" must be an object (prefrl, commit, mujoco, node), got ${JSON.stringify(v)}`;
  const o = v as Record<string, unknown>;
  for (const k of ['prefrl', 'mujoco', 'node'] as const) if (typeof o[k] !== 'string') return `"software.${k}" must be a string, got ${JSON.stringify(o[k]) ?? 'nothing'}`;
  if (o.commit !== undefined && typeof o.commit !== 'string') return `"software.commit" must be a string when present, got ${JSON.stringify(o.commit)}`;
  if (o.machine !== undefined && typeof o.machine !== 'string') return `"software.machine" must be a string when present, got ${JSON.stringify(o.machine)}`;
  return null;
}
