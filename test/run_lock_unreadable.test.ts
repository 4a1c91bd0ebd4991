/**
 * A run folder's lock file that is empty or garbled (its writer died between creating it and
 * writing its holder line): taken over at once when it was last written more than
 * LOCK_WRITE_GRACE_MS ago (its age set with utimes, no real waiting), with a line saying what was
 * found; a younger one (a process starting this moment may be writing it) is refused at once with
 * a usage error naming the file and when it will be taken over, and left as it was. A lock of a
 * live process is refused as before.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCK_WRITE_GRACE_MS, lockRunDir } from '../scripts/run_lock.js';
import { captureCli, usageMessage } from './helpers/cli.js';

const root = mkdtempSync(join(tmpdir(), 'prefrl-run-lock-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

/** A run folder whose offline.lock holds `text`, last written `ageMs` ago. */
function lockedDir(text: string, ageMs: number): { dir: string; lock: string } {
  const dir = join(root, `run${n++}`);
  mkdirSync(dir);
  const lock = join(dir, 'offline.lock');
  writeFileSync(lock, text);
  const t = (Date.now() - ageMs) / 1000;
  utimesSync(lock, t, t);
  return { dir, lock };
}

describe('lockRunDir and an empty or garbled lock file', () => {
  it('an empty lock older than the grace period is taken over at once, saying so; the new lock names this process and goes on release', () => {
    const { dir, lock } = lockedDir('', LOCK_WRITE_GRACE_MS + 10_000);
    const c = captureCli();
    const release = lockRunDir(dir, c.ctx, '--resume', 'offline');
    expect(c.err.join('')).toMatch(
      new RegExp(`^\\[prefrl\\] --resume: ${dir} was left locked by a run that died while writing its lock: ${lock} is empty, last written 1[5-9]\\.\\d s ago; taking it over\\n$`),
    );
    expect(JSON.parse(readFileSync(lock, 'utf8'))).toMatchObject({ host: hostname(), pid: process.pid });
    release();
    expect(existsSync(lock)).toBe(false);
  });

  it('a garbled lock (cut off, or without a pid) older than the grace period is taken over, quoting what it held', () => {
    for (const text of ['{"host":"h","pi', JSON.stringify({ host: hostname(), since: '2026-12-01T10:00:00.000Z' })]) {
      const { dir, lock } = lockedDir(text, 60_000);
      const c = captureCli();
      const release = lockRunDir(dir, c.ctx, '--resume', 'offline');
      expect(c.err.join('')).toContain(`${lock} holds no holder (${JSON.stringify(text)}, not {host, pid, since}), last written 60.`);
      expect(c.err.join('')).toContain('; taking it over');
      release();
      expect(existsSync(lock)).toBe(false);
    }
  });

  it('an empty lock written just now is refused at once, naming the file and when it would be taken over; it is left as it was', () => {
    const { dir, lock } = lockedDir('', 0);
    const c = captureCli();
    const msg = usageMessage(() => lockRunDir(dir, c.ctx, '--resume', 'offline'));
    expect(msg).toMatch(
      new RegExp(
        `^--resume: ${dir} is locked: ${lock} is empty, written \\d\\.\\d s ago: a prefrl offline starting this moment may be writing it\\. Try again in a few seconds \\(a lock still like this ${LOCK_WRITE_GRACE_MS / 1000} s after it was written is taken over\\)$`,
      ),
    );
    expect(existsSync(lock)).toBe(true);
    expect(readFileSync(lock, 'utf8')).toBe('');
  });

  it('a lock held by a live process is still refused whatever its age', () => {
    const text = JSON.stringify({ host: hostname(), pid: process.pid, since: '2026-12-01T10:00:00.000Z' });
    const { dir, lock } = lockedDir(text, 600_000);
    const msg = usageMessage(() => lockRunDir(dir, captureCli().ctx, '--resume', 'offline'));
    expect(msg).toContain(`is in use by another prefrl offline (pid ${process.pid} on ${hostname()}, since 2026-12-01T10:00:00.000Z)`);
    expect(readFileSync(lock, 'utf8')).toBe(text);
  });
});
