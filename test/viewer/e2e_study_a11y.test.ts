/**
 * A teacher who needs the page to be calm and to speak: a device that asks for less motion
 * (prefers-reduced-motion), a screen reader that hears what the page says (an answer given, a new
 * pair, the end of the pairs), and a network that goes silent mid-answer without closing anything
 * (a phone out of reach of its Wi-Fi): the page says so, keeps the answer, and once the silence
 * lasts opens a new connection that stores it, once.
 */
import type { Page, WebSocketRoute } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { STALL_DROP_MS, STALL_MS } from '../../viewer/client/net.js';
import { useLab, waitFor, waitReady } from './e2e_page.js';
import { TestClient } from './helpers.js';

const lab = useLab('study-a11y');

const text = (page: Page, id: string) => page.evaluate((i) => document.getElementById(i)?.textContent ?? '', id);

/** Every text the screen-reader region (#said) took, in order. */
const watchSaid = `window.__said = []; new MutationObserver(() => { const t = document.getElementById('said').textContent; if (t) window.__said.push(t); }).observe(document.getElementById('said'), { childList: true, characterData: true, subtree: true });`;
const said = (page: Page) => page.evaluate('window.__said') as Promise<string[]>;

/** The text of the screen-reader region once it says something matching `re`. */
async function saysSoon(page: Page, re: RegExp): Promise<string> {
  await page.waitForFunction((src) => new RegExp(src).test(document.getElementById('said')?.textContent ?? ''), re.source, { timeout: 20_000 });
  return text(page, 'said');
}

