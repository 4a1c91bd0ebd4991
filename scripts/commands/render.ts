/**
 * `prefrl render`: a stored pair (or one of its clips), or one or two recorded episodes (a
 * `prefrl rollout` or `tour` run), to a video (.mp4 / .webm) or an image (.png), rendered by the
 * viewer's own three.js scene in headless Chromium and encoded with ffmpeg (yuv420p).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import type { Clock } from '../../core/clock.js';
import { flags } from '../../core/config.js';
import { InputError, UsageError } from '../../core/errors.js';
import { checkOutFile, isFolder, shellQuote } from '../../core/paths.js';
import { Progress } from '../../core/progress.js';
import { removeDeadWritersTemps } from '../../core/run.js';
import { type EnvConfig, envConfigFromArgs } from '../../envs/registry.js';
import { loadTrajectories } from '../../envs/trajectory.js';
import { sliceSegment } from '../../reward/segments.js';
import type { Segment } from '../../reward/types.js';
import { envConfigForStore, modelPayload } from '../../viewer/env_info.js';
import { type CameraSpec, checkRenderTarget, MAX_DEFAULT_FPS, pairClips, type RenderResult, renderClips } from '../../viewer/render.js';
import { type Command, flagsGiven, onInterrupt, openStoreFlag, parseOrHelp, printJson, warnIgnoredFlags } from '../command.js';
import { jsonFlag, optionalStoreFlag, quietFlag, taskFlag } from './common_flags.js';
import { commandSummary } from '../command_index.js';

const spec = {
  command: 'prefrl render',
  summary:
    'Render a stored pair (both clips side by side, or one), or one or two recorded episodes, to .mp4, .webm or .png with the viewer\'s scene in headless Chromium.',
  flags: {
    store: optionalStoreFlag('holding the pair'),
    pair: flags.string({ doc: 'with --store: pair id, or its 0-based index in the store (oldest round first, then as stored)', optional: true }),
    trajectories: flags.string({ doc: 'instead of a pair: recorded episodes, a prefrl rollout run folder or its trajectory folder', optional: true }),
    episode: flags.string({ doc: 'with --trajectories: episode index (0-based), or two (N,M) side by side', optional: true, defaultDoc: '0' }),
    out: flags.string({ doc: 'output file: .mp4, .webm (video) or .png (one step); an existing file is kept unless --force' }),
    force: flags.bool({ doc: 'replace an existing --out file (written whole, then renamed over it)', default: false }),
    side: flags.choice(['both', 'a', 'b'] as const, { doc: 'with --store: both clips side by side (a left), or one', optional: true, defaultDoc: 'both' }),
    width: flags.int({ doc: 'image width, px', optional: true, defaultDoc: '1280 for both, 640 for one', min: 16, max: 4096 }),
    height: flags.int({ doc: 'image height, px', default: 480, min: 16, max: 4096 }),
    fps: flags.float({ doc: 'video frames per second', optional: true, defaultDoc: `real time: 1 / env dt, at most ${MAX_DEFAULT_FPS} (shorter steps: every k-th step is shown)`, min: 1, max: 240 }),
    step: flags.int({ doc: 'step shown in a .png', default: 0, min: 0 }),
    camera: flags.string({ doc: 'auto | side | front | top | iso | AZ,EL[,DIST] (degrees, metres)', default: 'auto' }),
    follow: flags.choice(['auto', 'on', 'off'] as const, { doc: 'camera follows each robot (auto: when it travels)', default: 'auto' }),
    hideRobot: flags.bool({ doc: 'hide the robot, keep the world and loose objects', default: false }),
    shadows: flags.bool({ doc: 'draw shadows (--no-shadows to turn off)', default: true }),
    env: flags.string({ doc: 'env id or MJCF path, when the store alone does not say (bring-your-own models)', optional: true }),
    task: taskFlag(),
    chromium: flags.string({ doc: 'Chromium binary', optional: true, defaultDoc: '$PREFRL_CHROMIUM or chromium on the PATH' }),
    json: jsonFlag({ holds: 'out, what was rendered, frames, width, height, fps, videoSeconds (frames / fps; null for a .png) and seconds (the time rendering took)' }),
    quiet: quietFlag(),
  },
  epilog: [
    'Examples:',
    '  prefrl render --store runs/<id>/labels.sqlite --pair 0 --out pair0.mp4',
    '  prefrl render --store runs/<id>/labels.sqlite --pair 0 --out pair0.mp4 --force   (replace pair0.mp4)',
    '  prefrl render --store labels.sqlite --pair p-1a2b3c4d5e6f7a8b --side a --out a.png --step 25 --camera side',
    '  prefrl rollout --env reacher --policy runs/<stamp>-train-reacher --episodes 5',
    '  prefrl render --trajectories runs/<stamp>-rollout-reacher --episode 0,1 --out best.mp4',
  ].join('\n'),
};

/**
 * The trajectory folder a --trajectories path names: the folder itself (index.json), or a run
 * folder's artifacts/trajectories/<env>/ when it holds exactly one env. Errors name `flag`.
 */
