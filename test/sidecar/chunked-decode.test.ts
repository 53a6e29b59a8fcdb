/**
 * Chunked decode (`--decode-chunk-size`): the token budget, per-chunk request
 * mutations, stop rules, the streaming and non-streaming output shapes, failures, client
 * disconnects, the nixlv2 decode leg, and the `llm_d.pd_proxy.chunked_decode` span. The decoder is
 * a real server on 127.0.0.1 answering a scripted list of chunk responses in order.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { SpanKind } from '@opentelemetry/api';
import { request } from 'undici';
import { useInMemoryTracing } from '../helpers/in-memory-tracing.js';
import {
  appendAssistantTurn, chunkRequestBody, reassembledAnswer, streamEvent, tokenBudget,
} from '../../sidecar/chunked-decode-body.js';
import { chunkedDecodeApplies } from '../../sidecar/decode-leg.js';
import type { SidecarConfigInput } from '../../sidecar/config.js';
import { PREFILL_ANSWER, sendJson, startFakeVllm, type FakeVllm } from './helpers/fake-vllm.js';
import { post, startTestSidecar, type TestSidecar } from './helpers/sidecar.js';

/** A minimal non-streaming chat completion, like upstream's test helper. */
function chatResponse(content: string, finishReason: string, promptTokens: number, completionTokens: number): Record<string, unknown> {
  return {
    id: 'test-id', object: 'chat.completion', model: 'test-model', created: 1234567890,
    choices: [{ index: 0, finish_reason: finishReason, message: { role: 'assistant', content } }],
    usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
  };
}

const HI = { messages: [{ role: 'user', content: 'Hi' }] };

describe('chunked decode bodies', () => {
  it('budget: the first positive of max_completion_tokens, max_tokens; -1 when unlimited', () => {
    expect(tokenBudget({ max_tokens: 50, max_completion_tokens: 100 })).toBe(100);
    expect(tokenBudget({ max_tokens: 50, max_completion_tokens: 0 })).toBe(50);
    expect(tokenBudget({ max_tokens: 7.9 })).toBe(7);
    expect(tokenBudget({})).toBe(-1);
    expect(tokenBudget({ max_tokens: '9' })).toBe(-1);
  });

  it('chunk 1 caps tokens and buffers; later chunks drop kv params and continue the final message', () => {
    const text = '{"messages":[],"max_tokens":10,"stream":true,"stream_options":{"include_usage":true},"kv_transfer_params":{"a":1},"seed":12345678901234567890}';
    const first = JSON.parse(chunkRequestBody(text, 5, false)) as Record<string, unknown>;
    expect(first).toMatchObject({ max_tokens: 5, max_completion_tokens: 5, stream: false, kv_transfer_params: { a: 1 } });
    expect(first).not.toHaveProperty('stream_options');
    const next = chunkRequestBody(text, 3, true);
    expect(JSON.parse(next)).toMatchObject({ max_tokens: 3, max_completion_tokens: 3, continue_final_message: true, add_generation_prompt: false });
    expect(JSON.parse(next)).not.toHaveProperty('kv_transfer_params');
    expect(next).toContain('"seed":12345678901234567890');
  });

  it('appends the assistant turn (no-op for empty text; a missing list becomes one turn)', () => {
    expect(JSON.parse(appendAssistantTurn('{"messages":[{"role":"user","content":"Hi"}]}', 'hello'))).toEqual({
      messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'hello' }],
    });
    expect(appendAssistantTurn('{"messages":[]}', '')).toBe('{"messages":[]}');
    expect(JSON.parse(appendAssistantTurn('{"messages":[ ]}', 'x'))).toEqual({ messages: [{ role: 'assistant', content: 'x' }] });
    expect(JSON.parse(appendAssistantTurn('{"model":"m"}', 'x'))).toEqual({ model: 'm', messages: [{ role: 'assistant', content: 'x' }] });
  });

  it('shapes stream events and the reassembled answer', () => {
    const chunk = chatResponse('hello ', 'length', 5, 5);
    expect(streamEvent(chunk)).toEqual({
      id: 'test-id', object: 'chat.completion', model: 'test-model', created: 1234567890,
      choices: [{ index: 0, finish_reason: 'length', delta: { content: 'hello ', role: 'assistant' } }],
    });
    const usage = { prompt_tokens: 5, completion_tokens: 10, total_tokens: 15 };
    const last = { ...chatResponse('world', 'stop', 9, 5), choices: [chatResponse('world', 'stop', 0, 0).choices, { index: 1 }].flat() };
    expect(reassembledAnswer(last, 'hello world', usage)).toMatchObject({
      usage, choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'hello world' } }],
    });
    expect((reassembledAnswer(last, 'x', usage).choices as unknown[])).toHaveLength(1);
  });

  it('applies to the exact chat path only', () => {
    expect(chunkedDecodeApplies(5, '/v1/chat/completions')).toBe(true);
    expect(chunkedDecodeApplies(5, '/v1/chat/completions?x=1')).toBe(true);
    expect(chunkedDecodeApplies(0, '/v1/chat/completions')).toBe(false);
    expect(chunkedDecodeApplies(5, '/v1/completions')).toBe(false);
    expect(chunkedDecodeApplies(5, '/v1/responses')).toBe(false);
  });
});

