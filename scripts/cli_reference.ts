/**
 * The command-line reference, docs/cli.md, made from the flag definitions `--help` prints:
 * every command of the CLI table (in its order) with its purpose, usage, arguments, every flag
 * (type, default, range, doc) and what its --help shows after the flags (examples, notes).
 *
 * Each command is asked for its --help in-process; the spec that help is made from comes back
 * through `Io.onHelp` (scripts/command.ts), so the reference reads the same definitions, not the
 * help text. The output depends on nothing but those definitions: no dates, no paths, no machine
 * (a default that would depend on the machine is a flag with a `defaultDoc`, printed as such).
 *
 *   npm run docs:cli            write docs/cli.md
 *   npm run docs:cli -- --check exit 1 when docs/cli.md is out of date (test/cli_reference.test.ts checks the same)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../core/clock.js';
import { type CommandSpec, type FlagDef, type FlagSpec, flagName, helpText } from '../core/config.js';
import { Logger } from '../core/log.js';
import { COMMANDS } from './cli.js';
import type { Command, Io } from './command.js';

/** Where the reference is written, from the repository root. */
export const CLI_REFERENCE_PATH = 'docs/cli.md';

/** What one command's --help is made from, and the help it printed. */
export interface CommandHelp {
  readonly command: Command;
  readonly spec: CommandSpec<FlagSpec>;
  readonly help: string;
}

/**
 * Run `prefrl <command> --help` in-process and keep the spec its help is made from. Throws when a
 * command prints no help, prints to stderr, exits non-zero, or prints help that is not the one its
 * spec makes (then the spec seen is not the one --help uses).
 */
export async function commandHelp(command: Command): Promise<CommandHelp> {
  const out: string[] = [];
  const err: string[] = [];
  const specs: CommandSpec<FlagSpec>[] = [];
  const io: Io = {
    stdout: { write: (t) => void out.push(t) },
    stderr: { write: (t) => void err.push(t) },
    tty: false,
    onHelp: (spec) => void specs.push(spec),
  };
  const code = await command.run(['--help'], { io, logger: new Logger(io.stderr), clock: systemClock });
  const where = `prefrl ${command.name} --help`;
  if (code !== 0) throw new Error(`${where}: exit code ${code}, expected 0`);
  if (err.length > 0) throw new Error(`${where}: wrote to stderr: ${err.join('').trim()}`);
  if (specs.length !== 1) throw new Error(`${where}: expected the help of one command spec (scripts/command.ts parseOrHelp), saw ${specs.length}`);
  const help = out.join('');
  if (help !== `${helpText(specs[0])}\n`) throw new Error(`${where}: printed help that is not made from the spec it handed to onHelp`);
  return { command, spec: specs[0], help };
}

/** Every command of the CLI table, in its order. */
export async function allCommandHelp(commands: readonly Command[] = COMMANDS): Promise<CommandHelp[]> {
  const out: CommandHelp[] = [];
  for (const c of commands) out.push(await commandHelp(c));
  return out;
}

/** The GitHub anchor of a `## <text>` heading made of lowercase words, digits and hyphens. */
export function anchor(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^a-z0-9 -]/g, '')
    .replace(/ /g, '-');
}

/** The placeholder after a flag, as --help writes it. */
function placeholder(def: FlagDef): string {
  switch (def.kind) {
    case 'int':
    case 'float':
      return ' N';
    case 'string':
      return ' S';
    case 'choice':
      return ` ${def.choices.join('|')}`;
    case 'list':
      return ' A,B';
    case 'bool':
      return '';
  }
}

/** "integer", "number from 0 to 1", "one of `a`, `b`", ... */
function typeText(def: FlagDef): string {
  switch (def.kind) {
    case 'int':
    case 'float': {
      const what = def.kind === 'int' ? 'integer' : 'number';
      if (def.min !== undefined && def.max !== undefined) return `${what} from ${def.min} to ${def.max}`;
      if (def.min !== undefined) return `${what}, at least ${def.min}`;
      if (def.max !== undefined) return `${what}, at most ${def.max}`;
      return what;
    }
    case 'string':
      return 'text';
    case 'choice':
      return `one of ${def.choices.map((c) => `\`${c}\``).join(', ')}`;
    case 'list':
      return 'comma-separated list';
    case 'bool':
      return 'switch';
  }
}

/** The default as the reference states it: its defaultDoc when it has one (a derived or machine-dependent default), else the value. */
function defaultText(def: FlagDef): string {
  if (def.defaultDoc !== undefined) return `default: ${markdownText(def.defaultDoc)}`;
  if (def.default === undefined) return def.optional ? 'optional, no default' : '**required**';
  if (def.kind === 'bool') return `default: ${def.default ? 'on' : 'off'}`;
  if (Array.isArray(def.default)) return def.default.length === 0 ? 'default: empty' : `default: \`${def.default.join(',')}\``;
  return `default: \`${String(def.default)}\``;
}

