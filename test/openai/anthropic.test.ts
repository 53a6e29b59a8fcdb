/** /v1/messages bodies: validation, the chat mapping, and user-input bytes through the chat rule. */
import { describe, expect, it } from 'vitest';
import { parseAnthropicMessages } from '../../src/openai/anthropic.js';
import { userInputBytes } from '../../src/openai/input-bytes.js';
import { OpenAIError } from '../../src/openai/errors.js';

const body = (extra: Record<string, unknown>) => JSON.stringify({ model: 'claude', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }], ...extra });

describe('Anthropic Messages', () => {
  it('maps system, text, image and tool blocks onto chat messages', () => {
    const { chat } = parseAnthropicMessages(body({
      system: [{ type: 'text', text: 'be brief' }, { type: 'text', text: 'be kind' }],
      stream: true,
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'what is' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAA' } }] },
        { role: 'assistant', content: [{ type: 'tool_use', id: 't', name: 'f', input: {} }] },
        { role: 'user', content: 'thanks' },
      ],
    }));
    expect(chat.stream).toBe(true);
    expect(chat.messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user']);
    expect(chat.messages[0]!.content).toBe('be brief\nbe kind');
    expect(chat.messages[1]!.content).toEqual([{ type: 'text', text: 'what is' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAA' } }]);
    expect(JSON.stringify(chat.messages[2]!.content)).toContain('tool_use');
  });

  it('counts user-input bytes with the chat rule', () => {
    const { chat } = parseAnthropicMessages(body({}));
    const bytes = userInputBytes({ api: 'chat_completions', body: chat });
    expect(bytes).toBe(userInputBytes({ api: 'chat_completions', body: { model: 'claude', messages: [{ role: 'user', content: 'hi' }] } as never }));
    expect(bytes).toBeGreaterThan(2);
  });

  it('refuses invalid bodies with 400', () => {
    for (const bad of [body({ max_tokens: 0 }), body({ messages: [] }), body({ messages: [{ role: 'system', content: 'x' }] }),
      body({ messages: [{ role: 'user', content: [{ type: 'document', source: {} }] }] }), '{"model": "m"', JSON.stringify({ messages: [{ role: 'user', content: 'x' }], max_tokens: 1 })]) {
      expect(() => parseAnthropicMessages(bad)).toThrow(OpenAIError);
      try { parseAnthropicMessages(bad); } catch (err) { expect((err as OpenAIError).status).toBe(400); }
    }
  });
});
