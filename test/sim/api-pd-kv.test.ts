import { performance } from 'node:perf_hooks';
import { afterAll, describe, expect, it } from 'vitest';
import { RecordingKvEventSink } from '../../src/sim/kv-events.js';
import { tokenizeChat } from '../../src/sim/tokenizer.js';
import { chat, closeAll, eventually, metrics, metricValue, post, postJson, sim, sseEvents } from './helpers.js';

afterAll(closeAll);

/** The prefill leg exactly as the nixlv2 sidecar sends it. */
const prefillBody = (content: string) => chat(content, {
  stream: false,
  max_tokens: 1,
  max_completion_tokens: 1,
  kv_transfer_params: { do_remote_decode: true, do_remote_prefill: false, remote_engine_id: null, remote_block_ids: null, remote_host: null, remote_port: null },
});
const DUMMY = { do_remote_decode: false, do_remote_prefill: true, remote_engine_id: 'DUMMY_ID', remote_block_ids: ['DUMMY_ID'], remote_host: 'DUMMY', remote_port: 1234, tp_size: 1 };
const longText = (words: number) => Array.from({ length: words }, (_, i) => `w${i}`).join(' ');

describe('P/D disaggregation', () => {
  it('prefill leg: one token, finish_reason remote_decode, DUMMY kv_transfer_params at top level', async () => {
    const { url } = await sim({ prefillTimePerToken: 1 });
    const { status, body } = await postJson(url, '/v1/chat/completions', prefillBody('hello there'));
    expect(status).toBe(200);
    expect(Object.keys(body)).toEqual(['id', 'model', 'object', 'kv_transfer_params', 'created', 'usage', 'choices']);
    expect(body.kv_transfer_params).toEqual(DUMMY);
    expect(body.usage.completion_tokens).toBe(1);
    expect(body.usage.prompt_tokens_details).toEqual({ cached_tokens: 0 });
    expect(body.choices[0].finish_reason).toBe('remote_decode');
  });

  it('decode leg: accepts the prefill params verbatim (any JSON), streams, no kv_transfer_params in the answer', async () => {
    const { url } = await sim({ kvCacheTransferLatency: 1 });
    const params = { ...DUMMY, remote_block_ids: [1, 2, 3], extra: { nested: true } };
    const response = await post(url, '/v1/chat/completions', chat('hello', { stream: true, max_tokens: 3, kv_transfer_params: params }));
    expect(response.status).toBe(200);
    const events = await sseEvents(response);
    expect(events.every((event) => event === '[DONE]' || !('kv_transfer_params' in event))).toBe(true);
    const plain = await postJson(url, '/v1/chat/completions', chat('hello', { kv_transfer_params: params }));
    expect(plain.body.kv_transfer_params).toBeUndefined();
  });

  it('decode TTFT is the KV-transfer time, regardless of prompt length (lower bound only)', async () => {
    const { url } = await sim({ kvCacheTransferLatency: 60, prefillTimePerToken: 50, maxModelLen: 100_000 });
    const decode = { do_remote_prefill: true, do_remote_decode: false };
    for (const words of [5, 2_000]) {
      const started = performance.now();
      const response = await post(url, '/v1/completions', { model: 'm', prompt: longText(words), max_tokens: 1, kv_transfer_params: decode });
      expect(response.status).toBe(200);
      await response.text();
      // 2 000 tokens at 50 ms would be 100 s: finishing at all shows the prompt length did not count.
      expect(performance.now() - started).toBeGreaterThanOrEqual(55);
    }
  });

  it('metrics count the prefill answer under finish_reason remote_decode', async () => {
    const { url } = await sim();
    await postJson(url, '/v1/chat/completions', prefillBody('x'));
    expect(metricValue(await metrics(url), 'vllm:request_success_total{model_name="m",finish_reason="remote_decode"}')).toBe(1);
  });
});

