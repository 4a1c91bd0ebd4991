/**
 * A `prefrl train` run that asks for no labels (--reward true, --reward model:<dir>) leaves no
 * labels.sqlite in its run folder (it made an empty one, which read as a store to label from;
 * the loop takes no store for them); a --reward learned run still keeps its store. The readers
 * of a run folder cope: --resume, runs and plot work on it, and every command that takes a
 * label store (serve, label, labels export/stats/import, reward, render) says, for the run's
 * labels.sqlite or the run folder itself, that the run asked for no labels (exit 2), instead of
 * "not found, e.g. runs/<id>/labels.sqlite".
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labelFreeTrainRun } from '../scripts/command.js';
import { main } from '../scripts/cli.js';
import { captureCli, lastJson } from './helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'prefrl-left-nostore-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TINY = ['--env', 'toy-reach', '--backend', 'wasm', '--steps', '512', '--num-envs', '2', '--num-steps', '128', '--workers', '0', '--eval-every', '4096', '--eval-episodes', '1', '--quiet', '--json'];

async function cli(args: string[]) {
  const c = captureCli();
  const code = await main(args, c.ctx);
  return { code, out: c.out, err: c.err.join('') };
}

let trueRun = '';
let learnedRun = '';
let modelRun = '';

beforeAll(async () => {
  const t = await cli(['train', ...TINY, '--reward', 'true', '--runs-dir', join(dir, 'runs'), '--name', 'true-run']);
  expect(t.code, t.err).toBe(0);
  trueRun = lastJson<{ runDir: string }>(t.out).runDir;
  const l = await cli(['train', ...TINY, '--warmup-steps', '256', '--labels', '20', '--labels-per-round', '10', '--feedback-every', '256', '--reward-hidden', '4', '--reward-epochs', '1', '--runs-dir', join(dir, 'runs'), '--name', 'learned-run']);
  expect(l.code, l.err).toBe(0);
  learnedRun = lastJson<{ runDir: string }>(l.out).runDir;
  const m = await cli(['train', ...TINY, '--reward', `model:${join(learnedRun, 'artifacts', 'reward_model')}`, '--runs-dir', join(dir, 'runs'), '--name', 'model-run']);
  expect(m.code, m.err).toBe(0);
  modelRun = lastJson<{ runDir: string }>(m.out).runDir;
}, 120_000);

describe('train runs without a teacher make no label store', () => {
  it('--reward true and --reward model:<dir> leave no labels.sqlite (nor -wal/-shm); --reward learned keeps its store', () => {
    for (const run of [trueRun, modelRun]) {
      expect(readdirSync(run).filter((n) => n.startsWith('labels.sqlite'))).toEqual([]);
      expect(existsSync(join(run, 'summary.json'))).toBe(true);
    }
    expect(existsSync(join(learnedRun, 'labels.sqlite'))).toBe(true);
  });

  it('runs lists the three runs, finished', async () => {
    const r = await cli(['runs', '--runs-dir', join(dir, 'runs'), '--json']);
    expect(r.code, r.err).toBe(0);
    const runs = lastJson<{ runs: { path?: string; dir?: string; command: string; state: string }[] }>(r.out).runs;
    expect(runs.length).toBe(3);
    for (const x of runs) expect(x.state).toBe('finished');
  });

  it('--resume of the true-reward run makes no store: finished (reported), and with its summary gone (resumed from its checkpoint)', async () => {
    const r = await cli(['train', '--resume', trueRun, '--quiet', '--json']);
    expect(r.code, r.err).toBe(0);
    expect(lastJson<{ alreadyFinished?: boolean }>(r.out).alreadyFinished).toBe(true);
    // Without summary.json the run is not finished: the resume opens it and runs the loop from its checkpoint.
    rmSync(join(trueRun, 'summary.json'));
    const again = await cli(['train', '--resume', trueRun, '--quiet', '--json']);
    expect(again.code, again.err).toBe(0);
    expect(again.err).toMatch(new RegExp(`resuming ${trueRun.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} at 512 env steps\n`));
    expect(again.err).not.toContain('stored labels');
    expect(existsSync(join(trueRun, 'summary.json'))).toBe(true);
    expect(readdirSync(trueRun).filter((n) => n.startsWith('labels.sqlite'))).toEqual([]);
  });

  it('plot reads the run folder', async () => {
    const r = await cli(['plot', trueRun, '--metric', 'charts/episodic_return', '--out', join(dir, 'curves.svg'), '--json']);
    expect(r.code, r.err).toBe(0);
    expect(existsSync(join(dir, 'curves.svg'))).toBe(true);
  });

  it('labelFreeTrainRun names the reward of a run that asked for no labels, and nothing for the others', () => {
    expect(labelFreeTrainRun(trueRun)).toMatch(/^the prefrl train run there learned from the env's own reward \(--reward true\), asked nobody for labels and has no label store/);
    expect(labelFreeTrainRun(modelRun)).toMatch(/learned from a fixed reward model \(.*reward_model\) \(--reward model:/);
    expect(labelFreeTrainRun(learnedRun)).toBeNull();
    expect(labelFreeTrainRun(dir)).toBeNull();
  });

  it('every command that takes a label store says the run asked for no labels, for its labels.sqlite and for the folder', async () => {
    const commands: [string[], string][] = [
      [['serve', '--port', '0', '--store'], 'serve'],
      [['label', '--teacher', 'oracle', '--store'], 'label'],
      [['labels', 'stats', '--store'], 'labels stats'],
      [['labels', 'export', '--out', join(dir, 'x.jsonl'), '--store'], 'labels export'],
      [['labels', 'import', '--in', join(dir, 'x.jsonl'), '--store'], 'labels import'],
      [['reward', '--runs-dir', join(dir, 'reward-runs'), '--store'], 'reward'],
      [['render', '--pair', '0', '--out', join(dir, 'p.png'), '--store'], 'render'],
    ];
    for (const [args, name] of commands) {
      for (const store of [join(trueRun, 'labels.sqlite'), trueRun]) {
        const r = await cli([...args, store]);
        expect(r.code, `${name} ${store}: ${r.err}`).toBe(2);
        expect(r.err, name).toContain(`--store: ${store}: the prefrl train run there learned from the env's own reward (--reward true), asked nobody for labels and has no label store`);
      }
    }
    // Nothing was made by the refusals.
    expect(readdirSync(trueRun).filter((n) => n.startsWith('labels.sqlite'))).toEqual([]);
    expect(existsSync(join(dir, 'reward-runs'))).toBe(false);
    // Another missing store keeps the old words.
    const other = await cli(['labels', 'stats', '--store', join(dir, 'nothing.sqlite')]);
    expect(other.code).toBe(2);
    expect(other.err).toContain('not found (a label store, e.g. runs/<id>/labels.sqlite)');
  });

  it('pairs does not make a store in such a run folder (it would read as the run\'s labels); another --store is taken', async () => {
    const rec = await cli(['rollout', '--env', 'toy-reach', '--episodes', '2', '--policy', 'random', '--name', 'rec', '--runs-dir', join(dir, 'rec-runs'), '--quiet', '--json']);
    expect(rec.code, rec.err).toBe(0);
    const trajectories = lastJson<{ runDir: string }>(rec.out).runDir;
    const refused = await cli(['pairs', '--trajectories', trajectories, '--count', '3', '--segment-length', '10', '--store', join(trueRun, 'labels.sqlite'), '--json']);
    expect(refused.code, refused.err).toBe(2);
    expect(refused.err).toContain(`--store ${join(trueRun, 'labels.sqlite')}: the prefrl train run there learned from the env's own reward (--reward true), asked nobody for labels and has no label store`);
    expect(refused.err).toContain('give another --store for these pairs');
    expect(readdirSync(trueRun).filter((n) => n.startsWith('labels.sqlite'))).toEqual([]);
    const ok = await cli(['pairs', '--trajectories', trajectories, '--count', '3', '--segment-length', '10', '--store', join(dir, 'mine.sqlite'), '--json']);
    expect(ok.code, ok.err).toBe(0);
    expect(lastJson<{ added: number }>(ok.out).added).toBe(3);
  });
});
