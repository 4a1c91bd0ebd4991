/**
 * `prefrl serve`: the labelling server. People open the printed link, watch two clips side by
 * side (re-simulated in the browser from the stored joint states) and say which is better;
 * answers go to the label store. Runs until Ctrl-C.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, realpathSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { flags } from '../../core/config.js';
import { UsageError } from '../../core/errors.js';
import { shellQuote } from '../../core/paths.js';
import { envConfigFromArgs } from '../../envs/registry.js';
import type { AgreementTotals, StoreCounts } from '../../reward/store.js';
import type { Pair } from '../../reward/types.js';
import { envConfigForStore, loadViewerEnv } from '../../viewer/env_info.js';
import { checkViewerAccess, isLoopbackHost, MIN_TOKEN_CHARS, readPeople } from '../../viewer/access.js';
import { DEFAULT_LEASE_MS, DEFAULT_PORT, type InsightModel, ViewerServer } from '../../viewer/server.js';
import { type Command, openStoreFlag, parseOrHelp, printJson, shellPath } from '../command.js';
import { jsonFlag, quietFlag, STORE_DOC, taskFlag } from './common_flags.js';
import { commandSummary } from '../command_index.js';

const spec = {
  command: 'prefrl serve',
  summary:
    'Serve the labelling page: people compare two clips side by side and say which is better; answers go to the label store. Binds 127.0.0.1 unless --host says otherwise (then an access token is required).',
  flags: {
    store: flags.string({ doc: `${STORE_DOC} holding the pairs to label`, default: 'labels.sqlite' }),
    port: flags.int({ doc: 'port (0: any free port)', default: DEFAULT_PORT, min: 0, max: 65535 }),
    host: flags.string({ doc: 'address to bind; 0.0.0.0 serves the whole network (needs a token)', default: '127.0.0.1' }),
    token: flags.string({
      doc: `access token teachers present (link ?token=..., or typed); at least ${MIN_TOKEN_CHARS} characters`,
      optional: true,
      defaultDoc: '$PREFRL_VIEWER_TOKEN; a random one when --host is not loopback or --people is given',
    }),
    people: flags.string({
      doc: 'give each person a link of their own: comma-separated names, or @file with one name per line (# starts a comment). A link signs its holder in under their name (no name to type or change); only these links let pages in. Made from --token, so the same token gives the same links after a restart',
      optional: true,
    }),
    overlap: flags.int({
      doc: "distinct people per pair (> 1 reports inter-teacher agreement; raises the pairs' wanted count in the store, also of pairs added while it serves). Only people's answers count: labels of prefrl label's teachers do not use pairs up",
      default: 1,
      min: 1,
    }),
    leaseMs: flags.int({ doc: 'how long a handed-out pair stays reserved for its teacher, ms', default: DEFAULT_LEASE_MS, min: 1 }),
    insight: flags.string({ doc: 'reward model: a prefrl reward run folder, or a reward model folder (runs/<id>/artifacts/reward_model): show its opinion after each answer', optional: true }),
    heronOut: flags.string({ doc: 'where the HERON page saves its config', optional: true, defaultDoc: 'heron.json next to the store' }),
    env: flags.string({ doc: 'env id or MJCF path, when the store alone does not say (bring-your-own models)', optional: true }),
    task: taskFlag(),
    quiet: quietFlag('here: the line per answer people give; the start and stop lines, and the one when every pair has its answers, stay'),
    json: jsonFlag({ when: 'when the server stops' }),
  },
  epilog: [
    'Examples:',
    '  prefrl serve --store runs/<id>/labels.sqlite',
    '  prefrl serve --store labels.sqlite --host 0.0.0.0 --token "$(openssl rand -hex 16)" --overlap 2',
    '  prefrl serve --store runs/<id>/labels.sqlite --insight runs/<id>/artifacts/reward_model',
    '  prefrl serve --store labels.sqlite --host 0.0.0.0 --token "$STUDY_TOKEN" --people "Ada,Alan,Grace"   # a link per person',
  ].join('\n'),
};

/** The reward model's opinion on pairs (loaded only with --insight; tfjs is not needed otherwise). */
async function loadInsight(dir: string): Promise<InsightModel & { dispose(): void; obsDim: number; actDim: number }> {
  const { initBackend } = await import('../../core/backend.js');
  await initBackend('auto');
  const { RewardNet, segmentTransitions } = await import('../../reward/network.js');
  const net = RewardNet.load(dir);
  return {
    obsDim: net.config.obsDim,
    actDim: net.config.actDim,
    explain(pair: Pair) {
      const probs = net.pairProbs([pair]);
      let p = 0;
      for (let k = 0; k < probs.length; k++) p += probs[k] / probs.length;
      return { probFirst: p, rewardsA: net.predict(segmentTransitions(pair.a)), rewardsB: net.predict(segmentTransitions(pair.b)) };
    },
    dispose: () => net.dispose(),
  };
}

