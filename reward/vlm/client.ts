/**
 * A client for OpenAI-compatible chat completions with image inputs (POST
 * `<baseUrl>/chat/completions`, images as `data:image/png;base64,...` URLs in `image_url`
 * content parts). vLLM, Ollama, LM Studio, llama.cpp's server and hosted APIs speak it; the
 * base URL is what their docs give for the OpenAI SDK, e.g. http://localhost:8000/v1 (vLLM),
 * http://localhost:11434/v1 (Ollama), https://api.openai.com/v1.
 *
 * One `chat(messages, params)` call, in order:
 *   1. cache: the content-addressed on-disk cache (cache.ts) is asked first; a hit sends
 *      nothing. Identical calls already in flight share one request.
 *   2. concurrency: at most `concurrency` requests are open at once (a slot is held across the
 *      retries of one call, so a 429 storm does not widen the fan-out).
 *   3. rate: every HTTP attempt (retries included, the server counts them) takes a place in a
 *      sliding 60 s window of at most `requestsPerMinute` starts; a full window waits.
 *   4. request with a timeout (AbortController, `timeoutMs` for headers and body together).
 *   5. retry on 429, 408, 5xx, timeouts and network errors, up to `maxRetries` times, after
 *      the server's Retry-After (`retry-after-ms` or `retry-after`, seconds or HTTP date) when
 *      it sends one, else exponential backoff with "equal jitter" from the seeded Rng:
 *      d = min(backoffMaxMs, backoffBaseMs * 2^attempt), wait d/2 + U[0, d/2).
 *      A Retry-After longer than `maxRetryAfterMs` fails at once (waiting an hour is not a
 *      retry). Other statuses (400, 401, 403, 404, 413, ...) fail at once, and so do a 429 whose
 *      body says the quota is used up ("insufficient_quota": no wait refills it), any status whose
 *      body says the request exceeds the model's context (isContextOverflow), and the network
 *      errors of a wrong base URL (PERMANENT_NETWORK_ERRORS: a host name not found, https to
 *      an http server, an untrusted certificate). A retry is logged at
 *      info level at most once per 30 s (the rest at debug), so an outage shows at once.
 *   6. a 200 that carries an error instead of an answer (OpenRouter, llama.cpp: `error` at the
 *      top or in choices[0]) is handled as the HTTP status its `code` names (a 502 when none),
 *      retried or not as above; a 200 whose body is not a chat completion (bad JSON, no choices,
 *      no message) is a VlmError of kind 'bad-response' with the body attached; it is not
 *      retried or cached. An error body is quoted whole up to 300 characters, a longer one by its
 *      message, an HTML page (a proxy's) by its title (describeErrorBody).
 *   7. the answer (text, finish reason, usage) is written to the cache; a cache that cannot be
 *      written (disk full, no permission) is warned about once and the answer still returned
 *      (it is paid for: retrying it as a failure would pay again).
 * When retries run out the call throws a VlmError naming the endpoint, the last status or
 * cause and the number of attempts; what to do with it is the caller's choice (the VLM
 * teacher fails the batch by default, see teachers/vlm.ts).
 *
 * The API key is read from the environment variable `apiKeyEnv` (default OPENAI_API_KEY) when
 * each request is built, sent only as `Authorization: Bearer ...`, and never kept in a field,
 * logged, cached or put in an error: server bodies quoted in errors have it redacted. Without
 * the variable no Authorization header is sent (local servers need none).
 *
 * Counts (requests, retries, timeouts, errors, cache hits, prompt/completion tokens from the
 * `usage` field) are cumulative; `metrics()` gives them as `vlm/...` keys for the run log.
 *
 * Collaborators are injected: `fetch` (default the global one), `clock` (rate window, Retry-After
 * dates, cache timestamps), `sleep` (backoff and rate waits; tests pass one that only records),
 * `rng` (jitter), `env` (where the key is read from, default process.env), `logger`.
 */
import type { Clock } from '../../core/clock.js';
import { systemClock } from '../../core/clock.js';
import { withDefaults } from '../../core/defaults.js';
import { type Logger, type Metrics, silentLogger } from '../../core/log.js';
import type { Rng } from '../../core/rng.js';
import { auditPrompt, CACHE_FORMAT, type CachedAnswer, cacheKey, type ChatMessage, type ChatParams, requestBody, ResponseCache, TOKEN_FIELDS, uncutKey } from './cache.js';

export type { ChatMessage, ChatParams, ContentPart, TokenField, TokenUsage } from './cache.js';
export { TOKEN_FIELDS } from './cache.js';

