/**
 * Which code made a bench cell (qa_bench2): every new cell record carries prefrl's version, the
 * git commit of prefrl's checkout ("-dirty" when tracked code differs; absent outside a checkout
 * of its own), the MuJoCo WASM build and Node. Old cells without it still load and read as "not
 * recorded"; summary.md lists the versions among its cells and warns under a table whose cells
 * come from different code. Also: a row short of the suite's seeds says "k of n".
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { packageRoot } from '../core/paths.js';
import { softwareVersions } from '../core/run.js';
import { type CellRecord, parseCellFile, recordProblem } from '../scripts/bench/cells.js';
import { type CodeVersion, codeVersionText, gitCommit, softwareProblem } from '../scripts/bench/code_version.js';
import { codeVersions, mixedVersions, rerunCommand, seedsText, summaryMarkdown } from '../scripts/bench/summary.js';
import { buildSuite } from '../scripts/bench/suites.js';
import { main } from '../scripts/cli.js';
import { captureCli, lastJson } from './helpers/cli.js';

const root = mkdtempSync(join(tmpdir(), 'prefrl-bench-version-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** git in `cwd`, failing the test when it fails; its stdout trimmed. */
function git(cwd: string, ...args: string[]): string {
  const r = spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.org', '-c', 'commit.gpgsign=false', ...args], { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

const V1: CodeVersion = { prefrl: '0.1.0', commit: 'aaaaaaa', mujoco: '3.14.0', node: 'v20.20.2' };
const V2: CodeVersion = { prefrl: '0.1.0', commit: 'bbbbbbb', mujoco: '3.9.0', node: 'v20.20.2' };

function rec(table: string, row: Record<string, string | number>, seed: number, software?: CodeVersion, kind: CellRecord['kind'] = 'train'): CellRecord {
  const r: CellRecord = { suite: 'smoke', cellId: `${table}-${JSON.stringify(row)}-${seed}`, hash: 'h', kind, seed, table, row, metrics: { finalTrueReturn: seed }, benchCommand: 'cmd', wallSeconds: 1, finishedAt: '2026-12-07T00:00:00.000Z' };
  return software ? { ...r, software } : r;
}

describe('gitCommit: the commit of a checkout of its own', () => {
  it('short HEAD; "-dirty" for a changed tracked file, not for untracked files nor for changes under the result folders; nothing outside a checkout or inside another repository', () => {
    const repo = join(root, 'repo');
    mkdirSync(join(repo, 'results'), { recursive: true });
    writeFileSync(join(repo, 'code.ts'), 'export const a = 1;\n');
    writeFileSync(join(repo, 'results', 'cell.jsonl'), '{}\n');
    git(repo, 'init', '-q');
    git(repo, 'add', '.');
    git(repo, 'commit', '-q', '-m', 'one');
    const head = git(repo, 'rev-parse', '--short', 'HEAD');
    expect(head).toMatch(/^[0-9a-f]{7,}$/);
    expect(gitCommit(repo)).toBe(head);
    // A new untracked file is not code that ran (nothing imports it unless a tracked file changes).
    writeFileSync(join(repo, 'scratch.txt'), 'notes\n');
    expect(gitCommit(repo)).toBe(head);
    // A committed result rewritten by the bench: dirty unless its folder is a result folder.
    writeFileSync(join(repo, 'results', 'cell.jsonl'), '{"changed":1}\n');
    expect(gitCommit(repo)).toBe(`${head}-dirty`);
    expect(gitCommit(repo, [join(repo, 'results')])).toBe(head);
    // A changed tracked source file is dirty whatever the result folders.
    writeFileSync(join(repo, 'code.ts'), 'export const a = 2;\n');
    expect(gitCommit(repo, [join(repo, 'results')])).toBe(`${head}-dirty`);
    // prefrl installed into another project's repository (a folder below its top): not prefrl's commit.
    mkdirSync(join(repo, 'node_modules', 'prefrl'), { recursive: true });
    expect(gitCommit(join(repo, 'node_modules', 'prefrl'))).toBeUndefined();
    // Not a checkout at all (an npm install outside any repository), and a repository with no commit yet.
    const plain = join(root, 'plain');
    mkdirSync(plain);
    expect(gitCommit(plain)).toBeUndefined();
    const empty = join(root, 'empty');
    mkdirSync(empty);
    git(empty, 'init', '-q');
    expect(gitCommit(empty)).toBeUndefined();
  });

  it('codeVersionText names each part, and says so when there is no commit', () => {
    expect(codeVersionText(V1)).toBe('prefrl 0.1.0 (commit aaaaaaa), MuJoCo 3.14.0, node v20.20.2');
    expect(codeVersionText({ prefrl: '0.2.0', mujoco: '3.9.0', node: 'v22.1.0' })).toBe('prefrl 0.2.0 (no git commit: not a git checkout, or git could not read it), MuJoCo 3.9.0, node v22.1.0');
    // The machine, where the record kept it (cells finished since 2026-12-07 evening).
    expect(codeVersionText({ ...V1, machine: '2 cores (AMD EPYC 9R14)' })).toBe('prefrl 0.1.0 (commit aaaaaaa), MuJoCo 3.14.0, node v20.20.2, on 2 cores (AMD EPYC 9R14)');
    expect(softwareProblem({ ...V1, machine: 2 })).toBe('"software.machine" must be a string when present, got 2');
    expect(softwareProblem({ ...V1, machine: '2 cores (x)' })).toBeNull();
  });
});

describe('cell records: the software field', () => {
  it('is optional (old cells load); when present it must be an object of strings, named in the problem', () => {
    expect(recordProblem(rec('e', { method: 'm' }, 0), 'e-{"method":"m"}-0')).toBeNull();
    expect(recordProblem(rec('e', { method: 'm' }, 0, V1), 'e-{"method":"m"}-0')).toBeNull();
    const { commit: _c, ...noCommit } = V1;
    expect(recordProblem(rec('e', { method: 'm' }, 0, noCommit), 'e-{"method":"m"}-0')).toBeNull();
    const bad = (software: unknown) => recordProblem({ ...rec('e', { method: 'm' }, 0), software } as unknown as CellRecord, 'e-{"method":"m"}-0');
    expect(bad('3.9.0')).toBe('"software" must be an object (prefrl, commit, mujoco, node), got "3.9.0"');
    expect(bad({ prefrl: '0.1.0', node: 'v20' })).toBe('"software.mujoco" must be a string, got nothing');
    expect(bad({ ...V1, commit: 5093039 })).toBe('"software.commit" must be a string when present, got 5093039');
  });

  it('a cell file whose record has a damaged software field is named with its line', () => {
    const dir = join(root, 'damaged');
    mkdirSync(dir);
    const r = rec('e', { method: 'm' }, 0, V1);
    const file = join(dir, `${r.cellId}.jsonl`);
    writeFileSync(file, `${JSON.stringify({ ...r, software: { ...V1, mujoco: 3.9 } })}\n`);
    expect(parseCellFile(file)).toEqual({ problem: '"software.mujoco" must be a string, got 3.9', line: 1 });
  });
});

describe('summary.md: which code made its cells', () => {
  const smoke = buildSuite('smoke', { stepsScale: 1 });
  const md = (records: CellRecord[]) => summaryMarkdown({ suite: smoke, records, command: 'c', missing: [], plots: [], failed: [] });

  it('codeVersions counts cells (not records) per version, most first, "not recorded" last', () => {
    const tab = (seed: number, labels: number) => ({ ...rec('t', { labels }, seed, V2, 'tabular'), cellId: `t-${seed}` });
    // Cell t-0 has two records (two label budgets): one cell.
    const v = codeVersions([rec('e', { m: 'a' }, 0), tab(0, 30), tab(0, 100), rec('e', { m: 'a' }, 1, V1), rec('e', { m: 'a' }, 2, V1)]);
    expect(v).toEqual([
      { version: codeVersionText(V1), cells: 2 },
      { version: codeVersionText(V2), cells: 1 },
      { version: 'not recorded', cells: 1 },
    ]);
  });

  it('old cells only: "Made by: not recorded", and no mixed-versions warning', () => {
    const text = md([rec('e', { method: 'preference' }, 0), rec('e', { method: 'preference' }, 1)]);
    expect(text).toContain('Made by: not recorded (cells finished before prefrl recorded its version in them): 2 cells.');
    expect(text).not.toContain('Mixed code versions');
  });

  it('one version in a table: listed once, no warning', () => {
    const text = md([rec('e', { method: 'preference' }, 0, V2), rec('e', { method: 'preference' }, 1, V2)]);
    expect(text).toContain(`Made by: ${codeVersionText(V2)}: 2 cells.`);
    expect(text).not.toContain('Mixed code versions');
  });

  it('a table of two commits and two MuJoCo builds is warned under that table only', () => {
    const text = md([rec('e', { method: 'preference' }, 0, V1), rec('e', { method: 'preference' }, 1, V2), rec('f', { method: 'preference' }, 0, V2)]);
    expect(text).toContain(`Made by: ${codeVersionText(V2)}: 2 cells; ${codeVersionText(V1)}: 1 cell.`);
    const warning =
      "**Mixed code versions:** this table's cells were made by 2 prefrl versions or commits (prefrl 0.1.0 (commit aaaaaaa); prefrl 0.1.0 (commit bbbbbbb)), and 2 MuJoCo builds (3.14.0, 3.9.0); a difference between its rows may be the code's, not the method's. Moving the cells of the old code out of `cells/` and running the command again redoes them with this code.";
    expect(text.split(warning)).toHaveLength(2);
    // Under table e, before table f.
    expect(text.indexOf('## e')).toBeLessThan(text.indexOf(warning));
    expect(text.indexOf(warning)).toBeLessThan(text.indexOf('## f'));
  });

  it('MuJoCo alone differs: warned for MuJoCo cells, not for tabular cells (which step no MuJoCo); Node alone is not compared', () => {
    const sameCode = { ...V2, commit: V1.commit };
    expect(mixedVersions([rec('e', {}, 0, V1), rec('e', {}, 1, sameCode)])).toEqual({ code: ['prefrl 0.1.0 (commit aaaaaaa)'], mujoco: ['3.14.0', '3.9.0'], unrecorded: 0 });
    expect(mixedVersions([rec('t', {}, 0, V1, 'tabular'), rec('t', {}, 1, sameCode, 'tabular')])).toBeNull();
    expect(mixedVersions([rec('e', {}, 0, V1), rec('e', {}, 1, { ...V1, node: 'v22.0.0' })])).toBeNull();
  });

  it('cells without a version beside cells with one are warned about and counted', () => {
    const text = md([rec('e', { method: 'preference' }, 0), rec('e', { method: 'preference' }, 1), rec('e', { method: 'preference' }, 2, V2)]);
    expect(text).toContain("**Mixed code versions:** this table's cells were made by 2 cells that recorded no version beside cells that did;");
    expect(text).toContain(`Made by: ${codeVersionText(V2)}: 1 cell; not recorded (cells finished before prefrl recorded its version in them): 2 cells.`);
  });
});

describe('summary.md: seeds finished of the seeds asked for', () => {
  it('seedsText: "k of n" only when short; records per seed kept', () => {
    expect(seedsText({ n: 2, seeds: [0, 1] }, 3)).toBe('2 of 3');
    expect(seedsText({ n: 3, seeds: [0, 1, 2] }, 3)).toBe('3');
    expect(seedsText({ n: 3, seeds: [0, 1, 2] })).toBe('3');
    expect(seedsText({ n: 6, seeds: [0, 1] }, 3)).toBe('6 (2 of 3 seeds)');
    expect(seedsText({ n: 6, seeds: [0, 1] })).toBe('6 (2 seeds)');
  });

  it('a row of the suite definition with 2 of its 3 seeds finished reads "2 of 3" in the seeds column', () => {
    const suite = buildSuite('smoke', { stepsScale: 1, seeds: 3 });
    const cell = suite.cells.find((c) => c.kind === 'train' && c.row.method === 'ppo-true');
    if (!cell) throw new Error('the smoke suite has no ppo-true cell');
    const recs = [0, 1].map((seed) => ({ ...rec(cell.table, cell.row, seed), cellId: `${cell.id}-${seed}`, metrics: { finalTrueReturn: 10 + 4 * seed } }));
    const text = summaryMarkdown({ suite, records: recs, command: 'c', missing: [], plots: [], failed: [] });
    // Returns 10 and 14: mean 12, sample std sqrt(8) = 2.828.
    const line = text.split('\n').find((l) => l.startsWith('| ppo-true'));
    expect(line).toContain('| 2 of 3 | 12.00 ± 2.828 |');
  });
});

describe('bench oracle: new cells record the code', () => {
  it('a run writes software into every record (this checkout\'s commit); --dry-run names this code and a finished cell made by other code', { timeout: 90_000 }, async () => {
    const out = join(root, 'results');
    const args = ['bench', 'oracle', '--suite', 'smoke', '--seeds', '1', '--envs', 'gridworld', '--out', out, '--runs-dir', join(root, 'runs'), '--quiet'];
    const k = captureCli(new ManualClock());
    expect(await main([...args, '--json'], k.ctx)).toBe(0);
    const res = lastJson<{ ran: string[]; software: CodeVersion }>(k.out);
    expect(res.ran).toHaveLength(1);
    const v = softwareVersions();
    expect(res.software).toMatchObject({ prefrl: v.prefrl, mujoco: v.mujoco, node: process.version, machine: `${availableParallelism()} cores (${cpus()[0].model.trim()})` });
    // Tests run in a git checkout of prefrl: the commit is its HEAD, with or without -dirty.
    const head = git(packageRoot(), 'rev-parse', '--short', 'HEAD');
    expect(res.software.commit).toMatch(new RegExp(`^${head}(-dirty)?$`));
    const file = join(out, 'smoke', 'cells', `${res.ran[0]}.jsonl`);
    const recs = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as CellRecord);
    expect(recs.length).toBe(8);
    for (const r of recs) expect(r.software).toEqual(res.software);
    const made = readFileSync(join(out, 'smoke', 'summary.md'), 'utf8');
    expect(made).toContain(`Made by: ${codeVersionText(res.software)}: 1 cell.`);
    expect(codeVersionText(res.software)).toContain(`, on ${res.software.machine}`);
    // The summary names the machine it was made on as such (a --summary-only rebuild elsewhere is not where the cells ran).
    expect(made).toContain(`this summary was made on ${res.software.machine}, node ${process.version} (the machine each cell ran on is in the "Made by" line where the cell recorded it)`);

    const dry = captureCli(new ManualClock());
    expect(await main([...args, '--dry-run'], dry.ctx)).toBe(0);
    expect(dry.out.join('')).toContain(`This code: ${codeVersionText(res.software)}\n`);
    expect(dry.out.join('')).toMatch(new RegExp(`${res.ran[0]} +tabular +done +\\d+`));

    // The same cell as if made by older code: listed as such, kept (not rerun) by a run.
    writeFileSync(file, recs.map((r) => `${JSON.stringify({ ...r, software: V1 })}\n`).join(''));
    const dry2 = captureCli(new ManualClock());
    expect(await main([...args, '--dry-run', '--json'], dry2.ctx)).toBe(0);
    const listed = lastJson<{ selected: { id: string; status: string; madeBy: string | null }[] }>(dry2.out).selected;
    expect(listed).toEqual([expect.objectContaining({ id: res.ran[0], status: 'done', madeBy: codeVersionText(V1) })]);
    const dry3 = captureCli(new ManualClock());
    expect(await main([...args, '--dry-run'], dry3.ctx)).toBe(0);
    expect(dry3.out.join('')).toContain(`done (made by ${codeVersionText(V1)})`);
    expect(dry3.out.join('')).toContain('1 finished cell was made by other code or recorded none');

    // Seed 1 run now beside seed 0 "made by" commit aaaaaaa: one table of two commits, warned on stderr and in summary.md.
    const two = captureCli(new ManualClock());
    expect(await main([...args.map((a) => (a === '1' ? '2' : a)), '--json'], two.ctx)).toBe(0);
    expect(lastJson<{ ran: string[]; skipped: string[] }>(two.out)).toMatchObject({ ran: [res.ran[0].replace(/_s0$/, '_s1')], skipped: [res.ran[0]] });
    const now = `prefrl ${res.software.prefrl} (commit ${res.software.commit})`;
    expect(two.err.join('')).toContain('[prefrl] warn: table tabular: delivery gridworld holds cells made by different code (2 prefrl versions or commits); summary.md names the versions\n');
    const summary = readFileSync(join(out, 'smoke', 'summary.md'), 'utf8');
    // Tabular cells step no MuJoCo: the 3.14.0 of the old cell is not a difference there.
    expect(summary).toContain(`**Mixed code versions:** this table's cells were made by 2 prefrl versions or commits (${[now, 'prefrl 0.1.0 (commit aaaaaaa)'].sort().join('; ')}); a difference`);
  });
});

