/**
 * The viewer's wire protocol: every message between the labelling page and the server, as
 * discriminated unions (`type`), with hand-written validators used where messages arrive
 * (the server validates what pages send, the page validates what the server sends).
 *
 * Shared by viewer/server.ts (Node) and viewer/client/ (browser): no Node or DOM imports.
 *
 * Conversation (page -> server: C, server -> page: S):
 *   C hello {token?, name?}          first message; the server answers `welcome` or, when a
 *                                    token is required and missing or wrong, `error
 *                                    unauthorized` and closes the socket (code 4401)
 *   C set_name {name}                the teacher's name (no accounts); labels are stored as
 *                                    teacher "human:<name>". A page that came in through a
 *                                    person's own link (`serve --people`: the hello's token
 *                                    is that person's) is welcomed with their name and
 *                                    `personal: true`; another name in set_name, answer or
 *                                    undo gets `error not_allowed`
 *   C next                           ask for a pair; S `model` (once per model and socket)
 *                                    then S `pair` (pair id, env id, model id, goal text,
 *                                    reward-term names, step time, both clips' qpos), or
 *                                    S `idle` when none is open (the server pushes a `pair`
 *                                    when one appears); `idle` reason "done" once the run the
 *                                    server labels for asks no more (sent unasked too, to every
 *                                    page, when that happens, and after the welcome of a page
 *                                    that connects later; answers sent still get their `ack`)
 *   C answer {labelId, pairId, name, choice, responseMs, comment?, leftIs?}
 *                                    S `ack` after the label is committed to the store, then
 *                                    S `progress` (and S `insight` when the server has a model)
 *   C undo {labelId, name}           S `undone` (and the pair again) or S `error`
 *   C heron_preview {config}         S `heron_result`: how the hierarchical rule decides
 *                                    sample pairs from the store
 *   C heron_save {config}            S `heron_saved` {path}
 *   C view_pair {pairId}             S `pair` with preview = true (not leased, for HERON)
 * Any client message may carry `seq` (a number the page chose); replies about it echo it
 * as `re`, so the page can match an `error` to the request that caused it.
 *
 * Durability contract: a page keeps every answer and undo in its outbox until the server
 * acknowledges it (`ack` / `undone` / a permanent `error` naming the label), and re-sends the
 * outbox in order after reconnecting. Label ids make re-sends idempotent.
 *
 * Segment arrays travel as base64 of little-endian float64 bytes (exact and about half the
 * size of JSON numbers).
 */
import { personTeacherId } from '../core/person.js';

export const PROTOCOL_VERSION = 1;

/** Client messages larger than this get an `error too_large` reply (the socket stays open). */
export const MAX_CLIENT_MESSAGE_BYTES = 64 * 1024;
/** The socket is closed (ws code 1009) above this: protects server memory from floods. */
export const HARD_MAX_CLIENT_MESSAGE_BYTES = 1024 * 1024;
/** Server messages larger than this are refused by the page (BYO models with big meshes fit). */
export const MAX_SERVER_MESSAGE_BYTES = 256 * 1024 * 1024;
export const MAX_COMMENT_CHARS = 2000;
export const MAX_NAME_CHARS = 40;
/** At most this many reward terms in a HERON config. */
export const MAX_TERMS = 64;
/** Largest response time accepted, ms (a day). */
export const MAX_RESPONSE_MS = 24 * 3600 * 1000;

export const CHOICES = ['left', 'right', 'equal', 'cant_tell'] as const;
export type Choice = (typeof CHOICES)[number];

/** Which stored segment ("a" is the pair's first) is shown in the left pane. */
export type Side = 'a' | 'b';

export type HeronDirectionJson = 'higher' | 'lower';

/** A HERON teacher config as parseHeronConfig (reward/teachers/heron.ts) reads it. */
export interface HeronConfigJson {
  readonly ranking: string[];
  readonly margins: number[];
  readonly directions?: Record<string, HeronDirectionJson>;
}

// ---------------------------------------------------------------- page -> server

interface Seq {
  /** Request number chosen by the page, echoed as `re` in replies about this message. */
  readonly seq?: number;
}

export interface HelloMsg extends Seq {
  readonly type: 'hello';
  readonly v: number;
  readonly token?: string;
  readonly name?: string;
}
export interface SetNameMsg extends Seq {
  readonly type: 'set_name';
  readonly name: string;
}
export interface NextMsg extends Seq {
  readonly type: 'next';
}
export interface AnswerMsg extends Seq {
  readonly type: 'answer';
  /** Chosen by the page (random); re-sends carry the same id. */
  readonly labelId: string;
  readonly pairId: string;
  /** The teacher's name when they answered (re-sends after a rename keep the original). */
  readonly name: string;
  readonly choice: Choice;
  /** From both clips being ready on screen to the answer, ms. */
  readonly responseMs: number;
  readonly comment?: string;
  /**
   * Which stored segment the page showed on the left (the pair message's `leftIs`), so "left"
   * means the clip the person saw on the left even after a rename (the layout depends on the
   * name). Absent (pages before the field): the server derives it from `name`.
   */
  readonly leftIs?: Side;
}
export interface UndoMsg extends Seq {
  readonly type: 'undo';
  readonly labelId: string;
  readonly name: string;
}
export interface HeronPreviewMsg extends Seq {
  readonly type: 'heron_preview';
  readonly config: HeronConfigJson;
}
export interface HeronSaveMsg extends Seq {
  readonly type: 'heron_save';
  readonly config: HeronConfigJson;
}
export interface ViewPairMsg extends Seq {
  readonly type: 'view_pair';
  readonly pairId: string;
}

