/**
 * Parity watched in production: do the block keys we compute for a request equal the ones the
 * model server's KV events produce? Tokenizer, chat template, block size or LoRA naming that
 * differ from the engine's make every lookup miss silently; this makes it visible.
 *
 * For one completed request in `sampleEvery` (default 16), `delayMs` (default 2 s — time for the
 * pod to publish and for us to apply its events) after the response the index is asked which of
 * the request's keys the chosen pod holds **confirmed** (from its own events; speculative guesses
 * do not count). The agreement of a sample is the leading run of keys confirmed / keys checked
 * (at most `maxKeys`, the first ones); per model, the ratio over the last `window` samples is
 * exported as pd_router_precise_prefix_parity_ratio{model}, and a warning is logged (at most once
 * a minute per model) when it is below `threshold` (default 0.9).
 *
 * A block the pod evicted between the response and the check counts as a disagreement; under
 * heavy cache pressure the ratio reads a little low. A mismatch reads near 0. Only responses that
 * succeeded are sampled (the scorer's ResponseComplete): a rejected request was never prefilled.
 *
 * Model names come from requests: windows and series are kept for the MAX_MODEL_SERIES most
 * recently sampled models; an older one's series are removed from the registry.
 */
import type { BlockKey } from '../../../src/kvblock/keys.js';
import type { Logger } from '../../../src/log.js';
import { LruMap } from '../../../src/lru.js';
import type { KvBlockIndex } from '../index/types.js';
import { MAX_MODEL_SERIES, type PrecisePrefixMetrics } from './metrics.js';

export interface ParityConfig {
  /** Check one completed request in this many (0 = off). */
  sampleEvery: number;
  delayMs: number;
  threshold: number;
}

export const DEFAULT_PARITY: ParityConfig = { sampleEvery: 16, delayMs: 2000, threshold: 0.9 };

const WINDOW = 64;
const MAX_KEYS = 256;
const MAX_PENDING = 256;
const WARN_INTERVAL_MS = 60_000;

interface ModelWindow {
  readonly samples: Array<{ confirmed: number; checked: number }>;
  warnedAt: number;
}

export class ParityMonitor {
  private seen = 0;
  private closed = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly models: LruMap<string, ModelWindow>;
  private readonly checks = new Set<Promise<void>>();

  constructor(
    private readonly index: KvBlockIndex,
    private readonly config: ParityConfig,
    private readonly metrics: PrecisePrefixMetrics,
    private readonly logger: Logger,
  ) {
    this.models = new LruMap(MAX_MODEL_SERIES, (model) => {
      metrics.parity.remove({ model });
      metrics.paritySamples.remove({ model });
    });
  }

  /** A completed request routed to `pod` with `keys`: checked later if sampled. */
  observe(model: string, pod: string, keys: readonly BlockKey[]): void {
    if (this.config.sampleEvery <= 0 || keys.length === 0) return;
    // Waiting and running checks both count: a lookup stuck behind an unreachable Redis never ends.
    if (this.seen++ % this.config.sampleEvery !== 0 || this.timers.size + this.checks.size >= MAX_PENDING) return;
    const checked = keys.slice(0, MAX_KEYS);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      const check = this.check(model, pod, checked).finally(() => this.checks.delete(check));
      this.checks.add(check);
    }, this.config.delayMs);
    timer.unref();
    this.timers.add(timer);
  }

  /** The agreement over the model's recent samples (undefined before any). */
  ratio(model: string): number | undefined {
    const window = this.models.peek(model);
    if (window === undefined || window.samples.length === 0) return undefined;
    let confirmed = 0;
    let checked = 0;
    for (const sample of window.samples) {
      confirmed += sample.confirmed;
      checked += sample.checked;
    }
    return checked > 0 ? confirmed / checked : undefined;
  }

  /**
   * Drops pending checks; running ones are not waited for (their lookup may never answer, and the
   * index is closed next, which ends it) and record nothing.
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private async check(model: string, pod: string, keys: readonly BlockKey[]): Promise<void> {
    let confirmed = 0;
    try {
      const found = await this.index.lookup(keys, new Set([pod]));
      for (const entries of found) {
        if (!entries.some((entry) => entry.pod === pod && entry.speculative !== true)) break;
        confirmed++;
      }
    } catch (err) {
      if (!this.closed) this.logger.debug({ err: (err as Error).message }, 'precise prefix-cache parity check failed');
      return;
    }
    if (!this.closed) this.record(model, confirmed, keys.length);
  }

  private record(model: string, confirmed: number, checked: number): void {
    let window = this.models.get(model);
    if (window === undefined) {
      window = { samples: [], warnedAt: -Infinity };
      this.models.set(model, window);
    }
    window.samples.push({ confirmed, checked });
    if (window.samples.length > WINDOW) window.samples.shift();
    const ratio = this.ratio(model)!;
    this.metrics.parity.set({ model }, ratio);
    this.metrics.paritySamples.inc({ model });
    const now = Date.now();
    if (ratio < this.config.threshold && now - window.warnedAt >= WARN_INTERVAL_MS) {
      window.warnedAt = now;
      this.logger.warn({ model, parityRatio: ratio, samples: window.samples.length, threshold: this.config.threshold },
        'precise prefix-cache: our block keys disagree with the KV events of the pods (tokenizer, chat template, block size or model name differ from the engine\'s)');
    }
  }
}
