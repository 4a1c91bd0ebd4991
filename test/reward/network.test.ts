import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { initBackend } from '../../core/backend.js';
import { InputError } from '../../core/errors.js';
import { Rng } from '../../core/rng.js';
import { randomPolicy, rollout } from '../../envs/rollout.js';
import { ToyReachEnv } from '../../envs/toy.js';
import {
  type Activation,
  ACTIVATIONS,
  dense,
  InputNormalizer,
  inputWidth,
  maskIgnoredObs,
  MODEL_FILE,
  RewardNet,
  segmentRows,
  transitionRows,
  WEIGHTS_FILE,
} from '../../reward/network.js';
import { cutSegments, makePair } from '../../reward/segments.js';
import type { TransitionBatch } from '../../reward/types.js';

let dir = '';
beforeAll(async () => {
  await initBackend('wasm');
  dir = mkdtempSync(join(tmpdir(), 'prefrl-net-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function randomTensor(shape: number[], rng: Rng): tf.Tensor {
  const v = new Float32Array(shape.reduce((a, b) => a * b, 1));
  rng.fillNormal(v);
  return tf.tensor(v, shape);
}

/** Plain tf ops (tf's own gradients) for act(x W + b). */
function reference(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D, act: Activation, alpha: number): tf.Tensor2D {
  const z = tf.add(tf.matMul(x, w), b) as tf.Tensor2D;
  switch (act) {
    case 'linear':
      return z;
    case 'relu':
      return tf.relu(z);
    case 'leaky-relu':
      return tf.leakyRelu(z, alpha);
    case 'tanh':
      return tf.tanh(z);
    case 'sigmoid':
      return tf.sigmoid(z);
  }
}

function maxRelDiff(a: tf.Tensor, b: tf.Tensor): number {
  const x = a.dataSync();
  const y = b.dataSync();
  expect(x.length).toBe(y.length);
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]) / (1e-3 + Math.abs(y[i])));
  return m;
}

function randomBatch(n: number, obsDim: number, actDim: number, rng: Rng): TransitionBatch {
  const obs = new Float32Array(n * obsDim);
  const actions = new Float32Array(n * actDim);
  const nextObs = new Float32Array(n * obsDim);
  rng.fillNormal(obs);
  rng.fillNormal(actions);
  rng.fillNormal(nextObs);
  return { n, obs, actions, nextObs };
}

