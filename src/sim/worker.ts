/**
 * One choice of one request on a worker: tokenize → context-window check →
 * KV admission → cache-threshold check → choose tokens → sleep TTFT → emit tokens with an ITL
 * sleep before each later one → release KV blocks, record metrics. Events go to a ChoiceSink; a
 * client that went away does not stop the work (as upstream), its sink just drops them.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { OpenAIError } from '../openai/errors.js';
import { simError } from './failures.js';
import { generateEcho, generateRandom, type Generated } from './generation.js';
import { interTokenLatency, timeToFirstToken, type LatencyContext } from './latency.js';
import type { KvCache, LoraIdentity } from './kv-cache.js';
import type { SimMetrics } from './metrics.js';
import { echoTokens, tokenizePrompt, type PromptInput, type SimRequest } from './request.js';
import type { ChoiceResult } from './responses.js';
import type { SimConfig } from './config.js';
import type { Tokenized } from './tokenizer.js';

export const CACHE_THRESHOLD = 'cache_threshold';
export const REMOTE_DECODE = 'remote_decode';

/** Receives one request's events, per choice. */
export interface ChoiceSink {
  /** TTFT elapsed: the answer starts (not sent for cache_threshold answers). */
  started(choice: number): void;
  token(choice: number, text: string, position: number): void;
  finished(choice: number, result: ChoiceResult): void;
  failed(choice: number, error: OpenAIError): void;
}

/** Prompt → ids: the simulated tokenizer (sync) or a real one (`--tokenizer`, async). */
export type PromptTokenize = (input: PromptInput) => Tokenized | Promise<Tokenized>;

/** A prompt shared by the `n` choices made from it: tokenized once, by the first worker to start one. */
export class SharedPrompt {
  private tokenized: Tokenized | Promise<Tokenized> | undefined;

  constructor(readonly input: PromptInput, readonly key: string, private readonly tokenize: PromptTokenize = tokenizePrompt) {}

  tokens(): Tokenized | Promise<Tokenized> {
    this.tokenized ??= this.tokenize(this.input);
    return this.tokenized;
  }
}

export interface ChoiceJob {
  request: SimRequest;
  prompt: SharedPrompt;
  choice: number;
  /** Id under which the KV cache tracks this choice's blocks. */
  kvId: string;
  /** Display model: the first alias, or the LoRA name. */
  displayModel: string;
  lora: string | null;
  receivedAt: number;
}

/** What a worker needs from the simulator, read at the moment it is needed (config can change). */
export interface WorkerContext {
  config(): SimConfig;
  latency(): LatencyContext;
  running(): number;
  kvCache: KvCache | null;
  metrics: SimMetrics;
  loraIdentity(name: string): LoraIdentity | undefined;
  signal: AbortSignal;
}

async function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (ms > 0) await sleep(ms, undefined, { signal });
  else if (signal.aborted) throw signal.reason;
}

export function contextWindowError(config: SimConfig, promptTokens: number, maxTokens: number | null): OpenAIError | undefined {
  const completion = maxTokens ?? 1;
  const total = promptTokens + completion;
  if (total <= config.maxModelLen) return undefined;
  return simError(400, `This model's maximum context length is ${config.maxModelLen} tokens. However, you requested ${total} tokens (${promptTokens} in the messages, ${completion} in the completion). Please reduce the length of the messages or completion`);
}

/** The job's prompt tokens, refused with vLLM's 400 when prompt + max_tokens exceed the context window. */
export async function promptWithinWindow(config: SimConfig, job: ChoiceJob): Promise<{ prompt: Tokenized; promptTokens: number }> {
  const prompt = await job.prompt.tokens();
  const promptTokens = prompt.ids.length;
  const windowError = contextWindowError(config, promptTokens, job.request.maxTokens);
  if (windowError) throw windowError;
  return { prompt, promptTokens };
}

export function belowThreshold(config: SimConfig, request: SimRequest, cachedTokens: number, promptTokens: number): boolean {
  if (request.forceCacheThreshold) return true;
  if (!config.enableKvcache) return false;
  const requested = request.cacheHitThreshold;
  const threshold = requested !== null && requested >= 0 && requested <= 1 ? requested : config.globalCacheHitThreshold > 0 ? config.globalCacheHitThreshold : null;
  if (threshold === null) return false;
  const hitRate = promptTokens > 0 ? cachedTokens / promptTokens : 0;
  return hitRate < threshold;
}

