/**
 * The request direction of one ext_proc stream (see docs/extproc.md): collect the headers and
 * the body chunks, say nothing until end-of-stream, then parse the body once, let the request
 * lifecycle schedule it (→ Director → Scheduler), and answer with one HeadersResponse followed by
 * the body as streamed chunks.
 */
import type { Context } from '@opentelemetry/api';
import { BodyBytes } from '../../src/http/body-bytes.js';
import { OpenAIError } from '../../src/openai/errors.js';
import { barePath } from '../../src/openai/apis.js';
import { injectContext } from '../../src/telemetry/tracing.js';
import { MODEL_REWRITE_HEADER, REQUEST_ID_HEADER, ROUTING_HEADERS } from '../../src/wire/headers.js';
import type { RoutingDecision } from '../framework/director.js';
import type { Endpoint } from '../framework/endpoint.js';
import { forwardedBody } from '../frontdoor/forwarded-body.js';
import type { RequestLifecycle } from '../frontdoor/lifecycle.js';
import { readInferenceRequest } from '../frontdoor/request.js';
import type { RequestParser } from '../plugins/parsers/request-parser.js';
import { requestIdFrom } from '../../src/wire/request-id.js';
import { headerMapToMap, subsetHint } from './headers.js';
import { bodyChunks, requestHeadersResponse } from './messages.js';
import type { HttpBody, HttpHeaders, Metadata, ProcessingResponse } from './proto.js';

export { MODEL_REWRITE_HEADER };
/** Client-sent routing headers Envoy must drop unless the plugins set them. */
const REMOVE_WHEN_ABSENT = [...ROUTING_HEADERS];

export interface RequestPhaseOptions {
  endpoints: () => readonly Endpoint[];
  /** `requestHandler.parsers`: the path picks the parser (frontdoor/request.ts). */
  parsers: readonly RequestParser[];
  /** Largest request body accepted; larger ones are answered 413. */
  bodyLimit: number;
  /** False ignores Envoy's endpoint subset hint (`--disable-endpoint-subset-filter`). */
  subsetFilter: boolean;
  /** Keep a client's `kv_transfer_params` in the body (default false: removed). */
  trustClientKvTransferParams?: boolean;
  /** Add the primary profile's endpoint scores to the dynamic metadata (`--emit-endpoint-scores`). */
  emitEndpointScores?: boolean;
}

/** What the request phase decided, and the messages that tell Envoy. */
export interface RoutedRequest {
  readonly responses: ProcessingResponse[];
  readonly destination: string;
  /** Absent for body-less requests, which are not scheduled. */
  readonly decision?: RoutingDecision;
  /** The client asked for a streamed answer (`"stream": true`). */
  readonly streaming: boolean;
}

/** `:path`, else `x-original-path`, else `x-forwarded-path`, else `/v1/completions`. */
export function requestPath(headers: ReadonlyMap<string, string>): string {
  return headers.get(':path') || headers.get('x-original-path') || headers.get('x-forwarded-path') || '/v1/completions';
}

export class RequestPhase {
  /** Lower-case header map; becomes the InferenceRequest's map. */
  readonly headers: Map<string, string>;
  readonly id: string;
  readonly subset: string[] | undefined;
  /** Headers came with end-of-stream: no body will follow. */
  readonly bodyless: boolean;
  private readonly options: RequestPhaseOptions;
  private chunks: Buffer[] = [];
  private size = 0;

  constructor(options: RequestPhaseOptions, message: HttpHeaders, metadata: Metadata | undefined) {
    this.options = options;
    this.headers = headerMapToMap(message.headers);
    this.id = requestIdFrom(this.headers.get(REQUEST_ID_HEADER));
    this.headers.set(REQUEST_ID_HEADER, this.id);
    this.subset = options.subsetFilter ? subsetHint(metadata) : undefined;
    this.bodyless = message.end_of_stream === true;
  }

