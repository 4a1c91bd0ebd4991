/**
 * HERON's hierarchical teacher (Bukharin et al., "Deep RL from Hierarchical Weak Preference
 * Feedback"). A person ranks the env's reward terms by importance and gives one margin per
 * level; two segments are compared on the top-ranked term's segment sum
 *   S_k(x) = sum_t term_k(x_t),
 * and if |S_k(a) - S_k(b)| > margin_k x std_k that term decides; otherwise the next term is
 * tried; when every level is within its margin the pair is a tie (probFirst 0.5).
 *
 * - std_k is the population standard deviation of S_k over a pool of segments, each segment
 *   (by id) counted once, set with `setPool` (HERON uses the current PPO batch, each transition
 *   once). It drifts as the pool changes (e.g. as the policy improves), so the same pair can get
 *   different labels against different pools. When no pool was set, label() uses the segments of
 *   the pairs it is given as the pool. A pool read from stored pairs holds a segment once per pair
 *   it is in (pairs are drawn with replacement from the segments); counted that often, it weighed
 *   the std towards the segments compared most and the viewer's HERON preview, which counts each
 *   segment once, disagreed with the labels the same config gave.
 * - "Better" follows the sign of the term's ground-truth weight in the env spec: higher is
 *   better for positive weights, lower for negative ones (costs such as control effort).
 *   A term with weight 0 has no direction: the config must give one in `directions`
 *   ("higher" or "lower"), else loading fails. `directions` may also override a weight's sign.
 * - Each level uses its own margin (HERON's reference code reuses the level-2 margin at
 *   levels 3 and 4; not copied).
 * - Comparison is on segment sums (HERON's robot code compares single transitions; a segment
 *   of length 1 is that case).
 * - Where the reference leaves a choice (REFERENCES.md: "if all are within margin there is no
 *   preference"; the paper's robot code), this teacher chooses:
 *   - a pair within every margin is labelled equal (probFirst 0.5, `{"decidedBy": null}`), the
 *     way the other teachers label "about equal", and trains the reward model towards equal
 *     returns; HERON's robot code instead leaves such a pair out of the reward loss (no label);
 *   - the std is the population std (divide by n); the robot code takes torch's default, the
 *     sample std (n - 1), over each PPO minibatch of 64 transitions. The two differ by the factor
 *     sqrt(n / (n - 1)): 0.5% for a pool of 100 segments;
 *   - nothing here is random: the same pairs, pool and config give the same labels (no seed).
 *
 * Config (JSON, strict): { "ranking": ["goal_distance", "at_goal"], "margins": [1.0, 0.5],
 * "directions": { "at_goal": "higher" } (optional) }.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { InputError, parseJson, shownValue } from '../../core/errors.js';
import type { EnvSpec } from '../../envs/types.js';
import type { LabelStore } from '../store.js';
import type { Label, Pair, Segment, Teacher, TeacherContext } from '../types.js';
import { TeacherSpecError } from './spec_error.js';
import { labelHead } from './synthetic.js';

export type HeronDirection = 'higher' | 'lower';

export interface HeronConfig {
  /** Reward-term names, most important first. */
  readonly ranking: readonly string[];
  /** margins[k] >= 0 multiplies std of ranking[k]'s segment sums. */
  readonly margins: readonly number[];
  /** Which way is better, per term; required for weight-0 terms. */
  readonly directions?: Readonly<Record<string, HeronDirection>>;
}

/** One level of the hierarchy, resolved against an env spec. */
export interface HeronLevel {
  readonly term: string;
  /** Index of the term in spec.rewardTerms (and in Segment.terms rows). */
  readonly index: number;
  readonly margin: number;
  /** +1: higher is better; -1: lower is better. */
  readonly sign: 1 | -1;
}

