/**
 * End-to-end scheduling through the config loader with the real plugins: upstream's
 * `scheduler_test.go` cases, run for both config generations, and
 * the Director's P/D header handling.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadEndpointPickerConfig } from '../../scheduler/config/loader.js';
import { PREFIX_CACHE_MATCH_INFO } from '../../scheduler/framework/cycle-state.js';
import { Director, PREFILL_HEADER } from '../../scheduler/framework/director.js';
import type { Endpoint } from '../../scheduler/framework/endpoint.js';
import { SchedulingError } from '../../scheduler/framework/errors.js';
import type { InferenceRequest } from '../../scheduler/framework/request.js';
import type { SchedulingResult } from '../../scheduler/framework/plugins.js';
import { EppMetrics } from '../../scheduler/metrics.js';
import { createDefaultRegistry } from '../../scheduler/plugins/index.js';
import { makeContext, makeEndpoint, makeRequest, silentLogger } from './helpers.js';

const header = 'apiVersion: llm-d.ai/v1alpha1\nkind: EndpointPickerConfig\n';
const profiles = `schedulingProfiles:
- name: prefill
  plugins:
  - pluginRef: prefill-filter
  - pluginRef: max-score-picker
  - pluginRef: prefix-cache-scorer
    weight: 50
- name: decode
  plugins:
  - pluginRef: decode-filter
  - pluginRef: load-aware-scorer
    weight: 1
  - pluginRef: prefix-cache-scorer
    weight: 0
  - pluginRef: max-score-picker
`;
const commonPlugins = `- type: prefill-filter
- type: decode-filter
- type: prefix-cache-scorer
- type: load-aware-scorer
- type: max-score-picker
`;

/** Upstream's setup: prefix-based decider with N = 2 tokens. */
const currentGeneration = `${header}plugins:
${commonPlugins}- type: prefix-based-pd-decider
  parameters: {nonCachedTokens: 2}
- type: disagg-profile-handler
  parameters:
    deciders: {prefill: prefix-based-pd-decider}
${profiles}`;

/** The same decisions in the seed-era form: 2 tokens ≈ 8 bytes of non-cached input. */
const seedGeneration = `apiVersion: inference.networking.x-k8s.io/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: prefill-header-handler
${commonPlugins}- type: pd-profile-handler
  parameters: {threshold: 8, hashBlockSize: 4}
${profiles}`;

const endpoint1 = makeEndpoint({ name: 'endpoint1', address: '1.2.3.4', role: 'prefill', metrics: { waitingQueueSize: 0 } });
const endpoint2 = makeEndpoint({ name: 'endpoint2', address: '5.6.7.8', role: 'decode', metrics: { waitingQueueSize: 0 } });
const noRoleEndpoint1 = makeEndpoint({ name: 'noRoleEndpoint1', address: '1.1.1.1', metrics: { waitingQueueSize: 2 } });

/** Upstream puts match info (matched = cachedTokens of inputTokens, block size 1) on every pod. */
async function schedule(yaml: string, prompt: string, pods: readonly Endpoint[], cached: 'none' | 'all'): Promise<SchedulingResult> {
  const loaded = loadEndpointPickerConfig(yaml, { registry: createDefaultRegistry(), logger: silentLogger });
  const request = makeRequest({ model: 'critical', prompt });
  const inputTokens = Math.floor(prompt.length / 4);
  const ctx = makeContext(pods);
  for (const pod of pods) ctx.attributes.set(pod, PREFIX_CACHE_MATCH_INFO, { matchBlocks: cached === 'all' ? inputTokens : 0, totalBlocks: inputTokens, blockSizeTokens: 1 });
  return loaded.scheduler.schedule(ctx, request);
}

function picked(result: SchedulingResult): Record<string, string[]> {
  return Object.fromEntries([...result.profileResults].map(([name, run]) => [name, run?.targets.map((e) => e.name) ?? []]));
}

describe.each([
  ['disagg-profile-handler + prefix-based-pd-decider', currentGeneration],
  ['seed-era pd-profile-handler with threshold', seedGeneration],
])('scheduler_test.go cases via the loader: %s', (_label, yaml) => {
  it('no candidate endpoints → error', async () => {
    await expect(schedule(yaml, '12345678901', [], 'none')).rejects.toBeInstanceOf(SchedulingError);
  });

  it('one decode endpoint, long prompt → D', async () => {
    const result = await schedule(yaml, '12345678901', [endpoint2], 'none');
    expect(result.primaryProfileName).toBe('decode');
    expect(picked(result)).toEqual({ decode: ['endpoint2'] });
  });

  it('one prefill endpoint, long prompt → 503 (no decode)', async () => {
    await expect(schedule(yaml, '12345678901', [endpoint1], 'none')).rejects.toMatchObject({ status: 503, message: expect.stringMatching(/^no decode endpoint available/) });
  });

  it('1P1D, long prompt → P+D; the same request fully cached → D', async () => {
    expect(picked(await schedule(yaml, '12345678906', [endpoint1, endpoint2], 'none'))).toEqual({ decode: ['endpoint2'], prefill: ['endpoint1'] });
    expect(picked(await schedule(yaml, '12345678906', [endpoint1, endpoint2], 'all'))).toEqual({ decode: ['endpoint2'] });
  });

  it('1P1D, 5-character prompt → D', async () => {
    expect(picked(await schedule(yaml, '12345', [endpoint1, endpoint2], 'none'))).toEqual({ decode: ['endpoint2'] });
    expect(picked(await schedule(yaml, '12345', [endpoint1, endpoint2], 'all'))).toEqual({ decode: ['endpoint2'] });
  });

  it('an unlabeled pod acts as D', async () => {
    expect(picked(await schedule(yaml, '12345678901', [endpoint1, noRoleEndpoint1], 'none'))).toEqual({ decode: ['noRoleEndpoint1'], prefill: ['endpoint1'] });
  });

  it('1P2D, long prompt → the decode pod with the lower queue wins; cached → D', async () => {
    const pods = [endpoint1, endpoint2, noRoleEndpoint1];
    expect(picked(await schedule(yaml, '1234567890123456789012345678901234567890', pods, 'none'))).toEqual({ decode: ['endpoint2'], prefill: ['endpoint1'] });
    expect(picked(await schedule(yaml, '1234567890123456789012345678901234567890', pods, 'all'))).toEqual({ decode: ['endpoint2'] });
  });
});