let decoder: FakeVllm;
let prefiller: FakeVllm | undefined;
let sidecar: TestSidecar | undefined;

/** A decoder answering `responses` in order (500 past the end, as upstream's test backend). */
async function setup(chunkSize: number, responses: unknown[], config: SidecarConfigInput = {}): Promise<void> {
  decoder = await startFakeVllm((_r, res) => {
    const next = responses[decoder.requests.length - 1];
    if (next === undefined) sendJson(res, 500, 'unexpected request');
    else sendJson(res, 200, next);
  });
  sidecar = await startTestSidecar(decoder.port, { decodeChunkSize: chunkSize, ...config });
}

afterEach(async () => {
  await sidecar?.close(2000);
  sidecar = undefined;
  await decoder?.close();
  await prefiller?.close();
  prefiller = undefined;
});

const url = (): string => `${sidecar!.url}/v1/chat/completions`;
function dataEvents(body: string): string[] {
  return body.split('\n').filter((line) => line.startsWith('data: ')).map((line) => line.slice(6));
}

describe('chunked decode', () => {
  it('budget ≤ chunk size → one ordinary pass, body untouched', async () => {
    await setup(512, [chatResponse('hello world', 'stop', 5, 10)]);
    const body = { ...HI, max_tokens: 10, stream_options: { include_usage: true } };
    const answer = await post(url(), body);
    expect(answer.status).toBe(200);
    expect(answer.json()).toEqual(chatResponse('hello world', 'stop', 5, 10));
    expect(decoder.requests).toHaveLength(1);
    expect(decoder.requests[0]!.body).toBe(JSON.stringify(body));
  });

  it('2 chunks → "hello world" with usage 8/10/18; the 2nd request continues the "hello " turn', async () => {
    await setup(5, [chatResponse('hello ', 'length', 8, 5), chatResponse('world', 'stop', 9, 5)]);
    const answer = await post(url(), { ...HI, max_tokens: 10, kv_transfer_params: { do_remote_prefill: true } });
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('application/json');
    const json = answer.json();
    expect(json.choices).toEqual([{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'hello world' } }]);
    expect(json.usage).toEqual({ prompt_tokens: 8, completion_tokens: 10, total_tokens: 18 });
    expect(json).toMatchObject({ id: 'test-id', object: 'chat.completion' });

    expect(decoder.requests).toHaveLength(2);
    const [first, second] = decoder.requests.map((r) => r.json!);
    expect(first).toMatchObject({ max_tokens: 5, max_completion_tokens: 5, stream: false, messages: HI.messages });
    // A client's kv_transfer_params never reaches vLLM (no --trust-client-kv-transfer-params).
    expect(first).not.toHaveProperty('kv_transfer_params');
    expect(first).not.toHaveProperty('continue_final_message');
    expect(second!.messages).toEqual([...HI.messages, { role: 'assistant', content: 'hello ' }]);
    expect(second).toMatchObject({ max_tokens: 5, max_completion_tokens: 5, stream: false, continue_final_message: true, add_generation_prompt: false });
    expect(second).not.toHaveProperty('kv_transfer_params');
    for (const r of decoder.requests) expect(r.headers['accept-encoding']).toBe('identity');
  });

  it('an early stop ends the loop before the budget is spent', async () => {
    await setup(5, [chatResponse('done', 'stop', 5, 3)]);
    const answer = await post(url(), { ...HI, max_tokens: 20 });
    expect((answer.json().choices as Array<{ message: { content: string } }>)[0]!.message.content).toBe('done');
    expect(decoder.requests).toHaveLength(1);
  });

  it('the last chunk asks only for what is left of the budget; the budget ends the loop', async () => {
    await setup(5, [chatResponse('a', 'length', 3, 5), chatResponse('b', 'length', 3, 5), chatResponse('c', 'length', 3, 2)]);
    const answer = await post(url(), { ...HI, max_completion_tokens: 12, max_tokens: 99 });
    expect(answer.json().usage).toEqual({ prompt_tokens: 3, completion_tokens: 12, total_tokens: 15 });
    expect(decoder.requests.map((r) => r.json!.max_tokens)).toEqual([5, 5, 2]);
  });

  it('without a budget, chunks run until the model stops; an empty chunk stops too', async () => {
    await setup(4, [chatResponse('a', 'length', 2, 4), chatResponse('b', '', 2, 4), chatResponse('', 'length', 2, 0)]);
    const answer = await post(url(), HI);
    expect(answer.json().usage).toEqual({ prompt_tokens: 2, completion_tokens: 8, total_tokens: 10 });
    expect((answer.json().choices as Array<{ message: { content: string } }>)[0]!.message.content).toBe('ab');
    expect(decoder.requests).toHaveLength(3);
  });

  it('a 502 chunk is propagated with its body', async () => {
    await setup(5, []);
    decoder.handler = (_r, res) => sendJson(res, 502, '{"error":"backend down"}');
    const answer = await post(url(), { ...HI, max_tokens: 10 });
    expect(answer.status).toBe(502);
    expect(answer.text).toBe('{"error":"backend down"}');
  });

  it('a non-JSON chunk is a 500; a refused decoder a 503', async () => {
    await setup(5, []);
    decoder.handler = (_r, res) => sendJson(res, 200, 'not json');
    const answer = await post(url(), { ...HI, max_tokens: 10 });
    expect(answer.status).toBe(500);
    expect(answer.json()).toMatchObject({ error: { type: 'InternalServerError', code: 500 } });
    await decoder.close();
    const refused = await post(url(), { ...HI, max_tokens: 10 });
    expect(refused.status).toBe(503);
    expect(refused.json()).toMatchObject({ error: { type: 'ServiceUnavailable' } });
  });

  it('streaming → 4 events: 2 chunks as deltas, usage 5/10/15, [DONE]', async () => {
    await setup(5, [chatResponse('hello ', 'length', 5, 5), chatResponse('world', 'stop', 9, 5)]);
    const answer = await post(url(), { ...HI, max_tokens: 10, stream: true, stream_options: { include_usage: true } });
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('text/event-stream');
    const events = dataEvents(answer.text);
    expect(events).toHaveLength(4);
    expect(events[3]).toBe('[DONE]');
    const [first, second, usage] = events.slice(0, 3).map((event) => JSON.parse(event) as Record<string, unknown>);
    expect(first!.choices).toEqual([{ index: 0, finish_reason: 'length', delta: { content: 'hello ', role: 'assistant' } }]);
    expect(first).not.toHaveProperty('usage');
    expect((second!.choices as Array<{ delta: unknown }>)[0]!.delta).toEqual({ content: 'world', role: 'assistant' });
    expect(usage).toEqual({ usage: { prompt_tokens: 5, completion_tokens: 10, total_tokens: 15 }, choices: [] });
    for (const r of decoder.requests) {
      expect(r.json!.stream).toBe(false);
      expect(r.json).not.toHaveProperty('stream_options');
    }
  });

  it('streaming: a chunk failing after the first event becomes an error event and [DONE]', async () => {
    await setup(5, [chatResponse('hello ', 'length', 5, 5)]);
    const answer = await post(url(), { ...HI, max_tokens: 10, stream: true });
    expect(answer.status).toBe(200);
    const events = dataEvents(answer.text);
    expect(events).toHaveLength(3);
    expect(JSON.parse(events[1]!)).toMatchObject({ error: { code: 500, message: expect.stringContaining('decode chunk 1 failed with status 500') } });
    expect(events[2]).toBe('[DONE]');
  });

  it('streaming: a client that disconnects stops the loop and aborts the chunk in flight', async () => {
    await setup(5, [chatResponse('hello ', 'length', 5, 5)]);
    const base = decoder.handler;
    decoder.handler = (r, res, req) => (decoder.requests.length === 1 ? base(r, res, req) : undefined); // chunk 2 hangs
    const controller = new AbortController();
    const answer = await request(url(), {
      method: 'POST', body: JSON.stringify({ ...HI, max_tokens: 20, stream: true }), signal: controller.signal,
      headers: { 'content-type': 'application/json' },
    });
    const first = await answer.body[Symbol.asyncIterator]().next();
    expect(String(first.value)).toContain('"hello "');
    const second = await decoder.nthRequest(2);
    controller.abort();
    expect(await second.closed).toBe('aborted');
    await sidecar!.close(2000);
    expect(decoder.requests).toHaveLength(2);
  });

  it('only the chat path is chunked; /v1/completions is proxied as is', async () => {
    await setup(5, [{ choices: [{ text: 'x' }] }]);
    const body = { model: 'm', prompt: 'p', max_tokens: 50 };
    const answer = await post(`${sidecar!.url}/v1/completions`, body);
    expect(answer.json()).toEqual({ choices: [{ text: 'x' }] });
    expect(decoder.requests[0]!.body).toBe(JSON.stringify(body));
  });

  it('the nixlv2 decode leg is chunked: kv params and the request id on chunk 1, cached tokens in the totals', async () => {
    prefiller = await startFakeVllm((_r, res) => sendJson(res, 200, PREFILL_ANSWER));
    await setup(5, [chatResponse('hello ', 'length', 64, 5), chatResponse('world', 'stop', 64, 5)]);
    const answer = await post(url(), { ...HI, model: 'm', max_tokens: 10 }, { 'x-prefiller-host-port': prefiller.hostPort });
    expect(answer.status).toBe(200);
    expect(answer.json().usage).toEqual({ prompt_tokens: 64, completion_tokens: 10, total_tokens: 74, prompt_tokens_details: { cached_tokens: 7 } });
    const [first, second] = decoder.requests;
    expect(first!.json!.kv_transfer_params).toMatchObject({ remote_engine_id: '5b5fb28f-3f30-4bdd-9a36-958d52459200' });
    expect(second!.json).not.toHaveProperty('kv_transfer_params');
    const requestId = prefiller.requests[0]!.headers['x-request-id'];
    expect(first!.headers['x-request-id']).toBe(requestId);
    expect(second!.headers['x-request-id']).toBe(requestId);
  });

  it('the prefill fallback decode is chunked too', async () => {
    prefiller = await startFakeVllm((_r, res) => sendJson(res, 503, 'busy'));
    await setup(5, [chatResponse('hello ', 'length', 8, 5), chatResponse('world', 'stop', 9, 5)], { prefillFailurePolicy: 'fallback' });
    const answer = await post(url(), { ...HI, max_tokens: 10 }, { 'x-prefiller-host-port': prefiller.hostPort });
    expect((answer.json().choices as Array<{ message: { content: string } }>)[0]!.message.content).toBe('hello world');
    expect(decoder.requests).toHaveLength(2);
    expect(decoder.requests[0]!.json).not.toHaveProperty('kv_transfer_params');
  });

  it('data-parallel routing wins over chunking (upstream order)', async () => {
    await setup(5, [chatResponse('x', 'length', 1, 5)], { podIp: '10.0.0.5' });
    const answer = await post(url(), { ...HI, max_tokens: 10 }, { 'x-data-parallel-host-port': `10.0.0.5:${sidecar!.port}` });
    expect(answer.json()).toEqual(chatResponse('x', 'length', 1, 5));
    expect(decoder.requests).toHaveLength(1);
    expect(decoder.requests[0]!.json!.max_tokens).toBe(10);
  });

  it('an invalid body is a 400 before anything is sent', async () => {
    await setup(5, []);
    const answer = await post(url(), '{"messages":');
    expect(answer.status).toBe(400);
    expect(answer.json()).toMatchObject({ error: { type: 'BadRequestError' } });
    expect(decoder.requests).toHaveLength(0);
  });
});

