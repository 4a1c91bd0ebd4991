/**
 * One offline agent trained end to end: a dataset and a reward for every transition in, a
 * trained actor (plain-JS snapshot) and its training record out. Shared by `prefrl iql` and the
 * offline preference pipeline (reward/offline.ts), so both build IQL and BC the same way:
 *
 *   rewards -> prepareOfflineData (observation normalisation; IQL: CORL's locomotion reward
 *   scaling, BC: none) -> Iql | Bc with the resolved config -> trainOffline (uniform batches,
 *   optional evaluations in the simulator) -> actor snapshot.
 *
 * The learner's tensors are disposed before returning; the snapshot holds plain numbers.
 */
import { shownArg, refuseUnknownKeys } from '../core/errors.js';
import { BC_DEFAULTS, Bc, type BcConfig } from './bc.js';
import type { OfflineDataset } from './dataset.js';
import {
  type ActorSnapshot,
  IQL_DEFAULTS,
  Iql,
  type IqlConfig,
  type OfflineLearner,
  prepareOfflineData,
  resolveIqlConfig,
  rewardScale,
  trainOffline,
  type TrainOfflineOptions,
  type TrainOfflineResult,
} from './iql.js';

export const OFFLINE_ALGOS = ['iql', 'bc'] as const;
export type OfflineAlgo = (typeof OFFLINE_ALGOS)[number];

/** What trainOffline takes as given: the run length, the seed, evaluation, logging and progress (see TrainOfflineOptions). */
type PassedOn = 'updates' | 'batchSize' | 'seed' | 'evalEnv' | 'evalEvery' | 'evalEpisodes' | 'refReturns' | 'logEvery' | 'clock' | 'onMetrics' | 'onUpdate';

export interface OfflineAgentOptions extends Pick<TrainOfflineOptions, PassedOn> {
  readonly algo: OfflineAlgo;
  readonly ds: OfflineDataset;
  /** Reward of every transition [ds.size] (the dataset's own, or a relabelling). */
  readonly rewards: ArrayLike<number>;
  /** The action box of the env the actor will act in. */
  readonly actLow: ArrayLike<number>;
  readonly actHigh: ArrayLike<number>;
  readonly hidden: readonly number[];
  /** IQL settings beyond the common ones (defaults: IQL_DEFAULTS). */
  readonly iql?: Partial<Pick<IqlConfig, 'beta' | 'expectile' | 'targetRate' | 'actor' | 'rewardScaling'>>;
  /** BC loss: 'mse' (deterministic actor) or 'nll' (Gaussian actor); default mse. */
  readonly bcLoss?: BcConfig['loss'];
  /** Recorded in the actor file's meta. */
  readonly actorMeta?: Record<string, unknown>;
}

export interface OfflineAgentResult {
  readonly actor: ActorSnapshot;
  readonly training: TrainOfflineResult;
  /** The factor applied to the rewards before training (1 without scaling). */
  readonly rewardScale: number;
  /** The learner's full config. */
  readonly resolved: IqlConfig | BcConfig;
}

/** The resolved config of an agent (what would be trained; no tensors made). */
export function resolveOfflineConfig(o: Pick<OfflineAgentOptions, 'algo' | 'updates' | 'batchSize' | 'hidden' | 'seed' | 'iql' | 'bcLoss'>): IqlConfig | BcConfig {
  const common = { updates: o.updates, batchSize: o.batchSize, hidden: [...o.hidden], seed: o.seed };
  return o.algo === 'iql' ? resolveIqlConfig({ ...common, ...(o.iql ?? {}) }) : { ...BC_DEFAULTS, ...common, loss: o.bcLoss ?? BC_DEFAULTS.loss };
}

/** The factor the agent's training applies to the rewards: IQL's locomotion scaling, else 1. */
export function offlineRewardScale(resolved: IqlConfig | BcConfig, ds: OfflineDataset, rewards: ArrayLike<number>): number {
  if (!('rewardScaling' in resolved) || resolved.rewardScaling !== 'locomotion') return 1;
  return rewardScale(ds, rewards, resolved.rewardScaleSteps ?? ds.meta.horizon ?? 1000).scale;
}

