/**
 * `prefrl bench envs`: how fast the built-in MuJoCo envs step.
 *
 * For each built-in MuJoCo env (every registry entry of kind 'mujoco'):
 * - wasm: single-thread env steps/s of `MujocoEnv.step` in this thread (frame skip,
 *   observation and reward included), random actions from a precomputed pool, episodes reset
 *   when they end, after an untimed warm-up (V8 tiers the WASM up over the first 1-2 s);
 * - native: the same XML stepped by native MuJoCo (Debian's libmujoco, 2.2.2) through
 *   benchmarks/native/mjbench.c, compiled now with gcc into a temp folder: same frame skip,
 *   random controls in the actuator ranges, resets at the same horizon. MuJoCo 2.2.2 does not
 *   know `<size memory>` and `<flag island>`, so those two attributes are stripped from a temp
 *   copy of the XML (and the output says so). Without gcc or the headers, native is skipped;
 * - ratio = wasm / native (target >= 0.6);
 * - with --native-mujoco DIR, a second native reference: the same program built against the
 *   MuJoCo in DIR (include/mujoco/mujoco.h and libmujoco.so*, e.g. the `mujoco/` folder of the
 *   Python wheel of the WASM build's own version; benchmarks/native_wheel.sh fetches it), run on
 *   the XML as written, and its ratios. Reported for information: the targets use Debian's
 *   MuJoCo, the reference the issue names;
 * - physics ratio: the C program's loop (set ctrl, mj_step x frame skip, mj_resetData +
 *   mj_forward at the horizon) run on the WASM module in this thread, over native: how much of
 *   the gap is MuJoCo's WASM build itself rather than prefrl's env code;
 * - worker speed-up: steps/s over all envs of `createVecEnv` with 2 workers over 1 worker, the
 *   same number of envs (target >= 1.7);
 * - two threads over one without hand-over: the same vec env stepped in this thread alone
 *   (workers 0) and in inline mode with 1 worker (this thread steps half the envs while the
 *   worker steps the other half), and their ratio: how the stepping scales from one thread to
 *   two when the 1-thread reference pays no hand-over at all (the 1-worker reference does).
 * Measurements are interleaved (wasm, physics only, native, the second native, 1 worker, 2 workers, in-process, inline, repeated) and the median of
 * the repeats is reported, because shared machines are noisy. Steps per CPU-second are
 * reported too (process CPU time): on a busy machine they show the code's own speed.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { flags } from '../../core/config.js';
import { UsageError } from '../../core/errors.js';
import { median } from '../../core/math.js';
import { asset } from '../../core/paths.js';
import { Progress } from '../../core/progress.js';
import { Rng } from '../../core/rng.js';
import { MujocoEnv } from '../../envs/mujoco/env.js';
import { loadMujoco } from '../../envs/mujoco/runtime.js';
import { makeEnv, type RegisteredEnv, registeredEnvs } from '../../envs/registry.js';
import { createVecEnv, type VecEnv } from '../../envs/vec.js';
import { type Command, formatTable, onInterrupt, parseOrHelp, printJson } from '../command.js';
import { codeVersion, codeVersionText } from '../bench/code_version.js';
import { jsonFlag, quietFlag, seedFlag } from './common_flags.js';
import { repeatsFlag } from './bench_flags.js';
import { commandSummary } from '../command_index.js';

const TARGETS = { ratio: 0.6, workerSpeedup: 1.7 } as const;

const spec = {
  command: 'prefrl bench envs',
  summary: 'Benchmark the built-in MuJoCo envs: WASM vs native MuJoCo steps/s, and 2 worker threads vs 1.',
  flags: {
    envs: flags.list({ doc: 'envs to benchmark, comma-separated', optional: true, defaultDoc: 'every built-in MuJoCo env' }),
    duration: flags.float({ doc: 'seconds per timed measurement', default: 1, min: 0.05, max: 60 }),
    repeats: repeatsFlag('repeats of each measurement', 5, 'each lasts --duration'),
    // Not --warmup: in bench reward that counts untimed steps (bench agents: --ppo-warmup, --iql-warmup); here it is time.
    warmupSeconds: flags.float({ doc: 'untimed seconds before timing each env and each vec env (V8 tier-up)', default: 1.5, min: 0, max: 60 }),
    vecEnvs: flags.int({ doc: "envs per vec env in the 1 vs 2 worker comparison (each step costs one wake-up per worker, so few cheap envs measure the hand-off, not the stepping)", default: 32, min: 2, max: 256 }),
    native: flags.bool({ doc: 'compare with native MuJoCo (gcc + libmujoco-dev); --no-native skips it', default: true }),
    nativeMujoco: flags.string({
      doc: 'also compare with the MuJoCo in this folder (include/mujoco/mujoco.h and libmujoco.so*, e.g. the mujoco/ folder of the Python wheel; benchmarks/native_wheel.sh fetches the WASM build\'s version)',
      optional: true,
    }),
    seed: seedFlag('the envs and the random actions'),
    json: jsonFlag({ when: 'after the table' }),
    quiet: quietFlag(),
  },
  epilog: [
    'Examples:',
    '  prefrl bench envs',
    '  prefrl bench envs --envs cheetah-run,hopper-hop --repeats 3 --json',
  ].join('\n'),
};

export interface EnvBenchResult {
  readonly id: string;
  readonly frameSkip: number;
  readonly horizon: number;
  /** Median single-thread WASM env steps/s (wall clock). */
  readonly stepsPerSec: number;
  /** Median native env steps/s, null when native was skipped or failed. */
  readonly nativeStepsPerSec: number | null;
  /** Median over repeats of wasm / native, each pair measured back to back. */
  readonly ratio: number | null;
  /** Median steps/s of the C program's loop run on the WASM module (no task code). */
  readonly physicsStepsPerSec: number;
  /** Median over repeats of that physics-only WASM loop / native. */
  readonly physicsRatio: number | null;
  /** The same three against the --native-mujoco build (null without it, or when it failed). */
  readonly native2StepsPerSec: number | null;
  readonly ratio2: number | null;
  readonly physicsRatio2: number | null;
  readonly workers1StepsPerSec: number;
  readonly workers2StepsPerSec: number;
  /** Median over repeats of workers2 / workers1, each pair measured back to back. */
  readonly workerSpeedup: number;
  /** The vec env in this thread alone (workers 0), and in inline mode with 1 worker (2 threads). */
  readonly inProcessStepsPerSec: number;
  readonly inlineStepsPerSec: number;
  /** Median over repeats of inline / in-process, each pair measured back to back. */
  readonly inlineSpeedup: number;
  /** Median steps per CPU-second (process CPU time), WASM and native, and their ratio. */
  readonly stepsPerCpuSec: number;
  readonly nativeStepsPerCpuSec: number | null;
  readonly cpuRatio: number | null;
  /**
   * Best repeat (max steps/s) of each measurement and the ratios of the bests: on a shared
   * machine, interference only ever slows a run down, so the best repeat is the closest to
   * the code's own speed (the medians above are the headline numbers).
   */
  readonly best: { readonly stepsPerSec: number; readonly nativeStepsPerSec: number | null; readonly ratio: number | null; readonly workerSpeedup: number };
  /** What was stripped from the native copy of the XML. */
  readonly nativeStripped: readonly string[];
  /** Every repeat, in order (steps/s). */
  readonly samples: {
    readonly wasm: number[];
    readonly physics: number[];
    readonly native: number[];
    readonly native2: number[];
    readonly workers1: number[];
    readonly workers2: number[];
    readonly inProcess: number[];
    readonly inline: number[];
  };
}

