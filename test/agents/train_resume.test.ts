/**
 * `prefrl train` edge cases: feedback rounds that get only skips, a regret expert from another
 * env, --resume of a finished run or with flags that cannot change, the metrics of a resumed
 * run (no rows after the checkpoint kept), Ctrl-C's resume hint, segments longer than an
 * episode, and checks that come before any work.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../core/backend.js';
import { systemClock } from '../../core/clock.js';
import { Logger } from '../../core/log.js';
import { Rng } from '../../core/rng.js';
import { createRunDir, type RunDir, truncateMetrics } from '../../core/run.js';
import { TOY_SPEC } from '../../envs/toy.js';
import { noPreferenceText, runPreferenceLoop } from '../../reward/loop.js';
import { LabelStore } from '../../reward/store.js';
import { SYNTHETIC_PRESETS, SyntheticTeacher } from '../../reward/teachers/synthetic.js';
import type { Label, Pair, Teacher } from '../../reward/types.js';
import { main } from '../../scripts/cli.js';
import { captureCli, expectUsageError, lastJson, spawnCli } from '../helpers/cli.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The flags of a small, fast toy-reach run; `over` replaces or adds flags ({'--steps': '512'}). */
function tiny(over: Record<string, string> = {}): string[] {
  const base: Record<string, string> = {
    '--env': 'toy-reach', '--steps': '4096', '--num-envs': '2', '--num-steps': '256', '--workers': '0', '--warmup-steps': '1024', '--feedback-every': '1024',
    '--eval-every': '1024', '--eval-episodes': '1', '--reward-epochs': '2', '--reward-hidden': '16', '--reward-members': '1', '--segment-length': '25',
  };
  return Object.entries({ ...base, ...over }).flat();
}
const TINY = tiny();

/** A teacher `id` that skips every pair of its first call (with `reason`), then answers as the oracle; `asked` holds each call's pair count. */
function skipsFirstThenOracle(id: string, reason: string): { teacher: Teacher; asked: number[] } {
  const oracle = new SyntheticTeacher({ ...SYNTHETIC_PRESETS.oracle, rng: new Rng(0), id });
  const asked: number[] = [];
  const teacher: Teacher = {
    id,
    observe: (info) => oracle.observe?.(info),
    async label(pairs: readonly Pair[]): Promise<Label[]> {
      asked.push(pairs.length);
      if (asked.length === 1) return pairs.map((p) => ({ kind: 'skip' as const, id: `${id}-${p.id}`, pairId: p.id, teacher: id, reason }));
      return oracle.label(pairs);
    },
  };
  return { teacher, asked };
}

/** A short preference loop on toy-reach (10 labels a round, 4,096 steps) for the teacher-behaviour tests. */
function tinyLoop(teacher: Teacher, run: RunDir, store: LabelStore, logger: Logger, budget: number): ReturnType<typeof runPreferenceLoop> {
  return runPreferenceLoop({
    env: { id: 'toy-reach' },
    ppo: { totalSteps: 4096, numEnvs: 2, numSteps: 256, workers: 0, seed: 0 },
    reward: 'learned',
    teacher,
    preferenceModel: 'partial-return',
    budget,
    labelsPerRound: 10,
    segmentLength: 25,
    query: 'uniform',
    feedbackEvery: 1024,
    warmupSteps: 1024,
    poolEpisodes: 16,
    rewardNet: { hidden: [16], members: 1 },
    rewardTrain: { epochs: 2 },
    evalEpisodes: 1,
    evalEvery: 8192,
    run,
    store,
    logger,
    clock: systemClock,
  });
}

