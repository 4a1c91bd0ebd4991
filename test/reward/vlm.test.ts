/**
 * The VLM teacher side: chat-completions client (retries, limits, cache, counts, key hygiene),
 * RL-VLM-F two-stage teacher, synthetic-vlm. Every HTTP request goes to a stub server on
 * loopback (node:http, port 0) that speaks the chat-completions protocol; nothing touches a
 * real network. Images come from a fake renderer (solid PNGs whose red channel names the
 * segment), so no Chromium is needed except in the one real-render check at the end.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../core/clock.js';
import { ServiceError, UsageError } from '../../core/errors.js';
import { Logger } from '../../core/log.js';
import { asset } from '../../core/paths.js';
import { Rng } from '../../core/rng.js';
import { TOY_SPEC } from '../../envs/toy.js';
import { makeTeacher, TeacherSpecError } from '../../reward/teachers/index.js';
import { SyntheticTeacher } from '../../reward/teachers/synthetic.js';
import { finalSuccess, SyntheticVlmTeacher } from '../../reward/teachers/synthetic_vlm.js';
import { clipReply, MALFORMED_STREAK, RAW_REPLY_LIMIT, VlmTeacher, type VlmTeacherOptions, VlmTeacherError } from '../../reward/teachers/vlm.js';
import type { Label, Pair, Segment } from '../../reward/types.js';
import { cacheKey } from '../../reward/vlm/cache.js';
import { parseRetryAfter, VlmClient, type VlmClientOptions, VlmError } from '../../reward/vlm/client.js';
import { decodePng, encodePng, isPng, tilePngs } from '../../reward/vlm/png.js';
import { parseVlmLabel } from '../../reward/vlm/prompts.js';
import { ChromiumFrameRenderer, frameSteps, type SegmentFrameRenderer, type VlmView } from '../../reward/vlm/render.js';
import { renderToolsAvailable } from '../../viewer/render.js';
import { handSegment } from '../helpers/segments.js';

const KEY = 'sk-test-9f8e7d6c5b4a-never-leak-me';
const KEY_ENV = 'PREFRL_TEST_VLM_KEY';
const GOAL = 'Put the red block inside the blue bowl and leave it there.';
const MODEL = 'test-vlm-7b';

// ---------------------------------------------------------------------------------------------
// Fixtures: segments, a fake renderer, a stub chat-completions server.

function seg(n: number, opts: { rewards?: number[]; success?: number[]; envId?: string } = {}): Segment {
  const rewards = opts.rewards ?? [0, 0, 0, 0];
  const h = rewards.length;
  return handSegment(`s${n}`, h, {
    envId: opts.envId ?? 'test',
    rewards: Float64Array.from(rewards),
    terms: Float64Array.from(rewards),
    time: Float64Array.from({ length: h + 1 }, (_, i) => i * 0.1),
    success: Float32Array.from(opts.success ?? new Array(h).fill(0)),
  });
}

const pairOf = (a: Segment, b: Segment): Pair => ({ id: `p-${a.id}-${b.id}`, a, b });

/** Solid-colour PNG: red = segment number, green = step. */
function solidPng(w: number, h: number, r: number, g: number): Uint8Array {
  const rgba = new Uint8Array(w * h * 4);
  for (let p = 0; p < w * h; p++) rgba.set([r, g, 7, 255], p * 4);
  return encodePng({ width: w, height: h, rgba });
}

class FakeRenderer implements SegmentFrameRenderer {
  readonly calls: { segment: string; steps: number[]; view: VlmView }[] = [];
  closed = 0;
  async render(segment: Segment, steps: readonly number[], view: VlmView): Promise<Uint8Array[]> {
    this.calls.push({ segment: segment.id, steps: [...steps], view });
    const n = Number(segment.id.slice(1));
    return steps.map((s) => solidPng(view.width, view.height, n, s));
  }
  async close(): Promise<void> {
    this.closed++;
  }
}

interface StubRequest {
  readonly index: number;
  readonly headers: IncomingHttpHeaders;
  readonly raw: string;
  /** The parsed JSON body (null when it was not JSON). */
  readonly body: ChatBody;
}

interface ChatBody {
  readonly model: string;
  readonly temperature?: number;
  readonly max_tokens?: number;
  readonly messages: { readonly role: string; readonly content: string | { readonly type: string; readonly text?: string; readonly image_url?: { readonly url: string } }[] }[];
}

type StubReply = { status?: number; headers?: Record<string, string>; body: string | object; delayMs?: number } | 'hang';

