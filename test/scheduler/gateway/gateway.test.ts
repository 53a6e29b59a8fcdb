/**
 * The built-in HTTP gateway end to end in-process: a real Gateway on 127.0.0.1, a real
 * Director/Scheduler with small real plugins, and a real HTTP upstream that records what it got.
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { defaultParsers } from '../../../scheduler/config/parsers.js';
import { Gateway } from '../../../scheduler/gateway/server.js';
import { PassthroughParser } from '../../../scheduler/plugins/parsers/passthrough-parser.js';
import { EppMetrics } from '../../../scheduler/metrics.js';
import type { ListeningServer } from '../../../src/http/server.js';
import { buildDirector, capturingLogger, endpoint, requestLines } from '../extproc/fixtures.js';

interface Seen { path: string; headers: IncomingHttpHeaders; body: string }

const LONG = 'Tell me a long story about the sea. '.repeat(10);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let upstream: Server;
const seen: Seen[] = [];
/** How the upstream answers the next request (default: JSON with usage). */
let answer: (res: ServerResponse) => void;
const jsonAnswer = (res: ServerResponse): void => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ id: 'c1', model: 'm1', choices: [], usage: { prompt_tokens: 11, completion_tokens: 2, total_tokens: 13 } }));
};

const { logger, lines } = capturingLogger();
const metrics = new EppMetrics();
let fixture: ReturnType<typeof buildDirector>;
let gateway: Gateway;
let server: ListeningServer;

async function startGateway(options: Partial<ConstructorParameters<typeof Gateway>[0]> = {}): Promise<{ gateway: Gateway; server: ListeningServer }> {
  const gw = new Gateway({ director: fixture.director, endpoints: () => fixture.endpoints, logger, metrics, ...options });
  return { gateway: gw, server: await gw.listen(0, '127.0.0.1') };
}

beforeAll(async () => {
  upstream = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      answer(res);
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const port = (upstream.address() as AddressInfo).port;
  fixture = buildDirector({ endpoints: [endpoint('decode-0', '127.0.0.1', port, 'decode'), endpoint('prefill-0', '127.0.0.2', 8000, 'prefill')], threshold: 100, metrics });
  ({ gateway, server } = await startGateway());
});

afterAll(async () => {
  await server.close(100);
  await gateway.close();
  upstream.closeAllConnections();
  await new Promise((resolve) => upstream.close(resolve));
});

beforeEach(() => {
  seen.length = 0;
  lines.length = 0;
  fixture.completions.calls.length = 0;
  answer = jsonAnswer;
});

const chat = (content: string, extra = ''): string => `{"model": "m1", "messages":[{"role":"user","content":${JSON.stringify(content)}}]${extra}}`;

function post(path: string, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
}

async function runningRequests(): Promise<number> {
  return (await metrics.runningRequests.get()).values.reduce((sum, v) => sum + v.value, 0);
}

describe('request id and the request log line', () => {
  it('the client sees the front door\'s request id even when the upstream answers with another', async () => {
    answer = (res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': 'upstream-made-this-up', 'x-upstream-marker': '1' });
      res.end('{"choices":[]}');
    };
    const response = await post('/v1/chat/completions', chat('hi'), { 'x-request-id': 'client-1' });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-upstream-marker')).toBe('1');
    expect(response.headers.get('x-request-id')).toBe('client-1');
  });

  it('logs one line per request: id, model, decode and prefill pods, P/D reason, status, durations, tokens', async () => {
    const response = await post('/v1/chat/completions', chat(LONG), { 'x-request-id': 'client-id.1:a_b-c' });
    expect(response.status).toBe(200);
    await response.text();
    expect(response.headers.get('x-request-id')).toBe('client-id.1:a_b-c');
    expect(seen[0]!.headers['x-request-id']).toBe('client-id.1:a_b-c');
    expect(seen[0]!.headers['x-prefiller-host-port']).toBe('127.0.0.2:8000');
    const [line, ...more] = requestLines(lines, 'client-id.1:a_b-c');
    expect(more).toEqual([]);
    expect(line).toMatchObject({
      level: 30, msg: 'request', requestId: 'client-id.1:a_b-c', frontDoor: 'gateway', model: 'm1', path: '/v1/chat/completions',
      decode: fixture.endpoints[0]!.hostPort, prefill: '127.0.0.2:8000', pdReason: 'long-input', status: 200, completed: true,
      promptTokens: 11, completionTokens: 2,
    });
    expect(line!.schedulingMs).toEqual(expect.any(Number));
    expect(line!.totalMs as number).toBeGreaterThanOrEqual(line!.schedulingMs as number);
  });

  it('replaces a malformed client id, and failed requests are logged with the error and carry the id', async () => {
    const response = await post('/v1/chat/completions', chat('hi'), { 'x-request-id': 'has spaces and ünicode' });
    await response.text();
    const id = response.headers.get('x-request-id')!;
    expect(id).toMatch(UUID);
    expect(seen[0]!.headers['x-request-id']).toBe(id);
    expect(requestLines(lines, id)[0]).toMatchObject({ prefill: null, pdReason: 'short-input', status: 200 });

    const bad = await post('/v1/chat/completions', '{"model":', { 'x-request-id': 'r-bad' });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('x-request-id')).toBe('r-bad');
    expect(requestLines(lines, 'r-bad')).toEqual([expect.objectContaining({ status: 400, decode: null, error: expect.stringContaining('not valid JSON') })]);
  });
});

