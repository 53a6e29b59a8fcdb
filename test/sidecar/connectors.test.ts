/** The shared-storage and sglang connectors. */
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { sendJson, sendSse, startFakeVllm, type FakeVllm } from './helpers/fake-vllm.js';
import { post, startTestSidecar, type TestSidecar } from './helpers/sidecar.js';

let prefiller: FakeVllm;
let decoder: FakeVllm;
let sidecar: TestSidecar | undefined;

afterEach(async () => {
  await sidecar?.close(2000);
  sidecar = undefined;
  await prefiller?.close();
  await decoder?.close();
});

const CHAT = { model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 50, max_completion_tokens: 100 };
const THRESHOLD_JSON = { id: 'd', choices: [{ index: 0, finish_reason: 'cache_threshold', message: { role: 'assistant', content: '' } }], usage: { prompt_tokens: 5, completion_tokens: 0 } };
const OK_JSON = { id: 'd', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'done' } }] };

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('shared-storage', () => {
  async function setup(decode: Parameters<typeof startFakeVllm>[0], config = {}): Promise<void> {
    prefiller = await startFakeVllm((_r, res) => sendJson(res, 200, {}));
    decoder = await startFakeVllm(decode);
    sidecar = await startTestSidecar(decoder.port, { kvConnector: 'shared-storage', ...config });
  }

  it('caps every token field on the prefill, decodes with cache_hit_threshold 0, no kv params, one request id', async () => {
    await setup((_r, res) => sendJson(res, 200, OK_JSON));
    const answer = await post(`${sidecar!.url}/v1/chat/completions`, { ...CHAT, min_tokens: 3 }, { 'x-prefiller-host-port': prefiller.hostPort });
    expect(answer.status).toBe(200);
    expect(answer.json()).toEqual(OK_JSON);
    const p = prefiller.requests[0]!;
    expect(p.json).toMatchObject({ max_tokens: 1, max_completion_tokens: 1, cache_hit_threshold: 0 });
    expect(p.json).not.toHaveProperty('kv_transfer_params');
    expect(p.json).not.toHaveProperty('min_tokens');
    expect(p.headers['x-request-id']).toMatch(UUID_RE);
    const d = decoder.requests[0]!;
    expect(d.json).toMatchObject({ max_tokens: 50, max_completion_tokens: 100, cache_hit_threshold: 0, min_tokens: 3 });
    expect(d.headers['x-request-id']).toBe(p.headers['x-request-id']);
  });

  it('caps max_output_tokens for the responses API (upstream quirk fixed)', async () => {
    await setup((_r, res) => sendJson(res, 200, OK_JSON));
    await post(`${sidecar!.url}/v1/responses`, { model: 'm', input: 'x', max_output_tokens: 9 }, { 'x-prefiller-host-port': prefiller.hostPort });
    expect(prefiller.requests[0]!.json).toMatchObject({ max_output_tokens: 1 });
    expect(decoder.requests[0]!.json).toMatchObject({ max_output_tokens: 9 });
  });

  it('relays a prefill error as status + body, without its headers', async () => {
    await setup((_r, res) => sendJson(res, 200, OK_JSON));
    prefiller.handler = (_r, res) => sendJson(res, 500, { error: 'x' }, { 'x-from-prefill': '1' });
    const answer = await post(`${sidecar!.url}/v1/chat/completions`, CHAT, { 'x-prefiller-host-port': prefiller.hostPort });
    expect(answer.status).toBe(500);
    expect(answer.json()).toEqual({ error: 'x' });
    expect(answer.headers['x-from-prefill']).toBeUndefined();
    expect(decoder.requests).toHaveLength(0);
  });

  describe('decode-first (cache_hit_threshold present)', () => {
    it('a decode that meets the threshold is the answer: no prefill', async () => {
      await setup((_r, res) => sendJson(res, 200, OK_JSON, { 'x-decoder': '1' }));
      const answer = await post(`${sidecar!.url}/v1/chat/completions`, { ...CHAT, cache_hit_threshold: 0.8 }, { 'x-prefiller-host-port': prefiller.hostPort });
      expect(answer.status).toBe(200);
      expect(answer.json()).toEqual(OK_JSON);
      expect(answer.headers['x-decoder']).toBe('1');
      expect(prefiller.requests).toHaveLength(0);
      expect(decoder.requests).toHaveLength(1);
      expect(decoder.requests[0]!.json!.cache_hit_threshold).toBe(0.8);
    });

    it('a cache_threshold answer runs P/D: 1 prefill, then the decode with threshold 0', async () => {
      await setup((r, res) => sendJson(res, 200, r.json!.cache_hit_threshold === 0 ? OK_JSON : THRESHOLD_JSON));
      const answer = await post(`${sidecar!.url}/v1/chat/completions`, { ...CHAT, cache_hit_threshold: 0.8 }, { 'x-prefiller-host-port': prefiller.hostPort });
      expect(answer.json()).toEqual(OK_JSON);
      expect(prefiller.requests).toHaveLength(1);
      expect(decoder.requests).toHaveLength(2);
      expect(decoder.requests[1]!.json!.cache_hit_threshold).toBe(0);
    });

    it('relays a decode-first error status + body and stops', async () => {
      await setup((_r, res) => sendJson(res, 429, { error: 'slow down' }));
      const answer = await post(`${sidecar!.url}/v1/chat/completions`, { ...CHAT, cache_hit_threshold: 0.5 }, { 'x-prefiller-host-port': prefiller.hostPort });
      expect(answer.status).toBe(429);
      expect(answer.json()).toEqual({ error: 'slow down' });
      expect(prefiller.requests).toHaveLength(0);
    });

    it('answers 500 InternalServerError for a non-JSON decode-first answer', async () => {
      await setup((_r, res) => sendJson(res, 200, 'not json'));
      const answer = await post(`${sidecar!.url}/v1/chat/completions`, { ...CHAT, cache_hit_threshold: 0.5 }, { 'x-prefiller-host-port': prefiller.hostPort });
      expect(answer.status).toBe(500);
      expect(answer.json()).toMatchObject({ error: { type: 'InternalServerError', code: 500 } });
    });

    it('streaming: a cache_threshold event drops the buffer and runs P/D', async () => {
      await setup((r, res) => r.json!.cache_hit_threshold === 0
        ? sendSse(res, 'data: {"choices":[{"delta":{"content":"ok"},"finish_reason":null}]}\n\ndata: [DONE]\n\n')
        : sendSse(res, 'data: {"choices":[{"delta":{},"finish_reason":"cache_threshold"}]}\n\ndata: [DONE]\n\n'));
      const answer = await post(`${sidecar!.url}/v1/chat/completions`, { ...CHAT, stream: true, cache_hit_threshold: 0.5 }, { 'x-prefiller-host-port': prefiller.hostPort });
      expect(answer.text).toBe('data: {"choices":[{"delta":{"content":"ok"},"finish_reason":null}]}\n\ndata: [DONE]\n\n');
      expect(prefiller.requests).toHaveLength(1);
      expect(prefiller.requests[0]!.json!.stream).toBe(true);
    });

    it('streaming: a normal stream is flushed and streamed on, no prefill', async () => {
      let release!: () => void;
      const released = new Promise<void>((resolve) => { release = resolve; });
      await setup(async (_r, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: {"choices":[{"delta":{"content":"a"}}]}\n\n');
        res.write('data: {"choices":[{"delta":{"content":"b"}}]}\n\n');
        await released;
        res.end('data: [DONE]\n\n');
      });
      const answer = await request(`${sidecar!.url}/v1/chat/completions`, {
        method: 'POST', body: JSON.stringify({ ...CHAT, stream: true, cache_hit_threshold: 0.5 }),
        headers: { 'content-type': 'application/json', 'x-prefiller-host-port': prefiller.hostPort },
      });
      expect(answer.headers['content-type']).toBe('text/event-stream');
      const reader = answer.body[Symbol.asyncIterator]();
      let text = '';
      while (!text.includes('"b"')) text += String((await reader.next()).value);
      release();
      for (let next = await reader.next(); !next.done; next = await reader.next()) text += String(next.value);
      expect(text).toBe('data: {"choices":[{"delta":{"content":"a"}}]}\n\ndata: {"choices":[{"delta":{"content":"b"}}]}\n\ndata: [DONE]\n\n');
      expect(prefiller.requests).toHaveLength(0);
    });
  });
});