/** A chat-completions server on 127.0.0.1:0 answering with `handler`. */
class Stub {
  readonly requests: StubRequest[] = [];
  inFlight = 0;
  maxInFlight = 0;
  private readonly hanging: ServerResponse[] = [];
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(handler: (req: StubRequest) => StubReply): Promise<Stub> {
    let stub: Stub | null = null;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const s = stub as Stub;
        const raw = Buffer.concat(chunks).toString('utf8');
        let body: unknown = null;
        try {
          body = JSON.parse(raw);
        } catch {
          body = null;
        }
        const r: StubRequest = { index: s.requests.length, headers: req.headers, raw, body: body as ChatBody };
        s.requests.push(r);
        s.inFlight++;
        s.maxInFlight = Math.max(s.maxInFlight, s.inFlight);
        const done = () => {
          s.inFlight--;
        };
        let reply: StubReply;
        try {
          reply = handler(r);
        } catch (e) {
          reply = { status: 500, body: `stub handler threw: ${(e as Error).message}` };
        }
        if (reply === 'hang') {
          s.hanging.push(res);
          res.on('close', done);
          return;
        }
        const { status = 200, headers = {}, body: out, delayMs = 0 } = reply;
        setTimeout(() => {
          res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
          res.end(typeof out === 'string' ? out : JSON.stringify(out));
          done();
        }, delayMs);
      });
    });
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
    stub = new Stub(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`);
    return stub;
  }

  async close(): Promise<void> {
    for (const r of this.hanging) r.destroy();
    await new Promise<void>((res) => {
      this.server.close(() => res());
      this.server.closeAllConnections();
    });
  }
}

function completion(text: string, usage = { prompt_tokens: 1000, completion_tokens: 20 }): object {
  return {
    id: 'chatcmpl-stub',
    object: 'chat.completion',
    model: MODEL,
    choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
    usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
  };
}

/** The image parts of a request's first user message. */
function imageUrls(req: StubRequest): string[] {
  const user = req.body.messages.find((m) => m.role === 'user');
  if (!user || typeof user.content === 'string') return [];
  return user.content.filter((p) => p.type === 'image_url').map((p) => (p.image_url as { url: string }).url);
}

/** Segment number shown in the first or second image (the red channel of the fake renderer's PNG). */
function segShown(req: StubRequest, k: 0 | 1): number {
  const url = imageUrls(req)[k];
  return decodePng(new Uint8Array(Buffer.from(url.slice(url.indexOf(',') + 1), 'base64'))).rgba[0];
}

const isStage1 = (req: StubRequest) => req.body.messages.length === 2;

/** A VLM that prefers the image of the higher-numbered segment; stage 1 analyses, stage 2 answers. */
function sensibleVlm(req: StubRequest): StubReply {
  const a = segShown(req, 0);
  const b = segShown(req, 1);
  if (isStage1(req)) return { body: completion(`Image 0 shows block ${a}. Image 1 shows block ${b}. ${a === b ? 'No difference.' : `Image ${a > b ? 0 : 1} is closer to the goal.`}`) };
  return { body: completion(a === b ? '-1' : a > b ? '0' : '1', { prompt_tokens: 1100, completion_tokens: 1 }) };
}

const stubs: Stub[] = [];
const dirs: string[] = [];
afterEach(async () => {
  while (stubs.length) await (stubs.pop() as Stub).close();
  while (dirs.length) rmSync(dirs.pop() as string, { recursive: true, force: true });
});

async function stub(handler: (req: StubRequest) => StubReply): Promise<Stub> {
  const s = await Stub.start(handler);
  stubs.push(s);
  return s;
}

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'prefrl-vlm-'));
  dirs.push(d);
  return d;
}

/** Records sleeps and moves the fake clock instead of waiting. */
function fakeTime(): { clock: ManualClock; sleeps: number[]; sleep: (ms: number) => Promise<void> } {
  const clock = new ManualClock();
  const sleeps: number[] = [];
  return {
    clock,
    sleeps,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      clock.advance(ms);
    },
  };
}

function captureLogger(): { logger: Logger; text: () => string } {
  let buf = '';
  return { logger: new Logger({ write: (t) => (buf += t) }, 'debug'), text: () => buf };
}

function client(s: Stub, opts: Partial<VlmClientOptions> = {}): VlmClient {
  const t = fakeTime();
  return new VlmClient({ baseUrl: s.url, model: MODEL, apiKeyEnv: KEY_ENV, env: { [KEY_ENV]: KEY }, rng: new Rng(1), clock: t.clock, sleep: t.sleep, ...opts });
}

function teacher(c: VlmClient, opts: Partial<VlmTeacherOptions> = {}): { t: VlmTeacher; renderer: FakeRenderer } {
  const renderer = new FakeRenderer();
  const t = new VlmTeacher({ goal: GOAL, client: c, renderer, view: { width: 16, height: 16 }, ...opts });
  return { t, renderer };
}

const probs = (labels: Label[]) => labels.map((l) => (l.kind === 'preference' ? l.probFirst : l.kind));

// ---------------------------------------------------------------------------------------------

describe('png', () => {
  it('round-trips RGBA through every row filter and tiles images', () => {
    const w = 9;
    const h = 7;
    const rgba = new Uint8Array(w * h * 4);
    const rng = new Rng(5);
    for (let i = 0; i < rgba.length; i++) rgba[i] = i % 13 < 6 ? (i * 7) & 0xff : rng.int(256);
    const png = encodePng({ width: w, height: h, rgba });
    expect(isPng(png)).toBe(true);
    const back = decodePng(png);
    expect([back.width, back.height]).toEqual([w, h]);
    expect(Buffer.from(back.rgba).equals(Buffer.from(rgba))).toBe(true);
    const tiled = decodePng(tilePngs([solidPng(4, 3, 10, 0), solidPng(4, 3, 20, 0), solidPng(4, 3, 30, 0)], { gap: 2 }));
    expect([tiled.width, tiled.height]).toEqual([3 * 4 + 2 * 2, 3]);
    expect([tiled.rgba[0], tiled.rgba[(4 + 2) * 4], tiled.rgba[(8 + 4) * 4], tiled.rgba[4 * 4]]).toEqual([10, 20, 30, 0x14]);
    const grid = decodePng(tilePngs([solidPng(4, 3, 1, 0), solidPng(4, 3, 2, 0), solidPng(4, 3, 3, 0)], { columns: 2, gap: 0 }));
    expect([grid.width, grid.height]).toEqual([8, 6]);
    expect(() => decodePng(png.slice(0, png.length - 20))).toThrow(/truncated|CRC|past the end/);
  });
});

describe('parseVlmLabel', () => {
  it.each([
    ['0', 0],
    ['1', 1],
    ['-1', -1],
    ['  1\n', 1],
    ['"0"', 0],
    ["'-1'", -1],
    ['`1`', 1],
    ['**0**', 0],
    ['1.', 1],
    ['```\n0\n```', 0],
    ['```text\n-1\n```', -1],
    ['\u22121', -1],
    ['<think>Image 0 is closer, so 0... wait</think>\n1', 1],
  ])('accepts %j as %d', (text, want) => {
    expect(parseVlmLabel(text)).toEqual({ ok: true, value: want });
  });
  it.each(['maybe', '2', '', '   ', 'Image 2', '0 or 1', 'Answer: 1 or 0', '10', '-0', '0\n1'])('rejects %j', (text) => {
    const p = parseVlmLabel(text);
    expect(p.ok).toBe(false);
    if (!p.ok) expect(p.reason).toMatch(/empty|not exactly 0, 1 or -1/);
  });
});

describe('VLM teacher: two-stage queries against a stub server', () => {
  it('asks analysis then label, with the goal, two PNG images, the model and the key from the env var', async () => {
    const s = await stub(sensibleVlm);
    const prev = process.env[KEY_ENV];
    process.env[KEY_ENV] = KEY;
    try {
      // The default `env` is process.env: the key comes from the variable named by apiKeyEnv.
      const c = new VlmClient({ baseUrl: s.url, model: MODEL, apiKeyEnv: KEY_ENV, rng: new Rng(0) });
      const { t, renderer } = teacher(c);
      const pairs = [pairOf(seg(2), seg(1)), pairOf(seg(3), seg(5))];
      const labels = await t.label(pairs);
      expect(probs(labels)).toEqual([1, 0]);
      expect(labels.map((l) => l.teacher)).toEqual([`vlm(${MODEL}):size=16x16`, `vlm(${MODEL}):size=16x16`]);
      expect(s.requests).toHaveLength(4);
      for (const r of s.requests) {
        expect(r.headers.authorization).toBe(`Bearer ${KEY}`);
        expect(r.body.model).toBe(MODEL);
        expect(r.body.temperature).toBe(0);
        const text = JSON.stringify(r.body.messages);
        expect(text).toContain(GOAL);
        const urls = imageUrls(r);
        expect(urls).toHaveLength(2);
        for (const u of urls) {
          expect(u).toMatch(/^data:image\/png;base64,[A-Za-z0-9+/]+=*$/);
          const png = new Uint8Array(Buffer.from(u.slice('data:image/png;base64,'.length), 'base64'));
          expect(isPng(png)).toBe(true);
          expect(decodePng(png).width).toBe(16);
        }
      }
      const stage1 = s.requests.filter(isStage1);
      const stage2 = s.requests.filter((r) => !isStage1(r));
      expect(stage1).toHaveLength(2);
      expect(stage1[0].body.max_tokens).toBe(1024);
      for (const r of stage2) {
        const [sys, user, assistant, question] = r.body.messages;
        expect(sys.role).toBe('system');
        expect(user.role).toBe('user');
        expect(assistant.role).toBe('assistant');
        expect(assistant.content).toMatch(/^Image 0 shows block \d/);
        expect(question.content).toMatch(/exactly one of these/);
        expect(question.content).toContain('-1 if you are unsure');
        expect(r.body.max_tokens).toBe(16);
      }
      // Image 0 is the first segment of the pair.
      expect(stage1.map((r) => [segShown(r, 0), segShown(r, 1)]).sort()).toEqual([
        [2, 1],
        [3, 5],
      ]);
      // Final frame only (RL-VLM-F), both sides of both pairs.
      expect(renderer.calls.map((k) => k.steps)).toEqual([[4], [4], [4], [4]]);
      const raw = JSON.parse(labels[0].raw as string);
      expect(raw).toMatchObject({ model: MODEL, analysis: expect.stringMatching(/Image 0 shows block 2/), answer: '0', cached: [false, false] });
      expect(c.metrics()).toMatchObject({ 'vlm/requests': 4, 'vlm/calls': 4, 'vlm/retries': 0, 'vlm/cache_hits': 0, 'vlm/prompt_tokens': 2 * 1000 + 2 * 1100, 'vlm/completion_tokens': 2 * 20 + 2 * 1 });
      expect(t.metrics()).toMatchObject({ 'vlm/labels_first': 1, 'vlm/labels_second': 1, 'vlm/unsure': 0 });
    } finally {
      if (prev === undefined) delete process.env[KEY_ENV];
      else process.env[KEY_ENV] = prev;
    }
  });

  it('reports each answered pair as it comes (progress within a batch)', async () => {
    const s = await stub(sensibleVlm);
    const seen: number[] = [];
    const labels = await teacher(client(s), { pairConcurrency: 2 }).t.label([pairOf(seg(1), seg(2)), pairOf(seg(4), seg(3)), pairOf(seg(5), seg(6))], (k) => seen.push(k));
    expect(probs(labels)).toEqual([0, 1, 0]);
    expect(seen).toEqual([1, 2, 3]);
  });

  it('sends no Authorization header when the key variable is unset', async () => {
    const s = await stub(sensibleVlm);
    const c = client(s, { env: {} });
    await teacher(c).t.label([pairOf(seg(1), seg(2))]);
    expect(s.requests.every((r) => r.headers.authorization === undefined)).toBe(true);
  });

  it('turns "-1" into a skip and keeps both replies', async () => {
    const s = await stub(sensibleVlm);
    const labels = await teacher(client(s)).t.label([pairOf(seg(4), seg(4))]);
    expect(labels[0]).toMatchObject({ kind: 'skip', reason: expect.stringMatching(/unsure/) });
    expect(JSON.parse(labels[0].raw as string)).toMatchObject({ analysis: expect.stringMatching(/No difference/), answer: '-1' });
  });

  it('warns when nearly every answer is unsure (a known failure mode)', async () => {
    const s = await stub((r) => ({ body: completion(isStage1(r) ? 'I cannot tell.' : '-1') }));
    const log = captureLogger();
    const { t } = teacher(client(s), { logger: log.logger });
    const labels = await t.label(Array.from({ length: 10 }, (_, i) => pairOf(seg(i), seg(i + 20))));
    expect(labels.every((l) => l.kind === 'skip')).toBe(true);
    expect(log.text()).toMatch(/unsure.*10 of 10 pairs/);
  });

  it('skips malformed replies with a reason and keeps what came back', async () => {
    // pair (1,2): stage 1 body is not JSON; (3,4): stage 2 has no choices; (5,6): "maybe"; (7,8): "2"
    const s = await stub((r) => {
      const a = segShown(r, 0);
      if (isStage1(r)) return a === 1 ? { body: '{"choices": [ not json' } : { body: completion(`analysis of ${a}`) };
      if (a === 3) return { body: { id: 'x', object: 'chat.completion', choices: [] } };
      return { body: completion(a === 5 ? 'maybe' : '2') };
    });
    const c = client(s);
    const { t } = teacher(c);
    const labels = await t.label([pairOf(seg(1), seg(2)), pairOf(seg(3), seg(4)), pairOf(seg(5), seg(6)), pairOf(seg(7), seg(8))]);
    expect(labels.map((l) => l.kind)).toEqual(['skip', 'skip', 'skip', 'skip']);
    const reasons = labels.map((l) => (l.kind === 'skip' ? l.reason : ''));
    expect(reasons[0]).toMatch(/stage 1 reply is malformed.*not JSON/);
    expect(reasons[1]).toMatch(/stage 2 reply is malformed.*no choices/);
    expect(reasons[2]).toMatch(/unparseable.*"maybe"/);
    expect(reasons[3]).toMatch(/unparseable.*"2"/);
    const raws = labels.map((l) => JSON.parse(l.raw as string));
    expect(raws[0].body).toBe('{"choices": [ not json');
    expect(raws[1]).toMatchObject({ analysis: 'analysis of 3', body: expect.stringContaining('"choices":[]') });
    expect(raws[2]).toMatchObject({ analysis: 'analysis of 5', answer: 'maybe' });
    expect(raws[3].answer).toBe('2');
    expect(t.counts()).toMatchObject({ malformed: 2, unparseable: 2, first: 0, second: 0 });
    // Malformed bodies are not retried.
    expect(c.counts().retries).toBe(0);
    expect(s.requests).toHaveLength(7);
  });

  it(`fails the batch after ${MALFORMED_STREAK} malformed replies in a row (not a chat-completions server), storing no skips; a well-formed reply between resets the count`, async () => {
    // Not a chat completion at all, as a proxy's or a wrong path's JSON would be.
    const broken = await stub(() => ({ body: { status: 'ok' } }));
    const pairs = Array.from({ length: 8 }, (_, i) => pairOf(seg(i), seg(i + 20)));
    const bad = teacher(client(broken)).t;
    const err = await bad.label(pairs).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VlmTeacherError);
    expect((err as Error).message).toMatch(new RegExp(`: ${MALFORMED_STREAK} replies in a row were not chat completions \\(last: .*\\); check baseUrl= in --teacher \\(.*\\) and model= in --teacher$`));
    expect(bad.counts().malformed).toBeGreaterThanOrEqual(MALFORMED_STREAK); // pairs already in flight finish
    // Malformed replies are neither answers nor cached: the message does not count them as such.
    expect((err as Error).message).toMatch(/^VLM teacher: \d+ of 8 queries failed \(0 answered and cached, \d+ malformed replies; a re-run asks only the rest\)/);
    // Every other stage-1 reply well-formed: never 5 in a row, so the pairs are skips as before.
    let n = 0;
    const flaky = await stub((r) => (isStage1(r) && n++ % 2 === 0 ? { body: { status: 'ok' } } : { body: completion(isStage1(r) ? 'analysis' : '0') }));
    const labels = await teacher(client(flaky)).t.label(pairs);
    // (Pairs run concurrently, so which pairs got the bad replies varies; how many does not.)
    expect(labels.filter((l) => l.kind === 'skip')).toHaveLength(4);
    expect(labels.filter((l) => l.kind === 'preference')).toHaveLength(4);
  });

  it('keeps at most RAW_REPLY_LIMIT characters of each reply in the label, saying how much was cut', async () => {
    expect(clipReply('abc')).toBe('abc');
    const long = 'x'.repeat(RAW_REPLY_LIMIT + 7);
    expect(clipReply(long)).toBe(`${'x'.repeat(RAW_REPLY_LIMIT)} [... 7 more characters not stored]`);
    const s = await stub((r) => ({ body: completion(isStage1(r) ? `${'y'.repeat(RAW_REPLY_LIMIT + 100)} so the first is better.` : '0') }));
    const [l] = await teacher(client(s)).t.label([pairOf(seg(1), seg(2))]);
    expect(l).toMatchObject({ kind: 'preference', probFirst: 1 });
    const raw = JSON.parse(l.raw as string);
    expect(raw.analysis).toHaveLength(RAW_REPLY_LIMIT + ' [... 124 more characters not stored]'.length);
    expect(raw.answer).toBe('0');
  });

  it('retries a 429 after its Retry-After and counts the retry', async () => {
    let n = 0;
    const s = await stub((r) => (n++ === 0 ? { status: 429, headers: { 'Retry-After': '7' }, body: { error: { message: 'rate limited' } } } : sensibleVlm(r)));
    const t0 = fakeTime();
    const c = client(s, { clock: t0.clock, sleep: t0.sleep });
    const labels = await teacher(c).t.label([pairOf(seg(1), seg(2))]);
    expect(probs(labels)).toEqual([0]);
    expect(t0.sleeps).toEqual([7000]);
    expect(c.counts()).toMatchObject({ calls: 2, requests: 3, retries: 1, errors: 0 });
    expect(c.metrics()['vlm/retries']).toBe(1);
  });

  it('reads Retry-After as seconds, HTTP dates and retry-after-ms, and refuses overly long waits', async () => {
    const now = new Date(Date.UTC(2026, 0, 1, 12, 0, 0));
    expect(parseRetryAfter(new Headers({ 'retry-after': '2.5' }), now)).toBe(2500);
    expect(parseRetryAfter(new Headers({ 'retry-after': 'Thu, 01 Jan 2026 12:00:30 GMT' }), now)).toBe(30_000);
    expect(parseRetryAfter(new Headers({ 'retry-after-ms': '120', 'retry-after': '9' }), now)).toBe(120);
    expect(parseRetryAfter(new Headers({ 'retry-after': 'soon' }), now)).toBeNull();
    expect(parseRetryAfter(new Headers(), now)).toBeNull();
    const s = await stub(() => ({ status: 429, headers: { 'Retry-After': '3600' }, body: 'slow down' }));
    const err = await client(s, { maxRetryAfterMs: 60_000 })
      .chat([{ role: 'user', content: 'hi' }])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VlmError);
    expect((err as VlmError).kind).toBe('retry-after');
    expect((err as VlmError).message).toMatch(/wait 3600 s/);
    expect(s.requests).toHaveLength(1);
  });

  it('retries 5xx with exponential backoff up to the limit, then fails the batch (default) or skips (option)', async () => {
    const s = await stub(() => ({ status: 503, body: 'upstream unavailable' }));
    const t0 = fakeTime();
    const c = client(s, { maxRetries: 2, backoffBaseMs: 1000, clock: t0.clock, sleep: t0.sleep });
    const { t } = teacher(c, { pairConcurrency: 1 });
    const err = await t.label([pairOf(seg(1), seg(2)), pairOf(seg(3), seg(4)), pairOf(seg(5), seg(6))]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VlmTeacherError);
    // The CLI prints a ServiceError as its one-line message (exit 1), without a stack trace.
    expect(err).toBeInstanceOf(ServiceError);
    expect((err as ServiceError).exitCode).toBe(1);
    expect((err as Error).message).toMatch(/1 of 3 queries failed.*HTTP 503: upstream unavailable \(gave up after 3 attempts\)/);
    const cause = (err as VlmTeacherError).failures[0].error as VlmError;
    expect([cause.kind, cause.status, cause.attempts]).toEqual(['http', 503, 3]);
    // The first pair used up its retries; no further pair was started.
    expect(s.requests).toHaveLength(3);
    expect(t0.sleeps).toHaveLength(2);
    expect(t0.sleeps[0]).toBeGreaterThanOrEqual(500);
    expect(t0.sleeps[0]).toBeLessThan(1000);
    expect(t0.sleeps[1]).toBeGreaterThanOrEqual(1000);
    expect(t0.sleeps[1]).toBeLessThan(2000);
    expect(c.counts()).toMatchObject({ requests: 3, retries: 2, errors: 1 });

    const skipper = teacher(client(s, { maxRetries: 1 }), { onRequestError: 'skip' }).t;
    const labels = await skipper.label([pairOf(seg(1), seg(2))]);
    expect(labels[0]).toMatchObject({ kind: 'skip', reason: expect.stringMatching(/stage 1 request failed: .*HTTP 503.*gave up after 2 attempts/) });
    expect(skipper.metrics()['vlm/failed']).toBe(1);
  });

  it('reports retries at info level at most once per 30 s, so an outage shows without --debug', async () => {
    const s = await stub(() => ({ status: 503, body: 'down' }));
    const t = fakeTime();
    let text = '';
    const logger = new Logger({ write: (x) => (text += x) }, 'info');
    // Backoff steps of 10 s: retries at 0, 10, 20, 30 s after the first failure.
    const err = await client(s, { maxRetries: 4, backoffBaseMs: 20_000, backoffMaxMs: 20_000, clock: t.clock, sleep: t.sleep, rng: { uniform: () => 0 } as unknown as Rng, logger })
      .chat([{ role: 'user', content: 'x' }])
      .catch((e: unknown) => e);
    expect((err as VlmError).attempts).toBe(5);
    expect(t.sleeps).toEqual([10_000, 10_000, 10_000, 10_000]);
    expect(text).toBe('[prefrl] vlm: HTTP 503: down (attempt 1/5); retrying in 10.00 s\n[prefrl] vlm: HTTP 503: down (attempt 4/5); retrying in 10.00 s\n');
  });

  it('fails at once on a 4xx that retrying cannot fix', async () => {
    const s = await stub(() => ({ status: 400, body: { error: { message: 'this model does not accept images' } } }));
    const c = client(s);
    const err = await c.chat([{ role: 'user', content: 'x' }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VlmError);
    expect((err as VlmError).message).toMatch(/HTTP 400.*does not accept images/);
    expect(s.requests).toHaveLength(1);
  });

  it('aborts a request that hangs past the timeout, and retries it', async () => {
    let n = 0;
    const s = await stub((r) => (n++ === 0 ? 'hang' : sensibleVlm(r)));
    // 1 s: long enough for the stub's good answer on a loaded machine; the hang is cut at it
    // (the counts say so: one timeout, one retry) instead of running into the test's own limit.
    const c = client(s, { timeoutMs: 1000 });
    const labels = await teacher(c).t.label([pairOf(seg(2), seg(1))]);
    expect(probs(labels)).toEqual([1]);
    expect(c.counts()).toMatchObject({ timeouts: 1, retries: 1, requests: 3 });

    const never = await stub(() => 'hang');
    const err = await client(never, { timeoutMs: 100, maxRetries: 1 })
      .chat([{ role: 'user', content: 'x' }])
      .catch((e: unknown) => e);
    expect((err as VlmError).kind).toBe('timeout');
    expect((err as VlmError).message).toMatch(/no complete answer within 100 ms \(gave up after 2 attempts\)/);
    expect(never.requests).toHaveLength(2);
  });

  it('reports a refused connection as a network error after its retries', async () => {
    const s = await stub(sensibleVlm);
    const url = s.url;
    await (stubs.pop() as Stub).close();
    const err = await new VlmClient({ baseUrl: url, model: MODEL, rng: new Rng(0), maxRetries: 1, sleep: async () => undefined })
      .chat([{ role: 'user', content: 'x' }])
      .catch((e: unknown) => e);
    expect((err as VlmError).kind).toBe('network');
    expect((err as VlmError).attempts).toBe(2);
  });

  it('a failed batch says which setting to check: the key variable on 401/403, base URL and model on 404, the base URL when nothing answers', async () => {
    const failWith = async (c: VlmClient, names?: VlmTeacherOptions['settingNames']): Promise<string> => {
      const err = await teacher(c, names ? { settingNames: names } : {}).t.label([pairOf(seg(1), seg(2))]).catch((e: unknown) => e);
      return (err as Error).message.replace(/^.*?\): /, '');
    };
    const s401 = await stub(() => ({ status: 401, body: 'no' }));
    expect(await failWith(client(s401))).toBe(
      `VLM ${s401.url}/chat/completions: HTTP 401: no; the server refused the API key in the environment variable ${KEY_ENV} (keyEnv= in --teacher names the variable)`,
    );
    expect(await failWith(client(s401, { env: {} }), { baseUrl: '--vlm-base-url', model: '--vlm-model', keyEnv: '--vlm-key-env' })).toBe(
      `VLM ${s401.url}/chat/completions: HTTP 401: no; no API key was sent: the environment variable ${KEY_ENV} is not set (--vlm-key-env names the variable)`,
    );
    const s404 = await stub(() => ({ status: 404, body: 'model not found' }));
    expect(await failWith(client(s404))).toBe(
      `VLM ${s404.url}/chat/completions: HTTP 404: model not found; check baseUrl= in --teacher (now ${s404.url}; the server's base URL, often ending in /v1) and model= in --teacher (now ${MODEL}; a model the server serves)`,
    );
    const gone = await stub(sensibleVlm);
    const url = gone.url;
    await (stubs.pop() as Stub).close();
    expect(await failWith(client(gone, { maxRetries: 0 }), { baseUrl: '--vlm-base-url', model: '--vlm-model', keyEnv: '--vlm-key-env' })).toBe(
      `VLM ${url}/chat/completions: network error: ECONNREFUSED (gave up after 1 attempt); check --vlm-base-url: is a server running at ${url}?`,
    );
  });

  it('names a connection closed in the middle of a reply in words, not by undici\'s code', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '500' });
      res.write('{"choices":[{"mess');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
      const err = await new VlmClient({ baseUrl: url, model: MODEL, rng: new Rng(0), maxRetries: 0 }).chat([{ role: 'user', content: 'x' }]).catch((e: unknown) => e);
      expect((err as VlmError).kind).toBe('network');
      expect((err as VlmError).message).toBe(`VLM ${url}/chat/completions: network error: other side closed (UND_ERR_SOCKET) (gave up after 1 attempt)`);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((res) => server.close(() => res()));
    }
  });

  it('refuses a base URL with a user name or password (fetch would refuse it, and runs save the URL)', () => {
    expect(() => new VlmClient({ baseUrl: 'http://bob:hunter2@127.0.0.1:9/v1', model: MODEL, rng: new Rng(0) })).toThrow(
      new RangeError('VLM client: baseUrl must not hold a user name or password (fetch refuses them, and the URL is saved with runs); put the key in the variable named by apiKeyEnv'),
    );
  });

  it('answers a repeated run from the cache without sending anything', async () => {
    const s = await stub(sensibleVlm);
    const dir = tmp();
    const pairs = [pairOf(seg(1), seg(2)), pairOf(seg(6), seg(3)), pairOf(seg(5), seg(5))];
    const first = await teacher(client(s, { cacheDir: dir })).t.label(pairs);
    expect(s.requests).toHaveLength(6);
    const c2 = client(s, { cacheDir: dir });
    const second = await teacher(c2).t.label(pairs);
    expect(s.requests).toHaveLength(6);
    expect(probs(second)).toEqual(probs(first));
    expect(second.map((l) => JSON.parse(l.raw as string).analysis)).toEqual(first.map((l) => JSON.parse(l.raw as string).analysis));
    expect(JSON.parse(second[0].raw as string).cached).toEqual([true, true]);
    expect(c2.metrics()).toMatchObject({ 'vlm/requests': 0, 'vlm/cache_hits': 6, 'vlm/prompt_tokens': 0, 'vlm/saved_prompt_tokens': 3 * 1000 + 3 * 1100 });
    // Two small files per answer that ended on its own (under its key, and under its key without
    // max_tokens in uncut/, for a raised limit); images appear as hashes, not bytes.
    const files = readdirSync(dir, { recursive: true }).filter((f) => String(f).endsWith('.json'));
    expect(files).toHaveLength(12);
    expect(files.filter((f) => String(f).startsWith(`uncut${sep}`))).toHaveLength(6);
    for (const f of files) {
      const text = readFileSync(join(dir, String(f)), 'utf8');
      expect(text).not.toContain('base64');
      expect(text).toMatch(/<image sha256=[0-9a-f]{16} bytes=\d+>/);
      expect(text.length).toBeLessThan(4000);
    }
    // A different model, temperature or image is a different question.
    const m = [{ role: 'user' as const, content: 'q' }];
    expect(cacheKey('a', m, { temperature: 0 })).not.toBe(cacheKey('b', m, { temperature: 0 }));
    expect(cacheKey('a', m, { temperature: 0 })).not.toBe(cacheKey('a', m, { temperature: 0.5 }));
    expect(cacheKey('a', m, { temperature: 0 })).toBe(cacheKey('a', [{ role: 'user', content: 'q' }], { temperature: 0 }));
  });

  it('shares one request between identical calls in flight', async () => {
    const s = await stub(() => ({ body: completion('0'), delayMs: 50 }));
    const c = client(s);
    const m = [{ role: 'user' as const, content: 'same question' }];
    const [x, y] = await Promise.all([c.chat(m), c.chat(m)]);
    expect([x.text, y.text]).toEqual(['0', '0']);
    expect(s.requests).toHaveLength(1);
    expect(c.counts()).toMatchObject({ calls: 2, requests: 1, cacheHits: 1 });
  });

  it('never has more requests open than the concurrency limit', async () => {
    const s = await stub((r) => ({ ...(sensibleVlm(r) as object), delayMs: 40 }) as StubReply);
    const c = client(s, { concurrency: 2 });
    const pairs = Array.from({ length: 6 }, (_, i) => pairOf(seg(i), seg(i + 10)));
    const labels = await teacher(c, { pairConcurrency: 6 }).t.label(pairs);
    expect(probs(labels)).toEqual(new Array(6).fill(0));
    expect(s.requests).toHaveLength(12);
    expect(s.maxInFlight).toBe(2);
  });

  it('keeps to the requests-per-minute limit (sliding window, fake clock)', async () => {
    const s = await stub(() => ({ body: completion('ok') }));
    const t0 = fakeTime();
    const c = client(s, { requestsPerMinute: 2, clock: t0.clock, sleep: t0.sleep });
    for (let i = 0; i < 5; i++) await c.chat([{ role: 'user', content: `q${i}` }]);
    // starts at t = 0, 0, 60 s, 60 s, 120 s
    expect(t0.sleeps).toEqual([60_000, 60_000]);
    expect(s.requests).toHaveLength(5);
  });

  it('keeps the API key out of logs, errors, labels and cache files', async () => {
    let n = 0;
    const s = await stub((r) => {
      n++;
      if (n === 1) return { status: 429, body: `rate limited for key ${KEY}` };
      if (n === 2) return { status: 500, body: `internal error, key=${KEY}` };
      if (isStage1(r)) return { body: completion(`analysis (your key is ${KEY})`) };
      return { body: completion('0') };
    });
    const dir = tmp();
    const log = captureLogger();
    const c = client(s, { cacheDir: dir, logger: log.logger, maxRetries: 3, backoffBaseMs: 1 });
    const labels = await teacher(c, { logger: log.logger }).t.label([pairOf(seg(2), seg(1))]);
    expect(probs(labels)).toEqual([1]);
    expect(s.requests[0].headers.authorization).toBe(`Bearer ${KEY}`);
    const denied = await stub(() => ({ status: 401, body: { error: { message: `Incorrect API key provided: ${KEY}` } } }));
    const err = (await client(denied, { logger: log.logger })
      .chat([{ role: 'user', content: 'x' }])
      .catch((e: unknown) => e)) as VlmError;
    expect(err.message).toMatch(/HTTP 401.*Incorrect API key provided: \[redacted\]/);
    const cacheText = readdirSync(dir, { recursive: true })
      .filter((f) => String(f).endsWith('.json'))
      .map((f) => readFileSync(join(dir, String(f)), 'utf8'))
      .join('\n');
    expect(cacheText.length).toBeGreaterThan(0);
    expect(log.text()).toMatch(/retrying/);
    for (const text of [log.text(), err.message, String(err.stack), String(err.body), JSON.stringify(labels), cacheText, JSON.stringify(c), JSON.stringify(c.config)]) {
      expect(text).not.toContain(KEY);
    }
  });

  it('shows a strip of k frames tiled into one image when asked, with per-env views and the robot hidden', async () => {
    const s = await stub(sensibleVlm);
    const { t, renderer } = teacher(client(s), { frames: { kind: 'strip', frames: 3 }, view: { width: 16, height: 16, hideRobot: true }, viewByEnv: { other: { width: 24 } } });
    expect(t.id).toBe(`vlm(${MODEL}):frames=3,size=16x16,hideRobot,perEnvViews=other`);
    await t.label([pairOf(seg(1, { rewards: [0, 0, 0, 0, 0, 0] }), seg(2, { rewards: [0, 0, 0, 0, 0, 0] })), pairOf(seg(3, { envId: 'other' }), seg(4, { envId: 'other' }))]);
    expect(renderer.calls.slice(0, 2).map((k) => k.steps)).toEqual([
      [0, 3, 6],
      [0, 3, 6],
    ]);
    expect(renderer.calls.every((k) => k.view.hideRobot)).toBe(true);
    expect(renderer.calls.slice(2).map((k) => k.view.width)).toEqual([24, 24]);
    const req = s.requests.find((r) => isStage1(r) && segShown(r, 0) === 1) as StubRequest;
    const img = decodePng(new Uint8Array(Buffer.from(imageUrls(req)[0].split(',')[1], 'base64')));
    expect([img.width, img.height]).toEqual([3 * 16 + 2 * 4, 16]);
    // green channel = step: the tiles are in time order
    expect([img.rgba[1], img.rgba[20 * 4 + 1], img.rgba[40 * 4 + 1]]).toEqual([0, 3, 6]);
    const text = JSON.stringify(req.body.messages);
    expect(text).toContain('strip of 3 frames in time order');
    expect(text).toContain("robot's body is not drawn");
    expect(frameSteps(50, { kind: 'final' })).toEqual([50]);
    expect(frameSteps(50, { kind: 'strip', frames: 4 })).toEqual([0, 17, 33, 50]);
  });

  it('leaves an injected renderer open (the caller owns it)', async () => {
    const s = await stub(sensibleVlm);
    const { t, renderer } = teacher(client(s));
    await t.label([pairOf(seg(1), seg(2))]);
    expect(renderer.closed).toBe(0);
  });
});

