/**
 * `prefrl bench agents`: how fast the agents learn, next to the same computations in PyTorch.
 *
 *   PPO update: `ppoUpdate` (agents/ppo.ts) on a synthetic 2,048-step batch of cheetah-run sizes
 *     (obs 17, act 6; 64x64 tanh actor and critic), 10 epochs x 32 minibatches of 64, as CleanRL.
 *     Every repeat starts from the same weights and a fresh Adam, so repeats do identical work.
 *     Reference: benchmarks/torch/ppo_update.py (CleanRL's inner loop).
 *   IQL update: `Iql.update` (agents/iql.ts) on a batch of 256 drawn from a synthetic dataset
 *     (obs 17, act 6): V, twin Q, Polyak, Gaussian actor, 256x256 networks.
 *     Reference: benchmarks/torch/iql_update.py (CORL's train step).
 * Each is timed after warm-up; the median of the repeats is reported, with every repeat. PyTorch
 * runs in the same invocation (when an interpreter with torch is found) once per thread count in
 * --torch-threads; ratios are prefrl time / PyTorch time (< 1: prefrl is faster). prefrl runs
 * on one thread (plain TypeScript for PPO, tfjs for IQL). Inputs are random numbers of the right
 * shapes: speed does not depend on them. The 1-minute load average is recorded before and
 * after, because the machine may be shared.
 */
import { loadavg } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { BatchSampler, Iql, type OfflineData } from '../../agents/iql.js';
import { Adam } from '../../agents/mlp.js';
import { PPO_DEFAULTS, PpoPolicy, ppoUpdate, resolvePpoConfig } from '../../agents/ppo.js';
import { gaussianLogProb } from '../../agents/ppo_math.js';
import { initBackend } from '../../core/backend.js';
import { flags } from '../../core/config.js';
import { median } from '../../core/math.js';
import { asset } from '../../core/paths.js';
import { Rng } from '../../core/rng.js';
import { type Command, formatTable, letSignalsIn, onInterrupt, parseOrHelp } from '../command.js';
import { type CodeVersion, codeVersion, codeVersionText } from '../bench/code_version.js';
import { checkBenchOut, mdRow, showBenchResult } from '../bench/bench_out.js';
import { type BenchMachine, benchMachine, fmtFixed, runJsonScript, torchReference } from '../torch.js';
import { actDimFlag, obsDimFlag, pythonFlag, repeatsFlag, torchFlag, torchThreadCounts, torchThreadsFlag, warmupFlag } from './bench_flags.js';
import { benchBackendFlag, jsonFlag, seedFlag } from './common_flags.js';
import { commandSummary } from '../command_index.js';

const spec = {
  command: 'prefrl bench agents',
  summary: commandSummary('bench agents'),
  flags: {
    obsDim: obsDimFlag(),
    actDim: actDimFlag,
    ppoWarmup: warmupFlag('PPO updates', 1),
    ppoRepeats: repeatsFlag('PPO updates', 5),
    iqlWarmup: warmupFlag('IQL updates', 5),
    iqlRepeats: repeatsFlag('IQL updates', 20),
    torch: torchFlag,
    torchThreads: torchThreadsFlag('1,<number of CPUs>'),
    python: pythonFlag,
    backend: benchBackendFlag('IQL; PPO does not use it'),
    seed: seedFlag('the weights and the random data'),
    out: flags.string({ doc: 'folder to write agents.json and agents.md into', optional: true, defaultDoc: 'none: the results are printed, not written' }),
    json: jsonFlag(),
  },
};

interface TorchRun {
  readonly torch: string;
  readonly python: string;
  readonly threads: number;
  readonly update_ms: number;
  readonly update_ms_all: number[];
  readonly blas: string | null;
  readonly blas_libs: string[];
}

const round1 = (v: number) => Math.round(v * 10) / 10;
const round3 = (v: number) => Math.round(v * 1000) / 1000;

/**
 * The ms of `repeats` calls of `f` after `warmup` untimed ones, pushed onto `out` as each is timed
 * (and returned); `prepare` runs untimed before each. The event loop gets a turn before each call
 * (a Ctrl-C stops there), outside the timed region.
 */
