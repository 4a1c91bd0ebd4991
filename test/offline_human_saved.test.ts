/**
 * An offline run taught by people saves its --human-* settings in config.json (`human`, by flag
 * name; never the token), as `prefrl train` saves its flags: `prefrl runs` shows them in the
 * run's resume command (with `--human-token <the same token>` where one was needed), and
 * `prefrl offline --like <run>` takes them back, flags given on the command line over them. The
 * runs stop after the pairs stage (no person needs to answer).
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../scripts/cli.js';
import { listRuns } from '../scripts/commands/runs.js';
import { offlineHumanFlagsFromConfig } from '../scripts/commands/offline.js';
import { captureCli, lastJson } from './helpers/cli.js';
import { useToyDataset } from './helpers/toy_dataset.js';

const toy = useToyDataset('prefrl-offline-human-saved-', 4, { wasm: true });

const TOKEN = 'a-secret-token-0123456789';
const TINY = ['--labels', '6', '--label-batch', '6', '--segment-length', '10', '--stage', 'pairs', '--quiet', '--json'];

async function offline(args: string[]) {
  const c = captureCli();
  const code = await main(['offline', ...args, ...TINY], c.ctx);
  return { code, err: c.err.join(''), runDir: code === 0 ? lastJson<{ runDir: string }>(c.out).runDir : '' };
}

const config = (run: string) => JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')) as Record<string, unknown>;

/** Every file under `dir`, as text. */
function allText(dir: string): string {
  return readdirSync(dir)
    .map((n) => join(dir, n))
    .map((p) => (statSync(p).isDirectory() ? allText(p) : readFileSync(p).toString('latin1')))
    .join('\n');
}

describe('offline --teacher human: the --human-* settings are saved, listed and taken by --like', () => {
  it('saved without the token; runs shows them in the resume command; --like takes them back, the command line over them', async () => {
    const runs = join(toy.dir, 'runs');
    const first = await offline(['--dataset', toy.data, '--teacher', 'human', '--human-host', '0.0.0.0', '--human-port', '0', '--human-token', TOKEN, '--human-timeout', '60', '--human-people', 'ada,bo', '--human-overlap', '2', '--runs-dir', runs]);
    expect(first.code, first.err).toBe(0);
    const run = first.runDir;
    // Every setting, the defaults too (as train saves them), and no token.
    expect(config(run).human).toEqual({ humanPort: 0, humanHost: '0.0.0.0', humanTimeout: 60, humanOnTimeout: 'skip', humanOverlap: 2, humanPeople: 'ada,bo' });
    expect(allText(run)).not.toContain(TOKEN);

    // runs: the settings away from their defaults, and the token asked for (the host and the people need one).
    const [e] = listRuns(runs);
    const resume = `prefrl offline --resume ${run} --human-port 0 --human-host 0.0.0.0 --human-token <the same token> --human-timeout 60 --human-overlap 2 --human-people ada,bo`;
    expect(e.resume).toBe(`stages done: pairs; stopped there as asked (--stage pairs); still to run: label (0 of 6 pairs answered), reward, relabel, iql, eval: ${resume}`);
    const c = captureCli();
    expect(await main(['runs', '--runs-dir', runs, '--json'], c.ctx)).toBe(0);
    expect(lastJson<{ runs: { resume: string }[] }>(c.out).runs[0].resume).toBe(e.resume);

    // --like without the token (never saved): refused, naming the flags.
    const like = join(toy.dir, 'like');
    const refused = await offline(['--like', run, '--runs-dir', like]);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('--human-host 0.0.0.0: serving beyond this machine needs an access token (--human-token');
    // With it, and a timeout of its own: the other settings are the saved ones.
    const again = await offline(['--like', run, '--human-token', TOKEN, '--human-timeout', '30', '--runs-dir', like]);
    expect(again.code, again.err).toBe(0);
    expect(config(again.runDir).human).toEqual({ humanPort: 0, humanHost: '0.0.0.0', humanTimeout: 30, humanOnTimeout: 'skip', humanOverlap: 2, humanPeople: 'ada,bo' });
    expect(allText(again.runDir)).not.toContain(TOKEN);
    // The same pairs as the run it is like (same settings, same seed).
    expect(readFileSync(join(again.runDir, 'artifacts', 'pairs.json'), 'utf8')).toBe(readFileSync(join(run, 'artifacts', 'pairs.json'), 'utf8'));
  }, 60_000);

  it('defaults only: nothing added to the resume command; another teacher saves no human settings', async () => {
    const runs = join(toy.dir, 'plain');
    const human = await offline(['--dataset', toy.data, '--teacher', 'human', '--human-port', '0', '--runs-dir', runs]);
    expect(human.code, human.err).toBe(0);
    // Port 0 is away from the default 8080: the only setting the resume names.
    expect(listRuns(runs)[0].resume).toMatch(new RegExp(`: prefrl offline --resume ${human.runDir} --human-port 0$`));
    const oracle = await offline(['--dataset', toy.data, '--teacher', 'oracle', '--runs-dir', join(toy.dir, 'oracle')]);
    expect(oracle.code, oracle.err).toBe(0);
    expect(config(oracle.runDir)).not.toHaveProperty('human');
    // A run made before they were saved (no `human`): its resume names none, --like takes none.
    const old = config(human.runDir);
    delete old.human;
    writeFileSync(join(human.runDir, 'config.json'), JSON.stringify(old));
    expect(listRuns(runs)[0].resume).toMatch(new RegExp(`: prefrl offline --resume ${human.runDir}$`));
    const like = await offline(['--like', human.runDir, '--human-port', '0', '--runs-dir', join(toy.dir, 'like-old')]);
    expect(like.code, like.err).toBe(0);
    expect(config(like.runDir).human).toEqual({ humanPort: 0, humanHost: '127.0.0.1', humanTimeout: 900, humanOnTimeout: 'skip', humanOverlap: 1 });
  }, 60_000);

  it('a damaged `human` record is refused by --like naming the file and field, and a bad value naming its key', async () => {
    const runs = join(toy.dir, 'damaged');
    const made = await offline(['--dataset', toy.data, '--teacher', 'human', '--human-port', '0', '--runs-dir', runs]);
    expect(made.code, made.err).toBe(0);
    const file = join(made.runDir, 'config.json');
    expect(() => offlineHumanFlagsFromConfig(['x'], file)).toThrow(`${file} (human): expected the --human-* settings (an object of flags) under "human"`);
    expect(offlineHumanFlagsFromConfig({ humanPort: 0, humanToken: 'kept-out-1234' }, file)).toEqual({ humanPort: 0 });
    const cfg = config(made.runDir);
    writeFileSync(file, JSON.stringify({ ...cfg, human: { ...(cfg.human as object), humanOverlap: 0 } }));
    const bad = await offline(['--like', made.runDir, '--runs-dir', join(toy.dir, 'damaged-like')]);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain(file);
    expect(bad.err).toContain('humanOverlap');
  }, 60_000);
});
