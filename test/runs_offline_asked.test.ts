/**
 * `prefrl runs` on an offline run whose last command was asked for some of the stages (--stage
 * pairs,label) and ran them all: listed as stopped there as asked, with the stages still to run
 * (`stages.asked`, `stages.toRun` in --json), not as a run stopped part way. The record
 * (stages_asked.json) is written by prefrl offline when such a command ends well and removed when
 * the next one starts its stages; a record that no longer fits the folder, or cannot be read, is
 * not believed.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeFolder } from '../core/paths.js';
import { ASKED_RECORD, readAskedStages } from '../reward/offline_stages.js';
import { makePair } from '../reward/segments.js';
import { LabelStore, TIMEOUT_SKIP_TAG } from '../reward/store.js';
import type { Label } from '../reward/types.js';
import { main } from '../scripts/cli.js';
import { listRuns, type RunEntry } from '../scripts/commands/runs.js';
import { captureCli, lastJson } from './helpers/cli.js';
import { handSegment } from './helpers/segments.js';
import { useToyDataset } from './helpers/toy_dataset.js';

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function newRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'runs-offline-asked-'));
  roots.push(root);
  return root;
}

/** An offline run folder (config.json, artifacts/) with the stand-in outputs of `done` and, if given, the record of the stages asked. */
function offlineRun(root: string, name: string, done: string[], asked?: unknown, teacher = 'oracle'): string {
  const dir = join(root, name);
  makeFolder(join(dir, 'artifacts'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ command: 'offline', envConfig: { id: 'reacher' }, config: { teacher, seed: 0, labels: 4, query: 'uniform' } }));
  const outputs: Record<string, string[]> = {
    pairs: ['artifacts/pairs.json'],
    label: ['artifacts/labels.json'],
    reward: ['artifacts/reward.json', 'artifacts/reward_model/model.json'],
  };
  for (const f of done.flatMap((s) => outputs[s])) {
    makeFolder(join(dir, f, '..'));
    writeFileSync(join(dir, f), '{}');
  }
  if (asked !== undefined) writeFileSync(join(dir, ASKED_RECORD), typeof asked === 'string' ? asked : JSON.stringify(asked));
  return dir;
}

/** A label store of 4 pairs in `dir`, `answered` answered by `teacher` and `timedOut` more given the human teacher's timeout skip. */
function storeIn(dir: string, answered: number, teacher = 'oracle', timedOut = 0): void {
  const store = LabelStore.open(join(dir, 'labels.sqlite'), { envId: 'test', modelHash: 'test' });
  const pairs = Array.from({ length: 4 }, (_, i) => makePair(handSegment(`s${2 * i}`, 1), handSegment(`s${2 * i + 1}`, 1)));
  store.putPairs(pairs);
  const labels: (Label & { timeout?: boolean })[] = pairs.slice(0, answered).map((p, i) => ({ id: `l${i}`, pairId: p.id, teacher, kind: 'preference', probFirst: 1 }));
  for (const [i, p] of pairs.slice(answered, answered + timedOut).entries()) labels.push({ id: `t${i}`, pairId: p.id, teacher: 'human', kind: 'skip', reason: `no answer within 5 s ${TIMEOUT_SKIP_TAG}`, timeout: true });
  store.addLabels(labels);
  store.close();
}