export interface VlmClientConfig {
  /** Base URL of the OpenAI-compatible API, e.g. http://localhost:8000/v1 (`/chat/completions` is appended). */
  readonly baseUrl: string;
  /** Model name sent in every request (and part of the cache key). */
  readonly model: string;
  /** Name of the environment variable holding the API key (default OPENAI_API_KEY). */
  readonly apiKeyEnv: string;
  /** Time limit of one HTTP attempt, headers and body, ms (default 120000). */
  readonly timeoutMs: number;
  /** Retries after the first attempt on 429 / 408 / 5xx / timeout / network error (default 5). */
  readonly maxRetries: number;
  /** First backoff step, ms (default 1000); doubles every retry. */
  readonly backoffBaseMs: number;
  /** Cap of one backoff step, ms (default 60000). */
  readonly backoffMaxMs: number;
  /** Longest Retry-After honoured, ms (default 300000); a longer one fails the call. */
  readonly maxRetryAfterMs: number;
  /** Requests open at once (default 4). */
  readonly concurrency: number;
  /** HTTP attempts started per sliding minute; 0 = no limit (default 0). */
  readonly requestsPerMinute: number;
  /** Folder of the answer cache; null = no cache (default null). */
  readonly cacheDir: string | null;
}

export const DEFAULT_VLM_CLIENT_CONFIG: Omit<VlmClientConfig, 'baseUrl' | 'model'> = {
  apiKeyEnv: 'OPENAI_API_KEY',
  timeoutMs: 120_000,
  maxRetries: 5,
  backoffBaseMs: 1000,
  backoffMaxMs: 60_000,
  maxRetryAfterMs: 300_000,
  concurrency: 4,
  requestsPerMinute: 0,
  cacheDir: null,
};

export type FetchFn = (input: string, init: RequestInit) => Promise<Response>;
export type SleepFn = (ms: number) => Promise<void>;

export interface VlmClientDeps {
  /** Source of backoff jitter. */
  readonly rng: Rng;
  readonly fetch?: FetchFn;
  readonly clock?: Clock;
  readonly sleep?: SleepFn;
  /** Where the API key variable is looked up (default process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly logger?: Logger;
}

export type VlmClientOptions = Pick<VlmClientConfig, 'baseUrl' | 'model'> & Partial<Omit<VlmClientConfig, 'baseUrl' | 'model'>> & VlmClientDeps;

export type VlmErrorKind = 'http' | 'timeout' | 'network' | 'bad-response' | 'retry-after';

/** A failed chat call. Never carries the API key (server bodies are redacted). */
export class VlmError extends Error {
  constructor(
    message: string,
    readonly kind: VlmErrorKind,
    /** Last HTTP status, when there was one (for an error carried by a 200, the status its code names: errorInAnswer). */
    readonly status: number | null,
    /** HTTP attempts made. */
    readonly attempts: number,
    /** The server's body (redacted, at most 4000 characters), when there was one. */
    readonly body: string | null,
    /** The system error code of a network failure (ECONNREFUSED, ENOTFOUND, ...), when there was one. */
    readonly code: string | null = null,
  ) {
    super(message);
    this.name = 'VlmError';
  }
}

/** One answer. */
export interface ChatResult extends CachedAnswer {
  /** Cache key of the request. */
  readonly key: string;
  /** Answered from the cache (or by an identical call in flight): nothing was sent for it. */
  readonly cached: boolean;
  /** HTTP attempts made for it (0 when cached). */
  readonly attempts: number;
}

/** Cumulative counts since the client was made. */
export interface VlmCounts {
  /** chat() calls. */
  calls: number;
  /** HTTP attempts sent (first tries and retries). */
  requests: number;
  retries: number;
  timeouts: number;
  /** chat() calls that threw. */
  errors: number;
  /** Calls answered without a request (cache, or an identical call in flight). */
  cacheHits: number;
  promptTokens: number;
  completionTokens: number;
  /** Tokens the cache hits would have cost (from the cached usage). */
  savedPromptTokens: number;
  savedCompletionTokens: number;
  /** Answers that could not be written to the cache (they were still returned). */
  cacheWriteErrors: number;
}

const BODY_LIMIT = 4000;
/** Retries are reported at info level at most this often, ms. */
const RETRY_NOTICE_MS = 30_000;

/** What an API key variable's name must look like (for messages). */
export const ENV_NAME_RULE = 'the NAME of an environment variable (letters, digits and _), such as OPENAI_API_KEY; the value given is not shown, in case it is the key itself';

/** Whether `s` can name an environment variable. */
export function isEnvName(s: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(s);
}

/** Replace every occurrence of `secret` (when set) in `text`. */
export function redact(text: string, secret: string | undefined): string {
  return secret && secret.length >= 4 ? text.split(secret).join('[redacted]') : text;
}

const BAD_CERTIFICATE = (host: string) => `the server's TLS certificate for ${host} is not trusted`;

/** Network error codes that a retry cannot fix, with what they mean (given the host). */
export const PERMANENT_NETWORK_ERRORS: Readonly<Record<string, (host: string) => string>> = {
  ENOTFOUND: (host) => `the host name ${host} is not found (DNS)`,
  ERR_SSL_WRONG_VERSION_NUMBER: (host) => `the server at ${host} does not speak https (try http://)`,
  DEPTH_ZERO_SELF_SIGNED_CERT: BAD_CERTIFICATE,
  SELF_SIGNED_CERT_IN_CHAIN: BAD_CERTIFICATE,
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: BAD_CERTIFICATE,
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: BAD_CERTIFICATE,
  CERT_HAS_EXPIRED: (host) => `the server's TLS certificate for ${host} has expired`,
  ERR_TLS_CERT_ALTNAME_INVALID: (host) => `the server's TLS certificate is not for ${host}`,
};

/** Whether an error body says the account's quota or credit is used up (OpenAI: code/type "insufficient_quota"). */
export function isQuotaExhausted(body: string): boolean {
  return /insufficient_quota/i.test(body);
}

/**
 * Whether an error body says the request does not fit the model's context (llama.cpp's
 * "exceed_context_size_error", sent with a 400 or a 500; OpenAI's "context_length_exceeded"; vLLM's
 * "This model's maximum context length is ..."):
 * the same request never fits, so it is not retried whatever the status.
 */
export function isContextOverflow(body: string): boolean {
  return /exceed_context_size_error|context_length_exceeded|maximum context length is/i.test(body);
}

/**
 * The base URL a user meant when they pasted the full endpoint (`.../chat/completions`, which the
 * client appends itself) as the base URL; null when the URL does not end so.
 */
export function baseUrlWithoutEndpoint(baseUrl: string): string | null {
  const endpoint = /\/chat\/completions\/*(?=$|[?#])/;
  return endpoint.test(baseUrl) ? baseUrl.replace(endpoint, '') : null;
}

/**
 * Whether a server's reported model is the one asked for: the same name, or one that starts with
 * the other (OpenAI reports a dated snapshot, "gpt-4o-2024-08-06" for "gpt-4o"; Ollama a tag,
 * "llava:latest" for "llava"; vLLM a path's last part), letter case aside.
 */
export function sameModel(asked: string, served: string): boolean {
  const a = asked.toLowerCase();
  const s = served.toLowerCase();
  const last = (x: string) => x.slice(x.lastIndexOf('/') + 1);
  return s.startsWith(a) || a.startsWith(s) || last(s).startsWith(last(a)) || last(a).startsWith(last(s));
}

/** host[:port] of a URL (for messages). */
function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/** The URL without user info (for messages). */
function publicUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return url;
  }
}