let dir = '';
beforeAll(async () => {
  await initBackend('wasm');
  dir = mkdtempSync(join(tmpdir(), 'prefrl-train-resume-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function rows(runDir: string): Record<string, unknown>[] {
  return readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('feedback rounds with no preference (only skips)', () => {
  it('synthetic-vlm on toy-reach: each round warns and training goes on; a budget spent on skips stops with one line naming the teacher, no stack', async () => {
    const c = captureCli();
    const runs = join(dir, 'svlm');
    const code = await main(['train', ...TINY, '--teacher', 'synthetic-vlm', '--labels', '20', '--labels-per-round', '10', '--runs-dir', runs, '--quiet'], c.ctx);
    const err = c.err.join('');
    expect(code, err).toBe(1);
    expect(err).not.toContain('RangeError');
    expect(err).not.toMatch(/^\s+at /m);
    expect(err).toMatch(/warn: round 0: 10\/20 labels, and all 10 of this round are skips: the teacher synthetic-vlm gave no preference, only skips \(most often: "unsure: equal success at the final frame", 10 times\), so the reward model is not trained this round; PPO goes on with an untrained reward \(r = 0\) and the next round, in 1024 env steps, asks again/);
    expect(err).toMatch(/prefrl train: .*labels\.sqlite: the teacher synthetic-vlm gave no preference, only skips \(most often: "unsure: equal success at the final frame", 20 times\) in all 20 labels of the --labels budget/);
    // Both rounds were logged (labels and skips), with no reward-model metrics.
    const runDir = join(runs, readdirSync(runs)[0]);
    const rounds = rows(runDir).filter((r) => 'teacher/labels' in r);
    expect(rounds.map((r) => [r['teacher/labels'], r['teacher/round_skips']])).toEqual([
      [10, 10],
      [20, 10],
    ]);
    expect(rounds.some((r) => 'reward/val_accuracy' in r)).toBe(false);
  }, 60_000);

  it('human teacher with nobody answering (--human-timeout 1): every round times out with a warning, the timeouts do not use up --labels, and the run ends with a warning, not an error', async () => {
    const c = captureCli();
    const code = await main(['train', ...TINY, '--teacher', 'human', '--human-timeout', '1', '--human-port', '0', '--labels', '4', '--labels-per-round', '4', '--runs-dir', join(dir, 'human'), '--quiet'], c.ctx);
    const err = c.err.join('');
    expect(code, err).toBe(0);
    expect(err).not.toMatch(/^\s+at /m);
    // Rounds at 1024, 2048 and 3072 env steps (4096 steps, warm-up 1024, a round every 1024): 3 x 4 pairs, none answered.
    expect(err).toMatch(/warn: round 0: 0\/4 labels, and all 4 of this round are skips: the teacher human gave no preference, only skips \(most often: "no answer within 1 s", 4 times\)/);
    expect(err).toMatch(/warn: round 2: 0\/4 labels, and all 4 of this round are skips: .*"no answer within 1 s", 12 times/);
    expect(err).toMatch(/warn: nobody answered: the 12 pairs asked got no answer within the human teacher's timeout/);
    const runs = join(dir, 'human');
    const rounds = rows(join(runs, readdirSync(runs)[0])).filter((r) => 'teacher/labels' in r);
    expect(rounds.map((r) => [r['teacher/labels'], r['teacher/round_skips']])).toEqual([
      [0, 4],
      [0, 4],
      [0, 4],
    ]);
  }, 60_000);

  it('timeout skips do not use up the budget: after a round nobody answered, the next round asks the whole budget again and the reward model trains on those answers', async () => {
    const { teacher, asked } = skipsFirstThenOracle('human', 'no answer within 1 s (human teacher timeout)');
    const run = createRunDir({ root: join(dir, 'timeouts'), name: 'timeouts', config: {} });
    const store = LabelStore.open(join(run.path, 'labels.sqlite'), { envId: TOY_SPEC.id, modelHash: TOY_SPEC.modelHash });
    const logger = new Logger({ write: () => undefined });
    try {
      const s = await tinyLoop(teacher, run, store, logger, 10);
      // Round 0: 10 timeouts (budget still 10 answers away); round 1: 10 answers; then the budget is spent.
      expect(asked).toEqual([10, 10]);
      expect(s.labelsUsed).toBe(10);
      expect(store.counts()).toMatchObject({ labels: 20, timeouts: 10, pending: 10 });
      expect(existsSync(run.artifact('reward_model'))).toBe(true);
    } finally {
      store.close();
      run.close();
    }
    const logged = rows(run.path).filter((r) => 'teacher/labels' in r);
    expect(logged.map((r) => r['teacher/labels'])).toEqual([0, 10]);
  }, 60_000);

  it('a budget cut short after timeouts says how many pairs got no answer, not only that the rounds did not fit', async () => {
    const { teacher } = skipsFirstThenOracle('human', 'no answer within 1 s (human teacher timeout)');
    const run = createRunDir({ root: join(dir, 'short'), name: 'short', config: {} });
    const store = LabelStore.open(join(run.path, 'labels.sqlite'), { envId: TOY_SPEC.id, modelHash: TOY_SPEC.modelHash });
    const warnings: string[] = [];
    const logger = new Logger({ write: (t: string) => void warnings.push(t) });
    try {
      // A budget of 1,000 labels cannot be spent in 4,096 steps of rounds of 10.
      const s = await tinyLoop(teacher, run, store, logger, 1000);
      const c = store.counts();
      expect(c.timeouts).toBe(10);
      expect(s.labelsUsed).toBe(c.labels - 10);
      const last = warnings.filter((w) => w.includes('the run ended at'));
      expect(last).toHaveLength(1);
      expect(last[0]).toContain(`with ${s.labelsUsed} of its 1000 labels answered; 10 of the pairs asked got no answer within the human teacher's timeout (they stay in ${join(run.path, 'labels.sqlite')} for prefrl serve): rounds of 10 labels`);
    } finally {
      store.close();
      run.close();
    }
  }, 60_000);

  it('a first round of skips only, then preferences: the loop trains the reward model from the second round on', async () => {
    const { teacher } = skipsFirstThenOracle('late', 'not looking yet');
    const run = createRunDir({ root: join(dir, 'late'), name: 'late', config: {} });
    const store = LabelStore.open(join(run.path, 'labels.sqlite'), { envId: TOY_SPEC.id, modelHash: TOY_SPEC.modelHash });
    const logger = new Logger({ write: () => undefined });
    try {
      const s = await tinyLoop(teacher, run, store, logger, 20);
      expect(s.labelsUsed).toBe(20);
      expect(Number.isNaN(s.rewardAccuracy) || Number.isFinite(s.rewardAccuracy)).toBe(true);
      expect(logger.warnings.filter((w) => w.includes('of this round are skips'))).toHaveLength(1);
      expect(logger.warnings[0]).toContain('the teacher late gave no preference, only skips (most often: "not looking yet", 10 times)');
      expect(existsSync(run.artifact('reward_model'))).toBe(true);
    } finally {
      store.close();
      run.close();
    }
    const logged = rows(run.path).filter((r) => 'teacher/labels' in r);
    expect(logged).toHaveLength(2);
    expect('reward/val_accuracy' in logged[0]).toBe(false);
    expect('reward/train_pairs' in logged[1]).toBe(true);
  }, 60_000);

  it('noPreferenceText names the teacher and its most frequent skip reason (without the parenthesised detail)', () => {
    const skip = (reason: string): Label => ({ kind: 'skip', id: reason, pairId: 'p', teacher: 't', reason });
    expect(noPreferenceText('t', [skip('no answer within 3 s (human teacher timeout)'), skip('no answer within 3 s (human teacher timeout)'), skip('other')])).toBe(
      'the teacher t gave no preference, only skips (most often: "no answer within 3 s", 2 times)',
    );
    expect(noPreferenceText('t', [])).toBe('the teacher t gave no preference, only skips');
  });
});

describe('refused up front', () => {
  it('--teacher regret with an expert trained on another env (reacher: 10 observation values; toy-reach has 6) is a usage error naming --expert', async () => {
    const c = captureCli();
    const code = await main(['train', '--env', 'reacher', '--reward', 'true', '--steps', '64', '--num-envs', '1', '--num-steps', '64', '--workers', '0', '--eval-every', '100000', '--eval-episodes', '1', '--runs-dir', join(dir, 'experts'), '--name', 'reacher-expert', '--quiet', '--json'], c.ctx);
    expect(code, c.err.join('')).toBe(0);
    const expert = lastJson(c.out).runDir as string;
    await expectUsageError(['train', ...TINY, '--teacher', 'regret', '--expert', expert, '--labels', '20'], join(dir, 'never-regret'), /^prefrl train: --expert: .* is a PPO run on env "reacher" \(10 observation values\); this run's env is "toy-reach" \(6\)/);
    // A checkpoint that does not say its env is still checked by its critic's input size.
    const ckFile = join(expert, 'artifacts', 'checkpoint', 'checkpoint.json');
    const ck = JSON.parse(readFileSync(ckFile, 'utf8')) as Record<string, unknown>;
    writeFileSync(ckFile, JSON.stringify({ ...ck, env: undefined }));
    await expectUsageError(['train', ...TINY, '--teacher', 'regret', '--expert', expert, '--labels', '20'], join(dir, 'never-regret'), /--expert: the critic in .* takes 10 observation values; env "toy-reach" has 6/);
  }, 60_000);

  it('--expert with a teacher other than regret, or with --reward true, is a usage error (it was silently ignored)', async () => {
    await expectUsageError(['train', ...TINY, '--teacher', 'oracle', '--expert', 'runs/x'], join(dir, 'never-expert'), /^prefrl train: --expert: only for --teacher regret \(its critic is V\*\); this run uses --teacher oracle, which would ignore it\n/);
    await expectUsageError(['train', ...TINY, '--reward', 'true', '--expert', 'runs/x'], join(dir, 'never-expert'), /^prefrl train: --expert: only for --teacher regret \(its critic is V\*\); this run learns from --reward true, which would ignore it\n/);
  });

  it('--segment-length longer than an episode can be (toy-reach: 50 steps) is a usage error naming --segment-length', async () => {
    await expectUsageError(['train', ...tiny({ '--segment-length': '51' }), '--teacher', 'oracle'], join(dir, 'never-seg'), /^prefrl train: --segment-length: 51 steps is longer than any episode of toy-reach \(its horizon is 50 steps\)/);
  });

  it('an unknown --teacher is refused before the tensor backend starts', async () => {
    const c = captureCli();
    const runs = join(dir, 'never-bogus');
    expect(await main(['train', ...TINY, '--teacher', 'bogus', '--runs-dir', runs, '--quiet'], c.ctx)).toBe(2);
    const err = c.err.join('');
    expect(err).toMatch(/--teacher: unknown teacher "bogus"/);
    expect(err).not.toContain('tensor backend');
    expect(existsSync(runs)).toBe(false);
  });

  it('--human-host beyond localhost needs a token only with the human teacher', async () => {
    await expectUsageError(['train', ...TINY, '--teacher', 'human', '--human-host', '0.0.0.0'], join(dir, 'never-host'), /--human-token/);
    const c = captureCli();
    const code = await main(['train', ...tiny({ '--steps': '512' }), '--teacher', 'oracle', '--human-host', '0.0.0.0', '--labels', '10', '--runs-dir', join(dir, 'host'), '--quiet', '--json'], c.ctx);
    expect(code, c.err.join('')).toBe(0);
  }, 60_000);
});

describe('--resume', () => {
  it('of a finished run: says so, writes nothing, exits 0 (--json: the saved summary); flags that would change the run are refused', async () => {
    const c = captureCli();
    expect(await main(['train', ...tiny({ '--steps': '1024' }), '--reward', 'true', '--runs-dir', join(dir, 'done'), '--quiet', '--json'], c.ctx), c.err.join('')).toBe(0);
    const runDir = lastJson(c.out).runDir as string;
    const files = ['summary.json', 'metrics.jsonl', join('artifacts', 'checkpoint', 'checkpoint.json')];
    const before = files.map((f) => readFileSync(join(runDir, f), 'utf8'));

    const h = captureCli();
    expect(await main(['train', '--resume', runDir, '--quiet'], h.ctx), h.err.join('')).toBe(0);
    expect(h.out.join('')).toMatch(/is already finished at 1024 env steps, final true return -?\d+\.\d\d; nothing to resume, nothing was changed\. Its summary: .*summary\.json/);
    const j = captureCli();
    expect(await main(['train', '--resume', runDir, '--quiet', '--json', '--workers', '0'], j.ctx), j.err.join('')).toBe(0);
    const s = lastJson(j.out);
    expect(s).toMatchObject({ alreadyFinished: true, runDir, envSteps: 1024 });
    expect(s.finalTrueReturn).toBe(JSON.parse(before[0]).finalTrueReturn);
    expect(files.map((f) => readFileSync(join(runDir, f), 'utf8'))).toEqual(before);

    await expectUsageError(['train', '--resume', runDir, '--steps', '40960'], join(dir, 'never-steps'), /^prefrl train: --resume: the run's saved config is used; drop --steps \(/);
    await expectUsageError(['train', '--resume', runDir, '--labels=5', '--no-reward-additive', '--json'], join(dir, 'never-steps'), /drop --labels, --reward-additive \(/);
    expect(files.map((f) => readFileSync(join(runDir, f), 'utf8'))).toEqual(before);
  }, 60_000);

  it('truncateMetrics drops the rows after a step and a cut-off last line, atomically; nothing is written when nothing is dropped', () => {
    const file = join(dir, 'metrics.jsonl');
    writeFileSync(file, '{"step":0,"a/x":1}\n{"step":2048,"a/x":2}\nnot json\n{"step":4096,"a/x":3}\n{"step":2048,"b/y":4}\n{"step":6144,"a/x"');
    const r = truncateMetrics(file, 2048);
    expect(r.dropped).toBe(2);
    expect(r.kept.map((k) => k.step)).toEqual([0, 2048, 2048]);
    expect(readFileSync(file, 'utf8')).toBe('{"step":0,"a/x":1}\n{"step":2048,"a/x":2}\nnot json\n{"step":2048,"b/y":4}\n');
    expect(readdirSync(dir).filter((f) => f.startsWith('metrics.jsonl.tmp'))).toEqual([]);
    expect(truncateMetrics(file, 2048).dropped).toBe(0);
    expect(truncateMetrics(join(dir, 'none.jsonl'), 0)).toEqual({ dropped: 0, kept: [] });
  });

  it('Ctrl-C prints how to resume and exits 130; the resumed run drops the metrics rows after its checkpoint, so steps never run backwards', async () => {
    const runs = join(dir, 'sigint');
    const args = ['train', ...tiny({ '--steps': '8192', '--eval-every': '2048', '--feedback-every': '2048' }), '--teacher', 'oracle', '--labels', '40', '--labels-per-round', '20', '--runs-dir', runs, '--name', 'stopped', '--quiet'];
    const { child, stderr: childErr, exited } = spawnCli(args);
    // Wait until metrics have been logged past the last checkpoint, then stop it as Ctrl-C would.
    let runDir = '';
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline && child.exitCode === null) {
      await sleep(50);
      const found = existsSync(runs) ? readdirSync(runs).find((d) => d.endsWith('-stopped')) : undefined;
      if (!found) continue;
      runDir = join(runs, found);
      const ckFile = join(runDir, 'artifacts', 'checkpoint', 'checkpoint.json');
      if (!existsSync(ckFile)) continue;
      let at: number;
      try {
        at = (JSON.parse(readFileSync(ckFile, 'utf8')) as { globalStep: number }).globalStep;
      } catch {
        continue;
      }
      const steps = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('{') && l.endsWith('}'))
        .map((l) => (JSON.parse(l) as { step: number }).step);
      if (at >= 2048 && steps.some((s) => s > at)) {
        child.kill('SIGINT');
        break;
      }
    }
    const code = await exited;
    expect(code, childErr()).toBe(130);
    expect(childErr()).toContain(`stopped; resume with: prefrl train --resume ${runDir}`);
    const ck = JSON.parse(readFileSync(join(runDir, 'artifacts', 'checkpoint', 'checkpoint.json'), 'utf8')) as { globalStep: number };
    expect(ck.globalStep).toBeLessThan(8192);

    const c = captureCli();
    expect(await main(['train', '--resume', runDir, '--quiet', '--json'], c.ctx), c.err.join('')).toBe(0);
    expect(c.err.join('')).toMatch(new RegExp(`--resume: dropped \\d+ metrics rows logged after the checkpoint at ${ck.globalStep} env steps`));
    const summary = lastJson<{ labelsUsed: number; curve: [number, number][]; rewardAccuracy: number | null; rewardCorrelation: number | null }>(c.out);
    expect(summary.labelsUsed).toBe(40);
    const all = rows(runDir);
    // The summary's curve holds every evaluation, those before the interruption included, and
    // the reward metrics are the last round's even when every round came before the checkpoint.
    const logged = all.filter((r) => typeof r['eval/true_return'] === 'number').map((r) => [r.step, r['eval/true_return']]);
    expect(summary.curve).toEqual(logged);
    expect(summary.curve[0][0]).toBeLessThan(ck.globalStep);
    // (40 labels hold out no pairs, so no held-out accuracy: the correlation shows the last round's metrics.)
    expect(Number.isFinite(summary.rewardCorrelation)).toBe(true);
    const steps = all.map((r) => r.step as number);
    for (let i = 1; i < steps.length; i++) expect(steps[i], `row ${i}: step ${steps[i]} after ${steps[i - 1]}`).toBeGreaterThanOrEqual(steps[i - 1]);
    // One evaluation per step: the checkpoint's is not repeated on resume.
    const evals = all.filter((r) => 'eval/true_return' in r).map((r) => r.step);
    expect(new Set(evals).size).toBe(evals.length);
    // One feedback round per step, as without the interruption.
    const rounds = all.filter((r) => 'teacher/labels' in r).map((r) => r.step);
    expect(new Set(rounds).size).toBe(rounds.length);
  }, 180_000);
});
