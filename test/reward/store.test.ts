import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../core/clock.js';
import { InputError } from '../../core/errors.js';
import { Rng } from '../../core/rng.js';
import { randomPolicy, rollout } from '../../envs/rollout.js';
import { TOY_SPEC, ToyReachEnv } from '../../envs/toy.js';
import { cutSegments, makePair } from '../../reward/segments.js';
import { LabelStore, SecondLabelError } from '../../reward/store.js';
import type { Label, Pair, Segment } from '../../reward/types.js';
import { defaultContext, type Io } from '../../scripts/command.js';
import { labelsExportCommand, labelsImportCommand } from '../../scripts/commands/labels.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let dir: string;
let segments: Segment[];
let pairs: Pair[];
let n = 0;

function tmp(name = 'labels.sqlite'): string {
  return join(dir, `${n++}-${name}`);
}

function open(path = tmp(), clock = new ManualClock()): { store: LabelStore; clock: ManualClock; path: string } {
  return { store: LabelStore.open(path, { clock }), clock, path };
}

function pref(id: string, pairId: string, teacher: string, probFirst: number): Label {
  return { id, pairId, teacher, kind: 'preference', probFirst };
}

function bytes(a: Float32Array | Float64Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

const ARRAYS = ['obs', 'actions', 'rewards', 'terms', 'qpos', 'qvel', 'act', 'time', 'success'] as const;

function expectSameSegment(got: Segment | undefined, want: Segment): void {
  expect(got).toBeDefined();
  const g = got as Segment;
  for (const k of ARRAYS) {
    expect(g[k].constructor).toBe(want[k].constructor);
    expect(bytes(g[k]).equals(bytes(want[k])), k).toBe(true);
  }
  const scalars = ['id', 'envId', 'modelHash', 'obsDim', 'actDim', 'nTerms', 'nq', 'nv', 'na', 'length', 'startStep', 'endsTerminal', 'source'] as const;
  for (const k of scalars) expect(g[k], k).toBe(want[k]);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'prefrl-store-'));
  const env = new ToyReachEnv();
  const trajs = rollout(env, randomPolicy(TOY_SPEC, new Rng(3)), { episodes: 4, seed: 1 });
  env.dispose();
  segments = cutSegments(trajs, { length: 10, source: 'test' });
  pairs = [];
  for (let k = 0; k + 1 < segments.length; k += 2) pairs.push(makePair(segments[k], segments[k + 1]));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('LabelStore segments and pairs', () => {
  it('round-trips segments and pairs bit for bit (NaN payloads, -0, subnormals included)', () => {
    const { store, path } = open();
    const odd = new Float64Array(segments[0].rewards.length);
    const dv = new DataView(odd.buffer);
    dv.setBigUint64(0, 0x7ff8dead_beef0001n, true); // NaN with a payload
    odd[1] = -0;
    odd[2] = 5e-324;
    odd[3] = -Infinity;
    const success = Float32Array.from(segments[0].success);
    success[0] = Number.NaN;
    const special: Segment = { ...segments[0], id: 's-special', rewards: odd, success, endsTerminal: true, source: 'ünïcode/#7' };
    store.putSegments([special, ...segments]);
    store.putPairs(pairs, { round: 2 });
    store.close();

    const again = LabelStore.open(path, { envId: 'toy-reach', modelHash: 'toy-reach-v1' });
    expectSameSegment(again.getSegment('s-special'), special);
    for (const s of segments) expectSameSegment(again.getSegment(s.id), s);
    const p = again.getPair(pairs[1].id) as Pair;
    expect(p.id).toBe(pairs[1].id);
    expectSameSegment(p.a, pairs[1].a);
    expectSameSegment(p.b, pairs[1].b);
    expect(again.pairInfo(pairs[1].id)).toMatchObject({ round: 2, wanted: 1, segA: pairs[1].a.id, segB: pairs[1].b.id });
    expect(again.getPair('p-missing')).toBeUndefined();
    // The terms alone (one column): the stored terms bit for bit, with the segment's shape.
    for (const s of [special, ...segments]) {
      const t = again.segmentTerms(s.id);
      expect(t && { id: t.id, length: t.length, nTerms: t.nTerms }).toEqual({ id: s.id, length: s.length, nTerms: s.nTerms });
      const got = (t as { terms: Float64Array }).terms;
      expect(Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(Buffer.from(s.terms.buffer, s.terms.byteOffset, s.terms.byteLength))).toBe(true);
    }
    expect(again.segmentTerms('s-missing')).toBeUndefined();
    again.close();
  });

  it('puts are idempotent on ids and keep the first round / wanted', () => {
    const { store } = open();
    expect(store.mostWanted()).toBe(1); // no pairs yet
    expect(store.putSegments(segments)).toEqual({ added: segments.length, existing: 0 });
    expect(store.putSegments(segments)).toEqual({ added: 0, existing: segments.length });
    expect(store.putPairs(pairs.slice(0, 1), { round: 1, wanted: 3 })).toEqual({ added: 1, existing: 0 });
    expect(store.putPairs(pairs, { round: 1, wanted: 2 })).toEqual({ added: pairs.length - 1, existing: 1 });
    expect(store.mostWanted()).toBe(3);
    expect(store.pairInfo(pairs[0].id)).toMatchObject({ round: 1, wanted: 3 });
    expect(store.putPairs(pairs, { round: 5 })).toEqual({ added: 0, existing: pairs.length });
    expect(store.pairInfo(pairs[1].id)).toMatchObject({ round: 1, wanted: 2 });
    const c = store.counts();
    expect(c.segments).toBe(segments.length);
    expect(c.pairs).toBe(pairs.length);
    expect(c.pending).toBe(pairs.length);
    store.close();
  });

  it('refuses a segment of another env and a pair id naming other segments', () => {
    const { store } = open();
    store.putPairs(pairs);
    expect(() => store.putSegments([{ ...segments[0], id: 's-other', envId: 'cheetah-run' }])).toThrow(/cheetah-run/);
    expect(() => store.putPairs([{ id: pairs[0].id, a: pairs[0].b, b: pairs[0].a }])).toThrow(/stored with segments/);
    expect(store.counts().pairs).toBe(pairs.length);
    store.close();
  });
});