async function timeIt(out: number[], f: () => void, warmup: number, repeats: number, prepare: () => void = () => undefined): Promise<number[]> {
  for (let i = 0; i < warmup; i++) {
    await letSignalsIn();
    prepare();
    f();
  }
  for (let i = 0; i < repeats; i++) {
    await letSignalsIn();
    prepare();
    const t0 = performance.now();
    f();
    out.push(performance.now() - t0);
  }
  return out;
}

/** One PPO update of CleanRL sizes on a synthetic batch; every repeat from the same start. Timings go onto `out`. */
function benchPpo(out: number[], obsDim: number, actDim: number, warmup: number, repeats: number, seed: number): Promise<number[]> {
  const c = resolvePpoConfig({ numEnvs: 1, numSteps: 2048, numMinibatches: PPO_DEFAULTS.numMinibatches, updateEpochs: PPO_DEFAULTS.updateEpochs });
  const B = c.numEnvs * c.numSteps;
  const rng = new Rng(seed).fork('ppo-bench');
  const pol = new PpoPolicy(obsDim, actDim, c.hidden);
  pol.init(rng.fork('init'));
  const theta0 = pol.theta.slice();
  const obsN = new Float32Array(B * obsDim);
  rng.fork('obs').fillNormal(obsN);
  const mean = pol.mean(obsN, B);
  const actions = new Float32Array(B * actDim);
  const noise = rng.fork('actions');
  for (let k = 0; k < actions.length; k++) actions[k] = mean[k] + Math.exp(pol.logStd[k % actDim]) * noise.normal();
  const batch = { obsN, actions, logProbs: gaussianLogProb(mean, pol.logStd, actions, B, actDim), values: pol.values(obsN, B) };
  const advantages = new Float32Array(B);
  rng.fork('adv').fillNormal(advantages);
  const returns = Float32Array.from(advantages, (a, i) => a + batch.values[i]);
  let adam = new Adam(pol.theta.length, c.lr, 0.9, 0.999, 1e-5);
  let shuffle = rng.fork('shuffle');
  return timeIt(
    out,
    () => void ppoUpdate(pol, adam, shuffle, c, batch, advantages, returns),
    warmup,
    repeats,
    () => {
      pol.theta.set(theta0);
      adam = new Adam(pol.theta.length, c.lr, 0.9, 0.999, 1e-5);
      shuffle = rng.fork('shuffle');
    },
  );
}

/** One IQL update (batch 256) on a synthetic dataset of 100k transitions. Timings go onto `out`. */
async function benchIql(out: number[], obsDim: number, actDim: number, warmup: number, repeats: number, seed: number): Promise<number[]> {
  const n = 100_000;
  const rng = new Rng(seed).fork('iql-bench');
  const obs = new Float32Array(n * obsDim);
  const nextObs = new Float32Array(n * obsDim);
  const actions = new Float32Array(n * actDim);
  const rewards = new Float32Array(n);
  rng.fork('obs').fillNormal(obs);
  rng.fork('next').fillNormal(nextObs);
  rng.fork('act').fillUniform(actions, -1, 1);
  rng.fork('rew').fillNormal(rewards);
  const data: OfflineData = {
    n,
    obsDim,
    actDim,
    obs,
    nextObs,
    actions,
    rewards,
    dones: new Float32Array(n),
    obsMean: new Float32Array(obsDim),
    obsStd: new Float32Array(obsDim).fill(1),
    rewardScale: 1,
  };
  const box = new Float64Array(actDim);
  const iql = new Iql(obsDim, actDim, box.map(() => -1), box.map(() => 1), { seed });
  try {
    const sampler = new BatchSampler(data, iql.config.batchSize, rng.fork('batches'));
    // Losses are read back every update, as CORL logs them with .item() every step.
    return await timeIt(out, () => void iql.update(sampler.next(), true), warmup, repeats);
  } finally {
    iql.dispose();
  }
}