describe('makeTeacher: vlm and synthetic-vlm specs', () => {
  const rng = new Rng(3);
  it('builds a VLM teacher from the spec and the pass-through options', async () => {
    const s = await stub(sensibleVlm);
    const renderer = new FakeRenderer();
    const t = makeTeacher(`vlm:model=${MODEL},frames=4,hideRobot=1,width=32,height=32,concurrency=3,rpm=100,timeoutS=5,retries=1,onError=skip`, {
      env: TOY_SPEC,
      rng,
      vlm: { baseUrl: s.url, apiKeyEnv: KEY_ENV, env: { [KEY_ENV]: KEY }, renderer },
    }) as VlmTeacher;
    expect(t).toBeInstanceOf(VlmTeacher);
    expect(t.id).toBe(`vlm(${MODEL}):frames=4,size=32x32,hideRobot`);
    expect(t.config).toMatchObject({ goal: TOY_SPEC.goal, frames: { kind: 'strip', frames: 4 }, onRequestError: 'skip', view: { width: 32, height: 32, hideRobot: true } });
    expect(t.client.config).toMatchObject({ baseUrl: s.url, model: MODEL, apiKeyEnv: KEY_ENV, concurrency: 3, requestsPerMinute: 100, timeoutMs: 5000, maxRetries: 1 });
    const labels = await t.label([pairOf(seg(1), seg(2))]);
    expect(probs(labels)).toEqual([0]);
    expect(JSON.stringify(s.requests[0].body)).toContain(TOY_SPEC.goal);
  });

  it('rejects incomplete or bad vlm specs with a UsageError', () => {
    const bad = ['vlm', 'vlm:model=m', 'vlm:baseUrl=http://127.0.0.1:9/v1', 'vlm:baseUrl=ftp://x,model=m', 'vlm:baseUrl=http://h/v1,model=m,frames=many', 'vlm:baseUrl=http://h/v1,model=m,color=red', 'vlm:baseUrl=http://h/v1,model=m,camera=below', 'vlm:baseUrl=http://h/v1,model=m,keyEnv=1bad', 'vlm:baseUrl=http://h/v1,model=m,frames=40'];
    for (const spec of bad) expect(() => makeTeacher(spec, { env: TOY_SPEC, rng }), spec).toThrow(UsageError);
    // The key pasted where its variable's name goes is not echoed back.
    const pasted = 'sk-proj-9f8e-pasted';
    expect(() => makeTeacher(`vlm:baseUrl=http://h/v1,model=m,keyEnv=${pasted}`, { env: TOY_SPEC, rng })).toThrow(
      new TeacherSpecError('parameter "keyEnv" must be the NAME of an environment variable (letters, digits and _), such as OPENAI_API_KEY; the value given is not shown, in case it is the key itself'),
    );
    expect(() => makeTeacher('vlm:baseUrl=http://h/v1,model=m,concurrency=0x4', { env: TOY_SPEC, rng })).toThrow(/^teacher spec: parameter "concurrency" must be an integer, got "0x4"/);
    expect(() => makeTeacher('synthetic-vlm:errorRate=0x0', { env: TOY_SPEC, rng })).toThrow(/^teacher spec: parameter "errorRate" must be a number, got "0x0"/);
    // What a spec lacks is said in the spec's own terms (train and label have no --vlm-* flags).
    expect(() => makeTeacher('vlm:model=m', { env: TOY_SPEC, rng })).toThrow(new TeacherSpecError('"vlm" needs the server\'s base URL: baseUrl=http://host:port/v1 in "vlm:model=m"'));
    expect(() => makeTeacher('vlm:baseUrl=http://h/v1', { env: TOY_SPEC, rng })).toThrow(new TeacherSpecError('"vlm" needs a model name: model=... in "vlm:baseUrl=http://h/v1"'));
    expect(() => new VlmClient({ baseUrl: 'http://h/v1', model: 'm', apiKeyEnv: pasted, rng })).toThrow(/^VLM client: apiKeyEnv must be the NAME of an environment variable .*the value given is not shown/);
  });

  it('builds synthetic-vlm with its defaults or overrides', () => {
    const t = makeTeacher('synthetic-vlm', { env: TOY_SPEC, rng }) as SyntheticVlmTeacher;
    expect(t).toBeInstanceOf(SyntheticVlmTeacher);
    expect(t.config).toEqual({ errorRate: 0.2, unsureRate: 0.1, tieTolerance: 0 });
    const u = makeTeacher('synthetic-vlm:errorRate=0.05,unsureRate=0,tieTolerance=0.01', { env: TOY_SPEC, rng }) as SyntheticVlmTeacher;
    expect(u.config).toEqual({ errorRate: 0.05, unsureRate: 0, tieTolerance: 0.01 });
    expect(u.id).toBe('synthetic-vlm:errorRate=0.05,unsureRate=0,tieTolerance=0.01');
    expect(() => makeTeacher('synthetic-vlm:errorRate=1.5', { env: TOY_SPEC, rng })).toThrow(UsageError);
    expect(() => makeTeacher('synthetic-vlm:beta=1', { env: TOY_SPEC, rng })).toThrow(UsageError);
  });
});

