/**
 * Collect the summaries of `prefrl offline` runs (benchmarks/offline.sh) into one results file:
 * per run the true returns of IQL on the learned reward, IQL on the true reward, BC and a random
 * policy, the two ratios, label and reward-model statistics and stage times; per configuration
 * (run name without timestamp and seed, e.g. offline-reacher) the mean
 * and standard deviation over seeds.
 *
 * Wall time: the sum of the stages' seconds, counted as whole only when every stage's seconds
 * cover all of it (stageTiming 'whole'; summaries older than stageTiming count as whole). A stage
 * whose last attempt went on from work saved before ('last-attempt') undercounts, and one whose
 * time was lost ('not-recorded') is missing: such a run's wall time is a lower bound, marked
 * ">=" in the table and `wallSecondsComplete: false` with the stages named in the results, and
 * left out of its configuration's mean (whose n then says how many runs it averages).
 *
 * Prints two markdown tables (per run, per configuration).
 *
 *   npx tsx benchmarks/offline_summary.ts <runs root> <results.json> [command]
 *
 * `command` is recorded as the results file's `command` (the scripts pass their own command line
 * with the budget they ran at, e.g. `UPDATES=100 SEEDS="0" bash benchmarks/iql_cheetah.sh`);
 * without it, the line that ran this summary. Each run's IQL updates and dataset size are
 * recorded beside its returns, so a small trial's file says it is one.
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mean, std } from '../core/math.js';
import type { OfflineSummary } from '../reward/offline.js';

/** A run's wall time from its summary: the stages' seconds summed, and whether that is all of it. */
export interface RunWallSeconds {
  /** Sum of stageSeconds (a lower bound when not complete). */
  readonly seconds: number;
  /** True when every stage's seconds cover the whole stage. */
  readonly complete: boolean;
  /** The stages whose seconds do not (stage -> 'last-attempt' or 'not-recorded'), in the pipeline's order. */
  readonly partial: Readonly<Record<string, string>>;
}

/** The wall time of one run (see the header): sum of its stages' seconds and the stages that undercount. */
export function runWallSeconds(s: Pick<OfflineSummary, 'stageSeconds' | 'stageTiming'>): RunWallSeconds {
  const seconds = Object.values(s.stageSeconds).reduce((a, b) => a + b, 0);
  const partial: Record<string, string> = {};
  for (const [stage, t] of Object.entries(s.stageTiming ?? {})) if (t !== 'whole') partial[stage] = t;
  return { seconds, complete: Object.keys(partial).length === 0, partial };
}

/** The table's wall-time cell: whole seconds, ">= n" when the run's stage times undercount. */
export function wallCell(w: RunWallSeconds): string {
  return `${w.complete ? '' : '>= '}${Math.round(w.seconds)}`;
}

/** The note under the per-run table naming the runs whose wall time is a lower bound ("" when none). */
export function wallNote(runs: readonly { readonly group: string; readonly seed: number; readonly wallSecondsComplete: boolean; readonly wallPartialStages: Readonly<Record<string, string>> }[]): string {
  const low = runs.filter((r) => !r.wallSecondsComplete);
  if (low.length === 0) return '';
  const what = low.map((r) => `${r.group} seed ${r.seed} (${Object.entries(r.wallPartialStages).map(([k, t]) => `${k} ${t === 'last-attempt' ? 'last attempt only' : 'not recorded'}`).join(', ')})`);
  return `wall (s) ">=": a lower bound, left out of the configuration's mean wall time: ${what.join('; ')}`;
}

