/**
 * vLLM's Prometheus series as the simulator exposes them: exact names, label
 * names and buckets, on the simulator's own registry (never prom-client's global one). With
 * `--fake-metrics` the configured values replace the real ones at scrape time, never mixed.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { fakeValueAt, type FakeMetricsConfig } from './fake-metrics.js';

export const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640, 2560];
export const TPOT_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80];
export const REQUEST_LATENCY_BUCKETS = [0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680];

/** vLLM's build_1_2_5_buckets: 1, 2, 5, 10, 20, 50 … up to `max`. */
export function buckets125(max: number): number[] {
  const out: number[] = [];
  for (let exponent = 0; ; exponent++) {
    let added = false;
    for (const mantissa of [1, 2, 5]) {
      const value = mantissa * 10 ** exponent;
      if (value <= max) {
        out.push(value);
        added = true;
      }
    }
    if (!added) return out;
  }
}

export interface MetricsOptions {
  modelName: string;
  maxLoras: number;
  blockSize: number;
  kvCacheSize: number;
  maxModelLen: number;
  fakeMetrics: FakeMetricsConfig | null;
}

export interface RequestSuccess {
  promptTokens: number;
  generationTokens: number;
  maxTokens: number | null;
  finishReason: string;
}

type Series = Record<string, string>;

export class SimMetrics {
  readonly registry = new Registry();
  private readonly labels: Series;
  private readonly maxLora: string;
  private fake: FakeMetricsConfig | null;
  private readonly startedAt = Date.now();

  private readonly running: Gauge;
  private readonly waiting: Gauge;
  private readonly kvUsage: Gauge;
  private readonly loraInfo: Gauge;
  private readonly prefixHits: Counter;
  private readonly prefixQueries: Counter;
  private readonly promptTokensTotal: Counter;
  private readonly generationTokensTotal: Counter;
  private readonly success: Counter;
  private readonly ttftHistogram: Histogram;
  private readonly tpot: Histogram;
  private readonly itl: Histogram;
  private readonly requestTpot: Histogram;
  private readonly e2e: Histogram;
  private readonly queueTime: Histogram;
  private readonly inferenceTime: Histogram;
  private readonly prefillTime: Histogram;
  private readonly decodeTime: Histogram;
  private readonly promptTokens: Histogram;
  private readonly generationTokens: Histogram;
  private readonly paramsMaxTokens: Histogram;
  private readonly maxGenerationTokens: Histogram;

  constructor(options: MetricsOptions) {
    this.labels = { model_name: options.modelName };
    this.maxLora = String(options.maxLoras);
    this.fake = options.fakeMetrics;
    const registers = [this.registry];
    const model = ['model_name'];
    const gauge = (name: string, help: string, labelNames = model): Gauge => new Gauge({ name, help, labelNames, registers });
    const counter = (name: string, help: string, labelNames = model): Counter => new Counter({ name, help, labelNames, registers });
    const histogram = (name: string, help: string, buckets: number[]): Histogram => new Histogram({ name, help, labelNames: model, buckets, registers });

    this.loraInfo = gauge('vllm:lora_requests_info', 'Running stats on lora requests.', ['max_lora', 'running_lora_adapters', 'waiting_lora_adapters']);
    this.running = gauge('vllm:num_requests_running', 'Number of requests currently running on GPU.');
    this.waiting = gauge('vllm:num_requests_waiting', 'Prometheus metric for the number of queued requests.');
    this.kvUsage = gauge('vllm:kv_cache_usage_perc', 'Prometheus metric for the fraction of KV-cache blocks currently in use (from 0 to 1).');
    this.ttftHistogram = histogram('vllm:time_to_first_token_seconds', 'Histogram of time to first token in seconds.', TTFT_BUCKETS);
    this.tpot = histogram('vllm:time_per_output_token_seconds', 'Histogram of time per output token in seconds.', TPOT_BUCKETS);
    this.itl = histogram('vllm:inter_token_latency_seconds', 'Histogram of inter-token latency in seconds.', TPOT_BUCKETS);
    this.requestTpot = histogram('vllm:request_time_per_output_token_seconds', 'Histogram of time_per_output_token_seconds per request.', TPOT_BUCKETS);
    this.e2e = histogram('vllm:e2e_request_latency_seconds', 'Histogram of end to end request latency in seconds.', REQUEST_LATENCY_BUCKETS);
    this.queueTime = histogram('vllm:request_queue_time_seconds', 'Histogram of time spent in WAITING phase for request.', REQUEST_LATENCY_BUCKETS);
    this.inferenceTime = histogram('vllm:request_inference_time_seconds', 'Histogram of time spent in RUNNING phase for request.', REQUEST_LATENCY_BUCKETS);
    this.prefillTime = histogram('vllm:request_prefill_time_seconds', 'Histogram of time spent in PREFILL phase for request.', REQUEST_LATENCY_BUCKETS);
    this.decodeTime = histogram('vllm:request_decode_time_seconds', 'Histogram of time spent in DECODE phase for request.', REQUEST_LATENCY_BUCKETS);
    const tokenBuckets = buckets125(options.maxModelLen);
    this.promptTokens = histogram('vllm:request_prompt_tokens', 'Number of prefill tokens processed.', tokenBuckets);
    this.generationTokens = histogram('vllm:request_generation_tokens', 'Number of generation tokens processed.', tokenBuckets);
    this.paramsMaxTokens = histogram('vllm:request_params_max_tokens', 'Histogram of the max_tokens request parameter.', tokenBuckets);
    this.maxGenerationTokens = histogram('vllm:max_num_generation_tokens', 'Histogram of maximum number of requested generation tokens.', tokenBuckets);
    this.promptTokensTotal = counter('vllm:prompt_tokens_total', 'Number of prefill tokens processed.');
    this.generationTokensTotal = counter('vllm:generation_tokens_total', 'Number of generation tokens processed.');
    this.success = counter('vllm:request_success_total', 'Count of successfully processed requests.', ['model_name', 'finish_reason']);
    this.prefixHits = counter('vllm:prefix_cache_hits_total', 'Prefix cache hits, in terms of number of cached tokens.');
    this.prefixQueries = counter('vllm:prefix_cache_queries_total', 'Prefix cache queries, in terms of number of queried tokens.');
    const cacheConfig = gauge('vllm:cache_config_info', 'Information of the LLMEngine CacheConfig.', ['block_size', 'num_gpu_blocks']);
    cacheConfig.set({ block_size: String(options.blockSize), num_gpu_blocks: String(options.kvCacheSize) }, 1);

    if (this.fake) {
      this.applyFake(this.fake);
    } else {
      this.running.set(this.labels, 0);
      this.waiting.set(this.labels, 0);
      this.kvUsage.set(this.labels, 0);
      this.loraInfo.set({ max_lora: this.maxLora, running_lora_adapters: '', waiting_lora_adapters: '' }, Date.now() / 1000);
    }
  }

