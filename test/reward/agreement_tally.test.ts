/**
 * LabelStore.agreement() keeps a running tally and reads only the rows stored since its last
 * call. These tests check it against a from-scratch count after every step of a seeded mix of
 * answers, undos and writes from a second connection, and the two cases where a stale tally would
 * read the same row count: an undone last label whose rowid the next label gets, and a later label
 * of the same teacher that is older by created_at.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../core/clock.js';
import { Rng } from '../../core/rng.js';
import { randomPolicy, rollout } from '../../envs/rollout.js';
import { TOY_SPEC, ToyReachEnv } from '../../envs/toy.js';
import { AgreementTally } from '../../reward/agreement_tally.js';
import { cutSegments, makePair } from '../../reward/segments.js';
import { type Agreement, LabelStore } from '../../reward/store.js';
import type { Pair } from '../../reward/types.js';

let dir: string;
let pairs: Pair[];
let n = 0;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'prefrl-agreement-'));
  const env = new ToyReachEnv();
  const trajs = rollout(env, randomPolicy(TOY_SPEC, new Rng(5)), { episodes: 4, seed: 2 });
  env.dispose();
  const segs = cutSegments(trajs, { length: 10, source: 'test' });
  pairs = [];
  for (let i = 0; i + 1 < segs.length && pairs.length < 12; i += 2) pairs.push(makePair(segs[i], segs[i + 1]));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The agreement counted from scratch, straight from the rules on the Agreement type. */
function fromScratch(path: string): Agreement {
  const db = new Database(path, { readonly: true });
  const rows = db
    .prepare(`SELECT pair_id, teacher, prob_first FROM labels WHERE kind = 'preference' ORDER BY pair_id, teacher, created_at, rowid`)
    .all() as { pair_id: string; teacher: string; prob_first: number }[];
  db.close();
  const latest = new Map<string, Map<string, string>>();
  for (const r of rows) {
    const v = r.prob_first > 0.5 ? 'first' : r.prob_first < 0.5 ? 'second' : 'equal';
    if (!latest.has(r.pair_id)) latest.set(r.pair_id, new Map());
    latest.get(r.pair_id)!.set(r.teacher, v);
  }
  let pairsCounted = 0;
  let comparisons = 0;
  let agreeing = 0;
  const by: Record<string, { comparisons: number; agreeing: number; fraction: number | null; kappa: number | null }> = {};
  // Verdicts on counted pairs, overall and per teacher pair and side.
  const all: string[] = [];
  const sides = new Map<string, { a: string[]; b: string[] }>();
  for (const m of latest.values()) {
    if (m.size < 2) continue;
    pairsCounted++;
    all.push(...m.values());
    const ts = [...m.keys()].sort();
    for (let i = 0; i < ts.length; i++) {
      for (let j = i + 1; j < ts.length; j++) {
        const same = m.get(ts[i]) === m.get(ts[j]) ? 1 : 0;
        comparisons++;
        agreeing += same;
        const key = `${ts[i]}|${ts[j]}`;
        const b = (by[key] ??= { comparisons: 0, agreeing: 0, fraction: null, kappa: null });
        b.comparisons++;
        b.agreeing += same;
        b.fraction = b.agreeing / b.comparisons;
        if (!sides.has(key)) sides.set(key, { a: [], b: [] });
        sides.get(key)!.a.push(m.get(ts[i])!);
        sides.get(key)!.b.push(m.get(ts[j])!);
      }
    }
  }
  const share = (xs: string[], v: string) => xs.filter((x) => x === v).length / xs.length;
  const kinds = ['first', 'second', 'equal'];
  const kappa = (po: number, pe: number) => (pe < 1 ? (po - pe) / (1 - pe) : null);
  for (const [key, s] of sides) by[key].kappa = kappa(by[key].fraction!, kinds.reduce((acc, v) => acc + share(s.a, v) * share(s.b, v), 0));
  const fraction = comparisons ? agreeing / comparisons : null;
  return {
    pairs: pairsCounted,
    comparisons,
    agreeing,
    fraction,
    kappa: fraction === null ? null : kappa(fraction, kinds.reduce((acc, v) => acc + share(all, v) ** 2, 0)),
    byTeachers: by,
  };
}

