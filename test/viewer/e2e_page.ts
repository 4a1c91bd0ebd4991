/**
 * Shared set-up of the viewer e2e files: the page bundle built from the current sources (once per
 * test run: test/helpers/viewer_site.ts), one headless Chromium (the system's, through
 * playwright-core), reacher pairs, and viewer servers plus pages on them. A file calls useLab once
 * at its top and then says only what is particular to its tests.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect } from 'vitest';
import { LabelStore } from '../../reward/store.js';
import type { Pair } from '../../reward/types.js';
import { loadViewerEnv, type ViewerEnv } from '../../viewer/env_info.js';
import { CHROMIUM_ARGS, findChromium, renderToolsAvailable } from '../../viewer/render.js';
import { ViewerServer, type ViewerServerOptions } from '../../viewer/server.js';
import { viewerSite } from '../helpers/viewer_site.js';
import { makePairs } from './helpers.js';

/** A store, a viewer server over it, and their close. */
export interface Served {
  store: LabelStore;
  server: ViewerServer;
  close(): Promise<void>;
}

/** A page signed in on a fresh server (Lab.withPage). */
export interface OnPage {
  page: Page;
  ctx: BrowserContext;
  store: LabelStore;
  server: ViewerServer;
}

/** Two tabs of one browser context (one localStorage) on a fresh server (Lab.withTabs). */
export interface OnTabs {
  /** The first tab, at the server's page, signed in. */
  a: Page;
  /** The second tab: blank, for the test to load (page.goto(url)) when it needs it. */
  b: Page;
  url: string;
  ctx: BrowserContext;
  store: LabelStore;
  server: ViewerServer;
  /** Both tabs' page errors, in the order thrown. */
  errors: string[];
}

export interface Lab {
  readonly browser: Browser;
  readonly env: ViewerEnv;
  readonly pairs: Pair[];
  /** The lab's temporary folder (removed by close). */
  readonly dir: string;
  /** The built page bundle the servers serve. */
  readonly site: string;
  /**
   * A new store in `dir` holding `pairs` (a number: the lab's first that many) and a viewer server
   * over it (the lab's env unless `options` says otherwise).
   */
  serve(pairs?: number | Pair[], options?: Partial<ViewerServerOptions>): Promise<Served>;
  /** A new browser context's page at `url`, signed in as `name`; page errors are collected (openSignedIn). */
  open(url: string, name: string | null, context?: Parameters<Browser['newContext']>[0]): Promise<{ page: Page; ctx: BrowserContext; errors: string[] }>;
  /**
   * A fresh server over the first `count` pairs (3) and a page on it signed in as `name` ('alice'),
   * in a browser context as `context` says; the body runs, the page must have thrown nothing, and
   * page, server and store are closed after.
   */
  withPage(body: (v: OnPage) => Promise<void>, options?: { count?: number; name?: string; context?: Parameters<Browser['newContext']>[0] }): Promise<void>;
  /**
   * One person's two tabs on a fresh server over the first 3 pairs: tab `a` loaded and signed in as
   * alice, tab `b` of the same context left blank; both tabs' page errors are collected in `errors`
   * (the test says when it expects none). All is closed after.
   */
  withTabs(body: (v: OnTabs) => Promise<void>): Promise<void>;
  close(): Promise<void>;
}

export interface LabOptions {
  /** The env the servers describe to their pages, made from reacher's (a term's weight changed, say). */
  env?: (reacher: ViewerEnv) => ViewerEnv;
  /** The reacher rollouts the pairs are cut from (2 episodes of 60 steps, 20-step clips, seed 3: 3 pairs). */
  pairs?: { episodes: number; steps: number; length: number; seed: number };
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

/** Build the page, start Chromium and make reacher pairs (LabOptions); close() undoes it all. */
export async function startLab(prefix: string, options: LabOptions = {}): Promise<Lab> {
  if (!renderToolsAvailable(true)) throw new Error('viewer e2e tests need chromium and ffmpeg: apt-get install -y chromium ffmpeg');
  const dir = mkdtempSync(join(tmpdir(), `prefrl-${prefix}-`));
  const site = await viewerSite();
  const reacher = await loadViewerEnv({ id: 'reacher' });
  const env = options.env ? options.env(reacher) : reacher;
  const pairs = await makePairs('reacher', options.pairs ?? { episodes: 2, steps: 60, length: 20, seed: 3 });
  const browser = await chromium.launch({ executablePath: findChromium(), args: CHROMIUM_ARGS });
  let n = 0;
  const lab: Lab = {
    browser,
    env,
    pairs,
    dir,
    site,
    async serve(which = 3, serverOptions = {}) {
      const store = LabelStore.open(join(dir, `labels-${n++}.sqlite`));
      store.putPairs(typeof which === 'number' ? pairs.slice(0, which) : which);
      const server = await ViewerServer.start({ store, env, port: 0, staticDir: site, ...serverOptions });
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
    async withPage(body, { count = 3, name = 'alice', context = {} } = {}) {
      const srv = await lab.serve(count);
      try {
        const { page, ctx, errors } = await lab.open(srv.server.url, name, context);
        try {
          await body({ page, ctx, store: srv.store, server: srv.server });
          expect(errors).toEqual([]);
        } finally {
          await ctx.close();
        }
      } finally {
        await srv.close();
      }
    },
    async withTabs(body) {
      const srv = await lab.serve(3);
      try {
        const { page: a, ctx, errors } = await lab.open(srv.server.url, 'alice');
        try {
          const b = await ctx.newPage();
          b.on('pageerror', (e) => errors.push(e.message));
          await body({ a, b, url: srv.server.url, ctx, store: srv.store, server: srv.server, errors });
        } finally {
          await ctx.close();
        }
      } finally {
        await srv.close();
      }
    },
    async close() {
      await browser.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return lab;
}

/**
 * The lab of the calling test file (or describe block): started in a beforeAll (up to 120 s: the
 * page's build and Chromium's start) and closed in an afterAll. What it returns reaches the lab
 * once that beforeAll has run.
 */
export function useLab(prefix: string, options: LabOptions = {}): Lab {
  let lab: Lab | undefined;
  beforeAll(async () => {
    lab = await startLab(prefix, options);
  }, 120_000);
  afterAll(async () => {
    await lab?.close();
  });
  const the = (): Lab => {
    if (!lab) throw new Error(`the ${prefix} lab is used before its beforeAll ran (or that failed)`);
    return lab;
  };
  return {
    get browser() {
      return the().browser;
    },
    get env() {
      return the().env;
    },
    get pairs() {
      return the().pairs;
    },
    get dir() {
      return the().dir;
    },
    get site() {
      return the().site;
    },
    serve: (which, serverOptions) => the().serve(which, serverOptions),
    open: (url, name, context) => the().open(url, name, context),
    withPage: (body, o) => the().withPage(body, o),
    withTabs: (body) => the().withTabs(body),
    close: () => the().close(),
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
