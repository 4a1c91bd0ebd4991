/**
 * The library does what the CLI does: `prefrl train` and a script's `runPreferenceLoop` with the
 * options train.ts passes (README "Use it from a script"), and `prefrl offline` and `runOffline`
 * with the same config, write the same numbers: metrics apart from wall time, labels, reward
 * model, policy or agents, summary. The script leaves every option with a default out (the
 * reward model's training length included), so a default that differs between the command and
 * the library fails here: runPreferenceLoop used to train each round for trainRewardModel's 50
 * epochs with patience 5, where `prefrl train` defaults to 20 and 3, and so drifted from it.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as api from '../../index.js';
import { main } from '../../scripts/cli.js';
import { captureCli, lastJson } from '../helpers/cli.js';
import { writeToyDataset } from '../helpers/toy_dataset.js';

const TIMING = /seconds|Seconds|PerSec|_per_sec|charts\/sps/;
let root: string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'prefrl-cli-vs-library-'));
  await api.initBackend('wasm');
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A JSON value without its wall-clock fields and its run folder's path (README: the fields that may differ). */
function untimed(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(untimed);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).filter(([k]) => !TIMING.test(k) && k !== 'runDir').map(([k, x]) => [k, untimed(x)]));
  return v;
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? files(join(dir, n)) : [join(dir, n)]));
}

/** What a run wrote, file by file under artifacts/ plus metrics, summary and stored labels (config.json and software.json left out: they record how the run was started). */
function written(runDir: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const file of files(join(runDir, 'artifacts')).sort()) {
    const text = readFileSync(file);
    out[relative(runDir, file)] = file.endsWith('.json') ? untimed(JSON.parse(text.toString('utf8'))) : text.toString('hex');
  }
  out.metrics = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').trimEnd().split('\n').map((l) => untimed(JSON.parse(l)));
  out.summary = untimed(JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8')));
  const store = api.LabelStore.open(join(runDir, 'labels.sqlite'), { create: false });
  out.labels = store.labelledPairs({ includeSkips: true }).flatMap((lp) => lp.labels.map((l) => [lp.pair.id, lp.round, l.teacher, l.kind, l.kind === 'preference' ? l.probFirst : null]));
  store.close();
  return out;
}

async function cli(args: string[]): Promise<Record<string, unknown>> {
  const c = captureCli();
  expect(await main([...args, '--quiet', '--json'], c.ctx), c.err.join('')).toBe(0);
  return lastJson(c.out);
}

