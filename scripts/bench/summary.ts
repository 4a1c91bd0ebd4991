/**
 * Aggregation and the Markdown summary of a suite: records grouped by (table, display row),
 * mean +- sample std over seeds for every metric, learning curves averaged per evaluation step,
 * the ratio of each learned-reward config's final true return to PPO on the true reward at the
 * same env steps, and the normalised score (random policy 0, true-reward PPO 1). Pure functions
 * of the records, so shards merged by copying cell files summarise like one machine's run.
 */
import type { CellRecord, Row } from './cells.js';
import { isReference, meanStd, rowKey } from './cells.js';
import { type CodeVersion, codeVersionText, machineText } from './code_version.js';
import type { Suite } from './suites.js';

export interface Stat {
  readonly mean: number;
  readonly std: number;
  readonly n: number;
}

export interface Aggregate {
  readonly table: string;
  readonly row: Row;
  readonly key: string;
  /** Distinct seeds among the records. */
  readonly seeds: readonly number[];
  /** Records aggregated (tabular: worlds x seeds). */
  readonly n: number;
  readonly metrics: Readonly<Record<string, Stat>>;
  /** Mean +- std over records of the evaluation return at each env step any record evaluated. */
  readonly curve: readonly { readonly steps: number; readonly mean: number; readonly std: number; readonly n: number }[];
  readonly wallSeconds: number;
}

const METHOD_RANK: Readonly<Record<string, number>> = { random: 0, ppo: 1, 'ppo-true': 2, expert: 3 };

/** Row order in tables: references first (random, dataset, true-reward PPO, expert), then column by column (numbers numerically). */
export function compareRows(a: Row, b: Row): number {
  const rank = (r: Row) => (r.method === undefined ? 9 : (METHOD_RANK[String(r.method).split(' ')[0]] ?? (String(r.method).startsWith('dataset') ? 1 : 9)));
  const d = rank(a) - rank(b);
  if (d !== 0) return d;
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = a[k];
    const y = b[k];
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    return String(x ?? '').localeCompare(String(y ?? ''));
  }
  return 0;
}

/** Group records by (table, row); aggregates come out in order of first appearance. */
export function aggregate(records: readonly CellRecord[]): Aggregate[] {
  const groups = new Map<string, CellRecord[]>();
  for (const r of records) {
    const k = rowKey(r.table, r.row);
    const g = groups.get(k);
    if (g) g.push(r);
    else groups.set(k, [r]);
  }
  return [...groups.entries()].map(([key, rs]) => {
    const names = [...new Set(rs.flatMap((r) => Object.keys(r.metrics)))];
    const metrics: Record<string, Stat> = {};
    for (const m of names) metrics[m] = meanStd(rs.map((r) => r.metrics[m]));
    const byStep = new Map<number, number[]>();
    for (const r of rs) {
      for (const [x, y] of r.curve ?? []) {
        if (!Number.isFinite(y)) continue;
        const a = byStep.get(x);
        if (a) a.push(y);
        else byStep.set(x, [y]);
      }
    }
    const curve = [...byStep.entries()].sort((a, b) => a[0] - b[0]).map(([steps, ys]) => ({ steps, ...meanStd(ys) }));
    return {
      table: rs[0].table,
      row: rs[0].row,
      key,
      seeds: [...new Set(rs.map((r) => r.seed))].sort((a, b) => a - b),
      n: rs.length,
      metrics,
      curve,
      wallSeconds: rs.reduce((a, r) => a + (r.wallSeconds ?? 0), 0),
    };
  });
}

export interface Ratios {
  /** mean final true return / mean of true-reward PPO at the same steps (null when PPO's is <= 0 or the random policy's is below -0.1 x PPO's). */
  readonly ratio: number | null;
  /** (R - R_random) / (R_PPO - R_random) with the env's random-policy mean (null without one). */
  readonly normalised: number | null;
  readonly baseline: number | null;
  readonly random: number | null;
}