export function generate(context: WorkerContext, job: ChoiceJob, promptTokens: Tokenized): Generated {
  const config = context.config();
  const { request } = job;
  if (config.mode === 'echo') return generateEcho(echoTokens(job.prompt.input, promptTokens), request.maxTokens);
  return generateRandom(context.latency().random, { maxTokens: request.maxTokens, ignoreEos: request.ignoreEos, promptTokens: promptTokens.ids.length }, config.maxModelLen);
}

/** Runs one choice to the end; never throws (failures go to the sink). */
export async function runChoice(context: WorkerContext, job: ChoiceJob, sink: ChoiceSink, queuedMs: number | undefined): Promise<void> {
  const startedAt = performance.now();
  const { request, choice } = job;
  const { metrics } = context;
  let admitted = false;
  try {
    const config = context.config();
    const { prompt, promptTokens } = await promptWithinWindow(config, job);

    let cachedTokens = 0;
    if (context.kvCache) {
      const lora = job.lora === null ? undefined : context.loraIdentity(job.lora);
      const admission = context.kvCache.admit(job.kvId, prompt.ids, job.displayModel, lora);
      admitted = true;
      cachedTokens = admission.cachedTokens;
      metrics.prefixCache(admission.cachedTokens, admission.queriedTokens);
      metrics.setKvUsage(context.kvCache.usage);
    }

    const base = { promptKey: job.prompt.key, promptTokens, logprobs: request.logprobs };
    let result: ChoiceResult;
    if (belowThreshold(config, request, cachedTokens, promptTokens)) {
      result = { ...base, finishReason: CACHE_THRESHOLD, completionTokens: 0, cachedTokens: null, tokens: [] };
    } else {
      const generated = generate(context, job, prompt);
      const finishReason = request.doRemoteDecode && !request.stream ? REMOTE_DECODE : generated.finishReason;
      const ttft = timeToFirstToken(config, { promptTokens, cachedTokens, doRemotePrefill: request.doRemotePrefill, running: context.running() }, context.latency());
      const prefillStart = performance.now();
      await pause(ttft, context.signal);
      metrics.ttft(ttft / 1000);
      metrics.prefill((performance.now() - prefillStart) / 1000);
      sink.started(choice);

      const decodeStart = performance.now();
      const { strings } = generated.tokens;
      for (let i = 0; i < generated.tokens.ids.length; i++) {
        if (i > 0) {
          const itl = interTokenLatency(context.config(), context.running(), context.latency());
          await pause(itl, context.signal);
          metrics.interToken(itl / 1000);
        }
        sink.token(choice, strings[i] ?? '', i);
      }
      const decodeSeconds = (performance.now() - decodeStart) / 1000;
      const gaps = generated.tokens.ids.length - 1;
      metrics.requestTimePerOutputToken(gaps > 0 ? decodeSeconds / gaps : 0);
      metrics.decode(decodeSeconds);
      result = { ...base, finishReason, completionTokens: generated.tokens.ids.length, cachedTokens, tokens: strings.slice(0, generated.tokens.ids.length) };
    }

    release(context, job, admitted);
    admitted = false;
    const inferenceSeconds = (performance.now() - startedAt) / 1000;
    metrics.requestSuccess({ promptTokens, generationTokens: result.completionTokens, maxTokens: request.maxTokens, finishReason: result.finishReason });
    metrics.inference(inferenceSeconds);
    metrics.e2eLatency((performance.now() - job.receivedAt) / 1000);
    if (queuedMs !== undefined) metrics.queued(queuedMs / 1000);
    sink.finished(choice, result);
  } catch (err) {
    release(context, job, admitted);
    sink.failed(choice, toSimError(err));
  }
}

function release(context: WorkerContext, job: ChoiceJob, admitted: boolean): void {
  if (!admitted || !context.kvCache) return;
  context.kvCache.release(job.kvId);
  context.metrics.setKvUsage(context.kvCache.usage);
}

export function toSimError(err: unknown): OpenAIError {
  if (err instanceof Error && err.name === 'OpenAIError') return err as OpenAIError;
  if (err instanceof Error && err.name === 'AbortError') return simError(503, 'server is shutting down');
  return simError(500, err instanceof Error ? err.message : String(err));
}
