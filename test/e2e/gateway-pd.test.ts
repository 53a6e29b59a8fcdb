/**
 * End to end through the EPP's HTTP gateway with real processes: sims, sidecars, EPP. Short
 * prompts go decode-only, long ones are handed off prefill → decode by the sidecar; a client's
 * own x-prefiller-host-port never reaches anything.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODEL, metricValue, startPdStack, type PdStack } from './stack.js';

const LONG = 'Explain the history of the printing press and its effect on literacy in Europe. '.repeat(12);

describe('EPP gateway → sidecar → sims (P/D)', () => {
  let stack: PdStack;
  let client: OpenAI;

  beforeAll(async () => {
    stack = await startPdStack({ decodePods: 2 });
    client = new OpenAI({ baseURL: `${stack.gatewayUrl}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  afterAll(async () => stack?.stop());

  const prefillRequests = () => metricValue(`${stack.prefill.url}/metrics`, 'vllm:request_success_total');
  const decisions = (type: string) => metricValue(stack.metricsUrl, 'llm_d_inference_scheduler_disagg_decision_total', { decision_type: type });

  it('serves a short chat decode-only', async () => {
    const before = await prefillRequests();
    const reply = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Hello!' }], max_tokens: 4 });
    expect(reply.choices[0]!.message.role).toBe('assistant');
    expect(reply.usage?.prompt_tokens).toBeGreaterThan(0);
    expect(await prefillRequests()).toBe(before);
    expect(await decisions('decode-only')).toBeGreaterThanOrEqual(1);
  });

  it('hands a long chat off prefill → decode, non-streaming and streaming', async () => {
    const before = await prefillRequests();
    const reply = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: LONG }], max_tokens: 4 });
    expect(reply.choices[0]!.finish_reason).toMatch(/stop|length/);
    expect(await prefillRequests()).toBe(before + 1);

    const stream = await client.chat.completions.create({
      // A different long prompt: the first one's prefix is now cached on its decode pod (→ decode-only).
      model: MODEL, messages: [{ role: 'user', content: `Streamed: ${LONG.split('').reverse().join('')}` }], max_tokens: 4, stream: true, stream_options: { include_usage: true },
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      usage = chunk.usage ?? usage;
    }
    expect(text.length).toBeGreaterThan(0);
    expect(usage?.prompt_tokens).toBeGreaterThan(100);
    expect(await prefillRequests()).toBe(before + 2);
    expect(await decisions('prefill-decode')).toBeGreaterThanOrEqual(2);
  });

  it('serves /v1/completions through the same path', async () => {
    const before = await prefillRequests();
    const reply = await client.completions.create({ model: MODEL, prompt: `Completion: ${LONG}`, max_tokens: 3 });
    expect(reply.object).toBe('text_completion');
    expect(reply.model).toBe(MODEL);
    expect(reply.choices[0]!.text).not.toBe('');
    expect(reply.usage?.prompt_tokens).toBeGreaterThan(100);
    expect(reply.usage?.completion_tokens).toBeGreaterThan(0);
    expect(reply.usage?.completion_tokens).toBeLessThanOrEqual(3);
    // A long prompt: handed off through the prefill pod, as the chat path is.
    expect(await prefillRequests()).toBe(before + 1);
  });

  it('returns the request id and logs the request with its P/D decision', async () => {
    const response = await fetch(`${stack.gatewayUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'e2e-pd-log-1' },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: `Logged: ${LONG}` }], max_tokens: 2 }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-request-id')).toBe('e2e-pd-log-1');
    await response.text();
    const line = await stack.epp.waitForLog((l) => l.requestId === 'e2e-pd-log-1' && l.frontDoor === 'gateway');
    const prefillHostPort = new URL(stack.prefill.url).host;
    expect(line).toMatchObject({ msg: 'request', model: MODEL, status: 200, completed: true, prefill: prefillHostPort });
    expect(stack.sidecars.map((s) => `127.0.0.1:${s.port}`)).toContain(line.decode);
    expect(line.promptTokens).toBeGreaterThan(100);
  });

  it('shows what docs/kubernetes.md "Send a P/D request" tells operators to grep for', async () => {
    const doc = readFileSync(new URL('../../docs/kubernetes.md', import.meta.url), 'utf8');
    const section = doc.slice(doc.indexOf('## 6. Send a P/D request'), doc.indexOf('## 7.'));
    const metricPattern = /curl -s localhost:9090\/metrics \| grep (\S+)/.exec(section)?.[1];
    const documentedTypes = [...section.matchAll(/^# \S*disagg_decision_total\{[^}]*decision_type="([^"]+)"\}/gm)].map((m) => m[1]!);
    const logKey = /grep '"(\w+)"'/.exec(section)?.[1];
    expect(metricPattern).toBe('disagg_decision_total');
    expect(documentedTypes.sort()).toEqual(['decode-only', 'prefill-decode']);
    expect(logKey).toBe('requestId');

    // The doc's flow: a long prompt is P/D, the same prompt again is decode-only (now cached).
    const prompt = `Doc walk: ${LONG}`;
    const send = async (id: string): Promise<void> => {
      const response = await fetch(`${stack.gatewayUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': id },
        body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: prompt }], max_tokens: 2 }),
      });
      expect(response.status).toBe(200);
      await response.text();
    };
    await send('doc-walk-1');
    await send('doc-walk-2');
    const first = await stack.epp.waitForLog((l) => l[logKey!] === 'doc-walk-1' && l.msg === 'request');
    const second = await stack.epp.waitForLog((l) => l[logKey!] === 'doc-walk-2' && l.msg === 'request');
    expect(first.prefill).toEqual(expect.any(String));
    expect(second.prefill ?? null).toBeNull();
    expect(second.decode).toBe(first.decode);

    const metrics = (await (await fetch(stack.metricsUrl)).text()).split('\n').filter((l) => !l.startsWith('#') && l.includes(metricPattern!));
    for (const type of documentedTypes) {
      const line = metrics.find((l) => l.includes(`decision_type="${type}"`));
      expect(line, `no ${metricPattern} line for ${type}`).toBeDefined();
      expect(Number(line!.slice(line!.lastIndexOf(' ') + 1))).toBeGreaterThanOrEqual(1);
    }
    // The sidecar in front of the chosen decode pod logs the same id under the same key.
    const sidecar = stack.sidecars.find((s) => `127.0.0.1:${s.port}` === first.decode);
    expect(sidecar).toBeDefined();
    await sidecar!.waitForLog((l) => l[logKey!] === 'doc-walk-1');
  });

  it('never passes on a client-supplied x-prefiller-host-port', async () => {
    let leaked = 0;
    const canary: Server = createServer((_req, res) => { leaked++; res.end('{}'); });
    await new Promise<void>((resolve) => canary.listen(0, '127.0.0.1', resolve));
    try {
      const port = (canary.address() as AddressInfo).port;
      const response = await fetch(`${stack.gatewayUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-prefiller-host-port': `127.0.0.1:${port}` },
        body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 2 }),
      });
      expect(response.status).toBe(200);
      await response.text();
      expect(leaked).toBe(0);
    } finally {
      await new Promise((resolve) => canary.close(resolve));
    }
  });

  it('answers bad input with OpenAI-shaped errors', async () => {
    const bad = await fetch(`${stack.gatewayUrl}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":' });
    expect(bad.status).toBe(400);
    expect((await bad.json()) as unknown).toMatchObject({ error: { type: 'BadRequestError', code: 400 } });
    const noMessages = await fetch(`${stack.gatewayUrl}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: MODEL, messages: [] }) });
    expect(noMessages.status).toBe(400);
    expect(((await noMessages.json()) as { error: { message: string } }).error.message).toContain('messages');
  });

  it('passes other routes through to a model server', async () => {
    const models = (await (await fetch(`${stack.gatewayUrl}/v1/models`)).json()) as { data: Array<{ id: string }> };
    expect(models.data.map((m) => m.id)).toContain(MODEL);
  });
});
