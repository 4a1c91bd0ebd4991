/**
 * The viewer page bundle (scripts/build_viewer.mjs) built from the current sources once per test
 * run and shared by the e2e files, which only serve it (none writes into it). Each of them used to
 * build its own copy: five builds (esbuild plus gzip of the 9 MB MuJoCo WASM) per `npm test`.
 *
 * The bundle lives in the run's own temporary folder (TMPDIR, set by run_tmpdir.ts, removed when
 * the run ends), so it never outlives the sources it was built from. The first file to ask takes a
 * lock file and builds; a file asking meanwhile (the other worker) waits for the finished folder,
 * or for the builder's error. Outside such a run folder (TMPDIR not set by run_tmpdir.ts) every
 * call builds into a new folder of its own, as before.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Build the bundle into `out` (a folder that does not exist yet); throws with the builder's stderr. */
function build(out: string): void {
  const b = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build_viewer.mjs'), '--out', out], { encoding: 'utf8' });
  if (b.status !== 0) throw new Error(`viewer build failed: ${b.stderr}`);
}

/** The folder of a viewer bundle built from the current sources in this test run; wait at most `waitMs` for another file's build. */
export async function viewerSite(waitMs = 120_000): Promise<string> {
  const runDir = tmpdir();
  if (!basename(runDir).startsWith('prefrl-test-run-')) {
    const site = join(mkdtempSync(join(runDir, 'prefrl-viewer-site-')), 'site');
    build(site);
    return site;
  }
  const site = join(runDir, 'viewer-site');
  const failed = `${site}.failed`;
  let lock: number | null = null;
  try {
    lock = openSync(`${site}.lock`, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  if (lock !== null) {
    closeSync(lock);
    const partial = `${site}.partial`;
    try {
      build(partial);
    } catch (e) {
      writeFileSync(failed, (e as Error).message);
      throw e;
    }
    // The finished bundle appears under its name in one step: a waiting file never sees half of it.
    renameSync(partial, site);
    return site;
  }
  const t0 = Date.now();
  while (!existsSync(site)) {
    if (existsSync(failed)) throw new Error(`${readFileSync(failed, 'utf8')} (built by another test file of this run)`);
    if (Date.now() - t0 > waitMs) throw new Error(`the viewer bundle another test file of this run builds did not appear in ${site} within ${waitMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return site;
}