const repo = (path: string) => readFileSync(fileURLToPath(new URL(`../../${path}`, import.meta.url)), 'utf8');

function director(configFile: string, pods: readonly Endpoint[], metrics = new EppMetrics()) {
  const loaded = loadEndpointPickerConfig(repo(configFile), { registry: createDefaultRegistry(), logger: silentLogger, metrics, endpoints: () => pods });
  const d = new Director({
    scheduler: loaded.scheduler, endpoints: () => pods, producers: loaded.producers, preRequests: loaded.preRequests,
    responseCompletes: loaded.responseCompletes, logger: silentLogger, metrics,
  });
  return { director: d, metrics, loaded };
}

async function counts(metrics: EppMetrics, name: 'disaggDecision' | 'pdDecision'): Promise<Record<string, number>> {
  return Object.fromEntries((await metrics[name].get()).values.map((v) => [String(v.labels.decision_type), v.value]));
}

/** A ~80-token chat prompt: well past nonCachedTokens 16 / threshold 64 bytes when nothing is cached. */
const longChat = (headers: Record<string, string> = {}): InferenceRequest =>
  makeRequest({ model: 'demo', messages: [{ role: 'user', content: 'Explain prefill/decode disaggregation in detail. '.repeat(6) }] }, { headers });

describe.each([
  ['config/pd-epp-config.yaml', 'disaggDecision'],
  ['config/pd-epp-config-legacy.yaml', 'pdDecision'],
] as const)('Director with %s and the real plugins', (configFile, counter) => {
  const prefillPod = makeEndpoint({ name: 'prefill-0', address: '10.9.0.1', port: 8000, role: 'prefill' });
  const decodePod = makeEndpoint({ name: 'decode-0', address: '10.9.0.2', port: 8000, role: 'decode' });

  it('P/D: the header names the prefill pod; the same prompt again is cached on the decode pod → decode-only, header removed', async () => {
    const { director: d, metrics, loaded } = director(configFile, [prefillPod, decodePod]);
    const first = await d.handleRequest(longChat({ [PREFILL_HEADER]: '6.6.6.6:6666' }));
    expect(first.destination).toBe('10.9.0.2:8000');
    expect(first.request.headers.get(PREFILL_HEADER)).toBe('10.9.0.1:8000');

    await new Promise((resolve) => setImmediate(resolve)); // the prefix index learns off the request path
    const second = await d.handleRequest(longChat({ [PREFILL_HEADER]: '6.6.6.6:6666' }));
    expect(second.destination).toBe('10.9.0.2:8000');
    expect(second.request.headers.has(PREFILL_HEADER)).toBe(false);
    expect(await counts(metrics, counter)).toEqual({ 'prefill-decode': 1, 'decode-only': 1 });
    await loaded.close();
  });

  it('a short prompt is decode-only and a client-supplied x-prefiller-host-port never passes', async () => {
    const { director: d, metrics } = director(configFile, [prefillPod, decodePod]);
    const decision = await d.handleRequest(makeRequest({ model: 'demo', prompt: 'hi' }, { headers: { 'X-Prefiller-Host-Port': '6.6.6.6:6666' } }));
    expect(decision.destination).toBe('10.9.0.2:8000');
    expect(decision.request.headers.has(PREFILL_HEADER)).toBe(false);
    expect(await counts(metrics, counter)).toEqual({ 'decode-only': 1 });
  });

  it('no prefill pod → decode-only with the fallback counted; no decode pod → 503; no pods → 503', async () => {
    const onlyDecode = director(configFile, [decodePod]);
    const decision = await onlyDecode.director.handleRequest(longChat());
    expect(decision.request.headers.has(PREFILL_HEADER)).toBe(false);
    expect((await onlyDecode.metrics.prefillFallback.get()).values).toMatchObject([{ labels: { model_name: 'demo', reason: 'no_prefill_endpoint' }, value: 1 }]);

    await expect(director(configFile, [prefillPod]).director.handleRequest(longChat())).rejects.toMatchObject({ status: 503, message: expect.stringMatching(/^no decode endpoint available/) });
    await expect(director(configFile, []).director.handleRequest(longChat())).rejects.toMatchObject({ status: 503 });
  });
});
