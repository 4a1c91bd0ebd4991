/**
 * Damaged inputs that a sweep of every file a command reads found printing a stack trace, a
 * message naming no file or flag, or the wrong exit code (see the fuzzing report): each one now a
 * single line naming the file and field (exit 1) or the flag (exit 2), with nothing written.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { ActorJson } from '../agents/actor_snapshot.js';
import { f32ToBase64 } from '../agents/types.js';
import { PpoPolicy } from '../agents/ppo.js';
import { InputError, parseJsonObject } from '../core/errors.js';
import { softwareChanges, softwareVersions } from '../core/run.js';
import { LabelStore } from '../reward/store.js';
import { CACHE_FORMAT, ResponseCache } from '../reward/vlm/cache.js';
import { main } from '../scripts/cli.js';
import { checkRolloutSize } from '../scripts/commands/train.js';
import { captureCli, expectUsageError, usageMessage } from './helpers/cli.js';
import { expectError } from './helpers/errors.js';
import { unprivileged } from './helpers/unprivileged.js';

/** Run `prefrl <args>`: exit code and stderr. */
async function run(args: readonly string[]): Promise<{ code: number; err: string }> {
  const c = captureCli();
  const code = await main(args, c.ctx);
  return { code, err: c.err.join('') };
}

/** `text` with the characters that mean something in a regex escaped. */
function escaped(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The regex of exactly this one line of output (ending in a newline). */
function exactly(line: string): RegExp {
  return new RegExp(`^${escaped(line)}\n$`);
}

describe('train: a rollout that PPO cannot split into its 32 minibatches', () => {
  it('is a usage error naming --num-steps with the nearest size that fits, before any run folder (it was a RangeError with a stack, after the folder was made)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fuzz-ppo-'));
    // 1 x 50 = 50: steps must be a multiple of 32 / gcd(1, 32) = 32; the first one >= 50 is 64.
    await expectUsageError(
      ['train', '--env', 'toy-reach', '--reward', 'true', '--num-envs', '1', '--num-steps', '50', '--steps', '100'],
      join(dir, 'a'),
      exactly("prefrl train: --num-steps: a rollout of --num-envs 1 x --num-steps 50 = 50 env steps does not split into PPO's 32 equal minibatches; the rollout must be a multiple of 32 env steps: with --num-envs 1, use a --num-steps that is a multiple of 32, e.g. 64"),
    );
    // The learned-reward loop too (the default teacher): 4 x 12 = 48; gcd(4, 32) = 4, so multiples of 8: 16.
    await expectUsageError(
      ['train', '--env', 'toy-reach', '--num-envs', '4', '--num-steps', '12', '--steps', '100', '--segment-length', '5'],
      join(dir, 'b'),
      /^prefrl train: --num-steps: a rollout of --num-envs 4 x --num-steps 12 = 48 env steps does not split .* with --num-envs 4, use a --num-steps that is a multiple of 8, e.g. 16\n$/,
    );
  });

  it('checkRolloutSize: sizes that divide pass; the suggestion is the first multiple at or above the one given', () => {
    for (const [envs, steps] of [
      [1, 32],
      [2, 64],
      [4, 512],
      [3, 32],
      [8, 4],
    ]) {
      expect(() => checkRolloutSize(envs, steps)).not.toThrow();
    }
    // 6 x 20 = 120: gcd(6, 32) = 2, multiples of 16; 32 is the first >= 20 (6 x 32 = 192 = 6 x 32).
    expect(usageMessage(() => checkRolloutSize(6, 20))).toMatch(/multiple of 16, e\.g\. 32$/);
    // 3 x 33 = 99: gcd 1, multiples of 32: 64.
    expect(usageMessage(() => checkRolloutSize(3, 33))).toMatch(/= 99 env steps .* multiple of 32, e\.g\. 64$/);
  });
});

