/**
 * Commands that only read a label store open it read-only (LabelStore.open `readOnly`): `labels
 * stats`, `labels export` and `runs` on a version-1 store (and on one older still, without the
 * labels' timeout and locked columns) leave the file's bytes and schema version as they were and
 * give the numbers worked out by hand from the rows written; a store opened read-only refuses
 * writes; a writer command still upgrades the store; a read-only file in a read-only folder can be
 * read (as root, by a child process without root's capabilities, where permissions bind); files
 * that are not label stores are named in the error.
 */
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../core/errors.js';
import { makeFolder } from '../core/paths.js';
import { makePair } from '../reward/segments.js';
import { LabelStore, TIMEOUT_SKIP_TAG } from '../reward/store.js';
import type { Pair } from '../reward/types.js';
import { main } from '../scripts/cli.js';
import type { RunEntry } from '../scripts/commands/runs.js';
import { captureCli, lastJson } from './helpers/cli.js';
import { handSegment } from './helpers/segments.js';
import { unprivileged } from './helpers/unprivileged.js';
import { V1_SCHEMA, writeV1Store } from './reward/store_v1.js';

let dir = '';
let pairs: Pair[] = [];
/** The store made by this prefrl (version 2), its version-1 copy, and a copy older still (no timeout / locked columns). */
let made = '';
let v1 = '';
let v0 = '';

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
/** Rows of `sql` on the file (a connection of its own, which writes nothing, and whose close removes the -wal and -shm it made). */
const raw = <T>(path: string, sql: string): T[] => {
  const db = new Database(path, { fileMustExist: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
};
const schemaVersion = (path: string) => raw<{ value: string }>(path, "SELECT value FROM meta WHERE key = 'schema_version'")[0].value;
const pairColumns = (path: string) => raw<{ name: string }>(path, "SELECT name FROM pragma_table_info('pairs')").map((c) => c.name);
const labelColumns = (path: string) => raw<{ name: string }>(path, "SELECT name FROM pragma_table_info('labels')").map((c) => c.name);

/** A copy of `from` in a fresh folder of its own (as a run's labels.sqlite). */
function copyOf(from: string, name = 'labels.sqlite'): string {
  const to = join(mkdtempSync(join(dir, 'copy-')), name);
  copyFileSync(from, to);
  return to;
}

/** `from` (a version-1 store) written again as prefrl wrote stores before the labels' timeout and locked columns. */
function writePreTimeoutStore(from: string, to: string): void {
  const schema = V1_SCHEMA.replace(/\n {2}timeout {5}INTEGER[^\n]*\n {2}locked {6}INTEGER[^\n]*/, '');
  expect(schema).not.toContain('timeout');
  const db = new Database(to);
  try {
    db.pragma('journal_mode = WAL');
    db.exec(schema);
    db.pragma(`application_id = ${0x70726566}`);
    db.prepare('ATTACH DATABASE ? AS src').run(from);
    db.exec(`INSERT INTO meta SELECT * FROM src.meta;
      INSERT INTO segments SELECT * FROM src.segments ORDER BY rowid;
      INSERT INTO pairs SELECT * FROM src.pairs ORDER BY rowid;
      INSERT INTO teachers SELECT * FROM src.teachers ORDER BY rowid;
      INSERT INTO labels SELECT id, pair_id, teacher, kind, prob_first, reason, response_ms, comment, raw, created_at FROM src.labels ORDER BY rowid;
      INSERT INTO leases SELECT * FROM src.leases;`);
    db.exec('DETACH DATABASE src');
  } finally {
    db.close();
  }
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'prefrl-store-ro-'));
  // Five pairs of one-step segments (ten segments); p3 wants two teachers, the others one.
  pairs = Array.from({ length: 5 }, (_, i) => makePair(handSegment(`s${2 * i}`, 1), handSegment(`s${2 * i + 1}`, 1)));
  made = join(dir, 'made.sqlite');
  const store = LabelStore.open(made, { envId: pairs[0].a.envId, modelHash: pairs[0].a.modelHash });
  store.putPairs(pairs.slice(0, 3));
  store.putPairs([pairs[3]], { wanted: 2 });
  store.putPairs([pairs[4]]);
  store.putTeacher({ id: 'oracle', kind: 'synthetic' });
  store.putTeacher({ id: 'human:ann', kind: 'human' });
  store.putTeacher({ id: 'human', kind: 'human' });
  const [p0, p1, p2, p3] = pairs.map((p) => p.id);
  store.addLabels([
    { id: 'a', pairId: p0, teacher: 'oracle', kind: 'preference', probFirst: 1 },
    { id: 'b', pairId: p0, teacher: 'human:ann', kind: 'preference', probFirst: 0, responseMs: 2000 },
    { id: 'c', pairId: p1, teacher: 'oracle', kind: 'preference', probFirst: 0.5 },
    { id: 'd', pairId: p1, teacher: 'human:ann', kind: 'preference', probFirst: 0.5, responseMs: 4000 },
    // Not an answer: the human teacher's timeout skip (its reason alone marks it in a store without the timeout column).
    { id: 'e', pairId: p2, teacher: 'human', kind: 'skip', reason: `no answer within 60 s ${TIMEOUT_SKIP_TAG}`, timeout: true },
    { id: 'f', pairId: p3, teacher: 'oracle', kind: 'skip', reason: "can't tell" },
  ]);
  store.close();
  v1 = join(dir, 'v1.sqlite');
  writeV1Store(made, v1);
  v0 = join(dir, 'v0.sqlite');
  writePreTimeoutStore(v1, v0);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * What `labels stats --json` must say of the store, by hand: 10 segments, 5 pairs, 6 labels.
 * Answered (distinct teachers, timeouts left out) against wanted: p0 2/1, p1 2/1, p2 0/1, p3 1/2,
 * p4 0/1, so pending p2, p3, p4 (3) and unlabelled p2, p4 (2); people (ann) answered p0 and p1
 * only: 3 waiting for people. Preferences 4, of them ties 2 (p1): 2 strict; skips 2, timeouts 1.
 * Agreement: p0 (first vs second, disagree) and p1 (equal, equal): 1 of 2; the four verdicts are
 * 1/4 first, 1/4 second, 2/4 equal, chance 1/16 + 1/16 + 4/16 = 0.375, kappa (0.5 - 0.375) / 0.625 = 0.2.
 */
const STATS = {
  pairs: 5,
  pending: 3,
  unlabelled: 2,
  forPeople: true,
  waitingForPeople: 3,
  labels: 6,
  preferences: 2,
  ties: 2,
  skips: 2,
  timeouts: 1,
};

async function statsOf(path: string): Promise<Record<string, unknown>> {
  const k = captureCli();
  expect(await main(['labels', 'stats', '--store', path, '--json'], k.ctx), k.err.join('')).toBe(0);
  return lastJson(k.out);
}

/** The files in the store's folder other than the store, with their sizes: what opening it left beside it. */
function besides(path: string): Record<string, number> {
  const folder = join(path, '..');
  return Object.fromEntries(readdirSync(folder).filter((f) => f !== 'labels.sqlite').map((f) => [f, statSync(join(folder, f)).size]));
}

describe.each([
  ['version-1', () => v1],
  ['pre-timeout-column', () => v0],
])('a %s store read by the read-only commands', (_what, source) => {
  it('labels stats: the numbers by hand; the file byte for byte as it was, still its old schema', async () => {
    const path = copyOf(source());
    const before = sha256(path);
    const columns = labelColumns(path);
    const stats = await statsOf(path);
    expect(stats).toMatchObject(STATS);
    expect(stats.agreement).toMatchObject({ pairs: 2, comparisons: 2, agreeing: 1, fraction: 0.5 });
    expect((stats.agreement as { kappa: number }).kappa).toBeCloseTo(0.2, 12);
    const teachers = Object.fromEntries((stats.teachers as { teacher: string; labels: number; preferences: number; ties: number; skips: number }[]).map((t) => [t.teacher, [t.labels, t.preferences, t.ties, t.skips]]));
    expect(teachers).toEqual({ oracle: [3, 1, 1, 1], 'human:ann': [2, 1, 1, 0], human: [1, 0, 0, 1] });
    expect(sha256(path)).toBe(before);
    expect(schemaVersion(path)).toBe('1');
    expect(pairColumns(path)).toEqual(['id', 'seg_a', 'seg_b', 'round', 'wanted', 'created_at']);
    expect(labelColumns(path)).toEqual(columns);
    // Nothing left beside it (SQLite made a -wal and -shm to read it, and removed them).
    expect(besides(path)).toEqual({});
  });

  it('labels export: every label in stored order, the timeout skip marked; the file as it was', async () => {
    const path = copyOf(source());
    const before = sha256(path);
    const out = join(dir, `export-${_what}.jsonl`);
    const k = captureCli();
    expect(await main(['labels', 'export', '--store', path, '--out', out, '--json'], k.ctx), k.err.join('')).toBe(0);
    expect(lastJson(k.out)).toMatchObject({ labels: 6 });
    const lines = readFileSync(out, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.id)).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    expect(lines.map((l) => l.probFirst ?? null)).toEqual([1, 0, 0.5, 0.5, null, null]);
    expect(lines.filter((l) => l.timeout === true).map((l) => l.id)).toEqual(['e']);
    expect(lines[1]).toMatchObject({ teacher: 'human:ann', responseMs: 2000 });
    expect(sha256(path)).toBe(before);
    expect(schemaVersion(path)).toBe('1');
  });

  it('runs: an offline run at its label stage counts 2 of 5 pairs answered from it; the file as it was', async () => {
    const root = mkdtempSync(join(dir, 'runs-'));
    const run = join(root, '20261207-100000-offline-reacher-oracle-s3');
    makeFolder(join(run, 'artifacts'));
    writeFileSync(join(run, 'config.json'), JSON.stringify({ command: 'offline', envConfig: { id: 'reacher' }, config: { teacher: 'oracle', seed: 3, labels: 4, query: 'uniform' } }));
    writeFileSync(join(run, 'artifacts', 'pairs.json'), '{}');
    const path = join(run, 'labels.sqlite');
    copyFileSync(source(), path);
    const before = sha256(path);
    const k = captureCli();
    expect(await main(['runs', '--runs-dir', root, '--json'], k.ctx), k.err.join('')).toBe(0);
    const [e] = lastJson<{ runs: RunEntry[] }>(k.out).runs;
    // 5 pairs, 3 pending: 2 answered; uniform queries: of the 5 stored; no label stage done, so none reopened.
    expect(e).toMatchObject({ state: 'unfinished', problem: null, stages: { done: ['pairs'], at: 'label', pairs: { answered: 2, of: 5, reopened: 0 } } });
    expect(sha256(path)).toBe(before);
    expect(schemaVersion(path)).toBe('1');
  });

  it('read-only through the library: counts and order as computed, writes refused, the env checked and not recorded', () => {
    const path = copyOf(source());
    const before = sha256(path);
    const store = LabelStore.open(path, { readOnly: true, envId: pairs[0].a.envId, modelHash: pairs[0].a.modelHash });
    try {
      expect(store.readOnly).toBe(true);
      expect(store.counts()).toMatchObject({ segments: 10, pairs: 5, labels: 6, preferences: 4, ties: 2, skips: 2, timeouts: 1, pending: 3, waitingForPeople: 3, unlabelled: 2 });
      const [p0, p1, p2, p3, p4] = pairs.map((p) => p.id);
      // Never timed out first (p3, p4), then the timed-out p2.
      expect(store.pendingPairIds()).toEqual([p3, p4, p2]);
      expect(store.stillPending([p0, p2, p4])).toEqual([p2, p4]);
      // Labelled (a preference or a skip, the timeout's too) in insertion order, then the unlabelled pending.
      expect(store.pairIdsToLabel()).toEqual([p0, p1, p2, p3, p4]);
      expect(store.answerCount()).toBe(5);
      expect(store.labels().find((l) => l.id === 'e')).toMatchObject({ kind: 'skip', timeout: true });
      expect(() => store.putTeacher({ id: 'x', kind: 'synthetic' })).toThrow(`LabelStore ${path}: opened read-only (readOnly: true); putTeacher writes to it`);
      expect(() => store.addLabels([{ id: 'g', pairId: p4, teacher: 'oracle', kind: 'preference', probFirst: 1 }])).toThrow(/opened read-only .*addLabels writes/);
      expect(() => store.nextPairFor('oracle', { leaseMs: 1000 })).toThrow(/opened read-only .*nextPairFor writes/);
    } finally {
      store.close();
    }
    expect(() => LabelStore.open(path, { readOnly: true, envId: 'other-env' })).toThrow(`${path} (env_id): store is for env id ${JSON.stringify(pairs[0].a.envId)}, expected "other-env"`);
    expect(sha256(path)).toBe(before);
  });

  it('a writer command (labels import) still upgrades it to version 2, and the numbers stay', async () => {
    const path = copyOf(source());
    const out = join(dir, `reimport-${_what}.jsonl`);
    const e = captureCli();
    expect(await main(['labels', 'export', '--store', path, '--out', out], e.ctx)).toBe(0);
    expect(schemaVersion(path)).toBe('1');
    const k = captureCli();
    expect(await main(['labels', 'import', '--store', path, '--in', out, '--json'], k.ctx), k.err.join('')).toBe(0);
    expect(lastJson(k.out)).toMatchObject({ lines: 6, added: 0, duplicates: 6 });
    expect(schemaVersion(path)).toBe('2');
    expect(pairColumns(path)).toEqual(['id', 'seg_a', 'seg_b', 'round', 'wanted', 'created_at', 'people', 'machines', 'answered', 'timed_out']);
    expect(labelColumns(path)).toContain('timeout');
    // The counters the migration stored agree with what the read-only views computed.
    expect(raw<{ answered: number }>(path, 'SELECT answered FROM pairs ORDER BY rowid').map((r) => r.answered)).toEqual([2, 2, 0, 1, 0]);
    expect(await statsOf(path)).toMatchObject(STATS);
  });
});

