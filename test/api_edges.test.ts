/**
 * The library's remaining rough edges for scripts (qa_api2): NaN shown as NaN (not JSON's null)
 * in option messages, count checks of sampleSegments / cutSegments / evaluatePolicy, a built-in
 * env's seed named as the env config's field, the warning when a saved policy meets another task
 * module on the same model, and tensorMemory() from the entry point.
 */
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ActorJson } from '../agents/iql.js';
import { evaluatePolicy, PpoPolicy } from '../agents/ppo.js';
import { loadSavedPolicy, customEnvMismatch } from '../agents/saved_policy.js';
import { f32ToBase64 } from '../agents/types.js';
import { Logger } from '../core/log.js';
import { Rng } from '../core/rng.js';
import { customEnvSource } from '../envs/custom.js';
import { makeEnv } from '../envs/registry.js';
import { rollout } from '../envs/rollout.js';
import type { Trajectory } from '../envs/trajectory.js';
import type { Env } from '../envs/types.js';
import { tensorMemory } from '../index.js';
import { RewardNet } from '../reward/network.js';
import { cutSegments, sampleSegments } from '../reward/segments.js';
import { LabelStore, labelProblem } from '../reward/store.js';
import { main } from '../scripts/cli.js';
import { captureCli } from './helpers/cli.js';

const ROOT = mkdtempSync(join(tmpdir(), 'api-edges-'));
afterAll(() => rmSync(ROOT, { recursive: true, force: true }));

/** The error a call throws (fails the test when it throws none). */
function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error, none was thrown');
}

/** [class name, message] of the error a call throws. */
function errorOf(f: () => unknown): [string, string] {
  const e = thrown(f);
  return [e.constructor.name, e.message];
}

/** Four toy-reach episodes of 30 steps with a zero policy. */
async function toyEpisodes(): Promise<Trajectory[]> {
  const env = await makeEnv('toy-reach');
  try {
    return rollout(env, () => new Float32Array(env.spec.actDim), { episodes: 4, seed: 0, maxSteps: 30 });
  } finally {
    env.dispose();
  }
}

describe('NaN reads NaN in option messages (was null through JSON.stringify)', () => {
  it('RewardNet config: each number field, and a NaN inside hidden', () => {
    const rng = new Rng(0);
    const cases: [Record<string, unknown>, string][] = [
      [{ obsDim: Number.NaN, actDim: 1 }, 'RewardNet config obsDim: obsDim must be a positive integer, got NaN'],
      [{ obsDim: 3, actDim: Number.NaN }, 'RewardNet config actDim: actDim must be a non-negative integer, got NaN'],
      [{ obsDim: 3, actDim: 1, members: Number.NaN }, 'RewardNet config members: members must be a positive integer, got NaN'],
      [{ obsDim: 3, actDim: 1, hidden: [64, Number.NaN] }, 'RewardNet config hidden: hidden must be a list of positive integers, got [64,NaN]'],
      [{ obsDim: 3, actDim: 1, leakyAlpha: Number.NaN }, 'RewardNet config leakyAlpha: leakyAlpha must be in [0, 1), got NaN'],
      [{ obsDim: 3, actDim: 1, ignoreObs: [Number.NaN] }, 'RewardNet config ignoreObs: ignoreObs must be a list of observation indices in [0, 3), got [NaN]'],
      [{ obsDim: Number.POSITIVE_INFINITY, actDim: 1 }, 'RewardNet config obsDim: obsDim must be a positive integer, got Infinity'],
      // Strings and lists of integers read as before (JSON).
      [{ obsDim: '3', actDim: 1 }, 'RewardNet config obsDim: obsDim must be a positive integer, got "3"'],
      [{ obsDim: 3, actDim: 1, hidden: [64, 0] }, 'RewardNet config hidden: hidden must be a list of positive integers, got [64,0]'],
      [{ obsDim: 3, actDim: 1, activation: 'gelu' }, 'RewardNet config activation: activation must be one of leaky-relu|relu|tanh|sigmoid|linear, got "gelu"'],
    ];
    for (const [opts, message] of cases) expect(errorOf(() => RewardNet.create(opts as never, rng))).toEqual(['RangeError', message]);
  });

  it("a label's probFirst and responseMs, from labelProblem and LabelStore.addLabels", () => {
    const base = { id: 'l1', pairId: 'p1', teacher: 't', kind: 'preference' as const };
    expect(labelProblem({ ...base, probFirst: Number.NaN })).toBe('probFirst must be a number in [0, 1], got NaN');
    expect(labelProblem({ ...base, probFirst: 0.5, responseMs: Number.NaN })).toBe('responseMs must be a non-negative number, got NaN');
    expect(labelProblem({ ...base, probFirst: 2 })).toBe('probFirst must be a number in [0, 1], got 2');
    expect(labelProblem({ ...base, probFirst: '1' as unknown as number })).toBe('probFirst must be a number in [0, 1], got "1"');
    expect(labelProblem({ ...base, probFirst: 1, timeout: 'yes' as unknown as boolean })).toBe('timeout must be true or false, got "yes"');
    // "human:" with no name after it names no one (labels import took it; labels stats listed it as a person).
    expect(labelProblem({ ...base, teacher: 'human:', probFirst: 1 })).toBe('teacher "human:" names no person: write human:<name> (or human)');
    expect(labelProblem({ ...base, teacher: 'human: ', probFirst: 1 })).toBe('teacher "human: " names no person: write human:<name> (or human)');
    expect(labelProblem({ ...base, teacher: 'human:ada', probFirst: 1 })).toBeNull();
    expect(labelProblem({ ...base, teacher: 'human', probFirst: 1 })).toBeNull();
    const store = LabelStore.open(join(ROOT, 'labels.sqlite'));
    try {
      expect(errorOf(() => store.addLabels([{ ...base, probFirst: Number.NaN }]))).toEqual(['Error', 'LabelStore.addLabels: label "l1": probFirst must be a number in [0, 1], got NaN']);
    } finally {
      store.close();
    }
  });
});

