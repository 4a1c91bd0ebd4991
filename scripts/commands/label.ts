/**
 * `prefrl label`: a synthetic teacher, HERON or a VLM answers the pairs of a label store that
 * it has not answered yet, next to whatever people (or other teachers) said about them. With
 * `prefrl pairs` and `prefrl serve` this makes a small study: people and, say, the oracle on the
 * same pairs, and `prefrl labels stats` reports how often they agree.
 *
 * B-Pref's skip and equal thresholds scale with an average segment's return; the store holds
 * segments, not episodes, so the context the teacher sees is the pool's mean return per step
 * over the env's horizon (an episode of horizon steps that returns like the average segment
 * step), with the segments' most common length.
 */
import { dirname, join, resolve } from 'node:path';
import { flags } from '../../core/config.js';
import { InputError, UsageError } from '../../core/errors.js';
import { Progress } from '../../core/progress.js';
import { Rng } from '../../core/rng.js';
import { envConfigFromArgs, makeEnv } from '../../envs/registry.js';
import { LABELLED_CHUNK, pairChunks } from '../../reward/store_pairs.js';
import { segmentReturn } from '../../reward/segments.js';
import { isTie, type LabelStore } from '../../reward/store.js';
import { asFlag, makeTeacher } from '../../reward/teachers/index.js';
import { vlmUsageLine } from '../../reward/teachers/vlm.js';
import type { Segment, Teacher, TeacherContext } from '../../reward/types.js';
import { envConfigForStore } from '../../viewer/env_info.js';
import { type Command, letSignalsIn, onInterrupt, openStoreFlag, parseOrHelp, printJson, shellPath } from '../command.js';
import { jsonFlag, quietFlag, seedFlag, storeFlag, taskFlag } from './common_flags.js';
import { commandSummary } from '../command_index.js';

const spec = {
  command: 'prefrl label',
  summary: 'A synthetic teacher, HERON or a VLM answers the pairs of a label store it has not answered yet (next to people\'s answers, for comparison).',
  flags: {
    store: storeFlag('holding the pairs'),
    teacher: flags.string({
      doc: 'oracle | stochastic | mistake | skip | equal | myopic | <preset>:k=v,... | heron:<config.json> | synthetic-vlm[:k=v] | vlm:baseUrl=...,model=...[,k=v] (people answer through prefrl serve)',
    }),
    batch: flags.int({ doc: 'pairs per teacher call (stored before the next call)', default: 100, min: 1 }),
    env: flags.string({ doc: 'env id or MJCF path, when the store alone does not say (bring-your-own models)', optional: true }),
    task: taskFlag(),
    seed: seedFlag('the teacher\'s randomness'),
    json: jsonFlag(),
    quiet: quietFlag(),
  },
  epilog: [
    'VLM teacher (--teacher vlm:k=v,...; any OpenAI-compatible chat-completions server):',
    '  baseUrl, model      the server (e.g. http://localhost:8000/v1) and model name (required)',
    '  keyEnv              NAME of the variable holding the API key (default OPENAI_API_KEY; unset: no key is sent)',
    '  frames, columns     final (the final frame, default) or k: a strip of k frames, in rows of columns',
    '  width, height       size of each frame, px (default 512x384)',
    '  camera              auto | side | front | top | iso; hideRobot 0/1; follow auto | on | off',
    '  temperature         sampling temperature (default 0), or server: none sent, the server\'s default (OpenAI\'s reasoning models take only that)',
    '  analysisMaxTokens   reply length limit of the analysis, tokens (default 1024; a model that reasons first needs more)',
    '  labelMaxTokens      reply length limit of the answer, tokens (default 16)',
    '  tokenField          max_tokens (default; local servers) or max_completion_tokens (OpenAI\'s o1, o3, o4-mini, gpt-5): the field the limits go in',
    '  concurrency, rpm    requests open at once (default 4), requests per minute (default 0: no limit)',
    '  timeoutS, retries   seconds per request (default 120), retries after 429/5xx/timeouts (default 5)',
    '  onError             fail (default) or skip the pairs whose requests fail',
    '  cacheDir            answer cache (default <store folder>/vlm_cache: a re-run asks nothing twice)',
    'Examples:',
    '  prefrl label --store runs/<stamp>-rollout-reacher/labels.sqlite --teacher oracle',
    '  prefrl label --store labels.sqlite --teacher vlm:baseUrl=http://localhost:8000/v1,model=Qwen/Qwen2.5-VL-7B-Instruct,frames=4',
    '  prefrl label --store labels.sqlite --teacher vlm:baseUrl=https://api.openai.com/v1,model=o4-mini,tokenField=max_completion_tokens,temperature=server,analysisMaxTokens=8000,labelMaxTokens=2000',
    '  prefrl labels stats --store runs/<stamp>-rollout-reacher/labels.sqlite',
  ].join('\n'),
};

