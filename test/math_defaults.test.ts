/**
 * The defaults that ../shared/REFERENCES.md pins: PPO as CleanRL's ppo_continuous_action, IQL as
 * CORL (locomotion), BC as CORL's any-percent BC, B-Pref's 10x oversampling of query candidates.
 * A changed default changes every published run that relied on it, so it should be a decision.
 */
import { describe, expect, it } from 'vitest';
import { BC_DEFAULTS } from '../agents/bc.js';
import { IQL_DEFAULTS } from '../agents/iql.js';
import { PPO_DEFAULTS } from '../agents/ppo.js';
import { DEFAULT_OVERSAMPLE } from '../reward/query.js';

describe('defaults from the references', () => {
  it('PPO: CleanRL ppo_continuous_action (a 2048-step rollout as 4 envs x 512 steps)', () => {
    const c = PPO_DEFAULTS;
    expect(c.numEnvs * c.numSteps).toBe(2048);
    expect({ lr: c.lr, annealLr: c.annealLr, gamma: c.gamma, gaeLambda: c.gaeLambda, numMinibatches: c.numMinibatches, updateEpochs: c.updateEpochs }).toEqual({
      lr: 3e-4,
      annealLr: true,
      gamma: 0.99,
      gaeLambda: 0.95,
      numMinibatches: 32,
      updateEpochs: 10,
    });
    expect({ normAdv: c.normAdv, clipCoef: c.clipCoef, clipVloss: c.clipVloss, entCoef: c.entCoef, vfCoef: c.vfCoef, maxGradNorm: c.maxGradNorm, targetKl: c.targetKl }).toEqual({
      normAdv: true,
      clipCoef: 0.2,
      clipVloss: true,
      entCoef: 0,
      vfCoef: 0.5,
      maxGradNorm: 0.5,
      targetKl: null,
    });
    expect({ hidden: c.hidden, normObs: c.normObs, normReward: c.normReward, clipObs: c.clipObs, clipReward: c.clipReward, initLogStd: c.initLogStd }).toEqual({
      hidden: [64, 64],
      normObs: true,
      normReward: true,
      clipObs: 10,
      clipReward: 10,
      initLogStd: 0,
    });
  });

  it('IQL: CORL locomotion (tau 0.7, beta 3, target rate 0.005, weights clipped at 100, cosine actor lr, reward scaling)', () => {
    const c = IQL_DEFAULTS;
    expect({ updates: c.updates, batchSize: c.batchSize, discount: c.discount, targetRate: c.targetRate, expectile: c.expectile, beta: c.beta, maxWeight: c.maxWeight }).toEqual({
      updates: 1_000_000,
      batchSize: 256,
      discount: 0.99,
      targetRate: 0.005,
      expectile: 0.7,
      beta: 3,
      maxWeight: 100,
    });
    expect({ actorLr: c.actorLr, qLr: c.qLr, vLr: c.vLr, actorCosine: c.actorCosine, hidden: c.hidden, actor: c.actor, logStdMin: c.logStdMin, logStdMax: c.logStdMax }).toEqual({
      actorLr: 3e-4,
      qLr: 3e-4,
      vLr: 3e-4,
      actorCosine: true,
      hidden: [256, 256],
      actor: 'gaussian',
      logStdMin: -20,
      logStdMax: 2,
    });
    expect({ normalizeObs: c.normalizeObs, obsStdEps: c.obsStdEps, rewardScaling: c.rewardScaling }).toEqual({ normalizeObs: true, obsStdEps: 1e-3, rewardScaling: 'locomotion' });
  });

  it('BC: CORL any-percent BC at 100% (deterministic actor, squared error, Adam 3e-4, batch 256, no lr decay)', () => {
    expect({ ...BC_DEFAULTS, hidden: [...BC_DEFAULTS.hidden] }).toEqual({ updates: 1_000_000, batchSize: 256, lr: 3e-4, cosine: false, hidden: [256, 256], loss: 'mse', normalizeObs: true, obsStdEps: 1e-3, seed: 0 });
  });

  it('query selection oversamples 10x candidates (B-Pref)', () => {
    expect(DEFAULT_OVERSAMPLE).toBe(10);
  });
});
