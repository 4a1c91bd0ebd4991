import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../core/errors.js';
import { encodeNpy, parseNpy, readNpy, writeNpy } from '../../core/npy.js';

/** Build .npy v1.0 bytes by hand from a header text and raw data. */
function handMade(header: string, data: Uint8Array): Uint8Array {
  const pad = 64 - ((10 + header.length + 1) % 64);
  const h = `${header}${' '.repeat(pad % 64)}\n`;
  const out = new Uint8Array(10 + h.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  out[8] = h.length & 0xff;
  out[9] = h.length >> 8;
  for (let i = 0; i < h.length; i++) out[10 + i] = h.charCodeAt(i);
  out.set(data, 10 + h.length);
  return out;
}

describe('npy', () => {
  it('reads a hand-made float64 (2, 3) array in C order', () => {
    const vals = Float64Array.from([1, 2, 3, 4, 5, 6.5]);
    const bytes = handMade("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", new Uint8Array(vals.buffer));
    const a = parseNpy(bytes, 'x.npy');
    expect(a.shape).toEqual([2, 3]);
    expect(Array.from(a.data)).toEqual([1, 2, 3, 4, 5, 6.5]);
    expect(a.data).toBeInstanceOf(Float64Array);
  });

  it('round-trips every supported dtype through a file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'npy-'));
    for (const data of [Float32Array.from([1.5, -2]), Int32Array.from([7, -8, 9]), Uint8Array.from([0, 255])]) {
      const f = join(dir, `${data.constructor.name}.npy`);
      writeNpy(f, data, [data.length]);
      const back = readNpy(f);
      expect(back.data.constructor).toBe(data.constructor);
      expect(Array.from(back.data)).toEqual(Array.from(data));
      expect(back.shape).toEqual([data.length]);
    }
    // the header is padded so data starts at a multiple of 64 bytes
    expect((encodeNpy(Float32Array.from([1]), [1]).length - 4) % 64).toBe(0);
  });

  it('converts int64 to float64', () => {
    const v = new BigInt64Array([3n, -4n]);
    const a = parseNpy(handMade("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", new Uint8Array(v.buffer)), 'i.npy');
    expect(Array.from(a.data)).toEqual([3, -4]);
  });

  it('rejects bad files with a message naming the file and the problem', () => {
    const msg = (bytes: Uint8Array) => {
      try {
        parseNpy(bytes, 'bad.npy');
      } catch (e) {
        expect(e).toBeInstanceOf(InputError);
        return (e as Error).message;
      }
      throw new Error('expected an error');
    };
    expect(msg(new TextEncoder().encode('hello world, not numpy'))).toMatch(/^bad\.npy: not a NumPy \.npy file/);
    expect(msg(handMade("{'descr': '>f8', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(8)))).toMatch(/big-endian dtype >f8/);
    expect(msg(handMade("{'descr': '<f8', 'fortran_order': True, 'shape': (1,), }", new Uint8Array(8)))).toMatch(/Fortran-order/);
    expect(msg(handMade("{'descr': '<U3', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(12)))).toMatch(/unsupported dtype "<U3"/);
    expect(msg(handMade("{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }", new Uint8Array(8)))).toMatch(/truncated data: shape \(4\) of <f8 needs 32 bytes, file has 8/);
    const dir = mkdtempSync(join(tmpdir(), 'npy-'));
    writeFileSync(join(dir, 'empty.npy'), '');
    expect(() => readNpy(join(dir, 'missing.npy'))).toThrow(/missing\.npy: cannot read file/);
  });
});
