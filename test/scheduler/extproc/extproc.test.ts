/**
 * The ext_proc front door end to end: real gRPC on 127.0.0.1, an Envoy-like client, a real
 * Director/Scheduler with small real plugins (fixtures.ts).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startExtProcServer, type ExtProcServer } from '../../../scheduler/extproc/server.js';
import { BODY_CHUNK_BYTES } from '../../../scheduler/extproc/messages.js';
import { fromStruct } from '../../../scheduler/extproc/headers.js';
import { EppMetrics } from '../../../scheduler/metrics.js';
import { patchMembers } from '../../../src/openai/raw-json.js';
import {
  EnvoyLikeClient, bodyOf, immediateOf, isRequestBodyEnd, isResponseBodyEnd, removeHeadersOf, requestBody, requestHeaders, requestTrailers,
  responseBody, responseHeaders, responseTrailers, setHeadersOf, subsetMetadata, type ExtProcCall,
} from './envoy-client.js';
import { buildDirector, endpoint, silentLogger } from './fixtures.js';

const DECODE = endpoint('decode-0', '10.0.0.1', 8000, 'decode');
const PREFILL = endpoint('prefill-0', '10.0.0.2', 8000, 'prefill');

const pool = [DECODE, PREFILL];
const metrics = new EppMetrics();
const fixture = buildDirector({ endpoints: pool, threshold: 100, metrics });
let server: ExtProcServer;
let client: EnvoyLikeClient;

beforeAll(async () => {
  server = await startExtProcServer({
    director: fixture.director, endpoints: () => pool, port: 0, host: '127.0.0.1', secure: false, logger: silentLogger, metrics, bodyLimit: 1024 * 1024,
  });
  client = new EnvoyLikeClient(server.port);
});

afterAll(async () => {
  client.close();
  await server.close();
});

afterEach(() => {
  pool.splice(0, pool.length, DECODE, PREFILL);
  fixture.completions.calls.length = 0;
});

const chatHeaders = (extra: Record<string, string> = {}): Record<string, string> => ({
  ':method': 'POST', ':path': '/v1/chat/completions', ':authority': 'gw.example', ':scheme': 'http',
  'content-type': 'application/json', 'x-request-id': 'req-1', ...extra,
});

function chatBody(content: string, extra = ''): string {
  // Spacing and number spelling a re-serializer would change: the bytes must go through untouched.
  return `{"model": "m1",  "messages":[{"role":"user","content":${JSON.stringify(content)}}], "max_tokens": 1.0e1${extra}}`;
}

/** Request headers, then the body in chunks, then read the whole request-phase answer. */
async function sendRequest(call: ExtProcCall, headers: Record<string, string>, body: Buffer | string, chunkSize = 16_384) {
  call.send(requestHeaders(headers)).sendBody(body, chunkSize);
  return call.until(isRequestBodyEnd);
}

async function runningRequests(): Promise<number> {
  const values = (await metrics.runningRequests.get()).values;
  return values.reduce((sum, v) => sum + v.value, 0);
}

