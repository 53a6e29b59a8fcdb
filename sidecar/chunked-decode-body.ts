/**
 * The JSON work of chunked decode, kept pure so it is testable without servers:
 * the token budget, each chunk's request body, reading a chunk's answer, and the two output
 * shapes (one SSE event per chunk, or one reassembled completion).
 *
 * Request bodies are edited as text (src/openai/raw-json.ts): every field the sidecar does not
 * own reaches vLLM byte-for-byte, on every chunk. Answers are small and are parsed.
 */
import { patchMembers, rawMember } from '../src/openai/raw-json.js';

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Go's int(float64): JSON numbers truncate; anything else is "absent". */
function integer(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? Math.trunc(value) : undefined;
}

/**
 * The client's token budget: the first positive of `max_completion_tokens`, `max_tokens` (that
 * order, as upstream). -1 means unlimited: chunks continue until the model stops.
 */
export function tokenBudget(body: JsonObject): number {
  for (const field of ['max_completion_tokens', 'max_tokens']) {
    const n = integer(body[field]);
    if (n !== undefined && n > 0) return n;
  }
  return -1;
}

/**
 * One chunk's request: both token fields capped to `limit`, non-streaming (the sidecar needs the
 * whole chunk to continue from it). From the second chunk on the KV transfer is done (no
 * `kv_transfer_params`) and vLLM must continue the last assistant turn instead of opening a new one.
 */
export function chunkRequestBody(text: string, limit: number, continuation: boolean): string {
  const changes: Record<string, string | undefined> = {
    max_tokens: String(limit),
    max_completion_tokens: String(limit),
    stream: 'false',
    stream_options: undefined,
  };
  if (continuation) {
    changes.kv_transfer_params = undefined;
    changes.continue_final_message = 'true';
    changes.add_generation_prompt = 'false';
  }
  return patchMembers(text, changes);
}

/**
 * `messages` with `{"role":"assistant","content":<generated>}` appended, so the next chunk
 * continues from it. A missing or non-array `messages` becomes a one-turn list (as upstream).
 */
export function appendAssistantTurn(text: string, generated: string): string {
  if (generated === '') return text;
  const turn = JSON.stringify({ role: 'assistant', content: generated });
  const raw = rawMember(text, 'messages');
  let messages = `[${turn}]`;
  if (raw !== undefined && raw.startsWith('[')) {
    const open = raw.slice(0, -1);
    messages = open.slice(1).trim() === '' ? messages : `${open},${turn}]`;
  }
  return patchMembers(text, { messages });
}

export function firstChoice(answer: JsonObject): JsonObject | undefined {
  const choices = answer.choices;
  return Array.isArray(choices) && isObject(choices[0]) ? choices[0] : undefined;
}

/** `message.content` of a chat choice, or ''. */
export function choiceText(choice: JsonObject | undefined): string {
  const message = choice?.message;
  return isObject(message) && typeof message.content === 'string' ? message.content : '';
}

export function finishReason(answer: JsonObject): string {
  const reason = firstChoice(answer)?.finish_reason;
  return typeof reason === 'string' ? reason : '';
}

export function usageField(answer: JsonObject, field: 'completion_tokens' | 'prompt_tokens'): number {
  const usage = answer.usage;
  return (isObject(usage) ? integer(usage[field]) : undefined) ?? 0;
}

/**
 * The totals every output ends with. `cachedTokens` is set on the nixlv2 decode leg, where
 * upstream runs the chunked output through the cached-token rewriter: a usage object without
 * details gets `{"cached_tokens":P}`, which is exactly what is added here.
 */
export function totalUsage(promptTokens: number, completionTokens: number, cachedTokens: number | undefined): JsonObject {
  const usage: JsonObject = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
  if (cachedTokens !== undefined) usage.prompt_tokens_details = { cached_tokens: cachedTokens };
  return usage;
}

/**
 * A buffered chunk as one streaming event: usage removed (the totals come last), every choice as
 * `{index, finish_reason, delta:{content, role:"assistant"}}`. `object` stays `chat.completion`,
 * as upstream (a quirk clients tolerate: they read `choices[].delta`).
 */
export function streamEvent(answer: JsonObject): JsonObject {
  const event: JsonObject = { ...answer };
  const choices = answer.choices;
  if (Array.isArray(choices) && choices.length > 0) {
    event.choices = choices.filter(isObject).map((choice) => ({
      index: choice.index ?? null,
      finish_reason: choice.finish_reason ?? null,
      delta: { content: choiceText(choice), role: 'assistant' },
    }));
  }
  delete event.usage;
  return event;
}

/** The non-streaming answer: the last chunk's document, the totals, one choice holding all the text. */
export function reassembledAnswer(last: JsonObject, text: string, usage: JsonObject): JsonObject {
  const answer: JsonObject = { ...last, usage };
  const choices = last.choices;
  if (Array.isArray(choices) && choices.length > 0) {
    const first: unknown = choices[0];
    if (isObject(first)) {
      const choice: JsonObject = { ...first };
      if (isObject(choice.message)) choice.message = { ...choice.message, content: text };
      answer.choices = [choice];
    } else {
      answer.choices = [first];
    }
  }
  return answer;
}