describe('the CLI and the library give the same run', () => {
  it('prefrl train vs runPreferenceLoop with the options train.ts passes (defaults left out): metrics, labels, reward model, policy, summary', { timeout: 60_000 }, async () => {
    const seed = 3;
    const fromCli = await cli([
      'train', '--env', 'toy-reach', '--teacher', 'oracle', '--steps', '2048', '--num-envs', '2', '--num-steps', '128', '--workers', '0', '--warmup-steps', '256',
      '--segment-length', '10', '--labels', '30', '--labels-per-round', '10', '--feedback-every', '512', '--eval-every', '512', '--eval-episodes', '2',
      '--reward-hidden', '16', '--reward-members', '2', '--seed', String(seed), '--backend', 'wasm', '--runs-dir', join(root, 'train-cli'),
    ]);

    // The script: what README "Use it from a script" shows, with train.ts's options; everything
    // the command line above leaves at its default is left out here too.
    const env = await api.makeEnv('toy-reach');
    const spec = env.spec;
    env.dispose();
    const run = api.createRunDir({ root: join(root, 'train-lib'), name: 'script', config: { script: true } });
    const store = api.LabelStore.open(join(run.path, 'labels.sqlite'), { envId: spec.id, modelHash: spec.modelHash });
    // prefrl train's teacher draws from new Rng(seed).fork('teacher').
    const teacher = api.makeTeacher('oracle', { env: spec, rng: new api.Rng(seed).fork('teacher') });
    const summary = await api.runPreferenceLoop({
      env: { id: 'toy-reach' },
      ppo: { totalSteps: 2048, numEnvs: 2, numSteps: 128, workers: 0, seed },
      reward: 'learned',
      teacher,
      preferenceModel: 'partial-return',
      budget: 30,
      labelsPerRound: 10,
      segmentLength: 10,
      query: 'disagreement',
      feedbackEvery: 512,
      warmupSteps: 256,
      poolEpisodes: 16,
      rewardNet: { hidden: [16], members: 2 },
      evalEpisodes: 2,
      evalEvery: 512,
      run,
      store,
      logger: api.silentLogger,
      clock: api.systemClock,
    });
    run.writeJson('summary.json', { ...summary, runDir: run.path });
    store.close();
    run.close();

    const a = written(fromCli.runDir as string);
    const b = written(run.path);
    // 2,048 env steps in rollouts of 2 x 128 = 256: an evaluation of the untrained policy at step 0
    // (before the warm-up of one rollout), then every 512 steps, and the final one; 30 oracle
    // labels in 3 rounds.
    expect([summary.envSteps, summary.labelsUsed, summary.curve.map(([s]) => s)]).toEqual([2048, 30, [0, 512, 1024, 1536, 2048]]);
    expect((a.labels as unknown[]).length).toBe(30);
    expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
    // Each round trained for prefrl train's 20 epochs at most, with its patience of 3 (saved in the model's meta).
    expect(JSON.stringify(b['artifacts/reward_model/model.json'])).toContain('"patience":3');
    for (const key of Object.keys(a)) expect(b[key], key).toEqual(a[key]);
    // The CLI's summary is JSON (a NaN, e.g. no held-out accuracy under 5 held-out pairs, is null there).
    expect(untimed(JSON.parse(JSON.stringify(summary)))).toEqual(untimed(fromCli));
  });

  it('an option written as undefined takes its default, as when left out (rewardTrain: { epochs: undefined })', { timeout: 60_000 }, async () => {
    const runOnce = async (rewardTrain: api.LoopOptions['rewardTrain'], tag: string) => {
      const run = api.createRunDir({ root: join(root, tag), name: tag, config: {} });
      const store = api.LabelStore.open(join(run.path, 'labels.sqlite'));
      const spec = (await api.makeEnv('toy-reach')).spec;
      const s = await api.runPreferenceLoop({
        env: { id: 'toy-reach' }, ppo: { totalSteps: 512, numEnvs: 2, numSteps: 128, workers: 0, seed: 1 }, reward: 'learned',
        teacher: api.makeTeacher('oracle', { env: spec, rng: new api.Rng(1).fork('teacher') }), preferenceModel: 'partial-return', budget: 20, labelsPerRound: 20, segmentLength: 10,
        query: 'uniform', feedbackEvery: 256, warmupSteps: 256, poolEpisodes: 16, rewardNet: { hidden: [8], members: 1 }, rewardTrain, evalEpisodes: 1, evalEvery: 512,
        run, store, logger: api.silentLogger, clock: api.systemClock,
      });
      store.close();
      run.close();
      return { s: untimed(s), weights: readFileSync(join(run.path, 'artifacts', 'reward_model', 'weights.bin')).toString('hex') };
    };
    const left = await runOnce(undefined, 'left-out');
    expect(await runOnce({ epochs: undefined, patience: undefined }, 'undefined')).toEqual(left);
    // And a value given is used: one epoch trains another model than up to 20.
    expect((await runOnce({ epochs: 1 }, 'one-epoch')).weights).not.toBe(left.weights);
  });

  it('prefrl offline vs runOffline with the same config (defaults left to each): every artifact, metrics, labels and summary', { timeout: 60_000 }, async () => {
    const dataset = await writeToyDataset(root, 24);
    const fromCli = await cli([
      'offline', '--dataset', dataset, '--teacher', 'synthetic-vlm', '--labels', '30', '--segment-length', '10', '--query', 'disagreement', '--query-rounds', '2',
      '--reward-members', '2', '--reward-hidden', '8', '--reward-epochs', '3', '--updates', '60', '--batch-size', '32', '--hidden', '8,8', '--eval-episodes', '1',
      '--seed', '3', '--backend', 'wasm', '--runs-dir', join(root, 'offline-cli'),
    ]);
    const res = await api.runOffline(
      {
        config: {
          dataset, teacher: 'synthetic-vlm', labels: 30, segmentLength: 10, query: 'disagreement', queryRounds: 2, rewardMembers: 2, rewardHidden: [8], rewardEpochs: 3,
          updates: 60, batchSize: 32, hidden: [8, 8], evalEpisodes: 1, seed: 3, backend: 'wasm',
        },
        runsDir: join(root, 'offline-lib'),
      },
      { logger: api.silentLogger },
    );
    const a = written(fromCli.runDir as string);
    const b = written(res.runDir);
    expect((a.labels as unknown[]).length).toBe(30);
    expect(Object.keys(a)).toEqual(expect.arrayContaining(['artifacts/reward_model/weights.bin', 'artifacts/relabelled_rewards.npy', 'artifacts/agents/iql-learned/actor.json', 'artifacts/agents/bc/actor.json']));
    expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
    for (const key of Object.keys(a)) expect(b[key], key).toEqual(a[key]);
    // The saved config is the same too: the command's flags and the script's config resolve alike.
    const config = (dir: string) => (JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { config: unknown }).config;
    expect(config(res.runDir)).toEqual(config(fromCli.runDir as string));
    expect(untimed(res.summary)).toEqual(untimed(a.summary));
  });
});
