/**
 * `prefrl reward`: train a reward model on the labels of a label store (people's answers in the
 * viewer, `prefrl pairs` + `prefrl serve`, or any teacher's), in a run folder of its own
 * (artifacts/reward_model, the form `prefrl train --reward model:<run>` and `prefrl iql
 * --reward model:<run>` read). The same ensemble, preference models and training as
 * `prefrl train` and `prefrl offline`; held-out accuracy against the labels, and, since the
 * stored segments carry the env's true rewards, the correlation of the learned segment
 * returns with the true ones.
 */
import { describeBackend, initBackend } from '../../core/backend.js';
import { flags, positiveInts } from '../../core/config.js';
import { InputError, UsageError } from '../../core/errors.js';
import { Progress } from '../../core/progress.js';
import { Rng } from '../../core/rng.js';
import { createRunDir, removeIfEmpty, type RunDir } from '../../core/run.js';
import { envConfigFromArgs, makeEnv } from '../../envs/registry.js';
import { returnCorrelation } from '../../reward/metrics.js';
import { RewardNet } from '../../reward/network.js';
import { segmentReturn } from '../../reward/segments.js';
import { isTie, type LabelStore } from '../../reward/store.js';
import { epochMetricsRecord, noImprovementWarning, rewardTrainOptions, trainRewardModel, trainResultSummary } from '../../reward/train.js';
import type { Label, Pair } from '../../reward/types.js';
import { envConfigForStore } from '../../viewer/env_info.js';
import { shellQuote } from '../../core/paths.js';
import { type Command, displayPath, onInterrupt, openStoreFlag, parseOrHelp, printJson } from '../command.js';
import { fixedLabelRewardFlags, rewardTrainingFlags } from './reward_flags.js';
import { backendFlag, jsonFlag, optionalStoreFlag, quietFlag, runsDirFlag, seedFlag, taskFlag } from './common_flags.js';
import { commandSummary } from '../command_index.js';
import { flagsWithLike, likeFlag, withAbsolutePaths } from './like.js';

/**
 * The shared reward-training flags less --reward-select-workers: prefrl reward trains on the
 * inputs --reward-input names (input selection, which the workers serve, runs in prefrl train
 * and offline), so it neither lists nor accepts it.
 */
const { rewardSelectWorkers: _selectWorkers, ...rewardFlags } = rewardTrainingFlags;

const spec = {
  command: 'prefrl reward',
  summary: "Train a reward model on a label store's labels (e.g. people's answers in the viewer), saved in a run folder for prefrl train / iql --reward model:<run>.",
  flags: {
    store: optionalStoreFlag('holding the labelled pairs; required, except when --like gives it'),
    teacher: flags.string({ doc: 'only the labels of teachers whose id starts with this (e.g. human, human:ada)', optional: true, defaultDoc: 'every teacher' }),
    ...fixedLabelRewardFlags,
    ...rewardFlags,
    env: flags.string({ doc: 'env id or MJCF path, when the store alone does not say (bring-your-own models)', optional: true }),
    task: taskFlag(),
    seed: seedFlag('held-out split, initialisation, batches'),
    backend: backendFlag(),
    runsDir: runsDirFlag,
    name: flags.string({ doc: 'run name', optional: true, defaultDoc: 'reward-<env>' }),
    like: likeFlag('reward'),
    json: jsonFlag(),
    quiet: quietFlag(),
  },
  epilog: [
    'Examples:',
    '  prefrl reward --store runs/<stamp>-rollout-reacher/labels.sqlite --teacher human',
    '  prefrl train --env reacher --reward model:runs/<stamp>-reward-reacher --steps 300000',
    '  prefrl reward --like runs/<stamp>-reward-reacher --seed 1   # the same settings, another seed',
  ].join('\n'),
};

/** The labelled pairs of a store, one entry per label of the chosen teachers (skips included: training leaves them out). */
export function storeLabels(store: LabelStore, teacherPrefix?: string): { pairs: Pair[]; labels: Label[] } {
  return store.teacherLabels({ includeSkips: true, keep: teacherPrefix === undefined ? undefined : (t) => t.startsWith(teacherPrefix) });
}

