/**
 * The VLM teacher's counts of an offline run whose label stage failed part way (the fake server
 * refuses from its 5th request on) and was resumed are the whole run's: every request the fake
 * server saw, the failed ones, the tokens of the answered ones, in teacher_counts.json, the summary, the
 * last metrics row and the report; a damaged counts file is an error naming it; the report's
 * lines for the counts and the stage seconds.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../core/log.js';
import { type OfflineConfigInput, runOffline } from '../../reward/offline.js';
import type { Segment } from '../../reward/types.js';
import { encodePng } from '../../reward/vlm/png.js';
import type { SegmentFrameRenderer } from '../../reward/vlm/render.js';
import { stageSecondsLine, teacherCountsLine, formatOfflineSummary } from '../../scripts/commands/offline.js';
import { useToyDataset } from '../helpers/toy_dataset.js';

const toy = useToyDataset('prefrl-offline-teacher-counts-', 20);

// Each segment's image is its id's first 16 characters: no two pairs ask the same question.
const renderer: SegmentFrameRenderer = {
  render: async (segment: Segment, steps: readonly number[]) => steps.map(() => encodePng({ width: 2, height: 2, rgba: Uint8Array.from(segment.id.padEnd(16).slice(0, 16), (ch) => ch.charCodeAt(0)) })),
  close: async () => undefined,
};

/** A fake chat-completions server: answers "0" (the first is better) with 5 prompt + 1 completion tokens, or HTTP 500 while `down`. */
function fakeServer(): { fetch: (url: string, init: RequestInit) => Promise<Response>; seen: () => number; down: (from: number) => void } {
  let seen = 0;
  let downFrom = Infinity;
  return {
    fetch: async (_url, init) => {
      seen++;
      if (seen >= downFrom) return new Response(JSON.stringify({ error: { message: 'overloaded' } }), { status: 500 });
      const body = JSON.parse(String(init.body)) as { model: string; messages: unknown[] };
      const reply = { model: body.model, choices: [{ message: { content: body.messages.length === 2 ? 'analysis' : '0' }, finish_reason: 'stop' }], usage: { prompt_tokens: 5, completion_tokens: 1 } };
      return new Response(JSON.stringify(reply), { status: 200 });
    },
    seen: () => seen,
    down: (from) => (downFrom = from),
  };
}

const config = (): OfflineConfigInput => ({
  dataset: toy.data,
  teacher: 'vlm',
  labels: 6,
  labelBatch: 2,
  segmentLength: 10,
  rewardMembers: 2,
  rewardHidden: [8],
  rewardEpochs: 2,
  updates: 10,
  batchSize: 16,
  hidden: [8],
  evalEpisodes: 1,
  backend: 'wasm',
  vlm: { baseUrl: 'http://vlm.invalid/v1', model: 'fake-vl', retries: 0 },
});

describe('offline: the VLM teacher\'s counts over a failed and a resumed attempt', () => {
  it('count every request the server saw, the failures and the tokens, in teacher_counts.json, the summary, the last metrics row and the report', async () => {
    const server = fakeServer();
    // Batch 1 (2 pairs, 2 requests each) is answered; batch 2's first requests (the 5th and 6th) fail.
    server.down(5);
    let runDir = '';
    const vlmRuntime = { fetch: server.fetch, renderer, env: {} };
    const err = await runOffline({ config: config(), stages: ['pairs', 'label'], runsDir: join(toy.dir, 'runs'), vlmRuntime, onRun: (p) => (runDir = p) }, { logger: silentLogger }).catch((e: unknown) => e as Error);
    expect((err as Error).message).toMatch(/^VLM teacher: 2 of 2 queries failed/);
    expect(server.seen()).toBe(6);
    const first = JSON.parse(readFileSync(join(runDir, 'artifacts', 'teacher_counts.json'), 'utf8')) as { labels: number; counts: Record<string, number> };
    expect(first.labels).toBe(2);
    expect(first.counts).toMatchObject({ 'vlm/labels_first': 2, 'vlm/failed': 2, 'vlm/calls': 6, 'vlm/requests': 6, 'vlm/errors': 2, 'vlm/total_tokens': 24 });

    // Resumed with the server up: batches 2 and 3 (4 pairs, 8 requests).
    server.down(Infinity);
    const res = await runOffline({ resume: runDir, vlmRuntime }, { logger: silentLogger });
    expect(server.seen()).toBe(14);
    // Hand-counted: 6 pairs answered "0"; 14 requests, 2 of them failed; 12 answered at 5 + 1 tokens.
    const want = {
      'vlm/labels_first': 6,
      'vlm/labels_second': 0,
      'vlm/unsure': 0,
      'vlm/unparseable': 0,
      'vlm/malformed': 0,
      'vlm/failed': 2,
      'vlm/cut_analysis': 0,
      'vlm/cut_label': 0,
      'vlm/calls': 14,
      'vlm/requests': 14,
      'vlm/retries': 0,
      'vlm/timeouts': 0,
      'vlm/errors': 2,
      'vlm/cache_hits': 0,
      'vlm/prompt_tokens': 60,
      'vlm/completion_tokens': 12,
      'vlm/total_tokens': 72,
      'vlm/saved_prompt_tokens': 0,
      'vlm/saved_completion_tokens': 0,
    };
    expect(JSON.parse(readFileSync(join(runDir, 'artifacts', 'teacher_counts.json'), 'utf8'))).toEqual({ teacher: 'vlm(fake-vl)', labels: 6, counts: want });
    expect(res.summary?.teacherCounts).toEqual(want);
    const rows = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((r) => 'vlm/requests' in r);
    // One row per attempt, each the run's totals so far: the last is the run's.
    expect(rows.map((r) => r['vlm/requests'])).toEqual([6, 14]);
    expect(rows[1]).toMatchObject(want);
    const report = formatOfflineSummary(res.summary!);
    expect(report).toContain('\nteacher counts (all attempts of the label stage): labels_first 6, failed 2, calls 14, requests 14, errors 2, prompt_tokens 60, completion_tokens 12, total_tokens 72\n');
    // The label stage's last attempt went on from the labels the failed one stored.
    expect(res.summary?.stageTiming).toEqual({ pairs: 'whole', label: 'last-attempt', reward: 'whole', relabel: 'whole', iql: 'whole', eval: 'whole' });
    expect(report).toContain('label ');
    expect(report).toMatch(/\nstage seconds: pairs \d+\.\d, label \d+\.\d \(last attempt only: it went on from work saved before\), reward \d+\.\d, relabel \d+\.\d, iql \d+\.\d, eval \d+\.\d\n/);
  }, 60_000);

  it('a damaged counts file is an error naming the file and the key, and what to do', async () => {
    const server = fakeServer();
    server.down(3);
    let runDir = '';
    const vlmRuntime = { fetch: server.fetch, renderer, env: {} };
    await runOffline({ config: config(), stages: ['pairs', 'label'], runsDir: join(toy.dir, 'bad'), vlmRuntime, onRun: (p) => (runDir = p) }, { logger: silentLogger }).catch(() => undefined);
    const file = join(runDir, 'artifacts', 'teacher_counts.json');
    const saved = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    writeFileSync(file, JSON.stringify({ ...saved, counts: { 'vlm/requests': -3 } }));
    server.down(Infinity);
    const err = await runOffline({ resume: runDir, stages: ['label'], vlmRuntime }, { logger: silentLogger }).catch((e: unknown) => e as Error);
    expect((err as Error).message).toBe(`${file} (counts): expected numbers >= 0 by name; delete the file to count this run's teacher requests and answers from zero`);
    rmSync(file);
    const res = await runOffline({ resume: runDir, stages: ['label'], vlmRuntime }, { logger: silentLogger });
    expect(res.stages).toEqual({ label: 'ran' });
  }, 60_000);
});

