/**
 * The gateway's endpoint leg: the shared forwarder (src/http/forward.ts) with usage sniffing on,
 * and the upstream's `x-request-id` dropped (the client sees the id the front door chose, already
 * set on `outgoing`). A failure before headers is answered with the shared mapping
 * (src/http/upstream-error.ts), passed through `recordError` first so the lifecycle records it.
 */
import type { ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { forwardAsync, type ForwardRequest } from '../../src/http/forward.js';
import { upstreamError } from '../../src/http/upstream-error.js';
import type { OpenAIError } from '../../src/openai/errors.js';
import { REQUEST_ID_HEADER } from '../../src/wire/headers.js';
import type { Usage } from '../../src/wire/usage.js';

const UPSTREAM_ONLY_DROPPED: ReadonlySet<string> = new Set([REQUEST_ID_HEADER]);

export interface EndpointAnswer {
  status: number;
  headers: Map<string, string>;
  usage: Usage | undefined;
  /** False when the client disconnected or the upstream failed mid-body. */
  completed: boolean;
  /** True when the forwarder already answered an error (recorded through `recordError`). */
  failed: boolean;
}

export async function forwardToEndpoint(options: ForwardRequest & {
  dispatcher: Dispatcher;
  /** `host:port`, for error messages. */
  target: string;
  outgoing: ServerResponse;
  recordError: (error: OpenAIError) => OpenAIError;
}): Promise<EndpointAnswer> {
  const result = await forwardAsync(options.outgoing, { dispatcher: options.dispatcher, hostPort: options.target }, options, {
    sniffUsage: true,
    dropResponseHeaders: UPSTREAM_ONLY_DROPPED,
    mapError: (err) => options.recordError(upstreamError(err, options.target)),
  });
  return {
    status: result.status ?? 0,
    headers: result.headers ?? new Map(),
    usage: result.usage,
    completed: result.outcome === 'completed',
    failed: result.outcome === 'upstream_failed' && result.status === undefined,
  };
}
