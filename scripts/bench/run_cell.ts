/**
 * Running one cell of `prefrl bench oracle` in-process, through the project's own entry points:
 * - train cells: `train()` of scripts/commands/train.ts with flags parsed by its own spec, so
 *   every default and check is the one `prefrl train` applies, and the record carries the
 *   equivalent `prefrl train ...` command;
 * - random cells: the uniformly random policy over deterministic evaluation episodes (the same
 *   episode seeds as PPO's evaluations);
 * - tabular cells: runWorld of reward/tabular/learn.ts (what `prefrl bench regret` runs per world
 *   and seed, with the same random streams, so records match it exactly);
 * - collect and offline cells: `prefrl collect` / `prefrl offline` found in the CLI registry, run
 *   with a captured stdout whose last line is the command's JSON summary.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { evaluatePolicyAsync } from '../../agents/ppo.js';
import { parseFlags } from '../../core/config.js';
import { shortHash } from '../../core/hash.js';
import { Rng } from '../../core/rng.js';
import { envConfigFromArgs, makeEnv } from '../../envs/registry.js';
import { randomPolicy } from '../../envs/rollout.js';
import { deliveryGridworld, type GridWorld, randomGridworld } from '../../reward/tabular/gridworld.js';
import { EXPERIMENT_DEFAULTS, LEARN_DEFAULTS, runWorld } from '../../reward/tabular/learn.js';
import { type CommandContext, displayPath, type Io } from '../command.js';
import { train, trainFlags } from '../commands/train.js';
import type { Cell, CellRecord, CollectCell, OfflineCell, RandomCell, TabularCell, TrainCell } from './cells.js';
import { configHash } from './cells.js';
import type { CodeVersion } from './code_version.js';
import { makeFolder, shellQuote } from '../../core/paths.js';

export interface CellRunContext {
  readonly ctx: CommandContext;
  /** Root of this suite's run folders (git-ignored), absolute. */
  readonly runsDir: string;
  /** Suppress the inner progress bars of training runs. */
  readonly quiet: boolean;
  /** The `prefrl bench oracle ...` invocation, recorded with every result. */
  readonly benchCommand: string;
  /** The code running the cells (prefrl, git commit, MuJoCo, Node), recorded with every result. */
  readonly software: CodeVersion;
  /** Run folder of a finished train cell (an expert), running it first when needed. */
  readonly runFolderOf: (cellId: string) => Promise<string>;
  /** Dataset file of a finished collect cell, running it first when needed. */
  readonly datasetOf: (cellId: string) => Promise<string>;
}

function finite(x: number | null | undefined): number | null {
  return typeof x === 'number' && Number.isFinite(x) ? x : null;
}

function record(cell: Cell, rc: CellRunContext, wallSeconds: number, fields: Pick<CellRecord, 'metrics'> & Partial<CellRecord>): CellRecord {
  return {
    suite: cell.suite,
    cellId: cell.id,
    hash: configHash(cell),
    kind: cell.kind,
    seed: cell.seed,
    table: cell.table,
    row: cell.row,
    benchCommand: rc.benchCommand,
    wallSeconds,
    finishedAt: rc.ctx.clock.date().toISOString(),
    software: rc.software,
    ...fields,
  };
}

export async function runCell(cell: Cell, rc: CellRunContext): Promise<CellRecord[]> {
  switch (cell.kind) {
    case 'train':
      return [await runTrainCell(cell, rc)];
    case 'random':
      return [await runRandomCell(cell, rc)];
    case 'tabular':
      return runTabularCell(cell, rc);
    case 'collect':
      return [await runCollectCell(cell, rc)];
    case 'offline':
      return [await runOfflineCell(cell, rc)];
  }
}

/** The `prefrl train` argv of a train cell (dependencies resolved, heron config written). */
export async function trainArgv(cell: TrainCell, rc: CellRunContext): Promise<string[]> {
  const argv = [...cell.args];
  if (cell.heron) {
    const dir = join(rc.runsDir, 'heron');
    makeFolder(dir);
    const file = join(dir, `${cell.env}-${shortHash(JSON.stringify(cell.heron))}.json`);
    writeFileSync(file, `${JSON.stringify(cell.heron, null, 2)}\n`);
    const k = argv.indexOf('--teacher');
    if (k < 0 || argv[k + 1] !== 'heron') throw new Error(`cell ${cell.id}: a HERON config needs --teacher heron in its args`);
    argv[k + 1] = `heron:${displayPath(file)}`;
  }
  if (cell.expertFrom) argv.push('--expert', displayPath(await rc.runFolderOf(cell.expertFrom)));
  argv.push('--seed', String(cell.seed), '--runs-dir', displayPath(rc.runsDir), '--name', cell.id);
  if (rc.quiet) argv.push('--quiet');
  return argv;
}

