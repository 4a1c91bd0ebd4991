/**
 * The regret preference model (Knox et al. 2022) checked against hand computations on a chain
 * small enough to solve on paper, through every implementation prefrl has of it: the plain
 * formula (reward/preference.ts), the tabular oracle and learner (reward/tabular/learn.ts) and
 * the regret teacher (reward/teachers/regret.ts).
 *
 * The chain, gamma = 1/2 (powers of two, so every number below is exact in floating point).
 * States 0, 1, 2 and the terminal state 3. Action 0 "advance" moves s -> s + 1 paying 1, 2, 4
 * (from 0, 1, 2); action 1 "stay" stays and pays 0. Features: one-hot of the advance taken
 * ([adv0, adv1, adv2]; staying has none), true weights [1, 2, 4].
 *   V*(2) = max(4 + 0, 0 + V*(2) / 2) = 4
 *   V*(1) = max(2 + 4 / 2, V*(1) / 2) = 4
 *   V*(0) = max(1 + 4 / 2, V*(0) / 2) = 3
 *   A*(0, stay) = 0 + 3 / 2 - 3 = -1.5, A*(1, stay) = 4 / 2 - 4 = -2, A*(2, stay) = -2, A*(s, advance) = 0.
 * regret(seg) = V*(s_0) - (sum_t gamma^t r_t + gamma^H V*(s_H)) = -sum_t gamma^t A*(s_t, a_t):
 *   A  0 -adv-> 1 -adv-> 2             3 - (1 + 2/2 + 4/4)      = 0
 *   B  0 -stay-> 0 -adv-> 1            3 - (0 + 1/2 + 4/4)      = 1.5   (= 1.5 - A*(0,adv)/2)
 *   C  1 -adv-> 2 -adv-> 3 (terminal)  4 - (2 + 4/2 + 0)        = 0     (V*(3) = 0)
 *   D  2 -stay-> 2 -stay-> 2 -stay-> 2 4 - (0 + 0 + 0 + 4/8)    = 3.5   (= 2 (1 + 1/2 + 1/4))
 *   E  1 -stay-> 1 -adv-> 2            4 - (0 + 2/2 + 4/4)      = 2
 * With gamma^(H-1) for the end value instead of gamma^H, B would read 3 - (1/2 + 4/2) = 0.5.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../core/rng.js';
import type { Trajectory } from '../../envs/trajectory.js';
import { bradleyTerryNll, regret, regretProb } from '../../reward/preference.js';
import { type GridWorld, makeGridWorld, parseLayout } from '../../reward/tabular/gridworld.js';
import { labelPairs, PreferenceObjective, segmentFromActions, segmentRegret, worldReference } from '../../reward/tabular/learn.js';
import { buildMdp, entryCount, linearReward, policyIteration, solveLinearOptimal, valueIteration } from '../../reward/tabular/mdp.js';
import { padSegment, sliceSegment } from '../../reward/segments.js';
import { RegretTeacher, type ValueFunction } from '../../reward/teachers/regret.js';
import type { Pair, Segment } from '../../reward/types.js';
import { handSegment } from '../helpers/segments.js';

const ADV = 0;
const STAY = 1;

/** The chain above as a GridWorld-shaped world (labelPairs and the learner read mdp, features and the true reward). */
function chain(gamma = 0.5): GridWorld {
  const { mdp } = buildMdp({
    nStates: 4,
    nActions: 2,
    gamma,
    terminal: [false, false, false, true],
    start: [1, 1, 1, 0],
    outcomes: (s, a) => [{ next: a === ADV ? s + 1 : s, prob: 1 }],
  });
  const dim = 3;
  const features = new Float64Array(entryCount(mdp) * dim);
  // Entries in (s, a) order, one per (s, a): entry 2 s is s's advance.
  for (let s = 0; s < 3; s++) features[2 * s * dim + s] = 1;
  const trueWeights = Float64Array.from([1, 2, 4]);
  return { name: 'chain', width: 4, height: 1, cells: new Uint8Array(4), mdp, features, dim, trueWeights, trueReward: linearReward(features, dim, trueWeights) };
}