describe('a label store missing one of its tables', () => {
  /** A new (empty) toy-reach store with `drop` dropped, and its bytes. */
  function storeWithout(drop: readonly string[]): { path: string; bytes: Buffer } {
    const path = join(mkdtempSync(join(tmpdir(), 'fuzz-store-')), 'labels.sqlite');
    LabelStore.open(path, { envId: 'toy-reach' }).close();
    const db = new Database(path);
    for (const t of drop) db.exec(`DROP TABLE ${t}`);
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
    return { path, bytes: readFileSync(path) };
  }

  it('is an error naming the file and the tables, from a read-only command and a writing one; the file is left as it was (it was SQLite\'s "no such table" with a stack)', async () => {
    const { path, bytes } = storeWithout(['pairs']);
    const line = `${path}: a damaged label store: its table pairs is missing (tables: meta, segments, teachers, labels, leases); restore the file from a copy`;
    for (const args of [
      ['labels', 'stats', '--store', path],
      ['label', '--store', path, '--teacher', 'oracle', '--quiet'],
      ['reward', '--store', path, '--quiet', '--runs-dir', join(path, '..', 'runs')],
    ]) {
      const r = await run(args);
      expect(r.code, r.err).toBe(1);
      expect(r.err).toMatch(exactly(`prefrl ${args[0] === 'labels' ? 'labels stats' : args[0]}: ${line}`));
    }
    expect(readFileSync(path).equals(bytes)).toBe(true);
    expect(existsSync(join(path, '..', 'runs'))).toBe(false);
  });

  it('LabelStore.open: an InputError naming every missing table', async () => {
    const { path } = storeWithout(['segments', 'leases']);
    await expectError(() => LabelStore.open(path), InputError, /: a damaged label store: its tables segments, leases are missing \(tables: meta, pairs, teachers, labels\); restore/);
    await expectError(() => LabelStore.open(path, { readOnly: true }), InputError, /its tables segments, leases are missing/);
  });
});

describe('rollout --policy: a damaged offline actor (actor.json)', () => {
  /** A zero-weight linear actor for toy-reach (6 observations, 2 actions). */
  function actor(): ActorJson {
    return {
      format: 'prefrl-offline-actor',
      version: 1,
      algo: 'iql',
      kind: 'deterministic',
      obsDim: 6,
      actDim: 2,
      hidden: [],
      actLow: [-1, -1],
      actHigh: [1, 1],
      obsMean: [0, 0, 0, 0, 0, 0],
      obsStd: [1, 1, 1, 1, 1, 1],
      weights: [f32ToBase64(new Float32Array(12)), f32ToBase64(new Float32Array(2))],
      logStd: null,
      meta: { env: { id: 'toy-reach' } },
    };
  }

  it('names the file and the field, exit 1, no run folder; TypeErrors with stacks before (null, weights not strings) or contradicting messages (obsDim "6")', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fuzz-actor-'));
    const cases: [string, string, string][] = [
      ['null', 'null', ': cannot read the actor: expected a JSON object, found null'],
      ['list', '[1, 2]', ': cannot read the actor: expected a JSON object, found a list'],
      ['weights-numbers', JSON.stringify({ ...actor(), weights: [1, 2] }), ' (weights): expected a list of base64 strings (float32 values), found other values in the list'],
      ['weights-odd-bytes', JSON.stringify({ ...actor(), weights: [actor().weights[0], 'AAAA'] }), ' (weights): weight array 1 is not whole float32 values (base64 of a byte count that is not a multiple of 4)'],
      ['obsdim-text', JSON.stringify({ ...actor(), obsDim: '6' }), ' (obsDim): expected a whole number >= 1, found "6"'],
      ['actdim-negative', JSON.stringify({ ...actor(), actDim: -1 }), ' (actDim): expected a whole number >= 1, found -1'],
      ['hidden-text', JSON.stringify({ ...actor(), hidden: '64' }), ' (hidden): expected a list of whole numbers >= 1, found "64"'],
      ['kind', JSON.stringify({ ...actor(), kind: 'banana' }), ' (kind): expected "gaussian" or "deterministic", found "banana"'],
      ['version', JSON.stringify({ ...actor(), version: 7 }), ' (version): version 7 is not supported (expected 1)'],
    ];
    for (const [name, text, message] of cases) {
      const folder = join(dir, name);
      mkdirSync(folder);
      writeFileSync(join(folder, 'actor.json'), text);
      const runs = join(dir, `runs-${name}`);
      const r = await run(['rollout', '--env', 'toy-reach', '--policy', folder, '--episodes', '1', '--quiet', '--runs-dir', runs]);
      expect(r.code, `${name}: ${r.err}`).toBe(1);
      expect(r.err, name).toMatch(exactly(`prefrl rollout: ${join(folder, 'actor.json')}${message}`));
      expect(existsSync(runs)).toBe(false);
    }
  });

  it('a PPO policy.json of null or a list: exit 1 naming the file (null was a TypeError with a stack, a list exit 2 naming --policy as if of another env)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fuzz-ppo-policy-'));
    for (const [name, text, found] of [
      ['null', 'null', 'null'],
      ['list', '[]', 'a list'],
    ]) {
      const folder = join(dir, name);
      mkdirSync(folder);
      writeFileSync(join(folder, 'policy.json'), text);
      const runs = join(dir, `runs-${name}`);
      for (const args of [
        ['rollout', '--env', 'toy-reach', '--policy', folder, '--episodes', '1'],
        ['collect', '--env', 'toy-reach', '--policy', 'expert', '--checkpoint', folder, '--steps', '10'],
      ]) {
        const r = await run([...args, '--quiet', '--runs-dir', runs]);
        expect(r.code, r.err).toBe(1);
        expect(r.err).toMatch(exactly(`prefrl ${args[0]}: ${join(folder, 'policy.json')}: cannot read the policy: expected a JSON object, found ${found}`));
      }
      expect(existsSync(runs)).toBe(false);
    }
  });

  it('a whole actor of another env is still a usage error naming --policy (exit 2)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fuzz-actor-env-'));
    const j = { ...actor(), obsDim: 10, obsMean: new Array(10).fill(0), obsStd: new Array(10).fill(1), weights: [f32ToBase64(new Float32Array(20)), f32ToBase64(new Float32Array(2))], meta: {} };
    writeFileSync(join(dir, 'actor.json'), JSON.stringify(j));
    await expectUsageError(
      ['rollout', '--env', 'toy-reach', '--policy', dir, '--episodes', '1'],
      join(dir, 'runs'),
      exactly(`prefrl rollout: --policy: ${join(dir, 'actor.json')} (obsDim): the actor takes 10 observations and gives 2 actions; env "toy-reach" has 6 and 2`),
    );
  });
});

