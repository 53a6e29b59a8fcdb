/**
 * The EPP's built-in HTTP gateway: for running without Envoy (local, demo, tests, small installs).
 * A thin protocol adapter over the request lifecycle (scheduler/frontdoor/lifecycle.ts):
 *
 *   middleware (request id → lifecycle → body) → parser by path (frontdoor/request.ts)
 *   → lifecycle.route() (Director → Scheduler) → forward to the chosen pod → lifecycle.complete();
 *   any throw → answerError → lifecycle.fail()
 *
 * A POST is scheduled when the parser list claims its path (else an OpenAI-shaped 404); the API
 * paths answer other methods with 405. Body-less vLLM routes (`/v1/models`,
 * tokenize, version, …) go to any endpoint untouched; anything else is an OpenAI-shaped 404.
 */
import type { FlowControlAdmission } from '../flowcontrol/admission.js';
import type { IncomingMessage } from 'node:http';
import { Hono, type Context } from 'hono';
import { getRequestListener } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import type { Logger } from '../../src/log.js';
import { DEFAULT_BODY_LIMIT } from '../../src/http/body.js';
import { BodyBytes } from '../../src/http/body-bytes.js';
import { forwardRequestHeaders, type HeaderRecord } from '../../src/http/headers.js';
import { listen, type ListeningServer } from '../../src/http/server.js';
import { normalizeOrigin, UpstreamPools } from '../../src/http/upstream.js';
import { OpenAIError } from '../../src/openai/errors.js';
import { API_PATHS } from '../../src/openai/apis.js';
import { injectContext } from '../../src/telemetry/tracing.js';
import { MODEL_REWRITE_HEADER, REQUEST_ID_HEADER, ROUTING_HEADERS } from '../../src/wire/headers.js';
import type { Director } from '../framework/director.js';
import type { Endpoint } from '../framework/endpoint.js';
import { defaultParsers } from '../config/parsers.js';
import { forwardedBody } from '../frontdoor/forwarded-body.js';
import { readInferenceRequest } from '../frontdoor/request.js';
import { resolveParser, type RequestParser } from '../plugins/parsers/request-parser.js';
import type { EppMetrics } from '../metrics.js';
import { forwardToEndpoint } from './forward.js';
import { answerError, lifecycle, readBodyWithin, requestId, type GatewayEnv } from './middleware.js';

export const GATEWAY_TRACER = 'llm-d-inference-scheduler/epp/gateway';

/** Client headers never forwarded as sent: the EPP sets these itself. */
const EPP_OWNED = new Set([...ROUTING_HEADERS, MODEL_REWRITE_HEADER, REQUEST_ID_HEADER]);
/** vLLM routes passed through unscheduled when not a POST (a POST is scheduled, above). */
const PASSTHROUGH_PATHS = ['/v1/*', '/tokenize', '/detokenize', '/version', '/pooling', '/score', '/rerank', '/classify', '/ping'] as const;

/** Default time to receive a request's headers / its whole body on the gateway. */
export const DEFAULT_HEADER_TIMEOUT_MS = 30_000;
export const DEFAULT_BODY_TIMEOUT_MS = 60_000;

export interface GatewayOptions {
  director: Director;
  endpoints: () => readonly Endpoint[];
  logger: Logger;
  metrics?: EppMetrics;
  /** `requestHandler.parsers` (default: openai, anthropic, passthrough). */
  parsers?: readonly RequestParser[];
  /** Flow control, run by every request's lifecycle before scheduling. */
  admission?: FlowControlAdmission;
  bodyLimit?: number;
  /** Headers not complete within this → 408 and the connection closed (default 30 s). */
  headerTimeoutMs?: number;
  /** Body not complete within this after the headers → 408 (default 60 s; 0 = none). */
  bodyTimeoutMs?: number;
  /** Keep a client's `kv_transfer_params` in the body (default false: removed). */
  trustClientKvTransferParams?: boolean;
}

type Ctx = Context<GatewayEnv>;

export class Gateway {
  readonly app = new Hono<GatewayEnv>();
  private readonly pools = new UpstreamPools({ connections: 256 });
  private readonly options: GatewayOptions;
  private readonly parsers: readonly RequestParser[];