function segments(w: GridWorld) {
  return {
    A: segmentFromActions(w.mdp, 0, [ADV, ADV]),
    B: segmentFromActions(w.mdp, 0, [STAY, ADV]),
    C: segmentFromActions(w.mdp, 1, [ADV, ADV]),
    D: segmentFromActions(w.mdp, 2, [STAY, STAY, STAY]),
    E: segmentFromActions(w.mdp, 1, [STAY, ADV]),
  };
}

describe('regret on a chain solved by hand (gamma 1/2)', () => {
  it('V* by value iteration and policy iteration: 3, 4, 4 and 0 at the terminal state', () => {
    const w = chain();
    expect(Array.from(valueIteration(w.mdp, w.trueReward, { tol: 1e-14 }).v)).toEqual([3, 4, 4, 0]);
    const pi = policyIteration(w.mdp, w.trueReward);
    expect(Array.from(pi.v)).toEqual([3, 4, 4, 0]);
    expect(Array.from(pi.actions.subarray(0, 3))).toEqual([ADV, ADV, ADV]);
    // Q*(s, stay) = V*(s) / 2: the optimal advantages of staying are -1.5, -2, -2.
    expect([pi.q[0 * 2 + STAY] - pi.v[0], pi.q[1 * 2 + STAY] - pi.v[1], pi.q[2 * 2 + STAY] - pi.v[2]]).toEqual([-1.5, -2, -2]);
  });

  it('segment regrets: 0 optimal, 1.5 with gamma^H on the end value (0.5 with gamma^(H-1)), terminal end worth 0, 3 steps discounted', () => {
    const w = chain();
    const v = worldReference(w).vStar;
    const s = segments(w);
    expect([s.C.steps, s.C.endsTerminal, s.D.steps, s.D.endsTerminal]).toEqual([2, true, 3, false]);
    const g = (x: (typeof s)['A']) => segmentRegret(w.mdp, x, w.trueReward, v);
    expect([g(s.A), g(s.B), g(s.C), g(s.D), g(s.E)]).toEqual([0, 1.5, 0, 3.5, 2]);
    // The plain formula, with a made-up end value that a terminal end must ignore.
    expect(regret({ rewards: [0, 1], valueStart: 3, valueEnd: 4, gamma: 0.5 })).toBe(1.5);
    expect(regret({ rewards: [2, 4], valueStart: 4, valueEnd: 99, gamma: 0.5, endsTerminal: true })).toBe(0);
    expect(regret({ rewards: [2, 4], valueStart: 4, valueEnd: 99, gamma: 0.5 })).toBe(4 - (2 + 2 + 0.25 * 99));
  });

  it('a segment cut short by a terminal state stops there; one cut by its length keeps gamma^H V*(s_H)', () => {
    const w = chain();
    const v = worldReference(w).vStar;
    // From 2: advance ends the episode after 1 of 3 actions; the rest are never taken.
    const cut = segmentFromActions(w.mdp, 2, [ADV, STAY, STAY]);
    expect([cut.steps, cut.endsTerminal, Array.from(cut.states)]).toEqual([1, true, [2, 3]]);
    expect(segmentRegret(w.mdp, cut, w.trueReward, v)).toBe(0);
    // Truncated by the segment length (1 step) in a non-terminal state: 3 - (1 + 4 / 2) = 0; staying: 3 - 3 / 2 = 1.5.
    expect(segmentRegret(w.mdp, segmentFromActions(w.mdp, 0, [ADV]), w.trueReward, v)).toBe(0);
    expect(segmentRegret(w.mdp, segmentFromActions(w.mdp, 0, [STAY]), w.trueReward, v)).toBe(1.5);
  });

  it('oracle labels: lower regret first -> 1, equal regrets -> 0.5, although partial return ranks them otherwise', () => {
    const w = chain();
    const ref = worldReference(w);
    const s = segments(w);
    const pairs = [
      { a: s.A, b: s.B }, // regrets 0 < 1.5 -> 1; returns 3 > 1 -> 1
      { a: s.B, b: s.A }, // -> 0 for both
      { a: s.A, b: s.C }, // regrets 0 = 0 -> 0.5; returns 3 < 6 -> 0
      { a: s.D, b: s.E }, // regrets 3.5 > 2 -> 0; returns 0 < 2 -> 0
      { a: s.B, b: s.E }, // regrets 1.5 < 2 -> 1; returns 1 < 2 -> 0
    ];
    expect(Array.from(labelPairs(w, ref, pairs, 'regret'))).toEqual([1, 0, 0.5, 0, 1]);
    expect(Array.from(labelPairs(w, ref, pairs, 'partial-return'))).toEqual([1, 0, 0, 0, 0]);
  });

  it('stochastic oracle: P(first) = sigmoid(beta (regret(b) - regret(a))), so beta 2 on regrets 1.5 vs 2 gives sigmoid(1) = 0.731', () => {
    const w = chain();
    const ref = worldReference(w);
    const s = segments(w);
    const n = 4000;
    const pairs = Array.from({ length: n }, () => ({ a: s.B, b: s.E }));
    const y = labelPairs(w, ref, pairs, 'regret', { beta: 2, tieTolerance: 0 }, new Rng(11));
    const rate = y.reduce((t, x) => t + x, 0) / n;
    const p = 1 / (1 + Math.exp(-1));
    expect(regretProb(1.5, 2, 1 / 2)).toBeCloseTo(p, 15);
    // Binomial s.e. sqrt(p (1 - p) / n) = 0.007; beta read as a temperature would give sigmoid(0.25) = 0.56, the wrong direction 0.27.
    expect(Math.abs(rate - p)).toBeLessThan(0.03);
  });
});

