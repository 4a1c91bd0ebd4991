/**
 * End-to-end `prefrl train`: PPO learns the toy env from its true reward, and a preference run
 * killed with SIGKILL resumes from its last checkpoint keeping every stored label.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LabelStore } from '../../reward/store.js';
import { main } from '../../scripts/cli.js';
import { relative } from '../../scripts/commands/demo.js';
import { captureCli, lastJson, spawnCli } from '../helpers/cli.js';



const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('prefrl train', () => {
  it('PPO on the true reward solves toy-reach in 32k steps (random policy: about -34; solved: above +10 with every episode at the goal)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prefrl-ppo-toy-'));
    const c = captureCli();
    const code = await main(
      ['train', '--env', 'toy-reach', '--reward', 'true', '--steps', '32768', '--num-envs', '4', '--num-steps', '256', '--workers', '0', '--eval-every', '8192', '--runs-dir', dir, '--quiet', '--json'],
      c.ctx,
    );
    expect(code, c.err.join('')).toBe(0);
    const s = lastJson(c.out);
    const curve = s.curve as [number, number][];
    expect(curve[0][0]).toBe(0);
    expect(curve[0][1]).toBeLessThan(-20); // the untrained policy
    expect(s.finalTrueReturn as number).toBeGreaterThan(10);
    expect(s.finalSuccess as number).toBe(1);
    expect(s.envSteps as number).toBeGreaterThanOrEqual(32768);
    expect(s.labelsUsed).toBe(0);
  }, 120_000);

  it('--inline-envs (the main thread steps envs beside one worker) trains exactly as the main thread alone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prefrl-inline-'));
    const run = async (...threads: string[]) => {
      const c = captureCli();
      const argv = ['train', '--env', 'toy-reach', '--reward', 'true', '--steps', '2048', '--num-envs', '4', '--num-steps', '256', '--eval-every', '1024', '--runs-dir', dir, '--quiet', '--json'];
      expect(await main([...argv, ...threads], c.ctx), c.err.join('')).toBe(0);
      return lastJson(c.out);
    };
    const inline = await run('--workers', '1', '--inline-envs');
    const local = await run('--workers', '0');
    expect(inline.curve).toEqual(local.curve);
    expect(inline.finalTrueReturn).toBe(local.finalTrueReturn);
    const config = JSON.parse(readFileSync(join(inline.runDir as string, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(JSON.stringify(config)).toContain('"inlineEnvs":true');
  }, 60_000);

  it('a preference run killed with SIGKILL resumes from its last checkpoint with every stored label kept', async () => {
    const runs = mkdtempSync(join(tmpdir(), 'prefrl-resume-'));
    const args = [
      'train', '--env', 'toy-reach', '--teacher', 'oracle', '--labels', '60', '--labels-per-round', '20', '--feedback-every', '2048',
      '--warmup-steps', '1024', '--steps', '8192', '--num-envs', '2', '--num-steps', '256', '--workers', '0', '--eval-every', '2048',
      '--eval-episodes', '2', '--reward-epochs', '5', '--runs-dir', runs, '--name', 'killed', '--quiet',
    ];
    const { child, stderr: childErr, exited } = spawnCli(args);
    // Wait until a checkpoint exists and the first round's labels are stored, then kill.
    let runDir = '';
    const deadline = Date.now() + 90_000;
    let before: { id: string; pairId: string; probFirst: number | null }[] = [];
    while (Date.now() < deadline) {
      await sleep(200);
      if (child.exitCode !== null) break;
      const found = existsSync(runs) ? readdirSync(runs).find((d) => d.endsWith('-killed')) : undefined;
      if (!found) continue;
      runDir = join(runs, found);
      if (!existsSync(join(runDir, 'artifacts', 'checkpoint', 'checkpoint.json')) || !existsSync(join(runDir, 'labels.sqlite'))) continue;
      const store = LabelStore.open(join(runDir, 'labels.sqlite'), { create: false });
      const labels = store.labels();
      store.close();
      if (labels.length >= 20) {
        child.kill('SIGKILL');
        break;
      }
    }
    const code = await exited;
    expect(code, `the run ended by itself before it could be killed:\n${childErr()}`).toBeNull();
    expect(runDir).not.toBe('');
    const killedAt = JSON.parse(readFileSync(join(runDir, 'artifacts', 'checkpoint', 'checkpoint.json'), 'utf8')) as { globalStep: number };
    expect(killedAt.globalStep).toBeGreaterThan(0);
    expect(killedAt.globalStep).toBeLessThan(8192);
    {
      const store = LabelStore.open(join(runDir, 'labels.sqlite'), { create: false });
      before = store.labels().map((l) => ({ id: l.id, pairId: l.pairId, probFirst: l.kind === 'preference' ? l.probFirst : null }));
      store.close();
    }
    expect(before.length).toBeGreaterThanOrEqual(20);

    // As if the run had been made with another MuJoCo build and tensor backend (made-up names): the resume says so.
    const swFile = join(runDir, 'software.json');
    const sw = JSON.parse(readFileSync(swFile, 'utf8')) as { mujoco: string; tensorBackend: string };
    // The run recorded the backend its reward networks ran on.
    expect(['gpu', 'node', 'wasm', 'cpu']).toContain(sw.tensorBackend);
    writeFileSync(swFile, JSON.stringify({ ...sw, mujoco: '0.0.0-test', tensorBackend: 'gpu-test' }));

    const c = captureCli();
    const rc = await main(['train', '--resume', runDir, '--quiet', '--json'], c.ctx);
    expect(rc, c.err.join('')).toBe(0);
    expect(c.err.join('')).toMatch(/resuming .* at \d+ env steps with \d+ stored labels/);
    expect(c.err.join('')).toContain(`--resume: ${runDir} was made with other software (MuJoCo 0.0.0-test -> ${sw.mujoco}, tensor backend gpu-test -> ${sw.tensorBackend}); the resumed run may not reproduce an uninterrupted one`);
    const s = lastJson(c.out);
    expect(s.labelsUsed).toBe(60);
    expect(s.envSteps as number).toBeGreaterThanOrEqual(8192);
    expect(s.runDir).toBe(runDir);
    const store = LabelStore.open(join(runDir, 'labels.sqlite'), { create: false });
    const after = store.labels();
    store.close();
    expect(after.length).toBe(60);
    const byId = new Map(after.map((l) => [l.id, l]));
    for (const b of before) {
      const a = byId.get(b.id);
      expect(a, `label ${b.id} was lost on resume`).toBeDefined();
      expect(a?.pairId).toBe(b.pairId);
      expect(a?.kind === 'preference' ? a.probFirst : null).toBe(b.probFirst);
    }
    // A pair is never asked twice across the kill.
    expect(new Set(after.map((l) => l.pairId)).size).toBe(60);
  }, 180_000);

  it('hopper-hop: episodes that end in a fall still feed the query pool (padded), where dropping them starves it', async () => {
    const runs = mkdtempSync(join(tmpdir(), 'prefrl-hopper-pool-'));
    const summary = async (terminal: string): Promise<Record<string, unknown>> => {
      const c = captureCli();
      const args = [
        'train', '--env', 'hopper-hop', '--teacher', 'oracle', '--labels', '40', '--labels-per-round', '20', '--feedback-every', '512',
        '--warmup-steps', '1024', '--steps', '2048', '--num-envs', '2', '--num-steps', '256', '--workers', '0', '--eval-every', '4096',
        '--eval-episodes', '1', '--reward-epochs', '2', '--reward-hidden', '16', '--reward-members', '1', '--terminal-segments', terminal,
        '--runs-dir', runs, '--name', terminal, '--quiet', '--json',
      ];
      const code = await main(args, c.ctx);
      expect(code, c.err.join('')).toBe(0);
      return lastJson(c.out);
    };
    // An untrained hopper falls within a few dozen steps: no 50-step window survives 'drop'.
    const pad = await summary('pad');
    expect(pad.labelsUsed).toBe(40);
    const drop = await summary('drop');
    expect(drop.labelsUsed as number).toBeLessThan(40);
  }, 120_000);

  it('demo: the share of the true-reward agent\'s improvement over the untrained policy', () => {
    expect(relative(-50, 50, -150)).toBeCloseTo(0.5, 12); // (-50 + 150) / (50 + 150)
    expect(relative(60, 50, -150)).toBeCloseTo(1.05, 12);
    expect(relative(-160, 50, -150)).toBeCloseTo(-0.05, 12);
    expect(relative(0, -150, -150)).toBeNull(); // the true-reward agent did not improve: no ratio
    expect(relative(0, 10, undefined)).toBeNull();
  });

  it('demo (npm start) runs both agents and prints the comparison, the run folders and the viewer command', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prefrl-demo-'));
    const c = captureCli();
    const code = await main(
      ['demo', '--env', 'toy-reach', '--steps', '8192', '--labels', '20', '--labels-per-round', '10', '--feedback-every', '1024', '--reward-epochs', '3', '--runs-dir', dir, '--quiet', '--json'],
      c.ctx,
    );
    expect(code, c.err.join('')).toBe(0);
    const s = lastJson(c.out) as { labelsUsed: number; learned: { runDir: string; rewardAccuracy: number }; trueReward: { runDir: string; finalTrueReturn: number }; viewer: string };
    expect(s.labelsUsed).toBe(20);
    expect(existsSync(join(s.learned.runDir, 'labels.sqlite'))).toBe(true);
    expect(existsSync(join(s.trueReward.runDir, 'summary.json'))).toBe(true);
    expect(s.viewer).toBe(`prefrl serve --store ${s.learned.runDir}/labels.sqlite`);
    expect(Number.isFinite(s.trueReward.finalTrueReturn)).toBe(true);
  }, 120_000);
});
