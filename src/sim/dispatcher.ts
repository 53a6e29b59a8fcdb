/**
 * max-num-seqs workers and a FIFO waiting queue. One object replaces the Go
 * simulator's channels: a request runs at once when a worker (and its LoRA slot) is free, waits
 * otherwise, and is refused with 429 when the queue is full. A freed worker takes the first queued
 * request whose LoRA is loaded, else the first whose LoRA can be loaded. The counts are exact at
 * every moment, which is what the running/waiting gauges and the load factor read.
 */
import { performance } from 'node:perf_hooks';
import { OpenAIError } from '../openai/errors.js';

export const QUEUE_FULL_MESSAGE = 'Failed to enqueue request, waiting requests queue is full';

export interface DispatchJob {
  /** The LoRA adapter this request needs, or null for the base model. */
  readonly lora: string | null;
  /**
   * Runs the request on a worker. `queuedMs` is set only for requests that waited. The worker is
   * busy until the returned promise settles.
   */
  run(queuedMs: number | undefined): Promise<void>;
}

/** LoRA slots, as far as scheduling needs them. */
export interface LoraGate {
  isLoaded(lora: string): boolean;
  /** Takes a reference on the adapter, loading it (possibly evicting an idle one); false when no slot. */
  acquire(lora: string): boolean;
  release(lora: string): void;
}

export interface DispatcherOptions {
  maxNumSeqs: number;
  maxWaitingQueueLength: number;
  lora?: LoraGate;
  /** Called after every change of the counts. */
  onChange?: (running: number, waiting: number) => void;
  /** Called when a job is queued or leaves the queue (for LoRA usage reporting). */
  onQueueChange?: (job: DispatchJob, queued: boolean) => void;
  /** Clock in ms (default performance.now); injectable so queueing time can be tested exactly. */
  now?: () => number;
}

interface QueuedJob {
  job: DispatchJob;
  enqueuedAt: number;
}

const ALWAYS_LOADED: LoraGate = { isLoaded: () => true, acquire: () => true, release: () => {} };

export class Dispatcher {
  private readonly options: DispatcherOptions;
  private readonly gate: LoraGate;
  private readonly queue: QueuedJob[] = [];
  private runningCount = 0;
  private idleWaiters: Array<() => void> = [];
  private readonly now: () => number;

  constructor(options: DispatcherOptions) {
    this.options = options;
    this.gate = options.lora ?? ALWAYS_LOADED;
    this.now = options.now ?? (() => performance.now());
  }

  get running(): number {
    return this.runningCount;
  }

  get waiting(): number {
    return this.queue.length;
  }

  /** Starts the job now or queues it; throws 429 when the queue is full. */
  submit(job: DispatchJob): 'running' | 'queued' {
    if (this.runningCount < this.options.maxNumSeqs && this.acquire(job)) {
      this.start(job, undefined);
      return 'running';
    }
    if (this.queue.length >= this.options.maxWaitingQueueLength) {
      throw new OpenAIError(429, QUEUE_FULL_MESSAGE);
    }
    this.queue.push({ job, enqueuedAt: this.now() });
    this.options.onQueueChange?.(job, true);
    this.changed();
    return 'queued';
  }

  /** Resolves when nothing runs and nothing waits. */
  whenIdle(): Promise<void> {
    if (this.runningCount === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private acquire(job: DispatchJob): boolean {
    return job.lora === null || this.gate.acquire(job.lora);
  }

  private start(job: DispatchJob, queuedMs: number | undefined): void {
    this.runningCount++;
    this.changed();
    let settled: Promise<void>;
    try {
      settled = job.run(queuedMs);
    } catch (err) {
      settled = Promise.reject(err);
    }
    settled.catch(() => {}).finally(() => this.finish(job));
  }

  private finish(job: DispatchJob): void {
    this.runningCount--;
    if (job.lora !== null) this.gate.release(job.lora);
    this.pump();
    this.changed();
    if (this.runningCount === 0 && this.queue.length === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  /** Fills free workers from the queue: loaded LoRAs first, then any whose LoRA can be loaded. */
  private pump(): void {
    while (this.runningCount < this.options.maxNumSeqs && this.queue.length > 0) {
      let index = this.queue.findIndex(({ job }) => job.lora === null || this.gate.isLoaded(job.lora));
      if (index >= 0) {
        const lora = this.queue[index]!.job.lora;
        if (lora !== null) this.gate.acquire(lora);
      } else {
        index = this.queue.findIndex(({ job }) => this.acquire(job));
        if (index < 0) return;
      }
      const [entry] = this.queue.splice(index, 1);
      this.options.onQueueChange?.(entry!.job, false);
      this.start(entry!.job, this.now() - entry!.enqueuedAt);
    }
  }

  private changed(): void {
    this.options.onChange?.(this.runningCount, this.queue.length);
  }
}
