/**
 * `prefrl plot`: curves read from metrics.jsonl (checked against the lines written here), an SVG
 * with one line per run, the last values, and bad input named by flag, argument or file line.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError, UsageError } from '../core/errors.js';
import { main } from '../scripts/cli.js';
import { curves, isOwnPlot, markPlot, PLOT_MARK, readMetrics, stepTitle } from '../scripts/commands/plot.js';
import { captureCli, lastJson } from './helpers/cli.js';

function run(root: string, name: string, lines: unknown[]): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'metrics.jsonl'), `${lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n')}\n`);
  return dir;
}

function fixture(): { root: string; a: string; b: string } {
  const root = mkdtempSync(join(tmpdir(), 'plot-'));
  const a = run(root, '20261201-100000-train-a', [
    { step: 0, 'eval/true_return': -30, 'charts/env': 'reacher' },
    { step: 2048, 'losses/value_loss': 0.5 },
    { step: 4096, 'eval/true_return': -12.5, 'reward/val_accuracy': 0.75 },
    { 'eval/true_return': 99 }, // no step: not a point
    { step: 6144, 'eval/true_return': null },
  ]);
  const b = run(root, '20261201-110000-train-b', [{ step: 0, 'eval/true_return': -31 }, { step: 4096, 'eval/true_return': -20 }]);
  return { root, a, b };
}

describe('prefrl plot', () => {
  it('reads numeric metrics by step and skips lines without a step or values that are not numbers', () => {
    const { a } = fixture();
    const m = readMetrics(a);
    expect(m.get('eval/true_return')).toEqual([
      [0, -30],
      [4096, -12.5],
    ]);
    expect(m.get('losses/value_loss')).toEqual([[2048, 0.5]]);
    expect(m.has('charts/env')).toBe(false);
    const c = curves([a], ['eval/true_return', 'reward/val_accuracy']);
    expect(c.map((x) => [x.run, x.metric, x.points.length])).toEqual([
      ['20261201-100000-train-a', 'eval/true_return', 2],
      ['20261201-100000-train-a', 'reward/val_accuracy', 1],
    ]);
  });

  it('names a metric no run logged and lists what they did log; a damaged line is named by number', () => {
    const { root, a } = fixture();
    expect(() => curves([a], ['eval/success'])).toThrow(UsageError);
    expect(() => curves([a], ['eval/success'])).toThrow('--metric: no run logged eval/success; they logged: eval/true_return, losses/value_loss, reward/val_accuracy');
    // A partial last line (a killed run) is left out; a damaged line before it is an error.
    const killed = run(root, 'killed', [{ step: 0, x: 1 }, '{"step": 1, "x"']);
    expect(readMetrics(killed).get('x')).toEqual([[0, 1]]);
    const bad = run(root, 'bad', [{ step: 0, x: 1 }, '{"step": 1, "x"', { step: 2, x: 3 }]);
    expect(() => readMetrics(bad)).toThrow(InputError);
    expect(() => readMetrics(bad)).toThrow(`${join(bad, 'metrics.jsonl')} (line 2): invalid JSON`);
  });

  it('plot warns about a cut-off last line, naming the file and line, and plots the rest; a damaged line before it exits 1 naming them', async () => {
    const { root } = fixture();
    const killed = join(root, 'killed');
    mkdirSync(killed);
    // A run killed while writing its third row: no newline after it.
    writeFileSync(join(killed, 'metrics.jsonl'), '{"step":0,"eval/true_return":-3}\n{"step":8,"eval/true_return":-2}\n{"step":16,"eval/tr');
    const c = captureCli();
    expect(await main(['plot', killed, '--out', join(root, 'killed.svg'), '--json'], c.ctx), c.err.join('')).toBe(0);
    expect(c.err.join('')).toBe(`[prefrl] warn: ${join(killed, 'metrics.jsonl')} (line 3): cut off (the run was stopped while writing it?); left out\n`);
    expect(lastJson<{ curves: unknown[] }>(c.out).curves).toEqual([{ run: 'killed', metric: 'eval/true_return', points: 2, lastStep: 8, last: -2 }]);
    const bad = run(root, 'bad', [{ step: 0, 'eval/true_return': 1 }, '{"step": 1, "eval', { step: 2, 'eval/true_return': 3 }]);
    const b = captureCli();
    expect(await main(['plot', bad, '--out', join(root, 'bad.svg')], b.ctx)).toBe(1);
    expect(b.err.join('')).toBe(`prefrl plot: ${join(bad, 'metrics.jsonl')} (line 2): invalid JSON\n`);
    expect(existsSync(join(root, 'bad.svg'))).toBe(false);
  });

  it('writes one SVG with a line per run and prints each curve\'s last value', async () => {
    const { root, a, b } = fixture();
    const out = join(root, 'curves.svg');
    const c = captureCli();
    expect(await main(['plot', a, b, '--out', out, '--json'], c.ctx)).toBe(0);
    const j = lastJson<{ curves: { run: string; last: number; lastStep: number; points: number }[] }>(c.out);
    expect(j.curves).toEqual([
      { run: '20261201-100000-train-a', metric: 'eval/true_return', points: 2, lastStep: 4096, last: -12.5 },
      { run: '20261201-110000-train-b', metric: 'eval/true_return', points: 2, lastStep: 4096, last: -20 },
    ]);
    const svg = readFileSync(out, 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('20261201-100000-train-a');
    expect(svg).toContain('20261201-110000-train-b');
    // Two metrics: two panels.
    const two = join(root, 'two.svg');
    expect(await main(['plot', a, '--metric', 'eval/true_return,reward/val_accuracy', '--out', two], captureCli().ctx)).toBe(0);
    expect(readFileSync(two, 'utf8')).toContain('reward/val_accuracy');
    // A run that logged none of the metrics is named in a warning, not left out silently.
    const other = run(root, '20261201-120000-offline-c', [{ step: 1, 'iql_true/losses/q_loss': 0.3 }]);
    const w = captureCli();
    expect(await main(['plot', a, other, '--out', join(root, 'three.svg')], w.ctx)).toBe(0);
    expect(w.err.join('')).toContain(`${other}: logged none of eval/true_return; no line for it`);
    expect(w.err.join('')).not.toContain(`${a}: logged none`);
  });

  it('a curve of one point is drawn as a point also when the others are too long for point marks', async () => {
    const root = mkdtempSync(join(tmpdir(), 'plot-lone-'));
    const long = run(root, 'long', Array.from({ length: 300 }, (_, i) => ({ step: 10 * i, 'eval/true_return': i % 7, 'reward/val_accuracy': 0.5 })));
    const lone = run(root, 'lone', [{ step: 1500, 'eval/true_return': 2.5, 'reward/val_accuracy': 0.75 }]);
    // Vega writes each mark as a <path> whose aria-label lists its datum; a one-point line is "M x,yZ", which draws nothing.
    const marks = (svg: string, run: string) => [...svg.matchAll(/<path aria-label="([^"]*)"[^>]*aria-roledescription="([a-z ]+)"/g)].filter((m) => m[1].endsWith(`run: ${run}`)).map((m) => `${m[2]}: ${m[1]}`);
    for (const metric of ['eval/true_return', 'eval/true_return,reward/val_accuracy']) {
      const out = join(root, `${metric.length}.svg`);
      expect(await main(['plot', long, lone, '--metric', metric, '--out', out], captureCli().ctx)).toBe(0);
      const svg = readFileSync(out, 'utf8');
      // One metric: the y field is titled by the metric; several: "value", in one panel per metric.
      expect(marks(svg, 'lone')).toContain(`point: step: 1500; ${metric.includes(',') ? 'value' : 'eval/true_return'}: 2.5; run: lone`);
      // The 300-point run stays a line without point marks.
      expect(marks(svg, 'long').filter((m) => m.startsWith('point'))).toEqual([]);
      expect(marks(svg, 'long').filter((m) => m.startsWith('line mark'))).toHaveLength(metric.includes(',') ? 2 : 1);
    }
    const two = readFileSync(join(root, `${'eval/true_return,reward/val_accuracy'.length}.svg`), 'utf8');
    expect(marks(two, 'lone')).toContain('point: step: 1500; value: 0.75; run: lone');
    rmSync(root, { recursive: true, force: true });
  });

  it('the x axis says what the step counts: env steps for train runs, updates for iql runs, "step" for a mix or runs without a config', async () => {
    const root = mkdtempSync(join(tmpdir(), 'plot-units-'));
    const made = (name: string, command: string | null) => {
      const dir = run(root, name, [{ step: 0, 'eval/true_return': -3 }, { step: 8, 'eval/true_return': -2 }]);
      if (command !== null) writeFileSync(join(dir, 'config.json'), JSON.stringify({ command, env: 'reacher' }));
      return dir;
    };
    const [t1, t2, q, bare] = [made('t1', 'train'), made('t2', 'train'), made('q', 'iql'), made('bare', null)];
    expect(stepTitle([t1, t2])).toBe('env steps');
    expect(stepTitle([q])).toBe('updates');
    expect(stepTitle([t1, q])).toBe('step');
    expect(stepTitle([t1, bare])).toBe('step');
    const out = join(root, 'train.svg');
    expect(await main(['plot', t1, t2, '--out', out], captureCli().ctx)).toBe(0);
    const texts = [...readFileSync(out, 'utf8').matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
    expect(texts).toContain('env steps');
    expect(texts).not.toContain('step');
    rmSync(root, { recursive: true, force: true });
  });

  it('warns about a run folder without summary.json (stopped before the end), naming where its line ends; a finished one is not named', async () => {
    const root = mkdtempSync(join(tmpdir(), 'plot-unfinished-'));
    const done = run(root, 'done', [{ step: 0, 'eval/true_return': -3 }, { step: 4096, 'eval/true_return': -2 }]);
    const cut = run(root, 'cut', [{ step: 0, 'eval/true_return': -3 }, { step: 1536, 'eval/true_return': -2.5 }]);
    for (const d of [done, cut]) writeFileSync(join(d, 'config.json'), JSON.stringify({ command: 'train' }));
    writeFileSync(join(done, 'summary.json'), '{}');
    const k = captureCli();
    expect(await main(['plot', done, cut, '--out', join(root, 'p.svg')], k.ctx)).toBe(0);
    const err = k.err.join('');
    expect(err).toContain(`warn: ${cut}: unfinished (no summary.json); its line ends at step 1536`);
    expect(err).not.toContain(`${done}:`);
    rmSync(root, { recursive: true, force: true });
  });

  it('the legend shows long run names whole (bench cell runs differ only in their ends)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'plot-names-'));
    const names = ['20261207-004037-toy-reach_oracle_partial-return_l40_disagreement_st4096_s3', '20261207-004037-toy-reach_oracle_partial-return_l40_disagreement_st4096_s4'];
    const dirs = names.map((n, i) => run(root, n, [{ step: 0, 'eval/true_return': -30 }, { step: 4096, 'eval/true_return': -20 + i }]));
    const out = join(root, 'names.svg');
    expect(await main(['plot', ...dirs, '--out', out], captureCli().ctx)).toBe(0);
    const labels = [...readFileSync(out, 'utf8').matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
    // Before: both read "20261207-004037-toy-reach_oracle_partial-return_l40_disagr…".
    for (const n of names) expect(labels).toContain(n);
    expect(labels.some((l) => l.endsWith('…'))).toBe(false);
    rmSync(root, { recursive: true, force: true });
  });

  it('a metric logged only as null (a diverged run: NaN written as null) is named as such, not as never logged', async () => {
    const root = mkdtempSync(join(tmpdir(), 'plot-null-'));
    const diverged = run(root, 'diverged', [{ step: 0, 'eval/true_return': null, 'losses/value_loss': 0.5 }, { step: 8, 'eval/true_return': null }]);
    const fine = run(root, 'fine', [{ step: 0, 'eval/true_return': -3 }, { step: 8, 'eval/true_return': -2 }]);
    // Alone: refused in one line that says the values were null.
    const a = captureCli();
    expect(await main(['plot', diverged, '--out', join(root, 'a.svg')], a.ctx)).toBe(2);
    expect(a.err.join('')).toBe('prefrl plot: --metric: no run logged eval/true_return (eval/true_return: only null values, not measured, such as an accuracy with no held-out pairs, or NaN or infinite); they logged: losses/value_loss\n');
    expect(existsSync(join(root, 'a.svg'))).toBe(false);
    // Beside a run with numbers: plotted, with one warning naming the run and why it has no line.
    const b = captureCli();
    expect(await main(['plot', diverged, fine, '--out', join(root, 'b.svg'), '--json'], b.ctx)).toBe(0);
    expect(b.err.join('')).toBe(`[prefrl] warn: ${diverged}: every value of eval/true_return is null (not measured, such as an accuracy with no held-out pairs, or NaN or infinite); no line for it\n`);
    expect(lastJson<{ curves: { run: string }[] }>(b.out).curves.map((c) => c.run)).toEqual(['fine']);
    // A metric never logged at all keeps the plain message.
    expect(() => curves([diverged], ['eval/success'])).toThrow('--metric: no run logged eval/success; they logged: losses/value_loss');
    rmSync(root, { recursive: true, force: true });
  });

  it('refuses a missing run, no run, a non-SVG or unplaceable --out with exit 2, writing nothing', async () => {
    const { root, a } = fixture();
    const cases: [string[], string][] = [
      [['plot', '--out', join(root, 'x.svg')], 'prefrl plot: missing argument <run>'],
      [['plot', a, '--out', join(root, 'x.png')], `prefrl plot: --out ${join(root, 'x.png')}: expected a file name ending in .svg`],
      [['plot', a, '--out', join(root, 'no', 'x.svg')], `prefrl plot: --out ${join(root, 'no', 'x.svg')}: ${join(root, 'no')} is not an existing folder`],
      [['plot', join(root, 'gone'), '--out', join(root, 'x.svg')], `prefrl plot: ${join(root, 'gone')}: not found`],
      // A folder of runs (a runs folder, bench oracle's <runs-dir>/<suite>): the message names a pattern for them.
      [['plot', root, '--out', join(root, 'x.svg')], `prefrl plot: ${root}: not a run folder (no metrics.jsonl); it holds 2 run folders: name them (prefrl plot ${root}/2*)`],
      [['plot', a, '--metric', '', '--out', join(root, 'x.svg')], 'prefrl plot: --metric: name at least one metric (a key of metrics.jsonl, e.g. eval/true_return)'],
      [['plot', a, '--metric', ',', '--out', join(root, 'x.svg')], 'prefrl plot: --metric: name at least one metric (a key of metrics.jsonl, e.g. eval/true_return)'],
    ];
    for (const [args, msg] of cases) {
      const c = captureCli();
      expect(await main(args, c.ctx), args.join(' ')).toBe(2);
      expect(c.err.join('')).toBe(`${msg}\n`);
    }
    expect(existsSync(join(root, 'x.svg'))).toBe(false);
  });

  it('replaces its own earlier plot without --force, but keeps any other existing file unless --force is given', async () => {
    const { root, a, b } = fixture();
    const out = join(root, 'curves.svg');
    expect(await main(['plot', a, '--out', out], captureCli().ctx)).toBe(0);
    const first = readFileSync(out, 'utf8');
    expect(first.startsWith('<svg')).toBe(true);
    expect(first).toContain(PLOT_MARK);
    expect(first).not.toContain('20261201-110000-train-b');
    // Plotting again into the same file replaces it: no --force needed for the command's own plot.
    expect(await main(['plot', a, b, '--out', out], captureCli().ctx)).toBe(0);
    expect(readFileSync(out, 'utf8')).toContain('20261201-110000-train-b');
    // A file the command did not write (a hand-edited figure) is refused and left as it was.
    const mine = join(root, 'figure.svg');
    writeFileSync(mine, '<svg xmlns="http://www.w3.org/2000/svg"><text>my figure</text></svg>');
    const c = captureCli();
    expect(await main(['plot', a, '--out', mine], c.ctx)).toBe(2);
    expect(c.err.join('')).toBe(`prefrl plot: --out ${mine}: already exists; pass --force to replace it, or choose another file\n`);
    expect(readFileSync(mine, 'utf8')).toBe('<svg xmlns="http://www.w3.org/2000/svg"><text>my figure</text></svg>');
    expect(await main(['plot', a, '--out', mine, '--force'], captureCli().ctx)).toBe(0);
    expect(readFileSync(mine, 'utf8')).toContain(PLOT_MARK);
  });

  it('markPlot puts the mark right after the opening svg tag; isOwnPlot reads it back and says no for other files and folders', () => {
    expect(markPlot('<svg a="1"><g/></svg>')).toBe(`<svg a="1">${PLOT_MARK}<g/></svg>`);
    const d = mkdtempSync(join(tmpdir(), 'prefrl-plotmark-'));
    writeFileSync(join(d, 'own.svg'), markPlot('<svg><g/></svg>'));
    writeFileSync(join(d, 'other.svg'), '<svg><g/></svg>');
    expect(isOwnPlot(join(d, 'own.svg'))).toBe(true);
    expect(isOwnPlot(join(d, 'other.svg'))).toBe(false);
    expect(isOwnPlot(join(d, 'missing.svg'))).toBe(false);
    expect(isOwnPlot(d)).toBe(false);
  });
});
