/**
 * TensorBoard event files (core/tfevents.ts) and `prefrl tensorboard`: CRC-32C against the
 * published check values, Event messages byte for byte as worked out by hand from event.proto and
 * summary.proto, TFRecord framing with its CRCs, and the command over hand-made run folders
 * (points by step, left-out values said, files replaced not doubled, --out, --follow, bad input).
 * The files were also read by TensorBoard 2.21.0 itself when this was written (its
 * EventAccumulator and its HTTP server's scalars route), outside the tests (not installed here).
 */
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { crc32c, eventFile, fileVersionEvent, maskedCrc32c, readTfRecords, scalarEvent, tfRecord } from '../core/tfevents.js';
import { main } from '../scripts/cli.js';
import { eventFileName, runStartSeconds } from '../scripts/commands/tensorboard.js';
import { lockRunDir } from '../scripts/run_lock.js';
import { captureCli, lastJson } from './helpers/cli.js';

const root = mkdtempSync(join(tmpdir(), 'prefrl-tb-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** A decoded scalar Event (only the fields written here), by a reader written for the test. */
interface Decoded {
  wall: number;
  step: number;
  tag?: string;
  value?: number;
  version?: string;
}

function varintAt(b: Buffer, at: number): [number, number] {
  let n = 0;
  let mul = 1;
  for (;;) {
    const x = b[at++];
    n += (x & 0x7f) * mul;
    mul *= 128;
    if (x < 0x80) return [n, at];
  }
}

function decodeEvent(data: Uint8Array): Decoded {
  const b = Buffer.from(data);
  const out: Decoded = { wall: NaN, step: 0 };
  let at = 0;
  while (at < b.length) {
    const key = b[at++];
    if (key === 0x09) {
      out.wall = b.readDoubleLE(at);
      at += 8;
    } else if (key === 0x10) [out.step, at] = varintAt(b, at);
    else if (key === 0x1a || key === 0x2a) {
      let len: number;
      [len, at] = varintAt(b, at);
      const body = b.subarray(at, at + len);
      at += len;
      if (key === 0x1a) out.version = body.toString('utf8');
      else {
        // Summary { value (1) { tag (1), simple_value (2, float) } }
        expect(body[0]).toBe(0x0a);
        const [vlen, vat] = varintAt(body, 1);
        const v = body.subarray(vat, vat + vlen);
        expect(v[0]).toBe(0x0a);
        const [tlen, tat] = varintAt(v, 1);
        out.tag = v.subarray(tat, tat + tlen).toString('utf8');
        expect(v[tat + tlen]).toBe(0x15);
        out.value = v.readFloatLE(tat + tlen + 1);
      }
    } else throw new Error(`unexpected key ${key}`);
  }
  return out;
}

/** The events of an event file, the file-version event first. */
const readEvents = (file: string): Decoded[] => readTfRecords(readFileSync(file)).map(decodeEvent);

describe('CRC-32C and TFRecord framing', () => {
  it('gives the published CRC-32C check values and the masked form worked out by hand', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    // RFC 3720 (iSCSI), appendix B.4: 32 bytes of zeros, of ones, and 0x00..0x1f.
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
    // ((0xe3069283 >>> 15) | (0xe3069283 << 17)) = 0x0001c60d | 0x25060000 = 0x2507c60d; + 0xa282ead8 = 0xc78ab0e5.
    expect(maskedCrc32c(Buffer.from('123456789'))).toBe(0xc78ab0e5);
  });

  it('frames a record as length, masked CRC of the length, data, masked CRC of the data; a damaged byte is named', () => {
    const data = Buffer.from('123456789');
    const rec = tfRecord(data);
    expect(rec.length).toBe(8 + 4 + 9 + 4);
    expect(hex(rec.subarray(0, 8))).toBe('0900000000000000');
    expect(rec.readUInt32LE(8)).toBe(maskedCrc32c(rec.subarray(0, 8)));
    expect(rec.subarray(12, 21).toString()).toBe('123456789');
    expect(rec.readUInt32LE(21)).toBe(0xc78ab0e5);
    expect(readTfRecords(Buffer.concat([rec, rec])).map((r) => Buffer.from(r).toString())).toEqual(['123456789', '123456789']);
    const bad = Buffer.concat([rec, rec]);
    bad[rec.length + 14] ^= 1;
    expect(() => readTfRecords(bad)).toThrow(`record 1 at byte ${rec.length}: data CRC does not match`);
    expect(() => readTfRecords(rec.subarray(0, 20))).toThrow('record 0 at byte 0: cut off (9 bytes of data announced)');
  });
});

describe('Event messages', () => {
  it('writes a scalar as Event { wall_time, step, summary { value { tag, simple_value } } }, byte for byte', () => {
    // 09 + 8-byte double 0; 10 03 (step 3); 2a 0c (summary, 12 bytes): 0a 0a (value, 10 bytes):
    // 0a 03 "a/b", 15 + float32 1.5 little-endian (0x3fc00000).
    expect(hex(scalarEvent({ tag: 'a/b', step: 3, value: 1.5, wallTime: 0 }))).toBe('09' + '00'.repeat(8) + '1003' + '2a0c' + '0a0a' + '0a03612f62' + '150000c03f');
    // Step 300 as a varint: 300 = 0b10_0101100 -> ac 02; wall time 1.0 = 0x3ff0000000000000.
    expect(hex(scalarEvent({ tag: 'x', step: 300, value: -2, wallTime: 1 }))).toBe('09000000000000f03f' + '10ac02' + '2a0a' + '0a08' + '0a0178' + '15000000c0');
    // A step past 2^32 stays exact: 2^35 + 1 = varint 81 80 80 80 80 01.
    expect(hex(scalarEvent({ tag: 'x', step: 2 ** 35 + 1, value: 0, wallTime: 0 })).slice(18, 32)).toBe('10818080808001');
  });

  it('starts a file with file_version "brain.Event:2"', () => {
    expect(hex(fileVersionEvent(0))).toBe('09' + '00'.repeat(8) + '1a0d' + Buffer.from('brain.Event:2').toString('hex'));
    const events = readTfRecords(eventFile([{ tag: 't/a', step: 5, value: 0.25, wallTime: 7 }], 7)).map(decodeEvent);
    expect(events).toEqual([
      { wall: 7, step: 0, version: 'brain.Event:2' },
      { wall: 7, step: 5, tag: 't/a', value: 0.25 },
    ]);
  });
});

/** A run folder with these metrics.jsonl lines (as written) and a summary.json unless `finished` is false. */
function runFolder(name: string, lines: string[], finished = true, parent = root): string {
  const dir = join(parent, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), '{"command":"train","seed":0}');
  writeFileSync(join(dir, 'metrics.jsonl'), lines.join('\n'));
  if (finished) writeFileSync(join(dir, 'summary.json'), '{}');
  return dir;
}