describe('segment counts are checked', () => {
  it('sampleSegments: count and length must be whole numbers (a NaN count gave [] without a word)', async () => {
    const trajs = await toyEpisodes();
    const rng = new Rng(1);
    const cases: [() => unknown, string, string][] = [
      [() => sampleSegments(trajs, Number.NaN, 10, rng), 'RangeError', 'sampleSegments: count must be a whole number >= 0, got NaN'],
      [() => sampleSegments(trajs, -1, 10, rng), 'RangeError', 'sampleSegments: count must be a whole number >= 0, got -1'],
      [() => sampleSegments(trajs, 2.5, 10, rng), 'RangeError', 'sampleSegments: count must be a whole number >= 0, got 2.5'],
      [() => sampleSegments(trajs, '3' as unknown as number, 10, rng), 'TypeError', 'sampleSegments: count must be a whole number >= 0, got "3"'],
      [() => sampleSegments(trajs, 3, Number.NaN, rng), 'RangeError', 'sampleSegments: length must be a whole number >= 1, got NaN'],
      [() => sampleSegments(trajs, 3, 0, rng), 'RangeError', 'sampleSegments: length must be a whole number >= 1, got 0'],
      [() => sampleSegments(trajs, 3, 9.5, rng), 'RangeError', 'sampleSegments: length must be a whole number >= 1, got 9.5'],
      [() => sampleSegments(trajs, 3, 10, undefined as unknown as Rng), 'TypeError', 'sampleSegments: rng must be an Rng (new Rng(seed)), got undefined'],
      [() => sampleSegments(undefined as unknown as Trajectory[], 3, 10, rng), 'TypeError', "sampleSegments: trajs must be a list of trajectories (rollout's result), got undefined"],
      // Unchanged: no trajectory long enough.
      [() => sampleSegments(trajs, 3, 31, rng), 'RangeError', 'sampleSegments: no trajectory has 31 steps'],
    ];
    for (const [f, kind, message] of cases) expect(errorOf(f)).toEqual([kind, message]);
    // A bad call draws nothing: the Rng is where it was (the next draw equals a fresh Rng(1)'s).
    expect(rng.int(1000)).toBe(new Rng(1).int(1000));
    // Good calls as before: count 0 gives none; 5 windows of 10 steps from 4 episodes of 30 steps
    // (21 windows each, so every start in [0, 20]).
    expect(sampleSegments(trajs, 0, 10, new Rng(2))).toEqual([]);
    const got = sampleSegments(trajs, 5, 10, new Rng(2), 'src');
    expect(got).toHaveLength(5);
    for (const s of got) {
      expect(s.length).toBe(10);
      expect(s.source).toMatch(/^src#[0-3]$/);
    }
    expect(sampleSegments(trajs, 5, 10, new Rng(2), 'src').map((s) => s.id)).toEqual(got.map((s) => s.id));
  });

  it('cutSegments: length, stride and offsets (NaN, 0, a fraction, a string)', async () => {
    const trajs = await toyEpisodes();
    const cases: [() => unknown, string, string][] = [
      [() => cutSegments(trajs, { length: Number.NaN }), 'RangeError', 'cutSegments: option length must be a whole number >= 1, got NaN'],
      [() => cutSegments(trajs, { length: 0 }), 'RangeError', 'cutSegments: option length must be a whole number >= 1, got 0'],
      [() => cutSegments(trajs, { length: 7.5 }), 'RangeError', 'cutSegments: option length must be a whole number >= 1, got 7.5'],
      [() => cutSegments(trajs, { length: '10' as unknown as number }), 'TypeError', 'cutSegments: option length must be a whole number >= 1, got "10"'],
      [() => cutSegments(trajs, { length: 10, stride: Number.NaN }), 'RangeError', 'cutSegments: option stride must be a whole number >= 1, got NaN'],
      [() => cutSegments(trajs, { length: 10, offsets: [0, 1, Number.NaN, 2] }), 'RangeError', 'cutSegments: option offsets must be non-negative integers, got NaN'],
      [() => cutSegments(trajs, { length: 10, offsets: 3 as unknown as number[] }), 'TypeError', 'cutSegments: option offsets must be a list of non-negative integers, one per trajectory, got 3'],
      [() => cutSegments(trajs, null as unknown as object), 'TypeError', 'cutSegments: options must be an object { length?, stride?, terminal?, offsets?, source? }, got null'],
    ];
    for (const [f, kind, message] of cases) expect(errorOf(f)).toEqual([kind, message]);
    // Good calls as before: 30-step episodes give 3 windows of 10 each, 5 of 10 with stride 5 ((30 - 10) / 5 + 1).
    expect(cutSegments(trajs, { length: 10 })).toHaveLength(12);
    expect(cutSegments(trajs, { length: 10, stride: 5 })).toHaveLength(20);
    expect(cutSegments(trajs, { length: 10, offsets: [0, 1, 10, 21] }).map((s) => [s.source, s.startStep])).toEqual([
      ['#0', 0], ['#0', 10], ['#0', 20], ['#1', 1], ['#1', 11], ['#2', 10], ['#2', 20],
    ]);
  });
});

describe('evaluatePolicy checks episodes and seed', () => {
  it('a NaN, 0 or fractional count and a NaN seed are errors before any episode; a good call is the hand-run loop', async () => {
    const env = await makeEnv('toy-reach');
    try {
      const zero: (obs: Float32Array) => Float32Array = () => new Float32Array(env.spec.actDim);
      const cases: [() => unknown, string, string][] = [
        [() => evaluatePolicy(env, zero, Number.NaN, 0), 'RangeError', 'evaluatePolicy: episodes must be a whole number >= 1, got NaN'],
        [() => evaluatePolicy(env, zero, 0, 0), 'RangeError', 'evaluatePolicy: episodes must be a whole number >= 1, got 0'],
        [() => evaluatePolicy(env, zero, 1.5, 0), 'RangeError', 'evaluatePolicy: episodes must be a whole number >= 1, got 1.5'],
        [() => evaluatePolicy(env, zero, '2' as unknown as number, 0), 'TypeError', 'evaluatePolicy: episodes must be a whole number >= 1, got "2"'],
        [() => evaluatePolicy(env, zero, 2, Number.NaN), 'RangeError', 'evaluatePolicy: seed must be a finite number, got NaN'],
        [() => evaluatePolicy(env, zero, 2, undefined as unknown as number), 'TypeError', 'evaluatePolicy: seed must be a finite number, got undefined'],
        [() => evaluatePolicy(env, undefined as unknown as typeof zero, 2, 0), 'TypeError', 'evaluatePolicy: policy must be a function from an observation to an action, got undefined'],
        [() => evaluatePolicy({} as Env, zero, 2, 0), 'TypeError', 'evaluatePolicy: env must be an env (from makeEnv), got object'],
      ];
      for (const [f, kind, message] of cases) expect(errorOf(f)).toEqual([kind, message]);
      // The good path, against the loop its doc comment describes (resets from fork('eval').fork(e)).
      const ev = evaluatePolicy(env, zero, 3, 7);
      const returns: number[] = [];
      let steps = 0;
      for (let e = 0; e < 3; e++) {
        let obs = env.reset(new Rng(7).fork('eval').fork(e).seed31());
        let ret = 0;
        for (;;) {
          const r = env.step(zero(obs));
          ret += r.reward;
          steps++;
          obs = r.obs;
          if (r.terminated || r.truncated) break;
        }
        returns.push(ret);
      }
      expect(ev.returns).toEqual(returns);
      expect(ev.meanReturn).toBe((returns[0] + returns[1] + returns[2]) / 3);
      expect(ev.meanLength).toBe(steps / 3);
    } finally {
      env.dispose();
    }
  });
});

describe("a built-in env's seed is named as the env config's field", () => {
  it('NaN, Infinity and a string are a TypeError naming the env (was the Rng\'s "seed must be ..."); a good seed as before', async () => {
    for (const [cfg, got] of [
      [{ id: 'toy-reach', seed: Number.NaN }, 'NaN'],
      [{ id: 'reacher', seed: Number.POSITIVE_INFINITY }, 'Infinity'],
      [{ id: 'toy-reach', seed: 'seven' as unknown as number }, '"seven"'],
      [{ id: 'reacher', seed: null as unknown as number }, 'null'],
    ] as const) {
      const e = await makeEnv(cfg).then(
        () => null,
        (x: Error) => x,
      );
      expect(e).toBeInstanceOf(TypeError);
      expect(e?.message).toBe(`env config { id: "${cfg.id}" }: seed must be a finite number, got ${got}`);
    }
    // A seed given is the env's own RNG seed: two envs with seed 3 start alike, seed 4 elsewhere.
    const [a, b, c] = await Promise.all([makeEnv({ id: 'toy-reach', seed: 3 }), makeEnv({ id: 'toy-reach', seed: 3 }), makeEnv({ id: 'toy-reach', seed: 4 })]);
    try {
      const [oa, ob, oc] = [a.reset(), b.reset(), c.reset()];
      expect(Array.from(oa)).toEqual(Array.from(ob));
      expect(Array.from(oa)).not.toEqual(Array.from(oc));
    } finally {
      for (const e of [a, b, c]) e.dispose();
    }
  });
});

describe('a saved policy meets another task module on the same model', () => {
  const FIXTURES = join(import.meta.dirname, 'fixtures', 'byo');
  const MODEL = join(FIXTURES, 'arm.xml');
  const TASK_TEXT = readFileSync(join(FIXTURES, 'reach_task.mjs'), 'utf8');

  /** taskA.mjs, a copy of it under another name, and taskB.mjs (the same sizes, another reward weight). */
  function taskFiles(dir: string): { a: string; copy: string; b: string } {
    mkdirSync(dir, { recursive: true });
    const a = join(dir, 'taskA.mjs');
    const copy = join(dir, 'moved', 'taskA.mjs');
    const b = join(dir, 'taskB.mjs');
    writeFileSync(a, TASK_TEXT);
    mkdirSync(join(dir, 'moved'));
    copyFileSync(a, copy);
    writeFileSync(b, TASK_TEXT.replace("weight: -1, doc: 'sum of |qvel|'", "weight: 1, doc: 'sum of |qvel|'"));
    expect(readFileSync(b, 'utf8')).not.toBe(TASK_TEXT);
    return { a, copy, b };
  }

  /** A PPO checkpoint folder (zero parameters) whose checkpoint.json records this env config. */
  function ppoTrainedWith(dir: string, env: Record<string, unknown>, obsDim: number, actDim: number): string {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'policy.json'), JSON.stringify(new PpoPolicy(obsDim, actDim, [4]).toJSON()));
    writeFileSync(join(dir, 'checkpoint.json'), JSON.stringify({ env }));
    return dir;
  }

  it('warns (does not refuse) naming both modules; the same path or a copy of the text is no warning', async () => {
    const dir = join(ROOT, 'tasks');
    const { a, copy, b } = taskFiles(dir);
    const envA = await makeEnv({ id: 'custom', model: MODEL, task: a });
    const envCopy = await makeEnv({ id: 'custom', model: MODEL, task: copy });
    const envB = await makeEnv({ id: 'custom', model: MODEL, task: b });
    const envDefault = await makeEnv({ id: 'custom', model: MODEL });
    try {
      // Every one is env "custom:arm.xml"; only the files they were built from tell them apart.
      expect([envA, envCopy, envB, envDefault].map((e) => e.spec.id)).toEqual(Array(4).fill('custom:arm.xml'));
      expect(customEnvSource(envB.spec)).toEqual({ model: MODEL, task: b });
      expect(customEnvSource(envDefault.spec)).toEqual({ model: MODEL, task: null });
      expect(customEnvSource({ ...envB.spec })).toBeUndefined();
      const { obsDim, actDim } = envA.spec;
      const ck = ppoTrainedWith(join(ROOT, 'ppoA'), { id: 'custom', model: MODEL, task: a }, obsDim, actDim);
      const load = (spec: Env['spec']): string[] => {
        const logger = new Logger({ write: () => undefined });
        const s = loadSavedPolicy(ck, spec, { logger });
        // Loaded either way, acting as saved: zero parameters give the zero action.
        expect(Array.from(s.policy(new Float32Array(obsDim)))).toEqual(Array(actDim).fill(0));
        return [...logger.warnings];
      };
      expect(load(envA.spec)).toEqual([]);
      expect(load(envCopy.spec)).toEqual([]);
      const same = `every bring-your-own env passes the saved env check (env "custom"), so nothing else tells them apart: if they differ, this env's observations and rewards are not those the policy learned from (loaded anyway: files get moved and renamed)`;
      const ckFile = join(ck, 'checkpoint.json');
      expect(load(envB.spec)).toEqual([`${ckFile}: the policy was trained with task module ${a} (its text differs), but this env runs ${b}; ${same}`]);
      // The env's spec alone, without a logger: a copy of it is not checked (no source known), a built-in spec neither.
      expect(customEnvMismatch({ id: 'custom', model: MODEL, task: a }, { ...envB.spec })).toBeNull();
      expect(customEnvMismatch({ id: 'toy-reach' }, envB.spec)).toBeNull();
      // The model's default task against a task module, both ways.
      const ckDefault = ppoTrainedWith(join(ROOT, 'ppoDefault'), { id: 'custom', model: MODEL }, obsDim, actDim);
      expect(customEnvMismatch({ id: 'custom', model: MODEL }, envA.spec)).toBe(`the policy was trained with the default task of its model (no task module), but this env runs task module ${a}; every bring-your-own env passes the saved env check (env "custom"), so nothing else tells them apart`);
      expect(customEnvMismatch({ id: 'custom', model: MODEL, task: a }, envDefault.spec)).toBe(`the policy was trained with task module ${a}, but this env runs the default task of arm.xml (no task module); every bring-your-own env passes the saved env check (env "custom"), so nothing else tells them apart`);
      const logger = new Logger({ write: () => undefined });
      loadSavedPolicy(ckDefault, envA.spec, { logger });
      expect(logger.warnings).toHaveLength(1);
      // The module it was trained with is gone: another path cannot be compared, so it warns.
      rmSync(a);
      expect(load(envCopy.spec)).toEqual([`${ckFile}: the policy was trained with task module ${a} (no longer there, so its text could not be compared), but this env runs ${copy}; ${same}`]);
      // The same path is the same task as far as prefrl can tell, even with the file gone: no warning.
      expect(load(envA.spec)).toEqual([]);
      expect(errorOf(() => loadSavedPolicy(ck, envA.spec, { logger: 'stderr' as unknown as Logger }))).toEqual(['TypeError', 'loadSavedPolicy: options.logger must be a Logger, got "stderr"']);
    } finally {
      for (const e of [envA, envCopy, envB, envDefault]) e.dispose();
    }
  });

  it('the model file too: a copy of its folder is no warning, a changed copy is, with the task named as well when both differ', async () => {
    const dir = join(ROOT, 'models');
    const { a, b } = taskFiles(join(dir, 'tasks'));
    // The model with its included parts and meshes, copied; and a copy whose floor is another colour.
    const copied = join(dir, 'copy');
    const changed = join(dir, 'changed');
    for (const to of [copied, changed]) cpSync(FIXTURES, to, { recursive: true });
    const armText = readFileSync(MODEL, 'utf8');
    writeFileSync(join(changed, 'arm.xml'), armText.replace('rgba="0.4 0.45 0.5 1"', 'rgba="0.5 0.45 0.4 1"'));
    expect(readFileSync(join(changed, 'arm.xml'), 'utf8')).not.toBe(armText);
    const envCopied = await makeEnv({ id: 'custom', model: join(copied, 'arm.xml'), task: a });
    const envChanged = await makeEnv({ id: 'custom', model: join(changed, 'arm.xml'), task: a });
    const envBoth = await makeEnv({ id: 'custom', model: join(changed, 'arm.xml'), task: b });
    try {
      const saved = { id: 'custom', model: MODEL, task: a };
      expect(customEnvMismatch(saved, envCopied.spec)).toBeNull();
      const tail = 'every bring-your-own env passes the saved env check (env "custom"), so nothing else tells them apart';
      expect(customEnvMismatch(saved, envChanged.spec)).toBe(`the policy was trained with model file ${MODEL} (its text differs), but this env runs ${join(changed, 'arm.xml')}; ${tail}`);
      expect(customEnvMismatch(saved, envBoth.spec)).toBe(
        `the policy was trained with model file ${MODEL} (its text differs), but this env runs ${join(changed, 'arm.xml')}; and with task module ${a} (its text differs), but this env runs ${b}; ${tail}`,
      );
      // A relative saved path is read against the working directory, as makeEnv reads it.
      expect(customEnvMismatch({ id: 'custom', model: relative(process.cwd(), MODEL), task: relative(process.cwd(), a) }, envCopied.spec)).toBeNull();
    } finally {
      for (const e of [envCopied, envChanged, envBoth]) e.dispose();
    }
  });

  it("an offline actor's metadata, and prefrl rollout --env model --task other warns on its logger", async () => {
    const dir = join(ROOT, 'tasks2');
    const { a, b } = taskFiles(dir);
    const envB = await makeEnv({ id: 'custom', model: MODEL, task: b });
    const { obsDim, actDim } = envB.spec;
    try {
      const actorDir = join(ROOT, 'actor');
      mkdirSync(actorDir, { recursive: true });
      const actor: ActorJson = {
        format: 'prefrl-offline-actor',
        version: 1,
        algo: 'bc',
        kind: 'deterministic',
        obsDim,
        actDim,
        hidden: [],
        actLow: Array(actDim).fill(-1),
        actHigh: Array(actDim).fill(1),
        obsMean: Array(obsDim).fill(0),
        obsStd: Array(obsDim).fill(1),
        weights: [f32ToBase64(new Float32Array(obsDim * actDim)), f32ToBase64(new Float32Array(actDim))],
        logStd: null,
        meta: { env: { id: 'custom', model: MODEL, task: a } },
      };
      writeFileSync(join(actorDir, 'actor.json'), JSON.stringify(actor));
      const logger = new Logger({ write: () => undefined });
      expect(loadSavedPolicy(actorDir, envB.spec, { logger }).algo).toBe('bc');
      expect(logger.warnings).toEqual([
        `${join(actorDir, 'actor.json')}: the policy was trained with task module ${a} (its text differs), but this env runs ${b}; every bring-your-own env passes the saved env check (env "custom"), so nothing else tells them apart: if they differ, this env's observations and rewards are not those the policy learned from (loaded anyway: files get moved and renamed)`,
      ]);
    } finally {
      envB.dispose();
    }
    const ck = ppoTrainedWith(join(ROOT, 'ppoA2'), { id: 'custom', model: MODEL, task: a }, obsDim, actDim);
    const runs = join(ROOT, 'runs');
    const other = captureCli();
    expect(await main(['rollout', '--env', MODEL, '--task', b, '--policy', ck, '--episodes', '1', '--runs-dir', runs, '--quiet', '--json'], other.ctx)).toBe(0);
    expect(other.err.join('')).toContain(`${join(ck, 'checkpoint.json')}: the policy was trained with task module ${a} (its text differs), but this env runs ${b}`);
    // Without --env, rollout takes the env the checkpoint records: no warning.
    const own = captureCli();
    expect(await main(['rollout', '--policy', ck, '--episodes', '1', '--runs-dir', runs, '--quiet', '--json'], own.ctx)).toBe(0);
    expect(own.err.join('')).not.toContain('task module');
  });
});

describe('tensorMemory() from the entry point', () => {
  it("is tf.memory(): a RewardNet's tensors come and go with it", () => {
    const before = tensorMemory().numTensors;
    // One member, hidden [4]: two dense layers, each a kernel and a bias = 4 tensors.
    const net = RewardNet.create({ obsDim: 3, actDim: 1, members: 1, hidden: [4] }, new Rng(0));
    expect(tensorMemory().numTensors - before).toBe(4);
    net.dispose();
    expect(tensorMemory().numTensors).toBe(before);
  });
});
