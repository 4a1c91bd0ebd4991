import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../core/errors.js';
import { sigmoid } from '../../core/math.js';
import { Rng } from '../../core/rng.js';
import { randomPolicy, rollout } from '../../envs/rollout.js';
import { TOY_SPEC, ToyReachEnv } from '../../envs/toy.js';
import { cutSegments, makePair, segmentReturn } from '../../reward/segments.js';
import { HeronTeacher } from '../../reward/teachers/heron.js';
import { asFlag, makeTeacher, TeacherSpecError } from '../../reward/teachers/index.js';
import { RegretTeacher, segmentRegret, type StateView, type ValueFunction } from '../../reward/teachers/regret.js';
import { labelId, myopicReturn, SYNTHETIC_PRESETS, SyntheticTeacher, skipThreshold } from '../../reward/teachers/synthetic.js';
import type { Label, Pair, Segment } from '../../reward/types.js';
import { handSegment } from '../helpers/segments.js';

/**
 * A hand-made segment with given rewards (1-d obs/actions; qpos[0] of each state holds a
 * state number that test value functions read).
 */
function seg(id: string, rewards: number[], opts: { states?: number[]; endsTerminal?: boolean } = {}): Segment {
  const h = rewards.length;
  const states = opts.states ?? Array.from({ length: h + 1 }, (_, i) => i);
  return handSegment(id, h, {
    obs: Float32Array.from(states),
    rewards: Float64Array.from(rewards),
    terms: Float64Array.from(rewards),
    qpos: Float64Array.from(states),
    time: Float64Array.from({ length: h + 1 }, (_, i) => i * 0.1),
    endsTerminal: opts.endsTerminal ?? false,
  });
}

const pair = (id: string, a: Segment, b: Segment): Pair => ({ id, a, b });

function probs(labels: Label[]): number[] {
  return labels.map((l) => (l.kind === 'preference' ? l.probFirst : Number.NaN));
}

function toySegments(): Segment[] {
  const env = new ToyReachEnv();
  const trajs = rollout(env, randomPolicy(env.spec, new Rng(3)), { episodes: 6, seed: 11 });
  return cutSegments(trajs, { length: 10 });
}

describe('synthetic teacher: presets', () => {
  it('match the B-Pref table', () => {
    expect(SYNTHETIC_PRESETS.oracle).toEqual({ beta: Infinity, gamma: 1, epsMistake: 0, epsSkip: 0, epsEqual: 0 });
    expect(SYNTHETIC_PRESETS.stochastic.beta).toBe(1);
    expect(SYNTHETIC_PRESETS.mistake.epsMistake).toBe(0.1);
    expect(SYNTHETIC_PRESETS.skip.epsSkip).toBe(0.1);
    expect(SYNTHETIC_PRESETS.equal.epsEqual).toBe(0.1);
    expect(SYNTHETIC_PRESETS.myopic.gamma).toBe(0.9);
  });

  it('can be overridden and combined', () => {
    const t = SyntheticTeacher.preset('mistake', { rng: new Rng(0), gamma: 0.5, epsSkip: 0.2 });
    expect(t.config).toEqual({ beta: Infinity, gamma: 0.5, epsMistake: 0.1, epsSkip: 0.2, epsEqual: 0 });
    expect(t.id).toBe('mistake');
    expect(() => new SyntheticTeacher({ rng: new Rng(0), epsMistake: 1.5 })).toThrow(/epsMistake/);
    expect(() => new SyntheticTeacher({ rng: new Rng(0), beta: 0 })).toThrow(/beta/);
  });
});

