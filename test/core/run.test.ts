import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../core/clock.js';
import { createRunDir, softwareChanges, softwareVersions } from '../../core/run.js';

const dir = mkdtempSync(join(tmpdir(), 'prefrl-run-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string; dependencies: Record<string, string> };

describe('run folders', () => {
  it('a new run folder records the software that made it: prefrl, Node and the pinned MuJoCo build', () => {
    const run = createRunDir({ root: dir, name: 'sw', config: { a: 1 }, clock: new ManualClock() });
    run.close();
    const saved = JSON.parse(readFileSync(join(run.path, 'software.json'), 'utf8')) as Record<string, unknown>;
    expect(saved).toEqual({
      prefrl: pkg.version,
      node: process.version,
      mujoco: pkg.dependencies['@mujoco/mujoco'],
      platform: process.platform,
      arch: process.arch,
      cpus: expect.any(Number),
    });
    expect(saved.cpus as number).toBeGreaterThan(0);
    expect(JSON.parse(readFileSync(join(run.path, 'config.json'), 'utf8'))).toEqual({ a: 1 });
    expect(softwareChanges(run.path)).toEqual([]);
  });

  it('softwareChanges names each version that differs from the folder\'s, and nothing for folders without a readable software.json', () => {
    const run = createRunDir({ root: dir, name: 'changed', config: {}, clock: new ManualClock() });
    run.close();
    const now = softwareVersions();
    writeFileSync(join(run.path, 'software.json'), JSON.stringify({ ...now, mujoco: '0.0.0-test', node: 'v18.0.0', cpus: now.cpus + 1 }));
    // cpus and platform are recorded, not compared: a run may resume on another machine.
    expect(softwareChanges(run.path)).toEqual([`MuJoCo 0.0.0-test -> ${now.mujoco}`, `Node v18.0.0 -> ${now.node}`]);

    const old = join(dir, 'made-before-software-json');
    mkdirSync(old);
    expect(softwareChanges(old)).toEqual([]);
    writeFileSync(join(old, 'software.json'), '{ not json');
    expect(softwareChanges(old)).toEqual([]);
  });
});
