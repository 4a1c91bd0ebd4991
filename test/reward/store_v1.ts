/**
 * Version-1 label stores for tests, and the version-1 queries (the reference the counters of
 * version 2 must agree with).
 *
 * V1_SCHEMA is the DDL prefrl wrote before schema version 2 (reward/store.ts at commit 03ad40d,
 * its SCHEMA constant), kept here as it was so the migration is tested on what old prefrl wrote.
 */
import Database from 'better-sqlite3';
import { isPerson } from '../../reward/store.js';

export const V1_SCHEMA = `
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE segments (
  id            TEXT PRIMARY KEY,
  env_id        TEXT NOT NULL,
  model_hash    TEXT NOT NULL,
  obs_dim       INTEGER NOT NULL,
  act_dim       INTEGER NOT NULL,
  n_terms       INTEGER NOT NULL,
  nq            INTEGER NOT NULL,
  nv            INTEGER NOT NULL,
  na            INTEGER NOT NULL,
  length        INTEGER NOT NULL CHECK (length >= 1),
  start_step    INTEGER NOT NULL,
  source        TEXT NOT NULL,
  ends_terminal INTEGER NOT NULL CHECK (ends_terminal IN (0, 1)),
  obs     BLOB NOT NULL,
  actions BLOB NOT NULL,
  rewards BLOB NOT NULL,
  terms   BLOB NOT NULL,
  qpos    BLOB NOT NULL,
  qvel    BLOB NOT NULL,
  act     BLOB NOT NULL,
  time    BLOB NOT NULL,
  success BLOB NOT NULL
);
CREATE TABLE pairs (
  id         TEXT PRIMARY KEY,
  seg_a      TEXT NOT NULL REFERENCES segments(id),
  seg_b      TEXT NOT NULL REFERENCES segments(id),
  round      INTEGER NOT NULL DEFAULT 0,
  wanted     INTEGER NOT NULL DEFAULT 1 CHECK (wanted >= 1),
  created_at INTEGER NOT NULL
);
CREATE INDEX pairs_round ON pairs(round);
CREATE TABLE teachers (
  id     TEXT PRIMARY KEY,
  kind   TEXT NOT NULL,
  config TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE labels (
  id          TEXT PRIMARY KEY,
  pair_id     TEXT NOT NULL REFERENCES pairs(id),
  teacher     TEXT NOT NULL REFERENCES teachers(id),
  kind        TEXT NOT NULL CHECK (kind IN ('preference', 'skip')),
  prob_first  REAL,
  reason      TEXT,
  response_ms REAL,
  comment     TEXT,
  raw         TEXT,
  created_at  INTEGER NOT NULL,
  timeout     INTEGER NOT NULL DEFAULT 0 CHECK (timeout IN (0, 1)),
  locked      INTEGER NOT NULL DEFAULT 0 CHECK (locked IN (0, 1)),
  CHECK ((kind = 'preference' AND prob_first BETWEEN 0 AND 1 AND reason IS NULL)
      OR (kind = 'skip' AND prob_first IS NULL AND reason IS NOT NULL))
);
CREATE INDEX labels_pair ON labels(pair_id, teacher);
CREATE INDEX labels_teacher ON labels(teacher);
CREATE TABLE leases (
  pair_id    TEXT NOT NULL REFERENCES pairs(id),
  teacher    TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (pair_id, teacher)
);
CREATE INDEX leases_teacher ON leases(teacher, expires_at);
`;

/**
 * Write at `to` the version-1 store holding what the store at `from` holds (segments, pairs in
 * insertion order, teachers, labels in stored order, leases, meta), as prefrl before version 2
 * wrote it: V1_SCHEMA, application_id "pref", schema_version 1. `from` must not be open for writing.
 */
export function writeV1Store(from: string, to: string): void {
  const db = new Database(to);
  try {
    db.pragma('journal_mode = WAL');
    db.exec(V1_SCHEMA);
    db.pragma(`application_id = ${0x70726566}`);
    db.prepare('ATTACH DATABASE ? AS src').run(from);
    db.transaction(() => {
      db.exec(`INSERT INTO meta SELECT key, value FROM src.meta;
        UPDATE meta SET value = '1' WHERE key = 'schema_version';
        INSERT INTO segments SELECT * FROM src.segments ORDER BY rowid;
        INSERT INTO pairs (id, seg_a, seg_b, round, wanted, created_at) SELECT id, seg_a, seg_b, round, wanted, created_at FROM src.pairs ORDER BY rowid;
        INSERT INTO teachers SELECT id, kind, config FROM src.teachers ORDER BY rowid;
        INSERT INTO labels SELECT id, pair_id, teacher, kind, prob_first, reason, response_ms, comment, raw, created_at, timeout, locked FROM src.labels ORDER BY rowid;
        INSERT INTO leases SELECT pair_id, teacher, expires_at FROM src.leases ORDER BY rowid;`);
    })();
    db.exec('DETACH DATABASE src');
  } finally {
    db.close();
  }
}