/** A teacher's request and token counts (the VLM teacher's `vlm/*` metrics) and a line saying them, or null for teachers that make no requests. */
export function teacherUsage(teacher: Teacher): { metrics: Record<string, number>; line: string } | null {
  const m = teacher.metrics?.();
  const line = vlmUsageLine(m);
  if (!m || line === null) return null;
  const metrics = Object.fromEntries(Object.entries(m).filter((e): e is [string, number] => typeof e[1] === 'number'));
  return { metrics, line };
}

/** Pairs whose segments `prefrl label` reads from the store at once, at most (the observe pass's chunks and each batch's reads): offline's chunk. */
export const LABEL_CHUNK = LABELLED_CHUNK;

/**
 * What the teacher observes of the pool (every stored pair's segments, each pair's a then b, in
 * `ids`' order): the per-step mean return over a horizon and the most common segment length, in
 * one pass over the segments' rewards on first use (the same sum in the same order as over the
 * whole pool), and the pool itself a chunk at a time (poolChunks; HERON) or, only if asked for, whole.
 */
export function labelContext(store: LabelStore, ids: readonly string[], horizon: number): TeacherContext {
  const chunks = function* (): Generator<Segment[]> {
    for (const chunk of pairChunks(store, ids)) yield chunk.flatMap((p) => [p.a, p.b]);
  };
  let stats: { perStep: number; length: number } | null = null;
  const poolStats = (): { perStep: number; length: number } => {
    if (stats) return stats;
    let ret = 0;
    let steps = 0;
    const lengths = new Map<number, number>();
    // Only the rewards are read (LabelStore.pairRewards), LABEL_CHUNK pairs at a time; each
    // segment's return (segmentReturn), added in pool order.
    for (let i = 0; i < ids.length; i += LABEL_CHUNK) {
      for (const g of store.pairRewards(ids.slice(i, i + LABEL_CHUNK))) {
        ret += segmentReturn(g);
        steps += g.length;
        lengths.set(g.length, (lengths.get(g.length) ?? 0) + 1);
      }
    }
    const length = [...lengths.entries()].sort((x, y) => y[1] - x[1] || x[0] - y[0])[0][0];
    stats = { perStep: ret / steps, length };
    return stats;
  };
  let pool: Segment[] | null = null;
  return {
    // Per-step mean return of the pool, over a horizon; the segments' most common length.
    get meanEpisodeReturn(): number {
      return poolStats().perStep * horizon;
    },
    episodeLength: horizon,
    get segmentLength(): number {
      return poolStats().length;
    },
    get pool(): Segment[] {
      pool ??= [...chunks()].flat();
      return pool;
    },
    poolChunks: chunks,
  };
}