describe('dense layer with a custom gradient', () => {
  for (const act of ACTIVATIONS) {
    it(`gradients equal tf's own for ${act}, and leave no tensor behind`, () => {
      const tensorsBefore = tf.memory().numTensors;
      const rng = new Rng(`dense-${act}`);
      const x = randomTensor([37, 9], rng) as tf.Tensor2D;
      const w = tf.tidy(() => tf.mul(randomTensor([9, 6], rng), 0.4)) as tf.Tensor2D;
      const b = randomTensor([6], rng) as tf.Tensor1D;
      const upstream = randomTensor([37, 6], rng);
      const alpha = 0.01;
      const lossOf = (f: typeof reference) => (xs: tf.Tensor, ws: tf.Tensor, bs: tf.Tensor) =>
        tf.sum(tf.mul(f(xs as tf.Tensor2D, ws as tf.Tensor2D, bs as tf.Tensor1D, act, alpha), upstream));
      const mine = tf.grads(lossOf((xs, ws, bs) => dense(xs, ws, bs, act, alpha)))([x, w, b]);
      const theirs = tf.grads(lossOf(reference))([x, w, b]);
      for (let i = 0; i < 3; i++) expect(maxRelDiff(mine[i], theirs[i])).toBeLessThan(1e-4);
      // Same forward values.
      expect(tf.tidy(() => maxRelDiff(dense(x, w, b, act, alpha), reference(x, w, b, act, alpha)))).toBeLessThan(1e-5);
      // First-layer form: x constant, its transpose supplied.
      const [dw, db] = tf.grads((ws: tf.Tensor, bs: tf.Tensor) =>
        tf.sum(tf.mul(dense(x, ws as tf.Tensor2D, bs as tf.Tensor1D, act, alpha, { xT: tf.transpose(x), inputGrad: false }), upstream)),
      )([w, b]);
      expect(maxRelDiff(dw, theirs[1])).toBeLessThan(1e-4);
      expect(maxRelDiff(db, theirs[2])).toBeLessThan(1e-4);
      tf.dispose([x, w, b, upstream, ...mine, ...theirs, dw, db]);
      // The forward values compared above and the scaled weights' draw were left behind once (5 tensors a case).
      expect(tf.memory().numTensors).toBe(tensorsBefore);
    });
  }

  it('whole-network gradients equal those of the same MLP built from tf ops', () => {
    const net = RewardNet.create({ obsDim: 4, actDim: 2, hidden: [16, 8], members: 1 }, new Rng(3));
    const rng = new Rng('mlp');
    const x = randomTensor([50, 6], rng) as tf.Tensor2D;
    const vars = net.memberVariables(0);
    const refForward = () => {
      let h: tf.Tensor2D = x;
      net.layers[0].forEach((p, l) => {
        h = reference(h, p.w, p.b, l === 2 ? 'tanh' : 'leaky-relu', 0.01);
      });
      return tf.sum(tf.square(h)) as tf.Scalar;
    };
    const mine = tf.variableGrads(() => tf.sum(tf.square(net.forwardMember(0, x, tf.transpose(x)))) as tf.Scalar, vars);
    const theirs = tf.variableGrads(refForward, vars);
    expect(Math.abs(mine.value.dataSync()[0] - theirs.value.dataSync()[0])).toBeLessThan(1e-4);
    for (const v of vars) expect(maxRelDiff(mine.grads[v.name], theirs.grads[v.name])).toBeLessThan(1e-4);
    tf.dispose([x, mine.value, theirs.value, ...Object.values(mine.grads), ...Object.values(theirs.grads)]);
    net.dispose();
  });
});

describe('inputs', () => {
  it('input kinds give the right widths and columns', () => {
    expect(inputWidth('obs', 6, 2)).toBe(6);
    expect(inputWidth('obs-action', 6, 2)).toBe(8);
    expect(inputWidth('obs-next-obs', 6, 2)).toBe(12);
    const batch: TransitionBatch = {
      n: 2,
      obs: Float32Array.from([1, 2, 3, 4]),
      actions: Float32Array.from([10, 20]),
      nextObs: Float32Array.from([5, 6, 7, 8]),
    };
    expect(Array.from(transitionRows(batch, 'obs', 2, 1))).toEqual([1, 2, 3, 4]);
    expect(Array.from(transitionRows(batch, 'obs-action', 2, 1))).toEqual([1, 2, 10, 3, 4, 20]);
    expect(Array.from(transitionRows(batch, 'obs-next-obs', 2, 1))).toEqual([1, 2, 5, 6, 3, 4, 7, 8]);
    for (const input of ['obs', 'obs-action', 'obs-next-obs'] as const) {
      const net = RewardNet.create({ obsDim: 6, actDim: 2, input, hidden: [8], members: 2 }, new Rng(1));
      expect(net.inDim).toBe(inputWidth(input, 6, 2));
      expect(net.layers[0][0].w.shape).toEqual([net.inDim, 8]);
      expect(net.predictMembers(randomBatch(5, 6, 2, new Rng(2))).length).toBe(10);
      net.dispose();
    }
  });

  it('segment rows use s_t, a_t and s_{t+1}', () => {
    const env = new ToyReachEnv();
    const [seg] = cutSegments(rollout(env, randomPolicy(env.spec, new Rng(4)), { episodes: 1, seed: 1 }), { length: 10 });
    const rows = segmentRows(seg, 'obs-next-obs');
    expect(rows.length).toBe(10 * 12);
    expect(Array.from(rows.subarray(12 * 3, 12 * 3 + 6))).toEqual(Array.from(seg.obs.subarray(6 * 3, 6 * 4)));
    expect(Array.from(rows.subarray(12 * 3 + 6, 12 * 4))).toEqual(Array.from(seg.obs.subarray(6 * 4, 6 * 5)));
    const oa = segmentRows(seg, 'obs-action');
    expect(Array.from(oa.subarray(8 * 9 + 6, 8 * 10))).toEqual(Array.from(seg.actions.subarray(2 * 9, 2 * 10)));
  });

  it('rejects a batch whose arrays do not match n', () => {
    const net = RewardNet.create({ obsDim: 3, actDim: 1, hidden: [4], members: 1 }, new Rng(1));
    expect(() => net.predict({ n: 2, obs: new Float32Array(5), actions: new Float32Array(2), nextObs: new Float32Array(0) })).toThrow(/obs has 5 values/);
    net.dispose();
  });

  it('the normaliser centres and scales features, leaves constant ones centred and clips', () => {
    const rows = Float32Array.from([1, 5, 3, 5, 5, 5]); // column 0: 1, 3, 5; column 1 constant
    const norm = InputNormalizer.fit(rows, 2, 3);
    expect(norm.mean[0]).toBeCloseTo(3, 6);
    expect(norm.std[0]).toBeCloseTo(Math.sqrt(8 / 3), 6);
    expect(norm.std[1]).toBe(1);
    const out = norm.apply(Float32Array.from([3 + Math.sqrt(8 / 3), 6, 1000, 5]));
    expect(out[0]).toBeCloseTo(1, 5);
    expect(out[1]).toBeCloseTo(1, 6);
    expect(out[2]).toBe(3);
  });
});

