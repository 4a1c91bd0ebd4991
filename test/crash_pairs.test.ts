/**
 * `prefrl pairs` stopped while its pairs go into a label store that already holds labelled pairs:
 * the store holds all the new pairs or none of them, never some, and every label it held; Ctrl-C
 * and SIGTERM say which (exit 130 / 143, and the one JSON line under --json).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabelStore } from '../reward/store.js';
import { main } from '../scripts/cli.js';
import { captureCli, lastJson, spawnCli, until } from './helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'prefrl-crash-pairs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Pairs the stopped command adds: enough that putting them in takes a while (over a second here). */
const COUNT = 10000;
let rolloutDir = '';

async function cli(args: string[]): Promise<string[]> {
  const c = captureCli();
  expect(await main(args, c.ctx), c.err.join('')).toBe(0);
  return c.out;
}

/** A fresh store (`name`) with 20 pairs of the rollout, each labelled by the oracle. */
async function labelledStore(name: string): Promise<string> {
  const store = join(dir, name);
  await cli(['pairs', '--trajectories', rolloutDir, '--count', '20', '--segment-length', '10', '--store', store, '--quiet']);
  await cli(['label', '--store', store, '--teacher', 'oracle', '--quiet']);
  return store;
}

function contents(store: string): { pairs: number; labels: string[] } {
  const s = LabelStore.open(store, { create: false });
  try {
    return { pairs: s.counts().pairs, labels: s.labels().map((l) => `${l.id} ${l.pairId} ${l.teacher} ${l.kind}`).sort() };
  } finally {
    s.close();
  }
}

/**
 * `prefrl pairs` adding COUNT pairs to `store`, held (SIGSTOP) once it has opened the store (its
 * write-ahead log appears), sent `signal`, then let go: the signal lands while the pairs go in.
 */
async function stopWhileAdding(store: string, signal: NodeJS.Signals): Promise<{ code: number | null; stdout: string; stderr: string }> {
  expect(existsSync(`${store}-wal`)).toBe(false);
  const { child, stdout, stderr, exited } = spawnCli(['pairs', '--trajectories', rolloutDir, '--count', String(COUNT), '--segment-length', '10', '--store', store, '--seed', '1', '--json']);
  await until('the store opened', () => (existsSync(`${store}-wal`) || child.exitCode !== null ? true : null), stderr);
  child.kill('SIGSTOP');
  child.kill(signal);
  child.kill('SIGCONT');
  return { code: await exited, stdout: stdout(), stderr: stderr() };
}

beforeAll(async () => {
  const out = await cli(['rollout', '--env', 'toy-reach', '--episodes', '40', '--runs-dir', join(dir, 'runs'), '--quiet', '--json']);
  rolloutDir = lastJson<{ runDir: string }>(out).runDir;
}, 60_000);

describe('prefrl pairs stopped while adding pairs', () => {
  it('Ctrl-C: the pairs are in, the labels kept; it says so (exit 130, one JSON line)', async () => {
    const store = await labelledStore('int.sqlite');
    const before = contents(store);
    expect(before.pairs).toBe(20);
    expect(before.labels).toHaveLength(20);
    const r = await stopWhileAdding(store, 'SIGINT');
    expect(r.code, r.stderr).toBe(130);
    const after = contents(store);
    expect(after.labels).toEqual(before.labels);
    expect(after.pairs).toBe(20 + COUNT);
    const line = `stopped after the pairs were added: ${COUNT} new in ${store}`;
    expect(r.stderr.endsWith(`${line}\n`), r.stderr).toBe(true);
    expect(r.stdout.trimEnd().split('\n')).toHaveLength(1);
    expect(JSON.parse(r.stdout)).toEqual({ store, added: COUNT, ok: false, interrupted: true, signal: 'SIGINT', exitCode: 130, message: line });
  }, 60_000);

  it('SIGKILL (a power cut): all of the new pairs or none, and every label kept; the same command then adds them', async () => {
    const store = await labelledStore('kill.sqlite');
    const before = contents(store);
    const r = await stopWhileAdding(store, 'SIGKILL');
    // Killed: no exit code of its own, and nothing printed.
    expect(r.code).toBe(null);
    expect(r.stdout).toBe('');
    const after = contents(store);
    expect(after.labels).toEqual(before.labels);
    expect([20, 20 + COUNT]).toContain(after.pairs);
    const again = await cli(['pairs', '--trajectories', rolloutDir, '--count', String(COUNT), '--segment-length', '10', '--store', store, '--seed', '1', '--json']);
    expect(lastJson(again)).toMatchObject({ added: 20 + COUNT - after.pairs, storePairs: 20 + COUNT });
    expect(contents(store).labels).toEqual(before.labels);
  }, 60_000);
});
