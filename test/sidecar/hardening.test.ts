/**
 * Hardening of the sidecar's front door, each against real sockets: SSRF targets parsed once
 * (userinfo tricks never dial another host), client kv_transfer_params removed, the prefill answer
 * cap, statuses for malformed request lines / Host / UTF-8 / prefill answers, and slow clients.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import type { SidecarConfigInput } from '../../sidecar/config.js';
import { DECODE_ANSWER, PREFILL_ANSWER, sendJson, startFakeVllm, type FakeVllm } from './helpers/fake-vllm.js';
import { post, startTestSidecar, type TestSidecar } from './helpers/sidecar.js';

let prefiller: FakeVllm;
let decoder: FakeVllm;
let sidecar: TestSidecar | undefined;
const servers: net.Server[] = [];

const CHAT = { model: 'm', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 5 };

async function setup(config: SidecarConfigInput = {}, prefillAnswer: (res: import('node:http').ServerResponse) => void = (res) => sendJson(res, 200, PREFILL_ANSWER)): Promise<void> {
  prefiller = await startFakeVllm((_r, res) => prefillAnswer(res));
  decoder = await startFakeVllm((_r, res) => sendJson(res, 200, DECODE_ANSWER));
  sidecar = await startTestSidecar(decoder.port, config);
}

afterEach(async () => {
  await sidecar?.close(0);
  sidecar = undefined;
  await prefiller?.close();
  await decoder?.close();
  for (const server of servers.splice(0)) server.close();
});

/** A listener that counts connections (the host an SSRF bypass would reach). */
async function trap(host: string, port: number): Promise<{ connections: () => number }> {
  let count = 0;
  const server = net.createServer((socket) => {
    count++;
    socket.destroy();
  });
  servers.push(server);
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, resolve));
  return { connections: () => count };
}

/** Sends raw bytes, returns everything the sidecar answered until it closed (or `waitMs` of silence). */
function raw(url: string, bytes: string | Buffer, keepOpen = false): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname, () => socket.write(bytes));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (!keepOpen && /\r\n\r\n/.test(Buffer.concat(chunks).toString('latin1'))) setTimeout(() => socket.destroy(), 50);
    });
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', () => undefined);
  });
}

const isRoot = process.getuid?.() === 0;

