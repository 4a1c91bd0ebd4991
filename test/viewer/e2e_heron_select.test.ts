/**
 * The HERON page's direction selects show their whole text at 320 and 375 px (a phone) and at a
 * desktop width: at 375 px the select was shrunk to 117 px, under the 142 px its longest choice
 * needs, and showed "lower (weig". Chromium clips a select's text without making its scrollWidth
 * larger than its clientWidth, so the check compares the select's width with the width of a copy
 * of it laid out at its own size (width max-content) in the same row.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { onHeron, PHONE } from './e2e_heron_helpers.js';
import { useLab } from './e2e_page.js';

const lab = useLab('heron-select');

interface SelectFit {
  text: string;
  width: number;
  needs: number;
  scroll: number;
  client: number;
  /** The row's controls (select, moves) past the row's right edge or the window's, px. */
  past: number;
}

/** Each direction select's width, the width its longest choice needs, and how far the row's controls run past the row. */
function fits(page: Page): Promise<SelectFit[]> {
  return page.$$eval('#heron-terms select', (ss) =>
    ss.map((s) => {
      const sel = s as HTMLSelectElement;
      const copy = sel.cloneNode(true) as HTMLSelectElement;
      copy.style.cssText = 'position: absolute; visibility: hidden; flex: none; width: max-content; min-width: 0; max-width: none;';
      sel.parentElement?.appendChild(copy);
      const needs = copy.getBoundingClientRect().width;
      copy.remove();
      const row = sel.closest('li')?.getBoundingClientRect();
      const right = Math.min(row?.right ?? 0, window.innerWidth);
      const ctrls = [...(sel.closest('li')?.querySelectorAll('select, input, button') ?? [])].map((e) => e.getBoundingClientRect().right);
      return { text: sel.options[sel.selectedIndex].text, width: sel.getBoundingClientRect().width, needs, scroll: sel.scrollWidth, client: sel.clientWidth, past: Math.max(0, ...ctrls.map((r) => r - right)) };
    }),
  );
}

describe('the HERON direction select', () => {
  for (const [name, context] of [
    ['a 320 px phone', { ...PHONE, viewport: { width: 320, height: 667 } }],
    ['a 375 px phone', { ...PHONE, viewport: { width: 375, height: 667 } }],
    ['a 1280 px desktop with a mouse', { viewport: { width: 1280, height: 800 } }],
  ] as const) {
    it(`on ${name} is as wide as its longest choice needs, and nothing in the row runs past its edge`, async () => {
      await onHeron(
        lab,
        async (page) => {
          const before = await fits(page);
          expect(before.map((f) => f.text)).toEqual(['lower (weight)', 'higher (weight)', 'lower (weight)']);
          // Each choice picked in turn on the first term (the longest, "higher is better", as well).
          for (const v of ['higher', 'lower', 'auto']) {
            await page.locator('#heron-terms li:nth-child(1) select').selectOption(v);
            for (const f of await fits(page)) {
              // Chromium's own measure says nothing here: the clipped select's scrollWidth was its clientWidth.
              expect(f.scroll).toBeLessThanOrEqual(f.client);
              expect(f.needs).toBeGreaterThan(100);
              expect(f.width, `"${f.text}" in a ${f.width} px select`).toBeGreaterThanOrEqual(f.needs - 0.5);
              expect(f.past).toBe(0);
            }
          }
          expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBe(0);
        },
        context,
      );
    }, 60_000);
  }
});
