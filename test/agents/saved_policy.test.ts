/**
 * Saved policies acting in an env (agents/saved_policy.ts) and `prefrl rollout --policy <path>`:
 * PPO checkpoints and offline actors made by hand so that their actions are known, and every
 * path that holds no usable policy refused before a run folder exists.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ActorJson } from '../../agents/iql.js';
import { PpoPolicy } from '../../agents/ppo.js';
import { loadSavedPolicy } from '../../agents/saved_policy.js';
import { f32ToBase64 } from '../../agents/types.js';
import { InputError, UsageError } from '../../core/errors.js';
import { makeEnv } from '../../envs/registry.js';
import { loadTrajectories } from '../../envs/trajectory.js';
import { main } from '../../scripts/cli.js';
import { captureCli, expectUsageError, lastJson } from '../helpers/cli.js';

const TOY = { id: 'toy-reach' };

/**
 * A linear actor for toy-reach (6 observations, 2 actions in [-1, 1]) with zero weights and
 * biases atanh(0.5), atanh(-0.25): its action is tanh(bias) = (0.5, -0.25) for every observation.
 */
function linearActor(env = 'toy-reach', obsDim = 6): ActorJson {
  return {
    format: 'prefrl-offline-actor',
    version: 1,
    algo: 'iql',
    kind: 'deterministic',
    obsDim,
    actDim: 2,
    hidden: [],
    actLow: [-1, -1],
    actHigh: [1, 1],
    obsMean: new Array(obsDim).fill(0),
    obsStd: new Array(obsDim).fill(1),
    weights: [f32ToBase64(new Float32Array(obsDim * 2)), f32ToBase64(Float32Array.from([Math.atanh(0.5), Math.atanh(-0.25)]))],
    logStd: null,
    meta: { env: { id: env } },
  };
}

/** A PPO checkpoint folder for toy-reach whose parameters are all 0: mean action 0, log-std 0. */
function zeroPpo(dir: string, env = 'toy-reach'): string {
  mkdirSync(dir, { recursive: true });
  const p = new PpoPolicy(6, 2, [4]);
  writeFileSync(join(dir, 'policy.json'), JSON.stringify(p.toJSON()));
  writeFileSync(join(dir, 'checkpoint.json'), JSON.stringify({ env: { id: env } }));
  return dir;
}

function writeActor(dir: string, j: ActorJson): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'actor.json'), JSON.stringify(j));
  return dir;
}

async function toySpec() {
  const env = await makeEnv(TOY);
  const spec = env.spec;
  env.dispose();
  return spec;
}

