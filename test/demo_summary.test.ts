/** `prefrl demo`'s text summary: where the results went and the commands that look at them. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../scripts/cli.js';
import { captureCli } from './helpers/cli.js';

const root = mkdtempSync(join(tmpdir(), 'prefrl-demo-summary-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('prefrl demo summary', () => {
  it('ends with the plot and tensorboard commands over its run folders, which then read them', async () => {
    const runs = join(root, 'runs');
    const c = captureCli();
    const argv = ['demo', '--env', 'toy-reach', '--steps', '2048', '--labels', '10', '--labels-per-round', '10', '--feedback-every', '1024', '--reward-epochs', '1', '--runs-dir', runs, '--quiet'];
    expect(await main(argv, c.ctx), c.err.join('')).toBe(0);
    const lines = c.out.join('').trimEnd().split('\n');
    const folders = lines.filter((l) => l.startsWith('PPO + ')).map((l) => l.split(/\s{2,}/).pop() as string);
    expect(folders).toHaveLength(2);
    for (const f of folders) expect(f.startsWith(runs)).toBe(true);
    expect(lines[lines.length - 2]).toBe(`learning curves: prefrl plot ${folders.join(' ')} (writes curves.svg)`);
    expect(lines[lines.length - 1]).toBe(`in TensorBoard: prefrl tensorboard ${folders.join(' ')}, then tensorboard --logdir ${runs}`);
    // The printed command works: plot reads both folders.
    const p = captureCli();
    const out = join(root, 'curves.svg');
    expect(await main(['plot', ...folders, '--out', out], p.ctx), p.err.join('')).toBe(0);
    expect(p.out.join('')).toContain(`wrote ${out}`);
    // So does the tensorboard command: an event file in each run folder.
    const t = captureCli();
    expect(await main(['tensorboard', ...folders, '--json'], t.ctx), t.err.join('')).toBe(0);
    expect(JSON.parse(t.out.join('').trimEnd().split('\n').pop() as string)).toMatchObject({ logdir: runs, runs: [{ run: folders[0], finished: true }, { run: folders[1], finished: true }] });
  });
});
