/**
 * Scripted people for the tests of runs taught in the viewer (test/human_*.test.ts): a page that
 * judges each pair it is served by the true partial return of its two segments, read from the
 * run's own label store (what the page is sent is only the clips; the person looks at them).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { initBackend } from '../core/backend.js';
import { partialReturn } from '../reward/preference.js';
import { LabelStore } from '../reward/store.js';
import type { ServerMessage } from '../viewer/protocol.js';
import { main } from '../scripts/cli.js';
import type { CapturedCli } from './helpers/cli.js';
import { TestClient } from './viewer/helpers.js';

/** The tiny `prefrl train` flags of the people-taught runs (toy-reach, rollouts of 2 x 256, rounds every 1,024 steps, a one-member reward model trained 2 epochs). */
export function tinyTrainFlags(steps = 4096): string[] {
  return [
    '--env', 'toy-reach', '--steps', String(steps), '--num-envs', '2', '--num-steps', '256', '--workers', '0', '--warmup-steps', '1024', '--feedback-every', '1024',
    '--eval-every', '1024', '--eval-episodes', '1', '--reward-epochs', '2', '--reward-hidden', '16', '--reward-members', '1', '--segment-length', '25',
  ];
}

/**
 * A test file's temporary folder `prefrl-human-<name>-*`, made (with the WASM backend ready)
 * before its tests and removed after them; call at the top level, and the getter gives its path.
 */
