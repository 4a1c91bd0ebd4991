/**
 * The labelling server: serves the viewer page (static files of the build folder) over HTTP
 * and talks to pages over one WebSocket each (`/ws`, protocol in viewer/protocol.ts), on top
 * of a label store (reward/store.ts).
 *
 * Work hand-out. Each teacher (a person's name; no accounts) gets pairs through
 * `store.nextPairFor(teacher, {leaseMs})`: concurrent teachers get different pairs, pairs
 * wanting k > 1 labels (`overlap`) go to k different people, and a reloaded page gets its
 * leased pair back. Pages that find nothing to do are told `idle` and get a pair pushed as
 * soon as one appears (the server checks every `pollMs`, so pairs added by another process,
 * e.g. a trainer, show up too).
 *
 * The end of asking. A `prefrl train --teacher human` run whose --labels budget is spent asks
 * nothing more while PPO goes on (the human teacher calls `stopHandingOut`): answers to the pairs
 * still open would be stored but neither trained on nor counted by it. From then on no pair is
 * handed out: the pages showing one are told `idle done` (the page thanks the person and shows no
 * pair), their leases are given back (the pairs stay in the store, open: a `prefrl serve` of it
 * hands them out again), and a page that connects later is told the same after its welcome.
 * Answers already on their way are still stored and acknowledged. `resumeHandingOut` (the run asks
 * again) undoes it.
 *
 * Durability. An answer becomes a label, `store.addLabels` commits it (fsynced), and only
 * then is it acknowledged. Pages keep unacknowledged answers and re-send them after a
 * reconnect; label ids make that idempotent. A server restart loses nothing acknowledged.
 *
 * Security.
 * - Binds 127.0.0.1 by default. Any other address needs an access token, which pages present
 *   in their `hello` (taken from the link's `?token=` or typed into a prompt); without it the
 *   socket gets `error unauthorized` and is closed (4401) before anything else is read.
 *   Tokens are compared in constant time.
 * - WebSocket upgrades must come from the page's own origin (an `Origin` header naming
 *   another site is refused: no cross-site WebSocket hijacking); on loopback the `Host`
 *   header must name a loopback host (no DNS rebinding).
 * - Static files only from the build folder: decoded paths with `..`, dot files, backslashes,
 *   NUL bytes or symlinks leading outside are refused; only known file types are served.
 *   Only GET and HEAD; no request bodies; URLs up to 2 KiB; headers up to 16 KiB.
 * - Client messages: up to 64 KiB (larger ones get `error too_large`, the socket stays
 *   usable), hard limit 1 MiB (the socket is closed), at most 300 per 10 s, validated before
 *   anything is read from them; a bad message changes nothing and gets an `error` reply.
 *   A page is dropped when it floods without reading the replies, when more than 16 MiB of
 *   replies wait unread for it (SLOW_READER_BYTES, its model apart), or when it misses a ping.
 * - Headers: a Content-Security-Policy allowing scripts only from the server, no inline
 *   scripts (WebAssembly and `new Function` are allowed: MuJoCo's Embind bindings build
 *   their call wrappers with it at load time), no framing, nosniff, no referrer (links can
 *   carry the token), pages revalidated on every load.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { dirname, extname, join, resolve, sep } from 'node:path';
import type { Duplex } from 'node:stream';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import { type Clock, systemClock } from '../core/clock.js';
import { InputError, isSqliteEnvironmentError, UsageError } from '../core/errors.js';
import { appendJsonl, type Logger, silentLogger } from '../core/log.js';
import { asset } from '../core/paths.js';
import { writeJsonAtomic } from '../core/run.js';
import { checkPeople, checkViewerAccess, isLoopbackHost, MIN_TOKEN_CHARS, personalToken } from './access.js';
import { type LabelStore, type NewLabel } from '../reward/store.js';
import { personTeacherId } from '../core/person.js';
import type { Label, Pair, Segment } from '../reward/types.js';
import type { ViewerEnv } from './env_info.js';
import { checkHeronConfig, type HeronPool, heronPreview, loadHeronPool, PoolTermSums } from './heron_preview.js';
import {
  answerLabel,
  FULL_CLOSE_CODE,
  fullCloseReason,
  type AnswerMsg,
  type ClientMessage,
  float64ToBase64,
  HARD_MAX_CLIENT_MESSAGE_BYTES,
  leftSideFor,
  MAX_CLIENT_MESSAGE_BYTES,
  MAX_COMMENT_CHARS,
  normaliseName,
  type PairMsg,
  parseClientMessage,
  PROTOCOL_VERSION,
  type ServerMessage,
  SHUTDOWN_CODE,
  SHUTDOWN_REASON,
  type Side,
  type UndoMsg,
} from './protocol.js';

/** What the reward model thinks of a pair (the `--insight` option). */
export interface InsightModel {
  /** P(first segment better), ensemble mean, and predicted per-step rewards [H] of both. */
  explain(pair: Pair): { probFirst: number; rewardsA: ArrayLike<number>; rewardsB: ArrayLike<number> };
}

export interface ViewerServerOptions {
  readonly store: LabelStore;
  readonly env: ViewerEnv;
  /** Address to bind (default 127.0.0.1). Anything but loopback needs `token`. */
  readonly host?: string;
  /** Port (default 8080; 0 picks a free one). */
  readonly port?: number;
  /** Access token pages must present (required beyond loopback; at least 12 characters). */
  readonly token?: string;
  /**
   * People who get links of their own (normalised names, none twice; needs `token`): a page is let
   * in only with one person's token (personalToken(token, name)), and everything it answers is
   * stored under that person's name. The server's token itself no longer lets a page in.
   */
  readonly people?: readonly string[];
  /**
   * How errors name the settings above and `overlap`: '--' (default: prefrl serve's --host,
   * --port, --token, --people, --overlap) or '--human-' (train's and offline's --human-* flags).
   */
  readonly flagPrefix?: '--' | '--human-';
  /** Distinct teachers wanted per pair (default 1). Pairs stored wanting fewer are raised to it. */
  readonly overlap?: number;
  /**
   * The most distinct people a stored pair wants (an earlier session's --overlap; default 1). Pairs
   * are not raised to it; with it above 1 the pages show the agreement as with `overlap`.
   */
  readonly storeOverlap?: number;
  /** How long a handed-out pair stays reserved for its teacher, ms (default 5 minutes). */
  readonly leaseMs?: number;
  /** The built page (default dist/viewer-web of the package). */
  readonly staticDir?: string;
  /** Show the reward model's opinion after each answer and log disagreements. */
  readonly insight?: InsightModel;
  /** Where the HERON page saves its config (default heron.json next to the store). */
  readonly heronOut?: string;
  /** How often idle pages are checked for new pairs, ms (default 1000). */
  readonly pollMs?: number;
  /** How often pages are pinged, ms (default 30 s); a page that has not answered the last ping by the next is dropped. */
  readonly heartbeatMs?: number;
  /** With every page slot taken, how long a page may leave a ping unanswered before its slot is given to another, ms (default PONG_GRACE_MS). */
  readonly pongGraceMs?: number;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Test hook: close the socket right after committing this many answers, before acknowledging them. */
  readonly faults?: { dropAfterCommit?: number };
}

/** What the server holds now (ViewerServer.stats), for watching a long-running server: all fall back to 0 when no page is connected. */
export interface ViewerServerStats {
  /** Pages (WebSocket sessions) connected. */
  readonly sessions: number;
  /** Sockets the WebSocket library tracks (the same pages, seen from its side). */
  readonly wsClients: number;
  /** TCP connections open to the HTTP server (pages' sockets included). */
  readonly sockets: number;
  /** Pages waiting for a pair (checked every pollMs). */
  readonly idle: number;
  /** Pages holding a pair handed to them for an answer. */
  readonly holdingPair: number;
  /** Pages that have not said hello yet (each with its hello timer running). */
  readonly helloTimers: number;
  /** Label listeners (onLabel) subscribed. */
  readonly listeners: number;
  /** Bytes of replies waiting to go out to pages, all pages together. */
  readonly bufferedBytes: number;
}

/** A label event (committed, first time only). */
export type LabelListener = (label: Label) => void;
/** An undo: the label deleted, its pair and teacher. */
export type UndoListener = (undone: { labelId: string; pairId: string; teacher: string }) => void;

