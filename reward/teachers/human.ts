/**
 * The human teacher: people answer the queries in the viewer (viewer/, `prefrl serve`).
 *
 * `label(pairs)`:
 *   1. stores the batch in the label store (`putPairs`; idempotent, the training loop may
 *      have stored it already) and, with overlap k > 1, asks k people per pair;
 *   2. makes sure a labelling server runs on that store: one that another process started
 *      (`prefrl serve` writes `<store>.viewer.json`; it is used when its process is alive and
 *      its /healthz names the same store), else one started here, in this process (the train
 *      loop steps envs asynchronously, so the event loop is free to serve pages);
 *   3. prints the viewer's URL once, then waits: every answer is committed to the store by
 *      the server, and this teacher watches the store (woken by the in-process server, or
 *      polling), printing a status line now and then;
 *   4. returns one label per pair, in pair order: the first answer a person stored for it
 *      (labels of machine teachers on the same store do not count).
 *
 * Timeout policy. `timeoutS` counts seconds WITHOUT A NEW ANSWER of a person in the store, to a pair of
 * this batch or any other (an idle timeout: a slow but present teacher never hits it, even while
 * the people answer pairs an earlier batch left open, or a second opinion on one with overlap).
 * Default 900 s; 0 waits forever. When it runs out, `onTimeout` decides:
 *   skip (default)  the unanswered pairs get timeout skips (reason "no answer within ... s
 *                   (human teacher timeout)"), so training goes on with the answers it has. A
 *                   timeout skip is not an answer (reward/store.ts): the viewer still offers the
 *                   pair, after the pairs never asked, and a resumed run asks it again; this
 *                   teacher's later batches return a person's answer when one came, else its
 *                   first timeout skip of that pair;
 *   fail            throw a ServiceError naming the store and the unanswered pairs; answers given
 *                   so far stay stored (`prefrl train` and `prefrl offline` say how to resume).
 *
 * The end of asking. Given the run's `budget` (`prefrl train` passes its --labels), the teacher
 * knows when the run will ask no more: when a batch is handed back with the store holding that
 * many answers (its labels less the timeout skips, what the training loop counts, read in the same
 * tick as the loop reads it), the loop asks no further round. Its in-process server then stops
 * handing out pairs (ViewerServer.stopHandingOut): the pairs still open (timed out earlier, or
 * wanting another person's opinion) would be answered for nothing while PPO goes on, so they are
 * withdrawn (their leases given back; they stay in the store, open, for a `prefrl serve` of it) and
 * every page says the run has the labels it needs. Answers already on their way are stored and
 * acknowledged. A later batch (a script calling label() again) hands out pairs again. A `prefrl
 * serve` in another process is its operator's: it is left serving. A run with no budget of answers
 * to count (prefrl offline, which asks a set of stored pairs) says when it is done with
 * finishAsking(), to the same effect.
 *
 * Labels handed back are locked against undo in the label store (a person can undo an answer
 * only until training has taken it), which the in-process server and a `prefrl serve` of the same
 * store in another process both respect. So are all other answers of people stored by then:
 * training reads every stored label, not only the batch's (an answer given after its pair timed
 * out in an earlier batch, to a pair an interrupted round left open, a second person's opinion).
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Clock, systemClock } from '../../core/clock.js';
import { ServiceError, UsageError } from '../../core/errors.js';
import { type Logger, silentLogger } from '../../core/log.js';
import type { EnvConfig } from '../../envs/registry.js';
import { HUMAN_TEACHER_ID, isPerson, isTimeoutSkip, type LabelStore, type StoredLabel, TIMEOUT_SKIP_TAG } from '../store.js';
import type { ViewerServer as ViewerServerType } from '../../viewer/server.js';
import type { Label, Pair, Teacher } from '../types.js';
import { labelHead } from './synthetic.js';

export type HumanTimeoutPolicy = 'skip' | 'fail';

export interface HumanTeacherOptions {
  /** Teacher id (default "human"); people's labels carry "human:<name>". */
  readonly id?: string;
  /** The label store the queries go to (a function when the store opens after the teacher is made). */
  readonly store: LabelStore | (() => LabelStore);
  /** The env of the segments (the page replays its model). */
  readonly env: EnvConfig;
  /** Server address (default 127.0.0.1; anything else needs `token`). */
  readonly host?: string;
  /** Server port (default 8080; 0 = any free port). */
  readonly port?: number;
  readonly token?: string;
  /** People who get links of their own (normalised names; needs `token`): see ViewerServerOptions.people. */
  readonly people?: readonly string[];
  /** Distinct people asked per pair (default 1). The first answer is returned; later ones are stored for later rounds. */
  readonly overlap?: number;
  /** Lease of a handed-out pair, ms (default: the server's, 5 minutes). */
  readonly leaseMs?: number;
  /** Seconds without a new answer before `onTimeout` applies (default 900; 0 = wait forever). */
  readonly timeoutS?: number;
  readonly onTimeout?: HumanTimeoutPolicy;
  /**
   * The run's label budget (`prefrl train`'s --labels): once a batch is handed back with the store
   * holding this many answers, the in-process server hands out no more pairs (see "The end of
   * asking" above). Absent: the server hands out pairs until it is closed.
   */
  readonly budget?: number;
  /** How often the store is checked when no in-process event arrives, ms (default 1000). */
  readonly pollMs?: number;
  /** Seconds between status lines while waiting (default 30). */
  readonly statusEveryS?: number;
  /** The built viewer page (default dist/viewer-web). */
  readonly staticDir?: string;
  readonly logger?: Logger;
  readonly clock?: Clock;
}

