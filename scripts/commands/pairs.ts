/**
 * `prefrl pairs`: put pairs of segments cut from recorded episodes (`prefrl rollout` or `tour`
 * runs) into a label store, for people to compare in the viewer (`prefrl serve`) or for any
 * teacher. With --against, every pair holds one segment of each folder (clip A from the first,
 * B from the second), e.g. to ask which of two trained policies behaves better. Pairs are drawn
 * with a seed, distinct, windows uniformly over the episodes; adding them again adds nothing.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { flags } from '../../core/config.js';
import { checkOutFile } from '../../core/paths.js';
import { readRunConfig } from '../../core/run.js';
import { InputError, UsageError } from '../../core/errors.js';
import { Rng } from '../../core/rng.js';
import { loadTrajectories, type Trajectory } from '../../envs/trajectory.js';
import { sampleDistinctPairs, samplePairsFromTrajectories } from '../../reward/store_pairs.js';
import { SegmentSampler } from '../../reward/segments.js';
import { LabelStore } from '../../reward/store.js';
import type { Pair } from '../../reward/types.js';
import { type Command, labelFreeTrainRun, letSignalsIn, onInterrupt, parseOrHelp, printJson, shellPath } from '../command.js';
import { resolveTrajectoryDir } from './render.js';
import { jsonFlag, optionalStoreFlag, quietFlag, seedFlag } from './common_flags.js';
import { commandSummary } from '../command_index.js';

const spec = {
  command: 'prefrl pairs',
  summary: 'Put pairs of segments cut from recorded episodes (prefrl rollout runs) into a label store, for people to compare in the viewer.',
  flags: {
    trajectories: flags.string({ doc: 'recorded episodes: a prefrl rollout run folder or its trajectory folder' }),
    against: flags.string({ doc: 'a second such folder: every pair is one segment of each (A from --trajectories, B from here)', optional: true }),
    count: flags.int({ doc: 'pairs to add', default: 50, min: 1 }),
    segmentLength: flags.int({ doc: 'steps per segment (a whole episode: its length, e.g. 200 on reacher)', default: 50, min: 1 }),
    store: optionalStoreFlag('to add them to (made when missing)', 'labels.sqlite in the --trajectories run folder'),
    seed: seedFlag('the draw of pairs'),
    json: jsonFlag(),
    quiet: quietFlag('pairs draws none: taken, as by rollout and label, so that a script can pass it to each step'),
  },
  epilog: [
    'Examples:',
    '  prefrl rollout --policy runs/<stamp>-train-reacher --episodes 20',
    '  prefrl rollout --policy runs/<stamp>-offline-reacher/artifacts/agents/iql-learned --episodes 20',
    '  prefrl pairs --trajectories runs/<stamp>-rollout-reacher --against runs/<stamp2>-rollout-reacher --count 30',
    '  prefrl serve --store runs/<stamp>-rollout-reacher/labels.sqlite',
  ].join('\n'),
};

function load(path: string, flag: '--trajectories' | '--against'): { dir: string; runDir: string | null; trajs: Trajectory[] } {
  const { dir, runConfig } = resolveTrajectoryDir(path, flag);
  const trajs = loadTrajectories(dir);
  if (trajs.length === 0) throw new InputError(dir, 'holds no episodes');
  return { dir, runDir: runConfig ? dirname(runConfig) : null, trajs };
}

/**
 * The run a label store belongs to, when its pairs must all come from that run: an offline run's
 * store (its dataset is recorded in the store, or, in stores written before that, in the run's
 * config.json beside it) or a train run's (pairs of its own rollouts). Its labels train the run's
 * reward model, so pairs from other recordings do not belong in it. Null for any other store
 * and for a store that holds no segments yet.
 */
export function runOfStore(storePath: string, store: LabelStore): { run: string; command: string; source: string } | null {
  // A store that holds no segments yet has nothing for new pairs to be foreign to.
  if (store.sources().length === 0) return null;
  const folder = dirname(resolve(storePath));
  // Not a run's config (none, or unreadable): the store's own record decides.
  const config = (readRunConfig(folder) ?? {}) as { command?: unknown; config?: { dataset?: unknown } };
  const dataset = store.dataset() ?? (config.command === 'offline' && typeof config.config?.dataset === 'string' ? config.config.dataset : undefined);
  if (dataset !== undefined) return { run: folder, command: 'offline', source: `its dataset ${dataset}` };
  if (config.command === 'train') return { run: folder, command: 'train', source: 'its own rollouts' };
  return null;
}

/** Whether two recordings hold the same episodes, step for step (the same observations, in the same order). */
export function sameEpisodes(a: readonly Trajectory[], b: readonly Trajectory[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i].obs;
    const y = b[i].obs;
    if (x.length !== y.length) return false;
    for (let j = 0; j < x.length; j++) if (x[j] !== y[j]) return false;
  }
  return true;
}

/** `count` distinct pairs, each one segment of `a` and one of `b`. */
export function samplePairsAcross(a: readonly Trajectory[], b: readonly Trajectory[], count: number, length: number, rng: Rng, sources: [string, string]): Pair[] {
  const fromA = new SegmentSampler(a, length, sources[0]);
  const fromB = new SegmentSampler(b, length, sources[1]);
  const out = sampleDistinctPairs(() => [fromA.sample(1, rng)[0], fromB.sample(1, rng)[0]], count);
  if (out.length < count) throw new InputError(`${sources[0]} and ${sources[1]}`, `hold too few distinct segments of ${length} steps for ${count} pairs (got ${out.length})`);
  return out;
}

