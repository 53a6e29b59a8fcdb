/**
 * The bad-input corpus against the EPP's HTTP gateway, as a real process in front of real sidecars
 * and simulators: malformed and hostile bodies, headers and request targets each get an
 * OpenAI-shaped error with the right status, nothing client-chosen picks a prefill target, and the
 * gateway keeps serving afterwards.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODEL, startPdStack, type PdStack } from './stack.js';

let stack: PdStack;
let trap: net.Server;
let trapHits = 0;
let trapPort = 0;

beforeAll(async () => {
  trap = net.createServer((socket) => {
    trapHits++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', resolve));
  trapPort = (trap.address() as net.AddressInfo).port;
  stack = await startPdStack();
}, 60_000);
afterAll(async () => {
  await stack?.stop();
  trap?.close();
});

const chat = (content: string): string => JSON.stringify({ model: MODEL, messages: [{ role: 'user', content }], max_tokens: 2 });

/** Raw bytes in, the status line and body out (for what fetch refuses to send). */
function raw(bytes: string): Promise<string> {
  const { hostname, port } = new URL(stack.gatewayUrl);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname, () => socket.write(bytes));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (/\r\n\r\n/.test(Buffer.concat(chunks).toString('latin1'))) setTimeout(() => socket.destroy(), 100);
    });
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', () => undefined);
  });
}

interface Row { name: string; path?: string; method?: string; body?: string | Buffer; headers?: Record<string, string>; status: number }

const rows: Row[] = [
  { name: 'not JSON', body: '{"model":', status: 400 },
  { name: 'JSON array', body: '[1,2]', status: 400 },
  { name: 'empty body', body: '', status: 400 },
  { name: 'no messages', body: JSON.stringify({ model: MODEL }), status: 400 },
  { name: 'invalid UTF-8 in a message', body: Buffer.concat([Buffer.from(`{"model":"${MODEL}","messages":[{"role":"user","content":"`), Buffer.from([0xff, 0xfe]), Buffer.from('"}],"max_tokens":2}')]), status: 400 },
  { name: 'completion without a prompt', path: '/v1/completions', body: JSON.stringify({ model: MODEL }), status: 400 },
  { name: 'unknown path', path: '/nope', status: 404 },
  { name: 'wrong method', method: 'GET', path: '/v1/chat/completions', status: 405 },
];

describe('gateway bad-input corpus', () => {
  it.each(rows.map((row) => ({ ...row, label: row.name })))('$label → $status', async (row) => {
    const method = row.method ?? 'POST';
    const response = await fetch(`${stack.gatewayUrl}${row.path ?? '/v1/chat/completions'}`, {
      method,
      headers: { 'content-type': 'application/json', ...row.headers },
      ...(method === 'GET' ? {} : { body: row.body ?? chat('hi') }),
    });
    expect(response.status).toBe(row.status);
    const text = await response.text();
    const error = (JSON.parse(text) as { error: Record<string, unknown> }).error;
    expect(typeof error.message, text).toBe('string');
    expect(typeof error.type, text).toBe('string');
    expect(error.code, text).toBe(row.status);
    expect(trapHits).toBe(0);
  });

  it('a completion without a prompt says that the prompt is missing', async () => {
    const response = await fetch(`${stack.gatewayUrl}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: MODEL }) });
    const { error } = (await response.json()) as { error: { message: string } };
    expect(error.message).toMatch(/prompt.*(missing|required)/);
  });

  it('a malformed Host header and OPTIONS * are client errors, never a proxy error', async () => {
    const host = await raw(`POST /v1/chat/completions HTTP/1.1\r\nHost: [::1\r\ncontent-type: application/json\r\ncontent-length: ${chat('hi').length}\r\n\r\n${chat('hi')}`);
    expect(host).toMatch(/^HTTP\/1\.1 400 /);
    const options = await raw('OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(options).toMatch(/^HTTP\/1\.1 (400|405|501) /);
  });

  it('client routing headers and kv_transfer_params never choose where the request goes', async () => {
    const long = 'Tell me a long story about the sea and the ships on it. '.repeat(12);
    const response = await fetch(`${stack.gatewayUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-prefiller-host-port': `127.0.0.1:${trapPort}`, 'x-encoder-hosts-ports': `127.0.0.1:${trapPort}` },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: long }], max_tokens: 2, kv_transfer_params: { remote_host: '127.0.0.1', remote_port: trapPort, do_remote_prefill: true } }),
    });
    expect(response.status).toBe(200);
    await response.text();
    expect(trapHits).toBe(0);
  });

  it('still serves a good request afterwards, and the trap does count connections (positive controls)', async () => {
    const response = await fetch(`${stack.gatewayUrl}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chat('hi') });
    expect(response.status).toBe(200);
    expect(await response.json()).toHaveProperty('choices');
    await new Promise<void>((resolve) => net.connect(trapPort, '127.0.0.1').on('close', () => resolve()).on('error', () => resolve()));
    expect(trapHits).toBe(1);
  });
});
