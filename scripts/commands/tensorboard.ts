/**
 * `prefrl tensorboard`: the scalars of run folders (their metrics.jsonl) as TensorBoard event
 * files, so `tensorboard --logdir runs` draws them beside runs of other tools. Each run's file is
 * written anew from its metrics.jsonl on every call (the same name, replaced atomically), so a
 * stage run again or a resumed run never shows twice; `--follow` keeps the files up to date while
 * the runs go on: a pass appends the points logged since the last one where a run's metrics.jsonl
 * only grew (the file is then byte for byte what writing it anew gives), else writes it anew.
 */
import { appendFileSync, closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { flags } from '../../core/config.js';
import { UsageError } from '../../core/errors.js';
import { withFileNamed, writeFileAtomic } from '../../core/files.js';
import { checkOutFolder, isFolder, makeFolder, shellQuote } from '../../core/paths.js';
import { runCommand } from '../../core/run.js';
import { eventFile, eventRecords, type ScalarPoint } from '../../core/tfevents.js';
import { type Command, type CommandContext, displayPath, flagsGiven, formatTable, letSignalsIn, onInterrupt, parseOrHelp, printJson, warnIgnoredFlags } from '../command.js';
import { commandSummary } from '../command_index.js';
import { jsonFlag } from './common_flags.js';
import { distinctFolders, type MetricsRead, notRunFolderHint, readMetricsFrom, runFoldersBelow, runLabels } from './plot.js';
import { liveHolder } from './runs.js';

/** The folder inside a run folder that holds its event file (without --out). */
export const TB_FOLDER = 'tensorboard';

/**
 * When a run started, in seconds since the epoch: its folder's stamp (`20261207-120000-...`, the
 * local time createRunDir names folders by), else its config.json's modification time, else 0.
 * Every point of the run carries it as its wall time: metrics.jsonl keeps no time per row.
 */
export function runStartSeconds(runDir: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})-/.exec(basename(resolve(runDir)));
  if (m) {
    const [y, mo, d, h, mi, s] = m.slice(1).map(Number);
    const t = new Date(y, mo - 1, d, h, mi, s).getTime();
    if (Number.isFinite(t)) return t / 1000;
  }
  try {
    return Math.floor(statSync(join(runDir, 'config.json')).mtimeMs / 1000);
  } catch {
    return 0;
  }
}

/** The event file's name for a run: fixed per run, so writing it again replaces it. */
export function eventFileName(startSeconds: number): string {
  return `events.out.tfevents.${Math.floor(startSeconds)}.prefrl`;
}

/** What one run's export wrote. */
export interface TbExport {
  readonly run: string;
  readonly file: string;
  readonly metrics: number;
  readonly points: number;
  /** The last step logged, or null when the run logged no numeric metric yet. */
  readonly lastStep: number | null;
  /** Whether the run has its summary.json (it finished). */
  readonly finished: boolean;
}

/**
 * Write one run's event file from its metrics.jsonl into `folder`: every numeric metric at every
 * step it was logged, in the file's order (nulls, text and steps that are not whole numbers >= 0
 * are left out; a cut-off last line is said through `warn`, as plot does).
 */
export function exportRun(runDir: string, folder: string, warn: (m: string) => void = () => undefined): Omit<TbExport, 'run'> {
  return exportRunFollowing(runDir, folder, warn, null).export;
}

/**
 * What a pass keeps of a run's export, so that the next `--follow` pass appends only the points
 * logged since when metrics.jsonl only grew (exportRunFollowing).
 */
export interface TbFollowState {
  readonly file: string;
  readonly wall: number;
  /** metrics.jsonl's device and inode: a rewrite (a resumed run drops rows, atomically) makes a new one. */
  readonly dev: number;
  readonly ino: number;
  /** Bytes of metrics.jsonl read (through its last newline), and lines. */
  readonly end: number;
  readonly lines: number;
  /** The last bytes read (up to TAIL_BYTES): a file cut and written again in place shows here. */
  readonly tail: Buffer;
  /** The event file's size as written. */
  readonly eventBytes: number;
  /** Each metric's place in the order of the file's first rows with it: points of one step go in that order. */
  readonly places: ReadonlyMap<string, number>;
  readonly points: number;
  readonly badSteps: number;
  readonly lastStep: number | null;
  /** The highest place among the points at lastStep (-1 when none). */
  readonly lastPlace: number;
}

const TAIL_BYTES = 4096;