/**
 * Median over repeats of a[r] / b[r]. The two were measured back to back in each repeat, so
 * slow drifts of a shared machine (other jobs, the host moving the VM's CPUs) affect both
 * sides of each ratio alike; the ratio of the two medians can pair a fast run with a slow one.
 */
function pairedRatio(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) return median(a) / median(b);
  return median(a.map((x, r) => x / b[r]));
}

function run(cmd: string, args: readonly string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string; error?: Error }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, encoding: 'utf8', maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : null) : 0;
      resolve({ code, stdout, stderr, ...(error ? { error } : {}) });
    });
  });
}

/** Strip what native MuJoCo 2.2.2 rejects: `memory` of <size> and `island` of <flag>. */
export function stripForNative(xml: string): { xml: string; stripped: string[] } {
  const stripped: string[] = [];
  let out = xml.replace(/<size\b[^>]*>/g, (tag) =>
    tag.replace(/\s+memory\s*=\s*("[^"]*"|'[^']*')/, (attr) => {
      stripped.push(`<size${attr}>`);
      return '';
    }),
  );
  out = out.replace(/<flag\b[^>]*>/g, (tag) =>
    tag.replace(/\s+island\s*=\s*("[^"]*"|'[^']*')/, (attr) => {
      stripped.push(`<flag${attr}>`);
      return '';
    }),
  );
  return { xml: out, stripped };
}

