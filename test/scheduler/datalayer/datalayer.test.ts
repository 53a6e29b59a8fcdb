import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { EndpointStore } from '../../../scheduler/datalayer/store.js';
import { StaticFileSource, parseEndpointsFile } from '../../../scheduler/datalayer/static-file.js';
import { parsePrometheusText } from '../../../scheduler/datalayer/prometheus-text.js';
import { metricsFromScrape } from '../../../scheduler/datalayer/vllm-metrics.js';
import { MetricsScraper } from '../../../scheduler/datalayer/scraper.js';
import { emptyMetrics } from '../../../scheduler/framework/endpoint.js';
import { preferFresh } from '../../../scheduler/framework/scheduler.js';
import { listen, type ListeningServer } from '../../../src/http/server.js';

const logger = pino({ level: 'silent' });

describe('endpoints file', () => {
  it('parses entries with roles, IPv6 host-ports and metrics ports', () => {
    const specs = parseEndpointsFile(`
endpoints:
- {name: d0, address: 10.0.0.1, port: 8000, labels: {llm-d.ai/role: decode}}
- {name: p0, address: "fd00::1", port: 8000, metricsPort: 9000, labels: {llm-d.ai/role: prefill}}
`);
    const store = new EndpointStore();
    store.replaceAll(specs);
    expect(store.list().map((e) => [e.name, e.hostPort, e.metricsHost, e.labels['llm-d.ai/role']])).toEqual([
      ['d0', '10.0.0.1:8000', '10.0.0.1:8000', 'decode'],
      ['p0', '[fd00::1]:8000', '[fd00::1]:9000', 'prefill'],
    ]);
  });

  it('names the bad entry', () => {
    expect(() => parseEndpointsFile('endpoints: [{name: a, address: x, port: 0}]')).toThrow(/endpoints\[0\]\.port/);
    expect(() => parseEndpointsFile('endpoints: [{name: a, address: x, port: 1, extra: 1}]')).toThrow(/extra/);
    expect(() => parseEndpointsFile('endpoints: [{name: a, address: x, port: 1}, {name: a, address: y, port: 2}]')).toThrow(/duplicate/);
  });

  it('reloads on change, keeps objects of unchanged endpoints, and keeps the last good set on a bad file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pd-endpoints-'));
    const path = join(dir, 'endpoints.yaml');
    writeFileSync(path, 'endpoints: [{name: a, address: 127.0.0.1, port: 1}]');
    const store = new EndpointStore();
    const source = new StaticFileSource(path, store, logger);
    source.start();
    try {
      const a = store.get('a');
      const changed = new Promise<void>((resolve) => { const off = store.onChange(() => { off(); resolve(); }); });
      // Replace atomically, as editors and ConfigMap updates do.
      writeFileSync(join(dir, 'tmp'), 'endpoints: [{name: a, address: 127.0.0.1, port: 1}, {name: b, address: 127.0.0.1, port: 2}]');
      renameSync(join(dir, 'tmp'), path);
      await changed;
      expect(store.list().map((e) => e.name)).toEqual(['a', 'b']);
      expect(store.get('a')).toBe(a);
      writeFileSync(path, 'endpoints: [{name: 1}]');
      source.reload();
      expect(store.list().map((e) => e.name)).toEqual(['a', 'b']);
    } finally {
      source.close();
    }
  });
});

describe('vLLM metrics', () => {
  const scrape = `# HELP vllm:num_requests_waiting x
vllm:num_requests_waiting{model_name="m"} 3
vllm:num_requests_running{model_name="m"} 2.0
vllm:gpu_cache_usage_perc{model_name="m"} 0.25
vllm:cache_config_info{block_size="16",num_gpu_blocks="1024"} 1
vllm:lora_requests_info{max_lora="2",running_lora_adapters="a,b",waiting_lora_adapters=""} 100
vllm:lora_requests_info{max_lora="2",running_lora_adapters="c",waiting_lora_adapters="d"} 200
garbage{ 1
`;

  it('parses the text format with labels and escapes', () => {
    const samples = parsePrometheusText('m{a="x\\"y",b="z"} 1.5 123\nn 2\n');
    expect(samples).toEqual([{ name: 'm', labels: { a: 'x"y', b: 'z' }, value: 1.5 }, { name: 'n', labels: {}, value: 2 }]);
  });

  it('maps old and new vLLM names; the newest LoRA series wins', () => {
    const m = metricsFromScrape(scrape, emptyMetrics(), 42);
    expect(m).toMatchObject({ waitingQueueSize: 3, runningRequestsSize: 2, kvCacheUsagePercent: 0.25, cacheBlockSize: 16, cacheNumBlocks: 1024, maxActiveModels: 2, updatedAt: 42, stale: false });
    expect([...m.activeModels]).toEqual(['c']);
    expect([...m.waitingModels]).toEqual(['d']);
  });

  it('keeps previous values for series missing from a scrape', () => {
    const previous = { ...emptyMetrics(), waitingQueueSize: 9 };
    expect(metricsFromScrape('vllm:kv_cache_usage_perc 0.5', previous, 1)).toMatchObject({ waitingQueueSize: 9, kvCacheUsagePercent: 0.5 });
  });
});

describe('MetricsScraper', () => {
  let server: ListeningServer | undefined;
  afterEach(async () => server?.close(0));

  it('scrapes real HTTP endpoints and marks an unreachable one stale', async () => {
    let waiting = 4;
    server = await listen((_req, res) => {
      res.end(`vllm:num_requests_waiting{model_name="m"} ${waiting}\n`);
    }, { port: 0, host: '127.0.0.1' });
    const store = new EndpointStore();
    store.replaceAll([
      { name: 'up', address: '127.0.0.1', port: server.port },
      { name: 'down', address: '127.0.0.1', port: 1 },
    ]);
    const scraper = new MetricsScraper(store, { intervalMs: 50, timeoutMs: 500, stalenessMs: 0 }, logger);
    try {
      await scraper.scrapeAll();
      expect(store.get('up')!.metrics.waitingQueueSize).toBe(4);
      expect(store.get('up')!.metrics.stale).toBe(false);
      expect(store.get('down')!.metrics.stale).toBe(true);
      waiting = 1;
      await scraper.scrapeAll();
      expect(store.get('up')!.metrics.waitingQueueSize).toBe(1);
      expect(preferFresh(store.list()).map((e) => e.name)).toEqual(['up']);
    } finally {
      await scraper.close();
    }
  });

  it('uses stale endpoints when nothing fresh is left', () => {
    const store = new EndpointStore();
    store.replaceAll([{ name: 'a', address: 'h', port: 1 }]);
    store.updateMetrics('a', { ...emptyMetrics(), stale: true });
    expect(preferFresh(store.list())).toHaveLength(1);
  });
});
