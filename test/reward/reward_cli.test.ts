/**
 * `prefrl reward`: a reward model trained on a label store's labels, in a run folder that
 * `prefrl train --reward model:<run>` reads; the teacher filter; bad input named, no run folder.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makePair, segmentReturn } from '../../reward/segments.js';
import { LabelStore } from '../../reward/store.js';
import { labelId } from '../../reward/teachers/synthetic.js';
import type { Label, Pair } from '../../reward/types.js';
import { main } from '../../scripts/cli.js';
import { storeLabels } from '../../scripts/commands/reward.js';
import { captureCli, lastJson } from '../helpers/cli.js';
import { makePairs } from '../viewer/helpers.js';

let root = '';
let store = '';
let pairs: Pair[] = [];

/** The oracle's answer: the segment with the higher true return (0.5 on a tie). */
function oracle(p: Pair, teacher: string): Label {
  const ra = segmentReturn(p.a);
  const rb = segmentReturn(p.b);
  return { id: labelId(teacher, p.id), pairId: p.id, teacher, kind: 'preference', probFirst: ra > rb ? 1 : ra < rb ? 0 : 0.5 };
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'reward-cli-'));
  // Segments of different episodes side by side (starts far apart), so their true returns differ clearly.
  const segs = (await makePairs('toy-reach', { episodes: 60, steps: 50, length: 10, seed: 2 })).flatMap((p) => [p.a, p.b]);
  const half = Math.floor(segs.length / 2);
  pairs = segs.slice(0, half).map((a, i) => makePair(a, segs[half + i]));
  store = join(root, 'labels.sqlite');
  const s = LabelStore.open(store, { envId: 'toy-reach', modelHash: pairs[0].a.modelHash });
  try {
    s.putPairs(pairs);
    // Most pairs answered by "people", a few by another teacher, one skipped.
    s.addLabels(pairs.slice(0, -6).map((p) => oracle(p, 'human:ada')));
    s.addLabels(pairs.slice(-6, -1).map((p) => oracle(p, 'oracle')));
    s.addLabels([{ id: labelId('human:bo', pairs[pairs.length - 1].id), pairId: pairs[pairs.length - 1].id, teacher: 'human:bo', kind: 'skip', reason: "can't tell" }]);
  } finally {
    s.close();
  }
}, 60_000);

describe('prefrl reward', () => {
  it('takes the labels of the chosen teachers, skips included (training leaves them out)', () => {
    const s = LabelStore.open(store, { create: false });
    try {
      expect(storeLabels(s).labels.length).toBe(pairs.length);
      const human = storeLabels(s, 'human');
      expect(human.labels.length).toBe(pairs.length - 5);
      expect(human.labels.filter((l) => l.kind === 'skip').length).toBe(1);
      expect(human.pairs.every((p, i) => p.id === human.labels[i].pairId)).toBe(true);
      expect(storeLabels(s, 'oracle').labels.length).toBe(5);
    } finally {
      s.close();
    }
  });

  it('trains on the store\'s labels in a run folder that prefrl train --reward model:<run> reads', async () => {
    const c = captureCli();
    const args = ['reward', '--store', store, '--teacher', 'human', '--runs-dir', join(root, 'runs'), '--quiet', '--json'];
    expect(await main(args, c.ctx), c.err.join('')).toBe(0);
    const j = lastJson<{ preferences: number; skips: number; trainPairs: number; valPairs: number; valAccuracy: number; returnCorrelation: number; rewardModel: string; runDir: string }>(c.out);
    expect(j.preferences).toBe(pairs.length - 6);
    expect(j.skips).toBe(1);
    expect(j.trainPairs + j.valPairs).toBe(pairs.length - 6);
    expect(existsSync(join(j.rewardModel, 'model.json'))).toBe(true);
    expect(j.rewardModel).toBe(join(j.runDir, 'artifacts', 'reward_model'));
    // Noise-free labels of the true return: the learned segment returns follow the true ones.
    expect(j.returnCorrelation, JSON.stringify(j)).toBeGreaterThan(0.5);
    // Without --quiet the bar's last line gives the kept weights' held-out accuracy, as the summary does.
    const shown = captureCli();
    expect(await main(args.filter((a) => a !== '--quiet'), shown.ctx)).toBe(0);
    expect(lastJson<{ valAccuracy: number }>(shown.out).valAccuracy).toBe(j.valAccuracy);
    const bar = shown.err.join('').split('\n').filter((l) => l.startsWith('reward model ('));
    expect(bar.at(-1)).toMatch(new RegExp(`in \\S+ \\| held-out acc ${j.valAccuracy.toFixed(3)} \\(kept weights\\)$`));
    const t = captureCli();
    expect(await main(['train', '--env', 'toy-reach', '--reward', `model:${j.runDir}`, '--steps', '2048', '--runs-dir', join(root, 'runs'), '--quiet', '--json'], t.ctx), t.err.join('')).toBe(0);
  }, 120_000);

  it('refuses a missing store, a store without preferences and flags it does not use, making no run folder', async () => {
    const empty = join(root, 'empty.sqlite');
    LabelStore.open(empty, { envId: 'toy-reach' }).close();
    const cases: [string[], number, string][] = [
      [['--store', join(root, 'nope.sqlite')], 2, `prefrl reward: --store: ${join(root, 'nope.sqlite')} not found (a label store, e.g. runs/<id>/labels.sqlite)\n`],
      [['--store', empty], 1, `prefrl reward: ${empty}: holds 0 preference labels (0 pairs, 0 labels); a reward model needs at least 2\n`],
      [['--store', store, '--teacher', 'vlm'], 1, `prefrl reward: ${store}: holds 0 preference labels of teachers "vlm..." (--teacher vlm) (${pairs.length} pairs, ${pairs.length} labels by human:ada, human:bo, oracle); a reward model needs at least 2; --teacher keeps only the teachers whose name starts with it: give another prefix, or leave --teacher out for every teacher's labels\n`],
      [['--store', store, '--reward-select-workers', '2'], 2, 'prefrl reward: unknown flag --reward-select-workers (see --help)\n'],
      [['--store', store, '--reward-hidden', '0'], 2, 'prefrl reward: --reward-hidden: expected positive integers separated by commas, got "0"\n'],
    ];
    for (const [args, code, msg] of cases) {
      const c = captureCli();
      expect(await main(['reward', ...args, '--runs-dir', join(root, 'bad')], c.ctx), args.join(' ')).toBe(code);
      expect(c.err.join('')).toBe(msg);
    }
    expect(existsSync(join(root, 'bad'))).toBe(false);
  });
});
