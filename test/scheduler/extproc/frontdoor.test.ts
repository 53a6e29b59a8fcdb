/**
 * What the ext_proc front door shares with the HTTP gateway through the request lifecycle: the
 * request id (request header mutation, response header, error replies), one log line per request
 * and a client's kv_transfer_params removed from the forwarded body.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startExtProcServer, type ExtProcServer } from '../../../scheduler/extproc/server.js';
import {
  EnvoyLikeClient, bodyOf, immediateOf, isRequestBodyEnd, isResponseBodyEnd, requestHeaders, responseBody, responseHeaders, setHeadersOf,
} from './envoy-client.js';
import { buildDirector, capturingLogger, endpoint, requestLines } from './fixtures.js';

const DECODE = endpoint('decode-0', '10.0.0.1', 8000, 'decode');
const PREFILL = endpoint('prefill-0', '10.0.0.2', 8000, 'prefill');
const fixture = buildDirector({ endpoints: [DECODE, PREFILL], threshold: 100 });
const { logger, lines } = capturingLogger();
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const KV_BODY = '{"model":"m1", "messages":[{"role":"user","content":"hi"}], "kv_transfer_params":{"remote_host":"10.9.9.9"},"max_tokens": 1.0e1}';

let servers: ExtProcServer[] = [];
let clients: EnvoyLikeClient[] = [];
let client: EnvoyLikeClient;

async function open(options: { trustClientKvTransferParams?: boolean } = {}): Promise<EnvoyLikeClient> {
  const server = await startExtProcServer({
    director: fixture.director, endpoints: () => [DECODE, PREFILL], port: 0, host: '127.0.0.1', secure: false, logger, ...options,
  });
  servers.push(server);
  const c = new EnvoyLikeClient(server.port);
  clients.push(c);
  return c;
}

beforeAll(async () => {
  client = await open();
});

afterAll(async () => {
  for (const c of clients) c.close();
  for (const s of servers) await s.close();
  servers = [];
  clients = [];
});

beforeEach(() => {
  lines.length = 0;
  fixture.completions.calls.length = 0;
});

const headers = (extra: Record<string, string> = {}): Record<string, string> => ({
  ':method': 'POST', ':path': '/v1/chat/completions', ':authority': 'gw', 'content-type': 'application/json', ...extra,
});

describe('request id over ext_proc', () => {
  it('keeps a well-formed client id: request header mutation, response header and the log line', async () => {
    const call = client.open();
    call.send(requestHeaders(headers({ 'x-request-id': 'env-1' }))).sendBody('{"model":"m1","messages":[{"role":"user","content":"hi"}]}', 1000);
    const [first] = await call.until(isRequestBodyEnd);
    expect(new Map(setHeadersOf(first!)).get('x-request-id')).toBe('env-1');
    call.send(responseHeaders({ ':status': '200', 'content-type': 'application/json', 'x-request-id': 'upstream-other' }));
    const answer = await call.next();
    const set = setHeadersOf(answer, 'response_headers').filter(([name]) => name === 'x-request-id');
    expect(set).toEqual([['x-request-id', 'env-1']]);
    call.send(responseBody('{"usage":{"prompt_tokens":5,"completion_tokens":1}}', true));
    await call.until(isResponseBodyEnd);
    await call.end();
    expect(requestLines(lines, 'env-1')).toEqual([expect.objectContaining({
      msg: 'request', frontDoor: 'extproc', model: 'm1', decode: DECODE.hostPort, prefill: null, pdReason: 'short-input',
      status: 200, completed: true, promptTokens: 5, completionTokens: 1, schedulingMs: expect.any(Number), totalMs: expect.any(Number),
    })]);
  });

  it('replaces a malformed id and returns it in an error reply', async () => {
    const call = client.open();
    call.send(requestHeaders(headers({ 'x-request-id': 'x'.repeat(129) }))).sendBody('{"model":', 1000);
    const reply = immediateOf(await call.next())!;
    expect(reply.status).toBe(400);
    const id = new Map(reply.headers).get('x-request-id')!;
    expect(id).toMatch(UUID);
    expect(requestLines(lines, id)).toEqual([expect.objectContaining({ status: 400, frontDoor: 'extproc', error: expect.stringContaining('JSON') })]);
    await call.end().catch(() => undefined);
  });
});

describe('kv_transfer_params over ext_proc', () => {
  it('is removed from the body mutation (and Content-Length), other members byte-exact', async () => {
    const call = client.open();
    call.send(requestHeaders(headers())).sendBody(KV_BODY, 7);
    const [first, ...chunks] = await call.until(isRequestBodyEnd);
    const forwarded = Buffer.concat(chunks.map((c) => bodyOf(c, 'request_body'))).toString();
    expect(forwarded).toBe('{"model":"m1","messages":[{"role":"user","content":"hi"}],"max_tokens": 1.0e1}');
    expect(new Map(setHeadersOf(first!)).get('content-length')).toBe(String(Buffer.byteLength(forwarded)));
    await call.end();
  });

  it('is kept for a trusted caller', async () => {
    const trusted = await open({ trustClientKvTransferParams: true });
    const call = trusted.open();
    call.send(requestHeaders(headers())).sendBody(KV_BODY, 7);
    const [, ...chunks] = await call.until(isRequestBodyEnd);
    expect(Buffer.concat(chunks.map((c) => bodyOf(c, 'request_body'))).toString()).toBe(KV_BODY);
    await call.end();
  });
});
