/**
 * Sidecar spans with a real in-process OpenTelemetry SDK (in-memory exporter):
 * one trace for an inbound traceparent, prefill and decode as siblings under the request span,
 * CLIENT spans whose context reaches both upstream servers, sampled=00 → nothing recorded, and the
 * attributes listed in docs/sidecar.md "Tracing".
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { useInMemoryTracing } from '../helpers/in-memory-tracing.js';
import { request } from 'undici';
import { DECODE_ANSWER, PREFILL_ANSWER, sendJson, startFakeVllm, type FakeVllm } from './helpers/fake-vllm.js';
import { post, startTestSidecar, type TestSidecar } from './helpers/sidecar.js';

const exporter = useInMemoryTracing();

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE_ID}-${PARENT_ID}-01`;

let prefiller: FakeVllm;
let decoder: FakeVllm;
let sidecar: TestSidecar;

beforeAll(async () => {
  prefiller = await startFakeVllm((_r, res) => sendJson(res, 200, PREFILL_ANSWER));
  decoder = await startFakeVllm((_r, res) => sendJson(res, 200, DECODE_ANSWER));
  sidecar = await startTestSidecar(decoder.port, { tracing: true });
});

afterEach(() => {
  exporter.reset();
  prefiller.requests.length = 0;
  decoder.requests.length = 0;
});

afterAll(async () => {
  await sidecar.close(0);
  await prefiller.close();
  await decoder.close();
});

const byName = (spans: ReadableSpan[], name: string): ReadableSpan => {
  const found = spans.filter((span) => span.name === name);
  expect(found, name).toHaveLength(1);
  return found[0]!;
};
const parentOf = (span: ReadableSpan): string | undefined => span.parentSpanContext?.spanId;
const idOf = (span: ReadableSpan): string => span.spanContext().spanId;
/** Spans end as the response finishes; wait for the expected count (an event, not a delay). */
async function spansAfter(count: number): Promise<ReadableSpan[]> {
  await vi.waitFor(() => expect(exporter.getFinishedSpans().length).toBeGreaterThanOrEqual(count));
  return exporter.getFinishedSpans();
}
function traceparentParent(value: string | string[] | undefined): { traceId: string; parentId: string; flags: string } {
  const [, traceId, parentId, flags] = String(value).split('-');
  return { traceId: traceId!, parentId: parentId!, flags: flags! };
}