/** The outcome of one comparison, for labels and for "decided by term X" in the viewer. */
export interface HeronDecision {
  /** 1 first, 0 second, 0.5 when every level is within its margin. */
  readonly probFirst: number;
  /** The level that decided (index into the ranking), or -1 for a tie. */
  readonly level: number;
  /** The deciding term's name, or null for a tie. */
  readonly term: string | null;
  /** S_k(a) - S_k(b) at the deciding level (NaN for a tie). */
  readonly diff: number;
  /** margin_k x std_k at the deciding level (NaN for a tie). */
  readonly threshold: number;
}

const KEYS = ['ranking', 'margins', 'directions'];

/** Validate a parsed JSON config against an env spec; errors name `source` and the field. */
export function parseHeronConfig(obj: unknown, spec: EnvSpec, source: string): HeronConfig {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    throw new InputError(source, `expected a JSON object with "ranking" and "margins", got ${Array.isArray(obj) ? 'an array' : JSON.stringify(obj)}`);
  }
  const o = obj as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!KEYS.includes(k)) {
      // A near miss ("margin", "Ranking", "directions " ...) gets the key it was meant to be.
      const near = KEYS.find((key) => [key, key.slice(0, -1)].includes(k.trim().toLowerCase()));
      throw new InputError(source, `unknown key "${k}"${near ? ` (did you mean "${near}"?)` : ''} (allowed: ${KEYS.join(', ')})`, k);
    }
  }
  const names = spec.rewardTerms.map((t) => t.name);
  const known = `${spec.id} has: ${names.join(', ')}`;
  const { ranking, margins, directions } = o;
  if (ranking === undefined) throw new InputError(source, 'missing required key "ranking"', 'ranking');
  if (!Array.isArray(ranking) || ranking.length === 0) {
    const got = Array.isArray(ranking) ? '' : `, got ${JSON.stringify(ranking)}${typeof ranking === 'string' ? ` (write [${JSON.stringify(ranking)}] for one term)` : ''}`;
    throw new InputError(source, `expected a non-empty array of reward-term names, most important first (${known})${got}`, 'ranking');
  }
  ranking.forEach((name, i) => {
    if (typeof name !== 'string') throw new InputError(source, `expected a term name, got ${JSON.stringify(name)}`, `ranking[${i}]`);
    if (!names.includes(name)) throw new InputError(source, `unknown reward term "${name}" (${known})`, `ranking[${i}]`);
    if (ranking.indexOf(name) !== i) throw new InputError(source, `term "${name}" ranked twice`, `ranking[${i}]`);
  });
  if (margins === undefined) throw new InputError(source, 'missing required key "margins"', 'margins');
  if (!Array.isArray(margins)) throw new InputError(source, `expected an array of numbers, got ${JSON.stringify(margins)}`, 'margins');
  if (margins.length !== ranking.length) {
    throw new InputError(source, `${margins.length} margin${margins.length === 1 ? '' : 's'} for ${ranking.length} ranked term${ranking.length === 1 ? '' : 's'} (one margin per level)`, 'margins');
  }
  margins.forEach((m, i) => {
    // String(): JSON.stringify writes a number too large for a double (1e400, read as Infinity) as null.
    if (typeof m !== 'number' || !Number.isFinite(m)) throw new InputError(source, `expected a finite number, got ${shownValue(m)}`, `margins[${i}]`);
    if (m < 0) throw new InputError(source, `margins must be >= 0, got ${m}`, `margins[${i}]`);
  });
  const dirs: Record<string, HeronDirection> = {};
  if (directions !== undefined) {
    if (typeof directions !== 'object' || directions === null || Array.isArray(directions)) {
      throw new InputError(source, `expected an object mapping term names to "higher" or "lower", got ${JSON.stringify(directions)}`, 'directions');
    }
    for (const [name, d] of Object.entries(directions as Record<string, unknown>)) {
      if (!ranking.includes(name)) throw new InputError(source, `term "${name}" is not in the ranking`, `directions.${name}`);
      if (d !== 'higher' && d !== 'lower') throw new InputError(source, `expected "higher" or "lower", got ${JSON.stringify(d)}`, `directions.${name}`);
      dirs[name] = d;
    }
  }
  ranking.forEach((name: string, i) => {
    const w = spec.rewardTerms[names.indexOf(name)].weight;
    if (w === 0 && dirs[name] === undefined) {
      throw new InputError(
        source,
        `term "${name}" has weight 0 in ${spec.id}, so which way is better is unknown; add "directions": {"${name}": "higher" | "lower"}`,
        `ranking[${i}]`,
      );
    }
  });
  return { ranking: ranking as string[], margins: margins as number[], ...(directions !== undefined ? { directions: dirs } : {}) };
}

