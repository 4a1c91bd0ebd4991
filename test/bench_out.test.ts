import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../scripts/cli.js';
import { captureCli } from './helpers/cli.js';

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
