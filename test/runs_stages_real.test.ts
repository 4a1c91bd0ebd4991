/**
 * `prefrl runs` against a real (tiny) offline run stopped after each group of stages: the stage
 * it says the resume starts at is the first stage `prefrl offline --resume` runs (the others it
 * skips), and the label stage's count is the labels stored by hand before the stop.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasetFromTrajectories, writeDataset } from '../agents/dataset.js';
import { ManualClock } from '../core/clock.js';
import { silentLogger } from '../core/log.js';
import { Rng } from '../core/rng.js';
import { rollout } from '../envs/rollout.js';
import { TOY_SPEC, ToyReachEnv } from '../envs/toy.js';
import { type OfflineConfigInput, type OfflineResult, runOffline } from '../reward/offline.js';
import { LabelStore } from '../reward/store.js';
import { SyntheticTeacher, SYNTHETIC_PRESETS } from '../reward/teachers/synthetic.js';
import { listRuns } from '../scripts/commands/runs.js';

let dir = '';
let data = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'runs-stages-real-'));
  // toy-reach episodes of a goal-seeking policy with per-episode noise (returns vary).
  const env = new ToyReachEnv();
  const rng = new Rng(5);
  const trajs = Array.from({ length: 12 }, (_, k) =>
    rollout(env, (obs: Float32Array) => [0, 1].map((j) => Math.max(-1, Math.min(1, 2 * obs[4 + j] + (k % 3) * 0.5 * rng.normal()))), { episodes: 1, seed: 200 + k })[0],
  );
  const ds = datasetFromTrajectories(trajs, { envConfig: { id: 'toy-reach' }, horizon: TOY_SPEC.horizon, dt: TOY_SPEC.dt, rewardTerms: TOY_SPEC.rewardTerms.map((t) => ({ name: t.name, weight: t.weight })), policy: 'test' }, 'test');
  data = await writeDataset(join(dir, 'toy.h5'), ds);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const tiny: OfflineConfigInput = { dataset: '', teacher: 'oracle', labels: 12, labelBatch: 8, segmentLength: 10, rewardMembers: 2, rewardHidden: [8], rewardEpochs: 2, updates: 4, batchSize: 16, hidden: [8], evalEpisodes: 1, backend: 'wasm' };

/** The first stage a resume ran (the stages before it were skipped as done). */
const firstRan = (r: OfflineResult) => Object.entries(r.stages).find(([, v]) => v === 'ran')?.[0];

describe('prefrl runs on a real offline run', () => {
  it('says the stage the resume starts at, stop after stop, with the labels stored so far', async () => {
    const ctx = { logger: silentLogger, clock: new ManualClock() };
    const runsDir = join(dir, 'runs');
    const run = (await runOffline({ config: { ...tiny, dataset: data }, stages: ['pairs'], runsDir }, ctx)).runDir;
    // 5 of the 12 pairs labelled by hand (as people answering in prefrl serve --store would):
    // the run's last command still ran all it was asked for (the pairs stage), and says so.
    const store = LabelStore.open(join(run, 'labels.sqlite'));
    const oracle = new SyntheticTeacher({ ...SYNTHETIC_PRESETS.oracle, rng: new Rng(0), id: 'oracle' });
    store.addLabels(await oracle.label(store.pendingPairs({ limit: 5 })));
    store.close();
    let [e] = listRuns(runsDir);
    expect(e).toMatchObject({ state: 'unfinished', stages: { done: ['pairs'], at: 'label', pairs: { answered: 5, of: 12, reopened: 0 }, asked: ['pairs'], toRun: ['label', 'reward', 'relabel', 'iql', 'eval'] } });
    expect(e.resume).toBe(`stages done: pairs; stopped there as asked (--stage pairs); still to run: label (5 of 12 pairs answered), reward, relabel, iql, eval: prefrl offline --resume ${run}`);
    // A label stage stopped after those labels (as a kill leaves it: the record of the stages
    // asked is gone once a command starts its stages) is where the resume starts.
    rmSync(join(run, 'stages_asked.json'));
    [e] = listRuns(runsDir);
    expect(e).toMatchObject({ stages: { at: 'label', asked: null } });
    expect(e.resume).toBe(`stages done: pairs; at label, 5 of 12 pairs answered: prefrl offline --resume ${run}`);
    // The resume of stages up to relabel starts where runs said: at label.
    expect(firstRan(await runOffline({ resume: run, stages: ['pairs', 'label', 'reward', 'relabel'] }, ctx))).toBe('label');
    [e] = listRuns(runsDir);
    expect(e).toMatchObject({ state: 'unfinished', stages: { done: ['pairs', 'label', 'reward', 'relabel'], at: 'iql', agents: [], pairs: null, asked: ['pairs', 'label', 'reward', 'relabel'], toRun: ['iql', 'eval'] } });
    expect(e.resume).toBe(`stages done: pairs, label, reward, relabel; stopped there as asked (--stage pairs,label,reward,relabel); still to run: iql (0 of 3 agents trained), eval: prefrl offline --resume ${run}`);
    const rest = await runOffline({ resume: run }, ctx);
    expect(rest.stages).toEqual({ pairs: 'skipped', label: 'skipped', reward: 'skipped', relabel: 'skipped', iql: 'ran', eval: 'ran' });
    [e] = listRuns(runsDir);
    expect(e).toMatchObject({ state: 'finished', stages: null, problem: null, resume: null, numbers: { labels: 12 } });
  });
});