  constructor(options: GatewayOptions) {
    this.options = options;
    this.parsers = options.parsers ?? defaultParsers();
    const app = this.app;
    app.get('/health', (c) => c.body(null, 200));
    // Cross-cutting work, in the order it runs; errors from any step land in answerError.
    app.use('*', requestId());
    app.use('*', lifecycle({ director: options.director, logger: options.logger, metrics: options.metrics, admission: options.admission, tracerScope: GATEWAY_TRACER }));
    app.onError(answerError);
    app.post('*', (c) => this.inference(c));
    for (const path of Object.values(API_PATHS)) {
      app.all(path, (c) => { c.env.outgoing.setHeader('allow', 'POST'); throw new OpenAIError(405, `${c.req.method} is not allowed on ${path}; use POST`, { type: 'MethodNotAllowed' }); });
    }
    for (const path of PASSTHROUGH_PATHS) app.all(path, (c) => this.passthrough(c));
    app.all('*', (c) => { throw new OpenAIError(404, `no route for ${c.req.method} ${c.req.path}`); });
  }

  async listen(port: number, host?: string): Promise<ListeningServer> {
    return listen(getRequestListener(this.app.fetch), { port, host, headersTimeoutMs: this.options.headerTimeoutMs ?? DEFAULT_HEADER_TIMEOUT_MS });
  }

  async close(): Promise<void> {
    await this.pools.close();
  }

  private readBody(incoming: IncomingMessage): Promise<Buffer> {
    return readBodyWithin(incoming, this.options.bodyLimit ?? DEFAULT_BODY_LIMIT, this.options.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS);
  }

  private async inference(c: Ctx): Promise<Response> {
    const { incoming, outgoing } = c.env;
    const life = c.get('lifecycle');
    // Before reading the body: a POST no parser claims is no route of this gateway (ext_proc answers
    // llm-d's 400 instead, frontdoor/request.ts).
    if (!resolveParser(this.parsers, c.req.path)) throw new OpenAIError(404, `no route for POST ${c.req.path}`);
    const rawBody = BodyBytes.of(await this.readBody(incoming));
    const headers = singleValuedHeaders(incoming);
    headers.set(REQUEST_ID_HEADER, life.id);
    const request = readInferenceRequest(this.parsers, { id: life.id, path: c.req.path, headers, rawBody, targetModel: headers.get(MODEL_REWRITE_HEADER) || undefined });
    life.parsed(request);
    const decision = await life.route();

    const forwardHeaders: HeaderRecord = forwardRequestHeaders(incoming.headers, EPP_OWNED);
    for (const name of [...ROUTING_HEADERS, REQUEST_ID_HEADER]) {
      const value = request.headers.get(name);
      if (value !== undefined) forwardHeaders[name] = value;
    }
    injectContext(forwardHeaders, life.traceContext);
    const target = decision.targets[0]!;
    const result = await forwardToEndpoint({
      dispatcher: this.pools.get(normalizeOrigin(target.hostPort, false)),
      target: target.hostPort,
      method: 'POST',
      path: c.req.path + (new URL(c.req.url).search || ''),
      headers: forwardHeaders,
      body: forwardedBody(request, { trustClientKvTransferParams: this.options.trustClientKvTransferParams ?? false }).buffer(),
      outgoing,
      recordError: (error) => life.fail(error),
    });
    if (!result.failed) life.complete(result);
    return RESPONSE_ALREADY_SENT;
  }

  /** Non-inference vLLM routes (models, tokenize, …): any endpoint, untouched. */
  private async passthrough(c: Ctx): Promise<Response> {
    const { incoming, outgoing } = c.env;
    const life = c.get('lifecycle');
    const endpoints = this.options.endpoints();
    if (endpoints.length === 0) throw new OpenAIError(503, 'no model-server endpoints are available');
    const target = endpoints[Math.floor(Math.random() * endpoints.length)]!;
    const method = c.req.method;
    const body = method === 'GET' || method === 'HEAD' ? undefined : await this.readBody(incoming);
    life.passThrough(target.hostPort);
    const headers = forwardRequestHeaders(incoming.headers, EPP_OWNED);
    headers[REQUEST_ID_HEADER] = life.id;
    const result = await forwardToEndpoint({
      dispatcher: this.pools.get(normalizeOrigin(target.hostPort, false)),
      target: target.hostPort,
      method,
      path: c.req.path + (new URL(c.req.url).search || ''),
      headers,
      body,
      outgoing,
      recordError: (error) => life.fail(error),
    });
    if (!result.failed) life.complete({ ...result, usage: undefined });
    return RESPONSE_ALREADY_SENT;
  }
}

function singleValuedHeaders(incoming: IncomingMessage): Map<string, string> {
  const map = new Map<string, string>();
  for (const [name, value] of Object.entries(incoming.headers)) {
    if (value !== undefined) map.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  return map;
}
