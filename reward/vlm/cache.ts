/**
 * A content-addressed, on-disk cache of chat-completion answers, so a re-run never asks (or pays
 * for) the same question twice.
 *
 * Key: SHA-256 of a canonical JSON of { format version, model, messages (image data URLs in
 * full, so the image bytes are part of the key), sampling parameters }, the request body as sent:
 * a temperature left out (the server's default) or a limit sent as max_completion_tokens is
 * another key than temperature 0 or max_tokens, while a request with neither is hashed as it
 * was before they could be chosen (older caches keep answering it). The server's base URL,
 * the API key and any headers are NOT part of the key (the same model behind another host or
 * key gives a hit; point `cacheDir` elsewhere to keep hosts apart).
 *
 * Replies not cut at their length limit are also kept under a second key, the request's without
 * its max_tokens (`uncutKey`), in `<dir>/uncut/`: such a reply is what the server says to the same
 * prompt under any limit it fits (it stopped on its own, with room to spare), so a request whose
 * limit was raised (a reasoning model that needed more room for its thinking) is answered from it
 * (`fitsLimit`), while a reply cut at its old limit is never served for a higher one (it would be
 * the same cut answer): only the cut replies are asked again. Replies cached before this second key
 * existed are found by their own key alone.
 *
 * Layout: one JSON file per entry, `<dir>/<key[0..2]>/<key>.json`, written to a temporary file
 * and renamed, so concurrent writers and crashes never leave half an entry. A file holds the
 * answer (text, finish reason, token usage), the model, when it was asked, and the prompt for
 * audit with every image replaced by its SHA-256 and size (a few hundred bytes per entry
 * instead of the images). Nothing secret is written: requests carry the key only in a header,
 * and headers are never stored.
 *
 * A file that cannot be read or parsed counts as a miss (it is overwritten on the next answer).
 */
import { existsSync, readFileSync } from 'node:fs';
import { InputError } from '../../core/errors.js';
import { writeFileAtomic } from '../../core/files.js';
import { isFolder, makeFolder } from '../../core/paths.js';
import { dirname, join } from 'node:path';
import { sha256 } from '../../core/hash.js';

/** Bump when the meaning of a cached answer changes (old entries then miss). */
export const CACHE_FORMAT = 1;

/** One text or image part of a chat message (OpenAI chat-completions wire format). */
export type ContentPart =
  | { readonly type: 'text'; readonly text: string }
  | { readonly type: 'image_url'; readonly image_url: { readonly url: string; readonly detail?: 'auto' | 'low' | 'high' } };

export interface ChatMessage {
  readonly role: 'system' | 'user' | 'assistant';
  readonly content: string | readonly ContentPart[];
}

/**
 * The request field that carries the reply length limit: `max_tokens` (what vLLM, Ollama, LM Studio
 * and llama.cpp's server read) or `max_completion_tokens` (OpenAI's name since its reasoning models,
 * which refuse `max_tokens`; servers that do not know it ignore it, and the reply runs unlimited).
 */
export const TOKEN_FIELDS = ['max_tokens', 'max_completion_tokens'] as const;
export type TokenField = (typeof TOKEN_FIELDS)[number];

/** Sampling parameters sent with a request (and hashed into the key). */
export interface ChatParams {
  /** Sampling temperature; left out: none sent, the server's own default. */
  readonly temperature?: number;
  /** The reply length limit, tokens, sent in `tokenField`. */
  readonly maxTokens?: number;
  /** The field `maxTokens` is sent in (default max_tokens). */
  readonly tokenField?: TokenField;
  readonly topP?: number;
  /** Sampling seed, for servers that honour it (vLLM, OpenAI). */
  readonly seed?: number;
}

export interface TokenUsage {
  readonly promptTokens: number;
  readonly completionTokens: number;
}

/** What is kept of one answer. */
export interface CachedAnswer {
  readonly text: string;
  readonly finishReason: string | null;
  readonly usage: TokenUsage;
  /** The model name the server reported (may differ from the one asked for, e.g. a dated snapshot). */
  readonly servedModel: string | null;
  /** Characters of the reasoning the server sent beside the text (`reasoning_content` / `reasoning`), when it sent any. */
  readonly reasoningChars?: number;
}

export interface CacheEntry extends CachedAnswer {
  readonly format: number;
  readonly key: string;
  readonly model: string;
  /** ISO time the answer was received (from the client's clock). */
  readonly created: string;
  readonly params: ChatParams;
  /** The prompt with images replaced by "<image sha256=... bytes=...>" (for audit). */
  readonly prompt: readonly { role: string; content: string }[];
}

/** Canonical request body fields in a fixed order (the same object is hashed and sent). */
export function requestBody(model: string, messages: readonly ChatMessage[], params: ChatParams): Record<string, unknown> {
  const body: Record<string, unknown> = { model, messages };
  if (params.temperature !== undefined) body.temperature = params.temperature;
  if (params.maxTokens !== undefined) body[params.tokenField ?? 'max_tokens'] = params.maxTokens;
  if (params.topP !== undefined) body.top_p = params.topP;
  if (params.seed !== undefined) body.seed = params.seed;
  return body;
}

