/**
 * Failures as real OpenAI-compatible servers send them: error bodies of each shape (OpenAI,
 * OpenRouter and llama.cpp's {"error": {...}}, LM Studio's {"error": "..."}, vLLM's top-level
 * "message", FastAPI's "detail", a proxy's HTML page) on each 4xx, errors carried by a 200,
 * Retry-After, the base URL with or without /v1, a connection cut in the middle of a body. Which
 * ones are retried, and what the failed batch says. Every request goes to a stub on loopback;
 * sleeps are recorded on a manual clock, never waited.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { Rng } from '../core/rng.js';
import { VlmTeacher, VlmTeacherError } from '../reward/teachers/vlm.js';
import type { Pair } from '../reward/types.js';
import { describeErrorBody, errorInAnswer, errorMessageOf, VlmClient, type VlmClientOptions, VlmError } from '../reward/vlm/client.js';
import { closedAfterEach, seg, SolidRenderer } from './helpers/vlm_stub.js';

const MODEL = 'stub-vl';
const KEY_ENV = 'PREFRL_TEST_VLM_KEY';
const FLAGS = { baseUrl: '--vlm-base-url', model: '--vlm-model', keyEnv: '--vlm-key-env' };



type Reply = { status: number; body: string; type?: string; headers?: Record<string, string> } | 'cut';

const servers = closedAfterEach();

/** A stub answering request n (from 0) at `path` with `reply(n, path)`; its origin, and the paths asked. */
async function serve(reply: (n: number, path: string) => Reply): Promise<{ origin: string; url: string; paths: string[] }> {
  const paths: string[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const r = reply(paths.length, req.url ?? '');
      paths.push(`${req.method} ${req.url}`);
      if (r === 'cut') {
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '400' });
        res.write('{"choices":[{"message":{"content":"');
        setTimeout(() => res.socket?.destroy(), 10);
        return;
      }
      res.writeHead(r.status, { 'Content-Type': r.type ?? 'application/json', ...(r.headers ?? {}) });
      res.end(r.body);
    });
  });
  servers.push(server);
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { origin, url: `${origin}/v1`, paths };
}

const ok = (text: string): Reply => ({ status: 200, body: JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }], usage: { prompt_tokens: 4, completion_tokens: 1 } }) });

function client(baseUrl: string, opts: Partial<VlmClientOptions> = {}): { c: VlmClient; sleeps: number[]; clock: ManualClock } {
  const clock = new ManualClock();
  const sleeps: number[] = [];
  const c = new VlmClient({ baseUrl, model: MODEL, apiKeyEnv: KEY_ENV, env: { [KEY_ENV]: 'sk-test-key-5678' }, rng: new Rng(2), clock, sleep: async (ms) => void (sleeps.push(ms), clock.advance(ms)), maxRetries: 3, ...opts });
  return { c, sleeps, clock };
}

/** What a failed one-pair batch says after "... queries failed (...): ". */
async function failure(c: VlmClient): Promise<string> {
  const t = new VlmTeacher({ goal: 'Reach the target.', client: c, renderer: new SolidRenderer(), view: { width: 16, height: 16 }, settingNames: FLAGS });
  const pair: Pair = { id: 'p', a: seg(1), b: seg(2) };
  const err = await t.label([pair]).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(VlmTeacherError);
  return (err as Error).message.replace(/^.*?\): /, '');
}

const ASK = [{ role: 'user' as const, content: 'x' }];