/** Written next to the store while a server runs on it, so a trainer can find it. */
export interface ServerInfoFile {
  readonly app: 'prefrl-viewer';
  readonly pid: number;
  readonly url: string;
  readonly storeId: string;
  readonly tokenRequired: boolean;
}

export { checkViewerAccess, isLoopbackHost, MIN_TOKEN_CHARS };
export const DEFAULT_PORT = 8080;
export const DEFAULT_LEASE_MS = 5 * 60 * 1000;
const MAX_URL_CHARS = 2048;
export const MAX_SESSIONS = 64;
const RATE_WINDOW_MS = 10_000;
const RATE_MAX = 300;
/**
 * A page refused for flooding while more than this many bytes of replies wait to go out to it is
 * dropped: it is not reading them, and every refused message would add another reply to the
 * server's buffer. Pages that read their replies never get near it.
 */
const FLOOD_BUFFER_BYTES = 1024 * 1024;
/**
 * A page with more than this many bytes of replies unread (besides its model, sent once per page and
 * possibly large) is dropped when the server has another reply for it. It is not reading them (a
 * script that keeps asking, at a rate under the limit, for pairs it never reads; a tab frozen in
 * the background still asking): without this, each such page made the server hold every reply
 * until the heartbeat noticed, up to a minute of replies (some 18 MB of pairs for 50-step cheetah
 * segments at the rate limit). A page that reads its replies has at most a few pairs in flight.
 */
export const SLOW_READER_BYTES = 16 * 1024 * 1024;
const HELLO_TIMEOUT_MS = 15_000;
/** How long close() waits for pages to answer the close handshake before cutting the sockets. */
const CLOSE_GRACE_MS = 500;
const HEARTBEAT_MS = 30_000;
/**
 * With every page slot taken, a page that has left a ping unanswered this long is taken for gone (a
 * phone that lost the network or was put away: without a close, it held its slot until the
 * heartbeat's next round, 30 to 60 s) and its slot goes to the page asking for one. A page that
 * is there answers a ping within a round trip.
 */
export const PONG_GRACE_MS = 10_000;
const HERON_POOL_TTL_MS = 30_000;

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self' 'unsafe-eval' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self' ws: wss:; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Permissions-Policy': 'camera=(), microphone=(), geolocation=()',
};

/**
 * The file under `root` a URL path names, or null when it must not be served: undecodable
 * paths, NUL bytes, backslashes, `..` or `.` segments, dot files, unknown types, anything
 * that resolves (symlinks included) outside `root`, and non-files. "/" and ".../" name
 * index.html.
 */
export function resolveStaticPath(root: string, urlPath: string): string | null {
  let p: string;
  try {
    p = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (!p.startsWith('/') || p.includes('\0') || p.includes('\\')) return null;
  if (p.endsWith('/')) p += 'index.html';
  const segs = p.split('/').filter((s) => s !== '');
  if (segs.length === 0 || segs.some((s) => s.startsWith('.'))) return null;
  if (!(extname(segs[segs.length - 1]).toLowerCase() in MIME)) return null;
  const rootAbs = resolve(root);
  const full = resolve(rootAbs, ...segs);
  if (!full.startsWith(rootAbs + sep)) return null;
  let real: string;
  let realRoot: string;
  try {
    real = realpathSync(full);
    realRoot = realpathSync(rootAbs);
  } catch {
    return null;
  }
  if (!real.startsWith(realRoot + sep)) return null;
  try {
    if (!statSync(real).isFile()) return null;
  } catch {
    return null;
  }
  return real;
}

/** Constant-time token comparison (hashing first makes the lengths equal). */
function tokenMatches(given: string | undefined, want: string): boolean {
  if (given === undefined) return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(want).digest();
  return timingSafeEqual(a, b);
}

/** A token's sha256, hex: people's tokens are looked up by it (a map lookup of the digest tells nothing of the token). */
function tokenDigest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * A short id of a label store, for /healthz and the welcome (the path itself is not published): a
 * hash of its path and the time it was made, so a store made anew at the same path (a new run's
 * labels.sqlite where an old one was deleted) is another store to a page holding answers for the old one.
 */
export function storeIdOf(store: Pick<LabelStore, 'path' | 'createdAt'>): string {
  return createHash('sha256')
    .update(`${resolve(store.path)}\n${store.createdAt() ?? ''}`)
    .digest('hex')
    .slice(0, 16);
}

/** The file a running server advertises itself in. */
export function serverInfoPath(storePath: string): string {
  return `${resolve(storePath)}.viewer.json`;
}

/**
 * The URL of a labelling server that another start (another `prefrl serve`, or a run's own viewer)
 * advertises in the store's info file and that still answers for this store (its process alive,
 * its /healthz naming the same store id); null when there is none, or the file is stale.
 */
export async function advertisedServer(storePath: string, storeId: string): Promise<{ url: string; pid: number } | null> {
  let info: { pid?: unknown; url?: unknown; storeId?: unknown };
  try {
    info = JSON.parse(readFileSync(serverInfoPath(storePath), 'utf8')) as typeof info;
  } catch {
    return null;
  }
  if (typeof info.pid !== 'number' || typeof info.url !== 'string' || info.storeId !== storeId) return null;
  try {
    process.kill(info.pid, 0);
  } catch (e) {
    if ((e as { code?: string }).code !== 'EPERM') return null;
  }
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), 2000);
  try {
    const res = await fetch(new URL('healthz', info.url), { signal: ctl.signal });
    const body = (await res.json()) as { app?: unknown; storeId?: unknown };
    return body.app === 'prefrl-viewer' && body.storeId === storeId ? { url: info.url, pid: info.pid } : null;
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

interface Session {
  readonly ws: WebSocket;
  readonly id: number;
  authed: boolean;
  /** Normalised teacher name, once given. */
  name: string | null;
  /** The person whose own link the page came in with (then `name` is theirs and stays so); null otherwise. */
  person: string | null;
  /** Wants a pair and has none. */
  idle: boolean;
  /** The pair last handed to this page for an answer (not a preview), until it is answered. */
  pairId: string | null;
  /** Models this socket has received. */
  readonly models: Set<string>;
  /** The times of its last messages, for the rate limit. */
  readonly rate: RateWindow;
  alive: boolean;
  /** When (clock ms) the ping it has not answered yet was sent; null when it answered the last one. */
  pingedAt: number | null;
  helloTimer: ReturnType<typeof setTimeout> | null;
  /** Cut off (flooding, or not reading its replies): messages it had sent before are not handled. */
  dropped: boolean;
}

/**
 * A page's message rate limit: a message is refused when it makes more than `max` messages
 * (refused ones included) in the last `windowMs` ms. Kept in fixed memory, a ring of the last `max`
 * message times: as the times never go back (a monotonic clock), the messages less than windowMs
 * old are the latest ones, so there are more than `max` of them exactly when the message `max`
 * before this one is less than windowMs old, and that one time decides. (A list of every time in
 * the window, filtered per message, gives the same answers but grows with a flood.)
 */
export class RateWindow {
  private readonly times: Float64Array;
  /** Where the next time goes: once the ring is full, the time `max` messages back. */
  private next = 0;
  private seen = 0;
  constructor(
    readonly max: number,
    readonly windowMs: number,
  ) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`RateWindow: max must be a whole number >= 1, got ${max}`);
    if (!(windowMs > 0)) throw new RangeError(`RateWindow: windowMs must be > 0, got ${windowMs}`);
    this.times = new Float64Array(max);
  }
  /** Count a message at time `now` (ms, never less than the last one's); true when it is one too many. */
  hit(now: number): boolean {
    const full = this.seen === this.max;
    const refused = full && now - this.times[this.next] < this.windowMs;
    this.times[this.next] = now;
    this.next = this.next + 1 === this.max ? 0 : this.next + 1;
    if (!full) this.seen++;
    return refused;
  }
}

function isBusy(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' && /^SQLITE_(BUSY|LOCKED|IOERR|FULL)/.test(code);
}

/** How often the terminal is told again that the label store cannot be written (a full disk). */
const STORE_REFUSAL_WARN_MS = 60_000;

/**
 * What a page is told when the store could not take its message: busy (another process writes),
 * or the machine refused (a full disk: SQLite's message without the server's path).
 */
