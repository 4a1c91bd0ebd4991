/** `prefrl check-env <id | path.xml>`: run the environment contract checks. */
import { flags } from '../../core/config.js';
import { InputError, UsageError } from '../../core/errors.js';
import { isFolder, shellQuote } from '../../core/paths.js';
import { readRunConfig } from '../../core/run.js';
import { type CheckedEnv, type CheckReport, checkEnv } from '../../envs/check.js';
import { specToJson } from '../../envs/types.js';
import { boundToJson } from './envs.js';
import { envConfigFromArgs } from '../../envs/registry.js';
import { type Command, formatTable, parseOrHelp, printJson } from '../command.js';
import { jsonFlag, seedFlag, taskFlag } from './common_flags.js';
import { commandSummary } from '../command_index.js';

const spec = {
  command: 'prefrl check-env',
  summary:
    'Say what an environment is (observation, each actuator\'s action bounds, dt, horizon, the reward as a weighted sum of its terms, the goal), then check it against the contract: determinism under a seed, reward = weighted sum of its terms, exact state round trip, spaces, transition terms, horizon, and no WASM memory growth over 1,000 resets.',
  positionals: [{ name: 'env', doc: 'a registered env id (see prefrl envs) or a path to an MJCF .xml file (or give --model)', required: false }],
  flags: {
    model: flags.string({ doc: 'path to an MJCF .xml file (a bring-your-own robot): the same as giving it as <env>, as --model is on the other commands', optional: true }),
    task: taskFlag(),
    steps: flags.int({ doc: 'steps for the determinism and replay checks', default: 300, min: 10 }),
    resets: flags.int({ doc: 'resets for the memory check', default: 1000, min: 1 }),
    seed: seedFlag(),
    json: jsonFlag({
      holds:
        '{"ok", "env", "spec" (as prefrl envs --json gives it, with "actuators": the name of each action entry\'s actuator, and "task": a bring-your-own model\'s task module, null for the default task), "checks", "warnings"}; a model that does not load gives {"ok": false, "checks": {"load": ...}} and exit code 1',
    }),
  },
  epilog: 'Exit code: 0 when every check passes, 1 when one fails, 2 on bad usage.',
};

/** ", e.g. prefrl check-env reacher (the env of this run)" when `dir` is a run folder whose config.json names its env. */
function folderEnvHint(dir: string): string {
  const ec = readRunConfig(dir)?.envConfig as { id?: unknown; model?: unknown } | null | undefined;
  const env = ec?.id === 'custom' && typeof ec.model === 'string' ? ec.model : typeof ec?.id === 'string' ? ec.id : null;
  return env === null ? '' : `, e.g. prefrl check-env ${shellQuote(env)} (the env of this run)`;
}

/** The checked env as JSON: the spec as `prefrl envs --json` writes it, with actuator names and the task module. */
function aboutJson(about: CheckedEnv): Record<string, unknown> {
  const s = about.spec;
  const bounds = (a: Float64Array) => Array.from(a, boundToJson);
  return {
    ...specToJson(s),
    obsLow: bounds(s.obsLow),
    obsHigh: bounds(s.obsHigh),
    actLow: bounds(s.actLow),
    actHigh: bounds(s.actHigh),
    ...(about.actuators ? { actuators: about.actuators } : {}),
    ...(about.task !== undefined ? { task: about.task } : {}),
  };
}

/** A number as a person reads it: at most 6 significant digits. */
function num(x: number): string {
  return Number.isFinite(x) ? String(Number(x.toPrecision(6))) : String(x);
}

/**
 * What the checked env is, in lines a person reads before the checks: observation, actions (by
 * actuator, with their bounds), dt, horizon, the reward as a weighted sum of its terms, and the goal.
 */
