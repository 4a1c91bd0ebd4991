/**
 * OpenAI's reasoning models (o1, o3, o4-mini, gpt-5) refuse `max_tokens` and any temperature but
 * their default. The VLM teacher sends the reply length limits in the field `tokenField` names
 * (--vlm-token-field) and leaves the temperature out when it is null (--vlm-temperature server).
 * Checked against a stub chat-completions server on loopback: the exact request body of each
 * setting; the answer cache (another setting is another key, the defaults keep the keys of caches
 * written before the settings existed); misspelt options and bad values; the flags' errors (exit 2)
 * and their refusal on --resume.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { InputError } from '../core/errors.js';
import { makeFolder } from '../core/paths.js';
import { Rng } from '../core/rng.js';
import { TOY_SPEC } from '../envs/toy.js';
import { silentLogger } from '../core/log.js';
import { resolveOfflineConfig, runOffline, vlmSpec } from '../reward/offline.js';
import { makeTeacher } from '../reward/teachers/index.js';
import { VlmTeacher, type VlmTeacherOptions } from '../reward/teachers/vlm.js';
import { cacheKey, uncutKey } from '../reward/vlm/cache.js';
import { type ChatMessage, VlmClient } from '../reward/vlm/client.js';
import { expectUsageError } from './helpers/cli.js';
import { useToyDataset } from './helpers/toy_dataset.js';
import { closedAfterEach, pair, SolidRenderer } from './helpers/vlm_stub.js';

const MODEL = 'stub-vl';



const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'prefrl-vlm-reasoning-'));
  dirs.push(d);
  return d;
};
const servers = closedAfterEach();
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

type Body = Record<string, unknown> & { messages: unknown[] };

/** A stub that answers stage 1 with an analysis and stage 2 with "0", and keeps every request body. */
async function serve(): Promise<{ url: string; bodies: Body[] }> {
  const bodies: Body[] = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString('utf8')));
    req.on('end', () => {
      const body = JSON.parse(raw) as Body;
      bodies.push(body);
      const text = body.messages.length === 2 ? 'Image 0 shows the block on the target.' : '0';
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ model: MODEL, choices: [{ message: { role: 'assistant', content: text }, finish_reason: 'stop' }], usage: { prompt_tokens: 10, completion_tokens: 3 } }));
    });
  });
  servers.push(server);
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, bodies };
}

function teacher(url: string, topts: Partial<VlmTeacherOptions> = {}, cacheDir: string | null = null): VlmTeacher {
  const clock = new ManualClock();
  const client = new VlmClient({ baseUrl: url, model: MODEL, env: {}, rng: new Rng(1), clock, sleep: async (ms) => clock.advance(ms), cacheDir });
  return new VlmTeacher({ goal: 'Push the block onto the target.', client, renderer: new SolidRenderer(), view: { width: 16, height: 16 }, pairConcurrency: 1, ...topts });
}

/** The body's fields other than the model and the messages, in the order sent. */
const shape = (b: Body): [string, unknown][] => Object.entries(b).filter(([k]) => k !== 'model' && k !== 'messages');