describe('SSRF: the checked target is the dialled target', () => {
  // The statuses are checked by everyone; the trap on :80 (needs root) also proves nothing connects.
  it('userinfo-style values naming an allowed host are 400 and nothing reaches the other host', async () => {
    const evil = `127.0.${Math.floor(Math.random() * 200) + 20}.4`;
    const hit = isRoot ? await trap(evil, 80) : undefined;
    await setup({ enableSsrfProtection: true, ssrfAllowlist: ['10.0.0.7', 'a', '127.0.0.1'], ecConnector: 'ec-example' });
    for (const value of [`10.0.0.7:80@${evil}`, `a:@${evil}`, `a:80 @${evil}`, `a:x@${evil}`]) {
      const answer = await post(`${sidecar!.url}/v1/chat/completions`, CHAT, { 'x-prefiller-host-port': value });
      expect(answer.status, value).toBe(400);
      expect(answer.json(), value).toMatchObject({ error: { type: 'BadRequestError', message: expect.stringContaining('x-prefiller-host-port') } });
    }
    const image = { ...CHAT, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/1.png' } }] }] };
    const encoderAnswer = await post(`${sidecar!.url}/v1/chat/completions`, image, { 'x-encoder-hosts-ports': `10.0.0.7:80@${evil}` });
    expect(encoderAnswer.status).toBe(400);
    expect(decoder.requests).toHaveLength(0);
    if (hit) {
      expect(hit.connections()).toBe(0);
      // Positive control: the trap does accept connections.
      await new Promise<void>((resolve) => net.connect(80, evil).on('close', () => resolve()).on('error', () => resolve()));
      expect(hit.connections()).toBe(1);
    }
    // Positive control: an allowed target does receive the prefill.
    const ok = await post(`${sidecar!.url}/v1/chat/completions`, CHAT, { 'x-prefiller-host-port': prefiller.hostPort });
    expect(ok.status).toBe(200);
    expect(prefiller.requests).toHaveLength(1);
  });
});

describe('client kv_transfer_params', () => {
  const body = '{"model":"m",  "kv_transfer_params":{"remote_host":"10.9.9.9"},"messages":[{"role":"user","content":"é"}],"max_tokens":5}';

  it('is removed on a decode-only request; every other byte stays', async () => {
    await setup();
    expect((await post(`${sidecar!.url}/v1/chat/completions`, body)).status).toBe(200);
    expect(decoder.requests[0]!.body).toBe('{"model":"m","messages":[{"role":"user","content":"é"}],"max_tokens":5}');
  });

  it('is removed on a P/D request: the decode leg carries only the prefill\'s', async () => {
    await setup();
    expect((await post(`${sidecar!.url}/v1/chat/completions`, body, { 'x-prefiller-host-port': prefiller.hostPort })).status).toBe(200);
    expect(JSON.stringify(decoder.requests[0]!.json!.kv_transfer_params)).not.toContain('10.9.9.9');
    expect(prefiller.requests[0]!.body).not.toContain('10.9.9.9');
  });

  it('is forwarded byte-exact with --trust-client-kv-transfer-params', async () => {
    await setup({ trustClientKvTransferParams: true });
    expect((await post(`${sidecar!.url}/v1/chat/completions`, body)).status).toBe(200);
    expect(decoder.requests[0]!.body).toBe(body);
  });
});

describe('prefill answer cap', () => {
  it('an answer past --max-prefill-answer-bytes fails with 502, is counted, and no decode is sent', async () => {
    const huge = `{"kv_transfer_params":{},"pad":"${'x'.repeat(2 * 1024 * 1024)}"}`;
    await setup({ maxPrefillAnswerBytes: 1024 * 1024 }, (res) => sendJson(res, 200, huge));
    const answer = await post(`${sidecar!.url}/v1/chat/completions`, CHAT, { 'x-prefiller-host-port': prefiller.hostPort });
    expect(answer.status).toBe(502);
    expect(answer.json()).toMatchObject({ error: { message: expect.stringContaining('larger than the limit') } });
    expect(decoder.requests).toHaveLength(0);
    const metrics = await request(`${sidecar!.url}/sidecar/metrics`);
    expect(await metrics.body.text()).toMatch(/^pd_sidecar_prefill_answer_too_large_total 1$/m);
  });

  it('the same answer under the cap is decoded normally', async () => {
    const big = PREFILL_ANSWER.replace('{"kv_transfer_params"', `{"pad":"${'x'.repeat(512 * 1024)}","kv_transfer_params"`);
    await setup({ maxPrefillAnswerBytes: 1024 * 1024 }, (res) => sendJson(res, 200, big));
    expect((await post(`${sidecar!.url}/v1/chat/completions`, CHAT, { 'x-prefiller-host-port': prefiller.hostPort })).status).toBe(200);
    expect(decoder.requests).toHaveLength(1);
  });
});

describe('statuses', () => {
  it('a malformed Host is 400 with a clear message (never undici\'s internals), on both paths', async () => {
    await setup();
    for (const line of ['GET /v1/models HTTP/1.1', 'POST /v1/chat/completions HTTP/1.1']) {
      const answer = await raw(sidecar!.url, `${line}\r\nHost: [::1\r\ncontent-length: 2\r\n\r\n{}`);
      expect(answer).toMatch(/^HTTP\/1\.1 400 /);
      expect(answer).toContain('malformed Host header');
    }
    expect(decoder.requests).toHaveLength(0);
  });

  it('OPTIONS * is 400, not a proxy error', async () => {
    await setup();
    const answer = await raw(sidecar!.url, 'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toContain('"error"');
    expect(decoder.requests).toHaveLength(0);
  });

  it('a prefill answering 200 with non-JSON is a 502 (the upstream is at fault)', async () => {
    await setup({}, (res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('not json');
    });
    const answer = await post(`${sidecar!.url}/v1/chat/completions`, CHAT, { 'x-prefiller-host-port': prefiller.hostPort });
    expect(answer.status).toBe(502);
    expect(answer.json()).toMatchObject({ error: { message: expect.stringContaining('not a JSON object') } });
    expect(decoder.requests).toHaveLength(0);
  });

  it('invalid UTF-8 is 400 on the decode-only and the P/D path alike, nothing forwarded', async () => {
    await setup();
    const bytes = Buffer.concat([Buffer.from('{"model":"m","messages":[{"role":"user","content":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}]}')]);
    for (const headers of [{}, { 'x-prefiller-host-port': prefiller.hostPort }]) {
      const answer = await request(`${sidecar!.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: bytes });
      expect(answer.statusCode).toBe(400);
      expect(await answer.body.json()).toMatchObject({ error: { message: 'request body is not valid UTF-8' } });
    }
    expect(prefiller.requests).toHaveLength(0);
    expect(decoder.requests).toHaveLength(0);
  });
});

describe('slow clients', () => {
  it('headers trickled past --request-header-timeout get 408 and the connection closes', async () => {
    await setup({ requestHeaderTimeoutMs: 200, requestBodyTimeoutMs: 400 });
    const answer = await raw(sidecar!.url, 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n', true);
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('a body that never comes gets 408 past --request-body-timeout and the connection closes', async () => {
    await setup({ requestHeaderTimeoutMs: 200, requestBodyTimeoutMs: 400 });
    const answer = await raw(sidecar!.url, 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"mo', true);
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(decoder.requests).toHaveLength(0);
  });

  it('a prompt client is not affected by the same timeouts', async () => {
    await setup({ requestHeaderTimeoutMs: 200, requestBodyTimeoutMs: 400 });
    expect((await post(`${sidecar!.url}/v1/chat/completions`, CHAT)).status).toBe(200);
  });
});