/** Up to TAIL_BYTES of the file just before byte `end`. */
function tailBefore(path: string, end: number): Buffer {
  const start = Math.max(0, end - TAIL_BYTES);
  const out = Buffer.alloc(end - start);
  const fd = openSync(path, 'r');
  try {
    let got = 0;
    while (got < out.length) {
      const n = readSync(fd, out, got, out.length - got, start + got);
      if (n === 0) break;
      got += n;
    }
    return out.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/** The step order of an event file: by step, then the metric's place, then the order logged. */
type Placed = ScalarPoint & { place: number; order: number };
const byStep = (a: Placed, b: Placed): number => a.step - b.step || a.place - b.place || a.order - b.order;

/**
 * The points of `series` in the event file's order, each metric at its place in `places`; values
 * at a step that is not a whole number >= 0 are left out and counted (`bad`).
 */
function placedPoints(series: ReadonlyMap<string, [number, number][]>, places: ReadonlyMap<string, number>, wall: number): { points: Placed[]; bad: number } {
  const points: Placed[] = [];
  let bad = 0;
  for (const [tag, pts] of series) {
    for (const [step, value] of pts) {
      if (!Number.isSafeInteger(step) || step < 0) bad++;
      else points.push({ tag, step, value, wallTime: wall, place: places.get(tag) ?? 0, order: points.length });
    }
  }
  points.sort(byStep);
  return { points, bad };
}

/** The highest place among `points` at `step`, starting from `from` (-1: none yet). */
function lastPlaceAt(points: readonly Placed[], step: number | null, from = -1): number {
  let place = from;
  for (const p of points) if (p.step === step) place = Math.max(place, p.place);
  return place;
}

/**
 * exportRun, given the state the last pass left (`prev`, null: none): when the run's metrics.jsonl
 * only grew since (the same file, the bytes read then unchanged, the event file as written) and
 * the new points all go after the old ones in the file's order, they are appended to the event
 * file, which is then byte for byte what writing it anew gives; otherwise it is written anew.
 * Returns the export and the state for the next pass (null when the read did not end on a whole
 * line: the next pass writes anew).
 */
export function exportRunFollowing(
  runDir: string,
  folder: string,
  warn: (m: string) => void,
  prev: TbFollowState | null,
): { export: Omit<TbExport, 'run'>; state: TbFollowState | null } {
  const wall = runStartSeconds(runDir);
  const file = join(folder, eventFileName(wall));
  const metricsFile = join(runDir, 'metrics.jsonl');
  const finished = (): boolean => existsSync(join(runDir, 'summary.json'));
  const badWarning = (n: number) => `${metricsFile}: ${n} value${n === 1 ? '' : 's'} at a step that is not a whole number >= 0 left out`;
  const statOf = (path: string) => {
    try {
      return statSync(path);
    } catch {
      return null;
    }
  };
  /** The state after a read that ended at `read` (null when it did not end cleanly or the file changed meanwhile). */
  const stateAfter = (before: { dev: number; ino: number } | null, read: MetricsRead, rest: Omit<TbFollowState, 'file' | 'wall' | 'dev' | 'ino' | 'end' | 'lines' | 'tail'>): TbFollowState | null => {
    const after = statOf(metricsFile);
    if (!read.clean || before === null || after === null || after.dev !== before.dev || after.ino !== before.ino) return null;
    return { file, wall, dev: after.dev, ino: after.ino, end: read.end, lines: read.lines, tail: tailBefore(metricsFile, read.end), ...rest };
  };

  if (prev !== null && prev.file === file && prev.wall === wall) {
    const st = statOf(metricsFile);
    const event = statOf(file);
    if (
      st !== null &&
      st.dev === prev.dev &&
      st.ino === prev.ino &&
      st.size >= prev.end &&
      event !== null &&
      event.size === prev.eventBytes &&
      tailBefore(metricsFile, prev.end).equals(prev.tail)
    ) {
      const read = readMetricsFrom(runDir, warn, undefined, { bytes: prev.end, lines: prev.lines });
      const places = new Map(prev.places);
      for (const tag of read.series.keys()) if (!places.has(tag)) places.set(tag, places.size);
      const { points, bad } = placedPoints(read.series, places, wall);
      const badSteps = prev.badSteps + bad;
      const first = points[0];
      // Appended points go after every old one in the file's order: a later step, or the last step at a later (or the same) place.
      if (first === undefined || prev.lastStep === null || first.step > prev.lastStep || (first.step === prev.lastStep && first.place >= prev.lastPlace)) {
        if (badSteps > 0) warn(badWarning(badSteps));
        const bytes = eventRecords(points);
        if (bytes.length > 0) {
          try {
            appendFileSync(file, bytes);
          } catch (e) {
            throw withFileNamed(e, file);
          }
        }
        const last = points[points.length - 1];
        const lastStep = last === undefined ? prev.lastStep : last.step;
        const lastPlace = lastPlaceAt(points, lastStep, last === undefined || last.step === prev.lastStep ? prev.lastPlace : -1);
        const total = prev.points + points.length;
        return {
          export: { file, metrics: places.size, points: total, lastStep, finished: finished() },
          state: stateAfter(st, read, { eventBytes: prev.eventBytes + bytes.length, places, points: total, badSteps, lastStep, lastPlace }),
        };
      }
    }
  }

  const before = statOf(metricsFile);
  const read = readMetricsFrom(runDir, warn);
  const places = new Map<string, number>();
  for (const tag of read.series.keys()) places.set(tag, places.size);
  // By step (TensorBoard reads a file in order), each step's values in the order they were logged.
  const { points, bad: badSteps } = placedPoints(read.series, places, wall);
  if (badSteps > 0) warn(badWarning(badSteps));
  makeFolder(folder);
  const bytes = eventFile(points, wall);
  writeFileAtomic(file, bytes);
  const last = points[points.length - 1];
  const lastStep = last === undefined ? null : last.step;
  const lastPlace = lastPlaceAt(points, lastStep);
  return {
    export: { file, metrics: read.series.size, points: points.length, lastStep, finished: finished() },
    state: stateAfter(before, read, { eventBytes: bytes.length, places, points: points.length, badSteps, lastStep, lastPlace }),
  };
}

/** The folder `tensorboard --logdir` should be given for these event folders: their nearest common parent. */
export function commonLogdir(folders: readonly string[]): string {
  let common = resolve(folders[0]);
  for (const f of folders.slice(1)) {
    while (relative(common, resolve(f)).startsWith('..')) common = dirname(common);
  }
  // A run's own tensorboard/ folder: its run folder is the better name (the run's name shows).
  return basename(common) === TB_FOLDER && folders.length === 1 ? dirname(dirname(common)) : common;
}

const spec = {
  command: 'prefrl tensorboard',
  summary: 'Write the scalars of run folders (their metrics.jsonl) as TensorBoard event files, for `tensorboard --logdir`.',
  flags: {
    out: flags.string({
      doc: `write each run's event file to <out>/<run folder name>/ (a folder made if missing) instead of <run>/${TB_FOLDER}/; then give tensorboard --logdir <out>`,
      optional: true,
    }),
    follow: flags.bool({ doc: 'keep the files up to date while the runs go on (the run folders found when it starts): every --every seconds add the points logged since (a run whose metrics.jsonl was rewritten, as a resume does, is written anew) until every run has finished (its summary.json) or, for a train or offline run, stopped (no process holds it), or Ctrl-C', default: false }),
    every: flags.float({ doc: 'with --follow, seconds between passes', default: 10, min: 0.05 }),
    json: jsonFlag({ holds: 'the files written' }),
  },
  positionals: [{ name: 'run', doc: 'run folders (runs/<stamp>-<name>; see prefrl runs), or folders of them (runs: every run folder in it, three levels down), one or more', variadic: true }],
  epilog: [
    'Every point carries the run\'s start as its wall time (metrics.jsonl keeps no time per row): use the step axis.',
    'Examples:',
    '  prefrl tensorboard runs                      # every run in runs/; then: tensorboard --logdir runs',
    '  prefrl tensorboard runs/*-train-*            # the train runs only',
    '  prefrl tensorboard runs/<stamp>-train-reacher-oracle-s0 --follow   # while it trains',
    '  prefrl tensorboard runs/*-offline-* --out tb   # then: tensorboard --logdir tb',
  ].join('\n'),
};

/**
 * One pass over the runs: each one's file written anew, or, where `states` holds what the last
 * pass left and the run's metrics.jsonl only grew, the new points appended (exportRunFollowing).
 */
function pass(runs: readonly string[], labels: readonly string[], out: string | undefined, ctx: CommandContext, warned: Set<string>, states: Map<string, TbFollowState | null>): TbExport[] {
  return runs.map((r, i) => {
    const folder = out === undefined ? join(r, TB_FOLDER) : join(out, labels[i]);
    // A warning (a cut-off last line) is said once, not on every --follow pass.
    const warn = (m: string): void => {
      if (!warned.has(m)) ctx.logger.warn(m);
      warned.add(m);
    };
    const { export: done, state } = exportRunFollowing(r, folder, warn, states.get(r) ?? null);
    states.set(r, state);
    return { run: r, ...done };
  });
}

export const tensorboardCommand: Command = {
  name: 'tensorboard',
  summary: commandSummary('tensorboard'),
  async run(argv, ctx) {
    const parsed = parseOrHelp(argv, spec, ctx.io);
    if (!parsed) return 0;
    const f = parsed.flags;
    if (f.out !== undefined) checkOutFolder(f.out);
    if (!f.follow) warnIgnoredFlags(ctx, flagsGiven(parsed.given, ['every']), 'it sets the seconds between --follow passes');
    const found: string[] = [];
    for (const r of parsed.positionals) {
      if (!existsSync(r)) throw new UsageError(`${r}: not found`);
      if (!isFolder(r)) throw new UsageError(`${r}: a file, not a run folder${existsSync(join(dirname(r), 'metrics.jsonl')) ? `; give its run folder: ${dirname(r)}` : ''}`);
      if (existsSync(join(r, 'metrics.jsonl'))) {
        found.push(r);
        continue;
      }
      // A folder of runs (runs/, a benchmark's runs/bench-oracle/<suite>/): the run folders in it.
      const inside = runFoldersBelow(r);
      if (inside.length === 0) throw new UsageError(`${r}: not a run folder (no metrics.jsonl), and no run folder is in it${notRunFolderHint(r).replace(/prefrl plot /g, 'prefrl tensorboard ')}`);
      ctx.logger.info(`${r}: not a run folder; the ${inside.length} run folder${inside.length === 1 ? '' : 's'} in it`);
      found.push(...inside);
    }
    // One folder named twice (x, ./x, x/, or inside a folder given too) is one run: the first spelling is kept.
    const runs = distinctFolders(found);
    // With --out, each run gets a folder named after it; two runs of one name (runs/a/x, runs/b/x) take their paths.
    const labels = runLabels(runs).map((l) => l.replace(/[\\/]+/g, '_').replace(/^[._]+/, ''));
    const warned = new Set<string>();
    const states = new Map<string, TbFollowState | null>();
    let done = pass(runs, labels, f.out, ctx, warned, states);
    if (f.follow) {
      const stop = onInterrupt(ctx, () => ({ line: `stopped following; the event files hold what the runs had logged at the last pass (${ctx.clock.date().toISOString()})` }), { json: f.json });
      try {
        ctx.logger.info(`following ${runs.length} run${runs.length === 1 ? '' : 's'}: writing the event files every ${f.every} s until ${runs.length === 1 ? 'it has' : 'all have'} finished (Ctrl-C stops)`);
        // A train or offline run that stopped unfinished (no summary.json, and no live process holds
        // its lock: killed, or it failed) logs nothing more: followed no longer, once said.
        const stopped = new Set<string>();
        const over = (): boolean =>
          done.every((d) => {
            if (d.finished || stopped.has(d.run)) return true;
            const command = runCommand(d.run);
            if ((command === 'train' || command === 'offline') && liveHolder(d.run, command) === null) {
              stopped.add(d.run);
              ctx.logger.warn(`${d.run}: stopped unfinished (no summary.json, and no process holds it); its event file holds what it logged${d.lastStep === null ? '' : `, up to step ${d.lastStep}`}`);
              return true;
            }
            return false;
          });
        while (!over()) {
          const until = ctx.clock.now() + f.every * 1000;
          while (ctx.clock.now() < until) {
            await new Promise((r) => setTimeout(r, Math.min(200, Math.max(1, until - ctx.clock.now()))));
            await letSignalsIn();
          }
          done = pass(runs, labels, f.out, ctx, warned, states);
        }
      } finally {
        stop();
      }
    }
    const logdir = f.out ?? commonLogdir(done.map((d) => dirname(d.file)));
    if (f.json) printJson(ctx.io, { logdir, runs: done });
    else {
      ctx.io.stdout.write(
        `${formatTable(
          ['run', 'metrics', 'points', 'last step', 'event file'],
          done.map((d) => [d.run, String(d.metrics), String(d.points), d.lastStep === null ? '-' : String(d.lastStep), displayPath(d.file)]),
        )}\nview them: tensorboard --logdir ${shellQuote(displayPath(logdir))}\n`,
      );
    }
    return 0;
  },
};
