/**
 * `prefrl tensorboard`: the scalars of run folders (their metrics.jsonl) as TensorBoard event
 * files, so `tensorboard --logdir runs` draws them beside runs of other tools. Each run's file is
 * written anew from its metrics.jsonl on every call (the same name, replaced atomically), so a
 * stage run again or a resumed run never shows twice; `--follow` keeps the files up to date while
 * the runs go on.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { flags } from '../../core/config.js';
import { UsageError } from '../../core/errors.js';
import { writeFileAtomic } from '../../core/files.js';
import { checkOutFolder, isFolder, makeFolder, shellQuote } from '../../core/paths.js';
import { runCommand } from '../../core/run.js';
import { eventFile, type ScalarPoint } from '../../core/tfevents.js';
import { type Command, type CommandContext, displayPath, flagsGiven, formatTable, letSignalsIn, onInterrupt, parseOrHelp, printJson, warnIgnoredFlags } from '../command.js';
import { commandSummary } from '../command_index.js';
import { jsonFlag } from './common_flags.js';
import { distinctFolders, notRunFolderHint, readMetrics, runFoldersBelow, runLabels } from './plot.js';
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
  const series = readMetrics(runDir, warn);
  const wall = runStartSeconds(runDir);
  const points: (ScalarPoint & { order: number })[] = [];
  let order = 0;
  let badSteps = 0;
  for (const [tag, pts] of series) {
    for (const [step, value] of pts) {
      if (!Number.isSafeInteger(step) || step < 0) {
        badSteps++;
        continue;
      }
      points.push({ tag, step, value, wallTime: wall, order: order++ });
    }
  }
  if (badSteps > 0) warn(`${join(runDir, 'metrics.jsonl')}: ${badSteps} value${badSteps === 1 ? '' : 's'} at a step that is not a whole number >= 0 left out`);
  // By step (TensorBoard reads a file in order), each step's values in the order they were logged.
  points.sort((a, b) => a.step - b.step || a.order - b.order);
  makeFolder(folder);
  const file = join(folder, eventFileName(wall));
  writeFileAtomic(file, eventFile(points, wall));
  return {
    file,
    metrics: series.size,
    points: points.length,
    lastStep: points.length ? points[points.length - 1].step : null,
    finished: existsSync(join(runDir, 'summary.json')),
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
    follow: flags.bool({ doc: 'keep the files up to date while the runs go on (the run folders found when it starts): write them again every --every seconds until every run has finished (its summary.json) or, for a train or offline run, stopped (no process holds it), or Ctrl-C', default: false }),
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

/** One pass over the runs: each one's file written anew. */
function pass(runs: readonly string[], labels: readonly string[], out: string | undefined, ctx: CommandContext, warned: Set<string>): TbExport[] {
  return runs.map((r, i) => {
    const folder = out === undefined ? join(r, TB_FOLDER) : join(out, labels[i]);
    // A warning (a cut-off last line) is said once, not on every --follow pass.
    const warn = (m: string): void => {
      if (!warned.has(m)) ctx.logger.warn(m);
      warned.add(m);
    };
    return { run: r, ...exportRun(r, folder, warn) };
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
    let done = pass(runs, labels, f.out, ctx, warned);
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
          done = pass(runs, labels, f.out, ctx, warned);
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
