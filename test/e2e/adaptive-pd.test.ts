/**
 * `adaptive-pd-decider` end to end: EPP gateway → real sidecar → step-model sims (in this process,
 * 127.0.0.1, port 0). With both pools idle a local prefill is cheaper (`local_cheaper`). Then the
 * decode pod is kept busy decoding (long requests sent to its sim), so
 * with an idle prefill pool prefilling remotely is cheaper (`remote_cheaper`) and the prefill pod
 * serves the prefill; once the prefill pool is busy (long requests fill its one slot and queue),
 * the same kind of request is prefilled locally (`prefill_saturated`) and the prefill pod serves
 * nothing. "Busy" is state, not time: the test waits until the EPP's scraped metrics show it.
 *
 * The decider runs with `learn: false`, so its choice follows from the scraped state and the
 * configured priors alone (numbers in the comments below).
 */
import { Writable } from 'node:stream';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEpp, type RunningEpp } from '../../scheduler/main.js';
import { startSidecar, type RunningSidecar } from '../../sidecar/main.js';
import { createLogger } from '../../src/log.js';
import { startSimulator, type RunningSimulator } from '../../src/sim/simulator.js';
import { poll } from '../helpers/poll.js';

const MODEL = 'adaptive-e2e';
const silent = createLogger('test', 'silent');

/*
 * Priors (ms): prefill 20 000 tok/s, step(n) = 8 + 5·n, chunks of 256 tokens, transfer 25 GB/s of
 * 128 KiB per token + 2 ms. A ~2 000-token prompt U with n = 2 requests decoding on the decode pod:
 *   local  = U/rate + ceil(U/256)·step(2)               = 100 + 8·18        = 244
 *   remote = U/rate + ceil(U/256)·8 + transfer + step(3) = 100 + 64 + 12.5 + 23 ≈ 200  → remote_cheaper
 * (with nothing decoding: local 164 < remote ≈ 190 → local_cheaper). maxPrefillWaiting 0: one
 * request waiting on the prefill pod saturates the pool.
 */
const DECIDER = {
  minInputTokens: 64, ttftSloMs: 10_000, tpotSloMs: 1_000, chunkTokens: 256, maxPrefillWaiting: 0,
  prefillTokensPerSec: 20_000, decodeStepBaseMs: 8, decodeStepPerRequestMs: 5, learn: false,
};
const CONFIG = `apiVersion: llm-d.ai/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: approx-prefix-cache-producer
- type: prefix-cache-scorer
- type: queue-scorer
- type: max-score-picker
- type: prefill-filter
- type: decode-filter
- type: adaptive-pd-decider
  name: decider
  parameters: ${JSON.stringify(DECIDER)}
- type: disagg-profile-handler
  parameters: {profiles: {decode: decode, prefill: prefill}, deciders: {prefill: decider}}
schedulingProfiles:
- name: prefill
  plugins: [{pluginRef: prefill-filter}, {pluginRef: max-score-picker}, {pluginRef: queue-scorer}]
- name: decode
  plugins: [{pluginRef: decode-filter}, {pluginRef: max-score-picker}, {pluginRef: prefix-cache-scorer}, {pluginRef: queue-scorer}]
`;

/** ~2 000 tokens by the EPP's bytes/4 estimate; `tag` makes each prompt's prefix unique. */
const longPrompt = (tag: string): string => `${tag}: ${'Summarize the quarterly report of the northern region in detail. '.repeat(124)}`;

