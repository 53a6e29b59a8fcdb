/**
 * The P/D pipeline of one inference request, top to bottom:
 *
 * 1. request id (`x-request-id` when well-formed, else generated) and the per-request log line;
 * 2. targets: `x-prefiller-host-port` and `x-encoder-hosts-ports` parsed strictly (400 when not a
 *    `host:port`), then the SSRF check on the parsed value (403 for the prefill, encoders dropped)
 *    — before the body is read and before anything is sent;
 * 3. the body (./request-body.ts: size, UTF-8, JSON, client `kv_transfer_params` removed);
 * 4. the mode: `epd` (encoders + EC connector), `pd` (a prefill target → the KV connector), or
 *    `decode` (data-parallel routing, chunked decode when configured, else the local vLLM).
 *
 * Every leg dials the origin built from the same parsed `HostPort` the check saw.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { OpenAIError } from '../src/openai/errors.js';
import type { InferenceApi } from '../src/openai/apis.js';
import { ENCODER_HEADER, PREFILL_HEADER, REQUEST_ID_HEADER } from '../src/wire/headers.js';
import { parseHostPort, type HostPort } from '../src/wire/host-port.js';
import { requestIdFrom } from '../src/wire/request-id.js';
import { sendError } from '../src/wire/respond.js';
import type { KvConnector } from './config.js';
import { runNixlV2 } from './connectors/nixlv2.js';
import { runSglang } from './connectors/sglang.js';
import { runSharedStorage } from './connectors/shared-storage.js';
import { decodeAfterEncoders, runEncoderStage } from './connectors/ec-example.js';
import { runChunkedDecode } from './chunked-decode.js';
import { chunkedDecodeApplies } from './decode-leg.js';
import {
  dataParallelDecoder, hasPrefillTarget, legHeaders, targetLabel, upstreamHeaders,
  type ListenerRole, type PdExchange, type PrefillExchange, type SidecarRuntime,
} from './exchange.js';
import { choosePrefillTarget, parseEncoderTargets } from './prefill-target.js';
import { forwardAsync } from './proxy.js';
import { readInferenceBody } from './request-body.js';
import { logRequest, type RequestRecord } from './request-log.js';
import { sendEmpty, sendSsrfDenied } from './respond.js';
import { ATTR, setError, type TraceScope } from './tracing.js';

const CONNECTORS: Record<KvConnector, (ex: PrefillExchange) => Promise<void>> = {
  nixlv2: runNixlV2,
  'shared-storage': runSharedStorage,
  sglang: runSglang,
};

export interface InferenceRequest {
  rt: SidecarRuntime;
  role: ListenerRole;
  req: IncomingMessage;
  res: ServerResponse;
  api: InferenceApi;
  url: string;
  path: string;
  /** The `llm_d.pd_proxy.request` span, started and ended by the server (./server.ts), when tracing. */
  span: TraceScope | undefined;
}

/** Where the request goes, or that it has already been answered (400/403). */
type Targets =
  | { kind: 'answered' }
  | { kind: 'routed'; prefill: HostPort | undefined; encoders: readonly HostPort[] };

export async function handleInference(request: InferenceRequest): Promise<void> {
  const { rt, req, res } = request;
  const startedAt = performance.now();
  const record: RequestRecord = { requestId: requestIdFrom(req.headers[REQUEST_ID_HEADER]), mode: 'decode' };
  const { span } = request;
  try {
    const targets = resolveTargets(request, record, span);
    if (targets.kind === 'answered') return;
    const body = await readInferenceBody(req, rt.config.maxBodyBytes, rt.config.trustClientKvTransferParams);
    if (body.kind === 'error') {
      record.error = body.error.message;
      sendError(res, body.error);
      return;
    }
    const ex = exchange(request, record, span, startedAt, targets.prefill, body.value);
    if (targets.encoders.length > 0 && rt.config.ecConnector !== '') {
      record.mode = 'epd';
      await runEpd(ex, targets.encoders);
    } else if (hasPrefillTarget(ex)) {
      record.mode = 'pd';
      await CONNECTORS[rt.config.kvConnector](ex);
    } else {
      await decodeOnly(ex);
    }
  } finally {
    logRequest(rt.logger, res, record, startedAt);
  }
}

function invalidTarget(header: string, raw: string): OpenAIError {
  return new OpenAIError(400, `${header} must be host:port (got ${JSON.stringify(raw.slice(0, 100))})`, { type: 'BadRequestError', param: header });
}