describe('summary.md: how to run the missing cells', () => {
  it('rerunCommand drops --summary-only, --dry-run and --shard, and keeps every other flag', () => {
    expect(rerunCommand('prefrl bench oracle --suite bpref --summary-only')).toBe('prefrl bench oracle --suite bpref');
    expect(rerunCommand('prefrl bench oracle --suite bpref --shard 1/4 --seeds 3')).toBe('prefrl bench oracle --suite bpref --seeds 3');
    expect(rerunCommand('prefrl bench oracle --suite heron --shard=0/2 --dry-run --out \'my results\'')).toBe("prefrl bench oracle --suite heron --out 'my results'");
    expect(rerunCommand('prefrl bench oracle --suite vlm --summary-only-not-a-flag')).toBe('prefrl bench oracle --suite vlm --summary-only-not-a-flag');
  });

  it('a summary with missing cells says the command that runs them; one without missing cells does not', () => {
    const smoke = buildSuite('smoke', { stepsScale: 1 });
    const recs = [rec('e', { method: 'preference' }, 0, V2)];
    const text = summaryMarkdown({ suite: smoke, records: recs, command: 'prefrl bench oracle --suite smoke --summary-only', missing: ['a', 'b'], plots: [], failed: [] });
    expect(text).toContain('To run the missing cells (finished ones are skipped): `prefrl bench oracle --suite smoke`.');
    expect(summaryMarkdown({ suite: smoke, records: recs, command: 'c', missing: [], plots: [], failed: [] })).not.toContain('To run the missing cells');
  });
});
