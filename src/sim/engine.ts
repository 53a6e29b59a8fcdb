/**
 * The simulated engine: owns the PRNG, latency model, KV cache, LoRA slots, dispatcher and
 * metrics, and takes requests through the request path — failure injection, model check,
 * validation, then one dispatcher job per choice. Configuration is read per request, so
 * `/admin/config` updates apply to later requests.
 */
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { OpenAIError } from '../openai/errors.js';
import { displayModelName, type SimConfig } from './config.js';
import { Dispatcher } from './dispatcher.js';
import { injectFailure, simError } from './failures.js';
import { KvCache } from './kv-cache.js';
import { NOOP_KV_EVENT_SINK, type KvEventSink } from './kv-events.js';
import type { LatencyContext } from './latency.js';
import { LoraManager } from './lora.js';
import { SimMetrics } from './metrics.js';
import { Random } from './random.js';
import { tokenizePrompt, validateSimRequest, type PromptInput, type SimRequest } from './request.js';
import type { Tokenized } from './tokenizer.js';
import { REAL_CLOCK, type EngineClock } from './step/clock.js';
import { runStepChoice } from './step/choice.js';
import { StepEngine } from './step/engine.js';
import { resolveSpec } from './step/presets.js';
import { runChoice, SharedPrompt, type ChoiceJob, type ChoiceSink, type PromptTokenize, type WorkerContext } from './worker.js';

export interface EngineOptions {
  kvEventSink?: KvEventSink;
  /** How prompts become ids (default: the simulated tokenizer; `--tokenizer`: a real one). */
  tokenize?: PromptTokenize;
  /** Step engine clock (default: real time). */
  clock?: EngineClock;
}

export class Engine {
  private current: SimConfig;
  readonly random: Random;
  readonly metrics: SimMetrics;
  readonly loras: LoraManager;
  readonly kvCache: KvCache | null;
  readonly dispatcher: Dispatcher;
  /** The step engine (`--engine-model step`), else null. */
  readonly step: StepEngine | null;
  /** Names this engine in P/D kv_transfer_params (`remote_engine_id`). */
  readonly engineId = randomUUID();
  private sink: KvEventSink;
  private readonly aborter = new AbortController();
  private readonly workerContext: WorkerContext;
  private readonly tokenize: PromptTokenize | undefined;

  constructor(config: SimConfig, options: EngineOptions = {}) {
    this.current = config;
    this.random = new Random(config.seed);
    this.metrics = new SimMetrics({
      modelName: displayModelName(config),
      maxLoras: config.maxLoras,
      blockSize: config.blockSize,
      kvCacheSize: config.kvCacheSize,
      maxModelLen: config.maxModelLen,
      fakeMetrics: config.fakeMetrics,
    });
    this.sink = options.kvEventSink ?? NOOP_KV_EVENT_SINK;
    this.tokenize = options.tokenize;
    this.step = config.engineModel === 'step'
      ? new StepEngine({
          spec: resolveSpec(config),
          clock: options.clock ?? REAL_CLOCK,
          blockSize: config.blockSize,
          kvCacheBlocks: config.kvCacheSize,
          maxNumBatchedTokens: config.maxNumBatchedTokens,
          maxNumSeqs: config.maxNumSeqs,
          maxWaitingQueueLength: config.maxWaitingQueueLength,
          hashSeed: config.hashSeed,
          transfer: { bandwidth: config.kvTransferBandwidth * 1e9, latencyMs: config.kvTransferLatency },
          holdTimeoutMs: config.kvTransferTimeout,
          kvEventSink: this.sink,
          frontend: config,
          metrics: this.metrics,
        })
      : null;
    this.kvCache = config.enableKvcache && this.step === null
      ? new KvCache({
          capacity: config.kvCacheSize,
          blockSize: config.blockSize,
          hashSeed: config.hashSeed,
          loadedModels: [config.model, ...config.servedModelNames],
          sink: this.sink,
        })
      : null;
    this.loras = new LoraManager(config.maxLoras, config.loraModules, {
      loaded: (name) => this.kvCache?.setModelLoaded(name),
      unloaded: (name) => this.kvCache?.setModelUnloaded(name),
      usageChanged: (running, waiting) => this.metrics.loraUsage(running, waiting),
    });
    this.dispatcher = new Dispatcher({
      maxNumSeqs: config.maxNumSeqs,
      maxWaitingQueueLength: config.maxWaitingQueueLength,
      lora: this.loras,
      onChange: (running, waiting) => this.metrics.setQueue(running, waiting),
      onQueueChange: (job, queued) => {
        if (job.lora !== null) this.loras.markWaiting(job.lora, queued);
      },
    });
    // Every pending sleep listens on this signal: one per running request, far more than 10.
    setMaxListeners(0, this.aborter.signal);
    const latency: LatencyContext = { random: this.random, maxNumSeqs: config.maxNumSeqs, wholeMs: config.latencyWholeMs };
    this.workerContext = {
      config: () => this.current,
      latency: () => latency,
      running: () => this.dispatcher.running,
      kvCache: this.kvCache,
      metrics: this.metrics,
      loraIdentity: (name) => {
        const id = this.loras.idOf(name);
        return id > 0 ? { id, name } : undefined;
      },
      signal: this.aborter.signal,
    };
  }