export function resolveTrajectoryDir(path: string, flag = '--trajectories'): { dir: string; runConfig: string | null } {
  if (!existsSync(path)) throw new UsageError(`${flag}: ${path} not found`);
  if (existsSync(join(path, 'index.json'))) {
    // <run>/artifacts/trajectories/<env>/: the run's config.json is three levels up.
    const cfg = resolve(path, '..', '..', '..', 'config.json');
    return { dir: path, runConfig: existsSync(cfg) ? cfg : null };
  }
  const root = join(path, 'artifacts', 'trajectories');
  let envs: string[] = [];
  if (existsSync(root) && statSync(root).isDirectory()) envs = readdirSync(root).filter((n) => existsSync(join(root, n, 'index.json')));
  if (envs.length === 1) {
    const cfg = join(path, 'config.json');
    return { dir: join(root, envs[0]), runConfig: existsSync(cfg) ? cfg : null };
  }
  if (envs.length > 1) throw new UsageError(`${flag}: ${path} holds episodes of ${envs.length} envs; name one: ${envs.map((n) => join(root, n)).join(', ')}`);
  const expected = 'expected a trajectory folder with index.json, or a prefrl rollout run folder';
  if (!isFolder(path)) throw new UsageError(`${flag}: ${path} is a file, not a folder (${expected})`);
  throw new UsageError(`${flag}: ${path} holds no recorded episodes (${expected})`);
}

/** Parse --episode: one index, or two separated by a comma. */
export function parseEpisodes(text: string, count: number): number[] {
  const parts = text.split(',').map((x) => x.trim());
  if (parts.length > 2 || !parts.every((x) => /^\d+$/.test(x))) throw new UsageError(`--episode: expected an episode index or two (N,M), got ${JSON.stringify(text)}`);
  const idx = parts.map(Number);
  for (const i of idx) if (i >= count) throw new UsageError(`--episode ${i}: the folder holds ${count === 0 ? 'no episodes' : `${count} episode${count === 1 ? '' : 's'} (0..${count - 1})`}`);
  return idx;
}

export interface ClipsToRender {
  readonly clips: Segment[];
  readonly envConfig: EnvConfig;
  /** What was rendered, for the summary. */
  readonly what: Record<string, unknown>;
  readonly close: () => void;
}

/**
 * The env id the clips of `config` carry (what EnvSpec.id is: a built-in id, or
 * "custom:<file name>" for a bring-your-own model), to compare with recorded clips before any
 * browser starts.
 */
export function envIdOfConfig(config: EnvConfig): string {
  return config.id === 'custom' && config.model ? `custom:${basename(config.model)}` : config.id;
}

/**
 * An --env given for clips recorded in another env would replay their joint states in the wrong
 * model (the page refuses, after Chromium has started, with a stack trace): refuse it first.
 */
export function checkEnvOfClips(config: EnvConfig, clipsEnvId: string, source: string): void {
  const want = envIdOfConfig(config);
  if (want !== clipsEnvId) throw new UsageError(`--env: ${source} holds ${clipsEnvId} clips, not ${want}`);
}

