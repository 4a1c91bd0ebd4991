/**
 * The docs/examples/ scripts that docs/library.md's workflows added for script writers
 * (save_and_reload.ts, held_out_pairs.ts) run to the end and print what their header comments say
 * they print. They import 'prefrl' as a user's project does, through package.json's exports, so
 * they run the built dist/ (npm test builds first; run `npm run build` before running this file
 * alone). test/api_examples.test.ts type-checks every example with its tsconfig.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO = join(import.meta.dirname, '..');
const EXAMPLES = join(REPO, 'docs', 'examples');

/** The `...` spans of the header comment from "prints" to "(test/lib_examples.test.ts runs it)". */
function claimedLines(name: string): string[] {
  const text = readFileSync(join(EXAMPLES, name), 'utf8');
  const end = text.indexOf('(test/lib_examples.test.ts runs it)');
  expect(end, `${name} says which test runs it`).toBeGreaterThan(0);
  return [...text.slice(text.indexOf('prints'), end).matchAll(/`([^`]+)`/g)].map((m) => m[1]);
}

function runExample(name: string): string[] {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(EXAMPLES, name)], { cwd: REPO, encoding: 'utf8', timeout: 90_000 });
  expect([r.status, r.signal], r.stderr).toEqual([0, null]);
  expect(r.stderr).not.toContain('PrefrlWarning');
  return r.stdout.trim().split('\n');
}

/** The numbers of a line (`-26.63`, `0.77`, `500`, `0`). */
const numbers = (line: string): number[] => (line.match(/-?\d+(?:\.\d+)?/g) ?? []).map(Number);

/** Text equal with numbers masked; each number within `tol` of the claimed one. */
function expectLike(got: string, claimed: string, tol: number): void {
  const mask = (s: string) => s.replace(/-?\d+(?:\.\d+)?/g, '#');
  expect(mask(got), got).toBe(mask(claimed));
  numbers(got).forEach((x, i) => expect(Math.abs(x - numbers(claimed)[i]), `${got} vs ${claimed}`).toBeLessThanOrEqual(tol));
}

describe('docs/examples for script writers', () => {
  it('save_and_reload.ts: a PPO policy, a reward model and a BC actor act the same after a save and a load', { timeout: 120_000 }, () => {
    const claimed = claimedLines('save_and_reload.ts');
    expect(claimed).toHaveLength(3);
    const out = runExample('save_and_reload.ts');
    expect(out).toHaveLength(3);
    // PPO is plain TypeScript and toy-reach too: the numbers as printed.
    expect(out[0]).toBe(claimed[0]);
    // What the example shows, whatever the backend rounds: each loaded thing equals what was saved.
    const [ppoBefore, ppoLoaded] = numbers(out[0]);
    expect(ppoLoaded).toBe(ppoBefore);
    expect(out[1]).toBe('reward model: 3 members, 500 predictions, 0 differ after RewardNet.load');
    expectLike(out[2], claimed[2], 2);
    const [bcBefore, bcLoaded] = numbers(out[2]);
    expect(bcLoaded).toBe(bcBefore);
  });

  it("held_out_pairs.ts: a reward ensemble's accuracy on held-out pairs of a B-Pref teacher", { timeout: 120_000 }, () => {
    const claimed = claimedLines('held_out_pairs.ts');
    expect(claimed).toHaveLength(1);
    const out = runExample('held_out_pairs.ts');
    expect(out).toHaveLength(1);
    // Trained on a tensor backend: the text, the counts exactly, the accuracies within 0.05.
    expectLike(out[0], claimed[0], 0.05);
    const [trainPairs, , accuracy, heldOut, truth] = numbers(out[0]);
    expect([trainPairs, heldOut]).toEqual([300, 100]);
    // Well above chance on pairs the model never saw, by the teacher's labels and by the true returns.
    expect(accuracy).toBeGreaterThan(0.65);
    expect(truth).toBeGreaterThan(0.65);
  });
});
