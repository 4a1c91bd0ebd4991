/**
 * One flag name, one meaning: a flag that several commands take has the same type, default,
 * range and wording in each (scripts/commands/common_flags.ts and reward_flags.ts define them
 * once), and a difference that is deliberate says why in its doc. Read from the specs each
 * command's --help is made from, as docs/cli.md is. The two ranges that were loosened are run:
 * train with 17 reward-model members (refused as "> 16" before) and bench envs with a negative
 * --seed (refused as "< 0" before).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, initBackend } from '../core/backend.js';
import { type CommandSpec, type FlagDef, type FlagSpec, parseFlags } from '../core/config.js';
import { LOOP_REWARD_TRAIN_DEFAULTS } from '../reward/loop.js';
import { RewardNet } from '../reward/network.js';
import { TRAIN_DEFAULTS } from '../reward/train.js';
import { main } from '../scripts/cli.js';
import { allCommandHelp } from '../scripts/cli_reference.js';
import { codeVersion } from '../scripts/bench/code_version.js';
import { torchThreadCounts } from '../scripts/commands/bench_flags.js';
import { captureCli, lastJson } from './helpers/cli.js';

/** Every command's spec, by command name ("train", "bench envs", ...). */
let specs: Map<string, CommandSpec<FlagSpec>>;
const root = mkdtempSync(join(tmpdir(), 'prefrl-flags-'));

