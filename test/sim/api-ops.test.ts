import { afterAll, describe, expect, it } from 'vitest';
import { buckets125, REQUEST_LATENCY_BUCKETS, TPOT_BUCKETS, TTFT_BUCKETS } from '../../src/sim/metrics.js';
import { RecordingKvEventSink } from '../../src/sim/kv-events.js';
import { tokenizeText } from '../../src/sim/tokenizer.js';
import { chat, closeAll, eventually, metrics, metricValue, post, postJson, sim, sseEvents } from './helpers.js';

afterAll(closeAll);

const lines = (text: string, prefix: string) => text.split('\n').filter((line) => line.startsWith(prefix));

describe('metrics', () => {
  it('exposes every vLLM series with exact names, labels and buckets', async () => {
    const { url } = await sim({ maxModelLen: 2048, interTokenLatency: 1 });
    await postJson(url, '/v1/chat/completions', chat('hi', { max_tokens: 3, ignore_eos: true }));
    const response = await fetch(`${url}/metrics`);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await response.text();
    for (const name of [
      'vllm:num_requests_running', 'vllm:num_requests_waiting', 'vllm:kv_cache_usage_perc', 'vllm:lora_requests_info', 'vllm:cache_config_info',
      'vllm:prefix_cache_hits_total', 'vllm:prefix_cache_queries_total', 'vllm:prompt_tokens_total', 'vllm:generation_tokens_total',
      'vllm:request_success_total', 'vllm:time_to_first_token_seconds', 'vllm:time_per_output_token_seconds', 'vllm:inter_token_latency_seconds',
      'vllm:request_time_per_output_token_seconds', 'vllm:e2e_request_latency_seconds', 'vllm:request_queue_time_seconds',
      'vllm:request_inference_time_seconds', 'vllm:request_prefill_time_seconds', 'vllm:request_decode_time_seconds',
      'vllm:request_prompt_tokens', 'vllm:request_generation_tokens', 'vllm:request_params_max_tokens', 'vllm:max_num_generation_tokens',
    ]) expect(text).toContain(`# TYPE ${name} `);
    const le = (name: string) => lines(text, `${name}_bucket{`).map((line) => /le="([^"]+)"/.exec(line)![1]).filter((v) => v !== '+Inf').map(Number);
    expect(le('vllm:time_to_first_token_seconds')).toEqual(TTFT_BUCKETS);
    expect(TTFT_BUCKETS.at(-1)).toBe(2560);
    expect(le('vllm:inter_token_latency_seconds')).toEqual(TPOT_BUCKETS);
    expect(le('vllm:e2e_request_latency_seconds')).toEqual(REQUEST_LATENCY_BUCKETS);
    expect(le('vllm:request_prompt_tokens')).toEqual([1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000]);
    expect(lines(text, 'vllm:cache_config_info')).toEqual(['vllm:cache_config_info{block_size="16",num_gpu_blocks="1024"} 1']);
    expect(metricValue(text, 'vllm:request_success_total{model_name="m",finish_reason="length"}')).toBe(1);
    expect(metricValue(text, 'vllm:generation_tokens_total{model_name="m"}')).toBe(3);
    expect(metricValue(text, 'vllm:inter_token_latency_seconds_count{model_name="m"}')).toBe(2);
    expect(metricValue(text, 'vllm:time_per_output_token_seconds_count{model_name="m"}')).toBe(2);
    expect(metricValue(text, 'vllm:request_params_max_tokens_count{model_name="m"}')).toBe(1);
    expect(metricValue(text, 'vllm:kv_cache_usage_perc{model_name="m"}')).toBe(0);
  });

  it('1-2-5 buckets', () => {
    expect(buckets125(1024)).toEqual([1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]);
    expect(buckets125(0)).toEqual([]);
  });

  it('labels use the first alias', async () => {
    const { url } = await sim({ servedModelNames: ['shown', 'other'] });
    expect(await metrics(url)).toContain('vllm:num_requests_running{model_name="shown"} 0');
  });

  it('fake metrics replace the real values; admin updates them', async () => {
    const { url } = await sim({ fakeMetrics: { runningRequests: { kind: 'fixed', value: 7 }, kvCacheUsage: { kind: 'fixed', value: 0.25 }, loras: [{ running: 'a', waiting: 'b', timestamp: 123 }], prefixCacheHits: 5 } });
    await postJson(url, '/v1/chat/completions', chat('hi'));
    let text = await metrics(url);
    expect(metricValue(text, 'vllm:num_requests_running{model_name="m"}')).toBe(7);
    expect(metricValue(text, 'vllm:kv_cache_usage_perc{model_name="m"}')).toBe(0.25);
    expect(metricValue(text, 'vllm:prefix_cache_hits_total{model_name="m"}')).toBe(5);
    expect(metricValue(text, 'vllm:lora_requests_info{max_lora="1",running_lora_adapters="a",waiting_lora_adapters="b"}')).toBe(123);
    expect(text).not.toContain('vllm:request_success_total{');
    expect((await postJson(url, '/admin/config', { 'fake-metrics': { 'waiting-requests': 'squarewave:3:3:1s' } })).status).toBe(200);
    text = await metrics(url);
    expect(metricValue(text, 'vllm:num_requests_waiting{model_name="m"}')).toBe(3);
    expect(metricValue(text, 'vllm:num_requests_running{model_name="m"}')).toBe(7);
  });
});

