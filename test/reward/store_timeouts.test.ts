/**
 * The human teacher's timeout skips are not answers (reward/store.ts header): a pair nobody
 * answered in time stays open for people (`serve`), for `pendingPairs` (a resumed offline run)
 * and in the counts, and is handed out after the pairs never asked; a person's deliberate skip
 * still answers the pair. A timeout is told by the label's structured `timeout` field (exported
 * and imported with it), not by the wording of its reason: an imported skip whose reason merely
 * ends like the human teacher's is an answer. Stores written before the field read their human
 * teacher's timeout skips as timeouts.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../core/clock.js';
import { Rng } from '../../core/rng.js';
import { randomPolicy, rollout } from '../../envs/rollout.js';
import { TOY_SPEC, ToyReachEnv } from '../../envs/toy.js';
import { cutSegments, makePair } from '../../reward/segments.js';
import { isTimeoutSkip, LabelStore } from '../../reward/store.js';
import type { Label, Pair } from '../../reward/types.js';
import { writeV1Store } from './store_v1.js';

const LEASE = 60_000;
let dir = '';
let pairs: Pair[] = [];
let n = 0;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'prefrl-timeouts-'));
  const env = new ToyReachEnv();
  const trajs = rollout(env, randomPolicy(TOY_SPEC, new Rng(5)), { episodes: 4, seed: 2 });
  env.dispose();
  const segments = cutSegments(trajs, { length: 10, source: 'test' });
  for (let i = 0; i + 1 < segments.length && pairs.length < 4; i += 2) pairs.push(makePair(segments[i], segments[i + 1]));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function open(): LabelStore {
  const s = LabelStore.open(join(dir, `${n++}.sqlite`), { clock: new ManualClock() });
  s.putPairs(pairs);
  return s;
}

/** The skip the human teacher stores when nobody answered within 3 s (the text stores already hold). */
const timeout = (pairId: string): Label => ({ id: `t-${pairId}`, pairId, teacher: 'human', kind: 'skip', reason: 'no answer within 3 s (human teacher timeout)' });

