/**
 * The MuJoCo WebAssembly runtime (Google DeepMind's official `@mujoco/mujoco` bindings):
 * loading the module once per thread, compiling models from strings or files (with their
 * `<include>`d files and mesh/texture assets through MuJoCo's virtual file system), and
 * ownership of WASM-heap objects.
 *
 * Ownership rules (the bindings' objects are not garbage-collected):
 * - every MjModel / MjData / MjVFS created here is deleted exactly once by its owner
 *   (`CompiledModel.dispose()`, `MujocoEnv.dispose()`), in `finally` blocks on error paths;
 * - array properties such as `data.qpos` are live views into WASM memory that detach when
 *   the heap grows, so `Physics` re-fetches them when that happens.
 */
import { existsSync, readdirSync, readFileSync, type Stats, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, posix, relative, resolve, sep } from 'node:path';
import loadMujocoModule, { type MainModule, type MjData, type MjModel } from '@mujoco/mujoco';
import { InputError } from '../../core/errors.js';
import { sha256 } from '../../core/hash.js';

export type Mujoco = MainModule;
export type { MjData, MjModel };

let modulePromise: Promise<Mujoco> | null = null;

/** How many times one MuJoCo message (numbers aside) is printed before it is only counted. */
export const MUJOCO_MESSAGE_REPEATS = 3;

/**
 * Where MuJoCo's own output goes: stderr, tagged `[mujoco]`, never stdout (which carries the
 * tables and the `--json` line). An unstable simulation makes MuJoCo warn on every step, so a
 * message that differs from an earlier one only in its numbers (time, body index) is printed
 * MUJOCO_MESSAGE_REPEATS times, then once more with a note that further copies are dropped.
 */
export function mujocoPrinter(write: (line: string) => void): (text: string) => void {
  const seen = new Map<string, number>();
  return (text: string) => {
    if (text.trim() === '') return;
    const key = text.replace(/[-+]?\d[\d.eE+-]*/g, '#').trim();
    const n = (seen.get(key) ?? 0) + 1;
    seen.set(key, n);
    if (n <= MUJOCO_MESSAGE_REPEATS) write(`[mujoco] ${text}\n`);
    else if (n === MUJOCO_MESSAGE_REPEATS + 1) write(`[mujoco] (this message came ${n} times; further copies are not printed)\n`);
  };
}

/** The MuJoCo module for this thread (loaded on first use, ~0.4 s). */
export function loadMujoco(): Promise<Mujoco> {
  if (!modulePromise) {
    // MuJoCo 3.9 prints its warnings through `print` (stdout by default): both go to stderr.
    const out = mujocoPrinter((line) => process.stderr.write(line));
    modulePromise = loadMujocoModule({ print: out, printErr: out });
  }
  return modulePromise;
}

/** Current size of the WASM heap in bytes (grows, never shrinks). */
export function heapBytes(mj: Mujoco): number {
  const buf = new mj.DoubleBuffer(1);
  try {
    return (buf.GetView() as Float64Array).buffer.byteLength;
  } finally {
    buf.delete();
  }
}

/** Where a model came from: literal XML (built-in envs) or a file on disk (bring your own). */
export type ModelSource =
  | { readonly kind: 'xml'; readonly xml: string; readonly name: string }
  | { readonly kind: 'file'; readonly path: string };

/** File types a model folder may hold that MuJoCo reads (includes, meshes, textures, skins, heightfields). */
const ASSET_EXT = /\.(xml|mjcf|obj|stl|msh|png|skn|bin|ply)$/i;
const MAX_ASSET_BYTES = 512 * 1024 * 1024;
const SKIP_DIRS = new Set(['node_modules', '.git', 'runs', 'dist']);

/**
 * Files of a model's folder that MuJoCo may need, as paths relative to that folder. Entries
 * that cannot be read (a dangling link, a folder without permission) are skipped: MuJoCo names
 * any file it then misses. The model's own folder must be readable.
 */
export function listAssets(root: string): string[] {
  const out: string[] = [];
  let total = 0;
  const walk = (dir: string, depth: number): void => {
    if (depth > 6) return;
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch (e) {
      if (depth === 0) throw new InputError(root, `cannot read the model's folder: ${(e as Error).message}`);
      return;
    }
    for (const name of names) {
      const full = join(dir, name);
      let st: Stats;
      try {
        st = statSync(full);
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        if (!SKIP_DIRS.has(name) && !name.startsWith('.')) walk(full, depth + 1);
      } else if (ASSET_EXT.test(name)) {
        total += st.size;
        if (total > MAX_ASSET_BYTES) {
          throw new InputError(root, `model folder holds more than ${MAX_ASSET_BYTES >> 20} MiB of asset files; move the model into its own folder`);
        }
        out.push(relative(root, full).split(sep).join('/'));
      }
    }
  };
  walk(root, 0);
  return out;
}

/** A compiled model with everything needed to rebuild it elsewhere (workers, the viewer). */
export interface CompiledModel {
  readonly model: MjModel;
  /** Hash of the XML and every asset file it could read; identifies the physics. */
  readonly hash: string;
  /** Human-readable source: the file path or the built-in model's name. */
  readonly sourceName: string;
  readonly source: ModelSource;
  dispose(): void;
}