/** Ratios of a learned-reward aggregate to the true-reward PPO (same table and env steps) and random policy aggregates. */
export function ratios(a: Aggregate, all: readonly Aggregate[]): Ratios {
  const r = a.metrics.finalTrueReturn?.mean;
  const none = { ratio: null, normalised: null, baseline: null, random: null };
  if (r === undefined || !Number.isFinite(r) || isReference(a.row)) return none;
  const base = all.find((b) => b.table === a.table && b.row.method === 'ppo-true' && b.row.steps === a.row.steps)?.metrics.finalTrueReturn?.mean;
  const rand = all.find((b) => b.table === a.table && b.row.method === 'random')?.metrics.finalTrueReturn?.mean;
  const baseline = base !== undefined && Number.isFinite(base) ? base : null;
  const random = rand !== undefined && Number.isFinite(rand) ? rand : null;
  return {
    // A ratio of returns means something only on a positive scale: PPO's return positive and the
    // random policy's not far below zero (reacher's returns are negative distances: normalised only).
    ratio: positiveScale(baseline ?? undefined, random ?? undefined) ? r / (baseline as number) : null,
    // Only where the reference beats the random policy: below it (a run too short to learn, as in a
    // small --steps-scale trial) the scale turns over and a worse policy reads above 100%.
    normalised: baseline !== null && random !== null && baseline > random ? (r - random) / (baseline - random) : null,
    baseline,
    random,
  };
}

/** Compact number: 3 decimals below 10, fewer above, integers from 1,000. */
export function fmtNum(x: number): string {
  if (!Number.isFinite(x)) return 'n/a';
  const ax = Math.abs(x);
  if (ax >= 1000) return Math.round(x).toLocaleString('en-US');
  if (ax >= 100) return x.toFixed(1);
  if (ax >= 10) return x.toFixed(2);
  return x.toFixed(3);
}

/** Metrics that are counts or rates: shown rounded to integers. */
const COUNTS = new Set(['labelsUsed', 'envSteps', 'stepsPerSecond', 'ppoStepsPerSecond', 'transitions', 'skips']);

/**
 * "mean ± std" (the mean alone for one value). `rows`: the records of the table row; when the
 * statistic has fewer values (a record without it, or with a NaN or infinite value written as
 * null) its own count follows as "(n=k)", since the row's seeds column would overstate it.
 */
export function fmtStat(s: Stat | undefined, integer = false, rows?: number): string {
  if (!s || s.n === 0) return '-';
  const f = integer ? (x: number) => Math.round(x).toLocaleString('en-US') : fmtNum;
  const text = s.n > 1 ? `${f(s.mean)} ± ${f(s.std)}` : f(s.mean);
  return rows !== undefined && s.n < rows ? `${text} (n=${s.n})` : text;
}

/** The budget columns of a display row: a table that holds compared rows at several values of one mixes budgets. */
const BUDGET_COLUMNS = ['steps', 'updates'] as const;

/**
 * The budgets (env steps, IQL updates) a table's trained rows were run at, per budget column,
 * where there is more than one: rows of one suite run with different --steps-scale (or cells of
 * another size copied in). Reference rows whose budget is their own are not counted: the random
 * policy (no steps), datasets (collection steps) and experts (trained longer on purpose).
 */
export function mixedBudgets(aggs: readonly Aggregate[]): { column: string; values: number[] }[] {
  const trained = aggs.filter((a) => {
    const m = String(a.row.method ?? '');
    return m !== 'random' && !m.startsWith('dataset') && !m.startsWith('expert');
  });
  const out: { column: string; values: number[] }[] = [];
  for (const column of BUDGET_COLUMNS) {
    const values = [...new Set(trained.map((a) => a.row[column]).filter((v): v is number => typeof v === 'number' && v > 0))].sort((x, y) => x - y);
    if (values.length > 1) out.push({ column, values });
  }
  return out;
}

/**
 * Rows whose runs used fewer labels than the row's label budget (mean of "labels used" below
 * "labels"): a run whose env steps ended before its feedback rounds had asked them all, as at a
 * small `--steps-scale`. Such a row does not measure its budget, and rows of several budgets
 * may then be the same runs.
 */
