/**
 * `prefrl plot`: learning curves of run folders, from their metrics.jsonl, as one SVG (rendered
 * in Node by Vega, as the benchmark suites' plots): one line per run and metric against the
 * logged step (env steps for train, updates for iql), and a table of each curve's last value.
 */
import { closeSync, type Dirent, existsSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { flags } from '../../core/config.js';
import { InputError, UsageError } from '../../core/errors.js';
import { writeFileAtomic } from '../../core/files.js';
import { forEachLine } from '../../core/log.js';
import { checkOutFile, folderAccessProblem, isFolder, shellQuote } from '../../core/paths.js';
import { configSeed, readRunConfig, runCommand } from '../../core/run.js';
import { renderSvg } from '../bench/plots.js';
import { type Command, formatTable, parseOrHelp, printJson } from '../command.js';
import { jsonFlag } from './common_flags.js';
import { liveHolder } from './runs.js';
import { commandSummary } from '../command_index.js';

export interface Curve {
  readonly run: string;
  readonly metric: string;
  /** [step, value] in logged order, non-finite values left out (a seed group's: the mean over its runs). */
  readonly points: [number, number][];
  /** A seed group's (--seeds): the lowest and highest of its runs' values at each of `points`' steps. */
  readonly band?: [number, number][];
}

/** What a null in metrics.jsonl stands for (train writes null for a held-out accuracy with no held-out pairs). */
export const NULL_MEANS = 'not measured, such as an accuracy with no held-out pairs, or NaN or infinite';

/**
 * The run folders (those with a metrics.jsonl) below `dir`, down to `depth` levels (runs/,
 * runs/bench-oracle/, runs/bench-oracle/<suite>/), sorted; a run folder's own sub-folders are not
 * searched, nor are links.
 */
export function runFoldersBelow(dir: string, depth = 3): string[] {
  const out: string[] = [];
  const walk = (d: string, left: number): void => {
    let entries: Dirent[];
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries.filter((x) => x.isDirectory()).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const sub = join(d, e.name);
      if (existsSync(join(sub, 'metrics.jsonl'))) out.push(sub);
      else if (left > 1) walk(sub, left - 1);
    }
  };
  walk(dir, depth);
  return out;
}

/** The names of the run folders (those with a metrics.jsonl) right inside `dir`, sorted; [] when it cannot be read. */
function runFoldersIn(dir: string): string[] {
  return runFoldersBelow(dir, 1).map((p) => basename(p));
}

/** A shell pattern naming every run folder in `dir` (their names start with the year of their stamp), or the prefrl runs command that lists them. */
function runFoldersPattern(dir: string, names: readonly string[]): string {
  const stamp = names.every((n) => /^\d{8}-\d{6}-/.test(n)) ? [...new Set(names.map((n) => n[0]))] : [];
  return stamp.length === 1 ? `prefrl plot ${shellQuote(dir)}/${stamp[0]}*` : `prefrl runs --runs-dir ${shellQuote(dir)} lists them`;
}

/**
 * What to give instead of a folder that is not a run folder: the run folders it holds (a runs
 * folder, such as bench oracle's <runs-dir>/<suite>), or, for a folder beside run folders (bench
 * oracle's heron/ of teacher configs, caught by a glob over the suite's runs), a pattern without it.
 */
export function notRunFolderHint(dir: string): string {
  if (!isFolder(dir)) return '';
  const inside = runFoldersIn(dir);
  if (inside.length) return `; it holds ${inside.length} run folder${inside.length === 1 ? '' : 's'}: name them (${runFoldersPattern(dir, inside)})`;
  const parent = dirname(resolve(dir));
  const beside = runFoldersIn(parent);
  if (beside.length) return `; it sits beside ${beside.length} run folder${beside.length === 1 ? '' : 's'} in ${dirname(dir)}: leave it out (${runFoldersPattern(dirname(dir), beside)})`;
  return '';
}

