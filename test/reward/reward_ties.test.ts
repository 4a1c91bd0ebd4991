/**
 * `prefrl reward` trains on ties (probFirst 0.5, soft labels) with the strict preferences, and
 * says how many of its preferences are ties, as `labels stats` counts them apart.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../core/backend.js';
import { makePair } from '../../reward/segments.js';
import { LabelStore } from '../../reward/store.js';
import { labelId } from '../../reward/teachers/synthetic.js';
import { main } from '../../scripts/cli.js';
import { captureCli, lastJson } from '../helpers/cli.js';
import { makePairs } from '../viewer/helpers.js';

describe('prefrl reward with ties', () => {
  it('8 labels of a HERON teacher, 3 of them ties, and a skip: 8 preferences, 3 of them ties, 1 skip left out', async () => {
    await initBackend('wasm');
    const dir = mkdtempSync(join(tmpdir(), 'reward-ties-'));
    const segs = (await makePairs('toy-reach', { episodes: 8, steps: 20, length: 10, seed: 4 })).flatMap((p) => [p.a, p.b]);
    const half = segs.length / 2;
    const pairs = segs.slice(0, half).map((a, i) => makePair(a, segs[half + i]));
    const path = join(dir, 'labels.sqlite');
    const store = LabelStore.open(path, { envId: 'toy-reach', modelHash: pairs[0].a.modelHash });
    const teacher = 'heron:h.json';
    const skipped = makePair(segs[0], segs[2]);
    try {
      store.putPairs([...pairs, skipped]);
      // Answers 1, 0, 0.5, 1, 0.5, 0, 0.5, 1 on the eight pairs, a skip on the ninth.
      const answers = [1, 0, 0.5, 1, 0.5, 0, 0.5, 1];
      store.addLabels(pairs.map((p, i) => ({ id: labelId(teacher, p.id), pairId: p.id, teacher, kind: 'preference' as const, probFirst: answers[i] })));
      store.addLabels([{ id: labelId(teacher, skipped.id), pairId: skipped.id, teacher, kind: 'skip', reason: 'no term decided' }]);
    } finally {
      store.close();
    }
    const small = ['--reward-epochs', '2', '--reward-members', '1', '--reward-hidden', '8', '--runs-dir', join(dir, 'runs'), '--quiet'];
    const j = captureCli();
    expect(await main(['reward', '--store', path, ...small, '--json'], j.ctx), j.err.join('')).toBe(0);
    expect(lastJson(j.out)).toMatchObject({ preferences: 8, ties: 3, skips: 1 });
    const t = captureCli();
    expect(await main(['reward', '--store', path, ...small], t.ctx), t.err.join('')).toBe(0);
    expect(t.out.join('')).toMatch(/^reward model: 8 preferences \(3 of them ties; 1 skips left out\), /);
  }, 60_000);
});