function storeRefusalText(e: unknown): string {
  if (!isSqliteEnvironmentError(e)) return `the label store is busy; retrying is safe (${(e as Error).message})`;
  const why = (e as Error).message.replace(/^label store .*?: (?=[^:]*$)/, '').replace(/ \(SQLITE_[A-Z_]+\)$/, '');
  return `the label store cannot be written now (${why}); your answer is kept and sent again`;
}

export class ViewerServer {
  readonly store: LabelStore;
  readonly env: ViewerEnv;
  readonly host: string;
  readonly overlap: number;
  /** The overlap pages are told (agreement shown above 1): overlap, or more where the stored pairs want more people. */
  readonly shownOverlap: number;
  readonly leaseMs: number;
  readonly staticDir: string;
  readonly heronOut: string;
  /** storeIdOf(store), read once at start (the store may be closed before the server). */
  readonly storeId: string;
  private readonly token: string | undefined;
  /** With `people`: the sha256 of each person's token -> their name. */
  private readonly personByToken: Map<string, string> | null;
  private readonly insight: InsightModel | undefined;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly pollMs: number;
  private readonly faults: { dropAfterCommit: number };
  private readonly http: Server;
  private readonly wss: WebSocketServer;
  private readonly sessions = new Set<Session>();
  private readonly listeners = new Set<LabelListener>();
  private readonly undoListeners = new Set<UndoListener>();
  private openSockets = 0;
  /** Bytes of the largest model message sent (a page may have it unread on top of SLOW_READER_BYTES). */
  private modelBytes = 0;
  private readonly heartbeatMs: number;
  private readonly pongGraceMs: number;
  private nextSessionId = 1;
  private port = 0;
  private pollTimer: ReturnType<typeof setInterval> | null = null;
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  private heronPool: { at: number; pool: Promise<HeronPool | null> } | null = null;
  /** The store's segments' term sums, kept between HERON pool loads (each segment read once). */
  private readonly heronSums = new PoolTermSums();
  private warnedModel = false;
  private closed = false;
  /** When the server last warned it was full (clock ms), and the pages refused since. */
  private fullWarnedAt = Number.NEGATIVE_INFINITY;
  private fullRefusals = 0;
  /** False once the run asks no more (stopHandingOut): pages get `idle done` instead of pairs. */
  private handingOut = true;
  private readonly infoFile: string;
  /** The store's handOutState stamp after the last raiseNewPairs (null before). */
  private raisedAt: string | null = null;
  /** Another live server on this store, found at start: its info file is left as it is. */
  private other: { url: string; pid: number } | null = null;

  private constructor(opts: ViewerServerOptions) {
    this.store = opts.store;
    this.storeId = storeIdOf(opts.store);
    this.env = opts.env;
    this.host = opts.host ?? '127.0.0.1';
    this.token = opts.token;
    this.personByToken = opts.people && opts.token !== undefined ? new Map(opts.people.map((n) => [tokenDigest(personalToken(opts.token as string, n)), n])) : null;
    this.overlap = opts.overlap ?? 1;
    this.shownOverlap = Math.max(this.overlap, opts.storeOverlap ?? 1);
    this.leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
    this.staticDir = resolve(opts.staticDir ?? asset('dist/viewer-web'));
    this.heronOut = resolve(opts.heronOut ?? join(dirname(resolve(opts.store.path)), 'heron.json'));
    this.insight = opts.insight;
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger ?? silentLogger;
    this.pollMs = opts.pollMs ?? 1000;
    this.heartbeatMs = opts.heartbeatMs ?? HEARTBEAT_MS;
    this.pongGraceMs = opts.pongGraceMs ?? PONG_GRACE_MS;
    this.faults = { dropAfterCommit: opts.faults?.dropAfterCommit ?? 0 };
    this.infoFile = serverInfoPath(opts.store.path);
    this.http = createServer({ maxHeaderSize: 16 * 1024, requestTimeout: 30_000 }, (req, res) => this.onRequest(req, res));
    this.wss = new WebSocketServer({ noServer: true, maxPayload: HARD_MAX_CLIENT_MESSAGE_BYTES, perMessageDeflate: false });
    this.http.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
    this.http.on('connection', (socket) => {
      this.openSockets++;
      socket.once('close', () => this.openSockets--);
    });
  }

