/**
 * Request parsers end to end (real EPP, sidecar and sims): `/v1/messages` (Anthropic Messages)
 * through the gateway and through ext_proc, handed off prefill → decode by the sidecar, usage
 * counted; a passthrough parser forwarding a non-OpenAI path unread; an unclaimed path → 400.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEpp, type RunningEpp } from '../../scheduler/main.js';
import { EnvoyLikeClient, bodyOf, immediateOf, isRequestBodyEnd, isResponseBodyEnd, requestHeaders, responseBody, responseHeaders, setHeadersOf } from '../scheduler/extproc/envoy-client.js';
import { silentLogger } from '../scheduler/helpers.js';
import { MODEL, metricValue, startPdStack, type PdStack } from './stack.js';

const LONG = 'Describe how tides follow the moon and why two high tides come each day on most coasts. '.repeat(12);

const messagesBody = (content: string, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ model: MODEL, max_tokens: 4, system: 'Be brief.', messages: [{ role: 'user', content }], ...extra });

/** Anthropic SSE → [event name, data] pairs. */
function sseEvents(text: string): Array<[string, Record<string, unknown>]> {
  return text.split('\n\n').filter((block) => block.trim() !== '').map((block) => {
    const lines = block.split('\n');
    const name = lines.find((l) => l.startsWith('event: '))!.slice(7);
    return [name, JSON.parse(lines.find((l) => l.startsWith('data: '))!.slice(6)) as Record<string, unknown>];
  });
}