describe('timeout skips are not answers', () => {
  it('isTimeoutSkip reads the structured timeout field, not the wording of the reason', () => {
    expect(isTimeoutSkip({ kind: 'skip', reason: 'no answer within 900 s (human teacher timeout)', timeout: true })).toBe(true);
    expect(isTimeoutSkip({ kind: 'skip', reason: 'no answer within 900 s (human teacher timeout)' })).toBe(false);
    expect(isTimeoutSkip({ kind: 'skip', reason: 'no answer within 900 s (human teacher timeout)', timeout: false })).toBe(false);
    expect(isTimeoutSkip({ kind: 'skip', reason: "can't tell (viewer)" })).toBe(false);
    expect(isTimeoutSkip({ kind: 'skip', reason: 'both segments below 10% of the average return' })).toBe(false);
    expect(isTimeoutSkip({ kind: 'preference' })).toBe(false);
  });

  it('a timed-out pair stays pending and waiting for people; a person\'s skip and preference answer theirs', () => {
    const store = open();
    try {
      const [p0, p1, p2, p3] = pairs.map((p) => p.id);
      store.putTeacher({ id: 'human:ada', kind: 'human' });
      store.addLabels([
        timeout(p0),
        { id: 'a1', pairId: p1, teacher: 'human:ada', kind: 'skip', reason: "can't tell (viewer)" },
        { id: 'a2', pairId: p2, teacher: 'human:ada', kind: 'preference', probFirst: 1 },
      ]);
      // 4 pairs, 3 label rows: 2 skips, 1 of them a timeout. Open: p0 (timed out) and p3 (never asked).
      expect(store.counts()).toMatchObject({ pairs: 4, labels: 3, preferences: 1, skips: 2, timeouts: 1, pending: 2, waitingForPeople: 2, unlabelled: 2 });
      // Never-asked pairs first, then the timed-out ones (each group in round, insertion order).
      expect(store.pendingPairs().map((p) => p.id)).toEqual([p3, p0]);
      expect(store.pendingPairs({ limit: 1 }).map((p) => p.id)).toEqual([p3]);
      expect(store.nextPairFor('human:bo', { leaseMs: LEASE })?.pair.id).toBe(p3);
      expect(store.nextPairFor('human:cy', { leaseMs: LEASE })?.pair.id).toBe(p0);
      // ada answered p1 and p2 (the skip included) and bo and cy hold p3 and p0: nothing left for dee.
      expect(store.nextPairFor('human:dee', { leaseMs: LEASE })).toBeNull();
      // cy answers the timed-out pair: it is answered, the timeout stays stored beside the answer.
      store.addLabels([{ id: 'c0', pairId: p0, teacher: 'human:cy', kind: 'preference', probFirst: 0 }]);
      expect(store.counts()).toMatchObject({ labels: 4, timeouts: 1, pending: 1, waitingForPeople: 1, unlabelled: 1 });
      expect(store.pendingPairs().map((p) => p.id)).toEqual([p3]);
    } finally {
      store.close();
    }
  });

  it('people get the newest round first and timed-out pairs last, so a live run\'s current batch goes before pairs an interrupted round left open', () => {
    const s = LabelStore.open(join(dir, `${n++}.sqlite`), { clock: new ManualClock() });
    try {
      const [p0, p1, p2, p3] = pairs.map((p) => p.id);
      s.putPairs(pairs.slice(0, 2), { round: 0 }); // an interrupted round: never answered, never timed out
      s.putPairs(pairs.slice(2, 4), { round: 1 });
      s.addLabels([timeout(p3)]);
      // Not timed out: p2 (round 1), then p0, p1 (round 0); then the timed-out p3.
      const order = ['ann', 'ben', 'cat', 'dan'].map((who) => s.nextPairFor(`human:${who}`, { leaseMs: LEASE })?.pair.id);
      expect(order).toEqual([p2, p0, p1, p3]);
      // Bulk labelling keeps its order: oldest round first, timed-out pairs last.
      expect(s.pendingPairs().map((p) => p.id)).toEqual([p0, p1, p2, p3]);
    } finally {
      s.close();
    }
  });

  it('a store exported with timeout skips and imported again reads the same (the structured timeout field carries the rule)', () => {
    const a = open();
    const b = open();
    const file = join(dir, 'labels.jsonl');
    try {
      a.addLabels([timeout(pairs[0].id), timeout(pairs[1].id)]);
      expect(a.labels().map((l) => l.timeout)).toEqual([true, true]);
      expect(a.exportJsonl(file)).toBe(2);
      expect(readFileSync(file, 'utf8').split('\n').filter((x) => x !== '').map((x) => (JSON.parse(x) as { timeout?: boolean }).timeout)).toEqual([true, true]);
      expect(b.importJsonl(file)).toMatchObject({ added: 2 });
      expect(b.counts()).toMatchObject({ labels: 2, skips: 2, timeouts: 2, pending: 4, waitingForPeople: 4, unlabelled: 4 });
      // Again: nothing new, and the same labels.
      expect(b.importJsonl(file)).toMatchObject({ added: 0, duplicates: 2 });
    } finally {
      a.close();
      b.close();
    }
  });

  it('an imported skip of a person whose reason merely ends with the timeout words is an answer; "timeout": true marks a timeout, and so does the human teacher\'s own skip of an export made before the field', () => {
    const c = open();
    const file = join(dir, 'imported.jsonl');
    try {
      const lines = [
        { id: 'i0', pairId: pairs[0].id, teacher: 'human:ada', kind: 'skip', reason: 'I waited, then gave up (human teacher timeout)', createdAt: '2026-12-01T00:00:00.000Z' },
        { id: 'i1', pairId: pairs[1].id, teacher: 'human', kind: 'skip', reason: 'no answer within 3 s (human teacher timeout)', createdAt: '2026-12-01T00:00:01.000Z' },
        { id: 'i2', pairId: pairs[2].id, teacher: 'human', kind: 'skip', reason: 'no answer within 3 s (human teacher timeout)', timeout: true, createdAt: '2026-12-01T00:00:02.000Z' },
      ];
      writeFileSync(file, lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
      expect(c.importJsonl(file)).toMatchObject({ added: 3 });
      // i0 (a person's skip) answers its pair; i1 (the human teacher's, exported before the field) and i2 are timeouts: p1, p2 and the never-labelled p3 stay open.
      expect(c.counts()).toMatchObject({ labels: 3, skips: 3, timeouts: 2, pending: 3, unlabelled: 3 });
      expect(c.pendingPairs().map((p) => p.id)).toEqual([pairs[3].id, pairs[1].id, pairs[2].id]);
      // A timeout on a preference, or a timeout that is not true or false, is refused naming the line.
      writeFileSync(file, `${JSON.stringify({ id: 'i3', pairId: pairs[3].id, teacher: 'human', kind: 'preference', probFirst: 1, timeout: true })}\n`);
      expect(() => c.importJsonl(file)).toThrow(`${file} (line 1): only a skip can be a timeout`);
      writeFileSync(file, `${JSON.stringify({ id: 'i3', pairId: pairs[3].id, teacher: 'human', kind: 'skip', reason: 'x', timeout: 'yes' })}\n`);
      expect(() => c.importJsonl(file)).toThrow(`${file} (line 1): timeout must be true or false, got "yes"`);
      expect(c.counts().labels).toBe(3);
    } finally {
      c.close();
    }
  });

  it('a store written before the timeout field reads its human teacher\'s timeout skips as timeouts (and only those)', () => {
    const made = join(dir, `${n++}-new.sqlite`);
    const s = LabelStore.open(made, { clock: new ManualClock() });
    s.putPairs(pairs);
    s.close();
    // A version-1 store (the field came in version 1), its labels table as stores before the field hold it: no timeout column.
    const path = join(dir, `${n++}-old.sqlite`);
    writeV1Store(made, path);
    const db = new Database(path);
    db.exec('ALTER TABLE labels DROP COLUMN timeout');
    const ins = db.prepare("INSERT INTO labels (id, pair_id, teacher, kind, reason, created_at) VALUES (?, ?, ?, 'skip', ?, 0)");
    db.prepare("INSERT INTO teachers (id, kind) VALUES ('human', 'human'), ('human:ada', 'human')").run();
    ins.run('t0', pairs[0].id, 'human', 'no answer within 60 s (human teacher timeout)');
    ins.run('a1', pairs[1].id, 'human:ada', 'my own words (human teacher timeout)');
    db.close();
    const old = LabelStore.open(path, { create: false });
    try {
      expect(old.counts()).toMatchObject({ labels: 2, skips: 2, timeouts: 1, pending: 3, unlabelled: 3 });
      expect(old.labels().map((l) => [l.id, l.timeout])).toEqual([
        ['t0', true],
        ['a1', undefined],
      ]);
    } finally {
      old.close();
    }
    // Opened again (already migrated): the same.
    const again = LabelStore.open(path, { create: false });
    expect(again.counts()).toMatchObject({ timeouts: 1, pending: 3 });
    again.close();
  });

  it('a label locked as passed to training cannot be undone; a store made before the lock column gets it with every label unlocked', () => {
    const path = join(dir, `${n++}-lock.sqlite`);
    const s = LabelStore.open(path, { clock: new ManualClock() });
    s.putPairs(pairs);
    s.putTeacher({ id: 'human:ada', kind: 'human' });
    const answer = (id: string, pair: Pair): Label => ({ kind: 'preference', id, pairId: pair.id, teacher: 'human:ada', probFirst: 1 });
    s.addLabels([answer('h-1', pairs[0]), answer('h-2', pairs[1])]);
    s.lockLabels(['h-1', 'h-unknown']);
    expect(() => s.deleteLabel('h-1', 'human:ada')).toThrow('label h-1 was passed to training and cannot be undone');
    expect(s.getLabel('h-1')).toMatchObject({ kind: 'preference' });
    expect(s.deleteLabel('h-2', 'human:ada')).toEqual({ pairId: pairs[1].id });
    s.close();
    // The labels table as stores before the lock hold it: no locked column.
    const db = new Database(path);
    db.exec('ALTER TABLE labels DROP COLUMN locked');
    db.close();
    const old = LabelStore.open(path, { create: false });
    try {
      expect(old.deleteLabel('h-1', 'human:ada')).toEqual({ pairId: pairs[0].id });
      old.addLabels([answer('h-3', pairs[2])]);
      old.lockLabels(['h-3']);
      expect(() => old.deleteLabel('h-3', 'human:ada')).toThrow(/passed to training/);
    } finally {
      old.close();
    }
  });
});
