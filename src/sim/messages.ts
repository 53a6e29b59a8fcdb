/**
 * The simulator's Anthropic Messages answers (`POST /v1/messages`), shaped as vLLM's Messages
 * endpoint shapes them: the request runs as its chat equivalent (src/openai/anthropic.ts) and
 * the chat answer is turned into a `message` object, or into Anthropic's SSE events:
 *
 *   message_start (usage: input 0, output 0) → content_block_start → content_block_delta (one per
 *   token, `text_delta`) → content_block_stop → message_delta (stop_reason; usage: input and
 *   output tokens) → message_stop
 *
 * Each event is `event: <type>` + `data: <json>`. A failure after the first event is an `error`
 * event. Stop reasons: stop → end_turn, length → max_tokens, tool_calls → tool_use, others as
 * they are. A prefill answer (`kv_transfer_params.do_remote_decode`) carries the top-level
 * `kv_transfer_params` as on chat. Cached tokens are not reported (vLLM's Messages usage has none).
 */
import type { OpenAIError } from '../openai/errors.js';
import { openStream, type ChoiceEvent, type ChoiceEvents, type StreamTarget } from './answer.js';
import type { SimRequest } from './request.js';
import { responseId, type Usage } from './responses.js';

const STOP_REASONS: Readonly<Record<string, string>> = { stop: 'end_turn', length: 'max_tokens', tool_calls: 'tool_use' };

const stopReason = (finish: string | null | undefined): string | null => (finish == null ? null : STOP_REASONS[finish] ?? finish);

/** A non-streaming chat answer (responses.ts `completionBody`) → the Messages answer. */
export function messagesBody(chat: Record<string, unknown>): Record<string, unknown> {
  const choice = (chat.choices as Array<{ finish_reason?: string | null; message?: { content?: string } }>)[0];
  const text = choice?.message?.content ?? '';
  const usage = chat.usage as Usage;
  const body: Record<string, unknown> = {
    id: chat.id,
    type: 'message',
    role: 'assistant',
    content: text === '' ? [] : [{ type: 'text', text }],
    model: chat.model,
    stop_reason: stopReason(choice?.finish_reason),
    stop_sequence: null,
    usage: { input_tokens: usage.prompt_tokens, output_tokens: usage.completion_tokens },
  };
  if (chat.kv_transfer_params !== undefined) body.kv_transfer_params = chat.kv_transfer_params;
  return body;
}

function event(type: string, data: Record<string, unknown>): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
}

/**
 * Streams the answer as Anthropic SSE events. Resolves with the error to send as JSON when the
 * first event is a failure (nothing written yet), else undefined once the stream has ended.
 */
export async function streamMessages(events: ChoiceEvents, request: SimRequest, model: string, target: StreamTarget): Promise<OpenAIError | undefined> {
  const opened = await openStream(events, target);
  if (opened === undefined || !('write' in opened)) return opened;
  const { first, write, end: finish } = opened;
  write(event('message_start', {
    message: {
      id: responseId('chat', request.id), type: 'message', role: 'assistant', content: [], model,
      stop_reason: null, stop_sequence: null, usage: { input_tokens: 0, output_tokens: 0 },
    },
  }));
  let blockOpen = false;
  for (let next: ChoiceEvent | undefined = first; next !== undefined; next = await events.next()) {
    if (next.type === 'token' && next.text !== '') {
      if (!blockOpen) write(event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }));
      blockOpen = true;
      write(event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: next.text } }));
    } else if (next.type === 'failed') {
      write(event('error', { error: { type: 'api_error', message: next.error.message } }));
      finish();
      return undefined;
    } else if (next.type === 'finished') {
      if (blockOpen) write(event('content_block_stop', { index: 0 }));
      const { result } = next;
      write(event('message_delta', {
        delta: { stop_reason: stopReason(result.finishReason), stop_sequence: null },
        usage: { input_tokens: result.promptTokens, output_tokens: result.completionTokens },
      }));
      write(event('message_stop', {}));
      break;
    }
  }
  finish();
  return undefined;
}
