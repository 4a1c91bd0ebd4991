/**
 * The label store: segments, pairs, teachers, labels and labelling leases in one SQLite file
 * (better-sqlite3; one file per project or run).
 *
 * Why SQLite: labels from people cost seconds of human attention each and cannot be
 * regenerated, several processes (a labelling server, a trainer, a CLI export) read the same
 * file, and a crash must never lose an acknowledged label or leave a half-written file.
 *
 * Durability. The file runs in WAL mode with `synchronous=FULL`:
 * - WAL lets readers (the trainer, `labels export`) run while the labelling server writes.
 * - In WAL mode `synchronous=NORMAL` only syncs at checkpoints, so a transaction that
 *   committed just before a power cut or OS crash can be rolled back on recovery: the caller
 *   was told "stored" and the label is gone. `FULL` fsyncs the WAL at every commit, so once
 *   `addLabels` returns the labels survive a process kill, an OS crash and a power cut (on
 *   disks that honour fsync). The cost, one fsync per batch (milliseconds), is nothing next
 *   to the seconds a person spends per label.
 * - `addLabels` writes a batch in one transaction and returns only after COMMIT: a batch is
 *   all there or not there, and an acknowledgement is only sent for committed labels.
 * - Label ids make re-sends idempotent: a client that lost the acknowledgement sends the same
 *   labels again and nothing is stored twice.
 *
 * Schema (version 2; `meta.schema_version`; newer versions are refused, version 1 is migrated
 * when opened):
 *   meta(key, value)                       schema_version, env_id, model_hash, created_at;
 *                                          dataset (an offline run's store: where its pairs
 *                                          come from); audience "people" (a store made for
 *                                          people to label: prefrl pairs); served_port
 *                                          (the port a human teacher's server bound)
 *   segments(id, env_id, model_hash, obs_dim, act_dim, n_terms, nq, nv, na, length,
 *            start_step, source, ends_terminal, obs, actions, rewards, terms, qpos, qvel,
 *            act, time, success)          arrays are BLOBs of the typed arrays' bytes
 *                                          (little-endian, row-major, as in reward/types.ts)
 *   pairs(id, seg_a, seg_b, round, wanted, created_at, people, machines, answered, timed_out)
 *                                          seg_a is the "first" segment; wanted = number of
 *                                          distinct teachers that should label the pair;
 *                                          people / machines / answered = distinct
 *                                          teachers of each audience / of both that answered
 *                                          it; timed_out = 1 when it holds a timeout skip
 *                                          (see "Counters" below)
 *   teachers(id, kind, config)             config is a JSON object
 *   labels(id, pair_id, teacher, kind, prob_first, reason, response_ms, comment, raw,
 *          created_at, timeout, locked)    kind 'preference' has prob_first, 'skip' a reason;
 *                                          locked: passed to training, no undo (lockLabels)
 *   leases(pair_id, teacher, expires_at)   a pair handed to a teacher until expires_at
 * Times are wall-clock epoch milliseconds from the injected Clock (`clock.date()`), so they
 * are comparable across processes and restarts (a monotonic clock is not).
 *
 * Counters (version 2). A pair's `people`, `machines`, `answered` and `timed_out` are what the rules below
 * compute from its labels, kept so by SQLite triggers (on inserting, deleting or updating a
 * label's pair, teacher or timeout, and on a teacher's kind changing): every write, by this code,
 * an older prefrl already running on the file or any SQLite client, updates them in the same
 * transaction. The triggers are plain SQL (the person rule written out, PERSON_SQL), so they run
 * in connections that have not registered prefrl's functions. Partial indexes over them hold the
 * pairs open to each audience and the pending pairs in hand-out order, so `nextPairFor` walks
 * pairs in that order, from the first one the teacher has not labelled (its floor, kept in the
 * connection's TEMP schema: HAND_OUT_FLOORS_SQL), and stops at the first it may hand out, and `counts()`' pending and
 * waiting-for-people counts read only those indexes, instead of counting every pair's labels.
 * Opening a version-1 store adds the columns, indexes and triggers and counts every pair's
 * labels, in one IMMEDIATE transaction (two processes opening it at once migrate it once). An
 * older prefrl refuses to open a version-2 store (its version check), so it never writes one
 * without the triggers it would not know of.
 *
 * Work hand-out (`nextPairFor`): people and machine teachers are separate audiences. A person
 * is a teacher registered with kind "human" or whose id is "human" or starts with "human:" (the
 * viewer's `human:<name>`); every other teacher (synthetic, HERON, VLM) is a machine. For a
 * teacher, a pair is open while fewer distinct teachers *of its audience* have labelled it (a
 * preference or a skip) than it wants: the oracle's labels (`prefrl label`) do not use up the
 * pairs people are asked about, and people's answers do not use up a machine's. A teacher is
 * offered an open pair it has not labelled, whose labels plus unexpired leases held by *other*
 * teachers of its audience are fewer than `wanted`; so with wanted = 1 concurrent people get
 * different pairs, with wanted = k up to k different people label the same pair, and no teacher
 * gets a pair it already labelled. A teacher that still holds an unexpired lease gets that pair
 * again (a reloaded page resumes). Pairs go out newest round first, in insertion order within a
 * round: in a live `train` run people get the batch the trainer waits for before pairs left open
 * by an interrupted round. `pendingPairs` and `counts().pending` (bulk labelling by one
 * machine teacher: `prefrl offline`) count every teacher's labels; `counts().waitingForPeople`
 * counts people's only.
 *
 * Timeouts are not answers. When nobody answers the human teacher within its idle timeout, it
 * stores a skip marked as a timeout: the labels table's `timeout` column (1), a StoredLabel's
 * `timeout: true`, a JSONL line's `"timeout": true`. Its reason ends with TIMEOUT_SKIP_TAG ("no
 * answer within 60 s (human teacher timeout)"), but the wording of a reason decides nothing: an
 * imported skip of a person (`human:<name>`) whose free text happens to end the same way is an
 * answer. The words are read only for the human teacher's own skips (teacher id "human", which
 * stores nothing but its timeouts) that carry no `timeout` field: labels given to `addLabels` or
 * imported (JSONL exported before the field) without it, and a store written before the column,
 * whose human-teacher skips of that reason are marked when it is opened. Such
 * a skip keeps the run going (the pair is settled for that call) but does not fill the pair:
 * `pendingPairs`, `counts()` and `nextPairFor` leave it out, so a resumed run, `--stage label
 * --force` and `prefrl serve` ask the pair again, after the pairs never asked (a late person
 * answers the current batch first). A person's deliberate skip ("can't tell") is an answer like
 * a preference. The one-label-per-teacher rule still holds for timeouts: the human teacher,
 * timing out on a pair again, reuses its first timeout skip.
 *
 * One label per teacher and pair: `addLabels` refuses a label for a pair its teacher has already
 * labelled under another label id (SecondLabelError); `importJsonl` leaves such labels out and
 * reports how many it left out and how many of them gave another answer.
 */
