import { describe, expect, it } from 'vitest';
import { Logger } from '../../core/log.js';
import { serverFixture, TestClient } from './helpers.js';

const fx = serverFixture('server-full-disk');

describe('the label store cannot be written (a full disk) while people answer', () => {
  it("the page is told its answer is kept and sent again (no server path), the terminal once with the store's path; with room again the same answer is stored", async () => {
    const store = fx.newStore();
    store.putPairs(fx.pairs);
    const lines: string[] = [];
    const server = await fx.start(store, { logger: new Logger({ write: (l: string) => void lines.push(l) }) });
    const c = fx.closeFirst(await TestClient.open(server.url));
    await c.hello({ name: 'ada' });
    c.send({ type: 'next' });
    const p = await c.next('pair');
    // The disk fills: the store refuses the answer's write as it does then (test/reward/store.test.ts
    // checks that message on a real SQLITE_FULL; one small row fits in a page SQLite's own page
    // limit leaves room in, so that limit cannot stand in here).
    const addLabels = store.addLabels.bind(store);
    let full = true;
    store.addLabels = (labels) => {
      if (full) throw Object.assign(new Error(`label store ${store.path}: database or disk is full (SQLITE_FULL)`), { name: 'SqliteError', code: 'SQLITE_FULL' });
      return addLabels(labels);
    };
    const answer = { type: 'answer', labelId: 'label-0001', pairId: p.pairId, name: 'ada', choice: 'left', responseMs: 900 };
    for (let k = 0; k < 2; k++) {
      c.send(answer);
      const e = await c.next('error');
      expect(e).toMatchObject({ code: 'store', labelId: 'label-0001', message: 'the label store cannot be written now (database or disk is full); your answer is kept and sent again' });
      expect(e.message).not.toContain(store.path);
    }
    // Said on the terminal once (both refusals came within the minute), naming the store.
    const warned = lines.filter((l) => l.includes('cannot be written') || l.includes('disk is full'));
    expect(warned).toHaveLength(1);
    expect(warned[0]).toContain(`viewer: label store ${store.path}: database or disk is full (SQLITE_FULL): answers wait on people's pages and are sent again until it can be written (make room; nothing is lost)`);
    expect(store.labels()).toHaveLength(0);
    full = false;
    c.send(answer);
    expect(await c.next('ack')).toMatchObject({ labelId: 'label-0001', pairId: p.pairId, duplicate: false });
    expect(store.labels().map((l) => l.id)).toEqual(['label-0001']);
  });
});