export const benchAgentsCommand: Command = {
  name: 'bench agents',
  summary: spec.summary,
  async run(argv, ctx) {
    const parsed = parseOrHelp(argv, spec, ctx.io);
    if (!parsed) return 0;
    const f = parsed.flags;
    const found = torchReference(f.python, f.torch);
    const uniqueThreads = torchThreadCounts(f.torchThreads, 'one and all CPUs');
    if (f.out) checkBenchOut(f.out);
    const backend = await initBackend(f.backend);
    const log = ctx.logger;
    const loadBefore = loadavg()[0];

    // Ctrl-C: the updates timed so far are reported; nothing is written (--out is written at the end, whole).
    const timed = { ppo: [] as number[], iql: [] as number[] };
    const stopHint = onInterrupt(
      ctx,
      () => ({
        line: `stopped after ${timed.ppo.length} of ${f.ppoRepeats} timed PPO and ${timed.iql.length} of ${f.iqlRepeats} timed IQL updates; bench agents wrote nothing${f.out ? ` to ${f.out}` : ''}, run it again for the timings`,
        fields: { ppoMsAll: timed.ppo.map(round1), iqlMsAll: timed.iql.map(round1), out: f.out ?? null, written: false },
      }),
      { json: f.json },
    );
    const torchRuns: { threads: number; ppo: TorchRun | null; iql: TorchRun | null; errors: string[] }[] = [];
    let torchSkipped: string | null = null;
    let tensorsAfter = 0;
    try {
      log.info(`prefrl PPO update: obs ${f.obsDim}, act ${f.actDim}, 2048 steps, 10 epochs x 32 minibatches`);
      await benchPpo(timed.ppo, f.obsDim, f.actDim, f.ppoWarmup, f.ppoRepeats, f.seed);
      log.info(`prefrl IQL update: batch 256, obs ${f.obsDim}, act ${f.actDim}, backend ${backend.name}`);
      const tensorsBefore = tf.memory().numTensors;
      await benchIql(timed.iql, f.obsDim, f.actDim, f.iqlWarmup, f.iqlRepeats, f.seed);
      tensorsAfter = tf.memory().numTensors - tensorsBefore;
      if ('skipped' in found) torchSkipped = found.skipped;
      else await runTorch();
    } finally {
      stopHint();
    }
    const ppoMs = timed.ppo.map(round1);
    const iqlMs = timed.iql.map(round1);

    async function runTorch(): Promise<void> {
      if ('skipped' in found) return;
      for (const t of uniqueThreads) {
        log.info(`PyTorch references with ${found.python} (${t} thread${t === 1 ? '' : 's'})`);
        const common = [`--obs-dim=${f.obsDim}`, `--act-dim=${f.actDim}`, `--threads=${t}`, `--seed=${f.seed}`];
        const ppo = runJsonScript<TorchRun>(found.python, asset('benchmarks/torch/ppo_update.py'), [...common, `--warmup=${f.ppoWarmup}`, `--repeats=${f.ppoRepeats}`]);
        const iq = runJsonScript<TorchRun>(found.python, asset('benchmarks/torch/iql_update.py'), [...common, `--warmup=${f.iqlWarmup}`, `--repeats=${f.iqlRepeats}`]);
        const errors = [ppo, iq].flatMap((r) => ('error' in r ? [r.error] : []));
        for (const e of errors) log.warn(e);
        torchRuns.push({ threads: t, ppo: 'result' in ppo ? ppo.result : null, iql: 'result' in iq ? iq.result : null, errors });
        // A Ctrl-C while the references ran (a terminal's also stops python) is let in here, before anything is written.
        await letSignalsIn();
      }
    }
    if (torchSkipped) log.warn(`PyTorch reference skipped: ${torchSkipped}`);

    const ppoMedian = median(ppoMs);
    const iqlMedian = median(iqlMs);
    const result: BenchResult = {
      bench: 'agents',
      command: `prefrl bench agents${argv.length ? ` ${argv.join(' ')}` : ''}`,
      setup: {
        obsDim: f.obsDim,
        actDim: f.actDim,
        ppo: { batch: 2048, epochs: 10, minibatches: 32, minibatchSize: 64, networks: `actor ${f.obsDim}-64-64-${f.actDim} + critic ${f.obsDim}-64-64-1 (tanh)`, warmup: f.ppoWarmup, repeats: f.ppoRepeats },
        iql: {
          batch: 256,
          networks: `Q1, Q2 ${f.obsDim + f.actDim}-256-256-1, V ${f.obsDim}-256-256-1, actor ${f.obsDim}-256-256-${f.actDim} (relu), 2 target Qs`,
          warmup: f.iqlWarmup,
          repeats: f.iqlRepeats,
        },
      },
      machine: benchMachine(backend.name, loadBefore),
      software: codeVersion(f.out === undefined ? [] : [f.out]),
      prefrl: { ppoUpdateMs: round1(ppoMedian), ppoUpdateMsAll: ppoMs, iqlUpdateMs: round1(iqlMedian), iqlUpdateMsAll: iqlMs, iqlUpdatesPerSec: round1(1000 / iqlMedian), iqlTensorsLeaked: tensorsAfter },
      torch: torchRuns.map((r) => ({
        threads: r.threads,
        version: r.ppo?.torch ?? r.iql?.torch ?? null,
        blas: r.ppo?.blas ?? r.iql?.blas ?? null,
        blasLibs: r.ppo?.blas_libs ?? r.iql?.blas_libs ?? [],
        ppoUpdateMs: r.ppo ? round1(r.ppo.update_ms) : null,
        ppoUpdateMsAll: r.ppo ? r.ppo.update_ms_all.map(round1) : null,
        iqlUpdateMs: r.iql ? round1(r.iql.update_ms) : null,
        iqlUpdateMsAll: r.iql ? r.iql.update_ms_all.map(round1) : null,
        ppoRatio: r.ppo ? round3(ppoMedian / r.ppo.update_ms) : null,
        iqlRatio: r.iql ? round3(iqlMedian / r.iql.update_ms) : null,
        errors: r.errors,
      })),
      torchSkipped,
    };
    showBenchResult(ctx, f, 'agents', result, markdown(result), () => table(result));
    return 0;
  },
};