/** Every option trainOfflineAgent reads (the type makes it list each key of OfflineAgentOptions, and no other). */
const OFFLINE_AGENT_OPTION_KEYS: Readonly<Record<keyof OfflineAgentOptions, true>> = {
  algo: true, ds: true, rewards: true, actLow: true, actHigh: true, hidden: true, iql: true, bcLoss: true, actorMeta: true, updates: true, batchSize: true,
  seed: true, evalEnv: true, evalEvery: true, evalEpisodes: true, refReturns: true, logEvery: true, clock: true, onMetrics: true, onUpdate: true,
};

/**
 * The arrays training reads, checked before any tensor is made: a dataset a script builds by hand
 * (readDataset and datasetFromTrajectories check theirs) with a NaN reward trained to NaN
 * values without a word, and one whose observations were shorter than size x obsDim, or held a
 * NaN, failed only after training, as a bad saved actor ("actor (obsMean): expected 6 finite
 * numbers"). A RangeError naming the option, the array and the first bad row.
 */
function checkDatasetArrays(ds: OfflineDataset, rewards: ArrayLike<number>): void {
  const fn = 'trainOfflineAgent';
  for (const [name, v] of [['size', ds.size], ['obsDim', ds.obsDim], ['actDim', ds.actDim]] as const) {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new RangeError(`${fn}: option ds.${name} must be a whole number >= 1, got ${shownArg(v)}`);
  }
  const arrays = [
    ['observations', ds.observations, ds.obsDim],
    ['nextObservations', ds.nextObservations, ds.obsDim],
    ['actions', ds.actions, ds.actDim],
    ['terminals', ds.terminals, 1],
  ] as const;
  for (const [name, a, width] of arrays) {
    if (a === null || typeof a !== 'object' || typeof (a as { length?: unknown }).length !== 'number') {
      throw new TypeError(`${fn}: option ds.${name} must be an array of ${ds.size} x ${width} numbers, got ${shownArg(a)}`);
    }
    if (a.length !== ds.size * width) {
      throw new RangeError(`${fn}: option ds.${name} has ${a.length} values; a dataset of ${ds.size} transitions (ds.size) needs ${ds.size} x ${width} = ${ds.size * width}`);
    }
  }
  const firstBad = (a: ArrayLike<number>, bad: (x: number) => boolean): number => {
    for (let i = 0; i < a.length; i++) if (bad(a[i])) return i;
    return -1;
  };
  for (const [name, a, width] of [...arrays.slice(0, 3), ['rewards', rewards, 1]] as const) {
    const i = firstBad(a, (x) => !Number.isFinite(x));
    if (i >= 0) {
      const where = width > 1 ? `row ${Math.floor(i / width)}, value ${i % width}` : `row ${i}`;
      throw new RangeError(`${fn}: option ${name === 'rewards' ? 'rewards' : `ds.${name}`} holds ${a[i]} at ${where}; values must be finite numbers`);
    }
  }
  const t = firstBad(ds.terminals, (x) => x !== 0 && x !== 1);
  if (t >= 0) throw new RangeError(`${fn}: option ds.terminals holds ${ds.terminals[t]} at row ${t}; expected 0 or 1`);
}

