/**
 * `Prefer: if-available` (conditional decode, as llm-d Router's EPP): through the real gateway,
 * a request is forwarded only when the chosen decode pod holds a cached prefix of its prompt;
 * otherwise the client gets 412 with an OpenAI error body and the model server sees nothing.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEndpointPickerConfig, type LoadedConfig } from '../../scheduler/config/loader.js';
import { Director } from '../../scheduler/framework/director.js';
import { Gateway } from '../../scheduler/gateway/server.js';
import { createDefaultRegistry } from '../../scheduler/plugins/index.js';
import type { ListeningServer } from '../../src/http/server.js';
import { isConditionalDecode } from '../../src/wire/prefer.js';
import { endpoint, silentLogger } from './extproc/fixtures.js';

describe('isConditionalDecode (RFC 7240 Prefer tokens)', () => {
  it('matches the bare if-available token, any case, among others, with parameters', () => {
    expect(isConditionalDecode('if-available')).toBe(true);
    expect(isConditionalDecode('If-Available')).toBe(true);
    expect(isConditionalDecode('return=minimal, if-available')).toBe(true);
    expect(isConditionalDecode(' if-available ; x=1')).toBe(true);
    expect(isConditionalDecode('return=minimal')).toBe(false);
    expect(isConditionalDecode('if-available-soon')).toBe(false);
    expect(isConditionalDecode('')).toBe(false);
    expect(isConditionalDecode(null)).toBe(false);
  });
});

let upstream: Server;
let hits = 0;
let loaded: LoadedConfig;
let gateway: Gateway;
let server: ListeningServer;

beforeAll(async () => {
  upstream = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      hits++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: 'c', model: 'm1', choices: [], usage: { prompt_tokens: 50, completion_tokens: 1, total_tokens: 51 } }));
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const endpoints = [endpoint('decode-0', '127.0.0.1', (upstream.address() as AddressInfo).port, 'decode')];
  loaded = loadEndpointPickerConfig(`
apiVersion: llm-d.ai/v1alpha1
kind: EndpointPickerConfig
plugins:
- {type: approx-prefix-cache-producer, parameters: {blockSizeTokens: 4}}
- {type: prefix-cache-scorer}
- {type: decode-filter}
- {type: max-score-picker}
schedulingProfiles:
- {name: default, plugins: [{pluginRef: decode-filter}, {pluginRef: prefix-cache-scorer}, {pluginRef: max-score-picker}]}
`, { registry: createDefaultRegistry(), logger: silentLogger, endpoints: () => endpoints });
  const director = new Director({
    scheduler: loaded.scheduler, endpoints: () => endpoints, producers: loaded.producers,
    preRequests: loaded.preRequests, responseCompletes: loaded.responseCompletes, logger: silentLogger,
  });
  gateway = new Gateway({ director, endpoints: () => endpoints, logger: silentLogger });
  server = await gateway.listen(0, '127.0.0.1');
});

afterAll(async () => {
  await server?.close(100);
  await gateway?.close();
  await loaded?.close();
  upstream.closeAllConnections();
  await new Promise((resolve) => upstream.close(resolve));
});

const body = JSON.stringify({ model: 'm1', messages: [{ role: 'user', content: 'The same long prompt about the sea, again and again. '.repeat(8) }] });
const post = (headers: Record<string, string> = {}): Promise<Response> =>
  fetch(`${server.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

describe('Prefer: if-available through the gateway', () => {
  it('no cached prefix → 412 (OpenAI error body), nothing forwarded; after the prompt was served → forwarded', async () => {
    const miss = await post({ prefer: 'if-available' });
    expect(miss.status).toBe(412);
    expect(await miss.json()).toMatchObject({ error: { message: 'no decode worker has the requested KV cache', code: 412 } });
    expect(hits).toBe(0);

    const plain = await post();
    expect(plain.status).toBe(200);
    await plain.arrayBuffer();
    expect(hits).toBe(1);

    const hit = await post({ prefer: 'return=minimal, if-available' });
    expect(hit.status).toBe(200);
    await hit.arrayBuffer();
    expect(hits).toBe(2);
  });
});
