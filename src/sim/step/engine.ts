/**
 * The step engine (`--engine-model step`, docs/simulator.md "Step engine"): a loop of engine
 * steps on an injectable clock. Each step is planned by the scheduler (scheduler.ts), lasts the
 * roofline time of its batch (roofline.ts), and at its end every request that computed its last
 * known token gets its next token — one timer per step, however many streams run. The vLLM
 * metrics (running/waiting, KV usage, TTFT, ITL, queue/prefill/decode times, prefix-cache and
 * token counters) come out of this timeline.
 *
 * P/D: a prefill leg (`do_remote_decode`) holds its blocks after finishing until `release()` (the
 * decode pod pulled them, kv-pull.ts) or the hold timeout; a decode leg (`do_remote_prefill`) gets
 * blocks for its prompt, waits for the transfer (transfer.ts), reports it done (`onTransferred`:
 * the pull notice) and then only decodes.
 *
 * In front of it, vLLM's API server (frontend.ts): a request reaches the engine after its input
 * processing, and each step's tokens reach the clients after their output processing.
 */
import { OpenAIError } from '../../openai/errors.js';
import { blockKeys, RootKeys } from '../../kvblock/keys.js';
import { simError } from '../failures.js';
import type { KvEventSink } from '../kv-events.js';
import type { SimMetrics } from '../metrics.js';
import { QUEUE_FULL_MESSAGE } from '../dispatcher.js';
import { BlockPool } from './block-pool.js';
import { HeldBlocks } from './held.js';
import type { EngineClock, Timer } from './clock.js';
import { Frontend, NO_FRONTEND, type FrontendSettings } from './frontend.js';
import type { EngineSpec } from './presets.js';
import { stepTime, type StepCost } from './roofline.js';
import { knownTokens, planStep, type SchedRequest, type ScheduledEntry } from './scheduler.js';
import { transferMs, type TransferSettings } from './transfer.js';
import { recordFinished, type Live, type StepJob } from './job.js';

export type { StepJob, StepSink } from './job.js';

export interface StepEngineOptions {
  spec: EngineSpec;
  clock: EngineClock;
  blockSize: number;
  kvCacheBlocks: number;
  maxNumBatchedTokens: number;
  maxNumSeqs: number;
  maxWaitingQueueLength: number;
  hashSeed: string;
  transfer: TransferSettings;
  /** Prefill legs' blocks are freed after this if nobody pulled them, ms. */
  holdTimeoutMs: number;
  kvEventSink: KvEventSink;
  /** vLLM's API server costs (default none: the engine alone). */
  frontend?: FrontendSettings;
  metrics?: SimMetrics;
  /** Called with every executed step (benchmarks, tests). */
  onStep?: (batch: readonly ScheduledEntry[], cost: StepCost) => void;
}

/** Steps chain on the engine's own timeline unless the real clock fell this far behind. */
const MAX_LAG_MS = 100;

export class StepEngine {
  readonly pool: BlockPool;
  private readonly running: Live[] = [];
  private readonly waiting: Live[] = [];
  /** Requests in the API server, not yet in `waiting` (they count against the waiting queue's length). */
  private admitting = 0;
  private readonly held: HeldBlocks<Live>;
  private readonly roots: RootKeys;
  private readonly frontend: Frontend;
  private stepTimer: Timer | undefined;
  private timelineEnd = 0;
  private transfers = new Set<Timer>();
  private idleWaiters: Array<() => void> = [];
  steps = 0;

  constructor(private readonly options: StepEngineOptions) {
    this.pool = new BlockPool(options.kvCacheBlocks, options.blockSize, options.kvEventSink);
    this.roots = new RootKeys(options.hashSeed);
    this.frontend = new Frontend(options.clock, options.frontend ?? NO_FRONTEND);
    this.held = new HeldBlocks(options.clock, options.holdTimeoutMs, (request) => {
      this.pool.free(request);
      this.gauges();
      this.kick();
    });
  }

  get numRunning(): number {
    return this.running.length;
  }

  /** Waiting requests, decode legs waiting for their KV included (as vLLM counts them). */
  get numWaiting(): number {
    return this.waiting.length;
  }

  get tensorParallelSize(): number {
    return this.options.spec.tensorParallelSize;
  }

  get heldRequests(): number {
    return this.held.size;
  }

  /** Ids of the blocks held for `releaseId` (a prefill answer's remote_block_ids). */
  heldBlockIds(releaseId: string): number[] {
    return this.held.blockIds(releaseId);
  }

  setKvEventSink(sink: KvEventSink): void {
    this.pool.setSink(sink);
  }

  /** Tokens of `promptIds` the prefix cache holds now (the cache_threshold check). */
  cachedTokens(promptIds: readonly number[], model: string): number {
    const keys = blockKeys(promptIds, this.options.blockSize, this.roots.get(model));
    return this.pool.lookup({ keys }, promptIds.length + 1).length * this.options.blockSize;
  }

  /** Queues a request; throws 429 when the waiting queue is full. */
  submit(job: StepJob): void {
    // Requests still in the API server are on their way: each takes a free slot or a queue place.
    const free = Math.max(0, this.options.maxNumSeqs - this.running.length);
    if (this.waiting.length + this.admitting >= this.options.maxWaitingQueueLength + free && (free === 0 || this.admitting > 0)) {
      throw new OpenAIError(429, QUEUE_FULL_MESSAGE);
    }
    const tokenIds = [...job.promptIds, ...job.outputIds];
    const now = this.options.clock.now();
    const request: Live = {
      job, id: job.id, promptTokens: job.promptIds.length, emitted: 0, computed: 0,
      remotePrefill: job.remotePrefill, loading: false, loaded: false, cachedTokens: -1,
      keys: blockKeys(tokenIds, this.options.blockSize, this.roots.get(job.model)), tokenIds,
      loraId: job.lora?.id ?? null, loraName: job.lora?.name ?? null, blocks: [], committed: 0,
      arrivedAt: now, queuedAt: now, scheduledAt: -1, firstTokenAt: -1, lastTokenAt: -1, preemptions: 0,
    };
    this.admitting++;
    this.frontend.admit(request.promptTokens, (startedAt) => {
      this.admitting--;
      request.arrivedAt = startedAt;
      request.queuedAt = this.options.clock.now();
      this.waiting.push(request);
      this.gauges();
      this.kick();
    });
  }

