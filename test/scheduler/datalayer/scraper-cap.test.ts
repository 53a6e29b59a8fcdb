/**
 * A /metrics scrape is bounded in size: a pod streaming an endless body is cut off at the cap,
 * its scrape fails like any failed scrape (counted), and the other endpoints are unaffected.
 */
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { MetricsScraper } from '../../../scheduler/datalayer/scraper.js';
import { EndpointStore } from '../../../scheduler/datalayer/store.js';
import { EppMetrics } from '../../../scheduler/metrics.js';

const logger = pino({ level: 'silent' });
const CAP = 256 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, '# padding line of an endless metrics page\n');

let servers: Server[] = [];
afterEach(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  servers = [];
});

async function serve(handler: Parameters<typeof createServer>[1]): Promise<number> {
  const server = createServer(handler!);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function counter(metrics: EppMetrics, name: string): Promise<number> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  return (metric?.values ?? []).reduce((sum, v) => sum + Number(v.value), 0);
}

describe('metrics scrape size cap', () => {
  it('cuts an endless body at the cap, fails that scrape, keeps the others', async () => {
    let endlessClosed!: () => void;
    const closed = new Promise<void>((resolve) => { endlessClosed = resolve; });
    let written = 0;
    const endless = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const pump = (): void => {
        while (!res.destroyed) {
          written += CHUNK.length;
          if (!res.write(CHUNK)) {
            res.once('drain', pump);
            return;
          }
        }
      };
      res.on('close', endlessClosed);
      pump();
    });
    const good = await serve((_req, res) => res.end('vllm:num_requests_waiting{model_name="m"} 7\n'));
    const store = new EndpointStore();
    store.replaceAll([
      { name: 'endless', address: '127.0.0.1', port: endless, labels: {} },
      { name: 'good', address: '127.0.0.1', port: good, labels: {} },
    ]);
    const metrics = new EppMetrics();
    // A long timeout: only the size cap can end the endless scrape within the test.
    const scraper = new MetricsScraper(store, { intervalMs: 50, timeoutMs: 60_000, stalenessMs: 60_000, maxBodyBytes: CAP }, logger, metrics);
    try {
      await scraper.scrapeAll();
      await closed;
      expect(store.get('good')!.metrics.waitingQueueSize).toBe(7);
      expect(store.get('endless')!.metrics.updatedAt).toBe(0);
      expect(await counter(metrics, 'pd_router_metrics_scrape_too_large_total')).toBe(1);
      expect(await counter(metrics, 'llm_d_inference_scheduler_datalayer_poll_errors_total')).toBe(1);
      // The server kept writing until the scraper hung up: far more than the cap was offered.
      expect(written).toBeGreaterThan(CAP);
    } finally {
      await scraper.close();
    }
  });

  it('reads a body just under the cap', async () => {
    const page = `vllm:num_requests_waiting{model_name="m"} 5\n${'#'.repeat(CAP - 100)}\n`;
    const port = await serve((_req, res) => res.end(page));
    const store = new EndpointStore();
    store.replaceAll([{ name: 'big', address: '127.0.0.1', port, labels: {} }]);
    const metrics = new EppMetrics();
    const scraper = new MetricsScraper(store, { intervalMs: 50, timeoutMs: 5_000, stalenessMs: 60_000, maxBodyBytes: CAP }, logger, metrics);
    try {
      await scraper.scrapeAll();
      expect(store.get('big')!.metrics.waitingQueueSize).toBe(5);
      expect(await counter(metrics, 'pd_router_metrics_scrape_too_large_total')).toBe(0);
    } finally {
      await scraper.close();
    }
  });
});
