/**
 * Writing files so that a failure leaves nothing half done and says which file: atomic writes
 * and the naming of Node's file-system errors. No imports from the rest of core/, so every module
 * (the logger too) can use it.
 */
import { closeSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';

/** An error Node raises for a refused system call: a code such as ENOENT and the call's name. */
export function isSystemError(e: unknown): boolean {
  const x = e as { code?: unknown; syscall?: unknown };
  return e instanceof Error && typeof x.code === 'string' && /^E[A-Z0-9]+$/.test(x.code) && typeof x.syscall === 'string';
}

/**
 * `e` with its message naming `path` when it is a system error of writing that file whose message
 * does not name it (a failed write(2) names no file: "ENOSPC: no space left on device, write"):
 * `cannot write <path>: no space left on device (ENOSPC)`. The code and syscall stay, so the CLI
 * still prints it without a stack. Anything else comes back as it was.
 */
export function withFileNamed(e: unknown, path: string): unknown {
  if (!isSystemError(e)) return e;
  const err = e as NodeJS.ErrnoException;
  if (err.message.includes(path)) return e;
  const what = err.message.replace(new RegExp(`^${err.code}: `), '').replace(/, [a-z_]+$/, '');
  err.message = `cannot write ${path}: ${what} (${err.code})`;
  return err;
}

/** The operating system's messages (strerror) that other programs pass on (HDF5, ffmpeg), and their codes. */
const OS_ERRORS: Readonly<Record<string, string>> = {
  'No space left on device': 'ENOSPC',
  'Disk quota exceeded': 'EDQUOT',
  'Permission denied': 'EACCES',
  'Read-only file system': 'EROFS',
  'Input/output error': 'EIO',
  'File too large': 'EFBIG',
};

/**
 * The system error (as Node's: code and syscall, so the CLI prints it without a stack) for a
 * write of `file` that another program reported in `text` with the operating system's message,
 * `cannot write <file>: no space left on device (ENOSPC)`; null when `text` holds none of them.
 */
export function systemWriteError(text: string, file: string): Error | null {
  for (const [message, code] of Object.entries(OS_ERRORS)) {
    if (text.includes(message)) return Object.assign(new Error(`cannot write ${file}: ${message.toLowerCase()} (${code})`), { code, syscall: 'write', path: file });
  }
  return null;
}

/**
 * Write a file (text or bytes) whole or not at all: through a temporary file of this process,
 * renamed over `path`, so a reader (or another process writing the same file) never sees it half
 * written, and a process killed mid-write leaves the file from before. A failed write (a full
 * disk) removes the temporary file and says which file it could not write (withFileNamed).
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    try {
      rmSync(tmp, { force: true });
    } catch {
      // Nothing to remove where the folder itself is refused (ENOTDIR, EACCES): the write's error says why.
    }
    // Name the file asked for, not the temporary one (an open(2) refusal names the file it tried).
    if (e instanceof Error) e.message = e.message.replaceAll(tmp, path);
    throw withFileNamed(e, path);
  }
}

/**
 * Write `text` into the file just made with open(path, 'wx') (a lock or claim file, `fd`) and close
 * it. A failed write (a full disk) removes the file, so no empty lock or claim is left for others to
 * wait on, and says which file (withFileNamed).
 */
export function fillNewFile(fd: number, path: string, text: string): void {
  try {
    writeSync(fd, text);
  } catch (e) {
    closeSync(fd);
    rmSync(path, { force: true });
    throw withFileNamed(e, path);
  }
  closeSync(fd);
}
