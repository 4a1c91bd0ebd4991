/**
 * `prefrl offline` killed in the middle of writing a file (test/fixtures/kill_on_write.ts: the
 * child writes half the file, then SIGKILLs itself, deterministically), then resumed:
 *  - with active query selection, killed as it records a query round (after choosing the
 *    round's pairs): the resumed run's artifacts/query.json holds every round, as the
 *    uninterrupted run's does (the record used to be written after the round's pairs were
 *    stored, and a kill in between lost it for good);
 *  - killed while a forced relabel stage (`--stage relabel --force`) writes the relabelled
 *    rewards: the rewards from before stay whole next to their relabel.json (the file used to
 *    be written in place, leaving half a file that every later stage trusted).
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LabelStore } from '../../reward/store.js';
import { main } from '../../scripts/cli.js';
import { useToyDataset } from '../helpers/toy_dataset.js';
import { captureCli, lastJson } from '../helpers/cli.js';

const REPO = join(import.meta.dirname, '..', '..');
const toy = useToyDataset('prefrl-offline-kill-write-', 40);

const TINY = ['--segment-length', '10', '--reward-members', '2', '--reward-hidden', '8', '--reward-epochs', '3', '--updates', '40', '--batch-size', '16', '--hidden', '8', '--eval-episodes', '1',
  '--seed', '4', '--backend', 'wasm', '--quiet'];

async function cli(args: string[]): Promise<Record<string, unknown>> {
  const c = captureCli();
  expect(await main([...args, '--json'], c.ctx), c.err.join('')).toBe(0);
  return lastJson(c.out);
}

/** `prefrl <args>` in a child process that kills itself halfway through its first write of a file matching `pattern`. */
function killedOnWrite(args: string[], pattern: RegExp): Promise<{ signal: NodeJS.Signals | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', join(REPO, 'test', 'fixtures', 'kill_on_write.ts'), join(REPO, 'test', 'fixtures', 'cli_entry.ts'), ...args], {
    cwd: REPO,
    env: { ...process.env, PREFRL_KILL_ON_WRITE: pattern.source },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((r) => child.on('close', (_code, signal) => r({ signal, stderr })));
}

const rounds = (runDir: string) =>
  (JSON.parse(readFileSync(join(runDir, 'artifacts', 'query.json'), 'utf8')) as { rounds: Record<string, unknown>[] }).rounds.map(({ seconds: _s, ...r }) => r);
function labels(runDir: string): unknown[] {
  const store = LabelStore.open(join(runDir, 'labels.sqlite'), { create: false });
  try {
    return store.labels().map((l) => [l.pairId, l.kind, l.kind === 'preference' ? l.probFirst : l.reason]);
  } finally {
    store.close();
  }
}

describe('prefrl offline killed while writing a file', () => {
  it('active query selection killed as it records round 1: the resumed run records every round, as an uninterrupted one', async () => {
    const args = ['offline', '--dataset', toy.data, '--teacher', 'synthetic-vlm', '--labels', '90', '--query', 'disagreement', '--query-rounds', '3', ...TINY];
    const ref = (await cli([...args, '--runs-dir', join(toy.dir, 'qref')])).runDir as string;
    expect(rounds(ref).map((r) => r.round)).toEqual([1, 2]);

    const runs = join(toy.dir, 'qkill');
    const k = await killedOnWrite([...args, '--runs-dir', runs], /[/\\]query\.json/);
    expect(k.signal, k.stderr).toBe('SIGKILL');
    const runDir = join(runs, readdirSync(runs)[0]);
    const s = await cli(['offline', '--resume', runDir]);
    expect(s.stages).toMatchObject({ label: 'ran', eval: 'ran' });
    expect(rounds(runDir)).toEqual(rounds(ref));
    expect(labels(runDir)).toEqual(labels(ref));
  }, 60_000);

  it('a forced relabel killed while it writes the relabelled rewards: the rewards from before stay whole, and the stages after read them', async () => {
    const first = (await cli(['offline', '--dataset', toy.data, '--teacher', 'oracle', '--labels', '40', ...TINY, '--runs-dir', join(toy.dir, 'relabel')])).runDir as string;
    const file = join(first, 'artifacts', 'relabelled_rewards.npy');
    const before = readFileSync(file);
    const k = await killedOnWrite(['offline', '--resume', first, '--stage', 'relabel', '--force', '--quiet'], /relabelled_rewards\.npy/);
    expect(k.signal, k.stderr).toBe('SIGKILL');
    expect(readFileSync(file).equals(before)).toBe(true);
    const s = await cli(['offline', '--resume', first, '--stage', 'iql,eval', '--force']);
    expect(s.stages).toEqual({ iql: 'ran', eval: 'ran' });
  }, 60_000);
});
