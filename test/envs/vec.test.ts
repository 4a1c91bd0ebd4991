/**
 * Vectorised envs: bit-identical results for workers 0/1/2 and inline mode, automatic reset (finalObs and the
 * new episode's first obs), recorded states against a single env replayed with the same
 * actions, errors from the main thread and from inside workers, and clean shutdown.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../../core/errors.js';
import { Rng } from '../../core/rng.js';
import { type EnvConfig, makeEnv } from '../../envs/registry.js';
import { ActionError } from '../../envs/types.js';
import { createVecEnv, PROBE_MS, SPIN_MAX_MS, SpinPolicy, type VecEnv, type VecStep, vecEnvSeed } from '../../envs/vec.js';

/** Random actions in [-1.2, 1.2] (some get clipped), [steps][N * actDim]. */
function randomActions(seed: number, steps: number, size: number): Float64Array[] {
  const rng = new Rng(seed);
  return Array.from({ length: steps }, () => {
    const a = new Float64Array(size);
    rng.fillUniform(a, -1.2, 1.2);
    return a;
  });
}

function bytes(a: ArrayBufferView): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

const STEP_KEYS = ['obs', 'rewards', 'terms', 'terminated', 'truncated', 'unstable', 'success', 'finalObs', 'qpos', 'qvel', 'act', 'time', 'finalQpos', 'finalQvel', 'finalAct'] as const;