  /** A prompt's ids, as a worker would tokenize it (`/tokenize`). */
  async tokenizePrompt(input: PromptInput): Promise<Tokenized> {
    return (this.tokenize ?? tokenizePrompt)(input);
  }

  get kvEventSink(): KvEventSink {
    return this.sink;
  }

  set kvEventSink(sink: KvEventSink) {
    this.sink = sink;
    this.kvCache?.setSink(sink);
    this.step?.setKvEventSink(sink);
  }

  /** Requests running / waiting, whichever engine serves them. */
  get counts(): { running: number; waiting: number } {
    return this.step ? { running: this.step.numRunning, waiting: this.step.numWaiting } : { running: this.dispatcher.running, waiting: this.dispatcher.waiting };
  }

  get config(): SimConfig {
    return this.current;
  }

  /** Swaps in a new configuration (admin updates of latency/failure/fake-metrics keys). */
  updateConfig(next: SimConfig): void {
    this.current = next;
  }

  get displayModel(): string {
    return displayModelName(this.current);
  }

  isKnownModel(model: string): boolean {
    return this.current.servedModelNames.includes(model) || this.loras.isLora(model);
  }

  /**
   * Admits a request: returns the number of choices whose events will reach `sink`, or throws the
   * OpenAIError to answer at once (injected failure, unknown model, invalid request).
   */
  submit(request: SimRequest, sink: ChoiceSink): number {
    const config = this.current;
    const injected = injectFailure(this.random, config.failureInjectionRate, config.failureTypes, config.model);
    if (injected) throw injected;
    if (!this.isKnownModel(request.model)) throw simError(404, `The model \`${request.model}\` does not exist.`);
    validateSimRequest(request);

    const lora = this.loras.isLora(request.model) ? request.model : null;
    const displayModel = lora ?? this.displayModel;
    const receivedAt = performance.now();
    const perPrompt = request.n ?? 1;
    const total = request.prompts.length * perPrompt;
    const jobs: ChoiceJob[] = [];
    request.prompts.forEach((input, promptIndex) => {
      const prompt = new SharedPrompt(input, request.prompts.length > 1 ? `${request.id}-${promptIndex}` : request.id, this.tokenize);
      for (let i = 0; i < perPrompt; i++) {
        const choice = jobs.length;
        jobs.push({ request, prompt, choice, kvId: total > 1 ? `${request.id}-${choice}` : request.id, displayModel, lora, receivedAt });
      }
    });
    if (this.step) {
      for (const job of jobs) void runStepChoice(this.step, this.workerContext, job, sink);
      return total;
    }
    for (const job of jobs) {
      try {
        this.dispatcher.submit({
          lora,
          run: async (queuedMs) => {
            if (lora !== null) this.loras.markRunning(lora, true);
            try {
              await runChoice(this.workerContext, job, sink, queuedMs);
            } finally {
              if (lora !== null) this.loras.markRunning(lora, false);
            }
          },
        });
      } catch (err) {
        sink.failed(job.choice, err as OpenAIError);
      }
    }
    return total;
  }

  /** Resolves when nothing runs or waits (graceful drain). */
  whenIdle(): Promise<void> {
    return this.step ? this.step.whenIdle() : this.dispatcher.whenIdle();
  }

  /** Cuts every pending sleep short: running requests end with 503. */
  abort(): void {
    this.aborter.abort();
    this.step?.abort();
  }
}
