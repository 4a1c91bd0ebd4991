/**
 * The VLM teacher: RL-VLM-F's two-stage query (Wang et al. 2024, "RL-VLM-F: Reinforcement
 * Learning from Vision Language Foundation Model Feedback"; reference code yufeiwang63/RL-VLM-F)
 * against any OpenAI-compatible chat-completions server (reward/vlm/client.ts).
 *
 * For each pair (a, b):
 *   1. one image per side: the segment's final state s_H (RL-VLM-F), or a strip of k frames
 *      tiled into one image (`frames`); drawn by the viewer's headless renderer with the
 *      configured view (size, camera, hidden robot), which may differ per env;
 *   2. stage 1: system prompt + goal text + Image 0 (a) + Image 1 (b) + "analyse";
 *   3. stage 2: the same conversation + the analysis + "answer 0, 1 or -1";
 *   4. "0" -> probFirst 1 (a better), "1" -> probFirst 0 (b better),
 *      "-1" -> skip ("VLM unsure"), anything else -> skip with the parse failure as reason.
 * Prompts and parsing rules: reward/vlm/prompts.ts. The label's `raw` is a JSON object with the
 * model's replies of both stages as received ({ model, analysis, answer, cached }), or with the
 * error and server body for a malformed reply, for audit (each reply cut at RAW_REPLY_LIMIT characters).
 *
 * Failures. A malformed body (bad JSON, no choices) is a skip with the body in `raw`; but
 * MALFORMED_STREAK of them in a row, with no well-formed reply between, say the endpoint is not a
 * chat-completions server (a proxy's error page, a wrong path): label() then fails as for a
 * request failure below, so the pairs are not stored as skips that a re-run would never ask. A request
 * that fails for good (retries used up on 429/5xx/timeouts, or a 4xx such as 401 or 400) is,
 * by default (`onRequestError: 'fail'`), an error: no new queries start, the ones in flight
 * finish (their answers land in the cache), and label() throws naming how many failed. A re-run
 * then pays only for the rest. Skipping instead (`onRequestError: 'skip'`) would silently turn
 * an outage into a batch of skips; it is there for runs that prefer a partial answer.
 *
 * Concurrency: up to `pairConcurrency` pairs are worked on at once (rendering of one overlaps
 * requests of others); the client's concurrency and requests-per-minute limits bound the
 * requests. A renderer the teacher made itself (headless Chromium) is closed after every
 * label() call, so no browser outlives a batch (unless `keepRendererOpen`, then close() it);
 * an injected one is the caller's to close.
 *
 * Deviation from RL-VLM-F: the stage-2 prompt is a continuation of the stage-1 conversation
 * (the images are sent once per request, as chat history) rather than a fresh prompt quoting
 * the analysis; the content the model sees is the same.
 */
import { decimalNumber } from '../../core/config.js';
import { type Clock, systemClock } from '../../core/clock.js';
import { withDefaults } from '../../core/defaults.js';
import { ServiceError, shownValue, UsageError, refuseUnknownKeys } from '../../core/errors.js';
import { type Logger, type Metrics, silentLogger } from '../../core/log.js';
import type { Rng } from '../../core/rng.js';
import type { EnvConfig } from '../../envs/registry.js';
import type { EnvSpec } from '../../envs/types.js';
import { type ChatParams, ENV_NAME_RULE, type FetchFn, isContextOverflow, isEnvName, isQuotaExhausted, PERMANENT_NETWORK_ERRORS, type SleepFn, TOKEN_FIELDS, type TokenField, VlmClient, type VlmClientConfig, VlmError } from '../vlm/client.js';
import { pngDataUrl } from '../vlm/png.js';
import { analysisMessages, framesNote, labelMessages, parseVlmLabel, stripThinking } from '../vlm/prompts.js';
import { ChromiumFrameRenderer, DEFAULT_VLM_VIEW, type FrameMode, MAX_STRIP_FRAMES, type SegmentFrameRenderer, segmentImage, viewFor, type VlmView } from '../vlm/render.js';
import type { Label, Pair, Segment, Teacher } from '../types.js';
import { TeacherSpecError } from './spec_error.js';
import { labelHead } from './synthetic.js';

/** Malformed replies in a row (no well-formed one between) that fail label(): the endpoint is not a chat-completions server. */
export const MALFORMED_STREAK = 5;

/** Longest reply text kept in a label's `raw`, characters (a runaway reply would bloat the label store; the cache keeps it whole). */
export const RAW_REPLY_LIMIT = 20_000;

/** A reply as stored with its label: whole up to RAW_REPLY_LIMIT characters, else cut there with a note of how much was left out. */
export function clipReply(text: string): string {
  return text.length <= RAW_REPLY_LIMIT ? text : `${text.slice(0, RAW_REPLY_LIMIT)} [... ${text.length - RAW_REPLY_LIMIT} more characters not stored]`;
}

export type VlmRequestErrorPolicy = 'fail' | 'skip';

export interface VlmTeacherConfig {
  /** The task in words, as the env states it (EnvSpec.goal). */
  readonly goal: string;
  /** One image per side: the final frame (default), or a strip of k frames. */
  readonly frames: FrameMode;
  /** Size of each frame, camera, hidden robot (default 512x384, auto camera, robot shown). */
  readonly view: VlmView;
  /** Per-env changes of the view, by env id. */
  readonly viewByEnv: Readonly<Record<string, Partial<VlmView>>>;
  /**
   * Sampling temperature of both stages (default 0); null: none sent, the server's own default
   * (OpenAI's reasoning models, o1/o3/o4-mini/gpt-5, refuse any other; the answers are then sampled).
   */
  readonly temperature: number | null;
  /** Sampling seed sent to servers that honour it; null = none sent (default null). */
  readonly seed: number | null;
  /** Reply length limit of the analysis, tokens (default 1024). */
  readonly analysisMaxTokens: number;
  /** Reply length limit of the label, tokens (default 16). */
  readonly labelMaxTokens: number;
  /**
   * The request field the two limits are sent in: max_tokens (default; what local servers read) or
   * max_completion_tokens (OpenAI's reasoning models take only this; a server that does not know it
   * ignores it, and the replies run unlimited).
   */
  readonly tokenField: TokenField;
  /** `detail` of image parts (OpenAI); null = not sent (default null). */
  readonly imageDetail: 'auto' | 'low' | 'high' | null;
  /** A request that fails for good: throw (default) or skip the pair. */
  readonly onRequestError: VlmRequestErrorPolicy;
  /** Pairs worked on at once; 0 = twice the client's concurrency (default 0). */
  readonly pairConcurrency: number;
}

