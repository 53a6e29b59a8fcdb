/**
 * vLLM's render endpoints, as the simulator serves them: `POST /v1/chat/completions/render` →
 * `{token_ids}` of the chat prompt (one object), `POST /v1/completions/render` → `[{token_ids}]`,
 * one per prompt. The ids are the ones the simulator itself would prefill (its tokenizer, or the
 * real one with `--tokenizer`), so an EPP that renders here matches the simulator's KV events.
 * Bodies are validated like the inference routes (400 on a bad body); nothing is generated.
 */
import { parseInferenceBody } from '../openai/parse.js';
import type { Engine } from './engine.js';
import { toSimRequest } from './request.js';

export const CHAT_RENDER_PATH = '/v1/chat/completions/render';
export const COMPLETIONS_RENDER_PATH = '/v1/completions/render';

export async function renderTokenIds(engine: Engine, api: 'chat_completions' | 'completions', raw: string | Uint8Array): Promise<unknown> {
  const parsed = parseInferenceBody(api, raw) as Parameters<typeof toSimRequest>[0];
  const request = toSimRequest(parsed, { id: 'render', forceCacheThreshold: false });
  const rendered = await Promise.all(request.prompts.map(async (prompt) => ({ token_ids: Array.from((await engine.tokenizePrompt(prompt)).ids) })));
  return api === 'chat_completions' ? rendered[0] ?? { token_ids: [] } : rendered;
}
