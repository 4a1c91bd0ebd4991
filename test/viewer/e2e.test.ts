/**
 * The viewer end to end in headless Chromium (playwright-core + the system's chromium,
 * WebGL through SwiftShader): the page renders both clips of a reacher pair, keys store
 * labels, dropped connections and server restarts lose nothing, bad messages are answered
 * with errors, tokens are enforced beyond loopback, the human teacher gets the page's
 * answers, and clips render to PNG and video through the same scene.
 *
 * One browser for the whole file; the page bundle is built from the current sources first (once
 * per test run, shared with the other e2e files: test/helpers/viewer_site.ts).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ServiceError } from '../../core/errors.js';
import { loadTrajectories } from '../../envs/trajectory.js';
import { sliceSegment } from '../../reward/segments.js';
import { LabelStore } from '../../reward/store.js';
import { ChromiumFrameRenderer, type VlmView } from '../../reward/vlm/render.js';
import { main } from '../../scripts/cli.js';
import { episodeClips } from '../../scripts/commands/render.js';
import { captureCli, lastJson, spawnCli } from '../helpers/cli.js';
import { HumanTeacher } from '../../reward/teachers/human.js';
import type { Pair } from '../../reward/types.js';
import { loadViewerEnv, modelPayload, type ViewerEnv } from '../../viewer/env_info.js';
import { leftSideFor, MAX_CLIENT_MESSAGE_BYTES } from '../../viewer/protocol.js';
import { CHROMIUM_ARGS, ClipRenderer, clipPayload, findChromium, renderClips, renderPair, renderSegmentFrames } from '../../viewer/render.js';
import { ViewerServer } from '../../viewer/server.js';
import { openSignedIn, useLab, waitFor, waitReady } from './e2e_page.js';
import { countNonBackground, countOrange, decodePng, makePairs, TestClient } from './helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

let dir: string;
let site: string;
let browser: Browser;
let env: ViewerEnv;
let pairs: Pair[];
let n = 0;

function newStore(count = 3): LabelStore {
  const s = LabelStore.open(join(dir, `labels-${n++}.sqlite`));
  s.putPairs(pairs.slice(0, count));
  return s;
}

interface Debug {
  current(): { pairId: string; leftIs: 'a' | 'b'; ready: boolean; preview: boolean } | null;
  outbox(): number;
  connected(): boolean;
  drop(): void;
  sessionLabels(): number;
}

/**
 * A new browser context's page at `url`, signed in as `name` (null: no name yet, the name dialog shows).
 * `clock`: the page runs on Playwright's clock, so a test can fast-forward its timers (openSignedIn).
 */
function openPage(url: string, name: string | null = 'alice', context: Parameters<Browser['newContext']>[0] = {}, options: { clock?: boolean } = {}): Promise<{ page: Page; ctx: BrowserContext; errors: string[] }> {
  return openSignedIn(browser, url, name, context, options);
}

/** How often a page whose server stopped looks for it again (viewer/client/net.ts ENDED_RETRY_MS). */
const ENDED_RETRY_MS = 4000;

/** A store of newStore()'s pairs, a viewer server over it and a page signed in as `name` (null: not yet); all three are closed afterwards. */
async function withPage(name: string | null, body: (v: { store: LabelStore; server: ViewerServer; page: Page; errors: string[] }) => Promise<void>): Promise<void> {
  const store = newStore();
  const server = await ViewerServer.start({ store, env, port: 0, staticDir: site });
  const { page, ctx, errors } = await openPage(server.url, name);
  try {
    await body({ store, server, page, errors });
  } finally {
    await ctx.close();
    await server.close();
    store.close();
  }
}

/** The labelling page's camera: where it is and where it looks. */
async function camera(page: Page): Promise<{ position: [number, number, number]; target: [number, number, number] }> {
  return page.evaluate(() => (window as unknown as { prefrlDebug: { camera(): { position: [number, number, number]; target: [number, number, number] } } }).prefrlDebug.camera());
}

/**
 * Pixel statistics of both canvases, computed in the page (shipping the pixels to Node would
 * cost seconds): pixels unlike the top-left corner, orange (robot link) pixels, and pixels
 * where the two panes differ.
 */
async function panes(page: Page): Promise<{ w: number; h: number; nonBg: [number, number]; orange: [number, number]; differ: number }> {
  return page.evaluate(() => {
    const read = (id: string) => {
      const c = document.getElementById(id) as HTMLCanvasElement;
      const cv = document.createElement('canvas');
      cv.width = c.width;
      cv.height = c.height;
      const ctx = cv.getContext('2d') as CanvasRenderingContext2D;
      ctx.drawImage(c, 0, 0);
      return ctx.getImageData(0, 0, c.width, c.height).data;
    };
    const l = read('canvas-left');
    const r = read('canvas-right');
    const stats = (d: Uint8ClampedArray): [number, number] => {
      let nonBg = 0;
      let orange = 0;
      for (let i = 0; i < d.length; i += 4) {
        if (Math.abs(d[i] - d[0]) + Math.abs(d[i + 1] - d[1]) + Math.abs(d[i + 2] - d[2]) > 24) nonBg++;
        if (d[i] > 150 && d[i] > d[i + 1] + 35 && d[i + 1] > d[i + 2] + 25) orange++;
      }
      return [nonBg, orange];
    };
    let differ = 0;
    for (let i = 0; i < l.length; i += 4) if (Math.abs(l[i] - r[i]) + Math.abs(l[i + 1] - r[i + 1]) > 30) differ++;
    const [a, b] = [stats(l), stats(r)];
    const c = document.getElementById('canvas-left') as HTMLCanvasElement;
    return { w: c.width, h: c.height, nonBg: [a[0], b[0]], orange: [a[1], b[1]], differ };
  });
}

