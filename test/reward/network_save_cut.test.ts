// A reward model save cut short at any point leaves a folder that loads one whole model (the old
// or the new one), and weights of another save beside a model.json are refused, not loaded.
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../core/backend.js';
import { InputError } from '../../core/errors.js';
import { Rng } from '../../core/rng.js';
import { MODEL_FILE, RewardNet, WEIGHTS_FILE } from '../../reward/network.js';

let dir = '';
beforeAll(async () => {
  await initBackend('wasm');
  dir = mkdtempSync(join(tmpdir(), 'prefrl-save-cut-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CONFIG = { obsDim: 3, actDim: 1, hidden: [4], members: 2 } as const;

/** Two saves of one architecture with different weights (seeds 1 and 2), in folders of their own. */
function twoSaves(name: string): { old: string; fresh: string; oldWeights: number[]; freshWeights: number[] } {
  const weightsOf = (seed: number, path: string) => {
    const net = RewardNet.create(CONFIG, new Rng(seed));
    try {
      net.save(path);
      return [0, 1].flatMap((k) => net.getMemberWeights(k).flatMap((w) => Array.from(w)));
    } finally {
      net.dispose();
    }
  };
  const old = join(dir, `${name}-old`);
  const fresh = join(dir, `${name}-new`);
  return { old, fresh, oldWeights: weightsOf(1, old), freshWeights: weightsOf(2, fresh) };
}

function loadedWeights(path: string): number[] {
  const net = RewardNet.load(path);
  try {
    return [0, 1].flatMap((k) => net.getMemberWeights(k).flatMap((w) => Array.from(w)));
  } finally {
    net.dispose();
  }
}

describe('RewardNet.save cut short', () => {
  it('a finished save leaves model.json and weights.bin only, and records the weights\' SHA-256', () => {
    const { fresh } = twoSaves('done');
    expect(readdirSync(fresh).sort()).toEqual([MODEL_FILE, WEIGHTS_FILE].sort());
    const doc = JSON.parse(readFileSync(join(fresh, MODEL_FILE), 'utf8')) as { weights: { sha256: string } };
    expect(doc.weights.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('cut after the new weights were written, before model.json: the old model loads', () => {
    const { old, fresh, oldWeights } = twoSaves('before-json');
    copyFileSync(join(fresh, WEIGHTS_FILE), join(old, `${WEIGHTS_FILE}.next`));
    expect(loadedWeights(old)).toEqual(oldWeights);
  });

  it('cut after model.json was replaced, before the weights: the new model loads (from weights.bin.next)', () => {
    const { old, fresh, freshWeights } = twoSaves('after-json');
    copyFileSync(join(fresh, MODEL_FILE), join(old, MODEL_FILE));
    copyFileSync(join(fresh, WEIGHTS_FILE), join(old, `${WEIGHTS_FILE}.next`));
    expect(loadedWeights(old)).toEqual(freshWeights);
    // The next save of the model finishes the folder.
    const net = RewardNet.load(old);
    try {
      net.save(old);
    } finally {
      net.dispose();
    }
    expect(existsSync(join(old, `${WEIGHTS_FILE}.next`))).toBe(false);
    expect(loadedWeights(old)).toEqual(freshWeights);
  });

  it('the weights of another save beside model.json are refused, naming weights.bin (they loaded silently)', () => {
    const { old, fresh } = twoSaves('mixed');
    copyFileSync(join(fresh, WEIGHTS_FILE), join(old, WEIGHTS_FILE));
    expect(() => RewardNet.load(old)).toThrow(
      new InputError(join(old, WEIGHTS_FILE), `does not hold the weights ${MODEL_FILE} was saved with (their SHA-256 differs): the weights of another save of the model, or a damaged file`),
    );
  });

  it('a model.json without a SHA-256 (saved before it was recorded) loads unchecked; a malformed one is refused', () => {
    const { old, oldWeights } = twoSaves('legacy');
    const path = join(old, MODEL_FILE);
    const doc = JSON.parse(readFileSync(path, 'utf8')) as { weights: Record<string, unknown> };
    delete doc.weights.sha256;
    writeFileSync(path, JSON.stringify(doc));
    expect(loadedWeights(old)).toEqual(oldWeights);
    doc.weights.sha256 = 'ABC';
    writeFileSync(path, JSON.stringify(doc));
    expect(() => RewardNet.load(old)).toThrow(new InputError(path, 'weights.sha256 must be 64 lowercase hex digits, got "ABC"', 'weights.sha256'));
  });
});