export const DEFAULT_HUMAN_TIMEOUT_S = 900;

interface ServerHandle {
  readonly url: string;
  readonly links: string[];
  /** With `people`: each person's own links (this process's server only). */
  readonly personLinks: { name: string; links: string[] }[];
  onLabel(fn: () => void): () => void;
  raiseWanted(n: number, ids: readonly string[]): void;
  wake(): void;
  /** Tell the pages now, synchronously, that the session has ended (an in-process server only). */
  endSessionsNow(): void;
  /** Hand out no more pairs (the run asks no more); how many were given back. null: not this process's server. */
  stopHandingOut(): number | null;
  resumeHandingOut(): void;
  close(): Promise<void>;
}

/** The human teachers of this process running a labelling server of their own (for endHumanSessionsNow). */
const serving = new Set<HumanTeacher>();

/**
 * Tell the pages of every labelling server the human teachers of this process started that the
 * session has ended, at once and synchronously: for `train` and `offline` stopped by Ctrl-C, which
 * exit without awaiting close() (the pages would otherwise see a lost connection, not the end of
 * the session). A `prefrl serve` in another process is left alone.
 */
export function endHumanSessionsNow(): void {
  for (const t of serving) t.endSessionsNow();
}

/** The port each label store's server, started by a human teacher of this process, bound (kept after it closes). */
const servedPorts = new Map<string, number>();

/**
 * The port the labelling server a human teacher of this process started on the store at
 * `storePath` bound (the last one, still serving or closed): what a restart must name when
 * `--human-port 0` let it pick one, since the links handed out carry it. Undefined when none did.
 */
export function humanServedPort(storePath: string): number | undefined {
  return servedPorts.get(resolve(storePath));
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM';
  }
}

export class HumanTeacher implements Teacher {
  readonly id: string;
  private readonly opts: HumanTeacherOptions;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private server: ServerHandle | null = null;
  private announced = false;
  private round = 0;

  constructor(opts: HumanTeacherOptions) {
    this.opts = opts;
    this.id = opts.id ?? HUMAN_TEACHER_ID;
    this.logger = opts.logger ?? silentLogger;
    this.clock = opts.clock ?? systemClock;
    const t = opts.timeoutS ?? DEFAULT_HUMAN_TIMEOUT_S;
    if (!(t >= 0) || !Number.isFinite(t)) throw new UsageError(`human teacher: timeout must be >= 0 seconds (0 waits forever), got ${t}`);
    const o = opts.overlap ?? 1;
    if (!Number.isInteger(o) || o < 1) throw new UsageError(`human teacher: overlap must be an integer >= 1, got ${o}`);
    const b = opts.budget;
    if (b !== undefined && !(Number.isInteger(b) && b >= 1)) throw new UsageError(`human teacher: budget must be an integer >= 1, got ${b}`);
  }