describe('a VLM answer cache path that is a file', () => {
  it('offline --vlm-cache: a usage error naming the flag, before the run folder (it failed at the label stage with mkdir\'s EEXIST)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fuzz-vlm-cache-'));
    const file = join(dir, 'cache.json');
    writeFileSync(file, '{}');
    await expectUsageError(
      ['offline', '--dataset', join(dir, 'data.h5'), '--teacher', 'vlm', '--vlm-base-url', 'http://127.0.0.1:9/v1', '--vlm-model', 'm', '--vlm-cache', file],
      join(dir, 'runs'),
      exactly(`prefrl offline: --vlm-cache: ${file} is a file; the answer cache is a folder (made when missing), e.g. ${join('<run>', 'vlm_cache')} of an earlier run`),
    );
    expect(readFileSync(file, 'utf8')).toBe('{}');
  });

  it('ResponseCache: an InputError naming the path (label --teacher vlm:...,cacheDir=<file>)', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'fuzz-vlm-cache-')), 'labels.sqlite');
    writeFileSync(file, 'x');
    await expectError(() => new ResponseCache(file), InputError, new RegExp(`^${escaped(`${file}: the VLM answer cache is a folder, and this is a file: name a folder (made when missing)`)}$`));
    expect(readFileSync(file, 'utf8')).toBe('x');
  });
});

describe('plot: a damaged metrics.jsonl', () => {
  /** A run folder whose metrics.jsonl holds `lines`. */
  function runWith(lines: readonly string[]): string {
    const dir = join(mkdtempSync(join(tmpdir(), 'fuzz-plot-')), 'run');
    mkdirSync(dir);
    writeFileSync(join(dir, 'metrics.jsonl'), `${lines.join('\n')}\n`);
    return dir;
  }

  it('a line of null or a bare number is an error naming the file and the line (a TypeError with a stack before); a folder named metrics.jsonl names itself (EISDIR named nothing)', async () => {
    for (const bad of ['null', '5']) {
      const dir = runWith(['{"step":0,"eval/true_return":-3}', bad, '{"step":10,"eval/true_return":-2}']);
      const out = join(dir, '..', 'curves.svg');
      const r = await run(['plot', dir, '--out', out]);
      expect(r.code, r.err).toBe(1);
      expect(r.err).toMatch(exactly(`prefrl plot: ${join(dir, 'metrics.jsonl')} (line 2): expected a JSON object (one record per line), found ${bad}`));
      expect(existsSync(out)).toBe(false);
    }
    const dir = join(mkdtempSync(join(tmpdir(), 'fuzz-plot-')), 'run');
    mkdirSync(dir);
    mkdirSync(join(dir, 'metrics.jsonl'));
    const r = await run(['plot', dir, '--out', join(dir, '..', 'curves.svg')]);
    expect(r.code, r.err).toBe(1);
    expect(r.err).toMatch(exactly(`prefrl plot: ${join(dir, 'metrics.jsonl')}: a folder, not the run's metrics file`));
  });
});

