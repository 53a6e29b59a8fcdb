/** What the precise prefix cache service (service.ts) takes and answers. */
import type { Registry } from 'prom-client';
import type { Logger } from '../../../src/log.js';
import type { Endpoint } from '../../framework/endpoint.js';
import type { KvBlockIndex } from '../index/types.js';
import type { PrefixMatchResult } from './read-path.js';
import type { RequestTokenizer } from './request-tokens.js';
import type { PendingTail } from './speculative-tail.js';
import type { Pending } from './token-estimate.js';

/** Why a request got no prefix scores (span attribute `llm_d.scorer.result`). */
export type MatchOutcome = 'scored' | 'index_not_ready' | 'tokenization_failed' | 'overloaded' | 'no_full_block' | 'lookup_failed';

export interface RequestMatch extends PrefixMatchResult {
  readonly outcome: MatchOutcome;
  /** Prompt tokens (exact + estimated), when the request was tokenized. */
  readonly tokenCount?: number;
  /** What was estimated, when the walk stopped early (for observePromptTokens). */
  readonly estimate?: Pending;
  /** With speculative tails: where the walk stopped, for the guesses after the pick (`speculate` takes it). */
  readonly tail?: PendingTail;
}

export interface PrecisePrefixCacheOptions {
  logger: Logger;
  /** Names the owner in logs (the plugin's name). */
  name?: string;
  /** The EPP's endpoint set (per-endpoint event mode). */
  endpoints?: () => readonly Endpoint[];
  /** Where the llm_d_kv_cache_* metrics go (default: a private registry). */
  registry?: Registry;
  /** Use this index instead of building one from the config (tests); it is closed with the service. */
  index?: KvBlockIndex;
  tokenizer?: RequestTokenizer;
  /** Per-endpoint mode background poll (default 1000 ms). */
  pollIntervalMs?: number;
}
