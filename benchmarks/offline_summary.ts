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
 *   npx tsx benchmarks/offline_summary.ts <runs root> <results.json>
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
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

function main(root: string | undefined, out: string | undefined): void {

  if (!root || !out) {
    process.stderr.write('usage: npx tsx benchmarks/offline_summary.ts <runs root> <results.json>\n');
    process.exit(2);
  }
  /** Runs grouped by configuration: the run name without its timestamp and seed (offline-<env>[-variant]). */
  const runs: (OfflineSummary & { group: string })[] = [];
  for (const d of readdirSync(root).sort()) {
    const f = join(root, d, 'summary.json');
    if (existsSync(f) && /offline-/.test(d)) {
      const group = d.replace(/^\d{8}-\d{6}-/, '').replace(/-s\d+(-\d+)?$/, '');
      runs.push({ ...(JSON.parse(readFileSync(f, 'utf8')) as OfflineSummary), group });
    }
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
  const result = { command: 'benchmarks/offline.sh', teacher: runs[0]?.teacherId ?? null, byGroup: byEnv, runs: perRun };
  writeFileSync(out, `${JSON.stringify(result, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
  // Markdown tables for the README: per run, then per configuration (mean +- std over seeds).
  const f1 = (x: number | null) => (x === null || !Number.isFinite(x) ? 'n/a' : x.toFixed(1));
  const f3 = (x: number | null) => (x === null || !Number.isFinite(x) ? 'n/a' : x.toFixed(3));
  const lines = [
    '| configuration | seed | IQL learned | IQL true | BC | random | ratio | normalised ratio | preferences / ties / skips | teacher agreement | corr. transition / episode | wall (s) |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...perRun.map(
      (r) =>
        `| ${r.group} | ${r.seed} | ${f1(r.iqlLearned)} | ${f1(r.iqlTrue)} | ${f1(r.bc)} | ${f1(r.random)} | ${f3(r.ratio)} | ${f3(r.normalizedRatio)} | ${r.preferences} / ${r.ties ?? '-'} / ${r.skips} | ${f3(r.teacherAgreement)} | ${f3(r.rewardTransitionCorrelation)} / ${f3(r.rewardReturnCorrelation)} | ${wallCell({ seconds: r.wallSeconds, complete: r.wallSecondsComplete, partial: r.wallPartialStages })} |`,
    ),
    ...(wallNote(perRun) ? ['', wallNote(perRun)] : []),
    '',
    '| configuration | seeds | IQL learned | IQL true | BC | random | normalised ratio (mean of seeds) | normalised ratio of means | ratio of means |',
    '|---|---|---|---|---|---|---|---|---|',
    ...Object.entries(byEnv).map(([g, v]) => {
      const e = v as Record<string, { mean: number; std: number }> & { seeds: number[]; ratioOfMeans: number; normalizedRatioOfMeans: number };
      const pm = (k: string) => `${f1(e[k].mean)} +- ${f1(e[k].std)}`;
      return `| ${g} | ${e.seeds.join(', ')} | ${pm('iqlLearned')} | ${pm('iqlTrue')} | ${pm('bc')} | ${pm('random')} | ${f3(e.normalizedRatio.mean)} +- ${f3(e.normalizedRatio.std)} | ${f3(e.normalizedRatioOfMeans)} | ${f3(e.ratioOfMeans)} |`;
    }),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main(process.argv[2], process.argv[3]);

