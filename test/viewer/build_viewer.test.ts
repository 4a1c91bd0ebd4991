/**
 * scripts/build_viewer.mjs empties its output folder before bundling: only a previous bundle or
 * an empty folder, so a mistyped --out never deletes anything else.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('../../scripts/build_viewer.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'prefrl-build-viewer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function build(...args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

describe('build_viewer --out', () => {
  it('refuses a folder holding other files, a file, and a missing value, with exit 2, deleting nothing', () => {
    const keep = join(dir, 'work');
    mkdirSync(join(keep, 'sub'), { recursive: true });
    writeFileSync(join(keep, 'notes.txt'), 'precious');
    writeFileSync(join(keep, 'sub', 'data.json'), '{}');
    expect(build('--out', keep)).toEqual({ status: 2, stderr: `build_viewer: --out ${keep}: holds files that are not a viewer bundle (notes.txt, sub); give an empty or new folder\n` });
    expect(readFileSync(join(keep, 'notes.txt'), 'utf8')).toBe('precious');
    expect(existsSync(join(keep, 'sub', 'data.json'))).toBe(true);
    expect(build('--out', join(keep, 'notes.txt'))).toEqual({ status: 2, stderr: `build_viewer: --out ${join(keep, 'notes.txt')}: is a file, not a folder\n` });
    expect(readFileSync(join(keep, 'notes.txt'), 'utf8')).toBe('precious');
    expect(build('--out')).toEqual({ status: 2, stderr: 'build_viewer: --out: expected a folder\n' });
    expect(build('--out', '--dev')).toEqual({ status: 2, stderr: 'build_viewer: --out: expected a folder\n' });
  });

  it('replaces a partial earlier bundle (only files it writes)', () => {
    const site = join(dir, 'site');
    mkdirSync(site);
    writeFileSync(join(site, 'app.js'), 'stale');
    writeFileSync(join(site, 'mujoco.wasm.gz'), 'stale');
    expect(build('--out', site).status).toBe(0);
    expect(readFileSync(join(site, 'app.js'), 'utf8')).not.toBe('stale');
    for (const f of ['index.html', 'render.html', 'render.js', 'mujoco.wasm']) expect(existsSync(join(site, f))).toBe(true);
  });
});