/**
 * Every numeric metric of a run's metrics.jsonl by key, as [step, value] points. A damaged last
 * line (a run killed while writing it) is left out, said through `warn`; a damaged line before it
 * is an InputError naming the file and line.
 */
export function readMetrics(runDir: string, warn: (message: string) => void = () => undefined, nulls?: Set<string>): Map<string, [number, number][]> {
  return readMetricsFrom(runDir, warn, nulls).series;
}

/** What readMetricsFrom read: the series, and where a later read of the rows appended since goes on. */
export interface MetricsRead {
  readonly series: Map<string, [number, number][]>;
  /** The byte offset just past the last newline read. */
  readonly end: number;
  /** Lines read up to `end` and before (the index of the line that starts at `end`). */
  readonly lines: number;
  /** Whether every line read parsed and nothing but blanks follows the last newline (a cut-off row, or one being written, does). */
  readonly clean: boolean;
}

/**
 * readMetrics from a byte offset on: the rows that start at `from.bytes` (the `end` of an earlier
 * read of the same file: rows appended since), `from.lines` the index of that line (for the line
 * numbers errors and warnings give). From the start, readMetrics' series.
 */
export function readMetricsFrom(
  runDir: string,
  warn: (message: string) => void = () => undefined,
  nulls?: Set<string>,
  from: { bytes: number; lines: number } = { bytes: 0, lines: 0 },
): MetricsRead {
  const file = resolve(runDir, 'metrics.jsonl');
  if (existsSync(runDir) && !isFolder(runDir)) {
    // A file of a run (its metrics.jsonl, say) given for the run: name the folder to give.
    const parent = dirname(runDir);
    const hint = existsSync(join(parent, 'metrics.jsonl')) ? `; give its run folder: ${parent}` : '';
    throw new UsageError(`${runDir}: a file, not a run folder${hint}`);
  }
  // A folder this user may not enter read as one without metrics.jsonl: "not a run folder", which it may well be.
  const closed = isFolder(runDir) ? folderAccessProblem(runDir) : null;
  if (closed !== null) throw new InputError(runDir, `cannot read this run folder: this user may not enter it (${closed})`);
  if (!existsSync(file)) throw new UsageError(`${runDir}: not a run folder (no metrics.jsonl)${notRunFolderHint(runDir)}`);
  const out = new Map<string, [number, number][]>();
  if (isFolder(file)) throw new InputError(file, 'a folder, not the run\'s metrics file');
  // Read line by line (forEachLine: a whole-file string stops at ~512 MB). A line that does not
  // parse waits for the next filled line: with none after it, it is the last one, cut off.
  let unparsed: number | null = null;
  const take = (line: string, index: number) => {
    if (line.trim() === '') return;
    const i = from.lines + index;
    if (unparsed !== null) throw new InputError(file, 'invalid JSON', `line ${unparsed + 1}`);
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(line) as Record<string, unknown>;
    } catch {
      unparsed = i;
      return;
    }
    // null or a bare number read a field of nothing (a TypeError and a stack); a list has no step and is passed over, as a record without one.
    if (typeof rec !== 'object' || rec === null) throw new InputError(file, `expected a JSON object (one record per line), found ${JSON.stringify(rec)}`, `line ${i + 1}`);
    const step = rec.step;
    if (typeof step !== 'number') return;
    for (const [k, v] of Object.entries(rec)) {
      // null: a value not measured (reward/val_accuracy with no held-out pairs) or one JSON cannot
      // hold (NaN or infinite: a diverged run); `nulls` collects those keys.
      if (k !== 'step' && (v === null || (typeof v === 'number' && !Number.isFinite(v)))) nulls?.add(k);
      if (k === 'step' || typeof v !== 'number' || !Number.isFinite(v)) continue;
      let pts = out.get(k);
      if (!pts) out.set(k, (pts = []));
      pts.push([step, v]);
    }
  };
  const { lines, rest, end } = forEachLine(file, take, undefined, from.bytes);
  take(rest, lines);
  if (unparsed !== null) warn(`${file} (line ${unparsed + 1}): cut off (the run was stopped while writing it?); left out`);
  return { series: out, end, lines: from.lines + lines, clean: unparsed === null && rest.trim() === '' };
}

