/**
 * `prefrl iql --model/--task` on a dataset recorded with another task module of the same robot:
 * every bring-your-own env is env "custom", so only the files tell them apart. The evaluation runs
 * (files get moved and renamed), with one warning naming both task modules, as `rollout --policy`
 * warns for a policy.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../scripts/cli.js';
import { captureCli } from './helpers/cli.js';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'byo');
const root = mkdtempSync(join(tmpdir(), 'prefrl-iql-mismatch-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('prefrl iql on a bring-your-own dataset with another task module', () => {
  it('warns once naming the dataset and both task modules; the same module gives no warning', async () => {
    const model = join(FIXTURES, 'arm.xml');
    const taskA = join(root, 'task_a.mjs');
    const taskB = join(root, 'task_b.mjs');
    copyFileSync(join(FIXTURES, 'reach_task.mjs'), taskA);
    writeFileSync(taskB, `${readFileSync(taskA, 'utf8')}\n// another version of the task\n`);
    const data = join(root, 'arm.h5');
    const c = captureCli();
    expect(await main(['collect', '--model', model, '--task', taskA, '--policy', 'random', '--steps', '200', '--out', data, '--runs-dir', join(root, 'runs'), '--quiet'], c.ctx), c.err.join('')).toBe(0);
    const iql = async (task: string): Promise<string[]> => {
      const r = captureCli();
      expect(await main(['iql', '--dataset', data, '--model', model, '--task', task, '--updates', '5', '--batch-size', '32', '--eval-episodes', '1', '--hidden', '8,8', '--runs-dir', join(root, 'runs'), '--quiet'], r.ctx), r.err.join('')).toBe(0);
      return r.err.join('').split('\n').filter((l) => l.includes('warn:'));
    };
    expect(await iql(taskA)).toEqual([]);
    expect(await iql(taskB)).toEqual([
      `[prefrl] warn: --dataset ${data}: the dataset was recorded with task module ${taskA} (its text differs), but this env runs ${taskB}; every bring-your-own env passes the saved env check (env "custom"), so nothing else tells them apart: if they differ, the evaluation's rewards are not the dataset's (evaluated anyway: files get moved and renamed)`,
    ]);
  }, 60_000);
});

describe('prefrl iql --task without --env', () => {
  it('is a usage error naming --task (it was dropped unread, even a file that is not there)', async () => {
    const c = captureCli();
    expect(await main(['iql', '--dataset', join(root, 'none.h5'), '--task', join(root, 'gone.mjs'), '--runs-dir', join(root, 'never'), '--quiet'], c.ctx)).toBe(2);
    expect(c.err.join('')).toBe('prefrl iql: --task: needs --env <model.xml> (or --model): without it the env the dataset was recorded in is used, with its own task\n');
  });
});