describe('synthetic-vlm teacher', () => {
  /** n pairs with distinct final successes; `truth[i]` = 1 when a's final success is higher. */
  function randomPairs(n: number, seed: number): { pairs: Pair[]; truth: number[] } {
    const r = new Rng(seed);
    const pairs: Pair[] = [];
    const truth: number[] = [];
    for (let i = 0; i < n; i++) {
      const sa = r.uniform();
      const sb = r.uniform();
      pairs.push(pairOf(seg(2 * i, { success: [r.uniform(), r.uniform(), r.uniform(), sa] }), seg(2 * i + 1, { success: [r.uniform(), r.uniform(), r.uniform(), sb] })));
      truth.push(Math.fround(sa) > Math.fround(sb) ? 1 : 0);
    }
    return { pairs, truth };
  }

  it('has error and unsure rates within binomial margins (seeded)', async () => {
    const n = 4000;
    const { pairs, truth } = randomPairs(n, 17);
    const t = new SyntheticVlmTeacher({ rng: new Rng(99), errorRate: 0.2, unsureRate: 0.1 });
    const labels = await t.label(pairs);
    const unsure = labels.filter((l) => l.kind === 'skip').length;
    const answered = labels.map((l, i) => [l, truth[i]] as const).filter(([l]) => l.kind === 'preference');
    const wrong = answered.filter(([l, y]) => (l as { probFirst: number }).probFirst !== y).length;
    const within = (k: number, m: number, p: number) => Math.abs(k - m * p) < 4 * Math.sqrt(m * p * (1 - p));
    expect(within(unsure, n, 0.1)).toBe(true);
    expect(within(wrong, answered.length, 0.2)).toBe(true);
    expect(labels.filter((l) => l.kind === 'skip').every((l) => l.kind === 'skip' && /unsure \(simulated, rate 0.1\)/.test(l.reason))).toBe(true);
    expect(t.metrics()).toMatchObject({ 'vlm/unsure': unsure, 'vlm/flipped': wrong });
    // Same seed, same labels, whatever the batch order.
    const again = await new SyntheticVlmTeacher({ rng: new Rng(99), errorRate: 0.2, unsureRate: 0.1 }).label([...pairs].reverse());
    expect(probs(again.reverse())).toEqual(probs(labels));
  });

  it('judges from the final frame only: returns and earlier successes do not count', async () => {
    // a: large return, succeeds all along but not at the end; b: negative return, succeeds only at the end.
    const pairs = Array.from({ length: 50 }, (_, i) => pairOf(seg(2 * i, { rewards: [10, 10, 10, 10], success: [1, 1, 1, 0] }), seg(2 * i + 1, { rewards: [-5, -5, -5, -5], success: [0, 0, 0, 1] })));
    expect(finalSuccess(pairs[0].a)).toBe(0);
    const vlm = await new SyntheticVlmTeacher({ rng: new Rng(1), errorRate: 0, unsureRate: 0 }).label(pairs);
    expect(new Set(probs(vlm))).toEqual(new Set([0]));
    expect(JSON.parse(vlm[0].raw as string)).toMatchObject({ answer: '1', successA: 0, successB: 1 });
    // The return-based oracle says the opposite.
    const oracle = await new SyntheticTeacher({ rng: new Rng(1) }).label(pairs);
    expect(new Set(probs(oracle))).toEqual(new Set([1]));
  });

  it('is unsure on ties and skips segments without a success measure', async () => {
    const t = new SyntheticVlmTeacher({ rng: new Rng(2), errorRate: 0, unsureRate: 0, tieTolerance: 0.05 });
    const nan = [Number.NaN, Number.NaN, Number.NaN, Number.NaN];
    const labels = await t.label([
      pairOf(seg(1, { success: [0, 0, 0, 0.5] }), seg(2, { success: [1, 1, 1, 0.53] })),
      pairOf(seg(3, { success: [0, 0, 0, 0.5] }), seg(4, { success: [0, 0, 0, 0.6] })),
      pairOf(seg(5, { success: nan, envId: 'custom:arm.xml' }), seg(6, { success: [0, 0, 0, 1] })),
    ]);
    expect(labels[0]).toMatchObject({ kind: 'skip', reason: expect.stringMatching(/unsure: equal success at the final frame \(0.5, 0.53\)/) });
    expect(labels[1]).toMatchObject({ kind: 'preference', probFirst: 0 });
    expect(labels[2]).toMatchObject({ kind: 'skip', reason: expect.stringMatching(/no task-success measure.*custom:arm.xml/) });
    expect(t.metrics()).toMatchObject({ 'vlm/ties': 1, 'vlm/no_success': 1, 'vlm/labels_second': 1 });
  });
});