export const DEFAULT_VLM_TEACHER_CONFIG: Omit<VlmTeacherConfig, 'goal'> = {
  frames: { kind: 'final' },
  view: DEFAULT_VLM_VIEW,
  viewByEnv: {},
  temperature: 0,
  seed: null,
  analysisMaxTokens: 1024,
  labelMaxTokens: 16,
  tokenField: 'max_tokens',
  imageDetail: null,
  onRequestError: 'fail',
  pairConcurrency: 0,
};

/** Teacher settings as given: every field optional, the view field by field. */
export type VlmTeacherSettings = Partial<Omit<VlmTeacherConfig, 'goal' | 'view'>> & { readonly view?: Partial<VlmView> };

export interface VlmTeacherOptions extends VlmTeacherSettings {
  readonly goal: string;
  readonly client: VlmClient;
  /** Draws the images (default: headless Chromium through viewer/render.ts, made and closed per batch). */
  readonly renderer?: SegmentFrameRenderer;
  /** Env config of the segments' model for the default renderer (bring-your-own models). */
  readonly envConfig?: EnvConfig;
  /**
   * Keep the default renderer's browser open between label() calls (saves its start-up, seconds,
   * per batch); then call close() when done, or the browser keeps the process alive. Default false.
   */
  readonly keepRendererOpen?: boolean;
  /** Teacher id recorded on labels (default from the model and the non-default settings). */
  readonly id?: string;
  /** How the user sets the server's base URL, the model and the key variable, for error hints (default the spec keys). */
  readonly settingNames?: VlmSettingNames;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

/** Every option of VlmTeacherOptions (a key outside them is refused: a misspelt one would be dropped silently). */
const TEACHER_OPTION_KEYS: Readonly<Record<keyof VlmTeacherOptions, true>> = {
  goal: true,
  client: true,
  frames: true,
  view: true,
  viewByEnv: true,
  temperature: true,
  seed: true,
  analysisMaxTokens: true,
  labelMaxTokens: true,
  tokenField: true,
  imageDetail: true,
  onRequestError: true,
  pairConcurrency: true,
  renderer: true,
  envConfig: true,
  keepRendererOpen: true,
  id: true,
  settingNames: true,
  clock: true,
  logger: true,
};
export const VLM_TEACHER_OPTION_KEYS = Object.keys(TEACHER_OPTION_KEYS) as readonly (keyof VlmTeacherOptions)[];

/**
 * How a command sets the client's and the view's settings (named in error hints). The optional
 * ones, when left out, are taken from VLM_FLAG_SETTING_NAMES when `baseUrl` is its flag, else from
 * VLM_SPEC_SETTING_NAMES.
 */
export interface VlmSettingNames {
  readonly baseUrl: string;
  readonly model: string;
  readonly keyEnv: string;
  /** Time limit of one request (a 408 or a timeout). */
  readonly timeout?: string;
  /** Retries of a request (5xx, 429, timeouts, network errors). */
  readonly retries?: string;
  /** Requests open at once (429). */
  readonly concurrency?: string;
  /** Requests per minute (429). */
  readonly rpm?: string;
  /** Image size (413). */
  readonly size?: string;
  /** Frames per image (413). */
  readonly frames?: string;
  /** Reply length limit of the analysis (a reply cut at it: finish_reason "length"). */
  readonly analysisMaxTokens?: string;
  /** Reply length limit of the label (a reply cut at it). */
  readonly labelMaxTokens?: string;
  /** Sampling temperature (a model that refuses the one sent). */
  readonly temperature?: string;
  /** The field the reply length limits are sent in (a model that refuses max_tokens). */
  readonly tokenField?: string;
}

/** The names of `--teacher vlm:baseUrl=...,model=...,keyEnv=...`. */
export const VLM_SPEC_SETTING_NAMES: Required<VlmSettingNames> = {
  baseUrl: 'baseUrl= in --teacher',
  model: 'model= in --teacher',
  keyEnv: 'keyEnv= in --teacher',
  timeout: 'timeoutS= in --teacher',
  retries: 'retries= in --teacher',
  concurrency: 'concurrency= in --teacher',
  rpm: 'rpm= in --teacher',
  size: 'width= and height= in --teacher',
  frames: 'frames= in --teacher',
  analysisMaxTokens: 'analysisMaxTokens= in --teacher',
  labelMaxTokens: 'labelMaxTokens= in --teacher',
  temperature: 'temperature= in --teacher',
  tokenField: 'tokenField= in --teacher',
};

/** The names of `prefrl offline`'s --vlm-* flags. */
export const VLM_FLAG_SETTING_NAMES: Required<VlmSettingNames> = {
  baseUrl: '--vlm-base-url',
  model: '--vlm-model',
  keyEnv: '--vlm-key-env',
  timeout: '--vlm-timeout',
  retries: '--vlm-retries',
  concurrency: '--vlm-concurrency',
  rpm: '--vlm-rpm',
  size: '--vlm-width and --vlm-height',
  frames: '--vlm-frames',
  analysisMaxTokens: '--vlm-analysis-max-tokens',
  labelMaxTokens: '--vlm-label-max-tokens',
  temperature: '--vlm-temperature',
  tokenField: '--vlm-token-field',
};

/** Every name, the missing ones from the set whose base-URL name matches (flags), else the spec keys. */
export function completeSettingNames(n: VlmSettingNames): Required<VlmSettingNames> {
  const base = n.baseUrl === VLM_FLAG_SETTING_NAMES.baseUrl ? VLM_FLAG_SETTING_NAMES : VLM_SPEC_SETTING_NAMES;
  const out: Record<string, string> = { ...base };
  for (const [k, v] of Object.entries(n)) if (typeof v === 'string') out[k] = v;
  return out as unknown as Required<VlmSettingNames>;
}

/** The start of a reply body, on one line, to append to a message (", an empty body" when there is none). */
export function bodyExcerpt(body: string | null): string {
  const t = (body ?? '').replace(/\s+/g, ' ').trim();
  if (t === '') return ', an empty body';
  return `, the body: ${JSON.stringify(t.length > 200 ? `${t.slice(0, 200)}...` : t)}`;
}

/** What a skip reason adds for an empty reply that came with reasoning in a separate field ("" when none came). */
function reasoningNote(chars: number | undefined): string {
  return chars !== undefined && chars > 0 ? `; the model sent only its reasoning, ${chars} characters in a separate field (reasoning_content or reasoning), and no answer after it` : '';
}

/** What a skip reason adds for an empty reply that ended for another reason than its end or its limit (OpenAI's "content_filter"); "" otherwise. */
function finishNote(reason: string | null): string {
  return reason !== null && !['stop', 'length', 'eos', 'end_turn'].includes(reason) ? `; the server ended it with finish_reason "${reason}"` : '';
}

/** The base URL with /v1 added, when its path is empty (most servers serve the API under /v1); else null. */
export function withV1(baseUrl: string): string | null {
  try {
    const u = new URL(baseUrl);
    return u.pathname === '/' || u.pathname === '' ? `${u.origin}/v1` : null;
  } catch {
    return null;
  }
}

/** The host name of a URL (for messages). */
function hostName(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return url;
  }
}

