/**
 * The three.js scene of one clip, built from the geom descriptors of viewer/geoms.ts: one
 * mesh per drawn geom (plane, sphere, capsule, cylinder, ellipsoid, box, mesh) with the
 * model's colours, a floor grid, soft light and shadows. MuJoCo's frame is kept as is
 * (z up; the camera's `up` is +z), and every geom mesh takes its world matrix straight from
 * geom_xpos / geom_xmat (matrixAutoUpdate off).
 *
 * Used by the labelling page (two panes, one shared camera) and by headless rendering
 * (viewer/render.ts), so videos and VLM frames look exactly like what teachers see.
 */
import * as THREE from 'three';
import { type GeomDescriptor, gridSpacing, poseMatrix } from '../geoms.js';
import { meshUV, texgenUV } from '../textures.js';
import type { Pose, ReplayModel } from './replay.js';

export interface SceneStyle {
  readonly shadows: boolean;
  readonly grid: boolean;
  /** Background colour (0xRRGGBB). */
  readonly background: number;
}

export const DEFAULT_STYLE: SceneStyle = { shadows: true, grid: true, background: 0x1e242c };

function colour(rgba: readonly number[]): THREE.Color {
  // MJCF colours are written by eye, i.e. as sRGB values.
  return new THREE.Color().setRGB(rgba[0], rgba[1], rgba[2], THREE.SRGBColorSpace);
}

/** Geometries, materials and textures of a model, shared by every pane that shows it. */
export class ModelAssets {
  private readonly geometries = new Map<number, THREE.BufferGeometry>();
  private readonly materials = new Map<string, THREE.Material>();
  private readonly textures = new Map<number, THREE.DataTexture>();
  /** Size used for infinite planes, m. */
  readonly floorSize: number;

  constructor(readonly model: ReplayModel) {
    this.floorSize = Math.max(40, 60 * model.extent);
  }

  geometry(d: GeomDescriptor): THREE.BufferGeometry {
    let g = this.geometries.get(d.index);
    if (g) return g;
    const [a, b, c] = d.size;
    switch (d.type) {
      case 'plane':
        g = new THREE.PlaneGeometry(a > 0 ? a : this.floorSize, b > 0 ? b : this.floorSize);
        break;
      case 'sphere':
        g = new THREE.SphereGeometry(a, 32, 20);
        break;
      case 'ellipsoid':
        g = new THREE.SphereGeometry(1, 32, 20).scale(a, b, c);
        break;
      case 'capsule':
        // three.js capsules and cylinders run along y; MuJoCo's along the geom's z.
        g = new THREE.CapsuleGeometry(a, 2 * b, 8, 20).rotateX(Math.PI / 2);
        break;
      case 'cylinder':
        g = new THREE.CylinderGeometry(a, a, 2 * b, 28).rotateX(Math.PI / 2);
        break;
      case 'box':
        g = new THREE.BoxGeometry(a, b, c);
        break;
      case 'mesh': {
        const m = this.model.meshes.get(d.mesh as number);
        if (!m) throw new Error(`ModelAssets: mesh ${d.mesh} missing`);
        const indexed = new THREE.BufferGeometry();
        indexed.setAttribute('position', new THREE.BufferAttribute(m.positions, 3));
        indexed.setIndex(new THREE.BufferAttribute(m.indices, 1));
        // Flat shading: per-face normals suit the low-poly meshes robots are drawn with.
        g = indexed.toNonIndexed();
        indexed.dispose();
        g.computeVertexNormals();
        break;
      }
    }
    const tex = this.model.geomTextures.get(d.index);
    if (tex) {
      // MuJoCo's texture coordinates replace three.js's own (a mesh's per face corner, in the
      // order of the un-indexed triangles; generated ones from the geom-frame positions).
      const uv = tex.mapping.kind === 'mesh' ? meshUV(this.model.arrays, d.mesh as number) : texgenUV((g.getAttribute('position') as THREE.BufferAttribute).array, tex.mapping.scale);
      if (uv) g.setAttribute('uv', new THREE.BufferAttribute(uv, 2));
    }
    this.geometries.set(d.index, g);
    return g;
  }