describe('prefrl runs: an offline run that stopped where its --stage asked', () => {
  it('is listed with the stages done, the ones asked for and the ones still to run, in the text and in --json', async () => {
    const root = newRoot();
    const dir = offlineRun(root, '20261207-100000-offline-reacher-oracle-s0', ['pairs', 'label'], { stages: ['pairs', 'label'] });
    storeIn(dir, 4);
    const [e] = listRuns(root);
    const resume = `stages done: pairs, label; stopped there as asked (--stage pairs,label); still to run: reward, relabel, iql, eval: prefrl offline --resume ${dir}`;
    // Unfinished as before (no summary), and `at` still the stage the resume starts with.
    expect(e).toMatchObject({ state: 'unfinished', problem: null, resume, stages: { done: ['pairs', 'label'], at: 'reward', asked: ['pairs', 'label'], toRun: ['reward', 'relabel', 'iql', 'eval'], pairs: null } });
    const j = captureCli();
    expect(await main(['runs', '--runs-dir', root, '--json'], j.ctx)).toBe(0);
    expect(lastJson<{ runs: RunEntry[] }>(j.out).runs[0]).toEqual(JSON.parse(JSON.stringify(e)));
    const t = captureCli();
    expect(await main(['runs', '--runs-dir', root], t.ctx)).toBe(0);
    const row = t.out.join('').split('\n').find((l) => l.startsWith('20261207-100000')) ?? '';
    expect(row.split(/ {2,}/)).toEqual(['20261207-100000-offline-reacher-oracle-s0', 'offline', 'reacher', 'oracle', '0', 'unfinished', resume]);
  });

  it('a record that no longer fits (a stage it names undone since, the human teacher\'s pairs to ask again) is not believed; without one the run stopped part way', () => {
    const root = newRoot();
    // The label stage's output gone since (a pairs stage run again): stopped at label, as before.
    const undone = offlineRun(root, '20261207-100000-offline-a', ['pairs'], { stages: ['pairs', 'label'] });
    storeIn(undone, 2);
    // Timed-out pairs the resume asks again: the label stage is to run again.
    const reopened = offlineRun(root, '20261207-110000-offline-b', ['pairs', 'label'], { stages: ['pairs', 'label'] }, 'human');
    storeIn(reopened, 2, 'human', 2);
    // No record: a command stopped part way (or a run made before the record).
    const none = offlineRun(root, '20261207-120000-offline-c', ['pairs', 'label']);
    storeIn(none, 4);
    const [a, b, c] = listRuns(root);
    expect(a).toMatchObject({ stages: { at: 'label', asked: null, toRun: ['label', 'reward', 'relabel', 'iql', 'eval'] }, resume: `stages done: pairs; at label, 2 of 4 pairs answered: prefrl offline --resume ${undone}` });
    expect(b).toMatchObject({
      stages: { done: ['pairs', 'label'], at: 'label', asked: null, toRun: ['label', 'reward', 'relabel', 'iql', 'eval'] },
      resume: `stages done: pairs, label; at label again, 2 pairs the human teacher timed out on to ask again: prefrl offline --resume ${reopened}`,
    });
    expect(c).toMatchObject({ stages: { at: 'reward', asked: null, toRun: ['reward', 'relabel', 'iql', 'eval'] }, resume: `stages done: pairs, label; at reward: prefrl offline --resume ${none}` });
  });

  it('a run going on now (its offline.lock held by a live process) is listed as running, whatever the record of the command before it says', () => {
    const root = newRoot();
    const dir = offlineRun(root, '20261207-100000-offline-a', ['pairs', 'label'], { stages: ['pairs', 'label'] });
    storeIn(dir, 4);
    writeFileSync(join(dir, 'offline.lock'), JSON.stringify({ host: hostname(), pid: process.pid, since: '2026-12-07T10:00:00.000Z' }));
    expect(listRuns(root)[0]).toMatchObject({
      state: 'running',
      stages: { at: 'reward', asked: null },
      resume: `running now (stages done: pairs, label; at reward; pid ${process.pid} on ${hostname()}, since 2026-12-07T10:00:00.000Z)`,
    });
  });

  it('a record that cannot be read is named as the problem, and the run listed as stopped part way', () => {
    const root = newRoot();
    const bad = offlineRun(root, '20261207-100000-offline-a', ['pairs'], '{"stages": [');
    const unknown = offlineRun(root, '20261207-110000-offline-b', ['pairs'], { stages: ['pairs', 'polish'] });
    storeIn(bad, 0);
    storeIn(unknown, 0);
    const [a, b] = listRuns(root);
    expect(a.problem).toMatch(new RegExp(`^${join(bad, ASKED_RECORD).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot read: `));
    expect(a).toMatchObject({ state: 'unfinished', stages: { at: 'label', asked: null }, resume: `stages done: pairs; at label, 0 of 4 pairs answered: prefrl offline --resume ${bad}` });
    expect(b.problem).toBe(`${join(unknown, ASKED_RECORD)} (stages): expected a list of stages (pairs, label, reward, relabel, iql, eval), got ["pairs","polish"]`);
    expect(() => readAskedStages(unknown)).toThrow('(stages): expected a list of stages');
    // In the table: what cannot be read first, then the resume.
    expect(b.resume).toBe(`stages done: pairs; at label, 0 of 4 pairs answered: prefrl offline --resume ${unknown}`);
  });
});

describe('prefrl offline writes and removes the record', () => {
  const toy = useToyDataset('prefrl-runs-offline-asked-', 4, { wasm: true });
  const TINY = ['--labels', '6', '--label-batch', '6', '--segment-length', '10', '--reward-members', '1', '--reward-hidden', '8', '--reward-epochs', '2', '--updates', '4', '--batch-size', '16', '--hidden', '8', '--eval-episodes', '1', '--backend', 'wasm'];

  /** prefrl offline: a new run with the tiny settings, a resumed one with its saved ones. */
  async function offline(args: string[]) {
    const c = captureCli();
    const code = await main(['offline', ...args, ...(args.includes('--resume') ? [] : TINY), '--quiet'], c.ctx);
    return { code, err: c.err.join('') };
  }

  it('--stage pairs,label writes it; a command refused before any stage ran leaves it as it was; all stages leave none and the run is finished', async () => {
    const runs = join(toy.dir, 'runs');
    expect((await offline(['--dataset', toy.data, '--teacher', 'oracle', '--stage', 'pairs,label', '--runs-dir', runs])).code).toBe(0);
    const [e] = listRuns(runs);
    const run = e.path;
    expect(JSON.parse(readFileSync(join(run, ASKED_RECORD), 'utf8'))).toEqual({ stages: ['pairs', 'label'] });
    expect(e.stages).toMatchObject({ done: ['pairs', 'label'], asked: ['pairs', 'label'], toRun: ['reward', 'relabel', 'iql', 'eval'] });
    // iql before relabel has run: refused before any stage changed the folder, so the record still
    // says what the folder holds (the run stopped where --stage pairs,label asked).
    const refused = await offline(['--resume', run, '--stage', 'iql']);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('--stage iql: the relabel stage has not run');
    expect(JSON.parse(readFileSync(join(run, ASKED_RECORD), 'utf8'))).toEqual({ stages: ['pairs', 'label'] });
    expect(listRuns(runs)[0]).toMatchObject({ stages: { at: 'reward', asked: ['pairs', 'label'] } });
    // Done stages skipped are done as asked too: the record is back.
    expect((await offline(['--resume', run, '--stage', 'label'])).code).toBe(0);
    expect(listRuns(runs)[0].stages?.asked).toEqual(['label']);
    expect((await offline(['--resume', run])).code).toBe(0);
    expect(existsSync(join(run, ASKED_RECORD))).toBe(false);
    expect(listRuns(runs)[0]).toMatchObject({ state: 'finished', stages: null, resume: null });
  }, 60_000);
});
