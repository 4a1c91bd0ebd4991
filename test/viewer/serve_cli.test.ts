/**
 * `prefrl serve` as a user runs it: bad flags and settings exit 2 with one line naming the flag
 * (or the environment variable) before the store is opened, and a started server answers on its
 * link and prints its summary as the last stdout line when stopped with Ctrl-C.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeFolder } from '../../core/paths.js';
import { LabelStore } from '../../reward/store.js';
import { main } from '../../scripts/cli.js';
import { captureCli } from '../helpers/cli.js';
import { makePairs } from './helpers.js';

let dir = '';
let storePath = '';
const savedToken = process.env.PREFRL_VIEWER_TOKEN;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'prefrl-serve-cli-'));
  storePath = join(dir, 'labels.sqlite');
  const store = LabelStore.open(storePath);
  store.putPairs(await makePairs('toy-reach', { episodes: 1, steps: 40, length: 10 }), { round: 0 });
  store.close();
});
afterEach(() => {
  if (savedToken === undefined) delete process.env.PREFRL_VIEWER_TOKEN;
  else process.env.PREFRL_VIEWER_TOKEN = savedToken;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function serveError(args: string[]): Promise<string> {
  const { ctx, err, out } = captureCli();
  expect(await main(['serve', ...args], ctx)).toBe(2);
  expect(out.join('')).toBe('');
  return err.join('');
}

describe('prefrl serve: settings refused before anything starts', () => {
  it('names the token\'s source: --token, or $PREFRL_VIEWER_TOKEN when the flag is not given; checked before the store', async () => {
    delete process.env.PREFRL_VIEWER_TOKEN;
    const missing = join(dir, 'missing.sqlite');
    expect(await serveError(['--store', missing, '--token', 'short'])).toBe('prefrl serve: --token: use at least 12 characters\n');
    expect(await serveError(['--store', missing, '--host', '0.0.0.0', '--token', 'has spaces in it'])).toBe('prefrl serve: --token: use printable ASCII characters without spaces\n');
    process.env.PREFRL_VIEWER_TOKEN = 'short';
    expect(await serveError(['--store', storePath, '--port', '0'])).toBe('prefrl serve: $PREFRL_VIEWER_TOKEN: use at least 12 characters\n');
    // --token wins over the variable.
    expect(await serveError(['--store', missing, '--token', 'a-good-token-123'])).toMatch(/^prefrl serve: --store: .*missing\.sqlite not found/);
    // Set but empty: as if unset (a loopback server needs no token), so the next problem is the store.
    process.env.PREFRL_VIEWER_TOKEN = '';
    expect(await serveError(['--store', missing])).toMatch(/^prefrl serve: --store: .*missing\.sqlite not found/);
  });

  it('refuses a port in use and a port out of range, naming the flag', async () => {
    delete process.env.PREFRL_VIEWER_TOKEN;
    const taken: Server = createServer();
    await new Promise<void>((res) => taken.listen(0, '127.0.0.1', () => res()));
    const port = (taken.address() as { port: number }).port;
    try {
      expect(await serveError(['--store', storePath, '--port', String(port)])).toBe(`prefrl serve: --port ${port}: already in use (pick another port, or 0 for any free one)\n`);
    } finally {
      await new Promise<void>((res) => taken.close(() => res()));
    }
    expect(await serveError(['--store', storePath, '--port', '70000'])).toBe('prefrl serve: --port: must be <= 65535, got 70000\n');
  });

  it('refuses a --heron-out in a missing folder or naming a folder (the HERON page\'s save would fail only after the ranking work)', async () => {
    delete process.env.PREFRL_VIEWER_TOKEN;
    const inMissing = join(dir, 'no-such-folder', 'heron.json');
    expect(await serveError(['--store', storePath, '--port', '0', '--heron-out', inMissing])).toBe(`prefrl serve: --heron-out ${inMissing}: ${join(dir, 'no-such-folder')} is not an existing folder\n`);
    expect(await serveError(['--store', storePath, '--port', '0', '--heron-out', dir])).toBe(`prefrl serve: --heron-out ${dir}: is a folder (name the .json file to write)\n`);
  });

  it('a label file (labels export\'s JSONL) given as --store is refused with how it goes into a store', async () => {
    delete process.env.PREFRL_VIEWER_TOKEN;
    const file = join(dir, 'labels export.jsonl');
    writeFileSync(file, '{"id":"h-1","pairId":"p-1","teacher":"human:ada","kind":"skip"}\n');
    const { ctx, err, out } = captureCli();
    expect(await main(['serve', '--store', file, '--port', '0'], ctx)).toBe(1);
    expect(out.join('')).toBe('');
    expect(err.join('')).toBe(`prefrl serve: ${file}: not a SQLite database (file is not a database); a label file goes into a label store with: prefrl labels import --store <labels.sqlite> --in '${file}'\n`);
  });

  it('--insight takes a reward run folder (artifacts/reward_model in it) as train --reward model:<run> does; a missing folder or one without a model is refused naming the flag', async () => {
    delete process.env.PREFRL_VIEWER_TOKEN;
    const missing = join(dir, 'no-such-run');
    expect(await serveError(['--store', storePath, '--port', '0', '--insight', missing])).toBe(`prefrl serve: --insight ${missing}: not found (a reward model folder, or the run folder of prefrl reward)\n`);
    expect(await serveError(['--store', storePath, '--port', '0', '--insight', dir])).toBe(`prefrl serve: --insight ${dir}: holds no reward model (no model.json there or in artifacts/reward_model)\n`);
    // A run folder: its artifacts/reward_model/model.json is the one read (here a damaged one, refused naming it).
    const run = join(dir, 'reward-run');
    makeFolder(join(run, 'artifacts', 'reward_model'));
    writeFileSync(join(run, 'artifacts', 'reward_model', 'model.json'), '{ not json');
    const { ctx, err } = captureCli();
    expect(await main(['serve', '--store', storePath, '--port', '0', '--insight', run], ctx)).toBe(1);
    expect(err.join('')).toContain(join(run, 'artifacts', 'reward_model', 'model.json'));
  });
});
