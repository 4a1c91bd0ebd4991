/**
 * `prefrl train --teacher regret --expert <folder>`: a folder that is not a PPO run on the env's
 * own reward is refused before any work, with one line naming --expert, what the folder is and
 * what is needed. The run folders here are hand-made (config.json as each command writes it).
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { expertCheckpoint } from '../../scripts/commands/train.js';
import { expectUsageError } from '../helpers/cli.js';

const TINY = ['--env', 'toy-reach', '--steps', '512', '--num-envs', '1', '--num-steps', '256', '--workers', '0', '--labels', '20', '--teacher', 'regret'];
const NEED = 'the regret teacher needs V\\* from the critic of a `prefrl train` PPO run on env "toy-reach" \\(e.g. prefrl train --env toy-reach --reward true\\)';

let dir = '';
/** A folder under `dir` holding config.json with `config`, and `files` (relative path -> text). */
function runFolder(name: string, config: Record<string, unknown>, files: Record<string, string> = {}): string {
  const d = join(dir, name);
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'config.json'), JSON.stringify(config));
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(join(d, rel, '..'), { recursive: true });
    writeFileSync(join(d, rel), text);
  }
  return d;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'prefrl-expert-'));
});

describe('--expert that is not a PPO run on the env reward', () => {
  it('an iql run, a bc run, a rollout run and a collect run each say which command made them', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ command: 'iql', algo: 'iql', reward: 'true' }, 'is a `prefrl iql` run \\(IQL: an offline actor, no PPO critic\\)'],
      [{ command: 'iql', algo: 'bc', reward: 'true' }, 'is a `prefrl iql` run \\(behaviour cloning: an offline actor, no PPO critic\\)'],
      [{ command: 'rollout', envConfig: { id: 'toy-reach' } }, 'is a `prefrl rollout` run, not a PPO run'],
      [{ command: 'collect', policy: 'random' }, 'is a `prefrl collect` run, not a PPO run'],
    ];
    for (const [i, [config, what]] of cases.entries()) {
      const folder = runFolder(`other-${i}`, config);
      await expectUsageError(['train', ...TINY, '--expert', folder], join(dir, 'never'), new RegExp(`^prefrl train: --expert: ${folder} ${what}; ${NEED}\\n$`));
    }
  });

  it('a train run on a learned reward or re-weighted terms is refused: its critic is not V* of the env reward', async () => {
    const ck = { 'artifacts/checkpoint/checkpoint.json': '{}' };
    const learned = runFolder('learned', { command: 'train', reward: 'learned', rewardWeights: [] }, ck);
    await expectUsageError(['train', ...TINY, '--expert', learned], join(dir, 'never'), /--expert: .*learned is a `prefrl train` run whose PPO learned another reward than the env's \(--reward learned\), so its critic is not V\* of the rewards the regret teacher sums; /);
    // Stopped before its first checkpoint, it is still the wrong reward: that is what is said.
    const learnedEarly = runFolder('learned-early', { command: 'train', reward: 'learned', rewardWeights: [] });
    await expectUsageError(['train', ...TINY, '--expert', learnedEarly], join(dir, 'never'), /--expert: .*learned-early is a `prefrl train` run whose PPO learned another reward than the env's \(--reward learned\)/);
    const weighted = runFolder('weighted', { command: 'train', reward: 'true', rewardWeights: ['at_goal=0'] }, ck);
    await expectUsageError(['train', ...TINY, '--expert', weighted], join(dir, 'never'), /--expert: .*weighted is a `prefrl train` run whose PPO learned another reward than the env's \(--reward-weights at_goal=0\)/);
  });

  it('a train run stopped before its first checkpoint points to --resume', async () => {
    const early = runFolder('early', { command: 'train', reward: 'true', rewardWeights: [] });
    await expectUsageError(['train', ...TINY, '--expert', early], join(dir, 'never'), new RegExp(`--expert: ${early} is a \`prefrl train\` run stopped before its first checkpoint \\(every --eval-every steps\\): go on with prefrl train --resume ${early}, or give another; `));
  });

  it('a missing path, a plain folder and a file that is not .json name the flag', async () => {
    const plain = join(dir, 'plain');
    mkdirSync(plain);
    const h5 = join(dir, 'data.h5');
    writeFileSync(h5, '');
    await expectUsageError(['train', ...TINY, '--expert', join(dir, 'gone')], join(dir, 'never'), new RegExp(`^prefrl train: --expert: "${dir}/gone" not found; ${NEED}`));
    await expectUsageError(['train', ...TINY, '--expert', plain], join(dir, 'never'), /--expert: .*plain is neither a prefrl run folder \(no config.json\) nor a PPO checkpoint folder \(no checkpoint.json\)/);
    await expectUsageError(['train', ...TINY, '--expert', h5], join(dir, 'never'), /--expert: .*data.h5 is a file, not a PPO run folder or checkpoint.json/);
  });

  it('what is accepted: a true-reward train run (its artifacts/checkpoint), a checkpoint folder, a checkpoint.json', () => {
    const good = runFolder('good', { command: 'train', reward: 'true', rewardWeights: [] }, { 'artifacts/checkpoint/checkpoint.json': '{}' });
    expect(expertCheckpoint(good, { id: 'toy-reach' })).toBe(join(good, 'artifacts', 'checkpoint'));
    expect(expertCheckpoint(join(good, 'artifacts', 'checkpoint'), { id: 'toy-reach' })).toBe(join(good, 'artifacts', 'checkpoint'));
    const file = join(good, 'artifacts', 'checkpoint', 'checkpoint.json');
    expect(expertCheckpoint(file, { id: 'toy-reach' })).toBe(file);
    // A train config that does not record its reward (say, an older run's) is not refused for it.
    const unsaid = runFolder('unsaid', { command: 'train' }, { 'artifacts/checkpoint/checkpoint.json': '{}' });
    expect(expertCheckpoint(unsaid, { id: 'toy-reach' })).toBe(join(unsaid, 'artifacts', 'checkpoint'));
  });
});
