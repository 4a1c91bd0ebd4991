/**
 * Random label stores for the schema-2 tests (store_handout, store_migration): a pool of toy
 * pairs, and a seeded run of store operations that checks the store against the version-1
 * queries after every step.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { ManualClock } from '../../core/clock.js';
import { Rng } from '../../core/rng.js';
import { randomPolicy, rollout } from '../../envs/rollout.js';
import { TOY_SPEC, ToyReachEnv } from '../../envs/toy.js';
import { cutSegments, makePair } from '../../reward/segments.js';
import { type LabelStore, type NewLabel, SecondLabelError } from '../../reward/store.js';
import type { Pair } from '../../reward/types.js';
import type { V1Reference } from './store_v1.js';

/** People: by id ("human", "human:<name>") or registered with kind human (ada); machines: the rest. vlm:x changes kind during a run. */
export const TEACHERS = ['human', 'human:ann', 'human:bo', 'ada', 'oracle', 'heron:h.json', 'vlm:x'] as const;
export const TIMEOUT_REASON = 'no answer within 60 s (human teacher timeout)';

/** 30 distinct pairs of toy segments (5 steps), the same every call. */
export function pairPool(): Pair[] {
  const pool: Pair[] = [];
  const env = new ToyReachEnv();
  const trajs = rollout(env, randomPolicy(TOY_SPEC, new Rng(11)), { episodes: 4, seed: 3 });
  env.dispose();
  const segs = cutSegments(trajs, { length: 5, source: 'test' });
  const n = segs.length;
  const seen = new Set<string>();
  for (let k = 0; pool.length < 30 && k < 4 * n; k++) {
    const i = k % n;
    const j = (i + 1 + Math.floor(k / n) * 5) % n;
    if (i === j) continue;
    const p = makePair(segs[i], segs[j]);
    if (seen.has(p.id)) continue;
    seen.add(p.id);
    pool.push(p);
  }
  return pool;
}

export interface RandomRun {
  handOuts: number;
  handedOut: number;
  timeouts: number;
  undos: number;
  imports: number;
  kindChanges: number;
}

/**
 * `steps` random operations on `store` (seeded by `seed`), comparing the store with the version-1
 * queries (`ref`, on the same file) after each. Pairs come from `pairs` (the first 6 up front,
 * more in later rounds). Returns what it did.
 */
