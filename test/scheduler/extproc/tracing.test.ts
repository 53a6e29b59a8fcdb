/**
 * Trace propagation through ext_proc: `gateway.request` continues the
 * HTTP request's traceparent (over the gRPC metadata's), and the header mutation carries exactly
 * one traceparent — the EPP's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useInMemoryTracing } from '../../helpers/in-memory-tracing.js';
import { startExtProcServer, type ExtProcServer } from '../../../scheduler/extproc/server.js';
import { EnvoyLikeClient, isRequestBodyEnd, requestHeaders, setHeadersOf } from './envoy-client.js';
import { buildDirector, endpoint, silentLogger } from './fixtures.js';

const HTTP_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const HTTP_PARENT = '00f067aa0ba902b7';
const GRPC_TRACE = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const GRPC_PARENT = 'bbbbbbbbbbbbbbbb';

const exporter = useInMemoryTracing();
let server: ExtProcServer;
let client: EnvoyLikeClient;

beforeAll(async () => {
  const { director } = buildDirector({ endpoints: [endpoint('d', '10.0.0.1', 8000, 'decode')] });
  server = await startExtProcServer({ director, endpoints: () => [], port: 0, host: '127.0.0.1', secure: false, logger: silentLogger });
  client = new EnvoyLikeClient(server.port);
});

afterAll(async () => {
  client.close();
  await server.close();
});

async function route(httpHeaders: Record<string, string>, metadata?: Record<string, string>) {
  exporter.reset();
  const call = client.open(metadata);
  call.send(requestHeaders({ ':method': 'POST', ':path': '/v1/completions', 'x-request-id': 'r-7', ...httpHeaders }));
  call.sendBody('{"model":"m","prompt":"hello"}', 8);
  const [first] = await call.until(isRequestBodyEnd);
  await call.end();
  const set = setHeadersOf(first!);
  const spans = exporter.getFinishedSpans();
  return { set, gateway: spans.find((s) => s.name === 'gateway.request'), orchestration: spans.find((s) => s.name === 'gateway.request_orchestration') };
}

describe('ext_proc tracing', () => {
  it('continues the HTTP traceparent over the gRPC metadata one and injects exactly one traceparent', async () => {
    const { set, gateway, orchestration } = await route(
      { traceparent: `00-${HTTP_TRACE}-${HTTP_PARENT}-01`, tracestate: 'vendor=1' },
      { traceparent: `00-${GRPC_TRACE}-${GRPC_PARENT}-01` },
    );
    expect(gateway).toBeDefined();
    expect(gateway!.spanContext().traceId).toBe(HTTP_TRACE);
    expect(gateway!.parentSpanContext?.spanId).toBe(HTTP_PARENT);
    expect(gateway!.instrumentationScope.name).toBe('llm-d-inference-scheduler/epp/extproc');
    expect(gateway!.attributes).toMatchObject({ 'gen_ai.request.id': 'r-7', 'gen_ai.request.model': 'm', 'llm_d.epp.destination': '10.0.0.1:8000' });
    expect(orchestration?.parentSpanContext?.spanId).toBe(gateway!.spanContext().spanId);

    const traceparents = set.filter(([k]) => k === 'traceparent');
    expect(traceparents).toEqual([['traceparent', `00-${HTTP_TRACE}-${gateway!.spanContext().spanId}-01`]]);
    expect(set.filter(([k]) => k === 'tracestate')).toEqual([['tracestate', 'vendor=1']]);
    // Order: destination, content-length, trace headers, then the echoed map.
    expect(set.slice(0, 3).map(([k]) => k)).toEqual(['x-gateway-destination-endpoint', 'content-length', 'traceparent']);
  });

  it('falls back to the gRPC metadata context, and to a new root without either', async () => {
    const fromMetadata = await route({}, { traceparent: `00-${GRPC_TRACE}-${GRPC_PARENT}-01` });
    expect(fromMetadata.gateway!.spanContext().traceId).toBe(GRPC_TRACE);
    expect(fromMetadata.gateway!.parentSpanContext?.spanId).toBe(GRPC_PARENT);

    const root = await route({});
    expect(root.gateway!.parentSpanContext).toBeUndefined();
    expect(root.set.filter(([k]) => k === 'traceparent')).toHaveLength(1);
  });
});
