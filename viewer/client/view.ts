/**
 * The comparison view: two panes (left and right clip), each a WebGL canvas with its own
 * scene, looping in sync on one clock, seen through ONE camera that an orbit control on the
 * clip area moves (drag to orbit, right-drag / shift-drag to pan, wheel to zoom; on a touch
 * screen a sideways drag orbits, two fingers pinch to zoom and pan, and a vertical swipe scrolls
 * the page), so both robots are always seen from the same angle. With "follow" on each pane
 * shifts the shared camera by its own robot's displacement, so runners stay in view while the
 * grid shows their progress.
 *
 * A model without a camera of its own is framed on what each pair shows over all its steps
 * (clipFraming, as in headless rendering), pair after pair, until the person moves the camera:
 * from then on their view stays put across pairs (it is theirs, and a view that jumps on every
 * pair would undo it), until "reset view" frames the current pair again. A model with a camera
 * (all built-in envs) keeps that camera's view.
 *
 * Rendering happens only when something changed (a new step, a camera move, a resize), which
 * keeps the page light on a teacher's laptop.
 */
import * as THREE from 'three';
import { OrbitControls } from 'three/addons/controls/OrbitControls.js';
import { type Clip, clipFraming, clipRow, type Framing, type Pose, type ReplayModel } from './replay.js';
import { ClipScene, DEFAULT_STYLE, defaultView, makeRenderer, ModelAssets, placeCamera, renderWithOffset, type SceneStyle } from './scene.js';

export const SPEEDS = [0.25, 0.5, 1, 1.5, 2] as const;
/** Pause at the end of each loop so the final state can be seen, s. */
const END_HOLD_S = 0.6;

export interface ViewElements {
  /** Holds both panes; the orbit control listens here. */
  readonly area: HTMLElement;
  readonly left: HTMLCanvasElement;
  readonly right: HTMLCanvasElement;
}

interface Pane {
  readonly canvas: HTMLCanvasElement;
  readonly renderer: THREE.WebGLRenderer;
  scene: ClipScene | null;
  clip: Clip | null;
  pose: Pose | null;
  width: number;
  height: number;
}

/** Where the camera is, and whether the person had moved it (to put back after a swipe that scrolled the page). */
interface CameraPlace {
  position: THREE.Vector3;
  quaternion: THREE.Quaternion;
  target: THREE.Vector3;
  userMoved: boolean;
}

export interface ViewState {
  readonly playing: boolean;
  readonly speed: number;
  readonly frame: number;
  readonly frames: number;
  readonly time: number;
  readonly follow: boolean;
}

export class ComparisonView {
  readonly camera = new THREE.PerspectiveCamera(40, 4 / 3, 0.01, 1000);
  readonly controls: OrbitControls;
  private readonly panes: [Pane, Pane];
  private model: ReplayModel | null = null;
  private assets: ModelAssets | null = null;
  private dt = 0.02;
  private t = 0;
  private frame = -1;
  private playing = true;
  private speed = 1;
  private follow = false;
  private dirty = true;
  private last = 0;
  private raf = 0;
  private readyFired = false;
  /** The clips are out of sight (another tab of the page): nothing advances or is drawn. */
  private hidden = false;
  /** What the auto view frames for the current pair (null: the model's own view). */
  private framing: Framing | null = null;
  /** The person moved the camera since it was last placed for them. */
  private userMoved = false;
  /** Between the controls' 'start' and 'end': a gesture of the person's is under way. */
  private gesture = false;
  /** The view is placing the camera itself (its moves are not the person's). */
  private placing = false;
  /** Touch or pen pointers down on the clip area now. */
  private readonly touching = new Set<number>();
  /** The camera as it was when the first of them went down (restored if the browser takes the gesture over). */
  private touchStart: (CameraPlace & { id: number; x0: number; y0: number; x: number; y: number; fingers: number }) | null = null;
  private readonly listening = new AbortController();
  private readonly observer: ResizeObserver;
  /** Called once per pair, after both panes showed its first frame. */
  onReady: (() => void) | null = null;
  /** Called when play state, step or speed change (for the transport bar). */
  onState: ((s: ViewState) => void) | null = null;

