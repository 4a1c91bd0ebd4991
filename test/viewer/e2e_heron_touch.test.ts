/**
 * The HERON page on a phone (headless Chromium with a touch screen, isMobile): HTML5 drag and
 * drop does not start from a finger in Chromium, so the terms are dragged by their handle with
 * pointer events (a finger, a mouse or a pen alike), and the move buttons are big enough to tap.
 * Real touch sequences go through the DevTools protocol (Input.dispatchTouchEvent), so the
 * browser's own gesture handling decides, as on a phone, whether a swipe scrolls the page.
 */
import { describe, expect, it } from 'vitest';
import { centre, FIRST_GUESS, onHeron, PHONE, scrollY, swipe } from './e2e_heron_helpers.js';
import { heronRanking, useLab } from './e2e_page.js';

const lab = useLab('heron-touch');

describe('HERON page on a touch screen', () => {
  it('a finger dragging a term by its handle moves it: the top one below the next, then the bottom one to the top; the page stays put', async () => {
    await onHeron(lab, async (page, cdp) => {
      expect(await heronRanking(page)).toEqual(FIRST_GUESS);
      const y0 = await scrollY(page);
      let from = await centre(page, '#heron-terms li:nth-child(1) .handle');
      let to = await centre(page, '#heron-terms li:nth-child(2)');
      // Past the middle of the second row: it lands below it.
      await swipe(cdp, from, [from[0], to[1] + 5]);
      expect(await heronRanking(page)).toEqual(['on_target', 'fingertip_distance', 'control_effort']);
      expect(await scrollY(page)).toBe(y0);
      // The bottom term dragged above the middle of the top row: it lands on top.
      from = await centre(page, '#heron-terms li:nth-child(3) .handle');
      to = await centre(page, '#heron-terms li:nth-child(1)');
      await swipe(cdp, from, [from[0], to[1] - 5], 20);
      expect(await heronRanking(page)).toEqual(['control_effort', 'on_target', 'fingertip_distance']);
      expect(await scrollY(page)).toBe(y0);
      // The ranks shown follow the order; the dragged row is back in place (no leftover offset or marks).
      expect(await page.$$eval('#heron-terms .rank', (es) => es.map((e) => e.textContent))).toEqual(['1', '2', '3']);
      expect(await page.$$eval('#heron-terms li', (es) => es.map((e) => `${e.className}|${(e as HTMLElement).style.transform}`))).toEqual(['heron-term|', 'heron-term|', 'heron-term|']);
      // The server previews the new order: the rule's verdicts come back decided by the new top term or a lower one, never the old top.
      const levels = { control_effort: 1, on_target: 2, fingertip_distance: 3 };
      await page.waitForFunction((want) => {
        const cells = [...document.querySelectorAll('#heron-samples tr td:nth-child(3)')].map((td) => td.textContent ?? '');
        return cells.length === 3 && cells.every((c) => c === 'no term (tie)' || Object.entries(want).some(([t, l]) => c === `${t} (level ${l})`));
      }, levels);
    });
  });

  it('a vertical swipe on a term away from its handle scrolls the page and moves nothing; a drag let go where it started moves nothing', async () => {
    await onHeron(lab, async (page, cdp) => {
      const y0 = await scrollY(page);
      const name = await centre(page, '#heron-terms li:nth-child(3) .tname');
      await swipe(cdp, name, [name[0], name[1] - 200]);
      expect(await scrollY(page)).toBeGreaterThan(y0 + 100);
      expect(await heronRanking(page)).toEqual(FIRST_GUESS);
      const h = await centre(page, '#heron-terms li:nth-child(2) .handle');
      await swipe(cdp, h, [h[0], h[1] + 12]);
      expect(await heronRanking(page)).toEqual(FIRST_GUESS);
    });
  });

  it('held near the bottom edge of a short window, a dragged term scrolls the page along and lands below the rows that were out of sight', async () => {
    await onHeron(
      lab,
      async (page, cdp) => {
        // The first term near the top of the window, the last one below its bottom edge.
        await page.evaluate(() => window.scrollTo(0, window.scrollY + (document.querySelector('#heron-terms li') as HTMLElement).getBoundingClientRect().top - 20));
        const y0 = await scrollY(page);
        const last = await page.locator('#heron-terms li:nth-child(3)').boundingBox();
        expect((last?.y ?? 0) + (last?.height ?? 0) / 2).toBeGreaterThan(300);
        const [x, y] = await centre(page, '#heron-terms li:nth-child(1) .handle');
        await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [{ x, y }] });
        // Down to 10 px above the bottom edge, then small moves there (each one scrolls the page up to 24 px).
        for (let k = 1; k <= 8; k++) await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: [{ x, y: y + ((290 - y) * k) / 8 }] });
        for (let k = 0; k < 16; k++) await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: [{ x: x + (k % 2), y: 290 }] });
        await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
        expect(await scrollY(page)).toBeGreaterThan(y0 + 100);
        expect(await heronRanking(page)).toEqual(['on_target', 'control_effort', 'fingertip_distance']);
      },
      { ...PHONE, viewport: { width: 390, height: 300 } },
    );
  });

  it('the handle and move buttons are finger-sized (44 px) and a tap on a move button moves its term', async () => {
    await onHeron(lab, async (page) => {
      const sizes = await page.$$eval('#heron-terms .mv, #heron-terms .handle', (es) => es.map((e) => e.getBoundingClientRect()).map((b) => Math.min(b.width, b.height)));
      expect(sizes.length).toBe(9);
      for (const s of sizes) expect(s).toBeGreaterThanOrEqual(44);
      await page.getByRole('button', { name: 'move on_target down (less important)' }).tap();
      expect(await heronRanking(page)).toEqual(['fingertip_distance', 'control_effort', 'on_target']);
      await page.getByRole('button', { name: 'move on_target up (more important)' }).tap();
      await page.getByRole('button', { name: 'move on_target up (more important)' }).tap();
      expect(await heronRanking(page)).toEqual(['on_target', 'fingertip_distance', 'control_effort']);
      // The bigger controls still fit a phone's width, down to 320 px: no sideways scrolling.
      for (const width of [390, 320]) {
        await page.setViewportSize({ width, height: 740 });
        expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBe(0);
      }
    });
  });

  it('while the HERON tab is shown the clips stand still (nothing drawn for nothing); back on Compare they play on from that step', async () => {
    await onHeron(
      lab,
      async (page) => {
        const step = async () => Number(/^step (\d+)\//.exec((await page.textContent('#time')) ?? '')?.[1]);
        const held = await step();
        // Playing, a 20-step clip at 50 steps a second moves on every few frames; hidden, it stays.
        await page.waitForTimeout(600);
        expect(await step()).toBe(held);
        await page.click('#tab-btn-label');
        await page.waitForFunction((s) => !new RegExp(`^step ${s}/`).test(document.getElementById('time')?.textContent ?? ''), held);
      },
      { viewport: { width: 1200, height: 800 } },
      true,
    );
  });

  it('with a mouse, a term is dragged by its handle or by its name; the controls on the row keep their clicks', async () => {
    await onHeron(
      lab,
      async (page) => {
        const drag = async (fromSel: string, toSel: string, dy: number): Promise<void> => {
          const from = await centre(page, fromSel);
          const to = await centre(page, toSel);
          await page.mouse.move(...from);
          await page.mouse.down();
          await page.mouse.move(from[0], to[1] + dy, { steps: 8 });
          await page.mouse.up();
        };
        await drag('#heron-terms li:nth-child(1) .handle', '#heron-terms li:nth-child(3)', 5);
        expect(await heronRanking(page)).toEqual(['on_target', 'control_effort', 'fingertip_distance']);
        await drag('#heron-terms li:nth-child(2) .tname', '#heron-terms li:nth-child(1)', -5);
        expect(await heronRanking(page)).toEqual(['control_effort', 'on_target', 'fingertip_distance']);
        // Dragging from a row's text selects nothing.
        expect(await page.evaluate(() => String(window.getSelection()))).toBe('');
        // A click on a row's on/off box still switches the term (it starts no drag).
        await page.getByRole('checkbox', { name: 'use on_target' }).click();
        expect(await heronRanking(page)).toEqual(['control_effort', 'fingertip_distance']);
      },
      { viewport: { width: 1200, height: 800 } },
    );
  });
});
