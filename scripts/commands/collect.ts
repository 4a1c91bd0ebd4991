/**
 * `prefrl collect`: offline datasets in the D4RL layout (HDF5, agents/dataset.ts), with the
 * simulator state of every step so any transition can be replayed and rendered.
 *
 * Policies, named after D4RL's datasets:
 *   random         uniform actions in the action box;
 *   medium, expert a PPO policy from --checkpoint (a `prefrl train --reward true` run folder, its
 *                  artifacts/checkpoint folder, or a policy.json), acting *stochastically*: D4RL's
 *                  medium and expert datasets were recorded by sampling from trained stochastic
 *                  policies (SAC), not with their mean actions, which gives the action spread
 *                  offline RL needs. The two names differ only in which checkpoint you pass;
 *   medium-replay  the rollout history of PPO trained on the true reward for --steps env steps
 *                  (or until the mean return of an iteration's finished episodes reaches
 *                  --target-return): every finished episode PPO collected, in order. D4RL's
 *                  medium-replay is the replay buffer of an agent trained up to medium
 *                  performance. The final PPO policy is saved in the run folder (usable as a
 *                  --checkpoint for `medium`).
 * Episodes use the env's seeds episodeSeed(seed, k) (random, medium, expert) or PPO's vectorised
 * envs (medium-replay). With --steps N the random/medium/expert dataset holds exactly N
 * transitions; its last episode may be cut (no terminal or timeout flag, as in D4RL).
 */
import { rmSync } from 'node:fs';
import { datasetFromTrajectories, type DatasetSummary, summarizeDataset, writeDataset } from '../../agents/dataset.js';
import { PpoPolicy, PpoTrainer } from '../../agents/ppo.js';
import { loadPpoPolicy } from '../../agents/saved_policy.js';
import { flags } from '../../core/config.js';
import { UsageError } from '../../core/errors.js';
import { checkOutFile, shellQuote } from '../../core/paths.js';
import { Progress } from '../../core/progress.js';
import { Rng } from '../../core/rng.js';
import { createRunDir, removeIfEmpty } from '../../core/run.js';
import { envConfigFromArgs, makeEnv, runNameEnv } from '../../envs/registry.js';
import { episodeSeed, type Policy, randomPolicy } from '../../envs/rollout.js';
import { type Trajectory, TrajectoryBuilder, trajectoryReturn } from '../../envs/trajectory.js';
import type { Env } from '../../envs/types.js';
import { type Command, flagsGiven, formatTable, letSignalsIn, onInterrupt, parseOrHelp, policyForEnv, printJson, warnIgnoredFlags } from '../command.js';
import { jsonFlag, quietFlag, runsDirFlag, seedFlag, taskFlag } from './common_flags.js';
import { commandSummary } from '../command_index.js';
import { flagsWithLike, likeFlag, withAbsolutePaths } from './like.js';

export const DATASET_POLICIES = ['random', 'medium', 'medium-replay', 'expert'] as const;
export type DatasetPolicy = (typeof DATASET_POLICIES)[number];

const spec = {
  command: 'prefrl collect',
  summary: 'Collect an offline dataset (D4RL layout, HDF5) with a random, medium, expert or medium-replay policy, with the simulator state of every step.',
  flags: {
    env: flags.string({ doc: 'env id (see prefrl envs) or path to an MJCF .xml file', default: 'reacher' }),
    task: taskFlag(),
    policy: flags.choice(DATASET_POLICIES, { doc: 'which behaviour policy records the data; required, except when --like gives it', optional: true }),
    steps: flags.int({ doc: 'transitions to record (medium-replay: PPO env steps, in whole PPO iterations; the dataset keeps the episodes PPO finished, not those still running at the end)', default: 100_000, min: 1 }),
    checkpoint: flags.string({ doc: 'PPO run folder, checkpoint folder or policy.json (medium, expert)', optional: true }),
    targetReturn: flags.float({ doc: 'medium-replay: stop PPO once an iteration\'s mean episode return reaches this', optional: true }),
    numEnvs: flags.int({ doc: 'medium-replay: parallel PPO envs', default: 4, min: 1 }),
    workers: flags.int({ doc: 'medium-replay: env worker threads (0: main thread)', default: 2, min: 0 }),
    inlineEnvs: flags.bool({ doc: 'medium-replay: the main thread steps a block of envs too, alongside the workers', default: false }),
    out: flags.string({ doc: 'write the dataset here instead of <run>/artifacts/dataset.h5 (its folder must exist; an existing file is kept unless --force)', optional: true }),
    force: flags.bool({ doc: 'with --out: replace an existing file', default: false }),
    seed: seedFlag('episode seeds, action noise, PPO'),
    runsDir: runsDirFlag,
    name: flags.string({ doc: 'run name', optional: true, defaultDoc: 'collect-<env>-<policy>' }),
    like: likeFlag('collect', '; --out and --force are never taken from them (the new run writes its own dataset unless --out is given again)'),
    json: jsonFlag(),
    quiet: quietFlag(),
  },
  epilog: [
    'Examples:',
    '  prefrl collect --env reacher --policy random --steps 100000',
    '  prefrl train --env reacher --reward true --steps 300000 --name expert',
    '  prefrl collect --env reacher --policy expert --checkpoint runs/<stamp>-expert --steps 100000',
    '  prefrl collect --env reacher --policy medium-replay --steps 100000 --target-return -60',
    '  prefrl collect --like runs/<stamp>-collect-reacher-medium-replay --seed 1   # the same settings, another seed',
  ].join('\n'),
};

