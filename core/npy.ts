/**
 * NumPy .npy files (format versions 1.0, 2.0 and 3.0), the format RL datasets and preference
 * statistics are shipped in. Little-endian numeric dtypes, C order. Anything else is rejected
 * with an InputError naming the file and what was wrong.
 */
import { readFileSync } from 'node:fs';
import { InputError } from './errors.js';
import { writeFileAtomic } from './run.js';

export type NpyData = Float32Array | Float64Array | Int8Array | Int16Array | Int32Array | Uint8Array | Uint16Array | Uint32Array;

export interface NpyArray {
  /** The values in C (row-major) order. int64 is converted to Float64Array (exact up to 2^53). */
  readonly data: NpyData;
  readonly shape: readonly number[];
  /** The dtype string as stored in the file, e.g. "<f4". */
  readonly dtype: string;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

type Ctor = { new (buf: ArrayBuffer, offset: number, length: number): NpyData; BYTES_PER_ELEMENT: number };

const DTYPES: Record<string, Ctor> = {
  f4: Float32Array,
  f8: Float64Array,
  i1: Int8Array,
  i2: Int16Array,
  i4: Int32Array,
  u1: Uint8Array,
  u2: Uint16Array,
  u4: Uint32Array,
  b1: Uint8Array,
};

/** Parse the Python-literal header dict, e.g. {'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }. */
function parseHeader(text: string, file: string): { descr: string; fortran: boolean; shape: number[] } {
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text);
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(text);
  if (!descr || !fortran || !shape) {
    throw new InputError(file, `not a valid .npy header: ${JSON.stringify(text.trim().slice(0, 120))}`);
  }
  const dims = shape[1]
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => {
      const n = Number(s.replace(/L$/, ''));
      if (!Number.isInteger(n) || n < 0) throw new InputError(file, `bad shape entry ${JSON.stringify(s)} in .npy header`);
      return n;
    });
  return { descr: descr[1], fortran: fortran[1] === 'True', shape: dims };
}

/** Parse .npy bytes; `file` is used in error messages. */
export function parseNpy(bytes: Uint8Array, file: string): NpyArray {
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC[i]) throw new InputError(file, 'not a NumPy .npy file (missing \\x93NUMPY magic)');
  }
  const major = bytes[6];
  if (major !== 1 && major !== 2 && major !== 3) throw new InputError(file, `unsupported .npy format version ${major}.${bytes[7]}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const headerStart = major === 1 ? 10 : 12;
  if (headerStart + headerLen > bytes.length) throw new InputError(file, 'truncated .npy header');
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, headerStart + headerLen));
  const { descr, fortran, shape } = parseHeader(header, file);
  if (fortran) throw new InputError(file, 'Fortran-order arrays are not supported; save with C order (np.ascontiguousarray)');
  const m = /^([<>|=])([fiub])(\d+)$/.exec(descr);
  if (!m) throw new InputError(file, `unsupported dtype ${JSON.stringify(descr)} (numeric little-endian dtypes only)`);
  const [, order, kind, size] = m;
  if (order === '>' && size !== '1') throw new InputError(file, `big-endian dtype ${descr} is not supported; convert with arr.astype('<${kind}${size}')`);
  const count = shape.reduce((a, b) => a * b, 1);
  const dataStart = headerStart + headerLen;
  const key = `${kind}${size}`;
  const nbytes = Number(size) * count;
  if (dataStart + nbytes > bytes.length) {
    throw new InputError(file, `truncated data: shape (${shape.join(', ')}) of ${descr} needs ${nbytes} bytes, file has ${bytes.length - dataStart}`);
  }
  // Copy into a fresh buffer: aligned and owned (Buffer.slice would share Node's pool memory).
  const raw = new Uint8Array(nbytes);
  raw.set(bytes.subarray(dataStart, dataStart + nbytes));
  if (key === 'i8' || key === 'u8') {
    const dv = new DataView(raw.buffer);
    const out = new Float64Array(count);
    for (let i = 0; i < count; i++) out[i] = Number(key === 'i8' ? dv.getBigInt64(i * 8, true) : dv.getBigUint64(i * 8, true));
    return { data: out, shape, dtype: descr };
  }
  const ctor = DTYPES[key];
  if (!ctor) throw new InputError(file, `unsupported dtype ${JSON.stringify(descr)}`);
  return { data: new ctor(raw.buffer, 0, count), shape, dtype: descr };
}

export function readNpy(file: string): NpyArray {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new InputError(file, `cannot read file: ${(e as Error).message}`);
  }
  return parseNpy(bytes, file);
}

function descrOf(data: NpyData): string {
  if (data instanceof Float32Array) return '<f4';
  if (data instanceof Float64Array) return '<f8';
  if (data instanceof Int8Array) return '|i1';
  if (data instanceof Int16Array) return '<i2';
  if (data instanceof Int32Array) return '<i4';
  if (data instanceof Uint8Array) return '|u1';
  if (data instanceof Uint16Array) return '<u2';
  return '<u4';
}

/** Serialise to .npy version 1.0 bytes. */
export function encodeNpy(data: NpyData, shape: readonly number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new Error(`encodeNpy: shape (${shape.join(', ')}) holds ${count} values, data has ${data.length}`);
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descrOf(data)}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}

/** Write an .npy file, whole or not at all (core/run's writeFileAtomic). */
export function writeNpy(file: string, data: NpyData, shape: readonly number[]): void {
  writeFileAtomic(file, encodeNpy(data, shape));
}
