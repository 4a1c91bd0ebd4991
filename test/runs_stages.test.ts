/**
 * `prefrl runs` on unfinished offline runs: the stages done and the one the resume starts with,
 * by the rule `prefrl offline` skips stages by (reward/offline_stages.ts), with the label stage's
 * pairs answered counted in hand-made label stores and the iql stage's agents trained; and run
 * folders with a file that cannot be read (config, summary, stage marker, label store, metrics)
 * listed with the file and why.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../core/errors.js';
import { makeFolder } from '../core/paths.js';
import { OFFLINE_STAGES as FROM_OFFLINE } from '../reward/offline.js';
import { labelStageTotal, OFFLINE_STAGES, offlineStageDone, offlineStageState, readRerunMarker, reopenedPairs } from '../reward/offline_stages.js';
import { makePair } from '../reward/segments.js';
import { LabelStore, TIMEOUT_SKIP_TAG } from '../reward/store.js';
import type { Label } from '../reward/types.js';
import { main } from '../scripts/cli.js';
import { listRuns, type RunEntry } from '../scripts/commands/runs.js';
import { captureCli, lastJson } from './helpers/cli.js';
import { handSegment } from './helpers/segments.js';

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function newRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'runs-stages-'));
  roots.push(root);
  return root;
}

/** An offline run folder as `prefrl offline` makes it (config.json only), its config's inner flags `inner`. */
function offlineRun(root: string, name: string, inner: Record<string, unknown> = {}): string {
  const dir = join(root, name);
  makeFolder(join(dir, 'artifacts'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ command: 'offline', envConfig: { id: 'reacher' }, config: { teacher: 'oracle', seed: 3, labels: 4, query: 'uniform', ...inner } }));
  return dir;
}

/** Files (relative to `dir`) written with a stand-in body, their folders made. */
function touch(dir: string, ...files: string[]): void {
  for (const f of files) {
    makeFolder(join(dir, f, '..'));
    writeFileSync(join(dir, f), '{}');
  }
}

/** The outputs of each stage, as reward/offline_stages.ts names them (labels.sqlite aside). */
const OUTPUTS: Record<string, string[]> = {
  pairs: ['artifacts/pairs.json'],
  label: ['artifacts/labels.json'],
  reward: ['artifacts/reward.json', 'artifacts/reward_model/model.json'],
  relabel: ['artifacts/relabel.json', 'artifacts/relabelled_rewards.npy'],
  iql: ['iql-learned', 'iql-true', 'bc'].map((a) => `artifacts/agents/${a}/training.json`),
  eval: ['summary.json'],
};

/**
 * A label store in `dir` with `n` pairs (distinct one-step segments), the first `answered` of them
 * answered by `teacher`, and `timedOut` more given the human teacher's timeout skip (no answer).
 */
function storeIn(dir: string, n: number, answered: number, teacher = 'oracle', timedOut = 0): void {
  const store = LabelStore.open(join(dir, 'labels.sqlite'), { envId: 'test', modelHash: 'test' });
  const pairs = Array.from({ length: n }, (_, i) => makePair(handSegment(`s${2 * i}`, 1), handSegment(`s${2 * i + 1}`, 1)));
  store.putPairs(pairs);
  const labels: (Label & { timeout?: boolean })[] = pairs.slice(0, answered).map((p, i) => ({ id: `l${i}`, pairId: p.id, teacher, kind: 'preference', probFirst: 1 }));
  for (const [i, p] of pairs.slice(answered, answered + timedOut).entries()) labels.push({ id: `t${i}`, pairId: p.id, teacher: 'human', kind: 'skip', reason: `no answer within 5 s ${TIMEOUT_SKIP_TAG}`, timeout: true });
  store.addLabels(labels);
  store.close();
}