// ---------------------------------------------------------------- the version-1 queries, verbatim

const V1_IS_PERSON = (col: string) => `prefrl_is_person(${col}, (SELECT tk.kind FROM teachers tk WHERE tk.id = ${col}))`;
const V1_TIMED_OUT = (p: string) => `EXISTS (SELECT 1 FROM labels lt WHERE lt.pair_id = ${p}.id AND NOT lt.timeout = 0)`;
const V1_PENDING_WHERE = (p: string) => `(SELECT COUNT(DISTINCT l.teacher) FROM labels l WHERE l.pair_id = ${p}.id AND l.timeout = 0) < ${p}.wanted`;

/** nextPairFor's two queries before version 2: the pair a teacher holds a lease on, else the pick. */
export const V1_HELD_SQL = `SELECT p.* FROM leases s JOIN pairs p ON p.id = s.pair_id
  WHERE s.teacher = @teacher AND s.expires_at > @now
    AND NOT EXISTS (SELECT 1 FROM labels l WHERE l.pair_id = p.id AND l.teacher = @teacher)
  ORDER BY s.expires_at LIMIT 1`;
export const V1_PICK_SQL = `SELECT p.* FROM pairs p
  WHERE NOT EXISTS (SELECT 1 FROM labels l WHERE l.pair_id = p.id AND l.teacher = @teacher)
    AND (SELECT COUNT(DISTINCT l.teacher) FROM labels l WHERE l.pair_id = p.id AND l.timeout = 0 AND ${V1_IS_PERSON('l.teacher')} = @person)
      + (SELECT COUNT(*) FROM leases s WHERE s.pair_id = p.id AND s.teacher != @teacher AND s.expires_at > @now
           AND ${V1_IS_PERSON('s.teacher')} = @person
           AND NOT EXISTS (SELECT 1 FROM labels l2 WHERE l2.pair_id = p.id AND l2.teacher = s.teacher))
      < p.wanted
  ORDER BY ${V1_TIMED_OUT('p')}, p.round DESC, p.rowid LIMIT 1`;
/** pendingPairIds before version 2. */
export const V1_PENDING_IDS_SQL = `SELECT p.id FROM pairs p WHERE ${V1_PENDING_WHERE('p')} ORDER BY ${V1_TIMED_OUT('p')}, p.round, p.rowid`;
/** counts()' pending, waitingForPeople and unlabelled before version 2. */
export const V1_COUNTS_SQL = {
  pending: `SELECT COUNT(*) AS n FROM pairs p WHERE ${V1_PENDING_WHERE('p')}`,
  waitingForPeople: `SELECT COUNT(*) AS n FROM pairs p WHERE (SELECT COUNT(DISTINCT l.teacher) FROM labels l WHERE l.pair_id = p.id AND l.timeout = 0 AND ${V1_IS_PERSON('l.teacher')}) < p.wanted`,
  unlabelled: 'SELECT COUNT(*) AS n FROM pairs p WHERE NOT EXISTS (SELECT 1 FROM labels l WHERE l.pair_id = p.id AND l.timeout = 0)',
} as const;

/** The version-1 queries on a second connection to a store's file (reads what the store committed). */
export class V1Reference {
  private readonly db: Database.Database;

  constructor(path: string) {
    this.db = new Database(path);
    this.db.function('prefrl_is_person', { deterministic: true }, (teacher: unknown, kind: unknown) => (isPerson(String(teacher), typeof kind === 'string' ? kind : null) ? 1 : 0));
  }

  /** The pair id nextPairFor(teacher) handed out before version 2 (without taking a lease), or null. */
  nextPairId(teacher: string, now: number): string | null {
    const person = (this.db.prepare(`SELECT ${V1_IS_PERSON('@teacher')} AS v`).get({ teacher }) as { v: number }).v;
    const held = this.db.prepare(V1_HELD_SQL).get({ teacher, now }) as { id: string } | undefined;
    const pick = held ?? (this.db.prepare(V1_PICK_SQL).get({ teacher, now, person }) as { id: string } | undefined);
    return pick?.id ?? null;
  }

  pendingIds(): string[] {
    return (this.db.prepare(V1_PENDING_IDS_SQL).all() as { id: string }[]).map((r) => r.id);
  }

  counts(): { pending: number; waitingForPeople: number; unlabelled: number } {
    const one = (sql: string) => (this.db.prepare(sql).get() as { n: number }).n;
    return { pending: one(V1_COUNTS_SQL.pending), waitingForPeople: one(V1_COUNTS_SQL.waitingForPeople), unlabelled: one(V1_COUNTS_SQL.unlabelled) };
  }

  /** meta.schema_version as stored. */
  schemaVersion(): string {
    return (this.db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as { value: string }).value;
  }

  close(): void {
    this.db.close();
  }
}
