/**
 * The PyTorch side of the benchmarks: find a Python interpreter that imports torch and run a
 * reference script that prints one JSON object as its last line of stdout; and what the timing
 * benches against it (bench reward, bench agents) record alike: the machine, the result files.
 *
 * Why a search: on these machines `python3` on PATH (pyenv) has no torch, while Debian's
 * `python3-torch` lives under /usr/bin/python3; an explicit `--python` wins.
 */
import { spawnSync } from 'node:child_process';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { UsageError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { writeFileAtomic } from '../core/run.js';
import { makeFolder } from '../core/paths.js';

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

/** The machine a timing ran on; the 1-minute load average before and after says how far other jobs inflated it. */
export interface BenchMachine {
  readonly nproc: number;
  readonly cpu: string;
  readonly node: string;
  readonly backend: string;
  readonly loadavg1Before: number;
  readonly loadavg1After: number;
}

/** The machine record of a timing that began at load average `loadBefore` and ends now. */
export function benchMachine(backend: string, loadBefore: number): BenchMachine {
  return {
    nproc: availableParallelism(),
    cpu: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    backend,
    loadavg1Before: Math.round(loadBefore * 100) / 100,
    loadavg1After: Math.round(loadavg()[0] * 100) / 100,
  };
}

/** Write `<out>/<name>.json` (the result, indented) and `<out>/<name>.md`, making the folder; each whole or not at all (writeFileAtomic). */
export function writeBenchFiles(out: string, name: string, result: unknown, md: string, log: Logger): void {
  const dir = resolve(out);
  makeFolder(dir);
  writeFileAtomic(join(dir, `${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
  writeFileAtomic(join(dir, `${name}.md`), md);
  log.info(`wrote ${join(dir, `${name}.json`)} and ${join(dir, `${name}.md`)}`);
}

/** A number with `digits` decimals and thousands separators, for the tables; '-' for none. */
export function fmtFixed(v: number | null | undefined, digits: number): string {
  return v === null || v === undefined ? '-' : v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}