  /** A decode pod pulled a prefill leg's blocks: free them now. False when none are held. */
  release(releaseId: string): boolean {
    return this.held.release(releaseId);
  }

  /** `/sleep`: the prefix cache is forgotten. */
  clearCache(): void {
    this.pool.clear();
  }

  whenIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Ends every request now with `error` (shutdown) and frees held blocks. */
  abort(error: OpenAIError = simError(503, 'server is shutting down')): void {
    this.frontend.flush();
    this.stepTimer?.cancel();
    this.stepTimer = undefined;
    for (const timer of this.transfers) timer.cancel();
    this.transfers.clear();
    for (const request of [...this.running, ...this.waiting]) {
      this.pool.free(request);
      request.job.sink.failed(error);
    }
    this.running.length = 0;
    this.waiting.length = 0;
    this.held.releaseAll();
    this.gauges();
    this.settle();
  }

  private kick(): void {
    if (this.stepTimer === undefined) this.runStep(false);
  }

  /** Plans and starts the next step; `chained`: straight after the previous one. */
  private runStep(chained: boolean): void {
    const { clock, spec } = this.options;
    const now = clock.now();
    const start = chained && now - this.timelineEnd < MAX_LAG_MS ? this.timelineEnd : now;
    const plan = planStep(this.queues, this.pool, this.options);
    for (const request of plan.preempted) (request as Live).preemptions++;
    for (const request of plan.admitted) this.options.metrics?.prefixCache(request.cachedTokens, request.promptTokens);
    for (const request of plan.transfers) this.startTransfer(request as Live, start);
    for (const { request } of plan.batch) {
      const live = request as Live;
      if (live.scheduledAt < 0) live.scheduledAt = start;
    }
    this.gauges();
    if (plan.batch.length === 0) {
      this.stepTimer = undefined;
      this.settle();
      return;
    }
    const cost = stepTime(spec, plan.batch);
    this.steps++;
    this.options.onStep?.(plan.batch, cost);
    const end = start + cost.ms;
    this.timelineEnd = end;
    this.stepTimer = clock.setTimer(end - now, () => {
      this.completeStep(plan.batch, end);
      this.runStep(true);
    });
  }

  private get queues(): { running: SchedRequest[]; waiting: SchedRequest[] } {
    return { running: this.running, waiting: this.waiting };
  }

  private startTransfer(request: Live, at: number): void {
    const uncached = request.promptTokens - request.computed;
    const ms = transferMs(this.options.spec, this.options.transfer, uncached);
    const timer = this.options.clock.setTimer(at + ms - this.options.clock.now(), () => {
      this.transfers.delete(timer);
      request.loading = false;
      request.loaded = true;
      request.computed = Math.max(request.computed, request.promptTokens - 1);
      this.pool.commit(request, request.computed);
      request.job.onTransferred?.();
      this.kick();
    });
    this.transfers.add(timer);
  }

  private completeStep(batch: readonly ScheduledEntry[], end: number): void {
    const metrics = this.options.metrics;
    const out: Array<() => void> = [];
    let tokens = 0;
    for (const entry of batch) {
      const request = entry.request as Live;
      if (!this.running.includes(request)) continue;
      request.computed += entry.newTokens;
      this.pool.commit(request, request.computed);
      if (request.computed !== knownTokens(request)) continue;
      const index = request.emitted++;
      const sink = request.job.sink;
      if (index === 0) {
        request.firstTokenAt = end;
        metrics?.ttft((end - request.arrivedAt) / 1000);
        metrics?.prefill((end - request.scheduledAt) / 1000);
        out.push(() => sink.started());
      } else {
        metrics?.interToken((end - request.lastTokenAt) / 1000);
      }
      request.lastTokenAt = end;
      out.push(() => sink.token(index));
      tokens++;
      if (request.emitted >= request.job.outputIds.length) out.push(this.finish(request, end));
    }
    this.gauges();
    if (tokens === 0) return;
    // The clients see this step's tokens once the API server has streamed them.
    this.frontend.deliver(tokens, () => {
      for (const event of out) event();
      this.settle();
    });
  }

  /** Ends a request in the engine; returns its `finished` event for the clients. */
  private finish(request: Live, end: number): () => void {
    this.running.splice(this.running.indexOf(request), 1);
    if (this.options.metrics) recordFinished(this.options.metrics, request, end);
    if (request.job.remoteDecode) {
      this.held.hold(request.job.releaseId ?? request.id, request);
    } else {
      this.pool.free(request);
    }
    const outcome = { cachedTokens: Math.max(0, request.cachedTokens), preemptions: request.preemptions };
    return () => request.job.sink.finished(outcome);
  }

  private gauges(): void {
    this.options.metrics?.setQueue(this.running.length, this.waiting.length);
    this.options.metrics?.setKvUsage(this.pool.usage);
  }

  private get idle(): boolean {
    return this.running.length === 0 && this.waiting.length === 0 && this.frontend.pending === 0;
  }

  private settle(): void {
    if (!this.idle) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}
