/**
 * An endpoint is one model-server port the EPP can route to: a pod IP + target port, its labels
 * (role from `llm-d.ai/role`) and the latest metrics scraped from it. Endpoints are owned by the
 * datalayer; plugins read them and never mutate them.
 */

export const ROLE_LABEL = 'llm-d.ai/role';

export interface EndpointMetrics {
  waitingQueueSize: number;
  runningRequestsSize: number;
  /** 0–1 */
  kvCacheUsagePercent: number;
  /** Tokens per KV block (`vllm:cache_config_info{block_size}`), 0 when unknown. */
  cacheBlockSize: number;
  /** `vllm:cache_config_info{num_gpu_blocks}`, 0 when unknown. */
  cacheNumBlocks: number;
  activeModels: ReadonlySet<string>;
  waitingModels: ReadonlySet<string>;
  maxActiveModels: number;
  /** ms since epoch of the last successful scrape; 0 = never scraped. */
  updatedAt: number;
  /** True when the last good scrape is older than the staleness threshold. */
  stale: boolean;
  /** vLLM's cumulative latency and token counters; absent until a scrape carried any of them. */
  engineCounters?: EngineCounters;
}

/**
 * Cumulative counters of one vLLM server, summed over its series (engines, models): histogram
 * `_sum` (seconds) and `_count` pairs, and token counters. Only deltas between scrapes mean anything.
 */
export interface EngineCounters {
  /** `vllm:time_to_first_token_seconds` */
  readonly ttftSeconds: number;
  readonly ttftCount: number;
  /** `vllm:inter_token_latency_seconds`, else the older `vllm:time_per_output_token_seconds` */
  readonly itlSeconds: number;
  readonly itlCount: number;
  /** `vllm:prompt_tokens_total` (cached and transferred tokens included) */
  readonly promptTokens: number;
  /** `vllm:generation_tokens_total` */
  readonly generationTokens: number;
}

export interface Endpoint {
  /** Unique key: `<pod>` or `<pod>-rank-<i>` for multi-port pods. */
  readonly name: string;
  readonly namespace: string;
  /** Pod IP (or host name for static endpoints). */
  readonly address: string;
  readonly port: number;
  /** `address:port`, IPv6 bracketed — the value of routing headers. */
  readonly hostPort: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Where `/metrics` is scraped: `host:port`. */
  readonly metricsHost: string;
  readonly metrics: EndpointMetrics;
}

export function emptyMetrics(): EndpointMetrics {
  return {
    waitingQueueSize: 0, runningRequestsSize: 0, kvCacheUsagePercent: 0, cacheBlockSize: 0, cacheNumBlocks: 0,
    activeModels: new Set(), waitingModels: new Set(), maxActiveModels: 0, updatedAt: 0, stale: false,
  };
}

/** Go's net.JoinHostPort (one definition, in src/wire/host-port.ts). */
export { joinHostPort } from '../../src/wire/host-port.js';

export function roleOf(endpoint: Endpoint): string | undefined {
  return endpoint.labels[ROLE_LABEL];
}