/** `text` on one line (runs of whitespace as one space). */
function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function clip(text: string, n: number): string {
  return text.length > n ? `${text.slice(0, n - 3)}...` : text;
}

/**
 * The message in a JSON error body, in the shapes servers send: `{"error": {"message": ...}}`
 * (OpenAI, OpenRouter, llama.cpp, Ollama), `{"error": "..."}` (LM Studio, Ollama's own API),
 * `{"message": ...}` (vLLM before 0.6, ray), `{"detail": "..." | [{loc, msg}]}` (FastAPI: vLLM's
 * unknown paths and request validation), any of these as the first item of a list (Google's).
 * Null when the body is no JSON or holds none of these.
 */
export function errorMessageOf(body: string): string | null {
  let j: unknown;
  try {
    j = JSON.parse(body);
  } catch {
    return null;
  }
  // Google's APIs wrap the error in a list: [{"error": {...}}].
  if (Array.isArray(j) && j.length > 0) j = j[0];
  if (j === null || typeof j !== 'object' || Array.isArray(j)) return null;
  const o = j as { error?: unknown; message?: unknown; detail?: unknown };
  if (typeof o.error === 'string' && o.error.trim() !== '') return o.error;
  if (o.error !== null && typeof o.error === 'object' && typeof (o.error as { message?: unknown }).message === 'string') return (o.error as { message: string }).message;
  if (typeof o.message === 'string' && o.message.trim() !== '') return o.message;
  if (typeof o.detail === 'string' && o.detail.trim() !== '') return o.detail;
  if (Array.isArray(o.detail)) {
    const parts = o.detail
      .map((d: { msg?: unknown; loc?: unknown }) => (d && typeof d.msg === 'string' ? (Array.isArray(d.loc) ? `${d.loc.join('.')}: ${d.msg}` : d.msg) : null))
      .filter((x): x is string => x !== null);
    if (parts.length > 0) return parts.join('; ');
  }
  return null;
}