  constructor(
    els: ViewElements,
    private readonly style: SceneStyle = DEFAULT_STYLE,
  ) {
    const mk = (canvas: HTMLCanvasElement): Pane => ({
      canvas,
      renderer: makeRenderer(canvas, { shadows: style.shadows, preserveDrawingBuffer: true }),
      scene: null,
      clip: null,
      pose: null,
      width: 0,
      height: 0,
    });
    this.panes = [mk(els.left), mk(els.right)];
    this.camera.up.set(0, 0, 1);
    this.controls = new OrbitControls(this.camera, els.area);
    this.controls.enableDamping = false;
    this.controls.screenSpacePanning = true;
    // OrbitControls sets touch-action: none on the clip area, which leaves a phone user no way to
    // scroll past the clips (they fill most of its screen) to the answers. The stylesheet's pan-y
    // applies instead: the browser scrolls the page on a vertical swipe and hands a sideways drag
    // (orbit) and two fingers (pinch to zoom, pan) to the controls.
    els.area.style.touchAction = '';
    this.controls.addEventListener('change', () => {
      this.dirty = true;
      // The person moved the camera when it moved during their gesture (a drag, a pinch, the
      // wheel); a click or a tap that moves nothing leaves the automatic view on.
      if (this.gesture && !this.placing) this.userMoved = true;
    });
    // 'start' and 'end' come from the person only, never from update().
    this.controls.addEventListener('start', () => {
      this.gesture = true;
    });
    this.controls.addEventListener('end', () => {
      this.gesture = false;
    });
    this.watchTouch(els.area);
    this.observer = new ResizeObserver(() => this.resize());
    this.observer.observe(els.left);
    this.observer.observe(els.right);
    this.resize();
    this.raf = requestAnimationFrame((t) => this.tick(t));
  }

  /**
   * A vertical swipe on the clips is the browser's (touch-action pan-y: it scrolls the page), but
   * it reaches the controls first, as a pointerdown and the moves within the browser's touch
   * slop (a few pixels, enough to turn the camera a little), and ends in pointercancel when the
   * browser takes it over. Then the camera goes back exactly to where it was when the finger went
   * down, and the swipe does not count as the person moving it. A gesture cancelled otherwise (a
   * sideways drag, two fingers: the browser leaves those to the page) keeps what it did.
   *
   * Two fingers on the clips are the camera's: Chromium leaves them to the page under pan-y; for
   * browsers that would scroll with them their touchmoves are cancelled.
   */
  private watchTouch(area: HTMLElement): void {
    const signal = this.listening.signal;
    area.addEventListener(
      'pointerdown',
      (e) => {
        if (e.pointerType === 'mouse') return;
        // The first finger of a gesture is the primary pointer (no other is down): start afresh.
        if (e.isPrimary || this.touching.size === 0) {
          this.touching.clear();
          this.touchStart = { ...this.cameraNow(), id: e.pointerId, x0: e.clientX, y0: e.clientY, x: e.clientX, y: e.clientY, fingers: 0 };
        }
        this.touching.add(e.pointerId);
        if (this.touchStart) this.touchStart.fingers = Math.max(this.touchStart.fingers, this.touching.size);
      },
      { signal },
    );
    area.addEventListener(
      'pointermove',
      (e) => {
        const s = this.touchStart;
        if (s && e.pointerId === s.id) [s.x, s.y] = [e.clientX, e.clientY];
      },
      { signal },
    );
    const lift = (e: PointerEvent, cancelled: boolean): void => {
      if (!this.touching.delete(e.pointerId)) return;
      const s = this.touchStart;
      // The browser takes over one finger moving more up or down than sideways (pan-y).
      if (cancelled && s && s.fingers === 1 && Math.abs(s.y - s.y0) >= Math.abs(s.x - s.x0)) {
        // Put back exactly (controls.update() would recompute the position, a rounding off).
        this.camera.position.copy(s.position);
        this.camera.quaternion.copy(s.quaternion);
        this.controls.target.copy(s.target);
        this.userMoved = s.userMoved;
        this.dirty = true;
      }
      if (this.touching.size === 0) this.touchStart = null;
    };
    area.addEventListener('pointerup', (e) => lift(e, false), { signal });
    area.addEventListener('pointercancel', (e) => lift(e, true), { signal });
    area.addEventListener(
      'touchmove',
      (e) => {
        let fingers = 0;
        for (let i = 0; i < e.touches.length; i++) if (e.touches[i].target instanceof Node && area.contains(e.touches[i].target as Node)) fingers++;
        if (fingers >= 2 && e.cancelable) e.preventDefault();
      },
      { passive: false, signal },
    );
  }

