/**
 * Images of segments for a VLM: which steps are shown, how they become one PNG per side, and
 * the renderer that draws them.
 *
 * - `final` (RL-VLM-F): the segment's last state s_H, one frame.
 * - `strip` (option): k steps evenly spaced over 0..H (both ends included), tiled left to right
 *   (then top to bottom with `columns`) into one PNG, 4 px apart, so the model sees motion.
 * The view (size of each frame, camera, hidden robot, following camera) is configurable, and
 * can differ per env (`viewFor`).
 *
 * Drawing goes through the viewer's own headless renderer (viewer/render.ts, `ClipRenderer`:
 * three.js in headless Chromium), imported lazily so that code which never renders (tests
 * with a fake renderer, synthetic teachers) does not load playwright. The renderer is an
 * interface so tests and other backends can stand in.
 */
import { errorMessage, ServiceError } from '../../core/errors.js';
import type { EnvConfig } from '../../envs/registry.js';
import type { ModelPayload } from '../../viewer/protocol.js';
import type { CameraSpec } from '../../viewer/render_api.js';
import type { ClipRenderer, LaunchOptions } from '../../viewer/render.js';
import type { Segment } from '../types.js';
import { tilePngs } from './png.js';

export type { CameraSpec };

export interface VlmView {
  /** Width of one rendered frame, px (default 512). A strip is `columns` frames wide. */
  readonly width: number;
  /** Height of one rendered frame, px (default 384). */
  readonly height: number;
  /** Camera: the model's own view (auto), a preset, or orbit angles (default auto). */
  readonly camera: CameraSpec;
  /** Hide the robot body so it cannot occlude the objects (RL-VLM-F's tip; default false). */
  readonly hideRobot: boolean;
  /** Camera follows the robot: auto when it travels more than half its size (default auto). */
  readonly follow: 'auto' | 'on' | 'off';
  readonly shadows: boolean;
  readonly grid: boolean;
}

export const DEFAULT_VLM_VIEW: VlmView = { width: 512, height: 384, camera: { kind: 'auto' }, hideRobot: false, follow: 'auto', shadows: true, grid: true };

/** Most frames a strip may have. */
export const MAX_STRIP_FRAMES = 16;

/** Which steps of a segment one side's image shows. */
export type FrameMode = { readonly kind: 'final' } | { readonly kind: 'strip'; readonly frames: number; readonly columns?: number };

/** The view for segments of `envId`: the default with that env's overrides. */
export function viewFor(envId: string, base: VlmView, perEnv: Readonly<Record<string, Partial<VlmView>>> = {}): VlmView {
  return { ...base, ...(perEnv[envId] ?? {}) };
}

/** Steps (0..length) shown: [length] for `final`; k evenly spaced steps ending at `length` for `strip`. */
export function frameSteps(length: number, mode: FrameMode): number[] {
  if (!(Number.isInteger(length) && length >= 1)) throw new RangeError(`frameSteps: segment length must be a positive integer, got ${length}`);
  if (mode.kind === 'final') return [length];
  const k = mode.frames;
  if (!(Number.isInteger(k) && k >= 1)) throw new RangeError(`frameSteps: strip frames must be an integer >= 1, got ${k}`);
  if (k === 1) return [length];
  return Array.from({ length: k }, (_, i) => Math.round((i * length) / (k - 1)));
}

/** Draws chosen steps of a segment as PNG images. */
export interface SegmentFrameRenderer {
  /** One PNG per entry of `steps` (0..segment.length). */
  render(segment: Segment, steps: readonly number[], view: VlmView): Promise<Uint8Array[]>;
  /** Free the browser (or whatever the renderer holds); it may be used again afterwards. */
  close(): Promise<void>;
}

/** The one image of one side of a query: a single frame, or a tiled strip. */
export async function segmentImage(renderer: SegmentFrameRenderer, segment: Segment, mode: FrameMode, view: VlmView): Promise<Uint8Array> {
  const steps = frameSteps(segment.length, mode);
  const pngs = await renderer.render(segment, steps, view);
  if (pngs.length !== steps.length) throw new Error(`renderer returned ${pngs.length} images for ${steps.length} steps`);
  if (pngs.length === 1) return pngs[0];
  return tilePngs(pngs, { columns: mode.kind === 'strip' ? mode.columns : undefined });
}

export interface ChromiumFrameRendererOptions extends LaunchOptions {
  /**
   * The env config of the segments' model, needed for bring-your-own models ("custom:...");
   * registry envs are found from `segment.envId`.
   */
  readonly env?: EnvConfig;
  /** Told when Chromium went away (killed, crashed, out of memory) and a new one is started. */
  readonly onRestart?: (reason: string) => void;
}

/**
 * Renders through viewer/render.ts's ClipRenderer: one headless Chromium page launched on first
 * use and kept until `close()`; calls are serialised (one page draws one clip at a time). A
 * Chromium that goes away mid-job is started again once per call, so a long labelling run
 * survives a crash of its browser (not a browser passed in `opts.browser`, which is the caller's).
 */
export class ChromiumFrameRenderer implements SegmentFrameRenderer {
  private renderer: ClipRenderer | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly models = new Map<string, ModelPayload>();

  constructor(private readonly opts: ChromiumFrameRendererOptions = {}) {}

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async model(segment: Segment): Promise<ModelPayload> {
    const cached = this.models.get(segment.envId);
    if (cached) return cached;
    const env = this.opts.env ?? (segment.envId.startsWith('custom') ? undefined : { id: segment.envId });
    if (!env) throw new Error(`segment ${segment.id} is from a bring-your-own model (${segment.envId}); pass its env config to the renderer`);
    const { modelPayload } = await import('../../viewer/env_info.js');
    const m = modelPayload(env);
    this.models.set(segment.envId, m);
    return m;
  }

  render(segment: Segment, steps: readonly number[], view: VlmView): Promise<Uint8Array[]> {
    return this.serial(async () => {
      for (const s of steps) {
        if (!Number.isInteger(s) || s < 0 || s > segment.length) throw new RangeError(`render: step ${s} outside 0..${segment.length}`);
      }
      const mod = await import('../../viewer/render.js');
      const model = await this.model(segment);
      const draw = async (): Promise<Uint8Array[]> => {
        if (!this.renderer) this.renderer = await mod.ClipRenderer.launch(this.opts);
        const r = this.renderer;
        await r.load(model, [mod.clipPayload(segment)], { width: view.width, height: view.height, layout: 'single', shadows: view.shadows, grid: view.grid });
        const out: Uint8Array[] = [];
        for (const s of steps) out.push(new Uint8Array(await r.frame([s], { camera: view.camera, hideRobot: view.hideRobot, follow: view.follow })));
        return out;
      };
      try {
        return await draw();
      } catch (e) {
        if (this.opts.browser !== undefined || !mod.isBrowserGone(e)) throw e;
        const dead = this.renderer;
        this.renderer = null;
        await dead?.close().catch(() => undefined);
        this.opts.onRestart?.(`Chromium went away while rendering ${segment.id} (${errorMessage(e).split('\n')[0]}); starting a new one`);
        try {
          return await draw();
        } catch (e2) {
          if (!mod.isBrowserGone(e2)) throw e2;
          throw new ServiceError(`Chromium went away twice in a row while rendering ${segment.id}; is the machine out of memory? (${errorMessage(e2).split('\n')[0]})`);
        }
      }
    });
  }

  close(): Promise<void> {
    return this.serial(async () => {
      const r = this.renderer;
      this.renderer = null;
      if (r) await r.close();
    });
  }
}