describe('synthetic teacher: labels', () => {
  it('a segment whose return is not finite is refused, naming it (NaN used to label the pair as a tie or "second better")', async () => {
    const good = seg('good', [1, 2]);
    const bad = seg('bad', [1, Number.NaN]);
    for (const preset of ['oracle', 'stochastic'] as const) {
      const t = SyntheticTeacher.preset(preset, { rng: new Rng(1) });
      await expect(t.label([pair('p1', good, bad)])).rejects.toThrow(`${preset}: segment bad has a return of NaN (its rewards are not all finite); a synthetic teacher compares finite returns only`);
      await expect(t.label([pair('p2', seg('inf', [Number.POSITIVE_INFINITY]), good)])).rejects.toThrow(`${preset}: segment inf has a return of Infinity`);
    }
    // finite returns still label: 3 > 1
    expect(probs(await SyntheticTeacher.preset('oracle', { rng: new Rng(1) }).label([pair('p3', good, seg('low', [1]))]))).toEqual([1]);
  });

  it('oracle picks the higher return on toy-reach segments, ties 0.5', async () => {
    const segs = toySegments();
    const rng = new Rng(5);
    const pairs: Pair[] = [];
    for (let i = 0; i < 40; i++) {
      const [x, y] = rng.sampleWithoutReplacement(segs.length, 2);
      pairs.push(makePair(segs[x], segs[y]));
    }
    const labels = await SyntheticTeacher.preset('oracle', { rng: new Rng(1) }).label(pairs);
    expect(labels).toHaveLength(40);
    labels.forEach((l, i) => {
      expect(l.pairId).toBe(pairs[i].id);
      expect(l.teacher).toBe('oracle');
      expect(l.kind).toBe('preference');
      const want = segmentReturn(pairs[i].a) > segmentReturn(pairs[i].b) ? 1 : 0;
      expect(l.kind === 'preference' && l.probFirst).toBe(want);
    });
    const same = await SyntheticTeacher.preset('oracle', { rng: new Rng(1) }).label([pair('p', seg('a', [1, 2]), seg('b', [2, 1]))]);
    expect(probs(same)).toEqual([0.5]);
  });

  it('myopic weighting changes a constructed decision', async () => {
    // a = [10, 0, 0]: R = 10, myopic (gamma 0.9) = 0.9^2 * 10 = 8.1
    // b = [0, 0, 9]:  R = 9,  myopic = 9 (the last step weighs 1)
    expect(myopicReturn([10, 0, 0], 0.9)).toBeCloseTo(8.1, 12);
    expect(myopicReturn([0, 0, 9], 0.9)).toBe(9);
    // weights gamma^(H-1-t) for H = 3: [0.81, 0.9, 1]; [1, 1, 1] -> 2.71
    expect(myopicReturn([1, 1, 1], 0.9)).toBeCloseTo(2.71, 12);
    const p = [pair('p', seg('a', [10, 0, 0]), seg('b', [0, 0, 9]))];
    expect(probs(await SyntheticTeacher.preset('oracle', { rng: new Rng(0) }).label(p))).toEqual([1]);
    expect(probs(await SyntheticTeacher.preset('myopic', { rng: new Rng(0) }).label(p))).toEqual([0]);
  });

  it('stochastic: first chosen with probability sigmoid(beta (R(a) - R(b)))', async () => {
    // R(a) - R(b) = 1, beta = 1: p = sigmoid(1) = 0.731059; beta = 2: sigmoid(2) = 0.880797
    const n = 4000;
    const pairs = Array.from({ length: n }, (_, i) => pair(`p${i}`, seg(`a${i}`, [1, 0.5]), seg(`b${i}`, [0.5, 0])));
    for (const [beta, p] of [
      [1, sigmoid(1)],
      [2, sigmoid(2)],
    ]) {
      const labels = await new SyntheticTeacher({ rng: new Rng(8), beta }).label(pairs);
      const frac = probs(labels).reduce((s, y) => s + y, 0) / n;
      // binomial std sqrt(p (1 - p) / n) = sqrt(0.1966 / 4000) = 0.0070 (beta 1); 4 std margin
      expect(Math.abs(frac - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / n));
      expect(probs(labels).every((y) => y === 0 || y === 1)).toBe(true);
    }
  });

  it('mistake flips about eps of the labels', async () => {
    const n = 3000;
    const pairs = Array.from({ length: n }, (_, i) => pair(`p${i}`, seg(`a${i}`, [1 + (i % 7)]), seg(`b${i}`, [0])));
    const labels = await SyntheticTeacher.preset('mistake', { rng: new Rng(9) }).label(pairs);
    const flips = probs(labels).filter((y) => y === 0).length;
    // expected 0.1 * 3000 = 300, binomial std sqrt(3000 * 0.1 * 0.9) = 16.4; 4 std = 66
    expect(Math.abs(flips - 300)).toBeLessThan(66);
  });

  it('is deterministic per seed and independent of batch order; label ids are stable', async () => {
    const pairs = Array.from({ length: 50 }, (_, i) => pair(`p${i}`, seg(`a${i}`, [0.2]), seg(`b${i}`, [0])));
    const t1 = new SyntheticTeacher({ rng: new Rng(3), beta: 1, epsMistake: 0.2, id: 't' });
    const t2 = new SyntheticTeacher({ rng: new Rng(3), beta: 1, epsMistake: 0.2, id: 't' });
    const l1 = await t1.label(pairs);
    const l2 = (await t2.label([...pairs].reverse())).reverse();
    expect(l2).toEqual(l1);
    expect(l1[0].id).toBe(labelId('t', 'p0'));
    const other = await new SyntheticTeacher({ rng: new Rng(4), beta: 1, epsMistake: 0.2, id: 't' }).label(pairs);
    expect(probs(other)).not.toEqual(probs(l1));
  });
});

