/**
 * The nixlv2 handoff: prefill body mutations, decode body restoration,
 * kv_transfer_params verbatim, request ids, the cached-token rewrite (JSON and SSE), the responses
 * API, token fields, and every prefill failure path (relay, retries, timeout, fallback policy).
 */
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { SSRF_DENIED_BODY } from '../../sidecar/respond.js';
import { PREFILL_KV_TRANSFER_PARAMS } from '../../sidecar/connectors/nixlv2.js';
import {
  DECODE_ANSWER, DECODE_SSE, PREFILL_ANSWER, sendJson, sendSse, startFakeVllm, type FakeVllm,
} from './helpers/fake-vllm.js';
import { post, startTestSidecar, type TestSidecar } from './helpers/sidecar.js';
import type { SidecarConfigInput } from '../../sidecar/config.js';

let prefiller: FakeVllm;
let decoder: FakeVllm;
let sidecar: TestSidecar | undefined;

const CHAT = { model: 'Qwen/Qwen2-0.5B', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 50 };

async function setup(config: SidecarConfigInput = {}): Promise<void> {
  prefiller = await startFakeVllm((_r, res) => sendJson(res, 200, PREFILL_ANSWER));
  decoder = await startFakeVllm((r, res) => (r.json?.stream === true ? sendSse(res, DECODE_SSE) : sendJson(res, 200, DECODE_ANSWER)));
  sidecar = await startTestSidecar(decoder.port, config);
}

afterEach(async () => {
  await sidecar?.close(0);
  sidecar = undefined;
  await prefiller?.close();
  await decoder?.close();
});

function cachedTokens(body: Record<string, unknown>): unknown {
  return ((body.usage as Record<string, unknown>).prompt_tokens_details as Record<string, unknown>).cached_tokens;
}

