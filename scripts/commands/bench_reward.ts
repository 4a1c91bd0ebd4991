/**
 * `prefrl bench reward`: how fast the reward ensemble trains and relabels, next to PyTorch.
 *
 * Times one training step of the ensemble (every member: forward, backward, Adam update on
 * one batch of pairs; reward/train.ts `memberStep`, the code `trainRewardModel` runs) after
 * warm-up, as the median of several repeats; and the relabelling throughput of the ensemble
 * predict (transitions per second). When a `python3` with torch is found, the same networks,
 * batch, loss and optimizer run in PyTorch in the same invocation
 * (benchmarks/torch/reward_step.py), once per --torch-threads value, and the ratio prefrl /
 * PyTorch is reported for each (< 1: prefrl is faster). Inputs are random numbers of the right shapes: speed does not depend on them.
 */
import { loadavg } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../core/backend.js';
import { flags, positiveInts } from '../../core/config.js';
import { median } from '../../core/math.js';
import { Rng } from '../../core/rng.js';
import { DEFAULT_REWARD_NET, RewardNet } from '../../reward/network.js';
import { createOptimizers, memberStep, type PairData, TRAIN_DEFAULTS } from '../../reward/train.js';
import { asset } from '../../core/paths.js';
import { type Command, formatTable, letSignalsIn, onInterrupt, parseOrHelp } from '../command.js';
import { type CodeVersion, codeVersion, codeVersionText } from '../bench/code_version.js';
import { checkBenchOut, mdRow, showBenchResult } from '../bench/bench_out.js';
import { type BenchMachine, benchMachine, fmtFixed, runJsonScript, torchReference } from '../torch.js';
import { actDimFlag, obsDimFlag, pythonFlag, repeatsFlag, torchFlag, torchThreadCounts, torchThreadsFlag, warmupFlag } from './bench_flags.js';
import { benchBackendFlag, jsonFlag, seedFlag } from './common_flags.js';
import { commandSummary } from '../command_index.js';

const spec = {
  command: 'prefrl bench reward',
  summary: commandSummary('bench reward'),
  flags: {
    members: flags.int({ doc: 'ensemble members', default: DEFAULT_REWARD_NET.members, min: 1 }),
    hidden: flags.list({ doc: 'hidden layer widths', default: DEFAULT_REWARD_NET.hidden.map(String) }),
    obsDim: obsDimFlag('input = obs + action'),
    actDim: actDimFlag,
    pairs: flags.int({ doc: 'pairs per training batch', default: 128, min: 1 }),
    length: flags.int({ doc: 'steps per segment', default: 50, min: 1 }),
    warmup: warmupFlag('steps', 2),
    repeats: repeatsFlag('steps', 5),
    microBatchRows: flags.int({ doc: 'transitions per micro-batch inside a step', default: TRAIN_DEFAULTS.microBatchRows, min: 1 }),
    relabel: flags.int({ doc: 'transitions relabelled for the throughput figure (0: skip)', default: 100_000, min: 0 }),
    torch: torchFlag,
    torchThreads: torchThreadsFlag("number of CPUs, not bench agents' 1,<number of CPUs>: the committed reward.md compares with PyTorch on every CPU"),
    torchRelabel: flags.int({ doc: 'transitions for PyTorch relabelling (slow with reference BLAS)', default: 20_000, min: 0 }),
    python: pythonFlag,
    backend: benchBackendFlag('the reward ensemble'),
    seed: seedFlag('the weights and the random batch'),
    out: flags.string({ doc: 'folder to write reward.json and reward.md into', optional: true, defaultDoc: 'none: the results are printed, not written' }),
    json: jsonFlag(),
  },
};

/** What the PyTorch script prints. */
interface TorchResult {
  readonly torch: string;
  readonly python: string;
  readonly threads: number;
  readonly blas: string | null;
  readonly blas_libs: string[];
  readonly step_ms: number;
  readonly step_ms_all: number[];
  readonly relabel_per_s: number | null;
  readonly relabel_transitions: number;
}

/** The PyTorch reference's script, in the package (compiled code runs from dist/, which holds no benchmarks/torch). */
export const TORCH_SCRIPT = asset('benchmarks/torch/reward_step.py');

