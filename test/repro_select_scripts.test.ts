// benchmarks/select_inputs.ts and select_speed.ts, which the README offers for replaying a run's
// input selection: a wrong run folder or option is one line naming it (not a stack trace, nor the
// line of minified source the WASM backend's uncaught-exception handler printed when the store
// was read after the backend started), with exit status 1 (bad input) or 2 (bad option).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLabelStore } from '../reward/store.js';

const REPO = join(import.meta.dirname, '..');
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'prefrl-select-scripts-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function script(name: string, args: readonly string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'benchmarks', name), ...args], { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('benchmarks/select_inputs.ts and select_speed.ts: bad input', () => {
  it('a run folder without a label store: exit 1, one line naming the store', () => {
    const run = join(dir, 'no-store');
    mkdirSync(run);
    for (const name of ['select_inputs.ts', 'select_speed.ts']) {
      const r = script(name, [run]);
      expect(r.status).toBe(1);
      expect(r.stderr).toBe(`${name}: ${join(run, 'labels.sqlite')}: no such label store (the file does not exist)\n`);
      expect(r.stdout).toBe('');
    }
  });

  it('a label store without preference labels (a true-reward run\'s): exit 1, one line saying so', () => {
    const run = join(dir, 'empty-store');
    mkdirSync(run);
    openLabelStore(join(run, 'labels.sqlite'), { create: true }).close();
    const r = script('select_inputs.ts', [run]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`select_inputs.ts: ${join(run, 'labels.sqlite')}: no preference labels (a run of a learned reward stores them; 0 skips)\n`);
  });

  it('an option out of range or not a number: exit 2 naming the option and the value, then the usage line; checked before the run folder', () => {
    const run = join(dir, 'never-read');
    const cases: [string, string[], string][] = [
      ['select_inputs.ts', ['--folds', '1'], '--folds: expected an integer >= 2, got "1"'],
      ['select_inputs.ts', ['--max-labels', 'abc'], '--max-labels: expected an integer >= 1, got "abc"'],
      ['select_inputs.ts', ['--min-gain', 'x'], '--min-gain: expected a number >= 0, got "x"'],
      ['select_speed.ts', ['--repeats', '0'], '--repeats: expected an integer >= 1, got "0"'],
    ];
    for (const [name, args, message] of cases) {
      const r = script(name, [run, ...args]);
      expect(r.status, `${name} ${args.join(' ')}`).toBe(2);
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines).toHaveLength(2);
      expect(lines[0]).toBe(`${name}: ${message}`);
      expect(lines[1]).toMatch(new RegExp(`^usage: npx tsx benchmarks/${name.replace('.', '\\.')} <run folder> `));
    }
  });
});

describe('benchmarks/script_errors.ts: the diagnostic scripts that start the tensor backend end with one line', () => {
  it('reward_input_ranges.ts on a folder that is not a reward model: exit 1, `<script>: <message>` only (no minified WASM source)', () => {
    const missing = join(dir, 'not-a-model');
    const r = script('reward_input_ranges.ts', [missing]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`reward_input_ranges.ts: ${join(missing, 'model.json')}: not found (expected a reward model folder with model.json and weights.bin)\n`);
  });
});
