/**
 * The EPP's built-in HTTP gateway: for running without Envoy (local, demo, tests, small installs).
 * Inference routes are parsed once, scheduled by the Director and forwarded to the chosen pod with
 * the routing headers the plugins set; other routes go to any endpoint untouched.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Hono, type Context } from 'hono';
import { getRequestListener, type HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { context, SpanKind, trace } from '@opentelemetry/api';
import type { Logger } from '../../src/log.js';
import { readBody, DEFAULT_BODY_LIMIT } from '../../src/http/body.js';
import { forwardRequestHeaders, type HeaderRecord } from '../../src/http/headers.js';
import { listen, type ListeningServer } from '../../src/http/server.js';
import { normalizeOrigin, UpstreamPools } from '../../src/http/upstream.js';
import { OpenAIError, toOpenAIError } from '../../src/openai/errors.js';
import { parseInferenceBody } from '../../src/openai/parse.js';
import { patchMembers } from '../../src/openai/raw-json.js';
import { apiForPath, type ApiKind } from '../../src/openai/types.js';
import { extractContext, injectContext, markError, tracer } from '../../src/telemetry/tracing.js';
import { ENCODERS_HEADER, PREFILL_HEADER, type Director } from '../framework/director.js';
import type { Endpoint } from '../framework/endpoint.js';
import { createInferenceRequest } from '../framework/request.js';
import type { EppMetrics } from '../metrics.js';
import { forwardToEndpoint, type ForwardResult } from './forward.js';

export const GATEWAY_TRACER = 'llm-d-inference-scheduler/epp/gateway';
const MODEL_REWRITE_HEADER = 'x-gateway-model-name-rewrite';
/** Routing headers the EPP owns: never taken from the client, only from the plugins. */
const ROUTING_HEADERS = new Set([PREFILL_HEADER, ENCODERS_HEADER, MODEL_REWRITE_HEADER]);

export interface GatewayOptions {
  director: Director;
  endpoints: () => readonly Endpoint[];
  logger: Logger;
  metrics?: EppMetrics;
  bodyLimit?: number;
}

type Env = { Bindings: HttpBindings };