  /** The GPU texture of a model texture (one per texture, whatever uses it). */
  private texture(id: number): THREE.DataTexture {
    let t = this.textures.get(id);
    if (t) return t;
    const img = this.model.textures.get(id);
    if (!img) throw new Error(`ModelAssets: texture ${id} missing`);
    t = new THREE.DataTexture(img.rgba, img.width, img.height, THREE.RGBAFormat, THREE.UnsignedByteType);
    t.wrapS = THREE.RepeatWrapping;
    t.wrapT = THREE.RepeatWrapping;
    t.magFilter = THREE.LinearFilter;
    t.minFilter = THREE.LinearMipmapLinearFilter;
    t.generateMipmaps = true;
    t.anisotropy = 8;
    t.colorSpace = THREE.SRGBColorSpace;
    t.needsUpdate = true;
    this.textures.set(id, t);
    return t;
  }

  material(d: GeomDescriptor): THREE.Material {
    const tex = this.model.geomTextures.get(d.index)?.tex ?? -1;
    const key = `${d.type === 'plane' ? 'p' : 'g'}:${d.rgba.map((x) => x.toFixed(4)).join(',')}:${tex}`;
    let m = this.materials.get(key);
    if (m) return m;
    const alpha = d.rgba[3];
    m = new THREE.MeshStandardMaterial({
      // As in MuJoCo, a texture's colours are multiplied by the geom's.
      color: colour(d.rgba),
      map: tex >= 0 ? this.texture(tex) : null,
      roughness: d.type === 'plane' ? 0.95 : 0.55,
      metalness: d.type === 'plane' ? 0 : 0.05,
      transparent: alpha < 1,
      opacity: alpha,
      depthWrite: alpha >= 1,
    });
    this.materials.set(key, m);
    return m;
  }

  private grid: THREE.CanvasTexture | null = null;

  /** One grid cell (lines on two edges), repeated over the floor; shared by the panes. */
  gridTexture(): THREE.CanvasTexture {
    if (this.grid) return this.grid;
    const size = 128;
    const canvas = document.createElement('canvas');
    canvas.width = size;
    canvas.height = size;
    const ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
    ctx.clearRect(0, 0, size, size);
    ctx.fillStyle = 'rgba(205, 215, 230, 0.9)';
    ctx.fillRect(0, 0, size, 3);
    ctx.fillRect(0, 0, 3, size);
    const t = new THREE.CanvasTexture(canvas);
    t.wrapS = THREE.RepeatWrapping;
    t.wrapT = THREE.RepeatWrapping;
    t.anisotropy = 8;
    t.colorSpace = THREE.SRGBColorSpace;
    this.grid = t;
    return t;
  }

  dispose(): void {
    this.grid?.dispose();
    this.grid = null;
    for (const g of this.geometries.values()) g.dispose();
    for (const m of this.materials.values()) m.dispose();
    for (const t of this.textures.values()) t.dispose();
    this.geometries.clear();
    this.materials.clear();
    this.textures.clear();
  }
}

const M4 = new Float64Array(16);

/** One clip's scene: the model's geoms posed from a state, plus lights and a floor grid. */
export class ClipScene {
  readonly scene = new THREE.Scene();
  private readonly objects: { d: GeomDescriptor; mesh: THREE.Mesh }[] = [];
  private readonly sun: THREE.DirectionalLight;
  private readonly grid: THREE.Mesh<THREE.PlaneGeometry, THREE.MeshBasicMaterial> | null;
  private readonly spacing: number;
  private readonly floorZ: number;