/**
 * The VLM teacher's requests and tokens in one line (from its `vlm/*` metrics: VlmTeacher.metrics()),
 * or null when `metrics` holds none (a teacher that makes no requests): "VLM usage: 812 requests
 * (3 retries, 0 errors), 40 answers from the cache; tokens ...". `prefrl label` prints it when done
 * or stopped; `prefrl offline` when its label stage ends or fails.
 */
export function vlmUsageLine(metrics: Readonly<Record<string, unknown>> | undefined): string | null {
  if (!metrics || typeof metrics['vlm/requests'] !== 'number') return null;
  const n = (k: string): number => {
    const v = metrics[`vlm/${k}`];
    return typeof v === 'number' ? v : 0;
  };
  const count = (k: string, one: string, many = `${one}s`): string => `${n(k)} ${n(k) === 1 ? one : many}`;
  return (
    `VLM usage: ${count('requests', 'request')} (${count('retries', 'retry', 'retries')}, ${count('errors', 'error')}), ${count('cache_hits', 'answer')} from the cache; ` +
    `tokens ${n('prompt_tokens')} prompt + ${n('completion_tokens')} completion = ${n('total_tokens')}` +
    (n('saved_prompt_tokens') + n('saved_completion_tokens') > 0 ? ` (the cache saved ${n('saved_prompt_tokens') + n('saved_completion_tokens')})` : '')
  );
}

/** Per-teacher counts of outcomes. */
export interface VlmTeacherCounts {
  first: number;
  second: number;
  unsure: number;
  unparseable: number;
  malformed: number;
  failed: number;
}

/** Short text of the settings that change answers and differ from the defaults ("" when none). */
export function describeVlmSettings(c: Omit<VlmTeacherConfig, 'goal'>): string {
  const d = DEFAULT_VLM_TEACHER_CONFIG;
  const out: string[] = [];
  if (c.frames.kind === 'strip') out.push(`frames=${c.frames.frames}${c.frames.columns !== undefined ? `x${c.frames.columns}` : ''}`);
  const v = c.view;
  if (v.width !== d.view.width || v.height !== d.view.height) out.push(`size=${v.width}x${v.height}`);
  if (v.camera.kind !== 'auto') out.push(`camera=${v.camera.kind === 'preset' ? v.camera.name : `${v.camera.azimuth},${v.camera.elevation},${v.camera.distance ?? 'auto'}`}`);
  if (v.hideRobot) out.push('hideRobot');
  if (v.follow !== d.view.follow) out.push(`follow=${v.follow}`);
  if (!v.shadows) out.push('noShadows');
  if (!v.grid) out.push('noGrid');
  if (Object.keys(c.viewByEnv).length > 0) out.push(`perEnvViews=${Object.keys(c.viewByEnv).sort().join('+')}`);
  // null: none sent (the server's own default), spelt as the spec and the flag spell it.
  if (c.temperature !== d.temperature) out.push(`temperature=${c.temperature ?? 'server'}`);
  if (c.seed !== null) out.push(`seed=${c.seed}`);
  // A reply cut shorter (or let run longer) is another answer: a changed limit is another teacher,
  // whose pairs are labelled anew. The answer cache serves it every reply that ended on its own
  // within the new limit (reward/vlm/cache.ts fitsLimit), so raising a limit pays only for the
  // replies cut at the old one; the old teacher's labels stay valid as its own.
  // `prefrl offline --resume` does not take a changed limit (scripts/commands/offline.ts TOKEN_LIMIT_FLAGS says why).
  if (c.analysisMaxTokens !== d.analysisMaxTokens) out.push(`analysisMaxTokens=${c.analysisMaxTokens}`);
  if (c.labelMaxTokens !== d.labelMaxTokens) out.push(`labelMaxTokens=${c.labelMaxTokens}`);
  // Another field is another request: a server that does not know max_completion_tokens sets no limit.
  if (c.tokenField !== d.tokenField) out.push(`tokenField=${c.tokenField}`);
  if (c.imageDetail !== null) out.push(`detail=${c.imageDetail}`);
  return out.join(',');
}

