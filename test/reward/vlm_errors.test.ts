/**
 * What a user sees when the VLM server is misconfigured or misbehaves: which failures are
 * retried, and which setting each failed batch names. Every request goes to a stub
 * chat-completions server on loopback (or a fetch that fails like undici does); sleeps are
 * recorded, never waited.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../core/clock.js';
import { Logger } from '../../core/log.js';
import { Rng } from '../../core/rng.js';
import { bodyExcerpt, completeSettingNames, MALFORMED_STREAK, VLM_FLAG_SETTING_NAMES, VLM_SPEC_SETTING_NAMES, VlmTeacher, VlmTeacherError, type VlmTeacherOptions } from '../../reward/teachers/vlm.js';
import type { Pair } from '../../reward/types.js';
import { type FetchFn, isQuotaExhausted, VlmClient, type VlmClientOptions, VlmError } from '../../reward/vlm/client.js';
import { closedAfterEach, pair, SolidRenderer } from '../helpers/vlm_stub.js';

const MODEL = 'test-vlm';
const KEY_ENV = 'PREFRL_TEST_VLM_KEY';



type Reply = { status: number; body: string; headers?: Record<string, string> };

const servers = closedAfterEach();

/** A server answering every request with `reply(n)` (n counts from 0); returns its base URL and the request count. */
async function serve(reply: (n: number, body: { messages: unknown[] }) => Reply): Promise<{ url: string; count: () => number }> {
  let n = 0;
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString('utf8')));
    req.on('end', () => {
      const r = reply(n++, JSON.parse(raw) as { messages: unknown[] });
      res.writeHead(r.status, { 'Content-Type': 'application/json', ...(r.headers ?? {}) });
      res.end(r.body);
    });
  });
  servers.push(server);
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, count: () => n };
}

function completion(text: string): string {
  return JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }], usage: { prompt_tokens: 10, completion_tokens: 2 } });
}

function fakeTime(): { clock: ManualClock; sleeps: number[]; sleep: (ms: number) => Promise<void> } {
  const clock = new ManualClock();
  const sleeps: number[] = [];
  return { clock, sleeps, sleep: async (ms) => void (sleeps.push(ms), clock.advance(ms)) };
}

function client(baseUrl: string, opts: Partial<VlmClientOptions> = {}): { c: VlmClient; sleeps: number[] } {
  const t = fakeTime();
  const c = new VlmClient({ baseUrl, model: MODEL, apiKeyEnv: KEY_ENV, env: { [KEY_ENV]: 'sk-test-key-1234' }, rng: new Rng(3), clock: t.clock, sleep: t.sleep, ...opts });
  return { c, sleeps: t.sleeps };
}

function teacher(c: VlmClient, opts: Partial<VlmTeacherOptions> = {}): VlmTeacher {
  return new VlmTeacher({ goal: 'Reach the target.', client: c, renderer: new SolidRenderer(), view: { width: 16, height: 16 }, pairConcurrency: 1, ...opts });
}

/** The failed batch's message after "... queries failed (...): ". */
async function failure(t: VlmTeacher, pairs: Pair[] = [pair(1, 2)]): Promise<string> {
  const err = await t.label(pairs).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(VlmTeacherError);
  return (err as Error).message.replace(/^.*?\): /, '');
}

const quota429 = (): Reply => ({
  status: 429,
  body: JSON.stringify({ error: { message: 'You exceeded your current quota, please check your plan and billing details.', type: 'insufficient_quota', code: 'insufficient_quota' } }),
});

