/**
 * A teacher with a keyboard and no mouse: answers, "about equal", "can't tell", undo and the
 * switch between the Compare and HERON tabs by keys alone, the keys written on the page, a
 * visible focus ring, and a name for every control a screen reader lands on.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { heronRanking, useLab, waitFor, waitReady } from './e2e_page.js';

const lab = useLab('keyboard');

const focused = (page: Page): Promise<string> => page.evaluate(() => {
  const a = document.activeElement as HTMLElement | null;
  return a?.id || a?.getAttribute('aria-label') || a?.tagName || '';
});

/** Press Tab (Shift+Tab with `back`) until the element with id `id` has the focus (at most 60 presses). */
async function tabTo(page: Page, id: string, back = false): Promise<void> {
  for (let k = 0; k < 60; k++) {
    if ((await page.evaluate(() => document.activeElement?.id ?? '')) === id) return;
    await page.keyboard.press(back ? 'Shift+Tab' : 'Tab');
  }
  throw new Error(`Tab never reached #${id}; the focus is on ${await focused(page)}`);
}

const selectedTab = (page: Page): Promise<string | null> => page.evaluate(() => document.querySelector('.tab[aria-selected="true"]')?.id ?? null);

describe('the labelling page from the keyboard alone', () => {
  it('answers, marks equal, skips and undoes by the keys the page lists; Tab then Enter or the arrows on a tab switch tabs, without answering', async () => {
    await lab.withPage(async ({ page, store }) => {
      // The keys are written on the page, next to the answers.
      const keys = (await page.textContent('#tab-label')) as string;
      for (const k of ['← left better', '→ right better', '↓/= equal', "Space can't tell", 'Z undo', '← → go from one to the other']) expect(keys).toContain(k);
      const p1 = await waitReady(page);
      await page.keyboard.press('ArrowLeft');
      await waitFor(() => store.counts().labels === 1);
      const p2 = await waitReady(page, p1.pairId);
      await page.keyboard.press('=');
      await waitFor(() => store.counts().labels === 2);
      const p3 = await waitReady(page, p2.pairId);
      await page.keyboard.press('Space');
      await waitFor(() => store.counts().labels === 3);
      const byPair = new Map(store.labels().map((l) => [l.pairId, l]));
      expect(byPair.get(p1.pairId)).toMatchObject({ kind: 'preference', probFirst: p1.leftIs === 'a' ? 1 : 0 });
      expect(byPair.get(p2.pairId)).toMatchObject({ kind: 'preference', probFirst: 0.5 });
      expect(byPair.get(p3.pairId)).toMatchObject({ kind: 'skip', reason: "can't tell (viewer)" });
      // Z takes back the skip: the pair comes back.
      await page.keyboard.press('z');
      await waitFor(() => store.counts().labels === 2);
      expect((await waitReady(page)).pairId).toBe(p3.pairId);

      // To the HERON tab: Tab to it and Enter.
      await tabTo(page, 'tab-btn-heron');
      await page.keyboard.press('Enter');
      expect(await selectedTab(page)).toBe('tab-btn-heron');
      expect(await page.isVisible('#tab-heron')).toBe(true);
      // Ctrl+Z on the HERON page leaves the answers alone (it undid the last one, unseen).
      await page.keyboard.press('Control+z');
      // ← on the focused tab goes to Compare (the focus with it) and answers nothing; → back to HERON.
      await page.keyboard.press('ArrowLeft');
      expect(await selectedTab(page)).toBe('tab-btn-label');
      expect(await focused(page)).toBe('tab-btn-label');
      expect(await page.isVisible('#tab-label')).toBe(true);
      await page.keyboard.press('ArrowRight');
      expect(await selectedTab(page)).toBe('tab-btn-heron');
      expect(await focused(page)).toBe('tab-btn-heron');
      await page.keyboard.press('Home');
      expect(await selectedTab(page)).toBe('tab-btn-label');
      await page.keyboard.press('End');
      expect(await selectedTab(page)).toBe('tab-btn-heron');
      await page.keyboard.press('ArrowRight'); // round to the first
      expect(await selectedTab(page)).toBe('tab-btn-label');
      // None of those keys answered: the skipped pair is still on screen, unanswered.
      expect(store.counts().labels).toBe(2);
      expect((await waitReady(page)).pairId).toBe(p3.pairId);
      // From the tab, Tab goes on to the page's controls, where → answers again.
      await tabTo(page, 'play');
      await page.keyboard.press('ArrowRight');
      await waitFor(() => store.counts().labels === 3);
      expect(store.labels().find((l) => l.pairId === p3.pairId)).toMatchObject({ kind: 'preference', probFirst: p3.leftIs === 'a' ? 0 : 1 });
    });
  });

  it('shows where the focus is (a 2 px ring), and every control a screen reader reaches on either tab has a name in words', async () => {
    await lab.withPage(async ({ page }) => {
      await waitReady(page);
      await tabTo(page, 'tab-btn-label');
      const ring = () => page.evaluate(() => {
        const s = getComputedStyle(document.activeElement as Element);
        return `${s.outlineStyle} ${s.outlineWidth}`;
      });
      expect(await ring()).toBe('solid 2px');
      // An answer button reached with Tab shows it too.
      for (let k = 0; k < 40 && (await page.evaluate(() => (document.activeElement as HTMLElement).dataset.choice)) !== 'left'; k++) await page.keyboard.press('Tab');
      expect(await focused(page)).toBe('Left is better');
      expect(await ring()).toBe('solid 2px');

      // The accessibility tree Chromium gives screen readers: every control has a name with words.
      const cdp = await page.context().newCDPSession(page);
      const controls = async (): Promise<{ role: string; name: string }[]> => {
        const { nodes } = (await cdp.send('Accessibility.getFullAXTree')) as { nodes: { ignored: boolean; role?: { value: string }; name?: { value: string } }[] };
        const roles = new Set(['button', 'tab', 'checkbox', 'combobox', 'spinbutton', 'slider', 'textbox', 'link']);
        return nodes.filter((n) => !n.ignored && roles.has(n.role?.value ?? '')).map((n) => ({ role: n.role?.value as string, name: n.name?.value ?? '' }));
      };
      const label = await controls();
      expect(label.length).toBeGreaterThan(15);
      for (const c of label) expect(c.name, `${c.role} without a name in words`).toMatch(/[a-z]{2}/i);
      // The clips play: the button says what a press does now.
      expect(label).toContainEqual({ role: 'button', name: 'pause the clips' });
      expect(label).toContainEqual({ role: 'tab', name: 'HERON' });
      await tabTo(page, 'tab-btn-heron', true);
      await page.keyboard.press('Enter');
      await page.waitForSelector('#heron-samples tr button');
      const heron = await controls();
      for (const c of heron) expect(c.name, `${c.role} without a name in words`).toMatch(/[a-z]{2}/i);
      // reacher's three terms: each with its on box, margin, direction and two move buttons, named by the term.
      expect(heron.filter((c) => /^move \w+ (up|down)/.test(c.name)).length).toBe(6);
      expect(heron.filter((c) => c.role === 'checkbox' && c.name.startsWith('use ')).length).toBe(3);
    });
  });

  it("a HERON sample's View button pressed with Enter shows the pair with the focus on \"Back to labelling\"; Enter there goes back and the keys answer", async () => {
    await lab.withPage(async ({ page, store }) => {
      const first = await waitReady(page);
      await tabTo(page, 'tab-btn-heron');
      await page.keyboard.press('Enter');
      expect(await heronRanking(page)).toEqual(['fingertip_distance', 'on_target', 'control_effort']);
      await page.waitForSelector('#heron-samples tr button');
      const view = page.locator('#heron-samples button').first();
      const viewed = ((await view.getAttribute('aria-label')) as string).match(/view pair (\S+)/)?.[1];
      await view.focus();
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => (window as unknown as { prefrlDebug: { current(): { preview: boolean; ready: boolean } | null } }).prefrlDebug.current()?.preview === true);
      await page.waitForFunction(() => document.activeElement?.id === 'preview-back');
      expect(await page.textContent('#preview-text')).toContain(`Preview of pair ${viewed}`);
      // Answers are off in a preview; the arrow keys store nothing.
      await page.keyboard.press('ArrowLeft');
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => (window as unknown as { prefrlDebug: { current(): { preview: boolean; ready: boolean } | null } }).prefrlDebug.current()?.preview === false);
      const back = await waitReady(page);
      expect(back.pairId).toBe(first.pairId);
      expect(await focused(page)).toBe('clips');
      // With the keyboard's ring around them.
      expect(await page.evaluate(() => getComputedStyle(document.activeElement as Element).outlineStyle)).toBe('solid');
      expect(store.counts().labels).toBe(0);
      await page.keyboard.press('ArrowLeft');
      await waitFor(() => store.counts().labels === 1);
      expect(store.labels()[0]).toMatchObject({ pairId: first.pairId, probFirst: first.leftIs === 'a' ? 1 : 0 });
      // A mouse click on the clips (unfocused) gives them the focus without the ring.
      await waitReady(page, first.pairId);
      await page.evaluate(() => (document.activeElement as HTMLElement).blur());
      await page.click('#canvas-left');
      expect(await page.evaluate(() => `${document.activeElement?.id} ${getComputedStyle(document.activeElement as Element).outlineStyle}`)).toBe('clips none');
    });
  });
});
