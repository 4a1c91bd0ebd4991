/**
 * Choosing the reward model's inputs from the labels: forward selection by cross-validated
 * preference likelihood.
 *
 * A reward model that sees every observation value can explain a teacher's labels through
 * spurious or redundant encodings of what the teacher cares about (on reacher: arm angles and
 * target position as a second, non-linear encoding of the fingertip-to-target vector that the
 * observation also holds directly), and such a fit generalises worse to the states the policy
 * visits. Here the inputs are picked by what predicts held-out labels: starting from no inputs,
 * each step adds the one input (an observation value, or the action as one group) whose addition
 * gives the lowest k-fold cross-validated negative log-likelihood of the preference labels, and
 * stops when the best addition improves it by less than a relative `minGain`. Every candidate
 * set is scored with small, fresh single-member proxy networks trained to early stopping on each
 * fold's training part, so no knowledge of the task is needed, only labels.
 */
import { sigmoid } from '../core/math.js';
import type { Rng } from '../core/rng.js';
import { preferenceAccuracy } from './metrics.js';
import { type RewardNetConfig, RewardNet } from './network.js';
import { labelledPairs, preferenceLoss, trainRewardModel } from './train.js';
import type { Label, Pair, PreferenceModelKind, RewardInput } from './types.js';

/** A candidate input: an observation index, or the action (all its values together). */
export type InputUnit = number | 'action';

export interface InputSelectionOptions {
  /** What the full model would see: the selection only ever removes inputs from it. */
  readonly input: RewardInput;
  readonly obsDim: number;
  readonly actDim: number;
  /** Observation values hidden already (never candidates). */
  readonly ignoreObs?: readonly number[];
  readonly preferenceModel?: PreferenceModelKind;
  /** Seeds the folds and the proxy networks. */
  readonly rng: Rng;
  /** Cross-validation folds (default 3). */
  readonly folds?: number;
  /** Proxy networks' hidden widths (default [64, 64]). */
  readonly hidden?: readonly number[];
  /** Proxy training: max epochs (default 60), Adam rate (default 1e-3), held-out share for early stopping (default 0.15), patience (default 5). */
  readonly epochs?: number;
  readonly lr?: number;
  readonly valFraction?: number;
  readonly patience?: number;
  /** Smallest relative drop of the cross-validated NLL that adds an input (default 0.02). */
  readonly minGain?: number;
  /** Called after each candidate set is scored (progress). */
  readonly onScore?: (s: { readonly units: readonly InputUnit[]; readonly nll: number; readonly accuracy: number; readonly done: number }) => void;
  /** Called after each step of the forward selection. */
  readonly onStep?: (s: SelectionStep) => void;
}

export interface SelectionStep {
  /** The input added at this step (the best candidate, even when it was not kept). */
  readonly unit: InputUnit;
  /** Cross-validated NLL and accuracy with it added. */
  readonly nll: number;
  readonly accuracy: number;
  /** Whether it improved the NLL enough to be kept (the last step is the first that did not, unless every input was added). */
  readonly kept: boolean;
  /** Every candidate's cross-validated NLL at this step. */
  readonly candidates: readonly { readonly unit: InputUnit; readonly nll: number }[];
}

export interface InputSelection {
  /** The observation values kept, ascending. */
  readonly keepObs: readonly number[];
  /** Whether the action is kept (false when the input has no action). */
  readonly keepAction: boolean;
  /** The reward model's config for the chosen inputs. */
  readonly input: RewardInput;
  readonly ignoreObs: readonly number[];
  /** NLL of predicting 0.5 for every pair (no inputs), then each step. */
  readonly baselineNll: number;
  readonly steps: readonly SelectionStep[];
  /** Preference labels used (skips left out) and the number of candidate sets scored. */
  readonly labels: number;
  readonly fits: number;
}

const DEFAULTS = { folds: 3, hidden: [64, 64], epochs: 60, lr: 1e-3, valFraction: 0.15, patience: 5, minGain: 0.02 } as const;

/** Readable name of a unit ("obs 8", "action"). */
export function unitName(u: InputUnit): string {
  return u === 'action' ? 'action' : `obs ${u}`;
}

/** The network inputs that show exactly `units` of a model whose full input is `input`. */
export function configForUnits(units: readonly InputUnit[], o: Pick<InputSelectionOptions, 'input' | 'obsDim'>): Pick<RewardNetConfig, 'input' | 'ignoreObs'> {
  const keep = new Set(units);
  const ignoreObs = Array.from({ length: o.obsDim }, (_, j) => j).filter((j) => !keep.has(j));
  const input: RewardInput = o.input === 'obs-action' && !keep.has('action') ? 'obs' : o.input;
  return { input, ignoreObs };
}

function check(name: string, ok: boolean, msg: string): void {
  if (!ok) throw new RangeError(`selectInputs: ${name} ${msg}`);
}

/**
 * Forward selection of the reward model's inputs (see the file comment). Throws when there are
 * too few preference labels to cross-validate (fewer than 10 per fold).
 */