  private store(): LabelStore {
    return typeof this.opts.store === 'function' ? this.opts.store() : this.opts.store;
  }

  /** The viewer's base URL once a server is known (null before the first batch). */
  get url(): string | null {
    return this.server?.url ?? null;
  }

  /** The server another process runs on this store, if it is alive and answers for it. */
  private async external(store: LabelStore): Promise<ServerHandle | null> {
    const { serverInfoPath, storeIdOf } = await import('../../viewer/server.js');
    const file = serverInfoPath(store.path);
    if (!existsSync(file)) return null;
    let info: { pid?: unknown; url?: unknown; storeId?: unknown };
    try {
      info = JSON.parse(readFileSync(file, 'utf8')) as typeof info;
    } catch {
      return null;
    }
    if (typeof info.pid !== 'number' || typeof info.url !== 'string' || info.pid === process.pid || !pidAlive(info.pid)) return null;
    const url = info.url;
    try {
      const ctl = new AbortController();
      const timer = setTimeout(() => ctl.abort(), 3000);
      const res = await fetch(new URL('healthz', url), { signal: ctl.signal });
      clearTimeout(timer);
      const body = (await res.json()) as { app?: string; storeId?: string };
      if (body.app !== 'prefrl-viewer' || body.storeId !== storeIdOf(store)) return null;
    } catch {
      return null;
    }
    return {
      url,
      links: [url],
      personLinks: [],
      onLabel: () => () => undefined,
      raiseWanted: (n, ids) => {
        store.raiseWanted(n, ids);
      },
      wake: () => undefined,
      endSessionsNow: () => undefined,
      stopHandingOut: () => null,
      resumeHandingOut: () => undefined,
      close: async () => undefined,
    };
  }

  private async ensureServer(store: LabelStore): Promise<ServerHandle> {
    if (this.server) return this.server;
    const ext = await this.external(store);
    if (ext) {
      this.server = ext;
      this.logger.info(`human teacher: using the labelling server already running on ${store.path}: ${ext.url}`);
      return ext;
    }
    const { ViewerServer } = await import('../../viewer/server.js');
    const { loadViewerEnv } = await import('../../viewer/env_info.js');
    const env = await loadViewerEnv(this.opts.env);
    let s: ViewerServerType;
    try {
      s = await ViewerServer.start({
        store,
        env,
        host: this.opts.host,
        port: this.opts.port,
        token: this.opts.token,
        people: this.opts.people,
        overlap: this.opts.overlap,
        leaseMs: this.opts.leaseMs,
        staticDir: this.opts.staticDir,
        clock: this.clock,
        logger: this.logger,
        flagPrefix: '--human-',
      });
    } catch (e) {
      if (e instanceof UsageError) throw new UsageError(`human teacher: ${e.message}`);
      throw e;
    }
    servedPorts.set(resolve(store.path), s.boundPort);
    // Kept in the store too, for a later process (`prefrl runs`'s resume command of a run whose
    // --human-port 0 let the server pick a port: the links handed out carry it).
    store.recordServedPort(s.boundPort);
    this.server = {
      url: s.url,
      links: s.links(),
      personLinks: s.personLinks(),
      onLabel: (fn) => s.onLabel(fn),
      raiseWanted: (n, ids) => s.raiseWanted(n, ids),
      wake: () => s.wake(),
      endSessionsNow: () => s.endSessionsNow(),
      stopHandingOut: () => s.stopHandingOut(),
      resumeHandingOut: () => s.resumeHandingOut(),
      close: () => s.close(),
    };
    serving.add(this);
    return this.server;
  }

  /**
   * The first stored answer of a person to each of the batch's pairs (timeout skips are not
   * answers; neither are labels of machine teachers, e.g. `prefrl label --teacher oracle` on the
   * same store: the store's own rule, isPerson), and the ids of every such answer the whole store
   * holds (any pair, any person: their count is the idle timer's measure; they are locked with the
   * batch's labels).
   */
  private answered(store: LabelStore, ids: ReadonlySet<string>): { got: Map<string, StoredLabel>; people: string[] } {
    const got = new Map<string, StoredLabel>();
    const kinds = new Map(store.teachers().map((t) => [t.id, t.kind]));
    const people: string[] = [];
    for (const l of store.labels()) {
      if (isTimeoutSkip(l) || !isPerson(l.teacher, kinds.get(l.teacher))) continue;
      people.push(l.id);
      if (ids.has(l.pairId) && !got.has(l.pairId)) got.set(l.pairId, l);
    }
    return { got, people };
  }