describe('the request body of each setting', () => {
  it.each([
    ['the defaults: temperature 0, limits in max_tokens', {}, [['temperature', 0], ['max_tokens', 1024]], [['temperature', 0], ['max_tokens', 16]]],
    ['tokenField max_completion_tokens', { tokenField: 'max_completion_tokens' }, [['temperature', 0], ['max_completion_tokens', 1024]], [['temperature', 0], ['max_completion_tokens', 16]]],
    ['temperature null: none sent', { temperature: null }, [['max_tokens', 1024]], [['max_tokens', 16]]],
    [
      'both, as an OpenAI reasoning model takes them, with raised limits',
      { temperature: null, tokenField: 'max_completion_tokens', analysisMaxTokens: 8000, labelMaxTokens: 2000 },
      [['max_completion_tokens', 8000]],
      [['max_completion_tokens', 2000]],
    ],
    ['temperature 0.7 and a seed, explicit max_tokens', { temperature: 0.7, seed: 3, tokenField: 'max_tokens' }, [['temperature', 0.7], ['max_tokens', 1024], ['seed', 3]], [['temperature', 0.7], ['max_tokens', 16], ['seed', 3]]],
  ] as const)('%s', async (_name, topts, stage1, stage2) => {
    const s = await serve();
    const labels = await teacher(s.url, topts as Partial<VlmTeacherOptions>).label([pair(1, 2)]);
    expect(labels[0]).toMatchObject({ kind: 'preference', probFirst: 1 });
    expect(s.bodies.map((b) => [b.model, b.messages.length])).toEqual([
      [MODEL, 2],
      [MODEL, 4],
    ]);
    expect(s.bodies.map(shape)).toEqual([stage1, stage2]);
  });

  it('the defaults send the body the teacher sent before the settings existed, byte for byte apart from the messages', async () => {
    const s = await serve();
    await teacher(s.url).label([pair(1, 2)]);
    // The old requestBody: model, messages, temperature, max_tokens, in this order.
    expect(JSON.stringify({ ...s.bodies[0], messages: [] })).toBe(`{"model":"${MODEL}","messages":[],"temperature":0,"max_tokens":1024}`);
  });

  it('the spec keys tokenField= and temperature=server (prefrl label) send the same as the options', async () => {
    const s = await serve();
    const t = makeTeacher(`vlm:baseUrl=${s.url},model=${MODEL},tokenField=max_completion_tokens,temperature=server,labelMaxTokens=500`, {
      env: TOY_SPEC,
      rng: new Rng(0),
      vlm: { renderer: new SolidRenderer(), cacheDir: null, env: {}, teacher: { view: { width: 16, height: 16 }, pairConcurrency: 1 } },
    }) as VlmTeacher;
    expect(t.id).toBe(`vlm(${MODEL}):size=16x16,temperature=server,labelMaxTokens=500,tokenField=max_completion_tokens`);
    await t.label([pair(3, 4)]);
    expect(s.bodies.map(shape)).toEqual([[['max_completion_tokens', 1024]], [['max_completion_tokens', 500]]]);
  });

  it('prefrl offline passes its config on as the spec (vlmSpec), nothing for the defaults', () => {
    const base = { dataset: 'd.h5', teacher: 'vlm' as const, vlm: { baseUrl: 'http://x/v1', model: 'o4-mini' } };
    expect(vlmSpec(resolveOfflineConfig(base).vlm)).toBe('vlm');
    expect(vlmSpec(resolveOfflineConfig({ ...base, vlm: { ...base.vlm, temperature: 'server', tokenField: 'max_completion_tokens' } }).vlm)).toBe('vlm:temperature=server,tokenField=max_completion_tokens');
    expect(vlmSpec(resolveOfflineConfig({ ...base, vlm: { ...base.vlm, temperature: 0.25 } }).vlm)).toBe('vlm:temperature=0.25');
    // A run saved before the settings existed has neither key: the defaults, the same teacher as then.
    const old = resolveOfflineConfig({ ...base, vlm: { ...base.vlm } });
    expect([old.vlm.temperature, old.vlm.tokenField]).toEqual([null, 'max_tokens']);
  });
});