function checkConfig(c: VlmTeacherConfig): void {
  const bad = (field: string, v: unknown, want: string): never => {
    throw new RangeError(`VLM teacher: ${field} must be ${want}, got ${shownValue(v)}`);
  };
  if (typeof c.goal !== 'string' || c.goal.trim() === '') bad('goal', c.goal, 'the task in words (EnvSpec.goal)');
  if (c.frames.kind === 'strip') {
    if (!(Number.isInteger(c.frames.frames) && c.frames.frames >= 1 && c.frames.frames <= MAX_STRIP_FRAMES)) bad('frames', c.frames.frames, `an integer in 1..${MAX_STRIP_FRAMES}`);
    if (c.frames.columns !== undefined && !(Number.isInteger(c.frames.columns) && c.frames.columns >= 1)) bad('columns', c.frames.columns, 'an integer >= 1');
  }
  for (const [env, v] of [['(default)', c.view] as const, ...Object.entries(c.viewByEnv)]) {
    const w = v.width ?? c.view.width;
    const h = v.height ?? c.view.height;
    if (!(Number.isInteger(w) && Number.isInteger(h) && w >= 16 && h >= 16 && w <= 4096 && h <= 4096)) bad(`view size of ${env}`, `${w}x${h}`, '16..4096 pixels each way');
  }
  if (c.temperature !== null && typeof c.temperature !== 'number') bad('temperature', c.temperature, 'a number >= 0, or null (none sent: the server\'s default)');
  if (c.temperature !== null && !(Number.isFinite(c.temperature) && c.temperature >= 0)) bad('temperature', c.temperature, '>= 0');
  if (!(TOKEN_FIELDS as readonly string[]).includes(c.tokenField)) bad('tokenField', c.tokenField, `one of ${TOKEN_FIELDS.map((f) => `"${f}"`).join(', ')}`);
  if (!(Number.isInteger(c.analysisMaxTokens) && c.analysisMaxTokens > 0)) bad('analysisMaxTokens', c.analysisMaxTokens, 'a positive integer');
  if (!(Number.isInteger(c.labelMaxTokens) && c.labelMaxTokens > 0)) bad('labelMaxTokens', c.labelMaxTokens, 'a positive integer');
  if (!['fail', 'skip'].includes(c.onRequestError)) bad('onRequestError', c.onRequestError, '"fail" or "skip"');
  if (!(Number.isInteger(c.pairConcurrency) && c.pairConcurrency >= 0)) bad('pairConcurrency', c.pairConcurrency, 'an integer >= 0');
}

/** Raised by label() when requests failed for good under onRequestError 'fail'. */
export class VlmTeacherError extends ServiceError {
  constructor(
    message: string,
    /** The pairs whose requests failed, with their errors. */
    readonly failures: readonly { readonly pairId: string; readonly error: Error }[],
  ) {
    super(message);
    this.name = 'VlmTeacherError';
  }
}

const IMAGE_MEMO = 64;

export class VlmTeacher implements Teacher {
  readonly id: string;
  readonly config: VlmTeacherConfig;
  readonly client: VlmClient;
  private readonly renderer: SegmentFrameRenderer;
  private readonly ownsRenderer: boolean;
  private readonly keepRendererOpen: boolean;
  private readonly names: Required<VlmSettingNames>;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly tally: VlmTeacherCounts = { first: 0, second: 0, unsure: 0, unparseable: 0, malformed: 0, failed: 0 };
  /** Malformed replies since the last well-formed one. */
  private malformedStreak = 0;
  /** Replies cut at their token limit (finish_reason "length") since the teacher was made, per stage; `skipped`: the pairs such a cut made skips of. */
  private readonly cut = { analysis: 0, label: 0, skipped: 0 };
  /** The skips made of malformed replies (not answers, not cached), for the failure message. */
  private readonly malformedSkips = new WeakSet<Label>();
  /** Recently drawn images (a segment often appears in several pairs of a batch). */
  private readonly images = new Map<string, Promise<string>>();

  constructor(opts: VlmTeacherOptions) {
    // A misspelt option would silently leave its setting at the default (a reasoning model asked with max_tokens after all).
    refuseUnknownKeys('VLM teacher', opts, VLM_TEACHER_OPTION_KEYS);
    const d = DEFAULT_VLM_TEACHER_CONFIG;
    const { view, temperature, ...given } = opts;
    this.config = {
      goal: opts.goal,
      ...withDefaults(given, d),
      // Only the fields given change (the rest of the view stays the default).
      view: { ...d.view, ...(view ?? {}) },
      // null is a setting (none sent), not a missing one.
      temperature: temperature === undefined ? d.temperature : temperature,
    };
    checkConfig(this.config);
    this.client = opts.client;
    this.ownsRenderer = opts.renderer === undefined;
    this.keepRendererOpen = opts.keepRendererOpen ?? false;
    this.names = completeSettingNames(opts.settingNames ?? VLM_SPEC_SETTING_NAMES);
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger ?? silentLogger;
    this.renderer = opts.renderer ?? new ChromiumFrameRenderer({ env: opts.envConfig, onRestart: (reason) => this.logger.warn(reason) });
    const settings = describeVlmSettings(this.config);
    this.id = opts.id ?? `vlm(${this.client.config.model})${settings ? `:${settings}` : ''}`;
  }

  /** Outcome counts since the teacher was made. */
  counts(): VlmTeacherCounts {
    return { ...this.tally };
  }

  /** Outcome counts and the client's request/token counts, as run-log metrics (`vlm/...`). */
  metrics(): Metrics {
    const t = this.tally;
    return {
      'vlm/labels_first': t.first,
      'vlm/labels_second': t.second,
      'vlm/unsure': t.unsure,
      'vlm/unparseable': t.unparseable,
      'vlm/malformed': t.malformed,
      'vlm/failed': t.failed,
      // Replies cut at their stage's token limit (finish_reason "length"): a reasoning model that needs a higher limit.
      'vlm/cut_analysis': this.cut.analysis,
      'vlm/cut_label': this.cut.label,
      ...this.client.metrics(),
    };
  }

  /**
   * A stage's sampling parameters. With the defaults (temperature 0, max_tokens) they are what
   * they were before the temperature could be left out or the field chosen, so older caches answer
   * them; a temperature left out is not sent, a limit in max_completion_tokens is sent there, and
   * either makes another cache key (reward/vlm/cache.ts).
   */
  private params(maxTokens: number): ChatParams {
    const p: { temperature?: number; maxTokens: number; tokenField?: TokenField; seed?: number } = { maxTokens };
    if (this.config.temperature !== null) p.temperature = this.config.temperature;
    if (this.config.tokenField !== 'max_tokens') p.tokenField = this.config.tokenField;
    if (this.config.seed !== null) p.seed = this.config.seed;
    return p;
  }

  /** data: URL of the image of one side (memoised for the last few segments). */
  private image(seg: Segment): Promise<string> {
    const view = viewFor(seg.envId, this.config.view, this.config.viewByEnv);
    const key = `${seg.id}|${JSON.stringify(view)}|${JSON.stringify(this.config.frames)}`;
    const hit = this.images.get(key);
    if (hit) return hit;
    const p = segmentImage(this.renderer, seg, this.config.frames, view).then(pngDataUrl);
    p.catch(() => this.images.delete(key));
    this.images.set(key, p);
    if (this.images.size > IMAGE_MEMO) this.images.delete(this.images.keys().next().value as string);
    return p;
  }