  constructor(
    readonly assets: ModelAssets,
    style: SceneStyle = DEFAULT_STYLE,
  ) {
    const model = assets.model;
    this.scene.background = new THREE.Color(style.background);
    const ext = model.extent;
    // Fade the floor into the background far away instead of showing its edge.
    this.scene.fog = new THREE.Fog(style.background, 8 * ext, 30 * ext);
    this.scene.add(new THREE.HemisphereLight(0xdfe8ff, 0x3a3430, 1.4));
    this.sun = new THREE.DirectionalLight(0xffffff, 2.2);
    this.sun.castShadow = style.shadows;
    if (style.shadows) {
      this.sun.shadow.mapSize.set(1024, 1024);
      const s = this.sun.shadow.camera;
      s.left = -1.6 * ext;
      s.right = 1.6 * ext;
      s.top = 1.6 * ext;
      s.bottom = -1.6 * ext;
      s.near = 0.01;
      s.far = 12 * ext;
      this.sun.shadow.bias = -0.0005;
      this.sun.shadow.normalBias = 0.01 * ext;
    }
    this.scene.add(this.sun, this.sun.target);
    const q0 = model.pose(model.qpos0);
    let floorZ = Number.POSITIVE_INFINITY;
    for (const d of model.descriptors) {
      const mesh = new THREE.Mesh(assets.geometry(d), assets.material(d));
      mesh.matrixAutoUpdate = false;
      mesh.castShadow = style.shadows && d.type !== 'plane' && d.rgba[3] > 0.3;
      mesh.receiveShadow = style.shadows;
      if (d.type === 'plane') {
        floorZ = Math.min(floorZ, q0.xpos[3 * d.index + 2]);
        mesh.renderOrder = -1;
      }
      this.objects.push({ d, mesh });
      this.scene.add(mesh);
    }
    this.floorZ = Number.isFinite(floorZ) ? floorZ : 0;
    this.spacing = gridSpacing(ext);
    if (style.grid) {
      // A textured plane rather than line segments: long lines that pass behind the camera
      // are dropped by some software rasterisers (SwiftShader), triangles are clipped right.
      const cells = 160;
      const tex = assets.gridTexture();
      const mat = new THREE.MeshBasicMaterial({ map: tex, transparent: true, opacity: 0.5, depthWrite: false, polygonOffset: true, polygonOffsetFactor: -2, polygonOffsetUnits: -2 });
      this.grid = new THREE.Mesh(new THREE.PlaneGeometry(cells * this.spacing, cells * this.spacing), mat);
      const uv = this.grid.geometry.getAttribute('uv') as THREE.BufferAttribute;
      for (let i = 0; i < uv.count; i++) uv.setXY(i, uv.getX(i) * cells, uv.getY(i) * cells);
      this.grid.position.z = this.floorZ + 1e-3 * ext;
      this.grid.renderOrder = 1;
      this.scene.add(this.grid);
    } else this.grid = null;
    this.setFocus(model.center[0], model.center[1], model.center[2]);
  }

  /** Place every geom from a pose. */
  apply(pose: Pose): void {
    for (const { d, mesh } of this.objects) {
      poseMatrix(pose.xpos, pose.xmat, d.index, M4);
      mesh.matrix.fromArray(M4);
      mesh.matrixWorldNeedsUpdate = true;
    }
  }

  /** Show or hide the robot (the largest kinematic tree); the world and loose objects stay. */
  setRobotVisible(visible: boolean): void {
    for (const { d, mesh } of this.objects) if (d.robot) mesh.visible = visible;
  }

  /** Keep the shadow camera and the grid around the point the camera looks at. */
  setFocus(x: number, y: number, z: number): void {
    const ext = this.assets.model.extent;
    this.sun.target.position.set(x, y, z);
    this.sun.position.set(x + 0.8 * ext, y - 1.2 * ext, z + 4 * ext);
    this.sun.target.updateMatrixWorld();
    if (this.grid) {
      // Snap to whole cells so the grid looks fixed to the floor while the focus moves.
      this.grid.position.x = Math.round(x / this.spacing) * this.spacing;
      this.grid.position.y = Math.round(y / this.spacing) * this.spacing;
    }
  }

  dispose(): void {
    if (this.grid) {
      this.grid.geometry.dispose();
      this.grid.material.dispose();
    }
    this.sun.dispose();
    this.scene.clear();
  }
}

/** Orbit parameters of a camera around a target (degrees, metres), z up. */
export interface OrbitView {
  readonly target: [number, number, number];
  /** Angle in the x-y plane from +x toward +y of the direction from target to camera. */
  readonly azimuth: number;
  /** Angle above the x-y plane. */
  readonly elevation: number;
  readonly distance: number;
}

