/**
 * The real CLI (`node dist/bin/pd-router.js sim …`) for the key cases: the official `openai` client,
 * a P/D prefill → decode pair and SIGTERM draining. Latencies are asserted as lower bounds only.
 */
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, startCli, type RunningProcess } from '../helpers/processes.js';
import { eventually, metrics, metricValue, post, postJson } from './helpers.js';

const BASE = ['sim', '--port', '0', '--host', '127.0.0.1', '--model', 'm'];
const started: RunningProcess[] = [];
async function cli(args: string[], env?: Record<string, string>): Promise<RunningProcess> {
  const proc = await startCli([...BASE, ...args], { env });
  started.push(proc);
  return proc;
}
afterAll(async () => {
  await Promise.all(started.map((proc) => proc.stop()));
});

describe('pd-router sim through the openai client', () => {
  let client: OpenAI;
  beforeAll(async () => {
    const proc = await cli(['--seed', '7', '--inter-token-latency', '1ms', '--served-model-name', 'shown', 'm']);
    expect(proc.listeners[0]).toMatchObject({ listener: 'http', port: proc.port, url: proc.url });
    client = new OpenAI({ baseURL: `${proc.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  });

  it('non-streaming chat', async () => {
    const answer = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 8 });
    expect(answer.id).toMatch(/^chatcmpl-/);
    expect(answer.model).toBe('shown');
    expect(answer.choices[0]!.message.role).toBe('assistant');
    expect(answer.choices[0]!.message.content!.length).toBeGreaterThan(0);
    expect(answer.usage!.prompt_tokens).toBe(6);
    expect(answer.usage!.prompt_tokens_details!.cached_tokens).toBe(0);
    expect(['stop', 'length']).toContain(answer.choices[0]!.finish_reason);
  });

  it('streaming chat with usage', async () => {
    const stream = await client.chat.completions.create({
      model: 'm', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 5, stream: true, stream_options: { include_usage: true }, ignore_eos: true,
    } as OpenAI.ChatCompletionCreateParamsStreaming);
    let text = '';
    let contentChunks = 0;
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta.content;
      if (delta) {
        text += delta;
        contentChunks++;
      }
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(contentChunks).toBe(5);
    expect(text.length).toBeGreaterThan(0);
    expect(finish).toBe('length');
    expect(usage).toMatchObject({ prompt_tokens: 6, completion_tokens: 5, total_tokens: 11 });
  });

  it('completions, streaming and not', async () => {
    const answer = await client.completions.create({ model: 'm', prompt: 'Say something', max_tokens: 3 });
    expect(answer.object).toBe('text_completion');
    expect(answer.choices[0]!.text.length).toBeGreaterThan(0);
    const stream = await client.completions.create({ model: 'm', prompt: 'Say something', max_tokens: 3, stream: true });
    const reasons: Array<string | null> = [];
    for await (const chunk of stream) reasons.push(chunk.choices[0]?.finish_reason ?? null);
    expect(reasons.at(-1)).toMatch(/^(stop|length)$/);
  });

  it('errors arrive as the SDK error classes', async () => {
    await expect(client.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'x' }] })).rejects.toMatchObject({
      status: 404, message: expect.stringContaining('The model `nope` does not exist.'),
    });
  });
});

describe('P/D prefill on one simulator, decode on another', () => {
  it('prefill on P: one token, remote_decode, DUMMY params; decode on D streams after the KV transfer, regardless of prompt length', async () => {
    const prefill = await cli(['--prefill-time-per-token', '10ms', '--max-model-len', '100000']);
    const decode = await cli(['--kv-cache-transfer-latency', '50ms', '--prefill-time-per-token', '20ms', '--max-model-len', '100000']);
    const prompt = (words: number) => Array.from({ length: words }, (_, i) => `w${i}`).join(' ');

    const content = prompt(20);
    const prefillStart = performance.now();
    const p = await postJson(prefill.url, '/v1/chat/completions', {
      model: 'm', messages: [{ role: 'user', content }], stream: false, max_tokens: 1, max_completion_tokens: 1,
      kv_transfer_params: { do_remote_decode: true, do_remote_prefill: false, remote_engine_id: null, remote_block_ids: null, remote_host: null, remote_port: null },
    }, { 'x-request-id': 'pd-1' });
    expect(p.status).toBe(200);
    expect(performance.now() - prefillStart).toBeGreaterThanOrEqual(p.body.usage.prompt_tokens * 10 * 0.9);
    expect(p.body.usage.completion_tokens).toBe(1);
    expect(p.body.choices[0].finish_reason).toBe('remote_decode');
    expect(p.body.kv_transfer_params).toEqual({ do_remote_decode: false, do_remote_prefill: true, remote_engine_id: 'DUMMY_ID', remote_block_ids: ['DUMMY_ID'], remote_host: 'DUMMY', remote_port: 1234, tp_size: 1 });

    // 3 000 words at D's 20 ms/token local prefill would take a minute; the KV transfer is 50 ms.
    for (const words of [20, 3_000]) {
      const start = performance.now();
      const response = await post(decode.url, '/v1/chat/completions', {
        model: 'm', messages: [{ role: 'user', content: prompt(words) }], stream: true, max_tokens: 2, kv_transfer_params: p.body.kv_transfer_params,
      });
      const reader = response.body!.getReader();
      const first = await reader.read();
      const firstByte = performance.now() - start;
      expect(response.status).toBe(200);
      expect(first.done).toBe(false);
      expect(firstByte).toBeGreaterThanOrEqual(45);
      while (!(await reader.read()).done) { /* drain */ }
    }
  });
});

describe('process lifecycle', () => {
  it('SIGTERM drains: new requests get 503, the in-flight one finishes, exit code 0', async () => {
    const proc = await cli(['--time-to-first-token', '1500ms']);
    const inFlight = postJson(proc.url, '/v1/chat/completions', { model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
    await eventually(async () => metricValue(await metrics(proc.url), 'vllm:num_requests_running{model_name="m"}') === 1);
    const exited = proc.child.exitCode === null ? once(proc.child, 'exit') : Promise.resolve([proc.child.exitCode]);
    proc.child.kill('SIGTERM');
    await proc.waitForLog((line) => String(line.msg).startsWith('shutting down'));
    const refused = await postJson(proc.url, '/v1/chat/completions', { model: 'm', messages: [{ role: 'user', content: 'hi' }] });
    expect(refused.status).toBe(503);
    expect(refused.body.error.message).toBe('server is shutting down');
    expect((await inFlight).status).toBe(200);
    const [code] = await exited;
    expect(code).toBe(0);
  });

  it('--data-parallel-size 2 runs two independent engines, each with its own listener and metrics', async () => {
    const proc = await startCli([...BASE, '--data-parallel-size', '2', '--mode', 'echo'], { listeners: 2 });
    started.push(proc);
    const [rank0, rank1] = proc.listeners;
    expect(rank0!.rank).toBe(0);
    expect(rank1!.rank).toBe(1);
    expect(rank0!.port).not.toBe(rank1!.port);
    const url1 = String(rank1!.url);
    expect((await postJson(url1, '/v1/completions', { model: 'm', prompt: 'hi there' })).body.choices[0].text).toBe('hi there');
    expect(metricValue(await metrics(url1), 'vllm:request_success_total{model_name="m",finish_reason="stop"}')).toBe(1);
    expect(await metrics(String(rank0!.url))).not.toContain('vllm:request_success_total{');
  });

  it('unknown flags and invalid values fail at start with a clear message', () => {
    const unknown = spawnSync(process.execPath, [CLI, ...BASE, '--no-such-flag'], { encoding: 'utf8' });
    expect(unknown.status).not.toBe(0);
    expect(unknown.stderr).toContain("unknown option '--no-such-flag'");
    const invalid = spawnSync(process.execPath, [CLI, ...BASE, '--block-size', '7'], { encoding: 'utf8' });
    expect(invalid.status).toBe(1);
    expect(invalid.stderr).toContain('token block size should be one of the following');
  });

  it('--help lists flags with their env vars', () => {
    const help = spawnSync(process.execPath, [CLI, 'sim', '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    // Help text wraps at the terminal width: compare with whitespace folded.
    const text = help.stdout.replace(/\s+/g, ' ');
    expect(text).toContain('--max-num-seqs');
    expect(text).toContain('env: SIM_MAX_NUM_SEQS');
    expect(text).toContain('env: PYTHONHASHSEED');
  });
});
