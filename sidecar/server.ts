/**
 * The sidecar's front door. Routes (method + exact path):
 *
 *   GET|HEAD /health                                   → 200, answered locally
 *   GET /sidecar/metrics                               → the sidecar's own Prometheus metrics
 *   request-target not a path (`OPTIONS *`, `GET http://…`) or a malformed Host → 400
 *   POST /v1/chat/completions, /v1/completions,
 *        /v1/responses, /v1/messages                   → the P/D pipeline (./inference.ts)
 *   anything else                                      → transparent streaming proxy to vLLM
 *
 * A plain node:http handler: measured faster than routing through a framework on the
 * pass-through path (see docs/sidecar.md).
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { OpenAIError } from '../src/openai/errors.js';
import { apiForPath } from '../src/openai/apis.js';
import { canRespond, sendError } from '../src/wire/respond.js';
import { upstreamHeaders, type ListenerRole, type SidecarRuntime } from './exchange.js';
import { handleInference } from './inference.js';
import { forward, type ForwardRequest } from './proxy.js';
import { METRICS_PATH } from './metrics.js';
import { startRequestSpan, startServerSpan } from './tracing.js';

/** The client's request as it is streamed on: body and length untouched, headers per upstreamHeaders. */
function streamedRequest(req: IncomingMessage, url: string): ForwardRequest {
  const headers = upstreamHeaders(req);
  const length = req.headers['content-length'];
  let body: IncomingMessage | null = null;
  if (length !== undefined) {
    if (length !== '0') {
      body = req;
      headers['content-length'] = length;
    }
  } else if (req.headers['transfer-encoding'] !== undefined) {
    body = req;
  }
  return { method: req.method ?? 'GET', path: url, headers, body };
}

/** `name`, `name:port`, `a.b.c.d[:port]`, `[v6][:port]`: the Host values copied onto upstream legs. */
const HOST_HEADER = /^(?:[A-Za-z0-9._~!$&'()*+,;=%-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;

/** Why the request line or Host cannot be proxied; undefined when they can. */
export function requestLineProblem(req: IncomingMessage): string | undefined {
  const url = req.url ?? '';
  if (!url.startsWith('/')) return 'the request target must be a path starting with "/" (this is a reverse proxy)';
  const host = req.headers.host;
  if (host !== undefined && !HOST_HEADER.test(host)) return 'malformed Host header';
  return undefined;
}

export function createRequestHandler(rt: SidecarRuntime, role: ListenerRole): RequestListener {
  return (req, res) => {
    const problem = requestLineProblem(req);
    if (problem !== undefined) {
      sendError(res, new OpenAIError(400, problem, { type: 'BadRequestError' }), { connection: 'close' });
      return;
    }
    const url = req.url!;
    const query = url.indexOf('?');
    const path = query < 0 ? url : url.slice(0, query);
    const server = rt.tracing ? startServerSpan(req, res, path, rt.config.secureProxy) : undefined;
    if (path === '/health' && (req.method === 'GET' || req.method === 'HEAD')) {
      res.writeHead(200, { 'content-length': 0 });
      res.end();
      return;
    }
    if (path === METRICS_PATH && req.method === 'GET') {
      void serveMetrics(rt, res);
      return;
    }
    const api = req.method === 'POST' ? apiForPath(path) : undefined;
    if (api === undefined) {
      forward(res, role.decoder, streamedRequest(req, url), { logger: rt.logger, trace: server });
      return;
    }
    // Tracing: the SERVER span above wraps the exchange; the P/D request span wraps the pipeline.
    const span = server && startRequestSpan(server, rt.config, path, api);
    handleInference({ rt, role, req, res, api, url, path, span }).catch((err: unknown) => {
      rt.logger.error({ err, path }, 'P/D handler failed');
      if (canRespond(res)) sendError(res, new OpenAIError(500, 'internal error', { type: 'InternalServerError' }));
      else if (!res.writableFinished) res.destroy();
    }).finally(() => span?.span.end());
  };
}

async function serveMetrics(rt: SidecarRuntime, res: ServerResponse): Promise<void> {
  const text = await rt.metrics.registry.metrics();
  res.writeHead(200, { 'content-type': rt.metrics.registry.contentType, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
