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
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { type BackendChoice, currentBackend } from '../core/backend.js';
import { sigmoid } from '../core/math.js';
import { Rng } from '../core/rng.js';
import { workerScript } from '../core/worker.js';
import { preferenceAccuracy } from './metrics.js';
import { type RewardNetConfig, RewardNet } from './network.js';
import { labelledPairs, preferenceLoss, trainRewardModel } from './train.js';
import type { Label, Pair, PreferenceModelKind, RewardInput, Segment } from './types.js';

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
  /**
   * Proxy training: max epochs (default 60), Adam rate (default 1e-3), held-out share for early
   * stopping (default 0.15), patience (default 5). The proxies are the selection's own measuring
   * instrument, not the reward model: the commands (prefrl train, prefrl offline) leave these at
   * their defaults, and none of their --reward-* training flags (--reward-epochs, --reward-lr,
   * --reward-hidden, --reward-val-fraction, ...) reaches them, so a choice of inputs does not
   * shift when the final model's training is tuned (--reward-val-fraction 0, say, would train
   * every proxy its full 60 epochs with no early stopping). Those flags train the model made on
   * the chosen inputs.
   */
  readonly epochs?: number;
  readonly lr?: number;
  readonly valFraction?: number;
  readonly patience?: number;
  /** Smallest relative drop of the cross-validated NLL that adds an input (default 0.02). */
  readonly minGain?: number;
  /**
   * Worker threads that score candidate sets at the same time (default 0: one after another in
   * this thread). The result is the same for any count: each set's proxies are seeded by name.
   * Each worker loads the tensor backend this thread uses and gets a copy of the pairs.
   */
  readonly workers?: number;
  /**
   * Called after each candidate set is scored (progress; with workers, in the order they finish):
   * `done` sets in all; `step` the forward-selection step it belongs to (from 1; 0 for the
   * regret model's fixed action, scored first), and `stepDone` of that step's `stepSets`.
   */
  readonly onScore?: (s: ScoreEvent) => void;
  /** Called after each step of the forward selection. */
  readonly onStep?: (s: SelectionStep) => void;
}

export interface ScoreEvent {
  readonly units: readonly InputUnit[];
  readonly nll: number;
  readonly accuracy: number;
  readonly done: number;
  readonly step: number;
  readonly stepDone: number;
  readonly stepSets: number;
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

/** The proxies' own settings (see InputSelectionOptions.epochs: the --reward-* flags do not reach them). */
export const SELECTION_DEFAULTS = { folds: 3, hidden: [64, 64], epochs: 60, lr: 1e-3, valFraction: 0.15, patience: 5, minGain: 0.02 } as const;
const DEFAULTS = SELECTION_DEFAULTS;

/**
 * Everything scoring a candidate set needs, the same in this thread and in a worker (plain data:
 * it is copied to worker threads). `pairs` and `labels` hold the preference labels only.
 */
export interface ScoringJob {
  readonly pairs: readonly Pair[];
  readonly labels: readonly Label[];
  /** Pair indices in their shuffled order, and each pair's fold. */
  readonly order: Int32Array;
  readonly foldOf: Int32Array;
  readonly folds: number;
  /** The selection's seed path (`Rng.path`): each fold's proxy forks from it by name. */
  readonly rngPath: string;
  readonly input: RewardInput;
  readonly obsDim: number;
  readonly actDim: number;
  readonly hidden: readonly number[];
  readonly epochs: number;
  readonly lr: number;
  readonly valFraction: number;
  readonly patience: number;
  readonly preferenceModel: PreferenceModelKind;
}

/**
 * Each pair's logit S(a) - S(b) under a proxy with inputs `units` that did not train on it: one
 * fresh single-member proxy per fold, trained to early stopping on the other folds.
 */
export async function candidateLogits(job: ScoringJob, units: readonly InputUnit[]): Promise<Float64Array> {
  const cfg = configForUnits(units, job);
  const n = job.pairs.length;
  const order = Array.from(job.order);
  const rng = new Rng(job.rngPath);
  const logits = new Float64Array(n);
  for (let f = 0; f < job.folds; f++) {
    const train = order.filter((i) => job.foldOf[i] !== f);
    const test = order.filter((i) => job.foldOf[i] === f);
    const netRng = rng.fork(`proxy-${f}`);
    const net = RewardNet.create({ ...cfg, obsDim: job.obsDim, actDim: job.actDim, hidden: job.hidden, members: 1, preferenceModel: job.preferenceModel }, netRng.fork('net'));
    try {
      await trainRewardModel(
        net,
        train.map((i) => job.pairs[i]),
        train.map((i) => job.labels[i]),
        { rng: netRng.fork('train'), epochs: job.epochs, lr: job.lr, valFraction: job.valFraction, patience: job.patience },
      );
      const sums = net.segmentSums(test.flatMap((i) => [job.pairs[i].a, job.pairs[i].b]));
      test.forEach((i, t) => {
        logits[i] = sums[2 * t] - sums[2 * t + 1];
      });
    } finally {
      net.dispose();
    }
  }
  return logits;
}

/** Messages between ScoringPool and reward/select_worker.ts. */
export type ScoringRequest = { readonly type: 'score'; readonly id: number; readonly units: readonly InputUnit[] };
export type ScoringReply =
  | { readonly type: 'ready' }
  | { readonly type: 'result'; readonly id: number; readonly logits: Float64Array }
  | { readonly type: 'error'; readonly id: number | null; readonly message: string };
export interface ScoringWorkerInit {
  readonly job: ScoringJob;
  readonly backend: Exclude<BackendChoice, 'auto'>;
}

/**
 * The pairs with each segment's arrays copied to arrays of their own: segments cut from a
 * dataset or a rollout are views into large buffers, and copying a view to a worker copies
 * its whole buffer. Each segment is copied once however many pairs hold it.
 */
function compactPairs(pairs: readonly Pair[]): Pair[] {
  const copies = new Map<string, Segment>();
  const copy = (g: Segment): Segment => {
    let c = copies.get(g.id);
    if (!c) {
      c = { ...g, obs: g.obs.slice(), actions: g.actions.slice(), rewards: g.rewards.slice(), terms: g.terms.slice(), qpos: g.qpos.slice(), qvel: g.qvel.slice(), act: g.act.slice(), time: g.time.slice(), success: g.success.slice() };
      copies.set(g.id, c);
    }
    return c;
  };
  return pairs.map((p) => ({ ...p, a: copy(p.a), b: copy(p.b) }));
}

/** Worker threads scoring candidate sets: each takes the next queued set when it is free. */
class ScoringPool {
  private readonly queue: { units: readonly InputUnit[]; resolve: (l: Float64Array) => void; reject: (e: Error) => void }[] = [];
  private readonly busy = new Map<Worker, { id: number; resolve: (l: Float64Array) => void; reject: (e: Error) => void }>();
  private readonly idle: Worker[] = [];
  private failure: Error | null = null;
  private nextId = 0;

