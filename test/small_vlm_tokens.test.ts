/**
 * The VLM teacher's reply length limits (analysisMaxTokens, labelMaxTokens): settable from
 * `prefrl label`'s teacher spec and `prefrl offline`'s --vlm-*-max-tokens flags, part of the
 * teacher id and the answer cache's key; a reply cut at its limit (finish_reason "length") says so
 * with the setting to raise. And offline's label stage, when its VLM fails, says what the requests
 * cost, as `prefrl label` does.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDataset } from '../agents/dataset.js';
import { Logger } from '../core/log.js';
import { Rng } from '../core/rng.js';
import { rollout } from '../envs/rollout.js';
import { TOY_SPEC, ToyReachEnv } from '../envs/toy.js';
import { OFFLINE_DEFAULTS, type OfflineConfigInput, resolveOfflineConfig, runOffline, vlmSpec } from '../reward/offline.js';
import { TeacherSpecError } from '../reward/teachers/spec_error.js';
import { VLM_FLAG_SETTING_NAMES, VlmTeacher, vlmTeacherFromSpec, vlmUsageLine } from '../reward/teachers/vlm.js';
import type { Pair, Segment } from '../reward/types.js';
import { VlmClient } from '../reward/vlm/client.js';
import { cacheKey, fitsLimit, uncutKey } from '../reward/vlm/cache.js';
import { decodePng, encodePng } from '../reward/vlm/png.js';
import type { SegmentFrameRenderer } from '../reward/vlm/render.js';
import { main } from '../scripts/cli.js';
import { captureCli, usageMessage } from './helpers/cli.js';
import { handSegment } from './helpers/segments.js';
import { toyReachDataset } from './helpers/toy_dataset.js';

let dir = '';
let data = '';
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'small-vlm-tokens-'));
  const env = new ToyReachEnv();
  const trajs = Array.from({ length: 4 }, (_, k) => rollout(env, () => [0.5, -0.5], { episodes: 1, seed: 10 + k })[0]);
  const ds = toyReachDataset(trajs);
  data = await writeDataset(join(dir, 'toy.h5'), ds);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function seg(n: number): Segment {
  return handSegment(`s${n}`, 2, { envId: 'test', rewards: Float64Array.from([0, 0]), terms: Float64Array.from([0, 0]), time: Float64Array.from([0, 0.1, 0.2]), success: Float32Array.from([0, 0]) });
}
const pair = (a: number, b: number): Pair => ({ id: `p${a}-${b}`, a: seg(a), b: seg(b) });

/** A different solid colour per segment (so no two pairs share a request). */
const renderer: SegmentFrameRenderer = {
  render: async (segment: Segment, steps: readonly number[]) => {
    const rgba = new Uint8Array(4 * 4 * 4).fill(Number(segment.id.replace(/\D/g, '')) % 256);
    return steps.map(() => encodePng({ width: 4, height: 4, rgba }));
  },
  close: async () => undefined,
};

type Body = { max_tokens?: number; messages: unknown[] };
/** A chat-completions stub: `reply(stage, n)` gives the content and finish reason of request n; the bodies are kept. */
function stub(reply: (stage: 1 | 2, n: number) => { content: string | null; finish: string }): { fetch: (url: string, init: RequestInit) => Promise<Response>; bodies: Body[] } {
  const bodies: Body[] = [];
  const fetch = async (_url: string, init: RequestInit): Promise<Response> => {
    const body = JSON.parse(String(init.body)) as Body;
    bodies.push(body);
    const r = reply(body.messages.length === 2 ? 1 : 2, bodies.length - 1);
    const json = { model: 'fake-vl', choices: [{ index: 0, message: { role: 'assistant', content: r.content }, finish_reason: r.finish }], usage: { prompt_tokens: 10, completion_tokens: 3 } };
    return new Response(JSON.stringify(json), { status: 200, headers: { 'Content-Type': 'application/json' } });
  };
  return { fetch, bodies };
}
const answers = (stage: 1 | 2) => ({ content: stage === 1 ? 'The first is closer.' : '0', finish: 'stop' });

