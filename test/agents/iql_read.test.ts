/**
 * `prefrl iql` reads only the dataset's transitions (its infos arrays are checked, not read),
 * except with --reward success, which reads infos/success; the results are the same as with the
 * whole dataset read. Counted through readDataset's options, not by memory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import * as datasetModule from '../../agents/dataset.js';
import { main } from '../../scripts/cli.js';
import { captureCli, lastJson } from '../helpers/cli.js';

vi.mock('../../agents/dataset.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../agents/dataset.js')>();
  return { ...real, readDataset: vi.fn(real.readDataset) };
});

const root = mkdtempSync(join(tmpdir(), 'prefrl-iql-read-'));
const data = join(root, 'toy.h5');
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => vi.mocked(datasetModule.readDataset).mockClear());

beforeAll(async () => {
  const c = captureCli();
  const code = await main(['collect', '--env', 'toy-reach', '--policy', 'random', '--steps', '200', '--seed', '4', '--out', data, '--runs-dir', join(root, 'runs'), '--quiet'], c.ctx);
  expect(code, c.err.join('')).toBe(0);
});

/** `prefrl iql` on the toy dataset: its JSON without the wall-time fields and paths. */
async function iql(extra: string[]): Promise<Record<string, unknown>> {
  const c = captureCli();
  const code = await main(['iql', '--dataset', data, '--updates', '5', '--hidden', '8', '--eval-episodes', '1', '--runs-dir', join(root, 'runs'), '--quiet', '--json', ...extra], c.ctx);
  expect(code, c.err.join('')).toBe(0);
  const { updatesPerSec: _u, wallSeconds: _w, actor: _a, runDir: _r, ...rest } = lastJson(c.out);
  return rest;
}

describe('prefrl iql: how it reads the dataset', () => {
  it('reads the transitions only, and learns exactly what it learns from the whole dataset read', async () => {
    const light = await iql([]);
    expect(vi.mocked(datasetModule.readDataset).mock.calls.map(([, o]) => o)).toEqual([{ transitionsOnly: true }]);
    // The same run with readDataset made to read everything (the options dropped).
    const real = vi.mocked(datasetModule.readDataset).getMockImplementation() as typeof datasetModule.readDataset;
    vi.mocked(datasetModule.readDataset).mockImplementationOnce((path) => real(path));
    const whole = await iql([]);
    expect(whole).toEqual(light);
    expect(light).toMatchObject({ algo: 'iql', reward: 'true', updates: 5 });
    expect(typeof light.finalTrueReturn).toBe('number');
  });

  it('--reward success reads the whole dataset (it needs infos/success)', async () => {
    const r = await iql(['--reward', 'success']);
    expect(r).toMatchObject({ reward: 'success', rewardKind: 'success' });
    expect(vi.mocked(datasetModule.readDataset).mock.calls.map(([, o]) => o)).toEqual([{ transitionsOnly: false }]);
  });
});