/** Equal figures; kappas to 12 digits (the sums are added in another order). */
function expectSameFigures(got: Agreement, want: Agreement, what: string): void {
  const strip = (a: Agreement) => ({ ...a, kappa: undefined, byTeachers: Object.fromEntries(Object.entries(a.byTeachers).map(([k, v]) => [k, { ...v, kappa: undefined }])) });
  expect(strip(got), what).toEqual(strip(want));
  const close = (x: number | null, y: number | null, where: string) => {
    if (y === null) expect(x, where).toBeNull();
    else expect(x, where).toBeCloseTo(y, 12);
  };
  close(got.kappa, want.kappa, `${what}: kappa`);
  for (const k of Object.keys(want.byTeachers)) close(got.byTeachers[k].kappa, want.byTeachers[k].kappa, `${what}: ${k} kappa`);
}

function rowidOf(path: string, labelId: string): number | undefined {
  const db = new Database(path, { readonly: true });
  const r = db.prepare('SELECT rowid AS r FROM labels WHERE id = ?').get(labelId) as { r: number } | undefined;
  db.close();
  return r?.r;
}

describe('AgreementTally', () => {
  it('adds and takes away a pair\'s share as its teachers\' latest verdicts change (hand-counted)', () => {
    const t = new AgreementTally();
    t.add({ rowid: 1, pairId: 'p', teacher: 'B', verdict: 1, createdAt: 10 }, 'l1');
    expect(t.figures()).toEqual({ pairs: 0, comparisons: 0, agreeing: 0, fraction: null, kappa: null, byTeachers: {} });
    t.add({ rowid: 2, pairId: 'p', teacher: 'A', verdict: 1, createdAt: 11 }, 'l2');
    t.add({ rowid: 3, pairId: 'p', teacher: 'C', verdict: -1, createdAt: 12 }, 'l3');
    // p: A first, B first, C second -> AB agree; AC, BC disagree. Verdicts: 2 first, 1 second,
    // so chance = (2/3)^2 + (1/3)^2 = 5/9 and kappa = (1/3 - 5/9) / (4/9) = -1/2. Per teacher pair
    // one comparison each: A|B both first, chance 1 -> no kappa; A|C first vs second, chance 0 -> 0.
    const f = t.figures();
    expect(f).toMatchObject({
      pairs: 1,
      comparisons: 3,
      agreeing: 1,
      fraction: 1 / 3,
      byTeachers: {
        'A|B': { comparisons: 1, agreeing: 1, fraction: 1, kappa: null },
        'A|C': { comparisons: 1, agreeing: 0, fraction: 0, kappa: 0 },
        'B|C': { comparisons: 1, agreeing: 0, fraction: 0, kappa: 0 },
      },
    });
    expect(f.kappa).toBeCloseTo(-0.5, 12);
    expect(Object.keys(f.byTeachers)).toEqual(['A|B', 'A|C', 'B|C']);
    // C's later label says first: all three agree now.
    t.add({ rowid: 4, pairId: 'p', teacher: 'C', verdict: 1, createdAt: 13 }, 'l4');
    // All first: chance 1, so no kappa.
    expect(t.figures()).toMatchObject({ pairs: 1, comparisons: 3, agreeing: 3, fraction: 1, kappa: null });
    // A label of B stored later but dated earlier than B's first one does not replace it.
    t.add({ rowid: 5, pairId: 'p', teacher: 'B', verdict: -1, createdAt: 9 }, 'l5');
    expect(t.figures()).toMatchObject({ comparisons: 3, agreeing: 3 });
    // Same date: the higher rowid wins.
    t.add({ rowid: 6, pairId: 'p', teacher: 'B', verdict: 0, createdAt: 10 }, 'l6');
    expect(t.figures()).toMatchObject({ comparisons: 3, agreeing: 1, byTeachers: { 'A|B': { comparisons: 1, agreeing: 0, fraction: 0 }, 'A|C': { comparisons: 1, agreeing: 1, fraction: 1 } } });
    expect(t).toMatchObject({ rows: 6, lastRowid: 6, lastId: 'l6' });
    expect(() => t.add({ rowid: 6, pairId: 'q', teacher: 'A', verdict: 1, createdAt: 20 }, 'l7')).toThrow(/rowid order/);
  });
});

