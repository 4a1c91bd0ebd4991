/**
 * Two tabs of one person in one browser (one localStorage): the record of how the server settled
 * each answer (net.ts's SettledLog) and the refusal both tabs hear, in Chromium rather than the
 * stand-in storage of client_net.test.ts, where another tab's write reaches a page a moment later.
 * - Two tabs recording entries at once lose none (one list read, changed and written back lost
 *   31 of 300 here).
 * - Both tabs send both answers of a pair before either hears back (the replies are held by a
 *   relay between page and server, then let go in both tabs at once): the refusal of the second
 *   answer is said in one tab only (decided with Web Locks: net.ts SayOnce), and the tab whose
 *   answer was stored counts it.
 */
import type { Page, WebSocketRoute } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { useLab, waitFor, waitReady } from './e2e_page.js';

const lab = useLab('settled-tabs');

interface Debug {
  settle(key: string, stored: boolean): void;
  settledKeys(): string[];
  outbox(): number;
  connected(): boolean;
  drop(): void;
}
const debug = <T>(page: Page, f: (d: Debug) => T): Promise<T> => page.evaluate(`(${f.toString()})(window.prefrlDebug)`) as Promise<T>;

/** Record `n` settled entries `<prefix>-<i>` in a page, one per turn of its event loop. */
const recordMany = (page: Page, prefix: string, n: number): Promise<void> =>
  page.evaluate(
    async ([p, k]) => {
      const d = (window as unknown as { prefrlDebug: Debug }).prefrlDebug;
      for (let i = 0; i < k; i++) {
        d.settle(`${p}-${i}`, i % 2 === 0);
        await new Promise((r) => setTimeout(r, 0));
      }
    },
    [prefix, n] as const,
  );

/**
 * A relay between a page's socket and the server that keeps back the server's messages until
 * `release`: with `hold` 'replies' those that settle an outbox entry (ack, error), with 'all' every
 * one; a socket closed meanwhile loses what was held for it, as a dropped connection would.
 */
async function relay(page: Page) {
  const ctl = {
    hold: false as false | 'replies' | 'all',
    held: [] as { route: WebSocketRoute; msg: string }[],
    release(): number {
      const out = this.held.splice(0);
      for (const { route, msg } of out) route.send(msg);
      return out.length;
    },
  };
  await page.routeWebSocket(
    (url) => url.pathname === '/ws',
    (route) => {
      const server = route.connectToServer();
      route.onMessage((m) => server.send(m));
      server.onMessage((m) => {
        const type = typeof m === 'string' ? (JSON.parse(m) as { type: string }).type : '';
        if (ctl.hold === 'all' || (ctl.hold === 'replies' && (type === 'ack' || type === 'error'))) ctl.held.push({ route, msg: m as string });
        else route.send(m);
      });
      route.onClose((code, reason) => {
        ctl.held = ctl.held.filter((h) => h.route !== route);
        server.close({ code, reason });
      });
      server.onClose((code, reason) => route.close({ code, reason }));
    },
  );
  return ctl;
}

// Every toast a page shows, in order (the element's text is replaced by the next one).
const watchToasts = `window.__toasts = []; new MutationObserver(() => window.__toasts.push(document.getElementById('toast').textContent)).observe(document.getElementById('toast'), { childList: true, characterData: true, subtree: true });`;
const toasts = (page: Page) => page.evaluate('window.__toasts') as Promise<string[]>;

