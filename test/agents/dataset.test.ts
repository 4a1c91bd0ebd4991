import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import h5wasm from 'h5wasm/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkEnv,
  datasetFromTrajectories,
  datasetToTrajectories,
  episodeRanges,
  episodeReturns,
  hdf5ErrorSummary,
  hdf5Sizes,
  type OfflineDataset,
  prefrlVersion,
  readDataset,
  summarizeDataset,
  writeDataset,
} from '../../agents/dataset.js';
import { PpoTrainer } from '../../agents/ppo.js';
import { InputError } from '../../core/errors.js';
import { Rng } from '../../core/rng.js';
import { makeEnv } from '../../envs/registry.js';
import { randomPolicy, rollout } from '../../envs/rollout.js';
import { stateAt, type Trajectory, trajectoryReturn } from '../../envs/trajectory.js';
import { TOY_SPEC, ToyReachEnv } from '../../envs/toy.js';

let dir = '';
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'prefrl-dataset-'));
  await h5wasm.ready;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Three toy-reach episodes: two full (truncated at the horizon) and one cut at 20 steps. */
function toyTrajectories(): Trajectory[] {
  const env = new ToyReachEnv();
  const full = rollout(env, randomPolicy(env.spec, new Rng(3)), { episodes: 2, seed: 3 });
  const cut = rollout(env, randomPolicy(env.spec, new Rng(4)), { episodes: 1, seed: 4, maxSteps: 20 });
  return [...full, ...cut];
}

type Arrays = Record<string, Float32Array | Float64Array | Uint8Array | Int32Array>;

/** Write a plain HDF5 file with the given arrays (shape [N] or [N, w]). */
function writeRaw(name: string, arrays: Record<string, { data: Float32Array | Float64Array | Uint8Array | Int32Array; shape: number[] }>, attrs: Record<string, string> = {}): string {
  const file = join(dir, name);
  const f = new h5wasm.File(file, 'w');
  for (const [key, { data, shape }] of Object.entries(arrays)) {
    const parts = key.split('/');
    let g: InstanceType<typeof h5wasm.Group> = f;
    for (const p of parts.slice(0, -1)) g = (g.get(p) as InstanceType<typeof h5wasm.Group> | null) ?? g.create_group(p);
    const dtype = data instanceof Float32Array ? '<f' : data instanceof Float64Array ? '<d' : data instanceof Int32Array ? '<i' : '<B';
    g.create_dataset({ name: parts[parts.length - 1], data, shape, dtype });
  }
  for (const [k, v] of Object.entries(attrs)) f.create_attribute(k, v);
  f.close();
  return file;
}

/** A minimal D4RL-style file: 10 transitions, obs 3, act 2; episodes end at rows 3 (terminal), 6 (timeout) and 9 (end of data). */
function d4rlArrays(n = 10): Record<string, { data: Float32Array | Float64Array | Uint8Array | Int32Array; shape: number[] }> {
  const obs = Float32Array.from({ length: n * 3 }, (_, i) => i / 10);
  const next = Float32Array.from({ length: n * 3 }, (_, i) => i / 10 + 0.3);
  const terminals = new Uint8Array(n);
  terminals[3] = 1;
  const timeouts = new Uint8Array(n);
  timeouts[6] = 1;
  return {
    observations: { data: obs, shape: [n, 3] },
    actions: { data: Float32Array.from({ length: n * 2 }, (_, i) => ((i % 7) - 3) / 4), shape: [n, 2] },
    rewards: { data: Float32Array.from({ length: n }, (_, i) => i), shape: [n] },
    terminals: { data: terminals, shape: [n] },
    timeouts: { data: timeouts, shape: [n] },
    next_observations: { data: next, shape: [n, 3] },
  };
}

/** The InputError a promise rejects with. */
async function inputError(p: Promise<unknown>): Promise<InputError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return e as InputError;
  }
  throw new Error('expected an InputError');
}

function expectSameArrays(a: Arrays, b: Arrays, keys: string[]): void {
  for (const k of keys) {
    expect(b[k]?.constructor, k).toBe(a[k]?.constructor);
    expect(Array.from(b[k]), k).toEqual(Array.from(a[k]));
  }
}

