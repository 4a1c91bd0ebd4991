/**
 * Replaying stored clips in the browser with the same MuJoCo WASM build the envs use: compile
 * the model the server sent (MJCF text, or a folder of files through MuJoCo's virtual file
 * system), then for any stored qpos row run `mj_kinematics` and read every geom's world pose.
 * No dynamics are integrated, so what the page shows is exactly the recorded state.
 *
 * Ownership: the MjModel and MjData are deleted in `dispose()`; array views into WASM memory
 * are copied (`slice`) right away, because heap growth detaches them.
 */
import loadMujoco, { type MainModule, type MjData, type MjModel } from '@mujoco/mujoco';
import { geomDescriptors, type GeomDescriptor, type MeshData, meshData, type ModelArrays, robotRoot } from '../geoms.js';
import { base64ToBytes, type ModelPayload } from '../protocol.js';
import { instantiateWithProgress, type LoadProgress } from './loading.js';
import { type GeomTexture, geomTexture, ROLE_RGB, TEXTURE_ROLES, type TextureArrays, type TextureImage, texturePixels, textureSkipReason } from '../textures.js';

let modulePromise: Promise<MainModule> | null = null;
const progressListeners = new Set<(p: LoadProgress) => void>();

/**
 * The MuJoCo module (loaded once; mujoco.wasm sits next to the bundle). With `onProgress` (the
 * labelling page) the page downloads the WebAssembly itself and reports how far it is; without
 * (headless rendering) MuJoCo's loader fetches it.
 */
export function mujoco(onProgress?: (p: LoadProgress) => void): Promise<MainModule> {
  if (onProgress) progressListeners.add(onProgress);
  if (!modulePromise) {
    const locateFile = (path: string) => new URL(path, import.meta.url).href;
    const base = { locateFile, print: () => undefined, printErr: (text: string) => console.warn(`[mujoco] ${text}`) };
    if (onProgress) {
      // MuJoCo's loader waits for instantiateWasm's callback and never hears of a failure: the
      // failure rejects the race instead.
      let fail: (e: unknown) => void = () => undefined;
      const failed = new Promise<never>((_, reject) => (fail = reject));
      const loading = loadMujoco({
        ...base,
        instantiateWasm: (imports: WebAssembly.Imports, done: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void) => {
          instantiateWithProgress(locateFile('mujoco.wasm'), imports, (p) => {
            for (const l of progressListeners) l(p);
          }).then((r) => done(r.instance, r.module), fail);
          return {};
        },
      });
      modulePromise = Promise.race([loading, failed]).finally(() => progressListeners.clear());
    } else modulePromise = loadMujoco(base);
  }
  return modulePromise;
}

export interface CameraHint {
  /** World position of the model's first camera at qpos0, and its viewing direction and up vector. */
  readonly pos: [number, number, number];
  readonly forward: [number, number, number];
  readonly up: [number, number, number];
}

/** Copies of the arrays the viewer reads from a compiled model (views into WASM memory detach when its heap grows). */
export function modelArrays(m: MjModel): ModelArrays & TextureArrays {
  const c = <T extends { slice(): T }>(a: T): T => a.slice();
  // The bindings cannot read mat_texuniform as an array (3.9.0); one material at a time works.
  const texuniform = new Uint8Array(m.nmat);
  for (let i = 0; i < m.nmat; i++) {
    const mat = m.mat(i);
    try {
      texuniform[i] = mat.texuniform ? 1 : 0;
    } finally {
      mat.delete();
    }
  }
  return {
    ngeom: m.ngeom,
    nbody: m.nbody,
    nmesh: m.nmesh,
    geom_type: c(m.geom_type as Int32Array),
    geom_size: c(m.geom_size as Float64Array),
    geom_rgba: c(m.geom_rgba as Float32Array),
    geom_matid: c(m.geom_matid as Int32Array),
    geom_dataid: c(m.geom_dataid as Int32Array),
    geom_group: c(m.geom_group as Int32Array),
    geom_bodyid: c(m.geom_bodyid as Int32Array),
    body_parentid: c(m.body_parentid as Int32Array),
    mat_rgba: c(m.mat_rgba as Float32Array),
    mesh_vertadr: c(m.mesh_vertadr as Int32Array),
    mesh_vertnum: c(m.mesh_vertnum as Int32Array),
    mesh_faceadr: c(m.mesh_faceadr as Int32Array),
    mesh_facenum: c(m.mesh_facenum as Int32Array),
    mesh_vert: c(m.mesh_vert as Float32Array),
    mesh_face: c(m.mesh_face as Int32Array),
    ntex: m.ntex,
    nmat: m.nmat,
    tex_type: c(m.tex_type as Int32Array),
    tex_width: c(m.tex_width as Int32Array),
    tex_height: c(m.tex_height as Int32Array),
    tex_nchannel: c(m.tex_nchannel as Int32Array),
    tex_adr: c(m.tex_adr as BigInt64Array),
    mat_texid: c(m.mat_texid as Int32Array),
    mat_texrepeat: c(m.mat_texrepeat as Float32Array),
    mat_texuniform: texuniform,
    mesh_texcoordadr: c(m.mesh_texcoordadr as Int32Array),
    mesh_texcoord: c(m.mesh_texcoord as Float32Array),
    mesh_facetexcoord: c(m.mesh_facetexcoord as Int32Array),
  };
}