export function labelsShort(aggs: readonly Aggregate[]): { row: Row; labels: number; used: number }[] {
  const out: { row: Row; labels: number; used: number }[] = [];
  for (const a of aggs) {
    const labels = a.row.labels;
    const used = a.metrics.labelsUsed;
    if (typeof labels === 'number' && labels > 0 && used && used.n > 0 && used.mean < labels) out.push({ row: a.row, labels, used: used.mean });
  }
  return out;
}

const pct = (x: number | null): string => (x === null ? '-' : `${(x * 100).toFixed(0)}%`);

/** Metric columns in display order: [key, header]. Any other metric is appended generically. */
const METRIC_COLUMNS: readonly (readonly [string, string])[] = [
  ['finalTrueReturn', 'final true return'],
  ['finalSuccess', 'success'],
  ['labelsUsed', 'labels used'],
  ['rewardAccuracy', 'held-out acc'],
  ['rewardCorrelation', 'return corr'],
  ['epic', 'EPIC'],
  ['scaledReturn', 'mean scaled return'],
  ['nearOptimal', 'runs > 0.9'],
  ['pGoal', 'P(goal)'],
  ['trainAccuracy', 'train acc'],
  ['iqlTrueReturn', 'IQL true reward'],
  ['bcReturn', 'BC'],
  ['ratioToIqlTrue', 'vs IQL true'],
  ['normalisedToIqlTrue', 'normalised (IQL)'],
  ['teacherAgreement', 'teacher agreement'],
  ['datasetMinReturn', 'dataset min return'],
  ['datasetMaxReturn', 'dataset max return'],
  ['ppoStepsPerSecond', 'PPO steps/s'],
  ['stepsPerSecond', 'run steps/s'],
];
const HIDDEN = new Set(['wallSeconds', 'envSteps', 'episodes', 'meanLength', 'pSheep', 'tieFraction', 'randomReturn', 'transitions', 'skips', 'transitionCorrelation']);
const PERCENT = new Set(['nearOptimal', 'ratioToIqlTrue', 'normalisedToIqlTrue']);

function cellText(v: string | number): string {
  if (typeof v === 'number') return v >= 10_000 ? v.toLocaleString('en-US') : String(v);
  return v;
}

function mdTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [`| ${header.map(esc).join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n');
}

/**
 * Whether a plain ratio to a reference return means anything: the reference is positive and the
 * random policy's return is not below -0.1 times it (the rule of the "vs true PPO" column; on a
 * cost scale a worse policy gets a ratio above 1). Missing values count as unknown -> false.
 */
export function positiveScale(reference: number | undefined, random: number | undefined): boolean {
  if (reference === undefined || !Number.isFinite(reference) || !(reference > 0)) return false;
  return random === undefined || !Number.isFinite(random) || random >= -0.1 * reference;
}

/** Whether a reference return is above the random policy's (both known): the condition for a normalised score. */
export function aboveRandom(reference: number | undefined, random: number | undefined): boolean {
  return reference !== undefined && random !== undefined && Number.isFinite(reference) && Number.isFinite(random) && reference > random;
}

/**
 * Seeds each display row of the suite definition asks for, by rowKey (rows of train, random,
 * collect and offline cells; a tabular cell's records have rows of their own and are not counted).
 */
export function expectedSeeds(cells: readonly { readonly table: string; readonly row: Row; readonly seed: number }[]): Map<string, number> {
  const seeds = new Map<string, Set<number>>();
  for (const c of cells) {
    const k = rowKey(c.table, c.row);
    const set = seeds.get(k);
    if (set) set.add(c.seed);
    else seeds.set(k, new Set([c.seed]));
  }
  return new Map([...seeds].map(([k, v]) => [k, v.size]));
}

/**
 * The seeds cell of a row: its record count, with its seeds where that differs ("6 (2 seeds)":
 * tabular rows count worlds x seeds), and "k of n" where the suite definition asks for n seeds
 * and k have finished.
 */
export function seedsText(a: Pick<Aggregate, 'n' | 'seeds'>, expected?: number): string {
  const k = a.seeds.length;
  const of = expected !== undefined && k < expected ? ` of ${expected}` : '';
  return a.n === k ? `${a.n}${of}` : `${a.n} (${k}${of} seeds)`;
}

/** One Markdown table per summary table (env or tabular domain); `expected`: seeds per row key the suite definition asks for (expectedSeeds). */
export function tableMarkdown(table: string, aggs: readonly Aggregate[], all: readonly Aggregate[], expected: ReadonlyMap<string, number> = new Map()): string {
  const rowCols = [...new Set(aggs.flatMap((a) => Object.keys(a.row)))];
  const present = new Set(aggs.flatMap((a) => Object.keys(a.metrics).filter((k) => a.metrics[k].n > 0)));
  const metricCols = [...METRIC_COLUMNS.filter(([k]) => present.has(k)), ...[...present].filter((k) => !HIDDEN.has(k) && !METRIC_COLUMNS.some(([m]) => m === k)).map((k) => [k, k] as const)];
  const withRatios = present.has('finalTrueReturn') && aggs.some((a) => a.row.method === 'ppo-true');
  const header = [...rowCols, 'seeds', ...(withRatios ? [metricCols[0][1], 'vs true PPO', 'normalised'] : []), ...metricCols.slice(withRatios ? 1 : 0).map(([, h]) => h)];
  const rows = aggs.map((a) => {
    const r = ratios(a, all);
    const metricCells = metricCols.map(([k]) =>
      (k === 'ratioToIqlTrue' && !positiveScale(a.metrics.iqlTrueReturn?.mean, a.metrics.randomReturn?.mean)) ||
      (k === 'normalisedToIqlTrue' && !aboveRandom(a.metrics.iqlTrueReturn?.mean, a.metrics.randomReturn?.mean)) ||
      (k === 'labelsUsed' && isReference(a.row))
        ? '-'
        : PERCENT.has(k) && a.metrics[k]?.n
          ? `${pct(a.metrics[k].mean)}${a.metrics[k].n < a.n ? ` (n=${a.metrics[k].n})` : ''}`
          : fmtStat(a.metrics[k], COUNTS.has(k), a.n),
    );
    return [
      // A column another row of the table has (a dataset row has no IQL updates): "-", as the legend says, not an empty cell.
      ...rowCols.map((c) => (a.row[c] === undefined ? '-' : a.row[c] === 0 && (c === 'labels' || c === 'steps') ? '-' : cellText(a.row[c]))),
      seedsText(a, expected.get(a.key)),
      ...(withRatios ? [metricCells[0], pct(r.ratio), pct(r.normalised)] : []),
      ...metricCells.slice(withRatios ? 1 : 0),
    ];
  });
  return `## ${table}\n\n${mdTable(header, rows)}\n`;
}

/** The Knox et al. claims on a tabular table's regret-source rows. */
export function tabularClaims(aggs: readonly Aggregate[]): { reaches09By1000: boolean | null; beatsAtEveryBudget: boolean | null } {
  const get = (model: string, labels: number) => aggs.find((a) => a.row.source === 'regret' && a.row.model === model && a.row.labels === labels)?.metrics.scaledReturn?.mean;
  const budgets = [...new Set(aggs.filter((a) => a.row.source === 'regret').map((a) => Number(a.row.labels)))].sort((a, b) => a - b);
  const by1000 = budgets.filter((b) => b >= 1000);
  const reach = by1000.length === 0 ? null : by1000.every((b) => (get('regret', b) ?? -Infinity) >= 0.9);
  const pairs = budgets.map((b) => [get('regret', b), get('partial-return', b)] as const);
  const beats = pairs.length === 0 || pairs.some(([r, p]) => r === undefined || p === undefined) ? null : pairs.every(([r, p]) => (r as number) > (p as number));
  return { reaches09By1000: reach, beatsAtEveryBudget: beats };
}

const verdict = (x: boolean | null) => (x === null ? 'not tested' : x ? 'holds' : 'does not hold');

