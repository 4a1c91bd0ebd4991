import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../core/errors.js';
import { Rng } from '../../core/rng.js';
import { randomPolicy, rollout } from '../../envs/rollout.js';
import { TOY_SPEC, ToyReachEnv } from '../../envs/toy.js';
import type { EnvSpec } from '../../envs/types.js';
import { cutSegments, makePair } from '../../reward/segments.js';
import {
  type HeronConfig,
  HeronTeacher,
  heronDecide,
  heronLevels,
  loadHeronConfig,
  parseHeronConfig,
  termSumStds,
  termSums,
} from '../../reward/teachers/heron.js';
import type { Pair, Segment } from '../../reward/types.js';
import { heronShorthand } from '../../scripts/commands/offline.js';
import { expectUsageError } from '../helpers/cli.js';
import { toyTermSegment } from '../helpers/toy_segment.js';

// toy-reach terms: goal_distance (weight -1), control_effort (weight -0.05), at_goal (weight +0.5)

/** One-step toy-reach segments with chosen term sums. */
const seg = toyTermSegment;

const pair = (id: string, a: Segment, b: Segment): Pair => ({ id, a, b });

// Pool of two segments: term sums (0, 0, 0) and (2, 4, 1) -> population stds (1, 2, 0.5)
const POOL = [seg('p0', [0, 0, 0]), seg('p1', [2, 4, 1])];
// Margins 1, 0.5, 2 -> thresholds 1 x 1 = 1, 0.5 x 2 = 1, 2 x 0.5 = 1 at levels 0, 1, 2.
// (HERON's code would use level 1's margin 0.5 at level 2: threshold 0.5 x 0.5 = 0.25.)
const CONFIG: HeronConfig = { ranking: ['goal_distance', 'control_effort', 'at_goal'], margins: [1, 0.5, 2] };

function teacher(config = CONFIG): HeronTeacher {
  const t = new HeronTeacher({ spec: TOY_SPEC, config });
  t.setPool(POOL);
  return t;
}