  private skip(pair: Pair, reason: string, raw: unknown, t0: number): Label {
    return { kind: 'skip', ...labelHead(this.id, pair.id), reason, raw: JSON.stringify(raw), responseMs: this.clock.now() - t0 };
  }

  /** A failed chat call: malformed replies skip; request failures skip or throw (policy). */
  private failure(pair: Pair, stage: 1 | 2, e: unknown, audit: Record<string, unknown>, t0: number): Label {
    const model = this.client.config.model;
    if (e instanceof VlmError && e.kind === 'bad-response') {
      this.tally.malformed++;
      if (++this.malformedStreak >= MALFORMED_STREAK) {
        throw new Error(
          `VLM server at ${this.client.config.baseUrl}: ${this.malformedStreak} replies in a row were not chat completions (last: ${e.message}${bodyExcerpt(e.body)}); check ${this.names.baseUrl} (an OpenAI-compatible chat-completions base URL, often ending in /v1) and ${this.names.model}`,
        );
      }
      const l = this.skip(pair, `VLM stage ${stage} reply is malformed: ${e.message}`, { model, ...audit, stage, error: e.message, body: e.body }, t0);
      this.malformedSkips.add(l);
      return l;
    }
    if (this.config.onRequestError === 'skip') {
      this.tally.failed++;
      const msg = e instanceof Error ? e.message : String(e);
      return this.skip(pair, `VLM stage ${stage} request failed: ${msg}`, { model, ...audit, stage, error: msg }, t0);
    }
    throw e;
  }

  /** Both stages for one pair. */
  private async labelOne(pair: Pair): Promise<Label> {
    const t0 = this.clock.now();
    const model = this.client.config.model;
    const [first, second] = await Promise.all([this.image(pair.a), this.image(pair.b)]);
    const { goal, frames, view, viewByEnv, imageDetail } = this.config;
    const hide = viewFor(pair.a.envId, view, viewByEnv).hideRobot;
    const stage1 = analysisMessages(goal, framesNote(frames, hide), { first, second, detail: imageDetail ?? undefined });
    let r1;
    try {
      r1 = await this.client.chat(stage1, this.params(this.config.analysisMaxTokens));
    } catch (e) {
      return this.failure(pair, 1, e, {}, t0);
    }
    this.malformedStreak = 0;
    if (r1.finishReason === 'length') this.cut.analysis++;
    const analysis = stripThinking(r1.text).trim();
    if (analysis === '') {
      this.tally.unparseable++;
      if (r1.finishReason === 'length') this.cut.skipped++;
      return this.skip(
        pair,
        `VLM stage 1 (analysis) reply is empty${reasoningNote(r1.reasoningChars)}${finishNote(r1.finishReason)}${r1.finishReason === 'length' ? this.cutNote('analysis') : ''}`,
        { model, analysis: clipReply(r1.text), cached: [r1.cached] },
        t0,
      );
    }
    let r2;
    try {
      r2 = await this.client.chat(labelMessages(stage1, analysis, goal), this.params(this.config.labelMaxTokens));
    } catch (e) {
      return this.failure(pair, 2, e, { analysis: clipReply(r1.text) }, t0);
    }
    this.malformedStreak = 0;
    if (r2.finishReason === 'length') this.cut.label++;
    const raw = { model, analysis: clipReply(r1.text), answer: clipReply(r2.text), cached: [r1.cached, r2.cached] };
    const parsed = parseVlmLabel(r2.text);
    if (!parsed.ok) {
      this.tally.unparseable++;
      // A reply cut at the token limit (a reasoning model still thinking) says so: the limit is the cause, not the model's answer.
      if (r2.finishReason === 'length') this.cut.skipped++;
      const thought = stripThinking(r2.text).trim() === '' ? `${reasoningNote(r2.reasoningChars)}${finishNote(r2.finishReason)}` : '';
      return this.skip(pair, `VLM label unparseable: ${parsed.reason}${thought}${r2.finishReason === 'length' ? this.cutNote('label') : ''}`, raw, t0);
    }
    if (parsed.value === -1) {
      this.tally.unsure++;
      return this.skip(pair, 'VLM unsure (-1: unsure or no difference)', raw, t0);
    }
    if (parsed.value === 0) this.tally.first++;
    else this.tally.second++;
    return {
      kind: 'preference',
      ...labelHead(this.id, pair.id),
      probFirst: parsed.value === 0 ? 1 : 0,
      raw: JSON.stringify(raw),
      responseMs: this.clock.now() - t0,
    };
  }

  /** What a skip reason adds for a reply cut at its stage's token limit, naming the setting that raises it. */
  private cutNote(stage: 'analysis' | 'label'): string {
    const limit = stage === 'analysis' ? this.config.analysisMaxTokens : this.config.labelMaxTokens;
    // Not in parentheses at the end: the offline summary's skip reasons drop a trailing "(...)".
    return `; cut at the token limit of ${limit} (finish_reason "length"): raise ${stage === 'analysis' ? this.names.analysisMaxTokens : this.names.labelMaxTokens}`;
  }

