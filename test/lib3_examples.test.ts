/**
 * docs/examples/own_env.ts (an env written in TypeScript in the script, a noisy teacher of the
 * script's own) runs to the end and prints what its header says. It imports 'prefrl' as a user's
 * project does, through package.json's exports, so it runs the built dist/ (npm test builds
 * first; run `npm run build` before running this file alone). test/api_examples.test.ts
 * type-checks every example.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO = join(import.meta.dirname, '..');
const FILE = join(REPO, 'docs', 'examples', 'own_env.ts');

/** The numbers of a line. */
const numbers = (line: string): number[] => (line.match(/-?\d+(?:\.\d+)?/g) ?? []).map(Number);

describe('docs/examples/own_env.ts', () => {
  it('prints the lines its header claims: the env, the teacher and the sizes exactly, the accuracies within 0.05', { timeout: 90_000 }, () => {
    const text = readFileSync(FILE, 'utf8');
    const header = text.slice(text.indexOf(' * prints'), text.indexOf('(test/lib3_examples.test.ts runs it)'));
    const claimed = [...header.matchAll(/`([^`]+)`/g)].map((m) => m[1]);
    expect(claimed).toHaveLength(2);
    const r = spawnSync(process.execPath, ['--import', 'tsx', FILE], { cwd: REPO, encoding: 'utf8', timeout: 80_000 });
    expect([r.status, r.signal], r.stderr).toEqual([0, null]);
    expect(r.stderr).not.toContain('PrefrlWarning');
    const out = r.stdout.trim().split('\n');
    // The env, the rollout, the segments and the teacher are plain TypeScript: no tensor backend rounds them.
    expect(out[0]).toBe(claimed[0]);
    // 30 episodes x (40 - 10) / 5 + 1 = 7 windows each = 210 segments.
    expect(numbers(out[0]).slice(0, 3)).toEqual([30, 40, 210]);
    const mask = (s: string) => s.replace(/-?\d+(?:\.\d+)?/g, '#');
    expect(mask(out[1])).toBe(mask(claimed[1]));
    const [got, want] = [numbers(out[1]), numbers(claimed[1])];
    expect(Math.abs(got[0] - want[0])).toBeLessThanOrEqual(0.05);
    expect(got[1]).toBe(50);
    expect(Math.abs(got[2] - want[2])).toBeLessThanOrEqual(0.05);
    // The controller's return is plain TypeScript too; no tensor is left.
    expect(got.slice(3)).toEqual(want.slice(3));
    expect(got.at(-1)).toBe(0);
  });
});
