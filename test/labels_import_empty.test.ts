/**
 * `prefrl labels import` of a file with no labels in it (empty, or blank lines only) says so on
 * stderr, beside the usual "imported 0 new labels", and leaves the store as it was.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makePair } from '../reward/segments.js';
import { LabelStore } from '../reward/store.js';
import { labelId } from '../reward/teachers/synthetic.js';
import { main } from '../scripts/cli.js';
import { captureCli, lastJson } from './helpers/cli.js';
import { makePairs } from './viewer/helpers.js';

describe('prefrl labels import of a file without labels', () => {
  it('warns naming --in and the file; --json reports 0 lines; the store keeps its labels', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'after-labels-'));
    const segs = (await makePairs('toy-reach', { episodes: 2, steps: 20, length: 10, seed: 1 })).flatMap((p) => [p.a, p.b]);
    const path = join(dir, 'labels.sqlite');
    const store = LabelStore.open(path, { envId: 'toy-reach', modelHash: segs[0].modelHash });
    const pair = makePair(segs[0], segs[1]);
    store.putPairs([pair]);
    store.addLabels([{ id: labelId('oracle', pair.id), pairId: pair.id, teacher: 'oracle', kind: 'preference', probFirst: 1 }]);
    store.close();
    for (const text of ['', '\n\n']) {
      const file = join(dir, 'empty.jsonl');
      writeFileSync(file, text);
      const k = captureCli();
      expect(await main(['labels', 'import', '--store', path, '--in', file], k.ctx)).toBe(0);
      expect(k.out.join('')).toBe(`imported 0 new labels from ${file}; ${path} now holds 1\n`);
      // Before: nothing on stderr.
      expect(k.err.join('')).toBe(`[prefrl] warn: --in ${file}: holds no labels (no lines); nothing was imported\n`);
      const j = captureCli();
      expect(await main(['labels', 'import', '--store', path, '--in', file, '--json'], j.ctx)).toBe(0);
      expect(lastJson(j.out)).toMatchObject({ lines: 0, added: 0, labels: 1 });
    }
    const s = LabelStore.open(path, { create: false });
    expect(s.counts().labels).toBe(1);
    s.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
