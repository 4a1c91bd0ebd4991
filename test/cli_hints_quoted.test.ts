/**
 * The commands that collect, train, iql and offline print for what to do next ("use it:",
 * "watch the agent:") can be pasted into a shell as printed when the runs folder's path holds a
 * space: the path is one shell word, naming the dataset or run folder that exists. The rollout
 * command demo prints for a bring-your-own model names the model file, not its env id.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../scripts/cli.js';
import { captureCli, lastJson } from './helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'prefrl-hints-'));
const runs = join(dir, 'my runs');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(argv: string[]): Promise<string> {
  const c = captureCli();
  const code = await main([...argv, '--runs-dir', runs, '--quiet'], c.ctx);
  expect(code, c.err.join('')).toBe(0);
  return c.out.join('');
}

/** The words a POSIX shell makes of `line` (blanks split; '...' quotes, with '\'' for a quote inside). */
function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (ch === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated quote in ${line}`);
      word = (word ?? '') + line.slice(i + 1, end);
      i = end;
    } else if (ch === '\\' && i + 1 < line.length) {
      word = (word ?? '') + line[++i];
    } else if (ch === ' ') {
      if (word !== null) words.push(word);
      word = null;
    } else word = (word ?? '') + ch;
  }
  if (word !== null) words.push(word);
  return words;
}

/** The value after `flag` in the command that a printed line starts after `prefix`. */
function argAfter(out: string, prefix: string, flag: string): string {
  const line = out.split('\n').find((l) => l.startsWith(prefix));
  expect(line, `a line starting "${prefix}" in:\n${out}`).toBeDefined();
  // The command runs up to the three spaces or the parenthesis that starts the remark after it.
  const command = (line as string).slice(prefix.length).split(/ {3}| \(or /)[0];
  const words = shellWords(command);
  expect(words.slice(0, 1)).toEqual(['prefrl']);
  return words[words.indexOf(flag) + 1];
}

describe('printed next commands quote a path with a space', () => {
  it('shellWords reads quotes as a POSIX shell does', () => {
    expect(shellWords(`a 'b c' d'e'f 'it'\\''s'`)).toEqual(['a', 'b c', 'def', "it's"]);
  });

  it('collect, train, iql and offline: the dataset or run folder in the printed command is one word that exists', async () => {
    const collected = await run(['collect', '--env', 'toy-reach', '--policy', 'random', '--steps', '200']);
    const dataset = argAfter(collected, 'use it: ', '--dataset');
    expect(dataset).toMatch(/my runs\/.*-collect-toy-reach-random\/artifacts\/dataset\.h5$/);
    expect(existsSync(dataset)).toBe(true);

    const trained = await run(['train', '--env', 'toy-reach', '--reward', 'true', '--steps', '2048', '--workers', '0', '--eval-episodes', '1']);
    const trainRun = argAfter(trained, 'watch the agent: ', '--policy');
    expect(trainRun).toMatch(/my runs\/[^/]*-train-toy-reach-true-s0$/);
    expect(existsSync(join(trainRun, 'summary.json'))).toBe(true);

    const iql = await run(['iql', '--dataset', dataset, '--updates', '2', '--eval-every', '2', '--eval-episodes', '1', '--hidden', '8,8']);
    const iqlRun = argAfter(iql, 'watch the agent: ', '--policy');
    expect(iqlRun).toMatch(/my runs\/[^/]*-iql-toy-reach-true-s0$/);
    expect(existsSync(join(iqlRun, 'summary.json'))).toBe(true);

    const offline = await run(['offline', '--dataset', dataset, '--teacher', 'oracle', '--labels', '10', '--segment-length', '10', '--updates', '2', '--eval-episodes', '1', '--hidden', '8,8', '--reward-hidden', '8,8', '--reward-epochs', '2']);
    const actor = argAfter(offline, 'watch the agents: ', '--policy');
    expect(actor).toMatch(/my runs\/[^/]*-offline-toy-reach-oracle-s0\/artifacts\/agents\/iql-learned$/);
    expect(existsSync(actor)).toBe(true);
  }, 120_000);

  it('demo on a bring-your-own model: the printed rollout command names the model file as --env, and runs', async () => {
    const arm = join(import.meta.dirname, 'fixtures', 'byo', 'arm.xml');
    const c = captureCli();
    const code = await main(['demo', '--env', arm, '--steps', '2048', '--labels', '10', '--labels-per-round', '10', '--no-baseline', '--runs-dir', runs, '--quiet', '--json'], c.ctx);
    expect(code, c.err.join('')).toBe(0);
    const watch = lastJson<{ watch: string }>(c.out).watch.split(', then ')[0];
    const words = shellWords(watch);
    expect(words.slice(0, 2)).toEqual(['prefrl', 'rollout']);
    expect(words[words.indexOf('--env') + 1]).toBe(arm);
    const r = captureCli();
    expect(words.slice(-2)).toEqual(['--episodes', '5']);
    expect(await main([...words.slice(1, -2), '--episodes', '1', '--runs-dir', runs, '--quiet'], r.ctx), r.err.join('')).toBe(0);
  }, 120_000);
});
