import { existsSync } from 'node:fs';
import { expect } from 'vitest';
import { type Clock, systemClock } from '../../core/clock.js';
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
