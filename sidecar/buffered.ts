/**
 * A whole-answer upstream request on undici's `dispatch`: chunks are collected by one handler
 * object and the promise settles once. The prefill leg uses it because it needs the whole answer
 * anyway; skipping `request()`'s body stream saves a stream and several ticks per request on the
 * P/D hot path. The answer is capped (`maxBytes`): past it the request is aborted and the promise
 * rejects with AnswerTooLargeError, so a runaway upstream cannot grow the sidecar's memory.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import type { HeaderRecord } from '../src/http/headers.js';
import type { BufferedResponse } from './respond.js';

/** The upstream answer crossed the buffering cap. */
export class AnswerTooLargeError extends Error {
  override readonly name = 'AnswerTooLargeError';
  constructor(readonly limit: number) {
    super(`upstream answer is larger than the limit of ${limit} bytes`);
  }
}

class BufferingHandler implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private status = 0;
  private headers: IncomingHttpHeaders = {};
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private settled = false;

  constructor(
    private readonly resolve: (response: BufferedResponse) => void,
    private readonly reject: (err: Error) => void,
    private readonly signal: AbortSignal | undefined,
    private readonly maxBytes: number,
  ) {
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  private readonly onAbort = (): void => {
    const reason = this.signal!.reason as Error;
    if (this.controller) this.controller.abort(reason);
    else this.fail(reason);
  };

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.signal?.aborted) controller.abort(this.signal.reason as Error);
  }

  onResponseStart(controller: Dispatcher.DispatchController, status: number, headers: IncomingHttpHeaders): void {
    this.status = status;
    this.headers = headers;
    const declared = Number(headers['content-length']);
    if (declared > this.maxBytes) controller.abort(new AnswerTooLargeError(this.maxBytes));
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.size += chunk.length;
    if (this.size > this.maxBytes) {
      this.chunks.length = 0;
      controller.abort(new AnswerTooLargeError(this.maxBytes));
      return;
    }
    this.chunks.push(chunk);
  }

  onResponseEnd(): void {
    if (this.settled) return;
    this.settled = true;
    this.signal?.removeEventListener('abort', this.onAbort);
    const body = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size);
    this.resolve({ status: this.status, headers: this.headers, body });
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    this.fail(err);
  }

  private fail(err: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.signal?.removeEventListener('abort', this.onAbort);
    this.reject(err);
  }
}

/** Default cap: far above any JSON answer a prefill, encoder or chunk pass produces. */
export const DEFAULT_ANSWER_LIMIT = 8 * 1024 * 1024;

export function requestBuffered(
  dispatcher: Dispatcher,
  request: { method: string; path: string; headers: HeaderRecord; body: string | Buffer },
  signal?: AbortSignal,
  maxBytes: number = DEFAULT_ANSWER_LIMIT,
): Promise<BufferedResponse> {
  return new Promise((resolve, reject) => {
    const handler = new BufferingHandler(resolve, reject, signal, maxBytes);
    try {
      dispatcher.dispatch({ method: request.method, path: request.path, headers: request.headers, body: request.body }, handler);
    } catch (err) {
      handler.onResponseError(undefined, err as Error);
    }
  });
}