/** Turn MuJoCo's exception into an InputError that names the file. */
function compileError(sourceName: string, err: unknown): InputError {
  const raw = err instanceof Error ? err.message : String(err);
  const msg = raw.replace(/^MuJoCo Error:\s*/, '').replace(/\s+/g, ' ').trim();
  // A file made to be <include>d has <mujocoinclude> at its root: the model is the file that includes it.
  const hint = /model type: 'mujocoinclude'/.test(msg) ? ' (this file is one a model <include>s; give the main model file, the one whose root element is <mujoco>)' : '';
  return new InputError(sourceName, `MuJoCo could not load the model: ${msg}${hint}`);
}

/**
 * Compile a model. Built-in models come as XML strings; files are loaded with their folder
 * mounted in MuJoCo's virtual file system so `<include>`s and asset files resolve relative to
 * the model file. Errors name the file and carry MuJoCo's own message.
 */
export function compileModel(mj: Mujoco, source: ModelSource): CompiledModel {
  if (source.kind === 'xml') {
    let model: MjModel;
    try {
      model = mj.MjModel.from_xml_string(source.xml);
    } catch (e) {
      throw compileError(source.name, e);
    }
    return { model, hash: sha256(source.xml).slice(0, 16), sourceName: source.name, source, dispose: () => model.delete() };
  }
  const path = resolve(source.path);
  if (!existsSync(path)) throw new InputError(source.path, 'model file not found');
  if (statSync(path).isDirectory()) throw new InputError(source.path, 'expected an MJCF .xml file, got a directory');
  const main = basename(path);
  const files = modelFiles(path);
  const vfs = new mj.MjVFS();
  const hashParts: string[] = [];
  try {
    for (const { name, bytes } of files) {
      vfs.addBuffer(name, bytes);
      hashParts.push(`${name}:${sha256(bytes)}`);
    }
    let model: MjModel;
    try {
      model = mj.MjModel.from_xml_path(main, vfs);
    } catch (e) {
      throw compileError(source.path, e);
    }
    const hash = sha256(hashParts.join('\n')).slice(0, 16);
    return { model, hash, sourceName: source.path, source: { kind: 'file', path }, dispose: () => model.delete() };
  } finally {
    vfs.delete();
  }
}

/** A file's bytes, or null when it cannot be read (gone since it was listed, no permission, a folder). */
function readOrNull(file: string): Uint8Array | null {
  try {
    return new Uint8Array(readFileSync(file));
  } catch {
    return null;
  }
}

/**
 * Files outside the model's folder that its XML files name: `file` attributes (includes, meshes,
 * textures, ...) that are absolute or start with `../`, alone or under a `meshdir`, `texturedir`
 * or `assetdir`, as MuJoCo asks for them (relative to the model's folder). Included files found
 * this way are searched in turn.
 */
function outsideFiles(root: string, xmls: { name: string; bytes: Uint8Array }[]): { name: string; bytes: Uint8Array }[] {
  const out: { name: string; bytes: Uint8Array }[] = [];
  const seen = new Set<string>();
  const queue = [...xmls];
  for (let text = queue.shift(); text !== undefined; text = queue.shift()) {
    const xml = Buffer.from(text.bytes).toString('utf8');
    const names: string[] = [];
    const dirs: string[] = [];
    for (const m of xml.matchAll(/\b(file[a-z]*|meshdir|texturedir|assetdir)\s*=\s*"([^"]+)"/g)) (m[1].startsWith('file') ? names : dirs).push(m[2]);
    // (Normalised as the virtual file system stores them: "../meshes/../a.xml" is "../a.xml".)
    const candidates = names.flatMap((n) => [n, ...dirs.map((d) => `${d}/${n}`)]).map((n) => posix.normalize(n));
    for (const name of candidates) {
      if (seen.has(name) || !(isAbsolute(name) || name.startsWith('../'))) continue;
      seen.add(name);
      const bytes = readOrNull(resolve(root, name));
      if (bytes === null) continue;
      out.push({ name, bytes });
      if (/\.(xml|mjcf)$/i.test(name)) queue.push({ name, bytes });
    }
  }
  return out;
}

/**
 * The files a file-based model may read, with their bytes, as MuJoCo's virtual file system holds
 * them (compiler and viewer): the asset files of its folder (listAssets; one that cannot be read
 * by now is left out, MuJoCo then names it if it needs it), the model file itself, and the files
 * outside the folder its XML files name (`../common/materials.xml`, absolute paths).
 */
export function modelFiles(path: string): { name: string; bytes: Uint8Array }[] {
  const abs = resolve(path);
  const root = dirname(abs);
  const main = basename(abs);
  const names = listAssets(root);
  if (!names.includes(main)) names.push(main);
  const files: { name: string; bytes: Uint8Array }[] = [];
  for (const name of names) {
    const bytes = readOrNull(join(root, name));
    if (bytes !== null) files.push({ name, bytes });
    else if (name === main) throw new InputError(path, 'cannot read the model file');
  }
  return [...files, ...outsideFiles(root, files.filter((f) => /\.(xml|mjcf)$/i.test(f.name)))];
}