  async label(pairs: readonly Pair[], onAnswered?: (answered: number) => void): Promise<Label[]> {
    const out: Label[] = new Array(pairs.length);
    let answered = 0;
    const failures: { pairId: string; error: Error }[] = [];
    const cutBefore = { ...this.cut };
    const unsureBefore = this.tally.unsure;
    const unparseableBefore = this.tally.unparseable;
    const width = Math.max(1, Math.min(pairs.length, this.config.pairConcurrency || 2 * this.client.config.concurrency));
    let next = 0;
    const worker = async (): Promise<void> => {
      // After the first hard failure no new pair starts; the ones in flight finish (and are cached).
      while (next < pairs.length && failures.length === 0) {
        const i = next++;
        try {
          out[i] = await this.labelOne(pairs[i]);
          onAnswered?.(++answered);
        } catch (e) {
          failures.push({ pairId: pairs[i].id, error: e instanceof Error ? e : new Error(String(e)) });
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: width }, worker));
    } finally {
      this.images.clear();
      if (this.ownsRenderer && !this.keepRendererOpen) await this.renderer.close();
    }
    if (failures.length > 0) {
      this.tally.failed += failures.length;
      const got = out.filter((l) => l !== undefined);
      const malformed = got.filter((l) => this.malformedSkips.has(l)).length;
      // "8 of 20 failed" read as if the other 12 had been answered: the ones never asked are counted apart.
      const notAsked = pairs.length - got.length - failures.length;
      throw new VlmTeacherError(
        `VLM teacher: ${failures.length} of ${pairs.length} queries failed (${got.length - malformed} answered and cached${malformed > 0 ? `, ${malformed} malformed replies` : ''}${notAsked > 0 ? `, ${notAsked} not asked: no query starts once one has failed` : ''}; a re-run asks only the rest): ${failures[0].error.message}${this.hint(failures[0].error)}`,
        failures,
      );
    }
    const unsure = this.tally.unsure - unsureBefore;
    if (pairs.length >= 10 && unsure >= 0.9 * pairs.length) {
      this.logger.warn(
        `VLM answered "unsure" for ${unsure} of ${pairs.length} pairs (a known RL-VLM-F failure mode): check that the goal text names what is visible, that the camera shows it (try hideRobot when the robot covers the object), and the model`,
      );
    }
    // Replies that were not an answer though not cut (a cut one is the limit's doing, warned about below).
    const cutSkipped = this.cut.skipped - cutBefore.skipped;
    const unparseable = this.tally.unparseable - unparseableBefore - cutSkipped;
    if (unparseable > 0 && unparseable >= 0.5 * pairs.length) {
      const first = out.find((l) => l.kind === 'skip' && /^VLM (label unparseable|stage 1 \(analysis\) reply is empty)/.test(l.reason) && !l.reason.includes('; cut at the token limit of '));
      this.logger.warn(
        `VLM replies for ${unparseable} of ${pairs.length} pairs were not "0", "1" or "-1" (stored as skips; first: ${first?.kind === 'skip' ? first.reason.slice(0, 200) : '?'}): the model may not follow the answer format; try another model, or check its chat template`,
      );
    }
    // Replies cut at their token limit: a model that reasons before it answers spends tokens thinking.
    const cutAnalysis = this.cut.analysis - cutBefore.analysis;
    const cutLabel = this.cut.label - cutBefore.label;
    if (cutAnalysis + cutLabel > 0) {
      const parts = [
        ...(cutAnalysis > 0 ? [`the analysis of ${cutAnalysis} of ${pairs.length} pairs (at ${this.config.analysisMaxTokens} tokens; raise ${this.names.analysisMaxTokens})`] : []),
        ...(cutLabel > 0 ? [`the label of ${cutLabel} of ${pairs.length} pairs (at ${this.config.labelMaxTokens} tokens; raise ${this.names.labelMaxTokens})`] : []),
      ];
      const skipped = cutSkipped > 0 ? `; ${cutSkipped} of the ${pairs.length} pairs got no answer to read (stored as skips)` : '';
      this.logger.warn(`VLM replies cut at the token limit (finish_reason "length"): ${parts.join(', ')}${skipped}; a model that reasons before it answers needs room for its thinking`);
    }
    return out;
  }

  /** What to check after a failed request, naming the setting to change ("" when nothing specific). */
  private hint(e: Error): string {
    if (!(e instanceof VlmError)) return '';
    const n = this.names;
    const c = this.client.config;
    if (e.status === 401 || e.status === 403) {
      const access = e.status === 403 ? `, or does not let it use ${n.model} (now ${c.model})` : '';
      return this.client.hasApiKey()
        ? `; the server refused the API key in the environment variable ${c.apiKeyEnv}${access} (${n.keyEnv} names the variable)`
        : `; no API key was sent: the environment variable ${c.apiKeyEnv} is not set (${n.keyEnv} names the variable)`;
    }
    if (e.status === 402) {
      return `; the account of the API key in ${c.apiKeyEnv} has no credit left (402 Payment Required): waiting does not help; add credit, or use another key (${n.keyEnv} names its variable)`;
    }
    if (e.status === 404) {
      const v1 = withV1(c.baseUrl);
      return `; check ${n.baseUrl} (now ${c.baseUrl}; the server's base URL, often ending in /v1${v1 ? `: try ${v1}` : ''}) and ${n.model} (now ${c.model}; a model the server serves)`;
    }
    if (e.status === 405) {
      const v1 = withV1(c.baseUrl);
      return `; the server does not take chat requests at that address: check ${n.baseUrl} (now ${c.baseUrl}; the API's base URL, often ending in /v1${v1 ? `: try ${v1}` : ''})`;
    }
    if (e.status === 429 && isQuotaExhausted(e.body ?? '')) {
      return `; the account of the API key in ${c.apiKeyEnv} has no quota or credit left: waiting does not help; add credit, or use another key (${n.keyEnv} names its variable)`;
    }
    if (e.kind === 'retry-after') return '; the server asks for a long pause (a quota per hour or day, maintenance): go on later, a re-run asks only the rest';
    if (e.status === 429) return `; the server kept refusing for too many requests: lower ${n.rpm} (now ${c.requestsPerMinute || 'no limit'}) or ${n.concurrency} (now ${c.concurrency}), or raise ${n.retries} (now ${c.maxRetries})`;
    if (e.kind === 'http' && isContextOverflow(e.body ?? '')) {
      const v = viewFor('', this.config.view, {});
      const strip = this.config.frames.kind === 'strip' ? ` or ${n.frames} (now ${this.config.frames.frames})` : '';
      return `; the two images and the prompt do not fit the model's context: lower ${n.size} (now ${v.width}x${v.height})${strip}, or start the server with a larger context`;
    }
    if (e.status === 413) {
      const v = viewFor('', this.config.view, {});
      const strip = this.config.frames.kind === 'strip' ? ` or ${n.frames} (now ${this.config.frames.frames})` : '';
      return `; the request is too large for the server (two images per request): lower ${n.size} (now ${v.width}x${v.height})${strip}, or raise the server's request size limit`;
    }
    if ((e.status === 400 || e.status === 422) && /max_completion_tokens|unsupported[^.]*\b(temperature|max_tokens)\b|\b(temperature|max_tokens)\b[^.]*(unsupported|not supported)/i.test(e.body ?? '')) {
      const hint = this.refusedSettingHint(e.body ?? '');
      if (hint !== null) return hint;
    }
    if (e.status === 400 || e.status === 422) {
      return `; the server refused the request as sent (see its message): does ${n.model} (now ${c.model}) take images, and does its context hold two images of ${n.size}?`;
    }
    if (e.kind === 'timeout' || e.status === 408) return `; if the server is only slow (a large model, a busy GPU), raise ${n.timeout} (now ${c.timeoutMs / 1000} s) or lower ${n.concurrency} (now ${c.concurrency})`;
    if (e.status !== null && e.status >= 500) return `; the server failed every attempt: see its log (out of GPU memory? the model still loading?); ${n.retries} (now ${c.maxRetries}) sets how often a request is retried`;
    if (e.kind === 'network') {
      if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') return `; check the host name ${hostName(c.baseUrl)} in ${n.baseUrl} (a typo? a machine this one cannot see?)`;
      if (e.code !== null && PERMANENT_NETWORK_ERRORS[e.code] !== undefined) return `; check ${n.baseUrl}`;
      // Nothing answered at all (refused, unreachable, no connection within undici's connect timeout).
      if (e.code === null || ['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT'].includes(e.code)) return `; check ${n.baseUrl}: is a server running at ${c.baseUrl}?`;
      return `; the connection to ${c.baseUrl} broke off: check ${n.baseUrl} (http or https?) and the server's log`;
    }
    return '';
  }

  /**
   * What to change when the server refuses max_tokens or the temperature (OpenAI's reasoning
   * models, o1/o3/o4-mini/gpt-5: "Unsupported parameter: 'max_tokens' ... Use 'max_completion_tokens'",
   * "Unsupported value: 'temperature' ... Only the default (1) value is supported"): the settings
   * that send something else, those it names first; null when the teacher already sends what such
   * a model takes (the refusal is about something else).
   */
  private refusedSettingHint(body: string): string | null {
    const n = this.names;
    const { tokenField, temperature } = this.config;
    const fieldRefused = /max_tokens|max_completion_tokens/i.test(body);
    const temperatureRefused = /temperature/i.test(body);
    const changes: string[] = [];
    // A flag takes its value after it ("--vlm-token-field max_completion_tokens"), a spec key after its "=" ("tokenField=max_completion_tokens in --teacher").
    const set = (name: string, value: string): string => (name.includes('= in ') ? name.replace('= in ', `=${value} in `) : `${name} ${value}`);
    const field = `${set(n.tokenField, 'max_completion_tokens')} (now ${tokenField})`;
    const temp = `${set(n.temperature, 'server')} (now ${temperature ?? 'server'}; none sent: the model's default)`;
    if (tokenField !== 'max_completion_tokens') changes.push(field);
    if (temperature !== null) changes.push(temp);
    if (changes.length === 0) return null;
    // The setting the server named first: it answers one refusal at a time, so the other would come next.
    if (temperatureRefused && !fieldRefused) changes.reverse();
    return `; the model refuses what the teacher sends for the reply length limit or the temperature (OpenAI's reasoning models, o1, o3, o4-mini and gpt-5, take only max_completion_tokens and their default temperature): set ${changes.join(' and ')}; local servers (vLLM, Ollama, LM Studio, llama.cpp) read max_tokens`;
  }

  /** Close the renderer if this teacher made it (it is also closed after every batch unless keepRendererOpen). */
  async close(): Promise<void> {
    if (this.ownsRenderer) await this.renderer.close();
  }
}

