/**
 * A labelling server with every page slot taken (MAX_SESSIONS): a new page is told so and when to
 * try again (close code FULL_CLOSE_CODE), the pages there are pinged, and those that leave the ping
 * unanswered for PONG_GRACE_MS (phones gone without a close) give their slots, and their pairs, to
 * the pages asking next. Pages are scripted WebSocket clients; a "gone" one stops reading its
 * socket (so it answers no ping). The grace runs on a ManualClock.
 */
import { join } from 'node:path';
import WebSocket from 'ws';
import { expect, it } from 'vitest';
import { ManualClock } from '../../core/clock.js';
import { Logger } from '../../core/log.js';
import { LabelStore } from '../../reward/store.js';
import { FULL_CLOSE_CODE, fullCloseReason, parseFullPages, parseFullRetry } from '../../viewer/protocol.js';
import { MAX_SESSIONS, PONG_GRACE_MS, ViewerServer } from '../../viewer/server.js';
import { serverFixture, TestClient } from './helpers.js';

const fx = serverFixture('viewer-full');

/** How a new socket ends up: a page with a slot (welcomed after its hello), or closed with this code and reason. */
function knock(url: string): Promise<{ opened: WebSocket } | { code: number; reason: string }> {
  const ws = new WebSocket(url.replace(/^http/, 'ws').replace(/\/?$/, '/ws'));
  return new Promise((res, rej) => {
    let opened = false;
    ws.once('open', () => {
      opened = true;
      ws.send(JSON.stringify({ type: 'hello', v: 1 }));
    });
    ws.on('message', (data) => {
      if ((JSON.parse(String(data)) as { type: string }).type === 'welcome') res({ opened: ws });
    });
    ws.once('close', (code, reason) => res({ code, reason: reason.toString() }));
    ws.once('error', (e) => {
      if (!opened) rej(e);
    });
  });
}

it('the reason a full server gives says how many pages and when to retry; the page reads both (with fallbacks)', () => {
  const r = fullCloseReason(64, 12);
  expect(r).toBe('full: 64 pages open; retry in 12 s');
  expect(Buffer.byteLength(r)).toBeLessThan(123);
  expect(parseFullRetry(r)).toBe(12);
  expect(parseFullPages(r)).toBe(64);
  expect(parseFullRetry('')).toBe(10);
  expect(parseFullPages('')).toBe(null);
  expect(parseFullRetry('retry in 0 s')).toBe(1);
});

it('full: a new page is told to retry in 12 s; pages gone without a close (no pong for 10 s) then give their slots and pairs to the next pages; pages that answer pings keep theirs', async () => {
  const { dir, site, env, pairs } = fx;
  const store = LabelStore.open(join(dir, 'full.sqlite'));
  store.putPairs(pairs.slice(0, 2), { round: 0 });
  const clock = new ManualClock();
  // A long heartbeat: only the full server's own pings are sent in this test.
  const lines: string[] = [];
  const logger = new Logger({ write: (line: string) => lines.push(line) });
  const s = await ViewerServer.start({ store, env, port: 0, staticDir: site, pollMs: 50, heartbeatMs: 3_600_000, clock, logger });
  const pages: TestClient[] = [];
  try {
    expect(MAX_SESSIONS).toBe(64);
    expect(PONG_GRACE_MS).toBe(10_000);
    for (let i = 0; i < MAX_SESSIONS; i++) pages.push(await TestClient.open(s.url));
    // Two of them hold pairs, then their phones go (no close: they stop reading, so no pong).
    const gone = pages.slice(0, 2);
    const held: string[] = [];
    for (const [i, c] of gone.entries()) {
      await c.hello({ name: `gone${i}` });
      c.send({ type: 'next' });
      held.push((await c.next('pair')).pairId);
      c.ws.pause();
    }
    const present = pages.slice(2);
    const pinged = present.map((c) => new Promise<void>((res) => c.ws.once('ping', () => res())));
    const refused = await knock(s.url);
    expect(refused).toEqual({ code: FULL_CLOSE_CODE, reason: 'full: 64 pages open; retry in 12 s' });
    expect(s.connections).toBe(MAX_SESSIONS);
    // Every page there was pinged; the present ones answered (a reply after the ping shows its pong arrived first).
    await Promise.all(pinged);
    for (const c of present.slice(0, 1)) await c.hello({ name: 'here' });
    await Promise.all(present.slice(1).map((c) => c.hello()));
    // Before the grace has passed nobody is taken for gone: still full.
    clock.advance(PONG_GRACE_MS - 1);
    expect(await knock(s.url)).toMatchObject({ code: FULL_CLOSE_CODE });
    clock.advance(1);
    // Two pages refused within a minute: one warning.
    expect(lines.filter((l) => l.includes('the most this server takes'))).toEqual(['[prefrl] warn: viewer: 64 pages are open, the most this server takes: a new page was asked to retry in 12 s\n']);
    // Now the two gone pages go: the next page gets a slot, and their pairs are free again.
    const admitted = await knock(s.url);
    expect('opened' in admitted).toBe(true);
    // The gone pages' sockets are cut (they read nothing, so they learn it only when they read again).
    for (const c of gone) c.ws.resume();
    await Promise.all(gone.map((c) => c.closed()));
    await new Promise<void>((res) => {
      const check = () => (store.nextPairFor('human:next', { leaseMs: 60_000 }) && s.connections === MAX_SESSIONS - 1 ? res() : setTimeout(check, 20));
      check();
    });
    // Both pairs were given back: the newcomer's person takes one, and another person the other.
    expect(store.nextPairFor('human:other', { leaseMs: 60_000 })?.pair.id).toBeDefined();
    expect(new Set([store.nextPairFor('human:next', { leaseMs: 60_000 })!.pair.id, store.nextPairFor('human:other', { leaseMs: 60_000 })!.pair.id])).toEqual(new Set(held));
    // The present pages are all still open.
    expect(present.every((c) => c.closeCode === null)).toBe(true);
    if ('opened' in admitted) admitted.opened.close();
  } finally {
    for (const c of pages) c.ws.terminate();
    await s.close();
    store.close();
  }
}, 30_000);
