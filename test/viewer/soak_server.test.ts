/**
 * A labelling server that runs for a whole study: after a thousand pages that say hello, take
 * pairs, answer, undo, rename, drop their connection without closing, stop answering pings, send
 * junk or never finish their upgrade, everything the server holds per page (sessions, sockets,
 * hello timers, pages waiting or holding a pair, buffered replies) and every lease in the store
 * is back at its idle value, and the server still hands out and stores answers.
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Clock } from '../../core/clock.js';
import { Logger } from '../../core/log.js';
import { LabelStore } from '../../reward/store.js';
import { SLOW_READER_BYTES, ViewerServer, type ViewerServerStats } from '../../viewer/server.js';
import { serverFixture, TestClient } from './helpers.js';

const fx = serverFixture('soak', undefined, { episodes: 4, steps: 60, length: 10 });
const paused: WebSocket[] = [];

const IDLE: ViewerServerStats = { sessions: 0, wsClients: 0, sockets: 0, idle: 0, holdingPair: 0, helloTimers: 0, listeners: 0, bufferedBytes: 0 };

/** Leases in the store file (read by a second connection, as another process would). */
function leaseCount(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare('SELECT COUNT(*) AS n FROM leases').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** The leases in the store file, one "teacher pair" line each, for failure messages. */
function leaseList(path: string): string {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare('SELECT teacher, pair_id FROM leases ORDER BY teacher').all() as { teacher: string; pair_id: string }[]).map((r) => `${r.teacher} ${r.pair_id}`).join('; ');
  } finally {
    db.close();
  }
}

