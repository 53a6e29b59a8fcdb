/**
 * A request the precise prefix cache could not tokenize: back-pressure (`overloaded`, counted in
 * pd_router_precise_prefix_skipped_total) or a failure, warned once per (model, reason) — later
 * ones are debug, so a model without a tokenizer does not flood the log.
 */
import type { Logger } from '../../../src/log.js';
import { OVERLOADED } from '../../../src/tokenization/errors.js';
import type { PrecisePrefixMetrics } from './metrics.js';

export class NotTokenized {
  private readonly warned = new Set<string>();

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
    this.warned.add(key);
    this.logger[level]({ plugin: this.plugin, model, code: reason, err: message }, 'precise prefix-cache: request not tokenized, scoring 0');
    return 'tokenization_failed';
  }
}
