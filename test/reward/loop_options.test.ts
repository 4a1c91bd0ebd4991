/**
 * Options of the online loop's learned reward and query pool: the standardisation for PPO
 * (`prefrl train --reward-standardize`: the map to mean 0, std 1 over the pool's transitions,
 * checked against sums done here by hand from the members' per-step outputs, and its round
 * trip through a saved model's meta), mean-action query rollouts (`--query-rollouts`), and
 * windows at random offsets in the episodes (`--segment-windows random`), and observation values
 * hidden from the reward model (`--reward-ignore-obs`), and pairs drawn from the best-predicted
 * share of the pool (`--pool-top`), pairs within one episode (`--pair-scope episode`), and the
 * reward model's training options (learning rate, weight decay, input group lasso), and the
 * reward model's inputs chosen from the labels (`--reward-select-inputs`).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../core/backend.js';
import { Rng } from '../../core/rng.js';
import { randomPolicy, rollout } from '../../envs/rollout.js';
import { ToyReachEnv } from '../../envs/toy.js';
import { readAffine, sameInputs, selectionCountsPassed, selectionsDone, standardization } from '../../reward/loop.js';
import { RewardNet } from '../../reward/network.js';
import { cutSegments } from '../../reward/segments.js';
import { LabelStore } from '../../reward/store.js';
import { main } from '../../scripts/cli.js';
import { selectionCounts } from '../../scripts/commands/train.js';
import { captureCli, expectUsageError, lastJson } from '../helpers/cli.js';

let dir = '';
beforeAll(async () => {
  await initBackend('wasm');
  dir = mkdtempSync(join(tmpdir(), 'prefrl-std-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A two-round oracle run on toy-reach (40 labels, 4,096 steps, small nets) with extra flags; its --json summary. */
async function trainToyReach(extra: string[], name: string): Promise<{ runDir: string; queryRolloutSteps: number; envSteps: number; labelsUsed: number }> {
  const { ctx, out, err } = captureCli();
  const base: Record<string, string> = {
    '--env': 'toy-reach', '--teacher': 'oracle', '--labels': '40', '--labels-per-round': '20', '--feedback-every': '1024', '--segment-length': '25',
    '--warmup-steps': '1024', '--steps': '4096', '--num-envs': '2', '--num-steps': '256', '--workers': '0', '--eval-every': '8192', '--eval-episodes': '1',
    '--reward-epochs': '3', '--reward-hidden': '16', '--reward-members': '2',
  };
  // A flag in `extra` replaces the base's value of it.
  const kept = Object.entries(base).filter(([flag]) => !extra.includes(flag)).flat();
  const args = ['train', ...kept, ...extra, '--runs-dir', dir, '--name', name, '--quiet', '--json'];
  expect(await main(args, ctx), err.join('')).toBe(0);
  return lastJson(out);
}

/**
 * trainToyReach([]) once for the file: three tests compare a flag's run with the plain one and
 * only read its run folder (metrics, labels, saved model), so they share it.
 */
let plainRun: ReturnType<typeof trainToyReach> | undefined;
function plainToyReach(): ReturnType<typeof trainToyReach> {
  plainRun ??= trainToyReach([], 'plain');
  return plainRun;
}

