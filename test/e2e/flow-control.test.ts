/**
 * Flow control end to end: an in-process EPP (featureGates: [flowControl], concurrency-detector
 * with maxConcurrency 1 over one simulator) behind its HTTP gateway and its ext_proc port. The sim
 * answers after 30 s, so a request stays in flight until its client aborts it: every step below
 * is driven by aborts and observed through the EPP's /metrics (no timing assertions).
 *
 * Gateway: A (priority 0) holds the only slot; L1 (sheddable, -1) queues; L2 finds its band full
 * → 429; B (0) and H (critical, 10) queue; X (0) queues and its client leaves → out of the queue.
 * Releasing the slot dispatches H, then B, then L1 (priority order, not arrival order).
 * ext_proc: the same band-full rejection is an ImmediateResponse 429.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEpp, type RunningEpp } from '../../scheduler/main.js';
import { OBJECTIVE_HEADERS } from '../../src/wire/headers.js';
import { poll } from '../helpers/poll.js';
import { startCli, type RunningProcess } from '../helpers/processes.js';
import { EnvoyLikeClient, immediateOf, requestHeaders, type ExtProcCall } from '../scheduler/extproc/envoy-client.js';
import { silentLogger } from '../scheduler/helpers.js';
import { metricValue } from './stack.js';

const MODEL = 'fc-model';
const OBJECTIVE = OBJECTIVE_HEADERS[0]!;
const CONFIG = `
apiVersion: llm-d.ai/v1alpha1
kind: EndpointPickerConfig
featureGates: [flowControl]
plugins:
- type: concurrency-detector
  parameters: {maxConcurrency: 1}
- type: queue-scorer
- type: max-score-picker
schedulingProfiles:
- name: default
  plugins: [{pluginRef: queue-scorer}, {pluginRef: max-score-picker}]
flowControl:
  saturationDetector: {pluginRef: concurrency-detector}
  priorityBands:
  - priority: 10
  - priority: -1
    maxRequests: 1
`;

let sim: RunningProcess;
let epp: RunningEpp;
let metricsUrl: string;

beforeAll(async () => {
  sim = await startCli(['sim', '--port', '0', '--host', '127.0.0.1', '--model', MODEL, '--time-to-first-token', '30s', '--max-num-seqs', '10']);
  const file = join(mkdtempSync(join(tmpdir(), 'fc-e2e-')), 'endpoints.json');
  writeFileSync(file, JSON.stringify({ endpoints: [{ name: 'pod-0', address: '127.0.0.1', port: sim.port }] }));
  epp = await startEpp({
    configText: CONFIG, endpointsFile: file, host: '127.0.0.1', gatewayPort: 0, grpcPort: 0, grpcHealthPort: -1, metricsPort: 0,
    secureServing: false, objectivePriorities: { critical: 10, sheddable: -1 },
  }, silentLogger);
  metricsUrl = `http://127.0.0.1:${epp.ports.metrics}/metrics`;
});

afterAll(async () => {
  // The sim first: its 30 s first token would otherwise hold the EPP's graceful drain open.
  await sim?.stop(500);
  await epp?.close();
});

interface Sent {
  readonly abort: AbortController;
  readonly response: Promise<Response | 'aborted'>;
}

function send(objective?: string): Sent {
  const abort = new AbortController();
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (objective) headers[OBJECTIVE] = objective;
  const response = fetch(`${epp.gatewayUrl}/v1/chat/completions`, {
    method: 'POST', headers, signal: abort.signal,
    body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }),
  }).then((r) => r, () => 'aborted' as const);
  return { abort, response };
}

const queued = (priority?: string) => metricValue(metricsUrl, 'llm_d_epp_flow_control_queue_size', priority === undefined ? {} : { priority });
const left = (outcome: string, priority?: string) =>
  metricValue(metricsUrl, 'llm_d_epp_flow_control_requests_total', { outcome, ...(priority === undefined ? {} : { priority }) });

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  await poll(async () => check(), { what, timeoutMs: 15_000 });
}

describe('flow control through the gateway, pool saturated', () => {
  it('queues by priority, sheds a full band with 429, drops an abandoned request, dispatches highest first', async () => {
    const a = send();
    await until('A dispatched', async () => (await left('Dispatched', '0')) === 1);
    const l1 = send('sheddable');
    await until('L1 queued', async () => (await queued('-1')) === 1);

    const l2 = await send('sheddable').response;
    expect(l2).not.toBe('aborted');
    const rejected = l2 as Response;
    expect(rejected.status).toBe(429);
    expect(rejected.headers.get('x-llm-d-request-dropped-reason')).toBe('rejected-saturated');
    expect(await rejected.json()).toMatchObject({ error: { type: 'RateLimitError', code: 429, message: expect.stringContaining('queue is full') } });
    expect(await left('RejectedCapacity', '-1')).toBe(1);

    const b = send();
    await until('B queued', async () => (await queued('0')) === 1);
    const h = send('critical');
    await until('H queued', async () => (await queued('10')) === 1);

    const x = send();
    await until('X queued', async () => (await queued('0')) === 2);
    x.abort.abort();
    await until('X left the queue', async () => (await queued('0')) === 1 && (await left('EvictedContextCancelled', '0')) === 1);
    expect(await queued()).toBe(3);

    // Free the slot: H (10) overtakes B (0) and L1 (-1), though it arrived last.
    a.abort.abort();
    await until('H dispatched', async () => (await left('Dispatched', '10')) === 1);
    expect(await left('Dispatched', '0')).toBe(1);
    expect(await queued('0')).toBe(1);
    expect(await queued('-1')).toBe(1);

    h.abort.abort();
    await until('B dispatched', async () => (await left('Dispatched', '0')) === 2);
    expect(await left('Dispatched', '-1')).toBe(0);

    // L1 reaches the simulator once B is done: answer it quickly this time.
    const admin = await fetch(`http://127.0.0.1:${sim.port}/admin/config`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ 'time-to-first-token': '0s' }),
    });
    expect(admin.status).toBe(200);
    b.abort.abort();
    const last = await l1.response;
    expect(last).not.toBe('aborted');
    expect((last as Response).status).toBe(200);
    expect(await left('Dispatched', '-1')).toBe(1);
    expect(await queued()).toBe(0);
    for (const s of [a, b, h, x]) expect(await s.response).toBe('aborted');

    // The slot is free again: a request passes straight through.
    const next = await send().response;
    expect((next as Response).status).toBe(200);
    await until('nothing in flight', async () => (await queued()) === 0);
    // The request counter carries each request's band (its InferenceObjective's priority).
    const counted = (priority: string) => metricValue(metricsUrl, 'inference_objective_request_total', { priority });
    expect(await counted('10')).toBe(1);
    expect(await counted('-1')).toBe(2);
    expect(await counted('0')).toBe(4);
  });
});

describe('flow control through ext_proc', () => {
  it('answers a request whose band is full with an ImmediateResponse 429', async () => {
    await fetch(`http://127.0.0.1:${sim.port}/admin/config`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ 'time-to-first-token': '30s' }),
    });
    const client = new EnvoyLikeClient(epp.ports.grpc!);
    const calls: ExtProcCall[] = [];
    const open = (objective?: string): ExtProcCall => {
      const headers: Record<string, string> = { ':method': 'POST', ':path': '/v1/chat/completions', ':authority': 'gw', 'content-type': 'application/json' };
      if (objective) headers[OBJECTIVE] = objective;
      const call = client.open();
      calls.push(call);
      return call.send(requestHeaders(headers)).sendBody(JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }), 1000);
    };
    try {
      const dispatchedBefore = await left('Dispatched');
      const holder = open();
      await until('holder routed', async () => (await left('Dispatched')) === dispatchedBefore + 1);
      const waiting = open('sheddable');
      await until('sheddable queued', async () => (await queued('-1')) === 1);
      const shed = open('sheddable');
      const reply = immediateOf(await shed.next());
      expect(reply?.status).toBe(429);
      expect(reply?.body).toMatchObject({ error: { code: 429, type: 'RateLimitError' } });
      expect(reply?.headers).toContainEqual(['x-llm-d-request-dropped-reason', 'rejected-saturated']);
      // Envoy gives up on the queued stream: it leaves the queue; then the holder ends.
      await waiting.cancel();
      await until('queue empty', async () => (await queued('-1')) === 0);
      await holder.cancel();
    } finally {
      for (const call of calls) call.stream.cancel();
      client.close();
    }
  });
});