describe('the settled record across two tabs', () => {
  it('two tabs recording entries at once lose none; each tab reads all of them', async () => {
    await lab.withTabs(async ({ a, b, url, errors }) => {
      await b.goto(url);
      // Connected is enough (the clips need not be drawn).
      for (const page of [a, b]) await page.waitForFunction(() => (window as unknown as { prefrlDebug?: Debug }).prefrlDebug?.connected() === true, null, { timeout: 20_000 });
      await Promise.all([recordMany(a, 'h-a', 150), recordMany(b, 'h-b', 150)]);
      // (Another tab's write reaches a page a moment later.)
      for (const page of [a, b]) await page.waitForFunction(() => (window as unknown as { prefrlDebug: Debug }).prefrlDebug.settledKeys().length >= 300, null, { timeout: 10_000 }).catch(() => undefined);
      const want = [...Array.from({ length: 150 }, (_, i) => `h-a-${i}`), ...Array.from({ length: 150 }, (_, i) => `h-b-${i}`)].sort();
      expect((await debug(a, (d) => d.settledKeys())).sort()).toEqual(want);
      expect((await debug(b, (d) => d.settledKeys())).sort()).toEqual(want);
      expect(errors).toEqual([]);
    });
  }, 90_000);

  it('both tabs send both answers of one pair before either hears back: the refusal of the second is said in one tab only, and the first is counted where it was made', async () => {
    await lab.withTabs(async ({ a, b, url, store, errors }) => {
      // The relays apply to sockets opened from here on: tab A's page is loaded again.
      const relayA = await relay(a);
      const relayB = await relay(b);
      await a.reload();
      await b.goto(url);
      const p1 = await waitReady(a);
      expect((await waitReady(b)).pairId).toBe(p1.pairId);
      for (const page of [a, b]) await page.evaluate(watchToasts);
      // Tab A answers first (left), then tab B (right), their replies held; tab B hears nothing at all
      // meanwhile (the server moves it on to the next pair once A has answered: it answers the first).
      relayA.hold = 'replies';
      relayB.hold = 'all';
      await a.keyboard.press('ArrowLeft');
      await waitFor(() => store.counts().labels === 1);
      await b.keyboard.press('ArrowRight');
      await a.waitForFunction(() => (window as unknown as { prefrlDebug: Debug }).prefrlDebug.outbox() === 2);
      await b.waitForFunction(() => (window as unknown as { prefrlDebug: Debug }).prefrlDebug.outbox() === 2);
      relayB.hold = 'replies';
      // Both sockets drop (their held replies go with them); each tab reconnects and sends the whole outbox.
      for (const page of [a, b]) await debug(page, (d) => d.drop());
      for (const page of [a, b]) await page.waitForFunction(() => (window as unknown as { prefrlDebug: Debug }).prefrlDebug.connected(), null, { timeout: 20_000 });
      // Each socket's replies: tab A's answer acknowledged, tab B's refused (a conflict), held until both are in.
      await waitFor(() => relayA.held.length === 2 && relayB.held.length === 2, 20_000);
      expect(relayA.release() + relayB.release()).toBe(4);
      for (const page of [a, b]) await page.waitForFunction(() => (window as unknown as { prefrlDebug: Debug }).prefrlDebug.outbox() === 0, null, { timeout: 20_000 });
      expect(store.labels()).toMatchObject([{ pairId: p1.pairId, teacher: 'human:alice', probFirst: p1.leftIs === 'a' ? 1 : 0 }]);
      await a.waitForFunction(() => document.getElementById('p-session')?.textContent === '1');
      expect(await b.textContent('#p-session')).toBe('0');
      // Give a second toast time to show, if one were coming.
      await new Promise((r) => setTimeout(r, 500));
      const conflict = 'You had already answered this pair (in another tab or window?): your first answer is kept.';
      const all = [...(await toasts(a)), ...(await toasts(b))];
      expect(all.filter((t) => t === conflict)).toEqual([conflict]);
      // Decided with Web Locks (a page on 127.0.0.1 is a secure context): the lock of that refusal is
      // held by the tab that said it (either tab sees the origin's locks), and no storage claim was written.
      const held = await a.evaluate(async () => ((await navigator.locks.query()).held ?? []).map((l) => l.name ?? ''));
      expect(held.filter((n) => n.startsWith('prefrl.said.v1:'))).toEqual([expect.stringMatching(/^prefrl\.said\.v1:h-[\w-]+:conflict$/)]);
      for (const page of [a, b]) expect(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('prefrl.said.v1:')))).toEqual([]);
      expect(errors).toEqual([]);
    });
  }, 90_000);
});
