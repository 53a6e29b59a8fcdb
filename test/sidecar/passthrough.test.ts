/**
 * No prefill header: the sidecar is a transparent streaming proxy, with TLS on and
 * off; errors in the OpenAI shape (docs/sidecar.md "Errors"); client disconnects abort the upstream request.
 */
import http from 'node:http';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { DECODER_NOT_READY_MESSAGE } from '../../sidecar/respond.js';
import { sendJson, startFakeVllm, startHeldStreamVllm, type FakeVllm } from './helpers/fake-vllm.js';
import { insecureAgent, post, startTestSidecar, type TestSidecar } from './helpers/sidecar.js';

let decoder: FakeVllm;
let sidecar: TestSidecar | undefined;

afterAll(async () => {
  await insecureAgent.close();
});

afterEach(async () => {
  await sidecar?.close(0);
  sidecar = undefined;
  await decoder?.close();
});

describe.each([false, true])('no prefill header (secure-proxy=%s)', (secureProxy) => {
  it.each(['/v1/chat/completions', '/v1/completions', '/v1/embeddings', '/score', '/healthz'])('forwards POST %s to the decoder', async (path) => {
    decoder = await startFakeVllm((r, res) => sendJson(res, 200, { path: r.url, got: r.json }));
    sidecar = await startTestSidecar(decoder.port, { secureProxy });
    expect(sidecar.url.startsWith(secureProxy ? 'https://' : 'http://')).toBe(true);
    const answer = await post(`${sidecar.url}${path}?x=1`, { model: 'm', stream: false }, {}, secureProxy ? insecureAgent : undefined);
    expect(answer.status).toBe(200);
    expect(answer.json()).toEqual({ path: `${path}?x=1`, got: { model: 'm', stream: false } });
    expect(decoder.requests).toHaveLength(1);
    expect(decoder.requests[0]!.method).toBe('POST');
  });
});

