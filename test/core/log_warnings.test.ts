// Logger keeps its warnings in bounded memory: the first KEPT_WARNINGS word for word, the first
// COUNTED_WARNING_KINDS kinds counted one by one, totals for the rest; every warning still goes to the sink.
import { describe, expect, it } from 'vitest';
import { COUNTED_WARNING_KINDS, KEPT_WARNINGS, Logger, warningKind } from '../../core/log.js';

/** check-env's summary as it was made before from the full list: one line per kind, its count and first message. */
function summarizeWarnings(warnings: readonly string[]): string[] {
  const kinds = new Map<string, { first: string; n: number }>();
  for (const w of warnings) {
    const key = warningKind(w);
    const k = kinds.get(key);
    if (k) k.n++;
    else kinds.set(key, { first: w, n: 1 });
  }
  return [...kinds.values()].map(({ first, n }) => (n === 1 ? first : `${n} times: ${first}`));
}

function collecting(limits?: { keep?: number; kinds?: number }): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: new Logger({ write: (t) => void lines.push(t) }, 'info', 'p', limits), lines };
}

describe('Logger warnings', () => {
  it('a few warnings: all kept word for word, in order, and written as before', () => {
    const { logger, lines } = collecting();
    const msgs = ['env unstable at step 3 (t=0.006 s)', 'reply skipped', 'env unstable at step 9 (t=0.018 s)', 'reply skipped'];
    for (const m of msgs) logger.warn(m);
    logger.info('not a warning');
    expect(logger.warnings).toEqual(msgs);
    expect(logger.warningCount).toBe(4);
    expect(logger.warningsLeftOut).toBe(0);
    expect(lines).toEqual([...msgs.map((m) => `[p] warn: ${m}\n`), '[p] not a warning\n']);
    expect(logger.warningKinds()).toEqual({
      kinds: [
        { first: 'env unstable at step 3 (t=0.006 s)', count: 2 },
        { first: 'reply skipped', count: 2 },
      ],
      otherKinds: 0,
    });
    expect(logger.warningSummary()).toEqual(['2 times: env unstable at step 3 (t=0.006 s)', '2 times: reply skipped']);
    // The same lines as check-env's summary of the full list (one definition of a kind).
    expect(logger.warningSummary()).toEqual(summarizeWarnings(msgs));
    expect(new Logger().warnings).toEqual([]);
  });

  it('small limits: hand-counted kept list, kinds and left-out totals', () => {
    const { logger, lines } = collecting({ keep: 3, kinds: 2 });
    for (const m of ['a step 1', 'a step 2', 'b x', 'c 5', 'a step 3', 'c 6', 'b x']) logger.warn(m);
    expect(logger.warnings).toEqual(['a step 1', 'a step 2', 'b x']);
    expect(logger.warningCount).toBe(7);
    expect(logger.warningsLeftOut).toBe(4);
    // "c #" is the third kind: its 2 warnings are counted with the other kinds.
    expect(logger.warningKinds()).toEqual({
      kinds: [
        { first: 'a step 1', count: 3 },
        { first: 'b x', count: 2 },
      ],
      otherKinds: 2,
    });
    expect(logger.warningSummary()).toEqual(['3 times: a step 1', '2 times: b x', '2 more warnings of other kinds left out (only the first 2 kinds are counted)']);
    expect(lines).toHaveLength(7);
    const none = collecting({ keep: 0, kinds: 0 }).logger;
    none.warn('one 1');
    expect([none.warnings.length, none.warningCount, none.warningsLeftOut]).toEqual([0, 1, 1]);
    expect(none.warningSummary()).toEqual(['1 more warning of other kinds left out (only the first 0 kinds are counted)']);
  });

  it('25 000 warnings with the default limits: the first 10 000 kept, exact counts for every kind', () => {
    expect([KEPT_WARNINGS, COUNTED_WARNING_KINDS]).toEqual([10_000, 100]);
    const { logger, lines } = collecting();
    const msg = (i: number) => (i % 5 === 0 ? `VLM reply ${i} skipped: timeout` : `simulation unstable at step ${i} (t=${(i * 0.002).toFixed(3)} s)`);
    for (let i = 0; i < 25_000; i++) logger.warn(msg(i));
    expect(logger.warnings).toHaveLength(10_000);
    expect(logger.warnings[0]).toBe('VLM reply 0 skipped: timeout');
    expect(logger.warnings[9_999]).toBe('simulation unstable at step 9999 (t=19.998 s)');
    expect(logger.warningCount).toBe(25_000);
    expect(logger.warningsLeftOut).toBe(15_000);
    // i % 5 === 0 for 0, 5, ..., 24 995: 5 000 skips, the other 20 000 unstable steps.
    expect(logger.warningSummary()).toEqual(['5000 times: VLM reply 0 skipped: timeout', '20000 times: simulation unstable at step 1 (t=0.002 s)']);
    expect(lines).toHaveLength(25_000);
    expect(lines[24_999]).toBe('[p] warn: simulation unstable at step 24999 (t=49.998 s)\n');
  });

  it('kinds past the default 100 are counted together', () => {
    const { logger } = collecting();
    // 150 messages without numbers, each its own kind; then the first again.
    for (let k = 1; k <= 150; k++) logger.warn(`odd ${'x'.repeat(k)}`);
    logger.warn('odd x');
    const { kinds, otherKinds } = logger.warningKinds();
    expect(kinds).toHaveLength(100);
    expect(kinds[0]).toEqual({ first: 'odd x', count: 2 });
    expect(kinds[99]).toEqual({ first: `odd ${'x'.repeat(100)}`, count: 1 });
    expect(otherKinds).toBe(50);
    expect(logger.warningSummary().at(-1)).toBe('50 more warnings of other kinds left out (only the first 100 kinds are counted)');
    expect(logger.warnings).toHaveLength(151);
  });

  it('children share the tally with their parent (and with each other)', () => {
    const { logger, lines } = collecting({ keep: 2 });
    const a = logger.child('a');
    const b = a.child('b');
    logger.warn('root 1');
    a.warn('child 2');
    b.warn('grandchild 3');
    for (const l of [logger, a, b]) {
      expect(l.warnings).toEqual(['root 1', 'child 2']);
      expect([l.warningCount, l.warningsLeftOut]).toEqual([3, 1]);
      expect(l.warningSummary()).toEqual(['root 1', 'child 2', 'grandchild 3']);
    }
    expect(lines).toEqual(['[p] warn: root 1\n', '[p:a] warn: child 2\n', '[p:a:b] warn: grandchild 3\n']);
  });

  it('a kind is the text with its numbers made #', () => {
    expect(warningKind('step 12 at t=-0.5e-3 s, +7 left')).toBe('step # at t=# s, # left');
    expect(warningKind('no numbers')).toBe('no numbers');
  });

  it('bad limits are refused, naming the limit', () => {
    expect(() => new Logger(undefined, 'info', 'p', { keep: -1 })).toThrow(/warning limit "keep" must be a whole number >= 0, got -1/);
    expect(() => new Logger(undefined, 'info', 'p', { kinds: 1.5 })).toThrow(/warning limit "kinds" must be a whole number >= 0, got 1.5/);
    expect(() => new Logger(undefined, 'info', 'p', { keep: Number.NaN })).toThrow(/"keep".*got NaN/);
  });
});
