/**
 * One trace across every process: a P/D request with a client traceparent goes through the EPP
 * gateway, the sidecar, and both simulators; all of them export to a real OTLP/HTTP receiver and
 * the spans must form one connected tree under the client's span.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver.js';
import { MODEL, startPdStack, type PdStack } from './stack.js';
import { poll } from '../helpers/poll.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';

function until<T>(read: () => T | undefined, describe: () => string, timeoutMs = 30_000): Promise<T> {
  return poll(read, { what: () => `spans; ${describe()}`, timeoutMs, intervalMs: 100 });
}

describe('tracing across EPP, sidecar and model servers', () => {
  const receiver = new OtlpReceiver();
  let stack: PdStack | undefined;
  let spans: ReceivedSpan[] = [];

  beforeAll(async () => {
    await receiver.start();
    stack = await startPdStack({ env: (service) => receiver.env(service) });
    const response = await fetch(`${stack.gatewayUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${TRACE_ID}-${CLIENT_SPAN}-01`, 'x-request-id': 'trace-e2e-1' },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Tell me everything about tracing across processes. '.repeat(10) }], max_tokens: 3 }),
    });
    expect(response.status).toBe(200);
    await response.text();
    // A scrape of the sidecar's /metrics inside the client's (sampled) trace: still never traced.
    const scrape = await fetch(`http://127.0.0.1:${stack.sidecars[0]!.port}/metrics`, { headers: { traceparent: `00-${TRACE_ID}-${CLIENT_SPAN}-01` } });
    expect(scrape.status).toBe(200);
    expect(await scrape.text()).toContain('vllm:');
    // SIGTERM flushes every process's batch exporter.
    await stack.stop();
    stack = undefined;
    spans = await until(() => {
      const inTrace = receiver.spans.filter((s) => s.traceId === TRACE_ID);
      const services = new Set(inTrace.map((s) => s.service));
      return ['epp', 'sidecar-0', 'sim-prefill', 'sim-decode-0'].every((s) => services.has(s)) ? inTrace : undefined;
    }, () => `received: ${JSON.stringify(receiver.spans.map((s) => [s.service, s.name, s.traceId === TRACE_ID]))}`);
  });

  afterAll(async () => {
    await stack?.stop();
    await receiver.close();
  });

  const one = (name: string, service?: string): ReceivedSpan => {
    const found = spans.filter((s) => s.name === name && (!service || s.service === service));
    expect(found, `span ${name}${service ? ` from ${service}` : ''}`).toHaveLength(1);
    return found[0]!;
  };
  const byId = (id: string) => spans.find((s) => s.spanId === id);

  it('forms one tree under the client span', () => {
    const ids = new Set(spans.map((s) => s.spanId));
    expect(ids.size).toBe(spans.length);
    // Exactly one root (the EPP's gateway.request under the client's span); every other parent is in the trace.
    const roots = spans.filter((s) => !ids.has(s.parentSpanId));
    expect(roots.map((s) => [s.service, s.name, s.parentSpanId])).toEqual([['epp', 'gateway.request', CLIENT_SPAN]]);
  });

  it('each process names its component on every span (apart even under one service name)', () => {
    const components = new Map(spans.map((s) => [s.service, s.component]));
    expect(Object.fromEntries(components)).toEqual({ epp: 'epp', 'sidecar-0': 'sidecar', 'sim-prefill': 'vllm-sim', 'sim-decode-0': 'vllm-sim' });
  });

  it('never traces health or metrics requests, in any process', () => {
    const isScrape = (s: ReceivedSpan): boolean => ['/metrics', '/health'].includes(String(s.attributes['url.path'] ?? '')) || /\s\/(metrics|health)$/.test(s.name);
    // The EPP scraped the sidecar every 50 ms during the run, and the test scraped it once in-trace.
    expect(receiver.spans.filter(isScrape)).toEqual([]);
    // Positive control: the same sidecar's inference request was traced, with its url.path.
    expect(spans.some((s) => s.service === 'sidecar-0' && s.attributes['url.path'] === '/v1/chat/completions')).toBe(true);
  });

  it('roots the EPP under the client span and records the P/D decision', () => {
    const gateway = one('gateway.request', 'epp');
    expect(gateway.parentSpanId).toBe(CLIENT_SPAN);
    const orchestration = one('gateway.request_orchestration', 'epp');
    expect(orchestration.parentSpanId).toBe(gateway.spanId);
    const prerequest = one('llm_d.epp.prerequest.disaggregation', 'epp');
    expect(prerequest.attributes['llm_d.epp.pd.disaggregation_used']).toBe(true);
    expect(prerequest.attributes['gen_ai.request.id']).toBe('trace-e2e-1');
    expect(spans.filter((s) => s.name === 'llm_d.epp.disagg.profile_handler.pick').length).toBeGreaterThanOrEqual(2);
  });

  it('hangs the sidecar under the EPP, with prefill and decode as siblings', () => {
    const gateway = one('gateway.request', 'epp');
    const server = spans.find((s) => s.service === 'sidecar-0' && s.name.startsWith('llm_d.pd_proxy.POST'))!;
    expect(server).toBeDefined();
    expect(server.parentSpanId).toBe(gateway.spanId);
    const request = one('llm_d.pd_proxy.request', 'sidecar-0');
    expect(request.parentSpanId).toBe(server.spanId);
    expect(request.attributes['llm_d.pd_proxy.disaggregation_used']).toBe(true);
    const prefill = one('llm_d.pd_proxy.prefill', 'sidecar-0');
    const decode = one('llm_d.pd_proxy.decode', 'sidecar-0');
    expect(prefill.parentSpanId).toBe(request.spanId);
    expect(decode.parentSpanId).toBe(request.spanId);
  });

  it('carries the context to both model servers through the sidecar CLIENT spans', () => {
    const prefill = one('llm_d.pd_proxy.prefill', 'sidecar-0');
    const decode = one('llm_d.pd_proxy.decode', 'sidecar-0');
    const atPrefill = one('llm_request', 'sim-prefill');
    const atDecode = one('llm_request', 'sim-decode-0');
    const prefillClient = byId(atPrefill.parentSpanId)!;
    const decodeClient = byId(atDecode.parentSpanId)!;
    expect(prefillClient.service).toBe('sidecar-0');
    expect(decodeClient.service).toBe('sidecar-0');
    expect(prefillClient.kind).toBe(3); // SPAN_KIND_CLIENT
    expect(prefillClient.parentSpanId).toBe(prefill.spanId);
    expect(decodeClient.parentSpanId).toBe(decode.spanId);
  });
});
