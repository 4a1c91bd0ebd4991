import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isEnvironmentError, isSqliteEnvironmentError, withResumeAdvice } from '../../core/errors.js';
import { isSystemError, withFileNamed, writeFileAtomic } from '../../core/files.js';
import { appendJsonl, MetricsLog } from '../../core/log.js';

const dir = mkdtempSync(join(tmpdir(), 'prefrl-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Linux's /dev/full: every write to it fails with ENOSPC, as on a full disk. */
const FULL = '/dev/full';
const haveFull = existsSync(FULL);

/** An error as Node raises it for a refused write(2): its message names no file. */
function enospc(): NodeJS.ErrnoException {
  return Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
}

/** An error as better-sqlite3 raises it: SQLite's message and result code, no file. */
function sqliteError(code: string, message: string): Error {
  return Object.assign(new Error(message), { name: 'SqliteError', code });
}

describe('a write that fails on a full disk names the file', () => {
  it.skipIf(!haveFull)('writeFileAtomic: "cannot write <file>: no space left on device (ENOSPC)", the old file kept, no temporary file left', () => {
    const d = mkdtempSync(join(dir, 'atomic-'));
    const file = join(d, 'summary.json');
    writeFileSync(file, 'old\n');
    // The temporary file writeFileAtomic writes first is /dev/full: its write fails as on a full disk.
    symlinkSync(FULL, `${file}.tmp-${process.pid}`);
    let thrown: unknown;
    try {
      writeFileAtomic(file, 'new\n');
    } catch (e) {
      thrown = e;
    }
    expect((thrown as Error).message).toBe(`cannot write ${file}: no space left on device (ENOSPC)`);
    expect((thrown as NodeJS.ErrnoException).code).toBe('ENOSPC');
    // Still a system error: the CLI prints it without a stack.
    expect(isSystemError(thrown)).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe('old\n');
    expect(readdirSync(d)).toEqual(['summary.json']);
  });

  it('writeFileAtomic: a refused open names the file asked for, not the temporary one', () => {
    // A folder where the file would go is a file: open(2) of the temporary file fails with ENOTDIR.
    const blocker = join(dir, 'not-a-folder');
    writeFileSync(blocker, 'x');
    const file = join(blocker, 'plot.svg');
    expect(() => writeFileAtomic(file, '<svg/>')).toThrow(`ENOTDIR: not a directory, open '${file}'`);
  });

  it.skipIf(!haveFull)('MetricsLog.log and appendJsonl on a full disk name their file', () => {
    const d = mkdtempSync(join(dir, 'metrics-'));
    const path = join(d, 'metrics.jsonl');
    symlinkSync(FULL, path);
    const log = new MetricsLog(path);
    try {
      expect(() => log.log(1, { 'charts/x': 1 })).toThrow(`cannot write ${path}: no space left on device (ENOSPC)`);
    } finally {
      try {
        log.close();
      } catch {
        // /dev/full takes no fsync (EINVAL); the file is closed all the same
      }
    }
    expect(() => appendJsonl(path, { a: 1 })).toThrow(`cannot write ${path}: no space left on device (ENOSPC)`);
  });

  it('withFileNamed leaves alone what is not a system error, and a message that names the file already', () => {
    const plain = new Error('ENOSPC: no space left on device, write');
    expect(withFileNamed(plain, '/x/f')).toBe(plain);
    expect(plain.message).toBe('ENOSPC: no space left on device, write');
    const named = Object.assign(new Error("EACCES: permission denied, open '/x/f'"), { code: 'EACCES', syscall: 'open' });
    expect((withFileNamed(named, '/x/f') as Error).message).toBe("EACCES: permission denied, open '/x/f'");
    expect((withFileNamed(enospc(), '/x/f') as Error).message).toBe('cannot write /x/f: no space left on device (ENOSPC)');
  });
});

describe("the machine's refusals are told from prefrl's faults", () => {
  it('SQLite: a full disk, an I/O error, a read-only or unopenable file and a permission are the machine; a constraint, a corrupt file or a plain error are not', () => {
    for (const code of ['SQLITE_FULL', 'SQLITE_IOERR', 'SQLITE_IOERR_WRITE', 'SQLITE_READONLY', 'SQLITE_READONLY_DBMOVED', 'SQLITE_CANTOPEN', 'SQLITE_PERM']) {
      expect(isSqliteEnvironmentError(sqliteError(code, 'x')), code).toBe(true);
      expect(isEnvironmentError(sqliteError(code, 'x')), code).toBe(true);
    }
    for (const code of ['SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_CORRUPT', 'SQLITE_ERROR', 'SQLITE_FULLX', 'ENOSPC']) expect(isSqliteEnvironmentError(sqliteError(code, 'x')), code).toBe(false);
    expect(isSqliteEnvironmentError({ code: 'SQLITE_FULL' })).toBe(false);
    expect(isEnvironmentError(enospc())).toBe(true);
    expect(isEnvironmentError(new TypeError('x is undefined'))).toBe(false);
  });

  it('withResumeAdvice: a refusal of the machine gets the resume command after its message; a bug nothing', () => {
    const full = withResumeAdvice(sqliteError('SQLITE_FULL', 'label store runs/r/labels.sqlite: database or disk is full (SQLITE_FULL)'), 'prefrl train --resume runs/r') as Error;
    expect(full.message).toBe('label store runs/r/labels.sqlite: database or disk is full (SQLITE_FULL); what the run saved is kept: once that is fixed, resume with: prefrl train --resume runs/r');
    const disk = withResumeAdvice(withFileNamed(enospc(), 'runs/r/metrics.jsonl'), 'prefrl offline --resume runs/r') as Error;
    expect(disk.message).toBe('cannot write runs/r/metrics.jsonl: no space left on device (ENOSPC); what the run saved is kept: once that is fixed, resume with: prefrl offline --resume runs/r');
    // Something removed (maybe the run's own files): no promise that what was saved is kept.
    const gone = Object.assign(new Error("ENOENT: no such file or directory, open 'runs/r/metrics.jsonl'"), { code: 'ENOENT', syscall: 'open' });
    expect(withResumeAdvice(gone, 'prefrl train --resume runs/r')).toBe(gone);
    expect(gone.message).toBe("ENOENT: no such file or directory, open 'runs/r/metrics.jsonl'");
    const cantOpen = sqliteError('SQLITE_CANTOPEN', 'unable to open database file');
    expect((withResumeAdvice(cantOpen, 'prefrl train --resume runs/r') as Error).message).toBe('unable to open database file');
    const bug = new TypeError('x is undefined');
    expect(withResumeAdvice(bug, 'prefrl train --resume runs/r')).toBe(bug);
    expect(bug.message).toBe('x is undefined');
  });
});
