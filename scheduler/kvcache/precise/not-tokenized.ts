/**
 * A request the precise prefix cache could not tokenize: back-pressure (`overloaded`, counted in
 * pd_router_precise_prefix_skipped_total) or a failure, warned once per (model, reason) — later
 * ones are debug, so a model without a tokenizer does not flood the log. Model names come from
 * requests: the MAX_WARNED most recent pairs are remembered (an older one may warn again).
 */
import type { Logger } from '../../../src/log.js';
import { OVERLOADED } from '../../../src/tokenization/errors.js';
import { LruMap } from '../../../src/lru.js';
import type { PrecisePrefixMetrics } from './metrics.js';

/** (model, reason) pairs remembered as warned at most. */
export const MAX_WARNED = 1024;

export class NotTokenized {
  private readonly warned = new LruMap<string, true>(MAX_WARNED);

  constructor(private readonly logger: Logger, private readonly plugin: string, private readonly metrics: PrecisePrefixMetrics) {}

  /** Counts or logs `err`; the match outcome it stands for. */
  outcome(model: string, err: unknown): 'overloaded' | 'tokenization_failed' {
    const code = (err as { code?: unknown }).code;
    if (code === OVERLOADED) {
      this.metrics.skipped.inc({ reason: 'overloaded' });
      return 'overloaded';
    }
    const reason = (code as string | undefined) ?? 'error';
    const message = err instanceof Error ? err.message : String(err);
    const key = `${model}\u0000${reason}`;
    const level = this.warned.has(key) ? 'debug' : 'warn';
    this.warned.set(key, true);
    this.logger[level]({ plugin: this.plugin, model, code: reason, err: message }, 'precise prefix-cache: request not tokenized, scoring 0');
    return 'tokenization_failed';
  }
}
