/**
 * `prefrl offline` killed with SIGKILL and resumed gives the run an uninterrupted one gives, and
 * loses nothing it had saved: killed once while the teacher labels (some labels stored, the
 * stage unfinished), resumed in a new process and killed again while IQL trains its second
 * agent (the first one saved), then resumed to the end. The labels, the reward model's weights,
 * the relabelled rewards, the three agents and the summary equal the uninterrupted run's to the
 * bit; every label stored before the first kill is still there, unchanged; each resume takes
 * over the lock the killed process left.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { LabelStore } from '../../reward/store.js';
import { main } from '../../scripts/cli.js';
import { useToyDataset } from '../helpers/toy_dataset.js';
import { captureCli, lastJson, spawnCli } from '../helpers/cli.js';

const toy = useToyDataset('prefrl-offline-kill-', 40);

const LABELS = 400;
/** One label per teacher call (each stored in its own transaction), so the label stage lasts long enough to be killed in. */
const args = () => [
  'offline', '--dataset', toy.data, '--teacher', 'synthetic-vlm', '--error-rate', '0.2', '--unsure-rate', '0.1', '--labels', String(LABELS), '--label-batch', '1', '--segment-length', '10',
  '--reward-members', '2', '--reward-hidden', '8', '--reward-epochs', '5', '--updates', '400', '--batch-size', '32', '--hidden', '8,8', '--eval-episodes', '2', '--seed', '3',
  '--backend', 'wasm', '--quiet',
];

type StoredLabel = [id: string, pair: string, kind: string, value: number | string];
function storedLabels(runDir: string): StoredLabel[] {
  const store = LabelStore.open(join(runDir, 'labels.sqlite'), { create: false });
  try {
    return store.labels().map((l) => [l.id, l.pairId, l.kind, l.kind === 'preference' ? l.probFirst : l.reason]);
  } finally {
    store.close();
  }
}
/** Labels stored so far (0 while the store is being made: the child creates it empty, then its tables). */
function labelCount(runDir: string): number {
  try {
    return storedLabels(runDir).length;
  } catch {
    return 0;
  }
}

/**
 * What must not depend on a kill: the labels, the reward model, the relabelled rewards, the
 * agents, the summary (less the timings and the folder; the teacher's counts included: they add
 * up over the attempts).
 */
function outputs(runDir: string) {
  const a = join(runDir, 'artifacts');
  const { stageSeconds: _s, stageTiming: _t, runDir: _r, ...summary } = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8')) as Record<string, unknown>;
  return {
    labels: storedLabels(runDir).map(([, pair, kind, value]) => [pair, kind, value]),
    weights: readFileSync(join(a, 'reward_model', 'weights.bin')).toString('hex'),
    relabelled: readFileSync(join(a, 'relabelled_rewards.npy')).toString('hex'),
    actors: ['bc', 'iql-learned', 'iql-true'].map((agent) => readFileSync(join(a, 'agents', agent, 'actor.json'), 'utf8')),
    summary,
  };
}

/** Start `prefrl <argv>` in a child process and SIGKILL it once `when(runDir)` holds (the run folder found under `runs`, or given). */
async function killWhen(argv: string[], runDir: { runs: string } | { dir: string }, when: (dir: string) => boolean): Promise<{ dir: string; stderr: string }> {
  const p = spawnCli(argv);
  const deadline = Date.now() + 90_000;
  let found = 'dir' in runDir ? runDir.dir : '';
  while (Date.now() < deadline && p.child.exitCode === null) {
    if (!found && 'runs' in runDir && existsSync(runDir.runs)) found = readdirSync(runDir.runs).map((d) => join(runDir.runs, d))[0] ?? '';
    if (found && when(found)) {
      p.child.kill('SIGKILL');
      break;
    }
    await sleep(5);
  }
  const code = await p.exited;
  expect(code, `the run ended before it was killed:\n${p.stderr()}`).toBeNull();
  expect(p.child.signalCode).toBe('SIGKILL');
  return { dir: found, stderr: p.stderr() };
}

