/**
 * The example scripts under docs/examples/ type-check as a user's project would (their own
 * tsconfig, `import ... from 'prefrl'` through package.json's exports: run `npm run build`
 * first, as for the README's example in test/api.test.ts), run to the end, and print what
 * their header comments say they print.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO = join(import.meta.dirname, '..');
const EXAMPLES = join(REPO, 'docs', 'examples');

/** The lines a header comment says the script prints: the `...` spans from "prints" to the "(test/" note. */
function claimedLines(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const header = text.slice(text.indexOf('prints'), text.indexOf('(test/api_examples.test.ts runs it)'));
  return [...header.matchAll(/`([^`]+)`/g)].map((m) => m[1]);
}

/** Text equal and numbers within `tol` (another backend may round a trained model's numbers differently). */
function expectLike(got: string, claimed: string, tol: number): void {
  const num = /-?\d+\.\d+/g;
  expect(got.replace(num, '#'), got).toBe(claimed.replace(num, '#'));
  const a = (got.match(num) ?? []).map(Number);
  const b = (claimed.match(num) ?? []).map(Number);
  a.forEach((x, i) => expect(Math.abs(x - b[i]), `${got} vs ${claimed}`).toBeLessThanOrEqual(tol));
}

function runExample(name: string): string[] {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(EXAMPLES, name)], { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
  expect([r.status, r.signal], r.stderr).toEqual([0, null]);
  expect(r.stderr).not.toContain('PrefrlWarning');
  return r.stdout.trim().split('\n');
}

describe('docs/examples', () => {
  it('type-check with their tsconfig (strict, skipLibCheck as the README says)', { timeout: 60_000 }, () => {
    const tsc = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = spawnSync(process.execPath, [tsc, '-p', join(EXAMPLES, 'tsconfig.json')], { cwd: REPO, encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it('custom_teacher.ts: a teacher of your own, a label store, a reward model trained from it', { timeout: 60_000 }, () => {
    const claimed = claimedLines(join(EXAMPLES, 'custom_teacher.ts'));
    expect(claimed).toHaveLength(1);
    const out = runExample('custom_teacher.ts');
    expect(out).toHaveLength(1);
    expectLike(out[0], claimed[0], 0.05);
  });

  it('custom_robot.ts: an MJCF model and task module of your own, checked and driven', { timeout: 60_000 }, () => {
    const claimed = claimedLines(join(EXAMPLES, 'custom_robot.ts'));
    expect(claimed).toHaveLength(2);
    // MuJoCo steps exactly the same on every machine that runs its WASM build: the numbers as printed.
    expect(runExample('custom_robot.ts')).toEqual(claimed);
  });
});

describe('docs/examples for docs/library.md', () => {
  it('offline_agent.ts: a dataset written and read back, BC and IQL trained on it and scored', { timeout: 120_000 }, () => {
    const claimed = claimedLines(join(EXAMPLES, 'offline_agent.ts'));
    expect(claimed).toHaveLength(2);
    const out = runExample('offline_agent.ts');
    expect(out).toHaveLength(2);
    // The dataset comes from toy-reach (plain TypeScript) and the random policy's seed: exact.
    expect(out[0]).toBe(claimed[0]);
    // Trained actors: another backend rounds differently; the text and, within a return point, the numbers.
    expectLike(out[1], claimed[1], 1);
    const score = (line: string, algo: string) => Number(new RegExp(`${algo} (-?\\d+\\.\\d+)`).exec(line)?.[1]);
    // What the header says of them: IQL beats behaviour cloning of the random data.
    expect(score(out[1], 'iql')).toBeGreaterThan(score(out[1], 'bc'));
  });

  it('ppo_reward_fn.ts: PPO on a RewardFn of the script, scored on the true reward', { timeout: 120_000 }, () => {
    const claimed = claimedLines(join(EXAMPLES, 'ppo_reward_fn.ts'));
    expect(claimed).toHaveLength(2);
    // PPO is plain TypeScript (no tensor backend): the numbers as printed, to the cent.
    const out = runExample('ppo_reward_fn.ts');
    expect(out).toHaveLength(2);
    out.forEach((line, i) => expectLike(line, claimed[i], 0.01));
  });
});