describe('error bodies of real servers on 4xx: never retried, each message names what to change', () => {
  const NGINX_413 = '<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n<body>\r\n<center><h1>413 Request Entity Too Large</h1></center>\r\n<hr><center>nginx/1.24.0</center>\r\n</body>\r\n</html>\r\n';
  const VLLM_422 = JSON.stringify({
    detail: [
      { type: 'missing', loc: ['body', 'model'], msg: 'Field required', input: { messages: [{ role: 'user', content: 'a long prompt that the server echoes back in full '.repeat(3) }] } },
      { type: 'url_parsing', loc: ['body', 'messages', 1, 'content', 2, 'image_url', 'url'], msg: 'Input should be a valid URL', input: 'data:' },
    ],
  });

  const cases: { name: string; reply: Reply; base?: (origin: string) => string; want: (url: string, origin: string) => string }[] = [
    {
      name: '400, OpenAI shape',
      reply: { status: 400, body: '{"error":{"message":"Invalid image data","type":"invalid_request_error","param":null,"code":null}}' },
      want: (u) =>
        `VLM ${u}/chat/completions: HTTP 400: {"error":{"message":"Invalid image data","type":"invalid_request_error","param":null,"code":null}}; the server refused the request as sent (see its message): does --vlm-model (now ${MODEL}) take images, and does its context hold two images of --vlm-width and --vlm-height?`,
    },
    {
      name: '401, LM Studio shape (error as a string)',
      reply: { status: 401, body: '{"error":"Unauthorized"}' },
      want: (u) => `VLM ${u}/chat/completions: HTTP 401: {"error":"Unauthorized"}; the server refused the API key in the environment variable ${KEY_ENV} (--vlm-key-env names the variable)`,
    },
    {
      name: '402, OpenRouter out of credits',
      reply: { status: 402, body: '{"error":{"code":402,"message":"Insufficient credits"}}' },
      want: (u) =>
        `VLM ${u}/chat/completions: HTTP 402: {"error":{"code":402,"message":"Insufficient credits"}}; the account of the API key in ${KEY_ENV} has no credit left (402 Payment Required): waiting does not help; add credit, or use another key (--vlm-key-env names its variable)`,
    },
    {
      name: '403, OpenRouter moderation: the key, or the model it may not use',
      reply: { status: 403, body: '{"error":{"code":403,"message":"Your chosen model requires moderation and your input was flagged"}}' },
      want: (u) =>
        `VLM ${u}/chat/completions: HTTP 403: {"error":{"code":403,"message":"Your chosen model requires moderation and your input was flagged"}}; the server refused the API key in the environment variable ${KEY_ENV}, or does not let it use --vlm-model (now ${MODEL}) (--vlm-key-env names the variable)`,
    },
    {
      name: '404, vLLM model not found (top-level message)',
      reply: { status: 404, body: '{"object":"error","message":"The model `stub-vl` does not exist.","type":"NotFoundError","param":null,"code":404}' },
      want: (u) =>
        `VLM ${u}/chat/completions: HTTP 404: {"object":"error","message":"The model \`stub-vl\` does not exist.","type":"NotFoundError","param":null,"code":404}; check --vlm-base-url (now ${u}; the server's base URL, often ending in /v1) and --vlm-model (now ${MODEL}; a model the server serves)`,
    },
    {
      name: '404, FastAPI "detail" for a base URL without /v1: the URL to try',
      reply: { status: 404, body: '{"detail":"Not Found"}' },
      base: (o) => o,
      want: (_u, o) =>
        `VLM ${o}/chat/completions: HTTP 404: {"detail":"Not Found"}; check --vlm-base-url (now ${o}; the server's base URL, often ending in /v1: try ${o}/v1) and --vlm-model (now ${MODEL}; a model the server serves)`,
    },
    {
      name: '405, plain text: a web page rather than the API',
      reply: { status: 405, body: 'Method Not Allowed', type: 'text/plain' },
      base: (o) => `${o}/`,
      want: (_u, o) => `VLM ${o}/chat/completions: HTTP 405: Method Not Allowed; the server does not take chat requests at that address: check --vlm-base-url (now ${o}/; the API's base URL, often ending in /v1: try ${o}/v1)`,
    },
    {
      name: '413, an nginx page in front of the server',
      reply: { status: 413, body: NGINX_413, type: 'text/html' },
      want: (u) =>
        `VLM ${u}/chat/completions: HTTP 413: an HTML page "413 Request Entity Too Large" (a web server or proxy answered, not the chat-completions API); the request is too large for the server (two images per request): lower --vlm-width and --vlm-height (now 16x16), or raise the server's request size limit`,
    },
    {
      name: '422, vLLM validation errors longer than 300 characters: by their messages',
      reply: { status: 422, body: VLLM_422 },
      want: (u) =>
        `VLM ${u}/chat/completions: HTTP 422: body.model: Field required; body.messages.1.content.2.image_url.url: Input should be a valid URL; the server refused the request as sent (see its message): does --vlm-model (now ${MODEL}) take images, and does its context hold two images of --vlm-width and --vlm-height?`,
    },
    {
      name: '400, OpenAI reasoning model refusing max_tokens',
      reply: { status: 400, body: `{"error":{"message":"Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.","type":"invalid_request_error","param":"max_tokens","code":"unsupported_parameter"}}` },
      want: (u) =>
        `VLM ${u}/chat/completions: HTTP 400: {"error":{"message":"Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.","type":"invalid_request_error","param":"max_tokens","code":"unsupported_parameter"}}; the model refuses what the teacher sends for the reply length limit or the temperature (OpenAI's reasoning models, o1, o3, o4-mini and gpt-5, take only max_completion_tokens and their default temperature): set --vlm-token-field max_completion_tokens (now max_tokens) and --vlm-temperature server (now 0; none sent: the model's default); local servers (vLLM, Ollama, LM Studio, llama.cpp) read max_tokens`,
    },
  ];

  it.each(cases)('$name', async ({ reply, base, want }) => {
    expect(VLLM_422.length).toBeGreaterThan(300);
    const s = await serve(() => reply);
    const { c, sleeps } = client(base ? base(s.origin) : s.url);
    expect(await failure(c)).toBe(want(s.url, s.origin));
    // One request, no wait: retrying does not change a 4xx answer (maxRetries is 3).
    expect([s.paths.length, sleeps.length]).toEqual([1, 0]);
    expect(c.counts()).toMatchObject({ requests: 1, retries: 0, errors: 1 });
  });

  it('describeErrorBody and errorMessageOf: each shape by hand', () => {
    expect(describeErrorBody('  \n')).toBe('');
    expect(describeErrorBody('line one\n\n  line two')).toBe('line one line two');
    expect(describeErrorBody('<!DOCTYPE html><html><body><h1>Bad &amp; Gateway</h1></body></html>')).toBe('an HTML page "Bad & Gateway" (a web server or proxy answered, not the chat-completions API)');
    expect(describeErrorBody(`{"error":{"message":"${'m'.repeat(400)}"}}`)).toBe(`${'m'.repeat(297)}...`);
    expect(describeErrorBody(`{"other":"${'x'.repeat(400)}"}`)).toBe(`{"other":"${'x'.repeat(287)}...`);
    expect(errorMessageOf('{"error":{"message":"a"}}')).toBe('a');
    expect(errorMessageOf('{"error":"b"}')).toBe('b');
    expect(errorMessageOf('{"object":"error","message":"c"}')).toBe('c');
    expect(errorMessageOf('{"detail":"d"}')).toBe('d');
    expect(errorMessageOf('{"detail":[{"loc":["body","x"],"msg":"e"},{"msg":"f"}]}')).toBe('body.x: e; f');
    expect(errorMessageOf('[{"error":{"code":400,"message":"g","status":"INVALID_ARGUMENT"}}]')).toBe('g');
    expect(errorMessageOf('{"status":"ok"}')).toBeNull();
    expect(errorMessageOf('[]')).toBeNull();
    expect(errorMessageOf('not json')).toBeNull();
  });
});

