/**
 * `probabilistic-admitter`: sheds sheddable requests (priority < 0) before they queue or schedule,
 * with a probability that rises steeply with pool saturation; priority ≥ 0 is always admitted.
 *
 *   s = mean over endpoints of max(waitingQueue/queueDepthThreshold, kvCacheUsage/kvCacheUtilThreshold)
 *       (an endpoint never scraped counts as 1; an empty pool admits)
 *   p(reject) = min(s^power · k, 1)
 * With the defaults (power 5, k 300) ≈ 2.3 % at s = 0.15 and 100 % from s = (1/k)^(1/power) ≈ 0.34.
 * A rejection is a 429.
 *
 * Parameters: queueDepthThreshold (int > 0, default 5), kvCacheUtilThreshold ((0,1], default 0.8),
 * power (> 0, default 5), k (> 0, default 300).
 *
 * ```yaml
 * - type: probabilistic-admitter
 *   parameters: {power: 3, k: 100}
 * ```
 */
import type { Endpoint } from '../framework/endpoint.js';

export const PROBABILISTIC_ADMITTER_TYPE = 'probabilistic-admitter';

export interface ProbabilisticAdmitterOptions {
  queueDepthThreshold: number;
  kvCacheUtilThreshold: number;
  power: number;
  k: number;
  /** Uniform [0,1) (tests). */
  random?: () => number;
}

export const PROBABILISTIC_ADMITTER_DEFAULTS: ProbabilisticAdmitterOptions = { queueDepthThreshold: 5, kvCacheUtilThreshold: 0.8, power: 5, k: 300 };

export function rooflineSaturation(endpoints: readonly Endpoint[], queueDepthThreshold: number, kvCacheUtilThreshold: number): number {
  if (endpoints.length === 0) return 0;
  let sum = 0;
  for (const { metrics } of endpoints) {
    sum += metrics.updatedAt === 0 ? 1 : Math.max(metrics.waitingQueueSize / queueDepthThreshold, metrics.kvCacheUsagePercent / kvCacheUtilThreshold);
  }
  return sum / endpoints.length;
}

export class ProbabilisticAdmitter {
  readonly type = PROBABILISTIC_ADMITTER_TYPE;
  private readonly random: () => number;
  constructor(readonly name: string, readonly options: ProbabilisticAdmitterOptions = PROBABILISTIC_ADMITTER_DEFAULTS) {
    this.random = options.random ?? Math.random;
  }

  rejectProbability(saturation: number): number {
    return Math.min(saturation ** this.options.power * this.options.k, 1);
  }

  /** True when the request may proceed. */
  admit(priority: number, endpoints: readonly Endpoint[]): boolean {
    if (priority >= 0 || endpoints.length === 0) return true;
    const s = rooflineSaturation(endpoints, this.options.queueDepthThreshold, this.options.kvCacheUtilThreshold);
    return this.random() >= this.rejectProbability(s);
  }
}
