/**
 * readLoopResume (the library's side of `prefrl train --resume`): a script's runPreferenceLoop run
 * stopped by an error after a checkpoint goes on from that checkpoint with its stored labels, its
 * metrics rows after the checkpoint dropped; a run with no checkpoint yet, a damaged checkpoint
 * and a wrong path are told apart.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as api from '../index.js';

let root = '';
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'prefrl-api-resume-'));
  await api.initBackend('wasm');
  const env = await api.makeEnv('toy-reach');
  spec = env.spec;
  env.dispose();
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The options of a small toy-reach preference run: 30 labels in rounds of 10 every 512 steps, a checkpoint every 512. */
function options(run: api.RunDir, store: api.LabelStore, teacher: api.Teacher): api.LoopOptions {
  return {
    env: { id: 'toy-reach' },
    ppo: { totalSteps: 2048, seed: 0, numEnvs: 2, numSteps: 128, workers: 0 },
    reward: 'learned',
    teacher,
    preferenceModel: 'partial-return',
    budget: 30,
    labelsPerRound: 10,
    segmentLength: 10,
    query: 'uniform',
    feedbackEvery: 512,
    warmupSteps: 256,
    poolEpisodes: 8,
    rewardNet: { hidden: [16], members: 1 },
    rewardTrain: { epochs: 2 },
    evalEpisodes: 1,
    evalEvery: 512,
    run,
    store,
    logger: api.silentLogger,
    clock: api.systemClock,
  };
}

let spec: api.EnvSpec;
const oracle = () => api.makeTeacher('oracle', { env: spec, rng: new api.Rng(0).fork('teacher') });

function rows(runPath: string): Record<string, unknown>[] {
  return readFileSync(join(runPath, 'metrics.jsonl'), 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('readLoopResume', () => {
  it('a run stopped by an error in its third round goes on from its last checkpoint: no label lost or asked twice, rows after the checkpoint dropped, steps never run backwards', { timeout: 120_000 }, async () => {
    const run = api.createRunDir({ root, name: 'stopped', config: {} });
    const store = api.LabelStore.open(join(run.path, 'labels.sqlite'));
    const inner = oracle();
    let calls = 0;
    const failing: api.Teacher = {
      id: inner.id,
      label: (pairs) => {
        if (++calls === 3) throw new Error('teacher went away');
        return inner.label(pairs);
      },
    };
    await expect(api.runPreferenceLoop(options(run, store, failing))).rejects.toThrow('teacher went away');
    store.close();
    run.close();
    const ckFile = join(run.path, 'artifacts', 'checkpoint', 'checkpoint.json');
    const ck = JSON.parse(readFileSync(ckFile, 'utf8')) as { globalStep: number };
    expect(ck.globalStep).toBeGreaterThan(0);
    expect(ck.globalStep).toBeLessThan(2048);
    const before = rows(run.path);
    const after = before.filter((r) => typeof r.step === 'number' && r.step > ck.globalStep).length;
    const stored = api.LabelStore.open(join(run.path, 'labels.sqlite'), { create: false });
    const labelsBefore = stored.labels().map((l) => l.id);
    stored.close();
    expect(labelsBefore).toHaveLength(20);

    const found = api.readLoopResume(run.path);
    expect(after).toBeGreaterThan(0);
    expect(found.droppedMetrics).toBe(after);
    expect(rows(run.path)).toEqual(before.filter((r) => !(typeof r.step === 'number' && r.step > ck.globalStep)));
    const resume = found.resume as NonNullable<typeof found.resume>;
    expect(resume.checkpoint.globalStep).toBe(ck.globalStep);
    expect(resume.source).toBe(ckFile);
    expect(resume.net).not.toBeNull();
    // The last round logged at or before the checkpoint, and the evaluations so far.
    const roundSteps = before.filter((r) => 'teacher/labels' in r && (r.step as number) <= ck.globalStep).map((r) => r.step as number);
    expect(resume.lastFeedbackStep).toBe(Math.max(...roundSteps));
    expect(resume.curve).toEqual(before.filter((r) => typeof r['eval/true_return'] === 'number' && (r.step as number) <= ck.globalStep).map((r) => [r.step, r['eval/true_return']]));

    const again = api.openRunDir(run.path);
    const store2 = api.LabelStore.open(join(run.path, 'labels.sqlite'), { create: false });
    const summary = await api.runPreferenceLoop({ ...options(again, store2, oracle()), resume });
    const labelsAfter = store2.labels();
    store2.close();
    again.close();
    expect(summary.labelsUsed).toBe(30);
    expect(summary.envSteps).toBe(2048);
    expect(labelsAfter).toHaveLength(30);
    for (const id of labelsBefore) expect(labelsAfter.some((l) => l.id === id), id).toBe(true);
    expect(new Set(labelsAfter.map((l) => l.pairId)).size).toBe(30);
    const steps = rows(run.path).filter((r) => typeof r.step === 'number' && 'eval/true_return' in r).map((r) => r.step as number);
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
    expect(new Set(steps).size).toBe(steps.length);
    expect(summary.curve.map(([s]) => s)).toEqual(steps);
  });

  it('a run with no checkpoint yet: no resume (start again; its labels are kept); its rows are dropped', () => {
    const run = api.createRunDir({ root, name: 'early', config: {} });
    run.metrics.log(128, { 'teacher/labels': 10 });
    run.close();
    const found = api.readLoopResume(run.path);
    expect(found).toEqual({ resume: undefined, droppedMetrics: 1 });
    expect(readFileSync(join(run.path, 'metrics.jsonl'), 'utf8')).toBe('');
  });

  it('a damaged checkpoint names its file and leaves the metrics as they were; a missing folder is named; a path that is not a string is a TypeError', () => {
    const run = api.createRunDir({ root, name: 'damaged', config: {} });
    run.close();
    const ckFile = join(run.path, 'artifacts', 'checkpoint', 'checkpoint.json');
    mkdirSync(dirname(ckFile), { recursive: true });
    writeFileSync(ckFile, '{"globalStep": 51');
    writeFileSync(join(run.path, 'metrics.jsonl'), '{"step": 1}\n{"step": 900}\n');
    expect(() => api.readLoopResume(run.path)).toThrow(/^.*checkpoint\.json: unreadable checkpoint \(.*\); delete it to restart the run from its stored labels$/);
    expect(readFileSync(join(run.path, 'metrics.jsonl'), 'utf8')).toBe('{"step": 1}\n{"step": 900}\n');
    expect(() => api.readLoopResume(join(root, 'no-such-run'))).toThrow(new api.InputError(join(root, 'no-such-run'), 'no such run folder'));
    expect(() => api.readLoopResume(3 as unknown as string)).toThrow(TypeError);
  });
});