/** Train one agent (see the header); the event loop gets a turn every few updates (see trainOffline). */
export async function trainOfflineAgent(o: OfflineAgentOptions): Promise<OfflineAgentResult> {
  // A script's options (the CLI's flags check theirs): any other algo name trained BC before.
  if (typeof o !== 'object' || o === null || typeof o.ds !== 'object' || o.ds === null) throw new TypeError('trainOfflineAgent: options.ds (an OfflineDataset, e.g. readDataset or datasetFromTrajectories) is required');
  // A misspelt optional option (evalEvey, bc_loss) was dropped without a word and its default used.
  refuseUnknownKeys('trainOfflineAgent', o, OFFLINE_AGENT_OPTION_KEYS);
  if (typeof o.iql === 'object' && o.iql !== null) {
    const iqlKeys = ['beta', 'expectile', 'targetRate', 'actor', 'rewardScaling'];
    const unknownIql = Object.keys(o.iql).filter((k) => !iqlKeys.includes(k));
    if (unknownIql.length > 0) throw new RangeError(`trainOfflineAgent: option iql has no field${unknownIql.length > 1 ? 's' : ''} ${unknownIql.map((k) => JSON.stringify(k)).join(', ')} (its fields: ${iqlKeys.join(', ')})`);
  }
  if (!(OFFLINE_ALGOS as readonly unknown[]).includes(o.algo)) throw new RangeError(`trainOfflineAgent: option algo must be ${OFFLINE_ALGOS.map((a) => `'${a}'`).join(' or ')}, got ${shownArg(o.algo)}`);
  if (o.rewards === null || typeof o.rewards !== 'object' || typeof o.rewards.length !== 'number') throw new TypeError('trainOfflineAgent: option rewards (one number per transition) is required');
  for (const [name, v] of [['updates', o.updates], ['batchSize', o.batchSize]] as const) {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new RangeError(`trainOfflineAgent: option ${name} must be a whole number >= 1, got ${shownArg(v)}`);
  }
  // A missing seed trained from the seed "undefined"; a missing box or hidden list failed with a TypeError deep inside.
  if (typeof o.seed !== 'number') throw new TypeError(`trainOfflineAgent: option seed must be a finite number, got ${shownArg(o.seed)}`);
  if (!Number.isFinite(o.seed)) throw new RangeError(`trainOfflineAgent: option seed must be a finite number, got ${shownArg(o.seed)}`);
  if (!Array.isArray(o.hidden)) throw new TypeError(`trainOfflineAgent: option hidden (the hidden layer widths, e.g. [256, 256]) must be an array, got ${shownArg(o.hidden)}`);
  if (!o.hidden.every((h) => Number.isSafeInteger(h) && h >= 1)) throw new RangeError(`trainOfflineAgent: option hidden must hold whole numbers >= 1, got [${o.hidden.map(shownArg).join(', ')}]`);
  for (const name of ['actLow', 'actHigh'] as const) {
    const box = o[name] as unknown;
    if (box === null || typeof box !== 'object' || typeof (box as { length?: unknown }).length !== 'number') {
      throw new TypeError(`trainOfflineAgent: option ${name} (the action box's bounds, one number per action value, e.g. env.spec.${name}) is required, got ${shownArg(box)}`);
    }
  }
  checkDatasetArrays(o.ds, o.rewards);
  // Checked here: a shorter reward array would train on NaN rewards, a wrong box would scale actions wrongly.
  if (o.rewards.length !== o.ds.size) throw new RangeError(`trainOfflineAgent: ${o.rewards.length} rewards for a dataset of ${o.ds.size} transitions (one reward per transition)`);
  if (o.actLow.length !== o.ds.actDim || o.actHigh.length !== o.ds.actDim) {
    throw new RangeError(`trainOfflineAgent: the action box has ${o.actLow.length} low and ${o.actHigh.length} high bounds, the dataset's actions have ${o.ds.actDim} values`);
  }
  // An eval env of other sizes failed only at the first evaluation, after the training before it.
  const evalSpec = (o.evalEnv as { spec?: { id?: unknown; obsDim?: unknown; actDim?: unknown } } | undefined)?.spec;
  if (evalSpec && (evalSpec.obsDim !== o.ds.obsDim || evalSpec.actDim !== o.ds.actDim)) {
    throw new RangeError(`trainOfflineAgent: option evalEnv (${String(evalSpec.id)}) has ${String(evalSpec.obsDim)} observation and ${String(evalSpec.actDim)} action values, the dataset (ds.obsDim, ds.actDim) ${o.ds.obsDim} and ${o.ds.actDim}`);
  }
  const resolved = resolveOfflineConfig(o);
  const data = prepareOfflineData(o.ds, o.rewards, {
    normalizeObs: true,
    obsStdEps: IQL_DEFAULTS.obsStdEps,
    rewardScaling: o.algo === 'iql' ? (resolved as IqlConfig).rewardScaling : 'none',
    rewardScaleSteps: null,
  });
  let learner: OfflineLearner | null = null;
  try {
    learner =
      o.algo === 'iql'
        ? new Iql(o.ds.obsDim, o.ds.actDim, o.actLow, o.actHigh, resolved as IqlConfig)
        : new Bc(o.ds.obsDim, o.ds.actDim, o.actLow, o.actHigh, resolved as BcConfig);
    const { updates, batchSize, seed, evalEnv, evalEvery, evalEpisodes, refReturns, logEvery, clock, onMetrics, onUpdate } = o;
    const training = await trainOffline({ learner, data, updates, batchSize, seed, evalEnv, evalEvery, evalEpisodes, refReturns, logEvery, clock, onMetrics, onUpdate });
    const actor = learner.actor.snapshot(o.algo, o.actorMeta);
    return { actor, training, rewardScale: data.rewardScale, resolved };
  } finally {
    learner?.dispose();
  }
}
