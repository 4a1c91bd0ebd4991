/**
 * One person with the labelling page open in two tabs of one browser (one localStorage, so one
 * outbox): the server hands both tabs the same pair (the lease is the person's) and keeps one
 * answer per person and pair. Once one tab answers it, the other is moved on to the next pair at
 * once and says why (an answer it sent before it heard is refused as a conflict: server.test.ts).
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { useLab, waitFor, waitReady } from './e2e_page.js';

const lab = useLab('two-tabs');

interface Debug {
  outbox(): number;
  sessionLabels(): number;
}
const debug = <T>(page: Page, f: (d: Debug) => T): Promise<T> => page.evaluate(`(${f.toString()})(window.prefrlDebug)`) as Promise<T>;

describe('two tabs of one person on one pair', () => {
  it('once one tab answers, the other tab on that pair moves on at once and says why; the first answer alone is stored, and each tab\'s Undo takes back its own', async () => {
    await lab.withTabs(async ({ a: first, b: second, url, store, errors }) => {
      // The last toast a page showed (its text stays after it fades, 1.4 s on: no race with a slow machine).
      const toastOf = async (page: Page) => ({ text: await page.textContent('#toast'), bad: ((await page.getAttribute('#toast', 'class')) ?? '').includes('bad') });
      await second.goto(url);
      const p1 = await waitReady(first);
      const p2 = await waitReady(second);
      // The same pair in both tabs (the person's lease), laid out alike (the layout depends on the name).
      expect(p2).toEqual(p1);
      // Tab one: the left clip is better.
      await first.keyboard.press('ArrowLeft');
      await waitFor(() => store.counts().labels === 1);
      const next1 = await waitReady(first, p1.pairId);
      // Tab two, with no key pressed, is on the pair the person holds now (tab one's), and says why.
      const next2 = await waitReady(second, p1.pairId);
      expect(next2.pairId).toBe(next1.pairId);
      expect(await toastOf(second)).toEqual({ text: 'You answered that pair in another tab or window: here is your next one.', bad: false });
      expect(await second.$$eval('.answer', (bs) => bs.map((b) => (b as HTMLButtonElement).disabled))).toEqual([false, false, false, false]);
      expect(await second.evaluate(() => document.getElementById('overlay')?.classList.contains('hidden'))).toBe(true);
      expect(await debug(second, (d) => d.outbox())).toBe(0);
      // Its session count stays 0 and its Undo is off: it has no stored answer to take back.
      expect(await second.textContent('#p-session')).toBe('0');
      expect(await second.isDisabled('#undo')).toBe(true);
      // The store holds tab one's answer alone: the left clip preferred.
      expect(store.labels()).toMatchObject([{ pairId: p1.pairId, teacher: 'human:alice', kind: 'preference', probFirst: p1.leftIs === 'a' ? 1 : 0 }]);
      // Tab two answers that pair (the right clip): tab one, which showed it too, moves on to the third.
      await second.keyboard.press('ArrowRight');
      await waitFor(() => store.counts().labels === 2);
      expect(store.labels()[1]).toMatchObject({ pairId: next2.pairId, teacher: 'human:alice', probFirst: next2.leftIs === 'a' ? 0 : 1 });
      const third = await waitReady(first, next1.pairId);
      expect([p1.pairId, next1.pairId]).not.toContain(third.pairId);
      // Tab one's Undo takes back its own answer (the first pair), which comes back to it in place of the third.
      await first.keyboard.press('z');
      await waitFor(() => store.counts().labels === 1);
      expect((await waitReady(first, third.pairId)).pairId).toBe(p1.pairId);
      expect((await toastOf(first)).text).toBe('Answer undone');
      expect(store.labels().map((l) => l.pairId)).toEqual([next2.pairId]);
      expect(errors).toEqual([]);
    });
  });

  it('an undo made in a tab that is offline and sent by the other tab (the outbox is shared) ends "Undoing…" there; the other tab shows the undone pair', async () => {
    await lab.withTabs(async ({ a, b, url, ctx, store, errors }) => {
      const overlay = (page: Page) => page.evaluate(() => (document.getElementById('overlay')?.classList.contains('hidden') ? null : document.getElementById('overlay')?.textContent));
      await b.goto(url);
      const p1 = await waitReady(a);
      await waitReady(b);
      await a.keyboard.press('ArrowLeft');
      await waitFor(() => store.counts().labels === 1);
      const q = await waitReady(a, p1.pairId);
      // Tab A loses the network (its socket dropped, no new one can open); B stays online.
      const cdp = await ctx.newCDPSession(a);
      await cdp.send('Network.enable');
      const net = (offline: boolean) => cdp.send('Network.emulateNetworkConditions', { offline, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
      await net(true);
      await a.evaluate(() => (window as unknown as { prefrlDebug: { drop(): void } }).prefrlDebug.drop());
      await a.waitForFunction(() => !(window as unknown as { prefrlDebug: { connected(): boolean } }).prefrlDebug.connected());
      await a.keyboard.press('z');
      expect(await overlay(a)).toBe('Undoing…');
      expect(await a.textContent('#p-outbox')).toBe('1 undo waiting to be sent');
      // B re-sends what it finds in the outbox (every 8 s): the answer is undone through B, which gets the pair back.
      await waitFor(() => store.counts().labels === 0, 20_000);
      expect((await waitReady(b, q.pairId)).pairId).toBe(p1.pairId);
      // A hears of it from the outbox: "Undoing…" goes, its pair is on screen again, nothing waits to be sent.
      await a.waitForFunction(() => document.getElementById('toast')?.textContent === 'Your undo was sent from another tab of this page, which shows what came of it.');
      expect(await overlay(a)).toBe(null);
      expect(await a.isVisible('#p-outbox')).toBe(false);
      expect(await a.evaluate(() => (window as unknown as { prefrlDebug: { current(): { pairId: string } | null } }).prefrlDebug.current()?.pairId)).toBe(q.pairId);
      // Back online, A answers its pair as usual.
      await net(false);
      await a.waitForFunction(() => (window as unknown as { prefrlDebug: { connected(): boolean } }).prefrlDebug.connected(), null, { timeout: 20_000 });
      await a.keyboard.press('ArrowRight');
      await waitFor(() => store.counts().labels === 1);
      expect(store.labels()[0]).toMatchObject({ pairId: q.pairId, probFirst: q.leftIs === 'a' ? 0 : 1 });
      expect(errors).toEqual([]);
    });
  });

  it('two tabs offline answer the pair both show: the tab back online first sends both, and the other tab, still offline, counts its answer stored that way; the conflict is said once; a rename in one tab is taken up by the other, and when the run asks no more both say so', async () => {
    await lab.withTabs(async ({ a, b, url, ctx, store, server, errors }) => {
      // Every toast a page shows, in order (the element's text is replaced by the next one).
      const watchToasts = `window.__toasts = []; new MutationObserver(() => window.__toasts.push(document.getElementById('toast').textContent)).observe(document.getElementById('toast'), { childList: true, characterData: true, subtree: true });`;
      const toasts = (page: Page) => page.evaluate('window.__toasts') as Promise<string[]>;
      const overlay = (page: Page) => page.evaluate(() => (document.getElementById('overlay')?.classList.contains('hidden') ? null : document.getElementById('overlay')?.textContent));
      await b.goto(url);
      const p1 = await waitReady(a);
      expect((await waitReady(b)).pairId).toBe(p1.pairId);
      for (const page of [a, b]) await page.evaluate(watchToasts);
      // Both tabs lose the network; each answers the pair on screen (tab A: left, tab B: right).
      const nets = await Promise.all(
        [a, b].map(async (page) => {
          const cdp = await ctx.newCDPSession(page);
          await cdp.send('Network.enable');
          return (offline: boolean) => cdp.send('Network.emulateNetworkConditions', { offline, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
        }),
      );
      for (const [i, page] of [a, b].entries()) {
        await nets[i](true);
        await page.evaluate(() => (window as unknown as { prefrlDebug: { drop(): void } }).prefrlDebug.drop());
        await page.waitForFunction(() => !(window as unknown as { prefrlDebug: { connected(): boolean } }).prefrlDebug.connected());
      }
      await a.keyboard.press('ArrowLeft');
      // Tab A's answer is in the outbox before tab B's is made (under load a page may take its key later).
      await a.waitForFunction(() => (window as unknown as { prefrlDebug: { outbox(): number } }).prefrlDebug.outbox() === 1);
      await b.keyboard.press('ArrowRight');
      // (Another tab's write to the shared storage reaches a page a moment later.)
      await a.waitForFunction(() => (window as unknown as { prefrlDebug: { outbox(): number } }).prefrlDebug.outbox() === 2);
      // Tab B comes back online first and sends the shared outbox: tab A's answer, made first, is
      // stored; tab B's own is refused as a conflict (said in tab B).
      await nets[1](false);
      await waitFor(() => store.counts().labels === 1, 30_000);
      await b.waitForFunction(() => (window as unknown as { prefrlDebug: { outbox(): number } }).prefrlDebug.outbox() === 0, null, { timeout: 30_000 });
      expect(store.labels()).toMatchObject([{ pairId: p1.pairId, teacher: 'human:alice', probFirst: p1.leftIs === 'a' ? 1 : 0 }]);
      // "This session": tab A, still offline, counts its answer (acknowledged through tab B); B counts none.
      await a.waitForFunction(() => document.getElementById('p-session')?.textContent === '1');
      expect(await a.evaluate(() => (window as unknown as { prefrlDebug: { connected(): boolean } }).prefrlDebug.connected())).toBe(false);
      expect(await b.textContent('#p-session')).toBe('0');
      await nets[0](false);
      await a.waitForFunction(() => (window as unknown as { prefrlDebug: { connected(): boolean } }).prefrlDebug.connected(), null, { timeout: 30_000 });
      // The conflict is said once, in tab B (when both tabs sent it before either heard back, both were
      // refused, and a tab may hear before the other's write reaches it: only one of them says so, e2e_settled_tabs.test.ts).
      const conflict = 'You had already answered this pair (in another tab or window?): your first answer is kept.';
      expect([...(await toasts(a)), ...(await toasts(b))].filter((t) => t === conflict)).toEqual([conflict]);
      expect(await toasts(b)).toContain(conflict);
      // B has nothing of its own to undo; A can undo its answer.
      expect(await b.isDisabled('#undo')).toBe(true);
      expect(await a.isDisabled('#undo')).toBe(false);

      // Tab A renames alice to alicia: tab B takes the name up and answers under it.
      const p2 = await waitReady(b);
      await a.click('#rename');
      await a.fill('#modal-input', 'alicia');
      await a.press('#modal-input', 'Enter');
      await b.waitForFunction(() => document.getElementById('name-label')?.textContent === 'alicia');
      expect(await toasts(b)).toContain('Your name was changed to alicia in another tab: this tab uses it too.');
      await b.keyboard.press('ArrowRight');
      await waitFor(() => store.counts().labels === 2);
      expect(store.labels()[1]).toMatchObject({ pairId: p2.pairId, teacher: 'human:alicia' });

      // The run asks no more while the person drags the camera in tab B: both tabs thank the person,
      // with no pair and no answer buttons; the drag ends without a fault, and an answer key does nothing.
      await waitReady(b, p2.pairId);
      const box = (await b.locator('#clips').boundingBox())!;
      await b.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      await b.mouse.down();
      await b.mouse.move(box.x + box.width / 2 + 40, box.y + box.height / 2 + 10, { steps: 4 });
      server.stopHandingOut();
      const thanks = 'This run has all the labels it needs: thank you! Every answer you gave is saved. You can close this page.';
      for (const page of [a, b]) {
        await page.waitForFunction((t) => document.getElementById('overlay')?.textContent === t, thanks);
        expect(await overlay(page)).toBe(thanks);
        expect(await page.evaluate(() => (window as unknown as { prefrlDebug: { current(): unknown } }).prefrlDebug.current())).toBe(null);
        expect(await page.$$eval('.answer', (bs) => bs.map((x) => (x as HTMLButtonElement).disabled))).toEqual([true, true, true, true]);
      }
      await b.mouse.move(box.x + box.width / 2 + 80, box.y + box.height / 2, { steps: 4 });
      await b.mouse.up();
      await b.keyboard.press('ArrowLeft');
      await a.keyboard.press('ArrowRight');
      expect(store.counts().labels).toBe(2);
      expect(await debug(b, (d) => d.outbox())).toBe(0);
      // Both tabs showed the third pair when it was taken back: each says why it went.
      for (const page of [a, b]) expect(await toasts(page)).toContain('The run has all the labels it needs: the pair you were looking at is no longer asked.');
      // Then the run ends and its server stops: the pages keep their thank-you (not "the session has
      // ended"), and say the server has stopped.
      await server.close();
      for (const page of [a, b]) await page.waitForFunction((t) => document.getElementById('overlay')?.textContent === t, `${thanks} The labelling server has stopped.`, { timeout: 30_000 });
      expect(errors).toEqual([]);
    });
  });
});