describe('HERON decision', () => {
  it('a segment with a reward term that is not finite is refused, naming segment, term and step (NaN used to fall through every level to a tie)', async () => {
    const bad = seg('bad', [1, Number.NaN, 0]);
    await expect(teacher().label([pair('p', seg('a', [0, 0, 0]), bad)])).rejects.toThrow('heron: segment bad has reward term control_effort = NaN at step 0; HERON compares finite terms only');
    expect(() => teacher().setPool([...POOL, bad])).toThrow('heron: segment bad has reward term control_effort = NaN at step 0');
  });

  it('a pool given a chunk at a time (setPoolChunks) gives the stds of the whole pool, with the same checks', () => {
    const rng = new Rng(11);
    const pool = Array.from({ length: 25 }, (_, i) => seg(`r${i}`, [rng.normal() * 3, rng.uniform() * 7, rng.uniform() < 0.3 ? 1 : 0]));
    const whole = new HeronTeacher({ spec: TOY_SPEC, config: CONFIG });
    whole.setPool(pool);
    const chunked = new HeronTeacher({ spec: TOY_SPEC, config: CONFIG });
    chunked.setPoolChunks([pool.slice(0, 10), pool.slice(10, 20), pool.slice(20)]);
    expect(chunked.poolStds()).toEqual(whole.poolStds());
    // observe() takes the chunks when the context offers them (the pool itself is not read).
    const viaObserve = new HeronTeacher({ spec: TOY_SPEC, config: CONFIG });
    viaObserve.observe({ meanEpisodeReturn: 0, episodeLength: 1, segmentLength: 1, get pool(): Segment[] { throw new Error('read the whole pool'); }, poolChunks: () => [pool.slice(0, 13), pool.slice(13)] });
    expect(viaObserve.poolStds()).toEqual(whole.poolStds());
    // Fewer than two segments: the stds stay as they were (as observe() does with a pool).
    const one = new HeronTeacher({ spec: TOY_SPEC, config: CONFIG });
    one.setPoolChunks([[pool[0]], []]);
    expect(one.poolStds()).toBeUndefined();
    // A segment that is not finite, in a later chunk, is refused as setPool refuses it.
    expect(() => one.setPoolChunks([POOL, [seg('bad', [1, Number.NaN, 0])]])).toThrow('heron: segment bad has reward term control_effort = NaN at step 0');
  });

  it('pool stds of term segment sums', () => {
    expect(Array.from(termSumStds(POOL))).toEqual([1, 2, 0.5]);
    // sums over steps: a two-step segment's terms add up
    const two = { ...seg('two', [1, 2, 3]), length: 2, terms: Float64Array.of(1, 2, 3, 0.5, 0.5, 0.5) };
    expect(Array.from(termSums(two))).toEqual([1.5, 2.5, 3.5]);
  });

  it('level 0 decides when the top term differs by more than its margin; lower distance is better', () => {
    // goal_distance 0 vs 1.5: |diff| 1.5 > 1 -> a (lower is better, weight -1), though a is worse on the rest
    const d = teacher().decide(pair('x', seg('a', [0, 4, 0]), seg('b', [1.5, 0, 1])));
    expect(d).toMatchObject({ probFirst: 1, level: 0, term: 'goal_distance', diff: -1.5, threshold: 1 });
  });

  it('descends to level 1 (negative weight: less control effort wins)', () => {
    // goal_distance diff 0.5 <= 1; control_effort 3 vs 1: |diff| 2 > 1 -> b
    const d = teacher().decide(pair('x', seg('a', [1, 3, 1]), seg('b', [1.5, 1, 0])));
    expect(d).toMatchObject({ probFirst: 0, level: 1, term: 'control_effort', diff: 2, threshold: 1 });
  });

  it('descends to level 2 (positive weight: more time at the goal wins)', () => {
    // level 0: 0.5 <= 1; level 1: 0.5 <= 1; at_goal 0 vs 1.5: |diff| 1.5 > 2 x 0.5 = 1 -> b
    const d = teacher().decide(pair('x', seg('a', [1, 1, 0]), seg('b', [1.5, 1.5, 1.5])));
    expect(d).toMatchObject({ probFirst: 0, level: 2, term: 'at_goal', diff: -1.5, threshold: 1 });
  });

  it('uses each level its own margin (no reuse of the level-1 margin deeper down)', () => {
    // at_goal diff 0.5: within 2 x 0.5 = 1 -> tie. With the reused margin 0.5 x 0.5 = 0.25 it would decide.
    const d = teacher().decide(pair('x', seg('a', [1, 1, 0.5]), seg('b', [1.5, 1.5, 0])));
    expect(d).toEqual({ probFirst: 0.5, level: -1, term: null, diff: Number.NaN, threshold: Number.NaN });
    const reused = heronLevels({ ...CONFIG, margins: [1, 0.5, 0.5] }, TOY_SPEC);
    expect(heronDecide([1, 1, 0.5], [1.5, 1.5, 0], [1, 2, 0.5], reused)).toMatchObject({ probFirst: 1, level: 2, threshold: 0.25 });
  });

  it('directions override the weight sign', () => {
    const t = teacher({ ...CONFIG, directions: { at_goal: 'lower' } });
    expect(t.decide(pair('x', seg('a', [1, 1, 0]), seg('b', [1.5, 1.5, 1.5]))).probFirst).toBe(1);
  });

  it('margins scale with the pool: the decision drifts when the pool changes', () => {
    const t = teacher();
    const p = pair('x', seg('a', [0, 0, 0]), seg('b', [1.5, 0, 0]));
    expect(t.decide(p).level).toBe(0); // 1.5 > 1 x 1
    t.setPool([seg('q0', [0, 0, 0]), seg('q1', [4, 4, 1])]); // goal_distance std 2
    expect(t.decide(p).level).toBe(-1); // 1.5 <= 1 x 2; nothing else differs
  });
});

