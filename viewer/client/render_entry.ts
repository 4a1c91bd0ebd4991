/**
 * Headless rendering entry (render.html): the same model compilation, scene and camera code
 * as the labelling page, driven frame by frame from Node (viewer/render.ts through
 * playwright) instead of by a clock. Exposes `window.prefrlRender`.
 */
import * as THREE from 'three';
import { base64ToFloat64, type ModelPayload } from '../protocol.js';
import type { CameraSpec, ClipPayload, FrameOptions, LoadResult, RenderApi, RenderSetup } from '../render_api.js';
import { type Clip, clipFraming, clipRow, type Framing, mujoco, type Pose, ReplayModel } from './replay.js';
import { ClipScene, DEFAULT_STYLE, defaultView, makeRenderer, ModelAssets, type OrbitView, placeCamera, renderWithOffset } from './scene.js';

const GAP = 4;

class Renderer implements RenderApi {
  private model: ReplayModel | null = null;
  private assets: ModelAssets | null = null;
  private scenes: ClipScene[] = [];
  private clips: Clip[] = [];
  private poses: Pose[] = [];
  private renderer: THREE.WebGLRenderer | null = null;
  private setup: RenderSetup | null = null;
  private readonly camera = new THREE.PerspectiveCamera(40, 1, 0.01, 1000);
  private travels: boolean[] = [];
  /** What the auto camera frames when the model has no camera and nothing travels (see load). */
  private framing: Framing | null = null;

  async load(payload: ModelPayload, clips: ClipPayload[], setup: RenderSetup): Promise<LoadResult> {
    this.dispose();
    const mj = await mujoco();
    const model = ReplayModel.compile(mj, payload);
    this.model = model;
    this.setup = setup;
    this.clips = clips.map((c) => {
      const clip = { id: c.id, length: c.length, nq: c.nq, qpos: base64ToFloat64(c.qpos) };
      if (clip.nq !== model.nq) throw new Error(`clip ${c.id} has nq ${c.nq}, the model has ${model.nq}`);
      if (clip.qpos.length !== (clip.length + 1) * clip.nq) throw new Error(`clip ${c.id}: qpos has ${clip.qpos.length} values, expected ${(clip.length + 1) * clip.nq}`);
      return clip;
    });
    const style = { ...DEFAULT_STYLE, shadows: setup.shadows, grid: setup.grid };
    this.assets = new ModelAssets(model);
    this.scenes = this.clips.map(() => new ClipScene(this.assets as ModelAssets, style));
    this.poses = this.clips.map(() => model.newPose());
    this.travels = this.clips.map((c) => {
      const p0 = model.pose(clipRow(c, 0)).track;
      let max = 0;
      for (let i = 1; i <= c.length; i++) {
        const p = model.pose(clipRow(c, i)).track;
        max = Math.max(max, Math.hypot(p[0] - p0[0], p[1] - p0[1]));
      }
      return max > 0.5 * model.extent;
    });
    // A model without a camera of its own is framed on what the clips show over all their
    // steps, unless the camera follows a travelling robot.
    this.framing = this.travels.some(Boolean) ? null : clipFraming(model, this.clips);
    const canvas = document.getElementById('c') as HTMLCanvasElement;
    canvas.width = setup.width;
    canvas.height = setup.height;
    canvas.style.width = `${setup.width}px`;
    canvas.style.height = `${setup.height}px`;
    this.renderer = makeRenderer(canvas, { shadows: setup.shadows, preserveDrawingBuffer: true });
    this.renderer.setPixelRatio(1);
    this.renderer.setSize(setup.width, setup.height, false);
    return { nq: model.nq, geoms: model.descriptors.length, skippedTextures: model.skippedTextures };
  }

  private view(spec: CameraSpec): OrbitView {
    const model = this.model as ReplayModel;
    const base = defaultView(model, this.framing);
    if (spec.kind === 'auto') return base;
    const target: [number, number, number] = [...model.center];
    const distance = 2.2 * model.extent;
    if (spec.kind === 'orbit') return { target, azimuth: spec.azimuth, elevation: spec.elevation, distance: spec.distance ?? distance };
    const presets = { side: [-90, 8], front: [0, 8], top: [-90, 89], iso: [-60, 25] } as const;
    const [azimuth, elevation] = presets[spec.name];
    return { target, azimuth, elevation, distance };
  }

  frame(steps: number[], opts: FrameOptions): string {
    const model = this.model;
    const renderer = this.renderer;
    const setup = this.setup;
    if (!model || !renderer || !setup) throw new Error('prefrlRender.frame before load');
    if (steps.length !== this.clips.length) throw new Error(`frame: ${steps.length} steps for ${this.clips.length} clips`);
    const panes = setup.layout === 'both' ? Math.min(2, this.clips.length) : 1;
    const paneW = panes === 2 ? Math.floor((setup.width - GAP) / 2) : setup.width;
    const v = this.view(opts.camera);
    this.camera.aspect = paneW / setup.height;
    placeCamera(this.camera, v);
    const target = new THREE.Vector3(v.target[0], v.target[1], v.target[2]);
    renderer.setScissorTest(true);
    renderer.setClearColor(0x14181e);
    renderer.setViewport(0, 0, setup.width, setup.height);
    renderer.setScissor(0, 0, setup.width, setup.height);
    renderer.clear();
    for (let k = 0; k < panes; k++) {
      const clip = this.clips[k];
      const pose = model.pose(clipRow(clip, steps[k]), this.poses[k]);
      const scene = this.scenes[k];
      scene.apply(pose);
      scene.setRobotVisible(!opts.hideRobot);
      const follow = opts.follow === 'on' || (opts.follow === 'auto' && this.travels[k]);
      const off: [number, number, number] = follow ? [pose.track[0] - model.track0[0], pose.track[1] - model.track0[1], 0] : [0, 0, 0];
      const x = k === 0 ? 0 : setup.width - paneW;
      renderer.setViewport(x, 0, paneW, setup.height);
      renderer.setScissor(x, 0, paneW, setup.height);
      renderWithOffset(renderer, scene, this.camera, target, off);
    }
    renderer.setScissorTest(false);
    return renderer.domElement.toDataURL('image/png');
  }

  dispose(): void {
    for (const s of this.scenes) s.dispose();
    this.scenes = [];
    this.assets?.dispose();
    this.assets = null;
    this.renderer?.dispose();
    this.renderer = null;
    this.model?.dispose();
    this.model = null;
  }
}

(window as unknown as { prefrlRender: RenderApi }).prefrlRender = new Renderer();