/** What makeTeacher passes through for `vlm` (the spec's parameters override these). */
export interface VlmMakeOptions extends Pick<VlmTeacherOptions, 'renderer' | 'envConfig' | 'keepRendererOpen' | 'settingNames' | 'clock' | 'logger'> {
  readonly baseUrl?: string;
  readonly model?: string;
  /** Name of the variable holding the API key (default OPENAI_API_KEY). */
  readonly apiKeyEnv?: string;
  readonly cacheDir?: string | null;
  /** Other client settings (timeouts, retries, limits). */
  readonly client?: Partial<Omit<VlmClientConfig, 'baseUrl' | 'model' | 'apiKeyEnv' | 'cacheDir'>>;
  /** Teacher settings (frames, view, per-env views, sampling, error policy). */
  readonly teacher?: VlmTeacherSettings;
  readonly fetch?: FetchFn;
  readonly sleep?: SleepFn;
  /** Where the API key variable is read (default process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** Every option of VlmMakeOptions (makeTeacher's `vlm`; a key outside them is refused). */
const MAKE_OPTION_KEYS: Readonly<Record<keyof VlmMakeOptions, true>> = {
  baseUrl: true,
  model: true,
  apiKeyEnv: true,
  cacheDir: true,
  client: true,
  teacher: true,
  fetch: true,
  sleep: true,
  env: true,
  renderer: true,
  envConfig: true,
  keepRendererOpen: true,
  settingNames: true,
  clock: true,
  logger: true,
};

export const VLM_SPEC_KEYS = [
  'baseUrl',
  'model',
  'keyEnv',
  'cacheDir',
  'frames',
  'columns',
  'width',
  'height',
  'camera',
  'hideRobot',
  'follow',
  'temperature',
  'analysisMaxTokens',
  'labelMaxTokens',
  'tokenField',
  'concurrency',
  'rpm',
  'timeoutS',
  'retries',
  'onError',
] as const;

/**
 * A VLM teacher from a `--teacher vlm[:k=v,...]` spec. Keys: baseUrl, model, keyEnv (the
 * variable's NAME, never the key), cacheDir, frames (final or k = strip of k frames), columns,
 * width, height (per frame), camera (auto|side|front|top|iso), hideRobot (0/1), follow
 * (auto|on|off), temperature (a number, or server: none sent), analysisMaxTokens and labelMaxTokens
 * (reply length limits of the two stages, tokens), tokenField (max_tokens|max_completion_tokens: the
 * field the limits are sent in), concurrency, rpm, timeoutS, retries, onError (fail|skip).
 * baseUrl and model must come from the spec or from `opts.vlm`. The teacher's id names the
 * model and any setting that changes answers, e.g. "vlm(qwen2.5-vl-7b):frames=4,hideRobot".
 */
export function vlmTeacherFromSpec(spec: string, params: string | undefined, opts: { env: EnvSpec; rng: Rng; vlm?: VlmMakeOptions }): VlmTeacher {
  const usage = (msg: string): never => {
    throw new TeacherSpecError(`${msg} in "${spec}"`);
  };
  const kv: Partial<Record<(typeof VLM_SPEC_KEYS)[number], string>> = {};
  if (params !== undefined) {
    if (params.trim() === '') usage('empty parameter list');
    for (const part of params.split(',')) {
      const eq = part.indexOf('=');
      if (eq < 0) usage(`expected key=value, got "${part}"`);
      const key = part.slice(0, eq).trim();
      const value = part.slice(eq + 1).trim();
      if (!(VLM_SPEC_KEYS as readonly string[]).includes(key)) usage(`unknown parameter "${key}" (allowed: ${VLM_SPEC_KEYS.join(', ')})`);
      if (key in kv) usage(`parameter "${key}" given twice`);
      if (value === '') usage(`parameter "${key}" is empty`);
      // Not echoed with the spec: a value that is no variable name is often the key itself.
      if (key === 'keyEnv' && !isEnvName(value)) throw new TeacherSpecError(`parameter "keyEnv" must be ${ENV_NAME_RULE}`);
      kv[key as (typeof VLM_SPEC_KEYS)[number]] = value;
    }
  }
  const num = (key: (typeof VLM_SPEC_KEYS)[number], integer: boolean): number | undefined => {
    const raw = kv[key];
    if (raw === undefined) return undefined;
    const v = decimalNumber(raw);
    if (!Number.isFinite(v) || (integer && !Number.isInteger(v))) usage(`parameter "${key}" must be ${integer ? 'an integer' : 'a number'}, got "${raw}"`);
    return v;
  };
  const oneOf = <T extends string>(key: (typeof VLM_SPEC_KEYS)[number], allowed: readonly T[]): T | undefined => {
    const raw = kv[key];
    if (raw === undefined) return undefined;
    if (!(allowed as readonly string[]).includes(raw)) usage(`parameter "${key}" must be one of ${allowed.join(', ')}, got "${raw}"`);
    return raw as T;
  };
  const v = opts.vlm ?? {};
  refuseUnknownKeys('makeTeacher: vlm', v, MAKE_OPTION_KEYS);
  const baseUrl = kv.baseUrl ?? v.baseUrl;
  const model = kv.model ?? v.model;
  if (!baseUrl) return usage('"vlm" needs the server\'s base URL: baseUrl=http://host:port/v1');
  if (!model) return usage('"vlm" needs a model name: model=...');

  const t = v.teacher ?? {};
  let frames: FrameMode | undefined = t.frames;
  if (kv.frames !== undefined) {
    if (kv.frames === 'final') frames = { kind: 'final' };
    else {
      const k = num('frames', true) as number;
      frames = k === 1 ? { kind: 'final' } : { kind: 'strip', frames: k, columns: num('columns', true) };
    }
  } else if (kv.columns !== undefined) usage('"columns" needs frames=<k>');
  const view: { -readonly [K in keyof VlmView]?: VlmView[K] } = { ...(t.view ?? {}) };
  const width = num('width', true);
  const height = num('height', true);
  if (width !== undefined) view.width = width;
  if (height !== undefined) view.height = height;
  const camera = oneOf('camera', ['auto', 'side', 'front', 'top', 'iso'] as const);
  if (camera !== undefined) view.camera = camera === 'auto' ? { kind: 'auto' } : { kind: 'preset', name: camera };
  const hide = oneOf('hideRobot', ['0', '1', 'true', 'false'] as const);
  if (hide !== undefined) view.hideRobot = hide === '1' || hide === 'true';
  const follow = oneOf('follow', ['auto', 'on', 'off'] as const);
  if (follow !== undefined) view.follow = follow;
  // server: none sent (the server's own default, all OpenAI's reasoning models take).
  let temperature = t.temperature;
  if (kv.temperature === 'server') temperature = null;
  else if (kv.temperature !== undefined) {
    temperature = decimalNumber(kv.temperature);
    if (!(Number.isFinite(temperature) && temperature >= 0)) usage(`parameter "temperature" must be a number >= 0 or server (none sent: the server's default), got "${kv.temperature}"`);
  }
  const limits: { -readonly [K in keyof VlmClientConfig]?: VlmClientConfig[K] } = { ...(v.client ?? {}) };
  const concurrency = num('concurrency', true);
  const rpm = num('rpm', true);
  const timeoutS = num('timeoutS', false);
  const retries = num('retries', true);
  if (concurrency !== undefined) limits.concurrency = concurrency;
  if (rpm !== undefined) limits.requestsPerMinute = rpm;
  if (timeoutS !== undefined) limits.timeoutMs = timeoutS * 1000;
  if (retries !== undefined) limits.maxRetries = retries;
  try {
    const client = new VlmClient({
      ...limits,
      baseUrl,
      model,
      apiKeyEnv: kv.keyEnv ?? v.apiKeyEnv,
      cacheDir: kv.cacheDir ?? v.cacheDir,
      rng: opts.rng.fork('vlm-client'),
      fetch: v.fetch,
      clock: v.clock,
      sleep: v.sleep,
      logger: v.logger,
      env: v.env,
    });
    return new VlmTeacher({
      ...t,
      goal: opts.env.goal,
      frames,
      view,
      temperature,
      analysisMaxTokens: num('analysisMaxTokens', true) ?? t.analysisMaxTokens,
      labelMaxTokens: num('labelMaxTokens', true) ?? t.labelMaxTokens,
      tokenField: oneOf('tokenField', TOKEN_FIELDS) ?? t.tokenField,
      onRequestError: oneOf('onError', ['fail', 'skip'] as const) ?? t.onRequestError,
      client,
      renderer: v.renderer,
      envConfig: v.envConfig,
      keepRendererOpen: v.keepRendererOpen,
      settingNames: v.settingNames,
      clock: v.clock,
      logger: v.logger,
    });
  } catch (e) {
    if (e instanceof UsageError) throw e;
    return usage((e as Error).message);
  }
}