import { accessSync, closeSync, constants as fsConstants, existsSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { endianness } from 'node:os';
import Database from 'better-sqlite3';
import { type Clock, systemClock } from '../core/clock.js';
import { InputError, isSqliteEnvironmentError, parseJson, shownArg, shownValue, refuseUnknownKeys } from '../core/errors.js';
import { shellQuote } from '../core/paths.js';
import { PERSON_ID_PREFIX } from '../core/person.js';
import { modelHashNote } from '../envs/types.js';
import { AgreementTally } from './agreement_tally.js';
import type { Label, Pair, Segment } from './types.js';

/** The schema version this code writes and the newest it reads. */
export const STORE_SCHEMA_VERSION = 2;
/** SQLite `application_id` of label stores ("pref"), so `file(1)`-style tools can tell them apart. */
const APPLICATION_ID = 0x70726566;

if (endianness() !== 'LE') {
  // BLOBs hold raw typed-array bytes; every supported platform is little-endian.
  throw new Error('reward/store: big-endian platforms are not supported (segment arrays are stored little-endian)');
}

/** The tables every label store holds (all of them since schema version 1; SCHEMA makes them). */
const STORE_TABLES = ['meta', 'segments', 'pairs', 'teachers', 'labels', 'leases'] as const;

const SCHEMA = `
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

/** A label as stored: the teacher's label plus when the store received it. */
export type StoredLabel = Label & {
  /** ISO 8601 time the label was first stored (from the store's Clock, or kept from an import). */
  readonly createdAt: string;
  /** Set (true) on the human teacher's timeout skips: not answers (see the header). */
  readonly timeout?: true;
};

/** A label to add; `createdAt` (ISO 8601) is kept when given (imports), else taken from the Clock. */
export type NewLabel = Label & {
  readonly createdAt?: string;
  /**
   * A skip stored because nobody answered in time (see the header): true marks it, false says it
   * is not one. Left out: false, except for the human teacher's own skips with its timeout reason
   * given to `addLabels` (not to `importJsonl`).
   */
  readonly timeout?: boolean;
};

/** Every option LabelStore.open reads (for its check of unknown ones). */
const OPEN_OPTIONS: Readonly<Record<keyof OpenOptions, true>> = { clock: true, create: true, envId: true, modelHash: true, dataset: true, busyTimeoutMs: true, readOnly: true };

export interface OpenOptions {
  /** Source of timestamps (default: the system clock). */
  readonly clock?: Clock;
  /** Create the file when it does not exist (default true). When false a missing file is an InputError. */
  readonly create?: boolean;
  /** The env this store must hold; a store of another env is an InputError. Recorded in a new store. */
  readonly envId?: string;
  /** The env model hash this store must hold (same rules as envId). */
  readonly modelHash?: string;
  /**
   * The dataset an offline run cuts its pairs from (an absolute path), recorded in the store's
   * meta (`dataset`) when it holds none, so other commands can tell the store belongs to that
   * run (`prefrl pairs` adds no pairs from elsewhere to it).
   */
  readonly dataset?: string;
  /** How long to wait for another process's write lock, ms (default 5000). */
  readonly busyTimeoutMs?: number;
  /**
   * Open an existing store for reading only (what the commands that only read use: runs, labels
   * stats and export, render, reward): nothing is written to the file. No migration (a version-1
   * store stays version 1 and is read as it is: its pairs' counters are computed from the labels),
   * no pragma that writes, nothing recorded in meta (`envId` and `modelHash` are only checked;
   * `dataset` is ignored); `create` is taken as false, and every method that writes throws. The
   * file may be read-only, in a read-only folder or another user's. SQLite reads a WAL-mode file
   * (every label store) through its `-wal` and `-shm` files, which it makes beside the file when
   * they are not there and the folder allows; close() has SQLite remove them again when it made
   * them and no other process has the store open. In a folder this user cannot write, a store
   * without a `-wal` file (closed by every process) is read from a copy in memory; one with a
   * `-wal` but no `-shm` cannot be read (an InputError says so).
   */
  readonly readOnly?: boolean;
}

export interface PutPairsOptions {
  /** Query round / batch the pairs belong to (default 0). */
  readonly round?: number;
  /** How many distinct teachers should label each pair (default 1; > 1 asks for overlap). */
  readonly wanted?: number;
}

export interface PutResult {
  /** Rows newly written. */
  readonly added: number;
  /** Rows already present (same id): left as they were. */
  readonly existing: number;
}

export interface AddLabelsResult {
  readonly added: number;
  /** Labels whose id was already stored with the same content (re-sends). */
  readonly duplicates: number;
}

export interface PairInfo {
  readonly id: string;
  readonly segA: string;
  readonly segB: string;
  readonly round: number;
  readonly wanted: number;
  readonly createdAt: string;
}

export interface LeasedPair {
  readonly pair: Pair;
  readonly round: number;
  /** Wall-clock epoch ms when the lease runs out. */
  readonly expiresAt: number;
}

export interface LabelledPair {
  readonly pair: Pair;
  readonly round: number;
  /** The pair's labels in the order they were stored. */
  readonly labels: StoredLabel[];
}

export interface TeacherInfo {
  readonly id: string;
  /** e.g. "human", "synthetic", "vlm", "heron"; "unknown" when first seen on a label. */
  readonly kind: string;
  readonly config: Record<string, unknown>;
}

export interface TeacherCounts {
  readonly labels: number;
  /** Labels of kind "preference", ties included. */
  readonly preferences: number;
  /** Of the preferences, the ties (probFirst exactly 0.5: the equal teacher's, a HERON tie, a person's "equal"; "can't tell" is a skip). */
  readonly ties: number;
  readonly skips: number;
}

export interface StoreCounts {
  readonly segments: number;
  readonly pairs: number;
  readonly labels: number;
  /** Labels of kind "preference", ties included. */
  readonly preferences: number;
  /** Of the preferences, the ties (probFirst exactly 0.5). */
  readonly ties: number;
  readonly skips: number;
  /** Of `skips`, timeout skips: pairs nobody answered before the human teacher's timeout (not answers). */
  readonly timeouts: number;
  /** Pairs that fewer distinct teachers (of any kind) have answered than they want (timeouts are not answers). */
  readonly pending: number;
  /** Pairs waiting for people: fewer distinct people (see the header) have answered them than they want. */
  readonly waitingForPeople: number;
  /** Pairs no teacher has answered (a preference or a skip; a timeout is not an answer). */
  readonly unlabelled: number;
  /** Unexpired leases at the time of the call. */
  readonly activeLeases: number;
  readonly perTeacher: Record<string, TeacherCounts>;
}

/**
 * Inter-teacher agreement on pairs with preference labels from two or more teachers.
 *
 * Each preference is read as a verdict: first (probFirst > 0.5), second (< 0.5) or equal
 * (= 0.5). For every pair and every two teachers that gave it a preference (each teacher's
 * latest preference on that pair; skips are left out), the two agree when their verdicts are
 * the same. `fraction` = agreeing / comparisons over all such teacher pairs (null when there
 * are none), i.e. the probability that two teachers picked at random on a random overlapping
 * pair say the same.
 */
export interface AgreementTotals {
  /** Pairs with preferences from >= 2 teachers. */
  readonly pairs: number;
  /** Teacher pairs compared (sum over pairs of C(k, 2) for k teachers). */
  readonly comparisons: number;
  readonly agreeing: number;
  readonly fraction: number | null;
  /**
   * Agreement beyond chance, (fraction - chance) / (1 - chance), where chance is the probability
   * that two verdicts drawn at random from all teachers' verdicts on the counted pairs are the
   * same (the sum over first/second/equal of each one's share squared): Fleiss' kappa when every
   * counted pair has the same number of teachers. 1 is full agreement, 0 what chance gives, below
   * 0 worse than chance. Null when there are no comparisons or every verdict is the same (chance 1).
   */
  readonly kappa: number | null;
}

/** AgreementTotals and the same per pair of teachers. */
export interface Agreement extends AgreementTotals {
  /**
   * The same per pair of teachers ("a|b" with a < b, in that order); kappa there is Cohen's, chance
   * coming from each of the two teachers' own verdict shares on the pairs they share.
   */
  readonly byTeachers: Record<string, { comparisons: number; agreeing: number; fraction: number | null; kappa: number | null }>;
}

export interface ImportResult {
  /** Non-blank lines read. */
  readonly lines: number;
  readonly added: number;
  /** Lines not added: label ids already stored (or repeated in the file), plus `sameTeacher`. */
  readonly duplicates: number;
  /**
   * Labels not added because their teacher has already labelled the pair under another label id
   * (in the store, or earlier in the file): a teacher labels a pair once.
   */
  readonly sameTeacher: number;
  /** Of `sameTeacher`, those whose answer (preference probability, or skip) differs from the kept label. */
  readonly conflicts: number;
  /** The pair of the first conflicting label, or null when none conflicts. */
  readonly firstConflictPair: string | null;
}

/** The end of the reason of a skip the human teacher stored because nobody answered in time (see the header). */
export const TIMEOUT_SKIP_TAG = '(human teacher timeout)';

/** The probFirst of a tie: neither segment preferred (the equal teacher's, a HERON tie, a person's "equal"). */
export const TIE_PROB = 0.5;

/** Whether a label is a tie: a preference with probFirst exactly TIE_PROB (the `ties` of the counts). */
export function isTie(l: Pick<Label, 'kind'> & { probFirst?: number }): boolean {
  return l.kind === 'preference' && l.probFirst === TIE_PROB;
}

/** SQL: `isTie` of a row of the labels table, 1 or 0. */
const IS_TIE = `(kind = 'preference' AND prob_first = ${TIE_PROB})`;

/** Whether a label is a timeout skip (not an answer; see the header): its structured `timeout` field, never its reason. */
export function isTimeoutSkip(l: Pick<Label, 'kind'> & { reason?: string | null; timeout?: boolean }): boolean {
  return l.kind === 'skip' && l.timeout === true;
}

/**
 * Whether a label stored or imported without a `timeout` field is the human teacher's timeout
 * skip, from its reason (what the human teacher wrote before the field): the one teacher id that
 * stores timeouts, and the reason it writes.
 */
function humanTimeoutByReason(l: NewLabel): boolean {
  return l.teacher === HUMAN_TEACHER_ID && l.kind === 'skip' && typeof l.reason === 'string' && l.reason.endsWith(TIMEOUT_SKIP_TAG);
}

/** SQL: whether the label row aliased `l` answers its pair (anything but a timeout skip). 1 or 0. */
const ANSWERS = (l: string) => `${l}.timeout = 0`;

/** SQL: the label kinds that make a pair labelled (labelledPairs, labelledPairIds): preferences, and skips when asked. */
const LABELLED_KINDS = (opts: { includeSkips?: boolean }) => (opts.includeSkips ? "('preference', 'skip')" : "('preference')");

/** SQL: every label, in the order stored (labels(), exportJsonl). */
const LABELS_IN_ORDER = 'SELECT * FROM labels ORDER BY created_at, rowid';

/** SQL: whether the pair aliased `p` is pending: fewer distinct teachers answered it than it wants (the index pairs_pending holds these pairs). */
const PENDING_WHERE = (p: string) => `${p}.answered < ${p}.wanted`;

/** SQL: `cols` of the pending pairs (@round: one round, or NULL for all), in pendingPairs' order, at most @limit (-1: all). */
const PENDING_SQL = (cols: string) => `SELECT ${cols} FROM pairs p
  WHERE ${PENDING_WHERE('p')} AND (@round IS NULL OR p.round = @round)
  ORDER BY p.timed_out, p.round, p.rowid LIMIT @limit`;

/** The human teacher's id: people as one teacher (it stores its timeout skips under this id). */
export const HUMAN_TEACHER_ID = 'human';
export { PERSON_ID_PREFIX };
/** The teacher kind people are registered with (`putTeacher`). */
export const PERSON_KIND = 'human';

/** Whether a teacher id by itself names a person: "human" or "human:<name>" (no registry needed). */
export function isPersonId(teacher: string): boolean {
  return teacher === HUMAN_TEACHER_ID || teacher.startsWith(PERSON_ID_PREFIX);
}

/**
 * Whether a teacher is a person (see the header): its id names one (`isPersonId`), or it is
 * registered with kind "human" (`kind`: its kind in the teachers table, null when unregistered).
 * The one definition: the store's SQL calls it as `prefrl_is_person` (IS_PERSON below); the
 * triggers that keep the pairs' counters spell it out in plain SQL (PERSON_SQL; person.test.ts
 * checks the two agree).
 */
export function isPerson(teacher: string, kind: string | null | undefined): boolean {
  return isPersonId(teacher) || kind === PERSON_KIND;
}

/** Name of the SQL function each open store registers for `isPerson`. */
const IS_PERSON_FN = 'prefrl_is_person';

/** SQL: whether the teacher id in `col` is a person (`isPerson`, with its registered kind). 1 or 0. */
const IS_PERSON = (col: string) => `${IS_PERSON_FN}(${col}, (SELECT tk.kind FROM teachers tk WHERE tk.id = ${col}))`;

/**
 * SQL: `isPerson` of the teacher id in `col` written out in plain SQL (1 or 0, never NULL), for the
 * triggers that keep the pairs' counters: they run in whatever connection writes a label, which
 * need not have registered prefrl_is_person. person.test.ts checks it against `isPerson`.
 */
const PERSON_SQL = (col: string) =>
  `(${col} = '${HUMAN_TEACHER_ID}' OR substr(${col}, 1, ${PERSON_ID_PREFIX.length}) = '${PERSON_ID_PREFIX}' OR IFNULL((SELECT tk.kind FROM teachers tk WHERE tk.id = ${col}), '') = '${PERSON_KIND}')`;

/**
 * SQL: the counters of the pair whose id is `pair` (a column or expression), computed from its
 * labels (see the header): what RECOUNT stores and what a version-1 store opened read-only
 * computes in its stead (READ_ONLY_PAIRS_VIEW).
 */
const COUNTERS = (pair: string) => ({
  people: `(SELECT COUNT(DISTINCT l.teacher) FROM labels l WHERE l.pair_id = ${pair} AND ${ANSWERS('l')} AND ${PERSON_SQL('l.teacher')})`,
  machines: `(SELECT COUNT(DISTINCT l.teacher) FROM labels l WHERE l.pair_id = ${pair} AND ${ANSWERS('l')} AND NOT ${PERSON_SQL('l.teacher')})`,
  answered: `(SELECT COUNT(DISTINCT l.teacher) FROM labels l WHERE l.pair_id = ${pair} AND ${ANSWERS('l')})`,
  timed_out: `EXISTS (SELECT 1 FROM labels l WHERE l.pair_id = ${pair} AND NOT ${ANSWERS('l')})`,
});

/** SQL: set the counters of the pairs `where` selects (a WHERE clause on `pairs`) from their labels (see the header). */
const RECOUNT = (where: string) => {
  const c = COUNTERS('pairs.id');
  return `UPDATE pairs SET
    people = ${c.people},
    machines = ${c.machines},
    answered = ${c.answered},
    timed_out = ${c.timed_out}
  WHERE ${where}`;
};

/**
 * What version 2 adds to a version-1 store (and a new store gets after SCHEMA): the pairs'
 * counters, the partial indexes the hand-out and the counts walk, and the triggers that keep the
 * counters (see the header). The indexes end in the rowid (SQLite appends it), so each holds its
 * pairs in the order they go out: never timed out first, then newest round (pairs_*_open, for
 * nextPairFor) or oldest round (pairs_pending, for pendingPairs), then insertion order.
 */
const SCHEMA_V2 = `
ALTER TABLE pairs ADD COLUMN people INTEGER NOT NULL DEFAULT 0;
ALTER TABLE pairs ADD COLUMN machines INTEGER NOT NULL DEFAULT 0;
ALTER TABLE pairs ADD COLUMN answered INTEGER NOT NULL DEFAULT 0;
ALTER TABLE pairs ADD COLUMN timed_out INTEGER NOT NULL DEFAULT 0;
CREATE INDEX pairs_people_open ON pairs(timed_out, round DESC) WHERE people < wanted;
CREATE INDEX pairs_machines_open ON pairs(timed_out, round DESC) WHERE machines < wanted;
CREATE INDEX pairs_pending ON pairs(timed_out, round) WHERE answered < wanted;
CREATE TRIGGER labels_insert_counts AFTER INSERT ON labels BEGIN
  ${RECOUNT('id = NEW.pair_id')};
END;
CREATE TRIGGER labels_delete_counts AFTER DELETE ON labels BEGIN
  ${RECOUNT('id = OLD.pair_id')};
END;
CREATE TRIGGER labels_update_counts AFTER UPDATE OF pair_id, teacher, timeout ON labels BEGIN
  ${RECOUNT('id IN (OLD.pair_id, NEW.pair_id)')};
END;
CREATE TRIGGER teachers_insert_counts AFTER INSERT ON teachers BEGIN
  ${RECOUNT('id IN (SELECT l.pair_id FROM labels l WHERE l.teacher = NEW.id)')};
END;
CREATE TRIGGER teachers_update_counts AFTER UPDATE OF id, kind ON teachers BEGIN
  ${RECOUNT('id IN (SELECT l.pair_id FROM labels l WHERE l.teacher IN (OLD.id, NEW.id))')};
END;
CREATE TRIGGER teachers_delete_counts AFTER DELETE ON teachers BEGIN
  ${RECOUNT('id IN (SELECT l.pair_id FROM labels l WHERE l.teacher = OLD.id)')};
END;
`;

/**
 * SQL: whether the labels row (unaliased) is a skip the human teacher stored because nobody
 * answered in time, by its reason (1 or 0): how a store written before the `timeout` column is
 * read (the migration marks these rows; a read-only open computes the column from it).
 */
const HUMAN_TIMEOUT_BY_REASON_SQL = `(teacher = '${HUMAN_TEACHER_ID}' AND kind = 'skip' AND reason GLOB '*${TIMEOUT_SKIP_TAG}')`;

/**
 * A store opened read-only is not migrated. Where it lacks what this code reads (a version-1 store:
 * the pairs' counters; a store older still: the labels' `timeout` and `locked` columns), TEMP views
 * named like the tables stand in for them: SQLite looks names up in the temp schema first, so every
 * query reads the view, which computes the missing columns from the rows as the migration would
 * have stored them (COUNTERS, HUMAN_TIMEOUT_BY_REASON_SQL; `locked` 0). A view's `rowid` column is
 * the table's rowid, so orderings by rowid hold. The temp schema lives in the connection's memory
 * (temp_store = MEMORY): nothing is written to the store's file or beside it.
 */
const READ_ONLY_LABELS_VIEW = (has: { timeout: boolean; locked: boolean }) => `CREATE TEMP VIEW labels AS
  SELECT rowid AS rowid, id, pair_id, teacher, kind, prob_first, reason, response_ms, comment, raw, created_at,
    ${has.timeout ? 'timeout' : HUMAN_TIMEOUT_BY_REASON_SQL} AS timeout, ${has.locked ? 'locked' : '0'} AS locked
  FROM main.labels`;
const READ_ONLY_PAIRS_VIEW = () => {
  const c = COUNTERS('p.id');
  return `CREATE TEMP VIEW pairs AS
  SELECT p.rowid AS rowid, p.id, p.seg_a, p.seg_b, p.round, p.wanted, p.created_at,
    ${c.people} AS people, ${c.machines} AS machines, ${c.answered} AS answered, ${c.timed_out} AS timed_out
  FROM main.pairs p`;
};

/** SQL: how many pairs fewer distinct people answered than the pair wants (StoreCounts.waitingForPeople; the index pairs_people_open holds them). */
const WAITING_FOR_PEOPLE_SQL = 'SELECT COUNT(*) AS n FROM pairs p WHERE p.people < p.wanted';

/**
 * SQL: the pair nextPairFor hands to @teacher, of the people's audience (`person`) or the
 * machines': one it has not labelled, whose answers of its audience plus the unexpired leases of
 * the audience's other teachers (who have not labelled it) are fewer than it wants; never timed
 * out first, newest round first, then insertion order. `p.<audience> < p.wanted` is implied by
 * that rule; it is spelled out so SQLite walks the audience's partial index (already in this
 * order) and stops at the first pair that passes the rest.
 */
const HAND_OUT_SQL = (person: boolean, from: HandOutFrom = 'start') => {
  const answered = person ? 'p.people' : 'p.machines';
  return `SELECT p.* FROM pairs p INDEXED BY ${person ? 'pairs_people_open' : 'pairs_machines_open'}
    WHERE ${answered} < p.wanted${FROM_FLOOR_SQL[from]}
      AND NOT EXISTS (SELECT 1 FROM labels l WHERE l.pair_id = p.id AND l.teacher = @teacher)
      AND ${answered} + (SELECT COUNT(*) FROM leases s WHERE s.pair_id = p.id AND s.teacher != @teacher AND s.expires_at > @now
            AND ${IS_PERSON('s.teacher')} = ${person ? 1 : 0}
            AND NOT EXISTS (SELECT 1 FROM labels l2 WHERE l2.pair_id = p.id AND l2.teacher = s.teacher))
        < p.wanted
    ORDER BY p.timed_out, p.round DESC, p.rowid LIMIT 1`;
};

/**
 * Where a walk of an audience's open index starts: at its first pair (`start`), or at a teacher's
 * floor (f_timed_out, f_round, f_rowid), in three ranges SQLite seeks to in the index
 * (timed_out, round DESC, rowid), taken in hand-out order: the floor's round from the floor on
 * (`same`), the floor's older rounds (`older`), then the timed-out pairs after never-timed-out
 * ones (`later`). One range per query: a disjunction of the three would be walked from the start.
 */
type HandOutFrom = 'start' | 'same' | 'older' | 'later';
const FROM_FLOOR_SQL: Record<HandOutFrom, string> = {
  start: '',
  same: '\n      AND p.timed_out = @ft AND p.round = @fr AND p.rowid >= @fid',
  older: '\n      AND p.timed_out = @ft AND p.round < @fr',
  later: '\n      AND p.timed_out > @ft',
};

/**
 * SQL: the first pair of the audience's open index (from `from`) that @teacher has not labelled:
 * the teacher's new floor (its timed_out, round and rowid).
 */
const FLOOR_SQL = (person: boolean, from: HandOutFrom) => {
  const answered = person ? 'p.people' : 'p.machines';
  return `SELECT p.timed_out AS ft, p.round AS fr, p.rowid AS fid FROM pairs p INDEXED BY ${person ? 'pairs_people_open' : 'pairs_machines_open'}
    WHERE ${answered} < p.wanted${FROM_FLOOR_SQL[from]}
      AND NOT EXISTS (SELECT 1 FROM labels l WHERE l.pair_id = p.id AND l.teacher = @teacher)
    ORDER BY p.timed_out, p.round DESC, p.rowid LIMIT 1`;
};

/** A floor past every pair (timed_out is 0 or 1): the teacher has labelled every open pair. */
const FLOOR_END = { ft: 2, fr: 0, fid: 0 };

/**
 * Hand-out floors (this connection's TEMP schema; nothing is written to the store's file). A row
 * (teacher, person, f_timed_out, f_round, f_rowid) says: every pair open to the audience (`person`
 * 1: people, 0: machines) that comes before the floor in hand-out order (never timed out first,
 * newest round first, then rowid) carries a label of the teacher. `nextPairFor` walks from there,
 * so a person who answered many pairs still open to others (overlap) is not walked past all of
 * them on every call, and hands out the pair the walk from the index's start would: the pairs it
 * skips are ones the teacher labelled, which that walk refuses. A missing row is a floor at the
 * start. The triggers move a floor back (or drop it) whenever a write could put an open pair the
 * teacher has not labelled before it: a pair added, or one that opens to the audience or moves in
 * the order (wanted raised, a label deleted or moved, a teacher's kind changed, a timeout), and
 * any of the teacher's labels deleted or moved (undo). Commits by other connections do not fire
 * TEMP triggers: `nextPairFor` drops every floor when `PRAGMA data_version` says one happened.
 */
const BEFORE_FLOOR = (p: string) =>
  `(${p}.timed_out < f_timed_out OR (${p}.timed_out = f_timed_out AND (${p}.round > f_round OR (${p}.round = f_round AND ${p}.rowid < f_rowid))))`;
const LOWER_FLOORS = (opened: (audience: 'people' | 'machines') => string) => `UPDATE hand_out_floor
    SET f_timed_out = NEW.timed_out, f_round = NEW.round, f_rowid = NEW.rowid
    WHERE ((person = 1 AND ${opened('people')}) OR (person = 0 AND ${opened('machines')})) AND ${BEFORE_FLOOR('NEW')}`;
const HAND_OUT_FLOORS_SQL = `
CREATE TEMP TABLE IF NOT EXISTS hand_out_floor (
  teacher     TEXT NOT NULL,
  person      INTEGER NOT NULL,
  f_timed_out INTEGER NOT NULL,
  f_round     INTEGER NOT NULL,
  f_rowid     INTEGER NOT NULL,
  PRIMARY KEY (teacher, person)
);
CREATE TEMP TRIGGER IF NOT EXISTS hand_out_floor_pair_insert AFTER INSERT ON pairs BEGIN
  ${LOWER_FLOORS((a) => `NEW.${a} < NEW.wanted`)};
END;
CREATE TEMP TRIGGER IF NOT EXISTS hand_out_floor_pair_update AFTER UPDATE ON pairs BEGIN
  ${LOWER_FLOORS(
    (a) => `NEW.${a} < NEW.wanted AND NOT (OLD.${a} < OLD.wanted AND OLD.timed_out = NEW.timed_out AND OLD.round = NEW.round AND OLD.rowid = NEW.rowid)`,
  )};
END;
CREATE TEMP TRIGGER IF NOT EXISTS hand_out_floor_label_delete AFTER DELETE ON labels BEGIN
  DELETE FROM hand_out_floor WHERE teacher = OLD.teacher;
END;
CREATE TEMP TRIGGER IF NOT EXISTS hand_out_floor_label_update AFTER UPDATE OF pair_id, teacher ON labels BEGIN
  DELETE FROM hand_out_floor WHERE teacher = OLD.teacher;
END;
`;

/** The answer of a label, for comparing two labels of one teacher on one pair. */
function answerOf(l: { kind: string; probFirst?: number | null }): string {
  return l.kind === 'preference' ? `preference ${l.probFirst}` : 'skip';
}

interface SegmentRow {
  id: string;
  env_id: string;
  model_hash: string;
  obs_dim: number;
  act_dim: number;
  n_terms: number;
  nq: number;
  nv: number;
  na: number;
  length: number;
  start_step: number;
  source: string;
  ends_terminal: number;
  obs: Buffer;
  actions: Buffer;
  rewards: Buffer;
  terms: Buffer;
  qpos: Buffer;
  qvel: Buffer;
  act: Buffer;
  time: Buffer;
  success: Buffer;
}

interface PairRow {
  id: string;
  seg_a: string;
  seg_b: string;
  round: number;
  wanted: number;
  created_at: number;
}

interface LabelRow {
  id: string;
  pair_id: string;
  teacher: string;
  kind: 'preference' | 'skip';
  prob_first: number | null;
  reason: string | null;
  response_ms: number | null;
  comment: string | null;
  raw: string | null;
  created_at: number;
  timeout: number;
}

function blob(a: Float32Array | Float64Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** Copy a BLOB into a fresh (aligned) typed array of `count` elements, checking its size. */
function fromBlob<A extends Float32Array | Float64Array>(
  make: new (n: number) => A,
  b: Buffer,
  count: number,
  file: string,
  where: string,
): A {
  const out = new make(count);
  if (b.byteLength !== out.byteLength) {
    throw new InputError(file, `${where}: ${b.byteLength} bytes stored, the segment's dims need ${out.byteLength}`, 'segments');
  }
  new Uint8Array(out.buffer).set(b);
  return out;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** The fields that make two labels with one id "the same label" (createdAt excluded; a `timeout` left out matches either). */
