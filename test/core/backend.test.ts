import { describe, expect, it } from 'vitest';
import { describeBackend } from '../../core/backend.js';

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