describe('offline: a last batch smaller than --label-batch', () => {
  it('asks each of its pairs once (it was handed its pairs twice: the VLM paid twice and the stage failed storing two answers with one id)', async () => {
    const server = fakeServer();
    // 5 pairs in batches of 2: the last batch holds one pair.
    const res = await runOffline({ config: { ...config(), labels: 5 }, stages: ['pairs', 'label'], runsDir: join(toy.dir, 'last'), vlmRuntime: { fetch: server.fetch, renderer, env: {} } }, { logger: silentLogger });
    expect(res.stages).toEqual({ pairs: 'ran', label: 'ran' });
    expect(server.seen()).toBe(10);
    const saved = JSON.parse(readFileSync(join(res.runDir, 'artifacts', 'teacher_counts.json'), 'utf8')) as { counts: Record<string, number> };
    expect(saved.counts).toMatchObject({ 'vlm/labels_first': 5, 'vlm/calls': 10, 'vlm/requests': 10 });
  }, 60_000);

  it('the synthetic VLM decides each pair once: its counts add up to the labels (80 pairs in batches of 7)', async () => {
    const res = await runOffline(
      { config: { ...config(), teacher: 'synthetic-vlm', vlm: undefined, labels: 80, labelBatch: 7 }, stages: ['pairs', 'label'], runsDir: join(toy.dir, 'last-synthetic') },
      { logger: silentLogger },
    );
    const c = (JSON.parse(readFileSync(join(res.runDir, 'artifacts', 'teacher_counts.json'), 'utf8')) as { counts: Record<string, number> }).counts;
    expect(c['vlm/labels_first'] + c['vlm/labels_second'] + c['vlm/unsure'] + c['vlm/no_success']).toBe(80);
  }, 60_000);
});

describe('the report lines', () => {
  it('teacher counts: the nonzero ones, without the vlm/ prefix, in order; none: no line', () => {
    expect(teacherCountsLine({ 'vlm/labels_first': 3, 'vlm/unsure': 0, 'vlm/requests': 7, ok: 1 })).toBe('teacher counts (all attempts of the label stage): labels_first 3, requests 7, ok 1');
    expect(teacherCountsLine({ 'vlm/requests': 0 })).toBeNull();
  });
  it('stage seconds: each stage to 0.1 s, the ones of a last attempt marked, the unrecorded named', () => {
    expect(
      stageSecondsLine({
        stageSeconds: { pairs: 0.04, label: 12.25, reward: 3, eval: 1.96 },
        stageTiming: { pairs: 'whole', label: 'last-attempt', reward: 'whole', relabel: 'not-recorded', iql: 'not-recorded', eval: 'whole' },
      }),
    ).toBe('stage seconds: pairs 0.0, label 12.3 (last attempt only: it went on from work saved before), reward 3.0, eval 2.0; not recorded: relabel, iql (done by a process stopped before it logged its time)');
    // A summary written before stageTiming: the seconds alone.
    expect(stageSecondsLine({ stageSeconds: { pairs: 1 } })).toBe('stage seconds: pairs 1.0');
  });
});