const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A copy of the version-2 store with one more label (p4 by the oracle: 7 labels) committed to its
 * -wal and not checkpointed, and no -shm: the files a writer killed mid-run leaves, copied while it ran.
 */
function walWithoutShm(): string {
  const live = copyOf(made);
  const path = join(mkdtempSync(join(dir, 'wal-')), 'labels.sqlite');
  const writer = LabelStore.open(live, { create: false });
  try {
    writer.addLabels([{ id: 'g', pairId: pairs[4].id, teacher: 'oracle', kind: 'preference', probFirst: 1 }]);
    copyFileSync(live, path);
    copyFileSync(`${live}-wal`, `${path}-wal`);
  } finally {
    writer.close();
  }
  expect(statSync(`${path}-wal`).size).toBeGreaterThan(0);
  expect(existsSync(`${path}-shm`)).toBe(false);
  return path;
}

describe('read-only opening of a version-2 store', () => {
  it('a -wal left without its -shm (a killed writer) is read with the labels in it, the store file untouched', () => {
    const path = walWithoutShm();
    const before = sha256(path);
    const store = LabelStore.open(path, { readOnly: true });
    try {
      expect(store.counts()).toMatchObject({ labels: 7, pending: 2, unlabelled: 1 });
    } finally {
      store.close();
    }
    expect(sha256(path)).toBe(before);
  });


  it('a writer that opens the store while a reader has it keeps its -wal and -shm when the reader closes', () => {
    const path = copyOf(made);
    const reader = LabelStore.open(path, { readOnly: true });
    expect(reader.counts().labels).toBe(6);
    const writer = LabelStore.open(path, { create: false });
    try {
      writer.addLabels([{ id: 'g', pairId: pairs[4].id, teacher: 'oracle', kind: 'preference', probFirst: 1 }]);
      reader.close();
      expect(statSync(`${path}-wal`).size).toBeGreaterThan(0);
      expect(existsSync(`${path}-shm`)).toBe(true);
      writer.addLabels([{ id: 'h', pairId: pairs[3].id, teacher: 'human:ann', kind: 'preference', probFirst: 1 }]);
    } finally {
      writer.close();
    }
    expect(besides(path)).toEqual({});
    expect(raw<{ id: string }>(path, 'SELECT id FROM labels ORDER BY rowid').map((r) => r.id)).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']);
  });

  it('sees labels another connection committed and has not checkpointed (read through the -wal)', () => {
    const path = copyOf(made);
    const writer = LabelStore.open(path, { create: false });
    try {
      writer.addLabels([{ id: 'g', pairId: pairs[4].id, teacher: 'oracle', kind: 'preference', probFirst: 1 }]);
      expect(statSync(`${path}-wal`).size).toBeGreaterThan(0);
      const reader = LabelStore.open(path, { readOnly: true });
      try {
        expect(reader.counts()).toMatchObject({ labels: 7, pending: 2, unlabelled: 1 });
      } finally {
        reader.close();
      }
      // The writer still writes after the reader has gone.
      writer.addLabels([{ id: 'h', pairId: pairs[3].id, teacher: 'human:ann', kind: 'preference', probFirst: 1 }]);
      expect(writer.counts()).toMatchObject({ labels: 8, pending: 1 });
    } finally {
      writer.close();
    }
  });
});

