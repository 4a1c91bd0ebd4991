/**
 * `prefrl serve --overlap 2` while the study's coordinator adds pairs (`prefrl pairs` into the
 * store the server serves, another connection): the new pairs go to two people too. Only the
 * pairs stored when the server started were raised, so the new ones wanted one person and
 * were done after one answer.
 */
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { LabelStore } from '../../reward/store.js';
import { ViewerServer } from '../../viewer/server.js';
import { serverFixture, TestClient } from './helpers.js';

const fx = serverFixture('serve-overlap', undefined, { episodes: 2, steps: 40, length: 10 });

async function until(what: string, cond: () => boolean): Promise<void> {
  const end = Date.now() + 15_000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`waited 15 s for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

it('pairs added while the server runs want --overlap people, and an idle page of a second person gets one the first answered', async () => {
  const { dir, site, env, pairs } = fx;
  expect(pairs.length).toBeGreaterThanOrEqual(3);
  const path = join(dir, 'labels.sqlite');
  const store = LabelStore.open(path);
  store.putPairs([pairs[0]], { round: 0 });
  const server = await ViewerServer.start({ store, env, port: 0, staticDir: site, overlap: 2, pollMs: 20 });
  const ada = await TestClient.open(server.url);
  const bob = await TestClient.open(server.url);
  const other = LabelStore.open(path, { create: false });
  try {
    expect(store.pairInfo(pairs[0].id)?.wanted).toBe(2);
    await ada.hello({ name: 'ada' });
    await bob.hello({ name: 'bob' });
    // ada answers the one pair; bob answers it too; then both are idle.
    for (const [c, name] of [[ada, 'ada'], [bob, 'bob']] as const) {
      const p = await c.answerNext({ name, labelId: `h-${name}-overlap-0000000`, choice: 'left', responseMs: 800 });
      expect(p.pairId).toBe(pairs[0].id);
      c.send({ type: 'next' });
      await c.next('idle');
    }
    expect(store.counts().waitingForPeople).toBe(0);

    // The coordinator adds two pairs from another connection (as prefrl pairs does), wanting one person each.
    other.putPairs([pairs[1], pairs[2]], { round: 0 });
    await until('the new pairs to want 2 people', () => store.pairInfo(pairs[1].id)?.wanted === 2 && store.pairInfo(pairs[2].id)?.wanted === 2);
    expect(store.pairInfo(pairs[0].id)?.wanted).toBe(2);

    // Both idle pages are handed a new pair; each person answers both new pairs, so each pair gets two people.
    const seen: Record<string, string[]> = { ada: [], bob: [] };
    for (const [c, name] of [[ada, 'ada'], [bob, 'bob']] as const) {
      const first = await c.next('pair');
      seen[name].push(first.pairId);
      c.send({ type: 'answer', labelId: `h-${name}-overlap-0000001`, pairId: first.pairId, name, choice: 'right', responseMs: 900, leftIs: first.leftIs });
      await c.next('ack');
      const second = await c.answerNext({ name, labelId: `h-${name}-overlap-0000002`, choice: 'equal', responseMs: 700 });
      seen[name].push(second.pairId);
    }
    expect(seen.ada.sort()).toEqual([pairs[1].id, pairs[2].id].sort());
    expect(seen.bob.sort()).toEqual([pairs[1].id, pairs[2].id].sort());
    const c = store.counts();
    expect(c.labels).toBe(6);
    expect(c.waitingForPeople).toBe(0);
    // 3 pairs, each answered by both: 3 comparisons.
    expect(store.agreementTotals()).toMatchObject({ pairs: 3, comparisons: 3 });
  } finally {
    ada.close();
    bob.close();
    await server.close();
    other.close();
    store.close();
  }
});
