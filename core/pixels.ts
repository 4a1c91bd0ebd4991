/**
 * 8-bit images of 1 to 4 channels (grey, grey + alpha, RGB, RGBA) as RGBA, for PNG decoding
 * (reward/vlm/png.ts) and MuJoCo textures (viewer/textures.ts). Pure; no dependencies.
 */

/**
 * `pixels` pixels of `channels` bytes each (1 grey, 2 grey + alpha, 3 RGB, 4 RGBA) from
 * src[offset..], as RGBA bytes (opaque where the source has no alpha).
 */
export function toRgba(src: ArrayLike<number>, offset: number, pixels: number, channels: number): Uint8Array {
  if (!(Number.isInteger(channels) && channels >= 1 && channels <= 4)) throw new RangeError(`toRgba: ${channels} channels (1 to 4)`);
  const rgba = new Uint8Array(4 * pixels);
  for (let p = 0; p < pixels; p++) {
    const s = offset + p * channels;
    const d = 4 * p;
    if (channels <= 2) {
      rgba[d] = rgba[d + 1] = rgba[d + 2] = src[s];
      rgba[d + 3] = channels === 2 ? src[s + 1] : 255;
    } else {
      rgba[d] = src[s];
      rgba[d + 1] = src[s + 1];
      rgba[d + 2] = src[s + 2];
      rgba[d + 3] = channels === 4 ? src[s + 3] : 255;
    }
  }
  return rgba;
}