export type ClientMessage = HelloMsg | SetNameMsg | NextMsg | AnswerMsg | UndoMsg | HeronPreviewMsg | HeronSaveMsg | ViewPairMsg;
export type ClientMessageType = ClientMessage['type'];
export const CLIENT_MESSAGE_TYPES: readonly ClientMessageType[] = ['hello', 'set_name', 'next', 'answer', 'undo', 'heron_preview', 'heron_save', 'view_pair'];

// ---------------------------------------------------------------- server -> page

export interface TermInfo {
  readonly name: string;
  readonly weight: number;
  readonly doc: string;
}

export interface WelcomeMsg {
  readonly type: 'welcome';
  readonly v: number;
  readonly envId: string;
  /** The task's goal in words, shown above the clips. */
  readonly goal: string;
  readonly terms: TermInfo[];
  /** Seconds of simulated time per step. */
  readonly dt: number;
  /** The name the server will use (normalised), when the hello carried a valid one. */
  readonly name: string | null;
  /** How many teachers should label each pair (1 = no overlap). */
  readonly overlap: number;
  /** The server shows the reward model's opinion after each answer. */
  readonly insight: boolean;
  /** Where `heron_save` writes the config. */
  readonly heronPath: string;
  readonly maxCommentChars: number;
  /**
   * Which label store this server serves (storeIdOf: a hash of its path, as /healthz gives it);
   * absent from older servers. The page tags what it keeps in its outbox with it and sends those
   * entries to a server of the same store only, so an answer or undo kept after one session ended
   * never reaches another session's server on the same address.
   */
  readonly storeId?: string;
  /**
   * The page came in through a person's own link (`serve --people`): `name` is that person's and the
   * server stores this page's answers under it alone (a rename is refused). Absent otherwise.
   */
  readonly personal?: true;
}

/**
 * The files a model needs, sent once per model and socket. The page compiles them with MuJoCo,
 * so textures travel as what the model names: a bring-your-own model's image files (PNG, as
 * compressed as on disk) and builtin textures as their MJCF attributes.
 */
export type ModelPayload =
  | {
      readonly kind: 'xml';
      readonly name: string;
      readonly xml: string;
      /**
       * The page draws the model's planes in their colour under its own floor grid, without
       * their textures (prefrl's own env models, written for the viewer: their builtin checker
       * floors, multiplied by the floor's rgba as MuJoCo does, come out as dark as the page's
       * background, in 1 m squares). Absent: planes show their textures like every other geom.
       */
      readonly floorGrid?: true;
    }
  | { readonly kind: 'files'; readonly name: string; readonly main: string; readonly files: { readonly name: string; readonly b64: string }[] };

export interface ModelMsg {
  readonly type: 'model';
  /** The model hash; pairs name the model they need. */
  readonly modelId: string;
  readonly model: ModelPayload;
}

export interface SegmentPayload {
  readonly id: string;
  /** Steps H; qpos holds H + 1 rows. */
  readonly length: number;
  readonly nq: number;
  /** base64 of Float64Array [(H+1), nq], little-endian. */
  readonly qpos: string;
}

export interface PairMsg {
  readonly type: 'pair';
  readonly pairId: string;
  readonly modelId: string;
  readonly envId: string;
  /** The task's goal in words (shown above the clips). */
  readonly goal: string;
  /** The env's reward-term names, in the order of the segments' term columns. */
  readonly termNames: string[];
  readonly round: number;
  /** Which stored segment is shown on the left (randomised per pair and teacher against side bias). */
  readonly leftIs: Side;
  readonly left: SegmentPayload;
  readonly right: SegmentPayload;
  /** Seconds per step. */
  readonly dt: number;
  /** Wall-clock epoch ms when the lease ends (0 for previews). */
  readonly leaseExpiresAt: number;
  /** Shown for inspection only (HERON samples); not to be answered. */
  readonly preview: boolean;
}

/** The WebSocket close code and reason of a server that stops (the session is over, or the server restarts). */
export const SHUTDOWN_CODE = 1001;
export const SHUTDOWN_REASON = 'server shutting down';

/**
 * The WebSocket close code of a server that has every page slot taken: the page is asked to try
 * again in the seconds its reason names (fullCloseReason; parseFullRetry reads them).
 */
export const FULL_CLOSE_CODE = 4503;

/** The close reason of FULL_CLOSE_CODE (well under the 123 bytes a close reason may have). */
export function fullCloseReason(maxPages: number, retryS: number): string {
  return `full: ${maxPages} pages open; retry in ${retryS} s`;
}

/** The seconds a FULL_CLOSE_CODE reason asks the page to wait (10 when it does not say). */
export function parseFullRetry(reason: string): number {
  const m = /retry in (\d{1,4}) s/.exec(reason);
  return m ? Math.max(1, Number(m[1])) : 10;
}

/** The page count of a FULL_CLOSE_CODE reason (null when it does not say). */
export function parseFullPages(reason: string): number | null {
  const m = /(\d{1,6}) pages open/.exec(reason);
  return m ? Number(m[1]) : null;
}

/**
 * Why a page has no pair: none open for it now (`no_pairs`, one is pushed when it appears), no name
 * yet (`need_name`), or the run the server labels for has all the answers it will use (`done`: a
 * `prefrl train --teacher human` whose --labels budget is spent; no pair is handed out again
 * unless that run asks once more).
 */
export type IdleReason = 'no_pairs' | 'need_name' | 'done';
export interface IdleMsg {
  readonly type: 'idle';
  readonly reason: IdleReason;
}

