/**
 * The HERON page's ranking kept in step with what it shows, and its samples on a phone:
 * - a drag the page redraws the terms under (a key pressed meanwhile) ends there, so the next
 *   drag works (the old row's pointer capture was lost unseen and every later touch drag was refused);
 * - a margin box that holds no number >= 0 (cleared to type a new one) keeps the margin in use
 *   (an empty box used to set it to 0), says so, and shows it again when left;
 * - at 375 x 667 the samples fit the window (no table scrolled sideways) and their View buttons
 *   are finger-sized, as on a touch screen of any width.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { centre, FIRST_GUESS, onHeron as onHeronOf, PHONE, touchDown, touchMoves, touchUp, swipe } from './e2e_heron_helpers.js';
import { heronRanking, type Lab, startLab } from './e2e_page.js';

let lab: Lab;

beforeAll(async () => {
  lab = await startLab('heron-phone');
}, 120_000);

afterAll(async () => {
  await lab?.close();
});

const onHeron = (body: Parameters<typeof onHeronOf>[1], context?: Parameters<typeof onHeronOf>[2]): Promise<void> => onHeronOf(lab, body, context);

/** Each row's class and inline transform: a dragged row left behind would show "dragging" or an offset. */
const rowStates = (page: Parameters<Parameters<typeof onHeronOf>[1]>[0]): Promise<string[]> =>
  page.$$eval('#heron-terms li', (es) => es.map((e) => `${e.className}|${(e as HTMLElement).style.transform}`));

describe('HERON ranking in step with the page', () => {
  it('a finger drag the terms are redrawn under (Space on an on/off box) moves nothing, and the next drag moves its term', async () => {
    await onHeron(async (page, cdp) => {
      expect(await heronRanking(page)).toEqual(FIRST_GUESS);
      await page.getByRole('checkbox', { name: 'use control_effort' }).focus();
      const from = await centre(page, '#heron-terms li:nth-child(1) .handle');
      const to = await centre(page, '#heron-terms li:nth-child(2)');
      await touchDown(cdp, from);
      await touchMoves(cdp, from, [from[0], to[1] + 5]);
      // Mid-drag, the keyboard switches the last term off: the rows are drawn anew.
      await page.keyboard.press('Space');
      expect(await heronRanking(page)).toEqual(['fingertip_distance', 'on_target']);
      await touchUp(cdp);
      expect(await heronRanking(page)).toEqual(['fingertip_distance', 'on_target']);
      expect(await rowStates(page)).toEqual(['heron-term|', 'heron-term|', 'heron-term off|']);
      // A new drag: the top term below the second one.
      const h = await centre(page, '#heron-terms li:nth-child(1) .handle');
      const second = await centre(page, '#heron-terms li:nth-child(2)');
      await swipe(cdp, h, [h[0], second[1] + 5]);
      expect(await heronRanking(page)).toEqual(['on_target', 'fingertip_distance']);
      expect(await rowStates(page)).toEqual(['heron-term|', 'heron-term|', 'heron-term off|']);
    });
  });

  it('a mouse drag the terms are redrawn under (Enter on a move button) is let go without moving anything more; the next drag moves its term', async () => {
    await onHeron(
      async (page) => {
        await page.getByRole('button', { name: 'move control_effort up (more important)' }).focus();
        const from = await centre(page, '#heron-terms li:nth-child(1) .handle');
        const to = await centre(page, '#heron-terms li:nth-child(2)');
        await page.mouse.move(...from);
        await page.mouse.down();
        await page.mouse.move(from[0], to[1] + 5, { steps: 6 });
        // The keyboard moves control_effort up one place mid-drag.
        await page.keyboard.press('Enter');
        const moved = ['fingertip_distance', 'control_effort', 'on_target'];
        expect(await heronRanking(page)).toEqual(moved);
        await page.mouse.move(from[0], to[1] + 8);
        await page.mouse.up();
        expect(await heronRanking(page)).toEqual(moved);
        expect(await rowStates(page)).toEqual(['heron-term|', 'heron-term|', 'heron-term|']);
        const h = await centre(page, '#heron-terms li:nth-child(3) .handle');
        const top = await centre(page, '#heron-terms li:nth-child(1)');
        await page.mouse.move(...h);
        await page.mouse.down();
        await page.mouse.move(h[0], top[1] - 5, { steps: 8 });
        await page.mouse.up();
        expect(await heronRanking(page)).toEqual(['on_target', 'fingertip_distance', 'control_effort']);
      },
      { viewport: { width: 1200, height: 800 } },
    );
  });

  it('a margin box cleared or holding a negative number keeps the margin in use and says so; left, it shows that margin again', async () => {
    await onHeron(
      async (page) => {
        const box = page.getByRole('spinbutton', { name: 'fingertip_distance margin (x std of the term total over stored clips)' });
        const margins = async (): Promise<number[]> => (JSON.parse((await page.textContent('#heron-json')) as string) as { margins: number[] }).margins;
        expect(await margins()).toEqual([0.5, 0.25, 0.25]);
        await box.fill('');
        expect(await margins()).toEqual([0.5, 0.25, 0.25]);
        expect(await box.getAttribute('aria-invalid')).toBe('true');
        await box.fill('-1');
        expect(await margins()).toEqual([0.5, 0.25, 0.25]);
        expect(await box.getAttribute('aria-invalid')).toBe('true');
        await box.blur();
        expect(await box.inputValue()).toBe('0.5');
        expect(await box.getAttribute('aria-invalid')).toBeNull();
        await box.fill('0.75');
        expect(await margins()).toEqual([0.75, 0.25, 0.25]);
        expect(await box.getAttribute('aria-invalid')).toBeNull();
        await box.fill('');
        await box.blur();
        expect(await box.inputValue()).toBe('0.75');
        // The margin a move redraws the rows with is the one in use.
        await page.getByRole('button', { name: 'move fingertip_distance down (less important)' }).click();
        expect(await margins()).toEqual([0.25, 0.75, 0.25]);
        expect(await page.getByRole('spinbutton', { name: 'fingertip_distance margin (x std of the term total over stored clips)' }).inputValue()).toBe('0.75');
      },
      { viewport: { width: 1200, height: 800 } },
    );
  });
});

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

  it('on a touch screen as wide as a tablet the View buttons are 44 px too; with a mouse they stay small', async () => {
    const heights = async (context: Parameters<typeof onHeronOf>[2]): Promise<number[]> => {
      let out: number[] = [];
      await onHeron(async (page) => {
        await page.waitForFunction(() => document.querySelectorAll('#heron-samples button').length === 3);
        out = await page.$$eval('#heron-samples button', (bs) => bs.map((b) => b.getBoundingClientRect()).map((b) => Math.min(b.width, b.height)));
      }, context);
      return out;
    };
    for (const h of await heights({ viewport: { width: 1024, height: 768 }, hasTouch: true, isMobile: true })) expect(h).toBeGreaterThanOrEqual(44);
    for (const h of await heights({ viewport: { width: 1200, height: 800 } })) expect(h).toBeLessThan(44);
  });
});
