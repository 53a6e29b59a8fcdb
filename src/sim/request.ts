/**
 * A parsed OpenAI body turned into what the simulator acts on, and the
 * request validation with upstream's messages. One HTTP request becomes one sub-request
 * per choice: `n` copies for chat, `n` per prompt for completions with a prompt array.
 */
import { OpenAIError } from '../openai/errors.js';
import type { ChatCompletionsBody, ChatMessage, CompletionsBody } from '../openai/types.js';
import { tokenizeChat, tokenizeText, messageText, type Tokenized } from './tokenizer.js';

export type ApiFlavor = 'chat' | 'text';

export type PromptInput =
  | { kind: 'text'; text: string }
  | { kind: 'ids'; ids: number[] }
  /** `body` (template fields: tools, chat_template_kwargs …) is what a real tokenizer renders. */
  | { kind: 'chat'; messages: ChatMessage[]; body?: ChatCompletionsBody };

export interface SimRequest {
  api: ApiFlavor;
  id: string;
  /** The model named in the request. */
  model: string;
  stream: boolean;
  /** Usage in the answer: always for non-streaming, `stream_options.include_usage` otherwise. */
  includeUsage: boolean;
  /** `max_completion_tokens` (wins) or `max_tokens`; null when absent. */
  maxTokens: number | null;
  ignoreEos: boolean;
  /** The raw `n` (null when absent). */
  n: number | null;
  /** Top-logprobs count when logprobs were requested, else null. */
  logprobs: number | null;
  cacheHitThreshold: number | null;
  /** `X-Cache-Threshold-Finish-Reason: true`. */
  forceCacheThreshold: boolean;
  doRemoteDecode: boolean;
  doRemotePrefill: boolean;
  /** The body's `kv_transfer_params` as sent (the step engine's decode leg pulls from where it says). */
  kvTransferParams: Record<string, unknown> | null;
  prompts: PromptInput[];
}

export const MAX_TOKENS_MESSAGE = 'Max completion tokens and max tokens should be positive';
export const PREFILL_STREAM_MESSAGE = 'Prefill does not support streaming';

const UINT32_LIMIT = 2 ** 32;

function bad(message: string, param: string | null = null): OpenAIError {
  return new OpenAIError(400, message, { param });
}

function isIdList(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'number');
}

function completionPrompts(prompt: CompletionsBody['prompt']): PromptInput[] {
  let prompts: PromptInput[];
  if (typeof prompt === 'string') prompts = [{ kind: 'text', text: prompt }];
  else if (isIdList(prompt)) prompts = prompt.length > 0 ? [{ kind: 'ids', ids: prompt }] : [];
  else prompts = (prompt as Array<string | number[]>).map((item) => (typeof item === 'string' ? { kind: 'text', text: item } : { kind: 'ids', ids: item }));
  if (prompts.length === 0) throw bad('prompt array must contain at least one prompt', 'prompt');
  for (const item of prompts) {
    if (item.kind === 'text' && item.text === '') throw bad('prompt must not contain an empty string', 'prompt');
    if (item.kind === 'ids') {
      if (item.ids.length === 0) throw bad('prompt must not contain an empty token-id array', 'prompt');
      if (item.ids.some((id) => !Number.isInteger(id) || id < 0 || id >= UINT32_LIMIT)) throw bad('prompt token ids must be integers in [0, 2^32)', 'prompt');
    }
  }
  return prompts;
}

function kvFlag(params: Record<string, unknown> | null | undefined, key: string): boolean {
  return params?.[key] === true;
}

function optionalNumber(body: Record<string, unknown>, key: string): number | null {
  const value = body[key];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw bad(`${key} must be a number`, key);
  return value;
}

function logprobsOf(api: ApiFlavor, body: Record<string, unknown>): number | null {
  if (api === 'chat') {
    if (body.logprobs !== true) return null;
    return optionalNumber(body, 'top_logprobs') ?? 0;
  }
  return optionalNumber(body, 'logprobs');
}

export interface RequestMeta {
  id: string;
  forceCacheThreshold: boolean;
}

export function toSimRequest(
  parsed: { api: 'chat_completions'; body: ChatCompletionsBody } | { api: 'completions'; body: CompletionsBody },
  meta: RequestMeta,
): SimRequest {
  const api: ApiFlavor = parsed.api === 'chat_completions' ? 'chat' : 'text';
  const body = parsed.body as Record<string, unknown> & (ChatCompletionsBody | CompletionsBody);
  const stream = body.stream === true;
  const maxTokens = parsed.api === 'chat_completions'
    ? parsed.body.max_completion_tokens ?? parsed.body.max_tokens ?? null
    : parsed.body.max_tokens ?? null;
  return {
    api,
    id: meta.id,
    model: body.model,
    stream,
    includeUsage: !stream || body.stream_options?.include_usage === true,
    maxTokens,
    ignoreEos: body.ignore_eos === true,
    n: body.n ?? null,
    logprobs: logprobsOf(api, body),
    cacheHitThreshold: body.cache_hit_threshold ?? null,
    forceCacheThreshold: meta.forceCacheThreshold,
    doRemoteDecode: kvFlag(body.kv_transfer_params, 'do_remote_decode'),
    doRemotePrefill: kvFlag(body.kv_transfer_params, 'do_remote_prefill'),
    kvTransferParams: body.kv_transfer_params ?? null,
    prompts: parsed.api === 'chat_completions' ? [{ kind: 'chat', messages: parsed.body.messages, body: parsed.body }] : completionPrompts(parsed.body.prompt),
  };
}

/** Request validation (n, max_tokens, prefill + stream, ignore_eos without a limit), after the model check. */
export function validateSimRequest(request: SimRequest): void {
  if (request.n !== null && request.n <= 0) throw bad('n must be at least 1', 'n');
  if (request.maxTokens !== null && request.maxTokens <= 0) throw bad(MAX_TOKENS_MESSAGE);
  if (request.doRemoteDecode && request.stream) throw bad(PREFILL_STREAM_MESSAGE);
  if (request.ignoreEos && request.maxTokens === null) throw bad('Ignore_eos is true but max_completion_tokens (or max_tokens) is not set');
}

/** The prompt's tokens (ids given directly have no text). */
export function tokenizePrompt(prompt: PromptInput): Tokenized {
  switch (prompt.kind) {
    case 'text': return tokenizeText(prompt.text);
    case 'chat': return tokenizeChat(prompt.messages);
    case 'ids': return { ids: prompt.ids, strings: [] };
  }
}

/** What echo mode sends back: the last message (chat), the prompt (text), or the ids as "1,2,3". */
export function echoTokens(prompt: PromptInput, tokenized: Tokenized): Tokenized {
  switch (prompt.kind) {
    case 'chat': {
      const last = prompt.messages[prompt.messages.length - 1];
      return tokenizeText(last ? messageText(last, false) : '');
    }
    // Prompt ids from a real tokenizer (--tokenizer) carry no text: echo the simulated split.
    case 'text': return tokenized.strings.length === tokenized.ids.length ? tokenized : tokenizeText(prompt.text);
    case 'ids': return { ids: prompt.ids, strings: prompt.ids.map((id, i) => (i < prompt.ids.length - 1 ? `${id},` : String(id))) };
  }
}
