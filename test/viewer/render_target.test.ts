/**
 * The render command's checks before any browser starts (checkRenderTarget): the output's type
 * and folder, and a .png's step; for recorded episodes, which folder and episodes are meant, and
 * the flags that do not go together. No Chromium needed; the render itself is tested in
 * e2e.test.ts.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabelStore } from '../../reward/store.js';
import type { Pair } from '../../reward/types.js';
import { checkRenderTarget, defaultFps, pairClips, videoSteps } from '../../viewer/render.js';
import { main } from '../../scripts/cli.js';
import { episodeClips, parseEpisodes, resolveTrajectoryDir } from '../../scripts/commands/render.js';
import { captureCli, lastJson, usageMessage } from '../helpers/cli.js';
import { makePairs } from './helpers.js';

let dir = '';
let pair: Pair;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'prefrl-render-target-'));
  // toy-reach episodes of 50 steps cut into 10-step segments: each clip has steps 0..10.
  [pair] = await makePairs('toy-reach', { episodes: 1, steps: 50, length: 10 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('checkRenderTarget', () => {
  it('accepts .mp4, .webm and .png (any case) in an existing folder, and a .png step from 0 to the clip length', () => {
    for (const name of ['a.mp4', 'b.WEBM', 'c.png']) expect(() => checkRenderTarget(pairClips(pair, 'both'), join(dir, name))).not.toThrow();
    expect(() => checkRenderTarget(pairClips(pair, 'a'), join(dir, 'c.png'), 10)).not.toThrow();
  });
  it('refuses another type, a missing folder, a folder as the file, and a step past the clips, naming the flag', () => {
    expect(usageMessage(() => checkRenderTarget(pairClips(pair, 'both'), join(dir, 'x.gif')))).toBe(`--out ${join(dir, 'x.gif')}: expected a .mp4, .webm or .png file`);
    expect(usageMessage(() => checkRenderTarget(pairClips(pair, 'both'), join(dir, 'nope', 'x.png')))).toBe(`--out ${join(dir, 'nope', 'x.png')}: ${join(dir, 'nope')} is not an existing folder`);
    writeFileSync(join(dir, 'file'), 'x');
    expect(usageMessage(() => checkRenderTarget(pairClips(pair, 'both'), join(dir, 'file', 'x.png')))).toMatch(/is not an existing folder$/);
    mkdirSync(join(dir, 'folder.png'));
    expect(usageMessage(() => checkRenderTarget(pairClips(pair, 'both'), join(dir, 'folder.png')))).toBe(`--out ${join(dir, 'folder.png')}: is a folder`);
    expect(usageMessage(() => checkRenderTarget(pairClips(pair, 'b'), join(dir, 'c.png'), 11))).toBe('--step 11: the clips have steps 0..10');
    expect(usageMessage(() => checkRenderTarget(pairClips(pair, 'both'), join(dir, 'c.png'), -1))).toBe('--step -1: the clips have steps 0..10');
    // A video takes every step: --step is not checked there.
    expect(() => checkRenderTarget(pairClips(pair, 'both'), join(dir, 'v.mp4'), 99)).not.toThrow();
  });
});

describe('render --trajectories', () => {
  it('finds the episodes of a rollout run folder or its trajectory folder, and refuses others naming the flag', async () => {
    const { ctx, out } = captureCli();
    expect(await main(['rollout', '--env', 'toy-reach', '--episodes', '3', '--runs-dir', join(dir, 'runs'), '--quiet', '--json'], ctx)).toBe(0);
    const { runDir, trajectories } = lastJson<{ runDir: string; trajectories: string }>(out);
    expect(resolveTrajectoryDir(runDir)).toEqual({ dir: trajectories, runConfig: join(runDir, 'config.json') });
    expect(resolveTrajectoryDir(trajectories)).toEqual({ dir: trajectories, runConfig: join(runDir, 'config.json') });
    const src = episodeClips(runDir, '2,0', undefined, undefined);
    expect(src.clips.map((c) => c.length)).toEqual([50, 50]);
    expect(src.what).toEqual({ trajectories, episodes: [2, 0] });
    expect(usageMessage(() => resolveTrajectoryDir(join(dir, 'none')))).toBe(`--trajectories: ${join(dir, 'none')} not found`);
    expect(usageMessage(() => resolveTrajectoryDir(dir))).toBe(`--trajectories: ${dir} holds no recorded episodes (expected a trajectory folder with index.json, or a prefrl rollout run folder)`);
    // A run with several envs (prefrl tour) has to be named down to one.
    const tour = join(dir, 'tour');
    for (const e of ['a', 'b']) cpSync(trajectories, join(tour, 'artifacts', 'trajectories', e), { recursive: true });
    expect(usageMessage(() => resolveTrajectoryDir(tour))).toBe(`--trajectories: ${tour} holds episodes of 2 envs; name one: ${join(tour, 'artifacts', 'trajectories', 'a')}, ${join(tour, 'artifacts', 'trajectories', 'b')}`);
  });

  it('finds a bring-your-own model\'s episodes\' env in the rollout run\'s config, or asks for --env', async () => {
    const arm = join(import.meta.dirname, '..', 'fixtures', 'byo', 'arm.xml');
    const { ctx, out } = captureCli();
    expect(await main(['rollout', '--env', arm, '--episodes', '1', '--runs-dir', join(dir, 'byo'), '--quiet', '--json'], ctx)).toBe(0);
    const { runDir, trajectories } = lastJson<{ runDir: string; trajectories: string }>(out);
    expect(episodeClips(runDir, '0', undefined, undefined).envConfig).toEqual({ id: 'custom', model: arm });
    // The trajectory folder copied away from its run: the env is not known any more.
    const lone = join(dir, 'lone');
    cpSync(trajectories, lone, { recursive: true });
    expect(usageMessage(() => episodeClips(lone, '0', undefined, undefined))).toMatch(/a bring-your-own model; pass --env path\/to\/model\.xml/);
    expect(episodeClips(lone, '0', arm, undefined).envConfig).toEqual({ id: 'custom', model: arm });
  });

  it('parses --episode: one index or two, within the folder', () => {
    expect(parseEpisodes('0', 3)).toEqual([0]);
    expect(parseEpisodes(' 2, 1', 3)).toEqual([2, 1]);
    expect(usageMessage(() => parseEpisodes('3', 3))).toBe('--episode 3: the folder holds 3 episodes (0..2)');
    expect(usageMessage(() => parseEpisodes('0', 0))).toBe('--episode 0: the folder holds no episodes');
    expect(usageMessage(() => parseEpisodes('1', 1))).toBe('--episode 1: the folder holds 1 episode (0..0)');
    for (const bad of ['1,2,3', '-1', 'a', '1.5', '']) expect(usageMessage(() => parseEpisodes(bad, 3))).toMatch(/^--episode: expected an episode index or two \(N,M\)/);
  });

  it('refuses flags that do not go together with exit 2, before any browser starts', async () => {
    const cases: [string[], string][] = [
      [['--out', join(dir, 'x.png')], 'prefrl render: give either --store and --pair (a stored pair) or --trajectories (recorded episodes)'],
      [['--store', 's.sqlite', '--trajectories', dir, '--out', join(dir, 'x.png')], 'prefrl render: give either --store and --pair (a stored pair) or --trajectories (recorded episodes)'],
      [['--trajectories', dir, '--side', 'a', '--out', join(dir, 'x.png')], 'prefrl render: --side: only with --store (two episodes are chosen with --episode N,M)'],
      [['--trajectories', dir, '--pair', '0', '--out', join(dir, 'x.png')], 'prefrl render: --pair: only with --store (two episodes are chosen with --episode N,M)'],
      [['--store', 's.sqlite', '--episode', '1', '--out', join(dir, 'x.png')], 'prefrl render: --episode: only with --trajectories (pairs are chosen with --pair)'],
      [['--store', join(dir, 'missing.sqlite'), '--out', join(dir, 'x.png')], 'prefrl render: --pair: required with --store (a pair id, or its 0-based index)'],
    ];
    for (const [args, message] of cases) {
      const { ctx, err } = captureCli();
      expect(await main(['render', ...args], ctx)).toBe(2);
      expect(err.join('')).toBe(`${message}\n`);
    }
  });
});

describe('video frame rate', () => {
  it('defaults to one frame per env step, at most 60 fps, and keeps real time by showing every k-th step', () => {
    expect(defaultFps(0.02)).toBe(50); // reacher, cartpole
    expect(defaultFps(0.05)).toBe(20); // cheetah, pusher
    expect(defaultFps(0.002)).toBe(60); // a bring-your-own model stepping at 500 Hz
    expect(defaultFps(10)).toBe(1);
    // 1 s of 0.002 s steps at 60 fps: 61 frames (both ends), steps 0, 8, 17, ... 500.
    const steps = videoSteps(500, 0.002, 60);
    expect(steps).toHaveLength(61);
    expect(steps.slice(0, 4)).toEqual([0, 8, 17, 25]);
    expect(steps.at(-1)).toBe(500);
  });

  it('refuses an --env other than the one the clips were recorded in, with exit 2, before any browser starts', async () => {
    const storePath = join(dir, 'env-check.sqlite');
    const store = LabelStore.open(storePath);
    store.putPairs([pair], { round: 0 });
    store.close();
    const runs = join(dir, 'env-check-runs');
    const roll = captureCli();
    expect(await main(['rollout', '--env', 'toy-reach', '--episodes', '1', '--runs-dir', runs, '--quiet', '--json'], roll.ctx)).toBe(0);
    const { trajectories } = lastJson<{ trajectories: string }>(roll.out);
    const arm = join(import.meta.dirname, '..', 'fixtures', 'byo', 'arm.xml');
    const cases: [string[], string][] = [
      [['--store', storePath, '--pair', '0', '--env', 'reacher'], `prefrl render: --env: ${storePath} holds toy-reach clips, not reacher`],
      [['--store', storePath, '--pair', '0', '--env', arm], `prefrl render: --env: ${storePath} holds toy-reach clips, not custom:arm.xml`],
      [['--trajectories', trajectories, '--env', 'cheetah-run'], `prefrl render: --env: ${trajectories} holds toy-reach clips, not cheetah-run`],
    ];
    for (const [args, message] of cases) {
      const { ctx, err } = captureCli();
      expect(await main(['render', ...args, '--out', join(dir, 'wrong-env.png')], ctx)).toBe(2);
      expect(err.join('')).toBe(`${message}\n`);
    }
    expect(existsSync(join(dir, 'wrong-env.png'))).toBe(false);
    // The env the clips were recorded in passes the check (no browser here: checked directly).
    expect(episodeClips(trajectories, '0', 'toy-reach', undefined).envConfig).toEqual({ id: 'toy-reach' });
  });
});
