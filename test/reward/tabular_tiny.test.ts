/**
 * The tabular pipeline on a gridworld small enough to solve by hand, with a start state from which
 * the destination cannot be reached (a sheep is in the way) and whose optimal policy never ends
 * its episode (bumping into the wall forever at gamma = 0.9 beats running into the sheep).
 *
 * Layout ". S . G" (1 x 4): states 0 road, 1 sheep (terminal), 2 road, 3 goal (terminal); start
 * uniform over {0, 2}. Weights: step -1, goal +10, sheep -50; gamma 0.9. Actions up, right,
 * down, left; up/down (and left in state 0) bump and stay.
 *   V*(2) = -1 + 10 = 9 (right, into the goal).
 *   V*(0) = max(into the sheep: -51, stay forever: -1 / (1 - 0.9) = -10) = -10.
 *   J* = (-10 + 9) / 2 = -0.5.
 * Uniformly random policy:
 *   V(0) = 1/4 (-51) + 3/4 (-1 + 0.9 V(0))  =>  0.325 V(0) = -13.5  =>  V(0) = -41.538461538...
 *   V(2) = 1/4 (9) + 1/4 (-51) + 1/2 (-1 + 0.9 V(2))  =>  0.55 V(2) = -11  =>  V(2) = -20.
 *   J(random) = (-41.538461538 - 20) / 2 = -30.769230769...
 * "Always right": V(0) = -51, V(2) = 9, J = -21; scaled return (-21 + 30.76923) / (-0.5 + 30.76923)
 *   = 9.769230769 / 30.269230769 = 0.322744600...
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../core/rng.js';
import { makeGridWorld, parseLayout } from '../../reward/tabular/gridworld.js';
import { evaluateWeights, labelPairs, sampleIndex, segmentFromActions, segmentRegret, terminalProbabilities, worldReference } from '../../reward/tabular/learn.js';
import { deterministicPolicy, evaluatePolicy, expectedReturn, greedyPolicy, policyIteration, scaledReturn, uniformRandomPolicy, valueIteration } from '../../reward/tabular/mdp.js';

const UP = 0;
const RIGHT = 1;
const LEFT = 3;

function tiny() {
  const { width, height, cells } = parseLayout(['.S.G']);
  return makeGridWorld('tiny', width, height, cells, [-1, 10, -50, 0, 0], 0.9);
}

describe('tabular: a 1 x 4 gridworld solved by hand (unreachable goal, never-ending optimal policy)', () => {
  it('start distribution, V* by value and policy iteration, J* and J(random)', () => {
    const w = tiny();
    expect(Array.from(w.mdp.start)).toEqual([0.5, 0, 0.5, 0]);
    const vi = valueIteration(w.mdp, w.trueReward, { tol: 1e-13 });
    expect(vi.v[0]).toBeCloseTo(-10, 9);
    expect(vi.v[2]).toBeCloseTo(9, 12);
    expect([vi.v[1], vi.v[3]]).toEqual([0, 0]);
    const pi = policyIteration(w.mdp, w.trueReward);
    expect(pi.v[0]).toBeCloseTo(-10, 12);
    expect(pi.v[2]).toBeCloseTo(9, 12);
    // State 0: "up", the first of the three tied bumps (up, down, left); state 2: right.
    expect([pi.actions[0], pi.actions[2]]).toEqual([UP, RIGHT]);
    // Q*(0, right) = -51 (into the sheep), Q*(2, left) = -51, Q*(2, up) = -1 + 0.9 * 9 = 7.1.
    expect(pi.q[0 * 4 + RIGHT]).toBeCloseTo(-51, 12);
    expect(pi.q[2 * 4 + LEFT]).toBeCloseTo(-51, 12);
    expect(pi.q[2 * 4 + UP]).toBeCloseTo(7.1, 12);
    const v = evaluatePolicy(w.mdp, uniformRandomPolicy(w.mdp), w.trueReward);
    expect(v[0]).toBeCloseTo(-13.5 / 0.325, 10);
    expect(v[2]).toBeCloseTo(-20, 10);
    const ref = worldReference(w);
    expect(ref.jOptimal).toBeCloseTo(-0.5, 12);
    expect(ref.jRandom).toBeCloseTo((-13.5 / 0.325 - 20) / 2, 10);
  });

  it('mean scaled return of known policies; where their episodes end', () => {
    const w = tiny();
    const ref = worldReference(w);
    const right = deterministicPolicy(w.mdp, [RIGHT, RIGHT, RIGHT, RIGHT]);
    expect(expectedReturn(w.mdp, right, w.trueReward)).toBeCloseTo(-21, 12);
    expect(scaledReturn(-21, ref.jOptimal, ref.jRandom)).toBeCloseTo(9.769230769230769 / 30.269230769230769, 10);
    expect(scaledReturn(-21, ref.jOptimal, ref.jRandom)).toBeCloseTo(0.3227446, 6);
    expect(terminalProbabilities(w, right)).toEqual({ pGoal: 0.5, pSheep: 0.5 });
    // The optimal policy (uniform over the three bumps in state 0) never ends from state 0.
    const opt = greedyPolicy(w.mdp, policyIteration(w.mdp, w.trueReward).q);
    expect(Array.from(opt.subarray(0, 4))).toEqual([1 / 3, 0, 1 / 3, 1 / 3]);
    expect(terminalProbabilities(w, opt)).toEqual({ pGoal: 0.5, pSheep: 0 });
    const ev = evaluateWeights(w, ref, w.trueWeights);
    expect(ev.scaledReturn).toBeCloseTo(1, 12);
    expect([ev.pGoal, ev.pSheep]).toEqual([0.5, 0]);
    // A reward that pays for the sheep: its optimal policy runs into the sheep from both states
    // (V(0) = -1 + 50 = 49 beats bumping; from 2, left (49) beats the goal (9)): J = -51, scaled
    // (-51 + 30.76923) / 30.26923 = -0.668360...
    const bad = evaluateWeights(w, ref, [-1, 10, 50, 0, 0]);
    expect(bad.jLearned).toBeCloseTo(-51, 10);
    expect(bad.scaledReturn).toBeCloseTo((-51 + (13.5 / 0.325 + 20) / 2) / (-0.5 + (13.5 / 0.325 + 20) / 2), 10);
    expect([bad.pGoal, bad.pSheep]).toEqual([0, 1]);
  });

  it('segment regrets by hand; the regret oracle tells apart what partial return calls a tie', () => {
    const w = tiny();
    const ref = worldReference(w);
    const stay0 = segmentFromActions(w.mdp, 0, [UP]); // optimal in 0: regret -10 - (-1 + 0.9 (-10)) = 0
    const stay2 = segmentFromActions(w.mdp, 2, [UP]); // regret 9 - (-1 + 0.9 * 9) = 1.9
    const sheep0 = segmentFromActions(w.mdp, 0, [RIGHT, UP]); // into the sheep, stops: regret -10 - (-51) = 41
    const goal2 = segmentFromActions(w.mdp, 2, [RIGHT, RIGHT]); // into the goal, stops: regret 9 - 9 = 0
    expect(segmentRegret(w.mdp, stay0, w.trueReward, ref.vStar)).toBeCloseTo(0, 12);
    expect(segmentRegret(w.mdp, stay2, w.trueReward, ref.vStar)).toBeCloseTo(1.9, 12);
    expect([sheep0.steps, sheep0.endsTerminal, goal2.steps, goal2.endsTerminal]).toEqual([1, true, 1, true]);
    expect(segmentRegret(w.mdp, sheep0, w.trueReward, ref.vStar)).toBeCloseTo(41, 12);
    expect(segmentRegret(w.mdp, goal2, w.trueReward, ref.vStar)).toBeCloseTo(0, 12);
    const pairs = [
      { a: stay0, b: stay2 }, // returns -1, -1: partial return 0.5; regret 0 < 1.9: 1
      { a: sheep0, b: stay0 }, // -51 < -1: 0 for both
      { a: goal2, b: stay0 }, // returns 9 > -1: 1; regrets 0 = 0: a tie for the regret oracle
    ];
    expect(Array.from(labelPairs(w, ref, pairs, 'partial-return'))).toEqual([0.5, 0, 1]);
    expect(Array.from(labelPairs(w, ref, pairs, 'regret'))).toEqual([1, 0, 0.5]);
    // A finite beta draws each pair from its own stream: the same labels for the same seed.
    const a = labelPairs(w, ref, pairs, 'regret', { beta: 1, tieTolerance: 0 }, new Rng(4));
    expect(Array.from(labelPairs(w, ref, pairs, 'regret', { beta: 1, tieTolerance: 0 }, new Rng(4)))).toEqual(Array.from(a));
  });
});

describe('sampleIndex', () => {
  it('inverts the cumulative sum, within [from, to), and never returns an entry of probability 0 when rounding leaves the sum under u', () => {
    const p = [0.25, 0.5, 0.25];
    expect([0, 0.2499, 0.25, 0.7499, 0.75, 0.9999].map((u) => sampleIndex(p, u))).toEqual([0, 0, 1, 1, 2, 2]);
    // a slice: entries 1..3 of [9, 0.5, 0.5, 9]
    expect(sampleIndex([9, 0.5, 0.5, 9], 0.6, 1, 3)).toBe(2);
    // 0.7 + 0.2 + 0.1 sums to 1 - 2^-53 in floating point, the largest u below 1; then a state of
    // probability 0 (a terminal state no episode starts in): the last possible entry, index 2
    const start = [0.7, 0.2, 0.1, 0];
    const u = 1 - 2 ** -53;
    expect(start[0] + start[1] + start[2]).toBe(u);
    expect(sampleIndex(start, u)).toBe(2);
  });
});