describe('the offline stage rule (reward/offline_stages.ts)', () => {
  it('is the one prefrl offline exports, and marks each stage done by its outputs, in order', () => {
    expect(FROM_OFFLINE).toBe(OFFLINE_STAGES);
    const dir = offlineRun(newRoot(), 'r');
    expect(offlineStageState(dir)).toEqual({ done: [], at: 'pairs', rerunning: null });
    // pairs.json alone is not the pairs stage: its pairs live in the label store.
    touch(dir, ...OUTPUTS.pairs);
    expect(offlineStageDone(dir, 'pairs')).toBe(false);
    touch(dir, 'labels.sqlite');
    expect(offlineStageState(dir)).toEqual({ done: ['pairs'], at: 'label', rerunning: null });
    touch(dir, ...OUTPUTS.label, 'artifacts/reward.json');
    // reward.json without the model is not the reward stage.
    expect(offlineStageState(dir)).toEqual({ done: ['pairs', 'label'], at: 'reward', rerunning: null });
    touch(dir, 'artifacts/reward_model/model.json', ...OUTPUTS.relabel, ...OUTPUTS.iql.slice(0, 2));
    // Two of the three agents: the iql stage is not done.
    expect(offlineStageState(dir)).toEqual({ done: ['pairs', 'label', 'reward', 'relabel'], at: 'iql', rerunning: null });
    touch(dir, ...OUTPUTS.iql.slice(2), ...OUTPUTS.eval);
    expect(offlineStageState(dir)).toEqual({ done: [...OFFLINE_STAGES], at: null, rerunning: null });
    // A stage that was running again: it and every stage after it count as not done.
    writeFileSync(join(dir, 'rerunning.json'), JSON.stringify({ stage: 'reward' }));
    expect(offlineStageState(dir)).toEqual({ done: ['pairs', 'label'], at: 'reward', rerunning: 'reward' });
    for (const s of OFFLINE_STAGES) expect(offlineStageDone(dir, s)).toBe(true);
  });

  it('a stage done out of order (an earlier output deleted) is listed done; the resume starts at the first one not done', () => {
    const dir = offlineRun(newRoot(), 'r');
    touch(dir, ...OUTPUTS.pairs, 'labels.sqlite', ...OUTPUTS.reward);
    expect(offlineStageState(dir)).toEqual({ done: ['pairs', 'reward'], at: 'label', rerunning: null });
  });

  it('a rerun marker that cannot be read, or names no stage, is an InputError naming the file', () => {
    const dir = offlineRun(newRoot(), 'r');
    const file = join(dir, 'rerunning.json');
    for (const [body, message] of [
      ['{"stage": "rew', `${file}: cannot read: `],
      ['{"stage": "train"}', `${file} (stage): unknown stage "train"`],
      ['null', `${file} (stage): unknown stage null`],
      ['{}', `${file} (stage): unknown stage null`],
    ]) {
      writeFileSync(file, body);
      expect(() => readRerunMarker(dir)).toThrow(InputError);
      expect(() => offlineStageState(dir)).toThrow(message);
    }
  });

  it('the label stage labels the stored pairs, or with active query selection the configured count when more; timed-out pairs are reopened', () => {
    expect(labelStageTotal({ query: 'uniform', labels: 2000 }, 1200)).toBe(1200);
    expect(labelStageTotal({ labels: 2000 }, 1200)).toBe(1200);
    expect(labelStageTotal({ query: 'disagreement', labels: 2000 }, 500)).toBe(2000);
    expect(labelStageTotal({ query: 'entropy', labels: 2000 }, 2100)).toBe(2100);
    expect(reopenedPairs({ timeouts: 0, pending: 7 })).toBe(0);
    expect(reopenedPairs({ timeouts: 2, pending: 7 })).toBe(7);
  });
});