export interface SummaryInput {
  readonly suite: Suite;
  readonly records: readonly CellRecord[];
  /** The invocation that wrote this summary. */
  readonly command: string;
  /** Cells of the suite definition (this invocation's options) without a result. */
  readonly missing: readonly string[];
  /** Of those, cells whose result was made with another configuration: left out of the tables. */
  readonly stale?: readonly string[];
  /** Plot files written next to the summary (relative names). */
  readonly plots: readonly { readonly file: string; readonly title: string }[];
  /** Cells that failed in this invocation, with the message. */
  readonly failed: readonly { readonly id: string; readonly error: string }[];
  /** Cell files in the folder whose records name another suite (copied from its folder?): left out of the tables. */
  readonly foreign?: readonly { readonly id: string; readonly suite: string }[];
}

/** " on 2026-12-03" or " between 2026-12-03 and 2026-12-04" (UTC days the records' cells finished); "" without records. */
export function finishedDates(records: readonly Pick<CellRecord, 'finishedAt'>[]): string {
  const days = records.map((r) => r.finishedAt.slice(0, 10)).sort();
  if (!days.length) return '';
  const [first, last] = [days[0], days[days.length - 1]];
  return first === last ? ` on ${first} (UTC)` : ` between ${first} and ${last} (UTC)`;
}

/** The words for cells that recorded no code version (made before records carried one). */
export const NOT_RECORDED = 'not recorded';

/** A record's code version as text, or NOT_RECORDED. */
export function versionOf(r: Pick<CellRecord, 'software'>): string {
  return r.software ? codeVersionText(r.software) : NOT_RECORDED;
}

/**
 * The distinct code versions among records, each with the number of cells it made, most cells
 * first ("not recorded" last): what a summary's "Made by" line lists.
 */
export function codeVersions(records: readonly Pick<CellRecord, 'cellId' | 'software'>[]): { version: string; cells: number }[] {
  const cells = new Map<string, Set<string>>();
  for (const r of records) {
    const v = versionOf(r);
    const set = cells.get(v);
    if (set) set.add(r.cellId);
    else cells.set(v, new Set([r.cellId]));
  }
  return [...cells]
    .map(([version, ids]) => ({ version, cells: ids.size }))
    .sort((a, b) => Number(a.version === NOT_RECORDED) - Number(b.version === NOT_RECORDED) || b.cells - a.cells || a.version.localeCompare(b.version));
}

/**
 * What can change a cell's result across its records: prefrl's version and commit, and the MuJoCo
 * build for cells that step MuJoCo (tabular cells do not). Node is listed in the "Made by" line
 * but not compared. Null for a record without a code version.
 */
function resultVersion(r: Pick<CellRecord, 'kind' | 'software'>): { code: string; mujoco: string | null } | null {
  const v: CodeVersion | undefined = r.software;
  if (!v) return null;
  return { code: `prefrl ${v.prefrl}${v.commit === undefined ? '' : ` (commit ${v.commit})`}`, mujoco: r.kind === 'tabular' ? null : v.mujoco };
}

/**
 * Whether one table's cells come from different code: several prefrl versions or commits,
 * several MuJoCo builds (MuJoCo cells only), or cells with a recorded version beside cells
 * without. Null when they all agree (or none recorded one: the "Made by" line says so).
 */
export function mixedVersions(records: readonly Pick<CellRecord, 'cellId' | 'kind' | 'software'>[]): { code: string[]; mujoco: string[]; unrecorded: number } | null {
  const code = new Set<string>();
  const mujoco = new Set<string>();
  const unrecorded = new Set<string>();
  let recorded = 0;
  for (const r of records) {
    const v = resultVersion(r);
    if (!v) {
      unrecorded.add(r.cellId);
      continue;
    }
    recorded++;
    code.add(v.code);
    if (v.mujoco !== null) mujoco.add(v.mujoco);
  }
  if (recorded === 0 || (code.size <= 1 && mujoco.size <= 1 && unrecorded.size === 0)) return null;
  return { code: [...code].sort(), mujoco: [...mujoco].sort(), unrecorded: unrecorded.size };
}

