/**
 * Two labelling servers on one label store (a coordinator who starts `prefrl serve` a second time,
 * in another terminal): the second says where the first already serves, and leaves the store's
 * info file (what a `train --teacher human` run on the store looks for) to the first. It wrote the
 * file over, and removed it when it stopped, so the first server, still serving, was no longer
 * advertised and a training run started a server of its own beside it.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Logger } from '../../core/log.js';
import { LabelStore } from '../../reward/store.js';
import { advertisedServer, serverInfoPath, ViewerServer } from '../../viewer/server.js';
import { makePairs, serverFixture, TestClient } from './helpers.js';

const fx = serverFixture('serve-two');

function info(path: string): { pid: number; url: string } {
  return JSON.parse(readFileSync(serverInfoPath(path), 'utf8')) as { pid: number; url: string };
}

describe('a second server on a store already served', () => {
  it('warns with the first one\'s link, leaves its info file as it is (also when it stops), and both serve the store', async () => {
    const path = join(fx.dir, 'two.sqlite');
    const store = LabelStore.open(path);
    store.putPairs(await makePairs('toy-reach', { episodes: 1, steps: 40, length: 10 }), { round: 0 });
    const lines: string[] = [];
    const logger = new Logger({ write: (t) => lines.push(t) }, 'info');
    const first = await ViewerServer.start({ store, env: fx.env, port: 0, staticDir: fx.site, logger });
    let second: ViewerServer | null = null;
    try {
      expect(info(path)).toEqual(expect.objectContaining({ pid: process.pid, url: first.url }));
      expect(await advertisedServer(path, first.storeId)).toEqual({ url: first.url, pid: process.pid });
      expect(lines).toEqual([]);

      second = await ViewerServer.start({ store, env: fx.env, port: 0, staticDir: fx.site, logger });
      expect(second.url).not.toBe(first.url);
      expect(lines.join('')).toBe(
        `[prefrl] warn: viewer: another labelling server (pid ${process.pid}) already serves ${path} at ${first.url}; both hand out its pairs, and a training run on this store uses that one\n`,
      );
      // The file still names the first server.
      expect(info(path).url).toBe(first.url);
      // Both hand out the store's pairs: a person at the second one answers and it is stored.
      const c = await TestClient.open(second.url);
      await c.hello({ name: 'ada' });
      await c.answerNext({ name: 'ada', labelId: 'h-ada-two-0000001', choice: 'left', responseMs: 1500 });
      c.close();
      expect(store.counts().labels).toBe(1);

      await second.close();
      second = null;
      // Stopping the second leaves the first advertised.
      expect(info(path).url).toBe(first.url);
      expect(await advertisedServer(path, first.storeId)).toEqual({ url: first.url, pid: process.pid });
    } finally {
      await second?.close();
      await first.close();
    }
    // The first removes its own file when it stops.
    expect(existsSync(serverInfoPath(path))).toBe(false);
    store.close();
  });

  it('a stale info file (a server gone, another store\'s, or unreadable) is not a server: the new one writes its own and says nothing', async () => {
    const path = join(fx.dir, 'stale.sqlite');
    const store = LabelStore.open(path);
    const lines: string[] = [];
    const logger = new Logger({ write: (t) => lines.push(t) }, 'info');
    // A server that stopped without removing its file: its URL answers nothing.
    const gone = await ViewerServer.start({ store, env: fx.env, port: 0, staticDir: fx.site });
    const goneUrl = gone.url;
    const storeId = gone.storeId;
    await gone.close();
    try {
      for (const body of [
        JSON.stringify({ app: 'prefrl-viewer', pid: process.pid, url: goneUrl, storeId, tokenRequired: false }),
        JSON.stringify({ app: 'prefrl-viewer', pid: process.pid, url: goneUrl, storeId: 'another-store', tokenRequired: false }),
        '{not json',
      ]) {
        writeFileSync(serverInfoPath(path), body);
        expect(await advertisedServer(path, storeId)).toBeNull();
        const s = await ViewerServer.start({ store, env: fx.env, port: 0, staticDir: fx.site, logger });
        try {
          expect(info(path).url).toBe(s.url);
        } finally {
          await s.close();
        }
        expect(existsSync(serverInfoPath(path))).toBe(false);
      }
      expect(lines).toEqual([]);
    } finally {
      store.close();
    }
  });
});