describe('/v1/messages through the EPP and the sidecar (P/D)', () => {
  let stack: PdStack;
  beforeAll(async () => {
    stack = await startPdStack({ decodePods: 1 });
  });
  afterAll(async () => stack?.stop());

  const prefillRequests = () => metricValue(`${stack.prefill.url}/metrics`, 'vllm:request_success_total');
  const inputTokens = () => metricValue(stack.metricsUrl, 'inference_objective_input_tokens_sum');

  it('gateway, non-streaming: an Anthropic message; the prefill pod serves the prefill leg; usage counted', async () => {
    const [prefillBefore, tokensBefore] = [await prefillRequests(), await inputTokens()];
    const response = await fetch(`${stack.gatewayUrl}/v1/messages`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'msg-gw-1' }, body: messagesBody(LONG),
    });
    expect(response.status).toBe(200);
    const message = await response.json() as { type: string; role: string; content: Array<{ type: string; text: string }>; stop_reason: string; usage: { input_tokens: number; output_tokens: number } };
    expect(message).toMatchObject({ type: 'message', role: 'assistant', stop_reason: expect.stringMatching(/end_turn|max_tokens/) });
    expect(message.content[0]).toMatchObject({ type: 'text' });
    expect(message.usage.input_tokens).toBeGreaterThan(100);
    expect(message.usage.output_tokens).toBeGreaterThan(0);
    expect(message).not.toHaveProperty('kv_transfer_params');
    expect(await prefillRequests()).toBe(prefillBefore + 1);
    const line = await stack.epp.waitForLog((l) => l.requestId === 'msg-gw-1' && l.frontDoor === 'gateway');
    expect(line).toMatchObject({ path: '/v1/messages', model: MODEL, status: 200, promptTokens: message.usage.input_tokens, completionTokens: message.usage.output_tokens });
    expect(line.prefill).toBe(`127.0.0.1:${stack.prefill.port}`);
    expect(await inputTokens()).toBe(tokensBefore + message.usage.input_tokens);
  });

  it('gateway, streaming: Anthropic SSE events, usage from message_start/message_delta', async () => {
    const response = await fetch(`${stack.gatewayUrl}/v1/messages`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'msg-gw-2' },
      body: messagesBody(`Streamed: ${LONG.split('').reverse().join('')}`, { stream: true }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const events = sseEvents(await response.text());
    const names = events.map(([name]) => name);
    expect(names[0]).toBe('message_start');
    expect(names.slice(-2)).toEqual(['message_delta', 'message_stop']);
    expect(names).toContain('content_block_delta');
    events.forEach(([name, data]) => expect(data.type).toBe(name));
    const usage = events.find(([name]) => name === 'message_delta')![1].usage as { input_tokens: number; output_tokens: number };
    expect(usage.input_tokens).toBeGreaterThan(100);
    const line = await stack.epp.waitForLog((l) => l.requestId === 'msg-gw-2');
    expect(line).toMatchObject({ promptTokens: usage.input_tokens, completionTokens: usage.output_tokens });
    expect(line.prefill).not.toBeNull();
  });

  it('an invalid Messages body is a 400 naming the field', async () => {
    const response = await fetch(`${stack.gatewayUrl}/v1/messages`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: 400, message: expect.stringContaining('max_tokens') } });
  });

  it('ext_proc: the EPP picks decode + prefill for /v1/messages; the sidecar hands it off; usage from the response phase', async () => {
    const client = new EnvoyLikeClient(stack.grpcPort, false);
    try {
      const prefillBefore = await prefillRequests();
      const body = messagesBody(`Over ext_proc: ${LONG}`);
      const call = client.open();
      call.send(requestHeaders({ ':method': 'POST', ':path': '/v1/messages', 'content-type': 'application/json', 'x-request-id': 'msg-xp-1' }));
      call.sendBody(body, 1024);
      const request = await call.until(isRequestBodyEnd);
      const set = new Map(setHeadersOf(request[0]!));
      const destination = set.get('x-gateway-destination-endpoint')!;
      expect(destination).toBe(`127.0.0.1:${stack.sidecars[0]!.port}`);
      expect(set.get('x-prefiller-host-port')).toBe(`127.0.0.1:${stack.prefill.port}`);
      const forwarded = Buffer.concat(request.slice(1).map((m) => bodyOf(m, 'request_body')));
      expect(forwarded.toString()).toBe(body);

      // Envoy's part: send what the EPP decided to the destination, then the answer back through ext_proc.
      const upstream = await fetch(`http://${destination}/v1/messages`, {
        method: 'POST', body: forwarded,
        headers: { 'content-type': 'application/json', 'x-request-id': 'msg-xp-1', 'x-prefiller-host-port': set.get('x-prefiller-host-port')! },
      });
      expect(upstream.status).toBe(200);
      const answer = await upstream.text();
      expect(JSON.parse(answer)).toMatchObject({ type: 'message' });
      expect(await prefillRequests()).toBe(prefillBefore + 1);
      call.send(responseHeaders({ ':status': '200', 'content-type': 'application/json' }));
      await call.next();
      call.send(responseBody(answer, true));
      expect(isResponseBodyEnd(await call.until(isResponseBodyEnd).then((m) => m.at(-1)!))).toBe(true);
      await call.end();
      const usage = (JSON.parse(answer) as { usage: { input_tokens: number; output_tokens: number } }).usage;
      const line = await stack.epp.waitForLog((l) => l.requestId === 'msg-xp-1' && l.frontDoor === 'extproc');
      expect(line).toMatchObject({ path: '/v1/messages', status: 200, promptTokens: usage.input_tokens, completionTokens: usage.output_tokens });
    } finally {
      client.close();
    }
  });
});

