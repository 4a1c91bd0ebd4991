/**
 * --quiet means the same in tour and pairs as in every other command: no progress bars, the
 * same result. tour draws one bar per env (rollout <env>); pairs draws none but takes the flag.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../scripts/cli.js';
import { captureCli, lastJson } from './helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'prefrl-left-quiet-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface TourRow { env: string; episodes: number; steps: number; returns: number[] }

async function cli(args: string[]) {
  const c = captureCli();
  const code = await main(args, c.ctx);
  return { code, out: c.out, err: c.err.join('') };
}

describe('--quiet in tour and pairs', () => {
  it('tour --quiet draws no progress bar, and records the same episodes as without it', async () => {
    const loud = await cli(['tour', '--episodes', '1', '--seed', '4', '--runs-dir', join(dir, 'loud'), '--json']);
    const quiet = await cli(['tour', '--episodes', '1', '--seed', '4', '--runs-dir', join(dir, 'quiet'), '--json', '--quiet']);
    expect(loud.code, loud.err).toBe(0);
    expect(quiet.code, quiet.err).toBe(0);
    const envs = lastJson<{ envs: TourRow[] }>(loud.out).envs.map((r) => r.env);
    expect(envs.length).toBeGreaterThan(1);
    // Without --quiet each env's bar ends with its "| 1 episodes" line; with it, none.
    for (const env of envs) expect(loud.err).toMatch(new RegExp(`rollout ${env} .*1 episodes`));
    expect(quiet.err).not.toMatch(/rollout \S+ .*episodes/);
    expect(quiet.err).toMatch(/tour: 1 random-policy episode in each of/);
    const strip = (rows: TourRow[]) => rows.map((r) => ({ env: r.env, episodes: r.episodes, steps: r.steps, returns: r.returns }));
    expect(strip(lastJson<{ envs: TourRow[] }>(quiet.out).envs)).toEqual(strip(lastJson<{ envs: TourRow[] }>(loud.out).envs));
  });

  it('pairs --quiet adds the same pairs as pairs without it', async () => {
    const runs = join(dir, 'rollout');
    const r = await cli(['rollout', '--env', 'reacher', '--episodes', '2', '--seed', '1', '--runs-dir', runs, '--json', '--quiet']);
    expect(r.code, r.err).toBe(0);
    const runDir = lastJson<{ runDir: string }>(r.out).runDir;
    const summaries = [];
    for (const [store, extra] of [[join(dir, 'a.sqlite'), []], [join(dir, 'b.sqlite'), ['--quiet']]] as const) {
      const p = await cli(['pairs', '--trajectories', runDir, '--count', '7', '--segment-length', '20', '--store', store, '--seed', '2', '--json', ...extra]);
      expect(p.code, p.err).toBe(0);
      expect(p.err).toBe('');
      summaries.push(lastJson<Record<string, unknown>>(p.out));
    }
    const [a, b] = summaries;
    expect({ ...b, store: a.store, serve: a.serve }).toEqual(a);
    expect(a).toMatchObject({ added: 7, pairs: 7, storePairs: 7, unlabelled: 7, waitingForPeople: 7 });
  });
});

describe('--quiet in bench regret', () => {
  it("leaves out the per-run 'done' lines, and the results are the same", async () => {
    const args = ['bench', 'regret', '--seeds', '2', '--mdps', '0', '--budgets', '30,100', '--steps', '20', '--no-write', '--json'];
    const loud = await cli(args);
    const quiet = await cli([...args, '--quiet']);
    expect(loud.code, loud.err).toBe(0);
    expect(quiet.code, quiet.err).toBe(0);
    // One world (the delivery gridworld) x 2 seeds: two lines without --quiet, none with it.
    expect(loud.err.match(/ seed \d done \(\d\/2, /g)).toHaveLength(2);
    expect(quiet.err).not.toMatch(/ seed \d done/);
    const cells = (out: string[]) => lastJson<{ cells: unknown[] }>(out).cells;
    expect(cells(quiet.out)).toEqual(cells(loud.out));
  });
});
