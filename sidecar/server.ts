/**
 * Routes, as upstream's sidecar (method + exact path):
 *
 *   GET|HEAD /health                                   → 200, answered locally
 *   POST /v1/chat/completions, /v1/completions,
 *        /v1/responses                                 → P/D handler
 *   anything else                                      → transparent streaming proxy to vLLM
 *
 * A plain node:http handler whose route table is `apiForPath` (src/openai/types.ts): measured
 * faster than routing through hono on the pass-through path (see docs/sidecar.md), and the proxy
 * works on Node's IncomingMessage/ServerResponse either way.
 *
 * P/D handler order (spec §2): read `x-prefiller-host-port` (never forwarded) → SSRF check (403
 * before anything is sent) → encoders (SSRF-filtered) → EPD when encoders remain and an EC
 * connector is set → the KV connector when there is a prefill target → data-parallel routing →
 * chunked decode (`--decode-chunk-size`, chat only) → the plain streaming proxy. Only EPD, the
 * connectors and chunked decode buffer the body; the decode-only path streams it.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { readBody } from '../src/http/body.js';
import { OpenAIError } from '../src/openai/errors.js';
import { parseJsonObject } from '../src/openai/parse.js';
import { apiForPath, type ApiKind } from '../src/openai/types.js';
import type { KvConnector } from './config.js';
import { runNixlV2 } from './connectors/nixlv2.js';
import { runSglang } from './connectors/sglang.js';
import { runSharedStorage } from './connectors/shared-storage.js';
import { decodeAfterEncoders, runEncoderStage } from './connectors/ec-example.js';
import { chunkedDecodeApplies, runChunkedDecode } from './chunked-decode.js';
import { dataParallelDecoder, upstreamHeaders, type ListenerRole, type PdExchange, type SidecarRuntime } from './exchange.js';
import { ENCODER_HEADER, PREFILL_HEADER, choosePrefillTarget, encoderTargets } from './prefill-target.js';
import { forward, forwardAsync, type ForwardRequest } from './proxy.js';
import { canRespond, sendEmpty, sendError, sendSsrfDenied, sendText } from './respond.js';
import { ATTR, SPAN, SpanKind, setError, startServerSpan, startSpan, type TraceScope } from './tracing.js';

const CONNECTORS: Record<KvConnector, (ex: PdExchange) => Promise<void>> = {
  nixlv2: runNixlV2,
  'shared-storage': runSharedStorage,
  sglang: runSglang,
};

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

/** What a request brings to the P/D handler, before its body is read. */
interface InboundRequest {
  rt: SidecarRuntime;
  role: ListenerRole;
  req: IncomingMessage;
  res: ServerResponse;
  api: ApiKind;
  url: string;
  span: TraceScope | undefined;
  startedAt: number;
}

/**
 * A P/D route without a prefill target or encoder stage: data-parallel routing, then chunked
 * decode when configured, else the local decoder with the body streamed through untouched.
 */
async function decodeOnly(inbound: InboundRequest): Promise<void> {
  const { rt, role, req, res, url, span } = inbound;
  const dp = dataParallelDecoder(rt, role, req);
  if (dp === null) {
    sendEmpty(res, 400);
    return;
  }
  if (dp === undefined && chunkedDecodeApplies(rt.config.decodeChunkSize, url)) {
    const ex = await bufferedExchange(inbound, '');
    if (ex) await runChunkedDecode(ex, { connector: rt.config.kvConnector, decoder: role.decoder, body: ex.body, headers: ex.headers });
    return;
  }
  await forwardAsync(res, dp ?? role.decoder, streamedRequest(req, url), { logger: rt.logger, trace: span });
}

/**
 * Reads and parses the body (400/413 on failure, already answered → undefined) and builds the
 * exchange the connectors, EPD and chunked decode work on, with a signal for client disconnects.
 */
async function bufferedExchange(inbound: InboundRequest, target: string): Promise<PdExchange | undefined> {
  const { rt, req, res } = inbound;
  const body = await readRequestBody(rt, req, res);
  if (!body) return undefined;
  let json: Record<string, unknown>;
  const text = body.toString('utf8');
  try {
    json = parseJsonObject(text);
  } catch (err) {
    sendError(res, err as OpenAIError);
    return undefined;
  }
  const abort = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) abort.abort(new Error('client disconnected'));
  });
  return { ...inbound, body, text, json, target, headers: upstreamHeaders(req), signal: abort.signal };
}

/** EPD: the encoder stage, then the KV connector (prefill target) or the decoder. */
async function runEpd(inbound: InboundRequest, target: string, encoders: readonly string[]): Promise<void> {
  const ex = await bufferedExchange(inbound, target);
  if (!ex) return;
  const next = await runEncoderStage(ex, encoders);
  if (!next) return;
  if (next.target) await CONNECTORS[next.rt.config.kvConnector](next);
  else await decodeAfterEncoders(next);
}

