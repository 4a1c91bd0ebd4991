/**
 * `tensorboard --follow` appends only the points logged since the last pass when a run's
 * metrics.jsonl only grew (exportRunFollowing), and writes the event file anew otherwise (a
 * rewritten or cut file, points that go before the old ones, a row cut off mid-write). After
 * every pass the event file is byte for byte the one a one-shot exportRun writes of the same
 * metrics. Which way a pass went shows in the event file's inode: a write anew replaces the file
 * (a rename), an append keeps it.
 */
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { filterMetricsFile } from '../core/log.js';
import { eventFile, eventRecords, type ScalarPoint } from '../core/tfevents.js';
import { exportRun, exportRunFollowing, type TbFollowState } from '../scripts/commands/tensorboard.js';

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'prefrl-scale2-tbfollow-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const row = (step: number, m: Record<string, number>) => `${JSON.stringify({ step, ...m })}\n`;

describe('eventRecords', () => {
  it('an event file of some points, then the records of more, is the event file of all of them', () => {
    const pts: ScalarPoint[] = [
      { tag: 'a/x', step: 0, value: 1.5, wallTime: 100 },
      { tag: 'a/é', step: 300, value: -2, wallTime: 100 },
      { tag: 'a/x', step: 2 ** 40, value: 0.25, wallTime: 100 },
    ];
    for (let k = 0; k <= pts.length; k++) {
      expect(Buffer.concat([eventFile(pts.slice(0, k), 100), eventRecords(pts.slice(k))]).equals(eventFile(pts, 100))).toBe(true);
    }
    expect(eventRecords([]).length).toBe(0);
  });
});

describe('tensorboard --follow passes', () => {
  it('append when the metrics only grew, write anew otherwise; always the bytes of a one-shot export', () => {
    const run = join(dir, '20261207-120000-train-x-s0');
    mkdirSync(run);
    const metrics = join(run, 'metrics.jsonl');
    const follow = join(run, 'tensorboard');
    const oneShot = join(dir, 'one-shot');
    let state: TbFollowState | null = null;
    let lastIno = -1;
    /** One --follow pass and a one-shot export; checks they agree; returns how the pass went. */
    const step = (): 'appended' | 'written' => {
      const warnsFollow = new Set<string>();
      const warnsOne = new Set<string>();
      const got = exportRunFollowing(run, follow, (m) => warnsFollow.add(m), state);
      state = got.state;
      const want = exportRun(run, oneShot, (m) => warnsOne.add(m));
      expect(readFileSync(got.export.file).equals(readFileSync(want.file))).toBe(true);
      expect({ ...got.export, file: '' }).toEqual({ ...want, file: '' });
      expect(warnsFollow).toEqual(warnsOne);
      const ino = statSync(got.export.file).ino;
      const how = ino === lastIno ? 'appended' : 'written';
      lastIno = ino;
      return how;
    };

    writeFileSync(metrics, row(0, { 'm/a': 1, 'm/b': 2 }) + row(1, { 'm/a': 3 }));
    expect(step()).toBe('written');
    expect(state).not.toBeNull();
    // Later steps, a new metric (m/c) at the last step after the old ones there: appended.
    appendFileSync(metrics, row(2, { 'm/a': 4, 'm/b': 5 }) + row(2, { 'm/c': 6 }));
    expect(step()).toBe('appended');
    // m/b at step 2 again: in the file's order it goes before m/c's point at step 2: written anew.
    appendFileSync(metrics, row(2, { 'm/b': 7 }));
    expect(step()).toBe('written');
    appendFileSync(metrics, row(3, { 'm/c': 1 }) + row(4, { 'm/a': 2 }));
    expect(step()).toBe('appended');
    // Nothing new: the file stays as it is.
    expect(step()).toBe('appended');
    // A row being written (no newline yet): left out with a warning, as a one-shot does; the next pass writes anew.
    appendFileSync(metrics, '{"step":5,"m/a":');
    expect(step()).toBe('appended');
    expect(state).toBeNull();
    appendFileSync(metrics, '9}\n');
    expect(step()).toBe('written');
    // A step that is not a whole number >= 0 (warned with the run's total, as a one-shot says it) and a later step.
    appendFileSync(metrics, row(-1, { 'm/a': 1 }) + row(6, { 'm/a': 2 }));
    expect(step()).toBe('appended');
    appendFileSync(metrics, row(1.5, { 'm/b': 1 }) + row(7, { 'm/d': 2 }));
    expect(step()).toBe('appended');
    // A resumed run drops its rows from step 4 on (a new file, renamed over): written anew, and shorter.
    const before = statSync(join(follow, 'events.out.tfevents.' + Math.floor(new Date(2026, 11, 7, 12, 0, 0).getTime() / 1000) + '.prefrl')).size;
    expect(filterMetricsFile(metrics, (r) => typeof r.step === 'number' && r.step < 4).dropped).toBe(4);
    expect(step()).toBe('written');
    expect(statSync(join(follow, 'events.out.tfevents.' + Math.floor(new Date(2026, 11, 7, 12, 0, 0).getTime() / 1000) + '.prefrl')).size).toBeLessThan(before);
    appendFileSync(metrics, row(4, { 'm/a': 8 }));
    expect(step()).toBe('appended');
    // Cut and written again in place (the same inode), longer than before: the bytes read before differ, written anew.
    const text = readFileSync(metrics, 'utf8');
    writeFileSync(metrics, text.replace('"m/a":1,', '"m/a":1.25,') + row(9, { 'm/a': 0 }));
    expect(step()).toBe('written');
    // A step before the last: written anew.
    appendFileSync(metrics, row(1, { 'm/a': 0 }));
    expect(step()).toBe('written');
    // The event file, deleted by hand: written anew, not appended to nothing.
    appendFileSync(metrics, row(20, { 'm/a': 1 }));
    const eventPath = join(follow, 'events.out.tfevents.' + Math.floor(new Date(2026, 11, 7, 12, 0, 0).getTime() / 1000) + '.prefrl');
    rmSync(eventPath);
    // Its inode number is free now and may go to the new file: step() checks the bytes (an append
    // to a file made anew would hold only the new points).
    step();
  });

  it('a bad line among the new rows is refused as a one-shot refuses it, naming its line in the whole file', () => {
    const run = join(dir, '20261207-130000-train-y-s0');
    mkdirSync(run);
    const metrics = join(run, 'metrics.jsonl');
    writeFileSync(metrics, row(0, { 'm/a': 1 }) + row(1, { 'm/a': 2 }));
    const first = exportRunFollowing(run, join(run, 'tb'), () => undefined, null);
    expect(first.state).not.toBeNull();
    appendFileSync(metrics, 'not json\n' + row(2, { 'm/a': 3 }));
    expect(() => exportRunFollowing(run, join(run, 'tb'), () => undefined, first.state)).toThrow(`${metrics} (line 3): invalid JSON`);
    expect(() => exportRun(run, join(dir, 'tb-y'))).toThrow(`${metrics} (line 3): invalid JSON`);
  });
});
