/**
 * Whether a benchmark can write its results where a flag says, checked before it runs anything:
 * the bench commands write their files at the end (a cell's result when it finishes, summary.md
 * and the plots after the last cell, reward.md or results.json after the timings), so a folder
 * they may not write into cost the whole run before the refusal came, as a bare EACCES.
 */
import { existsSync, mkdirSync, rmdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from '../../core/errors.js';
import { isFolder } from '../../core/paths.js';
import { REFUSED_MKDIR } from '../../core/run.js';

const codeOf = (e: unknown): string => String((e as { code?: unknown }).code ?? '');

/**
 * Check that this user can make `folder` (or write in it, when it exists) without making it: a
 * folder is made and removed again in its nearest existing folder (access(2) says yes to root
 * where a write is refused all the same, as under /proc). Otherwise a UsageError naming `flag`
 * and the value given (`given`): "--out results: cannot write in /abs/results (permission denied,
 * EACCES); ...". A file where a folder should be is for checkOutFolder to name first.
 */
export function checkWritableFolder(folder: string, flag: string, given: string): void {
  let p = resolve(folder);
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  if (!isFolder(p)) throw new UsageError(`${flag} ${given}: ${p} is a file, not a folder`);
  const probe = join(p, `.prefrl-write-check-${process.pid}`);
  try {
    mkdirSync(probe);
  } catch (e) {
    if (!REFUSED_MKDIR.has(codeOf(e))) throw e;
    throw new UsageError(`${flag} ${given}: cannot write in ${p} (${reason(e)}); give another ${flag}, or change the folder's permissions`);
  }
  rmdirSync(probe);
}

/** "permission denied, EACCES" from Node's "EACCES: permission denied, mkdir '/x'". */
function reason(e: unknown): string {
  const code = codeOf(e);
  const text = (e as Error).message.replace(new RegExp(`^${code}: `), '').replace(/, [a-z_]+ '.*'$/, '');
  return `${text}, ${code}`;
}
