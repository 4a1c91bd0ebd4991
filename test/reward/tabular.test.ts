import { describe, expect, it } from 'vitest';
import { mean } from '../../core/math.js';
import { Rng } from '../../core/rng.js';
import { regret } from '../../reward/preference.js';
import {
  CELL_GOAL,
  CELL_SHEEP,
  DELIVERY_LAYOUT,
  deliveryGridworld,
  FEATURE_DIM,
  makeGridWorld,
  parseLayout,
  randomGridworld,
  renderLayout,
} from '../../reward/tabular/gridworld.js';
import {
  evaluateWeights,
  labelPairs,
  LEARN_DEFAULTS,
  learnReward,
  PreferenceObjective,
  runWorld,
  samplePairs,
  segmentFromActions,
  segmentRegret,
  worldReference,
} from '../../reward/tabular/learn.js';
import {
  buildMdp,
  deterministicPolicy,
  evaluatePolicy,
  expectedReturn,
  greedyPolicy,
  linearReward,
  policyIteration,
  qFromV,
  scaledReturn,
  solveLinearOptimal,
  successorFeatures,
  uniformRandomPolicy,
  valueIteration,
} from '../../reward/tabular/mdp.js';

/**
 * A tiny stochastic MDP, gamma = 0.9. States 0 and 1 are non-terminal, 2 is terminal; actions
 * 0 "go" and 1 "stay"; start uniform over {0, 1}.
 *   0 go:   to 1 with prob 0.8, stays in 0 with prob 0.2; reward -1 either way
 *   1 go:   to 2 (terminal), reward -1 + 10 = 9
 *   s stay: to s, reward -1
 */
function tinyMdp(gamma = 0.9) {
  return buildMdp({
    nStates: 3,
    nActions: 2,
    gamma,
    terminal: [false, false, true],
    outcomes: (s, a) => {
      if (a === 1) return [{ next: s, prob: 1, reward: -1 }];
      if (s === 0)
        return [
          { next: 1, prob: 0.8, reward: -1 },
          { next: 0, prob: 0.2, reward: -1 },
        ];
      return [{ next: 2, prob: 1, reward: 9 }];
    },
  });
}

