/**
 * `prefrl rollout`: run a policy in an env and save the trajectories in a run folder
 * (obs, actions, rewards, reward terms, qpos/qvel per step, episode boundaries), plus
 * per-episode metrics. The policy is random, zero, or a trained one that prefrl saved (a PPO
 * checkpoint, an IQL or BC actor), which makes this the command that evaluates a trained agent
 * (mean return, its spread, final task success) and records its episodes for `prefrl render
 * --trajectories`. `prefrl tour` uses the same code on several envs.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadSavedPolicy, type SavedPolicy, savedPolicyEnv } from '../../agents/saved_policy.js';
import { flags } from '../../core/config.js';
import { UsageError } from '../../core/errors.js';
import { mean, std } from '../../core/math.js';
import { Progress } from '../../core/progress.js';
import { Rng } from '../../core/rng.js';
import { createRunDir, removeIfEmpty, type RunDir } from '../../core/run.js';
import { type EnvConfig, envConfigFromArgs, makeEnv, runNameEnv } from '../../envs/registry.js';
import { type Policy, randomPolicy, rolloutAsync } from '../../envs/rollout.js';
import { saveTrajectories, type Trajectory, trajectoryReturn } from '../../envs/trajectory.js';
import type { EnvSpec } from '../../envs/types.js';
import { type Command, type CommandContext, formatTable, letSignalsIn, onInterrupt, parseOrHelp, policyForEnv, printJson, shellPath } from '../command.js';
import { jsonFlag, quietFlag, runsDirFlag, seedFlag, taskFlag } from './common_flags.js';
import { commandSummary } from '../command_index.js';
import { flagsWithLike, likeFlag, withAbsolutePaths } from './like.js';

export const POLICIES = ['random', 'zero'] as const;
export type PolicyName = (typeof POLICIES)[number];

function makePolicy(name: PolicyName, spec: EnvSpec, seed: number): Policy {
  if (name === 'zero') {
    const a = new Float64Array(spec.actDim);
    for (let i = 0; i < a.length; i++) a[i] = Math.min(spec.actHigh[i], Math.max(spec.actLow[i], 0));
    // A fresh copy each call, as randomPolicy's: a caller that keeps an action keeps its own.
    return () => a.slice();
  }
  return randomPolicy(spec, new Rng(seed).fork('policy'));
}

export interface RolloutSummary {
  readonly env: string;
  /** random, zero, or what trained the saved policy (ppo, iql, bc). */
  readonly policy: string;
  /** The saved policy's file, when there is one. */
  readonly policyFile?: string;
  /** Whether actions were sampled (a stochastic saved PPO policy) rather than the mean action. */
  readonly stochastic?: boolean;
  readonly episodes: number;
  readonly steps: number;
  readonly meanReturn: number;
  /** Standard deviation of the episode returns (population). */
  readonly returnStd: number;
  readonly returns: number[];
  /** Mean task success at each episode's last step (null when the env has no success measure). */
  readonly meanSuccess: number | null;
  readonly meanLength: number;
  /** Mean per-episode sum of each reward term. */
  readonly termMeans: Record<string, number>;
  /** Non-overlapping 50-step segments these trajectories hold. */
  readonly segments50: number;
  readonly unstableEpisodes: number;
  readonly stepsPerSec: number;
  readonly trajectories: string;
}

/**
 * Collect episodes for one env into `run` (artifacts/trajectories/<env>/) and log metrics. The
 * event loop gets a turn after each episode (a Ctrl-C under onInterrupt stops there, before
 * anything of this env is saved); `onEpisode` hears how many episodes are done.
 */
