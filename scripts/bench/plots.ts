/**
 * SVG plots of a suite, rendered in Node without a browser: Vega-Lite specs compiled to Vega
 * (vega-lite `compile`) and rendered by a headless Vega View (renderer 'none', `toSVG`).
 * - learning_curves.svg: true evaluation return vs env steps, mean over seeds with a +-1 std band
 * - return_vs_labels.svg: final true return vs number of labels (true-reward PPO as a dashed rule)
 * - accuracy_vs_labels.svg: the reward model's held-out preference accuracy vs labels
 * - scaled_return_vs_labels.svg: tabular mean scaled return vs number of preferences
 * Panels per env (or tabular domain); colours per config.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { isReference, type Row } from './cells.js';
import type { Aggregate } from './summary.js';

export interface Plot {
  readonly file: string;
  readonly title: string;
  readonly svg: string;
}

/** Render a Vega-Lite spec to an SVG string. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  // Vega-Lite's notes on its own internal optimisation passes are not ours to print: errors only.
  const view = new vega.View(vega.parse(compile(spec, { logger: vega.logger(vega.Error) }).spec), { renderer: 'none', logLevel: vega.Error });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Legend label of a config: its non-trivial display columns ("oracle / partial-return / 1000 labels / disagreement"). */
export function configLabel(row: Row, varying: ReadonlySet<string>): string {
  if (row.method === 'ppo-true') return `PPO true reward${varying.has('steps') ? ` (${row.steps} steps)` : ''}`;
  if (row.method === 'random') return 'random policy';
  const parts: string[] = [];
  if (row.method !== 'preference' && row.method !== undefined) parts.push(String(row.method));
  for (const [k, v] of Object.entries(row)) {
    if (k === 'method' || v === '-' || !(varying.has(k) || k === 'teacher' || k === 'source')) continue;
    parts.push(k === 'labels' ? `${v} labels` : k === 'steps' ? `${v} steps` : k === 'updates' ? `${v} updates` : k === 'source' ? `${v} prefs` : k === 'model' ? `${v} model` : String(v));
  }
  return parts.join(' / ') || 'config';
}

/** Display columns whose value differs between the compared configs of the same table. */
function varyingColumns(aggs: readonly Aggregate[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const t of new Set(aggs.map((a) => a.table))) {
    const inT = aggs.filter((a) => a.table === t && !isReference(a.row));
    const cols = new Set<string>();
    for (const k of new Set(inT.flatMap((a) => Object.keys(a.row)))) if (new Set(inT.map((a) => String(a.row[k]))).size > 1) cols.add(k);
    // True-reward PPO at several budgets (the ppo suite, or cells of two --steps-scale values): one
    // legend entry each, or one line would join the points of both.
    if (new Set(aggs.filter((a) => a.table === t && a.row.method === 'ppo-true').map((a) => String(a.row.steps))).size > 1) cols.add('steps');
    out.set(t, cols);
  }
  return out;
}

/** How many records each point averages, for a plot's title: "n = 3", or "n = 1-3" when points differ. */
export function countText(ns: readonly number[]): string {
  const lo = Math.min(...ns);
  const hi = Math.max(...ns);
  return lo === hi ? `n = ${lo}` : `n = ${lo}-${hi} per point`;
}

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