describe('synthetic teacher: skip and equal thresholds', () => {
  it('threshold = eps x margin, margin = mean episode return x segment length / episode length', () => {
    const t = new SyntheticTeacher({ rng: new Rng(0), epsSkip: 0.1, epsEqual: 0.2 });
    expect(t.thresholds()).toBeUndefined();
    // margin = 100 * 50 / 1000 = 5; skip = 0.1 * 5 = 0.5; equal = 0.2 * 5 = 1
    t.updateThresholds(100, 1000, 50);
    expect(t.thresholds()).toEqual({ margin: 5, skip: 0.1 * 5, equal: 0.2 * 5 });
  });

  it('avoids B-Pref double eps: after later updates the threshold is still exactly eps x margin', () => {
    const t = new SyntheticTeacher({ rng: new Rng(0), epsSkip: 0.1, epsEqual: 0.1 });
    t.updateThresholds(100, 1000, 50); // margin 5
    t.updateThresholds(200, 1000, 50); // margin 200 * 50 / 1000 = 10
    const th = t.thresholds();
    // exactly 0.1 * 10 = 1; B-Pref's defect would give 0.1 * 0.1 * 10 = 0.1
    expect(th?.skip).toBe(0.1 * 10);
    expect(th?.equal).toBe(0.1 * 10);
    t.updateThresholds(200, 1000, 50);
    expect(t.thresholds()?.skip).toBe(0.1 * 10);
  });

  it('skip: both undiscounted returns below the threshold -> SkipLabel with a reason', async () => {
    const t = SyntheticTeacher.preset('skip', { rng: new Rng(0) });
    t.updateThresholds(100, 20, 1); // margin 100 * 1 / 20 = 5 for 1-step segments
    t.updateThresholds(200, 20, 1); // margin 10, threshold 0.1 * 10 = 1
    const labels = await t.label([
      pair('p1', seg('a1', [0.6]), seg('b1', [0.3])), // both < 1: skip (would not be with the defect's 0.1)
      pair('p2', seg('a2', [1.5]), seg('b2', [0.3])), // one above: oracle label 1
    ]);
    expect(labels[0].kind).toBe('skip');
    expect(labels[0].kind === 'skip' && labels[0].reason).toMatch(/skip threshold 1\.000/);
    expect(probs(labels)[1]).toBe(1);
  });

  it('skip with a negative margin (cost-like rewards): both clearly worse than an average segment', async () => {
    const t = SyntheticTeacher.preset('skip', { rng: new Rng(0) });
    t.updateThresholds(-100, 20, 1); // margin -100 * 1 / 20 = -5, threshold -5 - 0.9 * 5 = -9.5
    expect(t.thresholds()?.skip).toBeCloseTo(-9.5, 12);
    const labels = await t.label([
      pair('p1', seg('a', [-10]), seg('b', [-12])), // both below -9.5: skip
      pair('p2', seg('c', [-9]), seg('d', [-12])), // one above: oracle label 1
      pair('p3', seg('e', [-1]), seg('f', [-2])), // both better than average: labelled (the old 0.1 x margin = -0.5 skipped this)
    ]);
    expect(labels.map((l) => l.kind)).toEqual(['skip', 'preference', 'preference']);
    expect(labels[0].kind === 'skip' && labels[0].reason).toMatch(/skip threshold -9\.500/);
    expect(probs(labels.slice(1))).toEqual([1, 1]);
  });

  it('skipThreshold: eps x margin for positive margins, the same distance below the mean for negative ones', () => {
    expect(skipThreshold(10, 0.1)).toBe(1);
    expect(skipThreshold(0, 0.1)).toBe(0);
    expect(skipThreshold(-10, 0.1)).toBeCloseTo(-19, 12);
    expect(skipThreshold(-10, 1)).toBe(-10); // eps 1: skip whenever both are below average
    expect(skipThreshold(10, 1)).toBe(10);
  });

  it('equal: |R(a) - R(b)| < eps x |margin| -> 0.5', async () => {
    const t = SyntheticTeacher.preset('equal', { rng: new Rng(0) });
    t.updateThresholds(-100, 20, 1); // |margin| 5, threshold 0.1 * 5 = 0.5
    const labels = await t.label([pair('p1', seg('a', [0.4]), seg('b', [0])), pair('p2', seg('c', [0.6]), seg('d', [0]))]);
    // |0.4 - 0| = 0.4 < 0.5 -> tie; |0.6 - 0| = 0.6 -> oracle 1
    expect(probs(labels)).toEqual([0.5, 1]);
  });

  it('order: equal overrides a mistake; equal uses undiscounted returns', async () => {
    const t = new SyntheticTeacher({ rng: new Rng(0), epsMistake: 1, epsEqual: 0.1, gamma: 0.5, margin: 5, marginLength: 1 });
    // threshold 0.5. p1: |R| diff 0.4 -> 0.5 despite the certain flip. p2: R diff 1 -> oracle 1, flipped -> 0.
    // p3: a = [1, 0] (R 1, myopic 0.5), b = [0, 0.7] (R 0.7, myopic 0.7): |R diff| = 0.3 < 0.5 -> tie
    const labels = await t.label([
      pair('p1', seg('a', [0.4]), seg('b', [0])),
      pair('p2', seg('c', [1]), seg('d', [0])),
      pair('p3', seg('e', [1, 0]), seg('f', [0, 0.7])),
    ]);
    expect(probs(labels)).toEqual([0.5, 0, 0.5]);
  });

  it('rescales the margin for segments of another length', () => {
    const t = new SyntheticTeacher({ rng: new Rng(0), epsSkip: 0.1 });
    t.updateThresholds(100, 1000, 50); // margin 5 for 50 steps -> 2 for 20 steps
    expect(t.thresholds(20)?.margin).toBeCloseTo(2, 12);
  });

  it('refuses to label before thresholds exist, naming observe() (the Teacher method) and updateThresholds()', async () => {
    const t = SyntheticTeacher.preset('skip', { rng: new Rng(0) });
    await expect(t.label([pair('p', seg('a', [1]), seg('b', [0]))])).rejects.toThrow(/updateThresholds/);
    const viaSpec = makeTeacher('equal', { env: TOY_SPEC, rng: new Rng(0) });
    await expect(viaSpec.label([pair('p', seg('a', [1]), seg('b', [0]))])).rejects.toThrow(/^equal: .*call observe\(\{ meanEpisodeReturn, episodeLength, segmentLength, pool \}\)/);
    viaSpec.observe?.({ meanEpisodeReturn: 10, episodeLength: 10, segmentLength: 1, pool: [] });
    expect(await viaSpec.label([pair('p', seg('a', [1]), seg('b', [0]))])).toHaveLength(1);
  });
});