/** The curves of each run (Curve.run), in their order. */
export function curvesByRun(cs: readonly Curve[]): Map<string, Curve[]> {
  const out = new Map<string, Curve[]>();
  for (const c of cs) {
    const own = out.get(c.run);
    if (own) own.push(c);
    else out.set(c.run, [c]);
  }
  return out;
}

/**
 * The highest step of any point of these curves (-Infinity for none). A loop, not
 * Math.max(...steps): spreading the 200,000 points of a long run's metric overflows the call stack.
 */
export function lastStepOf(cs: readonly Curve[]): number {
  let last = -Infinity;
  for (const c of cs) for (const [step] of c.points) if (step > last) last = step;
  return last;
}

/**
 * The folders given, each once, in the order given: x, ./x and x/ name one folder, and its first
 * spelling is kept. A set of resolved paths, not a search of the list for each one: that is
 * quadratic, most of the time tensorboard and plot took over a folder of 4,000 run folders.
 */
export function distinctFolders(paths: readonly string[]): string[] {
  const seen = new Set<string>();
  return paths.filter((p) => {
    const r = resolve(p);
    if (seen.has(r)) return false;
    seen.add(r);
    return true;
  });
}

/**
 * The name each run's curves carry (Curve.run), in the order given: its folder's name, or the
 * path as given when two runs share a folder name (runs/a/x and runs/b/x).
 */
export function runLabels(runs: readonly string[]): string[] {
  const names = runs.map((r) => basename(resolve(r)));
  // A set, not names.indexOf per name: that is quadratic (seconds for a folder of 4,000 bench cell runs).
  const clash = new Set(names).size !== names.length;
  return clash ? [...runs] : names;
}

/**
 * The curves of the given metrics in the given runs; a metric no run logged is a UsageError that
 * lists what they did log. `warn` as for readMetrics, and for each run that logged a metric only
 * as null (not measured, such as an accuracy without held-out pairs, or NaN or infinite: a diverged run), which gets no line for it (after the check
 * for missing metrics, so a refusal stays one line); `warned` collects those runs.
 */
export function curves(runs: readonly string[], metrics: readonly string[], warn?: (message: string) => void, warned?: Set<string>): Curve[] {
  const out: Curve[] = [];
  const seen = new Set<string>();
  const onlyNull = new Set<string>();
  const nullRuns: string[] = [];
  const names = runLabels(runs);
  runs.forEach((r, i) => {
    const nulls = new Set<string>();
    const m = readMetrics(r, warn, nulls);
    for (const k of m.keys()) seen.add(k);
    for (const metric of metrics) {
      const pts = m.get(metric);
      if (pts && pts.length > 0) out.push({ run: names[i], metric, points: pts });
      else if (nulls.has(metric)) {
        onlyNull.add(metric);
        nullRuns.push(`${r}: every value of ${metric} is null (${NULL_MEANS}); no line for it`);
        warned?.add(r);
      }
    }
  });
  const missing = metrics.filter((k) => !out.some((c) => c.metric === k));
  if (missing.length > 0) {
    const keys = [...seen].sort();
    const nullNote = missing.some((k) => onlyNull.has(k)) ? ` (${missing.filter((k) => onlyNull.has(k)).join(', ')}: only null values, ${NULL_MEANS})` : '';
    throw new UsageError(`--metric: no run logged ${missing.join(', ')}${nullNote}; they logged: ${keys.join(', ') || 'nothing'}`);
  }
  // Said once the plot is going ahead (a refusal stays one line).
  for (const m of nullRuns) warn?.(m);
  return out;
}

/**
 * Keys of a run's config.json that may differ between the runs of one seed group (--seeds): where
 * a run was written, what it was named, how it reported, what it was made like, and what it worked
 * out from its settings and data (`derived`: an iql run's reward scale comes from its dataset, which
 * differs by seed); `seed` itself is left out at every depth (an offline run's sits in its pipeline
 * config, an iql run's in `resolved`).
 */
