/**
 * Shared fixtures of the viewer tests: pairs from short rollouts, a scripted WebSocket page, the
 * server tests' folder of stores and servers closed after each test, PNG decoding.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll } from 'vitest';
import WebSocket from 'ws';
import { makeFolder } from '../../core/paths.js';
import { Rng } from '../../core/rng.js';
import { type EnvConfig, makeEnv } from '../../envs/registry.js';
import { randomPolicy, rollout } from '../../envs/rollout.js';
import { cutSegments, makePair } from '../../reward/segments.js';
import { LabelStore } from '../../reward/store.js';
import type { Pair } from '../../reward/types.js';
import { loadViewerEnv, type ViewerEnv } from '../../viewer/env_info.js';
import { parseServerMessage, type ServerMessage } from '../../viewer/protocol.js';
import { ViewerServer } from '../../viewer/server.js';

/**
 * A stand-in for the built viewer page: `folder` made (if need be) with an index.html, for the
 * server tests that speak WebSocket and never load the page. Returns the folder.
 */
export function stubSite(folder: string): string {
  makeFolder(folder);
  writeFileSync(join(folder, 'index.html'), '<!doctype html><title>t</title>');
  return folder;
}

/** Pairs of consecutive segments of random-policy rollouts. */
export async function makePairs(envId: string | EnvConfig, opts: { episodes?: number; steps?: number; length?: number; seed?: number } = {}): Promise<Pair[]> {
  const env = await makeEnv(envId);
  try {
    const trajs = rollout(env, randomPolicy(env.spec, new Rng(opts.seed ?? 1)), { episodes: opts.episodes ?? 2, seed: opts.seed ?? 1, maxSteps: opts.steps ?? 40 });
    const segs = cutSegments(trajs, { length: opts.length ?? 10 });
    const pairs: Pair[] = [];
    for (let i = 0; i + 1 < segs.length; i += 2) pairs.push(makePair(segs[i], segs[i + 1]));
    return pairs;
  } finally {
    env.dispose();
  }
}

/**
 * A test file's folder `prefrl-<prefix>-*` holding labels.sqlite with two toy-reach pairs (round
 * 0; 10-step clips of one 40-step episode), made before its tests and removed after them: the
 * store the tests that start `prefrl serve` serve. The getters give the folder and the store.
 */
export function useTwoPairStore(prefix: string): { readonly dir: string; readonly storePath: string } {
  let dir = '';
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), `prefrl-${prefix}-`));
    const store = LabelStore.open(join(dir, 'labels.sqlite'));
    store.putPairs((await makePairs('toy-reach', { episodes: 1, steps: 40, length: 10 })).slice(0, 2), { round: 0 });
    store.close();
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return {
    get dir() {
      return dir;
    },
    get storePath() {
      return join(dir, 'labels.sqlite');
    },
  };
}

/** What serverFixture gives a test file; the fields are set once its beforeAll has run. */
export interface ServerFixture {
  /** The file's temporary folder (removed after its last test). */
  readonly dir: string;
  /** A stand-in page folder in `dir` (stubSite). */
  readonly site: string;
  /** toy-reach, as the server describes it to pages. */
  readonly env: ViewerEnv;
  /** toy-reach pairs: 2 episodes of 50 steps cut into 10-step clips (5 pairs). */
  readonly pairs: Pair[];
  /** A new store in `dir`, closed after the test (after its servers). */
  newStore(): LabelStore;
  /** A viewer server on `store` (polling every 50 ms unless `opts` says otherwise), closed after the test. */
  start(store: LabelStore, opts?: Partial<Parameters<typeof ViewerServer.start>[0]>): Promise<ViewerServer>;
  /** Close `thing` after the test, before the stores and whatever was given here earlier (a server, a human teacher). */
  closeFirst<T extends { close(): Promise<void> | void }>(thing: T): T;
  /** Close `thing` after the test, with the stores (a second handle on a store). */
  closeLast<T extends { close(): Promise<void> | void }>(thing: T): T;
}