export async function collectInto(
  run: RunDir,
  config: EnvConfig,
  opts: { episodes: number; policy: PolicyName | SavedPolicy; seed: number; quiet?: boolean; onEpisode?: (done: number) => void },
  ctx: CommandContext,
): Promise<RolloutSummary> {
  const env = await makeEnv(config, { logger: ctx.logger });
  try {
    const spec = env.spec;
    const progress = new Progress(`rollout ${spec.id}`, opts.episodes * spec.horizon, { unit: 'steps', clock: ctx.clock, sink: ctx.io.stderr, tty: ctx.io.tty, silent: opts.quiet ?? false });
    const t0 = ctx.clock.now();
    const policy = typeof opts.policy === 'string' ? makePolicy(opts.policy, spec, opts.seed) : opts.policy.policy;
    const trajs: Trajectory[] = await rolloutAsync(env, policy, {
      episodes: opts.episodes,
      seed: opts.seed,
      onStep: () => progress.tick(),
      afterEpisode: async (done) => {
        opts.onEpisode?.(done);
        await letSignalsIn();
      },
    });
    const seconds = (ctx.clock.now() - t0) / 1000;
    const steps = trajs.reduce((n, t) => n + t.length, 0);
    progress.update(steps);
    progress.finish(`${trajs.length} episodes`);
    const termMeans: Record<string, number> = {};
    spec.rewardTerms.forEach((term, k) => {
      let s = 0;
      for (const t of trajs) for (let i = 0; i < t.length; i++) s += t.terms[i * t.nTerms + k];
      termMeans[term.name] = s / trajs.length;
    });
    trajs.forEach((t, i) => {
      const m: Record<string, number> = {
        'charts/episode_return': trajectoryReturn(t),
        'charts/episode_length': t.length,
      };
      spec.rewardTerms.forEach((term, k) => {
        let s = 0;
        for (let j = 0; j < t.length; j++) s += t.terms[j * t.nTerms + k];
        m[`reward/term_${term.name}`] = s;
      });
      run.metrics.log(i, { ...m, 'charts/env': spec.id } as Record<string, number | string>);
    });
    const dir = run.artifact(join('trajectories', spec.id.replace(/[^A-Za-z0-9._-]/g, '_')));
    saveTrajectories(dir, trajs);
    const returns = trajs.map(trajectoryReturn);
    const finals = trajs.map((t) => (t.length > 0 ? t.success[t.length - 1] : Number.NaN));
    const saved = typeof opts.policy === 'string' ? null : opts.policy;
    return {
      env: spec.id,
      policy: saved ? saved.algo : (opts.policy as PolicyName),
      ...(saved ? { policyFile: saved.file, stochastic: saved.stochastic } : {}),
      episodes: trajs.length,
      steps,
      meanReturn: mean(returns),
      returnStd: std(returns),
      returns,
      meanSuccess: finals.every((x) => Number.isFinite(x)) ? mean(finals) : null,
      meanLength: steps / trajs.length,
      termMeans,
      segments50: trajs.reduce((n, t) => n + Math.floor(t.length / 50), 0),
      unstableEpisodes: trajs.filter((t) => t.unstable).length,
      stepsPerSec: steps / Math.max(seconds, 1e-9),
      trajectories: dir,
    };
  } finally {
    env.dispose();
  }
}

export function summaryTable(rows: readonly RolloutSummary[]): string {
  return formatTable(
    ['env', 'policy', 'episodes', 'steps', 'mean return', 'std', 'success', 'segments(50)', 'steps/s'],
    rows.map((r) => [
      r.env,
      r.policy,
      String(r.episodes),
      String(r.steps),
      r.meanReturn.toFixed(2),
      r.returnStd.toFixed(2),
      r.meanSuccess === null ? '-' : r.meanSuccess.toFixed(3),
      String(r.segments50),
      r.stepsPerSec.toFixed(0),
    ]),
  );
}

const spec = {
  command: 'prefrl rollout',
  summary: 'Run a policy (random, zero, or a trained one: PPO, IQL, BC) in an environment, report its returns and save its episodes (for segments, datasets and rendering) in a run folder.',
  flags: {
    env: flags.string({ doc: 'env id (see prefrl envs) or path to an MJCF .xml file', optional: true, defaultDoc: 'the env a saved --policy was trained on, else reacher' }),
    task: taskFlag(),
    episodes: flags.int({ doc: 'episodes to run', default: 5, min: 1 }),
    policy: flags.string({
      doc: 'random | zero | a trained policy: a PPO run folder, checkpoint folder or policy.json (prefrl train), or an offline actor: actor.json, a folder holding it, or an iql run folder (prefrl iql, prefrl offline)',
      default: 'random',
    }),
    stochastic: flags.bool({ doc: 'a saved PPO policy samples its actions instead of taking the mean action', default: false }),
    seed: seedFlag(),
    runsDir: runsDirFlag,
    name: flags.string({ doc: 'run name', optional: true, defaultDoc: 'rollout-<env>' }),
    like: likeFlag('rollout'),
    json: jsonFlag(),
    quiet: quietFlag(),
  },
  epilog: [
    'Examples:',
    '  prefrl rollout --env cheetah-run --episodes 3',
    '  prefrl rollout --policy runs/<stamp>-train-reacher --episodes 30      # evaluate a trained PPO agent in the env it learned',
    '  prefrl rollout --like runs/<stamp>-rollout-reacher --seed 1   # the same rollout, other episodes',
    '  prefrl rollout --policy runs/<stamp>-offline-pusher/artifacts/agents/iql-learned',
    '  prefrl render --trajectories runs/<stamp>-rollout-reacher --episode 0 --out ep0.mp4  # watch an episode',
  ].join('\n'),
};

