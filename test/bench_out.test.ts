import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CARRIED_NOTES_HEADING, handNotes } from '../scripts/bench/hand_notes.js';
import { type CodeVersion, codeVersion, codeVersionText } from '../scripts/bench/code_version.js';
import { main } from '../scripts/cli.js';
import { captureCli, lastJson } from './helpers/cli.js';

let dir: string;
let file: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'prefrl-bench-out-'));
  file = join(dir, 'notes.txt');
  writeFileSync(file, 'keep me\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function refused(args: readonly string[], message: RegExp): Promise<void> {
  const { ctx, err } = captureCli();
  const code = await main(args, ctx);
  expect(code).toBe(2);
  const text = err.join('').trim();
  expect(text.split('\n')).toHaveLength(1);
  expect(text).toMatch(message);
  expect(readFileSync(file, 'utf8')).toBe('keep me\n');
}

describe('bench commands refuse an output folder that is a file, before any work', () => {
  it('bench regret --out <file> and --out <file>/sub: exit 2 naming --out', async () => {
    await refused(['bench', 'regret', '--seeds', '1', '--mdps', '0', '--steps', '5', '--budgets', '10', '--out', file], /bench regret: --out .*notes\.txt: is a file, not a folder$/);
    await refused(['bench', 'regret', '--seeds', '1', '--mdps', '0', '--steps', '5', '--budgets', '10', '--out', join(file, 'sub')], /--out .*notes\.txt\/sub: .*notes\.txt is a file, not a folder$/);
  });

  it('bench reward and bench agents --out <file>: exit 2 naming --out', async () => {
    await refused(['bench', 'reward', '--no-torch', '--repeats', '1', '--out', file], /bench reward: --out .*notes\.txt: is a file, not a folder$/);
    await refused(['bench', 'agents', '--no-torch', '--out', file], /bench agents: --out .*notes\.txt: is a file, not a folder$/);
  });

  it('bench oracle: --out <file> with --dry-run, --summary-only or a run, and --runs-dir <file>: exit 2 naming the flag; nothing created', async () => {
    for (const mode of [['--dry-run'], ['--summary-only'], []]) {
      await refused(['bench', 'oracle', '--suite', 'smoke', '--envs', 'gridworld', '--out', file, ...mode], /bench oracle: --out .*notes\.txt\/smoke: .*notes\.txt is a file, not a folder$/);
    }
    const out = join(dir, 'results');
    await refused(['bench', 'oracle', '--suite', 'smoke', '--envs', 'gridworld', '--out', out, '--runs-dir', file], /bench oracle: --runs-dir .*notes\.txt\/smoke: .*notes\.txt is a file, not a folder$/);
    expect(existsSync(out)).toBe(false);
  });
});

describe('bench reward and bench agents: an interpreter named with --python must import torch', () => {
  it('a --python that does not exist is a usage error naming the flag, before any measuring; --no-torch does not look at it', async () => {
    const missing = join(dir, 'no-such-python');
    await refused(['bench', 'reward', '--python', missing, '--repeats', '1'], /^prefrl bench reward: --python .*no-such-python: cannot run the PyTorch reference: .*no-such-python: spawnSync .*ENOENT$/);
    await refused(['bench', 'agents', '--python', missing], /^prefrl bench agents: --python .*no-such-python: cannot run the PyTorch reference: .*ENOENT$/);
    // With --no-torch the interpreter is not run: the next problem reported is the --out file.
    await refused(['bench', 'agents', '--python', missing, '--no-torch', '--out', file], /bench agents: --out .*notes\.txt: is a file, not a folder$/);
    // A python without torch (a shell script that fails like one) is refused the same way.
    const noTorch = join(dir, 'python-without-torch');
    writeFileSync(noTorch, '#!/bin/sh\necho "ModuleNotFoundError: No module named \'torch\'" >&2\nexit 1\n', { mode: 0o755 });
    await refused(['bench', 'reward', '--python', noTorch, '--repeats', '1'], /--python .*python-without-torch: cannot run the PyTorch reference: .*python-without-torch: ModuleNotFoundError: No module named 'torch'$/);
  });
});