  /** Check options, bind, and start serving. Throws UsageError for unsafe or impossible settings. */
  static async start(opts: ViewerServerOptions): Promise<ViewerServer> {
    const host = opts.host ?? '127.0.0.1';
    const flag = (name: 'host' | 'port' | 'token' | 'people' | 'overlap') => `${opts.flagPrefix ?? '--'}${name}`;
    checkViewerAccess(host, opts.token, { host: flag('host'), token: flag('token') });
    if (opts.people !== undefined) {
      if (opts.token === undefined) throw new UsageError(`${flag('people')}: personal links are made from the access token; give ${flag('token')}`);
      // The rule parsePeople applies to the flag's value.
      checkPeople(opts.people, flag('people'));
    }
    const overlap = opts.overlap ?? 1;
    if (!Number.isInteger(overlap) || overlap < 1) throw new UsageError(`${flag('overlap')}: expected an integer >= 1, got ${overlap}`);
    if (opts.leaseMs !== undefined && !(opts.leaseMs > 0)) throw new UsageError('--lease-ms: must be > 0');
    if (opts.heartbeatMs !== undefined && !(opts.heartbeatMs > 0)) throw new RangeError(`heartbeatMs: must be > 0, got ${opts.heartbeatMs}`);
    if (opts.pongGraceMs !== undefined && !(opts.pongGraceMs > 0)) throw new RangeError(`pongGraceMs: must be > 0, got ${opts.pongGraceMs}`);
    const staticDir = resolve(opts.staticDir ?? asset('dist/viewer-web'));
    if (!existsSync(join(staticDir, 'index.html'))) {
      throw new InputError(staticDir, 'the viewer page is not built (no index.html); run `npm run build` in the prefrl folder');
    }
    const server = new ViewerServer({ ...opts, staticDir });
    // Another server already on this store keeps its info file: written over, and removed when
    // this one stops, it left that server unadvertised (a training run on the store then started
    // a server of its own instead of waiting for the answers given there).
    server.other = await advertisedServer(opts.store.path, server.storeId);
    if (server.other) {
      server.logger.warn(
        `viewer: another labelling server (pid ${server.other.pid}) already serves ${opts.store.path} at ${server.other.url}; both hand out its pairs, and a training run on this store uses that one`,
      );
    }
    try {
      if (overlap > 1) server.store.raiseWanted(overlap);
      await server.listen(opts.port ?? DEFAULT_PORT);
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'EADDRINUSE') throw new UsageError(`${flag('port')} ${opts.port ?? DEFAULT_PORT}: already in use (pick another port, or 0 for any free one)`);
      if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new UsageError(`${flag('host')} ${host}: not an address of this machine`);
      throw e;
    }
    return server;
  }

  private listen(port: number): Promise<void> {
    return new Promise((res, rej) => {
      const onError = (e: Error) => rej(e);
      this.http.once('error', onError);
      this.http.listen(port, this.host, () => {
        this.http.off('error', onError);
        this.port = (this.http.address() as AddressInfo).port;
        this.pollTimer = setInterval(() => this.pollIdle(), this.pollMs);
        this.pollTimer.unref();
        this.heartbeat = setInterval(() => this.beat(), this.heartbeatMs);
        this.heartbeat.unref();
        if (!this.other) {
          try {
            const info: ServerInfoFile = { app: 'prefrl-viewer', pid: process.pid, url: this.url, storeId: this.storeId, tokenRequired: this.token !== undefined };
            writeJsonAtomic(this.infoFile, info);
          } catch (e) {
            this.logger.warn(`viewer: cannot write ${this.infoFile}: ${(e as Error).message}`);
          }
        }
        res();
      });
    });
  }

  /** The bound port. */
  get boundPort(): number {
    return this.port;
  }

  /** Base URL (loopback name when bound to every address). */
  get url(): string {
    const h = this.host === '0.0.0.0' || this.host === '::' ? '127.0.0.1' : this.host;
    return `http://${h.includes(':') ? `[${h}]` : h}:${this.port}/`;
  }

  /** URLs to give teachers: with `?token=` when a token is set; LAN addresses when bound to all. */
  links(): string[] {
    return this.linksWith(this.token);
  }

  /**
   * With `people`: each person's own links (their token in `?token=`; the same kinds of address as
   * links()), in the order the people were given; empty without `people`.
   */
  personLinks(): { name: string; links: string[] }[] {
    if (this.personByToken === null) return [];
    const token = this.token as string;
    return [...this.personByToken.values()].map((name) => ({ name, links: this.linksWith(personalToken(token, name)) }));
  }

  private linksWith(token: string | undefined): string[] {
    const q = token ? `?token=${encodeURIComponent(token)}` : '';
    const out = [`${this.url}${q}`];
    if (this.host === '0.0.0.0' || this.host === '::') {
      for (const list of Object.values(networkInterfaces())) {
        for (const a of list ?? []) {
          if (a.internal || a.family !== 'IPv4') continue;
          out.push(`http://${a.address}:${this.port}/${q}`);
        }
      }
    }
    return out;
  }

  /** Number of connected pages. */
  get connections(): number {
    return this.sessions.size;
  }

  /** Counts of what the server holds now (see ViewerServerStats); read-only, for soak tests and monitoring. */
  stats(): ViewerServerStats {
    let idle = 0;
    let holdingPair = 0;
    let helloTimers = 0;
    let bufferedBytes = 0;
    for (const s of this.sessions) {
      if (s.idle) idle++;
      if (s.pairId !== null) holdingPair++;
      if (s.helloTimer !== null) helloTimers++;
      bufferedBytes += s.ws.bufferedAmount;
    }
    return { sessions: this.sessions.size, wsClients: this.wss.clients.size, sockets: this.openSockets, idle, holdingPair, helloTimers, listeners: this.listeners.size, bufferedBytes };
  }

  /** Be told about every newly committed label (returns an unsubscribe function). */
  onLabel(fn: LabelListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Be told about every answer a page undid (its label deleted from the store; returns an unsubscribe function). */
  onUndo(fn: UndoListener): () => void {
    this.undoListeners.add(fn);
    return () => this.undoListeners.delete(fn);
  }

  /** Labels a trainer has taken: undo is refused for them from now on (also after a restart: the store keeps the lock). */
  lockLabels(ids: Iterable<string>): void {
    this.store.lockLabels(ids);
  }

  /** Make pairs want at least `n` teachers (the human teacher's overlap). */
  raiseWanted(n: number, pairIds?: readonly string[]): number {
    return this.store.raiseWanted(n, pairIds);
  }

  /** Check idle pages for work now (e.g. right after new pairs were stored). */
  wake(): void {
    this.pollIdle();
  }

  /** Whether pairs are handed out (false after stopHandingOut, until resumeHandingOut). */
  get handsOut(): boolean {
    return this.handingOut;
  }

  /**
   * The run this server labels for asks no more (see "The end of asking" above): hand out no pair
   * from now on, give back the pairs the open pages show and tell every page `idle done`. Returns
   * how many pairs were given back (one per person and pair). Idempotent.
   */
  stopHandingOut(): number {
    if (this.closed || !this.handingOut) return 0;
    this.handingOut = false;
    const released = this.giveBackLeases();
    for (const s of this.sessions) {
      s.pairId = null;
      s.idle = false;
      this.foundNothing.delete(s);
      if (s.authed) this.send(s, { type: 'idle', reason: 'done' });
    }
    return released;
  }

  /** The run asks again (a new batch): hand out pairs as before; the pages told `idle done` get theirs. */
  resumeHandingOut(): void {
    if (this.closed || this.handingOut) return;
    this.handingOut = true;
    // Every page told `done` waits for a pair as an idle page does.
    for (const s of this.sessions) if (s.authed && s.pairId === null) s.idle = true;
    this.pollIdle();
  }

  /**
   * Tell every page at once that the session has ended (close code 1001, what close() sends too),
   * synchronously: for a command about to exit on Ctrl-C, which has no time to await close(). The
   * close frames are handed to the operating system before this returns (a WebSocket write goes
   * out at once when nothing is queued before it), so the pages show "session ended" rather than
   * a lost connection; the advertised info file goes too. close() may still be called after.
   */
  endSessionsNow(): void {
    if (this.closed) return;
    this.giveBackLeases();
    for (const s of this.sessions) {
      if (s.helloTimer) clearTimeout(s.helloTimer);
      s.helloTimer = null;
      try {
        s.ws.close(SHUTDOWN_CODE, SHUTDOWN_REASON);
      } catch {
        // a socket already failing: the page sees the connection drop instead
      }
    }
    this.removeInfoFile();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.heartbeat) clearInterval(this.heartbeat);
    // Pages are told the server is going away (close code 1001, which the page shows as the end of
    // the session) and get a moment to answer the close handshake before the sockets are cut.
    const open = [...this.sessions];
    this.giveBackLeases();
    // A last progress to every page first: each page is sent progress only after its own requests,
    // so without it a teacher's page ends on the counts of its own last answer (e.g. "Pairs
    // waiting 1" after another teacher answered the last pair).
    for (const s of open) {
      if (!s.authed) continue;
      try {
        this.sendProgress(s);
      } catch (e) {
        // e.g. the store was closed first: the pages keep their last counts.
        this.logger.warn(`viewer: the last progress update failed: ${(e as Error).message}`);
        break;
      }
    }
    const closed = Promise.all(open.map((s) => new Promise<void>((res) => (s.ws.readyState === s.ws.CLOSED ? res() : s.ws.once('close', () => res())))));
    for (const s of open) {
      if (s.helloTimer) clearTimeout(s.helloTimer);
      s.ws.close(SHUTDOWN_CODE, SHUTDOWN_REASON);
    }
    let grace: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([closed, new Promise<void>((res) => (grace = setTimeout(res, CLOSE_GRACE_MS)))]);
    clearTimeout(grace);
    // Every socket the WebSocket server still tracks is cut (its close waits for them all): pages
    // that did not answer the close, and any not in the list above.
    for (const c of this.wss.clients) c.terminate();
    await new Promise<void>((res) => this.wss.close(() => res()));
    for (const s of this.sessions) s.ws.terminate();
    this.sessions.clear();
    await new Promise<void>((res) => {
      this.http.close(() => res());
      this.http.closeAllConnections();
    });
    this.removeInfoFile();
  }

  /** Removes the store's info file when it advertises this server (not another one on the store). */
  private removeInfoFile(): void {
    try {
      const info = JSON.parse(readFileSync(this.infoFile, 'utf8')) as { pid?: unknown; url?: unknown };
      if (info.pid === process.pid && info.url === this.url) rmSync(this.infoFile, { force: true });
    } catch {
      // none, unreadable, or already gone: best effort (a stale info file names a dead pid and is ignored)
    }
  }

  /**
   * The pairs this server's open pages show go back to everyone when it stops (close(), or
   * endSessionsNow on Ctrl-C): left leased, each stayed its person's until the lease ran out (5
   * minutes by default), so a resumed run or a `prefrl serve` started next handed it to nobody
   * else meanwhile. Only the leases of this server's own pages: pages of a `prefrl serve` in
   * another process on the same store keep theirs. The pair then goes out in the store's usual
   * order (newest round first) to whoever comes first; an answer to it the page still keeps is
   * stored when the page re-sends it, whoever holds the pair by then.
   */
  private giveBackLeases(): number {
    // One release per person and pair (several tabs of a person may show the same pair).
    const held = new Map<string, { teacher: string; pairId: string }>();
    for (const s of this.sessions) {
      if (s.name === null || s.pairId === null) continue;
      const teacher = personTeacherId(s.name);
      held.set(`${teacher}\n${s.pairId}`, { teacher, pairId: s.pairId });
    }
    let released = 0;
    for (const { teacher, pairId } of held.values()) {
      try {
        if (this.store.releaseLease(teacher, pairId)) released++;
      } catch (e) {
        // e.g. the store was closed first, or is busy: those leases run out by themselves.
        this.logger.warn(`viewer: giving back the pairs of open pages failed (their leases run out by themselves): ${(e as Error).message}`);
        return released;
      }
    }
    return released;
  }

  // ------------------------------------------------------------------ HTTP

  private headers(res: ServerResponse, type: string, extra: Record<string, string> = {}): void {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    res.setHeader('Content-Type', type);
    for (const [k, v] of Object.entries(extra)) res.setHeader(k, v);
  }

  private plain(res: ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void {
    this.headers(res, 'text/plain; charset=utf-8', { 'Cache-Control': 'no-store', ...extra });
    res.statusCode = status;
    res.end(`${text}\n`);
  }

  /** Host header check: on loopback only loopback names (defeats DNS rebinding). */
  private hostAllowed(req: IncomingMessage): boolean {
    const host = req.headers.host;
    if (host === undefined) return false;
    if (!isLoopbackHost(this.host)) return true;
    let name: string;
    try {
      name = new URL(`http://${host}`).hostname;
    } catch {
      return false;
    }
    return isLoopbackHost(name);
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const rawUrl = req.url ?? '/';
    if (req.method !== 'GET' && req.method !== 'HEAD') return this.plain(res, 405, 'method not allowed', { Allow: 'GET, HEAD' });
    if (rawUrl.length > MAX_URL_CHARS) return this.plain(res, 414, 'URL too long');
    const len = Number(req.headers['content-length'] ?? 0);
    if (len > 0 || req.headers['transfer-encoding'] !== undefined) return this.plain(res, 413, 'request bodies are not accepted', { Connection: 'close' });
    if (!this.hostAllowed(req)) return this.plain(res, 421, 'unexpected Host header');
    const q = rawUrl.indexOf('?');
    const path = q >= 0 ? rawUrl.slice(0, q) : rawUrl;
    if (path === '/healthz') {
      this.headers(res, 'application/json; charset=utf-8', { 'Cache-Control': 'no-store' });
      res.end(JSON.stringify({ app: 'prefrl-viewer', v: PROTOCOL_VERSION, storeId: this.storeId, env: this.env.spec.id }));
      return;
    }
    const file = resolveStaticPath(this.staticDir, path);
    if (!file) return this.plain(res, 404, 'not found');
    const ext = extname(file).toLowerCase();
    const accepts = String(req.headers['accept-encoding'] ?? '');
    const gz = `${file}.gz`;
    const hasGz = (ext === '.wasm' || ext === '.js') && existsSync(gz);
    const useGz = hasGz && /\bgzip\b/.test(accepts);
    const send = useGz ? gz : file;
    const st = statSync(send);
    // A validator, so a page revalidating (Cache-Control no-cache) gets 304 instead of the whole
    // file again: the 2.3 MB physics engine is downloaded once per version, not on every load.
    const etag = `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}${useGz ? '-gz' : ''}"`;
    const cache = { 'Cache-Control': 'no-cache', ETag: etag, ...(hasGz ? { Vary: 'Accept-Encoding' } : {}) };
    const ifNoneMatch = req.headers['if-none-match'];
    if (ifNoneMatch !== undefined && ifNoneMatch.split(',').some((t) => t.trim() === etag || t.trim() === '*')) {
      this.headers(res, MIME[ext], cache);
      res.statusCode = 304;
      res.end();
      return;
    }
    this.headers(res, MIME[ext], {
      'Content-Length': String(st.size),
      ...cache,
      // The size after decoding, so the page can show how far a download of a gzipped file is.
      ...(useGz ? { 'Content-Encoding': 'gzip', 'X-Uncompressed-Length': String(statSync(file).size) } : {}),
    });
    res.statusCode = 200;
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const stream = createReadStream(send);
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  }

  // ------------------------------------------------------------------ WebSocket

  private refuseUpgrade(socket: Duplex, status: number, text: string): void {
    socket.write(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${text.length}\r\n\r\n${text}`);
    socket.destroy();
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/ws') return this.refuseUpgrade(socket, 404, 'Not Found');
    // Stopping: a page that came now was in none of the closes sent, and the WebSocket server's
    // close waited for its socket for good (close() never returned, nor did the run that awaited it).
    if (this.closed) return this.refuseUpgrade(socket, 503, 'Service Unavailable');
    if (!this.hostAllowed(req)) return this.refuseUpgrade(socket, 421, 'Misdirected Request');
    const origin = req.headers.origin;
    if (origin !== undefined) {
      let originHost: string;
      try {
        originHost = new URL(origin).host;
      } catch {
        return this.refuseUpgrade(socket, 403, 'Forbidden');
      }
      if (originHost !== req.headers.host) return this.refuseUpgrade(socket, 403, 'Forbidden');
    }
    if (this.sessions.size >= MAX_SESSIONS && this.evictGone() === 0) {
      // Full: the page is told so, and when to try again (a refused upgrade reaches a browser's
      // script only as a lost connection). Its socket is closed at once and holds no slot.
      const retryS = Math.ceil(this.pongGraceMs / 1000) + 2;
      // Said once a minute at most (each refused page retries every few seconds).
      this.fullRefusals++;
      const now = this.clock.now();
      if (now - this.fullWarnedAt >= 60_000) {
        this.logger.warn(
          `viewer: ${MAX_SESSIONS} pages are open, the most this server takes: ${this.fullRefusals === 1 ? 'a new page was' : `${this.fullRefusals} new pages were`} asked to retry in ${retryS} s`,
        );
        this.fullWarnedAt = now;
        this.fullRefusals = 0;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        ws.on('error', () => ws.terminate());
        ws.close(FULL_CLOSE_CODE, fullCloseReason(MAX_SESSIONS, retryS));
      });
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws));
  }

  /**
   * Every page slot is taken: pages that left a ping unanswered for pongGraceMs are dropped (their
   * pairs given back, as a closed page's), and the rest that have no ping out are pinged now, so a
   * page asking again after pongGraceMs finds the gone ones' slots free. Returns how many were dropped.
   */
  private evictGone(): number {
    const now = this.clock.now();
    let gone = 0;
    for (const s of [...this.sessions]) {
      if (s.pingedAt === null) {
        // (Not marked for the heartbeat, which drops a page that missed its own last ping: one
        // pinged here a moment before a beat would be dropped before its pong could come.)
        s.pingedAt = now;
        try {
          s.ws.ping();
        } catch {
          // a socket already failing closes by itself
        }
      } else if (now - s.pingedAt >= this.pongGraceMs) {
        // Its slot is free now (the close event, which gives its pair back, comes later).
        this.sessions.delete(s);
        this.drop(s);
        gone++;
      }
    }
    if (gone > 0) this.logger.info(`viewer: every page slot was taken: ${gone} page${gone === 1 ? '' : 's'} that did not answer a ping for ${this.pongGraceMs / 1000} s ${gone === 1 ? 'was' : 'were'} dropped`);
    return gone;
  }

  private onConnection(ws: WebSocket): void {
    const s: Session = { ws, id: this.nextSessionId++, authed: false, name: null, person: null, idle: false, pairId: null, models: new Set(), rate: new RateWindow(RATE_MAX, RATE_WINDOW_MS), alive: true, pingedAt: null, helloTimer: null, dropped: false };
    s.helloTimer = setTimeout(() => {
      s.helloTimer = null;
      if (!s.authed) ws.close(4408, 'no hello');
    }, HELLO_TIMEOUT_MS);
    s.helloTimer.unref();
    this.sessions.add(s);
    ws.on('pong', () => {
      s.alive = true;
      s.pingedAt = null;
    });
    ws.on('message', (data, isBinary) => this.onMessage(s, data, isBinary));
    ws.on('close', () => {
      if (s.helloTimer) clearTimeout(s.helloTimer);
      s.helloTimer = null;
      this.sessions.delete(s);
      this.releaseOnClose(s);
    });
    ws.on('error', () => ws.terminate());
  }

  /**
   * A page that closes while it holds a pair gives the pair back at once, so a person waiting
   * gets it now rather than when the lease runs out, unless another open page of the same
   * person shows it (the lease is theirs: one person, several tabs). A page reloaded by the
   * same person gets the pair again first while nobody else has taken it.
   */
  /** Whether an open page other than `s` of the person named `name` shows `pairId` (a lease is the person's, so that page still needs it). */
  private shownElsewhere(s: Session, name: string, pairId: string): boolean {
    for (const o of this.sessions) if (o !== s && o.name === name && o.pairId === pairId) return true;
    return false;
  }

  private releaseOnClose(s: Session): void {
    if (this.closed || s.name === null || s.pairId === null) return;
    const name = s.name;
    const pairId = s.pairId;
    if (this.shownElsewhere(s, name, pairId)) return;
    try {
      if (this.store.releaseLease(personTeacherId(name), pairId)) this.pollIdle();
    } catch (e) {
      if (!this.retryable(e)) this.logger.warn(`viewer: giving back the pair of a closed page failed: ${(e as Error).message}`);
    }
  }

  private beat(): void {
    const now = this.clock.now();
    for (const s of this.sessions) {
      if (!s.alive) {
        s.ws.terminate();
        continue;
      }
      s.alive = false;
      // A ping still out (one evictGone sent) keeps its time: the page has owed a pong since then.
      s.pingedAt ??= now;
      s.ws.ping();
    }
    // Housekeeping: leases that ran out are ignored by every query, but their rows stayed in the
    // store for good (one per pair and person a page ever held). A busy store skips a beat.
    try {
      this.store.pruneLeases(this.clock.date().getTime());
    } catch (e) {
      if (!this.retryable(e)) throw e;
    }
  }

  private send(s: Session, msg: ServerMessage): void {
    if (s.ws.readyState !== s.ws.OPEN) return;
    if (msg.type !== 'model' && s.ws.bufferedAmount > SLOW_READER_BYTES + this.modelBytes) {
      // terminate, not close: a closing handshake would wait behind the unread replies.
      this.logger.warn(`viewer: dropped a page that left more than ${SLOW_READER_BYTES / 2 ** 20} MiB of replies unread`);
      this.drop(s);
      return;
    }
    const text = JSON.stringify(msg);
    if (msg.type === 'model') this.modelBytes = Math.max(this.modelBytes, Buffer.byteLength(text));
    s.ws.send(text);
  }

  /** When the terminal was last told that the store cannot be written (STORE_REFUSAL_WARN_MS). */
  private storeRefusalWarnedAt = -Infinity;

  /**
   * Whether a store error is one to retry (busy, or the machine refused: a full disk). A refusal of
   * the machine is also said on the terminal, at most once a minute: pages keep re-sending their
   * answers, and only the person who runs the server can make room.
   */
  private retryable(e: unknown): boolean {
    if (!isBusy(e)) return false;
    const now = this.clock.now();
    if (isSqliteEnvironmentError(e) && now - this.storeRefusalWarnedAt >= STORE_REFUSAL_WARN_MS) {
      this.storeRefusalWarnedAt = now;
      this.logger.warn(`viewer: ${(e as Error).message}: answers wait on people's pages and are sent again until it can be written (make room; nothing is lost)`);
    }
    return true;
  }

  private error(s: Session, code: Extract<ServerMessage, { type: 'error' }>['code'], message: string, extra: { re?: number; labelId?: string } = {}): void {
    this.send(s, { type: 'error', code, message, ...extra });
  }

  /**
   * Cut a page off at once. Messages of it already read from the socket still arrive after this (a
   * flood comes in batches): they are ignored, not each refused and logged again.
   */
  private drop(s: Session): void {
    s.dropped = true;
    s.ws.terminate();
  }

  private onMessage(s: Session, data: RawData, isBinary: boolean): void {
    if (s.dropped) return;
    if (s.rate.hit(this.clock.now())) {
      if (s.ws.bufferedAmount > FLOOD_BUFFER_BYTES) {
        // terminate, not close: a closing handshake would wait behind the unread replies.
        this.logger.warn(`viewer: dropped a page that sent more than ${RATE_MAX} messages in ${RATE_WINDOW_MS / 1000} s without reading the replies`);
        this.drop(s);
        return;
      }
      return this.error(s, 'rate_limited', `more than ${RATE_MAX} messages in ${RATE_WINDOW_MS / 1000} s; slow down`);
    }
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    if (isBinary) return this.error(s, 'invalid', 'binary messages are not accepted; send JSON text');
    if (buf.length > MAX_CLIENT_MESSAGE_BYTES) return this.error(s, 'too_large', `message of ${buf.length} bytes is larger than the limit of ${MAX_CLIENT_MESSAGE_BYTES} bytes`);
    const parsed = parseClientMessage(buf.toString('utf8'), { bytes: buf.length });
    if (!parsed.ok) {
      return this.error(s, parsed.code, parsed.message, { ...(parsed.re !== undefined ? { re: parsed.re } : {}), ...(parsed.labelId ? { labelId: parsed.labelId } : {}) });
    }
    const msg = parsed.msg;
    const re = msg.seq !== undefined ? { re: msg.seq } : {};
    if (!s.authed && msg.type !== 'hello') return this.error(s, 'need_hello', 'send hello first', re);
    try {
      this.handle(s, msg);
    } catch (e) {
      const labelId = msg.type === 'answer' || msg.type === 'undo' ? { labelId: msg.labelId } : {};
      if (this.retryable(e)) return this.error(s, 'store', storeRefusalText(e), { ...re, ...labelId });
      this.logger.warn(`viewer: ${msg.type} failed: ${(e as Error).message}`);
      this.error(s, 'internal', `${msg.type} failed: ${(e as Error).message}`, { ...re, ...labelId });
    }
  }

  private handle(s: Session, msg: ClientMessage): void {
    const re = msg.seq !== undefined ? { re: msg.seq } : {};
    switch (msg.type) {
      case 'hello': {
        const person = this.personByToken !== null && msg.token !== undefined ? (this.personByToken.get(tokenDigest(msg.token)) ?? null) : null;
        if (this.personByToken !== null && person === null) {
          const shared = this.token !== undefined && tokenMatches(msg.token, this.token);
          const why =
            msg.token === undefined
              ? 'this server needs your personal access token (open the link you were given)'
              : shared
                ? "this server lets people in with their own links only: open the link you were given (the study's shared token is not one)"
                : 'wrong access token (open the link you were given)';
          this.error(s, 'unauthorized', why, re);
          s.ws.close(4401, 'unauthorized');
          return;
        }
        if (this.personByToken === null && this.token !== undefined && !tokenMatches(msg.token, this.token)) {
          this.error(s, 'unauthorized', msg.token === undefined ? 'this server needs an access token' : 'wrong access token', re);
          s.ws.close(4401, 'unauthorized');
          return;
        }
        if (msg.v !== PROTOCOL_VERSION) {
          this.error(s, 'invalid', `protocol version ${msg.v} is not supported (server speaks ${PROTOCOL_VERSION}); reload the page`, re);
          return;
        }
        s.authed = true;
        if (s.helloTimer) clearTimeout(s.helloTimer);
        s.helloTimer = null;
        if (person !== null) {
          // A personal link signs the page in as its person, whatever name the browser kept.
          s.person = person;
          this.setName(s, person);
        } else if (msg.name !== undefined) this.setName(s, msg.name);
        this.send(s, {
          type: 'welcome',
          v: PROTOCOL_VERSION,
          envId: this.env.spec.id,
          goal: this.env.spec.goal,
          terms: this.env.terms,
          dt: this.env.spec.dt,
          name: s.name,
          overlap: this.shownOverlap,
          insight: this.insight !== undefined,
          heronPath: this.heronOut,
          maxCommentChars: MAX_COMMENT_CHARS,
          storeId: this.storeId,
          ...(s.person !== null ? { personal: true as const } : {}),
        });
        this.sendProgress(s);
        // A page that connects after the run stopped asking hears so at once (not only when it asks).
        if (!this.handingOut) this.send(s, { type: 'idle', reason: 'done' });
        return;
      }
      case 'set_name':
        if (s.person !== null && msg.name !== s.person) return this.notThePerson(s, msg.name, re);
        this.setName(s, msg.name);
        this.sendProgress(s);
        return;
      case 'next':
        return this.giveNext(s);
      case 'answer':
        return this.answer(s, msg);
      case 'undo':
        return this.undo(s, msg);
      case 'heron_preview':
        void this.heronPreview(s, msg, re);
        return;
      case 'heron_save': {
        let config;
        try {
          config = checkHeronConfig(msg.config, this.env.spec);
        } catch (e) {
          if (e instanceof InputError) return this.error(s, 'heron_invalid', e.message, re);
          throw e;
        }
        writeJsonAtomic(this.heronOut, config);
        this.logger.info(`viewer: HERON config saved to ${this.heronOut} (use --teacher heron:${this.heronOut})`);
        this.send(s, { type: 'heron_saved', path: this.heronOut, config, ...re });
        return;
      }
      case 'view_pair': {
        const pair = this.store.getPair(msg.pairId);
        if (!pair) return this.error(s, 'not_found', `no pair ${msg.pairId} in the store`, re);
        this.sendPair(s, pair, this.store.pairInfo(pair.id)?.round ?? 0, 0, true);
        return;
      }
    }
  }

  /** A page of a person's own link sent another name (set_name, answer or undo): refused, nothing stored. */
  private notThePerson(s: Session, name: string, extra: { re?: number; labelId?: string }): void {
    const person = s.person as string;
    this.error(s, 'not_allowed', `This page's link signs you in as ${person}: nothing is stored under another name (${name}).`, extra);
  }

  private setName(s: Session, raw: string): void {
    const name = normaliseName(raw);
    if (name === null) return;
    const before = s.name;
    s.name = name;
    this.store.putTeacher({ id: personTeacherId(name), kind: 'human', config: { name, via: 'viewer' } });
    if (before !== null && s.pairId !== null && personTeacherId(before) !== personTeacherId(name)) this.moveLease(s, before, name);
  }

  /**
   * A page renamed while it shows a pair keeps showing it and answers it under the new name, so the
   * pair's lease moves to the new name: left with the old name (a typo corrected), it kept the pair
   * from everyone else until it ran out, and no page closing under the new name gave it back.
   * Another open page of the old name showing the same pair keeps its lease.
   */
  private moveLease(s: Session, from: string, to: string): void {
    const pairId = s.pairId as string;
    let released = false;
    if (!this.shownElsewhere(s, from, pairId)) released = this.store.releaseLease(personTeacherId(from), pairId);
    if (this.store.labelIdOf(pairId, personTeacherId(to)) === null) this.store.leasePair(pairId, personTeacherId(to), this.clock.date().getTime() + this.leaseMs);
    if (released) this.pollIdle();
  }

  /**
   * The HERON page's pool, loaded at most every HERON_POOL_TTL_MS; pages asking meanwhile share one
   * load. A load reads the segments stored since the last one (every segment on the first: seconds
   * on a store of 100,000 pairs, in slices between which the server goes on answering).
   */
  private pool(): Promise<HeronPool | null> {
    const now = this.clock.now();
    if (!this.heronPool || now - this.heronPool.at > HERON_POOL_TTL_MS) {
      const entry = { at: now, pool: loadHeronPool(this.store, { sums: this.heronSums }) };
      // A failed load is not kept: the next preview tries again.
      entry.pool.catch(() => {
        if (this.heronPool === entry) this.heronPool = null;
      });
      this.heronPool = entry;
    }
    return this.heronPool.pool;
  }

  private async heronPreview(s: Session, msg: Extract<ClientMessage, { type: 'heron_preview' }>, re: { re?: number }): Promise<void> {
    let pool: HeronPool | null;
    try {
      pool = await this.pool();
    } catch (e) {
      if (this.closed) return; // the store was closed under the load
      if (this.retryable(e)) return this.error(s, 'store', storeRefusalText(e), re);
      this.logger.warn(`viewer: heron_preview failed: ${(e as Error).message}`);
      return this.error(s, 'internal', `heron_preview failed: ${(e as Error).message}`, re);
    }
    if (this.closed || s.dropped) return;
    let result;
    try {
      result = heronPreview(msg.config, this.env.spec, pool ?? { samples: [], labelled: [], stds: new Float64Array(this.env.terms.length), segments: 0 });
    } catch (e) {
      if (e instanceof InputError) return this.error(s, 'heron_invalid', e.message, re);
      this.logger.warn(`viewer: heron_preview failed: ${(e as Error).message}`);
      return this.error(s, 'internal', `heron_preview failed: ${(e as Error).message}`, re);
    }
    this.send(s, { type: 'heron_result', ...result, ...re });
  }

  private segmentPayload(seg: Segment): PairMsg['left'] {
    return { id: seg.id, length: seg.length, nq: seg.nq, qpos: float64ToBase64(seg.qpos) };
  }

  private sendPair(s: Session, pair: Pair, round: number, leaseExpiresAt: number, preview: boolean): void {
    if (!this.warnedModel && pair.a.modelHash !== this.env.spec.modelHash) {
      this.warnedModel = true;
      this.logger.warn(`viewer: segments were recorded with model ${pair.a.modelHash}, the page replays model ${this.env.spec.modelHash}; clips may not match`);
    }
    const modelId = this.env.modelId;
    if (!s.models.has(modelId)) {
      this.send(s, { type: 'model', modelId, model: this.env.model });
      s.models.add(modelId);
    }
    if (!preview) s.pairId = pair.id;
    const leftIs: Side = preview || s.name === null ? 'a' : leftSideFor(pair.id, personTeacherId(s.name));
    const [l, r] = leftIs === 'a' ? [pair.a, pair.b] : [pair.b, pair.a];
    this.send(s, {
      type: 'pair',
      pairId: pair.id,
      modelId,
      envId: this.env.spec.id,
      goal: this.env.spec.goal,
      termNames: this.env.terms.map((t) => t.name),
      round,
      leftIs,
      left: this.segmentPayload(l),
      right: this.segmentPayload(r),
      dt: this.env.spec.dt,
      leaseExpiresAt,
      preview,
    });
  }

  private giveNext(s: Session): void {
    if (!this.handingOut) {
      s.idle = false;
      this.send(s, { type: 'idle', reason: 'done' });
      this.sendProgress(s);
      return;
    }
    if (s.name === null) {
      s.idle = false;
      this.send(s, { type: 'idle', reason: 'need_name' });
      return;
    }
    const leased = this.store.nextPairFor(personTeacherId(s.name), { leaseMs: this.leaseMs });
    if (!leased) {
      const wasIdle = s.idle;
      s.idle = true;
      if (!wasIdle) this.send(s, { type: 'idle', reason: 'no_pairs' });
      this.sendProgress(s);
      return;
    }
    s.idle = false;
    this.sendPair(s, leased.pair, leased.round, leased.expiresAt, false);
    this.sendProgress(s);
  }

  /**
   * Idle pages whose last check found nothing, with the store's state then (LabelStore.handOutState):
   * they are checked again only once it has changed. A check (nextPairFor) takes the store's write
   * lock, once a second for each idle page, against other processes writing to the store (before
   * the store's schema 2 it also read every pair: 0.4 s at 100,000 pairs).
   */
  private readonly foundNothing = new WeakMap<Session, { teacher: string; stamp: string; until: number }>();

  private pollIdle(): void {
    if (this.closed || !this.handingOut) return;
    if (this.overlap > 1) this.raiseNewPairs();
    for (const s of this.sessions) {
      if (!s.idle || s.name === null) continue;
      try {
        const teacher = personTeacherId(s.name);
        // Read before the check: a commit made after it shows as a change at the next poll.
        const state = this.store.handOutState();
        const last = this.foundNothing.get(s);
        if (last && last.teacher === teacher && last.stamp === state.stamp && state.now < last.until) continue;
        const leased = this.store.nextPairFor(teacher, { leaseMs: this.leaseMs });
        if (!leased) {
          this.foundNothing.set(s, { teacher, stamp: state.stamp, until: state.until });
          // The store changed since this page's last check, or this is the first check since it
          // went idle (another person may have answered meanwhile): its counts are sent, so an idle
          // page sees the last pairs answered (and says the study is through for now).
          if (!last || last.stamp !== state.stamp) this.sendProgress(s);
          continue;
        }
        this.foundNothing.delete(s);
        s.idle = false;
        this.sendPair(s, leased.pair, leased.round, leased.expiresAt, false);
        this.sendProgress(s);
      } catch (e) {
        if (!this.retryable(e)) this.logger.warn(`viewer: checking for new pairs failed: ${(e as Error).message}`);
      }
    }
  }

  /**
   * Pairs stored after the start (`prefrl pairs` while a study runs, a run's next batch) want
   * `overlap` people too: checked when the store changed since the last check. They wanted one
   * person, so with --overlap 2 they went to one.
   */
  private raiseNewPairs(): void {
    try {
      const stamp = this.store.handOutState().stamp;
      if (stamp === this.raisedAt) return;
      this.store.raiseWanted(this.overlap);
      this.raisedAt = this.store.handOutState().stamp;
    } catch (e) {
      if (!this.retryable(e)) this.logger.warn(`viewer: raising new pairs to --overlap ${this.overlap} failed: ${(e as Error).message}`);
    }
  }

  private sendProgress(s: Session): void {
    // Only the three counts shown (a whole counts() scanned every pair three times per answer).
    const c = this.store.progressCounts(s.name === null ? '' : personTeacherId(s.name));
    const agreement = this.shownOverlap > 1 ? this.store.agreementTotals() : null;
    this.send(s, {
      type: 'progress',
      teacher: s.name === null ? 0 : c.teacherLabels,
      total: c.labels,
      waiting: c.waitingForPeople,
      agreement,
    });
  }

  private answer(s: Session, msg: AnswerMsg): void {
    const re = msg.seq !== undefined ? { re: msg.seq } : {};
    if (s.person !== null && msg.name !== s.person) return this.notThePerson(s, msg.name, { ...re, labelId: msg.labelId });
    const teacher = personTeacherId(msg.name);
    const info = this.store.pairInfo(msg.pairId);
    if (!info) return this.error(s, 'not_found', `no pair ${msg.pairId} in the store`, { ...re, labelId: msg.labelId });
    // One answer per person and pair: a second one (the same pair open in two tabs, a stale page)
    // is refused and the first kept. A re-send of the same answer (same label id) is acknowledged below.
    const first = this.store.labelIdOf(msg.pairId, teacher);
    if (first !== null && first !== msg.labelId) {
      if (s.pairId === msg.pairId) s.pairId = null;
      return this.error(s, 'conflict', 'You had already answered this pair (in another tab or window?): your first answer is kept.', { ...re, labelId: msg.labelId });
    }
    // The layout the page showed (it depends on the name the pair was sent under, which a rename
    // since then changes); older pages do not say, and showed the layout of the answer's name.
    const leftIs = msg.leftIs ?? leftSideFor(msg.pairId, teacher);
    const label: NewLabel = answerLabel(msg, leftIs);
    if (s.name === null) this.setName(s, msg.name);
    else this.store.putTeacher({ id: teacher, kind: 'human', config: { name: msg.name, via: 'viewer' } });
    let result;
    try {
      result = this.store.addLabels([label]);
    } catch (e) {
      if (/already stored with different content/.test((e as Error).message)) {
        return this.error(s, 'conflict', 'This answer was already stored with another choice or comment: the stored one is kept.', { ...re, labelId: msg.labelId });
      }
      throw e;
    }
    if (this.faults.dropAfterCommit > 0) {
      this.faults.dropAfterCommit--;
      s.ws.terminate();
      return;
    }
    if (s.pairId === msg.pairId) s.pairId = null;
    this.send(s, { type: 'ack', labelId: msg.labelId, pairId: msg.pairId, duplicate: result.added === 0, ...re });
    if (result.added > 0) {
      for (const fn of this.listeners) {
        try {
          fn(label);
        } catch (e) {
          this.logger.warn(`viewer: label listener failed: ${(e as Error).message}`);
        }
      }
      if (this.insight) this.sendInsight(s, msg, leftIs, label.kind === 'preference' ? label.probFirst : null);
      this.moveOtherTabsOn(s, teacher, msg.pairId);
    }
    this.sendProgress(s);
  }

  /**
   * The person's other open pages that show the pair just answered (one person, several tabs:
   * the lease is theirs, so every tab is handed the same pair) get their next pair at once, or
   * `idle`, as a page that asked would: left on the answered pair, such a page learned it only
   * when its answer was refused as a conflict. The page shows a pushed pair in place of the one
   * on screen, as it does a pair pushed to an idle page.
   */
  private moveOtherTabsOn(from: Session, teacher: string, pairId: string): void {
    for (const o of this.sessions) {
      if (o === from || o.pairId !== pairId || o.name === null || personTeacherId(o.name) !== teacher) continue;
      o.pairId = null;
      o.idle = false;
      try {
        this.giveNext(o);
      } catch (e) {
        // The answer is stored and acknowledged already: a failure here is not the answering page's.
        // The other page learns it as before, by a conflict when it answers (and then asks for the next).
        if (!this.retryable(e)) this.logger.warn(`viewer: handing the next pair to another page of ${teacher} failed: ${(e as Error).message}`);
      }
    }
  }

  private sendInsight(s: Session, msg: AnswerMsg, leftIs: Side, teacherProb: number | null): void {
    const pair = this.store.getPair(msg.pairId);
    if (!pair || !this.insight) return;
    let r;
    try {
      r = this.insight.explain(pair);
    } catch (e) {
      this.logger.warn(`viewer: reward model failed on ${pair.id}: ${(e as Error).message}`);
      return;
    }
    const probLeft = leftIs === 'a' ? r.probFirst : 1 - r.probFirst;
    const agree = teacherProb === null || teacherProb === 0.5 ? null : teacherProb > 0.5 === r.probFirst > 0.5;
    this.send(s, {
      type: 'insight',
      pairId: pair.id,
      labelId: msg.labelId,
      probLeft: Math.min(1, Math.max(0, probLeft)),
      rewardsLeft: Array.from(leftIs === 'a' ? r.rewardsA : r.rewardsB),
      rewardsRight: Array.from(leftIs === 'a' ? r.rewardsB : r.rewardsA),
      choice: msg.choice,
      agree,
    });
    if (agree === false) {
      try {
        appendJsonl(`${resolve(this.store.path)}.disagreements.jsonl`, {
          time: this.clock.date().toISOString(),
          pairId: pair.id,
          labelId: msg.labelId,
          teacher: personTeacherId(msg.name),
          choice: msg.choice,
          leftIs,
          teacherProbFirst: teacherProb,
          modelProbFirst: r.probFirst,
          comment: msg.comment ?? null,
        });
      } catch (e) {
        this.logger.warn(`viewer: cannot log a disagreement: ${(e as Error).message}`);
      }
    }
  }

  private undo(s: Session, msg: UndoMsg): void {
    const re = msg.seq !== undefined ? { re: msg.seq } : {};
    if (s.person !== null && msg.name !== s.person) return this.notThePerson(s, msg.name, { ...re, labelId: msg.labelId });
    const teacher = personTeacherId(msg.name);
    let removed: { pairId: string } | null;
    try {
      removed = this.store.deleteLabel(msg.labelId, teacher) ?? null;
    } catch (e) {
      if (/another teacher/.test((e as Error).message)) return this.error(s, 'not_allowed', 'only your own answers can be undone', { ...re, labelId: msg.labelId });
      // Locked in the store (lockLabels) by the human teacher, in this process or another.
      if (/passed to training/.test((e as Error).message)) {
        return this.error(s, 'not_allowed', 'this answer was already passed to training and cannot be undone', { ...re, labelId: msg.labelId });
      }
      throw e;
    }
    if (removed) {
      try {
        appendJsonl(`${resolve(this.store.path)}.undo.jsonl`, { time: this.clock.date().toISOString(), labelId: msg.labelId, pairId: removed.pairId, teacher });
      } catch (e) {
        this.logger.warn(`viewer: cannot log an undo: ${(e as Error).message}`);
      }
      for (const fn of this.undoListeners) {
        try {
          fn({ labelId: msg.labelId, pairId: removed.pairId, teacher });
        } catch (e) {
          this.logger.warn(`viewer: undo listener failed: ${(e as Error).message}`);
        }
      }
    }
    this.send(s, { type: 'undone', labelId: msg.labelId, pairId: removed?.pairId ?? null, ...re });
    if (removed && !this.handingOut) {
      // The run asks no more: the pair is not handed out again (the page is told so).
      s.idle = false;
      this.send(s, { type: 'idle', reason: 'done' });
    } else if (removed) {
      const pair = this.store.getPair(removed.pairId);
      if (pair) {
        const expires = this.clock.date().getTime() + this.leaseMs;
        this.store.leasePair(pair.id, teacher, expires);
        if (s.name === null) this.setName(s, msg.name);
        // The undone pair takes the place of the one this page showed (the page that undoes is the
        // one its person looks at): that one is given back, as a closed page's is, unless another
        // page of the person shows it.
        const shown = s.pairId;
        const released = shown !== null && shown !== pair.id && s.name !== null && !this.shownElsewhere(s, s.name, shown) && this.store.releaseLease(personTeacherId(s.name), shown);
        s.idle = false;
        this.sendPair(s, pair, this.store.pairInfo(pair.id)?.round ?? 0, expires, false);
        if (released) this.pollIdle();
      }
    }
    this.sendProgress(s);
  }
}