describe('bad input to a read-only open', () => {
  it('a file that is not SQLite, an empty file, a newer schema and a missing file are named, and nothing is written or made', async () => {
    const folder = mkdtempSync(join(dir, 'bad-'));
    const junk = join(folder, 'junk.sqlite');
    const text = 'these are not the labels you are looking for\n'.repeat(40);
    writeFileSync(junk, text);
    const k = captureCli();
    expect(await main(['labels', 'stats', '--store', junk], k.ctx)).toBe(1);
    expect(k.err.join('')).toContain(`${junk}: not a SQLite database`);
    expect(readFileSync(junk, 'utf8')).toBe(text);

    const empty = join(folder, 'empty.sqlite');
    writeFileSync(empty, '');
    const x = captureCli();
    expect(await main(['labels', 'export', '--store', empty, '--out', join(folder, 'x.jsonl')], x.ctx)).toBe(1);
    expect(x.err.join('')).toContain(`${empty}: not a label store (an empty file`);
    expect(statSync(empty).size).toBe(0);
    expect(existsSync(join(folder, 'x.jsonl'))).toBe(false);

    const newer = copyOf(made);
    const db = new Database(newer);
    db.prepare("UPDATE meta SET value = '3' WHERE key = 'schema_version'").run();
    db.close();
    expect(() => LabelStore.open(newer, { readOnly: true })).toThrow(`${newer} (meta.schema_version): label store schema version 3 is newer than this prefrl supports (2); upgrade prefrl to read it`);

    const missing = join(folder, 'missing.sqlite');
    expect(() => LabelStore.open(missing, { readOnly: true })).toThrow(InputError);
    expect(() => LabelStore.open(missing, { readOnly: true })).toThrow(`${missing}: no such label store (the file does not exist)`);
    expect(existsSync(missing)).toBe(false);
  });
});