describe('less motion, a screen reader, and a silent network', () => {
  it('with less motion asked for, each pair waits at its first step (said on the page and to screen readers) until Play; the toast does not fade', async () => {
    await lab.withPage(
      async ({ page, store }) => {
        await waitReady(page);
        expect(await saysSoon(page, /new pair/)).toBe('A new pair is on screen, stopped at its first step: press P to play it.');
        await page.evaluate(watchSaid);
        // Still at step 0, and the button offers to play.
        expect(await text(page, 'time')).toMatch(/^step 0\//);
        expect(await page.getAttribute('#play', 'aria-label')).toBe('play the clips');
        expect(await page.isVisible('#motion-note')).toBe(true);
        expect(await text(page, 'motion-note')).toContain('Your device asks for less motion');
        expect(await page.evaluate(() => getComputedStyle(document.getElementById('toast') as Element).transitionDuration)).toBe('0s');
        // P plays them: the button now offers to pause, and the step moves on.
        await page.keyboard.press('p');
        expect(await page.getAttribute('#play', 'aria-label')).toBe('pause the clips');
        await page.waitForFunction(() => !/^step 0\//.test(document.getElementById('time')?.textContent ?? ''));
        // An answer by key: said to screen readers, and the next pair waits again.
        const first = await waitReady(page);
        await page.keyboard.press('ArrowLeft');
        await waitReady(page, first.pairId);
        // Said with the answer when the pair comes at once, else after "Loading the next pair…".
        expect(await saysSoon(page, /new pair/)).toMatch(/^(Left is better: answered\. )?A new pair is on screen, stopped at its first step: press P to play it\.$/);
        expect((await said(page)).join(' ').match(/Left is better: answered\./g)).toHaveLength(1);
        expect(await text(page, 'time')).toMatch(/^step 0\//);
        expect(await page.getAttribute('#play', 'aria-label')).toBe('play the clips');
        await waitFor(() => store.counts().labels === 1);
      },
      { count: 2, context: { reducedMotion: 'reduce' } },
    );
  });

  it('tells a screen reader each answer, each new pair and the end of the pairs, through a live region that stays in the page; the end says whether others still hold pairs or the study is through', async () => {
    await lab.withPage(
      async ({ page, store, server }) => {
        // bob holds one of the 3 pairs open (another person's page).
        const bob = await TestClient.open(server.url);
        await bob.hello({ name: 'bob' });
        bob.send({ type: 'next' });
        const bobs = await bob.next('pair');
        await waitReady(page);
        // Without the less-motion setting the clips play at once.
        expect(await page.getAttribute('#play', 'aria-label')).toBe('pause the clips');
        expect(await page.isVisible('#motion-note')).toBe(false);
        expect(await saysSoon(page, /new pair/)).toBe('A new pair is on screen.');
        await page.evaluate(watchSaid);
        // The region Chromium gives screen readers: a polite live status, in the tree before anything is said.
        const cdp = await page.context().newCDPSession(page);
        const liveRegions = async () => {
          const { nodes } = (await cdp.send('Accessibility.getFullAXTree')) as { nodes: { ignored: boolean; role?: { value: string }; properties?: { name: string; value: { value: unknown } }[] }[] };
          return nodes.filter((n) => !n.ignored && n.role?.value === 'status' && n.properties?.some((p) => p.name === 'live' && p.value.value === 'polite')).length;
        };
        expect(await liveRegions()).toBeGreaterThanOrEqual(1);
        // A screen reader's heading list starts with the page's name (the HERON tab's own heading is its h2).
        expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('prefrl labelling');
        const pairs = ['ArrowRight', ' ']; // "right is better", then "can't tell"
        let prev: string | undefined;
        for (const key of pairs) {
          prev = (await waitReady(page, prev)).pairId;
          // As a person who listens: the pair is said to be there before the key.
          await saysSoon(page, /new pair/);
          await page.keyboard.press(key);
        }
        const end = await saysSoon(page, /No pairs are waiting/);
        expect(end).toMatch(/^(Can't tell: answered\. )?No pairs are waiting for you right now \(1 pair waits for others, or is open with them\)\. Pairs asked later appear here by themselves\.$/);
        expect(await text(page, 'overlay')).toBe('No pairs are waiting for you right now (1 pair waits for others, or is open with them). Pairs asked later appear here by themselves.');
        // Each answer said once, with what came after it; one new pair (the second) between them.
        const heard = (await said(page)).join(' ');
        expect(heard.match(/Right is better: answered\./g)).toHaveLength(1);
        expect(heard.match(/Can't tell: answered\./g)).toHaveLength(1);
        expect(heard.match(/A new pair is on screen\./g)).toHaveLength(1);
        expect(heard.indexOf('Right is better')).toBeLessThan(heard.indexOf('A new pair'));
        expect(heard.indexOf('A new pair')).toBeLessThan(heard.indexOf("Can't tell"));
        // The overlay that shows the same words is not a second live region (it would be read twice, or not at all once shown).
        expect(await page.getAttribute('#overlay', 'aria-live')).toBeNull();
        await waitFor(() => store.counts().labels === 2);
        // bob answers the last pair: alice's page, still idle, says the study is through for now.
        bob.send({ type: 'answer', labelId: 'h-bob-study-0', pairId: bobs.pairId, name: 'bob', choice: 'left', responseMs: 900 });
        await bob.next('ack');
        bob.close();
        const through = 'Every pair asked so far has the answers it needs: thank you! Every answer you gave is saved. Pairs asked later appear here by themselves.';
        expect(await saysSoon(page, /Every pair asked so far/).catch(async (e: unknown) => {
          throw new Error(`${String(e)}; the page: overlay=${await text(page, 'overlay')} waiting=${await text(page, 'p-waiting')} said=${await text(page, 'said')} server idle=${server.stats().idle} store=${JSON.stringify(store.counts())}`);
        })).toBe(through);
        expect(await text(page, 'overlay')).toBe(through);
        expect(await text(page, 'p-waiting')).toBe('0');
        expect(await liveRegions()).toBeGreaterThanOrEqual(1);
      },
      { count: 3 },
    );
  });

  it('on a 360 x 740 phone the answers stay at the bottom edge under both clips, a tap answers and the next pair comes in the same place; the keyboard scrolls clear of them; a 1920 px screen keeps them in line', async () => {
    await lab.withPage(
      async ({ page, store }) => {
        const first = await waitReady(page);
        // Scrolled so that the clips start at the top of the screen.
        await page.evaluate(() => window.scrollTo(0, (document.getElementById('clips') as HTMLElement).getBoundingClientRect().top + window.scrollY));
        const layout = () =>
          page.evaluate(() => {
            const r = (sel: string) => (document.querySelector(sel) as HTMLElement).getBoundingClientRect();
            const panes = [...document.querySelectorAll('.pane')].map((e) => e.getBoundingClientRect());
            return { y: Math.round(window.scrollY), h: window.innerHeight, panes: panes.map((b) => [Math.round(b.top), Math.round(b.bottom)]), answers: [Math.round(r('#answers').top), Math.round(r('#answers').bottom)] };
          });
        const before = await layout();
        // Stacked clips, both on screen above the answers, which sit on the bottom edge.
        expect(before.panes[1][0]).toBeGreaterThan(before.panes[0][0]);
        expect(before.panes[0][0]).toBeGreaterThanOrEqual(0);
        expect(before.panes[1][1]).toBeLessThanOrEqual(before.answers[0]);
        expect(before.answers[1]).toBeLessThanOrEqual(before.h);
        expect(before.answers[1]).toBeGreaterThan(before.h - 20);
        await page.getByRole('button', { name: 'Left is better' }).tap();
        await waitReady(page, first.pairId);
        expect(await layout()).toEqual(before);
        await waitFor(() => store.counts().labels === 1);
        // The keyboard: a control below the clips (the play button, under the answers at this scroll) is scrolled into sight when reached.
        await page.evaluate(() => (document.getElementById('reset-cam') as HTMLElement).focus());
        await page.keyboard.press('Shift+Tab');
        const play = await page.evaluate(() => {
          const b = (document.activeElement as HTMLElement).getBoundingClientRect();
          return { id: document.activeElement?.id, bottom: b.bottom, answersTop: (document.getElementById('answers') as HTMLElement).getBoundingClientRect().top };
        });
        expect(play.id).toBe('follow');
        expect(play.bottom).toBeLessThanOrEqual(play.answersTop);
        // On a big screen the answers are in line under the transport, not held to the edge.
        await page.setViewportSize({ width: 1920, height: 1080 });
        expect(await page.evaluate(() => getComputedStyle(document.getElementById('answers') as Element).position)).toBe('static');
        expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBe(1920);
      },
      { count: 2, context: { viewport: { width: 360, height: 740 }, hasTouch: true, isMobile: true } },
    );
  });

  it('a server silent after an answer: the page says "no reply" and that the answer is kept; the reply lands it; a longer silence opens a new connection that stores the next answer once', async () => {
    const srv = await lab.serve(3);
    const ctx = await lab.browser.newContext({ viewport: { width: 820, height: 640 } });
    try {
      await ctx.addInitScript(() => localStorage.setItem('prefrl.name', JSON.stringify('ada')));
      const page = await ctx.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      // A relay that can hold back the server's messages on the page's n-th connection (the network
      // goes silent, nothing closes): `holding(n)` says whether it does now.
      const ctl = { holding: (_n: number) => false, sockets: 0, held: [] as { route: WebSocketRoute; msg: string | Buffer }[] };
      await page.routeWebSocket(
        (url) => url.pathname === '/ws',
        (route) => {
          const n = ++ctl.sockets;
          const server = route.connectToServer();
          route.onMessage((m) => server.send(m));
          server.onMessage((m) => {
            if (ctl.holding(n)) ctl.held.push({ route, msg: m });
            else route.send(m);
          });
          route.onClose((code, reason) => {
            ctl.held = ctl.held.filter((h) => h.route !== route);
            server.close({ code, reason });
          });
          server.onClose((code, reason) => route.close({ code, reason }));
        },
      );
      await page.clock.install();
      await page.goto(srv.server.url);
      const first = await waitReady(page);
      expect(await text(page, 'conn')).toBe('connected');

      // Silence: the answer goes out, nothing comes back.
      ctl.holding = () => true;
      await page.keyboard.press('ArrowLeft');
      await page.clock.fastForward(STALL_MS + 1500);
      await page.waitForFunction(() => document.getElementById('conn')?.textContent === 'no reply');
      const overlay = await text(page, 'overlay');
      expect(overlay).toBe('The labelling server has not replied for a while (a slow or lost connection?). 1 answer is kept on this device and sent as soon as it replies: nothing is lost. This page keeps trying by itself.');
      // Said to screen readers too (with the answer, where the page's clock held the words back until now).
      expect(await saysSoon(page, /has not replied/)).toMatch(/^(Left is better: answered\. )?The labelling server has not replied/);
      expect(await text(page, 'said')).toContain(overlay);
      expect(await text(page, 'p-outbox')).toBe('1 answer waiting to be sent');
      // The server did store it (the page has not heard yet).
      await waitFor(() => srv.store.counts().labels === 1);
      // The replies come through: connected again, the next pair, nothing waiting.
      ctl.holding = () => false;
      for (const { route, msg } of ctl.held.splice(0)) route.send(msg);
      const second = await waitReady(page, first.pairId);
      expect(await text(page, 'conn')).toBe('connected');
      await page.waitForFunction(() => document.getElementById('p-outbox')?.classList.contains('hidden') === true);
      expect(ctl.sockets).toBe(1);

      // A silence that lasts: the page gives that connection up and opens another, which re-sends the answer.
      ctl.holding = () => true;
      await page.keyboard.press('ArrowRight');
      await page.clock.fastForward(STALL_MS + 1500);
      await page.waitForFunction(() => document.getElementById('conn')?.textContent === 'no reply');
      await waitFor(() => srv.store.counts().labels === 2);
      // The first connection stays silent (what it held is lost with it; a message the server sends on
      // it later, such as the counts, would tell the page it lives, and no new connection would come:
      // a race seen once in CI); a new connection gets every message.
      ctl.holding = (n) => n === 1;
      await page.clock.fastForward(STALL_DROP_MS);
      await page.waitForFunction(() => document.getElementById('conn')?.textContent !== 'no reply');
      // The reconnect waits 0.4 s (its first try) on the page's clock.
      await page.clock.fastForward(1000);
      await waitReady(page, second.pairId).catch(async (e: unknown) => {
        throw new Error(`${String(e)}; the page: conn=${await text(page, 'conn')} overlay=${await text(page, 'overlay')} sockets=${ctl.sockets} title=${await page.getAttribute('#conn', 'title')} labels=${srv.store.counts().labels}`);
      });
      expect(await text(page, 'conn')).toBe('connected');
      expect(ctl.sockets).toBe(2);
      await page.waitForFunction(() => document.getElementById('p-outbox')?.classList.contains('hidden') === true);
      // Each answer stored once, under its own pair, as given (the first "left", the second "right").
      const stored = srv.store.labels().map((l) => [l.pairId, JSON.parse(l.raw ?? '{}').choice as string]);
      expect(stored.sort()).toEqual([[first.pairId, 'left'], [second.pairId, 'right']].sort());
      expect(await text(page, 'p-session')).toBe('2');
      expect(errors).toEqual([]);
    } finally {
      await ctx.close();
      await srv.close();
    }
  });
});
