/**
 * Logging. Two channels, kept apart so `--json` output stays machine-readable:
 * - human messages (info, warnings, progress) go to stderr through `Logger`;
 * - scalar metrics go to a JSONL file through `MetricsLog`, one object per line with a
 *   `step` and slash-prefixed keys (`charts/`, `losses/`, `reward/`, `teacher/`, `eval/`).
 */
import { appendFileSync, closeSync, existsSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { withFileNamed, writeFileAtomic } from './files.js';

export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export interface Sink {
  write(text: string): void;
}

export const stderrSink: Sink = { write: (t) => process.stderr.write(t) };

/** How many warnings a logger keeps word for word (the first ones; later ones are only counted). */
export const KEPT_WARNINGS = 10_000;
/** How many kinds of warning a logger counts one by one (see warningKind); later kinds are counted together. */
export const COUNTED_WARNING_KINDS = 100;

/** A warning's kind: its text with every number made `#`, so "unstable at step 7" and "... step 9" are one kind. */
export function warningKind(msg: string): string {
  return msg.replace(/[-+]?\d[\d.eE+-]*/g, '#');
}

/** One kind of warning (see warningKind): its first message and how many times it came. */
export interface WarningKind {
  readonly first: string;
  readonly count: number;
}

/**
 * A logger's warnings, in bounded memory however many come: the first `keep` word for word, the
 * first `kinds` kinds with their first message and count, and totals for the rest.
 */
class WarningTally {
  readonly kept: string[] = [];
  total = 0;
  /** Warnings of the kinds after the first `kinds` (not counted one by one). */
  otherKinds = 0;
  readonly kinds = new Map<string, { first: string; count: number }>();
  constructor(
    readonly keep: number,
    readonly maxKinds: number,
  ) {}
  add(msg: string): void {
    this.total++;
    if (this.kept.length < this.keep) this.kept.push(msg);
    const key = warningKind(msg);
    const k = this.kinds.get(key);
    if (k) k.count++;
    else if (this.kinds.size < this.maxKinds) this.kinds.set(key, { first: msg, count: 1 });
    else this.otherKinds++;
  }
}

/** Bounds on what a Logger keeps of its warnings (defaults KEPT_WARNINGS, COUNTED_WARNING_KINDS). */
export interface WarningLimits {
  readonly keep?: number;
  readonly kinds?: number;
}

export class Logger {
  /** Shared with the children (see child). */
  private tally: WarningTally;
  constructor(
    private readonly sink: Sink = stderrSink,
    private readonly level: Level = 'info',
    private readonly prefix = 'prefrl',
    limits: WarningLimits = {},
  ) {
    // A level of another name ('verbose', 'warning') let every line through; a sink without write failed at the first line.
    if (!Object.hasOwn(ORDER, level)) throw new RangeError(`Logger: level must be ${Object.keys(ORDER).map((l) => `'${l}'`).join(', ')}, got ${typeof level === 'string' ? JSON.stringify(level) : String(level)}`);
    if (typeof (sink as Partial<Sink> | null)?.write !== 'function') throw new TypeError('Logger: sink must be an object with write(text) (e.g. process.stdout)');
    const keep = limits.keep ?? KEPT_WARNINGS;
    const kinds = limits.kinds ?? COUNTED_WARNING_KINDS;
    for (const [name, v] of [['keep', keep], ['kinds', kinds]] as const) {
      if (!Number.isInteger(v) || v < 0) throw new RangeError(`Logger: warning limit "${name}" must be a whole number >= 0, got ${v}`);
    }
    this.tally = new WarningTally(keep, kinds);
  }
  /**
   * The first warnings seen (at most KEPT_WARNINGS, or the `keep` limit), word for word, in order
   * (also kept for reports and tests); warningCount says how many there were in all.
   */
  get warnings(): readonly string[] {
    return this.tally.kept;
  }
  /** How many warnings this logger (and its children) gave, kept or not. */
  get warningCount(): number {
    return this.tally.total;
  }
  /** How many warnings are not in `warnings` (those after the first KEPT_WARNINGS). */
  get warningsLeftOut(): number {
    return this.tally.total - this.tally.kept.length;
  }
  /**
   * Every warning counted by kind (see warningKind), in the order the kinds first came: the first
   * COUNTED_WARNING_KINDS kinds (or the `kinds` limit) one by one, and how many warnings were of
   * the kinds after those (`otherKinds`). The counts cover all warnings, kept or not.
   */
  warningKinds(): { kinds: WarningKind[]; otherKinds: number } {
    return { kinds: [...this.tally.kinds.values()].map(({ first, count }) => ({ first, count })), otherKinds: this.tally.otherKinds };
  }
  /**
   * The warnings as report lines, one per kind: its first message, after "N times: " when it came
   * N > 1 times; then, if there were more kinds than are counted one by one, a line saying how
   * many warnings of other kinds were left out.
   */
  warningSummary(): string[] {
    const { kinds, otherKinds } = this.warningKinds();
    const lines = kinds.map(({ first, count }) => (count === 1 ? first : `${count} times: ${first}`));
    if (otherKinds > 0) lines.push(`${otherKinds} more warning${otherKinds === 1 ? '' : 's'} of other kinds left out (only the first ${this.tally.maxKinds} kinds are counted)`);
    return lines;
  }
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
    this.tally.add(msg);
    this.emit('warn', msg);
  }
  error(msg: string): void {
    this.emit('error', msg);
  }
  child(prefix: string): Logger {
    // Children share the warning tally so a run can report every warning it saw.
    const c = new Logger(this.sink, this.level, `${this.prefix}:${prefix}`);
    c.tally = this.tally;
    return c;
  }
}

