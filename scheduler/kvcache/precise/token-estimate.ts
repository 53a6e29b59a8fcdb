/**
 * Token count of prompt text that was not tokenized, from its UTF-8 bytes: a per-model
 * bytes-per-token ratio learned online from what the model servers report.
 *
 * When the prefix walk stops early (read-path.ts), the service remembers, per request, the bytes
 * it left untokenized and the ids it already knew (`Pending`). When the response arrives, the
 * pod's `usage.prompt_tokens` minus the exactly known tokens is the true token count of those
 * bytes: the ratio moves towards `bytes / tokens` (the mean of the first samples, then an
 * exponential average whose weight grows with the sample's size, so a 100-token tail nudges less
 * than a 30k-token one), and the estimate's relative error
 * is recorded (pd_router_precise_prefix_estimate_error_ratio). Samples under 64 tokens are
 * ignored (too noisy), as are ratios outside [0.5, 32] bytes/token (a usage that is not for this
 * prompt).
 *
 * Before any sample the ratio is 4 bytes/token — English prose on today's BPE vocabularies is
 * 3.5–4.5; code and non-Latin scripts differ, which is what the learning is for.
 *
 * Model names come from requests: ratios are kept for the `maxModels` (MAX_MODEL_SERIES) most
 * recently learned models; `onForget` hears of the one dropped (its series go with it).
 */
import { LruMap } from '../../../src/lru.js';
import { MAX_MODEL_SERIES } from './metrics.js';

export const DEFAULT_BYTES_PER_TOKEN = 4;
const MIN_SAMPLE_TOKENS = 64;
/** A sample of this many tokens moves the ratio by `ALPHA`; smaller ones proportionally less. */
const FULL_SAMPLE_TOKENS = 4096;
const ALPHA = 0.2;
const MIN_RATIO = 0.5;
const MAX_RATIO = 32;

/** What a request left untokenized, to be compared with the real count later. */
export interface Pending {
  readonly model: string;
  /** Ids known exactly (tokenized, atomic, suffix). */
  readonly knownTokens: number;
  /** UTF-8 bytes of the untokenized text. */
  readonly restBytes: number;
  /** The token count estimated for those bytes. */
  readonly estimated: number;
}

export interface EstimateSample {
  readonly model: string;
  /** Estimated / actual − 1 (signed) for the untokenized part. */
  readonly error: number;
  readonly actualTokens: number;
}

export class BytesPerToken {
  private readonly ratios: LruMap<string, { ratio: number; samples: number }>;

  constructor(private readonly initial = DEFAULT_BYTES_PER_TOKEN, maxModels = MAX_MODEL_SERIES, onForget?: (model: string) => void) {
    this.ratios = new LruMap(maxModels, onForget);
  }

  ratio(model: string): number {
    return this.ratios.peek(model)?.ratio ?? this.initial;
  }

  /** Tokens of `bytes` of `model`'s text (rounded; 0 for no bytes). */
  estimate(model: string, bytes: number): number {
    return bytes > 0 ? Math.max(1, Math.round(bytes / this.ratio(model))) : 0;
  }

  /**
   * Learns from a request the walk stopped early on: `promptTokens` is the pod's real count.
   * Returns the estimate's error for that request, or undefined when the sample was not usable.
   */
  observe(pending: Pending, promptTokens: number): EstimateSample | undefined {
    const actual = promptTokens - pending.knownTokens;
    if (!Number.isFinite(actual) || actual < MIN_SAMPLE_TOKENS || pending.restBytes <= 0) return undefined;
    const sample = pending.restBytes / actual;
    if (sample < MIN_RATIO || sample > MAX_RATIO) return undefined;
    const samples = this.ratios.peek(pending.model)?.samples ?? 0;
    // A plain mean over the first samples (the first one replaces the default), then the average.
    const weight = Math.max(ALPHA * Math.min(1, actual / FULL_SAMPLE_TOKENS), 1 / (samples + 1));
    const current = this.ratio(pending.model);
    this.ratios.set(pending.model, { ratio: current + weight * (sample - current), samples: samples + 1 });
    return { model: pending.model, error: pending.estimated / actual - 1, actualTokens: actual };
  }
}