/** --env, or the env a saved policy records (its model file must still exist), or reacher. */
function rolloutEnv(env: string | undefined, task: string | undefined, policyPath: string | null): EnvConfig {
  if (env !== undefined) return envConfigFromArgs(env, { task });
  if (task !== undefined) throw new UsageError('--task: needs --env <model.xml>');
  const saved = policyPath === null ? null : savedPolicyEnv(policyPath);
  if (saved === null) return { id: 'reacher' };
  if (saved.id === 'custom') {
    if (typeof saved.model !== 'string' || !existsSync(saved.model)) throw new UsageError(`--env: the policy was trained on a bring-your-own model (${saved.model ?? 'path not saved'}) that is not there; pass --env path/to/model.xml`);
    return { id: 'custom', model: saved.model, ...(typeof saved.task === 'string' ? { task: saved.task } : {}) };
  }
  return envConfigFromArgs(saved.id);
}

export const rolloutCommand: Command = {
  name: 'rollout',
  summary: commandSummary('rollout'),
  async run(argv, ctx) {
    const parsed = parseOrHelp(argv, spec, ctx.io);
    if (!parsed) return 0;
    const f = flagsWithLike(parsed, spec.flags, 'rollout', ctx);
    const named = (POLICIES as readonly string[]).includes(f.policy);
    const config = rolloutEnv(f.env, f.task, named ? null : f.policy);
    if (named && f.stochastic) throw new UsageError('--stochastic: only for a saved PPO policy (--policy <run folder or checkpoint>)');
    // A saved policy is loaded and checked against the env before the run folder exists.
    let policy: PolicyName | SavedPolicy = f.policy as PolicyName;
    if (!named) {
      const probe = await makeEnv(config, { logger: ctx.logger });
      try {
        policy = policyForEnv('--policy', () => loadSavedPolicy(f.policy, probe.spec, { stochastic: f.stochastic, seed: f.seed, flag: '--policy', logger: ctx.logger }));
      } finally {
        probe.dispose();
      }
      ctx.logger.info(`policy: ${policy.algo} from ${policy.file} (${policy.stochastic ? 'sampled actions' : 'mean action'})`);
    }
    const run = createRunDir({ root: f.runsDir, name: f.name ?? `rollout-${runNameEnv(config)}`, config: { command: 'rollout', ...withAbsolutePaths(f), envConfig: config }, clock: ctx.clock });
    let episodesRun = 0;
    // Ctrl-C: the episodes are saved together at the end, so none is kept; the run folder (only its config by then) goes.
    const stopHint = onInterrupt(
      ctx,
      () => {
        const removed = removeIfEmpty(run);
        const where = removed ? 'the run folder was removed' : `${run.path} is left unfinished`;
        return {
          line: `stopped after ${episodesRun} of ${f.episodes} episodes; no trajectories were saved (${where}); run the command again`,
          fields: { runDir: removed ? null : run.path, trajectories: null, episodesRun },
        };
      },
      { json: f.json },
    );
    try {
      const summary = await collectInto(run, config, { episodes: f.episodes, policy, seed: f.seed, quiet: f.quiet, onEpisode: (n) => void (episodesRun = n) }, ctx);
      run.writeJson('summary.json', summary);
      if (f.json) printJson(ctx.io, { runDir: run.path, ...summary });
      else ctx.io.stdout.write(`${summaryTable([summary])}\nrun folder: ${run.path}\nwatch an episode: prefrl render --trajectories ${shellPath(run.path)} --episode 0 --out episode0.mp4\n`);
      return 0;
    } catch (e) {
      // Failed before any episode was saved: leave no empty "unfinished" run folder behind.
      removeIfEmpty(run);
      throw e;
    } finally {
      stopHint();
      run.close();
    }
  },
};
