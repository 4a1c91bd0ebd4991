/**
 * A script's own uncaught error after initBackend('wasm') is reported by Node as usual (its
 * message and stack, exit code 1). The WASM backend's Emscripten module used to leave
 * process-wide uncaughtException and unhandledRejection handlers that threw the error again:
 * the script exited with code 7 and printed the module's whole minified source line (about
 * 38 kB) above the error. initBackend now removes the handlers that module adds.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = join(import.meta.dirname, '..');
let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'prefrl-wasm-crash-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs a script that starts the WASM backend, prints the handler counts before and after, then fails as `how` says. */
function script(how: 'throw' | 'reject' | 'none'): { status: number | null; stdout: string; stderr: string } {
  const file = join(dir, `${how}.mts`);
  const entry = pathToFileURL(join(REPO, 'index.ts')).href;
  writeFileSync(
    file,
    [
      `import { initBackend } from ${JSON.stringify(entry)};`,
      "const count = () => `${process.listenerCount('uncaughtException')} ${process.listenerCount('unhandledRejection')}`;",
      'const before = count();',
      "const info = await initBackend('wasm');",
      'console.log(`${info.name}: ${before} -> ${count()}`);',
      how === 'throw' ? "throw new Error('the script went wrong');" : how === 'reject' ? "await Promise.reject(new Error('the script went wrong later'));" : '',
    ].join('\n'),
  );
  const r = spawnSync(process.execPath, ['--import', 'tsx', file], { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("initBackend('wasm') leaves Node's own error reporting in place", () => {
  it('adds no uncaughtException or unhandledRejection handler, and a script that ends well exits 0', { timeout: 60_000 }, () => {
    const r = script('none');
    expect([r.status, r.stdout.trim()], r.stderr).toEqual([0, 'wasm: 0 0 -> 0 0']);
  });

  it('an uncaught error: its message and stack, exit code 1, none of the backend module source', { timeout: 60_000 }, () => {
    const r = script('throw');
    expect(r.stdout.trim()).toBe('wasm: 0 0 -> 0 0');
    expect(r.status, r.stderr.slice(0, 500)).toBe(1);
    expect(r.stderr).toMatch(/Error: the script went wrong\n\s+at .*throw\.mts:6/);
    expect(r.stderr).not.toContain('WasmBackendModule');
    // Node's report: the failing line of the script, the message and stack, the Node version.
    expect(r.stderr.length).toBeLessThan(2000);
  });

  it('an unhandled rejection: the same', { timeout: 60_000 }, () => {
    const r = script('reject');
    expect(r.status, r.stderr.slice(0, 500)).toBe(1);
    expect(r.stderr).toContain('Error: the script went wrong later');
    expect(r.stderr).not.toContain('WasmBackendModule');
    expect(r.stderr.length).toBeLessThan(2000);
  });
});