const HTML_ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", apos: "'", nbsp: ' ' };

/**
 * A server's error body as quoted in a message, on one line: a body of up to 300 characters
 * whole; a longer JSON body by its message (errorMessageOf); an HTML page (a proxy's or a web
 * server's, not the API's) by its title or first heading, saying that it is one. "" when empty.
 */
export function describeErrorBody(body: string): string {
  const t = body.trim();
  if (t === '') return '';
  if (/^<(?:!doctype|html|head|body|\?xml)/i.test(t) || /<\/(?:html|body|title|h1)>/i.test(t)) {
    const pick = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(t)?.[1] ?? /<h1[^>]*>([\s\S]*?)<\/h1>/i.exec(t)?.[1] ?? t;
    const words = oneLine(pick.replace(/<script[\s\S]*?<\/script>|<style[\s\S]*?<\/style>/gi, ' ').replace(/<[^>]*>/g, ' ')).replace(/&(amp|lt|gt|quot|#39|apos|nbsp);/g, (_m, e: string) => HTML_ENTITIES[e]);
    return `an HTML page${words ? ` "${clip(words, 200)}"` : ''} (a web server or proxy answered, not the chat-completions API)`;
  }
  const flat = oneLine(t);
  if (flat.length <= 300) return flat;
  const msg = errorMessageOf(t);
  return msg !== null ? clip(oneLine(msg), 300) : clip(flat, 300);
}

/**
 * An error carried by a 200 response instead of an answer (OpenRouter when the model fails after
 * the request was accepted; llama.cpp's server at times): a top-level `error` with no choices, or
 * an `error` in choices[0] (finish_reason "error"). Its `code` when it is an HTTP status, else 502
 * (the model behind the server failed). Null when the body carries none.
 */
export function errorInAnswer(body: string): { status: number; message: string } | null {
  let j: unknown;
  try {
    j = JSON.parse(body);
  } catch {
    return null;
  }
  if (j === null || typeof j !== 'object' || Array.isArray(j)) return null;
  const o = j as { choices?: unknown; error?: unknown };
  const first = Array.isArray(o.choices) && o.choices.length > 0 ? (o.choices[0] as { error?: unknown; finish_reason?: unknown } | null) : null;
  const err = first ? first.error : o.error;
  const failed = first ? (err !== undefined && err !== null) || first.finish_reason === 'error' : err !== undefined && err !== null;
  if (!failed) return null;
  const code = err !== null && typeof err === 'object' ? (err as { code?: unknown }).code : undefined;
  const status = typeof code === 'number' && Number.isInteger(code) && code >= 400 && code <= 599 ? code : 502;
  const message =
    typeof err === 'string' ? err : err !== null && typeof err === 'object' && typeof (err as { message?: unknown }).message === 'string' ? (err as { message: string }).message : 'finish_reason "error"';
  return { status, message: clip(oneLine(message), 300) };
}

/**
 * Milliseconds a server asks to wait: `retry-after-ms` (OpenAI, Azure), else `retry-after` as
 * delta-seconds or an HTTP date (relative to `now`). Null when absent or unreadable.
 */
export function parseRetryAfter(headers: Headers, now: Date): number | null {
  const ms = headers.get('retry-after-ms');
  if (ms !== null && /^\s*\d+(\.\d+)?\s*$/.test(ms)) return Number(ms);
  const ra = headers.get('retry-after');
  if (ra === null) return null;
  if (/^\s*\d+(\.\d+)?\s*$/.test(ra)) return Number(ra) * 1000;
  const t = Date.parse(ra);
  return Number.isNaN(t) ? null : Math.max(0, t - now.getTime());
}

/**
 * Parse a chat-completions body; throws a 'bad-response' VlmError (without attempts filled in)
 * otherwise. `content` may be a string, null or a list of parts (its text parts joined; others,
 * such as "thinking" parts, dropped). Token counts are read from `usage.prompt_tokens` /
 * `completion_tokens`, else `input_tokens` / `output_tokens`; `noUsage` says when neither came.
 * A separate reasoning field (`reasoning_content`, `reasoning`) is not part of the text: only its
 * length is kept (`reasoningChars`), for the message of a reply that holds nothing else.
 */
export function parseCompletion(text: string): CachedAnswer & { readonly noUsage?: true } {
  const bad = (why: string): never => {
    throw new VlmError(why, 'bad-response', 200, 0, text.slice(0, BODY_LIMIT));
  };
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    // A server or proxy that streams (server-sent events) though the request does not ask for it.
    if (/^\s*(data|event):/.test(text)) return bad('the response is a stream of server-sent events ("data: ..."), not one JSON answer: the server or a proxy in front of it streams though the request does not ask for it');
    return bad('the response body is not JSON');
  }
  if (j === null || typeof j !== 'object') return bad('the response body is not a JSON object');
  const o = j as { choices?: unknown; usage?: Record<string, unknown> | null; model?: unknown };
  // (A body with an `error` is no answer at all: the client handles it as the status it names, see errorInAnswer.)
  if (!Array.isArray(o.choices) || o.choices.length === 0) return bad('the response has no choices');
  const choice = o.choices[0] as { message?: { content?: unknown; reasoning_content?: unknown; reasoning?: unknown }; finish_reason?: unknown } | null;
  const msg = choice?.message;
  if (!msg || typeof msg !== 'object') return bad('choices[0] has no message');
  let content: string;
  if (typeof msg.content === 'string') content = msg.content;
  else if (msg.content === null || msg.content === undefined) content = '';
  else if (Array.isArray(msg.content)) {
    content = msg.content.map((p: { type?: unknown; text?: unknown }) => (p && p.type === 'text' && typeof p.text === 'string' ? p.text : '')).join('');
  } else return bad('choices[0].message.content is neither text nor a list of parts');
  const count = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) && x >= 0 ? x : null);
  // OpenAI's names, else the Responses API's / Anthropic's (some gateways pass those through).
  const u = o.usage !== null && typeof o.usage === 'object' ? o.usage : {};
  const promptTokens = count(u.prompt_tokens) ?? count(u.input_tokens);
  const completionTokens = count(u.completion_tokens) ?? count(u.output_tokens);
  // Reasoning models served with a reasoning parser (vLLM, Ollama, llama.cpp, OpenRouter) put the thinking beside the content.
  const reasoning = [msg.reasoning_content, msg.reasoning].find((r): r is string => typeof r === 'string' && r.trim() !== '');
  return {
    text: content,
    finishReason: typeof choice?.finish_reason === 'string' ? choice.finish_reason : null,
    usage: { promptTokens: promptTokens ?? 0, completionTokens: completionTokens ?? 0 },
    servedModel: typeof o.model === 'string' ? o.model : null,
    ...(reasoning !== undefined ? { reasoningChars: reasoning.length } : {}),
    ...(promptTokens === null && completionTokens === null ? { noUsage: true } : {}),
  };
}

