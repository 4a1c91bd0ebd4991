/**
 * Shared set-up of the smaller viewer e2e files (e2e_heron_touch, e2e_keyboard, e2e_two_tabs):
 * the page bundle built from the current sources (once per test run: test/helpers/viewer_site.ts), one headless Chromium
 * (the system's, through playwright-core), reacher pairs, and a viewer server plus pages on it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { LabelStore } from '../../reward/store.js';
import type { Pair } from '../../reward/types.js';
import { loadViewerEnv, type ViewerEnv } from '../../viewer/env_info.js';
import { CHROMIUM_ARGS, findChromium, renderToolsAvailable } from '../../viewer/render.js';
import { ViewerServer } from '../../viewer/server.js';
import { viewerSite } from '../helpers/viewer_site.js';
import { makePairs } from './helpers.js';

export interface Lab {
  readonly browser: Browser;
  readonly env: ViewerEnv;
  readonly pairs: Pair[];
  /** A store holding the first `count` pairs and a viewer server over it. */
  serve(count?: number): Promise<{ store: LabelStore; server: ViewerServer; close(): Promise<void> }>;
  /** A new browser context's page at `url`, signed in as `name`; page errors are collected. */
  open(url: string, name: string, context?: Parameters<Browser['newContext']>[0]): Promise<{ page: Page; ctx: BrowserContext; errors: string[] }>;
  close(): Promise<void>;
}

/**
 * A new browser context (820 x 640 unless `context` says otherwise) with its page at `url`, signed
 * in as `name` (null: no name yet, the name dialog shows); page errors are collected.
 * `clock`: Playwright's clock is installed before the page loads. Time still runs as usual, and
 * `page.clock.fastForward(ms)` fires the page's timers due within `ms` at once (the page's retry of
 * a stopped server every 4 s, say) instead of the test waiting for them.
 */
export async function openSignedIn(
  browser: Browser,
  url: string,
  name: string | null,
  context: Parameters<Browser['newContext']>[0] = {},
  options: { clock?: boolean } = {},
): Promise<{ page: Page; ctx: BrowserContext; errors: string[] }> {
  const ctx = await browser.newContext({ viewport: { width: 820, height: 640 }, ...context });
  if (name !== null) {
    await ctx.addInitScript((nm) => {
      if (localStorage.getItem('prefrl.name') === null) localStorage.setItem('prefrl.name', JSON.stringify(nm));
    }, name);
  }
  const page = await ctx.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  if (options.clock === true) await page.clock.install();
  await page.goto(url);
  return { page, ctx, errors };
}

/** Build the page, start Chromium and make reacher pairs (2 episodes of 60 steps, 20-step clips: 3 pairs). */
export async function startLab(prefix: string): Promise<Lab> {
  if (!renderToolsAvailable(true)) throw new Error('viewer e2e tests need chromium and ffmpeg: apt-get install -y chromium ffmpeg');
  const dir = mkdtempSync(join(tmpdir(), `prefrl-${prefix}-`));
  const site = await viewerSite();
  const env = await loadViewerEnv({ id: 'reacher' });
  const pairs = await makePairs('reacher', { episodes: 2, steps: 60, length: 20, seed: 3 });
  const browser = await chromium.launch({ executablePath: findChromium(), args: CHROMIUM_ARGS });
  let n = 0;
  return {
    browser,
    env,
    pairs,
    async serve(count = 3) {
      const store = LabelStore.open(join(dir, `labels-${n++}.sqlite`));
      store.putPairs(pairs.slice(0, count));
      const server = await ViewerServer.start({ store, env, port: 0, staticDir: site });
      return {
        store,
        server,
        async close() {
          await server.close();
          store.close();
        },
      };
    },
    open: (url, name, context = {}) => openSignedIn(browser, url, name, context),
    async close() {
      await browser.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface DebugCurrent {
  pairId: string;
  leftIs: 'a' | 'b';
  ready: boolean;
  preview: boolean;
}

/** Wait until a pair (other than `notPair`) is on screen with both clips ready; its id and layout. */
export async function waitReady(page: Page, notPair?: string): Promise<{ pairId: string; leftIs: 'a' | 'b' }> {
  await page.waitForFunction(
    (skip) => {
      const c = (window as unknown as { prefrlDebug?: { current(): DebugCurrent | null } }).prefrlDebug?.current();
      return c !== null && c !== undefined && c.ready && c.pairId !== skip;
    },
    notPair ?? null,
    { timeout: 40_000 },
  );
  return page.evaluate(() => (window as unknown as { prefrlDebug: { current(): DebugCurrent } }).prefrlDebug.current());
}

/** The HERON page's ranking as its JSON box shows it. */
export async function heronRanking(page: Page): Promise<string[]> {
  return (JSON.parse((await page.textContent('#heron-json')) as string) as { ranking: string[] }).ranking;
}

/** Poll `cond` in Node every 50 ms (store contents); throws after `ms`. */
export async function waitFor(cond: () => boolean, ms = 15_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
