import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { parseFlags } from '../core/config.js';
import { makeEnv } from '../envs/registry.js';
import { parseHeronConfig } from '../reward/teachers/heron.js';
import { type CellRecord, cellId, claimCell, claimFile, claimIsStale, configHash, idPart, meanStd, parseShard, readCellFile, recordPath, selectShard, type TrainCell } from '../scripts/bench/cells.js';
import { aggregate, compareRows, positiveScale, ratios, summaryMarkdown, tabularClaims } from '../scripts/bench/summary.js';
import { sharedColours, suitePlots } from '../scripts/bench/plots.js';
import { buildSuite, HERON_CONFIGS, scaleSteps, SUITE_NAMES } from '../scripts/bench/suites.js';
import { main } from '../scripts/cli.js';
import { benchTiming, handNotes, NOTES_HEADING } from '../scripts/commands/bench_oracle.js';
import { trainFlags } from '../scripts/commands/train.js';
import { type CapturedCli, captureCli, lastJson, spawnCli } from './helpers/cli.js';

const ctx = (): CapturedCli => captureCli(new ManualClock());

/** Well-formed XML: every tag closed in order (comments, declarations and self-closing tags handled). */
function wellFormedXml(text: string): boolean {
  const stack: string[] = [];
  const body = text.replace(/<!--[\s\S]*?-->/g, '').replace(/<\?[\s\S]*?\?>/g, '').replace(/<!\[CDATA\[[\s\S]*?\]\]>/g, '');
  for (const m of body.matchAll(/<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/g)) {
    const [, close, name, , self] = m;
    if (self) continue;
    if (close) {
      if (stack.pop() !== name) return false;
    } else stack.push(name);
  }
  // Every '<' must have been a tag the regex understood.
  const tags = body.match(/</g)?.length ?? 0;
  const parsed = [...body.matchAll(/<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/g)].length;
  return stack.length === 0 && tags === parsed && parsed > 0;
}

function rec(table: string, row: Record<string, string | number>, seed: number, metrics: Record<string, number | null>, curve?: [number, number][]): CellRecord {
  return { suite: 't', cellId: `${table}-${JSON.stringify(row)}-${seed}`, hash: 'h', kind: 'train', seed, table, row, metrics, curve, benchCommand: 'cmd', wallSeconds: 1, finishedAt: '2026-01-01T00:00:00.000Z' };
}