describe('bench reward: result files and the PyTorch reference', () => {
  it('writes reward.json (the --json object) and reward.md with the machine; a reference that prints no JSON is reported as skipped, naming its script', async () => {
    // An interpreter that imports torch (the check) but whose script prints no JSON.
    const fake = join(dir, 'python-no-json');
    writeFileSync(fake, '#!/bin/sh\nif [ "$1" = "-c" ]; then exit 0; fi\necho "half a line"\n', { mode: 0o755 });
    const out = join(dir, 'reward-out');
    const { ctx, out: stdout } = captureCli();
    const args = ['bench', 'reward', '--python', fake, '--members', '1', '--hidden', '4', '--obs-dim', '3', '--act-dim', '1', '--pairs', '2', '--length', '3', '--warmup', '0', '--repeats', '1', '--relabel', '0', '--out', out, '--json'];
    expect(await main(args, ctx)).toBe(0);
    const json = lastJson<{ machine: Record<string, unknown>; torch: unknown[]; torchSkipped: string; torchErrors: string[]; setup: { layers: number[] }; software: CodeVersion }>(stdout);
    expect(JSON.parse(readFileSync(join(out, 'reward.json'), 'utf8'))).toEqual(json);
    // One entry per --torch-threads value that ran, as bench agents' torch: none here.
    expect(json.torch).toEqual([]);
    expect(json.torchErrors).toEqual([]);
    expect(json.torchSkipped).toMatch(/benchmarks\/torch\/reward_step\.py printed no JSON \(last line: "half a line"\)$/);
    expect(json.setup.layers).toEqual([4, 4, 1]);
    expect(Object.keys(json.machine)).toEqual(['nproc', 'cpu', 'node', 'backend', 'loadavg1Before', 'loadavg1After']);
    expect(json.machine.node).toBe(process.version);
    const md = readFileSync(join(out, 'reward.md'), 'utf8');
    expect(md).toContain(`- PyTorch: skipped (${json.torchSkipped})`);
    // The code that was timed: the same versions a bench oracle cell records.
    expect(json.software).toEqual(codeVersion([out]));
    expect(md).toContain(`- code: ${codeVersionText(json.software)}\n`);
    expect(md).toContain(`- 1-minute load average before / after: ${json.machine.loadavg1Before} / ${json.machine.loadavg1After}`);
  });

  it('--torch-threads 1,2: one PyTorch run per value, each with its own thread count, column and ratio in reward.md', async () => {
    // An interpreter that imports torch and answers with a 200 ms step and 5,000 transitions/s, echoing --threads.
    const fake = join(dir, 'python-reward-200ms');
    writeFileSync(
      fake,
      '#!/bin/sh\nif [ "$1" = "-c" ]; then exit 0; fi\nt=0\nfor a in "$@"; do case "$a" in --threads=*) t="${a#--threads=}";; esac; done\n' +
        'echo "{\\"torch\\": \\"9.9\\", \\"python\\": \\"fake\\", \\"threads\\": $t, \\"blas\\": null, \\"blas_libs\\": [], \\"step_ms\\": 200, \\"step_ms_all\\": [200], \\"relabel_per_s\\": 5000, \\"relabel_transitions\\": 100}"\n',
      { mode: 0o755 },
    );
    const out = join(dir, 'reward-threads');
    const { ctx, out: stdout } = captureCli();
    const args = ['bench', 'reward', '--python', fake, '--torch-threads', '1,2,1', '--members', '1', '--hidden', '4', '--obs-dim', '3', '--act-dim', '1', '--pairs', '2', '--length', '3', '--warmup', '0', '--repeats', '1', '--relabel', '100', '--out', out, '--json'];
    expect(await main(args, ctx)).toBe(0);
    const json = lastJson<{ prefrl: { stepMs: number; relabelPerS: number }; torch: { threads: number; stepMs: number; ratio: number }[]; torchSkipped: string | null }>(stdout);
    // 1,2,1: the repeated 1 runs once.
    expect(json.torch.map((t) => t.threads)).toEqual([1, 2]);
    expect(json.torchSkipped).toBeNull();
    // The ratio is prefrl's median step over the reference's 200 ms, to 3 decimals.
    for (const t of json.torch) expect(t.ratio).toBe(Math.round((json.prefrl.stepMs / 200) * 1000) / 1000);
    const rows = readFileSync(join(out, 'reward.md'), 'utf8').split('\n').filter((l) => l.startsWith('|'));
    expect(rows[0]).toBe('| | prefrl (tfjs, 1 thread) | PyTorch 9.9, 1 thread | PyTorch 9.9, 2 threads | prefrl / PyTorch (time, 1 thr) | prefrl / PyTorch (time, 2 thr) |');
    // Every row has the header's 6 cells.
    expect(rows.map((l) => l.split('|').length - 2)).toEqual([6, 6, 6, 6, 6]);
    const ratio = json.torch[0]!.ratio.toFixed(3);
    expect(rows[2]).toBe(`| train step, ms (median) | ${json.prefrl.stepMs.toFixed(1)} | 200.0 | 200.0 | ${ratio} | ${ratio} |`);
    // Relabelling: PyTorch's 5,000/s over prefrl's rate is prefrl's time over PyTorch's.
    expect(rows[4]).toContain(`| ${(5000 / json.prefrl.relabelPerS).toFixed(3)} | ${(5000 / json.prefrl.relabelPerS).toFixed(3)} |`);
  });
});

