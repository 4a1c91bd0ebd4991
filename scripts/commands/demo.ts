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
import { type Command, formatTable, parseOrHelp, printJson, shellPath } from '../command.js';
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
    // Each stage is announced once train's checks have passed: a refused --env or --teacher prints its one-line error alone.
    const pref = await train(parseFlags(prefArgs, trainSpec).flags, ctx, undefined, [], () =>
      ctx.logger.info(`demo 1/${f.baseline ? 2 : 1}: PPO on a reward learned from ${f.labels} "${f.teacher}" comparisons of ${f.env} segments (${f.steps} env steps)`),
    );
    let base: { summary: LoopSummary; runDir: string } | null = null;
    if (f.baseline) {
      const b = await train(parseFlags([...common, '--reward', 'true'], trainSpec).flags, ctx, undefined, [], () => ctx.logger.info(`demo 2/2: PPO on the true reward of ${f.env}, same settings and env steps`));
      base = { summary: b.summary, runDir: b.run.path };
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

/** (learned - untrained) / (true - untrained): the share of the true-reward agent's improvement. */
export function relative(learned: number, truth: number, untrained: number | undefined): number | null {
  if (untrained === undefined || !Number.isFinite(untrained) || !(truth - untrained > 1e-9)) return null;
  return (learned - untrained) / (truth - untrained);
}

function fmt(x: number | undefined): string {
  return x !== undefined && Number.isFinite(x) ? x.toFixed(3) : 'n/a';
}
