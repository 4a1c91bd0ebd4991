/**
 * `prefrl demo` (what `npm start` runs): the whole idea in a few minutes on 2 cores.
 *
 * PPO learns reacher from a reward model trained on the oracle teacher's comparisons of 50-step
 * segments (the online loop of `prefrl train`), then PPO learns the same env from its true reward
 * with identical settings and the same number of env steps. The summary puts the two final true
 * returns side by side, with the reward model's held-out accuracy, the run folders and the
 * command that opens the viewer on the pairs the teacher compared.
 */
import { flags, parseFlags } from '../../core/config.js';
import { envConfigArgs, envConfigFromArgs } from '../../envs/registry.js';
import type { LoopSummary } from '../../reward/loop.js';
import { dirname, join } from 'node:path';
import { type Command, formatTable, onInterrupt, parseOrHelp, printJson, shellPath, type Stopped } from '../command.js';
import { shellQuote } from '../../core/paths.js';
import { train, trainFlags } from './train.js';
import { jsonFlag, quietFlag, runsDirFlag, seedFlag } from './common_flags.js';
import { commandSummary } from '../command_index.js';

const spec = {
  command: 'prefrl demo',
  summary:
    'The main job of `npm start`: online preference learning on reacher with the oracle teacher, next to PPO on the true reward at the same env steps.',
  flags: {
    env: trainFlags.env,
    teacher: flags.string({ doc: 'teacher spec (see prefrl train --help)', default: 'oracle' }),
    labels: flags.int({ doc: 'feedback budget: total labels (queries answered, skips included)', default: 500, min: 1 }),
    labelsPerRound: trainFlags.labelsPerRound,
    feedbackEvery: flags.int({ doc: 'env steps between feedback rounds', default: 8192, min: 1 }),
    steps: flags.int({ doc: 'env steps of each of the two PPO runs', default: 150_000, min: 1 }),
    rewardEpochs: trainFlags.rewardEpochs,
    baseline: flags.bool({ doc: 'also run PPO on the true reward (--no-baseline skips it)', default: true }),
    seed: seedFlag('the same for both runs'),
    runsDir: runsDirFlag,
    json: jsonFlag(),
    quiet: quietFlag(),
  },
  epilog: ['Examples:', '  npm start', '  prefrl demo --steps 300000 --labels 1000', '  prefrl demo --teacher stochastic:beta=1,epsMistake=0.1'].join('\n'),
};

