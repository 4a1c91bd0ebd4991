/**
 * A run that fills its disk: `prefrl train` on a tmpfs of 200 KiB, in a mount namespace of its own
 * (`unshare --mount`: the mount is seen by that process tree only and goes with it). The first
 * feedback round's pairs do not fit in the label store: the command must stop with exit 1, one
 * line naming the store, SQLite's code and the resume command, no stack; and once there is room
 * (the tmpfs remounted larger), that resume command must finish the run.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { useToyDataset } from './helpers/toy_dataset.js';

const REPO = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'prefrl-disk-full-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** unshare's flags: a mount namespace (root), or with a user namespace mapping this user to root. */
const UNSHARE = process.getuid?.() === 0 ? ['--mount'] : ['--mount', '--map-root-user'];

/** Why a tmpfs cannot be mounted here (no unshare, no namespaces allowed); null when it can. */
function cannotMount(): string | null {
  const probe = spawnSync('unshare', [...UNSHARE, 'sh', '-c', 'mount -t tmpfs -o size=64k tmpfs "$0"', dir], { encoding: 'utf8' });
  if (probe.error) return `unshare: ${probe.error.message}`;
  return probe.status === 0 ? null : `unshare ${UNSHARE.join(' ')} + mount tmpfs: ${probe.stderr.trim() || `exit ${probe.status}`}`;
}
const skip = process.platform === 'linux' ? cannotMount() : 'not Linux';
const toy = useToyDataset('prefrl-disk-full-toy-', 4, { wasm: true });

/** `sh -c script mnt out` in a mount namespace of its own; resolves with the shell's exit code. */
function inNamespace(script: string, mnt: string, out: string): Promise<number | null> {
  return new Promise((done) => spawn('unshare', [...UNSHARE, 'sh', '-c', script, mnt, out], { cwd: REPO, stdio: 'ignore' }).on('close', done));
}

// The script run in the namespace: $0 is the mount point, $1 the folder for the outputs (outside it).
const SCRIPT = [
  'mount -t tmpfs -o size=200k tmpfs "$0" || exit 90',
  `cli() { node --import tsx ${JSON.stringify(join(REPO, 'test', 'fixtures', 'cli_entry.ts'))} "$@"; }`,
  'cli train --env reacher --teacher oracle --labels 20 --steps 4096 --runs-dir "$0/runs" > "$1/full.out" 2> "$1/full.err"; echo $? > "$1/full.code"',
  'ls "$0/runs" > "$1/runs.txt"',
  'mount -o remount,size=20m "$0" || exit 91',
  // The resume command exactly as the failure printed it.
  'resume=$(sed -n "s/.*resume with: //p" "$1/full.err")',
  'eval "cli ${resume#prefrl } --json" > "$1/resume.out" 2> "$1/resume.err"; echo $? > "$1/resume.code"',
].join('\n');

