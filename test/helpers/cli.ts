import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { type Clock, systemClock } from '../../core/clock.js';
import { UsageError } from '../../core/errors.js';
import { Logger } from '../../core/log.js';
import type { CommandContext } from '../../scripts/command.js';
import { main } from '../../scripts/cli.js';

/** A CLI context whose stdout and stderr are captured in `out` and `err`. */
export interface CapturedCli {
  readonly ctx: CommandContext;
  readonly out: string[];
  readonly err: string[];
}

/** A fresh captured CLI context (not a terminal), with the given clock. */
export function captureCli(clock: Clock = systemClock): CapturedCli {
  const out: string[] = [];
  const err: string[] = [];
  const io = { stdout: { write: (t: string) => void out.push(t) }, stderr: { write: (t: string) => void err.push(t) }, tty: false };
  return { ctx: { io, logger: new Logger(io.stderr), clock }, out, err };
}

/** The JSON object a `--json` command printed as its last line of stdout. */
export function lastJson<T = Record<string, unknown>>(out: readonly string[]): T {
  const lines = out.join('').trimEnd().split('\n');
  return JSON.parse(lines[lines.length - 1]) as T;
}

/**
 * Run `prefrl <args> --runs-dir <runs> --quiet` and check the bad-input contract: exit code 2,
 * a stderr message matching `message`, and no run folder created.
 */
export async function expectUsageError(args: readonly string[], runs: string, message: RegExp): Promise<void> {
  const { ctx, err } = captureCli();
  const code = await main([...args, '--runs-dir', runs, '--quiet'], ctx);
  expect(code).toBe(2);
  expect(err.join('')).toMatch(message);
  expect(existsSync(runs)).toBe(false);
}

/** The message of the UsageError (exit code 2) that `fn` throws; fails the test when it throws none or another error. */
export function usageMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    expect((e as UsageError).exitCode).toBe(2);
    return (e as Error).message;
  }
  throw new Error('expected a UsageError');
}

/** The repository root (where bin/ and test/ are). */
const REPO = join(import.meta.dirname, '..', '..');

/**
 * `prefrl <args>` in a child process, from the TypeScript sources (tsx), for tests that stop it
 * with a signal: the child, its stdout and stderr so far, and its exit code once it exits.
 */
/**
 * Poll `ready` every 25 ms until it gives a value (not null or undefined), e.g. a line a spawned
 * command printed; after 30 s, fail naming `what` with `text()` (its output so far).
 */
export async function until<T>(what: string, ready: () => T | null | undefined, text: () => string): Promise<T> {
  const end = Date.now() + 30_000;
  for (;;) {
    const v = ready();
    if (v !== null && v !== undefined) return v;
    if (Date.now() > end) throw new Error(`waited 30 s for ${what}; so far:\n${text()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export function spawnCli(args: readonly string[]): { child: ChildProcess; stdout: () => string; stderr: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'test', 'fixtures', 'cli_entry.ts'), ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  // 'close', not 'exit': by then both pipes are read to their end.
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/**
 * Start `prefrl serve --store <store> --port <port> ...args` in a child process and wait for its
 * first link (the loopback one, carrying the token); a serve that exits first fails with its stderr.
 */
export async function spawnServe(store: string, args: readonly string[], port = '0'): Promise<{ s: ReturnType<typeof spawnCli>; link: string }> {
  const s = spawnCli(['serve', '--store', store, '--port', port, ...args]);
  const link = await until(
    'the link',
    () => {
      if (s.child.exitCode !== null) throw new Error(`serve exited ${s.child.exitCode}: ${s.stderr()}`);
      return /\[prefrl\] press Ctrl-C to stop/.test(s.stderr()) ? /open (http:\/\/127\.0\.0\.1:\d+\/[^\s]*)/.exec(s.stderr())?.[1] : null;
    },
    s.stderr,
  );
  return { s, link };
}
