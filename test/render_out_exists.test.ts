/**
 * `prefrl render --out <file>` over a file that exists: refused with a usage error naming the
 * file (before any browser is looked for), the file left as it was; with --force the command goes
 * on (here up to the missing Chromium binary, so no browser is needed). --help names --force.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../scripts/cli.js';
import { captureCli, lastJson } from './helpers/cli.js';

const root = mkdtempSync(join(tmpdir(), 'prefrl-render-out-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let episodes = '';

beforeAll(async () => {
  const c = captureCli();
  expect(await main(['rollout', '--env', 'toy-reach', '--episodes', '1', '--runs-dir', join(root, 'runs'), '--quiet', '--json'], c.ctx), c.err.join('')).toBe(0);
  episodes = lastJson(c.out).runDir as string;
});

const noChromium = () => ['--chromium', join(root, 'no-chromium'), '--quiet'];

describe('prefrl render --out over an existing file', () => {
  it('refuses it naming the file and --force, and leaves it as it was', async () => {
    for (const name of ['old.mp4', 'old.png']) {
      const out = join(root, name);
      writeFileSync(out, 'a render from before');
      const c = captureCli();
      expect(await main(['render', '--trajectories', episodes, '--out', out, ...noChromium()], c.ctx)).toBe(2);
      expect(c.err.join('')).toBe(`prefrl render: --out ${out}: already exists; pass --force to replace it, or choose another file\n`);
      expect(readFileSync(out, 'utf8')).toBe('a render from before');
    }
  });

  it('with --force goes on to render (stopped here by the missing Chromium, before the file is touched)', async () => {
    const out = join(root, 'forced.png');
    writeFileSync(out, 'a render from before');
    const c = captureCli();
    expect(await main(['render', '--trajectories', episodes, '--out', out, '--force', ...noChromium()], c.ctx)).toBe(1);
    expect(c.err.join('')).toBe(`[prefrl] rendering episode 0 to ${out}\nprefrl render: ${join(root, 'no-chromium')}: Chromium binary not found\n`);
    expect(readFileSync(out, 'utf8')).toBe('a render from before');
  });

  it('a new file needs no --force', async () => {
    const out = join(root, 'new.png');
    const c = captureCli();
    expect(await main(['render', '--trajectories', episodes, '--out', out, ...noChromium()], c.ctx)).toBe(1);
    expect(c.err.join('')).toContain('Chromium binary not found');
  });

  it('--help documents --force and says an existing --out is kept without it', async () => {
    const c = captureCli();
    expect(await main(['render', '--help'], c.ctx)).toBe(0);
    const help = c.out.join('');
    expect(help).toMatch(/--force\b.*replace an existing --out file/);
    expect(help).toMatch(/--out\b.*an existing file is kept unless --force/);
  });
});
