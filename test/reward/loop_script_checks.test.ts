/**
 * runPreferenceLoop called from a script: options of the wrong kind or NaN are refused before
 * anything runs (naming the option), and a teacher of the script's own that answers other than one
 * label per pair, in order, stops the run with an error naming the teacher instead of training on
 * fewer labels.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../core/backend.js';
import { systemClock } from '../../core/clock.js';
import { silentLogger } from '../../core/log.js';
import { Rng } from '../../core/rng.js';
import { createRunDir } from '../../core/run.js';
import { type LoopOptions, runPreferenceLoop } from '../../reward/loop.js';
import { LabelStore } from '../../reward/store.js';
import { SYNTHETIC_PRESETS, SyntheticTeacher } from '../../reward/teachers/synthetic.js';
import type { Label, Pair, Teacher } from '../../reward/types.js';

let root = '';
beforeAll(async () => {
  await initBackend('wasm');
  root = mkdtempSync(join(tmpdir(), 'prefrl-loop-options-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

let runs = 0;
/** A small learned-reward run on toy-reach (10 labels a round, 2,048 steps) with `over` replacing options. */
async function loop(teacher: Teacher, over: Record<string, unknown> = {}): Promise<{ error: unknown; runPath: string; stored: number }> {
  const run = createRunDir({ root, name: `loop-${runs++}`, config: {} });
  const store = LabelStore.open(join(run.path, 'labels.sqlite'));
  const options = {
    env: { id: 'toy-reach' },
    ppo: { totalSteps: 2048, numEnvs: 2, numSteps: 256, workers: 0, seed: 0 },
    reward: 'learned',
    teacher,
    preferenceModel: 'partial-return',
    budget: 20,
    labelsPerRound: 10,
    segmentLength: 25,
    query: 'uniform',
    feedbackEvery: 512,
    warmupSteps: 512,
    poolEpisodes: 16,
    rewardNet: { hidden: [8], members: 1 },
    rewardTrain: { epochs: 1 },
    evalEpisodes: 1,
    evalEvery: 4096,
    run,
    store,
    logger: silentLogger,
    clock: systemClock,
    ...over,
  } as unknown as LoopOptions;
  let error: unknown = null;
  try {
    await runPreferenceLoop(options);
  } catch (e) {
    error = e;
  }
  const stored = store.counts().labels;
  store.close();
  run.close();
  return { error, runPath: run.path, stored };
}

const oracle = (): SyntheticTeacher => new SyntheticTeacher({ ...SYNTHETIC_PRESETS.oracle, rng: new Rng(0), id: 'oracle' });

