/**
 * `prefrl labels stats`: per-teacher counts, median answer time and agreement with the true
 * partial return, and agreement between teachers, all checked against labels written here.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { makePair, segmentReturn } from '../../reward/segments.js';
import { LabelStore } from '../../reward/store.js';
import { labelId } from '../../reward/teachers/synthetic.js';
import type { Label, Pair } from '../../reward/types.js';
import { main } from '../../scripts/cli.js';
import { teacherStats } from '../../scripts/commands/labels.js';
import { captureCli, lastJson } from '../helpers/cli.js';
import { makePairs } from '../viewer/helpers.js';

function answer(p: Pair, teacher: string, truthful: boolean, responseMs?: number): Label {
  const first = segmentReturn(p.a) > segmentReturn(p.b);
  return { id: labelId(teacher, p.id), pairId: p.id, teacher, kind: 'preference', probFirst: first === truthful ? 1 : 0, ...(responseMs !== undefined ? { responseMs } : {}) };
}

afterEach(() => vi.restoreAllMocks());

/**
 * A store of 8 toy-reach pairs: ada answers every pair truthfully in 1..8 s (median 4.5 s); bo 4
 * pairs, the third of them wrong; cy skips the last one.
 */
async function threeTeachers(prefix: string): Promise<{ path: string; pairs: Pair[]; store: LabelStore }> {
  const segs = (await makePairs('toy-reach', { episodes: 8, steps: 20, length: 10, seed: 4 })).flatMap((p) => [p.a, p.b]);
  const half = segs.length / 2;
  const pairs = segs.slice(0, half).map((a, i) => makePair(a, segs[half + i]));
  const path = join(mkdtempSync(join(tmpdir(), prefix)), 'labels.sqlite');
  const store = LabelStore.open(path, { envId: 'toy-reach', modelHash: pairs[0].a.modelHash });
  store.putPairs(pairs);
  store.addLabels(pairs.map((p, i) => answer(p, 'human:ada', true, 1000 * (i + 1))));
  store.addLabels(pairs.slice(0, 4).map((p, i) => answer(p, 'human:bo', i !== 2)));
  store.addLabels([{ id: labelId('human:cy', pairs[7].id), pairId: pairs[7].id, teacher: 'human:cy', kind: 'skip', reason: "can't tell" }]);
  return { path, pairs, store };
}