describe('bench oracle helpers', () => {
  it('positiveScale: a plain ratio is shown only on a positive return scale', () => {
    expect(positiveScale(100, -5)).toBe(true); // random at -0.05 x the reference
    expect(positiveScale(100, -10)).toBe(true); // exactly -0.1 x
    expect(positiveScale(100, -11)).toBe(false);
    expect(positiveScale(8.9, -177)).toBe(false); // the vlm suite's reacher: IQL-true 8.9, random -177
    expect(positiveScale(-46, -205)).toBe(false);
    expect(positiveScale(0, 0)).toBe(false);
    expect(positiveScale(undefined, -1)).toBe(false);
    expect(positiveScale(50, undefined)).toBe(true);
  });

  it('handNotes finds the hand-written notes at the end of a summary and puts them under the current heading', () => {
    expect(handNotes('# Suite\n\n| a |\n')).toBeNull();
    expect(handNotes('# Suite\n\n## Notes (added by hand; old words)\n\n')).toBeNull();
    expect(handNotes('# Suite\n\n## cheetah-run\n\n| a |\n\n## Notes (added by hand; old words)\n\n- one\n- two\n\n')).toBe(`${NOTES_HEADING}\n\n- one\n- two\n`);
  });

  it('meanStd: mean and sample std (n - 1), non-finite values ignored', () => {
    const a = meanStd([1, 2, 3, 4]);
    expect(a.mean).toBe(2.5);
    // deviations 1.5, 0.5, 0.5, 1.5: squares sum to 5; 5 / 3
    expect(a.std).toBeCloseTo(Math.sqrt(5 / 3), 12);
    expect(a.n).toBe(4);
    expect(meanStd([7])).toEqual({ mean: 7, std: 0, n: 1 });
    expect(meanStd([2, null, Number.NaN, 4, undefined])).toEqual({ mean: 3, std: Math.SQRT2, n: 2 });
    expect(meanStd([]).n).toBe(0);
  });

  it('cell ids are readable and file-name safe; the config hash follows what changes results', () => {
    expect(idPart('stochastic:epsMistake=0.1')).toBe('stochastic-epsmistake-0.1');
    expect(cellId(['cheetah-run', '', 'stochastic:epsMistake=0.1', 'l1000', 's0'])).toBe('cheetah-run_stochastic-epsmistake-0.1_l1000_s0');
    const base: TrainCell = { kind: 'train', id: 'x', suite: 's', seed: 0, env: 'reacher', cost: 1, table: 'reacher', row: { method: 'm' }, args: ['--env', 'reacher'] };
    expect(configHash(base)).toBe(configHash({ ...base, cost: 99, row: { method: 'other' }, table: 'T' }));
    expect(configHash(base)).not.toBe(configHash({ ...base, args: ['--env', 'reacher', '--steps', '10'] }));
    expect(configHash(base)).not.toBe(configHash({ ...base, seed: 1 }));
  });

  it('shards: parse i/n, reject bad ones naming --shard, split disjointly and completely', () => {
    expect(parseShard('1/4')).toEqual({ index: 1, count: 4 });
    for (const bad of ['3/2', '2/2', '0/0', 'a/b', '1', '-1/2']) expect(() => parseShard(bad)).toThrow(/--shard/);
    const items = Array.from({ length: 11 }, (_, i) => i);
    const parts = [0, 1, 2].map((index) => selectShard(items, { index, count: 3 }));
    expect(parts[0]).toEqual([0, 3, 6, 9]);
    expect(parts[1]).toEqual([1, 4, 7, 10]);
    expect(parts.flat().sort((a, b) => a - b)).toEqual(items);
    expect(selectShard(items, undefined)).toEqual(items);
  });

  it('steps scale, at least one 2,048-step batch', () => {
    expect(scaleSteps(300_000, 1)).toBe(300_000);
    expect(scaleSteps(300_000, 3.3334)).toBe(1_000_020);
    expect(scaleSteps(4096, 0.1)).toBe(2048);
  });

  it('aggregate, ratio to true-reward PPO and the normalised score, by hand', () => {
    const recs = [
      rec('env', { method: 'random', steps: 0 }, 0, { finalTrueReturn: -5 }),
      rec('env', { method: 'ppo-true', steps: 10 }, 0, { finalTrueReturn: 90 }, [[0, 0], [10, 90]]),
      rec('env', { method: 'ppo-true', steps: 10 }, 1, { finalTrueReturn: 110 }, [[0, 10], [10, 110]]),
      rec('env', { method: 'preference', teacher: 'oracle', steps: 10 }, 0, { finalTrueReturn: 80, rewardAccuracy: 0.9 }),
      rec('env', { method: 'preference', teacher: 'oracle', steps: 10 }, 1, { finalTrueReturn: 90, rewardAccuracy: 0.8 }),
    ];
    const aggs = aggregate(recs);
    expect(aggs).toHaveLength(3);
    const ppo = aggs.find((a) => a.row.method === 'ppo-true');
    expect(ppo?.metrics.finalTrueReturn.mean).toBe(100);
    expect(ppo?.metrics.finalTrueReturn.std).toBeCloseTo(Math.sqrt(200), 12);
    expect(ppo?.curve).toEqual([
      { steps: 0, mean: 5, std: Math.sqrt(50), n: 2 },
      { steps: 10, mean: 100, std: Math.sqrt(200), n: 2 },
    ]);
    const pref = aggs.find((a) => a.row.method === 'preference');
    expect(pref?.seeds).toEqual([0, 1]);
    const r = ratios(pref!, aggs);
    expect(r.ratio).toBeCloseTo(85 / 100, 12);
    expect(r.normalised).toBeCloseTo((85 + 5) / (100 + 5), 12);
    // A negative PPO return has no meaningful ratio; the normalised score remains.
    const neg = aggregate([rec('e', { method: 'ppo-true', steps: 1 }, 0, { finalTrueReturn: -10 }), rec('e', { method: 'random' }, 0, { finalTrueReturn: -100 }), rec('e', { method: 'x', steps: 1 }, 0, { finalTrueReturn: -40 })]);
    const rn = ratios(neg[2], neg);
    expect(rn.ratio).toBeNull();
    expect(rn.normalised).toBeCloseTo(60 / 90, 12);
    // Positive PPO return but a random policy far below zero (reacher-like): no ratio either.
    const far = aggregate([rec('e', { method: 'ppo-true', steps: 1 }, 0, { finalTrueReturn: 5 }), rec('e', { method: 'random' }, 0, { finalTrueReturn: -200 }), rec('e', { method: 'x', steps: 1 }, 0, { finalTrueReturn: -40 })]);
    expect(ratios(far[2], far).ratio).toBeNull();
    expect(ratios(far[2], far).normalised).toBeCloseTo(160 / 205, 12);
    expect(ratios(ppo!, aggs).ratio).toBeNull();
    expect(compareRows({ method: 'preference' }, { method: 'random' })).toBeGreaterThan(0);
    expect(compareRows({ method: 'p', labels: 100 }, { method: 'p', labels: 1000 })).toBeLessThan(0);
  });

  it('a config has the same colour in every plot over labels, and a legend lists only the configs a plot shows', async () => {
    const scale = sharedColours(['b', 'a', 'c', 'a']);
    expect(scale(['c', 'a'])).toEqual({ domain: ['a', 'c'], range: ['#4c78a8', '#e45756'] });
    expect(scale(['b'])).toEqual({ domain: ['b'], range: ['#f58518'] });
    expect(() => scale(['d'])).toThrow(/"d" is not among the names given/);
    // Sorted names: "PPO true reward" (the dashed rule, return plot only), "b-teacher", "z-teacher".
    const recs = [rec('env', { method: 'ppo-true', steps: 10 }, 0, { finalTrueReturn: 100 })];
    for (const teacher of ['b-teacher', 'z-teacher']) {
      for (const labels of [100, 1000]) recs.push(rec('env', { method: 'preference', teacher, labels, steps: 10 }, 0, { finalTrueReturn: labels / 20, rewardAccuracy: 0.7 }));
    }
    const plots = await suitePlots(aggregate(recs));
    const svg = (file: string) => plots.find((p) => p.file === file)!.svg;
    const ret = svg('return_vs_labels.svg');
    const acc = svg('accuracy_vs_labels.svg');
    for (const c of ['#4c78a8', '#f58518', '#e45756']) expect(ret).toContain(c);
    expect(acc).not.toContain('#4c78a8'); // the baseline's colour: not shifted onto b-teacher
    for (const c of ['#f58518', '#e45756']) expect(acc).toContain(c);
  });

  it('tabular claims and the Markdown table', () => {
    const t = 'tabular: x';
    const recs = [
      rec(t, { source: 'regret', model: 'regret', labels: 300 }, 0, { scaledReturn: 0.95 }),
      rec(t, { source: 'regret', model: 'partial-return', labels: 300 }, 0, { scaledReturn: 0.5 }),
      rec(t, { source: 'regret', model: 'regret', labels: 1000 }, 0, { scaledReturn: 1 }),
      rec(t, { source: 'regret', model: 'partial-return', labels: 1000 }, 0, { scaledReturn: 0.7 }),
    ];
    expect(tabularClaims(aggregate(recs))).toEqual({ reaches09By1000: true, beatsAtEveryBudget: true });
    recs[1] = rec(t, { source: 'regret', model: 'partial-return', labels: 300 }, 0, { scaledReturn: 0.99 });
    expect(tabularClaims(aggregate(recs)).beatsAtEveryBudget).toBe(false);
    const suite = buildSuite('smoke', { stepsScale: 1 });
    const md = summaryMarkdown({ suite, records: recs, command: 'prefrl bench oracle --suite smoke', missing: [], plots: [], failed: [] });
    expect(md).toContain('| source | model | labels | seeds | mean scaled return |');
    expect(md).toContain('| regret | regret | 1000 | 1 | 1.000 |');
    expect(md).toContain('Command: `prefrl bench oracle --suite smoke`');
  });

  it('labels used: "-" (not applicable) for true-reward PPO, also for records made when it was logged as 0; counted for preference rows', () => {
    const recs = [
      // Seed 0 as recorded before (0 labels), seed 1 as recorded now (null).
      rec('e', { method: 'ppo-true', labels: 0, steps: 10 }, 0, { finalTrueReturn: 10, labelsUsed: 0 }),
      rec('e', { method: 'ppo-true', labels: 0, steps: 10 }, 1, { finalTrueReturn: 12, labelsUsed: null }),
      rec('e', { method: 'preference', labels: 40, steps: 10 }, 0, { finalTrueReturn: 8, labelsUsed: 40 }),
      rec('e', { method: 'preference', labels: 40, steps: 10 }, 1, { finalTrueReturn: 6, labelsUsed: 38 }),
    ];
    const md = summaryMarkdown({ suite: buildSuite('smoke', { stepsScale: 1 }), records: recs, command: 'c', missing: [], plots: [], failed: [] });
    expect(md).toContain('| method | labels | steps | seeds | final true return | vs true PPO | normalised | labels used |');
    expect(md).toContain('| ppo-true | - | 10 | 2 | 11.00 ± 1.414 | - | - | - |');
    expect(md).toContain('| preference | 40 | 10 | 2 | 7.000 ± 1.414 | 64% | - | 39 ± 1 |');
  });
});