function sameLabel(row: LabelRow, l: NewLabel): boolean {
  const opt = <T>(v: T | undefined): T | null => (v === undefined ? null : v);
  return (
    row.pair_id === l.pairId &&
    row.teacher === l.teacher &&
    row.kind === l.kind &&
    row.prob_first === (l.kind === 'preference' ? l.probFirst : null) &&
    row.reason === (l.kind === 'skip' ? l.reason : null) &&
    row.response_ms === opt(l.responseMs) &&
    row.comment === opt(l.comment) &&
    row.raw === opt(l.raw) &&
    (l.timeout === undefined || (row.timeout === 1) === l.timeout)
  );
}

function labelFromRow(r: LabelRow): StoredLabel {
  const base = {
    id: r.id,
    pairId: r.pair_id,
    teacher: r.teacher,
    ...(r.response_ms !== null ? { responseMs: r.response_ms } : {}),
    ...(r.comment !== null ? { comment: r.comment } : {}),
    ...(r.raw !== null ? { raw: r.raw } : {}),
    createdAt: iso(r.created_at),
  };
  return r.kind === 'preference'
    ? { ...base, kind: 'preference', probFirst: r.prob_first as number }
    : { ...base, kind: 'skip', reason: r.reason as string, ...(r.timeout === 1 ? { timeout: true as const } : {}) };
}

/** Problems with one label, or null when it is well-formed. */
export function labelProblem(l: NewLabel): string | null {
  if (typeof l.id !== 'string' || l.id === '') return 'id must be a non-empty string';
  if (typeof l.pairId !== 'string' || l.pairId === '') return 'pairId must be a non-empty string';
  if (typeof l.teacher !== 'string' || l.teacher === '') return 'teacher must be a non-empty string';
  // "human:" names no one: the labels of people are told apart by the name after it.
  if (/^human:\s*$/.test(l.teacher)) return `teacher ${JSON.stringify(l.teacher)} names no person: write human:<name> (or human)`;
  if (l.kind === 'preference') {
    if (typeof l.probFirst !== 'number' || !Number.isFinite(l.probFirst) || l.probFirst < 0 || l.probFirst > 1) {
      return `probFirst must be a number in [0, 1], got ${shownValue(l.probFirst)}`;
    }
  } else if (l.kind === 'skip') {
    if (typeof l.reason !== 'string') return 'a skip needs a reason (string)';
  } else {
    return `kind must be "preference" or "skip", got ${JSON.stringify((l as { kind: unknown }).kind)}`;
  }
  if (l.responseMs !== undefined && (typeof l.responseMs !== 'number' || !Number.isFinite(l.responseMs) || l.responseMs < 0)) {
    return `responseMs must be a non-negative number, got ${shownValue(l.responseMs)}`;
  }
  if (l.comment !== undefined && typeof l.comment !== 'string') return 'comment must be a string';
  if (l.raw !== undefined && typeof l.raw !== 'string') return 'raw must be a string';
  if (l.timeout !== undefined) {
    if (typeof l.timeout !== 'boolean') return `timeout must be true or false, got ${shownValue(l.timeout)}`;
    if (l.timeout && l.kind !== 'skip') return 'only a skip can be a timeout';
  }
  if (l.createdAt !== undefined && (typeof l.createdAt !== 'string' || Number.isNaN(Date.parse(l.createdAt)))) {
    return `createdAt must be an ISO 8601 time, got ${JSON.stringify(l.createdAt)}`;
  }
  return null;
}

/** Verdict of a preference: 1 first, -1 second, 0 equal. */
function verdict(p: number): number {
  return p > TIE_PROB ? 1 : p < TIE_PROB ? -1 : 0;
}

const LABEL_KEYS = new Set(['id', 'pairId', 'teacher', 'kind', 'probFirst', 'reason', 'responseMs', 'comment', 'raw', 'createdAt', 'timeout']);

/** `addLabels` was given a label for a pair its teacher had already labelled (under another label id). */
export class SecondLabelError extends Error {
  constructor(
    readonly label: Pick<NewLabel, 'id' | 'pairId' | 'teacher'>,
    /** The id of the label the teacher gave the pair first (kept). */
    readonly firstLabelId: string,
  ) {
    super(`LabelStore.addLabels: teacher ${label.teacher} already labelled pair ${label.pairId} (label ${firstLabelId}); label ${label.id} would be a second answer, and a teacher labels a pair once`);
    this.name = 'SecondLabelError';
  }
}

export class LabelStore {
  private readonly db: Database.Database;
  private readonly clock: Clock;
  private closed = false;

  private constructor(
    /** The store's file. */
    readonly path: string,
    db: Database.Database,
    clock: Clock,
    /** Opened with `readOnly` (OpenOptions): every method that writes throws. */
    readonly readOnly: boolean,
  ) {
    this.db = db;
    this.clock = clock;
  }

  /**
   * Open (or create) a store. Throws InputError naming the file when it is not a SQLite
   * database, not a label store, written by a newer schema, or holds another env than
   * `opts.envId` / `opts.modelHash`.
   */
  static open(path: string, opts: OpenOptions = {}): LabelStore {
    // A misspelt option (`envID`) was dropped without a word, and with it the check it asked for.
    if (typeof opts === 'object' && opts !== null) refuseUnknownKeys('LabelStore.open', opts, OPEN_OPTIONS);
    if (opts.readOnly === true) return LabelStore.openReadOnly(path, opts);
    const create = opts.create ?? true;
    if (!create && !existsSync(path)) throw new InputError(path, 'no such label store (the file does not exist)');
    let db: Database.Database;
    try {
      db = new Database(path, { fileMustExist: !create });
    } catch (e) {
      // A full disk, a read-only file: the machine's refusal keeps SQLite's code (a run says how to resume).
      if (isSqliteEnvironmentError(e)) throw storeRefusal(withAccessReason(e, path), path);
      throw new InputError(path, `cannot open label store: ${(e as Error).message}`);
    }
    try {
      LabelStore.init(db, path, opts);
      LabelStore.registerFunctions(db);
    } catch (e) {
      db.close();
      throw LabelStore.openError(e, path, opts);
    }
    return new LabelStore(path, db, opts.clock ?? systemClock, false);
  }

  /** The SQL functions the store's queries call (IS_PERSON_FN). */
  private static registerFunctions(db: Database.Database): void {
    db.function(IS_PERSON_FN, { deterministic: true }, (teacher: unknown, kind: unknown) => (isPerson(String(teacher), typeof kind === 'string' ? kind : null) ? 1 : 0));
  }

