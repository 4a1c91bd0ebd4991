import { describe, expect, it, vi } from 'vitest';
import { Bc } from '../../agents/bc.js';
import { describeBackend, initBackend } from '../../core/backend.js';
import { Rng } from '../../core/rng.js';
import { RewardNet } from '../../reward/network.js';

describe('describeBackend', () => {
  it('names the backend and the native packages that are not installed, in one short line', () => {
    const info = {
      name: 'wasm',
      kind: 'wasm' as const,
      skipped: [
        "gpu: @tensorflow/tfjs-node-gpu not available (Cannot find package '@tensorflow/tfjs-node-gpu' imported from /x/core/backend.js)",
        "node: @tensorflow/tfjs-node not available (Cannot find package '@tensorflow/tfjs-node' imported from /x/core/backend.js)",
      ],
    };
    expect(describeBackend(info)).toBe('tensor backend: wasm (not installed: @tensorflow/tfjs-node-gpu, @tensorflow/tfjs-node)');
  });

  it('keeps the reason of an installed backend that failed, and says nothing more when the first choice worked', () => {
    const info = { name: 'wasm', kind: 'wasm' as const, skipped: ['gpu: tensorflow backend failed to initialise', "node: @tensorflow/tfjs-node not available (Cannot find module 'x')"] };
    expect(describeBackend(info)).toBe('tensor backend: wasm (not installed: @tensorflow/tfjs-node; gpu: tensorflow backend failed to initialise)');
    expect(describeBackend({ name: 'tensorflow', kind: 'gpu', skipped: [] })).toBe('tensor backend: tensorflow');
  });
});

describe('a tensor model made before initBackend', () => {
  it('warns once per process (at the first reward net, IQL or BC), naming initBackend', async () => {
    // (This file chooses no backend before this test; TensorFlow.js uses its plain-JS one meanwhile.)
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const made = [RewardNet.create({ obsDim: 2, actDim: 1, members: 1, hidden: [4] }, new Rng(0)), RewardNet.create({ obsDim: 2, actDim: 1, members: 1, hidden: [4] }, new Rng(1))];
      new Bc(2, 1, [-1], [1], { hidden: [4], updates: 1 }).dispose();
      expect(warn.mock.calls).toEqual([
        [
          'RewardNet.create before initBackend(): TensorFlow.js falls back to its plain-JS backend, many times slower than WASM; call `await initBackend()` once first',
          'PrefrlWarning',
        ],
      ]);
      for (const net of made) net.dispose();
      await initBackend('cpu');
    } finally {
      warn.mockRestore();
    }
  });
});