interface BenchResult {
  bench: 'agents';
  command: string;
  setup: {
    obsDim: number;
    actDim: number;
    ppo: { batch: number; epochs: number; minibatches: number; minibatchSize: number; networks: string; warmup: number; repeats: number };
    iql: { batch: number; networks: string; warmup: number; repeats: number };
  };
  machine: BenchMachine;
  /** The code that was timed: prefrl's version and git commit, the MuJoCo build, Node. */
  software: CodeVersion;
  prefrl: { ppoUpdateMs: number; ppoUpdateMsAll: number[]; iqlUpdateMs: number; iqlUpdateMsAll: number[]; iqlUpdatesPerSec: number; iqlTensorsLeaked: number };
  torch: {
    threads: number;
    version: string | null;
    blas: string | null;
    blasLibs: string[];
    ppoUpdateMs: number | null;
    ppoUpdateMsAll: number[] | null;
    iqlUpdateMs: number | null;
    iqlUpdateMsAll: number[] | null;
    ppoRatio: number | null;
    iqlRatio: number | null;
    errors: string[];
  }[];
  torchSkipped: string | null;
}

const fmt = (v: number | null | undefined, digits = 1): string => fmtFixed(v, digits);

function table(r: BenchResult): string {
  const head = ['', 'prefrl (1 thread)', ...r.torch.map((t) => `PyTorch ${t.version ?? ''} (${t.threads} thr)`), ...r.torch.map((t) => `prefrl / PyTorch (${t.threads} thr)`)];
  const rows = [
    ['PPO update, ms (median)', fmt(r.prefrl.ppoUpdateMs), ...r.torch.map((t) => fmt(t.ppoUpdateMs)), ...r.torch.map((t) => fmt(t.ppoRatio, 3))],
    ['IQL update, ms (median)', fmt(r.prefrl.iqlUpdateMs), ...r.torch.map((t) => fmt(t.iqlUpdateMs)), ...r.torch.map((t) => fmt(t.iqlRatio, 3))],
  ];
  const lines = [formatTable(head, rows), `load average (1 min) before / after: ${r.machine.loadavg1Before} / ${r.machine.loadavg1After} on ${r.machine.nproc} CPUs`];
  if (r.torchSkipped) lines.push(`PyTorch skipped: ${r.torchSkipped}`);
  return lines.join('\n');
}