export interface AckMsg {
  readonly type: 'ack';
  readonly labelId: string;
  readonly pairId: string;
  /** The label was already stored (a re-send). */
  readonly duplicate: boolean;
  readonly re?: number;
}

export interface UndoneMsg {
  readonly type: 'undone';
  readonly labelId: string;
  /** The pair of the removed label (null when no such label was stored). */
  readonly pairId: string | null;
  readonly re?: number;
}

export interface AgreementInfo {
  readonly pairs: number;
  readonly comparisons: number;
  readonly fraction: number | null;
  /** Comparisons that agree; absent from older servers. */
  readonly agreeing?: number;
  /** Agreement beyond chance (LabelStore's Agreement.kappa); absent from older servers. */
  readonly kappa?: number | null;
}

export interface ProgressMsg {
  readonly type: 'progress';
  /** Labels this teacher has in the store. */
  readonly teacher: number;
  /** Labels in the store from anyone. */
  readonly total: number;
  /** Pairs still wanting labels. */
  readonly waiting: number;
  /** Inter-teacher agreement (only with overlap). */
  readonly agreement: AgreementInfo | null;
}

export const ERROR_CODES = [
  'bad_json',
  'too_large',
  'invalid',
  'unauthorized',
  'need_hello',
  'need_name',
  'not_found',
  'conflict',
  'not_allowed',
  'rate_limited',
  'store',
  'heron_invalid',
  'internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];
/** Errors after which re-sending the same message cannot succeed (the page drops it from its outbox). */
export const PERMANENT_ERRORS: readonly ErrorCode[] = ['invalid', 'not_found', 'conflict', 'not_allowed', 'bad_json', 'too_large'];

export interface ErrorMsg {
  readonly type: 'error';
  readonly code: ErrorCode;
  readonly message: string;
  readonly re?: number;
  /** The label the error is about (answers and undos). */
  readonly labelId?: string;
}

export interface InsightMsg {
  readonly type: 'insight';
  readonly pairId: string;
  readonly labelId: string;
  /** The reward model's P(left clip better), ensemble mean. */
  readonly probLeft: number;
  /** Predicted per-step rewards of the left and right clips (ensemble mean). */
  readonly rewardsLeft: number[];
  readonly rewardsRight: number[];
  readonly choice: Choice;
  /** Teacher and model agree (null for equal / can't tell). */
  readonly agree: boolean | null;
}

export interface HeronDecisionJson {
  readonly pairId: string;
  /** 1 first (a), 0 second (b), 0.5 tie. */
  readonly probFirst: number;
  /** Deciding level (index into the ranking), -1 for a tie. */
  readonly level: number;
  readonly term: string | null;
  readonly diff: number | null;
  readonly threshold: number | null;
  /** Term segment sums of a and b, in env term order. */
  readonly sumsA: number[];
  readonly sumsB: number[];
  /** The stored people's verdicts on this pair (probFirst values), if any. */
  readonly human: number[];
}

export interface HeronResultMsg {
  readonly type: 'heron_result';
  readonly config: HeronConfigJson;
  readonly decisions: HeronDecisionJson[];
  /** Population std of each term's segment sums over the pool, env term order. */
  readonly stds: number[];
  readonly poolSegments: number;
  /**
   * How often the rule agrees with stored preference labels. `firstOf`: the stored pairs with
   * preferences, when there were more than the page reads (the first `maxLabelled`), so that the
   * figure is over those first ones only.
   */
  readonly agreement: { readonly pairs: number; readonly agreeing: number; readonly firstOf?: { readonly read: number; readonly total: number } };
  readonly re?: number;
}

export interface HeronSavedMsg {
  readonly type: 'heron_saved';
  readonly path: string;
  readonly config: HeronConfigJson;
  readonly re?: number;
}

export type ServerMessage =
  | WelcomeMsg
  | ModelMsg
  | PairMsg
  | IdleMsg
  | AckMsg
  | UndoneMsg
  | ProgressMsg
  | ErrorMsg
  | InsightMsg
  | HeronResultMsg
  | HeronSavedMsg;
export type ServerMessageType = ServerMessage['type'];

// ---------------------------------------------------------------- validation helpers

export type ParseResult<T> = { readonly ok: true; readonly msg: T } | { readonly ok: false; readonly code: ErrorCode; readonly message: string; readonly re?: number; readonly labelId?: string };

class Invalid extends Error {}

type Obj = Record<string, unknown>;

function fail(msg: string): never {
  throw new Invalid(msg);
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Only `allowed` keys (plus "type" and "seq"). */
function keysOnly(o: Obj, allowed: readonly string[], what: string): void {
  for (const k of Object.keys(o)) {
    if (k !== 'type' && k !== 'seq' && !allowed.includes(k)) fail(`${what}: unknown field "${k}"`);
  }
}

function str(o: Obj, k: string, what: string, opts: { max: number; min?: number; pattern?: RegExp; optional?: boolean }): string | undefined {
  const v = o[k];
  if (v === undefined && opts.optional) return undefined;
  if (typeof v !== 'string') fail(`${what}: "${k}" must be a string`);
  if (v.length < (opts.min ?? 0)) fail(`${what}: "${k}" must have at least ${opts.min ?? 0} characters`);
  if (v.length > opts.max) fail(`${what}: "${k}" is longer than ${opts.max} characters`);
  if (opts.pattern && !opts.pattern.test(v)) fail(`${what}: "${k}" has characters that are not allowed`);
  return v;
}

function num(o: Obj, k: string, what: string, opts: { min?: number; max?: number; int?: boolean; optional?: boolean } = {}): number | undefined {
  const v = o[k];
  if (v === undefined && opts.optional) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(`${what}: "${k}" must be a finite number`);
  if (opts.int && !Number.isInteger(v)) fail(`${what}: "${k}" must be an integer`);
  if (opts.min !== undefined && v < opts.min) fail(`${what}: "${k}" must be >= ${opts.min}`);
  if (opts.max !== undefined && v > opts.max) fail(`${what}: "${k}" must be <= ${opts.max}`);
  return v;
}

function bool(o: Obj, k: string, what: string): boolean {
  const v = o[k];
  if (typeof v !== 'boolean') fail(`${what}: "${k}" must be true or false`);
  return v;
}

/** welcome.personal, when given: true, with the person's name. */
function personalWelcome(o: Obj, name: string | null): { personal: true } {
  if (o.personal !== true) fail('welcome: "personal" must be true when given');
  if (name === null) fail('welcome: a personal welcome must carry the person\'s name');
  return { personal: true };
}

/** heron_result.agreement.firstOf, when given: { read, total } with read < total. */
function heronFirstOf(v: unknown): { firstOf?: { read: number; total: number } } {
  if (v === undefined) return {};
  if (!isObj(v)) fail('heron_result.agreement.firstOf must be an object');
  const read = num(v, 'read', 'agreement.firstOf', { int: true, min: 0 }) as number;
  const total = num(v, 'total', 'agreement.firstOf', { int: true, min: 0 }) as number;
  if (read >= total) fail('agreement.firstOf: "read" must be < "total"');
  return { firstOf: { read, total } };
}

function numArray(v: unknown, what: string, max: number): number[] {
  if (!Array.isArray(v)) fail(`${what} must be an array of numbers`);
  if (v.length > max) fail(`${what} has more than ${max} entries`);
  for (const x of v) if (typeof x !== 'number' || !Number.isFinite(x)) fail(`${what} must hold finite numbers`);
  return v as number[];
}

/** Ids of labels: chosen by pages, so restricted to a safe alphabet. */
export const LABEL_ID_PATTERN = /^[A-Za-z0-9_-]{8,80}$/;
/** Pair and segment ids as the store makes them ("p-<hash>", "s-<hash>"), or similar. */
export const ID_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;
/** Teacher names: letters, digits, spaces and . _ - (no control characters or markup). */
export const NAME_PATTERN = /^[\p{L}\p{N}][\p{L}\p{N} ._-]*$/u;
/** Access tokens: printable ASCII without spaces. */
export const TOKEN_PATTERN = /^[\x21-\x7e]{1,256}$/;

/** A trimmed, validated teacher name, or null. */
export function normaliseName(name: string): string | null {
  const n = name.normalize('NFC').trim().replace(/\s+/g, ' ');
  if (n.length === 0 || n.length > MAX_NAME_CHARS || !NAME_PATTERN.test(n)) return null;
  return n;
}

/** Validate the shape of a HERON config (term names are checked against the env by the server). */
export function validateHeronConfigShape(v: unknown, what = 'config'): HeronConfigJson {
  if (!isObj(v)) fail(`${what} must be an object {ranking, margins, directions?}`);
  for (const k of Object.keys(v)) if (!['ranking', 'margins', 'directions'].includes(k)) fail(`${what}: unknown field "${k}"`);
  const ranking = v.ranking;
  if (!Array.isArray(ranking) || ranking.length === 0 || ranking.length > MAX_TERMS) fail(`${what}.ranking must be an array of 1..${MAX_TERMS} term names`);
  for (const r of ranking) if (typeof r !== 'string' || r.length === 0 || r.length > 128) fail(`${what}.ranking must hold term names (strings of 1..128 characters)`);
  const margins = numArray(v.margins, `${what}.margins`, MAX_TERMS);
  if (margins.length !== ranking.length) fail(`${what}.margins needs one margin per ranked term`);
  if (margins.some((m) => m < 0 || m > 1e6)) fail(`${what}.margins must be in [0, 1e6]`);
  let directions: Record<string, HeronDirectionJson> | undefined;
  if (v.directions !== undefined) {
    if (!isObj(v.directions)) fail(`${what}.directions must be an object of term -> "higher" | "lower"`);
    const entries = Object.entries(v.directions);
    if (entries.length > MAX_TERMS) fail(`${what}.directions has too many entries`);
    directions = {};
    for (const [k, d] of entries) {
      if (d !== 'higher' && d !== 'lower') fail(`${what}.directions.${k} must be "higher" or "lower"`);
      directions[k] = d;
    }
  }
  return { ranking: ranking as string[], margins, ...(directions ? { directions } : {}) };
}

/** Byte length of a string in UTF-8 without allocating. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

function parseJson(text: string, maxBytes: number, bytes?: number): { ok: true; value: unknown } | { ok: false; code: ErrorCode; message: string } {
  const size = bytes ?? utf8Length(text);
  if (size > maxBytes) return { ok: false, code: 'too_large', message: `message of ${size} bytes is larger than the limit of ${maxBytes} bytes` };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (e) {
    return { ok: false, code: 'bad_json', message: `not valid JSON: ${(e as Error).message}` };
  }
}

// ---------------------------------------------------------------- client message validation

function validateClient(o: Obj): ClientMessage {
  const type = o.type;
  if (typeof type !== 'string') fail('message needs a string "type"');
  const seq = num(o, 'seq', type, { optional: true, int: true, min: 0, max: Number.MAX_SAFE_INTEGER });
  const base = seq !== undefined ? { seq } : {};
  switch (type) {
    case 'hello': {
      keysOnly(o, ['v', 'token', 'name'], 'hello');
      const v = num(o, 'v', 'hello', { int: true, min: 1, max: 1000 }) as number;
      const token = str(o, 'token', 'hello', { max: 256, pattern: TOKEN_PATTERN, optional: true });
      const name = str(o, 'name', 'hello', { max: MAX_NAME_CHARS * 2, optional: true });
      return { type, v, ...(token !== undefined ? { token } : {}), ...(name !== undefined ? { name } : {}), ...base };
    }
    case 'set_name': {
      keysOnly(o, ['name'], 'set_name');
      const raw = str(o, 'name', 'set_name', { max: MAX_NAME_CHARS * 2, min: 1 }) as string;
      const name = normaliseName(raw);
      if (name === null) fail(`set_name: a name has 1..${MAX_NAME_CHARS} letters, digits, spaces, ".", "_" or "-"`);
      return { type, name, ...base };
    }
    case 'next':
      keysOnly(o, [], 'next');
      return { type, ...base };
    case 'answer': {
      keysOnly(o, ['labelId', 'pairId', 'name', 'choice', 'responseMs', 'comment', 'leftIs'], 'answer');
      const labelId = str(o, 'labelId', 'answer', { min: 8, max: 80, pattern: LABEL_ID_PATTERN }) as string;
      const pairId = str(o, 'pairId', 'answer', { max: 128, pattern: ID_PATTERN }) as string;
      const rawName = str(o, 'name', 'answer', { max: MAX_NAME_CHARS * 2, min: 1 }) as string;
      const name = normaliseName(rawName);
      if (name === null) fail('answer: "name" is not a valid teacher name');
      const choice = o.choice;
      if (typeof choice !== 'string' || !(CHOICES as readonly string[]).includes(choice)) fail(`answer: "choice" must be one of ${CHOICES.join(', ')}`);
      const responseMs = num(o, 'responseMs', 'answer', { min: 0, max: MAX_RESPONSE_MS }) as number;
      const comment = str(o, 'comment', 'answer', { max: MAX_COMMENT_CHARS, optional: true });
      if (comment !== undefined && /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/.test(comment)) fail('answer: "comment" holds control characters');
      const leftIs = o.leftIs;
      if (leftIs !== undefined && leftIs !== 'a' && leftIs !== 'b') fail('answer: "leftIs" must be "a" or "b"');
      return {
        type,
        labelId,
        pairId,
        name,
        choice: choice as Choice,
        responseMs,
        ...(comment !== undefined && comment !== '' ? { comment } : {}),
        ...(leftIs !== undefined ? { leftIs: leftIs as Side } : {}),
        ...base,
      };
    }
    case 'undo': {
      keysOnly(o, ['labelId', 'name'], 'undo');
      const labelId = str(o, 'labelId', 'undo', { min: 8, max: 80, pattern: LABEL_ID_PATTERN }) as string;
      const name = normaliseName(str(o, 'name', 'undo', { max: MAX_NAME_CHARS * 2, min: 1 }) as string);
      if (name === null) fail('undo: "name" is not a valid teacher name');
      return { type, labelId, name, ...base };
    }
    case 'heron_preview':
    case 'heron_save': {
      keysOnly(o, ['config'], type);
      return { type, config: validateHeronConfigShape(o.config, `${type}.config`), ...base };
    }
    case 'view_pair': {
      keysOnly(o, ['pairId'], 'view_pair');
      return { type, pairId: str(o, 'pairId', 'view_pair', { max: 128, pattern: ID_PATTERN }) as string, ...base };
    }
    default:
      return fail(`unknown message type ${JSON.stringify(type).slice(0, 40)} (expected ${CLIENT_MESSAGE_TYPES.join(', ')})`);
  }
}

/**
 * Parse and validate one message from a page. `bytes` is the message size when known (the
 * socket frame's length). Never throws: a bad message gives {ok: false, code, message} with
 * the `seq` and `labelId` echoed when they could be read.
 */
export function parseClientMessage(text: string, opts: { maxBytes?: number; bytes?: number } = {}): ParseResult<ClientMessage> {
  const j = parseJson(text, opts.maxBytes ?? MAX_CLIENT_MESSAGE_BYTES, opts.bytes);
  if (!j.ok) return j;
  if (!isObj(j.value)) return { ok: false, code: 'invalid', message: 'a message is a JSON object with a "type"' };
  const o = j.value;
  const echo = {
    ...(typeof o.seq === 'number' && Number.isSafeInteger(o.seq) && o.seq >= 0 ? { re: o.seq } : {}),
    ...(typeof o.labelId === 'string' && LABEL_ID_PATTERN.test(o.labelId) ? { labelId: o.labelId } : {}),
  };
  try {
    return { ok: true, msg: validateClient(o) };
  } catch (e) {
    if (e instanceof Invalid) return { ok: false, code: 'invalid', message: e.message, ...echo };
    throw e;
  }
}

// ---------------------------------------------------------------- server message validation

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

function strArray(v: unknown, what: string, max: number): string[] {
  if (!Array.isArray(v) || v.length > max) fail(`${what} must be an array of at most ${max} strings`);
  for (const x of v) if (typeof x !== 'string' || x.length > 128) fail(`${what} must hold strings of at most 128 characters`);
  return v as string[];
}

function segmentPayload(v: unknown, what: string): SegmentPayload {
  if (!isObj(v)) fail(`${what} must be an object`);
  const id = str(v, 'id', what, { max: 128, pattern: ID_PATTERN }) as string;
  const length = num(v, 'length', what, { int: true, min: 1, max: 1e6 }) as number;
  const nq = num(v, 'nq', what, { int: true, min: 0, max: 1e5 }) as number;
  const qpos = str(v, 'qpos', what, { max: MAX_SERVER_MESSAGE_BYTES, pattern: B64 }) as string;
  const bytes = (qpos.length / 4) * 3 - (qpos.endsWith('==') ? 2 : qpos.endsWith('=') ? 1 : 0);
  if (qpos.length % 4 !== 0 || bytes !== (length + 1) * nq * 8) fail(`${what}.qpos must hold (length + 1) x nq float64 values`);
  return { id, length, nq, qpos };
}

function modelPayload(v: unknown): ModelPayload {
  if (!isObj(v)) fail('model.model must be an object');
  const name = str(v, 'name', 'model', { max: 1024 }) as string;
  if (v.kind === 'xml') {
    if (v.floorGrid !== undefined && v.floorGrid !== true) fail('model.floorGrid must be true when given');
    return { kind: 'xml', name, xml: str(v, 'xml', 'model', { max: MAX_SERVER_MESSAGE_BYTES, min: 1 }) as string, ...(v.floorGrid ? { floorGrid: true as const } : {}) };
  }
  if (v.kind === 'files') {
    const main = str(v, 'main', 'model', { max: 1024, min: 1 }) as string;
    if (!Array.isArray(v.files)) fail('model.files must be an array');
    const files = v.files.map((f, i) => {
      if (!isObj(f)) fail(`model.files[${i}] must be an object`);
      const fname = str(f, 'name', `model.files[${i}]`, { max: 1024, min: 1 }) as string;
      if (fname.startsWith('/') || fname.split('/').includes('..')) fail(`model.files[${i}].name must be a relative path inside the model folder`);
      return { name: fname, b64: str(f, 'b64', `model.files[${i}]`, { max: MAX_SERVER_MESSAGE_BYTES, pattern: B64 }) as string };
    });
    if (!files.some((f) => f.name === main)) fail('model.files must contain the main file');
    return { kind: 'files', name, main, files };
  }
  return fail('model.kind must be "xml" or "files"');
}

function validateServer(o: Obj): ServerMessage {
  const type = o.type;
  const re = num(o, 're', String(type), { optional: true, int: true, min: 0 });
  const reField = re !== undefined ? { re } : {};
  switch (type) {
    case 'welcome': {
      if (!Array.isArray(o.terms)) fail('welcome.terms must be an array');
      const terms = o.terms.map((t, i) => {
        if (!isObj(t)) fail(`welcome.terms[${i}] must be an object`);
        return { name: str(t, 'name', 'term', { max: 128, min: 1 }) as string, weight: num(t, 'weight', 'term') as number, doc: str(t, 'doc', 'term', { max: 4096 }) as string };
      });
      const name = o.name === null ? null : (str(o, 'name', 'welcome', { max: MAX_NAME_CHARS }) as string);
      return {
        type,
        v: num(o, 'v', 'welcome', { int: true }) as number,
        envId: str(o, 'envId', 'welcome', { max: 1024, min: 1 }) as string,
        goal: str(o, 'goal', 'welcome', { max: 4096 }) as string,
        terms,
        dt: num(o, 'dt', 'welcome', { min: 0 }) as number,
        name,
        overlap: num(o, 'overlap', 'welcome', { int: true, min: 1 }) as number,
        insight: bool(o, 'insight', 'welcome'),
        heronPath: str(o, 'heronPath', 'welcome', { max: 4096 }) as string,
        maxCommentChars: num(o, 'maxCommentChars', 'welcome', { int: true, min: 0 }) as number,
        ...(o.storeId === undefined ? {} : { storeId: str(o, 'storeId', 'welcome', { max: 128, min: 1, pattern: ID_PATTERN }) as string }),
        ...(o.personal === undefined ? {} : personalWelcome(o, name)),
      };
    }
    case 'model':
      return { type, modelId: str(o, 'modelId', 'model', { max: 128, pattern: ID_PATTERN }) as string, model: modelPayload(o.model) };
    case 'pair': {
      const left = segmentPayload(o.left, 'pair.left');
      const right = segmentPayload(o.right, 'pair.right');
      if (left.nq !== right.nq) fail('pair: both segments must have the same nq');
      const leftIs = o.leftIs;
      if (leftIs !== 'a' && leftIs !== 'b') fail('pair.leftIs must be "a" or "b"');
      return {
        type,
        pairId: str(o, 'pairId', 'pair', { max: 128, pattern: ID_PATTERN }) as string,
        modelId: str(o, 'modelId', 'pair', { max: 128, pattern: ID_PATTERN }) as string,
        envId: str(o, 'envId', 'pair', { max: 1024, min: 1 }) as string,
        goal: str(o, 'goal', 'pair', { max: 4096 }) as string,
        termNames: strArray(o.termNames, 'pair.termNames', MAX_TERMS),
        round: num(o, 'round', 'pair', { int: true }) as number,
        leftIs,
        left,
        right,
        dt: num(o, 'dt', 'pair', { min: 0 }) as number,
        leaseExpiresAt: num(o, 'leaseExpiresAt', 'pair', { min: 0 }) as number,
        preview: bool(o, 'preview', 'pair'),
      };
    }
    case 'idle': {
      const reason = o.reason;
      if (reason !== 'no_pairs' && reason !== 'need_name' && reason !== 'done') fail('idle.reason must be "no_pairs", "need_name" or "done"');
      return { type, reason };
    }
    case 'ack':
      return {
        type,
        labelId: str(o, 'labelId', 'ack', { max: 80, pattern: LABEL_ID_PATTERN }) as string,
        pairId: str(o, 'pairId', 'ack', { max: 128, pattern: ID_PATTERN }) as string,
        duplicate: bool(o, 'duplicate', 'ack'),
        ...reField,
      };
    case 'undone':
      return {
        type,
        labelId: str(o, 'labelId', 'undone', { max: 80, pattern: LABEL_ID_PATTERN }) as string,
        pairId: o.pairId === null ? null : (str(o, 'pairId', 'undone', { max: 128, pattern: ID_PATTERN }) as string),
        ...reField,
      };
    case 'progress': {
      let agreement: AgreementInfo | null = null;
      if (o.agreement !== null) {
        if (!isObj(o.agreement)) fail('progress.agreement must be an object or null');
        const a = o.agreement;
        agreement = {
          pairs: num(a, 'pairs', 'agreement', { int: true, min: 0 }) as number,
          comparisons: num(a, 'comparisons', 'agreement', { int: true, min: 0 }) as number,
          fraction: a.fraction === null ? null : (num(a, 'fraction', 'agreement', { min: 0, max: 1 }) as number),
          ...(a.agreeing === undefined ? {} : { agreeing: num(a, 'agreeing', 'agreement', { int: true, min: 0 }) as number }),
          ...(a.kappa === undefined ? {} : { kappa: a.kappa === null ? null : (num(a, 'kappa', 'agreement', { max: 1 }) as number) }),
        };
        if (agreement.agreeing !== undefined && agreement.agreeing > agreement.comparisons) fail('progress.agreement: "agreeing" must be <= "comparisons"');
      }
      return {
        type,
        teacher: num(o, 'teacher', 'progress', { int: true, min: 0 }) as number,
        total: num(o, 'total', 'progress', { int: true, min: 0 }) as number,
        waiting: num(o, 'waiting', 'progress', { int: true, min: 0 }) as number,
        agreement,
      };
    }
    case 'error': {
      const code = o.code;
      if (typeof code !== 'string' || !(ERROR_CODES as readonly string[]).includes(code)) fail('error.code is not a known code');
      const labelId = str(o, 'labelId', 'error', { max: 80, pattern: LABEL_ID_PATTERN, optional: true });
      return { type, code: code as ErrorCode, message: str(o, 'message', 'error', { max: 8192 }) as string, ...reField, ...(labelId !== undefined ? { labelId } : {}) };
    }
    case 'insight': {
      const choice = o.choice;
      if (typeof choice !== 'string' || !(CHOICES as readonly string[]).includes(choice)) fail('insight.choice is not a known choice');
      if (o.agree !== null && typeof o.agree !== 'boolean') fail('insight.agree must be true, false or null');
      return {
        type,
        pairId: str(o, 'pairId', 'insight', { max: 128, pattern: ID_PATTERN }) as string,
        labelId: str(o, 'labelId', 'insight', { max: 80, pattern: LABEL_ID_PATTERN }) as string,
        probLeft: num(o, 'probLeft', 'insight', { min: 0, max: 1 }) as number,
        rewardsLeft: numArray(o.rewardsLeft, 'insight.rewardsLeft', 1e6),
        rewardsRight: numArray(o.rewardsRight, 'insight.rewardsRight', 1e6),
        choice: choice as Choice,
        agree: o.agree as boolean | null,
      };
    }
    case 'heron_result': {
      if (!Array.isArray(o.decisions)) fail('heron_result.decisions must be an array');
      const nullable = (d: Obj, k: string): number | null => (d[k] === null ? null : (num(d, k, 'decision') as number));
      const decisions = o.decisions.map((d, i) => {
        if (!isObj(d)) fail(`heron_result.decisions[${i}] must be an object`);
        return {
          pairId: str(d, 'pairId', 'decision', { max: 128, pattern: ID_PATTERN }) as string,
          probFirst: num(d, 'probFirst', 'decision', { min: 0, max: 1 }) as number,
          level: num(d, 'level', 'decision', { int: true, min: -1 }) as number,
          term: d.term === null ? null : (str(d, 'term', 'decision', { max: 128 }) as string),
          diff: nullable(d, 'diff'),
          threshold: nullable(d, 'threshold'),
          sumsA: numArray(d.sumsA, 'decision.sumsA', MAX_TERMS),
          sumsB: numArray(d.sumsB, 'decision.sumsB', MAX_TERMS),
          human: numArray(d.human, 'decision.human', 1000),
        };
      });
      if (!isObj(o.agreement)) fail('heron_result.agreement must be an object');
      return {
        type,
        config: validateHeronConfigShape(o.config, 'heron_result.config'),
        decisions,
        stds: numArray(o.stds, 'heron_result.stds', MAX_TERMS),
        poolSegments: num(o, 'poolSegments', 'heron_result', { int: true, min: 0 }) as number,
        agreement: {
          pairs: num(o.agreement, 'pairs', 'agreement', { int: true, min: 0 }) as number,
          agreeing: num(o.agreement, 'agreeing', 'agreement', { int: true, min: 0 }) as number,
          ...heronFirstOf(o.agreement.firstOf),
        },
        ...reField,
      };
    }
    case 'heron_saved':
      return { type, path: str(o, 'path', 'heron_saved', { max: 4096, min: 1 }) as string, config: validateHeronConfigShape(o.config, 'heron_saved.config'), ...reField };
    default:
      return fail(`unknown server message type ${JSON.stringify(type).slice(0, 40)}`);
  }
}

/** Parse and validate one message from the server (the page's side). Never throws. */
export function parseServerMessage(text: string, opts: { maxBytes?: number } = {}): ParseResult<ServerMessage> {
  const j = parseJson(text, opts.maxBytes ?? MAX_SERVER_MESSAGE_BYTES, text.length > (opts.maxBytes ?? MAX_SERVER_MESSAGE_BYTES) ? undefined : text.length);
  if (!j.ok) return j;
  if (!isObj(j.value)) return { ok: false, code: 'invalid', message: 'a message is a JSON object with a "type"' };
  try {
    return { ok: true, msg: validateServer(j.value) };
  } catch (e) {
    if (e instanceof Invalid) return { ok: false, code: 'invalid', message: e.message };
    throw e;
  }
}

// ---------------------------------------------------------------- encoding helpers (both sides)

const B64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_LOOKUP = (() => {
  const t = new Int16Array(128).fill(-1);
  for (let i = 0; i < 64; i++) t[B64_ALPHABET.charCodeAt(i)] = i;
  return t;
})();

/** base64 of bytes (works in Node and browsers without Buffer or btoa). */
export function bytesToBase64(bytes: Uint8Array): string {
  let out = '';
  const n = bytes.length;
  const parts: string[] = [];
  for (let i = 0; i < n; i += 3) {
    const b0 = bytes[i];
    const b1 = i + 1 < n ? bytes[i + 1] : 0;
    const b2 = i + 2 < n ? bytes[i + 2] : 0;
    out += B64_ALPHABET[b0 >> 2] + B64_ALPHABET[((b0 & 3) << 4) | (b1 >> 4)];
    out += i + 1 < n ? B64_ALPHABET[((b1 & 15) << 2) | (b2 >> 6)] : '=';
    out += i + 2 < n ? B64_ALPHABET[b2 & 63] : '=';
    if (out.length >= 8192) {
      parts.push(out);
      out = '';
    }
  }
  parts.push(out);
  return parts.join('');
}

/** Bytes of a base64 string (throws RangeError on characters outside the alphabet). */
export function base64ToBytes(b64: string): Uint8Array {
  if (b64.length % 4 !== 0) throw new RangeError('base64 length must be a multiple of 4');
  const pad = b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((b64.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < b64.length; i += 4) {
    const c = [0, 1, 2, 3].map((k) => {
      const ch = b64.charCodeAt(i + k);
      if (ch === 61) return 0; // '='
      const v = ch < 128 ? B64_LOOKUP[ch] : -1;
      if (v < 0) throw new RangeError(`invalid base64 character at ${i + k}`);
      return v;
    });
    const triple = (c[0] << 18) | (c[1] << 12) | (c[2] << 6) | c[3];
    if (o < out.length) out[o++] = (triple >> 16) & 255;
    if (o < out.length) out[o++] = (triple >> 8) & 255;
    if (o < out.length) out[o++] = triple & 255;
  }
  return out;
}

/** Float64Array -> base64 of its little-endian bytes. */
export function float64ToBase64(a: Float64Array): string {
  const le = new Uint8Array(a.length * 8);
  const view = new DataView(le.buffer);
  for (let i = 0; i < a.length; i++) view.setFloat64(i * 8, a[i], true);
  return bytesToBase64(le);
}

/** base64 of little-endian float64 bytes -> Float64Array. */
export function base64ToFloat64(b64: string): Float64Array {
  const bytes = base64ToBytes(b64);
  if (bytes.length % 8 !== 0) throw new RangeError('float64 data must be a multiple of 8 bytes');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float64Array(bytes.length / 8);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat64(i * 8, true);
  return out;
}

/**
 * Which segment a teacher sees on the left: a fixed coin flip per (pair, teacher), so the
 * position of the pair's first segment carries no information and a reload shows the same
 * layout. FNV-1a over the two ids.
 */
export function leftSideFor(pairId: string, teacher: string): Side {
  let h = 0x811c9dc5;
  const s = `${pairId}\u0000${teacher}`;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // The top bit mixes better than the bottom one for FNV.
  return h >>> 31 === 0 ? 'a' : 'b';
}

/** P(first segment better) of a choice, given which segment was on the left; null for can't tell. */
export function probFirstOf(choice: Choice, leftIs: Side): number | null {
  if (choice === 'cant_tell') return null;
  if (choice === 'equal') return 0.5;
  const leftBetter = choice === 'left';
  return leftBetter === (leftIs === 'a') ? 1 : 0;
}

/** The label an answer stores, in the label store's JSONL form (`prefrl labels import` reads it). */
export type AnswerLabel = {
  readonly id: string;
  readonly pairId: string;
  readonly teacher: string;
  readonly responseMs: number;
  readonly comment?: string;
  readonly raw: string;
  /** ISO 8601; only in a label written by the page (the server's store stamps its own). */
  readonly createdAt?: string;
} & ({ readonly kind: 'preference'; readonly probFirst: number } | { readonly kind: 'skip'; readonly reason: string });

/**
 * The label one answer becomes: the server stores it, and a page saves answers it could not
 * deliver (kept for an earlier session's server) in the same form. `leftIs`: the layout the page
 * showed (the answer's own, or derived from the name for older pages).
 */
export function answerLabel(msg: AnswerMsg, leftIs: Side, createdAt?: string): AnswerLabel {
  const p = probFirstOf(msg.choice, leftIs);
  const base = {
    id: msg.labelId,
    pairId: msg.pairId,
    teacher: personTeacherId(msg.name),
    responseMs: msg.responseMs,
    ...(msg.comment !== undefined ? { comment: msg.comment } : {}),
    raw: JSON.stringify({ choice: msg.choice, leftIs, via: 'viewer' }),
    ...(createdAt !== undefined ? { createdAt } : {}),
  };
  return p === null ? { ...base, kind: 'skip', reason: "can't tell (viewer)" } : { ...base, kind: 'preference', probFirst: p };
}
