/**
 * `labels export` / `labels import` stream: no string (or buffer) read or written holds the whole
 * JSONL file, so a store of VLM labels with long raw replies past V8's string limit (~512 MiB)
 * still exports and imports. Proven on an 8 MB file by watching every node:fs read and write the
 * store makes (the mock below passes each call through and records its size); and the round trip
 * keeps every field byte for byte.
 */
import * as realFs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../core/clock.js';
import { InputError } from '../../core/errors.js';
import { makePair } from '../../reward/segments.js';
import { LabelStore, type NewLabel } from '../../reward/store.js';
import type { Pair } from '../../reward/types.js';
import { makePairs } from '../viewer/helpers.js';

/** The largest whole-file read or write and the largest chunk read/written through node:fs. */
const seen = { wholeRead: 0, wholeWrite: 0, chunkRead: 0, chunkWrite: 0 };
const size = (x: unknown): number => (typeof x === 'string' ? Buffer.byteLength(x) : x instanceof Uint8Array ? x.byteLength : 0);

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const wrapped = {
    ...fs,
    readFileSync: (...a: Parameters<typeof fs.readFileSync>) => {
      const r = fs.readFileSync(...a);
      seen.wholeRead = Math.max(seen.wholeRead, size(r));
      return r;
    },
    writeFileSync: (...a: Parameters<typeof fs.writeFileSync>) => {
      seen.wholeWrite = Math.max(seen.wholeWrite, size(a[1]));
      fs.writeFileSync(...a);
    },
    readSync: (...a: Parameters<typeof fs.readSync>) => {
      const n = (fs.readSync as (...b: unknown[]) => number)(...a);
      seen.chunkRead = Math.max(seen.chunkRead, n);
      return n;
    },
    writeSync: (...a: Parameters<typeof fs.writeSync>) => {
      const n = (fs.writeSync as (...b: unknown[]) => number)(...a);
      seen.chunkWrite = Math.max(seen.chunkWrite, n);
      return n;
    },
  };
  return { ...wrapped, default: wrapped };
});

const dir = realFs.mkdtempSync(join(tmpdir(), 'labels-stream-'));
let n = 0;
const tmp = (name: string) => join(dir, `${n++}-${name}`);

afterEach(() => {
  Object.assign(seen, { wholeRead: 0, wholeWrite: 0, chunkRead: 0, chunkWrite: 0 });
});

/** `count` distinct pairs over the segments of short toy-reach episodes. */
async function somePairs(count: number): Promise<Pair[]> {
  const segs = (await makePairs('toy-reach', { episodes: 6, steps: 20, length: 5, seed: 3 })).flatMap((p) => [p.a, p.b]);
  const out: Pair[] = [];
  for (let i = 0; i < segs.length && out.length < count; i++) {
    for (let j = i + 1; j < segs.length && out.length < count; j++) out.push(makePair(segs[i], segs[j]));
  }
  if (out.length < count) throw new Error(`only ${out.length} pairs`);
  return out;
}

/** A raw VLM reply of about `bytes` bytes with quotes, backslashes, newlines and multi-byte characters. */
function rawReply(i: number, bytes: number): string {
  const unit = `Step ${i}: the arm "reaches" → target ✓ ü \\ tab\there 🤖\nline two\r\n`;
  return unit.repeat(Math.ceil(bytes / Buffer.byteLength(unit))) + `Answer: ${i % 2 === 0 ? 'A' : 'B'}`;
}