describe('RewardNet', () => {
  it('initialisation is seeded and PyTorch-shaped', () => {
    const a = RewardNet.create({ obsDim: 5, actDim: 2 }, new Rng(11));
    const b = RewardNet.create({ obsDim: 5, actDim: 2 }, new Rng(11));
    const c = RewardNet.create({ obsDim: 5, actDim: 2 }, new Rng(12));
    expect(a.members).toBe(3);
    expect(a.config.hidden).toEqual([256, 256]);
    const wa = a.getMemberWeights(1);
    expect(wa).toEqual(b.getMemberWeights(1));
    expect(wa[0]).not.toEqual(c.getMemberWeights(1)[0]);
    expect(wa[0]).not.toEqual(a.getMemberWeights(0)[0]);
    const bound = 1 / Math.sqrt(7);
    expect(Math.max(...wa[0].map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...wa[0].map(Math.abs))).toBeGreaterThan(0.9 * bound);
    for (const n of [a, b, c]) n.dispose();
  });

  it('predict is the mean of predictMembers and chunking does not change results', () => {
    const net = RewardNet.create({ obsDim: 6, actDim: 2, hidden: [32, 32] }, new Rng(5));
    net.setNormalizer(new InputNormalizer(Float32Array.from([0.1, 0, 0, 0, 0, 0, 0, 0.5]), Float32Array.from([2, 1, 1, 1, 1, 1, 1, 3])));
    const batch = randomBatch(1001, 6, 2, new Rng(6));
    const whole = net.predictMembers(batch, { chunkSize: 4096 });
    const chunked = net.predictMembers(batch, { chunkSize: 97 });
    expect(chunked.length).toBe(3 * 1001);
    let maxDiff = 0;
    for (let i = 0; i < whole.length; i++) maxDiff = Math.max(maxDiff, Math.abs(whole[i] - chunked[i]));
    expect(maxDiff).toBeLessThan(1e-6);
    const mean = net.predict(batch, { chunkSize: 97 });
    for (const i of [0, 500, 1000]) expect(mean[i]).toBeCloseTo((whole[i] + whole[1001 + i] + whole[2002 + i]) / 3, 6);
    // Members differ (independent initialisation); tanh output is bounded.
    expect(whole[0]).not.toBe(whole[1001]);
    expect(Math.max(...whole.map(Math.abs))).toBeLessThan(1);
    expect(net.predict({ n: 0, obs: new Float32Array(0), actions: new Float32Array(0), nextObs: new Float32Array(0) }).length).toBe(0);
    net.dispose();
  });

  it('leaks no tensors in predict, segment sums and dispose', () => {
    const before = tf.memory().numTensors;
    const net = RewardNet.create({ obsDim: 6, actDim: 2, hidden: [16] }, new Rng(7));
    const afterCreate = tf.memory().numTensors;
    net.predict(randomBatch(300, 6, 2, new Rng(8)), { chunkSize: 64 });
    net.predictMembers(randomBatch(10, 6, 2, new Rng(9)));
    const env = new ToyReachEnv();
    const segs = cutSegments(rollout(env, randomPolicy(env.spec, new Rng(4)), { episodes: 2, seed: 1 }), { length: 10 });
    const sums = net.segmentSums(segs);
    expect(sums.length).toBe(3 * segs.length);
    expect(tf.memory().numTensors).toBe(afterCreate);
    net.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => net.predict(randomBatch(1, 6, 2, new Rng(1)))).toThrow(/dispose/);
  });

  it('pairProbs runs each distinct segment once and gives what the sums of every pair\'s two segments give', () => {
    const net = RewardNet.create({ obsDim: 6, actDim: 2, hidden: [16, 8], members: 2 }, new Rng(21));
    const env = new ToyReachEnv();
    const segs = cutSegments(rollout(env, randomPolicy(env.spec, new Rng(4)), { episodes: 2, seed: 3 }), { length: 10 });
    expect(segs.length).toBe(10);
    // 6 pairs over 4 segments, one segment against itself, the others in both orders.
    const [s0, s1, s2, s3] = segs;
    const pairs = [makePair(s0, s1), makePair(s1, s0), makePair(s2, s2), makePair(s3, s0), makePair(s1, s2), makePair(s0, s1)];
    for (const temperature of [1, 2.5]) {
      const perPair = net.segmentSums(pairs.flatMap((p) => [p.a, p.b]));
      const n = pairs.length;
      const want = new Float32Array(2 * n);
      for (let k = 0; k < 2; k++) {
        for (let j = 0; j < n; j++) {
          const d = (perPair[k * 2 * n + 2 * j] - perPair[k * 2 * n + 2 * j + 1]) / temperature;
          want[k * n + j] = d >= 0 ? 1 / (1 + Math.exp(-d)) : Math.exp(d) / (1 + Math.exp(d));
        }
      }
      const spy = vi.spyOn(net, 'segmentSums');
      const got = net.pairProbs(pairs, temperature);
      expect(spy.mock.calls.map((c) => c[0].map((g) => g.id))).toEqual([[s0.id, s1.id, s2.id, s3.id]]);
      spy.mockRestore();
      // The same values to the bit: a row's output does not depend on the other rows it is run with.
      expect(Array.from(got)).toEqual(Array.from(want));
      expect(got[2]).toBe(0.5); // a segment against itself
      expect(got[0]).toBeCloseTo(1 - got[1], 6); // the same pair in the other order
    }
    expect(net.pairProbs([]).length).toBe(0);
    net.dispose();
  });

  it('segment sums add the per-step outputs', () => {
    const net = RewardNet.create({ obsDim: 6, actDim: 2, hidden: [8], members: 2 }, new Rng(13));
    const env = new ToyReachEnv();
    const segs = cutSegments(rollout(env, randomPolicy(env.spec, new Rng(4)), { episodes: 1, seed: 2 }), { length: 25 });
    const sums = net.segmentSums(segs);
    const per = net.predictMembers({ n: 25, obs: segs[1].obs.subarray(0, 25 * 6), actions: segs[1].actions, nextObs: segs[1].obs.subarray(6) });
    let s = 0;
    for (let t = 0; t < 25; t++) s += per[25 + t];
    expect(sums[1 * segs.length + 1]).toBeCloseTo(s, 4);
    net.dispose();
  });
});