describe('a run file or checkpoint.json that holds null (parseJsonObject)', () => {
  it('rollout, collect and train --expert/--resume name the file, exit 1, no run folder (each read a field of null: a TypeError with a stack)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fuzz-null-json-'));
    // A PPO checkpoint folder whose policy is whole and whose checkpoint.json is null.
    const ck = join(dir, 'checkpoint');
    mkdirSync(ck);
    writeFileSync(join(ck, 'policy.json'), JSON.stringify(new PpoPolicy(6, 2, [4]).toJSON()));
    writeFileSync(join(ck, 'checkpoint.json'), 'null');
    const ckLine = `${join(ck, 'checkpoint.json')}: expected a JSON object, found null`;
    // A train run folder whose config.json is null.
    const trainRun = join(dir, 'train-run');
    mkdirSync(trainRun);
    writeFileSync(join(trainRun, 'config.json'), 'null');
    writeFileSync(join(trainRun, 'metrics.jsonl'), '');
    const runLine = `${join(trainRun, 'config.json')}: expected a JSON object, found null`;
    const runs = join(dir, 'runs');
    for (const [args, line] of [
      [['rollout', '--policy', ck, '--episodes', '1'], `prefrl rollout: ${ckLine}`],
      [['rollout', '--env', 'toy-reach', '--policy', ck, '--episodes', '1'], `prefrl rollout: ${ckLine}`],
      [['collect', '--env', 'toy-reach', '--policy', 'expert', '--checkpoint', ck, '--steps', '10'], `prefrl collect: ${ckLine}`],
      [['train', '--env', 'toy-reach', '--teacher', 'regret', '--expert', trainRun, '--steps', '64', '--num-envs', '1', '--num-steps', '64'], `prefrl train: ${runLine}`],
      [['train', '--resume', trainRun], `prefrl train: ${runLine}`],
    ] as const) {
      const r = await run([...args, '--quiet', '--runs-dir', runs]);
      expect(r.code, `${args.join(' ')}: ${r.err}`).toBe(1);
      expect(r.err).toMatch(exactly(line));
    }
    expect(existsSync(runs)).toBe(false);
    expect(readFileSync(join(trainRun, 'config.json'), 'utf8')).toBe('null');
  });

  it('parseJsonObject: null, a list, a number refused naming the source and field; an object returned; a byte order mark named as such', () => {
    expect(parseJsonObject('{"a":1}', 'f.json')).toEqual({ a: 1 });
    expect(() => parseJsonObject('null', 'f.json')).toThrow(new InputError('f.json', 'expected a JSON object, found null'));
    expect(() => parseJsonObject('[1]', 'f.json', 'x')).toThrow('f.json (x): expected a JSON object, found a list');
    expect(() => parseJsonObject('3', 'f.json')).toThrow('f.json: expected a JSON object, found 3');
    expect(() => parseJsonObject('\ufeff{"a":1}', 'f.json')).toThrow('f.json: invalid JSON: the file starts with a byte order mark (U+FEFF); save it as UTF-8 without one');
  });
});

describe('a run folder whose software.json holds null', () => {
  it('softwareChanges reads it as no record (it read a field of null: train --resume stopped with a TypeError and a stack)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fuzz-software-'));
    for (const text of ['null', '[]', '7']) {
      writeFileSync(join(dir, 'software.json'), text);
      expect(softwareChanges(dir)).toEqual([]);
    }
    // A real record still counts: another MuJoCo than this one is named.
    writeFileSync(join(dir, 'software.json'), JSON.stringify({ mujoco: '0.0.1' }));
    expect(softwareChanges(dir)).toEqual([`MuJoCo 0.0.1 -> ${softwareVersions().mujoco}`]);
  });
});