  private constructor(private readonly workers: readonly Worker[]) {}

  static async start(count: number, job: ScoringJob): Promise<ScoringPool> {
    const backend = currentBackend()?.kind ?? 'cpu';
    const script = workerScript(import.meta.url, 'select_worker');
    const init: ScoringWorkerInit = { job: { ...job, pairs: compactPairs(job.pairs) }, backend };
    const workers = Array.from({ length: count }, () => new Worker(script.file, { eval: script.eval, workerData: init }));
    const pool = new ScoringPool(workers);
    const cleanups: (() => void)[] = [];
    const ready = workers.map(
      (w, k) =>
        new Promise<void>((resolve, reject) => {
          const fail = (e: Error): void => reject(new Error(`input selection worker ${k} failed to start: ${e.message}`));
          const onMessage = (m: ScoringReply): void => (m.type === 'ready' ? resolve() : fail(new Error(m.type === 'error' ? m.message : 'unexpected message')));
          const onExit = (code: number): void => fail(new Error(`exited with code ${code}`));
          w.once('message', onMessage);
          w.once('error', fail);
          w.once('exit', onExit);
          cleanups.push(() => {
            w.off('message', onMessage);
            w.off('error', fail);
            w.off('exit', onExit);
          });
        }),
    );
    try {
      await Promise.all(ready);
    } catch (e) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw e;
    }
    for (const c of cleanups) c();
    for (const [k, w] of workers.entries()) {
      w.on('message', (m: ScoringReply) => pool.reply(w, m));
      w.on('error', (e) => pool.fail(new Error(`input selection worker ${k} crashed: ${e.message}`)));
      w.on('exit', (code) => pool.fail(new Error(`input selection worker ${k} exited (code ${code})`)));
      pool.idle.push(w);
    }
    return pool;
  }

  /** The logits of one candidate set (queued until a worker is free). */
  logits(units: readonly InputUnit[]): Promise<Float64Array> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.queue.push({ units, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const w = this.idle.pop()!;
      const job = this.queue.shift()!;
      const id = this.nextId++;
      this.busy.set(w, { id, resolve: job.resolve, reject: job.reject });
      const msg: ScoringRequest = { type: 'score', id, units: job.units };
      w.postMessage(msg);
    }
  }

