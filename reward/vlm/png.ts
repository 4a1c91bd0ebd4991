/**
 * Just enough PNG (RFC 2083 / W3C PNG 2nd ed.) to tile rendered frames into one image for a VLM:
 * decode 8-bit, non-interlaced greyscale / grey+alpha / RGB / RGBA images (what Chromium's
 * `canvas.toDataURL('image/png')` writes) and encode RGBA. zlib comes from node:zlib; no other
 * dependency.
 *
 * Pixels are row-major RGBA bytes: rgba[(y * width + x) * 4 + c], c = R, G, B, A.
 */
import { deflateSync, inflateSync } from 'node:zlib';
import { toRgba } from '../../core/pixels.js';

export interface RgbaImage {
  readonly width: number;
  readonly height: number;
  /** [height, width, 4] row-major, 8 bits per channel. */
  readonly rgba: Uint8Array;
}

const SIGNATURE = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** True when the bytes start with the 8-byte PNG signature. */
export function isPng(bytes: Uint8Array): boolean {
  if (bytes.length < SIGNATURE.length) return false;
  for (let i = 0; i < SIGNATURE.length; i++) if (bytes[i] !== SIGNATURE[i]) return false;
  return true;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (ISO 3309, as PNG chunks use it). */
function crc32(parts: readonly Uint8Array[]): number {
  let c = 0xffffffff;
  for (const p of parts) for (let i = 0; i < p.length; i++) c = CRC_TABLE[(c ^ p[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Channels per pixel of each supported colour type (8-bit depth only). */
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 4: 2, 6: 4 };

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Decode a PNG to RGBA. Throws on anything outside the supported subset or on a bad CRC. */
export function decodePng(bytes: Uint8Array): RgbaImage {
  if (!isPng(bytes)) throw new Error('decodePng: not a PNG (bad signature)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = SIGNATURE.length;
  let width = 0;
  let height = 0;
  let colorType = -1;
  const idat: Uint8Array[] = [];
  let ended = false;
  while (pos + 12 <= bytes.length) {
    const len = view.getUint32(pos);
    const type = String.fromCharCode(bytes[pos + 4], bytes[pos + 5], bytes[pos + 6], bytes[pos + 7]);
    if (pos + 12 + len > bytes.length) throw new Error(`decodePng: chunk ${type} runs past the end`);
    const typeBytes = bytes.subarray(pos + 4, pos + 8);
    const data = bytes.subarray(pos + 8, pos + 8 + len);
    if (crc32([typeBytes, data]) !== view.getUint32(pos + 8 + len)) throw new Error(`decodePng: bad CRC in chunk ${type}`);
    if (type === 'IHDR') {
      width = view.getUint32(pos + 8);
      height = view.getUint32(pos + 12);
      const depth = data[8];
      colorType = data[9];
      const interlace = data[12];
      if (depth !== 8 || !(colorType in CHANNELS) || interlace !== 0) {
        throw new Error(`decodePng: unsupported format (bit depth ${depth}, colour type ${colorType}, interlace ${interlace}); only 8-bit non-interlaced grey/RGB(A)`);
      }
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'IEND') {
      ended = true;
      break;
    }
    pos += 12 + len;
  }
  if (!ended || colorType < 0 || width === 0 || height === 0) throw new Error('decodePng: truncated image (no IHDR, IDAT or IEND)');
  const ch = CHANNELS[colorType];
  const stride = width * ch;
  const raw = inflateSync(Buffer.concat(idat));
  if (raw.length < height * (stride + 1)) throw new Error('decodePng: image data shorter than its header says');
  // Undo the per-row filters in place (bpp = ch bytes for 8-bit images).
  const px = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const src = y * (stride + 1) + 1;
    const row = y * stride;
    const prev = row - stride;
    for (let i = 0; i < stride; i++) {
      const x = raw[src + i];
      const a = i >= ch ? px[row + i - ch] : 0;
      const b = y > 0 ? px[prev + i] : 0;
      const c = y > 0 && i >= ch ? px[prev + i - ch] : 0;
      let v: number;
      switch (filter) {
        case 0:
          v = x;
          break;
        case 1:
          v = x + a;
          break;
        case 2:
          v = x + b;
          break;
        case 3:
          v = x + ((a + b) >> 1);
          break;
        case 4:
          v = x + paeth(a, b, c);
          break;
        default:
          throw new Error(`decodePng: unknown filter ${filter} in row ${y}`);
      }
      px[row + i] = v & 0xff;
    }
  }
  const rgba = toRgba(px, 0, width * height, ch);
  return { width, height, rgba };
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  const typeBytes = new TextEncoder().encode(type);
  out.set(typeBytes, 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32([typeBytes, data]));
  return out;
}

/**
 * Encode RGBA as an 8-bit RGBA PNG. Each row takes the filter (0-4) with the smallest sum of
 * absolute residuals (the usual heuristic of libpng), so all five filters occur in practice.
 */
export function encodePng(img: RgbaImage): Uint8Array {
  const { width, height, rgba } = img;
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) throw new RangeError(`encodePng: bad size ${width}x${height}`);
  if (rgba.length !== width * height * 4) throw new RangeError(`encodePng: ${rgba.length} bytes for ${width}x${height} RGBA`);
  const stride = width * 4;
  const raw = new Uint8Array(height * (stride + 1));
  const cand = Array.from({ length: 5 }, () => new Uint8Array(stride));
  for (let y = 0; y < height; y++) {
    const row = y * stride;
    let best = 0;
    let bestCost = Infinity;
    for (let f = 0; f < 5; f++) {
      const out = cand[f];
      let cost = 0;
      for (let i = 0; i < stride; i++) {
        const x = rgba[row + i];
        const a = i >= 4 ? rgba[row + i - 4] : 0;
        const b = y > 0 ? rgba[row - stride + i] : 0;
        const c = y > 0 && i >= 4 ? rgba[row - stride + i - 4] : 0;
        const pred = f === 0 ? 0 : f === 1 ? a : f === 2 ? b : f === 3 ? (a + b) >> 1 : paeth(a, b, c);
        const v = (x - pred) & 0xff;
        out[i] = v;
        cost += v < 128 ? v : 256 - v;
      }
      if (cost < bestCost) {
        bestCost = cost;
        best = f;
      }
    }
    raw[y * (stride + 1)] = best;
    raw.set(cand[best], y * (stride + 1) + 1);
  }
  const ihdr = new Uint8Array(13);
  const hv = new DataView(ihdr.buffer);
  hv.setUint32(0, width);
  hv.setUint32(4, height);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  const parts = [SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', new Uint8Array(deflateSync(raw))), chunk('IEND', new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export interface TileOptions {
  /** Images per row (default: all in one row). */
  readonly columns?: number;
  /** Pixels between tiles (default 4). */
  readonly gap?: number;
  /** Background [R, G, B] of the gaps and of unused cells (default the viewer's dark grey). */
  readonly background?: readonly [number, number, number];
}

/**
 * Tile PNG images left to right, top to bottom (the first image top left) into one PNG.
 * Cells are as large as the largest image; smaller images sit in their cell's top-left corner.
 */
export function tilePngs(images: readonly Uint8Array[], opts: TileOptions = {}): Uint8Array {
  if (images.length === 0) throw new RangeError('tilePngs: no images');
  const tiles = images.map(decodePng);
  const cols = Math.max(1, Math.min(opts.columns ?? tiles.length, tiles.length));
  const rows = Math.ceil(tiles.length / cols);
  const gap = opts.gap ?? 4;
  const [br, bg, bb] = opts.background ?? [0x14, 0x18, 0x1e];
  const cw = Math.max(...tiles.map((t) => t.width));
  const chh = Math.max(...tiles.map((t) => t.height));
  const width = cols * cw + (cols - 1) * gap;
  const height = rows * chh + (rows - 1) * gap;
  const rgba = new Uint8Array(width * height * 4);
  for (let p = 0; p < width * height; p++) {
    rgba[p * 4] = br;
    rgba[p * 4 + 1] = bg;
    rgba[p * 4 + 2] = bb;
    rgba[p * 4 + 3] = 255;
  }
  tiles.forEach((t, k) => {
    const x0 = (k % cols) * (cw + gap);
    const y0 = Math.floor(k / cols) * (chh + gap);
    for (let y = 0; y < t.height; y++) {
      rgba.set(t.rgba.subarray(y * t.width * 4, (y + 1) * t.width * 4), ((y0 + y) * width + x0) * 4);
    }
  });
  return encodePng({ width, height, rgba });
}

/** `data:image/png;base64,...` URL of PNG bytes (what chat-completions `image_url` parts take). */
export function pngDataUrl(png: Uint8Array): string {
  return `data:image/png;base64,${Buffer.from(png.buffer, png.byteOffset, png.byteLength).toString('base64')}`;
}