describe('--like: a JSON number too large for a double (1e999 reads as Infinity)', () => {
  it('is named as Infinity, not as null (JSON.stringify\'s text for it)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fuzz-like-inf-'));
    const file = join(dir, 'flags.json');
    writeFileSync(file, '{"env": "toy-reach", "reward": "true", "lr": 1e999}');
    const r = await run(['train', '--like', file, '--quiet', '--runs-dir', join(dir, 'runs')]);
    expect(r.code, r.err).toBe(1);
    expect(r.err).toMatch(exactly(`prefrl train: ${file} (lr): expected a finite number, got Infinity`));
    expect(existsSync(join(dir, 'runs'))).toBe(false);
  });
});

describe('serve --heron-out naming the label store', () => {
  it('is refused before the server starts (a save on the HERON page would have written its JSON over every label); the store is left as it was', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fuzz-heron-out-'));
    const path = join(dir, 'labels.sqlite');
    LabelStore.open(path, { envId: 'toy-reach' }).close();
    const bytes = readFileSync(path);
    // The file itself, and a link to it under a .json name.
    const link = join(dir, 'ranking.json');
    symlinkSync(path, link);
    for (const out of [path, link]) {
      const r = await run(['serve', '--store', path, '--port', '0', '--token', 'a-long-enough-token', '--heron-out', out]);
      expect(r.code, r.err).toBe(2);
      expect(r.err).toMatch(exactly(`prefrl serve: --heron-out ${out}: is the label store itself (--store) or one of its files; give a .json file, such as ${join(dir, 'heron.json')}`));
    }
    expect(readFileSync(path).equals(bytes)).toBe(true);
  });
});

describe('files and folders this user may not read (mode 0000)', () => {
  const u = unprivileged();
  it.skipIf(u.skip !== null)(`label --store says why SQLite could not open it (it said only "unable to open database file"); run as ${u.who}`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fuzz-store-mode-'));
    const path = join(dir, 'labels.sqlite');
    LabelStore.open(path, { envId: 'toy-reach' }).close();
    chmodSync(path, 0o000);
    try {
      const r = await u.cli(['label', '--store', path, '--teacher', 'oracle', '--quiet']);
      expect(r.code, r.err).toBe(1);
      expect(r.err).toMatch(exactly(`prefrl label: label store ${path}: unable to open database file: this user may not read and write the file (EACCES) (SQLITE_CANTOPEN)`));
    } finally {
      chmodSync(path, 0o644);
    }
  });

  it.skipIf(u.skip !== null)(`plot: a run folder this user may not enter is named as such, not as "not a run folder (no metrics.jsonl)"; run as ${u.who}`, async () => {
    const run = join(mkdtempSync(join(tmpdir(), 'fuzz-plot-mode-')), 'run');
    mkdirSync(run);
    writeFileSync(join(run, 'metrics.jsonl'), '{"step":0,"eval/true_return":-3}\n');
    chmodSync(run, 0o000);
    try {
      const r = await u.cli(['plot', run, '--out', join(run, '..', 'curves.svg')]);
      expect(r.code, r.err).toBe(1);
      expect(r.err).toMatch(exactly(`prefrl plot: ${run}: cannot read this run folder: this user may not enter it (EACCES)`));
    } finally {
      chmodSync(run, 0o755);
    }
  });
});

describe('serve --insight: a whole reward model of another env', () => {
  /** A one-member reward model folder (hidden [2], obs-action input) for `obsDim` observations and 2 actions, weights all 0.1. */
  function rewardModel(dir: string, obsDim: number): string {
    mkdirSync(dir);
    const inputs = obsDim + 2;
    const tensors = [
      { name: 'member0/dense0/kernel', shape: [inputs, 2] },
      { name: 'member0/dense0/bias', shape: [2] },
      { name: 'member0/dense1/kernel', shape: [2, 1] },
      { name: 'member0/dense1/bias', shape: [1] },
    ];
    let offset = 0;
    const listed = tensors.map((t) => {
      const at = offset;
      offset += t.shape.reduce((a, b) => a * b, 1);
      return { ...t, offset: at };
    });
    const model = {
      format: 'prefrl-reward-net',
      version: 1,
      config: { input: 'obs-action', members: 1, hidden: [2], activation: 'leaky-relu', outputActivation: 'tanh', leakyAlpha: 0.01, preferenceModel: 'partial-return', ignoreObs: [], additive: false, obsDim, actDim: 2 },
      normalizer: { mean: new Array(inputs).fill(0), std: new Array(inputs).fill(1), clip: 10 },
      weights: { file: 'weights.bin', dtype: 'float32', byteOrder: 'little-endian', bytes: offset * 4, tensors: listed },
    };
    writeFileSync(join(dir, 'model.json'), JSON.stringify(model));
    writeFileSync(join(dir, 'weights.bin'), Buffer.from(new Float32Array(offset).fill(0.1).buffer));
    return dir;
  }

  it('is a usage error naming --insight (exit 2, as train and iql --reward model:<dir>), not exit 1 with the flag unnamed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fuzz-insight-'));
    const store = join(dir, 'labels.sqlite');
    LabelStore.open(store, { envId: 'toy-reach' }).close();
    const model = rewardModel(join(dir, 'reacher-model'), 10);
    const r = await run(['serve', '--store', store, '--port', '0', '--token', 'a-long-enough-token', '--insight', model, '--quiet']);
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(new RegExp(`(^|\\n)${escaped(`prefrl serve: --insight ${model}: the reward model takes 10 observation and 2 action values; toy-reach has 6 and 2`)}\\n$`));
  });
});

