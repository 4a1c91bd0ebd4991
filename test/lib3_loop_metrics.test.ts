/**
 * runPreferenceLoop's onMetrics: a script's own callback gets every row the loop writes to the
 * run's metrics.jsonl, as it writes it (before it, a script could watch a run only through its
 * logger's text lines or by reading the file afterwards: `progress` takes the CLI's bar, which
 * index.ts does not export). Also: what a script writes after the loop, summary.json, is its own.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as api from '../index.js';

let root = '';
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'prefrl-lib3-loop-metrics-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A true-reward loop of 2 PPO iterations of 2 x 64 steps, evaluated every 128 steps. */
function options(run: api.RunDir, extra: Partial<api.LoopOptions> = {}): api.LoopOptions {
  return {
    env: { id: 'toy-reach' },
    ppo: { totalSteps: 256, numEnvs: 2, numSteps: 64, numMinibatches: 2, updateEpochs: 1, hidden: [8], workers: 0, seed: 4 },
    reward: 'true',
    rewardWeights: [-1, -0.5, 0],
    preferenceModel: 'partial-return',
    budget: 0,
    labelsPerRound: 1,
    segmentLength: 10,
    query: 'uniform',
    warmupSteps: 0,
    poolEpisodes: 1,
    evalEpisodes: 1,
    evalEvery: 128,
    run,
    logger: api.silentLogger,
    clock: api.systemClock,
    ...extra,
  };
}

describe('runPreferenceLoop onMetrics', () => {
  it('gets each row metrics.jsonl gets, in order, with its step', async () => {
    const seen: { step: number; row: api.Metrics }[] = [];
    const run = api.createRunDir({ root, name: 'seen', config: {} });
    let summary: api.LoopSummary;
    try {
      summary = await api.runPreferenceLoop(options(run, { onMetrics: (step, row) => seen.push({ step, row }) }));
    } finally {
      run.close();
    }
    const file = readFileSync(join(run.path, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as api.Metrics);
    // Evaluations at steps 0, 128 and 256 (the one at 256 is the final one: none is added after it), PPO's two iterations at 128 and 256.
    expect(seen.map((s) => s.step)).toEqual(file.map((r) => r.step));
    expect(seen.filter((s) => 'eval/true_return' in s.row).map((s) => s.step)).toEqual([0, 128, 256]);
    expect(seen.filter((s) => 'charts/SPS' in s.row || 'losses/policy_loss' in s.row).map((s) => s.step)).toEqual([128, 256]);
    // The row as given: the file has the step added and non-finite numbers as null.
    for (let i = 0; i < seen.length; i++) {
      const given = Object.fromEntries(Object.entries(seen[i].row).map(([k, v]) => [k, typeof v === 'number' && !Number.isFinite(v) ? null : v]));
      expect({ step: seen[i].step, ...given }).toEqual(file[i]);
    }
    const last = seen.filter((s) => 'eval/true_return' in s.row).at(-1)!;
    expect(last.row['eval/true_return']).toBe(summary!.finalTrueReturn);
    // The loop leaves summary.json to its caller, as docs/library.md says.
    expect(() => readFileSync(join(run.path, 'summary.json'))).toThrow(/ENOENT/);
  });

  it('a value that is not a function is a TypeError before anything runs; an exception in it stops the run', async () => {
    const run = api.createRunDir({ root, name: 'bad', config: {} });
    try {
      await expect(api.runPreferenceLoop(options(run, { onMetrics: 'log' as never }))).rejects.toThrow(
        new TypeError('runPreferenceLoop: option onMetrics must be a function (step, row) => void, got "log"'),
      );
      expect(readFileSync(join(run.path, 'metrics.jsonl'), 'utf8')).toBe('');
      const calls: number[] = [];
      const stop = (step: number) => {
        calls.push(step);
        throw new Error(`stopped by the script at step ${step}`);
      };
      await expect(api.runPreferenceLoop(options(run, { onMetrics: stop }))).rejects.toThrow('stopped by the script at step 0');
      expect(calls).toEqual([0]);
    } finally {
      run.close();
    }
  });

  it('a run folder closed before the loop is refused at the start (it failed at the first metrics row, after the warm-up)', async () => {
    const run = api.createRunDir({ root, name: 'closed', config: {} });
    run.close();
    await expect(api.runPreferenceLoop(options(run))).rejects.toThrow(`runPreferenceLoop: option run (${run.path}) was closed (run.close()); close it after the loop`);
    await expect(api.runPreferenceLoop(options(undefined as never))).rejects.toThrow(new TypeError('runPreferenceLoop: option run must be a RunDir (createRunDir or openRunDir), got undefined'));
  });

  it("a teacher's own metrics() go into each round's row (the loop never read them); a key without '/' under teacher/", async () => {
    const env = await api.makeEnv('toy-reach');
    const run = api.createRunDir({ root, name: 'teacher-metrics', config: {} });
    const store = api.LabelStore.open(join(run.path, 'labels.sqlite'));
    // Prefers the higher true return, but gives the other answer for every 4th label it is asked (the 4th, 8th, ...).
    let asked = 0;
    let flips = 0;
    const noisy: api.Teacher = {
      id: 'noisy',
      async label(pairs) {
        return pairs.map((p) => {
          const flip = ++asked % 4 === 0;
          if (flip) flips++;
          const first = api.segmentReturn(p.a) >= api.segmentReturn(p.b) !== flip;
          return { kind: 'preference', id: api.labelId('noisy', p.id), pairId: p.id, teacher: 'noisy', probFirst: first ? 1 : 0 };
        });
      },
      metrics: () => ({ flips, 'noise/every': 4 }),
    };
    const rounds: api.Metrics[] = [];
    const learned: Partial<api.LoopOptions> = {
      reward: 'learned', rewardWeights: undefined, teacher: noisy, budget: 20, labelsPerRound: 10, store, warmupSteps: 128, poolEpisodes: 8,
      ppo: { totalSteps: 512, numEnvs: 2, numSteps: 64, numMinibatches: 2, updateEpochs: 1, hidden: [8], workers: 0, seed: 4 },
      feedbackEvery: 128, rewardNet: { hidden: [4], members: 1 }, rewardTrain: { epochs: 2 }, evalEvery: 512,
    };
    try {
      await api.initBackend('wasm');
      await api.runPreferenceLoop(options(run, { ...learned, onMetrics: (_, row) => (typeof row['teacher/labels'] === 'number' ? rounds.push(row) : 0) }));
      // Round 0 asked labels 1-10 (flipped: 4th, 8th), round 1 labels 11-20 (12th, 16th, 20th).
      expect(rounds.map((r) => [r['teacher/labels'], r['teacher/flips'], r['noise/every']])).toEqual([
        [10, 2, 4],
        [20, 5, 4],
      ]);
      const file = readFileSync(join(run.path, 'metrics.jsonl'), 'utf8');
      expect(file).toContain('"teacher/flips":5');
      noisy.metrics = () => ({ 'my flips': flips });
      const again = api.createRunDir({ root, name: 'teacher-metrics-bad', config: {} });
      const store2 = api.LabelStore.open(join(again.path, 'labels.sqlite'));
      try {
        await expect(api.runPreferenceLoop(options(again, { ...learned, store: store2 }))).rejects.toThrow(
          new RangeError(`runPreferenceLoop: teacher noisy's metrics() gave the key "my flips"; keys are letters, digits and _ (a "group/" prefix optional, e.g. "teacher/flips")`),
        );
      } finally {
        store2.close();
        again.close();
      }
    } finally {
      store.close();
      run.close();
      env.dispose();
    }
  });
});