beforeAll(async () => {
  await initBackend('wasm');
  specs = new Map((await allCommandHelp()).map((h) => [h.command.name, h.spec]));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The definition of flag `key` in every command that has it, by command name. */
function defsOf(key: string): Map<string, FlagDef> {
  const out = new Map<string, FlagDef>();
  for (const [name, spec] of specs) if (key in spec.flags) out.set(name, spec.flags[key]);
  return out;
}

/** The spec of one command. */
function specOf(name: string): CommandSpec<FlagSpec> {
  const s = specs.get(name);
  if (!s) throw new Error(`no command ${name}`);
  return s;
}

/** `--<key> <value>` parsed by command `name`'s definition of that flag alone (its other flags may be required). */
function parseOne(name: string, key: string, value: string): unknown {
  const spec = specs.get(name);
  if (!spec) throw new Error(`no command ${name}`);
  const one = { command: spec.command, summary: '', flags: { [key]: spec.flags[key] } };
  return parseFlags([`--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, value], one).flags[key];
}

describe('common flags: one definition, one wording', () => {
  it('--json: a switch, off by default, worded alike in all 26 commands (what the object holds or when it comes after the common words)', () => {
    const defs = defsOf('json');
    expect(defs.size).toBe(26);
    for (const [name, d] of defs) {
      expect({ name, kind: d.kind, default: d.default }).toEqual({ name, kind: 'bool', default: false });
      expect(d.doc, name).toMatch(/^print one JSON summary object as the last line of stdout(, [a-z ]+)?(: .+)?$/);
    }
    expect(defs.get('train')?.doc).toBe('print one JSON summary object as the last line of stdout');
    expect(defs.get('bench envs')?.doc).toBe('print one JSON summary object as the last line of stdout, after the table');
    expect(defs.get('serve')?.doc).toBe('print one JSON summary object as the last line of stdout, when the server stops');
    expect(defs.get('plot')?.doc).toBe('print one JSON summary object as the last line of stdout: the curves');
    expect(defs.get('tensorboard')?.doc).toBe('print one JSON summary object as the last line of stdout: the files written');
  });

  it('--quiet: a switch, off by default, "no progress bars" everywhere', () => {
    const defs = defsOf('quiet');
    expect([...defs.keys()].sort()).toEqual(['bench envs', 'bench oracle', 'bench regret', 'collect', 'demo', 'iql', 'label', 'offline', 'pairs', 'render', 'reward', 'rollout', 'serve', 'tour', 'train']);
    for (const [name, d] of defs) {
      expect({ name, kind: d.kind, default: d.default }).toEqual({ name, kind: 'bool', default: false });
      expect(d.doc, name).toMatch(/^no progress bars( \(.+\))?$/);
    }
  });

  it('--seed: any integer (no min, negatives included), default 0, in every command; bench envs no longer refuses a negative seed', () => {
    const defs = defsOf('seed');
    expect(defs.size).toBe(15);
    for (const [name, d] of defs) {
      expect({ name, kind: d.kind, default: d.default, min: (d as { min?: number }).min, max: (d as { max?: number }).max }).toEqual({ name, kind: 'int', default: 0, min: undefined, max: undefined });
      expect(d.doc, name).toMatch(/^seed( \(.+\))?$/);
      expect(parseOne(name, 'seed', '-3')).toBe(-3);
    }
  });

  it('--task, --runs-dir (of the commands that make run folders) and --store start with the same words in every command', () => {
    for (const [name, d] of defsOf('task')) {
      expect(d.optional, name).toBe(true);
      expect(d.doc, name).toMatch(/^task module \(\.js\/\.mjs\/\.cjs\/\.ts\) for a bring-your-own model( \(with --env\))?$/);
    }
    expect(defsOf('task').get('serve')?.doc).toBe('task module (.js/.mjs/.cjs/.ts) for a bring-your-own model');
    const runsDir = defsOf('runsDir');
    for (const name of ['demo', 'tour', 'rollout', 'train', 'collect', 'iql', 'offline', 'reward']) {
      expect(runsDir.get(name), name).toEqual({ kind: 'string', doc: 'where run folders are created', default: 'runs' });
    }
    const stores = defsOf('store');
    expect(stores.size).toBe(8);
    for (const [name, d] of stores) expect(d.doc, name).toMatch(/^label store \(SQLite file, e\.g\. runs\/<id>\/labels\.sqlite\) [a-z]/);
  });

  it('--backend: auto in the commands that train; wasm in bench reward and bench agents, whose doc says why', () => {
    for (const [name, d] of defsOf('backend')) {
      expect(d.kind, name).toBe('choice');
      expect((d as { choices: readonly string[] }).choices, name).toEqual(BACKENDS);
      expect(d.doc, name).toMatch(/^TensorFlow\.js backend/);
      if (name.startsWith('bench ')) {
        expect(d.default, name).toBe('wasm');
        expect(d.doc, name).toContain('wasm, not auto as elsewhere: the committed results and their comparison with PyTorch are the WASM backend');
      } else expect(d.default, name).toBe('auto');
    }
    expect([...defsOf('backend').keys()].sort()).toEqual(['bench agents', 'bench reward', 'iql', 'offline', 'reward', 'train']);
  });

  it('every flag doc starts in lower case unless its first word is a name (PPO, IQL, HDF5, TensorFlow.js, Python, Adam, ...)', () => {
    const names = new Set(['Adam', 'Chromium', 'Python']);
    const bad: string[] = [];
    for (const [cmd, spec] of specs) {
      for (const [key, d] of Object.entries(spec.flags)) {
        const first = d.doc.split(/[\s(:,;]/)[0];
        // A word with a second capital or a digit (PPO, HDF5, JSONL, L2, TensorFlow.js) is a name.
        if (/^[a-z]/.test(first) || /^[A-Z].*[A-Z0-9]/.test(first) || names.has(first)) continue;
        bad.push(`${cmd} ${key}: ${d.doc.slice(0, 40)}`);
      }
    }
    expect(bad).toEqual([]);
  });
});

describe('the same reward-model flag in train, offline and reward', () => {
  it('--reward-members: one definition, at least 1 and no upper bound (RewardNet takes any count; train stopped at 16 before)', () => {
    const defs = defsOf('rewardMembers');
    expect([...defs.keys()].sort()).toEqual(['offline', 'reward', 'train']);
    const train = defs.get('train');
    for (const d of defs.values()) expect(d).toBe(train);
    expect(train).toEqual({ kind: 'int', doc: 'reward model: ensemble members', default: 3, min: 1 });
    for (const name of defs.keys()) {
      expect(parseOne(name, 'rewardMembers', '17')).toBe(17);
      expect(() => parseOne(name, 'rewardMembers', '0')).toThrow(`prefrl ${name}: --reward-members: must be >= 1, got 0`);
    }
  });

  it('--preference-model and --reward-hidden: one definition each in train, offline and reward; demo takes --env, --labels-per-round and --reward-epochs as train does', () => {
    for (const key of ['preferenceModel', 'rewardHidden']) {
      const defs = defsOf(key);
      expect([...defs.keys()].sort(), key).toEqual(['offline', 'reward', 'train']);
      for (const d of defs.values()) expect(d, key).toBe(defs.get('train'));
    }
    expect(defsOf('preferenceModel').get('train')?.default).toBe('partial-return');
    expect(defsOf('rewardHidden').get('train')?.default).toEqual(['256', '256']);
    for (const key of ['env', 'labelsPerRound', 'rewardEpochs']) expect(specOf('demo').flags[key], key).toBe(specOf('train').flags[key]);
    expect(specOf('demo').flags.rewardEpochs.default).toBe(LOOP_REWARD_TRAIN_DEFAULTS.epochs);
    // demo's own budget keeps its default (500) and takes train's wording.
    expect(specOf('demo').flags.labels).toEqual({ kind: 'int', doc: specOf('train').flags.labels.doc, default: 500, min: 1 });
  });

  it('--segment-length: at least 1 in offline and pairs, 2 in train (the minimum of runPreferenceLoop, reward/loop.ts), whose doc says so', () => {
    const defs = defsOf('segmentLength');
    expect((defs.get('offline') as { min?: number }).min).toBe(1);
    expect((defs.get('pairs') as { min?: number }).min).toBe(1);
    expect((defs.get('train') as { min?: number }).min).toBe(2);
    expect(defs.get('train')?.doc).toBe("steps per segment (at least 2, the online loop's minimum; prefrl offline and pairs take 1-step segments too)");
    expect(() => parseOne('train', 'segmentLength', '1')).toThrow('prefrl train: --segment-length: must be >= 2, got 1');
  });

  it("--reward-patience: train's default (3, per round) and offline's and reward's (5) are unchanged, and train's doc names both", () => {
    const defs = defsOf('rewardPatience');
    expect(LOOP_REWARD_TRAIN_DEFAULTS.patience).toBe(3);
    expect(TRAIN_DEFAULTS.patience).toBe(5);
    expect(defs.get('train')?.default).toBe(3);
    expect(defs.get('offline')?.default).toBe(5);
    expect(defs.get('reward')?.default).toBe(5);
    expect(defs.get('train')?.doc).toContain("(3 by default here, where each round continues from the last round's weights; offline and reward, which train once, default to 5)");
  });

  it("--reward-select-inputs: a switch in offline, whose doc points to train's list of label counts", () => {
    expect(defsOf('rewardSelectInputs').get('train')?.kind).toBe('list');
    const offline = defsOf('rewardSelectInputs').get('offline');
    expect(offline?.kind).toBe('bool');
    expect(offline?.doc).toContain("A switch here, as offline trains once on all its labels; prefrl train's --reward-select-inputs takes the label counts to select at");
  });
});

describe('flags that several bench subcommands take', () => {
  const BENCH = ['bench agents', 'bench envs', 'bench oracle', 'bench regret', 'bench reward'];
  /** Exit 2 with one stderr line matching `message` (these commands make no run folder). */
  const refused = async (args: readonly string[], message: RegExp): Promise<void> => {
    const { ctx, err } = captureCli();
    expect(await main(args, ctx), args.join(' ')).toBe(2);
    expect(err.join('').trim()).toMatch(message);
  };
  /** Flags (camelCase keys) that two or more bench subcommands take, with their definitions. */
  const shared = (): Map<string, Map<string, FlagDef>> => {
    const out = new Map<string, Map<string, FlagDef>>();
    for (const name of BENCH) {
      for (const [key, d] of Object.entries(specOf(name).flags)) {
        const m = out.get(key) ?? new Map<string, FlagDef>();
        m.set(name, d);
        out.set(key, m);
      }
    }
    return new Map([...out].filter(([, m]) => m.size > 1));
  };

  it('every shared flag has one kind, one lower bound and one upper bound in every bench subcommand', () => {
    const keys = [...shared().keys()].sort();
    expect(keys).toEqual(['actDim', 'backend', 'envs', 'json', 'obsDim', 'out', 'python', 'quiet', 'repeats', 'seed', 'seeds', 'torch', 'torchThreads']);
    const bad: string[] = [];
    const bounds = (d: FlagDef) => d as { min?: number; max?: number };
    for (const [key, defs] of shared()) {
      const kinds = new Set([...defs.values()].map((d) => d.kind));
      const mins = new Set([...defs.values()].map((d) => bounds(d).min));
      const maxes = new Set([...defs.values()].map((d) => bounds(d).max));
      if (kinds.size > 1 || mins.size > 1 || maxes.size > 1) bad.push(`${key}: ${[...defs].map(([n, d]) => `${n} ${d.kind} min ${bounds(d).min} max ${bounds(d).max}`).join(', ')}`);
    }
    expect(bad).toEqual([]);
  });

  it('count flags (timed repeats, warm-up runs, seeds): repeats and seeds at least 1, warm-ups at least 0, repeats and warm-ups uncapped, seeds at most 100 (bench envs stopped at 50 repeats before); worded alike', () => {
    const counts: string[] = [];
    for (const name of BENCH) {
      for (const [key, d] of Object.entries(specOf(name).flags)) {
        const b = d as { min?: number; max?: number };
        if (/^repeats$|Repeats$/.test(key)) {
          counts.push(`${name} ${key}`);
          expect({ key, kind: d.kind, min: b.min, max: b.max }).toEqual({ key, kind: 'int', min: 1, max: undefined });
          expect(d.doc, `${name} ${key}`).toMatch(/^timed [a-zA-Z ]+ \(the median is reported(; .+)?\)$/);
        } else if (/^warmup$|Warmup$/.test(key)) {
          counts.push(`${name} ${key}`);
          expect({ key, kind: d.kind, min: b.min, max: b.max }).toEqual({ key, kind: 'int', min: 0, max: undefined });
          expect(d.doc, `${name} ${key}`).toMatch(/^untimed [a-zA-Z ]+ before timing$/);
        } else if (key === 'seeds') {
          counts.push(`${name} ${key}`);
          // Seeds are capped (bench oracle lists every cell first): test/bench_seeds_cap.test.ts.
          expect({ key, kind: d.kind, min: b.min, max: b.max }).toEqual({ key, kind: 'int', min: 1, max: 100 });
          expect(d.doc, `${name} ${key}`).toMatch(/^seeds 0\.\.seeds-1 per /);
        }
      }
    }
    expect(counts.sort()).toEqual([
      'bench agents iqlRepeats', 'bench agents iqlWarmup', 'bench agents ppoRepeats', 'bench agents ppoWarmup',
      'bench envs repeats', 'bench oracle seeds', 'bench regret seeds', 'bench reward repeats', 'bench reward warmup',
    ]);
    expect(parseOne('bench envs', 'repeats', '51')).toBe(51);
    expect(parseOne('bench envs', 'repeats', '1_000')).toBe(1000);
  });

  it('a count out of range is refused (exit 2) in one line naming the flag, the same words in every bench subcommand', async () => {
    await refused(['bench', 'envs', '--no-native', '--repeats', '0'], /^prefrl bench envs: --repeats: must be >= 1, got 0$/);
    await refused(['bench', 'reward', '--no-torch', '--repeats', '0'], /^prefrl bench reward: --repeats: must be >= 1, got 0$/);
    await refused(['bench', 'reward', '--no-torch', '--warmup', '-1'], /^prefrl bench reward: --warmup: must be >= 0, got -1$/);
    await refused(['bench', 'agents', '--no-torch', '--ppo-repeats', '0'], /^prefrl bench agents: --ppo-repeats: must be >= 1, got 0$/);
    await refused(['bench', 'agents', '--no-torch', '--iql-warmup', '2.5'], /^prefrl bench agents: --iql-warmup: expected an integer, got "2\.5"$/);
    await refused(['bench', 'oracle', '--suite', 'smoke', '--seeds', '0', '--dry-run'], /^prefrl bench oracle: --seeds: must be >= 1, got 0$/);
    await refused(['bench', 'regret', '--seeds', '0', '--no-write'], /^prefrl bench regret: --seeds: must be >= 1, got 0$/);
    await refused(['bench', 'regret', '--steps', '0', '--no-write'], /^prefrl bench regret: --steps: must be >= 1, got 0$/);
    await refused(['bench', 'regret', '--budgets', '100,0', '--no-write'], /^prefrl bench regret: --budgets: expected positive integers separated by commas, got "100,0"$/);
  });

  it('--out: a scratch folder under runs/ by default where a command writes results unasked (bench oracle, bench regret), none where it writes only when asked (bench reward, bench agents); bench envs writes no files', () => {
    const outs = defsOf('out');
    const scratch = /; the default is a scratch folder \(git-ignored\): committed results in benchmarks\/results are replaced only when --out names them$/;
    for (const name of ['bench oracle', 'bench regret']) {
      const d = outs.get(name) as FlagDef & { default?: string };
      expect(d.default, name).toMatch(/^runs\//);
      expect(d.doc, name).toMatch(scratch);
    }
    expect(outs.get('bench oracle')?.default).toBe('runs/bench-oracle');
    expect(outs.get('bench oracle')?.default).toBe(specOf('bench oracle').flags.runsDir.default);
    expect(outs.get('bench regret')?.default).toBe('runs/bench-regret');
    for (const name of ['bench reward', 'bench agents']) {
      expect(outs.get(name)?.default, name).toBeUndefined();
      expect(outs.get(name)?.optional, name).toBe(true);
      expect(outs.get(name)?.defaultDoc, name).toBe('none: the results are printed, not written');
    }
    expect(outs.has('bench envs')).toBe(false);
  });

  it('--torch, --python, --obs-dim and --act-dim are one definition in bench agents and bench reward; --torch-threads one type and wording, the default of each named', () => {
    for (const key of ['torch', 'python', 'actDim']) expect(specOf('bench reward').flags[key], key).toBe(specOf('bench agents').flags[key]);
    expect(specOf('bench agents').flags.obsDim).toEqual({ kind: 'int', doc: 'observation size', default: 17, min: 1 });
    expect(specOf('bench reward').flags.obsDim).toEqual({ kind: 'int', doc: 'observation size (input = obs + action)', default: 17, min: 1 });
    const agents = specOf('bench agents').flags.torchThreads;
    const reward = specOf('bench reward').flags.torchThreads;
    expect(agents).toEqual({ kind: 'list', doc: 'torch.set_num_threads values: the PyTorch reference runs once per value', defaultDoc: '1,<number of CPUs>', optional: true });
    expect(reward).toEqual({ ...agents, defaultDoc: "number of CPUs, not bench agents' 1,<number of CPUs>: the committed reward.md compares with PyTorch on every CPU" });
  });

  it('--torch-threads: the same parse (duplicates dropped) and the same refusal in both commands, also with --no-torch', async () => {
    expect(torchThreadCounts(['1', '4', '1'], 'all CPUs')).toEqual([1, 4]);
    expect(torchThreadCounts(['1_000'], 'all CPUs')).toEqual([1000]);
    expect(() => torchThreadCounts(['1', 'zero'], 'all CPUs')).toThrow('--torch-threads: expected positive integers separated by commas, got "1,zero"');
    expect(() => torchThreadCounts(['0'], 'one and all CPUs')).toThrow('--torch-threads: expected positive integers separated by commas, got "0"');
    for (const cmd of ['agents', 'reward']) {
      await refused(['bench', cmd, '--no-torch', '--torch-threads', '2,0'], /^prefrl bench (agents|reward): --torch-threads: expected positive integers separated by commas, got "2,0"$/);
    }
  });

  it('--warmup counts untimed steps (bench reward); bench envs\' warm-up in seconds is --warmup-seconds, and its old spelling is refused naming the new one', async () => {
    const warmups = defsOf('warmup');
    expect([...warmups.keys()]).toEqual(['bench reward']);
    expect(warmups.get('bench reward')).toEqual({ kind: 'int', doc: 'untimed steps before timing', default: 2, min: 0 });
    expect(specOf('bench envs').flags.warmupSeconds).toEqual({ kind: 'float', doc: 'untimed seconds before timing each env and each vec env (V8 tier-up)', default: 1.5, min: 0, max: 60 });
    for (const old of [['--warmup', '1'], ['--warmup=1']]) {
      await refused(['bench', 'envs', '--no-native', ...old], /^prefrl bench envs: --warmup: bench envs takes --warmup-seconds \(untimed seconds before timing; in bench reward --warmup counts untimed steps\)$/);
    }
  });

  it('--envs with no env: the same words in bench envs and bench oracle', async () => {
    await refused(['bench', 'envs', '--envs', '', '--no-native'], /^prefrl bench envs: --envs: name at least one env \(or leave --envs out for every built-in MuJoCo env\)$/);
    await refused(['bench', 'oracle', '--suite', 'smoke', '--envs', '', '--dry-run'], /^prefrl bench oracle: --envs: name at least one env \(or leave --envs out for all of the suite's\)$/);
  });
});

describe('the loosened ranges, run', () => {
  it('train --reward-members 17 runs and saves a reward model of 17 members', async () => {
    const { ctx, out } = captureCli();
    const args = [
      'train', '--env', 'toy-reach', '--steps', '1024', '--num-envs', '2', '--num-steps', '128', '--workers', '0', '--warmup-steps', '256', '--eval-every', '4096', '--eval-episodes', '1',
      '--labels', '20', '--labels-per-round', '10', '--feedback-every', '256', '--reward-members', '17', '--reward-hidden', '4', '--reward-epochs', '1',
      '--runs-dir', join(root, 'runs'), '--name', 'members17', '--quiet', '--json',
    ];
    expect(await main(args, ctx)).toBe(0);
    const runDir = lastJson<{ runDir: string }>(out).runDir;
    const config = JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(JSON.stringify(config)).toContain('"rewardMembers":17');
    const modelDir = join(runDir, 'artifacts', 'reward_model');
    expect(existsSync(modelDir)).toBe(true);
    const net = RewardNet.load(modelDir);
    try {
      expect(net.members).toBe(17);
    } finally {
      net.dispose();
    }
  }, 60_000);

  it('bench envs --seed -1 runs (it was refused as below 0)', async () => {
    const { ctx, out } = captureCli();
    const args = ['bench', 'envs', '--envs', 'reacher', '--no-native', '--duration', '0.05', '--warmup-seconds', '0', '--repeats', '1', '--vec-envs', '2', '--seed', '-1', '--quiet', '--json'];
    expect(await main(args, ctx)).toBe(0);
    const res = lastJson<{ envs: { id: string; stepsPerSec: number }[]; software: { prefrl: string; mujoco: string } }>(out);
    expect(res.envs.map((e) => e.id)).toEqual(['reacher']);
    // The code that was timed, as bench reward, agents and oracle cells record it.
    expect(res.software).toEqual(codeVersion());
    expect(res.envs[0].stepsPerSec).toBeGreaterThan(0);
  }, 60_000);
});