async function tb(args: string[]): Promise<{ code: number; out: string; err: string; json?: Record<string, unknown> }> {
  const c = captureCli();
  const code = await main(['tensorboard', ...args], c.ctx);
  const out = c.out.join('');
  return { code, out, err: c.err.join(''), ...(args.includes('--json') && code === 0 ? { json: lastJson(c.out) } : {}) };
}

describe('prefrl tensorboard', () => {
  it("writes every numeric point by step into <run>/tensorboard/, the run's start as wall time; says what it left out; a second call replaces the file", async () => {
    const run = runFolder('20261207-120000-train-reacher-oracle-s0', [
      '{"step":2048,"losses/value_loss":0.5,"teacher/query_method":"uniform","reward/val_accuracy":null}',
      '{"step":0,"eval/true_return":-40}',
      '{"step":2048,"eval/true_return":-30.5,"charts/sps":1000}',
      '{"step":2.5,"eval/true_return":1}',
      '{"step":4096,"eval/true_retu', // cut off by a kill
    ]);
    const r = await tb([run, '--json']);
    expect(r.code, r.err).toBe(0);
    const start = new Date(2026, 11, 7, 12, 0, 0).getTime() / 1000;
    expect(runStartSeconds(run)).toBe(start);
    const file = join(run, 'tensorboard', eventFileName(start));
    expect(r.json).toEqual({ logdir: root, runs: [{ run, file, metrics: 3, points: 4, lastStep: 2048, finished: true }] });
    expect(r.err).toContain('(line 5): cut off (the run was stopped while writing it?); left out');
    expect(r.err).toContain('1 value at a step that is not a whole number >= 0 left out');
    // By step; within a step, in the order metrics.jsonl gives the metrics (plot's reading of it).
    expect(readEvents(file)).toEqual([
      { wall: start, step: 0, version: 'brain.Event:2' },
      { wall: start, step: 0, tag: 'eval/true_return', value: -40 },
      { wall: start, step: 2048, tag: 'losses/value_loss', value: 0.5 },
      { wall: start, step: 2048, tag: 'eval/true_return', value: -30.5 },
      { wall: start, step: 2048, tag: 'charts/sps', value: 1000 },
    ]);
    // The run resumed (its cut-off row dropped) and logged more; again: one file, holding them (not the old points twice).
    const kept = readFileSync(join(run, 'metrics.jsonl'), 'utf8').split('\n').slice(0, 4).join('\n');
    writeFileSync(join(run, 'metrics.jsonl'), `${kept}\n{"step":6144,"eval/true_return":-20}\n`);
    const again = await tb([run]);
    expect(again.code, again.err).toBe(0);
    expect(again.out).toMatch(/20261207-120000-train-reacher-oracle-s0\s+3\s+5\s+6144\s/);
    expect(again.out).toContain(`view them: tensorboard --logdir ${root}`);
    expect(readdirSync(join(run, 'tensorboard'))).toEqual([eventFileName(start)]);
    expect(readEvents(file).map((e) => [e.step, e.tag ?? e.version])).toEqual([
      [0, 'brain.Event:2'],
      [0, 'eval/true_return'],
      [2048, 'losses/value_loss'],
      [2048, 'eval/true_return'],
      [2048, 'charts/sps'],
      [6144, 'eval/true_return'],
    ]);
  });

  it('--out gives each run a folder of its name; two runs of one name take their paths; --every without --follow is said to be ignored', async () => {
    const a = runFolder('x', ['{"step":1,"eval/true_return":1}'], true, join(root, 'pa'));
    const b = runFolder('x', ['{"step":1,"eval/true_return":2}'], true, join(root, 'pb'));
    const out = join(root, 'tb-out');
    const r = await tb([a, b, '--out', out, '--every', '3', '--json']);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain('ignored --every: it sets the seconds between --follow passes');
    const folders = readdirSync(out).sort();
    expect(folders).toHaveLength(2);
    expect(folders.every((f) => /p[ab]_x$/.test(f))).toBe(true);
    const values = folders.map((f) => readEvents(join(out, f, readdirSync(join(out, f))[0]))[1].value);
    expect(values.sort()).toEqual([1, 2]);
    expect((r.json as { logdir: string }).logdir).toBe(out);
    // The run folders themselves are left as they were.
    expect(existsSync(join(a, 'tensorboard'))).toBe(false);
  });

  it('--follow writes again until every run has its summary.json, and then ends with the rows logged meanwhile', async () => {
    const run = runFolder('20261207-130000-train-reacher-oracle-s1', ['{"step":0,"eval/true_return":-50}', ''], false);
    // The run is going on: this process holds its lock, as a train run does.
    const unlock = lockRunDir(run, captureCli().ctx, '--resume', 'train');
    const c = captureCli();
    const going = main(['tensorboard', run, '--follow', '--every', '0.05', '--json'], c.ctx);
    const file = join(run, 'tensorboard', eventFileName(runStartSeconds(run)));
    // The first pass has written the file; the run logs on, then finishes.
    for (let i = 0; i < 400 && !existsSync(file); i++) await new Promise((r) => setTimeout(r, 25));
    expect(readEvents(file)).toHaveLength(2);
    appendFileSync(join(run, 'metrics.jsonl'), '{"step":2048,"eval/true_return":-10}\n');
    writeFileSync(join(run, 'summary.json'), '{}');
    unlock();
    expect(await going, c.err.join('')).toBe(0);
    expect(c.err.join('')).toContain('following 1 run: writing the event files every 0.05 s until it has finished (Ctrl-C stops)');
    expect(readEvents(file).map((e) => [e.step, e.value ?? null])).toEqual([
      [0, null],
      [0, -50],
      [2048, -10],
    ]);
    expect(lastJson<{ runs: { finished: boolean; points: number }[] }>(c.out).runs).toEqual([expect.objectContaining({ finished: true, points: 2 })]);
  });

  it('--follow stops following a train run that stopped unfinished (no summary.json, no process holds it), saying so', async () => {
    const run = runFolder('20261207-133000-train-reacher-oracle-s2', ['{"step":0,"eval/true_return":-50}', '{"step":1024,"eval/true_return":-45}', ''], false);
    const r = await tb([run, '--follow', '--every', '0.05']);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain(`${run}: stopped unfinished (no summary.json, and no process holds it); its event file holds what it logged, up to step 1024`);
    expect(readEvents(join(run, 'tensorboard', eventFileName(runStartSeconds(run))))).toHaveLength(3);
  });

  it('a folder of runs stands for the run folders in it, three levels down (a benchmark suite\'s too), each once', async () => {
    const top = join(root, 'runs-folder');
    const r1 = runFolder('20261207-150000-train-a-s0', ['{"step":0,"eval/true_return":1}'], true, top);
    const r2 = runFolder('20261207-150100-iql-a-s0', ['{"step":0,"eval/true_return":2}'], true, top);
    const cell = runFolder('20261207-150200-train-b-s1', ['{"step":0,"eval/true_return":3}'], true, join(top, 'bench-oracle', 'smoke'));
    mkdirSync(join(top, 'bench-oracle', 'smoke', 'cells'));
    // Four levels down: not searched. Inside a run folder: not searched.
    runFolder('deep', ['{"step":0,"eval/true_return":4}'], true, join(top, 'a', 'b', 'c'));
    runFolder('inner', ['{"step":0,"eval/true_return":5}'], true, join(r1, 'artifacts'));
    const r = await tb([top, r2, '--json']);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain(`${top}: not a run folder; the 3 run folders in it`);
    expect((r.json as { runs: { run: string }[] }).runs.map((x) => x.run)).toEqual([r1, r2, cell]);
    expect(existsSync(join(cell, 'tensorboard'))).toBe(true);
    expect((r.json as { logdir: string }).logdir).toBe(top);
    // A folder with no run folder in it (three levels down) is refused.
    const empty = join(root, 'no-runs', 'x');
    mkdirSync(empty, { recursive: true });
    const e = await tb([join(root, 'no-runs')]);
    expect(e.code).toBe(2);
    expect(e.err).toMatch(/no-runs: not a run folder \(no metrics\.jsonl\), and no run folder is in it/);
  });

  it('refuses what is not a run folder, naming it, and writes nothing', async () => {
    const holder = join(root, 'holder');
    runFolder('20261207-140000-train-a-s0', ['{"step":0,"eval/true_return":1}'], true, holder);
    const cases: [string[], RegExp][] = [
      [[], /missing argument <run>/],
      [[join(root, 'nope')], /nope: not found/],
      [[join(holder, '20261207-140000-train-a-s0', 'metrics.jsonl')], /metrics\.jsonl: a file, not a run folder; give its run folder: .*20261207-140000-train-a-s0/],
      [[join(holder, '20261207-140000-train-a-s0'), '--out', join(holder, '20261207-140000-train-a-s0', 'config.json')], /--out .*config\.json: is a file, not a folder/],
      [[join(holder, '20261207-140000-train-a-s0'), '--follow', '--every', '0'], /--every: must be >= 0\.05, got 0/],
    ];
    for (const [args, message] of cases) {
      const r = await tb(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toMatch(message);
    }
    expect(existsSync(join(holder, '20261207-140000-train-a-s0', 'tensorboard'))).toBe(false);
    // A damaged line before the last is an input error naming the file and line (exit 1), as for plot.
    const damaged = runFolder('damaged', ['{"step":0,"eval/true_return":1}', '{oops', '{"step":1,"eval/true_return":2}']);
    const r = await tb([damaged]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/damaged\/metrics\.jsonl \(line 2\): invalid JSON/);
    expect(existsSync(join(damaged, 'tensorboard'))).toBe(false);
  });
});