describe('bench agents: result files', () => {
  it('writes agents.json (the --json object) and agents.md with the machine', async () => {
    const out = join(dir, 'agents-out');
    const { ctx, out: stdout } = captureCli();
    const args = ['bench', 'agents', '--no-torch', '--obs-dim', '3', '--act-dim', '1', '--ppo-warmup', '0', '--ppo-repeats', '1', '--iql-warmup', '0', '--iql-repeats', '1', '--out', out, '--json'];
    expect(await main(args, ctx)).toBe(0);
    const json = lastJson<{ machine: Record<string, unknown>; torch: unknown[]; torchSkipped: string; prefrl: { ppoUpdateMsAll: number[] }; software: CodeVersion }>(stdout);
    expect(json.software).toEqual(codeVersion([out]));
    expect(JSON.parse(readFileSync(join(out, 'agents.json'), 'utf8'))).toEqual(json);
    expect(json.torch).toEqual([]);
    expect(json.torchSkipped).toBe('disabled by --no-torch');
    expect(json.prefrl.ppoUpdateMsAll).toHaveLength(1);
    expect(Object.keys(json.machine)).toEqual(['nproc', 'cpu', 'node', 'backend', 'loadavg1Before', 'loadavg1After']);
    const md = readFileSync(join(out, 'agents.md'), 'utf8');
    expect(md).toContain(`- nproc: ${json.machine.nproc} (${json.machine.cpu}); node ${process.version}; tfjs backend: ${json.machine.backend}`);
    expect(md).toContain('- PyTorch: skipped (disabled by --no-torch)');
    expect(md).toContain(`- code: ${codeVersionText(json.software)}\n`);
  });

  it('agents.md is a well-formed table: every row has the header\'s cells; no ratio rows without PyTorch, one column and ratio per --torch-threads value with it', async () => {
    const cells = (line: string): number => line.split('|').length - 2;
    const tableOf = (md: string): string[] => md.split('\n').filter((l) => l.startsWith('|'));
    const small = ['--obs-dim', '3', '--act-dim', '1', '--ppo-warmup', '0', '--ppo-repeats', '1', '--iql-warmup', '0', '--iql-repeats', '1'];
    // Without PyTorch: 2 columns (label, prefrl), and the ratio rows are left out.
    const bare = join(dir, 'agents-bare');
    expect(await main(['bench', 'agents', '--no-torch', ...small, '--out', bare], captureCli().ctx)).toBe(0);
    const bareRows = tableOf(readFileSync(join(bare, 'agents.md'), 'utf8'));
    expect(bareRows[0]).toBe('| | prefrl (1 thread) |');
    expect(bareRows.map(cells)).toEqual([2, 2, 2, 2, 2, 2]);
    expect(bareRows.some((l) => l.includes('prefrl / PyTorch'))).toBe(false);
    // A fake interpreter that imports torch and answers each reference with 200 ms per update.
    const fake = join(dir, 'python-200ms');
    writeFileSync(fake, '#!/bin/sh\nif [ "$1" = "-c" ]; then exit 0; fi\necho \'{"torch": "9.9", "blas": null, "blas_libs": [], "update_ms": 200, "update_ms_all": [200]}\'\n', { mode: 0o755 });
    const withTorch = join(dir, 'agents-torch');
    const { ctx, out: stdout } = captureCli();
    expect(await main(['bench', 'agents', '--python', fake, '--torch-threads', '1,2', ...small, '--out', withTorch, '--json'], ctx)).toBe(0);
    const json = lastJson<{ prefrl: { ppoUpdateMs: number; iqlUpdateMs: number }; torch: { threads: number; ppoRatio: number; iqlRatio: number }[] }>(stdout);
    expect(json.torch.map((t) => t.threads)).toEqual([1, 2]);
    const rows = tableOf(readFileSync(join(withTorch, 'agents.md'), 'utf8'));
    expect(rows[0]).toBe('| | prefrl (1 thread) | PyTorch 9.9, 1 thread | PyTorch 9.9, 2 threads |');
    expect(rows.map(cells)).toEqual([4, 4, 4, 4, 4, 4, 4, 4]);
    // The ratio is prefrl's median over the reference's 200 ms, to 3 decimals.
    const ppoRatio = Math.round((json.prefrl.ppoUpdateMs / 200) * 1000) / 1000;
    expect(json.torch[0]!.ppoRatio).toBeCloseTo(ppoRatio, 2);
    expect(rows.find((l) => l.startsWith('| PPO, prefrl / PyTorch (time) |'))).toBe(`| PPO, prefrl / PyTorch (time) | | ${json.torch[0]!.ppoRatio.toFixed(3)} | ${json.torch[1]!.ppoRatio.toFixed(3)} |`);
  });
});

