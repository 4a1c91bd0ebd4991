/**
 * Idle pages are checked for new pairs every pollMs; each check (LabelStore.nextPairFor) reads
 * every pair (0.4 s at 100,000 pairs, once a second per idle page). A page whose last check
 * found nothing is checked again only once the store changed (a commit here or by another
 * process) or a lease held then has ended. Counted through nextPairFor, not timed.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LabelStore } from '../../reward/store.js';
import type { Pair } from '../../reward/types.js';
import { loadViewerEnv, type ViewerEnv } from '../../viewer/env_info.js';
import { ViewerServer } from '../../viewer/server.js';
import { makePairs, TestClient } from '../viewer/helpers.js';

let dir = '';
let site = '';
let env: ViewerEnv;
let pairs: Pair[];
let n = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'prefrl-scale-idle-'));
  site = join(dir, 'site');
  mkdirSync(site);
  writeFileSync(join(site, 'index.html'), '<!doctype html><title>t</title>');
  env = await loadViewerEnv({ id: 'toy-reach' });
  pairs = await makePairs('toy-reach', { episodes: 2, steps: 50, length: 10 });
});
afterAll(() => {
  vi.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('viewer idle pages at scale', () => {
  it('an idle page is not checked again until the store changes; a pair added by another process still reaches it', async () => {
    const file = join(dir, `labels-${n++}.sqlite`);
    const store = LabelStore.open(file);
    store.putPairs(pairs.slice(0, 1));
    const server = await ViewerServer.start({ store, env, port: 0, staticDir: site, pollMs: 10 });
    const checks = vi.spyOn(LabelStore.prototype, 'nextPairFor');
    try {
      const c = await TestClient.open(server.url);
      await c.hello({ name: 'ada' });
      c.send({ type: 'next' });
      const p = await c.next('pair');
      c.send({ type: 'answer', labelId: 'h-00000000000000a1', pairId: p.pairId, name: 'ada', choice: 'left', responseMs: 5, leftIs: p.leftIs });
      await c.next('ack');
      c.send({ type: 'next' });
      expect(await c.next('idle')).toMatchObject({ reason: 'no_pairs' });
      const before = checks.mock.calls.length;
      // About 30 polls of 10 ms: nothing changed, so at most one more check (the first poll after the page went idle).
      await sleep(300);
      expect(checks.mock.calls.length - before).toBeLessThanOrEqual(1);
      // Another process adds a pair: the next poll sees the commit and hands it out.
      const other = LabelStore.open(file);
      other.putPairs(pairs.slice(1, 2));
      other.close();
      const q = await c.next('pair');
      expect(q.pairId).toBe(pairs[1].id);
      c.close();
    } finally {
      checks.mockRestore();
      await server.close();
      store.close();
    }
  });

  it('a pair another person holds reaches the idle page once that lease ends, with no commit in between', async () => {
    const file = join(dir, `labels-${n++}.sqlite`);
    const store = LabelStore.open(file);
    store.putPairs(pairs.slice(0, 1));
    const server = await ViewerServer.start({ store, env, port: 0, staticDir: site, pollMs: 10, leaseMs: 300 });
    try {
      const bo = await TestClient.open(server.url);
      await bo.hello({ name: 'bo' });
      bo.send({ type: 'next' });
      const held = await bo.next('pair');
      const ada = await TestClient.open(server.url);
      await ada.hello({ name: 'ada' });
      ada.send({ type: 'next' });
      expect(await ada.next('idle')).toMatchObject({ reason: 'no_pairs' });
      // bo never answers: after 300 ms the lease ends and ada's page gets the pair.
      const got = await ada.next('pair');
      expect(got.pairId).toBe(held.pairId);
      expect(store.pairInfo(held.pairId)).toBeDefined();
      bo.close();
      ada.close();
    } finally {
      await server.close();
      store.close();
    }
  });
});