describe('nixlv2 prefill → decode', () => {
  it('sends exactly one prefill and one decode with the right fields', async () => {
    await setup();
    const target = prefiller.hostPort;
    const answer = await post(`${sidecar!.url}/v1/chat/completions`, { ...CHAT, stream_options: { include_usage: true }, min_tokens: 5 }, { 'x-prefiller-host-port': target });
    expect(answer.status).toBe(200);
    expect(prefiller.requests).toHaveLength(1);
    expect(decoder.requests).toHaveLength(1);

    const p = prefiller.requests[0]!;
    expect(p.url).toBe('/v1/chat/completions');
    expect(p.json!.kv_transfer_params).toEqual({ do_remote_decode: true, do_remote_prefill: false, remote_engine_id: null, remote_block_ids: null, remote_host: null, remote_port: null });
    expect(p.json!.max_tokens).toBe(1);
    expect(p.json!.max_completion_tokens).toBe(1);
    expect(p.json!.stream).toBe(false);
    expect(p.json).not.toHaveProperty('stream_options');
    expect(p.json).not.toHaveProperty('do_remote_decode');
    expect(p.json).not.toHaveProperty('min_tokens');
    expect(p.json!.messages).toEqual(CHAT.messages);
    expect(p.headers['accept-encoding']).toBe('identity');
    expect(p.headers['x-prefiller-host-port']).toBeUndefined();

    const d = decoder.requests[0]!;
    expect(d.json!.kv_transfer_params).toMatchObject({ remote_block_ids: [1, 2, 3], remote_engine_id: '5b5fb28f-3f30-4bdd-9a36-958d52459200' });
    expect(d.json!.max_tokens).toBe(50);
    expect(d.json).not.toHaveProperty('max_completion_tokens');
    expect(d.json).not.toHaveProperty('stream');
    expect(d.json!.stream_options).toEqual({ include_usage: true });
    expect(d.json!.min_tokens).toBe(5);
    expect(d.headers['x-prefiller-host-port']).toBeUndefined();

    const id = p.headers['x-request-id'];
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(d.headers['x-request-id']).toBe(id);
    expect(cachedTokens(answer.json())).toBe(7);
  });

  it('a well-formed client x-request-id is the id of both legs (exactly one header line each)', async () => {
    await setup();
    await post(`${sidecar!.url}/v1/chat/completions`, CHAT, { 'x-prefiller-host-port': prefiller.hostPort, 'x-request-id': 'client-id:1.a_b-c' });
    for (const seen of [prefiller.requests[0]!, decoder.requests[0]!]) {
      const values = seen.rawHeaders.filter((_v, i) => i % 2 === 1 && seen.rawHeaders[i - 1]!.toLowerCase() === 'x-request-id');
      expect(values).toEqual(['client-id:1.a_b-c']);
    }
    const line = sidecar!.logs.find((l) => l.msg === 'request');
    expect(line).toMatchObject({ requestId: 'client-id:1.a_b-c', mode: 'pd', prefillTarget: prefiller.hostPort, status: 200 });
    expect(typeof line!.prefillMs).toBe('number');
    expect(typeof line!.decodeMs).toBe('number');
  });

  it('a malformed client x-request-id is replaced by a generated one on both legs', async () => {
    await setup();
    await post(`${sidecar!.url}/v1/chat/completions`, CHAT, { 'x-prefiller-host-port': prefiller.hostPort, 'x-request-id': 'bad id/../<script>' });
    const p = prefiller.requests[0]!.headers['x-request-id'];
    expect(p).toMatch(/^[0-9a-f-]{36}$/);
    expect(decoder.requests[0]!.headers['x-request-id']).toBe(p);
    expect(sidecar!.logs.find((l) => l.msg === 'request')).toMatchObject({ requestId: p, mode: 'pd' });
  });

  it('an http:// prefixed target is not host:port: 400, nothing is sent', async () => {
    await setup();
    const answer = await post(`${sidecar!.url}/v1/chat/completions`, CHAT, { 'x-prefiller-host-port': `http://${prefiller.hostPort}` });
    expect(answer.status).toBe(400);
    expect(answer.json()).toMatchObject({ error: { type: 'BadRequestError' } });
    expect(prefiller.requests).toHaveLength(0);
    expect(decoder.requests).toHaveLength(0);
  });

  it('passes kv_transfer_params through byte for byte (big integers, unknown keys, key order)', async () => {
    await setup();
    const kv = '{"remote_port":18446744073709551615,"do_remote_prefill":true,"remote_block_ids":[9007199254740993,2],"x_new":{"a":1.50},"remote_engine_id":"e"}';
    prefiller.handler = (_r, res) => sendJson(res, 200, `{"id":"p","kv_transfer_params":${kv},"usage":null}`);
    const body = '{"model":"m","prompt":"hi","seed":12345678901234567890,"max_tokens":3}';
    const answer = await post(`${sidecar!.url}/v1/completions`, body, { 'x-prefiller-host-port': prefiller.hostPort });
    expect(answer.status).toBe(200);
    const decodeBody = decoder.requests[0]!.body;
    expect(decodeBody).toContain(`"kv_transfer_params":${kv}`);
    expect(decodeBody).toContain('"seed":12345678901234567890');
    expect(decodeBody).toContain('"max_tokens":3');
    expect(prefiller.requests[0]!.body).toContain('"seed":12345678901234567890');
    // Prefill reported no cached tokens → 0.
    expect(cachedTokens(answer.json())).toBe(0);
  });

  it('overwrites a client-supplied kv_transfer_params on the prefill leg', async () => {
    await setup();
    await post(`${sidecar!.url}/v1/chat/completions`, { ...CHAT, kv_transfer_params: { do_remote_prefill: true } }, { 'x-prefiller-host-port': prefiller.hostPort });
    expect(prefiller.requests[0]!.body).toContain(`"kv_transfer_params":${PREFILL_KV_TRANSFER_PARAMS}`);
    expect(prefiller.requests[0]!.body.match(/kv_transfer_params/g)).toHaveLength(1);
  });

  it('sends "kv_transfer_params":null to the decoder when the prefill answer lacks it, with a warning', async () => {
    await setup();
    prefiller.handler = (_r, res) => sendJson(res, 200, { id: 'p' });
    const answer = await post(`${sidecar!.url}/v1/chat/completions`, CHAT, { 'x-prefiller-host-port': prefiller.hostPort });
    expect(answer.status).toBe(200);
    expect(decoder.requests[0]!.json!.kv_transfer_params).toBeNull();
    expect(sidecar!.logs.some((l) => l.msg === "warning: missing 'kv_transfer_params' field in prefiller response")).toBe(true);
  });

  it.each(['not json', 'null', '[1]'])('answers 502 BadGateway when the prefill 2xx body is %s (the upstream is at fault, not the client)', async (bad) => {
    await setup();
    prefiller.handler = (_r, res) => sendJson(res, 200, bad);
    const answer = await post(`${sidecar!.url}/v1/chat/completions`, CHAT, { 'x-prefiller-host-port': prefiller.hostPort });
    expect(answer.status).toBe(502);
    expect(answer.json()).toMatchObject({ error: { type: 'BadGateway', code: 502 } });
    expect(decoder.requests).toHaveLength(0);
  });

  it('answers 400 BadRequestError for a body that is not a JSON object, sending nothing', async () => {
    await setup();
    for (const bad of ['{"model":', '[1,2]']) {
      const answer = await post(`${sidecar!.url}/v1/chat/completions`, bad, { 'x-prefiller-host-port': prefiller.hostPort });
      expect(answer.status).toBe(400);
      expect(answer.json()).toMatchObject({ error: { type: 'BadRequestError', code: 400 } });
    }
    expect(prefiller.requests).toHaveLength(0);
    expect(decoder.requests).toHaveLength(0);
  });

  it('answers 413 for a body past --max-body-bytes, declared or chunked, sending nothing', async () => {
    await setup({ maxBodyBytes: 1000 });
    const big = JSON.stringify({ ...CHAT, pad: 'x'.repeat(2000) });
    const declared = await post(`${sidecar!.url}/v1/chat/completions`, big, { 'x-prefiller-host-port': prefiller.hostPort });
    expect(declared.status).toBe(413);
    const chunked = await request(`${sidecar!.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-prefiller-host-port': prefiller.hostPort },
      body: Readable.from([Buffer.from(big.slice(0, 800)), Buffer.from(big.slice(800))]),
    });
    expect(chunked.statusCode).toBe(413);
    expect(await chunked.body.json()).toMatchObject({ error: { type: 'RequestEntityTooLarge', code: 413 } });
    expect(prefiller.requests).toHaveLength(0);
    expect(decoder.requests).toHaveLength(0);
  });

  it('answers 403 plain text on SSRF denial and sends nothing anywhere', async () => {
    await setup({ enableSsrfProtection: true, ssrfAllowlist: ['10.1.2.3'] });
    const answer = await post(`${sidecar!.url}/v1/chat/completions`, CHAT, { 'x-prefiller-host-port': prefiller.hostPort });
    expect(answer.status).toBe(403);
    expect(answer.text).toBe(SSRF_DENIED_BODY);
    expect(answer.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(answer.headers['x-content-type-options']).toBe('nosniff');
    expect(prefiller.requests).toHaveLength(0);
    expect(decoder.requests).toHaveLength(0);
    expect(sidecar!.logs.find((l) => l.msg === 'SSRF protection: prefill target not in allowlist')).toMatchObject({ target: prefiller.hostPort });
  });

  it('encoders without an EC connector (EPD not enabled) never change the route; both headers are stripped', async () => {
    await setup({ enableSsrfProtection: true, ssrfAllowlist: ['127.0.0.1'] });
    const answer = await post(`${sidecar!.url}/v1/chat/completions`, CHAT, { 'x-prefiller-host-port': prefiller.hostPort, 'x-encoder-hosts-ports': '127.0.0.1:9, 10.6.6.6:9' });
    expect(answer.status).toBe(200);
    for (const seen of [prefiller.requests[0]!, decoder.requests[0]!]) {
      expect(seen.headers['x-encoder-hosts-ports']).toBeUndefined();
      expect(seen.headers['x-prefiller-host-port']).toBeUndefined();
    }
    expect(sidecar!.logs.find((l) => l.msg === 'SSRF protection: encoder target not in allowlist, removing from list')).toMatchObject({ target: '10.6.6.6:9' });
  });

  it('allows an allowlisted target on any port', async () => {
    await setup({ enableSsrfProtection: true, ssrfAllowlist: ['127.0.0.1:1'] });
    const answer = await post(`${sidecar!.url}/v1/chat/completions`, CHAT, { 'x-prefiller-host-port': prefiller.hostPort });
    expect(answer.status).toBe(200);
    expect(prefiller.requests).toHaveLength(1);
  });
});

describe('cached-token rewrite', () => {
  it.each([
    ['decoder details {}', PREFILL_ANSWER, '{"id":"d","choices":[],"usage":{"prompt_tokens":64,"completion_tokens":1,"total_tokens":65,"prompt_tokens_details":{}}}', 7],
    ['decoder details missing', PREFILL_ANSWER, '{"id":"d","choices":[],"usage":{"prompt_tokens":64,"completion_tokens":1,"total_tokens":65}}', 7],
    ['prefill details {}', '{"kv_transfer_params":{},"usage":{"prompt_tokens_details":{}}}', DECODE_ANSWER, 0],
    ['prefill reports 0', '{"kv_transfer_params":{},"usage":{"prompt_tokens_details":{"cached_tokens":0}}}', DECODE_ANSWER, 0],
  ])('non-stream: %s', async (_name, prefillAnswer, decodeAnswer, expected) => {
    await setup();
    prefiller.handler = (_r, res) => sendJson(res, 200, prefillAnswer);
    decoder.handler = (_r, res) => sendJson(res, 200, decodeAnswer);
    const answer = await post(`${sidecar!.url}/v1/chat/completions`, CHAT, { 'x-prefiller-host-port': prefiller.hostPort });
    expect(cachedTokens(answer.json())).toBe(expected);
    expect(Number(answer.headers['content-length'])).toBe(Buffer.byteLength(answer.text));
  });

  it('SSE: replaces 49 by 7 in the usage chunk, keeps content chunks and [DONE]', async () => {
    await setup();
    const answer = await post(`${sidecar!.url}/v1/chat/completions`, { ...CHAT, stream: true, stream_options: { include_usage: true } }, { 'x-prefiller-host-port': prefiller.hostPort });
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toContain('text/event-stream');
    expect(answer.headers['content-length']).toBeUndefined();
    expect(answer.text).toContain('"content":"hello"');
    expect(answer.text).toContain('"cached_tokens":7');
    expect(answer.text).not.toContain('"cached_tokens":49');
    expect(answer.text).toContain('data: [DONE]');
    expect(decoder.requests[0]!.json!.stream).toBe(true);
    expect(prefiller.requests[0]!.json!.stream).toBe(false);
  });

  it('SSE: adds the details when the usage chunk lacks them', async () => {
    await setup();
    decoder.handler = (_r, res) => sendSse(res, 'data: {"choices":[],"usage":{"prompt_tokens":64,"completion_tokens":1,"total_tokens":65}}\n\ndata: [DONE]\n');
    const answer = await post(`${sidecar!.url}/v1/chat/completions`, { ...CHAT, stream: true }, { 'x-prefiller-host-port': prefiller.hostPort });
    expect(answer.text).toContain('"prompt_tokens_details":{"cached_tokens":7}');
    expect(answer.text.endsWith('data: [DONE]\n')).toBe(true);
  });
});

describe('responses API and token fields', () => {
  it('caps max_output_tokens on the prefill and restores it on the decode', async () => {
    await setup();
    await post(`${sidecar!.url}/v1/responses`, { model: 'gpt-4o', input: 'Tell me a story', max_output_tokens: 100 }, { 'x-prefiller-host-port': prefiller.hostPort });
    expect(prefiller.requests[0]!.url).toBe('/v1/responses');
    expect(prefiller.requests[0]!.json!.max_output_tokens).toBe(1);
    expect(prefiller.requests[0]!.json).not.toHaveProperty('max_tokens');
    expect(decoder.requests[0]!.json!.max_output_tokens).toBe(100);
  });

  it('adds max_output_tokens:1 to the prefill and leaves it absent on the decode when the client omitted it', async () => {
    await setup();
    await post(`${sidecar!.url}/v1/responses`, { model: 'gpt-4o', input: 'Hello!' }, { 'x-prefiller-host-port': prefiller.hostPort });
    expect(prefiller.requests[0]!.json!.max_output_tokens).toBe(1);
    expect(decoder.requests[0]!.json).not.toHaveProperty('max_output_tokens');
  });

  it('streaming responses request: prefill stream false, decode stream true', async () => {
    await setup();
    await post(`${sidecar!.url}/v1/responses`, { model: 'gpt-4o', input: 'Hello!', stream: true }, { 'x-prefiller-host-port': prefiller.hostPort });
    expect(prefiller.requests[0]!.json!.stream).toBe(false);
    expect(decoder.requests[0]!.json!.stream).toBe(true);
  });

  it('responses without a header go to the decoder only', async () => {
    await setup();
    await post(`${sidecar!.url}/v1/responses`, { model: 'gpt-4o', input: 'Hello!' });
    expect(prefiller.requests).toHaveLength(0);
    expect(decoder.requests).toHaveLength(1);
  });

  it('max_tokens 50 + max_completion_tokens 100 → prefill 1/1, decode keeps both', async () => {
    await setup();
    await post(`${sidecar!.url}/v1/chat/completions`, { ...CHAT, max_tokens: 50, max_completion_tokens: 100 }, { 'x-prefiller-host-port': prefiller.hostPort });
    expect(prefiller.requests[0]!.json).toMatchObject({ max_tokens: 1, max_completion_tokens: 1 });
    expect(decoder.requests[0]!.json).toMatchObject({ max_tokens: 50, max_completion_tokens: 100 });
  });
});

describe('prefill failures', () => {
  it.each([400, 404, 422, 451])('relays a %i answer with its headers and body', async (status) => {
    await setup();
    prefiller.handler = (_r, res) => sendJson(res, status, { error: 'nope' }, { 'x-from-prefill': '1' });
    const answer = await post(`${sidecar!.url}/v1/chat/completions`, CHAT, { 'x-prefiller-host-port': prefiller.hostPort });
    expect(answer.status).toBe(status);
    expect(answer.headers['x-from-prefill']).toBe('1');
    expect(answer.json()).toEqual({ error: 'nope' });
    expect(decoder.requests).toHaveLength(0);
  });

  it('relays a 5xx by default (no fallback, no retry)', async () => {
    await setup();
    prefiller.handler = (_r, res) => sendJson(res, 503, { error: 'busy' });
    const answer = await post(`${sidecar!.url}/v1/chat/completions`, CHAT, { 'x-prefiller-host-port': prefiller.hostPort });
    expect(answer.status).toBe(503);
    expect(answer.json()).toEqual({ error: 'busy' });
    expect(prefiller.requests).toHaveLength(1);
    expect(decoder.requests).toHaveLength(0);
  });

  it('retries 502/503/504 up to --prefill-max-retries, then succeeds', async () => {
    await setup({ prefillMaxRetries: 2, prefillRetryBackoffMs: 1 });
    const statuses = [502, 504];
    prefiller.handler = (_r, res) => {
      const status = statuses.shift();
      if (status) sendJson(res, status, { error: status });
      else sendJson(res, 200, PREFILL_ANSWER);
    };
    const answer = await post(`${sidecar!.url}/v1/chat/completions`, CHAT, { 'x-prefiller-host-port': prefiller.hostPort });
    expect(answer.status).toBe(200);
    expect(prefiller.requests).toHaveLength(3);
    expect(decoder.requests).toHaveLength(1);
    expect(sidecar!.logs.filter((l) => l.msg === 'retrying prefill request')).toHaveLength(2);
  });

  it('does not retry a 500', async () => {
    await setup({ prefillMaxRetries: 2, prefillRetryBackoffMs: 1 });
    prefiller.handler = (_r, res) => sendJson(res, 500, { error: 'boom' });
    const answer = await post(`${sidecar!.url}/v1/chat/completions`, CHAT, { 'x-prefiller-host-port': prefiller.hostPort });
    expect(answer.status).toBe(500);
    expect(prefiller.requests).toHaveLength(1);
  });

  it('answers 502 BadGateway for an unreachable prefiller, after retrying the connection', async () => {
    await setup({ prefillMaxRetries: 1, prefillRetryBackoffMs: 1 });
    const port = prefiller.port;
    await prefiller.close();
    const answer = await post(`${sidecar!.url}/v1/chat/completions`, CHAT, { 'x-prefiller-host-port': `127.0.0.1:${port}` });
    expect(answer.status).toBe(502);
    expect(answer.json()).toMatchObject({ error: { type: 'BadGateway', code: 502 } });
    expect(sidecar!.logs.filter((l) => l.msg === 'retrying prefill request')).toHaveLength(1);
    expect(decoder.requests).toHaveLength(0);
  });

  it('answers 504 GatewayTimeout when the prefill hangs past --prefill-timeout, and aborts it', async () => {
    await setup({ prefillTimeoutMs: 50 });
    prefiller.handler = () => undefined; // never answers
    const answer = await post(`${sidecar!.url}/v1/chat/completions`, CHAT, { 'x-prefiller-host-port': prefiller.hostPort });
    expect(answer.status).toBe(504);
    expect(answer.json()).toMatchObject({ error: { type: 'GatewayTimeout', code: 504 } });
    expect(await prefiller.requests[0]!.closed).toBe('aborted');
    expect(decoder.requests).toHaveLength(0);
  });

  it('falls back to a local decode with the original body under --prefill-failure-policy=fallback', async () => {
    await setup({ prefillFailurePolicy: 'fallback' });
    prefiller.handler = (_r, res) => sendJson(res, 503, { error: 'busy' });
    const body = JSON.stringify({ ...CHAT, stream_options: { include_usage: true } });
    const answer = await post(`${sidecar!.url}/v1/chat/completions`, body, { 'x-prefiller-host-port': prefiller.hostPort });
    expect(answer.status).toBe(200);
    expect(decoder.requests).toHaveLength(1);
    expect(decoder.requests[0]!.body).toBe(body);
    // No rewrite on a fallback: the decoder's own cached tokens stand.
    expect(cachedTokens(answer.json())).toBe(49);
    expect(sidecar!.logs.some((l) => l.msg === 'fallback to decode')).toBe(true);
  });

  it('still relays 400–451 under the fallback policy', async () => {
    await setup({ prefillFailurePolicy: 'fallback' });
    prefiller.handler = (_r, res) => sendJson(res, 400, { error: 'bad' });
    const answer = await post(`${sidecar!.url}/v1/chat/completions`, CHAT, { 'x-prefiller-host-port': prefiller.hostPort });
    expect(answer.status).toBe(400);
    expect(decoder.requests).toHaveLength(0);
  });

  it('stops everything when the client disconnects during the prefill: no decode, no fallback', async () => {
    await setup({ prefillFailurePolicy: 'fallback' });
    prefiller.handler = () => undefined; // holds the prefill
    const controller = new AbortController();
    const pending = request(`${sidecar!.url}/v1/chat/completions`, {
      method: 'POST', body: JSON.stringify(CHAT), signal: controller.signal,
      headers: { 'content-type': 'application/json', 'x-prefiller-host-port': prefiller.hostPort },
    }).catch((err: unknown) => err);
    const seen = await prefiller.nthRequest(1);
    controller.abort();
    await pending;
    expect(await seen.closed).toBe('aborted');
    await sidecar!.close(1000);
    sidecar = undefined;
    expect(decoder.requests).toHaveLength(0);
  });

  it('aborts the decode leg when the client disconnects mid-stream', async () => {
    await setup();
    decoder.handler = (_r, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"choices":[{"delta":{"content":"a"}}]}\n\n');
    };
    const controller = new AbortController();
    const answer = await request(`${sidecar!.url}/v1/chat/completions`, {
      method: 'POST', body: JSON.stringify({ ...CHAT, stream: true }), signal: controller.signal,
      headers: { 'content-type': 'application/json', 'x-prefiller-host-port': prefiller.hostPort },
    });
    await answer.body[Symbol.asyncIterator]().next();
    controller.abort();
    expect(await (await decoder.nthRequest(1)).closed).toBe('aborted');
  });
});