describe('prefrl offline: the settings reach the requests, the teacher id and config.json', () => {
  const toy = useToyDataset('prefrl-vlm-reasoning-offline-', 4, { wasm: true });

  it('a run with --vlm-token-field max_completion_tokens and --vlm-temperature server sends them in every request', async () => {
    const bodies: Body[] = [];
    const fetch = async (_url: string, init: RequestInit): Promise<Response> => {
      const body = JSON.parse(String(init.body)) as Body;
      bodies.push(body);
      const text = body.messages.length === 2 ? 'Image 1 is closer.' : '1';
      return new Response(JSON.stringify({ model: 'o4-mini-2025-04-16', choices: [{ message: { role: 'assistant', content: text }, finish_reason: 'stop' }], usage: { prompt_tokens: 9, completion_tokens: 4 } }), { status: 200 });
    };
    const vlm = { baseUrl: 'http://vlm.invalid/v1', model: 'o4-mini', temperature: 'server' as const, tokenField: 'max_completion_tokens' as const, analysisMaxTokens: 8000, labelMaxTokens: 2000 };
    const config = { dataset: toy.data, teacher: 'vlm' as const, labels: 3, labelBatch: 3, segmentLength: 10, vlm };
    const r = await runOffline({ config, stages: ['pairs', 'label'], runsDir: join(toy.dir, 'runs'), vlmRuntime: { fetch, renderer: new SolidRenderer(), env: {} } }, { logger: silentLogger });
    // 3 pairs, two stages each; SolidRenderer draws these segments (ids not "s<n>") alike, so the
    // three pairs ask the same two questions: one request each, the rest shared or from the cache.
    expect(bodies).toHaveLength(2);
    expect(bodies.map((b) => [b.model, ...shape(b)])).toEqual(bodies.map((b) => (b.messages.length === 2 ? ['o4-mini', ['max_completion_tokens', 8000]] : ['o4-mini', ['max_completion_tokens', 2000]])));
    expect(bodies.filter((b) => b.messages.length === 4).length).toBe(bodies.length / 2);
    const labels = JSON.parse(readFileSync(join(r.runDir, 'artifacts', 'labels.json'), 'utf8')) as { teacher: string; labels: number; preferences: number };
    expect(labels).toMatchObject({ teacher: 'vlm(o4-mini):temperature=server,analysisMaxTokens=8000,labelMaxTokens=2000,tokenField=max_completion_tokens', labels: 3, preferences: 3 });
    const saved = JSON.parse(readFileSync(join(r.runDir, 'config.json'), 'utf8')) as { config: { vlm: Record<string, unknown> } };
    expect(saved.config.vlm).toMatchObject({ temperature: 'server', tokenField: 'max_completion_tokens', analysisMaxTokens: 8000, labelMaxTokens: 2000 });
  }, 60_000);

  it("a reasoning model's refusal of max_tokens ends with a new run like this one with the flags to set, not a resume (--resume refuses them)", async () => {
    const fetch = async (): Promise<Response> =>
      new Response(JSON.stringify({ error: { message: "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.", type: 'invalid_request_error' } }), { status: 400 });
    const config = { dataset: toy.data, teacher: 'vlm' as const, labels: 2, labelBatch: 2, segmentLength: 10, vlm: { baseUrl: 'http://vlm.invalid/v1', model: 'o4-mini', retries: 0 } };
    let runDir = '';
    const err = await runOffline({ config, stages: ['pairs', 'label'], runsDir: join(toy.dir, 'runs-refused'), vlmRuntime: { fetch, renderer: new SolidRenderer(), env: {} }, onRun: (p) => (runDir = p) }, { logger: silentLogger }).catch((e: unknown) => e as Error);
    expect((err as Error).message).toContain('set --vlm-token-field max_completion_tokens (now max_tokens) and --vlm-temperature server');
    expect((err as Error).message.endsWith(`; --vlm-token-field, --vlm-temperature are fixed for a run (--resume keeps its settings): to change them, start a new run like this one: prefrl offline --like ${runDir} --vlm-token-field <value> --vlm-temperature <value>`)).toBe(true);
    expect((err as Error).message).not.toContain('--resume ' + runDir);
  }, 60_000);
});

