/**
 * The Anthropic Messages API (`POST /v1/messages`) as pd-router reads it: the body is validated
 * (model, max_tokens, messages with text / image / tool blocks, optional system and stream) and
 * mapped onto the equivalent chat-completions body, so one set of rules serves both APIs: the
 * user-input bytes (input-bytes.ts, chat rule), prefix hashing and tokenization (the chat
 * template renders the mapped messages, as vLLM's Anthropic endpoint does before generating).
 *
 * Mapping: `system` (string or text blocks) → a leading system message; string content is kept;
 * `text` blocks → text parts; `image` blocks → `image_url` parts (`url` sources as they are,
 * `base64` sources as `data:<media_type>;base64,<data>`); `tool_use` / `tool_result` blocks →
 * text parts holding their JSON (so they count and hash like the text the template prints);
 * other block types are refused with 400. A `kv_transfer_params` member is carried over (vLLM's
 * Messages endpoint accepts it and passes it to the engine, as on chat). The forwarded body stays
 * the client's bytes. Path: `API_PATHS.messages` (apis.ts).
 */
import { z } from 'zod';
import { OpenAIError } from './errors.js';
import { parseJsonObject, validateBody, type RawBody } from './parse.js';
import { carryRopes } from './ropes.js';
import type { ChatCompletionsBody } from './types.js';

const TextBlock = z.looseObject({ type: z.literal('text'), text: z.string() });
const ImageBlock = z.looseObject({
  type: z.literal('image'),
  source: z.union([
    z.looseObject({ type: z.literal('base64'), media_type: z.string(), data: z.string() }),
    z.looseObject({ type: z.literal('url'), url: z.string() }),
  ]),
});
const ToolBlock = z.looseObject({ type: z.enum(['tool_use', 'tool_result']) });
const Block = z.union([TextBlock, ImageBlock, ToolBlock], { error: 'content block type must be text, image, tool_use or tool_result' });

export const AnthropicMessagesBody = z.looseObject({
  model: z.string().min(1),
  max_tokens: z.number().int().min(1),
  messages: z.array(z.looseObject({ role: z.enum(['user', 'assistant']), content: z.union([z.string(), z.array(Block)]) })).min(1),
  system: z.union([z.string(), z.array(TextBlock)]).optional(),
  stream: z.boolean().optional(),
  kv_transfer_params: z.record(z.string(), z.unknown()).nullish(),
});
export type AnthropicMessagesBody = z.infer<typeof AnthropicMessagesBody>;

type Part = { type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string } };

function toPart(block: z.infer<typeof Block>): Part {
  if (block.type === 'text') return { type: 'text', text: (block as z.infer<typeof TextBlock>).text };
  if (block.type === 'image') {
    const source = (block as z.infer<typeof ImageBlock>).source;
    return { type: 'image_url', image_url: { url: source.type === 'url' ? source.url : `data:${source.media_type};base64,${source.data}` } };
  }
  return { type: 'text', text: JSON.stringify(block) };
}

/** A validated Messages body → the chat-completions body it corresponds to. */
export function messagesToChat(body: AnthropicMessagesBody): ChatCompletionsBody {
  const messages: Array<Record<string, unknown>> = [];
  if (body.system !== undefined) {
    messages.push({ role: 'system', content: typeof body.system === 'string' ? body.system : body.system.map((b) => b.text).join('\n') });
  }
  for (const message of body.messages) {
    messages.push({ role: message.role, content: typeof message.content === 'string' ? message.content : message.content.map(toPart) });
  }
  const chat: Record<string, unknown> = { model: body.model, messages, max_tokens: body.max_tokens };
  if (body.stream !== undefined) chat.stream = body.stream;
  if (body.kv_transfer_params !== undefined) chat.kv_transfer_params = body.kv_transfer_params;
  return validateBody('chat_completions', chat).body as ChatCompletionsBody;
}

/** Bytes → the Messages body and its chat-completions equivalent; 400 OpenAIError when invalid. */
export function parseAnthropicMessages(raw: RawBody): { messages: AnthropicMessagesBody; chat: ChatCompletionsBody } {
  const json = parseJsonObject(raw);
  const result = AnthropicMessagesBody.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = issue?.path.map(String).join('.') ?? '';
    throw new OpenAIError(400, `invalid request body: ${path ? `${path}: ` : ''}${issue?.message ?? 'invalid'}`, { param: path || null });
  }
  const chat = messagesToChat(result.data);
  carryRopes(json, chat);
  return { messages: result.data, chat };
}