export const benchRewardCommand: Command = {
  name: 'bench reward',
  summary: spec.summary,
  async run(argv, ctx) {
    const parsed = parseOrHelp(argv, spec, ctx.io);
    if (!parsed) return 0;
    const f = parsed.flags;
    const found = torchReference(f.python, f.torch);
    const hidden = positiveInts(f.hidden, '--hidden');
    const torchThreads = torchThreadCounts(f.torchThreads, 'all CPUs');
    if (f.out) checkBenchOut(f.out);
    const backend = await initBackend(f.backend);
    const log = ctx.logger;
    const loadBefore = loadavg()[0];

    // --- prefrl: one training step of the ensemble.
    const rng = new Rng(f.seed);
    const net = RewardNet.create({ obsDim: f.obsDim, actDim: f.actDim, members: f.members, hidden }, rng.fork('net'));
    const inDim = net.inDim;
    const rows = new Float32Array(f.pairs * 2 * f.length * inDim);
    rng.fork('batch').fillNormal(rows);
    const data: PairData = { n: f.pairs, H: f.length, inDim, rows, labels: Float64Array.from({ length: f.pairs }, (_, i) => (i % 3) / 2) };
    const idx = Int32Array.from({ length: f.pairs }, (_, i) => i);
    const optimizers = createOptimizers(net, TRAIN_DEFAULTS.lr);
    const stepOpts = { temperature: 1, labelSmoothing: 0, flipRate: 0, microBatchRows: f.microBatchRows };
    const step = () => {
      for (let k = 0; k < net.members; k++) memberStep(net, k, optimizers[k], data, idx, stepOpts);
    };
    let stepMsAll: number[] = [];
    let relabelPerS: number | null = null;
    let tensorsAfter = 0;
    let phase: 'warm-up' | 'timed steps' | 'relabelling' | 'PyTorch reference' = 'warm-up';
    // Ctrl-C: the steps timed so far are reported; nothing is written (--out is written at the end, whole).
    const stopHint = onInterrupt(
      ctx,
      () => ({
        line: `stopped in the ${phase} after ${stepMsAll.length} of ${f.repeats} timed steps; bench reward wrote nothing${f.out ? ` to ${f.out}` : ''}, run it again for the timings`,
        fields: { phase, stepMsAll: stepMsAll.map((v) => Math.round(v * 10) / 10), repeats: f.repeats, out: f.out ?? null, written: false },
      }),
      { json: f.json },
    );
    try {
      log.info(`timing prefrl's reward ensemble: ${f.members} x MLP ${[inDim, ...hidden, 1].join('-')}, ${f.pairs} pairs x 2 x ${f.length} steps, backend ${backend.name}`);
      // The event loop gets a turn before each step (a signal stops there), outside the timed region.
      for (let i = 0; i < f.warmup; i++) {
        await letSignalsIn();
        step();
      }
      phase = 'timed steps';
      for (let i = 0; i < f.repeats; i++) {
        await letSignalsIn();
        const t0 = ctx.clock.now();
        step();
        stepMsAll.push(ctx.clock.now() - t0);
      }
      // --- prefrl: relabelling throughput of the ensemble predict.
      if (f.relabel > 0) {
        phase = 'relabelling';
        const n = f.relabel;
        const r = rng.fork('relabel');
        const obs = new Float32Array(n * f.obsDim);
        const actions = new Float32Array(n * f.actDim);
        r.fillNormal(obs);
        r.fillNormal(actions);
        const batch = { n, obs, actions, nextObs: new Float32Array(0) };
        const warm = Math.min(n, 8192);
        net.predict({ n: warm, obs: obs.subarray(0, warm * f.obsDim), actions: actions.subarray(0, warm * f.actDim), nextObs: batch.nextObs });
        const rates: number[] = [];
        for (let i = 0; i < 3; i++) {
          await letSignalsIn();
          const t0 = ctx.clock.now();
          net.predict(batch);
          rates.push(n / ((ctx.clock.now() - t0) / 1000));
        }
        relabelPerS = median(rates);
      }
    } catch (e) {
      stopHint();
      throw e;
    } finally {
      for (const o of optimizers) o.dispose();
      net.dispose();
      tensorsAfter = tf.memory().numTensors;
    }
    stepMsAll = stepMsAll.map((v) => Math.round(v * 10) / 10);
    const stepMs = median(stepMsAll);

    // --- PyTorch reference, same sizes, once per --torch-threads value.
    const torchRuns: TorchResult[] = [];
    const torchErrors: string[] = [];
    let torchSkipped: string | null = null;
    if ('skipped' in found) torchSkipped = found.skipped;
    else for (const threads of torchThreads) {
      phase = 'PyTorch reference';
      log.info(`PyTorch reference with ${found.python} (${threads} thread${threads === 1 ? '' : 's'})`);
      const args = [
        `--members=${f.members}`,
        `--hidden=${hidden.join(',')}`,
        `--in-dim=${inDim}`,
        `--pairs=${f.pairs}`,
        `--length=${f.length}`,
        `--activation=${DEFAULT_REWARD_NET.activation}`,
        `--output-activation=${DEFAULT_REWARD_NET.outputActivation}`,
        `--warmup=${f.warmup}`,
        `--repeats=${f.repeats}`,
        `--threads=${threads}`,
        `--relabel=${f.relabel > 0 ? f.torchRelabel : 0}`,
        `--seed=${f.seed}`,
      ];
      const r = runJsonScript<TorchResult>(found.python, TORCH_SCRIPT, args);
      if ('error' in r) torchErrors.push(r.error);
      else torchRuns.push(r.result);
    }
    // Every run failed: skipped, as before with one run (a failure of some runs is warned about).
    if (torchSkipped === null && torchRuns.length === 0 && torchErrors.length) torchSkipped = torchErrors.join('; ');
    if (torchSkipped) log.warn(`PyTorch reference skipped: ${torchSkipped}`);
    else for (const e of torchErrors) log.warn(`PyTorch reference: ${e}`);
    // A Ctrl-C while the reference ran (a terminal's also stops python) is let in here, before anything is written.
    await letSignalsIn();
    stopHint();

    const result: BenchResult = {
      bench: 'reward',
      command: `prefrl bench reward${argv.length ? ` ${argv.join(' ')}` : ''}`,
      setup: {
        members: f.members,
        layers: [inDim, ...hidden, 1],
        activation: DEFAULT_REWARD_NET.activation,
        outputActivation: DEFAULT_REWARD_NET.outputActivation,
        pairs: f.pairs,
        segmentLength: f.length,
        transitionsPerStep: 2 * f.pairs * f.length,
        warmup: f.warmup,
        repeats: f.repeats,
        microBatchRows: f.microBatchRows,
      },
      machine: benchMachine(backend.name, loadBefore),
      software: codeVersion(f.out === undefined ? [] : [f.out]),
      prefrl: { stepMs, stepMsAll, relabelPerS: relabelPerS === null ? null : Math.round(relabelPerS), relabelTransitions: f.relabel, tensorsAfter },
      // One entry per --torch-threads value that ran (as bench agents' torch); empty when skipped.
      torch: torchRuns.map((t) => ({
        version: t.torch,
        python: t.python,
        threads: t.threads,
        blas: t.blas,
        blasLibs: t.blas_libs,
        stepMs: Math.round(t.step_ms * 10) / 10,
        stepMsAll: t.step_ms_all.map((v) => Math.round(v * 10) / 10),
        relabelPerS: t.relabel_per_s === null ? null : Math.round(t.relabel_per_s),
        relabelTransitions: t.relabel_transitions,
        ratio: Math.round((stepMs / t.step_ms) * 1000) / 1000,
      })),
      torchSkipped,
      // Failures beside runs that worked (when none worked, torchSkipped says why).
      torchErrors: torchRuns.length ? torchErrors : [],
    };

    showBenchResult(ctx, f, 'reward', result, markdown(result), () => table(result));
    return 0;
  },
};