describe('prefrl runs: how far an unfinished offline run got', () => {
  it('the label stage: pairs answered of the pairs stored, counted in labels.sqlite; the resume goes on from there', async () => {
    const root = newRoot();
    const dir = offlineRun(root, '20261207-100000-offline-reacher-oracle-s3', { labels: 5 });
    touch(dir, ...OUTPUTS.pairs);
    storeIn(dir, 5, 3);
    const before = readFileSync(join(dir, 'labels.sqlite'));
    const [e] = listRuns(root);
    // Counting reads the store and changes nothing in it (no byte, no file left beside it).
    expect(readFileSync(join(dir, 'labels.sqlite')).equals(before)).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(['artifacts', 'config.json', 'labels.sqlite']);
    expect(e).toMatchObject({
      state: 'unfinished',
      stages: { done: ['pairs'], at: 'label', rerunning: null, pairs: { answered: 3, of: 5, reopened: 0 }, agents: null },
      problem: null,
      resume: `stages done: pairs; at label, 3 of 5 pairs answered: prefrl offline --resume ${dir}`,
    });
    const k = captureCli();
    expect(await main(['runs', '--runs-dir', root, '--json'], k.ctx)).toBe(0);
    expect(lastJson<{ runs: RunEntry[] }>(k.out).runs[0]).toEqual(JSON.parse(JSON.stringify(e)));
    const t = captureCli();
    expect(await main(['runs', '--runs-dir', root], t.ctx)).toBe(0);
    const row = t.out.join('').split('\n').find((l) => l.startsWith('20261207-100000')) ?? '';
    expect(row.split(/ {2,}/)).toEqual(['20261207-100000-offline-reacher-oracle-s3', 'offline', 'reacher', 'oracle', '3', 'unfinished', `stages done: pairs; at label, 3 of 5 pairs answered: prefrl offline --resume ${dir}`]);
  });

  it('with active query selection the label stage counts against the configured labels (2 of 6 with 4 pairs stored)', () => {
    const root = newRoot();
    const dir = offlineRun(root, '20261207-100000-offline-a', { labels: 6, query: 'disagreement' });
    touch(dir, ...OUTPUTS.pairs);
    storeIn(dir, 4, 2);
    expect(listRuns(root)[0].stages?.pairs).toEqual({ answered: 2, of: 6, reopened: 0 });
  });

  it('no stage done (nothing said but the resume); later stages; the iql stage with the agents trained; a stage being run again', () => {
    const root = newRoot();
    const fresh = offlineRun(root, '20261207-100000-offline-fresh');
    const late = offlineRun(root, '20261207-110000-offline-late');
    touch(late, ...OUTPUTS.pairs, ...OUTPUTS.label, ...OUTPUTS.reward, ...OUTPUTS.relabel, OUTPUTS.iql[1]);
    storeIn(late, 4, 4);
    const again = offlineRun(root, '20261207-120000-offline-again');
    touch(again, ...OUTPUTS.pairs, ...OUTPUTS.label, ...OUTPUTS.reward);
    storeIn(again, 4, 4);
    writeFileSync(join(again, 'rerunning.json'), JSON.stringify({ stage: 'label' }));
    const [a, b, c] = listRuns(root);
    expect(a).toMatchObject({ stages: { done: [], at: 'pairs', pairs: null, agents: null }, resume: `prefrl offline --resume ${fresh}` });
    expect(b).toMatchObject({
      stages: { done: ['pairs', 'label', 'reward', 'relabel'], at: 'iql', pairs: null, agents: ['iql-true'] },
      resume: `stages done: pairs, label, reward, relabel; at iql, 1 of 3 agents trained (iql-true): prefrl offline --resume ${late}`,
    });
    // The label stage runs again (and every stage after it): its count is shown, its outputs are not done.
    expect(c).toMatchObject({
      stages: { done: ['pairs'], at: 'label', rerunning: 'label', pairs: { answered: 4, of: 4, reopened: 0 } },
      resume: `stages done: pairs; at label, 4 of 4 pairs answered (label was running again when the run stopped: it and the stages after it are made anew): prefrl offline --resume ${again}`,
    });
  });

  it("a done label stage with the human teacher's timed-out pairs: the resume asks them again first", () => {
    const root = newRoot();
    const dir = offlineRun(root, '20261207-100000-offline-human', { teacher: 'human', labels: 5 });
    touch(dir, ...OUTPUTS.pairs, ...OUTPUTS.label, ...OUTPUTS.reward);
    storeIn(dir, 5, 3, 'human', 2);
    expect(listRuns(root)[0]).toMatchObject({
      teacher: 'human',
      stages: { done: ['pairs', 'label', 'reward'], at: 'label', pairs: { answered: 3, of: 5, reopened: 2 } },
      resume: `stages done: pairs, label, reward; at label again, 2 pairs the human teacher timed out on to ask again: prefrl offline --resume ${dir}`,
    });
    // Without timeouts the store is read, but nothing is reopened: the resume starts at relabel.
    const other = offlineRun(root, '20261207-110000-offline-oracle');
    touch(other, ...OUTPUTS.pairs, ...OUTPUTS.label, ...OUTPUTS.reward);
    storeIn(other, 5, 5);
    expect(listRuns(root)[1]).toMatchObject({ stages: { at: 'relabel', pairs: null }, resume: `stages done: pairs, label, reward; at relabel: prefrl offline --resume ${other}` });
  });

  it('a running offline run says its stages too', () => {
    const root = newRoot();
    const dir = offlineRun(root, '20261207-100000-offline-live');
    touch(dir, ...OUTPUTS.pairs);
    storeIn(dir, 4, 1);
    writeFileSync(join(dir, 'offline.lock'), JSON.stringify({ host: hostname(), pid: process.pid, since: '2026-12-07T10:00:00.000Z' }));
    expect(listRuns(root)[0]).toMatchObject({
      state: 'running',
      stages: { at: 'label', pairs: { answered: 1, of: 4 } },
      resume: `running now (stages done: pairs; at label, 1 of 4 pairs answered; pid ${process.pid} on ${hostname()}, since 2026-12-07T10:00:00.000Z)`,
    });
  });

  it('a finished offline run, and runs of other commands, have no stages', () => {
    const root = newRoot();
    const dir = offlineRun(root, '20261207-100000-offline-done');
    writeFileSync(join(dir, 'summary.json'), JSON.stringify({ normalizedRatio: 0.5, labels: 4 }));
    makeFolder(join(root, '20261207-110000-train'));
    writeFileSync(join(root, '20261207-110000-train', 'config.json'), JSON.stringify({ command: 'train', steps: 100 }));
    const [a, b] = listRuns(root);
    expect(a).toMatchObject({ state: 'finished', stages: null, problem: null, result: 'learned/true 0.500 (normalised), 4 labels' });
    expect(b).toMatchObject({ state: 'unfinished', stages: null, problem: null, progress: null });
  });
});

