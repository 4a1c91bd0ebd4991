/**
 * Same seed, same run, for the offline side: `prefrl collect --policy medium-replay` (PPO in
 * worker threads or on the main thread) and `prefrl offline` (pairs, oracle labels, reward model,
 * relabelling, IQL and BC) write the same data for one seed. The HDF5 file itself is compared by
 * content, not byte for byte: HDF5 stamps its object headers with the time they were written.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../core/backend.js';
import { readDataset } from '../../agents/dataset.js';
import { LabelStore } from '../../reward/store.js';
import { main } from '../../scripts/cli.js';
import { captureCli, lastJson } from '../helpers/cli.js';

beforeAll(async () => {
  await initBackend('wasm');
});

const TIMING = /seconds|Seconds|sps|per_sec|PerSec/;
const untimed = (o: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(Object.entries(o).filter(([k]) => !TIMING.test(k) && k !== 'runDir' && k !== 'dataset'));

async function cli(args: string[]): Promise<Record<string, unknown>> {
  const c = captureCli();
  expect(await main([...args, '--quiet', '--json'], c.ctx), c.err.join('')).toBe(0);
  return lastJson(c.out);
}

describe('offline determinism', () => {
  it('collect medium-replay: the same dataset and PPO policy with --workers 0 and with --workers 2 --inline-envs; offline twice: the same labels, reward model, relabelled rewards and agents', async () => {
    const root = mkdtempSync(join(tmpdir(), 'prefrl-offline-repeat-'));
    const collect = ['collect', '--env', 'toy-reach', '--policy', 'medium-replay', '--steps', '512', '--num-envs', '2', '--seed', '4'];
    const a = await cli([...collect, '--workers', '0', '--runs-dir', join(root, 'ca')]);
    const b = await cli([...collect, '--workers', '2', '--inline-envs', '--runs-dir', join(root, 'cb')]);
    expect(untimed(b)).toEqual(untimed(a));
    const dsA = await readDataset(a.dataset as string);
    const dsB = await readDataset(b.dataset as string);
    // PPO steps whole rollouts (2 envs x 512 steps = 1024 steps) and the dataset keeps the complete 50-step episodes: 20 of them.
    expect(dsA.size).toBe(1000);
    for (const key of ['observations', 'actions', 'rewards', 'nextObservations', 'terminals', 'timeouts'] as const) {
      const bytes = (x: Float32Array | Float64Array | Uint8Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);
      expect(bytes(dsB[key]).equals(bytes(dsA[key])), key).toBe(true);
    }
    const policy = (r: Record<string, unknown>) => readFileSync(join(r.runDir as string, 'artifacts', 'checkpoint', 'policy.json'), 'utf8');
    expect(policy(b)).toBe(policy(a));

    const offline = ['offline', '--dataset', a.dataset as string, '--teacher', 'oracle', '--labels', '30', '--segment-length', '10', '--reward-members', '2', '--reward-hidden', '8',
      '--reward-epochs', '3', '--updates', '60', '--batch-size', '32', '--hidden', '8,8', '--eval-episodes', '1', '--seed', '3'];
    const runs = [await cli([...offline, '--runs-dir', join(root, 'oa')]), await cli([...offline, '--runs-dir', join(root, 'ob')])];
    const files = (r: Record<string, unknown>) => {
      const dir = join(r.runDir as string, 'artifacts');
      const store = LabelStore.open(join(r.runDir as string, 'labels.sqlite'), { create: false });
      const labels = store.labels().map((l) => ({ id: l.id, pair: l.pairId, kind: l.kind, p: l.kind === 'preference' ? l.probFirst : null }));
      store.close();
      return {
        labels,
        weights: readFileSync(join(dir, 'reward_model', 'weights.bin')).toString('hex'),
        relabelled: readFileSync(join(dir, 'relabelled_rewards.npy')).toString('hex'),
        actors: readdirSync(join(dir, 'agents')).sort().map((agent) => readFileSync(join(dir, 'agents', agent, 'actor.json'), 'utf8')),
      };
    };
    const [x, y] = runs.map(files);
    expect(x.labels).toHaveLength(30);
    expect(x.actors).toHaveLength(3);
    expect(y).toEqual(x);
    const summary = (r: Record<string, unknown>) => {
      const { stageSeconds: _s, ...rest } = untimed(r);
      return rest;
    };
    expect(summary(runs[1])).toEqual(summary(runs[0]));
  }, 120_000);
});
