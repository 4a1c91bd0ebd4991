/**
 * `prefrl iql`: offline RL from a dataset (agents/dataset.ts) with IQL (agents/iql.ts) or the
 * behaviour-cloning baseline (agents/bc.ts), evaluated by deterministic episodes in the
 * simulator.
 *
 * Rewards (--reward):
 *   true         the dataset's rewards (the env's true reward);
 *   success      every transition's reward is the dataset's task-success measure after the step
 *                (infos/success): the criterion the synthetic-vlm teacher judges by, given to
 *                IQL directly, an upper bound for rewards learned from that teacher's labels;
 *   model:<dir>  every transition relabelled with the ensemble mean of a reward model folder
 *                (reward/network.ts), or of the one a run folder holds in artifacts/reward_model
 *                (the run of prefrl reward or train: resolved as prefrl train does). A model trained with
 *                the regret preference model outputs an estimate of the optimal advantage
 *                A*(s, a), not a reward; it is used as the reward all the same ("mistaking it
 *                for reward"), which is sound when the estimate is good: with r = A* every
 *                return is <= 0 and exactly the policies that keep A* = 0 (the optimal ones)
 *                reach 0, so the optimal policy for the relabelled data is the optimal policy of
 *                the task. A warning says so, and the run records it (reward/kind).
 * The correlation of relabelled and true rewards (per transition and per episode return) is
 * logged when a model is used. The run folder holds config.json, metrics.jsonl (losses/*,
 * eval/true_return, eval/normalized_score with --ref-random/--ref-expert), summary.json and the
 * final actor (artifacts/actor/actor.json, plain JSON weights).
 */
import { existsSync } from 'node:fs';
import { checkEnv, datasetEnvConfig, readDataset, summarizeDataset } from '../../agents/dataset.js';
import { IQL_DEFAULTS, type ReferenceReturns } from '../../agents/iql.js';
import { offlineRewardScale, resolveOfflineConfig, trainOfflineAgent } from '../../agents/offline_train.js';
import { describeBackend, initBackend } from '../../core/backend.js';
import { flags, positiveInts } from '../../core/config.js';
import { UsageError } from '../../core/errors.js';
import { shellQuote } from '../../core/paths.js';
import { Progress } from '../../core/progress.js';
import { createRunDir } from '../../core/run.js';
import { type EnvConfig, envConfigArgs, envConfigFromArgs, makeEnv } from '../../envs/registry.js';
import { customEnvMismatch } from '../../agents/saved_policy.js';
import { envFit, RewardNet } from '../../reward/network.js';
import { relabelDataset, relabelMismatch, successRewards } from '../../reward/relabel.js';
import { checkDatasetNotFolder, type Command, flagsGiven, onInterrupt, parseOrHelp, printJson, warnIgnoredFlags } from '../command.js';
import { rewardSource } from './train.js';
import { backendFlag, jsonFlag, quietFlag, runsDirFlag, seedFlag, taskFlag } from './common_flags.js';
import { commandSummary } from '../command_index.js';
import { flagsWithLike, likeFlag, likeSource, withAbsolutePaths } from './like.js';

