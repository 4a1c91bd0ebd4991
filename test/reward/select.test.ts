import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../core/backend.js';
import { Rng } from '../../core/rng.js';
import { configForUnits, selectInputs } from '../../reward/select.js';
import type { Label, Pair, Segment } from '../../reward/types.js';

beforeAll(async () => {
  await initBackend('wasm');
});

const OBS = 4;
const ACT = 1;
const H = 4;

function seg(id: string, rng: Rng): Segment {
  const obs = new Float32Array((H + 1) * OBS);
  for (let i = 0; i < obs.length; i++) obs[i] = rng.normal();
  const actions = new Float32Array(H * ACT);
  for (let i = 0; i < actions.length; i++) actions[i] = rng.uniform() * 2 - 1;
  return {
    id,
    envId: 'test',
    modelHash: 'test',
    obsDim: OBS,
    actDim: ACT,
    nTerms: 1,
    nq: 1,
    nv: 1,
    na: 0,
    length: H,
    startStep: 0,
    obs,
    actions,
    rewards: new Float64Array(H),
    terms: new Float64Array(H),
    qpos: new Float64Array(H + 1),
    qvel: new Float64Array(H + 1),
    act: new Float64Array(0),
    time: new Float64Array(H + 1),
    success: new Float32Array(H),
    endsTerminal: false,
    source: 'hand',
  };
}

/** n random pairs labelled by the higher sum of `reward(obs_t, action_t)` over the H steps. */
function dataset(n: number, reward: (o: Float32Array, a: Float32Array) => number, seed: number): { pairs: Pair[]; labels: Label[] } {
  const rng = new Rng(seed);
  const pairs: Pair[] = [];
  const labels: Label[] = [];
  const ret = (s: Segment): number => {
    let r = 0;
    for (let t = 0; t < H; t++) r += reward(s.obs.subarray(t * OBS, (t + 1) * OBS), s.actions.subarray(t * ACT, (t + 1) * ACT));
    return r;
  };
  for (let i = 0; i < n; i++) {
    const p: Pair = { id: `p${i}`, a: seg(`a${i}`, rng), b: seg(`b${i}`, rng) };
    pairs.push(p);
    labels.push({ id: `l${i}`, pairId: p.id, teacher: 'hand', kind: 'preference', probFirst: ret(p.a) > ret(p.b) ? 1 : 0 });
  }
  return { pairs, labels };
}

const fast = { folds: 3, hidden: [16, 16], epochs: 40, lr: 3e-3 } as const;

describe('configForUnits', () => {
  it('hides every observation value not chosen and drops the action when it is not chosen', () => {
    expect(configForUnits([2], { input: 'obs-action', obsDim: 4 })).toEqual({ input: 'obs', ignoreObs: [0, 1, 3] });
    expect(configForUnits([3, 'action', 0], { input: 'obs-action', obsDim: 4 })).toEqual({ input: 'obs-action', ignoreObs: [1, 2] });
    expect(configForUnits([1], { input: 'obs-next-obs', obsDim: 3 })).toEqual({ input: 'obs-next-obs', ignoreObs: [0, 2] });
  });
});

describe('selectInputs (forward selection by cross-validated preference NLL)', () => {
  it('keeps only the observation value the labels depend on', async () => {
    const { pairs, labels } = dataset(150, (o) => o[2], 1);
    const sel = await selectInputs(pairs, labels, { input: 'obs-action', obsDim: OBS, actDim: ACT, rng: new Rng(3), ...fast });
    expect(sel.keepObs).toEqual([2]);
    expect(sel.keepAction).toBe(false);
    expect(sel.input).toBe('obs');
    expect(sel.ignoreObs).toEqual([0, 1, 3]);
    // Hard labels: predicting 0.5 costs ln 2 per pair.
    expect(sel.baselineNll).toBeCloseTo(Math.log(2), 12);
    expect(sel.steps[0].unit).toBe(2);
    expect(sel.steps[0].kept).toBe(true);
    expect(sel.steps[0].nll).toBeLessThan(0.98 * Math.log(2));
    // The second step scored the four remaining inputs and kept none of them.
    expect(sel.steps[1].kept).toBe(false);
    expect(sel.steps[1].candidates.map((c) => c.unit).sort()).toEqual([0, 1, 3, 'action'].sort());
    expect(sel.steps).toHaveLength(2);
    // One scoring per candidate set: 5 at the first step, 4 at the second.
    expect(sel.fits).toBe(9);
    expect(sel.labels).toBe(150);
  });

  it('keeps two inputs when the labels need both, the action among them', async () => {
    const { pairs, labels } = dataset(200, (o, a) => o[1] - 2 * a[0], 2);
    const sel = await selectInputs(pairs, labels, { input: 'obs-action', obsDim: OBS, actDim: ACT, rng: new Rng(4), ...fast });
    expect(sel.keepObs).toEqual([1]);
    expect(sel.keepAction).toBe(true);
    expect(sel.input).toBe('obs-action');
    expect(sel.ignoreObs).toEqual([0, 2, 3]);
  });

  it('is deterministic for a seed and never offers an already hidden input', async () => {
    const { pairs, labels } = dataset(90, (o) => o[0] + o[3], 5);
    const run = () => selectInputs(pairs, labels, { input: 'obs', obsDim: OBS, actDim: ACT, ignoreObs: [1], rng: new Rng(6), ...fast });
    const a = await run();
    const b = await run();
    expect(b.steps).toEqual(a.steps);
    for (const s of a.steps) for (const c of s.candidates) expect([0, 2, 3]).toContain(c.unit);
    expect(a.keepObs).toEqual([0, 3]);
    expect(a.keepAction).toBe(false);
  });

  it('leaves skips out and refuses too few labels, naming the count', async () => {
    const { pairs, labels } = dataset(40, (o) => o[0], 7);
    const withSkips = labels.map((l, i): Label => (i < 15 ? { id: l.id, pairId: l.pairId, teacher: 'hand', kind: 'skip', reason: 'test' } : l));
    await expect(selectInputs(pairs, withSkips, { input: 'obs', obsDim: OBS, actDim: ACT, rng: new Rng(1), ...fast })).rejects.toThrow(/25 preference labels .* too few for 3-fold/);
    await expect(selectInputs(pairs, labels, { input: 'obs', obsDim: OBS, actDim: ACT, rng: new Rng(1), ...fast, folds: 1 })).rejects.toThrow(/folds must be an integer >= 2/);
    await expect(selectInputs(pairs, labels, { input: 'obs', obsDim: OBS, actDim: ACT, rng: new Rng(1), ...fast, minGain: 1 })).rejects.toThrow(/minGain/);
  });
});
