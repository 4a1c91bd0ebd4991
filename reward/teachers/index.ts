/**
 * `--teacher` specs for the CLI:
 *   oracle | stochastic | mistake | skip | equal | myopic   B-Pref presets (teachers/synthetic.ts)
 *   <preset>:beta=1,epsMistake=0.1                        a preset with overrides
 *   synthetic:gamma=0.95,epsEqual=0.05                    the oracle with overrides
 *   regret[:gamma=0.99,beta=10,tieTolerance=0]            needs a value function (opts.values)
 *   heron:path/to/heron.json                              hierarchical teacher (needs opts.env)
 *   human                                                 people in the viewer (needs opts.human)
 *   synthetic-vlm[:errorRate=0.2,unsureRate=0.1,tieTolerance=0]  judges the final state's task
 *                                                         success only (teachers/synthetic_vlm.ts)
 *   vlm[:baseUrl=...,model=...,frames=final|k,...]        a VLM over OpenAI-compatible HTTP
 *                                                         (teachers/vlm.ts; settings also via opts.vlm;
 *                                                         its id names the model and settings)
 * Numbers accept `inf` / `Infinity` (beta). The teacher's id is the spec as given, so labels
 * record the exact configuration.
 */
import { refuseUnknownKeys } from '../../core/errors.js';
import { decimalNumber } from '../../core/config.js';
import type { Rng } from '../../core/rng.js';
import type { EnvSpec } from '../../envs/types.js';
import type { Teacher } from '../types.js';
import { checkHeronFile, HeronTeacher, loadHeronConfig } from './heron.js';
import { HumanTeacher, type HumanTeacherOptions } from './human.js';
import { RegretTeacher, type ValueFunction } from './regret.js';
import { isSyntheticPreset, SYNTHETIC_PRESET_NAMES, SYNTHETIC_PRESETS, type SyntheticConfig, SyntheticTeacher } from './synthetic.js';
import { TeacherSpecError } from './spec_error.js';
import { SyntheticVlmTeacher } from './synthetic_vlm.js';
import { type VlmMakeOptions, vlmTeacherFromSpec } from './vlm.js';

export interface MakeTeacherOptions {
  /** The env the segments come from (HERON resolves term names and weights against it). */
  readonly env: EnvSpec;
  /** Seeded source of teacher randomness. */
  readonly rng: Rng;
  /** V* for the regret teacher. */
  readonly values?: ValueFunction;
  /** Label store, env and server settings for the human teacher. */
  readonly human?: Omit<HumanTeacherOptions, 'id'>;
  /** Server, model, key variable name, cache and view settings for the VLM teacher. */
  readonly vlm?: VlmMakeOptions;
}

const SYNTHETIC_KEYS = ['beta', 'gamma', 'epsMistake', 'epsSkip', 'epsEqual'] as const;
const REGRET_KEYS = ['gamma', 'beta', 'tieTolerance'] as const;
const SYNTHETIC_VLM_KEYS = ['errorRate', 'unsureRate', 'tieTolerance'] as const;

export { asFlag, TeacherSpecError } from './spec_error.js';

function usage(msg: string): never {
  throw new TeacherSpecError(msg);
}

/** "k=v,k=v" -> numbers, keys restricted to `allowed`. */
function parseParams<K extends string>(text: string, allowed: readonly K[], spec: string): Partial<Record<K, number>> {
  const out: Partial<Record<K, number>> = {};
  if (text.trim() === '') usage(`empty parameter list in "${spec}"`);
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) usage(`expected key=value, got "${part}" in "${spec}"`);
    const key = part.slice(0, eq).trim();
    const raw = part.slice(eq + 1).trim();
    if (!(allowed as readonly string[]).includes(key)) usage(`unknown parameter "${key}" in "${spec}" (allowed: ${allowed.join(', ')})`);
    if (key in out) usage(`parameter "${key}" given twice in "${spec}"`);
    const value = /^\+?(inf|infinity)$/i.test(raw) ? Infinity : decimalNumber(raw);
    if (Number.isNaN(value)) usage(`parameter "${key}" must be a number, got "${raw}" in "${spec}"`);
    out[key as K] = value;
  }
  return out;
}

/** What a script passed that is not a spec string or MakeTeacherOptions: a TypeError naming the argument. */
/** Every option makeTeacher reads (the type makes it list each key of MakeTeacherOptions, and no other). */
const MAKE_TEACHER_OPTIONS: Readonly<Record<keyof MakeTeacherOptions, true>> = { env: true, rng: true, values: true, human: true, vlm: true };