function main(args: readonly string[]): void {
  const [root, out, commandArg, ...extra] = args;
  if (!root || !out || extra.length) {
    process.stderr.write('usage: npx tsx benchmarks/offline_summary.ts <runs root> <results.json> [command]\n');
    process.exit(2);
  }
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    process.stderr.write(`offline_summary.ts: <runs root> ${root}: ${existsSync(root) ? 'is not a folder' : 'no such folder'}\n`);
    process.exit(2);
  }
  /** Runs grouped by configuration: the run name without its timestamp and seed (offline-<env>[-variant]). */
  const runs: (OfflineSummary & { group: string })[] = [];
  for (const d of readdirSync(root).sort()) {
    const f = join(root, d, 'summary.json');
    if (existsSync(f) && /offline-/.test(d)) {
      const group = d.replace(/^\d{8}-\d{6}-/, '').replace(/-s\d+(-\d+)?$/, '');
      let summary: OfflineSummary;
      try {
        summary = JSON.parse(readFileSync(f, 'utf8')) as OfflineSummary;
      } catch (e) {
        // One line (tests import this module's helpers, so it installs no process-wide error handler of its own).
        process.stderr.write(`offline_summary.ts: ${f}: not a run summary (${e instanceof Error ? e.message : String(e)})\n`);
        process.exit(1);
      }
      runs.push({ ...summary, group });
    }
  }
  if (!runs.length) {
    // Nothing to summarise: say so rather than write an empty results file over a real one.
    process.stderr.write(`offline_summary.ts: no finished offline run (a <stamp>-offline-... folder with summary.json) in ${root}; ${out} not written\n`);
    process.exit(1);
  }
  runs.sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : a.seed - b.seed));
  const stat = (xs: number[]) => ({ mean: mean(xs), std: std(xs), n: xs.length });
  const byEnv: Record<string, unknown> = {};
  for (const group of [...new Set(runs.map((r) => r.group))]) {
    const rs = runs.filter((r) => r.group === group);
    byEnv[group] = {
      env: rs[0].env,
      seeds: rs.map((r) => r.seed),
      iqlLearned: stat(rs.map((r) => r.returns.iqlLearned.meanReturn)),
      iqlTrue: stat(rs.map((r) => r.returns.iqlTrue.meanReturn)),
      bc: stat(rs.map((r) => r.returns.bc.meanReturn)),
      random: stat(rs.map((r) => r.returns.random.meanReturn)),
      ratio: stat(rs.map((r) => r.ratio)),
      normalizedRatio: stat(rs.map((r) => r.normalizedRatio)),
      ratioOfMeans: mean(rs.map((r) => r.returns.iqlLearned.meanReturn)) / mean(rs.map((r) => r.returns.iqlTrue.meanReturn)),
      normalizedRatioOfMeans:
        (mean(rs.map((r) => r.returns.iqlLearned.meanReturn)) - mean(rs.map((r) => r.returns.random.meanReturn))) /
        (mean(rs.map((r) => r.returns.iqlTrue.meanReturn)) - mean(rs.map((r) => r.returns.random.meanReturn))),
      preferences: stat(rs.map((r) => r.preferences)),
      teacherAgreement: stat(rs.map((r) => r.teacherAgreement ?? Number.NaN)),
      rewardTransitionCorrelation: stat(rs.map((r) => r.rewardTransitionCorrelation)),
      rewardReturnCorrelation: stat(rs.map((r) => r.rewardReturnCorrelation)),
      // Over the runs whose stage times cover every stage (n says how many).
      wallSeconds: stat(rs.map(runWallSeconds).filter((w) => w.complete).map((w) => w.seconds)),
    };
  }
  const perRun = runs.map((r) => ({
    group: r.group,
    env: r.env,
    seed: r.seed,
    iqlLearned: r.returns.iqlLearned.meanReturn,
    iqlTrue: r.returns.iqlTrue.meanReturn,
    bc: r.returns.bc.meanReturn,
    random: r.returns.random.meanReturn,
    iqlLearnedSuccess: r.returns.iqlLearned.meanSuccess,
    iqlTrueSuccess: r.returns.iqlTrue.meanSuccess,
    bcSuccess: r.returns.bc.meanSuccess,
    ratio: r.ratio,
    normalizedRatio: r.normalizedRatio,
    labels: r.labels,
    preferences: r.preferences,
    // Absent in summaries written before ties were counted apart (their preferences include them).
    ties: r.ties ?? null,
    skips: r.skips,
    teacherAgreement: r.teacherAgreement,
    rewardValAccuracy: r.rewardValAccuracy,
    rewardTransitionCorrelation: r.rewardTransitionCorrelation,
    rewardReturnCorrelation: r.rewardReturnCorrelation,
    updates: r.updates,
    datasetTransitions: r.datasetTransitions,
    evalEpisodes: r.evalEpisodes,
    stageSeconds: r.stageSeconds,
    // Absent in summaries written before it was recorded (their stage times count as whole).
    stageTiming: r.stageTiming ?? null,
    // The stages' seconds summed; a lower bound when not complete (the stages that undercount named).
    wallSeconds: runWallSeconds(r).seconds,
    wallSecondsComplete: runWallSeconds(r).complete,
    wallPartialStages: runWallSeconds(r).partial,
    runDir: r.runDir,
  }));
  const command = commandArg ?? `npx tsx benchmarks/offline_summary.ts ${root} ${out}`;
  const result = { command, teacher: runs[0]?.teacherId ?? null, byGroup: byEnv, runs: perRun };
  writeFileSync(out, `${JSON.stringify(result, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
  // Markdown tables for the README: per run, then per configuration (mean +- std over seeds).
  const f1 = (x: number | null) => (x === null || !Number.isFinite(x) ? 'n/a' : x.toFixed(1));
  const f3 = (x: number | null) => (x === null || !Number.isFinite(x) ? 'n/a' : x.toFixed(3));
  // learned / true says how close IQL on the learned reward came only when the true-reward return is
  // positive; with negative returns (reacher, pusher, a barely trained cheetah) a ratio above 1 is a
  // worse agent, so it is shown as n/a and the normalised ratio is the one to read.
  const ratioShown = (ratio: number, iqlTrue: number) => (iqlTrue > 0 ? f3(ratio) : 'n/a');
  // The normalised ratio means something only where IQL-true beats the random policy (every seed
  // for the mean of seeds, the means for the ratio of means); below it a worse agent reads higher.
  const normShown = (group: string, e: Record<string, { mean: number; std: number }>) => {
    const seedsOk = perRun.filter((r) => r.group === group).every((r) => r.iqlTrue > r.random);
    return seedsOk && e.normalizedRatio ? `${f3(e.normalizedRatio.mean)} +- ${f3(e.normalizedRatio.std)}` : 'n/a';
  };
  const lines = [
    `Command: ${command}`,
    '',
    '| configuration | seed | updates | IQL learned | IQL true | BC | random | ratio | normalised ratio | preferences / ties / skips | teacher agreement | corr. transition / episode | wall (s) |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...perRun.map(
      (r) =>
        `| ${r.group} | ${r.seed} | ${r.updates} | ${f1(r.iqlLearned)} | ${f1(r.iqlTrue)} | ${f1(r.bc)} | ${f1(r.random)} | ${ratioShown(r.ratio, r.iqlTrue)} | ${r.iqlTrue > r.random ? f3(r.normalizedRatio) : 'n/a'} | ${r.preferences} / ${r.ties ?? '-'} / ${r.skips} | ${f3(r.teacherAgreement)} | ${f3(r.rewardTransitionCorrelation)} / ${f3(r.rewardReturnCorrelation)} | ${wallCell({ seconds: r.wallSeconds, complete: r.wallSecondsComplete, partial: r.wallPartialStages })} |`,
    ),
    ...(wallNote(perRun) ? ['', wallNote(perRun)] : []),
    '',
    '| configuration | seeds | IQL learned | IQL true | BC | random | normalised ratio (mean of seeds) | normalised ratio of means | ratio of means |',
    '|---|---|---|---|---|---|---|---|---|',
    ...Object.entries(byEnv).map(([g, v]) => {
      const e = v as Record<string, { mean: number; std: number }> & { seeds: number[]; ratioOfMeans: number; normalizedRatioOfMeans: number };
      const pm = (k: string) => `${f1(e[k].mean)} +- ${f1(e[k].std)}`;
      return `| ${g} | ${e.seeds.join(', ')} | ${pm('iqlLearned')} | ${pm('iqlTrue')} | ${pm('bc')} | ${pm('random')} | ${normShown(g, e)} | ${e.iqlTrue.mean > e.random.mean ? f3(e.normalizedRatioOfMeans) : 'n/a'} | ${ratioShown(e.ratioOfMeans, e.iqlTrue.mean)} |`;
    }),
    '',
    '"ratio": IQL learned / IQL true, shown only where IQL true\'s return is positive; "normalised ratio": (learned - random) / (true - random), shown only where IQL true\'s return is above the random policy\'s.',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main(process.argv.slice(2));

