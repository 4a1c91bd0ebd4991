/**
 * The input selection's proxy networks keep their own held-out share (0.15), whatever
 * --reward-val-fraction the command trains its reward model with (reward/select.ts
 * InputSelectionOptions says why). This pins the documented default (leaving valFraction out
 * scores exactly as 0.15 does), shows the option is live (0 scores differently, so the check can
 * fail), and that the flag docs of both commands say the flags do not reach the proxies.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../core/backend.js';
import { Rng } from '../core/rng.js';
import { SELECTION_DEFAULTS, selectInputs } from '../reward/select.js';
import type { Label, Pair, Segment } from '../reward/types.js';
import { offlineFlags } from '../scripts/commands/offline.js';
import { trainFlags } from '../scripts/commands/train.js';
import { handSegment } from './helpers/segments.js';

beforeAll(async () => {
  await initBackend('wasm');
});

const OBS = 2;
const H = 3;

/** n random pairs of H-step segments labelled by the higher sum of obs[0]. */
function dataset(n: number, seed: number): { pairs: Pair[]; labels: Label[] } {
  const rng = new Rng(seed);
  const seg = (id: string): Segment => {
    const obs = new Float32Array((H + 1) * OBS);
    for (let i = 0; i < obs.length; i++) obs[i] = rng.normal();
    const actions = new Float32Array(H);
    for (let i = 0; i < H; i++) actions[i] = rng.uniform() * 2 - 1;
    return handSegment(id, H, { obsDim: OBS, actDim: 1, obs, actions });
  };
  const ret = (s: Segment) => {
    let r = 0;
    for (let t = 0; t < H; t++) r += s.obs[t * OBS];
    return r;
  };
  const pairs: Pair[] = [];
  const labels: Label[] = [];
  for (let i = 0; i < n; i++) {
    const p: Pair = { id: `p${i}`, a: seg(`a${i}`), b: seg(`b${i}`) };
    pairs.push(p);
    labels.push({ id: `l${i}`, pairId: p.id, teacher: 'hand', kind: 'preference', probFirst: ret(p.a) > ret(p.b) ? 1 : 0 });
  }
  return { pairs, labels };
}

describe('input selection proxies: their own valFraction', () => {
  it('defaults to 0.15: the same scores as 0.15 given, other scores with 0', async () => {
    expect(SELECTION_DEFAULTS.valFraction).toBe(0.15);
    const { pairs, labels } = dataset(90, 2);
    const base = { input: 'obs' as const, obsDim: OBS, actDim: 1, folds: 3, hidden: [8], epochs: 15, lr: 1e-2, patience: 2, minGain: 0.5 };
    const def = await selectInputs(pairs, labels, { ...base, rng: new Rng(7) });
    const given = await selectInputs(pairs, labels, { ...base, rng: new Rng(7), valFraction: 0.15 });
    const none = await selectInputs(pairs, labels, { ...base, rng: new Rng(7), valFraction: 0 });
    const scores = (s: typeof def) => s.steps.map((st) => st.candidates.map((c) => c.nll));
    expect(scores(given)).toEqual(scores(def));
    expect(def.keepObs).toContain(0);
    expect(given.keepObs).toEqual(def.keepObs);
    // 90 pairs, 3 folds: each proxy trains on 60; 0.15 of 60 = 9 held out, so early stopping runs and changes the fits.
    expect(scores(none)).not.toEqual(scores(def));
    // The baseline (predict 0.5 for every pair) is ln 2 whatever the proxies do.
    expect(def.baselineNll).toBeCloseTo(Math.LN2, 12);
    expect(none.baselineNll).toBeCloseTo(Math.LN2, 12);
  }, 60_000);

  it('the --reward-select-inputs docs of train and offline say the --reward-* flags do not reach the proxies', () => {
    for (const doc of [trainFlags.rewardSelectInputs.doc, offlineFlags.rewardSelectInputs.doc]) {
      expect(doc).toContain('proxy networks with settings of their own (64x64, up to 60 epochs, 15% held out for early stopping)');
      expect(doc).toContain('--reward-val-fraction included, train only the model made on the chosen inputs');
    }
    expect(SELECTION_DEFAULTS).toMatchObject({ hidden: [64, 64], epochs: 60 });
  });
});
