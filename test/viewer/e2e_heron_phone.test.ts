/**
 * The HERON page on a phone: at 375 x 667 nothing runs past the window's edge or scrolls
 * sideways (the samples table did: its View buttons lay off screen), the samples show as cards
 * and every control a finger uses is at least 44 px, as the View buttons are on a touch screen of
 * any width; a second finger on another term's handle meanwhile is no second drag.
 */
import { describe, expect, it } from 'vitest';
import { centre, FIRST_GUESS, onHeron, PHONE, scrollY, sleep, viewSizes } from './e2e_heron_helpers.js';
import { heronRanking, useLab } from './e2e_page.js';

const lab = useLab('heron-phone');

describe('HERON samples on a phone', () => {
  it('at 375 x 667 nothing on the HERON page runs past the window or scrolls sideways, every View button is at least 44 px and on screen, and so is every control of the Compare tab', async () => {
    await onHeron(
      lab,
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
        // The Compare tab and the top bar on the same phone: every control shown is 44 px too (a checkbox: its label),
        // the tabs, "change name", the transport's buttons, scrubber and speed, the comment box and undo (they were 13 to 36 px).
        const compare = await page.evaluate(() =>
          [...document.querySelectorAll<HTMLElement>('button, select, input:not([type=checkbox]), label.check')]
            .filter((e) => e.getClientRects().length > 0)
            .map((e) => [e, e.getBoundingClientRect()] as const)
            .map(([e, b]) => ({ id: `${e.tagName.toLowerCase()}#${e.id}.${e.className}`, min: Math.min(b.width, b.height) })),
        );
        expect(compare.length).toBeGreaterThanOrEqual(14);
        expect(compare.filter((c) => c.min < 44)).toEqual([]);
        expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBe(0);
      },
      { ...PHONE, viewport: { width: 375, height: 667 } },
    );
  });

  it('on a touch screen as wide as a tablet the View buttons are 44 px too (with a mouse they stay small: e2e_heron_drag)', async () => {
    await onHeron(
      lab,
      async (page) => {
        const sizes = await viewSizes(page);
        expect(sizes.length).toBe(3);
        for (const h of sizes) expect(h).toBeGreaterThanOrEqual(44);
      },
      { viewport: { width: 1024, height: 768 }, hasTouch: true, isMobile: true },
    );
  });
});

describe('two fingers on the HERON terms', () => {
  it('a second finger on another term\'s handle, moving meanwhile, neither drags it nor scrolls the page; the first finger\'s term lands', async () => {
    await onHeron(lab, async (page, cdp) => {
      expect(await heronRanking(page)).toEqual(FIRST_GUESS);
      const y0 = await scrollY(page);
      const first = await centre(page, '#heron-terms li:nth-child(1) .handle');
      const third = await centre(page, '#heron-terms li:nth-child(3) .handle');
      const second = await centre(page, '#heron-terms li:nth-child(2)');
      // Finger 0 on the top term's handle, then finger 1 on the bottom one's; 0 moves below the second row's middle while 1 moves up 300 px.
      const at = (k: number) => [
        { x: first[0], y: first[1] + ((second[1] + 5 - first[1]) * k) / 10, id: 0 },
        { x: third[0], y: third[1] - 30 * k, id: 1 },
      ];
      await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [at(0)[0]] });
      await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: at(0) });
      for (let k = 1; k <= 10; k++) {
        await sleep(16);
        await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: at(k) });
      }
      // Only the first finger's row follows it.
      expect(await page.$$eval('#heron-terms li', (es) => es.map((e) => e.classList.contains('dragging')))).toEqual([true, false, false]);
      await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
      expect(await heronRanking(page)).toEqual(['on_target', 'fingertip_distance', 'control_effort']);
      expect(await scrollY(page)).toBe(y0);
    });
  });
});
