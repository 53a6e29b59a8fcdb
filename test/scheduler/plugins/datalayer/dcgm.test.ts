/**
 * dcgm-data-source + dcgm-extractor against a fake DCGM exporter over real HTTP (127.0.0.1, port
 * 0) serving real DCGM metric names; then the GPU-utilisation filter and scorer of llm-d Router's
 * sim-epp-gpu-config routing on what was scraped.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEndpointPickerConfig } from '../../../../scheduler/config/loader.js';
import { SchedulingContext } from '../../../../scheduler/framework/cycle-state.js';
import { isFilter, isScorer } from '../../../../scheduler/framework/plugins.js';
import { DcgmDataSource, dcgmDataSourceFactory, pollIntervalMs } from '../../../../scheduler/plugins/datalayer/dcgm-data-source.js';
import { DcgmExtractor, GPU_MEMORY_UTILIZATION, GPU_UTILIZATION } from '../../../../scheduler/plugins/datalayer/dcgm-extractor.js';
import { createDefaultRegistry } from '../../../../scheduler/plugins/index.js';
import { poll } from '../../../helpers/poll.js';
import { chatRequest, makeEndpoint, makeHandle, silentLogger } from '../../helpers.js';

/** What the exporter serves; tests change it. */
let body = '';
let status = 200;
let server: Server;
let port: number;