export function randomRun(store: LabelStore, ref: V1Reference, clock: ManualClock, pairs: readonly Pair[], seed: number, steps: number, tmp: string): RandomRun {
  const rng = new Rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)];
  const run: RandomRun = { handOuts: 0, handedOut: 0, timeouts: 0, undos: 0, imports: 0, kindChanges: 0 };
  store.putTeacher({ id: 'ada', kind: 'human' });
  store.putTeacher({ id: 'oracle', kind: 'synthetic' });
  store.putTeacher({ id: 'heron:h.json', kind: 'heron' });
  store.putPairs(pairs.slice(0, 3), { round: 0, wanted: 1 });
  store.putPairs(pairs.slice(3, 6), { round: 1, wanted: 2 });
  let used = 6;
  let nextLabel = 0;
  const locked = new Set<string>();
  const stored = () => pairs.slice(0, used);
  const newLabel = (teacher: string, pairId: string): NewLabel => {
    const id = `s${seed}-l${nextLabel++}`;
    const u = rng.uniform();
    if (u < 0.6) return { id, pairId, teacher, kind: 'preference', probFirst: pick([0, 0.5, 1, 0.3]) };
    if (u < 0.8) return { id, pairId, teacher, kind: 'skip', reason: "can't tell" };
    run.timeouts++;
    return { id, pairId, teacher, kind: 'skip', reason: TIMEOUT_REASON, timeout: true };
  };
  for (let step = 0; step < steps; step++) {
    const now = clock.date().getTime();
    const teacher = pick(TEACHERS);
    const u = rng.uniform();
    if (u < 0.35) {
      // Hand-out: the pair the version-1 query picks now, on the same file.
      const want = ref.nextPairId(teacher, now);
      const got = store.nextPairFor(teacher, { leaseMs: 1000 * (1 + rng.int(5)), now });
      expect(got?.pair.id ?? null, `seed ${seed} step ${step}: nextPairFor(${teacher})`).toBe(want);
      run.handOuts++;
      if (got) run.handedOut++;
    } else if (u < 0.65) {
      // An answer: mostly to the pair the teacher holds, else any stored pair.
      let held = null;
      if (rng.uniform() < 0.7) {
        const want = ref.nextPairId(teacher, now);
        held = store.nextPairFor(teacher, { leaseMs: 2000, now });
        expect(held?.pair.id ?? null, `seed ${seed} step ${step}: nextPairFor(${teacher}) before answering`).toBe(want);
      }
      const pairId = held?.pair.id ?? pick(stored()).id;
      const label = newLabel(teacher, pairId);
      if (store.labelIdOf(pairId, teacher) !== null) expect(() => store.addLabels([label])).toThrow(SecondLabelError);
      else expect(store.addLabels([label]).added).toBe(1);
    } else if (u < 0.7) {
      // Undo a label (a locked one cannot be undone).
      const labels = store.labels();
      if (labels.length > 0) {
        const l = pick(labels);
        if (locked.has(l.id)) expect(() => store.deleteLabel(l.id, l.teacher)).toThrow(/passed to training/);
        else {
          expect(store.deleteLabel(l.id, l.teacher)).toEqual({ pairId: l.pairId });
          run.undos++;
        }
      }
    } else if (u < 0.73) {
      const labels = store.labels();
      if (labels.length > 0) {
        const id = pick(labels).id;
        store.lockLabels([id]);
        locked.add(id);
      }
    } else if (u < 0.77) {
      store.releaseLease(teacher, pick(stored()).id);
    } else if (u < 0.81) {
      store.raiseWanted(1 + rng.int(3), [pick(stored()).id, pick(stored()).id]);
    } else if (u < 0.85) {
      // An import: new labels, a re-sent stored one, a second label of a teacher for a pair.
      const lines: NewLabel[] = [newLabel(pick(TEACHERS), pick(stored()).id), newLabel(pick(TEACHERS), pick(stored()).id)];
      const labels = store.labels();
      if (labels.length > 0) {
        const { createdAt: _c, ...again } = pick(labels);
        lines.push(again);
      }
      const file = join(tmp, `import-${seed}-${step}.jsonl`);
      writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n'));
      const r = store.importJsonl(file);
      expect(r.lines).toBe(lines.length);
      run.imports++;
    } else if (u < 0.9) {
      // vlm:x becomes a person or a machine again; ada a machine or a person (their labels change audience).
      if (rng.uniform() < 0.5) store.putTeacher({ id: 'vlm:x', kind: pick(['vlm', 'human']) });
      else store.putTeacher({ id: 'ada', kind: pick(['human', 'synthetic']) });
      run.kindChanges++;
    } else if (u < 0.92) {
      if (used < pairs.length) {
        const k = 1 + rng.int(2);
        store.putPairs(pairs.slice(used, used + k), { round: 2 + rng.int(3), wanted: 1 + rng.int(3) });
        used = Math.min(pairs.length, used + k);
      }
    } else {
      clock.advance(rng.int(4000));
    }
    clock.advance(1);
    const c = store.counts(clock.date().getTime());
    expect({ pending: c.pending, waitingForPeople: c.waitingForPeople, unlabelled: c.unlabelled }, `seed ${seed} step ${step}: counts`).toEqual(ref.counts());
    expect(store.pendingPairIds(), `seed ${seed} step ${step}: pendingPairIds`).toEqual(ref.pendingIds());
    expect(store.progressCounts(teacher).waitingForPeople).toBe(c.waitingForPeople);
    // The order `prefrl label` answers in (and offline's allPairs): every stored pair once, the
    // labelled ones (preference or skip) in labelledPairIds' order, then pendingPairIds' order;
    // for a teacher, without the pairs it has a label on.
    const labelled = store.labelledPairIds({ includeSkips: true });
    const all = [...labelled, ...store.pendingPairIds().filter((id) => !labelled.includes(id))];
    expect(all.length, `seed ${seed} step ${step}: every stored pair`).toBe(store.counts().pairs);
    expect(store.pairIdsToLabel(), `seed ${seed} step ${step}: pairIdsToLabel`).toEqual(all);
    expect(store.pairIdsToLabel({ unansweredBy: teacher }), `seed ${seed} step ${step}: pairIdsToLabel(${teacher})`).toEqual(all.filter((id) => store.labelIdOf(id, teacher) === null));
  }
  return run;
}