// Opt-in (PREFRL_SLOW=1): launching Chromium and loading the page takes 5-10 s here, a third of the budget of this file.
const canRender = process.env.PREFRL_SLOW === '1' && renderToolsAvailable(false) && existsSync(join(asset('dist/viewer-web'), 'render.html'));

describe.skipIf(!canRender)('ChromiumFrameRenderer (real headless render of toy-reach; PREFRL_SLOW=1)', () => {
  it('renders a segment through viewer/render.ts, the same bytes twice (cache keys stay stable)', async () => {
    const r = new ChromiumFrameRenderer();
    try {
      const s = { ...seg(1, { envId: 'toy-reach' }), nq: 4, qpos: Float64Array.from({ length: 5 * 4 }, (_, i) => (i % 4 === 0 ? 0.1 * (i / 4) : i % 4 === 2 ? 0.5 : 0)) };
      const view: VlmView = { width: 64, height: 48, camera: { kind: 'auto' }, hideRobot: false, follow: 'off', shadows: false, grid: true };
      const [x] = await r.render(s, [4], view);
      const [y] = await r.render(s, [4], view);
      const img = decodePng(x);
      expect([img.width, img.height]).toEqual([64, 48]);
      expect(Buffer.from(x).equals(Buffer.from(y))).toBe(true);
    } finally {
      await r.close();
    }
  });
});
