import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../core/clock.js';
import { UsageError } from '../../core/errors.js';
import { filterMetricsFile, MetricsLog } from '../../core/log.js';
import { createRunDir, removeIfEmpty, softwareChanges, softwareVersions, writeFileAtomic } from '../../core/run.js';

const dir = mkdtempSync(join(tmpdir(), 'prefrl-run-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string; dependencies: Record<string, string> };

describe('run folders', () => {
  it('a runs folder that is a file (or under one) is a usage error naming it, not mkdir\'s EEXIST / ENOTDIR; the file is left as it was', () => {
    const file = join(dir, 'data.h5');
    writeFileSync(file, 'dataset');
    expect(() => createRunDir({ root: file, name: 'x', config: {} })).toThrow(new UsageError(`runs folder ${file}: is a file, not a folder`));
    expect(() => createRunDir({ root: join(file, 'runs'), name: 'x', config: {} })).toThrow(new UsageError(`runs folder ${join(file, 'runs')}: a path above it is a file, not a folder`));
    if (existsSync('/proc/self')) {
      // A folder where nothing can be made: an error naming it, not a hang (Node's recursive mkdir loops there).
      expect(() => createRunDir({ root: '/proc', name: 'x', config: {} })).toThrow(/^runs folder \/proc: cannot make a run folder in it \(ENOENT: no such file or directory, mkdir '\/proc\/\d{8}-\d{6}-x'\)$/);
      expect(() => createRunDir({ root: '/proc/prefrl-none/runs', name: 'x', config: {} })).toThrow(
        new UsageError("runs folder /proc/prefrl-none/runs: cannot be made (ENOENT: no such file or directory, mkdir '/proc/prefrl-none')"),
      );
    }
    expect(readFileSync(file, 'utf8')).toBe('dataset');
  });

  it('runs made in the same second with one name get folders of their own (-2, -3), each claimed by mkdir', () => {
    const root = mkdtempSync(join(tmpdir(), 'prefrl-same-second-'));
    const clock = new ManualClock();
    const runs = [1, 2, 3].map((i) => createRunDir({ root, name: 'twin', config: { i }, clock }));
    for (const r of runs) r.close();
    const names = runs.map((r) => r.path.slice(root.length + 1));
    expect(names[1]).toBe(`${names[0]}-2`);
    expect(names[2]).toBe(`${names[0]}-3`);
    expect(runs.map((r) => JSON.parse(readFileSync(join(r.path, 'config.json'), 'utf8')) as unknown)).toEqual([{ i: 1 }, { i: 2 }, { i: 3 }]);
    rmSync(root, { recursive: true, force: true });
  });

  it('a new run folder records the software that made it: prefrl, Node and the pinned MuJoCo build', () => {
    const run = createRunDir({ root: dir, name: 'sw', config: { a: 1 }, clock: new ManualClock() });
    run.close();
    const saved = JSON.parse(readFileSync(join(run.path, 'software.json'), 'utf8')) as Record<string, unknown>;
    expect(saved).toEqual({
      prefrl: pkg.version,
      node: process.version,
      mujoco: pkg.dependencies['@mujoco/mujoco'],
      platform: process.platform,
      arch: process.arch,
      cpus: expect.any(Number),
    });
    expect(saved.cpus as number).toBeGreaterThan(0);
    expect(JSON.parse(readFileSync(join(run.path, 'config.json'), 'utf8'))).toEqual({ a: 1 });
    expect(softwareChanges(run.path)).toEqual([]);
  });

  it('softwareChanges names each version that differs from the folder\'s, and nothing for folders without a readable software.json', () => {
    const run = createRunDir({ root: dir, name: 'changed', config: {}, clock: new ManualClock() });
    run.close();
    const now = softwareVersions();
    writeFileSync(join(run.path, 'software.json'), JSON.stringify({ ...now, mujoco: '0.0.0-test', node: 'v18.0.0', cpus: now.cpus + 1 }));
    // cpus and platform are recorded, not compared: a run may resume on another machine.
    expect(softwareChanges(run.path)).toEqual([`MuJoCo 0.0.0-test -> ${now.mujoco}`, `Node v18.0.0 -> ${now.node}`]);

    const old = join(dir, 'made-before-software-json');
    mkdirSync(old);
    expect(softwareChanges(old)).toEqual([]);
    writeFileSync(join(old, 'software.json'), '{ not json');
    expect(softwareChanges(old)).toEqual([]);
  });

  it('records the tensor backend a run started, and softwareChanges names a different one only when the caller says which runs now', () => {
    const run = createRunDir({ root: dir, name: 'backend', config: {}, clock: new ManualClock(), tensorBackend: 'wasm' });
    run.close();
    expect(JSON.parse(readFileSync(join(run.path, 'software.json'), 'utf8'))).toEqual({ ...softwareVersions(), tensorBackend: 'wasm' });
    expect(softwareChanges(run.path, 'wasm')).toEqual([]);
    expect(softwareChanges(run.path, 'cpu')).toEqual(['tensor backend wasm -> cpu']);
    // A resume that starts no backend (or has not yet) compares nothing about it.
    expect(softwareChanges(run.path)).toEqual([]);
    // A folder made without one (a run with no networks, or made before the field existed): nothing to compare.
    const plain = createRunDir({ root: dir, name: 'no-backend', config: {}, clock: new ManualClock() });
    plain.close();
    expect(JSON.parse(readFileSync(join(plain.path, 'software.json'), 'utf8'))).not.toHaveProperty('tensorBackend');
    expect(softwareChanges(plain.path, 'cpu')).toEqual([]);
  });
});

describe('writeFileAtomic', () => {
  it('replaces a file whole through a temporary file of its own, leaving only the file; a folder in the way throws and keeps the folder', () => {
    const d = mkdtempSync(join(tmpdir(), 'prefrl-atomic-'));
    const f = join(d, 'summary.md');
    writeFileSync(f, 'old text that is longer than the new one\n');
    writeFileAtomic(f, 'new\n');
    expect(readFileSync(f, 'utf8')).toBe('new\n');
    expect(readdirSync(d)).toEqual(['summary.md']);
    mkdirSync(join(d, 'plot.svg'));
    expect(() => writeFileAtomic(join(d, 'plot.svg'), '<svg/>')).toThrow();
    expect(readdirSync(d).sort()).toEqual(['plot.svg', 'summary.md']);
    rmSync(d, { recursive: true, force: true });
  });
});

describe('removeIfEmpty', () => {
  it('removes a run folder holding only what createRunDir wrote, and keeps one with a metric row or an artifact', () => {
    const root = mkdtempSync(join(tmpdir(), 'prefrl-empty-'));
    const make = (name: string) => createRunDir({ root, name, config: { command: 'rollout' }, clock: new ManualClock() });
    const empty = make('empty');
    empty.close();
    expect(removeIfEmpty(empty)).toBe(true);
    expect(existsSync(empty.path)).toBe(false);
    const logged = make('logged');
    logged.metrics.log(0, { 'rollout/x': 1 });
    logged.close();
    expect(removeIfEmpty(logged)).toBe(false);
    const saved = make('saved');
    writeFileSync(saved.artifact('episodes.bin'), 'x');
    saved.close();
    expect(removeIfEmpty(saved)).toBe(false);
    const summary = make('summary');
    summary.writeJson('summary.json', {});
    summary.close();
    expect(removeIfEmpty(summary)).toBe(false);
    for (const r of [logged, saved, summary]) expect(existsSync(join(r.path, 'config.json'))).toBe(true);
    rmSync(root, { recursive: true, force: true });
  });
});

describe('MetricsLog', () => {
  it('rewrite keeps the rows asked for, atomically, and the log goes on appending to the rewritten file; bad keys are refused', () => {
    const d = mkdtempSync(join(tmpdir(), 'prefrl-metrics-'));
    try {
      const path = join(d, 'metrics.jsonl');
      const log = new MetricsLog(path);
      log.log(1, { 'a/x': 1 });
      log.log(2, { 'b/y': 2, 'a/nan': Number.NaN });
      expect(log.rewrite((r) => !('a/x' in r))).toBe(1);
      log.log(3, { 'a/x': 3 });
      expect(log.rewrite(() => true)).toBe(0);
      log.close();
      expect(readFileSync(path, 'utf8')).toBe('{"step":2,"b/y":2,"a/nan":null}\n{"step":3,"a/x":3}\n');
      expect(() => log.rewrite(() => true)).toThrow(/is closed/);
      expect(() => new MetricsLog(join(d, 'm2.jsonl')).log(0, { loss: 1 })).toThrow(/key "loss" must be slash-prefixed/);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('lines() counts whole lines, and rewrite tells keep each row\'s line, so the rows logged after a mark can be kept or dropped as a set', () => {
    const d = mkdtempSync(join(tmpdir(), 'prefrl-metrics-'));
    try {
      const path = join(d, 'metrics.jsonl');
      const log = new MetricsLog(path);
      expect(log.lines()).toBe(0);
      log.log(1, { 'a/x': 1 });
      log.log(1, { 'b/y': 1 });
      const mark = log.lines();
      expect(mark).toBe(2);
      log.log(2, { 'a/x': 2 });
      log.log(2, { 'b/y': 2 });
      const seen: number[] = [];
      // the old a/x row goes, the new one stays
      expect(
        log.rewrite((r, line) => {
          seen.push(line);
          return line >= mark || !('a/x' in r);
        }),
      ).toBe(1);
      expect(seen).toEqual([0, 1, 2, 3]);
      expect(log.lines()).toBe(3);
      log.close();
      expect(readFileSync(path, 'utf8')).toBe('{"step":1,"b/y":1}\n{"step":2,"a/x":2}\n{"step":2,"b/y":2}\n');
      expect(() => log.lines()).toThrow(/is closed/);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('filterMetricsFile drops a cut-off last line and keeps lines that do not parse in the middle', () => {
    const d = mkdtempSync(join(tmpdir(), 'prefrl-metrics-'));
    try {
      const path = join(d, 'metrics.jsonl');
      writeFileSync(path, '{"step":1,"a/x":1}\nnot json\n{"step":2,"a/x":2}\n{"step":3,"a/');
      const r = filterMetricsFile(path, (row) => row.step !== 2);
      expect(r.dropped).toBe(2);
      expect(r.kept).toEqual([{ step: 1, 'a/x': 1 }]);
      expect(readFileSync(path, 'utf8')).toBe('{"step":1,"a/x":1}\nnot json\n');
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
