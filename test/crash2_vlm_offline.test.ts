/**
 * `prefrl offline --teacher vlm` stopped in its label stage (SIGKILL, a power cut; SIGINT, Ctrl-C),
 * against the counting stub (test/crash2_vlm_stub.ts): its label store holds whole batches, its
 * answer cache whole entries; `offline --resume` asks the model only what the stopped run had no
 * answer for and ends with the labels of an uninterrupted run of the same settings.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../scripts/cli.js';
import { renderToolsAvailable } from '../viewer/render.js';
import { captureCli, lastJson, spawnCli, until } from './helpers/cli.js';
import { cacheEntries, labelsOf, Stub } from './crash2_vlm_stub.js';

const dir = mkdtempSync(join(tmpdir(), 'prefrl-crash2-vlm-offline-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Pairs asked about, and pairs per teacher call (each call's labels are stored before the next). */
const LABELS = 8;
const BATCH = 2;
/** The stopped run is stopped when the model is asked its HELD-th question (never answered). */
const HELD = 8;

const stub = new Stub();
let dataset = '';
let baseUrl = '';
/** The uninterrupted run's labels (see labelsOf) and how many questions it asked. */
let full: string[] = [];
let fullAsked = 0;

/** The offline command (pairs and label stages only) writing its run folder under `runs`. */
function offlineArgs(runs: string): string[] {
  return [
    'offline', '--dataset', dataset, '--teacher', 'vlm', '--vlm-base-url', baseUrl, '--vlm-model', 'stub-vl', '--vlm-key-env', 'PREFRL_TEST_UNSET_KEY',
    '--vlm-width', '64', '--vlm-height', '48', '--labels', String(LABELS), '--label-batch', String(BATCH), '--segment-length', '10',
    '--stage', 'pairs,label', '--seed', '3', '--runs-dir', runs, '--json',
  ];
}

/** The one run folder under `runs`. */
function onlyRun(runs: string): string {
  const runsIn = readdirSync(runs);
  expect(runsIn).toHaveLength(1);
  return join(runs, runsIn[0]);
}

beforeAll(async () => {
  if (!renderToolsAvailable(false)) throw new Error('this test renders frames with headless Chromium: apt-get install -y chromium');
  baseUrl = await stub.listen();
  const c = captureCli();
  expect(await main(['collect', '--env', 'reacher', '--policy', 'random', '--steps', '200', '--runs-dir', join(dir, 'data'), '--quiet', '--json'], c.ctx), c.err.join('')).toBe(0);
  dataset = lastJson<{ dataset: string }>(c.out).dataset;
  const w = captureCli();
  expect(await main([...offlineArgs(join(dir, 'whole')), '--quiet'], w.ctx), w.err.join('')).toBe(0);
  full = labelsOf(join(onlyRun(join(dir, 'whole')), 'labels.sqlite'));
  expect(full).toHaveLength(LABELS);
  fullAsked = stub.asked.length;
  expect(fullAsked).toBe(2 * LABELS);
  stub.reset();
}, 120_000);

afterAll(() => stub.close());

describe('prefrl offline --teacher vlm stopped in its label stage', () => {
  for (const signal of ['SIGKILL', 'SIGINT'] as const) {
    it(`${signal}: whole batches and cache entries kept; --resume asks only what had no answer and ends with the uninterrupted labels`, async () => {
      const runs = join(dir, signal);
      stub.holdAt = HELD;
      const child = spawnCli(offlineArgs(runs));
      await Promise.race([stub.reached, until('the stub to be asked', () => (child.child.exitCode !== null ? true : null), child.stderr)]);
      expect(child.child.exitCode, child.stderr()).toBe(null);
      child.child.kill(signal);
      const code = await child.exited;
      const run = onlyRun(runs);
      if (signal === 'SIGINT') {
        expect(code, child.stderr()).toBe(130);
        const last = JSON.parse(child.stdout().trimEnd().split('\n').at(-1) as string) as Record<string, unknown>;
        expect(last).toMatchObject({ ok: false, interrupted: true, signal, exitCode: 130 });
        // The resume it names goes on with the stages asked for (without --stage it ran them all).
        const line = `stopped; resume with: prefrl offline --resume ${run} --stage pairs,label`;
        expect(last).toMatchObject({ message: line, resume: line.slice('stopped; resume with: '.length) });
        expect(child.stderr().endsWith(`${line}\n`), child.stderr()).toBe(true);
      } else {
        expect(code).toBe(null);
      }
      const kept = labelsOf(join(run, 'labels.sqlite'));
      expect(kept.length % BATCH).toBe(0);
      expect(kept.length).toBeLessThan(LABELS);
      for (const l of kept) expect(full).toContain(l);
      const cached = cacheEntries(join(run, 'vlm_cache'));
      expect(cached.length).toBeLessThanOrEqual(HELD - 1);
      expect(cached.length).toBeGreaterThanOrEqual(2 * kept.length);
      stub.reset();
      // The resume as the stopped run names it.
      const r = captureCli();
      expect(await main(['offline', '--resume', run, '--stage', 'pairs,label', '--quiet', '--json'], r.ctx), r.err.join('')).toBe(0);
      // Only the questions the cache has no answer to are sent.
      expect(stub.asked.length).toBe(fullAsked - cached.length);
      expect(labelsOf(join(run, 'labels.sqlite'))).toEqual(full);
      expect(cacheEntries(join(run, 'vlm_cache'))).toHaveLength(fullAsked);
      stub.reset();
    }, 90_000);
  }
});
