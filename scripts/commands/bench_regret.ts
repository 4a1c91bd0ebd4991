/**
 * `prefrl bench regret`: the tabular replication of Knox et al. 2022 ("Models of human
 * preference for learning reward functions"): does a reward learned with the regret
 * preference model lead to better policies than one learned with the partial-return model?
 *
 * Matrix: {delivery gridworld, N random delivery-style MDPs} x {regret-generated,
 * partial-return-generated preferences} x {regret model, partial-return model} x budgets x
 * seeds (reward/tabular/learn.ts). Each cell's score is the mean scaled return of the policy
 * optimal for the learned reward, (J(pi) - J(random)) / (J(pi*) - J(random)) under the true
 * reward. Reported per domain group: mean and standard error over (MDP, seed) runs, and the
 * fraction of runs above 0.9 (near-optimal). The two claims checked: with regret-generated
 * preferences the regret model (1) reaches a mean of at least 0.9 by 1,000 preferences and
 * (2) beats the partial-return model at every budget.
 */
import { availableParallelism, cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { flags, positiveInts } from '../../core/config.js';
import { UsageError } from '../../core/errors.js';
import { makeFolder } from '../../core/paths.js';
import { meanSe } from '../../core/math.js';
import { Rng } from '../../core/rng.js';
import { writeFileAtomic } from '../../core/run.js';
import { deliveryGridworld, FEATURE_NAMES, type GridWorld, randomGridworld, renderLayout } from '../../reward/tabular/gridworld.js';
import {
  EXPERIMENT_DEFAULTS,
  type ExperimentOptions,
  LEARN_DEFAULTS,
  PREFERENCE_MODELS,
  PREFERENCE_SOURCES,
  type PreferenceModel,
  type PreferenceSource,
  type RunRecord,
  worldRecords,
} from '../../reward/tabular/learn.js';
import { type Command, formatTable, letSignalsIn, onInterrupt, parseOrHelp, printJson } from '../command.js';
import { type CodeVersion, codeVersion, codeVersionText } from '../bench/code_version.js';
import { benchOutFlag, seedsFlag } from './bench_flags.js';
import { jsonFlag, quietFlag } from './common_flags.js';
import { commandSummary } from '../command_index.js';
import { checkBenchOut } from '../bench/bench_out.js';

const spec = {
  command: 'prefrl bench regret',
  summary: commandSummary('bench regret'),
  flags: {
    seeds: seedsFlag('per MDP (pairs, labels and the learner init)', 3),
    mdps: flags.int({ doc: 'random delivery-style MDPs (besides the fixed delivery gridworld)', default: 10, min: 0 }),
    gridworld: flags.bool({ doc: 'include the fixed 10x10 delivery gridworld', default: true }),
    mdpSeed: flags.int({ doc: 'seed of the random MDPs', default: 0 }),
    budgets: flags.list({ doc: 'preference-set sizes, rising: each run\'s sets are nested (the first N of one sample of the largest)', default: EXPERIMENT_DEFAULTS.budgets.map(String) }),
    segmentLength: flags.int({ doc: 'actions per segment', default: EXPERIMENT_DEFAULTS.segmentLength, min: 1 }),
    beta: flags.float({ doc: 'oracle rationality, > 0 (P = sigmoid(beta x difference)); omit for deterministic labels with ties at 0.5', optional: true }),
    steps: flags.int({ doc: 'full-batch Adam steps per fit', default: LEARN_DEFAULTS.steps, min: 1 }),
    lr: flags.float({ doc: 'Adam learning rate, > 0', default: LEARN_DEFAULTS.lr }),
    l2: flags.float({ doc: 'L2 penalty (l2/2)|w|^2', default: LEARN_DEFAULTS.l2, min: 0 }),
    valueEvery: flags.int({ doc: 'regret model: recompute V* of the learned reward every this many steps', default: LEARN_DEFAULTS.valueEvery, min: 1 }),
    out: benchOutFlag('folder for summary.md, results.json and command.txt', 'runs/bench-regret'),
    write: flags.bool({ doc: 'write the files into --out', default: true }),
    json: jsonFlag(),
    quiet: quietFlag("bench regret's are its per-run 'done' lines"),
  },
  epilog: [
    'The committed results were made with the defaults: prefrl bench regret --seeds 3 --mdps 10 --out benchmarks/results/regret/bench-regret',
    'Quick look: prefrl bench regret --seeds 1 --mdps 2 --budgets 300,1000 --no-write',
  ].join('\n'),
};

/** Summary of one (group, source, model, budget) cell over its runs. */
export interface CellSummary {
  readonly group: string;
  readonly source: PreferenceSource;
  readonly model: PreferenceModel;
  readonly budget: number;
  readonly n: number;
  readonly mean: number;
  /** Standard error of the mean: sample std / sqrt(n) (0 when n = 1). */
  readonly se: number;
  /** Fraction of runs with scaled return > 0.9. */
  readonly nearOptimal: number;
  /** Mean probability that the learned policy ends on the goal / on a sheep (diagnostics). */
  readonly pGoal: number;
  readonly pSheep: number;
}

/** Regret model minus partial-return model at one budget, paired by (world, seed). */
export interface PairedDifference {
  readonly group: string;
  readonly source: PreferenceSource;
  readonly budget: number;
  readonly n: number;
  readonly mean: number;
  readonly se: number;
}

/** --budgets: positive integers that rise strictly (the preference sets are nested prefixes, so a repeated or smaller size is a mistake). */
export function risingBudgets(list: readonly string[]): number[] {
  const budgets = positiveInts(list, '--budgets');
  for (let k = 1; k < budgets.length; k++) {
    if (budgets[k] <= budgets[k - 1]) {
      throw new UsageError(`--budgets: preference-set sizes must rise (nested sets), got ${budgets.join(',')} (${budgets[k]} after ${budgets[k - 1]})`);
    }
  }
  return budgets;
}

const groupOf = (world: string): string => (world === 'delivery' ? 'delivery' : 'random');

export function summarise(records: readonly RunRecord[], budgets: readonly number[]): { cells: CellSummary[]; differences: PairedDifference[] } {
  const groups = [...new Set(records.map((r) => groupOf(r.world)))];
  const cells: CellSummary[] = [];
  const differences: PairedDifference[] = [];
  for (const group of [...groups, ...(groups.length > 1 ? ['all'] : [])]) {
    const inGroup = records.filter((r) => group === 'all' || groupOf(r.world) === group);
    for (const source of PREFERENCE_SOURCES) {
      for (const budget of budgets) {
        for (const model of PREFERENCE_MODELS) {
          const rs = inGroup.filter((r) => r.source === source && r.model === model && r.budget === budget);
          if (rs.length === 0) continue;
          const { mean, se } = meanSe(rs.map((r) => r.scaledReturn));
          cells.push({
            group,
            source,
            model,
            budget,
            n: rs.length,
            mean,
            se,
            nearOptimal: rs.filter((r) => r.scaledReturn > 0.9).length / rs.length,
            pGoal: meanSe(rs.map((r) => r.pGoal)).mean,
            pSheep: meanSe(rs.map((r) => r.pSheep)).mean,
          });
        }
        const key = (r: RunRecord) => `${r.world}|${r.seed}`;
        const pr = new Map(inGroup.filter((r) => r.source === source && r.model === 'partial-return' && r.budget === budget).map((r) => [key(r), r.scaledReturn]));
        const diffs = inGroup
          .filter((r) => r.source === source && r.model === 'regret' && r.budget === budget && pr.has(key(r)))
          .map((r) => r.scaledReturn - (pr.get(key(r)) as number));
        if (diffs.length > 0) differences.push({ group, source, budget, n: diffs.length, ...meanSe(diffs) });
      }
    }
  }
  return { cells, differences };
}

/** The two claims, checked on one group's cells (regret-generated preferences). */
export function checkClaims(cells: readonly CellSummary[], group: string, budgets: readonly number[]): { reaches09By1000: boolean | null; beatsAtEveryBudget: boolean | null } {
  const get = (model: PreferenceModel, budget: number) => cells.find((c) => c.group === group && c.source === 'regret' && c.model === model && c.budget === budget);
  const by1000 = budgets.filter((b) => b >= 1000);
  const reach = by1000.length === 0 ? null : by1000.every((b) => (get('regret', b)?.mean ?? -Infinity) >= 0.9);
  const pairs = budgets.map((b) => [get('regret', b), get('partial-return', b)] as const);
  const beats = pairs.some(([r, p]) => !r || !p) ? null : pairs.every(([r, p]) => (r as CellSummary).mean > (p as CellSummary).mean);
  return { reaches09By1000: reach, beatsAtEveryBudget: beats };
}

const f3 = (x: number) => x.toFixed(3);

/** "0.463 +- 0.012", or "0.463" over one run: a standard error of one value is not 0 but undefined (it read "+- 0.000"). */
export function meanSeText(mean: number, se: number, n: number): string {
  return n < 2 ? f3(mean) : `${f3(mean)} +- ${f3(se)}`;
}

function cellTable(cells: readonly CellSummary[], group: string, budgets: readonly number[]): string {
  const rows: string[][] = [];
  for (const source of PREFERENCE_SOURCES) {
    for (const model of PREFERENCE_MODELS) {
      const row: string[] = [source, model];
      for (const b of budgets) {
        const c = cells.find((x) => x.group === group && x.source === source && x.model === model && x.budget === b);
        row.push(c ? `${meanSeText(c.mean, c.se, c.n)} (${Math.round(c.nearOptimal * 100)}%)` : '-');
      }
      rows.push(row);
    }
  }
  // Budgets as "300 prefs": "n=300" read like the number of runs, which the heading gives.
  return formatTable(['preferences from', 'model', ...budgets.map((b) => `${b} prefs`)], rows);
}

function verdict(x: boolean | null): string {
  return x === null ? 'not tested' : x ? 'holds' : 'does not hold';
}

export const benchRegretCommand: Command = {
  name: 'bench regret',
  summary: spec.summary,
  async run(argv, ctx) {
    const parsed = parseOrHelp(argv, spec, ctx.io);
    if (!parsed) return 0;
    const f = parsed.flags;
    const budgets = risingBudgets(f.budgets);
    // Both must be above 0: beta 0 makes every label a coin flip, lr 0 returns the random init as the learned reward.
    if (f.beta !== undefined && !(f.beta > 0)) throw new UsageError(`${spec.command}: --beta: must be > 0, got ${f.beta}`);
    if (!(f.lr > 0)) throw new UsageError(`${spec.command}: --lr: must be > 0, got ${f.lr}`);
    if (!f.gridworld && f.mdps === 0) throw new UsageError(`${spec.command}: nothing to run (--no-gridworld and --mdps 0: no MDP left)`);
    if (f.write) checkBenchOut(f.out);
    const options: ExperimentOptions = {
      ...EXPERIMENT_DEFAULTS,
      budgets,
      segmentLength: f.segmentLength,
      oracle: { ...EXPERIMENT_DEFAULTS.oracle, beta: f.beta ?? Infinity },
      learn: { ...LEARN_DEFAULTS, steps: f.steps, lr: f.lr, l2: f.l2, valueEvery: f.valueEvery },
    };
    const worlds: GridWorld[] = [];
    if (f.gridworld) worlds.push(deliveryGridworld());
    const mdpRng = new Rng(f.mdpSeed).fork('mdp');
    for (let i = 0; i < f.mdps; i++) worlds.push(randomGridworld(mdpRng.fork(i), `random-${i}`));

    const log = ctx.logger;
    const t0 = ctx.clock.now();
    const records: RunRecord[] = [];
    let done = 0;
    const runs = worlds.length * f.seeds;
    // Ctrl-C: the (world, seed) runs done so far are counted; nothing is written (the files are written at the end, whole).
    const stopHint = onInterrupt(
      ctx,
      () => ({
        line: `stopped after ${done} of ${runs} (MDP, seed) runs; bench regret wrote nothing${f.write ? ` to ${f.out}` : ''}, run it again for the table`,
        fields: { runs: done, of: runs, records: records.length, out: f.write ? f.out : null, written: false },
      }),
      { json: f.json },
    );
    try {
      for (const world of worlds) {
        for (let seed = 0; seed < f.seeds; seed++) {
          // The event loop gets a turn after each reward fit (a signal stops there); the records are those of runWorld.
          for (const record of worldRecords(world, seed, new Rng(seed).fork(world.name), options)) {
            records.push(record);
            await letSignalsIn();
          }
          done++;
          if (!f.quiet) log.info(`${world.name} seed ${seed} done (${done}/${runs}, ${((ctx.clock.now() - t0) / 1000).toFixed(0)} s)`);
        }
      }
    } finally {
      stopHint();
    }
    const seconds = (ctx.clock.now() - t0) / 1000;
    const { cells, differences } = summarise(records, budgets);
    const groups = [...new Set(cells.map((c) => c.group))];
    const claims = Object.fromEntries(groups.map((g) => [g, checkClaims(cells, g, budgets)]));
    const command = `prefrl bench regret${argv.length ? ` ${argv.join(' ')}` : ''}`;
    const result = {
      bench: 'regret',
      command,
      setup: {
        worlds: worlds.map((w) => ({ name: w.name, width: w.width, height: w.height, weights: Array.from(w.trueWeights), layout: renderLayout(w) })),
        features: FEATURE_NAMES,
        seeds: f.seeds,
        mdpSeed: f.mdpSeed,
        budgets,
        segmentLength: f.segmentLength,
        gamma: worlds[0].mdp.gamma,
        oracle: { beta: f.beta ?? 'deterministic', tieTolerance: options.oracle.tieTolerance },
        learn: options.learn,
      },
      machine: { nproc: availableParallelism(), cpu: cpus()[0]?.model ?? 'unknown', node: process.version },
      // The code that made the numbers (as bench oracle's cells record it).
      software: codeVersion(f.write ? [f.out] : []),
      seconds: Math.round(seconds * 10) / 10,
      cells,
      differences,
      claims,
      records,
    };

    const text = report(result.command, cells, differences, claims, groups, budgets, seconds, options, f.beta, result.software);
    if (f.write) {
      const dir = resolve(f.out);
      makeFolder(dir);
      writeFileAtomic(join(dir, 'results.json'), `${JSON.stringify(result, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
      writeFileAtomic(join(dir, 'summary.md'), text);
      writeFileAtomic(join(dir, 'command.txt'), `${command}\n`);
      log.info(`wrote ${join(dir, 'summary.md')}, results.json and command.txt`);
    }
    // Where the files went (null with --no-write): the default is a scratch folder, so it is said.
    if (f.json) printJson(ctx.io, { ...result, records: undefined, recordCount: records.length, outDir: f.write ? resolve(f.out) : null });
    else ctx.io.stdout.write(text);
    return 0;
  },
};

function report(
  command: string,
  cells: readonly CellSummary[],
  differences: readonly PairedDifference[],
  claims: Record<string, ReturnType<typeof checkClaims>>,
  groups: readonly string[],
  budgets: readonly number[],
  seconds: number,
  options: ExperimentOptions,
  beta: number | undefined,
  software: CodeVersion,
): string {
  const lines: string[] = [];
  lines.push('# Regret vs partial-return preference models (tabular, Knox et al. 2022)', '');
  lines.push(`Command: \`${command}\` (${seconds.toFixed(0)} s).`, '', `Code: ${codeVersionText(software)}.`, '');
  lines.push(
    `Segments of ${options.segmentLength} uniformly random actions from uniform non-terminal start states; ` +
      `oracle labels ${beta === undefined ? 'deterministic (ties 0.5)' : `stochastic, beta = ${beta}`}; ` +
      `linear reward over the cell-type features, full-batch Adam (${options.learn.steps} steps, lr ${options.learn.lr}, l2 ${options.learn.l2}); ` +
      `regret model with exact V* of the learned reward (policy iteration every ${options.learn.valueEvery} step(s)).`,
    '',
  );
  lines.push('Cells: mean scaled return +- standard error over (MDP, seed) runs (no standard error where a cell has one run), (fraction of runs > 0.9).', '');
  for (const g of groups) {
    const n = cells.find((c) => c.group === g)?.n ?? 0;
    lines.push(`## ${g} (${n} run${n === 1 ? '' : 's'} per cell)`, '', '```', cellTable(cells, g, budgets), '```', '');
    const rows = differences
      .filter((d) => d.group === g)
      .map((d) => [d.source, String(d.budget), meanSeText(d.mean, d.se, d.n)]);
    lines.push('Regret model minus partial-return model, paired by run:', '', '```', formatTable(['preferences from', 'budget', 'difference'], rows), '```', '');
    const diag = cells
      .filter((c) => c.group === g)
      .map((c) => [c.source, c.model, String(c.budget), f3(c.pGoal), f3(c.pSheep)]);
    lines.push('Where the learned policies end episodes (mean probability over runs, 500-step horizon):', '', '```', formatTable(['preferences from', 'model', 'budget', 'P(goal)', 'P(sheep)'], diag), '```', '');
    const c = claims[g];
    lines.push(
      `Claims (regret-generated preferences): regret model >= 0.9 by 1,000 preferences: **${verdict(c.reaches09By1000)}**; ` +
        `regret model beats partial return at every budget: **${verdict(c.beatsAtEveryBudget)}**.`,
      '',
    );
  }
  return `${lines.join('\n')}\n`;
}