describe('LabelStore labels', () => {
  it('adds a batch once; re-sent labels are not stored twice and do not error', () => {
    const { store } = open();
    store.putPairs(pairs);
    const batch: Label[] = [
      pref('l1', pairs[0].id, 'alice', 1),
      { id: 'l2', pairId: pairs[1].id, teacher: 'alice', kind: 'skip', reason: 'cannot tell', responseMs: 1234, comment: 'both fall', raw: '{"k":1}' },
      pref('l3', pairs[2].id, 'bob', 0.5),
    ];
    expect(store.addLabels(batch)).toEqual({ added: 3, duplicates: 0 });
    expect(store.addLabels(batch)).toEqual({ added: 0, duplicates: 3 });
    expect(store.addLabels([batch[0], pref('l4', pairs[3].id, 'bob', 0)])).toEqual({ added: 1, duplicates: 1 });
    const c = store.counts();
    // bob's 0.5 is a tie: counted among the preferences and in ties.
    expect(c).toMatchObject({ labels: 4, preferences: 3, ties: 1, skips: 1, pending: pairs.length - 4 });
    expect(c.perTeacher).toEqual({ alice: { labels: 2, preferences: 1, ties: 0, skips: 1 }, bob: { labels: 2, preferences: 2, ties: 1, skips: 0 } });
    expect(store.getLabel('l2')).toMatchObject({ kind: 'skip', reason: 'cannot tell', responseMs: 1234, comment: 'both fall', raw: '{"k":1}' });
    expect(store.teachers().map((t) => [t.id, t.kind])).toEqual([
      ['alice', 'unknown'],
      ['bob', 'unknown'],
    ]);
    store.close();
  });

  it('a batch is all or nothing: a conflicting id, an unknown pair or a bad value stores none of it', () => {
    const { store } = open();
    store.putPairs(pairs);
    store.addLabels([pref('a', pairs[0].id, 't', 1)]);
    expect(() => store.addLabels([pref('b', pairs[1].id, 't', 1), pref('a', pairs[0].id, 't', 0)])).toThrow(/different content/);
    expect(() => store.addLabels([pref('c', pairs[1].id, 't', 1), pref('d', 'p-nope', 't', 1)])).toThrow(/p-nope/);
    expect(() => store.addLabels([pref('e', pairs[1].id, 't', 1.5)])).toThrow(/probFirst/);
    expect(store.counts().labels).toBe(1);
    store.close();
  });

  it('a teacher labels a pair once: a second label under another id, stored or in the same batch, stores none of the batch', () => {
    const { store } = open();
    store.putPairs(pairs);
    store.addLabels([pref('a', pairs[0].id, 't', 1)]);
    let err: unknown;
    try {
      store.addLabels([pref('b', pairs[1].id, 't', 1), { id: 'c', pairId: pairs[0].id, teacher: 't', kind: 'skip', reason: 'unsure' }]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SecondLabelError);
    expect((err as SecondLabelError).firstLabelId).toBe('a');
    expect((err as Error).message).toBe(`LabelStore.addLabels: teacher t already labelled pair ${pairs[0].id} (label a); label c would be a second answer, and a teacher labels a pair once`);
    expect(() => store.addLabels([pref('d', pairs[2].id, 'u', 1), pref('e', pairs[2].id, 'u', 0)])).toThrow(SecondLabelError);
    expect(store.labels().map((l) => l.id)).toEqual(['a']);
    // Another teacher on the same pair, and a re-sent identical label, are fine.
    expect(store.addLabels([pref('f', pairs[0].id, 'u', 0), pref('a', pairs[0].id, 't', 1)])).toEqual({ added: 1, duplicates: 1 });
    store.close();
  });

  it('labelledPairs returns pairs with their preference labels (skips on request)', () => {
    const { store, clock } = open();
    store.putPairs(pairs.slice(0, 2), { round: 0 });
    store.putPairs(pairs.slice(2, 4), { round: 1 });
    store.addLabels([pref('x1', pairs[2].id, 'a', 1)]);
    clock.advance(1000);
    store.addLabels([pref('x2', pairs[0].id, 'a', 0), pref('x3', pairs[0].id, 'b', 0.5), { id: 'x4', pairId: pairs[1].id, teacher: 'a', kind: 'skip', reason: 'r' }]);
    const lp = store.labelledPairs();
    expect(lp.map((e) => [e.pair.id, e.round, e.labels.map((l) => l.id)])).toEqual([
      [pairs[0].id, 0, ['x2', 'x3']],
      [pairs[2].id, 1, ['x1']],
    ]);
    expectSameSegment(lp[0].pair.a, pairs[0].a);
    expect(lp[0].labels[0].createdAt).toBe('2026-01-01T00:00:01.000Z');
    expect(store.labelledPairs({ includeSkips: true }).map((e) => e.pair.id)).toEqual([pairs[0].id, pairs[1].id, pairs[2].id]);
    expect(store.labelledPairs({ round: 1 }).map((e) => e.pair.id)).toEqual([pairs[2].id]);
    expect(store.pendingPairs().map((p) => p.id)).toEqual([pairs[3].id]);
    // labelledPairIds: the same ids in the same order, without the labels or segments.
    expect(store.labelledPairIds()).toEqual([pairs[0].id, pairs[2].id]);
    expect(store.labelledPairIds({ includeSkips: true })).toEqual([pairs[0].id, pairs[1].id, pairs[2].id]);
    expect(store.labelledPairIds({ round: 1 })).toEqual([pairs[2].id]);
    expect(store.labelledPairIds({ round: 0, includeSkips: true })).toEqual([pairs[0].id, pairs[1].id]);
    store.close();
  });
});

describe('LabelStore leases', () => {
  const LEASE = 60_000;

  it('hands different pairs to concurrent teachers, resumes a held lease, and expires leases', () => {
    const { store, clock } = open();
    const three = pairs.slice(0, 3);
    store.putPairs(three);
    const a1 = store.nextPairFor('alice', { leaseMs: LEASE });
    const b1 = store.nextPairFor('bob', { leaseMs: LEASE });
    expect(a1?.pair.id).toBe(three[0].id);
    expect(b1?.pair.id).toBe(three[1].id);
    expect(a1?.expiresAt).toBe(Date.UTC(2026, 0, 1) + LEASE);
    // A reloaded page gets the pair it holds.
    expect(store.nextPairFor('alice', { leaseMs: LEASE })?.pair.id).toBe(three[0].id);
    const c1 = store.nextPairFor('carol', { leaseMs: LEASE });
    expect(c1?.pair.id).toBe(three[2].id);
    expect(store.nextPairFor('dave', { leaseMs: LEASE })).toBeNull();
    expect(store.counts().activeLeases).toBe(3);

    // Alice labels hers; the lease ends with the label and she moves on: nothing free.
    store.addLabels([pref('la', three[0].id, 'alice', 1)]);
    expect(store.nextPairFor('alice', { leaseMs: LEASE })).toBeNull();
    // Bob's lease runs out: his pair goes to dave.
    clock.advance(LEASE / 2);
    expect(store.nextPairFor('carol', { leaseMs: LEASE })?.pair.id).toBe(three[2].id); // carol renews hers
    clock.advance(LEASE / 2 + 1);
    expect(store.nextPairFor('dave', { leaseMs: LEASE })?.pair.id).toBe(three[1].id);
    // Carol gives hers back; alice can take it.
    expect(store.releaseLease('carol', three[2].id)).toBe(true);
    expect(store.releaseLease('carol', three[2].id)).toBe(false);
    expect(store.nextPairFor('alice', { leaseMs: LEASE })?.pair.id).toBe(three[2].id);
    store.close();
  });

  it('with wanted = 2 two teachers get the same pair and a third gets the next', () => {
    const { store } = open();
    store.putPairs(pairs.slice(0, 2), { wanted: 2 });
    const a = store.nextPairFor('alice', { leaseMs: LEASE });
    const b = store.nextPairFor('bob', { leaseMs: LEASE });
    const c = store.nextPairFor('carol', { leaseMs: LEASE });
    expect(a?.pair.id).toBe(pairs[0].id);
    expect(b?.pair.id).toBe(pairs[0].id);
    expect(c?.pair.id).toBe(pairs[1].id);
    store.addLabels([pref('1', pairs[0].id, 'alice', 1), pref('2', pairs[0].id, 'bob', 0)]);
    expect(store.counts().pending).toBe(1);
    expect(store.nextPairFor('dave', { leaseMs: LEASE })?.pair.id).toBe(pairs[1].id);
    expect(store.nextPairFor('erin', { leaseMs: LEASE })).toBeNull();
    store.close();
  });

  it('never hands one teacher the same pair twice', () => {
    const { store } = open();
    store.putPairs(pairs, { wanted: 3 });
    for (const t of ['alice', 'bob']) {
      const seen = new Set<string>();
      for (let k = 0; ; k++) {
        const got = store.nextPairFor(t, { leaseMs: LEASE });
        if (!got) break;
        expect(seen.has(got.pair.id)).toBe(false);
        seen.add(got.pair.id);
        store.addLabels([k % 4 === 0 ? { id: `${t}-${k}`, pairId: got.pair.id, teacher: t, kind: 'skip', reason: 'unsure' } : pref(`${t}-${k}`, got.pair.id, t, 1)]);
      }
      expect(seen.size).toBe(pairs.length);
    }
    expect(store.counts().pending).toBe(pairs.length);
    store.close();
  });
});

describe('LabelStore agreement', () => {
  it('is the fraction of agreeing teacher pairs on pairs with >= 2 preferences (hand-made case)', () => {
    const { store } = open();
    store.putPairs(pairs.slice(0, 4), { wanted: 3 });
    const [p1, p2, p3, p4] = pairs.map((p) => p.id);
    store.addLabels([
      pref('1', p1, 'A', 0.9),
      pref('2', p1, 'B', 1),
      pref('3', p1, 'C', 0),
      pref('4', p2, 'A', 0.5),
      pref('5', p2, 'B', 0.5),
      pref('6', p3, 'A', 1),
      pref('7', p4, 'A', 0),
      { id: '8', pairId: p4, teacher: 'B', kind: 'skip', reason: 'unsure' },
    ]);
    // p1: A first, B first, C second -> AB agree, AC and BC disagree. p2: A and B equal -> agree.
    // p3 has one teacher, p4 one preference (B skipped): not counted.
    const ag = store.agreement();
    expect(ag).toMatchObject({ pairs: 2, comparisons: 4, agreeing: 2, fraction: 0.5 });
    // Beyond chance: verdicts on p1, p2 are 2 first, 1 second, 2 equal, chance 9/25, kappa
    // (1/2 - 9/25) / (16/25) = 7/32. A|B: each first once, equal once, chance 1/2, kappa 1;
    // A|C and B|C: first against second, chance 0, kappa 0.
    expect(ag.kappa).toBeCloseTo(7 / 32, 12);
    expect(ag.byTeachers).toEqual({
      'A|B': { comparisons: 2, agreeing: 2, fraction: 1, kappa: 1 },
      'A|C': { comparisons: 1, agreeing: 0, fraction: 0, kappa: 0 },
      'B|C': { comparisons: 1, agreeing: 0, fraction: 0, kappa: 0 },
    });
    store.close();
    const empty = open().store;
    expect(empty.agreement()).toMatchObject({ pairs: 0, comparisons: 0, fraction: null, kappa: null });
    empty.close();
  });
});

describe('LabelStore JSONL', () => {
  it('export -> import into a fresh store gives the same labels; importing again adds nothing', () => {
    const { store, clock } = open();
    store.putPairs(pairs);
    store.addLabels([pref('j1', pairs[0].id, 'alice', 1), { id: 'j2', pairId: pairs[1].id, teacher: 'vlm', kind: 'skip', reason: 'unsure', raw: 'line1\nline2 "q"' }]);
    clock.advance(5000);
    store.addLabels([{ ...pref('j3', pairs[2].id, 'alice', 0.5), responseMs: 3100.5, comment: 'close call' }]);
    const out = tmp('labels.jsonl');
    expect(store.exportJsonl(out)).toBe(3);
    expect(readFileSync(out, 'utf8').trim().split('\n')).toHaveLength(3);

    const fresh = open(tmp(), new ManualClock(999_999)).store;
    fresh.putPairs(pairs);
    expect(fresh.importJsonl(out)).toEqual({ lines: 3, added: 3, duplicates: 0, sameTeacher: 0, conflicts: 0, firstConflictPair: null });
    expect(fresh.labels()).toEqual(store.labels());
    expect(fresh.importJsonl(out)).toEqual({ lines: 3, added: 0, duplicates: 3, sameTeacher: 0, conflicts: 0, firstConflictPair: null });
    expect(fresh.counts().labels).toBe(3);
    store.close();
    fresh.close();
  });

  it('names the file and line number of a bad line and stores nothing', () => {
    const { store } = open();
    store.putPairs(pairs);
    const good = JSON.stringify(pref('g1', pairs[0].id, 'a', 1));
    const cases: [string, RegExp][] = [
      [`${good}\n\n{"id": "g2", "pairId": "${pairs[1].id}"`, /line 3\): invalid JSON/],
      [`${good}\n${JSON.stringify(pref('g2', pairs[1].id, 'a', 2))}`, /line 2\): probFirst must be a number in \[0, 1\], got 2/],
      [`${good}\n${JSON.stringify({ ...pref('g2', pairs[1].id, 'a', 1), extra: 1 })}`, /line 2\): unknown key "extra"/],
      [`${good}\n${JSON.stringify(pref('g2', 'p-unknown', 'a', 1))}`, /line 2\): pair p-unknown is not in the store/],
      [`${good}\n${JSON.stringify({ id: 'g2', pairId: pairs[1].id, teacher: 'a', kind: 'tie' })}`, /line 2\): kind must be/],
      [`${good}\n[1, 2]`, /line 2\): expected a JSON object/],
      [`${good}\n${JSON.stringify(pref('g1', pairs[0].id, 'a', 0))}`, /line 2\): label id g1 appears again with different content \(first on line 1\)/],
    ];
    for (const [text, re] of cases) {
      const f = tmp('bad.jsonl');
      writeFileSync(f, text);
      let err: unknown;
      try {
        store.importJsonl(f);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InputError);
      expect((err as Error).message).toContain(f);
      expect((err as Error).message).toMatch(re);
    }
    expect(store.counts().labels).toBe(0);
    expect(() => store.importJsonl(join(dir, 'missing.jsonl'))).toThrow(/missing\.jsonl: cannot read file/);
    store.close();
  });

  it('labels export / import commands print one JSON line', async () => {
    const { store, path } = open();
    store.putPairs(pairs);
    store.addLabels([pref('c1', pairs[0].id, 'a', 1), pref('c2', pairs[1].id, 'a', 0)]);
    store.close();
    const target = open().store;
    target.putPairs(pairs);
    const targetPath = target.path;
    target.close();
    const out = tmp('cmd.jsonl');
    const run = async (cmd: typeof labelsExportCommand, argv: string[]) => {
      let stdout = '';
      const io: Io = { stdout: { write: (t) => void (stdout += t) }, stderr: { write: () => undefined }, tty: false };
      const code = await cmd.run(argv, defaultContext(io));
      return { code, lines: stdout.trim().split('\n') };
    };
    const ex = await run(labelsExportCommand, ['--store', path, '--out', out, '--json']);
    expect(ex.code).toBe(0);
    expect(ex.lines).toHaveLength(1);
    expect(JSON.parse(ex.lines[0])).toEqual({ store: path, out, labels: 2 });
    const im = await run(labelsImportCommand, ['--store', targetPath, '--in', out, '--json']);
    expect(JSON.parse(im.lines[0])).toEqual({ store: targetPath, in: out, lines: 2, added: 2, duplicates: 0, sameTeacher: 0, conflicts: 0, firstConflictPair: null, labels: 2 });
    await expect(run(labelsImportCommand, ['--store', targetPath, '--in', out, '--bogus'])).rejects.toMatchObject({ exitCode: 2 });
    await expect(run(labelsExportCommand, ['--store', join(dir, 'nope.sqlite'), '--out', out])).rejects.toThrow(/^--store: .*nope\.sqlite not found \(a label store/);
  });
});