describe('prefrl labels stats', () => {
  it('counts, times and agreement per teacher and between teachers', async () => {
    const { path, pairs, store } = await threeTeachers('stats-');
    expect(pairs.length).toBe(8);
    // No ties in true return among these pairs, so every preference counts for agreement.
    expect(pairs.every((p) => segmentReturn(p.a) !== segmentReturn(p.b))).toBe(true);
    try {
      const stats = teacherStats(store);
      expect(stats).toEqual([
        { teacher: 'human:ada', labels: 8, preferences: 8, ties: 0, skips: 0, medianResponseMs: 4500, agreementWithTrueReturn: 1 },
        { teacher: 'human:bo', labels: 4, preferences: 4, ties: 0, skips: 0, medianResponseMs: null, agreementWithTrueReturn: 0.75 },
        { teacher: 'human:cy', labels: 1, preferences: 0, ties: 0, skips: 1, medianResponseMs: null, agreementWithTrueReturn: null },
      ]);
    } finally {
      store.close();
    }
    const c = captureCli();
    expect(await main(['labels', 'stats', '--store', path, '--json'], c.ctx)).toBe(0);
    const j = lastJson<{ pairs: number; labels: number; skips: number; agreement: { pairs: number; comparisons: number; agreeing: number; fraction: number } }>(c.out);
    expect(j).toMatchObject({ pairs: 8, labels: 13, skips: 1 });
    expect(j.agreement).toMatchObject({ pairs: 4, comparisons: 4, agreeing: 3, fraction: 0.75 });
    const h = captureCli();
    expect(await main(['labels', 'stats', '--store', path], h.ctx)).toBe(0);
    const text = h.out.join('');
    expect(text).toContain('8 pairs (0 unlabelled, 0 waiting for people), 13 labels: 12 preferences, 0 ties, 1 skips');
    expect(text).toContain('  human:ada vs human:bo: 3/4 (0.750)');
    const missing = captureCli();
    expect(await main(['labels', 'stats', '--store', join(tmpdir(), 'no-such-store.sqlite')], missing.ctx)).toBe(2);
    expect(missing.err.join('')).toMatch(/^prefrl labels stats: --store: .*no-such-store\.sqlite not found \(a label store/);
  });
  it('counts ties (probFirst 0.5: a HERON tie, an "equal" teacher\'s) apart from strict preferences and skips', async () => {
    const segs = (await makePairs('toy-reach', { episodes: 8, steps: 20, length: 10, seed: 4 })).flatMap((p) => [p.a, p.b]);
    const half = segs.length / 2;
    const pairs = segs.slice(0, half).map((a, i) => makePair(a, segs[half + i]));
    const path = join(mkdtempSync(join(tmpdir(), 'stats-ties-')), 'labels.sqlite');
    const store = LabelStore.open(path, { envId: 'toy-reach', modelHash: pairs[0].a.modelHash });
    const tie = (p: Pair, teacher: string): Label => ({ id: labelId(teacher, p.id), pairId: p.id, teacher, kind: 'preference', probFirst: 0.5 });
    try {
      store.putPairs(pairs);
      // HERON: truthful strict preferences on pairs 0, 1 and 4, ties on 2 and 3, a skip on 5.
      const heron = 'heron:h.json';
      store.addLabels([answer(pairs[0], heron, true), answer(pairs[1], heron, true), tie(pairs[2], heron), tie(pairs[3], heron), answer(pairs[4], heron, true)]);
      store.addLabels([{ id: labelId(heron, pairs[5].id), pairId: pairs[5].id, teacher: heron, kind: 'skip', reason: 'no term decided' }]);
      // equal: a tie on pair 0, an untruthful strict preference on pair 1.
      store.addLabels([tie(pairs[0], 'equal'), answer(pairs[1], 'equal', false)]);
      expect(teacherStats(store)).toEqual([
        { teacher: heron, labels: 6, preferences: 3, ties: 2, skips: 1, medianResponseMs: null, agreementWithTrueReturn: 1 },
        { teacher: 'equal', labels: 2, preferences: 1, ties: 1, skips: 0, medianResponseMs: null, agreementWithTrueReturn: 0 },
      ]);
    } finally {
      store.close();
    }
    const c = captureCli();
    expect(await main(['labels', 'stats', '--store', path, '--json'], c.ctx)).toBe(0);
    expect(lastJson(c.out)).toMatchObject({ pairs: 8, labels: 8, preferences: 4, ties: 3, skips: 1 });
    const h = captureCli();
    expect(await main(['labels', 'stats', '--store', path], h.ctx)).toBe(0);
    const text = h.out.join('');
    // Machines only (HERON, equal), and the store is not for people: no word of people.
    expect(text).toContain('8 pairs (2 unlabelled), 8 labels: 4 preferences, 3 ties, 1 skips');
    expect(text).toMatch(/heron:h\.json +6 +3 +2 +1 /);
  });

  it('speaks of people only for a store meant for people (a person among its teachers, or made by prefrl pairs)', async () => {
    const segs = (await makePairs('toy-reach', { episodes: 8, steps: 20, length: 10, seed: 4 })).flatMap((p) => [p.a, p.b]);
    const half = segs.length / 2;
    const pairs = segs.slice(0, half).map((a, i) => makePair(a, segs[half + i]));
    const path = join(mkdtempSync(join(tmpdir(), 'stats-audience-')), 'labels.sqlite');
    const store = LabelStore.open(path, { envId: 'toy-reach', modelHash: pairs[0].a.modelHash });
    const stats = async () => {
      const j = captureCli();
      expect(await main(['labels', 'stats', '--store', path, '--json'], j.ctx)).toBe(0);
      const t = captureCli();
      expect(await main(['labels', 'stats', '--store', path], t.ctx)).toBe(0);
      return { json: lastJson<{ forPeople: boolean; waitingForPeople: number | null; unlabelled: number }>(j.out), text: t.out.join('') };
    };
    try {
      store.putPairs(pairs);
      // An offline run's oracle: every pair but one labelled by a synthetic teacher.
      store.putTeacher({ id: 'oracle', kind: 'oracle' });
      store.addLabels(pairs.slice(1).map((p) => answer(p, 'oracle', true)));
      let s = await stats();
      expect(s.json).toMatchObject({ forPeople: false, waitingForPeople: null, unlabelled: 1 });
      expect(s.text).toContain(`${path}: 8 pairs (1 unlabelled), 7 labels: 7 preferences, 0 ties, 0 skips\n`);
      expect(s.text).not.toContain('waiting for people');
      // A person joins (the viewer registers them): the pairs wait for people's answers.
      store.putTeacher({ id: 'human:ada', kind: 'human' });
      store.addLabels([answer(pairs[0], 'human:ada', true)]);
      s = await stats();
      expect(s.json).toMatchObject({ forPeople: true, waitingForPeople: 7, unlabelled: 0 });
      expect(s.text).toContain(`${path}: 8 pairs (0 unlabelled, 7 waiting for people), 8 labels: 8 preferences, 0 ties, 0 skips\n`);
    } finally {
      store.close();
    }
  });

  it("reads the store's counts once a run (before: twice), with the whole output as before, by hand", async () => {
    // As in the first test: ada all 8 truthfully in 1..8 s, bo 4 with one wrong, cy one skip.
    const { path, pairs, store } = await threeTeachers('stats-once-');
    try {
      // Given the counts or reading them itself, teacherStats says the same.
      expect(teacherStats(store, store.counts())).toEqual(teacherStats(store));
      // The true return puts the first clip ahead on pairs 0 to 3, so ada says first four times
      // and bo (wrong on pair 2) first, first, second, first. Agreement 3/4; beyond chance,
      // Cohen's: ada's shares (first, second) 1, 0, bo's 3/4, 1/4: chance 3/4, kappa 0. Fleiss':
      // 7 first, 1 second of 8 verdicts: chance 50/64, kappa (48 - 50) / 14 = -1/7.
      expect(pairs.slice(0, 4).map((p) => segmentReturn(p.a) > segmentReturn(p.b))).toEqual([true, true, true, true]);
    } finally {
      store.close();
    }
    const counts = vi.spyOn(LabelStore.prototype, 'counts');
    const teachers = [
      { teacher: 'human:ada', labels: 8, preferences: 8, ties: 0, skips: 0, medianResponseMs: 4500, agreementWithTrueReturn: 1 },
      { teacher: 'human:bo', labels: 4, preferences: 4, ties: 0, skips: 0, medianResponseMs: null, agreementWithTrueReturn: 0.75 },
      { teacher: 'human:cy', labels: 1, preferences: 0, ties: 0, skips: 1, medianResponseMs: null, agreementWithTrueReturn: null },
    ];
    const j = captureCli();
    expect(await main(['labels', 'stats', '--store', path, '--json'], j.ctx)).toBe(0);
    expect(counts).toHaveBeenCalledTimes(1);
    // Every pair answered by ada (a person): none pending, unlabelled or waiting; 12 preferences, 1 skip.
    expect(JSON.parse(j.out.join(''))).toEqual({
      store: path,
      pairs: 8,
      pending: 0,
      unlabelled: 0,
      forPeople: true,
      waitingForPeople: 0,
      labels: 13,
      preferences: 12,
      ties: 0,
      skips: 1,
      timeouts: 0,
      teachers,
      agreement: { pairs: 4, comparisons: 4, agreeing: 3, fraction: 0.75, kappa: expect.closeTo(-1 / 7, 12), byTeachers: { 'human:ada|human:bo': { comparisons: 4, agreeing: 3, fraction: 0.75, kappa: 0 } } },
    });
    const h = captureCli();
    expect(await main(['labels', 'stats', '--store', path], h.ctx)).toBe(0);
    expect(counts).toHaveBeenCalledTimes(2);
    expect(h.out.join('').split('\n')).toEqual([
      `${path}: 8 pairs (0 unlabelled, 0 waiting for people), 13 labels: 12 preferences, 0 ties, 1 skips`,
      'teacher    labels  preferences  ties  skips  median answer (s)  agrees with true return',
      '---------  ------  -----------  ----  -----  -----------------  -----------------------',
      'human:ada  8       8            0     0      4.5                1.000',
      'human:bo   4       4            0     0      -                  0.750',
      'human:cy   1       0            0     1      -                  -',
      "between teachers: 4 pairs answered by two or more, 4 comparisons, agreement 3/4 (0.750), Fleiss' kappa -0.143",
      "  human:ada vs human:bo: 3/4 (0.750), Cohen's kappa 0.000",
      '',
    ]);
  });
});
