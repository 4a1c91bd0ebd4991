/**
 * Run folders: every command that does work writes `runs/<timestamp>-<name>/` with
 *   config.json    the resolved config (flags after defaults; derived values are not written back)
 *   metrics.jsonl  scalar metrics, one JSON object per line
 *   artifacts/     models, datasets, checkpoints, plots
 */
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Clock, systemClock } from './clock.js';
import { MetricsLog } from './log.js';

export interface RunDir {
  /** Absolute path of the run folder. */
  readonly path: string;
  readonly metrics: MetricsLog;
  /** Absolute path of an artifact (the artifacts/ folder exists). */
  artifact(name: string): string;
  /** Write a JSON file atomically (temp file + rename) inside the run folder. */
  writeJson(name: string, value: unknown): string;
  close(): void;
}

function stamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/** Write JSON atomically: a reader sees the old file or the new one, never half of one. */
export function writeJsonAtomic(path: string, value: unknown): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(tmp, path);
}

export function safeRunName(name: string): string {
  const s = name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '');
  return s.slice(0, 80) || 'run';
}

/** Create a new run folder under `root` and save the resolved config. */
export function createRunDir(opts: { root?: string; name: string; config: unknown; clock?: Clock }): RunDir {
  const root = resolve(opts.root ?? 'runs');
  mkdirSync(root, { recursive: true });
  const base = `${stamp((opts.clock ?? systemClock).date())}-${safeRunName(opts.name)}`;
  let path = join(root, base);
  for (let i = 2; existsSync(path); i++) path = join(root, `${base}-${i}`);
  mkdirSync(join(path, 'artifacts'), { recursive: true });
  writeJsonAtomic(join(path, 'config.json'), opts.config);
  return openRunDir(path);
}

/** Open an existing run folder (e.g. for --resume). */
export function openRunDir(path: string): RunDir {
  const abs = resolve(path);
  mkdirSync(join(abs, 'artifacts'), { recursive: true });
  const metrics = new MetricsLog(join(abs, 'metrics.jsonl'));
  return {
    path: abs,
    metrics,
    artifact: (name) => join(abs, 'artifacts', name),
    writeJson: (name, value) => {
      const p = join(abs, name);
      writeJsonAtomic(p, value);
      return p;
    },
    close: () => metrics.close(),
  };
}
