/**
 * `prefrl check-env` on a bring-your-own model says what the env is before its checks (the
 * default task's observation, each actuator's action bounds, dt, horizon, reward, goal), and an
 * unstable model's training run prints its unstable episodes a few times, not once each.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../scripts/cli.js';
import { captureCli, expectUsageError, lastJson, spawnCli } from '../helpers/cli.js';

const fixtures = join(import.meta.dirname, '..', 'fixtures');
const pendulum = join(fixtures, 'byo_pendulum', 'pendulum.xml');

describe('check-env on a bring-your-own model', () => {
  it('describes the env before the checks: observation, actions by actuator (unlimited ones marked), dt, horizon, reward, goal', async () => {
    const { ctx, out } = captureCli();
    expect(await main(['check-env', pendulum, '--steps', '20', '--resets', '2'], ctx)).toBe(0);
    const text = out.join('');
    const about = text.slice(0, text.indexOf('\n\n'));
    expect(about.split('\n')).toEqual([
      'custom:pendulum.xml (the default task: see README "Bring your own robot")',
      '  observation  2 values: qpos (1) then qvel (1), unbounded',
      '  action       3 values: torque [-2, 2], aim [-1, 1]*, spin [-3, 3]',
      '               * no ctrlrange in the model: actions are clipped to [-1, 1] (set ctrlrange on the actuator for other bounds)',
      // timestep 0.002 x frame skip 20 = 0.04 s; 1000 steps = 40 s
      '  dt           0.04 s per step, horizon 1000 steps (40 s)',
      '  reward       1 x forward_velocity (x velocity of the centre of mass of the first moving body and the bodies it carries, m/s)',
      '               - 0.1 x control_effort (sum of squared controls)',
      '  goal         Move the robot forward (in the +x direction) as fast as possible while using little control effort.',
    ]);
    expect(text.slice(about.length)).toMatch(/^\n\ncustom:pendulum\.xml: all checks passed\ncheck\s+result\s+detail\n/);
  });

  it('--json holds the spec with the actuator names and the task (null: the default task)', async () => {
    const { ctx, out } = captureCli();
    expect(await main(['check-env', pendulum, '--json', '--steps', '20', '--resets', '2'], ctx)).toBe(0);
    const j = lastJson<{ ok: boolean; spec: Record<string, unknown>; checks: Record<string, unknown> }>(out);
    expect(j.ok).toBe(true);
    expect(j.spec).toMatchObject({
      id: 'custom:pendulum.xml',
      obsDim: 2,
      actDim: 3,
      obsLow: ['-Infinity', '-Infinity'],
      actLow: [-2, -1, -3],
      actHigh: [2, 1, 3],
      actuators: ['torque', 'aim', 'spin'],
      task: null,
      nq: 1,
      nv: 1,
      horizon: 1000,
    });
    expect(j.spec.dt).toBeCloseTo(0.04, 12);
    expect(Object.keys(j.checks)).toHaveLength(7);
  });

  it('a built-in env is described too (no task line, actuator names from its model)', async () => {
    const { ctx, out } = captureCli();
    expect(await main(['check-env', 'reacher', '--steps', '20', '--resets', '2'], ctx)).toBe(0);
    const lines = out.join('').split('\n');
    expect(lines.slice(0, 3)).toEqual(['reacher', '  observation  10 values, unbounded', '  action       2 values: shoulder [-1, 1], elbow [-1, 1]']);
    expect(lines).toContain('  dt           0.02 s per step, horizon 200 steps (4 s)');
  });
});

describe('files given to the wrong flag', () => {
  it('--task given a folder or a model is a usage error naming the flag (exit 2); an <include>d file given as the model says to give the main one (exit 1)', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'byo-flags-'));
    const runs = join(tmp, 'runs');
    try {
      const robot = join(fixtures, 'byo_robot', 'robot.xml');
      const folder = join(fixtures, 'byo_robot', 'bodies');
      await expectUsageError(['rollout', '--model', robot, '--task', folder, '--episodes', '1'], runs, /^prefrl rollout: --task: "[^"]+bodies" is a folder; give the task module file itself \(\.js, \.mjs, \.cjs or \.ts\)\n$/);
      await expectUsageError(['train', '--model', robot, '--task', robot], runs, /^prefrl train: --task: "[^"]+robot\.xml" is not a task module: give a \.js, \.mjs, \.cjs or \.ts file \(an MJCF model goes with --env or --model\)\n$/);
      const { ctx, err } = captureCli();
      expect(await main(['check-env', join(folder, 'body.xml')], ctx)).toBe(1);
      expect(err.join('')).toMatch(/body\.xml: MuJoCo could not load the model: .*'mujocoinclude' \(this file is one a model <include>s; give the main model file, the one whose root element is <mujoco>\)\n$/);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('prefrl check-env --model', () => {
  it('checks the model as the <env> argument does; both, or neither, is a usage error (exit 2) naming them', async () => {
    const model = join(fixtures, 'byo', 'arm.xml');
    const a = captureCli();
    expect(await main(['check-env', '--model', model, '--steps', '10', '--resets', '2', '--json'], a.ctx), a.err.join('')).toBe(0);
    const b = captureCli();
    expect(await main(['check-env', model, '--steps', '10', '--resets', '2', '--json'], b.ctx), b.err.join('')).toBe(0);
    const [ja, jb] = [lastJson(a.out), lastJson(b.out)];
    expect(ja.env).toBe(jb.env);
    expect(Object.keys(ja.checks as object)).toEqual(Object.keys(jb.checks as object));
    for (const [args, message] of [
      [['check-env', 'reacher', '--model', model], `prefrl check-env: <env> reacher and --model ${model} both name the env; give one\n`],
      [['check-env'], 'prefrl check-env: missing argument <env> (an env id, or a path to an MJCF .xml file; --model path.xml is the same)\n'],
    ] as const) {
      const c = captureCli();
      expect(await main(args, c.ctx)).toBe(2);
      expect(c.err.join('')).toBe(message);
    }
  });
});

describe('an unstable model in training', () => {
  it('the envs of a run print three unstable-step warnings and then one note, not one per episode', async () => {
    const runs = mkdtempSync(join(tmpdir(), 'byo-unstable-'));
    try {
      // Every episode of this model goes unstable at its first step: 1024 steps are hundreds of episodes.
      const args = ['train', '--model', join(fixtures, 'byo', 'unstable.xml'), '--reward', 'true', '--steps', '1024', '--workers', '0', '--num-envs', '2', '--num-steps', '256', '--runs-dir', runs, '--quiet'];
      const { stderr, exited } = spawnCli(args);
      expect(await exited).toBe(0);
      const err = stderr();
      expect(err.match(/custom:unstable\.xml: simulation unstable at step/g)).toHaveLength(3);
      expect(err.match(/custom:unstable\.xml: the simulation went unstable again \(episode truncated\); further unstable steps of this thread's envs are not printed: a smaller <option timestep>/g)).toHaveLength(1);
    } finally {
      rmSync(runs, { recursive: true, force: true });
    }
  });

  it('a learned reward: no labels asked, and the warning says every episode ended within 2 steps (the model goes unstable at its first), not to give more --steps', async () => {
    const runs = mkdtempSync(join(tmpdir(), 'byo-unstable-learned-'));
    try {
      const c = captureCli();
      const args = ['train', '--model', join(fixtures, 'byo', 'unstable.xml'), '--teacher', 'oracle', '--labels', '10', '--steps', '1024', '--workers', '0', '--num-envs', '2', '--num-steps', '256', '--runs-dir', runs, '--quiet'];
      expect(await main(args, c.ctx)).toBe(0);
      expect(c.err.join('').split('\n').filter((l) => l.includes('no labels were asked'))).toEqual([
        "[prefrl] warn: no labels were asked: every episode of custom:unstable.xml ended within 2 env steps (its horizon is 1000; an unstable simulation ends them early too), shorter than --segment-length 50, so no segment could be cut, the reward model was never trained and PPO learned from an untrained one; give a --segment-length of at most 2",
      ]);
    } finally {
      rmSync(runs, { recursive: true, force: true });
    }
  });
});