/** A logger that drops everything (library default when none is passed). */
export const silentLogger = new Logger({ write: () => undefined }, 'error');

export type MetricValue = number | string | boolean | null;
export type Metrics = Record<string, MetricValue>;

const KEY_RE = /^[a-z_][a-z0-9_]*(\/[a-z0-9_.-]+)+$|^(step|time|wall_s)$/i;

/** Whether `MetricsLog.log` takes `key` (a slash-prefixed name such as "charts/return", or step/time/wall_s). */
export function isMetricKey(key: string): boolean {
  return KEY_RE.test(key);
}

/**
 * Append-only JSONL metrics file. Each `log` call writes one line and returns once the line
 * is handed to the OS, so a crash loses at most the line being written.
 */
export class MetricsLog {
  private fd: number | null;
  constructor(readonly path: string) {
    this.fd = openSync(path, 'a');
  }
  /** Whether close() has run (a run folder's `close()` closes its log): `log` then throws. */
  get closed(): boolean {
    return this.fd === null;
  }
  log(step: number, metrics: Metrics): void {
    if (this.fd === null) throw new Error(`MetricsLog ${this.path} is closed`);
    for (const k of Object.keys(metrics)) {
      if (!KEY_RE.test(k)) throw new Error(`MetricsLog: key "${k}" must be slash-prefixed, e.g. "charts/${k}"`);
    }
    const clean: Metrics = { step };
    for (const [k, v] of Object.entries(metrics)) clean[k] = typeof v === 'number' && !Number.isFinite(v) ? null : v;
    try {
      // write(2) may take part of a line (a disk filling up): the rest follows, or its error does.
      const line = Buffer.from(`${JSON.stringify(clean)}\n`);
      for (let done = 0; done < line.length; ) done += writeSync(this.fd, line, done, line.length - done);
    } catch (e) {
      throw withFileNamed(e, this.path); // a full disk: "cannot write <metrics.jsonl>: no space left on device"
    }
  }
  /**
   * Keep only the rows `keep` accepts (see filterMetricsFile), e.g. those of a stage that runs
   * again and logs them anew; the file is closed, rewritten atomically and opened again.
   * Returns how many rows were dropped.
   */
  rewrite(keep: (row: Record<string, unknown>, line: number) => boolean): number {
    if (this.fd === null) throw new Error(`MetricsLog ${this.path} is closed`);
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = null;
    try {
      return filterMetricsFile(this.path, keep).dropped;
    } finally {
      this.fd = openSync(this.path, 'a');
    }
  }
  /**
   * How many whole lines the file holds now: the `line` index (see rewrite) the next row gets, so
   * rows logged from here on can be told from the rows before, e.g. to drop one set or the other
   * once a stage has ended. A rewrite that drops rows shifts the lines after them down (and
   * leaves out blank lines).
   */
  lines(): number {
    if (this.fd === null) throw new Error(`MetricsLog ${this.path} is closed`);
    return forEachLine(this.path, () => undefined).lines;
  }
  /**
   * Run `work`, which logs rows anew that `mine` accepts (a stage run again), and keep one copy:
   * once it has ended well the rows `mine` accepts from before it are dropped; if it throws, the
   * ones it logged are (the rows from before stay with the outputs they describe) and its error
   * goes on (`onCleanupError` hears of a failed cleanup). First a row cut off by a kill goes, so
   * the new rows start on a line of their own. Returns work's result and how many rows went.
   * (A rewrite inside `work` that drops rows from before it moves work's rows below the mark: then
   * `mine` must accept none of the rows work logs, as with the iql stage's own per-agent rows.)
   */
  async replaceRows<T>(mine: (row: Record<string, unknown>) => boolean, work: () => Promise<T>, onCleanupError?: (e: Error) => void): Promise<{ result: T; dropped: number }> {
    this.rewrite(() => true);
    const mark = this.lines();
    let result: T;
    try {
      result = await work();
    } catch (e) {
      try {
        this.rewrite((r, line) => line < mark || !mine(r));
      } catch (cleanup) {
        onCleanupError?.(cleanup as Error);
      }
      throw e;
    }
    return { result, dropped: this.rewrite((r, line) => line >= mark || !mine(r)) };
  }
  close(): void {
    if (this.fd !== null) {
      const fd = this.fd;
      this.fd = null;
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd); // a failed fsync (EIO) does not leave the file open
      }
    }
  }
}

