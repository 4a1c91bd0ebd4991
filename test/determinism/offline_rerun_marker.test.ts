/**
 * A stage of `prefrl offline` that runs again over outputs of its own (--force, or the label
 * stage reopened for the human teacher's timed-out pairs) is marked in <run>/rerunning.json until
 * the outputs of the stages after it are gone. A run killed in between left the re-run stage's
 * new outputs next to the later stages' old ones, and the next resume took them all as done; with
 * the marker it runs that stage again and makes everything after it anew.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../scripts/cli.js';
import { captureCli, lastJson } from '../helpers/cli.js';
import { useToyDataset } from '../helpers/toy_dataset.js';

const toy = useToyDataset('prefrl-offline-rerun-', 40);

const TINY = ['--segment-length', '10', '--labels', '60', '--reward-members', '2', '--reward-hidden', '8', '--reward-epochs', '3', '--updates', '40', '--batch-size', '16', '--hidden', '8',
  '--eval-episodes', '1', '--seed', '4', '--backend', 'wasm', '--quiet'];

async function cli(args: string[]): Promise<{ json: Record<string, unknown>; err: string }> {
  const c = captureCli();
  expect(await main([...args, '--json'], c.ctx), c.err.join('')).toBe(0);
  return { json: lastJson(c.out), err: c.err.join('') };
}

/** summary.json without what differs between runs of the same config. */
function summary(runDir: string): Record<string, unknown> {
  const { stageSeconds: _s, stageTiming: _t, runDir: _r, ...rest } = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8')) as Record<string, unknown>;
  return rest;
}

describe('prefrl offline: a stage re-run that was stopped before the later outputs were made anew', () => {
  it('the next resume runs that stage again and everything after it; a finished re-run leaves no marker', async () => {
    const runDir = (await cli(['offline', '--dataset', toy.data, '--teacher', 'oracle', '--runs-dir', join(toy.dir, 'runs'), ...TINY])).json.runDir as string;
    const ref = summary(runDir);
    const relabelRef = readFileSync(join(runDir, 'artifacts', 'relabel.json'), 'utf8');

    // A forced re-run that finishes removes its marker.
    const forced = await cli(['offline', '--resume', runDir, '--stage', 'relabel', '--force']);
    expect(forced.json.stages).toEqual({ relabel: 'ran' });
    expect(existsSync(join(runDir, 'rerunning.json'))).toBe(false);

    // What a kill leaves after a forced reward stage had written its outputs and before the
    // later stages' outputs were removed: the marker, and later outputs that are not what the
    // new reward gives (written here by hand, so the test can tell).
    writeFileSync(join(runDir, 'rerunning.json'), JSON.stringify({ stage: 'reward' }));
    writeFileSync(join(runDir, 'summary.json'), JSON.stringify({ stale: true }));
    writeFileSync(join(runDir, 'artifacts', 'relabel.json'), JSON.stringify({ stale: true }));

    // Asked for the eval stage alone: it says the later outputs may be stale and keeps the marker.
    const evalOnly = await cli(['offline', '--resume', runDir, '--stage', 'eval']);
    expect(evalOnly.err).toContain('stage reward was running again when this run stopped, before the outputs of the stages after it were made anew: the outputs after it may be stale; run it (--stage reward, or all stages) to make them anew');
    expect(existsSync(join(runDir, 'rerunning.json'))).toBe(true);

    const resumed = await cli(['offline', '--resume', runDir]);
    expect(resumed.err).toContain('stage reward was running again when this run stopped, before the outputs of the stages after it were made anew: it runs again now, and the stages after it with it');
    expect(resumed.json.stages).toEqual({ pairs: 'skipped', label: 'skipped', reward: 'ran', relabel: 'ran', iql: 'ran', eval: 'ran' });
    expect(existsSync(join(runDir, 'rerunning.json'))).toBe(false);
    expect(readFileSync(join(runDir, 'artifacts', 'relabel.json'), 'utf8')).toBe(relabelRef);
    expect(summary(runDir)).toEqual(ref);
    // The iql stage kept the two baselines trained before (only IQL on the new reward trained): its seconds are that attempt's.
    expect((JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8')) as { stageTiming: unknown }).stageTiming).toEqual({
      pairs: 'whole',
      label: 'whole',
      reward: 'whole',
      relabel: 'whole',
      iql: 'last-attempt',
      eval: 'whole',
    });
  }, 120_000);

  it('a marker naming no stage is a clear error naming the file', async () => {
    const runDir = (await cli(['offline', '--dataset', toy.data, '--teacher', 'oracle', '--runs-dir', join(toy.dir, 'runs2'), '--stage', 'pairs', ...TINY])).json.runDir as string;
    writeFileSync(join(runDir, 'rerunning.json'), JSON.stringify({ stage: 'lunch' }));
    const c = captureCli();
    expect(await main(['offline', '--resume', runDir, '--quiet'], c.ctx)).toBe(1);
    expect(c.err.join('')).toContain(`${join(runDir, 'rerunning.json')} (stage): unknown stage "lunch"`);
  }, 60_000);
});