describe('the regret model as a learner on the chain: logit, loss and gradient by hand', () => {
  // Successor features of the optimal policy (advance everywhere): psi(0) = [1, 1/2, 1/4],
  // psi(1) = [0, 1, 1/2], psi(2) = [0, 0, 1]. d regret(x)/dw = psi(s_0) - sum_t gamma^t phi_t - gamma^H psi(s_H):
  //   A: [1, 1/2, 1/4] - [1, 1/2, 0] - [0, 0, 1/4] = 0;   B: [1, 1/2, 1/4] - [1/2, 0, 0] - [0, 1/4, 1/8] = [1/2, 1/4, 1/8]
  // (regret_w(B) = w0/2 + w1/4 + w2/8, 1.5 at the true weights).
  it('successor features of the optimal policy', () => {
    const w = chain();
    const sol = solveLinearOptimal(w.mdp, w.features, w.dim, w.trueWeights);
    expect(Array.from(sol.psi.subarray(0, 9))).toEqual([1, 0.5, 0.25, 0, 1, 0.5, 0, 0, 1]);
    expect(Array.from(sol.v)).toEqual([3, 4, 4, 0]);
  });

  it('pair (B, A): logit regret(A) - regret(B) = -1.5; NLL and gradient for labels 0, 1 and the tie 0.5', () => {
    const w = chain();
    const s = segments(w);
    const sig = 1 / (1 + Math.exp(1.5)); // sigmoid(-1.5)
    for (const y of [0, 1, 0.5]) {
      const obj = new PreferenceObjective(w, [{ a: s.B, b: s.A }], [y], 'regret');
      obj.refresh(w.trueWeights);
      expect(obj.logit(0, w.trueWeights)).toBe(-1.5);
      const { loss, grad } = obj.lossAndGrad(w.trueWeights);
      // -(y log sigmoid(-1.5) + (1 - y) log sigmoid(1.5)); a tie costs log(1 + e^-1.5) + 0.75.
      expect(loss).toBeCloseTo(-(y * Math.log(sig) + (1 - y) * Math.log(1 - sig)), 14);
      expect(loss).toBeCloseTo(bradleyTerryNll(-1.5, y), 14);
      // (sigmoid(d) - y) d(logit)/dw, d(logit)/dw = d regret(A) - d regret(B) = -[1/2, 1/4, 1/8].
      const c = sig - y;
      expect(Array.from(grad)).toEqual([-c / 2, -c / 4, -c / 8].map((x) => expect.closeTo(x, 14)));
    }
    expect(bradleyTerryNll(-1.5, 0.5)).toBeCloseTo(Math.log1p(Math.exp(-1.5)) + 0.75, 14);
  });

  it('the loss stays finite and exact for huge regret differences (logit 1e6)', () => {
    expect(bradleyTerryNll(-1e6, 1)).toBe(1e6);
    expect(bradleyTerryNll(1e6, 0)).toBe(1e6);
    expect(bradleyTerryNll(1e6, 0.5)).toBe(5e5);
    expect(bradleyTerryNll(1e6, 1)).toBe(0);
    expect(regretProb(0, 1e6)).toBe(1);
    expect(regretProb(1e6, 0)).toBe(0);
  });
});

