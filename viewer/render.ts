/**
 * Rendering clips to images and video through the viewer's own three.js scene, in headless
 * Chromium (playwright-core driving the system's chromium; WebGL2 runs on SwiftShader when
 * there is no GPU), encoded with ffmpeg. Frames look exactly like the labelling page, so a
 * video or a VLM's frames show what people see.
 *
 * - `ClipRenderer`: one browser page, many frames (launch once, `load` a model and clips,
 *   `frame(steps)` gives a PNG). The page's files are served from the build folder through
 *   playwright's request routing: no port is opened.
 * - `renderSegmentFrames(source, frames, opts)`: PNG buffers of chosen steps of a segment (the
 *   entry point for VLM teachers; `hideRobot` leaves only the world and loose objects).
 * - `renderClips(...)`: one clip or two side by side (a pair: `renderPair`) to .mp4 / .webm
 *   (ffmpeg, yuv420p) or a .png of one step.
 *
 * A missing chromium or ffmpeg is an InputError naming the package to install.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, delimiter, dirname, extname, join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { InputError, ServiceError, UsageError } from '../core/errors.js';
import { systemWriteError, withFileNamed } from '../core/files.js';
import { asset, isFolder } from '../core/paths.js';
import type { EnvConfig } from '../envs/registry.js';
import type { LabelStore } from '../reward/store.js';
import type { Pair, Segment } from '../reward/types.js';
import { modelPayload } from './env_info.js';
import { float64ToBase64, type ModelPayload } from './protocol.js';
import type { CameraSpec, ClipPayload, FrameOptions, LoadResult, RenderApi, RenderSetup } from './render_api.js';
import { resolveStaticPath } from './server.js';

export type { CameraSpec, FrameOptions, RenderSetup };

/** Flags Chromium runs with here (no sandbox inside containers, software GL, no network chatter). */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

const CHROMIUM_NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];

function which(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return null;
}

/** Path of a Chromium binary: `explicit`, $PREFRL_CHROMIUM, or chromium on the PATH. */
export function findChromium(explicit?: string): string {
  const want = explicit ?? process.env.PREFRL_CHROMIUM;
  if (want) {
    if (!existsSync(want)) throw new InputError(want, 'Chromium binary not found');
    return want;
  }
  for (const n of CHROMIUM_NAMES) {
    const p = which(n);
    if (p) return p;
  }
  throw new InputError('chromium', 'not found on the PATH; rendering needs a Chromium browser: install it with `sudo apt-get install chromium` (Debian/Ubuntu) or set PREFRL_CHROMIUM=/path/to/chrome');
}

/** Path of ffmpeg on the PATH (or $PREFRL_FFMPEG). */
export function findFfmpeg(): string {
  const want = process.env.PREFRL_FFMPEG;
  if (want) {
    if (!existsSync(want)) throw new InputError(want, 'ffmpeg binary not found');
    return want;
  }
  const p = which('ffmpeg');
  if (!p) throw new InputError('ffmpeg', 'not found on the PATH; video output needs it: install it with `sudo apt-get install ffmpeg` (Debian/Ubuntu)');
  return p;
}

const MIME: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm', '.map': 'application/json', '.txt': 'text/plain' };

/**
 * Serve the page's files on a loopback port for the headless browser (GET only, files of the
 * build folder only). Faster than request interception for the 10 MB of WebAssembly.
 */
async function serveFiles(root: string): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const file = req.method === 'GET' ? resolveStaticPath(root, (req.url ?? '/').split('?')[0]) : null;
    if (!file) {
      res.statusCode = 404;
      res.end();
      return;
    }
    res.setHeader('Content-Type', MIME[extname(file)] ?? 'application/octet-stream');
    res.end(readFileSync(file));
  });
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(0, '127.0.0.1', () => res());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((res) => {
        server.close(() => res());
        server.closeAllConnections();
      }),
  };
}

export function clipPayload(seg: Segment): ClipPayload {
  return { id: seg.id, length: seg.length, nq: seg.nq, qpos: float64ToBase64(seg.qpos) };
}