/** Digest of every array of every step, plus the number of episode ends seen. */
async function rollout(config: EnvConfig, workers: number, numEnvs: number, steps: number, inline = false): Promise<{ digest: string; ends: number; last: VecStep }> {
  const vec = await createVecEnv(config, { numEnvs, workers, seed: 7, recordState: true, inline });
  try {
    const h = createHash('sha256');
    const first = await vec.reset();
    h.update(bytes(first.obs));
    let ends = 0;
    let last: VecStep | null = null;
    for (const a of randomActions(3, steps, numEnvs * vec.spec.actDim)) {
      const r = await vec.step(a);
      for (const k of STEP_KEYS) {
        const v = r[k];
        if (v) h.update(bytes(v));
      }
      for (let i = 0; i < numEnvs; i++) ends += r.terminated[i] | r.truncated[i];
      last = r;
    }
    return { digest: h.digest('hex'), ends, last: last as VecStep };
  } finally {
    await vec.close();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'prefrl-vec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A custom env: one slider with a motor, 7-step episodes, random initial position; on its
 * fourth step the first env built in a thread runs `failure` (JS code; '' for none).
 */
function sliderEnv(name: string, failure: string): EnvConfig {
  const model = join(dir, 'slider.xml');
  writeFileSync(
    model,
    '<mujoco><worldbody><body><joint name="x" type="slide" axis="1 0 0"/><geom type="sphere" size="0.1" mass="1"/></body></worldbody>' +
      '<actuator><motor joint="x" ctrlrange="-1 1"/></actuator></mujoco>',
  );
  const task = join(dir, `${name}.mjs`);
  writeFileSync(
    task,
    `let built = 0;
    export default {
      id: ${JSON.stringify(name)}, goal: 'move', horizon: 7, frameSkip: 2,
      rewardTerms: [{ name: 'x', weight: 1, doc: 'position' }],
      bind() {
        const first = built++ === 0;
        let n = 0;
        return {
          obsDim: 2,
          initialize(p, rng) { p.views.qpos[0] = rng.range(-1, 1); },
          observe(p, out) { out[0] = p.views.qpos[0]; out[1] = p.views.qvel[0]; },
          rewardTerms(p, a, out) { if (++n === 4 && first) { ${failure} } out[0] = p.views.qpos[0]; },
          terminated: () => false,
        };
      },
    };\n`,
  );
  return { id: 'custom', model, task };
}

describe('vec env determinism', () => {
  it('toy-reach: workers 0, 1 and 2 give bit-identical results across episode ends', async () => {
    const runs = await Promise.all([0, 1, 2].map((w) => rollout({ id: 'toy-reach' }, w, 5, 230)));
    expect(runs[0].ends).toBe(5 * 4); // 50-step episodes
    expect(runs[1].digest).toBe(runs[0].digest);
    expect(runs[2].digest).toBe(runs[0].digest);
  });

  it('inline mode (the calling thread steps a block too) gives the same bits as every other mode', async () => {
    const ref = await rollout({ id: 'toy-reach' }, 0, 5, 230);
    const inline = await Promise.all([1, 2, 9].map((w) => rollout({ id: 'toy-reach' }, w, 5, 230, true)));
    for (const r of inline) expect(r.digest).toBe(ref.digest);
    const slider = sliderEnv('short_episodes_inline', '');
    const [a, b] = await Promise.all([rollout(slider, 0, 3, 40), rollout(slider, 2, 3, 40, true)]);
    expect(b.ends).toBe(3 * 5);
    expect(b.digest).toBe(a.digest);
  });

  it('inline mode splits the envs into workers + 1 blocks, the calling thread taking the first', async () => {
    const sizes = async (numEnvs: number, workers: number): Promise<[number, number]> => {
      const vec = await createVecEnv({ id: 'toy-reach' }, { numEnvs, workers, seed: 0, inline: true });
      const out: [number, number] = [vec.workers, vec.inlineEnvs];
      await vec.close();
      return out;
    };
    expect(await sizes(5, 1)).toEqual([1, 2]); // blocks 0..1 here, 2..4 in the worker
    expect(await sizes(6, 2)).toEqual([2, 2]);
    expect(await sizes(3, 8)).toEqual([2, 1]); // at most numEnvs - 1 workers
    expect(await sizes(1, 2)).toEqual([0, 1]); // one env: no worker at all
    const plain = await createVecEnv({ id: 'toy-reach' }, { numEnvs: 4, workers: 2, seed: 0 });
    expect([plain.workers, plain.inlineEnvs]).toEqual([2, 0]);
    await plain.close();
  });

  it('cheetah-run: workers 0, 1 and 2 give bit-identical results', async () => {
    const runs = await Promise.all([0, 1, 2].map((w) => rollout({ id: 'cheetah-run' }, w, 3, 300)));
    expect(runs[1].digest).toBe(runs[0].digest);
    expect(runs[2].digest).toBe(runs[0].digest);
    expect(Array.from(runs[0].last.rewards).every(Number.isFinite)).toBe(true);
  });

  it('a MuJoCo model with 7-step episodes and random initial states: bit-identical across resets', async () => {
    const config = sliderEnv('short_episodes', '');
    const runs = await Promise.all([0, 1, 2].map((w) => rollout(config, w, 3, 40)));
    expect(runs[0].ends).toBe(3 * 5);
    expect(runs[1].digest).toBe(runs[0].digest);
    expect(runs[2].digest).toBe(runs[0].digest);
  });

  it('env i is seeded from the base seed, whatever the number of envs', () => {
    expect(vecEnvSeed(7, 2)).toBe(new Rng(7).fork('vec-env').fork(2).seed31());
    expect(vecEnvSeed(7, 2)).not.toBe(vecEnvSeed(7, 3));
  });
});

describe('vec env automatic reset and recorded state', () => {
  it('toy-reach: finalObs is the last obs of the episode and obs the first of the next', async () => {
    const n = 3;
    const vec = await createVecEnv({ id: 'toy-reach' }, { numEnvs: n, workers: 2, seed: 11, recordState: true });
    const singles = await Promise.all(Array.from({ length: n }, (_, i) => makeEnv({ id: 'toy-reach', seed: vecEnvSeed(11, i) })));
    try {
      const { obsDim, actDim, nq, nv } = vec.spec;
      const r0 = await vec.reset();
      singles.forEach((env, i) => expect(Array.from(r0.obs.subarray(i * obsDim, (i + 1) * obsDim))).toEqual(Array.from(env.reset())));
      let checkedEnds = 0;
      for (const a of randomActions(5, 120, n * actDim)) {
        const r = await vec.step(a);
        for (let i = 0; i < n; i++) {
          const row = (x: Float32Array | Float64Array, d: number) => Array.from(x.subarray(i * d, (i + 1) * d));
          const s = singles[i].step(a.subarray(i * actDim, (i + 1) * actDim));
          expect(r.rewards[i]).toBe(s.reward);
          expect(row(r.terms, s.rewardTerms.length)).toEqual(Array.from(s.rewardTerms));
          const ended = s.terminated || s.truncated;
          expect(r.truncated[i]).toBe(s.truncated ? 1 : 0);
          if (ended) {
            checkedEnds++;
            expect(row(r.finalObs, obsDim)).toEqual(Array.from(s.obs));
            const fin = singles[i].getState();
            expect(row(r.finalQpos as Float64Array, nq)).toEqual(Array.from(fin.qpos));
            expect(row(r.finalQvel as Float64Array, nv)).toEqual(Array.from(fin.qvel));
            const first = singles[i].reset();
            expect(row(r.obs, obsDim)).toEqual(Array.from(first));
          } else {
            expect(row(r.obs, obsDim)).toEqual(Array.from(s.obs));
            expect(row(r.finalObs, obsDim).every((x) => x === 0)).toBe(true);
          }
          const st = singles[i].getState();
          expect(row(r.qpos as Float64Array, nq)).toEqual(Array.from(st.qpos));
          expect(row(r.qvel as Float64Array, nv)).toEqual(Array.from(st.qvel));
          expect(r.time?.[i]).toBe(st.time);
        }
      }
      expect(checkedEnds).toBe(2 * n);
    } finally {
      for (const env of singles) env.dispose();
      await vec.close();
    }
  });

  it('cheetah-run: recorded states match getState() of a single env replayed with the same actions', async () => {
    const n = 2;
    const vec = await createVecEnv({ id: 'cheetah-run' }, { numEnvs: n, workers: 1, seed: 3, recordState: true });
    const env = await makeEnv({ id: 'cheetah-run', seed: vecEnvSeed(3, 1) });
    try {
      const { actDim, nq, nv, na, obsDim } = vec.spec;
      const row = (x: Float32Array | Float64Array | undefined, d: number) => Array.from((x as Float64Array).subarray(d, 2 * d));
      const r0 = await vec.reset();
      const o0 = env.reset();
      expect(row(r0.obs, obsDim)).toEqual(Array.from(o0));
      let st = env.getState();
      expect(row(r0.qpos, nq)).toEqual(Array.from(st.qpos));
      expect(r0.time?.[1]).toBe(st.time);
      for (const a of randomActions(9, 40, n * actDim)) {
        const r = await vec.step(a);
        const s = env.step(a.subarray(actDim, 2 * actDim));
        st = env.getState();
        expect(row(r.qpos, nq)).toEqual(Array.from(st.qpos));
        expect(row(r.qvel, nv)).toEqual(Array.from(st.qvel));
        expect(row(r.act, na)).toEqual(Array.from(st.act));
        expect(r.time?.[1]).toBe(st.time);
        expect(row(r.obs, obsDim)).toEqual(Array.from(s.obs));
        expect(r.rewards[1]).toBe(s.reward);
        expect(r.success[1]).toBe(s.info.success ?? Number.NaN);
      }
    } finally {
      env.dispose();
      await vec.close();
    }
  });
});

describe('vec env errors and shutdown', () => {
  it.each([0, 2])('a NaN action rejects naming the env and step, moves no env, and the vec env stays usable (workers %i)', async (workers) => {
    const vec = await createVecEnv({ id: 'toy-reach' }, { numEnvs: 3, workers, seed: 1 });
    const ref = await createVecEnv({ id: 'toy-reach' }, { numEnvs: 3, workers: 0, seed: 1 });
    try {
      await vec.reset();
      await ref.reset();
      const acts = randomActions(2, 6, 6);
      for (let k = 0; k < 5; k++) {
        await vec.step(acts[k]);
        await ref.step(acts[k]);
      }
      const bad = Float64Array.from(acts[5]);
      bad[2] = Number.NaN; // env 1, action[0]
      const p = vec.step(bad);
      await expect(p).rejects.toThrow(ActionError);
      await expect(p).rejects.toThrow('toy-reach step 5: action[0] is NaN; actions must be finite numbers (vec env 1)');
      await expect(vec.step(new Float64Array(5))).rejects.toThrow('expected 6 ([numEnvs 3, actDim 2], row-major)');
      const [a, b] = [await vec.step(acts[5]), await ref.step(acts[5])];
      expect(Array.from(a.obs)).toEqual(Array.from(b.obs));
    } finally {
      await vec.close();
      await ref.close();
    }
  });

  it('a model that does not compile rejects createVecEnv with the InputError from the worker', async () => {
    const bad = join(dir, 'broken.xml');
    writeFileSync(bad, '<mujoco><worldbody><body><geom type="sphere" size="oops"/></body></worldbody></mujoco>');
    const p = createVecEnv({ id: 'custom', model: bad }, { numEnvs: 2, workers: 1, seed: 0 });
    await expect(p).rejects.toThrow(InputError);
    await expect(p).rejects.toThrow(/broken\.xml.*MuJoCo could not load the model/);
  });

  it('an error thrown inside a worker during step() rejects with its message; close() still works', async () => {
    const vec = await createVecEnv(sliderEnv('flaky', "throw new Error('flaky task failed on purpose');"), { numEnvs: 2, workers: 1, seed: 0 });
    await vec.reset();
    const a = new Float64Array(2);
    for (let k = 0; k < 3; k++) await vec.step(a);
    await expect(vec.step(a)).rejects.toThrow(/flaky\.mjs \(rewardTerms\): task\.rewardTerms\(\) threw flaky task failed on purpose, at flaky\.mjs:\d+:\d+ \(vec env 0\)$/);
    await expect(vec.step(a)).rejects.toThrow(/unusable after an earlier failure/);
    await vec.close();
    await vec.close();
  });

  it('inline mode: an error in the calling thread\'s block rejects naming its env, ahead of a worker\'s error', async () => {
    // Both threads' first envs (vec envs 0 and 1) fail on their fourth step; the calling
    // thread's block holds the lower index, so its error is the one reported.
    const vec = await createVecEnv(sliderEnv('flaky_inline', "throw new Error('inline task failed on purpose');"), { numEnvs: 2, workers: 1, seed: 0, inline: true });
    expect([vec.workers, vec.inlineEnvs]).toEqual([1, 1]);
    await vec.reset();
    const a = new Float64Array(2);
    for (let k = 0; k < 3; k++) await vec.step(a);
    await expect(vec.step(a)).rejects.toThrow(/flaky_inline\.mjs \(rewardTerms\): task\.rewardTerms\(\) threw inline task failed on purpose, at flaky_inline\.mjs:\d+:\d+ \(vec env 0\)$/);
    await expect(vec.step(a)).rejects.toThrow(/unusable after an earlier failure/);
    await vec.close();
  });

  it('inline mode: a model that does not compile rejects createVecEnv with its InputError', async () => {
    const bad = join(dir, 'broken_inline.xml');
    writeFileSync(bad, '<mujoco><worldbody><body><geom type="sphere" size="oops"/></body></worldbody></mujoco>');
    const p = createVecEnv({ id: 'custom', model: bad }, { numEnvs: 3, workers: 1, seed: 0, inline: true });
    await expect(p).rejects.toThrow(InputError);
    await expect(p).rejects.toThrow(/broken_inline\.xml.*MuJoCo could not load the model/);
  });

  it('a worker that dies during step() rejects the step instead of hanging it', async () => {
    const vec = await createVecEnv(sliderEnv('dying', 'process.exit(3);'), { numEnvs: 2, workers: 2, seed: 0 });
    await vec.reset();
    const a = new Float64Array(2);
    for (let k = 0; k < 3; k++) await vec.step(a);
    await expect(vec.step(a)).rejects.toThrow(/vec env worker ([01]) \(envs \1\.\.\1\) exited \(code 3\)/);
    await expect(vec.reset()).rejects.toThrow(/unusable/);
    await vec.close();
  });

  it('close() is idempotent; later calls reject', async () => {
    const vec: VecEnv = await createVecEnv({ id: 'toy-reach' }, { numEnvs: 2, workers: 2, seed: 0 });
    await vec.reset();
    await Promise.all([vec.close(), vec.close()]);
    await vec.close();
    await expect(vec.reset()).rejects.toThrow(/after close\(\)/);
  });

  it('workers never keep the process alive: after close(), and when close() is forgotten', () => {
    const vecUrl = pathToFileURL(fileURLToPath(new URL('../../envs/vec.ts', import.meta.url))).href;
    const script = join(dir, 'child.mjs');
    writeFileSync(
      script,
      `import { createVecEnv } from ${JSON.stringify(vecUrl)};
      const a = await createVecEnv({ id: 'toy-reach' }, { numEnvs: 4, workers: 1, seed: 0 });
      await a.reset(); await a.step(new Float64Array(8)); await a.close();
      const b = await createVecEnv({ id: 'toy-reach' }, { numEnvs: 4, workers: 1, seed: 0 });
      await b.reset(); await b.step(new Float64Array(8));
      process.stdout.write('stepped\\n');\n`,
    );
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    const r = spawnSync(process.execPath, ['--import', tsx, script], { encoding: 'utf8', timeout: 20_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('stepped\n');
    expect(r.status).toBe(0); // exited by itself (null on timeout)
  });
});

describe('SpinPolicy (when a vec worker polls for its next command)', () => {
  it('polls for SPIN_MAX_MS while commands arrive back to back', () => {
    const p = new SpinPolicy();
    for (let i = 0; i < 100; i++) {
      expect(p.pollMs()).toBe(SPIN_MAX_MS);
      p.record(true);
    }
  });

  it('sleeps at once after MISSES missed polls in a row, probing with one PROBE_MS poll every PROBE_EVERY commands', () => {
    const p = new SpinPolicy();
    for (let i = 0; i < SpinPolicy.MISSES - 1; i++) {
      expect(p.pollMs()).toBe(SPIN_MAX_MS);
      p.record(false);
    }
    expect(p.isPolling).toBe(true);
    expect(p.pollMs()).toBe(SPIN_MAX_MS);
    p.record(false);
    expect(p.isPolling).toBe(false);
    const polls: number[] = [];
    for (let i = 0; i < 2 * SpinPolicy.PROBE_EVERY; i++) {
      const ms = p.pollMs();
      polls.push(ms);
      if (ms > 0) p.record(false);
    }
    // Exactly two probes in 2 x PROBE_EVERY commands, at the PROBE_EVERY-th and last.
    expect(polls.filter((ms) => ms > 0)).toEqual([PROBE_MS, PROBE_MS]);
    expect(polls[SpinPolicy.PROBE_EVERY - 1]).toBe(PROBE_MS);
    expect(polls[2 * SpinPolicy.PROBE_EVERY - 1]).toBe(PROBE_MS);
  });

  it('a probe that catches a command switches polling back on; one hit resets the miss count', () => {
    const p = new SpinPolicy();
    for (let i = 0; i < SpinPolicy.MISSES; i++) p.record(false);
    expect(p.isPolling).toBe(false);
    for (let i = 0; i < SpinPolicy.PROBE_EVERY - 1; i++) expect(p.pollMs()).toBe(0);
    expect(p.pollMs()).toBe(PROBE_MS);
    p.record(true);
    expect(p.isPolling).toBe(true);
    expect(p.pollMs()).toBe(SPIN_MAX_MS);
    for (let i = 0; i < SpinPolicy.MISSES - 1; i++) p.record(false);
    p.record(true);
    for (let i = 0; i < SpinPolicy.MISSES - 1; i++) p.record(false);
    expect(p.isPolling).toBe(true);
  });
});
