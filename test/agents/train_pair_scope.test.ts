/**
 * `prefrl train --pair-scope episode|mixed` (two segments of one episode) when episodes hold
 * only one segment: refused up front when no episode ever can (2 x --segment-length over the
 * horizon); when only some can (random windows: an episode of 50 steps holds two 25-step windows
 * only from offset 0), rounds ask the same-episode pairs there are, and mixed rounds take the
 * rest from the whole pool. Both used to end in a RangeError with a stack at the first round.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../core/backend.js';
import { hasSameEpisodePair } from '../../reward/query.js';
import { LabelStore } from '../../reward/store.js';
import type { Segment } from '../../reward/types.js';
import { main } from '../../scripts/cli.js';
import { captureCli, expectUsageError, lastJson } from '../helpers/cli.js';

beforeAll(async () => {
  await initBackend('wasm');
});

const RUN = [
  'train', '--env', 'toy-reach', '--steps', '2048', '--num-envs', '2', '--num-steps', '128', '--workers', '0', '--warmup-steps', '256', '--eval-every', '4096', '--eval-episodes', '1',
  '--labels', '40', '--labels-per-round', '10', '--feedback-every', '256', '--reward-members', '1', '--reward-hidden', '8', '--reward-epochs', '2',
];

/** Stored pairs: whether both segments come from one episode. */
function sameEpisode(runDir: string): boolean[] {
  const store = LabelStore.open(join(runDir, 'labels.sqlite'), { create: false });
  try {
    return store.labelledPairs().map((lp) => lp.pair.a.source === lp.pair.b.source);
  } finally {
    store.close();
  }
}

describe('--pair-scope episode|mixed with episodes of one segment', () => {
  it('hasSameEpisodePair: some episode (source) holds two distinct segments (the same segment twice is one)', () => {
    const seg = (id: string, source: string) => ({ id, source }) as unknown as Segment;
    expect(hasSameEpisodePair([])).toBe(false);
    expect(hasSameEpisodePair([seg('a', 'run#0'), seg('b', 'run#1'), seg('c', 'run#2')])).toBe(false);
    expect(hasSameEpisodePair([seg('a', 'run#0'), seg('a', 'run#0'), seg('b', 'run#1')])).toBe(false);
    expect(hasSameEpisodePair([seg('a', 'run#0'), seg('b', 'run#1'), seg('c', 'run#0')])).toBe(true);
  });

  it('is refused before any work when no toy-reach episode (50 steps) can hold two segments, naming both flags', async () => {
    const runs = join(mkdtempSync(join(tmpdir(), 'prefrl-scope-')), 'runs');
    for (const scope of ['episode', 'mixed']) {
      await expectUsageError(
        [...RUN, '--pair-scope', scope, '--segment-length', '26'],
        runs,
        new RegExp(`^prefrl train: --pair-scope ${scope}: compares two segments of one episode, and an episode of toy-reach \\(at most 50 steps\\) holds only one 26-step segment \\(--segment-length\\); use --segment-length 25 or less, or --pair-scope any\\n$`),
      );
    }
  });

  it('random windows: episode rounds ask the same-episode pairs there are; mixed rounds fill up from the whole pool', async () => {
    const runs = mkdtempSync(join(tmpdir(), 'prefrl-scope-'));
    const run = async (scope: string) => {
      const c = captureCli();
      const code = await main([...RUN, '--pair-scope', scope, '--segment-length', '25', '--segment-windows', 'random', '--runs-dir', runs, '--quiet', '--json'], c.ctx);
      expect(code, c.err.join('')).toBe(0);
      return lastJson(c.out);
    };
    const episode = await run('episode');
    const pairs = sameEpisode(episode.runDir as string);
    expect(pairs.length).toBe(episode.labelsUsed);
    expect(pairs.length).toBeGreaterThan(0);
    expect(pairs.every((same) => same)).toBe(true);

    const mixed = await run('mixed');
    expect(mixed.labelsUsed).toBe(40);
    const kinds = sameEpisode(mixed.runDir as string);
    expect(kinds.length).toBe(40);
    expect(kinds.some((same) => same)).toBe(true);
    expect(kinds.some((same) => !same)).toBe(true);
  }, 60_000);
});
