/**
 * The PyTorch side of the benchmarks: find a Python interpreter that imports torch and run a
 * reference script that prints one JSON object as its last line of stdout.
 *
 * Why a search: on these machines `python3` on PATH (pyenv) has no torch, while Debian's
 * `python3-torch` lives under /usr/bin/python3; an explicit `--python` wins.
 */
import { spawnSync } from 'node:child_process';
import { UsageError } from '../core/errors.js';

/** The first interpreter that imports torch, or why none did. */
export function findTorchPython(explicit?: string): { python: string } | { skipped: string; why: string } {
  const candidates = explicit ? [explicit] : ['python3', '/usr/bin/python3'];
  const why: string[] = [];
  for (const py of candidates) {
    const r = spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8', timeout: 60_000 });
    if (r.status === 0) return { python: py };
    why.push(`${py}: ${r.error ? r.error.message : (r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`)}`);
  }
  return { skipped: `no python with torch (${why.join('; ')})`, why: why.join('; ') };
}

/**
 * The interpreter of a benchmark's PyTorch reference, looked for once, before any measuring, or
 * why there is none. One named with --python must import torch: a typo is a usage error rather
 * than a benchmark without its reference (the default search only skips).
 */
export function torchReference(explicit: string | undefined, torch: boolean): { python: string } | { skipped: string } {
  if (!torch) return { skipped: 'disabled by --no-torch' };
  const found = findTorchPython(explicit);
  if ('skipped' in found && explicit !== undefined) throw new UsageError(`--python ${explicit}: cannot run the PyTorch reference: ${found.why}`);
  return found;
}

/** Run `python script args...` and parse the JSON object on the last line of its stdout. */
export function runJsonScript<T>(python: string, script: string, args: readonly string[]): { result: T } | { error: string } {
  const r = spawnSync(python, [script, ...args], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const last = r.stdout?.trim().split('\n').pop() ?? '';
  if (r.status !== 0) return { error: `${script} failed (exit ${r.status}): ${(r.stderr ?? '').trim().split('\n').slice(-3).join(' | ')}` };
  try {
    return { result: JSON.parse(last) as T };
  } catch {
    return { error: `${script} printed no JSON (last line: ${JSON.stringify(last.slice(0, 200))})` };
  }
}
