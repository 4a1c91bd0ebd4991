/**
 * TensorBoard event files of a long run: eventFile writes its records straight into one buffer of
 * the file's size (before: a Buffer per record and arrays of bytes for every one, over a gigabyte
 * for 2,000,000 points). Checked here record by record against the framing of one point at a time
 * (tfRecord(scalarEvent(p)), whose bytes test/tensorboard.test.ts checks by hand), at a size where
 * tags, steps and message lengths take several varint bytes.
 */
import { describe, expect, it } from 'vitest';
import { eventFile, fileVersionEvent, readTfRecords, type ScalarPoint, scalarEvent, tfRecord } from '../core/tfevents.js';

describe('eventFile at scale', () => {
  it('writes 300,000 points as the same bytes as one record per point, in order', () => {
    // Tags of 1, 3, 130 (a two-byte length) and 20,000 bytes (three bytes; the Summary and Event lengths too), one not ASCII.
    const tags = ['a', 'é/x', `l/${'y'.repeat(128)}`, `h/${'z'.repeat(19_998)}`];
    const points: ScalarPoint[] = [];
    for (let i = 0; i < 300_000; i++) {
      const tag = i % 1000 === 999 ? tags[3] : tags[i % 3];
      // Steps from 0 up past 2^35 (a six-byte varint).
      points.push({ tag, step: i % 5 === 0 ? i * 2 ** 17 + 1 : i, value: (i % 17) - 8.5, wallTime: 1_765_000_000 + i / 4 });
    }
    const file = eventFile(points, 1_765_000_000.5);
    const records = readTfRecords(file);
    expect(records.length).toBe(points.length + 1);
    expect(Buffer.from(records[0]).equals(Buffer.from(fileVersionEvent(1_765_000_000.5)))).toBe(true);
    let at = tfRecord(fileVersionEvent(1_765_000_000.5)).length;
    for (const [i, p] of points.entries()) {
      const one = tfRecord(scalarEvent(p));
      if (!one.equals(file.subarray(at, at + one.length))) throw new Error(`point ${i} (${JSON.stringify({ ...p, tag: p.tag.slice(0, 8) })}) differs at byte ${at}`);
      at += one.length;
    }
    expect(at).toBe(file.length);
  });

  it('refuses a step that is not a whole number >= 0, as before, naming it', () => {
    for (const step of [-1, 2.5, Number.NaN, 2 ** 53]) {
      expect(() => eventFile([{ tag: 't', step: 0, value: 1, wallTime: 0 }, { tag: 't', step, value: 1, wallTime: 0 }], 0)).toThrow(`varint: ${step} is not a non-negative safe integer`);
    }
  });
});
