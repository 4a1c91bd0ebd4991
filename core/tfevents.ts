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

/** A protocol-buffer varint of a non-negative safe integer. */
function varint(n: number): number[] {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`varint: ${n} is not a non-negative safe integer`);
  const out: number[] = [];
  // Seven bits at a time, low first; division keeps numbers above 2^31 exact.
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return out;
}

/** Field `field` of wire type 2 (length-delimited) holding `body`. */
function lengthDelimited(field: number, body: Uint8Array | number[]): number[] {
  return [(field << 3) | 2, ...varint(body.length), ...body];
}

function float64(v: number): number[] {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(v);
  return [...b];
}

function float32(v: number): number[] {
  const b = Buffer.alloc(4);
  b.writeFloatLE(v);
  return [...b];
}

/** One scalar point: a metric's value at a step. */
export interface ScalarPoint {
  readonly tag: string;
  readonly step: number;
  readonly value: number;
  /** Seconds since the epoch. */
  readonly wallTime: number;
}

/** An Event message holding file_version "brain.Event:2" (each event file's first record). */
export function fileVersionEvent(wallTime: number): Uint8Array {
  return Uint8Array.from([0x09, ...float64(wallTime), ...lengthDelimited(3, Buffer.from('brain.Event:2', 'utf8'))]);
}

/** An Event message holding one scalar (Summary.Value with simple_value, a float32). */
export function scalarEvent(p: ScalarPoint): Uint8Array {
  const value = [...lengthDelimited(1, Buffer.from(p.tag, 'utf8')), 0x15, ...float32(p.value)];
  const summary = lengthDelimited(1, value);
  return Uint8Array.from([0x09, ...float64(p.wallTime), 0x10, ...varint(p.step), ...lengthDelimited(5, summary)]);
}

/** `data` framed as one TFRecord (length, masked CRC of the length, data, masked CRC of the data). */
export function tfRecord(data: Uint8Array): Buffer {
  const out = Buffer.alloc(8 + 4 + data.length + 4);
  out.writeBigUInt64LE(BigInt(data.length), 0);
  out.writeUInt32LE(maskedCrc32c(out.subarray(0, 8)), 8);
  out.set(data, 12);
  out.writeUInt32LE(maskedCrc32c(data), 12 + data.length);
  return out;
}

/** A whole event file: the file-version event, then one event per point, in the order given. */
export function eventFile(points: readonly ScalarPoint[], wallTime: number): Buffer {
  return Buffer.concat([tfRecord(fileVersionEvent(wallTime)), ...points.map((p) => tfRecord(scalarEvent(p)))]);
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
