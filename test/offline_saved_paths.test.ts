/**
 * An offline run keeps its files' paths absolute in config.json, so `--resume` (and `--like`) from
 * another folder read the same dataset; a run saved with a relative path (before 2026-12-07) that
 * is not found from the folder of the resume is told where the path was read from.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../scripts/cli.js';
import { captureCli, lastJson } from './helpers/cli.js';
import { useToyDataset } from './helpers/toy_dataset.js';

const toy = useToyDataset('prefrl-offline-paths-', 4, { wasm: true });
const tiny = ['--teacher', 'oracle', '--labels', '20', '--segment-length', '10', '--updates', '20', '--eval-episodes', '1', '--hidden', '8,8', '--reward-hidden', '8', '--reward-epochs', '2', '--reward-members', '1', '--backend', 'wasm', '--quiet'];

describe('offline: the dataset path in config.json', () => {
  it('a dataset given relative to the working folder is saved absolute; a relative one saved by an older run and not found from here is named with config.json and where it was read from', async () => {
    const runs = join(toy.dir, 'runs');
    const rel = relative(process.cwd(), toy.data);
    expect(rel.startsWith('/')).toBe(false);
    const c = captureCli();
    expect(await main(['offline', '--dataset', rel, ...tiny, '--stage', 'pairs,label', '--runs-dir', runs, '--json'], c.ctx), c.err.join('')).toBe(0);
    const runDir = lastJson(c.out).runDir as string;
    const configFile = join(runDir, 'config.json');
    const saved = JSON.parse(readFileSync(configFile, 'utf8')) as { config: { dataset: string } };
    expect(saved.config.dataset).toBe(toy.data);
    // As an older run saved it: relative to a folder that is not this one.
    saved.config.dataset = 'elsewhere/toy.h5';
    writeFileSync(configFile, `${JSON.stringify(saved, null, 2)}\n`);
    const r = captureCli();
    expect(await main(['offline', '--resume', runDir, '--quiet'], r.ctx)).toBe(2);
    expect(r.err.join('')).toBe(
      `prefrl offline: --resume: the run's dataset "elsewhere/toy.h5" (${configFile}) is not there from this folder (${process.cwd()}): the run saved it relative to the folder it was started in; resume from there\n`,
    );
  }, 60_000);
});
