import { afterAll, describe, expect, it } from 'vitest';
import { chat, closeAll, post, postJson, sim, sseEvents } from './helpers.js';

afterAll(closeAll);

describe('non-streaming answers', () => {
  it('chat: exact shape, ids chatcmpl-<reqid>, cached_tokens always present', async () => {
    const { url } = await sim({ mode: 'echo' });
    const { status, body, headers } = await postJson(url, '/v1/chat/completions', chat('Today is a nice sunny day'));
    expect(status).toBe(200);
    expect(headers.get('content-type')).toBe('application/json');
    expect(Object.keys(body)).toEqual(['id', 'model', 'object', 'created', 'usage', 'choices']);
    expect(body.id).toMatch(/^chatcmpl-[0-9a-f-]{36}$/);
    expect(body).toMatchObject({
      model: 'm',
      object: 'chat.completion',
      usage: { prompt_tokens: 11, completion_tokens: 6, total_tokens: 17, prompt_tokens_details: { cached_tokens: 0 } },
      choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'Today is a nice sunny day' } }],
    });
    expect(Number.isInteger(body.created)).toBe(true);
    expect(body.choices[0].logprobs).toBeUndefined();
  });

  it('text completion: cmpl-<reqid>, text_completion, choices with text', async () => {
    const { url } = await sim({ mode: 'echo' });
    const { body } = await postJson(url, '/v1/completions', { model: 'm', prompt: 'Hello there', max_tokens: 1 });
    expect(body.id).toMatch(/^cmpl-/);
    expect(body).toMatchObject({
      object: 'text_completion',
      usage: { prompt_tokens: 2, completion_tokens: 1, total_tokens: 3, prompt_tokens_details: { cached_tokens: 0 } },
      choices: [{ index: 0, finish_reason: 'length', text: 'Hello ' }],
    });
  });

  it('random mode: canned text, max_completion_tokens wins over max_tokens', async () => {
    const { url } = await sim();
    const { body } = await postJson(url, '/v1/chat/completions', chat('hi', { max_tokens: 50, max_completion_tokens: 3, ignore_eos: true }));
    expect(body.usage.completion_tokens).toBe(3);
    expect(body.choices[0].finish_reason).toBe('length');
    expect(body.choices[0].message.content.length).toBeGreaterThan(0);
  });

  it('n copies for chat; one choice per prompt for completions; usage counts a shared prompt once', async () => {
    const { url } = await sim({ mode: 'echo' });
    const many = await postJson(url, '/v1/chat/completions', chat('one two', { n: 3 }));
    expect(many.body.choices.map((choice: any) => choice.index)).toEqual([0, 1, 2]);
    expect(many.body.usage).toMatchObject({ prompt_tokens: 7, completion_tokens: 6 });
    const prompts = await postJson(url, '/v1/completions', { model: 'm', prompt: ['a b', 'c d e'] });
    expect(prompts.body.choices.map((choice: any) => choice.text)).toEqual(['a b', 'c d e']);
    expect(prompts.body.usage).toMatchObject({ prompt_tokens: 5, completion_tokens: 5, total_tokens: 10 });
    const ids = await postJson(url, '/v1/completions', { model: 'm', prompt: [1, 2, 3] });
    expect(ids.body.choices[0].text).toBe('1,2,3');
    expect(ids.body.usage.prompt_tokens).toBe(3);
  });

  it('logprobs keys only when requested', async () => {
    const { url } = await sim({ mode: 'echo' });
    const chatAnswer = await postJson(url, '/v1/chat/completions', chat('a b', { logprobs: true, top_logprobs: 2 }));
    expect(chatAnswer.body.choices[0].logprobs.content[0]).toMatchObject({ token: 'a ', logprob: -1, top_logprobs: [{ token: 'a ' }, { token: 'a _1', logprob: -1.5 }] });
    const textAnswer = await postJson(url, '/v1/completions', { model: 'm', prompt: 'a b', logprobs: 1 });
    expect(textAnswer.body.choices[0].logprobs).toMatchObject({ tokens: ['a ', 'b'], token_logprobs: [-1, -1.1], text_offset: [0, 2] });
  });

  it('aliases: any alias is accepted, the first is shown', async () => {
    const { url } = await sim({ servedModelNames: ['first', 'second'] });
    const { status, body } = await postJson(url, '/v1/chat/completions', { ...chat('hi'), model: 'second' });
    expect(status).toBe(200);
    expect(body.model).toBe('first');
    expect((await postJson(url, '/v1/chat/completions', chat('hi'))).status).toBe(404);
  });
});

