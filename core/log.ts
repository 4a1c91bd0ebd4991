/**
 * Logging. Two channels, kept apart so `--json` output stays machine-readable:
 * - human messages (info, warnings, progress) go to stderr through `Logger`;
 * - scalar metrics go to a JSONL file through `MetricsLog`, one object per line with a
 *   `step` and slash-prefixed keys (`charts/`, `losses/`, `reward/`, `teacher/`, `eval/`).
 */
import { appendFileSync, closeSync, fsyncSync, openSync, writeSync } from 'node:fs';

export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export interface Sink {
  write(text: string): void;
}

export const stderrSink: Sink = { write: (t) => process.stderr.write(t) };

export class Logger {
  /** Warnings seen so far (also kept for reports and tests). */
  readonly warnings: string[] = [];
  constructor(
    private readonly sink: Sink = stderrSink,
    private readonly level: Level = 'info',
    private readonly prefix = 'prefrl',
  ) {}
  private emit(level: Level, msg: string): void {
    if (ORDER[level] < ORDER[this.level]) return;
    const tag = level === 'info' ? '' : `${level}: `;
    this.sink.write(`[${this.prefix}] ${tag}${msg}\n`);
  }
  debug(msg: string): void {
    this.emit('debug', msg);
  }
  info(msg: string): void {
    this.emit('info', msg);
  }
  warn(msg: string): void {
    this.warnings.push(msg);
    this.emit('warn', msg);
  }
  error(msg: string): void {
    this.emit('error', msg);
  }
  child(prefix: string): Logger {
    const c = new Logger(this.sink, this.level, `${this.prefix}:${prefix}`);
    // Children share the warning list so a run can report every warning it saw.
    (c as { warnings: string[] }).warnings = this.warnings;
    return c;
  }
}

/** A logger that drops everything (library default when none is passed). */
export const silentLogger = new Logger({ write: () => undefined }, 'error');

export type MetricValue = number | string | boolean | null;
export type Metrics = Record<string, MetricValue>;

const KEY_RE = /^[a-z_][a-z0-9_]*(\/[a-z0-9_.-]+)+$|^(step|time|wall_s)$/i;

/**
 * Append-only JSONL metrics file. Each `log` call writes one line and returns once the line
 * is handed to the OS, so a crash loses at most the line being written.
 */
export class MetricsLog {
  private fd: number | null;
  constructor(readonly path: string) {
    this.fd = openSync(path, 'a');
  }
  log(step: number, metrics: Metrics): void {
    if (this.fd === null) throw new Error(`MetricsLog ${this.path} is closed`);
    for (const k of Object.keys(metrics)) {
      if (!KEY_RE.test(k)) throw new Error(`MetricsLog: key "${k}" must be slash-prefixed, e.g. "charts/${k}"`);
    }
    const clean: Metrics = { step };
    for (const [k, v] of Object.entries(metrics)) clean[k] = typeof v === 'number' && !Number.isFinite(v) ? null : v;
    writeSync(this.fd, `${JSON.stringify(clean)}\n`);
  }
  close(): void {
    if (this.fd !== null) {
      fsyncSync(this.fd);
      closeSync(this.fd);
      this.fd = null;
    }
  }
}

/** Append one JSON line to a file (for small event logs). */
export function appendJsonl(path: string, record: unknown): void {
  appendFileSync(path, `${JSON.stringify(record)}\n`);
}
