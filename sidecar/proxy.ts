/**
 * The sidecar's use of the shared forwarder (src/http/forward.ts) for its streamed legs
 * (pass-through routes, decode legs, fallback decodes): one CLIENT span per leg, started here and
 * injected into the leg's headers, ended when the exchange is over; the local vLLM refusing
 * connections answers upstream's exact "decode node is not ready" 503.
 */
import type { ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import {
  forward as forwardLeg, type ForwardOutcome, type ForwardRequest, type ForwardResult, type ResponseBodyFilter,
} from '../src/http/forward.js';
import { isConnectionRefused, upstreamError } from '../src/http/upstream-error.js';
import type { Logger } from '../src/log.js';
import { DECODER_NOT_READY_MESSAGE } from './respond.js';
import { endClientSpan, startClientSpan, type TraceScope, type UpstreamAddress } from './tracing.js';

export { isConnectionRefused, type ForwardOutcome, type ForwardRequest };

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

export interface LegOptions {
  logger: Logger;
  filter?: ResponseBodyFilter;
  /** Parent of the leg's CLIENT span; its context is injected into the request headers. */
  trace?: TraceScope;
}

/** Streams one leg to `target` into `res`; settles when the exchange is over. Never rejects. */
export function forwardAsync(res: ServerResponse, target: Upstream, request: ForwardRequest, options: LegOptions): Promise<ForwardResult> {
  return new Promise((resolve) => forward(res, target, request, options, resolve));
}

/** Streams one leg to `target` into `res`. Never throws. */
export function forward(res: ServerResponse, target: Upstream, request: ForwardRequest, options: LegOptions, onDone?: (result: ForwardResult) => void): void {
  const { logger } = options;
  const clientSpan = options.trace && startClientSpan(options.trace, request.method, target, request.headers);
  forwardLeg(res, target, request, {
    filter: options.filter,
    mapError: (err) => upstreamError(err, target.hostPort, isConnectionRefused(err) ? DECODER_NOT_READY_MESSAGE : undefined),
    onUpstreamError: (err, answered) => {
      if (!answered) logger.error({ err, decoder: target.origin }, 'upstream failed mid-response; aborting client connection');
      else if (isConnectionRefused(err)) logger.error({ err, decoder: target.origin }, 'failed to connect to vLLM decoder');
      else logger.error({ err, decoder: target.origin }, 'http: proxy error');
    },
    onDone: clientSpan === undefined && onDone === undefined ? undefined : (result) => {
      endClientSpan(clientSpan, result.status, result.outcome === 'completed' ? undefined : result.error, result.outcome === 'client_gone' ? 'client_disconnect' : undefined);
      onDone?.(result);
    },
  });
}
