/**
 * The contract between viewer/render.ts (Node, through playwright) and the headless render
 * page (viewer/client/render_entry.ts, `window.prefrlRender`). Types only; shared by both.
 */
import type { ModelPayload } from './protocol.js';

export interface RenderSetup {
  /** Output size in pixels (the whole image; with two panes each gets half the width). */
  readonly width: number;
  readonly height: number;
  /** One clip full size, or two side by side (clips[0] on the left). */
  readonly layout: 'single' | 'both';
  readonly shadows: boolean;
  readonly grid: boolean;
}

/** auto: the model's own view; a preset; or orbit angles (degrees) and distance (m; null = auto). */
export type CameraSpec =
  | { readonly kind: 'auto' }
  | { readonly kind: 'preset'; readonly name: 'side' | 'front' | 'top' | 'iso' }
  | { readonly kind: 'orbit'; readonly azimuth: number; readonly elevation: number; readonly distance: number | null };

export interface FrameOptions {
  readonly camera: CameraSpec;
  /** Hide the robot (the largest kinematic tree): only the world and loose objects remain. */
  readonly hideRobot: boolean;
  /** Move the camera with each robot; 'auto' when it travels more than half its size over the clip. */
  readonly follow: 'auto' | 'on' | 'off';
}

/** A clip as the page takes it: qpos rows [(length+1), nq] as base64 little-endian float64. */
export interface ClipPayload {
  readonly id: string;
  readonly length: number;
  readonly nq: number;
  readonly qpos: string;
}

/** What `load` reports: the model's nq, the geoms drawn, and one line per texture not drawn (with the reason). */
export interface LoadResult {
  readonly nq: number;
  readonly geoms: number;
  readonly skippedTextures: string[];
}

export interface RenderApi {
  load(model: ModelPayload, clips: ClipPayload[], setup: RenderSetup): Promise<LoadResult>;
  /** PNG data URL showing step steps[k] of clip k in pane k. */
  frame(steps: number[], opts: FrameOptions): string;
  dispose(): void;
}