describe('gamma = 1 (undiscounted, the paper\'s delivery setting)', () => {
  // The chain at gamma 1: V*(2) = 4, V*(1) = 6, V*(0) = 7. Policy iteration used to start from
  // action 0 everywhere; here that is "advance" and ends its episode, so the start that never
  // ends is checked on a chain whose action 0 is "stay" (below).
  it('V* and regrets of the chain at gamma 1: 7, 6, 4; B = 7 - (0 + 1 + 6) = 0 (staying is free), D = 4 - 0 - 4 = 0', () => {
    const w = chain(1);
    const ref = worldReference(w);
    expect(Array.from(ref.vStar)).toEqual([7, 6, 4, 0]);
    const s = segments(w);
    const g = (x: (typeof s)['A']) => segmentRegret(w.mdp, x, w.trueReward, ref.vStar);
    expect([g(s.A), g(s.B), g(s.C), g(s.D), g(s.E)]).toEqual([0, 0, 0, 0, 0]);
  });

  it('policy iteration at gamma 1 no longer fails when action 0 never ends the episode (it failed with "singular system")', () => {
    // Actions swapped: 0 = stay (free, never ends), 1 = advance; a step cost of 1 on staying so
    // that every cycle costs something. V*(2) = 4, V*(1) = 6, V*(0) = 7 as before.
    const { mdp, reward } = buildMdp({
      nStates: 4,
      nActions: 2,
      gamma: 1,
      terminal: [false, false, false, true],
      outcomes: (s, a) => (a === 0 ? [{ next: s, prob: 1, reward: -1 }] : [{ next: s + 1, prob: 1, reward: [1, 2, 4][s] }]),
    });
    const pi = policyIteration(mdp, reward);
    expect(Array.from(pi.v)).toEqual([7, 6, 4, 0]);
    expect(Array.from(pi.actions.subarray(0, 3))).toEqual([1, 1, 1]);
    // The same through successor features (the regret learner's solver): features [stay, adv0, adv1, adv2],
    // weights [-1, 1, 2, 4]; psi(0) = [0, 1, 1, 1] (three advances, undiscounted).
    const features = new Float64Array(entryCount(mdp) * 4);
    for (let s = 0; s < 3; s++) {
      features[(2 * s) * 4] = 1;
      features[(2 * s + 1) * 4 + 1 + s] = 1;
    }
    const lin = solveLinearOptimal(mdp, features, 4, [-1, 1, 2, 4]);
    expect(Array.from(lin.v)).toEqual([7, 6, 4, 0]);
    expect(Array.from(lin.psi.subarray(0, 4))).toEqual([0, 1, 1, 1]);
    // Warm-started from the never-ending policy the caller gave: the error says what it means.
    expect(() => policyIteration(mdp, reward, [0, 0, 0, 0])).toThrow(
      'policyIteration: with gamma = 1 a policy on the way never ends its episode (a state that cannot reach a terminal state, or a cycle of states worth >= 0 under this reward), so its values are not finite; use gamma < 1',
    );
    // A state that cannot reach a terminal state: no finite values for any policy.
    const stuck = buildMdp({ nStates: 2, nActions: 1, gamma: 1, terminal: [false, true], outcomes: (s) => [{ next: s, prob: 1, reward: -1 }] });
    expect(() => policyIteration(stuck.mdp, stuck.reward)).toThrow(/^policyIteration: with gamma = 1 a policy on the way never ends its episode/);
  });

  it('the 1 x 4 gridworld ". S . G" at gamma 1 (its first action bumps forever): V*, J*, J(random) and regrets by hand', () => {
    // Step -1, goal +10, sheep -50. V*(2) = -1 + 10 = 9; V*(0) = -1 - 50 = -51 (bumping forever is worth -infinity).
    // J* = (-51 + 9) / 2 = -21. Random: V(0) = (-51 + 3 (-1 + V(0))) / 4 => V(0) = -54;
    // V(2) = (9 - 51 + 2 (-1 + V(2))) / 4 => V(2) = -22; J(random) = -38.
    const { width, height, cells } = parseLayout(['.S.G']);
    const w = makeGridWorld('tiny1', width, height, cells, [-1, 10, -50, 0, 0], 1);
    const ref = worldReference(w); // threw "solveLinear: singular system" before
    expect([ref.vStar[0], ref.vStar[2]].map((x) => Math.round(x * 1e9) / 1e9)).toEqual([-51, 9]);
    expect(ref.jOptimal).toBeCloseTo(-21, 10);
    expect(ref.jRandom).toBeCloseTo(-38, 10);
    // Bumping once in 0: -51 - (-1 - 51) = 1; into the goal from 2: 9 - 9 = 0; into the sheep from 0: -51 - (-51) = 0.
    const UP = 0;
    const RIGHT = 1;
    const r = (start: number, actions: number[]) => segmentRegret(w.mdp, segmentFromActions(w.mdp, start, actions), w.trueReward, ref.vStar);
    expect(r(0, [UP])).toBeCloseTo(1, 10);
    expect(r(2, [RIGHT])).toBeCloseTo(0, 10);
    expect(r(0, [RIGHT])).toBeCloseTo(0, 10);
    expect(Array.from(labelPairs(w, ref, [{ a: segmentFromActions(w.mdp, 0, [RIGHT]), b: segmentFromActions(w.mdp, 0, [UP]) }], 'regret'))).toEqual([1]);
  });

  it('the learner still refuses the regret model at gamma 1 (V* of a learned reward may be infinite)', () => {
    const w = chain(1);
    const s = segments(w);
    expect(() => new PreferenceObjective(w, [{ a: s.A, b: s.B }], [1], 'regret')).toThrow('PreferenceObjective: the regret model needs gamma < 1');
    expect(() => new PreferenceObjective(w, [{ a: s.A, b: s.B }], [1], 'partial-return')).not.toThrow();
  });
});

