/**
 * TensorBoard event files, written without TensorFlow: the scalars of a run as `Event` protocol
 * buffers in TFRecord framing, which `tensorboard --logdir` reads.
 *
 * TFRecord framing, per record: the data's length (uint64, little-endian), the masked CRC-32C of
 * those 8 bytes (uint32 LE), the data, the masked CRC-32C of the data (uint32 LE). The mask is
 * ((crc >>> 15) | (crc << 17)) + 0xa282ead8, modulo 2^32.
 *
 * The messages (field number, wire type), from tensorflow/core/util/event.proto and summary.proto:
 *   Event         { wall_time = 1 (double), step = 2 (int64 varint), file_version = 3 (string), summary = 5 (message) }
 *   Summary       { value = 1 (repeated message) }
 *   Summary.Value { tag = 1 (string), simple_value = 2 (float) }
 * A file starts with an Event holding file_version "brain.Event:2".
 */

/** The CRC-32C (Castagnoli) table, reflected polynomial 0x82f63b78. */
const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32C of `bytes` (as iSCSI and TFRecord use it): "123456789" gives 0xe3069283. */
export function crc32c(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC32C_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC-32C of `bytes`. */
export function maskedCrc32c(bytes: Uint8Array): number {
  const c = crc32c(bytes);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** The bytes a protocol-buffer varint of `n` takes (n a non-negative safe integer). */
function varintSize(n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`varint: ${n} is not a non-negative safe integer`);
  let size = 1;
  // Division, not shifts: steps above 2^31 stay exact.
  for (; n >= 0x80; size++) n = Math.floor(n / 0x80);
  return size;
}

/** Write the varint of `n` (checked by varintSize first) at `at`; returns the offset after it. */
function writeVarint(out: Buffer, at: number, n: number): number {
  // Seven bits at a time, low first.
  while (n >= 0x80) {
    out[at++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  out[at++] = n;
  return at;
}

/** One scalar point: a metric's value at a step. */
export interface ScalarPoint {
  readonly tag: string;
  readonly step: number;
  readonly value: number;
  /** Seconds since the epoch. */
  readonly wallTime: number;
}

const FILE_VERSION = Buffer.from('brain.Event:2', 'utf8');

/** An Event message holding file_version "brain.Event:2" (each event file's first record). */
export function fileVersionEvent(wallTime: number): Uint8Array {
  const out = Buffer.alloc(1 + 8 + 1 + varintSize(FILE_VERSION.length) + FILE_VERSION.length);
  out[0] = 0x09;
  out.writeDoubleLE(wallTime, 1);
  out[9] = (3 << 3) | 2;
  FILE_VERSION.copy(out, writeVarint(out, 10, FILE_VERSION.length));
  return out;
}

/**
 * The sizes of a scalar's Event message and of the messages inside it: Summary.Value (tag, then
 * simple_value), the Summary holding it, the Event (wall_time, step, summary). Throws a RangeError
 * for a step that is not a whole number >= 0.
 */
function scalarSizes(tagBytes: number, step: number): { value: number; summary: number; event: number } {
  const value = 1 + varintSize(tagBytes) + tagBytes + 1 + 4;
  const summary = 1 + varintSize(value) + value;
  const event = 1 + 8 + 1 + varintSize(step) + 1 + varintSize(summary) + summary;
  return { value, summary, event };
}

/** Write a scalar's Event message (sized by scalarSizes) at `at`; returns the offset after it. */
function writeScalarEvent(out: Buffer, at: number, p: ScalarPoint, tag: Buffer, sizes: { value: number; summary: number }): number {
  out[at++] = 0x09; // wall_time, double
  at = out.writeDoubleLE(p.wallTime, at);
  out[at++] = 0x10; // step, varint
  at = writeVarint(out, at, p.step);
  out[at++] = (5 << 3) | 2; // summary
  at = writeVarint(out, at, sizes.summary);
  out[at++] = (1 << 3) | 2; // Summary.value
  at = writeVarint(out, at, sizes.value);
  out[at++] = (1 << 3) | 2; // Value.tag
  at = writeVarint(out, at, tag.length);
  at += tag.copy(out, at);
  out[at++] = 0x15; // simple_value, float
  return out.writeFloatLE(p.value, at);
}

/** An Event message holding one scalar (Summary.Value with simple_value, a float32). */
export function scalarEvent(p: ScalarPoint): Uint8Array {
  const tag = Buffer.from(p.tag, 'utf8');
  const sizes = scalarSizes(tag.length, p.step);
  const out = Buffer.alloc(sizes.event);
  writeScalarEvent(out, 0, p, tag, sizes);
  return out;
}

/** Frame the `n` bytes of data already at `at + 12` as one TFRecord; returns the offset after it. */
function frameRecord(out: Buffer, at: number, n: number): number {
  out.writeBigUInt64LE(BigInt(n), at);
  out.writeUInt32LE(maskedCrc32c(out.subarray(at, at + 8)), at + 8);
  out.writeUInt32LE(maskedCrc32c(out.subarray(at + 12, at + 12 + n)), at + 12 + n);
  return at + 12 + n + 4;
}

/** `data` framed as one TFRecord (length, masked CRC of the length, data, masked CRC of the data). */
export function tfRecord(data: Uint8Array): Buffer {
  const out = Buffer.alloc(8 + 4 + data.length + 4);
  out.set(data, 12);
  frameRecord(out, 0, data.length);
  return out;
}

/**
 * A whole event file: the file-version event, then one event per point, in the order given.
 * Written straight into one buffer of the file's size: a run's 2,000,000 points (200,000 rows of
 * ten metrics) as a buffer, and arrays of bytes, each before the file is put together took over a
 * gigabyte.
 */
export function eventFile(points: readonly ScalarPoint[], wallTime: number): Buffer {
  return scalarRecords(points, tfRecord(fileVersionEvent(wallTime)));
}

/**
 * The records of `points` alone (no file-version event), in the order given: what an event file
 * of earlier points gets appended when more points come, so that it is byte for byte the event
 * file of all of them (`eventFile(a.concat(b), t)` is `eventFile(a, t)` then `eventRecords(b)`).
 */
export function eventRecords(points: readonly ScalarPoint[]): Buffer {
  return scalarRecords(points, Buffer.alloc(0));
}

/** `head`, then one framed scalar event per point, in one buffer. */
function scalarRecords(points: readonly ScalarPoint[], head: Buffer): Buffer {
  const tags = new Map<string, Buffer>();
  const tagOf = (t: string): Buffer => {
    let b = tags.get(t);
    if (b === undefined) tags.set(t, (b = Buffer.from(t, 'utf8')));
    return b;
  };
  let total = head.length;
  for (const p of points) total += 16 + scalarSizes(tagOf(p.tag).length, p.step).event;
  const out = Buffer.alloc(total);
  let at = head.copy(out, 0);
  for (const p of points) {
    const tag = tagOf(p.tag);
    const sizes = scalarSizes(tag.length, p.step);
    writeScalarEvent(out, at + 12, p, tag, sizes);
    at = frameRecord(out, at, sizes.event);
  }
  return out;
}

/**
 * The records of a TFRecord file, each checked against its two CRCs; an Error says which record
 * and byte offset is damaged (for tests and for checking a file written here).
 */
export function readTfRecords(file: Uint8Array): Uint8Array[] {
  const buf = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < buf.length) {
    if (at + 12 > buf.length) throw new Error(`record ${out.length} at byte ${at}: cut off in its header`);
    const len = buf.readBigUInt64LE(at);
    if (buf.readUInt32LE(at + 8) !== maskedCrc32c(buf.subarray(at, at + 8))) throw new Error(`record ${out.length} at byte ${at}: length CRC does not match`);
    const n = Number(len);
    if (at + 12 + n + 4 > buf.length) throw new Error(`record ${out.length} at byte ${at}: cut off (${n} bytes of data announced)`);
    const data = buf.subarray(at + 12, at + 12 + n);
    if (buf.readUInt32LE(at + 12 + n) !== maskedCrc32c(data)) throw new Error(`record ${out.length} at byte ${at}: data CRC does not match`);
    out.push(data);
    at += 12 + n + 4;
  }
  return out;
}