/** Seconds per env step of a clip, from its recorded clock. */
function clipDt(seg: Segment, source: string): number {
  const dt = seg.length > 0 ? (seg.time[seg.length] - seg.time[0]) / seg.length : 0;
  if (!(dt > 0)) throw new InputError(source, `${seg.id || 'the clip'} has no time steps to derive its frame rate from`);
  return dt;
}

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

/** How long a rendered video plays (frames / fps), or null for an image. */
export function videoSeconds(r: Pick<RenderResult, 'frames' | 'fps'>): number | null {
  return r.fps ? r.frames / r.fps : null;
}

/**
 * The closing line: what was written, how long the video plays, and how long rendering took
 * (RenderResult.seconds), each named, so neither is read as the other.
 */
export function wroteLine(r: Pick<RenderResult, 'out' | 'frames' | 'width' | 'height' | 'fps' | 'seconds'>): string {
  const plays = videoSeconds(r);
  const what = `${r.frames} frame${r.frames === 1 ? '' : 's'}, ${r.width}x${r.height}${r.fps ? ` at ${r.fps} fps` : ''}`;
  return `wrote ${r.out}: ${what}${plays === null ? '' : `, ${plays.toFixed(2)} s of video`} (rendered in ${r.seconds.toFixed(1)} s)`;
}

/**
 * Remove the temporary files that renders of `out` killed before they were done (SIGKILL, a power
 * cut) left beside it, hidden (viewer/render.ts writes `.<name>.tmp-<pid><ext>` and renames it
 * when complete): those of processes that no longer run. Returns the paths removed.
 */
export function removeKilledRenders(out: string): string[] {
  const ext = extname(out).toLowerCase();
  const head = `.${basename(out, extname(out))}.tmp-`;
  return removeDeadWritersTemps(dirname(resolve(out)), (name) => {
    if (!name.startsWith(head) || !name.endsWith(ext)) return null;
    const pid = name.slice(head.length, name.length - ext.length);
    return /^[1-9]\d*$/.test(pid) ? Number(pid) : null;
  });
}

export const renderCommand: Command = {
  name: 'render',
  summary: commandSummary('render'),
  async run(argv, ctx) {
    const parsed = parseOrHelp(argv, spec, ctx.io);
    if (!parsed) return 0;
    const f = parsed.flags;
    const camera = parseCamera(f.camera);
    if ((f.store === undefined) === (f.trajectories === undefined)) throw new UsageError('prefrl render: give either --store and --pair (a stored pair) or --trajectories (recorded episodes)');
    if (f.store !== undefined && f.episode !== undefined) throw new UsageError('--episode: only with --trajectories (pairs are chosen with --pair)');
    if (f.trajectories !== undefined && (f.side !== undefined || f.pair !== undefined)) throw new UsageError(`--${f.side !== undefined ? 'side' : 'pair'}: only with --store (two episodes are chosen with --episode N,M)`);
    const side = f.side ?? 'both';
    const src = f.store !== undefined ? openPair(f.store, f.pair, side, f.env, f.task, ctx.clock) : episodeClips(f.trajectories as string, f.episode ?? '0', f.env, f.task);
    try {
      const dt = clipDt(src.clips[0], f.store ?? (f.trajectories as string));
      checkRenderTarget(src.clips, f.out, f.step);
      // Before any browser starts: an existing file (a render of last week) is not replaced silently.
      checkOutFile(f.out, { force: f.force });
      removeKilledRenders(f.out);
      const png = extname(f.out).toLowerCase() === '.png';
      warnIgnoredFlags(ctx, flagsGiven(parsed.given, [png ? 'fps' : 'step']), png ? 'a .png shows one step' : `${f.out} is a video of every step (--step picks the step of a .png)`);
      ctx.logger.info(`rendering ${f.store !== undefined ? `pair ${src.what.pair} (${side})` : `episode ${(src.what.episodes as number[]).join(' and ')}`} to ${f.out}`);
      // A video of long episodes takes minutes (a frame is a Chromium screenshot): show progress.
      // The rate starts at the first frame, after Chromium has started and loaded the model.
      let progress: Progress | null = null;
      const onFrame = (done: number, total: number): void => {
        if (progress === null) progress = new Progress(`render ${basename(f.out)}`, total, { unit: 'frames', clock: ctx.clock, sink: ctx.io.stderr, tty: ctx.io.tty, silent: f.quiet, initial: done });
        else progress.update(done);
        if (done === total) progress.finish();
      };
      // Ctrl-C: the partial video goes (renderClips cleans up on exit), a file already at --out stays as it was.
      const stopHint = onInterrupt(ctx, () => ({ line: `stopped; nothing was written to ${f.out}`, fields: { out: f.out, written: false } }), { json: f.json });
      let r: RenderResult;
      try {
        r = await renderClips(src.clips, modelPayload(src.envConfig), f.out, {
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
          onFrame,
        });
      } finally {
        stopHint();
      }
      const summary = { out: r.out, ...src.what, frames: r.frames, width: r.width, height: r.height, fps: r.fps, videoSeconds: videoSeconds(r), seconds: r.seconds };
      if (f.json) printJson(ctx.io, summary);
      else ctx.io.stdout.write(`${wroteLine(r)}\n`);
      return 0;
    } finally {
      src.close();
    }
  },
};