function check(cond: boolean, field: string, value: unknown, want: string): void {
  if (!cond) throw new RangeError(`VLM client: ${field} must be ${want}, got ${JSON.stringify(value)}`);
}

/** A counting semaphore (FIFO). */
class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];
  constructor(n: number) {
    this.free = n;
  }
  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((res) => this.waiting.push(res));
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}

const realSleep: SleepFn = (ms) => new Promise((res) => setTimeout(res, Math.max(0, ms)));

export class VlmClient {
  readonly config: VlmClientConfig;
  readonly endpoint: string;
  private readonly tally: VlmCounts = { calls: 0, requests: 0, retries: 0, timeouts: 0, errors: 0, cacheHits: 0, promptTokens: 0, completionTokens: 0, savedPromptTokens: 0, savedCompletionTokens: 0, cacheWriteErrors: 0 };
  private readonly fetchFn: FetchFn;
  private readonly clock: Clock;
  private readonly sleep: SleepFn;
  private readonly rng: Rng;
  /** Where the key is read from (a private field: never serialised, not even by JSON.stringify). */
  readonly #env: Readonly<Record<string, string | undefined>>;
  private readonly logger: Logger;
  private readonly cache: ResponseCache | null;
  private readonly slots: Slots;
  /** Start times (clock ms) of the attempts in the current 60 s window. */
  private readonly window: number[] = [];
  private readonly inFlight = new Map<string, Promise<ChatResult>>();
  /** Clock ms of the last retry reported at info level (the others go to debug). */
  private lastRetryNotice = -Infinity;
  /** Whether the missing token usage was warned about. */
  private noUsageWarned = false;
  /** Whether an answer from another model was warned about. */
  private otherModelWarned = false;