/** Which pair a request is about: the first image's colour byte is the first segment's number (see `renderer`). */
function bodyPair(body: Body): number {
  const url = /"url":"data:image\/png;base64,([^"]+)"/.exec(JSON.stringify(body.messages))![1];
  return decodePng(Buffer.from(url, 'base64')).rgba[0];
}


const fromSpec = (params: string, vlm: Record<string, unknown>): VlmTeacher =>
  vlmTeacherFromSpec(`vlm:${params}`, params, { env: TOY_SPEC, rng: new Rng(0), vlm: { renderer, env: {}, ...vlm } });

describe('VLM token limits: the teacher spec of prefrl label', () => {
  it('analysisMaxTokens and labelMaxTokens reach the requests as max_tokens and name the teacher', async () => {
    const s = stub(answers);
    const t = fromSpec('baseUrl=http://vlm.invalid/v1,model=fake-vl,analysisMaxTokens=4096,labelMaxTokens=256', { fetch: s.fetch, cacheDir: null });
    expect(t.id).toBe('vlm(fake-vl):analysisMaxTokens=4096,labelMaxTokens=256');
    const labels = await t.label([pair(1, 2)]);
    expect(labels[0]).toMatchObject({ kind: 'preference', probFirst: 1, teacher: t.id });
    expect(s.bodies.map((b) => b.max_tokens)).toEqual([4096, 256]);
    // The defaults are left out of the id, and sent: 1024 and 16.
    const d = stub(answers);
    const t0 = fromSpec('baseUrl=http://vlm.invalid/v1,model=fake-vl', { fetch: d.fetch, cacheDir: null });
    expect(t0.id).toBe('vlm(fake-vl)');
    await t0.label([pair(1, 2)]);
    expect(d.bodies.map((b) => b.max_tokens)).toEqual([1024, 16]);
  });

  it('a changed limit is served the cached replies that ended on their own within it; a lowered one below a reply\'s length asks again', async () => {
    const cacheDir = join(dir, 'cache-limits');
    const a = stub(answers);
    const first = await fromSpec('baseUrl=http://vlm.invalid/v1,model=fake-vl', { fetch: a.fetch, cacheDir }).label([pair(1, 2)]);
    expect(a.bodies).toHaveLength(2);
    // Same limits again: both stages from the cache, no request.
    const same = stub(answers);
    await fromSpec('baseUrl=http://vlm.invalid/v1,model=fake-vl', { fetch: same.fetch, cacheDir }).label([pair(1, 2)]);
    expect(same.bodies).toHaveLength(0);
    // Raised limits (4096, 64): both replies stopped on their own (3 tokens each), so both come from the cache.
    const raised = stub(answers);
    const t = fromSpec('baseUrl=http://vlm.invalid/v1,model=fake-vl,analysisMaxTokens=4096,labelMaxTokens=64', { fetch: raised.fetch, cacheDir });
    const again = await t.label([pair(1, 2)]);
    expect(raised.bodies).toHaveLength(0);
    expect(again[0]).toMatchObject({ kind: 'preference', probFirst: 1, teacher: 'vlm(fake-vl):analysisMaxTokens=4096,labelMaxTokens=64' });
    expect(JSON.parse(again[0].raw as string)).toMatchObject({ analysis: JSON.parse(first[0].raw as string).analysis, cached: [true, true] });
    // A label limit of 3 still holds the 3-token reply; 2 does not (it would have been cut): asked again with 2.
    const three = stub(answers);
    await fromSpec('baseUrl=http://vlm.invalid/v1,model=fake-vl,labelMaxTokens=3', { fetch: three.fetch, cacheDir }).label([pair(1, 2)]);
    expect(three.bodies).toHaveLength(0);
    const two = stub(answers);
    await fromSpec('baseUrl=http://vlm.invalid/v1,model=fake-vl,labelMaxTokens=2', { fetch: two.fetch, cacheDir }).label([pair(1, 2)]);
    expect(two.bodies.map((x) => x.max_tokens)).toEqual([2]);
  });

  it('fitsLimit and uncutKey by hand: a reply that stopped fits any limit from the one it was asked with, or from the tokens it took; a cut or unknown ending fits none', () => {
    const stopped = { finishReason: 'stop', params: { maxTokens: 1024 }, usage: { promptTokens: 10, completionTokens: 300 } };
    expect([4096, 1024, 512, 300, 299].map((l) => fitsLimit(stopped, l))).toEqual([true, true, true, true, false]);
    // The server did not count the tokens: only limits from the one it was asked with.
    const uncounted = { ...stopped, usage: { promptTokens: 0, completionTokens: 0 } };
    expect([1024, 1023].map((l) => fitsLimit(uncounted, l))).toEqual([true, false]);
    expect(fitsLimit({ ...stopped, finishReason: 'length' }, 100_000)).toBe(false);
    expect(fitsLimit({ ...stopped, finishReason: null }, 100_000)).toBe(false);
    const m = [{ role: 'user' as const, content: 'q' }];
    // The key without max_tokens: the same for every limit, another for another temperature; none without a limit.
    expect(uncutKey('a', m, { temperature: 0, maxTokens: 16 })).toBe(uncutKey('a', m, { temperature: 0, maxTokens: 4096 }));
    expect(uncutKey('a', m, { temperature: 0, maxTokens: 16 })).not.toBe(uncutKey('a', m, { temperature: 0.5, maxTokens: 16 }));
    expect(uncutKey('a', m, { temperature: 0, maxTokens: 16 })).not.toBe(cacheKey('a', m, { temperature: 0 }));
    expect(uncutKey('a', m, { temperature: 0 })).toBeNull();
  });

  it('a raised analysis limit asks again only the pairs whose analysis was cut; the answers that ended on their own are taken from the cache', async () => {
    const cacheDir = join(dir, 'cache-raised');
    // A reasoning model: pair 1-2 needs 2,000 tokens of thinking (cut below that, the content then
    // empty), pairs 3-4 and 5-6 answer within 100.
    const reply = (limit: number | undefined, long: boolean, stage: 1 | 2) =>
      stage === 2 ? { content: '1', finish: 'stop' } : long && (limit ?? 0) < 2000 ? { content: null, finish: 'length' } : { content: 'The second is closer.', finish: 'stop' };
    const mk = () => {
      const bodies: Body[] = [];
      const fetch = async (_url: string, init: RequestInit): Promise<Response> => {
        const body = JSON.parse(String(init.body)) as Body;
        bodies.push(body);
        const r = reply(body.max_tokens, bodyPair(body) === 1, body.messages.length === 2 ? 1 : 2);
        const json = { model: 'fake-vl', choices: [{ index: 0, message: { role: 'assistant', content: r.content }, finish_reason: r.finish }], usage: { prompt_tokens: 10, completion_tokens: r.finish === 'length' ? (body.max_tokens ?? 0) : 3 } };
        return new Response(JSON.stringify(json), { status: 200, headers: { 'Content-Type': 'application/json' } });
      };
      return { fetch, bodies };
    };
    const pairs = [pair(1, 2), pair(3, 4), pair(5, 6)];
    const before = mk();
    const old = await fromSpec('baseUrl=http://vlm.invalid/v1,model=fake-vl', { fetch: before.fetch, cacheDir }).label(pairs);
    expect(old.map((l) => (l.kind === 'skip' ? 'skip' : l.probFirst))).toEqual(['skip', 0, 0]);
    // Pair 1-2: one analysis request (cut, nothing to answer from); the others: analysis and label.
    expect(before.bodies).toHaveLength(5);
    const after = mk();
    const t = fromSpec('baseUrl=http://vlm.invalid/v1,model=fake-vl,analysisMaxTokens=4096', { fetch: after.fetch, cacheDir });
    const now = await t.label(pairs);
    expect(now.map((l) => (l.kind === 'skip' ? 'skip' : l.probFirst))).toEqual([0, 0, 0]);
    // Only pair 1-2 was asked: its analysis with the raised limit, then its label.
    expect(after.bodies.map((b) => `${b.messages.length === 2 ? 'analysis' : 'label'} ${b.max_tokens} pair ${bodyPair(b)}`)).toEqual(['analysis 4096 pair 1', 'label 16 pair 1']);
    expect(t.metrics()).toMatchObject({ 'vlm/requests': 2, 'vlm/cache_hits': 4, 'vlm/cut_analysis': 0 });
    // The cut reply is still in the cache under its own limit: the old teacher gets it back unchanged (no request).
    const replay = mk();
    const oldAgain = await fromSpec('baseUrl=http://vlm.invalid/v1,model=fake-vl', { fetch: replay.fetch, cacheDir }).label(pairs);
    expect(replay.bodies).toHaveLength(0);
    expect(oldAgain.map((l) => l.kind)).toEqual(['skip', 'preference', 'preference']);
  });

  it('a limit that is not a positive integer is refused naming the key and the spec', () => {
    const bad = (params: string): string => {
      try {
        fromSpec(params, { fetch: stub(answers).fetch, cacheDir: null });
      } catch (e) {
        expect(e).toBeInstanceOf(TeacherSpecError);
        return (e as Error).message;
      }
      throw new Error('expected a TeacherSpecError');
    };
    expect(bad('baseUrl=http://h/v1,model=m,labelMaxTokens=0')).toBe('teacher spec: VLM teacher: labelMaxTokens must be a positive integer, got 0 in "vlm:baseUrl=http://h/v1,model=m,labelMaxTokens=0"');
    expect(bad('baseUrl=http://h/v1,model=m,analysisMaxTokens=1.5')).toBe('teacher spec: parameter "analysisMaxTokens" must be an integer, got "1.5" in "vlm:baseUrl=http://h/v1,model=m,analysisMaxTokens=1.5"');
  });
});