  async label(pairs: readonly Pair[]): Promise<Label[]> {
    if (pairs.length === 0) return [];
    const store = this.store();
    store.putPairs(pairs, { round: this.round++ });
    const server = await this.ensureServer(store);
    // The run asks again (a script's later batch): pages get pairs again.
    server.resumeHandingOut();
    const overlap = this.opts.overlap ?? 1;
    if (overlap > 1) server.raiseWanted(overlap, pairs.map((p) => p.id));
    server.wake();
    const ids = new Set(pairs.map((p) => p.id));
    const timeoutS = this.opts.timeoutS ?? DEFAULT_HUMAN_TIMEOUT_S;
    const policy = this.opts.onTimeout ?? 'skip';
    const where = this.announced ? 'in the viewer' : server.personLinks.length > 0 ? `at the people's own links (below)` : `at ${server.links.join(' or ')}`;
    const first = !this.announced;
    this.announced = true;
    this.logger.info(
      `human teacher: ${pairs.length} pair${pairs.length === 1 ? '' : 's'} waiting for answers ${where} (${timeoutS > 0 ? `after ${timeoutS} s without an answer: ${policy}` : 'no timeout'})`,
    );
    if (first) for (const { name, links } of server.personLinks) this.logger.info(`  ${name}: ${links.join(' or ')}`);

    let wake: (() => void) | null = null;
    const unsubscribe = server.onLabel(() => wake?.());
    const pollMs = this.opts.pollMs ?? 1000;
    const statusMs = (this.opts.statusEveryS ?? 30) * 1000;
    // The store's commit stamp when it was last read: a poll reads its labels again only after a
    // commit (by the server, this process or another one), not every pollMs while people think or
    // nobody is there. Reading every label costs time in proportion to the store (0.4 s at 10,000
    // labels), which a run waiting for answers would otherwise spend every second.
    let stamp = store.handOutState().stamp;
    // `people`: every answer of a person in the store at the last read (locked with the batch's labels below).
    let { got, people } = this.answered(store, ids);
    let lastCount = people.length;
    let lastAnswer = this.clock.now();
    let lastStatus = this.clock.now();
    try {
      while (got.size < pairs.length) {
        await new Promise<void>((res) => {
          const timer = setTimeout(res, pollMs);
          wake = () => {
            clearTimeout(timer);
            res();
          };
        });
        wake = null;
        const current = store.handOutState().stamp;
        const seen = current === stamp ? { got, people } : this.answered(store, ids);
        stamp = current;
        got = seen.got;
        people = seen.people;
        const now = this.clock.now();
        // Any new answer in the store (or an undone one) shows the people are there: the idle timer starts again.
        if (seen.people.length !== lastCount) {
          lastCount = seen.people.length;
          lastAnswer = now;
        }
        if (got.size >= pairs.length) break;
        if (timeoutS > 0 && now - lastAnswer >= timeoutS * 1000) {
          const missing = pairs.filter((p) => !got.has(p.id));
          if (policy === 'fail') {
            // The people (the service this teacher needs) did not answer: a ServiceError, one line
            // without a stack, to which the command adds how to resume.
            throw new ServiceError(
              `human teacher: no answer for ${missing.length} of ${pairs.length} pairs within ${timeoutS} s (${missing
                .slice(0, 3)
                .map((p) => p.id)
                .join(', ')}${missing.length > 3 ? ', ...' : ''}); ${got.size === 1 ? 'the 1 answer given is' : `the ${got.size} answers given are`} stored in ${store.path}`,
            );
          }
          const reason = `no answer within ${timeoutS} s ${TIMEOUT_SKIP_TAG}`;
          // A pair that timed out before (an earlier run) keeps its first timeout skip: a teacher labels a pair once.
          const before = (p: Pair) => {
            const id = store.labelIdOf(p.id, this.id);
            return id === null ? undefined : store.getLabel(id);
          };
          store.addLabels(
            missing.filter((p) => before(p) === undefined).map((p) => ({ kind: 'skip' as const, ...labelHead(this.id, p.id), reason, timeout: true })),
          );
          this.logger.warn(
            `human teacher: ${missing.length} of ${pairs.length} pairs got no answer within ${timeoutS} s; they are skipped for now and stay open in the viewer`,
          );
          ({ got, people } = this.answered(store, ids));
          for (const p of missing) {
            const l = got.has(p.id) ? undefined : before(p);
            if (l) got.set(p.id, l);
          }
          break;
        }
        if (now - lastStatus >= statusMs) {
          lastStatus = now;
          const left = timeoutS > 0 ? `; timeout in ${Math.max(0, Math.round(timeoutS - (now - lastAnswer) / 1000))} s without an answer` : '';
          this.logger.info(`human teacher: ${got.size}/${pairs.length} answered at ${server.url}${left}`);
        }
      }
    } finally {
      unsubscribe();
    }
    const out: Label[] = pairs.map((p) => {
      const l = got.get(p.id);
      if (!l) throw new Error(`human teacher: pair ${p.id} has no label`);
      const { createdAt: _createdAt, ...label } = l;
      return label;
    });
    // Locked in the store, which the in-process server and a prefrl serve in another process both
    // read: the batch's labels, and every other answer of a person stored by now (the last read is
    // current: a commit since would have been read), which training takes too (it reads every
    // stored label; the training loop does so in this same tick, before a page's message can be handled).
    store.lockLabels([...out.map((l) => l.id), ...people]);
    this.logger.info(`human teacher: ${out.filter((l) => l.teacher !== this.id).length} of ${pairs.length} pairs answered`);
    this.stopWhenSpent(store, server);
    return out;
  }