describe('loadSavedPolicy', () => {
  it('acts with an offline actor: tanh of the bias for a zero-weight linear actor', async () => {
    const root = mkdtempSync(join(tmpdir(), 'saved-'));
    const spec = await toySpec();
    // The file, its folder and an iql run folder (artifacts/actor/) all name it.
    const run = join(root, 'iql-run');
    writeActor(join(run, 'artifacts', 'actor'), linearActor());
    for (const path of [join(run, 'artifacts', 'actor', 'actor.json'), join(run, 'artifacts', 'actor'), run]) {
      const s = loadSavedPolicy(path, spec);
      expect(s.algo).toBe('iql');
      expect(s.file).toBe(join(run, 'artifacts', 'actor', 'actor.json'));
      const a = s.policy(new Float32Array([0.3, -2, 1, 0, 5, 1]));
      expect(a[0]).toBeCloseTo(0.5, 6);
      expect(a[1]).toBeCloseTo(-0.25, 6);
    }
  });

  it('acts with a PPO checkpoint: the mean action, or seeded samples with stochastic', async () => {
    const root = mkdtempSync(join(tmpdir(), 'saved-'));
    const spec = await toySpec();
    const ck = zeroPpo(join(root, 'run', 'artifacts', 'checkpoint'));
    const obs = new Float32Array([1, 2, 3, 4, 5, 6]);
    for (const path of [join(root, 'run'), ck, join(ck, 'policy.json')]) {
      const s = loadSavedPolicy(path, spec);
      expect(s.algo).toBe('ppo');
      expect(s.stochastic).toBe(false);
      expect(Array.from(s.policy(obs))).toEqual([0, 0]);
    }
    const draw = (seed: number) => {
      const p = loadSavedPolicy(ck, spec, { stochastic: true, seed }).policy;
      return [...Array.from(p(obs)), ...Array.from(p(obs))];
    };
    const a = draw(3);
    expect(a.some((x) => x !== 0)).toBe(true);
    expect(draw(3)).toEqual(a);
    expect(draw(4)).not.toEqual(a);
  });

  it('refuses an observation of another size instead of acting on it (PPO: NaN actions, offline actor: part of it)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'saved-'));
    const spec = await toySpec();
    const ppo = loadSavedPolicy(zeroPpo(join(root, 'ppo')), spec);
    const noisy = loadSavedPolicy(join(root, 'ppo'), spec, { stochastic: true });
    const actor = loadSavedPolicy(writeActor(join(root, 'actor'), linearActor()), spec);
    expect(() => ppo.policy(new Float32Array(5))).toThrow(new RangeError('PPO policy: the observation has 5 values, the policy takes 6'));
    expect(() => noisy.policy(new Float32Array(7))).toThrow(new RangeError('PPO policy: the observation has 7 values, the policy takes 6'));
    expect(() => actor.policy(new Float32Array(10))).toThrow(new RangeError('iql actor: the observation has 10 values, the actor takes 6'));
    expect(Array.from(ppo.policy(new Float32Array(6)))).toEqual([0, 0]);
    rmSync(root, { recursive: true, force: true });
  });

  it('refuses paths without a usable policy, naming the flag or the file', async () => {
    const root = mkdtempSync(join(tmpdir(), 'saved-'));
    const spec = await toySpec();
    const fail = (path: string, o = {}): Error => {
      try {
        loadSavedPolicy(path, spec, o);
      } catch (e) {
        return e as Error;
      }
      throw new Error(`no error for ${path}`);
    };
    const missing = fail(join(root, 'nope'));
    expect(missing).toBeInstanceOf(UsageError);
    expect(missing.message).toBe(`--policy: "${join(root, 'nope')}" not found`);
    const empty = fail(root);
    expect(empty).toBeInstanceOf(UsageError);
    expect(empty.message).toMatch(/^--policy: ".*" holds no saved policy \(expected a PPO run folder/);
    // An offline run holds three actors: the message lists them.
    const off = join(root, 'offline-run');
    for (const a of ['bc', 'iql-learned', 'iql-true']) writeActor(join(off, 'artifacts', 'agents', a), linearActor());
    const many = fail(off, { flag: '--actor' });
    expect(many).toBeInstanceOf(UsageError);
    expect(many.message).toBe(`--actor: ${off} holds 3 actors; name one: ${['bc', 'iql-learned', 'iql-true'].map((a) => join(off, 'artifacts', 'agents', a)).join(', ')}`);
    // Trained on another env, or of the wrong size: the file is named.
    const other = writeActor(join(root, 'other'), linearActor('reacher'));
    const wrongEnv = fail(other);
    expect(wrongEnv).toBeInstanceOf(InputError);
    expect(wrongEnv.message).toBe(`${join(other, 'actor.json')} (meta.env): the actor was trained on env "reacher", not "toy-reach"`);
    const small = writeActor(join(root, 'small'), linearActor('toy-reach', 4));
    expect(fail(small).message).toBe(`${join(small, 'actor.json')} (obsDim): the actor takes 4 observations and gives 2 actions; env "toy-reach" has 6 and 2`);
    const ppoOther = zeroPpo(join(root, 'ppo-other'), 'reacher');
    expect(fail(ppoOther).message).toBe(`${join(ppoOther, 'checkpoint.json')} (env): the policy was trained on env "reacher", not "toy-reach"`);
    // An actor acts with its mean only.
    const stoch = fail(writeActor(join(root, 'mean-only'), linearActor()), { stochastic: true });
    expect(stoch).toBeInstanceOf(UsageError);
    expect(stoch.message).toMatch(/is an offline actor, which acts with its mean action only \(drop --stochastic\)$/);
    // A damaged policy file is an InputError naming it.
    const bad = join(root, 'bad');
    mkdirSync(bad);
    writeFileSync(join(bad, 'policy.json'), '{"obsDim": 6');
    const damaged = fail(bad);
    expect(damaged).toBeInstanceOf(InputError);
    expect(damaged.message).toMatch(/bad\/policy\.json: cannot read the policy: /);
  });
});