describe('the answer cache', () => {
  const msgs: ChatMessage[] = [
    { role: 'system', content: 'Judge two images.' },
    { role: 'user', content: [{ type: 'text', text: 'Which is better?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] },
  ];
  // Computed with reward/vlm/cache.ts as it was before tokenField and a null temperature (commit 09b524b).
  const OLD_KEY = '382f9869ac0dddba6d106ebbb6fe9329b02e4ceb89be16b8840fd947d3d8b701';
  const OLD_UNCUT = '493341d791192bf9253700bf558ab36ac8ac913fafd20dfb30b9b932b3e2ed80';

  it('the default settings keep the keys of before; another field or no temperature is another key', () => {
    expect(cacheKey(MODEL, msgs, { temperature: 0, maxTokens: 16 })).toBe(OLD_KEY);
    expect(cacheKey(MODEL, msgs, { temperature: 0, maxTokens: 16, tokenField: 'max_tokens' })).toBe(OLD_KEY);
    expect(uncutKey(MODEL, msgs, { temperature: 0, maxTokens: 16 })).toBe(OLD_UNCUT);
    expect(uncutKey(MODEL, msgs, { temperature: 0, maxTokens: 99, tokenField: 'max_tokens' })).toBe(OLD_UNCUT);
    const others = [
      cacheKey(MODEL, msgs, { temperature: 0, maxTokens: 16, tokenField: 'max_completion_tokens' }),
      cacheKey(MODEL, msgs, { maxTokens: 16 }),
      cacheKey(MODEL, msgs, { maxTokens: 16, tokenField: 'max_completion_tokens' }),
    ];
    expect(new Set([OLD_KEY, ...others]).size).toBe(4);
    // The uncut key keeps the field's name too (a server that ignores max_completion_tokens sets no limit).
    expect(uncutKey(MODEL, msgs, { temperature: 0, maxTokens: 16, tokenField: 'max_completion_tokens' })).not.toBe(OLD_UNCUT);
    expect(uncutKey(MODEL, msgs, { maxTokens: 16 })).not.toBe(OLD_UNCUT);
  });

  it('an answer cached before the change is served with the default settings: no request', async () => {
    const s = await serve();
    const dir = tmp();
    // The entry as the client wrote it then (its layout: <dir>/<key[0..2]>/<key>.json).
    makeFolder(join(dir, OLD_KEY.slice(0, 2)));
    const entry = {
      format: 1,
      key: OLD_KEY,
      model: MODEL,
      created: '2026-12-01T00:00:00.000Z',
      params: { temperature: 0, maxTokens: 16 },
      prompt: [],
      text: '1',
      finishReason: 'stop',
      usage: { promptTokens: 50, completionTokens: 1 },
      servedModel: MODEL,
    };
    writeFileSync(join(dir, OLD_KEY.slice(0, 2), `${OLD_KEY}.json`), JSON.stringify(entry));
    makeFolder(join(dir, 'uncut', OLD_UNCUT.slice(0, 2)));
    writeFileSync(join(dir, 'uncut', OLD_UNCUT.slice(0, 2), `${OLD_UNCUT}.json`), JSON.stringify({ ...entry, key: OLD_UNCUT }));
    const c = new VlmClient({ baseUrl: s.url, model: MODEL, env: {}, rng: new Rng(1), cacheDir: dir });
    const same = await c.chat(msgs, { temperature: 0, maxTokens: 16 });
    expect([same.text, same.cached, same.key]).toEqual(['1', true, OLD_KEY]);
    // A raised limit in max_tokens is answered by the reply that ended on its own (the uncut entry).
    const raised = await c.chat(msgs, { temperature: 0, maxTokens: 64 });
    expect([raised.text, raised.cached]).toEqual(['1', true]);
    expect(s.bodies).toHaveLength(0);
    // The same limit in max_completion_tokens, or no temperature: asked (the server may answer otherwise).
    const field = await c.chat(msgs, { temperature: 0, maxTokens: 64, tokenField: 'max_completion_tokens' });
    const noTemp = await c.chat(msgs, { maxTokens: 16 });
    expect([field.cached, noTemp.cached, field.text]).toEqual([false, false, 'Image 0 shows the block on the target.']);
    expect(s.bodies.map(shape)).toEqual([[['temperature', 0], ['max_completion_tokens', 64]], [['max_tokens', 16]]]);
    expect(c.counts()).toMatchObject({ calls: 4, requests: 2, cacheHits: 2, savedPromptTokens: 100, savedCompletionTokens: 2 });
  });

  it('through the teacher: each setting asks once, then its own answers come from the cache', async () => {
    const s = await serve();
    const dir = tmp();
    const ask = async (topts: Partial<VlmTeacherOptions>) => {
      const before = s.bodies.length;
      const t = teacher(s.url, topts, dir);
      const labels = await t.label([pair(1, 2), pair(3, 4)]);
      expect(labels.map((l) => l.kind)).toEqual(['preference', 'preference']);
      return { sent: s.bodies.length - before, id: t.id, hits: t.client.counts().cacheHits };
    };
    // 2 pairs x 2 stages = 4 requests for a setting not asked before, 0 (4 hits) after.
    expect(await ask({})).toEqual({ sent: 4, id: `vlm(${MODEL}):size=16x16`, hits: 0 });
    expect(await ask({ tokenField: 'max_tokens', temperature: 0 })).toEqual({ sent: 0, id: `vlm(${MODEL}):size=16x16`, hits: 4 });
    expect(await ask({ tokenField: 'max_completion_tokens' })).toEqual({ sent: 4, id: `vlm(${MODEL}):size=16x16,tokenField=max_completion_tokens`, hits: 0 });
    expect(await ask({ temperature: null })).toEqual({ sent: 4, id: `vlm(${MODEL}):size=16x16,temperature=server`, hits: 0 });
    expect(await ask({ temperature: null, tokenField: 'max_completion_tokens' })).toEqual({ sent: 4, id: `vlm(${MODEL}):size=16x16,temperature=server,tokenField=max_completion_tokens`, hits: 0 });
    expect(await ask({ tokenField: 'max_completion_tokens' })).toEqual({ sent: 0, id: `vlm(${MODEL}):size=16x16,tokenField=max_completion_tokens`, hits: 4 });
    expect(await ask({ temperature: null })).toEqual({ sent: 0, id: `vlm(${MODEL}):size=16x16,temperature=server`, hits: 4 });
    expect(s.bodies).toHaveLength(16);
  });

  it('a reply that ended on its own under max_completion_tokens is served for a raised limit in that field, not in max_tokens', async () => {
    const s = await serve();
    const c = new VlmClient({ baseUrl: s.url, model: MODEL, env: {}, rng: new Rng(1), cacheDir: tmp() });
    await c.chat(msgs, { maxTokens: 16, tokenField: 'max_completion_tokens' });
    expect((await c.chat(msgs, { maxTokens: 32, tokenField: 'max_completion_tokens' })).cached).toBe(true);
    expect((await c.chat(msgs, { maxTokens: 32 })).cached).toBe(false);
    expect(s.bodies.map(shape)).toEqual([[['max_completion_tokens', 16]], [['max_tokens', 32]]]);
  });
});

/** A stub answering every request with a 400 and `body`. */
async function refuse(body: string): Promise<{ url: string; count: () => number }> {
  let n = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      n++;
      res.writeHead(400, { 'Content-Type': 'application/json' });
      res.end(body);
    });
  });
  servers.push(server);
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, count: () => n };
}