describe('AgreementTally.addAll', () => {
  it('gives what feeding the rows one at a time gives, whatever the batches (seeded rows)', () => {
    // 6 pairs, 5 teachers, 120 rows: teachers relabel pairs, some later rows dated earlier, so the
    // "latest by created_at, then rowid" rule decides within a batch as well as across batches.
    const rng = new Rng(11);
    const rows: { row: { rowid: number; pairId: string; teacher: string; verdict: number; createdAt: number }; labelId: string }[] = [];
    for (let i = 1; i <= 120; i++) {
      rows.push({ row: { rowid: i, pairId: `p${rng.int(6)}`, teacher: 'ABCDE'[rng.int(5)], verdict: rng.int(3) - 1, createdAt: rng.int(40) }, labelId: `l${i}` });
    }
    const one = new AgreementTally();
    for (const r of rows) one.add(r.row, r.labelId);
    const all = new AgreementTally();
    all.addAll(rows);
    const chunked = new AgreementTally();
    for (let at = 0; at < rows.length; ) {
      const size = 1 + rng.int(30);
      chunked.addAll(rows.slice(at, at + size));
      at += size;
    }
    const want = one.figures();
    expect(want.comparisons).toBeGreaterThan(20);
    expectSameFigures(all.figures(), want, 'one batch');
    expectSameFigures(chunked.figures(), want, 'chunks');
    expect(all).toMatchObject({ rows: 120, lastRowid: 120, lastId: 'l120' });
    // totals() is figures() without the per-pair-of-teachers breakdown.
    const { byTeachers, ...totals } = want;
    expect(Object.keys(byTeachers).length).toBeGreaterThan(5);
    expect(all.totals()).toEqual({ ...totals, kappa: expect.any(Number) });
    expect(all.totals().kappa).toBeCloseTo(totals.kappa as number, 12);
    // A batch out of rowid order is refused like a single row.
    expect(() => all.addAll([{ row: { rowid: 121, pairId: 'p0', teacher: 'A', verdict: 1, createdAt: 0 }, labelId: 'x' }, { row: { rowid: 121, pairId: 'p1', teacher: 'A', verdict: 1, createdAt: 0 }, labelId: 'y' }])).toThrow(/row 121 after row 121/);
    // ... and leaves the tally as it was.
    expect(all).toMatchObject({ rows: 120, lastRowid: 120, lastId: 'l120' });
    expectSameFigures(all.figures(), want, 'after a refused batch');
  });
});

describe('agreement beyond chance (kappa)', () => {
  it('is Cohen\'s per teacher pair and Fleiss\' overall (hand-counted)', () => {
    const t = new AgreementTally();
    // A: first, first, second, equal; B: first, second, second, first (pairs p1..p4).
    const a = [1, 1, -1, 0];
    const b = [1, -1, -1, 1];
    let rowid = 0;
    for (let i = 0; i < 4; i++) {
      t.add({ rowid: ++rowid, pairId: `p${i}`, teacher: 'A', verdict: a[i], createdAt: 0 }, `a${i}`);
      t.add({ rowid: ++rowid, pairId: `p${i}`, teacher: 'B', verdict: b[i], createdAt: 0 }, `b${i}`);
    }
    const f = t.figures();
    // Agree on p1 and p3: observed 1/2. Cohen: A's shares (first, second, equal) 2/4, 1/4, 1/4;
    // B's 2/4, 2/4, 0: chance 1/4 + 1/8 = 3/8, kappa (1/2 - 3/8) / (5/8) = 1/5.
    expect(f.byTeachers['A|B'].fraction).toBe(0.5);
    expect(f.byTeachers['A|B'].kappa).toBeCloseTo(0.2, 12);
    // Fleiss: 8 verdicts, 4 first, 3 second, 1 equal: chance 26/64, kappa (3/32) / (19/32) = 3/19.
    expect(f.kappa).toBeCloseTo(3 / 19, 12);
  });
});

