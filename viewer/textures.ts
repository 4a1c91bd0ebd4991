/**
 * MJCF textures for the viewer: from a compiled model's texture and material arrays to what a
 * renderer draws, i.e. the RGBA pixels of each 2D texture and the texture coordinates of the
 * geoms whose material has one. Pure functions of plain arrays (Node tests and the page alike).
 *
 * MuJoCo conventions used here (mjModel docs, 3.9):
 *   tex_type        mjtTexture: 0 2d, 1 cube, 2 skybox. Only 2d textures are drawn; cube and
 *                   skybox textures are skipped (a geom whose material has one keeps its colour).
 *   tex_width, tex_height, tex_nchannel (1..4), tex_adr (byte offset into tex_data; a
 *                   BigInt64Array in the bindings): rows run top to bottom (row 0 is a PNG
 *                   file's top row), as OpenGL's first row, i.e. at v = 0.
 *   mat_texid       [nmat, mjNTEXROLE = 10]; role 1 (mjTEXROLE_RGB) is what `<material
 *                   texture="...">` sets and what MuJoCo's own renderer draws.
 *   mat_texrepeat   [nmat, 2];  mat_texuniform [nmat] (reading the whole array throws in the
 *                   3.9.0 bindings; `model.mat(i).texuniform` works).
 *   mesh_texcoordadr [nmesh] (-1: none), mesh_texcoord [ntexcoord, 2], mesh_facetexcoord
 *                   [nface, 3] (per face corner, relative to the mesh's texcoordadr).
 *
 * Texture coordinates of geoms without their own (every geom type but meshes with texcoords)
 * are MuJoCo's (render_gl3.c generates them from the geom frame's x and y, "texgen"):
 *   u = 0.5 k0 x - 0.5,   v = -0.5 k1 y - 0.5     (x, y in metres in the geom frame)
 *   k = texrepeat           with texuniform, or for a size of 0 (an infinite plane)
 *   k = texrepeat / s       otherwise, s = the geom's half size along x / y (plane, box,
 *                           ellipsoid, mesh) or its radius (sphere, capsule, cylinder).
 * So with texuniform one repeat of the texture spans 2 / texrepeat metres (the squares of a
 * builtin 2x2 checker are 1 / texrepeat m wide); without it the texture repeats texrepeat times
 * across the geom's width 2 s. Faces along z (a box's sides) get stretched stripes, as in MuJoCo.
 *
 * Colours: MuJoCo's renderer puts texture bytes on screen as they are (it multiplies them by the
 * geom's rgba), and the viewer treats rgba values as sRGB; texture bytes are sRGB here too,
 * whatever tex_colorspace says (MuJoCo marks a PNG without an sRGB chunk "linear").
 */
import { toRgba } from '../core/pixels.js';
import type { ModelArrays } from './geoms.js';

/** mjtTexture names by tex_type. */
export const TEXTURE_TYPES = ['2d', 'cube', 'skybox'] as const;
/** mjNTEXROLE: texture ids per material. */
export const TEXTURE_ROLES = 10;
/** mjTEXROLE_RGB: the role MuJoCo's renderer draws. */
export const ROLE_RGB = 1;

/** The model arrays the texture mapping reads (typed arrays straight from the bindings work). */
export interface TextureArrays extends Pick<ModelArrays, 'geom_type' | 'geom_size' | 'geom_matid' | 'geom_dataid' | 'mesh_faceadr' | 'mesh_facenum'> {
  readonly ntex: number;
  readonly nmat: number;
  readonly tex_type: ArrayLike<number>;
  readonly tex_width: ArrayLike<number>;
  readonly tex_height: ArrayLike<number>;
  readonly tex_nchannel: ArrayLike<number>;
  readonly tex_adr: ArrayLike<number | bigint>;
  readonly mat_texid: ArrayLike<number>;
  readonly mat_texrepeat: ArrayLike<number>;
  /** Per material, 0/1 or false/true. */
  readonly mat_texuniform: ArrayLike<number | boolean>;
  readonly mesh_texcoordadr: ArrayLike<number>;
  readonly mesh_texcoord: ArrayLike<number>;
  readonly mesh_facetexcoord: ArrayLike<number>;
}

/** How a geom's texture is laid on it. */
export interface GeomTexture {
  /** Texture id (a 2D texture). */
  readonly tex: number;
  /** The mesh's own texture coordinates, or MuJoCo's generated ones with scale k = [k0, k1] (see above). */
  readonly mapping: { readonly kind: 'mesh' } | { readonly kind: 'texgen'; readonly scale: readonly [number, number] };
}

const SPHERE = 2;
const CAPSULE = 3;
const CYLINDER = 5;
const MESH = 7;