/** Read and validate a HERON config file. */
export function loadHeronConfig(path: string, spec: EnvSpec): HeronConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new InputError(path, `cannot read HERON config: ${(e as Error).message}`);
  }
  const obj = parseJson(text, path);
  return parseHeronConfig(obj, spec, path);
}

/** Resolve a validated config against the spec: term indices, margins and directions. */
export function heronLevels(config: HeronConfig, spec: EnvSpec): HeronLevel[] {
  return config.ranking.map((term, k) => {
    const index = spec.rewardTerms.findIndex((t) => t.name === term);
    if (index < 0) throw new RangeError(`heronLevels: unknown term "${term}" for ${spec.id}`);
    const dir = config.directions?.[term];
    const w = spec.rewardTerms[index].weight;
    if (dir === undefined && w === 0) throw new RangeError(`heronLevels: term "${term}" has weight 0 and no direction`);
    const sign: 1 | -1 = dir !== undefined ? (dir === 'higher' ? 1 : -1) : w > 0 ? 1 : -1;
    return { term, index, margin: config.margins[k], sign };
  });
}

/** Segment sums of every reward term: [nTerms]. */
export function termSums(seg: Pick<Segment, 'length' | 'nTerms' | 'terms'>): Float64Array {
  const out = new Float64Array(seg.nTerms);
  for (let t = 0; t < seg.length; t++) for (let k = 0; k < seg.nTerms; k++) out[k] += seg.terms[t * seg.nTerms + k];
  return out;
}

/** Population std of each term's segment sums over a pool, each segment (by id) once: [nTerms]. */
export function termSumStds(pool: readonly Segment[]): Float64Array {
  if (pool.length === 0) throw new RangeError('termSumStds: empty pool');
  const sums: Float64Array[] = [];
  addDistinctSums(pool, new Set(), sums);
  return sumStds(sums);
}

/** Append to `sums` the term sums of each segment of `segs` whose id is not in `seen` yet (and add it there). */
function addDistinctSums(segs: readonly Segment[], seen: Set<string>, sums: Float64Array[]): void {
  for (const s of segs) {
    if (seen.has(s.id)) continue;
    seen.add(s.id);
    sums.push(termSums(s));
  }
}

/** Population std of each term over the pool's segment sums (termSums of each segment, in pool order): [nTerms]. */
export function sumStds(sums: readonly Float64Array[]): Float64Array {
  if (sums.length === 0) throw new RangeError('sumStds: empty pool');
  const n = sums[0].length;
  const mean = new Float64Array(n);
  const out = new Float64Array(n);
  for (const s of sums) for (let k = 0; k < n; k++) mean[k] += s[k] / sums.length;
  for (const s of sums) for (let k = 0; k < n; k++) out[k] += (s[k] - mean[k]) ** 2 / sums.length;
  return out.map(Math.sqrt);
}

/**
 * The hierarchical decision (pure). sumsA/sumsB: term segment sums [nTerms]; stds: [nTerms].
 * Level k decides when |S(a) - S(b)| > margin_k x std_k; the better side is the one with the
 * larger sign_k x S.
 */
