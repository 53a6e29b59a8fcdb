/**
 * End to end with real processes on 127.0.0.1: two `pd-router sim` instances (prefill and decode)
 * and `pd-router sidecar` in front of the decode one, driven by the official `openai` client,
 * streaming and not. Whether the prefill leg ran is read from the prefill sim's own metrics
 * (`finish_reason="remote_decode"` counts P/D prefills).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI, { type ClientOptions } from 'openai';
import { Agent, fetch as undiciFetch, request } from 'undici';
import { startCli, type RunningProcess } from '../helpers/processes.js';

let prefill: RunningProcess;
let decode: RunningProcess;
let sidecar: RunningProcess;
let secureSidecar: RunningProcess;
let sharedStorage: RunningProcess;
let prefillHostPort: string;

const SIM = ['sim', '--host', '127.0.0.1', '--port', '0', '--model', 'm', '--mode', 'echo', '--max-model-len', '4096'];

beforeAll(async () => {
  [prefill, decode] = await Promise.all([startCli([...SIM, '--role', 'prefill']), startCli([...SIM, '--role', 'decode'])]);
  prefillHostPort = `127.0.0.1:${prefill.port}`;
  const common = ['sidecar', '--port=0', '--host=127.0.0.1', `--vllm-port=${decode.port}`, '--vllm-host=127.0.0.1', '--enable-ssrf-protection', `--ssrf-allowlist=127.0.0.1`];
  [sidecar, secureSidecar, sharedStorage] = await Promise.all([
    startCli([...common, '--secure-proxy=false']),
    startCli(common),
    startCli([...common, '--secure-proxy=false', '--kv-connector=shared-storage']),
  ]);
});

afterAll(async () => {
  await Promise.all([sidecar, secureSidecar, sharedStorage, prefill, decode].map((process) => process?.stop()));
  await selfSigned.close();
});

/** Requests the prefill sim has completed so far, with `finish_reason` matching (nixlv2 P/D prefills: remote_decode). */
async function prefills(finishReason = 'remote_decode'): Promise<number> {
  const text = await (await request(`${prefill.url}/metrics`)).body.text();
  let total = 0;
  for (const match of text.matchAll(/^vllm:request_success_total\{[^}]*finish_reason="([^"]+)"[^}]*\} (\d+)/gm)) {
    if (finishReason === '*' || match[1] === finishReason) total += Number(match[2]);
  }
  return total;
}

const selfSigned = new Agent({ connect: { rejectUnauthorized: false } });

function client(baseURL: string, prefillTarget?: string, secure = false): OpenAI {
  const agent = secure ? selfSigned : undefined;
  return new OpenAI({
    baseURL: `${baseURL}/v1`,
    apiKey: 'not-used',
    maxRetries: 0,
    defaultHeaders: prefillTarget ? { 'x-prefiller-host-port': prefillTarget } : {},
    ...(agent ? { fetch: undiciFetch as unknown as typeof fetch, fetchOptions: { dispatcher: agent } as unknown as ClientOptions['fetchOptions'] } : {}),
  });
}

const PROMPT = 'the quick brown fox jumps over the lazy dog';

