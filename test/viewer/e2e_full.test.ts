/**
 * A labelling server with every page slot taken, seen from the page: it says so plainly ("server
 * full", and when it tries again), then gets in by itself once the server has found a gone page
 * (one that stopped answering pings) and given its slot away. The other pages are scripted
 * WebSocket clients; the server's grace for an unanswered ping is 1 s here (10 s by default), so the
 * page is asked to retry in 3 s.
 */
import { expect, it } from 'vitest';
import { MAX_SESSIONS } from '../../viewer/server.js';
import { useLab, waitReady } from './e2e_page.js';
import { TestClient } from './helpers.js';

const lab = useLab('full');

it('a page refused by a full server says so and when it tries again, then gets in by itself once a gone page gives up its slot', async () => {
  const srv = await lab.serve(2, { pongGraceMs: 1000 });
  const { server } = srv;
  const others: TestClient[] = [];
  try {
    for (let i = 0; i < MAX_SESSIONS; i++) others.push(await TestClient.open(server.url));
    // One of them is a phone that went away without closing its page: it reads nothing, so answers no ping.
    others[0].ws.pause();
    const { page, ctx, errors } = await lab.open(server.url, 'alice');
    try {
      await page.waitForFunction(() => document.getElementById('conn')?.textContent === 'server full');
      expect(await page.textContent('#overlay')).toBe(
        'Too many pages are open on this labelling server right now: the labelling server has 64 pages open, the most it takes; trying again in 3 s. Nothing to do here: this page connects by itself as soon as there is room. Answers are kept on this device meanwhile.',
      );
      // 3 s on, it asks again: the gone page owed a pong for over 1 s, so its slot is the page's.
      const p = await waitReady(page);
      expect(lab.pairs.slice(0, 2).map((x) => x.id)).toContain(p.pairId);
      expect(await page.textContent('#conn')).toBe('connected');
      expect(server.connections).toBe(MAX_SESSIONS);
      expect(others.slice(1).every((c) => c.closeCode === null)).toBe(true);
      expect(errors).toEqual([]);
    } finally {
      await ctx.close();
    }
  } finally {
    for (const c of others) c.ws.terminate();
    await srv.close();
  }
});
