/**
 * `prefrl tour` lists what its run folder holds: each file it names is there, and every file at the
 * folder's top is named (summary.json and software.json were missing from the list).
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { main } from '../scripts/cli.js';
import { captureCli } from './helpers/cli.js';

const root = mkdtempSync(join(tmpdir(), 'prefrl-tour-files-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

it("names every file of its run folder's top level, and each one it names is there", async () => {
  const c = captureCli();
  expect(await main(['tour', '--episodes', '1', '--runs-dir', root, '--quiet'], c.ctx), c.err.join('')).toBe(0);
  const lines = c.out.join('').split('\n');
  const at = lines.findIndex((l) => l.startsWith('run folder: '));
  const runDir = lines[at].slice('run folder: '.length);
  // "  config.json, metrics.jsonl, ..., artifacts/trajectories/<env>/ (...)"
  const named = lines[at + 1].trim().replace(/ \(.*\)$/, '').split(', ');
  const top = named.map((n) => n.split('/')[0]);
  expect(top.sort()).toEqual(readdirSync(runDir).sort());
  for (const n of named) expect(existsSync(join(runDir, n.replace('<env>', 'reacher'))), n).toBe(true);
});
