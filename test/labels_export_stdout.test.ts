/** `prefrl labels export --out -`: the labels on standard output (one JSON object a line), the count on stderr. */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LabelStore } from '../reward/store.js';
import { captureCli, spawnCli } from './helpers/cli.js';
import { main } from '../scripts/cli.js';
import { makePairs } from './viewer/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'prefrl-export-stdout-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('prefrl labels export --out -', () => {
  it('writes every label to standard output and the count to stderr; no file named "-"; --json with it is refused', async () => {
    const path = join(dir, 'labels.sqlite');
    const store = LabelStore.open(path);
    const pairs = (await makePairs('toy-reach', { episodes: 2, steps: 50, length: 10 })).slice(0, 3);
    store.putPairs(pairs);
    store.addLabels(pairs.map((p, i) => ({ id: `l-${i}`, pairId: p.id, teacher: 'oracle', kind: 'preference', probFirst: i % 2 })));
    store.close();
    const { stdout, stderr, exited } = spawnCli(['labels', 'export', '--store', path, '--out', '-']);
    expect(await exited, stderr()).toBe(0);
    const lines = stdout().trimEnd().split('\n').map((l) => JSON.parse(l) as { id: string; probFirst: number });
    expect(lines.map((l) => [l.id, l.probFirst])).toEqual([
      ['l-0', 0],
      ['l-1', 1],
      ['l-2', 0],
    ]);
    expect(stderr()).toBe(`exported 3 labels from ${path} to standard output\n`);
    expect(existsSync(join(process.cwd(), '-'))).toBe(false);
    const c = captureCli();
    expect(await main(['labels', 'export', '--store', path, '--out', '-', '--json'], c.ctx)).toBe(2);
    expect(c.err.join('')).toBe('prefrl labels export: --json: with --out - the labels are standard output; drop --json (the count goes to stderr)\n');
  }, 60_000);
});

describe('a reader that goes away (prefrl labels export --out - | head -1)', () => {
  it('bin/prefrl.js stops quietly with exit 0, not with Node\'s unhandled EPIPE and its stack', async () => {
    const path = join(dir, 'many.sqlite');
    const store = LabelStore.open(path);
    const pairs = (await makePairs('toy-reach', { episodes: 2, steps: 50, length: 10 })).slice(0, 6);
    store.putPairs(pairs);
    // 6 pairs x 300 teachers, each label with a comment of 1,000 characters: about 2 MB of JSONL,
    // far beyond what the pipe holds.
    const comment = 'x'.repeat(1000);
    store.addLabels(Array.from({ length: 300 }, (_, t) => pairs.map((p, i) => ({ id: `l-${t}-${i}`, pairId: p.id, teacher: `t${t}`, kind: 'preference' as const, probFirst: 1, comment }))).flat());
    store.close();
    const child = spawn(process.execPath, [join(import.meta.dirname, '..', 'bin', 'prefrl.js'), 'labels', 'export', '--store', path, '--out', '-'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const closed = new Promise<number | null>((res) => child.on('close', (c) => res(c)));
    // Read the first chunk, then close the reading end, as head does after its line.
    await Promise.race([new Promise<void>((res) => child.stdout.once('data', () => res())), closed]);
    child.stdout.destroy();
    const code = await closed;
    expect(err).not.toContain('EPIPE');
    expect(code).toBe(0);
  }, 60_000);
});