  /**
   * With the budget spent (the store's answers, counted as the training loop counts them, reach
   * it), the run asks no more: the in-process server stops handing out pairs and says so.
   */
  private stopWhenSpent(store: LabelStore, server: ServerHandle): void {
    const budget = this.opts.budget;
    if (budget === undefined) return;
    const answers = store.answerCount();
    if (answers < budget) return;
    this.stopAsking(store, server, `the --labels budget is spent (${answers} of ${budget} answers)`);
  }

  /**
   * The in-process server hands out no more pairs, takes back those the pages show and tells every
   * page the run has the labels it needs; `why` starts the log line. A server of another process
   * (prefrl serve) is its operator's: only said.
   */
  private stopAsking(store: LabelStore, server: ServerHandle, why: string): void {
    const released = server.stopHandingOut();
    if (released === null) {
      this.logger.info(
        `human teacher: ${why}; the labelling server at ${server.url} is another process's (prefrl serve) and keeps offering the store's open pairs: answers given there are stored, not used by this run`,
      );
      return;
    }
    const open = store.counts().waitingForPeople;
    this.logger.info(
      `human teacher: ${why}: the viewer hands out no more pairs and tells its pages the run has the labels it needs${
        open > 0 ? `; ${open} pair${open === 1 ? '' : 's'} left open stay${open === 1 ? 's' : ''} in ${store.path} for prefrl serve` : ''
      }${released > 0 ? ` (${released} taken back from pages showing ${released === 1 ? 'it' : 'them'})` : ''}`,
    );
  }

  /**
   * The run asks this teacher nothing more, whatever its budget (prefrl offline, once its label
   * stage has an answer to every pair it asks): the pages are told so, as when a --labels budget
   * is spent (see "The end of asking"), before close() ends the session, so that a person sees the
   * run's thank-you rather than only the server going away, and a page showing a pair no longer
   * asked (another person's opinion with overlap) is told it is not needed instead of being
   * offered to answer it for a server that "may come back". `what` says what was asked, for the
   * log line. Nothing before the first batch (no server yet).
   */
  finishAsking(what: string): void {
    const server = this.server;
    if (server === null) return;
    this.stopAsking(this.store(), server, what);
  }

  /** Tell the pages of this teacher's in-process server, synchronously, that the session has ended (see endHumanSessionsNow). */
  endSessionsNow(): void {
    this.server?.endSessionsNow();
  }

  /** Stop the in-process server (if this teacher started one). */
  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    serving.delete(this);
    await s?.close();
  }
}