describe('bench oracle suites', () => {
  it('every suite expands to unique cells whose train args parse with prefrl train\'s own flags', () => {
    const counts: Record<string, number> = {};
    for (const name of SUITE_NAMES) {
      const s = buildSuite(name, { stepsScale: 1 });
      counts[name] = s.cells.length;
      expect(new Set(s.cells.map((c) => c.id)).size).toBe(s.cells.length);
      for (const c of s.cells) {
        expect(c.id).toMatch(/^[a-z0-9._-]+$/);
        if (c.kind !== 'train') continue;
        const argv = c.args.map((a) => (a === 'heron' ? 'heron:x.json' : a));
        const f = parseFlags([...argv, '--seed', String(c.seed)], { command: 'prefrl train', summary: '', flags: trainFlags }).flags;
        expect(f.env).toBe(c.env);
        if (c.expertFrom) expect(s.cells.some((d) => d.id === c.expertFrom && d.kind === 'train')).toBe(true);
      }
    }
    // online: 2 envs x 3 seeds x (random, true PPO, oracle, stochastic+mistake)
    expect(counts.online).toBe(24);
    // bpref: 3 envs x 3 seeds x (2 references + 6 teachers x 3 budgets x 2 query methods)
    expect(counts.bpref).toBe(342);
    // regret: 3 seeds x 11 worlds + expert + 3 seeds x (2 references + 2 teachers)
    expect(counts.regret).toBe(46);
    expect(counts.ppo).toBe(24);
    expect(counts.heron).toBe(36);
  });

  it('--seeds, --steps-scale, --envs and --expert change the cells', () => {
    const s = buildSuite('online', { stepsScale: 2, seeds: 1, envs: ['reacher'] });
    expect(s.cells.map((c) => c.id)).toEqual([
      'reacher_random_s0',
      'reacher_ppo-true_st600000_s0',
      'reacher_oracle_partial-return_l1000_disagreement_st600000_s0',
      'reacher_stochastic-epsmistake-0.1_partial-return_l1000_disagreement_st600000_s0',
    ]);
    expect(() => buildSuite('online', { stepsScale: 1, envs: ['pusher'] })).toThrow(/--envs/);
    const r = buildSuite('regret', { stepsScale: 1, seeds: 1, expert: 'runs/my-expert' });
    expect(r.cells.some((c) => c.id.includes('expert'))).toBe(false);
    const regretCells = r.cells.filter((c): c is TrainCell => c.kind === 'train' && c.row.teacher === 'regret');
    expect(regretCells).toHaveLength(1);
    for (const c of regretCells) expect(c.args.join(' ')).toContain('--expert runs/my-expert');
  });

  it('the HERON rankings are valid configs for their envs', async () => {
    for (const [id, config] of Object.entries(HERON_CONFIGS)) {
      const env = await makeEnv(id);
      try {
        expect(parseHeronConfig(config, env.spec, `HERON_CONFIGS.${id}`).ranking).toEqual(config.ranking);
      } finally {
        env.dispose();
      }
    }
  });
});