/** Geom poses of one state: xpos [ngeom, 3], row-major xmat [ngeom, 9], and the robot root's position. */
export interface Pose {
  readonly xpos: Float64Array;
  readonly xmat: Float64Array;
  readonly track: [number, number, number];
}

export class ReplayModel {
  readonly arrays: ModelArrays & TextureArrays;
  readonly descriptors: GeomDescriptor[];
  readonly meshes = new Map<number, MeshData>();
  /** How each textured drawn geom (by geom id) shows its 2D texture. */
  readonly geomTextures = new Map<number, GeomTexture>();
  /** The pixels of the textures those geoms use, by texture id (read once, at compile). */
  readonly textures = new Map<number, TextureImage>();
  /** One line per texture a drawn geom's material names that is not drawn, with the reason. */
  readonly skippedTextures: string[] = [];
  readonly nq: number;
  /** Centre and half-diagonal of the drawn geoms (planes excluded) at qpos0, metres. */
  readonly center: [number, number, number];
  readonly extent: number;
  /** Body whose position the camera follows (root of the largest tree; 0 = none). */
  readonly trackBody: number;
  /** The robot root's position at qpos0 (the reference for following). */
  readonly track0: [number, number, number];
  readonly camera: CameraHint | null;
  /** The model's reference configuration. */
  readonly qpos0: Float64Array;
  private model: MjModel | null;
  private data: MjData | null;
  /** Each geom's bounding-sphere radius. */
  private readonly rbound: Float64Array;

  private constructor(
    private readonly mj: MainModule,
    model: MjModel,
    /** Planes keep their colour under the viewer's grid, without their textures (ModelPayload.floorGrid). */
    readonly floorGrid: boolean,
  ) {
    this.model = model;
    this.data = new mj.MjData(model);
    this.arrays = modelArrays(model);
    this.descriptors = geomDescriptors(this.arrays);
    for (const d of this.descriptors) if (d.mesh !== null && !this.meshes.has(d.mesh)) this.meshes.set(d.mesh, meshData(this.arrays, d.mesh));
    this.readTextures(model);
    this.nq = model.nq;
    this.trackBody = robotRoot(this.arrays);
    this.qpos0 = (model.qpos0 as Float64Array).slice();
    this.rbound = (model.geom_rbound as Float64Array).slice();
    const p0 = this.pose(this.qpos0);
    this.track0 = p0.track;
    const b = this.bounds([this.qpos0]);
    if (b) {
      this.center = b.center;
      this.extent = b.extent;
    } else {
      const stat = model.stat;
      const c = stat.center as Float64Array;
      this.center = [c[0], c[1], c[2]];
      this.extent = stat.extent > 0 ? stat.extent : 1;
      stat.delete(); // a handle onto the model's struct: deleting it frees only the handle
    }
    this.camera = this.cameraHint();
  }

  /** Compile a model payload (throws Error with MuJoCo's message on failure). */
  static compile(mj: MainModule, payload: ModelPayload): ReplayModel {
    let model: MjModel;
    if (payload.kind === 'xml') {
      model = mj.MjModel.from_xml_string(payload.xml);
    } else {
      const vfs = new mj.MjVFS();
      try {
        for (const f of payload.files) vfs.addBuffer(f.name, base64ToBytes(f.b64));
        model = mj.MjModel.from_xml_path(payload.main, vfs);
      } finally {
        vfs.delete();
      }
    }
    try {
      return new ReplayModel(mj, model, payload.kind === 'xml' && payload.floorGrid === true);
    } catch (e) {
      model.delete();
      throw e;
    }
  }

  private live(): { model: MjModel; data: MjData } {
    if (!this.model || !this.data) throw new Error('ReplayModel used after dispose()');
    return { model: this.model, data: this.data };
  }

  /** Geom poses for one qpos row (nq values). */
  pose(qpos: ArrayLike<number>, out?: Pose): Pose {
    const { model, data } = this.live();
    const q = data.qpos as Float64Array;
    for (let i = 0; i < this.nq; i++) q[i] = qpos[i];
    this.mj.mj_kinematics(model, data);
    const xp = data.geom_xpos as Float64Array;
    const xm = data.geom_xmat as Float64Array;
    const bx = data.xpos as Float64Array;
    const b = this.trackBody;
    const track: [number, number, number] = [bx[3 * b], bx[3 * b + 1], bx[3 * b + 2]];
    if (out) {
      out.xpos.set(xp);
      out.xmat.set(xm);
      out.track[0] = track[0];
      out.track[1] = track[1];
      out.track[2] = track[2];
      return out;
    }
    return { xpos: xp.slice(), xmat: xm.slice(), track };
  }

