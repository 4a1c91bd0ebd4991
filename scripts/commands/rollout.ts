/**
 * `prefrl rollout`: run a policy in an env and save the trajectories in a run folder
 * (obs, actions, rewards, reward terms, qpos/qvel per step, episode boundaries), plus
 * per-episode metrics. `prefrl demo` (npm start) uses the same code on several envs.
 */
import { join } from 'node:path';
import { flags } from '../../core/config.js';
import { Progress } from '../../core/progress.js';
import { Rng } from '../../core/rng.js';
import { createRunDir, type RunDir } from '../../core/run.js';
import { type EnvConfig, envConfigFromArgs, makeEnv } from '../../envs/registry.js';
import { type Policy, randomPolicy, rollout } from '../../envs/rollout.js';
import { saveTrajectories, type Trajectory, trajectoryReturn } from '../../envs/trajectory.js';
import type { EnvSpec } from '../../envs/types.js';
import { type Command, type CommandContext, formatTable, parseOrHelp, printJson } from '../command.js';

export const POLICIES = ['random', 'zero'] as const;
export type PolicyName = (typeof POLICIES)[number];

function makePolicy(name: PolicyName, spec: EnvSpec, seed: number): Policy {
  if (name === 'zero') {
    const a = new Float64Array(spec.actDim);
    for (let i = 0; i < a.length; i++) a[i] = Math.min(spec.actHigh[i], Math.max(spec.actLow[i], 0));
    return () => a;
  }
  return randomPolicy(spec, new Rng(seed).fork('policy'));
}

export interface RolloutSummary {
  readonly env: string;
  readonly episodes: number;
  readonly steps: number;
  readonly meanReturn: number;
  readonly meanLength: number;
  /** Mean per-episode sum of each reward term. */
  readonly termMeans: Record<string, number>;
  /** Non-overlapping 50-step segments these trajectories hold. */
  readonly segments50: number;
  readonly unstableEpisodes: number;
  readonly stepsPerSec: number;
  readonly trajectories: string;
}

/** Collect episodes for one env into `run` (artifacts/trajectories/<env>/) and log metrics. */
export async function collectInto(
  run: RunDir,
  config: EnvConfig,
  opts: { episodes: number; policy: PolicyName; seed: number },
  ctx: CommandContext,
): Promise<RolloutSummary> {
  const env = await makeEnv(config, { logger: ctx.logger });
  try {
    const spec = env.spec;
    const progress = new Progress(`rollout ${spec.id}`, opts.episodes * spec.horizon, { unit: 'steps', clock: ctx.clock, sink: ctx.io.stderr, tty: ctx.io.tty });
    const t0 = ctx.clock.now();
    const trajs: Trajectory[] = rollout(env, makePolicy(opts.policy, spec, opts.seed), {
      episodes: opts.episodes,
      seed: opts.seed,
      onStep: () => progress.tick(),
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
    return {
      env: spec.id,
      episodes: trajs.length,
      steps,
      meanReturn: trajs.reduce((s, t) => s + trajectoryReturn(t), 0) / trajs.length,
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
    ['env', 'episodes', 'steps', 'mean return', 'segments(50)', 'steps/s'],
    rows.map((r) => [r.env, String(r.episodes), String(r.steps), r.meanReturn.toFixed(2), String(r.segments50), r.stepsPerSec.toFixed(0)]),
  );
}

const spec = {
  command: 'prefrl rollout',
  summary: 'Run a policy in an environment and save its trajectories (for segments, datasets and the viewer) in a run folder.',
  flags: {
    env: flags.string({ doc: 'env id (see prefrl envs) or path to an MJCF .xml file', default: 'reacher' }),
    task: flags.string({ doc: 'task module (.js/.mjs/.ts) for a bring-your-own model', optional: true }),
    episodes: flags.int({ doc: 'episodes to run', default: 5, min: 1 }),
    policy: flags.choice(POLICIES, { doc: 'policy', default: 'random' }),
    seed: flags.int({ doc: 'seed', default: 0 }),
    runsDir: flags.string({ doc: 'where run folders are created', default: 'runs' }),
    name: flags.string({ doc: 'run name (default: rollout-<env>)', optional: true }),
    json: flags.bool({ doc: 'print one JSON summary object as the last line', default: false }),
  },
};

export const rolloutCommand: Command = {
  name: 'rollout',
  summary: 'Run a policy in an env and save trajectories in a run folder',
  async run(argv, ctx) {
    const parsed = parseOrHelp(argv, spec, ctx.io);
    if (!parsed) return 0;
    const f = parsed.flags;
    const config = envConfigFromArgs(f.env, { task: f.task });
    const run = createRunDir({ root: f.runsDir, name: f.name ?? `rollout-${config.id === 'custom' ? 'custom' : config.id}`, config: { command: 'rollout', ...f, envConfig: config }, clock: ctx.clock });
    try {
      const summary = await collectInto(run, config, { episodes: f.episodes, policy: f.policy, seed: f.seed }, ctx);
      run.writeJson('summary.json', summary);
      if (f.json) printJson(ctx.io, { runDir: run.path, ...summary });
      else ctx.io.stdout.write(`${summaryTable([summary])}\nrun folder: ${run.path}\n`);
      return 0;
    } finally {
      run.close();
    }
  },
};
