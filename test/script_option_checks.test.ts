/**
 * Library entry points a script calls with options of its own (the CLI's flags check theirs):
 * rollout, trainOfflineAgent, openRunDir and createRunDir refuse a NaN count, an unknown algo name,
 * a mistyped run folder or a missing name with an error naming the option or path, instead of
 * recording nothing, training another algorithm, or making an empty run folder.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasetFromTrajectories } from '../agents/dataset.js';
import { type OfflineAgentOptions, trainOfflineAgent } from '../agents/offline_train.js';
import { resolveIqlConfig } from '../agents/iql.js';
import { initBackend } from '../core/backend.js';
import { InputError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import { createRunDir, openRunDir } from '../core/run.js';
import { randomPolicy, rollout, rolloutAsync } from '../envs/rollout.js';
import { ToyReachEnv } from '../envs/toy.js';
import { resolveOfflineConfig } from '../reward/offline.js';
import { VlmTeacher } from '../reward/teachers/vlm.js';

let dir = '';
beforeAll(async () => {
  await initBackend('wasm');
  dir = mkdtempSync(join(tmpdir(), 'prefrl-script-checks-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('rollout options', () => {
  const env = new ToyReachEnv();
  const policy = randomPolicy(env.spec, new Rng(0));
  const cases: [string, Record<string, unknown>, string][] = [
    ['a NaN episode count', { episodes: Number.NaN, seed: 0 }, 'rollout: option episodes must be a whole number >= 0, got NaN'],
    ['an episode count given as text', { episodes: '3', seed: 0 }, 'rollout: option episodes must be a whole number >= 0, got "3"'],
    ['no seed', { episodes: 1 }, 'rollout: option seed must be a finite number, got undefined'],
    ['a step cap of 0', { episodes: 1, seed: 0, maxSteps: 0 }, 'rollout: option maxSteps must be a whole number >= 1, got 0'],
  ];
  for (const [what, opts, message] of cases) {
    it(`refuses ${what}`, () => {
      expect(() => rollout(env, policy, opts as never)).toThrow(message);
    });
  }
  it('refuses a missing policy or a policy that is not a function, naming the argument (V8 said "policy is not a function")', () => {
    expect(() => rollout(env, null as never, { episodes: 1, seed: 0 })).toThrow('rollout: policy must be a function obs => action, got null');
    expect(() => rollout(env, { act: policy } as never, { episodes: 1, seed: 0 })).toThrow(/^rollout: policy must be a function obs => action, got /);
  });
  it('refuses something that is not an env, naming the argument', () => {
    expect(() => rollout(undefined as never, policy, { episodes: 1, seed: 0 })).toThrow('rollout: env must be an environment with reset() and step() (makeEnv gives one), got undefined');
    expect(() => rollout({ spec: env.spec } as never, policy, { episodes: 1, seed: 0 })).toThrow(/^rollout: env must be an environment with reset\(\) and step\(\)/);
  });
  it('rolloutAsync checks the same, under its own name', async () => {
    await expect(rolloutAsync(env, undefined as never, { episodes: 1, seed: 0, afterEpisode: async () => {} })).rejects.toThrow('rolloutAsync: policy must be a function obs => action, got undefined');
    await expect(rolloutAsync(env, policy, { episodes: 1.5, seed: 0, afterEpisode: async () => {} })).rejects.toThrow('rolloutAsync: option episodes must be a whole number >= 0, got 1.5');
  });
  it('0 episodes is an empty rollout, and a capped one stops at its cap', () => {
    expect(rollout(env, policy, { episodes: 0, seed: 0 })).toEqual([]);
    expect(rollout(env, policy, { episodes: 2, seed: 0, maxSteps: 7 }).map((t) => t.length)).toEqual([7, 7]);
  });
});

describe('trainOfflineAgent options', () => {
  const env = new ToyReachEnv();
  const ds = datasetFromTrajectories(rollout(env, randomPolicy(env.spec, new Rng(1)), { episodes: 2, seed: 0, maxSteps: 20 }), { envId: 'toy-reach' });
  const base = (): OfflineAgentOptions => ({
    algo: 'bc', ds, rewards: new Float32Array(ds.size), actLow: env.spec.actLow, actHigh: env.spec.actHigh, hidden: [8], updates: 2, batchSize: 4, seed: 0,
  });
  it("refuses an algo it does not know (any name but 'iql' trained BC before)", async () => {
    await expect(trainOfflineAgent({ ...base(), algo: 'cql' as never })).rejects.toThrow("trainOfflineAgent: option algo must be 'iql' or 'bc', got \"cql\"");
  });
  it('refuses missing options with a message naming them, not a property read of undefined', async () => {
    await expect(trainOfflineAgent({} as never)).rejects.toThrow('trainOfflineAgent: options.ds (an OfflineDataset, e.g. readDataset or datasetFromTrajectories) is required');
    await expect(trainOfflineAgent({ ...base(), rewards: undefined as never })).rejects.toThrow('trainOfflineAgent: option rewards (one number per transition) is required');
    await expect(trainOfflineAgent({ ...base(), updates: Number.NaN })).rejects.toThrow('trainOfflineAgent: option updates must be a whole number >= 1, got NaN');
    await expect(trainOfflineAgent({ ...base(), batchSize: 0 })).rejects.toThrow('trainOfflineAgent: option batchSize must be a whole number >= 1, got 0');
  });
  it('trains what it is given when the options are right', async () => {
    const r = await trainOfflineAgent(base());
    expect([r.resolved.updates, 'loss' in r.resolved ? r.resolved.loss : 'iql', r.rewardScale, r.training.evals]).toEqual([2, 'mse', 1, []]);
  });
});

describe('run folders from a script', () => {
  it('openRunDir refuses a folder that does not exist (it made an empty one before) and a file', () => {
    const missing = join(dir, 'typo');
    expect(() => openRunDir(missing)).toThrow(InputError);
    expect(() => openRunDir(missing)).toThrow(`${missing}: no such run folder (createRunDir makes a new one)`);
    expect(existsSync(missing)).toBe(false);
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    expect(() => openRunDir(file)).toThrow(`${file}: not a run folder (a file)`);
  });
  it('createRunDir without a name says so; with one, openRunDir opens what it made', () => {
    expect(() => createRunDir({ root: dir } as never)).toThrow('createRunDir: option name (a word for the folder name) must be a string, got undefined');
    const run = createRunDir({ root: dir, name: 'ok', config: { a: 1 } });
    run.close();
    const again = openRunDir(run.path);
    expect(again.path).toBe(run.path);
    again.close();
  });
});

describe('a NaN in a message reads NaN (JSON.stringify wrote null)', () => {
  it("IQL's hidden sizes, offline's reward-select workers, the VLM teacher's temperature", () => {
    expect(() => resolveIqlConfig({ hidden: [64, Number.NaN] })).toThrow('IqlConfig.hidden must be positive integers, got [64,NaN]');
    expect(() => resolveOfflineConfig({ dataset: 'd.h5', teacher: 'oracle', rewardSelectWorkers: Number.NaN } as never)).toThrow('--reward-select-workers: expected an integer >= 0, got NaN');
    expect(() => new VlmTeacher({ goal: 'g', client: { model: 'm', baseUrl: 'http://x' } as never, temperature: Number.NaN } as never)).toThrow('VLM teacher: temperature must be >= 0, got NaN');
  });
});
