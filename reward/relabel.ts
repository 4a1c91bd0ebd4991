/**
 * Relabelling an offline dataset with a learned reward model: every transition's reward
 * becomes the ensemble mean of the model, and how well that agrees with the env's true reward
 * is measured per transition and per episode return (Pearson correlation). Shared by
 * `prefrl iql --reward model:<dir>` and the offline preference pipeline (reward/offline.ts).
 *
 * A model trained with the regret preference model outputs an estimate of the optimal
 * advantage A*(s, a), not a reward (kind 'advantage'); callers use it as the reward all the
 * same and say so (see scripts/commands/iql.ts).
 */
import { episodeReturns, type OfflineDataset } from '../agents/dataset.js';
import { datasetRewards } from '../agents/iql.js';
import { InputError } from '../core/errors.js';
import { pearson } from '../core/math.js';
import { envFit, type RewardNet } from './network.js';

export interface Relabelling {
  /** The model's reward of every transition [ds.size]. */
  readonly rewards: Float64Array;
  /** What the model's output means: a reward (partial-return model) or an optimal advantage (regret model). */
  readonly kind: 'reward' | 'advantage';
  /** Pearson correlation of relabelled and true rewards over all transitions. */
  readonly transitionCorrelation: number;
  /** Pearson correlation of relabelled and true episode returns. */
  readonly returnCorrelation: number;
}

/** Why a model cannot relabel a dataset (sizes differ), or null when it can. */
export function relabelMismatch(net: RewardNet, ds: OfflineDataset): string | null {
  if (net.config.obsDim !== ds.obsDim || net.config.actDim !== ds.actDim) {
    return `the model takes obs/act sizes ${net.config.obsDim}/${net.config.actDim}, the dataset has ${ds.obsDim}/${ds.actDim}`;
  }
  // Sizes alone let a model of another env with the same sizes through.
  return envFit(net, ds.meta.envId, ds.meta.modelHash, 'the dataset was recorded on').error ?? null;
}

/** Relabel every transition with the model's ensemble mean and measure it against the true rewards. */
export function relabelDataset(ds: OfflineDataset, net: RewardNet): Relabelling {
  const problem = relabelMismatch(net, ds);
  if (problem) throw new RangeError(`relabelDataset: ${problem}`);
  const rewards = datasetRewards(ds, (batch) => net.predict(batch));
  return { rewards, kind: net.config.preferenceModel === 'regret' ? 'advantage' : 'reward', ...agreement(ds, rewards) };
}

/** Pearson correlation of other rewards with the dataset's true rewards, per transition and per episode return. */
function agreement(ds: OfflineDataset, rewards: Float64Array): { transitionCorrelation: number; returnCorrelation: number } {
  return { transitionCorrelation: pearson(rewards, ds.rewards), returnCorrelation: pearson(episodeReturns(ds, rewards), episodeReturns(ds)) };
}

/** The dataset's own task-success measure used as the reward, and how it agrees with the true reward. */
export interface SuccessRewards {
  /** infos/success of every transition (success after the step) [ds.size]. */
  readonly rewards: Float64Array;
  readonly transitionCorrelation: number;
  readonly returnCorrelation: number;
}

/**
 * Every transition's reward becomes the task-success measure after its step (infos/success):
 * the criterion the synthetic-vlm teacher judges segments by, given to IQL directly. A run on
 * it bounds what a reward learned from that teacher's labels can reach when the labels are
 * perfect. The dataset must record success on every transition (a NaN is refused, with its
 * index): `source` names the file in the error.
 */
export function successRewards(ds: OfflineDataset, source: string): SuccessRewards {
  const s = ds.infos.success;
  if (!s) throw new InputError(source, 'missing: --reward success needs the task-success measure of every transition (collect the dataset with `prefrl collect` on an env that defines success)', 'infos/success');
  if (s.length !== ds.size) throw new InputError(source, `has ${s.length} values for ${ds.size} transitions`, 'infos/success');
  const rewards = new Float64Array(ds.size);
  for (let i = 0; i < ds.size; i++) {
    if (!Number.isFinite(s[i])) throw new InputError(source, `transition ${i} has no success value (${s[i]}); --reward success needs one on every transition`, 'infos/success');
    rewards[i] = s[i];
  }
  return { rewards, ...agreement(ds, rewards) };
}