interface Native {
  readonly bin: string;
  readonly dir: string;
  readonly version: string;
}

/**
 * The MuJoCo of a --native-mujoco folder: its include folder and the file name of its shared
 * library (libmujoco.so, or a versioned libmujoco.so.X.Y.Z), or a string saying what is missing.
 */
export function mujocoFolder(dir: string): { include: string; lib: string } | string {
  const root = resolve(dir);
  if (!existsSync(root) || !statSync(root).isDirectory()) return `${dir} is not a folder`;
  const include = join(root, 'include');
  if (!existsSync(join(include, 'mujoco', 'mujoco.h'))) return `${dir} has no include/mujoco/mujoco.h`;
  const libs = readdirSync(root).filter((n) => /^libmujoco\.so(\.\d+)*$/.test(n)).sort();
  if (libs.length === 0) return `${dir} has no libmujoco.so*`;
  return { include, lib: libs[libs.length - 1] };
}

/**
 * Compile mjbench.c into a temp folder, against Debian's MuJoCo or (with `folder`) the one in
 * a --native-mujoco folder (found at run time through the binary's rpath); a string says why
 * native is skipped.
 */
async function buildNative(folder?: string): Promise<Native | string> {
  const src = asset('benchmarks/native/mjbench.c');
  if (!existsSync(src)) return `source ${src} not found`;
  const gcc = await run('gcc', ['--version'], 10_000);
  if (gcc.code !== 0) return 'gcc not found (install gcc to compare with native MuJoCo)';
  let link = ['-lmujoco'];
  if (folder !== undefined) {
    const found = mujocoFolder(folder);
    if (typeof found === 'string') return found;
    const root = resolve(folder);
    link = [`-I${found.include}`, `-L${root}`, `-l:${found.lib}`, `-Wl,-rpath,${root}`];
  } else if (!existsSync('/usr/include/mujoco/mujoco.h')) return 'MuJoCo headers not found (/usr/include/mujoco/mujoco.h; install libmujoco-dev)';
  const dir = mkdtempSync(join(tmpdir(), 'prefrl-mjbench-'));
  const bin = join(dir, 'mjbench');
  const cc = await run('gcc', ['-O2', '-o', bin, src, ...link, '-lm'], 120_000);
  if (cc.code !== 0) {
    rmSync(dir, { recursive: true, force: true });
    const first = cc.stderr.split('\n').find((l) => /error/i.test(l)) ?? cc.stderr.split('\n')[0] ?? '';
    return `compiling mjbench.c failed: ${first.trim() || `exit code ${cc.code}`}`;
  }
  const v = await run(bin, ['--version'], 10_000);
  if (v.code !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return `mjbench does not run: ${v.stderr.trim() || `exit code ${v.code}`}`;
  }
  return { bin, dir, version: v.stdout.trim() };
}

/** One timed run of a native build on `xml` with the env's frame skip and horizon: steps/s (wall and CPU), or why it failed. */
async function runNative(native: Native, xml: string, env: MujocoEnv, seconds: number, seed: number): Promise<{ stepsPerSec: number; stepsPerCpuSec: number } | { error: string }> {
  const args = [xml, String(env.task.frameSkip), String(env.spec.horizon), String(seconds), '0.2', String(seed)];
  const out = await run(native.bin, args, (seconds + 30) * 1000);
  if (out.code !== 0) return { error: (out.stderr.trim() || out.error?.message || `exit code ${out.code}`).split('\n').join(' ') };
  const j = JSON.parse(out.stdout.trim().split('\n').pop() ?? '{}') as { stepsPerSec: number; envSteps: number; cpuSeconds: number };
  return { stepsPerSec: j.stepsPerSec, stepsPerCpuSec: j.envSteps / j.cpuSeconds };
}