/**
 * Rewrite a metrics.jsonl with only the rows `keep` accepts, and without a damaged last line (a
 * write cut off by a kill). Atomic (a temp file, then a rename): killed mid-way, the old file is
 * still whole. Lines elsewhere that do not parse are kept as they are. Nothing is written when
 * nothing is dropped. `keep` gets each row and its line's index in the file (0 for the first
 * line, blank lines counted). Returns how many rows were dropped and the rows kept (parsed;
 * unparsable ones left out). The file must not be open in a MetricsLog (see MetricsLog.rewrite).
 */
export function filterMetricsFile(path: string, keep: (row: Record<string, unknown>, line: number) => boolean): { dropped: number; kept: Record<string, unknown>[] } {
  if (!existsSync(path)) return { dropped: 0, kept: [] };
  let dropped = 0;
  const keepLines: string[] = [];
  const kept: Record<string, unknown>[] = [];
  // A file that does not end in a newline ends in a partial row (`rest`; or is empty).
  const { rest } = forEachLine(path, (line, index) => {
    if (line.trim() === '') return;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch {
      keepLines.push(line);
      return;
    }
    if (typeof row === 'object' && row !== null && !Array.isArray(row)) {
      if (!keep(row as Record<string, unknown>, index)) {
        dropped++;
        return;
      }
      kept.push(row as Record<string, unknown>);
    }
    keepLines.push(line);
  });
  if (rest.trim() !== '') dropped++;
  if (dropped > 0) {
    // Bytes, not one string: a string stops at ~512 MB, a metrics file need not.
    let size = 0;
    for (const l of keepLines) size += Buffer.byteLength(l) + 1;
    const bytes = Buffer.allocUnsafe(size);
    let at = 0;
    for (const l of keepLines) {
      at += bytes.write(l, at);
      bytes[at++] = 0x0a;
    }
    writeFileAtomic(path, bytes);
  }
  return { dropped, kept };
}

/** Bytes forEachLine reads at a time. */
export const LINE_CHUNK_BYTES = 1 << 20;

/**
 * Call `each` with every line of the file at `path` that a newline ends (without the newline) and
 * its index (0 for the first line, blank lines counted), reading `chunkBytes` at a time: files of
 * any size, where reading one whole into a string fails past ~512 MB ("Cannot create a string
 * longer than ..."). Text is read as UTF-8, as readFileSync(path, 'utf8') reads it (a character cut
 * by a chunk's end is joined, bad bytes read as U+FFFD). Returns how many lines `each` got, the
 * text after the last newline ('' when the file ends in one or is empty): the lines and `rest`
 * are what `text.split('\n')` of the whole file gives; and `end`, the byte offset just past the
 * last newline (`from` when none). From byte `from` on (the `end` of an earlier read: rows
 * appended since), the lines after it, indexed from 0.
 */
export function forEachLine(
  path: string,
  each: (line: string, index: number) => void,
  chunkBytes = LINE_CHUNK_BYTES,
  from = 0,
): { lines: number; rest: string; end: number } {
  if (!(Number.isInteger(chunkBytes) && chunkBytes > 0)) throw new RangeError(`forEachLine: chunkBytes must be an integer > 0, got ${chunkBytes}`);
  if (!(Number.isSafeInteger(from) && from >= 0)) throw new RangeError(`forEachLine: from must be a whole number >= 0, got ${from}`);
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(chunkBytes);
    const decoder = new StringDecoder('utf8');
    // The start of a line not ended yet, in pieces (joined once: a long line is not copied per chunk).
    let open: string[] = [];
    let lines = 0;
    const take = (text: string) => {
      let start = 0;
      for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', start)) {
        const piece = text.slice(start, i);
        each(open.length === 0 ? piece : open.join('') + piece, lines++);
        open = [];
        start = i + 1;
      }
      if (start < text.length) open.push(text.slice(start));
    };
    let at = from;
    let end = from;
    for (let n = readSync(fd, buf, 0, chunkBytes, at); n > 0; n = readSync(fd, buf, 0, chunkBytes, at)) {
      const chunk = buf.subarray(0, n);
      // A newline byte (0x0a) is never part of a multi-byte UTF-8 character.
      const nl = chunk.lastIndexOf(0x0a);
      if (nl !== -1) end = at + nl + 1;
      at += n;
      take(decoder.write(chunk));
    }
    take(decoder.end());
    return { lines, rest: open.join(''), end };
  } finally {
    closeSync(fd);
  }
}

/** Append one JSON line to a file (for small event logs). */
export function appendJsonl(path: string, record: unknown): void {
  try {
    appendFileSync(path, `${JSON.stringify(record)}\n`);
  } catch (e) {
    throw withFileNamed(e, path);
  }
}