export const rewardCommand: Command = {
  name: 'reward',
  summary: commandSummary('reward'),
  async run(argv, ctx) {
    const parsed = parseOrHelp(argv, spec, ctx.io);
    if (!parsed) return 0;
    const withLike = flagsWithLike(parsed, spec.flags, 'reward', ctx, { required: ['store'] });
    const f = { ...withLike, store: withLike.store as string };
    const hidden = positiveInts(f.rewardHidden, '--reward-hidden');
    if (f.task && !f.env) throw new UsageError('--task: needs --env <model.xml>');
    if (f.rewardInput === 'obs' && f.preferenceModel === 'regret') throw new UsageError('--reward-input: the regret model learns an advantage, which needs the action (obs-action or obs-next-obs)');
    const store = openStoreFlag(f.store, ctx.clock, '--store', { readOnly: true });
    try {
      const { pairs, labels } = storeLabels(store, f.teacher);
      const preferences = labels.filter((l) => l.kind === 'preference').length;
      // Ties (probFirst 0.5) train as soft labels, so they count among the preferences here; said apart as in labels stats.
      const ties = labels.filter(isTie).length;
      if (preferences < 2) {
        const c = store.counts();
        const teachers = Object.keys(c.perTeacher);
        throw new InputError(
          f.store,
          `holds ${preferences} preference label${preferences === 1 ? '' : 's'}${f.teacher ? ` of teachers "${f.teacher}..." (--teacher ${f.teacher})` : ''} (${c.pairs} pairs, ${c.labels} labels${teachers.length ? ` by ${teachers.join(', ')}` : ''}); a reward model needs at least 2${f.teacher && teachers.some((t) => !t.startsWith(f.teacher as string)) ? `; --teacher keeps only the teachers whose name starts with it: give another prefix, or leave --teacher out for every teacher's labels` : ''}`,
        );
      }
      const envConfig = f.env ? envConfigFromArgs(f.env, { task: f.task }) : envConfigForStore(f.store, store.envId() ?? pairs[0].a.envId);
      const env = await makeEnv(envConfig, { logger: ctx.logger });
      const envSpec = env.spec;
      env.dispose();
      if (pairs[0].a.obsDim !== envSpec.obsDim || pairs[0].a.actDim !== envSpec.actDim) {
        throw new InputError(f.store, `segments have ${pairs[0].a.obsDim} observations and ${pairs[0].a.actDim} actions; env "${envSpec.id}" has ${envSpec.obsDim} and ${envSpec.actDim}`);
      }
      const backend = await initBackend(f.backend);
      ctx.logger.info(describeBackend(backend));
      const rng = new Rng(f.seed).fork('reward');
      const net = RewardNet.create(
        { input: f.rewardInput, ignoreObs: [], obsDim: envSpec.obsDim, actDim: envSpec.actDim, members: f.rewardMembers, hidden, preferenceModel: f.preferenceModel },
        rng.fork('net'),
      );
      let run: RunDir;
      try {
        run = createRunDir({ root: f.runsDir, name: f.name ?? `reward-${envSpec.id.replace(/^custom:/, '')}`, config: { command: 'reward', ...withAbsolutePaths(f), envConfig }, clock: ctx.clock, tensorBackend: backend.kind });
      } catch (e) {
        net.dispose();
        throw e;
      }
      let epochsDone = 0;
      // Ctrl-C (trainRewardModel lets it in after each epoch): no model is saved; the epochs' metrics are kept.
      const stopHint = onInterrupt(
        ctx,
        () => {
          const removed = removeIfEmpty(run);
          const where = removed ? 'the run folder was removed' : `${run.path} holds the metrics of the epochs so far`;
          return {
            line: `stopped after ${epochsDone} of ${f.rewardEpochs} epochs; no reward model was saved (${where}); run the command again to train one`,
            fields: { runDir: removed ? null : run.path, rewardModel: null, epochs: epochsDone },
          };
        },
        { json: f.json },
      );
      try {
        const progress = new Progress(`reward model (${preferences} preferences)`, f.rewardEpochs, { unit: 'epochs', clock: ctx.clock, sink: ctx.io.stderr, tty: ctx.io.tty, silent: f.quiet });
        const res = await trainRewardModel(net, pairs, labels, {
          ...rewardTrainOptions(f),
          preferenceModel: f.preferenceModel,
          rng: rng.fork('train'),
          onEpoch: (m) => {
            epochsDone = m.epoch;
            run.metrics.log(m.epoch, epochMetricsRecord(m));
            progress.update(m.epoch, `held-out acc ${Number.isFinite(m.valAccuracy) ? m.valAccuracy.toFixed(3) : 'n/a'}`);
          },
        });
        // The bar showed each epoch's accuracy; it ends on the kept (best-epoch) weights', as the summary does.
        progress.finish(`held-out acc ${Number.isFinite(res.valAccuracy) ? res.valAccuracy.toFixed(3) : 'n/a'} (kept weights)`);
        const warning = noImprovementWarning(res);
        if (warning) ctx.logger.warn(warning);
        // The learned segment returns against the true ones, over every distinct labelled segment.
        const segs = [...new Map(pairs.flatMap((p) => [p.a, p.b]).map((s) => [s.id, s])).values()];
        const corr = returnCorrelation(net.meanSegmentSums(segs), segs.map(segmentReturn));
        net.meta = { ...net.meta, store: f.store, teacher: f.teacher ?? null, preferences, valAccuracy: res.valAccuracy };
        const modelDir = run.artifact('reward_model');
        net.save(modelDir);
        const summary = {
          env: envSpec.id,
          store: f.store,
          teacher: f.teacher ?? null,
          preferences,
          ties,
          skips: res.skipped,
          ...trainResultSummary(res),
          returnCorrelation: corr.pearson,
          returnSpearman: corr.spearman,
          rewardModel: modelDir,
          runDir: run.path,
        };
        run.writeJson('summary.json', summary);
        run.metrics.log(res.epochs.length, { 'reward/pearson': corr.pearson, 'reward/spearman': corr.spearman });
        if (f.json) printJson(ctx.io, summary);
        else {
          const n = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : 'n/a');
          const model = shellQuote(`model:${displayPath(run.path)}`);
          ctx.io.stdout.write(
            [
              `reward model: ${preferences} preferences (${ties} of them ties; ${res.skipped} skips left out), ${res.valPairs} held out: accuracy ${n(res.valAccuracy)}, NLL ${n(res.valNll)}`,
              `learned vs true segment returns over ${segs.length} segments: Pearson ${n(corr.pearson)}, Spearman ${n(corr.spearman)}`,
              `run folder: ${run.path}`,
              `use it: prefrl train --env ${envSpec.id.startsWith('custom') ? '<model.xml>' : envSpec.id} --reward ${model}   (or prefrl iql --dataset D --reward ${model})`,
              '',
            ].join('\n'),
          );
        }
        return 0;
      } finally {
        stopHint();
        net.dispose();
        run.close();
      }
    } finally {
      store.close();
    }
  },
};
