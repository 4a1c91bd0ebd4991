/**
 * `prefrl render`'s closing line and --json tell how long the video plays apart from how long
 * rendering took; --trajectories given a train run folder points to its label store, and a file
 * is called a file. No browser is needed: the refusals come before one starts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeFolder } from '../core/paths.js';
import { main } from '../scripts/cli.js';
import { videoSeconds, wroteLine } from '../scripts/commands/render.js';
import { captureCli } from './helpers/cli.js';

describe('prefrl render: what its numbers are', () => {
  it('a video: frames / fps seconds of video, and the rendering time named as such', () => {
    // Measured: a 10-step pair at 50 fps gave 11 frames, and ffprobe read duration=0.220000.
    const r = { out: 'p.mp4', frames: 11, width: 1280, height: 480, fps: 50, seconds: 15.63 };
    expect(videoSeconds(r)).toBeCloseTo(0.22, 12);
    // Before: "wrote p.mp4: 11 frames, 1280x480 at 50 fps (15.6 s)", read as the video's length.
    expect(wroteLine(r)).toBe('wrote p.mp4: 11 frames, 1280x480 at 50 fps, 0.22 s of video (rendered in 15.6 s)');
    const png = { out: 'a.png', frames: 1, width: 640, height: 480, fps: null, seconds: 4.7 };
    expect(videoSeconds(png)).toBeNull();
    expect(wroteLine(png)).toBe('wrote a.png: 1 frame, 640x480 (rendered in 4.7 s)');
  });

  it('--trajectories on a train run folder names its label store; on a file, says it is a file', async () => {
    const root = mkdtempSync(join(tmpdir(), 'after-render-'));
    const run = join(root, '20261207-103552-train-reacher-oracle-s0');
    makeFolder(run);
    writeFileSync(join(run, 'config.json'), JSON.stringify({ command: 'train' }));
    writeFileSync(join(run, 'labels.sqlite'), '');
    const file = join(root, 'train.out');
    writeFileSync(file, 'final true return -201.54\n');
    const expected = 'expected a trajectory folder with index.json, or a prefrl rollout run folder';
    const a = captureCli();
    expect(await main(['render', '--trajectories', run, '--out', join(root, 'e.png'), '--quiet'], a.ctx)).toBe(2);
    expect(a.err.join('')).toBe(`prefrl render: --trajectories: ${run} holds no recorded episodes (${expected}); it holds a label store, whose pairs render with --store ${join(run, 'labels.sqlite')} --pair 0\n`);
    const b = captureCli();
    expect(await main(['render', '--trajectories', file, '--out', join(root, 'e.png'), '--quiet'], b.ctx)).toBe(2);
    // Before: "<file> holds no recorded episodes".
    expect(b.err.join('')).toBe(`prefrl render: --trajectories: ${file} is a file, not a folder (${expected})\n`);
    rmSync(root, { recursive: true, force: true });
  });
});
