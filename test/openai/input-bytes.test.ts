import { describe, expect, it } from 'vitest';
import { goJsonString, goJsonStringBytes, goMessagesJson, userInputBytes } from '../../src/openai/input-bytes.js';
import { seededRandom } from '../../src/random.js';
import { parseInferenceBody } from '../../src/openai/parse.js';

function chatBytes(messages: unknown[]): number {
  return userInputBytes(parseInferenceBody('chat_completions', JSON.stringify({ model: 'm', messages })));
}

describe('user input bytes', () => {
  it('matches Go encoding/json of llm-d messages on worked examples', () => {
    expect(chatBytes([{ role: 'user', content: 'Hello' }])).toBe(35);
    const blocks = [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }];
    expect(goMessagesJson(parseInferenceBody('chat_completions', JSON.stringify({ model: 'm', messages: blocks })).body.messages as never))
      .toBe('[{"role":"user","content":[{"type":"text","text":"Hi","image_url":{},"input_audio":{},"video_url":{}}]}]');
    expect(chatBytes(blocks)).toBe(104);
  });

  it('escapes like Go: HTML characters, control characters, line separators; non-ASCII raw', () => {
    expect(goJsonString('a<b>&"\\\n\t\u0001\u2028é')).toBe('"a\\u003cb\\u003e\\u0026\\"\\\\\\n\\t\\u0001\\u2028é"');
    // "é" is 2 UTF-8 bytes; "<" becomes 6 bytes.
    expect(chatBytes([{ role: 'user', content: 'é<' }])).toBe(chatBytes([{ role: 'user', content: 'ab' }]) + 1 + 5);
  });

  it('counts null content as "" and ignores fields llm-d drops (tool_calls, name)', () => {
    const withCalls = chatBytes([{ role: 'assistant', content: null, tool_calls: [{ type: 'function', function: { name: 'f', arguments: '{}' } }], name: 'bot' }]);
    expect(withCalls).toBe(Buffer.byteLength('[{"role":"assistant","content":""}]'));
  });

  it('counts completions prompts: strings, string arrays summed, token ids at 4 bytes each', () => {
    const bytes = (prompt: unknown) => userInputBytes(parseInferenceBody('completions', JSON.stringify({ model: 'm', prompt })));
    expect(bytes('héllo')).toBe(6);
    expect(bytes(['ab', 'cde'])).toBe(5);
    expect(bytes([1, 2, 3])).toBe(12);
    expect(bytes([[1, 2], [3]])).toBe(12);
  });

  it('counts responses input', () => {
    expect(userInputBytes(parseInferenceBody('responses', '{"model":"m","input":"abc"}'))).toBe(3);
    expect(userInputBytes(parseInferenceBody('responses', '{"model":"m","input":[{"role":"user","content":"a"}]}'))).toBe(Buffer.byteLength('[{"content":"a","role":"user"}]'));
  });

  it('the byte count equals the serialised messages\' bytes, and the escaping equals a character-by-character reference (random text)', () => {
    const next = seededRandom(3);
    const alphabet = ['a', 'Z', ' ', '\n', '\t', '\r', '\u0000', '\u001f', '\b', '\f', '"', '\\', '<', '>', '&', '\u2028', '\u2029', 'é', '漢', '🙂', '\ud800', '/', "'"];
    const text = (length: number) => Array.from({ length }, () => alphabet[Math.floor(next() * alphabet.length)]).join('');
    /** Go's HTML-safe escaping, one character at a time. */
    const reference = (value: string) => `"${[...value].map((char) => {
      const c = char.charCodeAt(0);
      const short: Record<number, string> = { 0x22: '\\"', 0x5c: '\\\\', 0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t', 0x08: '\\b', 0x0c: '\\f' };
      if (short[c] !== undefined) return short[c];
      if (c < 0x20 || char === '<' || char === '>' || char === '&' || c === 0x2028 || c === 0x2029) return `\\u${c.toString(16).padStart(4, '0')}`;
      return char;
    }).join('')}"`;
    for (let i = 0; i < 200; i++) {
      const value = text(Math.floor(next() * 40));
      expect(goJsonString(value)).toBe(reference(value));
      expect(goJsonStringBytes(value)).toBe(Buffer.byteLength(reference(value), 'utf8'));
      const messages = [
        { role: next() < 0.2 ? '' : text(3), content: value },
        { role: 'user', content: next() < 0.5 ? null : [{ type: 'text', text: text(5) }] },
      ];
      const body = parseInferenceBody('chat_completions', JSON.stringify({ model: 'm', messages }));
      const bytes = userInputBytes(body);
      expect(bytes).toBe(Buffer.byteLength(goMessagesJson(body.body.messages as never), 'utf8'));
    }
  });
});
