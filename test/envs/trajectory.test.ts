import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { InputError } from '../../core/errors.js';
import { writeNpy } from '../../core/npy.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../core/rng.js';
import { makeEnv } from '../../envs/registry.js';
import { randomPolicy, rollout } from '../../envs/rollout.js';
import { concat, loadTrajectories, saveTrajectories, stateAt, trajectoryReturn } from '../../envs/trajectory.js';
import { ToyReachEnv } from '../../envs/toy.js';
import { cutSegments, makePair, padSegment, randomOffsets, sampleSegments, segmentReturn, sliceSegment, windowCount } from '../../reward/segments.js';
import { trimEpisodes } from '../../reward/loop.js';
import type { Trajectory } from '../../envs/trajectory.js';

describe('trajectories', () => {
  it('rollouts are deterministic for a seed and record T steps with T+1 states', () => {
    const run = (seed: number) => {
      const env = new ToyReachEnv();
      return rollout(env, randomPolicy(env.spec, new Rng(seed)), { episodes: 3, seed });
    };
    const a = run(5);
    const b = run(5);
    expect(a.length).toBe(3);
    for (let i = 0; i < 3; i++) {
      expect(a[i].length).toBe(50);
      expect(a[i].obs.length).toBe(51 * 6);
      expect(a[i].qpos.length).toBe(51 * 4);
      expect(a[i].actions.length).toBe(50 * 2);
      expect(a[i].terms.length).toBe(50 * 3);
      expect(a[i].time.length).toBe(51);
      expect(a[i].truncated).toBe(true);
      expect(Array.from(a[i].obs)).toEqual(Array.from(b[i].obs));
    }
    expect(trajectoryReturn(a[0])).not.toBe(trajectoryReturn(run(6)[0]));
  });

  it('a trajectory of a MuJoCo env replays exactly from any recorded state', async () => {
    const env = await makeEnv('cheetah-run');
    try {
      const [tr] = rollout(env, randomPolicy(env.spec, new Rng(1)), { episodes: 1, seed: 1, maxSteps: 120 });
      const k = 70;
      env.setState(stateAt(tr, k));
      for (let i = k; i < tr.length; i++) {
        const r = env.step(tr.actions.subarray(i * tr.actDim, (i + 1) * tr.actDim));
        expect(Array.from(r.obs)).toEqual(Array.from(tr.obs.subarray((i + 1) * tr.obsDim, (i + 2) * tr.obsDim)));
        expect(r.reward).toBe(tr.rewards[i]);
      }
      expect(Array.from(env.getState().qpos)).toEqual(Array.from(tr.qpos.subarray(tr.length * tr.nq)));
    } finally {
      env.dispose();
    }
  });

  it('saves to .npy files and loads back bit for bit, with errors naming the file', () => {
    const env = new ToyReachEnv();
    const trajs = rollout(env, randomPolicy(env.spec, new Rng(2)), { episodes: 3, seed: 2, maxSteps: 20 + 7 });
    const dir = mkdtempSync(join(tmpdir(), 'traj-'));
    saveTrajectories(dir, trajs);
    const back = loadTrajectories(dir);
    expect(back.length).toBe(3);
    for (let i = 0; i < 3; i++) {
      for (const key of ['obs', 'actions', 'rewards', 'terms', 'qpos', 'qvel', 'time'] as const) {
        expect(Array.from(back[i][key])).toEqual(Array.from(trajs[i][key]));
      }
      expect(back[i].length).toBe(27);
      expect(back[i].truncated).toBe(trajs[i].truncated);
    }
    // A damaged index.json or arrays of another dtype: an InputError naming the file and field,
    // never a TypeError or episodes cut from the wrong rows.
    const indexPath = join(dir, 'index.json');
    const good = readFileSync(indexPath, 'utf8');
    const broken: [string, (ix: Record<string, any>) => unknown, string][] = [
      ['null', () => null, `${indexPath}: not a trajectory index (a JSON object with format, dims and episodes)`],
      ['no episodes', (ix) => ({ ...ix, episodes: undefined }), `${indexPath} (episodes): must be an array of {start, length, t0, terminated, truncated, unstable}`],
      ['no dims', (ix) => ({ ...ix, dims: undefined }), `${indexPath} (dims): must be an object of non-negative integers obsDim, actDim, nTerms, nq, nv, na`],
      ['bad dim', (ix) => ({ ...ix, dims: { ...ix.dims, nq: -1 } }), `${indexPath} (dims.nq): must be a non-negative integer, got -1`],
      ['overlap', (ix) => ({ ...ix, episodes: ix.episodes.map((e: { start: number }, k: number) => ({ ...e, start: k * 20 })) }), `${indexPath} (episodes[1].start): 20, expected 27 (the steps of the episodes before it)`],
      ['bad length', (ix) => ({ ...ix, episodes: ix.episodes.map((e: object, k: number) => (k === 2 ? { ...e, length: 26.5 } : e)) }), `${indexPath} (episodes[2].length): must be a non-negative integer, got 26.5`],
      ['bad t0', (ix) => ({ ...ix, episodes: ix.episodes.map((e: object, k: number) => (k === 0 ? { ...e, t0: 'x' } : e)) }), `${indexPath} (episodes[0].t0): must be a non-negative integer, got "x"`],
    ];
    for (const [what, edit, message] of broken) {
      writeFileSync(indexPath, JSON.stringify(edit(JSON.parse(good))));
      let err: unknown = null;
      try {
        loadTrajectories(dir);
      } catch (e) {
        err = e;
      }
      expect(err, what).toBeInstanceOf(InputError);
      expect((err as Error).message, what).toBe(message);
    }
    writeFileSync(indexPath, good);
    const obsFile = join(dir, 'obs.npy');
    const obs = readFileSync(obsFile);
    writeNpy(obsFile, Float64Array.from(concat(trajs.map((t) => t.obs), (n) => new Float32Array(n))), [3 * 28, env.spec.obsDim]);
    expect(() => loadTrajectories(dir)).toThrow(`${obsFile}: holds <f8 values; a trajectory folder stores obs as <f4 (float32)`);
    writeFileSync(obsFile, obs);
    expect(loadTrajectories(dir)).toHaveLength(3);
    const bad = Float32Array.from(concat(trajs.map((t) => t.obs), (n) => new Float32Array(n)));
    bad[5 * env.spec.obsDim + 1] = Number.NaN;
    writeNpy(obsFile, bad, [3 * 28, env.spec.obsDim]);
    expect(() => loadTrajectories(dir)).toThrow(`${obsFile}: row 5, column 1 is NaN; a trajectory folder holds finite values only`);
    const timeFile = join(dir, 'time.npy');
    const time = readFileSync(timeFile);
    writeNpy(timeFile, Float64Array.from({ length: 3 * 28 }, (_, i) => (i === 30 ? Number.POSITIVE_INFINITY : i)), [3 * 28, 1]);
    writeFileSync(obsFile, obs);
    expect(() => loadTrajectories(dir)).toThrow(`${timeFile}: row 30 is Infinity; a trajectory folder holds finite values only`);
    writeFileSync(timeFile, time);
    expect(loadTrajectories(dir)).toHaveLength(3);
    // success is NaN for an env without a success measure (a bring-your-own model's default task).
    const successFile = join(dir, 'success.npy');
    const success = readFileSync(successFile);
    writeNpy(successFile, new Float32Array(3 * 27).fill(Number.NaN), [3 * 27, 1]);
    expect(Number.isNaN(loadTrajectories(dir)[1].success[4])).toBe(true);
    writeNpy(successFile, Float32Array.from({ length: 3 * 27 }, (_, i) => (i === 7 ? Number.NEGATIVE_INFINITY : 0)), [3 * 27, 1]);
    expect(() => loadTrajectories(dir)).toThrow(`${successFile}: row 7 is -Infinity; a trajectory folder holds finite values only`);
    writeFileSync(successFile, success);
    writeFileSync(join(dir, 'rewards.npy'), 'garbage');
    expect(() => loadTrajectories(dir)).toThrow(/rewards\.npy: not a NumPy \.npy file/);
    expect(() => loadTrajectories(join(dir, 'nope'))).toThrow(/not a trajectory folder/);
  });
});

