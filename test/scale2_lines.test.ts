/**
 * forEachLine (core/log.ts) reads a file line by line in chunks, so metrics files past the ~512 MB
 * a string can hold still read: with chunks of 1..16 bytes, line breaks and multi-byte characters
 * fall across chunk edges, and the lines must equal `split('\n')` of the whole file. readMetrics
 * (plot), filterMetricsFile and MetricsLog.lines read through it: same results as before.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../core/errors.js';
import { filterMetricsFile, forEachLine, MetricsLog } from '../core/log.js';
import { readMetrics } from '../scripts/commands/plot.js';

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'prefrl-scale2-lines-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function lines(path: string, chunk: number): { got: string[]; lines: number; rest: string; end: number } {
  const got: string[] = [];
  const r = forEachLine(
    path,
    (line, i) => {
      expect(i).toBe(got.length);
      got.push(line);
    },
    chunk,
  );
  return { got, ...r };
}

describe('forEachLine', () => {
  const texts: Record<string, string | Buffer> = {
    empty: '',
    'one newline': '\n',
    'no newline': 'abc',
    'ends in newline': '{"step":1}\n{"step":2}\n',
    'partial last': '{"step":1}\n\n  \n{"step":2,"x":"é€😀"}\n{"ste',
    'multi-byte at every edge': 'ü€😀\n😀😀\n\n€ü\nzz',
    'a long line': `${'x'.repeat(1000)}\n${'y'.repeat(37)}`,
    // Bad UTF-8: a lone continuation byte, a cut 3-byte character mid-file and at the end.
    'bad bytes': Buffer.from([0x61, 0x80, 0x0a, 0xe2, 0x82, 0x0a, 0x62, 0xf0, 0x9f]),
  };
  for (const [name, text] of Object.entries(texts)) {
    it(`gives what split('\\n') gives, chunks of 1..16 bytes and the default: ${name}`, () => {
      const path = join(dir, 'f.txt');
      writeFileSync(path, text);
      const whole = readFileSync(path, 'utf8').split('\n');
      const rest = whole.pop();
      const end = readFileSync(path).lastIndexOf(0x0a) + 1;
      for (const chunk of [1, 2, 3, 4, 5, 7, 16, undefined]) {
        const r = lines(path, chunk ?? 1 << 20);
        expect(r.got).toEqual(whole);
        expect(r.lines).toBe(whole.length);
        expect(r.rest).toBe(rest);
        expect(r.end).toBe(end);
      }
    });
  }

  it('hand-computed: 3 lines and a rest, 2-byte chunks', () => {
    const path = join(dir, 'hand.txt');
    writeFileSync(path, 'ab\n\ncde\nf');
    expect(lines(path, 2)).toEqual({ got: ['ab', '', 'cde'], lines: 3, rest: 'f', end: 8 });
  });

  it('from a byte offset (the end of an earlier read): the lines after it', () => {
    const path = join(dir, 'from.txt');
    writeFileSync(path, 'ab\n\ncde\nf');
    for (const chunk of [1, 3, 64]) {
      const got: string[] = [];
      expect(forEachLine(path, (l) => got.push(l), chunk, 3)).toEqual({ lines: 2, rest: 'f', end: 8 });
      expect(got).toEqual(['', 'cde']);
      expect(forEachLine(path, () => undefined, chunk, 8)).toEqual({ lines: 0, rest: 'f', end: 8 });
      // Past the end: nothing read, `end` stays where it was asked to start.
      expect(forEachLine(path, () => undefined, chunk, 20)).toEqual({ lines: 0, rest: '', end: 20 });
    }
    expect(() => forEachLine(path, () => undefined, 4, -1)).toThrow(/from must be a whole number >= 0, got -1/);
  });

  it('refuses a chunk size that is not a positive integer, and names a missing file', () => {
    const path = join(dir, 'hand.txt');
    expect(() => forEachLine(path, () => undefined, 0)).toThrow(/chunkBytes must be an integer > 0, got 0/);
    expect(() => forEachLine(path, () => undefined, 1.5)).toThrow(/got 1.5/);
    expect(() => forEachLine(join(dir, 'nope.txt'), () => undefined)).toThrow(/ENOENT.*nope\.txt/);
  });
});

describe('the metrics readers read through it', () => {
  it('readMetrics: points, a cut-off last line warned and left out, a bad line before others refused naming its line', () => {
    const run = join(dir, 'run');
    mkdirSync(run);
    const file = join(run, 'metrics.jsonl');
    writeFileSync(file, '{"step":0,"a":1.5}\n\n{"step":10,"a":2,"b":null}\n{"step":20,"a":');
    const warnings: string[] = [];
    const nulls = new Set<string>();
    const m = readMetrics(run, (w) => warnings.push(w), nulls);
    expect([...m.entries()]).toEqual([['a', [[0, 1.5], [10, 2]]]]);
    expect([...nulls]).toEqual(['b']);
    expect(warnings).toEqual([`${file} (line 4): cut off (the run was stopped while writing it?); left out`]);
    // The same cut line followed by blank lines only: still the last filled line.
    writeFileSync(file, '{"step":0,"a":1}\n{"step":1,"a":\n\n  \n');
    warnings.length = 0;
    expect([...readMetrics(run, (w) => warnings.push(w)).entries()]).toEqual([['a', [[0, 1]]]]);
    expect(warnings).toEqual([`${file} (line 2): cut off (the run was stopped while writing it?); left out`]);
    // A bad line with a filled line after it is an error, named by its line.
    writeFileSync(file, '{"step":0,"a":1}\n{"step":1,"a":\n\n{"step":2,"a":3}\n');
    let err: unknown;
    try {
      readMetrics(run);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toContain('invalid JSON');
    expect((err as Error).message).toContain('line 2');
  });

  it('filterMetricsFile and MetricsLog.lines: lines counted with blanks, rows dropped, the cut-off row dropped', () => {
    const run = join(dir, 'run2');
    mkdirSync(run);
    const file = join(run, 'metrics.jsonl');
    writeFileSync(file, '\n');
    const log = new MetricsLog(file);
    log.log(0, { 'charts/a': 1 });
    log.log(1, { 'charts/a': 2 });
    // The blank line counts: the next row is line 3.
    expect(log.lines()).toBe(3);
    log.close();
    writeFileSync(file, '{"step":0,"a":1}\n\nnot json\n{"step":1,"a":2}\n{"step":2,"a":3}\n{"step":3,"a');
    const seen: number[] = [];
    const r = filterMetricsFile(file, (row, line) => {
      seen.push(line);
      return row.step !== 1;
    });
    expect(seen).toEqual([0, 3, 4]);
    expect(r.dropped).toBe(2);
    expect(r.kept).toEqual([
      { step: 0, a: 1 },
      { step: 2, a: 3 },
    ]);
    expect(readFileSync(file, 'utf8')).toBe('{"step":0,"a":1}\nnot json\n{"step":2,"a":3}\n');
    // Nothing dropped: the file is left as it is.
    writeFileSync(file, '{"step":0,"a":1}\n\n');
    expect(filterMetricsFile(file, () => true)).toEqual({ dropped: 0, kept: [{ step: 0, a: 1 }] });
    expect(readFileSync(file, 'utf8')).toBe('{"step":0,"a":1}\n\n');
  });
});
