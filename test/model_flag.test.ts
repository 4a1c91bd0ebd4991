// `--model path/to/robot.xml` (issue 2's spelling of a bring-your-own robot) on every command
// that takes --env and --task: the same run as --env path/to/robot.xml, and clear refusals.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { flags } from '../core/config.js';
import { main } from '../scripts/cli.js';
import { parseOrHelp } from '../scripts/command.js';
import { captureCli, lastJson } from './helpers/cli.js';

/** The command exits 2 with exactly `message` on stderr. */
async function expectUsageError(args: string[], message: string): Promise<void> {
  const c = captureCli();
  expect(await main([...args, '--runs-dir', join(root, 'refused')], c.ctx), args.join(' ')).toBe(2);
  expect(c.err.join('')).toBe(`${message}\n`);
}

const root = mkdtempSync(join(tmpdir(), 'prefrl-model-flag-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const arm = 'test/fixtures/byo/arm.xml';
const task = 'test/fixtures/byo/reach_task.mjs';
const spec = {
  command: 'prefrl x',
  summary: '',
  positionals: [{ name: 'rest', doc: '', required: false, variadic: true }],
  flags: { seed: flags.int({ doc: '', default: 0 }), env: flags.string({ doc: '', optional: true }), task: flags.string({ doc: '', optional: true }), json: flags.bool({ doc: '', default: false }) },
};

describe('--model path.xml', () => {
  it('rollout --model gives the same episodes as --env with the same path and seed', async () => {
    const returns: number[][] = [];
    for (const how of [['--model', arm], [`--model=${arm}`], ['--env', arm]]) {
      const c = captureCli();
      expect(await main(['rollout', ...how, '--task', task, '--episodes', '2', '--seed', '4', '--runs-dir', join(root, 'runs'), '--quiet', '--json'], c.ctx), c.err.join('')).toBe(0);
      const j = lastJson<{ returns: number[]; env: string; runDir: string }>(c.out);
      expect(j.env).toBe('custom:arm.xml');
      // The run folder is named after the model file, as train's are.
      expect(j.runDir).toMatch(/-rollout-arm\.xml(-\d+)?$/);
      returns.push(j.returns);
    }
    expect(returns[0]).toHaveLength(2);
    expect(returns[1]).toEqual(returns[0]);
    expect(returns[2]).toEqual(returns[0]);
  });

  it('is refused, naming --model, beside --env, twice, without a value, for a built-in id or a missing file', async () => {
    await expectUsageError(['rollout', '--model', arm, '--env', 'reacher'], 'prefrl rollout: --model and --env both name the env; give one (--model path/to/robot.xml is the same as --env path/to/robot.xml)');
    await expectUsageError(['train', '--model', arm, '--model', arm], 'prefrl train: flag --model given twice');
    await expectUsageError(['collect', '--model'], 'prefrl collect: flag --model needs a value');
    await expectUsageError(['collect', '--model', '--steps', '10'], 'prefrl collect: flag --model needs a value');
    await expectUsageError(['rollout', '--model', 'reacher'], 'prefrl rollout: --model: expected a path to an MJCF .xml file, got "reacher" (a built-in env goes with --env reacher)');
    await expectUsageError(['rollout', '--model', join(root, 'gone.xml')], `prefrl rollout: --model: model file ${JSON.stringify(join(root, 'gone.xml'))} not found`);
    // A command without --env and --task has no --model.
    await expectUsageError(['envs', '--model', arm], 'prefrl envs: unknown flag --model (see --help)');
  });

  it('parseOrHelp hands --model to the command as --env given in its place; arguments after -- and commands without --env and --task are left alone', () => {
    const io = captureCli().ctx.io;
    const p = parseOrHelp(['--seed', '1', '--model', arm, '--json'], spec, io);
    expect(p?.flags).toEqual({ seed: 1, env: arm, json: true });
    expect([...(p?.given ?? [])]).toEqual(['seed', 'env', 'json']);
    expect(parseOrHelp([`--model=${arm}`], spec, io)?.flags).toEqual({ seed: 0, env: arm, json: false });
    const after = parseOrHelp(['--env', 'reacher', '--', '--model', 'x'], spec, io);
    expect(after?.flags.env).toBe('reacher');
    expect(after?.positionals).toEqual(['--model', 'x']);
    expect(() => parseOrHelp(['--model', arm], { ...spec, flags: { env: spec.flags.env } }, io)).toThrow('prefrl x: unknown flag --model (see --help)');
  });

  it('--help of the commands that take it shows --model; others do not', async () => {
    for (const cmd of ['train', 'rollout', 'collect', 'label', 'offline', 'iql', 'render', 'reward', 'serve']) {
      const c = captureCli();
      expect(await main([...cmd.split(' '), '--help'], c.ctx)).toBe(0);
      expect(c.out.join(''), cmd).toContain('  --model S                      path to an MJCF .xml file (a bring-your-own robot): the same as --env path/to/robot.xml\n  --help');
    }
    const e = captureCli();
    expect(await main(['envs', '--help'], e.ctx)).toBe(0);
    expect(e.out.join('')).not.toContain('--model');
  });
});
