/**
 * Schema version 1 -> 2: a store written by the version-1 schema (V1_SCHEMA, the DDL prefrl wrote
 * before version 2) opens, gets the pairs' counters, indexes and triggers, reads schema_version 2,
 * and hands out and counts exactly what it did before (the version-1 queries on the same file)
 * and what the store it was copied from does; opening it again, twice at once in one process or
 * from two processes at once, changes nothing more; labels written after the migration keep the
 * counters right.
 */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../core/clock.js';
import { LabelStore } from '../../reward/store.js';
import type { Pair } from '../../reward/types.js';
import { spawnCli } from '../helpers/cli.js';
import { pairPool, randomRun, TEACHERS } from './store_random.js';
import { V1Reference, writeV1Store } from './store_v1.js';

let dir = '';
let pool: Pair[] = [];
/** A store built by 120 random steps (made by this prefrl), and its version-1 copy. */
let made = '';
let v1 = '';

const raw = (path: string, sql: string) => {
  const db = new Database(path, { fileMustExist: true });
  try {
    return db.prepare(sql).all();
  } finally {
    db.close();
  }
};
const schemaObjects = (path: string) => raw(path, "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name") as { type: string; name: string }[];
const pairColumns = (path: string) => (raw(path, "SELECT name FROM pragma_table_info('pairs')") as { name: string }[]).map((c) => c.name);
const version = (path: string) => (raw(path, "SELECT value FROM meta WHERE key = 'schema_version'") as { value: string }[])[0].value;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'prefrl-migration-'));
  pool = pairPool();
  made = join(dir, 'made.sqlite');
  const clock = new ManualClock();
  const store = LabelStore.open(made, { clock });
  const ref = new V1Reference(made);
  try {
    randomRun(store, ref, clock, pool, 7, 120, dir);
  } finally {
    ref.close();
    store.close();
  }
  v1 = join(dir, 'v1.sqlite');
  writeV1Store(made, v1);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a version-1 store is migrated to version 2 when opened', () => {
  it('the version-1 copy is what old prefrl wrote: schema_version 1, no counters, triggers or new indexes', () => {
    expect(version(v1)).toBe('1');
    expect(pairColumns(v1)).toEqual(['id', 'seg_a', 'seg_b', 'round', 'wanted', 'created_at']);
    expect(schemaObjects(v1).filter((o) => o.type !== 'table')).toEqual([
      { type: 'index', name: 'labels_pair' },
      { type: 'index', name: 'labels_teacher' },
      { type: 'index', name: 'leases_teacher' },
      { type: 'index', name: 'pairs_round' },
    ]);
    expect((raw(v1, 'SELECT COUNT(*) AS n FROM labels') as { n: number }[])[0].n).toBeGreaterThan(30);
  });

  it('opens, reads schema_version 2, and hands out and counts as before the migration and as the store it was copied from', () => {
    const path = join(dir, 'migrated.sqlite');
    copyFileSync(v1, path);
    // What the version-1 queries say on the unmigrated file (some leases of the run still live at `now`).
    const before = new V1Reference(path);
    const now = new ManualClock().date().getTime() + 100_000;
    const wantCounts = before.counts();
    const wantPending = before.pendingIds();
    before.close();

    const m = LabelStore.open(path, { create: false });
    const a = LabelStore.open(made, { create: false });
    const ref = new V1Reference(path);
    try {
      expect(version(path)).toBe('2');
      expect(pairColumns(path)).toEqual(['id', 'seg_a', 'seg_b', 'round', 'wanted', 'created_at', 'people', 'machines', 'answered', 'timed_out']);
      expect(schemaObjects(path)).toEqual(schemaObjects(made));
      const pick = (c: ReturnType<LabelStore['counts']>) => ({ pending: c.pending, waitingForPeople: c.waitingForPeople, unlabelled: c.unlabelled });
      expect(pick(m.counts(now))).toEqual(wantCounts);
      expect(pick(a.counts(now))).toEqual(wantCounts);
      expect(m.counts(now)).toEqual(a.counts(now));
      expect(m.pendingPairIds()).toEqual(wantPending);
      // Each teacher in turn (each hand-out a lease the next one sees), twice, on both stores, and
      // what the version-1 queries pick on the migrated file just before each.
      const want: (string | null)[] = [];
      const got: (string | null)[] = [];
      for (const t of [...TEACHERS, ...TEACHERS, 'human:new', 'heron:new']) {
        want.push(ref.nextPairId(t, now));
        got.push(m.nextPairFor(t, { leaseMs: 60_000, now })?.pair.id ?? null);
        expect(a.nextPairFor(t, { leaseMs: 60_000, now })?.pair.id ?? null).toBe(got[got.length - 1]);
      }
      expect(got).toEqual(want);
      expect(got.filter((id) => id !== null).length).toBeGreaterThan(3);
      expect(got.filter((id) => id === null).length).toBeGreaterThan(0);
    } finally {
      ref.close();
      a.close();
      m.close();
    }
    // The counters, as stored, are what counting each pair's labels gives.
    const stored = raw(path, 'SELECT id, people, machines, answered, timed_out FROM pairs ORDER BY rowid');
    expect(stored).toEqual(raw(made, 'SELECT id, people, machines, answered, timed_out FROM pairs ORDER BY rowid'));
  });

  it('opening it again, and twice at once, changes nothing; labels written after the migration keep the counters right', () => {
    const path = join(dir, 'twice.sqlite');
    copyFileSync(v1, path);
    const first = LabelStore.open(path, { create: false });
    const second = LabelStore.open(path, { create: false });
    const objects = schemaObjects(path);
    const counters = raw(path, 'SELECT people, machines, answered, timed_out FROM pairs ORDER BY rowid');
    second.close();
    first.close();
    const third = LabelStore.open(path, { create: false });
    third.close();
    expect(version(path)).toBe('2');
    expect(schemaObjects(path)).toEqual(objects);
    expect(objects.filter((o) => o.type === 'trigger').map((o) => o.name)).toEqual([
      'labels_delete_counts',
      'labels_insert_counts',
      'labels_update_counts',
      'teachers_delete_counts',
      'teachers_insert_counts',
      'teachers_update_counts',
    ]);
    expect(raw(path, 'SELECT people, machines, answered, timed_out FROM pairs ORDER BY rowid')).toEqual(counters);
    // More random steps on the migrated store, checked against the version-1 queries after each.
    const clock = new ManualClock(200_000);
    const store = LabelStore.open(path, { clock, create: false });
    const ref = new V1Reference(path);
    try {
      const run = randomRun(store, ref, clock, pool, 8, 80, dir);
      expect(run.handOuts).toBeGreaterThan(10);
    } finally {
      ref.close();
      store.close();
    }
  });

  it('two processes opening one version-1 store at once migrate it once', async () => {
    const path = join(dir, 'two.sqlite');
    copyFileSync(v1, path);
    // A command that writes (labels stats and export only read: they leave a version-1 store as it is).
    const empty = join(dir, 'empty.jsonl');
    writeFileSync(empty, '');
    const runs = [spawnCli(['labels', 'import', '--store', path, '--in', empty, '--json']), spawnCli(['labels', 'import', '--store', path, '--in', empty, '--json'])];
    const codes = await Promise.all(runs.map((r) => r.exited));
    expect(codes, runs.map((r) => r.stderr()).join('\n')).toEqual([0, 0]);
    expect(version(path)).toBe('2');
    expect(schemaObjects(path)).toEqual(schemaObjects(made));
    expect(raw(path, 'SELECT id, people, machines, answered, timed_out FROM pairs ORDER BY rowid')).toEqual(raw(made, 'SELECT id, people, machines, answered, timed_out FROM pairs ORDER BY rowid'));
  });

  it('a version-1 store whose write lock another connection holds past the busy timeout is refused, naming the file and saying why; once the lock is gone it is migrated', () => {
    const path = join(dir, 'busy.sqlite');
    copyFileSync(v1, path);
    const other = new Database(path);
    try {
      other.pragma('journal_mode = WAL');
      other.exec('BEGIN IMMEDIATE');
      expect(() => LabelStore.open(path, { create: false, busyTimeoutMs: 50 })).toThrow(
        `${path}: cannot open label store: database is locked: another process held its write lock for more than 50 ms (a long write, or the one-time upgrade of a large store made by an older prefrl); try again when it is done`,
      );
      expect(version(path)).toBe('1');
      other.exec('ROLLBACK');
    } finally {
      other.close();
    }
    const store = LabelStore.open(path, { create: false, busyTimeoutMs: 50 });
    store.close();
    expect(version(path)).toBe('2');
  });

  it('a store of a newer version (3) is refused, naming the file and the version', () => {
    const path = join(dir, 'v3.sqlite');
    copyFileSync(made, path);
    const db = new Database(path);
    db.prepare("UPDATE meta SET value = '3' WHERE key = 'schema_version'").run();
    db.close();
    expect(() => LabelStore.open(path, { create: false })).toThrow(`${path} (meta.schema_version): label store schema version 3 is newer than this prefrl supports (2); upgrade prefrl to read it`);
  });
});
