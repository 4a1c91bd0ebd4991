/**
 * The one place prefrl reads the wall clock. Library code takes a Clock as a collaborator
 * so tests can use a fake one and runs stay reproducible; only timing and run-folder names
 * depend on it, never results.
 */
export interface Clock {
  /** Monotonic milliseconds (for rates, ETAs and timeouts). */
  now(): number;
  /** Current wall-clock time (for run-folder names and timestamps in logs). */
  date(): Date;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  date: () => new Date(),
};

/** A clock that only moves when told to (for tests). */
export class ManualClock implements Clock {
  constructor(
    private t = 0,
    private readonly start = new Date(Date.UTC(2026, 0, 1)),
  ) {}
  now(): number {
    return this.t;
  }
  date(): Date {
    return new Date(this.start.getTime() + this.t);
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

/** Format seconds as h:mm:ss or m:ss. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const mm = h > 0 ? String(m).padStart(2, '0') : String(m);
  return `${h > 0 ? `${h}:` : ''}${mm}:${String(sec).padStart(2, '0')}`;
}
