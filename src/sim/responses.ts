/**
 * Response bodies and SSE chunks in the exact shapes upstream's simulator sends. Key order
 * follows the Go structs (id, model, object, kv_transfer_params, created, usage, choices) so the
 * bytes match upstream's, not only the JSON values.
 */
import { chatLogprobs, chatTokenLogprob, textLogprobs, type ChatLogprobContent, type TextLogprobs } from './logprobs.js';
import type { ApiFlavor } from './request.js';

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number } | null;
}

/** The prefill answer's kv_transfer_params (what vLLM's NixlConnector would return, with dummies). */
export const PREFILL_KV_TRANSFER_PARAMS = Object.freeze({
  do_remote_decode: false,
  do_remote_prefill: true,
  remote_engine_id: 'DUMMY_ID',
  remote_block_ids: Object.freeze(['DUMMY_ID']),
  remote_host: 'DUMMY',
  remote_port: 1234,
  tp_size: 1,
});

/** One finished choice, as the engine reports it. */
export interface ChoiceResult {
  /** The sub-request id: choices of one prompt share it, so their prompt tokens count once. */
  promptKey: string;
  finishReason: string;
  promptTokens: number;
  completionTokens: number;
  /** null on a cache_threshold answer (then `prompt_tokens_details` is null). */
  cachedTokens: number | null;
  /** Token texts, for the non-streaming body. */
  tokens: string[];
  /** Top-logprobs count when requested. */
  logprobs: number | null;
}

export interface ResponseIdentity {
  api: ApiFlavor;
  requestId: string;
  model: string;
  created: number;
}

export function responseId(api: ApiFlavor, requestId: string): string {
  return `${api === 'chat' ? 'chatcmpl-' : 'cmpl-'}${requestId}`;
}

/** Completion tokens summed; prompt tokens once per prompt; cached tokens from the first prompt that has them. */
export function aggregateUsage(results: readonly ChoiceResult[]): Usage {
  let prompt = 0;
  let completion = 0;
  let details: Usage['prompt_tokens_details'] = null;
  const seen = new Set<string>();
  for (const result of results) {
    completion += result.completionTokens;
    if (seen.has(result.promptKey)) continue;
    seen.add(result.promptKey);
    prompt += result.promptTokens;
    if (details === null && result.cachedTokens !== null) details = { cached_tokens: result.cachedTokens };
  }
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, prompt_tokens_details: details };
}

function envelope(identity: ResponseIdentity, object: string, usage: Usage | null, kvTransferParams?: object): Record<string, unknown> {
  const body: Record<string, unknown> = { id: responseId(identity.api, identity.requestId), model: identity.model, object };
  if (kvTransferParams) body.kv_transfer_params = kvTransferParams;
  body.created = identity.created;
  body.usage = usage;
  return body;
}

/**
 * The non-streaming body. `prefill` adds the top-level kv_transfer_params (do_remote_decode
 * requests): upstream's dummies, or the given ones (the step engine's, step/kv-pull.ts).
 */
export function completionBody(identity: ResponseIdentity, results: readonly ChoiceResult[], prefill: boolean | object): Record<string, unknown> {
  const kv = prefill === true ? PREFILL_KV_TRANSFER_PARAMS : prefill === false ? undefined : prefill;
  const usage = aggregateUsage(results);
  if (identity.api === 'chat') {
    const body = envelope(identity, 'chat.completion', usage, kv);
    body.choices = results.map((result, index) => {
      const text = result.tokens.join('');
      // Go omits an empty content (cache_threshold answers carry just the role).
      const message: Record<string, unknown> = text === '' ? { role: 'assistant' } : { role: 'assistant', content: text };
      const choice: Record<string, unknown> = { index, finish_reason: result.finishReason, message };
      if (result.logprobs !== null && result.tokens.length > 0) choice.logprobs = chatLogprobs(result.tokens, result.logprobs);
      return choice;
    });
    return body;
  }
  const body = envelope(identity, 'text_completion', usage, kv);
  body.choices = results.map((result, index) => {
    const choice: Record<string, unknown> = { index, finish_reason: result.finishReason, text: result.tokens.join('') };
    if (result.logprobs !== null && result.logprobs > 0 && result.tokens.length > 0) choice.logprobs = textLogprobs(result.tokens, result.logprobs);
    return choice;
  });
  return body;
}

export interface ChunkContent {
  /** Chat: the role chunk. */
  role?: 'assistant';
  /** A token's text (chat: delta.content; text: text). */
  text?: string;
  finishReason?: string | null;
  logprobs?: ChatLogprobContent | TextLogprobs;
}

/** One streamed chunk for one choice; `usage` is always null on these. */
export function streamChunk(identity: ResponseIdentity, index: number, content: ChunkContent): Record<string, unknown> {
  const finish = content.finishReason ?? null;
  if (identity.api === 'chat') {
    const body = envelope(identity, 'chat.completion.chunk', null);
    const delta: Record<string, unknown> = {};
    if (content.role) delta.role = content.role;
    if (content.text) delta.content = content.text;
    const choice: Record<string, unknown> = { index, finish_reason: finish, delta };
    if (content.logprobs) choice.logprobs = { content: [content.logprobs] };
    body.choices = [choice];
    return body;
  }
  const body = envelope(identity, 'text_completion', null);
  const choice: Record<string, unknown> = { index, finish_reason: finish, text: content.text ?? '' };
  if (content.logprobs) choice.logprobs = content.logprobs;
  body.choices = [choice];
  return body;
}

/** Logprobs of one streamed token, when requested. */
export function tokenLogprobs(api: ApiFlavor, token: string, position: number, top: number | null): ChatLogprobContent | TextLogprobs | undefined {
  if (top === null || token === '') return undefined;
  if (api === 'chat') return chatTokenLogprob(token, position, top);
  return top > 0 ? textLogprobs([token], top, position) : undefined;
}

/** The final usage chunk (`stream_options.include_usage`). */
export function usageChunk(identity: ResponseIdentity, usage: Usage): Record<string, unknown> {
  const body = envelope(identity, identity.api === 'chat' ? 'chat.completion.chunk' : 'text_completion', usage);
  body.choices = [];
  return body;
}

export function sseEvent(data: unknown): string {
  return `data: ${JSON.stringify(data)}\n\n`;
}

export const SSE_DONE = 'data: [DONE]\n\n';