describe('chunked decode span', () => {
  const exporter = useInMemoryTracing();

  it('llm_d.pd_proxy.chunked_decode: chunk_size, streaming, chunks, total_tokens, duration_ms; one CLIENT span per chunk', async () => {
    await setup(5, [chatResponse('hello ', 'length', 8, 5), chatResponse('world', 'stop', 9, 5)], { tracing: true });
    await post(url(), { ...HI, max_tokens: 10, stream: true });
    await vi.waitFor(() => expect(exporter.getFinishedSpans().some((span) => span.name === 'llm_d.pd_proxy.POST /v1/chat/completions')).toBe(true));
    const spans = exporter.getFinishedSpans();
    const chunked = spans.find((span) => span.name === 'llm_d.pd_proxy.chunked_decode')!;
    const requestSpan = spans.find((span) => span.name === 'llm_d.pd_proxy.request')!;
    expect(chunked.kind).toBe(SpanKind.INTERNAL);
    expect(chunked.parentSpanContext?.spanId).toBe(requestSpan.spanContext().spanId);
    expect(chunked.attributes).toMatchObject({
      'llm_d.pd_proxy.chunked_decode.chunk_size': 5,
      'llm_d.pd_proxy.chunked_decode.streaming': true,
      'llm_d.pd_proxy.chunked_decode.chunks': 2,
      'llm_d.pd_proxy.chunked_decode.total_tokens': 10,
    });
    expect(Number.isInteger(chunked.attributes['llm_d.pd_proxy.chunked_decode.duration_ms'])).toBe(true);
    const clients = spans.filter((span) => span.kind === SpanKind.CLIENT && span.parentSpanContext?.spanId === chunked.spanContext().spanId);
    expect(clients).toHaveLength(2);
    expect(decoder.requests.map((r) => String(r.headers.traceparent).split('-')[2])).toEqual(clients.map((span) => span.spanContext().spanId));
  });
});
