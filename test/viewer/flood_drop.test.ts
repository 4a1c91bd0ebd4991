/**
 * A page that floods the labelling server without reading its replies is dropped once a
 * megabyte of refusals waits for it, instead of the server buffering one refusal per message
 * for as long as the flood lasts; a page that reads its replies is refused, not dropped.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ManualClock } from '../../core/clock.js';
import { Logger } from '../../core/log.js';
import { LabelStore } from '../../reward/store.js';
import { loadViewerEnv, type ViewerEnv } from '../../viewer/env_info.js';
import { ViewerServer } from '../../viewer/server.js';
import { stubSite, TestClient } from './helpers.js';

let dir: string;
let env: ViewerEnv;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'prefrl-flood-'));
  stubSite(join(dir, 'site'));
  env = await loadViewerEnv({ id: 'toy-reach' });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('viewer flood', () => {
  it('drops a flooding page that does not read its replies, with a warning', async () => {
    const store = LabelStore.open(join(dir, 'a.sqlite'));
    const warnings: string[] = [];
    const logger = new Logger({ write: () => undefined });
    const s = await ViewerServer.start({ store, env, port: 0, staticDir: join(dir, 'site'), pollMs: 50, clock: new ManualClock(), logger });
    const ws = new WebSocket(s.url.replace(/^http/, 'ws').replace(/\/?(\?.*)?$/, '/ws'));
    try {
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
      // A hello first, so the hello timeout (15 s) cannot be what closes the page.
      ws.send(JSON.stringify({ type: 'hello', v: 1 }));
      ws.pause(); // reads nothing from here on
      // About 110 bytes of refusal per message: 200,000 messages are some 22 MB of replies,
      // more than the loopback socket buffers and the server's 1 MiB limit together.
      let sent = 0;
      while (sent < 200_000 && ws.readyState === WebSocket.OPEN) {
        ws.send('{"type":"next"}');
        sent++;
        if (sent % 5000 === 0) await new Promise((r) => setTimeout(r, 5));
      }
      ws.resume();
      // Dropped once the refusals back up (about a second on an idle machine); the server's
      // heartbeat would only drop a page that does not answer pings after 60 s.
      const outcome = await Promise.race([closed.then(() => 'closed'), new Promise((r) => setTimeout(() => r('still open'), 30_000))]);
      expect(outcome).toBe('closed');
      warnings.push(...logger.warnings);
      expect(warnings.some((w) => /dropped a page that sent more than 300 messages in 10 s without reading the replies/.test(w))).toBe(true);
    } finally {
      ws.terminate();
      await s.close();
      store.close();
    }
  }, 90_000);

  it('keeps a flooding page that reads its replies: refused, not dropped', async () => {
    const store = LabelStore.open(join(dir, 'b.sqlite'));
    const s = await ViewerServer.start({ store, env, port: 0, staticDir: join(dir, 'site'), pollMs: 50, clock: new ManualClock() });
    const c = await TestClient.open(s.url);
    try {
      for (let i = 0; i < 2000; i++) c.send({ type: 'next' });
      const codes: string[] = [];
      for (let i = 0; i < 2000; i++) codes.push((await c.next('error')).code);
      expect(codes.filter((x) => x === 'rate_limited').length).toBe(1700);
      expect(c.ws.readyState).toBe(WebSocket.OPEN);
    } finally {
      c.ws.close();
      await s.close();
      store.close();
    }
  });
});