// File permissions do not bind root (CI runs the tests as root): there the commands run under
// setpriv with every capability dropped (test/helpers/unprivileged.ts); another user runs them here.
const asUser = unprivileged();

describe.skipIf(asUser.skip !== null)(`a store in a folder ${asUser.who} cannot write${asUser.skip ? ` (skipped: ${asUser.skip})` : ''}`, () => {
  it('a read-only store file (0444) in a read-only folder (0555) is read, from a copy in memory when it has no -wal', async () => {
    const path = copyOf(v1);
    const folder = join(path, '..');
    const before = sha256(path);
    chmodSync(path, 0o444);
    chmodSync(folder, 0o555);
    try {
      const s = await asUser.cli(['labels', 'stats', '--store', path, '--json']);
      expect(s.code, s.err).toBe(0);
      expect(lastJson([s.out])).toMatchObject(STATS);
      const k = await asUser.cli(['labels', 'export', '--store', path, '--out', join(dir, 'ro.jsonl')]);
      expect(k.code, k.err).toBe(0);
      expect(readFileSync(join(dir, 'ro.jsonl'), 'utf8').trimEnd().split('\n')).toHaveLength(6);
      expect(readdirSync(folder)).toEqual(['labels.sqlite']);
    } finally {
      chmodSync(folder, 0o755);
      chmodSync(path, 0o644);
    }
    expect(sha256(path)).toBe(before);
  });

  it('a store file this user may not read is an error naming it', async () => {
    const path = copyOf(v1);
    chmodSync(path, 0o200);
    try {
      const k = await asUser.cli(['labels', 'stats', '--store', path]);
      expect(k.code).toBe(1);
      expect(k.err).toContain(`${path}: cannot read the label store: this user may not read the file (EACCES)`);
    } finally {
      chmodSync(path, 0o644);
    }
  });

  it('a store whose -wal is there but not its -shm, in a read-only folder, is an error naming both files', async () => {
    const path = walWithoutShm();
    const folder = join(path, '..');
    chmodSync(folder, 0o555);
    try {
      expect(await asUser.openReadOnly(path)).toEqual({ error: expect.stringMatching(new RegExp(`^${escaped(path)}: cannot read it .*write-ahead log ${escaped(path)}-wal through the shared-memory file ${escaped(path)}-shm, which is not there and cannot be made`)) });
      const k = await asUser.cli(['labels', 'stats', '--store', path]);
      expect(k.code).toBe(1);
      expect(k.err).toContain(`${path}: cannot read it`);
    } finally {
      chmodSync(folder, 0o755);
    }
  });
});
