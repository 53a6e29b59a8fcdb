/**
 * One trace across every process: a P/D request with a client traceparent goes through the EPP
 * gateway, the sidecar, and both simulators; all of them export to a real OTLP/HTTP receiver and
 * the spans must form one connected tree under the client's span.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver.js';
import { MODEL, startPdStack, type PdStack } from './stack.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';

async function until<T>(read: () => T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting for spans');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
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
    // SIGTERM flushes every process's batch exporter.
    await stack.stop();
    stack = undefined;
    spans = await until(() => {
      const inTrace = receiver.spans.filter((s) => s.traceId === TRACE_ID);
      const services = new Set(inTrace.map((s) => s.service));
      return ['epp', 'sidecar-0', 'sim-prefill', 'sim-decode-0'].every((s) => services.has(s)) ? inTrace : undefined;
    });
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

  it('puts every span of every process into the client trace', () => {
    expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set([TRACE_ID]));
    // Outside it there may only be spans of other traffic (metric scrapes), never of this request.
    const inference = ['gateway.request', 'llm_d.pd_proxy.request', 'llm_d.pd_proxy.prefill', 'llm_d.pd_proxy.decode', 'llm_request'];
    expect(receiver.spans.filter((s) => s.traceId !== TRACE_ID && inference.includes(s.name))).toEqual([]);
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