describe('nixlv2 trace shape', () => {
  it('continues the inbound trace; prefill and decode are siblings with CLIENT spans injected into each leg', async () => {
    const answer = await post(`${sidecar.url}/v1/chat/completions`, { model: 'm', messages: [] }, { 'x-prefiller-host-port': prefiller.hostPort, traceparent: TRACEPARENT });
    expect(answer.status).toBe(200);
    const spans = await spansAfter(6);
    expect(spans).toHaveLength(6);
    for (const span of spans) expect(span.spanContext().traceId).toBe(TRACE_ID);

    const server = byName(spans, 'llm_d.pd_proxy.POST /v1/chat/completions');
    const requestSpan = byName(spans, 'llm_d.pd_proxy.request');
    const prefill = byName(spans, 'llm_d.pd_proxy.prefill');
    const decode = byName(spans, 'llm_d.pd_proxy.decode');
    const clients = spans.filter((span) => span.kind === SpanKind.CLIENT);
    expect(clients).toHaveLength(2);
    const prefillClient = clients.find((span) => parentOf(span) === idOf(prefill))!;
    const decodeClient = clients.find((span) => parentOf(span) === idOf(decode))!;

    expect(server.kind).toBe(SpanKind.SERVER);
    expect(parentOf(server)).toBe(PARENT_ID);
    expect(requestSpan.kind).toBe(SpanKind.SERVER);
    expect(parentOf(requestSpan)).toBe(idOf(server));
    expect(parentOf(prefill)).toBe(idOf(requestSpan));
    expect(parentOf(decode)).toBe(idOf(requestSpan));
    expect(prefillClient.name).toBe('POST');
    expect(decodeClient.name).toBe('POST');

    const seenByPrefill = traceparentParent(prefiller.requests[0]!.headers.traceparent);
    const seenByDecode = traceparentParent(decoder.requests[0]!.headers.traceparent);
    expect(seenByPrefill).toEqual({ traceId: TRACE_ID, parentId: idOf(prefillClient), flags: '01' });
    expect(seenByDecode).toEqual({ traceId: TRACE_ID, parentId: idOf(decodeClient), flags: '01' });

    expect(server.attributes).toMatchObject({ 'http.request.method': 'POST', 'url.path': '/v1/chat/completions', 'url.scheme': 'http', 'server.address': '127.0.0.1', 'http.response.status_code': 200 });
    expect(requestSpan.attributes).toMatchObject({
      'llm_d.pd_proxy.connector': 'nixlv2',
      'llm_d.pd_proxy.kv_connector': 'nixlv2',
      'llm_d.pd_proxy.ec_connector': '',
      'llm_d.pd_proxy.request_path': '/v1/chat/completions',
      'llm_d.openai.api': 'chat_completions',
      'llm_d.pd_proxy.disaggregation_used': true,
      'llm_d.pd_proxy.prefill_target': prefiller.hostPort,
      'llm_d.pd_proxy.prefill_candidates': 1,
    });
    const requestId = prefiller.requests[0]!.headers['x-request-id'];
    expect(prefill.attributes).toMatchObject({
      'llm_d.pd_proxy.request_id': requestId,
      'llm_d.pd_proxy.prefill_target': prefiller.hostPort,
      'llm_d.pd_proxy.connector': 'nixlv2',
      'llm_d.pd_proxy.prefill.status_code': 200,
      'gen_ai.request.model': 'm',
    });
    expect(typeof prefill.attributes['llm_d.pd_proxy.prefill.duration_ms']).toBe('number');
    expect(decode.attributes).toMatchObject({
      'llm_d.pd_proxy.request_id': requestId,
      'llm_d.pd_proxy.connector': 'nixlv2',
      'llm_d.pd_proxy.decode.streaming': false,
      'llm_d.pd_proxy.decode.data_parallel': false,
      'llm_d.pd_proxy.decode.target': `127.0.0.1:${decoder.port}`,
      'gen_ai.usage.input_tokens': 64,
      'gen_ai.usage.output_tokens': 1,
      'gen_ai.usage.cache_read.input_tokens': 7,
    });
    for (const key of ['decode.duration_ms', 'total_duration_ms', 'true_ttft_ms', 'prefill_duration_ms', 'decode_duration_ms', 'coordinator_overhead_ms']) {
      const value = decode.attributes[`llm_d.pd_proxy.${key}`];
      expect(typeof value, key).toBe('number');
      expect(Number.isInteger(value), key).toBe(true);
    }
    expect(prefillClient.attributes).toMatchObject({ 'server.address': '127.0.0.1', 'server.port': prefiller.port, 'http.response.status_code': 200 });
    expect(decodeClient.attributes).toMatchObject({ 'server.address': '127.0.0.1', 'server.port': decoder.port, 'http.response.status_code': 200 });
    // The decode span outlives the prefill span and ends after the response was written.
    const nanos = ([seconds, fraction]: [number, number]): bigint => BigInt(seconds) * 1_000_000_000n + BigInt(fraction);
    expect(nanos(decode.endTime) >= nanos(prefill.endTime)).toBe(true);
  });

  it('records nothing for an unsampled inbound trace (flags 00), and propagates the flag', async () => {
    const answer = await post(`${sidecar.url}/v1/chat/completions`, { model: 'm' }, { 'x-prefiller-host-port': prefiller.hostPort, traceparent: `00-${TRACE_ID}-${PARENT_ID}-00` });
    expect(answer.status).toBe(200);
    await sidecar.close(2000);
    sidecar = await startTestSidecar(decoder.port, { tracing: true });
    expect(exporter.getFinishedSpans()).toHaveLength(0);
    expect(traceparentParent(prefiller.requests[0]!.headers.traceparent)).toMatchObject({ traceId: TRACE_ID, flags: '00' });
  });

  it('starts a new trace without an inbound traceparent', async () => {
    await post(`${sidecar.url}/v1/chat/completions`, { model: 'm' }, { 'x-prefiller-host-port': prefiller.hostPort });
    const spans = await spansAfter(6);
    const server = byName(spans, 'llm_d.pd_proxy.POST /v1/chat/completions');
    expect(server.parentSpanContext).toBeUndefined();
    expect(new Set(spans.map((span) => span.spanContext().traceId)).size).toBe(1);
  });
});