describe('value iteration and policy evaluation (tiny MDP)', () => {
  it('value iteration matches the hand-computed V* and Q*', () => {
    // V*(1) = max(go: 9, stay: -1 + 0.9 * 9 = 7.1) = 9.
    // V*(0): go: V = -1 + 0.9 (0.8 * 9 + 0.2 V)  =>  0.82 V = 5.48  =>  V = 6.682926829...
    //        stay: -1 + 0.9 * 6.6829 = 5.0146 < 6.6829, so V*(0) = 5.48 / 0.82.
    const { mdp, reward } = tinyMdp();
    const { v, q } = valueIteration(mdp, reward, { tol: 1e-13 });
    expect(v[0]).toBeCloseTo(5.48 / 0.82, 10);
    expect(v[1]).toBeCloseTo(9, 10);
    expect(v[2]).toBe(0);
    expect(q[0 * 2 + 0]).toBeCloseTo(5.48 / 0.82, 10);
    expect(q[0 * 2 + 1]).toBeCloseTo(-1 + 0.9 * (5.48 / 0.82), 10); // 5.014634...
    expect(q[1 * 2 + 1]).toBeCloseTo(7.1, 10);
    const pi = policyIteration(mdp, reward);
    expect(Array.from(pi.actions.subarray(0, 2))).toEqual([0, 0]);
    expect(pi.v[0]).toBeCloseTo(v[0], 10);
  });

  it('policy evaluation of the uniformly random policy matches the hand computation', () => {
    // V(1) = 0.5 * 9 + 0.5 (-1 + 0.9 V(1))  =>  0.55 V(1) = 4  =>  V(1) = 80 / 11 = 7.272727
    // V(0) = -1 + 0.5 * 0.9 (0.8 V(1) + 0.2 V(0)) + 0.5 * 0.9 V(0) = -1 + 0.36 V(1) + 0.54 V(0)
    //   =>  V(0) = (0.36 * 80 / 11 - 1) / 0.46 = 3.517786561
    // J = (V(0) + V(1)) / 2 = 5.395256917
    const { mdp, reward } = tinyMdp();
    const v = evaluatePolicy(mdp, uniformRandomPolicy(mdp), reward);
    expect(v[1]).toBeCloseTo(80 / 11, 12);
    expect(v[0]).toBeCloseTo((0.36 * (80 / 11) - 1) / 0.46, 12);
    expect(expectedReturn(mdp, uniformRandomPolicy(mdp), reward)).toBeCloseTo(5.395256917, 8);
  });

  it('evaluates a proper policy at gamma = 1 and rejects one that never terminates', () => {
    // Always go: V(1) = 9; V(0) = -1 + 0.8 * 9 + 0.2 V(0)  =>  V(0) = 6.2 / 0.8 = 7.75.
    const { mdp, reward } = tinyMdp(1);
    const v = evaluatePolicy(mdp, deterministicPolicy(mdp, [0, 0, 0]), reward);
    expect(v[0]).toBeCloseTo(7.75, 12);
    expect(v[1]).toBeCloseTo(9, 12);
    expect(() => evaluatePolicy(mdp, deterministicPolicy(mdp, [1, 1, 0]), reward)).toThrow(/singular/);
    expect(valueIteration(mdp, reward).v[0]).toBeCloseTo(7.75, 8);
  });

  it('mean scaled return: 1 for the optimal policy, 0 for the random one, hand value for a constructed one', () => {
    // J* = (5.48 / 0.82 + 9) / 2 = 7.841463415; J(random) = 5.395256917 (above).
    // Constructed: go in state 0, uniform in state 1: V(1) = 80 / 11;
    //   V(0) = -1 + 0.9 (0.8 V(1) + 0.2 V(0))  =>  V(0) = (0.72 * 80 / 11 - 1) / 0.82 = 5.166297118
    //   J = (5.166297118 + 7.272727273) / 2 = 6.219512195
    //   scaled = (6.219512195 - 5.395256917) / (7.841463415 - 5.395256917) = 0.336952452
    const { mdp, reward } = tinyMdp();
    const opt = policyIteration(mdp, reward);
    const jOpt = expectedReturn(mdp, greedyPolicy(mdp, opt.q), reward);
    const jRand = expectedReturn(mdp, uniformRandomPolicy(mdp), reward);
    expect(jOpt).toBeCloseTo(7.841463415, 8);
    expect(scaledReturn(jOpt, jOpt, jRand)).toBeCloseTo(1, 12);
    expect(scaledReturn(jRand, jOpt, jRand)).toBeCloseTo(0, 12);
    const mixed = Float64Array.from([1, 0, 0.5, 0.5, 0.5, 0.5]);
    expect(scaledReturn(expectedReturn(mdp, mixed, reward), jOpt, jRand)).toBeCloseTo(0.336952452, 8);
    expect(() => scaledReturn(1, 2, 2)).toThrow(RangeError);
  });

  it('successor features reproduce V for a linear reward; their V* gradient matches finite differences', () => {
    const world = deliveryGridworld();
    const { mdp, features, dim } = world;
    const w = [-0.7, 20, -30, 0.4, -2];
    const sol = solveLinearOptimal(mdp, features, dim, w);
    const ref = valueIteration(mdp, linearReward(features, dim, w), { tol: 1e-12 });
    for (let s = 0; s < mdp.nStates; s++) expect(sol.v[s]).toBeCloseTo(ref.v[s], 7);
    const psi = successorFeatures(mdp, deterministicPolicy(mdp, sol.actions), features, dim);
    expect(Array.from(psi)).toEqual(Array.from(sol.psi));
    // dV*(s)/dw_k = psi_k(s) where the optimal policy is unique (Danskin).
    const h = 1e-5;
    for (const s of [0, 23, 57]) {
      for (let k = 0; k < dim; k++) {
        const wp = [...w];
        const wm = [...w];
        wp[k] += h;
        wm[k] -= h;
        const fd = (solveLinearOptimal(mdp, features, dim, wp).v[s] - solveLinearOptimal(mdp, features, dim, wm).v[s]) / (2 * h);
        expect(fd).toBeCloseTo(sol.psi[s * dim + k], 5);
      }
    }
  });
});