function stepSim(role: 'prefill' | 'decode', maxNumSeqs: number): Promise<RunningSimulator> {
  return startSimulator({
    model: MODEL, host: '127.0.0.1', port: 0, role, mode: 'random', enableKvcache: true, podIp: '127.0.0.1',
    engineModel: 'step', hardware: 'h200', modelProfile: 'llama-3.1-8b', maxNumSeqs, maxModelLen: 131_072,
    // 20 ms per step: a 100 000-token decode outlives the test by far (it is cut short at close).
    stepOverhead: 20,
  }, { logger: silent });
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`));
  return line ? Number(line.trim().split(/\s+/).pop()) : 0;
}

describe('adaptive-pd-decider through EPP + sidecar + step sims', () => {
  let prefill: RunningSimulator;
  let decode: RunningSimulator;
  let sidecar: RunningSidecar;
  let epp: RunningEpp;
  let dir: string;
  const logLines: Array<Record<string, unknown>> = [];
  const blockers = new AbortController();

  beforeAll(async () => {
    // The prefill pod runs one request at a time, so a second one waits (saturation by state).
    [prefill, decode] = await Promise.all([stepSim('prefill', 1), stepSim('decode', 16)]);
    sidecar = await startSidecar({ port: 0, host: '127.0.0.1', vllmPort: decode.port, secureProxy: false, podIp: '127.0.0.1' }, { logger: silent });
    dir = mkdtempSync(join(tmpdir(), 'pd-adaptive-e2e-'));
    const endpointsFile = join(dir, 'endpoints.json');
    writeFileSync(endpointsFile, JSON.stringify({
      endpoints: [
        { name: 'prefill-0', address: '127.0.0.1', port: prefill.port, labels: { 'llm-d.ai/role': 'prefill' } },
        { name: 'decode-0', address: '127.0.0.1', port: sidecar.port, labels: { 'llm-d.ai/role': 'decode' } },
      ],
    }));
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const text of chunk.toString().split('\n')) if (text) logLines.push(JSON.parse(text) as Record<string, unknown>);
        done();
      },
    });
    epp = await startEpp({
      configText: CONFIG, endpointsFile, host: '127.0.0.1', gatewayPort: 0, grpcPort: -1, grpcHealthPort: -1, metricsPort: -1,
      secureServing: false, refreshMetricsIntervalMs: 25,
    }, pino({ level: 'info' }, sink));
  });

  afterAll(async () => {
    blockers.abort();
    await epp?.close();
    await sidecar?.close(0);
    await Promise.all([prefill?.close({ drainMs: 0 }), decode?.close({ drainMs: 0 })]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A long decode sent straight to a sim; it runs until the sim is closed. */
  const block = (sim: RunningSimulator): void => {
    void fetch(`${sim.url}/v1/completions`, {
      method: 'POST', signal: blockers.signal, headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, prompt: 'keep decoding', max_tokens: 100_000, ignore_eos: true, stream: true }),
    }).then((r) => r.body?.cancel(), () => undefined);
  };

  const scraped = (name: string) => epp.store.get(name)!.metrics;

  const reasonCount = async (reason: string): Promise<number> =>
    (await epp.metrics.disaggDecision.get()).values.filter((v) => v.labels.reason === reason).reduce((sum, v) => sum + v.value, 0);

  async function ask(requestId: string, tag: string): Promise<Record<string, unknown>> {
    const response = await fetch(`${epp.gatewayUrl!}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': requestId },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: longPrompt(tag) }], max_tokens: 4, ignore_eos: true }),
    });
    expect(response.status).toBe(200);
    const body = await response.json() as { usage: { prompt_tokens: number; completion_tokens: number } };
    expect(body.usage.completion_tokens).toBe(4);
    return poll(() => logLines.find((l) => l.requestId === requestId && l.msg === 'request'), { what: `the EPP's log line of ${requestId}` });
  }

  it('idle pools: local_cheaper (the transfer and the extra step cost more than they save)', async () => {
    await poll(() => scraped('decode-0').updatedAt > 0 && scraped('prefill-0').updatedAt > 0, { what: 'the first scrape of both pods' });
    const served = await metric(prefill.url, 'vllm:request_success_total');
    const line = await ask('adaptive-local', 'local');
    expect(line.pdReason).toBe('local_cheaper');
    expect(line.prefill ?? null).toBeNull();
    expect(await metric(prefill.url, 'vllm:request_success_total')).toBe(served);
  });

  it('idle prefill pool, busy decode pod: remote_cheaper, and the prefill pod serves the prefill', async () => {
    block(decode);
    block(decode);
    await poll(() => scraped('decode-0').runningRequestsSize >= 2 && scraped('prefill-0').runningRequestsSize === 0, { what: 'the EPP to see 2 requests decoding on the decode pod' });
    const served = await metric(prefill.url, 'vllm:request_success_total');
    const before = await reasonCount('remote_cheaper');

    const line = await ask('adaptive-remote', 'remote');
    expect(line.pdReason).toBe('remote_cheaper');
    expect(line.prefill).toBe(`127.0.0.1:${prefill.port}`);
    expect(await reasonCount('remote_cheaper')).toBe(before + 1);
    expect(await metric(prefill.url, 'vllm:request_success_total')).toBe(served + 1);
    expect(await metric(prefill.url, 'vllm:prompt_tokens_total')).toBeGreaterThan(1000);
    // The decode sim pulled the blocks through the kv_transfer_params the sidecar forwarded (the
    // hold timeout is 60 s, far beyond the poll): the prefill pod holds nothing any more.
    await poll(() => prefill.engine.step!.heldRequests === 0, { what: 'the prefill pod to free the pulled blocks' });
  });

  it('busy prefill pool: prefill_saturated, prefilled on the decode pod, the prefill pod serves nothing', async () => {
    block(prefill);
    block(prefill);
    await poll(() => scraped('prefill-0').waitingQueueSize >= 1 && scraped('decode-0').runningRequestsSize >= 2, { what: 'the EPP to see a request waiting on the prefill pod' });
    const served = await metric(prefill.url, 'vllm:request_success_total');
    const prompts = await metric(prefill.url, 'vllm:prompt_tokens_total');
    const before = await reasonCount('prefill_saturated');

    const line = await ask('adaptive-saturated', 'saturated');
    expect(line.pdReason).toBe('prefill_saturated');
    expect(line.prefill ?? null).toBeNull();
    expect(await reasonCount('prefill_saturated')).toBe(before + 1);
    const fallbacks = (await epp.metrics.prefillFallback.get()).values.find((v) => v.labels.reason === 'prefill_saturated');
    expect(fallbacks?.value).toBeGreaterThanOrEqual(1);
    expect(await metric(prefill.url, 'vllm:request_success_total')).toBe(served);
    expect(await metric(prefill.url, 'vllm:prompt_tokens_total')).toBe(prompts);
  });
});
