/**
 * Turns an OpenAI chat request into the conversation vLLM hands to the chat template
 * Block keys match only if our rendered text equals vLLM's, so this
 * follows vLLM's `parse_chat_messages` + `_postprocess_messages`, not the OpenAI wire shape:
 *
 *  - content: null → no parts; a string → one text part. "string"-format templates get the text
 *    parts joined with "\n"; "openai"-format templates (those that loop over `message.content`)
 *    get the part list: `{type: "text", text}` and `{type: "image"|"audio"|"video"}`.
 *  - assistant `tool_calls`: each `function.arguments` JSON string is parsed into an object
 *    (empty → `{}`); an empty list is dropped. `reasoning`/`reasoning_content` are both set.
 *  - tool messages keep `tool_call_id`; any message keeps a string `name`.
 *  - tools: pydantic's `model_dump()` of vLLM's `ChatCompletionToolsParam`, i.e. `type` and
 *    `function.{name, description, parameters}` always present (null when absent), extras after.
 */
import type { ChatMessage, ContentPart, ToolCall } from '../openai/types.js';

/** How a template consumes `message.content` (vLLM's `--chat-template-content-format`). */
export type ContentFormat = 'string' | 'openai';

/** A message as templates see it. */
export type TemplateMessage = Record<string, unknown>;

const TEXT_PART_TYPES = new Set(['text', 'input_text', 'output_text']);
const MEDIA_PART_TYPES: Readonly<Record<string, string>> = {
  image_url: 'image',
  image_embeds: 'image',
  image_pil: 'image',
  input_image: 'image',
  audio_url: 'audio',
  input_audio: 'audio',
  audio_embeds: 'audio',
  video_url: 'video',
};

type PartText = { kind: 'text'; text: string } | { kind: 'media'; media: string } | undefined;

function classifyPart(part: ContentPart | string): PartText {
  if (typeof part === 'string') return { kind: 'text', text: part };
  if (TEXT_PART_TYPES.has(part.type)) return { kind: 'text', text: part.text ?? '' };
  if (part.type === 'refusal') {
    const refusal = (part as { refusal?: unknown }).refusal;
    return { kind: 'text', text: typeof refusal === 'string' ? refusal : '' };
  }
  const media = MEDIA_PART_TYPES[part.type];
  return media ? { kind: 'media', media } : undefined;
}

/**
 * The message's content in the template's format. Media parts have no text a router can
 * reproduce (vLLM inserts model-specific placeholders), so "string" templates get text only.
 */
function templateContent(content: ChatMessage['content'], format: ContentFormat): string | unknown[] {
  const parts: ReadonlyArray<ContentPart | string> = content == null ? [] : typeof content === 'string' ? [content] : content;
  if (format === 'string') {
    if (typeof content === 'string') return content;
    const texts: string[] = [];
    for (const part of parts) {
      const parsed = classifyPart(part);
      if (parsed?.kind === 'text') texts.push(parsed.text);
    }
    return texts.join('\n');
  }
  const out: unknown[] = [];
  for (const part of parts) {
    const parsed = classifyPart(part);
    if (parsed?.kind === 'text') out.push({ type: 'text', text: parsed.text });
    else if (parsed?.kind === 'media') out.push({ type: parsed.media });
  }
  return out;
}

/** vLLM: arguments given as a JSON string become an object; empty or absent → `{}`. */
function templateToolCall(call: ToolCall): Record<string, unknown> {
  const args = call.function.arguments;
  let parsed: unknown = args;
  if (args === undefined || args === '') {
    parsed = {};
  } else if (typeof args === 'string') {
    // vLLM rejects invalid JSON (400); a router still wants a prompt, so the string is kept.
    try {
      parsed = JSON.parse(args);
    } catch {
      parsed = args;
    }
  }
  return { ...call, function: { ...call.function, arguments: parsed } };
}

/** One request message → the message the template sees. */
export function templateMessage(message: ChatMessage, format: ContentFormat): TemplateMessage {
  const out: TemplateMessage = { role: message.role, content: templateContent(message.content, format) };
  if (message.role === 'assistant') {
    if (message.tool_calls && message.tool_calls.length > 0) out.tool_calls = message.tool_calls.map(templateToolCall);
    const loose = message as { reasoning?: unknown };
    const reasoning = typeof loose.reasoning === 'string' ? loose.reasoning : message.reasoning_content;
    if (typeof reasoning === 'string') {
      out.reasoning = reasoning;
      out.reasoning_content = reasoning;
    }
  } else if (message.role === 'tool' && message.tool_call_id !== undefined) {
    out.tool_call_id = message.tool_call_id;
  }
  if (typeof message.name === 'string') out.name = message.name;
  return out;
}

export function templateMessages(messages: readonly ChatMessage[], format: ContentFormat): TemplateMessage[] {
  return messages.map((message) => templateMessage(message, format));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * vLLM renders `tool.model_dump()`: declared fields first (absent optional ones as null), then
 * any extra fields the client sent. Tools without a `function` object are passed through.
 */
export function templateTool(tool: Record<string, unknown>): Record<string, unknown> {
  const fn = tool.function;
  if (!isRecord(fn)) return tool;
  const { name, description, parameters, ...fnExtras } = fn;
  const { type, function: _function, ...extras } = tool;
  return {
    type: type ?? 'function',
    function: { name, description: description ?? null, parameters: parameters ?? null, ...fnExtras },
    ...extras,
  };
}
