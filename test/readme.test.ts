/**
 * README.md agrees with the CLI and the repository (cheap checks, no training):
 * - the quick start is exactly `npm install && npm start` / `npm install && npm test`, and
 *   `npm start` runs `prefrl demo` with the defaults the README describes;
 * - every `prefrl <command>` the README shows (code blocks and inline code) is a real command,
 *   and every --flag written after it in the same snippet is listed in that command's --help;
 *   the same for inline spans like `iql --algo bc` that name a command without `prefrl`;
 * - the command table has a row for every command of `prefrl --help`;
 * - every relative link, and every repository file it names in code (scripts it runs), exists;
 * - each Results row's first command is recorded in the output file the row links;
 * - the environment table matches `prefrl envs --json` (sizes, dt, horizon, reward terms and weights);
 * - the flags it says are refused when they contradict the command line are (exit 2, naming them);
 * - the days "How current each result is" gives for the committed suites are their cell files'
 *   `finishedAt` days, and the result it names as having no cell files has none;
 * - the input selection's default worker count it states is the code's cap.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { MAX_AUTO_SELECTION_WORKERS } from '../reward/select.js';
import { COMMANDS, main } from '../scripts/cli.js';
import { captureCli, expectUsageError, lastJson } from './helpers/cli.js';

const REPO = join(import.meta.dirname, '..');
const README = readFileSync(join(REPO, 'README.md'), 'utf8');

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const c = captureCli();
  const code = await main(args, c.ctx);
  return { code, out: c.out.join(''), err: c.err.join('') };
}

/** The text under a `## ` or `### ` heading, up to the next heading of any level. */
function section(text: string, heading: string): string {
  const start = text.indexOf(`\n${heading}\n`);
  expect(start, `README heading "${heading}"`).toBeGreaterThanOrEqual(0);
  const rest = text.slice(start + heading.length + 2);
  const end = rest.search(/\n#{1,3} /);
  return end < 0 ? rest : rest.slice(0, end);
}

/** Lines of fenced code blocks (with `\` continuations joined) and inline code spans outside them. */
function snippets(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/```[^\n]*\n([\s\S]*?)```/g)) out.push(...m[1].replace(/\\\n\s*/g, ' ').split('\n'));
  const prose = text.replace(/```[\s\S]*?```/g, '');
  // Table cells escape | as \|: undo it so `a\|b` reads as in a shell.
  for (const m of prose.matchAll(/`([^`\n]+)`/g)) out.push(m[1].replace(/\\\|/g, '|'));
  return out;
}

const NAMES = COMMANDS.map((c) => c.name);
/** Longest command name that the words after `prefrl` start with (`labels stats` before `labels`). */
function commandAt(words: string[]): string | null {
  const byLength = [...NAMES].sort((a, b) => b.split(' ').length - a.split(' ').length);
  return byLength.find((n) => n.split(' ').every((w, i) => words[i] === w)) ?? null;
}

/** Flags written after a command in one snippet: up to a shell comment, `&`, `;` or a pipe. */
function flagsAfter(rest: string): string[] {
  const own = rest.split(/\s#\s|\s&\s|;|\s\|\s/)[0];
  return [...own.matchAll(/(?<![\w-])--[a-z][a-z0-9-]*/g)].map((m) => m[0]);
}

describe('README', () => {
  const help = new Map<string, string>();
  beforeAll(async () => {
    for (const name of NAMES) {
      const h = await cli([...name.split(' '), '--help']);
      expect(h.code, `prefrl ${name} --help`).toBe(0);
      help.set(name, h.out);
    }
  });
  const listed = (name: string, flag: string) => new RegExp(`(^|\\s)${flag}(?![a-z0-9-])`, 'm').test(help.get(name) ?? '');

  it('the quick start is the two lines, and npm start is `prefrl demo` with the defaults the README states', async () => {
    const quick = section(README, '## Quick start');
    expect(/```\n([\s\S]*?)```/.exec(quick)?.[1]).toBe('npm install && npm start\nnpm install && npm test\n');
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toBe('node bin/prefrl.js demo');
    expect(pkg.scripts.test).toMatch(/^npm run build && .*vitest run/);
    // "PPO learns `reacher` from a reward model trained on 500 oracle comparisons of 50-step segments"
    expect(quick.replace(/\s+/g, ' ')).toContain('PPO learns `reacher` from a reward model trained on 500 oracle comparisons of 50-step segments');
    const demo = help.get('demo') ?? '';
    expect(demo).toMatch(/--env S .*\(default: reacher\)/);
    expect(demo).toMatch(/--teacher S .*\(default: oracle\)/);
    expect(demo).toMatch(/--labels N .*\(default: 500\)/);
    // demo passes no --segment-length, so train's default is the one in use.
    expect(demo).not.toContain('--segment-length');
    expect(help.get('train')).toMatch(/--segment-length N .*\(default: 50\)/);
  });

  it('every prefrl command it shows exists, with only flags that its --help lists', () => {
    const problems: string[] = [];
    let checked = 0;
    for (const s of snippets(README)) {
      for (const m of s.matchAll(/\bprefrl((?: +[a-z][a-z-]*)+)((?:(?!\bprefrl\b)[^`])*)/g)) {
        const words = m[1].trim().split(/ +/);
        const name = commandAt(words);
        if (name === null) {
          // A command group's own --help (`prefrl labels --help`) is the one thing that is not a command.
          const group = words.length === 1 && NAMES.some((n) => n.startsWith(`${words[0]} `));
          if (!group || !m[2].startsWith(' --help')) problems.push(`unknown command: prefrl ${m[1].trim()} (in \`${s.trim().slice(0, 80)}\`)`);
          continue;
        }
        const rest = words.slice(name.split(' ').length).join(' ') + m[2];
        for (const f of flagsAfter(rest)) {
          checked++;
          if (!listed(name, f)) problems.push(`prefrl ${name}: ${f} is not in its --help (in \`${s.trim().slice(0, 100)}\`)`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(50);
  });

  it('inline spans like `iql --algo bc` name flags of that command', () => {
    const prose = README.replace(/```[\s\S]*?```/g, '');
    const problems: string[] = [];
    let checked = 0;
    for (const m of prose.matchAll(/`([^`\n]+)`/g)) {
      const span = m[1].replace(/\\\|/g, '|');
      if (/\bprefrl\b/.test(span)) continue; // the test above
      const name = commandAt(span.split(/ +/));
      if (name === null || !span.startsWith(`${name} --`)) continue;
      for (const f of flagsAfter(span.slice(name.length))) {
        checked++;
        if (!listed(name, f)) problems.push(`${name}: ${f} is not in its --help (in \`${span}\`)`);
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(5);
  });

  it("the command table has a row for every command of prefrl --help", async () => {
    const table = section(README, '## Command line')
      .split('\n')
      .filter((l) => l.startsWith('| `prefrl '));
    const covered = new Set<string>();
    for (const row of table) {
      const cell = /^\| `prefrl ([a-z-]+)(?: ([a-z-]+(?:\\\|[a-z-]+)*))?/.exec(row);
      expect(cell, row).not.toBeNull();
      const [, first, alts] = cell!;
      if (NAMES.includes(first)) covered.add(first);
      for (const sub of alts?.split('\\|') ?? []) if (NAMES.includes(`${first} ${sub}`)) covered.add(`${first} ${sub}`);
    }
    const top = await cli(['--help']);
    const inHelp = [...top.out.matchAll(/^prefrl ([a-z-]+(?: [a-z-]+)?) {2,}/gm)].map((m) => m[1]);
    expect(inHelp.sort()).toEqual([...NAMES].sort());
    expect(NAMES.filter((n) => !covered.has(n))).toEqual([]);
  });

  it('every relative link points to a file or folder of the repository', () => {
    const targets = [...README.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]).filter((t) => !/^[a-z]+:/.test(t) && !t.startsWith('#'));
    expect(targets.length).toBeGreaterThan(10);
    expect(targets.filter((t) => !existsSync(join(REPO, t.split('#')[0])))).toEqual([]);
    // Scripts and files it names in code (`bash benchmarks/offline.sh`, `npx tsx benchmarks/select_inputs.ts <run>`).
    const named = [...README.matchAll(/(?<![\w/.-])((?:benchmarks|scripts|test|envs|reward|agents|viewer|core)\/[\w./-]+\.(?:ts|mjs|js|sh|md|txt|json))/g)].map((m) => m[1]);
    expect(named.length).toBeGreaterThan(10);
    expect(named.filter((t) => !existsSync(join(REPO, t)))).toEqual([]);
  });

  it("each result row's first command is one its committed output file records", () => {
    const rows = section(README, '## Results')
      .split('\n')
      .filter((l) => l.startsWith('| ') && !l.startsWith('| What ') && !l.startsWith('|---'));
    expect(rows.length).toBeGreaterThan(8);
    for (const row of rows) {
      const cells = row.split(' | ');
      const command = /`([^`]+)`/.exec(cells[3])?.[1];
      const output = /\]\(([^)]+)\)/.exec(cells[4])?.[1];
      expect([command, output], row.slice(0, 80)).not.toContain(undefined);
      const recorded = readFileSync(join(REPO, output!), 'utf8');
      // bench oracle wrote to benchmarks/results by default when the committed suites ran (before
      // 2026-12-07); the README names that --out, which their recorded command lines leave out.
      const asRecorded = /^prefrl bench oracle /.test(command!) ? command!.replace(/ --out benchmarks\/results$/, '') : command!;
      expect(recorded.includes(asRecorded), `${output} records \`${asRecorded}\``).toBe(true);
    }
    // Every bench oracle row writes into the committed folder it links to: its --out and suite name that folder.
    const oracleRows = rows.filter((r) => r.split(' | ')[3].includes('`prefrl bench oracle '));
    expect(oracleRows.length).toBeGreaterThan(5);
    for (const row of oracleRows) {
      const cells = row.split(' | ');
      const command = /`([^`]+)`/.exec(cells[3])![1];
      const output = /\]\(([^)]+)\)/.exec(cells[4])![1];
      const out = / --out (\S+)/.exec(command)?.[1];
      const suite = / --suite (\S+)/.exec(command)![1];
      // The one frozen record (moved out of benchmarks/results/online) reruns into the scratch folder.
      if (output === 'benchmarks/results/online_150k/summary.md') expect(out, row.slice(0, 80)).toBeUndefined();
      else expect(output, row.slice(0, 80)).toBe(`${out}/${suite}/summary.md`);
    }
  });

  it('the environment table matches prefrl envs --json', async () => {
    const j = await cli(['envs', '--json']);
    expect(j.code).toBe(0);
    const envs = lastJson<{ envs: { id: string; obsDim: number; actDim: number; dt: number; horizon: number; rewardTerms: { name: string; weight: number }[] }[] }>([j.out]).envs;
    const rows = section(README, '## Environments')
      .split('\n')
      .filter((l) => /^\| `[a-z-]+` \|/.test(l))
      .map((l) => l.split('|').slice(1, -1).map((c) => c.trim()));
    expect(rows.map((r) => r[0].replace(/`/g, ''))).toEqual(envs.map((e) => e.id));
    for (const [i, e] of envs.entries()) {
      const [, , obs, act, dt, horizon, terms] = rows[i];
      expect([Number(obs), Number(act), Number(dt), Number(horizon)], e.id).toEqual([e.obsDim, e.actDim, e.dt, e.horizon]);
      expect(terms, e.id).toBe(e.rewardTerms.map((t) => `${t.name} (${t.weight})`).join(', '));
    }
  });

  it('the contradicting flags it says are refused are: exit 2, naming the flag, no run folder', async () => {
    const text = section(README, '## Command line').replace(/\s+/g, ' ');
    const runs = join(mkdtempSync(join(tmpdir(), 'prefrl-readme-refused-')), 'runs');
    const cases: [string, string[], RegExp][] = [
      ['`--expert` without `--teacher regret`', ['train', '--expert', join(runs, 'expert'), '--steps', '2048'], /^prefrl train: --expert: only for --teacher regret/],
      ["`offline`'s `--vlm-*` flags without `--teacher vlm`", ['offline', '--dataset', join(runs, 'd.h5'), '--teacher', 'oracle', '--vlm-model', 'm'], /^prefrl offline: --vlm-\*: only for --teacher vlm \(given: --vlm-model;/],
      ['`--reward-weights` without `--reward true`', ['train', '--reward-weights', 'on_target=0', '--steps', '2048'], /^prefrl train: --reward-weights: applies to --reward true only/],
      ['`rollout --stochastic` without a saved PPO policy', ['rollout', '--stochastic', '--episodes', '1'], /^prefrl rollout: --stochastic: only for a saved PPO policy/],
    ];
    for (const [said, args, message] of cases) {
      expect(text).toContain(said);
      await expectUsageError(args, runs, message);
    }
  });

  it("the days it gives for the committed suites are their cell files' finishedAt days", () => {
    const text = section(README, '## Results').replace(/\s+/g, ' ');
    const list = /each cell file's `finishedAt` says it: (.*?); the offline studies/.exec(text)?.[1];
    expect(list, 'the finishedAt sentence').toBeDefined();
    const results = join(REPO, 'benchmarks', 'results');
    /** Every cells/ folder under a result folder (online_reacher6 keeps its suite one level down). */
    const cellDirs = (dir: string, depth = 0): string[] =>
      readdirSync(dir)
        .filter((n) => n !== 'replaced' && statSync(join(dir, n)).isDirectory())
        .flatMap((n) => (n === 'cells' ? [join(dir, n)] : depth < 1 ? cellDirs(join(dir, n), depth + 1) : []));
    let suites = 0;
    for (const group of list!.split('; ')) {
      const g = /^(.*?) (\d{4}-\d{2}-\d{2})(?: to (\d{4}-\d{2}-\d{2}))?( \(no cell files: its README dates it\))?$/.exec(group);
      expect(g, group).not.toBeNull();
      const [, names, from, to = from, noCells] = g!;
      const days = new Set<string>();
      for (const [, name] of names.matchAll(/`([a-z0-9_]+)`/g)) {
        const dirs = cellDirs(join(results, name));
        if (noCells) {
          expect(dirs, name).toEqual([]);
          expect(readFileSync(join(results, name, 'README.md'), 'utf8'), name).toContain(from);
          continue;
        }
        expect(dirs.length, `${name} has cell files`).toBeGreaterThan(0);
        const own = new Set<string>();
        for (const d of dirs)
          for (const f of readdirSync(d).filter((n) => n.endsWith('.jsonl')))
            for (const line of readFileSync(join(d, f), 'utf8').split('\n').filter((l) => l.trim() !== '')) {
              const at = (JSON.parse(line) as { finishedAt?: string }).finishedAt;
              if (at !== undefined) own.add(at.slice(0, 10));
            }
        expect(own.size, `${name}: cells with finishedAt`).toBeGreaterThan(0);
        for (const day of own) expect(day >= from && day <= to, `${name} finished ${day}, README says ${from} to ${to}`).toBe(true);
        for (const day of own) days.add(day);
        suites++;
      }
      if (!noCells) expect([...days].sort()[0], group).toBe(from);
      if (!noCells) expect([...days].sort().at(-1), group).toBe(to);
    }
    expect(suites).toBeGreaterThanOrEqual(8);
  });

  it('the input selection workers it states by default are the code\'s', () => {
    const text = section(README, '## Command line').replace(/\s+/g, ' ');
    expect(text).toContain(`scored in worker threads, one per CPU core by default, at most ${MAX_AUTO_SELECTION_WORKERS} (\`--reward-select-workers N\`; 0, the default on one core or with a native TensorFlow backend,`);
  });
});
