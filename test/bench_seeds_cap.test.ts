/**
 * The bench --seeds counts are capped (MAX_BENCH_SEEDS, shared by bench oracle and bench regret):
 * bench oracle lists every cell before it runs one, so a mistyped count held the machine for
 * minutes instead of being refused. The cap is refused in the flag parser's words, as every other
 * out-of-range count; up to it the cells scale with the seeds (smoke: one shared dataset cell +
 * 7 cells per seed).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../scripts/cli.js';
import { MAX_BENCH_SEEDS } from '../scripts/commands/bench_flags.js';
import { captureCli, lastJson } from './helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'prefrl-left-seeds-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function oracle(seeds: string) {
  const c = captureCli();
  const code = await main(['bench', 'oracle', '--suite', 'smoke', '--seeds', seeds, '--dry-run', '--runs-dir', join(dir, 'runs'), '--out', join(dir, 'out'), '--json'], c.ctx);
  return { code, out: c.out, err: c.err.join('') };
}

describe('bench oracle --seeds cap', () => {
  it('is 100', () => {
    expect(MAX_BENCH_SEEDS).toBe(100);
  });

  it('refuses one seed past the cap in one line naming --seeds, before writing anything', async () => {
    const r = await oracle('101');
    expect(r.code).toBe(2);
    expect(r.err.trim()).toBe('prefrl bench oracle: --seeds: must be <= 100, got 101');
    expect(r.out.join('')).toBe('');
    expect(readdirSync(dir)).toEqual([]);
    const huge = await oracle('100000');
    expect(huge.code).toBe(2);
    expect(huge.err.trim()).toBe('prefrl bench oracle: --seeds: must be <= 100, got 100000');
  });

  it('takes the cap itself: 1 + 7 x 100 smoke cells', async () => {
    const r = await oracle('100');
    expect(r.code, r.err).toBe(0);
    const j = lastJson<{ cells: number; budget: { seeds: number } }>(r.out);
    expect(j.budget.seeds).toBe(100);
    expect(j.cells).toBe(1 + 7 * 100);
    const two = lastJson<{ cells: number }>((await oracle('2')).out);
    expect(two.cells).toBe(1 + 7 * 2);
  });

  it('bench regret refuses the same count in the same words', async () => {
    const c = captureCli();
    expect(await main(['bench', 'regret', '--seeds', '101', '--no-write', '--out', join(dir, 'regret')], c.ctx)).toBe(2);
    expect(c.err.join('').trim()).toBe('prefrl bench regret: --seeds: must be <= 100, got 101');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('docs/cli.md states the range for both', () => {
    const doc = readFileSync(join(import.meta.dirname, '..', 'docs', 'cli.md'), 'utf8');
    const lines = doc.split('\n').filter((l) => l.startsWith('- `--seeds N`'));
    expect(lines.length).toBe(2);
    for (const l of lines) expect(l).toMatch(/^- `--seeds N` \(integer from 1 to 100; default: /);
  });
});
