/**
 * A learned-reward run evaluates its untrained policy at step 0, before the warm-up, as a
 * true-reward run does: both kinds of curve start at step 0 and evaluate on the same grid (it had
 * started after the warm-up, at 1,024 here, and gone on from there). Evaluation has its own env and
 * seed, so the run trains as before. It saves no checkpoint: a run stopped before its next
 * evaluation starts over, as before, and logs the step-0 evaluation once.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as api from '../index.js';

let root = '';
beforeAll(async () => {
  await api.initBackend('wasm');
  root = mkdtempSync(join(tmpdir(), 'prefrl-first-eval-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** [step, eval/true_return] of every evaluation row in a run's metrics.jsonl. */
function evalRows(runPath: string): [number, number][] {
  return readFileSync(join(runPath, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, number>)
    .filter((r) => 'eval/true_return' in r)
    .map((r) => [r.step, r['eval/true_return']]);
}

/** A teacher that fails at its first query (as a VLM server that is down would). */
const failing: api.Teacher = {
  id: 'failing',
  label: () => {
    throw new Error('the teacher is down');
  },
};

describe('the first evaluation of a learned-reward run', () => {
  it('is at step 0, before the warm-up, on the true-reward run\'s grid; a run stopped before its next evaluation starts over and logs it once', { timeout: 90_000 }, async () => {
    const env = await api.makeEnv('toy-reach');
    const options = (name: string, teacher: api.Teacher, reward: 'learned' | 'true' = 'learned') => {
      const run = api.createRunDir({ root, name, config: {} });
      return {
        run,
        options: {
          env: { id: 'toy-reach' },
          ppo: { totalSteps: 2048, numEnvs: 2, numSteps: 128, numMinibatches: 4, workers: 0, seed: 0 },
          reward,
          teacher,
          preferenceModel: 'partial-return' as const,
          budget: reward === 'true' ? 0 : 10,
          labelsPerRound: 10,
          segmentLength: 10,
          query: 'uniform' as const,
          warmupSteps: 512,
          feedbackEvery: 1024,
          poolEpisodes: 8,
          rewardNet: { hidden: [8], members: 1 },
          rewardTrain: { epochs: 2 },
          evalEpisodes: 1,
          evalEvery: 1024,
          run,
          store: reward === 'true' ? undefined : api.LabelStore.open(join(run.path, 'labels.sqlite')),
          logger: api.silentLogger,
          clock: api.systemClock,
        },
      };
    };
    const oracle = () => api.makeTeacher('oracle', { env: env.spec, rng: new api.Rng(0).fork('teacher') });
    try {
      const t = options('true', oracle(), 'true');
      const truth = await api.runPreferenceLoop(t.options);
      t.run.close();
      const l = options('learned', oracle());
      const learned = await api.runPreferenceLoop(l.options);
      l.options.store?.close();
      l.run.close();
      // Both at 0, 1,024 and 2,048 (the last is the final evaluation), and the untrained policies
      // (the same seed) score the same at step 0.
      expect(truth.curve.map(([s]) => s)).toEqual([0, 1024, 2048]);
      expect(learned.curve.map(([s]) => s)).toEqual([0, 1024, 2048]);
      expect(learned.curve[0][1]).toBe(truth.curve[0][1]);
      expect(evalRows(l.run.path).map(([s]) => s)).toEqual([0, 1024, 2048]);

      // A run whose teacher fails at the first round (after the warm-up of 512 steps) has logged the
      // step-0 evaluation but saved no checkpoint: it starts over, as a run stopped before its first
      // evaluation did, and readLoopResume drops that row with the rest.
      const f = options('stopped', failing);
      await expect(api.runPreferenceLoop(f.options)).rejects.toThrow('the teacher is down');
      f.options.store?.close();
      f.run.close();
      expect(evalRows(f.run.path)).toEqual([learned.curve[0]]);
      expect(existsSync(join(f.run.path, 'artifacts', 'checkpoint'))).toBe(false);
      const found = api.readLoopResume(f.run.path);
      expect(found).toEqual({ resume: undefined, droppedMetrics: 1 });
      // Run again with a teacher that answers: one step-0 row, then the grid, as the run that never
      // stopped (the same settings and seed; the labels of the failed round were never stored).
      const run = api.openRunDir(f.run.path);
      const store = api.LabelStore.open(join(f.run.path, 'labels.sqlite'));
      const again = await api.runPreferenceLoop({ ...f.options, teacher: oracle(), run, store });
      store.close();
      run.close();
      expect(evalRows(f.run.path).map(([s]) => s)).toEqual([0, 1024, 2048]);
      expect(again.curve).toEqual(learned.curve);
      expect(again.labelsUsed).toBe(10);
    } finally {
      env.dispose();
    }
  });
});