export const pairsCommand: Command = {
  name: 'pairs',
  summary: commandSummary('pairs'),
  async run(argv, ctx) {
    const parsed = parseOrHelp(argv, spec, ctx.io);
    if (!parsed) return 0;
    const f = parsed.flags;
    // A new store is made where --store says: its folder must exist (an existing store is added to).
    if (f.store !== undefined) checkOutFile(f.store, { flag: '--store' });
    // Ctrl-C, SIGTERM, SIGHUP: the pairs go into the store in one transaction, so it holds all of
    // them or none; say which (the signal is let in between the steps, and after the pairs are in).
    let storeFile: string | undefined = f.store;
    let added: number | null = null;
    const stopHint = onInterrupt(
      ctx,
      () => {
        if (added === null) {
          const where = storeFile === undefined ? '' : ` to ${storeFile} (its pairs and labels are as they were)`;
          return { line: `stopped; no pairs were added${where}; run the same command again`, fields: { store: storeFile === undefined ? null : resolve(storeFile), added: 0 } };
        }
        return { line: `stopped after the pairs were added: ${added} new in ${storeFile}`, fields: { store: resolve(storeFile ?? '.'), added } };
      },
      { json: f.json },
    );
    try {
      const a = load(f.trajectories, '--trajectories');
      await letSignalsIn();
      const b = f.against !== undefined ? load(f.against, '--against') : null;
      const longest = (ts: readonly Trajectory[]) => ts.reduce((m, t) => Math.max(m, t.length), Number.NEGATIVE_INFINITY);
      for (const [src, flag] of [[a, '--trajectories'], ...(b ? [[b, '--against'] as const] : [])] as const) {
        if (longest(src.trajs) < f.segmentLength) throw new UsageError(`--segment-length ${f.segmentLength}: the episodes of ${flag} ${src.dir} have at most ${longest(src.trajs)} steps`);
      }
      const env = a.trajs[0];
      if (b && (b.trajs[0].envId !== env.envId || b.trajs[0].modelHash !== env.modelHash)) {
        throw new InputError(b.dir, `episodes of ${b.trajs[0].envId} (model ${b.trajs[0].modelHash}); --trajectories holds ${env.envId} (model ${env.modelHash}): pairs compare the same robot`);
      }
      if (b && sameEpisodes(a.trajs, b.trajs)) {
        ctx.logger.warn(
          `--against: ${b.dir} holds the same episodes as --trajectories ${a.dir} (the same policy, env and seed?), so every pair compares a policy with itself; record one of them with another --seed or --policy`,
        );
      }
      const rng = new Rng(f.seed).fork('pairs');
      const pairs = b ? samplePairsAcross(a.trajs, b.trajs, f.count, f.segmentLength, rng, [a.dir, b.dir]) : samplePairsFromTrajectories(a.trajs, f.count, f.segmentLength, rng, a.dir, true);
      await letSignalsIn();
      const storePath = f.store ?? join(a.runDir ?? '.', 'labels.sqlite');
      storeFile = storePath;
      // A train run that asked for no labels has no store: one made in its folder would read as its labels.
      const noLabels = existsSync(storePath) ? null : labelFreeTrainRun(dirname(resolve(storePath)));
      if (noLabels !== null) throw new UsageError(`--store ${storePath}: ${noLabels}; give another --store for these pairs`);
      const store = LabelStore.open(storePath, { envId: env.envId, modelHash: env.modelHash, clock: ctx.clock });
      try {
        const owner = runOfStore(storePath, store);
        if (owner) {
          throw new UsageError(
            `--store ${storePath}: the label store of the ${owner.command} run ${owner.run}, whose pairs come from ${owner.source}; --trajectories ${a.dir} is another source, and its pairs would train the run's reward model (give another --store)`,
          );
        }
        const res = store.putPairs(pairs);
        // These pairs are for people to compare (labels stats then counts the pairs waiting for them).
        store.markForPeople();
        added = res.added;
        // A signal that came while they went in is answered now, saying they are in.
        await letSignalsIn();
        const counts = store.counts();
        const summary = { store: resolve(storePath), added: res.added, pairs: pairs.length, segmentLength: f.segmentLength, storePairs: counts.pairs, pending: counts.pending, unlabelled: counts.unlabelled, waitingForPeople: counts.waitingForPeople, serve: `prefrl serve --store ${shellPath(storePath)}` };
        if (f.json) printJson(ctx.io, summary);
        else {
          ctx.io.stdout.write(
            `${pairs.length} pairs of ${f.segmentLength}-step segments${b ? ' (A from --trajectories, B from --against)' : ''}: ${res.added} new in ${storePath} (${counts.pairs} pairs, ${counts.unlabelled} unlabelled, ${counts.waitingForPeople} waiting for people)\nlabel them: ${summary.serve}\n`,
          );
        }
        return 0;
      } finally {
        store.close();
      }
    } finally {
      stopHint();
    }
  },
};
