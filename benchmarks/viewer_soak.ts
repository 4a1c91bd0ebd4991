/**
 * A long soak of the labelling server (viewer/server.ts) in one process: pages that answer, undo,
 * rename, drop their connection, stop answering pings, send junk, never say hello or never finish
 * their upgrade, `--cycles` of them, 8 at a time, the kinds drawn with `--seed`. At each
 * checkpoint (every `--every` pages) it waits until the server holds nothing for pages
 * (ViewerServer.stats() all 0, no lease in the store), runs the garbage collector twice, and
 * prints the heap then: flat heap over the checkpoints means nothing grows with the pages served.
 * Counts, not timings: the heap after a full collection does not depend on the machine's speed.
 *
 *   node --expose-gc --import tsx benchmarks/viewer_soak.ts [--cycles 20000] [--every 2000] [--seed 0] [--page-limit 10]
 *
 * `--page-limit` is the seconds a page's life may take before the soak stops with an error naming
 * it (raise it on a machine busy with other work, where a page can wait that long for the CPU).
 *
 * Output: benchmarks/results/viewer_soak.txt (the table printed; the server and the pages share
 * the process, so the heap holds both).
 */
import './script_errors.js';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import WebSocket from 'ws';
import { Logger } from '../core/log.js';
import { Rng } from '../core/rng.js';
import { makeEnv } from '../envs/registry.js';
import { randomPolicy, rollout } from '../envs/rollout.js';
import { LabelStore } from '../reward/store.js';
import { cutSegments, makePair } from '../reward/segments.js';
import type { Pair } from '../reward/types.js';
import { loadViewerEnv } from '../viewer/env_info.js';
import { ViewerServer } from '../viewer/server.js';

const SCRIPT = 'viewer_soak.ts';
const usage = 'usage: node --expose-gc --import tsx benchmarks/viewer_soak.ts [--cycles 20000] [--every 2000] [--seed 0] [--page-limit 10]\n';
const argv = process.argv.slice(2);
function opt(name: string, def: number, min: number): number {
  const i = argv.indexOf(`--${name}`);
  const text = i >= 0 ? (argv[i + 1] ?? '') : String(def);
  const v = Number(text);
  if (text.trim() === '' || !Number.isInteger(v) || v < min) {
    process.stderr.write(`${SCRIPT}: --${name}: expected an integer >= ${min}, got ${JSON.stringify(text)}\n${usage}`);
    process.exit(2);
  }
  return v;
}
for (const a of argv) {
  if (a.startsWith('--') && !['--cycles', '--every', '--seed', '--page-limit'].includes(a)) {
    process.stderr.write(`${SCRIPT}: unknown option ${a}\n${usage}`);
    process.exit(2);
  }
}
const cycles = opt('cycles', 20_000, 8);
const every = opt('every', 2000, 8);
const seed = opt('seed', 0, 0);
const pageLimitS = opt('page-limit', 10, 1);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  process.stderr.write(`${SCRIPT}: run with node --expose-gc (the heap is read after a full collection)\n${usage}`);
  process.exit(2);
}

/** A page: sends JSON, awaits server messages by type (in arrival order). */
class Page {
  readonly ws: WebSocket;
  private got: { type: string; [k: string]: unknown }[] = [];
  private waiting: { type: string; res: (m: { type: string; [k: string]: unknown }) => void; rej: (e: Error) => void }[] = [];
  private constructor(url: string) {
    this.ws = new WebSocket(url);
    this.ws.on('message', (d) => {
      this.got.push(JSON.parse(String(d)) as { type: string });
      this.flush();
    });
    this.ws.on('close', (code, reason) => {
      for (const w of this.waiting.splice(0)) w.rej(new Error(`closed (${code} ${String(reason)}) while waiting for ${w.type}`));
    });
    this.ws.on('error', () => undefined);
  }
  static open(url: string): Promise<Page> {
    const p = new Page(url);
    return new Promise((res, rej) => {
      p.ws.once('open', () => res(p));
      p.ws.once('error', rej);
    });
  }
  private flush(): void {
    for (const w of [...this.waiting]) {
      const i = this.got.findIndex((m) => m.type === w.type);
      if (i < 0) continue;
      const [m] = this.got.splice(i, 1);
      this.got.splice(0, i); // what came before it was not awaited
      this.waiting.splice(this.waiting.indexOf(w), 1);
      w.res(m);
    }
  }
  send(msg: unknown): void {
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  }
  next(type: string): Promise<{ type: string; [k: string]: unknown }> {
    return new Promise((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`no ${type} within ${pageLimitS} s (got ${this.got.map((m) => m.type).join(', ')})`)), pageLimitS * 1000);
      this.waiting.push({ type, res: (m) => (clearTimeout(timer), res(m)), rej: (e) => (clearTimeout(timer), rej(e)) });
      this.flush();
    });
  }
}

