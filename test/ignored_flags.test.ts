// Flags a run would not read (the --human-* flags without the human teacher, the reward-model
// flags of a true-reward run, IQL's flags with --algo bc, ...): accepted, and named in one warning line.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../scripts/cli.js';
import { captureCli, lastJson } from './helpers/cli.js';

const root = mkdtempSync(join(tmpdir(), 'prefrl-ignored-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const runs = join(root, 'runs');

/** Run a command that succeeds; its warning lines (stderr lines tagged warn). */
async function warnings(args: string[]): Promise<{ warns: string[]; json: Record<string, unknown> }> {
  const c = captureCli();
  expect(await main([...args, '--runs-dir', runs, '--quiet', '--json'], c.ctx), c.err.join('')).toBe(0);
  return { warns: c.err.join('').split('\n').filter((l) => l.includes('warn:')), json: lastJson(c.out) };
}

const TINY_TRAIN = ['train', '--env', 'toy-reach', '--steps', '512', '--num-envs', '2', '--num-steps', '256', '--workers', '0', '--eval-every', '512', '--eval-episodes', '1'];

describe('ignored flags', () => {
  it('train --reward true names the preference, reward-model and --human-* flags it does not read (in the order given); without them, no warning', async () => {
    const a = await warnings([...TINY_TRAIN, '--reward', 'true', '--labels', '40', '--human-port', '9000', '--reward-epochs=2', '--no-reward-standardize', '--teacher', 'mistake']);
    expect(a.warns).toEqual(["[prefrl] warn: ignored --labels, --human-port, --reward-epochs, --reward-standardize, --teacher: --reward true learns from no teacher's labels"]);
    expect(a.json.labelsUsed).toBe(0);
    expect((await warnings([...TINY_TRAIN, '--reward', 'true'])).warns).toEqual([]);
  });

  it('train --reward true starts no tensor backend (PPO is plain TypeScript) and names a given --backend as ignored', async () => {
    const b = await warnings([...TINY_TRAIN, '--reward', 'true', '--backend', 'cpu']);
    expect(b.warns).toEqual(['[prefrl] warn: ignored --backend: the tensor backend serves a reward network, and --reward true has none (PPO runs in plain TypeScript)']);
    const c = captureCli();
    expect(await main([...TINY_TRAIN, '--reward', 'true', '--runs-dir', runs, '--json'], c.ctx), c.err.join('')).toBe(0);
    const info = c.err.join('').split('\n').filter((l) => l.includes('tensor backend'));
    expect(info).toEqual(['[prefrl] tensor backend: not started (--reward true has no reward network; PPO runs in plain TypeScript)']);
  });

  it('train with a synthetic teacher names the --human-* flags', async () => {
    const args = [...TINY_TRAIN, '--teacher', 'oracle', '--labels', '4', '--labels-per-round', '4', '--warmup-steps', '128', '--segment-length', '10', '--reward-epochs', '1'];
    const a = await warnings([...args, '--human-token', 'a-long-enough-token', '--human-overlap', '2']);
    // (The run is too short to ask for labels: it says so in a warning of its own.)
    expect(a.warns.filter((w) => w.includes('ignored'))).toEqual(["[prefrl] warn: ignored --human-token, --human-overlap: they set up the viewer of --teacher human; this run's teacher is oracle"]);
    expect(a.json.reward).toBe('learned');
  });

  it('train and offline with another teacher do not read an ignored --human-people file (a missing one is only named as ignored)', async () => {
    const missing = `@${join(root, 'no-such-people.txt')}`;
    const t = await warnings([...TINY_TRAIN, '--teacher', 'oracle', '--labels', '4', '--labels-per-round', '4', '--warmup-steps', '128', '--segment-length', '10', '--reward-epochs', '1', '--human-people', missing]);
    expect(t.warns.filter((w) => w.includes('ignored'))).toEqual(["[prefrl] warn: ignored --human-people: it sets up the viewer of --teacher human; this run's teacher is oracle"]);
    const c = await warnings(['collect', '--env', 'toy-reach', '--policy', 'random', '--steps', '200']);
    const o = await warnings(['offline', '--dataset', c.json.dataset as string, '--teacher', 'oracle', '--labels', '10', '--segment-length', '10', '--stage', 'pairs', '--human-people', missing]);
    expect(o.warns).toEqual(["[prefrl] warn: ignored --human-people: it sets up the viewer of --teacher human; this run's teacher is oracle"]);
  });

  it('collect and iql name the flags of the other policy or algorithm', async () => {
    const c = await warnings(['collect', '--env', 'toy-reach', '--policy', 'random', '--steps', '60', '--workers', '1', '--num-envs=2']);
    expect(c.warns).toEqual(['[prefrl] warn: ignored --num-envs, --workers: they set up the PPO run of --policy medium-replay; --policy random acts in one env']);
    const dataset = c.json.dataset as string;
    const bc = await warnings(['iql', '--dataset', dataset, '--algo', 'bc', '--updates', '5', '--eval-every', '5', '--eval-episodes', '1', '--hidden', '8', '--batch-size', '32', '--expectile', '0.9', '--actor', 'deterministic']);
    expect(bc.warns).toEqual(['[prefrl] warn: ignored --expectile, --actor: they set up IQL; behaviour cloning (--algo bc) has --bc-loss only']);
    // One flag: "it sets up", not "they set up".
    const one = await warnings(['iql', '--dataset', dataset, '--algo', 'bc', '--updates', '5', '--eval-every', '5', '--eval-episodes', '1', '--hidden', '8', '--batch-size', '32', '--expectile', '0.9']);
    expect(one.warns).toEqual(['[prefrl] warn: ignored --expectile: it sets up IQL; behaviour cloning (--algo bc) has --bc-loss only']);
    const iql = await warnings(['iql', '--dataset', dataset, '--updates', '5', '--eval-every', '5', '--eval-episodes', '1', '--hidden', '8', '--batch-size', '32', '--bc-loss', 'nll']);
    expect(iql.warns).toEqual(['[prefrl] warn: ignored --bc-loss: only for behaviour cloning (--algo bc)']);
  });

  it('render names --fps for a .png and --step for a video (here before Chromium, which is not there, is looked for)', async () => {
    const r = await warnings(['rollout', '--env', 'toy-reach', '--episodes', '1']);
    const episodes = r.json.runDir as string;
    for (const [out, flag, why] of [
      ['x.png', ['--fps', '10'], 'a .png shows one step'],
      ['x.mp4', ['--step', '3'], `${join(root, 'x.mp4')} is a video of every step (--step picks the step of a .png)`],
    ] as const) {
      const c = captureCli();
      expect(await main(['render', '--trajectories', episodes, '--out', join(root, out), ...flag, '--chromium', join(root, 'no-chromium'), '--quiet'], c.ctx)).toBe(1);
      expect(c.err.join('')).toBe(`[prefrl] warn: ignored ${flag[0]}: ${why}\n[prefrl] rendering episode 0 to ${join(root, out)}\nprefrl render: ${join(root, 'no-chromium')}: Chromium binary not found\n`);
    }
  });

  it('offline names the --human-* flags and the synthetic VLM\'s rates a run with another teacher does not read', async () => {
    const c = await warnings(['collect', '--env', 'toy-reach', '--policy', 'random', '--steps', '200']);
    const o = await warnings(['offline', '--dataset', c.json.dataset as string, '--teacher', 'oracle', '--labels', '10', '--segment-length', '10', '--stage', 'pairs', '--human-port', '0', '--error-rate', '0.3']);
    expect(o.warns).toEqual([
      "[prefrl] warn: ignored --human-port: it sets up the viewer of --teacher human; this run's teacher is oracle",
      "[prefrl] warn: ignored --error-rate: it sets the mistakes of --teacher synthetic-vlm; this run's teacher is oracle",
    ]);
  });
});