describe('prefix cache over HTTP', () => {
  it('same prompt twice: 2nd cached_tokens = ⌊n/16⌋·16; one BlockStored, none for the repeat; counters and usage', async () => {
    const sink = new RecordingKvEventSink();
    const { url } = await sim({ enableKvcache: true, kvCacheSize: 100 }, { kvEventSink: sink });
    const body = chat(longText(40), { max_tokens: 2 });
    const n = tokenizeChat(body.messages).ids.length;
    const first = await postJson(url, '/v1/chat/completions', body);
    expect(first.body.usage.prompt_tokens).toBe(n);
    expect(first.body.usage.prompt_tokens_details).toEqual({ cached_tokens: 0 });
    expect(sink.events).toHaveLength(1);
    expect(sink.events[0]).toMatchObject({ type: 'BlockStored', parentBlockHash: null, blockSize: 16 });
    expect(sink.ofType('BlockStored')[0]!.blockHashes).toHaveLength(Math.floor(n / 16));
    expect(sink.ofType('BlockStored')[0]!.tokenIds).toEqual(tokenizeChat(body.messages).ids.slice(0, Math.floor(n / 16) * 16));
    const second = await postJson(url, '/v1/chat/completions', body);
    expect(second.body.usage.prompt_tokens_details).toEqual({ cached_tokens: Math.floor(n / 16) * 16 });
    expect(sink.events).toHaveLength(1);
    const text = await metrics(url);
    expect(metricValue(text, 'vllm:prefix_cache_hits_total{model_name="m"}')).toBe(Math.floor(n / 16) * 16);
    expect(metricValue(text, 'vllm:prefix_cache_queries_total{model_name="m"}')).toBe(2 * n);
    expect(metricValue(text, 'vllm:kv_cache_usage_perc{model_name="m"}')).toBe(0);
    expect(text).toContain('vllm:cache_config_info{block_size="16",num_gpu_blocks="100"} 1');
  });

  it('hits shorten TTFT on the per-token path (lower bound on the cold request only)', async () => {
    const { url } = await sim({ enableKvcache: true, prefillTimePerToken: 1 });
    const body = chat(longText(150), { max_tokens: 1 });
    const n = tokenizeChat(body.messages).ids.length;
    const cold = performance.now();
    await postJson(url, '/v1/chat/completions', body);
    expect(performance.now() - cold).toBeGreaterThanOrEqual(n * 0.9);
    const hit = await postJson(url, '/v1/chat/completions', body);
    expect(hit.body.usage.prompt_tokens_details.cached_tokens).toBe(Math.floor(n / 16) * 16);
  });

  it('eviction over HTTP: a new prompt into a full cache evicts the oldest idle blocks, one event each', async () => {
    const sink = new RecordingKvEventSink();
    const simulator = await sim({ enableKvcache: true, kvCacheSize: 4, blockSize: 8 }, { kvEventSink: sink });
    const ids = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);
    for (const prompt of [ids(1, 16), ids(101, 16)]) await postJson(simulator.url, '/v1/completions', { model: 'm', prompt, max_tokens: 1 });
    const [a0, a1] = simulator.engine.kvCache!.keysFor(ids(1, 16), 'm');
    const [b0] = simulator.engine.kvCache!.keysFor(ids(101, 16), 'm');
    sink.clear();
    await postJson(simulator.url, '/v1/completions', { model: 'm', prompt: ids(201, 24), max_tokens: 1 });
    expect(sink.events.map((event) => event.type)).toEqual(['BlockRemoved', 'BlockRemoved', 'BlockRemoved', 'BlockStored']);
    expect(sink.ofType('BlockRemoved').map((event) => event.blockHashes)).toEqual([[a0], [a1], [b0]]);
  });

  it('a prompt larger than the capacity fails with 500', async () => {
    const { url } = await sim({ enableKvcache: true, kvCacheSize: 1 });
    const { status, body } = await postJson(url, '/v1/chat/completions', chat(longText(40)));
    expect(status).toBe(500);
    expect(body.error).toEqual({ message: 'the kv cache does not have sufficient capacity to store this request', type: 'InternalServerError', param: null, code: 500 });
  });

  it('a sink factory gets the serving port (for the ZMQ topic) and is closed with the simulator', async () => {
    const sink = new RecordingKvEventSink();
    let closed = false;
    let seen: { port: number; model: string } | undefined;
    const simulator = await sim({ enableKvcache: true }, {
      kvEventSink: async ({ port, config }) => {
        seen = { port, model: config.model };
        return Object.assign(sink, { close: async () => { closed = true; } });
      },
    });
    expect(seen).toEqual({ port: simulator.port, model: 'm' });
    await postJson(simulator.url, '/v1/chat/completions', chat(longText(40)));
    expect(sink.ofType('BlockStored')).toHaveLength(1);
    await simulator.close();
    expect(closed).toBe(true);
  });

  it('the decode leg runs its own admission and publishes its own blocks', async () => {
    const sink = new RecordingKvEventSink();
    const { url } = await sim({ enableKvcache: true }, { kvEventSink: sink });
    await postJson(url, '/v1/chat/completions', chat(longText(40), { kv_transfer_params: { do_remote_prefill: true } }));
    expect(sink.ofType('BlockStored')).toHaveLength(1);
  });
});

