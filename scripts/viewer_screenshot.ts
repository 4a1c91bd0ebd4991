/**
 * Makes docs/viewer.png, the README's picture of the labelling page: a temporary label store
 * with cheetah-run pairs from a seeded random policy, a viewer server on it, headless
 * Chromium answering two pairs by key and pausing the third mid-clip, then a screenshot
 * (re-quantised with ffmpeg when that keeps it under 300 KB).
 *
 *   npx tsx scripts/viewer_screenshot.ts [--out docs/viewer.png] [--env cheetah-run]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { Rng } from '../core/rng.js';
import { makeEnv } from '../envs/registry.js';
import { randomPolicy, rollout } from '../envs/rollout.js';
import { cutSegments, makePair } from '../reward/segments.js';
import { LabelStore } from '../reward/store.js';
import { loadViewerEnv } from '../viewer/env_info.js';
import { CHROMIUM_ARGS, findChromium } from '../viewer/render.js';
import { ViewerServer } from '../viewer/server.js';
import { makeFolder } from '../core/paths.js';

const args = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : dflt;
};
const out = resolve(arg('--out', 'docs/viewer.png'));
const envId = arg('--env', 'cheetah-run');
const MAX_BYTES = 300 * 1024;

const dir = mkdtempSync(join(tmpdir(), 'prefrl-screenshot-'));
const store = LabelStore.open(join(dir, 'labels.sqlite'));
const env = await makeEnv(envId);
const trajs = rollout(env, randomPolicy(env.spec, new Rng(7)), { episodes: 3, seed: 7, maxSteps: 200 });
env.dispose();
const segs = cutSegments(trajs, { length: 50 });
store.putPairs([0, 1, 2].map((k) => makePair(segs[2 * k + 1], segs[2 * k + 2])));
const server = await ViewerServer.start({ store, env: await loadViewerEnv({ id: envId }), port: 0 });
const browser = await chromium.launch({ executablePath: findChromium(), args: CHROMIUM_ARGS });
try {
  const ctx = await browser.newContext({ viewport: { width: 1200, height: 830 } });
  await ctx.addInitScript(() => localStorage.setItem('prefrl.name', JSON.stringify('Ada')));
  const page = await ctx.newPage();
  const ready = async (skip: string | null) => {
    await page.waitForFunction(
      (s) => {
        const c = (window as unknown as { prefrlDebug?: { current(): { pairId: string; ready: boolean } | null } }).prefrlDebug?.current();
        return !!c && c.ready && c.pairId !== s;
      },
      skip,
      { timeout: 60_000 },
    );
    return page.evaluate(() => (window as unknown as { prefrlDebug: { current(): { pairId: string } } }).prefrlDebug.current().pairId);
  };
  await page.goto(server.url);
  let id = await ready(null);
  await page.keyboard.press('ArrowRight');
  id = await ready(id);
  await page.keyboard.press('ArrowDown');
  id = await ready(id);
  await page.keyboard.press('p');
  // Show a step two thirds into the clip.
  await page.$eval('#scrub', (el) => {
    const s = el as HTMLInputElement;
    s.value = String(Math.round((2 * Number(s.max)) / 3));
    s.dispatchEvent(new Event('input'));
  });
  await page.fill('#comment', 'right one lands its feet better');
  await page.waitForTimeout(600);
  makeFolder(dirname(out));
  const raw = join(dir, 'raw.png');
  await page.screenshot({ path: raw });
  let bytes = statSync(raw).size;
  if (bytes > MAX_BYTES) {
    // 8-bit palette PNG: the page is flat colours and smooth shading, which quantise well.
    const q = join(dir, 'q.png');
    const r = spawnSync('ffmpeg', ['-y', '-loglevel', 'error', '-i', raw, '-vf', 'split[a][b];[a]palettegen=max_colors=192:stats_mode=full[p];[b][p]paletteuse=dither=none', q]);
    if (r.status === 0 && statSync(q).size < bytes) {
      renameSync(q, raw);
      bytes = statSync(raw).size;
    }
  }
  renameSync(raw, out);
  process.stdout.write(`wrote ${out} (${Math.round(bytes / 1024)} KB${bytes > MAX_BYTES ? ', over the 300 KB budget' : ''})\n`);
} finally {
  await browser.close();
  await server.close();
  store.close();
  rmSync(dir, { recursive: true, force: true });
}