describe('save and load', () => {
  function savedNet(name: string): { net: RewardNet; path: string } {
    const net = RewardNet.create({ obsDim: 6, actDim: 2, hidden: [16, 8], input: 'obs-next-obs', outputActivation: 'linear' }, new Rng(21));
    net.setNormalizer(InputNormalizer.fit(Float32Array.from({ length: 12 * 20 }, (_, i) => Math.sin(i)), 12));
    net.setPreferenceModel('regret');
    net.meta = { note: 'test' };
    const path = join(dir, name);
    net.save(path);
    return { net, path };
  }

  it('round trip gives identical predictions, config, normaliser and meta', () => {
    const { net, path } = savedNet('ok');
    const loaded = RewardNet.load(path);
    expect(loaded.config).toEqual(net.config);
    expect(loaded.config.preferenceModel).toBe('regret');
    expect(loaded.meta).toEqual({ note: 'test' });
    expect(Array.from(loaded.normalizer.mean)).toEqual(Array.from(net.normalizer.mean));
    const batch = randomBatch(200, 6, 2, new Rng(22));
    expect(Array.from(loaded.predictMembers(batch))).toEqual(Array.from(net.predictMembers(batch)));
    net.dispose();
    loaded.dispose();
  });

  it('a missing folder names model.json', () => {
    const p = join(dir, 'nowhere');
    expect(() => RewardNet.load(p)).toThrow(InputError);
    expect(() => RewardNet.load(p)).toThrow(join(p, MODEL_FILE));
  });

  it('corrupt JSON names model.json', () => {
    const { net, path } = savedNet('badjson');
    net.dispose();
    writeFileSync(join(path, MODEL_FILE), '{"format": ');
    expect(() => RewardNet.load(path)).toThrow(new RegExp(`${join(path, MODEL_FILE)}.*not valid JSON`));
  });

  it('a truncated weights file names weights.bin', () => {
    const { net, path } = savedNet('short');
    net.dispose();
    const bytes = readFileSync(join(path, WEIGHTS_FILE));
    writeFileSync(join(path, WEIGHTS_FILE), bytes.subarray(0, bytes.length - 8));
    expect(() => RewardNet.load(path)).toThrow(new RegExp(`${join(path, WEIGHTS_FILE)}: has ${bytes.length - 8} bytes`));
  });

  it('a folder in the place of weights.bin or model.json names the file and says so (it said EISDIR or "not valid JSON")', () => {
    const { net, path } = savedNet('folders');
    net.dispose();
    rmSync(join(path, WEIGHTS_FILE));
    mkdirSync(join(path, WEIGHTS_FILE));
    expect(() => RewardNet.load(path)).toThrow(new InputError(join(path, WEIGHTS_FILE), 'cannot read: is a folder, not a file'));
    rmSync(join(path, MODEL_FILE));
    mkdirSync(join(path, MODEL_FILE));
    expect(() => RewardNet.load(path)).toThrow(new InputError(join(path, MODEL_FILE), 'cannot read: is a folder, not a file'));
  });

  it('a config that does not match the tensors names model.json and the tensor', () => {
    const { net, path } = savedNet('shape');
    net.dispose();
    const doc = JSON.parse(readFileSync(join(path, MODEL_FILE), 'utf8'));
    doc.config.hidden = [16, 9];
    writeFileSync(join(path, MODEL_FILE), JSON.stringify(doc));
    expect(() => RewardNet.load(path)).toThrow(new RegExp(`${join(path, MODEL_FILE)}.*member0/dense1/kernel has shape \\[16,8\\], the config implies \\[16, 9\\]`));
  });

  it('bad config values and unknown keys name model.json and the field', () => {
    const { net, path } = savedNet('cfg');
    net.dispose();
    const doc = JSON.parse(readFileSync(join(path, MODEL_FILE), 'utf8'));
    writeFileSync(join(path, MODEL_FILE), JSON.stringify({ ...doc, config: { ...doc.config, activation: 'swish' } }));
    expect(() => RewardNet.load(path)).toThrow(/model\.json \(config\.activation\): activation must be one of/);
    writeFileSync(join(path, MODEL_FILE), JSON.stringify({ ...doc, config: { ...doc.config, dropout: 0.1 } }));
    expect(() => RewardNet.load(path)).toThrow(/model\.json \(config\.dropout\): unknown key/);
    writeFileSync(join(path, MODEL_FILE), JSON.stringify({ ...doc, normalizer: { ...doc.normalizer, std: doc.normalizer.std.slice(1) } }));
    expect(() => RewardNet.load(path)).toThrow(/model\.json \(normalizer\.std\)/);
  });
});

