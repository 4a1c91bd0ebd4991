/**
 * The regret teacher's --expert on a bring-your-own env: every custom env passes the saved env
 * check (env "custom"), so an expert trained with another task module (other rewards, same
 * sizes) gave V* of the wrong rewards without a word, while `--policy` (loadSavedPolicy) warns.
 * warnExpertEnvMismatch gives --expert the same warning, naming the flag and the path given.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { warnExpertEnvMismatch } from '../../agents/saved_policy.js';
import { Logger } from '../../core/log.js';
import { makeEnv } from '../../envs/registry.js';
import { main } from '../../scripts/cli.js';
import { captureCli, lastJson } from '../helpers/cli.js';

const ROOT = mkdtempSync(join(tmpdir(), 'regret-expert-env-'));
afterAll(() => rmSync(ROOT, { recursive: true, force: true }));

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'byo');
const MODEL = join(FIXTURES, 'arm.xml');

/** A checkpoint folder whose checkpoint.json records `env` (all warnExpertEnvMismatch reads). */
function checkpointWith(name: string, env: unknown): string {
  const dir = join(ROOT, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'checkpoint.json'), JSON.stringify(env === undefined ? { format: 'prefrl-ppo-checkpoint-v1' } : { format: 'prefrl-ppo-checkpoint-v1', env }));
  return dir;
}

describe('--expert trained with another bring-your-own task module', () => {
  it('warns naming --expert, the path given and both task modules; the same module, a copy of it or a built-in env do not', async () => {
    const text = readFileSync(join(FIXTURES, 'reach_task.mjs'), 'utf8');
    const a = join(ROOT, 'taskA.mjs');
    const copy = join(ROOT, 'copyOfA.mjs');
    const b = join(ROOT, 'taskB.mjs');
    writeFileSync(a, text);
    copyFileSync(a, copy);
    writeFileSync(b, text.replace("weight: -1, doc: 'sum of |qvel|'", "weight: 1, doc: 'sum of |qvel|'"));
    expect(readFileSync(b, 'utf8')).not.toBe(text);
    const envB = await makeEnv({ id: 'custom', model: MODEL, task: b });
    const envCopy = await makeEnv({ id: 'custom', model: MODEL, task: copy });
    const toy = await makeEnv({ id: 'toy-reach' });
    try {
      const ck = checkpointWith('expertA', { id: 'custom', model: MODEL, task: a });
      const warnings = (checkpoint: string, spec: typeof envB.spec, given?: string): readonly string[] => {
        const logger = new Logger({ write: () => undefined });
        warnExpertEnvMismatch(checkpoint, spec, { given, logger });
        return logger.warnings;
      };
      expect(warnings(ck, envB.spec, 'runs/expertA')).toEqual([
        `--expert runs/expertA: the expert was trained with task module ${a} (its text differs), but this env runs ${b}; ` +
          'every bring-your-own env passes the saved env check (env "custom"), so nothing else tells them apart: ' +
          "if they differ, its critic is not V* of this env's rewards and the regret teacher's labels follow other rewards (used anyway: files get moved and renamed)",
      ]);
      // The checkpoint.json file itself, and no `given`: the path is named as passed.
      expect(warnings(join(ck, 'checkpoint.json'), envB.spec)[0]).toMatch(new RegExp(`^--expert ${join(ck, 'checkpoint.json').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: the expert was trained with task module`));
      // The same text under another path is the same task: no warning.
      expect(warnings(ck, envCopy.spec)).toEqual([]);
      // A built-in env's expert, a checkpoint that records no env, or no checkpoint.json at all: nothing to compare.
      expect(warnings(checkpointWith('toy', { id: 'toy-reach' }), toy.spec)).toEqual([]);
      expect(warnings(checkpointWith('noEnv', undefined), envB.spec)).toEqual([]);
      expect(warnings(join(ROOT, 'nowhere'), envB.spec)).toEqual([]);
    } finally {
      for (const e of [envB, envCopy, toy]) e.dispose();
    }
  });

  it('prefrl train --teacher regret --expert <a run of task A> on task B warns on stderr naming --expert; an expert of the same task does not', async () => {
    const text = readFileSync(join(FIXTURES, 'reach_task.mjs'), 'utf8');
    const a = join(ROOT, 'cliTaskA.mjs');
    const b = join(ROOT, 'cliTaskB.mjs');
    writeFileSync(a, text);
    writeFileSync(b, text.replace("weight: -1, doc: 'sum of |qvel|'", "weight: 1, doc: 'sum of |qvel|'"));
    const small = ['--model', MODEL, '--steps', '256', '--num-envs', '2', '--num-steps', '128', '--workers', '0', '--eval-every', '256', '--eval-episodes', '1', '--quiet', '--json', '--runs-dir', ROOT];
    const e = captureCli();
    expect(await main(['train', ...small, '--task', a, '--reward', 'true', '--name', 'expertA'], e.ctx), e.err.join('')).toBe(0);
    const expert = lastJson(e.out).runDir as string;
    const regret = ['--teacher', 'regret', '--expert', expert, '--labels', '4', '--labels-per-round', '4', '--warmup-steps', '128', '--segment-length', '10', '--reward-epochs', '1', '--reward-members', '1', '--reward-hidden', '8'];
    const other = captureCli();
    expect(await main(['train', ...small, ...regret, '--task', b, '--name', 'onB'], other.ctx), other.err.join('')).toBe(0);
    expect(other.err.join('')).toContain(`--expert ${expert}: the expert was trained with task module ${a} (its text differs), but this env runs ${b};`);
    const same = captureCli();
    expect(await main(['train', ...small, ...regret, '--task', a, '--name', 'onA'], same.ctx), same.err.join('')).toBe(0);
    expect(same.err.join('')).not.toContain('the expert was trained with');
  }, 120_000);
});

