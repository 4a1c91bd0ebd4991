/**
 * Shared by the HERON page's e2e files (e2e_heron_*.test.ts): a phone's browser
 * context, one finger's swipe through the DevTools protocol, an element's centre, the samples'
 * View buttons, and the HERON tab opened on a page of a fresh server.
 */
import type { CDPSession, Page } from 'playwright-core';
import { type Lab, waitReady } from './e2e_page.js';

/** A phone: a touch screen (coarse pointer) and a mobile viewport. */
export const PHONE = { viewport: { width: 390, height: 740 }, hasTouch: true, isMobile: true };
/** reacher's terms, first guess by |weight|. */
export const FIRST_GUESS = ['fingertip_distance', 'on_target', 'control_effort'];

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One finger from `from` to `to` in `steps` moves 16 ms apart, held still a moment, then lifted. */
export async function swipe(cdp: CDPSession, from: [number, number], to: [number, number], steps = 12): Promise<void> {
  await touchDown(cdp, from);
  await touchMoves(cdp, from, to, steps);
  await sleep(100);
  await touchUp(cdp);
}

/** One finger put down at `at`. */
export async function touchDown(cdp: CDPSession, at: [number, number]): Promise<void> {
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [{ x: at[0], y: at[1] }] });
}

/** The finger (put down at `from`) moved to `to` in `steps` moves 16 ms apart. */
export async function touchMoves(cdp: CDPSession, from: [number, number], to: [number, number], steps = 12): Promise<void> {
  for (let k = 1; k <= steps; k++) {
    await sleep(16);
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: [{ x: from[0] + ((to[0] - from[0]) * k) / steps, y: from[1] + ((to[1] - from[1]) * k) / steps }] });
  }
}

/** Every finger lifted. */
export async function touchUp(cdp: CDPSession): Promise<void> {
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
}

/**
 * The centre of `sel` in window coordinates. It must be inside the window: a finger or mouse put
 * down outside lands on nothing, and what a test meant as a drag becomes a pan of the page.
 */
export async function centre(page: Page, sel: string): Promise<[number, number]> {
  const b = await page.locator(sel).boundingBox();
  if (!b) throw new Error(`${sel} is not on screen`);
  const c: [number, number] = [b.x + b.width / 2, b.y + b.height / 2];
  const size = page.viewportSize();
  if (size && (c[0] < 0 || c[1] < 0 || c[0] > size.width || c[1] > size.height)) {
    throw new Error(`${sel}'s centre (${c.map((v) => v.toFixed(0)).join(', ')}) is outside the ${size.width}x${size.height} window: scroll it into view first`);
  }
  return c;
}

/** The smaller side of each sample's View button, once the three samples are shown. */
export async function viewSizes(page: Page): Promise<number[]> {
  await page.waitForFunction(() => document.querySelectorAll('#heron-samples button').length === 3);
  return page.$$eval('#heron-samples button', (bs) => bs.map((b) => b.getBoundingClientRect()).map((b) => Math.min(b.width, b.height)));
}

export const scrollY = (page: Page): Promise<number> => page.evaluate(() => window.scrollY);

/**
 * Open the HERON tab on a page of a fresh server of `lab` (a phone unless `context` says otherwise)
 * once the welcome has listed the terms, or with `clips` once the first pair is on screen (the
 * physics engine's load and the clips' drawing cost seconds on a busy machine, and most tests need
 * neither). The body gets the page and a DevTools session; the page must have thrown nothing.
 */
export async function onHeron(lab: Lab, body: (page: Page, cdp: CDPSession) => Promise<void>, context: Parameters<Lab['open']>[2] = PHONE, clips = false): Promise<void> {
  await lab.withPage(
    async ({ page, ctx }) => {
      if (clips) await waitReady(page);
      else await page.waitForFunction(() => document.querySelectorAll('#heron-terms li').length === 3);
      await page.locator('#tab-btn-heron').click();
      await page.waitForSelector('#heron-samples tr');
      const cdp = await ctx.newCDPSession(page);
      await body(page, cdp);
    },
    { context },
  );
}
