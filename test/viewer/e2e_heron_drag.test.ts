/**
 * The HERON page's ranking kept in step with what it shows while terms are dragged and edited:
 * - a drag the page redraws the terms under (a key pressed meanwhile) ends there, moving nothing:
 *   its row left the page with its pointer capture, and the release, reaching the new row under
 *   the pointer, moved a row of the new order;
 * - a drag whose tab is hidden meanwhile moves nothing when let go;
 * - a finger held still near the window's edge keeps the page scrolling (it scrolled on moves only);
 * - a drag that moves a row keeps the keyboard's focus on the control that had it;
 * - a margin box that holds no number >= 0 (cleared to type a new one) keeps the margin in use
 *   (an empty box used to set it to 0), says so, and shows it again when left;
 * - with every term switched off, Save and Download are disabled (they did nothing, unexplained).
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { centre, FIRST_GUESS, onHeron, PHONE, scrollY, sleep, swipe, touchDown, touchMoves, touchUp, viewSizes } from './e2e_heron_helpers.js';
import { heronRanking, useLab } from './e2e_page.js';

const lab = useLab('heron-drag');

/** Each row's class and inline transform: a dragged row left behind would show "dragging" or an offset. */
const rowStates = (page: Page): Promise<string[]> =>
  page.$$eval('#heron-terms li', (es) => es.map((e) => `${e.className}|${(e as HTMLElement).style.transform}`));

/**
 * The list scrolled to the top of the window, the focus left where it is: focusing a control of the
 * bottom row scrolls the page so far that the top row's handle is above the window, and a finger put
 * down there lands on nothing: what follows is a pan of the page (and its fling), not a drag.
 */
const listOnScreen = (page: Page): Promise<void> =>
  page.evaluate(() => window.scrollTo(0, window.scrollY + (document.getElementById('heron-terms') as HTMLElement).getBoundingClientRect().top - 60));

