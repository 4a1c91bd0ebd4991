/**
 * Long runs: what the online preference loop holds must not grow with its iterations. A run of
 * `prefrl train` goes on for hours, a feedback round (query selection with the reward ensemble,
 * the teacher, reward-model training, its metrics and save) every few PPO iterations; anything a
 * round leaves behind (an undisposed tensor, an MjData never deleted) adds up until the process
 * dies. Here a round comes after every PPO iteration, with the query method and options that
 * use the model most (k-center + disagreement, pool-top, standardisation, query rollouts), and
 * the loop's own progress hook reads, after every iteration, the live tensors (count and bytes)
 * and the MuJoCo WASM heap of this thread (every env steps here: workers 0). After the first
 * round they are the same numbers at every iteration, and the loop ends with the tensors
 * it started with.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../core/backend.js';
import { systemClock } from '../../core/clock.js';
import { silentLogger } from '../../core/log.js';
import { Rng } from '../../core/rng.js';
import { createRunDir } from '../../core/run.js';
import { heapBytes, loadMujoco } from '../../envs/mujoco/runtime.js';
import { makeEnv } from '../../envs/registry.js';
import type { Progress } from '../../core/progress.js';
import { runPreferenceLoop } from '../../reward/loop.js';
import { LabelStore } from '../../reward/store.js';
import { makeTeacher } from '../../reward/teachers/index.js';

let dir: string;
beforeAll(async () => {
  await initBackend('wasm');
  dir = mkdtempSync(join(tmpdir(), 'prefrl-leaks-'));
});

interface Sample {
  step: number;
  tensors: number;
  bytes: number;
  mujocoHeap: number;
  labels: number;
}

describe('online preference loop over many rounds', () => {
  it('holds the same tensors and MuJoCo heap after every round, and none of its own at the end', async () => {
    const mj = await loadMujoco();
    const spec = (await makeEnv('reacher')).spec;
    const run = createRunDir({ root: join(dir, 'runs'), name: 'loop-growth', config: {} });
    const store = LabelStore.open(join(run.path, 'labels.sqlite'));
    const samples: Sample[] = [];
    // Only update() is called by the loop; the rest of Progress is not used.
    const progress = {
      update(step: number) {
        samples.push({ step, tensors: tf.memory().numTensors, bytes: tf.memory().numBytes, mujocoHeap: heapBytes(mj), labels: store.counts().labels });
      },
    } as unknown as Progress;
    // Counted from here: in the shared test process, files that ran before may have left tensors.
    const before = tf.memory().numTensors;
    const bytesBefore = tf.memory().numBytes;
    try {
      const summary = await runPreferenceLoop({
        env: { id: 'reacher' },
        // 256 env steps per PPO iteration; 8 iterations after a warm-up of one.
        ppo: { totalSteps: 256 * 9, seed: 3, numEnvs: 2, numSteps: 128, workers: 0 },
        reward: 'learned',
        teacher: makeTeacher('oracle', { env: spec, rng: new Rng(1) }),
        preferenceModel: 'partial-return',
        budget: 1000,
        labelsPerRound: 4,
        segmentLength: 20,
        query: 'kcenter-disagreement',
        oversample: 4,
        feedbackEvery: 256,
        warmupSteps: 256,
        poolEpisodes: 4,
        poolTop: 0.5,
        standardizeReward: true,
        queryRollouts: 1,
        rewardNet: { hidden: [8], members: 2 },
        rewardTrain: { epochs: 2 },
        evalEpisodes: 1,
        evalEvery: 512,
        run,
        store,
        logger: silentLogger,
        clock: systemClock,
        progress,
      });
      expect(summary.envSteps).toBe(256 * 9);
      // A round before every iteration after the warm-up (at env steps 256, 512, ..., 2048): 8 rounds of 4 labels.
      expect(summary.labelsUsed).toBe(8 * 4);
      expect(samples.map((s) => [s.step, s.labels])).toEqual(Array.from({ length: 9 }, (_, i) => [256 * (i + 1), 4 * i]));
      // Only the ensemble's weights live on between rounds: 2 members x 2 layers x (weights, bias),
      // 2 x (12 x 8 + 8 + 8 + 1) = 226 float32 values; the same tensors after every round.
      const steady = samples.slice(1);
      expect([steady[0].tensors, steady[0].bytes]).toEqual([before + 8, bytesBefore + 226 * 4]);
      for (const s of steady) expect({ step: s.step, tensors: s.tensors, bytes: s.bytes, mujocoHeap: s.mujocoHeap }).toEqual({ step: s.step, tensors: steady[0].tensors, bytes: steady[0].bytes, mujocoHeap: steady[0].mujocoHeap });
    } finally {
      store.close();
      run.close();
    }
    // The loop disposed its reward model: no tensor of its own is left.
    expect(tf.memory().numTensors).toBe(before);
  });
});
