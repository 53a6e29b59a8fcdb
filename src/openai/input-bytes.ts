/**
 * "User input bytes": how much input a request carries, measured from the structured body. The
 * P/D decision compares it (÷4 ≈ tokens) with a threshold, so it must equal what llm-d computes:
 *
 * - completions: UTF-8 bytes of the prompt; string arrays are summed; token-id prompts count 4
 *   bytes per token (upstream counts them as 0, llm-d#860 — we don't).
 * - chat: UTF-8 bytes of `messages` serialised exactly as Go's encoding/json would serialise
 *   llm-d's message structs (docs/configuration.md "User input bytes") — field order, omitempty rules and HTML escaping.
 * - responses: the `input` string's bytes, or the Go-style JSON of an input array.
 */
import type { ChatMessage, ContentPart, InferenceBody } from './types.js';

/** Bytes one token id stands for: the same ÷4 rule the decider uses to turn bytes into tokens. */
export const BYTES_PER_TOKEN_ID = 4;

const SHORT_ESCAPES: Record<number, string> = { 0x22: '\\"', 0x5c: '\\\\', 0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t', 0x08: '\\b', 0x0c: '\\f' };

/** A JSON string literal as Go's encoding/json writes it (HTML-safe escaping on). */
export function goJsonString(value: string): string {
  let out = '"';
  let runStart = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    let escaped: string | undefined;
    if (c < 0x20 || c === 0x22 || c === 0x5c) escaped = SHORT_ESCAPES[c] ?? `\\u00${c.toString(16).padStart(2, '0')}`;
    else if (c === 0x3c) escaped = '\\u003c';
    else if (c === 0x3e) escaped = '\\u003e';
    else if (c === 0x26) escaped = '\\u0026';
    else if (c === 0x2028) escaped = '\\u2028';
    else if (c === 0x2029) escaped = '\\u2029';
    if (escaped !== undefined) {
      out += value.slice(runStart, i) + escaped;
      runStart = i + 1;
    }
  }
  return `${out + value.slice(runStart)}"`;
}

function goUrlObject(url: string | undefined): string {
  return url ? `{"url":${goJsonString(url)}}` : '{}';
}

function goContentBlock(part: ContentPart): string {
  let out = `{"type":${goJsonString(part.type)}`;
  if (part.text) out += `,"text":${goJsonString(part.text)}`;
  out += `,"image_url":${goUrlObject(part.image_url?.url)}`;
  const audio = part.input_audio;
  let audioJson = '{}';
  if (audio && (audio.data || audio.format)) {
    const fields: string[] = [];
    if (audio.data) fields.push(`"data":${goJsonString(audio.data)}`);
    if (audio.format) fields.push(`"format":${goJsonString(audio.format)}`);
    audioJson = `{${fields.join(',')}}`;
  }
  out += `,"input_audio":${audioJson}`;
  const video = (part as { video_url?: { url?: string } }).video_url;
  out += `,"video_url":${goUrlObject(video?.url)}}`;
  return out;
}

/** Serialised once per parsed body: the P/D decider and the prefix producer both need it. */
const goJsonCache = new WeakMap<readonly ChatMessage[], string>();

/** `messages` as Go marshals llm-d's `[]Message{Role, Content}`. */
export function goMessagesJson(messages: readonly ChatMessage[]): string {
  let json = goJsonCache.get(messages);
  if (json === undefined) {
    json = serializeGoMessages(messages);
    goJsonCache.set(messages, json);
  }
  return json;
}

function serializeGoMessages(messages: readonly ChatMessage[]): string {
  const parts = messages.map((message) => {
    const fields: string[] = [];
    if (message.role) fields.push(`"role":${goJsonString(message.role)}`);
    const content = message.content;
    let contentJson: string;
    if (typeof content === 'string' && content.length > 0) contentJson = goJsonString(content);
    else if (Array.isArray(content)) contentJson = `[${content.map(goContentBlock).join(',')}]`;
    else contentJson = '""';
    fields.push(`"content":${contentJson}`);
    return `{${fields.join(',')}}`;
  });
  return `[${parts.join(',')}]`;
}

/** Go-style compact JSON of an arbitrary value (map keys sorted, HTML-safe strings). */
function goJsonValue(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return goJsonString(value);
  if (typeof value === 'number' || typeof value === 'boolean') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(goJsonValue).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${goJsonString(k)}:${goJsonValue(v)}`).join(',')}}`;
}

export function userInputBytes(parsed: InferenceBody): number {
  switch (parsed.api) {
    case 'completions': {
      const prompt = parsed.body.prompt;
      if (typeof prompt === 'string') return Buffer.byteLength(prompt, 'utf8');
      let total = 0;
      for (const item of prompt) {
        if (typeof item === 'string') total += Buffer.byteLength(item, 'utf8');
        else if (typeof item === 'number') total += BYTES_PER_TOKEN_ID;
        else total += item.length * BYTES_PER_TOKEN_ID;
      }
      return total;
    }
    case 'chat_completions':
      return Buffer.byteLength(goMessagesJson(parsed.body.messages), 'utf8');
    case 'responses': {
      const input = parsed.body.input;
      return Buffer.byteLength(typeof input === 'string' ? input : goJsonValue(input), 'utf8');
    }
  }
}