  constructor(opts: VlmClientOptions) {
    const c: VlmClientConfig = { baseUrl: opts.baseUrl, model: opts.model, ...withDefaults(opts, DEFAULT_VLM_CLIENT_CONFIG) };
    let url: URL | null = null;
    try {
      url = new URL(c.baseUrl);
    } catch {
      url = null;
    }
    check(url !== null && (url.protocol === 'http:' || url.protocol === 'https:'), 'baseUrl', c.baseUrl, 'an http(s) URL');
    // fetch refuses URLs with user info, and the URL is saved with runs: never a place for a secret.
    if (url && (url.username !== '' || url.password !== '')) throw new RangeError('VLM client: baseUrl must not hold a user name or password (fetch refuses them, and the URL is saved with runs); put the key in the variable named by apiKeyEnv');
    // The full endpoint pasted as the base URL would be asked at .../chat/completions/chat/completions (a 404).
    const meant = url ? baseUrlWithoutEndpoint(c.baseUrl) : null;
    if (meant !== null) throw new RangeError(`VLM client: baseUrl must be the API's base URL, without /chat/completions (appended to it), such as ${meant}; got ${JSON.stringify(publicUrl(c.baseUrl))}`);
    check(typeof c.model === 'string' && c.model.trim() !== '', 'model', c.model, 'a model name');
    // Not echoed: a value that is no variable name is often the key itself, pasted in its place.
    if (!isEnvName(c.apiKeyEnv)) throw new RangeError(`VLM client: apiKeyEnv must be ${ENV_NAME_RULE}`);
    check(c.timeoutMs > 0, 'timeoutMs', c.timeoutMs, '> 0');
    check(Number.isInteger(c.maxRetries) && c.maxRetries >= 0, 'maxRetries', c.maxRetries, 'an integer >= 0');
    check(c.backoffBaseMs >= 0 && c.backoffMaxMs >= c.backoffBaseMs, 'backoffMaxMs', c.backoffMaxMs, `>= backoffBaseMs (${c.backoffBaseMs}) >= 0`);
    check(c.maxRetryAfterMs >= 0, 'maxRetryAfterMs', c.maxRetryAfterMs, '>= 0');
    check(Number.isInteger(c.concurrency) && c.concurrency >= 1, 'concurrency', c.concurrency, 'an integer >= 1');
    check(Number.isInteger(c.requestsPerMinute) && c.requestsPerMinute >= 0, 'requestsPerMinute', c.requestsPerMinute, 'an integer >= 0 (0 = no limit)');
    this.config = c;
    this.endpoint = `${c.baseUrl.replace(/\/+$/, '')}/chat/completions`;
    this.fetchFn = opts.fetch ?? ((input, init) => fetch(input, init));
    this.clock = opts.clock ?? systemClock;
    this.sleep = opts.sleep ?? realSleep;
    this.rng = opts.rng;
    this.#env = opts.env ?? process.env;
    this.logger = opts.logger ?? silentLogger;
    this.cache = c.cacheDir === null ? null : new ResponseCache(c.cacheDir);
    this.slots = new Slots(c.concurrency);
  }

