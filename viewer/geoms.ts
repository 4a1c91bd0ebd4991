/**
 * From a compiled MuJoCo model's arrays to what a renderer draws: one descriptor per visible
 * geom (shape, size, colour, mesh reference, body) plus triangle meshes. Pure functions of
 * plain arrays, so they run in Node tests and in the page alike (no three.js, no WASM).
 *
 * MuJoCo conventions used here (mjModel docs):
 *   geom_type   mjtGeom: 0 plane, 1 hfield, 2 sphere, 3 capsule, 4 ellipsoid, 5 cylinder,
 *               6 box, 7 mesh, 8 sdf
 *   geom_size   [ngeom, 3]: plane (half x, half y, grid spacing; 0 = infinite), sphere (r),
 *               capsule / cylinder (r, half length along local z), ellipsoid (3 radii),
 *               box (3 half sizes), mesh (unused: the mesh vertices are in the geom frame)
 *   geom_rgba   [ngeom, 4]; a geom with a material takes mat_rgba unless its own rgba was set,
 *               which MuJoCo resolves at compile time into geom_rgba except for the default
 *               grey (0.5, 0.5, 0.5, 1): then the material's colour is used, as in MuJoCo's
 *               own renderer.
 *   geom_group  the viewer, like MuJoCo's, shows groups 0-2 by default.
 *   mesh_vert   [nmeshvert, 3] float32, mesh_face [nmeshface, 3] int32 (per-mesh 0-based),
 *               with mesh_vertadr / mesh_vertnum / mesh_faceadr / mesh_facenum per mesh.
 */

export const GEOM_TYPES = ['plane', 'hfield', 'sphere', 'capsule', 'ellipsoid', 'cylinder', 'box', 'mesh', 'sdf'] as const;
export type GeomType = (typeof GEOM_TYPES)[number];
/** The geom types the viewer draws (hfield and sdf are skipped). */
export type DrawnGeomType = Exclude<GeomType, 'hfield' | 'sdf'>;

/** The subset of an MjModel the mapping reads (typed arrays straight from the bindings work). */
export interface ModelArrays {
  readonly ngeom: number;
  readonly nbody: number;
  readonly nmesh: number;
  readonly geom_type: ArrayLike<number>;
  readonly geom_size: ArrayLike<number>;
  readonly geom_rgba: ArrayLike<number>;
  readonly geom_matid: ArrayLike<number>;
  readonly geom_dataid: ArrayLike<number>;
  readonly geom_group: ArrayLike<number>;
  readonly geom_bodyid: ArrayLike<number>;
  readonly body_parentid: ArrayLike<number>;
  readonly mat_rgba: ArrayLike<number>;
  readonly mesh_vertadr: ArrayLike<number>;
  readonly mesh_vertnum: ArrayLike<number>;
  readonly mesh_faceadr: ArrayLike<number>;
  readonly mesh_facenum: ArrayLike<number>;
  readonly mesh_vert: ArrayLike<number>;
  readonly mesh_face: ArrayLike<number>;
}

export interface GeomDescriptor {
  /** Geom id in the model (index into geom_xpos / geom_xmat rows). */
  readonly index: number;
  readonly type: DrawnGeomType;
  /**
   * Renderer-ready full extents in the geom frame, metres:
   *   plane      [width x, width y, 0]  (0 width = infinite: the renderer picks a size)
   *   sphere     [r, r, r] radii
   *   ellipsoid  [rx, ry, rz] radii
   *   capsule    [r, half length of the cylinder part, 0]  (axis = local z)
   *   cylinder   [r, half height, 0]                       (axis = local z)
   *   box        [width x, width y, width z] (twice MuJoCo's half sizes)
   *   mesh       [1, 1, 1] (vertices are already in the geom frame)
   */
  readonly size: readonly [number, number, number];
  /** Linear RGBA in [0, 1]. */
  readonly rgba: readonly [number, number, number, number];
  /** Mesh id for type "mesh", else null. */
  readonly mesh: number | null;
  readonly body: number;
  readonly group: number;
  /** Part of the robot (the largest kinematic tree), as opposed to the world and loose objects. */
  readonly robot: boolean;
}

export interface DescriptorOptions {
  /** Highest geom group drawn (default 2, MuJoCo's default visible groups 0-2). */
  readonly maxGroup?: number;
  /** Keep fully transparent geoms (alpha 0; default false). */
  readonly keepInvisible?: boolean;
}

const DEFAULT_GREY = 0.5;

/** Id of the body's tree root: the ancestor whose parent is the world (0 for the world itself). */
export function treeRoot(m: Pick<ModelArrays, 'body_parentid'>, body: number): number {
  let b = body;
  let guard = 0;
  while (b !== 0 && m.body_parentid[b] !== 0) {
    b = m.body_parentid[b];
    if (++guard > 1e6) throw new RangeError('treeRoot: body_parentid has a cycle');
  }
  return b;
}

/**
 * The robot: the kinematic tree (child of the world) with the most bodies; ties go to the
 * lowest id. Loose objects (a target on slide joints, a puck) are smaller trees. Returns the
 * root body id, or 0 when the model has no bodies besides the world.
 */
export function robotRoot(m: Pick<ModelArrays, 'nbody' | 'body_parentid'>): number {
  const count = new Map<number, number>();
  for (let b = 1; b < m.nbody; b++) {
    const r = treeRoot(m, b);
    count.set(r, (count.get(r) ?? 0) + 1);
  }
  let best = 0;
  let bestN = 0;
  for (const [r, n] of [...count.entries()].sort((x, y) => x[0] - y[0])) {
    if (n > bestN) {
      best = r;
      bestN = n;
    }
  }
  return best;
}

