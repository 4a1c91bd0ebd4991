/**
 * Temporary files a killed writer left (`<file>.tmp-<pid>` of a process that no longer runs) are
 * removed when a run folder is opened again and before a dataset is written over its path; those
 * of a process that still runs, and other files, stay.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { datasetFromTrajectories, writeDataset } from '../../agents/dataset.js';
import { Rng } from '../../core/rng.js';
import { openRunDir, removeStaleTemps } from '../../core/run.js';
import { randomPolicy, rollout } from '../../envs/rollout.js';
import { TOY_SPEC, ToyReachEnv } from '../../envs/toy.js';

const dir = mkdtempSync(join(tmpdir(), 'prefrl-temps-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The pid of a process that has ended. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '0']);
  expect(r.status).toBe(0);
  return r.pid as number;
}

describe('stale temporary files', () => {
  it('opening a run folder again removes the dead writers\' temporary files below it, and nothing else', () => {
    const dead = deadPid();
    const run = join(dir, 'run');
    mkdirSync(join(run, 'artifacts', 'agents', 'bc'), { recursive: true });
    const files = {
      deadTop: join(run, 'summary.json.tmp-' + dead),
      deadDeep: join(run, 'artifacts', 'agents', 'bc', 'actor.json.tmp-' + dead),
      live: join(run, 'artifacts', 'reward.json.tmp-' + process.pid),
      notPid: join(run, 'artifacts', 'notes.tmp-x1'),
      plain: join(run, 'artifacts', 'reward.json'),
    };
    for (const f of Object.values(files)) writeFileSync(f, 'half');
    const r = openRunDir(run);
    r.close();
    expect(existsSync(files.deadTop)).toBe(false);
    expect(existsSync(files.deadDeep)).toBe(false);
    expect([files.live, files.notPid, files.plain].every((f) => existsSync(f))).toBe(true);
  });

  it('removeStaleTemps with a file name removes only that file\'s; a missing folder is nothing to clean', () => {
    const dead = deadPid();
    const d = join(dir, 'named');
    mkdirSync(d);
    writeFileSync(join(d, `a.h5.tmp-${dead}`), 'x');
    writeFileSync(join(d, `b.h5.tmp-${dead}`), 'x');
    expect(removeStaleTemps(d, 'a.h5')).toEqual([join(d, `a.h5.tmp-${dead}`)]);
    expect(readdirSync(d)).toEqual([`b.h5.tmp-${dead}`]);
    expect(removeStaleTemps(join(dir, 'no-such-folder'))).toEqual([]);
  });

  it('writing a dataset removes a half-written copy a killed writer left next to it', async () => {
    const dead = deadPid();
    const d = join(dir, 'data');
    mkdirSync(d);
    writeFileSync(join(d, `toy.h5.tmp-${dead}`), 'half an HDF5 file');
    writeFileSync(join(d, `other.h5.tmp-${dead}`), 'not ours');
    const env = new ToyReachEnv();
    const trajs = rollout(env, randomPolicy(TOY_SPEC, new Rng(1)), { episodes: 1, seed: 1 });
    env.dispose();
    await writeDataset(join(d, 'toy.h5'), datasetFromTrajectories(trajs, { policy: 'random' }));
    expect(readdirSync(d).sort()).toEqual([`other.h5.tmp-${dead}`, 'toy.h5']);
  });
});
