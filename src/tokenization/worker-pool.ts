/**
 * An Encoder over several tokenizer worker threads (worker-encoder.ts), sized to the cores the
 * process has (cores.ts) unless told otherwise, with a bounded queue: at most `maxQueue` encode
 * calls may be outstanding in the pool; one more is refused at once with a TokenizationError
 * `overloaded` rather than queued — a caller with a deadline (the EPP scoring a request) goes on
 * without tokens instead of waiting behind a backlog. Loading is not bounded (it happens once per
 * tokenizer per worker). A stuck worker is replaced after `callTimeoutMs`, its slots freed.
 *
 * Each call goes to the worker with the fewest outstanding calls. Every worker loads the
 * tokenizers it is asked to use (memory × workers). The binding encodes on libuv's thread pool,
 * which worker threads share: UV_THREADPOOL_SIZE (default 4) caps parallel encodes per process, so
 * set it to at least the worker count on bigger machines.
 */
import type { TokenizerMeta } from './tokenizer-meta.js';
import type { Encoder } from './encoder.js';
import { availableCores } from './cores.js';
import { TokenizationError } from './errors.js';
import { WorkerEncoder } from './worker-encoder.js';

export interface WorkerPoolOptions {
  /** Worker threads (default: availableCores()). */
  workers?: number;
  /** Encode calls outstanding in the whole pool before new ones are refused (default 16 per worker). */
  maxQueue?: number;
  /** A worker that leaves a call unanswered this long is replaced (worker-encoder.ts; default WORKER_CALL_TIMEOUT_MS). */
  callTimeoutMs?: number;
}

export class WorkerPoolEncoder implements Encoder {
  readonly size: number;
  readonly maxQueue: number;
  private readonly workers: WorkerEncoder[];
  private readonly outstanding: number[];
  private total = 0;

  constructor(options: WorkerPoolOptions = {}) {
    this.size = Math.max(1, Math.floor(options.workers ?? availableCores()));
    this.maxQueue = Math.max(1, Math.floor(options.maxQueue ?? 16 * this.size));
    const callTimeoutMs = options.callTimeoutMs;
    this.workers = Array.from({ length: this.size }, () => new WorkerEncoder(callTimeoutMs !== undefined ? { callTimeoutMs } : {}));
    this.outstanding = new Array<number>(this.size).fill(0);
  }

  /** Encode calls in flight (queued in or running on a worker). */
  get pending(): number {
    return this.total;
  }

  async load(path: string): Promise<TokenizerMeta> {
    const metas = await Promise.all(this.workers.map((worker) => worker.load(path)));
    return metas[0]!;
  }

  async encode(path: string, texts: readonly string[], addSpecialTokens: boolean): Promise<Uint32Array[]> {
    if (texts.length === 0) return [];
    if (this.total >= this.maxQueue) {
      throw new TokenizationError('overloaded', `tokenizer pool busy: ${this.total} encode calls outstanding (maxQueue ${this.maxQueue})`);
    }
    let best = 0;
    for (let i = 1; i < this.size; i++) if (this.outstanding[i]! < this.outstanding[best]!) best = i;
    this.outstanding[best]!++;
    this.total++;
    try {
      return await this.workers[best]!.encode(path, texts, addSpecialTokens);
    } finally {
      this.outstanding[best]!--;
      this.total--;
    }
  }

  unload(path: string): void {
    for (const worker of this.workers) worker.unload(path);
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.close()));
  }
}