  private reply(w: Worker, m: ScoringReply): void {
    const task = this.busy.get(w);
    if (!task || m.type === 'ready' || m.id !== task.id) return this.fail(new Error(`input selection worker: unexpected reply ${JSON.stringify({ type: m.type })}`));
    this.busy.delete(w);
    if (m.type === 'result') task.resolve(m.logits);
    else task.reject(new Error(`input selection worker: ${m.message}`));
    this.idle.push(w);
    this.dispatch();
  }

  /** A worker died: everything queued or in flight fails with the reason. */
  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    for (const t of this.busy.values()) t.reject(e);
    for (const t of this.queue) t.reject(e);
    this.busy.clear();
    this.queue.length = 0;
  }

  async close(): Promise<void> {
    // Set first, so the workers' exits below are not reported as failures.
    this.failure ??= new Error('input selection: the worker pool was closed');
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** At most this many selection workers are started when the count is left to the machine. */
export const MAX_AUTO_SELECTION_WORKERS = 8;

/**
 * The selection's worker threads: `requested` when given; otherwise one per CPU core (at most
 * MAX_AUTO_SELECTION_WORKERS), or 0 on a single core or with a native TensorFlow backend, which
 * already spreads each fit over the cores (call after the backend is initialised).
 */
export function selectionWorkers(requested?: number | null): number {
  if (requested !== undefined && requested !== null) return requested;
  const kind = currentBackend()?.kind;
  if (kind === 'gpu' || kind === 'node') return 0;
  const cores = availableParallelism();
  return cores > 1 ? Math.min(cores, MAX_AUTO_SELECTION_WORKERS) : 0;
}

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
  const workers = opts.workers ?? 0;
  check('workers', Number.isInteger(workers) && workers >= 0, `must be an integer >= 0, got ${workers}`);
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
  const job: ScoringJob = {
    pairs: data.pairs,
    labels: prefLabels,
    order: Int32Array.from(order),
    foldOf,
    folds,
    rngPath: opts.rng.path,
    input: opts.input,
    obsDim: opts.obsDim,
    actDim: opts.actDim,
    hidden: opts.hidden ?? DEFAULTS.hidden,
    epochs: opts.epochs ?? DEFAULTS.epochs,
    lr: opts.lr ?? DEFAULTS.lr,
    valFraction: opts.valFraction ?? DEFAULTS.valFraction,
    patience: opts.patience ?? DEFAULTS.patience,
    preferenceModel: opts.preferenceModel ?? 'partial-return',
  };
  const pool = workers > 0 ? await ScoringPool.start(workers, job) : null;
  try {
    let fits = 0;
    /** Every candidate set of step `step`, scored in the order given: in worker threads at once, or here one after another. */
    const scoreAll = async (step: number, sets: readonly (readonly InputUnit[])[]): Promise<{ nll: number; accuracy: number }[]> => {
      let stepDone = 0;
      const finish = (units: readonly InputUnit[], logits: Float64Array): { nll: number; accuracy: number } => {
        fits++;
        stepDone++;
        const r = { nll: preferenceLoss(logits, data.labels), accuracy: preferenceAccuracy(logits.map(sigmoid), data.labels).accuracy };
        opts.onScore?.({ units, ...r, done: fits, step, stepDone, stepSets: sets.length });
        return r;
      };
      if (pool) return Promise.all(sets.map(async (units) => finish(units, await pool.logits(units))));
      const out: { nll: number; accuracy: number }[] = [];
      for (const units of sets) out.push(finish(units, await candidateLogits(job, units)));
      return out;
    };
    const baselineNll = preferenceLoss(new Float64Array(n), data.labels);
    let kept: InputUnit[] = [...fixed];
    let current = fixed.length ? (await scoreAll(0, [kept]))[0].nll : baselineNll;
    const steps: SelectionStep[] = [];
    let left = candidates.slice();
    while (left.length > 0) {
      const scores = await scoreAll(steps.length + 1, left.map((u) => [...kept, u]));
      const scored = left.map((unit, i) => ({ unit, ...scores[i] }));
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
  } finally {
    await pool?.close();
  }
}

/** The chosen inputs in words ("obs 8, obs 9, action"). */
export function describeSelection(sel: Pick<InputSelection, 'keepObs' | 'keepAction'>): string {
  return [...sel.keepObs.map((j) => unitName(j)), ...(sel.keepAction ? ['action'] : [])].join(', ');
}

/** What a run keeps of a selection (saved in the model's meta and the run's files). */
export function selectionRecord(sel: InputSelection): { labels: number; keepObs: readonly number[]; keepAction: boolean; baselineNll: number; steps: readonly SelectionStep[]; fits: number } {
  return { labels: sel.labels, keepObs: sel.keepObs, keepAction: sel.keepAction, baselineNll: sel.baselineNll, steps: sel.steps, fits: sel.fits };
}
