/**
 * The one streaming forwarder both processes use (the gateway's endpoint leg, the sidecar's
 * pass-through and decode legs). It drives undici's `dispatch` with one handler object per
 * request: no web Request/Response and no intermediate streams, body chunks go straight from the
 * upstream socket to the client with backpressure.
 *
 * - A client that goes away aborts the upstream request.
 * - A failure before response headers becomes an OpenAI-shaped error (./upstream-error.ts: 503
 *   refused, 504 timed out, 502 otherwise); after headers the client connection is cut, the only
 *   honest signal left.
 * - Hooks: `filter` may rewrite the body (the head then waits for its first output),
 *   `sniffUsage` feeds the bytes to the usage scanner (src/wire/usage.ts), `dropResponseHeaders`
 *   removes upstream headers the caller owns (the front door's `x-request-id`).
 * - `onDone` runs once when the exchange is over, after the last byte was handed to the socket.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { OpenAIError } from '../openai/errors.js';
import { sendError } from '../wire/respond.js';
import { UsageSniffer, type Usage } from '../wire/usage.js';
import { forwardResponseHeaders, type HeaderRecord } from './headers.js';
import { upstreamError } from './upstream-error.js';

export interface ForwardRequest {
  method: string;
  /** Path and query, as the client sent them. */
  path: string;
  headers: HeaderRecord;
  /** A buffered body, the client's request stream, or none. */
  body: Buffer | string | IncomingMessage | null | undefined;
}

/**
 * Rewrites a response body on its way through (e.g. the sidecar's cached-tokens rewrite). `start`
 * sees the (mutable) response headers before they are written; `write`/`end` return what to send.
 */
export interface ResponseBodyFilter {
  start(status: number, headers: OutgoingHttpHeaders): void;
  write(chunk: Buffer): Buffer | undefined;
  end(): Buffer | undefined;
}

export type ForwardOutcome = 'completed' | 'client_gone' | 'upstream_failed';

export interface ForwardResult {
  outcome: ForwardOutcome;
  /** The upstream status; undefined when it failed before headers. */
  status: number | undefined;
  /** Upstream response headers, single-valued (only when `sniffUsage`). */
  headers: Map<string, string> | undefined;
  usage: Usage | undefined;
  /** The upstream failure, when `outcome` is `upstream_failed` or `client_gone` by an error. */
  error: unknown;
}

/** Where the request goes: the pooled dispatcher and a `host:port` label for errors and logs. */
export interface ForwardTarget {
  readonly dispatcher: Dispatcher;
  readonly hostPort: string;
}

export interface ForwardOptions {
  filter?: ResponseBodyFilter;
  sniffUsage?: boolean;
  dropResponseHeaders?: ReadonlySet<string>;
  /** The answer to a failure before headers; default upstreamError(err, target.hostPort). */
  mapError?: (err: Error) => OpenAIError;
  /** Told about an upstream failure (log it); client disconnects are not reported here. */
  onUpstreamError?: (err: Error, answered: boolean) => void;
  onDone?: (result: ForwardResult) => void;
}

class ClientGoneError extends Error {
  override readonly name = 'ClientGoneError';
  constructor() {
    super('client disconnected');
  }
}

/** The response's handler, so one shared listener serves every response (no per-request closures). */
const HANDLER = Symbol('forwardHandler');
type TrackedResponse = ServerResponse & { [HANDLER]?: ForwardHandler };

function onResponseClose(this: TrackedResponse): void {
  this[HANDLER]?.clientClosed();
}

function onResponseDrain(this: TrackedResponse): void {
  this[HANDLER]?.resume();
}