describe('other paths', () => {
  it('pass-through: reason no_prefill_header and an injected CLIENT span', async () => {
    await post(`${sidecar.url}/v1/completions`, { model: 'm', prompt: 'x' }, { traceparent: TRACEPARENT });
    const spans = await spansAfter(3);
    const requestSpan = byName(spans, 'llm_d.pd_proxy.request');
    expect(requestSpan.attributes).toMatchObject({ 'llm_d.pd_proxy.disaggregation_used': false, 'llm_d.pd_proxy.reason': 'no_prefill_header', 'llm_d.openai.api': 'chat_completions' });
    const client = spans.find((span) => span.kind === SpanKind.CLIENT)!;
    expect(parentOf(client)).toBe(idOf(requestSpan));
    expect(traceparentParent(decoder.requests[0]!.headers.traceparent).parentId).toBe(idOf(client));
  });

  it('catch-all routes get a server span and an injected CLIENT span', async () => {
    await request(`${sidecar.url}/v1/models`, { headers: { traceparent: TRACEPARENT } }).then((r) => r.body.text());
    const spans = await spansAfter(2);
    const server = byName(spans, 'llm_d.pd_proxy.GET /v1/models');
    const client = byName(spans, 'GET');
    expect(parentOf(client)).toBe(idOf(server));
    expect(traceparentParent(decoder.requests[0]!.headers.traceparent).parentId).toBe(idOf(client));
  });

  it('SSRF denial marks the request span', async () => {
    await sidecar.close(0);
    sidecar = await startTestSidecar(decoder.port, { tracing: true, enableSsrfProtection: true, ssrfAllowlist: ['10.9.9.9'] });
    const answer = await post(`${sidecar.url}/v1/chat/completions`, { model: 'm' }, { 'x-prefiller-host-port': prefiller.hostPort });
    expect(answer.status).toBe(403);
    const spans = await spansAfter(2);
    const requestSpan = byName(spans, 'llm_d.pd_proxy.request');
    expect(requestSpan.status.code).toBe(SpanStatusCode.ERROR);
    expect(requestSpan.attributes).toMatchObject({ 'llm_d.pd_proxy.error': 'ssrf_protection_denied', 'llm_d.pd_proxy.denied_target': prefiller.hostPort });
    await sidecar.close(0);
    sidecar = await startTestSidecar(decoder.port, { tracing: true });
  });

  it('a client that leaves mid-stream ends the decode span with error.type client_disconnect', async () => {
    decoder.handler = (_r, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"choices":[{"delta":{"content":"a"}}]}\n\n');
    };
    const controller = new AbortController();
    const answer = await request(`${sidecar.url}/v1/chat/completions`, {
      method: 'POST', body: '{"model":"m","stream":true}', signal: controller.signal,
      headers: { 'content-type': 'application/json', 'x-prefiller-host-port': prefiller.hostPort },
    });
    await answer.body[Symbol.asyncIterator]().next();
    controller.abort();
    const spans = await spansAfter(6);
    const decode = byName(spans, 'llm_d.pd_proxy.decode');
    expect(decode.status.code).toBe(SpanStatusCode.ERROR);
    expect(decode.attributes['error.type']).toBe('client_disconnect');
    expect(decode.attributes['llm_d.pd_proxy.decode.streaming']).toBe(true);
    decoder.handler = (_r, res) => sendJson(res, 200, DECODE_ANSWER);
  });
});