  private cameraNow(): CameraPlace {
    return { position: this.camera.position.clone(), quaternion: this.camera.quaternion.clone(), target: this.controls.target.clone(), userMoved: this.userMoved };
  }

  private resize(): void {
    const dpr = Math.min(2, window.devicePixelRatio || 1);
    for (const p of this.panes) {
      const w = Math.max(1, p.canvas.clientWidth);
      const h = Math.max(1, p.canvas.clientHeight);
      if (w !== p.width || h !== p.height) {
        p.width = w;
        p.height = h;
        p.renderer.setPixelRatio(dpr);
        p.renderer.setSize(w, h, false);
      }
    }
    this.camera.aspect = this.panes[0].width / this.panes[0].height;
    this.camera.updateProjectionMatrix();
    this.dirty = true;
  }

  /** Show clips of a (new) model: builds both scenes and resets the camera to the model's view. */
  setModel(model: ReplayModel): void {
    if (this.model === model) return;
    for (const p of this.panes) {
      p.scene?.dispose();
      p.scene = null;
      p.clip = null;
      p.pose = null;
    }
    this.assets?.dispose();
    this.model = model;
    this.assets = new ModelAssets(model);
    for (const p of this.panes) {
      p.scene = new ClipScene(this.assets, this.style);
      p.pose = model.newPose();
    }
    this.framing = null;
    this.resetCamera();
  }

  /** Put the camera back to the model's starting view (framing the current pair) and let it follow new pairs again. */
  resetCamera(): void {
    if (!this.model) return;
    this.userMoved = false;
    this.placeView();
  }

  private placeView(): void {
    const v = defaultView(this.model as ReplayModel, this.framing);
    this.placing = true;
    placeCamera(this.camera, v);
    this.controls.target.set(v.target[0], v.target[1], v.target[2]);
    this.controls.update();
    this.placing = false;
    // A swipe under way that the browser takes over later goes back to this view, not the one before.
    if (this.touchStart) Object.assign(this.touchStart, this.cameraNow());
    this.dirty = true;
  }

  /** Load a pair's clips (same model), restart from step 0; follow is on when the robots travel. */
  setClips(left: Clip, right: Clip, dt: number): void {
    const model = this.model;
    if (!model) throw new Error('ComparisonView.setClips before setModel');
    for (const c of [left, right]) {
      if (c.nq !== model.nq) throw new Error(`clip ${c.id} has nq ${c.nq}, the model has ${model.nq}`);
    }
    this.panes[0].clip = left;
    this.panes[1].clip = right;
    this.dt = dt > 0 ? dt : 0.02;
    this.t = 0;
    this.frame = -1;
    this.readyFired = false;
    this.follow = this.travels(left) || this.travels(right);
    // A camera-less model is framed on this pair (unless the camera follows travelling robots),
    // and the camera moves there unless the person has placed it themselves.
    this.framing = this.follow ? null : clipFraming(model, [left, right]);
    if (!model.camera && !this.userMoved) this.placeView();
    this.dirty = true;
    this.emit();
  }

  /** Where the camera is and looks (for tests). */
  cameraState(): { position: [number, number, number]; target: [number, number, number] } {
    const p = this.camera.position;
    const t = this.controls.target;
    return { position: [p.x, p.y, p.z], target: [t.x, t.y, t.z] };
  }

  /** Show nothing (no pair). */
  clearClips(): void {
    this.panes[0].clip = null;
    this.panes[1].clip = null;
    this.readyFired = true;
    this.dirty = true;
  }

  get hasClips(): boolean {
    return this.panes[0].clip !== null;
  }

  private travels(c: Clip): boolean {
    const m = this.model as ReplayModel;
    const p0 = m.pose(clipRow(c, 0)).track;
    let max = 0;
    for (let i = 1; i <= c.length; i += Math.max(1, Math.floor(c.length / 20))) {
      const p = m.pose(clipRow(c, i)).track;
      max = Math.max(max, Math.hypot(p[0] - p0[0], p[1] - p0[1]));
    }
    return max > 0.5 * m.extent;
  }

