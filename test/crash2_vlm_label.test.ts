/**
 * `prefrl label --teacher vlm:...` stopped part way (SIGKILL, a power cut; SIGINT, Ctrl-C), against
 * an OpenAI-compatible stub on loopback that counts what it is asked: the label store holds whole
 * batches only, every answer cache entry is whole JSON, the same command then asks the model only
 * what the stopped run had no answer for (its cache answers the rest), and the labels end equal to
 * an uninterrupted run's on a copy of the same store.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../scripts/cli.js';
import { renderToolsAvailable } from '../viewer/render.js';
import { captureCli, lastJson, spawnCli, until } from './helpers/cli.js';
import { cacheEntries, labelsOf, Stub } from './crash2_vlm_stub.js';

const dir = mkdtempSync(join(tmpdir(), 'prefrl-crash2-vlm-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Pairs in the store, and pairs per batch (each batch's labels are stored before the next is asked). */
const PAIRS = 8;
const BATCH = 2;
/** The stopped run is stopped when the model is asked its HELD-th question (that one is never answered). */
const HELD = 8;

const stub = new Stub();
let teacher = '';
/** The store every run starts from: PAIRS unlabelled reacher pairs. */
let fresh = '';
/** The uninterrupted run's labels (see labelsOf) and the questions it asked. */
let full: string[] = [];
let fullAsked = 0;

/** A copy of the fresh store in a folder of its own (its own vlm_cache beside it). */
function copyStore(name: string): string {
  const folder = join(dir, name);
  mkdirSync(folder);
  const to = join(folder, 'labels.sqlite');
  copyFileSync(fresh, to);
  return to;
}

async function label(store: string): Promise<{ added: number; usage: Record<string, number> }> {
  const c = captureCli();
  expect(await main(['label', '--store', store, '--teacher', teacher, '--batch', String(BATCH), '--quiet', '--json'], c.ctx), c.err.join('')).toBe(0);
  return lastJson(c.out);
}

beforeAll(async () => {
  if (!renderToolsAvailable(false)) throw new Error('this test renders frames with headless Chromium: apt-get install -y chromium');
  teacher = `vlm:baseUrl=${await stub.listen()},model=stub-vl,keyEnv=PREFRL_TEST_UNSET_KEY,width=64,height=48`;
  const c = captureCli();
  expect(await main(['rollout', '--env', 'reacher', '--episodes', '2', '--runs-dir', join(dir, 'runs'), '--quiet', '--json'], c.ctx), c.err.join('')).toBe(0);
  fresh = join(dir, 'fresh.sqlite');
  const p = captureCli();
  expect(await main(['pairs', '--trajectories', lastJson<{ runDir: string }>(c.out).runDir, '--count', String(PAIRS), '--segment-length', '10', '--store', fresh, '--quiet'], p.ctx), p.err.join('')).toBe(0);
  const whole = copyStore('whole');
  expect(await label(whole)).toMatchObject({ added: PAIRS });
  full = labelsOf(whole);
  fullAsked = stub.asked.length;
  // Two questions per pair (analysis, answer), each asked once.
  expect(fullAsked).toBe(2 * PAIRS);
  expect(new Set(stub.asked).size).toBe(fullAsked);
  stub.reset();
}, 120_000);

afterAll(() => stub.close());

describe('prefrl label --teacher vlm stopped part way', () => {
  for (const signal of ['SIGKILL', 'SIGINT'] as const) {
    it(`${signal}: whole batches stored, the cache whole; the same command asks only what had no answer and ends with the uninterrupted labels`, async () => {
      const store = copyStore(signal);
      stub.holdAt = HELD;
      const child = spawnCli(['label', '--store', store, '--teacher', teacher, '--batch', String(BATCH), '--json']);
      await Promise.race([stub.reached, until('the stub to be asked', () => (child.child.exitCode !== null ? true : null), child.stderr)]);
      expect(child.child.exitCode, child.stderr()).toBe(null);
      child.child.kill(signal);
      const code = await child.exited;
      const answered = HELD - 1;
      if (signal === 'SIGINT') {
        expect(code, child.stderr()).toBe(130);
        const added = labelsOf(store).length;
        const line = `stopped; ${added} new labels are stored in ${store}; run the same command again to label the pairs left`;
        expect(child.stderr().endsWith(`${line}\n`), child.stderr()).toBe(true);
        expect(JSON.parse(child.stdout().trimEnd().split('\n').at(-1) as string)).toMatchObject({ ok: false, interrupted: true, signal, exitCode: 130, message: line, added });
      } else {
        expect(code).toBe(null);
      }
      // Whole batches only, each label what the uninterrupted run gave.
      const kept = labelsOf(store);
      expect(kept.length % BATCH).toBe(0);
      expect(kept.length).toBeLessThan(PAIRS);
      for (const l of kept) expect(full).toContain(l);
      // The cache holds whole entries, at most one per question answered.
      const cached = cacheEntries(join(store, '..', 'vlm_cache'));
      expect(cached.length).toBeLessThanOrEqual(answered);
      // Two questions of each stored pair at least (their answers were cached before the labels were stored).
      expect(cached.length).toBeGreaterThanOrEqual(2 * kept.length);
      const firstAsked = new Set(stub.asked);
      stub.reset();
      // The same command again: nothing the cache answers is asked again.
      const again = await label(store);
      expect(again.added).toBe(PAIRS - kept.length);
      // Of the 2 questions of each pair left, those whose answers the cache holds are not sent.
      expect(stub.asked.length).toBe(fullAsked - cached.length);
      expect(again.usage['vlm/cache_hits']).toBe(cached.length - 2 * kept.length);
      // What was asked again is only what the stopped run got no answer to.
      const askedAgain = stub.asked.filter((h) => firstAsked.has(h));
      expect(askedAgain.length).toBeLessThanOrEqual(HELD - cached.length);
      expect(labelsOf(store)).toEqual(full);
      stub.reset();
    }, 90_000);
  }
});