export function humanTestDir(name: string): () => string {
  let dir = '';
  beforeAll(async () => {
    await initBackend('wasm');
    dir = mkdtempSync(join(tmpdir(), `prefrl-human-${name}-`));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return () => dir;
}

export type PairMsg = Extract<ServerMessage, { type: 'pair' }>;
export type Choice = 'left' | 'right' | 'equal' | 'cant_tell';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wait (polling every 20 ms, up to `limitMs`) until `ready()` gives a value; fails naming `what`. */
export async function waitFor<T>(what: string, ready: () => T | undefined | null | false, limitMs = 120_000): Promise<T> {
  const end = Date.now() + limitMs;
  for (;;) {
    const v = ready();
    if (v !== undefined && v !== null && v !== false) return v;
    if (Date.now() > end) throw new Error(`waited ${limitMs / 1000} s for ${what}`);
    await sleep(20);
  }
}

/** For a waitFor on a run in this process: throws when the run has ended (exit code `exit`, its stderr `err`) before what is waited for came. */
export function ended(exit: number | undefined, err: readonly string[]): undefined {
  if (exit !== undefined) throw new Error(`the run ended (exit ${exit}) first: ${err.join('')}`);
  return undefined;
}

/** `prefrl <argv>` started in this process with the captured context `c`, not awaited. */
export interface InProcessRun {
  /** Its exit code, once it ends. */
  readonly running: Promise<number>;
  /** The exit code, or undefined while it runs. */
  exit(): number | undefined;
  /** For a waitFor: undefined while it runs; throws (with its stderr) once it has ended (see ended). */
  stillRunning(): undefined;
}

export function startInProcess(c: CapturedCli, argv: readonly string[]): InProcessRun {
  const running = main(argv, c.ctx);
  let code: number | undefined;
  void running.then((x) => (code = x));
  return { running, exit: () => code, stillRunning: () => ended(code, c.err) };
}

/**
 * `prefrl <argv>` (a run taught in the viewer, writing its one run folder under `runs`) started in
 * this process with the captured context `c`, once its label store and its viewer are up: the
 * run (startInProcess), its folder, the store file and the viewer's link. A run that ends before
 * them fails the wait with its stderr (ended).
 */
export async function startViewerRun(c: CapturedCli, argv: readonly string[], runs: string): Promise<InProcessRun & { runDir: string; storeFile: string; url: string }> {
  const run = startInProcess(c, argv);
  const storeFile = await waitFor('the run folder', () => run.stillRunning() ?? (runFolder(runs) && join(runFolder(runs)!, 'labels.sqlite')));
  const url = await waitFor('the viewer to start', () => run.stillRunning() ?? viewerUrl(storeFile));
  return { ...run, runDir: runFolder(runs)!, storeFile, url };
}

/** The one run folder under `runs` (once it exists). */
export function runFolder(runs: string): string | undefined {
  if (!existsSync(runs)) return undefined;
  const d = readdirSync(runs).filter((n) => !n.startsWith('.'));
  return d.length === 1 ? join(runs, d[0]) : undefined;
}

/** The viewer URL a run's labelling server advertises next to its store (labels.sqlite.viewer.json), once written. */
export function viewerUrl(storeFile: string): string | undefined {
  const info = `${storeFile}.viewer.json`;
  if (!existsSync(info)) return undefined;
  try {
    return (JSON.parse(readFileSync(info, 'utf8')) as { url: string }).url;
  } catch {
    return undefined; // being written
  }
}

/** The true partial returns (a, b) of a stored pair. */
export function trueReturns(store: LabelStore, pairId: string): [number, number] {
  const [a, b] = store.pairRewards([pairId]);
  return [partialReturn(a.rewards), partialReturn(b.rewards)];
}

/** The answer a person who sees the true reward gives to a pair shown with `leftIs` on the left. */
export function trueChoice(store: LabelStore, p: Pick<PairMsg, 'pairId' | 'leftIs'>): Choice {
  const [ra, rb] = trueReturns(store, p.pairId);
  if (ra === rb) return 'equal';
  return (ra > rb) === (p.leftIs === 'a') ? 'left' : 'right';
}

/** P(first better) a label of the true partial return carries: 1, 0 or 0.5. */
export function trueProbFirst(store: LabelStore, pairId: string): number {
  const [ra, rb] = trueReturns(store, pairId);
  return ra > rb ? 1 : ra < rb ? 0 : 0.5;
}

/** Label ids are unique across pages (a page makes its own; a second page of a name must not reuse the first's). */
let answersMade = 0;

/** One person at one page of the viewer. */
export class Person {
  /** Pair ids this person was served (for an answer), in order. */
  readonly served: string[] = [];
  /** Pair id -> the choice acknowledged. */
  readonly answers = new Map<string, Choice>();
  private constructor(
    readonly name: string,
    readonly client: TestClient,
  ) {}

  static async join(url: string, name: string): Promise<Person> {
    const c = await TestClient.open(url);
    await c.hello({ name });
    return new Person(name, c);
  }

  /** Ask for a pair and wait (up to `limitMs`) until one is served (at once, or pushed once one is stored). */
  async take(limitMs = 120_000): Promise<PairMsg> {
    this.client.send({ type: 'next' });
    return this.waitPair(limitMs);
  }

  /** The next pair served without asking (after an undo, or pushed to an idle page). */
  async waitPair(limitMs = 120_000): Promise<PairMsg> {
    const p = await this.client.next('pair', limitMs);
    this.served.push(p.pairId);
    return p;
  }

  /** Answer a served pair; resolves on the server's ack; returns the label id. */
  async answer(p: PairMsg, choice: Choice): Promise<string> {
    const labelId = `${this.name}-answer-${String(answersMade++).padStart(6, '0')}`;
    this.client.send({ type: 'answer', labelId, pairId: p.pairId, name: this.name, choice, responseMs: 1500, leftIs: p.leftIs });
    const ack = await this.client.next('ack', 60_000);
    if (ack.labelId !== labelId) throw new Error(`${this.name}: ack of ${ack.labelId}, not ${labelId}`);
    this.answers.set(p.pairId, choice);
    return labelId;
  }

  /** Undo an answer; resolves with the pair the server serves again. */
  async undo(labelId: string): Promise<PairMsg> {
    this.client.send({ type: 'undo', labelId, name: this.name });
    const u = await this.client.next('undone', 60_000);
    if (u.pairId !== null) this.answers.delete(u.pairId);
    return this.waitPair(60_000);
  }

  /**
   * Answer every pair served, judged by `judge`, until the server goes away (the run ended);
   * resolves with the number answered. Other failures reject.
   */
  async answerAll(judge: (p: PairMsg) => Choice): Promise<number> {
    let n = 0;
    for (;;) {
      let p: PairMsg;
      try {
        p = await this.take(300_000);
      } catch (e) {
        if (this.client.closeCode !== null) return n;
        throw e;
      }
      try {
        await this.answer(p, judge(p));
      } catch (e) {
        if (this.client.closeCode !== null) return n;
        throw e;
      }
      n++;
    }
  }

  leave(): Promise<number> {
    this.client.close();
    return this.client.closed();
  }
}

/** The metrics rows of a run folder. */
export function metricsRows(runDir: string): Record<string, unknown>[] {
  return readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** The feedback rounds' rows: [teacher/labels, teacher/round_skips]. */
export function roundCounts(runDir: string): [unknown, unknown][] {
  return metricsRows(runDir)
    .filter((r) => 'teacher/labels' in r)
    .map((r) => [r['teacher/labels'], r['teacher/round_skips']]);
}
