/**
 * One process per run folder: `prefrl train` and `prefrl offline` hold `<command>.lock` in the
 * run folder while they work, so a second `--resume` of a run still going (or a `--resume` of a
 * run still being made) cannot interleave its metrics rows, checkpoints, stages and labels with
 * the first's.
 */
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../core/errors.js';
import { type ClaimHolder, claimIsStale, readClaim } from './bench/cells.js';
import type { CommandContext } from './command.js';

/** The commands whose run folders can be resumed, and so locked. */
export type LockingCommand = 'train' | 'offline';

/** The lock file of a command's run folder (`train.lock`, `offline.lock`). */
export function lockFileName(command: LockingCommand): string {
  return `${command}.lock`;
}

/**
 * Take a run folder's lock for this process. A lock left by a process that is gone (Ctrl-C, a
 * kill, a crash on this host) is taken over; one held by a live process is a usage error naming
 * `flag` and the holder. Returns the release (also run at process exit, so a stopped run leaves
 * no lock behind).
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
      if (attempt === 0 && claimIsStale(path, me.host, Date.now(), holder)) {
        ctx.logger.info(`${flag}: ${dir} was left locked by a run that is gone (${holder ? `pid ${holder.pid}, since ${holder.since}` : 'its lock was never written'}); taking it over`);
        rmSync(path, { force: true });
        continue;
      }
      const who = holder ? `pid ${holder.pid} on ${holder.host}, since ${holder.since}` : 'its lock is being written';
      const what = command === 'train' ? 'metrics, checkpoints and labels' : 'metrics, stages and labels';
      throw new UsageError(
        `${flag}: ${dir} is in use by another prefrl ${command} (${who}); two processes in one run folder would mix their ${what}. Wait for it to end, or stop it and resume; if no such process runs, delete ${path}`,
      );
    }
    try {
      writeSync(fd, `${JSON.stringify(me)}\n`);
    } finally {
      closeSync(fd);
    }
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