export interface LaunchOptions {
  /** Chromium binary (default: findChromium()). */
  readonly chromium?: string;
  /** The built page (default dist/viewer-web). */
  readonly staticDir?: string;
  /** An already running browser to open the page in (not closed by `close()`). */
  readonly browser?: Browser;
  /** Where a line about the model goes (a texture not drawn; default: stderr, tagged `[viewer]`). */
  readonly warn?: (line: string) => void;
}

/** A headless render page: load a model and clips once, then render any steps of them. */
export class ClipRenderer {
  private constructor(
    private readonly page: Page,
    private readonly browser: Browser,
    private readonly ownsBrowser: boolean,
    private readonly files: { close(): Promise<void> },
    private readonly warn: (line: string) => void,
  ) {}

  static async launch(opts: LaunchOptions = {}): Promise<ClipRenderer> {
    const staticDir = resolve(opts.staticDir ?? asset('dist/viewer-web'));
    if (!existsSync(join(staticDir, 'render.html'))) throw new InputError(staticDir, 'the viewer page is not built (no render.html); run `npm run build` in the prefrl folder');
    let browser = opts.browser;
    const owns = browser === undefined;
    if (!browser) {
      const exe = findChromium(opts.chromium);
      const { chromium } = await import('playwright-core');
      try {
        // playwright gives every launch a fresh temporary profile (user-data dir) and removes it on close.
        browser = await chromium.launch({ executablePath: exe, args: CHROMIUM_ARGS, headless: true });
      } catch (e) {
        throw new InputError(exe, `Chromium did not start: ${(e as Error).message.split('\n')[0]}`);
      }
    }
    const files = await serveFiles(staticDir);
    const page = await browser.newPage({ viewport: { width: 64, height: 64 } });
    try {
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${files.url}render.html`);
      await page.waitForFunction(() => 'prefrlRender' in window, null, { timeout: 30_000 });
      if (errors.length) throw new Error(`render page failed: ${errors.join('; ')}`);
    } catch (e) {
      await page.close().catch(() => undefined);
      await files.close();
      if (owns) await browser.close().catch(() => undefined);
      throw e;
    }
    return new ClipRenderer(page, browser, owns, files, opts.warn ?? ((line) => process.stderr.write(`[viewer] ${line}\n`)));
  }

  /**
   * Compile the model and take the clips (one per pane; at most two are shown side by side).
   * Each texture the page does not draw (too large, or a cube or skybox) is named through `warn`.
   */
  async load(model: ModelPayload, clips: readonly ClipPayload[], setup: RenderSetup): Promise<LoadResult> {
    if (!(setup.width >= 16 && setup.height >= 16 && setup.width <= 4096 && setup.height <= 4096)) throw new UsageError(`render size ${setup.width}x${setup.height}: use 16..4096 pixels`);
    await this.page.setViewportSize({ width: setup.width, height: setup.height });
    const r = await this.page.evaluate(([m, c, s]) => (window as unknown as { prefrlRender: RenderApi }).prefrlRender.load(m, c, s), [model, clips as ClipPayload[], setup] as const);
    for (const line of r.skippedTextures) this.warn(`${model.name}: ${line}`);
    return r;
  }

  /** PNG bytes of step steps[k] of clip k. */
  async frame(steps: readonly number[], opts: FrameOptions): Promise<Buffer> {
    const url = await this.page.evaluate(([st, o]) => (window as unknown as { prefrlRender: RenderApi }).prefrlRender.frame(st, o), [steps as number[], opts] as const);
    const comma = url.indexOf(',');
    if (!url.startsWith('data:image/png;base64,') || comma < 0) throw new Error('render page returned no PNG');
    return Buffer.from(url.slice(comma + 1), 'base64');
  }

  async close(): Promise<void> {
    await this.page.close().catch(() => undefined);
    if (this.ownsBrowser) await this.browser.close().catch(() => undefined);
    await this.files.close();
  }
}

export interface FrameRenderOptions extends Partial<FrameOptions>, LaunchOptions {
  readonly width?: number;
  readonly height?: number;
  readonly shadows?: boolean;
  readonly grid?: boolean;
}

/** Where a segment and its model come from. */
export type SegmentSource =
  | { readonly segment: Segment; readonly env: EnvConfig; readonly model?: undefined }
  | { readonly segment: Segment; readonly model: ModelPayload; readonly env?: undefined }
  | { readonly store: LabelStore; readonly segmentId: string; readonly env?: EnvConfig };

function resolveSource(src: SegmentSource): { segment: Segment; model: ModelPayload } {
  if ('store' in src) {
    const segment = src.store.getSegment(src.segmentId);
    if (!segment) throw new InputError(src.store.path, `no segment ${src.segmentId}`);
    const env = src.env ?? (segment.envId.startsWith('custom:') ? undefined : { id: segment.envId });
    if (!env) throw new UsageError(`segment ${segment.id} is from a bring-your-own model (${segment.envId}); pass its env config`);
    return { segment, model: modelPayload(env) };
  }
  return { segment: src.segment, model: src.model ?? modelPayload(src.env as EnvConfig) };
}

/**
 * PNG images of the given steps (0..H) of one segment, rendered through the viewer's scene.
 * For many calls, pass `browser` (a running playwright Browser) to skip the launch.
 */
export async function renderSegmentFrames(source: SegmentSource, frames: readonly number[], opts: FrameRenderOptions = {}): Promise<Buffer[]> {
  const { segment, model } = resolveSource(source);
  for (const f of frames) {
    if (!Number.isInteger(f) || f < 0 || f > segment.length) throw new RangeError(`renderSegmentFrames: step ${f} outside 0..${segment.length}`);
  }
  const r = await ClipRenderer.launch(opts);
  try {
    await r.load(model, [clipPayload(segment)], { width: opts.width ?? 512, height: opts.height ?? 384, layout: 'single', shadows: opts.shadows ?? true, grid: opts.grid ?? true });
    const fo: FrameOptions = { camera: opts.camera ?? { kind: 'auto' }, hideRobot: opts.hideRobot ?? false, follow: opts.follow ?? 'auto' };
    const out: Buffer[] = [];
    for (const f of frames) out.push(await r.frame([f], fo));
    return out;
  } finally {
    await r.close();
  }
}

export type Side = 'a' | 'b' | 'both';

/** The clips of a pair that a side shows: a and b (a left), or one of them. */
export function pairClips(pair: Pair, side: Side): Segment[] {
  return side === 'a' ? [pair.a] : side === 'b' ? [pair.b] : [pair.a, pair.b];
}

export interface ClipRenderOptions extends FrameRenderOptions {
  /** Video frame rate (default: defaultFps(dt), real time at most MAX_DEFAULT_FPS). */
  readonly fps?: number;
  /** Step shown in a .png (default 0). */
  readonly step?: number;
  /** Seconds per env step (for real-time video). */
  readonly dt: number;
  /** Called after each video frame is written: frames done and the total (progress). */
  readonly onFrame?: (done: number, total: number) => void;
}

export interface PairRenderOptions extends ClipRenderOptions {
  readonly side?: Side;
}

export interface RenderResult {
  readonly out: string;
  readonly frames: number;
  readonly width: number;
  readonly height: number;
  readonly fps: number | null;
  readonly seconds: number;
}

/** Highest frame rate a video gets by default: envs with shorter steps show every k-th step, still in real time. */
export const MAX_DEFAULT_FPS = 60;

/** The default video frame rate for steps of `dt` s: one frame per step (real time), at most MAX_DEFAULT_FPS. */
export function defaultFps(dt: number): number {
  return Math.min(MAX_DEFAULT_FPS, Math.max(1, Math.round(1 / dt)));
}

/** Steps shown at each video frame when a clip of `length` steps of `dt` s plays at `fps`. */
export function videoSteps(length: number, dt: number, fps: number): number[] {
  const duration = length * dt;
  const n = Math.max(1, Math.floor(duration * fps + 1e-9) + 1);
  return Array.from({ length: n }, (_, i) => Math.min(length, Math.round(i / fps / dt)));
}

/**
 * Check a render's output path and step before any work: a .mp4, .webm or .png name in an
 * existing folder, and (for a .png) a step within the clips. Throws a UsageError naming the flag.
 */
export function checkRenderTarget(clips: readonly Segment[], out: string, step?: number): void {
  const ext = extname(out).toLowerCase();
  if (!['.mp4', '.webm', '.png'].includes(ext)) throw new UsageError(`--out ${out}: expected a .mp4, .webm or .png file`);
  const folder = dirname(resolve(out));
  if (!isFolder(folder)) throw new UsageError(`--out ${out}: ${folder} is not an existing folder`);
  if (isFolder(out)) throw new UsageError(`--out ${out}: is a folder`);
  const length = Math.max(...clips.map((s) => s.length));
  if (ext === '.png') {
    const s = step ?? 0;
    if (!Number.isInteger(s) || s < 0 || s > length) throw new UsageError(`--step ${s}: the clips have steps 0..${length}`);
  }
}

/** Render a pair (or one side of it): `renderClips` of its clips. */
export function renderPair(pair: Pair, model: ModelPayload, out: string, opts: PairRenderOptions): Promise<RenderResult> {
  return renderClips(pairClips(pair, opts.side ?? 'both'), model, out, opts);
}

/**
 * Where renderClips writes `out` until it is complete (beside it, hidden, this process's own;
 * ffmpeg picks the container by the extension, so the name keeps it).
 */
function renderTempPath(out: string): string {
  return join(dirname(resolve(out)), `.${basename(out, extname(out))}.tmp-${process.pid}${extname(out).toLowerCase()}`);
}

/**
 * Render one clip, or two side by side (the first left), to .mp4, .webm or .png (by the
 * extension of `out`); a shorter clip holds its last step. The file is written under a
 * temporary name in the same folder and renamed when complete, so a failed render leaves an
 * existing file of that name as it was.
 */
export async function renderClips(segs: readonly Segment[], model: ModelPayload, out: string, opts: ClipRenderOptions): Promise<RenderResult> {
  if (segs.length < 1 || segs.length > 2) throw new RangeError(`renderClips: one or two clips, got ${segs.length}`);
  const started = performance.now();
  const ext = extname(out).toLowerCase();
  checkRenderTarget(segs, out, opts.step);
  const tmp = renderTempPath(out);
  const ffmpeg = ext === '.png' ? null : findFfmpeg();
  let width = opts.width ?? (segs.length === 2 ? 1280 : 640);
  let height = opts.height ?? 480;
  if (ext !== '.png') {
    // yuv420p needs even sizes.
    width += width % 2;
    height += height % 2;
  }
  const fo: FrameOptions = { camera: opts.camera ?? { kind: 'auto' }, hideRobot: opts.hideRobot ?? false, follow: opts.follow ?? 'auto' };
  const r = await ClipRenderer.launch(opts);
  let written = false;
  let onExit: (() => void) | null = null;
  try {
    await r.load(model, segs.map(clipPayload), { width, height, layout: segs.length === 2 ? 'both' : 'single', shadows: opts.shadows ?? true, grid: opts.grid ?? true });
    const length = Math.max(...segs.map((s) => s.length));
    if (ext === '.png') {
      const step = opts.step ?? 0;
      const png = await r.frame(
        segs.map(() => step),
        fo,
      );
      try {
        writeFileSync(tmp, png);
      } catch (e) {
        throw withFileNamed(e, out); // a full disk: the image asked for is named, not the temporary file
      }
      renameSync(tmp, out);
      written = true;
      return { out, frames: 1, width, height, fps: null, seconds: (performance.now() - started) / 1000 };
    }
    const fps = opts.fps ?? defaultFps(opts.dt);
    const steps = videoSteps(length, opts.dt, fps);
    const codec = ext === '.mp4' ? ['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '20', '-movflags', '+faststart'] : ['-c:v', 'libvpx-vp9', '-b:v', '0', '-crf', '34', '-deadline', 'good', '-cpu-used', '4', '-row-mt', '1'];
    const args = ['-y', '-loglevel', 'error', '-f', 'image2pipe', '-framerate', String(fps), '-c:v', 'png', '-i', '-', '-an', ...codec, '-pix_fmt', 'yuv420p', tmp];
    const proc = spawn(ffmpeg as string, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    // A process that exits mid-video (Ctrl-C) must not leave ffmpeg behind to finish a partial
    // video from what it was given so far: kill it, and remove what it wrote.
    onExit = (): void => {
      proc.kill('SIGKILL');
      rmSync(tmp, { force: true });
    };
    process.on('exit', onExit);
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const done = new Promise<number>((res, rej) => {
      proc.on('error', rej);
      proc.on('close', (code) => res(code ?? 1));
    });
    const write = (b: Buffer) =>
      new Promise<void>((res, rej) => {
        proc.stdin.write(b, (e) => (e ? rej(e) : res()));
      });
    // An ffmpeg that stops early closes its input: the write fails, and its exit code says why.
    let writeError: unknown = null;
    proc.stdin.on('error', (e) => {
      writeError ??= e;
    });
    let frameError: unknown = null;
    let framesDone = 0;
    try {
      for (const s of steps) {
        const png = await r.frame(
          segs.map(() => s),
          fo,
        );
        try {
          await write(png);
        } catch (e) {
          writeError ??= e;
          break;
        }
        opts.onFrame?.(++framesDone, steps.length);
      }
    } catch (e) {
      frameError = e;
    } finally {
      proc.stdin.end();
    }
    const code = await done;
    if (frameError) throw browserGone(frameError, framesDone, steps.length, out);
    if (code === 0 && writeError) throw writeError;
    if (code !== 0) throw systemWriteError(stderr, out) ?? new InputError(out, `ffmpeg failed (exit ${code}): ${stderr.trim().split('\n').slice(-3).join(' ')}`);
    // ffmpeg exits 0 when it cannot write the end of the file ("Error writing trailer of <file>: No
    // space left on device"): a video cut off there must not be renamed to `out`. At -loglevel
    // error anything on stderr is an error.
    if (stderr.trim() !== '') throw systemWriteError(stderr, out) ?? new InputError(out, `ffmpeg reported: ${stderr.trim().split('\n').slice(-3).join(' ').replaceAll(tmp, out)}`);
    renameSync(tmp, out);
    written = true;
    return { out, frames: steps.length, width, height, fps, seconds: (performance.now() - started) / 1000 };
  } finally {
    if (onExit) process.off('exit', onExit);
    if (!written) rmSync(tmp, { force: true });
    await r.close();
  }
}

/** A playwright error that means the browser, its context or the page is gone. */
export function isBrowserGone(err: unknown): boolean {
  const msg = err instanceof Error ? err.message : String(err);
  return /has been closed|Target closed|crashed|disconnected/i.test(msg);
}

/**
 * A frame that failed because Chromium went away (it crashed, was killed, or ran out of memory)
 * is not a bug of prefrl's: say so in one line, with where the render stopped and what helps.
 * Other errors pass through as they are.
 */
function browserGone(err: unknown, framesDone: number, frames: number, out: string): unknown {
  if (!isBrowserGone(err)) return err;
  return new ServiceError(
    `Chromium closed during the render, after ${framesDone} of ${frames} frames; nothing was written to ${out}. ` +
      'If the machine is short of memory, render fewer frames (--fps), smaller ones (--width, --height) or without shadows (--no-shadows)',
  );
}

/** True when chromium and (for video) ffmpeg are available; for tests that must skip without them. */
export function renderToolsAvailable(video = true): boolean {
  try {
    findChromium();
    if (video) findFfmpeg();
    return spawnSync(findChromium(), ['--version'], { timeout: 10_000 }).status === 0;
  } catch {
    return false;
  }
}