describe('transparent proxy', () => {
  it('answers /health locally without asking vLLM', async () => {
    decoder = await startFakeVllm();
    sidecar = await startTestSidecar(decoder.port);
    for (const method of ['GET', 'HEAD'] as const) {
      const answer = await request(`${sidecar.url}/health`, { method });
      expect(answer.statusCode).toBe(200);
      expect(await answer.body.text()).toBe('');
    }
    expect(decoder.requests).toHaveLength(0);
  });

  it('forwards GET and other methods on any path, headers and status untouched', async () => {
    decoder = await startFakeVllm((r, res) => sendJson(res, 418, { method: r.method }, { 'x-upstream': 'yes' }));
    sidecar = await startTestSidecar(decoder.port);
    const answer = await request(`${sidecar.url}/v1/models`, { headers: { authorization: 'Bearer t', 'x-custom': 'c' } });
    expect(answer.statusCode).toBe(418);
    expect(answer.headers['x-upstream']).toBe('yes');
    expect(await answer.body.json()).toEqual({ method: 'GET' });
    const seen = decoder.requests[0]!;
    expect(seen.headers.authorization).toBe('Bearer t');
    expect(seen.headers['x-custom']).toBe('c');
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
  });

  it('never forwards the disaggregation headers, even on pass-through routes', async () => {
    decoder = await startFakeVllm();
    sidecar = await startTestSidecar(decoder.port);
    await post(`${sidecar.url}/v1/embeddings`, { input: 'x' }, { 'x-prefiller-host-port': '10.0.0.1:8000', 'x-encoder-hosts-ports': '10.0.0.2:8000' });
    await post(`${sidecar.url}/v1/chat/completions`, { model: 'm' }, { 'x-prefiller-host-port': '', 'x-encoder-hosts-ports': '10.0.0.2:8000' });
    expect(decoder.requests).toHaveLength(2);
    for (const seen of decoder.requests) {
      expect(seen.headers['x-prefiller-host-port']).toBeUndefined();
      expect(seen.headers['x-encoder-hosts-ports']).toBeUndefined();
    }
  });

  it('streams the answer chunk by chunk (the client reads the first event before the second exists)', async () => {
    const held = await startHeldStreamVllm();
    decoder = held.decoder;
    sidecar = await startTestSidecar(decoder.port);
    const answer = await request(`${sidecar.url}/v1/chat/completions`, { method: 'POST', body: '{"model":"m","stream":true}', headers: { 'content-type': 'application/json' } });
    expect(answer.headers['content-type']).toBe('text/event-stream');
    const reader = answer.body[Symbol.asyncIterator]();
    const first = await reader.next();
    expect(String(first.value)).toBe('data: {"n":1}\n\n');
    held.release();
    let rest = '';
    for (let next = await reader.next(); !next.done; next = await reader.next()) rest += String(next.value);
    expect(rest).toBe('data: [DONE]\n\n');
  });

  it('streams large request bodies through with their length', async () => {
    decoder = await startFakeVllm((r, res) => sendJson(res, 200, { length: r.body.length, cl: r.headers['content-length'] }));
    sidecar = await startTestSidecar(decoder.port);
    const big = JSON.stringify({ input: 'x'.repeat(3 * 1024 * 1024) });
    const answer = await post(`${sidecar.url}/v1/embeddings`, big);
    expect(answer.json()).toEqual({ length: big.length, cl: String(big.length) });
  });

  it('handles Expect: 100-continue itself (curl sends it for big bodies) on both route kinds', async () => {
    decoder = await startFakeVllm((r, res) => sendJson(res, 200, { expect: r.headers.expect ?? null, length: r.body.length }));
    sidecar = await startTestSidecar(decoder.port);
    const body = JSON.stringify({ model: 'm', input: 'x'.repeat(5000) });
    for (const path of ['/v1/embeddings', '/v1/chat/completions']) {
      const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = http.request(`${sidecar!.url}${path}`, { method: 'POST', headers: { expect: '100-continue', 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => { text += chunk.toString(); });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        });
        req.on('continue', () => req.end(body));
        req.on('error', reject);
      });
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.text)).toEqual({ expect: null, length: body.length });
    }
  });

  it('answers 503 with the exact message when vLLM refuses connections', async () => {
    decoder = await startFakeVllm();
    const port = decoder.port;
    await decoder.close();
    sidecar = await startTestSidecar(port);
    for (const path of ['/v1/chat/completions', '/v1/embeddings']) {
      const answer = await post(`${sidecar.url}${path}`, { model: 'm' });
      expect(answer.status).toBe(503);
      expect(answer.headers['content-type']).toBe('application/json');
      expect(answer.json()).toEqual({ error: { message: DECODER_NOT_READY_MESSAGE, type: 'ServiceUnavailable', param: null, code: 503 } });
    }
    expect(sidecar.logs.some((l) => l.msg === 'failed to connect to vLLM decoder')).toBe(true);
  });

  it('answers 502 BadGateway when vLLM fails before its headers', async () => {
    decoder = await startFakeVllm((_r, res) => { res.socket?.destroy(); });
    sidecar = await startTestSidecar(decoder.port);
    const answer = await post(`${sidecar.url}/v1/embeddings`, { input: 'x' });
    expect(answer.status).toBe(502);
    expect(answer.json()).toMatchObject({ error: { type: 'BadGateway', code: 502 } });
  });

  it('cuts the client connection when vLLM aborts mid-body', async () => {
    decoder = await startFakeVllm((_r, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"n":1}\n\n', () => res.socket?.destroy());
    });
    sidecar = await startTestSidecar(decoder.port);
    const answer = await request(`${sidecar.url}/v1/chat/completions`, { method: 'POST', body: '{"model":"m","stream":true}' });
    expect(answer.statusCode).toBe(200);
    await expect(answer.body.text()).rejects.toThrow();
  });

  it('aborts the upstream request when the client disconnects', async () => {
    decoder = await startFakeVllm((_r, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"n":1}\n\n');
      // never ends: only the sidecar hanging up closes this request
    });
    sidecar = await startTestSidecar(decoder.port);
    const controller = new AbortController();
    const answer = await request(`${sidecar.url}/v1/chat/completions`, { method: 'POST', body: '{"model":"m","stream":true}', signal: controller.signal });
    const reader = answer.body[Symbol.asyncIterator]();
    await reader.next();
    controller.abort();
    const upstream = await decoder.nthRequest(1);
    expect(await upstream.closed).toBe('aborted');
  });
});
