/**
 * Progress reporting for long work. On a terminal it redraws one line with a bar, the count,
 * the rate and the ETA; otherwise (CI, pipes, log files) it prints a plain line at most every
 * `intervalMs`, plus one at the end. Output goes to stderr so stdout stays clean for `--json`.
 */
import { type Clock, formatDuration, systemClock } from './clock.js';
import { type Sink, stderrSink } from './log.js';

export interface ProgressOptions {
  /** What is being counted, e.g. "env steps". */
  readonly unit?: string;
  /** Redraw/print interval in ms (terminal: 100 ms; plain: 5 s by default). */
  readonly intervalMs?: number;
  readonly clock?: Clock;
  readonly sink?: Sink;
  /** Force terminal or plain mode; by default terminal when stderr is a TTY. */
  readonly tty?: boolean;
  /** Draw nothing at all (e.g. --quiet). */
  readonly silent?: boolean;
  /** Units done before this process started (a resumed run): counted as done, not in the rate. */
  readonly initial?: number;
}

function formatCount(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return String(Math.round(n));
}

/** A rate: below 10 per second with up to two significant digits (0.25/s, 1.5/s), so slow work does not read 0/s. */
function formatRate(r: number): string {
  if (!(r > 0) || r >= 10) return formatCount(r);
  return String(Number(r.toPrecision(2)));
}

export class Progress {
  private done = 0;
  private readonly initial: number;
  private readonly start: number;
  private lastDraw = -Infinity;
  private readonly tty: boolean;
  private readonly intervalMs: number;
  private readonly clock: Clock;
  private readonly sink: Sink;
  private readonly unit: string;
  private readonly silent: boolean;
  private finished = false;
  private note = '';

  constructor(
    private readonly label: string,
    private total: number,
    opts: ProgressOptions = {},
  ) {
    this.clock = opts.clock ?? systemClock;
    this.sink = opts.sink ?? stderrSink;
    this.tty = opts.tty ?? Boolean(process.stderr.isTTY);
    this.intervalMs = opts.intervalMs ?? (this.tty ? 100 : 5000);
    this.unit = opts.unit ?? 'it';
    this.silent = opts.silent ?? false;
    this.initial = Math.max(0, opts.initial ?? 0);
    this.done = this.initial;
    this.start = this.clock.now();
  }

  /** Count `n` more units done; `note` is a short status shown after the bar. */
  tick(n = 1, note?: string): void {
    this.done += n;
    if (note !== undefined) this.note = note;
    const now = this.clock.now();
    if (now - this.lastDraw >= this.intervalMs) this.draw(now);
  }

  /**
   * Take `n` units off the total: work this process will not do (e.g. a benchmark cell another
   * process finished or is running), so it counts in neither the rate nor the ETA.
   */
  drop(n: number, note?: string): void {
    this.total = Math.max(this.done, this.total - n);
    if (note !== undefined) this.note = note;
    const now = this.clock.now();
    if (now - this.lastDraw >= this.intervalMs) this.draw(now);
  }

  /** Set the absolute count. */
  update(done: number, note?: string): void {
    this.tick(done - this.done, note);
  }

  /** The text of the status line (without control characters). */
  line(now = this.clock.now()): string {
    const elapsed = Math.max(1e-9, (now - this.start) / 1000);
    const rate = (this.done - this.initial) / elapsed;
    const frac = this.total > 0 ? Math.min(1, this.done / this.total) : 0;
    const eta = rate > 0 ? (this.total - this.done) / rate : Number.NaN;
    const width = 24;
    const filled = Math.round(frac * width);
    const bar = this.tty ? `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ` : '';
    const pct = `${(frac * 100).toFixed(0).padStart(3)}%`;
    const tail = this.finished ? `in ${formatDuration(elapsed)}` : `ETA ${formatDuration(eta)}`;
    const note = this.note ? ` | ${this.note}` : '';
    return `${this.label} ${bar}${pct} ${formatCount(this.done)}/${formatCount(this.total)} ${this.unit} ${formatRate(rate)}/s ${tail}${note}`;
  }

  private draw(now: number): void {
    this.lastDraw = now;
    if (this.silent) return;
    if (this.tty) this.sink.write(`\r\x1b[2K${this.line(now)}`);
    else this.sink.write(`${this.line(now)}\n`);
  }

  /** Print the final line (once). The work is complete: the total becomes the count done. */
  finish(note?: string): void {
    if (this.finished) return;
    this.total = this.done;
    if (note !== undefined) this.note = note;
    this.finished = true;
    const now = this.clock.now();
    this.lastDraw = now;
    if (this.silent) return;
    this.sink.write(this.tty ? `\r\x1b[2K${this.line(now)}\n` : `${this.line(now)}\n`);
  }
}
