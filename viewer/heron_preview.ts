/**
 * The HERON page's server side: validate a config a person built (ranking, margins,
 * directions) against the env, and show how the hierarchical rule (reward/teachers/heron.ts,
 * the same pure `heronDecide` the HERON teacher uses) decides sample pairs from the store,
 * which term decided, and how often it agrees with the preferences people stored.
 */
import type { EnvSpec } from '../envs/types.js';
import { isPerson, type LabelStore } from '../reward/store.js';
import { heronDecide, heronLevels, parseHeronConfig, termSums, termSumStds } from '../reward/teachers/heron.js';
import type { Pair, Segment } from '../reward/types.js';
import type { HeronConfigJson, HeronDecisionJson, HeronResultMsg } from './protocol.js';

/** Segments and pairs the preview draws on (loaded once and cached by the server). */
export interface HeronPool {
  /** Pairs shown as samples: labelled ones first (so people can compare), then pending ones. */
  readonly samples: readonly { pair: Pair; human: number[] }[];
  /** Pairs with people's preference labels, for the agreement figure. */
  readonly labelled: readonly { pair: Pair; human: number[] }[];
  /** Population std of each term's segment sums over the pool. */
  readonly stds: Float64Array;
  readonly segments: number;
}

export interface HeronPoolOptions {
  /** Sample pairs shown (default 8). */
  readonly samples?: number;
  /** At most this many labelled pairs for the agreement figure (default 2000). */
  readonly maxLabelled?: number;
  /** At most this many pending pairs read for the pool (default 200). */
  readonly maxPending?: number;
}

/** Read the pool from a store (null when it holds no pairs). */
export function loadHeronPool(store: LabelStore, opts: HeronPoolOptions = {}): HeronPool | null {
  const k = opts.samples ?? 8;
  // The first maxLabelled pairs with preferences (labelledPairs' order), their segments read for
  // those pairs only: a store of 100,000 labelled pairs holds some 600 MB of segments.
  const ids = store.labelledPairIds({ includeSkips: false }).slice(0, opts.maxLabelled ?? 2000);
  // People's labels by the store's rule (isPerson: "human", "human:<name>" or registered with kind "human").
  const kinds = new Map(store.teachers().map((t) => [t.id, t.kind]));
  const human = new Map<string, number[]>(ids.map((id) => [id, []]));
  for (const l of store.labels()) {
    if (l.kind === 'preference' && isPerson(l.teacher, kinds.get(l.teacher))) human.get(l.pairId)?.push(l.probFirst);
  }
  const labelled = store.getPairs(ids).map((pair) => ({ pair, human: human.get(pair.id) as number[] }));
  const pending = store.pendingPairs({ limit: opts.maxPending ?? 200 });
  const segs = new Map<string, Segment>();
  for (const p of [...labelled.map((l) => l.pair), ...pending]) {
    segs.set(p.a.id, p.a);
    segs.set(p.b.id, p.b);
  }
  if (segs.size === 0) return null;
  const withHuman = labelled.filter((l) => l.human.length > 0);
  const seen = new Set<string>();
  const samples: { pair: Pair; human: number[] }[] = [];
  for (const s of [...withHuman, ...labelled, ...pending.map((pair) => ({ pair, human: [] as number[] }))]) {
    if (samples.length >= k) break;
    if (seen.has(s.pair.id)) continue;
    seen.add(s.pair.id);
    samples.push(s);
  }
  return { samples, labelled: withHuman, stds: termSumStds([...segs.values()]), segments: segs.size };
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
  return { config: checked, decisions, stds: Array.from(pool.stds), poolSegments: pool.segments, agreement: { pairs: pool.labelled.length, agreeing } };
}