  /** The InputError naming the file for an error opening the store (`open`). */
  private static openError(e: unknown, path: string, opts: OpenOptions): Error {
    if (e instanceof InputError) return e;
    if (isSqliteEnvironmentError(e)) return storeRefusal(e, path) as Error;
    const msg = (e as Error).message;
    // A SQLite file cut short or overwritten in part reads as "malformed": say it is damaged, not that it is something else.
    if (/malformed/i.test(msg)) return new InputError(path, `a damaged label store (${msg}); the labels in it cannot be read: restore the file from a copy`);
    if (/not a database|file is encrypted/i.test(msg)) {
      // A label file (labels export's JSONL) given where a store goes: say how it goes into one.
      const labelFile = /\.jsonl?$/i.test(path) ? `; a label file goes into a label store with: prefrl labels import --store <labels.sqlite> --in ${shellQuote(path)}` : '';
      return new InputError(path, `not a SQLite database (${msg})${labelFile}`);
    }
    // Another connection held the write lock for longer than the busy timeout: a long write, or
    // the one-time upgrade of a large version-1 store by another prefrl.
    if ((e as { code?: string }).code === 'SQLITE_BUSY') {
      return new InputError(path, `cannot open label store: ${msg}: another process held its write lock for more than ${LabelStore.busyMs(opts)} ms (a long write, or the one-time upgrade of a large store made by an older prefrl); try again when it is done`);
    }
    return new InputError(path, `cannot open label store: ${msg}`);
  }

  /** `open` with `readOnly` (see OpenOptions.readOnly). */
  private static openReadOnly(path: string, opts: OpenOptions): LabelStore {
    if (!existsSync(path)) throw new InputError(path, 'no such label store (the file does not exist)');
    try {
      accessSync(path, fsConstants.R_OK);
    } catch (e) {
      throw new InputError(path, `cannot read the label store: this user may not read the file (${(e as { code?: string }).code ?? (e as Error).message})`);
    }
    const clock = opts.clock ?? systemClock;
    // No -wal: no process has the store open. SQLite makes the -wal and -shm to read it, and a
    // read-only connection leaves them behind; close() has them removed (tidyWal).
    const walBefore = existsSync(`${path}-wal`);
    let db: Database.Database;
    try {
      db = new Database(path, { readonly: true, fileMustExist: true });
    } catch (e) {
      throw new InputError(path, `cannot open label store: ${(e as Error).message}`);
    }
    try {
      LabelStore.initReadOnly(db, path, opts);
      const store = new LabelStore(path, db, clock, true);
      store.tidyWal = !walBefore;
      return store;
    } catch (e) {
      db.close();
      // SQLite opens a WAL-mode file's -wal and -shm at the first read, making them when they are
      // not there: in a folder this user cannot write, that fails.
      const code = (e as { code?: string }).code ?? '';
      if (e instanceof InputError || !/^SQLITE_(CANTOPEN|READONLY_DIRECTORY|READONLY_CANTINIT|READONLY_CANTLOCK)/.test(code)) throw LabelStore.openError(e, path, opts);
      const msg = (e as Error).message;
      const wal = `${path}-wal`;
      const shm = `${path}-shm`;
      if (existsSync(wal)) {
        throw new InputError(
          path,
          `cannot read it (${msg}): SQLite reads its write-ahead log ${wal} through the shared-memory file ${shm}, which ${existsSync(shm) ? 'this user cannot open' : 'is not there and cannot be made (the folder is read-only for this user)'}; open the store once as a user who can write in its folder (any prefrl command on it), or copy the store with its -wal file to a folder you can write`,
        );
      }
      // No -wal: every process has closed the store and the file holds all of it; read a copy in memory.
      return LabelStore.openCopyInMemory(path, opts, clock, msg);
    }
  }

  /**
   * A read-only store read from a copy of its file in memory: for a WAL-mode file without a -wal
   * file (closed by every process) in a folder where SQLite cannot make its -shm. The copy is
   * marked as a rollback-journal file (header bytes 18 and 19) so SQLite reads it without a WAL;
   * the file is not touched.
   */
  private static openCopyInMemory(path: string, opts: OpenOptions, clock: Clock, why: string): LabelStore {
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (e) {
      throw new InputError(path, `cannot read it (${why}; and a copy in memory failed: ${(e as Error).message})`);
    }
    if (bytes.length >= 20 && bytes[18] === 2 && bytes[19] === 2) {
      bytes[18] = 1;
      bytes[19] = 1;
    }
    let db: Database.Database;
    try {
      db = new Database(bytes, { readonly: true });
    } catch (e) {
      throw LabelStore.openError(e, path, opts);
    }
    try {
      LabelStore.initReadOnly(db, path, opts);
    } catch (e) {
      db.close();
      throw LabelStore.openError(e, path, opts);
    }
    return new LabelStore(path, db, clock, true);
  }