/**
 * Save `net` under `name`, check the loaded copy predicts the same on `batch` and passes
 * `check`, then rewrite model.json without config[key] (as a file from before that field);
 * returns the folder and the rewritten document.
 */
function roundTripThenDrop(net: RewardNet, name: string, key: string, batch: TransitionBatch, check: (loaded: RewardNet) => void): { path: string; doc: { config: Record<string, unknown> } } {
  const path = join(dir, name);
  net.save(path);
  const loaded = RewardNet.load(path);
  check(loaded);
  expect(Array.from(loaded.predictMembers(batch))).toEqual(Array.from(net.predictMembers(batch)));
  loaded.dispose();
  const doc = JSON.parse(readFileSync(join(path, MODEL_FILE), 'utf8'));
  delete doc.config[key];
  writeFileSync(join(path, MODEL_FILE), JSON.stringify(doc));
  return { path, doc };
}

describe('ignored observation dimensions (ignoreObs)', () => {
  it('zeroes exactly the listed obs columns, in both halves for obs-next-obs', () => {
    // Two rows of obs-action with obsDim 3, actDim 2: [o0 o1 o2 a0 a1].
    const rows = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    maskIgnoredObs(rows, { input: 'obs-action', obsDim: 3, actDim: 2, ignoreObs: [1] });
    expect(Array.from(rows)).toEqual([1, 0, 3, 4, 5, 6, 0, 8, 9, 10]);
    // One row of obs-next-obs with obsDim 3: [o0 o1 o2 n0 n1 n2].
    const pair = Float32Array.from([1, 2, 3, 4, 5, 6]);
    maskIgnoredObs(pair, { input: 'obs-next-obs', obsDim: 3, actDim: 2, ignoreObs: [0, 2] });
    expect(Array.from(pair)).toEqual([0, 2, 0, 0, 5, 0]);
  });

  it('predictions do not depend on the ignored dimensions and do on the others', () => {
    const net = RewardNet.create({ obsDim: 4, actDim: 1, hidden: [8], members: 2, ignoreObs: [3, 1] }, new Rng(7));
    expect(net.config.ignoreObs).toEqual([1, 3]);
    const batch = randomBatch(50, 4, 1, new Rng(8));
    net.setNormalizer(InputNormalizer.fit(net.maskRows(transitionRows(batch, 'obs-action', 4, 1)), 5));
    // A masked column is constant 0, so the fit leaves it at mean 0, std 1 (it stays 0).
    expect(net.normalizer.mean[1]).toBe(0);
    expect(net.normalizer.std[3]).toBe(1);
    const base = net.predictMembers(batch);
    const changed = { ...batch, obs: batch.obs.map((v, i) => (i % 4 === 1 || i % 4 === 3 ? v * 5 + 3 : v)) };
    expect(Array.from(net.predictMembers(changed))).toEqual(Array.from(base));
    const other = { ...batch, obs: batch.obs.map((v, i) => (i % 4 === 0 ? v + 1 : v)) };
    expect(Array.from(net.predictMembers(other))).not.toEqual(Array.from(base));
    net.dispose();
  });

  it('rejects indices out of range, repeated, or hiding every input', () => {
    expect(() => RewardNet.create({ obsDim: 4, actDim: 1, ignoreObs: [4] }, new Rng(1))).toThrow(/ignoreObs: ignoreObs must be a list of observation indices in \[0, 4\), got \[4\]/);
    expect(() => RewardNet.create({ obsDim: 4, actDim: 1, ignoreObs: [2, 2] }, new Rng(1))).toThrow(/lists an index twice/);
    expect(() => RewardNet.create({ obsDim: 2, actDim: 1, input: 'obs', ignoreObs: [0, 1] }, new Rng(1))).toThrow(/input obs would see nothing/);
  });

  it('is saved and loaded; a model.json written before the field loads with none ignored', () => {
    const net = RewardNet.create({ obsDim: 4, actDim: 1, hidden: [8], members: 1, ignoreObs: [2] }, new Rng(9));
    const batch = randomBatch(20, 4, 1, new Rng(10));
    const { path, doc } = roundTripThenDrop(net, 'ignore', 'ignoreObs', batch, (loaded) => expect(loaded.config.ignoreObs).toEqual([2]));
    const old = RewardNet.load(path);
    expect(old.config.ignoreObs).toEqual([]);
    // The weights are the same, but now column 2 is seen, so the outputs differ.
    expect(Array.from(old.predictMembers(batch))).not.toEqual(Array.from(net.predictMembers(batch)));
    old.dispose();
    doc.config.ignoreObs = [-1];
    writeFileSync(join(path, MODEL_FILE), JSON.stringify(doc));
    expect(() => RewardNet.load(path)).toThrow(/model\.json \(config\.ignoreObs\): ignoreObs must be a list/);
    net.dispose();
  });
});