describe('HDF5 datasets', () => {
  it('round-trips arrays bit for bit, with metadata and the simulator state of every step', async () => {
    const trajs = toyTrajectories();
    const ds = datasetFromTrajectories(trajs, {
      envConfig: { id: 'toy-reach' },
      rewardTerms: TOY_SPEC.rewardTerms.map((t) => ({ name: t.name, weight: t.weight })),
      horizon: 50,
      dt: 0.1,
      policy: 'random',
      seed: 3,
      extra: { note: 'test', steps: [1, 2] },
    });
    expect(ds.size).toBe(120);
    const file = await writeDataset(join(dir, 'round', 'toy.h5'), ds);
    const back = await readDataset(file, { env: TOY_SPEC });
    const arrays = ['observations', 'actions', 'rewards', 'terminals', 'timeouts', 'nextObservations'];
    expectSameArrays(ds as unknown as Arrays, back as unknown as Arrays, arrays);
    expectSameArrays(ds.infos as unknown as Arrays, back.infos as unknown as Arrays, ['qpos', 'qvel', 'nextQpos', 'nextQvel', 'time', 'nextTime', 'step', 'rewardTerms', 'success', 'unstable']);
    expect(back.infos.act).toBeUndefined(); // na = 0: no act arrays
    expect(back.meta).toEqual({
      envId: 'toy-reach',
      modelHash: 'toy-reach-v1',
      envConfig: { id: 'toy-reach' },
      rewardTerms: [
        { name: 'goal_distance', weight: -1 },
        { name: 'control_effort', weight: -0.05 },
        { name: 'at_goal', weight: 0.5 },
      ],
      horizon: 50,
      dt: 0.1,
      policy: 'random',
      seed: 3,
      prefrlVersion: prefrlVersion(),
      extra: { note: 'test', steps: [1, 2] },
    });
    expect(back.notes).toEqual([]);
    // Flags: the two full episodes were truncated; the cut one keeps no flag (last in the file).
    expect(episodeRanges(back)).toEqual([
      { start: 0, length: 50, terminated: false, truncated: true },
      { start: 50, length: 50, terminated: false, truncated: true },
      { start: 100, length: 20, terminated: false, truncated: false },
    ]);
    // Back to trajectories: identical to the recorded ones.
    const again = datasetToTrajectories(back);
    expect(again.length).toBe(3);
    again.forEach((t, i) => {
      const keys = ['obs', 'actions', 'rewards', 'terms', 'qpos', 'qvel', 'act', 'time', 'success'];
      expectSameArrays(trajs[i] as unknown as Arrays, t as unknown as Arrays, keys);
      expect([t.t0, t.terminated, t.truncated, t.unstable, t.envId, t.modelHash, t.nq, t.nv, t.na, t.nTerms]).toEqual([
        trajs[i].t0,
        trajs[i].terminated,
        trajs[i].truncated,
        trajs[i].unstable,
        trajs[i].envId,
        trajs[i].modelHash,
        trajs[i].nq,
        trajs[i].nv,
        trajs[i].na,
        trajs[i].nTerms,
      ]);
    });
    expect(summarizeDataset(back)).toMatchObject({ transitions: 120, episodes: 3, completeEpisodes: 2 });
    expect(summarizeDataset(back).meanReturn).toBeCloseTo((trajectoryReturn(trajs[0]) + trajectoryReturn(trajs[1])) / 2, 10);
  });

  it('stores actuator activations (na > 0) and marks a mid-list unfinished trajectory as cut', async () => {
    const [a, b] = toyTrajectories().slice(1);
    const withAct = (t: Trajectory, k: number): Trajectory => ({ ...t, na: 1, act: Float64Array.from({ length: t.length + 1 }, (_, i) => k + i / 7) });
    // b (20 steps, unfinished) comes first, then a: b's end must survive as a timeout.
    const ds = datasetFromTrajectories([withAct(b, 1), withAct(a, 2)], { policy: 'x' });
    expect(ds.timeouts[19]).toBe(1);
    const back = await readDataset(await writeDataset(join(dir, 'act.h5'), ds));
    expect(Array.from(back.infos.act!)).toEqual(Array.from(ds.infos.act!));
    expect(Array.from(back.infos.nextAct!)).toEqual(Array.from(ds.infos.nextAct!));
    const trajs = datasetToTrajectories(back);
    expect(trajs.map((t) => t.length)).toEqual([20, 50]);
    expect(Array.from(trajs[0].act)).toEqual(Array.from(withAct(b, 1).act));
  });

  it('every recorded step of a MuJoCo dataset replays exactly from its stored state', async () => {
    const env = await makeEnv('reacher');
    try {
      const trajs = rollout(env, randomPolicy(env.spec, new Rng(5)), { episodes: 1, seed: 5, maxSteps: 40 });
      const back = await readDataset(await writeDataset(join(dir, 'reacher.h5'), datasetFromTrajectories(trajs, { dt: env.spec.dt })), { env: env.spec });
      const { nq, nv } = back.infos;
      const D = back.obsDim;
      for (const t of [0, 17, 39]) {
        const tr = datasetToTrajectories(back)[0];
        env.setState({ ...stateAt(tr, t) });
        const r = env.step(back.actions.subarray(t * back.actDim, (t + 1) * back.actDim));
        expect(Array.from(r.obs)).toEqual(Array.from(back.nextObservations.subarray(t * D, (t + 1) * D)));
        expect(r.reward).toBe(back.rewards[t]);
        expect(Array.from(r.rewardTerms)).toEqual(Array.from(back.infos.rewardTerms!.subarray(t * 3, (t + 1) * 3)));
        expect(Array.from(env.getState().qpos)).toEqual(Array.from(back.infos.nextQpos!.subarray(t * nq, (t + 1) * nq)));
        expect(Array.from(env.getState().qvel)).toEqual(Array.from(back.infos.nextQvel!.subarray(t * nv, (t + 1) * nv)));
      }
    } finally {
      env.dispose();
    }
  });

  it("PPO's recorded episodes (medium-replay data) replay exactly from their first state on", async () => {
    const trajs: Trajectory[] = [];
    const trainer = await PpoTrainer.create({ env: { id: 'toy-reach' }, config: { totalSteps: 512, numEnvs: 2, numSteps: 64, numMinibatches: 4, workers: 0, seed: 1 }, onEpisode: (t) => trajs.push(t) });
    try {
      for (let i = 0; i < 3; i++) await trainer.iterate();
    } finally {
      await trainer.close();
    }
    expect(trajs.length).toBeGreaterThanOrEqual(6); // 384 steps of 2 envs with 50-step episodes
    const back = datasetToTrajectories(await readDataset(await writeDataset(join(dir, 'ppo.h5'), datasetFromTrajectories(trajs))));
    const env = new ToyReachEnv();
    for (const tr of back) {
      for (const t of [0, 1, tr.length - 1]) {
        const obs = env.setState(stateAt(tr, t));
        expect(Array.from(obs)).toEqual(Array.from(tr.obs.subarray(t * 6, (t + 1) * 6)));
        const r = env.step(tr.actions.subarray(t * 2, (t + 1) * 2));
        expect(Array.from(r.obs)).toEqual(Array.from(tr.obs.subarray((t + 1) * 6, (t + 2) * 6)));
        expect(r.reward).toBe(tr.rewards[t]);
      }
    }
  });

  it('reads a plain D4RL-style file without infos; code that needs qpos says so', async () => {
    const file = writeRaw('d4rl.h5', d4rlArrays());
    const ds = await readDataset(file, { env: { id: 'anything', obsDim: 3, actDim: 2 } });
    expect(ds.size).toBe(10);
    expect(ds.rewards).toBeInstanceOf(Float64Array);
    expect(Array.from(ds.rewards)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(ds.meta).toEqual({});
    expect(ds.infos.qpos).toBeUndefined();
    expect(Array.from(episodeReturns(ds))).toEqual([0 + 1 + 2 + 3, 4 + 5 + 6, 7 + 8 + 9]);
    const err = (() => {
      try {
        datasetToTrajectories(ds);
      } catch (e) {
        return e as InputError;
      }
      throw new Error('expected an error');
    })();
    expect(err).toBeInstanceOf(InputError);
    expect(err.source).toBe(file);
    expect(err.field).toBe('infos/qpos');
    expect(err.message).toMatch(/no simulator state \(infos\/qpos, infos\/qvel, infos\/next_qpos, infos\/next_qvel missing\)/);
    // Reward-only trajectories are still available.
    const trajs = datasetToTrajectories(ds, { state: 'optional' });
    expect(trajs.map((t) => [t.length, t.terminated, t.truncated, t.nq])).toEqual([
      [4, true, false, 0],
      [3, false, true, 0],
      [3, false, false, 0],
    ]);
    expect(Array.from(trajs[1].obs)).toEqual(Array.from(ds.observations.subarray(12, 21)).concat(Array.from(ds.nextObservations.subarray(18, 21))));
    expect(trajs[0].success.every((x) => Number.isNaN(x))).toBe(true);
  });

  it('derives next_observations like D4RL qlearning_dataset when a file lacks them (and timeouts)', async () => {
    const a = d4rlArrays();
    const file = writeRaw('no-next.h5', { observations: a.observations, actions: a.actions, rewards: a.rewards, terminals: a.terminals });
    const ds = await readDataset(file);
    // Without timeouts, episodes end at the terminal (row 3) and at the end of the data (row 9);
    // the last step of the non-terminal episode (row 9) has no successor and is dropped.
    expect(ds.size).toBe(9);
    expect(Array.from(ds.rewards)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    const obs = a.observations.data as Float32Array;
    expect(Array.from(ds.nextObservations.subarray(0, 3))).toEqual(Array.from(obs.subarray(3, 6)));
    expect(Array.from(ds.nextObservations.subarray(8 * 3, 9 * 3))).toEqual(Array.from(obs.subarray(27, 30)));
    expect(ds.timeouts[8]).toBe(1); // the dropped step's episode end moves to its predecessor
    expect(ds.notes.length).toBe(2);
    expect(ds.notes.join(' ')).toMatch(/no timeouts key/);
    expect(ds.notes.join(' ')).toMatch(/1 final step\(s\) of non-terminal episodes dropped/);
  });

  it('reads Minari episode groups', async () => {
    const ep = (T: number, k: number) => ({
      [`episode_${k}/observations`]: { data: Float32Array.from({ length: (T + 1) * 2 }, (_, i) => k * 100 + i), shape: [T + 1, 2] },
      [`episode_${k}/actions`]: { data: Float32Array.from({ length: T }, (_, i) => i / T), shape: [T, 1] },
      [`episode_${k}/rewards`]: { data: Float64Array.from({ length: T }, () => k + 1), shape: [T] },
      [`episode_${k}/terminations`]: { data: Uint8Array.from({ length: T }, (_, i) => (k === 0 && i === T - 1 ? 1 : 0)), shape: [T] },
      [`episode_${k}/truncations`]: { data: Uint8Array.from({ length: T }, (_, i) => (k === 1 && i === T - 1 ? 1 : 0)), shape: [T] },
    });
    const file = writeRaw('minari.h5', { ...ep(3, 0), ...ep(4, 1), ...ep(2, 2) });
    const ds = await readDataset(file);
    expect(ds.size).toBe(9);
    expect(episodeRanges(ds).map((e) => [e.length, e.terminated, e.truncated])).toEqual([
      [3, true, false],
      [4, false, true],
      [2, false, false],
    ]);
    expect(Array.from(episodeReturns(ds))).toEqual([3, 8, 6]);
    expect(Array.from(ds.nextObservations.subarray(0, 2))).toEqual([2, 3]);
    expect(Array.from(ds.observations.subarray(6, 8))).toEqual([100, 101]);
  });

  describe('bad files are rejected with the file and the field named', () => {
    const cases: { name: string; edit: (a: ReturnType<typeof d4rlArrays>) => void; field: string; message: RegExp; attrs?: Record<string, string>; env?: boolean }[] = [
      { name: 'missing key', edit: (a) => delete (a as Record<string, unknown>).rewards, field: 'rewards', message: /missing key "rewards"/ },
      {
        name: 'row mismatch',
        edit: (a) => (a.rewards = { data: new Float32Array(9), shape: [9] }),
        field: 'rewards',
        message: /has 9 rows, observations has 10/,
      },
      {
        name: 'width mismatch',
        edit: (a) => (a.next_observations = { data: new Float32Array(40), shape: [10, 4] }),
        field: 'next_observations',
        message: /has 4 columns, observations has 3/,
      },
      {
        name: 'NaN reward',
        edit: (a) => ((a.rewards.data as Float32Array)[3] = Number.NaN),
        field: 'rewards',
        message: /row 3 is NaN; values must be finite/,
      },
      {
        name: 'Inf observation',
        edit: (a) => ((a.observations.data as Float32Array)[7] = Number.POSITIVE_INFINITY),
        field: 'observations',
        message: /row 2, column 1 is Infinity/,
      },
      {
        name: 'wrong dtype',
        edit: (a) => (a.observations = { data: new Int32Array(30), shape: [10, 3] }),
        field: 'observations',
        message: /has dtype int32; expected a floating-point array/,
      },
      {
        name: 'flag not 0/1',
        edit: (a) => ((a.terminals.data as Uint8Array)[5] = 2),
        field: 'terminals',
        message: /row 5 is 2; expected 0 or 1/,
      },
      {
        name: 'float flag not 0/1',
        edit: (a) => (a.timeouts = { data: Float32Array.from({ length: 10 }, (_, i) => (i === 4 ? 0.5 : 0)), shape: [10] }),
        field: 'timeouts',
        message: /row 4 is 0.5; expected 0 or 1/,
      },
      {
        name: 'wrong env',
        edit: () => undefined,
        attrs: { env_id: 'toy-reach' },
        env: true,
        field: 'attrs.env_id',
        message: /recorded on env "toy-reach", not "reacher"/,
      },
      {
        name: 'wrong observation size for the env',
        edit: () => undefined,
        env: true,
        field: 'observations',
        message: /observations have 3 columns, env "reacher" has 10/,
      },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        const a = d4rlArrays();
        c.edit(a);
        const file = writeRaw(`bad-${c.name.replace(/\W+/g, '-')}.h5`, a, c.attrs ?? {});
        const err = await inputError(readDataset(file, c.env ? { env: { id: 'reacher', obsDim: c.attrs ? 3 : 10, actDim: 2 } } : {}));
        expect(err.source).toBe(file);
        expect(err.field).toBe(c.field);
        expect(err.message).toMatch(c.message);
        expect(err.message.startsWith(file)).toBe(true);
      });
    }
    it('not an HDF5 file', async () => {
      const file = join(dir, 'text.h5');
      writeFileSync(file, 'hello');
      const err = await inputError(readDataset(file));
      expect(err.message).toMatch(/cannot open as HDF5/);
    });
    it('a truncated file (an interrupted copy) is named as truncated, with its size and the size its superblock declares', async () => {
      const whole = writeRaw('whole.h5', d4rlArrays(), {});
      const bytes = readFileSync(whole);
      expect(hdf5Sizes(whole, 0)).toEqual({ size: bytes.length, declaredEnd: bytes.length });
      const file = join(dir, 'cut.h5');
      writeFileSync(file, bytes.subarray(0, 1000));
      const err = await inputError(readDataset(file));
      expect(err.source).toBe(file);
      expect(err.message).toBe(`${file}: is truncated: 1000 bytes, its HDF5 superblock says ${bytes.length} (an interrupted copy or write?)`);
    });
    it("a damaged superblock or object header: one line with HDF5's outermost failure and its cause; an intact file reads normally afterwards", async () => {
      const whole = writeRaw('whole2.h5', d4rlArrays(), {});
      const bytes = readFileSync(whole);
      const cases: [number, RegExp][] = [
        [8, /cannot open as HDF5 \(H5Fopen: .*\(cause: H5F__superblock_prefix_decode: bad superblock version number\)\)$/],
        [96, /cannot read as HDF5 \(damaged file\?\): \w+: .*\(cause: .*checksum.*\)$/],
      ];
      for (const [at, message] of cases) {
        const damaged = Buffer.from(bytes);
        damaged.writeUInt32LE(0xffffffff, at);
        const file = join(dir, `damaged-${at}.h5`);
        writeFileSync(file, damaged);
        const err = await inputError(readDataset(file));
        expect(err.source).toBe(file);
        expect(err.message).toMatch(message);
        expect(err.message).not.toContain('\n');
      }
      // the library works normally afterwards
      expect((await readDataset(whole)).size).toBe(10);
    });
    it('the HDF5 error stack summary: the outermost entry and the deepest one', () => {
      const stack = [
        'HDF5-DIAG: Error detected in HDF5 (2.0.0):',
        '  #000: /src/H5F.c line 836 in H5Fopen(): unable to synchronously open file',
        '    major: File accessibility',
        '  #001: /src/H5Fsuper.c line 99 in H5F__super_read(): unable to load superblock',
        '  #002: /src/H5Fsuper_cache.c line 7 in H5F__superblock_prefix_decode(): bad superblock version number',
      ].join('\n');
      expect(hdf5ErrorSummary(stack)).toBe('H5Fopen: unable to synchronously open file (cause: H5F__superblock_prefix_decode: bad superblock version number)');
      expect(hdf5ErrorSummary(stack.split('\n').slice(0, 2).join('\n'))).toBe('H5Fopen: unable to synchronously open file');
      expect(hdf5ErrorSummary('something else\nmore')).toBe('something else');
    });
    it('superblock versions 0 and 2 by hand: the end is the base address plus the end-of-file address; undefined addresses say nothing', () => {
      const UNDEFINED = 0xffffffffffffffffn;
      /** A file of `size` bytes with a superblock at `at`: signature, version, 8-byte offsets, and the given addresses. */
      const superblock = (name: string, size: number, at: number, version: number, offsetsAt: number, addrs: [number, bigint][]): string => {
        const buf = Buffer.alloc(size);
        const h = buf.subarray(at);
        [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a].forEach((b, i) => (h[i] = b));
        h[8] = version;
        h[offsetsAt] = 8;
        for (const [o, v] of addrs) h.writeBigUInt64LE(v, o);
        const file = join(dir, name);
        writeFileSync(file, buf);
        return file;
      };
      // Version 0: base at 24, free-space address at 32, end-of-file address at 40.
      expect(hdf5Sizes(superblock('v0.bin', 96, 0, 0, 13, [[24, 0n], [32, UNDEFINED], [40, 5000n]]), 0)).toEqual({ size: 96, declaredEnd: 5000 });
      // Version 2 after a 512-byte user block: base address 512 (absolute), end-of-file 300 relative to it.
      expect(hdf5Sizes(superblock('v2.bin', 576, 512, 2, 9, [[12, 512n], [20, UNDEFINED], [28, 300n]]), 512)).toEqual({ size: 576, declaredEnd: 812 });
      // An undefined end-of-file address, or an unknown superblock version: no claim.
      expect(hdf5Sizes(superblock('v2u.bin', 576, 512, 2, 9, [[12, 512n], [20, UNDEFINED], [28, UNDEFINED]]), 512).declaredEnd).toBeNull();
      expect(hdf5Sizes(superblock('v9.bin', 576, 512, 9, 9, [[12, 512n], [20, UNDEFINED], [28, 300n]]), 512).declaredEnd).toBeNull();
    });
    it('a physics hash that differs', () => {
      const ds = datasetFromTrajectories(toyTrajectories().slice(0, 1));
      expect(() => checkEnv(ds, { id: 'toy-reach', obsDim: 6, actDim: 2, modelHash: 'other' })).toThrow(/model hash toy-reach-v1\) differs from env "toy-reach" \(other\)$/);
      // A bring-your-own model's hash covers its folder: the message says so.
      const custom = { ...ds, meta: { ...ds.meta, envId: 'custom:arm.xml' } };
      expect(() => checkEnv(custom, { id: 'custom:arm.xml', obsDim: 6, actDim: 2, modelHash: 'other' })).toThrow(
        `differs from env "custom:arm.xml" (other) (a model file's hash covers the files of its folder: its meshes, textures and XML files, another robot's included; an edit to any of them changes it)`,
      );
    });
  });

  it('segments episodes from terminals and timeouts (the end of the data closes the last one)', () => {
    const seg = (terminals: number[], timeouts: number[]) =>
      episodeRanges({ size: terminals.length, terminals: Uint8Array.from(terminals), timeouts: Uint8Array.from(timeouts) }).map((e) => [e.start, e.length, e.terminated, e.truncated]);
    expect(seg([0, 0, 1, 0, 0, 0, 0], [0, 0, 0, 0, 1, 0, 0])).toEqual([
      [0, 3, true, false],
      [3, 2, false, true],
      [5, 2, false, false],
    ]);
    expect(seg([1, 1], [0, 0])).toEqual([
      [0, 1, true, false],
      [1, 1, true, false],
    ]);
    // Both flags on one step: a terminal state (no bootstrapping) wins.
    expect(seg([0, 1, 0], [0, 1, 1])).toEqual([
      [0, 2, true, false],
      [2, 1, false, true],
    ]);
    const ds = { size: 5, terminals: Uint8Array.from([0, 1, 0, 0, 0]), timeouts: new Uint8Array(5), rewards: Float64Array.from([1, 2, 3, 4, 5]) } as unknown as OfflineDataset;
    expect(Array.from(episodeReturns(ds))).toEqual([3, 12]);
    expect(Array.from(episodeReturns(ds, [0, 0, 1, 1, 1]))).toEqual([0, 3]);
  });
});
