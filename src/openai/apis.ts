/**
 * The inference APIs pd-router understands, and the one mapping from a request path to its API.
 * Every component asks here: the EPP's parsers (by path suffix, as llm-d Router resolves them),
 * the built-in gateway's routes, the sidecar's P/D routes and the simulator (by exact path).
 *
 * | API | path | body |
 * |---|---|---|
 * | `completions` | `/v1/completions` | OpenAI |
 * | `chat_completions` | `/v1/chat/completions` | OpenAI |
 * | `responses` | `/v1/responses` | OpenAI |
 * | `messages` | `/v1/messages` | Anthropic Messages (read as its chat equivalent, anthropic.ts) |
 *
 * `parseApiBody` gives every API the same parsed view: the OpenAI body (`InferenceBody`) that
 * plugins read, so a Messages request counts, hashes and tokenizes as its chat equivalent.
 */
import { parseAnthropicMessages } from './anthropic.js';
import { parseInferenceBody, type RawBody } from './parse.js';
import type { ApiKind, InferenceBody } from './types.js';

/** An OpenAI API (`ApiKind`) or the Anthropic Messages API. */
export type InferenceApi = ApiKind | 'messages';

/** Canonical path of each API (the sidecar's and the simulator's routes, the gateway's 405 routes). */
export const API_PATHS: Readonly<Record<InferenceApi, string>> = Object.freeze({
  completions: '/v1/completions',
  chat_completions: '/v1/chat/completions',
  responses: '/v1/responses',
  messages: '/v1/messages',
});

/** Longest suffix first: `/chat/completions` before `/completions`. */
const SUFFIXES: ReadonlyArray<readonly [string, InferenceApi]> = [
  ['/chat/completions', 'chat_completions'],
  ['/completions', 'completions'],
  ['/responses', 'responses'],
  ['/messages', 'messages'],
];

/** The path without its query string. */
export function barePath(path: string): string {
  const query = path.indexOf('?');
  return query < 0 ? path : path.slice(0, query);
}

/** The path as suffixes are compared: no query string, no trailing `/`. */
export function suffixPath(path: string): string {
  const bare = barePath(path);
  return bare.length > 1 && bare.endsWith('/') ? bare.slice(0, -1) : bare;
}

/** The API of an exact canonical path (query ignored); undefined for anything else. */
export function apiForPath(path: string): InferenceApi | undefined {
  const bare = barePath(path);
  for (const [api, canonical] of Object.entries(API_PATHS) as Array<[InferenceApi, string]>) if (canonical === bare) return api;
  return undefined;
}

/**
 * The API a path ends with (query ignored, a trailing `/` too), for paths behind a prefix as
 * Envoy may send them (`/llm/v1/chat/completions`); undefined for anything else.
 */
export function apiForPathSuffix(path: string): InferenceApi | undefined {
  const bare = suffixPath(path);
  for (const [suffix, api] of SUFFIXES) if (bare.endsWith(suffix)) return api;
  return undefined;
}

/** What a parsed request body is: its API and the OpenAI view plugins read. */
export interface ParsedApiBody {
  readonly api: InferenceApi;
  readonly body: InferenceBody;
}

/** Bytes of `api`'s request → the parsed view; a 400 OpenAIError when invalid. */
export function parseApiBody(api: InferenceApi, raw: RawBody): ParsedApiBody {
  if (api === 'messages') return { api, body: { api: 'chat_completions', body: parseAnthropicMessages(raw).chat } };
  return { api, body: parseInferenceBody(api, raw) };
}

/** Token-limit fields of an API's body (the P/D prefill leg sets each to 1). */
export function tokenLimitFields(api: InferenceApi): readonly string[] {
  switch (api) {
    case 'responses': return ['max_output_tokens'];
    case 'messages': return ['max_tokens'];
    default: return ['max_tokens', 'max_completion_tokens'];
  }
}
