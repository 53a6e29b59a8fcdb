/**
 * Builders for the ProcessingResponse messages the EPP sends (see docs/extproc.md).
 */
import { BodyBytes } from '../../src/http/body-bytes.js';
import type { OpenAIError } from '../../src/openai/errors.js';
import { REQUEST_ID_HEADER } from '../../src/wire/headers.js';
import { DESTINATION_HEADER } from '../framework/director.js';
import { LB_METADATA_NAMESPACE, SYSTEM_OWNED_HEADERS, TRACE_HEADERS, setHeader, toStruct } from './headers.js';
import type { HeaderValueOption, ProcessingResponse } from './proto.js';

/** Largest body chunk sent back to Envoy (upstream's bodyByteLimit). */
export const BODY_CHUNK_BYTES = 62_000;

export interface RouteHeaders {
  /** `ip:port[,ip:port…]` */
  destination: string;
  /** Bytes of the body Envoy forwards; a Content-Length is set when > 0. */
  bodySize: number;
  /** traceparent (+ tracestate, baggage) injected from the EPP's span. */
  trace: Readonly<Record<string, string>>;
  /** The request's header map after scheduling and PreRequest plugins. */
  headers: ReadonlyMap<string, string>;
  /** Headers Envoy must drop when the final map holds no value for them (client-sent P/D headers). */
  removeWhenAbsent: readonly string[];
  /** `ip:port` → score, sent under `x-gateway-destination-endpoint-scores` (`--emit-endpoint-scores`). */
  scores?: Readonly<Record<string, number>>;
}

/** The dynamic-metadata key of the endpoint scores (llm-d's name). */
export const DESTINATION_SCORES_KEY = 'x-gateway-destination-endpoint-scores';

/**
 * The one request-headers answer: clear the route cache, set destination, Content-Length, trace
 * headers, then echo every non-system header of the map, all as raw_value; remove EPP-owned
 * routing headers the client sent but the plugins did not set. Dynamic metadata carries the
 * destination for Envoy's load balancer (`envoy.lb`), and the endpoint scores when asked for.
 */
export function requestHeadersResponse(route: RouteHeaders): ProcessingResponse {
  const setHeaders: HeaderValueOption[] = [setHeader(DESTINATION_HEADER, route.destination)];
  if (route.bodySize > 0) setHeaders.push(setHeader('content-length', String(route.bodySize)));
  for (const [name, value] of Object.entries(route.trace)) setHeaders.push(setHeader(name, value));
  for (const [name, value] of route.headers) {
    if (SYSTEM_OWNED_HEADERS.has(name) || TRACE_HEADERS.has(name)) continue;
    setHeaders.push(setHeader(name, value));
  }
  const removeHeaders = route.removeWhenAbsent.filter((name) => !route.headers.has(name));
  return {
    request_headers: {
      response: {
        clear_route_cache: true,
        header_mutation: removeHeaders.length > 0 ? { set_headers: setHeaders, remove_headers: removeHeaders } : { set_headers: setHeaders },
      },
    },
    dynamic_metadata: toStruct({
      [LB_METADATA_NAMESPACE]: { [DESTINATION_HEADER]: route.destination, ...(route.scores ? { [DESTINATION_SCORES_KEY]: route.scores } : {}) },
    }),
  };
}

/**
 * A body as streamed_response chunks of at most 62000 bytes (views of the body's own chunks where
 * they are large enough, src/http/body-bytes.ts); only the last carries `endOfStream`. An empty
 * body is one empty chunk.
 */
export function bodyChunks(phase: 'request_body' | 'response_body', body: Buffer | BodyBytes, endOfStream: boolean): ProcessingResponse[] {
  const slices = (Buffer.isBuffer(body) ? BodyBytes.of(body) : body).slices(BODY_CHUNK_BYTES);
  if (slices.length === 0) slices.push(Buffer.alloc(0));
  return slices.map((slice, i) => ({
    [phase]: { response: { body_mutation: { streamed_response: { body: slice, end_of_stream: endOfStream && i === slices.length - 1 } } } },
  }));
}

/** An error reply instead of forwarding: Envoy answers the client with it and the stream ends. */
export function immediateResponse(error: OpenAIError, requestId?: string): ProcessingResponse {
  const headers = [setHeader('content-type', 'application/json')];
  for (const [name, value] of Object.entries(error.headers)) headers.push(setHeader(name, value));
  if (requestId !== undefined) headers.push(setHeader(REQUEST_ID_HEADER, requestId));
  return {
    immediate_response: {
      status: { code: error.status },
      headers: { set_headers: headers },
      body: Buffer.from(error.toJSON(), 'utf8'),
    },
  };
}

/**
 * The response-headers answer: mark the response as seen by the EPP, echo every non-system
 * header and return the request id to the client. `remove` lists headers Envoy must drop
 * (Content-Length when the EPP may change the body's size).
 */
export function responseHeadersResponse(headers: ReadonlyMap<string, string>, remove: readonly string[], requestId?: string): ProcessingResponse {
  const setHeaders: HeaderValueOption[] = [setHeader('x-went-into-resp-headers', 'true')];
  for (const [name, value] of headers) {
    if (!SYSTEM_OWNED_HEADERS.has(name) && !(requestId !== undefined && name === REQUEST_ID_HEADER)) setHeaders.push(setHeader(name, value));
  }
  if (requestId !== undefined) setHeaders.push(setHeader(REQUEST_ID_HEADER, requestId));
  return {
    response_headers: {
      response: { header_mutation: remove.length > 0 ? { set_headers: setHeaders, remove_headers: [...remove] } : { set_headers: setHeaders } },
    },
  };
}

export function responseTrailersResponse(): ProcessingResponse {
  return { response_trailers: {} };
}