/** Vega's "tableau10" colours, then ten more: a config keeps its colour in every plot of a suite. */
const PALETTE = ['#4c78a8', '#f58518', '#e45756', '#72b7b2', '#54a24b', '#eeca3b', '#b279a2', '#ff9da6', '#9d755d', '#bab0ac', '#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

/**
 * Colour scales that give each name the same colour in every plot: names are numbered in sorted
 * order over `all`, then over those of `then` not in `all`, and a plot's scale lists only the
 * names it shows (so its legend has no entries without data) with their colours. Names beyond
 * the palette's length reuse colours.
 */
export function sharedColours(all: Iterable<string>, then: Iterable<string> = []): (shown: Iterable<string>) => { domain: string[]; range: string[] } {
  // `then`: names numbered after all of `all` (sorted apart), so that adding them moves none of `all`'s colours.
  const first = [...new Set(all)].sort();
  const rest = [...new Set(then)].filter((n) => !first.includes(n)).sort();
  const index = new Map([...first, ...rest].map((name, i) => [name, i]));
  return (shown) => {
    const domain = [...new Set(shown)].sort();
    return {
      domain,
      range: domain.map((name) => {
        const i = index.get(name);
        if (i === undefined) throw new Error(`sharedColours: ${JSON.stringify(name)} is not among the names given`);
        return PALETTE[i % PALETTE.length];
      }),
    };
  };
}

function facetSpec(title: string, values: Record<string, unknown>[], layer: unknown[], columns: number): TopLevelSpec {
  return {
    $schema: SCHEMA,
    title,
    data: { values },
    facet: { field: 'panel', type: 'nominal', title: null },
    columns,
    spec: { width: 360, height: 240, layer },
    // Each panel its own axes: envs of one suite differ in returns, and may differ in label
    // counts or steps (a shared x put one env's single label count at the other's edge).
    resolve: { scale: { x: 'independent', y: 'independent' } },
    config: { legend: { orient: 'right', labelLimit: 0, symbolOpacity: 1 } },
  } as unknown as TopLevelSpec;
}

/**
 * Sideways offsets in pixels that keep equal points apart: per panel, the k keys drawn there are
 * spread evenly over at most 40 px (at most 6 px apart) around the true x, in sorted order. At
 * one seed several configs often share a value (a held-out accuracy of 1, the same return), and
 * the last one drawn hid the others.
 */
export function dodgeOffsets(points: readonly { readonly panel: string; readonly key: string }[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const panel of new Set(points.map((p) => p.panel))) {
    const keys = [...new Set(points.filter((p) => p.panel === panel).map((p) => p.key))].sort();
    const step = keys.length > 1 ? Math.min(6, 40 / (keys.length - 1)) : 0;
    keys.forEach((k, i) => out.set(JSON.stringify([panel, k]), (i - (keys.length - 1) / 2) * step));
  }
  return out;
}

const dodged = { expr: 'datum.dodge' };

/** All plots that the aggregates have data for. */
export async function suitePlots(aggs: readonly Aggregate[]): Promise<Plot[]> {
  const varying = varyingColumns(aggs);
  const label = (a: Aggregate) => configLabel(a.row, varying.get(a.table) ?? new Set());
  const plots: Plot[] = [];
  const panels = (xs: readonly { panel: string }[]) => Math.min(3, new Set(xs.map((x) => x.panel)).size);

  // Experts train for another budget (a dependency, not a compared config): left out of the curves.
  const curves = aggs.filter((a) => a.curve.length > 1 && !String(a.row.method ?? '').startsWith('expert')).flatMap((a) => a.curve.map((p) => ({ panel: a.table, config: label(a), steps: p.steps, mean: p.mean, lo: p.mean - p.std, hi: p.mean + p.std, n: p.n })));
  const learned = aggs.filter((a) => !isReference(a.row) && typeof a.row.labels === 'number' && a.row.labels > 0 && a.metrics.finalTrueReturn?.n);
  const learnedTables = new Set(learned.map((a) => a.table));
  const labelsLabel = (a: Aggregate) => configLabel({ ...a.row, labels: '-' }, varying.get(a.table) ?? new Set());
  const baselines = aggs.filter((a) => learnedTables.has(a.table) && a.row.method === 'ppo-true' && a.metrics.finalTrueReturn?.n);
  // One colour per config name in every plot: the names of the two plots over labels first (they
  // share all their configs), then the learning curves' others (their names carry the label count
  // where it varies), so a curve and a point of the same config read alike.
  const colours = sharedColours([...learned.map(labelsLabel), ...baselines.map(label)], curves.map((p) => p.config));
  if (curves.length) {
    const colour = { field: 'config', type: 'nominal', title: null, scale: colours(curves.map((p) => p.config)) };
    // n in the title: a band of one seed is 0 wide, which reads as "no spread" without it.
    const title = `True evaluation return vs env steps (mean ± std over seeds, ${countText(curves.map((p) => p.n))})`;
    const spec = facetSpec(
      title,
      curves,
      [
        { mark: { type: 'area', opacity: 0.15 }, encoding: { x: { field: 'steps', type: 'quantitative', title: 'env steps' }, y: { field: 'lo', type: 'quantitative', title: 'true return' }, y2: { field: 'hi' }, color: colour } },
        { mark: { type: 'line', point: { size: 12 } }, encoding: { x: { field: 'steps', type: 'quantitative' }, y: { field: 'mean', type: 'quantitative' }, color: colour } },
      ],
      panels(curves),
    );
    plots.push({ file: 'learning_curves.svg', title, svg: await renderSvg(spec) });
  }

  // `title`'s "{n}" becomes the records per point (countText).
  const labelPlot = async (file: string, metric: string, title: string, yTitle: string, withBaseline: boolean) => {
    const raw = learned
      .filter((a) => a.metrics[metric]?.n)
      .map((a) => {
        const m = a.metrics[metric];
        return { panel: a.table, config: labelsLabel(a), labels: a.row.labels, mean: m.mean, lo: m.mean - m.std, hi: m.mean + m.std, kind: 'config', n: m.n };
      });
    if (raw.length === 0) return;
    const offsets = dodgeOffsets(raw.map((p) => ({ panel: p.panel, key: p.config })));
    const pts = raw.map((p) => ({ ...p, dodge: offsets.get(JSON.stringify([p.panel, p.config])) ?? 0 }));
    title = title.replace('{n}', countText(pts.map((p) => p.n)));
    const rules = withBaseline ? baselines.map((a) => ({ panel: a.table, config: label(a), mean: a.metrics.finalTrueReturn.mean, kind: 'baseline' })) : [];
    const colour = { field: 'config', type: 'nominal', title: null, scale: colours([...pts, ...rules].map((p) => p.config)) };
    // Drawn a few pixels apart (dodgeOffsets): line, point and error bar of a config move together.
    const x = { field: 'labels', type: 'quantitative', title: 'labels', axis: { format: 'd' } };
    const layer: unknown[] = [
      { transform: [{ filter: "datum.kind == 'config'" }], mark: { type: 'line', xOffset: dodged }, encoding: { x, y: { field: 'mean', type: 'quantitative', title: yTitle, scale: { zero: false, padding: 8 }, axis: { format: '.4~g' } }, color: colour } },
      { transform: [{ filter: "datum.kind == 'config'" }], mark: { type: 'point', filled: true, opacity: 1, xOffset: dodged }, encoding: { x, y: { field: 'mean', type: 'quantitative' }, color: colour } },
      { transform: [{ filter: "datum.kind == 'config'" }], mark: { type: 'rule', xOffset: dodged }, encoding: { x, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' }, color: colour } },
    ];
    if (rules.length) layer.push({ transform: [{ filter: "datum.kind == 'baseline'" }], mark: { type: 'rule', strokeDash: [6, 4] }, encoding: { y: { field: 'mean', type: 'quantitative' }, color: colour } });
    plots.push({ file, title, svg: await renderSvg(facetSpec(title, [...pts, ...rules], layer, panels(pts))) });
  };
  await labelPlot('return_vs_labels.svg', 'finalTrueReturn', 'Final true return vs number of labels (mean ± std over seeds, {n}; dashed: PPO on the true reward)', 'final true return', true);
  await labelPlot('accuracy_vs_labels.svg', 'rewardAccuracy', "Reward model's held-out preference accuracy vs number of labels (mean ± std over seeds, {n})", 'held-out accuracy', false);

  const tab = aggs.filter((a) => a.metrics.scaledReturn?.n);
  if (tab.length) {
    const raw = tab.map((a) => {
      const m = a.metrics.scaledReturn;
      return { panel: a.table, source: a.row.source, model: a.row.model, labels: a.row.labels, mean: m.mean, lo: m.mean - m.std, hi: m.mean + m.std, n: m.n };
    });
    // The four (source, model) lines often coincide (a learner at 1.0 from either source): a few pixels apart.
    const offsets = dodgeOffsets(raw.map((p) => ({ panel: p.panel, key: `${p.source} / ${p.model}` })));
    const pts = raw.map((p) => ({ ...p, dodge: offsets.get(JSON.stringify([p.panel, `${p.source} / ${p.model}`])) ?? 0 }));
    const title = `Tabular: mean scaled return vs number of preferences (mean ± std over worlds x seeds, ${countText(pts.map((p) => p.n))})`;
    const budgets = [...new Set(pts.map((p) => Number(p.labels)))].sort((a, b) => a - b);
    const x = { field: 'labels', type: 'quantitative', title: 'preferences', scale: { type: 'log', nice: false, padding: 12 }, axis: { format: 'd', values: budgets } };
    const source = { field: 'source', type: 'nominal', title: 'preferences from' };
    const dash = { field: 'model', type: 'nominal', title: 'model learned with' };
    const spec = facetSpec(
      title,
      pts,
      [
        { mark: { type: 'line', xOffset: dodged }, encoding: { x, y: { field: 'mean', type: 'quantitative', title: 'mean scaled return' }, color: source, strokeDash: dash } },
        { mark: { type: 'point', filled: true, opacity: 1, xOffset: dodged }, encoding: { x, y: { field: 'mean', type: 'quantitative' }, color: source } },
        { mark: { type: 'rule', xOffset: dodged }, encoding: { x, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' }, color: source } },
      ],
      panels(pts),
    );
    plots.push({ file: 'scaled_return_vs_labels.svg', title, svg: await renderSvg(spec) });
  }
  return plots;
}
