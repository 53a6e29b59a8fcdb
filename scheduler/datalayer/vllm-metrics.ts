/**
 * Maps a vLLM /metrics scrape onto EndpointMetrics. Accepts current and older vLLM names
 * (`vllm:kv_cache_usage_perc`, formerly `vllm:gpu_cache_usage_perc`).
 */
import type { EndpointMetrics } from '../framework/endpoint.js';
import { parsePrometheusText, type Sample } from './prometheus-text.js';

const WAITING = 'vllm:num_requests_waiting';
const RUNNING = 'vllm:num_requests_running';
const KV_USAGE = ['vllm:kv_cache_usage_perc', 'vllm:gpu_cache_usage_perc'];
const LORA_INFO = 'vllm:lora_requests_info';
const CACHE_CONFIG = 'vllm:cache_config_info';

const WANTED = new Set([WAITING, RUNNING, ...KV_USAGE, LORA_INFO, CACHE_CONFIG]);

function first(samples: Sample[], names: readonly string[]): Sample | undefined {
  for (const name of names) {
    const found = samples.find((s) => s.name === name);
    if (found) return found;
  }
  return undefined;
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
  };
}
