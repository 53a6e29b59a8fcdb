/**
 * Client of vLLM's render endpoints (`POST {url}/v1/chat/completions/render` → `{token_ids}`,
 * `POST {url}/v1/completions/render` → `[{token_ids}]`): the request body with `model` replaced by
 * the configured model name, one timeout per call (the multimodal one when a chat message has
 * content parts). Rejects on timeout, a non-2xx status or a malformed answer; never retries.
 */
import type { InferenceBody } from '../../../src/openai/types.js';

export interface RenderOptions {
  readonly url: string;
  readonly modelName: string;
  readonly timeoutMs: number;
  readonly mmTimeoutMs: number;
}

/** Why a render call failed (the fallback metric's `reason`). */
export class RenderError extends Error {
  constructor(readonly reason: 'timeout' | 'status' | 'invalid' | 'unreachable' | 'unsupported', message: string) {
    super(message);
  }
}

const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

function isIds(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((id) => Number.isInteger(id) && id >= 0);
}

export function hasContentParts(body: InferenceBody): boolean {
  return body.api === 'chat_completions' && body.body.messages.some((message) => Array.isArray(message.content));
}

export async function renderTokenIds(options: RenderOptions, body: InferenceBody): Promise<number[]> {
  if (body.api === 'responses') throw new RenderError('unsupported', 'vLLM has no render endpoint for the responses API');
  const path = body.api === 'chat_completions' ? '/v1/chat/completions/render' : '/v1/completions/render';
  const timeoutMs = hasContentParts(body) ? options.mmTimeoutMs : options.timeoutMs;
  let response: Response;
  try {
    response = await fetch(`${options.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...body.body, model: options.modelName, stream: false }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const name = (err as Error).name;
    if (name === 'TimeoutError' || name === 'AbortError') throw new RenderError('timeout', `render timed out after ${timeoutMs} ms`);
    throw new RenderError('unreachable', `render request failed: ${(err as Error).message}`);
  }
  const text = await readCapped(response);
  if (!response.ok) throw new RenderError('status', `render answered ${response.status}`);
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch {
    throw new RenderError('invalid', 'render answer is not JSON');
  }
  const first: unknown = Array.isArray(answer) ? answer[0] : answer;
  const ids = (first as { token_ids?: unknown } | undefined)?.token_ids;
  if (!isIds(ids)) throw new RenderError('invalid', 'render answer has no token_ids');
  return ids;
}

async function readCapped(response: Response): Promise<string> {
  const length = Number(response.headers.get('content-length') ?? 0);
  if (length > MAX_ANSWER_BYTES) {
    await response.body?.cancel();
    throw new RenderError('invalid', 'render answer too large');
  }
  const text = await response.text();
  if (text.length > MAX_ANSWER_BYTES) throw new RenderError('invalid', 'render answer too large');
  return text;
}