describe('prefrl bench oracle', () => {
  it('bad flags exit 2 naming the flag', async () => {
    const a = ctx();
    expect(await main(['bench', 'oracle', '--suite', 'nope'], a.ctx)).toBe(2);
    expect(a.err.join('')).toMatch(/--suite/);
    const b = ctx();
    expect(await main(['bench', 'oracle', '--suite', 'smoke', '--shard', '3/2'], b.ctx)).toBe(2);
    expect(b.err.join('')).toMatch(/^prefrl bench oracle: --shard: /);
    const c = ctx();
    expect(await main(['bench', 'oracle', '--suite', 'smoke', '--steps-scale', '0'], c.ctx)).toBe(2);
    expect(c.err.join('')).toMatch(/--steps-scale/);
    const d = ctx();
    expect(await main(['bench', 'oracle'], d.ctx)).toBe(2);
    expect(d.err.join('')).toMatch(/--suite/);
    // 0 and a negative scale get the same message; an empty --envs is not "no cells, done"
    for (const scale of ['0', '-1']) {
      const e = ctx();
      expect(await main(['bench', 'oracle', '--suite', 'smoke', '--steps-scale', scale, '--dry-run'], e.ctx)).toBe(2);
      expect(e.err.join('')).toContain(`--steps-scale: must be > 0, got ${scale}`);
    }
    const g = ctx();
    expect(await main(['bench', 'oracle', '--suite', 'smoke', '--envs', '', '--dry-run'], g.ctx)).toBe(2);
    expect(g.err.join('')).toContain('--envs: name at least one env');
    // A missing --expert is refused up front, not when the first regret-teacher cell starts.
    const h = ctx();
    const nowhere = join(tmpdir(), 'prefrl-no-such-expert');
    expect(await main(['bench', 'oracle', '--suite', 'smoke', '--expert', nowhere, '--dry-run'], h.ctx)).toBe(2);
    expect(h.err.join('').trim()).toBe(`prefrl bench oracle: --expert ${nowhere}: not found (a PPO run folder or its checkpoint)`);
  });

  it('a damaged cell file stops a run and --summary-only (exit 1, one line naming the file and line) and is listed by --dry-run; no cell file is changed', async () => {
    const root = mkdtempSync(join(tmpdir(), 'prefrl-bench-damaged-'));
    const out = join(root, 'results');
    const cells = join(out, 'smoke', 'cells');
    mkdirSync(cells, { recursive: true });
    const [s0, s1] = buildSuite('smoke', { stepsScale: 1, seeds: 2, envs: ['gridworld'] }).cells;
    // seed 0: a finished cell (a record with its config hash); seed 1: a copy cut off in its first line.
    const good = `${JSON.stringify({ ...rec(s0.table, { source: 'regret', model: 'regret', labels: 30 }, 0, { scaledReturn: 0.5 }), suite: 'smoke', cellId: s0.id, hash: configHash(s0), kind: 'tabular' })}\n`;
    const cut = '{"suite":"smoke","cellId":"gridworld_delivery_b30-10';
    writeFileSync(join(cells, `${s0.id}.jsonl`), good);
    writeFileSync(join(cells, `${s1.id}.jsonl`), cut);
    const base = ['bench', 'oracle', '--suite', 'smoke', '--seeds', '2', '--envs', 'gridworld', '--out', out, '--runs-dir', join(root, 'runs'), '--quiet'];
    for (const mode of [[], ['--summary-only']]) {
      const k = ctx();
      expect(await main([...base, ...mode], k.ctx)).toBe(1);
      const text = k.err.join('').trim();
      expect(text.split('\n')).toHaveLength(1);
      expect(text).toContain(`${join(cells, `${s1.id}.jsonl`)} (line 1): not JSON`);
      expect(text).toMatch(/move it out of .* to run its cell again$/);
    }
    const dry = ctx();
    expect(await main([...base, '--dry-run', '--json'], dry.ctx)).toBe(0);
    expect(lastJson<{ selected: { id: string; status: string }[] }>(dry.out).selected.map((c) => [c.id, c.status])).toEqual([
      [s0.id, 'done'],
      [s1.id, 'damaged'],
    ]);
    expect(readFileSync(join(cells, `${s0.id}.jsonl`), 'utf8')).toBe(good);
    expect(readFileSync(join(cells, `${s1.id}.jsonl`), 'utf8')).toBe(cut);
    expect(existsSync(join(out, 'smoke', 'summary.md'))).toBe(false);
    rmSync(root, { recursive: true, force: true });
  });

  it('--summary-only with no cell results (a mistyped --out, cells not copied yet) exits 2 naming the folder and keeps an existing summary.md', async () => {
    const root = mkdtempSync(join(tmpdir(), 'prefrl-bench-nocells-'));
    const missing = join(root, 'typo');
    const k = ctx();
    expect(await main(['bench', 'oracle', '--suite', 'smoke', '--summary-only', '--out', missing], k.ctx)).toBe(2);
    expect(k.err.join('').trim()).toBe(`prefrl bench oracle: --summary-only: no cell results in ${join(missing, 'smoke', 'cells')} (check --out ${missing}, or copy every machine's cells/*.jsonl there first)`);
    expect(existsSync(missing)).toBe(false);
    // A folder whose cells were moved away: its summary is not replaced by an empty one.
    mkdirSync(join(root, 'results', 'smoke', 'cells'), { recursive: true });
    writeFileSync(join(root, 'results', 'smoke', 'summary.md'), '# the good summary\n');
    expect(await main(['bench', 'oracle', '--suite', 'smoke', '--summary-only', '--out', join(root, 'results')], ctx().ctx)).toBe(2);
    expect(readFileSync(join(root, 'results', 'smoke', 'summary.md'), 'utf8')).toBe('# the good summary\n');
    rmSync(root, { recursive: true, force: true });
  });

  it('--shard dry runs split the suite disjointly and completely', async () => {
    const out = mkdtempSync(join(tmpdir(), 'prefrl-bench-shard-'));
    const ids = async (extra: string[]) => {
      const k = ctx();
      expect(await main(['bench', 'oracle', '--suite', 'regret', '--out', out, '--dry-run', '--json', ...extra], k.ctx)).toBe(0);
      return lastJson<{ selected: { id: string }[] }>(k.out).selected.map((c) => c.id);
    };
    const all = await ids([]);
    expect(all).toHaveLength(46);
    const shards = await Promise.all([0, 1, 2, 3].map((i) => ids(['--shard', `${i}/4`])));
    expect(shards.flat().sort()).toEqual([...all].sort());
    expect(new Set(shards.flat()).size).toBe(all.length);
    expect(existsSync(join(out, 'regret'))).toBe(false); // a dry run writes nothing
  });

  it('Ctrl-C during a cell says to run the bench command again (not to resume the cell\'s own run) and exits 130', { timeout: 120_000 }, async () => {
    const root = mkdtempSync(join(tmpdir(), 'prefrl-bench-sigint-'));
    const { child, stderr, exited } = spawnCli(['bench', 'oracle', '--suite', 'smoke', '--steps-scale', '20', '--out', join(root, 'results'), '--runs-dir', join(root, 'runs')]);
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && child.exitCode === null && !stderr().includes('cell 1/')) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 1000));
    const claims = () => readdirSync(join(root, 'results', 'smoke', 'cells')).filter((f) => f.endsWith('.claim'));
    while (Date.now() < deadline && child.exitCode === null && claims().length === 0) await new Promise((r) => setTimeout(r, 50));
    expect(claims()).toHaveLength(1);
    child.kill('SIGINT');
    expect(await exited, stderr()).toBe(130);
    expect(stderr()).toContain('stopped; run the same command again to go on (finished cells are kept; the cells that were running start over): prefrl bench oracle --suite smoke');
    expect(stderr()).not.toContain('--resume');
    // The claim of the cell that was running is given back (another host would respect it).
    expect(readdirSync(join(root, 'results', 'smoke', 'cells')).filter((f) => f.endsWith('.claim'))).toEqual([]);
    rmSync(root, { recursive: true, force: true });
  });

  it('SIGTERM (a batch system\'s time limit) during a cell gives its claim back, prints how to go on and exits 143', { timeout: 120_000 }, async () => {
    const root = mkdtempSync(join(tmpdir(), 'prefrl-bench-sigterm-'));
    const cells = join(root, 'results', 'smoke', 'cells');
    const { child, stderr, exited } = spawnCli(['bench', 'oracle', '--suite', 'smoke', '--envs', 'toy-reach', '--steps-scale', '20', '--out', join(root, 'results'), '--runs-dir', join(root, 'runs')]);
    const deadline = Date.now() + 60_000;
    const claims = () => (existsSync(cells) ? readdirSync(cells).filter((f) => f.endsWith('.claim')) : []);
    // Cell 2 is PPO on the true reward, 81,920 steps at this scale: long enough to be stopped in.
    while (Date.now() < deadline && child.exitCode === null && !(stderr().includes('cell 2/') && claims().length === 1)) await new Promise((r) => setTimeout(r, 50));
    expect(claims()).toHaveLength(1);
    child.kill('SIGTERM');
    expect(await exited, stderr()).toBe(143);
    expect(stderr()).toContain('stopped; run the same command again to go on');
    expect(claims()).toEqual([]);
    rmSync(root, { recursive: true, force: true });
  });

  // 36 s alone, 114 s and once 245 s on the shared 2-core machine under other suites' load: the limit only catches a hang.
  it('runs the smoke suite: cell files, summary, SVG plots; reruns skip finished cells; a missing cell or dependency runs again', { timeout: 480_000 }, async () => {
    const root = mkdtempSync(join(tmpdir(), 'prefrl-bench-smoke-'));
    const out = join(root, 'results');
    const runs = join(root, 'runs');
    const args = ['bench', 'oracle', '--suite', 'smoke', '--out', out, '--runs-dir', runs, '--quiet', '--json'];
    type Result = { ran: string[]; skipped: string[]; failed: { id: string; error: string }[]; records: number; summary: string; plots: string[] };

    const first = ctx();
    const code = await main(args, first.ctx);
    const r1 = lastJson<Result>(first.out);
    expect(r1.failed).toEqual([]);
    expect(code).toBe(0);
    const suite = buildSuite('smoke', { stepsScale: 1 });
    expect([...r1.ran].sort()).toEqual(suite.cells.map((c) => c.id).sort());
    const dir = join(out, 'smoke');
    const files = readdirSync(join(dir, 'cells')).filter((f) => f.endsWith('.jsonl'));
    expect(files.sort()).toEqual(suite.cells.map((c) => `${c.id}.jsonl`).sort());
    for (const c of suite.cells) {
      const recs = readCellFile(join(dir, 'cells', `${c.id}.jsonl`));
      expect(recs).not.toBeNull();
      for (const x of recs as CellRecord[]) {
        expect(x.cellId).toBe(c.id);
        expect(x.hash).toBe(configHash(c));
        expect(x.benchCommand).toContain('prefrl bench oracle --suite smoke');
      }
    }
    const byId = (id: string) => readCellFile(join(dir, 'cells', `${id}.jsonl`)) as CellRecord[];
    const ppo = suite.cells.find((c) => c.kind === 'train' && c.row.method === 'ppo-true') as TrainCell;
    const ppoRec = byId(ppo.id)[0];
    expect(ppoRec.metrics.envSteps).toBe(4096);
    // It asks for no labels: not applicable (null), not 0.
    expect(ppoRec.metrics.labelsUsed).toBeNull();
    expect(ppoRec.metrics.finalTrueReturn).toEqual(expect.any(Number));
    expect(ppoRec.curve?.length).toBeGreaterThan(2);
    expect(ppoRec.command).toMatch(/^prefrl train --env toy-reach .*--reward true/);
    // The cell's run folder says which benchmark it is part of (`prefrl runs` names that command to go on).
    expect(JSON.parse(readFileSync(join(recordPath(ppoRec, ppoRec.runDir as string, dir), 'config.json'), 'utf8')).partOf).toBe(ppoRec.benchCommand);
    const oracle = suite.cells.find((c) => c.row.teacher === 'oracle') as TrainCell;
    expect(byId(oracle.id)[0].metrics.labelsUsed).toBe(50);
    // 50 labels: the last round held out 5 pairs, so the cell has a held-out accuracy (the accuracy plot's points).
    expect(byId(oracle.id)[0].metrics.rewardAccuracy).toEqual(expect.any(Number));
    const regret = suite.cells.find((c) => c.row.teacher === 'regret') as TrainCell;
    expect(byId(regret.id)[0].command).toContain('--expert');
    const tab = suite.cells.find((c) => c.kind === 'tabular');
    expect(byId(tab!.id)).toHaveLength(2 * 2 * 2); // sources x models x budgets
    const offline = suite.cells.find((c) => c.kind === 'offline');
    expect(byId(offline!.id)[0].metrics.iqlTrueReturn).toEqual(expect.any(Number));

    const summary = readFileSync(join(dir, 'summary.md'), 'utf8');
    expect(summary).toContain('# Smoke test');
    expect(summary).toContain(`Command: \`prefrl bench oracle --suite smoke --out ${out} --runs-dir ${runs} --quiet --json\``);
    expect(summary).toContain('## toy-reach');
    expect(summary).toContain('## tabular: delivery gridworld');
    for (const f of ['learning_curves.svg', 'return_vs_labels.svg', 'accuracy_vs_labels.svg', 'scaled_return_vs_labels.svg']) {
      const svg = readFileSync(join(dir, f), 'utf8');
      expect(svg.startsWith('<svg')).toBe(true);
      expect(wellFormedXml(svg)).toBe(true);
      expect(summary).toContain(`](${f})`);
    }

    // Rerun: everything is done and skipped; the summary is rebuilt and keeps hand-written notes.
    writeFileSync(join(dir, 'summary.md'), `${summary}\n## Notes (added by hand; a \`--summary-only\` rebuild drops this section)\n\n- seed 0 looked odd: see the run folder.\n`);
    const second = ctx();
    expect(await main(args, second.ctx)).toBe(0);
    const rebuilt = readFileSync(join(dir, 'summary.md'), 'utf8');
    expect(rebuilt.startsWith(summary.trimEnd())).toBe(true);
    expect(rebuilt.endsWith(`${NOTES_HEADING}\n\n- seed 0 looked odd: see the run folder.\n`)).toBe(true);
    const r2 = lastJson<Result>(second.out);
    expect(r2.ran).toEqual([]);
    expect(r2.skipped).toHaveLength(suite.cells.length);

    // A result made with another configuration (here: a tampered hash) is left out of the
    // summary and named, not averaged in as finished.
    const tabFile = join(dir, 'cells', `${tab!.id}.jsonl`);
    const tabText = readFileSync(tabFile, 'utf8');
    writeFileSync(tabFile, tabText.replaceAll(configHash(tab!), 'another-config'));
    const only = ctx();
    expect(await main([...args, '--summary-only'], only.ctx)).toBe(0);
    const staleSummary = readFileSync(join(dir, 'summary.md'), 'utf8');
    expect(staleSummary).toContain(`**Left out: 1 cell result was made with another configuration**`);
    expect(staleSummary).toContain(`\`${tab!.id}\``);
    expect(staleSummary).toContain(`Cells: ${suite.cells.length - 1} finished`);
    expect(staleSummary).not.toContain('## tabular: delivery gridworld');
    writeFileSync(tabFile, tabText);

    // A killed cell left no file (maybe a temp file): only it runs again. A cell whose
    // dependency's run folder is gone (results copied from another machine) reruns the dependency.
    const random = suite.cells.find((c) => c.kind === 'random')!;
    rmSync(join(dir, 'cells', `${random.id}.jsonl`));
    writeFileSync(join(dir, 'cells', `${random.id}.jsonl.tmp-12345`), '{"half a line');
    rmSync(join(dir, 'cells', `${regret.id}.jsonl`));
    rmSync(recordPath(ppoRec, ppoRec.runDir as string, dir), { recursive: true });
    const third = ctx();
    expect(await main(args, third.ctx)).toBe(0);
    const r3 = lastJson<Result>(third.out);
    expect([...r3.ran].sort()).toEqual([random.id, ppo.id, regret.id].sort());
    expect(r3.skipped).toHaveLength(suite.cells.length - 3);
    expect(r3.skipped).not.toContain(ppo.id); // run again as a dependency: in ran only
    expect(existsSync(recordPath(byId(ppo.id)[0], byId(ppo.id)[0].runDir as string, dir))).toBe(true);
    expect(readdirSync(join(dir, 'cells')).filter((f) => f.endsWith('.claim'))).toEqual([]); // claims released

    // Two processes on one folder: a cell claimed by a live process elsewhere is skipped (and
    // listed as running); a claim left by a dead process on this host is taken over.
    rmSync(join(dir, 'cells', `${random.id}.jsonl`));
    const other = { host: 'some-other-machine', pid: 4242, since: '2026-12-03T00:00:00.000Z' };
    writeFileSync(claimFile(dir, random.id), JSON.stringify(other));
    rmSync(join(dir, 'cells', `${tab!.id}.jsonl`));
    const deadPid = spawnSync(process.execPath, ['-e', '0']).pid;
    writeFileSync(claimFile(dir, tab!.id), JSON.stringify({ host: hostname(), pid: deadPid, since: other.since }));
    const listing = ctx();
    expect(await main([...args, '--dry-run'], listing.ctx)).toBe(0);
    const listed = lastJson<{ selected: { id: string; status: string; running: unknown; stopped: unknown }[] }>(listing.out).selected;
    expect(listed.find((c) => c.id === random.id)).toMatchObject({ status: 'pending', running: other, stopped: null });
    expect(listed.find((c) => c.id === tab!.id)).toMatchObject({ status: 'pending', running: null, stopped: { host: hostname(), pid: deadPid } });
    const table = ctx();
    expect(await main([...args.filter((a) => a !== '--json'), '--dry-run'], table.ctx)).toBe(0);
    expect(table.out.join('')).toContain(`pending (stopped: pid ${deadPid} on ${hostname()} since ${other.since} is gone; starts over)`);
    expect(table.out.join('')).toContain(`running (pid 4242 on some-other-machine since ${other.since})`);
    const fourth = ctx();
    expect(await main(args, fourth.ctx)).toBe(0);
    const r4 = lastJson<Result & { busy: string[] }>(fourth.out);
    expect(r4.ran).toEqual([tab!.id]);
    expect(r4.busy).toEqual([random.id]);
    expect(fourth.err.join('')).toContain(`${random.id} is running in another process (pid 4242 on some-other-machine`);
    expect(existsSync(claimFile(dir, tab!.id))).toBe(false);
    expect(JSON.parse(readFileSync(claimFile(dir, random.id), 'utf8'))).toEqual(other);
    expect(readFileSync(join(dir, 'summary.md'), 'utf8')).toContain(random.id); // listed as missing

    // A dependency another process holds is waited for, not run twice; when that process goes
    // away without leaving its run folder, this one runs it.
    rmSync(claimFile(dir, random.id));
    rmSync(join(dir, 'cells', `${regret.id}.jsonl`));
    rmSync(recordPath(byId(ppo.id)[0], byId(ppo.id)[0].runDir as string, dir), { recursive: true });
    writeFileSync(claimFile(dir, ppo.id), JSON.stringify(other));
    const poll = benchTiming.dependencyPollMs;
    benchTiming.dependencyPollMs = 50;
    try {
      const fifth = ctx();
      const running = main(args, fifth.ctx);
      await new Promise((r) => setTimeout(r, 500));
      expect(fifth.err.join('')).toContain(`waiting for cell ${ppo.id}, a dependency running in another process (pid 4242 on some-other-machine`);
      rmSync(claimFile(dir, ppo.id));
      expect(await running).toBe(0);
      const r5 = lastJson<Result>(fifth.out);
      expect([...r5.ran].sort()).toEqual([random.id, ppo.id, regret.id].sort());
    } finally {
      benchTiming.dependencyPollMs = poll;
    }
    expect(readdirSync(join(dir, 'cells')).filter((f) => f.endsWith('.claim'))).toEqual([]);
  });
});