export const demoCommand: Command = {
  name: 'demo',
  summary: commandSummary('demo'),
  async run(argv, ctx) {
    const parsed = parseOrHelp(argv, spec, ctx.io);
    if (!parsed) return 0;
    const f = parsed.flags;
    // --json goes on to the runs: stopped by Ctrl-C, the one running still prints its JSON object.
    const common = ['--env', f.env, '--steps', String(f.steps), '--seed', String(f.seed), '--runs-dir', f.runsDir, ...(f.quiet ? ['--quiet'] : []), ...(f.json ? ['--json'] : [])];
    const trainSpec = { command: 'prefrl train', summary: '', flags: trainFlags };
    const prefArgs = [
      ...common,
      '--teacher', f.teacher,
      '--labels', String(f.labels),
      '--labels-per-round', String(f.labelsPerRound),
      '--feedback-every', String(f.feedbackEvery),
      '--reward-epochs', String(f.rewardEpochs),
    ];
    // Ctrl-C, SIGTERM, SIGHUP: the train run going on says how to resume it (its own hint, `inner`);
    // the demo adds what that leaves out: the baseline run not started yet (the demo has no
    // --resume: run again, it starts both runs anew), or the learned-reward run already finished.
    const baselineArgs = ['--env', f.env, '--steps', String(f.steps), '--seed', String(f.seed), '--runs-dir', f.runsDir, '--reward', 'true'];
    const baselineCommand = `prefrl train ${baselineArgs.map(shellQuote).join(' ')}`;
    let prefRun: string | null = null;
    const stopHint = onInterrupt(ctx, (inner) => demoStopped(inner, { prefRun, baseline: f.baseline ? baselineCommand : null }), { json: f.json, inner: true });
    let pref: Awaited<ReturnType<typeof train>>;
    let base: { summary: LoopSummary; runDir: string } | null = null;
    try {
      // Each stage is announced once train's checks have passed: a refused --env or --teacher prints its one-line error alone.
      pref = await train(parseFlags(prefArgs, trainSpec).flags, ctx, undefined, [], () =>
        ctx.logger.info(`demo 1/${f.baseline ? 2 : 1}: PPO on a reward learned from ${f.labels} "${f.teacher}" comparisons of ${f.env} segments (${f.steps} env steps)`),
      );
      prefRun = pref.run.path;
      if (f.baseline) {
        const b = await train(parseFlags([...common, '--reward', 'true'], trainSpec).flags, ctx, undefined, [], () => ctx.logger.info(`demo 2/2: PPO on the true reward of ${f.env}, same settings and env steps`));
        base = { summary: b.summary, runDir: b.run.path };
      }
    } finally {
      stopHint();
    }
    const p = pref.summary;
    const ratio = base ? relative(p.finalTrueReturn, base.summary.finalTrueReturn, p.curve[0]?.[1]) : null;
    const viewer = `prefrl serve --store ${shellPath(join(pref.run.path, 'labels.sqlite'))}`;
    const folders = [pref.run.path, ...(base ? [base.runDir] : [])].map(shellPath).join(' ');
    const plot = `prefrl plot ${folders}`;
    const tensorboard = `prefrl tensorboard ${folders}, then tensorboard --logdir ${shellPath(dirname(pref.run.path))}`;
    const watch = `prefrl rollout ${envConfigArgs(envConfigFromArgs(f.env))} --policy ${shellPath(pref.run.path)} --episodes 5, then prefrl render --trajectories <that rollout's run folder> --episode 0 --out agent.mp4`;
    const result = {
      env: p.env,
      teacher: p.teacher,
      labelsUsed: p.labelsUsed,
      envSteps: p.envSteps,
      learned: { finalTrueReturn: p.finalTrueReturn, finalSuccess: p.finalSuccess, rewardAccuracy: p.rewardAccuracy, rewardCorrelation: p.rewardCorrelation, runDir: pref.run.path, wallSeconds: p.wallSeconds },
      trueReward: base ? { finalTrueReturn: base.summary.finalTrueReturn, finalSuccess: base.summary.finalSuccess, runDir: base.runDir, wallSeconds: base.summary.wallSeconds } : null,
      untrainedReturn: p.curve[0]?.[1] ?? null,
      ratio,
      viewer,
      watch,
      plot,
      tensorboard,
    };
    if (f.json) printJson(ctx.io, result);
    else {
      const rows = [['PPO + reward learned from preferences', p.finalTrueReturn.toFixed(1), p.finalSuccess.toFixed(2), String(p.labelsUsed), pref.run.path]];
      if (base) rows.push(['PPO + true reward', base.summary.finalTrueReturn.toFixed(1), base.summary.finalSuccess.toFixed(2), '-', base.runDir]);
      ctx.io.stdout.write(
        [
          '',
          `prefrl demo: ${p.env}, teacher "${p.teacher}", ${p.envSteps} env steps per run`,
          formatTable(['agent', 'final true return', 'success', 'labels', 'run folder'], rows),
          `untrained policy: ${fmt(p.curve[0]?.[1])}${ratio === null ? '' : `; learned-reward agent reached ${(100 * ratio).toFixed(0)}% of the true-reward agent's improvement over it`}`,
          `reward model: held-out accuracy ${fmt(p.rewardAccuracy)}, correlation with true segment returns ${fmt(p.rewardCorrelation)}`,
          `see the pairs the teacher compared: ${viewer}`,
          `watch the learned-reward agent: ${watch}`,
          `metrics: ${pref.run.path}/metrics.jsonl (eval/true_return, reward/val_accuracy, ...)`,
          `learning curves: ${plot} (writes curves.svg)`,
          `in TensorBoard: ${tensorboard}`,
          '',
        ].join('\n'),
      );
    }
    return 0;
  },
};

/**
 * What a stopped `prefrl demo` says: `inner`, the train run's own hint (how to resume it; null when
 * none had started), and what it leaves out. `prefRun`: the learned-reward run (demo 1/2) once it
 * finished; `baseline`: the command of the true-reward run (demo 2/2), null with --no-baseline.
 */
export function demoStopped(inner: Stopped | null, o: { prefRun: string | null; baseline: string | null }): Stopped {
  const again = 'prefrl demo again starts both runs anew';
  if (o.prefRun === null) {
    const first = inner ?? { line: 'stopped before demo 1 started its run; run the same command again', fields: {} };
    if (o.baseline === null) return first;
    return {
      line: `${first.line}; the true-reward baseline (demo 2/2) has not started: ${o.baseline}${inner ? ` (${again})` : ''}`,
      fields: { ...first.fields, baseline: o.baseline },
    };
  }
  const done = `the learned-reward run (demo 1/2) is finished: ${shellPath(o.prefRun)}`;
  if (inner === null) return { line: `stopped before the baseline (demo 2/2) started its run; ${done}; the baseline: ${o.baseline ?? ''}`, fields: { learnedRunDir: o.prefRun, baseline: o.baseline } };
  return { line: `${inner.line} (the baseline, demo 2/2); ${done}`, fields: { ...inner.fields, learnedRunDir: o.prefRun } };
}

/** (learned - untrained) / (true - untrained): the share of the true-reward agent's improvement. */
export function relative(learned: number, truth: number, untrained: number | undefined): number | null {
  if (untrained === undefined || !Number.isFinite(untrained) || !(truth - untrained > 1e-9)) return null;
  return (learned - untrained) / (truth - untrained);
}

function fmt(x: number | undefined): string {
  return x !== undefined && Number.isFinite(x) ? x.toFixed(3) : 'n/a';
}