/** Random actions in the action box: `count` rows of `size` = k x actDim values. */
function actionPool(rng: Rng, env: MujocoEnv, count: number, envsPerRow: number): Float64Array[] {
  const { actDim, actLow, actHigh } = env.spec;
  return Array.from({ length: count }, () => {
    const a = new Float64Array(actDim * envsPerRow);
    for (let j = 0; j < a.length; j++) a[j] = rng.range(actLow[j % actDim], actHigh[j % actDim]);
    return a;
  });
}

/** Linux CPU pressure (PSI "some avg10/avg60": % of time runnable threads waited for a CPU), or null. */
function cpuPressure(): string | null {
  try {
    const line = readFileSync('/proc/pressure/cpu', 'utf8').split('\n')[0] ?? '';
    const m = /avg10=([\d.]+) avg60=([\d.]+)/.exec(line);
    return m ? `${m[1]}%/${m[2]}%` : null;
  } catch {
    return null;
  }
}

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Call `step(i)` for i = 0, 1, ... in batches of 64 until `seconds` have passed; returns [steps, ms]. */
function timeBatches(step: (i: number) => void, seconds: number): [number, number] {
  let n = 0;
  const t0 = performance.now();
  let t1 = t0;
  for (;;) {
    for (let k = 0; k < 64; k++) step(n + k);
    n += 64;
    t1 = performance.now();
    if (t1 - t0 >= seconds * 1000) break;
  }
  return [n, t1 - t0];
}

/** Step one env in this thread for `seconds`; returns [steps/s wall, steps/s CPU]. */
function timeSingle(env: MujocoEnv, pool: readonly Float64Array[], seconds: number): [number, number] {
  const mask = pool.length - 1;
  const c0 = cpuSeconds();
  const [n, ms] = timeBatches((i) => {
    const r = env.step(pool[i & mask]);
    if (r.terminated || r.truncated) env.reset();
  }, seconds);
  const cpu = cpuSeconds() - c0;
  return [n / (ms / 1000), n / cpu];
}

/**
 * The native program's loop on the WASM module, in this thread: set ctrl from the pool,
 * mj_step x frame skip, mj_resetData + mj_forward every `horizon` env steps; no observation,
 * reward or termination code. Leaves the env's data in an arbitrary state (reset it after).
 */
function timePhysics(env: MujocoEnv, pool: readonly Float64Array[], seconds: number): number {
  const p = env.physics;
  const { mj, model, data } = p;
  const frameSkip = env.task.frameSkip;
  const horizon = env.spec.horizon;
  const mask = pool.length - 1;
  mj.mj_resetData(model, data);
  mj.mj_forward(model, data);
  let t = 0;
  const [n, ms] = timeBatches((i) => {
    p.views.ctrl.set(pool[i & mask]);
    for (let f = 0; f < frameSkip; f++) mj.mj_step(model, data);
    if (++t >= horizon) {
      t = 0;
      mj.mj_resetData(model, data);
      mj.mj_forward(model, data);
    }
  }, seconds);
  return n / (ms / 1000);
}

/** Step a vec env for `seconds`; returns env steps/s over all its envs. */
async function timeVec(vec: VecEnv, pool: readonly Float64Array[], seconds: number): Promise<number> {
  let n = 0;
  const t0 = performance.now();
  let t1 = t0;
  for (;;) {
    await vec.step(pool[n % pool.length]);
    n++;
    t1 = performance.now();
    if (t1 - t0 >= seconds * 1000) break;
  }
  return (n * vec.numEnvs) / ((t1 - t0) / 1000);
}

