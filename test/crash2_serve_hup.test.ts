/**
 * `prefrl serve` when its terminal goes away (SIGHUP, an ssh session dropped) while a person's page
 * holds a pair: the session ends as on Ctrl-C or SIGTERM: the page is told (close code 1001), the
 * held pair goes back at once (no lease left in the store), the stop line is printed, exit 0.
 */
import Database from 'better-sqlite3';
import { expect, it } from 'vitest';
import { spawnServe } from './helpers/cli.js';
import { TestClient, useTwoPairStore } from './viewer/helpers.js';

const fx = useTwoPairStore('crash2-serve-hup');

function leases(path: string): string[] {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare('SELECT teacher, pair_id FROM leases ORDER BY pair_id').all() as { teacher: string; pair_id: string }[]).map((r) => `${r.teacher} ${r.pair_id}`);
  } finally {
    db.close();
  }
}

for (const signal of ['SIGHUP', 'SIGTERM'] as const) {
  it(`${signal}: the page is told, the pair it held goes back, the stop line, exit 0`, async () => {
    const { s, link } = await spawnServe(fx.storePath, ['--json']);
    const c = await TestClient.open(link);
    await c.hello({ name: 'ada', token: new URL(link).searchParams.get('token') ?? undefined });
    c.send({ type: 'next' });
    const p = await c.next('pair');
    expect(leases(fx.storePath)).toEqual([`human:ada ${p.pairId}`]);
    s.child.kill(signal);
    expect(await s.exited, s.stderr()).toBe(0);
    expect(await c.closed()).toBe(1001);
    expect(leases(fx.storePath)).toEqual([]);
    expect(JSON.parse(s.stdout().trim().split('\n').at(-1) as string)).toMatchObject({ labelsAdded: 0, labels: 0, waitingForPeople: 2 });
  }, 60_000);
}
