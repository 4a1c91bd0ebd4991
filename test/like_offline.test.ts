/**
 * `prefrl offline --like`: an offline run's config.json holds the pipeline config, not its flags,
 * so --like reads the flags back from it (offlineFlagsFromConfig). Every flag that sets the config
 * comes back as it was given (a round trip through offlineConfigFromFlags); a run made --like
 * another with nothing changed gives the same numbers, and --seed changes only the seed.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../core/config.js';
import { main } from '../scripts/cli.js';
import { offlineConfigFromFlags, offlineFlags, offlineFlagsFromConfig, type OfflineFlags } from '../scripts/commands/offline.js';
import { HUMAN_FLAG_KEYS } from '../scripts/commands/human_flags.js';
import { captureCli, expectUsageError, lastJson } from './helpers/cli.js';
import { useToyDataset } from './helpers/toy_dataset.js';

const toy = useToyDataset('prefrl-like-offline-', 4, { wasm: true });

/** The flags of one invocation (output, where the run goes, which stages, the viewer): not pipeline settings. */
const NOT_CONFIG = ['stage', 'force', 'resume', 'like', 'runsDir', 'name', 'json', 'quiet', ...HUMAN_FLAG_KEYS];

const ARM = resolve('test/fixtures/byo/arm.xml');
const TASK = resolve('test/fixtures/byo/reach_task.mjs');

/** Every pipeline flag away from its default (a vlm run, so the --vlm-* flags count). */
const EVERY: Record<string, unknown> = {
  dataset: 'data.h5',
  teacher: 'vlm',
  labels: 300,
  segmentLength: 7,
  errorRate: 0.3,
  unsureRate: 0.05,
  heronConfig: 'heron.json',
  vlmBaseUrl: 'http://127.0.0.1:9/v1',
  vlmModel: 'some-vl',
  vlmKeyEnv: 'MY_KEY',
  vlmFrames: '3',
  vlmCache: '/tmp/cache',
  vlmWidth: 320,
  vlmHeight: 240,
  vlmCamera: 'top',
  vlmHideRobot: true,
  vlmConcurrency: 2,
  vlmRpm: 30,
  vlmTimeout: 9.5,
  vlmRetries: 1,
  vlmAnalysisMaxTokens: 2048,
  vlmLabelMaxTokens: 32,
  vlmTokenField: 'max_completion_tokens',
  vlmTemperature: 'server',
  labelBatch: 25,
  query: 'disagreement',
  queryRounds: 3,
  oversample: 5,
  preferenceModel: 'regret',
  rewardMembers: 2,
  rewardHidden: ['32', '16'],
  rewardInput: 'obs-next-obs',
  rewardEpochs: 7,
  rewardFlipRate: 0.2,
  rewardPatience: 3,
  rewardLr: 0.001,
  rewardWeightDecay: 0.01,
  rewardInputL1: 0.5,
  rewardInputProx: 0.25,
  rewardValFraction: 0.2,
  rewardSelectInputs: true,
  rewardSelectWorkers: 1,
  updates: 123,
  batchSize: 64,
  hidden: ['16', '8'],
  evalEpisodes: 3,
  evalEvery: 50,
  env: ARM,
  task: TASK,
  seed: 9,
  backend: 'wasm',
};

const asFlags = (given: Record<string, unknown>) => validateConfig(given, offlineFlags, 'test') as OfflineFlags;

describe('offlineFlagsFromConfig', () => {
  it('the test sets every pipeline flag: a flag added to offline must be added here (and to the inverse)', () => {
    expect(Object.keys(offlineFlags).filter((k) => !NOT_CONFIG.includes(k) && !(k in EVERY))).toEqual([]);
    // ...and away from its default, so a flag the inverse forgets shows in the round trip.
    const defaults = asFlags({}) as Record<string, unknown>;
    expect(Object.keys(EVERY).filter((k) => JSON.stringify(defaults[k]) === JSON.stringify(EVERY[k]))).toEqual([]);
  });

  it.each([
    ['every flag given', EVERY],
    ['the defaults (oracle)', { dataset: 'd.h5', teacher: 'oracle' }],
    ['synthetic-vlm, uniform pairs, a built-in env', { dataset: 'd.h5', teacher: 'synthetic-vlm', errorRate: 0.1, env: 'pusher', labels: 10 }],
    ['vlm with a strip of frames and defaults elsewhere', { dataset: 'd.h5', teacher: 'vlm', vlmBaseUrl: 'http://x/v1', vlmModel: 'm', vlmFrames: '4' }],
    ['vlm with a temperature of 0.7, limits in max_tokens', { dataset: 'd.h5', teacher: 'vlm', vlmBaseUrl: 'http://x/v1', vlmModel: 'm', vlmTemperature: '0.70' }],
    ['vlm with temperature 0 given, limits in max_completion_tokens', { dataset: 'd.h5', teacher: 'vlm', vlmBaseUrl: 'http://x/v1', vlmModel: 'o4-mini', vlmTemperature: '0', vlmTokenField: 'max_completion_tokens' }],
    ['heron', { dataset: 'd.h5', teacher: 'heron', heronConfig: 'h.json', query: 'disagreement' }],
  ])('%s: the flags read back make the same config', (_name, given) => {
    const cfg = offlineConfigFromFlags(asFlags(given));
    const back = offlineFlagsFromConfig(JSON.parse(JSON.stringify(cfg)) as Record<string, unknown>, 'config.json');
    expect(offlineConfigFromFlags(asFlags(back))).toEqual(cfg);
  });

  it('a config that is not an object is refused naming the file and field', () => {
    expect(() => offlineFlagsFromConfig([] as unknown as Record<string, unknown>, 'runs/x/config.json')).toThrow('runs/x/config.json (config): expected the offline pipeline config (an object) under "config"');
  });
});

