/**
 * An empty --resume (a script's "$RUN" with RUN unset) is a usage error: train used to read it
 * as "not resuming" and start a new run with the default settings (reacher, 300k steps).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { expectUsageError } from './helpers/cli.js';

describe('--resume ""', () => {
  it('train and offline refuse an empty --resume, naming the flag, and create no run folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prefrl-resume-empty-'));
    // With a tiny run's flags, so that reading "" as "not resuming" would finish a run (exit 0) at once.
    const tiny = ['--env', 'toy-reach', '--reward', 'true', '--steps', '64', '--num-envs', '1', '--num-steps', '64', '--workers', '0', '--eval-every', '64', '--eval-episodes', '1'];
    await expectUsageError(['train', '--resume', '', ...tiny], join(dir, 'train'), /^prefrl train: --resume: empty; name the train run folder to go on with \(runs\/<id>\)\n$/);
    await expectUsageError(['train', '--resume=  '], join(dir, 'train'), /^prefrl train: --resume: empty;/);
    await expectUsageError(['offline', '--resume', ''], join(dir, 'offline'), /^prefrl offline: --resume: empty; name the offline run folder to go on with \(runs\/<id>\)\n$/);
  });
});