describe('additive structure (additive: true)', () => {
  it('masks join each input to its own block of units, by hand for 2 inputs and hidden [2, 1]', () => {
    const c = RewardNet.resolveConfig({ input: 'obs', obsDim: 2, actDim: 1, hidden: [2, 1], additive: true });
    expect(RewardNet.layerSizes(c)).toEqual([2, 4, 2, 1]);
    const masks = RewardNet.layerMasks(c)!;
    expect(masks.length).toBe(3);
    // Layer 0, [2, 4]: input 0 -> units 0, 1; input 1 -> units 2, 3.
    expect(Array.from(masks[0]!)).toEqual([1, 1, 0, 0, 0, 0, 1, 1]);
    // Layer 1, [4, 2]: units 0, 1 -> unit 0; units 2, 3 -> unit 1.
    expect(Array.from(masks[1]!)).toEqual([1, 0, 1, 0, 0, 1, 0, 1]);
    // The output layer sums every block.
    expect(masks[2]).toBeNull();
    expect(RewardNet.layerMasks(RewardNet.resolveConfig({ obsDim: 2, actDim: 1 }))).toBeNull();
  });

  it('initialises masked weights to 0 and draws the others with the block fan-in', () => {
    const net = RewardNet.create({ input: 'obs', obsDim: 3, actDim: 1, hidden: [4, 4], members: 1, additive: true }, new Rng(3));
    const [w0, , w1] = net.getMemberWeights(0);
    const masks = RewardNet.layerMasks(net.config)!;
    for (const [w, m, bound] of [[w0, masks[0]!, 1], [w1, masks[1]!, 0.5]] as const) {
      let inside = 0;
      for (let i = 0; i < w.length; i++) {
        if (m[i] === 0) expect(w[i] === 0).toBe(true);
        else {
          expect(Math.abs(w[i])).toBeLessThanOrEqual(bound);
          if (w[i] !== 0) inside++;
        }
      }
      expect(inside).toBe(m.reduce((a, b) => a + b, 0));
    }
    net.dispose();
  });

  /** r(a1, b1) + r(a2, b2) - r(a1, b2) - r(a2, b1) for a net on 2 inputs (0 when additive). */
  function interaction(net: RewardNet): number {
    const rows = Float32Array.from([0.3, -1.2, 1.5, 0.8, 0.3, 0.8, 1.5, -1.2]);
    const r = net.predictRows(rows, 4, { normalized: true });
    return r[0] + r[1] - r[2] - r[3];
  }

  it('the output is a sum of one function per input (linear output: no interaction), unlike the dense MLP', () => {
    const add = RewardNet.create({ input: 'obs', obsDim: 2, actDim: 1, hidden: [16, 16], members: 2, outputActivation: 'linear', additive: true }, new Rng(4));
    expect(Math.abs(interaction(add))).toBeLessThan(1e-5);
    const full = RewardNet.create({ input: 'obs', obsDim: 2, actDim: 1, hidden: [16, 16], members: 2, outputActivation: 'linear' }, new Rng(4));
    expect(Math.abs(interaction(full))).toBeGreaterThan(1e-3);
    add.dispose();
    full.dispose();
  });

  it('is saved and loaded; without the field the tensors do not fit the config; a non-boolean is rejected', () => {
    const net = RewardNet.create({ obsDim: 3, actDim: 1, hidden: [4], members: 1, additive: true }, new Rng(8));
    const batch = randomBatch(10, 3, 1, new Rng(9));
    const { path, doc } = roundTripThenDrop(net, 'additive', 'additive', batch, (loaded) => expect(loaded.config.additive).toBe(true));
    // Without the field the config implies a dense MLP of width 4, which the saved tensors do not fit.
    expect(() => RewardNet.load(path)).toThrow(/tensor member0\/dense0\/kernel has shape \[4,16\], the config implies \[4, 4\]/);
    doc.config.additive = 'yes';
    writeFileSync(join(path, MODEL_FILE), JSON.stringify(doc));
    expect(() => RewardNet.load(path)).toThrow(/model\.json \(config\.additive\): additive must be true or false/);
    net.dispose();
  });
});