describe('prefrl offline killed with SIGKILL', () => {
  it('killed while labelling and again while training IQL, resumed: the same labels, reward model, relabelled rewards, agents and summary as a run never killed', async () => {
    const c = captureCli();
    expect(await main([...args(), '--json', '--runs-dir', join(toy.dir, 'ref')], c.ctx), c.err.join('')).toBe(0);
    const ref = outputs(lastJson(c.out).runDir as string);
    expect(ref.labels).toHaveLength(LABELS);
    // The teacher's noise: some pairs unsure (skips), the rest answered.
    expect(ref.labels.some(([, kind]) => kind === 'skip')).toBe(true);
    // The synthetic VLM's counts agree with the labels stored: every pair answered (first or
    // second better) or unsure (its ties among them), none without a success measure.
    const counts = ref.summary.teacherCounts as Record<string, number>;
    expect(counts['vlm/labels_first'] + counts['vlm/labels_second']).toBe(ref.summary.preferences);
    expect(counts['vlm/unsure']).toBe(ref.summary.skips);
    expect(counts['vlm/labels_first'] + counts['vlm/labels_second'] + counts['vlm/unsure']).toBe(LABELS);
    expect(counts['vlm/no_success']).toBe(0);

    // 1. Killed in the label stage, some labels stored.
    const runs = join(toy.dir, 'killed');
    const first = await killWhen([...args(), '--runs-dir', runs], { runs }, (d) => labelCount(d) >= 40);
    const runDir = first.dir;
    const saved = storedLabels(runDir);
    expect(saved.length).toBeGreaterThanOrEqual(40);
    expect(saved.length).toBeLessThan(LABELS);
    expect(existsSync(join(runDir, 'artifacts', 'labels.json'))).toBe(false);

    // 2. Resumed, and killed again once IQL on the learned reward is saved and IQL on the true reward trains.
    const trained = (agent: string, d: string) => existsSync(join(d, 'artifacts', 'agents', agent, 'training.json'));
    const second = await killWhen(['offline', '--resume', runDir, '--quiet'], { dir: runDir }, (d) => trained('iql-learned', d));
    expect(second.stderr).toMatch(/was left locked by a run that is gone \(pid \d+/);
    expect(trained('iql-learned', runDir)).toBe(true);
    expect(trained('bc', runDir)).toBe(false);
    expect(existsSync(join(runDir, 'summary.json'))).toBe(false);

    // 3. Resumed to the end: the finished stages are skipped, the saved agent kept.
    const r = captureCli();
    expect(await main(['offline', '--resume', runDir, '--quiet', '--json'], r.ctx), r.err.join('')).toBe(0);
    expect(lastJson(r.out).stages).toEqual({ pairs: 'skipped', label: 'skipped', reward: 'skipped', relabel: 'skipped', iql: 'ran', eval: 'ran' });
    expect(r.err.join('')).toContain('iql: iql-learned trained before, kept');
    expect(existsSync(join(runDir, 'offline.lock'))).toBe(false);

    // Nothing saved before the first kill was lost or changed.
    const after = new Map(storedLabels(runDir).map((l) => [l[0], l]));
    for (const l of saved) expect(after.get(l[0]), `label ${l[0]}`).toEqual(l);
    const got = outputs(runDir);
    expect(got.labels).toEqual(ref.labels);
    expect(got.weights).toBe(ref.weights);
    expect(got.relabelled).toBe(ref.relabelled);
    expect(got.actors).toEqual(ref.actors);
    // The teacher's counts too (in the summary): the killed attempts' and the last one's added up.
    expect(got.summary).toEqual(ref.summary);
    // The stages whose last attempt went on from an earlier one's work say so; their seconds are that attempt's.
    const summary = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8')) as { stageTiming: Record<string, string>; stageSeconds: Record<string, number> };
    expect(summary.stageTiming).toEqual({ pairs: 'whole', label: 'last-attempt', reward: 'whole', relabel: 'whole', iql: 'last-attempt', eval: 'whole' });
    expect(Object.keys(summary.stageSeconds).sort()).toEqual(['eval', 'iql', 'label', 'pairs', 'relabel', 'reward']);
  }, 120_000);
});