describe('runPreferenceLoop options from a script', () => {
  const bad: [string, Record<string, unknown>, string, typeof RangeError | typeof TypeError][] = [
    ['a misspelt reward kind', { reward: 'learnt' }, `option reward must be 'learned', 'true' or 'model', got "learnt"`, RangeError],
    ['a NaN budget', { budget: Number.NaN }, 'option budget must be a whole number >= 1, got NaN', RangeError],
    ['no budget with a learned reward', { budget: 0 }, 'option budget must be a whole number >= 1, got 0', RangeError],
    ['0 labels per round', { labelsPerRound: 0 }, 'option labelsPerRound must be a whole number >= 1, got 0', RangeError],
    ['a fractional segment length', { segmentLength: 2.5 }, 'option segmentLength must be a whole number >= 2, got 2.5', RangeError],
    ['a segment length given as text', { segmentLength: '25' }, 'option segmentLength must be a whole number >= 2, got "25"', TypeError],
    ['a NaN env-step budget', { ppo: { totalSteps: Number.NaN, seed: 0 } }, 'option ppo.totalSteps must be a whole number >= 1, got NaN', RangeError],
    ['no seed', { ppo: { totalSteps: 2048 } }, 'option ppo.seed must be a finite number, got undefined', TypeError],
    ['feedback every 0 steps', { feedbackEvery: 0 }, 'option feedbackEvery must be a whole number >= 1, got 0', RangeError],
    ['a negative warm-up', { warmupSteps: -1 }, 'option warmupSteps must be a whole number >= 0, got -1', RangeError],
    ['an empty pool', { poolEpisodes: 0 }, 'option poolEpisodes must be a whole number >= 1, got 0', RangeError],
    ['no evaluation episodes', { evalEpisodes: 0 }, 'option evalEpisodes must be a whole number >= 1, got 0', RangeError],
    ['a pool share over 1', { poolTop: 1.5 }, 'option poolTop must be a number in (0, 1], got 1.5', RangeError],
    ['an unknown query method', { query: 'random' }, 'option query must be one of uniform, disagreement, entropy, kcenter, kcenter-disagreement, kcenter-entropy, got "random"', RangeError],
    ['an unknown preference model', { preferenceModel: 'bradley-terry' }, `option preferenceModel must be 'partial-return' or 'regret', got "bradley-terry"`, RangeError],
    ['no label store with a learned reward', { store: undefined }, "option store must be a LabelStore (LabelStore.open) for reward 'learned', got undefined", TypeError],
  ];
  for (const [what, over, message, kind] of bad) {
    it(`refuses ${what} before any work, naming the option`, async () => {
      const teacher = oracle();
      let asked = 0;
      const counting: Teacher = { id: 'oracle', label: (pairs) => ((asked += pairs.length), teacher.label(pairs)) };
      const r = await loop(counting, over);
      expect(r.error).toBeInstanceOf(kind);
      expect((r.error as Error).message).toBe(`runPreferenceLoop: ${message}`);
      expect([asked, r.stored, existsSync(join(r.runPath, 'artifacts', 'checkpoint'))]).toEqual([0, 0, false]);
    });
  }

  it('takes the same options with their values in range (the check refuses only what it names)', async () => {
    const r = await loop(oracle(), { poolTop: 1, oversample: 1, queryRollouts: 0 });
    expect(r.error).toBeNull();
    expect(r.stored).toBe(20);
  });

  it('a true-reward run needs no budget and no teacher, and its query options are not checked', async () => {
    const r = await loop(undefined as unknown as Teacher, { reward: 'true', teacher: undefined, budget: 0, query: 'ignored', preferenceModel: 'ignored' });
    expect(r.error).toBeNull();
    expect(r.stored).toBe(0);
  });

  it('a true-reward run needs no label store either (it asks nothing), and logs its evaluations as with one', async () => {
    const r = await loop(undefined as unknown as Teacher, { reward: 'true', teacher: undefined, budget: 0, store: undefined });
    expect(r.error).toBeNull();
    expect(r.stored).toBe(0);
    const rows = readFileSync(join(r.runPath, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
    expect(rows.filter((row) => 'eval/true_return' in row).map((row) => row.step)).toEqual([0, 2048]);
    expect(existsSync(join(r.runPath, 'artifacts', 'checkpoint', 'checkpoint.json'))).toBe(true);
  });
});

describe("a teacher's answers", () => {
  /** The oracle's labels for each round, passed through `edit` before the loop gets them. */
  const editing = (edit: (labels: Label[], pairs: readonly Pair[]) => Label[]): Teacher => {
    const o = oracle();
    return { id: 'mine', label: async (pairs) => edit(await o.label(pairs), pairs) };
  };

  it('fewer labels than pairs stop the run at the first round, naming the teacher and the counts; nothing of that round is stored', async () => {
    const r = await loop(editing((labels) => labels.slice(0, 7)));
    expect((r.error as Error).message).toBe(
      "runPreferenceLoop: teacher mine must answer one label per pair, in the pairs' order (reward/types.ts Teacher.label): 7 labels for 10 pairs",
    );
    expect(r.stored).toBe(0);
  });

  it('no labels at all (the run went on with PPO on a reward of 0 before)', async () => {
    const r = await loop(editing(() => []));
    expect((r.error as Error).message).toMatch(/teacher mine must answer one label per pair.*: 0 labels for 10 pairs$/);
  });

  it('labels out of order name the first one that is for another pair', async () => {
    const r = await loop(editing((labels) => [labels[1], labels[0], ...labels.slice(2)]));
    expect((r.error as Error).message).toMatch(/: label 0 is for pair \S+, not \S+$/);
    const m = /label 0 is for pair "(\S+)", not (\S+)$/.exec((r.error as Error).message);
    expect(m?.[1]).not.toBe(m?.[2]);
  });

  it('an answer that is not an array', async () => {
    const r = await loop({ id: 'mine', label: async () => undefined as unknown as Label[] });
    expect(r.error).toBeInstanceOf(TypeError);
    expect((r.error as Error).message).toBe('runPreferenceLoop: teacher mine answered with undefined, not an array of labels');
  });
});
