import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../core/backend.js';
import { Rng } from '../../core/rng.js';
import { availableParallelism } from 'node:os';
import { configForUnits, MAX_AUTO_SELECTION_WORKERS, selectInputs, selectionWorkers } from '../../reward/select.js';
import type { Label, Pair, Segment } from '../../reward/types.js';
import { handSegment } from '../helpers/segments.js';

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
  return handSegment(id, H, { obsDim: OBS, actDim: ACT, obs, actions });
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

describe('selectionWorkers', () => {
  it('takes a given count as it is, and otherwise one per core (at most 8) with the WASM backend', () => {
    expect(selectionWorkers(0)).toBe(0);
    expect(selectionWorkers(3)).toBe(3);
    const cores = availableParallelism();
    const auto = cores > 1 ? Math.min(cores, MAX_AUTO_SELECTION_WORKERS) : 0;
    expect(selectionWorkers(null)).toBe(auto);
    expect(selectionWorkers(undefined)).toBe(auto);
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
    await expect(selectInputs(pairs, labels, { input: 'obs', obsDim: OBS, actDim: ACT, rng: new Rng(1), ...fast, workers: 1.5 })).rejects.toThrow(/workers must be an integer >= 0, got 1.5/);
  });

  it('gives exactly the same path in worker threads as in this thread, and reports every candidate set', { timeout: 240_000 }, async () => {
    // Segments that are views into one shared buffer, as segments cut from a dataset are.
    const { pairs, labels } = dataset(90, (o, a) => o[1] - a[0], 8);
    const flat = new Float32Array(pairs.length * 2 * (H + 1) * OBS);
    const viewed = pairs.map((p, i): Pair => {
      const view = (g: Segment, j: number): Segment => {
        const obs = flat.subarray((2 * i + j) * (H + 1) * OBS, (2 * i + j + 1) * (H + 1) * OBS);
        obs.set(g.obs);
        return { ...g, obs };
      };
      return { ...p, a: view(p.a, 0), b: view(p.b, 1) };
    });
    const opts = { input: 'obs-action' as const, obsDim: OBS, actDim: ACT, rng: new Rng(9), ...fast };
    const here = await selectInputs(viewed, labels, opts);
    const seen: string[] = [];
    const there = await selectInputs(viewed, labels, { ...opts, workers: 2, onScore: (s) => seen.push(s.units.join('+')) });
    expect(there.steps).toEqual(here.steps);
    expect(there.keepObs).toEqual(here.keepObs);
    expect(there.keepAction).toBe(here.keepAction);
    expect(there.fits).toBe(here.fits);
    expect(seen).toHaveLength(here.fits);
    expect(new Set(seen).size).toBe(here.fits);
    // A fit that fails in a worker fails the selection with the fit's own message (no hang).
    const short: Segment = { ...pairs[5].a, length: H - 1, actions: pairs[5].a.actions.subarray(0, (H - 1) * ACT), obs: pairs[5].a.obs.subarray(0, H * OBS) };
    const broken = pairs.map((p, i) => (i === 5 ? { ...p, a: short } : p));
    await expect(selectInputs(broken, labels, { ...opts, workers: 1 })).rejects.toThrow(/input selection worker: train: all segments must have the same length/);
    // The labels depend on obs 1 and the action; the first step keeps one of them.
    expect(['1', 'action']).toContain(String(here.steps[0].unit));
  });
});
