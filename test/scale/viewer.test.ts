/**
 * The viewer server at scale, checked by counting store calls, not timed:
 * - The progress message after each answer comes from three counts, not a whole
 *   LabelStore.counts() (which scans every pair for pending, waiting and unlabelled: 0.73 s per
 *   answer at 100,000 pairs and 200,000 labels, the server deaf to every page meanwhile).
 * - Idle pages are checked for new pairs every pollMs; each check (LabelStore.nextPairFor) reads
 *   every pair (0.4 s at 100,000 pairs, once a second per idle page). A page whose last check
 *   found nothing is checked again only once the store changed (a commit here or by another
 *   process) or a lease held then has ended.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LabelStore } from '../../reward/store.js';
import type { Pair } from '../../reward/types.js';
import { loadViewerEnv, type ViewerEnv } from '../../viewer/env_info.js';
import { ViewerServer } from '../../viewer/server.js';
import { makePairs, stubSite, TestClient } from '../viewer/helpers.js';

let dir = '';
let site = '';
let env: ViewerEnv;
let pairs: Pair[];
let n = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'prefrl-scale-viewer-'));
  site = stubSite(join(dir, 'site'));
  env = await loadViewerEnv({ id: 'toy-reach' });
  pairs = await makePairs('toy-reach', { episodes: 2, steps: 50, length: 10 });
});
afterAll(() => {
  vi.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('viewer progress at scale', () => {
  it('sends labels, the person\'s labels and the pairs waiting for people without counting the whole store', async () => {
    expect(pairs.length).toBeGreaterThanOrEqual(3);
    const store = LabelStore.open(join(dir, `labels-${n++}.sqlite`));
    const server = await ViewerServer.start({ store, env, port: 0, staticDir: site, pollMs: 50 });
    const counts = vi.spyOn(LabelStore.prototype, 'counts');
    try {
      store.putPairs(pairs.slice(0, 3));
      // A machine's label (does not fill a pair for people) and bo's answer on pair 2.
      store.addLabels([
        { id: 'm-0', pairId: pairs[0].id, teacher: 'oracle', kind: 'preference', probFirst: 1 },
        { id: 'b-2', pairId: pairs[2].id, teacher: 'human:bo', kind: 'preference', probFirst: 0 },
      ]);
      const c = await TestClient.open(server.url);
      await c.hello({ name: 'ada' });
      c.send({ type: 'next' });
      const p = await c.next('pair');
      expect(p.pairId).not.toBe(pairs[2].id);
      c.send({ type: 'answer', labelId: 'h-0123456789abcdef', pairId: p.pairId, name: 'ada', choice: 'left', responseMs: 5, leftIs: p.leftIs });
      await c.next('ack');
      // The progress after the answer (the first came with the welcome).
      while (c.received.filter((m) => m.type === 'progress').length < 2) await c.next('progress');
      const progress = [...c.received].reverse().find((m) => m.type === 'progress');
      // 3 labels in all; 1 of them ada's; pairs 0-2 want one person each: ada and bo answered two of them, one waits.
      expect(progress).toMatchObject({ type: 'progress', teacher: 1, total: 3, waiting: 1 });
      // The same numbers as counts() gives...
      const whole = store.counts();
      expect([whole.labels, whole.perTeacher['human:ada']?.labels, whole.waitingForPeople]).toEqual([3, 1, 1]);
      expect(store.progressCounts('human:ada')).toEqual({ labels: 3, teacherLabels: 1, waitingForPeople: 1 });
      // ...which the server itself never called (the one call above is the test's).
      expect(counts).toHaveBeenCalledTimes(1);
      c.close();
    } finally {
      counts.mockRestore();
      await server.close();
      store.close();
    }
  });
});

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
      await c.answerNext({ name: 'ada', labelId: 'h-00000000000000a1', choice: 'left', responseMs: 5, leftIs: true });
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