const NOT_SETTINGS = ['runsDir', 'name', 'like', 'json', 'quiet', 'resume', 'partOf', 'humanToken', 'derived'];

/**
 * The run folder a config value names and the path within it: the value itself when it is a run
 * folder (it holds a config.json), else the nearest of its three parent folders that is one (a
 * checkpoint or a dataset inside a run); null when it names none (not a path, or not there).
 */
function runReference(value: string): { dir: string; at: string } | null {
  if (!value.includes('/') || !existsSync(value)) return null;
  const target = resolve(value);
  let dir = target;
  for (let up = 0; up <= 3; up++) {
    if (readRunConfig(dir)) return { dir, at: relative(dir, target) };
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return null;
}

/**
 * A run's settings but its seed (see NOT_SETTINGS), as canonical JSON; null without a readable
 * config.json. A setting that names another run's folder (a regret cell's --expert, an iql run's
 * --dataset in a collect run) stands for that run's own settings but its seed, one level down, so
 * seed N's run on seed N's expert groups with seed M's run on seed M's expert.
 */
function settingsKey(run: string, depth = 0): string | null {
  const cfg = readRunConfig(run);
  if (!cfg) return null;
  const strip = (v: unknown, top: boolean): unknown => {
    if (typeof v === 'string' && depth < 1) {
      const ref = runReference(v);
      if (ref && resolve(ref.dir) !== resolve(run)) return { run: settingsKey(ref.dir, depth + 1), at: ref.at };
    }
    if (Array.isArray(v)) return v.map((x) => strip(x, false));
    if (typeof v !== 'object' || v === null) return v;
    const keys = Object.keys(v).filter((k) => k !== 'seed' && !(top && NOT_SETTINGS.includes(k))).sort();
    return Object.fromEntries(keys.map((k) => [k, strip((v as Record<string, unknown>)[k], false)]));
  };
  return JSON.stringify(strip(cfg, true));
}

/** A run's seed from its config.json (configSeed); null when not recorded or unreadable. */
export function runSeed(run: string): number | null {
  const cfg = readRunConfig(run);
  return cfg ? configSeed(cfg) : null;
}

/**
 * The runs in groups that differ only in their seed (settingsKey), in the order each group's first
 * run was given; a run without a readable config.json is a group of its own.
 */
export function seedGroups(runs: readonly string[]): string[][] {
  const groups = new Map<string, string[]>();
  runs.forEach((r, i) => {
    const key = settingsKey(r) ?? `\0${i}`;
    const g = groups.get(key);
    if (g) g.push(r);
    else groups.set(key, [r]);
  });
  return [...groups.values()];
}

/**
 * What a seed group's curves are called: its first run's folder name without the time stamp and
 * the seed (`20261207-120000-train-reacher-oracle-s0` -> `train-reacher-oracle`), then its seeds
 * ("3 seeds 0, 1, 2"; "3 runs, seeds 0, 1, 0" when a seed ran twice: each run counts in the mean).
 */
export function groupLabel(runs: readonly string[]): string {
  const name = basename(resolve(runs[0]))
    .replace(/^\d{8}-\d{6}-/, '')
    .replace(/-s\d+(-\d+)?$/, '');
  const seeds = runs.map(runSeed);
  const shown = seeds.map((x) => (x === null ? '?' : String(x))).join(', ');
  const distinct = new Set(shown.split(', ')).size === runs.length && !seeds.includes(null);
  return `${name} (${runs.length === 1 ? `seed ${shown}` : distinct ? `${runs.length} seeds ${shown}` : `${runs.length} runs, seeds ${shown}`})`;
}

/** groupLabel of each group, made distinct where two groups would read alike ("... #2"). */
export function groupLabels(groups: readonly (readonly string[])[]): string[] {
  const seen = new Map<string, number>();
  return groups.map((g) => {
    const label = groupLabel(g);
    const n = (seen.get(label) ?? 0) + 1;
    seen.set(label, n);
    return n === 1 ? label : `${label} #${n}`;
  });
}

/**
 * One curve per seed group and metric: the mean of its runs' values at each step every run of the
 * group logged a value at, with the lowest and highest (`band`). Steps only some runs reached (a
 * run stopped early) are left out and said through `warn`, as is a group whose runs share no step.
 */
export function seedCurves(groups: readonly string[][], cs: readonly Curve[], labels: ReadonlyMap<string, string>, warn: (message: string) => void = () => undefined): Curve[] {
  const out: Curve[] = [];
  const names = groupLabels(groups);
  // Each run's curves by its label, looked up, not searched for in every curve per run (quadratic in the runs).
  const byRun = curvesByRun(cs);
  const ofRun = (r: string): readonly Curve[] => byRun.get(labels.get(r) as string) ?? [];
  for (const [gi, g] of groups.entries()) {
    const name = names[gi];
    const metrics = [...new Set(g.flatMap((r) => ofRun(r).map((c) => c.metric)))];
    for (const metric of metrics) {
      const per = g.map((r) => new Map(ofRun(r).find((c) => c.metric === metric)?.points ?? []));
      const steps = [...per[0].keys()].filter((st) => per.every((m) => m.has(st))).sort((x, y) => x - y);
      const reached = new Set(per.flatMap((m) => [...m.keys()]));
      if (steps.length === 0) {
        warn(`${name}: its runs logged ${metric} at no common step; no line for it`);
        continue;
      }
      if (reached.size > steps.length) warn(`${name}: ${metric} at ${reached.size - steps.length} steps not every run reached (a run stopped early?) left out; the line ends at step ${steps[steps.length - 1]}`);
      const at = (st: number) => per.map((m) => m.get(st) as number);
      out.push({
        run: name,
        metric,
        points: steps.map((st) => [st, at(st).reduce((a, v) => a + v, 0) / g.length]),
        band: steps.map((st) => [Math.min(...at(st)), Math.max(...at(st))]),
      });
    }
  }
  return out;
}

/**
 * A Vega-Lite line chart of the curves: colour per run; several metrics are stacked panels, each
 * with its own y scale. Points are marked where there are few (<= 200 in all); a curve of one
 * point is always marked, since a line through one point draws nothing.
 */
export function curvesSpec(cs: readonly Curve[], title: string, xTitle = 'step'): TopLevelSpec {
  const values = cs.flatMap((c) =>
    c.points.map(([step, value], i) => ({ run: c.run, metric: c.metric, step, value, lone: c.points.length === 1, ...(c.band ? { lo: c.band[i][0], hi: c.band[i][1] } : {}) })),
  );
  const several = new Set(cs.map((c) => c.metric)).size > 1;
  const points = values.length <= 200;
  const encoding = {
    x: { field: 'step', type: 'quantitative', title: xTitle },
    y: { field: 'value', type: 'quantitative', title: several ? null : cs[0].metric, scale: { zero: false } },
    // No label limit: Vega in Node (no canvas) estimates text widths and cut run names of more than
    // about 60 characters (a bench cell's run folder is longer) with an ellipsis, so two runs
    // differing only in their ends (seed, query method) read alike in the legend.
    color: { field: 'run', type: 'nominal', title: 'run', legend: { labelLimit: 0 } },
  };
  const layer: unknown[] = [{ mark: { type: 'line', point: points }, encoding }];
  // Seed groups: the band from the lowest to the highest run, under the mean's line.
  if (cs.some((c) => c.band)) {
    layer.unshift({
      transform: [{ filter: 'isValid(datum.lo)' }],
      mark: { type: 'area', opacity: 0.2 },
      encoding: { x: encoding.x, y: { field: 'lo', type: 'quantitative', title: encoding.y.title, scale: { zero: false } }, y2: { field: 'hi' }, color: encoding.color },
    });
  }
  if (!points && values.some((v) => v.lone)) layer.push({ transform: [{ filter: 'datum.lone' }], mark: { type: 'point', filled: true, size: 40, opacity: 1 }, encoding });
  const chart = { width: 520, height: several ? 200 : 300, layer };
  const common = { $schema: 'https://vega.github.io/schema/vega-lite/v5.json', title, data: { values } };
  if (!several) return { ...common, ...chart } as TopLevelSpec;
  return { ...common, facet: { row: { field: 'metric', type: 'nominal', title: null } }, spec: chart, resolve: { scale: { y: 'independent' } } } as TopLevelSpec;
}

/**
 * What the logged step counts in these runs, for the x axis: "env steps" when every run is a
 * `train` run (config.json's command), "updates" when every one is an `iql` run (IQL or BC), else "step".
 */
export function stepTitle(runs: readonly string[]): string {
  const commands = new Set(runs.map(runCommand));
  if (commands.size !== 1) return 'step';
  const only = [...commands][0];
  return only === 'train' ? 'env steps' : only === 'iql' ? 'updates' : 'step';
}

/** Written into every SVG this command makes, so a later `plot` knows it may replace the file. */
export const PLOT_MARK = '<!-- prefrl plot -->';

/** Put PLOT_MARK right after the opening <svg ...> tag (the file still starts with <svg). */
export function markPlot(svg: string): string {
  const end = svg.indexOf('>');
  return end < 0 ? svg : `${svg.slice(0, end + 1)}${PLOT_MARK}${svg.slice(end + 1)}`;
}

/** Whether `path` is a regular file whose first 4 KiB hold PLOT_MARK (an earlier plot of this command). */
export function isOwnPlot(path: string): boolean {
  let fd: number | undefined;
  try {
    if (!statSync(path).isFile()) return false;
    fd = openSync(path, 'r');
    const head = Buffer.alloc(4096);
    const n = readSync(fd, head, 0, head.length, 0);
    return head.subarray(0, n).toString('utf8').includes(PLOT_MARK);
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

const spec = {
  command: 'prefrl plot',
  summary: 'Learning curves of run folders (their metrics.jsonl) as one SVG: a line per run and metric, and each curve\'s last value.',
  flags: {
    metric: flags.list({ doc: 'metrics to plot (comma-separated keys of metrics.jsonl)', default: ['eval/true_return'] }),
    out: flags.string({ doc: 'the SVG file to write (an earlier plot of this command is replaced; any other existing file needs --force)', default: 'curves.svg' }),
    force: flags.bool({ doc: 'replace --out even when it is not a plot this command wrote', default: false }),
    seeds: flags.bool({
      doc: "runs whose settings differ only in their seed (config.json; e.g. made with --like <run> --seed N; a setting that names another run's folder, such as a regret run's --expert, stands for that run's settings but its seed) are drawn as one line, the mean over them at each step they all logged, over a band from the lowest to the highest; the table gives each group's last mean, lowest and highest",
      default: false,
    }),
    json: jsonFlag({ holds: 'the curves' }),
  },
  positionals: [{ name: 'run', doc: 'run folders (runs/<stamp>-<name>; see prefrl runs), one or more', variadic: true }],
  epilog: [
    'Examples:',
    '  prefrl plot runs/<stamp>-train-reacher-oracle-s0 runs/<stamp>-train-reacher-true-s0',
    '  prefrl plot runs/<stamp>-train-reacher-oracle-s0 --metric reward/val_accuracy,reward/epic --out reward.svg',
    '  prefrl plot runs/*-train-reacher-oracle-s* runs/*-train-reacher-true-s* --seeds   # mean and range over seeds',
  ].join('\n'),
};

export const plotCommand: Command = {
  name: 'plot',
  summary: commandSummary('plot'),
  async run(argv, ctx) {
    const parsed = parseOrHelp(argv, spec, ctx.io);
    if (!parsed) return 0;
    const f = parsed.flags;
    // One folder named twice (x, ./x, x/) is one run: the first spelling is kept.
    const runs = distinctFolders(parsed.positionals);
    const metrics = [...new Set(f.metric.map((m) => m.trim()).filter((m) => m !== ''))];
    if (metrics.length === 0) throw new UsageError('--metric: name at least one metric (a key of metrics.jsonl, e.g. eval/true_return)');
    // Re-plotting replaces the earlier plot; a file this command did not write is kept unless --force.
    checkOutFile(f.out, { ext: '.svg', example: 'curves.svg', force: f.force || isOwnPlot(f.out) });
    for (const r of runs) if (!existsSync(r)) throw new UsageError(`${r}: not found`);
    const warned = new Set<string>();
    const cs = curves(runs, metrics, (m) => ctx.logger.warn(m), warned);
    // A run without any of the metrics draws no line: say so, rather than leave it out silently.
    // A run's curves are found by its own label (Curve.run): matching its folder name too would
    // take another run's curves when two runs share a folder name (runs/a/x and runs/b/x).
    const labels = runLabels(runs);
    const shown = new Set(cs.map((c) => c.run));
    runs.forEach((r, i) => {
      if (!shown.has(labels[i]) && !warned.has(r)) ctx.logger.warn(`${r}: logged none of ${metrics.join(', ')}; no line for it`);
    });
    // A run stopped before the end (a killed bench cell, an interrupted train) draws a shorter line
    // that a comparison could take for a finished one: said (summary.json is written at the end).
    // A run going on now (a live process holds its lock) is said to be running, not stopped.
    const byRun = curvesByRun(cs);
    runs.forEach((r, i) => {
      if (!existsSync(resolve(r, 'config.json')) || existsSync(resolve(r, 'summary.json'))) return;
      const own = byRun.get(labels[i]) ?? [];
      const last = lastStepOf(own);
      const holder = liveHolder(r, runCommand(r));
      const state = holder ? `still running (pid ${holder.pid} on ${holder.host})` : 'unfinished (no summary.json)';
      ctx.logger.warn(`${r}: ${state}${own.length ? `; its line ends at step ${last}` : ''}`);
    });
    // --seeds: one line per group of runs that differ only in their seed.
    const groups = f.seeds ? seedGroups(runs) : null;
    const drawn = groups ? seedCurves(groups, cs, new Map(runs.map((r, i) => [r, labels[i]])), (m) => ctx.logger.warn(m)) : cs;
    if (drawn.length === 0) throw new UsageError(`--seeds: no group of runs has ${metrics.join(', ')} at a step all its runs logged`);
    const svg = markPlot(await renderSvg(curvesSpec(drawn, metrics.join(', '), stepTitle(runs))));
    // Written under a temporary name and renamed, so a failure leaves an older plot as it was.
    writeFileAtomic(resolve(f.out), svg);
    const last = drawn.map((c) => ({
      run: c.run,
      metric: c.metric,
      points: c.points.length,
      lastStep: c.points[c.points.length - 1][0],
      last: c.points[c.points.length - 1][1],
      ...(c.band ? { lastMin: c.band[c.band.length - 1][0], lastMax: c.band[c.band.length - 1][1] } : {}),
    }));
    if (f.json) printJson(ctx.io, { out: f.out, curves: last, ...(groups ? { groups: groupLabels(groups).map((name, i) => ({ name, runs: groups[i], seeds: groups[i].map(runSeed) })) } : {}) });
    else {
      const range = (l: (typeof last)[number]) => (l.lastMin === undefined ? [] : [`${l.lastMin.toPrecision(6)} to ${(l.lastMax as number).toPrecision(6)}`]);
      ctx.io.stdout.write(
        `${formatTable(
          groups ? ['runs (seeds)', 'metric', 'points', 'last step', 'last mean', 'lowest to highest'] : ['run', 'metric', 'points', 'last step', 'last value'],
          last.map((l) => [l.run, l.metric, String(l.points), String(l.lastStep), l.last.toPrecision(6), ...range(l)]),
        )}\nwrote ${f.out}\n`,
      );
    }
    return 0;
  },
};