describe('LoRA adapters', () => {
  it('load registers a model; requests use it; each usage change adds a lora_requests_info series; unload removes it', async () => {
    const sink = new RecordingKvEventSink();
    const { url } = await sim({ enableKvcache: true }, { kvEventSink: sink });
    const initial = lines(await metrics(url), 'vllm:lora_requests_info{');
    expect(initial).toHaveLength(1);
    expect(initial[0]).toMatch(/^vllm:lora_requests_info\{max_lora="1",running_lora_adapters="",waiting_lora_adapters=""\} \d/);
    expect((await post(url, '/v1/load_lora_adapter', { lora_name: 'sql', lora_path: '/adapters/sql' })).status).toBe(200);
    const models = (await (await fetch(`${url}/v1/models`)).json()) as any;
    expect(models.data.map((entry: any) => [entry.id, entry.root, entry.parent])).toEqual([['m', 'm', null], ['sql', '/adapters/sql', 'm']]);
    const answer = await postJson(url, '/v1/chat/completions', { ...chat('a b c d e f g h i j k l m n o p q'), model: 'sql' });
    expect(answer.status).toBe(200);
    expect(answer.body.model).toBe('sql');
    expect(sink.ofType('BlockStored')[0]).toMatchObject({ loraId: 1, loraName: 'sql' });
    const series = lines(await metrics(url), 'vllm:lora_requests_info{');
    expect(series.some((line) => line.includes('running_lora_adapters="sql"'))).toBe(true);
    expect(series.length).toBeGreaterThan(1);
    expect((await post(url, '/v1/unload_lora_adapter', { lora_name: 'sql' })).status).toBe(200);
    expect((await postJson(url, '/v1/chat/completions', { ...chat('x'), model: 'sql' })).status).toBe(404);
    expect((await post(url, '/v1/unload_lora_adapter', { lora_name: 'never-loaded' })).status).toBe(200);
    expect((await post(url, '/v1/load_lora_adapter', '{oops')).status).toBe(400);
  });

  it('--lora-modules preloads adapters', async () => {
    const { url } = await sim({ loraModules: [{ name: 'pre', path: '/p' }] });
    expect((await postJson(url, '/v1/completions', { model: 'pre', prompt: 'hi' })).status).toBe(200);
  });
});

