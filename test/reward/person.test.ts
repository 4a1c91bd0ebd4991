/**
 * Who is a person: the TS predicate `isPerson`, the store's SQL (which calls it as a registered
 * function) and the rule the store's triggers spell out in plain SQL agree on every case, and the
 * store's people-only figures (waiting for people, the people's audience of `nextPairFor`)
 * follow it.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { isPerson, isPersonId, LabelStore } from '../../reward/store.js';
import { labelId } from '../../reward/teachers/synthetic.js';
import type { Label, Pair } from '../../reward/types.js';
import { storeWith } from '../helpers/store.js';
import { makePairs } from '../viewer/helpers.js';

/** [teacher id, kind it is registered with (null: not registered), a person?] */
const CASES: readonly [string, string | null, boolean][] = [
  ['human', null, true],
  ['human:alice', null, true],
  ['human:alice', 'human', true],
  ['ada', 'human', true],
  ['oracle', 'synthetic', false],
  ['heron:h.json', 'heron', false],
  ['humanoid', null, false],
  ['Human:bo', null, false],
  ['bo', null, false],
];

const pref = (p: Pair, teacher: string): Label => ({ id: labelId(teacher, p.id), pairId: p.id, teacher, kind: 'preference', probFirst: 1 });

describe('isPerson: one rule for TS and the store', () => {
  it('the predicate on the cases', () => {
    expect(CASES.map(([id, kind]) => isPerson(id, kind))).toEqual(CASES.map((c) => c[2]));
    // The id alone: only "human" and "human:<name>".
    expect(CASES.map(([id]) => isPersonId(id))).toEqual([true, true, true, false, false, false, false, false, false]);
  });

  it("the store's SQL agrees with the predicate, with each teacher's registered kind", () => {
    const path = join(mkdtempSync(join(tmpdir(), 'person-')), 'labels.sqlite');
    // One store per registration state: 'human:alice' is both unregistered and registered as human.
    for (const registered of [false, true]) {
      const store = LabelStore.open(path.replace('.sqlite', `-${registered}.sqlite`), { envId: 'toy-reach' });
      try {
        const cases = CASES.filter(([id, kind]) => (id === 'human:alice' ? (kind !== null) === registered : true));
        for (const [id, kind] of cases) if (kind !== null) store.putTeacher({ id, kind });
        expect(cases.map(([id]) => store.isPerson(id))).toEqual(cases.map(([id, kind]) => isPerson(id, kind)));
        expect(cases.map(([id]) => store.isPerson(id))).toEqual(cases.map((c) => c[2]));
      } finally {
        store.close();
      }
    }
  });

  it("the counters the store's triggers keep (plain SQL, no registered function) agree with the predicate, also when a teacher is registered after its label", async () => {
    const pairs = (await makePairs('toy-reach', { episodes: 10, steps: 20, length: 10, seed: 3 })).slice(0, CASES.length);
    expect(pairs).toHaveLength(CASES.length);
    for (const registered of [false, true]) {
      const store = storeWith(pairs);
      const path = store.path;
      try {
        const cases = CASES.map((c, i) => [c, pairs[i]] as const).filter(([[id, kind]]) => (id === 'human:alice' ? (kind !== null) === registered : true));
        // Labelled first (each teacher registered as "unknown"), then registered with its kind.
        store.addLabels(cases.map(([[id], p]) => pref(p, id)));
        for (const [[id, kind]] of cases) if (kind !== null) store.putTeacher({ id, kind });
        const db = new Database(path);
        const row = db.prepare('SELECT people, machines FROM pairs WHERE id = ?');
        const got = cases.map(([, p]) => row.get(p.id));
        db.close();
        expect(got).toEqual(cases.map(([[id, kind]]) => (isPerson(id, kind) ? { people: 1, machines: 0 } : { people: 0, machines: 1 })));
      } finally {
        store.close();
      }
    }
  });

  it("waiting for people and the people's audience follow the rule: a teacher of kind human fills a pair, a synthetic one does not", async () => {
    const pairs = (await makePairs('toy-reach', { episodes: 4, steps: 20, length: 10, seed: 2 })).slice(0, 4);
    const store = storeWith(pairs, { ada: 'human', oracle: 'synthetic' });
    try {
      // Pair 0 by ada (a person by kind), 1 by human:bo (by id), 2 by the oracle (a machine), 3 by nobody.
      store.addLabels([pref(pairs[0], 'ada'), pref(pairs[1], 'human:bo'), pref(pairs[2], 'oracle')]);
      expect(store.counts()).toMatchObject({ pairs: 4, waitingForPeople: 2 });
      // A new person is offered the pairs no person has answered, in order: 2 (only the oracle's), then 3.
      const got = [store.nextPairFor('human:cy', { leaseMs: 60_000, now: 1 })?.pair.id, store.nextPairFor('human:dee', { leaseMs: 60_000, now: 1 })?.pair.id];
      expect(got).toEqual([pairs[2].id, pairs[3].id]);
      // A machine teacher sees pairs 0, 1 and 3 open (people's answers do not fill them for it).
      expect(store.nextPairFor('heron:h.json', { leaseMs: 60_000, now: 1 })?.pair.id).toBe(pairs[0].id);
    } finally {
      store.close();
    }
  });
});