describe('prefrl runs: files that cannot be read are listed with the file and why', () => {
  it('a stage marker that cannot be read: the run is listed unfinished, the marker named; no stages', () => {
    const root = newRoot();
    const dir = offlineRun(root, '20261207-100000-offline-m');
    touch(dir, ...OUTPUTS.pairs);
    writeFileSync(join(dir, 'rerunning.json'), '{"stage": "rel');
    const [e] = listRuns(root);
    expect(e).toMatchObject({ state: 'unfinished', stages: null, resume: `prefrl offline --resume ${dir}` });
    expect(e.problem).toMatch(new RegExp(`^${literal(join(dir, 'rerunning.json'))}: cannot read: `));
  });

  it('a label store that is not a SQLite database: the stages are listed, the store named, and no count', async () => {
    const root = newRoot();
    const dir = offlineRun(root, '20261207-100000-offline-s');
    touch(dir, ...OUTPUTS.pairs);
    writeFileSync(join(dir, 'labels.sqlite'), 'this is no database, just some text long enough to have a header');
    const [e] = listRuns(root);
    expect(e).toMatchObject({ state: 'unfinished', stages: { done: ['pairs'], at: 'label', pairs: null }, resume: `stages done: pairs; at label: prefrl offline --resume ${dir}` });
    expect(e.problem).toMatch(new RegExp(`^${literal(join(dir, 'labels.sqlite'))}: not a SQLite database`));
    const t = captureCli();
    expect(await main(['runs', '--runs-dir', root], t.ctx)).toBe(0);
    expect(t.out.join('')).toContain(`${e.problem}; stages done: pairs; at label: prefrl offline --resume ${dir}`);
  });

  it('an empty label store (a kill while it was made) is named, and left as it was: listing writes nothing into it', () => {
    const root = newRoot();
    const dir = offlineRun(root, '20261207-100000-offline-e');
    touch(dir, ...OUTPUTS.pairs);
    writeFileSync(join(dir, 'labels.sqlite'), '');
    const [e] = listRuns(root);
    expect(e).toMatchObject({ stages: { done: ['pairs'], at: 'label', pairs: null }, problem: `${join(dir, 'labels.sqlite')}: not a label store (an empty file; stores are made by prefrl pairs, train and offline)` });
    expect(statSync(join(dir, 'labels.sqlite')).size).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['artifacts', 'config.json', 'labels.sqlite']);
  });

  it('a summary.json or config.json that cannot be read or is not an object: unreadable, with the file and why', async () => {
    const root = newRoot();
    const cut = offlineRun(root, '20261207-100000-offline-cut');
    writeFileSync(join(cut, 'summary.json'), '{"normalizedRatio": 0.');
    const nul = offlineRun(root, '20261207-110000-offline-null');
    writeFileSync(join(nul, 'summary.json'), 'null');
    makeFolder(join(root, '20261207-120000-broken'));
    writeFileSync(join(root, '20261207-120000-broken', 'config.json'), '{"command": ');
    makeFolder(join(root, '20261207-130000-list'));
    writeFileSync(join(root, '20261207-130000-list', 'config.json'), '[1, 2]');
    const [a, b, c, d] = listRuns(root);
    // The command, env and teacher are still known from the config.
    expect(a).toMatchObject({ command: 'offline', env: 'reacher', teacher: 'oracle', seed: 3, state: 'unreadable', result: null, resume: null, stages: null });
    expect(a.problem).toMatch(/^summary\.json: cannot be read \(.+\)$/);
    expect(b).toMatchObject({ command: 'offline', state: 'unreadable', problem: 'summary.json: not a JSON object (null)' });
    expect(c).toMatchObject({ command: null, state: 'unreadable', resume: null });
    expect(c.problem).toMatch(/^config\.json: cannot be read \(.+\)$/);
    expect(d).toMatchObject({ command: null, state: 'unreadable', problem: 'config.json: not a JSON object (an array)' });
    const t = captureCli();
    expect(await main(['runs', '--runs-dir', root], t.ctx)).toBe(0);
    const lines = t.out.join('').split('\n');
    expect(lines.find((l) => l.startsWith('20261207-110000'))?.split(/ {2,}/)).toEqual(['20261207-110000-offline-null', 'offline', 'reacher', 'oracle', '3', 'unreadable', 'summary.json: not a JSON object (null)']);
    expect(lines.find((l) => l.startsWith('20261207-130000'))?.split(/ {2,}/)).toEqual(['20261207-130000-list', '?', '-', '-', '-', 'unreadable', 'config.json: not a JSON object (an array)']);
  });

  it('a train run whose metrics.jsonl tells no step: said, with the resume command still given; an empty one is no problem', () => {
    const root = newRoot();
    const dir = join(root, '20261207-100000-train');
    makeFolder(dir);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ command: 'train', steps: 1000 }));
    writeFileSync(join(dir, 'metrics.jsonl'), 'garbage\n{"loss": 1}\nnull\n');
    expect(listRuns(root)[0]).toMatchObject({
      state: 'unfinished',
      progress: null,
      problem: 'metrics.jsonl: no line of its last 64 KiB holds a step; how far the run got is not known',
      resume: `prefrl train --resume ${dir}`,
    });
    writeFileSync(join(dir, 'metrics.jsonl'), '');
    expect(listRuns(root)[0]).toMatchObject({ progress: null, problem: null, resume: `prefrl train --resume ${dir}` });
    writeFileSync(join(dir, 'metrics.jsonl'), '{"step": 96}\n');
    expect(listRuns(root)[0]).toMatchObject({ progress: { step: 96, of: 1000 }, problem: null, resume: `at step 96 of 1000: prefrl train --resume ${dir}` });
  });
});

/** `s` as a RegExp matching it literally. */
function literal(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