export function describeEnv(about: CheckedEnv): string {
  const s = about.spec;
  const lines: string[] = [];
  const task = about.task === undefined ? '' : about.task === null ? ' (the default task: see README "Bring your own robot")' : ` (task module ${about.task})`;
  lines.push(`${s.id}${task}`);
  const obsWhat = about.task === null ? (s.na > 0 ? `: qpos (${s.nq}), qvel (${s.nv}) then act (${s.na})` : `: qpos (${s.nq}) then qvel (${s.nv})`) : '';
  const bounded = Array.from(s.obsLow).some(Number.isFinite) || Array.from(s.obsHigh).some(Number.isFinite);
  lines.push(`  observation  ${s.obsDim} value${s.obsDim === 1 ? '' : 's'}${obsWhat}${bounded ? '' : ', unbounded'}`);
  if (s.actDim === 0) lines.push('  action       none (the model has no actuators: rollout and collect run it, train and iql need an <actuator>)');
  else {
    const unlimited = new Set(about.unlimited ?? []);
    const acts = Array.from({ length: s.actDim }, (_, i) => {
      const name = about.actuators?.[i] || `#${i}`;
      return `${name} [${num(s.actLow[i])}, ${num(s.actHigh[i])}]${unlimited.has(i) ? '*' : ''}`;
    });
    lines.push(`  action       ${s.actDim} value${s.actDim === 1 ? '' : 's'}: ${acts.join(', ')}`);
    if (unlimited.size > 0) lines.push('               * no ctrlrange in the model: actions are clipped to [-1, 1] (set ctrlrange on the actuator for other bounds)');
  }
  lines.push(`  dt           ${num(s.dt)} s per step, horizon ${s.horizon} steps (${num(s.dt * s.horizon)} s)`);
  const terms = s.rewardTerms.map((t, i) => {
    const w = i === 0 ? num(t.weight) : t.weight < 0 ? `- ${num(-t.weight)}` : `+ ${num(t.weight)}`;
    return `${w} x ${t.name}${t.doc ? ` (${t.doc})` : ''}`;
  });
  lines.push(`  reward       ${terms.join('\n               ')}`);
  lines.push(`  goal         ${s.goal}`);
  return lines.join('\n');
}

export const checkEnvCommand: Command = {
  name: 'check-env',
  summary: commandSummary('check-env'),
  async run(argv, ctx) {
    const parsed = parseOrHelp(argv, spec, ctx.io);
    if (!parsed) return 0;
    const f = parsed.flags;
    if (parsed.positionals.length > 0 && f.model !== undefined) throw new UsageError(`prefrl check-env: <env> ${parsed.positionals[0]} and --model ${f.model} both name the env; give one`);
    const given = parsed.positionals[0] ?? f.model;
    if (given === undefined) throw new UsageError('prefrl check-env: missing argument <env> (an env id, or a path to an MJCF .xml file; --model path.xml is the same)');
    const arg = given;
    // A folder (a run folder, say) would be "unknown env": name the env a run folder was made in.
    if (isFolder(arg)) throw new UsageError(`${parsed.positionals[0] === undefined ? '--model' : '<env>'}: ${arg} is a folder; give an env id (see prefrl envs) or an MJCF .xml file${folderEnvHint(arg)}`);
    const config = envConfigFromArgs(arg, { task: f.task, flag: parsed.positionals[0] === undefined ? '--model' : '<env>' });
    let report: CheckReport;
    try {
      report = await checkEnv(config, {
        steps: f.steps,
        resets: f.resets,
        seed: f.seed,
        // With --json the checks are reported on stderr as they finish; the table says it all otherwise.
        onCheck: f.json ? (name, r) => ctx.logger.info(`${r.ok ? 'ok  ' : 'FAIL'} ${name}: ${r.detail}`) : undefined,
      });
    } catch (e) {
      // A model (or task module) that does not load fails the first check: --json still ends in
      // the report, and the error goes to stderr with exit code 1 as for every command.
      if (f.json && e instanceof InputError) printJson(ctx.io, { ok: false, env: arg, checks: { load: { ok: false, detail: e.message } }, warnings: [] });
      throw e;
    }
    for (const w of report.warnings) ctx.logger.warn(w);
    if (f.json) {
      const { about, ...rest } = report;
      printJson(ctx.io, { ok: rest.ok, env: rest.env, spec: aboutJson(about), checks: rest.checks, warnings: rest.warnings });
    } else {
      const rows = Object.entries(report.checks).map(([name, r]) => [name, r.skipped ? 'skipped' : r.ok ? 'ok' : 'FAIL', r.detail]);
      ctx.io.stdout.write(`${describeEnv(report.about)}\n\n${report.env}: ${report.ok ? 'all checks passed' : 'CHECKS FAILED'}\n${formatTable(['check', 'result', 'detail'], rows)}\n`);
    }
    return report.ok ? 0 : 1;
  },
};
