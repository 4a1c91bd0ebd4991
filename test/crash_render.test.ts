/**
 * A render killed before it was done (SIGKILL, a power cut) leaves its hidden temporary video
 * beside --out (`.<name>.tmp-<pid>.mp4`); the next render of that file removes the ones of
 * processes that no longer run, and nothing else (another render's at work, other files).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeFolder } from '../core/paths.js';
import { removeDeadWritersTemps } from '../core/run.js';
import { main } from '../scripts/cli.js';
import { removeKilledRenders } from '../scripts/commands/render.js';
import { captureCli, lastJson } from './helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'prefrl-crash-render-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The pid of a process that has ended. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '0']);
  expect(r.status).toBe(0);
  return r.pid as number;
}

/** Make the files `names` (each holding "half") in a new folder `sub`; returns the folder. */
function folderWith(sub: string, names: readonly string[]): string {
  const d = join(dir, sub);
  rmSync(d, { recursive: true, force: true });
  makeFolder(d);
  for (const n of names) writeFileSync(join(d, n), 'half');
  return d;
}

describe('temporary files of killed renders', () => {
  it('removeKilledRenders removes the dead renders\' temporaries of that --out only', () => {
    const dead = deadPid();
    const d = folderWith('unit', [
      `.clip.tmp-${dead}.mp4`, // a killed render of clip.mp4: removed
      `.clip.tmp-${process.pid}.mp4`, // a render at work now (this process): kept
      `.clip.tmp-${dead}.webm`, // a killed render of clip.webm: not this --out
      `.other.tmp-${dead}.mp4`, // of other.mp4
      `.clip.tmp-0${dead}.mp4`, // not a pid as the writer writes it
      `.clip.tmp-x.mp4`,
      'clip.mp4', // the file itself
    ]);
    expect(removeKilledRenders(join(d, 'clip.mp4'))).toEqual([join(d, `.clip.tmp-${dead}.mp4`)]);
    expect(readdirSync(d).sort()).toEqual([`.clip.tmp-${process.pid}.mp4`, `.clip.tmp-${dead}.webm`, `.clip.tmp-0${dead}.mp4`, `.clip.tmp-x.mp4`, `.other.tmp-${dead}.mp4`, 'clip.mp4'].sort());
    // The extension is matched as the writer writes it (lower case) and a folder not there is nothing to clean.
    writeFileSync(join(d, `.Clip.tmp-${dead}.mp4`), 'half');
    expect(removeKilledRenders(join(d, 'Clip.MP4'))).toEqual([join(d, `.Clip.tmp-${dead}.mp4`)]);
    expect(removeKilledRenders(join(dir, 'no-such-folder', 'clip.mp4'))).toEqual([]);
    expect(removeDeadWritersTemps(join(dir, 'no-such-folder'), () => dead)).toEqual([]);
  });

  it('prefrl render removes them before it starts Chromium (here a missing one: the render fails, the old file stays)', async () => {
    const runs = join(dir, 'runs');
    const c = captureCli();
    expect(await main(['rollout', '--env', 'toy-reach', '--episodes', '1', '--runs-dir', runs, '--quiet', '--json'], c.ctx), c.err.join('')).toBe(0);
    const rollout = lastJson<{ runDir: string }>(c.out).runDir;
    const dead = deadPid();
    const d = folderWith('cli', [`.ep.tmp-${dead}.mp4`, `.ep.tmp-${process.pid}.mp4`, 'ep.mp4']);
    const r = captureCli();
    const code = await main(['render', '--trajectories', rollout, '--out', join(d, 'ep.mp4'), '--force', '--chromium', join(dir, 'no-chromium'), '--quiet'], r.ctx);
    expect(code).toBe(1);
    expect(r.err.join('')).toContain('Chromium binary not found');
    expect(existsSync(join(d, `.ep.tmp-${dead}.mp4`))).toBe(false);
    expect(readdirSync(d).sort()).toEqual([`.ep.tmp-${process.pid}.mp4`, 'ep.mp4']);
  }, 30_000);
});