describe('HERON teacher', () => {
  it('labels in order with "decided by" in raw', async () => {
    const labels = await teacher().label([
      pair('p1', seg('a', [0, 4, 0]), seg('b', [1.5, 0, 1])),
      pair('p2', seg('c', [1, 3, 1]), seg('d', [1.5, 1, 0])),
      pair('p3', seg('e', [1, 1, 0.5]), seg('f', [1.5, 1.5, 0])),
    ]);
    expect(labels.map((l) => (l.kind === 'preference' ? l.probFirst : -1))).toEqual([1, 0, 0.5]);
    expect(labels.map((l) => JSON.parse(l.raw ?? '{}').decidedBy)).toEqual(['goal_distance', 'control_effort', null]);
    expect(labels[0].teacher).toBe('heron');
  });

  it('without a pool, uses the labelled batch as the pool (as HERON uses its batch)', async () => {
    const t = new HeronTeacher({ spec: TOY_SPEC, config: CONFIG });
    expect(t.poolStds()).toBeUndefined();
    // batch sums goal_distance {0, 2} -> std 1; diff 2 > 1 -> a
    const [l] = await t.label([pair('p', seg('a', [0, 0, 0]), seg('b', [2, 0, 0]))]);
    expect(l.kind === 'preference' && l.probFirst).toBe(1);
  });

  it('agrees with the pure decision on toy-reach segments', async () => {
    const env = new ToyReachEnv();
    const segs = cutSegments(rollout(env, randomPolicy(env.spec, new Rng(1)), { episodes: 4, seed: 2 }), { length: 10 });
    const t = new HeronTeacher({ spec: TOY_SPEC, config: CONFIG });
    t.setPool(segs);
    const pairs = segs.slice(1).map((s, i) => makePair(segs[i], s));
    const labels = await t.label(pairs);
    const stds = termSumStds(segs);
    const levels = heronLevels(CONFIG, TOY_SPEC);
    labels.forEach((l, i) => {
      const d = heronDecide(termSums(pairs[i].a), termSums(pairs[i].b), stds, levels);
      expect(l.kind === 'preference' && l.probFirst).toBe(d.probFirst);
    });
  });
});

