/**
 * Collect the summaries of `prefrl offline` runs (benchmarks/offline.sh) into one results file:
 * per run the true returns of IQL on the learned reward, IQL on the true reward, BC and a random
 * policy, the two ratios, label and reward-model statistics and stage times; per configuration
 * (run name without timestamp and seed, e.g. offline-reacher) the mean
 * and standard deviation over seeds. Prints two markdown tables (per run, per configuration).
 *
 *   npx tsx benchmarks/offline_summary.ts <runs root> <results.json> [command]
 *
 * `command` is recorded as the results file's `command` (the scripts pass their own command line
 * with the budget they ran at, e.g. `UPDATES=100 SEEDS="0" bash benchmarks/iql_cheetah.sh`);
 * without it, the line that ran this summary. Each run's IQL updates and dataset size are
 * recorded beside its returns, so a small trial's file says it is one.
 */
import './script_errors.js';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mean, std } from '../core/math.js';
import type { OfflineSummary } from '../reward/offline.js';

const [root, out, commandArg, ...extra] = process.argv.slice(2);
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
      throw new Error(`${f}: not a run summary (${e instanceof Error ? e.message : String(e)})`);
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
    wallSeconds: stat(rs.map((r) => Object.values(r.stageSeconds).reduce((a, b) => a + b, 0))),
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
      `| ${r.group} | ${r.seed} | ${r.updates} | ${f1(r.iqlLearned)} | ${f1(r.iqlTrue)} | ${f1(r.bc)} | ${f1(r.random)} | ${ratioShown(r.ratio, r.iqlTrue)} | ${r.iqlTrue > r.random ? f3(r.normalizedRatio) : 'n/a'} | ${r.preferences} / ${r.ties ?? '-'} / ${r.skips} | ${f3(r.teacherAgreement)} | ${f3(r.rewardTransitionCorrelation)} / ${f3(r.rewardReturnCorrelation)} | ${Math.round(Object.values(r.stageSeconds).reduce((a, b) => a + b, 0))} |`,
  ),
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