async function runTrainCell(cell: TrainCell, rc: CellRunContext): Promise<CellRecord> {
  const argv = await trainArgv(cell, rc);
  const f = parseFlags(argv, { command: 'prefrl train', summary: 'train (bench oracle cell)', flags: trainFlags }).flags;
  const t0 = rc.ctx.clock.now();
  const { summary: s, run } = await train(f, { ...rc.ctx, partOf: rc.benchCommand });
  const wall = (rc.ctx.clock.now() - t0) / 1000;
  return record(cell, rc, wall, {
    metrics: {
      finalTrueReturn: finite(s.finalTrueReturn),
      finalSuccess: finite(s.finalSuccess),
      // PPO on the true reward (or a fixed model) asks for no labels: not applicable, not 0.
      labelsUsed: s.reward === 'learned' ? s.labelsUsed : null,
      envSteps: s.envSteps,
      stepsPerSecond: finite(s.envSteps / s.wallSeconds),
      ppoStepsPerSecond: ppoThroughput(join(run.path, 'metrics.jsonl')),
      wallSeconds: finite(s.wallSeconds),
      rewardAccuracy: finite(s.rewardAccuracy),
      rewardCorrelation: finite(s.rewardCorrelation),
      epic: finite(s.epic),
    },
    curve: s.curve.map(([x, y]) => [x, y] as const),
    runDir: displayPath(run.path),
    command: `prefrl train ${argv.map(shellQuote).join(' ')}`,
  });
}

/**
 * PPO's own throughput from a run's metrics.jsonl: env steps of the iterations over their
 * rollout + update seconds (evaluations, checkpoints and reward-model rounds excluded), or null.
 */
export function ppoThroughput(metricsFile: string): number | null {
  if (!existsSync(metricsFile)) return null;
  let steps = 0;
  let seconds = 0;
  let prev = 0;
  for (const line of readFileSync(metricsFile, 'utf8').split('\n')) {
    if (!line.includes('charts/collect_seconds')) continue;
    const m = JSON.parse(line) as Record<string, number>;
    const c = m['charts/collect_seconds'];
    const u = m['charts/update_seconds'];
    const sps = m['charts/sps'];
    if (![c, u, sps].every(Number.isFinite)) continue;
    // charts/sps = batch / (collect + update): the batch is sps x seconds.
    steps += sps * (c + u);
    seconds += c + u;
    prev = m.step;
  }
  return prev > 0 && seconds > 0 ? steps / seconds : null;
}

async function runRandomCell(cell: RandomCell, rc: CellRunContext): Promise<CellRecord> {
  const t0 = rc.ctx.clock.now();
  const env = await makeEnv(envConfigFromArgs(cell.env));
  try {
    const policy = randomPolicy(env.spec, new Rng(cell.seed).fork('random-policy'));
    // evaluatePolicy seeds episodes like PPO's evaluations (new Rng(seed).fork('eval')).
    const ev = await evaluatePolicyAsync(env, policy, cell.episodes, cell.seed);
    return record(cell, rc, (rc.ctx.clock.now() - t0) / 1000, {
      metrics: { finalTrueReturn: finite(ev.meanReturn), finalSuccess: finite(ev.meanSuccess), episodes: cell.episodes, meanLength: finite(ev.meanLength) },
    });
  } finally {
    env.dispose();
  }
}

/** The world of a tabular cell, drawn exactly as `prefrl bench regret` draws it. */
export function tabularWorld(cell: TabularCell): GridWorld {
  if (cell.world.kind === 'delivery') return deliveryGridworld();
  return randomGridworld(new Rng(cell.world.mdpSeed).fork('mdp').fork(cell.world.index), `random-${cell.world.index}`);
}

function runTabularCell(cell: TabularCell, rc: CellRunContext): CellRecord[] {
  const t0 = rc.ctx.clock.now();
  const world = tabularWorld(cell);
  const runs = runWorld(world, cell.seed, new Rng(cell.seed).fork(world.name), {
    ...EXPERIMENT_DEFAULTS,
    budgets: cell.budgets,
    segmentLength: cell.segmentLength,
    learn: { ...LEARN_DEFAULTS, steps: cell.learnSteps },
  });
  const wall = (rc.ctx.clock.now() - t0) / 1000;
  return runs.map((r) =>
    record(cell, rc, wall / runs.length, {
      row: { source: r.source, model: r.model, labels: r.budget },
      metrics: {
        scaledReturn: finite(r.scaledReturn),
        nearOptimal: r.scaledReturn > 0.9 ? 1 : 0,
        pGoal: finite(r.pGoal),
        pSheep: finite(r.pSheep),
        trainAccuracy: finite(r.trainAccuracy),
        tieFraction: finite(r.tieFraction),
      },
      extra: { world: r.world, weights: r.weights, jLearned: r.jLearned, jOptimal: r.jOptimal, jRandom: r.jRandom },
    }),
  );
}

