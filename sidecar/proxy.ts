/**
 * Streaming forward of one request to the local vLLM (pass-through routes, decode legs, fallback
 * decodes). This is the hot path, so it works on Node's IncomingMessage/ServerResponse directly
 * and drives undici's `dispatch` with one handler object per request: no web Request/Response,
 * no intermediate streams, body chunks go straight from the upstream socket to the client with
 * backpressure. Failures follow upstream's ReverseProxy: ECONNREFUSED before headers → 503 (vLLM
 * not ready), other errors before headers → 502, an upstream abort mid-body → the client socket
 * is destroyed. A client that goes away aborts the upstream request.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { forwardResponseHeaders, type HeaderRecord } from '../src/http/headers.js';
import type { Logger } from '../src/log.js';
import type { ResponseBodyFilter } from './cached-tokens.js';
import { badGateway, canRespond, decoderNotReady, sendError } from './respond.js';
import { endClientSpan, startClientSpan, type TraceScope, type UpstreamAddress } from './tracing.js';

export interface Upstream extends UpstreamAddress {
  readonly dispatcher: Dispatcher;
  /** `http(s)://host:port`. */
  readonly origin: string;
  /** `host:port`, the `decode.target` span attribute. */
  readonly hostPort: string;
}

export function upstream(dispatcher: Dispatcher, origin: string): Upstream {
  const url = new URL(origin);
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  const address = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { dispatcher, origin, hostPort: url.host, address, port };
}

export interface ForwardRequest {
  method: string;
  /** Path and query, as the client sent them. */
  path: string;
  headers: HeaderRecord;
  /** A buffered body, the client's request stream, or none. */
  body: Buffer | string | IncomingMessage | null;
}

export type ForwardOutcome = 'completed' | 'client_gone' | 'upstream_failed';

export interface ForwardOptions {
  logger: Logger;
  filter?: ResponseBodyFilter;
  /** Parent of the CLIENT span; its context is injected into the request headers. */
  trace?: TraceScope;
  /** Called once when the exchange is over (after the last byte was handed to the socket). */
  onDone?: (outcome: ForwardOutcome, status: number | undefined) => void;
}

class ClientGoneError extends Error {
  override readonly name = 'ClientGoneError';
  constructor() {
    super('client disconnected');
  }
}

/** Refused connections: the vLLM process is not (yet) listening. */
export function isConnectionRefused(err: unknown): boolean {
  const e = err as { code?: string; cause?: { code?: string }; errors?: Array<{ code?: string }> } | undefined;
  return e?.code === 'ECONNREFUSED' || e?.cause?.code === 'ECONNREFUSED' || (e?.errors?.some((inner) => inner.code === 'ECONNREFUSED') ?? false);
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

  constructor(
    private readonly res: ServerResponse,
    private readonly target: Upstream,
    private readonly options: ForwardOptions,
    private readonly clientSpan: TraceScope | undefined,
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
    const out = forwardResponseHeaders(headers);
    if (this.options.filter) {
      // The filter may change the body length; the head waits for the first output.
      this.options.filter.start(status, out);
      this.head = out;
    } else if (!this.res.destroyed) {
      this.res.writeHead(status, out);
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
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
    } else if (this.options.onDone || this.clientSpan) {
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
    const { logger } = this.options;
    if (canRespond(this.res)) {
      if (isConnectionRefused(err)) {
        logger.error({ err, decoder: this.target.origin }, 'failed to connect to vLLM decoder');
        sendError(this.res, decoderNotReady(err));
      } else {
        logger.error({ err, decoder: this.target.origin }, 'http: proxy error');
        sendError(this.res, badGateway(err.message, err));
      }
    } else if (!this.res.destroyed) {
      // Headers are out: the only honest signal left is to cut the client connection.
      logger.error({ err, decoder: this.target.origin }, 'upstream failed mid-response; aborting client connection');
      this.res.destroy();
    }
    this.finish('upstream_failed', err);
  }

  private writeHead(): void {
    if (this.head && !this.res.headersSent && !this.res.destroyed) this.res.writeHead(this.status!, this.head);
    this.head = undefined;
  }

  private finish(outcome: ForwardOutcome, err?: unknown): void {
    if (this.done) return;
    this.done = true;
    endClientSpan(this.clientSpan, this.status, outcome === 'completed' ? undefined : err, outcome === 'client_gone' ? 'client_disconnect' : undefined);
    this.options.onDone?.(outcome, this.status);
  }
}

/** Forwards one request to `target`, streaming the answer into `res`. Never throws. */
export function forward(res: ServerResponse, target: Upstream, request: ForwardRequest, options: ForwardOptions): void {
  const clientSpan = startClientSpan(options.trace, request.method, target, request.headers);
  const handler = new ForwardHandler(res, target, options, clientSpan);
  try {
    target.dispatcher.dispatch({ path: request.path, method: request.method, headers: request.headers, body: request.body }, handler);
  } catch (err) {
    // A closed pool (shutdown) or an invalid request: answer like any other pre-header failure.
    handler.onResponseError(undefined, err as Error);
  }
}

/** `forward` as a promise that settles when the exchange is over. */
export function forwardAsync(res: ServerResponse, target: Upstream, request: ForwardRequest, options: ForwardOptions): Promise<{ outcome: ForwardOutcome; status: number | undefined }> {
  return new Promise((resolve) => {
    forward(res, target, request, {
      ...options,
      onDone: (outcome, status) => {
        options.onDone?.(outcome, status);
        resolve({ outcome, status });
      },
    });
  });
}