describe('segments', () => {
  const env = new ToyReachEnv();
  const trajs = rollout(env, randomPolicy(env.spec, new Rng(3)), { episodes: 2, seed: 3 });

  it('cuts non-overlapping windows with their states, actions and true rewards', () => {
    const segs = cutSegments(trajs, { length: 20 });
    expect(segs.length).toBe(4); // floor(50 / 20) = 2 per episode
    const s = segs[1];
    expect(s.length).toBe(20);
    expect(s.startStep).toBe(20);
    expect(s.obs.length).toBe(21 * 6);
    expect(Array.from(s.rewards)).toEqual(Array.from(trajs[0].rewards.subarray(20, 40)));
    expect(Array.from(s.qpos.subarray(0, 4))).toEqual(Array.from(trajs[0].qpos.subarray(20 * 4, 21 * 4)));
    expect(s.endsTerminal).toBe(false);
    expect(s.source).toBe('#0');
    // ids are content hashes: the same window always gets the same id, different windows differ
    expect(sliceSegment(trajs[0], 20, 20, 'x').id).toBe(s.id);
    expect(new Set(segs.map((x) => x.id)).size).toBe(4);
    expect(cutSegments(trajs, { length: 20, stride: 10 }).length).toBe(8); // starts 0,10,20,30 per episode
  });

  it('starts each trajectory\'s windows at its offset, and draws offsets below the stride', () => {
    // 50-step episodes, 20-step windows: offset 7 gives starts 7 and 27 (47 would end at 67)
    const segs = cutSegments(trajs, { length: 20, offsets: [7, 0] });
    expect(segs.map((s) => s.startStep)).toEqual([7, 27, 0, 20]);
    expect(Array.from(segs[0].rewards)).toEqual(Array.from(trajs[0].rewards.subarray(7, 27)));
    expect(segs[0].id).toBe(sliceSegment(trajs[0], 7, 20).id);
    expect(windowCount(trajs[0], { length: 20 }, 7)).toBe(2);
    expect(windowCount(trajs[0], { length: 20 }, 11)).toBe(1); // 11 + 20 + 20 = 51 > 50
    expect(windowCount(trajs[0], { length: 20 }, 31)).toBe(0);
    expect(cutSegments([trajs[0]], { length: 20, offsets: [31] })).toEqual([]);
    expect(() => cutSegments(trajs, { length: 20, offsets: [1] })).toThrow(/1 offsets for 2 trajectories/);
    expect(() => cutSegments(trajs, { length: 20, offsets: [1, -2] })).toThrow(/non-negative integers, got -2/);
    // offsets lie in [0, stride) and leave room for a window: a 50-step episode with 45-step
    // windows can only start at 0..5
    const rng = new Rng(2);
    const many = Array.from({ length: 200 }, () => randomOffsets(trajs, { length: 20 }, rng)).flat();
    expect(Math.min(...many)).toBe(0);
    expect(Math.max(...many)).toBe(19);
    const tight = Array.from({ length: 200 }, () => randomOffsets(trajs, { length: 45 }, rng)).flat();
    expect(Math.max(...tight)).toBe(5);
    expect(new Set(tight).size).toBe(6);
    // the same stream gives the same offsets
    expect(randomOffsets(trajs, { length: 20 }, new Rng(9).fork('x'))).toEqual(randomOffsets(trajs, { length: 20 }, new Rng(9).fork('x')));
  });

  it('samples random windows and pairs segments of one env', () => {
    const segs = sampleSegments(trajs, 10, 50, new Rng(1));
    expect(segs.every((s) => s.startStep === 0 && s.length === 50)).toBe(true);
    const p = makePair(segs[0], segs[1]);
    expect(p.id).toMatch(/^p-[0-9a-f]{16}$/);
    expect(() => sampleSegments(trajs, 1, 51, new Rng(1))).toThrow(/no trajectory has 51 steps/);
    expect(() => sliceSegment(trajs[0], 40, 20)).toThrow(/outside trajectory of 50 steps/);
  });
});