describe('request phase', () => {
  it('sends nothing until end-of-stream, then one HeadersResponse and 62000-byte body chunks (P/D, long prompt)', async () => {
    const call = client.open();
    const body = chatBody('x'.repeat(150_000));
    call.send(requestHeaders(chatHeaders({ 'x-prefiller-host-port': 'attacker:1', traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' })));
    call.send(requestBody(body.slice(0, 1000), false));
    expect(await call.quietFor(100)).toBe(true);
    call.sendBody(body.slice(1000), 20_000);
    const messages = await call.until(isRequestBodyEnd);

    expect(messages.filter((m) => m.request_headers)).toHaveLength(1);
    const [first, ...chunks] = messages;
    expect(first!.request_headers?.response?.clear_route_cache).toBe(true);
    const set = setHeadersOf(first!);
    expect(set[0]).toEqual(['x-gateway-destination-endpoint', '10.0.0.1:8000']);
    expect(set[1]).toEqual(['content-length', String(Buffer.byteLength(body))]);
    const headers = new Map(set);
    expect(headers.get(':path')).toBe('/v1/chat/completions');
    expect(headers.get('x-request-id')).toBe('req-1');
    expect(headers.get('x-prefiller-host-port')).toBe('10.0.0.2:8000');
    expect(set.filter(([k]) => k === 'x-prefiller-host-port')).toHaveLength(1);
    expect(set.some(([k]) => k === 'traceparent')).toBe(false); // untraced here: no client value echoed
    const prefillOption = first!.request_headers!.response!.header_mutation!.set_headers!.find((o) => o.header.key === 'x-prefiller-host-port');
    expect(prefillOption?.append_action).toBe(2); // OVERWRITE_IF_EXISTS_OR_ADD
    expect(removeHeadersOf(first!)).toEqual(['x-encoder-hosts-ports', 'x-data-parallel-host-port']);
    expect(fromStruct(first!.dynamic_metadata)).toEqual({ 'envoy.lb': { 'x-gateway-destination-endpoint': '10.0.0.1:8000' } });

    expect(chunks).toHaveLength(Math.ceil(Buffer.byteLength(body) / BODY_CHUNK_BYTES));
    chunks.forEach((chunk, i) => {
      expect(bodyOf(chunk, 'request_body').length).toBeLessThanOrEqual(BODY_CHUNK_BYTES);
      expect(chunk.request_body?.response?.body_mutation?.streamed_response?.end_of_stream ?? false).toBe(i === chunks.length - 1);
    });
    expect(Buffer.concat(chunks.map((c) => bodyOf(c, 'request_body'))).toString()).toBe(body);
    await call.end();
  });

  it('removes a client-sent prefill header for a short (decode-only) prompt', async () => {
    const call = client.open();
    const [first, ...chunks] = await sendRequest(call, chatHeaders({ 'x-prefiller-host-port': 'attacker:1', 'x-encoder-hosts-ports': 'e:1' }), chatBody('hi'));
    const set = new Map(setHeadersOf(first!));
    expect(set.has('x-prefiller-host-port')).toBe(false);
    expect(set.has('x-encoder-hosts-ports')).toBe(false);
    expect(removeHeadersOf(first!)).toEqual(['x-prefiller-host-port', 'x-encoder-hosts-ports', 'x-data-parallel-host-port']);
    expect(chunks).toHaveLength(1);
    await call.end();
  });

  it('generates x-request-id, drops system-owned headers and applies a model rewrite to the body only', async () => {
    const call = client.open();
    const headers = chatHeaders({ 'x-gateway-model-name-rewrite': 'm1-lora', 'x-gateway-inference-objective': 'gold', 'content-length': '999' });
    delete headers['x-request-id'];
    const [first, ...chunks] = await sendRequest(call, headers, chatBody('hi', ', "extra": {"k" : [1, 2]}'));
    const set = new Map(setHeadersOf(first!));
    expect(set.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(set.has('x-gateway-model-name-rewrite')).toBe(false);
    expect(set.has('x-gateway-inference-objective')).toBe(false);
    const forwarded = Buffer.concat(chunks.map((c) => bodyOf(c, 'request_body'))).toString();
    // Only the model member is rewritten; every other member keeps its exact bytes.
    expect(forwarded).toBe(patchMembers(chatBody('hi', ', "extra": {"k" : [1, 2]}'), { model: '"m1-lora"' }));
    expect(forwarded).toContain('"model":"m1-lora"');
    expect(forwarded).toContain('"max_tokens": 1.0e1');
    expect(forwarded).toContain('"extra": {"k" : [1, 2]}');
    expect(set.get('content-length')).toBe(String(Buffer.byteLength(forwarded)));
    await call.end();
  });

  it('a body in chunks that split multi-byte characters goes back byte for byte; a rewrite edits its decoded text', async () => {
    // 1-, 2-, 3- and 4-byte characters and an invalid byte, in chunks of odd sizes that cut through
    // characters; the larger body comes back in several pieces (small chunks joined up to 62000 bytes).
    for (const [repeats, chunkSize] of [[1_000, 7], [10_000, 4_093]] as const) {
      const original = Buffer.from(chatBody('aé€😀'.repeat(repeats)).replace('"messages"', '"bad":"\uFFFD", "messages"'));
      original[original.indexOf(Buffer.from('\uFFFD'))] = 0xff; // a raw invalid byte instead of the replacement character
      const plain = client.open();
      const [, ...sameChunks] = await sendRequest(plain, chatHeaders(), original, chunkSize);
      expect(Buffer.concat(sameChunks.map((c) => bodyOf(c, 'request_body'))).equals(original)).toBe(true);
      await plain.end();

      const rewritten = client.open();
      const [first, ...chunks] = await sendRequest(rewritten, chatHeaders({ 'x-gateway-model-name-rewrite': 'm1-ü' }), original, chunkSize);
      const forwarded = Buffer.concat(chunks.map((c) => bodyOf(c, 'request_body')));
      expect(forwarded.equals(Buffer.from(patchMembers(original.toString('utf8'), { model: '"m1-ü"' })))).toBe(true);
      expect(new Map(setHeadersOf(first!)).get('content-length')).toBe(String(forwarded.length));
      for (const chunk of chunks) expect(bodyOf(chunk, 'request_body').length).toBeLessThanOrEqual(BODY_CHUNK_BYTES);
      await rewritten.end();
    }
  });

  it('routes a body-less request (GET /v1/models) to a random endpoint without parsing', async () => {
    const call = client.open();
    call.send(requestHeaders({ ':method': 'GET', ':path': '/v1/models', 'x-prefiller-host-port': 'attacker:1' }, true));
    const first = await call.next();
    const set = new Map(setHeadersOf(first));
    expect([DECODE.hostPort, PREFILL.hostPort]).toContain(set.get('x-gateway-destination-endpoint'));
    expect(set.has('content-length')).toBe(false);
    expect(removeHeadersOf(first)).toContain('x-prefiller-host-port');
    // Response phase passes through.
    call.send(responseHeaders({ ':status': '200', 'content-type': 'application/json' }), responseBody('{"data":[]}', true));
    expect(setHeadersOf(await call.next(), 'response_headers')).toContainEqual(['x-went-into-resp-headers', 'true']);
    expect(bodyOf(await call.next(), 'response_body').toString()).toBe('{"data":[]}');
    expect((await call.end()).code).toBe(0);
    expect(fixture.completions.calls).toHaveLength(0);
  });

  it('routes an API it does not schedule (embeddings) to an endpoint with the body untouched', async () => {
    const call = client.open();
    const body = '{"model":"m1", "input":"hi"}';
    const [first, ...chunks] = await sendRequest(call, { ...chatHeaders(), ':path': '/v1/embeddings' }, body);
    const set = new Map(setHeadersOf(first!));
    expect([DECODE.hostPort, PREFILL.hostPort]).toContain(set.get('x-gateway-destination-endpoint'));
    expect(set.get('content-length')).toBe(String(body.length));
    expect(Buffer.concat(chunks.map((c) => bodyOf(c, 'request_body'))).toString()).toBe(body);
    expect(fixture.completions.calls).toHaveLength(0);
    await call.end();
  });

  it('request trailers end the body: body without end-of-stream, then an empty trailers answer', async () => {
    const call = client.open();
    const body = chatBody('hi');
    call.send(requestHeaders(chatHeaders()), requestBody(body, false), requestTrailers({ 'x-checksum': '1' }));
    const [headersAnswer, chunk, trailers] = [await call.next(), await call.next(), await call.next()];
    expect(headersAnswer.request_headers).toBeDefined();
    expect(bodyOf(chunk, 'request_body').toString()).toBe(body);
    expect(chunk.request_body?.response?.body_mutation?.streamed_response?.end_of_stream ?? false).toBe(false);
    expect(trailers.request_trailers).toBeDefined();
    await call.end();
  });

  it('honours the endpoint subset hint', async () => {
    pool.push(endpoint('decode-1', '10.0.0.3', 8000, 'decode'));
    const call = client.open();
    call.send(requestHeaders(chatHeaders(), false, subsetMetadata(['10.0.0.3:9999']))).sendBody(chatBody('hi'), 1000);
    const [first] = await call.until(isRequestBodyEnd);
    expect(new Map(setHeadersOf(first!)).get('x-gateway-destination-endpoint')).toBe('10.0.0.3:8000');
    await call.end();
  });
});

describe('request errors → ImmediateResponse, then the stream ends', () => {
  async function expectImmediate(headers: Record<string, string>, body: string, status: number, metadata?: ReturnType<typeof subsetMetadata>) {
    const call = client.open();
    call.send(requestHeaders(headers, false, metadata)).sendBody(body, 1000);
    const messages = await call.until(isRequestBodyEnd);
    expect(messages).toHaveLength(1);
    const immediate = immediateOf(messages[0]!);
    expect(immediate?.status).toBe(status);
    expect(immediate?.headers).toContainEqual(['content-type', 'application/json']);
    expect((await call.status).code).toBe(0);
    return immediate!.body as { error: { message: string; code: number } };
  }

  it('bad JSON → 400', async () => {
    const body = await expectImmediate(chatHeaders(), '{"model": "m1", "messages": [', 400);
    expect(body.error.code).toBe(400);
    expect(body.error.message).toMatch(/not valid JSON/);
  });

  it('missing model → 400', async () => {
    await expectImmediate(chatHeaders(), '{"messages":[{"role":"user","content":"hi"}]}', 400);
  });

  it('no endpoints → 503', async () => {
    pool.splice(0);
    await expectImmediate(chatHeaders(), chatBody('hi'), 503);
  });

  it('an empty subset hint → 503', async () => {
    await expectImmediate(chatHeaders(), chatBody('hi'), 503, subsetMetadata([]));
  });

  it('no decode endpoint → 503', async () => {
    pool.splice(0, pool.length, PREFILL);
    const body = await expectImmediate(chatHeaders(), chatBody('hi'), 503);
    expect(body.error.message).toMatch(/decode/);
  });

  it('a body over the limit → 413', async () => {
    await expectImmediate(chatHeaders(), chatBody('y'.repeat(2 * 1024 * 1024)), 413);
  });

});

describe('response phase', () => {
  it('streams SSE chunks back at once, rewriting the model name (also split across chunks) and reading usage', async () => {
    const call = client.open();
    await sendRequest(call, chatHeaders({ 'x-gateway-model-name-rewrite': 'm1-lora' }), chatBody('hi', ', "stream": true'));
    call.send(responseHeaders({ ':status': '200', 'content-type': 'text/event-stream', 'content-length': '10' }));
    const headersAnswer = await call.next();
    expect(setHeadersOf(headersAnswer, 'response_headers')[0]).toEqual(['x-went-into-resp-headers', 'true']);
    expect(new Map(setHeadersOf(headersAnswer, 'response_headers')).get('content-type')).toBe('text/event-stream');
    expect(removeHeadersOf(headersAnswer, 'response_headers')).toEqual(['content-length']);
    expect(headersAnswer.response_headers?.response?.clear_route_cache ?? false).toBe(false);

    call.send(responseBody('data: {"id":"1","model":"m1-lora","choices":[{"delta":{"content":"é"}}]}\n\n', false));
    expect(bodyOf(await call.next(), 'response_body').toString()).toBe('data: {"id":"1","model":"m1","choices":[{"delta":{"content":"é"}}]}\n\n');
    call.send(responseBody('data: {"id":"2","mod', false));
    call.send(responseBody('el": "m1-lora","choices":[]}\n\n', false));
    const split = Buffer.concat([bodyOf(await call.next(), 'response_body'), bodyOf(await call.next(), 'response_body')]).toString();
    expect(split).toBe('data: {"id":"2","model": "m1","choices":[]}\n\n');
    call.send(responseBody('data: {"id":"3","model":"m1-lora","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10,"prompt_tokens_details":{"cached_tokens":4}}}\n\ndata: [DONE]\n\n', true));
    const last = await call.next();
    expect(isResponseBodyEnd(last)).toBe(true);
    expect(bodyOf(last, 'response_body').toString()).toContain('"model":"m1"');
    expect(fixture.completions.calls).toHaveLength(1);
    expect(fixture.completions.calls[0]!.response).toMatchObject({ status: 200, completed: true, usage: { promptTokens: 7, completionTokens: 3, cachedTokens: 4 } });
    expect(fixture.completions.calls[0]!.targets).toEqual([DECODE]);
    expect(await runningRequests()).toBe(0);
    expect((await call.end()).code).toBe(0);
    expect(fixture.completions.calls).toHaveLength(1);
  });

  it('buffers a non-streaming body until end-of-stream, then sends it in 62000-byte chunks', async () => {
    const call = client.open();
    await sendRequest(call, chatHeaders(), chatBody('hi'));
    expect(await runningRequests()).toBe(1);
    call.send(responseHeaders({ ':status': '200', 'content-type': 'application/json' }));
    expect(removeHeadersOf(await call.next(), 'response_headers')).toEqual([]);
    const text = JSON.stringify({ id: 'x', object: 'chat.completion', model: 'm1', choices: [{ message: { content: 'z'.repeat(100_000) } }], usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 } });
    call.send(responseBody(text.slice(0, 70_000), false));
    expect(await call.quietFor(100)).toBe(true);
    call.send(responseBody(text.slice(70_000), true));
    const chunks = await call.until(isResponseBodyEnd);
    expect(chunks).toHaveLength(Math.ceil(text.length / BODY_CHUNK_BYTES));
    expect(Buffer.concat(chunks.map((c) => bodyOf(c, 'response_body'))).toString()).toBe(text);
    expect(fixture.completions.calls[0]!.response.usage).toMatchObject({ promptTokens: 5, completionTokens: 2 });
    await call.end();
  });

  it('answers response trailers with an empty TrailersResponse and completes the request', async () => {
    const call = client.open();
    await sendRequest(call, chatHeaders(), chatBody('hi'));
    call.send(responseHeaders({ ':status': '200', 'content-type': 'application/json' }));
    await call.next();
    call.send(responseBody('{"usage":{"input_tokens":3,"output_tokens":1},"object":"response"}', false));
    call.send(responseTrailers({ 'grpc-status': '0' }));
    const [flushed, trailers] = [await call.next(), await call.next()];
    expect(bodyOf(flushed, 'response_body').toString()).toContain('"input_tokens":3');
    expect(flushed.response_body?.response?.body_mutation?.streamed_response?.end_of_stream ?? false).toBe(false);
    expect(trailers.response_trailers).toBeDefined();
    expect(fixture.completions.calls[0]!.response).toMatchObject({ completed: true, usage: { promptTokens: 3, completionTokens: 1 } });
    await call.end();
  });
});

describe('stream lifecycle', () => {
  it('a client cancelling mid-body leaves nothing behind', async () => {
    const call = client.open();
    call.send(requestHeaders(chatHeaders())).send(requestBody('{"model":', false));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await call.cancel()).code).toBe(1); // CANCELLED
    expect(fixture.completions.calls).toHaveLength(0);
  });

  it('a client cancelling after routing releases the request (ResponseComplete with completed=false)', async () => {
    const call = client.open();
    await sendRequest(call, chatHeaders(), chatBody('hi'));
    call.send(responseHeaders({ ':status': '200' }));
    await call.next();
    expect(await runningRequests()).toBe(1);
    await call.cancel();
    await expect.poll(() => fixture.completions.calls.length).toBe(1);
    expect(fixture.completions.calls[0]!.response).toMatchObject({ status: 200, completed: false });
    expect(await runningRequests()).toBe(0);
  });

  it('closes promptly once streams are gone (no open calls or timers)', async () => {
    const own = await startExtProcServer({ director: fixture.director, endpoints: () => pool, port: 0, host: '127.0.0.1', secure: false, logger: silentLogger, shutdownGraceMs: 30_000 });
    const ownClient = new EnvoyLikeClient(own.port);
    const call = ownClient.open();
    call.send(requestHeaders(chatHeaders())).send(requestBody('{"model"', false));
    await new Promise((resolve) => setTimeout(resolve, 50));
    await call.cancel();
    const aborted = ownClient.open();
    await sendRequest(aborted, chatHeaders(), chatBody('hi'));
    await aborted.cancel();
    ownClient.close();
    const started = Date.now();
    await own.close();
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
