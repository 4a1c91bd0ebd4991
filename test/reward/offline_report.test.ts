/**
 * `prefrl offline`: the ratio line of the report (the normalised score first; the plain ratio
 * only for positive returns; a note when IQL-true does not beat random), a bad HERON config
 * refused before a run folder is made, the viewer's token asked only of the human teacher, and
 * ties counted apart from strict preferences.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDataset } from '../../agents/dataset.js';
import type { AgentEval } from '../../reward/offline.js';
import { main } from '../../scripts/cli.js';
import { ratioLine } from '../../scripts/commands/offline.js';
import { captureCli, lastJson } from '../helpers/cli.js';
import { noisyToyTrajectories, toyReachDataset } from '../helpers/toy_dataset.js';

let dir = '';
let data = '';
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'prefrl-offline-report-'));
  const ds = toyReachDataset(noisyToyTrajectories({ episodes: 6, noiseSeed: 3, firstSeed: 10, noise: () => 0.5 }));
  data = await writeDataset(join(dir, 'toy.h5'), ds);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ev = (meanReturn: number, stdReturn = 1): AgentEval => ({ meanReturn, stdReturn, returns: [], meanSuccess: 0 });
const summary = (learned: AgentEval, truth: AgentEval, random: AgentEval) => ({
  returns: { iqlLearned: learned, iqlTrue: truth, bc: ev(0), random },
  ratio: learned.meanReturn / truth.meanReturn,
  normalizedRatio: (learned.meanReturn - random.meanReturn) / (truth.meanReturn - random.meanReturn),
});

describe('offline report: ratios', () => {
  it('negative returns (costs): the normalised score is the headline, the plain ratio is left out', () => {
    const line = ratioLine(summary(ev(-12), ev(-10), ev(-40)));
    expect(line).toMatch(/^IQL learned vs IQL true, normalised to random: 0\.933 /);
    expect(line).not.toContain('plain ratio');
    expect(line).not.toContain('not meaningful');
  });

  it('positive returns: the plain ratio is shown too', () => {
    expect(ratioLine(summary(ev(80), ev(100), ev(10)))).toContain('; plain ratio 0.800');
  });

  it('IQL-true about as good as random: a note says the normalised score is not meaningful', () => {
    const line = ratioLine(summary(ev(-40, 3), ev(-39, 3), ev(-39.5, 2)));
    expect(line).toContain('normalised to random: -1.000');
    expect(line).toMatch(/not meaningful here: IQL-true \(-39\.00\) does not beat random \(-39\.50\) by more than the spread of their episode returns \(std 3\.00\)/);
    expect(ratioLine(summary(ev(5), ev(4), ev(6)))).toContain('not meaningful here');
  });
});

describe('offline: checks before a run folder is made', () => {
  it('--teacher heron with a config that does not fit the env is refused naming the file, and no run folder is left', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ ranking: ['no_such_term'], margins: [0.1] }));
    const runs = join(dir, 'runs-heron');
    const c = captureCli();
    const code = await main(['offline', '--dataset', data, '--teacher', 'heron', '--heron-config', bad, '--runs-dir', runs, '--quiet'], c.ctx);
    expect(code).toBe(1);
    expect(c.err.join('')).toMatch(/bad\.json \(ranking\[0\]\): unknown reward term "no_such_term"/);
    expect(existsSync(runs) ? readdirSync(runs) : []).toEqual([]);
    writeFileSync(bad, '{ not json');
    const s = captureCli();
    expect(await main(['offline', '--dataset', data, '--teacher', 'heron', '--heron-config', bad, '--runs-dir', runs, '--quiet'], s.ctx)).toBe(1);
    expect(s.err.join('')).toContain('bad.json');
    expect(existsSync(runs) ? readdirSync(runs) : []).toEqual([]);
  });

  it('--teacher heron: the levels are kept with the labels, and re-labelling after the config file changed is refused naming it', async () => {
    const file = join(dir, 'heron-resume.json');
    const first = JSON.stringify({ ranking: ['goal_distance', 'at_goal'], margins: [0.5, 0.5] });
    writeFileSync(file, first);
    const runs = join(dir, 'runs-heron-resume');
    const c = captureCli();
    expect(await main(['offline', '--dataset', data, '--teacher', 'heron', '--heron-config', file, '--labels', '8', '--segment-length', '10', '--stage', 'pairs,label', '--runs-dir', runs, '--quiet'], c.ctx), c.err.join('')).toBe(0);
    const run = join(runs, readdirSync(runs)[0]);
    writeFileSync(file, JSON.stringify({ ranking: ['control_effort'], margins: [0] }));
    const changed = captureCli();
    expect(await main(['offline', '--resume', run, '--stage', 'label', '--force', '--quiet'], changed.ctx)).toBe(1);
    expect(changed.err.join('')).toContain(`prefrl offline: ${file}: HERON config changed since the run started: its labels so far follow the levels stored with them in ${join(run, 'labels.sqlite')}`);
    writeFileSync(file, first);
    const restored = captureCli();
    expect(await main(['offline', '--resume', run, '--stage', 'label', '--force', '--quiet'], restored.ctx), restored.err.join('')).toBe(0);
  }, 60_000);

  it('--human-host beyond localhost needs a token only with the human teacher', async () => {
    const runs = join(dir, 'runs-host');
    const c = captureCli();
    expect(await main(['offline', '--dataset', data, '--teacher', 'oracle', '--human-host', '0.0.0.0', '--stage', 'pairs', '--labels', '10', '--segment-length', '10', '--runs-dir', runs, '--quiet'], c.ctx), c.err.join('')).toBe(0);
    const h = captureCli();
    expect(await main(['offline', '--dataset', data, '--teacher', 'human', '--human-host', '0.0.0.0', '--runs-dir', join(dir, 'runs-human'), '--quiet'], h.ctx)).toBe(2);
    expect(h.err.join('')).toMatch(/--human-token/);
  });
});

describe('offline: label counts', () => {
  it('--teacher heron whose one margin no pair exceeds: every label is a tie, counted apart from strict preferences in labels.json, reward.json, the summary and the report', async () => {
    const file = join(dir, 'heron-ties.json');
    writeFileSync(file, JSON.stringify({ ranking: ['goal_distance'], margins: [1e6] }));
    const runs = join(dir, 'runs-heron-ties');
    const agent = ['--updates', '4', '--batch-size', '16', '--hidden', '8', '--eval-episodes', '1', '--reward-members', '1', '--reward-hidden', '8', '--reward-epochs', '2', '--backend', 'wasm'];
    const c = captureCli();
    expect(await main(['offline', '--dataset', data, '--teacher', 'heron', '--heron-config', file, '--labels', '8', '--segment-length', '10', ...agent, '--runs-dir', runs, '--quiet', '--json'], c.ctx), c.err.join('')).toBe(0);
    const run = join(runs, readdirSync(runs)[0]);
    expect(JSON.parse(readFileSync(join(run, 'artifacts', 'labels.json'), 'utf8'))).toMatchObject({ labels: 8, preferences: 0, ties: 8, skips: 0 });
    // The reward model trains on ties as soft labels: they count among its preferences, said apart.
    expect(JSON.parse(readFileSync(join(run, 'artifacts', 'reward.json'), 'utf8'))).toMatchObject({ preferences: 8, ties: 8 });
    expect(lastJson(c.out)).toMatchObject({ labels: 8, preferences: 0, ties: 8, skips: 0 });
    const h = captureCli();
    expect(await main(['offline', '--resume', run, '--quiet'], h.ctx), h.err.join('')).toBe(0);
    expect(h.out.join('')).toContain('labels 8 (0 preferences, 8 ties, 0 skips), agreement with the true partial return n/a');
  }, 60_000);
});
