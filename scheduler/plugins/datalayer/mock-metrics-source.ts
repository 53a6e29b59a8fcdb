/**
 * `mock-metrics-source`: llm-d Router's integration-test metrics source. Upstream it is a polling
 * source whose per-endpoint metrics are set by test code (`SetMetrics`) and written into the
 * endpoints on every poll, in place of a real scrape; its YAML form takes no parameters.
 *
 * Here it does the same job as a real source: when declared (and listed under
 * `dataLayer.sources`), it **replaces pd-router's /metrics scraper** — no model server is scraped —
 * and on every tick (`--refresh-metrics-interval`) writes the metrics it holds for each endpoint
 * into the endpoint store, fresh (`updatedAt` = now). An endpoint it holds nothing for keeps the
 * empty metrics it joined with (as upstream, where such an endpoint is never updated). The values
 * come from its parameters and can be replaced at run time by in-process callers (`setMetrics`,
 * upstream's `SetMetrics`). Declaring it beside `metrics-data-source` fails start-up (two sources
 * of the same metrics).
 *
 * Parameters (pd-router's; upstream's samples give none, which means "no values yet"):
 * `metrics`: endpoint name → {`waitingQueueSize`, `runningRequestsSize`, `kvCacheUsagePercent`
 * (0–1), `activeModels`, `waitingModels` (model names), `maxActiveModels`}; every field optional,
 * default 0 / empty. Endpoint names are pd-router's (`<pod>-rank-<i>` under Kubernetes, the `name`
 * of the endpoints file). It takes no extractors.
 *
 * ```yaml
 * plugins:
 * - type: mock-metrics-source
 *   parameters:
 *     metrics:
 *       pod-0-rank-0: {waitingQueueSize: 10, kvCacheUsagePercent: 0.9}
 *       pod-1-rank-0: {waitingQueueSize: 0, activeModels: [my-lora]}
 * dataLayer:
 *   sources:
 *   - pluginRef: mock-metrics-source
 * ```
 */
import { z } from 'zod';
import type { Logger } from '../../../src/log.js';
import { emptyMetrics, type Endpoint, type EndpointMetrics } from '../../framework/endpoint.js';
import type { Plugin } from '../../framework/plugins.js';
import { parseParameters, type PluginFactory } from '../../framework/registry.js';

export const MOCK_METRICS_SOURCE_TYPE = 'mock-metrics-source';

const count = z.number().int().min(0);
const MockMetrics = z.strictObject({
  waitingQueueSize: count.default(0),
  runningRequestsSize: count.default(0),
  kvCacheUsagePercent: z.number().min(0).max(1, 'kvCacheUsagePercent is a fraction (0–1)').default(0),
  activeModels: z.array(z.string()).default([]),
  waitingModels: z.array(z.string()).default([]),
  maxActiveModels: count.default(0),
});

export type MockMetricsInput = z.input<typeof MockMetrics>;

const Parameters = z.strictObject({ metrics: z.record(z.string().min(1), MockMetrics).default({}) });

/** Where the source writes (the EPP's endpoint store). */
export interface MetricsSink {
  list(): readonly Endpoint[];
  updateMetrics(name: string, metrics: EndpointMetrics): void;
}

export class MockMetricsSource implements Plugin {
  readonly type = MOCK_METRICS_SOURCE_TYPE;
  private values = new Map<string, z.output<typeof MockMetrics>>();
  private timer: NodeJS.Timeout | undefined;
  private sink: MetricsSink | undefined;

  constructor(readonly name: string, initial: Readonly<Record<string, z.output<typeof MockMetrics>>>, private readonly logger?: Logger) {
    this.values = new Map(Object.entries(initial));
  }

  /** Replaces every endpoint's values (upstream's SetMetrics); applied at once when running. */
  setMetrics(metrics: Readonly<Record<string, MockMetricsInput>>): void {
    this.values = new Map(Object.entries(metrics).map(([name, m]) => [name, MockMetrics.parse(m)]));
    this.tick();
  }

  /** Writes into `sink` now and every `intervalMs` until close(). */
  run(sink: MetricsSink, intervalMs: number): void {
    if (this.timer !== undefined) return;
    this.sink = sink;
    this.logger?.warn({ plugin: this.name, endpoints: [...this.values.keys()] }, 'mock-metrics-source replaces the /metrics scrape: endpoint metrics come from its configured values only (a test and demo source)');
    this.tick();
    this.timer = setInterval(() => this.tick(), Math.max(1, intervalMs));
    this.timer.unref();
  }

  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.sink = undefined;
  }

  private tick(): void {
    const sink = this.sink;
    if (!sink) return;
    const now = Date.now();
    for (const endpoint of sink.list()) {
      const m = this.values.get(endpoint.name);
      if (!m) continue;
      sink.updateMetrics(endpoint.name, {
        ...emptyMetrics(),
        waitingQueueSize: m.waitingQueueSize, runningRequestsSize: m.runningRequestsSize, kvCacheUsagePercent: m.kvCacheUsagePercent,
        activeModels: new Set(m.activeModels), waitingModels: new Set(m.waitingModels), maxActiveModels: m.maxActiveModels,
        updatedAt: now, stale: false,
      });
    }
  }
}

export const isMockMetricsSource = (plugin: Plugin): plugin is MockMetricsSource => plugin instanceof MockMetricsSource;

export const mockMetricsSourceFactory: PluginFactory = (name, parameters, handle) => {
  const p = parseParameters(Parameters, parameters ?? {});
  return new MockMetricsSource(name, p.metrics, handle.logger);
};
