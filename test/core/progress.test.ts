import { describe, expect, it } from 'vitest';
import { ManualClock, formatDuration } from '../../core/clock.js';
import { Progress } from '../../core/progress.js';

function capture() {
  const out: string[] = [];
  return { out, sink: { write: (t: string) => void out.push(t) } };
}

describe('Progress', () => {
  it('prints plain lines at most once per interval with rate and ETA when not on a terminal', () => {
    const clock = new ManualClock();
    const { out, sink } = capture();
    const p = new Progress('train', 1000, { clock, sink, tty: false, intervalMs: 5000, unit: 'steps' });
    clock.advance(1000);
    p.tick(100); // first draw happens immediately
    clock.advance(1000);
    p.tick(100); // within the interval: no line
    clock.advance(4000);
    p.tick(100); // 300 steps in 6 s = 50/s, 700 left = 14 s
    p.finish();
    expect(out.length).toBe(3);
    expect(out[1]).toBe('train  30% 300/1000 steps 50/s ETA 0:14\n');
    expect(out[2]).toMatch(/^train 100% 300\/300 steps 50\/s in 0:06\n$/);
    expect(out.every((l) => !l.includes('\r'))).toBe(true);
  });

  it('redraws one line with a bar on a terminal', () => {
    const clock = new ManualClock();
    const { out, sink } = capture();
    const p = new Progress('rollout', 10, { clock, sink, tty: true });
    clock.advance(500);
    p.tick(5, 'ep 3');
    expect(out[0]).toContain('\r');
    expect(out[0]).toContain('[############............]  50% 5/10 it 10/s ETA 0:01 | ep 3');
  });

  it('work dropped from the total counts in neither the rate nor the ETA', () => {
    const clock = new ManualClock();
    const { out, sink } = capture();
    const p = new Progress('bench', 100, { clock, sink, tty: false, intervalMs: 0, unit: 'work' });
    clock.advance(10_000);
    p.drop(50, 'cell 1 (running elsewhere)');
    expect(out[0]).toBe('bench   0% 0/50 work 0/s ETA ? | cell 1 (running elsewhere)\n');
    p.tick(10); // 10 in 10 s = 1/s; 40 left
    expect(out[1]).toBe('bench  20% 10/50 work 1/s ETA 0:40 | cell 1 (running elsewhere)\n');
    p.drop(1000); // never below what is done
    expect(out[2]).toBe('bench 100% 10/10 work 1/s ETA 0:00 | cell 1 (running elsewhere)\n');
  });

  it('a resumed run: work done before counts in the bar, not in the rate or the ETA', () => {
    const clock = new ManualClock();
    const { out, sink } = capture();
    const p = new Progress('train', 1000, { clock, sink, tty: false, intervalMs: 0, unit: 'steps', initial: 600 });
    clock.advance(4000);
    p.update(700); // 100 steps in 4 s = 25/s; 300 left = 12 s
    expect(out[0]).toBe('train  70% 700/1000 steps 25/s ETA 0:12\n');
  });

  it('slow work (a VLM labelling pairs) shows its rate below 1/s, not 0/s', () => {
    const clock = new ManualClock();
    const { out, sink } = capture();
    const p = new Progress('label', 100, { clock, sink, tty: false, intervalMs: 0, unit: 'pairs' });
    clock.advance(40_000);
    p.update(10); // 10 pairs in 40 s = 0.25/s; 90 left = 6 min
    clock.advance(5_000);
    p.update(16); // 16 in 45 s = 0.3556/s
    clock.advance(3_000);
    p.update(72); // 72 in 48 s = 1.5/s; 28 left
    expect(out).toEqual(['label  10% 10/100 pairs 0.25/s ETA 6:00\n', 'label  16% 16/100 pairs 0.36/s ETA 3:56\n', 'label  72% 72/100 pairs 1.5/s ETA 0:19\n']);
  });

  it('formats durations', () => {
    expect(formatDuration(5)).toBe('0:05');
    expect(formatDuration(3725)).toBe('1:02:05');
    expect(formatDuration(Number.NaN)).toBe('?');
  });
});
