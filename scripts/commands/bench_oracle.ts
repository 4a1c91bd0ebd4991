/**
 * `prefrl bench oracle`: the synthetic-oracle benchmark harness (issue 7). A suite is a matrix of
 * env x teacher x preference model x label budget x query method x seed (scripts/bench/
 * suites.ts); each cell is an independent job writing its own result file, so a suite resumes
 * where it stopped (finished cells are skipped) and splits over machines with `--shard i/n`;
 * several copies of the command on one folder share the cells through claim files (cells.ts).
 * After the cells, the suite's summary.md (mean ± std over seeds, ratio to PPO on the true
 * reward) and SVG plots are rebuilt from every cell file in the suite folder.
 */
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { flags } from '../../core/config.js';
import { errorMessage, InputError, UsageError } from '../../core/errors.js';
import { Progress } from '../../core/progress.js';
import { writeFileAtomic } from '../../core/run.js';
import { claimState, type Cell, type CellRecord, type ClaimHolder, cellFile, cellStatus, claimCell, cellsDir, configHash, damagedCellFiles, idPart, parseShard, readAllRecords, readCellFile, recordPath, selectShard, withCellRelativePaths, writeCellRecords } from '../bench/cells.js';
import { type CodeVersion, codeVersion, codeVersionText } from '../bench/code_version.js';
import { handNotes, NOTES_HEADING } from '../bench/hand_notes.js';
import { suitePlots } from '../bench/plots.js';
import { checkWritableFolder } from '../bench/writable.js';
import { checkExpertForCells } from '../bench/expert.js';
import { checkOutFolder, makeFolder, shellQuote } from '../../core/paths.js';
import { type CellRunContext, runCell } from '../bench/run_cell.js';
import { aggregate, mixedBudgets, mixedVersions, summaryMarkdown } from '../bench/summary.js';
import { buildSuite, cellLabels, SUITE_NAMES, type Suite } from '../bench/suites.js';
import { type Command, formatTable, onInterrupt, parseOrHelp, printJson } from '../command.js';
import { benchOutFlag, optionalSeedsFlag } from './bench_flags.js';
import { jsonFlag, quietFlag } from './common_flags.js';
import { commandSummary } from '../command_index.js';

/**
 * Where a suite's cells, summary.md and plots go without --out, and its cells' run folders
 * without --runs-dir: <this>/<suite>/, git-ignored. The committed results are written only with
 * an explicit --out benchmarks/results.
 */
export const BENCH_ORACLE_SCRATCH = 'runs/bench-oracle';

const spec = {
  command: 'prefrl bench oracle',
  summary:
    'Synthetic-oracle benchmark suites (B-Pref teachers, regret vs partial return, HERON, VLM, online vs true-reward PPO, PPO): resumable, shardable cells; summary.md and SVG plots per suite.',
  flags: {
    suite: flags.choice(SUITE_NAMES, { doc: 'which suite to run' }),
    seeds: optionalSeedsFlag('per config', '3; smoke: 1'),
    shard: flags.string({ doc: 'run every n-th cell starting at i (i/n, 0 <= i < n), e.g. one shard per machine', optional: true, defaultDoc: 'every cell' }),
    out: benchOutFlag('results root: cells, summary.md and plots go to <out>/<suite>/ (by default beside the cells\' run folders)', BENCH_ORACLE_SCRATCH),
    runsDir: flags.string({ doc: 'root of the cells\' run folders (git-ignored): <runs-dir>/<suite>/', default: BENCH_ORACLE_SCRATCH }),
    stepsScale: flags.float({ doc: 'multiply every env-step budget (e.g. 3.3334 turns 300k into the published 1M; > 0; a budget never drops below one 2,048-step batch; label budgets are not scaled, and a run too short for all its feedback rounds uses fewer labels, which summary.md names)', default: 1 }),
    envs: flags.list({ doc: 'only the cells of these envs (gridworld: the tabular cells)', optional: true, defaultDoc: 'every env of the suite' }),
    expert: flags.string({ doc: 'PPO run folder or checkpoint used as V* by regret-teacher cells instead of the suite\'s expert cell', optional: true }),
    dryRun: flags.bool({ doc: 'list the cells and their status (cost: estimated env-step equivalents, what the progress bar and ETA count); run nothing, write nothing', default: false }),
    summaryOnly: flags.bool({ doc: 'run no cells; rebuild summary.md and plots from the cell files', default: false }),
    quiet: quietFlag("from the cells' training runs"),
    json: jsonFlag(),
  },
  epilog: [
    'Examples:',
    '  prefrl bench oracle --suite smoke                             # 8 tiny cells: try the whole path in about a minute (into runs/bench-oracle/smoke)',
    '  prefrl bench oracle --suite bpref --envs pusher --seeds 1 --steps-scale 0.03   # 3,000-step runs: room for one round of 100 labels each',
    '  prefrl bench oracle --suite online --seeds 3                  # online preference PPO vs true-reward PPO (hours on 2 cores)',
    '  prefrl bench oracle --suite bpref --shard 0/4                  # machine 0 of 4; then copy cells/ together',
    '  prefrl bench oracle --suite bpref & prefrl bench oracle --suite bpref   # two workers share one folder',
    '  prefrl bench oracle --suite bpref --summary-only               # rebuild summary.md and plots',
    '  prefrl bench oracle --suite ppo --seeds 3 --out benchmarks/results   # the committed results (README\'s Results table)',
    '  prefrl bench oracle --suite heron --envs cheetah-run --seeds 1 --steps-scale 0.5',
  ].join('\n'),
};

