/**
 * Per-request scheduling state. `state` is the CycleState plugins share within one request;
 * `attributes` holds per-endpoint values written by data producers (e.g. prefix match info) —
 * kept here instead of on the shared Endpoint objects so concurrent requests never see each
 * other's values.
 */
import type { Endpoint } from './endpoint.js';
import type { Logger } from '../../src/log.js';

export class EndpointAttributes {
  private readonly values = new Map<string, Map<string, unknown>>();

  set<T>(endpoint: Endpoint, key: string, value: T): void {
    let forEndpoint = this.values.get(endpoint.name);
    if (!forEndpoint) {
      forEndpoint = new Map();
      this.values.set(endpoint.name, forEndpoint);
    }
    forEndpoint.set(key, value);
  }

  get<T>(endpoint: Endpoint, key: string): T | undefined {
    return this.values.get(endpoint.name)?.get(key) as T | undefined;
  }

  has(endpoint: Endpoint, key: string): boolean {
    return this.values.get(endpoint.name)?.has(key) ?? false;
  }
}

export class SchedulingContext {
  /** CycleState: plugin-owned values keyed by plugin name or a well-known key. */
  readonly state = new Map<string, unknown>();
  readonly attributes = new EndpointAttributes();
  readonly logger: Logger;
  /** Candidate endpoints for this request (after subset hints), before any profile filter. */
  readonly candidates: readonly Endpoint[];

  constructor(candidates: readonly Endpoint[], logger: Logger) {
    this.candidates = candidates;
    this.logger = logger;
  }
}

/** Attribute key of the prefix-cache match info (llm-d `PrefixCacheMatchInfoKey`). */
export const PREFIX_CACHE_MATCH_INFO = 'PrefixCacheMatchInfo';

export interface PrefixCacheMatchInfo {
  /** Consecutive leading blocks this endpoint holds. */
  readonly matchBlocks: number;
  /** Blocks the request's input was cut into. */
  readonly totalBlocks: number;
  /** Tokens per block. */
  readonly blockSizeTokens: number;
  /**
   * The request's real input token count, when the producer tokenized it (precise prefix cache);
   * deciders prefer it to the bytes/4 estimate, so cached and input tokens are in the same unit.
   */
  readonly inputTokens?: number;
}