function selectEnvs(names: readonly string[] | undefined): RegisteredEnv[] {
  const mujoco = registeredEnvs().filter((e) => e.kind === 'mujoco');
  if (!names) return mujoco;
  // Worded as bench oracle's --envs.
  if (names.every((n) => n.trim() === '')) throw new UsageError('--envs: name at least one env (or leave --envs out for every built-in MuJoCo env)');
  return names.map((name) => {
    const e = registeredEnvs().find((r) => r.id === name);
    if (!e) throw new UsageError(`--envs: unknown env ${JSON.stringify(name)} (MuJoCo envs: ${mujoco.map((m) => m.id).join(', ')})`);
    if (e.kind !== 'mujoco') throw new UsageError(`--envs: ${name} is not a MuJoCo env (MuJoCo envs: ${mujoco.map((m) => m.id).join(', ')})`);
    return e;
  });
}

const fmtRate = (x: number | null) => (x === null || !Number.isFinite(x) ? '-' : x >= 1e4 ? `${(x / 1e3).toFixed(1)}k` : x.toFixed(0));
const fmtRatio = (x: number | null) => (x === null || !Number.isFinite(x) ? '-' : x.toFixed(2));

export const benchEnvsCommand: Command = {
  name: 'bench envs',
  summary: commandSummary('bench envs'),
  async run(argv, ctx) {
    // The spelling before 2026-12-07: named, rather than refused as an unknown flag.
    if (argv.some((a) => a === '--warmup' || a.startsWith('--warmup='))) {
      throw new UsageError('--warmup: bench envs takes --warmup-seconds (untimed seconds before timing; in bench reward --warmup counts untimed steps)');
    }
    const parsed = parseOrHelp(argv, spec, ctx.io);
    if (!parsed) return 0;
    const f = parsed.flags;
    const entries = selectEnvs(f.envs);
    if (f.nativeMujoco !== undefined) {
      const found = mujocoFolder(f.nativeMujoco);
      if (typeof found === 'string') throw new UsageError(`--native-mujoco: ${found}`);
    }
    const log = ctx.logger;
    const notes: string[] = [];
    const load0 = loadavg();
    const pressure0 = cpuPressure();

    let native: Native | null = null;
    let nativeInfo: { version: string } | { skipped: string };
    if (!f.native) nativeInfo = { skipped: 'disabled with --no-native' };
    else {
      log.info('bench envs: compiling benchmarks/native/mjbench.c against native MuJoCo');
      const built = await buildNative();
      if (typeof built === 'string') {
        nativeInfo = { skipped: built };
        log.warn(`bench envs: native MuJoCo skipped: ${built}`);
      } else {
        native = built;
        nativeInfo = { version: built.version };
      }
    }

    // The second native reference (--native-mujoco): an unusable folder is a usage error.
    let native2: Native | null = null;
    if (f.nativeMujoco !== undefined) {
      log.info(`bench envs: compiling benchmarks/native/mjbench.c against the MuJoCo in ${f.nativeMujoco}`);
      const built = await buildNative(f.nativeMujoco);
      if (typeof built === 'string') throw new UsageError(`--native-mujoco: ${built}`);
      native2 = built;
    }

    const perEnv = f.repeats * (6 + (native ? 1 : 0) + (native2 ? 1 : 0));
    const progress = new Progress('bench envs', entries.length * perEnv, { unit: 'measurements', sink: ctx.io.stderr, tty: ctx.io.tty, clock: ctx.clock, silent: f.quiet });
    const results: EnvBenchResult[] = [];
    const strippedAll = new Set<string>();
    const removeNative = (): void => {
      for (const n of [native, native2]) if (n) rmSync(n.dir, { recursive: true, force: true });
    };
    // Ctrl-C: the envs measured so far are reported (with --json, in the JSON object); the native builds go.
    const stopHint = onInterrupt(
      ctx,
      () => {
        removeNative();
        return { line: `stopped after ${results.length} of ${entries.length} envs; bench envs saves nothing, run it again for the table`, fields: { envs: results, of: entries.map((e) => e.id) } };
      },
      { json: f.json },
    );
    try {
      for (const entry of entries) {
        const env = await makeEnv({ id: entry.id, seed: f.seed }, { logger: log });
        const vecs: VecEnv[] = [];
        try {
          if (!(env instanceof MujocoEnv)) throw new Error(`${entry.id}: registry kind 'mujoco' but not a MujocoEnv`);
          const rng = new Rng(f.seed).fork('bench-envs').fork(entry.id);
          const pool = actionPool(rng.fork('single'), env, 4096, 1);

          // The native copies of the XML (built-in models are self-contained strings): Debian's
          // build gets it without what it does not know, the second build as written.
          const src = env.source;
          const raw = native || native2 ? (src.kind === 'xml' ? src.xml : readFileSync(src.path, 'utf8')) : '';
          let xmlPath: string | null = null;
          let stripped: string[] = [];
          if (native) {
            let nativeXml: string;
            ({ xml: nativeXml, stripped } = stripForNative(raw));
            for (const s of stripped) strippedAll.add(s.startsWith('<size') ? '<size memory>' : '<flag island>');
            xmlPath = join(native.dir, `${entry.id}.xml`);
            writeFileSync(xmlPath, nativeXml);
          }
          let xmlPath2: string | null = null;
          if (native2) {
            xmlPath2 = join(native2.dir, `${entry.id}.xml`);
            writeFileSync(xmlPath2, raw);
          }

          for (const workers of [1, 2, 0]) vecs.push(await createVecEnv({ id: entry.id }, { numEnvs: f.vecEnvs, workers, seed: f.seed }));
          vecs.push(await createVecEnv({ id: entry.id }, { numEnvs: f.vecEnvs, workers: 1, inline: true, seed: f.seed }));
          const vecPool = actionPool(rng.fork('vec'), env, 64, f.vecEnvs);

          // Warm-ups: this thread's WASM, then each worker's.
          progress.tick(0, `${entry.id}: warming up`);
          timePhysics(env, pool, f.warmupSeconds / 2);
          env.reset();
          timeSingle(env, pool, f.warmupSeconds);
          for (const v of vecs) {
            await v.reset();
            await timeVec(v, vecPool, f.warmupSeconds);
          }

          const samples = {
            wasm: [] as number[],
            physics: [] as number[],
            native: [] as number[],
            native2: [] as number[],
            workers1: [] as number[],
            workers2: [] as number[],
            inProcess: [] as number[],
            inline: [] as number[],
          };
          const cpuWasm: number[] = [];
          const cpuNative: number[] = [];
          let nativeError: string | null = null;
          let nativeError2: string | null = null;
          for (let r = 0; r < f.repeats; r++) {
            const [wall, cpu] = timeSingle(env, pool, f.duration);
            samples.wasm.push(wall);
            cpuWasm.push(cpu);
            progress.tick(1, `${entry.id}: wasm`);
            samples.physics.push(timePhysics(env, pool, f.duration));
            env.reset();
            progress.tick(1, `${entry.id}: wasm physics only`);
            if (native && xmlPath) {
              if (nativeError === null) {
                const got = await runNative(native, xmlPath, env, f.duration, f.seed + r);
                if ('error' in got) {
                  nativeError = got.error;
                  log.warn(`bench envs: native ${entry.id} failed: ${nativeError}`);
                } else {
                  samples.native.push(got.stepsPerSec);
                  cpuNative.push(got.stepsPerCpuSec);
                }
              }
              progress.tick(1, `${entry.id}: native`);
            }
            if (native2 && xmlPath2) {
              if (nativeError2 === null) {
                const got = await runNative(native2, xmlPath2, env, f.duration, f.seed + r);
                if ('error' in got) {
                  nativeError2 = got.error;
                  log.warn(`bench envs: native MuJoCo ${native2.version} on ${entry.id} failed: ${nativeError2}`);
                } else samples.native2.push(got.stepsPerSec);
              }
              progress.tick(1, `${entry.id}: native ${native2.version}`);
            }
            samples.workers1.push(await timeVec(vecs[0], vecPool, f.duration));
            progress.tick(1, `${entry.id}: 1 worker`);
            samples.workers2.push(await timeVec(vecs[1], vecPool, f.duration));
            progress.tick(1, `${entry.id}: 2 workers`);
            samples.inProcess.push(await timeVec(vecs[2], vecPool, f.duration));
            progress.tick(1, `${entry.id}: vec env in this thread`);
            samples.inline.push(await timeVec(vecs[3], vecPool, f.duration));
            progress.tick(1, `${entry.id}: this thread + 1 worker`);
          }
          if (nativeError !== null) notes.push(`${entry.id}: native MuJoCo could not run this model: ${nativeError}`);
          if (nativeError2 !== null) notes.push(`${entry.id}: native MuJoCo ${native2?.version} could not run this model: ${nativeError2}`);
          const nat2 = samples.native2.length > 0 ? median(samples.native2) : null;
          const wasm = median(samples.wasm);
          const nat = samples.native.length > 0 ? median(samples.native) : null;
          const w1 = median(samples.workers1);
          const w2 = median(samples.workers2);
          const cpuW = median(cpuWasm);
          const cpuN = cpuNative.length > 0 ? median(cpuNative) : null;
          results.push({
            id: entry.id,
            frameSkip: env.task.frameSkip,
            horizon: env.spec.horizon,
            stepsPerSec: wasm,
            nativeStepsPerSec: nat,
            ratio: nat === null ? null : pairedRatio(samples.wasm, samples.native),
            physicsStepsPerSec: median(samples.physics),
            physicsRatio: nat === null ? null : pairedRatio(samples.physics, samples.native),
            native2StepsPerSec: nat2,
            ratio2: nat2 === null ? null : pairedRatio(samples.wasm, samples.native2),
            physicsRatio2: nat2 === null ? null : pairedRatio(samples.physics, samples.native2),
            workers1StepsPerSec: w1,
            workers2StepsPerSec: w2,
            workerSpeedup: pairedRatio(samples.workers2, samples.workers1),
            inProcessStepsPerSec: median(samples.inProcess),
            inlineStepsPerSec: median(samples.inline),
            inlineSpeedup: pairedRatio(samples.inline, samples.inProcess),
            stepsPerCpuSec: cpuW,
            nativeStepsPerCpuSec: cpuN,
            cpuRatio: cpuN === null ? null : pairedRatio(cpuWasm, cpuNative),
            best: {
              stepsPerSec: Math.max(...samples.wasm),
              nativeStepsPerSec: samples.native.length > 0 ? Math.max(...samples.native) : null,
              ratio: samples.native.length > 0 ? Math.max(...samples.wasm) / Math.max(...samples.native) : null,
              workerSpeedup: Math.max(...samples.workers2) / Math.max(...samples.workers1),
            },
            nativeStripped: stripped,
            samples,
          });
        } finally {
          for (const v of vecs) await v.close();
          env.dispose();
        }
      }
    } finally {
      stopHint();
      removeNative();
    }
    progress.finish('done');

    const load1 = loadavg();
    const pressure1 = cpuPressure();
    const misses: string[] = [];
    for (const r of results) {
      if (r.ratio !== null && r.ratio < TARGETS.ratio) misses.push(`${r.id} ratio ${r.ratio.toFixed(2)} < ${TARGETS.ratio}`);
      if (!(r.workerSpeedup >= TARGETS.workerSpeedup)) misses.push(`${r.id} worker speed-up ${r.workerSpeedup.toFixed(2)} < ${TARGETS.workerSpeedup}`);
    }
    const pass = misses.length === 0;
    if (native && strippedAll.size > 0) {
      notes.push(`native: stripped ${[...strippedAll].join(' and ')} from temp copies of the XML (MuJoCo ${native.version} does not know them)`);
    }
    if (!native) notes.push('ratio target not checked: native MuJoCo was skipped');
    notes.push(
      'wasm: MujocoEnv.step in the main thread (frame skip, observation, reward terms; episodes reset at their end); native: mj_step x frame skip with random controls, ' +
        'resets at the horizon only (no task termination), no observation or reward code; physics: the native loop run on the WASM module (no task code), ' +
        'so "phys ratio" is the share of native speed MuJoCo\'s WASM build itself reaches',
      `workers: createVecEnv with ${f.vecEnvs} envs, steps/s over all envs, 1 vs 2 worker threads (the main thread waits); "1 thread": the same vec env stepped in the main thread alone, ` +
        '"main+1": inline mode, the main thread stepping half the envs while 1 worker steps the other half, "2 vs 1 thr": main+1 over 1 thread (two threads over one, the one paying no hand-over)',
      `steps/s: medians of ${f.repeats} interleaved repeats of ${f.duration} s after ${f.warmupSeconds} s warm-ups; ratio and speed-up: medians of the per-repeat ratios ` +
        '(each pair measured back to back); "best": ratio of the fastest repeats; ' +
        'cpu ratio: steps per CPU-second (process CPU time), wasm over native',
      `machine: ${availableParallelism()} CPUs (${cpus()[0]?.model ?? 'unknown'}), node ${process.version}, load average ${load0.map((x) => x.toFixed(2)).join(' ')} at start, ${load1
        .map((x) => x.toFixed(2))
        .join(' ')} at end`,
    );
    if (pressure0 !== null && pressure1 !== null) {
      notes.push(
        `CPU pressure (Linux PSI some avg10/avg60: share of time runnable threads waited for a CPU) ${pressure0} at start, ${pressure1} at end; ` +
          'well above 0 means other processes competed for the cores and the worker speed-up in particular reads low',
      );
    }
    if (native2) {
      notes.push(
        `native ${native2.version} (--native-mujoco ${f.nativeMujoco}): the same program built against that MuJoCo, on the XML as written; ` +
          `"ratio ${native2.version}" and "phys ${native2.version}" are wasm and the physics-only loop over it, for information (the targets use ${native ? `MuJoCo ${native.version}` : "Debian's MuJoCo"})`,
      );
    }
    if (misses.length > 0) notes.push(`missed: ${misses.join('; ')}`);

    const rows = results.map((r) => [
      r.id,
      String(r.frameSkip),
      fmtRate(r.stepsPerSec),
      fmtRate(r.nativeStepsPerSec),
      fmtRatio(r.ratio),
      fmtRatio(r.best.ratio),
      fmtRatio(r.physicsRatio),
      fmtRatio(r.cpuRatio),
      fmtRate(r.workers1StepsPerSec),
      fmtRate(r.workers2StepsPerSec),
      fmtRatio(r.workerSpeedup),
      fmtRatio(r.best.workerSpeedup),
      fmtRate(r.inProcessStepsPerSec),
      fmtRate(r.inlineStepsPerSec),
      fmtRatio(r.inlineSpeedup),
      ...(native2 ? [fmtRate(r.native2StepsPerSec), fmtRatio(r.ratio2), fmtRatio(r.physicsRatio2)] : []),
    ]);
    const v2 = native2?.version ?? '';
    const wasmVersion = (await loadMujoco()).mj_versionString();
    const software = codeVersion();
    const header = [
      ...['env', 'frame skip', 'wasm steps/s', 'native steps/s', 'ratio', 'best', 'phys ratio', 'cpu ratio', '1 worker', '2 workers', 'speed-up', 'best', '1 thread', 'main+1', '2 vs 1 thr'],
      ...(native2 ? [`native ${v2} steps/s`, `ratio ${v2}`, `phys ${v2}`] : []),
    ];
    const out = [
      formatTable(header, rows),
      '',
      `targets: ratio >= ${TARGETS.ratio}, speed-up >= ${TARGETS.workerSpeedup}: ${pass ? 'PASS' : 'FAIL'}`,
      `wasm: MuJoCo ${wasmVersion} (@mujoco/mujoco)`,
      `code: ${codeVersionText(software)}`,
      `native: ${'version' in nativeInfo ? `MuJoCo ${nativeInfo.version}` : `skipped (${nativeInfo.skipped})`}${native2 ? `; also MuJoCo ${native2.version} from ${f.nativeMujoco}` : ''}`,
      ...notes.map((n) => `- ${n}`),
    ];
    ctx.io.stdout.write(`${out.join('\n')}\n`);
    // The table stays above the JSON line, so one run gives both (benchmarks/results/envs.*).
    const native2Info = native2 ? { version: native2.version, folder: resolve(f.nativeMujoco as string) } : null;
    if (f.json) printJson(ctx.io, { envs: results, targets: TARGETS, pass, wasm: { version: wasmVersion }, native: nativeInfo, native2: native2Info, notes, software });
    return 0;
  },
};