describe('kv_transfer_params from a client', () => {
  const body = chat('hi', ', "kv_transfer_params": {"remote_host": "10.9.9.9", "do_remote_prefill": true},  "max_tokens": 1.0e1');

  it('is removed before the body reaches the model server; every other member keeps its bytes', async () => {
    await (await post('/v1/chat/completions', body)).text();
    expect(seen[0]!.body).not.toContain('kv_transfer_params');
    expect(seen[0]!.body).toContain('"max_tokens": 1.0e1');
    expect(seen[0]!.body).toContain('"messages":[{"role":"user","content":"hi"}]');
    expect(Number(seen[0]!.headers['content-length'])).toBe(Buffer.byteLength(seen[0]!.body));
  });

  it('is removed from an Anthropic /v1/messages body too; a passthrough-parsed body is forwarded as received', async () => {
    const messages = '{"model":"m","max_tokens":2,"messages":[{"role":"user","content":"hi"}],"kv_transfer_params":{"remote_host":"10.9.9.9"}}';
    expect((await post('/v1/messages', messages)).status).toBe(200);
    expect(seen.at(-1)!.path).toBe('/v1/messages');
    expect(seen.at(-1)!.body).toBe('{"model":"m","max_tokens":2,"messages":[{"role":"user","content":"hi"}]}');
    const raw = '{"prompt": "x", "kv_transfer_params": {"remote_host": "10.9.9.9"}}';
    // The default parser list claims no /v1/custom: refused here, nothing forwarded.
    const forwarded = seen.length;
    const refused = await post('/v1/custom', raw);
    expect(refused.status).toBe(404);
    expect(await refused.json()).toMatchObject({ error: { code: 404, message: expect.stringContaining('/v1/custom') } });
    expect(seen.length).toBe(forwarded);
    // With a passthrough-parser declared (as llm-d Router's default list ends), it is forwarded as received.
    const open = await startGateway({ parsers: [...defaultParsers(), new PassthroughParser()] });
    try {
      const response = await fetch(`${open.server.url}/v1/custom`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: raw });
      expect(response.status).toBe(200);
      await response.text();
      expect(seen.at(-1)!.body).toBe(raw);
    } finally {
      await open.server.close(100);
      await open.gateway.close();
    }
  });

  it('is kept when the caller is trusted (--trust-client-kv-transfer-params)', async () => {
    const trusted = await startGateway({ trustClientKvTransferParams: true });
    try {
      await (await fetch(`${trusted.server.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).text();
      expect(seen[0]!.body).toBe(body);
    } finally {
      await trusted.server.close(100);
      await trusted.gateway.close();
    }
  });
});

describe('OpenAI-shaped answers for routes and validation', () => {
  it('unknown path → 404, wrong method → 405 with Allow', async () => {
    const missing = await fetch(`${server.url}/nope`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { type: 'NotFoundError', code: 404, message: expect.stringContaining('/nope') } });
    const wrong = await fetch(`${server.url}/v1/chat/completions`);
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
    expect(await wrong.json()).toMatchObject({ error: { code: 405, message: expect.stringContaining('POST') } });
    expect(seen).toEqual([]);
  });

  it('a completion without a prompt says that the prompt is missing', async () => {
    const response = await post('/v1/completions', '{"model":"m1"}');
    expect(response.status).toBe(400);
    const { error } = (await response.json()) as { error: { message: string; param: string } };
    expect(error.param).toBe('prompt');
    expect(error.message).toMatch(/prompt.*(missing|required)/);
  });

  it('a prompt of the wrong type says which types are accepted', async () => {
    const response = await post('/v1/completions', '{"model":"m1","prompt":42}');
    const { error } = (await response.json()) as { error: { message: string } };
    expect(error.message).toMatch(/prompt.*string.*array/);
    expect(error.message).toContain('number');
  });
});

describe('ResponseComplete exactly once', () => {
  it('when the client aborts a streamed answer', async () => {
    let upstreamGone!: () => void;
    const gone = new Promise<void>((resolve) => { upstreamGone = resolve; });
    answer = (res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"choices":[]}\n\n');
      res.on('close', upstreamGone);
    };
    const abort = new AbortController();
    const response = await post('/v1/chat/completions', chat('hi', ', "stream": true'), { 'x-request-id': 'r-abort' });
    const reader = response.body!.getReader();
    await reader.read();
    expect(await runningRequests()).toBe(1);
    abort.abort();
    await reader.cancel();
    await gone;
    await expect.poll(() => fixture.completions.calls.length).toBe(1);
    expect(fixture.completions.calls[0]!.response.completed).toBe(false);
    expect(await runningRequests()).toBe(0);
    expect(requestLines(lines, 'r-abort')).toEqual([expect.objectContaining({ status: 200, completed: false })]);
  });

  it('when the upstream cannot be reached', async () => {
    const down = await startGateway({ endpoints: () => fixture.endpoints });
    fixture.endpoints.splice(0, 1, endpoint('decode-0', '127.0.0.1', 1, 'decode'));
    try {
      const response = await fetch(`${down.server.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'r-down' }, body: chat('hi') });
      expect(response.status).toBe(503);
      expect(response.headers.get('x-request-id')).toBe('r-down');
      expect(fixture.completions.calls.map((c) => c.response.completed)).toEqual([false]);
      expect(await runningRequests()).toBe(0);
      expect(requestLines(lines, 'r-down')).toEqual([expect.objectContaining({ level: 40, status: 503, error: expect.stringContaining('not reachable') })]);
    } finally {
      fixture.endpoints.splice(0, 1, endpoint('decode-0', '127.0.0.1', (upstream.address() as AddressInfo).port, 'decode'));
      await down.server.close(100);
      await down.gateway.close();
    }
  });
});

