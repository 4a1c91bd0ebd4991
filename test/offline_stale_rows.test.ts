/**
 * `prefrl offline --stage X --force` removes what the later stages made from X's old output; the
 * metrics rows of those outputs go with them (nothing reads numbers of outputs that are gone),
 * while the rows of what stays (the pairs and labels, the iql-true and bc baselines) are kept.
 * Counted on a tiny real run: 10 updates per agent, 2 reward epochs, evaluation only at the end.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { Logger, silentLogger } from '../core/log.js';
import { type OfflineConfigInput, runOffline } from '../reward/offline.js';
import { main } from '../scripts/cli.js';
import { readMetrics } from '../scripts/commands/plot.js';
import { captureCli } from './helpers/cli.js';
import { useToyDataset } from './helpers/toy_dataset.js';

const toy = useToyDataset('prefrl-offline-stale-rows-', 6, { wasm: true });

const tiny = (): OfflineConfigInput => ({ dataset: toy.data, teacher: 'oracle', labels: 16, labelBatch: 8, segmentLength: 10, rewardMembers: 1, rewardHidden: [8], rewardEpochs: 2, updates: 10, batchSize: 16, hidden: [8], evalEpisodes: 1, backend: 'wasm' });

const rows = (run: string) =>
  readFileSync(join(run, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** Rows holding `key`, or (a key ending in '/') a key with that prefix. */
const count = (rs: Record<string, unknown>[], key: string) => rs.filter((r) => (key.endsWith('/') ? Object.keys(r).some((k) => k.startsWith(key)) : key in r)).length;

/** Each kind of row a whole run logs once per: the stages' seconds, the relabel's and eval's numbers. */
const ONCE = ['stages/pairs_seconds', 'stages/label_seconds', 'stages/reward_seconds', 'stages/relabel_seconds', 'stages/iql_seconds', 'stages/eval_seconds', 'reward/transition_correlation', 'eval/normalized_ratio', 'teacher/labels'];

describe('offline: a stage run again alone drops the metrics rows of the outputs it removed', () => {
  it('--stage reward --force: relabel, iql-learned and eval rows go with their outputs, the rest stay; the resume logs them once again', async () => {
    const ctx = { logger: silentLogger, clock: new ManualClock() };
    const run = (await runOffline({ config: tiny(), runsDir: join(toy.dir, 'a') }, ctx)).runDir;
    const before = rows(run);
    for (const k of ONCE) expect(count(before, k), k).toBe(1);
    // 2 reward epochs: one row each.
    expect(count(before, 'reward/train_loss')).toBe(2);
    // 10 updates, fewer than the 1000 between logged updates: each agent logs one row, at its last.
    const learned = count(before, 'iql_learned/');
    expect(learned).toBe(1);
    expect(count(before, 'iql_true/')).toBe(1);
    expect(count(before, 'bc/')).toBe(1);

    const said: string[] = [];
    const forced = await runOffline({ resume: run, stages: ['reward'], force: true }, { ...ctx, logger: new Logger({ write: (t) => said.push(t) }, 'info') });
    expect(forced.stages).toEqual({ reward: 'ran' });
    const after = rows(run);
    // Gone: the relabel's 2 rows (its correlations, its seconds), iql-learned's curve and the iql
    // stage's seconds, the eval's 2 rows (its returns, its seconds).
    const dropped = 2 + 1 + 1 + 2;
    expect(said.join('')).toContain(
      `stage reward: removed what later stages had made from its old output (artifacts/relabelled_rewards.npy, artifacts/relabel.json, artifacts/agents/iql-learned, summary.json; their ${dropped} metrics rows); relabel, iql, eval make them anew: prefrl offline --resume ${run}\n`,
    );
    for (const k of ['reward/transition_correlation', 'stages/relabel_seconds', 'iql_learned/', 'stages/iql_seconds', 'eval/normalized_ratio', 'stages/eval_seconds']) expect(count(after, k), k).toBe(0);
    // Kept: what is still there (the pairs, labels, the baselines) and the reward stage's new rows, one copy.
    for (const k of ['stages/pairs_seconds', 'stages/label_seconds', 'teacher/labels', 'stages/reward_seconds']) expect(count(after, k), k).toBe(1);
    expect(count(after, 'reward/train_loss')).toBe(2);
    expect(count(after, 'iql_true/')).toBe(count(before, 'iql_true/'));
    expect(count(after, 'bc/')).toBe(count(before, 'bc/'));
    expect(after.length).toBe(before.length - dropped);
    // What plot reads: no eval curve of a summary that is gone.
    expect(readMetrics(run).has('eval/normalized_ratio')).toBe(false);
    expect(readMetrics(run).has('iql_learned/charts/updates_per_sec')).toBe(false);
    expect(readMetrics(run).get('iql_true/charts/updates_per_sec')?.map(([step]) => step)).toEqual([10]);

    // The resume remakes them: one copy of each again, iql-learned trained anew (the baselines kept).
    const rest = await runOffline({ resume: run }, ctx);
    expect(rest.stages).toEqual({ pairs: 'skipped', label: 'skipped', reward: 'skipped', relabel: 'ran', iql: 'ran', eval: 'ran' });
    const again = rows(run);
    for (const k of ONCE) expect(count(again, k), k).toBe(1);
    expect(count(again, 'iql_learned/')).toBe(learned);
    expect(again.length).toBe(before.length);
  }, 120_000);

  it('a run stopped between a re-run stage and the removal (its rerunning.json left) drops those rows when resumed; with the stage not asked for, they stay', async () => {
    const ctx = { logger: silentLogger, clock: new ManualClock() };
    const run = (await runOffline({ config: tiny(), runsDir: join(toy.dir, 'b') }, ctx)).runDir;
    const before = rows(run);
    // As a relabel stage run again leaves a run killed before the outputs after it went.
    writeFileSync(join(run, 'rerunning.json'), JSON.stringify({ stage: 'relabel' }));
    // Asked for reward alone: relabel is not run again, and nothing it would remove (or its rows) goes.
    const c = captureCli();
    expect(await main(['offline', '--resume', run, '--stage', 'reward', '--quiet'], c.ctx), c.err.join('')).toBe(0);
    expect(rows(run)).toEqual(before);
    expect(c.err.join('')).toContain('stage relabel was running again when this run stopped');
    // Resumed with relabel: it runs again, the iql-learned agent and the summary go, and their rows.
    const said: string[] = [];
    await runOffline({ resume: run, stages: ['relabel'] }, { ...ctx, logger: new Logger({ write: (t) => said.push(t) }, 'info') });
    const after = rows(run);
    // iql-learned's one row, the iql stage's seconds, the eval's returns and seconds.
    expect(said.join('')).toContain(`(artifacts/agents/iql-learned, summary.json; their 4 metrics rows); iql, eval make them anew`);
    for (const k of ['iql_learned/', 'stages/iql_seconds', 'eval/normalized_ratio', 'stages/eval_seconds']) expect(count(after, k), k).toBe(0);
    // The relabel's own rows: replaced by the new attempt's, one copy.
    expect(count(after, 'reward/transition_correlation')).toBe(1);
    expect(count(after, 'stages/relabel_seconds')).toBe(1);
    expect(count(after, 'reward/train_loss')).toBe(2);
    expect(count(after, 'iql_true/')).toBe(count(before, 'iql_true/'));
    expect(count(after, 'bc/')).toBe(count(before, 'bc/'));
  }, 120_000);
});