export function heronDecide(
  sumsA: ArrayLike<number>,
  sumsB: ArrayLike<number>,
  stds: ArrayLike<number>,
  levels: readonly HeronLevel[],
): HeronDecision {
  for (let k = 0; k < levels.length; k++) {
    const { index, margin, sign, term } = levels[k];
    const diff = sumsA[index] - sumsB[index];
    const threshold = margin * stds[index];
    if (Math.abs(diff) > threshold) return { probFirst: sign * diff > 0 ? 1 : 0, level: k, term, diff, threshold };
  }
  return { probFirst: 0.5, level: -1, term: null, diff: Number.NaN, threshold: Number.NaN };
}

export interface HeronTeacherOptions {
  readonly spec: EnvSpec;
  readonly config: HeronConfig;
  /** Teacher id recorded on labels (default "heron"). */
  readonly id?: string;
}

export class HeronTeacher implements Teacher {
  readonly id: string;
  readonly levels: readonly HeronLevel[];
  private readonly spec: EnvSpec;
  private stds: Float64Array | undefined;

  constructor(opts: HeronTeacherOptions) {
    this.id = opts.id ?? 'heron';
    this.spec = opts.spec;
    this.levels = heronLevels(opts.config, opts.spec);
  }

  /** Set the pool whose per-term std scales the margins (call again as the pool changes). */
  setPool(pool: readonly Segment[]): void {
    this.checkSegments(pool);
    this.stds = termSumStds(pool);
  }

  /**
   * setPool for a pool given a chunk of segments at a time (e.g. read from a label store), keeping
   * only each segment's term sums: the same checks, and the same stds as setPool of the chunks
   * one after the other (each segment, by id, once however many chunks hold it). A pool of fewer
   * than two segments leaves the stds as they were (observe).
   */
  setPoolChunks(chunks: Iterable<readonly Segment[]>): void {
    const sums: Float64Array[] = [];
    const seen = new Set<string>();
    for (const chunk of chunks) {
      this.checkSegments(chunk);
      addDistinctSums(chunk, seen, sums);
    }
    if (sums.length > 1) this.stds = sumStds(sums);
  }

  /**
   * Teacher hook: margins follow the current segment pool (read a chunk at a time when the context
   * offers that); a pool of fewer than two distinct segments leaves them as they were, whole or in
   * chunks (a whole pool of one segment twice used to set every std to 0).
   */
  observe(ctx: TeacherContext): void {
    this.setPoolChunks(ctx.poolChunks ? ctx.poolChunks() : [ctx.pool]);
  }

  /** The current per-term stds (undefined before setPool). */
  poolStds(): Float64Array | undefined {
    return this.stds?.slice();
  }

  /** Decide one pair against the current pool (or `stds` when given). */
  decide(pair: Pair, stds = this.stds): HeronDecision {
    if (!stds) throw new Error(`${this.id}: no pool; call setPool() first`);
    return heronDecide(termSums(pair.a), termSums(pair.b), stds, this.levels);
  }

  async label(pairs: readonly Pair[]): Promise<Label[]> {
    if (pairs.length === 0) return [];
    const segs = pairs.flatMap((p) => [p.a, p.b]);
    this.checkSegments(segs);
    const stds = this.stds ?? termSumStds(segs);
    return pairs.map((pair) => {
      const d = this.decide(pair, stds);
      return {
        kind: 'preference',
        ...labelHead(this.id, pair.id),
        probFirst: d.probFirst,
        raw: JSON.stringify(d.term === null ? { decidedBy: null } : { decidedBy: d.term, level: d.level, diff: d.diff, threshold: d.threshold }),
      };
    });
  }

  private checkSegments(segs: readonly Segment[]): void {
    const n = this.spec.rewardTerms.length;
    for (const s of segs) {
      if (s.nTerms !== n) throw new RangeError(`${this.id}: segment ${s.id} has ${s.nTerms} reward terms, ${this.spec.id} has ${n}`);
      // A NaN term would fall through every level (NaN > x is false) and turn into a silent tie.
      for (let i = 0; i < s.terms.length; i++) {
        if (!Number.isFinite(s.terms[i])) {
          throw new RangeError(`${this.id}: segment ${s.id} has reward term ${this.spec.rewardTerms[i % n].name} = ${s.terms[i]} at step ${Math.floor(i / n)}; HERON compares finite terms only`);
        }
      }
    }
  }
}

