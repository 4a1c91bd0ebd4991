/**
 * `prefrl labels export --out`: never over the label store itself (the JSONL would destroy every
 * label in it), and an existing file is replaced only with --force (as collect's --out).
 */
import { copyFileSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makePair } from '../../reward/segments.js';
import { LabelStore } from '../../reward/store.js';
import { labelId } from '../../reward/teachers/synthetic.js';
import { main } from '../../scripts/cli.js';
import { captureCli } from '../helpers/cli.js';
import { makePairs } from '../viewer/helpers.js';

async function cli(args: string[]): Promise<{ code: number; err: string; out: string }> {
  const c = captureCli();
  const code = await main(args, c.ctx);
  return { code, err: c.err.join(''), out: c.out.join('') };
}

describe('labels export --out', () => {
  it('refuses the store itself (also by another path, even with --force) and an existing file without --force; --force replaces it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'labels-export-'));
    const segs = (await makePairs('toy-reach', { episodes: 2, steps: 20, length: 10, seed: 1 })).flatMap((p) => [p.a, p.b]);
    const pairs = [makePair(segs[0], segs[1]), makePair(segs[2], segs[3])];
    const path = join(dir, 'labels.sqlite');
    const store = LabelStore.open(path, { envId: 'toy-reach', modelHash: pairs[0].a.modelHash });
    store.putPairs(pairs);
    store.addLabels(pairs.map((p) => ({ id: labelId('human:ada', p.id), pairId: p.id, teacher: 'human:ada', kind: 'preference' as const, probFirst: 1 })));
    store.close();
    const before = readFileSync(path);

    const self = await cli(['labels', 'export', '--store', path, '--out', path]);
    expect(self.code).toBe(2);
    expect(self.err).toBe(`prefrl labels export: --out ${path}: is the label store itself (--store); give another file, such as ${join(dir, 'labels.jsonl')}\n`);
    const link = join(dir, 'link.sqlite');
    symlinkSync(path, link);
    expect((await cli(['labels', 'export', '--store', path, '--out', link, '--force'])).code).toBe(2);
    expect((await cli(['labels', 'export', '--store', path, '--out', `${dir}/./labels.sqlite`, '--force'])).code).toBe(2);
    expect(readFileSync(path).equals(before)).toBe(true);

    // An existing file (here a copy of the store: another run's labels) is kept without --force.
    const kept = join(dir, 'copy.sqlite');
    copyFileSync(path, kept);
    const refused = await cli(['labels', 'export', '--store', path, '--out', kept]);
    expect(refused.code).toBe(2);
    expect(refused.err).toBe(`prefrl labels export: --out ${kept}: already exists; pass --force to replace it, or choose another file\n`);
    expect(readFileSync(kept).equals(before)).toBe(true);

    const jsonl = join(dir, 'out.jsonl');
    writeFileSync(jsonl, 'old\n');
    expect((await cli(['labels', 'export', '--store', path, '--out', jsonl, '--force'])).code).toBe(0);
    expect(readFileSync(jsonl, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { teacher: string }).teacher)).toEqual(['human:ada', 'human:ada']);
  });

  it('labels import --in: a missing file or a folder is a usage error naming --in (exit 2), and the store is left as it was', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'labels-import-'));
    const segs = (await makePairs('toy-reach', { episodes: 2, steps: 20, length: 10, seed: 1 })).flatMap((p) => [p.a, p.b]);
    const path = join(dir, 'labels.sqlite');
    const store = LabelStore.open(path, { envId: 'toy-reach', modelHash: segs[0].modelHash });
    store.putPairs([makePair(segs[0], segs[1])]);
    store.close();
    const missing = await cli(['labels', 'import', '--store', path, '--in', join(dir, 'nope.jsonl')]);
    expect(missing.code).toBe(2);
    expect(missing.err).toBe(`prefrl labels import: --in: ${join(dir, 'nope.jsonl')} not found (a JSONL file of labels, as prefrl labels export writes)\n`);
    const folder = await cli(['labels', 'import', '--store', path, '--in', dir]);
    expect(folder.code).toBe(2);
    expect(folder.err).toBe(`prefrl labels import: --in: ${dir} is a folder; give the JSONL file, e.g. ${join(dir, 'labels.jsonl')}\n`);
    const s = LabelStore.open(path, { create: false });
    expect(s.counts().labels).toBe(0);
    s.close();
  });
});