async function until(ok: () => boolean, what: () => string): Promise<void> {
  for (let i = 0; i < 3000; i++) {
    if (ok()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`not back to idle within 30 s: ${what()}`);
}

const dir = mkdtempSync(join(tmpdir(), 'prefrl-viewer-soak-'));
try {
  const site = join(dir, 'site');
  mkdirSync(site);
  writeFileSync(join(site, 'index.html'), '<!doctype html><title>t</title>');
  const viewerEnv = await loadViewerEnv({ id: 'toy-reach' });
  const env = await makeEnv('toy-reach');
  // Each of the 200 names answers at most one page in 200, each time a pair it has not answered:
  // enough pairs that no name runs out (toy-reach's episodes give 5 segments of 10 steps, i.e. 2.5
  // pairs), else its next page would wait for a pair that never comes.
  const pairsNeeded = Math.ceil(cycles / 200) + 4;
  const episodes = Math.max(8, Math.ceil(pairsNeeded / 2.5));
  const segs = cutSegments(rollout(env, randomPolicy(env.spec, new Rng(seed)), { episodes, seed, maxSteps: 60 }), { length: 10 });
  env.dispose();
  const pairs: Pair[] = [];
  for (let i = 0; i + 1 < segs.length; i += 2) pairs.push(makePair(segs[i], segs[i + 1]));
  const path = join(dir, 'soak.sqlite');
  const store = LabelStore.open(path);
  if (pairs.length < pairsNeeded) throw new Error(`${pairs.length} pairs from ${episodes} episodes, fewer than the ${pairsNeeded} the soak needs`);
  store.putPairs(pairs);
  const s = await ViewerServer.start({ store, env: viewerEnv, port: 0, staticDir: site, pollMs: 20, overlap: 1_000_000, heartbeatMs: 1000, logger: new Logger() });
  const url = s.url.replace(/^http/, 'ws').replace(/\/?$/, '/ws');
  const reader = new Database(path, { readonly: true });
  const leases = () => (reader.prepare('SELECT COUNT(*) AS n FROM leases').get() as { n: number }).n;
  const paused: WebSocket[] = [];
  const kinds = ['answer', 'answer_undo', 'drop_holding', 'rename_drop', 'idle_drop', 'junk', 'no_hello_drop', 'bad_version', 'half_upgrade', 'healthz'] as const;
  const rng = new Rng(seed).fork('viewer-soak');
  let stored = 0;
  let cut = 0;

  /** `p`, or an error naming `what` after --page-limit seconds (a step that never finishes is reported, not waited on forever). */
  const within = <T>(what: string, p: Promise<T>): Promise<T> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    return Promise.race([p, new Promise<T>((_, rej) => (timer = setTimeout(() => rej(new Error(`${what}: not done within ${pageLimitS} s; server ${JSON.stringify(s.stats())}`)), pageLimitS * 1000)))]).finally(() => clearTimeout(timer));
  };
  const life = (kind: (typeof kinds)[number], i: number): Promise<void> => within(`${kind} page ${i}`, lifeOf(kind, i));
  const lifeOf = async (kind: (typeof kinds)[number], i: number): Promise<void> => {
    // 200 people; the 8 pages of a batch are 8 different people (two tabs of one person answering
    // the same pair get a conflict, not an ack: the server's rule, not what this soak measures).
    const name = `person ${i % 200}`;
    if (kind === 'half_upgrade') {
      await new Promise<void>((res) => {
        const sock = connect(s.boundPort, '127.0.0.1', () => {
          sock.write(`GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${s.boundPort}\r\nUpgrade: websocket\r\n`);
          setImmediate(() => (sock.destroy(), res()));
        });
        sock.on('error', () => res());
      });
      return;
    }
    if (kind === 'healthz') {
      await new Promise<void>((res, rej) => {
        const req = request({ host: '127.0.0.1', port: s.boundPort, path: '/healthz', agent: false }, (r) => r.resume().on('end', () => res()));
        req.on('error', rej);
        req.end();
      });
      return;
    }
    const p = await Page.open(url);
    const id = `soak-label-${i}`;
    const answer = async (): Promise<string> => {
      p.send({ type: 'next' });
      const pair = await p.next('pair');
      p.send({ type: 'answer', labelId: id, pairId: pair.pairId, name, choice: 'left', responseMs: 800 });
      await p.next('ack');
      return pair.pairId as string;
    };
    switch (kind) {
      case 'answer':
        p.send({ type: 'hello', v: 1, name });
        await p.next('welcome');
        await answer();
        stored++;
        p.ws.close();
        return;
      case 'answer_undo':
        p.send({ type: 'hello', v: 1, name });
        await p.next('welcome');
        await answer();
        p.send({ type: 'undo', labelId: id, name });
        await p.next('undone');
        p.ws.terminate();
        return;
      case 'drop_holding':
      case 'rename_drop':
        p.send({ type: 'hello', v: 1, name });
        await p.next('welcome');
        p.send({ type: 'next' });
        await p.next('pair');
        if (kind === 'rename_drop') {
          p.send({ type: 'set_name', name: `${name} b` });
          await p.next('progress');
        }
        p.ws.terminate();
        return;
      case 'idle_drop':
        p.send({ type: 'hello', v: 1 });
        await p.next('welcome');
        p.ws.pause();
        paused.push(p.ws);
        return;
      case 'junk':
        p.send('{"type":');
        p.send({ type: 'next' });
        p.ws.send(Buffer.from([0, 1]), { binary: true });
        p.send(`{"type":"hello","v":1,"name":"${'x'.repeat(70_000)}"}`);
        for (let k = 0; k < 4; k++) await p.next('error');
        p.ws.terminate();
        return;
      case 'no_hello_drop':
        p.ws.terminate();
        return;
      case 'bad_version':
        p.send({ type: 'hello', v: 99 });
        await p.next('error');
        p.ws.close();
        return;
    }
  };

  const mib = (n: number) => (n / 2 ** 20).toFixed(2);
  const lines: string[] = [];
  const say = (line: string) => {
    lines.push(line);
    process.stdout.write(`${line}\n`);
  };
  say(`viewer soak: ${cycles} pages (8 at a time) of 200 names on ${pairs.length} pairs, kinds drawn with seed ${seed}, checkpoint every ${every}; node ${process.version}`);
  say('pages   heapUsed MiB  external MiB  arrayBuffers MiB  labels  sessions sockets leases');
  const heaps: number[] = [];
  for (let done = 0; done < cycles; ) {
    const n = Math.min(8, cycles - done);
    const batch: Promise<void>[] = [];
    for (let k = 0; k < n; k++) {
      // A page that stops answering pings holds a session until the second ping (2 s here): one in
      // 50 pages at most, so they do not fill the server's 64 sessions while they wait.
      const drawn = kinds[rng.int(kinds.length)];
      const kind = drawn === 'idle_drop' && rng.int(5) !== 0 ? 'drop_holding' : drawn;
      batch.push(
        life(kind, done + k).catch((e: Error) => {
          // A page the server cut off (a reading page that missed two 1 s pings while the machine
          // was busy): counted, not fatal; the soak is about what the server keeps afterwards.
          if (!/closed \(1006/.test(e.message)) throw e;
          cut++;
        }),
      );
    }
    await Promise.all(batch);
    done += n;
    if (Math.floor(done / every) > Math.floor((done - n) / every) || done === cycles) {
      await until(
        () => s.stats().sessions === 0 && s.stats().sockets === 0 && leases() === 0,
        () => `${JSON.stringify(s.stats())}, ${leases()} leases`,
      );
      for (const ws of paused.splice(0)) ws.terminate();
      await new Promise((r) => setTimeout(r, 50));
      gc();
      gc();
      const m = process.memoryUsage();
      heaps.push(m.heapUsed);
      const st = s.stats();
      say(`${String(done).padStart(6)}  ${mib(m.heapUsed).padStart(12)}  ${mib(m.external).padStart(12)}  ${mib(m.arrayBuffers).padStart(16)}  ${String(store.labels().length).padStart(6)}  ${String(st.sessions).padStart(8)} ${String(st.sockets).padStart(7)} ${String(leases()).padStart(6)}`);
    }
  }
  say(`heap at the checkpoints: min ${mib(Math.min(...heaps))} MiB, max ${mib(Math.max(...heaps))} MiB, last - first ${mib(heaps[heaps.length - 1] - heaps[0])} MiB; labels stored ${stored} (answers kept); pages cut off by the server while waiting: ${cut}`);
  reader.close();
  await s.close();
  store.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
