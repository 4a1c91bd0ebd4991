/**
 * `prefrl render`: a stored pair (or one of its clips) to a video (.mp4 / .webm) or an image
 * (.png), rendered by the viewer's own three.js scene in headless Chromium and encoded with
 * ffmpeg (yuv420p).
 */
import { existsSync } from 'node:fs';
import { flags } from '../../core/config.js';
import { InputError, UsageError } from '../../core/errors.js';
import { envConfigFromArgs } from '../../envs/registry.js';
import { LabelStore } from '../../reward/store.js';
import { envConfigForStore, modelPayload } from '../../viewer/env_info.js';
import { type CameraSpec, checkRenderTarget, renderPair } from '../../viewer/render.js';
import { type Command, parseOrHelp, printJson } from '../command.js';

const spec = {
  command: 'prefrl render',
  summary: 'Render a stored pair (both clips side by side, or one) to .mp4, .webm or .png with the viewer\'s scene in headless Chromium.',
  flags: {
    store: flags.string({ doc: 'label store (.sqlite)' }),
    pair: flags.string({ doc: 'pair id, or its 0-based index in hand-out order' }),
    out: flags.string({ doc: 'output file: .mp4, .webm (video) or .png (one step)' }),
    side: flags.choice(['both', 'a', 'b'] as const, { doc: 'both clips side by side (a left), or one', default: 'both' }),
    width: flags.int({ doc: 'image width, px', optional: true, defaultDoc: '1280 for both, 640 for one', min: 16, max: 4096 }),
    height: flags.int({ doc: 'image height, px', default: 480, min: 16, max: 4096 }),
    fps: flags.float({ doc: 'video frames per second', optional: true, defaultDoc: 'real time, 1 / env dt', min: 1, max: 240 }),
    step: flags.int({ doc: 'step shown in a .png', default: 0, min: 0 }),
    camera: flags.string({ doc: 'auto | side | front | top | iso | AZ,EL[,DIST] (degrees, metres)', default: 'auto' }),
    follow: flags.choice(['auto', 'on', 'off'] as const, { doc: 'camera follows each robot (auto: when it travels)', default: 'auto' }),
    hideRobot: flags.bool({ doc: 'hide the robot, keep the world and loose objects', default: false }),
    shadows: flags.bool({ doc: 'draw shadows (--no-shadows to turn off)', default: true }),
    env: flags.string({ doc: 'env id or MJCF path, when the store alone does not say (bring-your-own models)', optional: true }),
    task: flags.string({ doc: 'task module of a bring-your-own model', optional: true }),
    chromium: flags.string({ doc: 'Chromium binary', optional: true, defaultDoc: '$PREFRL_CHROMIUM or chromium on the PATH' }),
    json: flags.bool({ doc: 'print one JSON summary object as the last line', default: false }),
  },
  epilog: [
    'Examples:',
    '  prefrl render --store runs/<id>/labels.sqlite --pair 0 --out pair0.mp4',
    '  prefrl render --store labels.sqlite --pair p-1a2b3c4d5e6f7a8b --side a --out a.png --step 25 --camera side',
  ].join('\n'),
};

/** Parse --camera. */
export function parseCamera(text: string): CameraSpec {
  const t = text.trim().toLowerCase();
  if (t === 'auto') return { kind: 'auto' };
  if (t === 'side' || t === 'front' || t === 'top' || t === 'iso') return { kind: 'preset', name: t };
  const parts = t.split(',').map((x) => Number(x.trim()));
  if ((parts.length === 2 || parts.length === 3) && parts.every((x) => Number.isFinite(x)) && (parts.length === 2 || parts[2] > 0)) {
    return { kind: 'orbit', azimuth: parts[0], elevation: parts[1], distance: parts.length === 3 ? parts[2] : null };
  }
  throw new UsageError(`--camera: expected auto, side, front, top, iso or AZ,EL[,DIST], got ${JSON.stringify(text)}`);
}

export const renderCommand: Command = {
  name: 'render',
  summary: 'Render a stored pair to video or an image with the viewer\'s scene (headless Chromium + ffmpeg)',
  async run(argv, ctx) {
    const parsed = parseOrHelp(argv, spec, ctx.io);
    if (!parsed) return 0;
    const f = parsed.flags;
    const camera = parseCamera(f.camera);
    if (!existsSync(f.store)) throw new UsageError(`--store: ${f.store} not found`);
    const store = LabelStore.open(f.store, { create: false, clock: ctx.clock });
    try {
      let pairId = f.pair;
      if (/^\d+$/.test(f.pair)) {
        const id = store.pairIdAt(Number(f.pair));
        if (id === undefined) {
          const n = store.counts().pairs;
          throw new UsageError(`--pair ${f.pair}: the store has ${n} pairs (indices 0..${n - 1})`);
        }
        pairId = id;
      }
      const pair = store.getPair(pairId);
      if (!pair) throw new UsageError(`--pair: no pair ${JSON.stringify(pairId)} in ${f.store}`);
      const envConfig = f.env ? envConfigFromArgs(f.env, { task: f.task }) : envConfigForStore(f.store, store.envId() ?? pair.a.envId);
      const dt = pair.a.length > 0 ? (pair.a.time[pair.a.length] - pair.a.time[0]) / pair.a.length : 0;
      if (!(dt > 0)) throw new InputError(f.store, `segment ${pair.a.id} has no time steps to derive its frame rate from`);
      checkRenderTarget(pair, f.out, f.side, f.step);
      ctx.logger.info(`rendering pair ${pair.id} (${f.side}) to ${f.out}`);
      const r = await renderPair(pair, modelPayload(envConfig), f.out, {
        side: f.side,
        width: f.width,
        height: f.height,
        fps: f.fps,
        step: f.step,
        camera,
        follow: f.follow,
        hideRobot: f.hideRobot,
        shadows: f.shadows,
        chromium: f.chromium,
        dt,
      });
      const summary = { out: r.out, pair: pair.id, side: f.side, frames: r.frames, width: r.width, height: r.height, fps: r.fps, seconds: r.seconds };
      if (f.json) printJson(ctx.io, summary);
      else ctx.io.stdout.write(`wrote ${r.out}: ${r.frames} frame${r.frames === 1 ? '' : 's'}, ${r.width}x${r.height}${r.fps ? ` at ${r.fps} fps` : ''} (${r.seconds.toFixed(1)} s)\n`);
      return 0;
    } finally {
      store.close();
    }
  },
};
