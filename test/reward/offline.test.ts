import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OfflineDataset, writeDataset } from '../../agents/dataset.js';
import { ManualClock } from '../../core/clock.js';
import { Logger, silentLogger } from '../../core/log.js';
import { Rng } from '../../core/rng.js';
import { OFFLINE_AGENTS, OFFLINE_DEFAULTS, type OfflineConfigInput, type QueryRound, runOffline, teacherAgreement, vlmSpec } from '../../reward/offline.js';
import { RewardNet } from '../../reward/network.js';
import { successRewards } from '../../reward/relabel.js';
import { segmentReturn } from '../../reward/segments.js';
import { LabelStore } from '../../reward/store.js';
import { SyntheticTeacher, SYNTHETIC_PRESETS } from '../../reward/teachers/synthetic.js';
import type { Segment } from '../../reward/types.js';
import { decodePng, encodePng } from '../../reward/vlm/png.js';
import type { SegmentFrameRenderer, VlmView } from '../../reward/vlm/render.js';
import { main } from '../../scripts/cli.js';
import { type CapturedCli, captureCli, lastJson, spawnCli } from '../helpers/cli.js';
import { noisyToyTrajectories, toyReachDataset } from '../helpers/toy_dataset.js';
import { stubSite, TestClient } from '../viewer/helpers.js';

let dir = '';
let data = '';
let noState = '';
let noSuccess = '';

/** Noisy goal-seeking toy-reach episodes (test/helpers/toy_dataset.ts): 24, scale 0.6 (k mod 4), so returns and final successes vary across segments. */
const toyDataset = (): OfflineDataset => toyReachDataset(noisyToyTrajectories({ episodes: 24, noiseSeed: 11, firstSeed: 100, noise: (k) => (k % 4) * 0.6 }));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'prefrl-offline-'));
  const ds = toyDataset();
  data = await writeDataset(join(dir, 'toy.h5'), ds);
  noState = await writeDataset(join(dir, 'toy-nostate.h5'), { ...ds, infos: { ...ds.infos, qpos: undefined, qvel: undefined, nextQpos: undefined, nextQvel: undefined, nq: 0, nv: 0 } });
  noSuccess = await writeDataset(join(dir, 'toy-nosuccess.h5'), { ...ds, infos: { ...ds.infos, success: undefined } });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Tiny settings: seconds, not minutes. */
const tiny = (over: Partial<OfflineConfigInput> = {}): OfflineConfigInput => ({
  dataset: data,
  teacher: 'oracle',
  labels: 40,
  labelBatch: 16,
  segmentLength: 10,
  rewardMembers: 2,
  rewardHidden: [16],
  rewardEpochs: 3,
  updates: 10,
  batchSize: 32,
  hidden: [16, 16],
  evalEpisodes: 2,
  backend: 'wasm',
  ...over,
});

const TINY_FLAGS = ['--labels', '40', '--label-batch', '16', '--segment-length', '10', '--reward-members', '2', '--reward-hidden', '16', '--reward-epochs', '3'];
const TINY_AGENT = ['--updates', '10', '--batch-size', '32', '--hidden', '16,16', '--eval-episodes', '2', '--backend', 'wasm', '--quiet'];

const cli = (): CapturedCli => captureCli(new ManualClock());