export function createRequestHandler(rt: SidecarRuntime, role: ListenerRole): RequestListener {
  const secure = rt.config.secureProxy;
  return (req, res) => {
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const path = query < 0 ? url : url.slice(0, query);
    const server = rt.tracing ? startServerSpan(req, res, path, secure) : undefined;
    if (path === '/health' && (req.method === 'GET' || req.method === 'HEAD')) {
      res.writeHead(200, { 'content-length': 0 });
      res.end();
      return;
    }
    const api = req.method === 'POST' ? apiForPath(path) : undefined;
    if (api === undefined) {
      forward(res, role.decoder, streamedRequest(req, url), { logger: rt.logger, trace: server });
      return;
    }
    handleInference(rt, role, req, res, api, url, path, server).catch((err: unknown) => {
      rt.logger.error({ err, path }, 'P/D handler failed');
      if (canRespond(res)) sendError(res, new OpenAIError(500, 'internal error', { type: 'InternalServerError' }));
      else if (!res.writableFinished) res.destroy();
    });
  };
}

function requestSpan(rt: SidecarRuntime, server: TraceScope | undefined, path: string, api: ApiKind): TraceScope | undefined {
  return startSpan(server, SPAN.request, SpanKind.SERVER, {
    [ATTR.connector]: rt.config.kvConnector,
    [ATTR.kvConnector]: rt.config.kvConnector,
    [ATTR.ecConnector]: rt.config.ecConnector,
    [ATTR.requestPath]: path,
    // Upstream labels /v1/completions as chat_completions too.
    [ATTR.openaiApi]: api === 'responses' ? 'responses' : 'chat_completions',
  });
}

async function handleInference(
  rt: SidecarRuntime, role: ListenerRole, req: IncomingMessage, res: ServerResponse,
  api: ApiKind, url: string, path: string, server: TraceScope | undefined,
): Promise<void> {
  const startedAt = performance.now();
  const span = requestSpan(rt, server, path, api);
  const inbound: InboundRequest = { rt, role, req, res, api, url, span, startedAt };
  try {
    const choice = choosePrefillTarget(req.headers[PREFILL_HEADER], rt.config.enablePrefillerSampling, rt.random);
    if (choice.target) {
      span?.span.setAttributes({ [ATTR.disaggregationUsed]: true, [ATTR.prefillTarget]: choice.target, [ATTR.prefillCandidates]: choice.candidates });
      if (!rt.allowlist.isAllowed(choice.target)) {
        rt.logger.error(
          { target: choice.target, clientIP: req.socket.remoteAddress, userAgent: req.headers['user-agent'], requestPath: path },
          'SSRF protection: prefill target not in allowlist',
        );
        span?.span.setAttributes({ [ATTR.error]: 'ssrf_protection_denied', [ATTR.deniedTarget]: choice.target });
        setError(span, 'SSRF protection: prefill target not in allowlist');
        sendSsrfDenied(res);
        return;
      }
    } else {
      span?.span.setAttributes({ [ATTR.disaggregationUsed]: false, [ATTR.reason]: 'no_prefill_header' });
    }
    const encoders = allowedEncoders(rt, req, path, span);
    if (encoders.length > 0 && rt.config.ecConnector !== '') {
      await runEpd(inbound, choice.target, encoders);
      return;
    }
    if (!choice.target) {
      await decodeOnly(inbound);
      return;
    }
    const exchange = await bufferedExchange(inbound, choice.target);
    if (exchange) await CONNECTORS[rt.config.kvConnector](exchange);
  } finally {
    span?.span.end();
  }
}

/**
 * The encoders of `x-encoder-hosts-ports` (never forwarded upstream) that pass the SSRF check, in
 * header order. A denied encoder is dropped with an info log, never a 403. Without an EC connector
 * the list never changes the route.
 */
function allowedEncoders(rt: SidecarRuntime, req: IncomingMessage, path: string, span: TraceScope | undefined): string[] {
  const encoders = encoderTargets(req.headers[ENCODER_HEADER]);
  if (encoders.length === 0) return encoders;
  const allowed = encoders.filter((encoder) => {
    const ok = rt.allowlist.isAllowed(encoder);
    if (!ok) {
      rt.logger.info(
        { target: encoder, clientIP: req.socket.remoteAddress, userAgent: req.headers['user-agent'], requestPath: path },
        'SSRF protection: encoder target not in allowlist, removing from list',
      );
    }
    return ok;
  });
  if (allowed.length === 0) {
    rt.logger.info('SSRF protection: all encoder targets filtered out, falling back to P/D or decoder-only');
    span?.span.setAttributes({ [ATTR.encodeDisaggregationUsed]: false, [ATTR.encoderAllowed]: 0, [ATTR.encoderCandidates]: encoders.length });
  } else if (rt.config.ecConnector !== '') {
    span?.span.setAttributes({ [ATTR.encodeDisaggregationUsed]: true, [ATTR.encoderCount]: allowed.length, [ATTR.encoderCandidates]: encoders.length });
  }
  return allowed;
}

async function readRequestBody(rt: SidecarRuntime, req: IncomingMessage, res: ServerResponse): Promise<Buffer | undefined> {
  try {
    return await readBody(req, rt.config.maxBodyBytes, req.headers['content-length']);
  } catch (err) {
    if (err instanceof OpenAIError) sendError(res, err);
    else sendText(res, 400, (err as Error).message);
    return undefined;
  }
}