/**
 * --heron-out is written when someone saves on the HERON page: a missing folder would only show
 * then, as an error on the page after the ranking work, so it is checked at start.
 */
function checkHeronOut(path: string, store: string): void {
  const dir = dirname(resolve(path));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`--heron-out ${path}: ${dir} is not an existing folder`);
  if (existsSync(path) && statSync(path).isDirectory()) throw new UsageError(`--heron-out ${path}: is a folder (name the .json file to write)`);
  // Saved over the store (or its -wal), the page's JSON would destroy every label in it, people's answers too.
  if (existsSync(path) && existsSync(store) && [store, `${store}-wal`, `${store}-shm`].some((f) => existsSync(f) && realpathSync(f) === realpathSync(path))) {
    throw new UsageError(`--heron-out ${path}: is the label store itself (--store) or one of its files; give a .json file, such as ${join(dirname(path), 'heron.json')}`);
  }
}

/** "a", "a and b", "a, b and c". */
function listText(items: readonly string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/**
 * The folder --insight names: a reward model folder (model.json), or a `prefrl reward` / `train`
 * run folder holding one in artifacts/reward_model (as `--reward model:<run>` takes it).
 */
function insightFolder(given: string): string {
  if (!existsSync(given)) throw new UsageError(`--insight ${given}: not found (a reward model folder, or the run folder of prefrl reward)`);
  if (existsSync(resolve(given, 'model.json'))) return given;
  const inRun = resolve(given, 'artifacts', 'reward_model');
  if (existsSync(resolve(inRun, 'model.json'))) return inRun;
  throw new UsageError(`--insight ${given}: holds no reward model (no model.json there or in artifacts/reward_model)`);
}

/** "1 label", "2 labels". */
function counted(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** "2 of 3 comparisons (0.667)", "1 of 1 comparison (1.000)". */
function agreementText(t: AgreementTotals): string {
  return `${t.agreeing} of ${counted(t.comparisons, 'comparison')}${t.fraction === null ? '' : ` (${t.fraction.toFixed(3)})`}`;
}

/** Labels each teacher gained between two counts of the store (an undo can take one away), most first. */
function addedByTeacher(before: StoreCounts, after: StoreCounts): Record<string, number> {
  const added: [string, number][] = [];
  for (const [teacher, c] of Object.entries(after.perTeacher)) {
    const n = c.labels - (before.perTeacher[teacher]?.labels ?? 0);
    if (n !== 0) added.push([teacher, n]);
  }
  added.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  return Object.fromEntries(added);
}

/**
 * An access token made up for a session: 144 random bits, 24 base64url characters, never starting
 * with "-" (the restart line prints it as `--token <it>`, and a value starting with "-" reads as a
 * flag: one token in 64 made that restart fail with "flag --token needs a value").
 */
export function madeUpToken(): string {
  for (;;) {
    const token = randomBytes(18).toString('base64url');
    if (!token.startsWith('-')) return token;
  }
}

export const serveCommand: Command = {
  name: 'serve',
  summary: commandSummary('serve'),
  async run(argv, ctx) {
    const parsed = parseOrHelp(argv, spec, ctx.io);
    if (!parsed) return 0;
    const f = parsed.flags;
    // The token: --token, else $PREFRL_VIEWER_TOKEN (set but empty counts as unset), checked
    // before the store is opened, and errors name where the bad token came from.
    const envToken = process.env.PREFRL_VIEWER_TOKEN;
    let token = f.token ?? (envToken === '' ? undefined : envToken);
    const tokenSource = f.token !== undefined ? '--token' : '$PREFRL_VIEWER_TOKEN';
    let generated = false;
    const people = f.people === undefined ? undefined : readPeople(f.people, '--people');
    if (token === undefined && (!isLoopbackHost(f.host) || people !== undefined)) {
      token = madeUpToken();
      generated = true;
    }
    checkViewerAccess(f.host, token, { host: '--host', token: tokenSource });
    if (f.heronOut !== undefined) checkHeronOut(f.heronOut, f.store);
    const store = openStoreFlag(f.store, ctx.clock);
    if (generated) {
      ctx.logger.info(
        people !== undefined
          ? '--people: generated the access token the personal links are made from (pass --token to choose one)'
          : `--host ${f.host} is reachable from other machines: generated an access token (pass --token to choose one)`,
      );
    }
    let insight: Awaited<ReturnType<typeof loadInsight>> | undefined;
    let server: ViewerServer | undefined;
    try {
      const envConfig = f.env ? envConfigFromArgs(f.env, { task: f.task }) : envConfigForStore(f.store, store.envId());
      const env = await loadViewerEnv(envConfig);
      const storeEnv = store.envId();
      if (storeEnv !== undefined && storeEnv !== env.spec.id) throw new UsageError(`--env: the store holds ${storeEnv} segments, not ${env.spec.id}`);
      if (f.insight) {
        insight = await loadInsight(insightFolder(f.insight));
        if (insight.obsDim !== env.spec.obsDim || insight.actDim !== env.spec.actDim) {
          // A whole model of another env: the flag named the wrong one (exit 2, as train and iql --reward model:<dir> say).
          throw new UsageError(`--insight ${f.insight}: the reward model takes ${insight.obsDim} observation and ${insight.actDim} action values; ${env.spec.id} has ${env.spec.obsDim} and ${env.spec.actDim}`);
        }
      }
      // Pairs an earlier session's --overlap raised still go to that many people (wanted only rises):
      // the agreement stays shown after a restart without --overlap.
      const storeOverlap = store.mostWanted();
      server = await ViewerServer.start({
        store,
        env,
        host: f.host,
        port: f.port,
        token,
        people,
        overlap: f.overlap,
        storeOverlap,
        leaseMs: f.leaseMs,
        insight,
        heronOut: f.heronOut,
        clock: ctx.clock,
        logger: ctx.logger,
      });
      // The overlap the pages are told (the flag's, or more where the stored pairs want more people).
      const overlap = server.shownOverlap;
      const before = store.counts();
      const allAnswered = `every pair has the answers it wants: nothing to hand out (add pairs with prefrl pairs --trajectories <a rollout run> --store ${shellPath(store.path)}; people's pages take them up)`;
      ctx.logger.info(`labelling ${env.spec.id}: ${counted(before.waitingForPeople, 'pair')} waiting for people, ${counted(before.labels, 'label')} stored in ${store.path}`);
      if (before.waitingForPeople === 0) ctx.logger.info(allAnswered);
      // Which link is for whom: beyond this machine, the loopback one works only here.
      const links = server.links();
      const where = (link: string, all: readonly string[]) => (all.length > 1 ? (isLoopbackHost(new URL(link).hostname) ? ' (on this machine)' : ' (from other machines)') : '');
      if (people === undefined) {
        for (const link of links) ctx.logger.info(`open ${link}${where(link, links)}`);
      } else {
        ctx.logger.info(`${people.length} personal link${people.length === 1 ? '' : 's'}: give each person theirs alone (it signs them in under their name; the page lets no one in without one)`);
        for (const { name, links: own } of server.personLinks()) for (const link of own) ctx.logger.info(`  ${name}: ${link}${where(link, own)}`);
      }
      if (!isLoopbackHost(f.host) && links.length === 1 && isLoopbackHost(new URL(links[0]).hostname)) {
        const u = new URL(links[0]);
        ctx.logger.info(
          people === undefined
            ? `no network address of this machine was found: from other machines, open ${u.protocol}//<this machine's address>:${u.port}/${u.search}`
            : `no network address of this machine was found: from other machines, use the links above with ${u.hostname} replaced by this machine's address`,
        );
      }
      if (storeOverlap > f.overlap) ctx.logger.info(`pairs of this store go to up to ${storeOverlap} different people (an earlier --overlap); agreement is shown on the page`);
      else if (f.overlap > 1) ctx.logger.info(`each pair goes to ${f.overlap} different people; agreement is shown on the page`);
      ctx.logger.info('press Ctrl-C to stop');
      // A line per answer stored, so whoever runs the study sees it go on from the terminal.
      let waiting = before.waitingForPeople;
      const progressLine = (what: string, teacher: string) => {
        try {
          const c = store.progressCounts(teacher);
          const totals = overlap > 1 && !f.quiet ? store.agreementTotals() : null;
          const agreement = totals && totals.comparisons > 0 ? agreementText(totals) : '';
          if (!f.quiet) {
            ctx.logger.info(
              `${what} ${teacher} (${c.teacherLabels} by them): ${counted(c.labels, 'label')} stored, ${c.labels - before.labels} new this session; ${counted(c.waitingForPeople, 'pair')} waiting for people${agreement ? `; agreement ${agreement}` : ''}`,
            );
          }
          if (c.waitingForPeople === 0 && waiting > 0) ctx.logger.info(allAnswered);
          waiting = c.waitingForPeople;
        } catch (e) {
          ctx.logger.warn(`serve: cannot count the labels: ${(e as Error).message}`);
        }
      };
      server.onLabel((label) => progressLine('answer from', label.teacher));
      // An undone answer leaves the store (the counts go down): said, so the next line's numbers add up.
      server.onUndo((u) => progressLine('answer undone by', u.teacher));
      await new Promise<void>((res) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          process.off('SIGHUP', stop);
          res();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
        // The terminal went away: the session ends as on Ctrl-C (pages told, pairs given back).
        process.on('SIGHUP', stop);
      });
      const after = store.counts();
      const totals = overlap > 1 ? store.agreementTotals() : null;
      const labelsAddedBy = addedByTeacher(before, after);
      const summary = {
        store: store.path,
        url: server.url,
        labelsAdded: after.labels - before.labels,
        labelsAddedBy,
        labels: after.labels,
        // pending: the name of old for waitingForPeople (labels stats' pending counts every teacher's answers).
        pending: after.waitingForPeople,
        waitingForPeople: after.waitingForPeople,
        agreement: totals ? totals.fraction : null,
      };
      if (f.json) printJson(ctx.io, summary);
      else {
        const who = Object.entries(labelsAddedBy).map(([t, n]) => `${t} ${n}`);
        ctx.io.stdout.write(
          `stopped: ${counted(summary.labelsAdded, 'new label')} this session${who.length > 0 ? ` (${who.join(', ')})` : ''}, ${after.labels} in ${store.path}, ${counted(after.waitingForPeople, 'pair')} waiting for people${totals && totals.comparisons > 0 ? `; agreement ${agreementText(totals)}` : ''}\n`,
        );
      }
      // What this session made up (a token, a port picked by --port 0) is in the links people hold:
      // a restart without it makes another, and pages holding the old link cannot reach the new server.
      // Personal links are made from the token and the names of --people: a restart with the token
      // alone lets no personal link in (its server knows only the shared token), so --people goes
      // with them, as given; a token the operator chose is theirs to give again, not printed.
      const made: { flag: string; said: string }[] = [];
      if (f.port === 0) made.push({ flag: `--port ${server.boundPort}`, said: `port ${server.boundPort}` });
      if (generated) made.push({ flag: `--token ${token}`, said: `the access token ${token}` });
      if (made.length > 0) {
        const keep = made.map((m) => m.flag);
        const what = made.map((m) => m.said);
        if (f.people !== undefined) {
          keep.push(`--people ${shellQuote(f.people)}`);
          const chosen = generated ? '' : ` (and the same ${tokenSource})`;
          ctx.logger.info(`the personal links handed out depend on ${listText([...what, 'the names of --people'])}: restart with ${keep.join(' ')}${chosen} so that they keep working`);
        } else {
          ctx.logger.info(`the links handed out name ${what.join(' and ')}: restart with ${keep.join(' ')} so that they keep working`);
        }
      }
      return 0;
    } finally {
      await server?.close();
      insight?.dispose();
      store.close();
    }
  },
};