describe('VLM client: what is retried', () => {
  it('fails at once on a 429 that says the quota is used up (no wait refills it), but retries a plain 429', async () => {
    expect(isQuotaExhausted(quota429().body)).toBe(true);
    expect(isQuotaExhausted('{"error":{"message":"Rate limit reached for requests"}}')).toBe(false);
    const quota = await serve(quota429);
    const q = client(quota.url);
    const err = await q.c.chat([{ role: 'user', content: 'x' }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VlmError);
    expect([(err as VlmError).kind, (err as VlmError).status, (err as VlmError).attempts]).toEqual(['http', 429, 1]);
    expect(quota.count()).toBe(1);
    expect(q.sleeps).toEqual([]);
    expect(q.c.counts()).toMatchObject({ requests: 1, retries: 0, errors: 1 });

    const rate = await serve((n) => (n < 2 ? { status: 429, body: '{"error":{"message":"Rate limit reached"}}' } : { status: 200, body: completion('fine') }));
    const r = client(rate.url, { backoffBaseMs: 1000 });
    const ok = await r.c.chat([{ role: 'user', content: 'x' }]);
    expect(ok.text).toBe('fine');
    expect(ok.attempts).toBe(3);
    expect(r.sleeps).toHaveLength(2);
    // Equal jitter: step 0 waits in [500, 1000), step 1 in [1000, 2000).
    expect(r.sleeps[0]).toBeGreaterThanOrEqual(500);
    expect(r.sleeps[0]).toBeLessThan(1000);
    expect(r.sleeps[1]).toBeGreaterThanOrEqual(1000);
    expect(r.sleeps[1]).toBeLessThan(2000);
  });

  it('does not retry a host name that is not found (a typo), but retries a refused connection', async () => {
    let calls = 0;
    const failing =
      (code: string): FetchFn =>
      async () => {
        calls++;
        throw new TypeError('fetch failed', { cause: Object.assign(new Error(`getaddrinfo ${code} nope.invalid`), { code }) });
      };
    const dns = client('http://nope.invalid:8000/v1', { fetch: failing('ENOTFOUND'), maxRetries: 4 });
    const err = (await dns.c.chat([{ role: 'user', content: 'x' }]).catch((e: unknown) => e)) as VlmError;
    expect([err.kind, err.code, err.attempts, calls]).toEqual(['network', 'ENOTFOUND', 1, 1]);
    expect(err.message).toBe('VLM http://nope.invalid:8000/v1/chat/completions: network error: ENOTFOUND: the host name nope.invalid:8000 is not found (DNS)');
    expect(dns.sleeps).toEqual([]);

    calls = 0;
    const refused = client('http://127.0.0.1:9/v1', { fetch: failing('ECONNREFUSED'), maxRetries: 2 });
    const err2 = (await refused.c.chat([{ role: 'user', content: 'x' }]).catch((e: unknown) => e)) as VlmError;
    expect([err2.kind, err2.code, err2.attempts, calls]).toEqual(['network', 'ECONNREFUSED', 3, 3]);
    expect(refused.sleeps).toHaveLength(2);
    expect(refused.c.counts()).toMatchObject({ requests: 3, retries: 2, errors: 1 });
  });

  it('does not retry https to an http server or an untrusted certificate, and says what each means', async () => {
    const cases: [string, string][] = [
      ['ERR_SSL_WRONG_VERSION_NUMBER', 'the server at gpu:8443 does not speak https (try http://)'],
      ['DEPTH_ZERO_SELF_SIGNED_CERT', "the server's TLS certificate for gpu:8443 is not trusted"],
      ['CERT_HAS_EXPIRED', "the server's TLS certificate for gpu:8443 has expired"],
      ['ERR_TLS_CERT_ALTNAME_INVALID', "the server's TLS certificate is not for gpu:8443"],
    ];
    for (const [code, words] of cases) {
      let calls = 0;
      const { c, sleeps } = client('https://gpu:8443/v1', {
        maxRetries: 3,
        fetch: async () => {
          calls++;
          throw new TypeError('fetch failed', { cause: Object.assign(new Error('tls'), { code }) });
        },
      });
      const err = (await c.chat([{ role: 'user', content: 'x' }]).catch((e: unknown) => e)) as VlmError;
      expect([err.code, err.attempts, calls, sleeps.length]).toEqual([code, 1, 1, 0]);
      expect(err.message).toBe(`VLM https://gpu:8443/v1/chat/completions: network error: ${code}: ${words}`);
    }
  });

  it('refuses the whole endpoint given as the base URL, naming the base URL to give instead', () => {
    for (const bad of ['http://127.0.0.1:8000/v1/chat/completions', 'http://127.0.0.1:8000/v1/chat/completions/']) {
      expect(() => new VlmClient({ baseUrl: bad, model: MODEL, rng: new Rng(0) })).toThrow(
        new RangeError(`VLM client: baseUrl must be the API's base URL, without /chat/completions (appended to it), such as http://127.0.0.1:8000/v1; got "${bad}"`),
      );
    }
    expect(new VlmClient({ baseUrl: 'http://127.0.0.1:8000/v1/', model: MODEL, rng: new Rng(0) }).endpoint).toBe('http://127.0.0.1:8000/v1/chat/completions');
  });

  it('returns a paid answer when the cache cannot be written, warning once, and does not ask again', async () => {
    const s = await serve(() => ({ status: 200, body: completion('fine') }));
    const root = mkdtempSync(join(tmpdir(), 'prefrl-vlm-cache-'));
    try {
      const dir = join(root, 'cache');
      let text = '';
      const { c, sleeps } = client(s.url, { cacheDir: dir, logger: new Logger({ write: (x) => (text += x) }, 'info') });
      // The folder made by the client becomes a file: every write of an entry fails (ENOTDIR/EEXIST).
      rmSync(dir, { recursive: true });
      writeFileSync(dir, 'not a folder');
      const a = await c.chat([{ role: 'user', content: 'one' }]);
      const b = await c.chat([{ role: 'user', content: 'two' }]);
      expect([a.text, a.attempts, b.text, b.attempts]).toEqual(['fine', 1, 'fine', 1]);
      expect(s.count()).toBe(2);
      expect(sleeps).toEqual([]);
      expect(c.counts()).toMatchObject({ requests: 2, retries: 0, errors: 0, cacheWriteErrors: 2, promptTokens: 20, completionTokens: 4 });
      const lines = text.split('\n').filter((l) => l !== '');
      expect(lines).toHaveLength(1);
      expect(lines[0].startsWith(`[prefrl] warn: vlm: cannot write the answer cache in ${dir} (`)).toBe(true);
      expect(lines[0].endsWith('); the answers still count, but a re-run will ask (and pay) for them again: free space or fix the folder')).toBe(true);
      expect(readdirSync(root)).toEqual(['cache']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('says how long a too-long Retry-After is, in seconds, next to the longest wait', async () => {
    const s = await serve(() => ({ status: 429, headers: { 'Retry-After': '3600' }, body: '{"error":{"message":"quota per hour"}}' }));
    const err = (await client(s.url).c.chat([{ role: 'user', content: 'x' }]).catch((e: unknown) => e)) as VlmError;
    expect(err.kind).toBe('retry-after');
    expect(err.message).toBe(
      `VLM ${s.url}/chat/completions: HTTP 429: {"error":{"message":"quota per hour"}}; the server asks to wait 3600 s (Retry-After), longer than the 300 s a request waits at most (maxRetryAfterMs)`,
    );
    expect(s.count()).toBe(1);
  });
});

describe('VLM teacher: a failed batch names the setting to change', () => {
  it('completes partial setting names from the flag set or the spec set', () => {
    expect(completeSettingNames({ baseUrl: '--vlm-base-url', model: '--vlm-model', keyEnv: '--vlm-key-env' })).toEqual(VLM_FLAG_SETTING_NAMES);
    expect(completeSettingNames(VLM_SPEC_SETTING_NAMES)).toEqual(VLM_SPEC_SETTING_NAMES);
    expect(completeSettingNames({ baseUrl: 'url', model: 'm', keyEnv: 'k', timeout: 't' })).toEqual({ ...VLM_SPEC_SETTING_NAMES, baseUrl: 'url', model: 'm', keyEnv: 'k', timeout: 't' });
  });

  const flags = { baseUrl: '--vlm-base-url', model: '--vlm-model', keyEnv: '--vlm-key-env' };

  it('429 after its retries: the rate and concurrency limits and the retries, with their values', async () => {
    const s = await serve(() => ({ status: 429, body: 'slow down' }));
    const msg = await failure(teacher(client(s.url, { maxRetries: 1, concurrency: 2 }).c, { settingNames: flags }));
    expect(msg).toBe(
      `VLM ${s.url}/chat/completions: HTTP 429: slow down (gave up after 2 attempts); the server kept refusing for too many requests: lower --vlm-rpm (now no limit) or --vlm-concurrency (now 2), or raise --vlm-retries (now 1)`,
    );
    expect(s.count()).toBe(2);
  });

  it('429 insufficient_quota: the key variable, and that waiting does not help', async () => {
    const s = await serve(quota429);
    const msg = await failure(teacher(client(s.url).c));
    expect(msg).toMatch(/HTTP 429: .*insufficient_quota.*; the account of the API key in PREFRL_TEST_VLM_KEY has no quota or credit left: waiting does not help; add credit, or use another key \(keyEnv= in --teacher names its variable\)$/);
    expect(s.count()).toBe(1);
  });

  it('a Retry-After too long to wait: go on later', async () => {
    const s = await serve(() => ({ status: 503, headers: { 'Retry-After': '7200' }, body: 'maintenance' }));
    const msg = await failure(teacher(client(s.url).c));
    expect(msg).toMatch(/wait 7200 s \(Retry-After\).*; the server asks for a long pause \(a quota per hour or day, maintenance\): go on later, a re-run asks only the rest$/);
  });

  it('413: the image size (and the strip length when there is one), with the values sent', async () => {
    const s = await serve(() => ({ status: 413, body: 'Request Entity Too Large' }));
    expect(await failure(teacher(client(s.url).c, { settingNames: flags }))).toBe(
      `VLM ${s.url}/chat/completions: HTTP 413: Request Entity Too Large; the request is too large for the server (two images per request): lower --vlm-width and --vlm-height (now 16x16), or raise the server's request size limit`,
    );
    expect(await failure(teacher(client(s.url).c, { frames: { kind: 'strip', frames: 4 } }))).toBe(
      `VLM ${s.url}/chat/completions: HTTP 413: Request Entity Too Large; the request is too large for the server (two images per request): lower width= and height= in --teacher (now 16x16) or frames= in --teacher (now 4), or raise the server's request size limit`,
    );
    expect(s.count()).toBe(2);
  });

  it('400/422: whether the model takes images, naming the model and size settings', async () => {
    const s = await serve(() => ({ status: 400, body: '{"error":{"message":"qwen2.5-7b is not a multimodal model"}}' }));
    expect(await failure(teacher(client(s.url).c, { settingNames: flags }))).toBe(
      `VLM ${s.url}/chat/completions: HTTP 400: {"error":{"message":"qwen2.5-7b is not a multimodal model"}}; the server refused the request as sent (see its message): does --vlm-model (now ${MODEL}) take images, and does its context hold two images of --vlm-width and --vlm-height?`,
    );
    expect(s.count()).toBe(1);
  });

  it('timeouts: the time limit with its value, and the concurrency', async () => {
    const never = createServer(() => undefined);
    servers.push(never);
    await new Promise<void>((res) => never.listen(0, '127.0.0.1', () => res()));
    const url = `http://127.0.0.1:${(never.address() as AddressInfo).port}/v1`;
    const msg = await failure(teacher(client(url, { timeoutMs: 50, maxRetries: 0 }).c, { settingNames: flags }));
    expect(msg).toBe(
      `VLM ${url}/chat/completions: no complete answer within 50 ms (gave up after 1 attempt); if the server is only slow (a large model, a busy GPU), raise --vlm-timeout (now 0.05 s) or lower --vlm-concurrency (now 4)`,
    );
  });

  it('5xx after its retries: the server log and the retries', async () => {
    const s = await serve(() => ({ status: 500, body: 'CUDA out of memory' }));
    const msg = await failure(teacher(client(s.url, { maxRetries: 2 }).c));
    expect(msg).toBe(
      `VLM ${s.url}/chat/completions: HTTP 500: CUDA out of memory (gave up after 3 attempts); the server failed every attempt: see its log (out of GPU memory? the model still loading?); retries= in --teacher (now 2) sets how often a request is retried`,
    );
    expect(s.count()).toBe(3);
  });

  it('network: a host name not found, a refused connection, a connection that broke off', async () => {
    const failing =
      (code: string): FetchFn =>
      async () => {
        throw new TypeError('fetch failed', { cause: Object.assign(new Error(code === 'UND_ERR_SOCKET' ? 'other side closed' : code), { code }) });
      };
    const url = 'http://gpu-box.invalid:8000/v1';
    const one = (code: string) => failure(teacher(client(url, { fetch: failing(code), maxRetries: 0 }).c, { settingNames: flags }));
    expect(await one('ENOTFOUND')).toMatch(/ENOTFOUND: the host name gpu-box.invalid:8000 is not found \(DNS\); check the host name gpu-box.invalid in --vlm-base-url \(a typo\? a machine this one cannot see\?\)$/);
    expect(await one('ECONNREFUSED')).toMatch(/ECONNREFUSED \(gave up after 1 attempt\); check --vlm-base-url: is a server running at http:\/\/gpu-box.invalid:8000\/v1\?$/);
    for (const code of ['EHOSTUNREACH', 'UND_ERR_CONNECT_TIMEOUT']) expect(await one(code)).toMatch(/; check --vlm-base-url: is a server running at http:\/\/gpu-box.invalid:8000\/v1\?$/);
    expect(await one('ERR_SSL_WRONG_VERSION_NUMBER')).toMatch(/ERR_SSL_WRONG_VERSION_NUMBER: the server at gpu-box.invalid:8000 does not speak https \(try http:\/\/\); check --vlm-base-url$/);
    expect(await one('UND_ERR_SOCKET')).toMatch(
      /other side closed \(UND_ERR_SOCKET\) \(gave up after 1 attempt\); the connection to http:\/\/gpu-box.invalid:8000\/v1 broke off: check --vlm-base-url \(http or https\?\) and the server's log$/,
    );
  });
});

describe('VLM teacher: replies that are no label', () => {
  it('quotes the start of the last body when malformed replies stop the batch (a proxy page says where the requests went)', async () => {
    expect(bodyExcerpt(null)).toBe(', an empty body');
    expect(bodyExcerpt('  \n ')).toBe(', an empty body');
    expect(bodyExcerpt('<html>\n  <b>hi</b>\n</html>')).toBe(', the body: "<html> <b>hi</b> </html>"');
    expect(bodyExcerpt('x'.repeat(250))).toBe(`, the body: "${'x'.repeat(200)}..."`);
    const s = await serve(() => ({ status: 200, body: '<html><body>Welcome to nginx!</body></html>' }));
    const msg = await failure(
      teacher(client(s.url).c),
      Array.from({ length: MALFORMED_STREAK }, (_, i) => pair(i, i + 10)),
    );
    expect(msg).toBe(
      `VLM server at ${s.url}: ${MALFORMED_STREAK} replies in a row were not chat completions (last: VLM ${s.url}/chat/completions: the response body is not JSON, the body: "<html><body>Welcome to nginx!</body></html>"); check baseUrl= in --teacher (an OpenAI-compatible chat-completions base URL, often ending in /v1) and model= in --teacher`,
    );
  });

  it('warns when half or more of a batch is no "0", "1" or "-1", quoting the first reason', async () => {
    // Stage 2 (the conversation with the analysis in it) answers in words.
    const s = await serve((_n, body) => ({ status: 200, body: completion(body.messages.length > 2 ? 'Image 1, I think.' : 'Image 0 is further from the target.') }));
    let text = '';
    const logger = new Logger({ write: (x) => (text += x) }, 'info');
    const t = teacher(client(s.url).c, { logger });
    const labels = await t.label([pair(1, 2), pair(3, 4)]);
    expect(labels.map((l) => l.kind)).toEqual(['skip', 'skip']);
    expect(t.counts()).toMatchObject({ unparseable: 2, first: 0, second: 0 });
    expect(text).toBe(
      '[prefrl] warn: VLM replies for 2 of 2 pairs were not "0", "1" or "-1" (stored as skips; first: VLM label unparseable: the label reply is not exactly 0, 1 or -1: "Image 1, I think"): the model may not follow the answer format; try another model, or check its chat template\n',
    );
  });

  it('says when an unparseable label was cut at the token limit (finish_reason "length"), and only then', async () => {
    const reply = (text: string, finish: string) =>
      JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: finish }], usage: { prompt_tokens: 10, completion_tokens: 16 } });
    const s = await serve((n, body) => ({
      status: 200,
      body: body.messages.length === 2 ? completion('analysis') : n === 1 ? reply('<think>Let me compare the two images', 'length') : reply('Image 1 is better', 'stop'),
    }));
    const t = teacher(client(s.url).c, { labelMaxTokens: 16 });
    const labels = await t.label([pair(1, 2), pair(3, 4)]);
    expect(labels.map((l) => (l.kind === 'skip' ? l.reason : l.kind))).toEqual([
      'VLM label unparseable: the label reply is not exactly 0, 1 or -1: "<think>Let me compare the two images"; cut at the token limit of 16 (finish_reason "length"): raise labelMaxTokens= in --teacher',
      'VLM label unparseable: the label reply is not exactly 0, 1 or -1: "Image 1 is better"',
    ]);
  });

  it('stays quiet when fewer than half of the pairs are unparseable', async () => {
    // Pairs are asked one at a time (pairConcurrency 1): requests 0-1 are pair 1, 2-3 pair 2, 4-5 pair 3.
    const s = await serve((n, body) => ({ status: 200, body: completion(body.messages.length === 2 ? 'analysis' : n === 1 ? 'maybe' : '0') }));
    let text = '';
    const t = teacher(client(s.url).c, { logger: new Logger({ write: (x) => (text += x) }, 'info') });
    const labels = await t.label([pair(1, 2), pair(3, 4), pair(5, 6)]);
    expect(labels.map((l) => l.kind)).toEqual(['skip', 'preference', 'preference']);
    expect(text).toBe('');
  });
});