function openPair(storePath: string, pairArg: string | undefined, side: 'both' | 'a' | 'b', env: string | undefined, task: string | undefined, clock: Clock): ClipsToRender {
  if (pairArg === undefined) throw new UsageError('--pair: required with --store (a pair id, or its 0-based index)');
  const store = openStoreFlag(storePath, clock, '--store', { readOnly: true });
  try {
    let pairId = pairArg;
    if (/^\d+$/.test(pairArg)) {
      const id = store.pairIdAt(Number(pairArg));
      if (id === undefined) {
        const n = store.counts().pairs;
        throw new UsageError(`--pair ${pairArg}: the store has ${n} pairs (indices 0..${n - 1})`);
      }
      pairId = id;
    }
    const pair = store.getPair(pairId);
    if (!pair) throw new UsageError(`--pair: no pair ${JSON.stringify(pairId)} in ${storePath}`);
    const envConfig = env ? envConfigFromArgs(env, { task }) : envConfigForStore(storePath, store.envId() ?? pair.a.envId);
    if (env) checkEnvOfClips(envConfig, pair.a.envId, storePath);
    return { clips: pairClips(pair, side), envConfig, what: { pair: pair.id, side }, close: () => store.close() };
  } catch (e) {
    store.close();
    throw e;
  }
}

/** The clips of one or two recorded episodes (--trajectories, --episode) and the env they ran in. */
export function episodeClips(path: string, episodeArg: string, env: string | undefined, task: string | undefined): ClipsToRender {
  let found: { dir: string; runConfig: string | null };
  try {
    found = resolveTrajectoryDir(path);
  } catch (e) {
    // A train or offline run folder records no episodes but keeps the clips its teacher compared
    // in a label store: say how to render those.
    const store = join(path, 'labels.sqlite');
    if (e instanceof UsageError && isFolder(path) && existsSync(store)) throw new UsageError(`${e.message}; it holds a label store, whose pairs render with --store ${shellQuote(store)} --pair 0`);
    throw e;
  }
  const { dir, runConfig } = found;
  const trajs = loadTrajectories(dir);
  if (trajs.length === 0) throw new InputError(dir, 'holds no episodes');
  const episodes = parseEpisodes(episodeArg, trajs.length);
  const clips = episodes.map((i) => sliceSegment(trajs[i], 0, trajs[i].length, `${dir} episode ${i}`));
  const envConfig = env ? envConfigFromArgs(env, { task }) : envConfigForStore(dir, trajs[0].envId, runConfig ?? join(dir, 'config.json'));
  if (env) checkEnvOfClips(envConfig, trajs[0].envId, dir);
  return { clips, envConfig, what: { trajectories: dir, episodes }, close: () => undefined };
}