/** The budget a run of the command was made at: what its cells' ids and summary.md assume. */
export interface BenchBudget {
  /** Seeds 0..seeds-1 (--seeds, or the suite's default). */
  readonly seeds: number;
  /** The suite's envs this run selected (--envs, or all of them; gridworld: the tabular cells). */
  readonly envs: readonly string[];
  /** --steps-scale: every env-step budget times this (1: the suite's own sizes). */
  readonly stepsScale: number;
}

export interface BenchOracleResult {
  readonly suite: string;
  readonly budget: BenchBudget;
  readonly outDir: string;
  readonly cells: number;
  readonly selected: number;
  readonly ran: readonly string[];
  readonly skipped: readonly string[];
  /** Cells skipped because another process held them (claim files): not done by this run. */
  readonly busy: readonly string[];
  readonly failed: readonly { readonly id: string; readonly error: string }[];
  readonly records: number;
  readonly summary: string | null;
  readonly plots: readonly string[];
  /** The code this invocation ran its cells with (recorded in each new cell file). */
  readonly software: CodeVersion;
}

/** How often a cell waiting on a dependency that another process is running looks again (ms; tests shorten it). */
export const benchTiming = { dependencyPollMs: 15_000 };

function holderText(h: ClaimHolder | 'unknown' | null): string {
  return h && h !== 'unknown' ? `pid ${h.pid} on ${h.host} since ${h.since}` : 'claim file being written';
}

// The hand-written notes of a summary.md (kept when it is rebuilt): one definition, shared with
// bench reward / bench agents (scripts/bench/hand_notes.ts).
export { handNotes, NOTES_HEADING };

/** Where a cell's result made with another configuration goes when the cell runs again: <cells>/replaced/. */
export function replacedDir(suiteDir: string): string {
  return join(cellsDir(suiteDir), 'replaced');
}

/**
 * Before a cell's new result is written: move its existing file aside when that holds a result
 * made with another configuration (another --expert, or a suite definition changed since), to
 * <cells>/replaced/<cellId>.<old hash>.jsonl (.2, .3, ... when taken), so that no finished result
 * is lost; summaries read only the files directly in cells/. Returns the new path, or null when
 * there was nothing to move (no file, or one of this configuration).
 */
export function keepReplacedResult(suiteDir: string, cell: Cell): string | null {
  const file = cellFile(suiteDir, cell.id);
  const recs = readCellFile(file);
  const h = configHash(cell);
  if (!recs || recs.every((r) => r.hash === h)) return null;
  const dir = replacedDir(suiteDir);
  makeFolder(dir);
  const base = `${cell.id}.${idPart(recs[0].hash) || 'unknown'}`;
  let dest = join(dir, `${base}.jsonl`);
  for (let k = 2; existsSync(dest); k++) dest = join(dir, `${base}.${k}.jsonl`);
  renameSync(file, dest);
  return dest;
}