describe('LabelStore bad files', () => {
  function openError(path: string, opts = {}): Error {
    try {
      LabelStore.open(path, opts).close();
    } catch (e) {
      return e as Error;
    }
    throw new Error('expected open() to fail');
  }

  it('rejects a file that is not SQLite, naming it', () => {
    const f = tmp('garbage.sqlite');
    writeFileSync(f, Buffer.from('this is certainly not a database file, just some text that is long enough '.repeat(20)));
    const e = openError(f);
    expect(e).toBeInstanceOf(InputError);
    expect(e.message).toMatch(new RegExp(`^${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not a SQLite database`));
  });

  it('rejects a SQLite file that is not a label store, a newer schema and another env', () => {
    const other = tmp('other.sqlite');
    const db = new Database(other);
    db.exec('CREATE TABLE things (x INTEGER)');
    db.close();
    expect(openError(other).message).toMatch(/other\.sqlite: a SQLite database but not a prefrl label store/);

    const { store, path } = open();
    store.putSegments(segments.slice(0, 1));
    store.close();
    const raw = new Database(path);
    raw.prepare("UPDATE meta SET value = '7' WHERE key = 'schema_version'").run();
    raw.close();
    const e = openError(path);
    expect(e).toBeInstanceOf(InputError);
    expect(e.message).toContain(path);
    expect(e.message).toMatch(/schema version 7 is newer than this prefrl supports \(2\)/);

    const p2 = open().path;
    LabelStore.open(p2).putSegments(segments.slice(0, 1));
    const e2 = openError(p2, { envId: 'cheetah-run' });
    expect(e2).toBeInstanceOf(InputError);
    expect(e2.message).toMatch(/store is for env id "toy-reach", expected "cheetah-run"/);
    expect(e2.message).toContain(p2);
    LabelStore.open(p2, { envId: 'toy-reach' }).close();
    // Another model hash: a bring-your-own model's (custom:) message says what its hash covers.
    const p3 = open().path;
    LabelStore.open(p3, { envId: 'custom:arm.xml', modelHash: 'aaaa' }).close();
    expect(openError(p3, { envId: 'custom:arm.xml', modelHash: 'bbbb' }).message).toMatch(/store is for model hash "aaaa", expected "bbbb" \(a model file's hash covers the files of its folder: .*an edit to any of them changes it\)$/);
    const p4 = open().path;
    LabelStore.open(p4, { envId: 'reacher', modelHash: 'aaaa' }).close();
    expect(openError(p4, { envId: 'reacher', modelHash: 'bbbb' }).message).toMatch(/store is for model hash "aaaa", expected "bbbb"$/);
  });

  it('records the expected env in a new store and refuses segments of another env', () => {
    const s = LabelStore.open(tmp(), { envId: 'cheetah-run' });
    expect(s.envId()).toBe('cheetah-run');
    expect(() => s.putSegments(segments.slice(0, 1))).toThrow(/toy-reach/);
    s.close();
  });
});

describe('LabelStore crash safety', () => {
  it('keeps every acknowledged label when the writer is killed with SIGKILL', async () => {
    const path = tmp('crash.sqlite');
    const s = LabelStore.open(path);
    s.putPairs(pairs);
    s.close();
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/reward/fixtures/crash_writer.ts'), path, '25'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const acked: string[] = [];
    let stderr = '';
    let buf = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`crash writer did not start or write: ${stderr}`)), 20_000);
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        const lines = buf.split('\n');
        buf = lines.pop() ?? '';
        for (const l of lines) if (l.startsWith('crash-')) acked.push(l);
        // Kill mid-run, after a good number of committed batches.
        if (acked.length >= 1000) {
          clearTimeout(timer);
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.on('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    expect(await exited).toBe('SIGKILL');
    expect(acked.length).toBeGreaterThanOrEqual(1000);

    const store = LabelStore.open(path, { create: false });
    expect(store.integrityCheck()).toBe('ok');
    const stored = new Set(store.labels().map((l) => l.id));
    const missing = acked.filter((id) => !stored.has(id));
    expect(missing).toEqual([]);
    // Batches are atomic: the store holds whole batches of 25 only.
    expect(stored.size % 25).toBe(0);
    expect(stored.size).toBeGreaterThanOrEqual(acked.length);
    store.close();
  }, 30_000);
});

describe('a store whose disk is full', () => {
  it("names itself in SQLite's refusal (its message names no file), once, with the code; what it held is kept and still read", () => {
    const { store, path } = open();
    try {
      store.putPairs(pairs.slice(0, 1));
      // SQLite's own limit on the file's pages stands in for a full disk: the same SQLITE_FULL.
      const db = (store as unknown as { db: Database.Database }).db;
      db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
      let thrown: unknown;
      try {
        store.putPairs(pairs.slice(1));
      } catch (e) {
        thrown = e;
      }
      expect((thrown as Error).message).toBe(`label store ${path}: database or disk is full (SQLITE_FULL)`);
      expect((thrown as { code?: string }).code).toBe('SQLITE_FULL');
      expect(store.counts().pairs).toBe(1);
    } finally {
      store.close();
    }
  });
});