/** A markdown table: the first row is the header; every row has the header's number of cells. */
function mdRows(rows: readonly (readonly string[])[]): string[] {
  const [head, ...body] = rows;
  return [mdRow(head!), `|${head!.map(() => '---|').join('')}`, ...body.map(mdRow)];
}

function markdown(r: BenchResult): string {
  const s = r.setup;
  const t = r.torch;
  const lines = [
    '# Agents benchmark',
    '',
    `- **PPO update** (\`ppoUpdate\`, agents/ppo.ts): a synthetic ${s.ppo.batch}-step batch, obs ${s.obsDim}, act ${s.actDim}, ${s.ppo.networks}, ` +
      `${s.ppo.epochs} epochs x ${s.ppo.minibatches} minibatches of ${s.ppo.minibatchSize}, clipped surrogate and value loss, gradient clipping 0.5, Adam; ` +
      `every repeat from the same weights and a fresh Adam. Reference: benchmarks/torch/ppo_update.py (CleanRL's inner loop). Median of ${s.ppo.repeats} after ${s.ppo.warmup} warm-up.`,
    `- **IQL update** (\`Iql.update\`, agents/iql.ts): batch ${s.iql.batch} sampled from 100k synthetic transitions, ${s.iql.networks}, ` +
      `V step, Q step, Polyak update, Gaussian actor step, losses read back every update. Reference: benchmarks/torch/iql_update.py (CORL's train step). Median of ${s.iql.repeats} after ${s.iql.warmup} warm-up.`,
    '',
    // One cell per column in every row: without a PyTorch reference the table has two columns
    // and no ratio rows (they would be empty).
    ...mdRows([
      ['', 'prefrl (1 thread)', ...t.map((x) => `PyTorch ${x.version ?? ''}, ${x.threads} thread${x.threads === 1 ? '' : 's'}`)],
      ['PPO update, ms (median)', fmt(r.prefrl.ppoUpdateMs), ...t.map((x) => fmt(x.ppoUpdateMs))],
      ...(t.length ? [['PPO, prefrl / PyTorch (time)', '', ...t.map((x) => fmt(x.ppoRatio, 3))]] : []),
      ['IQL update, ms (median)', fmt(r.prefrl.iqlUpdateMs), ...t.map((x) => fmt(x.iqlUpdateMs))],
      ...(t.length ? [['IQL, prefrl / PyTorch (time)', '', ...t.map((x) => fmt(x.iqlRatio, 3))]] : []),
      ['PPO update, ms (all)', r.prefrl.ppoUpdateMsAll.join(', '), ...t.map((x) => (x.ppoUpdateMsAll ?? []).join(', '))],
      ['IQL update, ms (all)', r.prefrl.iqlUpdateMsAll.join(', '), ...t.map((x) => (x.iqlUpdateMsAll ?? []).join(', '))],
    ]),
    '',
    `Command: \`${r.command}\``,
    '',
    `- code: ${codeVersionText(r.software)}`,
    `- nproc: ${r.machine.nproc} (${r.machine.cpu}); node ${r.machine.node}; tfjs backend: ${r.machine.backend}; IQL updates/s (prefrl): ${fmt(r.prefrl.iqlUpdatesPerSec)}`,
    `- 1-minute load average before / after: ${r.machine.loadavg1Before} / ${r.machine.loadavg1After}. The machine is shared with other people's jobs; above ${r.machine.nproc} the timings of both sides are inflated and multi-threaded PyTorch suffers most.`,
    r.torchSkipped
      ? `- PyTorch: skipped (${r.torchSkipped})`
      : `- PyTorch ${t[0]?.version ?? '?'}, BLAS_INFO=${t[0]?.blas ?? '?'}, BLAS loaded: ${t[0]?.blasLibs.length ? t[0].blasLibs.join(', ') : 'none seen'}`,
    '',
  ];
  return lines.join('\n');
}