  private get frames(): number {
    const a = this.panes[0].clip?.length ?? 0;
    const b = this.panes[1].clip?.length ?? 0;
    return Math.max(a, b) + 1;
  }

  state(): ViewState {
    return { playing: this.playing, speed: this.speed, frame: Math.max(0, this.frame), frames: this.frames, time: Math.max(0, this.frame) * this.dt, follow: this.follow };
  }

  private emit(): void {
    this.onState?.(this.state());
  }

  togglePlay(): void {
    this.playing = !this.playing;
    this.emit();
  }

  setPlaying(p: boolean): void {
    this.playing = p;
    this.emit();
  }

  setSpeed(s: number): void {
    this.speed = Math.max(0.05, Math.min(8, s));
    this.emit();
  }

  /** Faster / slower through the speed list. */
  stepSpeed(dir: 1 | -1): void {
    const i = SPEEDS.findIndex((x) => x >= this.speed - 1e-9);
    const j = Math.max(0, Math.min(SPEEDS.length - 1, (i < 0 ? SPEEDS.length - 1 : i) + dir));
    this.setSpeed(SPEEDS[j]);
  }

  /** Jump to a step (pauses playback so the step stays on screen). */
  seek(frame: number, pause = true): void {
    const f = Math.max(0, Math.min(this.frames - 1, Math.round(frame)));
    this.t = f * this.dt;
    if (pause) this.playing = false;
    this.emit();
  }

  stepFrame(dir: 1 | -1): void {
    this.seek(Math.max(0, this.frame) + dir, true);
  }

  setFollow(f: boolean): void {
    this.follow = f;
    this.dirty = true;
    this.emit();
  }

  /**
   * Out of sight (the HERON tab), the clips stop where they are and are not drawn: they kept
   * playing and drawing (into 1-pixel canvases, shadows and all) for nothing. Back in sight they
   * go on from there, and a pair that came meanwhile is first ready (its answer time starts) then.
   */
  setHidden(hidden: boolean): void {
    if (hidden === this.hidden) return;
    this.hidden = hidden;
    this.last = 0;
    this.dirty = true;
  }

  toggleFollow(): void {
    this.setFollow(!this.follow);
  }

  private tick(now: number): void {
    this.raf = requestAnimationFrame((t) => this.tick(t));
    if (this.hidden) return;
    const elapsed = this.last > 0 ? Math.min(0.25, (now - this.last) / 1000) : 0;
    this.last = now;
    const model = this.model;
    if (!model) return;
    const n = this.frames;
    if (this.playing && this.hasClips) {
      this.t += elapsed * this.speed;
      const period = n * this.dt + END_HOLD_S;
      if (this.t >= period) this.t %= period;
    }
    const f = Math.min(n - 1, Math.floor(this.t / this.dt + 1e-9));
    if (f !== this.frame) {
      this.frame = f;
      for (const p of this.panes) if (p.clip && p.scene && p.pose) p.scene.apply(model.pose(clipRow(p.clip, f), p.pose));
      this.dirty = true;
      this.emit();
    }
    if (!this.dirty) return;
    this.dirty = false;
    this.render();
    if (!this.readyFired && this.hasClips) {
      this.readyFired = true;
      this.onReady?.();
    }
  }

  /** Draw both panes now. */
  render(): void {
    const model = this.model;
    if (!model) return;
    for (const p of this.panes) {
      if (!p.scene) continue;
      if (!p.clip) {
        p.renderer.setClearColor(this.style.background);
        p.renderer.clear();
        continue;
      }
      const off: [number, number, number] = this.follow && p.pose ? [p.pose.track[0] - model.track0[0], p.pose.track[1] - model.track0[1], 0] : [0, 0, 0];
      renderWithOffset(p.renderer, p.scene, this.camera, this.controls.target, off);
    }
  }

  dispose(): void {
    cancelAnimationFrame(this.raf);
    this.observer.disconnect();
    this.listening.abort();
    this.controls.dispose();
    for (const p of this.panes) {
      p.scene?.dispose();
      p.renderer.dispose();
    }
    this.assets?.dispose();
  }
}
