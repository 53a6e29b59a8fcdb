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

/** Characters Go's encoding/json escapes (HTML-safe mode): controls, `"`, `\\`, `<`, `>`, `&`, U+2028/9. */
const GO_ESCAPED = /[\u0000-\u001f"\\<>&\u2028\u2029]/g;

function goEscape(c: number): string {
  return SHORT_ESCAPES[c] ?? `\\u${c.toString(16).padStart(4, '0')}`;
}

/**
 * A JSON string literal as Go's encoding/json writes it (HTML-safe escaping on). A regex finds
 * the characters to escape and the runs between them are copied whole: a per-character loop in
 * JS cost ~15 ms per MB of prompt on the request path.
 */
export function goJsonString(value: string): string {
  let out = '"';
  let runStart = 0;
  GO_ESCAPED.lastIndex = 0;
  for (let match = GO_ESCAPED.exec(value); match !== null; match = GO_ESCAPED.exec(value)) {
    out += value.slice(runStart, match.index) + goEscape(value.charCodeAt(match.index));
    runStart = match.index + 1;
  }
  return `${out + value.slice(runStart)}"`;
}

/** UTF-8 bytes of `goJsonString(value)`, without building it. */
export function goJsonStringBytes(value: string): number {
  let bytes = Buffer.byteLength(value, 'utf8') + 2;
  GO_ESCAPED.lastIndex = 0;
  for (let match = GO_ESCAPED.exec(value); match !== null; match = GO_ESCAPED.exec(value)) {
    const c = value.charCodeAt(match.index);
    // The escape replaces the character's own UTF-8 bytes: 3 for U+2028/9, 1 for the others.
    bytes += goEscape(c).length - (c >= 0x2028 ? 3 : 1);
  }
  return bytes;
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

/**
 * UTF-8 bytes of `goMessagesJson(messages)`, without building it (the P/D deciders need only the
 * count, on every request): the same structure as serializeGoMessages, string contents counted.
 */
function goMessagesBytes(messages: readonly ChatMessage[]): number {
  const cached = goJsonCache.get(messages);
  if (cached !== undefined) return Buffer.byteLength(cached, 'utf8');
  let bytes = 2 + Math.max(0, messages.length - 1); // [ ] and the commas between messages
  for (const message of messages) {
    bytes += 2; // { }
    if (message.role) bytes += '"role":'.length + goJsonStringBytes(message.role) + 1; // + the comma before "content"
    bytes += '"content":'.length;
    const content = message.content;
    if (typeof content === 'string' && content.length > 0) bytes += goJsonStringBytes(content);
    else if (Array.isArray(content)) bytes += Buffer.byteLength(`[${content.map(goContentBlock).join(',')}]`, 'utf8');
    else bytes += 2;
  }
  return bytes;
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
      return goMessagesBytes(parsed.body.messages);
    case 'responses': {
      const input = parsed.body.input;
      return Buffer.byteLength(typeof input === 'string' ? input : goJsonValue(input), 'utf8');
    }
  }
}
