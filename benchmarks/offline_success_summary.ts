/**
 * Summarise benchmarks/offline_success.sh: per env and seed, IQL on the task-success measure
 * (iql-success-<env>-s<seed>.json, the last JSON line of `prefrl iql --json`) against the same
 * seed's `prefrl offline` base run in the same root (offline-<env>-s<seed>.json): IQL on the
 * true reward, the random policy and IQL on the learned reward; the normalised score
 * (R - random) / (IQL true - random) of each; and, for iql-true-<env>-s<seed>.json checks,
 * whether `prefrl iql --reward true` reproduced the base run's IQL-true return.
 *
 *   npx tsx benchmarks/offline_success_summary.ts <runs root> <results.json> [command]
 *
 * `command` is recorded as the results file's `command` (offline_success.sh passes its command
 * line with the budget it ran at); without it, the line that ran this summary.
 */
import './script_errors.js';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mean, std } from '../core/math.js';

const [root, out, commandArg, ...extra] = process.argv.slice(2);
if (!root || !out || extra.length) {
  process.stderr.write('usage: npx tsx benchmarks/offline_success_summary.ts <runs root> <results.json> [command]\n');
  process.exit(2);
}
if (!existsSync(root) || !statSync(root).isDirectory()) {
  process.stderr.write(`offline_success_summary.ts: <runs root> ${root}: ${existsSync(root) ? 'is not a folder' : 'no such folder'}\n`);
  process.exit(2);
}
const lastJson = (file: string): Record<string, unknown> => {
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as Record<string, unknown>;
};
interface Base {
  returns: Record<'iqlLearned' | 'iqlTrue' | 'random', { meanReturn: number }>;
  updates: number;
}
const base = (env: string, seed: number): Base | null => {
  const f = join(root, `offline-${env}-s${seed}.json`);
  return existsSync(f) ? (lastJson(f) as unknown as Base) : null;
};
const norm = (r: number, b: Base) => (r - b.returns.random.meanReturn) / (b.returns.iqlTrue.meanReturn - b.returns.random.meanReturn);

const runs: Record<string, unknown>[] = [];
const checks: Record<string, unknown>[] = [];
for (const f of readdirSync(root).sort()) {
  const m = /^iql-(success|true)-(.+)-s(\d+)\.json$/.exec(f);
  if (!m) continue;
  const [, kind, env, s] = m;
  const seed = Number(s);
  const j = lastJson(join(root, f));
  const b = base(env, seed);
  if (!b) throw new Error(`${join(root, f)}: no base run offline-${env}-s${seed}.json in ${root}`);
  if (j.updates !== b.updates) throw new Error(`${join(root, f)}: ${j.updates} updates, the base run ${b.updates}`);
  const ret = j.finalTrueReturn as number;
  if (kind === 'true') {
    checks.push({ env, seed, iqlTrueHere: ret, iqlTrueBase: b.returns.iqlTrue.meanReturn, identical: ret === b.returns.iqlTrue.meanReturn });
    continue;
  }
  runs.push({
    env,
    seed,
    iqlSuccess: ret,
    iqlSuccessSuccess: j.finalSuccess,
    iqlTrue: b.returns.iqlTrue.meanReturn,
    iqlLearned: b.returns.iqlLearned.meanReturn,
    random: b.returns.random.meanReturn,
    normalizedSuccess: norm(ret, b),
    normalizedLearned: norm(b.returns.iqlLearned.meanReturn, b),
    successRewardTransitionCorrelation: j.rewardTransitionCorrelation,
    successRewardReturnCorrelation: j.rewardReturnCorrelation,
    updates: j.updates,
    runDir: j.runDir,
  });
}
const byEnv: Record<string, unknown> = {};
for (const env of [...new Set(runs.map((r) => r.env as string))]) {
  const rs = runs.filter((r) => r.env === env);
  const st = (k: string) => {
    const xs = rs.map((r) => r[k] as number);
    return { mean: mean(xs), std: std(xs), n: xs.length };
  };
  byEnv[env] = { seeds: rs.map((r) => r.seed), iqlSuccess: st('iqlSuccess'), iqlTrue: st('iqlTrue'), normalizedSuccess: st('normalizedSuccess'), normalizedLearned: st('normalizedLearned') };
}
const result = { command: commandArg ?? `npx tsx benchmarks/offline_success_summary.ts ${root} ${out}`, root, byEnv, runs, checks };
writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
const f = (x: number, k = 1) => x.toFixed(k);
const lines = ['| env | seed | IQL on success | IQL true | IQL learned (base run) | random | normalised: success | normalised: learned | corr. transition / episode |', '|---|---|---|---|---|---|---|---|---|'];
// (R - random) / (IQL true - random) turns over where IQL-true does not beat the random policy (a
// run too small to learn): shown as n/a there, as offline_summary.ts does.
const normalised = (r: Record<string, unknown>, k: string) => ((r.iqlTrue as number) > (r.random as number) ? f(r[k] as number, 2) : 'n/a');
for (const r of runs) {
  lines.push(
    `| ${r.env} | ${r.seed} | ${f(r.iqlSuccess as number)} | ${f(r.iqlTrue as number)} | ${f(r.iqlLearned as number)} | ${f(r.random as number)} | ${normalised(r, 'normalizedSuccess')} | ${normalised(r, 'normalizedLearned')} | ${f(r.successRewardTransitionCorrelation as number, 2)} / ${f(r.successRewardReturnCorrelation as number, 2)} |`,
  );
}
for (const c of checks) lines.push('', `check: ${c.env} seed ${c.seed}: prefrl iql --reward true ${f(c.iqlTrueHere as number, 4)}, base run IQL-true ${f(c.iqlTrueBase as number, 4)} (${c.identical ? 'identical' : 'DIFFERENT'})`);
process.stdout.write(`${lines.join('\n')}\n`);
