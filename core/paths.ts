/**
 * Locating files that ship with prefrl (MJCF assets, the viewer build) whether the code runs
 * from TypeScript sources (tests) or from the compiled dist/ folder (CLI); checking output file
 * paths given on the command line.
 */
import { accessSync, constants as fsConstants, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from './errors.js';

let cachedRoot: string | null = null;

/** The folder holding prefrl's package.json. */
export function packageRoot(): string {
  if (cachedRoot) return cachedRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === 'prefrl') {
          cachedRoot = dir;
          return dir;
        }
      } catch {
        // not ours; keep walking up
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('prefrl: cannot find the package root (package.json named "prefrl")');
    dir = parent;
  }
}

/** Absolute path of a file inside the package, e.g. asset('envs/assets/cheetah.xml'). */
export function asset(relative: string): string {
  return join(packageRoot(), relative);
}

/** True when this module is running from TypeScript sources rather than dist/. */
export function runningFromSource(): boolean {
  return import.meta.url.endsWith('.ts');
}

/** How `checkOutFile` treats an existing file: `force` false refuses it (the command has --force), true or undefined lets it be replaced. */
export interface OutFileOptions {
  /** The flag named in errors (default --out). */
  readonly flag?: string;
  /** Required ending of the file name, e.g. '.svg'. */
  readonly ext?: string;
  /** A file name to suggest when `out` is a folder, e.g. 'data.h5'. */
  readonly example?: string;
  /** false: an existing file is refused (pass --force); true or undefined: it may be replaced. */
  readonly force?: boolean;
}

/**
 * Refuse, before any work, an output file path that cannot or should not be written: a wrong
 * file ending, a folder that does not exist, a path that is a folder, or (with `force: false`)
 * an existing file. The usage errors name the flag and the path.
 */
export function checkOutFile(out: string, opts: OutFileOptions = {}): void {
  const flag = opts.flag ?? '--out';
  if (opts.ext !== undefined && !out.toLowerCase().endsWith(opts.ext.toLowerCase())) throw new UsageError(`${flag} ${out}: expected a file name ending in ${opts.ext}`);
  const folder = dirname(resolve(out));
  if (!isFolder(folder)) throw new UsageError(`${flag} ${out}: ${folder} is not an existing folder`);
  if (isFolder(out)) throw new UsageError(`${flag} ${out}: is a folder; give a file name${opts.example ? ` such as ${join(out, opts.example)}` : ' in it'}`);
  // Only a regular file is "replaced": a pipe or device (--out /dev/stdout) is written into.
  if (opts.force === false && isRegularFile(out)) throw new UsageError(`${flag} ${out}: already exists; pass --force to replace it, or choose another file`);
}

function isRegularFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * Refuse, before any work, an output folder path that cannot be created: the path, or a folder
 * above it, is an existing file. The usage error names the flag and the path.
 */
export function checkOutFolder(out: string, flag = '--out'): void {
  for (let p = resolve(out); ; p = dirname(p)) {
    if (existsSync(p)) {
      if (!isFolder(p)) throw new UsageError(`${flag} ${out}: ${p === resolve(out) ? 'is a file' : `${p} is a file`}, not a folder`);
      return;
    }
    if (dirname(p) === p) return;
  }
}

/** Why this user may not list and enter the folder `path` (the error's code, e.g. EACCES), or null when it may. */
export function folderAccessProblem(path: string): string | null {
  try {
    accessSync(path, fsConstants.R_OK | fsConstants.X_OK);
    return null;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? (e as Error).message;
  }
}

/** Whether `path` is an existing folder. */
export function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Quote an argument for a POSIX shell when it needs it (a path with spaces, quotes, ...), so printed commands paste as they are. */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./:=,+@%-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * `mkdir -p`: make a folder and any missing folders above it (nothing when it exists). Node's own
 * `mkdirSync(path, { recursive: true })` never returns when a parent exists but refuses children
 * with ENOENT (a path under /proc): this makes each missing folder once, top down, and throws the
 * first refusal (mkdir's error, naming the folder it could not make).
 */
export function makeFolder(path: string): void {
  const missing: string[] = [];
  let p = resolve(path);
  if (existsSync(p) && !isFolder(p)) {
    // What mkdir -p (and Node's recursive mkdirSync) says about a file in the folder's place.
    throw Object.assign(new Error(`EEXIST: file already exists, mkdir '${p}'`), { code: 'EEXIST', path: p, syscall: 'mkdir' });
  }
  while (!existsSync(p)) {
    missing.push(p);
    const up = dirname(p);
    if (up === p) break;
    p = up;
  }
  for (const m of missing.reverse()) {
    try {
      mkdirSync(m);
    } catch (e) {
      // Made meanwhile by another process: fine when it is a folder.
      if ((e as { code?: unknown }).code === 'EEXIST' && isFolder(m)) continue;
      throw e;
    }
  }
}