describe('reward standardisation', () => {
  it('segmentSteps lists every member\'s per-step outputs in segment order', () => {
    const net = RewardNet.create({ obsDim: 6, actDim: 2, hidden: [8], members: 2 }, new Rng(3));
    const env = new ToyReachEnv();
    const segs = cutSegments(rollout(env, randomPolicy(env.spec, new Rng(4)), { episodes: 1, seed: 2 }), { length: 10 });
    const per = net.segmentSteps(segs.slice(0, 2));
    expect(per.length).toBe(2 * 20);
    const s1 = segs[1];
    const direct = net.predictMembers({ n: 10, obs: s1.obs.subarray(0, 10 * 6), actions: s1.actions, nextObs: s1.obs.subarray(6) });
    // Member 1, segment 1, step 3 sits at member offset 20 + segment offset 10 + 3.
    expect(per[20 + 10 + 3]).toBeCloseTo(direct[10 + 3], 6);
    expect(per[10 + 7]).toBeCloseTo(direct[7], 6);
    net.dispose();
  });

  it('maps the ensemble mean over the pool to mean 0 and std 1', () => {
    const net = RewardNet.create({ obsDim: 6, actDim: 2, hidden: [8], members: 3 }, new Rng(5));
    const env = new ToyReachEnv();
    const segs = cutSegments(rollout(env, randomPolicy(env.spec, new Rng(6)), { episodes: 2, seed: 1 }), { length: 10 });
    const a = standardization(net, segs);
    const per = net.segmentSteps(segs);
    const n = per.length / 3;
    const z: number[] = [];
    for (let i = 0; i < n; i++) z.push(((per[i] + per[n + i] + per[2 * n + i]) / 3 - a.shift) * a.scale);
    const m = z.reduce((s, x) => s + x, 0) / n;
    const v = z.reduce((s, x) => s + (x - m) ** 2, 0) / n;
    expect(m).toBeCloseTo(0, 5);
    expect(v).toBeCloseTo(1, 4);
    expect(a.scale).toBeGreaterThan(0);
    net.dispose();
  });

  it('reads the map from a model\'s meta, and the identity when it is missing or invalid', () => {
    const net = RewardNet.create({ obsDim: 6, actDim: 2, hidden: [4], members: 1 }, new Rng(1));
    expect(readAffine(null)).toEqual({ shift: 0, scale: 1 });
    expect(readAffine(net)).toEqual({ shift: 0, scale: 1 });
    net.meta = { rewardAffine: { shift: 0.25, scale: -2 } };
    expect(readAffine(net)).toEqual({ shift: 0, scale: 1 });
    net.meta = { rewardAffine: { shift: 0.25, scale: 4 } };
    const path = join(dir, 'm');
    net.save(path);
    const back = RewardNet.load(path);
    expect(readAffine(back)).toEqual({ shift: 0.25, scale: 4 });
    net.dispose();
    back.dispose();
  });

  it('prefrl train --reward-standardize refits the map every round, logs it and saves it with the model', async () => {
    const { runDir } = await trainToyReach(['--reward-standardize'], 'std');
    const rows = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
    const fits = rows.filter((r) => 'reward/standardize_std' in r);
    expect(fits.length).toBe(2);
    for (const r of fits) expect(r['reward/standardize_std']).toBeGreaterThan(0);
    const model = JSON.parse(readFileSync(join(runDir, 'artifacts', 'reward_model', 'model.json'), 'utf8')) as { meta: { rewardAffine: { shift: number; scale: number } } };
    const lastFit = fits[fits.length - 1];
    expect(model.meta.rewardAffine.shift).toBeCloseTo(lastFit['reward/standardize_mean'], 6);
    expect(1 / model.meta.rewardAffine.scale).toBeCloseTo(lastFit['reward/standardize_std'], 6);
  }, 120_000);

  it('prefrl train --query-rollouts adds mean-action episodes to the pool before every round and counts their steps apart', async () => {
    const summary = await trainToyReach(['--query-rollouts', '3'], 'qr');
    // 2 rounds x 3 episodes x toy-reach's 50 steps (it never terminates early); PPO's own steps are unchanged.
    expect(summary.queryRolloutSteps).toBe(2 * 3 * 50);
    expect(summary.envSteps).toBe(4096);
    expect(summary.labelsUsed).toBe(40);
    const rows = readFileSync(join(summary.runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
    expect(rows.filter((r) => 'teacher/query_rollout_steps' in r).map((r) => r['teacher/query_rollout_steps'])).toEqual([150, 300]);
    // The count travels with the reward model, for a resumed run to go on from.
    const model = JSON.parse(readFileSync(join(summary.runDir, 'artifacts', 'reward_model', 'model.json'), 'utf8')) as { meta: { queryRolloutSteps: number } };
    expect(model.meta.queryRolloutSteps).toBe(300);
  }, 120_000);

  it('prefrl train --teacher skip --warmup-steps 0 --query-rollouts: the first round takes B-Pref\'s margin from the query rollouts (no PPO episode has finished yet)', async () => {
    // Round 1 comes at step 0: the pool holds only the 2 mean-action episodes, and no training
    // episode has ended to give the mean return the skip threshold is made from.
    const summary = await trainToyReach(['--teacher', 'skip', '--warmup-steps', '0', '--query-rollouts', '2'], 'skip-qr');
    expect(summary.labelsUsed).toBe(40);
    // (the first rounds' small pools hold fewer fresh pairs than a round asks for, so the rounds number 2 or more)
    expect(summary.queryRolloutSteps % (2 * 50)).toBe(0);
    expect(summary.queryRolloutSteps).toBeGreaterThanOrEqual(2 * 2 * 50);
  }, 120_000);

  it('prefrl train --segment-windows random asks about windows that start between the aligned steps', async () => {
    const starts = (runDir: string): number[] => {
      const store = LabelStore.open(join(runDir, 'labels.sqlite'));
      try {
        return store.labelledPairs().flatMap((lp) => [lp.pair.a.startStep, lp.pair.b.startStep]);
      } finally {
        store.close();
      }
    };
    // toy-reach episodes are 50 steps, segments 25: aligned windows start at 0 or 25 only
    const aligned = starts((await plainToyReach()).runDir);
    expect(aligned.length).toBe(80);
    expect(new Set(aligned)).toEqual(new Set([0, 25]));
    const random = starts((await trainToyReach(['--segment-windows', 'random'], 'random')).runDir);
    expect(random.length).toBe(80);
    // one offset in [0, 25] per episode and round (a 50-step episode then holds one window, or two at offset 0)
    expect(random.every((t) => Number.isInteger(t) && t >= 0 && t <= 25)).toBe(true);
    expect(random.filter((t) => t !== 0 && t !== 25).length).toBeGreaterThan(40);
  }, 120_000);
});

describe('prefrl train --pair-scope mixed', () => {
  it('asks half of each round within one episode and the rest from the whole pool', async () => {
    const summary = await trainToyReach(['--pair-scope', 'mixed'], 'pair-scope-mixed');
    expect(summary.labelsUsed).toBe(40);
    const store = LabelStore.open(join(summary.runDir, 'labels.sqlite'));
    try {
      const byRound = new Map<number, { same: number; total: number }>();
      for (const lp of store.labelledPairs()) {
        const r = byRound.get(lp.round) ?? { same: 0, total: 0 };
        r.total++;
        if (lp.pair.a.source === lp.pair.b.source) r.same++;
        byRound.set(lp.round, r);
      }
      // Two rounds of 20: 10 drawn within an episode, 10 from the whole pool (where two windows
      // of one episode are rare: toy-reach gives 2 per episode, and the pool holds 16+ episodes).
      expect([...byRound.values()].map((r) => r.total)).toEqual([20, 20]);
      for (const r of byRound.values()) {
        expect(r.same).toBeGreaterThanOrEqual(10);
        expect(r.same).toBeLessThan(20);
      }
    } finally {
      store.close();
    }
  }, 120_000);

  it('rejects an unknown scope with exit code 2 naming the flag', async () => {
    await expectUsageError(['train', '--env', 'toy-reach', '--pair-scope', 'half'], join(dir, 'bad-scope'), /--pair-scope/);
  });
});

describe('prefrl train --pair-scope episode', () => {
  it('asks only about two windows of the same episode', async () => {
    const summary = await trainToyReach(['--pair-scope', 'episode'], 'pair-scope');
    expect(summary.labelsUsed).toBe(40);
    const store = LabelStore.open(join(summary.runDir, 'labels.sqlite'));
    try {
      const pairs = store.labelledPairs().map((lp) => lp.pair);
      expect(pairs.length).toBe(40);
      for (const { a, b } of pairs) {
        // toy-reach episodes are 50 steps and segments 25: one episode gives the windows at 0 and 25,
        // and the first window's last observation is the second's first (obs holds H + 1 states).
        const [early, late] = a.startStep < b.startStep ? [a, b] : [b, a];
        expect([early.startStep, late.startStep]).toEqual([0, 25]);
        const D = early.obsDim;
        expect(Array.from(early.obs.subarray(25 * D, 26 * D))).toEqual(Array.from(late.obs.subarray(0, D)));
      }
    } finally {
      store.close();
    }
  }, 120_000);
});

describe('prefrl train --pool-top', () => {
  it('draws the second round\'s pairs from the best-predicted half of the pool (the first round from all of it)', async () => {
    const summary = await trainToyReach(['--pool-top', '0.5'], 'pool-top');
    expect(summary.labelsUsed).toBe(40);
    const rounds = readFileSync(join(summary.runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>).filter((m) => m['teacher/pool_segments'] !== undefined);
    expect(rounds.length).toBe(2);
    expect(rounds[0]['teacher/pool_top_segments']).toBeUndefined();
    expect(rounds[1]['teacher/pool_top_segments']).toBe(Math.ceil(0.5 * rounds[1]['teacher/pool_segments']));
  });
});

describe('prefrl train --reward-ignore-obs', () => {
  it('trains a reward model that does not see the listed observation values and saves the list with it', async () => {
    const summary = await trainToyReach(['--reward-ignore-obs', '4,1'], 'ignore-obs');
    expect(summary.labelsUsed).toBe(40);
    const model = JSON.parse(readFileSync(join(summary.runDir, 'artifacts', 'reward_model', 'model.json'), 'utf8')) as { config: { ignoreObs: number[] } };
    expect(model.config.ignoreObs).toEqual([1, 4]);
    const net = RewardNet.load(join(summary.runDir, 'artifacts', 'reward_model'));
    // The fitted normaliser leaves the ignored columns at 0 (mean 0, std 1).
    expect([net.normalizer.mean[1], net.normalizer.std[1], net.normalizer.mean[4], net.normalizer.std[4]]).toEqual([0, 1, 0, 1]);
    net.dispose();
  });

  it.each([
    [['9'], /--reward-ignore-obs: index 9 is out of range; toy-reach observations have 6 values \(indices 0-5\)/],
    [['1,x'], /--reward-ignore-obs: expected observation indices \(integers >= 0\)/],
    [['2,2'], /--reward-ignore-obs: an index is listed twice/],
    [['0,1,2,3,4,5', '--reward-input', 'obs'], /hides all 6 observation values, so --reward-input obs would see nothing/],
  ])('rejects %j with exit code 2 and a message naming the flag, before creating a run', async (extra, message) => {
    await expectUsageError(['train', '--env', 'toy-reach', '--reward-ignore-obs', ...extra], join(dir, 'bad-ignore'), message);
  });
});

describe('prefrl train --reward-select-inputs', () => {
  it('chooses the inputs once enough labels are stored, trains the model anew on them and saves the choice', async () => {
    // Two rounds of 20 oracle labels: the selection runs after round 1 (40 >= 30 labels).
    const summary = await trainToyReach(['--reward-select-inputs', '30'], 'select-inputs');
    expect(summary.labelsUsed).toBe(40);
    const art = join(summary.runDir, 'artifacts');
    const sel = JSON.parse(readFileSync(join(art, 'input_selection.json'), 'utf8')) as { labels: number; keepObs: number[]; keepAction: boolean; steps: { kept: boolean }[]; fits: number };
    expect(sel.labels).toBe(40);
    // toy-reach's reward is a function of the goal offset (observation values 4 and 5) and the action.
    expect(sel.keepObs.some((j) => j === 4 || j === 5)).toBe(true);
    expect(sel.steps.filter((st) => st.kept).length).toBe(sel.keepObs.length + (sel.keepAction ? 1 : 0));
    const model = JSON.parse(readFileSync(join(art, 'reward_model', 'model.json'), 'utf8')) as { config: { ignoreObs: number[]; input: string }; meta: { inputSelection?: { keepObs: number[] } } };
    expect(model.config.ignoreObs).toEqual([0, 1, 2, 3, 4, 5].filter((j) => !sel.keepObs.includes(j)));
    expect(model.config.input).toBe(sel.keepAction ? 'obs-action' : 'obs');
    expect(model.meta.inputSelection?.keepObs).toEqual(sel.keepObs);
    const metrics = readFileSync(join(summary.runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
    const logged = metrics.filter((m) => 'reward/selected_obs' in m);
    expect(logged).toHaveLength(1);
    expect(logged[0]['reward/selected_obs']).toBe(sel.keepObs.length);
    // The forward selection's cross-validated fits are most of the work: 51 s in a full run on a
    // loaded 2-core machine, past the default 60 s with two more busy processes beside it.
  }, 240_000);

  it('selects again at each later count of a list, keeping the history', async () => {
    // Three rounds of 20 oracle labels: selections after round 1 (40 >= 30) and round 2 (60 >= 50).
    const summary = await trainToyReach(['--labels', '60', '--steps', '6144', '--reward-select-inputs', '30,50'], 'reselect-inputs');
    expect(summary.labelsUsed).toBe(60);
    const art = join(summary.runDir, 'artifacts');
    type Rec = { labels: number; keepObs: number[]; keepAction: boolean; selection: number };
    const sel = JSON.parse(readFileSync(join(art, 'input_selection.json'), 'utf8')) as Rec & { history: Rec[] };
    expect(sel.history.map((h) => [h.labels, h.selection])).toEqual([
      [40, 1],
      [60, 2],
    ]);
    expect(sel.selection).toBe(2);
    expect(sel.keepObs).toEqual(sel.history[1].keepObs);
    // The saved model sees what the latest selection chose.
    const model = JSON.parse(readFileSync(join(art, 'reward_model', 'model.json'), 'utf8')) as { config: { ignoreObs: number[]; input: string }; meta: { inputSelection: Rec; inputSelectionHistory: Rec[] } };
    expect(model.config.ignoreObs).toEqual([0, 1, 2, 3, 4, 5].filter((j) => !sel.keepObs.includes(j)));
    expect(model.config.input).toBe(sel.keepAction ? 'obs-action' : 'obs');
    expect(model.meta.inputSelectionHistory).toHaveLength(2);
    const metrics = readFileSync(join(summary.runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
    const logged = metrics.filter((m) => 'reward/selected_obs' in m);
    expect(logged).toHaveLength(2);
    expect(logged[0]['reward/selection_kept_model']).toBe(0);
    // The second selection keeps the model exactly when it chose what the first did.
    const sameChoice = JSON.stringify([sel.history[0].keepObs, sel.history[0].keepAction]) === JSON.stringify([sel.history[1].keepObs, sel.history[1].keepAction]);
    expect(logged[1]['reward/selection_kept_model']).toBe(sameChoice ? 1 : 0);
  }, 240_000);

  it('refuses fewer than 30 labels, counts that do not rise, and non-numbers, naming the flag, before creating a run', async () => {
    await expectUsageError(['train', '--env', 'toy-reach', '--reward-select-inputs', '10'], join(dir, 'bad-select'), /--reward-select-inputs/);
    await expectUsageError(['train', '--env', 'toy-reach', '--reward-select-inputs', '300,100'], join(dir, 'bad-select'), /--reward-select-inputs: counts must rise/);
    await expectUsageError(['train', '--env', 'toy-reach', '--reward-select-inputs', '100,x'], join(dir, 'bad-select'), /--reward-select-inputs/);
    await expectUsageError(['train', '--env', 'toy-reach', '--reward-select-inputs', '100', '--reward-select-workers', '-2'], join(dir, 'bad-select'), /--reward-select-workers/);
  });

  it('counts the selection points a store has passed, and reads a saved single count', () => {
    expect(selectionCounts([])).toBeUndefined();
    expect(selectionCounts(undefined)).toBeUndefined();
    expect(selectionCounts(300)).toEqual([300]);
    expect(selectionCounts(['100', '300', '600'])).toEqual([100, 300, 600]);
    expect(selectionCountsPassed(undefined, 500)).toBe(0);
    expect(selectionCountsPassed(300, 299)).toBe(0);
    expect(selectionCountsPassed(300, 300)).toBe(1);
    expect(selectionCountsPassed([100, 300, 600], 99)).toBe(0);
    expect(selectionCountsPassed([100, 300, 600], 350)).toBe(2);
    expect(selectionCountsPassed([100, 300, 600], 1000)).toBe(3);
    // Never below the 30 labels the folds need, whatever the count asked.
    expect(selectionCountsPassed([10], 29)).toBe(0);
    expect(selectionCountsPassed([10], 30)).toBe(1);
  });

  it('tells whether a model already sees the chosen inputs, and how many selections it has been through', () => {
    expect(sameInputs({ input: 'obs', ignoreObs: [3, 0, 1] }, { input: 'obs', ignoreObs: [0, 1, 3] })).toBe(true);
    expect(sameInputs({ input: 'obs-action', ignoreObs: [0, 1, 3] }, { input: 'obs', ignoreObs: [0, 1, 3] })).toBe(false);
    expect(sameInputs({ input: 'obs', ignoreObs: [0, 1] }, { input: 'obs', ignoreObs: [0, 1, 3] })).toBe(false);
    expect(sameInputs({}, { input: 'obs-action', ignoreObs: [] })).toBe(true);
    const net = RewardNet.create({ obsDim: 4, actDim: 1, hidden: [4], members: 1 }, new Rng(1));
    expect(selectionsDone(net)).toBe(0);
    net.meta = { ...net.meta, inputSelection: { keepObs: [2] } };
    expect(selectionsDone(net)).toBe(1); // saved before re-selection existed
    net.meta = { ...net.meta, inputSelection: { keepObs: [2], selection: 3 } };
    expect(selectionsDone(net)).toBe(3);
    expect(selectionsDone(null)).toBe(0);
    net.dispose();
  });
});

describe('prefrl train reward-model regularisation flags', () => {
  it('--reward-lr, --reward-weight-decay, --reward-input-l1, --reward-input-prox and --reward-flip-rate reach the reward model\'s training', async () => {
    const plain = await plainToyReach();
    const reg = await trainToyReach(['--reward-lr', '0.003', '--reward-weight-decay', '0.01', '--reward-input-l1', '0.01', '--reward-input-prox', '0.5', '--reward-flip-rate', '0.1'], 'reg');
    const cfg = JSON.parse(readFileSync(join(reg.runDir, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect([cfg.rewardLr, cfg.rewardWeightDecay, cfg.rewardInputL1, cfg.rewardInputProx, cfg.rewardFlipRate]).toEqual([0.003, 0.01, 0.01, 0.5, 0.1]);
    // Same seed, same labels asked in round 1 (uniform first round): only the training differs.
    const a = RewardNet.load(join(plain.runDir, 'artifacts', 'reward_model'));
    const b = RewardNet.load(join(reg.runDir, 'artifacts', 'reward_model'));
    // The options the last round trained with, as saved with the model.
    expect(b.meta.training).toMatchObject({ lr: 0.003, weightDecay: 0.01, inputL1: 0.01, inputProx: 0.5, flipRate: 0.1 });
    expect(a.meta.training).toMatchObject({ lr: 3e-4, weightDecay: 0, inputL1: 0, inputProx: 0, flipRate: 0 });
    const wa = a.getMemberWeights(0)[0];
    const wb = b.getMemberWeights(0)[0];
    let diff = 0;
    for (let i = 0; i < wa.length; i++) diff = Math.max(diff, Math.abs(wa[i] - wb[i]));
    expect(diff).toBeGreaterThan(1e-3);
    a.dispose();
    b.dispose();
  }, 120_000);

  it.each([
    [['--reward-lr', '0'], /--reward-lr: must be > 0, got 0/],
    [['--reward-weight-decay', '-1'], /--reward-weight-decay/],
    [['--reward-input-l1', 'x'], /--reward-input-l1/],
    [['--reward-input-prox', '-1'], /--reward-input-prox/],
    [['--reward-flip-rate', '0.5'], /--reward-flip-rate/],
  ])('rejects %j with exit code 2 and a message naming the flag, before creating a run', async (extra, message) => {
    await expectUsageError(['train', '--env', 'toy-reach', ...extra], join(dir, 'bad-reg'), message);
  });
});

describe('prefrl train --reward-additive', () => {
  it('trains an additive reward model (one block of --reward-hidden units per input) and records it in the config and the model', async () => {
    const summary = await trainToyReach(['--reward-additive'], 'additive');
    expect(summary.labelsUsed).toBe(40);
    const cfg = JSON.parse(readFileSync(join(summary.runDir, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(cfg.rewardAdditive).toBe(true);
    const net = RewardNet.load(join(summary.runDir, 'artifacts', 'reward_model'));
    expect(net.config.additive).toBe(true);
    // toy-reach, obs-action: 6 + 2 inputs, each with its own 16 units.
    expect(RewardNet.layerSizes(net.config)).toEqual([8, 128, 1]);
    const w0 = net.getMemberWeights(0)[0];
    // Input 3 reaches units 48-63 only.
    for (let j = 0; j < 128; j++) expect(w0[3 * 128 + j] !== 0).toBe(j >= 48 && j < 64);
    net.dispose();
  });
});

describe('prefrl train --reward-output-init', () => {
  it('starts the reward model from a zero output layer (recorded in the config; the fit differs from the default draw)', async () => {
    const plain = await plainToyReach();
    const zero = await trainToyReach(['--reward-output-init', '0'], 'outinit-zero');
    const cfg = JSON.parse(readFileSync(join(zero.runDir, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(cfg.rewardOutputInit).toBe(0);
    const a = RewardNet.load(join(plain.runDir, 'artifacts', 'reward_model'));
    const b = RewardNet.load(join(zero.runDir, 'artifacts', 'reward_model'));
    // Same first-layer draws; different training paths from the different output layers.
    expect(Array.from(b.getMemberWeights(0)[2])).not.toEqual(Array.from(a.getMemberWeights(0)[2]));
    a.dispose();
    b.dispose();
    // Two train runs: 32 s in a full run on a loaded 2-core machine.
  }, 120_000);

  it('rejects a negative scale with exit code 2 naming the flag', async () => {
    await expectUsageError(['train', '--env', 'toy-reach', '--reward-output-init', '-1'], join(dir, 'bad-outinit'), /--reward-output-init/);
  });
});

describe('prefrl train with too few steps for a feedback round', () => {
  it('the progress bar counts to the last whole rollout, not to --steps', async () => {
    const { ctx, err } = captureCli();
    const args = ['train', '--env', 'toy-reach', '--reward', 'true', '--steps', '200', '--num-envs', '2', '--num-steps', '128', '--workers', '0', '--eval-episodes', '1', '--runs-dir', dir, '--name', 'bar'];
    expect(await main(args, ctx), err.join('')).toBe(0);
    const log = err.join('');
    expect(log).toMatch(/train toy-reach 100% 256\/256 steps/);
    expect(log).not.toMatch(/\/200 steps/);
  });

  it('warns that no labels were asked and says the reward model was never trained, instead of printing NaN metrics', async () => {
    const { ctx, out, err } = captureCli();
    const args = ['train', '--env', 'toy-reach', '--teacher', 'oracle', '--labels', '40', '--labels-per-round', '20', '--segment-length', '25',
      '--warmup-steps', '64', '--steps', '200', '--num-envs', '2', '--num-steps', '128', '--workers', '0', '--eval-episodes', '1',
      '--reward-hidden', '8', '--reward-members', '1', '--runs-dir', dir, '--name', 'too-short', '--quiet'];
    expect(await main(args, ctx), err.join('')).toBe(0);
    const log = err.join('');
    // 200 steps is not a whole number of 2 x 128-step rollouts: the start-up line says where the run stops.
    expect(log).toContain('PPO collects whole rollouts of 256 env steps (--num-envs 2 x --num-steps 128): the run stops at the first rollout end at or past 200 steps, after 256');
    // The warm-up is cut to 50 steps (a quarter of 200), but PPO collects whole 256-step
    // rollouts, so it takes 256 steps: the whole run, and no feedback round comes.
    expect(log).toContain('warm-up shortened from 64 to 50 env steps (a quarter of the 200 steps of the run); it collects whole rollouts of 256 env steps, so it takes 256');
    expect(log).toContain('no labels were asked: the warm-up took all 256 env steps of the run (--steps 200; PPO collects whole rollouts of 256 env steps, --num-envs x --num-steps), so no feedback round ran');
    expect(log).not.toContain('before the query pool held');
    const text = out.join('');
    expect(text).toContain('labels used 0, env steps 256');
    expect(text).toContain('reward model: never trained (no labels were asked, or nobody answered; see the warning above)');
    expect(text).not.toMatch(/NaN/);
  });

  it('without a warm-up, says the query pool was short when the one feedback round came', async () => {
    const { ctx, err } = captureCli();
    const args = ['train', '--env', 'toy-reach', '--teacher', 'oracle', '--labels', '40', '--labels-per-round', '20', '--segment-length', '25',
      '--warmup-steps', '0', '--steps', '256', '--num-envs', '2', '--num-steps', '128', '--workers', '0', '--eval-episodes', '1',
      '--reward-hidden', '8', '--reward-members', '1', '--runs-dir', dir, '--name', 'no-warmup', '--quiet'];
    expect(await main(args, ctx), err.join('')).toBe(0);
    const log = err.join('');
    // The round at step 0 finds an empty pool; the one rollout then ends the run.
    expect(log).not.toContain('warm-up shortened');
    expect(log).toMatch(/no labels were asked: the run ended at 256 env steps, before the query pool held two complete 25-step segments/);
  });
});