describe('bench reward and bench agents --out: notes written by hand into the result file are kept', () => {
  const tiny = ['bench', 'reward', '--no-torch', '--members', '1', '--hidden', '4', '--obs-dim', '3', '--act-dim', '1', '--pairs', '2', '--length', '3', '--warmup', '0', '--repeats', '1', '--relabel', '0'];
  it('a rerun into a folder whose reward.md ends with "## Notes (added by hand ...)" carries them over under a heading saying they are about earlier runs, the same after a second rerun', async () => {
    const out = join(dir, 'reward-notes');
    expect(await main([...tiny, '--out', out], captureCli().ctx)).toBe(0);
    const fresh = readFileSync(join(out, 'reward.md'), 'utf8');
    writeFileSync(join(out, 'reward.md'), `${fresh}\n## Notes (added by hand; from the same session)\n\n- **Which PyTorch.** OpenBLAS gave 1.54.\n- Second note.\n`);
    for (let run = 0; run < 2; run++) {
      expect(await main([...tiny, '--out', out], captureCli().ctx)).toBe(0);
      const md = readFileSync(join(out, 'reward.md'), 'utf8');
      // The new run's file, then the notes once, under the carried-over heading.
      expect(md.startsWith('# Reward model benchmark\n')).toBe(true);
      // One member, one step, no warm-up: said in the singular.
      expect(md).toContain('the reward ensemble: 1 MLP 4-4-1 (');
      expect(md).toContain('Median of 1 step after 0 warm-up steps.');
      expect(md.split('# Reward model benchmark')).toHaveLength(2);
      expect(md.split('## Notes (added by hand')).toHaveLength(2);
      expect(md.endsWith(`\n\n${CARRIED_NOTES_HEADING}\n\n- **Which PyTorch.** OpenBLAS gave 1.54.\n- Second note.\n`)).toBe(true);
    }
  });

  it('a file without such a section is replaced whole; agents.md keeps its notes the same way', async () => {
    expect(handNotes('# Reward model benchmark\n\n| a |\n', CARRIED_NOTES_HEADING)).toBeNull();
    // "## Notes" of another kind is not hand-written.
    expect(handNotes('# t\n## Notes\nx\n', CARRIED_NOTES_HEADING)).toBeNull();
    const out = join(dir, 'agents-notes');
    const args = ['bench', 'agents', '--no-torch', '--obs-dim', '3', '--act-dim', '1', '--ppo-warmup', '0', '--ppo-repeats', '1', '--iql-warmup', '0', '--iql-repeats', '1', '--out', out];
    expect(await main(args, captureCli().ctx)).toBe(0);
    writeFileSync(join(out, 'agents.md'), '# old file\n\n## Notes (added by hand; measurements)\n\n- IQL ~40 ms.\n');
    expect(await main(args, captureCli().ctx)).toBe(0);
    const md = readFileSync(join(out, 'agents.md'), 'utf8');
    expect(md.startsWith('# Agents benchmark\n')).toBe(true);
    expect(md).not.toContain('# old file');
    expect(md.endsWith(`\n\n${CARRIED_NOTES_HEADING}\n\n- IQL ~40 ms.\n`)).toBe(true);
  });
});