describe('streaming answers', () => {
  it('chat: role chunk, one chunk per token, finish chunk, usage chunk, [DONE]; usage null elsewhere', async () => {
    const { url } = await sim({ mode: 'echo' });
    const response = await post(url, '/v1/chat/completions', chat('alpha beta gamma', { stream: true, stream_options: { include_usage: true } }));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const events = await sseEvents(response);
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1);
    const id = chunks[0].id;
    expect(id).toMatch(/^chatcmpl-/);
    for (const chunk of chunks) {
      expect(chunk).toMatchObject({ id, model: 'm', object: 'chat.completion.chunk' });
      expect(Object.keys(chunk)).toEqual(['id', 'model', 'object', 'created', 'usage', 'choices']);
    }
    expect(chunks[0].choices).toEqual([{ index: 0, finish_reason: null, delta: { role: 'assistant' } }]);
    expect(chunks.slice(1, 4).map((chunk) => chunk.choices[0].delta.content)).toEqual(['alpha ', 'beta ', 'gamma']);
    expect(chunks.slice(0, 5).every((chunk) => chunk.usage === null)).toBe(true);
    expect(chunks[4].choices).toEqual([{ index: 0, finish_reason: 'stop', delta: {} }]);
    expect(chunks[5]).toMatchObject({ choices: [], usage: { prompt_tokens: 8, completion_tokens: 3, total_tokens: 11, prompt_tokens_details: { cached_tokens: 0 } } });
    expect(chunks).toHaveLength(6);
  });

  it('no usage chunk without include_usage', async () => {
    const { url } = await sim({ mode: 'echo' });
    const events = await sseEvents(await post(url, '/v1/chat/completions', chat('x', { stream: true })));
    expect(events.filter((event) => event !== '[DONE]' && event.usage !== null)).toEqual([]);
    expect(events).toHaveLength(4);
  });

  it('completions: no role chunk, token chunks, a final text "" chunk with finish_reason', async () => {
    const { url } = await sim({ mode: 'echo' });
    const events = await sseEvents(await post(url, '/v1/completions', { model: 'm', prompt: 'one two', stream: true, max_tokens: 2, stream_options: { include_usage: true } }));
    expect(events.map((event) => (event === '[DONE]' ? event : event.choices[0] ?? 'usage'))).toEqual([
      { index: 0, finish_reason: null, text: 'one ' },
      { index: 0, finish_reason: null, text: 'two' },
      { index: 0, finish_reason: 'length', text: '' },
      'usage',
      '[DONE]',
    ]);
    expect(events[0].object).toBe('text_completion');
    expect(events[0].id).toMatch(/^cmpl-/);
  });

  it('a failure before the first token keeps its real status (no 200 stream)', async () => {
    const { url } = await sim({ maxModelLen: 5 });
    const response = await post(url, '/v1/chat/completions', chat('a b c d e f g h', { stream: true }));
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(((await response.json()) as any).error.message).toMatch(/^This model's maximum context length is 5 tokens\. However, you requested 14 tokens \(13 in the messages, 1 in the completion\)/);
  });

  it('a failure after the stream started is one error event, then [DONE]', async () => {
    // One worker: prompt 0 streams first; prompt 1 then runs and exceeds the context window.
    const { url } = await sim({ mode: 'echo', maxNumSeqs: 1, maxModelLen: 5 });
    const body = { model: 'm', prompt: ['x y', 'a b c d e f g'], stream: true };
    const response = await post(url, '/v1/completions', body);
    expect(response.status).toBe(200);
    const events = await sseEvents(response);
    expect(events.slice(0, 2).map((event) => event.choices[0].text)).toEqual(['x ', 'y']);
    expect(events.at(-2)).toEqual({ error: { message: expect.stringMatching(/^This model's maximum context length is 5 tokens/), type: 'BadRequestError', param: null, code: 400 } });
    expect(events.at(-1)).toBe('[DONE]');
    const plain = await postJson(url, '/v1/completions', { ...body, stream: false });
    expect(plain.status).toBe(400);
  });

  it('stream with n=2 carries both choices', async () => {
    const { url } = await sim({ mode: 'echo' });
    const events = await sseEvents(await post(url, '/v1/chat/completions', chat('x y', { stream: true, n: 2 })));
    const finishes = events.filter((event) => event !== '[DONE]' && event.choices[0]?.finish_reason);
    expect(finishes.map((event) => event.choices[0].index)).toEqual([0, 1]);
  });
});

describe('errors', () => {
  const cases: Array<[string, unknown, number, RegExp | string, Record<string, string>?]> = [
    ['bad JSON', '{"model":', 400, /not valid JSON/],
    ['not an object', '[1]', 400, /JSON object/],
    ['invalid field', { model: 'm', messages: 'hi' }, 400, /messages/],
    ['unknown model', { ...chat('hi'), model: 'nope' }, 404, 'The model `nope` does not exist.'],
    ['max tokens ≤ 0', chat('hi', { max_tokens: 0 }), 400, 'Max completion tokens and max tokens should be positive'],
    ['n ≤ 0', chat('hi', { n: 0 }), 400, 'n must be at least 1'],
    ['ignore_eos without a limit', chat('hi', { ignore_eos: true }), 400, /Ignore_eos is true/],
    ['stream + do_remote_decode', chat('hi', { stream: true, kv_transfer_params: { do_remote_decode: true } }), 400, 'Prefill does not support streaming'],
    ['X-Return-Error: 503', chat('hi'), 503, 'Simulated error triggered by X-Return-Error header (code 503)', { 'x-return-error': '503' }],
    ['X-Return-Error: 429', chat('hi'), 429, /code 429/, { 'x-return-error': '429' }],
    ['X-Return-Error not an integer', chat('hi'), 400, /must be an integer/, { 'x-return-error': 'abc' }],
  ];
  it.each(cases)('%s', async (_name, body, status, message, headers) => {
    const { url } = await sim();
    const response = await postJson(url, '/v1/chat/completions', body, headers);
    expect(response.status).toBe(status);
    expect(Object.keys(response.body.error)).toEqual(['message', 'type', 'param', 'code']);
    expect(response.body.error.code).toBe(status);
    const type = { 400: 'BadRequestError', 404: 'NotFoundError', 429: 'RateLimitError', 503: 'InternalServerError' }[status];
    expect(response.body.error.type).toBe(type);
    if (typeof message === 'string') expect(response.body.error.message).toBe(message);
    else expect(response.body.error.message).toMatch(message);
  });

  it('body over the limit → 413', async () => {
    const { url } = await sim({ maxRequestBodySizeMb: 1 });
    const response = await postJson(url, '/v1/chat/completions', chat('x'.repeat(1_100_000)));
    expect(response.status).toBe(413);
    expect(response.body.error.code).toBe(413);
  });

  it('completions prompt validation', async () => {
    const { url } = await sim();
    expect((await postJson(url, '/v1/completions', { model: 'm', prompt: [] })).body.error.message).toBe('prompt array must contain at least one prompt');
    expect((await postJson(url, '/v1/completions', { model: 'm', prompt: '' })).status).toBe(400);
    expect((await postJson(url, '/v1/completions', { model: 'm', prompt: [-1] })).status).toBe(400);
  });

  it('unknown routes are 404 envelopes', async () => {
    const { url } = await sim();
    expect((await postJson(url, '/v1/nothing', {})).status).toBe(404);
  });
});

describe('request ids and pod headers', () => {
  it('honours and echoes X-Request-Id when enabled; adds x-inference-* from POD_NAME/POD_NAMESPACE', async () => {
    const simulator = await sim({ enableRequestIdHeaders: true, podName: 'pod-a', podNamespace: 'ns' });
    const { body, headers } = await postJson(simulator.url, '/v1/chat/completions', chat('hi'), { 'x-request-id': 'req-42' });
    expect(body.id).toBe('chatcmpl-req-42');
    expect(headers.get('x-request-id')).toBe('req-42');
    expect(headers.get('x-inference-pod')).toBe('pod-a');
    expect(headers.get('x-inference-port')).toBe(String(simulator.port));
    expect(headers.get('x-inference-namespace')).toBe('ns');
  });

  it('ignores X-Request-Id when not enabled', async () => {
    const { url } = await sim();
    const { body, headers } = await postJson(url, '/v1/chat/completions', chat('hi'), { 'x-request-id': 'req-42' });
    expect(body.id).not.toBe('chatcmpl-req-42');
    expect(headers.get('x-request-id')).toBeNull();
  });
});
