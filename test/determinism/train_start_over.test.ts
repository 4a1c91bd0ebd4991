/**
 * Same seed, same run, across a stop: a `prefrl train` run stopped before its first checkpoint
 * (in or right after its first feedback round, with that round's labels stored) starts over from
 * env step 0 on `--resume`. Its envs, policy and random streams are then those of the stopped
 * session, so it must end exactly where an uninterrupted run ends: same metrics apart from wall
 * time, same labels, same policy and reward-model weights. Before the fix the restarted run
 * counted the stored labels as spent, asked its first round's queries again from a later round's
 * stream (round 1 at the first feedback step) and so drifted from the uninterrupted run.
 *
 * The stopped state is made without a signal (which would make the test timing-dependent): an
 * uninterrupted run's folder is copied and cut back to what a stop in round 0 leaves: no
 * checkpoint, no summary, no reward model, and only round 0's pairs and labels in its store.
 */
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../core/backend.js';
import { LabelStore } from '../../reward/store.js';
import { main } from '../../scripts/cli.js';
import { captureCli, lastJson } from '../helpers/cli.js';

beforeAll(async () => {
  await initBackend('wasm');
});

const ARGS = [
  'train', '--env', 'toy-reach', '--steps', '2048', '--num-envs', '2', '--num-steps', '128', '--workers', '0', '--warmup-steps', '256', '--segment-length', '10',
  '--labels', '30', '--labels-per-round', '10', '--feedback-every', '512', '--query', 'disagreement', '--eval-every', '512', '--eval-episodes', '2',
  '--reward-hidden', '16', '--reward-members', '2', '--reward-epochs', '5', '--teacher', 'mistake', '--seed', '3', '--quiet', '--json',
];
const TIMING = /seconds|sps/;

interface Outcome {
  summary: Record<string, unknown>;
  rows: Record<string, unknown>[];
  labels: { pair: string; round: number; kind: string; p: number | null }[];
  policy: string;
  weights: Buffer;
}

function outcome(runDir: string, json: Record<string, unknown>): Outcome {
  const { wallSeconds: _w, runDir: _r, ...summary } = json;
  const rows = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => Object.fromEntries(Object.entries(JSON.parse(l) as Record<string, unknown>).filter(([k]) => !TIMING.test(k))));
  const store = LabelStore.open(join(runDir, 'labels.sqlite'), { create: false });
  const labels = store.labelledPairs({ includeSkips: true }).flatMap((lp) => lp.labels.map((l) => ({ pair: lp.pair.id, round: lp.round, kind: l.kind, p: l.kind === 'preference' ? l.probFirst : null })));
  store.close();
  return {
    summary,
    rows,
    labels,
    policy: readFileSync(join(runDir, 'artifacts', 'checkpoint', 'policy.json'), 'utf8'),
    weights: readFileSync(join(runDir, 'artifacts', 'reward_model', 'weights.bin')),
  };
}

/** Cut a finished run folder back to what a stop during its first feedback round leaves. */
function stopInRoundZero(runDir: string): void {
  rmSync(join(runDir, 'summary.json'));
  rmSync(join(runDir, 'artifacts', 'checkpoint'), { recursive: true });
  rmSync(join(runDir, 'artifacts', 'reward_model'), { recursive: true });
  const Database = createRequire(import.meta.url)('better-sqlite3') as new (file: string) => { exec(sql: string): void; close(): void };
  const db = new Database(join(runDir, 'labels.sqlite'));
  db.exec('DELETE FROM labels WHERE pair_id IN (SELECT id FROM pairs WHERE round > 0); DELETE FROM pairs WHERE round > 0;');
  db.close();
}

describe('train stopped before its first checkpoint, then --resume', () => {
  it('starts over and ends exactly as the uninterrupted run: metrics apart from wall time, labels (none asked twice), policy and reward-model weights', async () => {
    const root = mkdtempSync(join(tmpdir(), 'prefrl-start-over-'));
    const c = captureCli();
    expect(await main([...ARGS, '--runs-dir', join(root, 'a')], c.ctx), c.err.join('')).toBe(0);
    const json = lastJson(c.out);
    const a = outcome(json.runDir as string, json);
    expect(a.labels).toHaveLength(30);
    expect(a.labels.filter((l) => l.round === 0)).toHaveLength(10);

    const stopped = join(root, 'b', readdirSync(join(root, 'a'))[0]);
    cpSync(json.runDir as string, stopped, { recursive: true });
    stopInRoundZero(stopped);
    expect(existsSync(join(stopped, 'artifacts', 'checkpoint'))).toBe(false);

    const r = captureCli();
    expect(await main(['train', '--resume', stopped, '--quiet', '--json'], r.ctx), r.err.join('')).toBe(0);
    expect(r.err.join('')).toMatch(/no checkpoint in .* yet: starting over, keeping 10 stored labels/);
    const b = outcome(stopped, lastJson(r.out));
    // Round 0's stored answers are used, not asked again: 10 of them + 2 new rounds of 10.
    expect(b.labels).toHaveLength(30);
    expect(b.labels).toEqual(a.labels);
    expect(b.rows).toEqual(a.rows);
    expect(b.summary).toEqual(a.summary);
    expect(b.policy).toBe(a.policy);
    expect(b.weights.equals(a.weights)).toBe(true);
  }, 120_000);
});
