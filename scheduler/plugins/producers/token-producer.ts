/**
 * `token-producer`: tokenizes each request's prompt once, before scheduling, and publishes the ids
 * as `TokenizedPrompt` (tokenized-prompt.ts) for `precise-prefix-cache-producer`. Idempotent: a
 * request that already has a TokenizedPrompt is left alone.
 *
 * Backends, in order:
 * 1. `vllm` configured: the model server renders the prompt (vllm-render.ts: its
 *    `/v1/chat/completions/render` or `/v1/completions/render`, with `modelName` as the model) within
 *    `vllm.timeout` (`vllm.mmTimeout` for chats with content parts);
 * 2. in process, when there is no `vllm` block or the render call failed (timeout, refused, non-2xx,
 *    malformed): pd-router's own tokenizer and chat template on a worker pool
 *    (scheduler/kvcache/precise/request-tokens.ts) for `modelName`, else the request's model.
 *    Each fallback counts in `pd_router_token_producer_render_fallbacks_total{reason}`.
 * When both fail nothing is published and consumers score as if they had no data.
 * Start-up: the in-process tokenizers the config names (`tokenizer.modelTokenizerMap`, and
 * `modelName` when there is no `vllm` block) are loaded in every worker before the EPP reports
 * ready; one that cannot load fails start-up (scheduler/kvcache/precise/tokenizer-preload.ts).
 * Note: data producers get 400 ms per request (scheduler/framework/director.ts); a slower render is
 * abandoned there, so keep `vllm.timeout` below that to get the in-process fallback in time.
 *
 * Differences from llm-d Router: `modelName` alone selects its render backend at the default URL;
 * here it names the in-process tokenizer's model (render only with a `vllm` block). Its default backend is a tokenizer-free byte estimate whose ids
 * match no engine; pd-router's default is its real in-process tokenizer. The deprecated
 * `udsTokenizerConfig` sidecar is refused at start-up (use `vllm.url` or the in-process default).
 *
 * Parameters:
 * - `modelName` (string): model whose tokenizer is used / sent to the render endpoint;
 * - `vllm.url` (default `http://localhost:8000`, trailing `/` dropped), `vllm.timeout` (`5s`),
 *   `vllm.mmTimeout` (`30s`);
 * - `tokenizer`, `tokenizerPool` (pd-router extension): the in-process tokenizer, exactly as on
 *   `precise-prefix-cache-scorer` (`type: local | simulated`, `tokenizersDir`, `modelTokenizerMap`).
 *
 * ```yaml
 * - type: token-producer
 *   parameters: {modelName: Qwen/Qwen3-8B, vllm: {url: "http://qwen-vllm:8000", timeout: 300ms}}
 * ```
 */
import { Counter, type Registry } from 'prom-client';
import { z } from 'zod';
import { parseDuration } from '../../../src/duration.js';
import type { Logger } from '../../../src/log.js';
import type { SchedulingContext } from '../../framework/cycle-state.js';
import { ConfigError } from '../../framework/errors.js';
import type { DataProducer, StartsUp } from '../../framework/plugins.js';
import { parseParameters, type PluginFactory } from '../../framework/registry.js';
import type { InferenceRequest } from '../../framework/request.js';
import { parseTokenizerSection } from '../../kvcache/precise/config.js';
import { createRequestTokenizer, type RequestTokenizer } from '../../kvcache/precise/request-tokens.js';
import { preloadTokenizers } from '../../kvcache/precise/tokenizer-preload.js';
import { TOKENIZED_PROMPT, type TokenizedPrompt } from './tokenized-prompt.js';
import { RenderError, renderTokenIds, type RenderOptions } from './vllm-render.js';

export const TOKEN_PRODUCER_TYPE = 'token-producer';
export const DEFAULT_RENDER_URL = 'http://localhost:8000';
export const DEFAULT_RENDER_TIMEOUT_MS = 5000;
export const DEFAULT_RENDER_MM_TIMEOUT_MS = 30_000;
const FALLBACK_METRIC = 'pd_router_token_producer_render_fallbacks_total';

const duration = z.string().refine((text) => { try { return parseDuration(text) > 0; } catch { return false; } }, 'must be a positive duration such as "5s"');
const TokenProducerParameters = z.object({
  modelName: z.string().min(1).nullish(),
  vllm: z.strictObject({ url: z.string().regex(/^http:\/\/[^\s/]+/, 'must be a plain http:// base URL (TLS is not supported, as upstream)').nullish(), timeout: duration.nullish(), mmTimeout: duration.nullish() }).nullish(),
  udsTokenizerConfig: z.unknown().optional(),
  tokenizer: z.unknown().optional(),
  tokenizerPool: z.unknown().optional(),
});

