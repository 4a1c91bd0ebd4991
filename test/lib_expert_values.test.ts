/**
 * A script reproduces `prefrl train --teacher regret --expert <run>` through the library: a PPO
 * run saved by PpoTrainer.save, its critic read back with expertValueFunction as V*, and the
 * regret teacher made on it labels pairs. Checked: the run's gamma and a positive reward scale
 * come with it, a value is finite and the same for the same observation, the teacher answers each
 * pair, and a checkpoint of another env is refused naming the flag given. (How the critic's
 * values are scaled back is checked by hand in test/math_ppo.test.ts.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import * as api from '../index.js';

const dir = mkdtempSync(join(tmpdir(), 'prefrl-expert-values-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it("a saved PPO run's critic is V* for the regret teacher, in the env's reward units; another env's checkpoint is refused", async () => {
  await api.initBackend('wasm');
  const trainer = await api.PpoTrainer.create({ env: { id: 'toy-reach' }, config: { totalSteps: 2048, numEnvs: 2, numSteps: 256, numMinibatches: 4, workers: 0, seed: 3 } });
  let folder: string;
  try {
    while (trainer.globalStep < trainer.config.totalSteps) await trainer.iterate();
    folder = trainer.save(join(dir, 'expert'), { id: 'toy-reach' });
  } finally {
    await trainer.close();
  }
  const env = await api.makeEnv('toy-reach');
  try {
    const vf = api.expertValueFunction(folder, { spec: env.spec, flag: '--expert' });
    expect(vf.gamma).toBe(0.99);
    expect(vf.scale).toBeGreaterThan(0);
    const obs = env.reset(1);
    const v = vf.value(obs);
    expect(Number.isFinite(v)).toBe(true);
    expect(vf.value(obs)).toBe(v);
    const teacher = api.makeTeacher('regret', { env: env.spec, rng: new api.Rng(5).fork('teacher'), values: vf });
    const trajs = api.rollout(env, api.randomPolicy(env.spec, new api.Rng(7)), { episodes: 2, seed: 7, maxSteps: 40 });
    const segs = api.cutSegments(trajs, { length: 10 });
    const pairs = [api.makePair(segs[0], segs[1]), api.makePair(segs[2], segs[3])];
    const labels = await teacher.label(pairs);
    expect(labels.map((l) => l.pairId)).toEqual(pairs.map((p) => p.id));
    expect(labels.every((l) => l.teacher === teacher.id)).toBe(true);
    // The checkpoint is toy-reach's: for reacher (another env and observation size) it is refused.
    const reacher = await api.makeEnv('reacher');
    try {
      expect(() => api.expertValueFunction(folder, { spec: reacher.spec, flag: '--expert' })).toThrow(/--expert/);
    } finally {
      reacher.dispose();
    }
  } finally {
    env.dispose();
  }
}, 60_000);
