/**
 * What real OpenAI-compatible servers answer that a plain `{"content": "0"}` does not show:
 * content as a list of parts (Mistral-style "thinking" parts among them), reasoning in a separate
 * field with no content (vLLM's and llama.cpp's reasoning parsers, Ollama's /v1, OpenRouter),
 * token usage missing or under other names, and label replies with decoration. Every request
 * goes to a stub chat-completions server on loopback; nothing leaves the machine.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { Logger } from '../core/log.js';
import { Rng } from '../core/rng.js';
import { VlmTeacher, type VlmTeacherOptions } from '../reward/teachers/vlm.js';
import type { Label } from '../reward/types.js';
import { parseCompletion, sameModel, VlmClient, type VlmClientOptions } from '../reward/vlm/client.js';
import { parseVlmLabel } from '../reward/vlm/prompts.js';
import { closedAfterEach, pair, SolidRenderer } from './helpers/vlm_stub.js';

const MODEL = 'stub-vl';



const servers = closedAfterEach();

/** A stub answering stage 1 (two messages) with `analysis` and stage 2 with `label`, each a whole response body. */
async function serve(analysis: (n: number) => object, label: (n: number) => object): Promise<{ url: string; count: () => number }> {
  let n = 0;
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString('utf8')));
    req.on('end', () => {
      const body = JSON.parse(raw) as { messages: unknown[] };
      const i = n++;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body.messages.length === 2 ? analysis(i) : label(i)));
    });
  });
  servers.push(server);
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, count: () => n };
}

/** A chat completion whose message is `message` (merged over role "assistant"). */
/** `usage` null: none sent. */
function reply(message: Record<string, unknown>, finish = 'stop', usage: object | null = { prompt_tokens: 10, completion_tokens: 2 }, model = MODEL): object {
  return { id: 'c', object: 'chat.completion', model, choices: [{ index: 0, message: { role: 'assistant', ...message }, finish_reason: finish }], ...(usage ? { usage } : {}) };
}

function setup(url: string, opts: Partial<VlmClientOptions> = {}, topts: Partial<VlmTeacherOptions> = {}): { c: VlmClient; t: VlmTeacher; log: () => string } {
  let text = '';
  const logger = new Logger({ write: (x) => (text += x) }, 'info');
  const clock = new ManualClock();
  const c = new VlmClient({ baseUrl: url, model: MODEL, env: {}, rng: new Rng(1), clock, sleep: async (ms) => clock.advance(ms), logger, ...opts });
  const t = new VlmTeacher({ goal: 'Push the block onto the target.', client: c, renderer: new SolidRenderer(), view: { width: 16, height: 16 }, pairConcurrency: 1, logger, ...topts });
  return { c, t, log: () => text };
}

const reasons = (labels: Label[]): string[] => labels.map((l) => (l.kind === 'skip' ? l.reason : `probFirst ${l.kind === 'preference' ? l.probFirst : '?'}`));