describe('prefrl rollout --policy', () => {
  it('records and scores a saved actor: every action is the one computed by hand', async () => {
    const root = mkdtempSync(join(tmpdir(), 'saved-'));
    const actor = writeActor(join(root, 'actor'), linearActor());
    const { ctx, out } = captureCli();
    expect(await main(['rollout', '--env', 'toy-reach', '--policy', actor, '--episodes', '2', '--runs-dir', join(root, 'runs'), '--json'], ctx)).toBe(0);
    const j = lastJson<{ policy: string; policyFile: string; episodes: number; returns: number[]; meanReturn: number; returnStd: number; meanSuccess: number | null; trajectories: string }>(out);
    expect(j.policy).toBe('iql');
    expect(j.policyFile).toBe(join(actor, 'actor.json'));
    expect(j.returns.length).toBe(2);
    expect(j.meanReturn).toBeCloseTo((j.returns[0] + j.returns[1]) / 2, 12);
    expect(j.returnStd).toBeCloseTo(Math.abs(j.returns[0] - j.returns[1]) / 2, 12);
    const trajs = loadTrajectories(j.trajectories);
    for (const t of trajs) {
      for (let i = 0; i < t.length; i++) {
        expect(t.actions[2 * i]).toBe(Math.fround(0.5));
        expect(t.actions[2 * i + 1]).toBe(Math.fround(-0.25));
      }
    }
    // Without --env the actor's own env (its metadata) is used; a PPO run's comes from checkpoint.json.
    const auto = captureCli();
    expect(await main(['rollout', '--policy', actor, '--episodes', '1', '--runs-dir', join(root, 'runs'), '--quiet', '--json'], auto.ctx)).toBe(0);
    expect(lastJson<{ env: string }>(auto.out).env).toBe('toy-reach');
    const ppo = captureCli();
    expect(await main(['rollout', '--policy', zeroPpo(join(root, 'ppo')), '--episodes', '1', '--runs-dir', join(root, 'runs'), '--quiet', '--json'], ppo.ctx)).toBe(0);
    expect(lastJson<{ env: string; policy: string }>(ppo.out)).toMatchObject({ env: 'toy-reach', policy: 'ppo' });
    // The run's summary.json holds the same numbers.
    const summary = JSON.parse(readFileSync(join(j.trajectories, '..', '..', '..', 'summary.json'), 'utf8')) as { returns: number[] };
    expect(summary.returns).toEqual(j.returns);
  });

  it('runs the "watch the agent" command that prefrl train prints', async () => {
    const root = mkdtempSync(join(tmpdir(), 'saved-'));
    const t = captureCli();
    expect(await main(['train', '--env', 'toy-reach', '--reward', 'true', '--steps', '2048', '--runs-dir', join(root, 'runs'), '--quiet'], t.ctx)).toBe(0);
    const line = t.out.join('').split('\n').find((l) => l.startsWith('watch the agent: '));
    expect(line).toMatch(/^watch the agent: prefrl rollout --env toy-reach --policy \S+-train-toy-reach\S* --episodes 5$/);
    const args = (line as string).replace('watch the agent: prefrl ', '').split(' ');
    const r = captureCli();
    expect(await main([...args, '--runs-dir', join(root, 'runs'), '--quiet', '--json'], r.ctx)).toBe(0);
    const j = lastJson<{ policy: string; episodes: number }>(r.out);
    expect(j).toMatchObject({ policy: 'ppo', episodes: 5 });
  });

  it('runs a policy of a bring-your-own model in that model without --env, and asks for --env when the model is gone', async () => {
    const root = mkdtempSync(join(tmpdir(), 'saved-'));
    const fixture = join(import.meta.dirname, '..', 'fixtures', 'byo');
    const model = join(root, 'arm', 'arm.xml');
    cpSync(fixture, join(root, 'arm'), { recursive: true });
    const t = captureCli();
    expect(await main(['train', '--env', model, '--reward', 'true', '--steps', '2048', '--runs-dir', join(root, 'runs'), '--quiet', '--json'], t.ctx), t.err.join('')).toBe(0);
    const { runDir } = lastJson<{ runDir: string }>(t.out);
    const r = captureCli();
    expect(await main(['rollout', '--policy', runDir, '--episodes', '1', '--runs-dir', join(root, 'runs'), '--quiet', '--json'], r.ctx), r.err.join('')).toBe(0);
    expect(lastJson<{ env: string; policy: string }>(r.out)).toMatchObject({ env: 'custom:arm.xml', policy: 'ppo' });
    rmSync(join(root, 'arm'), { recursive: true });
    await expectUsageError(['rollout', '--policy', runDir], join(root, 'none'), /--env: the policy was trained on a bring-your-own model \(.*arm\.xml\) that is not there; pass --env path\/to\/model\.xml/);
  }, 60_000);

  it('refuses a bad --policy or a misplaced --stochastic with exit 2 and no run folder', async () => {
    const root = mkdtempSync(join(tmpdir(), 'saved-'));
    await expectUsageError(['rollout', '--env', 'toy-reach', '--policy', join(root, 'missing')], join(root, 'runs1'), /--policy: ".*missing" not found/);
    await expectUsageError(['rollout', '--env', 'toy-reach', '--policy', root], join(root, 'runs2'), /--policy: ".*" holds no saved policy/);
    // A run folder of another command says which: a rollout run holds episodes, not a policy.
    const made = captureCli();
    expect(await main(['rollout', '--env', 'toy-reach', '--episodes', '1', '--runs-dir', join(root, 'runs'), '--quiet', '--json'], made.ctx)).toBe(0);
    const { runDir } = lastJson<{ runDir: string }>(made.out);
    await expectUsageError(['rollout', '--policy', runDir], join(root, 'runs4'), /^prefrl rollout: --policy: ".*rollout-toy-reach" is a `prefrl rollout` run folder, which holds no saved policy \(expected a PPO run folder/);
    await expectUsageError(['rollout', '--env', 'toy-reach', '--stochastic'], join(root, 'runs3'), /^prefrl rollout: --stochastic: only for a saved PPO policy/);
  });
});
