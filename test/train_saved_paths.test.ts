/**
 * A train run keeps the paths of its flags absolute in config.json (a model file given relative
 * to the working folder, its task module), so `--resume` and `--like` from another folder read the
 * same files; a relative path an older run saved that is not found from here is named with
 * config.json and where it was read from.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../scripts/cli.js';
import { withAbsolutePaths } from '../scripts/commands/like.js';
import { captureCli, lastJson } from './helpers/cli.js';

const root = mkdtempSync(join(tmpdir(), 'prefrl-train-paths-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const FIXTURES = join(import.meta.dirname, 'fixtures', 'byo');

describe('train: the paths in config.json', () => {
  it('a model file and task module given relative to the working folder are saved absolute; an older run\'s relative one not found from here is named', async () => {
    const model = relative(process.cwd(), join(FIXTURES, 'arm.xml'));
    const task = relative(process.cwd(), join(FIXTURES, 'reach_task.mjs'));
    expect(model.startsWith('/')).toBe(false);
    const c = captureCli();
    const args = ['train', '--env', model, '--task', task, '--reward', 'true', '--steps', '1024', '--num-envs', '2', '--num-steps', '256', '--workers', '0', '--eval-every', '512', '--eval-episodes', '1', '--runs-dir', join(root, 'runs'), '--quiet', '--json'];
    expect(await main(args, c.ctx), c.err.join('')).toBe(0);
    const runDir = lastJson(c.out).runDir as string;
    const configFile = join(runDir, 'config.json');
    const saved = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
    expect([saved.env, saved.task]).toEqual([resolve(model), resolve(task)]);
    // As an older run saved it (relative to a folder that is not this one), and not finished.
    writeFileSync(configFile, `${JSON.stringify({ ...saved, env: 'elsewhere/arm.xml' }, null, 2)}\n`);
    rmSync(join(runDir, 'summary.json'));
    const r = captureCli();
    expect(await main(['train', '--resume', runDir, '--quiet'], r.ctx)).toBe(2);
    expect(r.err.join('')).toBe(
      `prefrl train: --resume: the run's model file "elsewhere/arm.xml" (${configFile}) is not there from this folder (${process.cwd()}): the run saved it relative to the folder it was started in; resume from there\n`,
    );
  }, 60_000);

  it('withAbsolutePaths: every path-valued flag of every command made absolute, names and other flags as they were', () => {
    const here = process.cwd();
    const given = {
      env: 'robots/arm.xml', task: 't.mjs', expert: 'runs/x', dataset: 'd.h5', store: 'l.sqlite', out: 'o.h5',
      policy: 'random', checkpoint: join(FIXTURES, 'arm.xml'), teacher: 'heron:h.json', reward: 'model:runs/r', humanPeople: '@people.txt', seed: 3, labels: 10,
    };
    expect(withAbsolutePaths(given)).toEqual({
      env: join(here, 'robots/arm.xml'), task: join(here, 't.mjs'), expert: join(here, 'runs/x'), dataset: join(here, 'd.h5'), store: join(here, 'l.sqlite'), out: join(here, 'o.h5'),
      policy: 'random', checkpoint: join(FIXTURES, 'arm.xml'), teacher: `heron:${join(here, 'h.json')}`, reward: `model:${join(here, 'runs/r')}`, humanPeople: `@${join(here, 'people.txt')}`, seed: 3, labels: 10,
    });
    // Built-in names and values that are no paths stay.
    expect(withAbsolutePaths({ env: 'reacher', teacher: 'oracle', reward: 'true', humanPeople: 'ada,bob', policy: 'zero' })).toEqual({ env: 'reacher', teacher: 'oracle', reward: 'true', humanPeople: 'ada,bob', policy: 'zero' });
  });
});
