/**
 * `prefrl labels stats` says which reward term decided a HERON teacher's labels (the record each
 * keeps in raw), counted here by hand; other teachers' rows have no such field.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makePair } from '../../reward/segments.js';
import { LabelStore } from '../../reward/store.js';
import { labelId } from '../../reward/teachers/synthetic.js';
import type { Label, Pair } from '../../reward/types.js';
import { main } from '../../scripts/cli.js';
import { captureCli, lastJson } from '../helpers/cli.js';
import { makePairs } from '../viewer/helpers.js';

const HERON = 'heron:terms.json';

/** A HERON label of pair p decided by `term` (null: a tie), as the teacher records it. */
function decided(p: Pair, term: string | null, first = true): Label {
  const raw = JSON.stringify(term === null ? { decidedBy: null } : { decidedBy: term, level: 0, diff: 1.5, threshold: 0.2 });
  return { id: labelId(HERON, p.id), pairId: p.id, teacher: HERON, kind: 'preference', probFirst: term === null ? 0.5 : first ? 1 : 0, raw };
}

describe('labels stats and HERON', () => {
  it("counts each HERON label under the term that decided it, ties and labels without a record apart; the oracle's row has no such field", async () => {
    const segs = (await makePairs('toy-reach', { episodes: 6, steps: 20, length: 10, seed: 2 })).flatMap((p) => [p.a, p.b]);
    const pairs = segs.slice(0, 6).map((a, i) => makePair(a, segs[6 + i]));
    const path = join(mkdtempSync(join(tmpdir(), 'stats-heron-')), 'labels.sqlite');
    const store = LabelStore.open(path, { envId: 'toy-reach', modelHash: pairs[0].a.modelHash });
    store.putPairs(pairs);
    store.addLabels([
      decided(pairs[0], 'forward_velocity'),
      decided(pairs[1], 'forward_velocity', false),
      decided(pairs[2], 'control_effort'),
      decided(pairs[3], 'forward_velocity'),
      decided(pairs[4], null),
      { id: labelId(HERON, pairs[5].id), pairId: pairs[5].id, teacher: HERON, kind: 'skip', reason: 'no term differs' },
    ]);
    store.addLabels([{ id: labelId('oracle', pairs[0].id), pairId: pairs[0].id, teacher: 'oracle', kind: 'preference', probFirst: 1 }]);
    store.close();

    const j = captureCli();
    expect(await main(['labels', 'stats', '--store', path, '--json'], j.ctx)).toBe(0);
    const teachers = lastJson<{ teachers: { teacher: string; decidedBy?: unknown }[] }>(j.out).teachers;
    expect(teachers.find((t) => t.teacher === HERON)?.decidedBy).toEqual({ terms: { forward_velocity: 3, control_effort: 1 }, ties: 1, other: 1 });
    expect(teachers.find((t) => t.teacher === 'oracle')).not.toHaveProperty('decidedBy');

    const t = captureCli();
    expect(await main(['labels', 'stats', '--store', path], t.ctx)).toBe(0);
    expect(t.out.join('')).toContain(`${HERON} decided by: forward_velocity 3, control_effort 1, ties 1, no record 1\n`);
    expect(t.out.join('')).not.toContain('oracle decided by');
  });
});