export async function selectInputs(pairs: readonly Pair[], labels: readonly Label[], opts: InputSelectionOptions): Promise<InputSelection> {
  const folds = opts.folds ?? DEFAULTS.folds;
  const minGain = opts.minGain ?? DEFAULTS.minGain;
  check('folds', Number.isInteger(folds) && folds >= 2, `must be an integer >= 2, got ${folds}`);
  check('minGain', minGain >= 0 && minGain < 1, `must be in [0, 1), got ${minGain}`);
  const data = labelledPairs(pairs, labels); // checks that labels match pairs
  const prefLabels = labels.filter((l) => l.kind !== 'skip');
  const n = data.pairs.length;
  check('labels', n >= 10 * folds, `: ${n} preference labels (skips left out) are too few for ${folds}-fold cross-validation (need at least ${10 * folds})`);
  const ignored = new Set(opts.ignoreObs ?? []);
  const regret = opts.preferenceModel === 'regret';
  // The regret model scores actions (an advantage), so it always sees them.
  const fixed: InputUnit[] = opts.input === 'obs-action' && regret ? ['action'] : [];
  const candidates: InputUnit[] = Array.from({ length: opts.obsDim }, (_, j) => j).filter((j) => !ignored.has(j));
  if (opts.input === 'obs-action' && !regret) candidates.push('action');
  // Fold of each pair: a seeded shuffle dealt round-robin.
  const order = Array.from({ length: n }, (_, i) => i);
  const shuffle = opts.rng.fork('folds');
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(shuffle.uniform() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const foldOf = new Int32Array(n);
  order.forEach((p, i) => {
    foldOf[p] = i % folds;
  });
  let fits = 0;
  const score = async (units: readonly InputUnit[]): Promise<{ nll: number; accuracy: number }> => {
    const cfg = configForUnits(units, opts);
    // Each pair's logit S(a) - S(b) from the proxy that did not train on it.
    const logits = new Float64Array(n);
    for (let f = 0; f < folds; f++) {
      const train = order.filter((i) => foldOf[i] !== f);
      const test = order.filter((i) => foldOf[i] === f);
      const netRng = opts.rng.fork(`proxy-${f}`);
      const net = RewardNet.create(
        { ...cfg, obsDim: opts.obsDim, actDim: opts.actDim, hidden: opts.hidden ?? DEFAULTS.hidden, members: 1, preferenceModel: opts.preferenceModel ?? 'partial-return' },
        netRng.fork('net'),
      );
      try {
        await trainRewardModel(
          net,
          train.map((i) => data.pairs[i]),
          train.map((i) => prefLabels[i]),
          {
            rng: netRng.fork('train'),
            epochs: opts.epochs ?? DEFAULTS.epochs,
            lr: opts.lr ?? DEFAULTS.lr,
            valFraction: opts.valFraction ?? DEFAULTS.valFraction,
            patience: opts.patience ?? DEFAULTS.patience,
          },
        );
        const sums = net.segmentSums(test.flatMap((i) => [data.pairs[i].a, data.pairs[i].b]));
        test.forEach((i, t) => {
          logits[i] = sums[2 * t] - sums[2 * t + 1];
        });
      } finally {
        net.dispose();
      }
    }
    fits++;
    const r = { nll: preferenceLoss(logits, data.labels), accuracy: preferenceAccuracy(logits.map(sigmoid), data.labels).accuracy };
    opts.onScore?.({ units, ...r, done: fits });
    return r;
  };
  const baselineNll = preferenceLoss(new Float64Array(n), data.labels);
  let kept: InputUnit[] = [...fixed];
  let current = fixed.length ? (await score(kept)).nll : baselineNll;
  const steps: SelectionStep[] = [];
  let left = candidates.slice();
  while (left.length > 0) {
    const scored: { unit: InputUnit; nll: number; accuracy: number }[] = [];
    for (const u of left) scored.push({ unit: u, ...(await score([...kept, u])) });
    const best = scored.reduce((a, b) => (b.nll < a.nll ? b : a));
    const keep = best.nll < current * (1 - minGain);
    const step: SelectionStep = { unit: best.unit, nll: best.nll, accuracy: best.accuracy, kept: keep, candidates: scored.map(({ unit, nll }) => ({ unit, nll })) };
    steps.push(step);
    opts.onStep?.(step);
    if (!keep) break;
    kept = [...kept, best.unit];
    current = best.nll;
    left = left.filter((u) => u !== best.unit);
  }
  // Nothing predicted the labels better than a coin: keep every input rather than none.
  if (kept.length === fixed.length) kept = [...fixed, ...candidates];
  const keepObs = kept.filter((u): u is number => u !== 'action').sort((a, b) => a - b);
  const cfg = configForUnits(kept, opts);
  return { keepObs, keepAction: kept.includes('action'), input: cfg.input, ignoreObs: cfg.ignoreObs, baselineNll, steps, labels: n, fits };
}

/** The chosen inputs in words ("obs 8, obs 9, action"). */
export function describeSelection(sel: Pick<InputSelection, 'keepObs' | 'keepAction'>): string {
  return [...sel.keepObs.map((j) => unitName(j)), ...(sel.keepAction ? ['action'] : [])].join(', ');
}

/** What a run keeps of a selection (saved in the model's meta and the run's files). */
export function selectionRecord(sel: InputSelection): { labels: number; keepObs: readonly number[]; keepAction: boolean; baselineNll: number; steps: readonly SelectionStep[]; fits: number } {
  return { labels: sel.labels, keepObs: sel.keepObs, keepAction: sel.keepAction, baselineNll: sel.baselineNll, steps: sel.steps, fits: sel.fits };
}