describe.skipIf(skip !== null)(`a run that fills its disk${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('stops with exit 1 and one line naming the label store, SQLITE_FULL and the resume command (no stack); with room again, that command finishes the run', async () => {
    const mnt = mkdtempSync(join(dir, 'mnt-'));
    const out = mkdtempSync(join(dir, 'out-'));
    expect(await inNamespace(SCRIPT, mnt, out)).toBe(0);
    const read = (f: string) => readFileSync(join(out, f), 'utf8');
    const run = read('runs.txt').trim();
    expect(run).toMatch(/^\d{8}-\d{6}-train-reacher-oracle-s0$/);
    expect(read('full.code').trim()).toBe('1');
    const err = read('full.err');
    expect(err).not.toMatch(/^\s+at /m);
    const last = err.trimEnd().split('\n').at(-1);
    expect(last).toBe(
      `prefrl train: label store ${join(mnt, 'runs', run, 'labels.sqlite')}: database or disk is full (SQLITE_FULL); what the run saved is kept: once that is fixed, resume with: prefrl train --resume ${join(mnt, 'runs', run)}`,
    );
    expect(read('resume.code').trim()).toBe('0');
    const summary = JSON.parse(read('resume.out').trimEnd().split('\n').at(-1)!) as { labelsUsed: number; envSteps: number; runDir: string };
    expect(summary).toMatchObject({ labelsUsed: 20, envSteps: 4096, runDir: join(mnt, 'runs', run) });
  }, 120_000);

  it('offline: the same line with its resume command, and the resume finishes the run', async () => {
    const mnt = mkdtempSync(join(dir, 'mnt-'));
    const out = mkdtempSync(join(dir, 'out-'));
    const tiny = `--teacher oracle --labels 20 --segment-length 10 --updates 20 --eval-episodes 1 --hidden 8,8 --reward-hidden 8 --reward-epochs 2 --reward-members 1 --backend wasm`;
    const script = SCRIPT.replace(`cli train --env reacher --teacher oracle --labels 20 --steps 4096`, `cli offline --dataset ${JSON.stringify(toy.data)} ${tiny}`);
    expect(script).not.toBe(SCRIPT);
    expect(await inNamespace(script, mnt, out)).toBe(0);
    const read = (f: string) => readFileSync(join(out, f), 'utf8');
    const run = read('runs.txt').trim();
    expect(run).toMatch(/^\d{8}-\d{6}-offline-toy-reach-oracle-s0$/);
    expect(read('full.code').trim()).toBe('1');
    const err = read('full.err');
    expect(err).not.toMatch(/^\s+at /m);
    expect(err.trimEnd().split('\n').at(-1)).toMatch(
      new RegExp(`^prefrl offline: (label store \\S+ database or disk is full \\(SQLITE_FULL\\)|cannot write \\S+: no space left on device \\(ENOSPC\\)); what the run saved is kept: once that is fixed, resume with: prefrl offline --resume ${join(mnt, 'runs', run).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`),
    );
    expect(read('resume.code').trim()).toBe('0');
    const summary = JSON.parse(read('resume.out').trimEnd().split('\n').at(-1)!) as { runDir: string; normalizedRatio: unknown };
    expect(summary.runDir).toBe(join(mnt, 'runs', run));
    expect(typeof summary.normalizedRatio).toBe('number');
  }, 120_000);

  it('a disk too full for the run lock: the lock file named, and no empty one left to lock the run', async () => {
    const mnt = mkdtempSync(join(dir, 'mnt-'));
    const out = mkdtempSync(join(dir, 'out-'));
    // 8 KiB: two pages, config.json and software.json; train.lock finds none.
    const script = SCRIPT.replace('size=200k', 'size=8k').replace('mount -o remount,size=20m "$0" || exit 91', 'ls -A "$0"/runs/* > "$1/files.txt"; exit 0');
    expect(await inNamespace(script, mnt, out)).toBe(0);
    const read = (f: string) => readFileSync(join(out, f), 'utf8');
    const run = read('runs.txt').trim();
    expect(read('full.code').trim()).toBe('1');
    expect(read('full.err').trimEnd().split('\n').at(-1)).toBe(`prefrl train: cannot write ${join(mnt, 'runs', run, 'train.lock')}: no space left on device (ENOSPC)`);
    expect(read('files.txt').split('\n').filter((f) => f !== '')).not.toContain('train.lock');
  }, 120_000);

  it("a disk too full for the run folder's first files: the file named, and no half-made run folder left for `prefrl runs` to list", async () => {
    const mnt = mkdtempSync(join(dir, 'mnt-'));
    const out = mkdtempSync(join(dir, 'out-'));
    // 4 KiB: one page, config.json; software.json finds none.
    const script = SCRIPT.replace('size=200k', 'size=4k').replace('mount -o remount,size=20m "$0" || exit 91', 'exit 0');
    expect(await inNamespace(script, mnt, out)).toBe(0);
    const read = (f: string) => readFileSync(join(out, f), 'utf8');
    expect(read('full.code').trim()).toBe('1');
    expect(read('full.err').trimEnd().split('\n').at(-1)).toMatch(
      new RegExp(`^prefrl train: cannot write ${join(mnt, 'runs').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/\\d{8}-\\d{6}-train-reacher-oracle-s0/software\\.json: no space left on device \\(ENOSPC\\)$`),
    );
    // The runs folder is there, empty: the half-made run folder was removed.
    expect(read('runs.txt')).toBe('');
  }, 120_000);
});