describe('labels export / import stream', () => {
  /** A store of 200 VLM labels with raw replies of 40 kB each, exported to a file of about 8.8 MB. */
  async function bigExport(): Promise<{ pairs: Pair[]; src: LabelStore; out: string }> {
    const pairs = await somePairs(200);
    const src = LabelStore.open(tmp('src.sqlite'), { clock: new ManualClock(1_700_000_000_000) });
    src.putPairs(pairs);
    const labels: NewLabel[] = pairs.map((p, i) => ({ id: `vlm-${i}`, pairId: p.id, teacher: 'vlm:gpt', kind: 'preference', probFirst: i % 2 === 0 ? 1 : 0, raw: rawReply(i, 40_000) }));
    src.addLabels(labels);
    const out = tmp('big.jsonl');
    expect(src.exportJsonl(out)).toBe(200);
    expect(realFs.statSync(out).size).toBeGreaterThan(8_000_000);
    return { pairs, src, out };
  }

  it('export writes an 8.8 MB file in chunks of about 1 MiB, never the whole file at once', async () => {
    const { src, out } = await bigExport();
    // Each write is one chunk: 1 MiB of UTF-16 units (at most 3 bytes each) plus one line.
    expect(seen.wholeWrite).toBe(0);
    expect(seen.chunkWrite).toBeGreaterThan(0);
    expect(seen.chunkWrite).toBeLessThan(3.5 * 2 ** 20);
    expect(seen.chunkWrite).toBeLessThan(realFs.statSync(out).size / 2);
    src.close();
  });

  it('import reads it 1 MiB at a time, never the whole file at once; export -> import -> export is byte for byte the same', async () => {
    const { pairs, src, out } = await bigExport();
    Object.assign(seen, { wholeRead: 0, chunkRead: 0 });
    const dst = LabelStore.open(tmp('dst.sqlite'), { clock: new ManualClock(5) });
    dst.putPairs(pairs);
    expect(dst.importJsonl(out)).toEqual({ lines: 200, added: 200, duplicates: 0, sameTeacher: 0, conflicts: 0, firstConflictPair: null });
    expect(seen.wholeRead).toBe(0);
    expect(seen.chunkRead).toBe(2 ** 20);
    expect(dst.labels()).toEqual(src.labels());
    const again = tmp('again.jsonl');
    dst.exportJsonl(again);
    expect(realFs.readFileSync(again).equals(realFs.readFileSync(out))).toBe(true);
    src.close();
    dst.close();
  });

  it('round trip keeps every field: people, machine labels, skips, ties, timeouts, locked labels, raw replies, CRLF and blank lines', async () => {
    const pairs = await somePairs(8);
    const clock = new ManualClock(1_700_000_000_000);
    const src = LabelStore.open(tmp('src.sqlite'), { clock });
    src.putPairs(pairs);
    const all: NewLabel[] = [
      { id: 'h1', pairId: pairs[0].id, teacher: 'human:ada', kind: 'preference', probFirst: 1, responseMs: 2314.5, comment: 'clearly A, "faster"' },
      { id: 'h2', pairId: pairs[1].id, teacher: 'human:bo', kind: 'preference', probFirst: 0.5, responseMs: 800, comment: 'tie ü' },
      { id: 'h3', pairId: pairs[2].id, teacher: 'human:ada', kind: 'skip', reason: 'cannot tell', comment: 'both fall' },
      { id: 'h4', pairId: pairs[3].id, teacher: 'human:bo', kind: 'skip', reason: 'timeout', timeout: true },
      { id: 'm1', pairId: pairs[0].id, teacher: 'oracle', kind: 'preference', probFirst: 0 },
      { id: 'm2', pairId: pairs[1].id, teacher: 'stochastic:beta=1', kind: 'preference', probFirst: 0.7310585786300049 },
      { id: 'v1', pairId: pairs[4].id, teacher: 'vlm:gpt', kind: 'preference', probFirst: 1, raw: rawReply(1, 3000), responseMs: 4100 },
      { id: 'v2', pairId: pairs[5].id, teacher: 'vlm:gpt', kind: 'skip', reason: 'unparseable reply', raw: '{"answer": null}\n\u0000\u2028 ' },
      { id: 'v3', pairId: pairs[6].id, teacher: 'vlm:gpt', kind: 'preference', probFirst: 0.5, raw: '' },
    ];
    const times: string[] = [];
    for (const l of all) {
      times.push(clock.date().toISOString());
      src.addLabels([l]);
      clock.advance(1234);
    }
    src.lockLabels(['h1', 'm1', 'v1']);
    const out = tmp('all.jsonl');
    expect(src.exportJsonl(out)).toBe(all.length);
    const text = realFs.readFileSync(out, 'utf8');
    const lines = text.split('\n');
    expect(lines).toHaveLength(all.length + 1);
    expect(lines[all.length]).toBe('');
    // Each line is the stored label as labels() gives it, in stored order.
    expect(lines.slice(0, -1).map((l) => JSON.parse(l) as unknown)).toEqual(src.labels());
    expect(JSON.parse(lines[3])).toEqual({ id: 'h4', pairId: pairs[3].id, teacher: 'human:bo', kind: 'skip', reason: 'timeout', timeout: true, createdAt: times[3] });

    const dst = LabelStore.open(tmp('dst.sqlite'), { clock: new ManualClock(5) });
    dst.putPairs(pairs);
    expect(dst.importJsonl(out)).toEqual({ lines: 9, added: 9, duplicates: 0, sameTeacher: 0, conflicts: 0, firstConflictPair: null });
    const back = tmp('back.jsonl');
    dst.exportJsonl(back);
    expect(realFs.readFileSync(back).equals(realFs.readFileSync(out))).toBe(true);

    // The same labels with CRLF endings, blank lines and no final newline read the same way.
    const crlf = tmp('crlf.jsonl');
    realFs.writeFileSync(crlf, `\r\n${lines.slice(0, -1).join('\r\n\r\n')}`);
    const third = LabelStore.open(tmp('third.sqlite'), { clock: new ManualClock(5) });
    third.putPairs(pairs);
    expect(third.importJsonl(crlf)).toEqual({ lines: 9, added: 9, duplicates: 0, sameTeacher: 0, conflicts: 0, firstConflictPair: null });
    expect(third.labels()).toEqual(src.labels());
    for (const s of [src, dst, third]) s.close();
  });

  it('a bad line after several chunks is named by its line number and nothing is stored', async () => {
    const pairs = await somePairs(30);
    const store = LabelStore.open(tmp('s.sqlite'));
    store.putPairs(pairs);
    // 29 lines of ~100 kB (about 3 MB, so line 31 is read in the third chunk), one blank line, then a bad one.
    const good = pairs.slice(0, 29).map((p, i) => JSON.stringify({ id: `g${i}`, pairId: p.id, teacher: 'vlm', kind: 'preference', probFirst: 1, raw: rawReply(i, 100_000) }));
    const f = tmp('bad.jsonl');
    realFs.writeFileSync(f, `${good.join('\n')}\n\n${JSON.stringify({ id: 'x', pairId: pairs[29].id, teacher: 'vlm', kind: 'preference', probFirst: 2 })}\n`);
    const exactly = (file: string, rest: string) => new RegExp(`^${`${file} ${rest}`.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`);
    expect(() => store.importJsonl(f)).toThrow(InputError);
    expect(() => store.importJsonl(f)).toThrow(exactly(f, '(line 31): probFirst must be a number in [0, 1], got 2'));
    expect(store.counts().labels).toBe(0);
    // A truncated last line (a file cut short) is invalid JSON on its own line number.
    const cut = tmp('cut.jsonl');
    realFs.writeFileSync(cut, `${good.join('\n')}\n${good[0].slice(0, 50_001)}`);
    expect(() => store.importJsonl(cut)).toThrow(new RegExp(`^${cut.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(line 30\\): invalid JSON`));
    expect(store.counts().labels).toBe(0);
    store.close();
  });
});
