import { describe, expect, it } from 'vitest';
import type { Adam } from '../../agents/mlp.js';
import { PPO_DEFAULTS, type PpoConfig, PpoPolicy, ppoUpdate } from '../../agents/ppo.js';
import { clippedSurrogate, gaussianEntropy, gaussianLogProb, normalizeInPlace, valueLoss } from '../../agents/ppo_math.js';
import { Rng } from '../../core/rng.js';

/** An optimiser stand-in that records the gradient ppoUpdate hands it (and leaves theta alone). */
function recordingAdam(): { adam: Adam; grads: Float32Array[] } {
  const grads: Float32Array[] = [];
  const adam = { lr: 0, step: (_p: Float32Array, g: Float32Array) => grads.push(g.slice()) } as unknown as Adam;
  return { adam, grads };
}

const f32 = (x: number[]) => Float32Array.from(x);

describe('ppoUpdate gradients (hand-derived backprop through the Gaussian policy)', () => {
  it('matches a hand computation on linear networks and one sample', () => {
    // obsDim = actDim = 1, no hidden layers: mean = w x + b, V = u x + c; theta = [w, b, logStd, u, c].
    // w = 0.5, b = 0, logStd = ln 2 (sigma = 2), u = 1, c = 0; x = 1 (already normalised).
    // mean = 0.5; action = 0.5 + 2 * 1.5 = 3.5 (z = 1.5); old log-prob = new one, so the ratio is 1.
    // Advantage A = 2 (no normalisation: one sample), return R = 3, old value 1, entCoef 0.1, vfCoef 0.5.
    // Policy: L = -A r, dL/dlogp = -A / n = -2.
    //   dlogp/dmean   = (a - mean) / sigma^2 = 3 / 4 = 0.75   -> dL/dw = dL/db = -2 * 0.75 * x = -1.5
    //   dlogp/dlogStd = z^2 - 1 = 2.25 - 1 = 1.25             -> -2 * 1.25 = -2.5; entropy bonus -0.1 -> -2.6
    // Value: V = 1, inside the clip range: dL/dV = vfCoef * (V - R) / n = 0.5 * (1 - 3) = -1 -> dL/du = dL/dc = -1
    // Gradient norm sqrt(1.5^2 + 1.5^2 + 2.6^2 + 1 + 1) = sqrt(13.26) = 3.6414.
    const pol = new PpoPolicy(1, 1, [], 10, f32([0.5, 0, Math.log(2), 1, 0]));
    const lp = gaussianLogProb(f32([0.5]), pol.logStd, f32([3.5]), 1, 1);
    const c: PpoConfig = { ...PPO_DEFAULTS, numEnvs: 1, numSteps: 1, numMinibatches: 1, updateEpochs: 1, normAdv: false, entCoef: 0.1, vfCoef: 0.5, maxGradNorm: 1e9 };
    const { adam, grads } = recordingAdam();
    const m = ppoUpdate(pol, adam, new Rng(0), c, { obsN: f32([1]), actions: f32([3.5]), logProbs: lp, values: f32([1]) }, f32([2]), f32([3]));
    expect(grads).toHaveLength(1);
    expect(Array.from(grads[0])).toEqual([-1.5, -1.5, -2.6, -1, -1].map((v) => expect.closeTo(v, 5)));
    expect(m['losses/grad_norm']).toBeCloseTo(Math.sqrt(13.26), 5);
    // policy loss -A r = -2; value loss 0.5 (1 - 3)^2 = 2 (the vf coefficient is applied to the gradient only)
    expect(m['losses/policy_loss']).toBeCloseTo(-2, 6);
    expect(m['losses/value_loss']).toBeCloseTo(2, 6);
  });

  it('clips the gradient to maxGradNorm as torch does (scale maxNorm / (norm + 1e-6))', () => {
    // Same case as above, maxGradNorm 0.5: every component scaled by 0.5 / (3.6414 + 1e-6).
    const pol = new PpoPolicy(1, 1, [], 10, f32([0.5, 0, Math.log(2), 1, 0]));
    const lp = gaussianLogProb(f32([0.5]), pol.logStd, f32([3.5]), 1, 1);
    const c: PpoConfig = { ...PPO_DEFAULTS, numEnvs: 1, numSteps: 1, numMinibatches: 1, updateEpochs: 1, normAdv: false, entCoef: 0.1, vfCoef: 0.5, maxGradNorm: 0.5 };
    const { adam, grads } = recordingAdam();
    ppoUpdate(pol, adam, new Rng(0), c, { obsN: f32([1]), actions: f32([3.5]), logProbs: lp, values: f32([1]) }, f32([2]), f32([3]));
    const k = 0.5 / (Math.sqrt(13.26) + 1e-6);
    expect(Array.from(grads[0])).toEqual([-1.5, -1.5, -2.6, -1, -1].map((v) => expect.closeTo(v * k, 5)));
  });

  it('equals the finite-difference gradient of the total loss on tanh networks, clipped samples included', () => {
    // Total loss of CleanRL: pg_loss - entCoef * entropy + vfCoef * v_loss, on one minibatch
    // (the whole batch), with per-minibatch advantage normalisation and value clipping.
    const D = 3;
    const A = 2;
    const B = 8;
    const rng = new Rng(5);
    const pol = new PpoPolicy(D, A, [6, 5]);
    pol.init(rng.fork('init'), -0.3);
    // larger head weights than CleanRL's 0.01 gain so the mean depends on the inputs
    rng.fork('theta').fillUniform(pol.theta, -0.6, 0.6);
    const obsN = new Float32Array(B * D);
    rng.fork('obs').fillNormal(obsN);
    const actions = new Float32Array(B * A);
    rng.fork('act').fillNormal(actions);
    // old log-probs and values off the current ones, so some ratios and value changes leave the clip range
    const lp0 = gaussianLogProb(pol.mean(obsN, B), pol.logStd, actions, B, A);
    const shift = new Float32Array(B);
    rng.fork('shift').fillUniform(shift, -0.5, 0.5);
    const logProbs = Float32Array.from(lp0, (v, i) => v + shift[i]);
    const v0 = pol.values(obsN, B);
    const values = Float32Array.from(v0, (v, i) => v + (i % 2 ? 0.5 : -0.05));
    const adv = new Float32Array(B);
    rng.fork('adv').fillNormal(adv);
    const ret = new Float32Array(B);
    rng.fork('ret').fillNormal(ret);
    const c: PpoConfig = { ...PPO_DEFAULTS, numEnvs: 1, numSteps: B, numMinibatches: 1, updateEpochs: 1, normAdv: true, entCoef: 0.05, vfCoef: 0.5, maxGradNorm: 1e9, clipCoef: 0.2 };

    // per-minibatch normalisation (here: the whole batch, so it does not depend on the shuffle)
    const advN = adv.slice();
    normalizeInPlace(advN, B);
    const totalLoss = (): number => {
      const lp = gaussianLogProb(pol.mean(obsN, B), pol.logStd, actions, B, A);
      const pg = clippedSurrogate(lp, logProbs, advN, B, c.clipCoef).loss;
      const vl = valueLoss(pol.values(obsN, B), values, ret, B, c.clipCoef).loss;
      return pg - c.entCoef * gaussianEntropy(pol.logStd) + c.vfCoef * vl;
    };
    // the check must exercise both branches of the clipping
    const pl = clippedSurrogate(gaussianLogProb(pol.mean(obsN, B), pol.logStd, actions, B, A), logProbs, advN, B, c.clipCoef);
    expect(pl.clipFraction).toBeGreaterThan(0);
    expect(pl.clipFraction).toBeLessThan(1);

    const { adam, grads } = recordingAdam();
    ppoUpdate(pol, adam, new Rng(1), c, { obsN, actions, logProbs, values }, adv, ret);
    const g = grads[0];
    const h = 1e-2;
    let checked = 0;
    for (let i = 0; i < pol.theta.length; i++) {
      const x0 = pol.theta[i];
      pol.theta[i] = x0 + h;
      const up = totalLoss();
      pol.theta[i] = x0 - h;
      const down = totalLoss();
      pol.theta[i] = x0;
      const fd = (up - down) / (2 * h);
      expect(g[i]).toBeCloseTo(fd, 2);
      if (Math.abs(fd) > 1e-3) checked++;
    }
    // most parameters carry gradient (a check over zeros would prove nothing)
    expect(checked).toBeGreaterThan(pol.theta.length / 2);
  });
});