const spec = {
  command: 'prefrl iql',
  summary: 'Offline RL on a dataset: IQL (CORL-faithful) or behaviour cloning, with the true reward or a learned reward model; evaluated in the simulator.',
  flags: {
    dataset: flags.string({ doc: 'HDF5 dataset (prefrl collect, or a D4RL/Minari file with --env); required, except when --like gives it', optional: true }),
    reward: flags.string({
      doc: "true (the dataset's rewards), success (its task-success measure, infos/success) or model:<dir> (a reward model folder, or a run folder holding one in artifacts/reward_model: prefrl reward, train or offline runs)",
      default: 'true',
    }),
    algo: flags.choice(['iql', 'bc'] as const, { doc: 'algorithm', default: 'iql' }),
    env: flags.string({ doc: 'env to evaluate in', optional: true, defaultDoc: 'the env recorded in the dataset' }),
    task: taskFlag(),
    updates: flags.int({ doc: 'gradient updates (CORL: 1,000,000)', default: IQL_DEFAULTS.updates, min: 1 }),
    batchSize: flags.int({ doc: 'transitions per batch', default: IQL_DEFAULTS.batchSize, min: 1 }),
    evalEvery: flags.int({ doc: 'updates between evaluations (the last update is always evaluated)', default: 5000, min: 1 }),
    evalEpisodes: flags.int({ doc: 'deterministic evaluation episodes', default: 10, min: 1 }),
    logEvery: flags.int({ doc: 'updates between loss logs', default: 1000, min: 1 }),
    beta: flags.float({ doc: 'IQL inverse temperature', default: IQL_DEFAULTS.beta, min: 0 }),
    expectile: flags.float({ doc: 'IQL expectile tau, above 0 and below 1 (CORL: 0.7 for locomotion, 0.9 for AntMaze)', default: IQL_DEFAULTS.expectile, min: 0, max: 1 }),
    targetRate: flags.float({ doc: 'IQL Polyak rate of the target Q networks, above 0 and at most 1', default: IQL_DEFAULTS.targetRate, min: 0, max: 1 }),
    actor: flags.choice(['gaussian', 'deterministic'] as const, { doc: 'IQL actor', default: IQL_DEFAULTS.actor }),
    rewardScaling: flags.choice(['locomotion', 'none'] as const, { doc: 'IQL reward scaling: horizon / (max - min episode return), or none', default: IQL_DEFAULTS.rewardScaling }),
    bcLoss: flags.choice(['mse', 'nll'] as const, { doc: 'BC loss (deterministic actor / Gaussian actor)', default: 'mse' }),
    hidden: flags.list({ doc: 'hidden layer widths', default: IQL_DEFAULTS.hidden.map(String) }),
    refRandom: flags.float({ doc: 'reference return of a random policy, for the normalised score (give --ref-expert too)', optional: true }),
    refExpert: flags.float({ doc: 'reference return of an expert policy, for the normalised score (give --ref-random too)', optional: true }),
    seed: seedFlag('weights, batches, evaluation episodes'),
    backend: backendFlag(),
    runsDir: runsDirFlag,
    name: flags.string({ doc: 'run name', optional: true, defaultDoc: '<algo>-<env>-<reward>-s<seed>' }),
    like: likeFlag('iql'),
    json: jsonFlag(),
    quiet: quietFlag(),
  },
  epilog: [
    'Examples:',
    '  prefrl iql --dataset runs/<stamp>-collect-reacher-medium-replay/artifacts/dataset.h5 --updates 50000',
    '  prefrl iql --dataset data.h5 --algo bc --updates 50000',
    '  prefrl iql --dataset data.h5 --reward success --updates 20000   # the task-success measure as the reward',
    '  prefrl iql --dataset data.h5 --reward model:runs/<stamp>-reward-reacher   # a run folder: its artifacts/reward_model',
    '  prefrl iql --like runs/<stamp>-iql-reacher-true-s0 --seed 1   # the same settings, another seed',
  ].join('\n'),
};