describe('viewer in headless Chromium', () => {
  // The lab's browser, env, reacher pairs, folder and page bundle, under the names the tests use.
  const lab = useLab('viewer-e2e');
  beforeAll(() => {
    ({ dir, site, browser, env, pairs } = lab);
  });

  it('renders both clips of the robot, stores the answer a key press gives, and undoes it', async () => {
    await withPage('alice', async ({ store, page, errors }) => {
      const cur = await waitReady(page);
      const cam0 = await camera(page);
      await page.keyboard.press('p'); // pause, so both panes hold one step
      await page.waitForTimeout(100);
      const px = await panes(page);
      expect(px.w).toBeGreaterThan(200);
      for (let k = 0; k < 2; k++) {
        expect(px.nonBg[k]).toBeGreaterThan(0.05 * px.w * px.h);
        // The reacher's orange arm is drawn in both panes.
        expect(px.orange[k]).toBeGreaterThan(200);
      }
      // Different clips: the panes differ.
      expect(px.differ).toBeGreaterThan(100);
      // The task's goal is shown above the clips and the keys on the buttons.
      expect(await page.textContent('#goal')).toBe(env.spec.goal);
      expect(await page.textContent('.answer.left')).toContain('←');
      expect(await page.textContent('.answer.cant')).toContain('Space');

      await page.keyboard.press('ArrowLeft');
      await waitFor(() => store.counts().labels === 1);
      const [l] = store.labels();
      expect(l).toMatchObject({ pairId: cur.pairId, teacher: 'human:alice', kind: 'preference', probFirst: cur.leftIs === 'a' ? 1 : 0 });
      expect(l.responseMs).toBeGreaterThan(0);
      const next = await waitReady(page, cur.pairId);
      expect(next.pairId).not.toBe(cur.pairId);
      // The reacher has an MJCF camera: every pair is seen from its view, framed on nothing else.
      expect(await camera(page)).toEqual(cam0);
      await page.waitForFunction(() => document.getElementById('p-session')?.textContent === '1');
      // Undo (Z): the label is removed and the same pair comes back; answering again stores a new label.
      await page.keyboard.press('z');
      await waitFor(() => store.counts().labels === 0);
      expect((await waitReady(page, next.pairId)).pairId).toBe(cur.pairId);
      await page.keyboard.press('ArrowDown');
      await waitFor(() => store.counts().labels === 1);
      expect(store.labels()[0]).toMatchObject({ pairId: cur.pairId, probFirst: 0.5 });
      expect(errors).toEqual([]);
    });
  });

  it('undoes the last answer after the person changed their name: the undo names the answer\'s teacher', async () => {
    await withPage('alice', async ({ store, page, errors }) => {
      const cur = await waitReady(page);
      await page.keyboard.press('ArrowRight');
      await waitFor(() => store.counts().labels === 1);
      expect(store.labels()[0]).toMatchObject({ pairId: cur.pairId, teacher: 'human:alice' });
      const next = await waitReady(page, cur.pairId);
      // A typo in the name: change it (the modal), then take the last answer back.
      await page.click('#rename');
      await page.fill('#modal-input', 'Alice B');
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => document.getElementById('name-label')?.textContent === 'Alice B');
      await page.keyboard.press('z');
      await waitFor(() => store.counts().labels === 0);
      // The store changes before the server's reply reaches the page: wait for the page to say so.
      await page.waitForFunction(() => document.getElementById('toast')?.textContent === 'Answer undone');
      expect(await page.textContent('#toast')).toBe('Answer undone');
      // The pair comes back, and the new answer is stored under the new name.
      expect((await waitReady(page, next.pairId)).pairId).toBe(cur.pairId);
      await page.keyboard.press('ArrowLeft');
      await waitFor(() => store.counts().labels === 1);
      expect(store.labels()[0]).toMatchObject({ pairId: cur.pairId, teacher: 'human:Alice B' });
      expect(errors).toEqual([]);
    });
  });

  it('stores the clip the person saw on the left as "left" after a rename while the pair is on screen (the layout depends on the name)', async () => {
    await withPage('alice', async ({ store, page, errors }) => {
      const cur = await waitReady(page);
      // A new name under which this pair's layout would be the other way round.
      const renamed = ['bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan'].find((n) => leftSideFor(cur.pairId, `human:${n}`) !== cur.leftIs) as string;
      expect(renamed).toBeDefined();
      await page.click('#rename');
      await page.fill('#modal-input', renamed);
      await page.keyboard.press('Enter');
      await page.waitForFunction((nm) => document.getElementById('name-label')?.textContent === nm, renamed);
      // The same pair, same layout, is still on screen: "left" is the clip shown on the left.
      expect(await page.evaluate(() => (window as unknown as { prefrlDebug: Debug }).prefrlDebug.current())).toMatchObject({ pairId: cur.pairId, leftIs: cur.leftIs });
      await page.keyboard.press('ArrowLeft');
      await waitFor(() => store.counts().labels === 1);
      expect(store.labels()[0]).toMatchObject({ pairId: cur.pairId, teacher: `human:${renamed}`, kind: 'preference', probFirst: cur.leftIs === 'a' ? 1 : 0 });
      expect(errors).toEqual([]);
    });
  });

  it('keeps the HERON ranking a person made across a dropped connection', async () => {
    await withPage('alice', async ({ page, errors }) => {
      await waitReady(page);
      await page.click('#tab-btn-heron');
      const ranking = async () => (JSON.parse((await page.textContent('#heron-json')) as string) as { ranking: string[] }).ranking;
      // The first guess: by |weight|; the person moves the first term down one place.
      expect(await ranking()).toEqual(['fingertip_distance', 'on_target', 'control_effort']);
      await page.click('#heron-terms li:first-child button.mv:last-child');
      expect(await ranking()).toEqual(['on_target', 'fingertip_distance', 'control_effort']);
      await page.evaluate(() => (window as unknown as { prefrlDebug: Debug }).prefrlDebug.drop());
      await page.waitForFunction(() => !(window as unknown as { prefrlDebug: Debug }).prefrlDebug.connected());
      await page.waitForFunction(() => (window as unknown as { prefrlDebug: Debug }).prefrlDebug.connected(), null, { timeout: 15_000 });
      expect(await ranking()).toEqual(['on_target', 'fingertip_distance', 'control_effort']);
      expect(errors).toEqual([]);
    });
  });

  it('HERON terms can be ranked with the keyboard: a move keeps the focus on the moved term, and each control names its term', async () => {
    await withPage('alice', async ({ page, errors }) => {
      await waitReady(page);
      await page.click('#tab-btn-heron');
      const ranking = async () => (JSON.parse((await page.textContent('#heron-json')) as string) as { ranking: string[] }).ranking;
      expect(await ranking()).toEqual(['fingertip_distance', 'on_target', 'control_effort']);
      // Focus the first term's "down" button by name, and press Enter twice: it moves to the bottom.
      await page.getByRole('button', { name: 'move fingertip_distance down (less important)' }).focus();
      await page.keyboard.press('Enter');
      expect(await ranking()).toEqual(['on_target', 'fingertip_distance', 'control_effort']);
      await page.keyboard.press('Enter');
      expect(await ranking()).toEqual(['on_target', 'control_effort', 'fingertip_distance']);
      // At the bottom its "down" is disabled: the focus is on its "up", and Enter moves it back one place.
      expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('move fingertip_distance up (more important)');
      await page.keyboard.press('Enter');
      expect(await ranking()).toEqual(['on_target', 'fingertip_distance', 'control_effort']);
      // Switching a term off with Space keeps the focus on its box, so Space switches it on again.
      await page.getByRole('checkbox', { name: 'use on_target' }).focus();
      await page.keyboard.press('Space');
      expect(await ranking()).toEqual(['fingertip_distance', 'control_effort']);
      await page.keyboard.press('Space');
      expect(await ranking()).toEqual(['on_target', 'fingertip_distance', 'control_effort']);
      for (const t of ['fingertip_distance', 'on_target', 'control_effort']) {
        expect(await page.getByRole('spinbutton', { name: `${t} margin (x std of the term total over stored clips)` }).count()).toBe(1);
        expect(await page.getByRole('combobox', { name: `${t}: which way is better` }).count()).toBe(1);
      }
      await page.waitForSelector('#heron-samples tr button');
      const views = await page.$$eval('#heron-samples button', (bs) => bs.map((b) => b.getAttribute('aria-label')));
      expect(views.length).toBe(3);
      for (const v of views) expect(v).toMatch(/^view pair p-[0-9a-f]+ \(A on the left\)$/);
      expect(errors).toEqual([]);
    });
  });

  it('an undo the server refuses (the answer was passed to training) says so and shows the pair on screen again', async () => {
    await withPage('alice', async ({ store, server, page, errors }) => {
      const cur = await waitReady(page);
      await page.keyboard.press('ArrowLeft');
      await waitFor(() => store.counts().labels === 1);
      server.lockLabels([store.labels()[0].id]); // what the human teacher does with the labels it returns
      const next = await waitReady(page, cur.pairId);
      await page.keyboard.press('z');
      await page.waitForFunction(() => /cannot be undone/.test(document.getElementById('toast')?.textContent ?? ''));
      await page.waitForFunction(() => document.getElementById('overlay')?.classList.contains('hidden') === true, null, { timeout: 5000 });
      expect(store.counts().labels).toBe(1);
      // The pair on screen can be answered as before.
      expect(await page.evaluate(() => (window as unknown as { prefrlDebug: Debug }).prefrlDebug.current())).toMatchObject({ pairId: next.pairId, ready: true });
      await page.keyboard.press('ArrowRight');
      await waitFor(() => store.counts().labels === 2);
      expect(errors).toEqual([]);
    });
  });

  it('frames a camera-less model on each pair it shows, until the person moves the camera; reset frames the current pair', async () => {
    // pole_arm: a 1.5 m arm upright at qpos0 on a fixed base, no camera. Three pairs whose first
    // clip ends swung to +1.55 rad, -1.55 rad or stays upright (the second clip stays upright).
    // By hand, from each drawn geom's bounding sphere (box 0.1 * sqrt 3 at z 0.1, capsule 0.78 about
    // its middle 0.75 m up the arm from the hinge at z 0.2, hand 0.08 at its end): swung to +1.55
    // the box around all steps spans x -0.78..1.5797, y -0.78..0.78, z -0.5644..1.78, so the view
    // looks at (0.3998, 0, 0.6078) from 2.2 x its half-diagonal 1.8370 = 4.0413 m; upright it
    // looks at (0, 0, 0.8534) from 3.1694 m. (Framed on qpos0 alone, every pair got the latter.)
    const poleArm = { id: 'custom', model: join(ROOT, 'test', 'fixtures', 'byo', 'pole_arm.xml') };
    const poleEnv = await loadViewerEnv(poleArm);
    const base = await makePairs(poleArm, { episodes: 1, steps: 60, length: 10 });
    const swings = [1.55, -1.55, 0];
    const shown = base.slice(0, 3).map((p, k) => ({ ...p, a: { ...p.a, qpos: p.a.qpos.map((_, i) => (i === p.a.length ? swings[k] : 0)) }, b: { ...p.b, qpos: p.b.qpos.map(() => 0) } }));
    const framed = (pairId: string): { target: number[]; distance: number } => {
      const swing = swings[shown.findIndex((p) => p.id === pairId)];
      return swing === 0 ? { target: [0, 0, 0.8534], distance: 3.1694 } : { target: [Math.sign(swing) * 0.3998, 0, 0.6078], distance: 4.0413 };
    };
    const expectFramed = async (pairId: string): Promise<void> => {
      const c = await camera(page);
      const want = framed(pairId);
      const got = { target: c.target, distance: Math.hypot(...c.position.map((x, k) => x - c.target[k])) };
      expect(got.target.every((x, k) => Math.abs(x - want.target[k]) < 1e-3) && Math.abs(got.distance - want.distance) < 1e-3, `${JSON.stringify(got)} vs ${JSON.stringify(want)}`).toBe(true);
    };
    const store = LabelStore.open(join(dir, `labels-${n++}.sqlite`));
    store.putPairs(shown);
    const server = await ViewerServer.start({ store, env: poleEnv, port: 0, staticDir: site });
    const { page, ctx, errors } = await openPage(server.url);
    try {
      const first = await waitReady(page);
      await expectFramed(first.pairId);
      await page.keyboard.press('ArrowLeft');
      const second = await waitReady(page, first.pairId);
      await expectFramed(second.pairId);
      const auto = await camera(page);
      // The person orbits the camera: the next pair keeps their view.
      const box = (await page.locator('#clips').boundingBox()) as { x: number; y: number; width: number; height: number };
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width / 2 + 80, box.y + box.height / 2 + 20, { steps: 5 });
      await page.mouse.up();
      const moved = await camera(page);
      expect(Math.hypot(...moved.position.map((x, k) => x - auto.position[k]))).toBeGreaterThan(0.5);
      await page.keyboard.press('ArrowLeft');
      const third = await waitReady(page, second.pairId);
      expect(third.pairId).not.toBe(first.pairId);
      expect(await camera(page)).toEqual(moved);
      // Reset view (r) frames the pair on screen.
      await page.keyboard.press('r');
      await expectFramed(third.pairId);
      expect(errors).toEqual([]);
    } finally {
      await ctx.close();
      await server.close();
      store.close();
    }
  });

  it('re-sends an unacknowledged answer after a dropped connection or a server restart; each is stored once', async () => {
    const store = newStore();
    let server = await ViewerServer.start({ store, env, port: 0, staticDir: site, faults: { dropAfterCommit: 1 } });
    const port = server.boundPort;
    const { page, ctx } = await openPage(server.url, 'bob', {}, { clock: true });
    try {
      const first = await waitReady(page);
      // The server commits the answer, then the connection drops before the acknowledgement.
      await page.keyboard.press('ArrowRight');
      await waitFor(() => store.counts().labels === 1);
      await page.waitForFunction(() => (window as unknown as { prefrlDebug: Debug }).prefrlDebug.outbox() === 0, null, { timeout: 20_000 });
      expect(store.labels()).toHaveLength(1);
      expect(store.labels()[0]).toMatchObject({ pairId: first.pairId, teacher: 'human:bob', probFirst: first.leftIs === 'b' ? 1 : 0 });

      // Server down: the answer waits in the page's outbox (localStorage) and goes out after the restart.
      const second = await waitReady(page, first.pairId);
      await server.close();
      await page.waitForFunction(() => !(window as unknown as { prefrlDebug: Debug }).prefrlDebug.connected());
      // The server said it was stopping: the page says the session ended; the pair on screen can still be answered.
      await page.waitForFunction(() => document.getElementById('conn')?.textContent === 'session ended', null, { timeout: 10_000 });
      await page.keyboard.press('ArrowDown');
      expect(await page.evaluate(() => (window as unknown as { prefrlDebug: Debug }).prefrlDebug.outbox())).toBe(1);
      server = await ViewerServer.start({ store, env, port, staticDir: site });
      // The page's next look for the server, now rather than up to 4 s later.
      await page.clock.fastForward(ENDED_RETRY_MS);
      await waitFor(() => store.counts().labels === 2, 30_000);
      await page.waitForFunction(() => (window as unknown as { prefrlDebug: Debug }).prefrlDebug.outbox() === 0, null, { timeout: 20_000 });
      const labels = store.labels();
      expect(labels).toHaveLength(2);
      expect(labels[1]).toMatchObject({ pairId: second.pairId, probFirst: 0.5 });
      expect(new Set(labels.map((l) => l.id)).size).toBe(2);
    } finally {
      await ctx.close();
      await server.close();
      store.close();
    }
  });

  it('answers a malformed or oversized message with an error and keeps the connection usable', async () => {
    const store = newStore(1);
    const server = await ViewerServer.start({ store, env, port: 0, staticDir: site });
    const c = await TestClient.open(server.url);
    try {
      c.send('{"type": "hello", oops');
      expect((await c.next('error')).code).toBe('bad_json');
      c.send({ type: 'next' });
      expect((await c.next('error')).code).toBe('need_hello');
      await c.hello({ name: 'eve' });
      c.send({ type: 'answer', seq: 9, labelId: 'h-5555555555555555', pairId: pairs[0].id, choice: 'sideways', name: 'eve', responseMs: 1 });
      const e = await c.next('error');
      expect(e).toMatchObject({ code: 'invalid', re: 9, labelId: 'h-5555555555555555' });
      c.send(JSON.stringify({ type: 'set_name', name: 'x'.repeat(MAX_CLIENT_MESSAGE_BYTES + 10) }));
      expect((await c.next('error')).code).toBe('too_large');
      c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
      expect((await c.next('error')).code).toBe('invalid');
      expect(store.counts().labels).toBe(0);
      // Still usable.
      c.send({ type: 'next' });
      expect((await c.next('pair')).pairId).toBe(pairs[0].id);
      expect(c.closeCode).toBeNull();
    } finally {
      c.close();
      await server.close();
      store.close();
    }
  });

  it('requires the access token when bound beyond loopback, in sockets and in the page', async () => {
    const store = newStore(1);
    const token = 'open-sesame-2026';
    const server = await ViewerServer.start({ store, env, host: '0.0.0.0', port: 0, staticDir: site, token });
    try {
      const anon = await TestClient.open(server.url);
      anon.send({ type: 'hello', v: 1, name: 'mallory' });
      expect((await anon.next('error')).code).toBe('unauthorized');
      expect(await anon.closed()).toBe(4401);
      const wrong = await TestClient.open(server.url);
      wrong.send({ type: 'hello', v: 1, token: 'not-the-token' });
      expect((await wrong.next('error')).code).toBe('unauthorized');
      expect(await wrong.closed()).toBe(4401);
      const ok = await TestClient.open(server.url);
      expect((await ok.hello({ token, name: 'ann' })).envId).toBe('reacher');
      ok.close();
      expect(server.links()[0]).toContain(`?token=${token}`);
      // The page: without the token in the link it asks for one, then works.
      const { page, ctx } = await openPage(server.url);
      await page.waitForSelector('#modal:not(.hidden)', { timeout: 40_000 });
      expect(await page.textContent('#modal-title')).toBe('Access token');
      await page.fill('#modal-input', token);
      await page.press('#modal-input', 'Enter');
      await waitReady(page);
      await ctx.close();
    } finally {
      await server.close();
      store.close();
    }
  });

  it('hands the page\'s answers to the human teacher', async () => {
    const store = LabelStore.open(join(dir, `labels-${n++}.sqlite`));
    const teacher = new HumanTeacher({ store, env: { id: 'reacher' }, port: 0, staticDir: site, pollMs: 100, timeoutS: 120 });
    try {
      const batch = pairs.slice(0, 2);
      const pending = teacher.label(batch);
      await waitFor(() => teacher.url !== null);
      const { page, ctx } = await openPage(teacher.url as string, 'carol');
      const shown: Record<string, number> = {};
      const a = await waitReady(page);
      await page.keyboard.press('ArrowLeft');
      shown[a.pairId] = a.leftIs === 'a' ? 1 : 0;
      const b = await waitReady(page, a.pairId);
      await page.keyboard.press('=');
      shown[b.pairId] = 0.5;
      const labels = await pending;
      expect(labels.map((l) => l.pairId)).toEqual(batch.map((p) => p.id));
      for (const l of labels) expect(l).toMatchObject({ kind: 'preference', teacher: 'human:carol', probFirst: shown[l.pairId] });
      await ctx.close();
    } finally {
      await teacher.close();
      store.close();
    }
  });

  // Many renders and a video: ~25-55 s alone on a loaded 2-core machine, past 60 s in a full run.
  it('Space on an answer button reached with Tab presses that button; after a mouse click elsewhere it still means "can\'t tell"', async () => {
    await withPage('alice', async ({ store, page, errors }) => {
      const cur = await waitReady(page);
      // A keyboard-only person tabs to "Right is better" and presses Space, the usual way to press a button.
      let focused = '';
      for (let k = 0; k < 40 && focused !== 'right'; k++) {
        await page.keyboard.press('Tab');
        focused = await page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset.choice ?? '');
      }
      expect(focused).toBe('right');
      await page.keyboard.press('Space');
      await waitFor(() => store.counts().labels === 1);
      // The right clip is preferred: B when A was on the left (probFirst 0), A when B was.
      expect(store.labels()[0]).toMatchObject({ pairId: cur.pairId, kind: 'preference', probFirst: cur.leftIs === 'a' ? 0 : 1 });
      // A mouse click on a transport button leaves it focused without :focus-visible: Space is the shortcut again.
      const next = await waitReady(page, cur.pairId);
      await page.click('#reset-cam');
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('reset-cam');
      await page.keyboard.press('Space');
      await waitFor(() => store.counts().labels === 2);
      expect(store.labels()[1]).toMatchObject({ pairId: next.pairId, kind: 'skip', reason: "can't tell (viewer)" });
      expect(errors).toEqual([]);
    });
  });

  it('fits a phone-sized window: no sideways scrolling on either tab, the transport controls wrap inside it, the clips stack below 600 px', async () => {
    const store = newStore();
    const server = await ViewerServer.start({ store, env, port: 0, staticDir: site });
    const { page, ctx, errors } = await openPage(server.url, 'alice');
    try {
      await waitReady(page);
      const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      for (const width of [320, 375, 700]) {
        await page.setViewportSize({ width, height: 700 });
        await page.click('#tab-btn-label');
        expect(await overflow()).toBe(0);
        // Every transport control lies inside the window (they wrap instead of running off its edge).
        const right = await page.$$eval('.transport > *', (es) => Math.max(...es.map((e) => e.getBoundingClientRect().right)));
        expect(right).toBeLessThanOrEqual(width);
        await page.click('#tab-btn-heron');
        await page.waitForSelector('#heron-samples tr');
        expect(await overflow()).toBe(0);
      }
      await page.click('#tab-btn-label');
      // The two clips stack on a 320 px phone; side by side at 700 px.
      const tops = async () => page.$$eval('.pane', (es) => es.map((e) => Math.round(e.getBoundingClientRect().top)));
      await page.setViewportSize({ width: 320, height: 700 });
      const [t1, t2] = await tops();
      expect(t2).toBeGreaterThan(t1);
      await page.setViewportSize({ width: 700, height: 700 });
      const [s1, s2] = await tops();
      expect(s2).toBe(s1);
      expect(errors).toEqual([]);
    } finally {
      await ctx.close();
      await server.close();
      store.close();
    }
  });

  it('names its controls for screen readers, announces its messages, and keeps the answers off until a pair is on screen', async () => {
    await withPage(null, async ({ page }) => {
      // No name yet: the name dialog is named by its title, and so is its text box.
      const dialog = page.getByRole('dialog', { name: 'Your name' });
      await dialog.waitFor();
      expect(await dialog.getByRole('textbox', { name: 'Your name' }).count()).toBe(1);
      // Nothing to answer yet: the answer buttons are off.
      expect(await page.$$eval('.answer', (bs) => bs.map((b) => (b as HTMLButtonElement).disabled))).toEqual([true, true, true, true]);
      // The overlay's messages are announced (through the page's live region, which is always there).
      await expect.poll(() => page.getByRole('status').filter({ hasText: 'Enter your name to start.' }).count()).toBe(1);
      await page.fill('#modal-input', 'alice');
      await page.keyboard.press('Enter');
      await waitReady(page);
      expect(await page.$$eval('.answer', (bs) => bs.map((b) => (b as HTMLButtonElement).disabled))).toEqual([false, false, false, false]);
      // Each answer is named by its words (not the key caps) and says its shortcut.
      for (const [name, keys] of [
        ['Left is better', 'ArrowLeft'],
        ['About equal', 'ArrowDown ='],
        ["Can't tell", 'Space'],
        ['Right is better', 'ArrowRight'],
      ]) {
        const b = page.getByRole('button', { name, exact: true });
        expect(await b.count()).toBe(1);
        expect(await b.getAttribute('aria-keyshortcuts')).toBe(keys);
      }
      expect(await page.getByRole('textbox', { name: 'Optional comment, sent with your next answer' }).count()).toBe(1);
      expect(await page.getByRole('img', { name: 'left clip' }).count()).toBe(1);
      expect(await page.getByRole('img', { name: 'right clip' }).count()).toBe(1);
      // The two tabs and their panels are tied together: one visible panel, named by its tab.
      expect(await page.getByRole('tab', { name: 'Compare' }).getAttribute('aria-selected')).toBe('true');
      expect(await page.getByRole('tabpanel', { name: 'Compare' }).isVisible()).toBe(true);
      await page.getByRole('tab', { name: 'HERON' }).click();
      expect(await page.getByRole('tabpanel', { name: 'HERON' }).isVisible()).toBe(true);
      expect(await page.getByRole('tab', { name: 'Compare' }).getAttribute('aria-selected')).toBe('false');
      await page.getByRole('tab', { name: 'Compare' }).click();
      // The page says what "about equal" and "can't tell" mean.
      expect(await page.textContent('#tab-label')).toContain("Can't tell: you cannot judge this pair; it is skipped, not counted as a preference.");
    });
  });

  it('counts answers and undos apart in what it keeps on the device while the server is away', async () => {
    const store = newStore();
    let server = await ViewerServer.start({ store, env, port: 0, staticDir: site });
    const port = server.boundPort;
    const { page, ctx, errors } = await openPage(server.url, 'bob', {}, { clock: true });
    try {
      const cur = await waitReady(page);
      await server.close();
      await page.waitForFunction(() => document.getElementById('conn')?.textContent === 'session ended', null, { timeout: 10_000 });
      await page.keyboard.press('ArrowLeft');
      await page.waitForFunction(() => document.getElementById('p-outbox')?.textContent === '1 answer waiting to be sent');
      await page.waitForFunction(() => document.getElementById('overlay')?.textContent === 'The labelling session has ended. 1 answer is kept on this device and sent if the server comes back.');
      // Taking it back while the server is away queues an undo: one answer and one undo, not "2 answers".
      await page.keyboard.press('z');
      await page.waitForFunction(() => document.getElementById('p-outbox')?.textContent === '1 answer and 1 undo waiting to be sent');
      await page.waitForFunction(
        () => document.getElementById('overlay')?.textContent === 'The labelling session has ended. 1 answer and 1 undo are kept on this device and sent if the server comes back.',
        null,
        { timeout: 10_000 },
      );
      // Back: the answer is stored and undone, and the pair is offered again.
      server = await ViewerServer.start({ store, env, port, staticDir: site });
      await page.clock.fastForward(ENDED_RETRY_MS);
      await page.waitForFunction(() => (window as unknown as { prefrlDebug: Debug }).prefrlDebug.outbox() === 0, null, { timeout: 20_000 });
      expect(store.counts().labels).toBe(0);
      expect((await waitReady(page)).pairId).toBe(cur.pairId);
      expect(await page.isHidden('#p-outbox')).toBe(true);
      expect(errors).toEqual([]);
    } finally {
      await ctx.close();
      await server.close();
      store.close();
    }
  });

  it('after the session ends, saved answers cannot be undone (says why); what is kept on the device goes only to a server of its own store, not to another session on the same port', async () => {
    const storeA = newStore();
    let server = await ViewerServer.start({ store: storeA, env, port: 0, staticDir: site });
    const port = server.boundPort;
    const { page, ctx, errors } = await openPage(server.url, 'bob', {}, { clock: true });
    const storeB = newStore(); // the same pairs (same ids) in another store: a new run on the same port
    try {
      const first = await waitReady(page);
      await page.keyboard.press('ArrowLeft');
      await waitFor(() => storeA.counts().labels === 1);
      const second = await waitReady(page, first.pairId);
      await page.waitForFunction(() => document.getElementById('p-session')?.textContent === '1');
      expect(await page.isEnabled('#undo')).toBe(true);
      await server.close();
      await page.waitForFunction(() => document.getElementById('conn')?.textContent === 'session ended', null, { timeout: 10_000 });
      // The saved answer may be in training already: Undo is off, and says why (button title; Z gives a toast).
      await page.waitForFunction(() => (document.getElementById('undo') as HTMLButtonElement).disabled);
      expect(await page.getAttribute('#undo', 'title')).toBe(
        'The labelling session has ended: your saved answers may already be used for training, so they cannot be undone now. Undo comes back if the server does.',
      );
      await page.keyboard.press('z');
      await page.waitForFunction(() => /cannot be undone now/.test(document.getElementById('toast')?.textContent ?? ''));
      expect(await page.evaluate(() => (window as unknown as { prefrlDebug: Debug }).prefrlDebug.outbox())).toBe(0);
      // It stays off while the page looks for the server again (every 4 s, "connecting…" in between).
      await page.evaluate(() => {
        const w = window as unknown as { undoOn: number; retried: boolean };
        w.undoOn = 0;
        w.retried = false;
        const undo = document.getElementById('undo') as HTMLButtonElement;
        new MutationObserver(() => {
          if (!undo.disabled) w.undoOn++;
        }).observe(undo, { attributes: true });
        new MutationObserver(() => {
          if (document.getElementById('conn')?.textContent === 'connecting…') w.retried = true;
        }).observe(document.getElementById('conn') as HTMLElement, { childList: true, characterData: true, subtree: true });
      });
      await page.clock.fastForward(ENDED_RETRY_MS);
      await page.waitForFunction(() => (window as unknown as { retried: boolean }).retried && document.getElementById('conn')?.textContent === 'session ended', null, { timeout: 10_000 });
      expect(await page.evaluate(() => (window as unknown as { undoOn: number }).undoOn)).toBe(0);
      // The pair on screen can still be answered: kept on the device for store A's server.
      await page.keyboard.press('ArrowRight');
      await page.waitForFunction(() => document.getElementById('p-outbox')?.textContent === '1 answer waiting to be sent');
      // A different session (another store) on the same port: the answer is not sent to it.
      server = await ViewerServer.start({ store: storeB, env, port, staticDir: site });
      await page.clock.fastForward(ENDED_RETRY_MS);
      await page.waitForFunction(() => document.getElementById('conn')?.textContent === 'connected', null, { timeout: 20_000 });
      await page.waitForFunction(
        () => document.getElementById('p-outbox')?.textContent === '1 answer of an earlier labelling session is kept on this device for its own server (not sent to this one)',
      );
      // It can be saved as a label file for that session's store (`prefrl labels import`); it stays kept.
      expect(await page.isVisible('#p-elsewhere')).toBe(true);
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('#elsewhere-save')]);
      expect(download.suggestedFilename()).toMatch(/^prefrl-unsent-[a-z-]+-\d{8}-\d{4}-[0-9a-f]{8}\.jsonl$/);
      const savedFile = await download.path();
      const savedLines = readFileSync(savedFile, 'utf8').trim().split('\n');
      expect(savedLines).toHaveLength(1);
      const saved = JSON.parse(savedLines[0]) as Record<string, unknown>;
      expect(saved).toMatchObject({ pairId: second.pairId, teacher: 'human:bob', kind: 'preference', probFirst: second.leftIs === 'a' ? 0 : 1 });
      await page.waitForFunction(() => /^Saved 1 answer to prefrl-unsent-.*labels import --store/.test(document.getElementById('toast')?.textContent ?? ''));
      expect(await page.evaluate(() => (window as unknown as { prefrlDebug: Debug }).prefrlDebug.outbox())).toBe(1);
      // Answer a pair of this session: its ack comes after anything sent before it on the socket.
      const inB = await waitReady(page);
      await page.keyboard.press('ArrowDown');
      await waitFor(() => storeB.counts().labels === 1);
      await page.waitForFunction(() => document.getElementById('p-session')?.textContent === '2');
      expect(storeB.labels()).toMatchObject([{ pairId: inB.pairId, kind: 'preference', probFirst: 0.5 }]);
      expect(storeB.getLabel(storeA.labels()[0].id)).toBeUndefined();
      expect(await page.evaluate(() => (window as unknown as { prefrlDebug: Debug }).prefrlDebug.outbox())).toBe(1);
      // Store A's server back on the port: the kept answer is stored there, where it belongs.
      await server.close();
      server = await ViewerServer.start({ store: storeA, env, port, staticDir: site });
      await page.clock.fastForward(ENDED_RETRY_MS);
      await page.waitForFunction(() => (window as unknown as { prefrlDebug: Debug }).prefrlDebug.outbox() === 0, null, { timeout: 20_000 });
      const labelsA = storeA.labels();
      expect(labelsA.map((l) => l.pairId)).toEqual([first.pairId, second.pairId]);
      expect(labelsA[1]).toMatchObject({ teacher: 'human:bob', probFirst: second.leftIs === 'a' ? 0 : 1 });
      // The saved file held the very label the server stored (only the time differs: the page's is when it was answered).
      const { createdAt: _stored, ...storedA } = labelsA[1] as unknown as Record<string, unknown>;
      const { createdAt: savedAt, ...savedLabel } = saved;
      expect(savedLabel).toEqual(storedA);
      expect(Number.isNaN(Date.parse(String(savedAt)))).toBe(false);
      // And `prefrl labels import` takes the file: a store of the same pairs holds that label after it.
      const storeC = newStore();
      try {
        expect(storeC.importJsonl(savedFile)).toMatchObject({ lines: 1, added: 1 });
        const { createdAt: importedAt, ...imported } = storeC.labels()[0] as unknown as Record<string, unknown>;
        expect(imported).toEqual(storedA);
        expect(importedAt).toBe(savedAt);
      } finally {
        storeC.close();
      }
      expect(storeB.counts().labels).toBe(1);
      expect(await page.isHidden('#p-outbox')).toBe(true);
      expect(await page.isHidden('#p-elsewhere')).toBe(true);
      expect(errors).toEqual([]);
    } finally {
      await ctx.close();
      await server.close();
      storeA.close();
      storeB.close();
    }
  });

  it("shows the reward model's opinion after an answer, its chart drawn sharp on a 2x screen at its page size", async () => {
    const store = newStore();
    const server = await ViewerServer.start({
      store,
      env,
      port: 0,
      staticDir: site,
      insight: { explain: (p) => ({ probFirst: 0.75, rewardsA: Float32Array.from({ length: p.a.length }, (_, i) => i / 10), rewardsB: new Float32Array(p.b.length).fill(-0.5) }) },
    });
    const { page, ctx, errors } = await openPage(server.url, 'bob', { deviceScaleFactor: 2 });
    try {
      const pair = await waitReady(page);
      expect(await page.isHidden('#insight')).toBe(true);
      await page.keyboard.press('ArrowLeft');
      await page.waitForFunction(() => !document.getElementById('insight')?.classList.contains('hidden'));
      // The model gives the first segment 75%: shown as P(left) through the layout on screen.
      const left = pair.leftIs === 'a' ? 75 : 25;
      expect(await page.textContent('#insight-text')).toBe(`Model: P(left better) = ${left}%, P(right better) = ${100 - left}%. You said left is better — the model ${left > 50 ? 'agrees' : 'disagrees (logged)'}.`);
      const chart = await page.evaluate(() => {
        const c = document.getElementById('insight-curves') as HTMLCanvasElement;
        const r = c.getBoundingClientRect();
        return { w: c.width, h: c.height, cssW: r.width, cssH: r.height, ratio: window.devicePixelRatio };
      });
      expect(chart).toEqual({ w: 840, h: 240, cssW: 420, cssH: 120, ratio: 2 });
      expect(errors).toEqual([]);
    } finally {
      await ctx.close();
      await server.close();
      store.close();
    }
  });

  it('answers kept for an earlier session can be saved as a label file (an undone answer left out, an undo of a saved answer counted) and discarded with a second press', async () => {
    await withPage('bob', async ({ page, server, errors }) => {
      await waitReady(page);
      const other = server.storeId === 'feedbeeffeedbeef' ? 'cafecafecafecafe' : 'feedbeeffeedbeef';
      const at = '2026-12-01T09:30:00.000Z';
      const kept = [
        { type: 'answer', labelId: 'L1', pairId: 'p1', name: 'bob', choice: 'left', responseMs: 900, leftIs: 'b', forStore: other, keptAt: at, envId: 'reacher' },
        { type: 'undo', labelId: 'L1', name: 'bob', forStore: other, keptAt: at },
        { type: 'answer', labelId: 'L2', pairId: 'p2', name: 'bob', choice: 'left', responseMs: 1200, comment: 'closer', leftIs: 'b', forStore: other, keptAt: at, envId: 'reacher' },
        { type: 'undo', labelId: 'L3', name: 'bob', forStore: other, keptAt: at },
      ];
      await page.evaluate((k) => localStorage.setItem('prefrl.outbox.v1', JSON.stringify(k)), kept);
      await page.reload();
      await waitReady(page);
      await page.waitForFunction(() => /^2 answers and 2 undos of an earlier labelling session are kept/.test(document.getElementById('p-outbox')?.textContent ?? ''));
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('#elsewhere-save')]);
      expect(download.suggestedFilename()).toBe(`prefrl-unsent-reacher-20261201-0930-${other.slice(0, 8)}.jsonl`);
      const lines = readFileSync(await download.path(), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as unknown);
      // L1 was taken back by its kept undo; L2's left clip was segment b, so "left" is P(first better) = 0.
      expect(lines).toEqual([
        { id: 'L2', pairId: 'p2', teacher: 'human:bob', responseMs: 1200, comment: 'closer', raw: JSON.stringify({ choice: 'left', leftIs: 'b', via: 'viewer' }), createdAt: at, kind: 'preference', probFirst: 0 },
      ]);
      await page.waitForFunction(() => /1 undo of answers that session already saved cannot go in a label file/.test(document.getElementById('toast')?.textContent ?? ''));
      // One press only arms the button; nothing is forgotten yet.
      await page.click('#elsewhere-discard');
      expect(await page.textContent('#elsewhere-discard')).toBe('discard for good? (press again)');
      expect(await page.evaluate(() => (window as unknown as { prefrlDebug: Debug }).prefrlDebug.outbox())).toBe(4);
      await page.click('#elsewhere-discard');
      await page.waitForFunction(() => document.getElementById('toast')?.textContent === 'Discarded 2 answers and 2 undos kept for an earlier labelling session');
      expect(await page.evaluate(() => (window as unknown as { prefrlDebug: Debug }).prefrlDebug.outbox())).toBe(0);
      expect(await page.evaluate(() => localStorage.getItem('prefrl.outbox.v1'))).toBe('[]');
      expect(await page.isHidden('#p-outbox')).toBe(true);
      expect(await page.isHidden('#p-elsewhere')).toBe(true);
      expect(await page.textContent('#elsewhere-discard')).toBe('discard them');
      expect(errors).toEqual([]);
    });
  });

  it('says so when the server stops while a pair is on screen (once, not at every retry); the pair can still be answered', async () => {
    const store = newStore();
    const server = await ViewerServer.start({ store, env, port: 0, staticDir: site });
    const { page, ctx, errors } = await openPage(server.url, 'bob', {}, { clock: true });
    try {
      await waitReady(page);
      // Count the times the toast is shown (the page retries the server every 4 s once it has ended),
      // and note a retry ("connecting…" in between).
      await page.evaluate(() => {
        const w = window as unknown as { toasts: string[]; retried: boolean };
        w.toasts = [];
        w.retried = false;
        const t = document.getElementById('toast') as HTMLElement;
        new MutationObserver(() => {
          if (t.classList.contains('show') && w.toasts[w.toasts.length - 1] !== t.textContent) w.toasts.push(t.textContent ?? '');
        }).observe(t, { attributes: true, childList: true, characterData: true, subtree: true });
        new MutationObserver(() => {
          if (document.getElementById('conn')?.textContent === 'connecting…') w.retried = true;
        }).observe(document.getElementById('conn') as HTMLElement, { childList: true, characterData: true, subtree: true });
      });
      await server.close();
      await page.waitForFunction(() => document.getElementById('conn')?.textContent === 'session ended', null, { timeout: 10_000 });
      await page.waitForFunction(() => /You can still answer this pair/.test(document.getElementById('toast')?.textContent ?? ''));
      expect(await page.$eval('#toast', (t) => t.classList.contains('show'))).toBe(true);
      // Past one retry (4 s, fast-forwarded; the retry found no server): still one toast.
      await page.clock.fastForward(ENDED_RETRY_MS + 1000);
      await page.waitForFunction(() => (window as unknown as { retried: boolean }).retried && document.getElementById('conn')?.textContent === 'session ended', null, { timeout: 10_000 });
      expect(await page.evaluate(() => (window as unknown as { toasts: string[] }).toasts)).toEqual([
        'The labelling session has ended. You can still answer this pair: the answer is kept on this device and sent if the server comes back.',
      ]);
      await page.keyboard.press('ArrowLeft');
      expect(await page.evaluate(() => (window as unknown as { prefrlDebug: Debug }).prefrlDebug.outbox())).toBe(1);
      expect(errors).toEqual([]);
    } finally {
      await ctx.close();
      await server.close();
      store.close();
    }
  });

  it('on a slow network says how far the physics engine download is, and a reload revalidates it instead of downloading it again', async () => {
    await withPage('alice', async ({ page: first }) => {
      const url = first.url();
      const ctx = await browser.newContext({ viewport: { width: 820, height: 640 } });
      try {
        await ctx.addInitScript(() => {
          localStorage.setItem('prefrl.name', JSON.stringify('bob'));
          // Every text the overlay shows, in order.
          const w = window as unknown as { overlayTexts: string[] };
          w.overlayTexts = [];
          new MutationObserver(() => {
            const t = document.getElementById('overlay')?.textContent ?? '';
            if (w.overlayTexts[w.overlayTexts.length - 1] !== t) w.overlayTexts.push(t);
          }).observe(document, { childList: true, characterData: true, subtree: true });
        });
        const page = await ctx.newPage();
        const cdp = await ctx.newCDPSession(page);
        await cdp.send('Network.enable');
        // 2 MB/s: the 2.3 MB gzipped engine takes about 1.2 s.
        await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 20, downloadThroughput: 2_000_000, uploadThroughput: 2_000_000 });
        const wasm: Promise<{ asked: string | null; etag: string; body: number }>[] = [];
        page.on('response', (r) => {
          if (r.url().endsWith('/mujoco.wasm')) {
            wasm.push(
              Promise.all([r.request().allHeaders(), r.allHeaders(), r.request().sizes()]).then(([req, res, sizes]) => ({
                asked: req['if-none-match'] ?? null,
                etag: res.etag,
                body: sizes.responseBodySize,
              })),
            );
          }
        });
        await page.goto(url);
        await waitReady(page);
        const texts = await page.evaluate(() => (window as unknown as { overlayTexts: string[] }).overlayTexts);
        const loading = texts.filter((t) => t.startsWith('Loading the physics engine'));
        expect(loading[0]).toBe('Loading the physics engine (MuJoCo): a one-off download: the browser keeps it for next time…');
        const shares = loading.map((t) => /: (\d+)%, a one-off 2\.3 MB download: the browser keeps it for next time…$/.exec(t)).filter((m) => m !== null).map((m) => Number(m[1]));
        // Several steps on the way, in order.
        expect(shares.filter((p) => p > 0 && p < 100).length).toBeGreaterThanOrEqual(3);
        expect([...shares].sort((a, b) => a - b)).toEqual(shares);
        expect(loading.at(-1)).toBe('Loading the physics engine (MuJoCo): downloaded, starting it…');
        const [got] = await Promise.all(wasm);
        expect(got).toMatchObject({ asked: null, body: 2_320_080 });
        // A reload: the browser asks whether its copy is current (ETag), the server says it is
        // (304), and nothing is downloaded again.
        await page.reload();
        await waitReady(page);
        const [, again] = await Promise.all(wasm);
        expect(again).toEqual({ asked: got.etag, etag: got.etag, body: 0 });
      } finally {
        await ctx.close();
      }
    });
  });

  it('two teachers on one pair (overlap 2): agreement without κ from one comparison, and at the end every page shows the last counts', async () => {
    const store = newStore(1);
    const server = await ViewerServer.start({ store, env, port: 0, staticDir: site, overlap: 2 });
    const a = await openPage(server.url, 'alice');
    const b = await openPage(server.url, 'bob');
    try {
      const pa = await waitReady(a.page);
      const pb = await waitReady(b.page);
      expect(pb.pairId).toBe(pa.pairId);
      // They disagree: each says the pair's first clip is better, and the other the second.
      await a.page.keyboard.press(pa.leftIs === 'a' ? 'ArrowLeft' : 'ArrowRight');
      await waitFor(() => store.counts().labels === 1);
      await a.page.waitForFunction(() => document.getElementById('p-waiting')?.textContent === '1');
      await b.page.keyboard.press(pb.leftIs === 'a' ? 'ArrowRight' : 'ArrowLeft');
      await waitFor(() => store.counts().labels === 2);
      await b.page.waitForFunction(() => document.getElementById('p-agree-val')?.textContent === '0 of 1 (0%)');
      expect(await b.page.getAttribute('#p-agree', 'title')).toMatch(/shown from 10 comparisons on\. 9 more comparisons to go\.$/);
      expect(await b.page.textContent('#p-waiting')).toBe('0');
      // alice's page, idle since her answer, gets the counts when the store changes (it had kept
      // "1 waiting" until the server's last progress; reading it then raced that update).
      await a.page.waitForFunction(() => document.getElementById('p-waiting')?.textContent === '0');
      await server.close();
      for (const { page } of [a, b]) {
        await page.waitForFunction(() => document.getElementById('conn')?.textContent === 'session ended', null, { timeout: 10_000 });
        expect(await page.textContent('#p-waiting')).toBe('0');
        expect(await page.textContent('#p-total')).toBe('2');
      }
      expect(await a.page.textContent('#p-agree-val')).toBe('0 of 1 (0%)');
      expect([...a.errors, ...b.errors]).toEqual([]);
    } finally {
      await a.ctx.close();
      await b.ctx.close();
      await server.close();
      store.close();
    }
  });

  it('the name dialog keeps the keyboard in it: Tab and Shift+Tab go round its controls, the page behind is inert', async () => {
    await withPage(null, async ({ page }) => {
      const focused = () => page.evaluate(() => (document.activeElement === document.body ? 'body' : (document.activeElement?.id || document.activeElement?.textContent || '?')));
      await page.waitForSelector('#modal:not(.hidden)');
      expect(await focused()).toBe('modal-input');
      // The first name: the text box and Continue (Cancel is hidden), round and round both ways.
      const forward: string[] = [];
      for (let k = 0; k < 4; k++) {
        await page.keyboard.press('Tab');
        forward.push(await focused());
      }
      expect(forward).toEqual(['Continue', 'modal-input', 'Continue', 'modal-input']);
      await page.keyboard.press('Shift+Tab');
      expect(await focused()).toBe('Continue');
      await page.keyboard.press('Shift+Tab');
      expect(await focused()).toBe('modal-input');
      expect(await page.$eval('main', (m) => (m as HTMLElement).inert)).toBe(true);
      expect(await page.$eval('header', (m) => (m as HTMLElement).inert)).toBe(true);
      await page.fill('#modal-input', 'alice');
      await page.keyboard.press('Enter');
      await waitReady(page);
      expect(await page.$eval('main', (m) => (m as HTMLElement).inert)).toBe(false);
      // A rename: Cancel is in the round too; Esc closes it and the page takes keys again.
      await page.click('#rename');
      await page.waitForSelector('#modal:not(.hidden)');
      const round: string[] = [];
      for (let k = 0; k < 3; k++) {
        await page.keyboard.press('Tab');
        round.push(await focused());
      }
      expect(round).toEqual(['modal-cancel', 'Continue', 'modal-input']);
      await page.keyboard.press('Escape');
      expect(await page.isHidden('#modal')).toBe(true);
      expect(await page.$eval('header', (m) => (m as HTMLElement).inert)).toBe(false);
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => document.activeElement !== document.body && !document.getElementById('modal')?.contains(document.activeElement))).toBe(true);
    });
  });

  it('a change of name can be called off (Esc or Cancel) and keeps the name; the first name cannot', async () => {
    const store = newStore();
    const server = await ViewerServer.start({ store, env, port: 0, staticDir: site });
    const ctx = await browser.newContext({ viewport: { width: 820, height: 640 } });
    const page = await ctx.newPage();
    try {
      await page.goto(server.url);
      await page.waitForSelector('#modal:not(.hidden)');
      // The first name: no way around it.
      expect(await page.isHidden('#modal-cancel')).toBe(true);
      await page.keyboard.press('Escape');
      expect(await page.isVisible('#modal')).toBe(true);
      await page.fill('#modal-input', 'alice');
      await page.keyboard.press('Enter');
      await waitReady(page);
      // Renaming: Esc, then Cancel, close the dialog and keep "alice".
      await page.click('#rename');
      await page.fill('#modal-input', 'typo');
      await page.keyboard.press('Escape');
      expect(await page.isHidden('#modal')).toBe(true);
      await page.click('#rename');
      expect(await page.inputValue('#modal-input')).toBe('alice');
      await page.click('#modal-cancel');
      expect(await page.isHidden('#modal')).toBe(true);
      expect(await page.textContent('#name-label')).toBe('alice');
      // The keys work again at once: an answer is stored under alice.
      await page.keyboard.press('ArrowLeft');
      await waitFor(() => store.counts().labels === 1);
      expect(store.labels()[0].teacher).toBe('human:alice');
    } finally {
      await ctx.close();
      await server.close();
      store.close();
    }
  });

  it('renders segment frames and pair videos through the same scene', { timeout: 180_000 }, async () => {
    const seg = pairs[0].a;
    const small = { browser, staticDir: site, width: 200, height: 150 };
    // Frames for a VLM: two steps with the robot, one without (world and target only).
    const r = await ClipRenderer.launch(small);
    let frames: Buffer[];
    try {
      await r.load(modelPayload({ id: 'reacher' }), [clipPayload(seg)], { width: 200, height: 150, layout: 'single', shadows: true, grid: true });
      const fo = { camera: { kind: 'auto' as const }, hideRobot: false, follow: 'off' as const };
      frames = [await r.frame([0], fo), await r.frame([seg.length], fo), await r.frame([0], { ...fo, hideRobot: true })];
    } finally {
      await r.close();
    }
    const [d0, dh] = [frames[0], frames[2]].map(decodePng);
    expect([d0.width, d0.height]).toEqual([200, 150]);
    expect(countOrange(d0.rgba)).toBeGreaterThan(50);
    expect(countOrange(dh.rgba)).toBeLessThan(5);
    expect(countNonBackground(dh.rgba)).toBeGreaterThan(0.05 * 200 * 150);
    expect(Buffer.compare(frames[0], frames[1])).not.toBe(0);
    // A bring-your-own model with an <include>d file and an OBJ mesh compiles in the page too.
    const arm = { id: 'custom', model: join(ROOT, 'test', 'fixtures', 'byo', 'arm.xml') };
    const [byo] = await makePairs(arm, { episodes: 1, steps: 20, length: 10 });
    const [png] = await renderSegmentFrames({ segment: byo.a, env: arm }, [byo.a.length], { ...small, camera: { kind: 'preset', name: 'iso' } });
    const dbyo = decodePng(png);
    let red = 0; // the hand mesh, rgba 0.9 0.3 0.2
    for (let i = 0; i < dbyo.rgba.length; i += 4) if (dbyo.rgba[i] > 110 && dbyo.rgba[i] > dbyo.rgba[i + 1] + 60 && dbyo.rgba[i] > dbyo.rgba[i + 2] + 60) red++;
    expect(red).toBeGreaterThan(3);
    // A model without a camera of its own: the auto view frames what the clip shows over all its
    // steps. A 1.5 m pole upright at qpos0 and swung down to the side at the clip's last step
    // keeps its red hand whole in the image at both ends (framed on qpos0 alone, the swung hand
    // is cut by the image's edge).
    const poleArm = { id: 'custom', model: join(ROOT, 'test', 'fixtures', 'byo', 'pole_arm.xml') };
    const [pole] = await makePairs(poleArm, { episodes: 1, steps: 20, length: 10 });
    const swung = { ...pole.a, qpos: pole.a.qpos.slice() };
    for (let i = 0; i <= swung.length; i++) swung.qpos[i] = i === swung.length ? 1.55 : 0;
    // Both ends in one render (one page load); each frame is drawn from the auto view of the whole clip.
    const ends = [0, swung.length];
    const endImages = await renderSegmentFrames({ segment: swung, env: poleArm }, ends, { ...small, camera: { kind: 'auto' }, follow: 'off' });
    expect(endImages).toHaveLength(2);
    const handBox = (step: number): { n: number; x0: number; x1: number; y0: number; y1: number } => {
      const { width, rgba: d } = decodePng(endImages[ends.indexOf(step)]);
      const b = { n: 0, x0: Infinity, x1: -Infinity, y0: Infinity, y1: -Infinity };
      for (let i = 0; i < d.length; i += 4) {
        if (!(d[i] > 110 && d[i] > d[i + 1] + 60 && d[i] > d[i + 2] + 60)) continue;
        const x = (i / 4) % width;
        const y = Math.floor(i / 4 / width);
        b.n++;
        [b.x0, b.x1, b.y0, b.y1] = [Math.min(b.x0, x), Math.max(b.x1, x), Math.min(b.y0, y), Math.max(b.y1, y)];
      }
      return b;
    };
    for (const step of ends) {
      const b = handBox(step);
      expect(b.n, `step ${step}`).toBeGreaterThan(10);
      expect([b.x0 > 0, b.y0 > 0, b.x1 < 199, b.y1 < 149], `step ${step}: ${JSON.stringify(b)}`).toEqual([true, true, true, true]);
    }
    // A pair to video (ffmpeg, yuv420p), both clips side by side.
    const out = join(dir, 'pair.mp4');
    const calls: [number, number][] = [];
    const v = await renderPair(pairs[1], modelPayload({ id: 'reacher' }), out, { ...small, width: 160, height: 120, fps: 10, dt: env.spec.dt, onFrame: (d, t) => calls.push([d, t]) });
    expect(v.frames).toBe(Math.floor(pairs[1].a.length * env.spec.dt * 10 + 1e-9) + 1);
    // 20 steps of 0.02 s at 10 fps: frames at 0, 0.1, ..., 0.4 s; onFrame counts each one written.
    expect(v.frames).toBe(5);
    expect(calls).toEqual([1, 2, 3, 4, 5].map((d) => [d, 5]));
    expect(existsSync(out) && statSync(out).size > 500).toBe(true);
    const probe = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=width,height,pix_fmt', '-of', 'csv=p=0', out], { encoding: 'utf8' });
    if (probe.status === 0) expect(probe.stdout.trim()).toBe('160,120,yuv420p');
    // A render that fails (an ffmpeg that exits 1) leaves the file of that name as it was, and no temporary file.
    const before = readFileSync(out);
    const saved = process.env.PREFRL_FFMPEG;
    process.env.PREFRL_FFMPEG = '/bin/false';
    try {
      await expect(renderPair(pairs[1], modelPayload({ id: 'reacher' }), out, { ...small, width: 160, height: 120, fps: 10, dt: env.spec.dt })).rejects.toThrow(/ffmpeg failed \(exit 1\)/);
    } finally {
      if (saved === undefined) delete process.env.PREFRL_FFMPEG;
      else process.env.PREFRL_FFMPEG = saved;
    }
    expect(Buffer.compare(readFileSync(out), before)).toBe(0);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    if (existsSync('/dev/full')) {
      // A full disk: ffmpeg exits 0 though it could not write the end of the video ("Error writing
      // trailer ...: No space left on device"); its temporary file is /dev/full here, where every
      // write fails so. The render fails naming the file asked for; that file is left as it was.
      const ext = extname(out);
      symlinkSync('/dev/full', join(dirname(out), `.${basename(out, ext)}.tmp-${process.pid}${ext}`));
      await expect(renderPair(pairs[1], modelPayload({ id: 'reacher' }), out, { ...small, width: 160, height: 120, fps: 10, dt: env.spec.dt })).rejects.toMatchObject({
        message: `cannot write ${out}: no space left on device (ENOSPC)`,
        code: 'ENOSPC',
      });
      expect(Buffer.compare(readFileSync(out), before)).toBe(0);
      expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    }
    // Chromium going away mid-video (killed, crashed, out of memory) is one line saying where the
    // render stopped, and the file is again left as it was.
    const doomed = await chromium.launch({ executablePath: findChromium(), args: CHROMIUM_ARGS });
    const gone = renderPair(pairs[1], modelPayload({ id: 'reacher' }), out, {
      ...small,
      browser: doomed,
      width: 160,
      height: 120,
      fps: 10,
      dt: env.spec.dt,
      onFrame: (d) => {
        if (d === 2) void doomed.close();
      },
    });
    await expect(gone).rejects.toThrow(ServiceError);
    // (The close races the next frame's request: the render stops after frame 2, 3 or 4.)
    await expect(gone).rejects.toThrow(new RegExp(`^Chromium closed during the render, after [234] of 5 frames; nothing was written to ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\. `));
    expect(Buffer.compare(readFileSync(out), before)).toBe(0);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('draws MJCF textures: a PNG file of the model folder on the floor, a mesh\'s own texture coordinates, a builtin checker', async () => {
    // test/fixtures/byo_textured: tiles.png (magenta, green / blue, yellow quadrants) once across
    // the 2 x 2 m floor, seen from the model's camera straight above (image up = +y). Without
    // textures every geom is the material's white.
    const textured = { id: 'custom', model: join(ROOT, 'test', 'fixtures', 'byo_textured', 'textured.xml') };
    const [p] = await makePairs(textured, { episodes: 1, steps: 20, length: 10 });
    const seg = { ...p.a, qpos: p.a.qpos.map(() => 0) };
    const W = 200;
    const H = 200;
    const warnings: string[] = [];
    const r = await ClipRenderer.launch({ browser, staticDir: site, warn: (l) => warnings.push(l) });
    let floor: Buffer;
    let robot: Buffer;
    try {
      const loaded = await r.load(modelPayload(textured), [clipPayload(seg)], { width: W, height: H, layout: 'single', shadows: true, grid: true });
      expect(loaded.skippedTextures).toEqual([]);
      const fo = { camera: { kind: 'auto' as const }, hideRobot: true, follow: 'off' as const };
      floor = await r.frame([0], fo);
      robot = await r.frame([0], { ...fo, hideRobot: false });
    } finally {
      await r.close();
    }
    expect(warnings).toEqual([]);
    const colourOf = (px: Uint8Array, i: number): string => {
      const [red, g, b] = [px[i], px[i + 1], px[i + 2]];
      if (red > g + 80 && b > g + 60) return 'magenta';
      if (g > red + 60 && g > b + 40) return 'green';
      if (b > red + 80 && b > g + 60) return 'blue';
      if (red > g + 70 && g > b + 50) return 'orange';
      if (Math.abs(red - g) < 60 && g > b + 90) return 'yellow';
      return 'other';
    };
    /** Pixels of each colour in each quarter of the image (tl, tr, bl, br). */
    const quarters = (png: Buffer): Record<string, Record<string, number>> => {
      const { width, rgba } = decodePng(png);
      const q: Record<string, Record<string, number>> = { tl: {}, tr: {}, bl: {}, br: {} };
      for (let i = 0; i < rgba.length; i += 4) {
        const x = (i / 4) % width;
        const y = Math.floor(i / 4 / width);
        const k = `${y < H / 2 ? 't' : 'b'}${x < W / 2 ? 'l' : 'r'}`;
        const c = colourOf(rgba, i);
        q[k][c] = (q[k][c] ?? 0) + 1;
      }
      return q;
    };
    const f = quarters(floor);
    const quarter = (W * H) / 4;
    // Each quarter of the floor shows the image's quadrant, upright and not mirrored (as in
    // MuJoCo: the texture's top row at +y, its left column at -x).
    const want = { tl: 'magenta', tr: 'green', bl: 'blue', br: 'yellow' } as const;
    for (const [k, colour] of Object.entries(want)) {
      expect(f[k][colour] ?? 0, `${k}: ${JSON.stringify(f[k])}`).toBeGreaterThan(0.6 * quarter);
      for (const other of Object.values(want)) if (other !== colour) expect(f[k][other] ?? 0, `${k} ${other}: ${JSON.stringify(f[k])}`).toBeLessThan(0.05 * quarter);
    }
    // The crate (a mesh above the green quarter) has texture coordinates that all point into the
    // blue quadrant: its top face is blue all over (MuJoCo's generated coordinates would spread
    // the whole image over it, a quarter of it blue). The box above the blue quarter shows its
    // orange checker.
    const g = quarters(robot);
    expect(g.tr.blue ?? 0, JSON.stringify(g.tr)).toBeGreaterThan(800);
    expect(g.bl.orange ?? 0, JSON.stringify(g.bl)).toBeGreaterThan(200);
  });

  it('renders recorded episodes (prefrl rollout) side by side; a shorter clip holds its last step', { timeout: 180_000 }, async () => {
    const { ctx, out } = captureCli();
    expect(await main(['rollout', '--env', 'reacher', '--episodes', '2', '--seed', '5', '--runs-dir', join(dir, 'runs'), '--quiet', '--json'], ctx)).toBe(0);
    const { runDir, trajectories } = lastJson<{ runDir: string; trajectories: string }>(out);
    const src = episodeClips(runDir, '0,1', undefined, undefined);
    expect(src.envConfig).toEqual({ id: 'reacher' });
    expect(src.clips.map((c) => c.length)).toEqual([200, 200]);
    const small = { browser, staticDir: site, width: 240, height: 120, dt: env.spec.dt };
    const png = join(dir, 'episodes.png');
    await renderClips(src.clips, modelPayload(src.envConfig), png, { ...small, step: 200 });
    const both = decodePng(readFileSync(png));
    expect([both.width, both.height]).toEqual([240, 120]);
    // The arm shows in each half.
    const half = (img: { width: number; height: number; rgba: Uint8Array }, right: boolean) => {
      const w = img.width / 2;
      const o = new Uint8Array(w * img.height * 4);
      for (let y = 0; y < img.height; y++) o.set(img.rgba.subarray((y * img.width + (right ? w : 0)) * 4, (y * img.width + (right ? w : 0) + w) * 4), y * w * 4);
      return o;
    };
    expect(countOrange(half(both, false))).toBeGreaterThan(20);
    expect(countOrange(half(both, true))).toBeGreaterThan(20);
    // Episode 0 cut to 10 steps beside episode 1: at steps 10 and 40 its pane is the same image, the other's is not.
    const short = sliceSegment(loadTrajectories(trajectories)[0], 0, 10);
    const at = async (step: number) => {
      const p = join(dir, `hold-${step}.png`);
      await renderClips([short, src.clips[1]], modelPayload(src.envConfig), p, { ...small, step });
      return decodePng(readFileSync(p));
    };
    const [s10, s40] = [await at(10), await at(40)];
    expect(Buffer.compare(Buffer.from(half(s10, false)), Buffer.from(half(s40, false)))).toBe(0);
    expect(Buffer.compare(Buffer.from(half(s10, true)), Buffer.from(half(s40, true)))).not.toBe(0);
    // The command shows progress on the frames of a video (plain lines when not on a terminal):
    // 200 steps of 0.02 s at 5 fps are frames at 0, 0.2, ..., 4 s, 21 in all.
    const cli = captureCli();
    const mp4 = join(dir, 'episodes.mp4');
    expect(await main(['render', '--trajectories', runDir, '--episode', '0', '--fps', '5', '--width', '64', '--height', '48', '--out', mp4, '--json'], cli.ctx)).toBe(0);
    expect(lastJson<{ frames: number }>(cli.out).frames).toBe(21);
    expect(cli.err.join('')).toMatch(/render episodes\.mp4 100% 21\/21 frames [\d.]+\/s in /);
    const quiet = captureCli();
    expect(await main(['render', '--trajectories', runDir, '--episode', '0', '--fps', '5', '--width', '64', '--height', '48', '--out', mp4, '--force', '--quiet'], quiet.ctx)).toBe(0);
    expect(quiet.err.join('')).not.toMatch(/frames/);
    // Ctrl-C mid-video: exit 130 with one line; the partial video goes, the file already there stays.
    const kept = readFileSync(mp4);
    const { child, stderr, exited } = spawnCli(['render', '--trajectories', runDir, '--episode', '0,1', '--width', '64', '--height', '48', '--out', mp4, '--force']);
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && child.exitCode === null && !/render episodes\.mp4 .*frames/.test(stderr())) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGINT');
    expect(await exited, stderr()).toBe(130);
    expect(stderr()).toContain(`stopped; nothing was written to ${mp4}\n`);
    expect(stderr()).not.toContain('Chromium closed');
    expect(Buffer.compare(readFileSync(mp4), kept)).toBe(0);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });
  it('a VLM frame renderer whose Chromium is killed mid-job starts a new one and draws the same frame', async () => {
    // The Chromium processes this test process has started so far (the suite's shared browser).
    const children = () => new Set(spawnSync('pgrep', ['-P', String(process.pid)], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map(Number));
    const before = children();
    const notes: string[] = [];
    const r = new ChromiumFrameRenderer({ staticDir: site, onRestart: (m) => notes.push(m) });
    const view: VlmView = { width: 64, height: 48, camera: { kind: 'auto' }, hideRobot: false, follow: 'off', shadows: false, grid: true };
    try {
      const seg = pairs[0].a;
      const [x] = await r.render(seg, [5], view);
      const mine = [...children()].filter((p) => !before.has(p));
      expect(mine.length).toBeGreaterThan(0);
      for (const p of mine) process.kill(p, 'SIGKILL');
      const [y] = await r.render(seg, [5], view);
      expect(Buffer.from(y).equals(Buffer.from(x))).toBe(true);
      expect(notes).toHaveLength(1);
      expect(notes[0]).toMatch(new RegExp(`^Chromium went away while rendering ${seg.id} \\(.*\\); starting a new one$`));
    } finally {
      await r.close();
    }
  });
});
