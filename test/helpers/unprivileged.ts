/**
 * Checks that need file permissions to bind: a folder this user cannot write, a file it may not
 * read. They do not bind root (CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH), and CI runs the tests as
 * root. There the command is run in a child process started by `setpriv` with every capability
 * dropped (uid 0 kept): it is then bound by the mode bits like any user, as the owner of the files
 * the test made. Not `nobody`: the run's TMPDIR (test/helpers/run_tmpdir.ts) is a 0700 folder of
 * root's, which another user cannot enter. A user other than root runs the command in this process,
 * as the tests did before.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LabelStore } from '../../reward/store.js';
import { main } from '../../scripts/cli.js';
import { captureCli } from './cli.js';

/** The repository root (where test/ is). */
const REPO = join(import.meta.dirname, '..', '..');

/** setpriv's flags: no capabilities in any set, and none to be gained by exec (uid and gid unchanged). */
const DROP_ALL = ['--no-new-privs', '--inh-caps=-all', '--ambient-caps=-all', '--bounding-set=-all', '--'];

/** What a command printed and its exit code (null when a signal ended it). */
export interface CliRun {
  readonly code: number | null;
  readonly out: string;
  readonly err: string;
}

/** What `LabelStore.open(path, { readOnly: true })` did: the message it threw, or the labels of the store it opened. */
export type ReadOnlyOpen = { readonly error: string } | { readonly labels: number };

export interface Unprivileged {
  /** Who runs the commands, for a test's name: 'this user', or root without its capabilities. */
  readonly who: string;
  /** Why the commands cannot be run where permissions bind (root, and setpriv could not drop the capabilities); null when they can. */
  readonly skip: string | null;
  /** `prefrl <args>` where permissions bind. */
  cli(args: readonly string[]): Promise<CliRun>;
  /** `LabelStore.open(path, { readOnly: true })` where permissions bind; the store is closed again. */
  openReadOnly(path: string): Promise<ReadOnlyOpen>;
}

function openHere(path: string): ReadOnlyOpen {
  let store: LabelStore;
  try {
    store = LabelStore.open(path, { readOnly: true });
  } catch (e) {
    return { error: (e as Error).message };
  }
  try {
    return { labels: store.counts().labels };
  } finally {
    store.close();
  }
}

/** Run `node <args>` under setpriv with no capabilities, from the repository root, with this process's environment. */
function dropped(args: readonly string[]): Promise<CliRun> {
  const child = spawn('setpriv', [...DROP_ALL, process.execPath, ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    // 'close', not 'exit': by then both pipes are read to their end.
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

/**
 * Whether setpriv here starts a process that file permissions bind: it must fail to read a file of
 * this user's with mode 0200 (EACCES). null when it does; otherwise what went wrong.
 */
function setprivFails(): string | null {
  const folder = mkdtempSync(join(tmpdir(), 'prefrl-unprivileged-'));
  try {
    const file = join(folder, 'write-only');
    writeFileSync(file, 'x');
    chmodSync(file, 0o200);
    const read = `try { require('node:fs').readFileSync(${JSON.stringify(file)}); process.stdout.write('read it'); } catch (e) { process.stdout.write(String(e.code)); }`;
    const r = spawnSync('setpriv', [...DROP_ALL, process.execPath, '-e', read], { encoding: 'utf8', timeout: 30_000 });
    if (r.error) return `setpriv did not run (${r.error.message})`;
    if (r.status !== 0) return `setpriv exited ${r.status ?? r.signal}: ${r.stderr.trim()}`;
    if (r.stdout !== 'EACCES') return `under setpriv a 0200 file was not refused (${r.stdout})`;
    return null;
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

let memo: Unprivileged | undefined;

/** How this process runs commands where permissions bind (worked out once; as root it starts one probe). */
export function unprivileged(): Unprivileged {
  if (memo) return memo;
  if (process.getuid?.() !== 0) {
    memo = {
      who: 'this user',
      skip: null,
      async cli(args) {
        const k = captureCli();
        const code = await main(args, k.ctx);
        return { code, out: k.out.join(''), err: k.err.join('') };
      },
      openReadOnly: async (path) => openHere(path),
    };
    return memo;
  }
  const fails = setprivFails();
  memo = {
    who: 'root without its capabilities (setpriv)',
    skip: fails && `root, and setpriv cannot drop its capabilities: ${fails}`,
    cli: (args) => dropped(['--import', 'tsx', join(REPO, 'test', 'fixtures', 'cli_entry.ts'), ...args]),
    async openReadOnly(path) {
      const r = await dropped(['--import', 'tsx', join(REPO, 'test', 'fixtures', 'open_read_only_entry.ts'), path]);
      if (r.code !== 0) throw new Error(`open_read_only_entry.ts exited ${r.code}: ${r.err}`);
      return JSON.parse(r.out) as ReadOnlyOpen;
    },
  };
  return memo;
}

/** For test/fixtures/open_read_only_entry.ts: what opening `path` read-only did, as one line of JSON. */
export function openReadOnlyLine(path: string): string {
  return JSON.stringify(openHere(path));
}