/** The warning under a table whose cells come from different code (mixedVersions), or null. */
export function mixedVersionsText(records: readonly Pick<CellRecord, 'cellId' | 'kind' | 'software'>[]): string | null {
  const m = mixedVersions(records);
  if (!m) return null;
  const parts: string[] = [];
  if (m.code.length > 1) parts.push(`${m.code.length} prefrl versions or commits (${m.code.join('; ')})`);
  if (m.mujoco.length > 1) parts.push(`${m.mujoco.length} MuJoCo builds (${m.mujoco.join(', ')})`);
  if (m.unrecorded) parts.push(`${m.unrecorded} cell${m.unrecorded === 1 ? '' : 's'} that recorded no version beside cells that did`);
  return `**Mixed code versions:** this table's cells were made by ${parts.join(', and ')}; a difference between its rows may be the code's, not the method's. Moving the cells of the old code out of \`cells/\` and running the command again redoes them with this code.`;
}

/**
 * The command that runs a suite's missing cells, from the invocation that wrote a summary: without
 * --summary-only and --dry-run (which run nothing) and --shard (which runs a part).
 */
export function rerunCommand(command: string): string {
  return command.replace(/ --(summary-only|dry-run)(?= |$)/g, '').replace(/ --shard(=| )\S+/g, '');
}

/** The cells' wall time for the Cells line: seconds under a minute ("22 s", not "0.366 min"), else minutes. */
export function wallText(seconds: number): string {
  return seconds < 59.5 ? `${Math.round(seconds)} s` : `${fmtNum(seconds / 60)} min`;
}

/** What each column means, for the columns a summary's tables show ([header, text]; the legend paragraph covers the ratio columns). */
const COLUMN_TEXT: readonly (readonly [string, string])[] = [
  ['teacher', 'the synthetic teacher that labelled the pairs (B-Pref\'s oracle, stochastic, mistake, skip, equal and myopic; regret; heron; synthetic-vlm)'],
  ['model', 'the preference model the reward was learned with (partial return: Bradley-Terry on summed rewards; regret)'],
  ['source', 'the preference model that generated the labels'],
  ['labels', 'the label budget (tabular: preferences)'],
  ['query', 'how the pairs to label were chosen (uniform, or ensemble disagreement)'],
  ['steps', 'the env-step budget of each run (PPO collects whole rollouts, so a run can take up to one rollout more), or the collected dataset\'s size'],
  ['updates', 'IQL (and BC) gradient updates'],
  ['success', 'the fraction of the final policy\'s evaluation episodes that reached the task\'s goal'],
  ['labels used', 'labels the run asked for (below the budget when its env steps ended first)'],
  ['held-out acc', 'the reward model\'s accuracy on held-out labelled pairs after its last round'],
  ['return corr', 'Pearson correlation of learned and true returns (online: the last round\'s labelled segments; offline: the dataset\'s episodes)'],
  ['EPIC', 'EPIC distance of learned and true reward on visited transitions (0: the same up to shaping and scale, 1: opposite)'],
  ['IQL true reward', 'final return of IQL on the dataset\'s true rewards'],
  ['BC', 'final return of behaviour cloning on the dataset'],
  ['teacher agreement', 'the fraction of the teacher\'s strict preferences that agree with the higher true segment return'],
  ['dataset min return', 'the lowest episode return in the dataset'],
  ['dataset max return', 'the highest'],
  ['mean scaled return', '(J(pi) - J(random)) / (J(pi*) - J(random)) of the learned reward\'s optimal policy under the true reward (1: optimal, 0: uniformly random)'],
  ['runs > 0.9', 'the fraction of runs above 0.9 of it'],
  ['P(goal)', 'the probability that that policy ends an episode on the goal within 500 steps'],
  ['train acc', 'the learned reward\'s accuracy on its own training preferences'],
];

/** The "Columns:" paragraph: the meaning of each column among `headers` that COLUMN_TEXT explains, in its order; "" when none. */
export function columnsText(headers: ReadonlySet<string>): string {
  const shown = COLUMN_TEXT.filter(([h]) => headers.has(h));
  return shown.length ? `Columns: ${shown.map(([h, t]) => `"${h}": ${t}`).join('; ')}.` : '';
}