describe('VLM token limits: a reply cut at the limit (finish_reason "length")', () => {
  it('an analysis cut while thinking (no content) is a skip naming the flag; a cut analysis that goes on is warned about, with the flag', async () => {
    // Pair 1: the server's reasoning parser kept all of a cut reply as reasoning (content null).
    // Pair 2: the analysis was cut with some text; the label is a well-formed "1".
    const s = stub((stage, n) => (stage === 2 ? { content: '1', finish: 'stop' } : n === 0 ? { content: null, finish: 'length' } : { content: 'Image 0 shows', finish: 'length' }));
    let warned = '';
    const c = new VlmClient({ baseUrl: 'http://vlm.invalid/v1', model: 'fake-vl', fetch: s.fetch, rng: new Rng(0), env: {} });
    const t = new VlmTeacher({ goal: TOY_SPEC.goal, client: c, renderer, pairConcurrency: 1, settingNames: VLM_FLAG_SETTING_NAMES, logger: new Logger({ write: (x) => (warned += x) }, 'info') });
    const labels = await t.label([pair(1, 2), pair(3, 4)]);
    expect(labels.map((l) => (l.kind === 'skip' ? l.reason : `${l.kind} ${l.probFirst}`))).toEqual([
      'VLM stage 1 (analysis) reply is empty; cut at the token limit of 1024 (finish_reason "length"): raise --vlm-analysis-max-tokens',
      'preference 0',
    ]);
    expect(warned).toContain(
      '[prefrl] warn: VLM replies cut at the token limit (finish_reason "length"): the analysis of 2 of 2 pairs (at 1024 tokens; raise --vlm-analysis-max-tokens); 1 of the 2 pairs got no answer to read (stored as skips); a model that reasons before it answers needs room for its thinking\n',
    );
  });

  it('when the cut replies are what made the skips, the warning names the limit, not the answer format', async () => {
    const s = stub(() => ({ content: null, finish: 'length' }));
    let warned = '';
    const c = new VlmClient({ baseUrl: 'http://vlm.invalid/v1', model: 'fake-vl', fetch: s.fetch, rng: new Rng(0), env: {} });
    const t = new VlmTeacher({ goal: TOY_SPEC.goal, client: c, renderer, settingNames: VLM_FLAG_SETTING_NAMES, logger: new Logger({ write: (x) => (warned += x) }, 'info') });
    const labels = await t.label([pair(1, 2), pair(3, 4), pair(5, 6)]);
    expect(labels.every((l) => l.kind === 'skip')).toBe(true);
    expect(t.counts()).toMatchObject({ unparseable: 3 });
    // The run log's metrics count the cut replies per stage (3 analyses; no label was asked).
    expect(t.metrics()).toMatchObject({ 'vlm/cut_analysis': 3, 'vlm/cut_label': 0 });
    expect(warned).toBe(
      '[prefrl] warn: VLM replies cut at the token limit (finish_reason "length"): the analysis of 3 of 3 pairs (at 1024 tokens; raise --vlm-analysis-max-tokens); 3 of the 3 pairs got no answer to read (stored as skips); a model that reasons before it answers needs room for its thinking\n',
    );
  });

  it('a label cut at its limit names labelMaxTokens= in --teacher (the spec) and is counted in the warning; replies that stop are not', async () => {
    const s = stub((stage, n) => (stage === 1 ? { content: 'analysis', finish: 'stop' } : n === 1 ? { content: '<think>Compare the', finish: 'length' } : { content: '0', finish: 'stop' }));
    let warned = '';
    const t = fromSpec('baseUrl=http://vlm.invalid/v1,model=fake-vl,labelMaxTokens=8', { fetch: s.fetch, cacheDir: null, logger: new Logger({ write: (x) => (warned += x) }, 'info'), teacher: { pairConcurrency: 1 } });
    const labels = await t.label([pair(1, 2), pair(3, 4), pair(5, 6)]);
    expect(labels.map((l) => (l.kind === 'skip' ? l.reason : l.kind))).toEqual([
      'VLM label unparseable: the label reply is not exactly 0, 1 or -1: "<think>Compare the"; cut at the token limit of 8 (finish_reason "length"): raise labelMaxTokens= in --teacher',
      'preference',
      'preference',
    ]);
    expect(t.metrics()).toMatchObject({ 'vlm/cut_analysis': 0, 'vlm/cut_label': 1 });
    expect(warned).toBe(
      '[prefrl] warn: VLM replies cut at the token limit (finish_reason "length"): the label of 1 of 3 pairs (at 8 tokens; raise labelMaxTokens= in --teacher); 1 of the 3 pairs got no answer to read (stored as skips); a model that reasons before it answers needs room for its thinking\n',
    );
    // A batch with no cut reply says nothing.
    warned = '';
    const quiet = stub(answers);
    await fromSpec('baseUrl=http://vlm.invalid/v1,model=fake-vl', { fetch: quiet.fetch, cacheDir: null, logger: new Logger({ write: (x) => (warned += x) }, 'info') }).label([pair(1, 2)]);
    expect(warned).toBe('');
  });
});