/** Tabular V*: qpos[0] of a state is its number. */
function tableValues(v: Record<number, number>): ValueFunction {
  return { value: (_obs: Float32Array, s: StateView) => v[s.qpos[0]] };
}

describe('regret teacher', () => {
  // a: r = [1, 2], states 0 -> 1 -> 2, V(0) = 4, V(2) = 6, gamma 0.5: regret = 4 - (1 + 1 + 0.25 * 6) = 0.5
  // aT: same, terminal: 4 - 2 = 2
  // b: r = [0, 0], states 3 -> 4 -> 5, V(3) = 1, V(5) = 1: 1 - 0.25 = 0.75
  const V = { 0: 4, 1: 0, 2: 6, 3: 1, 4: 0, 5: 1 };
  const a = seg('a', [1, 2], { states: [0, 1, 2] });
  const aT = seg('aT', [1, 2], { states: [0, 1, 2], endsTerminal: true });
  const b = seg('b', [0, 0], { states: [3, 4, 5] });

  it('computes regret from V* with discount and a terminal end', () => {
    expect(segmentRegret(a, tableValues(V), 0.5)).toBeCloseTo(0.5, 12);
    expect(segmentRegret(aT, tableValues(V), 0.5)).toBeCloseTo(2, 12);
    expect(segmentRegret(b, tableValues(V), 0.5)).toBeCloseTo(0.75, 12);
  });

  it('prefers the lower regret', async () => {
    const t = new RegretTeacher({ values: tableValues(V), gamma: 0.5 });
    const labels = await t.label([pair('p1', a, b), pair('p2', aT, b), pair('p3', a, aT), pair('p4', b, b)]);
    // 0.5 < 0.75 -> 1; 2 > 0.75 -> 0 (partial return prefers aT: 3 > 0); 0.5 < 2 -> 1; equal -> 0.5
    expect(probs(labels)).toEqual([1, 0, 1, 0.5]);
    expect(JSON.parse(labels[0].raw ?? '{}').regretA).toBeCloseTo(0.5, 12);
  });

  it('uses the batch form of the value function when given', async () => {
    let calls = 0;
    const vf: ValueFunction = {
      value: () => {
        throw new Error('not used');
      },
      values: (obs, states) => {
        calls++;
        expect(obs.length).toBe(states.length);
        return states.map((s) => V[s.qpos[0] as keyof typeof V]);
      },
    };
    const labels = await new RegretTeacher({ values: vf, gamma: 0.5 }).label([pair('p1', a, b), pair('p2', aT, b)]);
    expect(calls).toBe(1);
    expect(probs(labels)).toEqual([1, 0]);
  });

  it('stochastic: first with probability sigmoid(beta (regret(b) - regret(a)))', async () => {
    // regret(a) = 0.5, regret(b) = 0.75, beta = 4: sigmoid(4 * 0.25) = sigmoid(1) = 0.731059
    const n = 3000;
    const pairs = Array.from({ length: n }, (_, i) => pair(`p${i}`, a, b));
    const labels = await new RegretTeacher({ values: tableValues(V), gamma: 0.5, beta: 4, rng: new Rng(2) }).label(pairs);
    const frac = probs(labels).reduce((s, y) => s + y, 0) / n;
    expect(Math.abs(frac - sigmoid(1))).toBeLessThan(4 * Math.sqrt((sigmoid(1) * sigmoid(-1)) / n));
    expect(() => new RegretTeacher({ values: tableValues(V), beta: 1 })).toThrow(/rng/);
  });
});