  get isFake(): boolean {
    return this.fake !== null;
  }

  /** Replaces the fake values (admin update); real values never come back. */
  setFake(fake: FakeMetricsConfig): void {
    this.fake = fake;
    this.applyFake(fake);
  }

  setQueue(running: number, waiting: number): void {
    if (this.fake) return;
    this.running.set(this.labels, running);
    this.waiting.set(this.labels, waiting);
  }

  setKvUsage(usage: number): void {
    if (!this.fake) this.kvUsage.set(this.labels, usage);
  }

  /** Each change adds a series stamped with the current time; older series stay. */
  loraUsage(running: readonly string[], waiting: readonly string[]): void {
    if (this.fake) return;
    this.loraInfo.set({ max_lora: this.maxLora, running_lora_adapters: running.join(','), waiting_lora_adapters: waiting.join(',') }, Date.now() / 1000);
  }

  prefixCache(cachedTokens: number, queriedTokens: number): void {
    if (this.fake) return;
    this.prefixHits.inc(this.labels, cachedTokens);
    this.prefixQueries.inc(this.labels, queriedTokens);
  }

  private observe(histogram: Histogram, value: number): void {
    if (!this.fake) histogram.observe(this.labels, value);
  }

  ttft(seconds: number): void { this.observe(this.ttftHistogram, seconds); }
  prefill(seconds: number): void { this.observe(this.prefillTime, seconds); }
  interToken(seconds: number): void {
    this.observe(this.tpot, seconds);
    this.observe(this.itl, seconds);
  }
  requestTimePerOutputToken(seconds: number): void { this.observe(this.requestTpot, seconds); }
  decode(seconds: number): void { this.observe(this.decodeTime, seconds); }
  e2eLatency(seconds: number): void { this.observe(this.e2e, seconds); }
  queued(seconds: number): void { this.observe(this.queueTime, seconds); }
  inference(seconds: number): void { this.observe(this.inferenceTime, seconds); }

  requestSuccess(event: RequestSuccess): void {
    if (this.fake) return;
    this.promptTokens.observe(this.labels, event.promptTokens);
    this.generationTokens.observe(this.labels, event.generationTokens);
    this.promptTokensTotal.inc(this.labels, event.promptTokens);
    this.generationTokensTotal.inc(this.labels, event.generationTokens);
    if (event.maxTokens !== null) this.paramsMaxTokens.observe(this.labels, event.maxTokens);
    this.success.inc({ ...this.labels, finish_reason: event.finishReason });
    this.maxGenerationTokens.observe(this.labels, event.generationTokens);
  }

  async text(): Promise<string> {
    if (this.fake) this.refreshFakeGauges(this.fake);
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private refreshFakeGauges(fake: FakeMetricsConfig): void {
    const elapsed = Date.now() - this.startedAt;
    if (fake.runningRequests) this.running.set(this.labels, fakeValueAt(fake.runningRequests, elapsed));
    if (fake.waitingRequests) this.waiting.set(this.labels, fakeValueAt(fake.waitingRequests, elapsed));
    if (fake.kvCacheUsage) this.kvUsage.set(this.labels, fakeValueAt(fake.kvCacheUsage, elapsed));
  }

  private applyFake(fake: FakeMetricsConfig): void {
    this.running.set(this.labels, 0);
    this.waiting.set(this.labels, 0);
    this.kvUsage.set(this.labels, 0);
    this.refreshFakeGauges(fake);
    if (fake.loras) {
      this.loraInfo.reset();
      for (const series of fake.loras) {
        this.loraInfo.set({ max_lora: this.maxLora, running_lora_adapters: series.running, waiting_lora_adapters: series.waiting }, series.timestamp);
      }
    }
    const seed = (counter: Counter, value: number | undefined): void => {
      if (value === undefined) return;
      counter.reset();
      counter.inc(this.labels, value);
    };
    seed(this.prefixHits, fake.prefixCacheHits);
    seed(this.prefixQueries, fake.prefixCacheQueries);
    seed(this.promptTokensTotal, fake.totalPromptTokens);
    seed(this.generationTokensTotal, fake.totalGenerationTokens);
    if (fake.requestSuccessTotal) {
      this.success.reset();
      for (const [reason, value] of Object.entries(fake.requestSuccessTotal)) this.success.inc({ ...this.labels, finish_reason: reason }, value);
    }
  }
}