type BenchResult = {
  bench: 'reward';
  command: string;
  setup: { members: number; layers: number[]; activation: string; outputActivation: string; pairs: number; segmentLength: number; transitionsPerStep: number; warmup: number; repeats: number; microBatchRows: number };
  machine: BenchMachine;
  /** The code that was timed: prefrl's version and git commit, the MuJoCo build, Node. */
  software: CodeVersion;
  prefrl: { stepMs: number; stepMsAll: number[]; relabelPerS: number | null; relabelTransitions: number; tensorsAfter: number };
  /** One PyTorch run per --torch-threads value; `ratio`: prefrl's step time over this run's (< 1: prefrl is faster). */
  torch: { version: string; python: string; threads: number; blas: string | null; blasLibs: string[]; stepMs: number; stepMsAll: number[]; relabelPerS: number | null; relabelTransitions: number; ratio: number }[];
  torchSkipped: string | null;
  /** Runs of the reference that failed while others ran (warned). */
  torchErrors: string[];
};

const fmt = (v: number | null | undefined, digits = 0): string => fmtFixed(v, digits);

/** PyTorch's relabelling rate over prefrl's ('-' without both). */
function relabelRatio(r: BenchResult, t: BenchResult['torch'][number]): string {
  return t.relabelPerS && r.prefrl.relabelPerS ? fmt(t.relabelPerS / r.prefrl.relabelPerS, 3) : '-';
}