/** Camera position of an orbit view. */
export function orbitPosition(v: OrbitView): [number, number, number] {
  const az = (v.azimuth * Math.PI) / 180;
  const el = (Math.max(-89.5, Math.min(89.5, v.elevation)) * Math.PI) / 180;
  return [v.target[0] + v.distance * Math.cos(el) * Math.cos(az), v.target[1] + v.distance * Math.cos(el) * Math.sin(az), v.target[2] + v.distance * Math.sin(el)];
}

/**
 * The starting view of a model: from its first MJCF camera when it has one (kept nearly
 * as is: a straight-down camera is tilted by a degree so the orbit has a defined up
 * direction, and a level one looks down at least 12 degrees so the floor grid reads),
 * else a three-quarter view of the model's centre at 2.2 x its extent (or of `frame`, e.g. what
 * a clip shows over all its steps, when given).
 */
export function defaultView(model: ReplayModel, frame?: { readonly center: readonly [number, number, number]; readonly extent: number } | null): OrbitView {
  const cam = model.camera;
  if (cam) {
    const [fx, fy, fz] = cam.forward;
    const c = model.center;
    // Look at the point on the camera's axis closest to the model centre.
    const t = Math.max(0.05 * model.extent, (c[0] - cam.pos[0]) * fx + (c[1] - cam.pos[1]) * fy + (c[2] - cam.pos[2]) * fz);
    const target: [number, number, number] = [cam.pos[0] + t * fx, cam.pos[1] + t * fy, cam.pos[2] + t * fz];
    const back = [-fx, -fy, -fz];
    let elevation = (Math.asin(Math.max(-1, Math.min(1, back[2]))) * 180) / Math.PI;
    let azimuth = (Math.atan2(back[1], back[0]) * 180) / Math.PI;
    if (Math.hypot(back[0], back[1]) < 1e-3) {
      // Straight down: the camera's up vector gives the image's up; the camera sits opposite it.
      azimuth = (Math.atan2(-cam.up[1], -cam.up[0]) * 180) / Math.PI;
      elevation = 89;
    }
    // A camera level with the floor sees the grid edge-on; look down a little.
    if (elevation < 12) elevation = 12;
    return { target, azimuth, elevation, distance: t };
  }
  const f = frame ?? model;
  return { target: [...f.center], azimuth: -60, elevation: 22, distance: 2.2 * f.extent };
}

/** Point a camera along an orbit view (z up). */
export function placeCamera(camera: THREE.PerspectiveCamera, v: OrbitView): void {
  const p = orbitPosition(v);
  camera.up.set(0, 0, 1);
  camera.position.set(p[0], p[1], p[2]);
  camera.lookAt(v.target[0], v.target[1], v.target[2]);
  camera.near = Math.max(1e-3, v.distance / 200);
  camera.far = v.distance * 400;
  camera.updateProjectionMatrix();
}

/** A WebGL renderer set up the same way everywhere (colour space, shadows). */
export function makeRenderer(canvas: HTMLCanvasElement, opts: { shadows: boolean; preserveDrawingBuffer: boolean; antialias?: boolean }): THREE.WebGLRenderer {
  const r = new THREE.WebGLRenderer({ canvas, antialias: opts.antialias ?? true, preserveDrawingBuffer: opts.preserveDrawingBuffer, powerPreference: 'high-performance' });
  r.outputColorSpace = THREE.SRGBColorSpace;
  r.shadowMap.enabled = opts.shadows;
  r.shadowMap.type = THREE.PCFShadowMap;
  return r;
}

/**
 * Render a clip scene with the shared camera moved by `offset` (following a robot keeps the
 * view's direction and shifts it with the robot), into the renderer's current viewport.
 */
export function renderWithOffset(renderer: THREE.WebGLRenderer, clip: ClipScene, camera: THREE.PerspectiveCamera, target: THREE.Vector3, offset: readonly [number, number, number]): void {
  camera.position.x += offset[0];
  camera.position.y += offset[1];
  camera.position.z += offset[2];
  camera.updateMatrixWorld();
  clip.setFocus(target.x + offset[0], target.y + offset[1], target.z + offset[2]);
  try {
    renderer.render(clip.scene, camera);
  } finally {
    camera.position.x -= offset[0];
    camera.position.y -= offset[1];
    camera.position.z -= offset[2];
    camera.updateMatrixWorld();
  }
}
