/**
 * The HERON page's server side: validate a config a person built (ranking, margins,
 * directions) against the env, and show how the hierarchical rule (reward/teachers/heron.ts,
 * the same pure `heronDecide` the HERON teacher uses) decides sample pairs from the store,
 * which term decided, and how often it agrees with the preferences people stored.
 *
 * The margins are scaled by the per-term stds over the same pool `prefrl label` and `prefrl
 * offline` give the teacher: every stored pair's two segments (store.pairIdsToLabel's order, a
 * then b), each segment once. Only the sample pairs and the agreement figure are capped (the first
 * 2000 labelled pairs, 200 pending ones): on a store above the cap, stds from those pairs alone
 * differed from the teacher's and so did its verdicts near a margin.
 */
import { InputError } from '../core/errors.js';
import type { EnvSpec } from '../envs/types.js';
import { isPerson, type LabelStore } from '../reward/store.js';
import { heronDecide, heronLevels, parseHeronConfig, sumStds, termSums } from '../reward/teachers/heron.js';
import type { Pair } from '../reward/types.js';
import type { HeronConfigJson, HeronDecisionJson, HeronResultMsg } from './protocol.js';

/** Segments and pairs the preview draws on (loaded once and cached by the server). */
export interface HeronPool {
  /** Pairs shown as samples: labelled ones first (so people can compare), then pending ones. */
  readonly samples: readonly { pair: Pair; human: number[] }[];
  /** Pairs with people's preference labels, for the agreement figure. */
  readonly labelled: readonly { pair: Pair; human: number[] }[];
  /** Set when the store held more pairs with preferences than were read for `labelled` (maxLabelled). */
  readonly labelledFirstOf?: { readonly read: number; readonly total: number };
  /** Population std of each term's segment sums over every stored pair's segments (the teacher's pool). */
  readonly stds: Float64Array;
  /** Distinct segments the stds are over. */
  readonly segments: number;
}

export interface HeronPoolOptions {
  /** Sample pairs shown (default 8). */
  readonly samples?: number;
  /** At most this many labelled pairs for the agreement figure (default 2000). */
  readonly maxLabelled?: number;
  /** At most this many pending pairs read for the samples (default 200). */
  readonly maxPending?: number;
  /** Term sums kept from earlier loads (the server keeps one); a new one reads every segment. */
  readonly sums?: PoolTermSums;
  /** Segments read between two pauses (default 500). */
  readonly slice?: number;
  /** Awaited between slices, so a server keeps answering while a big store is read (default: the next turn of the event loop). */
  readonly pause?: () => Promise<void>;
}

const nextTurn = (): Promise<void> => new Promise((res) => setImmediate(res));

/**
 * The term sums (termSums) of the store's segments by id, nTerms numbers each: a segment is read
 * once, so a later load reads only the segments stored since (segments never change once stored).
 * The first time, some 0.5 s of reading per 40,000 segments (their reward terms alone) on a 2-core machine.
 */
export class PoolTermSums {
  private readonly sums = new Map<string, Float64Array>();
  /** Segments read from the store so far. */
  reads = 0;

  /**
   * The per-term stds over every stored pair's segments, each once, in the order the HERON
   * teacher's pool takes them (so the numbers are the teacher's to the last bit), or null when the
   * store holds no pairs. Reads the segments not read before, `slice` at a time, awaiting `pause` between slices.
   */
  async stds(store: LabelStore, opts: Pick<HeronPoolOptions, 'slice' | 'pause'> = {}): Promise<{ stds: Float64Array; segments: number } | null> {
    const slice = opts.slice ?? 500;
    const pause = opts.pause ?? nextTurn;
    const ids = store.pairIdsToLabel();
    const segsOf = new Map(store.pairSegmentIds().map((r) => [r.id, r]));
    const order: string[] = [];
    const seen = new Set<string>();
    for (const id of ids) {
      const r = segsOf.get(id);
      if (!r) continue; // stored between the two reads: the next load takes it
      for (const seg of [r.segA, r.segB]) {
        if (seen.has(seg)) continue;
        seen.add(seg);
        order.push(seg);
      }
    }
    if (order.length === 0) return null;
    const missing = order.filter((id) => !this.sums.has(id));
    for (let i = 0; i < missing.length; i++) {
      if (i > 0 && i % slice === 0) await pause();
      const seg = store.segmentTerms(missing[i]);
      if (!seg) throw new InputError(store.path, `pair references missing segment ${missing[i]}`, 'pairs');
      this.sums.set(seg.id, termSums(seg));
      this.reads++;
    }
    return { stds: sumStds(order.map((id) => this.sums.get(id) as Float64Array)), segments: order.length };
  }
}

