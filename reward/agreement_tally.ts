/**
 * The running inter-teacher agreement tally behind LabelStore.agreement() (the figures are
 * defined on the `Agreement` type in store.ts).
 *
 * A tally is fed preference label rows in rowid order and keeps, for each pair, each teacher's
 * latest verdict (latest by created_at, then rowid, as the store orders labels) together with the
 * sums the figures need. Feeding a row subtracts its pair's old share of the sums and adds the new
 * one, so the cost of a row is the pair's teacher count squared, not the store's size: a viewer
 * that asks after every answer reads only the rows stored since its last ask. The store decides
 * when rows it already fed may have changed (a label undone, a file rewritten) and then starts a
 * fresh tally; a tally never forgets a row by itself.
 */

import type { Agreement, AgreementTotals } from './store.js';

/** One preference label row, as the tally needs it. */
export interface TallyRow {
  readonly rowid: number;
  readonly pairId: string;
  readonly teacher: string;
  /** first (1), second (-1) or equal (0). */
  readonly verdict: number;
  /** Milliseconds (the labels table's created_at). */
  readonly createdAt: number;
}

/** A teacher's latest verdict on a pair. */
interface Latest {
  readonly teacher: string;
  verdict: number;
  createdAt: number;
  rowid: number;
}

/** Verdict counts by category: [second, equal, first] (verdict + 1). */
type Counts = [number, number, number];

/** Agreement beyond chance, (observed - expected) / (1 - expected); null when chance alone agrees always (expected 1) or nothing was compared. */
function kappa(observed: number, expected: number, compared: number): number | null {
  return compared > 0 && expected < 1 ? (observed - expected) / (1 - expected) : null;
}

export class AgreementTally {
  /** Each pair's teachers' latest verdicts, sorted by teacher. */
  private readonly byPair = new Map<string, Latest[]>();
  private pairs = 0;
  private comparisons = 0;
  private agreeing = 0;
  /** Verdicts on the counted pairs (those with two or more teachers), by category. */
  private readonly verdicts: Counts = [0, 0, 0];
  /** Per pair of teachers: comparisons, agreeing ones, and each side's verdicts on them by category. */
  private readonly by = new Map<string, { comparisons: number; agreeing: number; a: Counts; b: Counts }>();
  /** The highest rowid fed (0 before any), and the label id stored under it. */
  lastRowid = 0;
  lastId: string | null = null;
  /** Rows fed. */
  rows = 0;

  /** Feed one row; rows come in increasing rowid order. */
  add(row: TallyRow, labelId: string): void {
    this.addAll([{ row, labelId }]);
  }

  /**
   * Feed rows in increasing rowid order. Each pair the rows touch has its share of the sums taken
   * away once, all its rows applied, and its share added back once, so a fresh tally fed every
   * row costs the sum over pairs of their teacher count squared, not (as one row at a time would)
   * of its cube.
   */
  addAll(rows: readonly { readonly row: TallyRow; readonly labelId: string }[]): void {
    // Checked before anything changes, so a refused batch leaves the tally as it was.
    let last = this.lastRowid;
    for (const { row } of rows) {
      if (row.rowid <= last) throw new Error(`AgreementTally.add: row ${row.rowid} after row ${last} (rows come in rowid order)`);
      last = row.rowid;
    }
    const touched = new Map<string, Latest[]>();
    for (const { row, labelId } of rows) {
      this.lastRowid = row.rowid;
      this.lastId = labelId;
      this.rows++;
      let list = touched.get(row.pairId);
      if (!list) {
        list = this.byPair.get(row.pairId);
        if (!list) this.byPair.set(row.pairId, (list = []));
        this.share(list, -1);
        touched.set(row.pairId, list);
      }
      const at = list.findIndex((l) => l.teacher >= row.teacher);
      const same = at >= 0 && list[at].teacher === row.teacher ? list[at] : undefined;
      // An earlier label of this teacher that is later by created_at stays the latest.
      if (same && (same.createdAt > row.createdAt || (same.createdAt === row.createdAt && same.rowid > row.rowid))) continue;
      if (same) {
        same.verdict = row.verdict;
        same.createdAt = row.createdAt;
        same.rowid = row.rowid;
      } else {
        list.splice(at < 0 ? list.length : at, 0, { teacher: row.teacher, verdict: row.verdict, createdAt: row.createdAt, rowid: row.rowid });
      }
    }
    for (const list of touched.values()) this.share(list, 1);
  }

  /** Add (sign 1) or take away (sign -1) one pair's share of the sums. */
  private share(list: readonly Latest[], sign: 1 | -1): void {
    if (list.length < 2) return;
    this.pairs += sign;
    for (const l of list) this.verdicts[l.verdict + 1] += sign;
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) {
        const key = `${list[i].teacher}|${list[j].teacher}`;
        const agree = list[i].verdict === list[j].verdict ? 1 : 0;
        this.comparisons += sign;
        this.agreeing += sign * agree;
        let b = this.by.get(key);
        if (!b) this.by.set(key, (b = { comparisons: 0, agreeing: 0, a: [0, 0, 0], b: [0, 0, 0] }));
        b.comparisons += sign;
        b.agreeing += sign * agree;
        b.a[list[i].verdict + 1] += sign;
        b.b[list[j].verdict + 1] += sign;
        if (b.comparisons === 0) this.by.delete(key);
      }
    }
  }

  /** The figures (defined on `Agreement` in store.ts), byTeachers in key order. */
  figures(): Agreement {
    const byTeachers: Agreement['byTeachers'] = {};
    for (const key of [...this.by.keys()].sort()) {
      const b = this.by.get(key) as { comparisons: number; agreeing: number; a: Counts; b: Counts };
      const n = b.comparisons;
      // Cohen's: chance agreement from each teacher's own verdict shares on their shared pairs.
      const expected = (b.a[0] * b.b[0] + b.a[1] * b.b[1] + b.a[2] * b.b[2]) / (n * n);
      byTeachers[key] = { comparisons: n, agreeing: b.agreeing, fraction: b.agreeing / n, kappa: kappa(b.agreeing / n, expected, n) };
    }
    return { ...this.totals(), byTeachers };
  }

  /**
   * The figures over all teachers, without the per-pair-of-teachers breakdown (which has an entry
   * for every two teachers who shared a pair, so it grows with the square of the teachers).
   */
  totals(): AgreementTotals {
    // Fleiss': chance agreement from the verdict shares of all teachers together.
    const total = this.verdicts[0] + this.verdicts[1] + this.verdicts[2];
    const expected = total > 0 ? this.verdicts.reduce((acc, c) => acc + (c / total) ** 2, 0) : 1;
    const fraction = this.comparisons > 0 ? this.agreeing / this.comparisons : null;
    return {
      pairs: this.pairs,
      comparisons: this.comparisons,
      agreeing: this.agreeing,
      fraction,
      kappa: kappa(fraction ?? 0, expected, this.comparisons),
    };
  }
}
