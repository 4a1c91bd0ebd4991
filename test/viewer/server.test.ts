/**
 * The labelling server without a browser: static files and HTTP hygiene, the WebSocket
 * protocol (answers, idempotent re-sends, undo, overlap, HERON, insight), and the human
 * teacher's waiting and timeout policy. Pages are scripted WebSocket clients.
 */
import { existsSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { LabelStore } from '../../reward/store.js';
import { HumanTeacher } from '../../reward/teachers/human.js';
import { makeTeacher } from '../../reward/teachers/index.js';
import { labelHead } from '../../reward/teachers/synthetic.js';
import { ManualClock } from '../../core/clock.js';
import { Rng } from '../../core/rng.js';
import type { Pair } from '../../reward/types.js';
import { leftSideFor, SHUTDOWN_CODE, SHUTDOWN_REASON } from '../../viewer/protocol.js';
import { resolveStaticPath, serverInfoPath, storeIdOf, ViewerServer } from '../../viewer/server.js';
import { makeFolder } from '../../core/paths.js';
import { serverFixture, stubSite, TestClient } from './helpers.js';

const fx = serverFixture('viewer-server', (site, dir) => {
  makeFolder(join(site, 'sub'));
  writeFileSync(join(site, 'app.js'), 'export {};');
  writeFileSync(join(site, 'sub', 'x.css'), 'body{}');
  writeFileSync(join(site, '.secret.js'), 'no');
  writeFileSync(join(site, 'notes.exe'), 'no');
  writeFileSync(join(dir, 'outside.js'), 'no');
  symlinkSync(join(dir, 'outside.js'), join(site, 'link.js'));
});
const { newStore, start } = fx;

/** A store of two pairs, a server on it, and ada's page showing its first pair. */
async function adaOnFirstPair() {
  const store = newStore();
  store.putPairs(fx.pairs.slice(0, 2));
  const s = await start(store);
  const c = await TestClient.open(s.url);
  await c.hello({ name: 'ada' });
  c.send({ type: 'next' });
  const p = await c.next('pair');
  return { store, s, c, p };
}

function rawGet(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((res, rej) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false, headers: { Host: `127.0.0.1:${port}`, ...headers } }, (r) => {
      let body = '';
      r.on('data', (d) => (body += String(d)));
      r.on('end', () => res({ status: r.statusCode ?? 0, headers: r.headers, body }));
    });
    req.on('error', rej);
    req.end();
  });
}

/** Send a request line exactly as written (no client-side path normalisation). */
function rawLine(port: number, line: string): Promise<string> {
  return new Promise((res, rej) => {
    const sock = connect(port, '127.0.0.1', () => sock.write(`${line}\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`));
    let out = '';
    sock.on('data', (d) => (out += String(d)));
    sock.on('end', () => res(out));
    sock.on('error', rej);
  });
}

describe('static files', () => {
  it('serves only files of the build folder', () => {
    expect(resolveStaticPath(fx.site, '/')).toBe(join(fx.site, 'index.html'));
    expect(resolveStaticPath(fx.site, '/app.js')).toBe(join(fx.site, 'app.js'));
    expect(resolveStaticPath(fx.site, '/sub/x.css')).toBe(join(fx.site, 'sub', 'x.css'));
    for (const bad of [
      '/../outside.js',
      '/sub/../../outside.js',
      '/%2e%2e/outside.js',
      '/%2E%2E%2Foutside.js',
      '/..%2f..%2fetc%2fpasswd',
      '/sub%5c..%5c..%5coutside.js',
      '/app.js%00.html',
      '/.secret.js',
      '/link.js', // symlink leading outside
      '/notes.exe', // unknown type
      '/sub', // a directory
      '/missing.js',
      '/%E0%A4%A',
      'app.js',
    ]) {
      expect(resolveStaticPath(fx.site, bad), bad).toBeNull();
    }
  });

  it('answers over HTTP with safe headers and refuses traversal, methods, bodies and foreign hosts', async () => {
    const store = newStore();
    store.putPairs(fx.pairs.slice(0, 1));
    const s = await start(store);
    const port = s.boundPort;
    const ok = await rawGet(port, '/');
    expect(ok.status).toBe(200);
    expect(ok.headers['content-security-policy']).toMatch(/default-src 'none'; script-src 'self'/);
    expect(ok.headers['x-content-type-options']).toBe('nosniff');
    expect(ok.headers['referrer-policy']).toBe('no-referrer');
    expect(ok.headers['x-frame-options']).toBe('DENY');
    for (const line of ['GET /../outside.js HTTP/1.1', 'GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1', 'GET /sub/../../outside.js HTTP/1.1']) {
      expect(await rawLine(port, line), line).toMatch(/^HTTP\/1\.1 404/);
    }
    expect((await rawGet(port, '/app.js', {}, 'POST')).status).toBe(405);
    expect((await rawGet(port, '/app.js', { 'Content-Length': '5' })).status).toBe(413);
    expect((await rawGet(port, `/${'a'.repeat(3000)}`)).status).toBe(414);
    expect((await rawGet(port, '/', { Host: 'evil.example:80' })).status).toBe(421);
    const health = JSON.parse((await rawGet(port, '/healthz')).body) as { app: string; env: string };
    expect(health).toMatchObject({ app: 'prefrl-viewer', env: 'toy-reach' });
    expect(existsSync(serverInfoPath(store.path))).toBe(true);
    await s.close();
    expect(existsSync(serverInfoPath(store.path))).toBe(false);
  });

  it('refuses WebSockets from other origins and binding beyond loopback without a token', async () => {
    const store = newStore();
    const s = await start(store);
    await expect(TestClient.open(s.url, { Origin: 'http://evil.example' })).rejects.toThrow(/403/);
    const c = await TestClient.open(s.url, { Origin: `http://127.0.0.1:${s.boundPort}` });
    await c.hello();
    c.close();
    await expect(ViewerServer.start({ store, env: fx.env, host: '0.0.0.0', port: 0, staticDir: fx.site })).rejects.toThrow(/needs an access token/);
    await expect(ViewerServer.start({ store, env: fx.env, port: 0, staticDir: fx.site, token: 'short' })).rejects.toThrow(/at least 12/);
  });
});