describe('HERON config', () => {
  const bad = (obj: unknown, field: string | undefined, msg: RegExp, spec: EnvSpec = TOY_SPEC) => {
    let err: unknown;
    try {
      parseHeronConfig(obj, spec, 'heron.json');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).source).toBe('heron.json');
    expect((err as InputError).field).toBe(field);
    expect((err as InputError).message).toMatch(msg);
  };

  it('accepts a valid config', () => {
    expect(parseHeronConfig({ ranking: ['at_goal'], margins: [0] }, TOY_SPEC, 'h.json')).toEqual({ ranking: ['at_goal'], margins: [0] });
  });

  it('rejects bad configs, naming the file and field', () => {
    bad([1], undefined, /expected a JSON object/);
    bad({ ranking: ['goal_distance'], margins: [1], sigma: [1] }, 'sigma', /unknown key "sigma"/);
    bad({ margins: [1] }, 'ranking', /missing required key/);
    bad({ ranking: [], margins: [] }, 'ranking', /non-empty/);
    bad({ ranking: ['goal_distance', 'speed'], margins: [1, 1] }, 'ranking[1]', /unknown reward term "speed".*goal_distance, control_effort, at_goal/);
    bad({ ranking: ['at_goal', 'at_goal'], margins: [1, 1] }, 'ranking[1]', /ranked twice/);
    bad({ ranking: ['goal_distance'] }, 'margins', /missing required key/);
    bad({ ranking: ['goal_distance', 'at_goal'], margins: [1] }, 'margins', /1 margin for 2 ranked terms/);
    bad({ ranking: ['goal_distance'], margins: [1, 2] }, 'margins', /2 margins for 1 ranked term \(/);
    bad({ ranking: ['goal_distance', 'at_goal'], margins: [1, -0.5] }, 'margins[1]', /must be >= 0/);
    bad({ ranking: ['goal_distance'], margins: ['1'] }, 'margins[0]', /finite number/);
    bad({ ranking: ['goal_distance'], margins: [1], directions: { at_goal: 'higher' } }, 'directions.at_goal', /not in the ranking/);
    bad({ ranking: ['goal_distance'], margins: [1], directions: { goal_distance: 'up' } }, 'directions.goal_distance', /"higher" or "lower"/);
  });

  it('a weight-0 term needs an explicit direction', () => {
    const spec: EnvSpec = { ...TOY_SPEC, rewardTerms: [...TOY_SPEC.rewardTerms, { name: 'bonus', weight: 0, doc: 'diagnostic' }] };
    bad({ ranking: ['goal_distance', 'bonus'], margins: [1, 1] }, 'ranking[1]', /weight 0/, spec);
    const cfg = parseHeronConfig({ ranking: ['bonus'], margins: [1], directions: { bonus: 'higher' } }, spec, 'h.json');
    expect(heronLevels(cfg, spec)[0]).toEqual({ term: 'bonus', index: 3, margin: 1, sign: 1 });
  });

  it('loads from a file; invalid JSON names the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'prefrl-heron-'));
    const good = join(dir, 'good.json');
    writeFileSync(good, JSON.stringify(CONFIG));
    expect(loadHeronConfig(good, TOY_SPEC)).toEqual(CONFIG);
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{"ranking": [');
    expect(() => loadHeronConfig(broken, TOY_SPEC)).toThrow(InputError);
    expect(() => loadHeronConfig(broken, TOY_SPEC)).toThrow(/broken\.json: invalid JSON/);
    expect(() => loadHeronConfig(join(dir, 'missing.json'), TOY_SPEC)).toThrow(/missing\.json/);
    const badMargin = join(dir, 'bad.json');
    writeFileSync(badMargin, JSON.stringify({ ranking: ['at_goal'], margins: [-1] }));
    expect(() => loadHeronConfig(badMargin, TOY_SPEC)).toThrow(/bad\.json \(margins\[0\]\)/);
    // 1e400 is valid JSON that reads as Infinity: the message says so (JSON.stringify would write null).
    const huge = join(dir, 'huge.json');
    writeFileSync(huge, '{"ranking": ["at_goal"], "margins": [1e400]}');
    expect(() => loadHeronConfig(huge, TOY_SPEC)).toThrow(`${huge} (margins[0]): expected a finite number, got Infinity`);
  });
});

describe('offline --teacher heron:<file>', () => {
  it('is read as --teacher heron --heron-config <file>, as train and label take it; both forms at once, or no file, are refused', async () => {
    expect(heronShorthand(['--dataset', 'd.h5', '--teacher', 'heron:h.json', '--labels', '10'])).toEqual(['--dataset', 'd.h5', '--teacher', 'heron', '--labels', '10', '--heron-config', 'h.json']);
    expect(heronShorthand(['--teacher=heron:dir/h.json'])).toEqual(['--teacher', 'heron', '--heron-config', 'dir/h.json']);
    expect(heronShorthand(['--teacher', 'heron', '--heron-config', 'h.json'])).toEqual(['--teacher', 'heron', '--heron-config', 'h.json']);
    expect(heronShorthand(['--teacher', 'oracle'])).toEqual(['--teacher', 'oracle']);
    expect(() => heronShorthand(['--teacher', 'heron:'])).toThrow('--teacher heron:<file>: name the HERON config file');
    expect(() => heronShorthand(['--teacher', 'heron:a.json', '--heron-config', 'b.json'])).toThrow('--teacher heron:<file> and --heron-config: give the HERON config once');
    // Through the command: the file is checked as train and label check theirs, naming --teacher (the flag typed), before any run folder.
    const dir = mkdtempSync(join(tmpdir(), 'heron-short-'));
    const data = join(dir, 'd.h5');
    writeFileSync(data, 'x');
    await expectUsageError(['offline', '--dataset', data, '--teacher', `heron:${join(dir, 'missing.json')}`], join(dir, 'runs'), new RegExp(`^prefrl offline: --teacher: HERON config "${join(dir, 'missing.json')}" not found \\(in "heron:${join(dir, 'missing.json')}"\\)`));
    await expectUsageError(['offline', '--dataset', data, `--teacher=heron:${dir}`], join(dir, 'runs'), new RegExp(`^prefrl offline: --teacher: HERON config "${dir}" is a folder, not a JSON file`));
  });
});
