/**
 * The error of a bad teacher spec, apart so that every teacher module can throw it without
 * importing teachers/index.ts (which imports them).
 */
import { UsageError } from '../../core/errors.js';

/**
 * A bad teacher spec (a UsageError, exit code 2). The message names the spec parameter of
 * `makeTeacher` ("teacher spec: ..."); a command names its own flag instead with `withFlag`.
 */
export class TeacherSpecError extends UsageError {
  /** What is wrong, without the prefix (it quotes the spec where that helps). */
  readonly detail: string;
  constructor(detail: string) {
    super(`teacher spec: ${detail}`);
    this.name = 'TeacherSpecError';
    this.detail = detail;
  }

  /** The same error as a command's flag reports it: "--teacher: ...". */
  withFlag(flag: string): UsageError {
    return new UsageError(`${flag}: ${this.detail}`);
  }
}

/** `fn()`, with a TeacherSpecError reported as the command's `flag` (e.g. "--teacher"). */
export function asFlag<T>(flag: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw e instanceof TeacherSpecError ? e.withFlag(flag) : e;
  }
}