describe('makeTeacher', () => {
  const opts = { env: TOY_SPEC, rng: new Rng(0) };

  it('builds presets and overrides', () => {
    const t = makeTeacher('stochastic:beta=2,epsMistake=0.1', opts) as SyntheticTeacher;
    expect(t).toBeInstanceOf(SyntheticTeacher);
    expect(t.config).toEqual({ beta: 2, gamma: 1, epsMistake: 0.1, epsSkip: 0, epsEqual: 0 });
    expect(t.id).toBe('stochastic:beta=2,epsMistake=0.1');
    expect((makeTeacher('myopic', opts) as SyntheticTeacher).config.gamma).toBe(0.9);
    expect((makeTeacher('synthetic:beta=inf,gamma=0.95', opts) as SyntheticTeacher).config).toMatchObject({ beta: Infinity, gamma: 0.95 });
  });

  it('builds regret when a value function is supplied, heron from a file', () => {
    expect(makeTeacher('regret:gamma=0.99', { ...opts, values: tableValues({}) })).toBeInstanceOf(RegretTeacher);
    const dir = mkdtempSync(join(tmpdir(), 'prefrl-heron-'));
    const file = join(dir, 'heron.json');
    writeFileSync(file, JSON.stringify({ ranking: ['goal_distance', 'control_effort'], margins: [1, 0.5] }));
    expect(makeTeacher(`heron:${file}`, opts)).toBeInstanceOf(HeronTeacher);
    // A config that is not there, or a folder: a mistake in the spec (--teacher, exit 2), named.
    const missing = join(dir, 'nosuch.json');
    expect(() => asFlag('--teacher', () => makeTeacher(`heron:${missing}`, opts))).toThrow(new UsageError(`--teacher: HERON config ${JSON.stringify(missing)} not found (in "heron:${missing}")`));
    expect(() => makeTeacher(`heron:${dir}`, opts)).toThrow(new TeacherSpecError(`HERON config ${JSON.stringify(dir)} is a folder, not a JSON file (in "heron:${dir}")`));
  });

  it('bad specs are UsageErrors naming the teacher spec (not a CLI flag); asFlag reports them as the flag', () => {
    // Numbers are decimal: Number() would read 0x10 as 16 and "" as 0.
    expect(() => makeTeacher('stochastic:beta=0x10', opts)).toThrow(new TeacherSpecError('parameter "beta" must be a number, got "0x10" in "stochastic:beta=0x10"'));
    expect(() => makeTeacher('mistake:epsMistake= ', opts)).toThrow(new TeacherSpecError('parameter "epsMistake" must be a number, got "" in "mistake:epsMistake="'));
    expect((makeTeacher('stochastic:beta=.5e1', opts) as SyntheticTeacher).config.beta).toBe(5);
    for (const bad of ['sage', 'oracle:beta', 'oracle:temperature=1', 'stochastic:beta=abc', 'mistake:epsMistake=2', 'regret', 'heron', 'oracle:beta=1,beta=2', 'human']) {
      expect(() => makeTeacher(bad, opts), bad).toThrow(TeacherSpecError);
      expect(() => makeTeacher(bad, opts), bad).toThrow(UsageError);
      expect(() => makeTeacher(bad, opts), bad).toThrow(/^teacher spec: /);
      expect(() => asFlag('--teacher', () => makeTeacher(bad, opts)), bad).toThrow(/^--teacher: /);
    }
    const unknown = new TeacherSpecError('unknown parameter "temperature" in "oracle:temperature=1" (allowed: beta, gamma, epsMistake, epsSkip, epsEqual)');
    expect(unknown.message).toBe('teacher spec: unknown parameter "temperature" in "oracle:temperature=1" (allowed: beta, gamma, epsMistake, epsSkip, epsEqual)');
    expect(() => makeTeacher('oracle:temperature=1', opts)).toThrow(unknown);
    expect(() => makeTeacher('regret', opts)).toThrow(new TeacherSpecError('"regret" needs a value function (V*): the values option'));
    expect(() => asFlag('--teacher', () => makeTeacher('oracle:temperature=1', opts))).toThrow(
      new UsageError('--teacher: unknown parameter "temperature" in "oracle:temperature=1" (allowed: beta, gamma, epsMistake, epsSkip, epsEqual)'),
    );
    // Other errors pass through asFlag unchanged.
    expect(() => asFlag('--teacher', () => { throw new RangeError('x'); })).toThrow(new RangeError('x'));
  });
});
