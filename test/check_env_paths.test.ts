/**
 * `prefrl check-env <folder>`: a folder (such as a run folder) is named as a folder, with the env
 * a run folder was made in, rather than called an unknown env id.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeFolder } from '../core/paths.js';
import { main } from '../scripts/cli.js';
import { captureCli } from './helpers/cli.js';

describe('prefrl check-env given a folder', () => {
  it('exits 2 saying it is a folder, and names the env of a run folder', async () => {
    const root = mkdtempSync(join(tmpdir(), 'after-check-env-'));
    const run = join(root, '20261207-103552-train-reacher-oracle-s0');
    makeFolder(run);
    writeFileSync(join(run, 'config.json'), JSON.stringify({ command: 'train', envConfig: { id: 'reacher' } }));
    const custom = join(root, 'robot run');
    makeFolder(custom);
    writeFileSync(join(custom, 'config.json'), JSON.stringify({ command: 'rollout', envConfig: { id: 'custom', model: '/robots/my arm.xml' } }));
    const empty = join(root, 'empty');
    makeFolder(empty);
    const said = async (arg: string) => {
      const k = captureCli();
      expect(await main(['check-env', arg, '--steps', '10', '--resets', '1'], k.ctx)).toBe(2);
      expect(k.out.join('')).toBe('');
      return k.err.join('');
    };
    const give = 'give an env id (see prefrl envs) or an MJCF .xml file';
    // Before: "<env>: unknown env "<path>" (known: cartpole-swingup, reacher, ...)".
    expect(await said(run)).toBe(`prefrl check-env: <env>: ${run} is a folder; ${give}, e.g. prefrl check-env reacher (the env of this run)\n`);
    expect(await said(custom)).toBe(`prefrl check-env: <env>: ${custom} is a folder; ${give}, e.g. prefrl check-env '/robots/my arm.xml' (the env of this run)\n`);
    expect(await said(empty)).toBe(`prefrl check-env: <env>: ${empty} is a folder; ${give}\n`);
    rmSync(root, { recursive: true, force: true });
  });
});
