import { existsSync, mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../core/errors.js';
import { checkOutFile, makeFolder, shellQuote } from '../../core/paths.js';

function usage(f: () => void): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  return 'no error';
}

describe('checkOutFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'prefrl-paths-'));
  const folder = join(dir, 'folder.h5');
  mkdirSync(folder);
  const file = join(dir, 'old.h5');
  writeFileSync(file, 'x');

  it('accepts a new file in an existing folder, and an existing file unless force is false', () => {
    expect(usage(() => checkOutFile(join(dir, 'new.h5')))).toBe('no error');
    expect(usage(() => checkOutFile(file))).toBe('no error');
    expect(usage(() => checkOutFile(file, { force: true }))).toBe('no error');
    expect(usage(() => checkOutFile(join(dir, 'a.SVG'), { ext: '.svg' }))).toBe('no error');
  });

  it('names the flag and the path: wrong ending, missing folder, a folder, an existing file without --force', () => {
    expect(usage(() => checkOutFile(join(dir, 'a.png'), { ext: '.svg' }))).toBe(`--out ${join(dir, 'a.png')}: expected a file name ending in .svg`);
    expect(usage(() => checkOutFile('a.png', { ext: '.jsonl', flag: '--export' }))).toBe('--export a.png: expected a file name ending in .jsonl');
    expect(usage(() => checkOutFile(join(dir, 'no', 'x.h5')))).toBe(`--out ${join(dir, 'no', 'x.h5')}: ${join(dir, 'no')} is not an existing folder`);
    expect(usage(() => checkOutFile(join(file, 'x.h5')))).toBe(`--out ${join(file, 'x.h5')}: ${file} is not an existing folder`);
    expect(usage(() => checkOutFile(folder, { example: 'data.h5' }))).toBe(`--out ${folder}: is a folder; give a file name such as ${join(folder, 'data.h5')}`);
    expect(usage(() => checkOutFile(folder))).toBe(`--out ${folder}: is a folder; give a file name in it`);
    expect(usage(() => checkOutFile(file, { force: false }))).toBe(`--out ${file}: already exists; pass --force to replace it, or choose another file`);
  });
});

describe('shellQuote', () => {
  it('leaves plain arguments alone and single-quotes the rest, quotes inside included', () => {
    expect(shellQuote('runs/20261206-040000-train-reacher-oracle-s0')).toBe('runs/20261206-040000-train-reacher-oracle-s0');
    expect(shellQuote('model:runs/a,b=c@d%e+f')).toBe('model:runs/a,b=c@d%e+f');
    expect(shellQuote('/home/me/my robots/arm.xml')).toBe("'/home/me/my robots/arm.xml'");
    expect(shellQuote("it's")).toBe("'it'\\''s'");
    expect(shellQuote('$HOME')).toBe("'$HOME'");
    expect(shellQuote('')).toBe("''");
  });
});

describe('makeFolder (mkdir -p that returns everywhere)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'prefrl-mkdir-'));
  it('makes missing folders top down and does nothing for an existing one', () => {
    const deep = join(dir, 'a', 'b', 'c');
    makeFolder(deep);
    expect(statSync(deep).isDirectory()).toBe(true);
    makeFolder(deep);
    makeFolder(join(dir, 'a'));
    expect(statSync(deep).isDirectory()).toBe(true);
  });
  it("throws mkdir's own error when a file is in the way", () => {
    const file = join(dir, 'plain.txt');
    writeFileSync(file, 'x');
    expect(() => makeFolder(file)).toThrow(/EEXIST/);
    expect(() => makeFolder(join(file, 'sub', 'deeper'))).toThrow(/ENOTDIR.*plain\.txt/);
    expect(existsSync(join(file, 'sub'))).toBe(false);
  });
  it.runIf(existsSync('/proc/self'))('throws for a folder under /proc (where Node\'s recursive mkdirSync never returns)', () => {
    expect(() => makeFolder('/proc/prefrl-not-here/runs')).toThrow("ENOENT: no such file or directory, mkdir '/proc/prefrl-not-here'");
  });
});
