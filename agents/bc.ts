/**
 * Behaviour cloning: the baseline IQL must beat. The same actor network as IQL (agents/iql.ts:
 * [obs, 256, 256, act] ReLU, tanh-squashed mean mapped onto the action box, observations
 * normalised with the dataset's statistics) fitted to the dataset's actions, as CORL's
 * algorithms/offline/any_percent_bc.py (deterministic actor, squared error, Adam 3e-4, batch
 * 256, state normalisation) at 100% of the data.
 *
 *   loss 'mse': mean over the batch of |mu(s) - a|^2 (summed over action dimensions; CORL's
 *               F.mse_loss also averages over the action dimensions, so its logged loss is this
 *               one / actDim; Adam's steps are the same, as Adam ignores a constant loss scale
 *               up to its eps)
 *   loss 'nll': mean of -log N(a; mu(s), exp(logStd)^2) with a state-independent log-std, i.e.
 *               IQL's actor loss with every advantage weight equal to 1
 * Evaluation acts with the mean, like IQL. Rewards are not used.
 */
import * as tf from '@tensorflow/tfjs';
import { warnWithoutBackend } from '../core/backend.js';
import { shownValue } from '../core/errors.js';
import type { Metrics } from '../core/log.js';
import { ScheduledAdam } from '../core/nn.js';
import { Rng } from '../core/rng.js';
import { Actor, cosineLr, type OfflineBatch, type OfflineLearner } from './iql.js';

export interface BcConfig {
  /** Gradient updates. */
  readonly updates: number;
  /** Transitions per batch. */
  readonly batchSize: number;
  /** Adam learning rate. */
  readonly lr: number;
  /** Cosine decay of the learning rate over `updates` (off in CORL's BC). */
  readonly cosine: boolean;
  /** Hidden layer widths. */
  readonly hidden: readonly number[];
  /** 'mse': deterministic actor, squared error; 'nll': Gaussian actor, negative log-likelihood. */
  readonly loss: 'mse' | 'nll';
  /** Normalise observations with the dataset's mean and std. */
  readonly normalizeObs: boolean;
  /** Added to the observation std. */
  readonly obsStdEps: number;
  readonly seed: number;
}

export const BC_DEFAULTS: BcConfig = {
  updates: 1_000_000,
  batchSize: 256,
  lr: 3e-4,
  cosine: false,
  hidden: [256, 256],
  loss: 'mse',
  normalizeObs: true,
  obsStdEps: 1e-3,
  seed: 0,
};

export class Bc implements OfflineLearner {
  readonly algo = 'bc';
  readonly config: BcConfig;
  readonly actor: Actor;
  private readonly opt: ScheduledAdam;
  updates = 0;

  constructor(obsDim: number, actDim: number, actLow: ArrayLike<number>, actHigh: ArrayLike<number>, config: Partial<BcConfig> = {}) {
    warnWithoutBackend('BC');
    const c: BcConfig = { ...BC_DEFAULTS, ...Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined)) };
    if (!Number.isInteger(c.updates) || c.updates < 1) throw new RangeError(`BcConfig.updates must be a positive integer, got ${c.updates}`);
    // Any loss name but 'mse' used to train the Gaussian NLL; a NaN learning rate trained on NaN.
    if (c.loss !== 'mse' && c.loss !== 'nll') throw new RangeError(`BcConfig.loss must be 'mse' or 'nll', got ${shownValue(c.loss)}`);
    if (!(Number.isFinite(c.lr) && c.lr >= 0)) throw new RangeError(`BcConfig.lr must be a finite number >= 0, got ${shownValue(c.lr)}`);
    if (!(Number.isFinite(c.obsStdEps) && c.obsStdEps >= 0)) throw new RangeError(`BcConfig.obsStdEps must be a finite number >= 0, got ${shownValue(c.obsStdEps)}`);
    if (!(Array.isArray(c.hidden) && c.hidden.every((h) => Number.isInteger(h) && h > 0))) throw new RangeError(`BcConfig.hidden must be positive integers, got ${shownValue(c.hidden)}`);
    this.config = c;
    this.actor = new Actor({ obsDim, actDim, hidden: c.hidden, kind: c.loss === 'mse' ? 'deterministic' : 'gaussian', actLow, actHigh }, new Rng(c.seed).fork('bc-init'));
    this.opt = new ScheduledAdam(c.lr);
  }

  update(batch: OfflineBatch, withMetrics: boolean): Metrics | null {
    const B = batch.size;
    const D = this.actor.obsDim;
    const loss = tf.tidy(() => {
      const obs = tf.tensor2d(batch.obs, [B, D]);
      const obsT = tf.tensor2d(batch.obsT, [D, B]);
      const act = tf.tensor2d(batch.actions, [B, this.actor.actDim]);
      const vars = this.actor.variables();
      const step = tf.variableGrads(() => tf.mean(this.actor.bcLoss(obs, obsT, act)) as tf.Scalar, vars);
      if (this.config.cosine) this.opt.lr = cosineLr(this.config.lr, this.updates, this.config.updates);
      this.opt.applyGradients(vars.map((x) => ({ name: x.name, tensor: step.grads[x.name] })));
      return withMetrics ? step.value : undefined;
    });
    this.updates++;
    if (!loss) return null;
    const v = loss.dataSync()[0];
    loss.dispose();
    return { 'losses/actor_loss': v, 'charts/actor_lr': this.opt.lr };
  }

  dispose(): void {
    this.actor.dispose();
    this.opt.dispose();
  }
}
