/**
 * Vitest global setup: one temporary folder per test run. TMPDIR points into it for every test
 * worker and every process a test starts (the CLI children, Chromium, ffmpeg), and the whole folder
 * is removed when the run ends. Tests make their folders with mkdtemp(tmpdir()), and many never
 * removed them (a full run left several hundred folders in /tmp); two runs side by side on one
 * machine (CI, other engineers' clones) also never share a temporary path.
 *
 * Each test project in vitest.config.ts inherits this set-up and runs it in the same process: the
 * first call makes the folder and the others keep it, so TMPDIR is not nested (Chromium refuses a
 * profile whose socket path passes 107 bytes).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

export default function setup(): () => void {
  const before = process.env.TMPDIR;
  if (before !== undefined && basename(before).startsWith('prefrl-test-run-')) return () => {};
  const dir = mkdtempSync(join(tmpdir(), 'prefrl-test-run-'));
  process.env.TMPDIR = dir;
  return () => {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
    rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  };
}