describe('LabelStore.agreement (incremental)', () => {
  it('equals a from-scratch count after every answer, undo and second-connection write (seeded)', () => {
    const path = join(dir, `${n++}-labels.sqlite`);
    const clock = new ManualClock();
    const store = LabelStore.open(path, { clock });
    const other = LabelStore.open(path, { clock });
    store.putPairs(pairs, { wanted: 4 });
    const rng = new Rng(11);
    const teachers = ['ann', 'bo', 'cy', 'di'];
    const stored: { id: string; teacher: string }[] = [];
    let undos = 0;
    let k = 0;
    for (let step = 0; step < 160; step++) {
      clock.advance(1 + rng.int(3));
      const u = rng.uniform();
      if (u < 0.2 && stored.length > 0) {
        // An undo (sometimes of the last label: its rowid goes to the next insert).
        const i = rng.uniform() < 0.5 ? stored.length - 1 : rng.int(stored.length);
        const [gone] = stored.splice(i, 1);
        expect(store.deleteLabel(gone.id, gone.teacher)).toBeDefined();
        undos++;
      } else {
        const teacher = teachers[rng.int(teachers.length)];
        const pair = pairs[rng.int(pairs.length)];
        const writer = rng.uniform() < 0.3 ? other : store;
        const probFirst = [0, 0.5, 1, 0.8][rng.int(4)];
        const id = `l${k++}`;
        const kind = rng.uniform() < 0.15 ? 'skip' : 'preference';
        try {
          writer.addLabels([kind === 'skip' ? { id, pairId: pair.id, teacher, kind, reason: 'unsure' } : { id, pairId: pair.id, teacher, kind, probFirst }]);
          stored.push({ id, teacher });
        } catch (e) {
          // A teacher labels a pair once: a second answer is refused, and nothing changes.
          expect((e as Error).name).toBe('SecondLabelError');
        }
      }
      if (step % 3 === 0 || step > 150) {
        const want = fromScratch(path);
        expectSameFigures(store.agreement(), want, `step ${step}`);
        const { byTeachers: _, ...totals } = want;
        expectSameFigures({ ...store.agreementTotals(), byTeachers: {} }, { ...totals, byTeachers: {} }, `step ${step} totals`);
      }
    }
    const final = store.agreement();
    expect(final.comparisons).toBeGreaterThan(10);
    expect(final.agreeing).toBeLessThan(final.comparisons);
    expect(undos).toBeGreaterThan(10);
    other.close();
    store.close();
  });

  it('starts over when an undone last label\'s rowid is reused by the next label (the row count alone would not tell)', () => {
    const path = join(dir, `${n++}-labels.sqlite`);
    const store = LabelStore.open(path, { clock: new ManualClock() });
    store.putPairs(pairs.slice(0, 2), { wanted: 2 });
    const [p1] = pairs.map((p) => p.id);
    store.addLabels([{ id: 'a', pairId: p1, teacher: 'A', kind: 'preference', probFirst: 1 }]);
    store.addLabels([{ id: 'b', pairId: p1, teacher: 'B', kind: 'preference', probFirst: 1 }]);
    expect(store.agreement()).toMatchObject({ pairs: 1, comparisons: 1, agreeing: 1 });
    const before = rowidOf(path, 'b');
    expect(store.deleteLabel('b', 'B')).toEqual({ pairId: p1 });
    store.addLabels([{ id: 'b2', pairId: p1, teacher: 'B', kind: 'preference', probFirst: 0 }]);
    // Same number of preference rows, and the new label under the undone one's rowid.
    expect(rowidOf(path, 'b2')).toBe(before);
    expect(store.agreement()).toMatchObject({ pairs: 1, comparisons: 1, agreeing: 0, fraction: 0 });
    expectSameFigures(store.agreement(), fromScratch(path), 'after');
    store.close();
  });

  it('counts a second label of a teacher on a pair by date, as the from-scratch rule does (rows written by another program)', () => {
    const path = join(dir, `${n++}-labels.sqlite`);
    const store = LabelStore.open(path, { clock: new ManualClock(Date.parse('2026-01-01T00:00:00Z')) });
    store.putPairs(pairs.slice(0, 1), { wanted: 2 });
    const p1 = pairs[0].id;
    store.addLabels([
      { id: 'a', pairId: p1, teacher: 'A', kind: 'preference', probFirst: 1 },
      { id: 'b', pairId: p1, teacher: 'B', kind: 'preference', probFirst: 1 },
    ]);
    expect(store.agreement()).toMatchObject({ comparisons: 1, agreeing: 1 });
    // Another program adds a second label for B, stored later but dated a day earlier: the
    // dated-later label stays B's latest. Then one dated a day later, which takes over.
    const db = new Database(path);
    const at = (id: string) => (db.prepare('SELECT created_at AS c FROM labels WHERE id = ?').get(id) as { c: number }).c;
    const put = db.prepare(`INSERT INTO labels (id, pair_id, teacher, kind, prob_first, created_at) VALUES (?, ?, 'B', 'preference', 0, ?)`);
    put.run('b-old', p1, at('b') - 86_400_000);
    expect(store.agreement()).toMatchObject({ comparisons: 1, agreeing: 1 });
    expectSameFigures(store.agreement(), fromScratch(path), 'after');
    put.run('b-new', p1, at('b') + 86_400_000);
    db.close();
    expect(store.agreement()).toMatchObject({ comparisons: 1, agreeing: 0 });
    expectSameFigures(store.agreement(), fromScratch(path), 'after');
    store.close();
  });
});