export function summaryMarkdown(s: SummaryInput): string {
  const aggs = aggregate(s.records);
  const tables = [...new Set(aggs.map((a) => a.table))];
  // RL tables (env ids) first, then tabular domains.
  tables.sort((a, b) => Number(a.startsWith('tabular')) - Number(b.startsWith('tabular')));
  const cellIds = new Set(s.records.map((r) => r.cellId));
  const commands = [...new Set(s.records.map((r) => r.benchCommand))];
  const wall = s.records.reduce((a, r) => a + (r.wallSeconds ?? 0), 0);
  const lines: string[] = [`# ${s.suite.title}`, ''];
  lines.push(...s.suite.notes.flatMap((n) => [n, '']));
  lines.push(`Command: \`${s.command}\``, '');
  const others = commands.filter((c) => c !== s.command);
  if (others.length) lines.push(`Cells were produced by: ${commands.map((c) => `\`${c}\``).join(', ')}.`, '');
  lines.push(
    `Cells: ${cellIds.size} finished${finishedDates(s.records)}${s.missing.length ? `, ${s.missing.length} of this suite definition missing (${s.missing.slice(0, 8).join(', ')}${s.missing.length > 8 ? ', ...' : ''})` : ''}; ` +
      `${wallText(wall)} of cell wall time in all; this summary was made on ${machineText()}, node ${process.version} (the machine each cell ran on is in the "Made by" line where the cell recorded it). ` +
      'Rerunning the command skips finished cells; `--shard i/n` splits the cells over machines, and copying their `cells/` files into one folder merges them (the summary and plots are rebuilt from whatever cell files exist). ' +
      "A finished cell is kept as long as its suite definition is unchanged, whatever changed in prefrl since (code, defaults its command does not name, the MuJoCo build): the dates say which version made it.",
    '',
  );
  if (s.missing.length) lines.push(`To run the missing cells (finished ones are skipped): \`${rerunCommand(s.command)}\`.`, '');
  const versions = codeVersions(s.records);
  // Cells finished since 2026-12-07 name the code that made them; older ones have only their dates.
  if (versions.length) lines.push(`Made by: ${versions.map((v) => `${v.version === NOT_RECORDED ? `${NOT_RECORDED} (cells finished before prefrl recorded its version in them)` : v.version}: ${v.cells} cell${v.cells === 1 ? '' : 's'}`).join('; ')}.`, '');
  if (s.stale?.length) {
    lines.push(
      `**Left out: ${s.stale.length} cell result${s.stale.length === 1 ? ' was' : 's were'} made with another configuration** (another \`--expert\`, or a changed suite definition; they run again with the command): ${s.stale.map((id) => `\`${id}\``).join(', ')}`,
      '',
    );
  }
  if (s.foreign?.length) {
    lines.push(
      `**Left out: ${s.foreign.length} cell result${s.foreign.length === 1 ? '' : 's'} of another suite** (copied from another suite's folder?): ${s.foreign.map((f) => `\`${f.id}\` (suite ${f.suite})`).join(', ')}`,
      '',
    );
  }
  // Results of cells this invocation's suite definition does not have (other --seeds, --envs or
  // --steps-scale) stay in the tables; said, so a table is not read as this command's alone.
  const defined = new Set(s.suite.cells.map((c) => c.id));
  const outside = [...cellIds].filter((id) => !defined.has(id)).sort();
  if (outside.length) {
    lines.push(
      `Also in the tables: ${outside.length} cell result${outside.length === 1 ? '' : 's'} outside this command's suite definition (made with other \`--seeds\`, \`--envs\` or \`--steps-scale\`, or cells the suite no longer has): ${outside.slice(0, 8).map((id) => `\`${id}\``).join(', ')}${outside.length > 8 ? ', ...' : ''}.`,
      '',
    );
  }
  if (s.failed.length) lines.push(`**Failed cells in this invocation** (no result written; they run again next time): ${s.failed.map((f) => `\`${f.id}\`: ${f.error}`).join('; ')}`, '');
  lines.push(
    'Values are mean ± sample standard deviation over seeds (tabular: over worlds x seeds); "-" marks a value that does not apply (labels used by the reference rows, which learn from no labels) or was not measured. "vs true PPO" is the mean final true return over that of PPO on the true reward at the same env steps (shown when the latter is positive and the random-policy return is not below -0.1 times it, i.e. when returns are on a positive scale); "normalised" is (R - R_random) / (R_PPO - R_random) with the uniformly random policy as 0, both from the means over seeds (shown when R_PPO is above R_random; "normalised (IQL)" likewise when the IQL-true mean is above the random policy mean). "vs IQL true" (same rule for when it is shown) and "normalised (IQL)" compare with IQL on the true reward seed by seed: the ratio against IQL-true (and the random policy) of the same seed, averaged over seeds. A value over fewer records than its row (a seed without it) shows its own count as "(n=k)"; a "seeds" cell reading "k of n" is a row with k of the n seeds this command\'s suite definition asks for finished (its mean and std are over those k). Final true return: mean over deterministic evaluation episodes of the final policy. "PPO steps/s": env steps per second of the PPO iterations (rollouts with the env workers, reward relabelling and updates; evaluations, checkpoints and reward-model rounds excluded); "run steps/s": env steps over the wall time of the whole run.',
    '',
  );
  const expected = expectedSeeds(s.suite.cells);
  const tableTexts = tables.map((t) => tableMarkdown(t, aggs.filter((a) => a.table === t).sort((x, y) => compareRows(x.row, y.row)), aggs, expected));
  // The headers the tables show (their first line after the "## " title).
  const headers = new Set(tableTexts.flatMap((text) => (text.split('\n')[2] ?? '').split(' | ').map((h) => h.replace(/^\| |\s*\|$/g, ''))));
  const columns = columnsText(headers);
  if (columns) lines.push(columns, '');
  for (const [i, t] of tables.entries()) {
    const inTable = aggs.filter((a) => a.table === t).sort((x, y) => compareRows(x.row, y.row));
    lines.push(tableTexts[i]);
    const mixed = mixedVersionsText(s.records.filter((r) => r.table === t));
    if (mixed) lines.push(mixed, '');
    for (const m of mixedBudgets(inTable)) {
      lines.push(
        `**Mixed budgets:** this table's rows were run at ${m.values.length} ${m.column === 'steps' ? 'env-step budgets' : 'IQL update counts'} (${m.values.map((v) => v.toLocaleString('en-US')).join(', ')}; the \`${m.column}\` column); compare rows at the same budget (each learned row is set against true-reward PPO at its own steps).`,
        '',
      );
    }
    const short = labelsShort(inTable);
    if (short.length) {
      const shown = short.slice(0, 4).map((x) => `${x.row.teacher ?? x.row.method}${x.row.query ? ` ${x.row.query}` : ''} ${x.labels.toLocaleString('en-US')} labels: ${Number.isInteger(x.used) ? x.used.toLocaleString('en-US') : fmtNum(x.used)} used`);
      lines.push(
        `**Label budget not reached** in ${short.length} row${short.length === 1 ? '' : 's'} (${shown.join('; ')}${short.length > 4 ? '; ...' : ''}): the runs' env steps ended before their feedback rounds had asked every label, so ${short.length === 1 ? 'this row does' : 'these rows do'} not measure ${short.length === 1 ? 'its' : 'their'} label budget; more env steps (\`--steps-scale\`) reach it.`,
        '',
      );
    }
    if (t.startsWith('tabular')) {
      const c = tabularClaims(inTable);
      lines.push(
        `Claims (regret-generated preferences): regret model >= 0.9 by 1,000 preferences: **${verdict(c.reaches09By1000)}**; regret model beats partial return at every budget: **${verdict(c.beatsAtEveryBudget)}**.`,
        '',
      );
    }
  }
  if (s.plots.length) {
    lines.push('## Plots', '');
    if (s.plots.some((p) => p.file !== 'learning_curves.svg')) lines.push('In the plots over labels or preferences, the configs at one count are drawn a few pixels apart, so that equal values do not hide each other; the axis gives the count.', '');
    for (const p of s.plots) lines.push(`![${p.title}](${p.file})`, '');
  }
  return `${lines.join('\n').trimEnd()}\n`;
}