function rgbaOf(m: ModelArrays, g: number): [number, number, number, number] {
  const own: [number, number, number, number] = [m.geom_rgba[4 * g], m.geom_rgba[4 * g + 1], m.geom_rgba[4 * g + 2], m.geom_rgba[4 * g + 3]];
  const mat = m.geom_matid[g];
  const isDefault = Math.abs(own[0] - DEFAULT_GREY) < 1e-6 && Math.abs(own[1] - DEFAULT_GREY) < 1e-6 && Math.abs(own[2] - DEFAULT_GREY) < 1e-6 && own[3] === 1;
  if (mat >= 0 && isDefault && 4 * mat + 3 < m.mat_rgba.length) {
    return [m.mat_rgba[4 * mat], m.mat_rgba[4 * mat + 1], m.mat_rgba[4 * mat + 2], m.mat_rgba[4 * mat + 3]];
  }
  return own;
}

/** One descriptor per drawn geom, in geom id order. */
export function geomDescriptors(m: ModelArrays, opts: DescriptorOptions = {}): GeomDescriptor[] {
  const maxGroup = opts.maxGroup ?? 2;
  const robot = robotRoot(m);
  const out: GeomDescriptor[] = [];
  for (let g = 0; g < m.ngeom; g++) {
    const typeId = m.geom_type[g];
    const type = GEOM_TYPES[typeId];
    if (type === undefined || type === 'hfield' || type === 'sdf') continue;
    const group = m.geom_group[g];
    if (group > maxGroup) continue;
    const rgba = rgbaOf(m, g);
    if (rgba[3] <= 0 && !opts.keepInvisible) continue;
    const s0 = m.geom_size[3 * g];
    const s1 = m.geom_size[3 * g + 1];
    const s2 = m.geom_size[3 * g + 2];
    let size: [number, number, number];
    switch (type) {
      case 'plane':
        size = [2 * s0, 2 * s1, 0];
        break;
      case 'sphere':
        size = [s0, s0, s0];
        break;
      case 'ellipsoid':
        size = [s0, s1, s2];
        break;
      case 'capsule':
      case 'cylinder':
        size = [s0, s1, 0];
        break;
      case 'box':
        size = [2 * s0, 2 * s1, 2 * s2];
        break;
      case 'mesh':
        size = [1, 1, 1];
        break;
    }
    const mesh = type === 'mesh' ? m.geom_dataid[g] : null;
    if (type === 'mesh' && (mesh === null || mesh < 0 || mesh >= m.nmesh)) continue;
    const body = m.geom_bodyid[g];
    out.push({ index: g, type, size, rgba, mesh, body, group, robot: robot !== 0 && body !== 0 && treeRoot(m, body) === robot });
  }
  return out;
}

export interface MeshData {
  /** [nvert, 3] positions in the geom frame, metres. */
  readonly positions: Float32Array;
  /** [nface, 3] vertex indices (0-based within this mesh). */
  readonly indices: Uint32Array;
}

/** The triangles of mesh `id`. */
export function meshData(m: ModelArrays, id: number): MeshData {
  if (!Number.isInteger(id) || id < 0 || id >= m.nmesh) throw new RangeError(`meshData: mesh ${id} outside 0..${m.nmesh - 1}`);
  const va = m.mesh_vertadr[id];
  const vn = m.mesh_vertnum[id];
  const fa = m.mesh_faceadr[id];
  const fn = m.mesh_facenum[id];
  const positions = new Float32Array(3 * vn);
  for (let i = 0; i < 3 * vn; i++) positions[i] = m.mesh_vert[3 * va + i];
  const indices = new Uint32Array(3 * fn);
  for (let i = 0; i < 3 * fn; i++) {
    const v = m.mesh_face[3 * fa + i];
    if (v < 0 || v >= vn) throw new RangeError(`meshData: mesh ${id} face index ${v} outside 0..${vn - 1}`);
    indices[i] = v;
  }
  return { positions, indices };
}

/**
 * Column-major 4x4 matrix (three.js `Matrix4.elements` order) of a geom's world pose from
 * MuJoCo's geom_xpos [3] and row-major geom_xmat [9], written into `out` at `offset`.
 */
export function poseMatrix(xpos: ArrayLike<number>, xmat: ArrayLike<number>, g: number, out: Float32Array | Float64Array | number[], offset = 0): void {
  const p = 3 * g;
  const r = 9 * g;
  // column 0
  out[offset + 0] = xmat[r + 0];
  out[offset + 1] = xmat[r + 3];
  out[offset + 2] = xmat[r + 6];
  out[offset + 3] = 0;
  // column 1
  out[offset + 4] = xmat[r + 1];
  out[offset + 5] = xmat[r + 4];
  out[offset + 6] = xmat[r + 7];
  out[offset + 7] = 0;
  // column 2
  out[offset + 8] = xmat[r + 2];
  out[offset + 9] = xmat[r + 5];
  out[offset + 10] = xmat[r + 8];
  out[offset + 11] = 0;
  // column 3
  out[offset + 12] = xpos[p];
  out[offset + 13] = xpos[p + 1];
  out[offset + 14] = xpos[p + 2];
  out[offset + 15] = 1;
}

/** A floor-grid spacing for a scene of size `extent` (m): 1, 2 or 5 x 10^k, about extent / 6. */
export function gridSpacing(extent: number): number {
  const target = Math.max(1e-3, extent) / 6;
  const k = Math.floor(Math.log10(target));
  const base = 10 ** k;
  for (const f of [1, 2, 5, 10]) if (f * base >= target) return f * base;
  return 10 * base;
}