export const iqlCommand: Command = {
  name: 'iql',
  summary: commandSummary('iql'),
  async run(argv, ctx) {
    const parsed = parseOrHelp(argv, spec, ctx.io);
    if (!parsed) return 0;
    const withLike = flagsWithLike(parsed, spec.flags, 'iql', ctx, { required: ['dataset'] });
    const f = { ...withLike, dataset: withLike.dataset as string };
    const hidden = positiveInts(f.hidden, '--hidden');
    let modelDir: string | null = null;
    if (f.reward.startsWith('model:') && f.reward.length > 'model:'.length) {
      // The same resolution as prefrl train: a reward model folder, or a run folder holding one
      // in artifacts/reward_model (what prefrl reward, train and offline write).
      const source = rewardSource(f.reward);
      if (source.kind === 'model') modelDir = source.dir;
    } else if (f.reward !== 'true' && f.reward !== 'success') throw new UsageError(`--reward: expected true, success or model:<dir>, got ${JSON.stringify(f.reward)}`);
    // BC learns the dataset's actions: a reward given to it would only rename the run.
    if (f.algo === 'bc' && f.reward !== 'true') throw new UsageError(`--reward ${f.reward}: behaviour cloning (--algo bc) uses no reward; drop --reward, or use --algo iql`);
    // (Without --env the dataset's env is evaluated in, task and all: a --task alone was dropped unread.)
    if (f.task !== undefined && f.env === undefined) throw new UsageError('--task: needs --env <model.xml> (or --model): without it the env the dataset was recorded in is used, with its own task');
    if ((f.refRandom === undefined) !== (f.refExpert === undefined)) throw new UsageError('--ref-random and --ref-expert go together');
    if (f.refRandom !== undefined && f.refRandom === f.refExpert) {
      throw new UsageError(`--ref-random and --ref-expert: both are ${f.refRandom}; the normalised score divides by their difference, so give two different returns`);
    }
    // The flag parser's ranges are closed: the ends that leave IQL nothing to learn are refused here, before any work.
    if (!(f.expectile > 0 && f.expectile < 1)) throw new UsageError(`--expectile: must be above 0 and below 1 (0 and 1 weigh one side of the value loss by 0), got ${f.expectile}`);
    if (!(f.targetRate > 0)) throw new UsageError(`--target-rate: must be above 0 (0 never moves the target Q networks), got ${f.targetRate}`);
    if (!existsSync(f.dataset)) throw new UsageError(`--dataset: ${JSON.stringify(f.dataset)} not found${likeSource(f, parsed.given, 'dataset')}`);
    checkDatasetNotFolder(f.dataset);

    // Only --reward success reads an infos array (infos/success); the rest of the infos (simulator
    // state, time, reward terms: about half of a prefrl dataset's bytes) is checked, not read.
    const ds = await readDataset(f.dataset, { transitionsOnly: f.reward !== 'success' });
    for (const note of ds.notes) ctx.logger.warn(`${f.dataset}: ${note}`);
    let envConfig: EnvConfig;
    const recorded = f.env ? null : datasetEnvConfig(ds.meta, f.dataset);
    if (f.env) envConfig = envConfigFromArgs(f.env, { task: f.task });
    else if (recorded) envConfig = recorded;
    else throw new UsageError(`prefrl iql: ${f.dataset} does not say which env it comes from; pass --env`);
    const env = await makeEnv(envConfig, { logger: ctx.logger });
    if (f.env && ds.meta.envConfig) {
      // A bring-your-own env given anew: its model file or task module may not be the dataset's.
      const other = customEnvMismatch(ds.meta.envConfig, env.spec, 'the dataset', 'was recorded with');
      if (other !== null) ctx.logger.warn(`--dataset ${f.dataset}: ${other}: if they differ, the evaluation's rewards are not the dataset's (evaluated anyway: files get moved and renamed)`);
    }
    try {
      checkEnv(ds, env.spec);
      if (env.spec.actDim === 0) throw new UsageError(`--dataset: ${env.spec.id} has no actuators, so ${f.algo.toUpperCase()} has no action to learn; add an <actuator> to the model`);
      // (After the checks that refuse the run.) Batches are drawn with replacement, so a batch larger than the dataset is legal, but it
      // repeats transitions in every batch and costs its full size per update: most likely a typo.
      if (f.batchSize > ds.size) ctx.logger.warn(`--batch-size ${f.batchSize} is more than the ${ds.size} transitions of ${f.dataset}: each batch repeats transitions (drawn with replacement) and every update costs ${f.batchSize} rows`);
      // The tensor backend starts once the dataset and the env have passed their checks, so a bad
      // file is reported at once.
      const backend = await initBackend(f.backend);
      ctx.logger.info(describeBackend(backend));
      const dsSummary = summarizeDataset(ds);
      const refReturns: ReferenceReturns | undefined = f.refRandom !== undefined && f.refExpert !== undefined ? { random: f.refRandom, expert: f.refExpert } : undefined;

      // Rewards: the dataset's, its success measure, or a reward model's ensemble mean.
      let rewardKind = 'true';
      let rewards = ds.rewards;
      const rewardStats: Record<string, number> = {};
      let agreement: { transitionCorrelation: number; returnCorrelation: number } | null = null;
      if (f.reward === 'success') {
        const sr = successRewards(ds, f.dataset);
        rewardKind = 'success';
        rewards = sr.rewards;
        agreement = sr;
      } else if (modelDir) {
        const net = RewardNet.load(modelDir);
        try {
          const problem = relabelMismatch(net, ds);
          if (problem) throw new UsageError(`--reward: ${problem}`);
          const other = envFit(net, ds.meta.envId, ds.meta.modelHash, 'the dataset was recorded on').warning;
          if (other) ctx.logger.warn(`--reward: ${other}`);
          const rel = relabelDataset(ds, net);
          rewardKind = rel.kind;
          if (rewardKind === 'advantage') {
            ctx.logger.warn('the reward model was trained with the regret preference model: its output estimates the optimal advantage A*(s, a); IQL uses it as the reward (the optimal policy for r = A* is the optimal policy of the task)');
          }
          rewards = rel.rewards;
          agreement = rel;
        } finally {
          net.dispose();
        }
      }
      if (agreement) {
        rewardStats['reward/transition_correlation'] = agreement.transitionCorrelation;
        rewardStats['reward/return_correlation'] = agreement.returnCorrelation;
      }
      const agentOptions = {
        algo: f.algo,
        updates: f.updates,
        batchSize: f.batchSize,
        hidden,
        seed: f.seed,
        iql: { beta: f.beta, expectile: f.expectile, targetRate: f.targetRate, actor: f.actor, rewardScaling: f.rewardScaling },
        bcLoss: f.bcLoss,
      };
      const resolved = resolveOfflineConfig(agentOptions);
      const scale = offlineRewardScale(resolved, ds, rewards);
      const rewardTag = modelDir ? 'model' : f.reward;
      if (f.algo === 'bc') warnIgnoredFlags(ctx, flagsGiven(parsed.given, ['beta', 'expectile', 'targetRate', 'actor', 'rewardScaling']), 'they set up IQL; behaviour cloning (--algo bc) has --bc-loss only');
      else warnIgnoredFlags(ctx, flagsGiven(parsed.given, ['bcLoss']), 'only for behaviour cloning (--algo bc)');
      const run = createRunDir({
        root: f.runsDir,
        name: f.name ?? `${f.algo}-${env.spec.id.replace(/^custom:/, '')}-${rewardTag}-s${f.seed}`,
        config: {
          command: 'iql',
          ...withAbsolutePaths(f),
          envConfig,
          resolved,
          derived: { rewardScale: scale, rewardKind },
        },
        tensorBackend: backend.kind,
        clock: ctx.clock,
      });
      const progress = new Progress(`${f.algo} ${env.spec.id}`, f.updates, { unit: 'updates', clock: ctx.clock, sink: ctx.io.stderr, tty: ctx.io.tty, silent: f.quiet });
      // Ctrl-C: the actor is saved at the end only, so a stopped run keeps its metrics and no actor.
      const stopHint = onInterrupt(ctx, () => ({ line: `stopped; no actor was saved (${run.path} holds the metrics so far); run the command again to train one`, fields: { runDir: run.path, actor: null } }), { json: f.json });
      try {
        ctx.logger.info(
          `${f.algo.toUpperCase()} on ${f.dataset}: ${ds.size} transitions, ${dsSummary.episodes} episodes (mean return ${dsSummary.meanReturn.toFixed(2)}), reward ${modelDir ? `from the model in ${modelDir} (${rewardKind === 'advantage' ? 'regret model: advantage' : 'partial-return reward'})` : rewardKind}` +
            `${f.algo === 'iql' ? `, scale ${scale.toPrecision(4)}` : ''}, ${f.updates} updates -> ${run.path}`,
        );
        run.metrics.log(0, {
          'dataset/transitions': ds.size,
          'dataset/episodes': dsSummary.episodes,
          'dataset/mean_return': dsSummary.meanReturn,
          'dataset/min_return': dsSummary.minReturn,
          'dataset/max_return': dsSummary.maxReturn,
          'reward/scale': scale,
          'reward/kind': rewardKind,
          ...rewardStats,
        });
        let lastReturn = Number.NaN;
        const { actor, training: result, rewardScale } = await trainOfflineAgent({
          ...agentOptions,
          ds,
          rewards,
          actLow: env.spec.actLow,
          actHigh: env.spec.actHigh,
          evalEnv: env,
          evalEvery: f.evalEvery,
          evalEpisodes: f.evalEpisodes,
          refReturns,
          logEvery: f.logEvery,
          clock: ctx.clock,
          onMetrics: (k, m) => {
            run.metrics.log(k, m);
            if (typeof m['eval/true_return'] === 'number') lastReturn = m['eval/true_return'];
          },
          onUpdate: (k) => progress.update(k, Number.isNaN(lastReturn) ? undefined : `return ${lastReturn.toFixed(1)}`),
          actorMeta: { dataset: f.dataset, reward: f.reward, updates: f.updates, env: envConfig },
        });
        progress.finish();
        const final = result.final!;
        const actorFile = actor.save(run.artifact('actor'));
        const summary = {
          algo: f.algo,
          env: env.spec.id,
          dataset: f.dataset,
          reward: f.reward,
          rewardKind,
          updates: f.updates,
          finalTrueReturn: final.meanReturn,
          finalTrueReturns: final.returns,
          finalSuccess: final.meanSuccess,
          finalNormalizedScore: final.score,
          bestTrueReturn: Math.max(...result.evals.map((e) => e.meanReturn)),
          evals: result.evals.map((e) => [e.update, e.meanReturn]),
          datasetMeanReturn: dsSummary.meanReturn,
          datasetMinReturn: dsSummary.minReturn,
          datasetMaxReturn: dsSummary.maxReturn,
          rewardScale,
          rewardTransitionCorrelation: rewardStats['reward/transition_correlation'] ?? null,
          rewardReturnCorrelation: rewardStats['reward/return_correlation'] ?? null,
          updatesPerSec: result.updatesPerSec,
          wallSeconds: result.seconds,
          actor: actorFile,
          runDir: run.path,
        };
        run.writeJson('summary.json', summary);
        if (f.json) printJson(ctx.io, summary);
        else {
          ctx.io.stdout.write(
            [
              `final true return ${final.meanReturn.toFixed(2)} (mean of ${final.returns.length} deterministic episodes; dataset mean ${dsSummary.meanReturn.toFixed(2)}, min ${dsSummary.minReturn.toFixed(2)}, max ${dsSummary.maxReturn.toFixed(2)})`,
              final.score !== null ? `normalised score ${final.score.toFixed(1)}` : '',
              `${f.updates} updates at ${result.updatesPerSec.toFixed(1)} updates/s`,
              `actor: ${actorFile}`,
              `run folder: ${run.path}`,
              `watch the agent: prefrl rollout ${envConfigArgs(envConfig)} --policy ${shellQuote(run.path)} --episodes 5`,
              '',
            ]
              .filter((l) => l !== '')
              .join('\n') + '\n',
          );
        }
        return 0;
      } finally {
        stopHint();
        run.close();
      }
    } finally {
      env.dispose();
    }
  },
};