describe('other endpoints', () => {
  it('/v1/models lists aliases with root and max_model_len', async () => {
    const { url } = await sim({ servedModelNames: ['a', 'b'], maxModelLen: 4096 });
    const body = (await (await fetch(`${url}/v1/models`)).json()) as any;
    expect(body.object).toBe('list');
    expect(body.data).toEqual([
      { id: 'a', object: 'model', created: expect.any(Number), owned_by: 'vllm', root: 'm', parent: null, max_model_len: 4096 },
      { id: 'b', object: 'model', created: expect.any(Number), owned_by: 'vllm', root: 'm', parent: null, max_model_len: 4096 },
    ]);
  });

  it('/health is 200 with an empty body; /health/ready is 503 until the startup duration elapsed; no /ready', async () => {
    const slow = await sim({ startupDuration: 60_000 });
    const health = await fetch(`${slow.url}/health`);
    expect(health.status).toBe(200);
    expect(await health.text()).toBe('');
    expect((await fetch(`${slow.url}/health/ready`)).status).toBe(503);
    const ready = await sim();
    expect((await fetch(`${ready.url}/health/ready`)).status).toBe(200);
    expect((await fetch(`${ready.url}/ready`)).status).toBe(404);
  });

  it('/tokenize: prompt or messages, not both', async () => {
    const { url } = await sim({ maxModelLen: 777 });
    const { body } = await postJson(url, '/tokenize', { model: 'm', prompt: 'Hello, world!' });
    expect(body).toEqual({ max_model_len: 777, count: 4, tokens: tokenizeText('Hello, world!').ids, token_strs: null });
    expect(Object.keys(body)).toEqual(['max_model_len', 'count', 'tokens', 'token_strs']);
    const chatTokens = await postJson(url, '/tokenize', { model: 'm', messages: [{ role: 'user', content: 'Hello' }] });
    expect(chatTokens.body.tokens).toEqual([638357778, 638357778, 399020470, 1618501362, 2382766391, 2166458707]);
    expect((await postJson(url, '/tokenize', { model: 'm', prompt: 'a', messages: [{ role: 'user', content: 'b' }] })).status).toBe(400);
  });

  it('/admin/config: GET shows the config; POST updates latency/failure keys for later requests; bad updates change nothing', async () => {
    const { url } = await sim();
    const view = (await (await fetch(`${url}/admin/config`)).json()) as any;
    expect(view).toMatchObject({ model: 'm', 'max-num-seqs': 5, 'time-to-first-token': '0s', 'failure-injection-rate': 0 });
    const updated = await postJson(url, '/admin/config', { 'inter-token-latency': '250ms', 'failure-injection-rate': 100, 'failure-types': ['invalid_api_key'] });
    expect(updated.status).toBe(200);
    expect(updated.body['inter-token-latency']).toBe('250ms');
    const failed = await postJson(url, '/v1/chat/completions', chat('hi'));
    expect(failed.status).toBe(401);
    expect(failed.body.error.message).toBe('Incorrect API key provided.');
    const rejected = await postJson(url, '/admin/config', { 'failure-injection-rate': 0, 'max-num-seqs': 1 });
    expect(rejected.status).toBe(400);
    expect(rejected.body.error.message).toMatch(/'max-num-seqs' is not admin-configurable/);
    expect((await postJson(url, '/admin/config', { 'time-to-first-token': 'later' })).status).toBe(400);
    expect((await postJson(url, '/v1/chat/completions', chat('hi'))).status).toBe(401);
  });

  it('/sleep needs --enable-sleep-mode and VLLM_SERVER_DEV_MODE=1; it clears the KV cache until /wake_up', async () => {
    const sink = new RecordingKvEventSink();
    const { url } = await sim({ enableKvcache: true, enableSleepMode: true }, { kvEventSink: sink, env: { VLLM_SERVER_DEV_MODE: '1' } });
    await postJson(url, '/v1/chat/completions', chat('a b c d e f g h i j k l m n o p'));
    expect((await post(url, '/sleep', {})).status).toBe(200);
    expect(await (await fetch(`${url}/is_sleeping`)).json()).toEqual({ is_sleeping: true });
    expect(sink.events.at(-1)).toEqual({ type: 'AllBlocksCleared' });
    await post(url, '/wake_up', {});
    expect(await (await fetch(`${url}/is_sleeping`)).json()).toEqual({ is_sleeping: false });
    const disabled = await sim({ enableKvcache: true }, { env: {} });
    await post(disabled.url, '/sleep', {});
    expect(await (await fetch(`${disabled.url}/is_sleeping`)).json()).toEqual({ is_sleeping: false });
  });
});

