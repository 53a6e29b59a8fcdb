/** One usage scanner for JSON and SSE: chat/completions, the Responses API and Anthropic Messages (src/wire/usage.ts). */
import { describe, expect, it } from 'vitest';
import { UsageSniffer } from '../../src/wire/usage.js';

function sniff(contentType: string, body: string, split = 7): ReturnType<UsageSniffer['finish']> {
  const sniffer = new UsageSniffer(contentType);
  const bytes = Buffer.from(body);
  for (let i = 0; i < bytes.length; i += split) sniffer.push(bytes.subarray(i, i + split));
  return sniffer.finish();
}

describe('UsageSniffer', () => {
  it('chat/completions JSON: prompt, completion and cached tokens', () => {
    const body = '{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":8}}}';
    expect(sniff('application/json', body)).toEqual({ promptTokens: 12, completionTokens: 3, cachedTokens: 8 });
  });

  it('chat/completions SSE: the last usage event wins', () => {
    const body = 'data: {"choices":[{"delta":{"content":"hé"}}]}\n\ndata: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2}}\n\ndata: [DONE]\n\n';
    expect(sniff('text/event-stream', body, 3)).toEqual({ promptTokens: 5, completionTokens: 2, cachedTokens: undefined });
  });

  it('Responses API JSON: input/output tokens and input_tokens_details.cached_tokens', () => {
    const body = '{"object":"response","usage":{"input_tokens":20,"output_tokens":4,"input_tokens_details":{"cached_tokens":16}}}';
    expect(sniff('application/json', body)).toEqual({ promptTokens: 20, completionTokens: 4, cachedTokens: 16 });
  });

  it('Responses API SSE: usage under response.completed\'s response.usage (the gateway used to lose it)', () => {
    const body = [
      'event: response.created', 'data: {"type":"response.created","response":{"usage":null}}', '',
      'event: response.output_text.delta', 'data: {"type":"response.output_text.delta","delta":"hi"}', '',
      'event: response.completed',
      'data: {"type":"response.completed","response":{"object":"response","usage":{"input_tokens":30,"output_tokens":6,"input_tokens_details":{"cached_tokens":24}}}}', '', '',
    ].join('\n');
    expect(sniff('text/event-stream; charset=utf-8', body, 11)).toEqual({ promptTokens: 30, completionTokens: 6, cachedTokens: 24 });
  });

  it('no usage, or a body that is not JSON → undefined', () => {
    expect(sniff('application/json', '{"choices":[]}')).toBeUndefined();
    expect(sniff('application/json', 'oops')).toBeUndefined();
    expect(sniff('text/event-stream', 'data: [DONE]\n\n')).toBeUndefined();
  });

  it('Anthropic Messages JSON: input, output and cache-read tokens', () => {
    const body = '{"type":"message","content":[],"usage":{"input_tokens":20,"output_tokens":4,"cache_read_input_tokens":16}}';
    expect(sniff('application/json', body)).toEqual({ promptTokens: 20, completionTokens: 4, cachedTokens: 16 });
  });

  it('Anthropic Messages SSE: message_start input tokens survive message_delta output tokens', () => {
    const body = [
      'event: message_start', 'data: {"type":"message_start","message":{"id":"m","usage":{"input_tokens":25,"output_tokens":1,"cache_read_input_tokens":9}}}', '',
      'event: content_block_delta', 'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"usage"}}', '',
      'event: message_delta', 'data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":15}}', '',
      'event: message_stop', 'data: {"type":"message_stop"}', '', '',
    ].join('\n');
    expect(sniff('text/event-stream', body, 5)).toEqual({ promptTokens: 25, completionTokens: 15, cachedTokens: 9 });
  });
});