describe('labelling protocol', () => {
  it('stores answers with response times, acknowledges after commit, and re-sends are idempotent', async () => {
    const store = newStore();
    store.putPairs(fx.pairs.slice(0, 3));
    const s = await start(store);
    const c = await TestClient.open(s.url);
    const w = await c.hello({ name: 'ada' });
    expect(w).toMatchObject({ envId: 'toy-reach', name: 'ada', overlap: 1, insight: false });
    expect(w.terms.map((t) => t.name)).toEqual(['goal_distance', 'control_effort', 'at_goal']);
    c.send({ type: 'next' });
    const model = await c.next('model');
    expect(model.model.kind).toBe('xml');
    const p = await c.next('pair');
    expect(p.leftIs).toBe(leftSideFor(p.pairId, 'human:ada'));
    expect(p).toMatchObject({ envId: 'toy-reach', modelId: model.modelId, goal: fx.env.spec.goal, termNames: ['goal_distance', 'control_effort', 'at_goal'], dt: fx.env.spec.dt, preview: false });
    const stored = store.getPair(p.pairId) as Pair;
    const leftSeg = p.leftIs === 'a' ? stored.a : stored.b;
    expect(p.left.id).toBe(leftSeg.id);
    const answer = { type: 'answer', labelId: 'h-aaaaaaaaaaaaaaaa', pairId: p.pairId, name: 'ada', choice: 'left', responseMs: 2500, comment: 'closer' };
    c.send(answer);
    const ack = await c.next('ack');
    expect(ack).toMatchObject({ labelId: 'h-aaaaaaaaaaaaaaaa', duplicate: false });
    const l = store.getLabel('h-aaaaaaaaaaaaaaaa');
    expect(l).toMatchObject({ kind: 'preference', probFirst: p.leftIs === 'a' ? 1 : 0, teacher: 'human:ada', responseMs: 2500, comment: 'closer' });
    c.send(answer);
    expect((await c.next('ack')).duplicate).toBe(true);
    expect(store.counts().labels).toBe(1);
    // Same id, different content: a conflict, nothing written.
    c.send({ ...answer, choice: 'right' });
    const err = await c.next('error');
    // In words a person can read (the page shows it), not the label's id.
    expect(err).toMatchObject({ code: 'conflict', labelId: 'h-aaaaaaaaaaaaaaaa', message: 'This answer was already stored with another choice or comment: the stored one is kept.' });
    // Can't tell is a skip with a reason (on the next pair: one answer per person and pair); answers to unknown pairs are refused.
    c.send({ type: 'next' });
    const p2 = await c.next('pair');
    expect(p2.pairId).not.toBe(p.pairId);
    c.send({ ...answer, labelId: 'h-bbbbbbbbbbbbbbbb', pairId: p2.pairId, choice: 'cant_tell', comment: undefined });
    await c.next('ack');
    expect(store.getLabel('h-bbbbbbbbbbbbbbbb')).toMatchObject({ kind: 'skip', reason: "can't tell (viewer)" });
    c.send({ ...answer, labelId: 'h-cccccccccccccccc', pairId: 'p-nope' });
    expect((await c.next('error')).code).toBe('not_found');
    c.close();
  });

  it('reads "left" by the layout the page says it showed (leftIs), else by the answer\'s name', async () => {
    const { store, c, p } = await adaOnFirstPair();
    // ada renames while the pair is on screen, to a name whose layout of this pair is the other way round.
    const renamed = ['bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan'].find((n) => leftSideFor(p.pairId, `human:${n}`) !== p.leftIs) as string;
    c.send({ type: 'set_name', name: renamed });
    await c.next('progress');
    c.send({ type: 'answer', labelId: 'h-1e1e1e1e1e1e1e1e', pairId: p.pairId, name: renamed, choice: 'left', responseMs: 10, leftIs: p.leftIs });
    await c.next('ack');
    expect(store.getLabel('h-1e1e1e1e1e1e1e1e')).toMatchObject({ teacher: `human:${renamed}`, probFirst: p.leftIs === 'a' ? 1 : 0 });
    expect(JSON.parse(store.getLabel('h-1e1e1e1e1e1e1e1e')?.raw as string)).toEqual({ choice: 'left', leftIs: p.leftIs, via: 'viewer' });
    // A page that does not say (before the field): the layout of the answer's name.
    const other = fx.pairs[1].id === p.pairId ? fx.pairs[0].id : fx.pairs[1].id;
    const byName = leftSideFor(other, `human:${renamed}`);
    c.send({ type: 'answer', labelId: 'h-2e2e2e2e2e2e2e2e', pairId: other, name: renamed, choice: 'right', responseMs: 10 });
    await c.next('ack');
    expect(store.getLabel('h-2e2e2e2e2e2e2e2e')).toMatchObject({ probFirst: byName === 'a' ? 0 : 1 });
    c.close();
  });

  it('hands different pairs to concurrent teachers, and the same pair to k teachers with overlap k', async () => {
    const store = newStore();
    store.putPairs(fx.pairs.slice(0, 2));
    const s = await start(store);
    const [a, b] = await Promise.all([TestClient.open(s.url), TestClient.open(s.url)]);
    await a.hello({ name: 'ada' });
    await b.hello({ name: 'bob' });
    a.send({ type: 'next' });
    b.send({ type: 'next' });
    const [pa, pb] = await Promise.all([a.next('pair'), b.next('pair')]);
    expect(pa.pairId).not.toBe(pb.pairId);
    a.close();
    b.close();
    await s.close();

    const store2 = newStore();
    store2.putPairs(fx.pairs.slice(0, 1));
    const s2 = await start(store2, { overlap: 2 });
    const [c, d] = await Promise.all([TestClient.open(s2.url), TestClient.open(s2.url)]);
    await c.hello({ name: 'cy' });
    await d.hello({ name: 'di' });
    c.send({ type: 'next' });
    d.send({ type: 'next' });
    const [pc, pd] = await Promise.all([c.next('pair'), d.next('pair')]);
    expect(pc.pairId).toBe(pd.pairId);
    // Both say the same clip (the pair's first) is better: agreement 1.
    const better = (leftIs: string) => (leftIs === 'a' ? 'left' : 'right');
    c.send({ type: 'answer', labelId: 'h-c000000000000001', pairId: pc.pairId, name: 'cy', choice: better(pc.leftIs), responseMs: 10 });
    await c.next('ack');
    d.send({ type: 'answer', labelId: 'h-d000000000000001', pairId: pd.pairId, name: 'di', choice: better(pd.leftIs), responseMs: 10 });
    await d.next('ack');
    const prog = await d.next('progress');
    while (d.received.filter((m) => m.type === 'progress').length < 3) await d.next('progress');
    const last = [...d.received].reverse().find((m) => m.type === 'progress');
    expect(last && last.type === 'progress' && last.agreement).toMatchObject({ pairs: 1, comparisons: 1, agreeing: 1, fraction: 1, kappa: null });
    expect(prog.total).toBeGreaterThanOrEqual(1);
    c.close();
    d.close();
  });

  it('undoes a teacher\'s own answer and gives the pair back', async () => {
    const { store, s, c, p } = await adaOnFirstPair();
    c.send({ type: 'answer', labelId: 'h-1111111111111111', pairId: p.pairId, name: 'ada', choice: 'equal', responseMs: 5 });
    await c.next('ack');
    c.send({ type: 'undo', labelId: 'h-1111111111111111', name: 'bob' });
    expect((await c.next('error')).code).toBe('not_allowed');
    c.send({ type: 'undo', labelId: 'h-1111111111111111', name: 'ada' });
    expect(await c.next('undone')).toMatchObject({ labelId: 'h-1111111111111111', pairId: p.pairId });
    expect((await c.next('pair')).pairId).toBe(p.pairId);
    expect(store.getLabel('h-1111111111111111')).toBeUndefined();
    // A second undo of the same label is harmless; locked labels cannot be undone.
    c.send({ type: 'undo', labelId: 'h-1111111111111111', name: 'ada' });
    expect((await c.next('undone')).pairId).toBeNull();
    c.send({ type: 'answer', labelId: 'h-2222222222222222', pairId: p.pairId, name: 'ada', choice: 'left', responseMs: 5 });
    await c.next('ack');
    s.lockLabels(['h-2222222222222222']);
    c.send({ type: 'undo', labelId: 'h-2222222222222222', name: 'ada' });
    expect((await c.next('error')).code).toBe('not_allowed');
    expect(readFileSync(`${store.path}.undo.jsonl`, 'utf8')).toContain('h-1111111111111111');
    c.close();
  });

  it('an answer locked in the store by another process (a human teacher using this server from apart) cannot be undone; the server restarted on the store keeps its own locks', async () => {
    const { store, s, c, p } = await adaOnFirstPair();
    c.send({ type: 'answer', labelId: 'h-3333333333333333', pairId: p.pairId, name: 'ada', choice: 'left', responseMs: 5 });
    await c.next('ack');
    // Another handle on the same file, as prefrl train in another process holds it.
    const other = LabelStore.open(store.path);
    other.lockLabels(['h-3333333333333333']);
    other.close();
    c.send({ type: 'undo', labelId: 'h-3333333333333333', name: 'ada' });
    const err = await c.next('error');
    expect(err).toMatchObject({ code: 'not_allowed', labelId: 'h-3333333333333333' });
    expect(err.message).toBe('this answer was already passed to training and cannot be undone');
    expect(store.getLabel('h-3333333333333333')).toMatchObject({ kind: 'preference' });
    c.close();
    // The server's own lock goes to the store too: a new server on it refuses the undo.
    const c2 = await TestClient.open(s.url);
    await c2.hello({ name: 'bob' });
    await c2.answerNext({ name: 'bob', labelId: 'h-4444444444444444', choice: 'right', responseMs: 5 });
    s.lockLabels(['h-4444444444444444']);
    c2.close();
    await s.close();
    const s2 = await start(store);
    const c3 = await TestClient.open(s2.url);
    await c3.hello({ name: 'bob' });
    c3.send({ type: 'undo', labelId: 'h-4444444444444444', name: 'bob' });
    expect((await c3.next('error')).code).toBe('not_allowed');
    c3.close();
  });

  it('one answer per person and pair: the same pair answered in a second tab is refused and the first answer kept', async () => {
    const store = newStore();
    store.putPairs(fx.pairs.slice(0, 2));
    const s = await start(store);
    const [t1, t2] = await Promise.all([TestClient.open(s.url), TestClient.open(s.url)]);
    await t1.hello({ name: 'ada' });
    await t2.hello({ name: 'ada' });
    t1.send({ type: 'next' });
    const p1 = await t1.next('pair');
    t2.send({ type: 'next' });
    const p2 = await t2.next('pair');
    // The lease is the person's: both tabs show the same pair.
    expect(p2.pairId).toBe(p1.pairId);
    t1.send({ type: 'answer', labelId: 'h-a000000000000001', pairId: p1.pairId, name: 'ada', choice: 'left', responseMs: 5 });
    await t1.next('ack');
    t2.send({ type: 'answer', labelId: 'h-a000000000000002', pairId: p2.pairId, name: 'ada', choice: 'right', responseMs: 5 });
    const err = await t2.next('error');
    expect(err).toMatchObject({ code: 'conflict', labelId: 'h-a000000000000002' });
    expect(err.message).toMatch(/already answered this pair .*first answer is kept/);
    const mine = store.labels().filter((l) => l.teacher === 'human:ada');
    expect(mine.map((l) => l.id)).toEqual(['h-a000000000000001']);
    // A re-send of the first answer (same id) is still acknowledged as a duplicate.
    t1.send({ type: 'answer', labelId: 'h-a000000000000001', pairId: p1.pairId, name: 'ada', choice: 'left', responseMs: 5 });
    expect(await t1.next('ack')).toMatchObject({ labelId: 'h-a000000000000001', duplicate: true });
    t1.close();
    t2.close();
  });

  it("a pair answered in one tab moves the person's other tabs showing it on at once: to their next pair, or idle when none is left; another person's page is left alone", async () => {
    const store = newStore();
    store.putPairs(fx.pairs.slice(0, 2));
    // Overlap 2: bob is handed the same first pair as ada.
    const s = await start(store, { overlap: 2 });
    const [t1, t2, bob] = await Promise.all([TestClient.open(s.url), TestClient.open(s.url), TestClient.open(s.url)]);
    await t1.hello({ name: 'ada' });
    await t2.hello({ name: 'ada' });
    await bob.hello({ name: 'bob' });
    const take = async (c: TestClient) => {
      c.send({ type: 'next' });
      return (await c.next('pair')).pairId;
    };
    const first = await take(t1);
    expect(await take(t2)).toBe(first);
    expect(await take(bob)).toBe(first);
    t1.send({ type: 'answer', labelId: 'h-a100000000000001', pairId: first, name: 'ada', choice: 'left', responseMs: 5 });
    await t1.next('ack');
    // ada's second tab is sent her next pair without asking.
    const second = (await t2.next('pair')).pairId;
    expect(second).toBe(fx.pairs[1].id);
    // The first tab, asking now, is handed the same one (the lease is the person's).
    expect(await take(t1)).toBe(second);
    // bob was sent nothing: asked again, he is handed the pair he holds (2 pairs in all came to him).
    expect(await take(bob)).toBe(first);
    expect(bob.received.filter((m) => m.type === 'pair')).toHaveLength(2);
    // ada answers the second pair in her second tab: nothing is left for her, so the first tab is told so.
    t2.send({ type: 'answer', labelId: 'h-a100000000000002', pairId: second, name: 'ada', choice: 'right', responseMs: 5 });
    await t2.next('ack');
    expect(await t1.next('idle')).toMatchObject({ reason: 'no_pairs' });
    // An answer the first tab sent before it heard is refused as before, the first answer kept.
    t1.send({ type: 'answer', labelId: 'h-a100000000000003', pairId: second, name: 'ada', choice: 'left', responseMs: 5 });
    expect(await t1.next('error')).toMatchObject({ code: 'conflict', labelId: 'h-a100000000000003' });
    expect(store.labels().filter((l) => l.teacher === 'human:ada').map((l) => l.id)).toEqual(['h-a100000000000001', 'h-a100000000000002']);
    for (const c of [t1, t2, bob]) c.close();
  });

  it('an undone pair takes the place of the pair the page showed, which is given back at once to a person waiting', async () => {
    const store = newStore();
    store.putPairs(fx.pairs.slice(0, 2));
    const s = await start(store, { leaseMs: 600_000 });
    const [ada, bob] = await Promise.all([TestClient.open(s.url), TestClient.open(s.url)]);
    await ada.hello({ name: 'ada' });
    await bob.hello({ name: 'bob' });
    const p1 = await ada.answerNext({ name: 'ada', labelId: 'h-a200000000000001', choice: 'left', responseMs: 5 });
    ada.send({ type: 'next' });
    const p2 = await ada.next('pair');
    expect(p2.pairId).not.toBe(p1.pairId);
    bob.send({ type: 'next' });
    expect(await bob.next('idle')).toMatchObject({ reason: 'no_pairs' });
    ada.send({ type: 'undo', labelId: 'h-a200000000000001', name: 'ada' });
    expect(await ada.next('undone')).toMatchObject({ pairId: p1.pairId });
    expect((await ada.next('pair')).pairId).toBe(p1.pairId);
    // The pair ada's page no longer shows goes to bob, long before its 10-minute lease would run out.
    expect((await bob.next('pair')).pairId).toBe(p2.pairId);
    expect(store.counts().activeLeases).toBe(2);
    ada.close();
    bob.close();
  });

  it("a server that stops gives back the pairs its pages hold (close(), or endSessionsNow on Ctrl-C), and only its own: a second server's page on the store keeps its pair", async () => {
    const store = newStore();
    store.putPairs(fx.pairs.slice(0, 3));
    const s1 = await start(store, { leaseMs: 600_000 });
    // A prefrl serve of the same store in another process: another handle, another server.
    const other = LabelStore.open(store.path);
    fx.closeLast(other);
    const s2 = await start(other, { leaseMs: 600_000 });
    const [ada, ada2, zed] = await Promise.all([TestClient.open(s1.url), TestClient.open(s1.url), TestClient.open(s2.url)]);
    await ada.hello({ name: 'ada' });
    await ada2.hello({ name: 'ada' });
    await zed.hello({ name: 'zed' });
    ada.send({ type: 'next' });
    const held = (await ada.next('pair')).pairId;
    ada2.send({ type: 'next' });
    expect((await ada2.next('pair')).pairId).toBe(held);
    zed.send({ type: 'next' });
    const zeds = (await zed.next('pair')).pairId;
    expect([held, zeds]).toEqual([fx.pairs[0].id, fx.pairs[1].id]);
    expect(store.counts().activeLeases).toBe(2);
    // Ctrl-C: the pages are told at once, and the leases go back in the same synchronous call.
    s1.endSessionsNow();
    expect(store.counts().activeLeases).toBe(1);
    await s1.close();
    expect(await ada.closed()).toBe(SHUTDOWN_CODE);
    // cy, at the other server, is handed ada's pair at once (not in 10 minutes); zed keeps his.
    const cy = await TestClient.open(s2.url);
    await cy.hello({ name: 'cy' });
    cy.send({ type: 'next' });
    expect((await cy.next('pair')).pairId).toBe(held);
    zed.send({ type: 'next' });
    expect((await zed.next('pair')).pairId).toBe(zeds);
    // close() alone does it too.
    await s2.close();
    expect(store.counts().activeLeases).toBe(0);
  });

  it('a page closed while it holds a pair gives it back at once to a person waiting (not after the lease runs out)', async () => {
    const store = newStore();
    store.putPairs(fx.pairs.slice(0, 1));
    const s = await start(store, { leaseMs: 600_000 });
    const [a, b] = await Promise.all([TestClient.open(s.url), TestClient.open(s.url)]);
    await a.hello({ name: 'ada' });
    await b.hello({ name: 'bob' });
    a.send({ type: 'next' });
    const pa = await a.next('pair');
    b.send({ type: 'next' });
    expect(await b.next('idle')).toMatchObject({ reason: 'no_pairs' });
    a.close();
    // bob gets the pair ada left, long before her 10-minute lease would run out
    expect((await b.next('pair')).pairId).toBe(pa.pairId);
    b.close();
  });

  it('close() tells open pages the server is going away (close code 1001 with its reason), the end of the session for the page', async () => {
    const store = newStore();
    const s = await start(store);
    const c = await TestClient.open(s.url);
    await c.hello({ name: 'ada' });
    const reason = new Promise<string>((res) => c.ws.once('close', (_code: number, r: Buffer) => res(r.toString())));
    await s.close();
    expect(await c.closed()).toBe(SHUTDOWN_CODE);
    expect(await reason).toBe(SHUTDOWN_REASON);
  });

  it('close() first sends every page a last progress: a teacher who answered before another ends on the final counts, not "1 waiting"', async () => {
    const store = newStore();
    store.putPairs(fx.pairs.slice(0, 2));
    const s = await start(store);
    const [a, b] = await Promise.all([TestClient.open(s.url), TestClient.open(s.url)]);
    await a.hello({ name: 'ada' });
    await b.hello({ name: 'bob' });
    await a.answerNext({ name: 'ada', labelId: 'h-a000000000000001', choice: 'left', responseMs: 10 });
    await b.answerNext({ name: 'bob', labelId: 'h-b000000000000001', choice: 'left', responseMs: 10 });
    const progressOf = (c: TestClient) => c.received.filter((m): m is Extract<typeof m, { type: 'progress' }> => m.type === 'progress');
    // Wait until bob's answer's progress (0 waiting) has arrived; ada's page last heard of 1 waiting.
    while (progressOf(b).at(-1)?.waiting !== 0) await b.next('progress');
    expect(progressOf(a).at(-1)).toMatchObject({ teacher: 1, total: 1, waiting: 1 });
    const before = progressOf(a).length;
    await s.close();
    expect(await a.closed()).toBe(SHUTDOWN_CODE);
    expect(progressOf(a).length).toBe(before + 1);
    expect(progressOf(a).at(-1)).toEqual({ type: 'progress', teacher: 1, total: 2, waiting: 0, agreement: null });
    expect(progressOf(b).at(-1)).toEqual({ type: 'progress', teacher: 1, total: 2, waiting: 0, agreement: null });
    // The last message before the close is that progress.
    expect(a.received.at(-1)?.type).toBe('progress');
  });

  it('close() with the store already closed still closes every page (the last progress is skipped)', async () => {
    const store = newStore();
    store.putPairs(fx.pairs.slice(0, 1));
    const s = await ViewerServer.start({ store, env: fx.env, port: 0, staticDir: fx.site, pollMs: 50 });
    const c = await TestClient.open(s.url);
    await c.hello({ name: 'ada' });
    await c.next('progress');
    const count = c.received.length;
    store.close();
    await s.close();
    expect(await c.closed()).toBe(SHUTDOWN_CODE);
    expect(c.received.length).toBe(count);
  });

  it('welcome names the store (the hash /healthz gives): the same for a server restarted on it, another for another store', async () => {
    const store = newStore();
    const s = await start(store);
    const c = await TestClient.open(s.url);
    const w = await c.hello({ name: 'ada' });
    const health = JSON.parse((await rawGet(s.boundPort, '/healthz')).body) as { storeId: string };
    expect(w.storeId).toMatch(/^[0-9a-f]{16}$/);
    expect(w.storeId).toBe(health.storeId);
    c.close();
    await s.close();
    const again = await start(store);
    const c2 = await TestClient.open(again.url);
    expect((await c2.hello({ name: 'ada' })).storeId).toBe(w.storeId);
    c2.close();
    const other = await start(newStore());
    const c3 = await TestClient.open(other.url);
    expect((await c3.hello({ name: 'ada' })).storeId).not.toBe(w.storeId);
    c3.close();
  });

  it("a store made anew at the same path is another store (its creation time is in the id); the same store opened again is the same", () => {
    const path = join(fx.dir, 'remade.sqlite');
    const clock = new ManualClock();
    const first = LabelStore.open(path, { clock });
    const id = storeIdOf(first);
    first.close();
    const reopened = LabelStore.open(path, { clock });
    expect(storeIdOf(reopened)).toBe(id);
    reopened.close();
    for (const f of [path, `${path}-wal`, `${path}-shm`]) rmSync(f, { force: true });
    clock.advance(1);
    const remade = LabelStore.open(path, { clock });
    expect(remade.createdAt()).toBe('2026-01-01T00:00:00.001Z');
    expect(storeIdOf(remade)).not.toBe(id);
    remade.close();
  });

  it('static files carry an ETag: a revalidation gets 304 without the body; a gzipped file says its decoded size', async () => {
    const big = stubSite(join(fx.dir, 'site-etag'));
    const wasm = Buffer.alloc(5000, 7);
    writeFileSync(join(big, 'mujoco.wasm'), wasm);
    writeFileSync(join(big, 'mujoco.wasm.gz'), gzipSync(wasm));
    const store = newStore();
    const s = await start(store, { staticDir: big });
    const port = s.boundPort;
    const plain = await rawGet(port, '/mujoco.wasm');
    expect(plain.status).toBe(200);
    expect(plain.headers['content-length']).toBe('5000');
    expect(plain.headers['x-uncompressed-length']).toBeUndefined();
    expect(plain.headers.vary).toBe('Accept-Encoding');
    const etag = String(plain.headers.etag);
    expect(etag).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/);
    const gz = await rawGet(port, '/mujoco.wasm', { 'Accept-Encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.headers['content-length']).toBe(String(gzipSync(wasm).length));
    expect(gz.headers['x-uncompressed-length']).toBe('5000');
    const gzTag = String(gz.headers.etag);
    expect(gzTag).toMatch(/-gz"$/);
    const hit = await rawGet(port, '/mujoco.wasm', { 'If-None-Match': etag });
    expect(hit.status).toBe(304);
    expect(hit.body).toBe('');
    expect(hit.headers.etag).toBe(etag);
    expect(hit.headers['x-content-type-options']).toBe('nosniff');
    // The gzipped copy's tag does not validate the plain file, and a stale tag gets the file.
    expect((await rawGet(port, '/mujoco.wasm', { 'If-None-Match': gzTag })).status).toBe(200);
    expect((await rawGet(port, '/mujoco.wasm', { 'If-None-Match': '"0-0", ' + gzTag, 'Accept-Encoding': 'gzip' })).status).toBe(304);
    const stale = await rawGet(port, '/mujoco.wasm', { 'If-None-Match': '"1-1"' });
    expect(stale.status).toBe(200);
    expect(stale.body.length).toBe(5000);
    // index.html: no gzip copy, no Vary.
    const page = await rawGet(port, '/');
    expect(page.headers.vary).toBeUndefined();
    expect((await rawGet(port, '/', { 'If-None-Match': String(page.headers.etag) })).status).toBe(304);
  });

  it('pushes a pair to an idle page as soon as one is stored', async () => {
    const store = newStore();
    const s = await start(store);
    const c = await TestClient.open(s.url);
    await c.hello({ name: 'ada' });
    c.send({ type: 'next' });
    expect((await c.next('idle')).reason).toBe('no_pairs');
    store.putPairs(fx.pairs.slice(0, 1));
    expect((await c.next('pair')).pairId).toBe(fx.pairs[0].id);
    c.close();
  });

  it('previews HERON configs on stored pairs and saves them where training reads them', async () => {
    const store = newStore();
    store.putPairs(fx.pairs.slice(0, 4));
    store.addLabels([{ id: 'l-1', pairId: fx.pairs[0].id, teacher: 'human:ada', kind: 'preference', probFirst: 1 }]);
    const out = join(fx.dir, 'heron-out.json');
    const s = await start(store, { heronOut: out });
    const c = await TestClient.open(s.url);
    await c.hello({ name: 'ada' });
    c.send({ type: 'heron_preview', seq: 4, config: { ranking: ['goal_distance', 'at_goal'], margins: [0.5, 0] } });
    const r = await c.next('heron_result');
    expect(r.re).toBe(4);
    expect(r.decisions.length).toBe(4);
    expect(r.decisions[0].pairId).toBe(fx.pairs[0].id); // pairs people labelled come first
    expect(r.decisions[0].human).toEqual([1]);
    for (const d of r.decisions) {
      expect(d.term === null || ['goal_distance', 'at_goal'].includes(d.term)).toBe(true);
      if (d.term === 'goal_distance') expect(d.probFirst).toBe(d.sumsA[0] < d.sumsB[0] ? 1 : 0); // lower distance is better
    }
    expect(r.agreement.pairs).toBe(1);
    c.send({ type: 'heron_preview', config: { ranking: ['nope'], margins: [1] } });
    expect((await c.next('error')).code).toBe('heron_invalid');
    c.send({ type: 'heron_save', config: { ranking: ['at_goal', 'goal_distance'], margins: [0, 1] } });
    const saved = await c.next('heron_saved');
    expect(saved.path).toBe(out);
    const teacher = makeTeacher(`heron:${out}`, { env: fx.env.spec, rng: new Rng(0) });
    expect(teacher.id).toBe(`heron:${out}`);
    c.send({ type: 'view_pair', pairId: fx.pairs[2].id });
    const pv = await c.next('pair');
    expect(pv).toMatchObject({ preview: true, leftIs: 'a', pairId: fx.pairs[2].id, leaseExpiresAt: 0 });
    c.close();
  });

  it('shows the reward model\'s opinion after an answer and logs disagreements', async () => {
    const store = newStore();
    store.putPairs(fx.pairs.slice(0, 1));
    const s = await start(store, { insight: { explain: (p) => ({ probFirst: 0.9, rewardsA: new Float32Array(p.a.length).fill(1), rewardsB: new Float32Array(p.b.length) }) } });
    const c = await TestClient.open(s.url);
    expect((await c.hello({ name: 'ada' })).insight).toBe(true);
    c.send({ type: 'next' });
    const p = await c.next('pair');
    // The teacher prefers the pair's second clip; the model prefers the first: a disagreement.
    c.send({ type: 'answer', labelId: 'h-3333333333333333', pairId: p.pairId, name: 'ada', choice: p.leftIs === 'a' ? 'right' : 'left', responseMs: 5 });
    const ins = await c.next('insight');
    expect(ins.agree).toBe(false);
    expect(ins.probLeft).toBeCloseTo(p.leftIs === 'a' ? 0.9 : 0.1, 6);
    expect(ins.rewardsLeft).toHaveLength(10);
    const log = readFileSync(`${store.path}.disagreements.jsonl`, 'utf8').trim().split('\n');
    expect(JSON.parse(log[0])).toMatchObject({ pairId: p.pairId, teacherProbFirst: 0, modelProbFirst: 0.9 });
    c.close();
  });
});

/**
 * Resolves once a human teacher has polled the store twice more from now (it reads the store's
 * commit stamp, handOutState, on every poll, and its labels when the stamp changed): so the
 * teacher has looked at the store at least once wholly after the last change, at the clock's
 * present reading, before a test moves its ManualClock on.
 */
function storeReads(store: LabelStore): () => Promise<void> {
  const read = store.handOutState.bind(store);
  let reads = 0;
  store.handOutState = () => {
    reads++;
    return read();
  };
  return async () => {
    const from = reads;
    while (reads < from + 2) await new Promise((r) => setTimeout(r, 5));
  };
}

describe('human teacher (scripted page)', () => {
  it('returns the answers in pair order, skips unanswered pairs after the idle timeout, or fails', async () => {
    const store = newStore();
    // The idle timeout runs on a ManualClock: the page may take as long as a loaded machine needs.
    const clock = new ManualClock();
    const polls = storeReads(store);
    const t = new HumanTeacher({ store, env: { id: 'toy-reach' }, port: 0, staticDir: fx.site, timeoutS: 0.6, pollMs: 30, clock });
    fx.closeFirst(t);
    const batch = fx.pairs.slice(0, 3);
    const pending = t.label(batch);
    while (t.url === null) await new Promise((r) => setTimeout(r, 20));
    const c = await TestClient.open(t.url);
    await c.hello({ name: 'ada' });
    const answered: Record<string, number> = {};
    for (const choice of ['left', 'equal'] as const) {
      const p = await c.answerNext({ name: 'ada', labelId: `h-4444444444444${Object.keys(answered).length}00`, choice, responseMs: 7 });
      answered[p.pairId] = choice === 'equal' ? 0.5 : p.leftIs === 'a' ? 1 : 0;
    }
    await polls();
    clock.advance(700); // 0.7 s after the last answer, nobody answers the third pair: it times out
    const labels = await pending;
    expect(labels.map((l) => l.pairId)).toEqual(batch.map((p) => p.id));
    for (const l of labels) {
      if (l.pairId in answered) expect(l).toMatchObject({ kind: 'preference', probFirst: answered[l.pairId], teacher: 'human:ada' });
      else expect(l).toMatchObject({ kind: 'skip', teacher: 'human', reason: expect.stringMatching(/no answer within 0.6 s/) });
    }
    // The loop stores the returned labels again: nothing is duplicated.
    expect(store.addLabels(labels).added).toBe(0);
    c.close();

    const failing = new HumanTeacher({ store, env: { id: 'toy-reach' }, port: 0, staticDir: fx.site, timeoutS: 0.3, onTimeout: 'fail', pollMs: 30 });
    fx.closeFirst(failing);
    await expect(failing.label(fx.pairs.slice(3, 4))).rejects.toThrow(/no answer for 1 of 1 pairs within 0.3 s/);
    expect(() => makeTeacher('human', { env: fx.env.spec, rng: new Rng(0) })).toThrow(/needs a label store/);
    expect(makeTeacher('human', { env: fx.env.spec, rng: new Rng(0), human: { store, env: { id: 'toy-reach' } } })).toBeInstanceOf(HumanTeacher);
  });

  it('returns people\'s answers only: labels of a machine teacher on the same pairs (prefrl label, for comparison) are not answers', async () => {
    const store = newStore();
    const [p0, p1] = fx.pairs.slice(0, 2);
    store.putPairs([p0, p1], { round: 0 });
    store.putTeacher({ id: 'oracle', kind: 'synthetic' });
    store.addLabels([
      { ...labelHead('oracle', p0.id), kind: 'preference', probFirst: 0 },
      { ...labelHead('oracle', p1.id), kind: 'preference', probFirst: 1 },
    ]);
    const clock = new ManualClock();
    const polls = storeReads(store);
    const t = new HumanTeacher({ store, env: { id: 'toy-reach' }, port: 0, staticDir: fx.site, timeoutS: 1.5, pollMs: 20, clock });
    fx.closeFirst(t);
    const pending = t.label([p0, p1]);
    while (t.url === null) await new Promise((r) => setTimeout(r, 20));
    const c = await TestClient.open(t.url);
    await c.hello({ name: 'ada' });
    const p = await c.answerNext({ name: 'ada', labelId: 'h-55555555555550000', choice: 'left', responseMs: 4 });
    c.close();
    await polls();
    clock.advance(1600); // the other pair: nobody answers it within 1.5 s
    const labels = await pending;
    const other = p.pairId === p0.id ? p1.id : p0.id;
    expect(labels.map((l) => l.pairId)).toEqual([p0.id, p1.id]);
    const byPair = new Map(labels.map((l) => [l.pairId, l]));
    expect(byPair.get(p.pairId)).toMatchObject({ id: 'h-55555555555550000', teacher: 'human:ada', kind: 'preference', probFirst: p.leftIs === 'a' ? 1 : 0 });
    expect(byPair.get(other)).toMatchObject({ teacher: 'human', kind: 'skip', timeout: true, reason: 'no answer within 1.5 s (human teacher timeout)' });
  });

  it('a waiting teacher reads the store\'s labels again only after a commit, not on every poll (a long wait costs no scans of a growing store)', async () => {
    const store = newStore();
    const [p0, p1] = fx.pairs.slice(0, 2);
    store.putPairs([p0], { round: 0 });
    const clock = new ManualClock();
    const t = new HumanTeacher({ store, env: { id: 'toy-reach' }, port: 0, staticDir: fx.site, timeoutS: 10, pollMs: 2, clock });
    fx.closeFirst(t);
    const readLabels = store.labels.bind(store);
    let scans = 0;
    store.labels = () => {
      scans++;
      return readLabels();
    };
    // Every poll reads the clock once (nothing else does here: no page is connected).
    const now = clock.now.bind(clock);
    let ticks = 0;
    clock.now = () => {
      ticks++;
      return now();
    };
    const polls = async (n = 2) => {
      const from = ticks;
      while (ticks < from + n) await new Promise((r) => setTimeout(r, 5));
    };
    const pending = t.label([p1]);
    // 20 polls with nobody answering: the labels were read once, when the wait began.
    await polls(20);
    expect(scans).toBe(1);
    // An answer to another pair (prefrl serve on the same store): read once more, and it restarts the idle timer.
    clock.advance(6000);
    store.addLabels([{ ...labelHead('human:bob', p0.id), kind: 'preference', probFirst: 1 }]);
    await polls(20);
    expect(scans).toBe(2);
    clock.advance(6000); // 6 s after bob's answer: not idle yet
    await polls();
    // The answer to the batch's pair ends the wait.
    store.addLabels([{ ...labelHead('human:ada', p1.id), kind: 'preference', probFirst: 0 }]);
    const [l] = await pending;
    expect(l).toMatchObject({ pairId: p1.id, teacher: 'human:ada', kind: 'preference', probFirst: 0 });
    expect(scans).toBe(3);
  });

  it('the idle timeout counts from the last answer anywhere in the store: answers to pairs outside the batch keep a present teacher from timing out', async () => {
    const store = newStore();
    const [p0, p1] = fx.pairs.slice(0, 2);
    store.putPairs([p0], { round: 0 }); // a pair an earlier batch left open
    const clock = new ManualClock();
    const t = new HumanTeacher({ store, env: { id: 'toy-reach' }, port: 0, staticDir: fx.site, timeoutS: 10, pollMs: 5, clock });
    fx.closeFirst(t);
    let done = false;
    const pending = t.label([p1]).then((l) => {
      done = true;
      return l;
    });
    const polls = storeReads(store);
    await polls();
    clock.advance(6000);
    // Someone answers the older pair p0 (e.g. through prefrl serve on the same store) 6 s in.
    store.addLabels([{ ...labelHead('human:bob', p0.id), kind: 'preference', probFirst: 1 }]);
    await polls();
    clock.advance(6000); // 12 s after the batch was asked, 6 s after bob's answer: not idle yet
    await polls();
    expect(done).toBe(false);
    clock.advance(4500); // 10.5 s after the last answer: idle
    const [l] = await pending;
    expect(l).toMatchObject({ pairId: p1.id, teacher: 'human', kind: 'skip', reason: 'no answer within 10 s (human teacher timeout)', timeout: true });
  });

  it('pairs that timed out are asked again by a later batch (a resumed run): the page gets them, the person\'s answers are returned; a second timeout returns the first timeout skip', async () => {
    const store = newStore();
    const [p0, p1, p2] = fx.pairs.slice(0, 3);
    const first = new HumanTeacher({ store, env: { id: 'toy-reach' }, port: 0, staticDir: fx.site, timeoutS: 0.2, pollMs: 20 });
    fx.closeFirst(first);
    const skipped = await first.label([p0, p1, p2]); // nobody there
    expect(skipped.map((l) => [l.teacher, l.kind])).toEqual([['human', 'skip'], ['human', 'skip'], ['human', 'skip']]);
    await first.close();
    expect(store.counts()).toMatchObject({ labels: 3, timeouts: 3, pending: 3, waitingForPeople: 3 });

    const again = new HumanTeacher({ store, env: { id: 'toy-reach' }, port: 0, staticDir: fx.site, timeoutS: 5, pollMs: 20 });
    fx.closeFirst(again);
    const pending = again.label([p0, p1]);
    while (again.url === null) await new Promise((r) => setTimeout(r, 20));
    const c = await TestClient.open(again.url);
    await c.hello({ name: 'ada' });
    const want: Record<string, Record<string, unknown>> = {};
    for (const [k, choice] of (['left', 'cant_tell'] as const).entries()) {
      const p = await c.answerNext({ name: 'ada', labelId: `h-7777777777777${k}00`, choice, responseMs: 9 });
      want[p.pairId] = choice === 'left' ? { kind: 'preference', probFirst: p.leftIs === 'a' ? 1 : 0 } : { kind: 'skip', reason: "can't tell (viewer)" };
    }
    c.close();
    expect(Object.keys(want).sort()).toEqual([p0.id, p1.id].sort()); // the timed-out pairs are offered again, in store order
    const labels = await pending;
    expect(labels.map((l) => l.pairId)).toEqual([p0.id, p1.id]);
    for (const l of labels) expect(l).toMatchObject({ teacher: 'human:ada', ...want[l.pairId] });
    // The person's skip answers the pair; p2 is still open.
    expect(store.counts()).toMatchObject({ labels: 5, timeouts: 3, pending: 1, waitingForPeople: 1 });
    await again.close();

    // Nobody again: p2 keeps its first timeout skip (no second label of teacher human, no error).
    const third = new HumanTeacher({ store, env: { id: 'toy-reach' }, port: 0, staticDir: fx.site, timeoutS: 0.1, pollMs: 20 });
    fx.closeFirst(third);
    const [l2] = await third.label([p2]);
    expect(l2).toMatchObject({ id: skipped[2].id, teacher: 'human', kind: 'skip', reason: 'no answer within 0.2 s (human teacher timeout)' });
    expect(store.counts()).toMatchObject({ labels: 5, timeouts: 3, pending: 1 });
  });
});