describe('VLM token limits: prefrl offline', () => {
  const tiny = (vlm: Record<string, unknown>): OfflineConfigInput => ({
    dataset: data,
    teacher: 'vlm',
    labels: 4,
    labelBatch: 4,
    segmentLength: 10,
    backend: 'wasm',
    vlm: { baseUrl: 'http://vlm.invalid/v1', model: 'fake-vl', keyEnv: 'FAKE_KEY', ...vlm },
  });

  it('--vlm-analysis-max-tokens and --vlm-label-max-tokens are checked naming the flag, and go into the teacher spec', () => {
    expect(usageMessage(() => resolveOfflineConfig(tiny({ analysisMaxTokens: 0 })))).toBe('--vlm-analysis-max-tokens: expected an integer in 1..1000000, got 0');
    expect(usageMessage(() => resolveOfflineConfig(tiny({ labelMaxTokens: 2.5 })))).toBe('--vlm-label-max-tokens: expected an integer in 1..1000000, got 2.5');
    expect(vlmSpec({ ...OFFLINE_DEFAULTS.vlm, analysisMaxTokens: 4096, labelMaxTokens: 512 })).toBe('vlm:analysisMaxTokens=4096,labelMaxTokens=512');
    expect(vlmSpec({ ...OFFLINE_DEFAULTS.vlm })).toBe('vlm');
  });

  it('the limits reach the requests and the teacher id of the run; the stage says what its requests cost', async () => {
    const s = stub(answers);
    let log = '';
    const r = await runOffline(
      { config: tiny({ analysisMaxTokens: 2048, labelMaxTokens: 128 }), stages: ['pairs', 'label'], runsDir: join(dir, 'runs'), vlmRuntime: { fetch: s.fetch, renderer, env: {} } },
      { logger: new Logger({ write: (x) => (log += x) }, 'info') },
    );
    // 4 pairs, 2 requests each (every image differs: no cache hits), 10 prompt and 3 completion tokens a reply.
    expect(s.bodies).toHaveLength(8);
    expect(log).toContain('[prefrl] label: VLM usage: 8 requests (0 retries, 0 errors), 0 answers from the cache; tokens 80 prompt + 24 completion = 104\n');
    const labels = JSON.parse(readFileSync(join(r.runDir, 'artifacts', 'labels.json'), 'utf8')) as { teacher: string; labels: number };
    expect(labels).toMatchObject({ teacher: 'vlm(fake-vl):analysisMaxTokens=2048,labelMaxTokens=128', labels: 4 });
    expect(new Set(s.bodies.map((b) => `${b.messages.length === 2 ? 'analysis' : 'label'} ${b.max_tokens}`))).toEqual(new Set(['analysis 2048', 'label 128']));
  }, 60_000);

  it('--resume refuses a changed limit, saying how to raise it: a new run reading the old run\'s cache, which asks again only the replies cut at the old limit', async () => {
    // The analysis of a pair whose first image has the colour of the first one asked needs 2,000
    // tokens (cut below, content empty); the others stop at once.
    let slow: number | undefined;
    const mk = () => {
      const bodies: Body[] = [];
      const fetch = async (_url: string, init: RequestInit): Promise<Response> => {
        const body = JSON.parse(String(init.body)) as Body;
        bodies.push(body);
        if (body.messages.length === 2) slow ??= bodyPair(body);
        const cut = body.messages.length === 2 && bodyPair(body) === slow && (body.max_tokens ?? 0) < 2000;
        const r = body.messages.length === 2 ? (cut ? { content: null, finish: 'length' } : { content: 'The first is closer.', finish: 'stop' }) : { content: '0', finish: 'stop' };
        const json = { model: 'fake-vl', choices: [{ index: 0, message: { role: 'assistant', content: r.content }, finish_reason: r.finish }], usage: { prompt_tokens: 10, completion_tokens: cut ? (body.max_tokens ?? 0) : 3 } };
        return new Response(JSON.stringify(json), { status: 200, headers: { 'Content-Type': 'application/json' } });
      };
      return { fetch, bodies };
    };
    const first = mk();
    const old = await runOffline({ config: tiny({}), stages: ['pairs', 'label'], runsDir: join(dir, 'runs-cut'), vlmRuntime: { fetch: first.fetch, renderer, env: {} } }, { logger: new Logger({ write: () => undefined }, 'info') });
    const analyses = first.bodies.filter((b) => b.messages.length === 2);
    const cutPairs = analyses.filter((b) => bodyPair(b) === slow).length;
    // Both kinds among the 4 pairs, or the test shows nothing.
    expect(analyses).toHaveLength(4);
    expect(cutPairs).toBeGreaterThan(0);
    expect(cutPairs).toBeLessThan(4);
    // The cut analyses gave nothing to answer from: skips.
    expect(JSON.parse(readFileSync(join(old.runDir, 'artifacts', 'labels.json'), 'utf8'))).toMatchObject({ teacher: 'vlm(fake-vl)', labels: 4, skips: cutPairs, preferences: 4 - cutPairs });
    const k = captureCli();
    expect(await main(['offline', '--resume', old.runDir, '--vlm-analysis-max-tokens', '4096'], k.ctx)).toBe(2);
    expect(k.err.join('')).toBe(
      `prefrl offline: --resume: the run's saved config is used; drop --vlm-analysis-max-tokens (a token limit is part of the VLM teacher, and a run counts one teacher's labels: start a new run with the same flags, the new limit and --vlm-cache ${join(old.runDir, 'vlm_cache')}; it draws the same pairs and asks again only the replies cut at the old limit, the others come from the cache)\n`,
    );
    // That new run: requests only for the cut pairs (analysis at 4096, then the label), every pair answered.
    const second = mk();
    const raised = await runOffline(
      { config: tiny({ analysisMaxTokens: 4096, cacheDir: join(old.runDir, 'vlm_cache') }), stages: ['pairs', 'label'], runsDir: join(dir, 'runs-raised'), vlmRuntime: { fetch: second.fetch, renderer, env: {} } },
      { logger: new Logger({ write: () => undefined }, 'info') },
    );
    expect(second.bodies.map((b) => `${b.messages.length === 2 ? 'analysis' : 'label'} ${b.max_tokens}`).sort()).toEqual([...Array(cutPairs).fill('analysis 4096'), ...Array(cutPairs).fill('label 16')].sort());
    expect(second.bodies.every((b) => bodyPair(b) === slow)).toBe(true);
    expect(JSON.parse(readFileSync(join(raised.runDir, 'artifacts', 'labels.json'), 'utf8'))).toMatchObject({ teacher: 'vlm(fake-vl):analysisMaxTokens=4096', labels: 4, skips: 0, preferences: 4 });
  }, 60_000);

  it('a label stage whose VLM fails says what its requests cost before stopping, as prefrl label does', async () => {
    let requests = 0;
    const fetch = async (): Promise<Response> => {
      requests++;
      return new Response('{"error":{"message":"Missing bearer token"}}', { status: 401, headers: { 'Content-Type': 'application/json' } });
    };
    let log = '';
    const err = await runOffline(
      { config: tiny({}), stages: ['pairs', 'label'], runsDir: join(dir, 'runs-401'), vlmRuntime: { fetch, renderer, env: {} } },
      { logger: new Logger({ write: (x) => (log += x) }, 'info') },
    ).catch((e: unknown) => e as Error);
    expect((err as Error).message).toMatch(/^VLM teacher: 4 of 4 queries failed/);
    expect(requests).toBe(4);
    expect(log).toContain('[prefrl] before stopping: VLM usage: 4 requests (0 retries, 4 errors), 0 answers from the cache; tokens 0 prompt + 0 completion = 0\n');
  }, 60_000);

  it('vlmUsageLine: the counts by hand; null for a teacher with no requests', () => {
    expect(vlmUsageLine({ 'vlm/requests': 12, 'vlm/retries': 2, 'vlm/errors': 1, 'vlm/cache_hits': 4, 'vlm/prompt_tokens': 300, 'vlm/completion_tokens': 20, 'vlm/total_tokens': 320, 'vlm/saved_prompt_tokens': 90, 'vlm/saved_completion_tokens': 6 })).toBe(
      'VLM usage: 12 requests (2 retries, 1 error), 4 answers from the cache; tokens 300 prompt + 20 completion = 320 (the cache saved 96)',
    );
    expect(vlmUsageLine({ 'vlm/labels_first': 3 })).toBeNull();
    expect(vlmUsageLine(undefined)).toBeNull();
  });

  it('the CLI refuses the flags with another teacher, naming them (exit 2)', async () => {
    const { ctx, err } = captureCli();
    const code = await main(['offline', '--dataset', data, '--teacher', 'oracle', '--vlm-label-max-tokens', '64', '--runs-dir', join(dir, 'cli-runs'), '--quiet'], ctx);
    expect(code).toBe(2);
    expect(err.join('')).toBe('prefrl offline: --vlm-*: only for --teacher vlm (given: --vlm-label-max-tokens; the teacher is oracle)\n');
  });
});
