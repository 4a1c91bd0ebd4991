/**
 * The HERON page on a phone: at 375 x 667 nothing runs past the window's edge or scrolls
 * sideways (the samples table did: its View buttons lay off screen), the samples show as cards
 * and every control a finger uses is at least 44 px, as the View buttons are on a touch screen of
 * any width.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onHeron as onHeronOf, PHONE } from './e2e_heron_helpers.js';
import { type Lab, startLab } from './e2e_page.js';

let lab: Lab;

beforeAll(async () => {
  lab = await startLab('heron-phone');
}, 120_000);

afterAll(async () => {
  await lab?.close();
});

const onHeron = (body: Parameters<typeof onHeronOf>[1], context?: Parameters<typeof onHeronOf>[2]): Promise<void> => onHeronOf(lab, body, context);

/** The smaller side of each sample's View button, once the three samples are shown. */
async function viewSizes(page: Parameters<Parameters<typeof onHeronOf>[1]>[0]): Promise<number[]> {
  await page.waitForFunction(() => document.querySelectorAll('#heron-samples button').length === 3);
  return page.$$eval('#heron-samples button', (bs) => bs.map((b) => b.getBoundingClientRect()).map((b) => Math.min(b.width, b.height)));
}

describe('HERON samples on a phone', () => {
  it('at 375 x 667 nothing on the HERON page runs past the window or scrolls sideways, and every View button is at least 44 px and on screen', async () => {
    await onHeron(
      async (page) => {
        await page.waitForFunction(() => document.querySelectorAll('#heron-samples button').length === 3);
        const layout = await page.evaluate(() => {
          const past: string[] = [];
          for (const e of document.querySelectorAll<HTMLElement>('#tab-heron *')) {
            const b = e.getBoundingClientRect();
            if (b.width > 0 && (b.left < 0 || b.right > window.innerWidth)) past.push(`${e.tagName.toLowerCase()}.${e.className} ${Math.round(b.left)}..${Math.round(b.right)}`);
            // Nothing inside the page scrolls sideways either (the samples table used to).
            if (e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== 'visible') past.push(`${e.tagName.toLowerCase()}.${e.className} scrolls ${e.scrollWidth} > ${e.clientWidth}`);
          }
          const views = [...document.querySelectorAll('#heron-samples button')].map((b) => b.getBoundingClientRect()).map((b) => ({ w: b.width, h: b.height, left: b.left, right: b.right }));
          return { past, views, doc: document.documentElement.scrollWidth - document.documentElement.clientWidth };
        });
        expect(layout.past).toEqual([]);
        expect(layout.doc).toBe(0);
        for (const v of layout.views) {
          expect(Math.min(v.w, v.h)).toBeGreaterThanOrEqual(44);
          expect(v.left).toBeGreaterThanOrEqual(0);
          expect(v.right).toBeLessThanOrEqual(375);
        }
        // The other controls a finger uses on the page are 44 px too: handles, on boxes, margins, directions, moves, save and download.
        const small = await page.$$eval('#tab-heron button, #tab-heron select, #tab-heron input[type=number], #tab-heron .on-box, #tab-heron .handle', (es) =>
          es.map((e) => [e, e.getBoundingClientRect()] as const).filter(([, b]) => Math.min(b.width, b.height) < 44).map(([e, b]) => `${e.tagName.toLowerCase()}.${e.className} ${b.width}x${b.height}`),
        );
        expect(small).toEqual([]);
        expect(await page.$$eval('#tab-heron button, #tab-heron select, #tab-heron input[type=number], #tab-heron .on-box, #tab-heron .handle', (es) => es.length)).toBe(3 * 6 + 2 + 3);
        // A 320 px phone: the move buttons wrap below, still nothing past the window's edge.
        await page.setViewportSize({ width: 320, height: 667 });
        expect(await page.evaluate(() => [...document.querySelectorAll('#tab-heron *')].map((e) => e.getBoundingClientRect()).filter((b) => b.width > 0 && (b.left < 0 || b.right > window.innerWidth)).length)).toBe(0);
        await page.setViewportSize({ width: 375, height: 667 });
        // Each sample still says its verdict, deciding term and numbers, and a tap on View shows the pair.
        const cells = await page.$$eval('#heron-samples tr', (trs) => trs.map((tr) => tr.children.length));
        expect(cells).toEqual([6, 6, 6]);
        await page.locator('#heron-samples button').first().tap();
        await page.waitForFunction(() => !document.getElementById('tab-label')?.classList.contains('hidden'));
      },
      { ...PHONE, viewport: { width: 375, height: 667 } },
    );
  });

  it('on a touch screen as wide as a tablet the View buttons are 44 px too (with a mouse they stay small: e2e_heron_drag)', async () => {
    await onHeron(
      async (page) => {
        const sizes = await viewSizes(page);
        expect(sizes.length).toBe(3);
        for (const h of sizes) expect(h).toBeGreaterThanOrEqual(44);
      },
      { viewport: { width: 1024, height: 768 }, hasTouch: true, isMobile: true },
    );
  });
});
