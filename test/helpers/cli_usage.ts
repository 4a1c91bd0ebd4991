import { existsSync } from 'node:fs';
import { expect } from 'vitest';
import { systemClock } from '../../core/clock.js';
import { Logger } from '../../core/log.js';
import { main } from '../../scripts/cli.js';

/**
 * Run `prefrl <args> --runs-dir <runs> --quiet` and check the bad-input contract: exit code 2,
 * a stderr message matching `message`, and no run folder created.
 */
export async function expectUsageError(args: readonly string[], runs: string, message: RegExp): Promise<void> {
  const err: string[] = [];
  const io = { stdout: { write: () => undefined }, stderr: { write: (t: string) => void err.push(t) }, tty: false };
  const ctx = { io, logger: new Logger(io.stderr), clock: systemClock };
  const code = await main([...args, '--runs-dir', runs, '--quiet'], ctx);
  expect(code).toBe(2);
  expect(err.join('')).toMatch(message);
  expect(existsSync(runs)).toBe(false);
}
