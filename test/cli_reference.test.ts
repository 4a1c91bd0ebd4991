/**
 * docs/cli.md, the command-line reference (scripts/cli_reference.ts):
 * - the committed file is what `npm run docs:cli` makes now, here on an OS that reports 977 CPUs
 *   (so no default in it depends on the machine that generated it);
 * - every command of the CLI table has its section, and every flag its --help lists has an entry
 *   with a doc (read from the committed file and the help text, not from the generator);
 * - the rendering of each kind of flag, Markdown escaping, and the generator's refusals.
 */
import * as os from 'node:os';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { flags } from '../core/config.js';
import { COMMANDS, main } from '../scripts/cli.js';
import { anchor, CLI_REFERENCE_PATH, cliReference, commandHelp, markdownText, renderCliReference } from '../scripts/cli_reference.js';
import { type Command, parseOrHelp } from '../scripts/command.js';
import { captureCli } from './helpers/cli.js';

vi.mock('node:os', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:os')>();
  const many = () => Array.from({ length: 977 }, () => real.cpus()[0]);
  return { ...real, default: { ...real, availableParallelism: () => 977, cpus: many }, availableParallelism: () => 977, cpus: many };
});

const REPO = join(import.meta.dirname, '..');
const SAVED = readFileSync(join(REPO, CLI_REFERENCE_PATH), 'utf8');