/** The first T steps of a toy episode, as if the robot had fallen at step T. */
function fellAt(tr: Trajectory, T: number): Trajectory {
  const st = <A extends Float32Array | Float64Array>(a: A, cols: number): A => a.slice(0, (T + 1) * cols) as A;
  const sp = <A extends Float32Array | Float64Array>(a: A, cols: number): A => a.slice(0, T * cols) as A;
  return {
    ...tr,
    length: T,
    obs: st(tr.obs, tr.obsDim),
    actions: sp(tr.actions, tr.actDim),
    rewards: sp(tr.rewards, 1),
    terms: sp(tr.terms, tr.nTerms),
    qpos: st(tr.qpos, tr.nq),
    qvel: st(tr.qvel, tr.nv),
    act: st(tr.act, tr.na),
    time: st(tr.time, 1),
    success: sp(tr.success, 1),
    terminated: true,
    truncated: false,
  };
}

describe('segments of terminated episodes', () => {
  const env = new ToyReachEnv();
  const [full, other] = rollout(env, randomPolicy(env.spec, new Rng(8)), { episodes: 2, seed: 8 });

  it("'drop' loses the fall and short episodes; 'pad' ends the last window at the fall", () => {
    const t45 = fellAt(full, 45);
    expect(cutSegments([t45], { length: 20 }).map((s) => s.startStep)).toEqual([0, 20]);
    const padded = cutSegments([t45], { length: 20, terminal: 'pad' });
    expect(padded.map((s) => s.startStep)).toEqual([5, 25]); // laid back from step 45
    expect(padded.map((s) => s.endsTerminal)).toEqual([false, true]);
    expect(Array.from(padded[1].rewards)).toEqual(Array.from(full.rewards.subarray(25, 45)));
    expect(cutSegments([t45], { length: 20, stride: 10, terminal: 'pad' }).map((s) => s.startStep)).toEqual([5, 15, 25]);
    // an episode that did not terminate is cut from its start either way
    expect(cutSegments([full], { length: 20, terminal: 'pad' }).map((s) => s.startStep)).toEqual([0, 20]);
    // counts without cutting
    expect(windowCount(t45, { length: 20 })).toBe(2);
    expect(windowCount(fellAt(full, 7), { length: 20 })).toBe(0);
    expect(windowCount(fellAt(full, 7), { length: 20, terminal: 'pad' })).toBe(1);
    expect(windowCount(full, { length: 20, stride: 10, terminal: 'pad' })).toBe(4);
    expect(() => cutSegments([t45], { length: 20, terminal: 'keep' as 'pad' })).toThrow(/terminal must be 'drop' or 'pad', got keep/);
  });

  it('pads an episode shorter than a segment with its absorbing state', () => {
    const t7 = fellAt(full, 7);
    expect(cutSegments([t7], { length: 20 })).toEqual([]);
    const [s] = cutSegments([t7], { length: 20, terminal: 'pad', source: 'run' });
    expect(s.length).toBe(20);
    expect(s.endsTerminal).toBe(true);
    expect(s.source).toBe('run#0');
    expect(s.obs.length).toBe(21 * full.obsDim);
    expect(s.actions.length).toBe(20 * full.actDim);
    // steps 0..6 are the episode's, then the absorbing state: same observation and simulator
    // state as s_7, zero action, zero reward and terms
    const d = full.obsDim;
    expect(Array.from(s.obs.subarray(0, 8 * d))).toEqual(Array.from(full.obs.subarray(0, 8 * d)));
    for (let t = 8; t <= 20; t++) expect(Array.from(s.obs.subarray(t * d, (t + 1) * d))).toEqual(Array.from(full.obs.subarray(7 * d, 8 * d)));
    for (let t = 8; t <= 20; t++) expect(Array.from(s.qpos.subarray(t * full.nq, (t + 1) * full.nq))).toEqual(Array.from(full.qpos.subarray(7 * full.nq, 8 * full.nq)));
    expect(s.time[20]).toBe(full.time[7]);
    expect(Array.from(s.actions.subarray(7 * full.actDim))).toEqual(new Array(13 * full.actDim).fill(0));
    expect(Array.from(s.rewards.subarray(7))).toEqual(new Array(13).fill(0));
    expect(Array.from(s.terms.subarray(7 * full.nTerms))).toEqual(new Array(13 * full.nTerms).fill(0));
    // its partial return is the episode's return
    let ret = 0;
    for (let t = 0; t < 7; t++) ret += full.rewards[t];
    expect(segmentReturn(s)).toBeCloseTo(ret, 12);
    // the same episode always gives the same id; another one differs
    expect(padSegment(t7, 20).id).toBe(s.id);
    expect(padSegment(fellAt(other, 7), 20).id).not.toBe(s.id);
    expect(() => padSegment(full, 60)).toThrow(/did not terminate/);
    expect(() => padSegment(t7, 7)).toThrow(/cannot be padded to 7 steps/);
    // pairs with an ordinary window of the same length
    expect(makePair(s, sliceSegment(other, 0, 20)).a.id).toBe(s.id);
  });

  it('trimEpisodes keeps the newest episodes within a step budget', () => {
    const eps = [10, 10, 30, 5, 5, 20].map((T) => fellAt(full, T));
    const marks = eps.map((e) => e.length);
    const a = eps.slice();
    trimEpisodes(a, 50); // 80 steps <= 2 x 50: nothing dropped
    expect(a.length).toBe(6);
    trimEpisodes(a, 30); // 80 > 60: keep the newest within 30 steps (20 + 5 + 5)
    expect(a.map((e) => e.length)).toEqual(marks.slice(3));
    const b = [fellAt(full, 40), fellAt(full, 45)];
    trimEpisodes(b, 10); // the newest one is kept even when it alone is over the budget
    expect(b.map((e) => e.length)).toEqual([45]);
  });
});