describe('prefrl offline pipeline', () => {
  it('--resume warns, naming the versions, when the run folder was made with another MuJoCo build', async () => {
    const first = await runOffline({ config: tiny(), stages: ['pairs'], runsDir: join(dir, 'runs') }, { logger: silentLogger, clock: new ManualClock() });
    const swFile = join(first.runDir, 'software.json');
    const sw = JSON.parse(readFileSync(swFile, 'utf8')) as { mujoco: string };
    const logger = new Logger({ write: () => undefined });
    await runOffline({ resume: first.runDir, stages: ['pairs'] }, { logger, clock: new ManualClock() });
    expect(logger.warnings.filter((w) => w.includes('other software'))).toEqual([]);
    writeFileSync(swFile, JSON.stringify({ ...sw, mujoco: '0.0.0-test' }));
    const again = await runOffline({ resume: first.runDir, stages: ['pairs'] }, { logger, clock: new ManualClock() });
    expect(again.stages).toEqual({ pairs: 'skipped' });
    expect(logger.warnings.filter((w) => w.includes('other software'))).toEqual([
      `--resume: ${first.runDir} was made with other software (MuJoCo 0.0.0-test -> ${sw.mujoco}); the stages run now may not reproduce the ones run before`,
    ]);
  });

  it('runs stage by stage, skips finished stages on re-runs, keeps labels, and a forced stage clears what depends on it', async () => {
    const ctx = { logger: silentLogger, clock: new ManualClock() };
    const first = await runOffline({ config: tiny(), stages: ['pairs'], runsDir: join(dir, 'runs') }, ctx);
    const run = first.runDir;
    expect(first.stages).toEqual({ pairs: 'ran' });
    expect(first.summary).toBeNull();
    // Label 10 pairs by hand first, as a run killed after its first batch would have: the label
    // stage must not ask about them again (the oracle's label ids are per pair, so a re-ask with
    // other content would be refused by the store) and must keep them as they are.
    const store = LabelStore.open(join(run, 'labels.sqlite'));
    const oracle = new SyntheticTeacher({ ...SYNTHETIC_PRESETS.oracle, rng: new Rng(0), id: 'oracle' });
    const early = (await oracle.label(store.pendingPairs({ limit: 10 }))).map((l) => ({ ...l, raw: 'labelled before the kill' }));
    store.addLabels(early);
    store.close();

    // A stage whose input is missing names the stage to run.
    await expect(runOffline({ resume: run, stages: ['reward'] }, ctx)).rejects.toThrow(/--stage reward: the label stage has not run/);

    const labelled = await runOffline({ resume: run, stages: ['label'] }, ctx);
    expect(labelled.stages).toEqual({ label: 'ran' });
    const s2 = LabelStore.open(join(run, 'labels.sqlite'));
    expect(s2.counts()).toMatchObject({ pairs: 40, labels: 40, pending: 0 });
    for (const l of early) expect(s2.getLabel(l.id)?.raw).toBe('labelled before the kill');
    const agreement = teacherAgreement(s2, 'oracle');
    s2.close();
    expect(agreement).toBe(1); // the oracle prefers the higher true partial return, always
    const labelsFile = JSON.parse(readFileSync(join(run, 'artifacts', 'labels.json'), 'utf8')) as { labels: number; teacherAgreement: number };
    expect(labelsFile).toMatchObject({ labels: 40, teacherAgreement: 1 });

    const again = await runOffline({ resume: run, stages: ['pairs', 'label'] }, ctx);
    expect(again.stages).toEqual({ pairs: 'skipped', label: 'skipped' });

    const rest = await runOffline({ resume: run }, ctx);
    expect(rest.stages).toEqual({ pairs: 'skipped', label: 'skipped', reward: 'ran', relabel: 'ran', iql: 'ran', eval: 'ran' });
    const s = rest.summary!;
    expect(s.env).toBe('toy-reach');
    expect(s).toMatchObject({ labels: 40, teacher: 'oracle', teacherId: 'oracle', updates: 10, evalEpisodes: 2, segmentLength: 10, preferenceModel: 'partial-return' });
    // The oracle never ties (its probFirst is 0 or 1), so every answer is a strict preference.
    expect(s).toMatchObject({ preferences: 40, ties: 0, skips: 0 });
    for (const k of ['iqlLearned', 'iqlTrue', 'bc', 'random'] as const) {
      expect(Number.isFinite(s.returns[k].meanReturn)).toBe(true);
      expect(s.returns[k].returns).toHaveLength(2);
    }
    expect(s.ratio).toBeCloseTo(s.returns.iqlLearned.meanReturn / s.returns.iqlTrue.meanReturn, 12);
    expect(s.normalizedRatio).toBeCloseTo((s.returns.iqlLearned.meanReturn - s.returns.random.meanReturn) / (s.returns.iqlTrue.meanReturn - s.returns.random.meanReturn), 12);
    expect(s.rewardTransitionCorrelation).toBeGreaterThan(-1);
    expect(s.rewardTransitionCorrelation).toBeLessThanOrEqual(1);
    for (const a of OFFLINE_AGENTS) expect(existsSync(join(run, 'artifacts', 'agents', a, 'actor.json'))).toBe(true);
    expect(JSON.parse(readFileSync(join(run, 'summary.json'), 'utf8'))).toEqual(JSON.parse(JSON.stringify(s)));

    const none = await runOffline({ resume: run }, ctx);
    expect(Object.values(none.stages).every((v) => v === 'skipped')).toBe(true);
    expect(none.summary).toEqual(s);

    // Forcing the reward stage retrains the model and removes the outputs that depend on it
    // (relabelled rewards, IQL on them, the summary), but not the baselines.
    const said: string[] = [];
    const forced = await runOffline({ resume: run, stages: ['reward'], force: true }, { ...ctx, logger: new Logger({ write: (t) => said.push(t) }, 'info') });
    expect(forced.stages).toEqual({ reward: 'ran' });
    // Said, since this run alone does not make them anew, with the command that does.
    expect(said.join('')).toContain(
      `stage reward: removed what later stages had made from its old output (artifacts/relabelled_rewards.npy, artifacts/relabel.json, artifacts/agents/iql-learned, summary.json; their 6 metrics rows); relabel, iql, eval make them anew: prefrl offline --resume ${run}\n`,
    );
    expect(forced.summary).toBeNull();
    expect(existsSync(join(run, 'artifacts', 'relabel.json'))).toBe(false);
    expect(existsSync(join(run, 'artifacts', 'agents', 'iql-learned'))).toBe(false);
    expect(existsSync(join(run, 'artifacts', 'agents', 'iql-true', 'training.json'))).toBe(true);
    const redo = await runOffline({ resume: run }, ctx);
    expect(redo.stages).toMatchObject({ reward: 'skipped', relabel: 'ran', iql: 'ran', eval: 'ran' });
    // Same seed, same labels: the retrained model and everything after it come out the same.
    expect(redo.summary!.returns.iqlLearned.returns).toEqual(s.returns.iqlLearned.returns);
    expect(redo.summary!.returns.iqlTrue).toEqual(s.returns.iqlTrue);
  }, 60_000);

  it('prefrl offline --json: one JSON object with the summary fields; synthetic-vlm records its skips', async () => {
    const { ctx, out, err } = cli();
    const code = await main(['offline', '--dataset', data, '--teacher', 'synthetic-vlm', '--error-rate', '0.2', '--unsure-rate', '0.1', ...TINY_FLAGS, ...TINY_AGENT, '--runs-dir', join(dir, 'cli'), '--json'], ctx);
    expect(code, err.join('')).toBe(0);
    const j = lastJson(out);
    for (const k of ['runDir', 'stages', 'env', 'teacherId', 'labels', 'preferences', 'skips', 'teacherAgreement', 'rewardValAccuracy', 'rewardTransitionCorrelation', 'rewardReturnCorrelation', 'returns', 'ratio', 'normalizedRatio', 'updates', 'seed', 'stageSeconds']) {
      expect(j, k).toHaveProperty(k);
    }
    expect(j.teacherId).toBe('synthetic-vlm:errorRate=0.2,unsureRate=0.1');
    expect((j.preferences as number) + (j.ties as number) + (j.skips as number)).toBe(40);
    expect(j.skips as number).toBeGreaterThan(0); // equal final successes are "unsure"
    expect(Object.keys(j.returns as object).sort()).toEqual(['bc', 'iqlLearned', 'iqlTrue', 'random']);

    // The human report: a table with the four policies and both ratios.
    const h = cli();
    expect(await main(['offline', '--resume', j.runDir as string, '--quiet'], h.ctx)).toBe(0);
    const text = h.out.join('');
    expect(text).toContain('IQL, learned reward');
    expect(text).toContain('IQL, true reward');
    expect(text).toContain('normalised to random');
    expect(text).toContain('stages: pairs skipped, label skipped, reward skipped, relabel skipped, iql skipped, eval skipped');
    expect(text).toContain(`watch the agents: prefrl rollout --env toy-reach --policy ${join(j.runDir as string, 'artifacts', 'agents', 'iql-learned')} --episodes 5`);
    // A run folder moved elsewhere reports where it is now, not where its summary was written.
    const moved = join(dir, 'moved-run');
    cpSync(j.runDir as string, moved, { recursive: true });
    const m = cli();
    expect(await main(['offline', '--resume', moved, '--quiet', '--json'], m.ctx)).toBe(0);
    expect(lastJson(m.out).runDir).toBe(moved);
  }, 60_000);

  it('vlm teacher (fake renderer, fake fetch: no network): at most two requests per pair, and a second run with the same cache pays nothing', async () => {
    // Each frame is a solid PNG whose red channel is the task success at that step x 200; the
    // fake VLM prefers the redder image, and is unsure when both are equally red.
    const views: VlmView[] = [];
    const renderer: SegmentFrameRenderer = {
      render: async (segment: Segment, steps: readonly number[], view: VlmView) => {
        views.push(view);
        return steps.map((t) => {
          const rgba = new Uint8Array(4 * 4 * 4);
          const red = Math.round(200 * (segment.success[Math.max(0, t - 1)] || 0));
          for (let p = 0; p < 16; p++) rgba.set([red, 0, 0, 255], 4 * p);
          return encodePng({ width: 4, height: 4, rgba });
        });
      },
      close: async () => undefined,
    };
    let requests = 0;
    const fetch = async (_url: string, init: RequestInit): Promise<Response> => {
      requests++;
      const body = JSON.parse(String(init.body)) as { messages: { role: string; content: string | { type: string; image_url?: { url: string } }[] }[] };
      const user = body.messages.find((m) => m.role === 'user')!;
      const reds = (user.content as { type: string; image_url?: { url: string } }[])
        .filter((c) => c.type === 'image_url')
        .map((c) => decodePng(new Uint8Array(Buffer.from(c.image_url!.url.split(',')[1], 'base64'))).rgba[0]);
      const text = body.messages.length === 2 ? `Image 0 red ${reds[0]}, image 1 red ${reds[1]}.` : reds[0] === reds[1] ? '-1' : reds[0] > reds[1] ? '0' : '1';
      const reply = { id: 'x', object: 'chat.completion', model: 'fake-vl', choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }], usage: { prompt_tokens: 10, completion_tokens: 1, total_tokens: 11 } };
      return new Response(JSON.stringify(reply), { status: 200, headers: { 'Content-Type': 'application/json' } });
    };
    const cache = join(dir, 'vlm-cache');
    const config = tiny({ teacher: 'vlm', labels: 12, vlm: { baseUrl: 'http://vlm.invalid/v1', model: 'fake-vl', keyEnv: 'FAKE_KEY', frames: 'final', cacheDir: cache } });
    const vlmRuntime = { fetch, renderer, env: { FAKE_KEY: 'secret' } };
    const a = await runOffline({ config, stages: ['pairs', 'label'], runsDir: join(dir, 'vlm'), vlmRuntime }, { logger: silentLogger });
    // Two stages per pair at most; pairs whose images and prompts are identical are one cache entry.
    const paid = requests;
    expect(paid).toBeGreaterThanOrEqual(2);
    expect(paid).toBeLessThanOrEqual(24);
    const labels = JSON.parse(readFileSync(join(a.runDir, 'artifacts', 'labels.json'), 'utf8')) as { teacher: string; labels: number; preferences: number };
    expect(labels).toMatchObject({ teacher: 'vlm(fake-vl)', labels: 12 });
    expect(labels.preferences).toBeGreaterThan(0);
    expect(readFileSync(join(a.runDir, 'config.json'), 'utf8')).not.toContain('secret');
    const b = await runOffline({ config, stages: ['pairs', 'label'], runsDir: join(dir, 'vlm'), vlmRuntime }, { logger: silentLogger });
    expect(b.runDir).not.toBe(a.runDir);
    expect(requests).toBe(paid);
    expect(JSON.parse(readFileSync(join(b.runDir, 'artifacts', 'labels.json'), 'utf8'))).toEqual(labels);
    expect(views.every((v) => v.width === 512 && v.height === 384 && v.camera.kind === 'auto' && !v.hideRobot)).toBe(true);
    // The view and client settings (--vlm-width, --vlm-camera, ...) reach the teacher; a new view is a new question.
    views.length = 0;
    const viewed = tiny({ teacher: 'vlm', labels: 12, vlm: { baseUrl: 'http://vlm.invalid/v1', model: 'fake-vl', keyEnv: 'FAKE_KEY', cacheDir: cache, width: 64, height: 48, camera: 'side', hideRobot: true, concurrency: 2, timeoutS: 5 } });
    const c = await runOffline({ config: viewed, stages: ['pairs', 'label'], runsDir: join(dir, 'vlm'), vlmRuntime }, { logger: silentLogger });
    expect(views.length).toBeGreaterThan(0);
    expect(views.every((v) => v.width === 64 && v.height === 48 && v.camera.kind === 'preset' && (v.camera as { name: string }).name === 'side' && v.hideRobot)).toBe(true);
    expect(requests).toBeGreaterThan(paid);
    const cl = JSON.parse(readFileSync(join(c.runDir, 'artifacts', 'labels.json'), 'utf8')) as { teacher: string };
    expect(cl.teacher).toMatch(/^vlm\(fake-vl\)/);
    expect(cl.teacher).toContain('hideRobot');
    expect(vlmSpec({ ...OFFLINE_DEFAULTS.vlm })).toBe('vlm');
    expect(vlmSpec({ ...OFFLINE_DEFAULTS.vlm, frames: 4, width: 640, height: 480, camera: 'top', hideRobot: true, concurrency: 2, rpm: 30, timeoutS: 15, retries: 1 })).toBe(
      'vlm:frames=4,width=640,height=480,camera=top,hideRobot=1,concurrency=2,rpm=30,timeoutS=15,retries=1',
    );
  }, 60_000);

  it('vlm teacher refused (401, key variable unset): the error names --vlm-key-env and how to resume; the requests made are in metrics.jsonl', async () => {
    // Every image differs (a new red level per drawing), so no two requests are shared.
    let drawn = 0;
    const renderer: SegmentFrameRenderer = {
      render: async (_segment: Segment, steps: readonly number[]) =>
        steps.map(() => {
          const rgba = new Uint8Array(4 * 4 * 4);
          for (let p = 0; p < 16; p++) rgba.set([++drawn % 256, 0, 0, 255], 4 * p);
          return encodePng({ width: 4, height: 4, rgba });
        }),
      close: async () => undefined,
    };
    let requests = 0;
    const fetch = async (): Promise<Response> => {
      requests++;
      return new Response(JSON.stringify({ error: { message: 'Missing bearer token' } }), { status: 401, headers: { 'Content-Type': 'application/json' } });
    };
    const config = tiny({ teacher: 'vlm', labels: 4, vlm: { baseUrl: 'http://vlm.invalid/v1', model: 'fake-vl', keyEnv: 'UNSET_KEY' } });
    let runDir = '';
    const err = await runOffline({ config, stages: ['pairs', 'label'], runsDir: join(dir, 'vlm-401'), vlmRuntime: { fetch, renderer, env: {} }, onRun: (p) => (runDir = p) }, { logger: silentLogger }).catch(
      (e: unknown) => e as Error,
    );
    expect(requests).toBe(4);
    expect((err as Error).message).toBe(
      'VLM teacher: 4 of 4 queries failed (0 answered and cached; a re-run asks only the rest): VLM http://vlm.invalid/v1/chat/completions: HTTP 401: {"error":{"message":"Missing bearer token"}}' +
        '; no API key was sent: the environment variable UNSET_KEY is not set (--vlm-key-env names the variable)' +
        `; the run folder keeps the stored labels and answers: resume with prefrl offline --resume ${runDir}`,
    );
    const rows = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows.filter((r) => 'vlm/requests' in r)).toEqual([expect.objectContaining({ 'vlm/calls': 4, 'vlm/requests': 4, 'vlm/errors': 4, 'vlm/failed': 4, 'vlm/prompt_tokens': 0 })]);
  }, 60_000);

  it('the resume command a failed run prints carries what resumeArgs gives as the run fails (prefrl offline: a VLM server given anew on --resume)', async () => {
    const renderer: SegmentFrameRenderer = { render: async (_s: Segment, steps: readonly number[]) => steps.map(() => encodePng({ width: 2, height: 2, rgba: new Uint8Array(16) })), close: async () => undefined };
    const fetch = async (): Promise<Response> => new Response('{}', { status: 503 });
    const config = tiny({ teacher: 'vlm', labels: 2, vlm: { baseUrl: 'http://vlm.invalid/v1', model: 'fake-vl', keyEnv: 'UNSET_KEY', retries: 0 } });
    let runDir = '';
    let asked = 0;
    const resumeArgs = () => ` --vlm-base-url http://moved.invalid/v1 --vlm-retries ${++asked}`;
    const err = await runOffline({ config, stages: ['pairs', 'label'], runsDir: join(dir, 'vlm-moved'), vlmRuntime: { fetch, renderer, env: {} }, onRun: (p) => (runDir = p), resumeArgs }, { logger: silentLogger }).catch(
      (e: unknown) => e as Error,
    );
    // Asked once, when the message is made.
    expect((err as Error).message.endsWith(`; the run folder keeps the stored labels and answers: resume with prefrl offline --resume ${runDir} --vlm-base-url http://moved.invalid/v1 --vlm-retries 1`)).toBe(true);
    expect(asked).toBe(1);
  }, 60_000);

  it("the VLM's request and token counts reach metrics.jsonl when the process exits mid-labelling (Ctrl-C's handler calls process.exit)", async () => {
    const renderer: SegmentFrameRenderer = {
      render: async (segment: Segment, steps: readonly number[]) => steps.map(() => encodePng({ width: 2, height: 2, rgba: Uint8Array.from(segment.id.padEnd(16).slice(0, 16), (ch) => ch.charCodeAt(0)) })),
      close: async () => undefined,
    };
    // The first request is answered; the next ones hang until released, as a slow server's would.
    let requests = 0;
    let release: () => void = () => undefined;
    const hung = new Promise<void>((r) => (release = r));
    const fetch = async (): Promise<Response> => {
      if (++requests > 1) {
        await hung;
        throw new TypeError('fetch failed');
      }
      const body = { choices: [{ message: { role: 'assistant', content: 'The first is closer.' }, finish_reason: 'stop' }], usage: { prompt_tokens: 11, completion_tokens: 5, total_tokens: 16 } };
      return new Response(JSON.stringify(body), { status: 200, headers: { 'Content-Type': 'application/json' } });
    };
    const config = tiny({ teacher: 'vlm', labels: 4, vlm: { baseUrl: 'http://vlm.invalid/v1', model: 'fake-vl', keyEnv: 'UNSET_KEY', retries: 0 } });
    const before = new Set(process.listeners('exit'));
    let runDir = '';
    const run = runOffline({ config, stages: ['pairs', 'label'], runsDir: join(dir, 'vlm-exit'), vlmRuntime: { fetch, renderer, env: {} }, onRun: (p) => (runDir = p) }, { logger: silentLogger }).catch(() => undefined);
    while (requests < 2) await new Promise((r) => setTimeout(r, 10));
    // What process.exit(130) would run: the stage's 'exit' listener.
    const added = process.listeners('exit').filter((l) => !before.has(l));
    expect(added).toHaveLength(1);
    const sent = requests; // the first answered, the rest in flight (the teacher asks several pairs at once)
    (added[0] as () => void)();
    const vlmRows = () =>
      readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((r) => 'vlm/requests' in r);
    expect(vlmRows()).toEqual([expect.objectContaining({ 'vlm/requests': sent, 'vlm/prompt_tokens': 11, 'vlm/completion_tokens': 5, 'vlm/total_tokens': 16 })]);
    // The stage then ends (here by the hung requests failing): the counts are not logged twice, and the listener is gone.
    release();
    await run;
    expect(vlmRows()).toHaveLength(1);
    expect(process.listeners('exit').filter((l) => !before.has(l))).toEqual([]);
  }, 60_000);

  it('a resumed vlm run may name where its server is now (--vlm-base-url on --resume); the model stays the saved one', async () => {
    const renderer: SegmentFrameRenderer = {
      // Each segment's image is its id's first 16 characters: no two pairs ask the same question.
      render: async (segment: Segment, steps: readonly number[]) => steps.map(() => encodePng({ width: 2, height: 2, rgba: Uint8Array.from(segment.id.padEnd(16).slice(0, 16), (ch) => ch.charCodeAt(0)) })),
      close: async () => undefined,
    };
    const hosts: string[] = [];
    const fetch = async (url: string, init: RequestInit): Promise<Response> => {
      hosts.push(new URL(url).host);
      if (new URL(url).host !== 'new.invalid') throw new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } });
      const body = JSON.parse(String(init.body)) as { model: string; messages: unknown[] };
      const reply = { model: body.model, choices: [{ message: { content: body.messages.length === 2 ? 'analysis' : '0' }, finish_reason: 'stop' }], usage: { prompt_tokens: 5, completion_tokens: 1 } };
      return new Response(JSON.stringify(reply), { status: 200 });
    };
    const vlmRuntime = { fetch, renderer, env: {}, client: { maxRetries: 0 } };
    const config = tiny({ teacher: 'vlm', labels: 3, vlm: { baseUrl: 'http://old.invalid:8000/v1', model: 'fake-vl' } });
    let runDir = '';
    const err = await runOffline({ config, stages: ['pairs', 'label'], runsDir: join(dir, 'vlm-moved'), vlmRuntime, onRun: (p) => (runDir = p) }, { logger: silentLogger }).catch((e: unknown) => e as Error);
    expect((err as Error).message).toMatch(/ECONNREFUSED .*check --vlm-base-url: is a server running at http:\/\/old\.invalid:8000\/v1\?/);
    expect(hosts.every((h) => h === 'old.invalid:8000')).toBe(true);
    hosts.length = 0;
    const res = await runOffline({ resume: runDir, stages: ['label'], vlmConnection: { baseUrl: 'http://new.invalid/v1', keyEnv: undefined }, vlmRuntime }, { logger: silentLogger });
    expect(res.stages).toEqual({ label: 'ran' });
    expect(hosts).toEqual(Array(6).fill('new.invalid'));
    expect(JSON.parse(readFileSync(join(runDir, 'artifacts', 'labels.json'), 'utf8'))).toMatchObject({ teacher: 'vlm(fake-vl)', labels: 3, preferences: 3 });
    // The saved config keeps its address; only this command line changed it.
    expect(JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8')).config.vlm.baseUrl).toBe('http://old.invalid:8000/v1');
    // What the answers depend on still cannot change on --resume; and a run without a VLM refuses --vlm-*.
    const c = cli();
    expect(await main(['offline', '--resume', runDir, '--vlm-model', 'other', '--vlm-base-url', 'http://new.invalid/v1'], c.ctx)).toBe(2);
    expect(c.err.join('')).toBe(`prefrl offline: --resume: the run's saved config is used; drop --vlm-model (to change them, start a new run like this one: prefrl offline --like ${runDir} with --vlm-model and its new value)\n`);
    const oracle = await runOffline({ config: tiny(), stages: ['pairs'], runsDir: join(dir, 'vlm-moved') }, { logger: silentLogger });
    const o = cli();
    expect(await main(['offline', '--resume', oracle.runDir, '--vlm-rpm', '10'], o.ctx)).toBe(2);
    expect(o.err.join('')).toBe('prefrl offline: --vlm-*: only for --teacher vlm (the run\'s teacher is oracle)\n');
  }, 60_000);

  it('1-step segments (RL-VLM-F single frames): synthetic-vlm judges the state after the one step, and the reward trains', async () => {
    const ctx = { logger: silentLogger, clock: new ManualClock() };
    const cfg = tiny({ teacher: 'synthetic-vlm', segmentLength: 1, errorRate: 0, unsureRate: 0 });
    const r = await runOffline({ config: cfg, stages: ['pairs', 'label', 'reward'], runsDir: join(dir, 'seg1') }, ctx);
    expect(r.stages).toEqual({ pairs: 'ran', label: 'ran', reward: 'ran' });
    const store = LabelStore.open(join(r.runDir, 'labels.sqlite'));
    const lp = store.labelledPairs({ includeSkips: true });
    store.close();
    expect(lp.length).toBe(40);
    let prefs = 0;
    for (const { pair, labels } of lp) {
      expect(pair.a.length).toBe(1);
      expect(pair.b.length).toBe(1);
      const [sa, sb] = [pair.a.success[0], pair.b.success[0]];
      const l = labels[0];
      if (sa === sb) expect(l.kind).toBe('skip');
      else {
        // No errors, no unsure answers: the higher success after the step wins, every time.
        expect(l.kind).toBe('preference');
        if (l.kind === 'preference') expect(l.probFirst).toBe(sa > sb ? 1 : 0);
        prefs++;
      }
    }
    expect(prefs).toBeGreaterThan(10);
  }, 60_000);

  it('--reward-lr, --reward-patience, --reward-weight-decay, --reward-input-l1 and --reward-input reach the reward model', async () => {
    const extra = ['--reward-lr', '0.003', '--reward-patience', '2', '--reward-weight-decay', '0.01', '--reward-input-l1', '0.02', '--reward-input-prox', '0.1', '--reward-input', 'obs-next-obs'];
    const { ctx, out, err } = cli();
    const args = ['offline', '--teacher', 'oracle', '--dataset', data, ...TINY_FLAGS, ...TINY_AGENT, ...extra, '--stage', 'pairs,label,reward', '--runs-dir', join(dir, 'reg'), '--json'];
    expect(await main(args, ctx), err.join('')).toBe(0);
    const runDir = lastJson(out).runDir as string;
    const cfg = (JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8')) as { config: Record<string, unknown> }).config;
    expect([cfg.rewardLr, cfg.rewardPatience, cfg.rewardWeightDecay, cfg.rewardInputL1, cfg.rewardInput]).toEqual([0.003, 2, 0.01, 0.02, 'obs-next-obs']);
    const model = JSON.parse(readFileSync(join(runDir, 'artifacts', 'reward_model', 'model.json'), 'utf8')) as { meta: { training: Record<string, unknown> } };
    expect(model.meta.training).toMatchObject({ lr: 0.003, patience: 2, weightDecay: 0.01, inputL1: 0.02, inputProx: 0.1 });
    const net = RewardNet.load(join(runDir, 'artifacts', 'reward_model'));
    expect(net.input).toBe('obs-next-obs');
    expect(net.inDim).toBe(2 * net.config.obsDim);
    net.dispose();
  }, 60_000);

  it('--reward-select-inputs chooses the reward model\'s inputs before training and records the choice', async () => {
    const { ctx, out, err } = cli();
    const args = ['offline', '--teacher', 'oracle', '--dataset', data, ...TINY_FLAGS, ...TINY_AGENT, '--reward-select-inputs', '--stage', 'pairs,label,reward', '--runs-dir', join(dir, 'select'), '--json'];
    expect(await main(args, ctx), err.join('')).toBe(0);
    const runDir = lastJson(out).runDir as string;
    const cfg = (JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8')) as { config: Record<string, unknown> }).config;
    expect(cfg.rewardSelectInputs).toBe(true);
    const model = JSON.parse(readFileSync(join(runDir, 'artifacts', 'reward_model', 'model.json'), 'utf8')) as { config: { ignoreObs: number[]; input: string; obsDim: number }; meta: { inputSelection: { keepObs: number[]; keepAction: boolean; steps: unknown[] } } };
    const sel = model.meta.inputSelection;
    expect(sel.steps.length).toBeGreaterThan(0);
    expect(sel.keepObs.length + (sel.keepAction ? 1 : 0)).toBeGreaterThan(0);
    // The model sees exactly the chosen inputs.
    expect(model.config.ignoreObs).toEqual(Array.from({ length: model.config.obsDim }, (_, j) => j).filter((j) => !sel.keepObs.includes(j)));
    expect(model.config.input).toBe(sel.keepAction ? 'obs-action' : 'obs');
    // Left to the machine, the worker count is recorded as null; the path does not depend on it.
    expect(cfg.rewardSelectWorkers).toBeNull();
    const again = cli();
    expect(await main([...args.slice(0, -3), '--reward-select-workers', '0', '--runs-dir', join(dir, 'select0'), '--json'], again.ctx), again.err.join('')).toBe(0);
    const runDir0 = lastJson(again.out).runDir as string;
    const cfg0 = (JSON.parse(readFileSync(join(runDir0, 'config.json'), 'utf8')) as { config: Record<string, unknown> }).config;
    expect(cfg0.rewardSelectWorkers).toBe(0);
    const model0 = JSON.parse(readFileSync(join(runDir0, 'artifacts', 'reward_model', 'model.json'), 'utf8')) as typeof model;
    expect(model0.meta.inputSelection.steps).toEqual(sel.steps);
    expect(model0.config.ignoreObs).toEqual(model.config.ignoreObs);
  }, 240_000);

  it('human teacher: the pairs wait in the viewer, people\'s answers (stored as human:<name>) become the labels the reward model learns from, and a resumed run takes the viewer settings from its command line', async () => {
    const site = stubSite(join(dir, 'site'));
    const lines: string[] = [];
    const logger = new Logger({ write: (t: string) => void lines.push(t) });
    const running = runOffline(
      { config: tiny({ teacher: 'human', labels: 4, labelBatch: 4 }), stages: ['pairs', 'label'], runsDir: join(dir, 'human'), human: { port: 0, staticDir: site, pollMs: 20, timeoutS: 60 } },
      { logger },
    );
    let url: string | undefined;
    for (let i = 0; i < 500 && url === undefined; i++) {
      url = lines.join('').match(/waiting for answers at (http:\/\/127\.0\.0\.1:\d+\/)/)?.[1];
      if (url === undefined) await new Promise((r) => setTimeout(r, 20));
    }
    expect(url).toBeDefined();
    const c = await TestClient.open(url as string);
    await c.hello({ name: 'ada' });
    const firstWins: Record<string, number> = {};
    for (let k = 0; k < 4; k++) {
      c.send({ type: 'next' });
      const p = await c.next('pair');
      c.send({ type: 'answer', labelId: `h-55555555555550${k}0`, pairId: p.pairId, name: 'ada', choice: 'left', responseMs: 5 });
      await c.next('ack');
      firstWins[p.pairId] = p.leftIs === 'a' ? 1 : 0;
    }
    c.close();
    const res = await running;
    const store = LabelStore.open(join(res.runDir, 'labels.sqlite'), { create: false });
    let agreeing = 0;
    let strict = 0;
    try {
      const labels = store.labels();
      expect(labels.length).toBe(4);
      for (const l of labels) expect(l).toMatchObject({ kind: 'preference', teacher: 'human:ada', probFirst: firstWins[l.pairId] });
      for (const lp of store.labelledPairs()) {
        const [ra, rb] = [segmentReturn(lp.pair.a), segmentReturn(lp.pair.b)];
        if (ra === rb) continue;
        strict++;
        if (firstWins[lp.pair.id] === 1 === ra > rb) agreeing++;
      }
    } finally {
      store.close();
    }
    expect(strict).toBeGreaterThan(0);
    const summary = JSON.parse(readFileSync(join(res.runDir, 'artifacts', 'labels.json'), 'utf8')) as { teacher: string; preferences: number; teacherAgreement: number | null };
    expect(summary).toMatchObject({ teacher: 'human', preferences: 4, ties: 0, skips: 0, teacherAgreement: agreeing / strict });
    // The server stored the answers before the teacher returned them: they still count as new (before: "0 new").
    expect(lines.join('')).toContain('label: 4 labels (4 preferences, 0 ties, 0 skips; 4 new)');
    // The reward stage learns from the people's answers (before: "the teacher human gave no preference, only skips").
    await runOffline({ resume: res.runDir, stages: ['reward'] }, { logger: silentLogger });
    const reward = JSON.parse(readFileSync(join(res.runDir, 'artifacts', 'reward.json'), 'utf8')) as { preferences: number };
    expect(reward.preferences).toBe(4);
    // The token and the other server settings are not part of the saved config.
    expect(readFileSync(join(res.runDir, 'config.json'), 'utf8')).not.toMatch(/human(Port|Token|Host)|staticDir/);
    // A resumed run accepts the --human-* flags (they are not config flags) and goes on: labels kept.
    const { ctx } = cli();
    expect(await main(['offline', '--resume', res.runDir, '--stage', 'label', '--human-port', '0', '--quiet'], ctx)).toBe(0);
  }, 60_000);

  it('human teacher timeout: pairs nobody answered are not answers; the label stage ends, and --resume asks them again (people answer them) until none is open', async () => {
    const site = stubSite(join(dir, 'site-timeout'));
    // 4 pairs in batches of 2, nobody there: each batch times out once (the stage does not ask a pair twice in one call).
    const first = await runOffline(
      { config: tiny({ teacher: 'human', labels: 4, labelBatch: 2 }), stages: ['pairs', 'label'], runsDir: join(dir, 'human-timeout'), human: { port: 0, staticDir: site, pollMs: 20, timeoutS: 0.2 } },
      { logger: silentLogger },
    );
    const summary = JSON.parse(readFileSync(join(first.runDir, 'artifacts', 'labels.json'), 'utf8')) as Record<string, unknown>;
    expect(summary).toMatchObject({ teacher: 'human', labels: 4, preferences: 0, skips: 4, timeouts: 4 });
    const storePath = join(first.runDir, 'labels.sqlite');
    const counts = () => {
      const s = LabelStore.open(storePath, { create: false });
      try {
        return s.counts();
      } finally {
        s.close();
      }
    };
    expect(counts()).toMatchObject({ pairs: 4, timeouts: 4, pending: 4, waitingForPeople: 4 });
    // The reward stage says nobody answered and how to ask again (not "no reward model can be learned with this teacher").
    await expect(runOffline({ resume: first.runDir, stages: ['reward'] }, { logger: silentLogger })).rejects.toThrow(
      /nobody answered: the 4 pairs asked got no answer within the human teacher's timeout, .*prefrl offline --resume \S+ asks them again/,
    );

    // Resumed (no --force): the label stage runs again and a person answers all four.
    const lines: string[] = [];
    const logger = new Logger({ write: (t: string) => void lines.push(t) });
    const running = runOffline({ resume: first.runDir, stages: ['label'], human: { port: 0, staticDir: site, pollMs: 20, timeoutS: 30 } }, { logger });
    let url: string | undefined;
    for (let i = 0; i < 500 && url === undefined; i++) {
      url = lines.join('').match(/waiting for answers at (http:\/\/127\.0\.0\.1:\d+\/)/)?.[1];
      if (url === undefined) await new Promise((r) => setTimeout(r, 20));
    }
    expect(lines.join('')).toContain('stage label: done before, but 4 pairs got no answer before the human teacher\'s timeout; asking them again');
    const c = await TestClient.open(url as string);
    await c.hello({ name: 'ada' });
    for (let k = 0; k < 4; k++) {
      c.send({ type: 'next' });
      const p = await c.next('pair');
      c.send({ type: 'answer', labelId: `h-66666666666660${k}0`, pairId: p.pairId, name: 'ada', choice: k === 3 ? 'cant_tell' : k === 2 ? 'equal' : 'left', responseMs: 5 });
      await c.next('ack');
    }
    c.close();
    expect((await running).stages).toEqual({ label: 'ran' });
    // 4 timeouts + 2 strict preferences + 1 tie ("equal") + 1 deliberate skip ("can't tell" answers the pair).
    expect(counts()).toMatchObject({ labels: 8, preferences: 3, ties: 1, skips: 5, timeouts: 4, pending: 0, waitingForPeople: 0 });
    expect(lines.join('')).toContain('label: 8 labels (2 preferences, 1 ties, 5 skips; 4 new)');
    // Nothing open: a further resume leaves the stage alone.
    expect((await runOffline({ resume: first.runDir, stages: ['label'], human: { port: 0, staticDir: site, timeoutS: 0.2 } }, { logger: silentLogger })).stages).toEqual({ label: 'skipped' });
  }, 60_000);

  it('human teacher with --human-overlap 2: once one person answered every pair the label stage ends (it does not ask the still-open pairs again in a loop), and the pairs wait for a second person', async () => {
    const site = stubSite(join(dir, 'site-overlap'));
    const lines: string[] = [];
    const logger = new Logger({ write: (t: string) => void lines.push(t) });
    const running = runOffline(
      { config: tiny({ teacher: 'human', labels: 2, labelBatch: 2 }), stages: ['pairs', 'label'], runsDir: join(dir, 'human-overlap'), human: { port: 0, staticDir: site, pollMs: 20, timeoutS: 30, overlap: 2 } },
      { logger },
    );
    let url: string | undefined;
    for (let i = 0; i < 500 && url === undefined; i++) {
      url = lines.join('').match(/waiting for answers at (http:\/\/127\.0\.0\.1:\d+\/)/)?.[1];
      if (url === undefined) await new Promise((r) => setTimeout(r, 20));
    }
    const c = await TestClient.open(url as string);
    await c.hello({ name: 'ada' });
    for (let k = 0; k < 2; k++) {
      c.send({ type: 'next' });
      const p = await c.next('pair');
      c.send({ type: 'answer', labelId: `h-55555555555551${k}0`, pairId: p.pairId, name: 'ada', choice: 'right', responseMs: 5 });
      await c.next('ack');
    }
    c.close();
    const res = await running;
    expect(res.stages).toEqual({ pairs: 'ran', label: 'ran' });
    // One batch asked once: "2 of 2 pairs answered" is logged once, not in a loop.
    expect(lines.join('').match(/human teacher: 2 of 2 pairs answered/g)).toHaveLength(1);
    const store = LabelStore.open(join(res.runDir, 'labels.sqlite'), { create: false });
    try {
      expect(store.counts()).toMatchObject({ pairs: 2, labels: 2, preferences: 2, pending: 2, waitingForPeople: 2, unlabelled: 0 });
    } finally {
      store.close();
    }
  }, 60_000);

  it('--query disagreement: labels come in rounds, each chosen from fresh candidates by a model of the labels so far; a run killed between rounds resumes to the same pairs', async () => {
    const { ctx, out, err } = cli();
    const args = ['offline', '--teacher', 'oracle', '--dataset', data, ...TINY_FLAGS, ...TINY_AGENT, '--query', 'disagreement', '--query-rounds', '4', '--stage', 'pairs,label', '--json'];
    expect(await main([...args, '--runs-dir', join(dir, 'active')], ctx), err.join('')).toBe(0);
    const runDir = lastJson(out).runDir as string;
    const cfg = (JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8')) as { config: Record<string, unknown> }).config;
    expect([cfg.query, cfg.queryRounds, cfg.queryOversample]).toEqual(['disagreement', 4, 10]);
    const store = LabelStore.open(join(runDir, 'labels.sqlite'));
    // 40 labels in 4 rounds of 10; every pair answered; no pair asked twice, in either order.
    expect(store.counts()).toMatchObject({ pairs: 40, labels: 40, pending: 0 });
    const byRound = [0, 1, 2, 3].map((r) => store.labelledPairs({ includeSkips: true, round: r }).map((lp) => lp.pair));
    expect(byRound.map((p) => p.length)).toEqual([10, 10, 10, 10]);
    const keys = byRound.flat().map((p) => [p.a.id, p.b.id].sort().join('|'));
    expect(new Set(keys).size).toBe(40);
    const ids = byRound.map((r) => r.map((p) => p.id));
    store.close();
    // Rounds 1-3 were chosen by a model trained on the 10, 20 and 30 labels before them; the
    // chosen pairs are the top of the candidates by disagreement, so they score above the mean.
    const q = JSON.parse(readFileSync(join(runDir, 'artifacts', 'query.json'), 'utf8')) as { query: string; rounds: QueryRound[] };
    expect(q.query).toBe('disagreement');
    expect(q.rounds.map((r) => [r.round, r.trainedOn, r.selected, r.method])).toEqual([
      [1, 10, 10, 'disagreement'],
      [2, 20, 10, 'disagreement'],
      [3, 30, 10, 'disagreement'],
    ]);
    for (const r of q.rounds) {
      expect(r.candidates).toBeGreaterThanOrEqual(90); // 10 x 10 drawn, less any already stored
      expect(r.meanScoreSelected!).toBeGreaterThan(r.meanScoreCandidates!);
    }
    const pairsFile = JSON.parse(readFileSync(join(runDir, 'artifacts', 'pairs.json'), 'utf8')) as Record<string, unknown>;
    expect(pairsFile).toMatchObject({ pairs: 10, query: 'disagreement', rounds: 4, labels: 40 });
    expect(JSON.parse(readFileSync(join(runDir, 'artifacts', 'labels.json'), 'utf8'))).toMatchObject({ labels: 40, query: 'disagreement', rounds: 4 });

    // The same run killed after round 0 was answered, before round 1 was chosen: the label stage
    // picks up from the stored pairs and ends with the same pairs in the same rounds.
    const killed = await runOffline({ config: tiny({ query: 'disagreement', queryRounds: 4 }), stages: ['pairs'], runsDir: join(dir, 'active-killed') }, { logger: silentLogger });
    const s2 = LabelStore.open(join(killed.runDir, 'labels.sqlite'));
    expect(s2.counts()).toMatchObject({ pairs: 10, pending: 10 });
    expect(s2.pendingPairs().map((p) => p.id)).toEqual(ids[0]);
    const oracle = new SyntheticTeacher({ ...SYNTHETIC_PRESETS.oracle, rng: new Rng(0), id: 'oracle' });
    s2.addLabels(await oracle.label(s2.pendingPairs()));
    s2.close();
    const resumed = await runOffline({ resume: killed.runDir, stages: ['label', 'reward'] }, { logger: silentLogger });
    expect(resumed.stages).toEqual({ label: 'ran', reward: 'ran' });
    const s3 = LabelStore.open(join(killed.runDir, 'labels.sqlite'));
    expect([0, 1, 2, 3].map((r) => s3.labelledPairs({ includeSkips: true, round: r }).map((lp) => lp.pair.id))).toEqual(ids);
    s3.close();

    // k-center needs no model scores: it spreads the next round over the candidates, away from the stored pairs.
    const kc = await runOffline({ config: tiny({ query: 'kcenter', queryRounds: 2, labels: 20 }), stages: ['pairs', 'label'], runsDir: join(dir, 'active-kcenter') }, { logger: silentLogger });
    const kq = JSON.parse(readFileSync(join(kc.runDir, 'artifacts', 'query.json'), 'utf8')) as { rounds: QueryRound[] };
    expect(kq.rounds.map((r) => [r.round, r.trainedOn, r.selected, r.method, r.meanScoreSelected])).toEqual([[1, 0, 10, 'kcenter', null]]);
    const s5 = LabelStore.open(join(kc.runDir, 'labels.sqlite'));
    expect(s5.counts()).toMatchObject({ pairs: 20, pending: 0 });
    s5.close();

    // Uniform (the default) keeps drawing every pair up front, in one round, as before.
    const uniform = await runOffline({ config: tiny(), stages: ['pairs'], runsDir: join(dir, 'uniform') }, { logger: silentLogger });
    const s4 = LabelStore.open(join(uniform.runDir, 'labels.sqlite'));
    expect(s4.counts().pairs).toBe(40);
    expect(s4.pendingPairs().slice(0, 10).map((p) => p.id)).toEqual(ids[0]);
    s4.close();
  }, 120_000);

  it('Ctrl-C during the IQL stage prints how to resume and exits 130; the resumed run keeps the finished stages', async () => {
    const runs = join(dir, 'sigint-runs');
    // Many updates: the IQL stage is still running when the signal comes.
    const agent = TINY_AGENT.map((a) => (a === '10' ? '200000' : a)).filter((a) => a !== '--quiet');
    const { child, stderr, exited } = spawnCli(['offline', '--dataset', data, '--teacher', 'oracle', ...TINY_FLAGS, ...agent, '--runs-dir', runs, '--name', 'stopped']);
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline && child.exitCode === null && !stderr().includes('relabel:')) await new Promise((r) => setTimeout(r, 50));
    // The IQL stage starts right after the relabel line; give it a moment to be inside its update loop.
    await new Promise((r) => setTimeout(r, 1500));
    child.kill('SIGINT');
    const code = await exited;
    expect(code, stderr()).toBe(130);
    const m = /stopped; resume with: prefrl offline --resume (\S+)/.exec(stderr());
    expect(m, stderr()).not.toBeNull();
    const runDir = (m as RegExpExecArray)[1];
    expect(existsSync(join(runDir, 'artifacts', 'agents', 'iql-learned', 'training.json'))).toBe(false);
    // The stages before IQL are done and kept: resuming the reward stage alone has nothing to do.
    const c = cli();
    expect(await main(['offline', '--resume', runDir, '--stage', 'reward', '--quiet'], c.ctx), c.err.join('')).toBe(0);
    expect(c.err.join('')).toContain('stage reward: done before, skipped');
  }, 180_000);

  it('stages run again (--force) replace their metrics rows instead of adding a second copy; the pairs and label rows stay', async () => {
    const first = cli();
    expect(await main(['offline', '--dataset', data, '--teacher', 'oracle', ...TINY_FLAGS, ...TINY_AGENT, '--runs-dir', join(dir, 'rerun'), '--json'], first.ctx), first.err.join('')).toBe(0);
    const runDir = lastJson<{ runDir: string }>(first.out).runDir;
    const rows = () =>
      readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    // rows holding a key, or (a key ending in '/') a key with that prefix
    const count = (rs: Record<string, unknown>[], key: string) => rs.filter((r) => (key.endsWith('/') ? Object.keys(r).some((k) => k.startsWith(key)) : key in r)).length;
    const before = rows();
    const again = cli();
    expect(await main(['offline', '--resume', runDir, '--stage', 'reward,relabel,iql,eval', '--force', '--quiet'], again.ctx), again.err.join('')).toBe(0);
    const after = rows();
    for (const key of ['reward/train_loss', 'reward/transition_correlation', 'iql_learned/', 'iql_true/', 'bc/', 'eval/normalized_ratio', 'stages/reward_seconds', 'stages/iql_seconds', 'stages/eval_seconds']) {
      expect(count(before, key), key).toBeGreaterThan(0);
      expect(count(after, key), key).toBe(count(before, key));
    }
    // every agent's steps appear once
    const steps = after.filter((r) => Object.keys(r).some((k) => k.startsWith('iql_learned/'))).map((r) => r.step);
    expect(new Set(steps).size).toBe(steps.length);
    // the stages not run again keep their rows
    expect(count(after, 'teacher/labels')).toBe(count(before, 'teacher/labels'));
    expect(count(after, 'stages/pairs_seconds')).toBe(1);
    expect(again.err.join('')).toMatch(/stage reward: replaced its \d+ metrics rows from before with the new ones/);
  }, 120_000);

  it('offline --resume of a run another live process holds is refused naming --resume and the holder, nothing changed; a lock left by a process that is gone is taken over and removed at the end', async () => {
    const first = cli();
    expect(await main(['offline', '--dataset', data, '--teacher', 'oracle', ...TINY_FLAGS, ...TINY_AGENT, '--stage', 'pairs', '--runs-dir', join(dir, 'locked'), '--json'], first.ctx), first.err.join('')).toBe(0);
    const runDir = lastJson<{ runDir: string }>(first.out).runDir;
    const lockFile = join(runDir, 'offline.lock');
    expect(existsSync(lockFile)).toBe(false); // released when the command ended
    const metrics = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8');
    const lock = JSON.stringify({ host: hostname(), pid: process.pid, since: '2026-12-01T10:00:00.000Z' });
    writeFileSync(lockFile, lock);
    const held = cli();
    expect(await main(['offline', '--resume', runDir, '--quiet'], held.ctx)).toBe(2);
    expect(held.err.join('')).toBe(
      `prefrl offline: --resume: ${runDir} is in use by another prefrl offline (pid ${process.pid} on ${hostname()}, since 2026-12-01T10:00:00.000Z); two processes in one run folder would mix their metrics, stages and labels. Wait for it to end, or stop it and resume; if no such process runs, delete ${lockFile}\n`,
    );
    expect(readFileSync(lockFile, 'utf8')).toBe(lock);
    expect(readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')).toBe(metrics);
    expect(existsSync(join(runDir, 'artifacts', 'labels.json'))).toBe(false);
    // A lock whose process has ended: taken over, and the label stage runs.
    const gone = spawnSync(process.execPath, ['-e', '']).pid as number;
    writeFileSync(lockFile, JSON.stringify({ host: hostname(), pid: gone, since: '2026-12-01T10:00:00.000Z' }));
    const resumed = cli();
    expect(await main(['offline', '--resume', runDir, '--stage', 'label', '--quiet'], resumed.ctx), resumed.err.join('')).toBe(0);
    expect(resumed.err.join('')).toContain(`--resume: ${runDir} was left locked by a run that is gone (pid ${gone}`);
    expect(existsSync(join(runDir, 'artifacts', 'labels.json'))).toBe(true);
    expect(existsSync(lockFile)).toBe(false);
  });

  it('a forced reward stage that fails after training keeps the metrics rows from before and leaves none of its own', async () => {
    const ctx = { logger: silentLogger, clock: new ManualClock() };
    const first = await runOffline({ config: tiny(), stages: ['pairs', 'label', 'reward'], runsDir: join(dir, 'failed-reward') }, ctx);
    const metricsFile = join(first.runDir, 'metrics.jsonl');
    const metrics = readFileSync(metricsFile, 'utf8');
    const trainRows = metrics.split('\n').filter((l) => l.includes('"reward/train_loss"')).length;
    expect(trainRows).toBeGreaterThan(0);
    // The model's folder replaced by a plain file: the stage trains (logging its epochs) and then
    // cannot save.
    const modelDir = join(first.runDir, 'artifacts', 'reward_model');
    rmSync(modelDir, { recursive: true, force: true });
    writeFileSync(modelDir, 'not a folder');
    await expect(runOffline({ resume: first.runDir, stages: ['reward'], force: true }, ctx)).rejects.toThrow(/reward_model/);
    expect(readFileSync(metricsFile, 'utf8')).toBe(metrics);
    // Put back, the forced stage runs and its rows replace the old ones: as many as before.
    rmSync(modelDir, { force: true });
    await runOffline({ resume: first.runDir, stages: ['reward'], force: true }, ctx);
    const after = readFileSync(metricsFile, 'utf8').split('\n');
    expect(after.filter((l) => l.includes('"reward/train_loss"')).length).toBe(trainRows);
    expect(after.filter((l) => l.includes('"stages/reward_seconds"')).length).toBe(1);
  });

  it('a damaged label store stops a forced reward stage before it drops the metrics rows from before, naming the store', async () => {
    const ctx = { logger: silentLogger, clock: new ManualClock() };
    const first = await runOffline({ config: tiny(), stages: ['pairs', 'label', 'reward'], runsDir: join(dir, 'damaged') }, ctx);
    const storePath = join(first.runDir, 'labels.sqlite');
    const metrics = readFileSync(join(first.runDir, 'metrics.jsonl'), 'utf8');
    expect(metrics).toContain('reward/train_loss');
    // A truncated copy: the first pages only.
    writeFileSync(storePath, readFileSync(storePath).subarray(0, 8192));
    await expect(runOffline({ resume: first.runDir, stages: ['reward'], force: true }, ctx)).rejects.toThrow(
      `${storePath}: a damaged label store (database disk image is malformed); the labels in it cannot be read: restore the file from a copy`,
    );
    expect(readFileSync(join(first.runDir, 'metrics.jsonl'), 'utf8')).toBe(metrics);
  });

  it('--resume refuses a dataset file replaced by other data of the same size (the run\'s pairs were cut from the first), naming the file; nothing is dropped', async () => {
    const ctx = { logger: silentLogger, clock: new ManualClock() };
    const file = join(dir, 'replaced.h5');
    await writeDataset(file, toyDataset());
    const first = await runOffline({ config: tiny({ dataset: file }), stages: ['pairs', 'label'], runsDir: join(dir, 'replaced') }, ctx);
    const saved = JSON.parse(readFileSync(join(first.runDir, 'config.json'), 'utf8')) as { dataset: { transitions: number; fingerprint?: string } };
    expect(saved.dataset.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    const metrics = readFileSync(join(first.runDir, 'metrics.jsonl'), 'utf8');
    // The same episodes with every reward halved: as many transitions, other data.
    const ds = toyDataset();
    await writeDataset(file, { ...ds, rewards: ds.rewards.map((r) => r / 2) });
    await expect(runOffline({ resume: first.runDir, stages: ['reward'] }, ctx)).rejects.toThrow(
      `${file}: is not the dataset the run ${first.runDir} was made from (the same ${saved.dataset.transitions} transitions in number, other contents: fingerprint`,
    );
    expect(readFileSync(join(first.runDir, 'metrics.jsonl'), 'utf8')).toBe(metrics);
    expect(existsSync(join(first.runDir, 'artifacts', 'reward_model'))).toBe(false);
  });

  it('a run whose label store was deleted after the pairs stage says so, and the pairs stage draws the same pairs into a new one', async () => {
    const ctx = { logger: silentLogger, clock: new ManualClock() };
    const first = await runOffline({ config: tiny(), stages: ['pairs'], runsDir: join(dir, 'lost') }, ctx);
    const storePath = join(first.runDir, 'labels.sqlite');
    const drawn = readFileSync(join(first.runDir, 'artifacts', 'pairs.json'), 'utf8');
    for (const f of [storePath, `${storePath}-wal`, `${storePath}-shm`]) rmSync(f, { force: true });
    await expect(runOffline({ resume: first.runDir, stages: ['label'] }, ctx)).rejects.toThrow(
      `--stage label: the pairs stage's label store ${storePath} is missing; run --stage pairs,label to draw the same pairs into a new one`,
    );
    expect(existsSync(storePath)).toBe(false);
    const reward = runOffline({ resume: first.runDir, stages: ['reward'] }, ctx);
    await expect(reward).rejects.toThrow(`--stage reward: the pairs stage's label store ${storePath} is missing; run --stage pairs,label,reward to draw the same pairs into a new one`);
    const again = await runOffline({ resume: first.runDir, stages: ['pairs', 'label'] }, ctx);
    expect(again.stages).toEqual({ pairs: 'ran', label: 'ran' });
    expect(readFileSync(join(first.runDir, 'artifacts', 'pairs.json'), 'utf8')).toBe(drawn);
    const store = LabelStore.open(storePath, { create: false });
    expect(store.counts()).toMatchObject({ pairs: 40, labels: 40, pending: 0 });
    store.close();
  });

  it('bad input: clear errors naming the flag or the file and field', async () => {
    const cases: [string[], number, RegExp][] = [
      [['--teacher', 'oracle', '--dataset', join(dir, 'missing.h5')], 2, /--dataset: .*missing\.h5.* not found/],
      [['--teacher', 'gpt', '--dataset', data], 2, /--teacher/],
      [['--teacher', 'oracle'], 2, /--dataset: required/],
      [['--dataset', data], 2, /--teacher: required/],
      [['--teacher', 'oracle', '--dataset', data, '--stage', 'train'], 2, /--stage: unknown stage "train"/],
      [['--teacher', 'oracle', '--dataset', data, '--segment-length', '0'], 2, /--segment-length/],
      [['--teacher', 'oracle', '--dataset', data, '--segment-length', '51'], 2, /^prefrl offline: --segment-length: no episode of .*toy\.h5 has 51 steps \(the longest has 50\); use at most 50\n$/],
      [['--teacher', 'oracle', '--dataset', data, '--reward-lr', '0'], 2, /--reward-lr: expected a finite number > 0, got 0/],
      [['--teacher', 'oracle', '--dataset', data, '--reward-weight-decay', '-1'], 2, /--reward-weight-decay/],
      [['--teacher', 'oracle', '--dataset', data, '--reward-input-l1', 'x'], 2, /--reward-input-l1/],
      [['--teacher', 'oracle', '--dataset', data, '--reward-input-prox', '-0.5'], 2, /--reward-input-prox/],
      [['--teacher', 'oracle', '--dataset', data, '--reward-patience', '0'], 2, /--reward-patience/],
      [['--teacher', 'oracle', '--dataset', data, '--query', 'random'], 2, /--query/],
      [['--teacher', 'oracle', '--dataset', data, '--query', 'disagreement', '--query-rounds', '0'], 2, /--query-rounds/],
      [['--teacher', 'oracle', '--dataset', data, '--query', 'disagreement', '--labels', '3', '--query-rounds', '4'], 2, /--query-rounds: 4 rounds cannot share 3 labels/],
      [['--teacher', 'oracle', '--dataset', data, '--query', 'entropy', '--oversample', '0'], 2, /--oversample/],
      [['--teacher', 'oracle', '--dataset', data, '--query-rounds', '3'], 2, /--query-rounds: only with an active --query \(disagreement, entropy, kcenter/],
      [['--teacher', 'oracle', '--dataset', data, '--query', 'uniform', '--oversample', '5'], 2, /--oversample: only with an active --query/],
      [['--teacher', 'oracle', '--dataset', data, '--reward-select-inputs', '--reward-select-workers', '-1'], 2, /--reward-select-workers/],
      [['--teacher', 'oracle', '--dataset', data, '--reward-input', 'pixels'], 2, /--reward-input/],
      [['--teacher', 'oracle', '--dataset', data, '--reward-input', 'obs', '--preference-model', 'regret'], 2, /--reward-input: the regret model .* needs the action/],
      [['--teacher', 'heron', '--dataset', data], 2, /--heron-config: --teacher heron needs/],
      [['--teacher', 'heron', '--dataset', data, '--heron-config', join(dir, 'nope.json')], 2, /--heron-config: .*nope\.json.* not found/],
      [['--teacher', 'vlm', '--dataset', data], 2, /--vlm-base-url/],
      [['--teacher', 'vlm', '--dataset', data, '--vlm-base-url', 'localhost:8000/v1', '--vlm-model', 'm'], 2, /--vlm-base-url: expected an http\(s\) URL such as http:\/\/localhost:8000\/v1, got "localhost:8000\/v1"/],
      [['--teacher', 'oracle', '--dataset', data, '--vlm-model', 'x'], 2, /--vlm-\*: only for --teacher vlm/],
      [['--teacher', 'oracle', '--dataset', data, '--vlm-hide-robot'], 2, /--vlm-\*: only for --teacher vlm/],
      [['--teacher', 'vlm', '--dataset', data, '--vlm-base-url', 'http://127.0.0.1:9/v1', '--vlm-model', 'm', '--vlm-camera', 'fisheye'], 2, /--vlm-camera/],
      [['--teacher', 'vlm', '--dataset', data, '--vlm-base-url', 'http://127.0.0.1:9/v1', '--vlm-model', 'm', '--vlm-width', '8'], 2, /--vlm-width/],
      [['--teacher', 'vlm', '--dataset', data, '--vlm-base-url', 'http://127.0.0.1:9/v1', '--vlm-model', 'm', '--vlm-timeout', '0'], 2, /--vlm-timeout/],
      [
        ['--teacher', 'vlm', '--dataset', data, '--vlm-base-url', 'http://127.0.0.1:9/v1', '--vlm-model', 'm', '--vlm-key-env', 'sk-proj-9f8e-pasted'],
        2,
        /^prefrl offline: --vlm-key-env: expected the NAME of an environment variable \(letters, digits and _\), such as OPENAI_API_KEY; the value given is not shown, in case it is the key itself\n$/,
      ],
      [['--teacher', 'vlm', '--dataset', data, '--vlm-base-url', 'http://bob:hunter2@127.0.0.1:9/v1', '--vlm-model', 'm'], 2, /^prefrl offline: --vlm-base-url: a user name or password in the URL is not supported; put the API key in the environment variable named by --vlm-key-env\n$/],
      [['--teacher', 'vlm', '--dataset', data, '--vlm-base-url', 'http://127.0.0.1:9/v1/chat/completions', '--vlm-model', 'm'], 2, /^prefrl offline: --vlm-base-url: give the API's base URL without \/chat\/completions \(prefrl appends it\), such as http:\/\/127\.0\.0\.1:9\/v1\n$/],
      [['--teacher', 'vlm', '--dataset', data, '--vlm-base-url', 'http://127.0.0.1:9/v1', '--vlm-model', 'm', '--vlm-frames', '20'], 2, /^prefrl offline: --vlm-frames: expected final or an integer in 1\.\.16, got "20"\n$/],
      [['--teacher', 'vlm', '--dataset', noState, '--vlm-base-url', 'http://127.0.0.1:9/v1', '--vlm-model', 'm'], 1, /toy-nostate\.h5 \(infos\/qpos\): missing: the vlm teacher renders/],
      [['--teacher', 'synthetic-vlm', '--dataset', noSuccess], 1, /toy-nosuccess\.h5 \(infos\/success\): missing: the synthetic-vlm teacher/],
      [['--teacher', 'human', '--dataset', noState, '--human-port', '0'], 1, /toy-nostate\.h5 \(infos\/qpos\): missing: the viewer shows segments by replaying the simulator state/],
      [['--teacher', 'human', '--dataset', data, '--human-port', '70000'], 2, /--human-port/],
      [['--teacher', 'human', '--dataset', data, '--human-host', '0.0.0.0'], 2, /^prefrl offline: --human-host 0\.0\.0\.0: serving beyond this machine needs an access token \(--human-token, at least 12 characters\)/],
      [['--teacher', 'human', '--dataset', data, '--human-token', 'short'], 2, /^prefrl offline: --human-token: use at least 12 characters/],
      [['--resume', join(dir, 'not-a-run')], 2, /--resume: .* is not a run folder/],
      [['--teacher', 'oracle', '--dataset', data, '--stage', 'reward,eval'], 2, /--stage: a new run starts with the pairs stage; run reward,eval in an existing run folder with --resume/],
    ];
    for (const [args, exit, msg] of cases) {
      const { ctx, err } = cli();
      expect(await main(['offline', ...args, '--runs-dir', join(dir, 'bad'), '--quiet'], ctx), args.join(' ')).toBe(exit);
      expect(err.join(''), args.join(' ')).toMatch(msg);
    }
    // No run folder was made for any of them.
    expect(existsSync(join(dir, 'bad'))).toBe(false);
    // --resume uses the saved config: flags that would change it are refused.
    const { ctx, err } = cli();
    const ok = await runOffline({ config: tiny(), stages: ['pairs'], runsDir: join(dir, 'resume') }, { logger: silentLogger });
    expect(await main(['offline', '--resume', ok.runDir, '--labels', '5'], ctx)).toBe(2);
    expect(err.join('')).toMatch(/--resume: the run's saved config is used; drop --labels/);
  }, 60_000);

  it('prefrl iql --reward success: IQL on the dataset\'s task-success measure; rewards and correlations checked by hand; bad input names the flag or field', async () => {
    const ds = toyDataset();
    const succ = ds.infos.success!;
    // Plain two-pass Pearson, written out here rather than taken from core/math.
    const corr = (x: ArrayLike<number>, y: ArrayLike<number>): number => {
      let mx = 0;
      let my = 0;
      for (let i = 0; i < x.length; i++) {
        mx += x[i];
        my += y[i];
      }
      mx /= x.length;
      my /= y.length;
      let sxy = 0;
      let sxx = 0;
      let syy = 0;
      for (let i = 0; i < x.length; i++) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) ** 2;
        syy += (y[i] - my) ** 2;
      }
      return sxy / Math.sqrt(sxx * syy);
    };
    const sr = successRewards(ds, 'toy.h5');
    expect(sr.rewards.length).toBe(ds.size);
    for (let i = 0; i < ds.size; i++) expect(sr.rewards[i]).toBe(succ[i]);
    expect(sr.transitionCorrelation).toBeCloseTo(corr(succ, ds.rewards), 10);
    // Episode returns: the dataset's episodes are the 24 toy rollouts, in order.
    const epSucc: number[] = [];
    const epTrue: number[] = [];
    for (let i = 0, start = 0; i < ds.size; i++) {
      if (ds.terminals[i] || ds.timeouts[i] || i === ds.size - 1) {
        let a = 0;
        let b = 0;
        for (let j = start; j <= i; j++) {
          a += succ[j];
          b += ds.rewards[j];
        }
        epSucc.push(a);
        epTrue.push(b);
        start = i + 1;
      }
    }
    expect(epSucc.length).toBe(24);
    expect(sr.returnCorrelation).toBeCloseTo(corr(epSucc, epTrue), 10);
    const holed = Float32Array.from(succ);
    holed[3] = Number.NaN;
    expect(() => successRewards({ ...ds, infos: { ...ds.infos, success: holed } }, 'holed.h5')).toThrow(/holed\.h5 \(infos\/success\): transition 3 has no success value/);

    const { ctx, out, err } = cli();
    expect(await main(['iql', '--dataset', data, '--reward', 'success', ...TINY_AGENT, '--runs-dir', join(dir, 'iql'), '--json'], ctx), err.join('')).toBe(0);
    const j = lastJson(out);
    expect(j.rewardKind).toBe('success');
    expect(j.reward).toBe('success');
    expect(j.rewardTransitionCorrelation as number).toBeCloseTo(sr.transitionCorrelation, 10);
    expect(j.rewardReturnCorrelation as number).toBeCloseTo(sr.returnCorrelation, 10);
    expect(String(j.runDir)).toMatch(/iql-toy-reach-success-s0$/);

    const cases: [string[], number, RegExp][] = [
      [['--dataset', data, '--reward', 'bogus'], 2, /--reward: expected true, success or model:<dir>, got "bogus"/],
      [['--dataset', noSuccess, '--reward', 'success'], 1, /toy-nosuccess\.h5 \(infos\/success\): missing: --reward success needs/],
    ];
    for (const [args, exit, msg] of cases) {
      const b = cli();
      expect(await main(['iql', ...args, ...TINY_AGENT, '--runs-dir', join(dir, 'iql-bad')], b.ctx), args.join(' ')).toBe(exit);
      expect(b.err.join(''), args.join(' ')).toMatch(msg);
    }
    expect(existsSync(join(dir, 'iql-bad'))).toBe(false);
  }, 60_000);
});
