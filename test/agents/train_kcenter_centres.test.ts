/**
 * `prefrl train --query kcenter*`: each round's k-center starts from the pairs labelled in the
 * earlier rounds as centres (B-Pref's label buffer), so its queries spread away from what is
 * covered already. The online loop used to give it no centres (every round started from one
 * random candidate), while the offline pipeline gave it the stored pairs.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { initBackend } from '../../core/backend.js';
import * as query from '../../reward/query.js';
import { LabelStore } from '../../reward/store.js';
import { main } from '../../scripts/cli.js';
import { captureCli, lastJson } from '../helpers/cli.js';

// selectQueries as it is, with its calls recorded (the loop imports it from this module).
vi.mock('../../reward/query.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../reward/query.js')>();
  return { ...actual, selectQueries: vi.fn(actual.selectQueries) };
});

beforeAll(async () => {
  await initBackend('wasm');
});

const RUN = [
  'train', '--env', 'toy-reach', '--steps', '2048', '--num-envs', '2', '--num-steps', '128', '--workers', '0', '--warmup-steps', '256', '--eval-every', '4096', '--eval-episodes', '1',
  '--labels', '30', '--labels-per-round', '10', '--feedback-every', '256', '--reward-members', '2', '--reward-hidden', '8', '--reward-epochs', '2', '--segment-length', '10', '--seed', '3',
];

describe('train --query kcenter: labelled pairs are the initial centres', () => {
  for (const method of ['kcenter', 'kcenter-disagreement'] as const) {
    it(`${method}: round r gets the pairs labelled in rounds before r, and no others`, async () => {
      const calls = vi.mocked(query.selectQueries);
      calls.mockClear();
      const runs = mkdtempSync(join(tmpdir(), 'prefrl-kcenter-'));
      const c = captureCli();
      const rc = await main([...RUN, '--query', method, '--runs-dir', runs, '--quiet', '--json'], c.ctx);
      expect(rc, c.err.join('')).toBe(0);
      const summary = lastJson(c.out) as { runDir: string; labelsUsed: number };
      expect(summary.labelsUsed).toBe(30);
      // Three rounds of 10 queries, one selection each.
      expect(calls.mock.calls.length).toBe(3);
      const store = LabelStore.open(join(summary.runDir, 'labels.sqlite'), { create: false });
      try {
        const byRound = (r: number) => store.labelledPairs().filter((lp) => lp.round < r).map((lp) => lp.pair.id).sort();
        const given = calls.mock.calls.map(([, , , opts]) => (opts.labelled ?? []).map((p) => p.id).sort());
        expect(given.map((g) => g.length)).toEqual([0, 10, 20]);
        expect(given).toEqual([byRound(0), byRound(1), byRound(2)]);
        // The centres are the pairs the teacher was asked before, not this round's candidates.
        for (let r = 0; r < 3; r++) {
          const candidates = new Set(calls.mock.calls[r][0].map((p) => p.id));
          expect(given[r].some((id) => candidates.has(id))).toBe(false);
        }
      } finally {
        store.close();
      }
    });
  }
});
