/**
 * `prefrl runs` lists a folder this user may not open (mode 0000) as one that cannot be read,
 * naming it and why, beside the runs it can read; it was left out without a word (found by qa_fuzz).
 * Run where file permissions bind (test/helpers/unprivileged.ts).
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { unprivileged } from './helpers/unprivileged.js';

const u = unprivileged();
const root = mkdtempSync(join(tmpdir(), 'prefrl-runs-closed-'));
afterAll(() => {
  chmodSync(join(root, 'runs', '20261207-110000-train-reacher-oracle-s1'), 0o755);
  rmSync(root, { recursive: true, force: true });
});

it.skipIf(u.skip !== null)(`a run folder this user may not open is listed as unreadable, with why; run as ${u.who}`, async () => {
  const runs = join(root, 'runs');
  for (const name of ['20261207-100000-train-reacher-oracle-s0', '20261207-110000-train-reacher-oracle-s1']) {
    mkdirSync(join(runs, name), { recursive: true });
    writeFileSync(join(runs, name, 'config.json'), JSON.stringify({ command: 'train', env: 'reacher', teacher: 'oracle', seed: 0 }));
    writeFileSync(join(runs, name, 'summary.json'), JSON.stringify({ finalTrueReturn: -20, labelsUsed: 10 }));
  }
  const closed = join(runs, '20261207-110000-train-reacher-oracle-s1');
  chmodSync(closed, 0o000);
  const r = await u.cli(['runs', '--runs-dir', runs, '--json']);
  expect(r.code, r.err).toBe(0);
  const listed = (JSON.parse(r.out.trimEnd().split('\n').pop() as string) as { runs: { run: string; state: string; problem: string | null }[] }).runs;
  expect(listed.map((e) => [e.run, e.state, e.problem])).toEqual([
    ['20261207-100000-train-reacher-oracle-s0', 'finished', null],
    ['20261207-110000-train-reacher-oracle-s1', 'unreadable', `${closed}: this user may not open the folder (EACCES)`],
  ]);
});
