/**
 * Saturation detectors: one number for the pool, 0 = idle, ≥ 1 = saturated. The flow controller
 * dispatches a band while saturation < its ceiling (see usage-limits.ts).
 *
 * `utilization-detector` (reactive, from scraped metrics):
 *   score_e = max(waitingQueue_e / queueDepthThreshold, kvCacheUsage_e / kvCacheUtilThreshold);
 *   an endpoint never scraped or whose metrics are older than metricsStalenessThreshold scores 1;
 *   saturation = mean(score_e); an empty pool has saturation 1 (nothing can be dispatched).
 *   Parameters: queueDepthThreshold (int > 0, default 5), kvCacheUtilThreshold ((0,1], default 0.8),
 *   metricsStalenessThreshold (duration > 0, default 200ms), headroom (≥ 0, default 0; used by the
 *   endpoint filter role, which pd-router does not implement yet: a non-zero value is rejected).
 *
 * `concurrency-detector` (synchronous, from this EPP's own accounting), requests mode only:
 *   saturation = requests dispatched by flow control and not released / (maxConcurrency · |pool|).
 *   Parameters: concurrencyMode (`requests`; `tokens`/`hybrid` are rejected), maxConcurrency
 *   (int > 0, default 100), headroom (must be 0, as above).
 */
import type { Endpoint } from '../framework/endpoint.js';

export const UTILIZATION_DETECTOR_TYPE = 'utilization-detector';
export const CONCURRENCY_DETECTOR_TYPE = 'concurrency-detector';

export interface SaturationInput {
  readonly endpoints: readonly Endpoint[];
  /** Requests dispatched by the flow controller and not yet released. */
  readonly inFlight: number;
  /** ms since epoch. */
  readonly now: number;
}

export interface SaturationDetector {
  readonly type: string;
  readonly name: string;
  saturation(input: SaturationInput): number;
  /** Endpoints whose metrics were stale in the last call (for the stale-endpoints gauge). */
  readonly lastStale?: number;
}

export interface UtilizationOptions {
  queueDepthThreshold: number;
  kvCacheUtilThreshold: number;
  metricsStalenessMs: number;
}

export const UTILIZATION_DEFAULTS: UtilizationOptions = { queueDepthThreshold: 5, kvCacheUtilThreshold: 0.8, metricsStalenessMs: 200 };

export class UtilizationDetector implements SaturationDetector {
  readonly type = UTILIZATION_DETECTOR_TYPE;
  lastStale = 0;
  constructor(readonly name: string, readonly options: UtilizationOptions = UTILIZATION_DEFAULTS) {}

  endpointScore(endpoint: Endpoint, now: number): number {
    const m = endpoint.metrics;
    if (m.updatedAt === 0 || m.stale || now - m.updatedAt > this.options.metricsStalenessMs) return 1;
    return Math.max(m.waitingQueueSize / this.options.queueDepthThreshold, m.kvCacheUsagePercent / this.options.kvCacheUtilThreshold);
  }

  saturation({ endpoints, now }: SaturationInput): number {
    if (endpoints.length === 0) return 1;
    let sum = 0;
    let stale = 0;
    for (const endpoint of endpoints) {
      const m = endpoint.metrics;
      if (m.updatedAt === 0 || m.stale || now - m.updatedAt > this.options.metricsStalenessMs) stale++;
      sum += this.endpointScore(endpoint, now);
    }
    this.lastStale = stale;
    return sum / endpoints.length;
  }
}

export class ConcurrencyDetector implements SaturationDetector {
  readonly type = CONCURRENCY_DETECTOR_TYPE;
  constructor(readonly name: string, readonly maxConcurrency = 100) {}

  saturation({ endpoints, inFlight }: SaturationInput): number {
    if (endpoints.length === 0) return 1;
    return inFlight / (this.maxConcurrency * endpoints.length);
  }
}