describe('HERON ranking in step with the page', () => {
  it('a finger drag the terms are redrawn under (Space on an on/off box) moves nothing, and the next drag moves its term', async () => {
    await onHeron(lab, async (page, cdp) => {
      expect(await heronRanking(page)).toEqual(FIRST_GUESS);
      await page.getByRole('checkbox', { name: 'use control_effort' }).focus();
      await listOnScreen(page);
      const y0 = await scrollY(page);
      const from = await centre(page, '#heron-terms li:nth-child(1) .handle');
      const to = await centre(page, '#heron-terms li:nth-child(2)');
      await touchDown(cdp, from);
      await touchMoves(cdp, from, [from[0], to[1] + 5]);
      // The finger drags the row (the page did not pan under it), the focus still on the box.
      expect((await rowStates(page))[0]).toMatch(/^heron-term dragging\|translateY\(\d/);
      expect(await page.evaluate(() => (document.activeElement as HTMLElement).getAttribute('aria-label'))).toBe('use control_effort');
      expect(await scrollY(page)).toBe(y0);
      // Mid-drag, the keyboard switches the last term off: the rows are drawn anew.
      await page.keyboard.press('Space');
      expect(await heronRanking(page)).toEqual(['fingertip_distance', 'on_target']);
      await touchUp(cdp);
      expect(await heronRanking(page)).toEqual(['fingertip_distance', 'on_target']);
      expect(await rowStates(page)).toEqual(['heron-term|', 'heron-term|', 'heron-term off|']);
      // A new drag: the top term below the second one; the page has not moved.
      expect(await scrollY(page)).toBe(y0);
      const h = await centre(page, '#heron-terms li:nth-child(1) .handle');
      const second = await centre(page, '#heron-terms li:nth-child(2)');
      await swipe(cdp, h, [h[0], second[1] + 5]);
      expect(await heronRanking(page)).toEqual(['on_target', 'fingertip_distance']);
      expect(await rowStates(page)).toEqual(['heron-term|', 'heron-term|', 'heron-term off|']);
    });
  });

  it('a finger held still near the bottom edge of a short window keeps the page scrolling; let go, the term lands below the rows that were out of sight', async () => {
    await onHeron(
      lab,
      async (page, cdp) => {
        await page.evaluate(() => window.scrollTo(0, window.scrollY + (document.querySelector('#heron-terms li') as HTMLElement).getBoundingClientRect().top - 20));
        const y0 = await scrollY(page);
        const from = await centre(page, '#heron-terms li:nth-child(1) .handle');
        await touchDown(cdp, from);
        // Down to 10 px above the bottom edge in 4 moves, then held there: no more moves.
        await touchMoves(cdp, from, [from[0], 290], 4);
        await page.waitForFunction((y) => window.scrollY > y + 150, y0);
        await touchUp(cdp);
        expect(await heronRanking(page)).toEqual(['on_target', 'control_effort', 'fingertip_distance']);
        expect(await rowStates(page)).toEqual(['heron-term|', 'heron-term|', 'heron-term|']);
        // Let go, the page stays where it is.
        const y1 = await scrollY(page);
        await sleep(100);
        expect(await scrollY(page)).toBe(y1);
      },
      { ...PHONE, viewport: { width: 390, height: 300 } },
    );
  });

  it('with a mouse: a drag the terms are redrawn under (Enter on a move button) or whose tab is hidden meanwhile moves nothing more when let go; a drag that moves its row keeps the focus where it was; let go below or above the list, the row lands last or first', async () => {
    await onHeron(
      lab,
      async (page) => {
        /** The mouse pressed on row `row`'s handle and moved to `dy` px below the middle of row `over`; `mid` runs there, then it is let go. */
        const drag = async (row: number, over: number, dy: number, mid?: () => Promise<void>): Promise<void> => {
          const from = await centre(page, `#heron-terms li:nth-child(${row}) .handle`);
          const to = await centre(page, `#heron-terms li:nth-child(${over})`);
          await page.mouse.move(...from);
          await page.mouse.down();
          await page.mouse.move(from[0], to[1] + dy, { steps: 6 });
          if (mid) {
            await mid();
            await page.mouse.move(from[0], to[1] + dy + 3);
          }
          await page.mouse.up();
        };
        const clean = ['heron-term|', 'heron-term|', 'heron-term|'];
        // The keyboard moves control_effort up one place mid-drag: the drag (of the top term below the second) moves nothing more.
        await page.getByRole('button', { name: 'move control_effort up (more important)' }).focus();
        const moved = ['fingertip_distance', 'control_effort', 'on_target'];
        await drag(1, 2, 5, async () => {
          await page.keyboard.press('Enter');
          expect(await heronRanking(page)).toEqual(moved);
        });
        expect(await heronRanking(page)).toEqual(moved);
        expect(await rowStates(page)).toEqual(clean);
        // The next drag moves its term: the bottom one to the top.
        await drag(3, 1, -5);
        expect(await heronRanking(page)).toEqual(['on_target', 'fingertip_distance', 'control_effort']);
        // The Compare tab shown mid-drag (a tap with another finger, a script): the HERON list is hidden, and the drag moves nothing.
        await drag(1, 3, 5, async () => {
          await page.evaluate(() => (document.getElementById('tab-btn-label') as HTMLButtonElement).click());
        });
        await page.locator('#tab-btn-heron').click();
        expect(await heronRanking(page)).toEqual(['on_target', 'fingertip_distance', 'control_effort']);
        expect(await rowStates(page)).toEqual(clean);
        // A margin box has the focus; a drag moves the row above its row below it: the same box has the focus after.
        await page.getByRole('spinbutton', { name: 'fingertip_distance margin (x std of the term total over stored clips)' }).focus();
        await drag(1, 2, 5);
        expect(await heronRanking(page)).toEqual(FIRST_GUESS);
        expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('fingertip_distance margin (x std of the term total over stored clips)');
        // Let go outside the list (over the JSON box below it, then over the page's top bar): the row still gets the release
        // (pointer capture) and lands last, then first.
        const json = await centre(page, '#heron-json');
        const first = await centre(page, '#heron-terms li:nth-child(1) .handle');
        await page.mouse.move(...first);
        await page.mouse.down();
        await page.mouse.move(json[0], json[1], { steps: 6 });
        await page.mouse.up();
        expect(await heronRanking(page)).toEqual(['on_target', 'control_effort', 'fingertip_distance']);
        const last = await centre(page, '#heron-terms li:nth-child(3) .handle');
        await page.mouse.move(...last);
        await page.mouse.down();
        await page.mouse.move(last[0], 5, { steps: 6 });
        await page.mouse.up();
        expect(await heronRanking(page)).toEqual(['fingertip_distance', 'on_target', 'control_effort']);
        expect(await rowStates(page)).toEqual(clean);
        // With a mouse in a wide window the View buttons keep their size (the 44 px rules are for fingers and narrow windows).
        const sizes = await viewSizes(page);
        expect(sizes.length).toBe(3);
        for (const h of sizes) expect(h).toBeLessThan(44);
      },
      { viewport: { width: 1200, height: 800 } },
    );
  });

  it('a margin box cleared or holding a negative number keeps the margin in use and says so; left, it shows that margin again; no term on: Save and Download disabled', async () => {
    await onHeron(
      lab,
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
        // Every term switched off: no config, and Save and Download are disabled until one is on again.
        const buttons = async (): Promise<boolean[]> => [await page.isDisabled('#heron-save'), await page.isDisabled('#heron-download')];
        expect(await buttons()).toEqual([false, false]);
        for (const t of FIRST_GUESS) await page.getByRole('checkbox', { name: `use ${t}` }).uncheck();
        expect(await page.textContent('#heron-json')).toBe('(switch on at least one term)');
        expect(await buttons()).toEqual([true, true]);
        await page.getByRole('checkbox', { name: 'use on_target' }).check();
        expect(await heronRanking(page)).toEqual(['on_target']);
        expect(await buttons()).toEqual([false, false]);
      },
      { viewport: { width: 1200, height: 800 } },
    );
  });
});
