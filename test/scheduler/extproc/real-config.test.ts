/**
 * ext_proc with the real plugins: config/pd-epp-config.yaml through the real loader and registry,
 * driven by the Envoy-like client (headers, chunked body, response phase).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEndpointPickerConfig, type LoadedConfig } from '../../../scheduler/config/loader.js';
import { Director } from '../../../scheduler/framework/director.js';
import { createDefaultRegistry } from '../../../scheduler/plugins/index.js';
import { EppMetrics } from '../../../scheduler/metrics.js';
import { startExtProcServer, type ExtProcServer } from '../../../scheduler/extproc/server.js';
import {
  EnvoyLikeClient, immediateOf, isRequestBodyEnd, isResponseBodyEnd, removeHeadersOf, requestHeaders, responseBody, responseHeaders, setHeadersOf,
} from './envoy-client.js';
import { endpoint, silentLogger } from './fixtures.js';

const yaml = readFileSync(fileURLToPath(new URL('../../../config/pd-epp-config.yaml', import.meta.url)), 'utf8');
const DECODE = endpoint('decode-0', '10.1.0.1', 8000, 'decode');
const PREFILL = endpoint('prefill-0', '10.1.0.2', 8000, 'prefill');
const pool = [DECODE, PREFILL];
const metrics = new EppMetrics();
let loaded: LoadedConfig;
let server: ExtProcServer;
let client: EnvoyLikeClient;

beforeAll(async () => {
  loaded = loadEndpointPickerConfig(yaml, { registry: createDefaultRegistry(), logger: silentLogger, metrics, endpoints: () => pool });
  const director = new Director({
    scheduler: loaded.scheduler, endpoints: () => pool, producers: loaded.producers, preRequests: loaded.preRequests,
    responseCompletes: loaded.responseCompletes, logger: silentLogger, metrics,
  });
  server = await startExtProcServer({ director, endpoints: () => pool, port: 0, host: '127.0.0.1', secure: true, logger: silentLogger, metrics });
  client = new EnvoyLikeClient(server.port, {});
});

afterAll(async () => {
  client.close();
  await server.close();
  await loaded.close();
});

async function schedule(content: string, extraHeaders: Record<string, string> = {}) {
  const call = client.open();
  call.send(requestHeaders({ ':method': 'POST', ':path': '/v1/chat/completions', 'x-prefiller-host-port': 'attacker:1', ...extraHeaders }));
  call.sendBody(JSON.stringify({ model: 'qwen', messages: [{ role: 'user', content }], stream: true }), 4096);
  const messages = await call.until(isRequestBodyEnd);
  return { call, messages };
}

describe('ext_proc with config/pd-epp-config.yaml', () => {
  it('a long uncached prompt gets a decode destination and the prefill header; the response streams back', async () => {
    const { call, messages } = await schedule('tell me a long story about '.repeat(200));
    const set = new Map(setHeadersOf(messages[0]!));
    expect(set.get('x-gateway-destination-endpoint')).toBe(DECODE.hostPort);
    expect(set.get('x-prefiller-host-port')).toBe(PREFILL.hostPort);
    expect(removeHeadersOf(messages[0]!)).not.toContain('x-prefiller-host-port');
    expect(messages.length).toBeGreaterThan(1);

    call.send(responseHeaders({ ':status': '200', 'content-type': 'text/event-stream' }));
    await call.next();
    call.send(responseBody('data: {"choices":[],"usage":{"prompt_tokens":300,"completion_tokens":4}}\n\ndata: [DONE]\n\n', true));
    expect(isResponseBodyEnd(await call.next())).toBe(true);
    expect((await call.end()).code).toBe(0);
    const decisions = (await metrics.disaggDecision.get()).values;
    expect(decisions.find((v) => v.labels.decision_type === 'prefill-decode')?.value).toBeGreaterThanOrEqual(1);
  });

  it('a short prompt goes decode-only and a client prefill header is removed', async () => {
    const { call, messages } = await schedule('hi');
    const set = new Map(setHeadersOf(messages[0]!));
    expect(set.get('x-gateway-destination-endpoint')).toBe(DECODE.hostPort);
    expect(set.has('x-prefiller-host-port')).toBe(false);
    expect(removeHeadersOf(messages[0]!)).toContain('x-prefiller-host-port');
    await call.end();
  });

  it('no decode pod → 503', async () => {
    pool.splice(0, pool.length, PREFILL);
    try {
      const { call, messages } = await schedule('hi');
      expect(immediateOf(messages[0]!)?.status).toBe(503);
      await call.status;
    } finally {
      pool.splice(0, pool.length, DECODE, PREFILL);
    }
  });
});