function sendError(outgoing: ServerResponse, error: OpenAIError): void {
  if (outgoing.headersSent) {
    outgoing.destroy();
    return;
  }
  const body = error.toJSON();
  outgoing.writeHead(error.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  outgoing.end(body);
}

function singleValuedHeaders(incoming: IncomingMessage): Map<string, string> {
  const map = new Map<string, string>();
  for (const [name, value] of Object.entries(incoming.headers)) {
    if (value !== undefined) map.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  return map;
}

export class Gateway {
  readonly app = new Hono<Env>();
  private readonly pools = new UpstreamPools({ connections: 256 });
  private readonly options: GatewayOptions;

  constructor(options: GatewayOptions) {
    this.options = options;
    this.app.get('/health', (c) => c.body(null, 200));
    for (const path of ['/v1/chat/completions', '/v1/completions', '/v1/responses']) {
      this.app.post(path, (c) => this.inference(c, apiForPath(path)!));
    }
    this.app.all('*', (c) => this.passthrough(c));
  }

  async listen(port: number, host?: string): Promise<ListeningServer> {
    return listen(getRequestListener(this.app.fetch), { port, host });
  }

  async close(): Promise<void> {
    await this.pools.close();
  }

  private async inference(c: Context<Env>, api: ApiKind): Promise<Response> {
    const { incoming, outgoing } = c.env;
    const started = performance.now();
    const parent = extractContext(incoming.headers, context.active());
    const span = tracer(GATEWAY_TRACER).startSpan('gateway.request', { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'POST', 'url.path': c.req.path } }, parent);
    const spanContext = trace.setSpan(parent, span);
    let modelLabels = { model_name: 'unknown', target_model_name: 'unknown' };
    try {
      const rawBody = await readBody(incoming, this.options.bodyLimit ?? DEFAULT_BODY_LIMIT, incoming.headers['content-length']);
      const body = parseInferenceBody(api, rawBody);
      const headers = singleValuedHeaders(incoming);
      const id = headers.get('x-request-id') || randomUUID();
      headers.set('x-request-id', id);
      const rewrite = headers.get(MODEL_REWRITE_HEADER);
      const forwardedBody = rewrite && rewrite !== body.body.model
        ? Buffer.from(patchMembers(rawBody.toString('utf8'), { model: JSON.stringify(rewrite) }))
        : rawBody;
      const request = createInferenceRequest({ id, path: c.req.path, headers, body, rawBody, targetModel: rewrite || undefined });
      modelLabels = { model_name: request.model, target_model_name: request.targetModel };
      span.setAttributes({ 'gen_ai.request.id': id, 'gen_ai.request.model': request.targetModel });
      this.options.metrics?.requestTotal.inc({ ...modelLabels, priority: '0' });
      const decision = await context.with(spanContext, () => this.options.director.handleRequest(request));
      const target = decision.targets[0]!;
      span.setAttribute('llm_d.epp.destination', decision.destination);

      const forwardHeaders: HeaderRecord = forwardRequestHeaders(incoming.headers, ROUTING_HEADERS);
      for (const name of [PREFILL_HEADER, ENCODERS_HEADER, 'x-request-id']) {
        const value = request.headers.get(name);
        if (value !== undefined) forwardHeaders[name] = value;
      }
      injectContext(forwardHeaders, spanContext);
      this.options.metrics?.runningRequests.inc({ model_name: request.model });
      let result: ForwardResult | undefined;
      try {
        result = await forwardToEndpoint({
          dispatcher: this.pools.get(normalizeOrigin(target.hostPort, false)),
          target: target.hostPort,
          method: 'POST',
          path: c.req.path + (new URL(c.req.url).search || ''),
          headers: forwardHeaders,
          body: forwardedBody,
          incoming,
          outgoing,
        });
      } finally {
        this.options.metrics?.runningRequests.dec({ model_name: request.model });
        this.options.director.handleResponseComplete(decision, {
          status: result?.status ?? 502,
          headers: result?.headers ?? new Map(),
          usage: result?.usage,
          completed: result?.completed ?? false,
        });
      }
      span.setAttribute('http.response.status_code', result.status);
      if (result.usage?.promptTokens !== undefined) this.options.metrics?.inputTokens.observe(modelLabels, result.usage.promptTokens);
      if (result.usage?.completionTokens !== undefined) this.options.metrics?.outputTokens.observe(modelLabels, result.usage.completionTokens);
      this.options.metrics?.requestDuration.observe(modelLabels, (performance.now() - started) / 1000);
    } catch (err) {
      const error = toOpenAIError(err);
      if (error.status >= 500) this.options.logger.warn({ err, status: error.status }, 'request failed');
      markError(span, err);
      span.setAttribute('http.response.status_code', error.status);
      this.options.metrics?.requestErrorTotal.inc({ ...modelLabels, error_code: String(error.status) });
      sendError(outgoing, error);
    } finally {
      span.end();
    }
    return RESPONSE_ALREADY_SENT;
  }

  /** Non-inference routes (models, metrics, tokenize, …): any endpoint, untouched. */
  private async passthrough(c: Context<Env>): Promise<Response> {
    const { incoming, outgoing } = c.env;
    try {
      const endpoints = this.options.endpoints();
      if (endpoints.length === 0) throw new OpenAIError(503, 'no model-server endpoints are available');
      const target = endpoints[Math.floor(Math.random() * endpoints.length)]!;
      const method = c.req.method;
      const body = method === 'GET' || method === 'HEAD' ? undefined : await readBody(incoming, this.options.bodyLimit ?? DEFAULT_BODY_LIMIT, incoming.headers['content-length']);
      await forwardToEndpoint({
        dispatcher: this.pools.get(normalizeOrigin(target.hostPort, false)),
        target: target.hostPort,
        method,
        path: c.req.path + (new URL(c.req.url).search || ''),
        headers: forwardRequestHeaders(incoming.headers, ROUTING_HEADERS),
        body,
        incoming,
        outgoing,
      });
    } catch (err) {
      sendError(outgoing, toOpenAIError(err));
    }
    return RESPONSE_ALREADY_SENT;
  }
}
