/**
 * The default Encoder: one worker thread (encode-worker.ts) owns the tokenizers; the caller only
 * posts texts and receives a transferred Uint32Array. The binding's encode still fans out over
 * the libuv pool inside the worker, so one worker is enough for parallel encoding.
 *
 * The worker is started on first use and restarted after a crash (pending calls fail; the next
 * call reloads tokenizers on demand). An encode unanswered for `callTimeoutMs` (default
 * WORKER_CALL_TIMEOUT_MS; explicit loads are bounded by their caller's load timeout) means the
 * worker is stuck (a hung read, a runaway encode): it is treated as crashed — its calls fail, it is terminated, the next call starts another — so a
 * stuck worker does not hold its callers (and a pool's queue slots) forever. It does not keep
 * the process alive while idle.
 */
import { Worker } from 'node:worker_threads';
import type { TokenizerMeta } from './tokenizer-meta.js';
import type { Encoder } from './encoder.js';
import { unpack, WORKER_ROLE, type WorkerRequest, type WorkerResponse } from './encode-worker.js';

/** A request without its id (distributes over the union). */
type Unnumbered<T> = T extends unknown ? Omit<T, 'id'> : never;

type Pending = { resolve: (response: WorkerResponse & { ok: true }) => void; reject: (error: Error) => void; timer: NodeJS.Timeout | undefined };

/** How long a call may go unanswered before the worker is given up (loads of big tokenizers take seconds). */
export const WORKER_CALL_TIMEOUT_MS = 60_000;

export interface WorkerEncoderOptions {
  /** Default WORKER_CALL_TIMEOUT_MS. */
  callTimeoutMs?: number;
}

/** Run from source under vitest/Node type stripping (.ts) or from dist/ (.js). */
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './encode-worker.ts' : './encode-worker.js', import.meta.url);

export class WorkerEncoder implements Encoder {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  private readonly callTimeoutMs: number;

  constructor(options: WorkerEncoderOptions = {}) {
    this.callTimeoutMs = options.callTimeoutMs ?? WORKER_CALL_TIMEOUT_MS;
  }

  private start(): Worker {
    if (this.closed) throw new Error('tokenizer worker is closed');
    if (this.worker) return this.worker;
    const worker = new Worker(WORKER_URL, { workerData: { role: WORKER_ROLE } });
    worker.unref();
    worker.on('message', (response: WorkerResponse) => this.settle(response));
    worker.on('error', (error) => this.retire(worker, error));
    worker.on('exit', (code) => this.retire(worker, new Error(`tokenizer worker exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }

  /** The current worker is gone (crashed, exited, stuck): its calls fail; the next call starts another. */
  private retire(worker: Worker, error: Error): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    this.failPending(error);
  }

  private failPending(error: Error): void {
    for (const pending of this.pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.pending.clear();
  }

  private settle(response: WorkerResponse): void {
    const pending = this.pending.get(response.id);
    if (!pending) return;
    this.pending.delete(response.id);
    clearTimeout(pending.timer);
    if (this.pending.size === 0) this.worker?.unref();
    if (response.ok) pending.resolve(response);
    else pending.reject(new Error(response.error));
  }

  private call(request: Unnumbered<Extract<WorkerRequest, { id: number }>>): Promise<WorkerResponse & { ok: true }> {
    const worker = this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      // Keep the process alive only while an answer is owed.
      if (this.pending.size === 0) worker.ref();
      // Explicit loads are bounded by their caller (tokenizerPool.loadTimeout, which may exceed this).
      const timer = request.op === 'load' ? undefined : setTimeout(() => {
        if (this.worker !== worker) return;
        this.retire(worker, new Error(`tokenizer worker did not answer a ${request.op} within ${this.callTimeoutMs} ms; restarting it`));
        void worker.terminate();
      }, this.callTimeoutMs);
      timer?.unref();
      this.pending.set(id, { resolve, reject, timer });
      worker.postMessage({ ...request, id } as WorkerRequest);
    });
  }

  async load(path: string): Promise<TokenizerMeta> {
    const response = await this.call({ op: 'load', path });
    if (!('meta' in response)) throw new Error('tokenizer worker answered load without metadata');
    return response.meta;
  }

  async encode(path: string, texts: readonly string[], addSpecialTokens: boolean): Promise<Uint32Array[]> {
    if (texts.length === 0) return [];
    const response = await this.call({ op: 'encode', path, texts: [...texts], addSpecialTokens });
    if (!('ids' in response)) throw new Error('tokenizer worker answered encode without ids');
    return unpack(response.ids, response.lengths);
  }

  unload(path: string): void {
    this.worker?.postMessage({ op: 'unload', path } satisfies WorkerRequest);
  }

  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = undefined;
    this.failPending(new Error('tokenizer worker closed'));
    if (worker) await worker.terminate();
  }
}