/** The cache key of a request: hex SHA-256 over the format version and the request body. */
export function cacheKey(model: string, messages: readonly ChatMessage[], params: ChatParams): string {
  return sha256(JSON.stringify({ format: CACHE_FORMAT, body: requestBody(model, messages, params) }));
}

/**
 * The key of a request without its reply length limit (max_tokens), under which a reply that was
 * not cut is kept too; null for a request that sets no limit (its own key says it all). A limit
 * sent as max_completion_tokens keeps that field's name in the key: a server that does not know
 * the field sets no limit, so a reply it gave is no answer to the same limit sent as max_tokens,
 * and the other way round.
 */
export function uncutKey(model: string, messages: readonly ChatMessage[], params: ChatParams): string | null {
  if (params.maxTokens === undefined) return null;
  const { maxTokens: _limit, tokenField, ...rest } = params;
  const field = tokenField !== undefined && tokenField !== 'max_tokens' ? { tokenField } : {};
  return sha256(JSON.stringify({ format: CACHE_FORMAT, uncut: true, ...field, body: requestBody(model, messages, rest) }));
}

/** Whether a reply ended on its own, not at its length limit (a missing finish reason is not known to be whole). */
export function endedOnItsOwn(answer: Pick<CachedAnswer, 'finishReason'>): boolean {
  return answer.finishReason !== null && answer.finishReason !== 'length';
}

/**
 * Whether a reply kept under uncutKey answers the same prompt asked with a limit of `maxTokens`:
 * it ended on its own, and the limit is at least the one it was asked with, or at least the tokens
 * it took (when the server counted them; reasoning tokens count among them).
 */
export function fitsLimit(entry: Pick<CacheEntry, 'finishReason' | 'params' | 'usage'>, maxTokens: number): boolean {
  if (!endedOnItsOwn(entry)) return false;
  const asked = entry.params.maxTokens;
  if (asked !== undefined && maxTokens >= asked) return true;
  return entry.usage.completionTokens > 0 && entry.usage.completionTokens <= maxTokens;
}

/** The prompt as text, each image replaced by its hash and size. */
export function auditPrompt(messages: readonly ChatMessage[]): { role: string; content: string }[] {
  return messages.map((m) => ({
    role: m.role,
    content:
      typeof m.content === 'string'
        ? m.content
        : m.content
            .map((p) => {
              if (p.type === 'text') return p.text;
              const url = p.image_url.url;
              const comma = url.indexOf(',');
              const bytes = url.startsWith('data:') && comma >= 0 ? Buffer.from(url.slice(comma + 1), 'base64') : Buffer.from(url);
              return `<image sha256=${sha256(bytes).slice(0, 16)} bytes=${bytes.length}>`;
            })
            .join('\n'),
  }));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export class ResponseCache {
  constructor(readonly dir: string) {
    // A file there failed in mkdir with EEXIST, a message that did not say what the path was for.
    if (existsSync(dir) && !isFolder(dir)) throw new InputError(dir, 'the VLM answer cache is a folder, and this is a file: name a folder (made when missing)');
    makeFolder(dir);
  }

  pathOf(key: string): string {
    return join(this.dir, key.slice(0, 2), `${key}.json`);
  }

  /** Where the reply kept under an uncutKey lives. */
  uncutPathOf(key: string): string {
    return join(this.dir, 'uncut', key.slice(0, 2), `${key}.json`);
  }

  /** The cached answer for `key`, or undefined (missing, unreadable, or from another format). */
  get(key: string): CacheEntry | undefined {
    return this.read(this.pathOf(key), key);
  }

  /**
   * The reply kept under `uncut` (an uncutKey) when it answers a request with a limit of
   * `maxTokens` (fitsLimit), else undefined.
   */
  getUncut(uncut: string, maxTokens: number): CacheEntry | undefined {
    const e = this.read(this.uncutPathOf(uncut), uncut);
    return e !== undefined && fitsLimit(e, maxTokens) ? e : undefined;
  }

  private read(path: string, key: string): CacheEntry | undefined {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
    try {
      const e = JSON.parse(text) as CacheEntry;
      if (e.format !== CACHE_FORMAT || e.key !== key || typeof e.text !== 'string') return undefined;
      // An entry edited by hand or cut short without its counts or request read a field of nothing
      // where it is used (a TypeError with a stack): it is no answer, and the request is sent again.
      if (!isObject(e.usage) || typeof e.usage.promptTokens !== 'number' || typeof e.usage.completionTokens !== 'number') return undefined;
      if (!isObject(e.params) || !(e.finishReason === null || typeof e.finishReason === 'string')) return undefined;
      return e;
    } catch {
      return undefined;
    }
  }

  /** Keep `entry` under its key and, when given `uncut` (its uncutKey) and the reply ended on its own, under that too. */
  put(entry: CacheEntry, uncut: string | null = null): void {
    this.write(this.pathOf(entry.key), entry);
    if (uncut !== null && endedOnItsOwn(entry)) this.write(this.uncutPathOf(uncut), { ...entry, key: uncut });
  }

  private write(path: string, entry: CacheEntry): void {
    makeFolder(dirname(path));
    // Whole or not at all; a full disk names the entry and leaves no temporary file behind.
    writeFileAtomic(path, `${JSON.stringify(entry, null, 1)}\n`);
  }
}
