/** Assertions on errors that scripts' calls throw. */
import { expect } from 'vitest';

/** `fn` throws (or rejects with) an error of class `E` whose message matches `pattern`. */
export async function expectError(fn: () => unknown, E: abstract new (...args: never[]) => Error, pattern: RegExp): Promise<void> {
  let caught: unknown;
  try {
    await fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${E.name} ${pattern}`).toBeInstanceOf(E);
  expect((caught as Error).message).toMatch(pattern);
}
