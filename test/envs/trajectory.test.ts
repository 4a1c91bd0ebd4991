import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../core/rng.js';
import { makeEnv } from '../../envs/registry.js';
import { randomPolicy, rollout } from '../../envs/rollout.js';
import { loadTrajectories, saveTrajectories, stateAt, trajectoryReturn } from '../../envs/trajectory.js';
import { ToyReachEnv } from '../../envs/toy.js';
import { cutSegments, makePair, sampleSegments, sliceSegment } from '../../reward/segments.js';

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

  it('samples random windows and pairs segments of one env', () => {
    const segs = sampleSegments(trajs, 10, 50, new Rng(1));
    expect(segs.every((s) => s.startStep === 0 && s.length === 50)).toBe(true);
    const p = makePair(segs[0], segs[1]);
    expect(p.id).toMatch(/^p-[0-9a-f]{16}$/);
    expect(() => sampleSegments(trajs, 1, 51, new Rng(1))).toThrow(/no trajectory has 51 steps/);
    expect(() => sliceSegment(trajs[0], 40, 20)).toThrow(/outside trajectory of 50 steps/);
  });
});