export class TokenProducer implements DataProducer, StartsUp {
  readonly type = TOKEN_PRODUCER_TYPE;
  readonly produces = [TOKENIZED_PROMPT] as const;
  /** Render failures that fell back to the in-process tokenizer (also the metric). */
  fallbacks = 0;
  private loaded: Promise<void> | undefined;

  constructor(
    readonly name: string,
    readonly modelName: string | undefined,
    readonly render: RenderOptions | undefined,
    private readonly tokenizer: RequestTokenizer,
    private readonly fallbackCounter?: Counter<'reason'>,
    private readonly preload?: { logger: Logger; timeoutMs?: number },
  ) {}

  /** The configured in-process tokenizers, loaded in every worker (at once without `preload`). */
  whenReady(): Promise<void> {
    this.loaded ??= this.preload ? preloadTokenizers(this.tokenizer, { ...this.preload, name: this.name }) : Promise.resolve();
    return this.loaded;
  }

  async produce(ctx: SchedulingContext, request: InferenceRequest): Promise<void> {
    if (ctx.state.has(TOKENIZED_PROMPT)) return;
    const prompt = await this.tokenize(ctx, request);
    if (prompt) ctx.state.set(TOKENIZED_PROMPT, prompt);
  }

  close(): Promise<void> {
    return this.tokenizer.close();
  }

  private async tokenize(ctx: SchedulingContext, request: InferenceRequest): Promise<TokenizedPrompt | undefined> {
    if (this.render) {
      try {
        return { tokenIds: await renderTokenIds(this.render, request.body), source: 'vllm-render' };
      } catch (err) {
        const reason = err instanceof RenderError ? err.reason : 'unreachable';
        this.fallbacks++;
        this.fallbackCounter?.inc({ reason });
        ctx.logger.debug({ plugin: this.name, reason, err: (err as Error).message }, 'token-producer: render failed, tokenizing in process');
      }
    }
    try {
      return { tokenIds: await this.tokenizer.tokenize(this.modelName ?? request.targetModel, request.body), source: 'in-process' };
    } catch (err) {
      ctx.logger.debug({ plugin: this.name, err: (err as Error).message }, 'token-producer: request not tokenized');
      return undefined;
    }
  }
}

function fallbackCounter(registry: Registry | undefined): Counter<'reason'> | undefined {
  if (!registry) return undefined;
  const existing = registry.getSingleMetric(FALLBACK_METRIC) as Counter<'reason'> | undefined;
  return existing ?? new Counter({ name: FALLBACK_METRIC, help: 'token-producer render calls that failed and fell back to the in-process tokenizer', labelNames: ['reason'], registers: [registry] });
}

export const tokenProducerFactory: PluginFactory = (name, parameters, handle) => {
  const params = parseParameters(TokenProducerParameters, parameters);
  if (params.udsTokenizerConfig !== undefined) {
    throw new ConfigError('parameters.udsTokenizerConfig', 'the deprecated tokenizer sidecar is not supported: set vllm.url (render endpoint) or omit it (in-process tokenizer)');
  }
  const { tokenizer, tokenizerPool } = parseTokenizerSection(params.tokenizer, params.tokenizerPool, handle.logger);
  const modelName = params.modelName ?? undefined;
  const vllm = params.vllm;
  let render: RenderOptions | undefined;
  if (vllm) {
    if (!modelName) throw new ConfigError('parameters.modelName', 'is required with vllm (the render endpoint needs the base model name)');
    render = {
      url: (vllm.url ?? DEFAULT_RENDER_URL).replace(/\/+$/, ''),
      modelName,
      timeoutMs: vllm.timeout ? parseDuration(vllm.timeout) : DEFAULT_RENDER_TIMEOUT_MS,
      mmTimeoutMs: vllm.mmTimeout ? parseDuration(vllm.mmTimeout) : DEFAULT_RENDER_MM_TIMEOUT_MS,
    };
  }
  // Without a render endpoint, modelName's tokenizer serves every request: loaded at start too.
  const inProcess = tokenizer.type === 'local' && modelName !== undefined && render === undefined ? { ...tokenizer, modelName } : tokenizer;
  return new TokenProducer(name, modelName, render, createRequestTokenizer(inProcess, tokenizerPool), fallbackCounter(handle.metrics?.registry),
    { logger: handle.logger, ...(tokenizerPool.loadTimeoutMs !== undefined ? { timeoutMs: tokenizerPool.loadTimeoutMs } : {}) });
};
