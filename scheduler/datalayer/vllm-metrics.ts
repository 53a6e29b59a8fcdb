/**
 * Maps a vLLM /metrics scrape onto EndpointMetrics. Accepts current and older vLLM names
 * (`vllm:kv_cache_usage_perc`, formerly `vllm:gpu_cache_usage_perc`; `vllm:inter_token_latency_seconds`,
 * formerly `vllm:time_per_output_token_seconds`).
 *
 * Besides the gauges it keeps vLLM's cumulative counters (`engineCounters`): the `_sum`/`_count`
 * of the TTFT and inter-token-latency histograms and the prompt/generation token counters, each
 * summed over all series of the scrape (one per engine and model). The P/D decider's throughput
 * learner turns deltas between two scrapes into per-pod speed estimates.
 */
import type { EndpointMetrics, EngineCounters } from '../framework/endpoint.js';
import { parsePrometheusText, type Sample } from './prometheus-text.js';

const WAITING = 'vllm:num_requests_waiting';
const RUNNING = 'vllm:num_requests_running';
const KV_USAGE = ['vllm:kv_cache_usage_perc', 'vllm:gpu_cache_usage_perc'];
const LORA_INFO = 'vllm:lora_requests_info';
const CACHE_CONFIG = 'vllm:cache_config_info';

const TTFT = 'vllm:time_to_first_token_seconds';
/** Current name first. */
const ITL = ['vllm:inter_token_latency_seconds', 'vllm:time_per_output_token_seconds'];
const PROMPT_TOKENS = 'vllm:prompt_tokens_total';
const GENERATION_TOKENS = 'vllm:generation_tokens_total';
const HISTOGRAMS = [TTFT, ...ITL].flatMap((name) => [`${name}_sum`, `${name}_count`]);

const WANTED = new Set([WAITING, RUNNING, ...KV_USAGE, LORA_INFO, CACHE_CONFIG, ...HISTOGRAMS, PROMPT_TOKENS, GENERATION_TOKENS]);

function first(samples: Sample[], names: readonly string[]): Sample | undefined {
  for (const name of names) {
    const found = samples.find((s) => s.name === name);
    if (found) return found;
  }
  return undefined;
}

/** Sum of the finite values of every series named `name`; undefined when there is none. */
function total(samples: Sample[], name: string): number | undefined {
  let sum: number | undefined;
  for (const sample of samples) if (sample.name === name && Number.isFinite(sample.value)) sum = (sum ?? 0) + sample.value;
  return sum;
}

/** A histogram's summed `_sum` and `_count`, from the first of `names` the scrape has. */
function histogram(samples: Sample[], names: readonly string[]): { seconds: number; count: number } | undefined {
  for (const name of names) {
    const count = total(samples, `${name}_count`);
    if (count !== undefined) return { seconds: total(samples, `${name}_sum`) ?? 0, count };
  }
  return undefined;
}

/** The engine counters of a scrape, or undefined when it has none of them (missing ones count 0). */
export function engineCountersOf(samples: Sample[]): EngineCounters | undefined {
  const ttft = histogram(samples, [TTFT]);
  const itl = histogram(samples, ITL);
  const prompt = total(samples, PROMPT_TOKENS);
  const generation = total(samples, GENERATION_TOKENS);
  if (!ttft && !itl && prompt === undefined && generation === undefined) return undefined;
  return {
    ttftSeconds: ttft?.seconds ?? 0, ttftCount: ttft?.count ?? 0,
    itlSeconds: itl?.seconds ?? 0, itlCount: itl?.count ?? 0,
    promptTokens: prompt ?? 0, generationTokens: generation ?? 0,
  };
}

function splitList(value: string | undefined): Set<string> {
  return new Set((value ?? '').split(',').map((s) => s.trim()).filter(Boolean));
}

/** Parses a scrape into metrics; values missing from the scrape keep `previous`. */
export function metricsFromScrape(text: string, previous: EndpointMetrics, now: number): EndpointMetrics {
  const samples = parsePrometheusText(text, WANTED);
  const waiting = first(samples, [WAITING]);
  const running = first(samples, [RUNNING]);
  const kv = first(samples, KV_USAGE);
  // Each LoRA change adds a series; the one with the largest value (a timestamp) is current.
  let lora: Sample | undefined;
  for (const sample of samples) if (sample.name === LORA_INFO && (!lora || sample.value > lora.value)) lora = sample;
  const cacheConfig = first(samples, [CACHE_CONFIG]);
  const engineCounters = engineCountersOf(samples) ?? previous.engineCounters;
  return {
    waitingQueueSize: waiting ? waiting.value : previous.waitingQueueSize,
    runningRequestsSize: running ? running.value : previous.runningRequestsSize,
    kvCacheUsagePercent: kv ? kv.value : previous.kvCacheUsagePercent,
    cacheBlockSize: cacheConfig ? Number(cacheConfig.labels.block_size) || 0 : previous.cacheBlockSize,
    cacheNumBlocks: cacheConfig ? Number(cacheConfig.labels.num_gpu_blocks) || 0 : previous.cacheNumBlocks,
    activeModels: lora ? splitList(lora.labels.running_lora_adapters) : previous.activeModels,
    waitingModels: lora ? splitList(lora.labels.waiting_lora_adapters) : previous.waitingModels,
    maxActiveModels: lora ? Number(lora.labels.max_lora) || 0 : previous.maxActiveModels,
    updatedAt: now,
    stale: false,
    ...(engineCounters ? { engineCounters } : {}),
  };
}