async function cli(args: string[]) {
  const c = captureCli();
  const code = await main([...args, '--quiet', '--json'], c.ctx);
  return { code, out: c.out, err: c.err.join('') };
}

const savedConfig = (run: string) => (JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')) as { config: Record<string, unknown> }).config;

describe('prefrl offline --like', () => {
  it('with nothing changed the same numbers; --seed changes only the seed; --stage is the command line\'s', async () => {
    const runs = join(toy.dir, 'runs');
    const tiny = ['--teacher', 'oracle', '--labels', '20', '--segment-length', '10', '--updates', '20', '--eval-episodes', '1', '--hidden', '8,8', '--reward-hidden', '8', '--reward-epochs', '2', '--reward-members', '1', '--backend', 'wasm'];
    const first = await cli(['offline', '--dataset', toy.data, ...tiny, '--runs-dir', runs]);
    expect(first.code, first.err).toBe(0);
    const a = lastJson<{ runDir: string; returns: unknown; normalizedRatio: number }>(first.out);
    const again = await cli(['offline', '--like', a.runDir, '--runs-dir', runs]);
    expect(again.code, again.err).toBe(0);
    const b = lastJson<typeof a>(again.out);
    expect(b.runDir).not.toBe(a.runDir);
    expect(b.returns).toEqual(a.returns);
    expect(b.normalizedRatio).toBe(a.normalizedRatio);
    expect(savedConfig(b.runDir)).toEqual(savedConfig(a.runDir));
    // Another seed, and only the first two stages this time.
    const other = await cli(['offline', '--like', a.runDir, '--seed', '4', '--stage', 'pairs,label', '--runs-dir', runs]);
    expect(other.code, other.err).toBe(0);
    const c = lastJson<{ runDir: string; stages: Record<string, string> }>(other.out);
    const [x, y] = [savedConfig(a.runDir), savedConfig(c.runDir)];
    expect(Object.keys({ ...x, ...y }).filter((k) => JSON.stringify(x[k]) !== JSON.stringify(y[k]))).toEqual(['seed']);
    expect(readdirSync(join(c.runDir, 'artifacts')).sort()).toEqual(['labels.json', 'pairs.json']);
  }, 120_000);

  it("a vlm run's --vlm-token-field and --vlm-temperature come back with --like, and stay the run's own on --resume", async () => {
    const runs = join(toy.dir, 'runs-vlm');
    const vlm = ['--teacher', 'vlm', '--vlm-base-url', 'http://127.0.0.1:9/v1', '--vlm-model', 'o4-mini', '--vlm-token-field', 'max_completion_tokens', '--vlm-temperature', 'server'];
    const first = await cli(['offline', '--dataset', toy.data, ...vlm, '--labels', '4', '--segment-length', '10', '--stage', 'pairs', '--runs-dir', runs]);
    expect(first.code, first.err).toBe(0);
    const a = lastJson<{ runDir: string }>(first.out);
    expect(savedConfig(a.runDir).vlm).toMatchObject({ model: 'o4-mini', tokenField: 'max_completion_tokens', temperature: 'server' });
    const again = await cli(['offline', '--like', a.runDir, '--stage', 'pairs', '--runs-dir', runs]);
    expect(again.code, again.err).toBe(0);
    const b = lastJson<{ runDir: string }>(again.out);
    expect(savedConfig(b.runDir)).toEqual(savedConfig(a.runDir));
    // Changed with --like (a number now), they are the new run's.
    const other = await cli(['offline', '--like', a.runDir, '--vlm-temperature', '0.5', '--vlm-token-field', 'max_tokens', '--stage', 'pairs', '--runs-dir', runs]);
    expect(other.code, other.err).toBe(0);
    expect(savedConfig(lastJson<{ runDir: string }>(other.out).runDir).vlm).toMatchObject({ tokenField: 'max_tokens', temperature: 0.5 });
    // On --resume they are the saved config's: refused, as the token limits are.
    const resumed = await cli(['offline', '--resume', a.runDir, '--vlm-temperature', '0', '--stage', 'pairs']);
    expect(resumed.code).toBe(2);
    expect(resumed.err).toContain("--resume: the run's saved config is used; drop --vlm-temperature");
  }, 60_000);

  it('a train run is not an offline run; --like with --resume is refused', async () => {
    const fake = join(toy.dir, 'train-config.json');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(fake, JSON.stringify({ command: 'train', env: 'reacher' }));
    await expectUsageError(['offline', '--like', fake], join(toy.dir, 'never'), /--like: .*train-config\.json is a `prefrl train` run's config, not an offline run's/);
    await expectUsageError(['offline', '--like', fake, '--resume', toy.dir], join(toy.dir, 'never'), /--like starts a new run and --resume goes on with one: give one of them/);
  });
});