  /** Whether the API key variable is set (non-empty) now; the key itself never leaves the client. */
  hasApiKey(): boolean {
    return Boolean(this.#env[this.config.apiKeyEnv]);
  }

  /** A copy of the cumulative counts. */
  counts(): VlmCounts {
    return { ...this.tally };
  }

  /** The counts as run-log metrics (`vlm/requests`, `vlm/prompt_tokens`, ...). */
  metrics(): Metrics {
    const c = this.tally;
    return {
      'vlm/calls': c.calls,
      'vlm/requests': c.requests,
      'vlm/retries': c.retries,
      'vlm/timeouts': c.timeouts,
      'vlm/errors': c.errors,
      'vlm/cache_hits': c.cacheHits,
      'vlm/prompt_tokens': c.promptTokens,
      'vlm/completion_tokens': c.completionTokens,
      'vlm/total_tokens': c.promptTokens + c.completionTokens,
      'vlm/saved_prompt_tokens': c.savedPromptTokens,
      'vlm/saved_completion_tokens': c.savedCompletionTokens,
    };
  }

  /** Ask once (or answer from the cache). Throws VlmError when the request fails for good. */
  async chat(messages: readonly ChatMessage[], params: ChatParams = {}): Promise<ChatResult> {
    if (params.tokenField !== undefined && !(TOKEN_FIELDS as readonly string[]).includes(params.tokenField)) {
      throw new RangeError(`VLM client: tokenField must be one of ${TOKEN_FIELDS.join(', ')}, got ${JSON.stringify(params.tokenField)}`);
    }
    this.tally.calls++;
    const key = cacheKey(this.config.model, messages, params);
    const uncut = uncutKey(this.config.model, messages, params);
    // The same request's answer, or one to the same prompt that ended on its own under another limit it fits (a raised limit asks only the replies cut at the old one).
    const hit = this.cache?.get(key) ?? (uncut === null || params.maxTokens === undefined ? undefined : this.cache?.getUncut(uncut, params.maxTokens));
    if (hit) {
      this.tally.cacheHits++;
      this.tally.savedPromptTokens += hit.usage.promptTokens;
      this.tally.savedCompletionTokens += hit.usage.completionTokens;
      return {
        text: hit.text,
        finishReason: hit.finishReason,
        usage: hit.usage,
        servedModel: hit.servedModel,
        ...(typeof hit.reasoningChars === 'number' ? { reasoningChars: hit.reasoningChars } : {}),
        key,
        cached: true,
        attempts: 0,
      };
    }
    const pending = this.inFlight.get(key);
    if (pending) {
      this.tally.cacheHits++;
      try {
        return { ...(await pending), cached: true, attempts: 0 };
      } catch (e) {
        this.tally.errors++;
        throw e;
      }
    }
    const p = this.ask(key, uncut, messages, params);
    this.inFlight.set(key, p);
    try {
      return await p;
    } catch (e) {
      this.tally.errors++;
      throw e;
    } finally {
      this.inFlight.delete(key);
    }
  }

  /** Warn (once per client) that answers cannot be cached; they still reach the caller. */
  private cacheWriteFailed(err: unknown): void {
    this.tally.cacheWriteErrors++;
    if (this.tally.cacheWriteErrors > 1) return;
    this.logger.warn(
      `vlm: cannot write the answer cache in ${this.config.cacheDir} (${(err as Error).message}); the answers still count, but a re-run will ask (and pay) for them again: free space or fix the folder`,
    );
  }

  /** Say once per client that the server reports no token usage (the token counts then leave its replies out). */
  private usageMissing(): void {
    if (this.noUsageWarned) return;
    this.noUsageWarned = true;
    this.logger.warn(`vlm: the server at ${publicUrl(this.config.baseUrl)} sends no token usage with its answers (no "usage" field); vlm/prompt_tokens and vlm/completion_tokens count 0 for them`);
  }

  /** Say once per client that the server answered with another model than the one asked for. */
  private otherModel(served: string): void {
    if (this.otherModelWarned) return;
    this.otherModelWarned = true;
    this.logger.warn(
      `vlm: the server at ${publicUrl(this.config.baseUrl)} answered with the model "${served}", not the "${this.config.model}" asked for (LM Studio, for one, answers with whatever model is loaded): the labels are that model's; load or name the right one`,
    );
  }

  /** Wait for a place in the sliding one-minute window of request starts. */
  private async ratePlace(): Promise<void> {
    const rpm = this.config.requestsPerMinute;
    if (rpm <= 0) return;
    for (;;) {
      const now = this.clock.now();
      while (this.window.length > 0 && this.window[0] <= now - 60_000) this.window.shift();
      if (this.window.length < rpm) {
        this.window.push(now);
        return;
      }
      const wait = this.window[0] + 60_000 - now;
      this.logger.debug(`vlm: ${rpm} requests in the last minute; waiting ${(wait / 1000).toFixed(1)} s`);
      await this.sleep(wait);
    }
  }

  private backoff(attempt: number): number {
    const d = Math.min(this.config.backoffMaxMs, this.config.backoffBaseMs * 2 ** attempt);
    return d / 2 + this.rng.uniform() * (d / 2);
  }

  private async ask(key: string, uncut: string | null, messages: readonly ChatMessage[], params: ChatParams): Promise<ChatResult> {
    const c = this.config;
    const body = JSON.stringify(requestBody(c.model, messages, params));
    const where = publicUrl(this.endpoint);
    await this.slots.acquire();
    try {
      for (let attempt = 0; ; attempt++) {
        await this.ratePlace();
        // Read at each attempt, never stored: a rotated key is picked up, nothing keeps it.
        const secret = this.#env[c.apiKeyEnv] || undefined;
        const headers: Record<string, string> = { 'Content-Type': 'application/json', Accept: 'application/json' };
        if (secret) headers.Authorization = `Bearer ${secret}`;
        this.tally.requests++;
        const tries = attempt + 1;
        let failure: { kind: VlmErrorKind; status: number | null; why: string; body: string | null; waitMs: number | null; code?: string | null };
        const ctrl = new AbortController();
        let timedOut = false;
        const timer = setTimeout(() => {
          timedOut = true;
          ctrl.abort();
        }, c.timeoutMs);
        try {
          const res = await this.fetchFn(this.endpoint, { method: 'POST', headers, body, signal: ctrl.signal });
          const text = redact(await res.text(), secret);
          // An error sent with a 200 instead of an answer is handled as the status it names (a 502 when it names none).
          const carried = res.ok ? errorInAnswer(text) : null;
          if (res.ok && carried === null) {
            let parsed: ReturnType<typeof parseCompletion>;
            try {
              parsed = parseCompletion(text);
            } catch (e) {
              const ve = e as VlmError;
              throw new VlmError(`VLM ${where}: ${ve.message}`, 'bad-response', res.status, tries, ve.body);
            }
            const { noUsage, ...ans } = parsed;
            if (noUsage) this.usageMissing();
            if (ans.servedModel !== null && !sameModel(c.model, ans.servedModel)) this.otherModel(ans.servedModel);
            this.tally.promptTokens += ans.usage.promptTokens;
            this.tally.completionTokens += ans.usage.completionTokens;
            const answer: CachedAnswer = { ...ans, text: redact(ans.text, secret) };
            // The answer is paid for: a cache that cannot be written (disk full, no permission) must not
            // turn it into a failure, and above all not into a "network error" that is asked again.
            try {
              this.cache?.put({ format: CACHE_FORMAT, key, model: c.model, created: this.clock.date().toISOString(), params, prompt: auditPrompt(messages), ...answer }, uncut);
            } catch (err) {
              this.cacheWriteFailed(err);
            }
            return { ...answer, key, cached: false, attempts: tries };
          }
          const excerpt = text.slice(0, BODY_LIMIT);
          const status = carried?.status ?? res.status;
          // A 429 that says the account's quota or credit is used up (OpenAI's insufficient_quota) is no rate limit: waiting does not help.
          const retryable = ((status === 429 && !isQuotaExhausted(excerpt)) || status === 408 || status >= 500) && !isContextOverflow(excerpt);
          const shown = describeErrorBody(excerpt);
          const why = carried ? `HTTP ${res.status} with an error instead of an answer (code ${status}): ${carried.message}` : `HTTP ${status}${shown ? `: ${shown}` : ''}`;
          if (!retryable) throw new VlmError(`VLM ${where}: ${why}`, 'http', status, tries, excerpt);
          failure = { kind: 'http', status, why, body: excerpt, waitMs: parseRetryAfter(res.headers, this.clock.date()) };
        } catch (e) {
          if (e instanceof VlmError) throw e;
          if (timedOut) {
            this.tally.timeouts++;
            failure = { kind: 'timeout', status: null, why: `no complete answer within ${c.timeoutMs} ms`, body: null, waitMs: null };
          } else {
            const cause = (e as { cause?: { code?: unknown; message?: unknown } }).cause;
            // undici's own codes (UND_ERR_SOCKET, ...) say less than its message ("other side closed").
            const code = typeof cause?.code === 'string' ? cause.code : null;
            const text = typeof cause?.message === 'string' ? cause.message : null;
            const detail = code && !code.startsWith('UND_ERR') ? code : text && code ? `${text} (${code})` : (code ?? text ?? (e as Error).message);
            failure = { kind: 'network', status: null, why: `network error: ${redact(String(detail), secret)}`, body: null, waitMs: null, code };
            // A host name that does not resolve, or TLS that cannot work, is a mistake in the base URL, not an outage: no retry.
            const permanent = code === null ? undefined : PERMANENT_NETWORK_ERRORS[code];
            if (permanent !== undefined) {
              throw new VlmError(`VLM ${where}: ${failure.why}: ${permanent(hostOf(this.endpoint))}`, 'network', null, tries, null, code);
            }
          }
        } finally {
          clearTimeout(timer);
        }
        if (attempt >= c.maxRetries) {
          throw new VlmError(`VLM ${where}: ${failure.why} (gave up after ${tries} attempt${tries === 1 ? '' : 's'})`, failure.kind, failure.status, tries, failure.body, failure.code ?? null);
        }
        if (failure.waitMs !== null && failure.waitMs > c.maxRetryAfterMs) {
          throw new VlmError(
            `VLM ${where}: ${failure.why}; the server asks to wait ${(failure.waitMs / 1000).toFixed(0)} s (Retry-After), longer than the ${(c.maxRetryAfterMs / 1000).toFixed(0)} s a request waits at most (maxRetryAfterMs)`,
            'retry-after',
            failure.status,
            tries,
            failure.body,
          );
        }
        const wait = failure.waitMs ?? this.backoff(attempt);
        this.tally.retries++;
        // A server that is down or throttling shows within seconds, at most one line per 30 s.
        const now = this.clock.now();
        const notice = now - this.lastRetryNotice >= RETRY_NOTICE_MS;
        if (notice) this.lastRetryNotice = now;
        this.logger[notice ? 'info' : 'debug'](
          `vlm: ${failure.why.slice(0, 120)} (attempt ${tries}/${c.maxRetries + 1}); retrying in ${(wait / 1000).toFixed(2)} s${failure.waitMs !== null ? ' (Retry-After)' : ''}`,
        );
        await this.sleep(wait);
      }
    } finally {
      this.slots.release();
    }
  }
}