describe('replies of real servers', () => {
  it('content as a list of parts: the text parts joined, other parts (a "thinking" part) dropped', async () => {
    const s = await serve(
      () => reply({ content: [{ type: 'text', text: 'Image 0 shows the block ' }, { type: 'text', text: 'on the target.' }] }),
      () => reply({ content: [{ type: 'thinking', thinking: [{ type: 'text', text: 'Image 1 is off. So 1? No: 0.' }] }, { type: 'text', text: '0' }] }),
    );
    const { t } = setup(s.url);
    const labels = await t.label([pair(1, 2)]);
    expect(reasons(labels)).toEqual(['probFirst 1']);
    const raw = JSON.parse(labels[0].raw as string) as { analysis: string; answer: string };
    expect([raw.analysis, raw.answer]).toEqual(['Image 0 shows the block on the target.', '0']);
    expect(s.count()).toBe(2);
  });

  it('reasoning in its own field: ignored beside an answer; an empty answer says the model sent only its reasoning', async () => {
    const thinking = 'Let me compare the two.'; // 23 characters
    expect(thinking.length).toBe(23);
    // Pair 1: vLLM's reasoning_content beside content "1". Pair 2: stage 1 is reasoning only, cut at the limit.
    // Pair 3: Ollama's / newer vLLM's `reasoning` beside an empty label, not cut.
    const s = await serve(
      (n) => (n === 2 ? reply({ content: null, reasoning_content: thinking }, 'length') : reply({ content: 'Image 1 is closer.', reasoning_content: thinking })),
      (n) => (n === 1 ? reply({ content: '1', reasoning_content: thinking }) : reply({ content: '', reasoning: thinking })),
    );
    const { t, c } = setup(s.url);
    const labels = await t.label([pair(1, 2), pair(3, 4), pair(5, 6)]);
    expect(reasons(labels)).toEqual([
      'probFirst 0',
      'VLM stage 1 (analysis) reply is empty; the model sent only its reasoning, 23 characters in a separate field (reasoning_content or reasoning), and no answer after it; cut at the token limit of 1024 (finish_reason "length"): raise analysisMaxTokens= in --teacher',
      'VLM label unparseable: the label reply is empty; the model sent only its reasoning, 23 characters in a separate field (reasoning_content or reasoning), and no answer after it',
    ]);
    // The reasoning is not the analysis: the stage-2 request carries the content only.
    expect(JSON.parse(labels[0].raw as string)).toMatchObject({ analysis: 'Image 1 is closer.', answer: '1' });
    // 5 requests (pair 2 stops after stage 1), 10 + 2 tokens each.
    expect(s.count()).toBe(5);
    expect(c.counts()).toMatchObject({ requests: 5, promptTokens: 50, completionTokens: 10 });
  });

  it('an empty reply ended by a content filter says so; a streamed answer nobody asked for is named as one', async () => {
    const s = await serve(
      () => reply({ content: null }, 'content_filter'),
      () => reply({ content: '0' }),
    );
    const { t } = setup(s.url);
    expect(reasons(await t.label([pair(1, 2)]))).toEqual(['VLM stage 1 (analysis) reply is empty; the server ended it with finish_reason "content_filter"']);
    expect(() => parseCompletion('data: {"choices":[{"delta":{"content":"0"}}]}\n\ndata: [DONE]\n')).toThrow(
      'the response is a stream of server-sent events ("data: ..."), not one JSON answer: the server or a proxy in front of it streams though the request does not ask for it',
    );
  });

  it('a reasoning-only reply answered again from the cache gives the same skip, asking nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prefrl-vlm-servers-'));
    try {
      const s = await serve(
        () => reply({ content: 'analysis' }),
        () => reply({ content: null, reasoning_content: 'abc' }),
      );
      const first = setup(s.url, { cacheDir: dir });
      const a = reasons(await first.t.label([pair(1, 2)]));
      const again = setup(s.url, { cacheDir: dir });
      const b = reasons(await again.t.label([pair(1, 2)]));
      expect(a).toEqual(['VLM label unparseable: the label reply is empty; the model sent only its reasoning, 3 characters in a separate field (reasoning_content or reasoning), and no answer after it']);
      expect(b).toEqual(a);
      expect([s.count(), again.c.counts().requests, again.c.counts().cacheHits]).toEqual([2, 0, 2]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('parseCompletion keeps only the length of the reasoning, and none when there is none', () => {
    const r = parseCompletion(JSON.stringify(reply({ content: 'x', reasoning: 'abcd' })));
    expect([r.text, r.reasoningChars]).toEqual(['x', 4]);
    expect('reasoningChars' in parseCompletion(JSON.stringify(reply({ content: 'x', reasoning: '  ' })))).toBe(false);
    expect('reasoningChars' in parseCompletion(JSON.stringify(reply({ content: 'x' })))).toBe(false);
  });

  it('token usage: read under the Responses API names too; a server that sends none is warned about once', async () => {
    const other = await serve(
      () => reply({ content: 'analysis' }, 'stop', { input_tokens: 7, output_tokens: 3 }),
      () => reply({ content: '1' }, 'stop', { input_tokens: 9, output_tokens: 1 }),
    );
    const a = setup(other.url);
    await a.t.label([pair(1, 2), pair(3, 4)]);
    // 2 pairs: prompt 2 x (7 + 9) = 32, completion 2 x (3 + 1) = 8.
    expect(a.c.counts()).toMatchObject({ requests: 4, promptTokens: 32, completionTokens: 8 });
    expect(a.log()).toBe('');

    const none = await serve(
      () => reply({ content: 'analysis' }, 'stop', null),
      () => reply({ content: '0' }, 'stop', null),
    );
    const b = setup(none.url);
    const labels = await b.t.label([pair(1, 2), pair(3, 4)]);
    expect(reasons(labels)).toEqual(['probFirst 1', 'probFirst 1']);
    expect(b.c.metrics()).toMatchObject({ 'vlm/requests': 4, 'vlm/prompt_tokens': 0, 'vlm/completion_tokens': 0 });
    expect(b.log()).toBe(
      `[prefrl] warn: vlm: the server at ${none.url} sends no token usage with its answers (no "usage" field); vlm/prompt_tokens and vlm/completion_tokens count 0 for them\n`,
    );
  });

  it('an answer from another model than the one asked for (LM Studio answers with the loaded one) is warned about once', async () => {
    expect(sameModel('gpt-4o', 'gpt-4o-2024-08-06')).toBe(true);
    expect(sameModel('llava', 'llava:latest')).toBe(true);
    expect(sameModel('Qwen/Qwen2.5-VL-7B-Instruct', 'qwen2.5-vl-7b-instruct')).toBe(true);
    expect(sameModel('qwen/qwen3-vl-8b', 'allenai_olmocr-2-7b-1025')).toBe(false);
    const s = await serve(
      () => reply({ content: 'analysis' }, 'stop', undefined, 'gemma-3-1b-it'),
      () => reply({ content: '0' }, 'stop', undefined, 'gemma-3-1b-it'),
    );
    const { t, log } = setup(s.url);
    expect(reasons(await t.label([pair(1, 2), pair(3, 4)]))).toEqual(['probFirst 1', 'probFirst 1']);
    expect(log()).toBe(
      `[prefrl] warn: vlm: the server at ${s.url} answered with the model "gemma-3-1b-it", not the "${MODEL}" asked for (LM Studio, for one, answers with whatever model is loaded): the labels are that model's; load or name the right one\n`,
    );
  });

  it('a label cut at its limit that still reads as a label counts, and the cut is warned about', async () => {
    const s = await serve(
      () => reply({ content: 'analysis' }),
      () => reply({ content: '0' }, 'length'),
    );
    const { t, log } = setup(s.url);
    expect(reasons(await t.label([pair(1, 2)]))).toEqual(['probFirst 1']);
    expect(t.metrics()).toMatchObject({ 'vlm/cut_label': 1, 'vlm/labels_first': 1 });
    expect(log()).toBe(
      '[prefrl] warn: VLM replies cut at the token limit (finish_reason "length"): the label of 1 of 1 pairs (at 16 tokens; raise labelMaxTokens= in --teacher); a model that reasons before it answers needs room for its thinking\n',
    );
  });
});

describe('label replies with decoration (the rule in reward/vlm/prompts.ts)', () => {
  it.each([
    ['**1**', 1],
    ['`0`', 0],
    ['1.', 1],
    ['-1!', -1],
    ['Answer: 1', 1],
    ['**Answer:** 0', 0],
    ['Final answer: -1', -1],
    ['The answer is 1', 1],
    ['Label = 0', 0],
    ['Image 1', 1],
    ['image 0.', 0],
    ['Answer: Image 0', 0],
    ['[1]', 1],
    ['(-1)', -1],
    ['$\\boxed{0}$', 0],
    ['\u22121', -1],
    ['<think>0? no</think>\n**1**', 1],
  ] as const)('reads %j as %d', (text, want) => {
    expect(parseVlmLabel(text)).toEqual({ ok: true, value: want });
  });

  it.each([
    ['-1 (unsure)', 'the label reply is not exactly 0, 1 or -1: "-1 (unsure)"; a label counts only with nothing after it'],
    ['1 because the block is on the target', 'the label reply is not exactly 0, 1 or -1: "1 because the block is on the target"; a label counts only with nothing after it'],
    // A numbered list as easily as a label: never a guess.
    ['1. Image 0 is better', 'the label reply is not exactly 0, 1 or -1: "1. Image 0 is better"; a label counts only with nothing after it'],
    ['Answer: 0 or 1', 'the label reply is not exactly 0, 1 or -1: "Answer: 0 or 1"; a label counts only with nothing after it'],
    ['Image 2', 'the label reply is not exactly 0, 1 or -1: "Image 2"; there is no Image 2, the images are Image 0 and Image 1'],
    ['Image 1 is better', 'the label reply is not exactly 0, 1 or -1: "Image 1 is better"'],
    ['10', 'the label reply is not exactly 0, 1 or -1: "10"'],
    ['Answers: 1', 'the label reply is not exactly 0, 1 or -1: "Answers: 1"'],
    ['** **', 'the label reply is empty'],
  ])('refuses %j', (text, reason) => {
    expect(parseVlmLabel(text)).toEqual({ ok: false, reason });
  });

  it('through a server: decorated labels become preferences, a label with text after it a skip with the reason', async () => {
    const answers = ['**1**', 'Answer: 0', 'Image 0', '-1 (unsure)', '1. Image 0 is better'];
    const s = await serve(
      () => reply({ content: 'analysis' }),
      (n) => reply({ content: answers[(n - 1) / 2] }),
    );
    const { t } = setup(s.url);
    const labels = await t.label([pair(1, 2), pair(3, 4), pair(5, 6), pair(7, 8), pair(9, 10)]);
    expect(reasons(labels)).toEqual([
      'probFirst 0',
      'probFirst 1',
      'probFirst 1',
      'VLM label unparseable: the label reply is not exactly 0, 1 or -1: "-1 (unsure)"; a label counts only with nothing after it',
      'VLM label unparseable: the label reply is not exactly 0, 1 or -1: "1. Image 0 is better"; a label counts only with nothing after it',
    ]);
    expect(t.counts()).toMatchObject({ first: 2, second: 1, unsure: 0, unparseable: 2 });
  });
});