/** Write summary.md and the plots from every cell file of the suite folder; hand-written notes at its end are kept. */
export async function writeSummary(
  suite: Suite,
  suiteDir: string,
  command: string,
  failed: BenchOracleResult['failed'],
): Promise<{ summary: string; plots: string[]; records: CellRecord[]; foreign: { id: string; suite: string }[]; stale: string[] }> {
  // A result made with another configuration of a cell of this suite (e.g. another --expert) is
  // left out: averaged in, it would mix two experiments. So is a cell file of another suite
  // copied into this folder that is no cell of this suite (its rows would read as this suite's;
  // a cell both suites have, with the same configuration, counts: say, true-reward PPO taken
  // from the ppo suite). Results of cells outside this invocation's selection (other --envs or
  // --seeds) stay.
  const hashes = new Map(suite.cells.map((c) => [c.id, configHash(c)]));
  const stale = new Set<string>();
  const foreign = new Map<string, string>();
  const records = readAllRecords(suiteDir).filter((r) => {
    const h = hashes.get(r.cellId);
    if (h === undefined && r.suite !== suite.name) {
      foreign.set(r.cellId, r.suite);
      return false;
    }
    if (h === undefined || r.hash === h) return true;
    stale.add(r.cellId);
    return false;
  });
  const aggs = aggregate(records);
  const plots = await suitePlots(aggs);
  makeFolder(suiteDir);
  // Whole files only: two copies of the suite may finish at once and write these together.
  for (const p of plots) writeFileAtomic(join(suiteDir, p.file), p.svg);
  const done = new Set(records.map((r) => r.cellId));
  const missing = suite.cells.filter((c) => !done.has(c.id)).map((c) => c.id);
  const summary = join(suiteDir, 'summary.md');
  const notes = existsSync(summary) ? handNotes(readFileSync(summary, 'utf8')) : null;
  const foreignList = [...foreign].map(([id, s]) => ({ id, suite: s })).sort((a, b) => a.id.localeCompare(b.id));
  const text = summaryMarkdown({ suite, records, command, missing, stale: [...stale].sort(), plots: plots.map((p) => ({ file: p.file, title: p.title })), failed, foreign: foreignList });
  writeFileAtomic(summary, notes ? `${text.trimEnd()}\n\n${notes}` : text);
  return { summary, plots: plots.map((p) => join(suiteDir, p.file)), records, foreign: foreignList, stale: [...stale].sort() };
}

