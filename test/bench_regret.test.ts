import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CodeVersion, codeVersion, codeVersionText } from '../scripts/bench/code_version.js';
import { main } from '../scripts/cli.js';
import { captureCli, lastJson } from './helpers/cli.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'prefrl-bench-regret-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The smallest run: the delivery gridworld alone, one seed, 5 Adam steps per fit. */
const TINY = ['--seeds', '1', '--mdps', '0', '--steps', '5'];

describe('prefrl bench regret --budgets', () => {
  it.each([
    ['100,30', /--budgets: preference-set sizes must rise \(nested sets\), got 100,30 \(30 after 100\)/],
    ['30,30', /--budgets: .*got 30,30 \(30 after 30\)/],
    ['30,100,50', /--budgets: .*got 30,100,50 \(50 after 100\)/],
  ])('refuses %s (sizes that do not rise) with exit 2 and one line naming the flag and the values; nothing written', async (budgets, message) => {
    const out = join(dir, `refused-${budgets}`);
    const { ctx, err } = captureCli();
    const code = await main(['bench', 'regret', ...TINY, '--budgets', budgets, '--out', out], ctx);
    expect(code).toBe(2);
    const text = err.join('').trim();
    expect(text.split('\n')).toHaveLength(1);
    expect(text).toMatch(message);
    expect(existsSync(out)).toBe(false);
  });

  it('runs rising budgets and reports them in that order', async () => {
    const { ctx, out } = captureCli();
    const code = await main(['bench', 'regret', ...TINY, '--budgets', '20,50', '--no-write', '--json'], ctx);
    expect(code).toBe(0);
    const j = lastJson<{ setup: { budgets: number[] }; cells: { budget: number }[] }>(out);
    expect(j.setup.budgets).toEqual([20, 50]);
    expect([...new Set(j.cells.map((c) => c.budget))]).toEqual([20, 50]);
  });

  it('the summary\'s columns name the budgets as preferences and its heading the runs per cell (one run: singular)', async () => {
    const { ctx, out } = captureCli();
    expect(await main(['bench', 'regret', ...TINY, '--budgets', '20,50', '--no-write'], ctx)).toBe(0);
    const text = out.join('');
    expect(text).toContain('## delivery (1 run per cell)');
    expect(text).toMatch(/^preferences from {2}model {11}20 prefs +50 prefs$/m);
    expect(text).not.toContain('n=20');
  });

  it('summary.md and results.json say which code made the numbers', async () => {
    const out = join(dir, 'with-code');
    expect(await main(['bench', 'regret', ...TINY, '--budgets', '20', '--out', out], captureCli().ctx)).toBe(0);
    const j = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { software: CodeVersion };
    expect(j.software).toEqual(codeVersion([out]));
    expect(readFileSync(join(out, 'summary.md'), 'utf8')).toContain(`\n\nCode: ${codeVersionText(j.software)}.\n\n`);
  });
});

describe('prefrl bench regret --beta, --lr and nothing to run', () => {
  it.each([
    ['--beta', '0', 'prefrl bench regret: --beta: must be > 0, got 0'],
    ['--beta', '-1', 'prefrl bench regret: --beta: must be > 0, got -1'],
    ['--lr', '0', 'prefrl bench regret: --lr: must be > 0, got 0'],
    ['--lr', '-0.1', 'prefrl bench regret: --lr: must be > 0, got -0.1'],
    // With --mdps 0 (TINY). It named "--gridworld false", which the parser refuses as an unexpected argument.
    ['--no-gridworld', '--mdp-seed=3', 'prefrl bench regret: nothing to run (--no-gridworld and --mdps 0: no MDP left)'],
  ])('%s %s is a usage error (exit 2, one line naming the flag; --beta 0 and -1 worded alike; --lr 0 ran the whole bench on the random init); nothing written', async (flag, value, message) => {
    const out = join(dir, `refused${flag}${value}`);
    const { ctx, err } = captureCli();
    expect(await main(['bench', 'regret', ...TINY, flag, value, '--out', out], ctx)).toBe(2);
    expect(err.join('').trim()).toBe(message);
    expect(existsSync(out)).toBe(false);
  });
});