describe('the API key stays out of every new message', () => {
  it('an HTML page, a long JSON message and an error carried by a 200 that echo the key are quoted with it redacted', async () => {
    const key = 'sk-test-key-5678';
    const bodies: Reply[] = [
      { status: 401, body: `<html><head><title>Key ${key} refused</title></head></html>`, type: 'text/html' },
      { status: 400, body: JSON.stringify({ error: { message: `Bad key ${key}`, pad: 'p'.repeat(400) } }) },
      { status: 200, body: JSON.stringify({ error: { code: 403, message: `Key ${key} may not use this model` } }) },
    ];
    const wants = ['HTTP 401: an HTML page "Key [redacted] refused"', 'HTTP 400: Bad key [redacted]', 'HTTP 200 with an error instead of an answer (code 403): Key [redacted] may not use this model'];
    for (const [i, r] of bodies.entries()) {
      const s = await serve(() => r);
      const err = (await client(s.url).c.chat(ASK).catch((e: unknown) => e)) as VlmError;
      expect(err.message.startsWith(`VLM ${s.url}/chat/completions: ${wants[i]}`)).toBe(true);
      expect(`${err.message} ${err.body}`).not.toContain(key);
    }
  });
});

describe('failures that are retried', () => {
  it.each([
    [408, 'Request Timeout', 'text/plain'],
    [429, '{"error":{"message":"Rate limit reached for requests"}}', 'application/json'],
    [500, '{"error":{"code":500,"message":"CUDA out of memory"}}', 'application/json'],
    [502, '<html><head><title>502 Bad Gateway</title></head><body>cloudflare</body></html>', 'text/html'],
    [503, '{"detail":"Service Unavailable"}', 'application/json'],
  ])('%d once, then the answer', async (status, body, type) => {
    const s = await serve((n) => (n === 0 ? { status, body, type } : ok('fine')));
    const { c, sleeps } = client(s.url);
    const r = await c.chat(ASK);
    expect([r.text, r.attempts, s.paths.length, sleeps.length]).toEqual(['fine', 2, 2, 1]);
    // Equal jitter of the first step (backoffBaseMs 1000): in [500, 1000).
    expect(sleeps[0]).toBeGreaterThanOrEqual(500);
    expect(sleeps[0]).toBeLessThan(1000);
  });

  it('a proxy page on every attempt: quoted by its title, with the attempts', async () => {
    const s = await serve(() => ({ status: 502, body: '<html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>', type: 'text/html' }));
    const err = (await client(s.url, { maxRetries: 1 }).c.chat(ASK).catch((e: unknown) => e)) as VlmError;
    expect(err.message).toBe(`VLM ${s.url}/chat/completions: HTTP 502: an HTML page "502 Bad Gateway" (a web server or proxy answered, not the chat-completions API) (gave up after 2 attempts)`);
    expect(s.paths).toHaveLength(2);
  });

  it('Retry-After in seconds and as an HTTP date is waited exactly; one over maxRetryAfterMs fails at once', async () => {
    const secs = await serve((n) => (n === 0 ? { status: 503, body: 'loading', headers: { 'Retry-After': '2' } } : ok('a')));
    const a = client(secs.url);
    expect((await a.c.chat(ASK)).text).toBe('a');
    expect(a.sleeps).toEqual([2000]);

    // The manual clock reads 2026-01-01T00:00:00Z: a date 3 s later is a wait of 3000 ms.
    const date = new Date(Date.UTC(2026, 0, 1, 0, 0, 3)).toUTCString();
    expect(date).toBe('Thu, 01 Jan 2026 00:00:03 GMT');
    const dated = await serve((n) => (n === 0 ? { status: 429, body: 'slow down', headers: { 'Retry-After': date } } : ok('b')));
    const b = client(dated.url);
    expect((await b.c.chat(ASK)).text).toBe('b');
    expect(b.sleeps).toEqual([3000]);

    const long = await serve(() => ({ status: 429, body: 'slow down', headers: { 'Retry-After': '301' } }));
    const l = client(long.url);
    const err = (await l.c.chat(ASK).catch((e: unknown) => e)) as VlmError;
    expect([err.kind, err.status, err.attempts, long.paths.length, l.sleeps.length]).toEqual(['retry-after', 429, 1, 1, 0]);
    expect(err.message).toBe(`VLM ${long.url}/chat/completions: HTTP 429: slow down; the server asks to wait 301 s (Retry-After), longer than the 300 s a request waits at most (maxRetryAfterMs)`);
  });

  it('a connection cut in the middle of the body (a server restarting) is retried', async () => {
    const s = await serve((n) => (n === 0 ? 'cut' : ok('after the restart')));
    const { c, sleeps } = client(s.url);
    const r = await c.chat(ASK);
    expect([r.text, r.attempts, sleeps.length]).toEqual(['after the restart', 2, 1]);
    expect(c.counts()).toMatchObject({ requests: 2, retries: 1, errors: 0 });
  });
});

