/**
 * The latency model: time to first token by calculator, inter-token latency,
 * Gaussian jitter clamped to [0.3, 1.7]·mean, and a load factor that grows with running requests.
 * All values are milliseconds.
 */
import type { Random } from './random.js';

export type LatencyCalculatorName = '' | 'constant' | 'per-token';
export const LATENCY_CALCULATORS: readonly LatencyCalculatorName[] = ['', 'constant', 'per-token'];

export interface LatencySettings {
  timeToFirstToken: number;
  timeToFirstTokenStdDev: number;
  interTokenLatency: number;
  interTokenLatencyStdDev: number;
  kvCacheTransferLatency: number;
  kvCacheTransferLatencyStdDev: number;
  prefillOverhead: number;
  prefillTimePerToken: number;
  prefillTimeStdDev: number;
  kvCacheTransferTimePerToken: number;
  kvCacheTransferTimeStdDev: number;
  latencyCalculator: LatencyCalculatorName;
  timeFactorUnderLoad: number;
}

export interface LatencyContext {
  random: Random;
  maxNumSeqs: number;
  /** Go parity: truncate mean and σ to whole ms first and return whole ms (0.9 ms → 0). */
  wholeMs: boolean;
}

export interface TtftParams {
  promptTokens: number;
  cachedTokens: number;
  doRemotePrefill: boolean;
  /** Running requests when the sleep is computed (this one included). */
  running: number;
}

/** L = 1 + (f − 1)·(running − 1)/(maxNumSeqs − 1); 1 when maxNumSeqs ≤ 1. */
export function loadFactor(timeFactorUnderLoad: number, running: number, maxNumSeqs: number): number {
  if (maxNumSeqs <= 1) return 1;
  return 1 + ((timeFactorUnderLoad - 1) * (running - 1)) / (maxNumSeqs - 1);
}

/** mean + σ·Z clamped to [0.3·mean, 1.7·mean]; σ = 0 → mean. */
export function jitter(random: Random, meanMs: number, stdDevMs: number, wholeMs: boolean): number {
  const mean = wholeMs ? Math.trunc(meanMs) : meanMs;
  const stdDev = wholeMs ? Math.trunc(stdDevMs) : stdDevMs;
  let value = random.gaussian(mean, stdDev);
  if (value < 0.3 * mean) value = 0.3 * mean;
  else if (value > 1.7 * mean) value = 1.7 * mean;
  return wholeMs ? Math.trunc(value) : value;
}

function usePerToken(settings: LatencySettings, remote: boolean): boolean {
  switch (settings.latencyCalculator) {
    case 'constant': return false;
    case 'per-token': return true;
    default:
      return remote
        ? settings.kvCacheTransferLatency === 0 && settings.kvCacheTransferLatencyStdDev === 0
        : settings.timeToFirstToken === 0 && settings.timeToFirstTokenStdDev === 0;
  }
}

/**
 * TTFT per calculator. A remote prefill (decode leg of P/D) waits for the KV transfer instead:
 * full prompt length (hits never shorten it) and not load-scaled.
 */
export function timeToFirstToken(settings: LatencySettings, params: TtftParams, context: LatencyContext): number {
  const { random, wholeMs } = context;
  if (params.doRemotePrefill) {
    if (usePerToken(settings, true)) {
      return jitter(random, params.promptTokens * settings.kvCacheTransferTimePerToken, settings.kvCacheTransferTimeStdDev, wholeMs);
    }
    return jitter(random, settings.kvCacheTransferLatency, settings.kvCacheTransferLatencyStdDev, wholeMs);
  }
  const factor = loadFactor(settings.timeFactorUnderLoad, params.running, context.maxNumSeqs);
  if (usePerToken(settings, false)) {
    const uncached = Math.max(0, params.promptTokens - params.cachedTokens);
    const mean = settings.prefillOverhead * factor + uncached * settings.prefillTimePerToken * factor;
    return jitter(random, mean, settings.prefillTimeStdDev, wholeMs);
  }
  return jitter(random, settings.timeToFirstToken * factor, settings.timeToFirstTokenStdDev, wholeMs);
}

/** The sleep before each token after the first: N(itl·L, itl-std). */
export function interTokenLatency(settings: LatencySettings, running: number, context: LatencyContext): number {
  const factor = loadFactor(settings.timeFactorUnderLoad, running, context.maxNumSeqs);
  return jitter(context.random, settings.interTokenLatency * factor, settings.interTokenLatencyStdDev, context.wholeMs);
}