/** The committed reference's section of a command: from its `## ` heading to the next. */
function section(doc: string, command: string): string | undefined {
  const parts = doc.split(/^(?=## )/m);
  return parts.find((p) => p.startsWith(`## ${command}\n`));
}

/** The flags a command's --help lists, with the text right of each (its doc and default). */
async function helpFlags(name: string): Promise<Map<string, string>> {
  const c = captureCli();
  const code = await main([...name.split(' '), '--help'], c.ctx);
  expect(code).toBe(0);
  const lines = c.out.join('').split('\n');
  const start = lines.indexOf('Flags:');
  expect(start, `prefrl ${name} --help has a Flags: section`).toBeGreaterThan(0);
  const out = new Map<string, string>();
  for (let i = start + 1; i < lines.length && lines[i].startsWith('  '); i++) {
    const m = /^ {2}(--[a-z0-9-]+)(?: \S+)?(?: +(.*))?$/.exec(lines[i]);
    if (!m) continue; // the doc of a long flag, on the next line: read below
    const right = m[2] ?? lines[i + 1]?.trim() ?? '';
    if (m[1] !== '--help') out.set(m[1], right);
  }
  return out;
}

describe('docs/cli.md', () => {
  it('is what npm run docs:cli makes from the current flag definitions (on a machine reporting 977 CPUs)', async () => {
    expect(os.availableParallelism()).toBe(977); // the mock is in force: a CPU-count default would differ from the committed file
    const fresh = await cliReference();
    if (fresh !== SAVED) {
      const a = SAVED.split('\n');
      const b = fresh.split('\n');
      const line = b.findIndex((l, i) => l !== a[i]);
      expect.fail(`${CLI_REFERENCE_PATH} is out of date: run npm run docs:cli (first difference at line ${line + 1}: committed ${JSON.stringify(a[line])}, now ${JSON.stringify(b[line])})`);
    }
  });

  it('has a section and a contents entry for every command of the CLI table, in its order', () => {
    const headings = [...SAVED.matchAll(/^## (prefrl .+)$/gm)].map((m) => m[1]);
    expect(headings).toEqual(COMMANDS.map((c) => `prefrl ${c.name}`));
    const contents = section(SAVED, 'Contents') ?? '';
    for (const c of COMMANDS) expect(contents, c.name).toContain(`- [prefrl ${c.name}](#${anchor(`prefrl ${c.name}`)}): `);
    expect(anchor('prefrl bench envs')).toBe('prefrl-bench-envs');
    expect(anchor('prefrl check-env')).toBe('prefrl-check-env');
  });

  it('lists every flag of each command --help, each with a doc, and no other', async () => {
    const problems: string[] = [];
    let checked = 0;
    for (const c of COMMANDS) {
      const name = `prefrl ${c.name}`;
      const text = section(SAVED, name);
      if (text === undefined) {
        problems.push(`${name}: no section`);
        continue;
      }
      const entries = new Map([...text.matchAll(/^- `(--[a-z0-9-]+)[^`]*` \([^\n]*?\): (.*)$/gm)].map((m) => [m[1], m[2].trim()]));
      const help = await helpFlags(c.name);
      for (const [flag, right] of help) {
        checked++;
        // The help's right column is the doc, then "(default: ...)" or "(required)": a flag with no doc starts with those.
        if (right === '' || /^\((default: .*|required)\)$/.test(right)) problems.push(`${name}: ${flag} has no doc in its --help`);
        const doc = entries.get(flag);
        if (doc === undefined) problems.push(`${name}: ${flag} is in its --help but not in ${CLI_REFERENCE_PATH}`);
        else if (doc === '') problems.push(`${name}: ${flag} has no doc in ${CLI_REFERENCE_PATH}`);
      }
      for (const flag of entries.keys()) if (!help.has(flag)) problems.push(`${name}: ${flag} is in ${CLI_REFERENCE_PATH} but not in its --help`);
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(300);
  });

  it('states the machine-dependent defaults by their text, not by a number of CPUs, and names no path of this checkout', () => {
    expect(SAVED).not.toContain(REPO);
    expect(SAVED).not.toContain(process.cwd());
    const workers = /^- `--reward-select-workers N` \(integer, at least 0; default: one per CPU core, at most \d+ /m;
    expect(section(SAVED, 'prefrl train')).toMatch(workers);
    expect(section(SAVED, 'prefrl bench reward')).toContain("- `--torch-threads A,B` (comma-separated list; default: number of CPUs, not bench agents' 1,\\<number of CPUs>: ");
  });
});

/** A command whose --help is made from `spec`, as the CLI's commands do. */
function fakeCommand(name: string, spec: Parameters<typeof parseOrHelp>[1]): Command {
  return { name, summary: `${name} in short`, run: async (argv, ctx) => (parseOrHelp(argv, spec, ctx.io) ? 1 : 0) };
}

describe('renderCliReference', () => {
  it('writes each kind of flag with its type, range and default, and the help text after the flags', async () => {
    const spec = {
      command: 'prefrl fake',
      summary: 'Does <things> *twice*.',
      positionals: [{ name: 'run', doc: 'run folders', variadic: true }],
      flags: {
        count: flags.int({ doc: 'how many', default: 5, min: 1, max: 9 }),
        rate: flags.float({ doc: 'a rate', default: 3e-4, min: 0 }),
        shift: flags.float({ doc: 'a shift', default: -1, max: 2 }),
        out: flags.string({ doc: 'file to write', optional: true }),
        store: flags.string({ doc: 'label store', optional: true, defaultDoc: 'labels.sqlite next to <run>' }),
        must: flags.string({ doc: 'needed' }),
        side: flags.choice(['a', 'b'] as const, { doc: 'which side', default: 'a' }),
        widths: flags.list({ doc: 'layer widths', default: ['32', '16'] }),
        ignore: flags.list({ doc: 'what to leave out', default: [] }),
        shadows: flags.bool({ doc: 'draw shadows', default: true }),
        json: flags.bool({ doc: 'print JSON', default: false }),
      },
      epilog: 'Examples:\n  prefrl fake --count 2 runs/x',
    };
    const h = await commandHelp(fakeCommand('fake', spec));
    const text = renderCliReference([h]);
    const body = section(text, 'prefrl fake') ?? '';
    expect(body.split('\n')).toEqual([
      '## prefrl fake',
      '',
      'Does \\<things> \\*twice\\*.',
      '',
      '```',
      'prefrl fake <run>... [flags]',
      '```',
      '',
      'Arguments:',
      '',
      '- `run` (required, one or more): run folders',
      '',
      'Flags:',
      '',
      '- `--count N` (integer from 1 to 9; default: `5`): how many',
      '- `--rate N` (number, at least 0; default: `0.0003`): a rate',
      '- `--shift N` (number, at most 2; default: `-1`): a shift',
      '- `--out S` (text; optional, no default): file to write',
      '- `--store S` (text; default: labels.sqlite next to \\<run>): label store',
      '- `--must S` (text; **required**): needed',
      '- `--side a|b` (one of `a`, `b`; default: `a`): which side',
      '- `--widths A,B` (comma-separated list; default: `32,16`): layer widths',
      '- `--ignore A,B` (comma-separated list; default: empty): what to leave out',
      '- `--shadows` (switch; default: on): draw shadows',
      '- `--json` (switch; default: off): print JSON',
      '',
      'From its `--help`:',
      '',
      '```text',
      'Examples:',
      '  prefrl fake --count 2 runs/x',
      '```',
      '',
    ]);
    expect(text).toContain('- [prefrl fake](#prefrl-fake): fake in short\n');
    expect(text.endsWith('```\n')).toBe(true);
  });

  it('includes the --model flag that commands with --env and --task take', async () => {
    const h = await commandHelp(fakeCommand('robot', { command: 'prefrl robot', summary: 's', flags: { env: flags.string({ doc: 'env id', default: 'reacher' }), task: flags.string({ doc: 'task module', optional: true }) } }));
    expect(Object.keys(h.spec.flags)).toEqual(['env', 'task', 'model']);
    expect(renderCliReference([h])).toMatch(/^- `--model S` \(text; optional, no default\): path to an MJCF \.xml file/m);
  });

  it('refuses a flag without a doc, naming the command and flag', async () => {
    const h = await commandHelp(fakeCommand('fake', { command: 'prefrl fake', summary: 's', flags: { seed: flags.int({ doc: '  ', default: 0 }) } }));
    expect(() => renderCliReference([h])).toThrow('prefrl fake: --seed has no doc; give it one in its flag definition');
    const e = await commandHelp(fakeCommand('fake', { command: 'prefrl fake', summary: 's', flags: { seed: flags.int({ doc: 'seed', optional: true, defaultDoc: '' }) } }));
    expect(() => renderCliReference([e])).toThrow('prefrl fake: --seed has an empty defaultDoc');
  });

  it('refuses a command whose help names another command, or one listed twice', async () => {
    const h = await commandHelp(fakeCommand('fake', { command: 'prefrl other', summary: 's', flags: {} }));
    expect(() => renderCliReference([h])).toThrow('prefrl fake: its --help names itself "prefrl other"');
    const ok = await commandHelp(fakeCommand('fake', { command: 'prefrl fake', summary: 's', flags: {} }));
    expect(() => renderCliReference([ok, ok])).toThrow('prefrl fake: listed twice');
    expect(renderCliReference([ok])).toContain('Flags: none besides `--help`.');
  });

  it('refuses a command whose --help does not come from a spec, or fails', async () => {
    const bare: Command = { name: 'bare', summary: 's', run: async (_argv, ctx) => (ctx.io.stdout.write('Usage: prefrl bare\n'), 0) };
    await expect(commandHelp(bare)).rejects.toThrow('prefrl bare --help: expected the help of one command spec (scripts/command.ts parseOrHelp), saw 0');
    const failing: Command = { name: 'bad', summary: 's', run: async (_argv, ctx) => (ctx.io.stderr.write('oops\n'), 2) };
    await expect(commandHelp(failing)).rejects.toThrow('prefrl bad --help: exit code 2, expected 0');
  });
});

describe('markdownText', () => {
  it('escapes what Markdown would read as tags or emphasis, keeps code spans and word-inner underscores', () => {
    expect(markdownText('model:<dir> (runs/<id>)')).toBe('model:\\<dir> (runs/\\<id>)');
    expect(markdownText('V* and --human-* flags')).toBe('V\\* and --human-\\* flags');
    expect(markdownText('on_target=0, _x_')).toBe('on_target=0, \\_x\\_');
    expect(markdownText('as `prefrl labels export` writes <it>')).toBe('as `prefrl labels export` writes \\<it>');
    expect(markdownText('an odd ` tick <a>')).toBe('an odd \\` tick \\<a>');
    expect(markdownText('a\\b')).toBe('a\\\\b');
  });
});