describe('the regret teacher (segments of a continuous task, V* from a value function)', () => {
  /** States 0..h in qpos[0]; rewards as given. */
  function seg(id: string, first: number, rewards: number[], endsTerminal = false): Segment {
    const states = Array.from({ length: rewards.length + 1 }, (_, i) => first + i);
    return handSegment(id, rewards.length, { obs: Float32Array.from(states), qpos: Float64Array.from(states), rewards: Float64Array.from(rewards), endsTerminal });
  }
  /** V by qpos[0]: the chain's A (states 0, 1, 2: V 3, 4, 4), B (10, 11, 12: V 3, 3, 4) and a terminal C (20, 21, 22). */
  const V: Record<number, number> = { 0: 3, 1: 4, 2: 4, 10: 3, 11: 3, 12: 4, 20: 4, 21: 4, 22: 1000 };
  const vf: ValueFunction = { value: (_o, st) => V[st.qpos[0]] };
  const A = seg('A', 0, [1, 2]);
  const B = seg('B', 10, [0, 1]);
  const C = seg('C', 20, [2, 4], true);

  it('regrets with gamma 1/2: A 0, B 1.5, C 0 (its end value 1000 unused); labels 1 / 0 / tie', async () => {
    const t = new RegretTeacher({ values: vf, gamma: 0.5 });
    const pairs: Pair[] = [
      { id: 'ab', a: A, b: B },
      { id: 'ba', a: B, b: A },
      { id: 'ac', a: A, b: C },
    ];
    expect(Array.from(t.regrets(pairs))).toEqual([0, 1.5, 1.5, 0, 0, 0]);
    const labels = await t.label(pairs);
    expect(labels.map((l) => (l.kind === 'preference' ? l.probFirst : null))).toEqual([1, 0, 0.5]);
    expect(JSON.parse(labels[0].raw ?? '{}')).toEqual({ regretA: 0, regretB: 1.5 });
  });

  it('the default gamma 1 with values discounted at 1/2 is not a regret: the optimal A reads -(1 - gamma) (V(s_1) + V(s_2)) = -4', () => {
    // Undiscounted statistic V(s_0) - sum r - V(s_H) (CPL's oracle statistic, negated): A 3 - 3 - 4 = -4, B 3 - 1 - 4 = -2.
    // Both are below 0 and the ranking here agrees (A first), but an optimal segment no longer reads 0:
    // pass regret:gamma=<the critic's gamma> for the discounted regret of the critic's own values.
    const t = new RegretTeacher({ values: vf });
    expect(t.gamma).toBe(1);
    expect(Array.from(t.regrets([{ id: 'ab', a: A, b: B }]))).toEqual([-4, -2]);
  });

  it('stochastic: first preferred at rate sigmoid(beta (regret(b) - regret(a))) = sigmoid(2 x 1.5) = 0.953 for beta 2', async () => {
    const t = new RegretTeacher({ values: vf, gamma: 0.5, beta: 2, rng: new Rng(5) });
    const n = 3000;
    const labels = await t.label(Array.from({ length: n }, (_, i) => ({ id: `p${i}`, a: A, b: B })));
    const rate = labels.reduce((s, l) => s + (l.kind === 'preference' ? l.probFirst : 0), 0) / n;
    // s.e. 0.004; temperature 2 instead of beta 2 would give sigmoid(0.75) = 0.68.
    expect(Math.abs(rate - 1 / (1 + Math.exp(-3)))).toBeLessThan(0.02);
    // Huge regret differences do not make NaN probabilities: beta 1 on regrets 0 vs 1e6 always prefers the first.
    const far = seg('far', 30, [0, 0]);
    const big = new RegretTeacher({ values: { value: (_o, st) => (st.qpos[0] === 30 ? 1e6 : 0) }, beta: 1, rng: new Rng(1) });
    const out = await big.label(Array.from({ length: 20 }, (_, i) => ({ id: `q${i}`, a: A, b: far })));
    expect(out.every((l) => l.kind === 'preference' && l.probFirst === 1)).toBe(true);
  });

  it('segments cut from episodes: a window ending where the episode terminated ignores V(s_H), one ending at a truncation uses it, padding adds gamma-discounted zeros', async () => {
    /** An episode through the given states (qpos[0]) with these rewards. */
    const episode = (states: number[], rewards: number[], terminated: boolean): Trajectory => ({
      ...handSegment('ep', rewards.length, { obs: Float32Array.from(states), qpos: Float64Array.from(states), rewards: Float64Array.from(rewards) }),
      t0: 0,
      terminated,
      truncated: !terminated,
      unstable: false,
    });
    // The chain's optimal episode 0 -> 1 -> 2 -> 3 (terminal; its table value 1000 must never be used).
    const vt: ValueFunction = { value: (_o, st) => ({ 0: 3, 1: 4, 2: 4, 3: 1000, 10: 3, 11: 3, 12: 4 })[st.qpos[0]] as number };
    const done = episode([0, 1, 2, 3], [1, 2, 4], true);
    const head = sliceSegment(done, 0, 2); // 0, 1, 2: 3 - (1 + 2/2 + 4/4) = 0
    const tail = sliceSegment(done, 1, 2); // 1, 2, 3 terminal: 4 - (2 + 4/2) = 0
    const padded = padSegment(done, 5); // 0..3 then 3 twice: rewards 1, 2, 4, 0, 0 -> 3 - (1 + 1 + 1) = 0
    expect([head.endsTerminal, tail.endsTerminal, padded.endsTerminal]).toEqual([false, true, true]);
    expect(Array.from(padded.rewards)).toEqual([1, 2, 4, 0, 0]);
    // The stay-then-advance episode, cut by the time limit after 2 steps in state 12: 3 - (0 + 1/2 + 4/4) = 1.5.
    const cut = sliceSegment(episode([10, 11, 12], [0, 1], false), 0, 2);
    expect(cut.endsTerminal).toBe(false);
    const t = new RegretTeacher({ values: vt, gamma: 0.5 });
    expect(Array.from(t.regrets([{ id: 'x', a: head, b: tail }, { id: 'y', a: padded, b: padded }, { id: 'z', a: cut, b: head }]))).toEqual([0, 0, 0, 0, 1.5, 0]);
    const labels = await t.label([{ id: 'z', a: cut, b: head }]);
    expect(labels[0].kind === 'preference' && labels[0].probFirst).toBe(0);
    expect(() => padSegment(episode([10, 11, 12], [0, 1], false), 4)).toThrow('padSegment: the trajectory did not terminate');
  });
});