/** Writes `parts` on a raw connection and returns everything the server sent until it closed. */
function rawExchange(url: string, parts: string[]): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => { for (const part of parts) socket.write(part); });
    let received = '';
    socket.on('data', (chunk: Buffer) => { received += chunk.toString('utf8'); });
    socket.on('close', () => resolve(received));
    socket.on('error', reject);
  });
}

describe('slow clients', () => {
  it('headers not complete within the header timeout → 408 and the connection is closed', async () => {
    const slow = await startGateway({ headerTimeoutMs: 200 });
    try {
      const received = await rawExchange(slow.server.url, ['POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: appl']);
      expect(received).toMatch(/^HTTP\/1\.1 408 /);
    } finally {
      await slow.server.close(100);
      await slow.gateway.close();
    }
  });

  it('a body not complete within the body timeout → OpenAI-shaped 408 and the connection is closed', async () => {
    const slow = await startGateway({ bodyTimeoutMs: 200 });
    try {
      const received = await rawExchange(slow.server.url, [
        'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Request-Id: r-slow\r\nContent-Length: 100\r\n\r\n{"model":',
      ]);
      expect(received).toMatch(/^HTTP\/1\.1 408 /);
      expect(received.toLowerCase()).toContain('x-request-id: r-slow');
      expect(received).toContain('"code":408');
      expect(seen).toEqual([]);
      expect(requestLines(lines, 'r-slow')).toEqual([expect.objectContaining({ status: 408 })]);
    } finally {
      await slow.server.close(100);
      await slow.gateway.close();
    }
  });
});