export const benchOracleCommand: Command = {
  name: 'bench oracle',
  summary: commandSummary('bench oracle'),
  async run(argv, ctx) {
    const parsed = parseOrHelp(argv, spec, ctx.io);
    if (!parsed) return 0;
    const f = parsed.flags;
    const shard = f.shard === undefined ? undefined : parseShard(f.shard);
    if (!(f.stepsScale > 0)) throw new UsageError(`--steps-scale: must be > 0, got ${f.stepsScale}`);
    if (f.dryRun && f.summaryOnly) throw new UsageError('--dry-run and --summary-only exclude each other');
    if (f.envs !== undefined && f.envs.every((e) => e.trim() === '')) throw new UsageError('--envs: name at least one env (or leave --envs out for all of the suite\'s)');
    // Checked now, not when the first regret-teacher cell starts (possibly hours into the suite).
    if (f.expert !== undefined && !existsSync(f.expert)) throw new UsageError(`--expert ${f.expert}: not found (a PPO run folder or its checkpoint)`);
    const suite = buildSuite(f.suite, { seeds: f.seeds, stepsScale: f.stepsScale, envs: f.envs, expert: f.expert });
    // Every check of --expert now (what train checks when the first regret-teacher cell starts).
    if (f.expert !== undefined) checkExpertForCells(f.expert, suite.cells, `suite ${suite.name}${f.envs !== undefined ? ' with these --envs' : ''}`);
    const budget: BenchBudget = { seeds: f.seeds ?? suite.defaultSeeds, envs: f.envs ?? [...suite.envs], stepsScale: f.stepsScale };
    const suiteDir = resolve(f.out, suite.name);
    const runsDir = resolve(f.runsDir, suite.name);
    checkOutFolder(join(f.out, suite.name), '--out');
    if (!f.dryRun && !f.summaryOnly) checkOutFolder(join(f.runsDir, suite.name), '--runs-dir');
    const command = `prefrl bench oracle ${argv.map(shellQuote).join(' ')}`;
    // Once, before any cell runs: the code this process loaded (files edited while it runs do not
    // change it), with the cell files it writes under --out not counted as changes.
    const software = codeVersion([f.out]);
    const selected = selectShard(suite.cells, shard);
    // More shards than cells (say a fixed number of batch jobs on a small suite, or --envs/--seeds
    // that leave few cells): some shards have nothing to do. Said, and not an error for the job.
    const emptyShard = shard !== undefined && selected.length === 0;
    if (emptyShard) {
      const narrowed = f.envs !== undefined || f.seeds !== undefined ? ' with these --envs/--seeds' : '';
      ctx.logger.warn(`--shard ${f.shard}: no cells in this shard (suite ${suite.name}${narrowed} has ${suite.cells.length} cell${suite.cells.length === 1 ? '' : 's'}, fewer than the ${shard.count} shards); nothing to run`);
    }
    const status = new Map(selected.map((c) => [c.id, cellStatus(suiteDir, c)]));
    // A damaged cell file (say, a truncated copy from another machine) is not taken for a missing
    // result: running the cell again would replace it, and the summary would leave it out unsaid.
    const damaged = new Map(damagedCellFiles(suiteDir).map((d) => [d.file, d]));
    if (!f.dryRun && damaged.size > 0) {
      const d = [...damaged.values()][0];
      const more = damaged.size > 1 ? ` (and ${damaged.size - 1} more damaged cell file${damaged.size > 2 ? 's' : ''}; --dry-run lists them)` : '';
      throw new InputError(d.file, `${d.problem}; repair it, or move it out of ${join(suiteDir, 'cells')} to run its cell again${more}`, d.line === undefined ? undefined : `line ${d.line}`);
    }

    if (f.dryRun) {
      const claims = new Map(selected.map((c) => [c.id, status.get(c.id) === 'done' ? null : claimState(suiteDir, c.id)]));
      const running = new Map([...claims].map(([id, c]) => [id, c && !c.stale ? c.holder : null]));
      // A claim its process left behind: the cell was stopped (Ctrl-C, a kill, a crash) and starts over.
      const stopped = new Map([...claims].map(([id, c]) => [id, c?.stale ? c.holder : null]));
      // Which code made each finished cell, where it differs from this code (or was not recorded).
      const now = codeVersionText(software);
      const madeBy = new Map(
        selected.map((c) => {
          const r = status.get(c.id) === 'done' ? readCellFile(cellFile(suiteDir, c.id))?.[0] : undefined;
          return [c.id, r === undefined ? null : r.software ? codeVersionText(r.software) : 'not recorded'];
        }),
      );
      const otherCode = [...madeBy.values()].filter((v) => v !== null && v !== now).length;
      if (f.json) {
        printJson(ctx.io, {
          suite: suite.name,
          budget,
          outDir: suiteDir,
          cells: suite.cells.length,
          software,
          selected: selected.map((c) => ({ id: c.id, kind: c.kind, env: c.env, seed: c.seed, status: damaged.has(cellFile(suiteDir, c.id)) ? 'damaged' : status.get(c.id), running: running.get(c.id), stopped: stopped.get(c.id), cost: c.cost, ...(c.kind === 'train' && cellLabels(c) ? { labels: cellLabels(c) } : {}), madeBy: madeBy.get(c.id) })),
          damaged: [...damaged.values()],
        });
      } else {
        const shown = (c: Cell): string => {
          const h = running.get(c.id);
          if (h) return `running (${holderText(h)})`;
          const d = damaged.get(cellFile(suiteDir, c.id));
          if (d) return `damaged file (${d.line === undefined ? '' : `line ${d.line}: `}${d.problem})`;
          const s = stopped.get(c.id);
          if (s) return `${status.get(c.id)} (stopped: ${holderText(s)} is gone; starts over)`;
          const m = madeBy.get(c.id);
          if (m === 'not recorded') return 'done (code version not recorded)';
          return m && m !== now ? `done (made by ${m})` : (status.get(c.id) as string);
        };
        const rows = selected.map((c) => [c.id, c.kind, shown(c), String(c.cost)]);
        // The cost column's unit, said under the table (it was only in --help), with the sum still to run.
        const left = selected.filter((c) => status.get(c.id) !== 'done' && !running.get(c.id));
        const costLine = `cost: estimated work in env-step equivalents (what the progress bar and its ETA count): ${left.reduce((a, c) => a + c.cost, 0).toLocaleString('en-US')} in the ${left.length} cell${left.length === 1 ? '' : 's'} still to run`;
        // Learned-reward cells: the labels their runs will ask (the rounds that fit), not their whole budgets.
        const learned = left.flatMap((c) => (c.kind === 'train' ? [cellLabels(c)] : [])).filter((l) => l !== null);
        const asked = learned.reduce((a, l) => a + l.asked, 0);
        const budget = learned.reduce((a, l) => a + l.budget, 0);
        const labelLine = learned.length
          ? `(a learned-reward cell counts 1.5 per env step and 600 per label its run will ask: the feedback rounds that fit its steps by the loop's schedule, ${asked.toLocaleString('en-US')} of the ${budget.toLocaleString('en-US')} labels of the ${learned.length} such cell${learned.length === 1 ? '' : 's'} still to run)\n`
          : '';
        ctx.io.stdout.write(`${formatTable(['cell', 'kind', 'status', 'cost'], rows)}\n${selected.length} of ${suite.cells.length} cells (${suiteDir})\n${costLine}\n${labelLine}This code: ${now}\n`);
        if (otherCode) ctx.io.stdout.write(`${otherCode} finished cell${otherCode === 1 ? ' was' : 's were'} made by other code or recorded none (a run keeps them; move their files out of ${cellsDir(suiteDir)} to redo them with this code)\n`);
        if (damaged.size) {
          const list = [...damaged.values()].map((d) => `  ${d.file}${d.line === undefined ? '' : ` (line ${d.line})`}: ${d.problem}\n`).join('');
          ctx.io.stdout.write(`${damaged.size} damaged cell file${damaged.size > 1 ? 's' : ''} (a run or --summary-only stops on ${damaged.size > 1 ? 'them' : 'it'} until repaired or moved away):\n${list}`);
        }
      }
      return 0;
    }

    if (f.summaryOnly) {
      // Most likely a mistyped --out or cells not copied yet: an empty summary would replace a good one.
      // So would one made only of another suite's cell files (copied into the wrong folder), which it leaves out.
      const all = readAllRecords(suiteDir);
      const ids = new Set(suite.cells.map((c) => c.id));
      if (!all.some((r) => r.suite === suite.name || ids.has(r.cellId))) {
        const others = [...new Set(all.map((r) => r.suite))].sort();
        const only = others.length ? ` of suite ${suite.name} (only cell files of suite ${others.join(', ')}, which it would leave out)` : '';
        // Without --out it looked in the scratch folder: the committed results need --out benchmarks/results (the default before 2026-12-07).
        const committed = f.out === BENCH_ORACLE_SCRATCH ? '; the committed results are read with --out benchmarks/results' : '';
        throw new UsageError(`--summary-only: no cell results${only} in ${join(suiteDir, 'cells')} (check --out ${f.out}, or copy every machine's cells/*.jsonl there first${committed})`);
      }
    }
    if (emptyShard && !f.summaryOnly) {
      // Nothing ran: summary.md and the plots are left as they are (--summary-only rebuilds them).
      const result: BenchOracleResult = { suite: suite.name, budget, outDir: suiteDir, cells: suite.cells.length, selected: 0, ran: [], skipped: [], busy: [], failed: [], records: readAllRecords(suiteDir).length, summary: null, plots: [], software };
      if (f.json) printJson(ctx.io, result);
      else ctx.io.stdout.write(`${suite.name}: shard ${f.shard} has no cells; nothing run, summary not rebuilt\n`);
      return 0;
    }
    const pending = f.summaryOnly ? [] : selected.filter((c) => status.get(c.id) !== 'done');
    const skipped = selected.filter((c) => status.get(c.id) === 'done').map((c) => c.id);
    // Before any cell runs: a folder this user may not write into refused the first cell's result
    // (or, with --summary-only, the plots) with a bare EACCES, after the cell had run.
    checkWritableFolder(f.summaryOnly ? suiteDir : cellsDir(suiteDir), '--out', f.out);
    // Only cells with run folders (not the tabular and random-policy ones, which make none) need --runs-dir.
    if (pending.some((c) => c.kind !== 'tabular' && c.kind !== 'random')) checkWritableFolder(runsDir, '--runs-dir', f.runsDir);
    for (const c of pending) if (status.get(c.id) === 'stale') ctx.logger.warn(`cell ${c.id}: its result was made with another configuration; running it again (the old result goes to ${replacedDir(suiteDir)} when the new one is written)`);
    if (!f.summaryOnly) ctx.logger.info(`bench oracle ${suite.name}: ${selected.length} of ${suite.cells.length} cells selected, ${skipped.length} already done, ${pending.length} to run -> ${suiteDir}`);

    const byId = new Map(suite.cells.map((c) => [c.id, c]));
    const ran: string[] = [];
    const failed: { id: string; error: string }[] = [];
    const busy: string[] = [];
    const inFlight = new Set<string>();
    // Claims this process holds: released when it stops (Ctrl-C, SIGTERM, a crash) as well, since
    // another host would otherwise respect them until someone deletes the files.
    const held = new Set<() => void>();
    const take = (id: string): ReturnType<typeof claimCell> => {
      const c = claimCell(suiteDir, id);
      if (!c.ok) return c;
      held.add(c.release);
      return {
        ok: true,
        release: () => {
          held.delete(c.release);
          c.release();
        },
      };
    };
    const rc: CellRunContext = {
      ctx,
      runsDir,
      quiet: f.quiet,
      benchCommand: command,
      software,
      runFolderOf: (id) => dependency(id, 'train'),
      datasetOf: (id) => dependency(id, 'collect'),
    };
    /** What a dependent cell needs from a finished cell, if it is on this machine: a PPO run folder with a checkpoint, or a dataset file. */
    const artifact = (dep: Cell, recs: CellRecord[] | null): string | null => {
      const r = recs?.[0];
      if (!r) return null;
      const run = r.runDir ? recordPath(r, r.runDir, suiteDir) : null;
      if (dep.kind === 'train') return run !== null && existsSync(join(run, 'artifacts', 'checkpoint')) ? run : null;
      const ds = r.extra?.dataset;
      const file = typeof ds === 'string' ? recordPath(r, ds, suiteDir) : null;
      return dep.kind === 'collect' && file !== null && existsSync(file) ? file : null;
    };
    /** A dependency's artifact; the dependency runs first when it has no result here (e.g. in another shard, or copied from another machine without its run folder). */
    async function dependency(id: string, kind: 'train' | 'collect'): Promise<string> {
      const dep = byId.get(id);
      if (!dep || dep.kind !== kind) throw new Error(`dependency ${id} is not a ${kind} cell of suite ${suite.name}`);
      const have = (): string | null => (cellStatus(suiteDir, dep) === 'done' ? artifact(dep, readCellFile(cellFile(suiteDir, id))) : null);
      let path = have();
      if (path) return path;
      if (inFlight.has(id)) throw new Error(`dependency cycle through cell ${id}`);
      // Another process is running it: wait for its result rather than running it twice.
      let claim = take(id);
      while (!claim.ok) {
        ctx.logger.info(`waiting for cell ${id}, a dependency running in another process (${holderText(claim.holder)})`);
        await new Promise((r) => setTimeout(r, benchTiming.dependencyPollMs));
        path = have();
        if (path) return path;
        claim = take(id);
      }
      // It may have finished between the look and the claim.
      path = have();
      if (path) {
        claim.release();
        return path;
      }
      ctx.logger.info(`running cell ${id} first (a dependency whose ${kind === 'train' ? 'run folder' : 'dataset'} is not on this machine)`);
      try {
        path = artifact(dep, await execute(dep));
      } finally {
        claim.release();
      }
      if (!path) throw new Error(`dependency ${id} finished without its ${kind === 'train' ? 'checkpoint' : 'dataset'}`);
      return path;
    }
    async function execute(cell: Cell): Promise<CellRecord[]> {
      inFlight.add(cell.id);
      try {
        // Paths relative to the cell file's folder: found again from any working folder.
        const recs = (await runCell(cell, rc)).map((r) => withCellRelativePaths(r, suiteDir));
        const kept = keepReplacedResult(suiteDir, cell);
        if (kept) ctx.logger.info(`cell ${cell.id}: its earlier result, made with another configuration, is kept as ${kept}`);
        writeCellRecords(suiteDir, cell.id, recs);
        ran.push(cell.id);
        // A finished cell run again for its artifact (a dependency) counts as run, not skipped.
        const i = skipped.indexOf(cell.id);
        if (i >= 0) skipped.splice(i, 1);
        return recs;
      } finally {
        inFlight.delete(cell.id);
      }
    }

    const total = pending.reduce((a, c) => a + c.cost, 0);
    // Plain lines (one per finished cell) so the suite's ETA reads well between the runs' own bars.
    const progress = new Progress(`bench oracle ${suite.name}`, total, { unit: 'work', clock: ctx.clock, sink: ctx.io.stderr, tty: false, intervalMs: 0, silent: pending.length === 0 });
    let k = 0;
    // Ctrl-C: the runs of a cell are the bench's, not the user's to resume (a cell that stops starts over).
    // SIGTERM too (a batch system's time limit): the claims go back through the 'exit' listener.
    const stopHint =
      pending.length > 0
        ? onInterrupt(
            ctx,
            () => ({
              line: `stopped; run the same command again to go on (finished cells are kept; the cells that were running start over): ${command}`,
              fields: { suite: suite.name, outDir: suiteDir, ran: [...ran], failed: [...failed], running: [...inFlight], rerun: command },
            }),
            { json: f.json },
          )
        : () => undefined;
    const releaseHeld = (): void => {
      for (const r of [...held]) r();
    };
    process.on('exit', releaseHeld);
    try {
      for (const cell of pending) {
        k++;
        if (ran.includes(cell.id)) {
          progress.tick(cell.cost, `cell ${k}/${pending.length} ${cell.id} (ran as a dependency)`);
          continue;
        }
        // Other processes may share this folder: skip what they are running now or have finished
        // (looked at after the claim, so a cell finished between the two is not run again).
        const claim = take(cell.id);
        if (!claim.ok) {
          busy.push(cell.id);
          ctx.logger.info(`cell ${k}/${pending.length}: ${cell.id} is running in another process (${holderText(claim.holder)}); skipped`);
          progress.drop(cell.cost, `cell ${k}/${pending.length} ${cell.id} (running elsewhere)`);
          continue;
        }
        if (cellStatus(suiteDir, cell) === 'done') {
          claim.release();
          skipped.push(cell.id);
          progress.drop(cell.cost, `cell ${k}/${pending.length} ${cell.id} (done by another process)`);
          continue;
        }
        ctx.logger.info(`cell ${k}/${pending.length}: ${cell.id}`);
        try {
          await execute(cell);
        } catch (e) {
          if (e instanceof UsageError) throw e;
          failed.push({ id: cell.id, error: errorMessage(e) });
          ctx.logger.error(`cell ${cell.id} failed: ${errorMessage(e)}`);
        } finally {
          claim.release();
        }
        progress.tick(cell.cost, `cell ${k}/${pending.length} ${cell.id}${failed.some((x) => x.id === cell.id) ? ' FAILED' : ''}`);
      }
    } finally {
      stopHint();
      process.off('exit', releaseHeld);
    }
    if (pending.length) progress.finish(`${ran.length} cells run, ${failed.length} failed`);
    const out = await writeSummary(suite, suiteDir, command, failed);
    // Results that a run would have replaced (it warns per cell) but --summary-only only leaves out.
    const unreplaced = out.stale.filter((id) => !ran.includes(id));
    if (f.summaryOnly && unreplaced.length) {
      ctx.logger.warn(`${unreplaced.length} cell result${unreplaced.length === 1 ? ' was' : 's were'} made with another configuration of ${unreplaced.length === 1 ? 'its cell' : 'their cells'}, left out of summary.md (they run again without --summary-only): ${unreplaced.slice(0, 3).join(', ')}${unreplaced.length > 3 ? ', ...' : ''}`);
    }
    if (out.foreign.length) {
      const names = out.foreign.slice(0, 3).map((x) => `${x.id} (suite ${x.suite})`).join(', ');
      ctx.logger.warn(`${out.foreign.length} cell file${out.foreign.length === 1 ? '' : 's'} in ${cellsDir(suiteDir)} hold${out.foreign.length === 1 ? 's' : ''} results of another suite, left out of summary.md: ${names}${out.foreign.length > 3 ? ', ...' : ''}`);
    }
    // Rows of one table at several budgets (cells of another --steps-scale in the folder): said here
    // as well as in summary.md, since a plot or a mean read alone would mix them up.
    const aggs = aggregate(out.records);
    for (const t of [...new Set(aggs.map((a) => a.table))]) {
      for (const m of mixedBudgets(aggs.filter((a) => a.table === t))) {
        ctx.logger.warn(`table ${t} mixes ${m.column === 'steps' ? 'env-step budgets' : 'IQL update counts'} ${m.values.map((v) => v.toLocaleString('en-US')).join(', ')} (cells of another --steps-scale in ${cellsDir(suiteDir)}?); summary.md keeps them in separate rows`);
      }
      // Cells of one table made by different code (another commit or MuJoCo build, or none recorded beside recorded ones).
      const mixed = mixedVersions(out.records.filter((r) => r.table === t));
      if (mixed) {
        const what = [mixed.code.length > 1 ? `${mixed.code.length} prefrl versions or commits` : '', mixed.mujoco.length > 1 ? `MuJoCo ${mixed.mujoco.join(' and ')}` : '', mixed.unrecorded ? `${mixed.unrecorded} cell${mixed.unrecorded === 1 ? '' : 's'} with no version recorded` : ''].filter((x) => x !== '');
        ctx.logger.warn(`table ${t} holds cells made by different code (${what.join(', ')}); summary.md names the versions`);
      }
    }
    ctx.logger.info(`wrote ${out.summary} (${out.records.length} records) and ${out.plots.length} plots`);
    const result: BenchOracleResult = {
      suite: suite.name,
      budget,
      outDir: suiteDir,
      cells: suite.cells.length,
      selected: selected.length,
      ran,
      skipped,
      busy,
      failed,
      records: out.records.length,
      summary: out.summary,
      plots: out.plots,
      software,
    };
    if (f.json) printJson(ctx.io, result);
    else if (f.summaryOnly) {
      const cells = new Set(out.records.map((r) => r.cellId)).size;
      const n = out.records.length;
      ctx.io.stdout.write(`${suite.name}: summary rebuilt from ${cells} cell result${cells === 1 ? '' : 's'} (${n} record${n === 1 ? '' : 's'}); summary ${out.summary}\n`);
    }
    else {
      ctx.io.stdout.write(
        `${suite.name}: ${ran.length} cells run, ${skipped.length} skipped (done), ${busy.length ? `${busy.length} running elsewhere, ` : ''}${failed.length} failed; summary ${out.summary}${failed.length ? `\nfailed: ${failed.map((x) => `${x.id}: ${x.error}`).join('\n        ')}` : ''}\n`,
      );
    }
    return failed.length ? 1 : 0;
  },
};