describe('failure injection', () => {
  const expected: Record<string, [number, string, string | null]> = {
    rate_limit: [429, 'Rate limit reached for m in organization org-xxx on requests per min (RPM): Limit 3, Used 3, Requested 1.', null],
    invalid_api_key: [401, 'Incorrect API key provided.', null],
    context_length: [400, "This model's maximum context length is 4096 tokens. However, your messages resulted in 4500 tokens.", 'messages'],
    server_error: [503, 'The server is overloaded or not ready yet.', null],
    invalid_request: [400, "Invalid request: missing required parameter 'model'.", 'model'],
    model_not_found: [404, "The model 'm-nonexistent' does not exist", 'model'],
  };

  it.each(Object.entries(expected))('%s: exact status, message and param; no metrics', async (type, [status, message, param]) => {
    const { url } = await sim({ failureInjectionRate: 100, failureTypes: [type as never] });
    const { body, status: got } = await postJson(url, '/v1/chat/completions', chat('hi', { stream: true }));
    expect(got).toBe(status);
    expect(body.error).toEqual({ message, type: expect.any(String), param, code: status });
    expect(await metrics(url)).not.toContain('vllm:request_success_total{');
  });

  it('all types by default, chosen at the configured rate', async () => {
    const { url } = await sim({ failureInjectionRate: 50, seed: 11n });
    const statuses = await Promise.all(Array.from({ length: 60 }, () => postJson(url, '/v1/completions', { model: 'm', prompt: 'x', max_tokens: 1 }).then((r) => r.status)));
    const failures = statuses.filter((status) => status !== 200);
    expect(failures.length).toBeGreaterThan(10);
    expect(failures.length).toBeLessThan(50);
    expect(new Set(failures).size).toBeGreaterThanOrEqual(3);
  });
});

describe('shutdown and disconnects', () => {
  it('close() drains: new inference requests get 503, in-flight ones finish', async () => {
    const simulator = await sim({ timeToFirstToken: 1_500 });
    const inFlight = postJson(simulator.url, '/v1/chat/completions', chat('hi', { max_tokens: 2 }));
    await eventually(() => simulator.engine.dispatcher.running === 1);
    const closed = simulator.close();
    const refused = await postJson(simulator.url, '/v1/chat/completions', chat('hi'));
    expect(refused.status).toBe(503);
    expect(refused.body.error).toEqual({ message: 'server is shutting down', type: 'InternalServerError', param: null, code: 503 });
    expect((await inFlight).status).toBe(200);
    await closed;
  });

  it('a client that disconnects mid-stream does not stop the worker or break the server', async () => {
    const { url } = await sim({ interTokenLatency: 5, mode: 'echo' });
    const response = await post(url, '/v1/chat/completions', chat(Array.from({ length: 30 }, (_, i) => `t${i}`).join(' '), { stream: true }));
    const reader = response.body!.getReader();
    await reader.read();
    await reader.cancel();
    await eventually(async () => metricValue(await metrics(url), 'vllm:request_success_total{model_name="m",finish_reason="stop"}') === 1);
    expect((await postJson(url, '/v1/chat/completions', chat('still alive'))).status).toBe(200);
  });

  it('clients that give up while queued or waiting (streaming or not) do not break anything', async () => {
    const simulator = await sim({ maxNumSeqs: 1, timeToFirstToken: 100 });
    const { url } = simulator;
    const controllers = [0, 1, 2, 3].map(() => new AbortController());
    const requests = controllers.map((controller, i) =>
      fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(chat('hi', { max_tokens: 2, stream: i % 2 === 0 })),
        signal: controller.signal,
      }).catch((err: Error) => err.name));
    await eventually(() => simulator.engine.dispatcher.waiting === 3);
    for (const controller of controllers) controller.abort();
    expect(await Promise.all(requests)).toEqual(['AbortError', 'AbortError', 'AbortError', 'AbortError']);
    await simulator.engine.whenIdle();
    await eventually(async () => metricValue(await metrics(url), 'vllm:e2e_request_latency_seconds_count{model_name="m"}') === 4);
    expect((await postJson(url, '/v1/chat/completions', chat('still alive'))).status).toBe(200);
  });

  it('close() leaves no server, socket or timer behind', async () => {
    const count = (type: string) => process.getActiveResourcesInfo().filter((resource) => resource === type).length;
    const before = { servers: count('TCPServerWrap'), timers: count('Timeout') };
    const simulator = await sim({ interTokenLatency: 2, timeToFirstToken: 5, enableKvcache: true });
    await sseEvents(await post(simulator.url, '/v1/chat/completions', chat('hi', { stream: true, max_tokens: 3 })));
    await postJson(simulator.url, '/v1/chat/completions', chat('hi'));
    expect(count('TCPServerWrap')).toBe(before.servers + 1);
    await simulator.close();
    // Handles are released by libuv right after their close callbacks.
    await eventually(() => count('TCPServerWrap') === before.servers && count('Timeout') <= before.timers);
  });
});