/** Step 2: parse, then check, the disaggregation headers. */
function resolveTargets(request: InferenceRequest, record: RequestRecord, span: TraceScope | undefined): Targets {
  const { rt, req, res, path } = request;
  const client = { clientIP: req.socket.remoteAddress, userAgent: req.headers['user-agent'], requestPath: path, requestId: record.requestId };
  const choice = choosePrefillTarget(req.headers[PREFILL_HEADER], rt.config.enablePrefillerSampling, rt.random);
  let prefill: HostPort | undefined;
  if (choice.target !== '') {
    prefill = parseHostPort(choice.target);
    if (prefill === undefined) {
      record.error = 'invalid prefill target';
      sendError(res, invalidTarget(PREFILL_HEADER, choice.target));
      return { kind: 'answered' };
    }
    record.prefillTarget = targetLabel(prefill);
    span?.span.setAttributes({ [ATTR.disaggregationUsed]: true, [ATTR.prefillTarget]: record.prefillTarget, [ATTR.prefillCandidates]: choice.candidates });
    if (!rt.allowlist.isAllowed(prefill)) {
      rt.logger.error({ target: record.prefillTarget, ...client }, 'SSRF protection: prefill target not in allowlist');
      span?.span.setAttributes({ [ATTR.error]: 'ssrf_protection_denied', [ATTR.deniedTarget]: record.prefillTarget });
      setError(span, 'SSRF protection: prefill target not in allowlist');
      record.error = 'prefill target not in allowlist';
      sendSsrfDenied(res);
      return { kind: 'answered' };
    }
  } else {
    span?.span.setAttributes({ [ATTR.disaggregationUsed]: false, [ATTR.reason]: 'no_prefill_header' });
  }
  const parsed = parseEncoderTargets(req.headers[ENCODER_HEADER]);
  if (parsed.kind === 'invalid') {
    record.error = 'invalid encoder target';
    sendError(res, invalidTarget(ENCODER_HEADER, parsed.raw));
    return { kind: 'answered' };
  }
  return { kind: 'routed', prefill, encoders: allowedEncoders(rt, parsed.targets, client, span) };
}

/**
 * The encoders that pass the SSRF check, in header order. A denied encoder is dropped with an
 * info log, never a 403. Without an EC connector the list never changes the route.
 */
function allowedEncoders(rt: SidecarRuntime, encoders: readonly HostPort[], client: Record<string, unknown>, span: TraceScope | undefined): HostPort[] {
  if (encoders.length === 0) return [];
  const allowed = encoders.filter((encoder) => {
    const ok = rt.allowlist.isAllowed(encoder);
    if (!ok) rt.logger.info({ target: targetLabel(encoder), ...client }, 'SSRF protection: encoder target not in allowlist, removing from list');
    return ok;
  });
  if (allowed.length === 0) {
    rt.logger.info({ requestId: client.requestId }, 'SSRF protection: all encoder targets filtered out, falling back to P/D or decoder-only');
    span?.span.setAttributes({ [ATTR.encodeDisaggregationUsed]: false, [ATTR.encoderAllowed]: 0, [ATTR.encoderCandidates]: encoders.length });
  } else if (rt.config.ecConnector !== '') {
    span?.span.setAttributes({ [ATTR.encodeDisaggregationUsed]: true, [ATTR.encoderCount]: allowed.length, [ATTR.encoderCandidates]: encoders.length });
  }
  return allowed;
}

/** The exchange the connectors work on, with a signal that fires when the client disconnects. */
function exchange(
  request: InferenceRequest, record: RequestRecord, span: TraceScope | undefined, startedAt: number,
  target: HostPort | undefined, body: { body: Buffer; text: string; json: Record<string, unknown> },
): PdExchange {
  const { res } = request;
  const abort = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) abort.abort(new Error('client disconnected'));
  });
  return {
    rt: request.rt, role: request.role, req: request.req, res, api: request.api, url: request.url,
    ...body, target, headers: upstreamHeaders(request.req), signal: abort.signal, span, startedAt,
    requestId: record.requestId, record,
  };
}

/** EPD: the encoder stage, then the KV connector (prefill target) or the decoder. */
async function runEpd(ex: PdExchange, encoders: readonly HostPort[]): Promise<void> {
  const next = await runEncoderStage(ex, encoders);
  if (!next) return;
  if (hasPrefillTarget(next)) await CONNECTORS[next.rt.config.kvConnector](next);
  else await decodeAfterEncoders(next);
}

/** No prefill, no encoder stage: data-parallel routing, chunked decode when configured, else the local decoder. */
async function decodeOnly(ex: PdExchange): Promise<void> {
  const { rt, role, res, url, span } = ex;
  const dp = dataParallelDecoder(rt, role, ex.req);
  if (dp.kind === 'unknown') {
    ex.record.error = 'unknown data-parallel rank';
    sendEmpty(res, 400);
    return;
  }
  const headers = legHeaders(ex.headers, ex.requestId, false);
  if (dp.kind === 'none' && chunkedDecodeApplies(rt.config.decodeChunkSize, url)) {
    await runChunkedDecode(ex, { connector: rt.config.kvConnector, decoder: role.decoder, body: ex.body, headers, requestId: ex.requestId });
    return;
  }
  const decodeStart = performance.now();
  const decoder = dp.kind === 'rank' ? dp.decoder : role.decoder;
  const { outcome } = await forwardAsync(res, decoder, { method: 'POST', path: url, headers, body: ex.body }, { logger: rt.logger, trace: span });
  ex.record.decodeMs = performance.now() - decodeStart;
  if (outcome === 'upstream_failed') ex.record.error ??= 'decode request failed';
}