describe('VLM answer cache: a damaged entry', () => {
  it('is a miss (the request is sent again), not an answer whose missing counts or request fail where they are read', () => {
    const cache = new ResponseCache(join(mkdtempSync(join(tmpdir(), 'fuzz-vlm-entry-')), 'cache'));
    const entry = {
      format: CACHE_FORMAT,
      key: 'ab12cd',
      model: 'm',
      created: '2026-12-07T00:00:00.000Z',
      params: { maxTokens: 100 },
      prompt: [],
      text: '1',
      finishReason: 'stop',
      usage: { promptTokens: 10, completionTokens: 3 },
      servedModel: null,
    };
    cache.put(entry);
    expect(cache.get('ab12cd')?.usage).toEqual({ promptTokens: 10, completionTokens: 3 });
    const file = cache.pathOf('ab12cd');
    const damaged: [string, Record<string, unknown>][] = [
      ['no usage', { ...entry, usage: undefined }],
      ['usage null', { ...entry, usage: null }],
      ['usage counts as text', { ...entry, usage: { promptTokens: '10', completionTokens: 3 } }],
      ['params null', { ...entry, params: null }],
      ['finishReason a number', { ...entry, finishReason: 5 }],
    ];
    for (const [name, e] of damaged) {
      writeFileSync(file, JSON.stringify(e));
      expect(cache.get('ab12cd'), name).toBeUndefined();
    }
    for (const text of ['null', '[]', '{"format":']) {
      writeFileSync(file, text);
      expect(cache.get('ab12cd'), text).toBeUndefined();
    }
  });
});

describe('train --resume of a run whose artifacts/checkpoint is a file', () => {
  it('names it and leaves the run as it was (the resume dropped its metrics rows, then failed with mkdir\'s EEXIST)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fuzz-resume-ck-file-'));
    const runs = join(dir, 'runs');
    const first = await run(['train', '--env', 'toy-reach', '--reward', 'true', '--steps', '64', '--num-envs', '1', '--num-steps', '64', '--workers', '0', '--eval-every', '64', '--eval-episodes', '1', '--quiet', '--json', '--runs-dir', runs]);
    expect(first.code, first.err).toBe(0);
    const folder = join(runs, readdirSync(runs)[0]);
    // Unfinished (no summary), and a file where its checkpoint folder was.
    rmSync(join(folder, 'summary.json'));
    rmSync(join(folder, 'artifacts', 'checkpoint'), { recursive: true });
    writeFileSync(join(folder, 'artifacts', 'checkpoint'), 'not a folder');
    const metrics = readFileSync(join(folder, 'metrics.jsonl'), 'utf8');
    expect(metrics.trim().split('\n').length).toBeGreaterThan(1);
    const r = await run(['train', '--resume', folder, '--quiet']);
    expect(r.code, r.err).toBe(1);
    expect(r.err).toMatch(new RegExp(`(^|\\n)${escaped(`prefrl train: ${join(folder, 'artifacts', 'checkpoint')}: is a file, where the run keeps its checkpoint folder; move it away to resume (nothing in the run was changed)`)}\\n$`));
    expect(readFileSync(join(folder, 'metrics.jsonl'), 'utf8')).toBe(metrics);
  });
});