describe('sidecar + sims through the openai client', () => {
  it('chat completion with P/D, non-streaming', async () => {
    const before = await prefills();
    const answer = await client(sidecar.url, prefillHostPort).chat.completions.create({ model: 'm', messages: [{ role: 'user', content: PROMPT }], max_tokens: 64 });
    expect(answer.choices[0]!.message.content).toBe(PROMPT);
    expect(answer.choices[0]!.finish_reason).toBe('stop');
    expect(answer.usage?.prompt_tokens_details?.cached_tokens).toBe(0);
    expect(await prefills()).toBe(before + 1);
  });

  it('chat completion with P/D, streaming with usage', async () => {
    const before = await prefills();
    const stream = await client(sidecar.url, prefillHostPort).chat.completions.create({
      model: 'm', messages: [{ role: 'user', content: PROMPT }], max_tokens: 64, stream: true, stream_options: { include_usage: true },
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe(PROMPT);
    expect(usage?.completion_tokens).toBeGreaterThan(0);
    expect(usage?.prompt_tokens_details?.cached_tokens).toBe(0);
    expect(await prefills()).toBe(before + 1);
  });

  it('legacy completions with P/D, streaming and not', async () => {
    const before = await prefills();
    const openai = client(sidecar.url, prefillHostPort);
    const answer = await openai.completions.create({ model: 'm', prompt: PROMPT, max_tokens: 64 });
    expect(answer.choices[0]!.text).toBe(PROMPT);
    let text = '';
    for await (const chunk of await openai.completions.create({ model: 'm', prompt: PROMPT, max_tokens: 64, stream: true })) text += chunk.choices[0]?.text ?? '';
    expect(text).toBe(PROMPT);
    expect(await prefills()).toBe(before + 2);
  });

  it('without the header the sidecar only decodes', async () => {
    const before = await prefills();
    const answer = await client(sidecar.url).chat.completions.create({ model: 'm', messages: [{ role: 'user', content: PROMPT }], max_tokens: 64 });
    expect(answer.choices[0]!.message.content).toBe(PROMPT);
    const models = await client(sidecar.url).models.list();
    expect(models.data.map((model) => model.id)).toContain('m');
    expect(await prefills()).toBe(before);
  });

  it('over HTTPS (--secure-proxy default), streaming', async () => {
    const before = await prefills();
    expect(secureSidecar.url.startsWith('https://')).toBe(true);
    const stream = await client(secureSidecar.url, prefillHostPort, true).chat.completions.create({ model: 'm', messages: [{ role: 'user', content: PROMPT }], max_tokens: 64, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe(PROMPT);
    expect(await prefills()).toBe(before + 1);
  });

  it('surfaces an SSRF denial as a 403 PermissionDeniedError in the client', async () => {
    const openai = client(sidecar.url, 'evil.example.com:80');
    await expect(openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] })).rejects.toMatchObject({ status: 403 });
  });

  it('relays a prefill 4xx (context too long) as the same status in the client', async () => {
    const openai = client(sidecar.url, prefillHostPort);
    await expect(openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: PROMPT }], max_tokens: 100_000 })).rejects.toMatchObject({ status: 400 });
  });
});

describe('shared-storage sidecar + sims', () => {
  const body = { model: 'm', messages: [{ role: 'user' as const, content: PROMPT }], max_tokens: 64, cache_hit_threshold: 0.5 };

  it('a decode-first hit answers without any prefill, streaming and not', async () => {
    const before = await prefills('*');
    const openai = client(sharedStorage.url, prefillHostPort);
    const answer = await openai.chat.completions.create(body as OpenAI.ChatCompletionCreateParamsNonStreaming);
    expect(answer.choices[0]!.message.content).toBe(PROMPT);
    let text = '';
    for await (const chunk of await openai.chat.completions.create({ ...body, stream: true } as OpenAI.ChatCompletionCreateParamsStreaming)) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe(PROMPT);
    expect(await prefills('*')).toBe(before);
  });

  it('a forced cache_threshold runs exactly one prefill per request, streaming and not', async () => {
    const before = await prefills('*');
    const openai = new OpenAI({
      baseURL: `${sharedStorage.url}/v1`, apiKey: 'not-used', maxRetries: 0,
      defaultHeaders: { 'x-prefiller-host-port': prefillHostPort, 'x-cache-threshold-finish-reason': 'true' },
    });
    const answer = await openai.chat.completions.create(body as OpenAI.ChatCompletionCreateParamsNonStreaming);
    expect(answer.choices).toHaveLength(1);
    expect(await prefills('*')).toBe(before + 1);
    const stream = await openai.chat.completions.create({ ...body, stream: true } as OpenAI.ChatCompletionCreateParamsStreaming);
    for await (const chunk of stream) expect(chunk.object).toBe('chat.completion.chunk');
    expect(await prefills('*')).toBe(before + 2);
  });
});
