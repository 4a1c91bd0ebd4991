/**
 * Datasets of many short episodes: 1M transitions in 5-step episodes are 200,000 episodes, and
 * summarizeDataset took their min and max return with Math.min(...returns), which overflows the
 * call stack past some 120,000 values (`prefrl iql` on such a file stopped with "Maximum call
 * stack size exceeded").
 */
import { describe, expect, it } from 'vitest';
import { type OfflineDataset, summarizeDataset, validateDataset } from '../../agents/dataset.js';

/** n one-step episodes on a 1-d env; episode i returns (i mod 7) - 3; every one ends in a terminal. */
function oneStepEpisodes(n: number): OfflineDataset {
  return {
    size: n,
    obsDim: 1,
    actDim: 1,
    observations: new Float32Array(n),
    actions: new Float32Array(n),
    rewards: Float64Array.from({ length: n }, (_, i) => (i % 7) - 3),
    terminals: new Uint8Array(n).fill(1),
    timeouts: new Uint8Array(n),
    nextObservations: new Float32Array(n),
    infos: { nq: 0, nv: 0, na: 0, nTerms: 0 },
    meta: {},
    source: 'many-episodes-test',
    notes: [],
  };
}

describe('summarizeDataset over many episodes', () => {
  it('300,000 one-step episodes: min, max and mean return without overflowing the stack', () => {
    const n = 300_000;
    const ds = oneStepEpisodes(n);
    validateDataset(ds);
    const s = summarizeDataset(ds);
    // Returns cycle -3..3 over 7 episodes: 300,000 = 42,857 cycles (sum 0) + 1 episode returning -3.
    expect(s).toEqual({ transitions: n, episodes: n, completeEpisodes: n, meanReturn: -3 / n, minReturn: -3, maxReturn: 3, meanLength: 1 });
  });

  it('a single episode: its return is the min, max and mean', () => {
    const ds = { ...oneStepEpisodes(1), rewards: Float64Array.of(2.5) };
    expect(summarizeDataset(ds)).toMatchObject({ episodes: 1, meanReturn: 2.5, minReturn: 2.5, maxReturn: 2.5 });
  });
});