describe('cache_hit_threshold', () => {
  it('below the request threshold: immediate cache_threshold answer with no tokens and null details, no sleeps', async () => {
    const sink = new RecordingKvEventSink();
    const { url } = await sim({ enableKvcache: true, timeToFirstToken: 60_000 }, { kvEventSink: sink });
    const { status, body } = await postJson(url, '/v1/chat/completions', chat(longText(40), { cache_hit_threshold: 0.5 }));
    expect(status).toBe(200);
    expect(body.usage).toMatchObject({ completion_tokens: 0, prompt_tokens_details: null });
    expect(body.usage.total_tokens).toBe(body.usage.prompt_tokens);
    expect(body.choices).toEqual([{ index: 0, finish_reason: 'cache_threshold', message: { role: 'assistant' } }]);
    expect(sink.ofType('BlockStored')).toHaveLength(1); // blocks were still admitted
  });

  it('global threshold applies when the request has none; a warm cache passes', async () => {
    const { url } = await sim({ enableKvcache: true, globalCacheHitThreshold: 0.5 });
    const body = chat(longText(60), { max_tokens: 1 });
    expect((await postJson(url, '/v1/chat/completions', body)).body.choices[0].finish_reason).toBe('cache_threshold');
    expect((await postJson(url, '/v1/chat/completions', body)).body.choices[0].finish_reason).toBe('length');
  });

  it('X-Cache-Threshold-Finish-Reason: true forces it, even without the KV cache; streaming sends one empty-delta chunk', async () => {
    const { url } = await sim({ timeToFirstToken: 60_000 });
    const forced = await postJson(url, '/v1/completions', { model: 'm', prompt: 'hi' }, { 'x-cache-threshold-finish-reason': 'true' });
    expect(forced.body.choices[0]).toEqual({ index: 0, finish_reason: 'cache_threshold', text: '' });
    const events = await sseEvents(await post(url, '/v1/chat/completions', chat('hi', { stream: true, stream_options: { include_usage: true } }), { 'x-cache-threshold-finish-reason': 'true' }));
    expect(events).toHaveLength(3);
    expect(events[0].choices).toEqual([{ index: 0, finish_reason: 'cache_threshold', delta: {} }]);
    expect(events[1]).toMatchObject({ choices: [], usage: { completion_tokens: 0, prompt_tokens_details: null } });
    expect(events[2]).toBe('[DONE]');
  });
});

describe('workers and the waiting queue', () => {
  // Requests are held by a long TTFT and cut short by close(): no assertion depends on timing.
  const hold = { timeToFirstToken: 60_000 };

  it('max-num-seqs=1 and 3 concurrent slow requests: running 1, waiting 2', async () => {
    const simulator = await sim({ maxNumSeqs: 1, ...hold });
    const { url } = simulator;
    const answers = [1, 2, 3].map(() => postJson(url, '/v1/chat/completions', chat('hi', { max_tokens: 1 })));
    await eventually(async () => metricValue(await metrics(url), 'vllm:num_requests_waiting{model_name="m"}') === 2);
    expect(metricValue(await metrics(url), 'vllm:num_requests_running{model_name="m"}')).toBe(1);
    expect(simulator.engine.dispatcher.running).toBe(1);
    await simulator.close({ drainMs: 0 });
    expect((await Promise.all(answers)).map((answer) => answer.status)).toEqual([503, 503, 503]);
    expect(simulator.engine.dispatcher.running + simulator.engine.dispatcher.waiting).toBe(0);
  });

  it('with max-waiting-queue-length=1 the third gets 429 (also when streaming)', async () => {
    const simulator = await sim({ maxNumSeqs: 1, maxWaitingQueueLength: 1, ...hold });
    const { url } = simulator;
    const held = [postJson(url, '/v1/chat/completions', chat('hi')), postJson(url, '/v1/chat/completions', chat('hi'))];
    await eventually(async () => metricValue(await metrics(url), 'vllm:num_requests_waiting{model_name="m"}') === 1);
    for (const stream of [false, true]) {
      const third = await postJson(url, '/v1/chat/completions', chat('hi', { max_tokens: 1, stream }));
      expect(third.status).toBe(429);
      expect(third.body.error).toEqual({ message: 'Failed to enqueue request, waiting requests queue is full', type: 'RateLimitError', param: null, code: 429 });
    }
    await simulator.close({ drainMs: 0 });
    await Promise.all(held);
  });

  it('queued requests are all answered, and their queue time is recorded', async () => {
    const { url } = await sim({ maxNumSeqs: 1, timeToFirstToken: 20 });
    const answers = await Promise.all([1, 2, 3].map(() => postJson(url, '/v1/chat/completions', chat('hi', { max_tokens: 1 }))));
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200]);
    const text = await metrics(url);
    expect(metricValue(text, 'vllm:num_requests_running{model_name="m"}')).toBe(0);
    expect(metricValue(text, 'vllm:num_requests_waiting{model_name="m"}')).toBe(0);
    expect(metricValue(text, 'vllm:e2e_request_latency_seconds_count{model_name="m"}')).toBe(3);
  });
});