  /** Appends a chunk; true once the body is complete. Throws 413 past the body limit. */
  addBody(message: HttpBody): boolean {
    const chunk = message.body;
    if (chunk && chunk.length > 0) {
      this.size += chunk.length;
      if (this.size > this.options.bodyLimit) {
        this.chunks = [];
        throw new OpenAIError(413, `request body exceeds the ${this.options.bodyLimit}-byte limit`);
      }
      this.chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    }
    return message.end_of_stream === true || message.end_of_stream_without_message === true;
  }

  /**
   * A request without a body (e.g. GET /v1/models) goes to a random endpoint; no endpoint is a
   * 500 as upstream.
   */
  routeBodyless(lifecycle: RequestLifecycle): RoutedRequest {
    const endpoints = this.options.endpoints();
    if (endpoints.length === 0) throw new OpenAIError(500, 'no model-server endpoints are available');
    const target = endpoints[Math.floor(Math.random() * endpoints.length)]!;
    for (const name of REMOVE_WHEN_ABSENT) this.headers.delete(name);
    const destination = target.hostPort;
    lifecycle.passThrough(destination);
    const responses = [
      requestHeadersResponse({ destination, bodySize: 0, trace: traceHeaders(lifecycle.traceContext), headers: this.headers, removeWhenAbsent: REMOVE_WHEN_ABSENT }),
    ];
    return { responses, destination, streaming: false };
  }

  /**
   * Reads the complete body with the path's parser (frontdoor/request.ts: a path no parser
   * claims is a 400; an unparsed body is scheduled without a prompt and forwarded as received),
   * schedules it through the lifecycle and builds the answer. The forwarded body is the client's bytes with at most `model` rewritten and `kv_transfer_params`
   * removed (frontdoor/forwarded-body.ts). `bodyEndOfStream` is false when request trailers, not
   * the last body chunk, ended the body (the trailers then end the stream).
   */
  async route(lifecycle: RequestLifecycle, bodyEndOfStream = true): Promise<RoutedRequest> {
    // Not joined: the parser decodes the chunks, and they go back to Envoy as views (body-bytes.ts).
    const rawBody = BodyBytes.from(this.chunks);
    this.chunks = [];
    const path = barePath(requestPath(this.headers));
    const rewrite = this.headers.get(MODEL_REWRITE_HEADER) || undefined;
    const request = readInferenceRequest(this.options.parsers, { id: this.id, path, headers: this.headers, rawBody, targetModel: rewrite });
    lifecycle.parsed(request);
    const decision = await lifecycle.route(this.subset);
    const forwarded = forwardedBody(request, { trustClientKvTransferParams: this.options.trustClientKvTransferParams ?? false });
    const responses = [
      requestHeadersResponse({
        destination: decision.destination,
        bodySize: forwarded.length,
        trace: traceHeaders(lifecycle.traceContext),
        headers: request.headers,
        removeWhenAbsent: REMOVE_WHEN_ABSENT,
        scores: this.options.emitEndpointScores ? endpointScores(decision) : undefined,
      }),
      ...bodyChunks('request_body', forwarded, bodyEndOfStream),
    ];
    return { responses, destination: decision.destination, decision, streaming: !request.unparsed && request.body.body.stream === true };
  }
}

/** `ip:port` → weighted score of every endpoint the primary profile's picker chose among. */
function endpointScores(decision: RoutingDecision): Record<string, number> | undefined {
  const scored = decision.result.profileResults.get(decision.result.primaryProfileName)?.scored;
  if (!scored || scored.length === 0) return undefined;
  return Object.fromEntries(scored.map(({ endpoint, score }) => [endpoint.hostPort, score]));
}

/** traceparent (+ tracestate, baggage) of the EPP's `gateway.request` span; empty when untraced. */
function traceHeaders(traceContext: Context): Record<string, string> {
  const carrier: Record<string, string | string[]> = {};
  injectContext(carrier, traceContext);
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(carrier)) out[name] = Array.isArray(value) ? value.join(',') : value;
  return out;
}