describe('the 400 of a model that refuses the field or the temperature names the flag to set', () => {
  // OpenAI's refusals, as its API words them.
  const FIELD = `{"error":{"message":"Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.","type":"invalid_request_error","param":"max_tokens","code":"unsupported_parameter"}}`;
  const TEMP = `{"error":{"message":"Unsupported value: 'temperature' does not support 0 with this model. Only the default (1) value is supported.","type":"invalid_request_error","param":"temperature","code":"unsupported_value"}}`;
  const FLAGS = { baseUrl: '--vlm-base-url', model: '--vlm-model', keyEnv: '--vlm-key-env' };
  const LEAD = "; the model refuses what the teacher sends for the reply length limit or the temperature (OpenAI's reasoning models, o1, o3, o4-mini and gpt-5, take only max_completion_tokens and their default temperature): set ";
  const TAIL = '; local servers (vLLM, Ollama, LM Studio, llama.cpp) read max_tokens';
  const hintOf = async (body: string, topts: Partial<VlmTeacherOptions>): Promise<string> => {
    const s = await refuse(body);
    const t = teacher(s.url, { settingNames: FLAGS, ...topts });
    const e = await t.label([pair(1, 2)]).then(
      () => null,
      (x: Error) => x,
    );
    // A 400 is not retried: one request.
    expect(s.count()).toBe(1);
    const m = e?.message ?? '';
    return m.slice(m.indexOf(body) + body.length);
  };

  it.each([
    ['max_tokens refused, defaults: both flags, the field first', FIELD, {}, `${LEAD}--vlm-token-field max_completion_tokens (now max_tokens) and --vlm-temperature server (now 0; none sent: the model's default)${TAIL}`],
    ['temperature refused, defaults: both flags, the temperature first', TEMP, {}, `${LEAD}--vlm-temperature server (now 0; none sent: the model's default) and --vlm-token-field max_completion_tokens (now max_tokens)${TAIL}`],
    ['temperature refused, the field already set: only the temperature', TEMP, { tokenField: 'max_completion_tokens' }, `${LEAD}--vlm-temperature server (now 0; none sent: the model's default)${TAIL}`],
    ['temperature 0.3 refused with no temperature set', TEMP, { temperature: 0.3, tokenField: 'max_completion_tokens' }, `${LEAD}--vlm-temperature server (now 0.3; none sent: the model's default)${TAIL}`],
    ['max_tokens refused, the temperature already left out: only the field', FIELD, { temperature: null }, `${LEAD}--vlm-token-field max_completion_tokens (now max_tokens)${TAIL}`],
    [
      'both already as such a model takes them: the plain 400 hint',
      TEMP,
      { temperature: null, tokenField: 'max_completion_tokens' },
      `; the server refused the request as sent (see its message): does --vlm-model (now ${MODEL}) take images, and does its context hold two images of --vlm-width and --vlm-height?`,
    ],
  ] as const)('%s', async (_name, body, topts, want) => {
    expect(await hintOf(body, topts as Partial<VlmTeacherOptions>)).toBe(want);
  });

  it('the spec names the spec keys (prefrl label)', async () => {
    expect(await hintOf(FIELD, { settingNames: { baseUrl: 'baseUrl= in --teacher', model: 'model= in --teacher', keyEnv: 'keyEnv= in --teacher' } })).toBe(
      `${LEAD}tokenField=max_completion_tokens in --teacher (now max_tokens) and temperature=server in --teacher (now 0; none sent: the model's default)${TAIL}`,
    );
  });
});