/** How a HERON teacher's labels were decided: labels per deciding term, ties, and labels whose raw is not a HERON record. */
export interface HeronDecidedBy {
  /** Preferences decided by each term (keys in the order first met). */
  readonly terms: Readonly<Record<string, number>>;
  /** Preferences no level decided (probFirst 0.5, `{"decidedBy": null}`). */
  readonly ties: number;
  /** Labels without a HERON record in raw (skips, another teacher's labels, hand-edited imports). */
  readonly other: number;
}

/**
 * Count which term decided each of `labels` from the record HERON keeps in a label's raw field
 * (`{"decidedBy", "level", "diff", "threshold"}`), e.g. for a "decided by" line in a summary.
 * The caller picks the labels (one teacher's); this reads raw only.
 */
export function heronDecidedBy(labels: Iterable<Label>): HeronDecidedBy {
  const terms: Record<string, number> = {};
  let ties = 0;
  let other = 0;
  for (const l of labels) {
    let rec: unknown;
    try {
      rec = l.kind === 'preference' && l.raw !== undefined ? JSON.parse(l.raw) : undefined;
    } catch {
      rec = undefined;
    }
    const by = typeof rec === 'object' && rec !== null && !Array.isArray(rec) && 'decidedBy' in rec ? (rec as { decidedBy: unknown }).decidedBy : undefined;
    if (by === null) ties++;
    else if (typeof by === 'string') terms[by] = (terms[by] ?? 0) + 1;
    else other++;
  }
  return { terms, ties, other };
}

/**
 * The counts of heronDecidedBy as text, terms most often first (ties of count by name), then the
 * ties and the labels without a record (when any): "forward_velocity 3, control_effort 1, ties 1".
 * `prefrl labels stats` and the end summaries of `prefrl offline` and `prefrl train` print it after
 * "<teacher> decided by: ".
 */
export function decidedByText(d: HeronDecidedBy): string {
  const terms = Object.entries(d.terms).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  return [...terms.map(([k, v]) => `${k} ${v}`), `ties ${d.ties}`, ...(d.other > 0 ? [`no record ${d.other}`] : [])].join(', ');
}

/**
 * The file of a `heron:<file>` teacher spec is there and not a folder: a TeacherSpecError quoting
 * the spec otherwise (a mistake in the spec, as with offline's --heron-config), checked before
 * the file is read.
 */
export function checkHeronFile(file: string, spec: string): void {
  if (!existsSync(file)) throw new TeacherSpecError(`HERON config ${JSON.stringify(file)} not found (in "${spec}")`);
  if (statSync(file).isDirectory()) throw new TeacherSpecError(`HERON config ${JSON.stringify(file)} is a folder, not a JSON file (in "${spec}")`);
}

/**
 * What a label store keeps about a HERON teacher beside its spec: the levels its config file gave
 * when it first labelled. A run resumed after the file changed would label the rest of its
 * budget by another ranking under the same teacher id, so that is refused, naming the file.
 * Other teachers keep nothing extra ({}).
 */
export function heronStoreRecord(store: Pick<LabelStore, 'teachers' | 'path'>, teacher: Teacher, file: string | null): { heronLevels?: readonly HeronLevel[] } {
  if (!(teacher instanceof HeronTeacher)) return {};
  const before = store.teachers().find((t) => t.id === teacher.id)?.config.heronLevels;
  if (before !== undefined && JSON.stringify(before) !== JSON.stringify(teacher.levels)) {
    throw new InputError(
      file ?? teacher.id,
      `HERON config changed since the run started: its labels so far follow the levels stored with them in ${store.path} (${JSON.stringify(before)}), this file gives ${JSON.stringify(teacher.levels)}; restore it to go on`,
    );
  }
  return { heronLevels: teacher.levels };
}
