/**
 * `prefrl pairs`: pairs of segments from recorded episodes into a label store: one folder, or one
 * segment of each of two folders (A from --trajectories, B from --against); seeded, distinct,
 * idempotent; bad input named by flag or file, nothing stored.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { LabelStore } from '../reward/store.js';
import { main } from '../scripts/cli.js';
import { captureCli, lastJson } from './helpers/cli.js';

async function rollout(root: string, name: string, policy: string, episodes = 4, env = 'toy-reach'): Promise<string> {
  const c = captureCli();
  expect(await main(['rollout', '--env', env, '--episodes', String(episodes), '--policy', policy, '--name', name, '--runs-dir', root, '--quiet', '--json'], c.ctx)).toBe(0);
  return lastJson<{ runDir: string }>(c.out).runDir;
}

async function pairs(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const c = captureCli();
  const code = await main(['pairs', ...args], c.ctx);
  return { code, out: c.out, err: c.err };
}

describe('prefrl pairs', () => {
  it('adds seeded, distinct pairs from one folder or across two, to the run folder\'s store by default; again adds nothing', async () => {
    const root = mkdtempSync(join(tmpdir(), 'pairs-'));
    const a = await rollout(root, 'A', 'random');
    const b = await rollout(root, 'B', 'zero');
    const r1 = await pairs(['--trajectories', a, '--against', b, '--count', '6', '--segment-length', '10', '--json']);
    expect(r1.code, r1.err.join('')).toBe(0);
    const j = lastJson<{ store: string; added: number; storePairs: number; pending: number; serve: string }>(r1.out);
    expect(j).toMatchObject({ store: join(a, 'labels.sqlite'), added: 6, storePairs: 6, pending: 6 });
    expect(j.serve).toBe(`prefrl serve --store ${join(a, 'labels.sqlite')}`);
    expect(r1.err.join('')).not.toContain('holds the same episodes');
    const store = LabelStore.open(j.store, { create: false });
    try {
      const stored = store.pendingPairs();
      expect(stored.length).toBe(6);
      expect(new Set(stored.map((p) => p.id)).size).toBe(6);
      for (const p of stored) {
        expect(p.a.length).toBe(10);
        expect(p.a.source.startsWith(join(a, 'artifacts', 'trajectories', 'toy-reach'))).toBe(true);
        expect(p.b.source.startsWith(join(b, 'artifacts', 'trajectories', 'toy-reach'))).toBe(true);
        // The zero policy's segments: every action 0.
        expect(Array.from(p.b.actions).every((x) => x === 0)).toBe(true);
      }
    } finally {
      store.close();
    }
    const again = await pairs(['--trajectories', a, '--against', b, '--count', '6', '--segment-length', '10', '--json']);
    expect(lastJson<{ added: number }>(again.out).added).toBe(0);
    // One folder, another store: whole 50-step episodes.
    const own = join(root, 'own.sqlite');
    const r2 = await pairs(['--trajectories', a, '--count', '3', '--segment-length', '50', '--store', own, '--json']);
    expect(lastJson<{ added: number; storePairs: number }>(r2.out)).toMatchObject({ added: 3, storePairs: 3 });
  });

  it('warns when --against holds the same episodes as --trajectories (the same policy and seed recorded twice)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'pairs-same-'));
    const a = await rollout(root, 'A', 'random');
    const twin = await rollout(root, 'A2', 'random');
    const r = await pairs(['--trajectories', a, '--against', twin, '--count', '4', '--segment-length', '10', '--json']);
    expect(r.code).toBe(0);
    expect(r.err.join('')).toMatch(/--against: .* holds the same episodes as --trajectories .*every pair compares a policy with itself/);
  });

  it('refuses segments longer than the episodes, too many pairs, another robot and missing folders, storing nothing', async () => {
    const root = mkdtempSync(join(tmpdir(), 'pairs-'));
    const a = await rollout(root, 'A', 'random', 2);
    const long = await pairs(['--trajectories', a, '--segment-length', '51']);
    expect(long.code).toBe(2);
    expect(long.err.join('')).toBe(`prefrl pairs: --segment-length 51: the episodes of --trajectories ${join(a, 'artifacts', 'trajectories', 'toy-reach')} have at most 50 steps\n`);
    // Two 50-step episodes hold two 50-step segments: one pair (either order is the same question).
    const many = await pairs(['--trajectories', a, '--segment-length', '50', '--count', '2']);
    expect(many.code).toBe(1);
    expect(many.err.join('')).toMatch(/holds too few distinct segments of 50 steps for 2 pairs \(got 1\)/);
    // Across two folders: both named, then what they hold (2 x 2 episodes of 50 steps: 4 pairs at most).
    const b = await rollout(root, 'B', 'zero', 2);
    const across = await pairs(['--trajectories', a, '--against', b, '--segment-length', '50', '--count', '5']);
    expect(across.code).toBe(1);
    expect(across.err.join('')).toBe(`prefrl pairs: ${join(a, 'artifacts', 'trajectories', 'toy-reach')} and ${join(b, 'artifacts', 'trajectories', 'toy-reach')}: hold too few distinct segments of 50 steps for 5 pairs (got 4)\n`);
    const missing = await pairs(['--trajectories', join(root, 'nope')]);
    expect(missing.code).toBe(2);
    expect(missing.err.join('')).toBe(`prefrl pairs: --trajectories: ${join(root, 'nope')} not found\n`);
    // A bad --against is named as --against, not --trajectories.
    const againstMissing = await pairs(['--trajectories', a, '--against', join(root, 'nope')]);
    expect(againstMissing.code).toBe(2);
    expect(againstMissing.err.join('')).toBe(`prefrl pairs: --against: ${join(root, 'nope')} not found\n`);
    const againstEmpty = await pairs(['--trajectories', a, '--against', root]);
    expect(againstEmpty.err.join('')).toBe(`prefrl pairs: --against: ${root} holds no recorded episodes (expected a trajectory folder with index.json, or a prefrl rollout run folder)\n`);
    const arm = await rollout(root, 'R', 'random', 1, 'reacher');
    const other = await pairs(['--trajectories', a, '--against', arm, '--segment-length', '10']);
    expect(other.code).toBe(1);
    expect(other.err.join('')).toMatch(/trajectories\/reacher: episodes of reacher \(model \w+\); --trajectories holds toy-reach \(model toy-reach-v1\): pairs compare the same robot\n$/);
    expect(existsSync(join(a, 'labels.sqlite'))).toBe(false);
  });

  it('--store in a folder that does not exist, or naming a folder, is a usage error naming --store (exit 2), and makes nothing', async () => {
    const root = mkdtempSync(join(tmpdir(), 'pairs-'));
    const a = await rollout(root, 'A', 'random', 2);
    const store = join(root, 'nofolder', 'x.sqlite');
    const r = await pairs(['--trajectories', a, '--segment-length', '10', '--count', '1', '--store', store]);
    expect(r.code).toBe(2);
    expect(r.err.join('')).toBe(`prefrl pairs: --store ${store}: ${join(root, 'nofolder')} is not an existing folder\n`);
    const dirStore = await pairs(['--trajectories', a, '--segment-length', '10', '--count', '1', '--store', root]);
    expect(dirStore.code).toBe(2);
    expect(dirStore.err.join('')).toBe(`prefrl pairs: --store ${root}: is a folder; give a file name in it\n`);
    expect(existsSync(join(root, 'nofolder'))).toBe(false);
  });

  it("refuses to add recorded episodes' pairs to an offline run's store (its pairs come from the run's dataset), naming --store and both sources; the store keeps what it held", async () => {
    const root = mkdtempSync(join(tmpdir(), 'pairs-foreign-'));
    const data = join(root, 'd.h5');
    const c = captureCli();
    expect(await main(['collect', '--env', 'toy-reach', '--policy', 'random', '--steps', '400', '--out', data, '--runs-dir', join(root, 'runs'), '--quiet'], c.ctx), c.err.join('')).toBe(0);
    const o = captureCli();
    const off = ['offline', '--dataset', data, '--teacher', 'oracle', '--labels', '6', '--segment-length', '10', '--stage', 'pairs', '--runs-dir', join(root, 'runs'), '--quiet', '--json'];
    expect(await main(off, o.ctx), o.err.join('')).toBe(0);
    const run = lastJson<{ runDir: string }>(o.out).runDir;
    const storePath = join(run, 'labels.sqlite');
    const a = await rollout(root, 'A', 'random', 2);
    const r = await pairs(['--trajectories', a, '--count', '2', '--segment-length', '10', '--store', storePath]);
    expect(r.code).toBe(2);
    const dir = join(a, 'artifacts', 'trajectories', 'toy-reach');
    expect(r.err.join('')).toBe(
      `prefrl pairs: --store ${storePath}: the label store of the offline run ${run}, whose pairs come from its dataset ${data}; --trajectories ${dir} is another source, and its pairs would train the run's reward model (give another --store)\n`,
    );
    const store = LabelStore.open(storePath, { create: false });
    try {
      expect(store.counts().pairs).toBe(6);
      expect(store.sources()).toEqual([data]);
      expect(store.dataset()).toBe(data);
    } finally {
      store.close();
    }
    // A store written before the dataset was recorded in it: the run's config.json beside it says so.
    const db = new Database(storePath);
    db.prepare("DELETE FROM meta WHERE key = 'dataset'").run();
    db.close();
    const old = await pairs(['--trajectories', a, '--count', '2', '--segment-length', '10', '--store', storePath]);
    expect(old.code).toBe(2);
    expect(old.err.join('')).toContain(`--store ${storePath}: the label store of the offline run ${run}, whose pairs come from its dataset ${data}; --trajectories ${dir} is another source`);
    // The same episodes in a store of their own are fine.
    const own = await pairs(['--trajectories', a, '--count', '2', '--segment-length', '10', '--json']);
    expect(lastJson<{ added: number }>(own.out).added).toBe(2);
  });
});
