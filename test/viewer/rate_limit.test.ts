/**
 * The labelling server's per-page rate limit (more than 300 messages in 10 s are refused, the
 * refused ones counted too), kept in a fixed ring of message times: the same answers as the list
 * of every time in the window it replaced, at the exact message counts, on a ManualClock.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../core/clock.js';
import { Rng } from '../../core/rng.js';
import { LabelStore } from '../../reward/store.js';
import { loadViewerEnv, type ViewerEnv } from '../../viewer/env_info.js';
import { RateWindow, ViewerServer } from '../../viewer/server.js';
import { stubSite, TestClient } from './helpers.js';

/** The limiter as it was: every message time of the window in a list, filtered per message. */
function listLimiter(max: number, windowMs: number): (now: number) => boolean {
  let window: number[] = [];
  return (now) => {
    window = window.filter((t) => now - t < windowMs);
    window.push(now);
    return window.length > max;
  };
}

describe('RateWindow', () => {
  it('refuses the message that makes max + 1 within the window, refused ones counted, until the window has passed', () => {
    const r = new RateWindow(3, 100);
    // t=0,0,0: three messages, allowed; the fourth (t=50) is one too many, and so is a fifth (t=99).
    expect([0, 0, 0, 50, 99].map((t) => r.hit(t))).toEqual([false, false, false, true, true]);
    // t=100: the three at 0 are out (100 - 0 is not < 100); 50, 99 and 100 make three: allowed.
    expect(r.hit(100)).toBe(false);
    // t=120: 50, 99, 100, 120 are four in the window: refused; t=150: 99, 100, 120, 150: refused too.
    expect([120, 150].map((t) => r.hit(t))).toEqual([true, true]);
    // t=220: only 150 is less than 100 ms old: allowed.
    expect(r.hit(220)).toBe(false);
  });

  it('answers as the list of every time in the window did, on seeded random message times', () => {
    for (const [max, windowMs] of [
      [1, 10],
      [3, 100],
      [300, 10_000],
    ] as const) {
      for (let seed = 0; seed < 4; seed++) {
        const rng = new Rng(seed).fork(`rate-${max}`);
        const ring = new RateWindow(max, windowMs);
        const list = listLimiter(max, windowMs);
        let t = 0;
        let refused = 0;
        const n = 20 * max + 200;
        for (let i = 0; i < n; i++) {
          // Bursts (same time), steady sends and pauses longer than the window.
          const u = rng.uniform();
          t += u < 0.3 ? 0 : u < 0.99 ? rng.int(Math.max(2, Math.round((2 * windowMs) / max))) : windowMs + rng.int(windowMs);
          const a = ring.hit(t);
          expect(a, `max ${max} window ${windowMs} seed ${seed} message ${i} at ${t}`).toBe(list(t));
          if (a) refused++;
        }
        // The draws must exercise both answers.
        expect(refused).toBeGreaterThan(0);
        expect(refused).toBeLessThan(n);
      }
    }
  });

  it('refuses bad limits, naming them', () => {
    expect(() => new RateWindow(0, 10)).toThrow(/max must be a whole number >= 1, got 0/);
    expect(() => new RateWindow(2.5, 10)).toThrow(/max must be a whole number >= 1, got 2.5/);
    expect(() => new RateWindow(3, 0)).toThrow(/windowMs must be > 0, got 0/);
  });
});

describe('the server refuses a flooding page', () => {
  let dir: string;
  let env: ViewerEnv;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'prefrl-viewer-rate-'));
    stubSite(join(dir, 'site'));
    env = await loadViewerEnv({ id: 'toy-reach' });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('from its 301st message in 10 s, refused ones counted, until 10 s have passed', async () => {
    const store = LabelStore.open(join(dir, 'labels.sqlite'));
    const clock = new ManualClock();
    const s = await ViewerServer.start({ store, env, port: 0, staticDir: join(dir, 'site'), pollMs: 50, clock });
    const c = await TestClient.open(s.url);
    try {
      /** Send n messages (before hello: each is answered with one error) and return the error codes. */
      const burst = async (n: number): Promise<string[]> => {
        for (let i = 0; i < n; i++) c.send({ type: 'next' });
        const codes: string[] = [];
        for (let i = 0; i < n; i++) codes.push((await c.next('error')).code);
        return codes;
      };
      const count = (codes: string[], code: string) => codes.filter((x) => x === code).length;
      // t=0: 300 messages are handled (need_hello); the 301st and 302nd are refused.
      const first = await burst(302);
      expect(count(first.slice(0, 300), 'need_hello')).toBe(300);
      expect(first.slice(300)).toEqual(['rate_limited', 'rate_limited']);
      const limited = c.received.find((m) => m.type === 'error' && m.code === 'rate_limited');
      expect(limited).toMatchObject({ message: 'more than 300 messages in 10 s; slow down' });
      // t=5 s: the flood goes on, all refused (and counted).
      clock.advance(5_000);
      expect(count(await burst(300), 'rate_limited')).toBe(300);
      // t=9.999 s: the 302 from t=0 are still in the window.
      clock.advance(4_999);
      expect(await burst(1)).toEqual(['rate_limited']);
      // t=10 s: those from t=0 are out, but the 300 refused at 5 s and the one at 9.999 s are in.
      clock.advance(1);
      expect(await burst(1)).toEqual(['rate_limited']);
      // t=20 s: the window holds only this page's new messages: 300 handled, then refused again.
      clock.advance(10_000);
      const again = await burst(301);
      expect(count(again.slice(0, 300), 'need_hello')).toBe(300);
      expect(again[300]).toBe('rate_limited');
    } finally {
      c.ws.close();
      await s.close();
      store.close();
    }
  });
});
