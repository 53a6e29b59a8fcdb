/**
 * request-attribute-reporter through ext_proc with a real response: an EPP loaded with llm-d
 * Router's sample config (test/fixtures/llm-d-configs/integration-request-attribute-reporter-config.yaml)
 * routes a request, the test forwards it to a simulator as Envoy would, and hands the simulator's
 * answer back through the response phase; the last response message carries the cost in
 * dynamic metadata. Plus the formula's edges and start-up errors.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEndpointPickerConfig } from '../../../../scheduler/config/loader.js';
import { fromStruct } from '../../../../scheduler/extproc/headers.js';
import { startEpp, type RunningEpp } from '../../../../scheduler/main.js';
import { createDefaultRegistry } from '../../../../scheduler/plugins/index.js';
import { requestAttributeReporterFactory, type RequestAttributeReporter } from '../../../../scheduler/plugins/reporters/request-attribute-reporter.js';
import { startCli, type RunningProcess } from '../../../helpers/processes.js';
import { EnvoyLikeClient, isRequestBodyEnd, isResponseBodyEnd, requestHeaders, responseBody, responseHeaders, responseTrailers, setHeadersOf, type ProcessingResponse } from '../../extproc/envoy-client.js';
import { makeHandle, silentLogger } from '../../helpers.js';

const FIXTURE = fileURLToPath(new URL('../../../fixtures/llm-d-configs/integration-request-attribute-reporter-config.yaml', import.meta.url));
const MODEL = 'm';

let sim: RunningProcess;
let epp: RunningEpp;
let client: EnvoyLikeClient;

beforeAll(async () => {
  sim = await startCli(['sim', '--port', '0', '--host', '127.0.0.1', '--model', MODEL]);
  const file = join(mkdtempSync(join(tmpdir(), 'reporter-')), 'endpoints.json');
  writeFileSync(file, JSON.stringify({ endpoints: [{ name: 'pod-0', address: '127.0.0.1', port: sim.port }] }));
  epp = await startEpp({ configText: readFileSync(FIXTURE, 'utf8'), endpointsFile: file, host: '127.0.0.1', gatewayPort: -1, grpcPort: 0, grpcHealthPort: -1, metricsPort: -1, secureServing: false }, silentLogger);
  client = new EnvoyLikeClient(epp.ports.grpc!, false);
});

afterAll(async () => {
  client?.close();
  await epp?.close();
  await sim?.stop();
});

/** One request through ext_proc and the simulator; returns the simulator's body and the last ext_proc message. */
async function exchange(body: Record<string, unknown>, trailers = false): Promise<{ answer: string; last: ProcessingResponse; trailer?: ProcessingResponse }> {
  const call = client.open();
  const raw = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hello' }], max_tokens: 5, ...body });
  call.send(requestHeaders({ ':method': 'POST', ':path': '/v1/chat/completions', 'content-type': 'application/json' }));
  call.sendBody(raw, 1 << 16);
  const routed = await call.until(isRequestBodyEnd);
  const destination = new Map(setHeadersOf(routed[0]!)).get('x-gateway-destination-endpoint');
  // Envoy's part: forward to the chosen endpoint and relay the real answer into the response phase.
  const response = await fetch(`http://${destination}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: raw });
  const answer = await response.text();
  call.send(responseHeaders({ ':status': String(response.status), 'content-type': response.headers.get('content-type') ?? '' }));
  await call.next();
  call.send(responseBody(answer, true));
  const messages = await call.until(isResponseBodyEnd);
  let trailer: ProcessingResponse | undefined;
  if (trailers) {
    call.send(responseTrailers());
    trailer = await call.next();
  }
  await call.end();
  return { answer, last: messages.at(-1)!, ...(trailer ? { trailer } : {}) };
}

describe('request-attribute-reporter through ext_proc (llm-d sample config)', () => {
  it('a JSON answer: envoy.lb/x-gateway-inference-request-cost = usage.completion_tokens', async () => {
    const { answer, last } = await exchange({});
    const completion = (JSON.parse(answer) as { usage: { completion_tokens: number } }).usage.completion_tokens;
    expect(completion).toBeGreaterThan(0);
    expect(fromStruct(last.dynamic_metadata)).toEqual({ 'envoy.lb': { 'x-gateway-inference-request-cost': completion } });
  });

  it('a streamed answer with include_usage: the same, on the final chunk', async () => {
    const { answer, last } = await exchange({ stream: true, stream_options: { include_usage: true } });
    const usageLine = answer.split('\n').find((l) => l.startsWith('data: {') && l.includes('"usage":{'))!;
    const completion = (JSON.parse(usageLine.slice(6)) as { usage: { completion_tokens: number } }).usage.completion_tokens;
    expect(fromStruct(last.dynamic_metadata)).toEqual({ 'envoy.lb': { 'x-gateway-inference-request-cost': completion } });
  });

  it('trailers after the end of the body: reported once, on the body', async () => {
    const { last, trailer } = await exchange({}, true);
    expect(fromStruct(last.dynamic_metadata)['envoy.lb']).toBeDefined();
    expect(trailer?.response_trailers).toBeDefined();
    expect(trailer?.dynamic_metadata).toBeUndefined();
  });

  it('no usage in the answer: nothing reported (0 is skipped, as upstream)', async () => {
    const { last } = await exchange({ stream: true });
    expect(last.dynamic_metadata).toBeUndefined();
  });
});

describe('request-attribute-reporter: formula and parameters', () => {
  const build = (attribute: Record<string, unknown>) =>
    requestAttributeReporterFactory('r', { attributes: [attribute] }, makeHandle()) as RequestAttributeReporter;
  const report = (r: RequestAttributeReporter, usage?: { promptTokens?: number; completionTokens?: number; cachedTokens?: number }) =>
    r.reportResponse({ status: 200, headers: new Map(), completed: true, ...(usage ? { usage } : {}) });

  it('defaults the namespace, truncates doubles, skips 0, false conditions and evaluation errors', () => {
    const total = build({ key: { name: 'cost' }, expression: 'usage.total_tokens / 4.0' });
    expect(report(total, { promptTokens: 30, completionTokens: 5 })).toEqual({ namespace: 'envoy.lb', name: 'cost', value: 8 });
    expect(report(total)).toBeUndefined();
    const cached = build({ key: { namespace: 'billing', name: 'cached' }, expression: 'usage.prompt_tokens_details.cached_tokens', condition: 'has(usage.prompt_tokens_details)' });
    expect(report(cached, { promptTokens: 30, cachedTokens: 16 })).toEqual({ namespace: 'billing', name: 'cached', value: 16 });
    expect(report(cached, { promptTokens: 30 })).toBeUndefined();
    const mixed = build({ key: { name: 'x' }, expression: 'usage.prompt_tokens + 1' });
    expect(report(mixed, { promptTokens: 3 })).toBeUndefined();
    const notNumber = build({ key: { name: 'x' }, expression: 'usage.prompt_tokens > 1' });
    expect(report(notNumber, { promptTokens: 3 })).toBeUndefined();
  });

  it.each([
    ['an unsupported expression', { key: { name: 'x' }, expression: 'usage.prompt_tokens + cost' }, 'plugins[0].parameters.attributes[0].expression'],
    ['an unsupported condition', { key: { name: 'x' }, expression: 'usage.prompt_tokens', condition: 'size(usage) > 0' }, 'plugins[0].parameters.attributes[0].condition'],
    ['an empty name', { key: { name: '' }, expression: 'usage.prompt_tokens' }, 'plugins[0].parameters.attributes[0].key.name'],
    ['an unknown key', { key: { name: 'x' }, expression: '1', unit: 'tokens' }, 'plugins[0].parameters.attributes[0]'],
  ])('%s fails start-up naming the YAML path', (_what, attribute, path) => {
    const yaml = `apiVersion: llm-d.ai/v1alpha1\nkind: EndpointPickerConfig\nplugins:\n- type: request-attribute-reporter\n  parameters: ${JSON.stringify({ attributes: [attribute] })}\n`;
    expect(() => loadEndpointPickerConfig(yaml, { registry: createDefaultRegistry(), logger: silentLogger })).toThrow(path);
  });

  it('exactly one attribute, as upstream', () => {
    const yaml = 'apiVersion: llm-d.ai/v1alpha1\nkind: EndpointPickerConfig\nplugins:\n- type: request-attribute-reporter\n  parameters: {attributes: []}\n';
    expect(() => loadEndpointPickerConfig(yaml, { registry: createDefaultRegistry(), logger: silentLogger })).toThrow(/attributes.*exactly one entry/);
  });
});
