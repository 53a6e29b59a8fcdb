/**
 * mock-metrics-source: an EPP whose endpoint metrics come from the source's values instead of a
 * /metrics scrape, so a queue-scorer routes by them; setMetrics() changes them at run time; the
 * wiring rules fail start-up with the YAML path.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEndpointPickerConfig } from '../../../../scheduler/config/loader.js';
import { startEpp, type RunningEpp } from '../../../../scheduler/main.js';
import type { MockMetricsSource } from '../../../../scheduler/plugins/datalayer/mock-metrics-source.js';
import { createDefaultRegistry } from '../../../../scheduler/plugins/index.js';
import { poll } from '../../../helpers/poll.js';
import { startCli, type RunningProcess } from '../../../helpers/processes.js';
import { silentLogger } from '../../helpers.js';

const HEAD = 'apiVersion: llm-d.ai/v1alpha1\nkind: EndpointPickerConfig\n';
const CONFIG = `${HEAD}plugins:
- type: queue-scorer
- type: max-score-picker
- type: mock-metrics-source
  parameters:
    metrics:
      pod-a: {waitingQueueSize: 50, kvCacheUsagePercent: 0.5, activeModels: [m]}
      pod-b: {waitingQueueSize: 0}
schedulingProfiles:
- name: default
  plugins: [{pluginRef: queue-scorer}, {pluginRef: max-score-picker}]
dataLayer:
  sources:
  - pluginRef: mock-metrics-source
`;

let sims: RunningProcess[];
let epp: RunningEpp;

beforeAll(async () => {
  sims = await Promise.all([0, 1].map(() => startCli(['sim', '--port', '0', '--host', '127.0.0.1', '--model', 'm'])));
  const file = join(mkdtempSync(join(tmpdir(), 'mock-metrics-')), 'endpoints.json');
  writeFileSync(file, JSON.stringify({ endpoints: [{ name: 'pod-a', address: '127.0.0.1', port: sims[0]!.port }, { name: 'pod-b', address: '127.0.0.1', port: sims[1]!.port }] }));
  epp = await startEpp({ configText: CONFIG, endpointsFile: file, host: '127.0.0.1', gatewayPort: 0, grpcPort: -1, grpcHealthPort: -1, metricsPort: -1, secureServing: false }, silentLogger);
});

afterAll(async () => {
  await epp?.close();
  await Promise.all((sims ?? []).map((sim) => sim.stop()));
});

/** Sends one request through the gateway; returns the index of the simulator that served it. */
async function servedBy(): Promise<number> {
  const response = await fetch(`${epp.gatewayUrl}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 }),
  });
  expect(response.status).toBe(200);
  await response.arrayBuffer();
  return successes();
}

/** Index of the sim whose served-request count grew since the last call. */
const served = [0, 0];
async function successes(): Promise<number> {
  const counts = await Promise.all(sims.map(async (sim) => {
    const text = await (await fetch(`http://127.0.0.1:${sim.port}/metrics`)).text();
    return text.split('\n').filter((l) => l.startsWith('vllm:request_success_total')).reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
  }));
  const grew = counts.findIndex((c, i) => c > served[i]!);
  counts.forEach((c, i) => { served[i] = c; });
  return grew;
}

describe('mock-metrics-source in the EPP', () => {
  it('sets the endpoints\' metrics from its values (no scrape); the queue scorer routes by them', async () => {
    await poll(() => epp.store.get('pod-a')?.metrics.updatedAt, { what: 'mock metrics written' });
    expect(epp.store.get('pod-a')!.metrics).toMatchObject({ waitingQueueSize: 50, kvCacheUsagePercent: 0.5, stale: false });
    expect([...epp.store.get('pod-a')!.metrics.activeModels]).toEqual(['m']);
    expect(epp.store.get('pod-b')!.metrics.waitingQueueSize).toBe(0);
    await successes();
    for (let i = 0; i < 3; i++) expect(await servedBy()).toBe(1);
  });

  it('setMetrics replaces the values at run time', async () => {
    const mock = epp.plugins.get('mock-metrics-source') as MockMetricsSource;
    mock.setMetrics({ 'pod-a': { waitingQueueSize: 0 }, 'pod-b': { waitingQueueSize: 80 } });
    expect(epp.store.get('pod-b')!.metrics.waitingQueueSize).toBe(80);
    await successes();
    for (let i = 0; i < 3; i++) expect(await servedBy()).toBe(0);
  });
});

describe('mock-metrics-source wiring errors name the YAML path', () => {
  const load = (yaml: string) => loadEndpointPickerConfig(HEAD + yaml, { registry: createDefaultRegistry(), logger: silentLogger });
  it.each([
    ['not listed under dataLayer', 'plugins:\n- type: mock-metrics-source\n', 'plugins[0]'],
    ['with extractors', 'plugins:\n- type: mock-metrics-source\n- type: dcgm-extractor\ndataLayer:\n  sources:\n  - pluginRef: mock-metrics-source\n    extractors: [{pluginRef: dcgm-extractor}]\n', 'dataLayer.sources[0].extractors[0]'],
    ['beside metrics-data-source', 'plugins:\n- type: mock-metrics-source\n- type: metrics-data-source\ndataLayer:\n  sources:\n  - pluginRef: mock-metrics-source\n', 'plugins[1]'],
    ['a bad value', 'plugins:\n- type: mock-metrics-source\n  parameters: {metrics: {p: {kvCacheUsagePercent: 3}}}\ndataLayer:\n  sources:\n  - pluginRef: mock-metrics-source\n', 'plugins[0].parameters.metrics.p.kvCacheUsagePercent'],
    ['an unknown field', 'plugins:\n- type: mock-metrics-source\n  parameters: {metrics: {p: {queue: 3}}}\ndataLayer:\n  sources:\n  - pluginRef: mock-metrics-source\n', 'plugins[0].parameters.metrics.p'],
  ])('%s', (_what, yaml, path) => {
    expect(() => load(yaml)).toThrow(path);
  });
});