describe('output-layer initial scale (RewardNet.create init.outputScale)', () => {
  it('scales only the output layer, 0 gives r = 0 everywhere, and negative scales are rejected', () => {
    const opts = { obsDim: 3, actDim: 1, hidden: [8, 8], members: 2 } as const;
    const base = RewardNet.create(opts, new Rng(12));
    const half = RewardNet.create(opts, new Rng(12), { outputScale: 0.5 });
    const zero = RewardNet.create(opts, new Rng(12), { outputScale: 0 });
    for (let k = 0; k < 2; k++) {
      const [b, h, z] = [base, half, zero].map((n) => n.getMemberWeights(k));
      // Hidden layers (W, b of layers 0 and 1) are the same draws at every scale.
      for (let i = 0; i < 4; i++) {
        expect(h[i]).toEqual(b[i]);
        expect(z[i]).toEqual(b[i]);
      }
      for (let i = 4; i < 6; i++) {
        expect(Array.from(h[i])).toEqual(Array.from(b[i], (v) => Math.fround(v * 0.5)));
        expect(z[i].every((v) => v === 0)).toBe(true);
      }
    }
    const batch = randomBatch(16, 3, 1, new Rng(13));
    expect(Array.from(zero.predictMembers(batch)).every((v) => v === 0)).toBe(true);
    expect(Array.from(base.predictMembers(batch)).some((v) => v !== 0)).toBe(true);
    expect(() => RewardNet.create(opts, new Rng(12), { outputScale: -1 })).toThrow(/outputScale must be a finite number >= 0, got -1/);
    for (const n of [base, half, zero]) n.dispose();
  });
});
