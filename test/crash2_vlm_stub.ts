/**
 * The OpenAI-compatible stub the crash2 VLM tests stop commands against (test/crash2_vlm_*.test.ts):
 * it answers every question the same way each time, counts what it is asked, and can hold a
 * question unanswered (the moment the test stops the command).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { expect } from 'vitest';
import { sha256 } from '../core/hash.js';
import { LabelStore } from '../reward/store.js';

/** A label store's labels as `pair teacher kind probFirst`, sorted (ids and times differ between runs). */
export function labelsOf(store: string): string[] {
  const s = LabelStore.open(store, { create: false });
  try {
    return s
      .labels()
      .map((l) => `${l.pairId} ${l.teacher} ${l.kind} ${'probFirst' in l ? String(l.probFirst) : '-'}`)
      .sort();
  } finally {
    s.close();
  }
}

/** The keys of every answer cache entry in `cache` (a vlm_cache folder; not those kept under uncut/): each file must be whole JSON named by its key. */
export function cacheEntries(cache: string): string[] {
  const out: string[] = [];
  for (const d of readdirSync(cache)) {
    if (d === 'uncut') continue;
    for (const f of readdirSync(join(cache, d))) {
      expect(f, `${d}/${f}: a temporary file left in the cache`).toMatch(/^[0-9a-f]{64}\.json$/);
      const e = JSON.parse(readFileSync(join(cache, d, f), 'utf8')) as { key: string };
      expect(e.key).toBe(f.slice(0, -'.json'.length));
      out.push(e.key);
    }
  }
  return out;
}

/**
 * The stub: stage 1 (no assistant message yet) gets an analysis, stage 2 an answer, 0, 1 or -1,
 * chosen by the request's hash, so the same question always gets the same answer. `asked`: the
 * hashes of the requests, in order; from the `holdAt`-th request on, none is answered (the test
 * stops the command then); `reached` resolves at that request.
 */
export class Stub {
  readonly asked: string[] = [];
  holdAt = Number.POSITIVE_INFINITY;
  private reachedResolve: () => void = () => {};
  reached = new Promise<void>((r) => (this.reachedResolve = r));
  private readonly held: ServerResponse[] = [];
  readonly server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const h = sha256(body);
      this.asked.push(h);
      if (this.asked.length >= this.holdAt) {
        this.held.push(res);
        if (this.asked.length === this.holdAt) this.reachedResolve();
        return;
      }
      const stage2 = (JSON.parse(body) as { messages: { role: string }[] }).messages.some((m) => m.role === 'assistant');
      const content = stage2 ? ['0', '1', '-1'][Number.parseInt(h.slice(0, 8), 16) % 3] : `Analysis ${h.slice(0, 6)}: the arm moves.`;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ choices: [{ message: { role: 'assistant', content }, finish_reason: 'stop' }], usage: { prompt_tokens: 7, completion_tokens: 2, total_tokens: 9 } }));
    });
  });

  /** Listen on a free loopback port; resolves to the base URL (http://127.0.0.1:<port>/v1). */
  async listen(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  /** Answer from now on, and forget what was asked. */
  reset(): void {
    this.holdAt = Number.POSITIVE_INFINITY;
    this.asked.length = 0;
    for (const r of this.held.splice(0)) r.destroy();
    this.reached = new Promise<void>((r) => (this.reachedResolve = r));
  }

  async close(): Promise<void> {
    for (const r of this.held.splice(0)) r.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