describe('delivery gridworld', () => {
  const world = deliveryGridworld();
  const { mdp } = world;

  it('has the documented layout, terminals and start distribution', () => {
    expect(world.width).toBe(10);
    expect(world.height).toBe(10);
    expect(renderLayout(world)).toEqual([...DELIVERY_LAYOUT]);
    const goals = Array.from(world.cells).filter((c) => c === CELL_GOAL).length;
    const sheep = Array.from(world.cells).filter((c) => c === CELL_SHEEP).length;
    expect(goals).toBe(1);
    expect(sheep).toBe(7);
    for (let s = 0; s < mdp.nStates; s++) {
      const isTerminal = world.cells[s] === CELL_GOAL || world.cells[s] === CELL_SHEEP;
      expect(mdp.terminal[s]).toBe(isTerminal ? 1 : 0);
      expect(mdp.start[s]).toBeCloseTo(isTerminal ? 0 : 1 / (100 - 8), 12);
    }
    expect(mdp.deterministic).toBe(true);
    expect(mdp.next.length).toBe((100 - 8) * 4);
  });

  it('pays step + cell type: into the goal 49, bump on a coin 0, into a roadblock -2, into a sheep -51', () => {
    const entry = (r: number, c: number, a: number) => mdp.saStart[(r * 10 + c) * 4 + a];
    expect(world.trueReward[entry(3, 9, 2)]).toBe(49); // (3,9) down -> goal (4,9)
    expect(world.trueReward[entry(0, 8, 0)]).toBe(0); // coin at (0,8), up bumps the border
    expect(world.trueReward[entry(0, 2, 1)]).toBe(-2); // (0,2) right -> roadblock (0,3)
    expect(world.trueReward[entry(0, 1, 2)]).toBe(-51); // (0,1) down -> sheep (1,1)
    expect(world.trueReward[entry(5, 9, 3)]).toBe(-1); // road
    expect(mdp.next[entry(0, 0, 3)]).toBe(0); // left from the corner stays
    const features = world.features.subarray(entry(3, 9, 2) * FEATURE_DIM, (entry(3, 9, 2) + 1) * FEATURE_DIM);
    expect(Array.from(features)).toEqual([1, 1, 0, 0, 0]);
  });

  it('the optimal policy reaches the destination; the random one scores 0', () => {
    const ref = worldReference(world);
    expect(ref.jOptimal).toBeGreaterThan(ref.jRandom);
    const ev = evaluateWeights(world, ref, world.trueWeights);
    expect(ev.scaledReturn).toBeCloseTo(1, 10);
    expect(ev.pGoal).toBeCloseTo(1, 6);
    expect(evaluateWeights(world, ref, [0, 0, 0, 0, 0]).scaledReturn).toBeCloseTo(0, 10);
    // Optimal from (3,9): one step down into the goal: V* = 49.
    expect(ref.vStar[39]).toBeCloseTo(49, 10);
  });

  it('rejects malformed layouts', () => {
    expect(() => parseLayout(['..', '.'])).toThrow(/row 1/);
    expect(() => parseLayout(['.q'])).toThrow(/unknown cell/);
    expect(() => makeGridWorld('x', 2, 1, [1, 2], [-1, 1, -1, 0, 0])).toThrow(/terminal/);
  });
});