/** Record exactly `steps` transitions with a policy, episode after episode (letting signals in between episodes). */
export async function collectSteps(env: Env, policy: Policy, steps: number, seed: number, onStep?: () => void): Promise<Trajectory[]> {
  const out: Trajectory[] = [];
  let total = 0;
  for (let k = 0; total < steps; k++) {
    await letSignalsIn();
    let obs = env.reset(episodeSeed(seed, k));
    const b = new TrajectoryBuilder(env.spec, Math.min(env.spec.horizon, steps - total));
    b.start(obs, env.getState());
    while (total < steps) {
      const action = policy(obs);
      const r = env.step(action);
      b.add(action, r, env.getState());
      obs = r.obs;
      total++;
      onStep?.();
      if (r.terminated || r.truncated) break;
    }
    out.push(b.finish());
  }
  return out;
}

export interface CollectSummary extends DatasetSummary {
  readonly env: string;
  readonly policy: DatasetPolicy;
  readonly dataset: string;
  readonly seconds: number;
  /** medium-replay: PPO env steps and the mean return of its last iteration's episodes. */
  readonly ppoSteps?: number;
  readonly ppoFinalReturn?: number;
}

export const collectCommand: Command = {
  name: 'collect',
  summary: commandSummary('collect'),
  async run(argv, ctx) {
    const parsed = parseOrHelp(argv, spec, ctx.io);
    if (!parsed) return 0;
    const withLike = flagsWithLike(parsed, spec.flags, 'collect', ctx, { own: ['out', 'force'], required: ['policy'] });
    const f = { ...withLike, policy: withLike.policy as DatasetPolicy };
    const envConfig = envConfigFromArgs(f.env, { task: f.task });
    if ((f.policy === 'medium' || f.policy === 'expert') && !f.checkpoint) throw new UsageError(`prefrl collect: --policy ${f.policy} needs --checkpoint <PPO run folder>`);
    if (f.policy !== 'medium' && f.policy !== 'expert' && f.checkpoint) throw new UsageError(`prefrl collect: --checkpoint is only for --policy medium|expert`);
    if (f.policy !== 'medium-replay' && f.targetReturn !== undefined) throw new UsageError('prefrl collect: --target-return is only for --policy medium-replay');
    if (f.force && f.out === undefined) throw new UsageError('prefrl collect: --force is only for --out');
    if (f.out !== undefined) checkOutFile(f.out, { example: 'data.h5', force: f.force });
    const probe = await makeEnv(envConfig, { logger: ctx.logger });
    const envSpec = probe.spec;
    probe.dispose();
    // Check the checkpoint before creating a run folder.
    const ppoPolicy = f.checkpoint ? policyForEnv('--checkpoint', () => loadPpoPolicy(f.checkpoint as string, envSpec, '--checkpoint', ctx.logger)) : null;
    if (f.policy !== 'medium-replay') warnIgnoredFlags(ctx, flagsGiven(parsed.given, ['numEnvs', 'workers', 'inlineEnvs']), `they set up the PPO run of --policy medium-replay; --policy ${f.policy} acts in one env`);
    const run = createRunDir({
      root: f.runsDir,
      name: f.name ?? `collect-${runNameEnv(envConfig)}-${f.policy}`,
      config: { command: 'collect', ...withAbsolutePaths(f), envConfig, partOf: ctx.partOf },
      clock: ctx.clock,
    });
    const progress = new Progress(`collect ${envSpec.id} ${f.policy}`, f.steps, { unit: 'steps', clock: ctx.clock, sink: ctx.io.stderr, tty: ctx.io.tty, silent: f.quiet });
    const t0 = ctx.clock.now();
    // Ctrl-C: the dataset is written at the end only; a run folder with nothing in it yet goes.
    const stopHint = onInterrupt(
      ctx,
      () => {
        const removed = removeIfEmpty(run);
        return { line: `stopped; no dataset was written${removed ? '' : ` (${run.path} holds the metrics so far)`}`, fields: { runDir: removed ? null : run.path, dataset: null } };
      },
      { json: f.json },
    );
    try {
      let trajs: Trajectory[];
      let ppoSteps: number | undefined;
      let ppoFinalReturn: number | undefined;
      if (f.policy === 'medium-replay') {
        trajs = [];
        const trainer = await PpoTrainer.create({
          env: envConfig,
          config: { totalSteps: f.steps, numEnvs: f.numEnvs, workers: f.workers, inlineEnvs: f.inlineEnvs, seed: f.seed },
          onEpisode: (t) => trajs.push(t),
        });
        try {
          while (trainer.globalStep < f.steps) {
            // With --workers 0 an iteration awaits only settled promises: a Ctrl-C would wait for the end.
            await letSignalsIn();
            const it = await trainer.iterate();
            const ret = it.metrics['charts/episodic_return'];
            if (typeof ret === 'number') {
              ppoFinalReturn = ret;
              run.metrics.log(it.globalStep, { 'charts/episodic_return': ret, 'charts/episodes': it.episodes.length });
            }
            progress.update(Math.min(trainer.globalStep, f.steps), typeof ret === 'number' ? `return ${ret.toFixed(1)}` : undefined);
            if (f.targetReturn !== undefined && typeof ret === 'number' && ret >= f.targetReturn) {
              ctx.logger.info(`PPO reached the target return (${ret.toFixed(2)} >= ${f.targetReturn}) after ${trainer.globalStep} steps`);
              break;
            }
          }
          ppoSteps = trainer.globalStep;
          trainer.save(run.artifact('checkpoint'), envConfig);
        } finally {
          await trainer.close();
        }
      } else {
        const env = await makeEnv(envConfig, { logger: ctx.logger });
        try {
          const rng = new Rng(f.seed).fork('policy');
          const policy = f.policy === 'random' ? randomPolicy(envSpec, rng) : (ppoPolicy as PpoPolicy).stochastic(rng);
          trajs = await collectSteps(env, policy, f.steps, f.seed, () => progress.tick());
        } finally {
          env.dispose();
        }
      }
      progress.finish(`${trajs.length} episodes`);
      if (trajs.length === 0 && f.policy === 'medium-replay') {
        // The dataset keeps the episodes PPO finished: none did within --steps. Nothing of the run
        // is of use (a PPO checkpoint of a few thousand steps): its folder goes, as a usage error's.
        run.close();
        rmSync(run.path, { recursive: true, force: true });
        throw new UsageError(
          `prefrl collect: --steps ${f.steps}: no episode ended within the ${ppoSteps} env steps PPO ran over ${f.numEnvs} envs (each about ${Math.ceil((ppoSteps ?? f.steps) / f.numEnvs)} steps; ${envSpec.id}'s episodes last up to ${envSpec.horizon}); the dataset keeps finished episodes only: raise --steps (or lower --num-envs)`,
        );
      }
      trajs.forEach((t, i) => run.metrics.log(i, { 'charts/episode_return': trajectoryReturn(t), 'charts/episode_length': t.length }));
      const ds = datasetFromTrajectories(
        trajs,
        {
          envConfig,
          horizon: envSpec.horizon,
          dt: envSpec.dt,
          rewardTerms: envSpec.rewardTerms.map((t) => ({ name: t.name, weight: t.weight })),
          policy: f.policy,
          seed: f.seed,
          extra: {
            command: `prefrl collect ${argv.join(' ')}`.trim(),
            ...(f.checkpoint ? { checkpoint: f.checkpoint, actions: 'sampled from the stochastic PPO policy' } : {}),
            ...(ppoSteps !== undefined ? { ppoSteps, targetReturn: f.targetReturn ?? null } : {}),
          },
        },
        'collect',
      );
      const file = await writeDataset(f.out ?? run.artifact('dataset.h5'), ds);
      const summary: CollectSummary = {
        env: envSpec.id,
        policy: f.policy,
        dataset: file,
        ...summarizeDataset(ds),
        seconds: (ctx.clock.now() - t0) / 1000,
        ...(ppoSteps !== undefined ? { ppoSteps, ...(ppoFinalReturn !== undefined ? { ppoFinalReturn } : {}) } : {}),
      };
      run.writeJson('summary.json', { ...summary, runDir: run.path });
      if (f.json) printJson(ctx.io, { ...summary, runDir: run.path });
      else {
        ctx.io.stdout.write(
          `${formatTable(
            ['env', 'policy', 'transitions', 'episodes', 'mean return', 'min', 'max'],
            [[summary.env, summary.policy, String(summary.transitions), `${summary.episodes} (${summary.completeEpisodes} complete)`, summary.meanReturn.toFixed(2), summary.minReturn.toFixed(2), summary.maxReturn.toFixed(2)]],
          )}\ndataset: ${file}\nrun folder: ${run.path}\n` +
            `use it: prefrl iql --dataset ${shellQuote(file)}   (or prefrl offline --dataset ${shellQuote(file)} --teacher synthetic-vlm, preferences on its segments)\n`,
        );
      }
      return 0;
    } catch (e) {
      // Failed before anything was saved: leave no empty "unfinished" run folder behind.
      removeIfEmpty(run);
      throw e;
    } finally {
      stopHint();
      run.close();
    }
  },
};