describe('bad settings are refused, naming the option, key or flag', () => {
  const client = () => new VlmClient({ baseUrl: 'http://127.0.0.1:9/v1', model: MODEL, env: {}, rng: new Rng(1) });
  const make = (o: Record<string, unknown>) => () => new VlmTeacher({ goal: 'g', client: client(), renderer: new SolidRenderer(), ...o } as VlmTeacherOptions);

  it('misspelt library options', () => {
    expect(make({ tokenFeild: 'max_completion_tokens' })).toThrow(/^VLM teacher: unknown option "tokenFeild" \(the options: goal, client, frames, view, viewByEnv, temperature, seed, analysisMaxTokens, labelMaxTokens, tokenField, imageDetail, /);
    expect(make({ maxTokensField: 'x', temprature: null })).toThrow('VLM teacher: unknown options "maxTokensField", "temprature" (the options: ');
    const env = TOY_SPEC;
    // makeTeacher's vlm options: tokenField belongs under `teacher`.
    expect(() => makeTeacher('vlm:baseUrl=http://127.0.0.1:9/v1,model=m', { env, rng: new Rng(0), vlm: { tokenField: 'max_completion_tokens' } as never })).toThrow(
      /^makeTeacher: vlm: unknown option "tokenField" \(the options: baseUrl, model, apiKeyEnv, cacheDir, client, teacher, /,
    );
    expect(() => makeTeacher('vlm:baseUrl=http://127.0.0.1:9/v1,model=m', { env, rng: new Rng(0), vlm: { teacher: { tokenFeild: 'x' } as never, renderer: new SolidRenderer() } })).toThrow(
      'VLM teacher: unknown option "tokenFeild"',
    );
  });

  it('bad values of the options, the spec keys and the client params', async () => {
    expect(make({ tokenField: 'max_output_tokens' })).toThrow('VLM teacher: tokenField must be one of "max_tokens", "max_completion_tokens", got "max_output_tokens"');
    expect(make({ temperature: -0.5 })).toThrow('VLM teacher: temperature must be >= 0, got -0.5');
    expect(make({ temperature: Number.POSITIVE_INFINITY })).toThrow('VLM teacher: temperature must be >= 0, got Infinity');
    expect(make({ temperature: 'server' })).toThrow(`VLM teacher: temperature must be a number >= 0, or null (none sent: the server's default), got "server"`);
    const env = TOY_SPEC;
    const spec = (p: string) => () => makeTeacher(`vlm:baseUrl=http://127.0.0.1:9/v1,model=m,${p}`, { env, rng: new Rng(0), vlm: { renderer: new SolidRenderer() } });
    expect(spec('tokenField=max_output_tokens')).toThrow('parameter "tokenField" must be one of max_tokens, max_completion_tokens, got "max_output_tokens"');
    expect(spec('temperature=default')).toThrow(`parameter "temperature" must be a number >= 0 or server (none sent: the server's default), got "default"`);
    expect(spec('temperature=-1')).toThrow('parameter "temperature" must be a number >= 0 or server');
    await expect(client().chat([{ role: 'user', content: 'x' }], { maxTokens: 4, tokenField: 'max_new_tokens' as never })).rejects.toThrow('VLM client: tokenField must be one of max_tokens, max_completion_tokens, got "max_new_tokens"');
  });

  it('a saved config.json with a bad value names the file and key', () => {
    const base = { dataset: 'd.h5', teacher: 'vlm' as const };
    const saved = { file: 'runs/x/config.json', flagKeys: new Set<string>() };
    const err = (vlm: Record<string, unknown>) => {
      try {
        resolveOfflineConfig({ ...base, vlm: { baseUrl: 'http://x/v1', model: 'm', ...vlm } }, saved);
      } catch (e) {
        expect(e).toBeInstanceOf(InputError);
        return (e as Error).message;
      }
      throw new Error('expected an InputError');
    };
    expect(err({ temperature: 'hot' })).toBe('runs/x/config.json (vlm.temperature): expected a number >= 0 or server (none sent: the server\'s default), got "hot"');
    expect(err({ tokenField: 'max_new_tokens' })).toBe('runs/x/config.json (vlm.tokenField): expected one of max_tokens, max_completion_tokens, got "max_new_tokens"');
  });

  const runs = () => join(tmp(), 'runs');
  const vlmArgs = ['offline', '--dataset', 'nowhere.h5', '--teacher', 'vlm', '--vlm-base-url', 'http://127.0.0.1:9/v1', '--vlm-model', 'o4-mini'];

  it('the flags: a bad value is exit 2 naming the flag, before any run folder', async () => {
    await expectUsageError([...vlmArgs, '--vlm-temperature', 'default'], runs(), /--vlm-temperature: expected a number >= 0 or server \(none sent: the server's default\), got "default"/);
    await expectUsageError([...vlmArgs, '--vlm-temperature', '-0.1'], runs(), /--vlm-temperature: expected a number >= 0 or server/);
    await expectUsageError([...vlmArgs, '--vlm-token-field', 'max_output_tokens'], runs(), /--vlm-token-field.*max_output_tokens/);
    await expectUsageError(
      ['offline', '--dataset', 'nowhere.h5', '--teacher', 'oracle', '--vlm-temperature', 'server', '--vlm-token-field', 'max_completion_tokens'],
      runs(),
      /--vlm-\*: only for --teacher vlm \(given: --vlm-token-field, --vlm-temperature; the teacher is oracle\)/,
    );
  });

  it('the flags are the saved config\'s with --resume, as the token limits are: refused, pointing to --like', async () => {
    const run = join(tmp(), 'some-run');
    await expectUsageError(['offline', '--resume', run, '--vlm-token-field', 'max_completion_tokens', '--vlm-temperature', 'server'], runs(), /--resume: the run's saved config is used; drop --vlm-token-field, --vlm-temperature \(to change them, start a new run like this one: prefrl offline --like .*some-run with --vlm-token-field, --vlm-temperature and their new values\)/);
  });
});
