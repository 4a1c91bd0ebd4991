/**
 * `prefrl train --teacher heron:<file>` reads the file by path, on resume too: a file changed
 * between stop and resume would label the rest of the budget by another ranking under the same
 * teacher id. The levels are kept with the labels, and a resume with a changed file is refused.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../core/backend.js';
import { LabelStore } from '../../reward/store.js';
import { main } from '../../scripts/cli.js';
import { captureCli } from '../helpers/cli.js';

beforeAll(async () => {
  await initBackend('wasm');
});

const RUN = ['--env', 'toy-reach', '--steps', '1024', '--num-envs', '1', '--num-steps', '256', '--workers', '0', '--warmup-steps', '256', '--feedback-every', '256', '--labels', '20', '--labels-per-round', '10', '--segment-length', '10'];
const SMALL = ['--eval-every', '100000', '--eval-episodes', '1', '--reward-epochs', '1', '--reward-hidden', '8', '--reward-members', '1', '--quiet'];

describe('train --teacher heron:<file> and --resume', () => {
  it('stores the levels with the teacher; a resume after the file changed is refused naming it, and goes on once it is restored', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prefrl-heron-resume-'));
    const file = join(dir, 'heron.json');
    const first = JSON.stringify({ ranking: ['goal_distance', 'at_goal'], margins: [0.5, 0.5] });
    writeFileSync(file, first);
    const runs = join(dir, 'runs');
    const c = captureCli();
    expect(await main(['train', ...RUN, ...SMALL, '--teacher', `heron:${file}`, '--runs-dir', runs], c.ctx), c.err.join('')).toBe(0);
    const run = join(runs, readdirSync(runs)[0]);
    const store = LabelStore.open(join(run, 'labels.sqlite'), { create: false });
    try {
      // toy-reach's terms: goal_distance (index 0, weight -1: lower is better), at_goal (index 2, weight 0.5).
      expect(store.teachers()[0].config.heronLevels).toEqual([
        { term: 'goal_distance', index: 0, margin: 0.5, sign: -1 },
        { term: 'at_goal', index: 2, margin: 0.5, sign: 1 },
      ]);
    } finally {
      store.close();
    }
    // Make the finished run resumable again (the checkpoint stays at its last step), then change the file.
    rmSync(join(run, 'summary.json'));
    writeFileSync(file, JSON.stringify({ ranking: ['control_effort'], margins: [0] }));
    const changed = captureCli();
    expect(await main(['train', '--resume', run, '--quiet'], changed.ctx)).toBe(1);
    expect(changed.err.join('')).toContain(`prefrl train: ${file}: HERON config changed since the run started: its labels so far follow the levels stored with them in ${join(run, 'labels.sqlite')}`);
    expect(changed.err.join('')).toContain('this file gives [{"term":"control_effort","index":1,"margin":0,"sign":-1}]; restore it to go on\n');
    writeFileSync(file, first);
    const restored = captureCli();
    expect(await main(['train', '--resume', run, '--quiet'], restored.ctx), restored.err.join('')).toBe(0);
  }, 60_000);
});