/** Wait until `ok()` holds (polled every 10 ms); fail with `what()` after 15 s. */
async function until(ok: () => boolean, what: () => string): Promise<void> {
  for (let i = 0; i < 1500; i++) {
    if (ok()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`not reached within 15 s: ${what()}`);
}

function healthz(port: number): Promise<number> {
  return new Promise((res, rej) => {
    const req = request({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (r) => {
      r.resume();
      r.on('end', () => res(r.statusCode ?? 0));
    });
    req.on('error', rej);
    req.end();
  });
}

/** A TCP client that starts an upgrade request and vanishes before its headers end. */
function halfUpgrade(port: number): Promise<void> {
  return new Promise((res) => {
    const sock = connect(port, '127.0.0.1', () => {
      sock.write(`GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n`);
      setImmediate(() => {
        sock.destroy();
        res();
      });
    });
    sock.on('error', () => res());
  });
}

type Kind = 'answer' | 'answer_undo' | 'drop_holding' | 'rename_drop' | 'idle_drop' | 'junk' | 'no_hello_drop' | 'bad_version' | 'half_upgrade' | 'healthz';
const KINDS: readonly Kind[] = ['answer', 'drop_holding', 'junk', 'answer_undo', 'rename_drop', 'no_hello_drop', 'bad_version', 'half_upgrade', 'healthz', 'idle_drop'];

/** One page's life of the given kind; returns the labels it left stored (0 or 1). */
async function page(s: ViewerServer, kind: Kind, i: number): Promise<number> {
  const name = `person ${(i + Math.floor(i / KINDS.length)) % 40}`;
  if (kind === 'half_upgrade') return halfUpgrade(s.boundPort).then(() => 0);
  if (kind === 'healthz') {
    expect(await healthz(s.boundPort)).toBe(200);
    return 0;
  }
  const c = await TestClient.open(s.url);
  try {
    switch (kind) {
      case 'answer': {
        await c.hello({ name });
        await c.answerNext({ name, labelId: `soak-label-${i}`, choice: i % 3 === 0 ? 'right' : 'left', responseMs: 900 });
        c.close();
        return 1;
      }
      case 'answer_undo': {
        await c.hello({ name });
        await c.answerNext({ name, labelId: `soak-label-${i}`, choice: 'left', responseMs: 900 });
        c.send({ type: 'undo', labelId: `soak-label-${i}`, name });
        await c.next('undone');
        await c.next('pair'); // the pair comes back, leased again, then the page drops
        c.ws.terminate();
        return 0;
      }
      case 'drop_holding': {
        await c.hello({ name });
        c.send({ type: 'next' });
        await c.next('pair');
        c.ws.terminate(); // no close handshake: the connection just goes
        return 0;
      }
      case 'rename_drop': {
        // Takes a pair, then changes the name the page uses, then goes.
        await c.hello({ name });
        c.send({ type: 'next' });
        await c.next('pair');
        c.send({ type: 'set_name', name: `${name} renamed` });
        await c.next('progress');
        await c.next('progress');
        c.ws.terminate();
        return 0;
      }
      case 'idle_drop': {
        // Has no name: told to give one, then never answers pings again (a phone that lost its network).
        await c.hello();
        c.send({ type: 'next' });
        await c.next('idle');
        c.ws.pause();
        paused.push(c.ws); // the server must drop it by itself; let go of it at the end
        return 0;
      }
      case 'junk': {
        c.send('{"type":"answer"'); // not JSON
        c.send({ type: 'next' }); // before hello
        c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
        c.send(`{"type":"hello","v":1,"name":"${'x'.repeat(70_000)}"}`); // over 64 KiB
        c.send({ type: 'no_such_thing' });
        const codes: string[] = [];
        for (let k = 0; k < 5; k++) codes.push((await c.next('error')).code);
        expect(codes).toEqual(['bad_json', 'need_hello', 'invalid', 'too_large', 'invalid']);
        await c.hello({ name });
        c.send({ type: 'answer', labelId: `junk-label-${i}`, pairId: 'no-such-pair', name, choice: 'left', responseMs: 5 });
        expect((await c.next('error')).code).toBe('not_found');
        c.ws.terminate();
        return 0;
      }
      case 'no_hello_drop':
        c.ws.terminate();
        return 0;
      case 'bad_version':
        c.send({ type: 'hello', v: 99 });
        expect((await c.next('error')).code).toBe('invalid');
        c.close();
        return 0;
    }
  } catch (e) {
    c.ws.terminate();
    throw e;
  }
  return 0;
}

describe('labelling server soak', () => {
  it('after 1,000 pages of every kind (answers, undos, drops, renames, junk, lost networks), every per-page count and lease is back to idle and labels are exactly the answers kept', async () => {
    const path = join(fx.dir, 'soak.sqlite');
    const store = LabelStore.open(path);
    store.putPairs(fx.pairs);
    // Each pair may go to all 40 people, so pairs never run out; pings every second (a page that misses one goes within two; a page that reads answers each even on a busy machine).
    const s = await ViewerServer.start({ store, env: fx.env, port: 0, staticDir: fx.site, pollMs: 20, overlap: 80, heartbeatMs: 1000 });
    try {
      const cycles = 1000;
      const batch = 8;
      let kept = 0;
      const perKind = new Map<Kind, number>();
      for (let i0 = 0; i0 < cycles; i0 += batch) {
        const work: Promise<number>[] = [];
        for (let i = i0; i < i0 + batch; i++) {
          // Pages that stop answering pings hold a session until the second ping: one in 50 pages,
          // so they never fill the server's 64 sessions while they wait to be dropped.
          const drawn = KINDS[i % KINDS.length];
          const kind = drawn === 'idle_drop' && i % 50 !== 9 ? 'drop_holding' : drawn;
          perKind.set(kind, (perKind.get(kind) ?? 0) + 1);
          work.push(page(s, kind, i));
        }
        for (const n of await Promise.all(work)) kept += n;
      }
      // 1,000 cycles over 10 kinds: 100 each, but 80 of the idle drops made plain drops; only plain answers stay stored.
      expect(perKind.get('answer')).toBe(100);
      expect(perKind.get('idle_drop')).toBe(20);
      expect(perKind.get('drop_holding')).toBe(180);
      expect(kept).toBe(100);
      await until(
        () => JSON.stringify(s.stats()) === JSON.stringify(IDLE) && leaseCount(path) === 0,
        () => `stats ${JSON.stringify(s.stats())}, ${leaseCount(path)} leases: ${leaseList(path)}`,
      );
      expect(s.stats()).toEqual(IDLE);
      expect(leaseCount(path)).toBe(0);
      expect(store.labels().length).toBe(100);
      // Still serving: a new page gets a pair and its answer is stored.
      const c = await TestClient.open(s.url);
      await c.hello({ name: 'late' });
      await c.answerNext({ name: 'late', labelId: 'late-label-1', choice: 'left', responseMs: 1000 });
      expect(store.labels().length).toBe(101);
      c.close();
    } finally {
      for (const ws of paused.splice(0)) ws.terminate();
      await s.close();
      store.close();
    }
  }, 120_000);

  it('a page renamed while showing a pair moves its lease to the new name, so closing the page gives the pair to a person waiting', async () => {
    const path = join(fx.dir, 'rename.sqlite');
    const store = LabelStore.open(path);
    store.putPairs(fx.pairs.slice(0, 1));
    const s = await ViewerServer.start({ store, env: fx.env, port: 0, staticDir: fx.site, pollMs: 20 });
    const a = await TestClient.open(s.url);
    const b = await TestClient.open(s.url);
    try {
      await a.hello({ name: 'ada' });
      a.send({ type: 'next' });
      const p = await a.next('pair');
      expect(leaseList(path)).toBe(`human:ada ${p.pairId}`);
      a.send({ type: 'set_name', name: 'Ada L' }); // a typo corrected: the page keeps showing the pair
      await a.next('progress');
      await a.next('progress');
      expect(leaseList(path)).toBe(`human:Ada L ${p.pairId}`);
      await b.hello({ name: 'bob' });
      b.send({ type: 'next' });
      expect((await b.next('idle')).reason).toBe('no_pairs'); // the only pair is on Ada's page
      a.ws.terminate();
      // Given back at once (the lease under the old name would have kept it for 5 minutes).
      expect((await b.next('pair', 5000)).pairId).toBe(p.pairId);
      expect(leaseList(path)).toBe(`human:bob ${p.pairId}`);
    } finally {
      b.close();
      await s.close();
      store.close();
    }
  });

  it('stats() counts pages as they are: one waiting for hello, one holding a pair, one idle, and a listener', async () => {
    const store = LabelStore.open(join(fx.dir, 'stats.sqlite'));
    store.putPairs(fx.pairs.slice(0, 1));
    const s = await ViewerServer.start({ store, env: fx.env, port: 0, staticDir: fx.site, pollMs: 20 });
    const off = s.onLabel(() => undefined);
    const quiet = await TestClient.open(s.url);
    const holder = await TestClient.open(s.url);
    const waiter = await TestClient.open(s.url);
    try {
      await holder.hello({ name: 'ada' });
      holder.send({ type: 'next' });
      await holder.next('pair');
      await waiter.hello({ name: 'bob' });
      waiter.send({ type: 'next' });
      await waiter.next('idle');
      expect(s.stats()).toEqual({ sessions: 3, wsClients: 3, sockets: 3, idle: 1, holdingPair: 1, helloTimers: 1, listeners: 1, bufferedBytes: 0 });
      off();
      quiet.ws.terminate();
      await until(() => s.stats().sessions === 2 && s.stats().sockets === 2, () => JSON.stringify(s.stats()));
      expect(s.stats()).toEqual({ sessions: 2, wsClients: 2, sockets: 2, idle: 1, holdingPair: 1, helloTimers: 0, listeners: 0, bufferedBytes: 0 });
    } finally {
      holder.close();
      waiter.close();
      await s.close();
      store.close();
    }
  });
});

/** The server's clock, 40 ms later at each reading: one message per 40 ms (25 a second) to the rate limit, however fast they come. */
class SteppingClock implements Clock {
  private t = 0;
  now(): number {
    this.t += 40;
    return this.t;
  }
  date(): Date {
    return new Date(Date.UTC(2026, 0, 1) + this.t);
  }
}

describe('slow readers', () => {
  it('drops a page that keeps asking for pairs at an allowed rate without reading them, once 16 MiB of replies wait for it', async () => {
    const store = LabelStore.open(join(fx.dir, 'slow.sqlite'));
    store.putPairs(fx.pairs.slice(0, 1));
    const clock = new SteppingClock();
    const logger = new Logger({ write: () => undefined });
    const s = await ViewerServer.start({ store, env: fx.env, port: 0, staticDir: fx.site, pollMs: 20, clock, logger });
    const ws = new WebSocket(s.url.replace(/^http/, 'ws').replace(/\/?$/, '/ws'));
    try {
      const sizes: number[] = [];
      ws.on('message', (d) => sizes.push(String(d).length));
      await new Promise<void>((res, rej) => {
        ws.once('open', () => res());
        ws.once('error', rej);
      });
      const closed = new Promise<void>((res) => ws.once('close', () => res()));
      ws.send(JSON.stringify({ type: 'hello', v: 1, name: 'ada' }));
      ws.send(JSON.stringify({ type: 'view_pair', pairId: fx.pairs[0].id }));
      await until(() => sizes.length >= 4, () => `${sizes.length} messages`); // welcome, progress, model, pair
      const pairBytes = sizes[3];
      ws.pause(); // reads nothing from here on
      // View the pair again and again: 25 a second on the server's clock, under the limit of 30.
      let sent = 0;
      const most = Math.ceil((3 * SLOW_READER_BYTES) / pairBytes);
      while (sent < most && ws.readyState === WebSocket.OPEN) {
        ws.send(`{"type":"view_pair","pairId":"${fx.pairs[0].id}"}`);
        sent++;
        if (sent % 2000 === 0) await new Promise((r) => setTimeout(r, 5));
      }
      ws.resume();
      const outcome = await Promise.race([closed.then(() => 'closed'), new Promise((r) => setTimeout(() => r('still open'), 10_000))]);
      expect(outcome).toBe('closed');
      // Dropped only after more than 16 MiB of pairs were sent its way (the rest sat in socket buffers).
      expect(sent * pairBytes).toBeGreaterThan(SLOW_READER_BYTES);
      expect(logger.warnings, `sent ${sent}`).toEqual(['viewer: dropped a page that left more than 16 MiB of replies unread']);
      await until(() => s.stats().sessions === 0, () => JSON.stringify(s.stats()));
      expect(s.stats()).toEqual(IDLE);
    } finally {
      ws.terminate();
      await s.close();
      store.close();
    }
  }, 60_000);

  it('a flooding page that is dropped is logged once: the messages it had sent before are ignored, not each refused and logged again', async () => {
    const store = LabelStore.open(join(fx.dir, 'flood.sqlite'));
    const logger = new Logger({ write: () => undefined });
    // A clock that stands still: every message after the 300th is over the limit.
    const s = await ViewerServer.start({ store, env: fx.env, port: 0, staticDir: fx.site, pollMs: 20, clock: { now: () => 0, date: () => new Date(Date.UTC(2026, 0, 1)) }, logger });
    const ws = new WebSocket(s.url.replace(/^http/, 'ws').replace(/\/?$/, '/ws'));
    try {
      await new Promise<void>((res, rej) => {
        ws.once('open', () => res());
        ws.once('error', rej);
      });
      const closed = new Promise<void>((res) => ws.once('close', () => res()));
      ws.send(JSON.stringify({ type: 'hello', v: 1 }));
      ws.pause();
      let sent = 0;
      while (sent < 200_000 && ws.readyState === WebSocket.OPEN) {
        ws.send('{"type":"next"}');
        sent++;
        if (sent % 5000 === 0) await new Promise((r) => setTimeout(r, 5));
      }
      ws.resume();
      const outcome = await Promise.race([closed.then(() => 'closed'), new Promise((r) => setTimeout(() => r('still open'), 20_000))]);
      expect(outcome).toBe('closed');
      await until(() => s.stats().sessions === 0, () => JSON.stringify(s.stats()));
      expect(logger.warnings).toEqual(['viewer: dropped a page that sent more than 300 messages in 10 s without reading the replies']);
    } finally {
      ws.terminate();
      await s.close();
      store.close();
    }
  }, 60_000);

  it('deletes leases that ran out at each heartbeat (they stayed in the store for good) and keeps those still running', async () => {
    const path = join(fx.dir, 'prune.sqlite');
    const store = LabelStore.open(path);
    store.putPairs(fx.pairs.slice(0, 3));
    const now = Date.UTC(2026, 0, 1, 12);
    // Two leases that ran out a minute ago (a page long gone) and one that runs for another minute.
    store.leasePair(fx.pairs[0].id, 'human:ann', now - 60_000);
    store.leasePair(fx.pairs[1].id, 'human:bob', now - 60_000);
    store.leasePair(fx.pairs[2].id, 'human:cy', now + 60_000);
    expect(leaseCount(path)).toBe(3);
    const s = await ViewerServer.start({ store, env: fx.env, port: 0, staticDir: fx.site, heartbeatMs: 20, clock: { now: () => 0, date: () => new Date(now) } });
    try {
      await until(() => leaseCount(path) === 1, () => leaseList(path));
      expect(leaseList(path)).toBe(`human:cy ${fx.pairs[2].id}`);
    } finally {
      await s.close();
      store.close();
    }
  });
});