/**
 * The set-up the server test files share (server.test.ts, server_done.test.ts, ...): registers, in
 * the calling file, a beforeAll that makes a folder `prefrl-<prefix>-*`, a stand-in page in it (and
 * whatever `addToSite` writes there) and toy-reach pairs (makePairs with `pairOptions`); an
 * afterEach that closes what the test opened through the fixture (servers first, then stores); and
 * an afterAll that removes the folder.
 */
export function serverFixture(
  prefix: string,
  addToSite?: (site: string, dir: string) => void,
  pairOptions: { episodes: number; steps: number; length: number } = { episodes: 2, steps: 50, length: 10 },
): ServerFixture {
  let dir = '';
  let site = '';
  let env: ViewerEnv | undefined;
  let pairs: Pair[] = [];
  let n = 0;
  const open: { close(): Promise<void> | void }[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), `prefrl-${prefix}-`));
    site = stubSite(join(dir, 'site'));
    addToSite?.(site, dir);
    env = await loadViewerEnv({ id: 'toy-reach' });
    pairs = await makePairs('toy-reach', pairOptions);
  });
  afterEach(async () => {
    for (const o of open.splice(0)) await o.close();
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const fx: ServerFixture = {
    get dir() {
      return dir;
    },
    get site() {
      return site;
    },
    get env() {
      if (!env) throw new Error('serverFixture: env is read before its beforeAll ran');
      return env;
    },
    get pairs() {
      return pairs;
    },
    newStore() {
      return fx.closeLast(LabelStore.open(join(dir, `labels-${n++}.sqlite`)));
    },
    async start(store, opts = {}) {
      return fx.closeFirst(await ViewerServer.start({ store, env: fx.env, port: 0, staticDir: site, pollMs: 50, ...opts }));
    },
    closeFirst(thing) {
      open.unshift(thing);
      return thing;
    },
    closeLast(thing) {
      open.push(thing);
      return thing;
    },
  };
  return fx;
}

/** A scripted page: sends raw text or objects, and awaits server messages by type. */
export class TestClient {
  readonly ws: WebSocket;
  readonly received: ServerMessage[] = [];
  closeCode: number | null = null;
  private waiters: { type: string; resolve: (m: ServerMessage) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }[] = [];
  private cursor = 0;

  constructor(url: string, headers: Record<string, string> = {}) {
    this.ws = new WebSocket(url.replace(/^http/, 'ws').replace(/\/?(\?.*)?$/, '/ws'), { headers });
    this.ws.on('message', (data) => {
      const r = parseServerMessage(String(data));
      if (!r.ok) throw new Error(`server sent an invalid message: ${r.message}`);
      this.received.push(r.msg);
      this.flush();
    });
    this.ws.on('close', (code) => {
      this.closeCode = code;
      for (const w of this.waiters) w.reject(new Error(`socket closed (${code}) while waiting for ${w.type}`));
      this.waiters = [];
    });
    this.ws.on('error', () => undefined);
  }

  static async open(url: string, headers: Record<string, string> = {}): Promise<TestClient> {
    const c = new TestClient(url, headers);
    await new Promise<void>((res, rej) => {
      c.ws.once('open', () => res());
      c.ws.once('error', rej);
      c.ws.once('unexpected-response', (_req, resp) => rej(new Error(`HTTP ${resp.statusCode}`)));
    });
    return c;
  }

  private flush(): void {
    for (const w of [...this.waiters]) {
      const i = this.received.findIndex((m, k) => k >= this.cursor && m.type === w.type);
      if (i >= 0) {
        this.cursor = i + 1;
        clearTimeout(w.timer);
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(this.received[i]);
      }
    }
  }

  send(msg: unknown): void {
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  }

  /** The next message of this type after the last one awaited (in arrival order). */
  next<T extends ServerMessage['type']>(type: T, timeoutMs = 10_000): Promise<Extract<ServerMessage, { type: T }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${type} within ${timeoutMs} ms; got ${this.received.map((m) => m.type).join(', ')}`)), timeoutMs);
      this.waiters.push({ type, resolve: resolve as (m: ServerMessage) => void, reject, timer });
      this.flush();
    });
  }

  async hello(extra: Record<string, unknown> = {}): Promise<Extract<ServerMessage, { type: 'welcome' }>> {
    this.send({ type: 'hello', v: 1, ...extra });
    return this.next('welcome');
  }

  /**
   * Ask for the next pair and answer it (next, pair, answer, ack); returns the pair. `choice`
   * may depend on the pair shown; `leftIs` sends the layout the page showed with the answer.
   */
  async answerNext(a: {
    name: string;
    labelId: string;
    choice: string | ((p: Extract<ServerMessage, { type: 'pair' }>) => string);
    responseMs: number;
    leftIs?: boolean;
  }): Promise<Extract<ServerMessage, { type: 'pair' }>> {
    this.send({ type: 'next' });
    const p = await this.next('pair');
    const choice = typeof a.choice === 'function' ? a.choice(p) : a.choice;
    this.send({ type: 'answer', labelId: a.labelId, pairId: p.pairId, name: a.name, choice, responseMs: a.responseMs, ...(a.leftIs ? { leftIs: p.leftIs } : {}) });
    await this.next('ack');
    return p;
  }

  closed(): Promise<number> {
    if (this.closeCode !== null) return Promise.resolve(this.closeCode);
    return new Promise((res) => this.ws.once('close', (code) => res(code)));
  }

  close(): void {
    this.ws.close();
  }
}

/** Decode an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes) to RGBA pixels. */
export function decodePng(png: Buffer): { width: number; height: number; rgba: Uint8Array } {
  if (png.readUInt32BE(0) !== 0x89504e47) throw new Error('not a PNG');
  let o = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (o < png.length) {
    const len = png.readUInt32BE(o);
    const type = png.toString('latin1', o + 4, o + 8);
    const body = png.subarray(o + 8, o + 8 + len);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      const depth = body[8];
      const colour = body[9];
      if (depth !== 8 || body[12] !== 0 || (colour !== 6 && colour !== 2)) throw new Error(`unsupported PNG (depth ${depth}, colour ${colour}, interlace ${body[12]})`);
      channels = colour === 6 ? 4 : 3;
    } else if (type === 'IDAT') idat.push(body);
    o += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const out = new Uint8Array(width * height * 4);
  const prev = new Uint8Array(stride);
  const cur = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? cur[i - channels] : 0;
      const b = prev[i];
      const c = i >= channels ? prev[i - channels] : 0;
      let v = line[i];
      if (f === 1) v += a;
      else if (f === 2) v += b;
      else if (f === 3) v += (a + b) >> 1;
      else if (f === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      cur[i] = v & 255;
    }
    for (let x = 0; x < width; x++) {
      for (let k = 0; k < 3; k++) out[4 * (y * width + x) + k] = cur[x * channels + k];
      out[4 * (y * width + x) + 3] = channels === 4 ? cur[x * channels + 3] : 255;
    }
    prev.set(cur);
  }
  return { width, height, rgba: out };
}

/** Pixels whose colour is the reacher / cheetah orange (robot links), counted in RGBA data. */
export function countOrange(rgba: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < rgba.length; i += 4) {
    const r = rgba[i];
    const g = rgba[i + 1];
    const b = rgba[i + 2];
    if (r > 150 && r > g + 35 && g > b + 25) n++;
  }
  return n;
}

/** Pixels that differ from the colour of the top-left corner (the background). */
export function countNonBackground(rgba: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < rgba.length; i += 4) {
    if (Math.abs(rgba[i] - rgba[0]) + Math.abs(rgba[i + 1] - rgba[1]) + Math.abs(rgba[i + 2] - rgba[2]) > 24) n++;
  }
  return n;
}
