/**
 * The render command's checks before any browser starts (checkRenderTarget): the output's type
 * and folder, and a .png's step. No Chromium needed; the render itself is tested in e2e.test.ts.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../core/errors.js';
import type { Pair } from '../../reward/types.js';
import { checkRenderTarget } from '../../viewer/render.js';
import { makePairs } from './helpers.js';

let dir = '';
let pair: Pair;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'prefrl-render-target-'));
  // toy-reach episodes of 50 steps cut into 10-step segments: each clip has steps 0..10.
  [pair] = await makePairs('toy-reach', { episodes: 1, steps: 50, length: 10 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function usage(fn: () => void): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error('expected a UsageError');
}

describe('checkRenderTarget', () => {
  it('accepts .mp4, .webm and .png (any case) in an existing folder, and a .png step from 0 to the clip length', () => {
    for (const name of ['a.mp4', 'b.WEBM', 'c.png']) expect(() => checkRenderTarget(pair, join(dir, name), 'both')).not.toThrow();
    expect(() => checkRenderTarget(pair, join(dir, 'c.png'), 'a', 10)).not.toThrow();
  });
  it('refuses another type, a missing folder, a folder as the file, and a step past the clips, naming the flag', () => {
    expect(usage(() => checkRenderTarget(pair, join(dir, 'x.gif'), 'both'))).toBe(`--out ${join(dir, 'x.gif')}: expected a .mp4, .webm or .png file`);
    expect(usage(() => checkRenderTarget(pair, join(dir, 'nope', 'x.png'), 'both'))).toBe(`--out ${join(dir, 'nope', 'x.png')}: ${join(dir, 'nope')} is not an existing folder`);
    writeFileSync(join(dir, 'file'), 'x');
    expect(usage(() => checkRenderTarget(pair, join(dir, 'file', 'x.png'), 'both'))).toMatch(/is not an existing folder$/);
    mkdirSync(join(dir, 'folder.png'));
    expect(usage(() => checkRenderTarget(pair, join(dir, 'folder.png'), 'both'))).toBe(`--out ${join(dir, 'folder.png')}: is a folder`);
    expect(usage(() => checkRenderTarget(pair, join(dir, 'c.png'), 'b', 11))).toBe('--step 11: the clips have steps 0..10');
    expect(usage(() => checkRenderTarget(pair, join(dir, 'c.png'), 'both', -1))).toBe('--step -1: the clips have steps 0..10');
    // A video takes every step: --step is not checked there.
    expect(() => checkRenderTarget(pair, join(dir, 'v.mp4'), 'both', 99)).not.toThrow();
  });
});