export const labelCommand: Command = {
  name: 'label',
  summary: commandSummary('label'),
  async run(argv, ctx) {
    const parsed = parseOrHelp(argv, spec, ctx.io);
    if (!parsed) return 0;
    const f = parsed.flags;
    const kind = f.teacher.split(':')[0];
    if (kind === 'human') throw new UsageError('--teacher human: people answer through the viewer: prefrl serve --store <store>');
    if (kind === 'regret') throw new UsageError('--teacher regret: needs an expert\'s value function, which prefrl train --expert provides; not available here');
    if (f.task && !f.env) throw new UsageError('--task: needs --env <model.xml>');
    const storePath = f.store;
    const store = openStoreFlag(storePath, ctx.clock);
    try {
      // Only ids up front (every pair's, in the order labelled, and those this teacher has not
      // answered); segments are read LABEL_CHUNK pairs at a time as the observe pass and the
      // batches need them, never every pair's at once.
      const allIds = store.pairIdsToLabel();
      if (allIds.length === 0) throw new InputError(storePath, 'holds no pairs (make some with prefrl pairs)');
      const first = store.getPairs(allIds.slice(0, 1))[0];
      const envConfig = f.env ? envConfigFromArgs(f.env, { task: f.task }) : envConfigForStore(storePath, store.envId() ?? first.a.envId);
      const env = await makeEnv(envConfig, { logger: ctx.logger });
      const envSpec = env.spec;
      env.dispose();
      // --env must be the env the segments were recorded on: a VLM would render another robot, and B-Pref's thresholds use its horizon.
      const seg = first.a;
      if (f.env && (envSpec.id !== seg.envId || envSpec.modelHash !== seg.modelHash)) {
        throw new UsageError(
          `--env ${f.env}: the store holds segments of ${seg.envId} (model ${seg.modelHash}), not of ${envSpec.id} (model ${envSpec.modelHash}); leave --env out, or give the env the segments were recorded on`,
        );
      }
      const teacher = asFlag('--teacher', () =>
        makeTeacher(f.teacher, {
          env: envSpec,
          rng: new Rng(f.seed).fork('teacher'),
          vlm: { envConfig, cacheDir: join(dirname(resolve(storePath)), 'vlm_cache'), keepRendererOpen: true, logger: ctx.logger, clock: ctx.clock },
        }),
      );
      try {
        const answered = store.answeredPairCount(teacher.id);
        const todo = store.pairIdsToLabel({ unansweredBy: teacher.id });
        // Nothing left to answer: the pool is not read (what the teacher observes only shapes new labels).
        if (teacher.observe && todo.length > 0) teacher.observe(labelContext(store, allIds, envSpec.horizon));
        store.putTeacher({ id: teacher.id, kind, config: { spec: f.teacher } });
        const progress = new Progress(`label ${teacher.id}`, todo.length, { unit: 'pairs', clock: ctx.clock, sink: ctx.io.stderr, tty: ctx.io.tty, silent: f.quiet });
        let added = 0;
        // Strict preferences and ties (probFirst 0.5) apart, as labels stats counts them.
        let preferences = 0;
        let ties = 0;
        // Ctrl-C: each batch's labels are stored as it ends; the same command goes on with the pairs left.
        const stopHint = onInterrupt(
          ctx,
          () => ({ line: `stopped; ${added} new labels are stored in ${storePath}; run the same command again to label the pairs left`, fields: { store: storePath, teacher: teacher.id, pairs: allIds.length, added } }),
          { json: f.json },
        );
        try {
          for (let i = 0; i < todo.length; i += f.batch) {
            // A synthetic teacher answers without giving the event loop a turn: let a signal in.
            await letSignalsIn();
            const labels = await teacher.label([...pairChunks(store, todo.slice(i, i + f.batch))].flat(), (k) => progress.update(i + k));
            added += store.addLabels(labels).added;
            const t = labels.filter(isTie).length;
            ties += t;
            preferences += labels.filter((l) => l.kind === 'preference').length - t;
            progress.update(Math.min(todo.length, i + f.batch));
          }
        } finally {
          stopHint();
        }
        progress.finish();
        // A VLM's requests and tokens (what the run cost); a VLM that failed part way reports them below.
        const usage = teacherUsage(teacher);
        const summary = { store: storePath, teacher: teacher.id, pairs: allIds.length, alreadyAnswered: answered, added, preferences, ties, skips: added - preferences - ties, ...(usage ? { usage: usage.metrics } : {}) };
        if (f.json) printJson(ctx.io, summary);
        else {
          ctx.io.stdout.write(
            `${teacher.id}: ${added} new labels (${preferences} preferences, ${ties} ties, ${added - preferences - ties} skips) on ${allIds.length} pairs of ${storePath} (${answered} answered before)\n${usage ? `${usage.line}\n` : ''}compare the teachers: prefrl labels stats --store ${shellPath(storePath)}\n`,
          );
        }
        return 0;
      } catch (e) {
        const usage = teacherUsage(teacher);
        if (usage) ctx.logger.info(`before stopping: ${usage.line}`);
        throw e;
      } finally {
        await teacher.close?.();
      }
    } finally {
      store.close();
    }
  },
};
