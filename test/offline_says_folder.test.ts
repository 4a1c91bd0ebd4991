/**
 * `prefrl offline` names its new run folder as it makes it (train does so in its first line), before
 * any stage runs: a run taught by people is served from the label store in there, and the folder
 * was named only at the end before. A resumed run names none anew.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { main } from '../scripts/cli.js';
import { captureCli } from './helpers/cli.js';
import { useToyDataset } from './helpers/toy_dataset.js';

const toy = useToyDataset('prefrl-offline-folder-', 6);

it('says "offline pipeline on <env>, teacher <t>, seed <n> -> <run folder>" before its first stage', async () => {
  const runs = join(toy.dir, 'runs');
  const c = captureCli();
  const args = ['offline', '--dataset', toy.data, '--teacher', 'oracle', '--labels', '8', '--segment-length', '10', '--stage', 'pairs', '--seed', '3', '--runs-dir', runs];
  expect(await main(args, c.ctx), c.err.join('')).toBe(0);
  const [name] = readdirSync(runs);
  const lines = c.err.join('').split('\n');
  const said = lines.findIndex((l) => l.endsWith(`offline pipeline on toy-reach, teacher oracle, seed 3 -> ${join(runs, name)}`));
  expect(said, lines.join('\n')).toBeGreaterThanOrEqual(0);
  const pairs = lines.findIndex((l) => /\bpairs\b/.test(l) && !l.includes('offline pipeline'));
  expect(pairs).toBeGreaterThan(said);
  // Resumed: the folder is the one given; not said again as a new one.
  const r = captureCli();
  expect(await main(['offline', '--resume', join(runs, name), '--stage', 'pairs'], r.ctx), r.err.join('')).toBe(0);
  expect(r.err.join('')).not.toContain('offline pipeline on');
});