describe('passthrough and unclaimed paths', () => {
  let echo: Server;
  const received: Array<{ path: string; body: string }> = [];
  let passthrough: RunningEpp;
  let openaiOnly: RunningEpp;

  const startWith = (parsers: string, file: string): Promise<RunningEpp> => startEpp({
    configText: `apiVersion: llm-d.ai/v1alpha1\nkind: EndpointPickerConfig\nplugins:\n- {type: queue-scorer}\n- {type: max-score-picker}\n- {type: openai-parser}\n- {type: passthrough-parser}\nschedulingProfiles:\n- name: default\n  plugins: [{pluginRef: queue-scorer}, {pluginRef: max-score-picker}]\nrequestHandler:\n  parsers: [${parsers}]\n`,
    endpointsFile: file, host: '127.0.0.1', gatewayPort: 0, grpcPort: 0, grpcHealthPort: -1, metricsPort: -1, secureServing: false,
  }, silentLogger);

  beforeAll(async () => {
    echo = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        // The EPP also scrapes /metrics here: only POSTs are requests under test.
        if (req.method === 'POST') received.push({ path: req.url ?? '', body: Buffer.concat(chunks).toString() });
        res.writeHead(200, { 'content-type': 'text/plain' }).end('generated');
      });
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    const file = join(mkdtempSync(join(tmpdir(), 'parsers-e2e-')), 'endpoints.json');
    writeFileSync(file, JSON.stringify({ endpoints: [{ name: 'pod-0', address: '127.0.0.1', port: (echo.address() as AddressInfo).port }] }));
    [passthrough, openaiOnly] = await Promise.all([
      startWith('{pluginRef: openai-parser}, {pluginRef: passthrough-parser}', file),
      startWith('{pluginRef: openai-parser}', file),
    ]);
  });
  afterAll(async () => {
    await passthrough?.close();
    await openaiOnly?.close();
    await new Promise((resolve) => echo?.close(resolve));
  });

  const RAW = '{"text": "not an OpenAI body", "kv_transfer_params": {"x": 1}}  ';

  it('a passthrough parser schedules a non-OpenAI path and forwards the body unread (gateway)', async () => {
    const response = await fetch(`${passthrough.gatewayUrl}/generate?q=1`, { method: 'POST', body: RAW });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('generated');
    expect(received.at(-1)).toEqual({ path: '/generate?q=1', body: RAW });
  });

  it('a passthrough parser over ext_proc: destination chosen, body unchanged', async () => {
    const client = new EnvoyLikeClient(passthrough.ports.grpc!, false);
    try {
      const call = client.open();
      call.send(requestHeaders({ ':method': 'POST', ':path': '/generate' }));
      call.sendBody('not json at all', 4);
      const messages = await call.until(isRequestBodyEnd);
      expect(new Map(setHeadersOf(messages[0]!)).get('x-gateway-destination-endpoint')).toBe(`127.0.0.1:${(echo.address() as AddressInfo).port}`);
      expect(Buffer.concat(messages.slice(1).map((m) => bodyOf(m, 'request_body'))).toString()).toBe('not json at all');
      await call.end();
    } finally {
      client.close();
    }
  });

  it('a path no parser claims: the gateway has no route (404), ext_proc answers llm-d\'s 400; OpenAI paths still work', async () => {
    const before = received.length;
    const response = await fetch(`${openaiOnly.gatewayUrl}/generate`, { method: 'POST', body: RAW });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { code: 404, type: 'NotFoundError', message: 'no route for POST /generate' } });
    const messagesAnswer = await fetch(`${openaiOnly.gatewayUrl}/v1/messages`, { method: 'POST', body: messagesBody('hi') });
    expect(messagesAnswer.status).toBe(404);
    expect(received.length).toBe(before);

    const client = new EnvoyLikeClient(openaiOnly.ports.grpc!, false);
    try {
      const call = client.open();
      call.send(requestHeaders({ ':method': 'POST', ':path': '/generate' }));
      call.sendBody(RAW, 1024);
      const [first] = await call.until(isRequestBodyEnd);
      expect(immediateOf(first!)).toMatchObject({ status: 400, body: { error: { message: 'no parser registered matching path suffix for: /generate' } } });
      await call.status;
    } finally {
      client.close();
    }
    const ok = await fetch(`${openaiOnly.gatewayUrl}/v1/completions`, { method: 'POST', body: JSON.stringify({ model: 'm', prompt: 'hi' }) });
    expect(ok.status).toBe(200);
    expect(received.at(-1)!.path).toBe('/v1/completions');
  });
});
