/** The simulator's Anthropic Messages API (`POST /v1/messages`): JSON and SSE shapes, P/D fields. */
import { afterAll, describe, expect, it } from 'vitest';
import { closeAll, post, postJson, sim } from './helpers.js';

afterAll(closeAll);

const messages = (content: string, extra: Record<string, unknown> = {}) => ({ model: 'm', max_tokens: 20, messages: [{ role: 'user', content }], ...extra });

describe('/v1/messages', () => {
  it('non-streaming: a message object with Anthropic usage and stop reason', async () => {
    const { url } = await sim({ mode: 'echo' });
    const { status, body } = await postJson(url, '/v1/messages', messages('Today is a nice sunny day', { system: 'Be brief.' }));
    expect(status).toBe(200);
    expect(body).toMatchObject({
      type: 'message', role: 'assistant', model: 'm', stop_reason: 'end_turn', stop_sequence: null,
      content: [{ type: 'text', text: 'Today is a nice sunny day' }],
    });
    expect(body.usage.input_tokens).toBeGreaterThan(5);
    expect(body.usage.output_tokens).toBe(6);
    expect(body).not.toHaveProperty('choices');
    const capped = await postJson(url, '/v1/messages', messages('one two three four', { max_tokens: 1 }));
    expect(capped.body.stop_reason).toBe('max_tokens');
  });

  it('streaming: message_start, content blocks, message_delta with usage, message_stop', async () => {
    const { url } = await sim({ mode: 'echo' });
    const response = await post(url, '/v1/messages', messages('a b c', { stream: true }));
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const blocks = (await response.text()).split('\n\n').filter((b) => b !== '');
    const events = blocks.map((block) => {
      const [event, data] = block.split('\n');
      return { name: event!.slice('event: '.length), data: JSON.parse(data!.slice('data: '.length)) };
    });
    expect(events.map((e) => e.name)).toEqual([
      'message_start', 'content_block_start', 'content_block_delta', 'content_block_delta', 'content_block_delta',
      'content_block_stop', 'message_delta', 'message_stop',
    ]);
    for (const e of events) expect(e.data.type).toBe(e.name);
    expect(events.filter((e) => e.name === 'content_block_delta').map((e) => e.data.delta.text).join('')).toBe('a b c');
    expect(events[6]!.data).toMatchObject({ delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 3 } });
    expect(events[6]!.data.usage.input_tokens).toBeGreaterThan(0);
  });

  it('a prefill request (do_remote_decode) answers with kv_transfer_params; an invalid body is a 400', async () => {
    const { url } = await sim({ mode: 'echo' });
    const prefill = await postJson(url, '/v1/messages', messages('hello there', { max_tokens: 1, kv_transfer_params: { do_remote_decode: true } }));
    expect(prefill.body.kv_transfer_params).toMatchObject({ do_remote_prefill: true });
    const bad = await postJson(url, '/v1/messages', { model: 'm', messages: [{ role: 'user', content: 'hi' }] });
    expect(bad.status).toBe(400);
  });
});
