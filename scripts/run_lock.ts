/**
 * One process per run folder: `prefrl train` and `prefrl offline` hold `<command>.lock` in the
 * run folder while they work, so a second `--resume` of a run still going (or a `--resume` of a
 * run still being made) cannot interleave its metrics rows, checkpoints, stages and labels with
 * the first's.
 */
import { openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../core/errors.js';
import { fillNewFile } from '../core/files.js';
import { CLAIM_WRITE_GRACE_MS, type ClaimHolder, claimIsStale, readClaim } from './bench/cells.js';
import type { CommandContext } from './command.js';

/** The commands whose run folders can be resumed, and so locked. */
export type LockingCommand = 'train' | 'offline';

/** The lock file of a command's run folder (`train.lock`, `offline.lock`). */
export function lockFileName(command: LockingCommand): string {
  return `${command}.lock`;
}

/** How long a lock file may be empty or unreadable while its writer is still writing it, ms (the bench cell claims' grace). */
export const LOCK_WRITE_GRACE_MS = CLAIM_WRITE_GRACE_MS;

/** A lock file as found: its text (null: gone meanwhile) and how long ago it was last written, ms. */
function lockFileState(path: string): { text: string; ageMs: number } | null {
  try {
    const ageMs = Date.now() - statSync(path).mtimeMs;
    return { text: readFileSync(path, 'utf8'), ageMs };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** What an unreadable lock holds, in words: empty, or its first characters. */
function describeUnreadable(text: string): string {
  if (text.trim() === '') return 'is empty';
  const shown = text.length > 60 ? `${text.slice(0, 60)}...` : text;
  return `holds no holder (${JSON.stringify(shown)}, not {host, pid, since})`;
}

/**
 * Take a run folder's lock for this process. A lock left by a process that is gone (Ctrl-C, a
 * kill, a crash on this host) is taken over; so is an empty or garbled lock older than
 * LOCK_WRITE_GRACE_MS (its writer died while making it). One held by a live process is a usage
 * error naming `flag` and the holder; an empty or garbled one younger than that (a process
 * starting this moment may be writing it) is a usage error saying when it will be taken over.
 * Returns the release (also run at process exit, so a stopped run leaves no lock behind).
 */
export function lockRunDir(dir: string, ctx: Pick<CommandContext, 'clock' | 'logger'>, flag: string, command: LockingCommand): () => void {
  const path = join(dir, lockFileName(command));
  const me: ClaimHolder = { host: hostname(), pid: process.pid, since: ctx.clock.date().toISOString() };
  for (let attempt = 0; ; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = readClaim(path);
      if (holder === null) {
        const found = lockFileState(path);
        // Released between the create and the read: try again.
        if (found === null && attempt < 3) continue;
        const state = found ?? { text: '', ageMs: 0 };
        const what = describeUnreadable(state.text);
        const age = `${(Math.max(0, state.ageMs) / 1000).toFixed(1)} s`;
        if (attempt === 0 && state.ageMs > LOCK_WRITE_GRACE_MS) {
          ctx.logger.info(`${flag}: ${dir} was left locked by a run that died while writing its lock: ${path} ${what}, last written ${age} ago; taking it over`);
          rmSync(path, { force: true });
          continue;
        }
        throw new UsageError(
          `${flag}: ${dir} is locked: ${path} ${what}, written ${age} ago: a prefrl ${command} starting this moment may be writing it. Try again in a few seconds (a lock still like this ${LOCK_WRITE_GRACE_MS / 1000} s after it was written is taken over)`,
        );
      }
      if (attempt === 0 && claimIsStale(path, me.host, Date.now(), holder)) {
        ctx.logger.info(`${flag}: ${dir} was left locked by a run that is gone (pid ${holder.pid}, since ${holder.since}); taking it over`);
        rmSync(path, { force: true });
        continue;
      }
      const what = command === 'train' ? 'metrics, checkpoints and labels' : 'metrics, stages and labels';
      throw new UsageError(
        `${flag}: ${dir} is in use by another prefrl ${command} (pid ${holder.pid} on ${holder.host}, since ${holder.since}); two processes in one run folder would mix their ${what}. Wait for it to end, or stop it and resume; if no such process runs, delete ${path}`,
      );
    }
    // (A full disk: no empty lock left behind, which would lock the run for a while.)
    fillNewFile(fd, path, `${JSON.stringify(me)}\n`);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      const h = readClaim(path);
      if (h && h.host === me.host && h.pid === me.pid) rmSync(path, { force: true });
    };
    process.on('exit', release);
    return () => {
      process.off('exit', release);
      release();
    };
  }
}