describe('segment regret', () => {
  // Corridor ". . G" (states 0, 1, goal 2), weights step -1, goal +10, gamma 0.9.
  // V*(1) = -1 + 10 = 9; V*(0) = -1 + 0.9 * 9 = 7.1.
  const world = makeGridWorld('corridor', 3, 1, parseLayout(['..G']).cells, [-1, 10, -10, 0.5, -1], 0.9);
  const { mdp } = world;
  const v = policyIteration(mdp, world.trueReward).v;

  it('matches the hand computation and the advantage form', () => {
    expect(v[0]).toBeCloseTo(7.1, 12);
    // From 0: up (bump, stay in 0), right, right -> goal: rewards -1, -1, 9, ends terminal.
    //   regret = 7.1 - (-1 - 0.9 + 0.81 * 9) = 7.1 - 5.39 = 1.71
    const seg = segmentFromActions(mdp, 0, [0, 1, 1]);
    expect(seg.endsTerminal).toBe(true);
    expect(segmentRegret(mdp, seg, world.trueReward, v)).toBeCloseTo(1.71, 12);
    // Same wasted step, stopping in state 1 (not terminal): 7.1 - (-1 - 0.9 + 0.81 * V*(1)) = 1.71.
    expect(segmentRegret(mdp, segmentFromActions(mdp, 0, [0, 1]), world.trueReward, v)).toBeCloseTo(1.71, 12);
    // Advantage form: -A*(0, up) = V*(0) - (-1 + 0.9 V*(0)) = 7.1 - 5.39 = 1.71; optimal segments have 0.
    const q = qFromV(mdp, world.trueReward, v);
    expect(v[0] - q[0 * 4 + 0]).toBeCloseTo(1.71, 12);
    expect(segmentRegret(mdp, segmentFromActions(mdp, 0, [1, 1, 1]), world.trueReward, v)).toBeCloseTo(0, 12);
    expect(regret({ rewards: [-1, -1, 9], valueStart: 7.1, valueEnd: 0, gamma: 0.9, endsTerminal: true })).toBeCloseTo(1.71, 12);
  });

  it('oracle labels prefer the lower regret / higher partial return, ties 0.5', () => {
    const ref = worldReference(world);
    const good = segmentFromActions(mdp, 0, [1, 1]); // regret 0, return 8
    const wasteful = segmentFromActions(mdp, 0, [0, 1]); // regret 1.71, return -2
    const pairs = [
      { a: good, b: wasteful },
      { a: wasteful, b: good },
      { a: good, b: good },
    ];
    expect(Array.from(labelPairs(world, ref, pairs, 'regret'))).toEqual([1, 0, 0.5]);
    expect(Array.from(labelPairs(world, ref, pairs, 'partial-return'))).toEqual([1, 0, 0.5]);
    // Stochastic: the first of (good, wasteful) wins with probability sigmoid(beta * 1.71).
    const many = Array.from({ length: 4000 }, () => pairs[0]);
    const y = labelPairs(world, ref, many, 'regret', { beta: 1, tieTolerance: 0 }, new Rng(3));
    expect(mean(y)).toBeGreaterThan(1 / (1 + Math.exp(-1.71)) - 0.03);
    expect(mean(y)).toBeLessThan(1 / (1 + Math.exp(-1.71)) + 0.03);
  });
});

describe('preference objective', () => {
  it('analytic gradients match finite differences for both models', () => {
    const world = deliveryGridworld();
    const ref = worldReference(world);
    const pairs = samplePairs(world.mdp, 200, 3, new Rng(5));
    const w = [-0.8, 12, -9, 0.3, -1.5];
    for (const model of ['regret', 'partial-return'] as const) {
      const y = labelPairs(world, ref, pairs, 'regret');
      const obj = new PreferenceObjective(world, pairs, y, model);
      obj.refresh(w);
      const { grad } = obj.lossAndGrad(w);
      const h = 1e-6;
      for (let k = 0; k < w.length; k++) {
        const wp = [...w];
        const wm = [...w];
        wp[k] += h;
        wm[k] -= h;
        // Recompute V* at each perturbed point: the check covers Danskin's gradient too.
        obj.refresh(wp);
        const lp = obj.lossAndGrad(wp).loss;
        obj.refresh(wm);
        const lm = obj.lossAndGrad(wm).loss;
        expect((lp - lm) / (2 * h)).toBeCloseTo(grad[k], 5);
      }
    }
  });
});