function table(r: BenchResult): string {
  const t = r.torch;
  const rows = [
    ['train step, ms (median)', fmt(r.prefrl.stepMs, 1), ...t.map((x) => fmt(x.stepMs, 1)), ...t.map((x) => fmt(x.ratio, 3))],
    ['relabel, transitions/s', fmt(r.prefrl.relabelPerS), ...t.map((x) => fmt(x.relabelPerS)), ...t.map((x) => relabelRatio(r, x))],
  ];
  const head = [
    '',
    `prefrl (tfjs ${r.machine.backend}, 1 thread)`,
    ...(t.length ? t.map((x) => `PyTorch ${x.version} (${x.threads} thread${x.threads === 1 ? '' : 's'})`) : ['PyTorch (skipped)']),
    ...(t.length ? t.map((x) => `prefrl / PyTorch time (${x.threads} thr)`) : []),
  ];
  if (!t.length) for (const row of rows) row.push('-');
  const lines = [formatTable(head, rows)];
  if (r.torchSkipped) lines.push(`PyTorch skipped: ${r.torchSkipped}`);
  return lines.join('\n');
}

function markdown(r: BenchResult): string {
  const s = r.setup;
  const t = r.torch;
  const cols = t.map((x) => `PyTorch ${x.version}, ${x.threads} thread${x.threads === 1 ? '' : 's'}`);
  const lines = [
    '# Reward model benchmark',
    '',
    `One training step of the reward ensemble: ${s.members} MLP${s.members === 1 ? '' : 's'} ${s.layers.join('-')} (${s.activation} hidden, ${s.outputActivation} output), ` +
      `a batch of ${s.pairs} pairs of ${s.segmentLength}-step segments (${s.transitionsPerStep.toLocaleString('en-US')} transitions per member), ` +
      `Bradley-Terry loss on summed outputs, one Adam optimizer per member. Median of ${s.repeats} step${s.repeats === 1 ? '' : 's'} after ${s.warmup} warm-up step${s.warmup === 1 ? '' : 's'}. ` +
      'Relabelling: the ensemble-mean predict over random transitions.',
    '',
    // One PyTorch column (and one ratio column) per --torch-threads value; "PyTorch" and "-" when skipped.
    mdRow(['', 'prefrl (tfjs, 1 thread)', ...(t.length ? cols : ['PyTorch']), ...(t.length ? t.map((x) => `prefrl / PyTorch (time, ${x.threads} thr)`) : ['prefrl / PyTorch (time)'])]),
    `|---|---|${(t.length ? [...t, ...t] : [0, 0]).map(() => '---|').join('')}`,
    mdRow(['train step, ms (median)', fmt(r.prefrl.stepMs, 1), ...(t.length ? [...t.map((x) => fmt(x.stepMs, 1)), ...t.map((x) => fmt(x.ratio, 3))] : ['-', '-'])]),
    mdRow(['train step, ms (all)', r.prefrl.stepMsAll.join(', '), ...(t.length ? [...t.map((x) => x.stepMsAll.join(', ')), ...t.map(() => '')] : ['-', ''])]),
    mdRow([
      'relabel, transitions/s',
      `${fmt(r.prefrl.relabelPerS)} (${fmt(r.prefrl.relabelTransitions)} transitions)`,
      ...(t.length ? [...t.map((x) => `${fmt(x.relabelPerS)} (${fmt(x.relabelTransitions)} transitions)`), ...t.map((x) => relabelRatio(r, x))] : ['-', '-']),
    ]),
    '',
    `Command: \`${r.command}\``,
    '',
    `- code: ${codeVersionText(r.software)}`,
    `- nproc: ${r.machine.nproc} (${r.machine.cpu})`,
    `- node: ${r.machine.node}; tfjs backend: ${r.machine.backend}; micro-batch rows: ${s.microBatchRows}`,
    `- 1-minute load average before / after: ${r.machine.loadavg1Before} / ${r.machine.loadavg1After} (other processes share the machine; above ${r.machine.nproc} the timings are inflated)`,
    ...(t.length
      ? t.map((x) => `- PyTorch ${x.version}, ${x.threads} thread${x.threads === 1 ? '' : 's'}, BLAS_INFO=${x.blas ?? '?'}, BLAS loaded: ${x.blasLibs.length ? x.blasLibs.join(', ') : 'none seen'}`)
      : [`- PyTorch: skipped (${r.torchSkipped})`]),
    ...r.torchErrors.map((e) => `- PyTorch run failed: ${e}`),
    '',
  ];
  return lines.join('\n');
}
