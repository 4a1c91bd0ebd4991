/**
 * The CLI loads a command's module only when the command runs (scripts/command_index.ts), and the
 * commands that need no tensors (listing runs, drawing and labelling pairs, serving the page,
 * rolling out saved policies, plotting) do not load TensorFlow.js: it took about a second of
 * every command's start-up, `prefrl --help` included. Checked in a fresh process, by whether
 * tfjs-core's global engine exists after each command; a training command, which does load it,
 * shows the probe can tell.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';

const REPO = join(import.meta.dirname, '..');

it('--help, runs, envs and the help of the pair, label, serve, rollout, collect, render and plot commands run without loading TensorFlow.js; train --help loads it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'prefrl-light-'));
  try {
    const light = [
      ['--help'],
      ['runs', '--runs-dir', join(dir, 'runs')],
      ['envs', '--json'],
      ['labels', 'stats', '--help'],
      ['labels', 'export', '--help'],
      ['pairs', '--help'],
      ['label', '--help'],
      ['serve', '--help'],
      ['rollout', '--help'],
      ['collect', '--help'],
      ['tour', '--help'],
      ['render', '--help'],
      ['plot', '--help'],
      ['check-env', '--help'],
      ['fit-stats', '--help'],
      ['bench', 'envs', '--help'],
      ['bench', 'regret', '--help'],
    ];
    const args = [...light, ['train', '--help']].map((a) => JSON.stringify(a));
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'test', 'fixtures', 'tensor_load_probe.ts'), ...args], { cwd: REPO, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { argv: string[]; code: number; tf: boolean });
    expect(rows.map((x) => x.argv)).toEqual([...light, ['train', '--help']]);
    for (const x of rows) expect(x.code, x.argv.join(' ')).toBe(0);
    expect(rows.filter((x) => x.tf).map((x) => x.argv.join(' '))).toEqual(['train --help']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 150_000);
