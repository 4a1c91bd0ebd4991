/**
 * Label-store rules the CLI relies on:
 * - people and machine teachers are separate audiences: the oracle's labels (`prefrl label`) do
 *   not use up the pairs waiting for people (`nextPairFor`, `counts().waitingForPeople`), and a
 *   raised `wanted` (serve --overlap) does not make labelled pairs read as unlabelled;
 * - a teacher labels a pair once: `labels import` skips a label for a pair its teacher already
 *   labelled under another id, and reports the conflicting answers;
 * - read-only commands (labels stats / export, reward) never make a store out of a missing or
 *   empty file; `labels export --out` into a missing folder is a usage error naming --out.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../core/clock.js';
import { InputError } from '../../core/errors.js';
import { Rng } from '../../core/rng.js';
import { randomPolicy, rollout } from '../../envs/rollout.js';
import { TOY_SPEC, ToyReachEnv } from '../../envs/toy.js';
import { cutSegments, makePair } from '../../reward/segments.js';
import { LabelStore } from '../../reward/store.js';
import type { Label, Pair } from '../../reward/types.js';
import { main } from '../../scripts/cli.js';
import { captureCli, lastJson } from '../helpers/cli.js';

const LEASE = 60_000;
let dir = '';
let pairs: Pair[] = [];
let n = 0;
const tmp = (name = 'labels.sqlite') => join(dir, `${n++}-${name}`);

function pref(id: string, pairId: string, teacher: string, probFirst: number): Label {
  return { id, pairId, teacher, kind: 'preference', probFirst };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'prefrl-audiences-'));
  const env = new ToyReachEnv();
  const trajs = rollout(env, randomPolicy(TOY_SPEC, new Rng(5)), { episodes: 4, seed: 2 });
  env.dispose();
  const segments = cutSegments(trajs, { length: 10, source: 'test' });
  pairs = [];
  for (let i = 0; i + 1 < segments.length && pairs.length < 6; i += 2) pairs.push(makePair(segments[i], segments[i + 1]));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const c = captureCli(new ManualClock());
  const code = await main(args, c.ctx);
  return { code, out: c.out, err: c.err };
}

describe('people and machines are separate audiences', () => {
  it('an oracle that labelled every pair leaves them all waiting for people; people fill a pair with their own labels only', () => {
    const path = tmp();
    const store = LabelStore.open(path, { clock: new ManualClock() });
    try {
      store.putPairs(pairs);
      store.putTeacher({ id: 'oracle', kind: 'oracle' });
      store.addLabels(pairs.map((p, i) => pref(`o${i}`, p.id, 'oracle', 1)));
      expect(store.counts()).toMatchObject({ pairs: pairs.length, pending: 0, unlabelled: 0, waitingForPeople: pairs.length });
      // The viewer's teacher ids: human:<name>, registered with kind human.
      store.putTeacher({ id: 'human:ada', kind: 'human' });
      const a = store.nextPairFor('human:ada', { leaseMs: LEASE });
      const b = store.nextPairFor('human:bo', { leaseMs: LEASE });
      expect(a?.pair.id).toBe(pairs[0].id);
      expect(b?.pair.id).toBe(pairs[1].id); // ada's lease keeps pair 0 from bo (wanted 1)
      store.addLabels([pref('h0', pairs[0].id, 'human:ada', 0)]);
      expect(store.counts().waitingForPeople).toBe(pairs.length - 1);
      // A person registered under another id counts as a person too.
      store.putTeacher({ id: 'carol', kind: 'human' });
      store.addLabels([pref('h1', pairs[1].id, 'carol', 1)]);
      expect(store.counts().waitingForPeople).toBe(pairs.length - 2);
      // A second machine teacher is not locked out by people's labels, nor by the oracle's.
      const seen = new Set<string>();
      for (let got = store.nextPairFor('mistake', { leaseMs: LEASE }); got; got = store.nextPairFor('mistake', { leaseMs: LEASE })) {
        seen.add(got.pair.id);
        store.addLabels([pref(`m-${got.pair.id}`, got.pair.id, 'mistake', 1)]);
      }
      expect(seen.size).toBe(0); // the oracle already filled every pair for machines (wanted 1)
      store.raiseWanted(2);
      for (let got = store.nextPairFor('mistake', { leaseMs: LEASE }); got; got = store.nextPairFor('mistake', { leaseMs: LEASE })) {
        seen.add(got.pair.id);
        store.addLabels([pref(`m-${got.pair.id}`, got.pair.id, 'mistake', 1)]);
      }
      expect(seen.size).toBe(pairs.length);
      // Raised wanted: every pair has labels, none is unlabelled; people owe 2 on four pairs, 1 on two.
      expect(store.counts()).toMatchObject({ unlabelled: 0, waitingForPeople: pairs.length });
    } finally {
      store.close();
    }
  });

  it('prefrl pairs, label --teacher oracle, then the pairs still wait for people (labels stats, pairs report, the viewer\'s hand-out)', async () => {
    const runs = join(dir, 'runs');
    const r = await cli(['rollout', '--env', 'toy-reach', '--episodes', '3', '--policy', 'random', '--name', 'A', '--runs-dir', runs, '--quiet', '--json']);
    expect(r.code, r.err.join('')).toBe(0);
    const runDir = lastJson<{ runDir: string }>(r.out).runDir;
    const store = tmp('s.sqlite');
    const p = await cli(['pairs', '--trajectories', runDir, '--count', '10', '--segment-length', '10', '--store', store]);
    expect(p.code, p.err.join('')).toBe(0);
    expect(p.out.join('')).toContain('(10 pairs, 10 unlabelled, 10 waiting for people)');
    const l = await cli(['label', '--store', store, '--teacher', 'oracle', '--quiet', '--json']);
    expect(l.code, l.err.join('')).toBe(0);
    expect(lastJson(l.out)).toMatchObject({ added: 10, alreadyAnswered: 0 });
    // Again: the oracle answers only what it has not answered.
    const l2 = await cli(['label', '--store', store, '--teacher', 'oracle', '--quiet', '--json']);
    expect(lastJson(l2.out)).toMatchObject({ added: 0, alreadyAnswered: 10 });
    const s = await cli(['labels', 'stats', '--store', store, '--json']);
    expect(s.code, s.err.join('')).toBe(0);
    expect(lastJson(s.out)).toMatchObject({ pairs: 10, labels: 10, unlabelled: 0, waitingForPeople: 10 });
    const st = await cli(['labels', 'stats', '--store', store]);
    expect(st.out.join('')).toContain('10 pairs (0 unlabelled, 10 waiting for people), 10 labels');
    const opened = LabelStore.open(store, { create: false });
    try {
      expect(opened.nextPairFor('human:ada', { leaseMs: LEASE })).not.toBeNull();
      // serve --overlap 2 raises wanted in the store; a later pairs run still reports them labelled.
      opened.raiseWanted(2);
    } finally {
      opened.close();
    }
    const again = await cli(['pairs', '--trajectories', runDir, '--count', '10', '--segment-length', '10', '--store', store, '--json']);
    expect(lastJson(again.out)).toMatchObject({ added: 0, storePairs: 10, unlabelled: 0, waitingForPeople: 10 });
  });
});

describe('labels import: a teacher labels a pair once', () => {
  it('skips imported labels of a (pair, teacher) already labelled under other ids, counting and naming the conflicting ones', async () => {
    const path = tmp();
    const store = LabelStore.open(path, { clock: new ManualClock() });
    store.putPairs(pairs);
    store.addLabels(pairs.map((p, i) => pref(`o${i}`, p.id, 'oracle', 1)));
    store.close();
    const file = tmp('export.jsonl');
    const ex = await cli(['labels', 'export', '--store', path, '--out', file]);
    expect(ex.code, ex.err.join('')).toBe(0);
    // The same labels under new ids, with the first three answers flipped; plus one new teacher's
    // label twice (two ids, one pair): only its first is taken.
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((s) => JSON.parse(s) as Label & { probFirst: number });
    const changed = lines.map((l, i) => ({ ...l, id: `x${i}`, probFirst: i < 3 ? 0 : l.probFirst }));
    const extra = [pref('b1', pairs[0].id, 'bo', 1), pref('b2', pairs[0].id, 'bo', 0)];
    const again = tmp('again.jsonl');
    writeFileSync(again, [...changed, ...extra].map((l) => JSON.stringify(l)).join('\n') + '\n');
    const im = await cli(['labels', 'import', '--store', path, '--in', again, '--json']);
    expect(im.code, im.err.join('')).toBe(0);
    expect(lastJson(im.out)).toEqual({
      store: path,
      in: again,
      lines: pairs.length + 2,
      added: 1,
      duplicates: pairs.length + 1,
      sameTeacher: pairs.length + 1,
      conflicts: 4,
      firstConflictPair: pairs[0].id,
      labels: pairs.length + 1,
    });
    const check = LabelStore.open(path, { create: false });
    try {
      const labels = check.labels();
      expect(labels.filter((l) => l.teacher === 'oracle').length).toBe(pairs.length);
      expect(labels.filter((l) => l.teacher === 'oracle').every((l) => l.kind === 'preference' && l.probFirst === 1)).toBe(true);
      expect(labels.filter((l) => l.teacher === 'bo').map((l) => l.id)).toEqual(['b1']);
    } finally {
      check.close();
    }
    // Text: the skipped ones and a warning with the conflicts and the first pair.
    const text = await cli(['labels', 'import', '--store', path, '--in', again]);
    expect(text.code).toBe(0);
    expect(text.out.join('')).toContain(`imported 0 new labels from ${again} (1 already present; ${pairs.length + 1} skipped as duplicates: their teacher had already labelled the pair)`);
    expect(text.err.join('')).toContain(`4 of the skipped labels give another answer than the label their teacher already gave on the pair (first on pair ${pairs[0].id})`);
    // The unchanged export imports as before: all already present, nothing skipped for a teacher.
    const same = await cli(['labels', 'import', '--store', path, '--in', file, '--json']);
    expect(lastJson(same.out)).toMatchObject({ added: 0, duplicates: pairs.length, sameTeacher: 0, conflicts: 0, firstConflictPair: null });
  });
});

describe('read-only commands open an existing store only', () => {
  it('labels stats, labels export and reward refuse a missing or empty file (exit 1, naming it) and leave it as it was', async () => {
    const empty = tmp('empty.sqlite');
    writeFileSync(empty, '');
    const missing = tmp('missing.sqlite');
    const out = tmp('out.jsonl');
    const commands = [
      ['labels', 'stats', '--store'],
      ['labels', 'export', '--out', out, '--store'],
      ['reward', '--runs-dir', join(dir, 'no-runs'), '--quiet', '--store'],
    ];
    for (const cmd of commands) {
      const e = await cli([...cmd, empty]);
      expect(e.code, cmd.join(' ')).toBe(1);
      expect(e.err.join(''), cmd.join(' ')).toContain(`${empty}: not a label store (an empty file`);
      expect(statSync(empty).size).toBe(0);
      const m = await cli([...cmd, missing]);
      expect(m.code, cmd.join(' ')).toBe(2);
      expect(m.err.join(''), cmd.join(' ')).toContain(`--store: ${missing} not found (a label store, e.g. runs/<id>/labels.sqlite)`);
      expect(existsSync(missing)).toBe(false);
    }
    expect(readdirSync(dir).filter((f) => f.includes('empty.sqlite'))).toEqual([`${empty.split('/').pop()}`]);
    expect(existsSync(out)).toBe(false);
    expect(existsSync(join(dir, 'no-runs'))).toBe(false);
    expect(() => LabelStore.open(empty, { create: false })).toThrow(InputError);
    // Commands that make pools may still make a store of an empty file.
    LabelStore.open(empty).close();
    expect(statSync(empty).size).toBeGreaterThan(0);
  });

  it('labels export --out into a missing folder is a usage error naming --out and the folder, not the temporary file', async () => {
    const path = tmp();
    const store = LabelStore.open(path);
    store.putPairs(pairs.slice(0, 1));
    store.close();
    const target = join(dir, 'no', 'such', 'x.jsonl');
    const e = await cli(['labels', 'export', '--store', path, '--out', target]);
    expect(e.code).toBe(2);
    expect(e.err.join('')).toBe(`prefrl labels export: --out ${target}: ${join(dir, 'no', 'such')} is not an existing folder\n`);
    const d = await cli(['labels', 'export', '--store', path, '--out', dir]);
    expect(d.code).toBe(2);
    expect(d.err.join('')).toBe(`prefrl labels export: --out ${dir}: is a folder; give a file name such as ${join(dir, 'labels.jsonl')}\n`);
    // The store itself names the file asked for should the write fail anyway.
    const s = LabelStore.open(path, { create: false });
    try {
      expect(() => s.exportJsonl(target)).toThrow(new RegExp(`^cannot write ${target.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(ENOENT\\)`));
      expect(() => s.exportJsonl(target)).not.toThrow(/tmp-/);
    } finally {
      s.close();
    }
  });

  it('labels export --out a named pipe (as /dev/stdout is) writes the labels into it and leaves the pipe in place, not replaced by a file', async () => {
    const path = tmp();
    const store = LabelStore.open(path);
    store.putPairs(pairs.slice(0, 2));
    store.addLabels([pref('e0', pairs[0].id, 'human:ada', 1), pref('e1', pairs[1].id, 'human:ada', 0)]);
    store.close();
    const fifo = join(dir, `${n++}-pipe`);
    execFileSync('mkfifo', [fifo]);
    // A reader in another process (opening a pipe blocks until both ends are open): it gets
    // everything written until the writer closes the pipe.
    const reader = spawn('cat', [fifo], { timeout: 10_000 });
    const read = new Promise<string>((res) => {
      let text = '';
      reader.stdout.on('data', (d) => (text += String(d)));
      reader.on('close', () => res(text));
    });
    const e = await cli(['labels', 'export', '--store', path, '--out', fifo]);
    expect(e.code, e.err.join('')).toBe(0);
    const lines = (await read).trim().split('\n').map((l) => JSON.parse(l) as { id: string; probFirst: number });
    expect(lines.map((l) => [l.id, l.probFirst])).toEqual([
      ['e0', 1],
      ['e1', 0],
    ]);
    expect(statSync(fifo).isFIFO()).toBe(true);
  });
});

describe("the port a human teacher's server bound (meta.served_port)", () => {
  it('is kept across opens, the last one recorded wins, a read-only open reads it, and a port outside 1..65535 is refused', () => {
    const file = tmp();
    const store = LabelStore.open(file);
    try {
      expect(store.servedPort()).toBeUndefined();
      store.recordServedPort(41_234);
      store.recordServedPort(41_235);
      for (const bad of [0, -1, 65_536, 1.5, Number.NaN]) {
        expect(() => store.recordServedPort(bad)).toThrow(new RangeError(`LabelStore.recordServedPort: port must be a whole number in 1..65535, got ${bad}`));
      }
    } finally {
      store.close();
    }
    const again = LabelStore.open(file, { readOnly: true });
    try {
      expect(again.servedPort()).toBe(41_235);
      expect(() => again.recordServedPort(41_236)).toThrow(/read-only/);
    } finally {
      again.close();
    }
  });
});