describe('cell claims', () => {
  it('exclusive per cell; released by the holder only; unreadable claims are respected for 5 s (as run-folder locks)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'prefrl-claims-'));
    const a = claimCell(dir, 'c1');
    expect(a.ok).toBe(true);
    const b = claimCell(dir, 'c1');
    expect(b).toEqual({ ok: false, holder: { host: hostname(), pid: process.pid, since: expect.any(String) } });
    expect(claimCell(dir, 'c2').ok).toBe(true); // other cells are free
    if (a.ok) a.release();
    expect(existsSync(claimFile(dir, 'c1'))).toBe(false);
    const c = claimCell(dir, 'c1');
    expect(c.ok).toBe(true);
    // A claim taken over by someone else is not removed by the old holder's release.
    writeFileSync(claimFile(dir, 'c1'), JSON.stringify({ host: 'elsewhere', pid: 1, since: 'x' }));
    if (c.ok) c.release();
    expect(existsSync(claimFile(dir, 'c1'))).toBe(true);
    // Half-written claim: respected while fresh, stale 5 s after it was written.
    mkdirSync(join(dir, 'cells'), { recursive: true });
    const path = claimFile(dir, 'c3');
    writeFileSync(path, '{"host": "h');
    expect(claimCell(dir, 'c3')).toEqual({ ok: false, holder: null });
    const t = statSync(path).mtimeMs;
    expect(claimIsStale(path, hostname(), t + 4_900)).toBe(false);
    expect(claimIsStale(path, hostname(), t + 5_100)).toBe(true);
    utimesSync(path, new Date(Date.now() - 6_000), new Date(Date.now() - 6_000));
    expect(claimCell(dir, 'c3').ok).toBe(true);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ pid: process.pid });
  });
});