describe('errors carried by a 200', () => {
  it('OpenRouter: an error after the request was accepted is handled as the status its code names', async () => {
    expect(errorInAnswer('{"error":{"code":502,"message":"Provider returned error"}}')).toEqual({ status: 502, message: 'Provider returned error' });
    expect(errorInAnswer('{"error":"model is loading"}')).toEqual({ status: 502, message: 'model is loading' });
    expect(errorInAnswer('{"choices":[{"finish_reason":"error","message":{"content":""}}]}')).toEqual({ status: 502, message: 'finish_reason "error"' });
    expect(errorInAnswer('{"choices":[{"finish_reason":"stop","message":{"content":"0"}}]}')).toBeNull();
    expect(errorInAnswer('not json')).toBeNull();

    const bodies = [
      '{"error":{"code":502,"message":"Provider returned error"}}',
      '{"error":"model is loading"}',
      '{"choices":[{"index":0,"finish_reason":"error","message":{"role":"assistant","content":""},"error":{"code":429,"message":"Rate limit exceeded upstream"}}]}',
    ];
    for (const body of bodies) {
      const s = await serve((n) => (n === 0 ? { status: 200, body } : ok('0')));
      const { c, sleeps } = client(s.url);
      const r = await c.chat(ASK);
      expect([r.text, r.attempts, sleeps.length]).toEqual(['0', 2, 1]);
    }
  });

  it('llama.cpp: a context-size error, sent with 200 (code 400) or as a 500, fails at once naming the image size', async () => {
    const body = '{"error":{"code":400,"message":"request (4390 tokens) exceeds the available context size (4096 tokens), try increasing it","type":"exceed_context_size_error","n_prompt_tokens":4390,"n_ctx":4096}}';
    const s = await serve(() => ({ status: 200, body }));
    const { c, sleeps } = client(s.url);
    expect(await failure(c)).toBe(
      `VLM ${s.url}/chat/completions: HTTP 200 with an error instead of an answer (code 400): request (4390 tokens) exceeds the available context size (4096 tokens), try increasing it; the two images and the prompt do not fit the model's context: lower --vlm-width and --vlm-height (now 16x16), or start the server with a larger context`,
    );
    expect([s.paths.length, sleeps.length]).toEqual([1, 0]);
    // The same as a 500 (llama.cpp sends either): a retry would not fit either.
    const five = await serve(() => ({ status: 500, body: '{"error":{"code":500,"message":"Context size has been exceeded.","type":"exceed_context_size_error"}}' }));
    const f = client(five.url);
    expect(await failure(f.c)).toMatch(/: HTTP 500: \{.*\}; the two images and the prompt do not fit the model's context: lower --vlm-width and --vlm-height \(now 16x16\), or start the server with a larger context$/);
    expect([five.paths.length, f.sleeps.length]).toEqual([1, 0]);
    // vLLM says it in words, with a 400.
    const vllm = await serve(() => ({ status: 400, body: '{"object":"error","message":"This model\'s maximum context length is 4096 tokens. However, you requested 5200 tokens (4176 in the messages, 1024 in the completion).","type":"BadRequestError","param":null,"code":400}' }));
    expect(await failure(client(vllm.url).c)).toMatch(/; the two images and the prompt do not fit the model's context: lower --vlm-width and --vlm-height \(now 16x16\), or start the server with a larger context$/);
    expect(vllm.paths).toHaveLength(1);
  });

  it('an error code on every attempt gives up after the retries, with the last one', async () => {
    const s = await serve(() => ({ status: 200, body: '{"error":{"code":503,"message":"No endpoints found"}}' }));
    const err = (await client(s.url, { maxRetries: 2 }).c.chat(ASK).catch((e: unknown) => e)) as VlmError;
    expect([err.kind, err.status, err.attempts, s.paths.length]).toEqual(['http', 503, 3, 3]);
    expect(err.message).toBe(`VLM ${s.url}/chat/completions: HTTP 200 with an error instead of an answer (code 503): No endpoints found (gave up after 3 attempts)`);
  });
});

describe('the base URL as people write it', () => {
  it('with /v1, with a trailing slash, with several: the same endpoint; without /v1 a 404 naming the URL to try', async () => {
    const s = await serve((_n, path) => (path === '/v1/chat/completions' ? ok('1') : { status: 404, body: '{"detail":"Not Found"}' }));
    for (const base of [s.url, `${s.url}/`, `${s.url}//`]) {
      const { c } = client(base);
      expect(c.endpoint).toBe(`${s.url}/chat/completions`);
      expect((await c.chat(ASK)).text).toBe('1');
    }
    expect(s.paths).toEqual(['POST /v1/chat/completions', 'POST /v1/chat/completions', 'POST /v1/chat/completions']);
    expect(await failure(client(s.origin).c)).toMatch(new RegExp(`; the server's base URL, often ending in /v1: try ${s.origin.replace(/\./g, '\\.')}/v1\\) and --vlm-model`));
    expect(s.paths[3]).toBe('POST /chat/completions');
    // A base URL with a path of its own (OpenRouter's /api/v1) gets no /v1 suggestion.
    const routed = await serve(() => ({ status: 404, body: 'no such model' }));
    expect(await failure(client(`${routed.origin}/api/v1`).c)).toBe(
      `VLM ${routed.origin}/api/v1/chat/completions: HTTP 404: no such model; check --vlm-base-url (now ${routed.origin}/api/v1; the server's base URL, often ending in /v1) and --vlm-model (now ${MODEL}; a model the server serves)`,
    );
  });
});