describe('sglang', () => {
  it('sends the same body with bootstrap fields to both legs; the decode answer is the client answer', async () => {
    prefiller = await startFakeVllm((_r, res) => sendJson(res, 200, { prefill: true }));
    decoder = await startFakeVllm((_r, res) => sendJson(res, 200, { decode: true }));
    sidecar = await startTestSidecar(decoder.port, { kvConnector: 'sglang' });
    const answer = await post(`${sidecar.url}/v1/chat/completions`, CHAT, { 'x-prefiller-host-port': prefiller.hostPort });
    expect(answer.json()).toEqual({ decode: true });
    const p = await prefiller.nthRequest(1);
    const d = decoder.requests[0]!;
    expect(p.body).toBe(d.body);
    expect(d.json).toMatchObject({ ...CHAT, bootstrap_host: '127.0.0.1', bootstrap_port: 8998 });
    const room = /"bootstrap_room":(\d+)/.exec(d.body)![1]!;
    expect(BigInt(room) > 2n ** 53n).toBe(true);
    expect(/"bootstrap_room":(\d+)/.exec(p.body)![1]).toBe(room);
    expect(p.headers['x-request-id']).toMatch(UUID_RE);
    expect(d.headers['x-request-id']).toBe(p.headers['x-request-id']);
  });

  it('survives a prefill that finishes after the decode (200, no crash), and shutdown waits for it', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => { release = resolve; });
    prefiller = await startFakeVllm(async (_r, res) => {
      await released;
      sendJson(res, 200, { prefill: true });
    });
    decoder = await startFakeVllm((_r, res) => sendJson(res, 200, { decode: true }));
    sidecar = await startTestSidecar(decoder.port, { kvConnector: 'sglang', sglangBootstrapPort: 7000 });
    const answer = await post(`${sidecar.url}/v1/chat/completions`, CHAT, { 'x-prefiller-host-port': prefiller.hostPort });
    expect(answer.status).toBe(200);
    const p = await prefiller.nthRequest(1);
    expect(p.json!.bootstrap_port).toBe(7000);
    const closing = sidecar.close(5000);
    release();
    await closing;
    sidecar = undefined;
    expect(await p.closed).toBe('finished');
  });

  it('aborts a detached prefill that outlives the shutdown grace period', async () => {
    prefiller = await startFakeVllm(() => undefined); // never answers
    decoder = await startFakeVllm((_r, res) => sendJson(res, 200, { decode: true }));
    sidecar = await startTestSidecar(decoder.port, { kvConnector: 'sglang', prefillTimeoutMs: 0 });
    const answer = await post(`${sidecar.url}/v1/chat/completions`, CHAT, { 'x-prefiller-host-port': prefiller.hostPort });
    expect(answer.status).toBe(200);
    const p = await prefiller.nthRequest(1);
    await sidecar.close(50);
    sidecar = undefined;
    expect(await p.closed).toBe('aborted');
  });
});