  /**
   * `init` for a read-only open: the same checks (a label store, a schema version this code reads,
   * the env asked for), nothing written; the TEMP views a store older than version 2 needs.
   */
  private static initReadOnly(db: Database.Database, path: string, opts: OpenOptions): void {
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name);
    if (tables.length === 0) throw new InputError(path, 'not a label store (an empty file; stores are made by prefrl pairs, train and offline)');
    db.pragma(`busy_timeout = ${LabelStore.busyMs(opts)}`);
    db.pragma('temp_store = MEMORY');
    const meta = LabelStore.checkedMeta(db, path, tables);
    const columns = (table: string) => new Set((db.prepare('SELECT name FROM pragma_table_info(?, ?)').all(table, 'main') as { name: string }[]).map((c) => c.name));
    const labelCols = columns('labels');
    const has = { timeout: labelCols.has('timeout'), locked: labelCols.has('locked') };
    if (!has.timeout || !has.locked) db.exec(READ_ONLY_LABELS_VIEW(has));
    if (!columns('pairs').has('answered')) db.exec(READ_ONLY_PAIRS_VIEW());
    LabelStore.registerFunctions(db);
    for (const [key, want] of [
      ['env_id', opts.envId],
      ['model_hash', opts.modelHash],
    ] as const) {
      if (want === undefined) continue;
      const have = meta.get(key) ?? (db.prepare(`SELECT ${key} AS v FROM segments WHERE ${key} != ? LIMIT 1`).get(want) as { v: string } | undefined)?.v;
      if (have !== undefined && have !== want) {
        throw new InputError(path, `store is for ${key.replace('_', ' ')} ${JSON.stringify(have)}, expected ${JSON.stringify(want)}${key === 'model_hash' ? modelHashNote(opts.envId) : ''}`, key);
      }
    }
  }

  /** The meta table of a store this code reads, after checking it is a label store of a schema version it reads. */
  private static checkedMeta(db: Database.Database, path: string, tables: readonly string[]): Map<string, string> {
    if (!tables.includes('meta')) throw new InputError(path, `a SQLite database but not a prefrl label store (tables: ${tables.join(', ')})`);
    const meta = new Map((db.prepare('SELECT key, value FROM meta').all() as { key: string; value: string }[]).map((r) => [r.key, r.value]));
    // A store missing one of its tables (dropped by hand, or a half-made copy) failed in the first query with SQLite's "no such table" and a stack.
    const missing = STORE_TABLES.filter((t) => !tables.includes(t));
    if (missing.length > 0) {
      throw new InputError(path, `a damaged label store: its table${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} missing (tables: ${tables.join(', ')}); restore the file from a copy`);
    }
    const version = Number(meta.get('schema_version'));
    if (!Number.isInteger(version) || version < 1) {
      throw new InputError(path, `not a prefrl label store (schema_version ${JSON.stringify(meta.get('schema_version') ?? null)})`, 'meta.schema_version');
    }
    if (version > STORE_SCHEMA_VERSION) {
      throw new InputError(
        path,
        `label store schema version ${version} is newer than this prefrl supports (${STORE_SCHEMA_VERSION}); upgrade prefrl to read it`,
        'meta.schema_version',
      );
    }
    return meta;
  }

  /** Pragmas, schema creation or version check, env check. */
  private static init(db: Database.Database, path: string, opts: OpenOptions): void {
    // The first statement reads the header: a non-SQLite file fails here ("file is not a database").
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name);
    // Opening an existing store only (read-only commands): an empty file is refused before
    // anything is written to it (WAL mode and the schema would turn it into a label store).
    if (tables.length === 0 && opts.create === false) throw new InputError(path, 'not a label store (an empty file; stores are made by prefrl pairs, train and offline)');
    db.pragma(`busy_timeout = ${LabelStore.busyMs(opts)}`);
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (String(mode).toLowerCase() !== 'wal') throw new InputError(path, `cannot switch to WAL journal mode (got ${String(mode)})`);
    // See the header: FULL fsyncs the WAL on every commit, so acknowledged labels survive power loss.
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    if (tables.length === 0) {
      db.transaction(() => {
        db.exec(SCHEMA);
        db.exec(SCHEMA_V2);
        db.pragma(`application_id = ${APPLICATION_ID}`);
        const put = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
        put.run('schema_version', String(STORE_SCHEMA_VERSION));
        put.run('created_at', (opts.clock ?? systemClock).date().toISOString());
        if (opts.envId !== undefined) put.run('env_id', opts.envId);
        if (opts.modelHash !== undefined) put.run('model_hash', opts.modelHash);
        if (opts.dataset !== undefined) put.run('dataset', opts.dataset);
      }).immediate();
      return;
    }
    const meta = LabelStore.checkedMeta(db, path, tables);
    LabelStore.addTimeoutColumn(db);
    // Stores made before the `locked` column get it with every label unlocked (undo as before).
    LabelStore.addLabelsColumn(db, 'locked');
    LabelStore.migrateToV2(db);
    for (const [key, want] of [
      ['env_id', opts.envId],
      ['model_hash', opts.modelHash],
    ] as const) {
      if (want === undefined) continue;
      const have = meta.get(key);
      if (have === undefined) {
        const n = (db.prepare('SELECT COUNT(*) AS n FROM segments').get() as { n: number }).n;
        if (n > 0) {
          const other = db.prepare(`SELECT ${key} AS v FROM segments WHERE ${key} != ? LIMIT 1`).get(want) as { v: string } | undefined;
          if (other) throw new InputError(path, `store holds segments of ${key.replace('_', ' ')} ${JSON.stringify(other.v)}, expected ${JSON.stringify(want)}`, key);
        }
        db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run(key, want);
      } else if (have !== want) {
        throw new InputError(path, `store is for ${key.replace('_', ' ')} ${JSON.stringify(have)}, expected ${JSON.stringify(want)}${key === 'model_hash' ? modelHashNote(opts.envId) : ''}`, key);
      }
    }
    if (opts.dataset !== undefined && !meta.has('dataset')) db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('dataset', opts.dataset);
  }

  /**
   * A store written before the labels' `timeout` column gets it; the skips its human teacher
   * stored with the timeout reason are marked (the one reading of the words, for stores that have
   * nothing else; see the header).
   */
  private static addTimeoutColumn(db: Database.Database): void {
    LabelStore.addLabelsColumn(db, 'timeout', () => {
      db.prepare(`UPDATE labels SET timeout = 1 WHERE ${HUMAN_TIMEOUT_BY_REASON_SQL}`).run();
    });
  }

  /** How long opening and writing wait for another connection's write lock (ms; default 5 s). */
  private static busyMs(opts: OpenOptions): number {
    return Math.max(0, Math.floor(opts.busyTimeoutMs ?? 5000));
  }

  /**
   * A version-1 store gets the pairs' counters, their indexes and triggers (SCHEMA_V2), every
   * pair's counters counted from its labels, and schema_version 2 (see the header). One IMMEDIATE
   * transaction that checks the version again inside it, so two processes opening the store at
   * once migrate it once, and a crash leaves it at version 1.
   */
  private static migrateToV2(db: Database.Database): void {
    const version = () => Number((db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as { value: string }).value);
    if (version() >= 2) return;
    db.transaction(() => {
      if (version() >= 2) return;
      db.exec(SCHEMA_V2);
      db.exec(RECOUNT('1'));
      db.prepare("UPDATE meta SET value = '2' WHERE key = 'schema_version'").run();
    }).immediate();
  }

  /**
   * Add a 0/1 column `name` (default 0) to the labels table of a store made before it, then run
   * `fill`. One IMMEDIATE transaction, so two processes opening the store at once add it once.
   */
  private static addLabelsColumn(db: Database.Database, name: 'timeout' | 'locked', fill?: () => void): void {
    const has = () => (db.prepare("SELECT name FROM pragma_table_info('labels')").all() as { name: string }[]).some((c) => c.name === name);
    if (has()) return;
    db.transaction(() => {
      if (has()) return;
      db.exec(`ALTER TABLE labels ADD COLUMN ${name} INTEGER NOT NULL DEFAULT 0 CHECK (${name} IN (0, 1))`);
      fill?.();
    }).immediate();
  }

  private live(): Database.Database {
    if (this.closed) throw new Error(`LabelStore ${this.path}: used after close()`);
    return this.db;
  }

  /** The database, for `method`, which writes: a store opened read-only refuses it. */
  private writer(method: string): Database.Database {
    if (this.readOnly) throw new Error(`LabelStore ${this.path}: opened read-only (readOnly: true); ${method} writes to it`);
    return this.live();
  }

  /** Prepared statements by SQL text, prepared once per open store (better-sqlite3's prepare compiles the SQL each call). */
  private readonly statements = new Map<string, Database.Statement>();

  /** The statement for `sql`, prepared on first use. */
  private statement(sql: string): Database.Statement {
    const db = this.live();
    let st = this.statements.get(sql);
    if (!st) {
      st = db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }

  private nowMs(): number {
    return this.clock.date().getTime();
  }

  /**
   * Whether close() is to have SQLite remove the -wal and -shm files a read-only open made (they
   * were not there): a read-only connection cannot, as the last connection to close normally does.
   */
  private tidyWal = false;

  /** Close the database (checkpoints the WAL). Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.statements.clear();
    this.db.close();
    if (this.tidyWal && existsSync(`${this.path}-wal`)) LabelStore.closeWalFiles(this.path);
  }

  /**
   * Have SQLite remove the -wal and -shm of the store at `path` if no other connection has it
   * open: a connection that may write (it writes nothing: one read of the schema, no migration,
   * no pragma), whose close, when it is the last, checkpoints the WAL (empty: the file's bytes do
   * not change) and deletes both files, under SQLite's locks, so a writer that opened the store
   * meanwhile keeps them. Where it cannot (a file this user cannot write) the files stay.
   */
  private static closeWalFiles(path: string): void {
    try {
      const db = new Database(path, { fileMustExist: true });
      try {
        db.prepare('SELECT COUNT(*) AS n FROM sqlite_master').get();
      } finally {
        db.close();
      }
    } catch {
      // Left as they are: SQLite uses them as it finds them.
    }
  }

  /** The env id recorded in the store (set by open({envId}) or the first segment), if any. */
  envId(): string | undefined {
    const r = this.live().prepare("SELECT value FROM meta WHERE key = 'env_id'").get() as { value: string } | undefined;
    return r?.value;
  }

  /** When the store was made (meta.created_at, ISO time), if it records it. */
  createdAt(): string | undefined {
    const r = this.live().prepare("SELECT value FROM meta WHERE key = 'created_at'").get() as { value: string } | undefined;
    return r?.value;
  }

  /** The dataset of the offline run this store belongs to (OpenOptions.dataset), if it records one. */
  dataset(): string | undefined {
    const r = this.live().prepare("SELECT value FROM meta WHERE key = 'dataset'").get() as { value: string } | undefined;
    return r?.value;
  }

  /**
   * Where the stored segments come from: each segment's source without its "#<episode>" suffix
   * (a dataset file, a trajectory folder), distinct, sorted.
   */
  sources(): string[] {
    const rows = this.live().prepare('SELECT DISTINCT source FROM segments').all() as { source: string }[];
    return [...new Set(rows.map((r) => r.source.replace(/#\d+$/, '')))].sort();
  }

  /**
   * Whether the store is meant for people to label: it says so (`markForPeople`: `prefrl pairs`
   * makes pools for people), or a person is among its teachers (registered with kind "human",
   * e.g. by the viewer or a `--teacher human` run, or named human / human:<name> on a label).
   * A store only machine teachers (synthetic, HERON, VLM) know of is not: its
   * `counts().waitingForPeople` says nothing anyone waits for.
   */
  forPeople(): boolean {
    const db = this.live();
    if ((db.prepare("SELECT value FROM meta WHERE key = 'audience'").get() as { value: string } | undefined)?.value === 'people') return true;
    return db.prepare(`SELECT 1 FROM teachers t WHERE ${IS_PERSON('t.id')} LIMIT 1`).get() !== undefined;
  }

  /** Record that the store is meant for people to label (`forPeople`). */
  markForPeople(): void {
    this.writer('markForPeople');
    this.live().prepare("INSERT INTO meta (key, value) VALUES ('audience', 'people') ON CONFLICT (key) DO UPDATE SET value = excluded.value").run();
  }

  /**
   * The port the last labelling server a human teacher started on this store bound
   * (meta.served_port, `recordServedPort`), if one did: what a restart names when `--human-port 0`
   * let the server pick one, since the links handed out carry it.
   */
  servedPort(): number | undefined {
    const r = this.live().prepare("SELECT value FROM meta WHERE key = 'served_port'").get() as { value: string } | undefined;
    const port = Number(r?.value);
    return r !== undefined && Number.isInteger(port) && port > 0 && port < 65536 ? port : undefined;
  }

  /** Record the port a labelling server on this store bound (`servedPort`). */
  recordServedPort(port: number): void {
    if (!Number.isInteger(port) || port <= 0 || port >= 65536) throw new RangeError(`LabelStore.recordServedPort: port must be a whole number in 1..65535, got ${port}`);
    this.writer('recordServedPort');
    this.live().prepare("INSERT INTO meta (key, value) VALUES ('served_port', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(String(port));
  }

  /** SQLite's `PRAGMA integrity_check`: "ok", or the problems it found joined by newlines. */
  integrityCheck(): string {
    const rows = this.live().pragma('integrity_check') as { integrity_check: string }[];
    return rows.map((r) => r.integrity_check).join('\n');
  }

  // ---------------------------------------------------------------- segments and pairs

  private insertSegments(segments: readonly Segment[]): PutResult {
    const db = this.live();
    const meta = db.prepare('SELECT key, value FROM meta WHERE key IN (?, ?)').all('env_id', 'model_hash') as { key: string; value: string }[];
    let env = meta.find((m) => m.key === 'env_id')?.value;
    let model = meta.find((m) => m.key === 'model_hash')?.value;
    const setMeta = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
    const ins = db.prepare(`INSERT INTO segments (id, env_id, model_hash, obs_dim, act_dim, n_terms, nq, nv, na, length, start_step,
      source, ends_terminal, obs, actions, rewards, terms, qpos, qvel, act, time, success)
      VALUES (@id, @env_id, @model_hash, @obs_dim, @act_dim, @n_terms, @nq, @nv, @na, @length, @start_step,
      @source, @ends_terminal, @obs, @actions, @rewards, @terms, @qpos, @qvel, @act, @time, @success)
      ON CONFLICT (id) DO NOTHING`);
    let added = 0;
    for (const s of segments) {
      checkSegmentShape(s);
      if (env === undefined) {
        env = s.envId;
        setMeta.run('env_id', env);
      }
      if (model === undefined) {
        model = s.modelHash;
        setMeta.run('model_hash', model);
      }
      if (s.envId !== env || s.modelHash !== model) {
        throw new Error(`LabelStore ${this.path}: segment ${s.id} is from ${s.envId}/${s.modelHash}, the store holds ${env}/${model}`);
      }
      added += ins.run({
        id: s.id,
        env_id: s.envId,
        model_hash: s.modelHash,
        obs_dim: s.obsDim,
        act_dim: s.actDim,
        n_terms: s.nTerms,
        nq: s.nq,
        nv: s.nv,
        na: s.na,
        length: s.length,
        start_step: s.startStep,
        source: s.source,
        ends_terminal: s.endsTerminal ? 1 : 0,
        obs: blob(s.obs),
        actions: blob(s.actions),
        rewards: blob(s.rewards),
        terms: blob(s.terms),
        qpos: blob(s.qpos),
        qvel: blob(s.qvel),
        act: blob(s.act),
        time: blob(s.time),
        success: blob(s.success),
      }).changes;
    }
    return { added, existing: segments.length - added };
  }

  /**
   * Store segments in one transaction; a segment whose id is already stored is left as it is
   * (ids are content hashes). All segments of a store share one env id and model hash.
   */
  putSegments(segments: readonly Segment[]): PutResult {
    this.writer('putSegments');
    return this.live()
      .transaction(() => this.insertSegments(segments))
      .immediate();
  }

  /**
   * Store pairs (and their segments) in one transaction. A pair whose id is already stored
   * keeps its round and wanted count (first write wins); a stored pair id naming other
   * segments is an error.
   */
  putPairs(pairs: readonly Pair[], opts: PutPairsOptions = {}): PutResult {
    this.writer('putPairs');
    const round = opts.round ?? 0;
    const wanted = opts.wanted ?? 1;
    if (!Number.isInteger(round)) throw new RangeError(`putPairs: round must be an integer, got ${round}`);
    if (!Number.isInteger(wanted) || wanted < 1) throw new RangeError(`putPairs: wanted must be an integer >= 1, got ${wanted}`);
    const db = this.live();
    return db
      .transaction(() => {
        const segs = new Map<string, Segment>();
        for (const p of pairs) {
          segs.set(p.a.id, p.a);
          segs.set(p.b.id, p.b);
        }
        this.insertSegments([...segs.values()]);
        const ins = db.prepare('INSERT INTO pairs (id, seg_a, seg_b, round, wanted, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING');
        const get = db.prepare('SELECT seg_a, seg_b FROM pairs WHERE id = ?');
        const now = this.nowMs();
        let added = 0;
        for (const p of pairs) {
          const n = ins.run(p.id, p.a.id, p.b.id, round, wanted, now).changes;
          added += n;
          if (n === 0) {
            const r = get.get(p.id) as { seg_a: string; seg_b: string };
            if (r.seg_a !== p.a.id || r.seg_b !== p.b.id) {
              throw new Error(`LabelStore ${this.path}: pair ${p.id} is stored with segments (${r.seg_a}, ${r.seg_b}), not (${p.a.id}, ${p.b.id})`);
            }
          }
        }
        return { added, existing: pairs.length - added };
      })
      .immediate();
  }

  private segmentFromRow(r: SegmentRow): Segment {
    const H = r.length;
    const where = (f: string) => `segment ${r.id} ${f}`;
    return {
      id: r.id,
      envId: r.env_id,
      modelHash: r.model_hash,
      obsDim: r.obs_dim,
      actDim: r.act_dim,
      nTerms: r.n_terms,
      nq: r.nq,
      nv: r.nv,
      na: r.na,
      length: H,
      startStep: r.start_step,
      obs: fromBlob(Float32Array, r.obs, (H + 1) * r.obs_dim, this.path, where('obs')),
      actions: fromBlob(Float32Array, r.actions, H * r.act_dim, this.path, where('actions')),
      rewards: fromBlob(Float64Array, r.rewards, H, this.path, where('rewards')),
      terms: fromBlob(Float64Array, r.terms, H * r.n_terms, this.path, where('terms')),
      qpos: fromBlob(Float64Array, r.qpos, (H + 1) * r.nq, this.path, where('qpos')),
      qvel: fromBlob(Float64Array, r.qvel, (H + 1) * r.nv, this.path, where('qvel')),
      act: fromBlob(Float64Array, r.act, (H + 1) * r.na, this.path, where('act')),
      time: fromBlob(Float64Array, r.time, H + 1, this.path, where('time')),
      success: fromBlob(Float32Array, r.success, H, this.path, where('success')),
      endsTerminal: r.ends_terminal === 1,
      source: r.source,
    };
  }

  /**
   * A stored segment's reward terms alone ([length x nTerms], as in its Segment), or undefined:
   * reads one column instead of the whole row (the HERON page sums them for every stored segment).
   */
  segmentTerms(id: string): Pick<Segment, 'id' | 'length' | 'nTerms' | 'terms'> | undefined {
    const r = this.statement('SELECT length, n_terms, terms FROM segments WHERE id = ?').get(id) as Pick<SegmentRow, 'length' | 'n_terms' | 'terms'> | undefined;
    if (!r) return undefined;
    return { id, length: r.length, nTerms: r.n_terms, terms: fromBlob(Float64Array, r.terms, r.length * r.n_terms, this.path, `segment ${id} terms`) };
  }

  /** A stored segment, or undefined. */
  getSegment(id: string): Segment | undefined {
    const r = this.statement('SELECT * FROM segments WHERE id = ?').get(id) as SegmentRow | undefined;
    return r ? this.segmentFromRow(r) : undefined;
  }

  /**
   * A reader of the segments pairs reference, by id: each segment is read and decoded once per
   * reader, and not at all when one of `known`'s pairs holds it (looked at on the first read).
   */
  private segmentReader(known?: Iterable<Pair>): (id: string) => Segment {
    let segs: Map<string, Segment> | undefined;
    return (id) => {
      if (!segs) {
        segs = new Map();
        for (const p of known ?? []) {
          segs.set(p.a.id, p.a);
          segs.set(p.b.id, p.b);
        }
      }
      let s = segs.get(id);
      if (!s) {
        s = this.getSegment(id);
        if (!s) throw new InputError(this.path, `pair references missing segment ${id}`, 'pairs');
        segs.set(id, s);
      }
      return s;
    };
  }

  /** Materialise pairs from rows, reading each segment once. */
  private materialise(rows: readonly PairRow[]): Pair[] {
    const seg = this.segmentReader();
    return rows.map((r) => ({ id: r.id, a: seg(r.seg_a), b: seg(r.seg_b) }));
  }

  /** A pair's row, or undefined. */
  private pairRow(id: string): PairRow | undefined {
    return this.statement('SELECT * FROM pairs WHERE id = ?').get(id) as PairRow | undefined;
  }

  /** A stored pair with both segments (typed arrays bit-identical to what was stored), or undefined. */
  getPair(id: string): Pair | undefined {
    const r = this.pairRow(id);
    return r ? this.materialise([r])[0] : undefined;
  }

  /** The most distinct teachers any stored pair wants (its `wanted`; 1 for a store with no pairs), in one query. */
  mostWanted(): number {
    const r = this.statement('SELECT MAX(wanted) AS most FROM pairs').get() as { most: number | null };
    return Math.max(1, r.most ?? 1);
  }

  /** Round, wanted count and segment ids of a pair, without loading segments. */
  pairInfo(id: string): PairInfo | undefined {
    const r = this.pairRow(id);
    return r ? { id: r.id, segA: r.seg_a, segB: r.seg_b, round: r.round, wanted: r.wanted, createdAt: iso(r.created_at) } : undefined;
  }

  /** The id of `teacher`'s label on pair `pairId` (its first, should there be several), or null. */
  labelIdOf(pairId: string, teacher: string): string | null {
    const r = this.live().prepare('SELECT id FROM labels WHERE pair_id = ? AND teacher = ? ORDER BY created_at, rowid LIMIT 1').get(pairId, teacher) as { id: string } | undefined;
    return r ? r.id : null;
  }

  /**
   * Pairs that fewer distinct teachers have answered than they want (leases ignored; timeout
   * skips are not answers), pairs never timed out first, then oldest round first, then in
   * insertion order. For teachers that label in bulk (synthetic, VLM, the offline pipeline's
   * human teacher).
   */
  pendingPairs(opts: { limit?: number; round?: number } = {}): Pair[] {
    const rows = this.statement(PENDING_SQL('p.*')).all({ round: opts.round ?? null, limit: opts.limit ?? -1 }) as PairRow[];
    return this.materialise(rows);
  }

  /**
   * The ids of the pendingPairs, in the same order, without reading their segments: a teacher
   * that labels in batches reads this list once and then only its batches' pairs (getPairs),
   * not every pending pair's segments for every batch.
   */
  pendingPairIds(opts: { round?: number } = {}): string[] {
    return (this.statement(PENDING_SQL('p.id')).all({ round: opts.round ?? null, limit: -1 }) as { id: string }[]).map((r) => r.id);
  }

  /** Of `ids`, those still pending now (as pendingPairs counts them), in the order given; unknown ids are left out. */
  stillPending(ids: readonly string[]): string[] {
    const st = this.statement(`SELECT 1 AS v FROM pairs p WHERE p.id = ? AND ${PENDING_WHERE('p')}`);
    return ids.filter((id) => st.get(id) !== undefined);
  }

  /** Stored pairs with their segments, in the order of `ids` (each segment read once); an unknown id throws. */
  getPairs(ids: readonly string[]): Pair[] {
    const rows = ids.map((id) => {
      const r = this.pairRow(id);
      if (!r) throw new InputError(this.path, `no pair ${id}`, 'pairs');
      return r;
    });
    return this.materialise(rows);
  }

  // ---------------------------------------------------------------- leases

  /**
   * Hand the next pair to `teacher` for `leaseMs` (see the header for the rules), or null when
   * none is open to it. Runs in an IMMEDIATE transaction, so servers in several processes
   * never hand one slot out twice. `now` is wall-clock epoch ms (default: the Clock's).
   */
  nextPairFor(teacher: string, opts: { leaseMs: number; now?: number }): LeasedPair | null {
    this.writer('nextPairFor');
    if (!(opts.leaseMs > 0)) throw new RangeError(`nextPairFor: leaseMs must be > 0, got ${opts.leaseMs}`);
    const now = opts.now ?? this.nowMs();
    const db = this.live();
    const row = db
      .transaction((): PairRow | undefined => {
        // Only labels and leases of the teacher's own audience (people or machines) fill a pair.
        const person = this.isPerson(teacher);
        const held = db
          .prepare(
            `SELECT p.* FROM leases s JOIN pairs p ON p.id = s.pair_id
             WHERE s.teacher = @teacher AND s.expires_at > @now
               AND NOT EXISTS (SELECT 1 FROM labels l WHERE l.pair_id = p.id AND l.teacher = @teacher)
             ORDER BY s.expires_at LIMIT 1`,
          )
          .get({ teacher, now }) as PairRow | undefined;
        const pick = held ?? this.handOut(teacher, person, now);
        if (pick) {
          db.prepare(
            `INSERT INTO leases (pair_id, teacher, expires_at) VALUES (?, ?, ?)
             ON CONFLICT (pair_id, teacher) DO UPDATE SET expires_at = excluded.expires_at`,
          ).run(pick.id, teacher, now + opts.leaseMs);
        }
        return pick;
      })
      .immediate();
    if (!row) return null;
    return { pair: this.materialise([row])[0], round: row.round, expiresAt: now + opts.leaseMs };
  }

  /** `PRAGMA data_version` when the hand-out floors were last known good (see HAND_OUT_FLOORS_SQL); undefined: not made yet. */
  private floorsVersion: number | undefined;
  /**
   * Rows handOut itself wrote to the floors (TEMP): total_changes() counts them, but they change
   * nothing any teacher is handed, so handOutState's stamp leaves them out.
   */
  private floorChanges = 0;

  /**
   * nextPairFor's pick when the teacher holds no lease: HAND_OUT_SQL walked from the teacher's
   * floor, which first moves on past the pairs it has labelled. Call inside a transaction.
   */
  private handOut(teacher: string, person: boolean, now: number): PairRow | undefined {
    const db = this.live();
    if (this.floorsVersion === undefined) db.exec(HAND_OUT_FLOORS_SQL);
    const version = (this.statement('PRAGMA data_version').get() as { data_version: number }).data_version;
    if (version !== this.floorsVersion) {
      // Another connection committed since: its writes fired none of this connection's triggers.
      this.floorChanges += this.statement('DELETE FROM hand_out_floor').run().changes;
      this.floorsVersion = version;
    }
    const who = { teacher, person: person ? 1 : 0 };
    const old = this.statement('SELECT f_timed_out AS ft, f_round AS fr, f_rowid AS fid FROM hand_out_floor WHERE teacher = @teacher AND person = @person').get(who) as
      | { ft: number; fr: number; fid: number }
      | undefined;
    const walk = <T>(sql: (from: HandOutFrom) => string, from: { ft: number; fr: number; fid: number } | undefined, extra: object): T | undefined => {
      if (from === undefined) return this.statement(sql('start')).get({ teacher, ...extra }) as T | undefined;
      for (const range of ['same', 'older', 'later'] as const) {
        const row = this.statement(sql(range)).get({ teacher, ...from, ...extra }) as T | undefined;
        if (row !== undefined) return row;
      }
      return undefined;
    };
    const floor = walk<{ ft: number; fr: number; fid: number }>((from) => FLOOR_SQL(person, from), old, {}) ?? FLOOR_END;
    this.floorChanges += this.statement(
      `INSERT INTO hand_out_floor (teacher, person, f_timed_out, f_round, f_rowid) VALUES (@teacher, @person, @ft, @fr, @fid)
       ON CONFLICT (teacher, person) DO UPDATE SET f_timed_out = excluded.f_timed_out, f_round = excluded.f_round, f_rowid = excluded.f_rowid`,
    ).run({ ...who, ...floor }).changes;
    if (floor.ft === FLOOR_END.ft) return undefined;
    return walk<PairRow>((from) => HAND_OUT_SQL(person, from), floor, { now });
  }

  /**
   * When nextPairFor's answer can change (for asking it again only then): `stamp` changes with
   * every commit to the store, by this connection or another (a process adding pairs); `until` is
   * when the next lease held now ends (ms on the store's clock; Infinity when none is held), the
   * one change that comes with time alone; `now` is the store's clock now.
   */
  handOutState(): { stamp: string; until: number; now: number } {
    const now = this.nowMs();
    const version = (this.statement('PRAGMA data_version').get() as { data_version: number }).data_version;
    // Writes to the hand-out floors by handOut are left out: an idle page asking again moves a floor
    // without changing what it would be handed.
    const changes = (this.statement('SELECT total_changes() AS n').get() as { n: number }).n - this.floorChanges;
    const next = (this.statement('SELECT MIN(expires_at) AS t FROM leases WHERE expires_at > ?').get(now) as { t: number | null }).t;
    return { stamp: `${version}:${changes}`, until: next ?? Number.POSITIVE_INFINITY, now };
  }

  /** Give a leased pair back before it expires (e.g. the person closed the page). Returns whether a lease was held. */
  releaseLease(teacher: string, pairId: string): boolean {
    this.writer('releaseLease');
    return this.live().prepare('DELETE FROM leases WHERE teacher = ? AND pair_id = ?').run(teacher, pairId).changes > 0;
  }

  /** Lease `pairId` to `teacher` until `expiresAt` (epoch ms), replacing an older lease of theirs (e.g. after an undo). */
  leasePair(pairId: string, teacher: string, expiresAt: number): void {
    this.writer('leasePair');
    this.live()
      .prepare(
        `INSERT INTO leases (pair_id, teacher, expires_at) VALUES (?, ?, ?)
         ON CONFLICT (pair_id, teacher) DO UPDATE SET expires_at = excluded.expires_at`,
      )
      .run(pairId, teacher, expiresAt);
  }

  /** Make pairs want at least `n` teachers (all pairs, or the listed ones), e.g. for overlap. Returns rows changed. */
  raiseWanted(n: number, pairIds?: readonly string[]): number {
    this.writer('raiseWanted');
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`raiseWanted: n must be an integer >= 1, got ${n}`);
    const db = this.live();
    if (pairIds === undefined) return db.prepare('UPDATE pairs SET wanted = ? WHERE wanted < ?').run(n, n).changes;
    const st = db.prepare('UPDATE pairs SET wanted = ? WHERE id = ? AND wanted < ?');
    return db.transaction(() => pairIds.reduce((acc, id) => acc + st.run(n, id, n).changes, 0)).immediate();
  }

  /** The id of the n-th pair (0-based) by round, then insertion, or undefined. */
  pairIdAt(n: number): string | undefined {
    const r = this.live().prepare('SELECT id FROM pairs ORDER BY round, rowid LIMIT 1 OFFSET ?').get(Math.max(0, Math.floor(n))) as { id: string } | undefined;
    return r?.id;
  }

  /**
   * The labels teacherLabels({ keep }) returns (preferences only, in its order: labels[i] is its
   * labels[i]) as three columns: label ids, pair ids and probFirst; without reading any pair's
   * segments or making label objects, the rows read one at a time.
   */
  teacherPreferences(opts: { keep?: (teacher: string) => boolean } = {}): { ids: string[]; pairIds: string[]; probFirst: Float64Array } {
    const st = this.live().prepare(
      `SELECT l.id AS id, l.pair_id AS pair_id, l.teacher AS teacher, l.prob_first AS prob_first FROM labels l JOIN pairs p ON p.id = l.pair_id
       WHERE l.kind IN ${LABELLED_KINDS({})}
       ORDER BY p.round, p.rowid, l.created_at, l.rowid`,
    );
    const ids: string[] = [];
    const pairIds: string[] = [];
    const probs: number[] = [];
    for (const r of st.iterate() as Iterable<{ id: string; pair_id: string; teacher: string; prob_first: number }>) {
      if (opts.keep && !opts.keep(r.teacher)) continue;
      ids.push(r.id);
      pairIds.push(r.pair_id);
      probs.push(r.prob_first);
    }
    return { ids, pairIds, probFirst: Float64Array.from(probs) };
  }

  /** The segment ids (a, b) of the pairs of `ids` (every stored pair without it), without reading segments; an unknown id throws. */
  pairSegmentIds(ids?: readonly string[]): { id: string; segA: string; segB: string }[] {
    if (ids === undefined) {
      return (this.statement('SELECT id, seg_a, seg_b FROM pairs ORDER BY round, rowid').all() as { id: string; seg_a: string; seg_b: string }[]).map((r) => ({ id: r.id, segA: r.seg_a, segB: r.seg_b }));
    }
    const st = this.statement('SELECT id, seg_a, seg_b FROM pairs WHERE id = ?');
    return ids.map((id) => {
      const r = st.get(id) as { id: string; seg_a: string; seg_b: string } | undefined;
      if (!r) throw new InputError(this.path, `no pair ${id}`, 'pairs');
      return { id: r.id, segA: r.seg_a, segB: r.seg_b };
    });
  }

  /** Delete expired leases (housekeeping; expired leases are ignored anyway). Returns how many. */
  pruneLeases(now: number = this.nowMs()): number {
    this.writer('pruneLeases');
    return this.live().prepare('DELETE FROM leases WHERE expires_at <= ?').run(now).changes;
  }

  // ---------------------------------------------------------------- teachers and labels

  /**
   * Undo: delete label `id` if it belongs to `teacher` (one IMMEDIATE transaction). Returns the
   * pair it was on, or undefined when no such label is stored (an undo that arrives twice is not
   * an error); throws when the label was locked (lockLabels) or belongs to another teacher.
   */
  deleteLabel(id: string, teacher: string): { pairId: string } | undefined {
    this.writer('deleteLabel');
    const db = this.live();
    return db
      .transaction((): { pairId: string } | undefined => {
        const row = db.prepare('SELECT pair_id, teacher, locked FROM labels WHERE id = ?').get(id) as { pair_id: string; teacher: string; locked: number } | undefined;
        if (!row) return undefined;
        if (row.locked === 1) throw new Error(`label ${id} was passed to training and cannot be undone`);
        if (row.teacher !== teacher) throw new Error(`label ${id} belongs to another teacher`);
        db.prepare('DELETE FROM labels WHERE id = ?').run(id);
        return { pairId: row.pair_id };
      })
      .immediate();
  }

  /**
   * Mark labels as passed to training (the human teacher returned them to a run): deleteLabel
   * refuses them from then on, whichever process serves the viewer. Unknown ids are ignored.
   */
  lockLabels(ids: Iterable<string>): void {
    this.writer('lockLabels');
    const db = this.live();
    const st = db.prepare('UPDATE labels SET locked = 1 WHERE id = ?');
    db.transaction(() => {
      for (const id of ids) st.run(id);
    }).immediate();
  }

  /** Register or update a teacher (kind e.g. "human", "synthetic", "vlm"; config a JSON object). */
  putTeacher(t: { id: string; kind: string; config?: Record<string, unknown> }): void {
    this.writer('putTeacher');
    this.live()
      .prepare('INSERT INTO teachers (id, kind, config) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, config = excluded.config')
      .run(t.id, t.kind, JSON.stringify(t.config ?? {}));
  }

  /** Whether `teacher` is a person (`isPerson` with the kind it is registered with, if any), as the store's queries decide it. */
  isPerson(teacher: string): boolean {
    return (this.live().prepare(`SELECT ${IS_PERSON('@teacher')} AS v`).get({ teacher }) as { v: number }).v === 1;
  }

  teachers(): TeacherInfo[] {
    const rows = this.live().prepare('SELECT id, kind, config FROM teachers ORDER BY id').all() as { id: string; kind: string; config: string }[];
    return rows.map((r) => ({ id: r.id, kind: r.kind, config: JSON.parse(r.config) as Record<string, unknown> }));
  }

  /**
   * Store a batch of labels in ONE transaction and return only after it committed (fsynced,
   * see the header). Idempotent on label id: a label already stored with the same content is
   * counted as a duplicate and not stored again; the same id with different content is an
   * error (and nothing of the batch is stored). Teachers seen for the first time are
   * registered with kind "unknown". Labels must name stored pairs. A teacher labels a pair once:
   * a label (under another id) for a pair its teacher already labelled, in the store or earlier
   * in the batch, is an error and nothing of the batch is stored. A lease the teacher held on the
   * pair ends with its label. A human-teacher skip without a `timeout` field is read by its
   * reason (humanTimeoutByReason), for imports and for callers alike.
   */
  addLabels(labels: readonly NewLabel[]): AddLabelsResult {
    this.writer('addLabels');
    const db = this.live();
    for (const l of labels) {
      const problem = labelProblem(l);
      if (problem) throw new Error(`LabelStore.addLabels: label ${JSON.stringify(l.id)}: ${problem}`);
    }
    return db
      .transaction(() => {
        const now = this.nowMs();
        const existing = db.prepare('SELECT * FROM labels WHERE id = ?');
        const pairExists = db.prepare('SELECT 1 FROM pairs WHERE id = ?');
        const teacher = db.prepare("INSERT INTO teachers (id, kind, config) VALUES (?, 'unknown', '{}') ON CONFLICT (id) DO NOTHING");
        const ins = db.prepare(`INSERT INTO labels (id, pair_id, teacher, kind, prob_first, reason, response_ms, comment, raw, created_at, timeout)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
        const endLease = db.prepare('DELETE FROM leases WHERE pair_id = ? AND teacher = ?');
        const byTeacher = db.prepare('SELECT id FROM labels WHERE pair_id = ? AND teacher = ? LIMIT 1');
        let added = 0;
        for (const l of labels) {
          const old = existing.get(l.id) as LabelRow | undefined;
          if (old) {
            if (!sameLabel(old, l)) throw new Error(`LabelStore.addLabels: label id ${l.id} is already stored with different content`);
            continue;
          }
          if (!pairExists.get(l.pairId)) throw new Error(`LabelStore.addLabels: label ${l.id} names pair ${l.pairId}, which is not in ${this.path}`);
          const first = byTeacher.get(l.pairId, l.teacher) as { id: string } | undefined;
          if (first) throw new SecondLabelError(l, first.id);
          teacher.run(l.teacher);
          ins.run(
            l.id,
            l.pairId,
            l.teacher,
            l.kind,
            l.kind === 'preference' ? l.probFirst : null,
            l.kind === 'skip' ? l.reason : null,
            l.responseMs ?? null,
            l.comment ?? null,
            l.raw ?? null,
            l.createdAt !== undefined ? Date.parse(l.createdAt) : now,
            (l.timeout ?? humanTimeoutByReason(l)) ? 1 : 0,
          );
          endLease.run(l.pairId, l.teacher);
          added++;
        }
        return { added, duplicates: labels.length - added };
      })
      .immediate();
  }

  /** Every stored label, in the order stored. */
  labels(): StoredLabel[] {
    return (this.live().prepare(LABELS_IN_ORDER).all() as LabelRow[]).map(labelFromRow);
  }

  /** A stored label by id, or undefined. */
  getLabel(id: string): StoredLabel | undefined {
    const r = this.live().prepare('SELECT * FROM labels WHERE id = ?').get(id) as LabelRow | undefined;
    return r ? labelFromRow(r) : undefined;
  }

  /**
   * The labels of the teachers `keep` accepts (every teacher without it), flattened for
   * trainRewardModel: labels[i] labels pairs[i] (a pair appears once per label). Skips only with
   * `includeSkips` (training leaves them out either way).
   */
  teacherLabels(opts: { keep?: (teacher: string) => boolean; includeSkips?: boolean } = {}): { pairs: Pair[]; labels: Label[] } {
    // A teacher id given as keep ('stochastic') failed only at the first label, as "keep is not a function".
    if (opts.keep !== undefined && typeof opts.keep !== 'function') {
      throw new TypeError(`LabelStore.teacherLabels: option keep must be a function of the teacher id, e.g. (teacher) => teacher === 'stochastic', got ${shownArg(opts.keep)}`);
    }
    const pairs: Pair[] = [];
    const labels: Label[] = [];
    for (const lp of this.labelledPairs({ includeSkips: opts.includeSkips })) {
      for (const l of lp.labels) {
        if (opts.keep && !opts.keep(l.teacher)) continue;
        pairs.push(lp.pair);
        labels.push(l);
      }
    }
    return { pairs, labels };
  }

  /**
   * The ids of the labelledPairs (with the same options), in the same order (round, then
   * insertion), without reading their labels or segments.
   */
  labelledPairIds(opts: { includeSkips?: boolean; round?: number } = {}): string[] {
    const rows = this.statement(
      `SELECT p.id FROM pairs p
       WHERE EXISTS (SELECT 1 FROM labels l WHERE l.pair_id = p.id AND l.kind IN ${LABELLED_KINDS(opts)}) AND (@round IS NULL OR p.round = @round)
       ORDER BY p.round, p.rowid`,
    ).all({ round: opts.round ?? null }) as { id: string }[];
    return rows.map((r) => r.id);
  }

  /**
   * Pairs with their labels, for training. By default only preference labels, and only pairs
   * that have at least one; `includeSkips` also returns skips (and pairs only skipped).
   *
   * `cache` (pair id -> Pair, kept by the caller across calls: the online loop reads every label
   * each feedback round) saves decoding segments again: the label rows are read every call, as
   * without it, so labels added or undone since (by this process or another, e.g. the viewer's
   * people) are seen the same; only the pairs not in the cache are read and decoded, and they are
   * added to it. Caching is safe because a stored pair never changes: its id names fixed segments
   * (putPairs refuses a stored pair id with other segments, and nothing updates a pair's seg_a or
   * seg_b), segments are stored under content-hash ids and never updated (insertSegments:
   * ON CONFLICT DO NOTHING), and no pair or segment is ever deleted. The result is deep-equal to
   * a call without the cache (same pairs, order, rounds and labels; typed arrays bit-equal),
   * while its Pair objects are the cached ones: a caller must not write into them (none does).
   * A call without `round` also drops from the cache the pairs it does not return (labels undone,
   * or only skips while skips are not asked for), so the cache holds only labelled pairs. One
   * cache serves one store file.
   */
  labelledPairs(opts: { includeSkips?: boolean; round?: number; cache?: Map<string, Pair> } = {}): LabelledPair[] {
    const rows = this.statement(
      `SELECT l.*, p.round AS p_round, p.seg_a AS p_seg_a, p.seg_b AS p_seg_b FROM labels l JOIN pairs p ON p.id = l.pair_id
       WHERE l.kind IN ${LABELLED_KINDS(opts)} AND (@round IS NULL OR p.round = @round)
       ORDER BY p.round, p.rowid, l.created_at, l.rowid`,
    ).all({ round: opts.round ?? null }) as (LabelRow & { p_round: number; p_seg_a: string; p_seg_b: string })[];
    const byPair = new Map<string, { round: number; segA: string; segB: string; labels: StoredLabel[] }>();
    for (const r of rows) {
      let e = byPair.get(r.pair_id);
      if (!e) {
        e = { round: r.p_round, segA: r.p_seg_a, segB: r.p_seg_b, labels: [] };
        byPair.set(r.pair_id, e);
      }
      e.labels.push(labelFromRow(r));
    }
    const cache = opts.cache;
    // Segments are decoded once per call (pairs sharing one share the object), and not at all
    // for a segment of a cached pair.
    const seg = this.segmentReader(cache?.values());
    const out: LabelledPair[] = [];
    for (const [id, e] of byPair) {
      let pair = cache?.get(id);
      if (!pair) {
        pair = { id, a: seg(e.segA), b: seg(e.segB) };
        cache?.set(id, pair);
      }
      out.push({ pair, round: e.round, labels: e.labels });
    }
    if (cache && opts.round === undefined) {
      for (const id of cache.keys()) if (!byPair.has(id)) cache.delete(id);
    }
    return out;
  }

  /**
   * The highest round of a pair with a label of the kinds labelledPairs returns (the same
   * options), or undefined when there is none; reads no segments.
   */
  labelledMaxRound(opts: { includeSkips?: boolean } = {}): number | undefined {
    const r = this.statement(
      `SELECT MAX(p.round) AS m FROM pairs p
       WHERE EXISTS (SELECT 1 FROM labels l WHERE l.pair_id = p.id AND l.kind IN ${LABELLED_KINDS(opts)})`,
    ).get() as { m: number | null };
    return r.m ?? undefined;
  }

  /**
   * The ids of every stored pair in the order `prefrl label` answers them, without reading labels
   * or segments: the labelled ones (a preference or a skip, by anyone) in labelledPairIds'
   * order (round, then insertion), then the others in pendingPairIds' order. `unansweredBy`
   * leaves out the pairs that teacher has a label on (of any kind, timeout skips included; an
   * undone label is no label).
   */
  pairIdsToLabel(opts: { unansweredBy?: string } = {}): string[] {
    const rows = this.statement(
      `WITH q AS (
         SELECT p.id, p.round, p.rowid AS r, p.timed_out, p.answered, p.wanted,
                EXISTS (SELECT 1 FROM labels l WHERE l.pair_id = p.id AND l.kind IN ${LABELLED_KINDS({ includeSkips: true })}) AS labelled
         FROM pairs p)
       SELECT q.id FROM q
       WHERE (q.labelled OR ${PENDING_WHERE('q')})
         AND (@teacher IS NULL OR NOT EXISTS (SELECT 1 FROM labels t WHERE t.pair_id = q.id AND t.teacher = @teacher))
       ORDER BY q.labelled DESC, CASE WHEN q.labelled THEN 0 ELSE q.timed_out END, q.round, q.r`,
    ).all({ teacher: opts.unansweredBy ?? null }) as { id: string }[];
    return rows.map((r) => r.id);
  }

  /** How many pairs `teacher` has a label on (of any kind; each pair once). */
  answeredPairCount(teacher: string): number {
    return (this.statement('SELECT COUNT(DISTINCT pair_id) AS n FROM labels WHERE teacher = ?').get(teacher) as { n: number }).n;
  }

  /**
   * The length and rewards of each pair's segments (a, then b) for the pairs of `ids`, in order,
   * without their other arrays (the rewards as getPairs decodes them): what a pool's mean return
   * per step needs. An unknown id throws, as in getPairs.
   */
  pairRewards(ids: readonly string[]): { length: number; rewards: Float64Array }[] {
    const st = this.statement('SELECT id, length, rewards FROM segments WHERE id = ?');
    const cache = new Map<string, { length: number; rewards: Float64Array }>();
    const seg = (id: string) => {
      let s = cache.get(id);
      if (!s) {
        const r = st.get(id) as { id: string; length: number; rewards: Buffer } | undefined;
        if (!r) throw new InputError(this.path, `pair references missing segment ${id}`, 'pairs');
        s = { length: r.length, rewards: fromBlob(Float64Array, r.rewards, r.length, this.path, `segment ${r.id} rewards`) };
        cache.set(id, s);
      }
      return s;
    };
    return ids.flatMap((id) => {
      const r = this.pairRow(id);
      if (!r) throw new InputError(this.path, `no pair ${id}`, 'pairs');
      return [seg(r.seg_a), seg(r.seg_b)];
    });
  }

  /**
   * The answers a run's --labels budget counts: every label but the timeout skips (a pair nobody
   * answered before the human teacher's timeout is not an answer): counts().labels - counts().timeouts.
   */
  answerCount(): number {
    return (this.statement(`SELECT COUNT(*) AS n FROM labels l WHERE ${ANSWERS('l')}`).get() as { n: number }).n;
  }

  /** Row counts, pending pairs, active leases and per-teacher label counts. */
  counts(now: number = this.nowMs()): StoreCounts {
    const db = this.live();
    const one = (sql: string, ...args: unknown[]) => (this.statement(sql).get(...args) as { n: number }).n;
    const perTeacher: Record<string, TeacherCounts> = {};
    const rows = db
      .prepare(
        `SELECT teacher, COUNT(*) AS labels, SUM(kind = 'preference') AS preferences, SUM(${IS_TIE}) AS ties,
                SUM(kind = 'skip') AS skips
         FROM labels GROUP BY teacher ORDER BY teacher`,
      )
      .all() as { teacher: string; labels: number; preferences: number; ties: number; skips: number }[];
    for (const r of rows) perTeacher[r.teacher] = { labels: r.labels, preferences: r.preferences, ties: r.ties, skips: r.skips };
    return {
      segments: one('SELECT COUNT(*) AS n FROM segments'),
      pairs: one('SELECT COUNT(*) AS n FROM pairs'),
      labels: one('SELECT COUNT(*) AS n FROM labels'),
      preferences: one("SELECT COUNT(*) AS n FROM labels WHERE kind = 'preference'"),
      ties: one(`SELECT COUNT(*) AS n FROM labels WHERE ${IS_TIE}`),
      skips: one("SELECT COUNT(*) AS n FROM labels WHERE kind = 'skip'"),
      timeouts: one(`SELECT COUNT(*) AS n FROM labels l WHERE NOT ${ANSWERS('l')}`),
      pending: one(`SELECT COUNT(*) AS n FROM pairs p WHERE ${PENDING_WHERE('p')}`),
      waitingForPeople: one(WAITING_FOR_PEOPLE_SQL),
      unlabelled: one('SELECT COUNT(*) AS n FROM pairs p WHERE p.answered = 0'),
      activeLeases: one('SELECT COUNT(*) AS n FROM leases WHERE expires_at > ?', now),
      perTeacher,
    };
  }

  /**
   * What the viewer shows a person after each answer, as counts() counts it: every label, the
   * labels of `teacher`, and the pairs waiting for people (read from the index of the pairs open to
   * people). Without counts()' other counts (labels by kind and teacher, unlabelled pairs), which
   * read every label or pair.
   */
  progressCounts(teacher: string): { labels: number; teacherLabels: number; waitingForPeople: number } {
    const one = (sql: string, ...args: unknown[]) => (this.statement(sql).get(...args) as { n: number }).n;
    return {
      labels: one('SELECT COUNT(*) AS n FROM labels'),
      teacherLabels: one('SELECT COUNT(*) AS n FROM labels WHERE teacher = ?', teacher),
      waitingForPeople: one(WAITING_FOR_PEOPLE_SQL),
    };
  }

  /** The running agreement tally (agreement()), or null before the first call. */
  private tally: AgreementTally | null = null;

  /**
   * Inter-teacher agreement (defined on the `Agreement` type). Incremental: the store keeps a
   * tally of the preference labels it has read (AgreementTally) and each call reads only the rows
   * stored since, by this or any other process. Labels are only ever added, except undone ones
   * (deleteLabel); a call that finds fewer preference rows than the tally fed plus the new ones
   * (a label deleted), or another label under the highest rowid it fed (SQLite hands a deleted
   * last row's rowid to the next insert; VACUUM renumbers), starts a fresh tally from every row.
   * Count and new rows are read in one transaction, so they describe the same state.
   */
  agreement(): Agreement {
    return this.agreementTally().figures();
  }

  /**
   * agreement() without `byTeachers`, whose entry for every two teachers who shared a pair grows
   * with the square of the teachers: what a viewer shows after each answer.
   */
  agreementTotals(): AgreementTotals {
    return this.agreementTally().totals();
  }

  /** The running tally brought up to date (agreement()). */
  private agreementTally(): AgreementTally {
    const db = this.live();
    return db.transaction((): AgreementTally => {
      const total = (this.statement(`SELECT COUNT(*) AS n FROM labels WHERE kind = 'preference'`).get() as { n: number }).n;
      const since = (after: number) =>
        this.statement(
          `SELECT rowid AS rowid, id, pair_id, teacher, prob_first, created_at FROM labels
           WHERE kind = 'preference' AND rowid > ? ORDER BY rowid`,
        ).all(after) as { rowid: number; id: string; pair_id: string; teacher: string; prob_first: number; created_at: number }[];
      let t = this.tally;
      let rows = since(t?.lastRowid ?? 0);
      // Rows it fed are gone (the count falls short) or another label holds its last rowid: start over.
      const lastIdNow = () => (this.statement('SELECT id FROM labels WHERE rowid = ?').get(t?.lastRowid) as { id: string } | undefined)?.id ?? null;
      if (t && (t.rows + rows.length !== total || (t.lastRowid > 0 && lastIdNow() !== t.lastId))) {
        t = null;
        rows = since(0);
      }
      t ??= new AgreementTally();
      t.addAll(rows.map((r) => ({ row: { rowid: r.rowid, pairId: r.pair_id, teacher: r.teacher, verdict: verdict(r.prob_first), createdAt: r.created_at }, labelId: r.id })));
      this.tally = t;
      return t;
    })();
  }

  // ---------------------------------------------------------------- JSONL

  /**
   * Write every label as one JSON object per line (the StoredLabel fields; optional fields
   * only when set), in the order stored. Written to a temporary file and renamed, so `out`
   * is never half-written; a pipe or device (`/dev/stdout`) is written into, not replaced; a
   * function is given each chunk of lines instead (a command's standard output). Streams: the labels are read from the store and written a chunk of lines at a time, so no
   * string holds the whole file (a store of VLM labels with long raw replies can pass V8's
   * string limit, about 512 MiB). Returns the number of labels.
   */
  exportJsonl(out: string | ((chunk: string) => void)): number {
    // Its own statement (not the cache's): it stays busy while the rows are iterated.
    const rows = this.live().prepare(LABELS_IN_ORDER);
    if (typeof out === 'function') {
      // A stream of the caller's (a command's standard output), a chunk of lines at a time.
      try {
        return writeLabelLines(out, rows);
      } catch (e) {
        throw e instanceof StoreReadError ? e.inner : e;
      }
    }
    let special = false;
    try {
      special = !statSync(out).isFile();
    } catch {
      // not there yet: written through a temporary file below
    }
    if (special) {
      // A pipe or device (--out /dev/stdout): write into it; a rename would replace it with a file.
      const fd = openSync(out, 'w');
      try {
        return writeLabelLines(fd, rows);
      } catch (e) {
        throw e instanceof StoreReadError ? e.inner : e;
      } finally {
        closeSync(fd);
      }
    }
    const tmp = `${out}.tmp-${process.pid}`;
    let count: number;
    try {
      const fd = openSync(tmp, 'w');
      try {
        count = writeLabelLines(fd, rows);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, out);
    } catch (e) {
      rmSync(tmp, { force: true });
      if (e instanceof StoreReadError) throw e.inner;
      // Name the file asked for, not the temporary one.
      const code = (e as { code?: unknown }).code;
      throw new Error(`cannot write ${out}${typeof code === 'string' ? ` (${code})` : ''}: ${(e as Error).message.replaceAll(tmp, out)}`);
    }
    return count;
  }

  /**
   * Read labels written by exportJsonl (or by hand) and add them in one transaction. Every line
   * is validated first (JSON object, known keys, field types, pair present in this store, no
   * conflicting duplicate id); the first bad line throws an InputError naming the file and
   * line number and nothing is stored. Blank lines are ignored. Idempotent: importing the same
   * file again adds nothing. A teacher labels a pair once: a label for a pair its teacher has
   * already labelled (stored, or earlier in the file, under another id) is left out and counted
   * in `sameTeacher` (and in `conflicts` when its answer differs from the kept one). The file is
   * read a chunk at a time, line by line (no string holds the whole file).
   */
  importJsonl(file: string): ImportResult {
    this.writer('importJsonl');
    const db = this.live();
    const pairExists = db.prepare('SELECT 1 FROM pairs WHERE id = ?');
    const existing = db.prepare('SELECT * FROM labels WHERE id = ?');
    const byTeacher = db.prepare('SELECT * FROM labels WHERE pair_id = ? AND teacher = ? ORDER BY created_at, rowid LIMIT 1');
    const labels: NewLabel[] = [];
    const seen = new Map<string, { line: number; label: NewLabel }>();
    /** The answer kept for each (pair, teacher) taken from the file so far. */
    const taken = new Map<string, string>();
    let idDuplicates = 0;
    let sameTeacher = 0;
    let conflicts = 0;
    let firstConflictPair: string | null = null;
    /** Lines that are not blank. */
    let count = 0;
    let i = -1;
    for (const raw of jsonlLines(file)) {
      i++;
      const line = raw.replace(/\r$/, '');
      if (line.trim() === '') continue;
      count++;
      const where = `line ${i + 1}`;
      const obj = parseJson(line, file, where);
      if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new InputError(file, 'expected a JSON object (one label per line)', where);
      for (const k of Object.keys(obj)) {
        if (!LABEL_KEYS.has(k)) throw new InputError(file, `unknown key "${k}" (allowed: ${[...LABEL_KEYS].join(', ')})`, where);
      }
      const l = obj as NewLabel;
      const problem = labelProblem(l);
      if (problem) throw new InputError(file, problem, where);
      if (l.kind === 'preference' && 'reason' in l) throw new InputError(file, 'a preference has no reason', where);
      if (l.kind === 'skip' && 'probFirst' in l) throw new InputError(file, 'a skip has no probFirst', where);
      if (!pairExists.get(l.pairId)) throw new InputError(file, `pair ${l.pairId} is not in the store ${this.path}`, where);
      const old = existing.get(l.id) as LabelRow | undefined;
      if (old && !sameLabel(old, l)) throw new InputError(file, `label id ${l.id} is already stored with different content`, where);
      const twin = seen.get(l.id);
      if (twin) {
        if (JSON.stringify(twin.label) !== JSON.stringify(l)) {
          throw new InputError(file, `label id ${l.id} appears again with different content (first on line ${twin.line})`, where);
        }
        idDuplicates++;
        continue;
      }
      seen.set(l.id, { line: i + 1, label: l });
      if (old) {
        idDuplicates++;
        continue;
      }
      // A teacher labels a pair once: keep the stored label (or the file's first) of this teacher.
      const key = `${l.pairId}\u0000${l.teacher}`;
      const stored = byTeacher.get(l.pairId, l.teacher) as LabelRow | undefined;
      const kept = stored ? answerOf({ kind: stored.kind, probFirst: stored.prob_first }) : taken.get(key);
      if (kept !== undefined) {
        sameTeacher++;
        if (kept !== answerOf(l)) {
          conflicts++;
          firstConflictPair ??= l.pairId;
        }
        continue;
      }
      taken.set(key, answerOf(l));
      labels.push(l);
    }
    const r = this.addLabels(labels);
    return { lines: count, added: r.added, duplicates: idDuplicates + sameTeacher + (labels.length - r.added), sameTeacher, conflicts, firstConflictPair };
  }
}

/**
 * `e` naming the store when SQLite refused for the machine's sake: its own message ("database or
 * disk is full") names no file. `label store <path>: database or disk is full (SQLITE_FULL)`.
 */
/**
 * SQLite's "unable to open database file" (SQLITE_CANTOPEN) with why, when the file is there but
 * this user may not read and write it (a store of another user, mode 0444 or 0000); its code is
 * kept. Other errors as they are.
 */
function withAccessReason(e: unknown, path: string): unknown {
  if ((e as { code?: unknown }).code !== 'SQLITE_CANTOPEN' || !existsSync(path)) return e;
  try {
    accessSync(path, fsConstants.R_OK | fsConstants.W_OK);
  } catch (a) {
    (e as Error).message = `${(e as Error).message}: this user may not read and write the file (${(a as { code?: string }).code ?? (a as Error).message})`;
  }
  return e;
}

function storeRefusal(e: unknown, path: string): unknown {
  if (!isSqliteEnvironmentError(e) || (e as Error).message.startsWith('label store ')) return e;
  const err = e as Error & { code: string };
  err.message = `label store ${path}: ${err.message} (${err.code})`;
  return err;
}

// Every method of a store names it in SQLite's refusals (a full disk mid-run, a file made
// read-only): whichever command or script hits one says which file to make room for.
for (const name of Object.getOwnPropertyNames(LabelStore.prototype)) {
  const d = Object.getOwnPropertyDescriptor(LabelStore.prototype, name);
  if (name === 'constructor' || !d || typeof d.value !== 'function') continue;
  const method = d.value as (this: LabelStore, ...args: unknown[]) => unknown;
  Object.defineProperty(LabelStore.prototype, name, {
    ...d,
    value: function (this: LabelStore, ...args: unknown[]): unknown {
      try {
        return method.apply(this, args);
      } catch (e) {
        throw storeRefusal(e, this.path);
      }
    },
  });
}

/** How many bytes labels export writes, and labels import reads, at a time. */
const JSONL_CHUNK_BYTES = 1 << 20;

/** An error reading the store while exporting (not one writing the file): rethrown as it was. */
class StoreReadError extends Error {
  constructor(readonly inner: unknown) {
    super('store read failed');
  }
}

/** Write all of `text` to `fd` (writeSync may write less than asked, e.g. into a pipe). */
function writeAll(fd: number, text: string): void {
  const buf = Buffer.from(text, 'utf8');
  let done = 0;
  while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done);
}

/** Write the labels `rows` selects to `fd`, one JSON line each, about JSONL_CHUNK_BYTES at a time; returns how many. */
function writeLabelLines(fd: number | ((chunk: string) => void), rows: Database.Statement): number {
  const put = typeof fd === 'number' ? (text: string) => writeAll(fd, text) : fd;
  let count = 0;
  let chunk = '';
  const it = rows.iterate() as IterableIterator<LabelRow>;
  try {
    for (;;) {
      let next: IteratorResult<LabelRow>;
      try {
        next = it.next();
      } catch (e) {
        throw new StoreReadError(e);
      }
      if (next.done) break;
      chunk += `${JSON.stringify(labelFromRow(next.value))}\n`;
      count++;
      // UTF-16 length: at most 3 bytes a unit in UTF-8, so a chunk stays within a few MiB.
      if (chunk.length >= JSONL_CHUNK_BYTES) {
        put(chunk);
        chunk = '';
      }
    }
  } finally {
    it.return?.();
  }
  if (chunk !== '') put(chunk);
  return count;
}

/**
 * The lines of `file` as `text.split('\n')` would give them (the last one after the final
 * newline included, '' when the file ends with one), read JSONL_CHUNK_BYTES at a time. Lines are
 * cut at the byte 0x0A, which never occurs inside a UTF-8 character, then decoded. A file that
 * cannot be opened or read throws an InputError naming it.
 */
function* jsonlLines(file: string): Generator<string> {
  const cannot = (e: unknown) => new InputError(file, `cannot read file: ${(e as Error).message}`);
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    throw cannot(e);
  }
  try {
    const buf = Buffer.allocUnsafe(JSONL_CHUNK_BYTES);
    /** The start of the current line, from earlier chunks. */
    let parts: Buffer[] = [];
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        throw cannot(e);
      }
      if (n === 0) break;
      const got = buf.subarray(0, n);
      let start = 0;
      for (let nl = got.indexOf(10); nl !== -1; nl = got.indexOf(10, start)) {
        const piece = got.subarray(start, nl);
        const line = parts.length === 0 ? piece.toString('utf8') : Buffer.concat([...parts, piece]).toString('utf8');
        parts = [];
        start = nl + 1;
        yield line;
      }
      // buf is reused for the next read: keep a copy of the unfinished line.
      if (start < n) parts.push(Buffer.from(got.subarray(start)));
    }
    yield Buffer.concat(parts).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** Array lengths of a segment must match its dims (a mismatch would corrupt the BLOB layout). */
function checkSegmentShape(s: Segment): void {
  const H = s.length;
  const f32 = Float32Array;
  const f64 = Float64Array;
  const want: [string, ArrayLike<number>, number, typeof f32 | typeof f64][] = [
    ['obs', s.obs, (H + 1) * s.obsDim, f32],
    ['actions', s.actions, H * s.actDim, f32],
    ['rewards', s.rewards, H, f64],
    ['terms', s.terms, H * s.nTerms, f64],
    ['qpos', s.qpos, (H + 1) * s.nq, f64],
    ['qvel', s.qvel, (H + 1) * s.nv, f64],
    ['act', s.act, (H + 1) * s.na, f64],
    ['time', s.time, H + 1, f64],
    ['success', s.success, H, f32],
  ];
  for (const [name, arr, n, type] of want) {
    if (!(arr instanceof type)) throw new TypeError(`segment ${s.id}: ${name} must be a ${type.name}`);
    if (arr.length !== n) throw new RangeError(`segment ${s.id}: ${name} has ${arr.length} values, its dims need ${n}`);
  }
}

/** Open (or create) a label store; see LabelStore.open. */
export function openLabelStore(path: string, opts: OpenOptions = {}): LabelStore {
  return LabelStore.open(path, opts);
}
