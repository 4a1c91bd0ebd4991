/**
 * Strict, typed flag parsing and config validation.
 *
 * A command declares its flags once as a spec (`flags.int(...)`, `flags.choice(...)`, ...);
 * `parseFlags` turns argv into a typed object or throws a UsageError naming the flag.
 * Keys are camelCase in code and kebab-case on the command line
 * (`labelsPerRound` <-> `--labels-per-round`). Unknown flags, missing values, values of the
 * wrong type and values out of range are errors; nothing is silently ignored.
 *
 * `validateConfig` applies the same spec to a JSON object (e.g. a config file) and names the
 * file and key on error. Derived values are computed by the caller, never written back.
 */
import { InputError, shownValue, UsageError } from './errors.js';

interface BaseDef<T> {
  readonly doc: string;
  /** Default value; a flag without one is required unless `optional` is set. */
  readonly default?: T;
  /** When true and no default is given, the parsed value may be undefined. */
  readonly optional?: boolean;
  /** Shown in --help instead of the raw default (e.g. "derived from --env"). */
  readonly defaultDoc?: string;
}

export interface IntDef extends BaseDef<number> {
  readonly kind: 'int';
  readonly min?: number;
  readonly max?: number;
}
export interface FloatDef extends BaseDef<number> {
  readonly kind: 'float';
  readonly min?: number;
  readonly max?: number;
}
export interface StringDef extends BaseDef<string> {
  readonly kind: 'string';
}
export interface BoolDef extends BaseDef<boolean> {
  readonly kind: 'bool';
}
export interface ChoiceDef<C extends string = string> extends BaseDef<C> {
  readonly kind: 'choice';
  readonly choices: readonly C[];
}
export interface ListDef extends BaseDef<readonly string[]> {
  readonly kind: 'list';
}

export type FlagDef = IntDef | FloatDef | StringDef | BoolDef | ChoiceDef | ListDef;
export type FlagSpec = Record<string, FlagDef>;

type ValueOf<D> = D extends IntDef | FloatDef
  ? number
  : D extends StringDef
    ? string
    : D extends BoolDef
      ? boolean
      : D extends ChoiceDef<infer C>
        ? C
        : D extends ListDef
          ? readonly string[]
          : never;

type IsOptional<D> = D extends { default: unknown } ? false : D extends { optional: true } ? true : false;

/** The typed result of parsing a spec. */
export type Parsed<S extends FlagSpec> = {
  -readonly [K in keyof S]: IsOptional<S[K]> extends true ? ValueOf<S[K]> | undefined : ValueOf<S[K]>;
};

/** What a flag's value is, for "needs a value": " (an integer)", " (one of a, b)"; "" for text. */
function valueKind(def: FlagDef): string {
  switch (def.kind) {
    case 'int':
      return ' (an integer)';
    case 'float':
      return ' (a number)';
    case 'choice':
      return ` (one of ${def.choices.join('|')})`;
    case 'list':
      return ' (comma-separated values; see --help)';
    default:
      return '';
  }
}

/** Builders that keep literal types (choices) for inference. */
export const flags = {
  int: <const D extends Omit<IntDef, 'kind'>>(d: D): D & { kind: 'int' } => ({ ...d, kind: 'int' }),
  float: <const D extends Omit<FloatDef, 'kind'>>(d: D): D & { kind: 'float' } => ({ ...d, kind: 'float' }),
  string: <const D extends Omit<StringDef, 'kind'>>(d: D): D & { kind: 'string' } => ({ ...d, kind: 'string' }),
  bool: <const D extends Omit<BoolDef, 'kind'>>(d: D): D & { kind: 'bool' } => ({ ...d, kind: 'bool' }),
  choice: <const C extends string, const D extends Omit<ChoiceDef<C>, 'kind' | 'choices'>>(
    choices: readonly C[],
    d: D,
  ): D & { kind: 'choice'; choices: readonly C[] } => ({ ...d, kind: 'choice', choices }),
  list: <const D extends Omit<ListDef, 'kind'>>(d: D): D & { kind: 'list' } => ({ ...d, kind: 'list' }),
};

export function toKebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** The command-line flag of a flag key: `vlmKeyEnv` -> `--vlm-key-env`. */
export function flagName(key: string): string {
  return `--${toKebab(key)}`;
}