/**
 * Doc text as Markdown that reads as --help prints it: `<dir>` is not taken for an HTML tag,
 * `*` and a word-edge `_` not for emphasis. Code spans the doc writes (`npm start`, balanced
 * backticks) stay code; an odd backtick is escaped.
 */
export function markdownText(text: string): string {
  const plain = (t: string) => t.replace(/[\\*<]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])/g, (c) => `\\${c}`);
  const parts = text.split('`');
  if (parts.length % 2 === 0) return plain(text).replace(/`/g, '\\`');
  return parts.map((p, i) => (i % 2 === 1 ? `\`${p}\`` : plain(p))).join('');
}

/** One flag's entry: `- \`--flag N\` (type; default): doc`. Throws for a flag without a doc. */
function flagEntry(command: string, key: string, def: FlagDef): string {
  const doc = def.doc.trim();
  if (doc === '') throw new Error(`${command}: ${flagName(key)} has no doc; give it one in its flag definition`);
  if (def.defaultDoc !== undefined && def.defaultDoc.trim() === '') throw new Error(`${command}: ${flagName(key)} has an empty defaultDoc`);
  return `- \`${flagName(key)}${placeholder(def)}\` (${typeText(def)}; ${defaultText(def)}): ${markdownText(doc)}`;
}

/** The usage line, as --help writes it. */
function usageLine(spec: CommandSpec<FlagSpec>): string {
  const pos = (spec.positionals ?? []).map((p) => `${p.required === false ? `[${p.name}]` : `<${p.name}>`}${p.variadic ? '...' : ''}`).join(' ');
  return `${spec.command}${pos ? ` ${pos}` : ''} [flags]`;
}

function commandSection(h: CommandHelp): string[] {
  const { spec } = h;
  const lines = [`## ${spec.command}`, '', markdownText(spec.summary), '', '```', usageLine(spec), '```', ''];
  if (spec.positionals && spec.positionals.length > 0) {
    lines.push('Arguments:', '');
    for (const p of spec.positionals) {
      const need = p.required === false ? 'optional' : 'required';
      lines.push(`- \`${p.name}\` (${need}${p.variadic ? ', one or more' : ''}): ${markdownText(p.doc)}`);
    }
    lines.push('');
  }
  const entries = Object.entries(spec.flags);
  lines.push(entries.length > 0 ? 'Flags:' : 'Flags: none besides `--help`.', '');
  if (entries.length > 0) {
    for (const [key, def] of entries) lines.push(flagEntry(spec.command, key, def));
    lines.push('');
  }
  if (spec.epilog) lines.push('From its `--help`:', '', '```text', spec.epilog.trimEnd(), '```', '');
  return lines;
}

/** The whole of docs/cli.md. */
export function renderCliReference(helps: readonly CommandHelp[]): string {
  const names = helps.map((h) => h.spec.command);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice) throw new Error(`${twice}: listed twice`);
  for (const h of helps) {
    if (h.spec.command !== `prefrl ${h.command.name}`) throw new Error(`prefrl ${h.command.name}: its --help names itself ${JSON.stringify(h.spec.command)}`);
  }
  const lines = [
    '# prefrl command-line reference',
    '',
    'Every `prefrl` command with its flags, as `prefrl <command> --help` prints them. This file is',
    'generated from the flag definitions by `npm run docs:cli` (scripts/cli_reference.ts); do not edit',
    'it by hand: test/cli_reference.test.ts fails when it is out of date.',
    '',
    'Flags are written `--kebab-case` and take their value as the next word or after `=`',
    '(`--labels 500`, `--labels=500`); a switch is turned on by its name and off by `--no-<name>`. Every',
    'command also takes `--help` (or `-h`), and `prefrl help <command>` is `prefrl <command> --help`.',
    'Unknown flags, missing values and values of the wrong type or out of range exit with code 2 and',
    'a one-line message naming the flag. `prefrl --version` prints the versions of prefrl, MuJoCo and Node.',
    '',
    '## Contents',
    '',
    ...helps.map((h) => `- [${h.spec.command}](#${anchor(h.spec.command)}): ${markdownText(h.command.summary)}`),
    '',
  ];
  for (const h of helps) lines.push(...commandSection(h));
  return `${lines.join('\n').trimEnd()}\n`;
}

/** docs/cli.md as the current definitions make it. */
export async function cliReference(): Promise<string> {
  return renderCliReference(await allCommandHelp());
}

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');

async function cliMain(args: readonly string[]): Promise<number> {
  const path = join(REPO, CLI_REFERENCE_PATH);
  const text = await cliReference();
  if (args.includes('--check')) {
    let saved = '';
    try {
      saved = readFileSync(path, 'utf8');
    } catch {
      // Not there: out of date.
    }
    if (saved === text) return 0;
    process.stderr.write(`${CLI_REFERENCE_PATH} is out of date: run npm run docs:cli\n`);
    return 1;
  }
  writeFileSync(path, text);
  process.stdout.write(`wrote ${CLI_REFERENCE_PATH} (${text.split('\n').length - 1} lines)\n`);
  return 0;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await cliMain(process.argv.slice(2));
}