/** A stdout that keeps what is written (for a command's JSON line). */
function capturingIo(parent: Io): { io: Io; text: () => string } {
  let out = '';
  return { io: { stdout: { write: (t) => void (out += t) }, stderr: parent.stderr, tty: parent.tty }, text: () => out };
}

/**
 * Run `prefrl <words> <args>` through the CLI command registry in-process and return its JSON
 * summary (the last line of stdout with --json). The registry is imported at call time: it
 * imports this harness's own command.
 */
export async function runRegistryCommand(words: string, args: readonly string[], cell: Cell, rc: CellRunContext): Promise<{ summary: Record<string, unknown>; command: string; wall: number }> {
  const { findCommand } = await import('../cli.js');
  const argv = [...words.split(' '), ...args];
  const found = findCommand(argv);
  if (!found || found.command.name !== words) {
    throw new Error(`cell ${cell.id} runs \`prefrl ${words}\`, which is not registered in this build (scripts/cli.ts COMMANDS); no result was produced`);
  }
  const command = `prefrl ${argv.map(shellQuote).join(' ')}`;
  const cap = capturingIo(rc.ctx.io);
  const t0 = rc.ctx.clock.now();
  const code = await found.command.run(found.rest, { ...rc.ctx, io: cap.io, partOf: rc.benchCommand });
  const wall = (rc.ctx.clock.now() - t0) / 1000;
  if (code !== 0) throw new Error(`cell ${cell.id}: ${command} exited with code ${code}`);
  const lines = cap.text().trim().split('\n');
  try {
    const summary = JSON.parse(lines[lines.length - 1]) as unknown;
    if (typeof summary !== 'object' || summary === null || Array.isArray(summary)) throw new Error('not an object');
    return { summary: summary as Record<string, unknown>, command, wall };
  } catch {
    throw new Error(`cell ${cell.id}: ${command} did not print a JSON object as its last line`);
  }
}

/** A number field of a command's JSON summary, or null. */
function num(o: Record<string, unknown>, key: string): number | null {
  return typeof o[key] === 'number' ? finite(o[key] as number) : null;
}

function commonArgs(cell: Cell, rc: CellRunContext): string[] {
  return ['--seed', String(cell.seed), '--runs-dir', displayPath(rc.runsDir), '--name', cell.id, '--json', ...(rc.quiet ? ['--quiet'] : [])];
}

async function runCollectCell(cell: CollectCell, rc: CellRunContext): Promise<CellRecord> {
  const { summary: s, command, wall } = await runRegistryCommand('collect', [...cell.args, ...commonArgs(cell, rc)], cell, rc);
  if (typeof s.dataset !== 'string') throw new Error(`cell ${cell.id}: prefrl collect reported no dataset path`);
  return record(cell, rc, wall, {
    // The dataset's episode returns: its mean in the return column, min and max beside it.
    metrics: { finalTrueReturn: num(s, 'meanReturn'), datasetMinReturn: num(s, 'minReturn'), datasetMaxReturn: num(s, 'maxReturn'), transitions: num(s, 'transitions') },
    ...(typeof s.runDir === 'string' ? { runDir: displayPath(resolve(s.runDir)) } : {}),
    extra: { dataset: displayPath(resolve(s.dataset)) },
    command,
  });
}

/** An offline summary's returns.<agent>.meanReturn, or null. */
function agentReturn(s: Record<string, unknown>, agent: string): number | null {
  const r = s.returns as Record<string, { meanReturn?: unknown }> | undefined;
  const v = r?.[agent]?.meanReturn;
  return typeof v === 'number' ? finite(v) : null;
}

async function runOfflineCell(cell: OfflineCell, rc: CellRunContext): Promise<CellRecord> {
  const dataset = await rc.datasetOf(cell.datasetFrom);
  const { summary: s, command, wall } = await runRegistryCommand('offline', [...cell.args, '--dataset', displayPath(dataset), ...commonArgs(cell, rc)], cell, rc);
  return record(cell, rc, wall, {
    metrics: {
      finalTrueReturn: agentReturn(s, 'iqlLearned'),
      iqlTrueReturn: agentReturn(s, 'iqlTrue'),
      bcReturn: agentReturn(s, 'bc'),
      randomReturn: agentReturn(s, 'random'),
      ratioToIqlTrue: num(s, 'ratio'),
      normalisedToIqlTrue: num(s, 'normalizedRatio'),
      labelsUsed: num(s, 'labels'),
      skips: num(s, 'skips'),
      teacherAgreement: num(s, 'teacherAgreement'),
      rewardAccuracy: num(s, 'rewardValAccuracy'),
      rewardCorrelation: num(s, 'rewardReturnCorrelation'),
      transitionCorrelation: num(s, 'rewardTransitionCorrelation'),
    },
    ...(typeof s.runDir === 'string' ? { runDir: displayPath(resolve(s.runDir)) } : {}),
    command,
  });
}
