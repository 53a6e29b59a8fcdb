/**
 * The simulated tokenizer — the one `pd-router sim` uses without `--tokenizer`, and the EPP's
 * `tokenizer: {type: simulated}` (docs/prefix-cache.md): a regex splits text into word/punctuation tokens,
 * each keeping its trailing whitespace, and a token's id is FNV-1a-32 of its UTF-8 bytes. A
 * precise-prefix-cache router matches the simulator's cache only if it produces the same ids, so
 * the regex is upstream's, with Go RE2 semantics: ASCII `\w`, and `\s` = `[\t\n\f\r ]`.
 * Characters no alternative matches (e.g. non-ASCII letters) are skipped, as in Go.
 */
import type { ChatMessage } from '../openai/types.js';

const TOKEN_PATTERN = /(\{|\}|:|,|-|\.|\?|!|;|@|#|\$|%|\^|&|\*|\(|\)|\+|_|~|\/|\\|>|<|\[|\]|=|"|'|\w+)([\t\n\f\r ]*)/g;

/** Token ids plus, when known, the text of each token (prompts given as ids have no text). */
export interface Tokenized {
  ids: number[];
  strings: string[];
}

/**
 * FNV-1a-32. Every token the regex produces is ASCII, so hashing UTF-16 code units equals hashing
 * the UTF-8 bytes there; other strings are encoded first.
 */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  const ascii = /^[\x00-\x7f]*$/.test(text);
  if (ascii) {
    for (let i = 0; i < text.length; i++) {
      hash ^= text.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193);
    }
  } else {
    for (const byte of Buffer.from(text, 'utf8')) {
      hash ^= byte;
      hash = Math.imul(hash, 0x01000193);
    }
  }
  return hash >>> 0;
}

/** Splits text into simulated tokens (each with its trailing whitespace). */
export function splitTokens(text: string): string[] {
  return text.match(TOKEN_PATTERN) ?? [];
}

export function tokenizeText(text: string): Tokenized {
  const strings = splitTokens(text);
  return { ids: strings.map(fnv1a32), strings };
}

function toolCallText(message: ChatMessage): string {
  let text = '';
  for (const call of message.tool_calls ?? []) {
    const args = call.function.arguments;
    const argsText = args === undefined ? '' : typeof args === 'string' ? args : JSON.stringify(args);
    text += `[${call.function.name}(${argsText})]`;
  }
  return text;
}

/** A message's text: string content, or text parts and `image: <url>` parts joined by newlines; then tool calls. */
export function messageText(message: ChatMessage, includeRole: boolean): string {
  let text = '';
  if (includeRole) {
    text += message.role;
    if (message.tool_call_id) text += `(${message.tool_call_id})`;
    text += ': ';
  }
  const content = message.content;
  if (typeof content === 'string') {
    text += content;
  } else if (Array.isArray(content)) {
    const parts: string[] = [];
    for (const part of content) {
      if (part.type === 'text') parts.push(part.text ?? '');
      else if (part.type === 'image_url' && part.image_url) parts.push(`image: ${part.image_url.url}`);
    }
    text += parts.join('\n');
  }
  return text + toolCallText(message);
}

/** Chat flattening: `"### " + role + ": " + text + "\n"` per message. */
export function flattenChat(messages: readonly ChatMessage[]): string {
  let text = '';
  for (const message of messages) text += `### ${messageText(message, true)}\n`;
  return text;
}

export function tokenizeChat(messages: readonly ChatMessage[]): Tokenized {
  return tokenizeText(flattenChat(messages));
}
