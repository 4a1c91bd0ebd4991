/**
 * `prefrl label` killed (SIGKILL: a power cut) while its teacher answers the pairs of a store:
 * the labels stored before stay, each batch is stored whole, and the same command run again
 * labels the pairs left, ending with the very labels of a run that was never stopped.
 */
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabelStore } from '../reward/store.js';
import type { Label } from '../reward/types.js';
import { main } from '../scripts/cli.js';
import { captureCli, lastJson, spawnCli, until } from './helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'prefrl-crash-label-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PAIRS = 1500;
const BATCH = 4;
/** The teacher with its seed: noisy, so that its labels depend on the order it is asked in. */
const LABEL = ['--teacher', 'synthetic-vlm', '--seed', '3', '--batch', String(BATCH), '--quiet'];
let fresh = '';

async function cli(args: string[]): Promise<string[]> {
  const c = captureCli();
  expect(await main(args, c.ctx), c.err.join('')).toBe(0);
  return c.out;
}

/** What a label says (not when it was stored), in a comparable form. */
function said(l: Label): string {
  return `${l.id} ${l.pairId} ${l.teacher} ${l.kind === 'preference' ? `p${l.probFirst}` : `skip ${l.reason}`}`;
}

function labelsOf(store: string): string[] {
  const s = LabelStore.open(store, { create: false, readOnly: true });
  try {
    return s.labels().map(said).sort();
  } finally {
    s.close();
  }
}

/** A copy of the store of fresh pairs (none labelled yet). */
function copyOfFresh(name: string): string {
  const p = join(dir, name);
  copyFileSync(fresh, p);
  return p;
}

beforeAll(async () => {
  const out = await cli(['rollout', '--env', 'toy-reach', '--episodes', '30', '--runs-dir', join(dir, 'runs'), '--quiet', '--json']);
  const rollout = lastJson<{ runDir: string }>(out).runDir;
  fresh = join(dir, 'fresh.sqlite');
  await cli(['pairs', '--trajectories', rollout, '--count', String(PAIRS), '--segment-length', '10', '--store', fresh, '--quiet']);
  expect(existsSync(`${fresh}-wal`)).toBe(false);
}, 60_000);

describe('prefrl label killed mid-way', () => {
  it('keeps whole batches, and the same command again ends with the labels of an uninterrupted run', async () => {
    const whole = copyOfFresh('whole.sqlite');
    await cli(['label', '--store', whole, ...LABEL]);
    const expected = labelsOf(whole);
    expect(expected).toHaveLength(PAIRS);

    const store = copyOfFresh('killed.sqlite');
    const { child, stderr, exited } = spawnCli(['label', '--store', store, ...LABEL]);
    // Kill it once a few batches are stored (read beside it: the store is in WAL mode).
    await until('some labels stored', () => (child.exitCode !== null || (existsSync(`${store}-wal`) && labelsOf(store).length >= 5 * BATCH) ? true : null), stderr);
    child.kill('SIGKILL');
    expect(await exited, stderr()).toBe(null);
    const kept = labelsOf(store);
    // Whole batches only (a batch is one transaction), none of them different from the uninterrupted run's.
    expect(kept.length % BATCH).toBe(0);
    expect(kept.length).toBeGreaterThanOrEqual(5 * BATCH);
    expect(kept.length).toBeLessThan(PAIRS);
    for (const l of kept) expect(expected).toContain(l);

    const again = captureCli();
    expect(await main(['label', '--store', store, ...LABEL], again.ctx), again.err.join('')).toBe(0);
    expect(again.out.join('')).toContain(`${PAIRS - kept.length} new labels`);
    expect(labelsOf(store)).toEqual(expected);
  }, 90_000);
});