function checkMakeTeacherArgs(spec: unknown, opts: unknown): void {
  const what = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'string' ? JSON.stringify(v) : typeof v);
  if (typeof spec !== 'string') throw new TypeError(`makeTeacher: spec must be a string such as "oracle" or "stochastic:beta=1", got ${what(spec)}`);
  if (typeof opts !== 'object' || opts === null) throw new TypeError(`makeTeacher: options must be an object { env, rng, ... }, got ${what(opts)}`);
  const o = opts as Record<string, unknown>;
  // A misspelt option was dropped without a word ({ value } for values: "regret needs a value function").
  refuseUnknownKeys('makeTeacher', o, MAKE_TEACHER_OPTIONS, 'option', (u) => (u.includes('seed') ? "; the teacher's noise is seeded by options.rng (new Rng(seed).fork('teacher'))" : ''));
  const env = o.env as Record<string, unknown> | null | undefined;
  if (typeof env !== 'object' || env === null || typeof env.id !== 'string' || !Array.isArray(env.rewardTerms)) {
    throw new TypeError(`makeTeacher: options.env must be the env's spec (env.spec, an EnvSpec), got ${env === undefined ? 'nothing' : what(env)}`);
  }
  if (typeof (o.rng as { fork?: unknown } | null | undefined)?.fork !== 'function') {
    throw new TypeError(`makeTeacher: options.rng must be an Rng (new Rng(seed)), got ${o.rng === undefined ? 'nothing' : what(o.rng)}`);
  }
}

/**
 * Build a teacher from a spec (the grammar above). A bad spec throws a TeacherSpecError
 * ("teacher spec: ..."); commands report it as their flag with `asFlag('--teacher', ...)`.
 * A spec that is not a string, or options without an env spec and an Rng, throw a TypeError
 * naming the argument (a script's mistake, not a user's).
 */
export function makeTeacher(spec: string, opts: MakeTeacherOptions): Teacher {
  checkMakeTeacherArgs(spec, opts);
  const s = spec.trim();
  const colon = s.indexOf(':');
  const name = colon < 0 ? s : s.slice(0, colon);
  const rest = colon < 0 ? undefined : s.slice(colon + 1);
  const rng = opts.rng.fork(`teacher:${s}`);
  if (isSyntheticPreset(name) || name === 'synthetic') {
    const base: SyntheticConfig = SYNTHETIC_PRESETS[isSyntheticPreset(name) ? name : 'oracle'];
    const over = rest === undefined ? {} : parseParams(rest, SYNTHETIC_KEYS, s);
    try {
      return new SyntheticTeacher({ ...base, ...over, rng, id: s });
    } catch (e) {
      usage(`${(e as Error).message} in "${s}"`);
    }
  }
  if (name === 'regret') {
    if (!opts.values) usage('"regret" needs a value function (V*): the values option');
    const p = rest === undefined ? {} : parseParams(rest, REGRET_KEYS, s);
    try {
      return new RegretTeacher({ values: opts.values, ...p, rng, id: s });
    } catch (e) {
      usage(`${(e as Error).message} in "${s}"`);
    }
  }
  if (name === 'heron') {
    if (!rest) usage('"heron" needs a config file: heron:path/to/heron.json');
    checkHeronFile(rest, s);
    return new HeronTeacher({ spec: opts.env, config: loadHeronConfig(rest, opts.env), id: s });
  }
  if (name === 'synthetic-vlm') {
    const p = rest === undefined ? {} : parseParams(rest, SYNTHETIC_VLM_KEYS, s);
    try {
      return new SyntheticVlmTeacher({ ...p, rng, id: s });
    } catch (e) {
      usage(`${(e as Error).message} in "${s}"`);
    }
  }
  if (name === 'vlm') return vlmTeacherFromSpec(s, rest, { env: opts.env, rng, vlm: opts.vlm });
  if (name === 'human') {
    if (rest !== undefined) usage('"human" takes no parameters here; its settings are the --human-* flags');
    if (!opts.human) usage('"human" needs a label store and a viewer server: the human option');
    return new HumanTeacher({ ...opts.human, id: s });
  }
  return usage(`unknown teacher "${s}" (expected ${SYNTHETIC_PRESET_NAMES.join(', ')}, synthetic:..., regret, heron:<file>, human, synthetic-vlm, vlm)`);
}