/** Read the pool from a store (null when it holds no pairs). */
export async function loadHeronPool(store: LabelStore, opts: HeronPoolOptions = {}): Promise<HeronPool | null> {
  const k = opts.samples ?? 8;
  // The stds first: the sample pairs below are read after the last pause, so they are the store's now.
  const spread = await (opts.sums ?? new PoolTermSums()).stds(store, opts);
  if (spread === null) return null;
  // The first maxLabelled pairs with preferences (labelledPairs' order), their segments read for
  // those pairs only: a store of 100,000 labelled pairs holds some 600 MB of segments.
  const allIds = store.labelledPairIds({ includeSkips: false });
  const ids = allIds.slice(0, opts.maxLabelled ?? 2000);
  const labelledFirstOf = ids.length < allIds.length ? { read: ids.length, total: allIds.length } : undefined;
  // People's labels by the store's rule (isPerson: "human", "human:<name>" or registered with kind "human").
  const kinds = new Map(store.teachers().map((t) => [t.id, t.kind]));
  const human = new Map<string, number[]>(ids.map((id) => [id, []]));
  for (const l of store.labels()) {
    if (l.kind === 'preference' && isPerson(l.teacher, kinds.get(l.teacher))) human.get(l.pairId)?.push(l.probFirst);
  }
  const labelled = store.getPairs(ids).map((pair) => ({ pair, human: human.get(pair.id) as number[] }));
  const pending = store.pendingPairs({ limit: opts.maxPending ?? 200 });
  const withHuman = labelled.filter((l) => l.human.length > 0);
  const seen = new Set<string>();
  const samples: { pair: Pair; human: number[] }[] = [];
  for (const s of [...withHuman, ...labelled, ...pending.map((pair) => ({ pair, human: [] as number[] }))]) {
    if (samples.length >= k) break;
    if (seen.has(s.pair.id)) continue;
    seen.add(s.pair.id);
    samples.push(s);
  }
  return { samples, labelled: withHuman, ...(labelledFirstOf ? { labelledFirstOf } : {}), ...spread };
}

/** Throws InputError (source "HERON config") when the config does not fit the env. */
export function checkHeronConfig(config: HeronConfigJson, spec: EnvSpec): HeronConfigJson {
  const c = parseHeronConfig(config, spec, 'HERON config');
  return { ranking: [...c.ranking], margins: [...c.margins], ...(c.directions ? { directions: { ...c.directions } } : {}) };
}

function verdict(p: number): number {
  return p > 0.5 ? 1 : p < 0.5 ? 0 : 0.5;
}

/** Decide the pool's sample pairs with a config; the agreement counts pairs whose people's majority verdict matches. */
export function heronPreview(config: HeronConfigJson, spec: EnvSpec, pool: HeronPool): Omit<HeronResultMsg, 'type' | 're'> {
  const checked = checkHeronConfig(config, spec);
  const levels = heronLevels(checked, spec);
  const fin = (x: number): number | null => (Number.isFinite(x) ? x : null);
  const decisions: HeronDecisionJson[] = pool.samples.map(({ pair, human }) => {
    const sa = termSums(pair.a);
    const sb = termSums(pair.b);
    const d = heronDecide(sa, sb, pool.stds, levels);
    return { pairId: pair.id, probFirst: d.probFirst, level: d.level, term: d.term, diff: fin(d.diff), threshold: fin(d.threshold), sumsA: Array.from(sa), sumsB: Array.from(sb), human };
  });
  let agreeing = 0;
  for (const { pair, human } of pool.labelled) {
    const d = heronDecide(termSums(pair.a), termSums(pair.b), pool.stds, levels);
    // The people's verdict: the most common one (ties: the first person's).
    const counts = new Map<number, number>();
    for (const h of human) counts.set(verdict(h), (counts.get(verdict(h)) ?? 0) + 1);
    let best = verdict(human[0]);
    for (const [v, c] of counts) if (c > (counts.get(best) ?? 0)) best = v;
    if (verdict(d.probFirst) === best) agreeing++;
  }
  return { config: checked, decisions, stds: Array.from(pool.stds), poolSegments: pool.segments, agreement: { pairs: pool.labelled.length, agreeing, ...(pool.labelledFirstOf ? { firstOf: pool.labelledFirstOf } : {}) } };
}
