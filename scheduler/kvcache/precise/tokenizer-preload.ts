/**
 * Start-up loading of the tokenizers a precise prefix-cache (or token-producer) config names
 * (`tokenizer.modelTokenizerMap`, `indexerConfig.tokenizersPoolConfig.modelName`): each is loaded
 * in every tokenizer worker before the EPP reports ready, within `tokenizerPool.loadTimeout`.
 * Until then a request would wait for the load (seconds for a real tokenizer, per worker) and
 * outlast the Director's producer budget, i.e. be routed without precise prefix.
 *
 * Resolves with one info line (models, workers, time taken); rejects — naming the model and the
 * directory, or the timeout — when a tokenizer cannot load, so the EPP fails to start instead of
 * routing without precise prefix. Nothing to load (the config names no model; tokenizers then
 * load on each model's first request) resolves at once, with an info line saying so.
 */
import { settleWithin } from '../../../src/deadline.js';
import type { Logger } from '../../../src/log.js';
import { DEFAULT_TOKENIZER_LOAD_TIMEOUT_MS } from './config.js';
import type { RequestTokenizer } from './request-tokens.js';

export interface PreloadOptions {
  logger: Logger;
  /** The plugin's name, for logs. */
  name: string;
  /** Bound on the whole load (default DEFAULT_TOKENIZER_LOAD_TIMEOUT_MS). */
  timeoutMs?: number;
}

export async function preloadTokenizers(tokenizer: RequestTokenizer, options: PreloadOptions): Promise<void> {
  const { logger, name } = options;
  const models = tokenizer.configuredModels;
  if (models.length === 0) {
    if (tokenizer.kind === 'local') {
      logger.info({ plugin: name }, 'no tokenizer named in the config (modelTokenizerMap, modelName): each model\'s tokenizer loads on its first request, which is routed without precise prefix');
    }
    return;
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TOKENIZER_LOAD_TIMEOUT_MS;
  const started = performance.now();
  await settleWithin(
    tokenizer.warm(),
    timeoutMs,
    () => new Error(`the tokenizers of ${models.map((model) => JSON.stringify(model)).join(', ')} did not load in every worker within ${timeoutMs} ms (tokenizerPool.loadTimeout)`),
  );
  const ms = Math.round(performance.now() - started);
  logger.info({ plugin: name, models, workers: tokenizer.workers, ms }, 'tokenizers loaded in every worker');
}