class ForwardHandler implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private clientGone = false;
  private upstreamEnded = false;
  private done = false;
  private status: number | undefined;
  private head: OutgoingHttpHeaders | undefined;
  private sniffer: UsageSniffer | undefined;
  private upstreamHeaders: Map<string, string> | undefined;

  constructor(
    private readonly res: ServerResponse,
    private readonly target: ForwardTarget,
    private readonly options: ForwardOptions,
  ) {
    (res as TrackedResponse)[HANDLER] = this;
    res.once('close', onResponseClose);
  }

  clientClosed(): void {
    if (this.done || this.res.writableFinished) return;
    this.clientGone = true;
    // Still streaming: abort the upstream request (undici then reports the error to us).
    if (this.upstreamEnded) this.finish('client_gone');
    else this.controller?.abort(new ClientGoneError());
  }

  resume(): void {
    this.controller?.resume();
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.clientGone) controller.abort(new ClientGoneError());
  }

  onResponseStart(_controller: Dispatcher.DispatchController, status: number, headers: Record<string, string | string[] | undefined>): void {
    this.status = status;
    if (this.options.sniffUsage) {
      this.upstreamHeaders = new Map();
      for (const name in headers) {
        const value = headers[name];
        if (value !== undefined) this.upstreamHeaders.set(name, Array.isArray(value) ? value.join(', ') : value);
      }
      this.sniffer = new UsageSniffer(this.upstreamHeaders.get('content-type'));
    }
    const out = forwardResponseHeaders(headers, this.options.dropResponseHeaders);
    if (this.options.filter) {
      // The filter may change the body length; the head waits for the first output.
      this.options.filter.start(status, out);
      this.head = out;
    } else if (!this.res.destroyed) {
      this.res.writeHead(status, out);
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.sniffer?.push(chunk);
    let out: Buffer | undefined = chunk;
    if (this.options.filter) {
      out = this.options.filter.write(chunk);
      if (!out || out.length === 0) return;
      this.writeHead();
    }
    if (this.res.destroyed) return;
    if (!this.res.write(out)) {
      controller.pause();
      this.res.once('drain', onResponseDrain);
    }
  }

  onResponseEnd(): void {
    this.upstreamEnded = true;
    let tail: Buffer | undefined;
    if (this.options.filter) {
      tail = this.options.filter.end();
      // A whole-body rewrite ends here with its exact length known.
      if (this.head && tail && tail.length > 0 && this.head['content-length'] === undefined) this.head['content-length'] = tail.length;
      this.writeHead();
    }
    if (this.res.destroyed) {
      this.finish('client_gone');
    } else if (this.options.onDone) {
      this.res.end(tail, () => this.finish('completed'));
    } else {
      this.done = true;
      this.res.end(tail);
    }
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    if (this.clientGone || err instanceof ClientGoneError) {
      this.finish('client_gone', err);
      return;
    }
    const answered = this.res.headersSent || this.res.destroyed;
    this.options.onUpstreamError?.(err, !answered);
    if (!answered) sendError(this.res, (this.options.mapError ?? ((e: Error) => upstreamError(e, this.target.hostPort)))(err));
    // Headers are out: the only honest signal left is to cut the client connection.
    else if (!this.res.destroyed) this.res.destroy();
    this.finish('upstream_failed', err);
  }

  private writeHead(): void {
    if (this.head && !this.res.headersSent && !this.res.destroyed) this.res.writeHead(this.status!, this.head);
    this.head = undefined;
  }

  private finish(outcome: ForwardOutcome, error?: unknown): void {
    if (this.done) return;
    this.done = true;
    this.options.onDone?.({ outcome, status: this.status, headers: this.upstreamHeaders, usage: this.sniffer?.finish(), error });
  }
}

/** Forwards one request to `target`, streaming the answer into `res`. Never throws. */
export function forward(res: ServerResponse, target: ForwardTarget, request: ForwardRequest, options: ForwardOptions = {}): void {
  const handler = new ForwardHandler(res, target, options);
  try {
    target.dispatcher.dispatch({ path: request.path, method: request.method, headers: request.headers, body: request.body ?? null }, handler);
  } catch (err) {
    // A closed pool (shutdown) or an invalid request: answer like any other pre-header failure.
    handler.onResponseError(undefined, err as Error);
  }
}

/** `forward` as a promise that settles when the exchange is over. */
export function forwardAsync(res: ServerResponse, target: ForwardTarget, request: ForwardRequest, options: ForwardOptions = {}): Promise<ForwardResult> {
  return new Promise((resolve) => {
    forward(res, target, request, {
      ...options,
      onDone: (result) => {
        options.onDone?.(result);
        resolve(result);
      },
    });
  });
}