/** A DaemonSet-style exporter page: two pods, two GPUs each, labelled by pod. */
function exporterPage(util: Record<string, [number, number]>): string {
  const lines = ['# HELP DCGM_FI_DEV_GPU_UTIL GPU utilization (in %).', '# TYPE DCGM_FI_DEV_GPU_UTIL gauge'];
  for (const [pod, [gpu0, gpu1]] of Object.entries(util)) {
    lines.push(`DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-${pod}-0",device="nvidia0",modelName="NVIDIA H100 80GB HBM3",Hostname="node-1",pod="${pod}",namespace="default"} ${gpu0}`);
    lines.push(`DCGM_FI_DEV_GPU_UTIL{gpu="1",UUID="GPU-${pod}-1",device="nvidia1",modelName="NVIDIA H100 80GB HBM3",Hostname="node-1",pod="${pod}",namespace="default"} ${gpu1}`);
  }
  lines.push('# TYPE DCGM_FI_DEV_FB_USED gauge', 'DCGM_FI_DEV_FB_USED{gpu="0",pod="pod-a"} 60000', 'DCGM_FI_DEV_FB_USED{gpu="1",pod="pod-a"} 20000');
  lines.push('# TYPE DCGM_FI_DEV_FB_FREE gauge', 'DCGM_FI_DEV_FB_FREE{gpu="0",pod="pod-a"} 20000', 'DCGM_FI_DEV_FB_FREE{gpu="1",pod="pod-a"} 60000');
  return `${lines.join('\n')}\n`;
}

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(status, { 'content-type': 'text/plain; version=0.0.4' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

const podA = makeEndpoint({ name: 'pod-a', address: '127.0.0.1', role: 'decode' });
const podB = makeEndpoint({ name: 'pod-b', address: '127.0.0.1', role: 'decode' });

function source(endpoints = [podA, podB], maxBodyBytes = 1 << 20): { source: DcgmDataSource; extractor: DcgmExtractor } {
  const extractor = new DcgmExtractor('dcgm-extractor');
  const src = new DcgmDataSource('dcgm', {
    scheme: 'http', path: '/metrics', port, insecureSkipVerify: true, intervalMs: 1000, timeoutMs: 2000, maxBodyBytes,
  }, { endpoints: () => endpoints, logger: silentLogger });
  src.attach(extractor);
  return { source: src, extractor };
}

describe('dcgm-data-source + dcgm-extractor', () => {
  it('GPUUtilization = busiest GPU of the pod / 100; samples of other pods are ignored', async () => {
    body = exporterPage({ 'pod-a': [35, 95], 'pod-b': [10, 0] });
    status = 200;
    const { source: src, extractor } = source();
    try {
      await src.pollAll();
      expect(extractor.readAttribute(podA, GPU_UTILIZATION)).toBeCloseTo(0.95);
      expect(extractor.readAttribute(podB, GPU_UTILIZATION)).toBeCloseTo(0.10);
      // FB_USED/(USED+FREE) per GPU, max: gpu0 60000/80000 = 0.75.
      expect(extractor.readAttribute(podA, GPU_MEMORY_UTILIZATION)).toBeCloseTo(0.75);
      expect(extractor.readAttribute(podB, GPU_MEMORY_UTILIZATION)).toBeUndefined();
    } finally {
      await src.close();
    }
  });

  it('a sample without a pod label belongs to whoever is scraped (sidecar exporter); a rank endpoint reads its pod', () => {
    const extractor = new DcgmExtractor('x');
    const rank = makeEndpoint({ name: 'pod-a-rank-1' });
    extractor.extract(podB, [{ name: 'DCGM_FI_DEV_GPU_UTIL', labels: { gpu: '0' }, value: 40 }]);
    extractor.extract(rank, [{ name: 'DCGM_FI_DEV_GPU_UTIL', labels: { pod: 'pod-a' }, value: 100 }, { name: 'DCGM_FI_DEV_GPU_UTIL', labels: { pod: 'pod-b' }, value: 0 }]);
    expect(extractor.readAttribute(podB, GPU_UTILIZATION)).toBe(0.4);
    expect(extractor.readAttribute(rank, GPU_UTILIZATION)).toBe(1);
  });

  it('a scrape without the metric, a non-200 or an over-size body keeps the last value; gone endpoints are dropped', async () => {
    body = exporterPage({ 'pod-a': [50, 50], 'pod-b': [20, 20] });
    status = 200;
    const { source: src, extractor } = source();
    try {
      await src.pollAll();
      expect(extractor.readAttribute(podA, GPU_UTILIZATION)).toBe(0.5);
      body = '# nothing\nDCGM_FI_DEV_SM_CLOCK{gpu="0"} 1980\n';
      await src.pollAll();
      expect(extractor.readAttribute(podA, GPU_UTILIZATION)).toBe(0.5);
      status = 500;
      body = exporterPage({ 'pod-a': [1, 1] });
      await src.pollAll();
      expect(extractor.readAttribute(podA, GPU_UTILIZATION)).toBe(0.5);
    } finally {
      await src.close();
    }
    status = 200;
    const small = source([podA], 64);
    try {
      await small.source.pollAll();
      expect(small.extractor.readAttribute(podA, GPU_UTILIZATION)).toBeUndefined();
    } finally {
      await small.source.close();
    }
    extractor.retain(new Set(['pod-b']));
    expect(extractor.readAttribute(podA, GPU_UTILIZATION)).toBeUndefined();
    expect(extractor.readAttribute(podB, GPU_UTILIZATION)).toBe(0.2);
  });

  it('interval rounds to the nearest multiple of the refresh tick (at least one)', () => {
    expect(pollIntervalMs(undefined, 50)).toBe(50);
    expect(pollIntervalMs('1s', 50)).toBe(1000);
    expect(pollIntervalMs('1s', 300)).toBe(900);
    expect(pollIntervalMs('10ms', 50)).toBe(50);
    expect(() => pollIntervalMs('soon', 50)).toThrow(/parameters\.interval/);
  });

  it('parameters are strict; useNodeAddress: true is refused (endpoints carry no node address)', async () => {
    const handle = makeHandle();
    const ok = dcgmDataSourceFactory('d', { port: 9400, interval: '1s', scheme: 'https', path: '/metrics', insecureSkipVerify: false, useNodeAddress: false }, handle) as DcgmDataSource;
    expect(ok.intervalMs).toBe(1000);
    await ok.close();
    expect(() => dcgmDataSourceFactory('d', { useNodeAddress: true }, handle)).toThrow(/parameters\.useNodeAddress: .*node address/);
    expect(() => dcgmDataSourceFactory('d', { scheme: 'ftp' }, handle)).toThrow(/parameters\.scheme/);
    expect(() => dcgmDataSourceFactory('d', { prot: 9400 }, handle)).toThrow(/parameters\.prot: unknown parameter/);
  });
});

const gpuConfig = (exporterPort: number, extra = ''): string => `
apiVersion: llm-d.ai/v1alpha1
kind: EndpointPickerConfig
plugins:
- {type: dcgm-data-source, name: dcgm-source, parameters: {port: ${exporterPort}, interval: 50ms}}
- {type: dcgm-extractor, name: dcgm-extractor}
- type: endpoint-attribute-filter
  name: gpu-utilization-filter
  parameters:
    attribute: GPUUtilization
    producer: dcgm-extractor
    onMissing: Pass
    fallbackOnEmpty: true
    algorithm: {type: threshold, threshold: {operator: LessThanOrEqual, value: 0.90}}
- type: endpoint-attribute-scorer
  name: gpu-utilization-scorer
  parameters:
    attributeKey: GPUUtilization
    producer: dcgm-extractor
    algorithm: {type: linear_lower_is_better, normalization: {fixedRange: {min: 0.0, max: 1.0}}}
${extra}
dataLayer:
  sources:
  - pluginRef: dcgm-source
    extractors: [{pluginRef: dcgm-extractor}]
schedulingProfiles:
- name: default
  plugins: [{pluginRef: gpu-utilization-filter}, {pluginRef: gpu-utilization-scorer, weight: 2}]
`;

describe('sim-epp-gpu-config through the loader', () => {
  it('the loaded source polls the exporter; the filter drops the hot pod and the scorer ranks by utilisation', async () => {
    body = exporterPage({ 'pod-a': [35, 95], 'pod-b': [10, 30] });
    status = 200;
    const loaded = loadEndpointPickerConfig(gpuConfig(port), { registry: createDefaultRegistry(), logger: silentLogger, endpoints: () => [podA, podB] });
    try {
      const filter = loaded.plugins.get('gpu-utilization-filter')!;
      const scorer = loaded.plugins.get('gpu-utilization-scorer')!;
      if (!isFilter(filter) || !isScorer(scorer)) throw new Error('wrong kinds');
      const ctx = new SchedulingContext([podA, podB], silentLogger);
      const request = chatRequest('hi');
      // Both pods scraped: pod-b scored (> 0) and pod-a, the hot one, filtered out.
      await poll(async () => (await scorer.score(ctx, request, [podA, podB])).get(podB)! > 0 && filter.filter(ctx, request, [podA, podB]).length === 1, { what: 'the first DCGM poll of both pods' });
      expect(filter.filter(ctx, request, [podA, podB])).toEqual([podB]);
      const scores = await scorer.score(ctx, request, [podA, podB]);
      expect(scores.get(podA)).toBeCloseTo(0.05);
      expect(scores.get(podB)).toBeCloseTo(0.70);
      const result = await loaded.scheduler.schedule(ctx, request);
      expect(result.profileResults.get('default')?.targets[0]?.name).toBe('pod-b');
    } finally {
      await loaded.close();
    }
  });

  it('fails start-up naming the YAML path: unwired source, wrong producer, extractor under a non-polling source', () => {
    const load = (yaml: string) => loadEndpointPickerConfig(yaml, { registry: createDefaultRegistry(), logger: silentLogger });
    const unwired = gpuConfig(port).replace(/dataLayer:[\s\S]*?extractors: \[\{pluginRef: dcgm-extractor\}\]\n/, '');
    expect(() => load(unwired)).toThrow(/plugins\[0\].*not wired under dataLayer\.sources/);
    expect(() => load(gpuConfig(port).replace('producer: dcgm-extractor\n    onMissing', 'producer: dcgm\n    onMissing'))).toThrow(/plugins\[2\]\.parameters\.producer.*no plugin named "dcgm"/);
    expect(() => load(gpuConfig(port).replace('attribute: GPUUtilization', 'attribute: GPUTemp'))).toThrow(/plugins\[2\]\.parameters\.attribute.*does not publish "GPUTemp"/);
    expect(() => load(gpuConfig(port).replace('    producer: dcgm-extractor\n    algorithm', '    algorithm'))).toThrow(/plugins\[3\]\.parameters\.producer: required/);
    const misplaced = gpuConfig(port).replace('  - pluginRef: dcgm-source\n    extractors: [{pluginRef: dcgm-extractor}]', '  - pluginRef: dcgm-source\n  - pluginRef: metrics-data-source\n    extractors: [{pluginRef: dcgm-extractor}]');
    expect(() => load(misplaced)).toThrow(/dataLayer\.sources\[1\]\.extractors\[0\]\.pluginRef.*pair it with a source such as dcgm-data-source/);
  });
});