/** The 2D texture geom `g` shows and how (null: none, or its material's texture is a cube or skybox). */
export function geomTexture(m: TextureArrays, g: number): GeomTexture | null {
  const mat = m.geom_matid[g];
  if (mat < 0 || mat >= m.nmat) return null;
  const tex = m.mat_texid[TEXTURE_ROLES * mat + ROLE_RGB];
  if (tex < 0 || tex >= m.ntex || m.tex_type[tex] !== 0) return null;
  const type = m.geom_type[g];
  const mesh = m.geom_dataid[g];
  if (type === MESH && mesh >= 0 && m.mesh_texcoordadr[mesh] >= 0) return { tex, mapping: { kind: 'mesh' } };
  const s = [m.geom_size[3 * g], m.geom_size[3 * g + 1]];
  // Spheres, capsules and cylinders are drawn from radius-scaled unit shapes in x and y.
  if (type === SPHERE || type === CAPSULE || type === CYLINDER) s[1] = s[0];
  const uniform = Boolean(m.mat_texuniform[mat]);
  const scale = [0, 1].map((k) => {
    const rep = m.mat_texrepeat[2 * mat + k];
    return uniform || !(s[k] > 0) ? rep : rep / s[k];
  });
  return { tex, mapping: { kind: 'texgen', scale: [scale[0], scale[1]] } };
}

/** MuJoCo's generated texture coordinates of vertices `positions` ([n, 3], geom frame, metres): [n, 2]. */
export function texgenUV(positions: ArrayLike<number>, scale: readonly [number, number]): Float32Array {
  const n = Math.floor(positions.length / 3);
  const uv = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    uv[2 * i] = 0.5 * scale[0] * positions[3 * i] - 0.5;
    uv[2 * i + 1] = -0.5 * scale[1] * positions[3 * i + 1] - 0.5;
  }
  return uv;
}

/**
 * A mesh's own texture coordinates per face corner ([3 nface, 2], faces in order: the layout of
 * the mesh's triangles drawn without an index), or null when the mesh has none.
 */
export function meshUV(m: TextureArrays, mesh: number): Float32Array | null {
  const adr = m.mesh_texcoordadr[mesh];
  if (adr < 0) return null;
  const fa = m.mesh_faceadr[mesh];
  const fn = m.mesh_facenum[mesh];
  const ntc = Math.floor(m.mesh_texcoord.length / 2);
  const uv = new Float32Array(6 * fn);
  for (let c = 0; c < 3 * fn; c++) {
    const t = adr + m.mesh_facetexcoord[3 * fa + c];
    if (t < 0 || t >= ntc) throw new RangeError(`meshUV: mesh ${mesh} texcoord ${t} outside 0..${ntc - 1}`);
    uv[2 * c] = m.mesh_texcoord[2 * t];
    uv[2 * c + 1] = m.mesh_texcoord[2 * t + 1];
  }
  return uv;
}

/** Largest texture the viewer uploads: per side (a common GPU limit) and in texels (64 MiB as RGBA). */
export const TEXTURE_LIMITS = { maxSide: 8192, maxTexels: 4096 * 4096 } as const;

/** Why texture `tex` is not drawn (null: it is): not 2D, or over the size limits. */
export function textureSkipReason(m: Pick<TextureArrays, 'tex_type' | 'tex_width' | 'tex_height'>, tex: number, limits: { readonly maxSide: number; readonly maxTexels: number } = TEXTURE_LIMITS): string | null {
  const type = TEXTURE_TYPES[m.tex_type[tex]] ?? `type ${m.tex_type[tex]}`;
  if (type !== '2d') return `a ${type} texture (the viewer draws 2D textures only)`;
  const w = m.tex_width[tex];
  const h = m.tex_height[tex];
  if (w > limits.maxSide || h > limits.maxSide) return `${w}x${h} is over the viewer's limit of ${limits.maxSide} pixels a side`;
  if (w * h > limits.maxTexels) return `${w}x${h} is over the viewer's limit of ${limits.maxTexels} pixels`;
  return null;
}

/** RGBA pixels of a texture, rows top to bottom. */
export interface TextureImage {
  readonly width: number;
  readonly height: number;
  readonly rgba: Uint8Array;
}

/**
 * The pixels of texture `tex` as RGBA: 1 channel is grey, 2 grey and alpha, 3 RGB (opaque), 4
 * RGBA. `data` is tex_data (bytes).
 */
export function texturePixels(m: Pick<TextureArrays, 'tex_width' | 'tex_height' | 'tex_nchannel' | 'tex_adr'>, data: ArrayLike<number>, tex: number): TextureImage {
  const w = m.tex_width[tex];
  const h = m.tex_height[tex];
  const c = m.tex_nchannel[tex];
  const adr = Number(m.tex_adr[tex]);
  if (!(c >= 1 && c <= 4)) throw new RangeError(`texturePixels: texture ${tex} has ${c} channels`);
  if (adr < 0 || adr + w * h * c > data.length) throw new RangeError(`texturePixels: texture ${tex} (${w}x${h}x${c} at ${adr}) is outside tex_data (${data.length} bytes)`);
  return { width: w, height: h, rgba: toRgba(data, adr, w * h, c) };
}
