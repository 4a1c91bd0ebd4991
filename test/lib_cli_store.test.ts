/**
 * A script reads what the commands made: a label store filled by `prefrl rollout`, `prefrl pairs`
 * and `prefrl label` (two teachers on the same pairs), and a dataset made by `prefrl collect`.
 * From the entry point alone it opens the store, keeps one teacher's labels, trains a reward
 * model on them, relabels the dataset with it and trains IQL briefly. The oracle's labels are
 * checked against the segments' true returns by hand; `teacherLabels` with a `keep` that is not a
 * function is a TypeError naming the option (it failed at the first label, "keep is not a function").
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as api from '../index.js';
import { main } from '../scripts/cli.js';
import { captureCli, lastJson } from './helpers/cli.js';

let root = '';
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'prefrl-lib-cli-store-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** `prefrl <args> --quiet --json`: exit code 0 and its JSON summary. */
async function cli(args: string[]): Promise<Record<string, unknown>> {
  const { ctx, out, err } = captureCli();
  expect(await main([...args, '--quiet', '--json'], ctx), err.join('')).toBe(0);
  return lastJson(out);
}

describe('a script on the files the commands made', () => {
  it('opens a label store of prefrl pairs + label, trains on one teacher, relabels a collect dataset, trains IQL', { timeout: 60_000 }, async () => {
    const rolled = await cli(['rollout', '--env', 'toy-reach', '--episodes', '8', '--seed', '3', '--runs-dir', root]);
    const runDir = rolled.runDir as string;
    await cli(['pairs', '--trajectories', runDir, '--count', '60', '--segment-length', '10', '--seed', '1']);
    const storeFile = join(runDir, 'labels.sqlite');
    for (const teacher of ['oracle', 'stochastic']) expect((await cli(['label', '--store', storeFile, '--teacher', teacher])).added).toBe(60);
    const collected = await cli(['collect', '--env', 'toy-reach', '--policy', 'random', '--steps', '500', '--seed', '4', '--runs-dir', root]);

    await api.initBackend('wasm');
    const env = await api.makeEnv('toy-reach');
    // create: false: a path that is no store is an error, not a new empty store.
    const store = api.LabelStore.open(storeFile, { create: false, envId: env.spec.id, modelHash: env.spec.modelHash });
    try {
      expect(store.counts().perTeacher).toMatchObject({ oracle: { labels: 60 }, stochastic: { labels: 60 } });
      // Both teachers answered every pair: 120 labels, each pair twice.
      expect(store.teacherLabels().labels).toHaveLength(120);
      expect(() => store.teacherLabels({ keep: 'oracle' } as never)).toThrow(
        new TypeError("LabelStore.teacherLabels: option keep must be a function of the teacher id, e.g. (teacher) => teacher === 'stochastic', got \"oracle\""),
      );
      const { pairs, labels } = store.teacherLabels({ keep: (t) => t === 'oracle' });
      expect(labels).toHaveLength(60);
      expect(new Set(labels.map((l) => l.teacher))).toEqual(new Set(['oracle']));
      // B-Pref's oracle: the segment of the higher true return, 0.5 on a tie (toy-reach's float returns never tie here).
      for (let i = 0; i < pairs.length; i++) {
        const [ra, rb] = [api.segmentReturn(pairs[i].a), api.segmentReturn(pairs[i].b)];
        const l = labels[i];
        expect(l.kind === 'preference' && l.probFirst).toBe(ra > rb ? 1 : ra < rb ? 0 : 0.5);
      }

      const net = api.RewardNet.create({ obsDim: env.spec.obsDim, actDim: env.spec.actDim, hidden: [16], members: 2 }, new api.Rng(0));
      try {
        const fit = await api.trainRewardModel(net, pairs, labels, { rng: new api.Rng(1), epochs: 10 });
        // 60 pairs, 10% held out: 6 of them.
        expect([fit.trainPairs, fit.valPairs]).toEqual([54, 6]);
        const ds = await api.readDataset(collected.dataset as string, { env: env.spec });
        expect(ds.size).toBe(500);
        const relabelled = api.relabelDataset(ds, net);
        expect(relabelled.rewards).toHaveLength(500);
        // The relabelled reward of a transition is the ensemble's mean prediction for it.
        const first = net.predict({ n: 1, obs: ds.observations.subarray(0, 6), actions: ds.actions.subarray(0, 2), nextObs: ds.nextObservations.subarray(0, 6) });
        expect(relabelled.rewards[0]).toBeCloseTo(first[0], 6);
        const { actor } = await api.trainOfflineAgent({ algo: 'iql', ds, rewards: relabelled.rewards, actLow: env.spec.actLow, actHigh: env.spec.actHigh, hidden: [16, 16], updates: 30, batchSize: 32, seed: 0 });
        const score = api.evaluatePolicy(env, actor.policy(), 2, 0);
        expect(score.returns).toHaveLength(2);
        expect(Number.isFinite(score.meanReturn)).toBe(true);
      } finally {
        net.dispose();
      }
    } finally {
      store.close();
      env.dispose();
    }
  });
});