  /**
   * Size and centre of what is drawn over some configurations (qpos rows): the box around every
   * geom's bounding sphere in each (planes excluded; MuJoCo's own mjStatistic counts infinite
   * floors, which makes it too large). Centre and half-diagonal, metres; null without such geoms.
   */
  bounds(rows: Iterable<ArrayLike<number>>): { center: [number, number, number]; extent: number } | null {
    const rbound = this.rbound;
    const lo = [Infinity, Infinity, Infinity];
    const hi = [-Infinity, -Infinity, -Infinity];
    const p = this.newPose();
    for (const q of rows) {
      this.pose(q, p);
      for (const d of this.descriptors) {
        if (d.type === 'plane') continue;
        for (let k = 0; k < 3; k++) {
          lo[k] = Math.min(lo[k], p.xpos[3 * d.index + k] - rbound[d.index]);
          hi[k] = Math.max(hi[k], p.xpos[3 * d.index + k] + rbound[d.index]);
        }
      }
    }
    if (!Number.isFinite(lo[0])) return null;
    return {
      center: [(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, (lo[2] + hi[2]) / 2],
      extent: Math.max(0.05, 0.5 * Math.hypot(hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2])),
    };
  }

  /** Allocate a pose buffer for `pose(q, out)`. */
  newPose(): Pose {
    return { xpos: new Float64Array(3 * this.arrays.ngeom), xmat: new Float64Array(9 * this.arrays.ngeom), track: [0, 0, 0] };
  }

  /**
   * The textures of drawn geoms: the pixels of each 2D texture within the size limits (read
   * straight from tex_data, which can be large, into RGBA), and a line for each one skipped (a
   * cube or skybox texture, or one too large); geoms with a skipped texture keep their colour.
   */
  private readTextures(model: MjModel): void {
    const a = this.arrays;
    const used = new Map<number, number>();
    const textured = this.descriptors.filter((d) => !(this.floorGrid && d.type === 'plane'));
    for (const d of textured) {
      const mat = a.geom_matid[d.index];
      const tex = mat >= 0 ? a.mat_texid[TEXTURE_ROLES * mat + ROLE_RGB] : -1;
      if (tex >= 0) used.set(tex, (used.get(tex) ?? 0) + 1);
    }
    for (const [tex, geoms] of [...used.entries()].sort((x, y) => x[0] - y[0])) {
      const reason = textureSkipReason(a, tex);
      if (reason === null) {
        // No WASM call in between: the tex_data view stays attached while it is read.
        this.textures.set(tex, texturePixels(a, model.tex_data as Uint8Array, tex));
        continue;
      }
      const acc = model.tex(tex);
      let name: string;
      try {
        name = acc.name || `#${tex}`;
      } finally {
        acc.delete();
      }
      const keep = geoms === 1 ? 'the geom using it keeps its colour' : `the ${geoms} geoms using it keep their colour`;
      this.skippedTextures.push(`texture "${name}" (${a.tex_width[tex]}x${a.tex_height[tex]}) is not drawn: ${reason}; ${keep}`);
    }
    for (const d of textured) {
      const t = geomTexture(a, d.index);
      if (t && this.textures.has(t.tex)) this.geomTextures.set(d.index, t);
    }
  }

  private cameraHint(): CameraHint | null {
    const { model, data } = this.live();
    if (model.ncam < 1) return null;
    // pose() left qpos at qpos0; mj_forward (unlike mj_kinematics) also places cameras.
    this.mj.mj_forward(model, data);
    const p = data.cam_xpos as Float64Array;
    const m = data.cam_xmat as Float64Array;
    // MuJoCo cameras look along their frame's -z with +y up (row-major xmat: column k = axis k).
    return { pos: [p[0], p[1], p[2]], forward: [-m[2], -m[5], -m[8]], up: [m[1], m[4], m[7]] };
  }

  dispose(): void {
    this.data?.delete();
    this.model?.delete();
    this.data = null;
    this.model = null;
  }
}

/** A clip: its qpos rows, [(H+1), nq]. */
export interface Clip {
  readonly id: string;
  readonly length: number;
  readonly nq: number;
  readonly qpos: Float64Array;
}

/** What an auto view frames: a centre and a half-diagonal, metres. */
export interface Framing {
  readonly center: [number, number, number];
  readonly extent: number;
}

/**
 * What the auto view of a model without a camera of its own frames when it shows `clips`: every
 * drawn geom over the clips' steps (about 100 sampled per clip, and the last), since a swinging
 * arm can leave the box it fills at qpos0. Null for a model with a camera (its view is kept).
 * The labelling page and headless rendering both frame with this.
 */
export function clipFraming(model: ReplayModel, clips: readonly Clip[]): Framing | null {
  if (model.camera) return null;
  const rows: Float64Array[] = [];
  for (const c of clips) {
    for (let i = 0; i <= c.length; i += Math.max(1, Math.floor(c.length / 100))) rows.push(clipRow(c, i));
    rows.push(clipRow(c, c.length));
  }
  return model.bounds(rows);
}

/** Row `i` of a clip (clamped to the last row). */
export function clipRow(c: Clip, i: number): Float64Array {
  const r = Math.max(0, Math.min(c.length, i));
  return c.qpos.subarray(r * c.nq, (r + 1) * c.nq);
}