describe('regret learner with infrequent V* updates', () => {
  it('valueEvery > 1 (psi of the last optimal policy between refreshes) still learns', () => {
    const world = deliveryGridworld();
    const ref = worldReference(world);
    const pairs = samplePairs(world.mdp, 150, 3, new Rng(1));
    const y = labelPairs(world, ref, pairs, 'regret');
    const fit = learnReward(world, pairs, y, 'regret', { ...LEARN_DEFAULTS, steps: 300, valueEvery: 10 }, new Rng(2));
    expect(fit.trainAccuracy).toBeGreaterThan(0.9);
    expect(evaluateWeights(world, ref, fit.weights).scaledReturn).toBeGreaterThan(0.9);
  });
});

describe('determinism and random MDPs', () => {
  it('random gridworlds are reproducible per seed and scorable', () => {
    const a = randomGridworld(new Rng(11).fork('mdp').fork(0), 'r');
    const b = randomGridworld(new Rng(11).fork('mdp').fork(0), 'r');
    const c = randomGridworld(new Rng(11).fork('mdp').fork(1), 'r');
    expect(renderLayout(a)).toEqual(renderLayout(b));
    expect(Array.from(a.trueWeights)).toEqual(Array.from(b.trueWeights));
    expect(renderLayout(a).join('') + a.trueWeights[1]).not.toEqual(renderLayout(c).join('') + c.trueWeights[1]);
    for (const w of [a, c]) {
      expect(w.width).toBeGreaterThanOrEqual(5);
      expect(w.width).toBeLessThanOrEqual(10);
      expect(Array.from(w.cells).filter((t) => t === CELL_GOAL).length).toBe(1);
      const ref = worldReference(w);
      expect(ref.jOptimal).toBeGreaterThan(ref.jRandom);
    }
  });

  it('an experiment run is a function of its seed', () => {
    const world = randomGridworld(new Rng(2).fork('mdp').fork(0), 'r');
    const opts = {
      budgets: [40],
      segmentLength: 3,
      oracle: { beta: 2, tieTolerance: 1e-9 },
      learn: { ...LEARN_DEFAULTS, steps: 30 },
      sources: ['regret', 'partial-return'] as const,
      models: ['regret', 'partial-return'] as const,
    };
    const r1 = runWorld(world, 0, new Rng(0).fork('r'), opts);
    const r2 = runWorld(world, 0, new Rng(0).fork('r'), opts);
    const r3 = runWorld(world, 1, new Rng(1).fork('r'), opts);
    expect(r1).toEqual(r2);
    expect(r1.map((r) => r.weights)).not.toEqual(r3.map((r) => r.weights));
  });
});

describe('learning smoke run', () => {
  it('the regret model on regret-generated preferences scores well above random (150 pairs)', () => {
    const world = deliveryGridworld();
    const scores: number[] = [];
    for (const seed of [0, 1, 2]) {
      const recs = runWorld(world, seed, new Rng(seed).fork('smoke'), {
        budgets: [150],
        segmentLength: 3,
        oracle: { beta: Infinity, tieTolerance: 1e-9 },
        learn: { ...LEARN_DEFAULTS, steps: 300 },
        sources: ['regret'],
        models: ['regret'],
      });
      scores.push(recs[0].scaledReturn);
    }
    // Random is 0 and optimal 1. Reference: for 300 random weight vectors w ~ N(0, I) on this
    // domain the scaled return of the greedy policy had mean -0.24, median 0.07, and only 1%
    // exceeded 0.9, so three independent runs all above 0.9 would happen by chance with
    // probability about 1e-6.
    for (const s of scores) expect(s).toBeGreaterThan(0.9);
  });
});