function toCamel(flag: string): string {
  return flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/**
 * A number written in decimal (`3`, `-0.5`, `.5`, `1e-3`), else NaN: what users mean by a number
 * on a command line (Number() also takes `0x10`, `0b11` and an empty string).
 */
export function decimalNumber(text: string): number {
  const t = text.trim();
  return DECIMAL_RE.test(t) ? Number(t) : Number.NaN;
}

const DECIMAL_RE = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

/**
 * Convert one raw value for `def`. `where` names the flag or key for the error message.
 * Returns the converted value or an error string.
 */
function convert(def: FlagDef, raw: unknown, where: string): { value: unknown } | { error: string } {
  switch (def.kind) {
    case 'int':
    case 'float': {
      let n: number;
      if (typeof raw === 'number') n = raw;
      else if (typeof raw === 'string' && DECIMAL_RE.test(raw.trim())) {
        n = Number(raw);
      } else if (typeof raw === 'string' && /^[-+]?\d{1,3}(_\d{3})+$/.test(raw.trim())) {
        n = Number(raw.replace(/_/g, ''));
      } else {
        return { error: `${where}: expected ${def.kind === 'int' ? 'an integer' : 'a number'}, got ${JSON.stringify(raw)}` };
      }
      if (!Number.isFinite(n)) return { error: `${where}: expected a finite number, got ${shownValue(raw)}` };
      if (def.kind === 'int' && !Number.isInteger(n)) return { error: `${where}: expected an integer, got ${JSON.stringify(raw)}` };
      // Beyond 2^53 a double no longer holds every integer: 9007199254740993 would silently become
      // ...992 (another seed than the one typed, recorded as such), so it is refused.
      if (def.kind === 'int' && !Number.isSafeInteger(n)) return { error: `${where}: expected an integer of magnitude at most ${Number.MAX_SAFE_INTEGER}, got ${JSON.stringify(raw)}` };
      if (def.min !== undefined && n < def.min) return { error: `${where}: must be >= ${def.min}, got ${n}` };
      if (def.max !== undefined && n > def.max) return { error: `${where}: must be <= ${def.max}, got ${n}` };
      return { value: n };
    }
    case 'string':
      if (typeof raw !== 'string') return { error: `${where}: expected a string, got ${JSON.stringify(raw)}` };
      return { value: raw };
    case 'bool':
      if (typeof raw === 'boolean') return { value: raw };
      if (raw === 'true' || raw === '1' || raw === 'yes') return { value: true };
      if (raw === 'false' || raw === '0' || raw === 'no') return { value: false };
      return { error: `${where}: expected true or false, got ${JSON.stringify(raw)}` };
    case 'choice':
      if (typeof raw !== 'string' || !def.choices.includes(raw)) {
        return { error: `${where}: expected one of ${def.choices.join('|')}, got ${JSON.stringify(raw)}` };
      }
      return { value: raw };
    case 'list': {
      if (Array.isArray(raw) && raw.every((x) => typeof x === 'string')) return { value: raw };
      if (typeof raw === 'string') return { value: raw.split(',').map((s) => s.trim()).filter((s) => s !== '') };
      return { error: `${where}: expected a comma-separated list, got ${JSON.stringify(raw)}` };
    }
  }
}

export interface PositionalDef {
  readonly name: string;
  readonly doc: string;
  readonly required?: boolean;
  /** The last positional only: it takes every remaining argument (one or more when required). */
  readonly variadic?: boolean;
}

export interface CommandSpec<S extends FlagSpec> {
  /** Full command name as typed, e.g. "prefrl check-env". */
  readonly command: string;
  readonly summary: string;
  readonly flags: S;
  readonly positionals?: readonly PositionalDef[];
  /** Extra help text (examples). */
  readonly epilog?: string;
}

export interface ParseResult<S extends FlagSpec> {
  readonly flags: Parsed<S>;
  readonly positionals: string[];
  /** True when --help or -h was given; the caller prints `helpText(spec)` and exits 0. */
  readonly help: boolean;
  /** The keys of the flags given on the command line, in their order (defaults left out). */
  readonly given: ReadonlySet<string>;
}

/** Parse argv (without the command words) against a command spec. Throws UsageError. */
export function parseFlags<S extends FlagSpec>(argv: readonly string[], spec: CommandSpec<S>): ParseResult<S> {
  const out: Record<string, unknown> = {};
  const positionals: string[] = [];
  const seen = new Set<string>();
  let help = false;
  function fail(msg: string): never {
    throw new UsageError(`${spec.command}: ${msg}`);
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--') || arg === '--') {
      if (arg.startsWith('-') && arg.length > 1 && !/^-[\d.]/.test(arg)) fail(`unknown flag ${arg} (see --help)`);
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    let key = toCamel(name);
    let raw: unknown;
    let typed = name;
    if (name.startsWith('no-') && eq < 0 && !(key in spec.flags)) {
      const k2 = toCamel(name.slice(3));
      if (spec.flags[k2]?.kind === 'bool') {
        key = k2;
        typed = name.slice(3);
        raw = false;
      }
    }
    const def = spec.flags[key];
    // The kebab round trip rejects camelCase spellings on the command line (--labelsPerRound).
    if (!def || toKebab(key) !== typed) fail(`unknown flag --${name} (see --help)`);
    if (seen.has(key)) fail(`flag --${toKebab(key)} given twice`);
    seen.add(key);
    if (raw === undefined) {
      if (eq >= 0) raw = arg.slice(eq + 1);
      else if (def.kind === 'bool') raw = true;
      else {
        const next = argv[i + 1];
        if (next === undefined || (next.startsWith('--') && next.length > 2)) fail(`flag --${name} needs a value${valueKind(def)}`);
        raw = next;
        i++;
      }
    }
    const r = convert(def, raw, `--${toKebab(key)}`);
    if ('error' in r) fail(r.error);
    else out[key] = r.value;
  }
  if (!help) {
    for (const [key, def] of Object.entries(spec.flags)) {
      if (key in out) continue;
      if (def.default !== undefined) out[key] = def.default;
      else if (!def.optional) fail(`missing required flag --${toKebab(key)}`);
    }
    const pos = spec.positionals ?? [];
    const required = pos.filter((p) => p.required !== false).length;
    if (positionals.length < required) fail(`missing argument <${pos[positionals.length].name}>`);
    if (positionals.length > pos.length && !pos[pos.length - 1]?.variadic) fail(`unexpected argument ${JSON.stringify(positionals[pos.length])}`);
  }
  return { flags: out as Parsed<S>, positionals, help, given: seen };
}

/** Help text for a command: usage line, summary, positionals and flags with defaults. */
export function helpText<S extends FlagSpec>(spec: CommandSpec<S>): string {
  const pos = (spec.positionals ?? []).map((p) => `${p.required === false ? `[${p.name}]` : `<${p.name}>`}${p.variadic ? '...' : ''}`).join(' ');
  const lines = [`Usage: ${spec.command}${pos ? ` ${pos}` : ''} [flags]`, '', spec.summary, ''];
  if (spec.positionals && spec.positionals.length > 0) {
    lines.push('Arguments:');
    for (const p of spec.positionals) lines.push(`  ${p.name.padEnd(24)} ${p.doc}`);
    lines.push('');
  }
  lines.push('Flags:');
  const entries = Object.entries(spec.flags);
  for (const [key, def] of entries) {
    let left = `--${toKebab(key)}`;
    if (def.kind === 'int' || def.kind === 'float') left += ' N';
    else if (def.kind === 'string') left += ' S';
    else if (def.kind === 'choice') left += ` ${def.choices.join('|')}`;
    else if (def.kind === 'list') left += ' A,B';
    let right = def.doc;
    if (def.defaultDoc) right += ` (default: ${def.defaultDoc})`;
    else if (def.default !== undefined && !(def.kind === 'bool' && def.default === false)) {
      right += ` (default: ${Array.isArray(def.default) ? def.default.join(',') : String(def.default)})`;
    } else if (def.default === undefined && !def.optional) right += ' (required)';
    lines.push(flagLine(left, right));
  }
  lines.push(`  ${'--help'.padEnd(30)} Show this help`);
  if (spec.epilog) lines.push('', spec.epilog);
  return lines.join('\n');
}

/** One flag line of the help: the flag in a 30-column field, then its doc (on the next line when the flag is longer). */
function flagLine(left: string, right: string): string {
  return left.length > 30 ? `  ${left}\n  ${''.padEnd(30)} ${right}` : `  ${left.padEnd(30)} ${right}`;
}

/**
 * Validate a JSON object against a spec (strict): unknown keys, wrong types and missing
 * required keys throw an InputError naming `source` and the key. Returns the typed object
 * with defaults filled in.
 */
export function validateConfig<S extends FlagSpec>(obj: unknown, spec: S, source: string): Parsed<S> {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    throw new InputError(source, `expected a JSON object, got ${Array.isArray(obj) ? 'an array' : JSON.stringify(obj)}`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(obj as Record<string, unknown>)) {
    const def = spec[key];
    if (!def) {
      throw new InputError(source, `unknown key "${key}" (allowed: ${Object.keys(spec).join(', ')})`, key);
    }
    if (def.kind !== 'string' && def.kind !== 'choice' && typeof raw === 'string' && def.kind !== 'list') {
      throw new InputError(source, `expected ${def.kind === 'bool' ? 'a boolean' : 'a number'}, got a string ${JSON.stringify(raw)}`, key);
    }
    if (def.kind === 'list' && !Array.isArray(raw)) {
      throw new InputError(source, `expected an array of strings, got ${JSON.stringify(raw)}`, key);
    }
    const r = convert(def, raw, key);
    if ('error' in r) throw new InputError(source, r.error.slice(key.length + 2), key);
    out[key] = r.value;
  }
  for (const [key, def] of Object.entries(spec)) {
    if (key in out) continue;
    if (def.default !== undefined) out[key] = def.default;
    else if (!def.optional) throw new InputError(source, `missing required key "${key}"`, key);
  }
  return out as Parsed<S>;
}

/**
 * The values of a comma-separated list flag as positive integers (layer widths, thread counts,
 * label budgets); `1_000` is read as 1000. `flag` names the flag in the error, which quotes the
 * whole list as given. An empty list is an error.
 */
export function positiveInts(list: readonly string[], flag: string): number[] {
  const given = JSON.stringify(list.join(','));
  if (list.length === 0) throw new UsageError(`${flag}: expected positive integers separated by commas, got an empty list`);
  return list.map((v) => {
    const s = v.trim();
    const n = /^\d{1,3}(_\d{3})+$/.test(s) ? Number(s.replace(/_/g, '')) : /^\d+$/.test(s) ? Number(s) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`${flag}: expected positive integers separated by commas, got ${given}`);
    return n;
  });
}
